/* Unit tests for controller/decompose: how a MicroTask's work is split into children, the
 * children's work ranges, names and limits, and the leaves of whole trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

/* the controller's modules are not in libforesight.a: compile this one in */
#include "../../controller/decompose.c"

static struct decompose_limits limits(double target_s, uint32_t fan, uint32_t depth)
{
    struct decompose_limits l = {.target_s = target_s, .max_fan_out = fan, .max_depth = depth,
                                 .max_leaves = 1000, .min_units = 1};
    return l;
}

static void test_small_task_is_a_leaf(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 0.5, .fixed_cpu_milli = 500};
    struct decompose_limits l = limits(120, 4, 2);
    struct decompose_task t = {"small", "", 0, 0, 100}; /* 50 s */
    struct decompose_child *kids = NULL;
    size_t n = 99;
    enum decompose_verdict v = DECOMPOSE_SPLIT;
    assert_int_equal(decompose_children(&t, &e, &l, &v, &kids, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 0);
    assert_null(kids);
    assert_int_equal(v, DECOMPOSE_LEAF_FITS);
    assert_string_equal(decompose_verdict_reason(v), "LeafFits");
}

/* 1200 units at 0.6 s each is 12 min; a 2 min target needs 6 parts, fan-out 4 gives 4
 * children of 300 units (3 min), each of which splits again into 2 of 150 units (90 s). */
static void test_duration_split_recurses_until_under_target(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 0.6};
    struct decompose_limits l = limits(120, 4, 2);
    struct decompose_task t = {"etl-transform", "", 0, 0, 1200};
    struct decompose_child *kids = NULL;
    size_t n = 0;
    enum decompose_verdict v;
    assert_int_equal(decompose_children(&t, &e, &l, &v, &kids, &n, NULL, 0), FS_OK);
    assert_int_equal(v, DECOMPOSE_SPLIT);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof(want), "etl-transform-%zu", i);
        assert_string_equal(kids[i].name, want);
        assert_int_equal(kids[i].units, 300);
        assert_int_equal(kids[i].offset, (int64_t)(300 * i));
        assert_int_equal(kids[i].index, i);
        assert_int_equal(kids[i].count, 4);
        assert_int_equal(kids[i].depth, 1);
        assert_int_equal(kids[i].limits.max_depth, 1);
        assert_int_equal(kids[i].verdict, DECOMPOSE_SPLIT); /* 180 s > 120 s */
        assert_true(fabs(kids[i].pred_s - 180.0) < 1e-9);
    }
    free(kids);

    struct decompose_child *leaves = NULL;
    assert_int_equal(decompose_leaves(&t, &e, &l, &leaves, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 8);
    int64_t next = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(leaves[i].offset, next);
        assert_int_equal(leaves[i].units, 150);
        next += leaves[i].units;
        assert_int_equal(leaves[i].verdict, DECOMPOSE_LEAF_FITS);
        assert_true(leaves[i].pred_s <= 120.0);
        assert_int_equal(leaves[i].depth, 2);
        char want[64];
        snprintf(want, sizeof(want), "etl-transform-%zu-%zu", i / 2, i % 2);
        assert_string_equal(leaves[i].name, want);
        snprintf(want, sizeof(want), "%zu.%zu", i / 2, i % 2);
        assert_string_equal(leaves[i].path, want);
    }
    assert_int_equal(next, 1200);
    free(leaves);
}

static void test_uneven_ranges_tile_the_parent(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 100};
    struct decompose_limits l = limits(400, 3, 1); /* 10 units = 1000 s, need 3 parts of <= 4 */
    struct decompose_task t = {"p", "", 0, 1000, 10};
    struct decompose_child *kids = NULL;
    size_t n = 0;
    assert_int_equal(decompose_children(&t, &e, &l, NULL, &kids, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(kids[0].offset, 1000);
    assert_int_equal(kids[0].units, 4);
    assert_int_equal(kids[1].offset, 1004);
    assert_int_equal(kids[1].units, 3);
    assert_int_equal(kids[2].offset, 1007);
    assert_int_equal(kids[2].units, 3);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kids[i].verdict, DECOMPOSE_LEAF_FITS);
    free(kids);
}

