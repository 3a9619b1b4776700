/* In-memory cluster state folded into the reservation ledger (rules in cluster.h).
 * Invariant: a pod holds a ledger claim iff it is bound, not done and its node is known,
 * or /bind is between its claim and the informer seeing the binding. */
#include "ledger/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/quantity.h"
#include "ledger/extargs.h"
#include "ledger/extproto.h"

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int copy_str(char *dst, size_t len, const char *src)
{
    int n = snprintf(dst, len, "%s", src);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

enum fs_err cluster_node_alloc(const json_t *node, int64_t alloc[LEDGER_NRES])
{
    const json_t *a = json_object_get(json_object_get(node, "status"), "allocatable");
    const char *cpu = json_string_value(json_object_get(a, "cpu"));
    const char *mem = json_string_value(json_object_get(a, "memory"));
    const char *net = json_string_value(
        json_object_get(json_object_get(json_object_get(node, "metadata"), "annotations"), CLUSTER_ANNOTATION_NETWORK));
    alloc[CURVE_CPU] = alloc[CURVE_MEM] = 0; /* a node that declares nothing takes nothing */
    alloc[CURVE_NET] = LEDGER_UNLIMITED;
    if (cpu && kube_parse_milli(cpu, &alloc[CURVE_CPU]) != FS_OK)
        return FS_EPARSE;
    if (mem && kube_parse_bytes(mem, &alloc[CURVE_MEM]) != FS_OK)
        return FS_EPARSE;
    if (net && kube_parse_bytes(net, &alloc[CURVE_NET]) != FS_OK)
        return FS_EPARSE;
    for (int r = 0; r < 2; r++)
        if (alloc[r] < 0)
            alloc[r] = 0;
    return FS_OK;
}

/* A counted resource: anything in requests or allocatable but cpu, memory and pods. */
static int counted(const char *name)
{
    return strcmp(name, "cpu") != 0 && strcmp(name, "memory") != 0 && strcmp(name, "pods") != 0;
}

static struct cluster_res *res_find(struct cluster_res *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

/* Adds (or, use_max, raises to) v of name in list; FS_ERANGE when the list is full or the
 * name too long. */
static enum fs_err res_merge(struct cluster_res *list, int *n, int cap, const char *name, int64_t v, int use_max)
{
    struct cluster_res *r = res_find(list, *n, name);
    if (!r) {
        if (*n == cap || strlen(name) >= sizeof(r->name))
            return FS_ERANGE;
        r = &list[(*n)++];
        memset(r, 0, sizeof(*r));
        memcpy(r->name, name, strlen(name) + 1);
    }
    if (use_max)
        r->milli = v > r->milli ? v : r->milli;
    else if (v > INT64_MAX - r->milli)
        return FS_ERANGE;
    else
        r->milli += v;
    return FS_OK;
}

/* The counted resources of one requests (or overhead) object merged into list. */
static enum fs_err counted_requests(const json_t *r, struct cluster_res *list, int *n, int use_max)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)r, k, v) {
        int64_t q;
        if (!counted(k))
            continue;
        if (!json_is_string(v) || kube_parse_milli(json_string_value(v), &q) != FS_OK || q < 0)
            return FS_EPARSE;
        enum fs_err rc = res_merge(list, n, CLUSTER_MAX_EXT, k, q, use_max);
        if (rc != FS_OK)
            return rc;
    }
    return FS_OK;
}

/* Sums cpu/memory requests of a container list into req (add) or keeps the max (max), and
 * the counted resources into ext likewise. */
static enum fs_err container_requests(const json_t *list, int64_t req[2], int sidecars_only, int use_max,
                                     struct cluster_res *ext, int *n_ext)
{
    size_t i;
    const json_t *ct;
    json_array_foreach(list, i, ct) {
        if (sidecars_only != (strcmp(jstr(ct, "restartPolicy"), "Always") == 0))
            continue;
        const json_t *r = json_object_get(json_object_get(ct, "resources"), "requests");
        enum fs_err rc = counted_requests(r, ext, n_ext, use_max);
        if (rc != FS_OK)
            return rc;
        int64_t v[2] = {0, 0};
        const char *cpu = json_string_value(json_object_get(r, "cpu"));
        const char *mem = json_string_value(json_object_get(r, "memory"));
        if (cpu && kube_parse_milli(cpu, &v[0]) != FS_OK)
            return FS_EPARSE;
        if (mem && kube_parse_bytes(mem, &v[1]) != FS_OK)
            return FS_EPARSE;
        for (int k = 0; k < 2; k++) {
            if (v[k] < 0)
                return FS_EPARSE;
            if (use_max)
                req[k] = v[k] > req[k] ? v[k] : req[k];
            else
                req[k] += v[k];
        }
    }
    return FS_OK;
}

