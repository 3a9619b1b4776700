/* A string-keyed hash map (chained, keys copied inline, values borrowed pointers) used by
 * the work queue, the informer cache and its indexes. Not thread-safe: callers lock. */
#ifndef KUBE_STRMAP_H
#define KUBE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"

struct strmap_entry {
    struct strmap_entry *next;
    uint32_t hash;
    void *value;
    char key[];
};

struct strmap {
    struct strmap_entry **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first put */
    size_t len;
};

struct strmap_iter {
    const struct strmap *m;
    size_t bucket;
    struct strmap_entry *e;
};

void strmap_init(struct strmap *m);
/* Frees the entries (not the values). */
void strmap_release(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key to value; *old (may be NULL) receives the value it replaces, or NULL. */
enum fs_err strmap_put(struct strmap *m, const char *key, void *value, void **old);
/* Removes key, returning its value (NULL if absent). */
void *strmap_del(struct strmap *m, const char *key);

void strmap_iter_init(struct strmap_iter *it, const struct strmap *m);
/* Next entry or NULL; the map must not change during iteration. */
struct strmap_entry *strmap_iter_next(struct strmap_iter *it);

#endif
