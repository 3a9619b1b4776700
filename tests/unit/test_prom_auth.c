/* Unit tests for lib/prom's credentials against a local libwebsockets server that records the
 * Authorization header it gets and accepts one token: a bearer token file re-read on every
 * query (rotated between two queries), basic auth, nothing sent without credentials, 401 and
 * 403 reported as failed authentication without the secret, the files checked at start-up
 * (missing, empty, too large, a control character, a CA file without a certificate, bad
 * combinations, credentials in the URL), and the controller's sampler counting a refused
 * query as an error, warning that authentication failed, and recovering once the token
 * file is rotated. TLS itself is tested against a real Prometheus: tests/e2e/test_prom_auth.sh. */
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

#include <fcntl.h>
#include <libwebsockets.h>
#include <openssl/evp.h>
#include <pthread.h>

#include "prom/prom.h"
#include "../../controller/netrate.c"

static const char *const KEYS[] = {"namespace", "pod"};
static const char VECTOR[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                             "{\"metric\":{\"namespace\":\"ns\",\"pod\":\"p\"},\"value\":[1700000000,\"2048\"]}]}}";

/* ---- the server ------------------------------------------------------------------------ */

static struct {
    pthread_mutex_t mu;
    char want[256];      /* the Authorization value it accepts ("": any, even none) */
    int refuse_with;     /* status for a wrong one: 401 or 403 */
    char auth[1024];     /* Authorization of the last request, "" when it had none */
    int requests;
    struct lws_context *ctx;
    pthread_t th;
    volatile int stop;
    int port;
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct pss {
    int status;
};

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct pss *pss = user;
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        pthread_mutex_lock(&srv.mu);
        srv.requests++;
        srv.auth[0] = '\0';
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
            lws_hdr_copy(wsi, srv.auth, (int)sizeof(srv.auth), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
            srv.auth[0] = '\0';
        pss->status = !srv.want[0] || strcmp(srv.auth, srv.want) == 0 ? 200 : srv.refuse_with;
        pthread_mutex_unlock(&srv.mu);
        if (lws_add_http_common_headers(wsi, (unsigned int)pss->status,
                                        pss->status == 200 ? "application/json" : "text/plain",
                                        pss->status == 200 ? strlen(VECTOR) : strlen("Unauthorized\n"), &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        const char *body = pss->status == 200 ? VECTOR : "Unauthorized\n";
        size_t n = strlen(body);
        memcpy(start, body, n);
        if (lws_write(wsi, start, n, LWS_WRITE_HTTP_FINAL) != (int)n)
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols PROTOCOLS[] = {
    {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *serve(void *arg)
{
    (void)arg;
    while (!srv.stop)
        lws_service(srv.ctx, 0);
    return NULL;
}

static int server_up(void **state)
{
    (void)state;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = 0; /* any free port */
    info.iface = "127.0.0.1";
    info.protocols = PROTOCOLS;
    lws_set_log_level(LLL_ERR, NULL);
    srv.want[0] = srv.auth[0] = '\0';
    srv.refuse_with = 401;
    srv.requests = 0;
    srv.stop = 0;
    if (!(srv.ctx = lws_create_context(&info)))
        return -1;
    srv.port = lws_get_vhost_listen_port(lws_get_vhost_by_name(srv.ctx, "default"));
    if (srv.port <= 0 || pthread_create(&srv.th, NULL, serve, NULL) != 0) {
        lws_context_destroy(srv.ctx);
        return -1;
    }
    return 0;
}

static int server_down(void **state)
{
    (void)state;
    srv.stop = 1;
    lws_cancel_service(srv.ctx);
    pthread_join(srv.th, NULL);
    lws_context_destroy(srv.ctx);
    return 0;
}

static void server_wants(const char *auth, int refuse_with)
{
    pthread_mutex_lock(&srv.mu);
    snprintf(srv.want, sizeof(srv.want), "%s", auth);
    srv.refuse_with = refuse_with;
    pthread_mutex_unlock(&srv.mu);
}

static void server_saw(char *auth, size_t cap, int *requests)
{
    pthread_mutex_lock(&srv.mu);
    snprintf(auth, cap, "%s", srv.auth);
    *requests = srv.requests;
    pthread_mutex_unlock(&srv.mu);
}

/* ---- files ------------------------------------------------------------------------------- */

static char dir[64];

static int dir_up(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_prom_auth.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return server_up(state);
}

static int dir_down(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return -1;
    return server_down(state);
}

static const char *path_of(const char *name)
{
    static char p[4][128];
    static int next;
    char *s = p[next++ % 4];
    snprintf(s, sizeof(p[0]), "%s/%s", dir, name);
    return s;
}

/* writes a file as a projected volume updates one: a new file renamed over the old */
static void write_file(const char *name, const char *content)
{
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.new", path_of(name));
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path_of(name)), 0);
}

static struct prom_client *client(const struct prom_auth *a)
{
    char url[64], err[300] = "";
    struct prom_client *pc = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    if (prom_client_new(url, 5, a, &pc, err, sizeof(err)) != FS_OK)
        fail_msg("%s", err);
    return pc;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_bearer_token_reread_every_query(void **state)
{
    (void)state;
    char auth[1024], err[300] = "";
    int requests;
    struct prom_vector v;
    write_file("token", "first-token-AbC.123\n"); /* a trailing newline, as `echo` leaves it */
    struct prom_auth a = {.bearer_token_file = path_of("token")};
    struct prom_client *pc = client(&a);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_OK);
    assert_int_equal(v.n, 1);
    prom_vector_release(&v);
    server_saw(auth, sizeof(auth), &requests);
    assert_string_equal(auth, "Bearer first-token-AbC.123");
    assert_int_equal(requests, 1);
    /* the kubelet rotates a projected token: the next query sends the new one */
    write_file("token", "second-token-XyZ");
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_OK);
    prom_vector_release(&v);
    server_saw(auth, sizeof(auth), &requests);
    assert_string_equal(auth, "Bearer second-token-XyZ");
    assert_int_equal(requests, 2);
    assert_int_equal(prom_client_last_status(pc), 200);
    prom_client_free(pc);
}

static void test_basic_auth(void **state)
{
    (void)state;
    char auth[1024], err[300] = "", want[256] = "Basic ";
    int requests;
    struct prom_vector v;
    write_file("password", "  pa:ss w0rd\n");
    struct prom_auth a = {.username = "foresight", .password_file = path_of("password")};
    struct prom_client *pc = client(&a);
    /* RFC 7617: base64 of user ":" password (the file's surrounding blanks trimmed, as
     * Prometheus's own password_file is), encoded here by OpenSSL */
    const char *pair = "foresight:pa:ss w0rd";
    EVP_EncodeBlock((unsigned char *)want + 6, (const unsigned char *)pair, (int)strlen(pair));
    server_wants(want, 401);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_OK);
    assert_int_equal(v.n, 1);
    assert_true(v.p[0].value == 2048);
    prom_vector_release(&v);
    server_saw(auth, sizeof(auth), &requests);
    assert_string_equal(auth, want);
    prom_client_free(pc);
}

static void test_no_credentials_sends_none(void **state)
{
    (void)state;
    char auth[1024] = "x", err[300] = "";
    int requests;
    struct prom_vector v;
    struct prom_client *pc = client(NULL);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_OK);
    prom_vector_release(&v);
    server_saw(auth, sizeof(auth), &requests);
    assert_string_equal(auth, "");
    assert_int_equal(requests, 1);
    /* a server that wants credentials: the message says none were given */
    server_wants("Bearer needed", 401);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "authentication failed"));
    assert_non_null(strstr(err, "credentials are needed"));
    prom_client_free(pc);
}

