/* Unit tests for lib/ledger: prediction JSON, resampling, ring advance, claims, releases,
 * replacement, fits at the exact boundaries, headroom, scoring and messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/curve.h"
#include "ledger/ledger.h"

#define T0 1735725600 /* 2025-01-01T10:00:00Z, a multiple of 30 */
#define GI (1024LL * 1024 * 1024)

static struct ledger *mk_ledger(uint32_t step, uint32_t n, double headroom)
{
    struct ledger_config cfg = {.step_s = step, .n_steps = n, .headroom = {headroom, headroom, headroom}};
    struct ledger *l = NULL;
    assert_int_equal(ledger_new(&cfg, T0, &l), FS_OK);
    return l;
}

static void add_node(struct ledger *l, const char *name, int64_t cpu_milli, int64_t mem)
{
    int64_t alloc[3] = {cpu_milli, mem, LEDGER_UNLIMITED};
    assert_int_equal(ledger_node_set(l, name, alloc), FS_OK);
}

/* A curve of cpu values (milli) per step, memory constant. */
static void mk_curve(struct curve *c, int64_t start, uint32_t step, const int64_t *cpu, uint32_t n, int64_t mem)
{
    json_t *cpu90 = json_array(), *mem90 = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_array_append_new(cpu90, json_real((double)cpu[i] / 1000.0));
        json_array_append_new(mem90, json_integer(mem));
    }
    char ts[40];
    assert_int_equal(rfc3339_format(start, ts, sizeof(ts)), FS_OK);
    json_t *p = json_pack("{s:i, s:s, s:{s:{s:o}, s:{s:o}}}", "stepSeconds", (int)step, "start", ts, "curves", "cpu",
                          "p90", cpu90, "memory", "p90", mem90);
    assert_non_null(p);
    curve_init(c);
    char err[128];
    assert_int_equal(curve_from_json(c, p, err, sizeof(err)), FS_OK);
    json_decref(p);
}

static void test_prediction_json_roundtrip(void **state)
{
    (void)state;
    const char *js = "{\"model\":\"profile\",\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\","
                     "\"durationSeconds\":75,\"curves\":{\"cpu\":{\"p50\":[0.5,1,0.25],\"p90\":[0.8,1.5,0.3]},"
                     "\"memory\":{\"p90\":[1073741824,2147483648,0]}},"
                     "\"peak\":{\"cpu\":99,\"memory\":1,\"at\":\"2025-01-01T10:00:00Z\"}}";
    struct curve c;
    char err[128];
    curve_init(&c);
    assert_int_equal(curve_parse(&c, js, strlen(js), err, sizeof(err)), FS_OK);
    assert_int_equal(c.step_s, 30);
    assert_int_equal(c.start_s, T0);
    assert_int_equal(c.n_steps, 3);
    assert_int_equal(c.duration_s, 75);
    assert_string_equal(c.model, "profile");
    assert_int_equal(c.v[CURVE_P50][CURVE_CPU][0], 500);
    assert_int_equal(c.v[CURVE_P90][CURVE_CPU][1], 1500);
    /* p50 missing -> copy of p90; network missing -> zeros */
    assert_int_equal(c.v[CURVE_P50][CURVE_MEM][1], 2 * GI);
    assert_int_equal(c.v[CURVE_P90][CURVE_NET][2], 0);
    int64_t at;
    assert_int_equal(curve_peak(&c, CURVE_P90, CURVE_CPU, &at), 1500);
    assert_int_equal(at, T0 + 30);
    assert_int_equal(curve_at(&c, CURVE_P90, CURVE_CPU, T0 + 74), 300);
    assert_int_equal(curve_at(&c, CURVE_P90, CURVE_CPU, T0 + 75), 0); /* past durationSeconds */

    /* written back, the "peak" is recomputed from p90, not copied */
    json_t *o = NULL;
    assert_int_equal(curve_to_json(&c, &o), FS_OK);
    assert_true(json_real_value(json_object_get(json_object_get(o, "peak"), "cpu")) == 1.5);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "peak"), "at")), "2025-01-01T10:00:30Z");
    struct curve back;
    curve_init(&back);
    assert_int_equal(curve_from_json(&back, o, err, sizeof(err)), FS_OK);
    assert_int_equal(back.n_steps, 3);
    assert_int_equal(back.duration_s, 75);
    for (int r = 0; r < CURVE_NRES; r++)
        for (int b = 0; b < 2; b++)
            assert_memory_equal(back.v[b][r], c.v[b][r], 3 * sizeof(int64_t));
    json_decref(o);
    curve_release(&back);
    curve_release(&c);
}

static void expect_bad(const char *js, const char *needle)
{
    struct curve c;
    char err[160];
    curve_init(&c);
    assert_int_equal(curve_parse(&c, js, strlen(js), err, sizeof(err)), FS_EPARSE);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    assert_null(c.v[CURVE_P90][CURVE_CPU]);
}

