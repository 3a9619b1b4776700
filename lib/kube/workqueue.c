/* Rate-limited deduplicating work queue. Invariants: a key is in `dirty` iff it must be
 * processed again; it is in the FIFO iff dirty and not processing; `delayed` maps a key to
 * the earliest time it is due, and heap entries that disagree with it are stale. */
#include "kube/workqueue.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/internal.h"
#include "kube/strmap.h"

struct delayed_item {
    int64_t at_ms;
    char *key;
};

struct kube_workqueue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long base_ms, max_ms;
    char **fifo;            /* ring buffer of owned keys */
    size_t head, count, cap;
    struct strmap dirty, processing, failures, delayed;
    struct delayed_item *heap;
    size_t heap_len, heap_cap;
    int shutting_down;
};

long kube_backoff_delay_ms(long base_ms, long max_ms, unsigned failures)
{
    if (base_ms <= 0)
        base_ms = 1;
    long d = base_ms;
    for (unsigned i = 0; i < failures; i++) {
        if (d >= max_ms / 2) {
            d = max_ms;
            break;
        }
        d *= 2;
    }
    return d > max_ms ? max_ms : d;
}

enum fs_err kube_workqueue_new(struct kube_workqueue **out, const struct kube_workqueue_opts *o)
{
    struct kube_workqueue *q = calloc(1, sizeof(*q));
    *out = NULL;
    if (!q)
        return FS_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->lock, NULL);
    q->base_ms = o && o->base_delay_ms > 0 ? o->base_delay_ms : 5;
    q->max_ms = o && o->max_delay_ms > 0 ? o->max_delay_ms : 1000000;
    strmap_init(&q->dirty);
    strmap_init(&q->processing);
    strmap_init(&q->failures);
    strmap_init(&q->delayed);
    *out = q;
    return FS_OK;
}

void kube_workqueue_free(struct kube_workqueue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++)
        free(q->fifo[(q->head + i) % q->cap]);
    free(q->fifo);
    for (size_t i = 0; i < q->heap_len; i++)
        free(q->heap[i].key);
    free(q->heap);
    strmap_release(&q->dirty);
    strmap_release(&q->processing);
    strmap_release(&q->failures);
    strmap_release(&q->delayed);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static enum fs_err fifo_push(struct kube_workqueue *q, const char *key)
{
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 64;
        char **nf = malloc(ncap * sizeof(*nf));
        if (!nf)
            return FS_ENOMEM;
        for (size_t i = 0; i < q->count; i++)
            nf[i] = q->fifo[(q->head + i) % q->cap];
        free(q->fifo);
        q->fifo = nf;
        q->head = 0;
        q->cap = ncap;
    }
    char *k = strdup(key);
    if (!k)
        return FS_ENOMEM;
    q->fifo[(q->head + q->count) % q->cap] = k;
    q->count++;
    return FS_OK;
}

/* Called with the lock held. */
static enum fs_err add_locked(struct kube_workqueue *q, const char *key)
{
    if (q->shutting_down || strmap_get(&q->dirty, key))
        return FS_OK;
    enum fs_err rc = strmap_put(&q->dirty, key, (void *)1, NULL);
    if (rc != FS_OK)
        return rc;
    if (strmap_get(&q->processing, key))
        return FS_OK; /* done() queues it again */
    rc = fifo_push(q, key);
    if (rc != FS_OK) {
        strmap_del(&q->dirty, key);
        return rc;
    }
    pthread_cond_signal(&q->cond);
    return FS_OK;
}

