/* Watch streams: bounded line framing, event decoding, and one watch request. The line
 * buffer never holds more than `max` bytes; a longer line is an error (FS_ERANGE). */
#include "kube/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"

void kube_linebuf_init(struct kube_linebuf *lb, size_t max)
{
    fs_buf_init(&lb->line, max ? max : KUBE_WATCH_LINE_MAX_DEFAULT, 4096);
}

void kube_linebuf_release(struct kube_linebuf *lb)
{
    fs_buf_release(&lb->line);
}

size_t kube_linebuf_pending(const struct kube_linebuf *lb)
{
    return lb->line.len;
}

/* kube_linebuf_feed's contract: a line past the bound empties the buffer. */
static enum fs_err lb_append(struct kube_linebuf *lb, const char *data, size_t n)
{
    enum fs_err rc = fs_buf_append(&lb->line, data, n);
    if (rc == FS_ERANGE)
        fs_buf_reset(&lb->line);
    return rc;
}

enum fs_err kube_linebuf_feed(struct kube_linebuf *lb, const char *data, size_t len,
                              kube_line_fn fn, void *arg, int *stopped)
{
    enum fs_err rc;
    if (stopped)
        *stopped = 0;
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        if (!nl)
            return lb_append(lb, data, n);
        const char *line;
        size_t line_len;
        /* chunks are const and fn wants a NUL-terminated line, so every line is copied */
        rc = lb_append(lb, data, n);
        if (rc != FS_OK)
            return rc;
        line = lb->line.data;
        line_len = lb->line.len;
        data += n + 1;
        len -= n + 1;
        /* the line is consumed either way; reset only after fn, which reads it in place */
        int stop = line_len > 0 && !(line_len == 1 && line[0] == '\r') &&
                   fn(arg, line, line_len) != 0;
        fs_buf_reset(&lb->line);
        if (stop) {
            if (stopped)
                *stopped = 1;
            return FS_OK;
        }
    }
    return FS_OK;
}

const char *kube_event_type_name(enum kube_event_type t)
{
    switch (t) {
    case KUBE_EVENT_ADDED: return "ADDED";
    case KUBE_EVENT_MODIFIED: return "MODIFIED";
    case KUBE_EVENT_DELETED: return "DELETED";
    case KUBE_EVENT_BOOKMARK: return "BOOKMARK";
    case KUBE_EVENT_ERROR: return "ERROR";
    }
    return "?";
}

void kube_event_release(struct kube_event *ev)
{
    json_decref(ev->object);
    memset(ev, 0, sizeof(*ev));
}

/* The apiserver writes {"type":"MODIFIED","object":{...}}: read only the object, and keep
 * where its text is so the informer can cache it without writing it out again. *type_out
 * and *obj_out are set when the line has that form, else the caller reads it in full. */
static int parse_usual(const char *line, size_t len, char *type_out, size_t type_len,
                       json_t **obj_out, const char **raw, size_t *raw_len)
{
    static const char head[] = "{\"type\":\"";
    static const char mid[] = "\",\"object\":";
    const size_t hl = sizeof(head) - 1, ml = sizeof(mid) - 1;
    if (len < hl + ml + 3 || memcmp(line, head, hl) != 0)
        return 0;
    const char *t = line + hl, *q = memchr(t, '"', len - hl);
    if (!q || (size_t)(q - t) >= type_len || (size_t)(line + len - q) < ml + 2 ||
        memcmp(q, mid, ml) != 0)
        return 0;
    for (const char *c = t; c < q; c++)
        if (*c < 'A' || *c > 'Z')
            return 0; /* an escape or anything odd: the full reader decides */
    const char *o = q + ml;
    size_t used = 0;
    json_t *obj = NULL;
    if (kube_json_load(o, (size_t)(line + len - o), KUBE_JSON_PREFIX | KUBE_JSON_REJECT_DUPLICATES,
                       &obj, &used) != FS_OK)
        return 0;
    const char *after = o + used, *end = line + len;
    while (after < end && (*after == ' ' || *after == '\t' || *after == '\n' || *after == '\r'))
        after++;
    if (after >= end || *after != '}') {
        json_decref(obj);
        return 0;
    }
    after++;
    while (after < end && (*after == ' ' || *after == '\t' || *after == '\n' || *after == '\r'))
        after++;
    if (after != end) {
        json_decref(obj);
        return 0;
    }
    memcpy(type_out, t, (size_t)(q - t));
    type_out[q - t] = '\0';
    *obj_out = obj;
    *raw = o;
    *raw_len = used;
    return 1;
}

