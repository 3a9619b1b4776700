/* String-keyed open-addressing hash map (FNV-1a, linear probing, tombstones on delete).
 * Grows at 70 % occupancy including tombstones, so probes always end at an empty slot.
 * Keys are copied into chunks of the map's own, one after another: a 5,000-node request
 * looks up 5,000 names in a random order, and names packed in 60 KB stay in cache where
 * 5,000 separate allocations scattered over the heap miss it once each. A deleted key's
 * bytes stay until the next rehash, which copies the live keys into fresh chunks. */
#include "ledger/lmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tomb;
#define LMAP_TOMB (&tomb)

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    /* FNV's low bits barely differ for names like node-00001, node-00002: mix the high
     * bits down (splitmix64's finaliser) so that linear probing does not form long runs */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

#define CHUNK_BYTES (16u << 10)

struct lmap_chunk {
    struct lmap_chunk *next;
    size_t used, cap;
    char data[];
};

void lmap_init(struct lmap *m)
{
    memset(m, 0, sizeof(*m));
}

static void chunks_free(struct lmap_chunk *c)
{
    while (c) {
        struct lmap_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void lmap_release(struct lmap *m)
{
    chunks_free(m->chunks);
    free(m->slots);
    lmap_init(m);
}

/* A copy of key in the chunks *head (a new chunk when the first is full); NULL: no memory. */
static char *key_copy(struct lmap_chunk **head, const char *key)
{
    size_t n = strlen(key) + 1;
    struct lmap_chunk *c = *head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        if (!(c = malloc(sizeof(*c) + cap)))
            return NULL;
        c->next = *head;
        c->used = 0;
        c->cap = cap;
        *head = c;
    }
    char *k = c->data + c->used;
    memcpy(k, key, n);
    c->used += n;
    return k;
}

static struct lmap_slot *find_hashed(const struct lmap *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct lmap_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->key != LMAP_TOMB && strcmp(s->key, key) == 0)
            return s;
    }
}

static struct lmap_slot *find(const struct lmap *m, const char *key)
{
    return m->cap ? find_hashed(m, key, hash(key)) : NULL;
}

void *lmap_get(const struct lmap *m, const char *key)
{
    struct lmap_slot *s = find(m, key);
    return s ? s->value : NULL;
}

/* Keys in a random order miss the cache twice each (the slot, then the key's string): the
 * slots are asked for LOOKAHEAD keys ahead and the keys half as far, so that the misses of
 * several look-ups overlap instead of following one another. */
#define LOOKAHEAD 16
void lmap_get_many(const struct lmap *m, const char *const *keys, size_t n, void **values)
{
    uint64_t h[LOOKAHEAD];
    if (!m->cap) {
        memset(values, 0, n * sizeof(*values));
        return;
    }
    size_t mask = m->cap - 1;
    for (size_t i = 0; i < n + LOOKAHEAD; i++) {
        if (i >= LOOKAHEAD) { /* key i - LOOKAHEAD: its slot and key should be here by now */
            size_t k = i - LOOKAHEAD;
            const struct lmap_slot *s = find_hashed(m, keys[k], h[k % LOOKAHEAD]);
            values[k] = s ? s->value : NULL;
        }
        if (i < n) {
            h[i % LOOKAHEAD] = hash(keys[i]);
            __builtin_prefetch(&m->slots[h[i % LOOKAHEAD] & mask]);
        }
        size_t j = i - LOOKAHEAD / 2; /* its slot is on the way: ask for its key */
        if (i >= LOOKAHEAD / 2 && j < n) {
            const struct lmap_slot *s = &m->slots[h[j % LOOKAHEAD] & mask];
            if (s->key && s->key != LMAP_TOMB)
                __builtin_prefetch(s->key);
        }
    }
}

static enum fs_err grow(struct lmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    if (m->len * 2 < m->cap)
        cap = m->cap; /* mostly tombstones: rehash at the same size */
    struct lmap_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return FS_ENOMEM;
    /* the live keys packed into fresh chunks when deleted ones take much of the old */
    struct lmap_chunk *fresh = NULL;
    int repack = m->dead_bytes > 4096 && m->dead_bytes > m->live_bytes;
    for (size_t i = 0; i < m->cap; i++) {
        struct lmap_slot *s = &m->slots[i];
        if (!s->key || s->key == LMAP_TOMB)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
        if (repack && !(slots[j].key = key_copy(&fresh, s->key))) {
            chunks_free(fresh);
            free(slots);
            return FS_ENOMEM;
        }
    }
    if (repack) {
        chunks_free(m->chunks);
        m->chunks = fresh;
        m->dead_bytes = 0;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->len;
    return FS_OK;
}

enum fs_err lmap_put(struct lmap *m, const char *key, void *value)
{
    struct lmap_slot *s = find(m, key);
    if (s) {
        s->value = value;
        return FS_OK;
    }
    if ((m->used + 1) * 10 > m->cap * 7) {
        enum fs_err rc = grow(m);
        if (rc != FS_OK)
            return rc;
    }
    char *k = key_copy(&m->chunks, key);
    if (!k)
        return FS_ENOMEM;
    m->live_bytes += strlen(key) + 1;
    size_t mask = m->cap - 1;
    uint64_t h = hash(key);
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != LMAP_TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = k;
    m->slots[i].hash = h;
    m->slots[i].value = value;
    m->len++;
    return FS_OK;
}

void *lmap_del(struct lmap *m, const char *key)
{
    struct lmap_slot *s = find(m, key);
    if (!s)
        return NULL;
    void *v = s->value;
    size_t n = strlen(s->key) + 1;
    m->live_bytes -= n;
    m->dead_bytes += n;
    s->key = LMAP_TOMB;
    s->value = NULL;
    m->len--;
    return v;
}

int lmap_next(const struct lmap *m, size_t *pos, const char **key, void **value)
{
    while (*pos < m->cap) {
        struct lmap_slot *s = &m->slots[(*pos)++];
        if (s->key && s->key != LMAP_TOMB) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            return 1;
        }
    }
    return 0;
}
