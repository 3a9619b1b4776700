/* foresight-controller: reconciles MicroTasks. Informers on MicroTasks, Pods, Nodes and
 * TaskProfiles feed a rate-limited work queue keyed by namespace and the reservation ledger
 * (lib/ledger/cluster, the same fold of the cluster the extender makes); only the Lease
 * holder acts. A namespace reconcile evaluates the dependency graph, splits ready tasks into
 * child MicroTasks, predicts each ready leaf (TaskProfile once learnt, else its spec) and
 * admits leaves in priority order: a leaf's Pod is created only when its p90 curve fits on
 * some node over its predicted window, else it stays Queued with the reason and the
 * earliest start. While pods run, usage from metrics.k8s.io (and network from Prometheus
 * when --prometheus-url is given) replaces the predicted part of their curve, gives the error so far and flags anomalies; on completion the run is folded
 * into its TaskProfile. Everything created has a deterministic name, so a restart never
 * creates anything twice. /healthz, /readyz and /metrics are served on --http-address. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "common/log.h"
#include "forecast/profile.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/lease.h"
#include "kube/quantity.h"
#include "kube/workqueue.h"
#include "ledger/cluster.h"
#include "ledger/curve.h"
#include "ledger/lmap.h"

#include "admit.h"
#include "build.h"
#include "config.h"
#include "dag.h"
#include "decompose.h"
#include "duration.h"
#include "httpd.h"
#include "learn.h"
#include "microtask.h"
#include "netrate.h"
#include "predict.h"
#include "priority.h"
#include "throttle.h"
#include "usage.h"

#include "ctl.h"

volatile sig_atomic_t ctl_stopping;

static void on_signal(int sig)
{
    (void)sig;
    ctl_stopping = 1;
}

/* ---- informer handlers (informer threads) ---------------------------------------------- */

static void enqueue_ns(struct ctl *c, const json_t *obj)
{
    const char *ns = ctl_meta(obj, "namespace");
    if (ns)
        kube_workqueue_add(c->queue, ns);
}

static void mt_add(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_microtask_upsert(&c->cl, obj, time(NULL));
    enqueue_ns(c, obj);
}
static void mt_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    mt_add(arg, new_obj);
}
static void mt_delete(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_microtask_delete(&c->cl, obj, time(NULL));
    enqueue_ns(c, obj);
}

static int pod_done(const json_t *pod)
{
    const char *ph = ctl_jstr(json_object_get(pod, "status"), "phase");
    return ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
}

static void pod_event(struct ctl *c, const json_t *pod, int deleted)
{
    const char *mt = ctl_jstr(json_object_get(json_object_get(pod, "metadata"), "labels"), FS_LABEL_MICROTASK);
    const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");
    const char *ns = ctl_meta(pod, "namespace");
    if (deleted)
        cluster_pod_delete(&c->cl, pod);
    else
        cluster_pod_upsert(&c->cl, pod, time(NULL));
    if (mt && ns && (deleted || (node && node[0]) || pod_done(pod))) {
        /* the pod's own claim (bound) or none (done, gone) replaces the admission's */
        cluster_lock(&c->cl);
        admit_unclaim(c->cl.ledger, ns, mt);
        cluster_unlock(&c->cl);
    }
    if (deleted || pod_done(pod))
        c->capacity_changed = 1;
    if (mt)
        enqueue_ns(c, pod);
}
static void pod_add(void *arg, const json_t *obj)
{
    pod_event(arg, obj, 0);
}
static void pod_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    pod_event(arg, new_obj, 0);
}
static void pod_delete(void *arg, const json_t *obj)
{
    pod_event(arg, obj, 1);
}

static void node_add(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_node_upsert(&c->cl, obj);
    c->capacity_changed = 1;
}
static void node_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    node_add(arg, new_obj);
}
static void node_delete(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_node_delete(&c->cl, obj);
    c->capacity_changed = 1;
}

static void tp_event(void *arg, const json_t *obj)
{
    (void)arg;
    (void)obj; /* read on demand from the cache; nothing waits on a TaskProfile */
}
static void tp_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    tp_event(arg, new_obj);
}

static void track_free(struct track *t)
{
    if (!t)
        return;
    curve_release(&t->baseline);
    usage_obs_release(&t->obs);
    free(t);
}

static void track_drop(struct ctl *c, const char *ns, const char *name)
{
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    pthread_mutex_lock(&c->mu);
    struct track *t = lmap_del(&c->tracks, key);
    pthread_mutex_unlock(&c->mu);
    track_free(t);
}

/* A leaf left Queued by its namespace's last pass: its place in the one admission order. */
struct board_entry {
    char ns[64], name[254];
    struct priority_key key; /* key.name points at name */
    struct curve cv;
};

static void board_entry_free(struct board_entry *e)
{
    if (!e)
        return;
    curve_release(&e->cv);
    free(e);
}

/* ---- parallel writes ------------------------------------------------------------------ */

#define WRITERS 8 /* API writes of one reconcile in flight at once (the client is thread-safe) */

struct par {
    struct ctl *c;
    char *items;
    size_t n, size, next;
    void (*fn)(struct ctl *, void *);
    pthread_mutex_t mu;
};

static void *par_worker(void *arg)
{
    struct par *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n)
            return NULL;
        p->fn(p->c, p->items + i * p->size);
    }
}

