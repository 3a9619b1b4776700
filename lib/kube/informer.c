/* Informer: one thread per resource that lists (page by page), then watches from the
 * list's resourceVersion, resuming after each rotation or broken connection and relisting
 * on 410. The cache maps "ns/name" to a value: a packed object (compact JSON text) or, with
 * keep_trees, a json_t; indexes map an index key to the set of object keys and values.
 * Only the informer thread writes, under the write lock; it may read without the lock.
 * Handlers run after the update, on the informer thread, without any lock held. */
#include "kube/informer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "kube/internal.h"
#include "kube/strmap.h"
#include "kube/watch.h"
#include "kube/workqueue.h"

#define MAX_HANDLERS 8
#define MAX_INDEXES 8
#define INDEX_KEYS_MAX 16
#define KEY_MAX 512

/* A cached object as compact JSON text, in one allocation. */
struct packed {
    uint32_t len;
    char text[];
};

struct index {
    char *name;
    kube_index_fn fn;
    struct strmap keys; /* index key -> struct strmap * (object key -> json_t *, borrowed) */
};

struct kube_informer {
    struct kube_client *c;
    char *group, *version, *resource, *namespace, *label_selector, *field_selector;
    struct kube_ref ref;
    int resync_s;
    long page_limit;
    int watch_timeout_s;
    kube_transform_fn transform;
    int keep_trees;

    struct kube_informer_handlers handlers[MAX_HANDLERS];
    size_t nhandlers;
    struct index indexes[MAX_INDEXES];
    size_t nindexes;

    pthread_rwlock_t lock;          /* guards cache, indexes, rv */
    struct strmap cache;            /* key -> json_t * (owned reference) */
    char rv[64];

    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    int synced;
    int running;
    volatile int stop;
    int no_watchlist;               /* the server refused a streaming list: page instead */
    int old_for_update, old_for_delete; /* events need the cached previous state (parsed) */
    int need_relist;                /* an event could not be applied: the cache is suspect */
    pthread_t thread;