static void test_prediction_json_rejects(void **state)
{
    (void)state;
    expect_bad("[1]", "not an object");
    expect_bad("{\"stepSeconds\":0,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{\"cpu\":{\"p90\":[1]}}}",
               "stepSeconds");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-02-30T10:00:00Z\",\"curves\":{\"cpu\":{\"p90\":[1]}}}", "start");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{}}", "none of");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{\"cpu\":{\"p90\":[1,-1]}}}",
               "curves.cpu.p90[1]");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{\"cpu\":{\"p90\":[1,\"x\"]}}}",
               "curves.cpu.p90[1]");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\","
               "\"curves\":{\"cpu\":{\"p90\":[1,2]},\"memory\":{\"p90\":[1]}}}",
               "curves.memory.p90 has 1 values");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{\"cpu\":{\"p50\":[2],\"p90\":[1]}}}",
               "below p50");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\",\"durationSeconds\":100,"
               "\"curves\":{\"cpu\":{\"p90\":[1,2]}}}",
               "durationSeconds");
    expect_bad("{\"stepSeconds\":30,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{\"cpu\":{\"p90\":[1e300]}}}",
               "curves.cpu.p90[0]");
    expect_bad("{\"stepSeconds\":30", "invalid json");
}

static void test_rfc3339(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(rfc3339_parse("2025-01-01T10:00:00Z", &t), FS_OK);
    assert_int_equal(t, T0);
    assert_int_equal(rfc3339_parse("2025-01-01T12:30:00.123+02:30", &t), FS_OK);
    assert_int_equal(t, T0);
    assert_int_equal(rfc3339_parse("2025-01-01T10:00:00", &t), FS_EPARSE);
    assert_int_equal(rfc3339_parse("2025-13-01T10:00:00Z", &t), FS_EPARSE);
    assert_int_equal(rfc3339_parse("2025-01-01T10:00:00Zjunk", &t), FS_EPARSE);
    char buf[40];
    assert_int_equal(rfc3339_format(T0 + 61, buf, sizeof(buf)), FS_OK);
    assert_string_equal(buf, "2025-01-01T10:01:01Z");
}

/* A 45 s curve step spans two 30 s ledger steps and must count in both at its full value. */
static void test_resample_is_conservative(void **state)
{
    (void)state;
    struct ledger *l = mk_ledger(30, 10, 0);
    int64_t cpu[] = {100, 900, 200};
    struct curve c;
    mk_curve(&c, T0 + 10, 45, cpu, 3, 0); /* covers [T0+10, T0+145) */
    struct ledger_shape s;
    assert_int_equal(ledger_shape_init(&s, l, &c, CURVE_P90, c.start_s), FS_OK);
    assert_int_equal(s.first, T0 / 30);
    assert_int_equal(s.len, 5);
    /* steps: [0,30) has 100; [30,60) 100 and 900; [60,90) 900; [90,120) 900 and 200; [120,150) 200 */
    int64_t want[] = {100, 900, 900, 900, 200};
    for (int i = 0; i < 5; i++)
        assert_int_equal(s.v[CURVE_CPU][i], want[i]);
    assert_int_equal(s.peak[CURVE_CPU], 900);
    ledger_shape_release(&s);
    curve_release(&c);
    ledger_free(l);
}

static void claim_curve(struct ledger *l, const char *key, const char *node, const struct curve *c, int flags,
                        enum fs_err want)
{
    struct ledger_shape s;
    assert_int_equal(ledger_shape_init(&s, l, c, CURVE_P90, c->start_s), FS_OK);
    assert_int_equal(ledger_claim(l, key, node, &s, flags, NULL), want);
    ledger_shape_release(&s);
}

static void check_curve(struct ledger *l, const char *node, const struct curve *c, struct ledger_fit *f)
{
    struct ledger_shape s;
    assert_int_equal(ledger_shape_init(&s, l, c, CURVE_P90, c->start_s), FS_OK);
    ledger_check(l, ledger_node_get(l, node), &s, f);
    ledger_shape_release(&s);
}

static void test_claim_release_replace(void **state)
{
    (void)state;
    struct ledger *l = mk_ledger(30, 8, 0);
    add_node(l, "n1", 4000, 8 * GI);
    struct ledger_node *n = ledger_node_get(l, "n1");
    int64_t a[] = {1000, 3000, 1000};
    struct curve c;
    mk_curve(&c, T0 + 30, 30, a, 3, GI);
    claim_curve(l, "pod-a", "n1", &c, 0, FS_OK);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0), 0);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 30), 1000);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 60), 3000);
    assert_int_equal(ledger_reserved(l, n, CURVE_MEM, T0 + 119), GI);
    assert_int_equal(ledger_reserved(l, n, CURVE_MEM, T0 + 120), 0);
    assert_int_equal(n->peak[CURVE_CPU], 3000);

    /* replacing with a revised curve does not add to the old one */
    int64_t b[] = {2000, 2000, 2000, 2000};
    struct curve c2;
    mk_curve(&c2, T0 + 30, 30, b, 4, GI);
    claim_curve(l, "pod-a", "n1", &c2, 0, FS_OK);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 60), 2000);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 120), 2000);
    assert_int_equal(n->n_claims, 1);

    /* a second pod of 2001m does not fit beside 2000m on 4000m; the refusal changes nothing */
    int64_t big[] = {2001};
    struct curve c3;
    mk_curve(&c3, T0 + 90, 30, big, 1, 0);
    claim_curve(l, "pod-b", "n1", &c3, 0, FS_ECONFLICT);
    assert_null(ledger_claim_get(l, "pod-b"));
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 90), 2000);
    /* forced (state that already exists in the cluster) it is recorded, over-committed */
    claim_curve(l, "pod-b", "n1", &c3, LEDGER_FORCE, FS_OK);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 90), 4001);

    /* a replacement that does not fit keeps the previous claim */
    int64_t huge[] = {5000};
    struct curve c4;
    mk_curve(&c4, T0, 30, huge, 1, 0);
    claim_curve(l, "pod-a", "n1", &c4, 0, FS_ECONFLICT);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 60), 2000);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0), 0);

    assert_int_equal(ledger_release(l, "pod-b"), FS_OK);
    assert_int_equal(ledger_release(l, "pod-b"), FS_ENOTFOUND);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 90), 2000);
    assert_int_equal(ledger_release(l, "pod-a"), FS_OK);
    for (int k = 0; k < 8; k++)
        for (int r = 0; r < 3; r++)
            assert_int_equal(ledger_reserved(l, n, r, T0 + 30 * k), 0);
    assert_int_equal(n->peak[CURVE_CPU], 0);
    curve_release(&c);
    curve_release(&c2);
    curve_release(&c3);
    curve_release(&c4);
    ledger_free(l);
}