/* Calls fn on each of n items of `size` bytes from up to WRITERS threads (the caller's too). */
static void parallel(struct ctl *c, void *items, size_t n, size_t size, void (*fn)(struct ctl *, void *))
{
    struct par p = {c, items, n, size, 0, fn, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[WRITERS];
    size_t started = 0;
    for (size_t k = 1; k < WRITERS && k < n; k++)
        if (pthread_create(&th[started], NULL, par_worker, &p) == 0)
            started++;
    par_worker(&p);
    for (size_t k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    pthread_mutex_destroy(&p.mu);
}

struct pwrite {
    const json_t *obj;
    const struct microtask *mt;
    json_t *status;     /* stolen by the write */
    enum fs_err rc;
};

/* ---- prediction ----------------------------------------------------------------------- */

/* The curve of a leaf starting at start_s: its TaskProfile once it has learnt from enough
 * runs, else the frozen estimate of a parent, else spec.resources. */
static enum fs_err predict_leaf(struct ctl *c, const struct microtask *mt, int64_t start_s, struct curve *cv,
                                const char **reason, char *msg, size_t msglen)
{
    char err[200] = "";
    json_t *tp = kube_informer_get(c->tps, mt->ns, mt->task_type);
    if (tp) {
        struct profile p;
        long runs = 0;
        int half = (int)json_integer_value(json_object_get(json_object_get(tp, "spec"), "halfLife"));
        int max_steps = (int)json_integer_value(json_object_get(json_object_get(tp, "spec"), "maxSteps"));
        enum fs_err rc = learn_load(json_object_get(tp, "status"), half, max_steps > 0 ? (uint32_t)max_steps : 720, &p,
                                    &runs, err, sizeof(err));
        if (rc == FS_OK && runs >= c->o.learn_min_runs) {
            double size = mt->has_work ? (double)mt->work_units : 1;
            rc = learn_predict(&p, size, start_s, c->o.step_s, cv, err, sizeof(err));
            if (rc == FS_OK) {
                *reason = "FromProfile";
                snprintf(msg, msglen, "predicted from TaskProfile %s (%ld runs learnt)", mt->task_type, runs);
            }
        } else if (rc == FS_EPARSE) {
            log_warn("cannot read TaskProfile %s/%s: %s", mt->ns, mt->task_type, err);
        }
        if (rc != FS_OK && rc != FS_EDATA)
            log_warn("cannot predict %s/%s from TaskProfile %s (%ld runs): %s", mt->ns, mt->name, mt->task_type, runs, err);
        else
            log_debug("TaskProfile %s/%s: %ld runs learnt, %ld needed", mt->ns, mt->task_type, runs, c->o.learn_min_runs);
        profile_release(&p);
        json_decref(tp);
        if (rc == FS_OK && runs >= c->o.learn_min_runs)
            return FS_OK;
    }
    enum fs_err rc;
    if (mt->has_split && mt->split.has_estimate) {
        rc = predict_from_estimate(&mt->split.estimate, mt->work_units, mt->res_net_bps, start_s, c->o.step_s, cv,
                                   err, sizeof(err));
        *reason = "FromEstimate";
        snprintf(msg, msglen, "predicted from the parent's estimate at %lld units", (long long)mt->work_units);
    } else {
        rc = predict_from_resources(mt, start_s, c->o.step_s, c->o.default_s, cv, err, sizeof(err));
        *reason = "FromResources";
        snprintf(msg, msglen, "predicted from spec.resources");
    }
    if (rc != FS_OK) {
        *reason = "NoPrediction";
        snprintf(msg, msglen, "%s", err);
    }
    return rc;
}

/* ---- learning ------------------------------------------------------------------------- */

static int64_t pod_time(const json_t *pod, int finished)
{
    const json_t *st = json_object_get(pod, "status");
    int64_t t = 0;
    const char *s = NULL;
    if (finished) {
        const json_t *cs = json_array_get(json_object_get(st, "containerStatuses"), 0);
        s = ctl_jstr(json_object_get(json_object_get(cs, "state"), "terminated"), "finishedAt");
    } else {
        s = ctl_jstr(st, "startTime");
    }
    if (s && rfc3339_parse(s, &t) == FS_OK)
        return t;
    return 0;
}

/* The TaskProfile of a type, read from the API server (the newest version, for a write
 * against it), created empty on first use. New reference in *out. */
static enum fs_err taskprofile_get(struct ctl *c, const char *ns, const char *type, json_t **out, char *msg,
                                   size_t msglen)
{
    struct kube_ref ref = TP_REF;
    struct kube_status ks;
    char buf[600];
    ref.namespace = ns;
    ref.name = type;
    *out = NULL;
    enum fs_err rc = kube_get(c->client, &ref, out, &ks);
    if (rc == FS_ENOTFOUND) {
        json_t *obj_tp = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", FS_API_VERSION, "kind",
                                   "TaskProfile", "metadata", "name", type, "namespace", ns, "labels",
                                   "app.kubernetes.io/managed-by", "foresight", "spec", "taskType", type);
        struct kube_ref cref = TP_REF;
        cref.namespace = ns;
        rc = obj_tp ? kube_create(c->client, &cref, obj_tp, NULL, out, &ks) : FS_ENOMEM;
        json_decref(obj_tp);
        if (rc == FS_ECONFLICT)
            rc = kube_get(c->client, &ref, out, &ks);
        else if (rc != FS_OK && rc != FS_ENOMEM && create_namespace_gone(c, ns, "TaskProfile", &ks)) {
            snprintf(msg, msglen, "cannot create TaskProfile %s: its namespace is being deleted", type);
            return FS_EGONE;
        }
    }
    if (rc != FS_OK)
        snprintf(msg, msglen, "cannot read TaskProfile %s: %s", type, kube_status_str(&ks, buf, sizeof(buf)));
    return rc;
}

/* Folds a completed leaf's run into its TaskProfile (created on first use). FS_EDATA when
 * there is nothing to learn (no usage was observed). */
static enum fs_err learn_from(struct ctl *c, const json_t *obj, const struct microtask *mt, const json_t *pod,
                              char *msg, size_t msglen)
{
    const json_t *old = json_object_get(obj, "status");
    struct usage_obs obs;
    struct curve cur, base;
    enum fs_err rc;
    json_t *tp = NULL, *st = NULL, *patch = NULL;
    char key[160], err[200] = "";
    curve_init(&cur);
    curve_init(&base);
    usage_obs_init(&obs, 0, c->o.step_s);
    snprintf(key, sizeof(key), "%s/%s", mt->ns, mt->name);

    /* the observations: the tracker's (newest) else the spliced prediction in status */
    pthread_mutex_lock(&c->mu);
    struct track *t = lmap_get(&c->tracks, key);
    int have = 0;
    if (t && t->obs.n) {
        usage_obs_release(&obs);
        have = usage_obs_copy(&obs, &t->obs) == FS_OK;
        curve_copy(&base, &t->baseline);
    }
    pthread_mutex_unlock(&c->mu);
    if (!have || obs.n == 0) {
        const json_t *u = json_object_get(old, "usage");
        long n_obs = (long)json_integer_value(json_object_get(u, "observedSteps"));
        if (n_obs > 0 && curve_from_json(&cur, json_object_get(old, "prediction"), NULL, 0) == FS_OK &&
            usage_obs_load(&obs, &cur, (uint32_t)n_obs) == FS_OK)
            have = 1;
        if (curve_from_json(&base, json_object_get(u, "baseline"), NULL, 0) != FS_OK)
            curve_copy(&base, &cur);
    }
    if (!have || obs.n == 0) {
        snprintf(msg, msglen, "no usage was observed while it ran");
        rc = FS_EDATA;
        goto out;
    }
    struct usage_error e;
    usage_error(&obs, &base, &e);
    int64_t t0 = pod_time(pod, 0), t1 = pod_time(pod, 1);
    double dur = t0 && t1 > t0 ? (double)(t1 - t0) : (double)obs.n * obs.step_s;
    struct learn_run run = {mt->uid, mt->has_work ? (double)mt->work_units : 1, dur, obs.step_s, obs.n,
                            {obs.v[CURVE_CPU], obs.v[CURVE_MEM],
                             c->net && obs.seen[CURVE_NET] ? obs.v[CURVE_NET] : NULL},
                            e.has_mape_all,
                            e.has_mape_all ? e.mape_all : 0, e.has_mase_all ? e.mase_all : -1};
    struct kube_ref ref = TP_REF;
    struct kube_status ks;
    char buf[600];
    ref.namespace = mt->ns;
    ref.name = mt->task_type;
    rc = taskprofile_get(c, mt->ns, mt->task_type, &tp, msg, msglen);
    if (rc != FS_OK)
        goto out;
    const json_t *spec = json_object_get(tp, "spec");
    int half = (int)json_integer_value(json_object_get(spec, "halfLife"));
    long max_steps = (long)json_integer_value(json_object_get(spec, "maxSteps"));
    double pstep = 0;
    if (ctl_jstr(spec, "step"))
        duration_parse(ctl_jstr(spec, "step"), &pstep);
    rc = learn_fold(json_object_get(tp, "status"), &run, time(NULL), half > 0 ? half : 20,
                    pstep >= 1 ? (uint32_t)pstep : c->o.step_s, max_steps > 0 ? (uint32_t)max_steps : 720, &st, err,
                    sizeof(err));
    if (rc != FS_OK) {
        snprintf(msg, msglen, "cannot learn from this run: %s", err);
        goto out;
    }
    long runs = st ? (long)json_integer_value(json_object_get(st, "runs"))
                   : (long)json_integer_value(json_object_get(json_object_get(tp, "status"), "runs"));
    if (st) {
        json_object_set_new(st, "observedGeneration", json_integer(json_integer_value(json_object_get(json_object_get(tp, "metadata"), "generation"))));
        patch = json_pack("{s:{s:O}, s:O}", "metadata", "resourceVersion", json_object_get(json_object_get(tp, "metadata"), "resourceVersion"), "status", st);
        ref.subresource = "status";
        /* resourceVersion in the patch: a concurrent writer makes this a conflict, retried */
        rc = patch ? kube_patch(c->client, &ref, KUBE_PATCH_MERGE, patch, NULL, NULL, &ks) : FS_ENOMEM;
        if (rc != FS_OK) {
            snprintf(msg, msglen, "cannot write TaskProfile %s: %s", mt->task_type, kube_status_str(&ks, buf, sizeof(buf)));
            goto out;
        }
        ctl_count(c, &c->n.profile_updates, 1);
    }
    pthread_mutex_lock(&c->mu);
    c->n.done_tasks++;
    if (e.has_mape_all) {
        c->n.done_mape_sum += e.mape_all;
        c->n.done_mape_n++;
    }
    pthread_mutex_unlock(&c->mu);
    snprintf(msg, msglen, "run of %.0fs folded into TaskProfile %s (%ld runs learnt)%s", dur, mt->task_type, runs,
             st ? "" : ", already there");
    rc = FS_OK;
out:
    json_decref(patch);
    json_decref(st);
    json_decref(tp);
    curve_release(&cur);
    curve_release(&base);
    usage_obs_release(&obs);
    return rc;
}

/* ---- arrivals ------------------------------------------------------------------------ */

#define ARRIVAL_BUCKET_S 300 /* TaskProfile spec.arrivalBucket's default */

/* Counts the namespace's root MicroTasks (what users submit; split children are not new
 * work) of each type into its TaskProfile's arrival series. The cached TaskProfile says
 * whether anything is new, so a reconcile with nothing new makes no API call. */
static enum fs_err fold_arrivals(struct ctl *c, const char *ns, const struct microtask *mts, size_t n)
{
    enum fs_err ret = FS_OK;
    struct learn_arrival *a = calloc(n ? n : 1, sizeof(*a));
    char *done = calloc(n ? n : 1, 1);
    if (!a || !done) {
        ret = FS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && !ctl_stopping; i++) {
        if (done[i] || mts[i].has_shard || !mts[i].created_s)
            continue;
        const char *type = mts[i].task_type;
        size_t na = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && !mts[j].has_shard && mts[j].created_s && strcmp(mts[j].task_type, type) == 0) {
                done[j] = 1;
                a[na++] = (struct learn_arrival){mts[j].name, mts[j].created_s};
            }
        json_t *tp = kube_informer_get(c->tps, ns, type), *arrivals = NULL, *st = NULL;
        uint32_t bucket = ARRIVAL_BUCKET_S;
        double d = 0;
        const char *bs = ctl_jstr(json_object_get(tp, "spec"), "arrivalBucket");
        if (bs && duration_parse(bs, &d) == FS_OK && d >= 1 && d <= 86400)
            bucket = (uint32_t)d;
        size_t counted = 0;
        char err[300] = "";
        enum fs_err rc = learn_arrivals_fold(json_object_get(tp, "status"), a, na, bucket, LEARN_MAX_ARRIVAL_BUCKETS,
                                             &arrivals, &counted, err, sizeof(err));
        json_decref(tp);
        tp = NULL;
        if (rc == FS_OK && arrivals) { /* something new: fold against the newest version and write */
            json_decref(arrivals);
            arrivals = NULL;
            rc = taskprofile_get(c, ns, type, &tp, err, sizeof(err));
            if (rc == FS_OK)
                rc = learn_arrivals_fold(json_object_get(tp, "status"), a, na, bucket, LEARN_MAX_ARRIVAL_BUCKETS,
                                         &arrivals, &counted, err, sizeof(err));
            if (rc == FS_OK && arrivals) {
                struct kube_ref ref = TP_REF;
                struct kube_status ks;
                ref.namespace = ns;
                ref.name = type;
                ref.subresource = "status";
                st = json_pack("{s:{s:O}, s:{s:O}}", "metadata", "resourceVersion",
                               json_object_get(json_object_get(tp, "metadata"), "resourceVersion"), "status", "arrivals",
                               arrivals);
                rc = st ? kube_patch(c->client, &ref, KUBE_PATCH_MERGE, st, NULL, NULL, &ks) : FS_ENOMEM;
                if (rc != FS_OK && rc != FS_ECONFLICT) {
                    char buf[600];
                    snprintf(err, sizeof(err), "%s", kube_status_str(&ks, buf, sizeof(buf)));
                }
                if (rc == FS_OK) {
                    char cnt[24];
                    snprintf(cnt, sizeof(cnt), "%zu", counted);
                    const char *kv[] = {"namespace", ns, "taskType", type, "arrivals", cnt, NULL};
                    log_kv(LOG_DEBUG, "arrivals counted", kv);
                }
            }
        }
        if (rc != FS_OK && rc != FS_EGONE) { /* a namespace being deleted is not retried */
            if (rc != FS_ECONFLICT)
                log_warn("cannot count arrivals of %s/%s: %s", ns, type, err);
            ret = rc; /* retried with the namespace */
        }
        json_decref(st);
        json_decref(arrivals);
        json_decref(tp);
    }
out:
    free(a);
    free(done);
    return ret;
}

/* ---- reconcile ------------------------------------------------------------------------ */

/* A root's split is planned with its TaskProfile's regressions on work size once learnt
 * (duration, cpu and memory peaks per unit); the estimate is then frozen on the children, so
 * what is learnt later never re-plans a tree being built. Keeps e when nothing usable is learnt. */
static void estimate_from_profile(struct ctl *c, const struct microtask *mt, struct decompose_estimate *e,
                                  const struct decompose_limits *l)
{
    json_t *tp = kube_informer_get(c->tps, mt->ns, mt->task_type);
    if (!tp)
        return;
    struct profile p;
    long runs = 0;
    int half = (int)json_integer_value(json_object_get(json_object_get(tp, "spec"), "halfLife"));
    if (learn_load(json_object_get(tp, "status"), half, 1, &p, &runs, NULL, 0) == FS_OK && runs >= c->o.learn_min_runs) {
        struct decompose_estimate x = {
            fmax(0, p.duration.theta[0]), fmax(0, p.duration.theta[1]),
            fmax(0, p.peak[PROFILE_CPU].theta[0]), fmax(0, p.peak[PROFILE_CPU].theta[1]),
            fmax(0, p.peak[PROFILE_MEM].theta[0]), fmax(0, p.peak[PROFILE_MEM].theta[1])};
        if (decompose_check(&x, l, NULL, 0) == FS_OK && x.fixed_s + x.s_per_unit > 0)
            *e = x;
    }
    profile_release(&p);
    json_decref(tp);
}

