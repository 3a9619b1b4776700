/* Unit tests for controller/usage: samples folded per step (repeats ignored, gaps interpolated),
 * MAPE and MASE against a baseline (undefined cases flagged, never NaN), and the anomaly
 * verdict (above p90 for the whole window, reset by a sample inside the band). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "../../controller/usage.c"

#define T0 1800000000LL
#define MI (1024LL * 1024)

/* a curve of n steps of 10 s: cpu p50/p90 and memory p50=p90 constant */
static void flat(struct curve *c, uint32_t n, int64_t cpu50, int64_t cpu90, int64_t mem)
{
    curve_init(c);
    assert_int_equal(curve_alloc(c, NULL, T0, 10, n, 10 * (int64_t)n), FS_OK);
    for (uint32_t i = 0; i < n; i++) {
        c->v[CURVE_P50][CURVE_CPU][i] = cpu50;
        c->v[CURVE_P90][CURVE_CPU][i] = cpu90;
        c->v[CURVE_P50][CURVE_MEM][i] = c->v[CURVE_P90][CURVE_MEM][i] = mem;
    }
}

static void test_steps_mean_repeat_and_gaps(void **state)
{
    (void)state;
    struct usage_obs o;
    usage_obs_init(&o, T0, 10);
    int64_t a[3] = {100, 10 * MI, 0}, b[3] = {300, 30 * MI, 0}, d[3] = {700, 70 * MI, 0};
    assert_int_equal(usage_obs_add(&o, T0 + 21, a), 1);   /* step 2: steps 0, 1 take the first value */
    assert_int_equal(usage_obs_add(&o, T0 + 21, b), 0);   /* metrics-server repeating itself */
    assert_int_equal(usage_obs_add(&o, T0 + 25, b), 1);   /* same step: mean */
    assert_int_equal(usage_obs_add(&o, T0 + 55, d), 1);   /* step 5: steps 3, 4 interpolated */
    assert_int_equal(o.n, 6);
    int64_t want[] = {100, 100, 200, 367, 533, 700};
    for (int i = 0; i < 6; i++)
        assert_int_equal(o.v[CURVE_CPU][i], want[i]);
    assert_int_equal(o.v[CURVE_MEM][2], 20 * MI);
    assert_int_equal(o.v[CURVE_MEM][4], llround(20 * MI + (70 * MI - 20 * MI) * 2 / 3.0));
    struct usage_obs cp;
    assert_int_equal(usage_obs_copy(&cp, &o), FS_OK);
    assert_int_equal(cp.n, 6);
    assert_int_equal(cp.v[CURVE_CPU][5], 700);
    usage_obs_release(&cp);
    usage_obs_release(&o);
}

static void test_error_figures(void **state)
{
    (void)state;
    struct curve base;
    flat(&base, 4, 1000, 1200, 100 * MI);
    struct usage_obs o;
    usage_obs_init(&o, T0, 10);
    /* cpu observed 1000, 1500, 500, 1000: APE 0, 0.5/1.5, 0.5/0.5, 0 */
    int64_t cpu[] = {1000, 1500, 500, 1000};
    for (int i = 0; i < 4; i++) {
        int64_t v[3] = {cpu[i], 100 * MI, 0};
        assert_int_equal(usage_obs_add(&o, T0 + 10 * i + 1, v), 1);
    }
    struct usage_error e;
    usage_error(&o, &base, &e);
    assert_true(e.has_mape[CURVE_CPU]);
    assert_true(fabs(e.mape[CURVE_CPU] - 100.0 * (0 + 1.0 / 3 + 1 + 0) / 4) < 1e-9);
    /* MASE: mean |e| = 250, mean |naive step| = (500 + 1000 + 500) / 3 */
    assert_true(e.has_mase[CURVE_CPU]);
    assert_true(fabs(e.mase[CURVE_CPU] - 250.0 / (2000.0 / 3)) < 1e-9);
    /* memory is exact and flat: MAPE 0, MASE undefined (no change to scale by) */
    assert_true(e.has_mape[CURVE_MEM]);
    assert_true(e.mape[CURVE_MEM] == 0);
    assert_false(e.has_mase[CURVE_MEM]);
    assert_true(e.has_mape_all);
    assert_true(fabs(e.mape_all - e.mape[CURVE_CPU] / 2) < 1e-9);
    assert_true(e.has_mase_all && fabs(e.mase_all - e.mase[CURVE_CPU]) < 1e-9);
    usage_obs_release(&o);
    curve_release(&base);
}

