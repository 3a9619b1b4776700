/* The e2e driver for lib/kube (tests/e2e/test_kube*.sh run it as $BIN/e2e/kube_e2e): each
 * subcommand exercises one part of the client against the real kube-apiserver, prints what
 * it measured, and exits non-zero with a reason on the first wrong answer. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/lease.h"
#include "kube/strmap.h"
#include "kube/watch.h"

static struct kube_config cfg;
static struct kube_client *cl;
static volatile sig_atomic_t got_signal;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            die(__VA_ARGS__);                                                                      \
    } while (0)

static const char *sstr(const struct kube_status *st)
{
    static char buf[800];
    return kube_status_str(st, buf, sizeof(buf));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(o, a), b));
}

static void connect_cluster(void)
{
    enum fs_err rc = kube_config_load_default(&cfg, NULL);
    CHECK(rc == FS_OK, "load kubeconfig: %s: %s", fs_strerror(rc), cfg.errbuf);
    struct kube_client_opts o = {.qps = 200, .burst = 400};
    CHECK(kube_client_new(&cl, &cfg, &o) == FS_OK, "client");
}

/* ---- crud: ConfigMaps, a CRD, and subresources ---- */

static json_t *cm(const char *ns, const char *name, const char *v)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "e2e",
                     "kube", "data", "k", v);
}

static void crud_configmaps(const char *ns)
{
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = ns};
    struct kube_ref one = coll;
    one.name = "cm1";
    struct kube_status st;
    json_t *out = NULL, *obj = cm(ns, "cm1", "one");
    CHECK(kube_create(cl, &coll, obj, NULL, &out, &st) == FS_OK, "create cm: %s", sstr(&st));
    char rv1[64];
    snprintf(rv1, sizeof(rv1), "%s", str_at(out, "metadata", "resourceVersion"));
    json_decref(out);
    CHECK(kube_create(cl, &coll, obj, NULL, NULL, &st) == FS_ECONFLICT && st.code == 409 &&
              !strcmp(st.reason, "AlreadyExists"), "second create: want AlreadyExists, got %s", sstr(&st));
    json_decref(obj);

    CHECK(kube_get(cl, &one, &out, &st) == FS_OK, "get: %s", sstr(&st));
    CHECK(!strcmp(str_at(out, "data", "k"), "one"), "get data");
    /* update with the current version, then again with the stale one: 409 Conflict */
    json_t *upd = json_deep_copy(out);
    json_object_set_new(json_object_get(upd, "data"), "k", json_string("two"));
    CHECK(kube_update(cl, &one, upd, NULL, NULL, &st) == FS_OK, "update: %s", sstr(&st));
    CHECK(kube_update(cl, &one, upd, NULL, NULL, &st) == FS_ECONFLICT && st.code == 409 &&
              !strcmp(st.reason, "Conflict"), "stale update: want 409 Conflict, got %s", sstr(&st));
    json_decref(upd);
    json_decref(out);

    json_t *mp = json_pack("{s:{s:s}}", "data", "m", "merged");
    CHECK(kube_patch(cl, &one, KUBE_PATCH_MERGE, mp, NULL, &out, &st) == FS_OK, "merge patch: %s", sstr(&st));
    CHECK(!strcmp(str_at(out, "data", "m"), "merged") && !strcmp(str_at(out, "data", "k"), "two"), "merge result");
    json_decref(mp);
    json_decref(out);
    json_t *jp = json_pack("[{s:s, s:s, s:s}, {s:s, s:s}]", "op", "replace", "path", "/data/k",
                           "value", "three", "op", "remove", "path", "/data/m");
    CHECK(kube_patch(cl, &one, KUBE_PATCH_JSON, jp, NULL, &out, &st) == FS_OK, "json patch: %s", sstr(&st));
    CHECK(!strcmp(str_at(out, "data", "k"), "three") && !json_object_get(json_object_get(out, "data"), "m"),
          "json patch result");
    json_decref(jp);
    json_decref(out);
    /* a JSON patch whose test fails is refused with the server's reason */
    jp = json_pack("[{s:s, s:s, s:s}]", "op", "test", "path", "/data/k", "value", "nope");
    CHECK(kube_patch(cl, &one, KUBE_PATCH_JSON, jp, NULL, NULL, &st) != FS_OK && st.code >= 400 &&
              st.message[0], "failed json patch test must be refused, got %s", sstr(&st));
    json_decref(jp);

    /* server-side apply: two managers; a conflicting field needs force */
    json_t *ap = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
                           "ConfigMap", "metadata", "name", "cm1", "namespace", ns, "data", "a", "x");
    struct kube_write_opts w1 = {.field_manager = "e2e-one"};
    CHECK(kube_patch(cl, &one, KUBE_PATCH_APPLY, ap, &w1, &out, &st) == FS_OK, "apply: %s", sstr(&st));
    CHECK(!strcmp(str_at(out, "data", "a"), "x"), "apply result");
    json_decref(out);
    json_object_set_new(json_object_get(ap, "data"), "a", json_string("y"));
    struct kube_write_opts w2 = {.field_manager = "e2e-two"};
    CHECK(kube_patch(cl, &one, KUBE_PATCH_APPLY, ap, &w2, NULL, &st) == FS_ECONFLICT && st.code == 409,
          "apply conflict: want 409, got %s", sstr(&st));
    w2.force = 1;
    CHECK(kube_patch(cl, &one, KUBE_PATCH_APPLY, ap, &w2, &out, &st) == FS_OK, "forced apply: %s", sstr(&st));
    CHECK(!strcmp(str_at(out, "data", "a"), "y"), "forced apply result");
    json_decref(out);
    json_decref(ap);
    struct kube_write_opts nofm = {0};
    CHECK(kube_patch(cl, &one, KUBE_PATCH_APPLY, mp, &nofm, NULL, &st) == FS_EINVAL, "apply without field manager");

    /* delete with a propagation policy and a precondition on a wrong uid */
    struct kube_delete_opts bad = {.propagation = "Background", .grace_period_s = -1,
                                   .precondition_uid = "00000000-0000-0000-0000-000000000000"};
    CHECK(kube_delete(cl, &one, &bad, NULL, &st) == FS_ECONFLICT, "delete with wrong uid precondition: %s", sstr(&st));
    /* Background: Foreground would wait for the garbage collector of kube-controller-manager */
    struct kube_delete_opts del = {.propagation = "Background", .grace_period_s = 0};
    CHECK(kube_delete(cl, &one, &del, NULL, &st) == FS_OK, "delete: %s", sstr(&st));
    for (int i = 0; i < 100 && kube_get(cl, &one, NULL, &st) == FS_OK; i++)
        sleep_ms(100);
    CHECK(kube_get(cl, &one, NULL, &st) == FS_ENOTFOUND && st.code == 404 && !strcmp(st.reason, "NotFound"),
          "get after delete: want 404, got %s", sstr(&st));
    printf("configmaps: create, conflict, update, merge/json/apply patch, delete ok\n");
}

