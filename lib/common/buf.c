/* The growable, bounded byte buffer (buf.h): the slow paths. The allocation starts at
 * first_cap, doubles, and is capped at max + 1 bytes (the '\0' included). */
#include "common/buf.h"

#include <stdint.h>
#include <stdlib.h>

void fs_buf_init(struct fs_buf *b, size_t max, size_t first_cap)
{
    memset(b, 0, sizeof(*b));
    b->max = max < SIZE_MAX ? max : SIZE_MAX - 1; /* max + 1 must not wrap */
    b->first_cap = first_cap ? first_cap : FS_BUF_FIRST_CAP_DEFAULT;
}

void fs_buf_release(struct fs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

enum fs_err fs_buf_reserve(struct fs_buf *b, size_t n)
{
    if (n > b->max - b->len)
        return FS_ERANGE;
    size_t need = b->len + n + 1, limit = b->max + 1;
    if (need <= b->cap)
        return FS_OK;
    size_t ncap = b->cap ? b->cap : b->first_cap;
    while (ncap < need)
        ncap = ncap > limit / 2 ? limit : ncap * 2;
    if (ncap > limit)
        ncap = limit;
    char *nd = realloc(b->data, ncap);
    if (!nd)
        return FS_ENOMEM;
    if (!b->data)
        nd[0] = '\0';
    b->data = nd;
    b->cap = ncap;
    return FS_OK;
}

void fs_buf_consume(struct fs_buf *b, size_t n)
{
    if (n == 0)
        return;
    if (n > b->len)
        n = b->len;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}
