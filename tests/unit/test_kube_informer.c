/* Unit tests for lib/kube/informer against a fake API server on 127.0.0.1 (no cluster): the
 * list fills the cache and indexes and calls on_add; watch events update, re-index and
 * delete, with the previous state handed to on_update; bookmarks move the resourceVersion;
 * a 410 relists and delivers only the differences; has_synced waits for the list; a resync
 * replays every object; a transform applies to listed and watched objects alike. */
#include <pthread.h>
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
#include "kube/informer.h"
#include "../support/fake_http.h"

/* ---- the fake API server (tests/support/fake_http): lists answer with list_body; a watch
 * is a stream held open for the test to write events into, ending after its timeoutSeconds
 * or when the test ends it ---- */

struct fake {
    struct fake_http *srv;
    pthread_mutex_t lock;
    char *list_body;  /* current list response body */
    char *list_page2; /* the answer to a list with continue=tok (may be NULL) */
    int list_pieces;  /* write list bodies a few bytes at a time */
    int list_hold;    /* lists are held while set (to observe an unsynced informer) */
    char *answering;  /* the body being handed over (service thread only) */
    int watch_seq;    /* the request of the latest watch wait_watch saw open */
};

static void answer(void *arg, const struct fake_http_req *req, struct fake_http_reply *reply)
{
    struct fake *f = arg;
    char v[32];
    if (fake_http_query(req, "watch", v, sizeof(v)) && (!strcmp(v, "1") || !strcmp(v, "true"))) {
        reply->stream = 1;
        reply->end_after_ms = 1000L * (fake_http_query(req, "timeoutSeconds", v, sizeof(v)) ? strtol(v, NULL, 10) : 300);
        return;
    }
    int page2 = fake_http_query(req, "continue", v, sizeof(v)) && !strcmp(v, "tok");
    pthread_mutex_lock(&f->lock);
    /* the server copies the body once this returns: a set_list meanwhile must not free it */
    free(f->answering);
    f->answering = NULL;
    if (f->list_hold) {
        reply->hold = 1;
    } else {
        f->answering = strdup(page2 && f->list_page2 ? f->list_page2 : f->list_body);
        reply->body = f->answering;
        reply->pieces = f->list_pieces;
        if (!f->answering)
            reply->status = 500;
    }
    pthread_mutex_unlock(&f->lock);
}

static void fake_start(struct fake *f, const char *list_body)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->watch_seq = -1;
    f->list_body = strdup(list_body);
    assert_non_null(f->list_body);
    assert_int_equal(fake_http_new(&f->srv, answer, f), FS_OK);
}

/* After the informer is freed (its connections are closed). */
static void fake_stop(struct fake *f)
{
    fake_http_free(f->srv);
    free(f->list_body);
    free(f->list_page2);
    free(f->answering);
    pthread_mutex_destroy(&f->lock);
}

static void set_list(struct fake *f, const char *body)
{
    pthread_mutex_lock(&f->lock);
    free(f->list_body);
    f->list_body = strdup(body);
    assert_non_null(f->list_body);
    pthread_mutex_unlock(&f->lock);
}

/* Waits until the informer has watch number n open (5 s at most); returns its request. */
static const struct fake_http_req *wait_watch(struct fake *f, int n)
{
    f->watch_seq = fake_http_wait_stream(f->srv, n, 5000);
    assert_true(f->watch_seq >= 0);
    return fake_http_req(f->srv, f->watch_seq);
}

/* Writes one event line into the open watch. */
static void send_event(struct fake *f, const char *line)
{
    char buf[2048];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    assert_int_equal(fake_http_stream_write(f->srv, f->watch_seq, buf, (size_t)n), FS_OK);
}

/* ---- handlers that record what they see ---- */

struct seen {
    pthread_mutex_t lock;
    int adds, updates, deletes, resyncs;
    char log[4096]; /* "+name@rv -name@rv ~name@oldrv>newrv(oldnode>newnode) " */
};

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, a), b));
    return s ? s : "";
}