    pthread_mutex_t stats_lock;
    struct kube_informer_stats stats;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

enum fs_err kube_informer_new(struct kube_informer **out, struct kube_client *c,
                              const struct kube_informer_opts *o)
{
    struct kube_informer *inf = calloc(1, sizeof(*inf));
    *out = NULL;
    if (!inf)
        return FS_ENOMEM;
    inf->c = c;
    inf->group = dup_or_null(o->ref.group ? o->ref.group : "");
    inf->version = dup_or_null(o->ref.version);
    inf->resource = dup_or_null(o->ref.resource);
    inf->namespace = dup_or_null(o->ref.namespace ? o->ref.namespace : "");
    inf->label_selector = dup_or_null(o->label_selector);
    inf->field_selector = dup_or_null(o->field_selector);
    pthread_rwlock_init(&inf->lock, NULL);
    pthread_mutex_init(&inf->sync_lock, NULL);
    pthread_cond_init(&inf->sync_cond, NULL);
    pthread_mutex_init(&inf->stats_lock, NULL);
    strmap_init(&inf->cache);
    if (!inf->group || !inf->version || !inf->resource || !inf->namespace ||
        (o->label_selector && !inf->label_selector) || (o->field_selector && !inf->field_selector)) {
        kube_informer_free(inf);
        return FS_ENOMEM;
    }
    inf->ref.group = inf->group;
    inf->ref.version = inf->version;
    inf->ref.resource = inf->resource;
    inf->ref.namespace = inf->namespace;
    char path[1024];
    if (kube_ref_path(&inf->ref, path, sizeof(path)) != FS_OK || o->ref.name) {
        kube_informer_free(inf);
        return FS_EINVAL;
    }
    inf->resync_s = o->resync_s;
    inf->page_limit = o->page_limit > 0 ? o->page_limit : 500;
    inf->watch_timeout_s = o->watch_timeout_s;
    inf->transform = o->transform;
    inf->keep_trees = o->keep_trees;
    inf->no_watchlist = !o->streaming_list;
    *out = inf;
    return FS_OK;
}

/* ---- cache values: packed text or trees ---- */

/* A packed value holding prefix then text (prefix_len may be 0); NULL on ENOMEM. */
static struct packed *packed_new(const char *prefix, size_t prefix_len, const char *text, size_t len)
{
    if (prefix_len + len > UINT32_MAX)
        return NULL;
    struct packed *p = malloc(sizeof(*p) + prefix_len + len);
    if (!p)
        return NULL;
    if (prefix_len > 0)
        memcpy(p->text, prefix, prefix_len);
    memcpy(p->text + prefix_len, text, len);
    p->len = (uint32_t)(prefix_len + len);
    return p;
}

/* Makes the cache value for obj (borrowed). raw (may be NULL) is obj's JSON text as
 * received, stored as is instead of writing obj out again. NULL on ENOMEM. */
static void *value_new(struct kube_informer *inf, json_t *obj, const char *raw, size_t raw_len)
{
    if (inf->keep_trees)
        return json_incref(obj);
    if (raw)
        return packed_new(NULL, 0, raw, raw_len);
    /* one serialisation into a per-thread scratch buffer, then an exact copy */
    static __thread char scratch[64 * 1024];
    size_t len = json_dumpb(obj, scratch, sizeof(scratch), JSON_COMPACT);
    if (len == 0 || len > UINT32_MAX)
        return NULL;
    struct packed *p = malloc(sizeof(*p) + len);
    if (!p)
        return NULL;
    if (len <= sizeof(scratch))
        memcpy(p->text, scratch, len);
    else
        json_dumpb(obj, p->text, len, JSON_COMPACT); /* larger than the scratch: again */
    p->len = (uint32_t)len;
    return p;
}

static void value_free(struct kube_informer *inf, void *v)
{
    if (inf->keep_trees)
        json_decref(v);
    else
        free(v);
}

/* A new reference to the object a value holds (parsed when packed); NULL on ENOMEM. */
static json_t *value_tree(const struct kube_informer *inf, void *v)
{
    if (!v)
        return NULL;
    if (inf->keep_trees)
        return json_incref(v);
    struct packed *p = v;
    json_t *t = NULL;
    /* the text was checked when it arrived */
    kube_json_load(p->text, p->len, KUBE_JSON_TRUSTED, &t, NULL);
    return t;
}

static int value_same(const struct kube_informer *inf, void *a, void *b)
{
    if (inf->keep_trees) {
        const char *ra = kube_json_str(a, "metadata.resourceVersion");
        const char *rb = kube_json_str(b, "metadata.resourceVersion");
        return ra && rb && strcmp(ra, rb) == 0;
    }
    struct packed *pa = a, *pb = b;
    if (pa->len == pb->len && memcmp(pa->text, pb->text, pa->len) == 0)
        return 1;
    /* the same version may be written differently (a list item and a watch object order
     * their fields differently): the resourceVersion decides */
    json_t *ta = value_tree(inf, a), *tb = value_tree(inf, b);
    const char *ra = kube_json_str(ta, "metadata.resourceVersion");
    const char *rb = kube_json_str(tb, "metadata.resourceVersion");
    int same = ra && rb && strcmp(ra, rb) == 0;
    json_decref(ta);
    json_decref(tb);
    return same;
}

static void index_clear(struct index *ix)
{
    struct strmap_iter it;
    struct strmap_entry *e;
    strmap_iter_init(&it, &ix->keys);
    while ((e = strmap_iter_next(&it))) {
        strmap_release(e->value);
        free(e->value);
    }
    strmap_release(&ix->keys);
}

static void cache_clear(struct kube_informer *inf, struct strmap *cache)
{
    struct strmap_iter it;
    struct strmap_entry *e;
    strmap_iter_init(&it, cache);
    while ((e = strmap_iter_next(&it)))
        value_free(inf, e->value);
    strmap_release(cache);
}

void kube_informer_free(struct kube_informer *inf)
{
    if (!inf)
        return;
    kube_informer_stop(inf);
    for (size_t i = 0; i < inf->nindexes; i++) {
        index_clear(&inf->indexes[i]);
        free(inf->indexes[i].name);
    }
    cache_clear(inf, &inf->cache);
    free(inf->group);
    free(inf->version);
    free(inf->resource);
    free(inf->namespace);
    free(inf->label_selector);
    free(inf->field_selector);
    pthread_rwlock_destroy(&inf->lock);
    pthread_mutex_destroy(&inf->sync_lock);
    pthread_cond_destroy(&inf->sync_cond);
    pthread_mutex_destroy(&inf->stats_lock);
    free(inf);
}

enum fs_err kube_informer_add_index(struct kube_informer *inf, const char *name, kube_index_fn fn)
{
    if (inf->running || inf->nindexes >= MAX_INDEXES || !fn || !name)
        return FS_EINVAL;
    struct index *ix = &inf->indexes[inf->nindexes];
    ix->name = strdup(name);
    if (!ix->name)
        return FS_ENOMEM;
    ix->fn = fn;
    strmap_init(&ix->keys);
    inf->nindexes++;
    return FS_OK;
}

enum fs_err kube_informer_add_handlers(struct kube_informer *inf,
                                       const struct kube_informer_handlers *h)
{
    if (inf->running || inf->nhandlers >= MAX_HANDLERS)
        return FS_EINVAL;
    inf->handlers[inf->nhandlers++] = *h;
    return FS_OK;
}

enum fs_err kube_object_key(const json_t *obj, char *buf, size_t len)
{
    const char *name = kube_json_str(obj, "metadata.name");
    const char *ns = kube_json_str(obj, "metadata.namespace");
    int n;
    if (!name || !*name)
        return FS_EINVAL;
    if (ns && *ns)
        n = snprintf(buf, len, "%s/%s", ns, name);
    else
        n = snprintf(buf, len, "%s", name);
    return n >= 0 && (size_t)n < len ? FS_OK : FS_ERANGE;
}

/* ---- index maintenance (write lock held) ---- */

static void index_remove(struct index *ix, const char *okey, const json_t *obj)
{
    const char *keys[INDEX_KEYS_MAX];
    size_t n = ix->fn(obj, keys, INDEX_KEYS_MAX);
    for (size_t i = 0; i < n && i < INDEX_KEYS_MAX; i++) {
        struct strmap *set = strmap_get(&ix->keys, keys[i]);
        if (!set)
            continue;
        strmap_del(set, okey);
        if (set->len == 0) {
            strmap_del(&ix->keys, keys[i]);
            strmap_release(set);
            free(set);
        }
    }
}

/* Adds okey (with its cache value) under the index keys of obj (the same object, parsed). */
static enum fs_err index_add(struct index *ix, const char *okey, const json_t *obj, void *value)
{
    const char *keys[INDEX_KEYS_MAX];
    size_t n = ix->fn(obj, keys, INDEX_KEYS_MAX);
    for (size_t i = 0; i < n && i < INDEX_KEYS_MAX; i++) {
        if (!keys[i])
            continue;
        struct strmap *set = strmap_get(&ix->keys, keys[i]);
        if (!set) {
            set = calloc(1, sizeof(*set));
            if (!set || strmap_put(&ix->keys, keys[i], set, NULL) != FS_OK) {
                free(set);
                return FS_ENOMEM;
            }
        }
        if (strmap_put(set, okey, value, NULL) != FS_OK)
            return FS_ENOMEM;
    }
    return FS_OK;
}

/* Puts value (which the cache takes) under key; obj is the same object parsed and old_obj
 * the replaced one parsed (or NULL), for the indexes. *stored says whether the cache took
 * value (an index may still have failed). */
static enum fs_err cache_put_locked(struct kube_informer *inf, const char *key, void *value,
                                    const json_t *obj, const json_t *old_obj, int *stored)
{
    enum fs_err rc = strmap_put(&inf->cache, key, value, NULL);
    *stored = rc == FS_OK;
    if (rc != FS_OK)
        return rc;
    for (size_t i = 0; i < inf->nindexes; i++) {
        if (old_obj)
            index_remove(&inf->indexes[i], key, old_obj);
        if ((rc = index_add(&inf->indexes[i], key, obj, value)) != FS_OK)
            return rc;
    }
    return FS_OK;
}

static void cache_del_locked(struct kube_informer *inf, const char *key, const json_t *old_obj)
{
    strmap_del(&inf->cache, key);
    if (old_obj)
        for (size_t i = 0; i < inf->nindexes; i++)
            index_remove(&inf->indexes[i], key, old_obj);
}

/* ---- handlers ---- */

static void call_add(struct kube_informer *inf, const json_t *obj)
{
    for (size_t i = 0; i < inf->nhandlers; i++)
        if (inf->handlers[i].on_add)
            inf->handlers[i].on_add(inf->handlers[i].arg, obj);
}

static void call_update(struct kube_informer *inf, const json_t *old, const json_t *obj)
{
    for (size_t i = 0; i < inf->nhandlers; i++)
        if (inf->handlers[i].on_update)
            inf->handlers[i].on_update(inf->handlers[i].arg, old, obj);
}

static void call_delete(struct kube_informer *inf, const json_t *obj)
{
    for (size_t i = 0; i < inf->nhandlers; i++)
        if (inf->handlers[i].on_delete)
            inf->handlers[i].on_delete(inf->handlers[i].arg, obj);
}

static void stat_add(struct kube_informer *inf, unsigned long *field)
{
    pthread_mutex_lock(&inf->stats_lock);
    (*field)++;
    pthread_mutex_unlock(&inf->stats_lock);
}

/* ---- list ---- */

/* Replaces the cache and indexes by fresh ones (taking their contents, leaving them empty)
 * at resourceVersion rv, then delivers the differences to the handlers. */
static void swap_and_deliver(struct kube_informer *inf, struct strmap *freshp,
                             struct strmap *fresh_ix, const char *rv)
{
    /* swap in; the old map's values stay alive until the differences are delivered */
    struct strmap old;
    pthread_rwlock_wrlock(&inf->lock);
    old = inf->cache;
    inf->cache = *freshp;
    strmap_init(freshp);
    for (size_t k = 0; k < inf->nindexes; k++) {
        index_clear(&inf->indexes[k]);
        inf->indexes[k].keys = fresh_ix[k];
        strmap_init(&fresh_ix[k]);
    }
    snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    pthread_rwlock_unlock(&inf->lock);

