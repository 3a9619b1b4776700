/* Unit tests for lib/kube/workqueue: de-duplication, re-queue while processing, delays,
 * per-key exponential backoff, shutdown, and many producers and workers at once. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kube/workqueue.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_backoff_values(void **state)
{
    (void)state;
    assert_int_equal(kube_backoff_delay_ms(5, 1000, 0), 5);
    assert_int_equal(kube_backoff_delay_ms(5, 1000, 1), 10);
    assert_int_equal(kube_backoff_delay_ms(5, 1000, 4), 80);
    assert_int_equal(kube_backoff_delay_ms(5, 1000, 8), 1000);
    assert_int_equal(kube_backoff_delay_ms(5, 1000, 4000000000u), 1000); /* no overflow */
}

static void test_dedup_and_order(void **state)
{
    (void)state;
    struct kube_workqueue *q;
    char *k;
    assert_int_equal(kube_workqueue_new(&q, NULL), FS_OK);
    kube_workqueue_add(q, "ns/a");
    kube_workqueue_add(q, "ns/b");
    kube_workqueue_add(q, "ns/a");
    assert_int_equal(kube_workqueue_len(q), 2);
    assert_int_equal(kube_workqueue_get(q, &k, 0), FS_OK);
    assert_string_equal(k, "ns/a");
    /* added again while processing: not handed out twice at once, re-queued by done() */
    kube_workqueue_add(q, "ns/a");
    kube_workqueue_add(q, "ns/a");
    char *k2;
    assert_int_equal(kube_workqueue_get(q, &k2, 0), FS_OK);
    assert_string_equal(k2, "ns/b");
    char *none;
    assert_int_equal(kube_workqueue_get(q, &none, 0), FS_ETIMEOUT); /* ns/a is still processing */
    kube_workqueue_done(q, k2);
    free(k2);
    kube_workqueue_done(q, k);
    free(k);
    assert_int_equal(kube_workqueue_len(q), 1);
    assert_int_equal(kube_workqueue_get(q, &k, 0), FS_OK);
    assert_string_equal(k, "ns/a");
    kube_workqueue_done(q, k);
    free(k);
    assert_int_equal(kube_workqueue_len(q), 0);
    kube_workqueue_free(q);
}

static void test_add_after_and_rate_limited(void **state)
{
    (void)state;
    struct kube_workqueue *q;
    struct kube_workqueue_opts o = {.base_delay_ms = 40, .max_delay_ms = 160};
    char *k;
    assert_int_equal(kube_workqueue_new(&q, &o), FS_OK);
    int64_t t0 = now_ms();
    kube_workqueue_add_after(q, "late", 120);
    kube_workqueue_add_after(q, "early", 30);
    kube_workqueue_add_after(q, "late", 500); /* a later time does not postpone it */
    assert_int_equal(kube_workqueue_len(q), 0);
    assert_int_equal(kube_workqueue_get(q, &k, 2000), FS_OK);
    assert_string_equal(k, "early");
    assert_true(now_ms() - t0 >= 30);
    kube_workqueue_done(q, k);
    free(k);
    assert_int_equal(kube_workqueue_get(q, &k, 2000), FS_OK);
    assert_string_equal(k, "late");
    int64_t took = now_ms() - t0;
    assert_true(took >= 120 && took < 450);
    kube_workqueue_done(q, k);
    free(k);

    /* failures: 40, 80, 160, 160 ms */
    long want[] = {40, 80, 160, 160};
    for (int i = 0; i < 4; i++) {
        int64_t s = now_ms();
        assert_int_equal(kube_workqueue_add_rate_limited(q, "bad"), FS_OK);
        assert_int_equal(kube_workqueue_num_requeues(q, "bad"), (unsigned)i + 1);
        assert_int_equal(kube_workqueue_get(q, &k, 3000), FS_OK);
        int64_t waited = now_ms() - s;
        if (waited < want[i])
            fail_msg("failure %d handed out after %lld ms, backoff is %ld", i, (long long)waited, want[i]);
        kube_workqueue_done(q, k);
        free(k);
    }
    kube_workqueue_forget(q, "bad");
    assert_int_equal(kube_workqueue_num_requeues(q, "bad"), 0);
    kube_workqueue_free(q);
}