static enum fs_err reconcile_split(struct ctl *c, const json_t *obj, const struct microtask *mt, json_t *status,
                                   json_t *conds, const struct microtask *parsed, size_t n)
{
    struct decompose_estimate e;
    struct decompose_limits l;
    struct decompose_child *kids = NULL;
    size_t nk = 0;
    enum decompose_verdict v = DECOMPOSE_LEAF_FITS;
    enum fs_err ret = FS_OK;
    char err[200] = "";
    build_estimate(mt, c->o.default_s, &e);
    microtask_split_limits(mt, &l);
    if (!mt->split.has_estimate)
        estimate_from_profile(c, mt, &e, &l);
    struct decompose_task t = {mt->name, mt->shard_path, mt->has_shard ? mt->shard_depth : 0,
                               mt->work_offset, mt->work_units};
    if (decompose_children(&t, &e, &l, &v, &kids, &nk, err, sizeof(err)) != FS_OK) {
        json_array_append_new(conds, status_condition(json_object_get(obj, "status"), "Decomposed", "False",
                                               "InvalidSplit", err, mt->generation));
        json_object_set_new(status, "phase", json_string("Failed"));
        return FS_OK;
    }
    struct kube_ref ref = MT_REF;
    ref.namespace = mt->ns;
    size_t phases[8] = {0};
    json_t *names = json_array();
    for (size_t i = 0; i < nk; i++) {
        json_array_append_new(names, json_string(kids[i].name));
        enum mt_phase ph = MT_PHASE_NONE;
        for (size_t j = 0; j < n; j++)
            if (strcmp(parsed[j].name, kids[i].name) == 0)
                ph = parsed[j].phase;
        json_t *cached = ph == MT_PHASE_NONE ? kube_informer_get(c->mts, mt->ns, kids[i].name) : NULL;
        int exists = ph != MT_PHASE_NONE || cached;
        json_decref(cached);
        if (!exists) {
            json_t *child = NULL;
            if (build_child(mt, obj, &kids[i], &e, &child) == FS_OK) {
                enum fs_err crc = create_object(c, &ref, child, kids[i].name);
                if (crc == FS_OK)
                    ctl_count(c, &c->n.children_created, 1);
                else if (crc != FS_EGONE) /* a namespace being deleted is not retried */
                    ret = FS_EIO;
            }
            json_decref(child);
        }
        phases[ph]++;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "split into %zu children (%s)", nk, decompose_verdict_reason(v));
    json_array_append_new(conds, status_condition(json_object_get(obj, "status"), "Decomposed", "True", "Split", msg,
                                           mt->generation));
    const char *phase = "Running";
    if (phases[MT_PHASE_SUCCEEDED] == nk)
        phase = "Succeeded";
    else if (phases[MT_PHASE_FAILED])
        phase = "Failed";
    else if (!phases[MT_PHASE_RUNNING] && !phases[MT_PHASE_SCHEDULED] && !phases[MT_PHASE_SUCCEEDED])
        phase = "Pending";
    json_object_set_new(status, "phase", json_string(phase));
    json_object_set_new(status, "children", names);
    json_object_set_new(status, "progress", json_pack("{s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)nk,
        "pending", (json_int_t)(phases[MT_PHASE_NONE] + phases[MT_PHASE_PENDING] + phases[MT_PHASE_QUEUED] + phases[MT_PHASE_BLOCKED]),
        "running", (json_int_t)(phases[MT_PHASE_RUNNING] + phases[MT_PHASE_SCHEDULED]),
        "succeeded", (json_int_t)phases[MT_PHASE_SUCCEEDED], "failed", (json_int_t)phases[MT_PHASE_FAILED]));
    free(kids);
    return ret;
}

/* A ready leaf waiting for admission. */
struct candidate {
    size_t i;                 /* index into the namespace's parsed tasks */
    json_t *status, *conds;   /* being built */
    struct curve cv;
    int predicted;
    struct priority_key key;
    double score;
    int admitted;             /* claimed on the ledger: its pod is to be created */
    int fits;                 /* the admission decision */
    struct admit_result ar;
    size_t ahead;             /* leaves of other namespaces placed before it and held */
    char node[254];
    const struct microtask *mt;
    const json_t *obj;
    enum fs_err rc;
};

/* Creates an admitted candidate's pod (on a writer thread); a failure gives the claim back. */
static void create_admitted(struct ctl *c, void *item)
{
    struct candidate *cd = item;
    const struct microtask *mt = cd->mt;
    const json_t *old = json_object_get(cd->obj, "status");
    struct kube_ref pref = {"", "v1", "pods", mt->ns, NULL, NULL};
    json_t *p = NULL;
    enum fs_err rc = build_pod(mt, c->o.scheduler_name, &p);
    if (rc == FS_OK)
        rc = create_object(c, &pref, p, mt->name);
    json_decref(p);
    cd->rc = rc == FS_EGONE ? FS_OK : rc; /* a namespace being deleted is not retried */
    if (rc != FS_OK) {
        cluster_lock(&c->cl);
        admit_unclaim(c->cl.ledger, mt->ns, mt->name);
        cluster_unlock(&c->cl);
        json_object_set_new(cd->status, "phase", json_string("Queued"));
        if (rc == FS_EGONE)
            json_array_append_new(cd->conds, status_condition(old, "Admitted", "False", "NamespaceTerminating",
                                                       "its namespace is being deleted: no pod is created",
                                                       mt->generation));
        return;
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "its p90 curve fits on %s over its predicted window", cd->node);
    json_array_append_new(cd->conds, status_condition(old, "Admitted", "True", "Fits", msg, mt->generation));
    json_array_append_new(cd->conds, status_condition(old, "Queued", "False", "Admitted", msg, mt->generation));
    json_object_set_new(cd->status, "phase", json_string("Queued"));
    kube_event_record(c->events, cd->obj, "Normal", "PodCreated", "Admit", "created pod %s: %s", mt->name, msg);
    const char *kv[] = {"namespace", mt->ns, "microtask", mt->name, "node", cd->node, NULL};
    log_kv(LOG_INFO, "admitted", kv);
    ctl_count(c, &c->n.admitted, 1);
    ctl_count(c, &c->n.pods_created, 1);
}

static int cmp_candidate(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    return priority_key_cmp(&x->key, &y->key);
}

/* A leaf whose pod exists: its phase from the pod, learning on completion. */
static enum fs_err reconcile_leaf_pod(struct ctl *c, const json_t *obj, const struct microtask *mt, const json_t *pod,
                                      json_t *status, json_t *conds)
{
    const json_t *old = json_object_get(obj, "status");
    enum mt_phase ph = status_pod_phase(pod);
    const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");
    const char *was = ctl_jstr(old, "phase");
    json_object_set_new(status, "phase", json_string(mt_phase_name(ph)));
    if (!json_object_get(old, "prediction")) {
        /* the write after admission was lost (a conflict, a restart): predict from when the
         * pod was created, so the extender, the feedback and the printer columns have it */
        struct curve cv;
        const char *reason = "";
        char msg[300];
        int64_t created = 0;
        const char *ct = ctl_meta(pod, "creationTimestamp");
        if (!ct || rfc3339_parse(ct, &created) != FS_OK)
            created = time(NULL);
        curve_init(&cv);
        int okp = predict_leaf(c, mt, created, &cv, &reason, msg, sizeof(msg)) == FS_OK;
        if (okp)
            status_set_prediction(status, &cv);
        json_array_append_new(conds, status_condition(old, "Predicted", okp ? "True" : "False", reason, msg, mt->generation));
        curve_release(&cv);
    }
    /* self-healing: a status write lost to a conflict must not lose what is known */
    const char *model = ctl_jstr(json_object_get(old, "prediction"), "model");
    if (model && !status_find_condition(conds, "Predicted") && !status_find_condition(json_object_get(old, "conditions"), "Predicted")) {
        const char *reason = strncmp(model, "profile", 7) == 0    ? "FromProfile"
                             : strncmp(model, "estimate", 8) == 0 ? "FromEstimate"
                                                                  : "FromResources";
        json_array_append_new(conds, status_condition(old, "Predicted", "True", reason, "predicted before its pod was created",
                                               mt->generation));
    }
    if (!status_condition_true(old, "Admitted")) {
        json_array_append_new(conds, status_condition(old, "Admitted", "True", "PodCreated", "its pod exists", mt->generation));
        json_array_append_new(conds, status_condition(old, "Queued", "False", "Admitted", "its pod exists", mt->generation));
    }
    if (node && node[0]) {
        json_t *res = json_deep_copy(json_object_get(old, "reservation"));
        if (!json_is_object(res))
            res = json_object();
        json_object_set_new(res, "node", json_string(node));
        json_object_del(res, "earliestStart");
        json_object_set_new(status, "reservation", res);
    }
    if (ph == MT_PHASE_SUCCEEDED && (!was || strcmp(was, "Succeeded") != 0)) {
        char msg[300];
        enum fs_err rc = learn_from(c, obj, mt, pod, msg, sizeof(msg));
        if (rc != FS_OK && rc != FS_EDATA && rc != FS_EGONE) { /* EGONE: its namespace is being deleted */
            log_warn("cannot learn from %s/%s: %s", mt->ns, mt->name, msg);
            json_object_set_new(status, "phase", json_string(was ? was : "Running"));
            return rc; /* retried with backoff; the phase moves on once the run is learnt */
        }
        json_array_append_new(conds, status_condition(old, "Learnt", rc == FS_OK ? "True" : "False",
                                               rc == FS_OK ? "FoldedIntoProfile" : rc == FS_EGONE ? "NamespaceTerminating" : "NoSamples", msg, mt->generation));
        const char *kv[] = {"namespace", mt->ns, "microtask", mt->name, "detail", msg, NULL};
        log_kv(LOG_INFO, "leaf succeeded", kv);
        track_drop(c, mt->ns, mt->name);
    } else if (ph == MT_PHASE_FAILED) {
        track_drop(c, mt->ns, mt->name);
    }
    return FS_OK;
}

/* queued_ns maps a namespace to its number of Queued leaves (as a pointer-sized integer) */
static void mark_queued_ns(struct ctl *c, const char *ns, size_t queued)
{
    pthread_mutex_lock(&c->mu);
    if (queued)
        lmap_put(&c->queued_ns, ns, (void *)(uintptr_t)queued);
    else
        lmap_del(&c->queued_ns, ns);
    pthread_mutex_unlock(&c->mu);
}

/* The admission decision of one namespace's candidates, in one priority order with the
 * leaves other namespaces left Queued (admit_in_order); then the board holds this
 * namespace's leaves that stay Queued, and the namespaces whose leaves were held are
 * reconciled next, so that they take the place kept for them. */