static void crud_crd(const char *ns)
{
    struct kube_status st;
    struct kube_ref crds = {.group = "apiextensions.k8s.io", .version = "v1",
                            .resource = "customresourcedefinitions"};
    const char *crd_json =
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.e2e.foresight.sh\"},"
        "\"spec\":{\"group\":\"e2e.foresight.sh\",\"scope\":\"Namespaced\","
        "\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
        "\"subresources\":{\"status\":{},\"scale\":{\"specReplicasPath\":\".spec.replicas\","
        "\"statusReplicasPath\":\".status.replicas\"}},"
        "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
        "\"spec\":{\"type\":\"object\",\"properties\":{\"size\":{\"type\":\"integer\"},\"replicas\":{\"type\":\"integer\"}}},"
        "\"status\":{\"type\":\"object\",\"properties\":{\"phase\":{\"type\":\"string\"},\"replicas\":{\"type\":\"integer\"}}}}}}}]}}";
    json_t *crd = json_loads(crd_json, 0, NULL);
    enum fs_err rc = kube_create(cl, &crds, crd, NULL, NULL, &st);
    CHECK(rc == FS_OK || rc == FS_ECONFLICT, "create crd: %s", sstr(&st));
    json_decref(crd);
    struct kube_ref w = {.group = "e2e.foresight.sh", .version = "v1", .resource = "widgets", .namespace = ns};
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:i}}", "apiVersion", "e2e.foresight.sh/v1",
                            "kind", "Widget", "metadata", "name", "w1", "spec", "size", 3, "replicas", 1);
    /* the new resource is served once the CRD is Established: poll by creating */
    double t0 = now_s();
    while ((rc = kube_create(cl, &w, obj, NULL, NULL, &st)) == FS_ENOTFOUND && now_s() - t0 < 30)
        sleep_ms(200);
    CHECK(rc == FS_OK, "create widget: %s", sstr(&st));
    json_decref(obj);
    w.name = "w1";
    json_t *out;
    CHECK(kube_get(cl, &w, &out, &st) == FS_OK, "get widget: %s", sstr(&st));
    CHECK(json_integer_value(json_object_get(json_object_get(out, "spec"), "size")) == 3, "widget size");
    json_decref(out);
    json_t *p = json_pack("{s:{s:i}}", "spec", "size", 5);
    CHECK(kube_patch(cl, &w, KUBE_PATCH_MERGE, p, NULL, &out, &st) == FS_OK, "patch widget: %s", sstr(&st));
    CHECK(json_integer_value(json_object_get(json_object_get(out, "spec"), "size")) == 5, "patched size");
    json_decref(out);
    json_decref(p);
    /* status subresource: a status write through the main resource is ignored, through
     * /status it sticks */
    struct kube_ref ws = w;
    ws.subresource = "status";
    p = json_pack("{s:{s:s, s:i}}", "status", "phase", "Ready", "replicas", 2);
    CHECK(kube_patch(cl, &ws, KUBE_PATCH_MERGE, p, NULL, &out, &st) == FS_OK, "patch status: %s", sstr(&st));
    CHECK(!strcmp(str_at(out, "status", "phase"), "Ready"), "status phase");
    json_decref(out);
    json_decref(p);
    CHECK(kube_set_scale(cl, &w, 4, &st) == FS_OK, "scale widget: %s", sstr(&st));
    struct kube_ref wsc = w;
    wsc.subresource = "scale";
    CHECK(kube_get(cl, &wsc, &out, &st) == FS_OK, "get scale: %s", sstr(&st));
    CHECK(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")) == 4, "scale spec.replicas");
    CHECK(json_integer_value(json_object_get(json_object_get(out, "status"), "replicas")) == 2, "scale status.replicas");
    json_decref(out);
    CHECK(kube_delete(cl, &w, NULL, NULL, &st) == FS_OK, "delete widget: %s", sstr(&st));
    printf("crd widgets: create, get, merge patch, status, scale, delete ok\n");
}

