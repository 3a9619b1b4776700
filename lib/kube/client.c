/* REST client over libcurl: a pool of easy handles sharing DNS, TLS sessions and
 * connections (so connections are reused across threads), a token-bucket rate limit,
 * retries with exponential backoff honouring Retry-After, and Status decoding. Response
 * bodies are bounded (KUBE_BODY_MAX); nothing grows without a limit. */
#include "kube/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "kube/internal.h"
#include "kube/workqueue.h"

#define KUBE_BODY_MAX (1024u * 1024u * 1024u) /* bytes in one response (a big unpaged list) */
#define POOL_MAX 64
#define CONN_MAX 256 /* connections kept open to the API server */
#define PATH_MAX_LEN 4096

struct kube_client {
    struct kube_config *cfg;
    struct kube_client_opts o;
    char user_agent[128];
    char *connect_to;            /* for tls-server-name: "sni:port:host:port" */
    char *url_base;              /* server URL, with the SNI name as host when set */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL *pool[POOL_MAX];
    size_t npool;
    pthread_mutex_t rl_lock;     /* token bucket */
    double tokens;
    int64_t rl_last_ms;
    uint64_t conns_opened;       /* TCP (and TLS) connections made, summed over requests */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *arg)
{
    (void)h;
    (void)a;
    struct kube_client *c = arg;
    pthread_mutex_lock(&c->share_locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *arg)
{
    (void)h;
    struct kube_client *c = arg;
    pthread_mutex_unlock(&c->share_locks[d]);
}

/* Splits "https://host:port" into host and port (IPv6 brackets kept off the host). */
static int split_server(const char *server, char *host, size_t hl, char *port, size_t pl)
{
    const char *p = strstr(server, "://");
    int https = strncmp(server, "https", 5) == 0;
    p = p ? p + 3 : server;
    const char *end = p + strcspn(p, "/");
    const char *colon;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return -1;
        snprintf(host, hl, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        snprintf(host, hl, "%.*s", (int)((colon ? colon : end) - p), p);
    }
    if (colon)
        snprintf(port, pl, "%.*s", (int)(end - colon - 1), colon + 1);
    else
        snprintf(port, pl, "%s", https ? "443" : "80");
    return 0;
}

enum fs_err kube_client_new(struct kube_client **out, struct kube_config *cfg,
                            const struct kube_client_opts *opts)
{
    enum fs_err rc = FS_ENOMEM;
    struct kube_client *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (!c)
        return FS_ENOMEM;
    pthread_once(&curl_once, curl_init_once);
    c->cfg = cfg;
    if (opts)
        c->o = *opts;
    if (c->o.qps == 0)
        c->o.qps = 50;
    if (c->o.burst <= 0)
        c->o.burst = 100;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 30000;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 5000;
    if (c->o.max_retries == 0)
        c->o.max_retries = 5;
    if (c->o.max_retries < 0)
        c->o.max_retries = 0;
    if (c->o.backoff_base_ms <= 0)
        c->o.backoff_base_ms = 200;
    if (c->o.backoff_max_ms <= 0)
        c->o.backoff_max_ms = 10000;
    snprintf(c->user_agent, sizeof(c->user_agent), "%s",
             opts && opts->user_agent ? opts->user_agent : "foresight/0.1");
    c->o.user_agent = c->user_agent;
    c->tokens = c->o.burst;
    c->rl_last_ms = kube_mono_ms();
    pthread_mutex_init(&c->pool_lock, NULL);
    pthread_mutex_init(&c->rl_lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    if (!cfg || !cfg->server) {
        rc = FS_EINVAL;
        goto out;
    }
    if (cfg->tls_server_name) {
        char host[256], port[16];
        if (split_server(cfg->server, host, sizeof(host), port, sizeof(port)) != 0) {
            rc = FS_EINVAL;
            goto out;
        }
        int v6 = strchr(host, ':') != NULL;
        if (asprintf(&c->connect_to, "%s:%s:%s%s%s:%s", cfg->tls_server_name, port, v6 ? "[" : "",
                     host, v6 ? "]" : "", port) < 0 ||
            asprintf(&c->url_base, "https://%s:%s", cfg->tls_server_name, port) < 0)
            goto out;
    } else if (!(c->url_base = strdup(cfg->server))) {
        goto out;
    }
    c->share = curl_share_init();
    if (!c->share)
        goto out;
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    *out = c;
    c = NULL;
    rc = FS_OK;
out:
    kube_client_free(c);
    return rc;
}

void kube_client_free(struct kube_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    if (c->share)
        curl_share_cleanup(c->share);
    free(c->connect_to);
    free(c->url_base);
    pthread_mutex_destroy(&c->pool_lock);
    pthread_mutex_destroy(&c->rl_lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    free(c);
}

uint64_t kube_client_connections_opened(struct kube_client *c)
{
    return __atomic_load_n(&c->conns_opened, __ATOMIC_RELAXED);
}

struct kube_config *kube_client_config(struct kube_client *c)
{
    return c->cfg;
}

static CURL *pool_get(struct kube_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->npool > 0)
        h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->pool_lock);
    if (!h) {
        h = curl_easy_init();
    } else {
        curl_easy_reset(h);
    }
    return h;
}

static void pool_put(struct kube_client *c, CURL *h)
{
    pthread_mutex_lock(&c->pool_lock);
    if (c->npool < POOL_MAX) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

/* Waits for a token; the bucket refills at qps up to burst. */
static void rate_limit(struct kube_client *c)
{
    if (c->o.qps < 0)
        return;
    pthread_mutex_lock(&c->rl_lock);
    int64_t now = kube_mono_ms();
    c->tokens += (double)(now - c->rl_last_ms) * c->o.qps / 1000.0;
    if (c->tokens > c->o.burst)
        c->tokens = c->o.burst;
    c->rl_last_ms = now;
    c->tokens -= 1.0; /* reserve ours; a negative balance is the queue ahead of us */
    double deficit = -c->tokens;
    pthread_mutex_unlock(&c->rl_lock);
    if (deficit > 0)
        kube_sleep_ms((long)ceil(deficit * 1000.0 / c->o.qps), NULL);
}

enum fs_err kube_query_add(char *buf, size_t len, const char *key, const char *value)
{
    size_t n = strlen(buf);
    char sep = strchr(buf, '?') ? '&' : '?';
    int w = snprintf(buf + n, len - n, "%c%s=", sep, key);
    if (w < 0 || (size_t)w >= len - n)
        return FS_ERANGE;
    n += (size_t)w;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            if (n + 1 >= len)
                return FS_ERANGE;
            buf[n++] = (char)*p;
        } else {
            if (n + 3 >= len)
                return FS_ERANGE;
            snprintf(buf + n, 4, "%%%02X", *p);
            n += 3;
        }
    }
    buf[n] = '\0';
    return FS_OK;
}

