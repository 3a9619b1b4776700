/* Informer: one thread per resource that lists (page by page), then watches from the
 * list's resourceVersion, resuming after each rotation or broken connection and relisting
 * on 410. The cache maps "ns/name" to an immutable json_t; indexes map an index key to the
 * set of object keys. The cache is changed under the write lock, handlers run afterwards on
 * the informer thread without any lock held. */
#include "kube/informer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kube/internal.h"
#include "kube/strmap.h"
#include "kube/watch.h"
#include "kube/workqueue.h"

#define MAX_HANDLERS 8
#define MAX_INDEXES 8
#define INDEX_KEYS_MAX 16
#define KEY_MAX 512

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
    *out = inf;
    return FS_OK;
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

static void cache_clear(struct strmap *cache)
{
    struct strmap_iter it;
    struct strmap_entry *e;
    strmap_iter_init(&it, cache);
    while ((e = strmap_iter_next(&it)))
        json_decref(e->value);
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
    cache_clear(&inf->cache);
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

static enum fs_err index_add(struct index *ix, const char *okey, json_t *obj)
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
        if (strmap_put(set, okey, obj, NULL) != FS_OK)
            return FS_ENOMEM;
    }
    return FS_OK;
}

/* Puts obj (a reference the cache takes) under key; *old receives the replaced object.
 * *stored says whether the cache took obj (an index may still have failed). */
static enum fs_err cache_put_locked(struct kube_informer *inf, const char *key, json_t *obj,
                                    json_t **old, int *stored)
{
    void *prev = NULL;
    enum fs_err rc = strmap_put(&inf->cache, key, obj, &prev);
    *old = prev;
    *stored = rc == FS_OK;
    if (rc != FS_OK)
        return rc;
    for (size_t i = 0; i < inf->nindexes; i++) {
        if (prev)
            index_remove(&inf->indexes[i], key, prev);
        if ((rc = index_add(&inf->indexes[i], key, obj)) != FS_OK)
            return rc;
    }
    return FS_OK;
}

