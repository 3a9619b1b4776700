/* Unit tests for lib/forecast's building blocks and front door: normal and t quantiles,
 * naive/snaive/mean against R forecast fixtures, seasonality detection, the online
 * update, the documented behaviour on degenerate input (never a NaN), and the hold-out
 * calibration of auto's bands. */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "forecast/ets.h"
#include "forecast/fc_math.h"
#include "forecast/forecast.h"
#include "forecast/season.h"
#include "forecast/simple.h"
#include "test_forecast_fixture.h"

static const double levels[] = {80, 95};

static void test_quantiles_match_r(void **state)
{
    (void)state;
    struct fixture fx;
    assert_int_equal(fixture_load(&fx, "quantiles.txt"), 0);
    size_t np, nd;
    const double *p = fixture_get(&fx, "p", &np), *q = fixture_get(&fx, "qnorm", NULL);
    for (size_t i = 0; i < np; i++)
        assert_true(close_rel(fc_qnorm(p[i]), q[i], 1e-12));
    const double *df = fixture_get(&fx, "qt_df", &nd), *t975 = fixture_get(&fx, "qt975", NULL),
                 *t90 = fixture_get(&fx, "qt90", NULL);
    for (size_t i = 0; i < nd; i++) {
        double tol = df[i] < 10 ? 2e-3 : 1e-5;
        assert_true(close_rel(fc_qt(0.975, df[i]), t975[i], tol));
        assert_true(close_rel(fc_qt(0.9, df[i]), t90[i], tol));
    }
    assert_true(isinf(fc_qnorm(0)) && isinf(fc_qnorm(1)));
    fixture_release(&fx);
}

static void check_simple(const char *file, enum simple_kind kind)
{
    struct fixture fx;
    assert_int_equal(fixture_load(&fx, file), 0);
    size_t n, h;
    const double *y = fixture_get(&fx, "y", &n);
    const double *mean = fixture_get(&fx, "mean", &h), *lo80 = fixture_get(&fx, "lo80", NULL),
                 *hi95 = fixture_get(&fx, "hi95", NULL), *lo95 = fixture_get(&fx, "lo95", NULL);
    struct simple_model s;
    assert_int_equal(simple_fit(&s, kind, y, n, (int)fixture_num(&fx, "m")), FS_OK);
    struct fc_result r;
    assert_int_equal(simple_forecast(&s, (int)h, levels, 2, &r), FS_OK);
    double tol = kind == SIMPLE_MEAN ? 1e-5 : 1e-9; /* meanf: our t quantile is an expansion */
    for (size_t i = 0; i < h; i++) {
        assert_true(close_rel(r.mean[i], mean[i], 1e-12));
        assert_true(close_rel(r.lower[2 * i], lo80[i], tol));
        assert_true(close_rel(r.lower[2 * i + 1], lo95[i], tol));
        assert_true(close_rel(r.upper[2 * i + 1], hi95[i], tol));
    }
    fc_result_release(&r);
    simple_release(&s);
    fixture_release(&fx);
}

static void test_naive_snaive_mean_match_r(void **state)
{
    (void)state;
    check_simple("simple_naive.txt", SIMPLE_NAIVE);
    check_simple("simple_snaive.txt", SIMPLE_SNAIVE);
    check_simple("simple_meanf.txt", SIMPLE_MEAN);
}

/* A seeded series: daily (period p1) and weekly (p2) cycles plus noise. */
static double *make_series(size_t n, int p1, double a1, int p2, double a2, double noise, uint64_t seed)
{
    double *y = malloc(n * sizeof(double));
    struct fc_rng rng;
    fc_rng_init(&rng, seed);
    for (size_t t = 0; t < n; t++) {
        y[t] = 50 + 0.001 * (double)t + noise * fc_rng_normal(&rng);
        if (p1)
            y[t] += a1 * sin(2 * M_PI * (double)t / p1) + 0.5 * a1 * cos(4 * M_PI * (double)t / p1);
        if (p2)
            y[t] += a2 * (((t / (size_t)(p2 / 7)) % 7) >= 5 ? -1.0 : 0.3);
    }
    return y;
}

static void test_season_detects_one_and_two_periods(void **state)
{
    (void)state;
    struct season_result sr;
    double *y = make_series(24 * 30, 24, 10, 0, 0, 2, 1);
    assert_int_equal(season_detect(y, 24 * 30, 0, 0, &sr), FS_OK);
    assert_true(sr.count >= 1);
    assert_int_equal(sr.p[0].period, 24);
    assert_true(sr.p[0].strength > 0.8);
    free(y);

    /* 5-minute steps over 3 weeks: a day is 288 steps, a week 2016 */
    size_t n = 2016 * 3;
    y = make_series(n, 288, 10, 2016, 8, 2, 2);
    assert_int_equal(season_detect(y, n, 0, 0, &sr), FS_OK);
    int has_day = 0, has_week = 0;
    for (int i = 0; i < sr.count; i++) {
        has_day |= abs(sr.p[i].period - 288) <= 2;
        has_week |= abs(sr.p[i].period - 2016) <= 10;
    }
    assert_true(has_day);
    assert_true(has_week);
    free(y);

    /* white noise and a pure trend: nothing */
    y = make_series(1000, 0, 0, 0, 0, 1, 3);
    assert_int_equal(season_detect(y, 1000, 0, 0, &sr), FS_OK);
    assert_int_equal(sr.count, 0);
    for (size_t t = 0; t < 1000; t++)
        y[t] = 3.0 * (double)t;
    assert_int_equal(season_detect(y, 1000, 0, 0, &sr), FS_OK);
    assert_int_equal(sr.count, 0);
    free(y);
    assert_int_equal(season_detect(NULL, 0, 0, 0, &sr), FS_EDATA);
}