static int path_part_ok(const char *s)
{
    if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; *s; s++) {
        if (*s == '/' || *s == '?' || *s == '#' || *s == '%' || (unsigned char)*s <= ' ')
            return 0;
    }
    return 1;
}

enum fs_err kube_ref_path(const struct kube_ref *ref, char *buf, size_t len)
{
    int n;
    if (!path_part_ok(ref->version) || !path_part_ok(ref->resource) ||
        (ref->group && *ref->group && !path_part_ok(ref->group)) ||
        (ref->namespace && *ref->namespace && !path_part_ok(ref->namespace)) ||
        (ref->name && !path_part_ok(ref->name)) ||
        (ref->subresource && !path_part_ok(ref->subresource)) || (ref->subresource && !ref->name))
        return FS_EINVAL;
    if (ref->group && *ref->group)
        n = snprintf(buf, len, "/apis/%s/%s", ref->group, ref->version);
    else
        n = snprintf(buf, len, "/api/%s", ref->version);
    size_t used = n < 0 ? len : (size_t)n;
    if (used < len && ref->namespace && *ref->namespace)
        used += (size_t)snprintf(buf + used, len - used, "/namespaces/%s", ref->namespace);
    if (used < len)
        used += (size_t)snprintf(buf + used, len - used, "/%s", ref->resource);
    if (used < len && ref->name)
        used += (size_t)snprintf(buf + used, len - used, "/%s", ref->name);
    if (used < len && ref->subresource)
        used += (size_t)snprintf(buf + used, len - used, "/%s", ref->subresource);
    return used < len ? FS_OK : FS_ERANGE;
}

