/* Unit tests for lib/kube/client and kube_watch_run against a scripted HTTP server on
 * 127.0.0.1 (no cluster): paths and queries, Status errors, retries honouring Retry-After,
 * 401 token refresh, a non-JSON error body, an unreachable server, truncated and expired
 * watch streams. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/watch.h"

#define MAX_STEPS 16

struct fake {
    int fd;
    int port;
    pthread_t thread;
    const char *responses[MAX_STEPS]; /* raw HTTP responses, one per request */
    int close_after[MAX_STEPS];       /* close the connection after this response */
    int nresp;
    int served;
    char requests[MAX_STEPS][2048];   /* request line and headers as received */
    char bodies[MAX_STEPS][1024];
    int64_t at_ms[MAX_STEPS];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *serve(void *arg)
{
    struct fake *f = arg;
    while (f->served < f->nresp) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[8192];
        size_t len = 0;
        while (f->served < f->nresp) {
            char *end;
            ssize_t n;
            while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
                n = read(c, buf + len, sizeof(buf) - len - 1);
                if (n <= 0)
                    goto next_conn;
                len += (size_t)n;
            }
            size_t hlen = (size_t)(end - buf) + 4;
            long clen = 0;
            char *cl = strcasestr(buf, "content-length:");
            if (cl && cl < end)
                clen = strtol(cl + 15, NULL, 10);
            while (len < hlen + (size_t)clen) {
                n = read(c, buf + len, sizeof(buf) - len - 1);
                if (n <= 0)
                    goto next_conn;
                len += (size_t)n;
            }
            int i = f->served;
            snprintf(f->requests[i], sizeof(f->requests[i]), "%.*s", (int)hlen, buf);
            snprintf(f->bodies[i], sizeof(f->bodies[i]), "%.*s", (int)clen, buf + hlen);
            f->at_ms[i] = now_ms();
            memmove(buf, buf + hlen + clen, len - hlen - (size_t)clen);
            len -= hlen + (size_t)clen;
            const char *r = f->responses[i];
            __atomic_store_n(&f->served, i + 1, __ATOMIC_RELEASE); /* before the client can see it */
            if (write(c, r, strlen(r)) < 0)
                goto next_conn;
            if (f->close_after[i])
                break;
        }
    next_conn:
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->fd, 8), 0);
    getsockname(f->fd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->thread, NULL, serve, f);
}

static void fake_stop(struct fake *f)
{
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(f->thread, NULL);
}

static void make_client(struct fake *f, struct kube_config *cfg, struct kube_client **c,
                        const char *token_file)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: {%s: %s}}]\n",
             f->port, token_file ? "tokenFile" : "token", token_file ? token_file : "tok1");
    assert_int_equal(kube_config_parse(cfg, yaml, strlen(yaml), NULL, NULL), FS_OK);
    struct kube_client_opts o = {.backoff_base_ms = 20, .backoff_max_ms = 200, .max_retries = 3,
                                 .timeout_ms = 5000, .qps = -1};
    assert_int_equal(kube_client_new(c, cfg, &o), FS_OK);
}

#define OK_JSON(body) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n" body

static char *resp(const char *status_line, const char *extra_headers, const char *body)
{
    static char bufs[MAX_STEPS * 2][4096];
    static int next;
    char *b = bufs[next++ % (MAX_STEPS * 2)];
    snprintf(b, 4096, "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n%s", status_line, strlen(body),
             extra_headers, body);
    return b;
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
    struct fake f = {.nresp = 3};
    f.responses[0] = resp("200 OK", "", "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}");
    f.responses[1] = resp("409 Conflict", "Content-Type: application/json\r\n",
                          "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                          "\"Operation cannot be fulfilled on configmaps \\\"a\\\": the object has been modified\","
                          "\"reason\":\"Conflict\",\"code\":409}");
    f.responses[2] = resp("403 Forbidden", "Content-Type: text/html\r\n", "<html>nope\x01</html>");
    fake_start(&f);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(&f, &cfg, &c, NULL);
    struct kube_ref ref = {.version = "v1", .resource = "configmaps", .namespace = "d"};
    struct kube_list_opts lo = {.label_selector = "app in (a,b)", .limit = 2};
    json_t *out = NULL;
    struct kube_status st;
    assert_int_equal(kube_list(c, &ref, &lo, &out, &st), FS_OK);
    assert_non_null(strstr(f.requests[0], "GET /api/v1/namespaces/d/configmaps?labelSelector=app%20in%20%28a%2Cb%29&limit=2 "));
    assert_non_null(strstr(f.requests[0], "Authorization: Bearer tok1"));
    json_decref(out);

    ref.name = "a";
    json_t *obj = json_pack("{s:{s:s, s:s}}", "metadata", "name", "a", "resourceVersion", "1");
    assert_int_equal(kube_update(c, &ref, obj, NULL, NULL, &st), FS_ECONFLICT);
    assert_int_equal(st.code, 409);
    assert_string_equal(st.reason, "Conflict");
    assert_non_null(strstr(st.message, "the object has been modified"));
    assert_non_null(strstr(f.requests[1], "PUT /api/v1/namespaces/d/configmaps/a "));
    assert_string_equal(f.bodies[1], "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}");
    json_decref(obj);

    /* a non-JSON error body: the status keeps the HTTP code and a printable excerpt */
    assert_int_equal(kube_get(c, &ref, &out, &st), FS_EHTTP);
    assert_int_equal(st.http_code, 403);
    assert_string_equal(st.reason, "Forbidden");
    assert_string_equal(st.message, "<html>nope </html>");
    assert_null(out);
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_stop(&f);
}

