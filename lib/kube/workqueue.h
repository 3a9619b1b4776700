/* A work queue of string keys ("ns/name") in the manner of client-go's rate-limited queue:
 * a key is queued at most once; a key being processed that is added again is queued once
 * more when done() is called; add_rate_limited() delays a key by base * 2^failures (capped),
 * forget() resets its failures. Thread-safe: any number of producers and workers.
 * Owner: issue 3 (lib/kube). Users: controller. */
#ifndef KUBE_WORKQUEUE_H
#define KUBE_WORKQUEUE_H

#include <stddef.h>

#include "common/fs_err.h"

struct kube_workqueue;

struct kube_workqueue_opts {
    long base_delay_ms;   /* first rate-limited delay; 0 = 5 */
    long max_delay_ms;    /* cap; 0 = 1000000 (about 16 min, as client-go) */
};

/* The per-key exponential backoff: base * 2^failures, capped at max (pure). */
long kube_backoff_delay_ms(long base_ms, long max_ms, unsigned failures);

enum fs_err kube_workqueue_new(struct kube_workqueue **out, const struct kube_workqueue_opts *o);
/* Frees the queue; shut it down and join the workers first. */
void kube_workqueue_free(struct kube_workqueue *q);

/* key is copied. No-op once shut down. */
enum fs_err kube_workqueue_add(struct kube_workqueue *q, const char *key);
enum fs_err kube_workqueue_add_after(struct kube_workqueue *q, const char *key, long delay_ms);
/* Adds after the key's backoff and counts one more failure. */
enum fs_err kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key);
void kube_workqueue_forget(struct kube_workqueue *q, const char *key);
unsigned kube_workqueue_num_requeues(struct kube_workqueue *q, const char *key);

/* Blocks for the next key, up to timeout_ms (<0 = forever). *key is a new string the caller
 * frees after calling done(). FS_ETIMEOUT when none came; FS_EINVAL once shut down and empty
 * (workers then exit). */
enum fs_err kube_workqueue_get(struct kube_workqueue *q, char **key, long timeout_ms);
/* Marks key processed; if it was added meanwhile it goes back in the queue. */
void kube_workqueue_done(struct kube_workqueue *q, const char *key);

/* Stops accepting keys and wakes every waiting get(); queued keys are still handed out. */
void kube_workqueue_shutdown(struct kube_workqueue *q);
/* Keys ready now (not the delayed ones, not those in processing). */
size_t kube_workqueue_len(struct kube_workqueue *q);

#endif
