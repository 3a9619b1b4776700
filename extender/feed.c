/* Cluster-state feeds for the extender (see feed.h). Informer handlers run on the
 * informers' threads and only call the cluster's locked update functions. */
#include "feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"

enum { INF_NODES, INF_PODS, INF_MICROTASKS, INF_N };

struct feed {
    struct cluster *c;
    int from_file;
    struct kube_config cfg;
    int cfg_loaded;
    struct kube_client *client;
    struct kube_informer *inf[INF_N];
};

static const char *kind_of(const json_t *o)
{
    const char *k = json_string_value(json_object_get(o, "kind"));
    return k ? k : "";
}

static void log_bad(const char *what, const json_t *o, enum fs_err rc)
{
    char key[320];
    if (kube_object_key(o, key, sizeof(key)) != FS_OK)
        snprintf(key, sizeof(key), "?");
    log_warn("ignoring %s %s: %s", what, key, fs_strerror(rc));
}

/* ---- informer handlers ---- */

static void node_add(void *arg, const json_t *o)
{
    enum fs_err rc = cluster_node_upsert(arg, o);
    if (rc != FS_OK)
        log_bad("node", o, rc);
}
static void node_update(void *arg, const json_t *old, const json_t *o)
{
    (void)old;
    node_add(arg, o);
}
static void node_delete(void *arg, const json_t *o)
{
    (void)cluster_node_delete(arg, o);
}
static void pod_add(void *arg, const json_t *o)
{
    enum fs_err rc = cluster_pod_upsert(arg, o, (int64_t)time(NULL));
    if (rc != FS_OK)
        log_bad("pod", o, rc);
}
static void pod_update(void *arg, const json_t *old, const json_t *o)
{
    (void)old;
    pod_add(arg, o);
}
static void pod_delete(void *arg, const json_t *o)
{
    (void)cluster_pod_delete(arg, o);
}
static void mt_add(void *arg, const json_t *o)
{
    enum fs_err rc = cluster_microtask_upsert(arg, o, (int64_t)time(NULL));
    if (rc != FS_OK)
        log_bad("microtask prediction", o, rc);
}
static void mt_update(void *arg, const json_t *old, const json_t *o)
{
    (void)old;
    mt_add(arg, o);
}
static void mt_delete(void *arg, const json_t *o)
{
    (void)cluster_microtask_delete(arg, o, (int64_t)time(NULL));
}

enum fs_err feed_start_kube(struct feed **out, struct cluster *c, const char *kubeconfig)
{
    enum fs_err rc = FS_ENOMEM;
    struct feed *f = calloc(1, sizeof(*f));
    *out = NULL;
    if (!f)
        return rc;
    f->c = c;
    f->cfg_loaded = 1;
    rc = kubeconfig ? kube_config_load_file(&f->cfg, kubeconfig, NULL) : kube_config_load_default(&f->cfg, NULL);
    if (rc != FS_OK) {
        log_err("cannot load kubeconfig: %s", f->cfg.errbuf);
        goto out;
    }
    struct kube_client_opts copts = {.qps = -1, .user_agent = "foresight-extender"};
    if ((rc = kube_client_new(&f->client, &f->cfg, &copts)) != FS_OK)
        goto out;
    static const struct {
        struct kube_ref ref;
        struct kube_informer_handlers h;
    } spec[INF_N] = {
        {{"", "v1", "nodes", NULL, NULL, NULL}, {node_add, node_update, node_delete, NULL}},
        {{"", "v1", "pods", NULL, NULL, NULL}, {pod_add, pod_update, pod_delete, NULL}},
        {{"foresight.sh", "v1alpha1", "microtasks", NULL, NULL, NULL}, {mt_add, mt_update, mt_delete, NULL}},
    };
    for (int i = 0; i < INF_N; i++) {
        struct kube_informer_opts io = {.ref = spec[i].ref, .transform = kube_transform_strip_managed_fields};
        struct kube_informer_handlers h = spec[i].h;
        h.arg = c;
        if ((rc = kube_informer_new(&f->inf[i], f->client, &io)) != FS_OK ||
            (rc = kube_informer_add_handlers(f->inf[i], &h)) != FS_OK)
            goto out;
    }
    /* nodes first, so pods find their nodes; order does not matter for correctness */
    for (int i = 0; i < INF_N; i++)
        if ((rc = kube_informer_start(f->inf[i])) != FS_OK)
            goto out;
    *out = f;
    f = NULL;
    rc = FS_OK;
out:
    feed_free(f);
    return rc;
}

enum fs_err feed_start_file(struct feed **out, struct cluster *c, const char *path)
{
    json_error_t jerr;
    *out = NULL;
    json_t *list = json_load_file(path, 0, &jerr);
    if (!list) {
        log_err("cannot read %s: %s at line %d", path, jerr.text, jerr.line);
        return FS_EPARSE;
    }
    struct feed *f = calloc(1, sizeof(*f));
    if (!f) {
        json_decref(list);
        return FS_ENOMEM;
    }
    f->c = c;
    f->from_file = 1;
    int64_t now = (int64_t)time(NULL);
    size_t i;
    json_t *o;
    /* nodes, then microtasks, then pods: the same result in any order, fewer re-claims */
    for (int pass = 0; pass < 3; pass++)
        json_array_foreach(json_object_get(list, "items"), i, o) {
            const char *k = kind_of(o);
            enum fs_err rc = FS_OK;
            if (pass == 0 && strcmp(k, "Node") == 0)
                rc = cluster_node_upsert(c, o);
            else if (pass == 1 && strcmp(k, "MicroTask") == 0)
                rc = cluster_microtask_upsert(c, o, now);
            else if (pass == 2 && strcmp(k, "Pod") == 0)
                rc = cluster_pod_upsert(c, o, now);
            if (rc != FS_OK)
                log_bad(k, o, rc);
        }
    json_decref(list);
    *out = f;
    return FS_OK;
}

int feed_synced(struct feed *f)
{
    if (f->from_file)
        return 1;
    for (int i = 0; i < INF_N; i++)
        if (!kube_informer_has_synced(f->inf[i]))
            return 0;
    return 1;
}

json_t *feed_get_pod(struct feed *f, const char *ns, const char *name)
{
    if (f->from_file)
        return NULL;
    json_t *pod = kube_informer_get(f->inf[INF_PODS], ns, name);
    if (pod)
        return pod;
    struct kube_ref ref = {"", "v1", "pods", ns, name, NULL};
    if (kube_get(f->client, &ref, &pod, NULL) != FS_OK)
        return NULL;
    return pod;
}

enum fs_err feed_bind(struct feed *f, const char *ns, const char *name, const char *uid, const char *node,
                      char *err, size_t errlen)
{
    if (f->from_file)
        return FS_OK; /* the claim in memory is the binding */
    struct kube_status st;
    memset(&st, 0, sizeof(st));
    enum fs_err rc = kube_bind_pod(f->client, ns, name, uid, node, &st);
    if (rc != FS_OK) {
        char buf[600];
        snprintf(err, errlen, "binding %s/%s to %s failed: %s", ns, name, node, kube_status_str(&st, buf, sizeof(buf)));
    }
    return rc;
}

unsigned long feed_connections_opened(struct feed *f)
{
    return f->client ? (unsigned long)kube_client_connections_opened(f->client) : 0;
}

void feed_free(struct feed *f)
{
    if (!f)
        return;
    for (int i = 0; i < INF_N; i++)
        if (f->inf[i])
            kube_informer_free(f->inf[i]);
    kube_client_free(f->client);
    if (f->cfg_loaded)
        kube_config_release(&f->cfg);
    free(f);
}
