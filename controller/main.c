/* foresight-controller: reconciles MicroTasks. Informers on MicroTasks, Pods, Nodes and
 * TaskProfiles feed a rate-limited work queue keyed by namespace and the reservation ledger
 * (lib/ledger/cluster, the same fold of the cluster the extender makes); only the Lease
 * holder acts. A namespace reconcile evaluates the dependency graph, splits ready tasks into
 * child MicroTasks, predicts each ready leaf (TaskProfile once learnt, else its spec) and
 * admits leaves in priority order: a leaf's Pod is created only when its p90 curve fits on
 * some node over its predicted window, else it stays Queued with the reason and the
 * earliest start. While pods run, usage from metrics.k8s.io (and network from Prometheus
 * when --prometheus-url is given) replaces the predicted part of their curve, gives the error so far and flags anomalies; on completion the run is folded
 * into its TaskProfile. Everything created has a deterministic name, so a restart never
 * creates anything twice. /healthz, /readyz and /metrics are served on --http-address.
 * This file holds the flags, the informers feeding the queue, the threads and shutdown; the
 * pieces are in reconcile.c, status.c, create.c, taskprofile.c, sampler.c and metrics.c (ctl.h). */
#include <getopt.h>
#include <pthread.h>
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
#include "ledger/cluster.h"
#include "ledger/lmap.h"

#include "admit.h"
#include "build.h"
#include "config.h"
#include "ctl.h"
#include "httpd.h"
#include "netrate.h"

volatile sig_atomic_t ctl_stopping;

static void on_signal(int sig)
{
    (void)sig;
    ctl_stopping = 1;
}

/* ---- informer handlers (informer threads) ---------------------------------------------- */

static void enqueue_ns(struct ctl *c, const json_t *obj)
{
    const char *ns = ctl_meta(obj, "namespace");
    if (ns)
        kube_workqueue_add(c->queue, ns);
}

static void mt_add(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_microtask_upsert(&c->cl, obj, time(NULL));
    enqueue_ns(c, obj);
}
static void mt_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    mt_add(arg, new_obj);
}
static void mt_delete(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_microtask_delete(&c->cl, obj, time(NULL));
    enqueue_ns(c, obj);
}

static int pod_done(const json_t *pod)
{
    const char *ph = ctl_jstr(json_object_get(pod, "status"), "phase");
    return ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
}

static void pod_event(struct ctl *c, const json_t *pod, int deleted)
{
    const char *mt = ctl_jstr(json_object_get(json_object_get(pod, "metadata"), "labels"), FS_LABEL_MICROTASK);
    const char *node = ctl_jstr(json_object_get(pod, "spec"), "nodeName");
    const char *ns = ctl_meta(pod, "namespace");
    if (deleted)
        cluster_pod_delete(&c->cl, pod);
    else
        cluster_pod_upsert(&c->cl, pod, time(NULL));
    if (mt && ns && (deleted || (node && node[0]) || pod_done(pod))) {
        /* the pod's own claim (bound) or none (done, gone) replaces the admission's */
        cluster_lock(&c->cl);
        admit_unclaim(c->cl.ledger, ns, mt);
        cluster_unlock(&c->cl);
    }
    if (deleted || pod_done(pod))
        c->capacity_changed = 1;
    if (mt)
        enqueue_ns(c, pod);
}
static void pod_add(void *arg, const json_t *obj)
{
    pod_event(arg, obj, 0);
}
static void pod_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    pod_event(arg, new_obj, 0);
}
static void pod_delete(void *arg, const json_t *obj)
{
    pod_event(arg, obj, 1);
}

static void node_add(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_node_upsert(&c->cl, obj);
    c->capacity_changed = 1;
}
static void node_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    node_add(arg, new_obj);
}
static void node_delete(void *arg, const json_t *obj)
{
    struct ctl *c = arg;
    cluster_node_delete(&c->cl, obj);
    c->capacity_changed = 1;
}

static void tp_event(void *arg, const json_t *obj)
{
    (void)arg;
    (void)obj; /* read on demand from the cache; nothing waits on a TaskProfile */
}
static void tp_update(void *arg, const json_t *old_obj, const json_t *new_obj)
{
    (void)old_obj;
    tp_event(arg, new_obj);
}

/* ---- workers -------------------------------------------------------------------------- */

