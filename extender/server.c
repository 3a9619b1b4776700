/* HTTP(S) server on libwebsockets (see server.h). A request is a job: its body is gathered
 * (bounded by max_body), then answered inline or by a worker; the reply is written in chunks
 * from the writeable callback. A job whose connection closes while a worker holds it is
 * marked orphaned and freed by the worker's hand-back, never touched through a dead wsi. */
#include "server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/log.h"

/* Reply bytes per lws_write: a 5,000-node prioritize reply (~170 KB) goes out in one write
 * instead of one poll round per 32 KB; lws buffers what the socket does not take at once. */
#define CHUNK (1u << 20)

/* lws_write needs LWS_PRE bytes of room before what it sends; only the service thread
 * writes, so one buffer serves every connection */
static unsigned char out_buf[LWS_PRE + CHUNK];

struct job {
    struct lws *wsi;
    char method[8];
    char path[256];
    struct fs_buf body; /* bounded by the server's max_body */
    int too_large;
    struct ext_reply reply;
    size_t sent;
    int headers_sent;
    int in_worker;  /* a worker owns it until it is on the done list */
    int orphaned;   /* the connection closed meanwhile */
    struct job *next;
};

struct pss {
    struct job *job;
};

struct server {
    struct server_opts o;
    struct server_app app;
    struct lws_context *ctx;
    volatile int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *queue, *queue_tail; /* for workers */
    struct job *done;               /* back from workers */
    pthread_t *threads;
    int n_threads;
};

static void job_free(struct job *j)
{
    if (!j)
        return;
    fs_buf_release(&j->body);
    ext_reply_release(&j->reply);
    free(j);
}

static void *worker(void *arg)
{
    struct server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->queue && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->stop) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        struct job *j = s->queue;
        s->queue = j->next;
        if (!s->queue)
            s->queue_tail = NULL;
        pthread_mutex_unlock(&s->mu);

        s->app.handle(s->app.arg, j->method, j->path, j->body.data ? j->body.data : "", j->body.len, &j->reply);

        pthread_mutex_lock(&s->mu);
        j->next = s->done;
        s->done = j;
        pthread_mutex_unlock(&s->mu);
        lws_cancel_service(s->ctx);
    }
}

