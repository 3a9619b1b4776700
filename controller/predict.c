/* Curve assembly for leaf micro-tasks and the status JSON written from it (see predict.h).
 * Every value put into a curve is finite, rounded to an integer and clamped at zero, so no
 * NaN ever reaches the API server or the ledger. */
#include "predict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "kube/quantity.h"

static enum fs_err flat_curve(const char *model, double duration_s, const int64_t value[CURVE_NRES],
                              int64_t start_s, uint32_t step_s, struct curve *c, char *err,
                              size_t errlen)
{
    if (step_s == 0 || step_s > CURVE_MAX_STEP_S)
        return fs_say(err, errlen, FS_EINVAL, "curve step must be from 1 s to 1 day");
    if (!isfinite(duration_s) || duration_s < 0)
        return fs_say(err, errlen, FS_EINVAL, "predicted duration must be finite and not negative");
    double steps = ceil(duration_s / step_s);
    if (steps < 1)
        steps = 1;
    if (steps > CURVE_MAX_STEPS)
        return fs_say(err, errlen, FS_ERANGE, "predicted duration is longer than the longest curve (20160 steps)");
    int64_t dur = (int64_t)ceil(duration_s);
    if (dur < 1)
        dur = 1;
    enum fs_err rc = curve_alloc(c, model, start_s, step_s, (uint32_t)steps, dur);
    if (rc != FS_OK)
        return fs_say(err, errlen, rc, "out of memory");
    for (uint32_t i = 0; i < c->n_steps; i++)
        for (int r = 0; r < CURVE_NRES; r++)
            c->v[CURVE_P50][r][i] = c->v[CURVE_P90][r][i] = value[r] > 0 ? value[r] : 0;
    return FS_OK;
}

enum fs_err predict_from_resources(const struct microtask *mt, int64_t start_s, uint32_t step_s,
                                   double default_s, struct curve *c, char *err, size_t errlen)
{
    if (!mt->has_resources)
        return fs_say(err, errlen, FS_EINVAL, "spec.resources is not set and nothing is learnt for this task type");
    int64_t v[CURVE_NRES] = {mt->res_cpu_milli, mt->res_mem_bytes, mt->res_net_bps};
    double d = mt->res_duration_s > 0 ? mt->res_duration_s : default_s;
    return flat_curve("resources", d, v, start_s, step_s, c, err, errlen);
}

enum fs_err predict_from_estimate(const struct decompose_estimate *e, int64_t units, int64_t net_bps,
                                  int64_t start_s, uint32_t step_s, struct curve *c, char *err,
                                  size_t errlen)
{
    if (units < 1)
        return fs_say(err, errlen, FS_EINVAL, "work units must be at least 1");
    double u = (double)units;
    double d = e->fixed_s + e->s_per_unit * u;
    double cpu = e->fixed_cpu_milli + e->cpu_milli_per_unit * u;
    double mem = e->fixed_mem_bytes + e->mem_bytes_per_unit * u;
    if (!isfinite(d) || !isfinite(cpu) || !isfinite(mem) || d < 0 || cpu < 0 || mem < 0)
        return fs_say(err, errlen, FS_EINVAL, "estimate must be finite and not negative");
    int64_t v[CURVE_NRES] = {curve_value(cpu), curve_value(mem), net_bps};
    return flat_curve("estimate", d, v, start_s, step_s, c, err, errlen);
}

