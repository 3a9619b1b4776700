/* The fork-join pool (pool.h): threads wait until a job's generation changes, join the job
 * and take chunks from an atomic cursor; the caller takes chunks too. When the cursor is
 * spent the caller closes the job and waits only for the threads that joined it: a thread
 * that wakes late (a futex wake-up on a virtual machine can take longer than the loop) finds
 * the job closed and leaves it alone, instead of holding the caller until it has run.
 * Both sides spin a little before they sleep: a request runs its loops back to back
 * (look-ups, then checks), and a futex sleep and wake-up cost tens of microseconds on a
 * virtual machine, as much as a quarter of a 5,000-node loop. */
#include "common/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* How long a thread spins before it sleeps: the worker waiting for the next job, the
 * caller for the worker's last chunk. Short: a spinning thread holds a CPU. */
#define WORKER_SPIN_NS 30000
#define CALLER_SPIN_NS 100000

struct fs_pool {
    pthread_mutex_t run; /* one fs_pool_for at a time */
    pthread_mutex_t mu;  /* guards what follows, up to the job */
    pthread_cond_t start, done;
    atomic_ulong gen; /* bumped for each job (under mu) */
    /* the current job's joiners: its generation's low 32 bits above JOIN_CLOSED, then the
     * count of threads in it; a thread joins only an open job of the generation it saw */
    atomic_ullong join;
    unsigned sleepers;  /* workers waiting on start */
    int caller_waits;   /* the caller waits on done */
    atomic_int stop;
    /* the current job: set under mu before gen moves, read-only while a thread is in it */
    void (*fn)(void *arg, size_t lo, size_t hi);
    void *arg;
    size_t n, grain;
    atomic_size_t next;
    unsigned n_threads;
    pthread_t *threads;
};

#define JOIN_CLOSED (1ull << 31)
#define JOIN_COUNT (JOIN_CLOSED - 1)

static unsigned long long join_word(unsigned long gen)
{
    return (unsigned long long)(uint32_t)gen << 32;
}

/* 1 when the thread is now counted in job gen, 0 when that job is closed or gone. */
static int join_job(struct fs_pool *p, unsigned long gen)
{
    unsigned long long w = atomic_load_explicit(&p->join, memory_order_acquire);
    for (;;) {
        if ((w & ~JOIN_COUNT) != join_word(gen)) /* another job's, or closed */
            return 0;
        if (atomic_compare_exchange_weak_explicit(&p->join, &w, w + 1, memory_order_acq_rel, memory_order_acquire))
            return 1;
    }
}

static void take_chunks(struct fs_pool *p)
{
    for (;;) {
        size_t lo = atomic_fetch_add_explicit(&p->next, p->grain, memory_order_relaxed);
        if (lo >= p->n)
            return;
        p->fn(p->arg, lo, p->n - lo > p->grain ? lo + p->grain : p->n);
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A bounded spin: spin_again pauses and answers 1 until spin_ns have passed since the
 * first call, then 0 (it reads the clock every 64 calls). */
struct spin {
    int64_t end;
    unsigned i;
};

static int spin_again(struct spin *sp, int64_t spin_ns)
{
    if ((sp->i++ & 63) == 0) {
        int64_t t = now_ns();
        if (!sp->end)
            sp->end = t + spin_ns;
        else if (t >= sp->end)
            return 0;
    }
    cpu_relax();
    return 1;
}

/* Spins until *v differs from old (1) or spin_ns have passed (0). */
static int spin_until_changed(atomic_ulong *v, unsigned long old, int64_t spin_ns)
{
    struct spin sp = {0, 0};
    while (atomic_load_explicit(v, memory_order_acquire) == old)
        if (!spin_again(&sp, spin_ns))
            return 0;
    return 1;
}

static void *worker(void *arg)
{
    struct fs_pool *p = arg;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until_changed(&p->gen, seen, WORKER_SPIN_NS)) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (!atomic_load(&p->stop) && atomic_load(&p->gen) == seen)
                pthread_cond_wait(&p->start, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (!join_job(p, seen))
            continue;
        take_chunks(p);
        unsigned long long w = atomic_fetch_sub_explicit(&p->join, 1, memory_order_acq_rel) - 1;
        if ((w & JOIN_CLOSED) && !(w & JOIN_COUNT)) {
            pthread_mutex_lock(&p->mu); /* the caller may be asleep */
            if (p->caller_waits)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
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
    atomic_init(&p->gen, 0);
    atomic_init(&p->join, 0);
    atomic_init(&p->stop, 0);
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
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->gen, 1); /* spinning workers see it too */
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
    unsigned long gen = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->join, join_word(gen), memory_order_relaxed);
    atomic_store_explicit(&p->gen, gen, memory_order_release); /* publishes the job */
    if (p->sleepers)
        pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    take_chunks(p);
    /* every chunk is taken: from now on no thread joins, and the ones in it are waited for */
    atomic_fetch_or_explicit(&p->join, JOIN_CLOSED, memory_order_acq_rel);
    struct spin sp = {0, 0};
    while (atomic_load_explicit(&p->join, memory_order_acquire) & JOIN_COUNT)
        if (!spin_again(&sp, CALLER_SPIN_NS)) { /* a chunk runs long: sleep until the last one is through */
            pthread_mutex_lock(&p->mu);
            p->caller_waits = 1;
            while (atomic_load(&p->join) & JOIN_COUNT)
                pthread_cond_wait(&p->done, &p->mu);
            p->caller_waits = 0;
            pthread_mutex_unlock(&p->mu);
            break;
        }
    pthread_mutex_unlock(&p->run);
}