/* Exactly at the limit fits; one milli-core more does not, and the message says where. */
static void test_fit_at_boundaries_and_headroom(void **state)
{
    (void)state;
    struct ledger *l = mk_ledger(30, 8, 0.25); /* 4000m allocatable -> 3000m limit */
    add_node(l, "n1", 4000, 8 * GI);
    int64_t a[] = {1000, 1000, 2000};
    struct curve c;
    mk_curve(&c, T0, 30, a, 3, 0);
    claim_curve(l, "a", "n1", &c, 0, FS_OK);

    struct ledger_fit f;
    int64_t ok[] = {2000, 2000, 1000};
    struct curve cok;
    mk_curve(&cok, T0, 30, ok, 3, 0);
    check_curve(l, "n1", &cok, &f);
    assert_true(f.fits);

    int64_t over[] = {2000, 2000, 1001};
    struct curve cov;
    mk_curve(&cov, T0, 30, over, 3, 0);
    check_curve(l, "n1", &cov, &f);
    assert_false(f.fits);
    assert_false(f.unresolvable);
    assert_int_equal(f.res, CURVE_CPU);
    assert_int_equal(f.step, T0 / 30 + 2);
    assert_int_equal(f.reserved, 2000);
    assert_int_equal(f.need, 1001);
    assert_int_equal(f.limit, 3000);
    char msg[200];
    ledger_fit_message(l, &f, T0, msg, sizeof(msg));
    assert_string_equal(msg, "cpu: 2000m reserved + 1001m for this pod > 3000m allowed at +1m00s");

    /* the same curve one step later lands on free steps 3.. and fits */
    struct curve later;
    mk_curve(&later, T0 + 90, 30, over, 3, 0);
    check_curve(l, "n1", &later, &f);
    assert_true(f.fits);

    /* alone over the limit: unresolvable */
    int64_t alone[] = {3001};
    struct curve cal;
    mk_curve(&cal, T0 + 90, 30, alone, 1, 0);
    check_curve(l, "n1", &cal, &f);
    assert_false(f.fits);
    assert_true(f.unresolvable);

    /* memory is checked too, in bytes: 8Gi * 0.75 = 6Gi limit */
    int64_t zero[] = {0};
    struct curve cm;
    mk_curve(&cm, T0, 30, zero, 1, 6 * GI);
    check_curve(l, "n1", &cm, &f);
    assert_true(f.fits);
    curve_release(&cm);
    mk_curve(&cm, T0, 30, zero, 1, 6 * GI + 1);
    check_curve(l, "n1", &cm, &f);
    assert_false(f.fits);
    assert_int_equal(f.res, CURVE_MEM);
    ledger_fit_message(l, &f, T0, msg, sizeof(msg));
    assert_non_null(strstr(msg, "memory: 0 reserved + 6.0Gi for this pod > 6.0Gi allowed at +0s"));

    curve_release(&c);
    curve_release(&cok);
    curve_release(&cov);
    curve_release(&later);
    curve_release(&cal);
    curve_release(&cm);
    ledger_free(l);
}

/* Advancing drops past steps, and steps entering the horizon get the claims' later values,
 * including open-ended flat claims and the tail of curves longer than the horizon. */
