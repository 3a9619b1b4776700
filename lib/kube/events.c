/* Event recorder for events.k8s.io/v1. Callers only queue; a thread creates the Event, or
 * for a repeat inside the series window patches the existing one's series (count,
 * lastObservedTime), so a flapping condition produces one Event with a count, not a flood. */
#include "kube/events.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kube/internal.h"
#include "kube/strmap.h"

#define NOTE_MAX 1024

struct pending {
    json_t *regarding;   /* {apiVersion, kind, name, namespace, uid, resourceVersion} */
    char *type, *reason, *action, *note;
    struct timespec when;
};

struct series {
    struct series *prev, *next; /* least recently used order: head = most recent */
    char *key;           /* its key in the table */
    char name[300];      /* the Event's name */
    char ns[256];
    long count;
    int64_t first_ms;    /* monotonic time of the first occurrence */
};

struct kube_recorder {
    struct kube_client *c;
    char *controller, *instance;
    int window_s;
    size_t queue_max;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pending *queue;   /* ring */
    size_t head, count;
    int busy;                /* the thread is sending one */
    int stop;
    pthread_t thread;
    struct strmap series;    /* dedup key -> struct series * (thread-only) */
    struct series *lru_head, *lru_tail;
    size_t series_max;
    struct kube_recorder_stats stats;
};

/* Counters the recorder thread bumps and kube_recorder_stats() reads. */
static void stat_inc(struct kube_recorder *r, unsigned long *field)
{
    pthread_mutex_lock(&r->lock);
    (*field)++;
    pthread_mutex_unlock(&r->lock);
}

/* ---- the series table: a map plus a recency list (thread-only, stats under the lock) ---- */

static void lru_unlink(struct kube_recorder *r, struct series *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        r->lru_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        r->lru_tail = s->prev;
    s->prev = s->next = NULL;
}

static void lru_push_front(struct kube_recorder *r, struct series *s)
{
    s->prev = NULL;
    s->next = r->lru_head;
    if (r->lru_head)
        r->lru_head->prev = s;
    r->lru_head = s;
    if (!r->lru_tail)
        r->lru_tail = s;
}

static void series_forget(struct kube_recorder *r, struct series *s, int evicted)
{
    lru_unlink(r, s);
    strmap_del(&r->series, s->key);
    free(s->key);
    free(s);
    pthread_mutex_lock(&r->lock);
    r->stats.series_cached = r->series.len;
    if (evicted)
        r->stats.series_evicted++;
    pthread_mutex_unlock(&r->lock);
}

/* Drops series whose window has passed from the old end, and the least recently used ones
 * beyond the bound (keeping room for one more). */
static void series_prune(struct kube_recorder *r, int64_t now)
{
    while (r->lru_tail && now - r->lru_tail->first_ms >= r->window_s * 1000L)
        series_forget(r, r->lru_tail, 0);
    while (r->lru_tail && r->series.len >= r->series_max)
        series_forget(r, r->lru_tail, 1);
}

static void pending_release(struct pending *p)
{
    json_decref(p->regarding);
    free(p->type);
    free(p->reason);
    free(p->action);
    free(p->note);
    memset(p, 0, sizeof(*p));
}

