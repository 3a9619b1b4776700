/* foresight-extender: answers kube-scheduler's extender calls (/filter, /prioritize, /bind)
 * from a time-indexed reservation ledger kept in memory, plus /healthz, /readyz (after the
 * informers' first lists) and /metrics (Prometheus text). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cpus.h"
#include "common/log.h"
#include "common/pool.h"
#include "feed.h"
#include "ledger/cluster.h"
#include "ledger/extproto.h"
#include "server.h"

enum verb { V_FILTER, V_PRIORITIZE, V_BIND, V_N };
static const char *const verb_names[V_N] = {"filter", "prioritize", "bind"};
/* latency buckets, seconds */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
#define NB (sizeof(buckets) / sizeof(buckets[0]))

struct hist {
    unsigned long count[NB + 1];
    double sum;
    unsigned long n;
};

struct app {
    struct cluster cluster;
    struct feed *feed;
    struct ext_counters ctr; /* under cluster's lock */
    pthread_mutex_t mmu;     /* guards hist and codes */
    struct hist hist[V_N];
    unsigned long codes[V_N][6]; /* by status class 1xx..5xx */
    struct hist warmup;          /* ext_prioritize_warm after a filter */
    struct hist filter_to_prio;  /* a filter's answer sent -> the next prioritize read */
    double filter_sent;          /* when the last filter's answer went out; 0: none since
                                    (service thread only, as filter and prioritize are) */
};

static struct server *g_server;

