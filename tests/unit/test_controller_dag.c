/* Unit tests for controller/dag: readiness, cycles (with their path), missing targets that
 * block a whole graph, and failure propagation under each onDependencyFailure policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/dag.c"

#define DEPS(...) (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

static void test_chain_waits_in_order(void **state)
{
    (void)state;
    struct dag_node n[] = {
        {"load", DEPS("transform"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"extract", NULL, 0, DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"transform", DEPS("extract"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
    };
    struct dag_verdict v[3];
    assert_int_equal(dag_evaluate(n, 3, v), FS_OK);
    assert_int_equal(v[1].kind, DAG_READY);
    assert_string_equal(v[1].message, "no dependencies");
    assert_int_equal(v[2].kind, DAG_WAITING);
    assert_string_equal(v[2].reason, "WaitingForDependencies");
    assert_string_equal(v[2].message, "waiting for extract to succeed");
    assert_int_equal(v[0].kind, DAG_WAITING);
    assert_string_equal(v[0].message, "waiting for transform to succeed");

    n[1].state = DAG_RUNNING;
    assert_int_equal(dag_evaluate(n, 3, v), FS_OK);
    assert_int_equal(v[2].kind, DAG_WAITING); /* running is not succeeded */

    n[1].state = DAG_SUCCEEDED;
    assert_int_equal(dag_evaluate(n, 3, v), FS_OK);
    assert_int_equal(v[2].kind, DAG_READY);
    assert_string_equal(v[2].reason, "DependenciesSucceeded");
    assert_string_equal(v[2].message, "all dependencies succeeded");
    assert_int_equal(v[0].kind, DAG_WAITING);
}

