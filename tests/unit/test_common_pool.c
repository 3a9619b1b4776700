/* The fork-join pool: every index of a loop is visited exactly once, whatever the thread
 * count, grain and size; small loops stay on the caller's thread; callers from several
 * threads at once are served one at a time; jobs find the threads spinning or asleep and
 * the caller waits for a slow one; a pool is freed cleanly. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
