/* Unit tests for lib/forecast/rls and lib/forecast/profile: RLS against R's lm, the
 * forgetting factor, and lifetime profiles learned from synthetic runs of known shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "forecast/fc_math.h"
#include "forecast/profile.h"
#include "forecast/rls.h"
#include "test_forecast_fixture.h"

static void test_rls_equals_ols_from_r(void **state)
{
    (void)state;
    struct fixture fx;
    assert_int_equal(fixture_load(&fx, "rls_cars.txt"), 0);
    size_t n, nn;
    const double *x = fixture_get(&fx, "x", &n), *y = fixture_get(&fx, "y", NULL);
    const double *coef = fixture_get(&fx, "coef", NULL), *newx = fixture_get(&fx, "newx", &nn);
    const double *pred = fixture_get(&fx, "pred", NULL), *pv = fixture_get(&fx, "predvar", NULL);
    struct rls r;
    assert_int_equal(rls_init(&r, 2, 1.0, 1e10), FS_OK);
    for (size_t i = 0; i < n; i++) {
        double xi[2] = {1, x[i]};
        assert_int_equal(rls_update(&r, xi, y[i]), FS_OK);
    }
    assert_true(close_rel(r.theta[0], coef[0], 1e-6));
    assert_true(close_rel(r.theta[1], coef[1], 1e-6));
    for (size_t i = 0; i < nn; i++) {
        double xi[2] = {1, newx[i]}, var;
        assert_true(close_rel(rls_predict(&r, xi, &var), pred[i], 1e-6));
        assert_true(close_rel(var, pv[i], 1e-5));
    }
    double bad[2] = {1, NAN};
    assert_int_equal(rls_update(&r, bad, 1), FS_EINVAL);
    assert_int_equal(rls_init(&r, 0, 1, 1), FS_EINVAL);
    assert_int_equal(rls_init(&r, 2, 1.5, 1), FS_EINVAL);
    fixture_release(&fx);
}

static void test_rls_forgets_an_old_relationship(void **state)
{
    (void)state;
    struct rls slow, fast;
    rls_init(&slow, 2, 1.0, 1e8);
    rls_init(&fast, 2, 0.9, 1e8);
    for (int i = 0; i < 200; i++) {
        double x[2] = {1, (double)(i % 10)};
        double y = i < 100 ? 2 * x[1] : 5 * x[1];
        rls_update(&slow, x, y);
        rls_update(&fast, x, y);
    }
    assert_true(fabs(fast.theta[1] - 5) < 0.01);
    assert_true(fabs(slow.theta[1] - 5) > 1);
}

/* A run of work size s: lasts 10 s per unit, cpu rises linearly to 2*s at mid-run
 * then falls (a triangle), memory steps up to s; sampled every second. */
static void make_run(double s, struct fc_rng *rng, double *t, double *cpu, double *mem, size_t *n, double *dur)
{
    *dur = 10 * s;
    size_t k = 0;
    for (double tt = 0; tt < *dur && k < 1000; tt += 1, k++) {
        double ph = tt / *dur;
        t[k] = tt;
        cpu[k] = 2 * s * (ph < 0.5 ? 2 * ph : 2 * (1 - ph)) * (1 + 0.02 * fc_rng_normal(rng));
        mem[k] = ph < 0.2 ? 0.5 * s : s;
    }
    *n = k;
}

