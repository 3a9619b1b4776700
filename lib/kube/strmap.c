/* Chained hash map with FNV-1a hashing; grows at load factor 1, never shrinks (a cache that
 * once held 50,000 objects is likely to again). */
#include "kube/strmap.h"

#include <stdlib.h>
#include <string.h>

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void strmap_init(struct strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void strmap_release(struct strmap *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct strmap_entry *e = m->buckets[i];
        while (e) {
            struct strmap_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

static struct strmap_entry **find(const struct strmap *m, const char *key, uint32_t h)
{
    if (!m->nbuckets)
        return NULL;
    struct strmap_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    struct strmap_entry **pp = find(m, key, fnv1a(key));
    return pp && *pp ? (*pp)->value : NULL;
}

static enum fs_err grow(struct strmap *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    struct strmap_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return FS_ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct strmap_entry *e = m->buckets[i];
        while (e) {
            struct strmap_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return FS_OK;
}

enum fs_err strmap_put(struct strmap *m, const char *key, void *value, void **old)
{
    uint32_t h = fnv1a(key);
    struct strmap_entry **pp = find(m, key, h);
    if (old)
        *old = NULL;
    if (pp && *pp) {
        if (old)
            *old = (*pp)->value;
        (*pp)->value = value;
        return FS_OK;
    }
    if (m->len >= m->nbuckets && grow(m) != FS_OK)
        return FS_ENOMEM;
    size_t kl = strlen(key);
    struct strmap_entry *e = malloc(sizeof(*e) + kl + 1);
    if (!e)
        return FS_ENOMEM;
    e->hash = h;
    e->value = value;
    memcpy(e->key, key, kl + 1);
    e->next = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    m->len++;
    return FS_OK;
}

void *strmap_del(struct strmap *m, const char *key)
{
    struct strmap_entry **pp = find(m, key, fnv1a(key));
    if (!pp || !*pp)
        return NULL;
    struct strmap_entry *e = *pp;
    void *v = e->value;
    *pp = e->next;
    free(e);
    m->len--;
    return v;
}

void strmap_iter_init(struct strmap_iter *it, const struct strmap *m)
{
    it->m = m;
    it->bucket = 0;
    it->e = NULL;
}

struct strmap_entry *strmap_iter_next(struct strmap_iter *it)
{
    if (it->e && it->e->next) {
        it->e = it->e->next;
        return it->e;
    }
    size_t start = it->e ? it->bucket + 1 : it->bucket;
    for (size_t i = start; i < it->m->nbuckets; i++) {
        if (it->m->buckets[i]) {
            it->bucket = i;
            it->e = it->m->buckets[i];
            return it->e;
        }
    }
    it->bucket = it->m->nbuckets;
    it->e = NULL;
    return NULL;
}