    /* deliver adds and updates, then deletions (the thread is the only writer, so it reads
     * the cache without the lock) */
    struct strmap_iter it;
    struct strmap_entry *e;
    if (inf->nhandlers > 0) {
        strmap_iter_init(&it, &inf->cache);
        while ((e = strmap_iter_next(&it))) {
            void *was = strmap_get(&old, e->key);
            if (was && value_same(inf, was, e->value))
                continue;
            json_t *now = value_tree(inf, e->value), *before = value_tree(inf, was);
            if (now && !was)
                call_add(inf, now);
            else if (now && before)
                call_update(inf, before, now);
            json_decref(now);
            json_decref(before);
        }
        strmap_iter_init(&it, &old);
        while ((e = strmap_iter_next(&it))) {
            if (strmap_get(&inf->cache, e->key))
                continue;
            json_t *before = value_tree(inf, e->value);
            if (before)
                call_delete(inf, before);
            json_decref(before);
        }
    }
    cache_clear(inf, &old);
}

/* Adds obj (a reference it takes) under key to a map and indexes being built. v (may be
 * NULL) is its cache value made already (from its text as received), which it takes too. */
static enum fs_err fresh_add(struct kube_informer *inf, struct strmap *fresh,
                             struct strmap *fresh_ix, const char *key, json_t *obj, void *v)
{
    enum fs_err rc = FS_OK;
    if (v && inf->transform) {
        value_free(inf, v); /* the transform changes the object: its text no longer fits */
        v = NULL;
    }
    if (inf->transform && !(obj = inf->transform(obj)))
        return FS_ENOMEM;
    if (!v)
        v = value_new(inf, obj, NULL, 0);
    void *prev = NULL;
    if (!v || strmap_put(fresh, key, v, &prev) != FS_OK) {
        if (v)
            value_free(inf, v);
        json_decref(obj);
        return FS_ENOMEM;
    }
    if (prev) {
        /* a name seen twice: the later one wins; drop the earlier one from the indexes */
        json_t *pt = value_tree(inf, prev);
        for (size_t k = 0; k < inf->nindexes && pt; k++) {
            struct index tmp = {.fn = inf->indexes[k].fn, .keys = fresh_ix[k]};
            index_remove(&tmp, key, pt);
            fresh_ix[k] = tmp.keys;
        }
        json_decref(pt);
        value_free(inf, prev);
    }
    for (size_t k = 0; k < inf->nindexes && rc == FS_OK; k++) {
        struct index tmp = {.fn = inf->indexes[k].fn, .keys = fresh_ix[k]};
        rc = index_add(&tmp, key, obj, v);
        fresh_ix[k] = tmp.keys;
    }
    json_decref(obj);
    return rc;
}

#define LIST_BODY_MAX (2048u * 1024u * 1024u) /* bytes in one list response */
#define LIST_HEAD_MAX (64u * 1024u)           /* bytes before "items" when streaming */

static int plain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/' || c == '-' || c == '_';
}