static enum fs_err decide_in_order(struct ctl *c, const char *ns, struct candidate *cands, size_t nc,
                                   struct microtask *mts, int64_t now)
{
    enum fs_err ret = FS_OK;
    pthread_mutex_lock(&c->admit_mu);
    size_t nb = 0, pos = 0, ni = 0;
    const char *k;
    void *v;
    while (lmap_next(&c->board, &pos, &k, &v))
        nb++;
    struct admit_item *items = calloc(nc + nb + 1, sizeof(*items));
    char **held = calloc(nb + 1, sizeof(*held));
    size_t n_held = 0;
    if (!items || !held) {
        ret = FS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nc; i++) {
        if (!cands[i].predicted)
            continue;
        const struct microtask *mt = &mts[cands[i].i];
        items[ni++] = (struct admit_item){cands[i].key, &cands[i].cv, mt->ns, mt->name, 1, i, 0, {0}};
    }
    pos = 0;
    while (lmap_next(&c->board, &pos, &k, &v)) {
        struct board_entry *e = v;
        if (strcmp(e->ns, ns) != 0)
            items[ni++] = (struct admit_item){e->key, &e->cv, e->ns, e->name, 0, 0, 0, {0}};
    }
    cluster_lock(&c->cl);
    ledger_advance(c->cl.ledger, now);
    ret = admit_in_order(c->cl.ledger, items, ni, now);
    cluster_unlock(&c->cl);
    size_t ahead = 0;
    for (size_t i = 0; i < ni; i++) {
        struct admit_item *it = &items[i];
        if (it->mine) {
            cands[it->idx].fits = it->fits;
            cands[it->idx].ar = it->res;
            cands[it->idx].ahead = ahead;
            continue;
        }
        if (!it->fits)
            continue;
        ahead++;
        int seen = 0;
        for (size_t j = 0; j < n_held && !seen; j++)
            seen = strcmp(held[j], it->ns) == 0;
        if (!seen && (held[n_held] = strdup(it->ns)))
            n_held++;
    }
    /* the board: this namespace's entries replaced by what stays Queued now */
    char **drop = NULL;
    size_t n_drop = 0;
    if (nb && (drop = calloc(nb, sizeof(*drop)))) {
        pos = 0;
        while (lmap_next(&c->board, &pos, &k, &v))
            if (strcmp(((struct board_entry *)v)->ns, ns) == 0)
                drop[n_drop++] = (char *)k;
        for (size_t j = 0; j < n_drop; j++)
            board_entry_free(lmap_del(&c->board, drop[j]));
        free(drop);
    }
    for (size_t i = 0; i < nc; i++) {
        struct candidate *cd = &cands[i];
        if (!cd->predicted || cd->fits)
            continue;
        const struct microtask *mt = &mts[cd->i];
        struct board_entry *e = calloc(1, sizeof(*e));
        char key[330];
        if (!e)
            break;
        snprintf(e->ns, sizeof(e->ns), "%s", mt->ns);
        snprintf(e->name, sizeof(e->name), "%s", mt->name);
        e->key = cd->key;
        e->key.name = e->name;
        curve_init(&e->cv);
        snprintf(key, sizeof(key), "%s/%s", e->ns, e->name);
        if (curve_copy(&e->cv, &cd->cv) != FS_OK || lmap_put(&c->board, key, e) != FS_OK)
            board_entry_free(e);
    }
out:
    pthread_mutex_unlock(&c->admit_mu);
    for (size_t j = 0; j < n_held; j++) {
        kube_workqueue_add(c->queue, held[j]);
        free(held[j]);
    }
    free(held);
    free(items);
    return ret;
}

/* Admission of the namespace's ready leaves, highest priority first. */
static enum fs_err admit_candidates(struct ctl *c, const char *ns, struct candidate *cands, size_t nc,
                                    struct microtask *mts, const json_t **objs)
{
    enum fs_err ret = FS_OK;
    int64_t now = time(NULL);
    double load = 0;
    size_t still_queued = 0;
    cluster_lock(&c->cl);
    ledger_advance(c->cl.ledger, now);
    load = admit_load(c->cl.ledger, now);
    cluster_unlock(&c->cl);
    for (size_t k = 0; k < nc; k++) {
        struct microtask *mt = &mts[cands[k].i];
        struct priority_input pin = {mt->sla_class, mt->has_deadline, mt->deadline_s, now,
                                     cands[k].predicted ? (double)cands[k].cv.duration_s : c->o.default_s,
                                     load < 0 ? 0 : load};
        struct priority_result pr;
        cands[k].score = priority_compute(&pin, &pr) == FS_OK ? pr.score : 0;
        cands[k].key = (struct priority_key){cands[k].score, mt->has_deadline ? mt->deadline_s : INT64_MAX,
                                             mt->created_s, mt->name};
        if (cands[k].predicted)
            json_object_set_new(cands[k].status, "priority", json_integer(pr.value));
    }
    qsort(cands, nc, sizeof(*cands), cmp_candidate);
    ret = decide_in_order(c, ns, cands, nc, mts, now);
    for (size_t k = 0; k < nc; k++) {
        struct candidate *cd = &cands[k];
        struct microtask *mt = &mts[cd->i];
        const json_t *obj = objs[cd->i];
        const json_t *old = json_object_get(obj, "status");
        if (!cd->predicted) {
            json_object_set_new(cd->status, "phase", json_string("Queued"));
            continue;
        }
        struct admit_result ar = cd->ar;
        ar.fits = cd->fits;
        if (!ar.fits && cd->ahead) {
            size_t at = strlen(ar.reason);
            snprintf(ar.reason + at, sizeof(ar.reason) - at, " (after %zu higher-priority leaves of other namespaces)",
                     cd->ahead);
        }
        if (!ar.fits) {
            char msg[400], when[40] = "";
            if (ar.earliest_s)
                rfc3339_format(ar.earliest_s, when, sizeof(when));
            snprintf(msg, sizeof(msg), "%s; %s%s", ar.reason,
                     ar.unresolvable ? "no node can ever hold it" : ar.earliest_s ? "predicted earliest start " : "no room within the horizon",
                     when);
            json_object_set_new(cd->status, "phase", json_string("Queued"));
            json_array_append_new(cd->conds, status_condition(old, "Admitted", "False", "InsufficientCapacity", msg, mt->generation));
            json_array_append_new(cd->conds, status_condition(old, "Queued", "True", "InsufficientCapacity", msg, mt->generation));
            if (ar.earliest_s)
                json_object_set_new(cd->status, "reservation", json_pack("{s:s}", "earliestStart", when));
            const char *old_model = ctl_jstr(json_object_get(old, "prediction"), "model");
            if (!old_model || strcmp(old_model, cd->cv.model) != 0)
                status_set_prediction(cd->status, &cd->cv);
            const char *was = ctl_jstr(old, "phase");
            if (!status_condition_true(old, "Queued"))
                kube_event_record(c->events, obj, "Normal", "Queued", "Admit", "%s", msg);
            (void)was;
            const char *kv[] = {"namespace", mt->ns, "microtask", mt->name, "reason", msg, NULL};
            log_kv(LOG_DEBUG, "queued", kv);
            ctl_count(c, &c->n.queued, 1);
            still_queued++;
            continue;
        }
        /* admitted: the prediction starts now; the pods are created below, in parallel */
        status_set_prediction(cd->status, &cd->cv);
        cd->admitted = 1;
        cd->mt = mt;
        cd->obj = obj;
        snprintf(cd->node, sizeof(cd->node), "%s", ar.node);
    }
    size_t na = 0;
    for (size_t k = 0; k < nc; k++)
        if (cands[k].admitted) { /* the admitted ones first, keeping their priority order */
            struct candidate tmp = cands[na];
            cands[na++] = cands[k];
            cands[k] = tmp;
        }
    parallel(c, cands, na, sizeof(*cands), create_admitted);
    for (size_t k = 0; k < na; k++)
        if (cands[k].rc != FS_OK)
            ret = cands[k].rc;
    if (nc)
        mark_queued_ns(c, mts[cands[0].i].ns, still_queued);
    if (still_queued && nc)
        kube_workqueue_add_after(c->queue, mts[cands[0].i].ns, (long)(c->o.requeue_s * 1000));
    return ret;
}

static void write_status(struct ctl *c, void *item)
{
    struct pwrite *w = item;
    w->rc = status_patch(c, w->obj, w->mt->ns, w->mt->name, w->mt->generation, w->status);
    w->status = NULL;
}

static enum fs_err reconcile_namespace(struct ctl *c, const char *ns)
{
    enum fs_err ret = FS_OK;
    if (create_ns_terminating(c, ns)) {
        log_debug("namespace %s is being deleted: not reconciled", ns);
        return FS_OK;
    }
    /* this namespace's MicroTasks only: each is parsed from the cache's text when read */
    json_t *all = kube_informer_by_index(c->mts, "namespace", ns);
    size_t total = json_array_size(all), n = 0, nc = 0;
    struct microtask *mts = calloc(total ? total : 1, sizeof(*mts));
    const json_t **objs = calloc(total ? total : 1, sizeof(*objs));
    struct dag_node *nodes = calloc(total ? total : 1, sizeof(*nodes));
    struct dag_verdict *verdicts = calloc(total ? total : 1, sizeof(*verdicts));
    struct candidate *cands = calloc(total ? total : 1, sizeof(*cands));
    struct pwrite *pw = calloc(total ? total : 1, sizeof(*pw));
    size_t npw = 0;
    if (!all || !mts || !objs || !nodes || !verdicts || !cands || !pw) {
        ret = FS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < total; i++) {
        json_t *o = json_array_get(all, i);
        const char *ons = ctl_meta(o, "namespace");
        if (!ons || strcmp(ons, ns) != 0)
            continue;
        char err[MT_ERR_MAX];
        microtask_init(&mts[n]);
        if (microtask_parse(&mts[n], o, err, sizeof(err)) != FS_OK) {
            log_warn("invalid MicroTask %s/%s: %s", ns, ctl_meta(o, "name"), err);
            continue;
        }
        objs[n] = o;
        nodes[n] = (struct dag_node){mts[n].name, (const char *const *)mts[n].depends_on, mts[n].n_depends,
                                     mt_phase_dag_state(mts[n].phase), mts[n].on_dependency_failure};
        n++;
    }
    if (dag_evaluate(nodes, n, verdicts) != FS_OK) {
        ret = FS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && !ctl_stopping; i++) {
        struct microtask *mt = &mts[i];
        const json_t *old = json_object_get(objs[i], "status");
        struct dag_verdict *v = &verdicts[i];
        if ((mt->phase == MT_PHASE_SUCCEEDED || mt->phase == MT_PHASE_FAILED) && !mt->has_split)
            continue; /* finished leaves stay finished */
        if (ctl_meta(objs[i], "deletionTimestamp"))
            continue; /* being deleted (a finalizer holds it): it starts nothing more */
        json_t *status = json_object(), *conds = json_array();
        int ready = v->kind == DAG_READY;
        enum fs_err rc = FS_OK;
        json_array_append_new(conds, status_condition(old, "DependenciesReady", ready ? "True" : "False", v->reason,
                                               v->message, mt->generation));
        if (v->kind == DAG_CYCLE || v->kind == DAG_MISSING) {
            json_object_set_new(status, "phase", json_string("Blocked"));
            const char *was = ctl_jstr(old, "phase");
            if (!was || strcmp(was, "Blocked") != 0)
                kube_event_record(c->events, objs[i], "Warning", v->reason, "Validate", "%s", v->message);
        } else if (v->kind == DAG_DEP_FAILED) {
            json_object_set_new(status, "phase", json_string("Failed"));
            json_array_append_new(conds, status_condition(old, "Failed", "True", v->reason, v->message, mt->generation));
        } else if (!ready) {
            json_object_set_new(status, "phase", json_string("Pending"));
        } else if (mt->has_split) {
            rc = reconcile_split(c, objs[i], mt, status, conds, mts, n);
        } else {
            json_t *pod = kube_informer_get(c->pods, mt->ns, mt->name);
            if (pod) {
                rc = reconcile_leaf_pod(c, objs[i], mt, pod, status, conds);
                json_decref(pod);
            } else { /* waits for admission: finished after the sort */
                struct candidate *cd = &cands[nc++];
                const char *reason = "";
                char msg[300];
                cd->i = i;
                cd->status = status;
                cd->conds = conds;
                curve_init(&cd->cv);
                cd->predicted = predict_leaf(c, mt, time(NULL), &cd->cv, &reason, msg, sizeof(msg)) == FS_OK;
                json_array_append_new(conds, status_condition(old, "Predicted", cd->predicted ? "True" : "False", reason, msg,
                                                       mt->generation));
                continue;
            }
        }
        if (rc != FS_OK)
            ret = rc;
        status_carry_conditions(conds, old);
        json_object_set_new(status, "conditions", conds);
        pw[npw++] = (struct pwrite){objs[i], mt, status, FS_OK};
    }
    if (!ctl_stopping) {
        enum fs_err rc = admit_candidates(c, ns, cands, nc, mts, objs);
        if (rc != FS_OK)
            ret = rc;
    }
    for (size_t k = 0; k < nc; k++) {
        struct candidate *cd = &cands[k];
        const json_t *old = json_object_get(objs[cd->i], "status");
        status_carry_conditions(cd->conds, old);
        json_object_set_new(cd->status, "conditions", cd->conds);
        cd->conds = NULL;
        pw[npw++] = (struct pwrite){objs[cd->i], &mts[cd->i], cd->status, FS_OK};
        curve_release(&cd->cv);
    }
    if (!ctl_stopping) {
        parallel(c, pw, npw, sizeof(*pw), write_status);
        for (size_t k = 0; k < npw; k++)
            if (pw[k].rc != FS_OK)
                ret = pw[k].rc;
    } else {
        for (size_t k = 0; k < npw; k++)
            json_decref(pw[k].status);
    }
    if (nc == 0)
        mark_queued_ns(c, ns, 0);
    if (!ctl_stopping) {
        enum fs_err rc = fold_arrivals(c, ns, mts, n);
        if (rc != FS_OK)
            ret = rc;
    }
out:
    for (size_t i = 0; i < n; i++)
        microtask_release(&mts[i]);
    free(mts);
    free(objs);
    free(nodes);
    free(verdicts);
    free(cands);
    free(pw);
    json_decref(all);
    return ret;
}