static void test_profile_predicts_a_new_run(void **state)
{
    (void)state;
    struct profile_opts o = {.bin_s = 5, .nbins = 40, .shape_bins = 20, .decay = 0.98, .keep_runs = 64};
    struct profile p;
    assert_int_equal(profile_init(&p, &o), FS_OK);
    struct fc_rng rng;
    fc_rng_init(&rng, 9);
    static double t[1000], cpu[1000], mem[1000];
    for (int i = 0; i < 60; i++) {
        double s = 5 + (i % 10); /* sizes 5..14 */
        size_t n;
        double dur;
        make_run(s, &rng, t, cpu, mem, &n, &dur);
        struct profile_run run = {.t_s = t, .value = {cpu, mem, NULL}, .n = n, .duration_s = dur, .size = s};
        assert_int_equal(profile_add_run(&p, &run), FS_OK);
    }
    double ts[10], mean[10], lo[10], hi[10], dur;
    assert_int_equal(profile_predict(&p, PROFILE_CPU, 20, 0.05, 0.95, 10, ts, mean, lo, hi, &dur), FS_OK);
    /* size 20 was never seen: 200 s long, cpu peaking near 40 at mid-run */
    assert_true(fabs(dur - 200) < 2);
    assert_true(fabs(ts[5] - 110) < 1e-9);
    assert_true(fabs(mean[4] - 40 * 0.9) < 4 && fabs(mean[5] - 40 * 0.9) < 4);
    assert_true(mean[0] < 10 && mean[9] < 10);
    for (int i = 0; i < 10; i++)
        assert_true(lo[i] <= mean[i] + 1e-9 && mean[i] <= hi[i] + 1e-9);
    assert_int_equal(profile_predict(&p, PROFILE_MEM, 20, 0.05, 0.95, 10, ts, mean, NULL, NULL, &dur), FS_OK);
    assert_true(fabs(mean[0] - 10) < 0.5 && fabs(mean[9] - 20) < 0.5);

    /* absolute view: at 30 s every run (>= 50 s long) is alive; at 190 s none */
    double m, l, h, alive;
    assert_int_equal(profile_band(&p, PROFILE_MEM, 6, 0.1, 0.9, &m, &l, &h, &alive), FS_OK);
    assert_true(fabs(alive - 1) < 1e-12);
    assert_true(l <= m && m <= h && l >= 2.5 - 1e-9 && h <= 14 + 1e-9);
    assert_int_equal(profile_band(&p, PROFILE_CPU, 38, 0.1, 0.9, &m, &l, &h, &alive), FS_EDATA);
    assert_true(alive == 0);
    assert_int_equal(profile_band(&p, PROFILE_NET, 1, 0.1, 0.9, &m, &l, &h, &alive), FS_EDATA);
    profile_release(&p);
}

static void test_profile_decays_old_runs(void **state)
{
    (void)state;
    struct profile_opts o = {.bin_s = 1, .nbins = 10, .shape_bins = 5, .decay = 0.8, .keep_runs = 32};
    struct profile p;
    assert_int_equal(profile_init(&p, &o), FS_OK);
    double t[10], v[10];
    for (int i = 0; i < 10; i++)
        t[i] = i;
    for (int run = 0; run < 40; run++) {
        for (int i = 0; i < 10; i++)
            v[i] = run < 20 ? 1.0 : 3.0;
        struct profile_run r = {.t_s = t, .value = {v, NULL, NULL}, .n = 10, .duration_s = 10, .size = 1};
        assert_int_equal(profile_add_run(&p, &r), FS_OK);
    }
    double m, l, h;
    assert_int_equal(profile_band(&p, PROFILE_CPU, 3, 0.5, 0.5, &m, &l, &h, NULL), FS_OK);
    /* 20 newer runs at 3, 20 older at 1, weights 0.8^age: mean = (3 + q) / (1 + q), q = 0.8^20 */
    double q = pow(0.8, 20);
    assert_true(fabs(m - (3 + q) / (1 + q)) < 1e-9);
    assert_true(l == 3);
    struct profile_run bad = {.t_s = t, .value = {v, NULL, NULL}, .n = 0, .duration_s = 10};
    assert_int_equal(profile_add_run(&p, &bad), FS_EINVAL);
    profile_release(&p);
    struct profile_opts badopt = {.bin_s = 0, .nbins = 10, .shape_bins = 5, .decay = 0.8, .keep_runs = 8};
    assert_int_equal(profile_init(&p, &badopt), FS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rls_equals_ols_from_r),
        cmocka_unit_test(test_rls_forgets_an_old_relationship),
        cmocka_unit_test(test_profile_predicts_a_new_run),
        cmocka_unit_test(test_profile_decays_old_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