/* A list response read as it arrives: the head (kind, apiVersion, metadata) once "items":[
 * is seen, then each item as soon as it is complete, so a 50,000-object list is neither
 * held as one text nor as one tree, and reading overlaps the server's writing. A body in
 * another shape (items first, or null) is kept whole and read at the end. */
struct listread {
    struct kube_informer *inf;
    struct strmap *fresh, *fresh_ix;
    struct fs_buf buf;     /* bytes not consumed yet */
    size_t total;          /* bytes of the body so far, bounded by LIST_BODY_MAX */
    int phase;             /* HEAD, ITEMS, TAIL, or WHOLE (keep everything) */
    /* the item being scanned: where it starts, how far, nesting, inside a string */
    size_t item_at, scan_at;
    int depth, in_str, esc;
    char kind[128], api_version[128];
    int plain_ok;
    char rv[64];
    char *cont;
    enum fs_err err;
};

enum { LR_HEAD, LR_ITEMS, LR_TAIL, LR_WHOLE };

/* Caches one list item (its text raw[0..len), a complete JSON value). */
static enum fs_err list_item(struct listread *lr, const char *raw, size_t len)
{
    struct kube_informer *inf = lr->inf;
    char key[KEY_MAX];
    json_t *item = NULL;
    enum fs_err rc = kube_json_load(raw, len, 0, &item, NULL);
    if (rc != FS_OK)
        return rc;
    if (kube_object_key(item, key, sizeof(key)) != FS_OK) {
        json_decref(item);
        return FS_OK; /* not an object with a name: nothing to cache */
    }
    int add_kind = lr->kind[0] && !json_object_get(item, "kind");
    int add_api = lr->api_version[0] && !json_object_get(item, "apiVersion");
    if ((add_kind && json_object_set_new(item, "kind", json_string(lr->kind)) != 0) ||
        (add_api && json_object_set_new(item, "apiVersion", json_string(lr->api_version)) != 0)) {
        json_decref(item);
        return FS_ENOMEM;
    }
    /* cache the item's text as received, the missing fields written in front as a watch
     * object has them ({"kind":..,"apiVersion":..,"metadata":..}), so both read the same */
    void *v = NULL;
    if (!inf->transform && !inf->keep_trees && lr->plain_ok) {
        char prefix[300];
        int pl = 0;
        if (add_kind && add_api)
            pl = snprintf(prefix, sizeof(prefix), "{\"kind\":\"%s\",\"apiVersion\":\"%s\",", lr->kind,
                          lr->api_version);
        else if (add_kind)
            pl = snprintf(prefix, sizeof(prefix), "{\"kind\":\"%s\",", lr->kind);
        else if (add_api)
            pl = snprintf(prefix, sizeof(prefix), "{\"apiVersion\":\"%s\",", lr->api_version);
        /* an item with a name is a non-empty object: its '{' gives way to the prefix */
        while (len > 0 && raw[0] != '{') {
            raw++;
            len--;
        }
        if (pl > 0 && (size_t)pl < sizeof(prefix) && len > 1)
            v = packed_new(prefix, (size_t)pl, raw + 1, len - 1);
        else if (pl == 0)
            v = packed_new(NULL, 0, raw, len);
        if (!v) {
            json_decref(item);
            return FS_ENOMEM;
        }
    }
    return fresh_add(inf, lr->fresh, lr->fresh_ix, key, item, v);
}

/* Reads the head of a list, head[0..len) being a complete JSON object. */
static enum fs_err list_head(struct listread *lr, const char *head, size_t len)
{
    json_t *h = NULL;
    enum fs_err rc = kube_json_load(head, len, 0, &h, NULL);
    if (rc != FS_OK)
        return rc;
    const char *prv = kube_json_str(h, "metadata.resourceVersion");
    const char *next = kube_json_str(h, "metadata.continue");
    snprintf(lr->rv, sizeof(lr->rv), "%s", prv ? prv : "");
    free(lr->cont);
    lr->cont = next && *next ? strdup(next) : NULL;
    int nomem = next && *next && !lr->cont;
    /* list items carry no kind/apiVersion, watch objects do: give items the same, so an
     * object reads the same whichever way it arrived (and relists compare equal) */
    const char *lk = kube_json_str(h, "kind");
    const char *la = kube_json_str(h, "apiVersion");
    lr->kind[0] = lr->api_version[0] = '\0';
    if (lk && strlen(lk) > 4 && strlen(lk) < sizeof(lr->kind) && !strcmp(lk + strlen(lk) - 4, "List"))
        snprintf(lr->kind, sizeof(lr->kind), "%.*s", (int)(strlen(lk) - 4), lk);
    if (la && strlen(la) < sizeof(lr->api_version))
        snprintf(lr->api_version, sizeof(lr->api_version), "%s", la);
    json_decref(h);
    /* kind and apiVersion are written into cached text unescaped only when they need no
     * escaping (they always are identifiers like "ConfigMap" and "apps/v1") */
    lr->plain_ok = 1;
    for (const char *c = lr->kind; *c; c++)
        lr->plain_ok &= plain_char(*c);
    for (const char *c = lr->api_version; *c; c++)
        lr->plain_ok &= plain_char(*c);
    return nomem ? FS_ENOMEM : FS_OK;
}

/* The head is what precedes "items":[ (the apiserver writes kind, apiVersion, metadata,
 * then items), closed with a '}'. */
