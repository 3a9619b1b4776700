/* Unit tests for lib/forecast/anomaly: k-of-n counting, the Holt-Winters aberrant
 * detector (RRDtool semantics) and the anomaly likelihood, on seeded series with and
 * without injected faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <cmocka.h>

#include "forecast/anomaly.h"
#include "forecast/fc_math.h"

static void test_kofn_counts_the_window(void **state)
{
    (void)state;
    struct kofn d;
    assert_int_equal(kofn_init(&d, 3, 5), FS_OK);
    assert_int_equal(kofn_init(&d, 6, 5), FS_EINVAL);
    assert_int_equal(kofn_init(&d, 1, 65), FS_EINVAL);
    assert_int_equal(kofn_init(&d, 3, 5), FS_OK);
    int seq[] = {1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0};
    int want[] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    /* after 1,0,1,0,0,1 the window (last 5) is 0,1,0,0,1 -> 2; adding 1 -> 1,0,0,1,1 = 3 */
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        assert_int_equal(kofn_push(&d, seq[i]), want[i]);
    assert_int_equal(kofn_init(&d, 64, 64), FS_OK);
    for (int i = 0; i < 63; i++)
        assert_int_equal(kofn_push(&d, 1), 0);
    assert_int_equal(kofn_push(&d, 1), 1);
}

static double series(size_t t, struct fc_rng *r)
{
    return 100 + 20 * sin(2 * M_PI * (double)t / 48) + fc_rng_normal(r);
}

static void test_hw_aberrant_flags_a_fault_and_not_noise(void **state)
{
    (void)state;
    struct hw_aberrant h;
    struct fc_rng r;
    assert_int_equal(hw_aberrant_init(&h, 0, 0.1, 0.0035, 0.1, 2, 7, 9), FS_EINVAL);
    assert_int_equal(hw_aberrant_init(&h, 48, 0.1, 0.0035, 0.1, 2, 10, 9), FS_EINVAL);
    assert_int_equal(hw_aberrant_init(&h, 48, 0.1, 0.0035, 0.1, 2, 7, 9), FS_OK);
    fc_rng_init(&r, 11);
    int failures = 0;
    double pred, lo, hi;
    for (size_t t = 0; t < 48 * 20; t++)
        failures += hw_aberrant_push(&h, series(t, &r), &pred, &lo, &hi);
    assert_int_equal(failures, 0);
    assert_true(lo < pred && pred < hi);
    /* a level shift of 15 sigma: a failure within the window length */
    int first = -1;
    for (size_t t = 48 * 20; t < 48 * 21; t++)
        if (hw_aberrant_push(&h, series(t, &r) + 15, NULL, NULL, NULL) && first < 0)
            first = (int)(t - 48 * 20);
    assert_true(first >= 6 && first <= 8);
    hw_aberrant_release(&h);

    /* NaN counts as a violation: a run of gaps fails, a single one does not */
    assert_int_equal(hw_aberrant_init(&h, 48, 0.1, 0.0035, 0.1, 2, 7, 9), FS_OK);
    fc_rng_init(&r, 12);
    for (size_t t = 0; t < 48 * 10; t++)
        hw_aberrant_push(&h, series(t, &r), NULL, NULL, NULL);
    assert_int_equal(hw_aberrant_push(&h, NAN, NULL, NULL, NULL), 0);
    int f = 0;
    for (int i = 0; i < 7; i++)
        f = hw_aberrant_push(&h, NAN, &pred, NULL, NULL);
    assert_int_equal(f, 1);
    assert_true(isfinite(pred));
    hw_aberrant_release(&h);
}

/* The likelihood of a sustained burst of large errors is tiny within the short window,
 * while ordinary noise of any scale rarely comes near the alarm threshold. */
static void test_anomaly_likelihood_flags_a_burst_not_noise(void **state)
{
    (void)state;
    struct anom_lik a;
    assert_int_equal(anom_lik_init(&a, 0, 10), FS_EINVAL);
    assert_int_equal(anom_lik_init(&a, 20, 10), FS_EINVAL);
    static const double scales[] = {1e-3, 1.0, 1e6};
    for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
        assert_int_equal(anom_lik_init(&a, 10, 2000), FS_OK);
        struct fc_rng r;
        fc_rng_init(&r, 7 + s);
        int low = 0;
        for (int t = 0; t < 3000; t++) {
            double p = anom_lik_push(&a, scales[s] * fabs(fc_rng_normal(&r)));
            assert_true(p >= 0 && p <= 1);
            if (t < 40)
                assert_true(p == 1); /* too little history for a verdict */
            low += p < 1e-5;
        }
        /* the short-window mean of |noise| is skewed, so the Gaussian tail is not
         * exact: rare verdicts below 1e-5 happen, but fewer than 1 in 1000 samples */
        assert_true(low <= 3);
        /* a NaN score is no evidence either way */
        assert_true(anom_lik_push(&a, NAN) == 1);
        /* errors five times the usual: flagged within the short window */
        int at = -1;
        for (int t = 0; t < 10 && at < 0; t++)
            if (anom_lik_push(&a, 5 * scales[s] * (1 + fabs(fc_rng_normal(&r)))) < 1e-5)
                at = t;
        assert_true(at >= 0);
        anom_lik_release(&a);
    }
}

