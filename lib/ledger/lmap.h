/* A string-keyed hash map for the ledger (open addressing, linear probing) holding one pointer per key,
 * used for node and claim look-ups in the ledger. Keys are copied (a key pointer from
 * lmap_next is valid until the next lmap_put or lmap_del); values are borrowed. */
#ifndef FS_LEDGER_LMAP_H
#define FS_LEDGER_LMAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"

struct lmap_slot {
    char *key; /* NULL: empty; LMAP_TOMB: deleted */
    void *value;
    uint64_t hash; /* of key: compared before the key itself */
};

struct lmap_chunk;

struct lmap {
    struct lmap_slot *slots;
    size_t cap; /* power of two */
    size_t len;
    size_t used; /* len + tombstones */
    struct lmap_chunk *chunks; /* the keys' bytes (see lmap.c) */
    size_t live_bytes, dead_bytes;
};

void lmap_init(struct lmap *m);
void lmap_release(struct lmap *m);
/* Borrowed value or NULL. */
void *lmap_get(const struct lmap *m, const char *key);
/* values[i] = lmap_get(m, keys[i]) for n keys, faster for many (see lmap.c). */
void lmap_get_many(const struct lmap *m, const char *const *keys, size_t n, void **values);
/* Inserts or replaces. */
enum fs_err lmap_put(struct lmap *m, const char *key, void *value);
/* Returns the removed value or NULL. */
void *lmap_del(struct lmap *m, const char *key);
/* Iteration: *pos starts at 0; returns 0 at the end. */
int lmap_next(const struct lmap *m, size_t *pos, const char **key, void **value);

#endif
