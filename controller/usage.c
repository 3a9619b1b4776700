/* Observed usage per prediction step, error figures and the anomaly band check (see usage.h).
 * Every figure written out is finite: undefined ones are flagged, never NaN. */
#include "usage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void usage_obs_init(struct usage_obs *o, int64_t start_s, uint32_t step_s)
{
    memset(o, 0, sizeof(*o));
    o->start_s = start_s;
    o->step_s = step_s ? step_s : 1;
    o->acc_step = -1;
}

void usage_obs_release(struct usage_obs *o)
{
    for (int r = 0; r < CURVE_NRES; r++)
        free(o->v[r]);
    usage_obs_init(o, o->start_s, o->step_s);
}

static enum fs_err grow(struct usage_obs *o, uint32_t need)
{
    if (need <= o->cap)
        return FS_OK;
    if (need > CURVE_MAX_STEPS)
        return FS_ERANGE;
    uint32_t cap = o->cap ? o->cap : 16;
    while (cap < need)
        cap *= 2;
    if (cap > CURVE_MAX_STEPS)
        cap = CURVE_MAX_STEPS;
    for (int r = 0; r < CURVE_NRES; r++) {
        int64_t *p = realloc(o->v[r], cap * sizeof(int64_t));
        if (!p)
            return FS_ENOMEM;
        o->v[r] = p;
    }
    o->cap = cap;
    return FS_OK;
}

enum fs_err usage_obs_load(struct usage_obs *o, const struct curve *c, uint32_t n_obs)
{
    usage_obs_release(o);
    usage_obs_init(o, c->start_s, c->step_s);
    if (c->flat || n_obs > c->n_steps)
        return FS_EINVAL;
    enum fs_err rc = grow(o, n_obs);
    if (rc != FS_OK)
        return rc;
    for (int r = 0; r < CURVE_NRES; r++) {
        for (uint32_t i = 0; i < n_obs; i++)
            o->v[r][i] = c->v[CURVE_P50][r][i];
        o->seen[r] = n_obs;
    }
    o->n = n_obs;
    return FS_OK;
}

enum fs_err usage_obs_copy(struct usage_obs *dst, const struct usage_obs *src)
{
    *dst = *src;
    for (int r = 0; r < CURVE_NRES; r++)
        dst->v[r] = NULL;
    dst->cap = 0;
    enum fs_err rc = grow(dst, src->n);
    if (rc != FS_OK) {
        usage_obs_release(dst);
        dst->n = 0;
        return rc;
    }
    for (int r = 0; r < CURVE_NRES; r++)
        if (src->n)
            memcpy(dst->v[r], src->v[r], src->n * sizeof(int64_t));
    return FS_OK;
}

int usage_obs_add(struct usage_obs *o, int64_t t, const int64_t v[CURVE_NRES])
{
    if (o->last_t && t <= o->last_t)
        return 0;
    int64_t k = t < o->start_s ? 0 : (t - o->start_s) / o->step_s;
    if (k >= CURVE_MAX_STEPS)
        return -FS_ERANGE;
    enum fs_err rc = grow(o, (uint32_t)k + 1);
    if (rc != FS_OK)
        return -(int)rc;
    if (k != o->acc_step) {
        memset(o->acc, 0, sizeof(o->acc));
        memset(o->acc_n, 0, sizeof(o->acc_n));
        o->acc_step = k;
    }
    for (int r = 0; r < CURVE_NRES; r++) {
        uint32_t seen = o->seen[r];
        if (v[r] == USAGE_UNKNOWN) {
            /* new steps hold the last known value until a sample of this resource comes */
            int64_t last = seen ? o->v[r][seen - 1] : 0;
            for (uint32_t i = o->n; i <= (uint32_t)k; i++)
                o->v[r][i] = last;
            continue;
        }
        int64_t x = v[r] > 0 ? v[r] : 0;
        o->acc[r] += (double)x;
        o->acc_n[r]++;
        /* the steps between the last observed one and this one are interpolated linearly
         * (carrying the last value would delay every change by a sampling period); with no
         * observation yet, they take this first one */
        for (uint32_t i = seen; i < (uint32_t)k; i++) {
            if (!seen) {
                o->v[r][i] = x;
                continue;
            }
            double a = (double)o->v[r][seen - 1], f = (double)(i - (seen - 1)) / (double)(k - (seen - 1));
            o->v[r][i] = (int64_t)llround(a + (x - a) * f);
        }
        o->v[r][k] = (int64_t)llround(o->acc[r] / o->acc_n[r]);
        if ((uint32_t)k + 1 > o->seen[r])
            o->seen[r] = (uint32_t)k + 1;
    }
    if ((uint32_t)k + 1 > o->n)
        o->n = (uint32_t)k + 1;
    o->last_t = t;
    return 1;
}