static enum fs_err list_head_before(struct listread *lr, const char *body, size_t hl)
{
    char *h = malloc(hl + 2);
    if (!h)
        return FS_ENOMEM;
    memcpy(h, body, hl);
    while (hl > 0 && (h[hl - 1] == ',' || h[hl - 1] == ' ' || h[hl - 1] == '\n'))
        hl--;
    h[hl] = '}';
    enum fs_err rc = list_head(lr, h, hl + 1);
    free(h);
    return rc;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Consumes the complete items in lr->buf; returns with a partial one kept for later. */
static enum fs_err list_advance(struct listread *lr)
{
    if (lr->phase == LR_HEAD) {
        const char *items = memmem(lr->buf.data, lr->buf.len, "\"items\":[", 9);
        if (!items) {
            if (lr->buf.len > LIST_HEAD_MAX)
                lr->phase = LR_WHOLE; /* not the usual shape: read it whole at the end */
            return FS_OK;
        }
        size_t hl = (size_t)(items - lr->buf.data);
        enum fs_err rc = list_head_before(lr, lr->buf.data, hl);
        if (rc != FS_OK)
            return rc;
        if (!lr->rv[0]) {
            lr->phase = LR_WHOLE; /* the metadata comes after the items: read it whole */
            return FS_OK;
        }
        lr->phase = LR_ITEMS;
        lr->item_at = lr->scan_at = hl + 9;
        lr->depth = lr->in_str = lr->esc = 0;
    }
    while (lr->phase == LR_ITEMS) {
        const char *b = lr->buf.data;
        size_t at = lr->item_at;
        if (lr->scan_at == at) {
            /* between items */
            while (at < lr->buf.len && (is_ws(b[at]) || b[at] == ','))
                at++;
            lr->item_at = lr->scan_at = at;
            if (at >= lr->buf.len)
                break;
            if (b[at] == ']') {
                lr->phase = LR_TAIL;
                lr->item_at = at + 1;
                break;
            }
            if (b[at] != '{')
                return FS_EPARSE;
        }
        /* find where the item ends: brackets outside strings */
        size_t i = lr->scan_at;
        int done = 0;
        for (; i < lr->buf.len; i++) {
            char c = b[i];
            if (lr->in_str) {
                if (lr->esc)
                    lr->esc = 0;
                else if (c == '\\')
                    lr->esc = 1;
                else if (c == '"')
                    lr->in_str = 0;
            } else if (c == '"') {
                lr->in_str = 1;
            } else if (c == '{' || c == '[') {
                lr->depth++;
            } else if (c == '}' || c == ']') {
                if (--lr->depth == 0) {
                    i++;
                    done = 1;
                    break;
                }
            }
        }
        lr->scan_at = i;
        if (!done)
            break;
        enum fs_err rc = list_item(lr, b + lr->item_at, i - lr->item_at);
        if (rc != FS_OK)
            return rc;
        lr->item_at = lr->scan_at = i;
        lr->depth = lr->in_str = lr->esc = 0;
    }
    if (lr->phase == LR_ITEMS || lr->phase == LR_TAIL) {
        /* drop what was consumed: the buffer holds at most the item being received */
        size_t keep_from = lr->item_at;
        fs_buf_consume(&lr->buf, keep_from);
        lr->scan_at -= keep_from;
        lr->item_at = 0;
        if (lr->phase == LR_TAIL) {
            for (size_t k = 0; k < lr->buf.len; k++)
                if (!is_ws(lr->buf.data[k]) && lr->buf.data[k] != '}')
                    return FS_EPARSE;
            fs_buf_reset(&lr->buf);
            lr->scan_at = 0;
        }
    }
    return FS_OK;
}

static int list_data(void *arg, const char *data, size_t len)
{
    struct listread *lr = arg;
    lr->total += len;
    if (lr->total > LIST_BODY_MAX) {
        lr->err = FS_ERANGE;
        return 1;
    }
    /* cannot pass its bound (the buffer never holds more than total), so only FS_ENOMEM */
    enum fs_err arc = fs_buf_append(&lr->buf, data, len);
    if (arc != FS_OK) {
        lr->err = arc;
        return 1;
    }
    if (lr->phase == LR_WHOLE)
        return 0;
    enum fs_err rc = list_advance(lr);
    if (rc != FS_OK) {
        lr->err = rc;
        return 1;
    }
    return 0;
}

/* At the end of the body: a complete list, or one kept whole to read now. */
static enum fs_err list_finish(struct listread *lr)
{
    if (lr->phase == LR_TAIL)
        return FS_OK;
    if (lr->phase != LR_WHOLE && lr->phase != LR_HEAD)
        return FS_EPARSE; /* ended inside the items */
    /* the whole body: its head is everything but the items */
    json_t *body = NULL;
    enum fs_err rc = kube_json_load(lr->buf.data ? lr->buf.data : "", lr->buf.len, 0, &body, NULL);
    if (rc != FS_OK)
        return rc;
    json_t *items = json_incref(json_object_get(body, "items"));
    json_object_del(body, "items");
    char *head = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    rc = head ? list_head(lr, head, strlen(head)) : FS_ENOMEM;
    free(head);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (rc != FS_OK)
            break;
        char *text = json_dumps(it, JSON_COMPACT);
        rc = text ? list_item(lr, text, strlen(text)) : FS_ENOMEM;
        free(text);
    }
    json_decref(items);
    return rc;
}

/* Lists everything into a new map and new indexes, then swaps them in and delivers the
 * differences. The very first list asks for resourceVersion=0 (served from the apiserver's
 * watch cache, usually in one response, as client-go's reflector does); a relist asks for
 * the most recent state, since the cache may lag behind what this informer already saw.
 * Continue tokens are followed if the server pages anyway. */
