/* What TaskProfiles learn, written through the API server: a completed leaf's run (its
 * observed usage, duration and prediction error) and the arrivals of root MicroTasks, each
 * folded (learn.h) into the newest version of its type's TaskProfile, created on first use. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "common/log.h"
#include "kube/client.h"

#include "build.h"
#include "ctl.h"
#include "duration.h"
#include "learn.h"

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
enum fs_err taskprofile_learn_run(struct ctl *c, const json_t *obj, const struct microtask *mt, const json_t *pod,
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
enum fs_err taskprofile_fold_arrivals(struct ctl *c, const char *ns, const struct microtask *mts, size_t n)
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