static void on_signal(int sig)
{
    (void)sig;
    if (g_server)
        server_stop(g_server);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Call with mmu held. */
static void hist_add(struct hist *h, double dt)
{
    size_t i = 0;
    while (i < NB && dt > buckets[i])
        i++;
    h->count[i]++;
    h->sum += dt;
    h->n++;
}

static void observe(struct app *a, enum verb v, double dt, int status)
{
    pthread_mutex_lock(&a->mmu);
    hist_add(&a->hist[v], dt);
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        a->codes[v][cls]++;
    pthread_mutex_unlock(&a->mmu);
}

/* The verb is the last path component, so a urlPrefix with a path works too. */
static int verb_of(const char *path)
{
    const char *last = strrchr(path, '/');
    last = last ? last + 1 : path;
    for (int v = 0; v < V_N; v++)
        if (strcmp(last, verb_names[v]) == 0)
            return v;
    return -1;
}

static void text_reply(int status, const char *text, struct ext_reply *out)
{
    out->status = status;
    out->body = strdup(text);
    out->len = out->body ? strlen(out->body) : 0;
    if (!out->body)
        out->status = 500;
}

/* One histogram's series, appended to buf; label (e.g. verb="filter") may be "". Returns
 * the new length (what does not fit in cap is left out). */
static size_t put_hist(char *buf, size_t len, size_t cap, const char *name, const char *label, const struct hist *h)
{
    const char *sep = label[0] ? "," : "";
    unsigned long cum = 0;
    for (size_t i = 0; i <= NB; i++) {
        char le[16];
        if (i < NB)
            snprintf(le, sizeof(le), "%g", buckets[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        cum += h->count[i];
        int n = snprintf(buf + len, cap - len, "%s_bucket{%s%sle=\"%s\"} %lu\n", name, label, sep, le, cum);
        if (n > 0 && (size_t)n < cap - len)
            len += (size_t)n;
    }
    int n = label[0] ? snprintf(buf + len, cap - len, "%s_sum{%s} %.9f\n%s_count{%s} %lu\n", name, label, h->sum, name,
                                label, h->n)
                     : snprintf(buf + len, cap - len, "%s_sum %.9f\n%s_count %lu\n", name, h->sum, name, h->n);
    if (n > 0 && (size_t)n < cap - len)
        len += (size_t)n;
    return len;
}

static void metrics(struct app *a, struct ext_reply *out)
{
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        text_reply(500, "out of memory", out);
        return;
    }
#define EMIT(...)                                                                                     \
    do {                                                                                              \
        int n_ = snprintf(buf + len, cap - len, __VA_ARGS__);                                         \
        if (n_ > 0 && (size_t)n_ < cap - len)                                                         \
            len += (size_t)n_;                                                                        \
    } while (0)
    struct cluster_stats st;
    cluster_stats(&a->cluster, &st);
    cluster_lock(&a->cluster);
    struct ext_counters c = a->ctr;
    cluster_unlock(&a->cluster);
    EMIT("# HELP foresight_extender_request_duration_seconds Extender request latency by verb.\n"
         "# TYPE foresight_extender_request_duration_seconds histogram\n");
    pthread_mutex_lock(&a->mmu);
    for (int v = 0; v < V_N; v++) {
        char label[32];
        snprintf(label, sizeof(label), "verb=\"%s\"", verb_names[v]);
        len = put_hist(buf, len, cap, "foresight_extender_request_duration_seconds", label, &a->hist[v]);
    }
    const struct {
        const char *name, *help;
        const struct hist *h;
    } more[] = {
        {"foresight_extender_prioritize_warmup_seconds",
         "Time spent after a filter's answer working out the prioritize that follows it.", &a->warmup},
        {"foresight_extender_filter_to_prioritize_seconds",
         "From a filter's answer going out to the next prioritize being read: kube-scheduler's own scoring "
         "between the two calls, during which the warm-up runs.",
         &a->filter_to_prio},
    };
    for (size_t m = 0; m < sizeof(more) / sizeof(more[0]); m++) {
        EMIT("# HELP %s %s\n# TYPE %s histogram\n", more[m].name, more[m].help, more[m].name);
        len = put_hist(buf, len, cap, more[m].name, "", more[m].h);
    }
    EMIT("# HELP foresight_extender_requests_total Extender requests by verb and status class.\n"
         "# TYPE foresight_extender_requests_total counter\n");
    for (int v = 0; v < V_N; v++)
        for (int k = 2; k <= 5; k++)
            EMIT("foresight_extender_requests_total{verb=\"%s\",code=\"%dxx\"} %lu\n", verb_names[v], k, a->codes[v][k]);
    pthread_mutex_unlock(&a->mmu);
    EMIT("# HELP foresight_extender_rejections_total Nodes filtered out, by reason.\n"
         "# TYPE foresight_extender_rejections_total counter\n");
    for (int r = 0; r < EXT_R_N; r++)
        EMIT("foresight_extender_rejections_total{reason=\"%s\"} %lu\n", ext_reason_name(r), c.rejections[r]);
    EMIT("# TYPE foresight_extender_bad_requests_total counter\nforesight_extender_bad_requests_total %lu\n",
         c.bad_requests);
    EMIT("# TYPE foresight_extender_binds_total counter\n"
         "foresight_extender_binds_total{result=\"bound\"} %lu\n"
         "foresight_extender_binds_total{result=\"conflict\"} %lu\n"
         "foresight_extender_binds_total{result=\"failed\"} %lu\n",
         c.binds, c.bind_conflicts, c.bind_failures);
    EMIT("# HELP foresight_extender_apiserver_connections_opened_total Connections opened to the API server "
         "(far above the bind threads: connections are not reused).\n"
         "# TYPE foresight_extender_apiserver_connections_opened_total counter\n"
         "foresight_extender_apiserver_connections_opened_total %lu\n",
         feed_connections_opened(a->feed));
    EMIT("# HELP foresight_extender_prioritize_answered_ahead_total Prioritize calls answered with the reply "
         "worked out after their filter (the same pod, the list the filter answered, nothing changed since).\n"
         "# TYPE foresight_extender_prioritize_answered_ahead_total counter\n"
         "foresight_extender_prioritize_answered_ahead_total %lu\n",
         c.prioritize_ahead);
    EMIT("# TYPE foresight_extender_pods_modelled_total counter\n"
         "foresight_extender_pods_modelled_total{from=\"prediction\"} %lu\n"
         "foresight_extender_pods_modelled_total{from=\"requests\"} %lu\n",
         c.from_prediction, c.from_requests);
    EMIT("# HELP foresight_ledger_claims Claims held in the reservation ledger.\n# TYPE foresight_ledger_claims gauge\n"
         "foresight_ledger_claims %zu\n",
         st.claims);
    EMIT("# TYPE foresight_ledger_nodes gauge\nforesight_ledger_nodes %zu\n", st.nodes);
    EMIT("# TYPE foresight_cluster_pods gauge\nforesight_cluster_pods %zu\n", st.pods);
    EMIT("# TYPE foresight_cluster_predictions gauge\nforesight_cluster_predictions %zu\n", st.predictions);
    EMIT("# TYPE foresight_prediction_errors_total counter\nforesight_prediction_errors_total %lu\n",
         st.prediction_errors);
#undef EMIT
    out->status = 200;
    out->body = buf;
    out->len = len;
}

/* GET /debug/ledger?node=NAME: the node's reserved cpu/memory per step (for e2e checks). */
static void debug_ledger(struct app *a, struct ext_reply *out)
{
    json_t *o = json_object();
    if (!o) {
        text_reply(500, "out of memory", out);
        return;
    }
    cluster_lock(&a->cluster);
    struct ledger *l = a->cluster.ledger;
    ledger_advance(l, (int64_t)time(NULL));
    json_object_set_new(o, "stepSeconds", json_integer(l->cfg.step_s));
    json_object_set_new(o, "startStep", json_integer(l->base));
    json_t *nodes = json_object();
    json_object_set_new(o, "nodes", nodes);
    for (size_t i = 0; i < l->n_nodes; i++) {
        const struct ledger_node *n = l->nodes[i];
        json_t *nj = json_object(), *cpu = json_array(), *mem = json_array(), *claims = json_array();
        for (uint32_t k = 0; k < l->cfg.n_steps; k++) {
            int64_t t = (l->base + k) * (int64_t)l->cfg.step_s;
            json_array_append_new(cpu, json_integer(ledger_reserved(l, n, CURVE_CPU, t)));
            json_array_append_new(mem, json_integer(ledger_reserved(l, n, CURVE_MEM, t)));
        }
        for (size_t k = 0; k < n->n_claims; k++)
            json_array_append_new(claims, json_string(n->claims[k]->key));
        json_object_set_new(nj, "cpuMilli", cpu);
        json_object_set_new(nj, "memoryBytes", mem);
        json_object_set_new(nj, "claims", claims);
        json_object_set_new(nj, "cpuLimitMilli", json_integer(n->limit[CURVE_CPU]));
        json_object_set_new(nj, "memoryLimitBytes", json_integer(n->limit[CURVE_MEM]));
        json_object_set_new(nodes, n->name, nj);
    }
    cluster_unlock(&a->cluster);
    out->body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    out->status = out->body ? 200 : 500;
    out->len = out->body ? strlen(out->body) : 0;
}

static void bind(struct app *a, const char *body, size_t len, struct ext_reply *out)
{
    struct ext_bind_args b;
    char msg[800];
    int64_t now = (int64_t)time(NULL);
    if (ext_bind_parse(body, len, &b, &a->ctr, out) != FS_OK)
        return;
    enum fs_err rc = ext_bind_claim(&a->cluster, &b, NULL, now, &a->ctr, msg, sizeof(msg));
    if (rc == FS_EDATA) {
        /* the pod informer lags: read the pod itself (bind may call the API server) */
        json_t *pod = feed_get_pod(a->feed, b.pod_ns, b.pod_name);
        if (pod)
            rc = ext_bind_claim(&a->cluster, &b, pod, now, &a->ctr, msg, sizeof(msg));
        json_decref(pod);
    }
    if (rc == FS_OK)
        rc = feed_bind(a->feed, b.pod_ns, b.pod_name, b.pod_uid, b.node, msg, sizeof(msg));
    if (rc != FS_OK)
        log_warn("bind failed: %s", msg);
    ext_bind_done(&a->cluster, &b, rc == FS_OK ? NULL : msg, now, &a->ctr, out);
}

static void handle(void *arg, const char *method, const char *path, const char *body, size_t len,
                   struct ext_reply *out)
{
    struct app *a = arg;
    memset(out, 0, sizeof(*out));
    if (strcmp(method, "GET") == 0) {
        if (strcmp(path, "/healthz") == 0)
            text_reply(200, "ok", out);
        else if (strcmp(path, "/readyz") == 0)
            text_reply(feed_synced(a->feed) ? 200 : 503, feed_synced(a->feed) ? "ok" : "informers not synced", out);
        else if (strcmp(path, "/metrics") == 0)
            metrics(a, out);
        else if (strcmp(path, "/debug/ledger") == 0)
            debug_ledger(a, out);
        else
            ext_error_reply(404, "no such path", out);
        return;
    }
    int v = verb_of(path);
    if (v < 0) {
        ext_error_reply(404, "no such verb (filter, prioritize, bind)", out);
        return;
    }
    if (!feed_synced(a->feed)) {
        /* an answer from a half-filled ledger could promise capacity twice */
        ext_error_reply(503, "informers not synced yet", out);
        return;
    }
    double t0 = mono();
    int64_t now = (int64_t)time(NULL);
    if (v == V_PRIORITIZE && a->filter_sent > 0) {
        pthread_mutex_lock(&a->mmu);
        hist_add(&a->filter_to_prio, t0 - a->filter_sent);
        pthread_mutex_unlock(&a->mmu);
    }
    if (v != V_BIND)
        a->filter_sent = 0;
    if (v == V_FILTER)
        ext_filter(&a->cluster, body, len, now, &a->ctr, out);
    else if (v == V_PRIORITIZE)
        ext_prioritize(&a->cluster, body, len, now, &a->ctr, out);
    else
        bind(a, body, len, out);
    observe(a, (enum verb)v, mono() - t0, out->status);
}

static int slow(void *arg, const char *method, const char *path)
{
    (void)arg;
    return strcmp(method, "POST") == 0 && verb_of(path) == V_BIND;
}

/* Once a filter's answer is out, the prioritize that follows it is worked out ahead (see
 * ext_prioritize_warm): kube-scheduler runs its own scoring between the two calls. */
static void after(void *arg, const char *method, const char *path, const char *body, size_t len, int status)
{
    struct app *a = arg;
    if (status != 200 || strcmp(method, "POST") != 0 || verb_of(path) != V_FILTER)
        return;
    double t0 = mono();
    a->filter_sent = t0;
    ext_prioritize_warm(&a->cluster, body, len, (int64_t)time(NULL));
    pthread_mutex_lock(&a->mmu);
    hist_add(&a->warmup, mono() - t0);
    pthread_mutex_unlock(&a->mmu);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: foresight-extender [flags]\n"
            "  --port N               listen port (8888)\n"
            "  --address A            listen address (all)\n"
            "  --tls-cert F --tls-key F   serve HTTPS\n"
            "  --client-ca F          require client certificates signed by this CA\n"
            "  --kubeconfig F         kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)\n"
            "  --fake-cluster F       no API server: nodes, pods and MicroTasks from a v1 List file\n"
            "  --step S               ledger step in seconds (30)\n"
            "  --horizon S            ledger horizon in seconds (7200)\n"
            "  --headroom-cpu X --headroom-memory X --headroom-network X   fraction kept free (0)\n"
            "  --max-body BYTES       largest request body (%u)\n"
            "  --workers N            bindings posted at once (32)\n"
            "  --check-threads N      threads checking one request's nodes (0: as many as the\n"
            "                         CPUs the process may use, under its CPU limit, up to 4)\n"
            "  -v                     debug logs; --log-json for JSON logs\n",
            EXT_MAX_BODY_DEFAULT);
}

static int num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || !(d >= lo && d <= hi))
        return -1;
    *out = d;
    return 0;
}

