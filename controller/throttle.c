/* Throttle plan for pods/resize (see throttle.h). The rules mirror the API server's
 * ValidatePodResize (pkg/apis/core/validation) and qos.ComputePodQOS: the QoS class is
 * computed from the summed cpu and memory requests and limits, and must be the same after. */
#include "throttle.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kube/quantity.h"

#define THROTTLE_MAX_CONTAINERS 64

static const json_t *resources_of(const json_t *ctr, const char *which)
{
    return json_object_get(json_object_get(ctr, "resources"), which);
}

/* a quantity in the container's requests or limits; 0 when unset, zero or unparsable */
static int64_t amount(const json_t *ctr, const char *which, const char *res)
{
    const char *q = json_string_value(json_object_get(resources_of(ctr, which), res));
    int64_t v = 0;
    if (!q)
        return 0;
    enum fs_err rc = strcmp(res, "cpu") == 0 ? kube_parse_milli(q, &v) : kube_parse_bytes(q, &v);
    return rc == FS_OK && v > 0 ? v : 0;
}

enum throttle_qos throttle_qos(const json_t *pod_spec)
{
    static const char *const res[2] = {"cpu", "memory"};
    int64_t req[2] = {0, 0}, lim[2] = {0, 0};
    int has_req[2] = {0, 0}, has_lim[2] = {0, 0}, guaranteed = 1;
    static const char *const lists[2] = {"containers", "initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        const json_t *ctr;
        json_array_foreach(json_object_get(pod_spec, lists[l]), i, ctr) {
            int limits_found = 0;
            for (int r = 0; r < 2; r++) {
                int64_t q = amount(ctr, "requests", res[r]);
                if (q > 0) {
                    req[r] += q;
                    has_req[r] = 1;
                }
                q = amount(ctr, "limits", res[r]);
                if (q > 0) {
                    lim[r] += q;
                    has_lim[r] = 1;
                    limits_found++;
                }
            }
            if (limits_found < 2)
                guaranteed = 0;
        }
    }
    int n_req = has_req[0] + has_req[1], n_lim = has_lim[0] + has_lim[1];
    if (n_req == 0 && n_lim == 0)
        return THROTTLE_BEST_EFFORT;
    for (int r = 0; guaranteed && r < 2; r++)
        if (has_req[r] && (!has_lim[r] || lim[r] != req[r]))
            guaranteed = 0;
    return guaranteed && n_req == n_lim ? THROTTLE_GUARANTEED : THROTTLE_BURSTABLE;
}

const char *throttle_qos_name(enum throttle_qos q)
{
    return q == THROTTLE_GUARANTEED ? "Guaranteed" : q == THROTTLE_BURSTABLE ? "Burstable" : "BestEffort";
}

static int set_cpu(json_t *ctr, const char *which, int64_t milli)
{
    char q[KUBE_QUANTITY_STR_MAX];
    json_t *res = json_object_get(ctr, "resources");
    if (!json_is_object(res)) {
        res = json_object();
        if (json_object_set_new(ctr, "resources", res))
            return -1;
    }
    json_t *list = json_object_get(res, which);
    if (!json_is_object(list)) {
        list = json_object();
        if (json_object_set_new(res, which, list))
            return -1;
    }
    if (kube_format_milli(milli, q, sizeof(q)) != FS_OK)
        return -1;
    return json_object_set_new(list, "cpu", json_string(q));
}

