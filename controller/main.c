/* foresight-controller: reconciles MicroTasks. Informers on MicroTasks and on the Pods it
 * created feed a work queue keyed by namespace; only the Lease holder reconciles. A namespace
 * reconcile evaluates the dependency graph, splits ready tasks into child MicroTasks, creates
 * the Pod of each ready leaf with its prediction in status, and aggregates children's phases.
 * Everything created has a deterministic name, so a restart never creates anything twice.
 * Not yet here (see the issue): admission against the ledger, usage feedback, learning into
 * TaskProfiles, anomalies, /healthz and /metrics. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "common/log.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/lease.h"
#include "kube/workqueue.h"
#include "ledger/curve.h"

#include "build.h"
#include "dag.h"
#include "duration.h"
#include "decompose.h"
#include "microtask.h"
#include "predict.h"
#include "priority.h"

struct opts {
    const char *kubeconfig, *context, *lease_ns, *lease_name;
    int leader_elect;
    uint32_t step_s;
    double default_s;
};

struct ctl {
    struct opts o;
    struct kube_client *client;
    struct kube_informer *mts, *pods;
    struct kube_workqueue *queue;
    struct kube_lease *lease;
    struct kube_recorder *events;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void enqueue(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    if (ns)
        kube_workqueue_add(c->queue, ns);
}
static void on_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    enqueue(arg, new_obj);
}

static const struct kube_ref MT_REF = {"foresight.sh", "v1alpha1", "microtasks", NULL, NULL, NULL};

/* conditions: keep lastTransitionTime when a condition's status did not change */
static json_t *condition(const json_t *old_status, const char *type, const char *status,
                         const char *reason, const char *message, int64_t generation)
{
    char now[40];
    const char *ltt = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(old_status, "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && strcmp(t, type) == 0 && strcmp(s, status) == 0)
            ltt = json_string_value(json_object_get(c, "lastTransitionTime"));
    }
    rfc3339_format(time(NULL), now, sizeof(now));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", type, "status", status, "reason", reason,
                     "message", message, "lastTransitionTime", ltt ? ltt : now,
                     "observedGeneration", (json_int_t)generation);
}

/* PATCHes status with the keys of `want` that differ from the cached status; steals want. */
static void patch_status(struct ctl *c, const json_t *obj, const struct microtask *mt, json_t *want)
{
    const json_t *old = json_object_get(obj, "status");
    const char *k;
    json_t *v, *diff = json_object();
    if (!want || !diff)
        goto out;
    json_object_foreach(want, k, v) {
        if (strcmp(k, "conditions") == 0) { /* compare without the timestamps */
            const json_t *oc = json_object_get(old, "conditions");
            int same = json_array_size(oc) == json_array_size(v);
            for (size_t i = 0; same && i < json_array_size(v); i++) {
                json_t *a = json_array_get(v, i), *b = json_array_get(oc, i);
                const char *keys[] = {"type", "status", "reason", "message"};
                for (size_t j = 0; j < 4; j++)
                    same = same && json_equal(json_object_get(a, keys[j]), json_object_get(b, keys[j]));
            }
            if (same)
                continue;
        } else if (json_equal(json_object_get(old, k), v)) {
            continue;
        }
        json_object_set(diff, k, v);
    }
    if (json_object_size(diff) == 0)
        goto out;
    json_object_set_new(diff, "observedGeneration", json_integer(mt->generation));
    json_t *patch = json_pack("{s:O}", "status", diff);
    struct kube_ref ref = MT_REF;
    struct kube_status st;
    ref.namespace = mt->ns;
    ref.name = mt->name;
    ref.subresource = "status";
    enum fs_err rc = kube_patch(c->client, &ref, KUBE_PATCH_MERGE, patch, NULL, NULL, &st);
    if (rc != FS_OK && rc != FS_ENOTFOUND) {
        char buf[600];
        log_warn("cannot write status of %s/%s: %s", mt->ns, mt->name, kube_status_str(&st, buf, sizeof(buf)));
    }
    json_decref(patch);
out:
    json_decref(diff);
    json_decref(want);
}

