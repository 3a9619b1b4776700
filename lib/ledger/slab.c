/* Slot allocator for the ledger (see slab.h). Chunks are anonymous mappings: small ones
 * first (a ledger of a few nodes stays small), then 2 MiB ones aligned to 2 MiB and offered
 * to transparent huge pages (MADV_HUGEPAGE; harmless where THP is off). */
#include "ledger/slab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SLAB_CHUNK_MIN ((size_t)64 << 10)
#define SLAB_CHUNK_MAX ((size_t)2 << 20) /* one huge page on x86-64 and arm64 (4 KiB pages) */

struct slab_chunk {
    struct slab_chunk *next;
    void *base;
    size_t len;
};

void slab_init(struct slab *s, size_t slot)
{
    memset(s, 0, sizeof(*s));
    s->slot = (slot + 63) & ~(size_t)63;
    if (s->slot == 0)
        s->slot = 64;
    s->next_len = SLAB_CHUNK_MIN;
}

void slab_release(struct slab *s)
{
    struct slab_chunk *c = s->chunks;
    while (c) {
        struct slab_chunk *next = c->next;
        munmap(c->base, c->len);
        free(c);
        c = next;
    }
    memset(s, 0, sizeof(*s));
}

/* An anonymous mapping of len bytes, aligned to len when len is SLAB_CHUNK_MAX. */
static void *map_chunk(size_t len)
{
    if (len < SLAB_CHUNK_MAX) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* map one alignment more than needed, then unmap the unaligned head and tail */
    size_t over = len + SLAB_CHUNK_MAX;
    char *p = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)p + SLAB_CHUNK_MAX - 1) & ~(uintptr_t)(SLAB_CHUNK_MAX - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + len < p + over)
        munmap(a + len, (size_t)(p + over - (a + len)));
#ifdef MADV_HUGEPAGE
    madvise(a, len, MADV_HUGEPAGE); /* a hint: failure only costs speed */
#endif
    return a;
}

static int add_chunk(struct slab *s)
{
    size_t len = s->next_len;
    while (len < s->slot)
        len *= 2;
    struct slab_chunk *c = malloc(sizeof(*c));
    void *base = c ? map_chunk(len) : NULL;
    if (!base) {
        free(c);
        return -1;
    }
    c->base = base;
    c->len = len;
    c->next = s->chunks;
    s->chunks = c;
    s->cur = base;
    s->end = (char *)base + len;
    if (s->next_len < SLAB_CHUNK_MAX)
        s->next_len *= 2;
    return 0;
}

void *slab_alloc(struct slab *s)
{
    if (s->free_list) {
        void *p = s->free_list;
        s->free_list = *(void **)p;
        memset(p, 0, s->slot);
        return p;
    }
    if ((size_t)(s->end - s->cur) < s->slot && add_chunk(s) != 0)
        return NULL;
    void *p = s->cur; /* fresh mappings are zero */
    s->cur += s->slot;
    return p;
}

void slab_free(struct slab *s, void *p)
{
    if (!p)
        return;
    *(void **)p = s->free_list;
    s->free_list = p;
}
