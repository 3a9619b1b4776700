/* Unit tests for controller/admit: a curve fits on the node whose peak stays lowest; when
 * nothing fits, the reason names the resource and the predicted earliest start is when the
 * reservation in the way ends; a provisional claim keeps a second task out; a curve larger
 * than every node is unresolvable; across namespaces, one priority order: a namespace's pass
 * admits its own leaves only after the better ones of other namespaces have their place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/duration.c"
#include "../../controller/priority.c"
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


static struct admit_item item(const char *ns, const char *name, double score, int mine, const struct curve *cv)
{
    struct admit_item it;
    memset(&it, 0, sizeof(it));
    it.key = (struct priority_key){score, INT64_MAX, T0 - 100, name};
    it.cv = cv;
    it.ns = ns;
    it.name = name;
    it.mine = mine;
    return it;
}

static const struct admit_item *find(const struct admit_item *it, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(it[i].name, name) == 0)
            return &it[i];
    fail_msg("no item %s", name);
    return NULL;
}

static void test_one_order_across_namespaces(void **state)
{
    (void)state;
    struct ledger *l = mk(); /* two nodes of 4 cores */
    struct curve big, small;
    flat(&big, T0, 20, 3000, GI);
    flat(&small, T0, 20, 2000, GI);

    /* namespace "low" passes first; "high" has two urgent 3-core tasks waiting */
    struct admit_item it[3] = {item("low", "batch", 100, 1, &small), item("high", "urgent-1", 300, 0, &big),
                               item("high", "urgent-2", 300, 0, &big)};
    assert_int_equal(admit_in_order(l, it, 3, T0), FS_OK);
    assert_string_equal(it[0].name, "urgent-1"); /* sorted into the one order */
    const struct admit_item *b = find(it, 3, "batch");
    assert_false(b->fits);
    assert_non_null(strstr(b->res.reason, "cpu"));
    assert_true(find(it, 3, "urgent-1")->fits && find(it, 3, "urgent-2")->fits); /* held for their namespace */
    /* held, not claimed: the ledger keeps nothing of them nor of batch */
    assert_null(ledger_claim_get(l, "hold:high/urgent-1"));
    assert_null(ledger_claim_get(l, "hold:high/urgent-2"));
    assert_null(ledger_claim_get(l, "admit:low/batch"));
    assert_int_equal(ledger_reserved(l, l->nodes[0], CURVE_CPU, T0) + ledger_reserved(l, l->nodes[1], CURVE_CPU, T0), 0);

    /* then high's own pass admits both */
    struct admit_item hi[2] = {item("high", "urgent-1", 300, 1, &big), item("high", "urgent-2", 300, 1, &big)};
    assert_int_equal(admit_in_order(l, hi, 2, T0), FS_OK);
    assert_true(hi[0].fits && hi[1].fits);
    assert_string_not_equal(hi[0].res.node, hi[1].res.node);
    assert_non_null(ledger_claim_get(l, "admit:high/urgent-1"));

    /* the other way round: a more urgent task of "low" goes before a lesser one of "high" */
    admit_unclaim(l, "high", "urgent-1");
    admit_unclaim(l, "high", "urgent-2");
    struct admit_item it2[3] = {item("low", "urgent-low", 400, 1, &big), item("high", "lesser-1", 50, 0, &big),
                                item("high", "lesser-2", 50, 0, &big)};
    assert_int_equal(admit_in_order(l, it2, 3, T0), FS_OK);
    assert_true(find(it2, 3, "urgent-low")->fits);
    assert_non_null(ledger_claim_get(l, "admit:low/urgent-low"));
    /* one lesser task fits beside it and is held; the other does not fit at all */
    assert_int_equal(find(it2, 3, "lesser-1")->fits + find(it2, 3, "lesser-2")->fits, 1);
    assert_null(ledger_claim_get(l, "hold:high/lesser-1"));

    /* equal keys: the namespace decides, so every replica and pass agrees */
    admit_unclaim(l, "low", "urgent-low");
    struct admit_item eq[2] = {item("ns-b", "same", 100, 1, &big), item("ns-a", "same", 100, 0, &big)};
    assert_int_equal(admit_in_order(l, eq, 2, T0), FS_OK);
    assert_string_equal(eq[0].ns, "ns-a");
    curve_release(&big);
    curve_release(&small);
    ledger_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_then_queues_with_earliest_start),
        cmocka_unit_test(test_larger_than_any_node),
        cmocka_unit_test(test_no_nodes),
        cmocka_unit_test(test_one_order_across_namespaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