enum fs_err cluster_pod_parse(const json_t *pod, struct cluster_pod *p)
{
    memset(p, 0, sizeof(*p));
    if (!json_is_object(pod))
        return FS_EINVAL;
    const json_t *md = json_object_get(pod, "metadata");
    const json_t *spec = json_object_get(pod, "spec");
    const json_t *status = json_object_get(pod, "status");
    if (copy_str(p->uid, sizeof(p->uid), jstr(md, "uid")) || copy_str(p->ns, sizeof(p->ns), jstr(md, "namespace")) ||
        copy_str(p->name, sizeof(p->name), jstr(md, "name")) ||
        copy_str(p->node, sizeof(p->node), jstr(spec, "nodeName")))
        return FS_EINVAL;
    if (!p->uid[0] || !p->name[0])
        return FS_EINVAL;
    const char *mt = json_string_value(json_object_get(json_object_get(md, "labels"), CLUSTER_LABEL_MICROTASK));
    if (mt && copy_str(p->microtask, sizeof(p->microtask), mt))
        return FS_EINVAL;
    const char *phase = jstr(status, "phase");
    p->done = strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0;

    /* effective requests, as the scheduler computes them (sidecars run beside the app) */
    int64_t app[2] = {0, 0}, init[2] = {0, 0};
    struct cluster_res init_ext[CLUSTER_MAX_EXT];
    int n_init_ext = 0;
    enum fs_err rc;
    if ((rc = container_requests(json_object_get(spec, "containers"), app, 0, 0, p->ext, &p->n_ext)) != FS_OK ||
        (rc = container_requests(json_object_get(spec, "initContainers"), app, 1, 0, p->ext, &p->n_ext)) != FS_OK ||
        (rc = container_requests(json_object_get(spec, "initContainers"), init, 0, 1, init_ext, &n_init_ext)) != FS_OK)
        return rc;
    for (int k = 0; k < 2; k++)
        p->req[k] = app[k] > init[k] ? app[k] : init[k];
    for (int k = 0; k < n_init_ext; k++)
        if ((rc = res_merge(p->ext, &p->n_ext, CLUSTER_MAX_EXT, init_ext[k].name, init_ext[k].milli, 1)) != FS_OK)
            return rc;
    const json_t *ovh = json_object_get(spec, "overhead");
    if ((rc = counted_requests(ovh, p->ext, &p->n_ext, 0)) != FS_OK)
        return rc;
    for (int k = 0; k < p->n_ext; k++) /* zero requests count for nothing */
        if (p->ext[k].milli == 0)
            p->ext[k--] = p->ext[--p->n_ext];
    int64_t v;
    if (json_string_value(json_object_get(ovh, "cpu"))) {
        if (kube_parse_milli(jstr(ovh, "cpu"), &v) != FS_OK || v < 0)
            return FS_EPARSE;
        p->req[CURVE_CPU] += v;
    }
    if (json_string_value(json_object_get(ovh, "memory"))) {
        if (kube_parse_bytes(jstr(ovh, "memory"), &v) != FS_OK || v < 0)
            return FS_EPARSE;
        p->req[CURVE_MEM] += v;
    }
    const char *net = json_string_value(json_object_get(json_object_get(md, "annotations"), CLUSTER_ANNOTATION_NETWORK));
    if (net && (kube_parse_bytes(net, &p->req[CURVE_NET]) != FS_OK || p->req[CURVE_NET] < 0))
        return FS_EPARSE;

    /* when it was bound: the PodScheduled condition, else startTime */
    size_t i;
    const json_t *cond;
    json_array_foreach(json_object_get(status, "conditions"), i, cond) {
        if (strcmp(jstr(cond, "type"), "PodScheduled") == 0 && strcmp(jstr(cond, "status"), "True") == 0)
            (void)rfc3339_parse(jstr(cond, "lastTransitionTime"), &p->bound_s);
    }
    if (!p->bound_s && json_is_string(json_object_get(status, "startTime")))
        (void)rfc3339_parse(jstr(status, "startTime"), &p->bound_s);
    return FS_OK;
}

