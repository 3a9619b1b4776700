/* Informers: list then watch one resource into an in-memory cache keyed by namespace/name,
 * with custom indexes (pods by spec.nodeName), add/update/delete handlers, has_synced and
 * periodic resync. Watches resume from the last resourceVersion (bookmarks on), relist on
 * 410 and reconnect with backoff; on a relist the cache is replaced and the differences are
 * delivered as events, so handlers never miss a deletion.
 *
 * Memory: by default each cached object is kept as its JSON text, as the server sent it
 * (about 0.9 KiB for a ConfigMap instead of about 9 KiB as a jansson tree; with a transform
 * it is written out again after the transform), and reads parse it: get() costs a parse of
 * one object (a few microseconds), list() of all of them. An update event parses the
 * previous state only when an on_update handler or an index needs it. keep_trees = 1 keeps
 * parsed trees instead (reads are then a reference count increment).
 *
 * Threading: each informer runs its own thread, started by kube_informer_start(). Handlers
 * are called on that thread, one at a time, after the cache has been updated, and must not
 * block for long; the objects they get are borrowed for the call (json_incref to keep one)
 * and must not be modified. Readers on other threads use the get/list/index calls, which
 * take a read lock and return new references the caller owns (with keep_trees the tree is
 * shared with the cache: do not modify it; json_deep_copy() to change it).
 * Owner: issue 3 (lib/kube). Users: controller, extender. */
#ifndef KUBE_INFORMER_H
#define KUBE_INFORMER_H

#include <jansson.h>
#include <stddef.h>

#include "common/fs_err.h"
#include "kube/client.h"

struct kube_informer;

/* Handlers; objects are borrowed for the call (json_incref to keep one). For a delete seen
 * only at a relist, obj is the last cached state. Any of the three may be NULL. A resync
 * calls on_update(obj, obj) for every cached object. */
struct kube_informer_handlers {
    void (*on_add)(void *arg, const json_t *obj);
    void (*on_update)(void *arg, const json_t *old_obj, const json_t *new_obj);
    void (*on_delete)(void *arg, const json_t *obj);
    void *arg;
};

/* An index function writes up to max index keys of obj into keys (the strings borrowed from
 * obj or static) and returns how many; 0 = not indexed. */
typedef size_t (*kube_index_fn)(const json_t *obj, const char **keys, size_t max);

/* Optional transform applied to each object before it is cached (to save memory, e.g. drop
 * metadata.managedFields): takes ownership of obj and returns the object to store (may be
 * obj itself, modified in place) or NULL on allocation failure. */
typedef json_t *(*kube_transform_fn)(json_t *obj);

struct kube_informer_opts {
    struct kube_ref ref;            /* collection: group/version/resource[/namespace]; copied */
    const char *label_selector;     /* copied */
    const char *field_selector;     /* copied */
    int resync_s;                   /* 0 = no periodic resync */
    long page_limit;                /* list page size; 0 = 500 */
    int watch_timeout_s;            /* server-side watch rotation; 0 = 300..600 randomised */
    kube_transform_fn transform;    /* may be NULL */
    int keep_trees;                 /* cache parsed trees (fast reads, ~9x the memory) */
    int streaming_list;             /* list with a sendInitialEvents watch (falls back to
                                     * paged lists when refused); default: a list served from
                                     * the watch cache (resourceVersion=0), parsed item by item */
};

enum fs_err kube_informer_new(struct kube_informer **out, struct kube_client *c,
                              const struct kube_informer_opts *opts);
/* Stops (if running) and frees; cached objects are released. */
void kube_informer_free(struct kube_informer *inf);

/* Before start only. name is copied. */
enum fs_err kube_informer_add_index(struct kube_informer *inf, const char *name, kube_index_fn fn);
enum fs_err kube_informer_add_handlers(struct kube_informer *inf,
                                       const struct kube_informer_handlers *h);

enum fs_err kube_informer_start(struct kube_informer *inf);
/* Asks the thread to stop and joins it (returns within about a second). */
void kube_informer_stop(struct kube_informer *inf);

/* 1 once the first full list is in the cache and its events delivered. */
int kube_informer_has_synced(struct kube_informer *inf);
/* Waits until synced; FS_ETIMEOUT after timeout_ms (<0 = forever). */
enum fs_err kube_informer_wait_synced(struct kube_informer *inf, long timeout_ms);

/* New reference to the cached object, or NULL. ns "" or NULL for cluster-scoped. */
json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name);
/* A new JSON array holding references to every cached object (NULL on ENOMEM). */
json_t *kube_informer_list(struct kube_informer *inf);
/* A new array of the objects whose index `index` has key `key` (empty array if none, NULL
 * on ENOMEM or unknown index). */
json_t *kube_informer_by_index(struct kube_informer *inf, const char *index, const char *key);
size_t kube_informer_len(struct kube_informer *inf);
/* The resourceVersion the cache reflects (copied into buf). */
void kube_informer_resource_version(struct kube_informer *inf, char *buf, size_t len);

/* Counters for tests and metrics. */
struct kube_informer_stats {
    unsigned long lists;        /* full lists done (1 + relists) */
    unsigned long watches;      /* watch requests started */
    unsigned long events;       /* watch events applied (not bookmarks) */
    unsigned long gone;         /* 410s seen */
};
void kube_informer_stats(struct kube_informer *inf, struct kube_informer_stats *out);

/* Ready-made index functions. */
size_t kube_index_pod_node(const json_t *obj, const char **keys, size_t max);   /* spec.nodeName */
size_t kube_index_namespace(const json_t *obj, const char **keys, size_t max);  /* metadata.namespace */
/* Drops metadata.managedFields (a kube_transform_fn). */
json_t *kube_transform_strip_managed_fields(json_t *obj);

/* "ns/name" or "name" for obj into buf; FS_EINVAL if obj has no metadata.name. */
enum fs_err kube_object_key(const json_t *obj, char *buf, size_t len);

#endif