/* Takes namespaces off the queue while this replica leads; the queue never hands one key to
 * two workers at once, so namespaces are reconciled in parallel and a huge one cannot starve
 * the others. */
static void *worker(void *arg)
{
    struct ctl *c = arg;
    while (!ctl_stopping) {
        if (!c->leader) {
            usleep(100 * 1000);
            continue;
        }
        char *key = NULL;
        enum fs_err rc = kube_workqueue_get(c->queue, &key, 250);
        if (rc != FS_OK || !key)
            continue;
        if (!c->leader) { /* lost the lease while waiting: leave it for the next leader */
            kube_workqueue_done(c->queue, key);
            free(key);
            continue;
        }
        rc = reconcile_namespace(c, key);
        if (rc == FS_OK) {
            kube_workqueue_forget(c->queue, key);
            ctl_count(c, &c->n.reconciles_ok, 1);
        } else {
            const char *kv[] = {"namespace", key, "error", fs_strerror(rc), NULL};
            log_kv(LOG_WARN, "reconcile failed, retrying with backoff", kv);
            kube_workqueue_add_rate_limited(c->queue, key);
            ctl_count(c, &c->n.reconciles_err, 1);
        }
        kube_workqueue_done(c->queue, key);
        free(key);
    }
    return NULL;
}

