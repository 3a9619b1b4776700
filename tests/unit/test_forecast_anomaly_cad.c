/* Unit tests for lib/forecast/cad (the contextual anomaly detector) and its use inside
 * anom_score: a learnt cycle scores low, a transition never seen scores high, the rest
 * after an alarm, NaN skipped without touching the state, degenerate ranges; and
 * anom_score's block spread signal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <cmocka.h>

#include "forecast/anomaly.h"
#include "forecast/cad.h"
#include "forecast/fc_math.h"

/* a triangle wave over the 8 bins of [0, 70] (bin width 10), period 14, with noise
 * well inside each bin */
static double tri(int t, struct fc_rng *r)
{
    int p = t % 14;
    int bin = p < 8 ? p : 14 - p;
    return 10 * bin + 2 + (r ? fc_rng_uniform(r) : 0.5);
}

static void test_cad_rejects_bad_arguments(void **state)
{
    (void)state;
    struct cad c;
    assert_int_equal(cad_init(&c, 0, 1, 0, 10, 0.75, 7, 15), FS_EINVAL);
    assert_int_equal(cad_init(&c, 0, 1, 17, 10, 0.75, 7, 15), FS_EINVAL);
    assert_int_equal(cad_init(&c, 0, 1, 3, -1, 0.75, 7, 15), FS_EINVAL);
    assert_int_equal(cad_init(&c, 0, 1, 3, 10, 0, 7, 15), FS_EINVAL);
    assert_int_equal(cad_init(&c, 0, 1, 3, 10, 1.5, 7, 15), FS_EINVAL);
    assert_int_equal(cad_init(&c, 0, 1, 3, 10, 0.75, 0, 15), FS_EINVAL);
    assert_int_equal(cad_init(&c, 0, 1, 3, 10, 0.75, 7, 0), FS_EINVAL);
    assert_int_equal(cad_init(&c, NAN, 1, 3, 10, 0.75, 7, 15), FS_EINVAL);
    assert_int_equal(cad_init(&c, 0, INFINITY, 3, 10, 0.75, 7, 15), FS_EINVAL);
}

/* After a few periods the cycle is known: its scores stay low; a jump from the bottom
 * to the top bin, never seen, scores at or above the threshold 0.75 and above every
 * score of the known cycle. */
static void test_cad_learns_a_cycle_and_flags_a_new_transition(void **state)
{
    (void)state;
    struct cad c;
    struct fc_rng r;
    fc_rng_init(&r, 3);
    assert_int_equal(cad_init(&c, 0, 70, 3, 0, 0.75, 7, 15), FS_OK);
    double s, first = 0, top = 0, sum = 0;
    int t = 0;
    for (; t < 14; t++) {
        assert_int_equal(cad_push(&c, tri(t, &r), &s), FS_OK);
        first += s / 14;
    }
    for (; t < 14 * 40; t++) {
        assert_int_equal(cad_push(&c, tri(t, &r), &s), FS_OK);
        assert_true(s >= 0 && s <= 1);
        if (t >= 14 * 30) {
            top = fmax(top, s);
            sum += s;
        }
    }
    double mean = sum / (14 * 10);
    assert_true(first > 0.5);  /* everything is new at first */
    /* known later: not 0, since contexts with part of a left side (one bit of the
     * bin) are followed by several values */
    assert_true(mean < 0.25);
    assert_true(top < 0.75);
    /* t is a multiple of 14: the cycle is at bin 0 and would go to bin 1 next */
    assert_int_equal(cad_push(&c, tri(t, &r), &s), FS_OK);
    assert_int_equal(cad_push(&c, 72, &s), FS_OK);
    assert_true(s >= 0.75);
    assert_true(s > top);
    cad_release(&c);
}

/* After a raw score >= base the next `rest` steps score 0, and so do the first `rest`
 * steps (the start counts as an incident). */
