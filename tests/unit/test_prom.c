/* Unit tests for lib/prom: the instant-vector answer of /api/v1/query in upstream's shape
 * (key labels kept, series without them or with NaN/Inf values counted and left out, error
 * answers carrying Prometheus's message, other shapes refused), and the client's refusals of
 * bad URLs and its error for a server that is not there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "prom/prom.h"

static const char *const KEYS[] = {"namespace", "pod"};

static enum fs_err parse(const char *body, struct prom_vector *v, char *err, size_t errlen)
{
    return prom_vector_parse(body, strlen(body), KEYS, 2, v, err, errlen);
}

static void test_vector(void **state)
{
    (void)state;
    /* as Prometheus 2.42 answers sum by (namespace, pod) (rate(...)) */
    const char *body =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
        "{\"metric\":{\"namespace\":\"ns1\",\"pod\":\"a\"},\"value\":[1764323100.123,\"1048576\"]},"
        "{\"metric\":{\"namespace\":\"ns1\",\"pod\":\"b\",\"interface\":\"eth0\"},\"value\":[1764323100.123,\"2.5e3\"]},"
        "{\"metric\":{\"namespace\":\"ns2\",\"pod\":\"c\"},\"value\":[1764323100,\"0\"]}]}}";
    struct prom_vector v;
    char err[200] = "";
    assert_int_equal(parse(body, &v, err, sizeof(err)), FS_OK);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.p[0].key[0], "ns1");
    assert_string_equal(v.p[0].key[1], "a");
    assert_null(v.p[0].key[2]);
    assert_true(v.p[0].value == 1048576.0);
    assert_true(v.p[0].t_s > 1764323100.1 && v.p[0].t_s < 1764323100.2);
    assert_string_equal(v.p[1].key[1], "b");
    assert_true(v.p[1].value == 2500.0);
    assert_string_equal(v.p[2].key[0], "ns2");
    assert_true(v.p[2].value == 0.0);
    assert_int_equal(v.missing_labels, 0);
    assert_int_equal(v.not_finite, 0);
    prom_vector_release(&v);
    assert_int_equal(v.n, 0);
    assert_null(v.p);
}

static void test_empty_vector(void **state)
{
    (void)state;
    struct prom_vector v;
    assert_int_equal(parse("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", &v, NULL, 0),
                     FS_OK);
    assert_int_equal(v.n, 0);
    prom_vector_release(&v);
}

static void test_nan_inf_and_missing_labels_left_out(void **state)
{
    (void)state;
    const char *body =
        "{\"status\":\"success\",\"warnings\":[\"x\"],\"data\":{\"resultType\":\"vector\",\"result\":["
        "{\"metric\":{\"namespace\":\"n\",\"pod\":\"nan\"},\"value\":[1,\"NaN\"]},"
        "{\"metric\":{\"namespace\":\"n\",\"pod\":\"inf\"},\"value\":[1,\"+Inf\"]},"
        "{\"metric\":{\"namespace\":\"n\",\"pod\":\"ninf\"},\"value\":[1,\"-Inf\"]},"
        "{\"metric\":{\"namespace\":\"n\",\"pod\":\"junk\"},\"value\":[1,\"12abc\"]},"
        "{\"metric\":{\"namespace\":\"n\",\"pod\":\"num\"},\"value\":[1,12]},"
        "{\"metric\":{\"namespace\":\"n\",\"pod\":\"huge\"},\"value\":[1,\"1e999\"]},"
        "{\"metric\":{\"pod\":\"nons\"},\"value\":[1,\"5\"]},"
        "{\"metric\":{\"namespace\":\"n\",\"pod\":7},\"value\":[1,\"5\"]},"
        "{\"metric\":{},\"value\":[1,\"5\"]},"
        "{\"metric\":{\"namespace\":\"n\",\"pod\":\"ok\"},\"value\":[1,\"-3.5\"]}]}}";
    struct prom_vector v;
    char err[200] = "";
    assert_int_equal(parse(body, &v, err, sizeof(err)), FS_OK);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.p[0].key[1], "ok");
    assert_true(v.p[0].value == -3.5); /* finite: the caller decides what a negative rate means */
    assert_int_equal(v.not_finite, 6);
    assert_int_equal(v.missing_labels, 3);
    prom_vector_release(&v);
}