static void pods_bind_evict(const char *ns)
{
    struct kube_status st;
    struct kube_ref pods = {.version = "v1", .resource = "pods", .namespace = ns};
    json_t *pod = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:[{s:s, s:s}]}}", "apiVersion", "v1",
                            "kind", "Pod", "metadata", "name", "p1", "spec", "schedulerName",
                            "nobody-e2e", "containers", "name", "c", "image", "busybox");
    json_t *out;
    CHECK(kube_create(cl, &pods, pod, NULL, &out, &st) == FS_OK, "create pod: %s", sstr(&st));
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", str_at(out, "metadata", "uid"));
    json_decref(out);
    json_decref(pod);
    CHECK(kube_bind_pod(cl, ns, "p1", uid, "node-e2e-1", &st) == FS_OK, "bind: %s", sstr(&st));
    pods.name = "p1";
    CHECK(kube_get(cl, &pods, &out, &st) == FS_OK, "get pod");
    CHECK(!strcmp(str_at(out, "spec", "nodeName"), "node-e2e-1"), "nodeName after bind");
    json_decref(out);
    CHECK(kube_bind_pod(cl, ns, "p1", uid, "node-e2e-2", &st) == FS_ECONFLICT, "rebind must conflict: %s", sstr(&st));
    CHECK(kube_evict_pod(cl, ns, "p1", NULL, &st) == FS_OK, "evict: %s", sstr(&st));
    double t0 = now_s();
    enum fs_err rc;
    while ((rc = kube_get(cl, &pods, &out, &st)) == FS_OK && now_s() - t0 < 30) {
        /* without a kubelet the pod stays Terminating: deletionTimestamp proves the eviction */
        int terminating = json_object_get(json_object_get(out, "metadata"), "deletionTimestamp") != NULL;
        json_decref(out);
        if (terminating)
            break;
        sleep_ms(200);
    }
    CHECK(rc == FS_OK || rc == FS_ENOTFOUND, "pod after eviction: %s", sstr(&st));
    struct kube_delete_opts now = {.grace_period_s = 0};
    kube_delete(cl, &pods, &now, NULL, &st);
    printf("pods: bind (and conflicting rebind), eviction ok\n");
}