struct body {
    struct fs_buf buf;       /* the body of a non-streamed or non-2xx answer */
    int too_big;
    long retry_after_s;
    kube_stream_fn stream;   /* when set and the status is 2xx, data goes here instead */
    void *stream_arg;
    int stream_stopped;
    CURL *h;
    volatile int *stop;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    if (b->stream) {
        long code = 0;
        curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
            if (b->stream(b->stream_arg, data, n) != 0) {
                b->stream_stopped = 1;
                return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
            }
            return n;
        }
    }
    enum fs_err rc = fs_buf_append(&b->buf, data, n);
    if (rc != FS_OK) {
        b->too_big = rc == FS_ERANGE;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
        char tmp[32];
        size_t l = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
        memcpy(tmp, data + 12, l);
        tmp[l] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v > 0 && v < 3600)
            b->retry_after_s = v;
    }
    return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    struct body *b = arg;
    return b->stop && __atomic_load_n(b->stop, __ATOMIC_ACQUIRE) ? 1 : 0;
}

static void status_clear(struct kube_status *st)
{
    if (st)
        memset(st, 0, sizeof(*st));
}

static const char *reason_for(long code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "Unknown";
    }
}

/* Fills st from an error response: a Status object when there is one, else the start of
 * the body (non-printable bytes replaced). */
static void status_from_body(struct kube_status *st, long http_code, const char *body, size_t len,
                             long retry_after_s)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    st->http_code = http_code;
    st->code = http_code;
    st->retry_after_s = retry_after_s;
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *kind = json_string_value(json_object_get(j, "kind"));
    if (j && kind && strcmp(kind, "Status") == 0) {
        json_int_t code = json_integer_value(json_object_get(j, "code"));
        if (code > 0)
            st->code = (long)code;
        snprintf(st->reason, sizeof(st->reason), "%s",
                 json_string_value(json_object_get(j, "reason")) ?: reason_for(http_code));
        snprintf(st->message, sizeof(st->message), "%s",
                 json_string_value(json_object_get(j, "message")) ?: "");
        json_int_t ra = json_integer_value(
            json_object_get(json_object_get(j, "details"), "retryAfterSeconds"));
        if (ra > 0 && !st->retry_after_s)
            st->retry_after_s = (long)ra;
    } else {
        snprintf(st->reason, sizeof(st->reason), "%s", reason_for(http_code));
        size_t n = len < sizeof(st->message) - 1 ? len : sizeof(st->message) - 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)body[i];
            st->message[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
        }
        st->message[n] = '\0';
        if (!n)
            snprintf(st->message, sizeof(st->message), "HTTP %ld with an empty body", http_code);
    }
    json_decref(j);
}

static enum fs_err err_for_code(long code)
{
    switch (code) {
    case 404: return FS_ENOTFOUND;
    case 409: return FS_ECONFLICT;
    case 410: return FS_EGONE;
    case 504: return FS_ETIMEOUT;
    default: return FS_EHTTP;
    }
}

const char *kube_status_str(const struct kube_status *st, char *buf, size_t len)
{
    if (!st)
        snprintf(buf, len, "(no status)");
    else if (st->http_code == 0)
        snprintf(buf, len, "no answer: %s", st->message);
    else
        snprintf(buf, len, "%ld %s: %s", st->code, st->reason, st->message);
    return buf;
}