static void test_refused_credentials(void **state)
{
    (void)state;
    char err[300] = "";
    struct prom_vector v;
    write_file("token", "secret-token-value");
    struct prom_auth a = {.bearer_token_file = path_of("token")};
    struct prom_client *pc = client(&a);
    server_wants("Bearer another", 401);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "authentication failed"));
    assert_non_null(strstr(err, "HTTP 401"));
    assert_non_null(strstr(err, "refused"));
    assert_null(strstr(err, "secret-token-value"));
    assert_int_equal(prom_client_last_status(pc), 401);
    assert_int_equal(v.n, 0);
    /* kube-rbac-proxy in front of thanos-querier: a valid token without the right to query */
    server_wants("Bearer another", 403);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EHTTP);
    assert_non_null(strstr(err, "authentication failed"));
    assert_non_null(strstr(err, "HTTP 403"));
    assert_null(strstr(err, "secret-token-value"));
    assert_int_equal(prom_client_last_status(pc), 403);
    prom_client_free(pc);
}

/* a token file gone after the start (a volume unmounted): the query fails naming the file
 * and nothing is sent without the token */
static void test_token_file_gone(void **state)
{
    (void)state;
    char auth[1024], err[300] = "";
    int requests;
    struct prom_vector v;
    write_file("token", "t1");
    struct prom_auth a = {.bearer_token_file = path_of("token")};
    struct prom_client *pc = client(&a);
    assert_int_equal(unlink(path_of("token")), 0);
    assert_int_equal(prom_query(pc, "up", KEYS, 2, &v, err, sizeof(err)), FS_EIO);
    assert_non_null(strstr(err, path_of("token")));
    assert_non_null(strstr(err, "No such file"));
    server_saw(auth, sizeof(auth), &requests);
    assert_int_equal(requests, 0);
    prom_client_free(pc);
}