static enum fs_err create(struct ctl *c, const struct kube_ref *ref, const json_t *obj, const char *what)
{
    struct kube_status st;
    enum fs_err rc = kube_create(c->client, ref, obj, NULL, NULL, &st);
    if (rc == FS_ECONFLICT) /* it exists already: deterministic names make creation idempotent */
        return FS_OK;
    if (rc != FS_OK) {
        char buf[600];
        log_err("cannot create %s: %s", what, kube_status_str(&st, buf, sizeof(buf)));
    }
    return rc;
}

static enum mt_phase pod_phase(const json_t *pod)
{
    const char *ph = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    const char *node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    if (ph && strcmp(ph, "Succeeded") == 0)
        return MT_PHASE_SUCCEEDED;
    if (ph && strcmp(ph, "Failed") == 0)
        return MT_PHASE_FAILED;
    if (ph && strcmp(ph, "Running") == 0)
        return MT_PHASE_RUNNING;
    return node && node[0] ? MT_PHASE_SCHEDULED : MT_PHASE_QUEUED;
}

static void reconcile_split(struct ctl *c, const json_t *obj, const struct microtask *mt, json_t *status,
                            json_t *conds, const json_t *all, const struct microtask *parsed, size_t n)
{
    struct decompose_estimate e;
    struct decompose_limits l;
    struct decompose_child *kids = NULL;
    size_t nk = 0;
    enum decompose_verdict v = DECOMPOSE_LEAF_FITS;
    char err[200] = "";
    build_estimate(mt, c->o.default_s, &e);
    microtask_split_limits(mt, &l);
    struct decompose_task t = {mt->name, mt->shard_path, mt->has_shard ? mt->shard_depth : 0,
                               mt->work_offset, mt->work_units};
    if (decompose_children(&t, &e, &l, &v, &kids, &nk, err, sizeof(err)) != FS_OK) {
        json_array_append_new(conds, condition(json_object_get(obj, "status"), "Decomposed", "False",
                                               "InvalidSplit", err, mt->generation));
        json_object_set_new(status, "phase", json_string("Failed"));
        return;
    }
    struct kube_ref ref = MT_REF;
    ref.namespace = mt->ns;
    size_t phases[8] = {0};
    json_t *names = json_array();
    for (size_t i = 0; i < nk; i++) {
        json_array_append_new(names, json_string(kids[i].name));
        enum mt_phase ph = MT_PHASE_NONE;
        for (size_t j = 0; j < n; j++)
            if (strcmp(parsed[j].name, kids[i].name) == 0)
                ph = parsed[j].phase;
        json_t *cached = ph == MT_PHASE_NONE ? kube_informer_get(c->mts, mt->ns, kids[i].name) : NULL;
        int exists = ph != MT_PHASE_NONE || cached;
        json_decref(cached);
        if (!exists) {
            json_t *child = NULL;
            if (build_child(mt, obj, &kids[i], &e, &child) == FS_OK)
                create(c, &ref, child, kids[i].name);
            json_decref(child);
        }
        phases[ph]++;
    }
    (void)all;
    char msg[160];
    snprintf(msg, sizeof(msg), "split into %zu children (%s)", nk, decompose_verdict_reason(v));
    json_array_append_new(conds, condition(json_object_get(obj, "status"), "Decomposed", "True", "Split", msg,
                                           mt->generation));
    const char *phase = "Running";
    if (phases[MT_PHASE_SUCCEEDED] == nk)
        phase = "Succeeded";
    else if (phases[MT_PHASE_FAILED])
        phase = "Failed";
    else if (!phases[MT_PHASE_RUNNING] && !phases[MT_PHASE_SCHEDULED] && !phases[MT_PHASE_SUCCEEDED])
        phase = "Pending";
    json_object_set_new(status, "phase", json_string(phase));
    json_object_set_new(status, "children", names);
    json_object_set_new(status, "progress", json_pack("{s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)nk,
        "pending", (json_int_t)(phases[MT_PHASE_NONE] + phases[MT_PHASE_PENDING] + phases[MT_PHASE_QUEUED] + phases[MT_PHASE_BLOCKED]),
        "running", (json_int_t)(phases[MT_PHASE_RUNNING] + phases[MT_PHASE_SCHEDULED]),
        "succeeded", (json_int_t)phases[MT_PHASE_SUCCEEDED], "failed", (json_int_t)phases[MT_PHASE_FAILED]));
    free(kids);
}

