/* Unit tests for controller/learn: folding runs into a TaskProfile status (once per uid, the
 * recent list bounded, error weighted towards recent runs), rebuilding the profile from it,
 * and the predicted curve of a new run learnt from a few runs with a two-level cpu shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "../../controller/learn.c"

#define T0 1800000000LL
#define MI (1024LL * 1024)

/* a run of 12 steps of 10 s: cpu 2000m for 6 steps then 500m; memory 300Mi */
static json_t *fold_runs(int n_runs, int first_uid, json_t *st)
{
    int64_t cpu[12], mem[12];
    for (int i = 0; i < 12; i++) {
        cpu[i] = i < 6 ? 2000 : 500;
        mem[i] = 300 * MI;
    }
    for (int k = 0; k < n_runs; k++) {
        char uid[32];
        snprintf(uid, sizeof(uid), "uid-%d", first_uid + k);
        struct learn_run run = {uid, 40, 120, 10, 12, {cpu, mem, NULL}, 1, 10.0 * (k + 1), 0.5};
        json_t *out = NULL;
        char err[160];
        assert_int_equal(learn_fold(st, &run, T0 + k, 20, 10, 720, &out, err, sizeof(err)), FS_OK);
        assert_non_null(out);
        json_decref(st);
        st = out;
    }
    return st;
}

static void test_fold_counts_and_dedupes(void **state)
{
    (void)state;
    json_t *st = fold_runs(3, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(st, "runs")), 3);
    assert_int_equal(json_array_size(json_object_get(json_object_get(st, "profile"), "recent")), 3);
    /* errors 10, 20, 30 weighted towards the newest: between the plain mean and the last */
    double mape = json_number_value(json_object_get(st, "mape"));
    assert_true(mape > 20 && mape < 30);
    assert_non_null(json_string_value(json_object_get(st, "accuracy")));
    assert_non_null(json_object_get(json_object_get(st, "regression"), "duration"));
    /* the same run again changes nothing */
    int64_t cpu[1] = {1}, mem[1] = {1};
    struct learn_run again = {"uid-1", 40, 120, 10, 1, {cpu, mem, NULL}, 0, 0, -1};
    json_t *out = (json_t *)1;
    assert_int_equal(learn_fold(st, &again, T0, 20, 10, 720, &out, NULL, 0), FS_OK);
    assert_null(out);
    json_decref(st);
}

static void test_recent_is_bounded(void **state)
{
    (void)state;
    json_t *st = fold_runs(LEARN_MAX_RUNS + 5, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(st, "runs")), LEARN_MAX_RUNS + 5);
    json_t *recent = json_object_get(json_object_get(st, "profile"), "recent");
    assert_int_equal(json_array_size(recent), LEARN_MAX_RUNS);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recent, 0), "uid")), "uid-5");
    json_decref(st);
}

static void test_predict_learns_the_shape(void **state)
{
    (void)state;
    json_t *st = fold_runs(5, 0, NULL);
    struct profile p;
    long runs = 0;
    char err[160];
    assert_int_equal(learn_load(st, 20, 720, &p, &runs, err, sizeof(err)), FS_OK);
    assert_int_equal(runs, 5);
    struct curve c;
    curve_init(&c);
    assert_int_equal(learn_predict(&p, 40, T0, 10, &c, err, sizeof(err)), FS_OK);
    assert_string_equal(c.model, "profile");
    assert_true(c.duration_s >= 115 && c.duration_s <= 125);
    assert_true(c.n_steps >= 12 && c.n_steps <= 13);
    /* the scripted run, step by step: within 20 % MAPE (it is learnt, not copied) */
    double ape = 0;
    for (uint32_t i = 0; i < 12; i++) {
        double want = i < 6 ? 2000 : 500;
        ape += fabs((double)c.v[CURVE_P50][CURVE_CPU][i] - want) / want;
        assert_true(c.v[CURVE_P90][CURVE_CPU][i] >= c.v[CURVE_P50][CURVE_CPU][i]);
        assert_true(llabs(c.v[CURVE_P50][CURVE_MEM][i] - 300 * MI) < 15 * MI);
    }
    assert_true(100 * ape / 12 < 20);
    curve_release(&c);
    profile_release(&p);
    json_decref(st);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct profile p;
    long runs;
    char err[160] = "";
    assert_int_equal(learn_load(NULL, 20, 720, &p, &runs, err, sizeof(err)), FS_EDATA);
    profile_release(&p);
    json_t *bad = json_pack("{s:i, s:{s:[{s:[i], s:[]}]}}", "runs", 1, "profile", "recent", "cpu", 1, "memory");
    assert_int_equal(learn_load(bad, 20, 720, &p, &runs, err, sizeof(err)), FS_EPARSE);
    assert_non_null(strstr(err, "status.profile.recent[0]"));
    profile_release(&p);
    json_decref(bad);
    /* a run without observations is refused, not folded */
    struct learn_run empty = {"u", 1, 10, 10, 0, {NULL, NULL, NULL}, 0, 0, -1};
    json_t *out = NULL;
    assert_int_equal(learn_fold(NULL, &empty, T0, 20, 10, 720, &out, err, sizeof(err)), FS_EINVAL);
    assert_null(out);
}