static void test_ring_advance(void **state)
{
    (void)state;
    struct ledger *l = mk_ledger(30, 4, 0);
    add_node(l, "n1", 10000, 8 * GI);
    struct ledger_node *n = ledger_node_get(l, "n1");
    int64_t a[] = {100, 200, 300, 400, 500, 600, 700}; /* 7 steps: longer than the horizon */
    struct curve c;
    mk_curve(&c, T0, 30, a, 7, 0);
    claim_curve(l, "a", "n1", &c, 0, FS_OK);
    int64_t flat_v[3] = {1000, GI, 0};
    struct curve flat;
    curve_init_flat(&flat, T0 - 3600, flat_v);
    claim_curve(l, "f", "n1", &flat, 0, FS_OK);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 90), 1400);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 120), 0); /* outside the horizon */
    assert_int_equal(n->peak[CURVE_CPU], 1400);

    ledger_advance(l, T0 + 60 + 29); /* base moves by 2 steps */
    assert_int_equal(l->base, T0 / 30 + 2);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0), 0);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 60), 1300);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 120), 1500);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 150), 1600);
    assert_int_equal(ledger_reserved(l, n, CURVE_MEM, T0 + 150), GI);
    assert_int_equal(n->peak[CURVE_CPU], 1600);

    ledger_advance(l, T0 + 10 * 30); /* a jump past the whole horizon */
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 300), 1000);
    assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 390), 1000);
    assert_int_equal(n->peak[CURVE_CPU], 1000);
    ledger_advance(l, T0); /* time never goes back */
    assert_int_equal(l->base, T0 / 30 + 10);

    /* after the advance, releasing the long curve subtracts only what the ring holds */
    assert_int_equal(ledger_release(l, "a"), FS_OK);
    assert_int_equal(ledger_release(l, "f"), FS_OK);
    for (int k = 10; k < 14; k++)
        assert_int_equal(ledger_reserved(l, n, CURVE_CPU, T0 + 30 * k), 0);
    curve_release(&c);
    curve_release(&flat);
    ledger_free(l);
}

/* Two pods whose peaks do not overlap share a node their flat requests would not. */
static void test_temporal_sharing_and_score(void **state)
{
    (void)state;
    struct ledger *l = mk_ledger(30, 20, 0);
    add_node(l, "busy", 4000, 8 * GI);
    add_node(l, "empty", 4000, 8 * GI);
    int64_t early[] = {3000, 3000, 500, 500, 500, 500};
    int64_t late[] = {500, 500, 500, 500, 3000, 3000};
    struct curve ce, cl;
    mk_curve(&ce, T0, 30, early, 6, 0);
    mk_curve(&cl, T0, 30, late, 6, 0);
    claim_curve(l, "early", "busy", &ce, 0, FS_OK);

    struct ledger_fit fb, fe;
    check_curve(l, "busy", &cl, &fb);
    check_curve(l, "empty", &cl, &fe);
    assert_true(fb.fits);
    assert_true(fe.fits);
    /* on "busy" the late pod raises the peak from 3000 to 3500: rise 0.125, after 0.875;
     * on "empty" rise 0.75, after 0.75: score 10 * (1 - mean) = 5 vs 3 (rounded) */
    assert_true(fb.rise > 0.124 && fb.rise < 0.126);
    assert_true(fb.after > 0.874 && fb.after < 0.876);
    assert_int_equal(fb.score, 5);
    assert_int_equal(fe.score, 3);
    assert_true(fb.score > fe.score);
    claim_curve(l, "late", "busy", &cl, 0, FS_OK);
    assert_int_equal(ledger_node_get(l, "busy")->peak[CURVE_CPU], 3500);

    /* as flat requests (their peaks, 3000m each) they cannot share */
    int64_t req[3] = {3000, 0, 0};
    struct curve fr;
    curve_init_flat(&fr, T0, req);
    claim_curve(l, "flat-1", "empty", &fr, 0, FS_OK);
    claim_curve(l, "flat-2", "empty", &fr, 0, FS_ECONFLICT);

    /* a coinciding peak scores below a complementary one */
    struct ledger_fit fc;
    add_node(l, "same", 4000, 8 * GI);
    int64_t small_early[] = {1000, 1000};
    struct curve cse;
    mk_curve(&cse, T0, 30, small_early, 2, 0);
    claim_curve(l, "se", "same", &cse, 0, FS_OK);
    add_node(l, "other", 4000, 8 * GI);
    struct curve csl;
    int64_t small_late[] = {0, 0, 0, 0, 1000, 1000};
    mk_curve(&csl, T0, 30, small_late, 6, 0);
    claim_curve(l, "sl", "other", &csl, 0, FS_OK);
    check_curve(l, "same", &ce, &fc);
    check_curve(l, "other", &ce, &fb);
    assert_true(fc.fits && fb.fits);
    assert_true(fb.score > fc.score);

    curve_release(&ce);
    curve_release(&cl);
    curve_release(&fr);
    curve_release(&cse);
    curve_release(&csl);
    ledger_free(l);
}

/* Rebuilding from a list of claims gives the same ring as incremental claims; removing a
 * node drops its claims. */