/* ---- usage feedback ------------------------------------------------------------------- */

static const char *action_name(enum mt_anomaly_action a)
{
    return a == MT_ANOMALY_RESERVE ? "Reserve" : a == MT_ANOMALY_THROTTLE ? "Throttle" : "Alert";
}

/* Lowers the pod's cpu limit to the band through the in-place resize subresource
 * (throttle_plan keeps the resize valid: same QoS class, requests <= limits). FS_OK with
 * *resized 0 when the limits were already at or below it. */
static enum fs_err throttle(struct ctl *c, const json_t *pod, int64_t cpu_milli, int *resized, char *msg, size_t msglen)
{
    json_t *patch = NULL;
    *resized = 0;
    enum fs_err rc = throttle_plan(pod, cpu_milli < 1 ? 1 : cpu_milli, &patch, msg, msglen);
    if (rc != FS_OK || !patch)
        return rc;
    struct kube_ref ref = {"", "v1", "pods", ctl_meta(pod, "namespace"), ctl_meta(pod, "name"), "resize"};
    struct kube_status st;
    json_t *got = NULL;
    rc = kube_patch(c->client, &ref, KUBE_PATCH_STRATEGIC, patch, NULL, &got, &st);
    if (rc == FS_OK) {
        /* what the API server now holds, read back from its answer */
        size_t i, j;
        const json_t *want, *ctr;
        json_array_foreach(json_object_get(json_object_get(patch, "spec"), "containers"), i, want) {
            json_array_foreach(json_object_get(json_object_get(got, "spec"), "containers"), j, ctr) {
                const char *lim = ctl_jstr(json_object_get(json_object_get(ctr, "resources"), "limits"), "cpu");
                size_t at = strlen(msg);
                if (json_equal(json_object_get(ctr, "name"), json_object_get(want, "name")) && lim && at < msglen)
                    snprintf(msg + at, msglen - at, "; the pod spec now limits %s to %s", ctl_jstr(ctr, "name"), lim);
            }
        }
        *resized = 1;
    } else {
        char buf[600], plan[300];
        snprintf(plan, sizeof(plan), "%.299s", msg);
        snprintf(msg, msglen, "cannot resize (%s): %s", plan, kube_status_str(&st, buf, sizeof(buf)));
    }
    json_decref(got);
    json_decref(patch);
    return rc;
}

/* The largest amounts the ledger holds for a pod from now to the end of its claim: what
 * the cluster reserves for it (0 and FS_ENOTFOUND when it holds no claim). */
static enum fs_err claimed_peak(struct ctl *c, const char *uid, int64_t now, int64_t out[CURVE_NRES])
{
    enum fs_err rc = FS_ENOTFOUND;
    memset(out, 0, sizeof(int64_t) * CURVE_NRES);
    cluster_lock(&c->cl);
    const struct ledger_claim *cl = uid ? ledger_claim_get(c->cl.ledger, uid) : NULL;
    if (cl) {
        int64_t from = now / c->cl.ledger->cfg.step_s;
        const struct ledger_shape *s = &cl->shape;
        for (int r = 0; r < CURVE_NRES; r++) {
            if (s->flat) {
                out[r] = s->flat_v[r];
                continue;
            }
            for (int64_t k = from > s->first ? from : s->first; k < s->first + (int64_t)s->len; k++)
                if (ledger_shape_at(s, (enum curve_res)r, k) > out[r])
                    out[r] = ledger_shape_at(s, (enum curve_res)r, k);
        }
        rc = FS_OK;
    }
    cluster_unlock(&c->cl);
    return rc;
}