static void expect_refused(const struct prom_auth *a, const char *url, enum fs_err want_rc, const char *says,
                           const char *never)
{
    char err[400] = "";
    struct prom_client *pc = (struct prom_client *)1;
    enum fs_err rc = prom_client_new(url ? url : "https://prometheus.example:9091", 5, a, &pc, err, sizeof(err));
    if (rc != want_rc || pc || !strstr(err, says) || (never && strstr(err, never)))
        fail_msg("rc %d, err \"%s\": expected %d, \"%s\"", rc, err, want_rc, says);
}

static void test_startup_checks(void **state)
{
    (void)state;
    char big[PROM_MAX_SECRET + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file("empty", " \n");
    write_file("big", big);
    write_file("ctl", "abc\r\nX-Injected: 1");
    write_file("notpem", "-----BEGIN NOTHING-----\nabc\n");
    write_file("token", "tok-value");
    write_file("password", "pw-value");
    struct prom_auth missing = {.bearer_token_file = path_of("nope")};
    expect_refused(&missing, NULL, FS_EIO, path_of("nope"), NULL);
    struct prom_auth missing_pw = {.username = "u", .password_file = path_of("nope")};
    expect_refused(&missing_pw, NULL, FS_EIO, "cannot read the password file", NULL);
    struct prom_auth empty = {.bearer_token_file = path_of("empty")};
    expect_refused(&empty, NULL, FS_EINVAL, "is empty", NULL);
    struct prom_auth toobig = {.username = "u", .password_file = path_of("big")};
    expect_refused(&toobig, NULL, FS_ERANGE, "larger than 16383 bytes", "aaaa");
    struct prom_auth ctl = {.bearer_token_file = path_of("ctl")};
    expect_refused(&ctl, NULL, FS_EINVAL, "holds a control character", "Injected");
    struct prom_auth notpem = {.ca_file = path_of("notpem")};
    expect_refused(&notpem, NULL, FS_EPARSE, "holds no PEM certificate", NULL);
    struct prom_auth noca = {.ca_file = path_of("nope")};
    expect_refused(&noca, NULL, FS_EIO, "cannot read the CA file", NULL);
    struct prom_auth both = {.bearer_token_file = path_of("token"), .username = "u",
                             .password_file = path_of("password")};
    expect_refused(&both, NULL, FS_EINVAL, "choose one", NULL);
    struct prom_auth half = {.username = "u"};
    expect_refused(&half, NULL, FS_EINVAL, "both a username and a password file", NULL);
    struct prom_auth ca_and_skip = {.ca_file = "/etc/ssl/certs/ca-certificates.crt", .insecure_skip_verify = 1};
    expect_refused(&ca_and_skip, NULL, FS_EINVAL, "choose one", NULL);
    /* credentials in the URL would be printed with it: refused without echoing them */
    expect_refused(NULL, "https://admin:hunter2@prometheus.example", FS_EINVAL, "carries credentials", "hunter2");
    /* and the system store's bundle is a fine CA file */
    struct prom_client *pc = NULL;
    char err[300] = "";
    struct prom_auth sys = {.ca_file = "/etc/ssl/certs/ca-certificates.crt"};
    assert_int_equal(prom_client_new("https://prometheus.example", 5, &sys, &pc, err, sizeof(err)), FS_OK);
    prom_client_free(pc);
}

/* ---- the controller's sampler ------------------------------------------------------------ */

static void test_sampler_counts_and_warns_then_recovers(void **state)
{
    (void)state;
    char url[64], err[300] = "", logpath[160], log[8192] = "";
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
    snprintf(logpath, sizeof(logpath), "%s", path_of("stderr"));
    write_file("token", "expired-token");
    server_wants("Bearer fresh-token", 401);
    /* the warnings go to stderr: kept in a file to read what an operator would */
    fflush(stderr);
    int saved = dup(2), fd = open(logpath, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
    log_setup(LOG_INFO, LOG_LOGFMT);
    struct netrate_opts o = {url, "q", 2, 0.1, NULL, {.bearer_token_file = path_of("token")}};
    struct netrate *n = NULL;
    struct netrate_counts c = {0};
    assert_int_equal(netrate_start(&o, &n, err, sizeof(err)), FS_OK);
    for (int i = 0; i < 100 && c.errors < 2; i++, usleep(50 * 1000))
        netrate_counts(n, &c);
    assert_true(c.errors >= 2);
    assert_int_equal(c.queries, c.errors);
    assert_int_equal(netrate_get(n, "ns", "p"), USAGE_UNKNOWN);
    write_file("token", "fresh-token\n");
    for (int i = 0; i < 100 && c.pods == 0; i++, usleep(50 * 1000))
        netrate_counts(n, &c);
    assert_int_equal(c.pods, 1);
    assert_int_equal(netrate_get(n, "ns", "p"), 2048);
    netrate_stop(n);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    FILE *f = fopen(logpath, "r");
    assert_non_null(f);
    size_t len = fread(log, 1, sizeof(log) - 1, f);
    fclose(f);
    log[len] = '\0';
    /* one warning for one story (the same error is said once a minute), then the recovery */
    const char *w = strstr(log, "prometheus authentication failed");
    assert_non_null(w);
    assert_null(strstr(w + 1, "prometheus authentication failed"));
    assert_non_null(strstr(log, "HTTP 401"));
    assert_non_null(strstr(log, "network usage from prometheus again"));
    assert_null(strstr(log, "expired-token"));
    assert_null(strstr(log, "fresh-token"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bearer_token_reread_every_query, dir_up, dir_down),
        cmocka_unit_test_setup_teardown(test_basic_auth, dir_up, dir_down),
        cmocka_unit_test_setup_teardown(test_no_credentials_sends_none, dir_up, dir_down),
        cmocka_unit_test_setup_teardown(test_refused_credentials, dir_up, dir_down),
        cmocka_unit_test_setup_teardown(test_token_file_gone, dir_up, dir_down),
        cmocka_unit_test_setup_teardown(test_startup_checks, dir_up, dir_down),
        cmocka_unit_test_setup_teardown(test_sampler_counts_and_warns_then_recovers, dir_up, dir_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