enum fs_err cluster_init(struct cluster *c, const struct ledger_config *cfg, int64_t now)
{
    memset(c, 0, sizeof(*c));
    enum fs_err rc = ledger_new(cfg, now, &c->ledger);
    if (rc != FS_OK)
        return rc;
    lmap_init(&c->pods);
    lmap_init(&c->microtasks);
    pthread_mutex_init(&c->mu, NULL);
    return FS_OK;
}

static void curve_free(struct curve *cv)
{
    if (cv) {
        curve_release(cv);
        free(cv);
    }
}

void cluster_release(struct cluster *c)
{
    size_t pos = 0;
    void *v;
    while (lmap_next(&c->pods, &pos, NULL, &v))
        free(v);
    pos = 0;
    while (lmap_next(&c->microtasks, &pos, NULL, &v))
        curve_free(v);
    lmap_release(&c->pods);
    lmap_release(&c->microtasks);
    ext_names_unref(c->names_memo);
    ext_ahead_free(c->ahead);
    for (size_t i = 0; c->ledger && i < c->ledger->n_nodes; i++)
        free(c->ledger->nodes[i]->user);
    ledger_free(c->ledger);
    pthread_mutex_destroy(&c->mu);
    memset(c, 0, sizeof(*c));
}

void cluster_lock(struct cluster *c)
{
    pthread_mutex_lock(&c->mu);
}

void cluster_unlock(struct cluster *c)
{
    pthread_mutex_unlock(&c->mu);
}

static const struct curve *prediction_of(struct cluster *c, const struct cluster_pod *p)
{
    char key[320];
    if (!p->microtask[0])
        return NULL;
    snprintf(key, sizeof(key), "%s/%s", p->ns, p->microtask);
    return lmap_get(&c->microtasks, key);
}

enum fs_err cluster_pod_shape(struct cluster *c, const struct cluster_pod *p, int64_t start_s,
                              struct ledger_shape *out, int *from_prediction)
{
    const struct curve *cv = prediction_of(c, p);
    if (from_prediction)
        *from_prediction = cv != NULL;
    if (cv) {
        int64_t at = cv->start_s > start_s ? cv->start_s : start_s;
        return ledger_shape_init(out, c->ledger, cv, CURVE_P90, at);
    }
    struct curve flat;
    curve_init_flat(&flat, start_s, p->req);
    return ledger_shape_init(out, c->ledger, &flat, CURVE_P90, start_s);
}

/* Brings the pod's claim in line with what it should hold (lock held). */
static enum fs_err sync_claim(struct cluster *c, const struct cluster_pod *p, int64_t now)
{
    if (!p->node[0] || p->done || !ledger_node_get(c->ledger, p->node)) {
        enum fs_err rc = ledger_release(c->ledger, p->uid);
        return rc == FS_ENOTFOUND ? FS_OK : rc;
    }
    struct ledger_shape s;
    enum fs_err rc = cluster_pod_shape(c, p, p->bound_s ? p->bound_s : now, &s, NULL);
    if (rc != FS_OK)
        return rc;
    /* the pod is there whether it fits or not: record it as it is */
    rc = ledger_claim(c->ledger, p->uid, p->node, &s, LEDGER_FORCE, NULL);
    ledger_shape_release(&s);
    return rc;
}

/* The node's pod capacity (-1: not declared) and counted resources from allocatable. */
static enum fs_err node_counted(const json_t *node, int64_t *max_pods, struct cluster_node_extra *x)
{
    const json_t *a = json_object_get(json_object_get(node, "status"), "allocatable");
    const char *k;
    const json_t *v;
    *max_pods = -1;
    memset(x, 0, sizeof(*x));
    json_object_foreach((json_t *)a, k, v) {
        int64_t q;
        if (strcmp(k, "cpu") == 0 || strcmp(k, "memory") == 0)
            continue;
        if (!json_is_string(v) || kube_parse_milli(json_string_value(v), &q) != FS_OK)
            return FS_EPARSE;
        q = q < 0 ? 0 : q;
        if (strcmp(k, "pods") == 0)
            *max_pods = q / 1000;
        else if (res_merge(x->alloc, &x->n_ext, CLUSTER_MAX_NODE_EXT, k, q, 0) != FS_OK)
            return FS_ERANGE;
    }
    return FS_OK;
}

