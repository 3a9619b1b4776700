/* The fork-join pool: every index of a loop is visited exactly once, whatever the thread
 * count, grain and size; small loops stay on the caller's thread; callers from several
 * threads at once are served one at a time; jobs find the threads spinning or asleep and
 * the caller waits for a slow one but not for one that has not woken; a pool is freed
 * cleanly. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/pool.h"

struct visits {
    unsigned char *seen; /* times each index was visited (ranges are disjoint: no races) */
    size_t n;
    pthread_t caller;
    int off_caller; /* a range ran on another thread */
    int bad_range;
    pthread_mutex_t mu;
};

static void visit(void *arg, size_t lo, size_t hi)
{
    struct visits *v = arg;
    /* no cmocka assertion here: they may only fail on the test's own thread */
    int bad = !(lo < hi && hi <= v->n);
    for (size_t i = lo; i < hi && !bad; i++)
        v->seen[i]++;
    if (bad || !pthread_equal(pthread_self(), v->caller)) {
        pthread_mutex_lock(&v->mu);
        v->off_caller |= !pthread_equal(pthread_self(), v->caller);
        v->bad_range |= bad;
        pthread_mutex_unlock(&v->mu);
    }
}

/* Runs the loop: -1 when a range was invalid or an index not visited exactly once, else
 * whether some range ran off the caller's thread. Safe on any thread. */
static int try_once(struct fs_pool *p, size_t n, size_t grain)
{
    struct visits v = {calloc(n ? n : 1, 1), n, pthread_self(), 0, 0, PTHREAD_MUTEX_INITIALIZER};
    if (!v.seen)
        return -1;
    fs_pool_for(p, n, grain, visit, &v);
    int rc = v.bad_range ? -1 : v.off_caller;
    for (size_t i = 0; i < n; i++)
        if (v.seen[i] != 1)
            rc = -1;
    free(v.seen);
    pthread_mutex_destroy(&v.mu);
    return rc;
}

/* try_once on the test's thread, failing the test with the case. */
static int run_once(struct fs_pool *p, size_t n, size_t grain)
{
    int rc = try_once(p, n, grain);
    if (rc < 0)
        fail_msg("n=%zu grain=%zu: a range out of bounds or an index not visited exactly once", n, grain);
    return rc;
}

static void test_every_index_once(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 7, 511, 512, 513, 5000, 100003};
    static const size_t grains[] = {0, 1, 3, 512, 4096};
    for (unsigned threads = 0; threads <= 3; threads++) {
        struct fs_pool *p;
        assert_int_equal(fs_pool_new(threads, &p), FS_OK);
        assert_int_equal(fs_pool_threads(p), threads);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            for (size_t g = 0; g < sizeof(grains) / sizeof(grains[0]); g++)
                run_once(p, sizes[i], grains[g]);
        fs_pool_free(p);
    }
    /* no pool: serial */
    assert_int_equal(run_once(NULL, 1000, 10), 0);
    assert_int_equal(fs_pool_threads(NULL), 0);
    fs_pool_free(NULL);
}

static void test_small_loops_stay_on_the_caller(void **state)
{
    (void)state;
    struct fs_pool *p;
    assert_int_equal(fs_pool_new(3, &p), FS_OK);
    for (int k = 0; k < 50; k++)
        assert_int_equal(run_once(p, 512, 512), 0); /* n <= grain: one range, here */
    /* a large loop in small chunks reaches the other threads at some point */
    int off = 0;
    for (int k = 0; k < 200 && !off; k++)
        off = run_once(p, 1 << 16, 64);
    assert_true(off);
    fs_pool_free(p);
}

/* Many short jobs in a row: a lost wake-up or a job started before the last one ended
 * would hang or visit an index twice. */
static void test_many_jobs(void **state)
{
    (void)state;
    struct fs_pool *p;
    assert_int_equal(fs_pool_new(2, &p), FS_OK);
    for (int k = 0; k < 3000; k++)
        run_once(p, 64 + (size_t)(k % 7), 8);
    fs_pool_free(p);
}

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* Each range takes a millisecond: the caller's spin (0.1 ms) runs out and it sleeps until
 * the worker's range is done. */
static void slow_visit(void *arg, size_t lo, size_t hi)
{
    pause_us(1000);
    visit(arg, lo, hi);
}

/* Jobs back to back (the worker still spinning), after a pause longer than its spin (the
 * worker asleep, woken by the job), and jobs slower than the caller's spin. */
static void test_spinning_and_sleeping_threads(void **state)
{
    (void)state;
    struct fs_pool *p;
    assert_int_equal(fs_pool_new(1, &p), FS_OK);
    for (int k = 0; k < 40; k++) {
        assert_true(run_once(p, 4096, 64) >= 0);
        if (k % 2)
            pause_us(500);
    }
    for (int k = 0; k < 5; k++) {
        unsigned char seen[4] = {0};
        struct visits v = {seen, 4, pthread_self(), 0, 0, PTHREAD_MUTEX_INITIALIZER};
        fs_pool_for(p, 4, 1, slow_visit, &v);
        assert_false(v.bad_range);
        for (int i = 0; i < 4; i++)
            assert_int_equal(seen[i], 1);
        pthread_mutex_destroy(&v.mu);
    }
    fs_pool_free(p);
}

