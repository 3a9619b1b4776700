/* Unit tests for lib/kube/client and kube_watch_run against a scripted HTTP server on
 * 127.0.0.1 (no cluster): paths and queries, Status errors, retries honouring Retry-After,
 * 401 token refresh, a non-JSON error body, an unreachable server, truncated and expired
 * watch streams. The server is tests/support/fake_http (libwebsockets). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/internal.h"
#include "kube/watch.h"
#include "../support/fake_http.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A server answering the i-th request with replies[i]. */
static struct fake_http *fake_start(struct fake_http_script *sc)
{
    struct fake_http *f = NULL;
    assert_int_equal(fake_http_new(&f, fake_http_scripted, sc), FS_OK);
    return f;
}

static const struct fake_http_req *req_at(struct fake_http *f, int seq)
{
    const struct fake_http_req *r = fake_http_req(f, seq);
    if (!r)
        fail_msg("the server saw no request %d (%d in all)", seq, fake_http_count(f));
    return r;
}

static void make_client(int port, struct kube_config *cfg, struct kube_client **c, const char *token_file)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: {%s: %s}}]\n",
             port, token_file ? "tokenFile" : "token", token_file ? token_file : "tok1");
    assert_int_equal(kube_config_parse(cfg, yaml, strlen(yaml), NULL, NULL), FS_OK);
    struct kube_client_opts o = {.backoff_base_ms = 20, .backoff_max_ms = 200, .max_retries = 3,
                                 .timeout_ms = 5000, .qps = -1};
    assert_int_equal(kube_client_new(c, cfg, &o), FS_OK);
}

static void test_paths_and_queries(void **state)
{
    (void)state;
    char p[256];
    struct kube_ref core = {.version = "v1", .resource = "configmaps", .namespace = "ns", .name = "a"};
    assert_int_equal(kube_ref_path(&core, p, sizeof(p)), FS_OK);
    assert_string_equal(p, "/api/v1/namespaces/ns/configmaps/a");
    struct kube_ref grp = {.group = "apps", .version = "v1", .resource = "deployments",
                           .namespace = "ns", .name = "d", .subresource = "scale"};
    assert_int_equal(kube_ref_path(&grp, p, sizeof(p)), FS_OK);
    assert_string_equal(p, "/apis/apps/v1/namespaces/ns/deployments/d/scale");
    struct kube_ref crd = {.group = "foresight.sh", .version = "v1alpha1", .resource = "reservationpools"};
    assert_int_equal(kube_ref_path(&crd, p, sizeof(p)), FS_OK);
    assert_string_equal(p, "/apis/foresight.sh/v1alpha1/reservationpools");
    struct kube_ref evil = {.version = "v1", .resource = "pods", .name = "../x"};
    assert_int_equal(kube_ref_path(&evil, p, sizeof(p)), FS_EINVAL);
    struct kube_ref sub_no_name = {.version = "v1", .resource = "pods", .subresource = "status"};
    assert_int_equal(kube_ref_path(&sub_no_name, p, sizeof(p)), FS_EINVAL);
    assert_int_equal(kube_ref_path(&core, p, 10), FS_ERANGE);
}

static void test_status_errors_and_list_query(void **state)
{
    (void)state;
    const struct fake_http_reply replies[] = {
        {.body = "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}"},
        {.status = 409,
         .body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                 "\"Operation cannot be fulfilled on configmaps \\\"a\\\": the object has been modified\","
                 "\"reason\":\"Conflict\",\"code\":409}"},
        {.status = 403, .content_type = "text/html", .body = "<html>nope\x01</html>"},
    };
    struct fake_http_script sc = {replies, 3};
    struct fake_http *f = fake_start(&sc);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(fake_http_port(f), &cfg, &c, NULL);
    struct kube_ref ref = {.version = "v1", .resource = "configmaps", .namespace = "d"};
    struct kube_list_opts lo = {.label_selector = "app in (a,b)", .limit = 2};
    json_t *out = NULL;
    struct kube_status st;
    assert_int_equal(kube_list(c, &ref, &lo, &out, &st), FS_OK);
    /* the server decodes the selector back whole, in its own argument */
    const struct fake_http_req *r = req_at(f, 0);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->uri, "/api/v1/namespaces/d/configmaps?labelSelector=app in (a,b)&limit=2");
    assert_string_equal(r->authorization, "Bearer tok1");
    assert_string_equal(r->accept, "application/json");
    json_decref(out);
    /* and the bytes on the wire are percent-encoded (the server sees them decoded) */
    char q[256] = "/p";
    assert_int_equal(kube_query_add(q, sizeof(q), "labelSelector", "app in (a,b)"), FS_OK);
    assert_int_equal(kube_query_add(q, sizeof(q), "limit", "2"), FS_OK);
    assert_string_equal(q, "/p?labelSelector=app%20in%20%28a%2Cb%29&limit=2");

    ref.name = "a";
    json_t *obj = json_pack("{s:{s:s, s:s}}", "metadata", "name", "a", "resourceVersion", "1");
    assert_int_equal(kube_update(c, &ref, obj, NULL, NULL, &st), FS_ECONFLICT);
    assert_int_equal(st.code, 409);
    assert_string_equal(st.reason, "Conflict");
    assert_non_null(strstr(st.message, "the object has been modified"));
    r = req_at(f, 1);
    assert_string_equal(r->method, "PUT");
    assert_string_equal(r->uri, "/api/v1/namespaces/d/configmaps/a");
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(r->body, "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}");
    json_decref(obj);

    /* a non-JSON error body: the status keeps the HTTP code and a printable excerpt */
    assert_int_equal(kube_get(c, &ref, &out, &st), FS_EHTTP);
    assert_int_equal(st.http_code, 403);
    assert_string_equal(st.reason, "Forbidden");
    assert_string_equal(st.message, "<html>nope </html>");
    assert_null(out);
    /* error answers did not cost a connection: all three came on one */
    assert_int_equal(req_at(f, 1)->conn, req_at(f, 0)->conn);
    assert_int_equal(req_at(f, 2)->conn, req_at(f, 0)->conn);
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_http_free(f);
}

