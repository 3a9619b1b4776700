/* Kubernetes Events (events.k8s.io/v1) about objects, with de-duplication: a repeat of the
 * same (object, type, reason, action, note) within the series window updates the existing
 * Event's series (count, lastObservedTime) instead of creating another one. The table of
 * series is bounded: least recently used entries go first when it is full, and entries
 * older than the window are dropped (as client-go's EventCorrelator, an LRU of 4096).
 * Threading: kube_event_record() only queues (bounded; drops and counts when full) and never
 * blocks on the network; a recorder thread writes to the API server.
 * Owner: issue 3 (lib/kube). Users: controller, extender. */
#ifndef KUBE_EVENTS_H
#define KUBE_EVENTS_H

#include <jansson.h>

#include "common/fs_err.h"
#include "kube/client.h"

struct kube_recorder;

struct kube_recorder_opts {
    const char *controller;     /* reportingController, e.g. "foresight.sh/controller"; copied */
    const char *instance;       /* reportingInstance, e.g. the pod name; copied */
    int series_window_s;        /* repeats within this window update one Event; 0 = 600 */
    size_t queue_max;           /* pending events kept; 0 = 1000 */
    size_t series_max;          /* series remembered for de-duplication; 0 = 4096 */
};

enum fs_err kube_recorder_new(struct kube_recorder **out, struct kube_client *c,
                              const struct kube_recorder_opts *opts);
/* Sends what is queued (up to about 5 s), stops the thread, frees. */
void kube_recorder_free(struct kube_recorder *r);

/* Records an event about `regarding` (borrowed; its apiVersion, kind, metadata.namespace,
 * name, uid, resourceVersion are copied). type "Normal" or "Warning"; reason CamelCase;
 * action CamelCase; note printf-formatted (truncated to 1 KiB). */
enum fs_err kube_event_record(struct kube_recorder *r, const json_t *regarding,
                              const char *type, const char *reason, const char *action,
                              const char *note_fmt, ...) __attribute__((format(printf, 6, 7)));

/* Waits until everything queued has been sent or timeout_ms passes (for tests/shutdown). */
enum fs_err kube_recorder_flush(struct kube_recorder *r, long timeout_ms);

struct kube_recorder_stats {
    unsigned long created, series_updates, dropped, failed;
    unsigned long series_cached;   /* series remembered now (<= series_max) */
    unsigned long series_evicted;  /* forgotten because the table was full */
};
void kube_recorder_stats(struct kube_recorder *r, struct kube_recorder_stats *out);

#endif