/* a -> c -> b -> a ("->" reads "depends on"), d hangs off the cycle, e is elsewhere. */
static void test_cycle_blocks_its_graph_with_the_path(void **state)
{
    (void)state;
    struct dag_node n[] = {
        {"b", DEPS("a"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"d", DEPS("b"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"e", NULL, 0, DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"c", DEPS("b"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"a", DEPS("c"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
    };
    const char *want = "dependency cycle a -> c -> b -> a; nothing of this graph starts";
    struct dag_verdict v[5];
    assert_int_equal(dag_evaluate(n, 5, v), FS_OK);
    size_t blocked[] = {0, 1, 3, 4};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(v[blocked[i]].kind, DAG_CYCLE);
        assert_string_equal(v[blocked[i]].reason, "DependencyCycle");
        assert_string_equal(v[blocked[i]].message, want);
    }
    assert_int_equal(v[2].kind, DAG_READY);

    /* the same graph in another order gives the same message */
    struct dag_node r[5];
    for (size_t i = 0; i < 5; i++)
        r[i] = n[4 - i];
    assert_int_equal(dag_evaluate(r, 5, v), FS_OK);
    assert_string_equal(v[0].message, want);
    assert_string_equal(v[4].message, want);
}

static void test_self_dependency_is_a_cycle(void **state)
{
    (void)state;
    struct dag_node n[] = {{"s", DEPS("s"), DAG_PENDING, DAG_ON_FAILURE_FAIL}};
    struct dag_verdict v[1];
    assert_int_equal(dag_evaluate(n, 1, v), FS_OK);
    assert_int_equal(v[0].kind, DAG_CYCLE);
    assert_string_equal(v[0].message, "dependency cycle s -> s; nothing of this graph starts");
}

/* x depends on a ghost: x, what x depends on (w) and what depends on x (y) all stay blocked. */
static void test_missing_target_blocks_its_graph(void **state)
{
    (void)state;
    struct dag_node n[] = {
        {"x", DEPS("w", "ghost"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"y", DEPS("x"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"w", NULL, 0, DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"z", NULL, 0, DAG_PENDING, DAG_ON_FAILURE_FAIL},
    };
    struct dag_verdict v[4];
    assert_int_equal(dag_evaluate(n, 4, v), FS_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(v[i].kind, DAG_MISSING);
        assert_string_equal(v[i].reason, "DependencyMissing");
        assert_string_equal(v[i].message,
                            "x depends on ghost, which does not exist; nothing of this graph starts");
    }
    assert_int_equal(v[3].kind, DAG_READY);

    /* once the target exists the graph proceeds */
    struct dag_node m[5];
    memcpy(m, n, sizeof(n));
    m[4] = (struct dag_node){"ghost", NULL, 0, DAG_SUCCEEDED, DAG_ON_FAILURE_FAIL};
    struct dag_verdict mv[5];
    assert_int_equal(dag_evaluate(m, 5, mv), FS_OK);
    assert_int_equal(mv[2].kind, DAG_READY);
    assert_int_equal(mv[0].kind, DAG_WAITING);
    assert_string_equal(mv[0].message, "waiting for w to succeed");
}

static void test_failure_propagates_by_policy(void **state)
{
    (void)state;
    struct dag_node n[] = {
        {"a", NULL, 0, DAG_FAILED, DAG_ON_FAILURE_FAIL},
        {"b", DEPS("a"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"c", DEPS("b"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"d", DEPS("a"), DAG_PENDING, DAG_ON_FAILURE_WAIT},
        {"e", DEPS("d"), DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"f", DEPS("a"), DAG_PENDING, DAG_ON_FAILURE_IGNORE},
        {"g", DEPS("c"), DAG_PENDING, DAG_ON_FAILURE_IGNORE},
    };
    struct dag_verdict v[7];
    assert_int_equal(dag_evaluate(n, 7, v), FS_OK);
    assert_int_equal(v[1].kind, DAG_DEP_FAILED);
    assert_string_equal(v[1].reason, "DependencyFailed");
    assert_string_equal(v[1].message, "dependency a failed");
    assert_int_equal(v[2].kind, DAG_DEP_FAILED);
    assert_string_equal(v[2].message, "dependency b failed because a failed");
    assert_int_equal(v[3].kind, DAG_DEP_FAILED_WAIT);
    assert_string_equal(v[3].message,
                        "dependency a failed; waiting for it to succeed (onDependencyFailure: Wait)");
    assert_int_equal(v[4].kind, DAG_WAITING);
    assert_string_equal(v[4].message, "waiting for d to succeed");
    assert_int_equal(v[5].kind, DAG_READY);
    assert_int_equal(v[6].kind, DAG_READY); /* c will fail: Ignore treats that as finished */
}

static void test_many_dependencies_are_summarised(void **state)
{
    (void)state;
    const char *deps[] = {"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"};
    struct dag_node n[9];
    for (size_t i = 0; i < 8; i++)
        n[i] = (struct dag_node){deps[i], NULL, 0, i == 2 ? DAG_SUCCEEDED : DAG_PENDING, DAG_ON_FAILURE_FAIL};
    n[8] = (struct dag_node){"sink", deps, 8, DAG_PENDING, DAG_ON_FAILURE_FAIL};
    struct dag_verdict v[9];
    assert_int_equal(dag_evaluate(n, 9, v), FS_OK);
    assert_string_equal(v[8].message, "waiting for d0, d1, d3, d4, d5 and 2 more to succeed");
}

static void test_duplicate_names_are_refused(void **state)
{
    (void)state;
    struct dag_node n[] = {
        {"a", NULL, 0, DAG_PENDING, DAG_ON_FAILURE_FAIL},
        {"a", NULL, 0, DAG_PENDING, DAG_ON_FAILURE_FAIL},
    };
    struct dag_verdict v[2];
    assert_int_equal(dag_evaluate(n, 2, v), FS_EINVAL);
    assert_int_equal(dag_evaluate(NULL, 0, NULL), FS_OK);
}

/* A 10,000-long chain (no recursion limit hit), then the same chain closed into a cycle: the
 * message is cut short at DAG_MSG_MAX and says so. */
static void test_long_chain_and_long_cycle(void **state)
{
    (void)state;
    enum { N = 10000 };
    char (*names)[16] = calloc(N, 16);
    const char **dep = calloc(N, sizeof(char *));
    struct dag_node *n = calloc(N, sizeof(*n));
    struct dag_verdict *v = calloc(N, sizeof(*v));
    assert_non_null(names);
    assert_non_null(dep);
    assert_non_null(n);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++)
        snprintf(names[i], 16, "t%05zu", i);
    for (size_t i = 0; i < N; i++) {
        dep[i] = i ? names[i - 1] : NULL;
        n[i] = (struct dag_node){names[i], &dep[i], i ? 1 : 0, DAG_PENDING, DAG_ON_FAILURE_FAIL};
    }
    n[0].state = DAG_SUCCEEDED;
    assert_int_equal(dag_evaluate(n, N, v), FS_OK);
    assert_int_equal(v[1].kind, DAG_READY);
    for (size_t i = 2; i < N; i++)
        assert_int_equal(v[i].kind, DAG_WAITING);

    dep[0] = names[N - 1];
    n[0].n_deps = 1;
    assert_int_equal(dag_evaluate(n, N, v), FS_OK);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(v[i].kind, DAG_CYCLE);
    size_t len = strlen(v[0].message);
    assert_int_equal(len, DAG_MSG_MAX - 1);
    assert_string_equal(v[0].message + len - 3, "...");
    assert_true(strncmp(v[0].message, "dependency cycle t00000 -> t09999 -> t09998", 43) == 0);
    free(names);
    free(dep);
    free(n);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_waits_in_order),
        cmocka_unit_test(test_cycle_blocks_its_graph_with_the_path),
        cmocka_unit_test(test_self_dependency_is_a_cycle),
        cmocka_unit_test(test_missing_target_blocks_its_graph),
        cmocka_unit_test(test_failure_propagates_by_policy),
        cmocka_unit_test(test_many_dependencies_are_summarised),
        cmocka_unit_test(test_duplicate_names_are_refused),
        cmocka_unit_test(test_long_chain_and_long_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