enum fs_err throttle_plan(const json_t *pod, int64_t target_milli, json_t **patch, char *msg, size_t msglen)
{
    enum fs_err rc = FS_EINVAL;
    const json_t *spec = json_object_get(pod, "spec");
    const json_t *ctrs = json_object_get(spec, "containers");
    json_t *after = NULL, *out = NULL;
    size_t n = json_array_size(ctrs);
    int64_t lim[THROTTLE_MAX_CONTAINERS], req[THROTTLE_MAX_CONTAINERS], nlim[THROTTLE_MAX_CONTAINERS],
        nreq[THROTTLE_MAX_CONTAINERS];
    int64_t sum_lim = 0, sum_req = 0;
    *patch = NULL;
    if (!json_is_object(spec) || n == 0 || n > THROTTLE_MAX_CONTAINERS) {
        snprintf(msg, msglen, "the pod has no containers to resize");
        goto out;
    }
    const json_t *pr = json_object_get(spec, "resources");
    if (json_object_size(json_object_get(pr, "requests")) + json_object_size(json_object_get(pr, "limits")) > 0) {
        snprintf(msg, msglen, "the pod has pod-level resources, which a container resize cannot lower");
        goto out;
    }
    enum throttle_qos qos = throttle_qos(spec);
    if (qos == THROTTLE_BEST_EFFORT) {
        snprintf(msg, msglen, "the pod is BestEffort: a cpu limit would change its QoS class, which a resize may not");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *ctr = json_array_get(ctrs, i);
        lim[i] = amount(ctr, "limits", "cpu");
        req[i] = amount(ctr, "requests", "cpu");
        if (!json_string_value(json_object_get(ctr, "name"))) {
            snprintf(msg, msglen, "container %zu has no name", i);
            goto out;
        }
        sum_lim += lim[i];
        sum_req += req[i];
    }
    /* the containers with a limit share the target; without any limit, those with a request */
    int by_limit = sum_lim > 0;
    int64_t w_sum = by_limit ? sum_lim : sum_req;
    if (w_sum == 0) {
        snprintf(msg, msglen, "no container has a cpu request or limit to lower");
        goto out;
    }
    if (by_limit && sum_lim <= target_milli) {
        char have[KUBE_QUANTITY_STR_MAX], want[KUBE_QUANTITY_STR_MAX];
        kube_format_milli(sum_lim, have, sizeof(have));
        kube_format_milli(target_milli, want, sizeof(want));
        snprintf(msg, msglen, "cpu limit %s already at or below %s", have, want);
        rc = FS_OK;
        goto out;
    }
    rc = FS_ENOMEM;
    if (!(after = json_deep_copy(spec)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        int64_t w = by_limit ? lim[i] : req[i];
        nlim[i] = lim[i];
        nreq[i] = req[i];
        if (w == 0)
            continue; /* no limit (or, without limits, no request): left as it is */
        int64_t l = (int64_t)((double)target_milli * (double)w / (double)w_sum);
        if (l < 1) {
            snprintf(msg, msglen, "a target of %" PRId64 "m leaves container %s under 1m", target_milli,
                     json_string_value(json_object_get(json_array_get(ctrs, i), "name")));
            rc = FS_EINVAL;
            goto out;
        }
        if (lim[i] && l >= lim[i])
            continue;
        nlim[i] = l;
        if (nreq[i] > l)
            nreq[i] = l;
        json_t *ctr = json_array_get(json_object_get(after, "containers"), i);
        if (set_cpu(ctr, "limits", nlim[i]) || (nreq[i] != req[i] && set_cpu(ctr, "requests", nreq[i])))
            goto out;
    }
    rc = FS_EINVAL;
    enum throttle_qos now = throttle_qos(after);
    if (now == THROTTLE_GUARANTEED && qos == THROTTLE_BURSTABLE) {
        /* equal requests and limits everywhere would make it Guaranteed: one request stays under */
        for (size_t i = 0; i < n && now != qos; i++) {
            if (nlim[i] == lim[i] || nlim[i] < 2)
                continue;
            nreq[i] = nlim[i] - 1;
            if (set_cpu(json_array_get(json_object_get(after, "containers"), i), "requests", nreq[i])) {
                rc = FS_ENOMEM;
                goto out;
            }
            now = throttle_qos(after);
        }
    }
    if (now != qos) {
        snprintf(msg, msglen, "lowering the cpu limit to %" PRId64 "m would change the QoS class from %s to %s",
                 target_milli, throttle_qos_name(qos), throttle_qos_name(now));
        goto out;
    }
    rc = FS_ENOMEM;
    json_t *list = json_array();
    if (!list || !(out = json_pack("{s:{s:o}}", "spec", "containers", list)))
        goto out;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (nlim[i] == lim[i] && nreq[i] == req[i])
            continue;
        char l_s[KUBE_QUANTITY_STR_MAX], r_s[KUBE_QUANTITY_STR_MAX], was[KUBE_QUANTITY_STR_MAX];
        const char *name = json_string_value(json_object_get(json_array_get(ctrs, i), "name"));
        kube_format_milli(nlim[i], l_s, sizeof(l_s));
        kube_format_milli(nreq[i], r_s, sizeof(r_s));
        json_t *res = json_pack("{s:{s:s}}", "limits", "cpu", l_s);
        if (!res || (nreq[i] != req[i] && json_object_set_new(res, "requests", json_pack("{s:s}", "cpu", r_s))) ||
            json_array_append_new(list, json_pack("{s:s, s:o}", "name", name, "resources", res))) {
            goto out;
        }
        if (lim[i])
            kube_format_milli(lim[i], was, sizeof(was));
        else
            snprintf(was, sizeof(was), "none");
        size_t at = used ? strlen(msg) : 0;
        if (at < msglen)
            snprintf(msg + at, msglen - at, "%scpu limit of container %s lowered from %s to %s%s%s%s", used ? "; " : "",
                     name, was, l_s, nreq[i] != req[i] ? " (request " : "", nreq[i] != req[i] ? r_s : "",
                     nreq[i] != req[i] ? ")" : "");
        used++;
    }
    *patch = out;
    out = NULL;
    rc = FS_OK;
out:
    json_decref(after);
    json_decref(out);
    return rc;
}