static enum fs_err relist(struct kube_informer *inf)
{
    struct strmap fresh;
    struct strmap fresh_ix[MAX_INDEXES];
    enum fs_err rc = FS_OK;
    char *cont = NULL;
    char rv[64] = "";
    struct kube_status st;
    struct listread lr = {.inf = inf, .fresh = &fresh, .fresh_ix = fresh_ix};
    fs_buf_init(&lr.buf, LIST_BODY_MAX, 1u << 16);
    strmap_init(&fresh);
    for (size_t k = 0; k < inf->nindexes; k++)
        strmap_init(&fresh_ix[k]);
    stat_add(inf, &inf->stats.lists);
    for (int page = 0;; page++) {
        char path[8192], num[32];
        rc = kube_ref_path(&inf->ref, path, sizeof(path));
        snprintf(num, sizeof(num), "%ld", inf->page_limit);
        if (rc == FS_OK && inf->label_selector && *inf->label_selector)
            rc = kube_query_add(path, sizeof(path), "labelSelector", inf->label_selector);
        if (rc == FS_OK && inf->field_selector && *inf->field_selector)
            rc = kube_query_add(path, sizeof(path), "fieldSelector", inf->field_selector);
        if (rc == FS_OK)
            rc = kube_query_add(path, sizeof(path), "limit", num);
        if (rc == FS_OK && cont)
            rc = kube_query_add(path, sizeof(path), "continue", cont);
        else if (rc == FS_OK && page == 0 && !inf->synced)
            rc = kube_query_add(path, sizeof(path), "resourceVersion", "0");
        free(cont);
        cont = NULL;
        if (rc != FS_OK)
            goto out;
        fs_buf_reset(&lr.buf);
        lr.total = 0;
        lr.phase = LR_HEAD;
        lr.err = FS_OK;
        rc = kube_client_stream(inf->c, path, 600, &inf->stop, list_data, &lr, &st);
        if (lr.err != FS_OK) {
            log_warn("cannot read the list of %s: %s", inf->resource, fs_strerror(lr.err));
            rc = lr.err;
            goto out;
        }
        if (rc == FS_OK && inf->stop)
            rc = FS_EIO;
        if (rc != FS_OK) {
            char msg[700];
            log_warn("cannot list %s: %s", inf->resource, kube_status_str(&st, msg, sizeof(msg)));
            goto out;
        }
        rc = list_finish(&lr);
        if (rc != FS_OK) {
            log_warn("cannot parse the list of %s: %s", inf->resource, fs_strerror(rc));
            goto out;
        }
        snprintf(rv, sizeof(rv), "%s", lr.rv);
        cont = lr.cont;
        lr.cont = NULL;
        if (!cont)
            break;
    }
    swap_and_deliver(inf, &fresh, fresh_ix, rv);
out:
    free(cont);
    free(lr.cont);
    fs_buf_release(&lr.buf);
    for (size_t k = 0; k < inf->nindexes; k++) {
        struct index tmp = {.keys = fresh_ix[k]};
        index_clear(&tmp);
    }
    cache_clear(inf, &fresh);
    return rc;
}

/* ---- watch ---- */

static int on_event(void *arg, struct kube_event *ev)
{
    struct kube_informer *inf = arg;
    char key[KEY_MAX];
    if (ev->type == KUBE_EVENT_BOOKMARK) {
        pthread_rwlock_wrlock(&inf->lock);
        snprintf(inf->rv, sizeof(inf->rv), "%s", ev->resource_version);
        pthread_rwlock_unlock(&inf->lock);
        return 0;
    }
    if (kube_object_key(ev->object, key, sizeof(key)) != FS_OK)
        return 0;
    stat_add(inf, &inf->stats.events);
    char rv[64];
    snprintf(rv, sizeof(rv), "%s", ev->resource_version ? ev->resource_version : "");
    /* the only writer may read without the lock */
    void *old = strmap_get(&inf->cache, key);
    json_t *old_obj = NULL;
    /* the previous state is read back from the cache only for those who look at it */
    int want_old = ev->type == KUBE_EVENT_DELETED ? inf->old_for_delete : inf->old_for_update;
    if (old && want_old && !(old_obj = value_tree(inf, old))) {
        inf->need_relist = 1;
        return 1;
    }
    if (ev->type == KUBE_EVENT_DELETED) {
        pthread_rwlock_wrlock(&inf->lock);
        cache_del_locked(inf, key, old_obj);
        snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
        pthread_rwlock_unlock(&inf->lock);
        call_delete(inf, old_obj ? old_obj : ev->object);
        json_decref(old_obj);
        if (old)
            value_free(inf, old);
        return 0;
    }
    json_t *obj = ev->object;
    ev->object = NULL;
    if (inf->transform && !(obj = inf->transform(obj))) {
        json_decref(old_obj);
        inf->need_relist = 1;
        return 1;
    }
    void *v = value_new(inf, obj, inf->transform ? NULL : ev->raw, ev->raw_len);
    int stored = 0;
    enum fs_err rc = FS_ENOMEM;
    if (v) {
        pthread_rwlock_wrlock(&inf->lock);
        rc = cache_put_locked(inf, key, v, obj, old_obj, &stored);
        if (rc == FS_OK)
            snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
        pthread_rwlock_unlock(&inf->lock);
    }
    if (rc != FS_OK) {
        /* out of memory: stop this watch; the loop relists and rebuilds the indexes */
        if (v && !stored)
            value_free(inf, v);
        if (stored && old)
            value_free(inf, old);
        json_decref(obj);
        json_decref(old_obj);
        inf->need_relist = 1;
        return 1;
    }
    if (old)
        call_update(inf, old_obj, obj); /* old_obj is there when a handler takes updates */
    else
        call_add(inf, obj);
    json_decref(obj);
    json_decref(old_obj);
    if (old)
        value_free(inf, old);
    return 0;
}

static void resync(struct kube_informer *inf)
{
    json_t *all = kube_informer_list(inf);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) call_update(inf, o, o);
    json_decref(all);
}

static void set_synced(struct kube_informer *inf)
{
    pthread_mutex_lock(&inf->sync_lock);
    inf->synced = 1;
    pthread_cond_broadcast(&inf->sync_cond);
    pthread_mutex_unlock(&inf->sync_lock);
}

/* ---- streaming list (sendInitialEvents), as client-go's watch-list ---- */

