/* Load generator for `make bench-extender`.
 *   extender_load gen NODES FILE     writes a v1 List: NODES nodes (8 cpu, 32Gi), on each a
 *                                    pod with requests and a MicroTask pod with a 1 h predicted
 *                                    curve (120 steps of 30 s) whose peak moves from node to node
 *   extender_load run URL NODES N [same|distinct|ref] [GAP_MS]
 *                                    sends N filter+prioritize pairs (nodeCacheCapable form, all
 *                                    NODES names in a new order every pair, as kube-scheduler
 *                                    sends them, a MicroTask pod with a 1 h curve) over one
 *                                    keep-alive connection; prints p50/p99/max in ms per pair.
 *                                    same: one pod every time (the replicas of one MicroTask);
 *                                    distinct: every pair a new pod of another MicroTask (a new
 *                                    curve, nothing reusable from the pair before);
 *                                    ref: the same bodies POSTed twice to /healthz, which
 *                                    ignores them: the HTTP round trip alone, the reference.
 *                                    GAP_MS: kube-scheduler's own scoring between the two
 *                                    calls (it calls an extender's prioritize after its score
 *                                    plugins): the client waits GAP_MS after the filter's
 *                                    answer, and a pair's latency is the two calls' sum, the
 *                                    time the scheduler waits on the extender
 *   extender_load cpu FILE NODES N [same|distinct]
 *                                    the same pairs answered in this process (ext_filter and
 *                                    ext_prioritize on the cluster of FILE, no HTTP): thread CPU
 *                                    time per pair, which a loaded machine does not inflate */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ledger/cluster.h"
#include "ledger/curve.h"
#include "ledger/extproto.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static json_t *prediction(int64_t start, int shift)
{
    json_t *cpu = json_array(), *mem = json_array();
    for (int k = 0; k < 120; k++) {
        int peak = ((k + shift) % 120) < 20;
        json_array_append_new(cpu, json_real(peak ? 2.0 : 0.5));
        json_array_append_new(mem, json_integer(peak ? 4LL << 30 : 1LL << 30));
    }
    char ts[40];
    rfc3339_format(start, ts, sizeof(ts));
    return json_pack("{s:s, s:i, s:s, s:{s:{s:o}, s:{s:o}}}", "model", "bench", "stepSeconds", 30, "start", ts,
                     "curves", "cpu", "p90", cpu, "memory", "p90", mem);
}

static int gen(int nodes, const char *path)
{
    json_t *items = json_array();
    int64_t now = (int64_t)time(NULL);
    char name[64], uid[64];
    for (int i = 0; i < nodes; i++) {
        snprintf(name, sizeof(name), "node-%05d", i);
        json_array_append_new(items, json_pack("{s:s, s:{s:s}, s:{s:{s:s, s:s}}}", "kind", "Node", "metadata", "name",
                                               name, "status", "allocatable", "cpu", "8", "memory", "32Gi"));
        snprintf(uid, sizeof(uid), "plain-%d", i);
        json_array_append_new(
            items, json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:[{s:s, s:{s:{s:s, s:s}}}]}, s:{s:s}}", "kind", "Pod",
                             "metadata", "name", uid, "namespace", "default", "uid", uid, "spec", "nodeName", name,
                             "containers", "name", "c", "resources", "requests", "cpu", "1", "memory", "2Gi", "status",
                             "phase", "Running"));
        snprintf(uid, sizeof(uid), "mt-%d", i);
        json_array_append_new(items, json_pack("{s:s, s:{s:s, s:s}, s:{s:o}}", "kind", "MicroTask", "metadata", "name",
                                               uid, "namespace", "default", "status", "prediction",
                                               prediction(now, (i * 7) % 120)));
        json_array_append_new(
            items, json_pack("{s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s}]}, s:{s:s}}", "kind", "Pod", "metadata",
                             "name", uid, "namespace", "default", "uid", uid, "labels", "foresight.sh/microtask", uid,
                             "spec", "nodeName", name, "containers", "name", "c", "status", "phase", "Running"));
    }
    json_t *list = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "List", "items", items);
    int rc = json_dump_file(list, path, JSON_COMPACT);
    json_decref(list);
    return rc == 0 ? 0 : 1;
}

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
    (void)p;
    *(size_t *)arg += s * n;
    return s * n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int post(CURL *h, const char *url, const char *body, size_t len, int any_status)
{
    size_t got = 0;
    long code = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    if (curl_easy_perform(h) != CURLE_OK)
        return -1;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return (code == 200 || any_status) && got > 2 ? 0 : -1;
}

