/* Unit tests for lib/prom: the instant-vector answer of /api/v1/query in upstream's shape
 * (key labels kept, series without them or with NaN/Inf values counted and left out, error
 * answers carrying Prometheus's message, other shapes refused), and the client against a
 * local HTTP server (the controller's httpd, answering what each test sets): the URL's path
 * prefix kept, HTTP errors with and without Prometheus's JSON, an answer past the size bound,
 * a server slower than the timeout, one that is not there, and bad URLs refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "prom/prom.h"
#include "../../controller/httpd.c"

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
        if (prom_client_new(bad[i], 5, NULL, &pc, err, sizeof(err)) != FS_EINVAL || pc || !err[0])
            fail_msg("%s was accepted (err \"%s\")", bad[i], err);
    }
    struct prom_client *pc = NULL;
    char err[200] = "";
    assert_int_equal(prom_client_new("http://127.0.0.1:9090", 0, NULL, &pc, err, sizeof(err)), FS_EINVAL);
    assert_non_null(strstr(err, "timeout"));
    assert_int_equal(prom_client_new("http://127.0.0.1:9090/prom/", 2, NULL, &pc, err, sizeof(err)), FS_OK);
    prom_client_free(pc);
}

/* nothing listens on port 1 of loopback: a prompt FS_EIO naming the server, never a hang */
static void test_unreachable_server(void **state)
{
    (void)state;
    struct prom_client *pc = NULL;
    struct prom_vector v;
    char err[300] = "";
    assert_int_equal(prom_client_new("http://127.0.0.1:1/", 2, NULL, &pc, err, sizeof(err)), FS_OK);
    enum fs_err rc = prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err));
    assert_true(rc == FS_EIO || rc == FS_ETIMEOUT);
    assert_non_null(strstr(err, "http://127.0.0.1:1"));
    assert_int_equal(v.n, 0);
    assert_int_equal(prom_query(pc, "", KEYS, 2, &v, err, sizeof(err)), FS_EINVAL);
    prom_client_free(pc);
}

/* ---- against a local server -------------------------------------------------------------- */

static struct {
    int status;
    const char *ctype;
    const char *body;    /* what the server answers */
    size_t big;          /* > 0: a body of this many spaces instead */
    unsigned delay_ms;
    char path[256];      /* the path it was asked for */
} srv;

static void handler(void *arg, const char *path, int *status, const char **ctype, char **body)
{
    (void)arg;
    snprintf(srv.path, sizeof(srv.path), "%s", path);
    if (srv.delay_ms)
        usleep(srv.delay_ms * 1000);
    *status = srv.status;
    *ctype = srv.ctype;
    if (srv.big) {
        *body = malloc(srv.big + 1);
        if (*body) {
            memset(*body, ' ', srv.big);
            (*body)[srv.big] = 0;
        }
    } else {
        *body = strdup(srv.body);
    }
}

static int server_up(void **state)
{
    struct httpd *h = NULL;
    memset(&srv, 0, sizeof(srv));
    if (httpd_start(&h, "127.0.0.1", 0, handler, NULL) != FS_OK)
        return -1;
    *state = h;
    return 0;
}

static int server_down(void **state)
{
    httpd_free(*state);
    return 0;
}

static struct prom_client *client_for(void **state, const char *prefix, double timeout_s)
{
    char url[128];
    struct prom_client *pc = NULL;
    char err[200] = "";
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", httpd_port(*state), prefix);
    if (prom_client_new(url, timeout_s, NULL, &pc, err, sizeof(err)) != FS_OK)
        fail_msg("%s", err);
    return pc;
}

static void test_query_keeps_the_path_prefix(void **state)
{
    struct prom_client *pc = client_for(state, "/prom/", 5);
    srv.status = 200;
    srv.ctype = "application/json";
    srv.body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
               "{\"metric\":{\"namespace\":\"a\",\"pod\":\"p\"},\"value\":[1700000000.5,\"1572864\"]}]}}";
    struct prom_vector v;
    char err[300] = "";
    assert_int_equal(prom_query(pc, "sum by (namespace, pod) (irate(x[1m]))", KEYS, 2, &v, err, sizeof(err)), FS_OK);
    assert_string_equal(srv.path, "/prom/api/v1/query");
    assert_int_equal(v.n, 1);
    assert_true(v.p[0].value == 1572864.0);
    prom_vector_release(&v);
    /* the handle is reused: a second query on the same client works the same */
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_OK);
    assert_int_equal(v.n, 1);
    prom_vector_release(&v);
    prom_client_free(pc);
}

static void test_http_errors(void **state)
{
    struct prom_client *pc = client_for(state, "", 5);
    struct prom_vector v;
    char err[300] = "";
    /* Prometheus's own error answer: its message, whatever the status */
    srv.status = 400;
    srv.ctype = "application/json";
    srv.body = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"1:1: parse error: unexpected \\\"}\\\"\"}";
    assert_int_equal(prom_query(pc, "}", KEYS, 2, &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "bad_data: 1:1: parse error"));
    /* a proxy's page in front of it: the status */
    srv.status = 503;
    srv.ctype = "text/html";
    srv.body = "<html>no healthy upstream</html>";
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "answered HTTP 503"));
    /* not found: wrong base URL */
    srv.status = 404;
    srv.body = "404 page not found";
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "answered HTTP 404"));
    /* 200 but not the API */
    srv.status = 200;
    srv.body = "<html>grafana</html>";
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EPARSE);
    assert_non_null(strstr(err, "not JSON"));
    assert_int_equal(v.n, 0);
    prom_client_free(pc);
}

static void test_answer_too_big(void **state)
{
    struct prom_client *pc = client_for(state, "", 10);
    struct prom_vector v;
    char err[300] = "";
    srv.status = 200;
    srv.big = PROM_MAX_RESPONSE_BYTES + 1;
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_ERANGE);
    assert_non_null(strstr(err, "more than 16777216 bytes"));
    /* exactly the bound is read (and then refused as what it is: not JSON) */
    srv.big = PROM_MAX_RESPONSE_BYTES;
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EPARSE);
    prom_client_free(pc);
}

static void test_slow_server_times_out(void **state)
{
    struct prom_client *pc = client_for(state, "", 0.3);
    struct prom_vector v;
    char err[300] = "";
    srv.status = 200;
    srv.body = "{}";
    srv.delay_ms = 1500;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(took < 1.2); /* the bound, not the server, decides */
    assert_non_null(strstr(err, "cannot query prometheus"));
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
        cmocka_unit_test_setup_teardown(test_query_keeps_the_path_prefix, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_http_errors, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_answer_too_big, server_up, server_down),
        cmocka_unit_test_setup_teardown(test_slow_server_times_out, server_up, server_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