static void logf_seen(struct seen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_seen(struct seen *s, const char *fmt, ...)
{
    size_t l = strlen(s->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->log + l, sizeof(s->log) - l, fmt, ap);
    va_end(ap);
}

static void on_add(void *arg, const json_t *o)
{
    struct seen *s = arg;
    pthread_mutex_lock(&s->lock);
    s->adds++;
    logf_seen(s, "+%s@%s ", str_at(o, "metadata", "name"), str_at(o, "metadata", "resourceVersion"));
    pthread_mutex_unlock(&s->lock);
}

static void on_update(void *arg, const json_t *old, const json_t *o)
{
    struct seen *s = arg;
    pthread_mutex_lock(&s->lock);
    if (old == o || json_equal(old, o)) {
        s->resyncs++;
    } else {
        s->updates++;
        logf_seen(s, "~%s@%s>%s(%s>%s) ", str_at(o, "metadata", "name"),
                  str_at(old, "metadata", "resourceVersion"), str_at(o, "metadata", "resourceVersion"),
                  str_at(old, "spec", "nodeName"), str_at(o, "spec", "nodeName"));
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_delete(void *arg, const json_t *o)
{
    struct seen *s = arg;
    pthread_mutex_lock(&s->lock);
    s->deletes++;
    logf_seen(s, "-%s@%s ", str_at(o, "metadata", "name"), str_at(o, "metadata", "resourceVersion"));
    pthread_mutex_unlock(&s->lock);
}

static int count_of(struct seen *s, int *field)
{
    pthread_mutex_lock(&s->lock);
    int v = *field;
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* Polls until *field reaches want (5 s at most). */
static void wait_count(struct seen *s, int *field, int want)
{
    for (int i = 0; i < 500 && count_of(s, field) < want; i++)
        usleep(10000);
    assert_int_equal(count_of(s, field), want);
}

static void take_log(struct seen *s, char *out, size_t len)
{
    pthread_mutex_lock(&s->lock);
    snprintf(out, len, "%s", s->log);
    s->log[0] = '\0';
    pthread_mutex_unlock(&s->lock);
}

/* ---- fixtures ---- */

#define POD(name, rv, node)                                                                        \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"d\",\"resourceVersion\":\"" rv "\","      \
    "\"managedFields\":[{\"manager\":\"m\"}]},\"spec\":{\"nodeName\":\"" node "\"}}"
#define WPOD(name, rv, node)                                                                       \
    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"d\"," \
    "\"resourceVersion\":\"" rv "\",\"managedFields\":[{\"manager\":\"m\"}]},\"spec\":{\"nodeName\":\"" node "\"}}"
#define LIST(rv, items) "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv "\"},\"items\":[" items "]}"
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}"

struct env {
    struct fake f;
    struct kube_config cfg;
    struct kube_client *c;
    struct kube_informer *inf;
    struct seen seen;
};

static void env_start2(struct env *e, const char *list, const char *page2, int pieces,
                       const struct kube_informer_opts *extra, int with_update, int hold_list)
{
    memset(e, 0, sizeof(*e));
    pthread_mutex_init(&e->seen.lock, NULL);
    fake_start(&e->f, list);
    e->f.list_hold = hold_list;
    e->f.list_page2 = page2 ? strdup(page2) : NULL;
    e->f.list_pieces = pieces;
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "current-context: t\ncontexts: [{name: t, context: {cluster: c, user: u}}]\n"
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: {token: t}}]\n", fake_http_port(e->f.srv));
    assert_int_equal(kube_config_parse(&e->cfg, yaml, strlen(yaml), NULL, NULL), FS_OK);
    struct kube_client_opts co = {.timeout_ms = 5000, .qps = -1, .backoff_base_ms = 20, .backoff_max_ms = 100};
    assert_int_equal(kube_client_new(&e->c, &e->cfg, &co), FS_OK);
    struct kube_informer_opts o = {.ref = {.version = "v1", .resource = "pods", .namespace = "d"}};
    if (extra) {
        o.resync_s = extra->resync_s;
        o.transform = extra->transform;
        o.keep_trees = extra->keep_trees;
    }
    assert_int_equal(kube_informer_new(&e->inf, e->c, &o), FS_OK);
    assert_int_equal(kube_informer_add_index(e->inf, "node", kube_index_pod_node), FS_OK);
    struct kube_informer_handlers h = {.on_add = on_add, .on_update = with_update ? on_update : NULL,
                                       .on_delete = on_delete, .arg = &e->seen};
    assert_int_equal(kube_informer_add_handlers(e->inf, &h), FS_OK);
    assert_int_equal(kube_informer_start(e->inf), FS_OK);
}

static void env_start(struct env *e, const char *list, const struct kube_informer_opts *extra,
                      int with_update, int hold_list)
{
    env_start2(e, list, NULL, 0, extra, with_update, hold_list);
}

static void env_stop(struct env *e)
{
    kube_informer_free(e->inf);
    kube_client_free(e->c);
    kube_config_release(&e->cfg);
    fake_stop(&e->f);
    pthread_mutex_destroy(&e->seen.lock);
}

/* Names of the objects under an index key, sorted, space-separated. */
static void names_by_index(struct kube_informer *inf, const char *key, char *out, size_t len)
{
    json_t *arr = kube_informer_by_index(inf, "node", key);
    const char *names[16];
    size_t n = 0, i;
    json_t *o;
    assert_non_null(arr);
    json_array_foreach(arr, i, o) if (n < 16) names[n++] = str_at(o, "metadata", "name");
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
            const char *t = names[b];
            names[b] = names[b - 1];
            names[b - 1] = t;
        }
    out[0] = '\0';
    for (i = 0; i < n; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", names[i]);
    json_decref(arr);
}

static const char *rv_of(struct kube_informer *inf, const char *name, char *buf, size_t len)
{
    json_t *o = kube_informer_get(inf, "d", name);
    snprintf(buf, len, "%s", o ? str_at(o, "metadata", "resourceVersion") : "(none)");
    json_decref(o);
    return buf;
}

/* ---- tests ---- */

static void run_cache_add_update_delete(int keep_trees)
{
    struct env e;
    struct kube_informer_opts o = {.keep_trees = keep_trees};
    char buf[4096], rv[32];
    env_start(&e, LIST("10", POD("a", "5", "n1") "," POD("b", "6", "n1") "," POD("c", "7", "n2")), &o, 1, 0);
    assert_int_equal(kube_informer_wait_synced(e.inf, 5000), FS_OK);
    assert_true(kube_informer_has_synced(e.inf));
    assert_int_equal(kube_informer_len(e.inf), 3);
    wait_count(&e.seen, &e.seen.adds, 3);
    names_by_index(e.inf, "n1", buf, sizeof(buf));
    assert_string_equal(buf, "a b");
    names_by_index(e.inf, "n2", buf, sizeof(buf));
    assert_string_equal(buf, "c");
    names_by_index(e.inf, "n9", buf, sizeof(buf));
    assert_string_equal(buf, "");
    assert_null(kube_informer_by_index(e.inf, "no-such-index", "n1"));
    /* list items get the kind and apiVersion a watch object has */
    json_t *a = kube_informer_get(e.inf, "d", "a");
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "Pod");
    assert_string_equal(json_string_value(json_object_get(a, "apiVersion")), "v1");
    json_decref(a);
    assert_null(kube_informer_get(e.inf, "d", "zz"));
    kube_informer_resource_version(e.inf, rv, sizeof(rv));
    assert_string_equal(rv, "10");

    /* the watch resumes from the list's version */
    const struct fake_http_req *w = wait_watch(&e.f, 1);
    assert_non_null(strstr(w->uri, "resourceVersion=10&"));
    assert_non_null(strstr(w->uri, "allowWatchBookmarks=true"));

    /* a moves to n2: on_update gets the old and the new state, the index follows */
    send_event(&e.f, EV("MODIFIED", WPOD("a", "11", "n2")));
    send_event(&e.f, EV("ADDED", WPOD("d", "12", "n1")));
    send_event(&e.f, EV("DELETED", WPOD("b", "13", "n1")));
    send_event(&e.f, EV("BOOKMARK", "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"20\"}}"));
    wait_count(&e.seen, &e.seen.deletes, 1);
    take_log(&e.seen, buf, sizeof(buf));
    assert_non_null(strstr(buf, "~a@5>11(n1>n2) +d@12 -b@6 "));
    assert_int_equal(count_of(&e.seen, &e.seen.updates), 1);
    assert_int_equal(kube_informer_len(e.inf), 3);
    assert_string_equal(rv_of(e.inf, "a", rv, sizeof(rv)), "11");
    assert_string_equal(rv_of(e.inf, "b", rv, sizeof(rv)), "(none)");
    names_by_index(e.inf, "n1", buf, sizeof(buf));
    assert_string_equal(buf, "d");
    names_by_index(e.inf, "n2", buf, sizeof(buf));
    assert_string_equal(buf, "a c");
    /* the bookmark moved the version without an event */
    for (int i = 0; i < 500; i++) {
        kube_informer_resource_version(e.inf, rv, sizeof(rv));
        if (!strcmp(rv, "20"))
            break;
        usleep(10000);
    }
    assert_string_equal(rv, "20");
    struct kube_informer_stats st;
    kube_informer_stats(e.inf, &st);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.lists, 1);

    /* the list of everything */
    json_t *all = kube_informer_list(e.inf);
    assert_int_equal(json_array_size(all), 3);
    json_decref(all);
    env_stop(&e);
}

