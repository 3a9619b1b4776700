/* The fork-join pool (pool.h): threads sleep on a condition variable until a job's
 * generation changes, take chunks from an atomic cursor, and the last one out signals the
 * caller, which has been taking chunks too. */
#include "common/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct fs_pool {
    pthread_mutex_t run; /* one fs_pool_for at a time */
    pthread_mutex_t mu;  /* guards what follows, up to the job */
    pthread_cond_t start, done;
    unsigned long gen; /* bumped for each job */
    unsigned busy;     /* threads not yet through the current job */
    int stop;
    /* the current job: set under mu before gen moves, read-only while busy > 0 */
    void (*fn)(void *arg, size_t lo, size_t hi);
    void *arg;
    size_t n, grain;
    atomic_size_t next;
    unsigned n_threads;
    pthread_t *threads;
};

static void take_chunks(struct fs_pool *p)
{
    for (;;) {
        size_t lo = atomic_fetch_add_explicit(&p->next, p->grain, memory_order_relaxed);
        if (lo >= p->n)
            return;
        p->fn(p->arg, lo, p->n - lo > p->grain ? lo + p->grain : p->n);
    }
}

static void *worker(void *arg)
{
    struct fs_pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        take_chunks(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

enum fs_err fs_pool_new(unsigned threads, struct fs_pool **out)
{
    *out = NULL;
    struct fs_pool *p = calloc(1, sizeof(*p));
    if (!p || (threads && !(p->threads = calloc(threads, sizeof(*p->threads))))) {
        free(p);
        return FS_ENOMEM;
    }
    pthread_mutex_init(&p->run, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    for (; p->n_threads < threads; p->n_threads++)
        if (pthread_create(&p->threads[p->n_threads], NULL, worker, p) != 0) {
            fs_pool_free(p);
            return FS_EIO;
        }
    *out = p;
    return FS_OK;
}

void fs_pool_free(struct fs_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->run);
    free(p->threads);
    free(p);
}

unsigned fs_pool_threads(const struct fs_pool *p)
{
    return p ? p->n_threads : 0;
}

void fs_pool_for(struct fs_pool *p, size_t n, size_t grain, void (*fn)(void *arg, size_t lo, size_t hi), void *arg)
{
    if (n == 0)
        return;
    unsigned workers = fs_pool_threads(p) + 1;
    if (grain == 0)
        grain = n / workers + (n % workers != 0);
    if (workers == 1 || n <= grain) {
        fn(arg, 0, n);
        return;
    }
    pthread_mutex_lock(&p->run);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->busy = p->n_threads;
    p->gen++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    take_chunks(p);
    pthread_mutex_lock(&p->mu);
    while (p->busy)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->run);
}