/* One metrics.k8s.io sample of one running leaf's pod, with its network rate when known. */
static void sample_pod(struct ctl *c, const json_t *pm)
{
    const char *ns = ctl_meta(pm, "namespace"), *name = ctl_meta(pm, "name");
    int64_t t = 0, v[CURVE_NRES] = {0, 0, 0};
    if (!ns || !name || !ctl_jstr(pm, "timestamp") || rfc3339_parse(ctl_jstr(pm, "timestamp"), &t) != FS_OK)
        return;
    /* a cpu figure is a rate over the window ending at timestamp: it describes the window's
     * middle, so that is where it goes (else every change is seen half a window late) */
    double window_s = 0;
    if (ctl_jstr(pm, "window") && duration_parse(ctl_jstr(pm, "window"), &window_s) == FS_OK && window_s > 0 && window_s < 600)
        t -= (int64_t)llround(window_s / 2);
    size_t i;
    const json_t *ct;
    json_array_foreach(json_object_get(pm, "containers"), i, ct) {
        const json_t *u = json_object_get(ct, "usage");
        int64_t cpu = 0, mem = 0;
        if (ctl_jstr(u, "cpu") && kube_parse_milli(ctl_jstr(u, "cpu"), &cpu) == FS_OK)
            v[CURVE_CPU] += cpu;
        if (ctl_jstr(u, "memory") && kube_parse_bytes(ctl_jstr(u, "memory"), &mem) == FS_OK)
            v[CURVE_MEM] += mem;
    }
    v[CURVE_NET] = netrate_get(c->net, ns, name);
    json_t *obj = kube_informer_get(c->mts, ns, name), *pod = kube_informer_get(c->pods, ns, name);
    struct microtask mt;
    struct curve cur, spliced;
    char key[160];
    microtask_init(&mt);
    curve_init(&cur);
    curve_init(&spliced);
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    const json_t *old = json_object_get(obj, "status");
    if (!obj || !pod || status_pod_phase(pod) != MT_PHASE_RUNNING || microtask_parse(&mt, obj, NULL, 0) != FS_OK ||
        curve_from_json(&cur, json_object_get(old, "prediction"), NULL, 0) != FS_OK)
        goto out;
    pthread_mutex_lock(&c->mu);
    struct track *tr = lmap_get(&c->tracks, key);
    if (!tr && (tr = calloc(1, sizeof(*tr)))) {
        snprintf(tr->key, sizeof(tr->key), "%s", key);
        curve_init(&tr->baseline);
        /* the baseline is what it was admitted with; after a restart it is in status.usage */
        if (curve_from_json(&tr->baseline, json_object_get(json_object_get(old, "usage"), "baseline"), NULL, 0) != FS_OK)
            curve_copy(&tr->baseline, &cur);
        usage_obs_init(&tr->obs, tr->baseline.start_s, tr->baseline.step_s);
        long n_obs = (long)json_integer_value(json_object_get(json_object_get(old, "usage"), "observedSteps"));
        if (n_obs > 0 && strstr(cur.model, "+observed"))
            usage_obs_load(&tr->obs, &cur, (uint32_t)n_obs);
        tr->an.flagged = status_condition_true(old, "Anomalous");
        if (lmap_put(&c->tracks, key, tr) != FS_OK) {
            track_free(tr);
            tr = NULL;
        }
    }
    int used = tr ? usage_obs_add(&tr->obs, t, v) : 0;
    int flagged = 0;
    if (used > 0) {
        memcpy(tr->now, v, sizeof(v));
        flagged = usage_anomaly_push(&tr->an, &tr->baseline, t, v, c->o.anomaly_tol, mt.anomaly_window_s);
        usage_error(&tr->obs, &tr->baseline, &tr->err);
        c->n.samples++;
        if (v[CURVE_NET] != USAGE_UNKNOWN)
            c->n.net_samples++;
        if (flagged)
            c->n.anomalies[tr->an.res]++;
    }
    /* the status is built from a consistent copy, outside the lock */
    struct usage_obs obs;
    struct usage_error err;
    struct usage_anomaly an;
    struct curve base;
    curve_init(&base);
    usage_obs_init(&obs, 0, 1);
    if (used > 0) {
        err = tr->err;
        an = tr->an;
        curve_copy(&base, &tr->baseline);
        if (usage_obs_copy(&obs, &tr->obs) != FS_OK)
            used = 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (used <= 0)
        goto out_base;

    const int64_t *ov[CURVE_NRES] = {obs.v[0], obs.v[1], obs.v[2]};
    if (predict_splice(&base, ov, obs.n, &spliced) != FS_OK)
        goto out_base;
    if (an.flagged && mt.anomaly_action == MT_ANOMALY_RESERVE) {
        /* re-reserve: the rest of the curve at least at the highest level observed */
        for (int r = 0; r < CURVE_NET; r++) {
            int64_t hi = 0;
            for (uint32_t k = 0; k < obs.n; k++)
                hi = obs.v[r][k] > hi ? obs.v[r][k] : hi;
            for (uint32_t k = obs.n; k < spliced.n_steps; k++)
                if (spliced.v[CURVE_P90][r][k] < hi)
                    spliced.v[CURVE_P90][r][k] = hi;
        }
    }
    json_t *status = json_object(), *usage = json_object(), *bj = NULL;
    status_set_prediction(status, &spliced);
    char cpu_s[32], mem_s[32], e_s[32];
    kube_format_milli(v[CURVE_CPU], cpu_s, sizeof(cpu_s));
    kube_format_bytes(v[CURVE_MEM], mem_s, sizeof(mem_s));
    json_object_set_new(usage, "cpu", json_string(cpu_s));
    json_object_set_new(usage, "memory", json_string(mem_s));
    if (v[CURVE_NET] != USAGE_UNKNOWN) {
        char net_s[32];
        ledger_format_amount(CURVE_NET, v[CURVE_NET], net_s, sizeof(net_s));
        json_object_set_new(usage, "network", json_string(net_s));
        json_object_set_new(usage, "networkBytesPerSecond", json_integer(v[CURVE_NET]));
    }
    if (err.has_mape[CURVE_NET])
        json_object_set_new(usage, "networkMape", json_real(round(err.mape[CURVE_NET] * 100) / 100));
    json_object_set_new(usage, "observedSteps", json_integer(obs.n));
    json_object_set_new(usage, "samples", json_integer(obs.n));
    if (err.has_mape_all) {
        snprintf(e_s, sizeof(e_s), "%.1f%%", err.mape_all);
        json_object_set_new(usage, "error", json_string(e_s));
        json_object_set_new(usage, "mape", json_real(round(err.mape_all * 100) / 100));
    }
    if (err.has_mase_all)
        json_object_set_new(usage, "mase", json_real(round(err.mase_all * 1000) / 1000));
    if (curve_to_json(&base, &bj) == FS_OK)
        json_object_set_new(usage, "baseline", bj);
    json_object_set_new(status, "usage", usage);
    {
        /* what the ledger holds for the pod from now on (the extender's and the admission's
         * view of it), so a re-reservation can be seen where it takes effect */
        int64_t held[CURVE_NRES];
        if (claimed_peak(c, ctl_meta(pod, "uid"), time(NULL), held) == FS_OK) {
            char hc[32], hm[32];
            kube_format_milli(held[CURVE_CPU], hc, sizeof(hc));
            kube_format_bytes(held[CURVE_MEM], hm, sizeof(hm));
            json_t *res = json_deep_copy(json_object_get(old, "reservation"));
            if (!json_is_object(res)) {
                json_decref(res);
                res = json_object();
            }
            json_object_set_new(res, "claimed", json_pack("{s:s, s:s}", "cpu", hc, "memory", hm));
            json_object_set_new(status, "reservation", res);
        }
    }
    json_t *conds = NULL;
    if (flagged) {
        char amt[32], band[32], msg[400];
        ledger_format_amount(an.res, an.observed, amt, sizeof(amt));
        ledger_format_amount(an.res, an.band, band, sizeof(band));
        snprintf(msg, sizeof(msg), "%s usage %s above its predicted p90 %s for %.0fs (window %.0fs); action %s",
                 curve_res_name(an.res), amt, band, an.for_s, mt.anomaly_window_s, action_name(mt.anomaly_action));
        conds = status_set_condition(old, status_condition(old, "Anomalous", "True", "UsageAboveBand", msg, mt.generation));
        kube_event_record(c->events, obj, "Warning", "Anomalous", "Observe", "%s", msg);
        const char *kv[] = {"namespace", ns, "microtask", name, "detail", msg, NULL};
        log_kv(LOG_WARN, "anomaly", kv);
        if (mt.anomaly_action == MT_ANOMALY_RESERVE) {
            json_t *old_c = json_pack("{s:o}", "conditions", conds);
            conds = status_set_condition(old_c, status_condition(old, "Reserved", "True", "ReReserved",
                                                   "the rest of the curve is reserved at least at the observed level",
                                                   mt.generation));
            json_decref(old_c);
        }
    }
    /* throttled when flagged, and again at later samples until a resize has succeeded (the
     * pod may not have been resizable yet) */
    if (an.flagged && mt.anomaly_action == MT_ANOMALY_THROTTLE && (flagged || !status_condition_true(old, "Throttled"))) {
        char tmsg[900];
        int resized = 0;
        int64_t p90 = usage_band_at(&base, CURVE_P90, CURVE_CPU, t);
        enum fs_err rc = throttle(c, pod, p90, &resized, tmsg, sizeof(tmsg));
        const char *reason = rc != FS_OK ? "ResizeFailed" : resized ? "Resized" : "AtOrBelowBand";
        const json_t *was = status_find_condition(json_object_get(old, "conditions"), "Throttled");
        json_t *old_c = conds ? json_pack("{s:o}", "conditions", conds) : json_incref((json_t *)old);
        conds = status_set_condition(old_c, status_condition(old, "Throttled", rc == FS_OK ? "True" : "False", reason, tmsg,
                                               mt.generation));
        json_decref(old_c);
        if (!was || !ctl_jstr(was, "message") || strcmp(ctl_jstr(was, "message"), tmsg) != 0) { /* said once */
            kube_event_record(c->events, obj, rc == FS_OK ? "Normal" : "Warning", "Throttled", "Resize", "%s", tmsg);
            const char *kv[] = {"namespace", ns, "microtask", name, "detail", tmsg, NULL};
            log_kv(rc == FS_OK ? LOG_INFO : LOG_WARN, rc == FS_OK ? "throttled" : "cannot throttle", kv);
        }
        if (resized)
            ctl_count(c, &c->n.throttles, 1);
    }
    if (conds)
        json_object_set_new(status, "conditions", conds);
    status_patch(c, obj, ns, name, mt.generation, status);
out_base:
    curve_release(&base);
    usage_obs_release(&obs);
out:
    curve_release(&spliced);
    curve_release(&cur);
    microtask_release(&mt);
    json_decref(obj);
    json_decref(pod);
}

static void sample(struct ctl *c)
{
    json_t *list = NULL;
    struct kube_status st;
    enum fs_err rc = kube_request(c->client, "GET",
                                  "/apis/metrics.k8s.io/v1beta1/pods?labelSelector=" FS_LABEL_MICROTASK, NULL, NULL, 0,
                                  &list, &st);
    if (rc != FS_OK) {
        char buf[600];
        log_debug("cannot read pod metrics: %s", kube_status_str(&st, buf, sizeof(buf)));
        ctl_count(c, &c->n.sample_errors, 1);
        return;
    }
    size_t i;
    const json_t *pm;
    json_array_foreach(json_object_get(list, "items"), i, pm) {
        if (ctl_stopping)
            break;
        sample_pod(c, pm);
    }
    json_decref(list);
}

/* ---- /healthz, /readyz, /metrics ------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        if (cap > (64u << 20)) { /* bounded: far beyond what 10,000 tracked tasks need */
            b->failed = 1;
            return;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void metrics_text(struct ctl *c, struct buf *b)
{
    struct counters n;
    size_t qlen = kube_workqueue_len(c->queue);
    pthread_mutex_lock(&c->mu);
    n = c->n;
    long queued_now = 0;
    {
        size_t qpos = 0;
        const char *qk;
        void *qv;
        while (lmap_next(&c->queued_ns, &qpos, &qk, &qv))
            queued_now += (long)(uintptr_t)qv;
    }
    bprintf(b, "# HELP foresight_controller_reconciles_total Namespace reconciles by result.\n"
               "# TYPE foresight_controller_reconciles_total counter\n"
               "foresight_controller_reconciles_total{result=\"ok\"} %lu\n"
               "foresight_controller_reconciles_total{result=\"error\"} %lu\n",
            n.reconciles_ok, n.reconciles_err);
    bprintf(b, "# HELP foresight_controller_queue_depth Keys ready in the work queue.\n"
               "# TYPE foresight_controller_queue_depth gauge\nforesight_controller_queue_depth %zu\n", qlen);
    bprintf(b, "# HELP foresight_controller_leader 1 while this replica holds the Lease.\n"
               "# TYPE foresight_controller_leader gauge\nforesight_controller_leader %d\n", c->leader);
    bprintf(b, "# HELP foresight_controller_admissions_total Admission decisions by result.\n"
               "# TYPE foresight_controller_admissions_total counter\n"
               "foresight_controller_admissions_total{result=\"admitted\"} %lu\n"
               "foresight_controller_admissions_total{result=\"queued\"} %lu\n",
            n.admitted, n.queued);
    bprintf(b, "# HELP foresight_controller_queued_microtasks Leaves left Queued by the last admission pass of each namespace.\n"
               "# TYPE foresight_controller_queued_microtasks gauge\nforesight_controller_queued_microtasks %ld\n",
            queued_now);
    bprintf(b, "# HELP foresight_controller_created_total Objects created.\n"
               "# TYPE foresight_controller_created_total counter\n"
               "foresight_controller_created_total{kind=\"Pod\"} %lu\n"
               "foresight_controller_created_total{kind=\"MicroTask\"} %lu\n",
            n.pods_created, n.children_created);
    bprintf(b, "# HELP foresight_controller_usage_samples_total Pod usage samples folded in.\n"
               "# TYPE foresight_controller_usage_samples_total counter\nforesight_controller_usage_samples_total %lu\n"
               "# HELP foresight_controller_usage_sample_errors_total Failed reads of metrics.k8s.io.\n"
               "# TYPE foresight_controller_usage_sample_errors_total counter\n"
               "foresight_controller_usage_sample_errors_total %lu\n",
            n.samples, n.sample_errors);
    struct netrate_counts nc;
    netrate_counts(c->net, &nc);
    if (c->net)
        bprintf(b, "# HELP foresight_controller_network_queries_total Prometheus network queries by result.\n"
                   "# TYPE foresight_controller_network_queries_total counter\n"
                   "foresight_controller_network_queries_total{result=\"ok\"} %lu\n"
                   "foresight_controller_network_queries_total{result=\"error\"} %lu\n"
                   "# HELP foresight_controller_network_pods Pods with a network rate in the last Prometheus answer.\n"
                   "# TYPE foresight_controller_network_pods gauge\nforesight_controller_network_pods %lu\n"
                   "# HELP foresight_controller_network_samples_total Usage samples that carried a network rate.\n"
                   "# TYPE foresight_controller_network_samples_total counter\n"
                   "foresight_controller_network_samples_total %lu\n",
                nc.queries - nc.errors, nc.errors, nc.pods, n.net_samples);
    bprintf(b, "# HELP foresight_controller_anomalies_total Micro-tasks found above their predicted band.\n"
               "# TYPE foresight_controller_anomalies_total counter\n");
    for (int r = 0; r < CURVE_NRES; r++)
        bprintf(b, "foresight_controller_anomalies_total{resource=\"%s\"} %lu\n", curve_res_name((enum curve_res)r),
                n.anomalies[r]);
    bprintf(b, "# HELP foresight_controller_throttles_total Pods resized down after an anomaly.\n"
               "# TYPE foresight_controller_throttles_total counter\nforesight_controller_throttles_total %lu\n"
               "# HELP foresight_controller_taskprofile_updates_total Completed runs folded into TaskProfiles.\n"
               "# TYPE foresight_controller_taskprofile_updates_total counter\n"
               "foresight_controller_taskprofile_updates_total %lu\n",
            n.throttles, n.profile_updates);
    bprintf(b, "# HELP foresight_controller_completed_prediction_mape_percent MAPE of completed leaves' predictions.\n"
               "# TYPE foresight_controller_completed_prediction_mape_percent summary\n"
               "foresight_controller_completed_prediction_mape_percent_sum %.4f\n"
               "foresight_controller_completed_prediction_mape_percent_count %lu\n",
            n.done_mape_sum, n.done_mape_n);
    bprintf(b, "# HELP foresight_controller_prediction_mape_percent Error so far of each running leaf's prediction.\n"
               "# TYPE foresight_controller_prediction_mape_percent gauge\n");
    size_t pos = 0;
    const char *key;
    void *val;
    while (lmap_next(&c->tracks, &pos, &key, &val)) {
        struct track *t = val;
        char ns[80], name[80];
        const char *sl = strchr(t->key, '/');
        if (!sl || !t->err.has_mape_all)
            continue;
        snprintf(ns, sizeof(ns), "%.*s", (int)(sl - t->key), t->key);
        snprintf(name, sizeof(name), "%s", sl + 1);
        bprintf(b, "foresight_controller_prediction_mape_percent{namespace=\"%s\",microtask=\"%s\"} %.4f\n", ns, name,
                t->err.mape_all);
    }
    bprintf(b, "# HELP foresight_controller_prediction_mase Error so far of each running leaf's prediction, scaled.\n"
               "# TYPE foresight_controller_prediction_mase gauge\n");
    pos = 0;
    while (lmap_next(&c->tracks, &pos, &key, &val)) {
        struct track *t = val;
        char ns[80];
        const char *sl = strchr(t->key, '/');
        if (!sl || !t->err.has_mase_all)
            continue;
        snprintf(ns, sizeof(ns), "%.*s", (int)(sl - t->key), t->key);
        bprintf(b, "foresight_controller_prediction_mase{namespace=\"%s\",microtask=\"%s\"} %.4f\n", ns, sl + 1,
                t->err.mase_all);
    }
    pthread_mutex_unlock(&c->mu);
    /* the ledger admission decides from (outside c->mu: the cluster lock is never taken under it) */
    if (!c->cl_ready)
        return;
    bprintf(b, "# HELP foresight_controller_ledger_reserved What the reservation ledger holds on each node now "
               "(cpu in millicores, memory in bytes).\n"
               "# TYPE foresight_controller_ledger_reserved gauge\n");
    int64_t now = time(NULL);
    cluster_lock(&c->cl);
    ledger_advance(c->cl.ledger, now);
    for (size_t i = 0; i < c->cl.ledger->n_nodes; i++) {
        const struct ledger_node *nd = c->cl.ledger->nodes[i];
        for (int r = 0; r < CURVE_NET; r++)
            bprintf(b, "foresight_controller_ledger_reserved{node=\"%s\",resource=\"%s\"} %lld\n", nd->name,
                    curve_res_name((enum curve_res)r), (long long)ledger_reserved(c->cl.ledger, nd, (enum curve_res)r, now));
    }
    cluster_unlock(&c->cl);
}

static void http_handler(void *arg, const char *path, int *status, const char **ctype, char **body)
{
    struct ctl *c = arg;
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0) {
        *status = 200;
        *body = strdup("ok\n");
    } else if (strcmp(path, "/readyz") == 0) {
        *status = c->synced ? 200 : 503;
        *body = strdup(c->synced ? "ok\n" : "caches not synced yet\n");
    } else if (strcmp(path, "/metrics") == 0) {
        struct buf b = {0};
        metrics_text(c, &b);
        if (b.failed) {
            free(b.p);
            *status = 503;
            *body = strdup("cannot render metrics\n");
            return;
        }
        *status = 200;
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        *body = b.p;
    } else {
        *status = 404;
        *body = strdup("not found\n");
    }
}