enum fs_err kube_event_parse(const char *line, size_t len, struct kube_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    char tbuf[16];
    const char *type;
    json_t *j = NULL, *obj = NULL;
    if (parse_usual(line, len, tbuf, sizeof(tbuf), &obj, &ev->raw, &ev->raw_len)) {
        type = tbuf;
    } else {
        if (kube_json_load(line, len, KUBE_JSON_REJECT_DUPLICATES, &j, NULL) != FS_OK)
            return FS_EPARSE;
        type = json_string_value(json_object_get(j, "type"));
        obj = json_incref(json_object_get(j, "object"));
    }
    enum fs_err rc = FS_EPARSE;
    if (!type || !json_is_object(obj))
        goto out;
    if (!strcmp(type, "ADDED"))
        ev->type = KUBE_EVENT_ADDED;
    else if (!strcmp(type, "MODIFIED"))
        ev->type = KUBE_EVENT_MODIFIED;
    else if (!strcmp(type, "DELETED"))
        ev->type = KUBE_EVENT_DELETED;
    else if (!strcmp(type, "BOOKMARK"))
        ev->type = KUBE_EVENT_BOOKMARK;
    else if (!strcmp(type, "ERROR"))
        ev->type = KUBE_EVENT_ERROR;
    else
        goto out;
    if (ev->type == KUBE_EVENT_ERROR) {
        ev->error_code = (long)json_integer_value(json_object_get(obj, "code"));
    } else {
        const char *rv = kube_json_str(obj, "metadata.resourceVersion");
        if (!rv || !*rv)
            goto out; /* every object and bookmark carries one; without it we cannot resume */
        if (ev->type != KUBE_EVENT_BOOKMARK && !kube_json_str(obj, "metadata.name"))
            goto out;
        ev->resource_version = rv;
    }
    ev->object = obj;
    obj = NULL;
    rc = FS_OK;
out:
    json_decref(obj);
    json_decref(j); /* after the last use of type */
    if (rc != FS_OK)
        memset(ev, 0, sizeof(*ev));
    return rc;
}

struct watch_ctx {
    struct kube_linebuf lb;
    kube_event_fn fn;
    void *arg;
    char *last_rv;
    size_t last_rv_len;
    enum fs_err err;      /* why the stream was abandoned */
    int user_stopped;
    struct kube_status *st;
};

static int on_line(void *arg, const char *line, size_t len)
{
    struct watch_ctx *w = arg;
    struct kube_event ev;
    if (kube_event_parse(line, len, &ev) != FS_OK) {
        w->err = FS_EPARSE;
        if (w->st) {
            memset(w->st, 0, sizeof(*w->st));
            snprintf(w->st->message, sizeof(w->st->message), "malformed watch event: %.200s", line);
        }
        return 1;
    }
    if (ev.type == KUBE_EVENT_ERROR) {
        if (w->st) {
            memset(w->st, 0, sizeof(*w->st));
            w->st->code = ev.error_code;
            snprintf(w->st->reason, sizeof(w->st->reason), "%s",
                     kube_json_str(ev.object, "reason") ?: "");
            snprintf(w->st->message, sizeof(w->st->message), "%s",
                     kube_json_str(ev.object, "message") ?: "");
        }
        w->err = ev.error_code == 410 ? FS_EGONE : FS_EHTTP;
        kube_event_release(&ev);
        return 1;
    }
    if (w->last_rv && ev.resource_version)
        snprintf(w->last_rv, w->last_rv_len, "%s", ev.resource_version);
    int stop = w->fn(w->arg, &ev);
    kube_event_release(&ev);
    if (stop)
        w->user_stopped = 1;
    return stop;
}