static int cmd_crud(const char *ns)
{
    crud_configmaps(ns);
    crud_crd(ns);
    pods_bind_evict(ns);
    return 0;
}

/* ---- paginate ---- */

struct creator {
    const char *ns;
    int from, to;
    enum fs_err rc;
};

static void *create_range(void *arg)
{
    struct creator *c = arg;
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = c->ns};
    struct kube_status st;
    char name[64];
    for (int i = c->from; i < c->to; i++) {
        snprintf(name, sizeof(name), "page-%05d", i);
        json_t *o = cm(c->ns, name, name);
        enum fs_err rc = kube_create(cl, &coll, o, NULL, NULL, &st);
        json_decref(o);
        if (rc != FS_OK && rc != FS_ECONFLICT) {
            fprintf(stderr, "create %s: %s\n", name, sstr(&st));
            c->rc = rc;
            return NULL;
        }
    }
    return NULL;
}

static void create_many(const char *ns, int n, int threads)
{
    pthread_t t[16];
    struct creator c[16];
    for (int i = 0; i < threads; i++) {
        c[i] = (struct creator){.ns = ns, .from = n * i / threads, .to = n * (i + 1) / threads};
        pthread_create(&t[i], NULL, create_range, &c[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        CHECK(c[i].rc == FS_OK, "creating objects failed");
    }
}

static int cmd_paginate(const char *ns, int n)
{
    double t0 = now_s();
    uint64_t conns0 = kube_client_connections_opened(cl);
    create_many(ns, n, 8);
    uint64_t conns = kube_client_connections_opened(cl) - conns0;
    printf("created %d configmaps in %.1f s from 8 threads over %llu connections\n", n, now_s() - t0,
           (unsigned long long)conns);
    /* 8 at once need 8 connections (twice that leaves room for ones the server closes); a
     * count near n means finished requests closed theirs, a TLS handshake for each request */
    CHECK(conns <= 16, "%llu connections opened for %d requests from 8 threads", (unsigned long long)conns, n);
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = ns};
    struct kube_status st;
    /* page by page by hand, counting pages, then kube_list_all */
    int pages = 0, total = 0;
    char cont[4096] = "";
    struct strmap seen;
    strmap_init(&seen);
    do {
        struct kube_list_opts lo = {.label_selector = "e2e=kube", .limit = 150, .continue_token = cont};
        json_t *page;
        CHECK(kube_list(cl, &coll, &lo, &page, &st) == FS_OK, "list page %d: %s", pages, sstr(&st));
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(page, "items"), i, it) {
            const char *name = str_at(it, "metadata", "name");
            CHECK(!strmap_get(&seen, name), "%s listed twice", name);
            strmap_put(&seen, name, (void *)1, NULL);
            total++;
        }
        CHECK(json_array_size(json_object_get(page, "items")) <= 150, "page larger than the limit");
        const char *next = str_at(page, "metadata", "continue");
        snprintf(cont, sizeof(cont), "%s", next ? next : "");
        json_decref(page);
        pages++;
    } while (cont[0]);
    strmap_release(&seen);
    CHECK(total == n, "paged list has %d objects, want %d", total, n);
    CHECK(pages == (n + 149) / 150, "%d pages, want %d", pages, (n + 149) / 150);
    json_t *all;
    /* by label: kube-controller-manager adds kube-root-ca.crt to every namespace */
    struct kube_list_opts lo = {.label_selector = "e2e=kube", .limit = 333};
    t0 = now_s();
    CHECK(kube_list_all(cl, &coll, &lo, &all, &st) == FS_OK, "list_all: %s", sstr(&st));
    size_t got = json_array_size(json_object_get(all, "items"));
    CHECK(got == (size_t)n, "list_all has %zu objects, want %d", got, n);
    CHECK(str_at(all, "metadata", "resourceVersion") && !str_at(all, "metadata", "continue"), "list_all metadata");
    json_decref(all);
    printf("paginated list: %d objects in %d pages of 150; list_all (333/page) %.2f s\n", total, pages, now_s() - t0);
    return 0;
}

/* ---- informer under churn and apiserver restarts ---- */

struct model {
    pthread_mutex_t lock;
    struct strmap rv;          /* name -> strdup(resourceVersion) as seen through handlers */
    unsigned long adds, updates, deletes, resyncs;
    int errors;
    char first_error[512];
};