static void test_rebuild_and_node_removal(void **state)
{
    (void)state;
    struct ledger *a = mk_ledger(30, 16, 0), *b = mk_ledger(30, 16, 0);
    const char *nodes[] = {"n1", "n2", "n3"};
    for (int i = 0; i < 3; i++) {
        add_node(a, nodes[i], 8000, 16 * GI);
        add_node(b, nodes[i], 8000, 16 * GI);
    }
    struct curve cs[12];
    for (int i = 0; i < 12; i++) {
        int64_t v[5];
        for (int k = 0; k < 5; k++)
            v[k] = 100 * ((i * 7 + k * 3) % 11);
        mk_curve(&cs[i], T0 + 30 * (i % 6), 30, v, 5, GI / 4);
    }
    char key[16];
    for (int i = 0; i < 12; i++) {
        snprintf(key, sizeof(key), "p%d", i);
        claim_curve(a, key, nodes[i % 3], &cs[i], 0, FS_OK);
        if (i % 4 == 0) /* churn: release and claim again */
            assert_int_equal(ledger_release(a, key), FS_OK);
    }
    for (int i = 11; i >= 0; i--) {
        if (i % 4 == 0)
            continue;
        snprintf(key, sizeof(key), "p%d", i);
        claim_curve(b, key, nodes[i % 3], &cs[i], LEDGER_FORCE, FS_OK);
    }
    for (int i = 0; i < 3; i++) {
        struct ledger_node *na = ledger_node_get(a, nodes[i]), *nb = ledger_node_get(b, nodes[i]);
        for (int k = 0; k < 16; k++)
            for (int r = 0; r < 3; r++)
                assert_int_equal(ledger_reserved(a, na, r, T0 + 30 * k), ledger_reserved(b, nb, r, T0 + 30 * k));
        assert_memory_equal(na->peak, nb->peak, sizeof(na->peak));
    }
    assert_int_equal(ledger_node_remove(a, "n2"), FS_OK);
    assert_null(ledger_node_get(a, "n2"));
    assert_null(ledger_claim_get(a, "p1"));
    assert_non_null(ledger_claim_get(a, "p2"));
    assert_int_equal(ledger_node_remove(a, "n2"), FS_ENOTFOUND);
    struct ledger_shape s;
    assert_int_equal(ledger_shape_init(&s, a, &cs[0], CURVE_P90, T0), FS_OK);
    assert_int_equal(ledger_claim(a, "x", "n2", &s, 0, NULL), FS_ENOTFOUND);
    ledger_shape_release(&s);
    for (int i = 0; i < 12; i++)
        curve_release(&cs[i]);
    ledger_free(a);
    ledger_free(b);
}


/* The per-step definition of a check, written plainly: the scan in ledger.c (two runs of
 * contiguous slots, resources scanned separately, a second pass for the first overflow)
 * must agree with it on random rings and shapes, across ring wrap-around. */
static void brute_check(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                        struct ledger_fit *f)
{
    int64_t lo = s->first > l->base ? s->first : l->base, hi = l->base + l->cfg.n_steps;
    if (!s->flat && s->first + (int64_t)s->len < hi)
        hi = s->first + (int64_t)s->len;
    int64_t before[3] = {0}, after[3] = {0};
    memset(f, 0, sizeof(*f));
    f->fits = 1;
    for (int64_t k = lo; k < hi; k++)
        for (int r = 0; r < 3; r++) {
            int64_t have = ledger_reserved(l, n, (enum curve_res)r, k * (int64_t)l->cfg.step_s);
            int64_t need = ledger_shape_at(s, (enum curve_res)r, k);
            before[r] = have > before[r] ? have : before[r];
            after[r] = have + need > after[r] ? have + need : after[r];
            if (need > n->limit[r] && n->limit[r] != INT64_MAX)
                f->unresolvable = 1;
            if (f->fits && need > 0 && have + need > n->limit[r]) {
                f->fits = 0;
                f->res = (enum curve_res)r;
                f->step = k;
                f->reserved = have;
                f->need = need;
            }
        }
    for (int r = 0; r < 3; r++) {
        if (s->peak[r] <= 0 || n->limit[r] == INT64_MAX || n->limit[r] == 0)
            continue;
        double rise = (double)(after[r] - before[r]) / (double)n->limit[r], aft = (double)after[r] / (double)n->limit[r];
        f->rise = rise > f->rise ? rise : f->rise;
        f->after = aft > f->after ? aft : f->after;
    }
    if (f->fits)
        f->unresolvable = 0;
}

/* Random claims on one node over a horizon of n_steps, then random checks (curves of up to
 * max_len steps, some flat) compared with brute_check: ledger_check fully, ledger_check_fit
 * for the fit and the first overflow, ledger_check_memo for the score. */
