/* The fake HTTP server of fake_http.h. Only the service thread calls lws (other threads
 * change state under mu and wake it with lws_cancel_service). An exchange is one request
 * and its answer; it lives from the request line until the answer is done or the
 * connection closes, on the `live` list so that test threads can find open streams. */
#include "fake_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libwebsockets.h>

#include "common/buf.h"

#define PIECE_GAP_MS 1          /* between pieces, so that the client reads them apart */
#define PEER_CHECK_MS 50        /* how often an idle stream looks whether its client left */
#define WRITE_MAX (256u << 10) /* body bytes per lws_write; lws keeps what the socket refuses */

struct exchange {
    struct fake_http *s;
    struct lws *wsi;
    struct fake_http_req *req; /* borrowed from the log once logged, owned before */
    struct fs_buf body_in;     /* the request body while it arrives */
    int too_large;
    int answering, stream; /* headers sent, and for a stream (set under s->mu) */
    int body_done;   /* the whole body was written */
    int close, pieces;
    int held;        /* the handler said hold (service thread only) */
    int64_t next_piece_ms, end_at_ms;
    char *out;       /* owned: LWS_PRE bytes of headroom, then the body */
    const char *body_static; /* or the body, borrowed */
    size_t out_len, out_off;
    /* under s->mu: what test threads hand to a stream */
    struct fs_buf pending;
    int end_requested;
    int kick;        /* wake the wsi for writing */
    struct exchange *next; /* on s->live */
};

struct pss {
    struct exchange *ex;
};