/* The process's thread ids, at most max; returns how many. */
static int thread_ids(pid_t *ids, int max)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) && n < max)
        if (e->d_name[0] != '.')
            ids[n++] = (pid_t)atoi(e->d_name);
    if (d)
        closedir(d);
    return n;
}

/* The thread's state letter from /proc (R running, S sleeping, ...), '?' if unknown. */
static char thread_state(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the name may hold spaces */
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

static sem_t frozen, thawed;

/* Holds the thread that takes the signal until thawed is posted: a thread the scheduler has
 * not run yet, as a virtual machine's vCPU may leave a woken thread for a while. */
static void freeze(int sig)
{
    (void)sig;
    sem_post(&frozen);
    while (sem_wait(&thawed) != 0)
        ;
}

/* What the test waits for, said if its alarm goes off. */
static const char *volatile waiting_for = "";

static void give_up(int sig)
{
    (void)sig;
    static const char head[] = "test_common_pool: timed out: ";
    const char *what = waiting_for;
    size_t n = 0;
    while (what[n])
        n++;
    if (write(2, head, sizeof(head) - 1) < 0 || write(2, what, n) < 0 || write(2, "\n", 1) < 0)
        _exit(3);
    _exit(2);
}

/* The pool's thread, asleep, does not run when the job comes: the caller takes every chunk
 * and returns without waiting for it (a caller that waited for all threads would hang:
 * the alarm fails the test). Thawed, the thread finds the job closed, and later jobs use it. */
static void test_caller_does_not_wait_for_a_thread_that_did_not_join(void **state)
{
    (void)state;
    pid_t before[64], after[64], worker = 0;
    int nb = thread_ids(before, 64);
    struct fs_pool *p;
    assert_int_equal(fs_pool_new(1, &p), FS_OK);
    int na = thread_ids(after, 64);
    for (int i = 0; i < na && !worker; i++) {
        int old = 0;
        for (int k = 0; k < nb; k++)
            old |= after[i] == before[k];
        if (!old)
            worker = after[i];
    }
    assert_true(worker > 0);
    assert_int_equal(sem_init(&frozen, 0, 0), 0);
    assert_int_equal(sem_init(&thawed, 0, 0), 0);
    struct sigaction sa = {0}, old_usr1, old_alrm;
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = give_up;
    assert_int_equal(sigaction(SIGALRM, &sa, &old_alrm), 0);
    sa.sa_handler = freeze;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old_usr1), 0);
    alarm(20);
    /* asleep in the pool's wait (nothing else of the pool takes a lock now), so that the
     * signal does not find it holding the pool's mutex */
    waiting_for = "the pool's thread to fall asleep";
    while (thread_state(worker) != 'S')
        sched_yield();
    waiting_for = "the pool's thread to take the signal";
    assert_int_equal(syscall(SYS_tgkill, getpid(), worker, SIGUSR1), 0);
    while (sem_wait(&frozen) != 0)
        ;
    waiting_for = "the caller, which waited for a thread that never joined its job";
    for (int k = 0; k < 20; k++)
        assert_int_equal(run_once(p, 4096, 64), 0); /* all on the caller's thread */
    alarm(0);
    sem_post(&thawed);
    int helped = 0;
    for (int k = 0; k < 2000 && !helped; k++) {
        int rc = run_once(p, 4096, 16);
        assert_true(rc >= 0);
        helped = rc;
    }
    assert_true(helped); /* the thread is back in later jobs */
    fs_pool_free(p);
    sigaction(SIGUSR1, &old_usr1, NULL);
    sigaction(SIGALRM, &old_alrm, NULL);
    sem_destroy(&frozen);
    sem_destroy(&thawed);
}

struct caller_arg {
    struct fs_pool *p;
    int rounds, failures;
};

static void *caller(void *arg)
{
    struct caller_arg *a = arg;
    for (int k = 0; k < a->rounds; k++)
        a->failures += try_once(a->p, 2000, 100) < 0;
    return NULL;
}

static void test_callers_from_several_threads(void **state)
{
    (void)state;
    struct fs_pool *p;
    assert_int_equal(fs_pool_new(2, &p), FS_OK);
    pthread_t th[3];
    struct caller_arg a[3] = {{p, 300, 0}, {p, 300, 0}, {p, 300, 0}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, caller, &a[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    fs_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_small_loops_stay_on_the_caller),
        cmocka_unit_test(test_many_jobs),
        cmocka_unit_test(test_callers_from_several_threads),
        cmocka_unit_test(test_spinning_and_sleeping_threads),
        cmocka_unit_test(test_caller_does_not_wait_for_a_thread_that_did_not_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