static void random_checks(uint32_t n_steps, uint32_t max_len, int rounds, unsigned seed)
{
    srand(seed);
    for (int round = 0; round < rounds; round++) {
        struct ledger *l = mk_ledger(30, n_steps, 0);
        add_node(l, "n", 4000, 8 * GI);
        /* advance a random distance so that the ring's window wraps at a random slot and the
         * horizon starts anywhere within a block */
        ledger_advance(l, T0 + (rand() % 97) * 30);
        int64_t *cpu = calloc(max_len, sizeof(*cpu));
        assert_non_null(cpu);
        for (int c = 0; c < 6; c++) {
            uint32_t len = 1 + (uint32_t)(rand() % (int)max_len);
            for (uint32_t i = 0; i < len; i++)
                cpu[i] = (rand() % 5) * 250;
            struct curve cv;
            curve_init(&cv);
            mk_curve(&cv, l->base * 30 + (rand() % ((int)n_steps + 10) - 10) * 30 + rand() % 30, 30, cpu, len,
                     (rand() % 3) * GI);
            struct ledger_shape sh;
            assert_int_equal(ledger_shape_init(&sh, l, &cv, CURVE_P90, cv.start_s), FS_OK);
            char key[16];
            snprintf(key, sizeof(key), "c%d", c);
            assert_true(ledger_claim(l, key, "n", &sh, LEDGER_FORCE, NULL) == FS_OK);
            ledger_shape_release(&sh);
            curve_release(&cv);
        }
        for (int q = 0; q < 10; q++) {
            uint32_t len = 1 + (uint32_t)(rand() % (int)max_len);
            for (uint32_t i = 0; i < len; i++)
                cpu[i] = (rand() % 9) * 250;
            struct curve cv;
            curve_init(&cv);
            if (q == 9) {
                int64_t flat[3] = {(rand() % 5) * 500, GI, 0};
                curve_init_flat(&cv, l->base * 30 + (rand() % ((int)n_steps + 20) - 10) * 30, flat);
            } else {
                mk_curve(&cv, l->base * 30 + (rand() % ((int)n_steps + 10) - 10) * 30 + rand() % 30, 30, cpu, len,
                         (rand() % 9) * GI);
            }
            struct ledger_shape sh;
            assert_int_equal(ledger_shape_init(&sh, l, &cv, CURVE_P90, cv.start_s), FS_OK);
            struct ledger_fit got, want, memo, fit;
            struct ledger_node *n = ledger_node_get(l, "n");
            ledger_check(l, n, &sh, &got);
            ledger_check_fit(l, n, &sh, &fit);
            brute_check(l, n, &sh, &want);
            /* the shape's window data (the path of a request's checks) and the general path
             * (a shape checked at another base) agree to the bit */
            struct ledger_shape general = sh;
            struct ledger_fit gen;
            general.win_nb = 0;
            ledger_check(l, n, &general, &gen);
            assert_int_equal(gen.fits, got.fits);
            assert_int_equal(gen.unresolvable, got.unresolvable);
            assert_int_equal(gen.step, got.step);
            assert_int_equal(gen.score, got.score);
            assert_true(gen.rise == got.rise && gen.after == got.after);
            assert_true(sh.flat || sh.win_base == l->base);
            assert_int_equal(got.fits, want.fits);
            assert_int_equal(fit.fits, want.fits);
            assert_int_equal(got.unresolvable, want.unresolvable);
            assert_int_equal(fit.unresolvable, want.unresolvable);
            if (!want.fits) {
                assert_int_equal(got.res, want.res);
                assert_int_equal(got.step, want.step);
                assert_int_equal(got.reserved, want.reserved);
                assert_int_equal(got.need, want.need);
                assert_int_equal(fit.res, want.res);
                assert_int_equal(fit.step, want.step);
                assert_int_equal(fit.reserved, want.reserved);
                assert_int_equal(fit.need, want.need);
            } else {
                assert_true(got.rise == want.rise && got.after == want.after);
                assert_int_equal(fit.score, 0); /* no score asked for */
            }
            /* the memo answers the same, the first time and when asked again */
            ledger_check_memo(l, n, &sh, &memo);
            assert_int_equal(memo.score, got.score);
            ledger_check_memo(l, n, &sh, &memo);
            assert_int_equal(memo.score, got.score);
            assert_int_equal(memo.fits, got.fits);
            ledger_shape_release(&sh);
            curve_release(&cv);
        }
        free(cpu);
        ledger_free(l);
    }
}

static void test_check_matches_per_step_definition(void **state)
{
    (void)state;
    random_checks(40, 30, 60, 7);
    /* the extender's horizon (240 steps) and one that is no multiple of the block, with curves
     * long enough to span many blocks */
    random_checks(240, 200, 40, 11);
    random_checks(37, 60, 60, 13);
}

/* The brute-force maximum of r over the valid steps of block blk. */
static int64_t brute_block_max(const struct ledger *l, const struct ledger_node *n, int r, int64_t blk)
{
    int64_t m = 0;
    for (int64_t k = blk * LEDGER_BLOCK; k < (blk + 1) * LEDGER_BLOCK; k++) {
        if (k < l->base || k >= l->base + (int64_t)l->cfg.n_steps)
            continue;
        int64_t v = ledger_reserved(l, n, (enum curve_res)r, k * (int64_t)l->cfg.step_s);
        m = v > m ? v : m;
    }
    return m;
}

/* Every block maximum and peak equals a recomputation from the ring, and the ring equals the
 * sum of the claims, after each of a random sequence of claims, replacements, releases,
 * advances (short, across block edges, past the whole horizon) and node updates. */