static void test_retry_after_and_5xx(void **state)
{
    (void)state;
    const struct fake_http_reply replies[] = {
        {.status = 429, .retry_after = "1", .body = "{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\"}"},
        {.status = 503, .content_type = "text/plain", .body = "busy"},
        {.body = "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}"},
        {.status = 500, .body = "{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}"},
    };
    struct fake_http_script sc = {replies, 4};
    struct fake_http *f = fake_start(&sc);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(fake_http_port(f), &cfg, &c, NULL);
    struct kube_ref ref = {.version = "v1", .resource = "configmaps", .namespace = "d", .name = "a"};
    json_t *out = NULL;
    struct kube_status st;
    assert_int_equal(kube_get(c, &ref, &out, &st), FS_OK);
    assert_int_equal(fake_http_count(f), 3);
    /* Retry-After: 1 was honoured (our own backoff would have been 20 ms) */
    assert_true(req_at(f, 1)->at_ms - req_at(f, 0)->at_ms >= 950);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "metadata"), "name")), "a");
    json_decref(out);
    /* a POST is not retried on 500: it may have been applied */
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = "d"};
    json_t *obj = json_pack("{s:{s:s}}", "metadata", "name", "b");
    assert_int_equal(kube_create(c, &coll, obj, NULL, NULL, &st), FS_EHTTP);
    assert_int_equal(st.code, 500);
    assert_string_equal(st.message, "boom");
    assert_int_equal(fake_http_count(f), 4);
    assert_string_equal(req_at(f, 3)->method, "POST");
    json_decref(obj);
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_http_free(f);
}

static void test_401_rereads_token_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_kube_client_tokXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "old\n", 4), 4);
    close(fd);
    const struct fake_http_reply replies[] = {
        {.status = 401, .body = "{\"kind\":\"Status\",\"code\":401}"},
        {.body = "{}"},
    };
    struct fake_http_script sc = {replies, 2};
    struct fake_http *f = fake_start(&sc);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(fake_http_port(f), &cfg, &c, path);
    struct kube_credentials cr;
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK); /* caches "old" */
    kube_credentials_release(&cr);
    FILE *tf = fopen(path, "w");
    fputs("new\n", tf);
    fclose(tf);
    struct kube_ref ref = {.version = "v1", .resource = "namespaces", .name = "x"};
    assert_int_equal(kube_get(c, &ref, NULL, NULL), FS_OK);
    assert_string_equal(req_at(f, 0)->authorization, "Bearer old");
    assert_string_equal(req_at(f, 1)->authorization, "Bearer new");
    assert_int_equal(fake_http_count(f), 2);
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_http_free(f);
    unlink(path);
}

static void test_unreachable_server(void **state)
{
    (void)state;
    /* a port nobody listens on: listen, learn the port, close */
    struct fake_http_script sc = {NULL, 0};
    struct fake_http *f = fake_start(&sc);
    int port = fake_http_port(f);
    fake_http_free(f);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(port, &cfg, &c, NULL);
    struct kube_ref ref = {.version = "v1", .resource = "pods"};
    struct kube_status st;
    json_t *out = (json_t *)1;
    int64_t t0 = now_ms();
    assert_int_equal(kube_list(c, &ref, NULL, &out, &st), FS_EIO);
    assert_null(out);
    assert_int_equal(st.http_code, 0);
    assert_non_null(strstr(st.message, "127.0.0.1"));
    assert_true(now_ms() - t0 < 3000); /* 3 retries with 20..200 ms backoff */
    kube_client_free(c);
    kube_config_release(&cfg);
}