static void test_error_nothing_observed(void **state)
{
    (void)state;
    struct curve base;
    flat(&base, 2, 100, 100, MI);
    struct usage_obs o;
    usage_obs_init(&o, T0, 10);
    struct usage_error e;
    usage_error(&o, &base, &e);
    assert_false(e.has_mape_all);
    assert_false(e.has_mase_all);
    int64_t zero[3] = {0, 0, 0};
    usage_obs_add(&o, T0, zero);
    usage_error(&o, &base, &e);
    assert_false(e.has_mape_all); /* no observed value > 0: no percentage */
    usage_obs_release(&o);
    curve_release(&base);
}

static void test_band_holds_past_the_end(void **state)
{
    (void)state;
    struct curve base;
    flat(&base, 3, 100, 400, MI);
    assert_int_equal(usage_band_at(&base, CURVE_P90, CURVE_CPU, T0 - 50), 400);
    assert_int_equal(usage_band_at(&base, CURVE_P90, CURVE_CPU, T0 + 10000), 400);
    assert_int_equal(usage_band_at(&base, CURVE_P50, CURVE_CPU, T0 + 15), 100);
    curve_release(&base);
}

static void test_anomaly_after_window(void **state)
{
    (void)state;
    struct curve base;
    flat(&base, 30, 1000, 1000, 100 * MI);
    struct usage_anomaly a = {0};
    int64_t hi[3] = {3000, 100 * MI, 0}, ok[3] = {1050, 100 * MI, 0};
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 0, hi, 0.1, 30), 0);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 15, hi, 0.1, 30), 0);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 20, ok, 0.1, 30), 0); /* within tolerance: resets */
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 35, hi, 0.1, 30), 0);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 50, hi, 0.1, 30), 0);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 65, hi, 0.1, 30), 1);
    assert_int_equal(a.res, CURVE_CPU);
    assert_int_equal(a.observed, 3000);
    assert_int_equal(a.band, 1000);
    assert_true(a.for_s >= 30);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 80, hi, 0.1, 30), 0); /* latched: reported once */
    curve_release(&base);
}

static void test_anomaly_ignores_idle_noise(void **state)
{
    (void)state;
    struct curve base;
    flat(&base, 10, 0, 0, 0); /* predicted nothing: a few milli-cores are not an anomaly */
    struct usage_anomaly a = {0};
    int64_t v[3] = {3, MI, 0};
    for (int i = 0; i < 10; i++)
        assert_int_equal(usage_anomaly_push(&a, &base, T0 + 10 * i, v, 0.1, 0), 0);
    int64_t mem[3] = {0, 64 * MI, 0};
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 200, mem, 0.1, 0), 1);
    assert_int_equal(a.res, CURVE_MEM);
    curve_release(&base);
}

/* Network: flagged above its predicted band like cpu and memory; never when it was not
 * sampled, nor when nothing was predicted for it (a MicroTask silent about its traffic). */
static void test_anomaly_network(void **state)
{
    (void)state;
    struct curve base;
    flat(&base, 30, 1000, 1000, 100 * MI);
    for (uint32_t i = 0; i < 30; i++)
        base.v[CURVE_P50][CURVE_NET][i] = base.v[CURVE_P90][CURVE_NET][i] = 2 * MI;
    struct usage_anomaly a = {0};
    int64_t unknown[3] = {1000, 100 * MI, USAGE_UNKNOWN}, hot[3] = {1000, 100 * MI, 10 * MI};
    for (int i = 0; i < 10; i++)
        assert_int_equal(usage_anomaly_push(&a, &base, T0 + 10 * i, unknown, 0.1, 30), 0);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 100, hot, 0.1, 30), 0);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 115, hot, 0.1, 30), 0);
    assert_int_equal(usage_anomaly_push(&a, &base, T0 + 130, hot, 0.1, 30), 1);
    assert_int_equal(a.res, CURVE_NET);
    assert_int_equal(a.observed, 10 * MI);
    assert_int_equal(a.band, 2 * MI);
    curve_release(&base);
    /* no network predicted: traffic is not judged */
    flat(&base, 30, 1000, 1000, 100 * MI);
    struct usage_anomaly b = {0};
    for (int i = 0; i < 20; i++)
        assert_int_equal(usage_anomaly_push(&b, &base, T0 + 10 * i, hot, 0.1, 30), 0);
    curve_release(&base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_mean_repeat_and_gaps),
        cmocka_unit_test(test_error_figures),
        cmocka_unit_test(test_error_nothing_observed),
        cmocka_unit_test(test_band_holds_past_the_end),
        cmocka_unit_test(test_anomaly_after_window),
        cmocka_unit_test(test_anomaly_ignores_idle_noise),
        cmocka_unit_test(test_anomaly_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