static void test_cad_rests_after_an_alarm(void **state)
{
    (void)state;
    struct cad c;
    const int rest = 20;
    assert_int_equal(cad_init(&c, 0, 70, 3, rest, 0.75, 7, 15), FS_OK);
    double s;
    int t = 0;
    for (; t < rest; t++) {
        assert_int_equal(cad_push(&c, tri(t, NULL), &s), FS_OK);
        assert_true(s == 0);
    }
    for (; t < 14 * 40; t++)
        assert_int_equal(cad_push(&c, tri(t, NULL), &s), FS_OK);
    assert_int_equal(cad_push(&c, tri(t, NULL), &s), FS_OK);
    assert_int_equal(cad_push(&c, 72, &s), FS_OK);
    assert_true(s >= 0.75);
    /* more never-seen values: silenced for `rest` steps */
    for (int k = 0; k < rest; k++) {
        assert_int_equal(cad_push(&c, k % 2 ? 72 : 35, &s), FS_OK);
        assert_true(s == 0);
    }
    cad_release(&c);
}

/* A square wave between two far bins that turns calm (a constant in between): the calm
 * values are ordinary and their changes small, yet the pattern is new. NaN and
 * infinities score 0 and leave the state as it was; out-of-range values take the end
 * bins; an empty range (lo == hi) works. */
static void test_cad_sees_a_calm_spell_and_skips_nan(void **state)
{
    (void)state;
    struct cad a, b;
    assert_int_equal(cad_init(&a, 0, 70, 3, 0, 0.75, 7, 15), FS_OK);
    assert_int_equal(cad_init(&b, 0, 70, 3, 0, 0.75, 7, 15), FS_OK);
    double sa, sb, calm = 0, top = 0;
    for (int t = 0; t < 600; t++) {
        double y = t % 2 ? 12 : 62;
        assert_int_equal(cad_push(&a, y, &sa), FS_OK);
        if (t == 300) { /* NaN and infinities inside the run on b only */
            assert_int_equal(cad_push(&b, NAN, &sb), FS_OK);
            assert_true(sb == 0);
            assert_int_equal(cad_push(&b, INFINITY, &sb), FS_OK);
            assert_true(sb == 0);
        }
        assert_int_equal(cad_push(&b, y, &sb), FS_OK);
        assert_true(sa == sb);
        if (t >= 500)
            top = fmax(top, sa);
    }
    for (int t = 0; t < 3; t++) {
        assert_int_equal(cad_push(&a, 35, &sa), FS_OK);
        calm = fmax(calm, sa);
    }
    assert_true(top < 0.75);
    assert_true(calm >= 0.75);
    /* values far outside the range and a huge one: no crash, scores in [0, 1] */
    assert_int_equal(cad_push(&a, -1e300, &sa), FS_OK);
    assert_true(sa >= 0 && sa <= 1);
    assert_int_equal(cad_push(&a, 1e300, &sa), FS_OK);
    assert_true(sa >= 0 && sa <= 1);
    cad_release(&a);
    cad_release(&b);
    assert_int_equal(cad_init(&a, 5, 5, 3, 0, 0.75, 7, 15), FS_OK);
    for (int t = 0; t < 50; t++) {
        assert_int_equal(cad_push(&a, 5, &sa), FS_OK);
        assert_true(sa >= 0 && sa <= 1);
    }
    assert_true(sa < 0.75);
    cad_release(&a);
}

/* Inside anom_score: a new pattern with zero residuals and values inside the range is
 * no alarm without the contextual detector and an alarm with it; it is added before
 * the first sample only. */