/* anom_score on residuals of a known mean: quiet noise scores low, a level shift the
 * residuals show scores >= 0.5 soon, the hold silences the samples after an alarm, a
 * value far beyond the range seen scores 1, NaN scores 0. */
static void test_anomaly_score_shift_hold_range(void **state)
{
    (void)state;
    struct anom_score s;
    assert_int_equal(anom_score_init(&s, 10, 2000, -1, 0.05, 0.5, 24), FS_EINVAL);
    assert_int_equal(anom_score_init(&s, 10, 2000, 0, -0.1, 0.5, 24), FS_EINVAL);
    assert_int_equal(anom_score_init(&s, 10, 2000, 0, 0.05, 0, 24), FS_EINVAL);
    assert_int_equal(anom_score_init(&s, 10, 2000, 0, 0.05, 0.5, -1), FS_EINVAL);
    assert_int_equal(anom_score_init(&s, 0, 2000, 0, 0.05, 0.5, 24), FS_EINVAL);
    for (int level = 0; level <= 1; level++) {
        assert_int_equal(anom_score_init(&s, 10, 2000, level ? 500 : 0, 0.05, 0.5, 24), FS_OK);
        struct fc_rng r;
        fc_rng_init(&r, 21);
        for (int t = 0; t < 300; t++) /* a probationary part: range only */
            anom_score_learn(&s, 50 + 10 * fc_rng_normal(&r));
        int high = 0;
        double top = 0;
        for (int t = 0; t < 2500; t++) {
            double e = fc_rng_normal(&r);
            double v = anom_score_push(&s, 50 + e, e);
            assert_true(v >= 0 && v <= 1);
            top = fmax(top, v);
            high += v >= 0.5;
        }
        assert_true(high <= 2);
        assert_true(top > 0); /* the score does move with the noise */
        /* errors of 6 sigma within the old range: an alarm within the short window,
         * then exactly `hold` zeros */
        int at = -1;
        for (int t = 0; t < 10 && at < 0; t++) {
            double e = 6 + fc_rng_normal(&r);
            if (anom_score_push(&s, 50 + e, e) >= 0.5)
                at = t;
        }
        assert_true(at >= 0);
        for (int t = 0; t < 12; t++)
            assert_true(anom_score_push(&s, 50 + 6, 6) == 0);
        /* a value far beyond the range seen (about 10..90) is not held: it scores 1,
         * and restarts the hold */
        assert_true(anom_score_push(&s, 500, 0) == 1);
        for (int t = 0; t < 24; t++)
            assert_true(anom_score_push(&s, 50 + 6, 6) == 0);
        /* NaN is skipped */
        assert_true(anom_score_push(&s, NAN, 0) == 0);
        assert_true(anom_score_push(&s, 50, NAN) == 0);
        /* beyond the range seen (now up to 500): 1 whatever the residual */
        assert_true(anom_score_push(&s, 5000, 0) == 1);
        anom_score_release(&s);
    }
    /* without a range test the same jump with a zero residual is not an alarm */
    assert_int_equal(anom_score_init(&s, 10, 2000, 0, 0, 0.5, 24), FS_OK);
    for (int t = 0; t < 300; t++)
        anom_score_learn(&s, 50);
    assert_true(anom_score_push(&s, 500, 0) < 0.5);
    anom_score_release(&s);
    /* a level shift the residuals do not show (they are 0) is caught by the level
     * signal: the distance to the slow mean jumps */
    assert_int_equal(anom_score_init(&s, 10, 2000, 500, 0, 0.5, 24), FS_OK);
    struct fc_rng r;
    fc_rng_init(&r, 5);
    for (int t = 0; t < 1500; t++)
        assert_true(anom_score_push(&s, 50 + fc_rng_normal(&r), 0) < 0.5);
    int at = -1;
    for (int t = 0; t < 10 && at < 0; t++)
        if (anom_score_push(&s, 58 + fc_rng_normal(&r), 0) >= 0.5)
            at = t;
    assert_true(at >= 0);
    anom_score_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kofn_counts_the_window),
        cmocka_unit_test(test_hw_aberrant_flags_a_fault_and_not_noise),
        cmocka_unit_test(test_anomaly_likelihood_flags_a_burst_not_noise),
        cmocka_unit_test(test_anomaly_score_shift_hold_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