static void test_retry_after_and_5xx(void **state)
{
    (void)state;
    struct fake f = {.nresp = 4};
    f.responses[0] = resp("429 Too Many Requests", "Retry-After: 1\r\n", "{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\"}");
    f.responses[1] = resp("503 Service Unavailable", "", "busy");
    f.responses[2] = resp("200 OK", "", "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}");
    f.responses[3] = resp("500 Internal Server Error", "", "{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}");
    fake_start(&f);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(&f, &cfg, &c, NULL);
    struct kube_ref ref = {.version = "v1", .resource = "configmaps", .namespace = "d", .name = "a"};
    json_t *out = NULL;
    struct kube_status st;
    assert_int_equal(kube_get(c, &ref, &out, &st), FS_OK);
    assert_int_equal(f.served, 3);
    /* Retry-After: 1 was honoured (our own backoff would have been 20 ms) */
    assert_true(f.at_ms[1] - f.at_ms[0] >= 950);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "metadata"), "name")), "a");
    json_decref(out);
    /* a POST is not retried on 500: it may have been applied */
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = "d"};
    json_t *obj = json_pack("{s:{s:s}}", "metadata", "name", "b");
    assert_int_equal(kube_create(c, &coll, obj, NULL, NULL, &st), FS_EHTTP);
    assert_int_equal(st.code, 500);
    assert_string_equal(st.message, "boom");
    assert_int_equal(f.served, 4);
    json_decref(obj);
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_stop(&f);
}

static void test_401_rereads_token_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_kube_client_tokXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "old\n", 4), 4);
    close(fd);
    struct fake f = {.nresp = 2};
    f.responses[0] = resp("401 Unauthorized", "", "{\"kind\":\"Status\",\"code\":401}");
    f.responses[1] = resp("200 OK", "", "{}");
    fake_start(&f);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(&f, &cfg, &c, path);
    struct kube_credentials cr;
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK); /* caches "old" */
    kube_credentials_release(&cr);
    FILE *tf = fopen(path, "w");
    fputs("new\n", tf);
    fclose(tf);
    struct kube_ref ref = {.version = "v1", .resource = "namespaces", .name = "x"};
    assert_int_equal(kube_get(c, &ref, NULL, NULL), FS_OK);
    assert_non_null(strstr(f.requests[0], "Bearer old"));
    assert_non_null(strstr(f.requests[1], "Bearer new"));
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_stop(&f);
    unlink(path);
}

static void test_unreachable_server(void **state)
{
    (void)state;
    /* a port nobody listens on: bind, learn the port, close */
    struct fake f = {.nresp = 0};
    fake_start(&f);
    fake_stop(&f);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(&f, &cfg, &c, NULL);
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

/* A chunked 200 response with one HTTP chunk per part. */
static char *chunked_resp(const char *const *parts)
{
    char *b = malloc(8192);
    size_t n = (size_t)snprintf(b, 8192, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n");
    for (; *parts; parts++)
        n += (size_t)snprintf(b + n, 8192 - n, "%zx\r\n%s\r\n", strlen(*parts), *parts);
    snprintf(b + n, 8192 - n, "0\r\n\r\n");
    return b;
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
    /* chunk boundaries deliberately fall inside events */
    const char *ok_parts[] = {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"reso",
                              "urceVersion\":\"7\"}}}\n{\"type\":\"BOOKMARK\",\"object\":",
                              "{\"metadata\":{\"resourceVersion\":\"9\"}}}\n", NULL};
    const char *trunc_parts[] = {"{\"type\":\"ADDED\",\"object\":{\"", NULL};
    const char *gone_parts[] = {"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                                "\"reason\":\"Expired\",\"message\":\"too old resource version: 1 (50)\"}}\n",
                                NULL};
    char *chunked = chunked_resp(ok_parts), *truncated = chunked_resp(trunc_parts);
    char *expired = chunked_resp(gone_parts);
    struct fake f = {.nresp = 4};
    f.responses[0] = chunked;
    f.responses[1] = truncated;
    f.responses[2] = expired;
    f.responses[3] = resp("410 Gone", "", "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Gone\"}");
    f.close_after[1] = 1;
    fake_start(&f);
    struct kube_config cfg;
    struct kube_client *c;
    make_client(&f, &cfg, &c, NULL);
    struct kube_ref ref = {.version = "v1", .resource = "configmaps", .namespace = "d"};
    struct kube_watch_opts wo = {.resource_version = "5", .allow_bookmarks = 1, .timeout_s = 10};
    struct seen s = {0};
    char last[64] = "";
    struct kube_status st;
    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.rv[0], "7");
    assert_string_equal(last, "9"); /* the bookmark moved the resume point */
    assert_non_null(strstr(f.requests[0], "watch=1&resourceVersion=5&allowWatchBookmarks=true&timeoutSeconds=10"));

    s.n = 0;
    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_EIO);
    assert_non_null(strstr(st.message, "truncated"));
    assert_int_equal(s.n, 0);

    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_EGONE);
    assert_int_equal(st.code, 410);
    assert_string_equal(st.reason, "Expired");

    assert_int_equal(kube_watch_run(c, &ref, &wo, on_ev, &s, last, sizeof(last), &st), FS_EGONE);
    assert_int_equal(st.http_code, 410);
    kube_client_free(c);
    kube_config_release(&cfg);
    fake_stop(&f);
    free(chunked);
    free(truncated);
    free(expired);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_and_queries),
        cmocka_unit_test(test_status_errors_and_list_query),
        cmocka_unit_test(test_retry_after_and_5xx),
        cmocka_unit_test(test_401_rereads_token_file),
        cmocka_unit_test(test_unreachable_server),
        cmocka_unit_test(test_watch_stream_endings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