static void *shutdown_later(void *arg)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
    nanosleep(&ts, NULL);
    kube_workqueue_shutdown(arg);
    return NULL;
}

static void test_shutdown_wakes_and_drains(void **state)
{
    (void)state;
    struct kube_workqueue *q;
    char *k;
    pthread_t t;
    assert_int_equal(kube_workqueue_new(&q, NULL), FS_OK);
    pthread_create(&t, NULL, shutdown_later, q);
    assert_int_equal(kube_workqueue_get(q, &k, -1), FS_EINVAL); /* woken, not hung */
    pthread_join(t, NULL);
    kube_workqueue_free(q);

    assert_int_equal(kube_workqueue_new(&q, NULL), FS_OK);
    kube_workqueue_add(q, "x");
    kube_workqueue_shutdown(q);
    kube_workqueue_add(q, "y"); /* refused after shutdown */
    assert_int_equal(kube_workqueue_get(q, &k, 0), FS_OK);
    assert_string_equal(k, "x");
    kube_workqueue_done(q, k);
    free(k);
    assert_int_equal(kube_workqueue_get(q, &k, 0), FS_EINVAL);
    kube_workqueue_free(q);
}

#define NKEYS 200
#define NPROD 4
struct shared {
    struct kube_workqueue *q;
    pthread_mutex_t lock;
    int in_flight[NKEYS];
    int processed[NKEYS];
    int overlap;
};

static void *producer(void *arg)
{
    struct shared *s = arg;
    char key[16];
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < NKEYS; i++) {
            snprintf(key, sizeof(key), "k%d", i);
            kube_workqueue_add(s->q, key);
        }
    return NULL;
}

static void *worker(void *arg)
{
    struct shared *s = arg;
    char *k;
    while (kube_workqueue_get(s->q, &k, -1) == FS_OK) {
        int i = (int)strtol(k + 1, NULL, 10);
        pthread_mutex_lock(&s->lock);
        if (s->in_flight[i]++)
            s->overlap = 1;
        pthread_mutex_unlock(&s->lock);
        sched_yield(); /* widen the window in which a second worker could take the key */
        pthread_mutex_lock(&s->lock);
        s->in_flight[i]--;
        s->processed[i]++;
        pthread_mutex_unlock(&s->lock);
        kube_workqueue_done(s->q, k);
        free(k);
    }
    return NULL;
}

static void test_concurrent_no_key_processed_twice_at_once(void **state)
{
    (void)state;
    struct shared s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    assert_int_equal(kube_workqueue_new(&s.q, NULL), FS_OK);
    pthread_t p[NPROD], w[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&w[i], NULL, worker, &s);
    for (int i = 0; i < NPROD; i++)
        pthread_create(&p[i], NULL, producer, &s);
    for (int i = 0; i < NPROD; i++)
        pthread_join(p[i], NULL);
    kube_workqueue_shutdown(s.q);
    for (int i = 0; i < 4; i++)
        pthread_join(w[i], NULL);
    assert_int_equal(s.overlap, 0);
    for (int i = 0; i < NKEYS; i++) {
        /* every key was processed at least once, and de-duplication kept it well below
         * the 80 adds it received */
        assert_true(s.processed[i] >= 1);
        assert_true(s.processed[i] <= NPROD * 20);
    }
    kube_workqueue_free(s.q);
    pthread_mutex_destroy(&s.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_values),
        cmocka_unit_test(test_dedup_and_order),
        cmocka_unit_test(test_add_after_and_rate_limited),
        cmocka_unit_test(test_shutdown_wakes_and_drains),
        cmocka_unit_test(test_concurrent_no_key_processed_twice_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