static void model_err(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void model_err(struct model *m, const char *fmt, ...)
{
    va_list ap;
    if (m->errors++ == 0) {
        va_start(ap, fmt);
        vsnprintf(m->first_error, sizeof(m->first_error), fmt, ap);
        va_end(ap);
    }
}

static void on_add(void *arg, const json_t *obj)
{
    struct model *m = arg;
    const char *name = str_at(obj, "metadata", "name");
    pthread_mutex_lock(&m->lock);
    m->adds++;
    void *old = NULL;
    strmap_put(&m->rv, name, strdup(str_at(obj, "metadata", "resourceVersion")), &old);
    if (old)
        model_err(m, "duplicate add for %s", name);
    free(old);
    pthread_mutex_unlock(&m->lock);
}

static void on_update(void *arg, const json_t *o, const json_t *n)
{
    struct model *m = arg;
    const char *name = str_at(n, "metadata", "name");
    const char *orv = str_at(o, "metadata", "resourceVersion");
    const char *nrv = str_at(n, "metadata", "resourceVersion");
    pthread_mutex_lock(&m->lock);
    if (o == n) {
        m->resyncs++;
    } else {
        m->updates++;
        if (!strcmp(orv, nrv))
            model_err(m, "duplicate update for %s at %s", name, nrv);
        char *known = strmap_get(&m->rv, name);
        if (!known)
            model_err(m, "update for %s never added", name);
        else if (strcmp(known, orv) != 0)
            model_err(m, "update for %s from %s, but the last seen was %s (missed event)", name, orv, known);
    }
    void *old = NULL;
    strmap_put(&m->rv, name, strdup(nrv), &old);
    free(old);
    pthread_mutex_unlock(&m->lock);
}

static void on_delete(void *arg, const json_t *obj)
{
    struct model *m = arg;
    const char *name = str_at(obj, "metadata", "name");
    pthread_mutex_lock(&m->lock);
    m->deletes++;
    void *old = strmap_del(&m->rv, name);
    if (!old)
        model_err(m, "delete for %s never added", name);
    free(old);
    pthread_mutex_unlock(&m->lock);
}

static void on_signal(int s)
{
    (void)s;
    got_signal = 1;
}

/* Compares the server's list with the informer's cache and with the model the handlers
 * built; returns the number of differences (0 = converged). */
static int compare(struct kube_informer *inf, struct model *m, const char *ns, int verbose)
{
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = ns};
    struct kube_status st;
    json_t *all;
    if (kube_list_all(cl, &coll, NULL, &all, &st) != FS_OK)
        return -1;
    int diffs = 0;
    size_t i;
    json_t *it;
    size_t n = json_array_size(json_object_get(all, "items"));
    pthread_mutex_lock(&m->lock);
    json_array_foreach(json_object_get(all, "items"), i, it) {
        const char *name = str_at(it, "metadata", "name");
        const char *rv = str_at(it, "metadata", "resourceVersion");
        json_t *c = kube_informer_get(inf, ns, name);
        const char *mrv = strmap_get(&m->rv, name);
        if (!c || strcmp(str_at(c, "metadata", "resourceVersion"), rv) != 0 || !mrv || strcmp(mrv, rv) != 0) {
            if (verbose && diffs < 5)
                fprintf(stderr, "differs: %s server %s cache %s model %s\n", name, rv,
                        c ? str_at(c, "metadata", "resourceVersion") : "-", mrv ? mrv : "-");
            diffs++;
        }
        json_decref(c);
    }
    if (kube_informer_len(inf) != n || m->rv.len != n)
        diffs++;
    pthread_mutex_unlock(&m->lock);
    json_decref(all);
    return diffs;
}

