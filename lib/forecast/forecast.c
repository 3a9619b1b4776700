/* Model choice, fallbacks and scaling around the model families: see forecast.h. */
#include "forecast/forecast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/fc_math.h"
#include "forecast/season.h"

static const char *const method_names[] = {"auto", "ets", "hw", "arima", "naive", "snaive", "mean"};

int fc_method_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (strcmp(s, method_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *fc_method_name(enum fc_method m)
{
    return (unsigned)m < sizeof(method_names) / sizeof(method_names[0]) ? method_names[m] : "unknown";
}

void fc_model_release(struct fc_model *mod)
{
    ets_release(&mod->ets);
    simple_release(&mod->simple);
    arima_release(&mod->arima);
    memset(mod, 0, sizeof(*mod));
}

static enum fs_err fit_simple(struct fc_model *mod, enum simple_kind kind, const double *y, size_t n, int m)
{
    simple_release(&mod->simple);
    enum fs_err rc = simple_fit(&mod->simple, kind, y, n, m);
    if (rc != FS_OK)
        return rc;
    mod->method = kind == SIMPLE_NAIVE ? FC_NAIVE : kind == SIMPLE_SNAIVE ? FC_SNAIVE : FC_MEAN;
    mod->m = kind == SIMPLE_SNAIVE ? m : 1;
    if (kind == SIMPLE_SNAIVE)
        snprintf(mod->name, sizeof(mod->name), "snaive(%d)", m);
    else
        snprintf(mod->name, sizeof(mod->name), "%s", kind == SIMPLE_NAIVE ? "naive" : "mean");
    return FS_OK;
}

static enum fs_err fit_ets(struct fc_model *mod, enum fc_method method, const double *y, size_t n, int m,
                           const struct fc_options *o)
{
    struct ets_fit_opts eo = {.max_evals = o->ets_max_evals};
    ets_release(&mod->ets);
    enum fs_err rc;
    if (method == FC_HW) {
        struct ets_spec sp = {ETS_ERR_ADD, ETS_TREND_ADD, m > 1 ? ETS_SEASON_ADD : ETS_SEASON_NONE};
        rc = ets_fit(&mod->ets, y, n, m, sp, &eo);
    } else {
        rc = ets_fit_auto(&mod->ets, y, n, m, 0, &eo);
    }
    if (rc != FS_OK)
        return rc;
    mod->method = method;
    mod->m = mod->ets.m;
    ets_name(&mod->ets, mod->name, sizeof(mod->name));
    return FS_OK;
}

/* ARIMA on y with gaps interpolated: the order given (the one a hold-out chose, refitted
 * with no new search), or NULL for the automatic order search. */
static enum fs_err fit_arima(struct fc_model *mod, const double *y, size_t n, int m, const struct arima_order *order)
{
    double *w = malloc(sizeof(double) * n);
    if (!w)
        return FS_ENOMEM;
    fc_interpolate(y, n, w);
    arima_release(&mod->arima);
    enum fs_err rc = order ? arima_fit(&mod->arima, w, n, order) : arima_auto(&mod->arima, w, n, m, 0);
    free(w);
    if (rc != FS_OK)
        return rc;
    mod->method = FC_ARIMA;
    mod->m = m;
    arima_name(&mod->arima, mod->name, sizeof(mod->name));
    return FS_OK;
}

static const double cal_p[FC_CAL_GRID] = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99};
#define CAL_TAIL_PRIOR 6.0 /* values beyond a quantile worth as much as the model's own band */

/* A model fitted on y[0..cut) forecasts y[cut..n): its mean absolute error, and in absz
 * (n - cut values, *nz set) the absolute standardised errors against its 80 % band.
 * keep (may be NULL) gets the fitted model, for its spec or order. */
static double holdout_eval(enum fc_method method, const double *y, size_t n, size_t cut, int m,
                           const struct fc_options *o, double *absz, size_t *nz, struct fc_model *keep)
{
    struct fc_model tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.scale = 1;
    enum fs_err rc = FS_EINVAL;
    if (method == FC_SNAIVE)
        rc = fit_simple(&tmp, SIMPLE_SNAIVE, y, cut, m);
    else if (method == FC_NAIVE)
        rc = fit_simple(&tmp, SIMPLE_NAIVE, y, cut, 1);
    else if (method == FC_ARIMA)
        rc = fit_arima(&tmp, y, cut, m, NULL);
    else
        rc = fit_ets(&tmp, method, y, cut, m, o);
    double mae = INFINITY;
    struct fc_result r;
    static const double lv80[] = {80};
    *nz = 0;
    if (rc == FS_OK && fc_predict(&tmp, (int)(n - cut), lv80, 1, &r) == FS_OK) {
        double s = 0, z80 = fc_qnorm(0.9);
        size_t k = 0;
        for (size_t i = cut; i < n; i++)
            if (isfinite(y[i])) {
                double f = r.mean[i - cut], d = y[i] - f;
                s += fabs(d);
                k++;
                double half = d > 0 ? r.upper[i - cut] - f : f - r.lower[i - cut];
                if (half > 0 && isfinite(half))
                    absz[(*nz)++] = fabs(d) / half * z80;
            }
        mae = k ? s / (double)k : INFINITY;
        fc_result_release(&r);
    }
    if (keep && mae < INFINITY)
        *keep = tmp;
    else
        fc_model_release(&tmp);
    return mae;
}

/* band_k from the chosen family's standardised hold-out errors (see forecast.h). */
static void calibrate(struct fc_model *mod, double *absz, size_t nz)
{
    if (nz < 10)
        return;
    fc_sort(absz, nz);
    for (int i = 0; i < FC_CAL_GRID; i++) {
        double k = fc_quantile_sorted(absz, nz, cal_p[i]) / fc_qnorm(0.5 + cal_p[i] / 2);
        k = fmin(fmax(k, 0.25), 4.0);
        /* a p-quantile rests on the nz (1 - p) values beyond it: trust it by that count */
        double tail = (double)nz * (1 - cal_p[i]);
        double w = tail / (tail + CAL_TAIL_PRIOR);
        mod->band_k[i] = w * k + (1 - w);
    }
    mod->calibrated = 1;
}

static double band_stretch(const struct fc_model *mod, double level)
{
    double p = level / 100;
    if (p <= cal_p[0])
        return mod->band_k[0];
    for (int i = 1; i < FC_CAL_GRID; i++)
        if (p <= cal_p[i])
            return mod->band_k[i - 1] +
                   (mod->band_k[i] - mod->band_k[i - 1]) * (p - cal_p[i - 1]) / (cal_p[i] - cal_p[i - 1]);
    return mod->band_k[FC_CAL_GRID - 1];
}

enum fs_err fc_fit(struct fc_model *mod, const double *y_in, size_t n_in, const struct fc_options *opts)
{
    struct fc_options o = opts ? *opts : (struct fc_options){0};
    enum fs_err rc = FS_ENOMEM;
    double *y = NULL;
    memset(mod, 0, sizeof(*mod));
    mod->scale = 1;
    /* leading gaps carry nothing */
    size_t start = 0;
    while (start < n_in && isnan(y_in[start]))
        start++;
    size_t n = n_in - start;
    size_t finite = 0;
    double maxabs = 0, first = NAN;
    int constant = 1;
    for (size_t i = start; i < n_in; i++) {
        if (isinf(y_in[i]))
            return FS_EINVAL;
        if (isnan(y_in[i]))
            continue;
        if (finite == 0)
            first = y_in[i];
        else if (y_in[i] != first)
            constant = 0;
        finite++;
        maxabs = fmax(maxabs, fabs(y_in[i]));
    }
    if (finite == 0)
        return FS_EDATA;
    if (constant) {
        mod->is_constant = 1;
        mod->constant = first;
        mod->method = FC_MEAN;
        mod->m = 1;
        mod->fallback = "constant series";
        snprintf(mod->name, sizeof(mod->name), "constant");
        return FS_OK;
    }
    if (maxabs > 1e6 || maxabs < 1e-3)
        mod->scale = maxabs;
    y = malloc(sizeof(double) * n);
    if (!y)
        return FS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        y[i] = y_in[start + i] / mod->scale;

    int m = o.season;
    if (m <= 0) {
        struct season_result sr;
        m = 1;
        if (season_detect(y, n, o.max_season, 0, &sr) == FS_OK && sr.count > 0) {
            /* the shortest period nearly as strong as the best: a day rather than a week */
            int best = 0;
            for (int i = 1; i < sr.count; i++)
                if (sr.p[i].acf >= 0.8 * sr.p[0].acf && sr.p[i].period < sr.p[best].period &&
                    sr.p[best].period % sr.p[i].period == 0)
                    best = i;
            m = sr.p[best].period;
        }
    }
    if (m > 1 && n < (size_t)(2 * m)) {
        mod->fallback = "fewer than two seasons: season dropped";
        if (o.method == FC_SNAIVE && n > (size_t)m)
            mod->fallback = NULL;
        else
            m = 1;
    }
    enum fc_method method = o.method;
    double *absz = NULL;
    size_t nz = 0;
    struct fc_model chosen; /* the hold-out fit of the winner: its spec or order is reused */
    memset(&chosen, 0, sizeof(chosen));
    if (method == FC_AUTO) {
        size_t hold = (size_t)(o.horizon > 0 ? o.horizon : (m > 1 ? m : 10));
        if (hold > n / 4)
            hold = n / 4;
        size_t cut = n - hold;
        method = FC_ETS;
        if (hold >= 4 && cut >= (size_t)(m > 1 ? 2 * m : 10) + 10) {
            static const enum fc_method cands[3] = {FC_ETS, FC_ARIMA, FC_SNAIVE};
            double *zbuf = malloc(sizeof(double) * 2 * hold);
            if (!zbuf) {
                free(y);
                return FS_ENOMEM;
            }
            double best = INFINITY;
            for (int c = 0; c < 3; c++) {
                enum fc_method cm = cands[c] == FC_SNAIVE && m <= 1 ? FC_NAIVE : cands[c];
                struct fc_model fitted;
                size_t nzc;
                double *zc = absz == zbuf ? zbuf + hold : zbuf;
                double e = holdout_eval(cm, y, n, cut, m, &o, zc, &nzc, &fitted);
                if (e < best) {
                    best = e;
                    method = cm;
                    fc_model_release(&chosen);
                    chosen = fitted;
                    absz = zc;
                    nz = nzc;
                } else if (e < INFINITY) {
                    fc_model_release(&fitted);
                }
            }
            if (!absz)
                free(zbuf);
            else if (absz != zbuf) {
                memmove(zbuf, absz, sizeof(double) * nz);
                absz = zbuf;
            }
        }
    }
    rc = FS_EINVAL;
    switch (method) {
    case FC_ETS:
    case FC_HW:
        if (finite < 10) {
            mod->fallback = "too short for ETS: naive";
            rc = fit_simple(mod, SIMPLE_NAIVE, y, n, 1);
            break;
        }
        if (chosen.method == FC_ETS) {
            /* auto: the family member the hold-out picked, refitted on everything */
            struct ets_fit_opts eo = {.max_evals = o.ets_max_evals};
            rc = ets_fit(&mod->ets, y, n, chosen.ets.m, chosen.ets.spec, &eo);
            if (rc == FS_OK) {
                mod->method = FC_ETS;
                mod->m = mod->ets.m;
                ets_name(&mod->ets, mod->name, sizeof(mod->name));
            } else {
                ets_release(&mod->ets);
            }
        } else {
            rc = FS_EINVAL;
        }
        if (rc != FS_OK && rc != FS_ENOMEM)
            rc = fit_ets(mod, method, y, n, m, &o);
        if (rc != FS_OK && rc != FS_ENOMEM) {
            mod->fallback = "ETS fit failed: seasonal naive or naive";
            rc = m > 1 ? fit_simple(mod, SIMPLE_SNAIVE, y, n, m) : FS_EDATA;
            if (rc != FS_OK)
                rc = fit_simple(mod, SIMPLE_NAIVE, y, n, 1);
        }
        break;
    case FC_ARIMA:
        if (finite < 10) {
            mod->fallback = "too short for ARIMA: naive";
            rc = fit_simple(mod, SIMPLE_NAIVE, y, n, 1);
            break;
        }
        rc = chosen.method == FC_ARIMA ? fit_arima(mod, y, n, m, &chosen.arima.o) : FS_EINVAL;
        if (rc != FS_OK && rc != FS_ENOMEM)
            rc = fit_arima(mod, y, n, m, NULL);
        if (rc != FS_OK && rc != FS_ENOMEM) {
            mod->fallback = "ARIMA fit failed: ETS";
            rc = fit_ets(mod, FC_ETS, y, n, m, &o);
            if (rc != FS_OK && rc != FS_ENOMEM)
                rc = fit_simple(mod, SIMPLE_NAIVE, y, n, 1);
        }
        break;
    case FC_SNAIVE:
        rc = m > 1 ? fit_simple(mod, SIMPLE_SNAIVE, y, n, m) : FS_EDATA;
        if (rc == FS_EDATA) {
            mod->fallback = "no season for seasonal naive: naive";
            rc = fit_simple(mod, SIMPLE_NAIVE, y, n, 1);
        }
        break;
    case FC_NAIVE:
        rc = fit_simple(mod, SIMPLE_NAIVE, y, n, 1);
        break;
    case FC_MEAN:
        rc = fit_simple(mod, SIMPLE_MEAN, y, n, 1);
        break;
    default:
        rc = FS_EINVAL;
    }
    fc_model_release(&chosen);
    if (rc == FS_OK && absz)
        calibrate(mod, absz, nz);
    free(absz);
    free(y);
    return rc;
}

void fc_update(struct fc_model *mod, double y)
{
    if (mod->is_constant)
        return;
    y /= mod->scale;
    if (mod->method == FC_ETS || mod->method == FC_HW)
        ets_update(&mod->ets, y);
    else if (mod->method == FC_ARIMA)
        arima_update(&mod->arima, y);
    else
        simple_update(&mod->simple, y);
}

enum fs_err fc_predict(const struct fc_model *mod, int h, const double *levels, int nlevels,
                       struct fc_result *r)
{
    enum fs_err rc;
    if (mod->is_constant) {
        rc = fc_result_init(r, h, levels, nlevels);
        if (rc != FS_OK)
            return rc;
        for (int i = 0; i < h; i++)
            fc_result_set_normal(r, i, mod->constant, 0);
        return FS_OK;
    }
    if (mod->method == FC_ETS || mod->method == FC_HW)
        rc = ets_forecast(&mod->ets, h, levels, nlevels, r);
    else if (mod->method == FC_ARIMA)
        rc = arima_forecast(&mod->arima, h, levels, nlevels, r);
    else
        rc = simple_forecast(&mod->simple, h, levels, nlevels, r);
    if (rc != FS_OK)
        return rc;
    size_t nb = (size_t)h * (size_t)nlevels;
    if (mod->calibrated)
        for (int j = 0; j < nlevels; j++) {
            double k = band_stretch(mod, r->levels[j]);
            for (int i = 0; i < h; i++) {
                size_t q = (size_t)i * (size_t)nlevels + (size_t)j;
                r->lower[q] = r->mean[i] - k * (r->mean[i] - r->lower[q]);
                r->upper[q] = r->mean[i] + k * (r->upper[q] - r->mean[i]);
            }
        }
    for (int i = 0; i < h; i++)
        r->mean[i] *= mod->scale;
    for (size_t i = 0; i < nb; i++) {
        r->lower[i] *= mod->scale;
        r->upper[i] *= mod->scale;
    }
    for (int i = 0; i < h; i++)
        if (!isfinite(r->mean[i]))
            goto bad;
    for (size_t i = 0; i < nb; i++)
        if (!isfinite(r->lower[i]) || !isfinite(r->upper[i]))
            goto bad;
    return FS_OK;
bad:
    fc_result_release(r);
    return FS_ERANGE;
}