static void test_cache_add_update_delete(void **state)
{
    (void)state;
    run_cache_add_update_delete(0);
}

static void test_cache_add_update_delete_trees(void **state)
{
    (void)state;
    run_cache_add_update_delete(1);
}

/* A 410 relists at the latest version and delivers only what changed: an object whose list
 * item is the version already seen on the watch is not reported again. */
static void test_gone_relists_and_delivers_differences(void **state)
{
    (void)state;
    struct env e;
    char buf[4096], rv[32];
    env_start(&e, LIST("10", POD("a", "5", "n1") "," POD("b", "6", "n1") "," POD("c", "7", "n2")), NULL, 1, 0);
    assert_int_equal(kube_informer_wait_synced(e.inf, 5000), FS_OK);
    wait_watch(&e.f, 1);
    send_event(&e.f, EV("MODIFIED", WPOD("a", "11", "n1")));
    wait_count(&e.seen, &e.seen.updates, 1);
    take_log(&e.seen, buf, sizeof(buf));
    /* meanwhile: b deleted, c moved to n1, e created */
    set_list(&e.f, LIST("30", POD("a", "11", "n1") "," POD("c", "25", "n1") "," POD("e", "26", "n2")));
    send_event(&e.f, EV("ERROR", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                 "\"message\":\"too old resource version: 11 (29)\",\"reason\":\"Expired\",\"code\":410}"));
    wait_count(&e.seen, &e.seen.deletes, 1);
    wait_count(&e.seen, &e.seen.adds, 4);
    wait_count(&e.seen, &e.seen.updates, 2);
    take_log(&e.seen, buf, sizeof(buf));
    assert_non_null(strstr(buf, "~c@7>25(n2>n1) "));
    assert_non_null(strstr(buf, "+e@26 "));
    assert_non_null(strstr(buf, "-b@6 "));
    assert_null(strstr(buf, "a@")); /* a is unchanged: no event for it */
    struct kube_informer_stats st;
    kube_informer_stats(e.inf, &st);
    assert_int_equal(st.gone, 1);
    assert_int_equal(st.lists, 2);
    kube_informer_resource_version(e.inf, rv, sizeof(rv));
    assert_string_equal(rv, "30");
    names_by_index(e.inf, "n1", buf, sizeof(buf));
    assert_string_equal(buf, "a c");
    names_by_index(e.inf, "n2", buf, sizeof(buf));
    assert_string_equal(buf, "e");
    /* and it watches again from the new list */
    assert_non_null(strstr(wait_watch(&e.f, 2)->uri, "resourceVersion=30&"));
    env_stop(&e);
}