static int write_headers(struct lws *wsi, struct job *j)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    if (lws_add_http_common_headers(wsi, (unsigned int)j->reply.status, "application/json", j->reply.len, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    j->headers_sent = 1;
    return 0;
}

/* The next chunk of the reply; after the last one the job is freed and the connection is
 * ready for the next request. Returns the callback's result: nonzero closes the connection. */
static int write_chunk(struct lws *wsi, struct pss *pss, struct job *j)
{
    size_t n = j->reply.len - j->sent;
    if (n > CHUNK)
        n = CHUNK;
    int last = j->sent + n >= j->reply.len;
    if (n)
        memcpy(out_buf + LWS_PRE, j->reply.body + j->sent, n);
    if (lws_write(wsi, out_buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    j->sent += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    pss->job = NULL;
    job_free(j);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A worker's answer, handed back outside the connection's callback: headers now, the body
 * when the connection is writeable. */
static int start_reply(struct lws *wsi, struct job *j)
{
    if (write_headers(wsi, j))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* An answer made on the connection's own callback: headers and the first chunk in the same
 * service round, one poll round less per request than waiting to be writeable (lws keeps
 * what the socket does not take and sends it before anything else). */
static int reply_now(struct lws *wsi, struct pss *pss, struct job *j)
{
    if (write_headers(wsi, j))
        return -1;
    return write_chunk(wsi, pss, j);
}

/* Returns the callback's result (nonzero closes the connection). */
static int answer(struct server *s, struct lws *wsi, struct pss *pss, struct job *j)
{
    if (j->too_large) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes", s->o.max_body);
        ext_error_reply(400, msg, &j->reply);
    } else if (s->app.slow && s->app.slow(s->app.arg, j->method, j->path)) {
        j->in_worker = 1;
        pthread_mutex_lock(&s->mu);
        j->next = NULL;
        if (s->queue_tail)
            s->queue_tail->next = j;
        else
            s->queue = j;
        s->queue_tail = j;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return 0;
    } else {
        s->app.handle(s->app.arg, j->method, j->path, j->body.data ? j->body.data : "", j->body.len, &j->reply);
    }
    if (!j->reply.body)
        ext_error_reply(500, "no reply", &j->reply);
    if (!s->app.after)
        return reply_now(wsi, pss, j);
    /* the request outlives its job (freed once the reply is out) for the app's after */
    struct fs_buf body = j->body;
    char method[sizeof(j->method)], path[sizeof(j->path)];
    int status = j->reply.status, whole = j->reply.len <= CHUNK; /* written in one go */
    memcpy(method, j->method, sizeof(method));
    memcpy(path, j->path, sizeof(path));
    memset(&j->body, 0, sizeof(j->body));
    int rc = reply_now(wsi, pss, j);
    /* not while lws still holds part of the reply: the client would wait for it */
    if (rc == 0 && whole && !lws_partial_buffered(wsi))
        s->app.after(s->app.arg, method, path, body.data ? body.data : "", body.len, status);
    fs_buf_release(&body);
    return rc;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION) {
        /* lws accepts the peer whenever this callback returns 0, whatever OpenSSL decided
         * (len is OpenSSL's preverify_ok): pass OpenSSL's verdict on, or any certificate
         * would do. user is the X509_STORE_CTX here, not our per-session data. */
        if (!len) {
            char subject[256] = "?";
            X509 *cert = X509_STORE_CTX_get_current_cert((X509_STORE_CTX *)user);
            if (cert)
                X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
            log_warn("client certificate refused: %s (%s)", subject,
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error((X509_STORE_CTX *)user)));
        }
        return len ? 0 : 1;
    }
    struct lws_context *ctx = lws_get_context(wsi);
    struct server *s = ctx ? lws_context_user(ctx) : NULL;
    /* user is our per-session data only for the HTTP reasons below */
    struct pss *pss = reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_BODY ||
                              reason == LWS_CALLBACK_HTTP_BODY_COMPLETION || reason == LWS_CALLBACK_HTTP_WRITEABLE ||
                              reason == LWS_CALLBACK_CLOSED_HTTP
                          ? user
                          : NULL;
    struct job *j = pss ? pss->job : NULL;

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!s)
            return -1;
        job_free(j);
        j = pss->job = calloc(1, sizeof(*j));
        if (!j)
            return -1;
        j->wsi = wsi;
        /* 64 KiB first: a 5,000-node request (~65 KB) grows once */
        fs_buf_init(&j->body, s->o.max_body, 64u << 10);
        snprintf(j->path, sizeof(j->path), "%s", (const char *)in);
        int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
        snprintf(j->method, sizeof(j->method), "%s", post ? "POST" : "GET");
        if (post)
            return 0; /* wait for the body */
        return answer(s, wsi, pss, j);
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!j || !s)
            return -1;
        if (j->too_large)
            return 0;
        switch (fs_buf_append(&j->body, in, len)) {
        case FS_OK:
            return 0;
        case FS_ERANGE: /* answered with a 400 once the body is complete */
            j->too_large = 1;
            fs_buf_release(&j->body);
            return 0;
        default:
            return -1;
        }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!j || !s)
            return -1;
        return answer(s, wsi, pss, j);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!j || !j->headers_sent)
            return 0;
        return write_chunk(wsi, pss, j);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (j && s) {
            pthread_mutex_lock(&s->mu);
            if (j->in_worker)
                j->orphaned = 1; /* the hand-back frees it */
            else
                job_free(j);
            pthread_mutex_unlock(&s->mu);
            pss->job = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        if (!s)
            return 0;
        pthread_mutex_lock(&s->mu);
        struct job *done = s->done;
        s->done = NULL;
        pthread_mutex_unlock(&s->mu);
        while (done) {
            struct job *next = done->next;
            done->in_worker = 0;
            if (done->orphaned) {
                job_free(done);
            } else {
                if (!done->reply.body)
                    ext_error_reply(500, "no reply", &done->reply);
                if (start_reply(done->wsi, done))
                    lws_set_timeout(done->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
            }
            done = next;
        }
        return 0;
    }
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_to_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_err("lws: %.*s", (int)n, line);
    else
        log_debug("lws: %.*s", (int)n, line);
}

enum fs_err server_new(struct server **out, const struct server_opts *o, const struct server_app *app)
{
    *out = NULL;
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return FS_ENOMEM;
    s->o = *o;
    s->app = *app;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_to_log);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = o->port;
    info.iface = o->address;
    info.protocols = protocols;
    info.user = s;
    info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    /* the service buffer bounds each read of a request body: 4 KB (the default) reads a
     * 65 KB list of 5,000 node names in 16 callbacks */
    info.pt_serv_buf_size = 256 * 1024;
    if (o->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = o->tls_cert;
        info.ssl_private_key_filepath = o->tls_key;
        if (o->client_ca) {
            info.ssl_ca_filepath = o->client_ca;
            info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        }
    }
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        log_err("cannot listen on %s:%d (port in use or bad tls files?)", o->address ? o->address : "*", o->port);
        server_free(s);
        return FS_EIO;
    }
    s->n_threads = o->workers > 0 ? o->workers : 4;
    s->threads = calloc((size_t)s->n_threads, sizeof(*s->threads));
    if (!s->threads) {
        server_free(s);
        return FS_ENOMEM;
    }
    for (int i = 0; i < s->n_threads; i++)
        if (pthread_create(&s->threads[i], NULL, worker, s) != 0) {
            s->n_threads = i;
            server_free(s);
            return FS_ENOMEM;
        }
    *out = s;
    return FS_OK;
}

enum fs_err server_run(struct server *s)
{
    while (!s->stop)
        if (lws_service(s->ctx, 0) < 0)
            return FS_EIO;
    return FS_OK;
}

void server_stop(struct server *s)
{
    s->stop = 1;
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

void server_free(struct server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    free(s->threads);
    if (s->ctx)
        lws_context_destroy(s->ctx);
    while (s->queue) {
        struct job *n = s->queue->next;
        job_free(s->queue);
        s->queue = n;
    }
    while (s->done) {
        struct job *n = s->done->next;
        job_free(s->done);
        s->done = n;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
