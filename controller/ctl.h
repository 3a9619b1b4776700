/* foresight-controller's shared state and the calls its pieces make across files: main.c
 * (flags, informers, queue, threads), reconcile.c (one namespace's pass), status.c (conditions
 * and status patches), create.c (creating objects, namespaces being deleted), taskprofile.c
 * (what TaskProfiles learn), sampler.c (usage, anomalies, throttling) and metrics.c. Internal:
 * nothing outside controller/ includes it. */
#ifndef FS_CONTROLLER_CTL_H
#define FS_CONTROLLER_CTL_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/lease.h"
#include "kube/workqueue.h"
#include "ledger/cluster.h"
#include "ledger/curve.h"
#include "ledger/lmap.h"

#include "config.h"
#include "httpd.h"
#include "microtask.h"
#include "netrate.h"
#include "usage.h"

/* What the controller knows of one running leaf between samples. */
struct track {
    char key[160];            /* "ns/name" */
    struct curve baseline;    /* the prediction it was admitted with */
    struct usage_obs obs;
    struct usage_anomaly an;
    struct usage_error err;
    int64_t now[CURVE_NRES];  /* latest sample */
};

struct counters {
    unsigned long reconciles_ok, reconciles_err, admitted, queued, pods_created, children_created, samples,
        sample_errors, anomalies[CURVE_NRES], profile_updates, throttles, done_tasks, net_samples;
    double done_mape_sum;
    unsigned long done_mape_n;
};

struct ctl {
    struct ctl_opts o;
    struct netrate *net;      /* NULL unless --prometheus-url */
    struct kube_client *client;
    struct kube_informer *mts, *pods, *nodes, *tps;
    struct kube_workqueue *queue;
    struct kube_lease *lease;
    struct kube_recorder *events;
    struct cluster cl;
    int cl_ready;
    struct httpd *http;
    volatile int synced, leader;
    volatile sig_atomic_t capacity_changed;
    pthread_mutex_t mu;       /* guards tracks, queued_ns and counters (the /metrics thread reads them) */
    struct lmap tracks;       /* "ns/name" -> struct track */
    struct lmap queued_ns;    /* namespaces with Queued leaves -> (void *)1 */
    pthread_mutex_t admit_mu; /* one admission decision at a time, across namespaces (before the cluster lock) */
    struct lmap board;        /* "ns/name" -> struct board_entry: leaves left Queued, all namespaces */
    struct lmap terminating;  /* namespaces being deleted -> (void *)(uintptr_t)unix time seen (under mu) */
    struct counters n;
};

/* Set by SIGTERM/SIGINT: loops stop taking work and the process drains. */
extern volatile sig_atomic_t ctl_stopping;

static const struct kube_ref MT_REF = {"foresight.sh", "v1alpha1", "microtasks", NULL, NULL, NULL};
static const struct kube_ref TP_REF = {"foresight.sh", "v1alpha1", "taskprofiles", NULL, NULL, NULL};

/* Borrowed: o's string member k, NULL when absent or not a string. */
static inline const char *ctl_jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}
/* Borrowed: o's metadata.k. */
static inline const char *ctl_meta(const json_t *o, const char *k)
{
    return ctl_jstr(json_object_get(o, "metadata"), k);
}
/* Adds to one of c->n's counters (under c->mu: /metrics reads them). */
static inline void ctl_count(struct ctl *c, unsigned long *field, unsigned long by)
{
    pthread_mutex_lock(&c->mu);
    *field += by;
    pthread_mutex_unlock(&c->mu);
}

/* ---- status.c: conditions and status patches ---- */

/* A condition (new reference) keeping the old status's lastTransitionTime when a condition of
 * that type had this status already. */
json_t *status_condition(const json_t *old_status, const char *type, const char *status, const char *reason,
                         const char *message, int64_t generation);
/* Borrowed: the condition of a type in a conditions array, NULL when there is none. */
const json_t *status_find_condition(const json_t *conds, const char *type);
/* 1 when status has a condition of that type with status "True". */
int status_condition_true(const json_t *status, const char *type);
/* Appends to conds the old status's condition of each type conds does not have yet. */
void status_carry_conditions(json_t *conds, const json_t *old_status);
/* Replaces (or adds) one condition in a copy of the old list; steals cond. New reference. */
json_t *status_set_condition(const json_t *old_status, json_t *cond);
/* PATCHes status with the keys of `want` that differ from the cached status; steals want. */
enum fs_err status_patch(struct ctl *c, const json_t *obj, const char *ns, const char *name, int64_t generation,
                         json_t *want);
/* Sets status.prediction and status.predictionSummary from a curve. */
void status_set_prediction(json_t *status, const struct curve *cv);
/* A leaf's phase from its pod. */
enum mt_phase status_pod_phase(const json_t *pod);

/* ---- create.c: creating objects, namespaces being deleted ---- */

/* 1 while ns was seen being deleted in the last TERMINATING_RECHECK_S seconds. */
int create_ns_terminating(struct ctl *c, const char *ns);
/* 1 when a create failed because its namespace is being deleted or is gone (the namespace
 * is then left alone for a while); `what` names the object in the log. */
int create_namespace_gone(struct ctl *c, const char *ns, const char *what, const struct kube_status *st);
/* Creates obj. FS_EGONE when its namespace is being deleted or gone: the caller gives up on
 * it rather than retrying. */
enum fs_err create_object(struct ctl *c, const struct kube_ref *ref, const json_t *obj, const char *what);

/* ---- taskprofile.c: learning into TaskProfiles ---- */

/* Folds a completed leaf's run into its TaskProfile (created on first use). FS_EDATA when
 * there is nothing to learn (no usage was observed); msg says what happened. */
enum fs_err taskprofile_learn_run(struct ctl *c, const json_t *obj, const struct microtask *mt, const json_t *pod,
                                  char *msg, size_t msglen);
/* Counts the namespace's root MicroTasks of each type into its TaskProfile's arrival series. */
enum fs_err taskprofile_fold_arrivals(struct ctl *c, const char *ns, const struct microtask *mts, size_t n);

/* ---- sampler.c: usage sampling, anomalies, throttling ---- */

/* One sampling pass over the running leaves' pods (the main thread, every --sample-interval). */
void sampler_run(struct ctl *c);
/* Forgets the track of a leaf that finished. */
void sampler_track_drop(struct ctl *c, const char *ns, const char *name);
/* Frees every track (at shutdown; c->tracks itself is released by its owner). */
void sampler_free_tracks(struct ctl *c);

/* ---- metrics.c: /healthz, /readyz, /metrics ---- */

/* httpd's callback (httpd.h): the answer to a GET of path, from memory. */
void metrics_http_handler(void *arg, const char *path, int *status, const char **ctype, char **body);

/* ---- reconcile.c: one namespace's pass ---- */

/* Reconciles every MicroTask of ns; an error is retried with the namespace, with backoff. */
enum fs_err reconcile_namespace(struct ctl *c, const char *ns);
/* Frees every entry of the admission board (at shutdown; c->board itself is its owner's). */
void reconcile_free_board(struct ctl *c);
#endif
