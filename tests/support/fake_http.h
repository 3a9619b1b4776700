/* A fake HTTP server for unit tests and benchmark helpers, on libwebsockets: 127.0.0.1, an
 * ephemeral port, its own service thread. Requests are parsed by lws, logged in arrival
 * order and answered by a handler the test gives (run on the service thread); answers can be
 * split in timed pieces, held until the test says, or streamed (a watch) from the test. */
#ifndef FAKE_HTTP_H
#define FAKE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"

#define FAKE_HTTP_URI_MAX 4096u          /* bytes of a logged uri, the '\0' included */
#define FAKE_HTTP_BODY_MAX (1u << 20)    /* a request body past this is answered 413 */
#define FAKE_HTTP_LOG_MAX 100000         /* requests logged; more are answered 503 */
#define FAKE_HTTP_STREAM_MAX (64u << 20) /* bytes a stream may have waiting to be sent */

/* A request as lws parsed it. Immutable once logged; owned by the server. */
struct fake_http_req {
    int seq;      /* 0-based, in the order requests were complete */
    int conn;     /* 1-based number of the connection it came on: keep-alive reuse shows */
    int64_t at_ms; /* CLOCK_MONOTONIC, milliseconds, when the request was complete */
    char method[8];
    /* the path, then '?' and the query arguments joined by '&', as lws decodes them
     * (%XX undone): what the server understood, not the bytes on the wire */
    char uri[FAKE_HTTP_URI_MAX];
    char args[FAKE_HTTP_URI_MAX]; /* the same arguments, each "key=value" ending in '\0' */
    size_t args_len;
    char authorization[1024]; /* "" when absent, as the next two */
    char content_type[128];
    char accept[128];
    char *body; /* always '\0'-terminated ("" when none) */
    size_t body_len;
};

/* What the handler fills in; all zero is an empty 200 application/json answer. */
struct fake_http_reply {
    int status;               /* 0: 200 */
    const char *content_type; /* NULL: application/json */
    const char *retry_after;  /* a Retry-After value, or NULL */
    const char *body;         /* copied by the server (unless body_static); NULL: empty */
    size_t body_len;          /* 0: strlen(body) */
    int body_static;          /* body is not copied: it must stay valid until fake_http_free */
    int pieces;               /* write the body 1..13 bytes at a time, 1 ms apart */
    /* no Content-Length: the body, then the answer stays open for fake_http_stream_write
     * until fake_http_stream_end, end_after_ms or the client closes. The body ends with the
     * connection (lws's way for an unknown length), not with chunked encoding as an
     * apiserver's: lws 4.1 chunks only its own file serving, and framing chunks here would
     * be writing HTTP by hand. libcurl and client-go read both alike; a stream cut short is
     * thus no different from one that ended (the watch tests look at the last line). */
    int stream;
    long end_after_ms; /* a stream ends after this many ms, not before its body is out (0: never) */
    int close;         /* close the connection after the answer (no keep-alive) */
    int hold;          /* answer nothing yet: the handler is asked again at fake_http_rerun_held */
};

/* req is borrowed (valid until fake_http_free); reply starts zeroed. Runs on the service
 * thread, so it must not call the waiting functions below. */
typedef void (*fake_http_handler_fn)(void *arg, const struct fake_http_req *req, struct fake_http_reply *reply);

struct fake_http;

/* Starts a server on 127.0.0.1 and a free port, served by its own thread. */
enum fs_err fake_http_new(struct fake_http **out, fake_http_handler_fn fn, void *arg);
/* Stops the thread, closes every connection, frees the log. NULL is fine. */
void fake_http_free(struct fake_http *s);
int fake_http_port(const struct fake_http *s);

/* Requests logged so far. */
int fake_http_count(struct fake_http *s);
/* The request numbered seq, or NULL when there is none yet. Borrowed: valid until
 * fake_http_free. */
const struct fake_http_req *fake_http_req(struct fake_http *s, int seq);
/* Copies the value of query argument key of req into buf ("" when absent); 1 if present. */
int fake_http_query(const struct fake_http_req *req, const char *key, char *buf, size_t len);

/* Waits until at least n streamed answers were started and one is still open; returns the
 * seq of the latest open one, or -1 after timeout_ms. */
int fake_http_wait_stream(struct fake_http *s, int n, int timeout_ms);
/* Appends bytes to the open stream answering request seq; FS_EIO when it is not open,
 * FS_ERANGE past FAKE_HTTP_STREAM_MAX waiting bytes. */
enum fs_err fake_http_stream_write(struct fake_http *s, int seq, const char *data, size_t len);
/* Ends that stream once what was written is sent (the connection closes). */
enum fs_err fake_http_stream_end(struct fake_http *s, int seq);
/* Asks the handler again about every held request. */
void fake_http_rerun_held(struct fake_http *s);

/* A handler answering request seq with replies[seq] (arg: a struct fake_http_script), and
 * 500 "unscripted request" past the end. */
struct fake_http_script {
    const struct fake_http_reply *replies;
    int n;
};
void fake_http_scripted(void *arg, const struct fake_http_req *req, struct fake_http_reply *reply);

#endif
