/* Unit tests for lib/kube/events (the recorder) against a fake API server on 127.0.0.1:
 * repeats patch one Event's series; the series table stays within series_max, forgetting
 * the least recently used entry (whose repeat then makes a new Event); entries older than
 * the window are dropped. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"

/* Answers every POST with 201 and every PATCH with 200, counting them; the last PATCH
 * path is kept (it names the Event). */
struct fake {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    int posts, patches;
    char last_post[4096];
};

static void *serve(void *arg)
{
    struct fake *f = arg;
    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[16384];
        size_t len = 0;
        for (;;) {
            char *end;
            ssize_t n;
            while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
                if (len + 1 >= sizeof(buf) || (n = read(c, buf + len, sizeof(buf) - len - 1)) <= 0)
                    goto next;
                len += (size_t)n;
            }
            size_t hlen = (size_t)(end - buf) + 4;
            long clen = 0;
            char *cl = strcasestr(buf, "content-length:");
            if (cl && cl < end)
                clen = strtol(cl + 15, NULL, 10);
            while (len < hlen + (size_t)clen) {
                if (len + 1 >= sizeof(buf) || (n = read(c, buf + len, sizeof(buf) - len - 1)) <= 0)
                    goto next;
                len += (size_t)n;
            }
            int post = !strncmp(buf, "POST ", 5);
            pthread_mutex_lock(&f->lock);
            if (post) {
                f->posts++;
                snprintf(f->last_post, sizeof(f->last_post), "%.*s", (int)clen, buf + hlen);
            } else {
                f->patches++;
            }
            pthread_mutex_unlock(&f->lock);
            const char *r = post ? "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                                 : "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
            memmove(buf, buf + hlen + clen, len - hlen - (size_t)clen);
            len -= hlen + (size_t)clen;
            if (write(c, r, strlen(r)) < 0)
                break;
        }
    next:
        close(c);
    }
}

struct env {
    struct fake f;
    struct kube_config cfg;
    struct kube_client *c;
    struct kube_recorder *r;
};

static void env_start(struct env *e, size_t series_max, int window_s)
{
    memset(e, 0, sizeof(*e));
    pthread_mutex_init(&e->f.lock, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    e->f.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(e->f.fd >= 0);
    assert_int_equal(bind(e->f.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(e->f.fd, 8), 0);
    getsockname(e->f.fd, (struct sockaddr *)&a, &al);
    e->f.port = ntohs(a.sin_port);
    pthread_create(&e->f.thread, NULL, serve, &e->f);
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: {token: t}}]\n", e->f.port);
    assert_int_equal(kube_config_parse(&e->cfg, yaml, strlen(yaml), NULL, NULL), FS_OK);
    struct kube_client_opts co = {.timeout_ms = 5000, .qps = -1};
    assert_int_equal(kube_client_new(&e->c, &e->cfg, &co), FS_OK);
    struct kube_recorder_opts ro = {.controller = "foresight.sh/test", .instance = "t-1",
                                    .series_window_s = window_s, .series_max = series_max};
    assert_int_equal(kube_recorder_new(&e->r, e->c, &ro), FS_OK);
}

static void env_stop(struct env *e)
{
    kube_recorder_free(e->r);
    kube_client_free(e->c);
    kube_config_release(&e->cfg);
    shutdown(e->f.fd, SHUT_RDWR);
    close(e->f.fd);
    pthread_join(e->f.thread, NULL);
    pthread_mutex_destroy(&e->f.lock);
}

/* Records one event about ConfigMap "name" and waits until it was sent. */
static void record(struct env *e, const char *name)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                          "metadata", "name", name, "namespace", "d", "uid", name);
    assert_int_equal(kube_event_record(e->r, o, "Warning", "Anomalous", "Observe", "usage of %s", name), FS_OK);
    json_decref(o);
    assert_int_equal(kube_recorder_flush(e->r, 5000), FS_OK);
}