static void test_block_maxima_follow_changes(void **state)
{
    (void)state;
    const uint32_t horizons[] = {8, 37, 240};
    srand(21);
    for (size_t hz = 0; hz < sizeof(horizons) / sizeof(horizons[0]); hz++) {
        uint32_t n_steps = horizons[hz];
        struct ledger *l = mk_ledger(30, n_steps, 0);
        const char *nodes[] = {"a", "b"};
        add_node(l, "a", 4000, 8 * GI);
        add_node(l, "b", 8000, 16 * GI);
        int64_t now = T0 + (rand() % 7) * 30;
        ledger_advance(l, now);
        for (int op = 0; op < 400; op++) {
            char key[16];
            snprintf(key, sizeof(key), "p%d", rand() % 12);
            int what = rand() % 10;
            if (what < 5) { /* claim or replace */
                int64_t cpu[300];
                uint32_t len = 1 + (uint32_t)(rand() % (int)(n_steps + 40));
                for (uint32_t i = 0; i < len; i++)
                    cpu[i] = (rand() % 7) * 300;
                struct curve cv;
                curve_init(&cv);
                if (rand() % 5 == 0) {
                    int64_t flat[3] = {(rand() % 4) * 250, (rand() % 3) * GI, 0};
                    curve_init_flat(&cv, now + (rand() % 20 - 10) * 30, flat);
                } else {
                    mk_curve(&cv, now + (rand() % ((int)n_steps + 20) - 20) * 30 + rand() % 30, 30, cpu, len,
                             (rand() % 3) * GI);
                }
                struct ledger_shape sh;
                assert_int_equal(ledger_shape_init(&sh, l, &cv, CURVE_P90, cv.start_s), FS_OK);
                enum fs_err rc = ledger_claim(l, key, nodes[rand() % 2], &sh, rand() % 2 ? LEDGER_FORCE : 0, NULL);
                assert_true(rc == FS_OK || rc == FS_ECONFLICT);
                ledger_shape_release(&sh);
                curve_release(&cv);
            } else if (what < 7) {
                enum fs_err rc = ledger_release(l, key);
                assert_true(rc == FS_OK || rc == FS_ENOTFOUND);
            } else if (what < 9) {
                int jump = rand() % 4 == 0 ? (int)n_steps + rand() % 5 : rand() % 11;
                now += (int64_t)jump * 30 + rand() % 30;
                ledger_advance(l, now);
            } else {
                add_node(l, nodes[rand() % 2], 2000 + (rand() % 4) * 1000, 8 * GI);
            }
            for (int i = 0; i < 2; i++) {
                const struct ledger_node *n = ledger_node_get(l, nodes[i]);
                for (int r = 0; r < 3; r++) {
                    int64_t pk = 0;
                    for (int64_t k = l->base; k < l->base + (int64_t)n_steps; k++) {
                        int64_t sum = 0;
                        for (size_t c = 0; c < n->n_claims; c++)
                            sum += ledger_shape_at(&n->claims[c]->shape, (enum curve_res)r, k);
                        int64_t have = ledger_reserved(l, n, (enum curve_res)r, k * 30);
                        assert_int_equal(have, sum);
                        pk = have > pk ? have : pk;
                    }
                    assert_int_equal(n->peak[r], pk);
                    int64_t b0 = l->base / LEDGER_BLOCK, b1 = (l->base + n_steps - 1) / LEDGER_BLOCK;
                    for (int64_t blk = b0 - 1; blk <= b1 + 1; blk++)
                        assert_int_equal(ledger_block_max(l, n, (enum curve_res)r, blk),
                                         blk < b0 || blk > b1 ? 0 : brute_block_max(l, n, r, blk));
                }
            }
        }
        ledger_free(l);
    }
}

/* A shape's block maxima are those of its values, blocks aligned on absolute steps. */
static void test_shape_block_maxima(void **state)
{
    (void)state;
    struct ledger *l = mk_ledger(30, 240, 0);
    int64_t cpu[20];
    for (int i = 0; i < 20; i++)
        cpu[i] = (i * 37) % 11 * 100;
    struct curve cv;
    mk_curve(&cv, T0 + 5 * 30, 30, cpu, 20, GI);
    struct ledger_shape s;
    assert_int_equal(ledger_shape_init(&s, l, &cv, CURVE_P90, cv.start_s), FS_OK);
    assert_int_equal(s.blk_first, (T0 / 30 + 5) / LEDGER_BLOCK);
    assert_int_equal(s.blk_first + s.blk_n - 1, (T0 / 30 + 5 + 19) / LEDGER_BLOCK);
    for (uint32_t j = 0; j < s.blk_n; j++) {
        int64_t m = 0;
        for (uint32_t i = 0; i < s.len; i++)
            if ((s.first + i) / LEDGER_BLOCK == s.blk_first + j && s.v[CURVE_CPU][i] > m)
                m = s.v[CURVE_CPU][i];
        assert_int_equal(s.bmax[CURVE_CPU][j], m);
        assert_int_equal(s.bmax[CURVE_MEM][j], GI);
    }
    /* a claim keeps its own copy */
    add_node(l, "n", 4000, 8 * GI);
    assert_int_equal(ledger_claim(l, "k", "n", &s, 0, NULL), FS_OK);
    const struct ledger_claim *c = ledger_claim_get(l, "k");
    assert_non_null(c);
    assert_true(c->shape.bmax[CURVE_CPU] != s.bmax[CURVE_CPU]);
    assert_memory_equal(c->shape.bmax[CURVE_CPU], s.bmax[CURVE_CPU], s.blk_n * sizeof(int64_t));
    ledger_shape_release(&s);
    curve_release(&cv);
    ledger_free(l);
}