static void test_has_synced_waits_for_the_list(void **state)
{
    (void)state;
    struct env e;
    env_start(&e, LIST("3", POD("a", "2", "n1")), NULL, 1, 1);
    assert_int_equal(kube_informer_wait_synced(e.inf, 200), FS_ETIMEOUT);
    assert_false(kube_informer_has_synced(e.inf));
    assert_int_equal(kube_informer_len(e.inf), 0);
    pthread_mutex_lock(&e.f.lock);
    e.f.list_hold = 0;
    pthread_mutex_unlock(&e.f.lock);
    fake_http_rerun_held(e.f.srv);
    assert_int_equal(kube_informer_wait_synced(e.inf, 5000), FS_OK);
    assert_true(kube_informer_has_synced(e.inf));
    assert_int_equal(kube_informer_len(e.inf), 1);
    /* on_add ran before has_synced said yes */
    assert_int_equal(count_of(&e.seen, &e.seen.adds), 1);
    env_stop(&e);
}

/* resync_s = 1: the watch rotates every second and each cached object comes back to
 * on_update as (obj, obj). */
static void test_periodic_resync(void **state)
{
    (void)state;
    struct env e;
    struct kube_informer_opts o = {.resync_s = 1};
    env_start(&e, LIST("10", POD("a", "5", "n1") "," POD("b", "6", "n2")), &o, 1, 0);
    assert_int_equal(kube_informer_wait_synced(e.inf, 5000), FS_OK);
    for (int i = 0; i < 500 && count_of(&e.seen, &e.seen.resyncs) < 4; i++)
        usleep(10000);
    assert_true(count_of(&e.seen, &e.seen.resyncs) >= 4); /* both objects, twice */
    assert_int_equal(count_of(&e.seen, &e.seen.updates), 0);
    struct kube_informer_stats st;
    kube_informer_stats(e.inf, &st);
    assert_true(st.watches >= 2);
    assert_int_equal(st.lists, 1);
    env_stop(&e);
}