int main(int argc, char **argv)
{
    static struct app a;
    /* 32 bind threads: kube-scheduler binds each pod in a goroutine of its own and waits
     * httpTimeout for the reply, while a binding waits for an etcd commit; the bind rate is
     * about threads / commit latency, and a bind queued here past httpTimeout is retried by
     * the scheduler (a second cycle for the same pod). 4 threads capped a 1,000-node cluster
     * at 10-20 binds/s under load with a third of the binds retried. */
    struct server_opts so = {.port = 8888, .max_body = EXT_MAX_BODY_DEFAULT, .workers = 32};
    struct ledger_config lc = {.step_s = 30, .n_steps = 240};
    const char *kubeconfig = NULL, *fake = NULL;
    double step = 30, horizon = 7200, d, check_threads = 0;
    enum log_level level = LOG_INFO;
    enum log_format fmt = LOG_LOGFMT;
    static const struct option opts[] = {
        {"port", 1, 0, 'p'},          {"address", 1, 0, 'a'},       {"tls-cert", 1, 0, 'c'},
        {"tls-key", 1, 0, 'k'},       {"client-ca", 1, 0, 'C'},     {"kubeconfig", 1, 0, 'K'},
        {"fake-cluster", 1, 0, 'F'},  {"step", 1, 0, 's'},          {"horizon", 1, 0, 'H'},
        {"headroom-cpu", 1, 0, '1'},  {"headroom-memory", 1, 0, '2'}, {"headroom-network", 1, 0, '3'},
        {"max-body", 1, 0, 'm'},      {"workers", 1, 0, 'w'},       {"log-json", 0, 0, 'j'},
        {"check-threads", 1, 0, 't'}, {"help", 0, 0, 'h'},          {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'p': if (num(optarg, 1, 65535, &d)) goto bad; so.port = (int)d; break;
        case 'a': so.address = optarg; break;
        case 'c': so.tls_cert = optarg; break;
        case 'k': so.tls_key = optarg; break;
        case 'C': so.client_ca = optarg; break;
        case 'K': kubeconfig = optarg; break;
        case 'F': fake = optarg; break;
        case 's': if (num(optarg, 1, 3600, &step)) goto bad; break;
        case 'H': if (num(optarg, 1, 30 * 86400, &horizon)) goto bad; break;
        case '1': case '2': case '3':
            if (num(optarg, 0, 0.99, &lc.headroom[ch - '1'])) goto bad;
            break;
        case 'm': if (num(optarg, 1024, 1 << 30, &d)) goto bad; so.max_body = (size_t)d; break;
        case 'w': if (num(optarg, 1, 256, &d)) goto bad; so.workers = (int)d; break;
        case 't': if (num(optarg, 0, 64, &check_threads)) goto bad; break;
        case 'j': fmt = LOG_JSON; break;
        case 'v': level = LOG_DEBUG; break;
        case 'h': usage(stdout); return 0;
        default: goto bad;
        }
    }
    if (optind != argc || (!so.tls_cert) != (!so.tls_key) || (so.client_ca && !so.tls_cert)) {
        fprintf(stderr, "foresight-extender: --tls-cert and --tls-key go together; --client-ca needs them\n");
        goto bad;
    }
    log_setup(level, fmt);
    /* Each 5,000-node request allocates and frees about 1 MB (body, names, decisions,
     * reply). With glibc's defaults that memory goes back to the kernel after every request
     * (heap trim, mmap for the larger blocks) and the next request page-faults it in again,
     * which cost more than the answer itself. Keep it in the process. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    lc.step_s = (uint32_t)step;
    lc.n_steps = (uint32_t)ceil(horizon / step);
    if (lc.n_steps > LEDGER_MAX_STEPS) {
        fprintf(stderr, "foresight-extender: horizon / step must be at most %d steps\n", LEDGER_MAX_STEPS);
        return 2;
    }
    if (cluster_init(&a.cluster, &lc, (int64_t)time(NULL)) != FS_OK) {
        log_err("cannot set up the ledger");
        return 1;
    }
    /* kube-scheduler asks about one pod at a time and waits, so a large request's checks
     * are spread over the cores the extender may use (it runs its own filters on 16
     * goroutines for the same reason): the checks are mostly waits for memory, and on a
     * 2-core machine 2 threads take about a third off a 5,000-node prioritize. Not beyond
     * the CPU limit, where threads get throttled; requests under 512 nodes stay on one
     * thread. */
    if (check_threads == 0) {
        unsigned cpus = fs_usable_cpus();
        check_threads = cpus > 4 ? 4 : cpus;
    }
    if (fs_pool_new((unsigned)check_threads - 1, &a.cluster.pool) != FS_OK) {
        log_err("cannot start %d check threads", (int)check_threads);
        return 1;
    }
    pthread_mutex_init(&a.mmu, NULL);
    enum fs_err rc = fake ? feed_start_file(&a.feed, &a.cluster, fake) : feed_start_kube(&a.feed, &a.cluster, kubeconfig);
    if (rc != FS_OK) {
        log_err("cannot start the cluster feed: %s", fs_strerror(rc));
        return 1;
    }
    struct server_app app = {.handle = handle, .slow = slow, .after = after, .arg = &a};
    if ((rc = server_new(&g_server, &so, &app)) != FS_OK)
        return 1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    {
        char port[16];
        char threads[16];
        snprintf(port, sizeof(port), "%d", so.port);
        snprintf(threads, sizeof(threads), "%d", (int)check_threads);
        const char *kv[] = {"port",          port,    "tls", so.tls_cert ? "true" : "false", "feed", fake ? "file" : "kube",
                            "check_threads", threads, NULL};
        log_kv(LOG_INFO, "foresight-extender listening", kv);
    }
    rc = server_run(g_server);
    server_free(g_server);
    g_server = NULL;
    feed_free(a.feed);
    fs_pool_free(a.cluster.pool);
    a.cluster.pool = NULL;
    cluster_release(&a.cluster);
    log_info("foresight-extender stopped");
    return rc == FS_OK ? 0 : 1;
bad:
    usage(stderr);
    return 2;
}
