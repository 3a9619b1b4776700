/* Slot allocator for the ledger (see slab.h). Chunks come from malloc (so that leak
 * checkers scan the pointers slots hold): small ones first (a ledger of a few nodes stays
 * small), then 2 MiB ones aligned to 2 MiB and offered to transparent huge pages
 * (MADV_HUGEPAGE; harmless where THP is off). */
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
        free(c->base);
        free(c);
        c = next;
    }
    memset(s, 0, sizeof(*s));
}

/* A zeroed chunk of len bytes, aligned to len when len is SLAB_CHUNK_MAX. */
static void *chunk_new(size_t len)
{
    int huge = len == SLAB_CHUNK_MAX;
    void *p = aligned_alloc(huge ? SLAB_CHUNK_MAX : 64, len);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (huge)
        madvise(p, len, MADV_HUGEPAGE); /* a hint, before the first touch: failure only costs speed */
#endif
    memset(p, 0, len);
    return p;
}

static int add_chunk(struct slab *s)
{
    size_t len = s->next_len;
    while (len < s->slot)
        len *= 2;
    struct slab_chunk *c = malloc(sizeof(*c));
    void *base = c ? chunk_new(len) : NULL;
    if (!base) {
        free(c);
        return -1;
    }
    c->base = base;
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
    void *p = s->cur; /* fresh chunks are zeroed */
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