/* The ExtenderArgs body for pair i: pod i of MicroTask mt-k (k fixed unless distinct). */
static char *args_body(json_t *names, int i, int distinct, int nodes)
{
    char uid[64], mt[64];
    snprintf(uid, sizeof(uid), "bench-uid-%d", distinct ? i : 0);
    snprintf(mt, sizeof(mt), "mt-%d", distinct ? (i % nodes) : 1);
    json_t *pod = json_pack("{s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:{s:{s:s, s:s}}}]}}", "metadata", "name",
                            uid, "namespace", "default", "uid", uid, "labels", "foresight.sh/microtask", mt, "spec",
                            "containers", "name", "c", "resources", "requests", "cpu", "2", "memory", "4Gi");
    json_t *args = json_pack("{s:o, s:n, s:O}", "Pod", pod, "Nodes", "NodeNames", names);
    char *body = args ? json_dumps(args, JSON_COMPACT) : NULL;
    json_decref(args);
    return body;
}

enum mode { M_SAME, M_DISTINCT, M_REF };

/* The node names in a new order: kube-scheduler's filter checks the nodes on 16 goroutines
 * and lists the feasible ones as they finish, so no two pods' lists come in the same order
 * (a shuffle, seeded: the same run every time). */
static json_t *shuffled_names(int nodes, unsigned *seed)
{
    int *order = malloc((size_t)nodes * sizeof(*order));
    json_t *names = json_array();
    char name[64];
    if (!order || !names)
        exit(1);
    for (int i = 0; i < nodes; i++)
        order[i] = i;
    for (int i = nodes - 1; i > 0; i--) {
        int j = rand_r(seed) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < nodes; i++) {
        snprintf(name, sizeof(name), "node-%05d", order[i]);
        json_array_append_new(names, json_string(name));
    }
    free(order);
    return names;
}

/* warm + n request bodies, each pair's names in a new order; built before timing, so the
 * generator's own JSON work is not measured. The pair's prioritize carries the same body:
 * kube-scheduler sends it the list filter answered (here every node passes). */
static char **make_bodies(int nodes, int total, enum mode mode)
{
    unsigned seed = 42;
    char **bodies = calloc((size_t)total, sizeof(*bodies));
    if (!bodies)
        return NULL;
    for (int i = 0; i < total; i++) {
        json_t *names = shuffled_names(nodes, &seed);
        if (!(bodies[i] = args_body(names, i, mode == M_DISTINCT, nodes)))
            exit(1);
        json_decref(names);
    }
    return bodies;
}

static void free_bodies(char **bodies, int total)
{
    for (int i = 0; i < total; i++)
        free(bodies[i]);
    free(bodies);
}

static void report(const char *what, int nodes, int n, size_t len, double *lat, int errors)
{
    qsort(lat, (size_t)n, sizeof(double), cmp);
    printf("%s nodes=%d pairs=%d body_bytes=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n", what, nodes, n, len,
           lat[n / 2], lat[(n * 99) / 100], lat[n - 1], errors);
}

static void pause_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms * 1e6) % 1000000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int run(const char *base, int nodes, int n, enum mode mode, double gap_ms)
{
    char url_f[512], url_p[512];
    int warm = n / 10, total = warm + n;
    char **bodies = make_bodies(nodes, total, mode);
    double *lat = calloc((size_t)n, sizeof(double));
    if (!bodies || !lat)
        return 1;
    size_t len = strlen(bodies[0]);
    snprintf(url_f, sizeof(url_f), "%s/%s", base, mode == M_REF ? "healthz" : "filter");
    snprintf(url_p, sizeof(url_p), "%s/%s", base, mode == M_REF ? "healthz" : "prioritize");
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    int errors = 0;
    for (int i = 0; i < total; i++) { /* the first tenth warms up */
        const char *b = bodies[i];
        size_t bl = strlen(b);
        double t0 = mono();
        int rc = post(h, url_f, b, bl, mode == M_REF);
        double dt = mono() - t0;
        if (gap_ms > 0)
            pause_ms(gap_ms);
        t0 = mono();
        rc |= post(h, url_p, b, bl, mode == M_REF);
        dt += mono() - t0;
        if (rc)
            errors++;
        if (i >= warm)
            lat[i - warm] = dt * 1000.0;
    }
    report("http", nodes, n, len, lat, errors);
    free_bodies(bodies, total);
    free(lat);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return errors ? 1 : 0;
}

/* The cluster of a gen file, loaded as the extender's file feed does. */
static int load_cluster(struct cluster *c, const char *path, int64_t now)
{
    struct ledger_config lc = {.step_s = 30, .n_steps = 240};
    json_error_t jerr;
    json_t *list = json_load_file(path, 0, &jerr), *o;
    size_t i;
    if (!list || cluster_init(c, &lc, now) != FS_OK)
        return -1;
    for (int pass = 0; pass < 3; pass++)
        json_array_foreach(json_object_get(list, "items"), i, o) {
            const char *k = json_string_value(json_object_get(o, "kind"));
            if (pass == 0 && strcmp(k, "Node") == 0)
                cluster_node_upsert(c, o);
            else if (pass == 1 && strcmp(k, "MicroTask") == 0)
                cluster_microtask_upsert(c, o, now);
            else if (pass == 2 && strcmp(k, "Pod") == 0)
                cluster_pod_upsert(c, o, now);
        }
    json_decref(list);
    return 0;
}

