/* Unit tests for network usage (read from Prometheus) as it flows through controller/usage
 * and controller/learn: a sample without a network rate (USAGE_UNKNOWN) leaves network out
 * and holds its last value, a later rate interpolates over the steps missed; network counts
 * in the overall error only where the baseline predicted some; a completed run with network
 * is kept in the TaskProfile and predicts a network curve, one without keeps network at 0. */
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
#include "../../controller/learn.c"

#define T0 1800000000LL
#define MI (1024LL * 1024)
#define U USAGE_UNKNOWN

/* n steps of 10 s: cpu 1000m, memory 100Mi, network net (p50 = p90) */
static void baseline(struct curve *c, uint32_t n, int64_t net)
{
    curve_init(c);
    assert_int_equal(curve_alloc(c, NULL, T0, 10, n, 10 * (int64_t)n), FS_OK);
    for (int b = 0; b < 2; b++)
        for (uint32_t i = 0; i < n; i++) {
            c->v[b][CURVE_CPU][i] = 1000;
            c->v[b][CURVE_MEM][i] = 100 * MI;
            c->v[b][CURVE_NET][i] = net;
        }
}

static void test_unknown_network_held_then_interpolated(void **state)
{
    (void)state;
    struct usage_obs o;
    usage_obs_init(&o, T0, 10);
    /* Prometheus has no rate for the first two samples (rate() needs two scrapes) */
    int64_t s0[3] = {100, 10 * MI, U}, s1[3] = {100, 10 * MI, U};
    int64_t s2[3] = {100, 10 * MI, 4 * MI}, s3[3] = {100, 10 * MI, U}, s5[3] = {100, 10 * MI, 8 * MI};
    assert_int_equal(usage_obs_add(&o, T0 + 1, s0), 1);
    assert_int_equal(o.seen[CURVE_NET], 0);
    assert_int_equal(o.v[CURVE_NET][0], 0); /* nothing known: 0, not a guess */
    assert_int_equal(usage_obs_add(&o, T0 + 11, s1), 1);
    assert_int_equal(usage_obs_add(&o, T0 + 21, s2), 1);
    /* its first rate fills the steps before it, as a first cpu sample does */
    for (int i = 0; i < 3; i++)
        assert_int_equal(o.v[CURVE_NET][i], 4 * MI);
    assert_int_equal(o.seen[CURVE_NET], 3);
    /* Prometheus down for a step: held at the last known rate... */
    assert_int_equal(usage_obs_add(&o, T0 + 31, s3), 1);
    assert_int_equal(o.v[CURVE_NET][3], 4 * MI);
    assert_int_equal(o.seen[CURVE_NET], 3);
    /* ...until a rate comes, which interpolates over the steps it missed */
    assert_int_equal(usage_obs_add(&o, T0 + 51, s5), 1);
    assert_int_equal(o.n, 6);
    assert_int_equal(o.v[CURVE_NET][3], llround(4 * MI + 4.0 * MI / 3));
    assert_int_equal(o.v[CURVE_NET][4], llround(4 * MI + 8.0 * MI / 3));
    assert_int_equal(o.v[CURVE_NET][5], 8 * MI);
    /* cpu and memory never missed a sample: untouched by network's gaps */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(o.v[CURVE_CPU][i], 100);
        assert_int_equal(o.v[CURVE_MEM][i], 10 * MI);
    }
    usage_obs_release(&o);
}

static void test_network_mean_within_a_step(void **state)
{
    (void)state;
    struct usage_obs o;
    usage_obs_init(&o, T0, 10);
    int64_t a[3] = {100, MI, U}, b[3] = {100, MI, 1000}, d[3] = {100, MI, 3000}, e[3] = {100, MI, -5};
    assert_int_equal(usage_obs_add(&o, T0 + 1, a), 1);
    assert_int_equal(usage_obs_add(&o, T0 + 4, b), 1);
    assert_int_equal(usage_obs_add(&o, T0 + 7, d), 1);
    assert_int_equal(o.v[CURVE_NET][0], 2000); /* the mean of the rates it had, the unknown left out */
    assert_int_equal(usage_obs_add(&o, T0 + 12, e), 1);
    assert_int_equal(o.v[CURVE_NET][1], 0); /* a negative rate is no traffic */
    usage_obs_release(&o);
}