struct watchlist {
    struct kube_informer *inf;
    struct strmap fresh;
    struct strmap fresh_ix[MAX_INDEXES];
    int synced;          /* the initial events ended: the watch goes on as a plain watch */
    enum fs_err err;
};

static int watchlist_event(void *arg, struct kube_event *ev)
{
    struct watchlist *w = arg;
    struct kube_informer *inf = w->inf;
    char key[KEY_MAX];
    if (w->synced)
        return on_event(inf, ev);
    if (ev->type == KUBE_EVENT_BOOKMARK) {
        json_t *ann = json_object_get(json_object_get(ev->object, "metadata"), "annotations");
        const char *end = json_string_value(json_object_get(ann, "k8s.io/initial-events-end"));
        if (end && !strcmp(end, "true")) {
            swap_and_deliver(inf, &w->fresh, w->fresh_ix, ev->resource_version);
            w->synced = 1;
            if (!inf->synced)
                set_synced(inf);
        }
        return 0;
    }
    if (ev->type != KUBE_EVENT_ADDED && ev->type != KUBE_EVENT_MODIFIED) {
        w->err = FS_EPARSE; /* not part of an initial stream: list in pages instead */
        return 1;
    }
    if (kube_object_key(ev->object, key, sizeof(key)) != FS_OK)
        return 0;
    json_t *obj = ev->object;
    ev->object = NULL;
    void *v = NULL;
    if (ev->raw && !inf->transform && !(v = value_new(inf, obj, ev->raw, ev->raw_len))) {
        json_decref(obj);
        w->err = FS_ENOMEM;
        return 1;
    }
    enum fs_err rc = fresh_add(inf, &w->fresh, w->fresh_ix, key, obj, v);
    if (rc != FS_OK) {
        w->err = rc;
        return 1;
    }
    return 0;
}

/* Lists by watching with sendInitialEvents and goes on watching on the same stream.
 * *synced says whether the initial events completed (the cache was replaced). */
static enum fs_err watch_list(struct kube_informer *inf, int *synced)
{
    struct watchlist w = {.inf = inf};
    struct kube_status st;
    strmap_init(&w.fresh);
    for (size_t k = 0; k < inf->nindexes; k++)
        strmap_init(&w.fresh_ix[k]);
    stat_add(inf, &inf->stats.lists);
    stat_add(inf, &inf->stats.watches);
    struct kube_watch_opts wo = {.label_selector = inf->label_selector,
                                 .field_selector = inf->field_selector,
                                 .timeout_s = inf->watch_timeout_s > 0 ? inf->watch_timeout_s
                                                                       : (int)kube_jitter_ms(300, 1.0),
                                 .allow_bookmarks = 1,
                                 .send_initial_events = 1,
                                 .stop = &inf->stop};
    enum fs_err rc = kube_watch_run(inf->c, &inf->ref, &wo, watchlist_event, &w, NULL, 0, &st);
    if (w.err != FS_OK)
        rc = w.err;
    else if (rc == FS_OK && !w.synced && !inf->stop)
        rc = FS_EPARSE; /* the stream ended without the end-of-initial-events bookmark */
    if (rc != FS_OK && !w.synced) {
        char msg[700];
        log_info("streaming list of %s failed: %s (%s)", inf->resource, fs_strerror(rc),
                 kube_status_str(&st, msg, sizeof(msg)));
    }
    *synced = w.synced;
    for (size_t k = 0; k < inf->nindexes; k++) {
        struct index tmp = {.keys = w.fresh_ix[k]};
        index_clear(&tmp);
    }
    cache_clear(inf, &w.fresh);
    return rc;
}

static void *run(void *arg)
{
    struct kube_informer *inf = arg;
    unsigned failures = 0;
    int64_t next_resync = inf->resync_s > 0 ? kube_mono_ms() + inf->resync_s * 1000L : INT64_MAX;
    while (!inf->stop) {
        if (!inf->no_watchlist) {
            int synced = 0;
            enum fs_err rc = watch_list(inf, &synced);
            if (inf->stop)
                break;
            if (!synced) {
                if (rc == FS_EHTTP || rc == FS_EPARSE || rc == FS_EINVAL) {
                    /* an older server, or the feature is off: list in pages from now on */
                    inf->no_watchlist = 1;
                    continue;
                }
                long d = kube_jitter_ms(kube_backoff_delay_ms(800, 30000, failures++), 0.2);
                kube_sleep_ms(d, &inf->stop);
                continue;
            }
            failures = 0;
            if (rc == FS_EGONE) {
                stat_add(inf, &inf->stats.gone);
                continue;
            }
            if (inf->need_relist || rc == FS_EPARSE || rc == FS_ERANGE || rc == FS_ENOMEM) {
                inf->need_relist = 0;
                continue;
            }
            /* the stream ended or broke after the sync: resume watching from inf->rv */
        } else {
            if (relist(inf) != FS_OK) {
                long d = kube_jitter_ms(kube_backoff_delay_ms(800, 30000, failures++), 0.2);
                kube_sleep_ms(d, &inf->stop);
                continue;
            }
            failures = 0;
            if (!inf->synced)
                set_synced(inf);
        }
        /* watch until the version expires or the stream is unusable */
        while (!inf->stop) {
            char rv[64];
            struct kube_status st;
            pthread_rwlock_rdlock(&inf->lock);
            snprintf(rv, sizeof(rv), "%s", inf->rv);
            pthread_rwlock_unlock(&inf->lock);
            int timeout = inf->watch_timeout_s > 0 ? inf->watch_timeout_s
                                                   : (int)kube_jitter_ms(300, 1.0);
            if (inf->resync_s > 0 && inf->resync_s < timeout)
                timeout = inf->resync_s;
            struct kube_watch_opts wo = {.label_selector = inf->label_selector,
                                         .field_selector = inf->field_selector,
                                         .resource_version = rv,
                                         .timeout_s = timeout,
                                         .allow_bookmarks = 1,
                                         .stop = &inf->stop};
            stat_add(inf, &inf->stats.watches);
            enum fs_err rc = kube_watch_run(inf->c, &inf->ref, &wo, on_event, inf, NULL, 0, &st);
            if (kube_mono_ms() >= next_resync) {
                resync(inf);
                next_resync = kube_mono_ms() + inf->resync_s * 1000L;
            }
            if (inf->need_relist) {
                inf->need_relist = 0;
                break;
            }
            if (rc == FS_OK) {
                failures = 0;
                continue;
            }
            char msg[700];
            if (rc == FS_EGONE) {
                stat_add(inf, &inf->stats.gone);
                log_info("watch of %s expired at %s, relisting", inf->resource, rv);
                break;
            }
            log_warn("watch of %s failed: %s (%s)", inf->resource, fs_strerror(rc),
                     kube_status_str(&st, msg, sizeof(msg)));
            if (rc == FS_EPARSE || rc == FS_ERANGE || rc == FS_ENOMEM)
                break; /* an event may be lost: only a relist is safe */
            long d = kube_jitter_ms(kube_backoff_delay_ms(800, 30000, failures++), 0.2);
            kube_sleep_ms(d, &inf->stop);
        }
    }
    return NULL;
}

