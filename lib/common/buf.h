/* A growable byte buffer with a bound: bytes are appended, the allocation doubles, and
 * nothing grows past `max` bytes (an append that would is refused with FS_ERANGE and
 * changes nothing). Once anything was appended, data[len] is '\0'. */
#ifndef FS_BUF_H
#define FS_BUF_H

#include <stddef.h>
#include <string.h>

#include "common/fs_err.h"

#define FS_BUF_FIRST_CAP_DEFAULT 4096u /* bytes allocated by the first growth when 0 is given */

struct fs_buf {
    char *data;       /* owned; NULL until the first append or reserve; never zeroed */
    size_t len;       /* bytes held, without the '\0' */
    size_t cap;       /* bytes allocated, the '\0' included (never more than max + 1) */
    size_t max;       /* the most bytes len may reach */
    size_t first_cap; /* bytes the first growth allocates (a caller's usual chunk size) */
};

/* Sets up an empty buffer; allocates nothing. max < SIZE_MAX (a larger one is lowered);
 * first_cap 0 = FS_BUF_FIRST_CAP_DEFAULT. */
void fs_buf_init(struct fs_buf *b, size_t max, size_t first_cap);
/* Frees the bytes; b is empty afterwards, with the same max, and may be used again. */
void fs_buf_release(struct fs_buf *b);

/* Makes room for n more bytes and the '\0', so that the next appends totalling n bytes do
 * not allocate. FS_ERANGE when len + n would pass max, FS_ENOMEM; b is unchanged on error. */
enum fs_err fs_buf_reserve(struct fs_buf *b, size_t n);

/* Appends p[0..n) (n may be 0; p may then be NULL). FS_ERANGE when len + n would pass max,
 * FS_ENOMEM; b is unchanged on error (the caller decides whether to drop what it holds).
 * Inline: a watch calls it once per line and a list once per network chunk. */
static inline enum fs_err fs_buf_append(struct fs_buf *b, const void *p, size_t n)
{
    if (n > b->max - b->len)
        return FS_ERANGE;
    if (b->cap - b->len <= n) { /* no room for n bytes and the '\0' */
        enum fs_err rc = fs_buf_reserve(b, n);
        if (rc != FS_OK)
            return rc;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return FS_OK;
}

/* Forgets the bytes but keeps the allocation (the next appends reuse it). */
static inline void fs_buf_reset(struct fs_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Drops the first n bytes (n <= len), moving the rest to the front; keeps the allocation. */
void fs_buf_consume(struct fs_buf *b, size_t n);

#endif