static void reconcile_leaf(struct ctl *c, const json_t *obj, const struct microtask *mt, json_t *status,
                           json_t *conds)
{
    json_t *pod = kube_informer_get(c->pods, mt->ns, mt->name);
    const json_t *old = json_object_get(obj, "status");
    if (!pod) {
        struct kube_ref pref = {"", "v1", "pods", mt->ns, NULL, NULL};
        json_t *p = NULL;
        if (build_pod(mt, &p) == FS_OK && create(c, &pref, p, mt->name) == FS_OK)
            kube_event_record(c->events, obj, "Normal", "PodCreated", "Create", "created pod %s", mt->name);
        json_decref(p);
        json_object_set_new(status, "phase", json_string(mt_phase_name(MT_PHASE_QUEUED)));
    } else {
        enum mt_phase ph = pod_phase(pod);
        const char *node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
        json_object_set_new(status, "phase", json_string(mt_phase_name(ph)));
        if (node && node[0])
            json_object_set_new(status, "reservation", json_pack("{s:s}", "node", node));
        json_decref(pod);
    }
    /* the prediction is written once (the observed splice comes with usage feedback) */
    if (!json_object_get(old, "prediction")) {
        struct curve cv;
        char err[200] = "";
        enum fs_err rc;
        curve_init(&cv);
        if (mt->has_split && mt->split.has_estimate)
            rc = predict_from_estimate(&mt->split.estimate, mt->work_units, mt->res_net_bps, time(NULL),
                                       c->o.step_s, &cv, err, sizeof(err));
        else
            rc = predict_from_resources(mt, time(NULL), c->o.step_s, c->o.default_s, &cv, err, sizeof(err));
        json_t *patch = NULL;
        if (rc == FS_OK && predict_status_patch(&cv, &patch) == FS_OK) {
            json_t *ps = json_object_get(patch, "status");
            json_object_set(status, "prediction", json_object_get(ps, "prediction"));
            json_object_set(status, "predictionSummary", json_object_get(ps, "predictionSummary"));
            json_array_append_new(conds, condition(old, "Predicted", "True", "FromResources", "predicted from spec.resources",
                                                   mt->generation));
            struct priority_input pin = {mt->sla_class, mt->has_deadline, mt->deadline_s, time(NULL),
                                         (double)cv.duration_s, 0};
            struct priority_result pr;
            if (priority_compute(&pin, &pr) == FS_OK)
                json_object_set_new(status, "priority", json_integer(pr.value));
        } else {
            json_array_append_new(conds, condition(old, "Predicted", "False", "NoPrediction", err, mt->generation));
        }
        json_decref(patch);
        curve_release(&cv);
    } else {
        json_t *pc;
        size_t i;
        json_array_foreach(json_object_get(old, "conditions"), i, pc)
            if (json_is_string(json_object_get(pc, "type")) &&
                strcmp(json_string_value(json_object_get(pc, "type")), "Predicted") == 0)
                json_array_append(conds, pc);
    }
}