static int cmd_informer(const char *ns, const char *ready_file, const char *done_file)
{
    struct model m = {0};
    pthread_mutex_init(&m.lock, NULL);
    strmap_init(&m.rv);
    struct kube_informer *inf;
    struct kube_informer_opts o = {.ref = {.version = "v1", .resource = "configmaps", .namespace = ns},
                                   .page_limit = 100, .watch_timeout_s = 20};
    CHECK(kube_informer_new(&inf, cl, &o) == FS_OK, "informer");
    struct kube_informer_handlers h = {on_add, on_update, on_delete, &m};
    kube_informer_add_handlers(inf, &h);
    kube_informer_start(inf);
    CHECK(kube_informer_wait_synced(inf, 60000) == FS_OK, "informer did not sync");
    FILE *f = fopen(ready_file, "w");
    CHECK(f, "ready file");
    fclose(f);
    fprintf(stderr, "informer synced with %zu objects\n", kube_informer_len(inf));
    /* run until the driver says the churn is over, then wait for convergence */
    while (access(done_file, F_OK) != 0 && !got_signal)
        sleep_ms(200);
    double t0 = now_s();
    int diffs = -1;
    while (now_s() - t0 < 60 && (diffs = compare(inf, &m, ns, 0)) != 0)
        sleep_ms(500);
    if (diffs)
        compare(inf, &m, ns, 1);
    struct kube_informer_stats s;
    kube_informer_stats(inf, &s);
    printf("informer: %zu objects; handlers saw %lu adds, %lu updates, %lu deletes; "
           "%lu lists, %lu watches, %lu watch events, %lu expired (410); converged in %.1f s\n",
           kube_informer_len(inf), m.adds, m.updates, m.deletes, s.lists, s.watches, s.events,
           s.gone, now_s() - t0);
    kube_informer_stop(inf);
    CHECK(m.errors == 0, "%d handler inconsistencies, first: %s", m.errors, m.first_error);
    CHECK(diffs == 0, "cache differs from the server's list (%d differences)", diffs);
    struct strmap_iter it;
    struct strmap_entry *e;
    strmap_iter_init(&it, &m.rv);
    while ((e = strmap_iter_next(&it)))
        free(e->value);
    strmap_release(&m.rv);
    kube_informer_free(inf);
    return 0;
}

/* churn: creates, updates and deletes configmaps for `seconds`, tolerating an apiserver
 * that goes away (its requests are retried; failures are counted, not fatal). */
static int cmd_churn(const char *ns, int seconds)
{
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = ns};
    struct kube_status st;
    unsigned seed = (unsigned)getpid();
    double t0 = now_s();
    unsigned long ops = 0, failed = 0;
    char name[64];
    while (now_s() - t0 < seconds) {
        int i = (int)(rand_r(&seed) % 60);
        int op = (int)(rand_r(&seed) % 3);
        snprintf(name, sizeof(name), "churn-%02d", i);
        struct kube_ref one = coll;
        one.name = name;
        enum fs_err rc;
        if (op == 0) {
            json_t *o = cm(ns, name, "c");
            rc = kube_create(cl, &coll, o, NULL, NULL, &st);
            json_decref(o);
        } else if (op == 1) {
            char v[32];
            snprintf(v, sizeof(v), "%lu", ops);
            json_t *p = json_pack("{s:{s:s}}", "data", "k", v);
            rc = kube_patch(cl, &one, KUBE_PATCH_MERGE, p, NULL, NULL, &st);
            json_decref(p);
        } else {
            rc = kube_delete(cl, &one, NULL, NULL, &st);
        }
        ops++;
        if (rc != FS_OK && rc != FS_ECONFLICT && rc != FS_ENOTFOUND)
            failed++;
        sleep_ms(10);
    }
    printf("churn: %lu operations, %lu failed (apiserver down)\n", ops, failed);
    return 0;
}

/* ---- expired resourceVersion ---- */

static int count_event(void *arg, struct kube_event *ev)
{
    (void)ev;
    (*(int *)arg)++;
    return 0;
}

static int cmd_expired(const char *ns, const char *rv)
{
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = ns};
    struct kube_status st;
    /* a version older than the watch cache holds: 410 through an ERROR event or HTTP */
    struct kube_watch_opts wo = {.resource_version = rv, .timeout_s = 10, .allow_bookmarks = 1};
    int n = 0;
    enum fs_err rc = kube_watch_run(cl, &coll, &wo, count_event, &n, NULL, 0, &st);
    CHECK(rc == FS_EGONE, "watch from resourceVersion %s: want 410, got %s (%s)", rv, fs_strerror(rc), sstr(&st));
    printf("watch from an expired resourceVersion: %ld %s: %s\n", st.code, st.reason, st.message);
    return 0;
}

/* ---- lease ---- */

static void lead_started(void *arg)
{
    printf("LEADER %s\n", (const char *)arg);
    fflush(stdout);
}

static void lead_stopped(void *arg)
{
    printf("STOPPED %s\n", (const char *)arg);
    fflush(stdout);
}