enum fs_err cluster_node_upsert(struct cluster *c, const json_t *node)
{
    int64_t alloc[LEDGER_NRES], max_pods;
    struct cluster_node_extra x;
    const char *name = jstr(json_object_get(node, "metadata"), "name");
    if (!*name)
        return FS_EINVAL;
    enum fs_err rc = cluster_node_alloc(node, alloc);
    if (rc == FS_OK)
        rc = node_counted(node, &max_pods, &x);
    if (rc != FS_OK)
        return rc;
    cluster_lock(c);
    c->generation++;
    int known = ledger_node_get(c->ledger, name) != NULL;
    rc = ledger_node_set(c->ledger, name, alloc);
    struct ledger_node *n = rc == FS_OK ? ledger_node_get(c->ledger, name) : NULL;
    if (n && !n->user && x.n_ext && !(n->user = malloc(sizeof(x))))
        rc = FS_ENOMEM; /* the node stays, without counted resources until the next update */
    if (n) {
        n->max_pods = max_pods;
        if (n->user)
            memcpy(n->user, &x, sizeof(x));
    }
    if (rc == FS_OK && !known) {
        /* pods seen before their node: claim them now */
        size_t pos = 0;
        void *v;
        while (lmap_next(&c->pods, &pos, NULL, &v)) {
            struct cluster_pod *p = v;
            if (strcmp(p->node, name) == 0)
                (void)sync_claim(c, p, p->bound_s);
        }
    }
    cluster_unlock(c);
    return rc;
}

enum fs_err cluster_node_delete(struct cluster *c, const json_t *node)
{
    const char *name = jstr(json_object_get(node, "metadata"), "name");
    cluster_lock(c);
    c->generation++;
    struct ledger_node *n = ledger_node_get(c->ledger, name);
    if (n) {
        free(n->user);
        n->user = NULL;
    }
    enum fs_err rc = ledger_node_remove(c->ledger, name);
    cluster_unlock(c);
    return rc == FS_ENOTFOUND ? FS_OK : rc;
}

enum fs_err cluster_pod_upsert(struct cluster *c, const json_t *pod, int64_t now)
{
    struct cluster_pod parsed;
    enum fs_err rc = cluster_pod_parse(pod, &parsed);
    if (rc != FS_OK)
        return rc;
    cluster_lock(c);
    c->generation++;
    struct cluster_pod *p = lmap_get(&c->pods, parsed.uid);
    if (!p) {
        rc = FS_ENOMEM;
        if (!(p = malloc(sizeof(*p))))
            goto out;
        if ((rc = lmap_put(&c->pods, parsed.uid, p)) != FS_OK) {
            free(p);
            goto out;
        }
    }
    /* a pending pod keeps the claim /bind made for it until the informer sees the binding */
    if (!parsed.node[0] && ledger_claim_get(c->ledger, parsed.uid)) {
        *p = parsed;
        rc = FS_OK;
        goto out;
    }
    *p = parsed;
    rc = sync_claim(c, p, now);
out:
    cluster_unlock(c);
    return rc;
}

enum fs_err cluster_pod_delete(struct cluster *c, const json_t *pod)
{
    const char *uid = jstr(json_object_get(pod, "metadata"), "uid");
    cluster_lock(c);
    c->generation++;
    free(lmap_del(&c->pods, uid));
    (void)ledger_release(c->ledger, uid);
    cluster_unlock(c);
    return FS_OK;
}

/* Re-claims the bound pods of one MicroTask after its prediction changed (lock held). */
static void resync_microtask(struct cluster *c, const char *ns, const char *name, int64_t now)
{
    size_t pos = 0;
    void *v;
    while (lmap_next(&c->pods, &pos, NULL, &v)) {
        struct cluster_pod *p = v;
        if (strcmp(p->ns, ns) == 0 && strcmp(p->microtask, name) == 0 && p->node[0])
            (void)sync_claim(c, p, now);
    }
}

enum fs_err cluster_microtask_upsert(struct cluster *c, const json_t *mt, int64_t now)
{
    const json_t *md = json_object_get(mt, "metadata");
    const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
    char key[320], err[160];
    if (!*name)
        return FS_EINVAL;
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    const json_t *pred = json_object_get(json_object_get(mt, "status"), "prediction");
    struct curve *cv = NULL;
    enum fs_err rc = FS_OK;
    if (json_is_object(pred)) {
        if (!(cv = malloc(sizeof(*cv))))
            return FS_ENOMEM;
        curve_init(cv);
        rc = curve_from_json(cv, pred, err, sizeof(err));
        if (rc != FS_OK) {
            free(cv);
            cv = NULL;
        }
    }
    cluster_lock(c);
    c->generation++;
    if (rc == FS_EPARSE)
        c->prediction_errors++;
    struct curve *old = lmap_get(&c->microtasks, key);
    enum fs_err prc = lmap_put(&c->microtasks, key, cv);
    if (prc != FS_OK) {
        curve_free(cv);
        rc = prc;
    } else {
        curve_free(old);
        resync_microtask(c, ns, name, now);
    }
    cluster_unlock(c);
    return rc;
}