enum fs_err kube_workqueue_add(struct kube_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    enum fs_err rc = add_locked(q, key);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static void heap_swap(struct delayed_item *a, struct delayed_item *b)
{
    struct delayed_item t = *a;
    *a = *b;
    *b = t;
}

static void heap_pop(struct kube_workqueue *q)
{
    q->heap[0] = q->heap[--q->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->heap_len && q->heap[l].at_ms < q->heap[m].at_ms)
            m = l;
        if (r < q->heap_len && q->heap[r].at_ms < q->heap[m].at_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(&q->heap[i], &q->heap[m]);
        i = m;
    }
}

static enum fs_err add_after_locked(struct kube_workqueue *q, const char *key, long delay_ms)
{
    if (q->shutting_down)
        return FS_OK;
    if (delay_ms <= 0)
        return add_locked(q, key);
    int64_t at = kube_mono_ms() + delay_ms;
    void *cur = strmap_get(&q->delayed, key);
    if (cur && (int64_t)(intptr_t)cur <= at)
        return FS_OK; /* already due earlier */
    if (q->heap_len == q->heap_cap) {
        size_t ncap = q->heap_cap ? q->heap_cap * 2 : 32;
        struct delayed_item *nh = realloc(q->heap, ncap * sizeof(*nh));
        if (!nh)
            return FS_ENOMEM;
        q->heap = nh;
        q->heap_cap = ncap;
    }
    char *k = strdup(key);
    if (!k || strmap_put(&q->delayed, key, (void *)(intptr_t)at, NULL) != FS_OK) {
        free(k);
        return FS_ENOMEM;
    }
    size_t i = q->heap_len++;
    q->heap[i].at_ms = at;
    q->heap[i].key = k;
    while (i > 0 && q->heap[(i - 1) / 2].at_ms > q->heap[i].at_ms) {
        heap_swap(&q->heap[(i - 1) / 2], &q->heap[i]);
        i = (i - 1) / 2;
    }
    pthread_cond_signal(&q->cond); /* a waiter may need to wake earlier */
    return FS_OK;
}

enum fs_err kube_workqueue_add_after(struct kube_workqueue *q, const char *key, long delay_ms)
{
    pthread_mutex_lock(&q->lock);
    enum fs_err rc = add_after_locked(q, key, delay_ms);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

enum fs_err kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    unsigned n = (unsigned)(uintptr_t)strmap_get(&q->failures, key);
    long d = kube_backoff_delay_ms(q->base_ms, q->max_ms, n);
    enum fs_err rc = strmap_put(&q->failures, key, (void *)(uintptr_t)(n + 1), NULL);
    if (rc == FS_OK)
        rc = add_after_locked(q, key, d);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void kube_workqueue_forget(struct kube_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    strmap_del(&q->failures, key);
    pthread_mutex_unlock(&q->lock);
}

unsigned kube_workqueue_num_requeues(struct kube_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    unsigned n = (unsigned)(uintptr_t)strmap_get(&q->failures, key);
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Moves due delayed keys into the queue; returns ms until the next one (or -1). */
static int64_t promote_due(struct kube_workqueue *q)
{
    int64_t now = kube_mono_ms();
    while (q->heap_len > 0) {
        struct delayed_item top = q->heap[0];
        void *cur = strmap_get(&q->delayed, top.key);
        if (!cur || (int64_t)(intptr_t)cur != top.at_ms) {
            heap_pop(q); /* superseded by an earlier time */
            free(top.key);
            continue;
        }
        if (top.at_ms > now)
            return top.at_ms - now;
        heap_pop(q);
        strmap_del(&q->delayed, top.key);
        add_locked(q, top.key); /* on ENOMEM the key is lost; nothing better to do */
        free(top.key);
    }
    return -1;
}

enum fs_err kube_workqueue_get(struct kube_workqueue *q, char **key, long timeout_ms)
{
    enum fs_err rc;
    int64_t deadline = timeout_ms >= 0 ? kube_mono_ms() + timeout_ms : INT64_MAX;
    *key = NULL;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        int64_t next = promote_due(q);
        if (q->count > 0) {
            char *k = q->fifo[q->head];
            q->head = (q->head + 1) % q->cap;
            q->count--;
            if (strmap_put(&q->processing, k, (void *)1, NULL) != FS_OK) {
                fifo_push(q, k); /* put it back; the caller retries */
                free(k);
                rc = FS_ENOMEM;
                goto out;
            }
            strmap_del(&q->dirty, k);
            *key = k;
            rc = FS_OK;
            goto out;
        }
        if (q->shutting_down) {
            rc = FS_EINVAL;
            goto out;
        }
        int64_t now = kube_mono_ms();
        if (now >= deadline) {
            rc = FS_ETIMEOUT;
            goto out;
        }
        int64_t wait = deadline - now;
        if (next >= 0 && next < wait)
            wait = next;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (wait > 3600000)
            wait = 3600000;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    }
out:
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void kube_workqueue_done(struct kube_workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    strmap_del(&q->processing, key);
    if (strmap_get(&q->dirty, key) && fifo_push(q, key) == FS_OK)
        pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void kube_workqueue_shutdown(struct kube_workqueue *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutting_down = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

size_t kube_workqueue_len(struct kube_workqueue *q)
{
    pthread_mutex_lock(&q->lock);
    promote_due(q);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