static void test_network_error_where_predicted(void **state)
{
    (void)state;
    struct curve with_net, without;
    baseline(&with_net, 4, 2 * MI);
    baseline(&without, 4, 0);
    struct usage_obs o;
    usage_obs_init(&o, T0, 10);
    int64_t net[] = {2 * MI, 4 * MI, 2 * MI, 1 * MI}; /* APE 0, 0.5, 0, 1 */
    for (int i = 0; i < 4; i++) {
        int64_t v[3] = {1000, 100 * MI, net[i]};
        assert_int_equal(usage_obs_add(&o, T0 + 10 * i + 1, v), 1);
    }
    struct usage_error e;
    usage_error(&o, &with_net, &e);
    assert_true(e.has_mape[CURVE_NET]);
    assert_true(fabs(e.mape[CURVE_NET] - 37.5) < 1e-9);
    /* MASE: mean |e| = (0 + 2 + 0 + 1) Mi / 4, naive (2 + 2 + 1) Mi / 3 */
    assert_true(e.has_mase[CURVE_NET]);
    assert_true(fabs(e.mase[CURVE_NET] - (3.0 / 4) / (5.0 / 3)) < 1e-9);
    /* cpu and memory exact: the overall MAPE is network's over the three resources */
    assert_true(e.has_mape_all);
    assert_true(fabs(e.mape_all - 37.5 / 3) < 1e-9);
    /* no network predicted: its error is reported, the overall figure is cpu and memory only */
    usage_error(&o, &without, &e);
    assert_true(e.has_mape[CURVE_NET]);
    assert_true(fabs(e.mape[CURVE_NET] - 100) < 1e-9);
    assert_true(e.has_mape_all);
    assert_true(e.mape_all == 0);
    usage_obs_release(&o);
    curve_release(&with_net);
    curve_release(&without);
}

