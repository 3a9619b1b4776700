/* Fixed-size slots for the ledger's per-node memory, packed together in large chunks: a
 * request touches thousands of nodes in a random order, and slots on few pages (huge pages
 * where the kernel gives them) keep those touches from missing the TLB as well as the cache.
 * Slots are 64-byte aligned and zeroed; a freed slot is reused; chunks are kept until release. */
#ifndef FS_LEDGER_SLAB_H
#define FS_LEDGER_SLAB_H

#include <stddef.h>

struct slab_chunk;

struct slab {
    size_t slot;              /* bytes per slot, a multiple of 64 */
    void *free_list;          /* freed slots, linked through their first word */
    char *cur, *end;          /* the newest chunk's unused part */
    struct slab_chunk *chunks; /* every chunk, for release */
    size_t next_len;           /* bytes of the next chunk: doubles up to SLAB_CHUNK_MAX */
};

/* slot: bytes per slot (rounded up to a multiple of 64). */
void slab_init(struct slab *s, size_t slot);
void slab_release(struct slab *s);
/* A zeroed, 64-byte-aligned slot, or NULL when memory runs out; owned by the slab. */
void *slab_alloc(struct slab *s);
/* Gives back a slot from slab_alloc (NULL is ignored). */
void slab_free(struct slab *s, void *p);

#endif