/* Memory grows with the work, cpu does not: memory drives the split, cpu cannot be helped. */
static void test_resources_drive_the_split(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 0.01, .fixed_mem_bytes = 100e6,
                                   .mem_bytes_per_unit = 1e6, .fixed_cpu_milli = 1000};
    struct decompose_limits l = limits(3600, 16, 3);
    l.max_mem_bytes = 600000000; /* 600 MB: 500 units per child at most */
    l.max_cpu_milli = 2000;
    struct decompose_task t = {"mem", "", 0, 0, 2000}; /* 2.1 GB */
    uint32_t k = 0;
    assert_int_equal(decompose_judge(&e, &l, t.units, &k), DECOMPOSE_SPLIT);
    assert_int_equal(k, 4);
    struct decompose_child *leaves = NULL;
    size_t n = 0;
    assert_int_equal(decompose_leaves(&t, &e, &l, &leaves, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_true(leaves[i].pred_mem_bytes <= 600e6);
    free(leaves);

    /* a flat cpu peak above the limit is not something splitting can fix */
    l.max_cpu_milli = 500;
    l.max_mem_bytes = 0;
    assert_int_equal(decompose_judge(&e, &l, t.units, &k), DECOMPOSE_LEAF_FIXED);
    assert_int_equal(k, 1);
    assert_string_equal(decompose_verdict_reason(DECOMPOSE_LEAF_FIXED), "FixedCostTooLarge");
}

static void test_depth_limit_stops_recursion(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 10};
    struct decompose_limits l = limits(1, 3, 2); /* a 1 s target nothing here can meet */
    struct decompose_task t = {"deep", "", 0, 0, 100};
    struct decompose_child *leaves = NULL;
    size_t n = 0;
    assert_int_equal(decompose_leaves(&t, &e, &l, &leaves, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 9); /* 3^2 */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(leaves[i].verdict, DECOMPOSE_LEAF_DEPTH);
        assert_int_equal(leaves[i].depth, 2);
    }
    free(leaves);
}