/* Without an on_update handler the previous state is not needed; the cache and the indexes
 * still follow the events. A transform applies to listed and watched objects. */
static void test_no_update_handler_and_transform(void **state)
{
    (void)state;
    struct env e;
    char buf[4096], rv[32];
    struct kube_informer_opts o = {.transform = kube_transform_strip_managed_fields};
    env_start(&e, LIST("10", POD("a", "5", "n1")), &o, 0, 0);
    assert_int_equal(kube_informer_wait_synced(e.inf, 5000), FS_OK);
    json_t *a = kube_informer_get(e.inf, "d", "a");
    assert_non_null(a);
    assert_null(json_object_get(json_object_get(a, "metadata"), "managedFields"));
    json_decref(a);
    wait_watch(&e.f, 1);
    send_event(&e.f, EV("MODIFIED", WPOD("a", "11", "n2")));
    send_event(&e.f, EV("ADDED", WPOD("b", "12", "n2")));
    wait_count(&e.seen, &e.seen.adds, 2);
    assert_string_equal(rv_of(e.inf, "a", rv, sizeof(rv)), "11");
    a = kube_informer_get(e.inf, "d", "a");
    assert_null(json_object_get(json_object_get(a, "metadata"), "managedFields"));
    json_decref(a);
    names_by_index(e.inf, "n1", buf, sizeof(buf));
    assert_string_equal(buf, "");
    names_by_index(e.inf, "n2", buf, sizeof(buf));
    assert_string_equal(buf, "a b");
    env_stop(&e);
}

/* Lists read as they arrive, split anywhere; pages followed; other shapes of a list body
 * (metadata after the items, items null) read whole. Every way gives the same cache. */
static void test_list_shapes_and_pages(void **state)
{
    (void)state;
    static const struct {
        const char *page1, *page2, *names, *rv;
    } cases[] = {
        {LIST("10", POD("a", "5", "n1") "," POD("b\\\"}]{[", "6", "n1") "," POD("c", "7", "n2")), NULL, "a b\"}]{[ c", "10"},
        {"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"8\",\"continue\":\"tok\"},"
         "\"items\":[" POD("a", "5", "n1") "]}",
         LIST("9", POD("b", "6", "n1") "," POD("c", "7", "n2")), "a b c", "9"},
        {"{\"items\":[" POD("a", "5", "n1") "," POD("b", "6", "n2") "],\"kind\":\"PodList\",\"apiVersion\":\"v1\","
         "\"metadata\":{\"resourceVersion\":\"12\"}}", NULL, "a b", "12"},
        {"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"4\"},\"items\":null}", NULL, "", "4"},
        {" {\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\": [ ] } ", NULL, "", "5"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int pieces = 0; pieces <= 1; pieces++) {
            struct env e;
            char rv[32], names[256] = "";
            env_start2(&e, cases[i].page1, cases[i].page2, pieces, NULL, 1, 0);
            assert_int_equal(kube_informer_wait_synced(e.inf, 5000), FS_OK);
            json_t *all = kube_informer_list(e.inf);
            const char *got[8];
            size_t n = 0, k;
            json_t *o;
            json_array_foreach(all, k, o) {
                assert_true(n < 8);
                got[n++] = str_at(o, "metadata", "name");
                assert_string_equal(json_string_value(json_object_get(o, "kind")), "Pod");
            }
            for (size_t a = 1; a < n; a++)
                for (size_t b = a; b > 0 && strcmp(got[b - 1], got[b]) > 0; b--) {
                    const char *t = got[b];
                    got[b] = got[b - 1];
                    got[b - 1] = t;
                }
            for (k = 0; k < n; k++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", k ? " " : "", got[k]);
            json_decref(all);
            if (strcmp(names, cases[i].names) != 0)
                fail_msg("case %zu (pieces %d): cached %s, want %s", i, pieces, names, cases[i].names);
            kube_informer_resource_version(e.inf, rv, sizeof(rv));
            assert_string_equal(rv, cases[i].rv);
            assert_int_equal(count_of(&e.seen, &e.seen.adds), (int)n);
            env_stop(&e);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_add_update_delete),
        cmocka_unit_test(test_cache_add_update_delete_trees),
        cmocka_unit_test(test_gone_relists_and_delivers_differences),
        cmocka_unit_test(test_has_synced_waits_for_the_list),
        cmocka_unit_test(test_periodic_resync),
        cmocka_unit_test(test_no_update_handler_and_transform),
        cmocka_unit_test(test_list_shapes_and_pages),
    };
    return cmocka_run_group_tests_name("test_kube_informer", tests, NULL, NULL);
}