/* A listener that resets every connection it accepts, counting them. */
struct resetter {
    int fd, port, accepted;
    pthread_t th;
};

static void *reset_all(void *arg)
{
    struct resetter *r = arg;
    for (;;) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        __atomic_add_fetch(&r->accepted, 1, __ATOMIC_SEQ_CST);
        struct linger lg = {1, 0}; /* close with a reset, as a peer gone away */
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(c);
    }
}

/* A POST whose body was not all sent (the connection reset under it; curl may report it as a
 * send or a receive failure) is retried like a refused connection: a server cannot have acted
 * on a request it did not receive whole. One answered with an error is not (see
 * test_retry_after_and_5xx). */
static void test_post_retried_when_sending_fails(void **state)
{
    (void)state;
    struct resetter r = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_true(r.fd >= 0);
    assert_int_equal(bind(r.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(r.fd, 16), 0);
    assert_int_equal(getsockname(r.fd, (struct sockaddr *)&a, &al), 0);
    r.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r.th, NULL, reset_all, &r), 0);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(r.port, &cfg, &c, NULL);
    /* 8 MB: more than the socket buffers take, so the reset meets the sending */
    size_t big = 8u << 20;
    char *pad = malloc(big + 1);
    assert_non_null(pad);
    memset(pad, 'x', big);
    pad[big] = '\0';
    json_t *obj = json_pack("{s:{s:s}, s:{s:s}}", "metadata", "name", "b", "data", "pad", pad);
    free(pad);
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = "d"};
    struct kube_status st;
    assert_int_equal(kube_create(c, &coll, obj, NULL, NULL, &st), FS_EIO);
    assert_int_equal(__atomic_load_n(&r.accepted, __ATOMIC_SEQ_CST), 4); /* the first try and 3 retries */
    json_decref(obj);
    kube_client_free(c);
    kube_config_release(&cfg);
    shutdown(r.fd, SHUT_RDWR);
    close(r.fd);
    pthread_join(r.th, NULL);
}

struct seen {
    int n;
    char rv[8][16];
};

static int on_ev(void *arg, struct kube_event *ev)
{
    struct seen *s = arg;
    if (s->n < 8)
        snprintf(s->rv[s->n++], 16, "%s", ev->resource_version ? ev->resource_version : "");
    return 0;
}

static void test_watch_stream_endings(void **state)
{
    (void)state;
    /* written 1..13 bytes at a time, so the client reads events split anywhere; each stream
     * ends (the server closes it) once its body is out */
    const struct fake_http_reply replies[] = {
        {.stream = 1, .end_after_ms = 1, .pieces = 1,
         .body = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"}}}\n"
                 "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n"},
        {.stream = 1, .end_after_ms = 1, .body = "{\"type\":\"ADDED\",\"object\":{\""},
        {.stream = 1, .end_after_ms = 1,
         .body = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                 "\"reason\":\"Expired\",\"message\":\"too old resource version: 1 (50)\"}}\n"},
        {.status = 410, .body = "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\"}"},
    };
    struct fake_http_script sc = {replies, 4};
    struct fake_http *f = fake_start(&sc);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(fake_http_port(f), &cfg, &c, NULL);
    struct kube_ref ref = {.version = "v1", .resource = "configmaps", .namespace = "d"};
    struct kube_watch_opts wo = {.resource_version = "5", .allow_bookmarks = 1, .timeout_s = 10};
    struct seen s = {0};
    char last[64] = "";
    struct kube_status st;
    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.rv[0], "7");
    assert_string_equal(last, "9"); /* the bookmark moved the resume point */
    assert_string_equal(req_at(f, 0)->uri, "/api/v1/namespaces/d/configmaps?watch=1&resourceVersion=5"
                                           "&allowWatchBookmarks=true&timeoutSeconds=10");

    s.n = 0;
    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_EIO);
    assert_non_null(strstr(st.message, "truncated"));
    assert_int_equal(s.n, 0);

    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_EGONE);
    assert_int_equal(st.code, 410);
    assert_string_equal(st.reason, "Expired");

    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_EGONE);
    assert_int_equal(st.http_code, 410);
    assert_int_equal(fake_http_count(f), 4);
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_http_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_and_queries),
        cmocka_unit_test(test_status_errors_and_list_query),
        cmocka_unit_test(test_retry_after_and_5xx),
        cmocka_unit_test(test_401_rereads_token_file),
        cmocka_unit_test(test_unreachable_server),
        cmocka_unit_test(test_post_retried_when_sending_fails),
        cmocka_unit_test(test_watch_stream_endings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