static json_t *cache_del_locked(struct kube_informer *inf, const char *key)
{
    json_t *prev = strmap_del(&inf->cache, key);
    if (prev)
        for (size_t i = 0; i < inf->nindexes; i++)
            index_remove(&inf->indexes[i], key, prev);
    return prev;
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

static int same_rv(const json_t *a, const json_t *b)
{
    const char *ra = kube_json_str(a, "metadata.resourceVersion");
    const char *rb = kube_json_str(b, "metadata.resourceVersion");
    return ra && rb && strcmp(ra, rb) == 0;
}

/* ---- list ---- */

/* Lists everything into a new map, then swaps it in and delivers the differences. */
static enum fs_err relist(struct kube_informer *inf)
{
    struct strmap fresh;
    enum fs_err rc = FS_OK;
    char *cont = NULL;
    char rv[64] = "";
    struct kube_status st;
    char key[KEY_MAX];
    strmap_init(&fresh);
    stat_add(inf, &inf->stats.lists);
    for (;;) {
        struct kube_list_opts lo = {.label_selector = inf->label_selector,
                                    .field_selector = inf->field_selector,
                                    .limit = inf->page_limit,
                                    .continue_token = cont};
        json_t *page = NULL;
        rc = kube_list(inf->c, &inf->ref, &lo, &page, &st);
        free(cont);
        cont = NULL;
        if (rc != FS_OK) {
            char msg[700];
            log_warn("cannot list %s: %s", inf->resource, kube_status_str(&st, msg, sizeof(msg)));
            goto out;
        }
        json_t *items = json_object_get(page, "items");
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item) {
            if (kube_object_key(item, key, sizeof(key)) != FS_OK)
                continue;
            json_t *obj = json_incref(item);
            if (inf->transform && !(obj = inf->transform(obj))) {
                rc = FS_ENOMEM;
                json_decref(page);
                goto out;
            }
            void *prev = NULL;
            if (strmap_put(&fresh, key, obj, &prev) != FS_OK) {
                json_decref(obj);
                json_decref(page);
                rc = FS_ENOMEM;
                goto out;
            }
            json_decref(prev);
        }
        /* drop the page's references now: only the cached objects stay */
        json_array_clear(items);
        const char *prv = kube_json_str(page, "metadata.resourceVersion");
        snprintf(rv, sizeof(rv), "%s", prv ? prv : "");
        const char *next = kube_json_str(page, "metadata.continue");
        if (next && *next && !(cont = strdup(next)))
            rc = FS_ENOMEM;
        json_decref(page);
        if (rc != FS_OK || !cont)
            break;
    }
    if (rc != FS_OK)
        goto out;

    /* swap in, computing the differences: the old map's objects stay alive until delivered */
    struct strmap old;
    pthread_rwlock_wrlock(&inf->lock);
    old = inf->cache;
    inf->cache = fresh;
    strmap_init(&fresh);
    for (size_t k = 0; k < inf->nindexes; k++) {
        index_clear(&inf->indexes[k]);
        strmap_init(&inf->indexes[k].keys);
    }
    struct strmap_iter it;
    struct strmap_entry *e;
    strmap_iter_init(&it, &inf->cache);
    while ((e = strmap_iter_next(&it))) {
        /* an unchanged object keeps its old identity, so borrowed pointers stay meaningful */
        json_t *was = strmap_get(&old, e->key);
        if (was && same_rv(was, e->value)) {
            json_decref(e->value);
            e->value = json_incref(was);
        }
        for (size_t k = 0; k < inf->nindexes && rc == FS_OK; k++)
            rc = index_add(&inf->indexes[k], e->key, e->value);
    }
    snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    pthread_rwlock_unlock(&inf->lock);

    /* deliver: adds and updates (this thread is the only writer, so reading the cache
     * without the lock is safe here), then deletions */
    strmap_iter_init(&it, &inf->cache);
    while ((e = strmap_iter_next(&it))) {
        json_t *was = strmap_get(&old, e->key);
        if (!was)
            call_add(inf, e->value);
        else if (was != e->value)
            call_update(inf, was, e->value);
    }
    strmap_iter_init(&it, &old);
    while ((e = strmap_iter_next(&it))) {
        if (!strmap_get(&inf->cache, e->key))
            call_delete(inf, e->value);
    }
    cache_clear(&old);
    if (rc != FS_OK)
        log_err("cannot index %s: %s", inf->resource, fs_strerror(rc));
out:
    free(cont);
    cache_clear(&fresh);
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
    if (ev->type == KUBE_EVENT_DELETED) {
        pthread_rwlock_wrlock(&inf->lock);
        json_t *old = cache_del_locked(inf, key);
        snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
        pthread_rwlock_unlock(&inf->lock);
        call_delete(inf, old ? old : ev->object);
        json_decref(old);
        return 0;
    }
    json_t *obj = ev->object;
    ev->object = NULL; /* the cache takes it */
    if (inf->transform && !(obj = inf->transform(obj))) {
        inf->need_relist = 1;
        return 1;
    }
    json_t *old = NULL;
    int stored = 0;
    pthread_rwlock_wrlock(&inf->lock);
    enum fs_err rc = cache_put_locked(inf, key, obj, &old, &stored);
    if (rc == FS_OK)
        snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    pthread_rwlock_unlock(&inf->lock);
    if (rc != FS_OK) {
        /* out of memory: stop this watch; the loop relists and rebuilds the indexes */
        if (!stored)
            json_decref(obj);
        json_decref(old);
        inf->need_relist = 1;
        return 1;
    }
    if (old)
        call_update(inf, old, obj);
    else
        call_add(inf, obj);
    json_decref(old);
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

static void *run(void *arg)
{
    struct kube_informer *inf = arg;
    unsigned failures = 0;
    int64_t next_resync = inf->resync_s > 0 ? kube_mono_ms() + inf->resync_s * 1000L : INT64_MAX;
    while (!inf->stop) {
        if (relist(inf) != FS_OK) {
            long d = kube_jitter_ms(kube_backoff_delay_ms(800, 30000, failures++), 0.2);
            kube_sleep_ms(d, &inf->stop);
            continue;
        }
        failures = 0;
        if (!inf->synced)
            set_synced(inf);
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
    json_t *o = json_incref(strmap_get(&inf->cache, key));
    pthread_rwlock_unlock(&inf->lock);
    return o;
}

static json_t *collect(struct strmap *m)
{
    json_t *arr = json_array();
    struct strmap_iter it;
    struct strmap_entry *e;
    if (!arr)
        return NULL;
    strmap_iter_init(&it, m);
    while ((e = strmap_iter_next(&it))) {
        if (json_array_append(arr, e->value) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *kube_informer_list(struct kube_informer *inf)
{
    pthread_rwlock_rdlock(&inf->lock);
    json_t *arr = collect(&inf->cache);
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
            arr = collect(set);
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
