/* Unit tests for lib/kube/events (the recorder) against a fake API server on 127.0.0.1:
 * repeats patch one Event's series; the series table stays within series_max, forgetting
 * the least recently used entry (whose repeat then makes a new Event); entries older than
 * the window are dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"
#include "../support/fake_http.h"

/* The fake API server answers every POST with 201 and anything else (the PATCHes) with 200. */
static void answer(void *arg, const struct fake_http_req *req, struct fake_http_reply *reply)
{
    (void)arg;
    reply->status = strcmp(req->method, "POST") ? 200 : 201;
    reply->body = "{}";
}

struct env {
    struct fake_http *f;
    struct kube_config cfg;
    struct kube_client *c;
    struct kube_recorder *r;
};

static void env_start(struct env *e, size_t series_max, int window_s)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(fake_http_new(&e->f, answer, NULL), FS_OK);
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: {token: t}}]\n", fake_http_port(e->f));
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
    fake_http_free(e->f);
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

/* POSTs and PATCHes the server saw; *last_post the body of the latest POST (borrowed). */
static void counts_last(struct env *e, int *posts, int *patches, const char **last_post)
{
    *posts = *patches = 0;
    if (last_post)
        *last_post = "";
    for (int i = 0, n = fake_http_count(e->f); i < n; i++) {
        const struct fake_http_req *r = fake_http_req(e->f, i);
        if (!strcmp(r->method, "POST")) {
            (*posts)++;
            if (last_post)
                *last_post = r->body;
        } else if (!strcmp(r->method, "PATCH")) {
            (*patches)++;
        } else {
            fail_msg("unexpected %s %s", r->method, r->uri);
        }
    }
}

static void counts(struct env *e, int *posts, int *patches)
{
    counts_last(e, posts, patches, NULL);
}

static void test_repeats_patch_one_series(void **state)
{
    (void)state;
    struct env e;
    int posts, patches;
    env_start(&e, 0, 0);
    for (int i = 0; i < 4; i++)
        record(&e, "a");
    const char *last_post;
    counts_last(&e, &posts, &patches, &last_post);
    assert_int_equal(posts, 1);
    assert_int_equal(patches, 3);
    assert_non_null(strstr(last_post, "\"reason\":\"Anomalous\""));
    assert_non_null(strstr(last_post, "\"note\":\"usage of a\""));
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