enum fs_err predict_splice(const struct curve *pred, const int64_t *const observed[CURVE_NRES],
                           uint32_t n_obs, struct curve *out)
{
    curve_init(out);
    if (pred->flat || pred->n_steps == 0 || pred->step_s == 0)
        return FS_EINVAL;
    if (n_obs > CURVE_MAX_STEPS - 1)
        return FS_ERANGE;
    for (int r = 0; r < CURVE_NRES; r++)
        if (n_obs && !observed[r])
            return FS_EINVAL;
    uint32_t n = pred->n_steps > n_obs ? pred->n_steps : n_obs + 1;
    char model[sizeof(pred->model)];
    snprintf(model, sizeof(model), "%.22s+observed", pred->model);
    int64_t dur = pred->duration_s;
    if ((int64_t)n * pred->step_s < dur || n > pred->n_steps)
        dur = (int64_t)n * pred->step_s;
    enum fs_err rc = curve_alloc(out, model, pred->start_s, pred->step_s, n, dur);
    if (rc != FS_OK)
        return rc;
    for (int r = 0; r < CURVE_NRES; r++) {
        double obs = 0, exp = 0;
        for (uint32_t i = 0; i < n_obs; i++) {
            int64_t o = observed[r][i] > 0 ? observed[r][i] : 0;
            out->v[CURVE_P50][r][i] = out->v[CURVE_P90][r][i] = o;
            obs += (double)o;
            if (i < pred->n_steps)
                exp += (double)pred->v[CURVE_P50][r][i];
        }
        double k = 1;
        if (n_obs && exp > 0) {
            k = obs / exp;
            k = k < PREDICT_SCALE_MIN ? PREDICT_SCALE_MIN : k > PREDICT_SCALE_MAX ? PREDICT_SCALE_MAX : k;
        }
        for (uint32_t i = n_obs; i < n; i++) {
            if (i < pred->n_steps) {
                out->v[CURVE_P50][r][i] = curve_value(k * (double)pred->v[CURVE_P50][r][i]);
                out->v[CURVE_P90][r][i] = curve_value(k * (double)pred->v[CURVE_P90][r][i]);
            } else { /* running past the prediction: expect one more step like the last one */
                int64_t last = n_obs ? out->v[CURVE_P50][r][n_obs - 1] : 0;
                out->v[CURVE_P50][r][i] = out->v[CURVE_P90][r][i] = last;
            }
        }
    }
    return FS_OK;
}

static enum fs_err set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v)) ? FS_ENOMEM : FS_OK;
}

enum fs_err predict_summary_json(const struct curve *c, json_t **out)
{
    enum fs_err rc = FS_EINVAL;
    json_t *o = NULL;
    char buf[KUBE_QUANTITY_STR_MAX], rate[KUBE_QUANTITY_STR_MAX + 4], dur[DURATION_STR_MAX];
    int64_t at = 0;

    *out = NULL;
    if (c->flat || c->n_steps == 0)
        goto out;
    rc = FS_ENOMEM;
    if (!(o = json_object()))
        goto out;
    int64_t cpu = curve_peak(c, CURVE_P90, CURVE_CPU, &at);
    int64_t mem = curve_peak(c, CURVE_P90, CURVE_MEM, NULL);
    int64_t net = curve_peak(c, CURVE_P90, CURVE_NET, NULL);
    if ((rc = kube_format_milli(cpu, buf, sizeof(buf))) != FS_OK || (rc = set_str(o, "cpuPeak", buf)) != FS_OK)
        goto out;
    if ((rc = kube_format_bytes(mem, buf, sizeof(buf))) != FS_OK || (rc = set_str(o, "memoryPeak", buf)) != FS_OK)
        goto out;
    if ((rc = kube_format_bytes(net, buf, sizeof(buf))) != FS_OK)
        goto out;
    snprintf(rate, sizeof(rate), "%s/s", buf);
    if ((rc = set_str(o, "networkPeak", rate)) != FS_OK)
        goto out;
    duration_format((double)(at - c->start_s), dur, sizeof(dur));
    if ((rc = set_str(o, "peakAfter", dur)) != FS_OK)
        goto out;
    duration_format((double)c->duration_s, dur, sizeof(dur));
    if ((rc = set_str(o, "duration", dur)) != FS_OK || (rc = set_str(o, "model", c->model)) != FS_OK)
        goto out;
    *out = o;
    o = NULL;
    rc = FS_OK;
out:
    json_decref(o);
    return rc;
}

enum fs_err predict_status_patch(const struct curve *c, json_t **out)
{
    enum fs_err rc;
    json_t *pred = NULL, *sum = NULL, *status = NULL, *patch = NULL;
    *out = NULL;
    if ((rc = curve_to_json(c, &pred)) != FS_OK || (rc = predict_summary_json(c, &sum)) != FS_OK)
        goto out;
    rc = FS_ENOMEM;
    if (!(status = json_object()) || !(patch = json_object()))
        goto out;
    /* set_new steals the value even on failure: clear our pointer first */
    json_t *p = pred, *s = sum;
    pred = sum = NULL;
    if (json_object_set_new(status, "prediction", p) || json_object_set_new(status, "predictionSummary", s))
        goto out;
    json_t *st = status;
    status = NULL;
    if (json_object_set_new(patch, "status", st))
        goto out;
    *out = patch;
    patch = NULL;
    rc = FS_OK;
out:
    json_decref(pred);
    json_decref(sum);
    json_decref(status);
    json_decref(patch);
    return rc;
}