static void reconcile_namespace(struct ctl *c, const char *ns)
{
    json_t *all = kube_informer_list(c->mts);
    size_t total = json_array_size(all), n = 0;
    struct microtask *mts = calloc(total ? total : 1, sizeof(*mts));
    const json_t **objs = calloc(total ? total : 1, sizeof(*objs));
    struct dag_node *nodes = calloc(total ? total : 1, sizeof(*nodes));
    struct dag_verdict *verdicts = calloc(total ? total : 1, sizeof(*verdicts));
    if (!all || !mts || !objs || !nodes || !verdicts)
        goto out;
    for (size_t i = 0; i < total; i++) {
        json_t *o = json_array_get(all, i);
        const char *ons = json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));
        if (!ons || strcmp(ons, ns) != 0)
            continue;
        char err[MT_ERR_MAX];
        microtask_init(&mts[n]);
        if (microtask_parse(&mts[n], o, err, sizeof(err)) != FS_OK) {
            log_warn("invalid MicroTask %s/%s: %s", ns,
                     json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), err);
            continue;
        }
        objs[n] = o;
        nodes[n] = (struct dag_node){mts[n].name, (const char *const *)mts[n].depends_on, mts[n].n_depends,
                                     mt_phase_dag_state(mts[n].phase), mts[n].on_dependency_failure};
        n++;
    }
    if (dag_evaluate(nodes, n, verdicts) != FS_OK)
        goto out;
    for (size_t i = 0; i < n && !stopping; i++) {
        struct microtask *mt = &mts[i];
        const json_t *old = json_object_get(objs[i], "status");
        json_t *status = json_object(), *conds = json_array();
        struct dag_verdict *v = &verdicts[i];
        if (mt->phase == MT_PHASE_SUCCEEDED || mt->phase == MT_PHASE_FAILED) {
            if (!mt->has_split) { /* finished leaves stay finished */
                json_decref(status);
                json_decref(conds);
                continue;
            }
        }
        int ready = v->kind == DAG_READY;
        json_array_append_new(conds, condition(old, "DependenciesReady", ready ? "True" : "False", v->reason,
                                               v->message, mt->generation));
        if (v->kind == DAG_CYCLE || v->kind == DAG_MISSING) {
            json_object_set_new(status, "phase", json_string("Blocked"));
            const char *was = json_string_value(json_object_get(old, "phase"));
            if (!was || strcmp(was, "Blocked") != 0)
                kube_event_record(c->events, objs[i], "Warning", v->reason, "Validate", "%s", v->message);
        } else if (v->kind == DAG_DEP_FAILED) {
            json_object_set_new(status, "phase", json_string("Failed"));
            json_array_append_new(conds, condition(old, "Failed", "True", v->reason, v->message, mt->generation));
        } else if (!ready) {
            json_object_set_new(status, "phase", json_string("Pending"));
        } else if (mt->has_split) {
            reconcile_split(c, objs[i], mt, status, conds, all, mts, n);
        } else {
            reconcile_leaf(c, objs[i], mt, status, conds);
        }
        json_object_set_new(status, "conditions", conds);
        patch_status(c, objs[i], mt, status);
    }
out:
    for (size_t i = 0; i < n; i++)
        microtask_release(&mts[i]);
    free(mts);
    free(objs);
    free(nodes);
    free(verdicts);
    json_decref(all);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: foresight-controller [flags]\n"
            "  --kubeconfig PATH      kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)\n"
            "  --context NAME         kubeconfig context\n"
            "  --no-leader-elect      act without holding the Lease (one replica only)\n"
            "  --lease-namespace NS   namespace of the Lease (default: default)\n"
            "  --lease-name NAME      (default: foresight-controller)\n"
            "  --step SECONDS         prediction curve step (default: 30)\n"
            "  --default-duration D   predicted duration when a spec gives none (default: 10m)\n"
            "  --log-json             JSON logs\n"
            "  -v                     debug logs\n");
}