static void counts(struct env *e, int *posts, int *patches)
{
    pthread_mutex_lock(&e->f.lock);
    *posts = e->f.posts;
    *patches = e->f.patches;
    pthread_mutex_unlock(&e->f.lock);
}

static void test_repeats_patch_one_series(void **state)
{
    (void)state;
    struct env e;
    int posts, patches;
    env_start(&e, 0, 0);
    for (int i = 0; i < 4; i++)
        record(&e, "a");
    counts(&e, &posts, &patches);
    assert_int_equal(posts, 1);
    assert_int_equal(patches, 3);
    pthread_mutex_lock(&e.f.lock);
    assert_non_null(strstr(e.f.last_post, "\"reason\":\"Anomalous\""));
    assert_non_null(strstr(e.f.last_post, "\"note\":\"usage of a\""));
    pthread_mutex_unlock(&e.f.lock);
    struct kube_recorder_stats st;
    kube_recorder_stats(e.r, &st);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.series_updates, 3);
    assert_int_equal(st.series_cached, 1);
    env_stop(&e);
}

static void test_table_bounded_lru(void **state)
{
    (void)state;
    struct env e;
    int posts, patches;
    struct kube_recorder_stats st;
    char name[16];
    env_start(&e, 3, 600);
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof(name), "o%d", i);
        record(&e, name);
        kube_recorder_stats(e.r, &st);
        assert_true(st.series_cached <= 3);
    }
    kube_recorder_stats(e.r, &st);
    assert_int_equal(st.created, 5);
    assert_int_equal(st.series_cached, 3);
    assert_int_equal(st.series_evicted, 2); /* o1 and o2 */
    /* o3 is the least recently used of o3..o5; a repeat of it makes it the most recent */
    record(&e, "o3");
    counts(&e, &posts, &patches);
    assert_int_equal(posts, 5);
    assert_int_equal(patches, 1);
    /* o1 was forgotten: its repeat is a new Event, which pushes out o4 (now the oldest) */
    record(&e, "o1");
    counts(&e, &posts, &patches);
    assert_int_equal(posts, 6);
    kube_recorder_stats(e.r, &st);
    assert_int_equal(st.series_cached, 3);
    assert_int_equal(st.series_evicted, 3);
    record(&e, "o3"); /* still remembered */
    record(&e, "o5"); /* still remembered */
    counts(&e, &posts, &patches);
    assert_int_equal(posts, 6);
    assert_int_equal(patches, 3);
    record(&e, "o4"); /* forgotten */
    counts(&e, &posts, &patches);
    assert_int_equal(posts, 7);
    /* many distinct events: the table never grows past the bound */
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        record(&e, name);
    }
    kube_recorder_stats(e.r, &st);
    assert_int_equal(st.series_cached, 3);
    assert_int_equal(st.series_evicted, 4 + 200);
    env_stop(&e);
}

static void test_expired_series_dropped(void **state)
{
    (void)state;
    struct env e;
    int posts, patches;
    struct kube_recorder_stats st;
    env_start(&e, 100, 1);
    record(&e, "old1");
    record(&e, "old2");
    kube_recorder_stats(e.r, &st);
    assert_int_equal(st.series_cached, 2);
    usleep(1100 * 1000); /* the window (1 s) passes: time itself is the condition */
    record(&e, "new");
    kube_recorder_stats(e.r, &st);
    assert_int_equal(st.series_cached, 1); /* old1 and old2 expired and were dropped */
    assert_int_equal(st.series_evicted, 0);
    /* a repeat after the window is a new Event, not a series update */
    record(&e, "old1");
    counts(&e, &posts, &patches);
    assert_int_equal(posts, 4);
    assert_int_equal(patches, 0);
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeats_patch_one_series),
        cmocka_unit_test(test_table_bounded_lru),
        cmocka_unit_test(test_expired_series_dropped),
    };
    return cmocka_run_group_tests_name("test_kube_events", tests, NULL, NULL);
}