static void test_min_units_stops_recursion(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 10};
    struct decompose_limits l = limits(1, 8, 8);
    l.min_units = 4;
    struct decompose_task t = {"few", "", 0, 0, 7}; /* 7 / 4 < 2 children */
    struct decompose_child *kids = NULL;
    size_t n = 0;
    enum decompose_verdict v;
    assert_int_equal(decompose_children(&t, &e, &l, &v, &kids, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(v, DECOMPOSE_LEAF_MIN_UNITS);

    t.units = 40; /* at most 10 children of 4, fan-out 8 -> 8 children of 5 */
    assert_int_equal(decompose_children(&t, &e, &l, &v, &kids, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        assert_true(kids[i].units >= 4);
        assert_int_equal(kids[i].verdict, DECOMPOSE_LEAF_MIN_UNITS); /* 5 units: one child of 4 only */
    }
    free(kids);
}

/* fan-out 10, a 25-leaf budget: ten children with budgets 3,3,3,3,3,2,2,2,2,2 */
static void test_leaf_budget_bounds_the_tree(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 10};
    struct decompose_limits l = limits(1, 10, 3);
    l.max_leaves = 25;
    struct decompose_task t = {"wide", "", 0, 0, 100000};
    struct decompose_child *kids = NULL, *leaves = NULL;
    size_t n = 0;
    assert_int_equal(decompose_children(&t, &e, &l, NULL, &kids, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kids[i].limits.max_leaves, i < 5 ? 3 : 2);
        assert_true(kids[i].limits.max_fan_out <= kids[i].limits.max_leaves);
    }
    free(kids);
    assert_int_equal(decompose_leaves(&t, &e, &l, &leaves, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 25);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(leaves[i].verdict, DECOMPOSE_LEAF_LEAVES);
    free(leaves);
}

static void test_long_names_are_shortened_deterministically(void **state)
{
    (void)state;
    const char *a = "a-very-long-microtask-name-that-nearly-fills-the-label-limit-x";
    const char *b = "a-very-long-microtask-name-that-nearly-fills-the-label-limit-y";
    char na[64], na2[64], nb[64];
    decompose_child_name(a, 123, na, sizeof(na));
    decompose_child_name(a, 123, na2, sizeof(na2));
    decompose_child_name(b, 123, nb, sizeof(nb));
    assert_true(strlen(na) <= DECOMPOSE_NAME_MAX);
    assert_string_equal(na, na2);
    assert_string_not_equal(na, nb);
    assert_string_equal(na + strlen(na) - 4, "-123");
    assert_true(strncmp(na, a, 20) == 0);
    /* a shortened prefix never ends in '-' before the hash */
    const char *c = "x123456789-123456789-123456789-123456789-123456789-1234-------z";
    char nc[64];
    decompose_child_name(c, 7, nc, sizeof(nc));
    assert_true(strlen(nc) <= DECOMPOSE_NAME_MAX);
    assert_null(strstr(nc, "--"));
}

/* Random trees from a fixed seed: leaves tile the range, respect every limit, and a second
 * plan of the same input is identical (no restart ever produces other children). */
static void test_random_trees_hold_invariants(void **state)
{
    (void)state;
    srand(12345);
    for (int iter = 0; iter < 300; iter++) {
        struct decompose_estimate e = {
            .fixed_s = rand() % 30, .s_per_unit = (rand() % 1000) / 100.0,
            .fixed_mem_bytes = 1e6 * (rand() % 100), .mem_bytes_per_unit = 1e3 * (rand() % 1000)};
        struct decompose_limits l = limits(1 + rand() % 600, 2 + rand() % 20, rand() % 5);
        l.max_leaves = 1 + rand() % 500;
        l.min_units = 1 + rand() % 5;
        l.max_mem_bytes = (rand() % 2) ? 0 : 50000000 + 1000000 * (rand() % 500);
        int64_t units = 1 + rand() % 100000;
        struct decompose_task t = {"job", "", 0, rand() % 1000, units};
        struct decompose_child *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        assert_int_equal(decompose_leaves(&t, &e, &l, &a, &na, NULL, 0), FS_OK);
        assert_int_equal(decompose_leaves(&t, &e, &l, &b, &nb, NULL, 0), FS_OK);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_string_equal(a[i].name, b[i].name);
            assert_int_equal(a[i].offset, b[i].offset);
            assert_int_equal(a[i].units, b[i].units);
            assert_int_equal(a[i].verdict, b[i].verdict);
        }
        assert_true(na >= 1 && na <= l.max_leaves);
        int64_t next = t.offset;
        for (size_t i = 0; i < na; i++) {
            assert_int_equal(a[i].offset, next);
            next += a[i].units;
            assert_true(a[i].depth <= l.max_depth);
            assert_true(a[i].units >= (na > 1 ? l.min_units : 1));
            if (a[i].verdict == DECOMPOSE_LEAF_FITS) {
                assert_true(a[i].pred_s <= l.target_s);
                assert_true(l.max_mem_bytes == 0 || a[i].pred_mem_bytes <= (double)l.max_mem_bytes);
            } else {
                assert_int_not_equal(a[i].verdict, DECOMPOSE_SPLIT);
            }
            if (i > 0)
                assert_string_not_equal(a[i].name, a[i - 1].name);
        }
        assert_int_equal(next, t.offset + units);
        free(a);
        free(b);
    }
}

static void test_huge_work_does_not_overflow(void **state)
{
    (void)state;
    struct decompose_estimate e = {.s_per_unit = 1};
    struct decompose_limits l = limits(1, 1000, 8);
    l.max_leaves = 100000;
    struct decompose_task t = {"huge", "", 0, 0, 1000000000000LL};
    struct decompose_child *leaves = NULL;
    size_t n = 0;
    assert_int_equal(decompose_leaves(&t, &e, &l, &leaves, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 100000);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += leaves[i].units;
    assert_int_equal(sum, 1000000000000LL);
    free(leaves);
}

static void test_bad_input_is_refused_with_a_reason(void **state)
{
    (void)state;
    char err[128];
    struct decompose_child *kids = NULL;
    size_t n = 0;
    struct decompose_task t = {"x", "", 0, 0, 10};
    struct decompose_estimate e = {.s_per_unit = NAN};
    struct decompose_limits l = limits(60, 4, 2);
    assert_int_equal(decompose_children(&t, &e, &l, NULL, &kids, &n, err, sizeof(err)), FS_EINVAL);
    assert_string_equal(err, "duration estimate must be finite and not negative");
    e.s_per_unit = 1;
    l.max_fan_out = 1;
    assert_int_equal(decompose_children(&t, &e, &l, NULL, &kids, &n, err, sizeof(err)), FS_EINVAL);
    assert_string_equal(err, "max fan-out must be between 2 and 1000");
    l.max_fan_out = 4;
    l.target_s = 0;
    assert_int_equal(decompose_leaves(&t, &e, &l, &kids, &n, err, sizeof(err)), FS_EINVAL);
    assert_string_equal(err, "target duration must be greater than zero");
    l.target_s = 60;
    t.units = 0;
    assert_int_equal(decompose_children(&t, &e, &l, NULL, &kids, &n, err, sizeof(err)), FS_EINVAL);
    assert_string_equal(err, "work units must be at least 1");
    assert_null(kids);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_task_is_a_leaf),
        cmocka_unit_test(test_duration_split_recurses_until_under_target),
        cmocka_unit_test(test_uneven_ranges_tile_the_parent),
        cmocka_unit_test(test_resources_drive_the_split),
        cmocka_unit_test(test_depth_limit_stops_recursion),
        cmocka_unit_test(test_min_units_stops_recursion),
        cmocka_unit_test(test_leaf_budget_bounds_the_tree),
        cmocka_unit_test(test_long_names_are_shortened_deterministically),
        cmocka_unit_test(test_random_trees_hold_invariants),
        cmocka_unit_test(test_huge_work_does_not_overflow),
        cmocka_unit_test(test_bad_input_is_refused_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