int main(int argc, char **argv)
{
    struct ctl c = {0};
    struct kube_config cfg;
    enum log_level level = LOG_INFO;
    enum log_format fmt = LOG_LOGFMT;
    int ret = 1;
    c.o = (struct opts){NULL, NULL, "default", "foresight-controller", 1, 30, 600};
    static const struct option lo[] = {
        {"kubeconfig", required_argument, 0, 'k'}, {"context", required_argument, 0, 'c'},
        {"no-leader-elect", no_argument, 0, 'L'}, {"lease-namespace", required_argument, 0, 'n'},
        {"lease-name", required_argument, 0, 'N'}, {"step", required_argument, 0, 's'},
        {"default-duration", required_argument, 0, 'd'}, {"log-json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'k': c.o.kubeconfig = optarg; break;
        case 'c': c.o.context = optarg; break;
        case 'L': c.o.leader_elect = 0; break;
        case 'n': c.o.lease_ns = optarg; break;
        case 'N': c.o.lease_name = optarg; break;
        case 's': {
            long s = strtol(optarg, &end, 10);
            if (!end || *end || s < 1 || s > CURVE_MAX_STEP_S) {
                fprintf(stderr, "--step: %s is not a number of seconds from 1 to 86400\n", optarg);
                return 2;
            }
            c.o.step_s = (uint32_t)s;
            break;
        }
        case 'd':
            if (duration_parse(optarg, &c.o.default_s) != FS_OK || c.o.default_s <= 0) {
                fprintf(stderr, "--default-duration: %s is not a duration such as 10m\n", optarg);
                return 2;
            }
            break;
        case 'j': fmt = LOG_JSON; break;
        case 'v': level = LOG_DEBUG; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    log_setup(level, fmt);
    memset(&cfg, 0, sizeof(cfg));
    enum fs_err rc;
    if (c.o.kubeconfig)
        rc = kube_config_load_file(&cfg, c.o.kubeconfig, c.o.context);
    else if (getenv("KUBERNETES_SERVICE_HOST"))
        rc = kube_config_in_cluster(&cfg, NULL);
    else
        rc = kube_config_load_default(&cfg, c.o.context);
    if (rc != FS_OK) {
        log_err("cannot load the cluster configuration: %s", fs_strerror(rc));
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct kube_informer_opts mo = {.ref = MT_REF, .transform = kube_transform_strip_managed_fields};
    struct kube_informer_opts po = {.ref = {"", "v1", "pods", NULL, NULL, NULL}, .label_selector = FS_LABEL_MICROTASK,
                                    .transform = kube_transform_strip_managed_fields};
    struct kube_informer_handlers h = {enqueue, on_update, enqueue, &c};
    char identity[128], host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(identity, sizeof(identity), "%s_%ld", host, (long)getpid());
    struct kube_recorder_opts ro = {"foresight.sh/controller", identity, 0, 0};
    if ((rc = kube_client_new(&c.client, &cfg, NULL)) != FS_OK || (rc = kube_workqueue_new(&c.queue, NULL)) != FS_OK ||
        (rc = kube_recorder_new(&c.events, c.client, &ro)) != FS_OK ||
        (rc = kube_informer_new(&c.mts, c.client, &mo)) != FS_OK ||
        (rc = kube_informer_new(&c.pods, c.client, &po)) != FS_OK ||
        (rc = kube_informer_add_handlers(c.mts, &h)) != FS_OK || (rc = kube_informer_add_handlers(c.pods, &h)) != FS_OK) {
        log_err("cannot set up: %s", fs_strerror(rc));
        goto out;
    }
    if (c.o.leader_elect) {
        struct kube_lease_opts lopts = {.namespace = c.o.lease_ns, .name = c.o.lease_name, .identity = identity,
                                        .release_on_stop = 1};
        if ((rc = kube_lease_new(&c.lease, c.client, &lopts)) != FS_OK || (rc = kube_lease_start(c.lease)) != FS_OK) {
            log_err("cannot start leader election: %s", fs_strerror(rc));
            goto out;
        }
    }
    if ((rc = kube_informer_start(c.mts)) != FS_OK || (rc = kube_informer_start(c.pods)) != FS_OK) {
        log_err("cannot start informers: %s", fs_strerror(rc));
        goto out;
    }
    while (!stopping && (kube_informer_wait_synced(c.mts, 1000) != FS_OK || kube_informer_wait_synced(c.pods, 1000) != FS_OK))
        ;
    log_info("caches synced, identity %s", identity);
    int was_leader = 0;
    while (!stopping) {
        int leader = !c.lease || kube_lease_is_leader(c.lease);
        if (!leader) {
            was_leader = 0;
            usleep(200 * 1000);
            continue;
        }
        if (!was_leader) { /* newly leading: look at everything once */
            json_t *all = kube_informer_list(c.mts);
            size_t i;
            json_t *o;
            json_array_foreach(all, i, o)
                enqueue(&c, o);
            json_decref(all);
            was_leader = 1;
            log_info("leading");
        }
        char *key = NULL;
        if (kube_workqueue_get(c.queue, &key, 500) != FS_OK || !key)
            continue;
        reconcile_namespace(&c, key);
        kube_workqueue_forget(c.queue, key);
        kube_workqueue_done(c.queue, key);
        free(key);
    }
    log_info("shutting down");
    ret = 0;
out:
    if (c.mts)
        kube_informer_stop(c.mts);
    if (c.pods)
        kube_informer_stop(c.pods);
    if (c.lease) {
        kube_lease_stop(c.lease);
        kube_lease_free(c.lease);
    }
    kube_informer_free(c.mts);
    kube_informer_free(c.pods);
    kube_recorder_free(c.events);
    kube_workqueue_free(c.queue);
    kube_client_free(c.client);
    kube_config_release(&cfg);
    return ret;
}