/* ---- workers -------------------------------------------------------------------------- */

/* Takes namespaces off the queue while this replica leads; the queue never hands one key to
 * two workers at once, so namespaces are reconciled in parallel and a huge one cannot starve
 * the others. */
static void *worker(void *arg)
{
    struct ctl *c = arg;
    while (!ctl_stopping) {
        if (!c->leader) {
            usleep(100 * 1000);
            continue;
        }
        char *key = NULL;
        enum fs_err rc = kube_workqueue_get(c->queue, &key, 250);
        if (rc != FS_OK || !key)
            continue;
        if (!c->leader) { /* lost the lease while waiting: leave it for the next leader */
            kube_workqueue_done(c->queue, key);
            free(key);
            continue;
        }
        rc = reconcile_namespace(c, key);
        if (rc == FS_OK) {
            kube_workqueue_forget(c->queue, key);
            ctl_count(c, &c->n.reconciles_ok, 1);
        } else {
            const char *kv[] = {"namespace", key, "error", fs_strerror(rc), NULL};
            log_kv(LOG_WARN, "reconcile failed, retrying with backoff", kv);
            kube_workqueue_add_rate_limited(c->queue, key);
            ctl_count(c, &c->n.reconciles_err, 1);
        }
        kube_workqueue_done(c->queue, key);
        free(key);
    }
    return NULL;
}