static int64_t realtime_ns_hash(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void send_one(struct kube_recorder *r, struct pending *p)
{
    const char *ns = json_string_value(json_object_get(p->regarding, "namespace"));
    const char *name = json_string_value(json_object_get(p->regarding, "name"));
    const char *kind = json_string_value(json_object_get(p->regarding, "kind"));
    const char *uid = json_string_value(json_object_get(p->regarding, "uid"));
    if (!ns || !*ns)
        ns = "default"; /* events about cluster-scoped objects */
    char key[2048];
    snprintf(key, sizeof(key), "%s|%s|%s|%s|%s|%s|%s|%s", ns, kind ? kind : "", name ? name : "",
             uid ? uid : "", p->type, p->reason, p->action, p->note);
    char when[64];
    kube_format_rfc3339(&p->when, 1, when, sizeof(when));
    struct kube_ref ref = {.group = "events.k8s.io", .version = "v1", .resource = "events",
                           .namespace = ns};
    struct kube_status st;
    char msg[700];
    int64_t now = kube_mono_ms();
    struct series *s = strmap_get(&r->series, key);
    if (s) {
        lru_unlink(r, s); /* in use: it becomes the most recent */
        lru_push_front(r, s);
    }
    if (s && now - s->first_ms < r->window_s * 1000L) {
        s->count++;
        json_t *patch = json_pack("{s:{s:I, s:s}}", "series", "count", (json_int_t)s->count,
                                  "lastObservedTime", when);
        ref.name = s->name;
        enum fs_err rc = patch ? kube_patch(r->c, &ref, KUBE_PATCH_MERGE, patch, NULL, NULL, &st)
                               : FS_ENOMEM;
        json_decref(patch);
        if (rc == FS_OK) {
            stat_inc(r, &r->stats.series_updates);
            return;
        }
        if (rc != FS_ENOTFOUND) {
            stat_inc(r, &r->stats.failed);
            log_warn("cannot update event %s/%s: %s", ns, s->name, kube_status_str(&st, msg, sizeof(msg)));
            return;
        }
        /* the Event expired (TTL) or was deleted: start a new series */
    }
    char ename[300];
    snprintf(ename, sizeof(ename), "%.200s.%llx", name ? name : "object",
             (unsigned long long)realtime_ns_hash());
    json_t *ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s}",
                           "apiVersion", "events.k8s.io/v1", "kind", "Event", "metadata", "name",
                           ename, "namespace", ns, "eventTime", when, "reportingController",
                           r->controller, "reportingInstance", r->instance, "action", p->action,
                           "reason", p->reason, "regarding", p->regarding, "note", p->note,
                           "type", p->type);
    if (!ev) {
        stat_inc(r, &r->stats.failed);
        return;
    }
    enum fs_err rc = kube_create(r->c, &ref, ev, NULL, NULL, &st);
    json_decref(ev);
    if (rc != FS_OK) {
        stat_inc(r, &r->stats.failed);
        log_warn("cannot create event %s/%s: %s", ns, ename, kube_status_str(&st, msg, sizeof(msg)));
        return;
    }
    stat_inc(r, &r->stats.created);
    if (!s) {
        series_prune(r, now);
        s = calloc(1, sizeof(*s));
        if (s)
            s->key = strdup(key);
        if (!s || !s->key || strmap_put(&r->series, key, s, NULL) != FS_OK) {
            if (s)
                free(s->key);
            free(s);
            return; /* not remembered: a repeat makes a new Event */
        }
        lru_push_front(r, s);
        pthread_mutex_lock(&r->lock);
        r->stats.series_cached = r->series.len;
        pthread_mutex_unlock(&r->lock);
    }
    snprintf(s->name, sizeof(s->name), "%s", ename);
    snprintf(s->ns, sizeof(s->ns), "%s", ns);
    s->count = 1;
    s->first_ms = now;
}

static void *run(void *arg)
{
    struct kube_recorder *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (r->count == 0 && !r->stop)
            pthread_cond_wait(&r->cond, &r->lock);
        if (r->count == 0 && r->stop)
            break;
        struct pending p = r->queue[r->head];
        r->head = (r->head + 1) % r->queue_max;
        r->count--;
        r->busy = 1;
        pthread_mutex_unlock(&r->lock);
        send_one(r, &p);
        pending_release(&p);
        pthread_mutex_lock(&r->lock);
        r->busy = 0;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

enum fs_err kube_recorder_new(struct kube_recorder **out, struct kube_client *c,
                              const struct kube_recorder_opts *o)
{
    *out = NULL;
    if (!o || !o->controller || !o->instance)
        return FS_EINVAL;
    struct kube_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return FS_ENOMEM;
    r->c = c;
    r->controller = strdup(o->controller);
    r->instance = strdup(o->instance);
    r->window_s = o->series_window_s > 0 ? o->series_window_s : 600;
    r->queue_max = o->queue_max > 0 ? o->queue_max : 1000;
    r->series_max = o->series_max > 0 ? o->series_max : 4096;
    r->queue = calloc(r->queue_max, sizeof(*r->queue));
    strmap_init(&r->series);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (!r->controller || !r->instance || !r->queue ||
        pthread_create(&r->thread, NULL, run, r) != 0) {
        free(r->controller);
        free(r->instance);
        free(r->queue);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r);
        return FS_ENOMEM;
    }
    *out = r;
    return FS_OK;
}