/* A memo never outlives a change of the node's ring, limits or the horizon. */
static void test_memo_follows_changes(void **state)
{
    (void)state;
    struct ledger *l = mk_ledger(30, 20, 0);
    add_node(l, "n", 4000, 8 * GI);
    int64_t cpu[4] = {3000, 3000, 3000, 3000};
    struct curve cv;
    curve_init(&cv);
    mk_curve(&cv, T0 + 60, 30, cpu, 4, GI);
    struct ledger_shape sh;
    assert_int_equal(ledger_shape_init(&sh, l, &cv, CURVE_P90, cv.start_s), FS_OK);
    struct ledger_node *n = ledger_node_get(l, "n");
    struct ledger_fit f;
    ledger_check_memo(l, n, &sh, &f);
    assert_true(f.fits);
    int first_score = f.score;
    /* the same curve claimed by another pod: now it no longer fits */
    assert_int_equal(ledger_claim(l, "other", "n", &sh, 0, NULL), FS_OK);
    ledger_check_memo(l, n, &sh, &f);
    assert_false(f.fits);
    /* released: fits again with the first score */
    assert_int_equal(ledger_release(l, "other"), FS_OK);
    ledger_check_memo(l, n, &sh, &f);
    assert_true(f.fits);
    assert_int_equal(f.score, first_score);
    /* a smaller node: the limit change is seen */
    add_node(l, "n", 2000, 8 * GI);
    ledger_check_memo(l, n, &sh, &f);
    assert_false(f.fits);
    assert_true(f.unresolvable);
    assert_int_equal(f.res, CURVE_CPU);
    /* asked again, the memo answers the same */
    assert_true(ledger_memo_holds(l, n, &sh));
    ledger_check_memo(l, n, &sh, &f);
    assert_false(f.fits);
    assert_true(f.unresolvable);
    assert_int_equal(f.res, CURVE_CPU);
    assert_int_equal(f.score, 0);
    /* the horizon moves on: the memo no longer holds */
    ledger_advance(l, T0 + 30);
    assert_false(ledger_memo_holds(l, n, &sh));
    ledger_shape_release(&sh);
    curve_release(&cv);
    ledger_free(l);
}

static void test_config_validation(void **state)
{
    (void)state;
    struct ledger *l = NULL;
    struct ledger_config bad = {.step_s = 0, .n_steps = 10};
    assert_int_equal(ledger_new(&bad, T0, &l), FS_EINVAL);
    struct ledger_config bad2 = {.step_s = 30, .n_steps = 10, .headroom = {1.0, 0, 0}};
    assert_int_equal(ledger_new(&bad2, T0, &l), FS_EINVAL);
    assert_null(l);
}

/* lmap_get_many answers what lmap_get answers, key by key: present, deleted (tombstones on
 * the probe path), never put; lists shorter and longer than its look-ahead. */
static void test_lmap_get_many(void **state)
{
    (void)state;
    struct lmap m;
    lmap_init(&m);
    static char keys[4000][16];
    static int vals[4000];
    for (int i = 0; i < 4000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "node-%05d", i);
        vals[i] = i;
        if (i < 3000)
            assert_int_equal(lmap_put(&m, keys[i], &vals[i]), FS_OK);
    }
    for (int i = 0; i < 3000; i += 7)
        assert_ptr_equal(lmap_del(&m, keys[i]), &vals[i]);
    static const char *query[4000];
    static void *got[4000];
    unsigned seed = 7;
    size_t sizes[] = {0, 1, 5, 15, 16, 17, 33, 4000};
    for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
        size_t n = sizes[t];
        for (size_t i = 0; i < n; i++)
            query[i] = keys[rand_r(&seed) % 4000];
        lmap_get_many(&m, query, n, got);
        size_t found = 0;
        for (size_t i = 0; i < n; i++) {
            assert_ptr_equal(got[i], lmap_get(&m, query[i]));
            found += got[i] != NULL;
        }
        if (n == 4000)
            assert_true(found > 2000 && found < 3000); /* all three kinds were asked for */
    }
    struct lmap empty;
    lmap_init(&empty);
    got[0] = &vals[0];
    lmap_get_many(&empty, query, 1, got);
    assert_null(got[0]);
    lmap_release(&m);
}

/* Keys live in the map's own chunks: under churn (claims come and go with pods) deleted keys'
 * bytes are reclaimed at rehashes, and every live key is still found with its value. */
static void test_lmap_churn(void **state)
{
    (void)state;
    struct lmap m;
    lmap_init(&m);
    static char keys[500][40];
    static int vals[500];
    int live[500] = {0};
    unsigned seed = 3;
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 50; k++) {
            int i = rand_r(&seed) % 500;
            if (live[i]) {
                assert_ptr_equal(lmap_del(&m, keys[i]), &vals[i]);
                live[i] = 0;
            } else {
                snprintf(keys[i], sizeof(keys[i]), "pod-uid-%d-%d", i, round);
                assert_int_equal(lmap_put(&m, keys[i], &vals[i]), FS_OK);
                live[i] = 1;
            }
        }
        for (int i = 0; i < 500; i++)
            assert_ptr_equal(lmap_get(&m, keys[i]), live[i] ? &vals[i] : NULL);
    }
    /* about 5,000 deletes of ~18-byte keys (90 KB if never reclaimed): rehashes reclaim them */
    assert_true(m.dead_bytes < 32 * 1024);
    assert_true(m.live_bytes < 500 * 40);
    lmap_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prediction_json_roundtrip),
        cmocka_unit_test(test_prediction_json_rejects),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_resample_is_conservative),
        cmocka_unit_test(test_claim_release_replace),
        cmocka_unit_test(test_fit_at_boundaries_and_headroom),
        cmocka_unit_test(test_ring_advance),
        cmocka_unit_test(test_temporal_sharing_and_score),
        cmocka_unit_test(test_rebuild_and_node_removal),
        cmocka_unit_test(test_config_validation),
        cmocka_unit_test(test_check_matches_per_step_definition),
        cmocka_unit_test(test_memo_follows_changes),
        cmocka_unit_test(test_block_maxima_follow_changes),
        cmocka_unit_test(test_shape_block_maxima),
        cmocka_unit_test(test_lmap_get_many),
        cmocka_unit_test(test_lmap_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