static void test_anomaly_score_with_cad(void **state)
{
    (void)state;
    for (int with = 0; with <= 1; with++) {
        struct anom_score s;
        assert_int_equal(anom_score_init(&s, 10, 2000, 0, 0.05, 0.5, 24), FS_OK);
        if (with)
            assert_int_equal(anom_score_use_cad(&s, 0, 70, 20), FS_OK);
        for (int t = 0; t < 200; t++)
            assert_int_equal(anom_score_learn(&s, tri(t, NULL)), FS_OK);
        /* too late (samples seen), or a second time */
        assert_int_equal(anom_score_use_cad(&s, 0, 70, 20), FS_EINVAL);
        int t = 200;
        double top = 0;
        for (; t < 14 * 60; t++)
            top = fmax(top, anom_score_push(&s, tri(t, NULL), 0));
        assert_true(top < 0.5);
        double calm = 0;
        for (int k = 0; k < 5; k++)
            calm = fmax(calm, anom_score_push(&s, 35, 0));
        if (with)
            assert_true(calm >= 0.5);
        else
            assert_true(calm < 0.5);
        anom_score_release(&s);
    }
    struct anom_score s;
    assert_int_equal(anom_score_init(&s, 10, 2000, 0, 0.05, 0.5, 24), FS_OK);
    assert_int_equal(anom_score_use_cad(&s, 0, 70, -1), FS_EINVAL);
    assert_int_equal(anom_score_use_cad(&s, 0, NAN, 20), FS_EINVAL);
    anom_score_release(&s);
}

/* The block spread signal: noise of spread 10 that turns to spread 1 around the same
 * mean, with residuals that shrink too, is no alarm for the likelihoods and an alarm
 * within a few blocks with the block signal; it scores only at blocks' ends; it needs
 * the level signal and a block of at least 2 samples. */
static void test_anomaly_score_blocks_see_a_calm_spell(void **state)
{
    (void)state;
    struct anom_score s;
    assert_int_equal(anom_score_init(&s, 10, 2000, 0, 0.05, 0.5, 24), FS_OK);
    assert_int_equal(anom_score_use_blocks(&s, 12), FS_EINVAL); /* no level signal */
    anom_score_release(&s);
    assert_int_equal(anom_score_init(&s, 10, 2000, 500, 0.05, 0.5, 24), FS_OK);
    assert_int_equal(anom_score_use_blocks(&s, 1), FS_EINVAL);
    assert_int_equal(anom_score_use_blocks(&s, 501), FS_EINVAL);
    anom_score_release(&s);
    for (int with = 0; with <= 1; with++) {
        struct fc_rng r;
        fc_rng_init(&r, 8);
        assert_int_equal(anom_score_init(&s, 10, 2000, 500, 0.05, 0.5, 24), FS_OK);
        if (with)
            assert_int_equal(anom_score_use_blocks(&s, 12), FS_OK);
        for (int t = 0; t < 300; t++)
            assert_int_equal(anom_score_learn(&s, 50 + 10 * fc_rng_normal(&r)), FS_OK);
        assert_int_equal(anom_score_use_blocks(&s, 12), FS_EINVAL); /* too late, or twice */
        int high = 0;
        for (int t = 0; t < 12 * 150; t++) {
            double e = 10 * fc_rng_normal(&r);
            high += anom_score_push(&s, 50 + e, e) >= 0.5;
        }
        assert_true(high <= 2);
        int at = -1;
        for (int t = 0; t < 12 * 6; t++) {
            double e = fc_rng_normal(&r);
            double v = anom_score_push(&s, 50 + e, e);
            if (v >= 0.5 && at < 0)
                at = t;
        }
        if (with) {
            assert_true(at >= 0);
            assert_int_equal(at % 12, 11); /* at the end of a block */
        } else {
            assert_true(at < 0);
        }
        anom_score_release(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cad_rejects_bad_arguments),
        cmocka_unit_test(test_cad_learns_a_cycle_and_flags_a_new_transition),
        cmocka_unit_test(test_cad_rests_after_an_alarm),
        cmocka_unit_test(test_cad_sees_a_calm_spell_and_skips_nan),
        cmocka_unit_test(test_anomaly_score_with_cad),
        cmocka_unit_test(test_anomaly_score_blocks_see_a_calm_spell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