enum fs_err cluster_microtask_delete(struct cluster *c, const json_t *mt, int64_t now)
{
    const json_t *md = json_object_get(mt, "metadata");
    const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
    char key[320];
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    cluster_lock(c);
    c->generation++;
    curve_free(lmap_del(&c->microtasks, key));
    /* its pods, if any remain, fall back to their requests */
    resync_microtask(c, ns, name, now);
    cluster_unlock(c);
    return FS_OK;
}

void cluster_pod_unclaim_locked(struct cluster *c, const char *uid, int64_t now)
{
    c->generation++;
    struct cluster_pod *p = lmap_get(&c->pods, uid);
    (void)ledger_release(c->ledger, uid);
    if (p && p->node[0])
        (void)sync_claim(c, p, now);
}

/* A quantity in thousandths the way requests are written: 2, 500m. */
static void fmt_milli(int64_t v, char *buf, size_t len)
{
    if (v % 1000 == 0)
        snprintf(buf, len, "%lld", (long long)(v / 1000));
    else
        snprintf(buf, len, "%lldm", (long long)v);
}

enum cluster_static cluster_static_fits_locked(struct cluster *c, const struct cluster_pod *p, const struct ledger_node *n,
                               int *unresolvable, char *msg, size_t len)
{
    *unresolvable = 0;
    if (n->max_pods >= 0 && (int64_t)n->n_claims + 1 > n->max_pods) {
        const struct ledger_claim *own = ledger_claim_get(c->ledger, p->uid);
        int64_t others = (int64_t)n->n_claims - (own && own->node == n);
        if (others + 1 > n->max_pods) {
            *unresolvable = n->max_pods == 0;
            if (msg)
                snprintf(msg, len, "pods: %lld of %lld pods already on the node", (long long)others,
                         (long long)n->max_pods);
            return CLUSTER_TOO_MANY_PODS;
        }
    }
    if (p->n_ext == 0)
        return CLUSTER_FITS; /* n->user is on a line a filter does not read otherwise */
    const struct cluster_node_extra *x = n->user;
    for (int i = 0; i < p->n_ext; i++) {
        const struct cluster_res *want = &p->ext[i];
        const struct cluster_res *have = x ? res_find((struct cluster_res *)x->alloc, x->n_ext, want->name) : NULL;
        int64_t avail = have ? have->milli : 0, used = 0;
        char a[32], b[32], d[32];
        fmt_milli(want->milli, a, sizeof(a));
        fmt_milli(avail, d, sizeof(d));
        if (want->milli > avail) {
            *unresolvable = 1;
            if (msg)
                snprintf(msg, len, "%s: %s requested > %s on the node (the pod alone exceeds the node)", want->name, a,
                         d);
            return CLUSTER_COUNTED_RESOURCE;
        }
        for (size_t k = 0; k < n->n_claims; k++) {
            const char *key = n->claims[k]->key;
            const struct cluster_pod *q = strcmp(key, p->uid) != 0 ? lmap_get(&c->pods, key) : NULL;
            const struct cluster_res *r = q ? res_find((struct cluster_res *)q->ext, q->n_ext, want->name) : NULL;
            used += r ? r->milli : 0;
        }
        if (used + want->milli > avail) {
            fmt_milli(used, b, sizeof(b));
            if (msg)
                snprintf(msg, len, "%s: %s requested + %s in use > %s on the node", want->name, a, b, d);
            return CLUSTER_COUNTED_RESOURCE;
        }
    }
    return CLUSTER_FITS;
}

const struct cluster_pod *cluster_pod_get_locked(struct cluster *c, const char *uid)
{
    return lmap_get(&c->pods, uid);
}

void cluster_stats(struct cluster *c, struct cluster_stats *out)
{
    memset(out, 0, sizeof(*out));
    cluster_lock(c);
    out->nodes = c->ledger->n_nodes;
    out->pods = c->pods.len;
    out->microtasks = c->microtasks.len;
    out->claims = c->ledger->claims.len;
    size_t pos = 0;
    void *v;
    while (lmap_next(&c->microtasks, &pos, NULL, &v))
        out->predictions += v != NULL;
    out->prediction_errors = c->prediction_errors;
    cluster_unlock(c);
}