/* ---- main ----------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: foresight-controller [--config FILE] [flags]\n"
            "  --config FILE            settings from a YAML file, keys named like the flags below\n"
            "                           (e.g. step: 30s, leader-elect: false, workers: 8); flags override\n"
            "                           it; an unknown key or a bad value is an error naming it\n"
            "  --kubeconfig PATH        kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)\n"
            "  --context NAME           kubeconfig context\n"
            "  --no-leader-elect        act without holding the Lease (one replica only; file: leader-elect: false)\n"
            "  --lease-namespace NS     namespace of the Lease (default: default)\n"
            "  --lease-name NAME        (default: foresight-controller)\n"
            "  --scheduler-name NAME    schedulerName of the pods it creates (default: foresight)\n"
            "  --http-address ADDR:PORT /healthz, /readyz, /metrics (default: 0.0.0.0:8080; port 0: any)\n"
            "  --step D                 prediction curve and ledger step, seconds or a duration (default: 30)\n"
            "  --horizon STEPS          ledger horizon in steps (default: 240)\n"
            "  --headroom FRACTION      part of every node never promised (default: 0)\n"
            "  --default-duration D     predicted duration when a spec gives none (default: 10m)\n"
            "  --sample-interval D      metrics.k8s.io sampling period (default: 15s)\n"
            "  --prometheus-url URL     Prometheus base URL: pods' network usage is read from it every\n"
            "                           sampling period (default: none, network is not sampled)\n"
            "  --prometheus-network-query Q  PromQL giving bytes/s per pod, one series per pod labelled\n"
            "                           namespace and pod (default: " CTL_DEFAULT_NETWORK_QUERY ")\n"
            "  --prometheus-timeout D   bound of one Prometheus query (default: 5s)\n"
            "  --prometheus-ca-file PATH  PEM bundle verifying an https:// Prometheus (default: system store)\n"
            "  --prometheus-insecure-skip-tls-verify  do not verify Prometheus's certificate (a warning is logged)\n"
            "  --prometheus-bearer-token-file PATH  sent as a bearer token, re-read before every query\n"
            "                           (e.g. /var/run/secrets/kubernetes.io/serviceaccount/token)\n"
            "  --prometheus-username NAME  basic auth, with --prometheus-password-file PATH (re-read before\n"
            "                           every query); exclusive with the bearer token\n"
            "  --requeue D              queued tasks are re-evaluated at least this often (default: 30s)\n"
            "  --anomaly-tolerance F    usage above p90*(1+F) counts as above the band (default: 0.1)\n"
            "  --learn-min-runs N       completed runs before a TaskProfile predicts (default: 3)\n"
            "  --qps N                  API requests per second (default: 50)\n"
            "  --workers N              namespaces reconciled at once (default: 4)\n"
            "  --log-json               JSON logs (file: log-json: true)\n"
            "  -v, --verbose            debug logs (file: verbose: true)\n");
}

int main(int argc, char **argv)
{
    static struct ctl c;
    struct kube_config cfg;
    enum log_level level = LOG_INFO;
    enum log_format fmt = LOG_LOGFMT;
    int ret = 1;
    char err[400];
    ctl_opts_init(&c.o);
    static const struct option lo[] = {
        {"config", required_argument, 0, 0}, {"kubeconfig", required_argument, 0, 0},
        {"context", required_argument, 0, 0}, {"no-leader-elect", no_argument, 0, 0},
        {"lease-namespace", required_argument, 0, 0}, {"lease-name", required_argument, 0, 0},
        {"scheduler-name", required_argument, 0, 0},
        {"step", required_argument, 0, 0}, {"default-duration", required_argument, 0, 0},
        {"log-json", no_argument, 0, 0}, {"http-address", required_argument, 0, 0},
        {"sample-interval", required_argument, 0, 0}, {"requeue", required_argument, 0, 0},
        {"anomaly-tolerance", required_argument, 0, 0}, {"learn-min-runs", required_argument, 0, 0},
        {"headroom", required_argument, 0, 0}, {"horizon", required_argument, 0, 0},
        {"qps", required_argument, 0, 0}, {"workers", required_argument, 0, 0},
        {"prometheus-url", required_argument, 0, 0}, {"prometheus-network-query", required_argument, 0, 0},
        {"prometheus-timeout", required_argument, 0, 0}, {"prometheus-ca-file", required_argument, 0, 0},
        {"prometheus-insecure-skip-tls-verify", no_argument, 0, 0},
        {"prometheus-bearer-token-file", required_argument, 0, 0},
        {"prometheus-username", required_argument, 0, 0}, {"prometheus-password-file", required_argument, 0, 0},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    /* two passes: the file first, then every flag over it */
    for (int pass = 0; pass < 2; pass++) {
        int opt, idx = 0;
        optind = 1;
        opterr = pass == 1;
        while ((opt = getopt_long(argc, argv, "vh", lo, &idx)) != -1) {
            const char *name = opt == 0 ? lo[idx].name : opt == 'v' ? "verbose" : NULL;
            if (opt == 'h') {
                usage();
                ctl_opts_release(&c.o);
                return 0;
            }
            if (!name) {
                if (pass == 1) {
                    usage();
                    ctl_opts_release(&c.o);
                    return 2;
                }
                continue;
            }
            enum fs_err src;
            if (strcmp(name, "config") == 0)
                src = pass == 0 ? ctl_opts_load_file(&c.o, optarg, err, sizeof(err)) : FS_OK;
            else
                src = pass == 1 ? ctl_opts_set(&c.o, name, optarg, err, sizeof(err)) : FS_OK;
            if (src != FS_OK) {
                fprintf(stderr, "%s%s\n", strcmp(name, "config") == 0 ? "--config: " : "--", err);
                ctl_opts_release(&c.o);
                return 2;
            }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "unexpected argument %s\n", argv[optind]);
        usage();
        ctl_opts_release(&c.o);
        return 2;
    }
    if (ctl_opts_check(&c.o, err, sizeof(err)) != FS_OK) {
        fprintf(stderr, "%s\n", err);
        ctl_opts_release(&c.o);
        return 2;
    }
    if (c.o.verbose)
        level = LOG_DEBUG;
    if (c.o.log_json)
        fmt = LOG_JSON;
    log_setup(level, fmt);
    memset(&cfg, 0, sizeof(cfg));
    pthread_mutex_init(&c.mu, NULL);
    lmap_init(&c.tracks);
    lmap_init(&c.queued_ns);
    lmap_init(&c.board);
    lmap_init(&c.terminating);
    pthread_mutex_init(&c.admit_mu, NULL);
    enum fs_err rc;
    if (c.o.prom_url) {
        struct netrate_opts no = {c.o.prom_url,
                                  c.o.prom_net_query ? c.o.prom_net_query : CTL_DEFAULT_NETWORK_QUERY,
                                  c.o.prom_timeout_s,
                                  c.o.sample_s,
                                  &c.leader,
                                  {c.o.prom_ca_file, c.o.prom_insecure, c.o.prom_token_file, c.o.prom_username,
                                   c.o.prom_password_file}};
        if ((rc = netrate_start(&no, &c.net, err, sizeof(err))) != FS_OK) {
            log_err("prometheus: %s", err);
            return 2;
        }
        if (c.o.prom_insecure)
            log_warn("prometheus's TLS certificate is not verified (--prometheus-insecure-skip-tls-verify): "
                     "anyone on the path can read the credentials and forge the answers");
        const char *kv[] = {"url", c.o.prom_url, "query",
                            c.o.prom_net_query ? c.o.prom_net_query : CTL_DEFAULT_NETWORK_QUERY, "auth",
                            c.o.prom_token_file ? "bearer" : c.o.prom_username ? "basic" : "none", NULL};
        log_kv(LOG_INFO, "network usage from prometheus", kv);
    }
    if (c.o.kubeconfig)
        rc = kube_config_load_file(&cfg, c.o.kubeconfig, c.o.context);
    else if (getenv("KUBERNETES_SERVICE_HOST"))
        rc = kube_config_in_cluster(&cfg, NULL);
    else
        rc = kube_config_load_default(&cfg, c.o.context);
    if (rc != FS_OK) {
        log_err("cannot load the cluster configuration: %s", fs_strerror(rc));
        netrate_stop(c.net);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct ledger_config lc = {c.o.step_s, c.o.horizon_steps, {c.o.headroom, c.o.headroom, 0}};
    struct kube_informer_opts mo = {.ref = MT_REF, .transform = kube_transform_strip_managed_fields};
    struct kube_informer_opts po = {.ref = {"", "v1", "pods", NULL, NULL, NULL},
                                    .transform = kube_transform_strip_managed_fields};
    struct kube_informer_opts no = {.ref = {"", "v1", "nodes", NULL, NULL, NULL},
                                    .transform = kube_transform_strip_managed_fields};
    struct kube_informer_opts to = {.ref = TP_REF, .transform = kube_transform_strip_managed_fields};
    struct kube_informer_handlers mh = {mt_add, mt_update, mt_delete, &c};
    struct kube_informer_handlers ph = {pod_add, pod_update, pod_delete, &c};
    struct kube_informer_handlers nh = {node_add, node_update, node_delete, &c};
    struct kube_informer_handlers th = {tp_event, tp_update, tp_event, &c};
    struct kube_client_opts co = {.qps = c.o.qps, .burst = (int)(c.o.qps * 2)};
    struct kube_workqueue_opts wo = {.base_delay_ms = 100, .max_delay_ms = 60000};
    char identity[128], host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(identity, sizeof(identity), "%s_%ld", host, (long)getpid());
    struct kube_recorder_opts ro = {"foresight.sh/controller", identity, 0, 0};
    if ((rc = cluster_init(&c.cl, &lc, time(NULL))) != FS_OK) {
        log_err("cannot set up the ledger: %s", fs_strerror(rc));
        goto out;
    }
    c.cl_ready = 1;
    if ((rc = kube_client_new(&c.client, &cfg, &co)) != FS_OK || (rc = kube_workqueue_new(&c.queue, &wo)) != FS_OK ||
        (rc = kube_recorder_new(&c.events, c.client, &ro)) != FS_OK ||
        (rc = kube_informer_new(&c.mts, c.client, &mo)) != FS_OK ||
        (rc = kube_informer_new(&c.pods, c.client, &po)) != FS_OK ||
        (rc = kube_informer_new(&c.nodes, c.client, &no)) != FS_OK ||
        (rc = kube_informer_new(&c.tps, c.client, &to)) != FS_OK ||
        (rc = kube_informer_add_index(c.mts, "namespace", kube_index_namespace)) != FS_OK ||
        (rc = kube_informer_add_handlers(c.mts, &mh)) != FS_OK || (rc = kube_informer_add_handlers(c.pods, &ph)) != FS_OK ||
        (rc = kube_informer_add_handlers(c.nodes, &nh)) != FS_OK || (rc = kube_informer_add_handlers(c.tps, &th)) != FS_OK) {
        log_err("cannot set up: %s", fs_strerror(rc));
        goto out;
    }
    if ((rc = httpd_start(&c.http, c.o.http_host, c.o.http_port, metrics_http_handler, &c)) != FS_OK)
        goto out;
    {
        char port[16];
        snprintf(port, sizeof(port), "%d", httpd_port(c.http));
        const char *kv[] = {"address", c.o.http_host, "port", port, "identity", identity, NULL};
        log_kv(LOG_INFO, "serving /healthz /readyz /metrics", kv);
    }
    if (c.o.leader_elect) {
        struct kube_lease_opts lopts = {.namespace = c.o.lease_ns ? c.o.lease_ns : "default",
                                        .name = c.o.lease_name ? c.o.lease_name : "foresight-controller", .identity = identity,
                                        .release_on_stop = 1};
        if ((rc = kube_lease_new(&c.lease, c.client, &lopts)) != FS_OK || (rc = kube_lease_start(c.lease)) != FS_OK) {
            log_err("cannot start leader election: %s", fs_strerror(rc));
            goto out;
        }
    }
    if ((rc = kube_informer_start(c.nodes)) != FS_OK || (rc = kube_informer_start(c.pods)) != FS_OK ||
        (rc = kube_informer_start(c.tps)) != FS_OK || (rc = kube_informer_start(c.mts)) != FS_OK) {
        log_err("cannot start informers: %s", fs_strerror(rc));
        goto out;
    }
    while (!ctl_stopping && (kube_informer_wait_synced(c.nodes, 1000) != FS_OK ||
                         kube_informer_wait_synced(c.pods, 1000) != FS_OK ||
                         kube_informer_wait_synced(c.tps, 1000) != FS_OK ||
                         kube_informer_wait_synced(c.mts, 1000) != FS_OK))
        ;
    c.synced = !ctl_stopping;
    if (c.synced)
        log_info("caches synced, identity %s", identity);
    pthread_t workers[64];
    size_t n_workers = 0;
    for (long i = 0; i < c.o.workers && !ctl_stopping; i++)
        if (pthread_create(&workers[n_workers], NULL, worker, &c) == 0)
            n_workers++;
    if (!n_workers && !ctl_stopping) {
        log_err("cannot start any worker thread");
        goto out;
    }
    int was_leader = 0;
    struct timespec last_sample = {0, 0};
    while (!ctl_stopping) {
        int leader = !c.lease || kube_lease_is_leader(c.lease);
        c.leader = leader;
        if (!leader) {
            if (was_leader)
                log_info("lost the lease: standing by");
            was_leader = 0;
            usleep(200 * 1000);
            continue;
        }
        if (!was_leader) { /* newly leading: look at everything once */
            json_t *all = kube_informer_list(c.mts);
            size_t i;
            json_t *o;
            json_array_foreach(all, i, o)
                enqueue_ns(&c, o);
            json_decref(all);
            was_leader = 1;
            log_info("leading");
        }
        if (c.capacity_changed) { /* capacity freed or added: queued leaves may fit now */
            c.capacity_changed = 0;
            pthread_mutex_lock(&c.mu);
            size_t pos = 0;
            const char *ns;
            void *v;
            while (lmap_next(&c.queued_ns, &pos, &ns, &v))
                kube_workqueue_add(c.queue, ns);
            pthread_mutex_unlock(&c.mu);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - last_sample.tv_sec) + (now.tv_nsec - last_sample.tv_nsec) / 1e9 >= c.o.sample_s) {
            last_sample = now;
            sampler_run(&c);
        }
        usleep(100 * 1000);
    }
    log_info("shutting down");
    if (c.queue)
        kube_workqueue_shutdown(c.queue);
    for (size_t i = 0; i < n_workers; i++)
        pthread_join(workers[i], NULL);
    ret = 0;
out:
    netrate_stop(c.net);
    if (c.queue)
        kube_workqueue_shutdown(c.queue);
    if (c.lease) {
        kube_lease_stop(c.lease); /* releases the Lease: a standby takes over at once */
        kube_lease_free(c.lease);
    }
    kube_informer_free(c.mts);
    kube_informer_free(c.pods);
    kube_informer_free(c.nodes);
    kube_informer_free(c.tps);
    httpd_free(c.http);
    kube_recorder_free(c.events);
    kube_workqueue_free(c.queue);
    kube_client_free(c.client);
    kube_config_release(&cfg);
    sampler_free_tracks(&c);
    lmap_release(&c.tracks);
    lmap_release(&c.queued_ns);
    reconcile_free_board(&c);
    lmap_release(&c.board);
    lmap_release(&c.terminating);
    pthread_mutex_destroy(&c.admit_mu);
    if (c.cl_ready)
        cluster_release(&c.cl);
    pthread_mutex_destroy(&c.mu);
    ctl_opts_release(&c.o);
    log_info("stopped");
    return ret;
}
