/* One namespace's reconcile: the dependency graph is evaluated, ready tasks are split into
 * child MicroTasks, each ready leaf is predicted and admitted in one priority order with the
 * leaves other namespaces left Queued (its Pod created only when its p90 curve fits), leaves
 * with pods follow them, and every status is written, the API writes in parallel. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "common/log.h"
#include "forecast/profile.h"
#include "kube/client.h"
#include "kube/events.h"

#include "admit.h"
#include "build.h"
#include "ctl.h"
#include "dag.h"
#include "decompose.h"
#include "duration.h"
#include "learn.h"
#include "predict.h"
#include "priority.h"

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
        enum fs_err rc = taskprofile_learn_run(c, obj, mt, pod, msg, sizeof(msg));
        if (rc != FS_OK && rc != FS_EDATA && rc != FS_EGONE) { /* EGONE: its namespace is being deleted */
            log_warn("cannot learn from %s/%s: %s", mt->ns, mt->name, msg);
            json_object_set_new(status, "phase", json_string(was ? was : "Running"));
            return rc; /* retried with backoff; the phase moves on once the run is learnt */
        }
        json_array_append_new(conds, status_condition(old, "Learnt", rc == FS_OK ? "True" : "False",
                                               rc == FS_OK ? "FoldedIntoProfile" : rc == FS_EGONE ? "NamespaceTerminating" : "NoSamples", msg, mt->generation));
        const char *kv[] = {"namespace", mt->ns, "microtask", mt->name, "detail", msg, NULL};
        log_kv(LOG_INFO, "leaf succeeded", kv);
        sampler_track_drop(c, mt->ns, mt->name);
    } else if (ph == MT_PHASE_FAILED) {
        sampler_track_drop(c, mt->ns, mt->name);
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

enum fs_err reconcile_namespace(struct ctl *c, const char *ns)
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
        enum fs_err rc = taskprofile_fold_arrivals(c, ns, mts, n);
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

void reconcile_free_board(struct ctl *c)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (lmap_next(&c->board, &pos, &k, &v))
        board_entry_free(v);
}
