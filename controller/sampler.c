/* Usage feedback while leaves run: every sampling period the pods' usage from metrics.k8s.io
 * (and network from Prometheus) is folded into each leaf's track, replaces the predicted part
 * of its curve, gives the error so far and flags anomalies, acted on by the leaf's policy
 * (alert, re-reserve, throttle through pods/resize). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "common/log.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/quantity.h"

#include "build.h"
#include "ctl.h"
#include "duration.h"
#include "netrate.h"
#include "predict.h"
#include "throttle.h"
#include "usage.h"

static void track_free(struct track *t)
{
    if (!t)
        return;
    curve_release(&t->baseline);
    usage_obs_release(&t->obs);
    free(t);
}

void sampler_track_drop(struct ctl *c, const char *ns, const char *name)
{
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    pthread_mutex_lock(&c->mu);
    struct track *t = lmap_del(&c->tracks, key);
    pthread_mutex_unlock(&c->mu);
    track_free(t);
}

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
        /* re-reserve: the rest of the curve at least at the highest level observed (network
         * stays 0 in obs until sampled) */
        for (int r = 0; r < CURVE_NRES; r++) {
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
    /* the condition is written again at every sample until the status has it: a write that
     * lost a conflict (another writer, a cache behind) must not lose the anomaly with it */
    if (flagged || (an.flagged && !status_condition_true(old, "Anomalous"))) {
        char amt[32], band[32], msg[400];
        ledger_format_amount(an.res, an.observed, amt, sizeof(amt));
        ledger_format_amount(an.res, an.band, band, sizeof(band));
        snprintf(msg, sizeof(msg), "%s usage %s above its predicted p90 %s for %.0fs (window %.0fs); action %s",
                 curve_res_name(an.res), amt, band, an.for_s, mt.anomaly_window_s, action_name(mt.anomaly_action));
        conds = status_set_condition(old, status_condition(old, "Anomalous", "True", "UsageAboveBand", msg, mt.generation));
        if (flagged) { /* said once */
            kube_event_record(c->events, obj, "Warning", "Anomalous", "Observe", "%s", msg);
            const char *kv[] = {"namespace", ns, "microtask", name, "detail", msg, NULL};
            log_kv(LOG_WARN, "anomaly", kv);
        }
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

void sampler_run(struct ctl *c)
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

void sampler_free_tracks(struct ctl *c)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (lmap_next(&c->tracks, &pos, &k, &v))
        track_free(v);
}