static int run_cpu(const char *path, int nodes, int n, enum mode mode)
{
    static struct cluster c;
    int64_t now = (int64_t)time(NULL);
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* as foresight-extender does */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (load_cluster(&c, path, now)) {
        fprintf(stderr, "extender_load: cannot load %s\n", path);
        return 1;
    }
    /* EXTENDER_LOAD_THREADS=N: checks on N threads as foresight-extender --check-threads N
     * (the cpu figures then count the calling thread only; wall is the latency) */
    const char *th = getenv("EXTENDER_LOAD_THREADS");
    long nth = th ? strtol(th, NULL, 10) : 1;
    if (nth > 1 && nth <= 64 && fs_pool_new((unsigned)nth - 1, &c.pool) != FS_OK)
        return 1;
    int warm = n / 10, total = warm + n, errors = 0;
    char **bodies = make_bodies(nodes, total, mode);
    double *cpu = calloc((size_t)n, sizeof(double)), *wall = calloc((size_t)n, sizeof(double));
    if (!bodies || !cpu || !wall)
        return 1;
    struct ext_counters ctr = {0};
    for (int i = 0; i < total; i++) {
        struct ext_reply f, p;
        size_t bl = strlen(bodies[i]);
        double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = mono();
        ext_filter(&c, bodies[i], bl, now, &ctr, &f);
        ext_prioritize(&c, bodies[i], bl, now, &ctr, &p);
        double dc = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0, dw = mono() - w0;
        if (f.status != 200 || p.status != 200)
            errors++;
        ext_reply_release(&f);
        ext_reply_release(&p);
        if (i >= warm) {
            cpu[i - warm] = dc * 1000.0;
            wall[i - warm] = dw * 1000.0;
        }
    }
    size_t len = strlen(bodies[0]);
    report("cpu", nodes, n, len, cpu, errors);
    report("wall", nodes, n, len, wall, errors);
    free_bodies(bodies, total);
    free(cpu);
    free(wall);
    fs_pool_free(c.pool);
    c.pool = NULL;
    cluster_release(&c);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0) {
        long nodes = strtol(argv[2], NULL, 10);
        return gen(nodes > 0 && nodes < 1000000 ? (int)nodes : 1, argv[3]);
    }
    if (argc >= 5 && argc <= 7 && strcmp(argv[1], "run") == 0) {
        enum mode mode = M_SAME;
        double gap_ms = argc == 7 ? strtod(argv[6], NULL) : 0;
        if (argc >= 6 && strcmp(argv[5], "distinct") == 0)
            mode = M_DISTINCT;
        else if (argc >= 6 && strcmp(argv[5], "ref") == 0)
            mode = M_REF;
        else if (argc >= 6 && strcmp(argv[5], "same") != 0) {
            fprintf(stderr, "extender_load: mode is same, distinct or ref\n");
            return 2;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        long nodes = strtol(argv[3], NULL, 10), pairs = strtol(argv[4], NULL, 10);
        if (nodes < 1 || nodes > 100000 || pairs < 10 || pairs > 1000000) {
            fprintf(stderr, "extender_load: NODES 1..100000, PAIRS 10..1000000\n");
            return 2;
        }
        if (!(gap_ms >= 0 && gap_ms <= 1000)) {
            fprintf(stderr, "extender_load: GAP_MS 0..1000\n");
            return 2;
        }
        int rc = run(argv[2], (int)nodes, (int)pairs, mode, gap_ms);
        curl_global_cleanup();
        return rc;
    }
    if (argc == 6 && strcmp(argv[1], "cpu") == 0) {
        long nodes = strtol(argv[3], NULL, 10), pairs = strtol(argv[4], NULL, 10);
        int distinct = strcmp(argv[5], "distinct") == 0;
        if (nodes < 1 || nodes > 100000 || pairs < 10 || pairs > 1000000 || (!distinct && strcmp(argv[5], "same"))) {
            fprintf(stderr, "extender_load: NODES 1..100000, PAIRS 10..1000000, same or distinct\n");
            return 2;
        }
        return run_cpu(argv[2], (int)nodes, (int)pairs, distinct ? M_DISTINCT : M_SAME);
    }
    fprintf(stderr, "usage: extender_load gen NODES FILE | run URL NODES PAIRS [same|distinct|ref] [GAP_MS] |\n"
                    "       extender_load cpu FILE NODES PAIRS same|distinct\n");
    return 2;
}