/* Feeding observations one at a time gives the state a batch run reaches. */
static void test_ets_update_equals_batch(void **state)
{
    (void)state;
    size_t n = 24 * 20;
    double *y = make_series(n, 24, 10, 0, 0, 1, 4);
    struct ets_model a, b;
    struct ets_spec sp = {ETS_ERR_ADD, ETS_TREND_DAMPED, ETS_SEASON_ADD};
    assert_int_equal(ets_fit(&a, y, n / 2, 24, sp, NULL), FS_OK);
    assert_int_equal(ets_init(&b, sp, 24), FS_OK);
    double st[32];
    ets_get_state(&a, st);
    ets_set_state(&b, &a.par, st);
    b.npar = a.npar;
    for (size_t t = n / 2; t < n; t++)
        ets_update(&a, y[t]);
    assert_int_equal(ets_filter(&b, y + n / 2, n - n / 2, NULL), FS_OK);
    double sa[32], sb[32];
    ets_get_state(&a, sa);
    ets_get_state(&b, sb);
    for (int i = 0; i < ets_state_len(&a); i++)
        assert_true(close_rel(sa[i], sb[i], 1e-12));
    assert_int_equal((int)a.nobs, (int)(n - n / 2 + n / 2));
    /* a missing sample coasts: the level moves by the damped slope only */
    double lvl = a.level, slope = a.slope;
    ets_update(&a, NAN);
    assert_true(close_rel(a.level, lvl + a.par.phi * slope, 1e-12));
    ets_release(&a);
    ets_release(&b);
    free(y);
}

static int all_finite(const struct fc_result *r)
{
    for (int i = 0; i < r->h; i++) {
        if (!isfinite(r->mean[i]))
            return 0;
        for (int j = 0; j < r->nlevels; j++)
            if (!isfinite(r->lower[i * r->nlevels + j]) || !isfinite(r->upper[i * r->nlevels + j]) ||
                r->lower[i * r->nlevels + j] > r->mean[i] || r->upper[i * r->nlevels + j] < r->mean[i])
                return 0;
    }
    return 1;
}