static void test_network_never_sampled(void **state)
{
    (void)state;
    struct curve base;
    baseline(&base, 3, MI);
    struct usage_obs o;
    usage_obs_init(&o, T0, 10);
    for (int i = 0; i < 3; i++) {
        int64_t v[3] = {1000, 100 * MI, U};
        assert_int_equal(usage_obs_add(&o, T0 + 10 * i, v), 1);
    }
    assert_int_equal(o.seen[CURVE_NET], 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(o.v[CURVE_NET][i], 0);
    struct usage_error e;
    usage_error(&o, &base, &e);
    assert_false(e.has_mape[CURVE_NET]);
    assert_true(e.has_mape_all && e.mape_all == 0); /* nothing network-wise counted against it */
    /* a restarted controller reloads the observed part: everything loaded counts as seen */
    struct usage_obs r;
    usage_obs_init(&r, 0, 10);
    assert_int_equal(usage_obs_load(&r, &base, 2), FS_OK);
    assert_int_equal(r.seen[CURVE_NET], 2);
    assert_int_equal(r.v[CURVE_NET][1], MI);
    usage_obs_release(&r);
    usage_obs_release(&o);
    curve_release(&base);
}

/* five runs of 6 steps, network rising from 1Mi/s to 3Mi/s, folded into a TaskProfile status:
 * the network arrays are kept, the regression has networkPeak, the prediction has network */
static void test_learn_network(void **state)
{
    (void)state;
    json_t *st = NULL;
    char err[200] = "";
    int64_t cpu[6], mem[6], net[6];
    for (int i = 0; i < 6; i++) {
        cpu[i] = 500;
        mem[i] = 64 * MI;
        net[i] = MI + (int64_t)i * 2 * MI / 5;
    }
    for (int k = 0; k < 5; k++) {
        char uid[16];
        snprintf(uid, sizeof(uid), "uid-%d", k);
        struct learn_run run = {uid, 1, 60, 10, 6, {cpu, mem, net}, 0, 0, -1};
        json_t *out = NULL;
        assert_int_equal(learn_fold(st, &run, T0 + k * 100, 20, 10, 720, &out, err, sizeof(err)), FS_OK);
        assert_non_null(out);
        json_decref(st);
        st = out;
    }
    const json_t *rec = json_array_get(json_object_get(json_object_get(st, "profile"), "recent"), 4);
    const json_t *jn = json_object_get(rec, "network");
    assert_int_equal(json_array_size(jn), 6);
    assert_int_equal(json_integer_value(json_array_get(jn, 5)), 3 * MI);
    const json_t *np = json_object_get(json_object_get(st, "regression"), "networkPeak");
    assert_non_null(np);
    /* a constant size: the peak lands in the intercept and the per-unit slope together */
    double peak = json_number_value(json_object_get(np, "intercept")) + json_number_value(json_object_get(np, "perUnit"));
    assert_true(fabs(peak - 3 * MI) < 0.01 * 3 * MI);

    struct profile p;
    long runs = 0;
    assert_int_equal(learn_load(st, 20, 720, &p, &runs, err, sizeof(err)), FS_OK);
    assert_int_equal(runs, 5);
    struct curve c;
    curve_init(&c);
    assert_int_equal(learn_predict(&p, 1, T0, 10, &c, err, sizeof(err)), FS_OK);
    assert_int_equal(c.n_steps, 6);
    /* the learnt network curve follows the runs' rise within 10 % at both ends */
    double first = (double)c.v[CURVE_P50][CURVE_NET][0], last = (double)c.v[CURVE_P50][CURVE_NET][5];
    assert_true(fabs(first - (double)net[0]) < 0.1 * (double)net[0]);
    assert_true(fabs(last - (double)net[5]) < 0.1 * (double)net[5]);
    assert_true(c.v[CURVE_P90][CURVE_NET][5] >= c.v[CURVE_P50][CURVE_NET][5]);
    curve_release(&c);
    profile_release(&p);
    json_decref(st);
}

static void test_learn_without_network(void **state)
{
    (void)state;
    int64_t cpu[4] = {500, 500, 500, 500}, mem[4] = {MI, MI, MI, MI};
    struct learn_run run = {"u", 1, 40, 10, 4, {cpu, mem, NULL}, 0, 0, -1};
    json_t *st = NULL;
    char err[200] = "";
    assert_int_equal(learn_fold(NULL, &run, T0, 20, 10, 720, &st, err, sizeof(err)), FS_OK);
    const json_t *rec = json_array_get(json_object_get(json_object_get(st, "profile"), "recent"), 0);
    assert_null(json_object_get(rec, "network"));
    assert_null(json_object_get(json_object_get(st, "regression"), "networkPeak"));
    struct profile p;
    long runs = 0;
    assert_int_equal(learn_load(st, 20, 720, &p, &runs, err, sizeof(err)), FS_OK);
    struct curve c;
    curve_init(&c);
    assert_int_equal(learn_predict(&p, 1, T0, 10, &c, err, sizeof(err)), FS_OK);
    for (uint32_t i = 0; i < c.n_steps; i++)
        assert_int_equal(c.v[CURVE_P90][CURVE_NET][i], 0);
    assert_true(c.v[CURVE_P50][CURVE_CPU][0] > 0);
    curve_release(&c);
    profile_release(&p);
    /* a stored run whose network array does not match its cpu one is refused, not misread */
    json_t *bad = json_deep_copy(st);
    json_object_set_new(json_array_get(json_object_get(json_object_get(bad, "profile"), "recent"), 0), "network",
                        json_pack("[i]", 1));
    assert_int_equal(learn_load(bad, 20, 720, &p, &runs, err, sizeof(err)), FS_EPARSE);
    profile_release(&p);
    json_decref(bad);
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_network_held_then_interpolated),
        cmocka_unit_test(test_network_mean_within_a_step),
        cmocka_unit_test(test_network_error_where_predicted),
        cmocka_unit_test(test_network_never_sampled),
        cmocka_unit_test(test_learn_network),
        cmocka_unit_test(test_learn_without_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
