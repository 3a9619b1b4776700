/* Unit tests for controller/admit: a curve fits on the node whose peak stays lowest; when
 * nothing fits, the reason names the resource and the predicted earliest start is when the
 * reservation in the way ends; a provisional claim keeps a second task out; a curve larger
 * than every node is unresolvable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/admit.c"

#define T0 1800000000LL /* a multiple of 30 */
#define GI (1024LL * 1024 * 1024)

static struct ledger *mk(void)
{
    struct ledger_config cfg = {.step_s = 30, .n_steps = 120, .headroom = {0, 0, 0}};
    struct ledger *l = NULL;
    assert_int_equal(ledger_new(&cfg, T0, &l), FS_OK);
    int64_t a[3] = {4000, 16 * GI, LEDGER_UNLIMITED}, b[3] = {4000, 16 * GI, LEDGER_UNLIMITED};
    assert_int_equal(ledger_node_set(l, "node-a", a), FS_OK);
    assert_int_equal(ledger_node_set(l, "node-b", b), FS_OK);
    return l;
}

static void flat(struct curve *c, int64_t start, uint32_t steps, int64_t cpu, int64_t mem)
{
    curve_init(c);
    snprintf(c->model, sizeof(c->model), "test");
    c->start_s = start;
    c->step_s = 30;
    c->n_steps = steps;
    c->duration_s = 30 * steps;
    for (int b = 0; b < 2; b++)
        for (int r = 0; r < CURVE_NRES; r++) {
            c->v[b][r] = calloc(steps, sizeof(int64_t));
            assert_non_null(c->v[b][r]);
            for (uint32_t i = 0; i < steps; i++)
                c->v[b][r][i] = r == CURVE_CPU ? cpu : r == CURVE_MEM ? mem : 0;
        }
}

static void test_fits_then_queues_with_earliest_start(void **state)
{
    (void)state;
    struct ledger *l = mk();
    struct curve big, next;
    flat(&big, T0, 10, 3000, GI);   /* 3 of 4 cores for 5 minutes */
    struct admit_result r;
    assert_int_equal(admit_check(l, &big, T0, &r), FS_OK);
    assert_true(r.fits);
    assert_int_equal(admit_claim(l, "ns", "one", r.node, &big, T0), FS_OK);
    char first[254];
    snprintf(first, sizeof(first), "%s", r.node);
    /* the second goes to the other node (lower peak after placement) */
    assert_int_equal(admit_check(l, &big, T0, &r), FS_OK);
    assert_true(r.fits);
    assert_string_not_equal(r.node, first);
    assert_int_equal(admit_claim(l, "ns", "two", r.node, &big, T0), FS_OK);
    /* a third does not fit now; it would once the first two end, 5 minutes from now */
    flat(&next, T0, 4, 2000, GI);
    assert_int_equal(admit_check(l, &next, T0, &r), FS_OK);
    assert_false(r.fits);
    assert_false(r.unresolvable);
    assert_non_null(strstr(r.reason, "cpu"));
    assert_int_equal(r.earliest_s, T0 + 300);
    /* releasing one provisional claim makes room */
    assert_int_equal(admit_unclaim(l, "ns", "one"), FS_OK);
    assert_int_equal(admit_unclaim(l, "ns", "one"), FS_ENOTFOUND);
    assert_int_equal(admit_check(l, &next, T0, &r), FS_OK);
    assert_true(r.fits);
    assert_string_equal(r.node, first);
    assert_true(admit_load(l, T0) > 0.37 && admit_load(l, T0) < 0.38); /* 3000 of 8000 */
    curve_release(&big);
    curve_release(&next);
    ledger_free(l);
}

static void test_larger_than_any_node(void **state)
{
    (void)state;
    struct ledger *l = mk();
    struct curve huge;
    flat(&huge, T0, 2, 1000, 64 * GI);
    struct admit_result r;
    assert_int_equal(admit_check(l, &huge, T0, &r), FS_OK);
    assert_false(r.fits);
    assert_true(r.unresolvable);
    assert_int_equal(r.earliest_s, 0);
    assert_non_null(strstr(r.reason, "memory"));
    curve_release(&huge);
    ledger_free(l);
}

static void test_no_nodes(void **state)
{
    (void)state;
    struct ledger_config cfg = {.step_s = 30, .n_steps = 10, .headroom = {0, 0, 0}};
    struct ledger *l = NULL;
    assert_int_equal(ledger_new(&cfg, T0, &l), FS_OK);
    struct curve c;
    flat(&c, T0, 1, 1, 1);
    struct admit_result r;
    assert_int_equal(admit_check(l, &c, T0, &r), FS_OK);
    assert_false(r.fits);
    assert_string_equal(r.reason, "no node is known to the ledger");
    assert_true(admit_load(l, T0) == 0);
    curve_release(&c);
    ledger_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_then_queues_with_earliest_start),
        cmocka_unit_test(test_larger_than_any_node),
        cmocka_unit_test(test_no_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