enum fs_err kube_recorder_flush(struct kube_recorder *r, long timeout_ms)
{
    int64_t deadline = kube_mono_ms() + timeout_ms;
    pthread_mutex_lock(&r->lock);
    while ((r->count > 0 || r->busy) && kube_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    int done = r->count == 0 && !r->busy;
    pthread_mutex_unlock(&r->lock);
    return done ? FS_OK : FS_ETIMEOUT;
}

void kube_recorder_free(struct kube_recorder *r)
{
    if (!r)
        return;
    kube_recorder_flush(r, 5000);
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    /* whatever could not be sent in time is dropped */
    while (r->count > 0) {
        pending_release(&r->queue[r->head]);
        r->head = (r->head + 1) % r->queue_max;
        r->count--;
        r->stats.dropped++;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    struct strmap_iter it;
    struct strmap_entry *e;
    strmap_iter_init(&it, &r->series);
    while ((e = strmap_iter_next(&it))) {
        struct series *s = e->value;
        free(s->key);
        free(s);
    }
    strmap_release(&r->series);
    free(r->queue);
    free(r->controller);
    free(r->instance);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

enum fs_err kube_event_record(struct kube_recorder *r, const json_t *regarding, const char *type,
                              const char *reason, const char *action, const char *note_fmt, ...)
{
    struct pending p;
    char note[NOTE_MAX];
    va_list ap;
    memset(&p, 0, sizeof(p));
    if (!regarding || !type || !reason || !action || !note_fmt)
        return FS_EINVAL;
    va_start(ap, note_fmt);
    vsnprintf(note, sizeof(note), note_fmt, ap);
    va_end(ap);
    const char *name = kube_json_str(regarding, "metadata.name");
    if (!name)
        return FS_EINVAL;
    p.regarding = json_object();
    if (!p.regarding)
        return FS_ENOMEM;
    static const char *const top[] = {"apiVersion", "kind"};
    static const char *const meta[] = {"name", "namespace", "uid", "resourceVersion"};
    int bad = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *v = kube_json_str(regarding, top[i]);
        if (v)
            bad |= json_object_set_new(p.regarding, top[i], json_string(v));
    }
    for (size_t i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof(path), "metadata.%s", meta[i]);
        const char *v = kube_json_str(regarding, path);
        if (v)
            bad |= json_object_set_new(p.regarding, meta[i], json_string(v));
    }
    p.type = strdup(type);
    p.reason = strdup(reason);
    p.action = strdup(action);
    p.note = strdup(note);
    clock_gettime(CLOCK_REALTIME, &p.when);
    if (bad || !p.type || !p.reason || !p.action || !p.note) {
        pending_release(&p);
        return FS_ENOMEM;
    }
    pthread_mutex_lock(&r->lock);
    if (r->count >= r->queue_max || r->stop) {
        r->stats.dropped++;
        pthread_mutex_unlock(&r->lock);
        pending_release(&p);
        return FS_ERANGE;
    }
    r->queue[(r->head + r->count) % r->queue_max] = p;
    r->count++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return FS_OK;
}

void kube_recorder_stats(struct kube_recorder *r, struct kube_recorder_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}