/* ---- main ----------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: foresight-controller [--config FILE] [flags]\n"
            "  --config FILE            settings from a YAML file, keys named like the flags below\n"
            "                           (e.g. step: 30s, leader-elect: false, workers: 8); flags override\n"
            "                           it; an unknown key or a bad value is an error naming it\n"
            "  --kubeconfig PATH        kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)\n"
            "  --context NAME           kubeconfig context\n"
            "  --no-leader-elect        act without holding the Lease (one replica only; file: leader-elect: false)\n"
            "  --lease-namespace NS     namespace of the Lease (default: default)\n"
            "  --lease-name NAME        (default: foresight-controller)\n"
            "  --scheduler-name NAME    schedulerName of the pods it creates (default: foresight)\n"
            "  --http-address ADDR:PORT /healthz, /readyz, /metrics (default: 0.0.0.0:8080; port 0: any)\n"
            "  --step D                 prediction curve and ledger step, seconds or a duration (default: 30)\n"
            "  --horizon STEPS          ledger horizon in steps (default: 240)\n"
            "  --headroom FRACTION      part of every node never promised (default: 0)\n"
            "  --default-duration D     predicted duration when a spec gives none (default: 10m)\n"
            "  --sample-interval D      metrics.k8s.io sampling period (default: 15s)\n"
            "  --prometheus-url URL     Prometheus base URL: pods' network usage is read from it every\n"
            "                           sampling period (default: none, network is not sampled)\n"
            "  --prometheus-network-query Q  PromQL giving bytes/s per pod, one series per pod labelled\n"
            "                           namespace and pod (default: " CTL_DEFAULT_NETWORK_QUERY ")\n"
            "  --prometheus-timeout D   bound of one Prometheus query (default: 5s)\n"
            "  --prometheus-ca-file PATH  PEM bundle verifying an https:// Prometheus (default: system store)\n"
            "  --prometheus-insecure-skip-tls-verify  do not verify Prometheus's certificate (a warning is logged)\n"
            "  --prometheus-bearer-token-file PATH  sent as a bearer token, re-read before every query\n"
            "                           (e.g. /var/run/secrets/kubernetes.io/serviceaccount/token)\n"
            "  --prometheus-username NAME  basic auth, with --prometheus-password-file PATH (re-read before\n"
            "                           every query); exclusive with the bearer token\n"
            "  --requeue D              queued tasks are re-evaluated at least this often (default: 30s)\n"
            "  --anomaly-tolerance F    usage above p90*(1+F) counts as above the band (default: 0.1)\n"
            "  --learn-min-runs N       completed runs before a TaskProfile predicts (default: 3)\n"
            "  --qps N                  API requests per second (default: 50)\n"
            "  --workers N              namespaces reconciled at once (default: 4)\n"
            "  --log-json               JSON logs (file: log-json: true)\n"
            "  -v, --verbose            debug logs (file: verbose: true)\n");
}

int main(int argc, char **argv)
{
    static struct ctl c;
    struct kube_config cfg;
    enum log_level level = LOG_INFO;
    enum log_format fmt = LOG_LOGFMT;
    int ret = 1;
    char err[400];
    ctl_opts_init(&c.o);
    static const struct option lo[] = {
        {"config", required_argument, 0, 0}, {"kubeconfig", required_argument, 0, 0},
        {"context", required_argument, 0, 0}, {"no-leader-elect", no_argument, 0, 0},
        {"lease-namespace", required_argument, 0, 0}, {"lease-name", required_argument, 0, 0},
        {"scheduler-name", required_argument, 0, 0},
        {"step", required_argument, 0, 0}, {"default-duration", required_argument, 0, 0},
        {"log-json", no_argument, 0, 0}, {"http-address", required_argument, 0, 0},
        {"sample-interval", required_argument, 0, 0}, {"requeue", required_argument, 0, 0},
        {"anomaly-tolerance", required_argument, 0, 0}, {"learn-min-runs", required_argument, 0, 0},
        {"headroom", required_argument, 0, 0}, {"horizon", required_argument, 0, 0},
        {"qps", required_argument, 0, 0}, {"workers", required_argument, 0, 0},
        {"prometheus-url", required_argument, 0, 0}, {"prometheus-network-query", required_argument, 0, 0},
        {"prometheus-timeout", required_argument, 0, 0}, {"prometheus-ca-file", required_argument, 0, 0},
        {"prometheus-insecure-skip-tls-verify", no_argument, 0, 0},
        {"prometheus-bearer-token-file", required_argument, 0, 0},
        {"prometheus-username", required_argument, 0, 0}, {"prometheus-password-file", required_argument, 0, 0},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    /* two passes: the file first, then every flag over it */
    for (int pass = 0; pass < 2; pass++) {
        int opt, idx = 0;
        optind = 1;
        opterr = pass == 1;
        while ((opt = getopt_long(argc, argv, "vh", lo, &idx)) != -1) {
            const char *name = opt == 0 ? lo[idx].name : opt == 'v' ? "verbose" : NULL;
            if (opt == 'h') {
                usage();
                ctl_opts_release(&c.o);
                return 0;
            }
            if (!name) {
                if (pass == 1) {
                    usage();
                    ctl_opts_release(&c.o);
                    return 2;
                }
                continue;
            }
            enum fs_err src;
            if (strcmp(name, "config") == 0)
                src = pass == 0 ? ctl_opts_load_file(&c.o, optarg, err, sizeof(err)) : FS_OK;
            else
                src = pass == 1 ? ctl_opts_set(&c.o, name, optarg, err, sizeof(err)) : FS_OK;
            if (src != FS_OK) {
                fprintf(stderr, "%s%s\n", strcmp(name, "config") == 0 ? "--config: " : "--", err);
                ctl_opts_release(&c.o);
                return 2;
            }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "unexpected argument %s\n", argv[optind]);
        usage();
        ctl_opts_release(&c.o);
        return 2;
    }
    if (ctl_opts_check(&c.o, err, sizeof(err)) != FS_OK) {
        fprintf(stderr, "%s\n", err);
        ctl_opts_release(&c.o);
        return 2;
    }
    if (c.o.verbose)
        level = LOG_DEBUG;
    if (c.o.log_json)
        fmt = LOG_JSON;
    log_setup(level, fmt);
    memset(&cfg, 0, sizeof(cfg));
    pthread_mutex_init(&c.mu, NULL);
    lmap_init(&c.tracks);
    lmap_init(&c.queued_ns);
    lmap_init(&c.board);
    lmap_init(&c.terminating);
    pthread_mutex_init(&c.admit_mu, NULL);
    enum fs_err rc;
    if (c.o.prom_url) {
        struct netrate_opts no = {c.o.prom_url,
                                  c.o.prom_net_query ? c.o.prom_net_query : CTL_DEFAULT_NETWORK_QUERY,
                                  c.o.prom_timeout_s,
                                  c.o.sample_s,
                                  &c.leader,
                                  {c.o.prom_ca_file, c.o.prom_insecure, c.o.prom_token_file, c.o.prom_username,
                                   c.o.prom_password_file}};
        if ((rc = netrate_start(&no, &c.net, err, sizeof(err))) != FS_OK) {
            log_err("prometheus: %s", err);
            return 2;
        }
        if (c.o.prom_insecure)
            log_warn("prometheus's TLS certificate is not verified (--prometheus-insecure-skip-tls-verify): "
                     "anyone on the path can read the credentials and forge the answers");
        const char *kv[] = {"url", c.o.prom_url, "query",
                            c.o.prom_net_query ? c.o.prom_net_query : CTL_DEFAULT_NETWORK_QUERY, "auth",
                            c.o.prom_token_file ? "bearer" : c.o.prom_username ? "basic" : "none", NULL};
        log_kv(LOG_INFO, "network usage from prometheus", kv);
    }
    if (c.o.kubeconfig)
        rc = kube_config_load_file(&cfg, c.o.kubeconfig, c.o.context);
    else if (getenv("KUBERNETES_SERVICE_HOST"))
        rc = kube_config_in_cluster(&cfg, NULL);
    else
        rc = kube_config_load_default(&cfg, c.o.context);
    if (rc != FS_OK) {
        log_err("cannot load the cluster configuration: %s", fs_strerror(rc));
        netrate_stop(c.net);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct ledger_config lc = {c.o.step_s, c.o.horizon_steps, {c.o.headroom, c.o.headroom, 0}};
    struct kube_informer_opts mo = {.ref = MT_REF, .transform = kube_transform_strip_managed_fields};
    struct kube_informer_opts po = {.ref = {"", "v1", "pods", NULL, NULL, NULL},
                                    .transform = kube_transform_strip_managed_fields};
    struct kube_informer_opts no = {.ref = {"", "v1", "nodes", NULL, NULL, NULL},
                                    .transform = kube_transform_strip_managed_fields};
    struct kube_informer_opts to = {.ref = TP_REF, .transform = kube_transform_strip_managed_fields};
    struct kube_informer_handlers mh = {mt_add, mt_update, mt_delete, &c};
    struct kube_informer_handlers ph = {pod_add, pod_update, pod_delete, &c};
    struct kube_informer_handlers nh = {node_add, node_update, node_delete, &c};
    struct kube_informer_handlers th = {tp_event, tp_update, tp_event, &c};
    struct kube_client_opts co = {.qps = c.o.qps, .burst = (int)(c.o.qps * 2)};
    struct kube_workqueue_opts wo = {.base_delay_ms = 100, .max_delay_ms = 60000};
    char identity[128], host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(identity, sizeof(identity), "%s_%ld", host, (long)getpid());
    struct kube_recorder_opts ro = {"foresight.sh/controller", identity, 0, 0};
    if ((rc = cluster_init(&c.cl, &lc, time(NULL))) != FS_OK) {
        log_err("cannot set up the ledger: %s", fs_strerror(rc));
        goto out;
    }
    c.cl_ready = 1;
    if ((rc = kube_client_new(&c.client, &cfg, &co)) != FS_OK || (rc = kube_workqueue_new(&c.queue, &wo)) != FS_OK ||
        (rc = kube_recorder_new(&c.events, c.client, &ro)) != FS_OK ||
        (rc = kube_informer_new(&c.mts, c.client, &mo)) != FS_OK ||
        (rc = kube_informer_new(&c.pods, c.client, &po)) != FS_OK ||
        (rc = kube_informer_new(&c.nodes, c.client, &no)) != FS_OK ||
        (rc = kube_informer_new(&c.tps, c.client, &to)) != FS_OK ||
        (rc = kube_informer_add_index(c.mts, "namespace", kube_index_namespace)) != FS_OK ||
        (rc = kube_informer_add_handlers(c.mts, &mh)) != FS_OK || (rc = kube_informer_add_handlers(c.pods, &ph)) != FS_OK ||
        (rc = kube_informer_add_handlers(c.nodes, &nh)) != FS_OK || (rc = kube_informer_add_handlers(c.tps, &th)) != FS_OK) {
        log_err("cannot set up: %s", fs_strerror(rc));
        goto out;
    }
    if ((rc = httpd_start(&c.http, c.o.http_host, c.o.http_port, http_handler, &c)) != FS_OK)
        goto out;
    {
        char port[16];
        snprintf(port, sizeof(port), "%d", httpd_port(c.http));
        const char *kv[] = {"address", c.o.http_host, "port", port, "identity", identity, NULL};
        log_kv(LOG_INFO, "serving /healthz /readyz /metrics", kv);
    }
    if (c.o.leader_elect) {
        struct kube_lease_opts lopts = {.namespace = c.o.lease_ns ? c.o.lease_ns : "default",
                                        .name = c.o.lease_name ? c.o.lease_name : "foresight-controller", .identity = identity,
                                        .release_on_stop = 1};
        if ((rc = kube_lease_new(&c.lease, c.client, &lopts)) != FS_OK || (rc = kube_lease_start(c.lease)) != FS_OK) {
            log_err("cannot start leader election: %s", fs_strerror(rc));
            goto out;
        }
    }
    if ((rc = kube_informer_start(c.nodes)) != FS_OK || (rc = kube_informer_start(c.pods)) != FS_OK ||
        (rc = kube_informer_start(c.tps)) != FS_OK || (rc = kube_informer_start(c.mts)) != FS_OK) {
        log_err("cannot start informers: %s", fs_strerror(rc));
        goto out;
    }
    while (!ctl_stopping && (kube_informer_wait_synced(c.nodes, 1000) != FS_OK ||
                         kube_informer_wait_synced(c.pods, 1000) != FS_OK ||
                         kube_informer_wait_synced(c.tps, 1000) != FS_OK ||
                         kube_informer_wait_synced(c.mts, 1000) != FS_OK))
        ;
    c.synced = !ctl_stopping;
    if (c.synced)
        log_info("caches synced, identity %s", identity);
    pthread_t workers[64];
    size_t n_workers = 0;
    for (long i = 0; i < c.o.workers && !ctl_stopping; i++)
        if (pthread_create(&workers[n_workers], NULL, worker, &c) == 0)
            n_workers++;
    if (!n_workers && !ctl_stopping) {
        log_err("cannot start any worker thread");
        goto out;
    }
    int was_leader = 0;
    struct timespec last_sample = {0, 0};
    while (!ctl_stopping) {
        int leader = !c.lease || kube_lease_is_leader(c.lease);
        c.leader = leader;
        if (!leader) {
            if (was_leader)
                log_info("lost the lease: standing by");
            was_leader = 0;
            usleep(200 * 1000);
            continue;
        }
        if (!was_leader) { /* newly leading: look at everything once */
            json_t *all = kube_informer_list(c.mts);
            size_t i;
            json_t *o;
            json_array_foreach(all, i, o)
                enqueue_ns(&c, o);
            json_decref(all);
            was_leader = 1;
            log_info("leading");
        }
        if (c.capacity_changed) { /* capacity freed or added: queued leaves may fit now */
            c.capacity_changed = 0;
            pthread_mutex_lock(&c.mu);
            size_t pos = 0;
            const char *ns;
            void *v;
            while (lmap_next(&c.queued_ns, &pos, &ns, &v))
                kube_workqueue_add(c.queue, ns);
            pthread_mutex_unlock(&c.mu);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - last_sample.tv_sec) + (now.tv_nsec - last_sample.tv_nsec) / 1e9 >= c.o.sample_s) {
            last_sample = now;
            sample(&c);
        }
        usleep(100 * 1000);
    }
    log_info("shutting down");
    if (c.queue)
        kube_workqueue_shutdown(c.queue);
    for (size_t i = 0; i < n_workers; i++)
        pthread_join(workers[i], NULL);
    ret = 0;
out:
    netrate_stop(c.net);
    if (c.queue)
        kube_workqueue_shutdown(c.queue);
    if (c.lease) {
        kube_lease_stop(c.lease); /* releases the Lease: a standby takes over at once */
        kube_lease_free(c.lease);
    }
    kube_informer_free(c.mts);
    kube_informer_free(c.pods);
    kube_informer_free(c.nodes);
    kube_informer_free(c.tps);
    httpd_free(c.http);
    kube_recorder_free(c.events);
    kube_workqueue_free(c.queue);
    kube_client_free(c.client);
    kube_config_release(&cfg);
    {
        size_t pos = 0;
        const char *k;
        void *v;
        while (lmap_next(&c.tracks, &pos, &k, &v))
            track_free(v);
    }
    lmap_release(&c.tracks);
    lmap_release(&c.queued_ns);
    {
        size_t pos = 0;
        const char *k;
        void *v;
        while (lmap_next(&c.board, &pos, &k, &v))
            board_entry_free(v);
    }
    lmap_release(&c.board);
    lmap_release(&c.terminating);
    pthread_mutex_destroy(&c.admit_mu);
    if (c.cl_ready)
        cluster_release(&c.cl);
    pthread_mutex_destroy(&c.mu);
    ctl_opts_release(&c.o);
    log_info("stopped");
    return ret;
}