static int on_data(void *arg, const char *data, size_t len)
{
    struct watch_ctx *w = arg;
    int stopped = 0;
    enum fs_err rc = kube_linebuf_feed(&w->lb, data, len, on_line, w, &stopped);
    if (rc != FS_OK) {
        w->err = rc;
        if (w->st) {
            memset(w->st, 0, sizeof(*w->st));
            snprintf(w->st->message, sizeof(w->st->message), "%s",
                     rc == FS_ERANGE ? "watch event line longer than the limit" : fs_strerror(rc));
        }
        return 1;
    }
    return stopped;
}

enum fs_err kube_watch_run(struct kube_client *c, const struct kube_ref *ref,
                           const struct kube_watch_opts *opts, kube_event_fn fn, void *arg,
                           char *last_rv, size_t last_rv_len, struct kube_status *st)
{
    char path[8192];
    char num[32];
    struct watch_ctx w = {.fn = fn, .arg = arg, .last_rv = last_rv, .last_rv_len = last_rv_len,
                          .err = FS_OK, .st = st};
    int timeout_s = opts && opts->timeout_s > 0 ? opts->timeout_s : 300;
    struct kube_ref r = *ref;
    r.name = NULL;
    enum fs_err rc = kube_ref_path(&r, path, sizeof(path));
    if (rc == FS_OK)
        rc = kube_query_add(path, sizeof(path), "watch", "1");
    if (rc == FS_OK && ref->name) {
        char sel[512];
        snprintf(sel, sizeof(sel), "metadata.name=%s", ref->name);
        rc = kube_query_add(path, sizeof(path), "fieldSelector", sel);
    } else if (rc == FS_OK && opts && opts->field_selector && *opts->field_selector) {
        rc = kube_query_add(path, sizeof(path), "fieldSelector", opts->field_selector);
    }
    if (rc == FS_OK && opts && opts->label_selector && *opts->label_selector)
        rc = kube_query_add(path, sizeof(path), "labelSelector", opts->label_selector);
    if (rc == FS_OK && opts && opts->resource_version && *opts->resource_version)
        rc = kube_query_add(path, sizeof(path), "resourceVersion", opts->resource_version);
    if (rc == FS_OK && opts && opts->allow_bookmarks)
        rc = kube_query_add(path, sizeof(path), "allowWatchBookmarks", "true");
    if (rc == FS_OK && opts && opts->send_initial_events) {
        rc = kube_query_add(path, sizeof(path), "sendInitialEvents", "true");
        if (rc == FS_OK)
            rc = kube_query_add(path, sizeof(path), "resourceVersionMatch", "NotOlderThan");
    }
    snprintf(num, sizeof(num), "%d", timeout_s);
    if (rc == FS_OK)
        rc = kube_query_add(path, sizeof(path), "timeoutSeconds", num);
    if (rc != FS_OK)
        return rc;
    kube_linebuf_init(&w.lb, opts && opts->line_max ? opts->line_max : 0);
    /* the server ends the watch after timeout_s; allow it a margin before we give up */
    rc = kube_client_stream(c, path, timeout_s + 30, opts ? opts->stop : NULL, on_data, &w, st);
    if (w.err != FS_OK)
        rc = w.err;
    else if (rc == FS_OK && !w.user_stopped && kube_linebuf_pending(&w.lb) > 0 &&
             !(opts && opts->stop && *opts->stop)) {
        rc = FS_EIO; /* the stream ended in the middle of an event */
        if (st) {
            memset(st, 0, sizeof(*st));
            snprintf(st->message, sizeof(st->message), "watch stream truncated mid-event (%zu bytes)",
                     kube_linebuf_pending(&w.lb));
        }
    }
    kube_linebuf_release(&w.lb);
    return rc;
}
