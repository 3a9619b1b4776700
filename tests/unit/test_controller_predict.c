/* Unit tests for controller/predict: curves from spec.resources and from a frozen estimate,
 * splicing observed usage into a running task's curve, and the status JSON (read back with
 * the ledger's own parser, as the extender will). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "../../controller/duration.c"
#include "../../controller/priority.c"
#include "../../controller/microtask.c"
#include "../../controller/predict.c"

#define T0 1800000000LL

static struct microtask with_resources(int64_t cpu, int64_t mem, int64_t net, double dur)
{
    struct microtask mt;
    microtask_init(&mt);
    mt.has_resources = 1;
    mt.res_cpu_milli = cpu;
    mt.res_mem_bytes = mem;
    mt.res_net_bps = net;
    mt.res_duration_s = dur;
    return mt;
}

static void test_curve_from_resources(void **state)
{
    (void)state;
    struct microtask mt = with_resources(1000, 512LL << 20, 0, 720);
    struct curve c;
    curve_init(&c);
    assert_int_equal(predict_from_resources(&mt, T0, 30, 600, &c, NULL, 0), FS_OK);
    assert_string_equal(c.model, "resources");
    assert_int_equal(c.n_steps, 24);
    assert_int_equal(c.step_s, 30);
    assert_int_equal(c.start_s, T0);
    assert_int_equal(c.duration_s, 720);
    for (uint32_t i = 0; i < c.n_steps; i++) {
        assert_int_equal(c.v[CURVE_P50][CURVE_CPU][i], 1000);
        assert_int_equal(c.v[CURVE_P90][CURVE_MEM][i], 512LL << 20);
        assert_int_equal(c.v[CURVE_P90][CURVE_NET][i], 0);
    }
    /* no duration in the spec: the default, rounded up to whole steps */
    mt.res_duration_s = 0;
    assert_int_equal(predict_from_resources(&mt, T0, 30, 100, &c, NULL, 0), FS_OK);
    assert_int_equal(c.n_steps, 4);
    assert_int_equal(c.duration_s, 100);
    curve_release(&c);
}

static void test_resources_errors(void **state)
{
    (void)state;
    struct microtask mt;
    struct curve c;
    char err[128];
    microtask_init(&mt);
    curve_init(&c);
    assert_int_equal(predict_from_resources(&mt, T0, 30, 600, &c, err, sizeof(err)), FS_EINVAL);
    assert_string_equal(err, "spec.resources is not set and nothing is learnt for this task type");
    mt = with_resources(1000, 1, 0, 30.0 * CURVE_MAX_STEPS + 1);
    assert_int_equal(predict_from_resources(&mt, T0, 30, 600, &c, err, sizeof(err)), FS_ERANGE);
    assert_string_equal(err, "predicted duration is longer than the longest curve (20160 steps)");
    mt = with_resources(1000, 1, 0, 60);
    assert_int_equal(predict_from_resources(&mt, T0, 0, 600, &c, err, sizeof(err)), FS_EINVAL);
    assert_int_equal(c.n_steps, 0);
}

/* 150 units at 0.6 s each with 100 MB + 1 MB per unit: 90 s, 250 MB */
static void test_curve_from_estimate(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 0.6, .fixed_cpu_milli = 500,
                                   .fixed_mem_bytes = 1e8, .mem_bytes_per_unit = 1e6};
    struct curve c;
    curve_init(&c);
    assert_int_equal(predict_from_estimate(&e, 150, 1000, T0, 30, &c, NULL, 0), FS_OK);
    assert_string_equal(c.model, "estimate");
    assert_int_equal(c.n_steps, 3);
    assert_int_equal(c.duration_s, 90);
    assert_int_equal(c.v[CURVE_P90][CURVE_CPU][2], 500);
    assert_int_equal(c.v[CURVE_P90][CURVE_MEM][0], 250000000);
    assert_int_equal(c.v[CURVE_P50][CURVE_NET][1], 1000);
    e.s_per_unit = NAN;
    char err[64];
    assert_int_equal(predict_from_estimate(&e, 150, 0, T0, 30, &c, err, sizeof(err)), FS_EINVAL);
    assert_string_equal(err, "estimate must be finite and not negative");
    curve_release(&c);
}