static int cmd_lease(const char *ns, const char *name, const char *id, int duration)
{
    struct kube_lease *le;
    struct kube_lease_opts o = {.namespace = ns, .name = name, .identity = id,
                                .lease_duration_s = duration, .renew_deadline_s = duration * 2 / 3,
                                .retry_period_s = 1, .release_on_stop = 1,
                                .on_started_leading = lead_started,
                                .on_stopped_leading = lead_stopped, .arg = (void *)id};
    CHECK(kube_lease_new(&le, cl, &o) == FS_OK, "lease");
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    kube_lease_start(le);
    while (!got_signal)
        sleep_ms(100);
    kube_lease_stop(le); /* releases */
    kube_lease_free(le);
    return 0;
}

/* ---- token rotation: prints who we are, once a second ---- */

static int cmd_whoami(int seconds)
{
    cfg.token_reread_s = 1;
    struct kube_ref r = {.group = "authentication.k8s.io", .version = "v1", .resource = "selfsubjectreviews"};
    json_t *body = json_pack("{s:s, s:s}", "apiVersion", "authentication.k8s.io/v1", "kind", "SelfSubjectReview");
    double t0 = now_s();
    while (now_s() - t0 < seconds && !got_signal) {
        json_t *out = NULL;
        struct kube_status st;
        if (kube_create(cl, &r, body, NULL, &out, &st) == FS_OK) {
            const char *u = str_at(json_object_get(out, "status"), "userInfo", "username");
            printf("USER %s\n", u ? u : "?");
        } else {
            printf("ERROR %s\n", sstr(&st));
        }
        fflush(stdout);
        json_decref(out);
        sleep_ms(500);
    }
    json_decref(body);
    return 0;
}

/* ---- events ---- */

static int cmd_events(const char *ns)
{
    struct kube_status st;
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = ns};
    json_t *o = cm(ns, "evt-target", "x"), *obj = NULL;
    CHECK(kube_create(cl, &coll, o, NULL, &obj, &st) == FS_OK, "create target: %s", sstr(&st));
    json_object_set_new(obj, "apiVersion", json_string("v1"));
    json_object_set_new(obj, "kind", json_string("ConfigMap"));
    json_decref(o);
    struct kube_recorder *r;
    struct kube_recorder_opts ro = {.controller = "foresight.sh/e2e", .instance = "e2e-1"};
    CHECK(kube_recorder_new(&r, cl, &ro) == FS_OK, "recorder");
    for (int i = 0; i < 5; i++)
        CHECK(kube_event_record(r, obj, "Warning", "Anomalous", "Observe", "usage %d%% above the band", 40) == FS_OK, "record");
    CHECK(kube_event_record(r, obj, "Normal", "Admitted", "Admit", "fits the pool") == FS_OK, "record");
    CHECK(kube_recorder_flush(r, 20000) == FS_OK, "flush");
    struct kube_recorder_stats s;
    kube_recorder_stats(r, &s);
    kube_recorder_free(r);
    json_decref(obj);
    struct kube_ref evs = {.group = "events.k8s.io", .version = "v1", .resource = "events", .namespace = ns};
    json_t *list;
    CHECK(kube_list(cl, &evs, NULL, &list, &st) == FS_OK, "list events: %s", sstr(&st));
    size_t n = json_array_size(json_object_get(list, "items"));
    long series = -1;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it) {
        if (!strcmp(json_string_value(json_object_get(it, "reason")), "Anomalous")) {
            series = (long)json_integer_value(json_object_get(json_object_get(it, "series"), "count"));
            CHECK(!strcmp(str_at(it, "regarding", "name"), "evt-target"), "regarding");
            CHECK(!strcmp(json_string_value(json_object_get(it, "note")), "usage 40% above the band"), "note");
        }
    }
    json_decref(list);
    printf("events: %zu Event objects for 6 records (created %lu, series updates %lu); Anomalous series.count=%ld\n",
           n, s.created, s.series_updates, series);
    CHECK(n == 2, "want 2 Events, got %zu", n);
    CHECK(series == 5, "want series.count 5, got %ld", series);
    return 0;
}

/* ---- informer index: pods by node ---- */