struct fake_http {
    fake_http_handler_fn fn;
    void *arg;
    struct lws_context *ctx;
    pthread_t thread;
    int port;
    int stop; /* atomic */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fake_http_req **log; /* under mu; entries immutable once added */
    int nlog, caplog;
    struct exchange *live;      /* changed by the service thread under mu */
    int conns;                  /* connections seen (service thread) */
    int streams_started;        /* under mu */
    int rerun;                  /* under mu: ask the handler again about held requests */
    unsigned char *wbuf;        /* LWS_PRE + WRITE_MAX bytes for borrowed bodies (service thread) */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void exchange_free(struct exchange *ex)
{
    if (!ex)
        return;
    struct fake_http *s = ex->s;
    pthread_mutex_lock(&s->mu);
    for (struct exchange **pp = &s->live; *pp; pp = &(*pp)->next)
        if (*pp == ex) {
            *pp = ex->next;
            break;
        }
    pthread_cond_broadcast(&s->cv); /* a stream may have closed */
    pthread_mutex_unlock(&s->mu);
    if (ex->req && ex->req->seq < 0) { /* never logged: still ours */
        free(ex->req->body);
        free(ex->req);
    }
    fs_buf_release(&ex->body_in);
    fs_buf_release(&ex->pending);
    free(ex->out);
    free(ex);
}

static void copy_header(struct lws *wsi, enum lws_token_indexes h, char *dst, size_t len)
{
    dst[0] = '\0';
    if (lws_hdr_total_length(wsi, h) > 0 && lws_hdr_copy(wsi, dst, (int)len, h) < 0)
        dst[0] = '\0';
}

/* lws 4.1 reads nothing from a connection while an answer is in progress, yet keeps
 * POLLIN on: a client that leaves an open stream or a held request has lws poll its close
 * over and over, a core at 100% until the answer ends (turning reading off with
 * lws_rx_flow_control spins on POLLOUT instead). So such answers look for the close every
 * PEER_CHECK_MS themselves: the one thing done on the raw socket, a peek at one byte,
 * never read or parsed. */
static int peer_closed(struct lws *wsi)
{
    char c;
    ssize_t n = recv(lws_get_socket_fd(wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Wakes the wsi when the next piece is due, a stream must end by itself or should look
 * whether its client left. */
static void arm_timer(struct exchange *ex)
{
    int64_t due = 0;
    if (ex->pieces && !ex->body_done) {
        due = ex->next_piece_ms;
    } else if (ex->stream) {
        due = now_ms() + PEER_CHECK_MS;
        if (ex->end_at_ms && ex->end_at_ms < due)
            due = ex->end_at_ms;
    }
    if (due) {
        int64_t wait = due - now_ms();
        lws_set_timer_usecs(ex->wsi, (lws_usec_t)(wait > 0 ? wait : 0) * 1000);
    }
}

static int start_answer(struct exchange *ex, const struct fake_http_reply *r)
{
    struct lws *wsi = ex->wsi;
    const char *body = r->body ? r->body : "";
    size_t len = r->body_len ? r->body_len : strlen(body);
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    if (r->body_static) {
        ex->body_static = body;
    } else {
        ex->out = malloc(LWS_PRE + len + 1);
        if (!ex->out)
            return -1;
        memcpy(ex->out + LWS_PRE, body, len);
    }
    ex->out_len = len;
    ex->close = r->close;
    ex->pieces = r->pieces;
    ex->next_piece_ms = now_ms();
    if (lws_add_http_common_headers(wsi, (unsigned)(r->status ? r->status : 200),
                                    r->content_type ? r->content_type : "application/json",
                                    r->stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)len, &p, end))
        return -1;
    if (r->retry_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                                      (const unsigned char *)r->retry_after,
                                                      (int)strlen(r->retry_after), &p, end))
        return -1;
    if (r->close && !r->stream &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (r->stream) {
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* open for as long as the test says */
        ex->end_at_ms = r->end_after_ms > 0 ? now_ms() + r->end_after_ms : 0;
    }
    pthread_mutex_lock(&ex->s->mu); /* test threads look for open streams */
    ex->answering = 1;
    ex->stream = r->stream;
    if (r->stream) {
        ex->s->streams_started++;
        pthread_cond_broadcast(&ex->s->cv);
    }
    pthread_mutex_unlock(&ex->s->mu);
    lws_callback_on_writable(wsi);
    return 0;
}

/* Asks the handler; answers unless it holds. */
static int ask(struct exchange *ex)
{
    struct fake_http_reply r;
    memset(&r, 0, sizeof(r));
    if (ex->too_large) {
        r.status = 413;
        r.body = "request body too large for the fake server";
    } else {
        ex->s->fn(ex->s->arg, ex->req, &r);
    }
    if (r.hold) {
        ex->held = 1;
        lws_set_timeout(ex->wsi, NO_PENDING_TIMEOUT, 0);
        lws_set_timer_usecs(ex->wsi, PEER_CHECK_MS * 1000); /* see peer_closed */
        return 0;
    }
    return start_answer(ex, &r);
}

/* The request is whole: log it, then ask the handler. */
static int request_complete(struct exchange *ex)
{
    struct fake_http *s = ex->s;
    struct fake_http_req *req = ex->req;
    if (ex->body_in.data) {
        req->body = ex->body_in.data; /* the request owns the bytes now */
        req->body_len = ex->body_in.len;
        ex->body_in.data = NULL;
        fs_buf_release(&ex->body_in);
    } else if (!(req->body = strdup(""))) {
        return -1;
    }
    req->at_ms = now_ms();
    pthread_mutex_lock(&s->mu);
    if (s->nlog == s->caplog && s->nlog < FAKE_HTTP_LOG_MAX) {
        int cap = s->caplog ? 2 * s->caplog : 64;
        struct fake_http_req **l = realloc(s->log, (size_t)cap * sizeof(*l));
        if (l) {
            s->log = l;
            s->caplog = cap;
        }
    }
    int logged = s->nlog < s->caplog;
    if (logged) {
        req->seq = s->nlog;
        s->log[s->nlog++] = req; /* the log owns it now */
        ex->next = s->live;
        s->live = ex;
    }
    pthread_mutex_unlock(&s->mu);
    if (!logged) {
        struct fake_http_reply r = {.status = 503, .body = "the fake server's request log is full"};
        return start_answer(ex, &r);
    }
    return ask(ex);
}

static int on_http(struct fake_http *s, struct pss *pss, struct lws *wsi, const char *path)
{
    static const char *const methods[] = {
        [LWSHUMETH_GET] = "GET",         [LWSHUMETH_POST] = "POST",     [LWSHUMETH_OPTIONS] = "OPTIONS",
        [LWSHUMETH_PUT] = "PUT",         [LWSHUMETH_PATCH] = "PATCH",   [LWSHUMETH_DELETE] = "DELETE",
        [LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",     [LWSHUMETH_COLON_PATH] = "?",
    };
    char *uri;
    int ulen;
    /* lws renews the per-session data for each request of a keep-alive connection, but not
     * the wsi's opaque pointer: the connection's number lives there */
    intptr_t conn = (intptr_t)lws_get_opaque_user_data(wsi);
    if (!conn) {
        conn = ++s->conns;
        lws_set_opaque_user_data(wsi, (void *)conn);
    }
    exchange_free(pss->ex);
    struct exchange *ex = pss->ex = calloc(1, sizeof(*ex));
    if (!ex || !(ex->req = calloc(1, sizeof(*ex->req))))
        return -1;
    ex->s = s;
    ex->wsi = wsi;
    ex->req->seq = -1;
    ex->req->conn = (int)conn;
    fs_buf_init(&ex->body_in, FAKE_HTTP_BODY_MAX, 0);
    fs_buf_init(&ex->pending, FAKE_HTTP_STREAM_MAX, 0);
    struct fake_http_req *req = ex->req;
    int m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    snprintf(req->method, sizeof(req->method), "%s", m >= 0 && m <= LWSHUMETH_COLON_PATH ? methods[m] : "?");
    size_t n = (size_t)snprintf(req->uri, sizeof(req->uri), "%s", path);
    char frag[FAKE_HTTP_URI_MAX];
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, (int)sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) >= 0; i++) {
        size_t fl = strlen(frag);
        if (n < sizeof(req->uri))
            n += (size_t)snprintf(req->uri + n, sizeof(req->uri) - n, "%c%s", i ? '&' : '?', frag);
        if (req->args_len + fl + 1 < sizeof(req->args)) {
            memcpy(req->args + req->args_len, frag, fl + 1);
            req->args_len += fl + 1;
        }
    }
    copy_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, req->authorization, sizeof(req->authorization));
    copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, req->content_type, sizeof(req->content_type));
    copy_header(wsi, WSI_TOKEN_HTTP_ACCEPT, req->accept, sizeof(req->accept));
    char clen[32];
    copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof(clen));
    if (strtoll(clen, NULL, 10) > 0)
        return 0; /* lws hands the body over in LWS_CALLBACK_HTTP_BODY, then completes */
    return request_complete(ex);
}