static void test_error_answer(void **state)
{
    (void)state;
    struct prom_vector v;
    char err[300] = "";
    const char *body = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\": "
                       "1:5: parse error: unexpected end of input\"}";
    assert_int_equal(parse(body, &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "bad_data"));
    assert_non_null(strstr(err, "parse error: unexpected end of input"));
    assert_int_equal(v.n, 0);
    assert_int_equal(parse("{\"status\":\"error\"}", &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "no message"));
}

static void test_other_shapes_refused(void **state)
{
    (void)state;
    static const struct {
        const char *body, *says;
    } cases[] = {
        {"", "not JSON"},
        {"<html>502 Bad Gateway</html>", "not JSON"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]", "not JSON"},
        {"[]", "no status"},
        {"{\"data\":{}}", "no status"},
        {"{\"status\":\"success\"}", "no data.resultType"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}", "no data.resultType"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", "matrix, not an instant vector"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"2\"]}}", "scalar"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{}}]}}", "result[0]"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"namespace\":\"a\","
         "\"pod\":\"b\"},\"value\":[1,\"2\"]},{\"metric\":{},\"value\":[\"1\",\"2\"]}]}}",
         "result[1]"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1]}]}}",
         "result[0]"},
        {"{\"status\":\"success\",\"status\":\"error\"}", "not JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct prom_vector v;
        char err[300] = "";
        enum fs_err rc = parse(cases[i].body, &v, err, sizeof(err));
        if (rc != FS_EPARSE || !strstr(err, cases[i].says))
            fail_msg("case %zu: rc %d, err \"%s\", expected \"%s\"", i, rc, err, cases[i].says);
        assert_int_equal(v.n, 0);
        assert_null(v.p);
    }
}

static void test_bad_keys(void **state)
{
    (void)state;
    struct prom_vector v;
    const char *const five[] = {"a", "b", "c", "d", "e"};
    assert_int_equal(prom_vector_parse("{}", 2, five, 5, &v, NULL, 0), FS_EINVAL);
    assert_int_equal(prom_vector_parse("{}", 2, KEYS, 0, &v, NULL, 0), FS_EINVAL);
}

static void test_client_refuses_bad_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "localhost:9090", "ftp://x", "http://", "https:///", "http://h:9090/?x=1",
                                      "http://h#f", "http://h /p"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct prom_client *pc = (struct prom_client *)1;
        char err[200] = "";
        if (prom_client_new(bad[i], 5, &pc, err, sizeof(err)) != FS_EINVAL || pc || !err[0])
            fail_msg("%s was accepted (err \"%s\")", bad[i], err);
    }
    struct prom_client *pc = NULL;
    char err[200] = "";
    assert_int_equal(prom_client_new("http://127.0.0.1:9090", 0, &pc, err, sizeof(err)), FS_EINVAL);
    assert_non_null(strstr(err, "timeout"));
    assert_int_equal(prom_client_new("http://127.0.0.1:9090/prom/", 2, &pc, err, sizeof(err)), FS_OK);
    prom_client_free(pc);
}

/* nothing listens on port 1 of loopback: a prompt FS_EIO naming the server, never a hang */
static void test_unreachable_server(void **state)
{
    (void)state;
    struct prom_client *pc = NULL;
    struct prom_vector v;
    char err[300] = "";
    assert_int_equal(prom_client_new("http://127.0.0.1:1/", 2, &pc, err, sizeof(err)), FS_OK);
    enum fs_err rc = prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err));
    assert_true(rc == FS_EIO || rc == FS_ETIMEOUT);
    assert_non_null(strstr(err, "http://127.0.0.1:1"));
    assert_int_equal(v.n, 0);
    assert_int_equal(prom_query(pc, "", KEYS, 2, &v, err, sizeof(err)), FS_EINVAL);
    prom_client_free(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_empty_vector),
        cmocka_unit_test(test_nan_inf_and_missing_labels_left_out),
        cmocka_unit_test(test_error_answer),
        cmocka_unit_test(test_other_shapes_refused),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_client_refuses_bad_urls),
        cmocka_unit_test(test_unreachable_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