static int cmd_index(const char *ns)
{
    struct kube_status st;
    struct kube_ref pods = {.version = "v1", .resource = "pods", .namespace = ns};
    const char *nodes[] = {"n-a", "n-b", "n-a", "n-a", ""};
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "ix-%d", i);
        json_t *p = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:[{s:s, s:s}]}}", "apiVersion", "v1", "kind", "Pod",
                              "metadata", "name", name, "spec", "schedulerName", "nobody-e2e",
                              "containers", "name", "c", "image", "busybox");
        if (nodes[i][0])
            json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(nodes[i]));
        CHECK(kube_create(cl, &pods, p, NULL, NULL, &st) == FS_OK, "create pod: %s", sstr(&st));
        json_decref(p);
    }
    struct kube_informer *inf;
    struct kube_informer_opts o = {.ref = pods, .transform = kube_transform_strip_managed_fields};
    CHECK(kube_informer_new(&inf, cl, &o) == FS_OK, "informer");
    kube_informer_add_index(inf, "node", kube_index_pod_node);
    kube_informer_start(inf);
    CHECK(kube_informer_wait_synced(inf, 30000) == FS_OK, "sync");
    json_t *a = kube_informer_by_index(inf, "node", "n-a");
    json_t *b = kube_informer_by_index(inf, "node", "n-b");
    json_t *z = kube_informer_by_index(inf, "node", "n-z");
    CHECK(json_array_size(a) == 3 && json_array_size(b) == 1 && json_array_size(z) == 0,
          "index sizes %zu %zu %zu", json_array_size(a), json_array_size(b), json_array_size(z));
    json_t *one = kube_informer_get(inf, ns, "ix-0");
    CHECK(one && !json_object_get(json_object_get(one, "metadata"), "managedFields"), "transform applied");
    json_decref(one);
    json_decref(a);
    json_decref(b);
    json_decref(z);
    /* bind the unbound pod: the index follows the watch */
    CHECK(kube_bind_pod(cl, ns, "ix-4", NULL, "n-b", &st) == FS_OK, "bind: %s", sstr(&st));
    double t0 = now_s();
    size_t nb = 0;
    while (now_s() - t0 < 20) {
        b = kube_informer_by_index(inf, "node", "n-b");
        nb = json_array_size(b);
        json_decref(b);
        if (nb == 2)
            break;
        sleep_ms(100);
    }
    CHECK(nb == 2, "index after binding: %zu pods on n-b", nb);
    CHECK(kube_informer_by_index(inf, "no-such-index", "x") == NULL, "unknown index must be NULL");
    printf("informer index pods-by-node: n-a=3 n-b=1, after bind n-b=2 (%.2f s)\n", now_s() - t0);
    kube_informer_free(inf);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: kube_e2e crud NS | paginate NS N | informer NS READY_FILE DONE_FILE |\n"
            "       churn NS SECONDS | expired NS RV | lease NS NAME ID DURATION_S |\n"
            "       whoami SECONDS | events NS | index NS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    log_setup(getenv("E2E_DEBUG") ? LOG_DEBUG : LOG_WARN, LOG_LOGFMT);
    signal(SIGTERM, on_signal);
    connect_cluster();
    const char *cmd = argv[1];
    int rc;
    if (!strcmp(cmd, "crud") && argc == 3)
        rc = cmd_crud(argv[2]);
    else if (!strcmp(cmd, "paginate") && argc == 4)
        rc = cmd_paginate(argv[2], (int)strtol(argv[3], NULL, 10));
    else if (!strcmp(cmd, "informer") && argc == 5)
        rc = cmd_informer(argv[2], argv[3], argv[4]);
    else if (!strcmp(cmd, "churn") && argc == 4)
        rc = cmd_churn(argv[2], (int)strtol(argv[3], NULL, 10));
    else if (!strcmp(cmd, "expired") && argc == 4)
        rc = cmd_expired(argv[2], argv[3]);
    else if (!strcmp(cmd, "lease") && argc == 6)
        rc = cmd_lease(argv[2], argv[3], argv[4], (int)strtol(argv[5], NULL, 10));
    else if (!strcmp(cmd, "whoami") && argc == 3)
        rc = cmd_whoami((int)strtol(argv[2], NULL, 10));
    else if (!strcmp(cmd, "events") && argc == 3)
        rc = cmd_events(argv[2]);
    else if (!strcmp(cmd, "index") && argc == 3)
        rc = cmd_index(argv[2]);
    else
        usage();
    kube_client_free(cl);
    kube_config_release(&cfg);
    return rc;
}