static void test_splice_rescales_the_rest(void **state)
{
    (void)state;
    struct microtask mt = with_resources(1000, 1000000, 0, 120);
    struct curve pred, out;
    curve_init(&pred);
    assert_int_equal(predict_from_resources(&mt, T0, 30, 0, &pred, NULL, 0), FS_OK);
    for (uint32_t i = 0; i < pred.n_steps; i++)
        pred.v[CURVE_P90][CURVE_CPU][i] = 1500; /* a band above p50 */
    int64_t cpu[] = {2000, 2000}, mem[] = {500000, 500000}, net[] = {0, -5};
    const int64_t *const obs[CURVE_NRES] = {cpu, mem, net};
    assert_int_equal(predict_splice(&pred, obs, 2, &out), FS_OK);
    assert_string_equal(out.model, "resources+observed");
    assert_int_equal(out.n_steps, 4);
    assert_int_equal(out.duration_s, 120);
    /* observed steps as they were (negatives as zero) */
    assert_int_equal(out.v[CURVE_P50][CURVE_CPU][0], 2000);
    assert_int_equal(out.v[CURVE_P90][CURVE_CPU][1], 2000);
    assert_int_equal(out.v[CURVE_P90][CURVE_NET][1], 0);
    /* cpu ran at twice the prediction, memory at half: the rest follows */
    assert_int_equal(out.v[CURVE_P50][CURVE_CPU][2], 2000);
    assert_int_equal(out.v[CURVE_P90][CURVE_CPU][3], 3000);
    assert_int_equal(out.v[CURVE_P50][CURVE_MEM][3], 500000);
    curve_release(&out);

    /* ten times the prediction is clamped to four times */
    int64_t hot[] = {10000, 10000};
    const int64_t *const obs2[CURVE_NRES] = {hot, mem, net};
    assert_int_equal(predict_splice(&pred, obs2, 2, &out), FS_OK);
    assert_int_equal(out.v[CURVE_P50][CURVE_CPU][2], 4000);
    curve_release(&out);

    /* running past the predicted end: one more step at the last level */
    int64_t c5[] = {1000, 1000, 1000, 1000, 700}, m5[] = {1, 1, 1, 1, 1}, n5[] = {0, 0, 0, 0, 0};
    const int64_t *const obs3[CURVE_NRES] = {c5, m5, n5};
    assert_int_equal(predict_splice(&pred, obs3, 5, &out), FS_OK);
    assert_int_equal(out.n_steps, 6);
    assert_int_equal(out.duration_s, 180);
    assert_int_equal(out.v[CURVE_P90][CURVE_CPU][5], 700);
    curve_release(&out);

    /* nothing observed yet: the prediction itself */
    assert_int_equal(predict_splice(&pred, obs, 0, &out), FS_OK);
    assert_int_equal(out.v[CURVE_P90][CURVE_CPU][0], 1500);
    curve_release(&out);
    curve_release(&pred);
}

static void test_status_patch_round_trips(void **state)
{
    (void)state;
    struct microtask mt = with_resources(1000, 768LL << 20, 10LL << 20, 600);
    struct curve pred, c, back;
    curve_init(&pred);
    curve_init(&back);
    assert_int_equal(predict_from_resources(&mt, T0, 30, 0, &pred, NULL, 0), FS_OK);
    /* a peak of 1.5 cores at step 9 (4m30s after the start) */
    int64_t cpu[10], mem[10], net[10];
    for (int i = 0; i < 10; i++) {
        cpu[i] = i == 9 ? 1500 : 800;
        mem[i] = 768LL << 20;
        net[i] = 10LL << 20;
    }
    const int64_t *const obs[CURVE_NRES] = {cpu, mem, net};
    assert_int_equal(predict_splice(&pred, obs, 10, &c), FS_OK);

    json_t *patch = NULL;
    assert_int_equal(predict_status_patch(&c, &patch), FS_OK);
    json_t *status = json_object_get(patch, "status");
    json_t *sum = json_object_get(status, "predictionSummary");
    char *s = json_dumps(sum, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"cpuPeak\":\"1500m\",\"duration\":\"10m\",\"memoryPeak\":\"768Mi\","
                           "\"model\":\"resources+observed\",\"networkPeak\":\"10Mi/s\",\"peakAfter\":\"4m30s\"}");
    free(s);

    char err[128] = "";
    assert_int_equal(curve_from_json(&back, json_object_get(status, "prediction"), err, sizeof(err)), FS_OK);
    assert_int_equal(back.n_steps, c.n_steps);
    assert_int_equal(back.step_s, 30);
    assert_int_equal(back.start_s, T0);
    assert_int_equal(back.duration_s, 600);
    for (int b = 0; b < 2; b++)
        for (int r = 0; r < CURVE_NRES; r++)
            for (uint32_t i = 0; i < c.n_steps; i++)
                assert_int_equal(back.v[b][r][i], c.v[b][r][i]);
    json_decref(patch);

    /* a flat curve has no window to write */
    struct curve flat;
    int64_t v[CURVE_NRES] = {1, 2, 3};
    curve_init_flat(&flat, T0, v);
    assert_int_equal(predict_status_patch(&flat, &patch), FS_EINVAL);
    assert_null(patch);
    curve_release(&back);
    curve_release(&c);
    curve_release(&pred);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_from_resources),
        cmocka_unit_test(test_resources_errors),
        cmocka_unit_test(test_curve_from_estimate),
        cmocka_unit_test(test_splice_rescales_the_rest),
        cmocka_unit_test(test_status_patch_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