int64_t usage_band_at(const struct curve *c, enum curve_band b, enum curve_res r, int64_t t)
{
    if (c->flat)
        return c->flat_value[r];
    if (c->n_steps == 0 || c->step_s == 0 || !c->v[b][r])
        return 0;
    int64_t k = t < c->start_s ? 0 : (t - c->start_s) / c->step_s;
    if (k >= (int64_t)c->n_steps)
        k = c->n_steps - 1;
    return c->v[b][r][k];
}

/* whether the curve holds any amount of resource r */
static int predicts(const struct curve *c, enum curve_res r)
{
    if (c->flat)
        return c->flat_value[r] > 0;
    for (uint32_t i = 0; c->v[CURVE_P50][r] && i < c->n_steps; i++)
        if (c->v[CURVE_P50][r][i] > 0)
            return 1;
    return 0;
}

void usage_error(const struct usage_obs *o, const struct curve *baseline, struct usage_error *e)
{
    memset(e, 0, sizeof(*e));
    double sum_mape = 0, sum_mase = 0;
    int n_mape = 0, n_mase = 0;
    for (int r = 0; r < CURVE_NRES; r++) {
        double ape = 0, ae = 0, naive = 0;
        uint32_t n_ape = 0;
        for (uint32_t i = 0; i < o->n; i++) {
            int64_t t = o->start_s + (int64_t)i * o->step_s;
            double obs = (double)o->v[r][i];
            double pred = (double)usage_band_at(baseline, CURVE_P50, (enum curve_res)r, t);
            ae += fabs(obs - pred);
            if (obs > 0) {
                ape += fabs(obs - pred) / obs;
                n_ape++;
            }
            if (i > 0)
                naive += fabs(obs - (double)o->v[r][i - 1]);
        }
        if (n_ape) {
            e->has_mape[r] = 1;
            e->mape[r] = 100.0 * ape / n_ape;
        }
        if (o->n >= 2 && naive > 0) {
            e->has_mase[r] = 1;
            e->mase[r] = (ae / o->n) / (naive / (o->n - 1));
        }
        if (r == CURVE_NET && !predicts(baseline, CURVE_NET))
            continue;
        if (e->has_mape[r]) {
            sum_mape += e->mape[r];
            n_mape++;
        }
        if (e->has_mase[r]) {
            sum_mase += e->mase[r];
            n_mase++;
        }
    }
    if (n_mape) {
        e->has_mape_all = 1;
        e->mape_all = sum_mape / n_mape;
    }
    if (n_mase) {
        e->has_mase_all = 1;
        e->mase_all = sum_mase / n_mase;
    }
}

/* Whether the curve predicts any traffic: a MicroTask that says nothing of its network is
 * predicted 0 there, and every pod that talks would otherwise turn anomalous. */
static int predicts_network(const struct curve *c)
{
    if (c->flat)
        return c->flat_value[CURVE_NET] > 0;
    for (uint32_t i = 0; c->v[CURVE_P90][CURVE_NET] && i < c->n_steps; i++)
        if (c->v[CURVE_P90][CURVE_NET][i] > 0)
            return 1;
    return 0;
}

int usage_anomaly_push(struct usage_anomaly *a, const struct curve *baseline, int64_t t,
                       const int64_t v[CURVE_NRES], double tolerance, double window_s)
{
    static const int64_t floor_v[CURVE_NRES] = {5, 8LL << 20, 1 << 20};
    if (!isfinite(tolerance) || tolerance < 0)
        tolerance = 0;
    for (int r = 0; r < CURVE_NRES; r++) {
        if (r == CURVE_NET && (v[r] == USAGE_UNKNOWN || !predicts_network(baseline)))
            continue; /* not sampled (no Prometheus, or no rate yet), or not predicted */
        int64_t band = usage_band_at(baseline, CURVE_P90, (enum curve_res)r, t);
        int above = (double)v[r] > (double)band * (1 + tolerance) && v[r] - band > floor_v[r];
        if (!above) {
            a->above_since[r] = 0;
            continue;
        }
        if (!a->above_since[r])
            a->above_since[r] = t;
        double for_s = (double)(t - a->above_since[r]);
        if (!a->flagged && for_s >= window_s) {
            a->flagged = 1;
            a->res = (enum curve_res)r;
            a->observed = v[r];
            a->band = band;
            a->for_s = for_s;
            return 1;
        }
    }
    return 0;
}
