/* The MicroTask status the controller writes: conditions (lastTransitionTime kept while a
 * condition's status holds), the prediction fields, a leaf's phase from its pod, and the
 * PATCH of what differs from the cached status, against the version it was computed from. */
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "common/log.h"

#include "ctl.h"
#include "duration.h"
#include "predict.h"

/* conditions: keep lastTransitionTime when a condition's status did not change */
json_t *status_condition(const json_t *old_status, const char *type, const char *status,
                         const char *reason, const char *message, int64_t generation)
{
    char now[40];
    const char *ltt = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(old_status, "conditions"), i, c) {
        const char *t = ctl_jstr(c, "type"), *s = ctl_jstr(c, "status");
        if (t && s && strcmp(t, type) == 0 && strcmp(s, status) == 0)
            ltt = ctl_jstr(c, "lastTransitionTime");
    }
    rfc3339_format(time(NULL), now, sizeof(now));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", type, "status", status, "reason", reason,
                     "message", message, "lastTransitionTime", ltt ? ltt : now,
                     "observedGeneration", (json_int_t)generation);
}

const json_t *status_find_condition(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) {
        const char *t = ctl_jstr(c, "type");
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

int status_condition_true(const json_t *status, const char *type)
{
    const json_t *c = status_find_condition(json_object_get(status, "conditions"), type);
    const char *s = ctl_jstr(c, "status");
    return s && strcmp(s, "True") == 0;
}

/* Appends to conds the old status's condition of each type conds does not have yet: conditions
 * another part of the controller owns (Anomalous, Learnt, ...) survive a reconcile. */
void status_carry_conditions(json_t *conds, const json_t *old_status)
{
    size_t i;
    json_t *oc;
    json_array_foreach(json_object_get(old_status, "conditions"), i, oc) {
        const char *t = ctl_jstr(oc, "type");
        if (t && !status_find_condition(conds, t))
            json_array_append(conds, oc);
    }
}

/* Replaces (or adds) one condition in a copy of the old list. New reference. */
json_t *status_set_condition(const json_t *old_status, json_t *cond)
{
    json_t *conds = json_array();
    size_t i;
    json_t *oc;
    json_array_foreach(json_object_get(old_status, "conditions"), i, oc)
        if (!json_equal(json_object_get(oc, "type"), json_object_get(cond, "type")))
            json_array_append(conds, oc);
    json_array_append_new(conds, cond);
    return conds;
}

/* PATCHes status with the keys of `want` that differ from the cached status; steals want. */
enum fs_err status_patch(struct ctl *c, const json_t *obj, const char *ns, const char *name, int64_t generation,
                                json_t *want)
{
    enum fs_err rc = FS_OK;
    const json_t *old = json_object_get(obj, "status");
    const char *k;
    json_t *v, *diff = json_object();
    if (!want || !diff) {
        rc = FS_ENOMEM;
        goto out;
    }
    json_object_foreach(want, k, v) {
        if (strcmp(k, "conditions") == 0) { /* compare without the timestamps */
            const json_t *oc = json_object_get(old, "conditions");
            int same = json_array_size(oc) == json_array_size(v);
            for (size_t i = 0; same && i < json_array_size(v); i++) {
                json_t *a = json_array_get(v, i), *b = json_array_get(oc, i);
                const char *keys[] = {"type", "status", "reason", "message"};
                for (size_t j = 0; j < 4; j++)
                    same = same && json_equal(json_object_get(a, keys[j]), json_object_get(b, keys[j]));
            }
            if (same)
                continue;
        } else if (json_equal(json_object_get(old, k), v)) {
            continue;
        }
        json_object_set(diff, k, v);
    }
    if (json_object_size(diff) == 0)
        goto out;
    json_object_set_new(diff, "observedGeneration", json_integer(generation));
    /* written against the version it was computed from: a status another writer changed
     * meanwhile (the sampler, an earlier pass the cache had not caught up with) is a conflict,
     * retried with backoff once the cache has the newer object, never silently overwritten */
    const char *rv = ctl_meta(obj, "resourceVersion");
    json_t *patch = rv ? json_pack("{s:{s:s}, s:O}", "metadata", "resourceVersion", rv, "status", diff)
                       : json_pack("{s:O}", "status", diff);
    struct kube_ref ref = MT_REF;
    struct kube_status st;
    ref.namespace = ns;
    ref.name = name;
    ref.subresource = "status";
    rc = kube_patch(c->client, &ref, KUBE_PATCH_MERGE, patch, NULL, NULL, &st);
    if (rc == FS_ENOTFOUND) {
        rc = FS_OK; /* deleted meanwhile */
    } else if (rc == FS_ECONFLICT) {
        log_debug("status of %s/%s changed meanwhile: retrying", ns, name);
    } else if (rc != FS_OK) {
        char buf[600];
        log_warn("cannot write status of %s/%s: %s", ns, name, kube_status_str(&st, buf, sizeof(buf)));
    }
    json_decref(patch);
out:
    json_decref(diff);
    json_decref(want);
    return rc;
}

enum mt_phase status_pod_phase(const json_t *pod)
{
    const char *ph = ctl_jstr(json_object_get(pod, "status"), "phase");
    const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");
    if (ph && strcmp(ph, "Succeeded") == 0)
        return MT_PHASE_SUCCEEDED;
    if (ph && strcmp(ph, "Failed") == 0)
        return MT_PHASE_FAILED;
    if (ph && strcmp(ph, "Running") == 0)
        return MT_PHASE_RUNNING;
    return node && node[0] ? MT_PHASE_SCHEDULED : MT_PHASE_QUEUED;
}

void status_set_prediction(json_t *status, const struct curve *cv)
{
    json_t *patch = NULL;
    if (predict_status_patch(cv, &patch) == FS_OK) {
        json_t *ps = json_object_get(patch, "status");
        json_object_set(status, "prediction", json_object_get(ps, "prediction"));
        json_object_set(status, "predictionSummary", json_object_get(ps, "predictionSummary"));
    }
    json_decref(patch);
}