/* The answer was written: the exchange ends, the connection stays for the next request
 * unless the answer said close. */
static int answer_done(struct pss *pss, struct lws *wsi)
{
    int close = pss->ex->close || pss->ex->stream;
    exchange_free(pss->ex);
    pss->ex = NULL;
    if (close)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_writeable(struct pss *pss, struct lws *wsi)
{
    struct exchange *ex = pss->ex;
    if (!ex || !ex->answering)
        return 0;
    if (!ex->body_done) {
        int64_t now = now_ms();
        if (ex->pieces && now < ex->next_piece_ms) {
            arm_timer(ex);
            return 0;
        }
        size_t left = ex->out_len - ex->out_off;
        size_t n = ex->pieces ? 1 + (ex->out_off * 7 + 3) % 13 : WRITE_MAX;
        if (n > left)
            n = left;
        int last = n == left;
        /* lws may use LWS_PRE bytes before what it writes: in out they are headroom or body
         * bytes already sent; a borrowed body goes through a copy with headroom */
        unsigned char *from = (unsigned char *)ex->out + LWS_PRE + ex->out_off;
        if (ex->body_static) {
            memcpy(ex->s->wbuf + LWS_PRE, ex->body_static + ex->out_off, n);
            from = ex->s->wbuf + LWS_PRE;
        }
        if (lws_write(wsi, from, n, last && !ex->stream ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        ex->out_off += n;
        if (!last) {
            if (ex->pieces) {
                ex->next_piece_ms = now + PIECE_GAP_MS;
                arm_timer(ex);
            } else {
                lws_callback_on_writable(wsi);
            }
            return 0;
        }
        ex->body_done = 1;
        if (!ex->stream)
            return answer_done(pss, wsi);
    }
    /* a stream: send what the test wrote, end when told or when due */
    struct fs_buf chunk;
    fs_buf_init(&chunk, FAKE_HTTP_STREAM_MAX + LWS_PRE, 0);
    pthread_mutex_lock(&ex->s->mu);
    int end = ex->end_requested;
    enum fs_err rc = FS_OK;
    if (ex->pending.len) {
        static const char pre[LWS_PRE];
        rc = fs_buf_append(&chunk, pre, LWS_PRE);
        if (rc == FS_OK)
            rc = fs_buf_append(&chunk, ex->pending.data, ex->pending.len);
        fs_buf_reset(&ex->pending);
    }
    pthread_mutex_unlock(&ex->s->mu);
    if (rc != FS_OK)
        return -1;
    if (chunk.len) {
        size_t n = chunk.len - LWS_PRE;
        int w = lws_write(wsi, (unsigned char *)chunk.data + LWS_PRE, n, LWS_WRITE_HTTP);
        fs_buf_release(&chunk);
        if (w != (int)n)
            return -1;
        lws_callback_on_writable(wsi); /* more may have come, or the end */
        return 0;
    }
    if (end || (ex->end_at_ms && now_ms() >= ex->end_at_ms) || peer_closed(wsi))
        return answer_done(pss, wsi);
    arm_timer(ex);
    return 0;
}

/* Another thread asked for something: writes for streams, held requests to ask again. */
static void on_cancelled(struct fake_http *s)
{
    pthread_mutex_lock(&s->mu);
    int rerun = s->rerun;
    s->rerun = 0;
    pthread_mutex_unlock(&s->mu);
    /* only this thread changes the list, so walking it without the lock is safe; ask()
     * does not unlink (closing is asynchronous) */
    for (struct exchange *ex = s->live, *next; ex; ex = next) {
        next = ex->next;
        pthread_mutex_lock(&s->mu);
        int kick = ex->kick;
        ex->kick = 0;
        pthread_mutex_unlock(&s->mu);
        if (rerun && ex->held) {
            ex->held = 0;
            if (ask(ex))
                lws_set_timeout(ex->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
        }
        if (kick && ex->answering)
            lws_callback_on_writable(ex->wsi);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct fake_http *s = ctx ? lws_context_user(ctx) : NULL;
    struct pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return s && pss ? on_http(s, pss, wsi, in) : -1;
    case LWS_CALLBACK_HTTP_BODY:
        if (!pss || !pss->ex)
            return -1;
        if (!pss->ex->too_large && fs_buf_append(&pss->ex->body_in, in, len) != FS_OK) {
            pss->ex->too_large = 1; /* answered 413 once the body is complete */
            fs_buf_release(&pss->ex->body_in);
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return pss && pss->ex ? request_complete(pss->ex) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? on_writeable(pss, wsi) : 0;
    case LWS_CALLBACK_TIMER:
        if (!pss || !pss->ex)
            return 0;
        if (!pss->ex->held)
            lws_callback_on_writable(wsi); /* a piece is due, or a stream looks at its client */
        else if (peer_closed(wsi))
            lws_set_timeout(wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
        else
            lws_set_timer_usecs(wsi, PEER_CHECK_MS * 1000);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            exchange_free(pss->ex);
            pss->ex = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (s)
            on_cancelled(s);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *serve(void *arg)
{
    struct fake_http *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        if (lws_service(s->ctx, 0) < 0)
            break;
    return NULL;
}

enum fs_err fake_http_new(struct fake_http **out, fake_http_handler_fn fn, void *arg)
{
    enum fs_err rc = FS_ENOMEM;
    struct fake_http *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return FS_ENOMEM;
    s->fn = fn;
    s->arg = arg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (!(s->wbuf = malloc(LWS_PRE + WRITE_MAX)))
        goto out;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = 0; /* the kernel picks a free one */
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.user = s;
    info.keepalive_timeout = 300;      /* idle keep-alive connections stay, as an apiserver's */
    info.max_http_header_pool = 64;    /* held and streamed answers keep their header table */
    info.max_http_header_data = 16384; /* long watch queries and tokens */
    /* lws sends at most this much per send(): at the 4 KB default a 30 MB watch replay
     * took 7,000 poll rounds and the fake, not the client, set the pace */
    info.pt_serv_buf_size = WRITE_MAX;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        rc = FS_EIO;
        goto out;
    }
    s->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(s->ctx, "default"));
    if (s->port <= 0) {
        rc = FS_EIO;
        goto out;
    }
    if (pthread_create(&s->thread, NULL, serve, s) != 0)
        goto out;
    *out = s;
    s = NULL; /* the caller owns it now */
    rc = FS_OK;
out:
    if (s) {
        if (s->ctx)
            lws_context_destroy(s->ctx);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->wbuf);
        free(s);
    }
    return rc;
}

void fake_http_free(struct fake_http *s)
{
    if (!s)
        return;
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    lws_cancel_service(s->ctx);
    pthread_join(s->thread, NULL);
    lws_context_destroy(s->ctx); /* closes the connections: their exchanges go */
    for (int i = 0; i < s->nlog; i++) {
        free(s->log[i]->body);
        free(s->log[i]);
    }
    free(s->log);
    free(s->wbuf);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int fake_http_port(const struct fake_http *s)
{
    return s->port;
}

int fake_http_count(struct fake_http *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->nlog;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const struct fake_http_req *fake_http_req(struct fake_http *s, int seq)
{
    pthread_mutex_lock(&s->mu);
    const struct fake_http_req *r = seq >= 0 && seq < s->nlog ? s->log[seq] : NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

int fake_http_query(const struct fake_http_req *req, const char *key, char *buf, size_t len)
{
    size_t kl = strlen(key);
    if (len)
        buf[0] = '\0';
    for (size_t off = 0; off < req->args_len; off += strlen(req->args + off) + 1) {
        const char *a = req->args + off;
        if (!strncmp(a, key, kl) && a[kl] == '=') {
            if (len)
                snprintf(buf, len, "%s", a + kl + 1);
            return 1;
        }
    }
    return 0;
}

/* The latest open stream, under mu. */
static struct exchange *latest_stream(struct fake_http *s)
{
    struct exchange *best = NULL;
    for (struct exchange *ex = s->live; ex; ex = ex->next)
        if (ex->stream && ex->answering && !ex->end_requested && (!best || ex->req->seq > best->req->seq))
            best = ex;
    return best;
}

int fake_http_wait_stream(struct fake_http *s, int n, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    int seq = -1;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct exchange *ex = s->streams_started >= n ? latest_stream(s) : NULL;
        if (ex) {
            seq = ex->req->seq;
            break;
        }
        if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    return seq;
}

static struct exchange *find_stream(struct fake_http *s, int seq)
{
    for (struct exchange *ex = s->live; ex; ex = ex->next)
        if (ex->req->seq == seq && ex->stream && ex->answering && !ex->end_requested)
            return ex;
    return NULL;
}

enum fs_err fake_http_stream_write(struct fake_http *s, int seq, const char *data, size_t len)
{
    pthread_mutex_lock(&s->mu);
    struct exchange *ex = find_stream(s, seq);
    enum fs_err rc = ex ? fs_buf_append(&ex->pending, data, len) : FS_EIO;
    if (rc == FS_OK)
        ex->kick = 1;
    pthread_mutex_unlock(&s->mu);
    lws_cancel_service(s->ctx);
    return rc;
}

enum fs_err fake_http_stream_end(struct fake_http *s, int seq)
{
    pthread_mutex_lock(&s->mu);
    struct exchange *ex = find_stream(s, seq);
    if (ex) {
        ex->end_requested = 1;
        ex->kick = 1;
    }
    pthread_mutex_unlock(&s->mu);
    lws_cancel_service(s->ctx);
    return ex ? FS_OK : FS_EIO;
}

void fake_http_rerun_held(struct fake_http *s)
{
    pthread_mutex_lock(&s->mu);
    s->rerun = 1;
    pthread_mutex_unlock(&s->mu);
    lws_cancel_service(s->ctx);
}

void fake_http_scripted(void *arg, const struct fake_http_req *req, struct fake_http_reply *reply)
{
    const struct fake_http_script *sc = arg;
    if (req->seq < sc->n) {
        *reply = sc->replies[req->seq];
        return;
    }
    reply->status = 500;
    reply->body = "unscripted request";
}