enum fs_err kube_informer_start(struct kube_informer *inf)
{
    if (inf->running)
        return FS_EINVAL;
    inf->stop = 0;
    inf->old_for_update = inf->old_for_delete = inf->nindexes > 0; /* to unindex it */
    for (size_t i = 0; i < inf->nhandlers; i++) {
        inf->old_for_update |= inf->handlers[i].on_update != NULL;
        inf->old_for_delete |= inf->handlers[i].on_delete != NULL;
    }
    if (pthread_create(&inf->thread, NULL, run, inf) != 0)
        return FS_ENOMEM;
    inf->running = 1;
    return FS_OK;
}

void kube_informer_stop(struct kube_informer *inf)
{
    if (!inf->running)
        return;
    __atomic_store_n(&inf->stop, 1, __ATOMIC_RELEASE);
    pthread_join(inf->thread, NULL);
    inf->running = 0;
}

int kube_informer_has_synced(struct kube_informer *inf)
{
    pthread_mutex_lock(&inf->sync_lock);
    int s = inf->synced;
    pthread_mutex_unlock(&inf->sync_lock);
    return s;
}

enum fs_err kube_informer_wait_synced(struct kube_informer *inf, long timeout_ms)
{
    int64_t deadline = kube_mono_ms() + timeout_ms;
    pthread_mutex_lock(&inf->sync_lock);
    while (!inf->synced) {
        if (timeout_ms >= 0 && kube_mono_ms() >= deadline)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&inf->sync_cond, &inf->sync_lock, &ts);
    }
    int s = inf->synced;
    pthread_mutex_unlock(&inf->sync_lock);
    return s ? FS_OK : FS_ETIMEOUT;
}

json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name)
{
    char key[KEY_MAX];
    if (!name)
        return NULL;
    if (ns && *ns)
        snprintf(key, sizeof(key), "%s/%s", ns, name);
    else
        snprintf(key, sizeof(key), "%s", name);
    pthread_rwlock_rdlock(&inf->lock);
    json_t *o = value_tree(inf, strmap_get(&inf->cache, key));
    pthread_rwlock_unlock(&inf->lock);
    return o;
}

static json_t *collect(const struct kube_informer *inf, struct strmap *m)
{
    json_t *arr = json_array();
    struct strmap_iter it;
    struct strmap_entry *e;
    if (!arr)
        return NULL;
    strmap_iter_init(&it, m);
    while ((e = strmap_iter_next(&it))) {
        json_t *o = value_tree(inf, e->value);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *kube_informer_list(struct kube_informer *inf)
{
    pthread_rwlock_rdlock(&inf->lock);
    json_t *arr = collect(inf, &inf->cache);
    pthread_rwlock_unlock(&inf->lock);
    return arr;
}

json_t *kube_informer_by_index(struct kube_informer *inf, const char *index, const char *key)
{
    json_t *arr = NULL;
    pthread_rwlock_rdlock(&inf->lock);
    for (size_t i = 0; i < inf->nindexes; i++) {
        if (strcmp(inf->indexes[i].name, index) != 0)
            continue;
        struct strmap *set = strmap_get(&inf->indexes[i].keys, key);
        if (set)
            arr = collect(inf, set);
        else
            arr = json_array();
        break;
    }
    pthread_rwlock_unlock(&inf->lock);
    return arr;
}

size_t kube_informer_len(struct kube_informer *inf)
{
    pthread_rwlock_rdlock(&inf->lock);
    size_t n = inf->cache.len;
    pthread_rwlock_unlock(&inf->lock);
    return n;
}

void kube_informer_resource_version(struct kube_informer *inf, char *buf, size_t len)
{
    pthread_rwlock_rdlock(&inf->lock);
    snprintf(buf, len, "%s", inf->rv);
    pthread_rwlock_unlock(&inf->lock);
}

void kube_informer_stats(struct kube_informer *inf, struct kube_informer_stats *out)
{
    pthread_mutex_lock(&inf->stats_lock);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->stats_lock);
}

size_t kube_index_pod_node(const json_t *obj, const char **keys, size_t max)
{
    const char *n = kube_json_str(obj, "spec.nodeName");
    if (!n || !*n || max < 1)
        return 0;
    keys[0] = n;
    return 1;
}

size_t kube_index_namespace(const json_t *obj, const char **keys, size_t max)
{
    const char *n = kube_json_str(obj, "metadata.namespace");
    if (!n || !*n || max < 1)
        return 0;
    keys[0] = n;
    return 1;
}

json_t *kube_transform_strip_managed_fields(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    if (meta)
        json_object_del(meta, "managedFields");
    return obj;
}
