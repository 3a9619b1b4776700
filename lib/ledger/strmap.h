/* A string-keyed hash map (open addressing, linear probing) holding one pointer per key,
 * used for node and claim look-ups in the ledger. Keys are copied; values are borrowed. */
#ifndef FS_LEDGER_STRMAP_H
#define FS_LEDGER_STRMAP_H

#include <stddef.h>

#include "common/fs_err.h"

struct strmap_slot {
    char *key; /* NULL: empty; STRMAP_TOMB: deleted */
    void *value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap; /* power of two */
    size_t len;
    size_t used; /* len + tombstones */
};

void strmap_init(struct strmap *m);
void strmap_release(struct strmap *m);
/* Borrowed value or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Inserts or replaces. */
enum fs_err strmap_put(struct strmap *m, const char *key, void *value);
/* Returns the removed value or NULL. */
void *strmap_del(struct strmap *m, const char *key);
/* Iteration: *pos starts at 0; returns 0 at the end. */
int strmap_next(const struct strmap *m, size_t *pos, const char **key, void **value);

#endif