static void test_degenerate_input_never_nan(void **state)
{
    (void)state;
    struct fc_model mod;
    struct fc_result r;
    struct fc_options o = {.method = FC_AUTO};
    double nans[5] = {NAN, NAN, NAN, NAN, NAN};

    assert_int_equal(fc_fit(&mod, NULL, 0, &o), FS_EDATA);
    fc_model_release(&mod);
    assert_int_equal(fc_fit(&mod, nans, 5, &o), FS_EDATA);
    fc_model_release(&mod);
    double inf[3] = {1, INFINITY, 2};
    assert_int_equal(fc_fit(&mod, inf, 3, &o), FS_EINVAL);
    fc_model_release(&mod);

    /* constant: the value, with zero-width bands */
    double cst[50];
    for (int i = 0; i < 50; i++)
        cst[i] = 7.5;
    assert_int_equal(fc_fit(&mod, cst, 50, &o), FS_OK);
    assert_int_equal(fc_predict(&mod, 5, levels, 2, &r), FS_OK);
    assert_true(all_finite(&r));
    assert_true(r.mean[4] == 7.5 && r.lower[9] == 7.5 && r.upper[9] == 7.5);
    assert_non_null(mod.fallback);
    fc_result_release(&r);
    fc_model_release(&mod);

    /* a single value and three values: naive */
    double three[3] = {1, 2, 4};
    assert_int_equal(fc_fit(&mod, three, 1, &o), FS_OK);
    fc_model_release(&mod);
    assert_int_equal(fc_fit(&mod, three, 3, &o), FS_OK);
    assert_int_equal(mod.method, FC_NAIVE);
    assert_int_equal(fc_predict(&mod, 4, levels, 2, &r), FS_OK);
    assert_true(all_finite(&r));
    assert_true(r.mean[0] == 4);
    fc_result_release(&r);
    fc_model_release(&mod);

    /* season requested on too short a series: dropped, said so */
    size_t n = 30;
    double *y = make_series(n, 24, 10, 0, 0, 1, 5);
    o.season = 24;
    assert_int_equal(fc_fit(&mod, y, n, &o), FS_OK);
    assert_int_equal(mod.m, 1);
    assert_non_null(mod.fallback);
    fc_model_release(&mod);
    free(y);

    /* gaps, huge and tiny magnitudes, negative values: finite forecasts of the right size */
    static const double scales[] = {1.0, 1e200, 1e-200, -1e9};
    n = 24 * 12;
    for (size_t k = 0; k < sizeof(scales) / sizeof(scales[0]); k++) {
        y = make_series(n, 24, 10, 0, 0, 1, 6);
        for (size_t t = 0; t < n; t++)
            y[t] *= scales[k];
        for (size_t t = 100; t < 130; t++)
            y[t] = NAN;
        y[0] = NAN;
        o.season = 0;
        o.method = FC_AUTO;
        assert_int_equal(fc_fit(&mod, y, n, &o), FS_OK);
        assert_int_equal(mod.m, 24);
        assert_int_equal(fc_predict(&mod, 48, levels, 2, &r), FS_OK);
        assert_true(all_finite(&r));
        double ref = 50 * scales[k];
        assert_true(fabs(r.mean[0] - ref) < 0.5 * fabs(ref));
        fc_update(&mod, NAN);
        fc_update(&mod, y[n - 1]);
        fc_result_release(&r);
        assert_int_equal(fc_predict(&mod, 48, levels, 2, &r), FS_OK);
        assert_true(all_finite(&r));
        fc_result_release(&r);
        fc_model_release(&mod);
        free(y);
    }

    /* every named method gives finite output on a plain series */
    y = make_series(n, 24, 10, 0, 0, 1, 7);
    for (int meth = FC_AUTO; meth <= FC_MEAN; meth++) {
        o.method = (enum fc_method)meth;
        o.season = 24;
        assert_int_equal(fc_fit(&mod, y, n, &o), FS_OK);
        assert_int_equal(fc_predict(&mod, 30, levels, 2, &r), FS_OK);
        assert_true(all_finite(&r));
        fc_result_release(&r);
        fc_model_release(&mod);
    }
    free(y);
    assert_int_equal(fc_method_parse("snaive"), FC_SNAIVE);
    assert_int_equal(fc_method_parse("bogus"), -1);
}

/* Heavy-tailed noise (10 % of the errors five times larger): normal bands from the
 * residual variance cover far more than 80 %; auto's hold-out calibration brings the
 * coverage of a long continuation back to nominal. */
static double coverage(enum fc_method method, const double *y, size_t n, size_t ntest, int level_index,
                       int *calibrated)
{
    struct fc_options o = {.method = method, .season = 24, .horizon = 48};
    struct fc_model mod;
    assert_int_equal(fc_fit(&mod, y, n, &o), FS_OK);
    *calibrated = mod.calibrated;
    struct fc_result r;
    assert_int_equal(fc_predict(&mod, (int)ntest, levels, 2, &r), FS_OK);
    int in = 0;
    for (size_t i = 0; i < ntest; i++) {
        double v = y[n + i];
        in += v >= r.lower[2 * i + (size_t)level_index] && v <= r.upper[2 * i + (size_t)level_index];
    }
    fc_result_release(&r);
    fc_model_release(&mod);
    return (double)in / (double)ntest;
}

static void test_auto_bands_are_calibrated_on_the_holdout(void **state)
{
    (void)state;
    enum { N = 24 * 40, NTEST = 24 * 40 };
    double *y = malloc(sizeof(double) * (N + NTEST));
    assert_non_null(y);
    struct fc_rng rng;
    fc_rng_init(&rng, 424242);
    for (size_t t = 0; t < N + NTEST; t++) {
        double e = fc_rng_normal(&rng);
        if (fc_rng_uniform(&rng) < 0.1)
            e *= 5;
        y[t] = 50 + 10 * sin(2 * M_PI * (double)t / 24) + e;
    }
    int cal;
    double ets80 = coverage(FC_ETS, y, N, NTEST, 0, &cal);
    assert_false(cal);
    double auto80 = coverage(FC_AUTO, y, N, NTEST, 0, &cal);
    assert_true(cal);
    double auto95 = coverage(FC_AUTO, y, N, NTEST, 1, &cal);
    fprintf(stderr, "  80 %% coverage: ets %.3f, auto %.3f; 95 %%: auto %.3f\n", ets80, auto80, auto95);
    assert_true(ets80 > 0.88);
    assert_true(auto80 >= 0.74 && auto80 <= 0.86);
    assert_true(auto95 >= 0.91 && auto95 <= 0.99);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles_match_r),
        cmocka_unit_test(test_naive_snaive_mean_match_r),
        cmocka_unit_test(test_season_detects_one_and_two_periods),
        cmocka_unit_test(test_ets_update_equals_batch),
        cmocka_unit_test(test_degenerate_input_never_nan),
        cmocka_unit_test(test_auto_bands_are_calibrated_on_the_holdout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