/* counts of an arrivals object as a compact string "3,0,1" */
static void counts_str(const json_t *arr, char *buf, size_t len)
{
    size_t i, at = 0;
    const json_t *v;
    buf[0] = 0;
    json_array_foreach(json_object_get(arr, "counts"), i, v)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
}

static void test_arrivals_bucketed_and_deduplicated(void **state)
{
    (void)state;
    /* T0 is a multiple of 60: buckets of 60 s start at T0 */
    struct learn_arrival a[] = {{"c", T0 + 125}, {"a", T0 + 5}, {"b", T0 + 59}, {"d", T0 + 125}};
    json_t *arr = NULL;
    size_t counted = 0;
    char err[200], buf[200];
    assert_int_equal(learn_arrivals_fold(NULL, a, 4, 60, 10, &arr, &counted, err, sizeof(err)), FS_OK);
    assert_int_equal(counted, 4);
    counts_str(arr, buf, sizeof(buf));
    assert_string_equal(buf, "2,0,2");
    assert_int_equal(json_integer_value(json_object_get(arr, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(arr, "bucketSeconds")), 60);
    /* the array is only sorted: folding it again from nothing gives the same series */
    json_t *again = NULL;
    assert_int_equal(learn_arrivals_fold(NULL, a, 4, 60, 10, &again, &counted, err, sizeof(err)), FS_OK);
    assert_int_equal(counted, 4);
    assert_true(json_equal(json_object_get(again, "counts"), json_object_get(arr, "counts")));
    json_decref(again);
    char want[40];
    rfc3339_format(T0, want, sizeof(want));
    assert_string_equal(json_string_value(json_object_get(arr, "start")), want);

    /* the same tasks again (a restart lists them all) plus one new in the watermark's second
     * and one later: only the two new ones count */
    json_t *st = json_pack("{s:o}", "arrivals", arr);
    struct learn_arrival b[] = {{"a", T0 + 5}, {"b", T0 + 59}, {"c", T0 + 125}, {"d", T0 + 125},
                                {"e", T0 + 125}, {"f", T0 + 250}};
    json_t *arr2 = NULL;
    assert_int_equal(learn_arrivals_fold(st, b, 6, 60, 10, &arr2, &counted, err, sizeof(err)), FS_OK);
    assert_int_equal(counted, 2);
    counts_str(arr2, buf, sizeof(buf));
    assert_string_equal(buf, "2,0,3,0,1");
    assert_int_equal(json_integer_value(json_object_get(arr2, "total")), 6);

    /* nothing new: no object, nothing to write */
    json_t *st2 = json_pack("{s:o}", "arrivals", arr2);
    json_t *arr3 = (json_t *)1;
    assert_int_equal(learn_arrivals_fold(st2, b, 6, 60, 10, &arr3, &counted, err, sizeof(err)), FS_OK);
    assert_null(arr3);
    assert_int_equal(counted, 0);
    json_decref(st);
    json_decref(st2);
}

static void test_arrivals_bounded(void **state)
{
    (void)state;
    struct learn_arrival a[3] = {{"a", T0}, {"b", T0 + 60}, {"c", T0 + 60}};
    json_t *arr = NULL;
    size_t counted = 0;
    char err[200], buf[200];
    assert_int_equal(learn_arrivals_fold(NULL, a, 3, 60, 4, &arr, &counted, err, sizeof(err)), FS_OK);
    json_t *st = json_pack("{s:o}", "arrivals", arr);
    /* 10 buckets later: the series keeps the newest 4 buckets, the total keeps everything */
    struct learn_arrival b[1] = {{"z", T0 + 600}};
    json_t *arr2 = NULL;
    assert_int_equal(learn_arrivals_fold(st, b, 1, 60, 4, &arr2, &counted, err, sizeof(err)), FS_OK);
    counts_str(arr2, buf, sizeof(buf));
    assert_string_equal(buf, "0,0,0,1");
    assert_int_equal(json_integer_value(json_object_get(arr2, "total")), 4);
    char want[40];
    rfc3339_format(T0 + 420, want, sizeof(want));
    assert_string_equal(json_string_value(json_object_get(arr2, "start")), want);
    json_decref(arr2);
    /* another bucket size starts a new series */
    assert_int_equal(learn_arrivals_fold(st, b, 1, 300, 4, &arr2, &counted, err, sizeof(err)), FS_OK);
    counts_str(arr2, buf, sizeof(buf));
    assert_string_equal(buf, "1");
    assert_int_equal(json_integer_value(json_object_get(arr2, "total")), 1);
    json_decref(arr2);
    /* a task older than the watermark is taken as counted already */
    struct learn_arrival c[1] = {{"early", T0 - 60}};
    assert_int_equal(learn_arrivals_fold(st, c, 1, 60, 4, &arr2, &counted, err, sizeof(err)), FS_OK);
    assert_null(arr2);
    assert_int_equal(counted, 0);
    assert_int_equal(learn_arrivals_fold(st, b, 1, 0, 4, &arr2, &counted, err, sizeof(err)), FS_EINVAL);
    json_decref(st);
}

static void test_arrivals_burst_in_one_second(void **state)
{
    (void)state;
    /* more tasks in one second than the watermark lists: each counted once, then never again */
    size_t n = LEARN_WATERMARK_NAMES + 50;
    struct learn_arrival *a = calloc(n, sizeof(*a));
    char (*names)[16] = calloc(n, sizeof(*names));
    assert_non_null(a);
    assert_non_null(names);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "t-%04zu", i);
        a[i] = (struct learn_arrival){names[i], T0 + 7};
    }
    json_t *arr = NULL, *arr2 = NULL;
    size_t counted = 0;
    char err[200];
    assert_int_equal(learn_arrivals_fold(NULL, a, n, 60, 10, &arr, &counted, err, sizeof(err)), FS_OK);
    assert_int_equal(counted, n);
    const json_t *w = json_object_get(arr, "watermark");
    assert_int_equal(json_array_size(json_object_get(w, "names")), LEARN_WATERMARK_NAMES);
    assert_true(json_is_true(json_object_get(w, "full")));
    json_t *st = json_pack("{s:o}", "arrivals", arr);
    assert_int_equal(learn_arrivals_fold(st, a, n, 60, 10, &arr2, &counted, err, sizeof(err)), FS_OK);
    assert_null(arr2); /* the same burst again: nothing new */
    /* the next second starts a fresh list */
    struct learn_arrival b[1] = {{"next", T0 + 8}};
    assert_int_equal(learn_arrivals_fold(st, b, 1, 60, 10, &arr2, &counted, err, sizeof(err)), FS_OK);
    assert_int_equal(counted, 1);
    assert_int_equal(json_integer_value(json_object_get(arr2, "total")), (json_int_t)n + 1);
    assert_false(json_is_true(json_object_get(json_object_get(arr2, "watermark"), "full")));
    json_decref(arr2);
    json_decref(st);
    free(a);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_counts_and_dedupes),
        cmocka_unit_test(test_recent_is_bounded),
        cmocka_unit_test(test_predict_learns_the_shape),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_arrivals_bucketed_and_deduplicated),
        cmocka_unit_test(test_arrivals_bounded),
        cmocka_unit_test(test_arrivals_burst_in_one_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