static int retryable_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* One HTTP exchange. b collects the body; *http_code 0 on a transport error (*cc says). */
static CURLcode perform(struct kube_client *c, CURL *h, const char *method, const char *path,
                        const char *ctype, const char *body, size_t body_len,
                        const struct kube_credentials *cr, long timeout_ms, struct body *b,
                        long *http_code, char *errbuf)
{
    char url[PATH_MAX_LEN + 512];
    struct curl_slist *hdrs = NULL, *ct = NULL;
    char auth[8192];
    snprintf(url, sizeof(url), "%s%s", c->url_base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    if (timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* The shared connection cache counts open watches and requests in flight; at libcurl's
     * default of 5, every request returned beyond that closes a connection, so concurrent
     * callers (the extender's bind threads) paid a TLS handshake per request. */
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, (long)CONN_MAX);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
    /* no Accept-Encoding: on a busy local apiserver gzip costs far more than it saves */
    if (b->stop) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, b);
    }
    if (c->connect_to) {
        ct = curl_slist_append(NULL, c->connect_to);
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
    }
    struct kube_config *cfg = c->cfg;
    if (cfg->insecure_skip_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (cfg->ca_pem) {
        struct curl_blob blob = {.data = cfg->ca_pem, .len = cfg->ca_pem_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (cr->cert_pem && cr->key_pem) {
        struct curl_blob cb = {.data = cr->cert_pem, .len = cr->cert_pem_len, .flags = CURL_BLOB_COPY};
        struct curl_blob kb = {.data = cr->key_pem, .len = cr->key_pem_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (cr->token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cr->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (ctype) {
        char cth[128];
        snprintf(cth, sizeof(cth), "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, cth);
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
    }
    CURLcode cc = curl_easy_perform(h);
    *http_code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http_code);
    long opened = 0;
    if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0)
        __atomic_add_fetch(&c->conns_opened, (uint64_t)opened, __ATOMIC_RELAXED);
    /* the handle goes back to the pool: it must not keep pointers into this frame */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(ct);
    return cc;
}

/* The request loop shared by kube_request and kube_client_stream. */
static enum fs_err do_request(struct kube_client *c, const char *method, const char *path,
                              const char *ctype, const char *body, size_t body_len,
                              json_t **out, struct kube_status *st, long timeout_ms,
                              volatile int *stop, kube_stream_fn fn, void *arg, int retry_429)
{
    enum fs_err rc = FS_EIO;
    int idempotent = !strcmp(method, "GET") || !strcmp(method, "PUT") || !strcmp(method, "DELETE");
    int refreshed = 0;
    if (out)
        *out = NULL;
    status_clear(st);
    for (int attempt = 0;; attempt++) {
        struct kube_credentials cr;
        struct body b = {.stream = fn, .stream_arg = arg, .stop = stop};
        /* the '\0' counts in KUBE_BODY_MAX, as it did before the shared buffer */
        fs_buf_init(&b.buf, KUBE_BODY_MAX - 1, 16384);
        char errbuf[CURL_ERROR_SIZE] = "";
        long code = 0;
        long delay_ms = 0;
        int retry = 0;
        rate_limit(c);
        rc = kube_config_credentials(c->cfg, refreshed == 1, &cr);
        if (rc != FS_OK) {
            if (st) {
                memset(st, 0, sizeof(*st));
                snprintf(st->message, sizeof(st->message), "no credentials: %s", c->cfg->errbuf);
            }
            return rc;
        }
        if (refreshed == 1)
            refreshed = 2;
        CURL *h = pool_get(c);
        if (!h) {
            kube_credentials_release(&cr);
            return FS_ENOMEM;
        }
        b.h = h;
        CURLcode cc = perform(c, h, method, path, ctype, body, body_len, &cr, timeout_ms, &b,
                              &code, errbuf);
        kube_credentials_release(&cr);
        curl_off_t sent = 0;
        int unsent = body_len > 0 && curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &sent) == CURLE_OK &&
                     sent < (curl_off_t)body_len;
        pool_put(c, h);
        if (b.stream_stopped) {
            rc = FS_OK;
        } else if (cc != CURLE_OK && !(code >= 400 && cc == CURLE_WRITE_ERROR)) {
            int stopped = stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE);
            if (st) {
                memset(st, 0, sizeof(*st));
                snprintf(st->message, sizeof(st->message), "%s %s: %s", method, path,
                         b.too_big ? "response too large"
                                   : (errbuf[0] ? errbuf : curl_easy_strerror(cc)));
            }
            rc = cc == CURLE_OPERATION_TIMEDOUT ? FS_ETIMEOUT
                 : b.too_big                     ? FS_ERANGE
                 : cc == CURLE_OUT_OF_MEMORY     ? FS_ENOMEM
                                                 : FS_EIO;
            if (stopped && cc == CURLE_ABORTED_BY_CALLBACK)
                rc = FS_OK; /* asked to stop */
            /* a refused connection never reached the server, and a request whose body was
             * not all sent (a kept-alive connection the server had closed: "Broken pipe",
             * or a reset) was not acted on, since a server acts on whole requests: even a
             * POST may retry; a streamed request that already delivered data must not be
             * replayed */
            retry = !stopped && !fn && retryable_curl(cc) && (idempotent || cc == CURLE_COULDNT_CONNECT || unsent);
            delay_ms = kube_backoff_delay_ms(c->o.backoff_base_ms, c->o.backoff_max_ms,
                                             (unsigned)attempt);
        } else if (code >= 200 && code < 300) {
            rc = FS_OK;
            if (out && !fn && b.buf.len > 0) {
                json_error_t jerr;
                *out = json_loadb(b.buf.data, b.buf.len, 0, &jerr);
                if (!*out) {
                    rc = FS_EPARSE;
                    if (st) {
                        st->http_code = code;
                        st->code = code;
                        snprintf(st->message, sizeof(st->message),
                                 "response is not JSON: %s at byte %d", jerr.text, jerr.position);
                    }
                }
            }
        } else {
            status_from_body(st, code, b.buf.data, b.buf.len, b.retry_after_s);
            rc = err_for_code(code);
            if (code == 401 && !refreshed && (c->cfg->exec.command || c->cfg->token_file)) {
                refreshed = 1; /* a rotated token or an expired exec credential */
                fs_buf_release(&b.buf);
                attempt--;
                continue;
            }
            int is_5xx = code >= 500 && code != 501;
            retry = (code == 429 && retry_429) || (is_5xx && idempotent);
            long ra = b.retry_after_s;
            if (!ra && st)
                ra = st->retry_after_s;
            delay_ms = kube_backoff_delay_ms(c->o.backoff_base_ms, c->o.backoff_max_ms,
                                             (unsigned)attempt);
            if (ra * 1000 > delay_ms)
                delay_ms = ra * 1000;
        }
        fs_buf_release(&b.buf);
        if (!retry || attempt >= c->o.max_retries)
            return rc;
        delay_ms = kube_jitter_ms(delay_ms, 0.2);
        log_debug("retrying %s %s in %ld ms (attempt %d): %s", method, path, delay_ms,
                  attempt + 1, fs_strerror(rc));
        if (kube_sleep_ms(delay_ms, stop))
            return rc;
        if (out && *out) {
            json_decref(*out);
            *out = NULL;
        }
    }
}

enum fs_err kube_request(struct kube_client *c, const char *method, const char *path,
                         const char *content_type, const char *body, size_t body_len,
                         json_t **out, struct kube_status *st)
{
    return do_request(c, method, path, content_type, body, body_len, out, st, c->o.timeout_ms,
                      NULL, NULL, NULL, 1);
}

enum fs_err kube_client_stream(struct kube_client *c, const char *path, long total_timeout_s,
                               volatile int *stop, kube_stream_fn fn, void *arg,
                               struct kube_status *st)
{
    return do_request(c, "GET", path, NULL, NULL, 0, NULL, st, total_timeout_s * 1000, stop, fn,
                      arg, 1);
}

/* ---- verbs ---- */

static enum fs_err write_query(char *path, size_t len, const struct kube_write_opts *wo)
{
    enum fs_err rc = FS_OK;
    if (!wo)
        return FS_OK;
    if (wo->field_manager)
        rc = kube_query_add(path, len, "fieldManager", wo->field_manager);
    if (rc == FS_OK && wo->force)
        rc = kube_query_add(path, len, "force", "true");
    if (rc == FS_OK && wo->dry_run)
        rc = kube_query_add(path, len, "dryRun", "All");
    return rc;
}

static enum fs_err send_json(struct kube_client *c, const char *method, const char *path,
                             const char *ctype, const json_t *obj, json_t **out,
                             struct kube_status *st)
{
    char *body = json_dumps(obj, JSON_COMPACT);
    if (!body)
        return FS_ENOMEM;
    enum fs_err rc = kube_request(c, method, path, ctype, body, strlen(body), out, st);
    free(body);
    return rc;
}

static enum fs_err bad_ref(struct kube_status *st, enum fs_err rc)
{
    if (st) {
        memset(st, 0, sizeof(*st));
        snprintf(st->message, sizeof(st->message), "invalid resource reference: %s",
                 fs_strerror(rc));
    }
    return rc;
}

enum fs_err kube_get(struct kube_client *c, const struct kube_ref *ref, json_t **out,
                     struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    enum fs_err rc = kube_ref_path(ref, path, sizeof(path));
    if (rc != FS_OK)
        return bad_ref(st, rc);
    return kube_request(c, "GET", path, NULL, NULL, 0, out, st);
}

static enum fs_err list_path(const struct kube_ref *ref, const struct kube_list_opts *o,
                             const char *cont, long limit, char *path, size_t len)
{
    enum fs_err rc = kube_ref_path(ref, path, len);
    char num[32];
    if (rc != FS_OK)
        return rc;
    if (o && o->label_selector && *o->label_selector)
        rc = kube_query_add(path, len, "labelSelector", o->label_selector);
    if (rc == FS_OK && o && o->field_selector && *o->field_selector)
        rc = kube_query_add(path, len, "fieldSelector", o->field_selector);
    if (rc == FS_OK && limit > 0) {
        snprintf(num, sizeof(num), "%ld", limit);
        rc = kube_query_add(path, len, "limit", num);
    }
    if (rc == FS_OK && cont && *cont)
        rc = kube_query_add(path, len, "continue", cont);
    else if (rc == FS_OK && o && o->resource_version && *o->resource_version) {
        rc = kube_query_add(path, len, "resourceVersion", o->resource_version);
        if (rc == FS_OK && o->resource_version_match)
            rc = kube_query_add(path, len, "resourceVersionMatch", o->resource_version_match);
    }
    return rc;
}

enum fs_err kube_list(struct kube_client *c, const struct kube_ref *ref,
                      const struct kube_list_opts *opts, json_t **out, struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    enum fs_err rc = list_path(ref, opts, opts ? opts->continue_token : NULL,
                               opts ? opts->limit : 0, path, sizeof(path));
    if (rc != FS_OK)
        return bad_ref(st, rc);
    return kube_request(c, "GET", path, NULL, NULL, 0, out, st);
}

enum fs_err kube_list_all(struct kube_client *c, const struct kube_ref *ref,
                          const struct kube_list_opts *opts, json_t **out, struct kube_status *st)
{
    long limit = opts && opts->limit > 0 ? opts->limit : 500;
    enum fs_err rc = FS_EIO;
    *out = NULL;
    for (int restart = 0; restart < 4; restart++) {
        json_t *all = NULL, *page = NULL;
        char *cont = NULL;
        char path[PATH_MAX_LEN];
        for (;;) {
            rc = list_path(ref, opts, cont, limit, path, sizeof(path));
            if (rc != FS_OK) {
                free(cont);
                json_decref(all);
                return bad_ref(st, rc);
            }
            rc = kube_request(c, "GET", path, NULL, NULL, 0, &page, st);
            free(cont);
            cont = NULL;
            if (rc != FS_OK)
                break;
            json_t *items = json_object_get(page, "items");
            if (!json_is_array(items) && !json_is_null(items) && items) {
                rc = FS_EPARSE;
                break;
            }
            if (!all) {
                all = page;
                page = NULL;
                if (!json_is_array(json_object_get(all, "items"))) {
                    json_t *arr = json_array();
                    if (!arr || json_object_set_new(all, "items", arr) != 0) {
                        rc = FS_ENOMEM;
                        break;
                    }
                }
            } else {
                if (json_array_extend(json_object_get(all, "items"), items) != 0) {
                    rc = FS_ENOMEM;
                    break;
                }
                /* the last page's metadata (resourceVersion) is the one to watch from */
                json_t *meta = json_object_get(page, "metadata");
                if (meta && json_object_set(all, "metadata", meta) != 0) {
                    rc = FS_ENOMEM;
                    break;
                }
                json_decref(page);
                page = NULL;
            }
            const char *next = kube_json_str(all, "metadata.continue");
            if (!next || !*next)
                break;
            cont = strdup(next);
            if (!cont) {
                rc = FS_ENOMEM;
                break;
            }
        }
        json_decref(page);
        if (rc == FS_OK) {
            json_t *meta = json_object_get(all, "metadata");
            if (meta)
                json_object_del(meta, "continue");
            *out = all;
            return FS_OK;
        }
        json_decref(all);
        if (rc != FS_EGONE)
            return rc;
        log_info("list continue token expired, listing again from the start");
    }
    return rc;
}

enum fs_err kube_create(struct kube_client *c, const struct kube_ref *ref, const json_t *obj,
                        const struct kube_write_opts *wo, json_t **out, struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    enum fs_err rc = kube_ref_path(ref, path, sizeof(path));
    if (rc == FS_OK)
        rc = write_query(path, sizeof(path), wo);
    if (rc != FS_OK)
        return bad_ref(st, rc);
    return send_json(c, "POST", path, "application/json", obj, out, st);
}

enum fs_err kube_update(struct kube_client *c, const struct kube_ref *ref, const json_t *obj,
                        const struct kube_write_opts *wo, json_t **out, struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    enum fs_err rc = ref->name ? kube_ref_path(ref, path, sizeof(path)) : FS_EINVAL;
    if (rc == FS_OK)
        rc = write_query(path, sizeof(path), wo);
    if (rc != FS_OK)
        return bad_ref(st, rc);
    return send_json(c, "PUT", path, "application/json", obj, out, st);
}

enum fs_err kube_patch(struct kube_client *c, const struct kube_ref *ref,
                       enum kube_patch_type type, const json_t *patch,
                       const struct kube_write_opts *wo, json_t **out, struct kube_status *st)
{
    static const char *const ctypes[] = {
        "application/merge-patch+json", "application/strategic-merge-patch+json",
        "application/json-patch+json", "application/apply-patch+yaml"};
    char path[PATH_MAX_LEN];
    if ((unsigned)type > KUBE_PATCH_APPLY)
        return bad_ref(st, FS_EINVAL);
    if (type == KUBE_PATCH_APPLY && (!wo || !wo->field_manager))
        return bad_ref(st, FS_EINVAL); /* server-side apply requires a field manager */
    if (type == KUBE_PATCH_JSON && !json_is_array(patch))
        return bad_ref(st, FS_EINVAL);
    enum fs_err rc = ref->name ? kube_ref_path(ref, path, sizeof(path)) : FS_EINVAL;
    if (rc == FS_OK)
        rc = write_query(path, sizeof(path), wo);
    if (rc != FS_OK)
        return bad_ref(st, rc);
    return send_json(c, "PATCH", path, ctypes[type], patch, out, st);
}

static json_t *delete_options(const struct kube_delete_opts *d)
{
    json_t *o = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    if (!o || !d)
        return o;
    int bad = 0;
    if (d->propagation)
        bad |= json_object_set_new(o, "propagationPolicy", json_string(d->propagation));
    if (d->grace_period_s >= 0)
        bad |= json_object_set_new(o, "gracePeriodSeconds", json_integer(d->grace_period_s));
    if (d->precondition_uid || d->precondition_rv) {
        json_t *pre = json_object();
        if (pre && d->precondition_uid)
            bad |= json_object_set_new(pre, "uid", json_string(d->precondition_uid));
        if (pre && d->precondition_rv)
            bad |= json_object_set_new(pre, "resourceVersion", json_string(d->precondition_rv));
        bad |= !pre || json_object_set_new(o, "preconditions", pre);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum fs_err kube_delete(struct kube_client *c, const struct kube_ref *ref,
                        const struct kube_delete_opts *dopts, json_t **out,
                        struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    enum fs_err rc = kube_ref_path(ref, path, sizeof(path));
    if (rc != FS_OK)
        return bad_ref(st, rc);
    json_t *o = delete_options(dopts);
    if (!o)
        return FS_ENOMEM;
    rc = send_json(c, "DELETE", path, "application/json", o, out, st);
    json_decref(o);
    return rc;
}

enum fs_err kube_bind_pod(struct kube_client *c, const char *ns, const char *pod,
                          const char *pod_uid, const char *node, struct kube_status *st)
{
    struct kube_ref ref = {.version = "v1", .resource = "pods", .namespace = ns, .name = pod,
                           .subresource = "binding"};
    json_t *b = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}}", "apiVersion", "v1",
                          "kind", "Binding", "metadata", "name", pod, "namespace", ns, "target",
                          "apiVersion", "v1", "kind", "Node", "name", node);
    if (!b)
        return FS_ENOMEM;
    if (pod_uid && json_object_set_new(json_object_get(b, "metadata"), "uid", json_string(pod_uid))) {
        json_decref(b);
        return FS_ENOMEM;
    }
    enum fs_err rc = kube_create(c, &ref, b, NULL, NULL, st);
    json_decref(b);
    return rc;
}

enum fs_err kube_evict_pod(struct kube_client *c, const char *ns, const char *pod,
                           const struct kube_delete_opts *dopts, struct kube_status *st)
{
    struct kube_ref ref = {.version = "v1", .resource = "pods", .namespace = ns, .name = pod,
                           .subresource = "eviction"};
    json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "policy/v1", "kind",
                           "Eviction", "metadata", "name", pod, "namespace", ns);
    json_t *d = dopts ? delete_options(dopts) : NULL;
    enum fs_err rc = FS_ENOMEM;
    if (!ev || (dopts && !d))
        goto out;
    if (d && json_object_set(ev, "deleteOptions", d) != 0)
        goto out;
    /* 429 here is a PodDisruptionBudget saying "not now": the caller decides, so no retry */
    char path[PATH_MAX_LEN];
    rc = kube_ref_path(&ref, path, sizeof(path));
    if (rc != FS_OK)
        goto out;
    char *body = json_dumps(ev, JSON_COMPACT);
    if (!body) {
        rc = FS_ENOMEM;
        goto out;
    }
    rc = do_request(c, "POST", path, "application/json", body, strlen(body), NULL, st,
                    c->o.timeout_ms, NULL, NULL, NULL, 0);
    free(body);
out:
    json_decref(ev);
    json_decref(d);
    return rc;
}

enum fs_err kube_set_scale(struct kube_client *c, const struct kube_ref *ref, long replicas,
                           struct kube_status *st)
{
    struct kube_ref r = *ref;
    r.subresource = "scale";
    json_t *patch = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)replicas);
    if (!patch)
        return FS_ENOMEM;
    enum fs_err rc = kube_patch(c, &r, KUBE_PATCH_MERGE, patch, NULL, NULL, st);
    json_decref(patch);
    return rc;
}
