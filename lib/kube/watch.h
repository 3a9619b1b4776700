/* Watches: the chunked stream of JSON event lines a ?watch=1 request returns, split on '\n'
 * into a bounded buffer (a line longer than the bound is an error, never unbounded growth),
 * parsed into typed events. kube_watch_run() runs one watch request to its end; reconnecting,
 * resuming from the last resourceVersion and relisting on 410 belong to the caller (the
 * informer does all three).
 * Owner: issue 3 (lib/kube). */
#ifndef KUBE_WATCH_H
#define KUBE_WATCH_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/fs_err.h"
#include "kube/client.h"

/* ---- line framing (pure, unit-testable) ---- */

#define KUBE_WATCH_LINE_MAX_DEFAULT (16u * 1024u * 1024u) /* bytes; objects are <= ~1.5 MiB */

struct kube_linebuf {
    struct fs_buf line; /* the current partial line; its max is the longest line accepted */
};

/* Called once per complete line (without the '\n'; a trailing '\r' is kept; empty lines
 * are skipped). line is borrowed: valid during the call, NUL-terminated. Return non-zero to
 * stop; kube_linebuf_feed then returns FS_OK with the rest of the data unconsumed. */
typedef int (*kube_line_fn)(void *arg, const char *line, size_t len);

void kube_linebuf_init(struct kube_linebuf *lb, size_t max);
void kube_linebuf_release(struct kube_linebuf *lb);
/* Feeds a chunk (any size, any boundary). FS_ERANGE when a line exceeds max (the buffer is
 * then cleared), FS_ENOMEM. *stopped (may be NULL) is set to 1 if fn asked to stop. */
enum fs_err kube_linebuf_feed(struct kube_linebuf *lb, const char *data, size_t len,
                              kube_line_fn fn, void *arg, int *stopped);
/* Bytes of an unfinished line still held (non-zero at end of stream = truncated stream). */
size_t kube_linebuf_pending(const struct kube_linebuf *lb);

/* ---- events ---- */

enum kube_event_type {
    KUBE_EVENT_ADDED,
    KUBE_EVENT_MODIFIED,
    KUBE_EVENT_DELETED,
    KUBE_EVENT_BOOKMARK,
    KUBE_EVENT_ERROR,   /* object is a Status; a code of 410 means "relist" */
};

struct kube_event {
    enum kube_event_type type;
    json_t *object;     /* owned by the event: kube_event_release() drops it; steal by setting NULL */
    const char *resource_version; /* borrowed from object's metadata, may be NULL */
    long error_code;    /* for ERROR: the Status code (410 = expired) */
    const char *raw;    /* the object's JSON text as received (borrowed from the line, valid
                         * during the callback; NULL when the line was not in the usual
                         * {"type":..,"object":..} form): the informer caches it as is */
    size_t raw_len;
};

/* Parses one watch line: {"type":"ADDED","object":{...}}. FS_EPARSE for anything else
 * (not JSON, unknown type, missing object). */
enum fs_err kube_event_parse(const char *line, size_t len, struct kube_event *ev);
void kube_event_release(struct kube_event *ev);
const char *kube_event_type_name(enum kube_event_type t);

/* ---- one watch request ---- */

struct kube_watch_opts {
    const char *label_selector;
    const char *field_selector;
    const char *resource_version;  /* start after this version; NULL/"" = "start now" semantics */
    int timeout_s;                 /* timeoutSeconds the server closes the watch after; 0 = 300 */
    int allow_bookmarks;           /* allowWatchBookmarks=true */
    int send_initial_events;       /* sendInitialEvents=true (needs resource_version_match) */
    size_t line_max;               /* 0 = KUBE_WATCH_LINE_MAX_DEFAULT */
    volatile int *stop;            /* checked between chunks and every second; may be NULL */
};

/* Called for each event; ev is borrowed (steal ev->object by setting it to NULL). Return
 * non-zero to end the watch (kube_watch_run then returns FS_OK). */
typedef int (*kube_event_fn)(void *arg, struct kube_event *ev);

/* Runs one watch on ref (a collection: ref->name NULL; a single object is watched with a
 * metadata.name field selector) until the server closes it, fn asks to stop, or *stop.
 * last_rv (may be NULL, size last_rv_len) receives the resourceVersion of the last event
 * or bookmark, for resuming. Returns FS_OK on a clean end, FS_EGONE when the server says the
 * version is too old (HTTP 410 or an ERROR event with code 410), FS_EPARSE for a bad line,
 * FS_EIO when the stream broke or ended mid-line, FS_ERANGE for an oversized line, and the
 * kube_request errors for a refused request. */
enum fs_err kube_watch_run(struct kube_client *c, const struct kube_ref *ref,
                           const struct kube_watch_opts *opts, kube_event_fn fn, void *arg,
                           char *last_rv, size_t last_rv_len, struct kube_status *st);

#endif
