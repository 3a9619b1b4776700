/* Benchmark driver for lib/kube (hack/bench/kube.sh): populates ConfigMaps, measures an
 * informer's list+watch sync time and resident memory per cached object, and its event
 * throughput on a replayed watch stream. Prints one JSON line per measurement, in the same
 * shape as hack/bench/kube/informer (the client-go reference). */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of the whole process: the cost of an event whatever the load
 * of the machine, where the rate depends on how much CPU the scheduler gave us. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* VmRSS in KiB. */
static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static struct kube_config cfg;
static struct kube_client *cl;

struct pop {
    const char *ns;
    int from, to, failed;
};

static void *populate_range(void *arg)
{
    struct pop *p = arg;
    struct kube_ref coll = {.version = "v1", .resource = "configmaps", .namespace = p->ns};
    char name[64];
    for (int i = p->from; i < p->to; i++) {
        snprintf(name, sizeof(name), "bench-%06d", i);
        /* a realistic small ConfigMap: labels, an annotation, three data keys */
        json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:{s:s}}, s:{s:s, s:s, s:s}}",
                              "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", name,
                              "namespace", p->ns, "labels", "app", "bench", "tier", "informer",
                              "annotations", "foresight.sh/owner", "kube-bench", "data",
                              "config.yaml", "replicas: 3\nimage: example/app:1.2.3\n", "mode",
                              "fast", "id", name);
        struct kube_status st;
        enum fs_err rc = kube_create(cl, &coll, o, NULL, NULL, &st);
        json_decref(o);
        if (rc != FS_OK && rc != FS_ECONFLICT)
            p->failed++;
    }
    return NULL;
}

static int populate(const char *ns, int n)
{
    pthread_t t[16];
    struct pop p[16];
    double t0 = now_s();
    int failed = 0;
    for (int i = 0; i < 16; i++) {
        p[i] = (struct pop){.ns = ns, .from = n * i / 16, .to = n * (i + 1) / 16};
        pthread_create(&t[i], NULL, populate_range, &p[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        failed += p[i].failed;
    }
    fprintf(stderr, "populated %d configmaps in %.1f s (%d failed)\n", n, now_s() - t0, failed);
    return failed ? 1 : 0;
}

struct counter {
    pthread_mutex_t lock;
    long updates, target;
    double first, done, cpu_first, cpu_done;
};

static void on_update(void *arg, const json_t *o, const json_t *n)
{
    struct counter *c = arg;
    (void)o;
    (void)n;
    pthread_mutex_lock(&c->lock);
    if (c->updates++ == 0) {
        c->first = now_s();
        c->cpu_first = cpu_s();
    }
    if (c->updates == c->target) {
        c->done = now_s();
        c->cpu_done = cpu_s();
    }
    pthread_mutex_unlock(&c->lock);
}

/* sync: list+watch the namespace, report sync time and memory; events N: also wait for N
 * updates from the (replayed) watch and report their rate. */
static int run_informer(const char *ns, long events)
{
    struct counter c = {.target = events};
    pthread_mutex_init(&c.lock, NULL);
    malloc_trim(0);
    long before = rss_kb();
    struct kube_informer *inf;
    struct kube_informer_opts o = {.ref = {.version = "v1", .resource = "configmaps", .namespace = ns},
                                   .page_limit = 500};
    if (kube_informer_new(&inf, cl, &o) != FS_OK)
        return 1;
    struct kube_informer_handlers h = {.on_update = on_update, .arg = &c};
    kube_informer_add_handlers(inf, &h);
    double t0 = now_s();
    kube_informer_start(inf);
    if (kube_informer_wait_synced(inf, 600000) != FS_OK) {
        fprintf(stderr, "informer did not sync\n");
        return 1;
    }
    double sync_s = now_s() - t0;
    size_t n = kube_informer_len(inf);
    malloc_trim(0); /* as the Go side runs debug.FreeOSMemory() */
    long after = rss_kb();
    double ev_s = 0, cpu_us = 0;
    if (events > 0) {
        double deadline = now_s() + 600;
        for (;;) {
            pthread_mutex_lock(&c.lock);
            int finished = c.done > 0;
            pthread_mutex_unlock(&c.lock);
            if (finished || now_s() > deadline)
                break;
            usleep(2000);
        }
        if (c.done > 0 && c.done > c.first)
            ev_s = (double)(c.target - 1) / (c.done - c.first);
        if (c.done > 0)
            cpu_us = (c.cpu_done - c.cpu_first) * 1e6 / (double)(c.target - 1);
    }
    printf("{\"client\":\"c\",\"objects\":%zu,\"sync_s\":%.3f,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,"
           "\"bytes_per_object\":%.0f,\"events\":%ld,\"events_per_s\":%.0f,\"cpu_us_per_event\":%.1f}\n",
           n, sync_s, before, after, n ? (double)(after - before) * 1024.0 / (double)n : 0.0,
           c.updates, ev_s, cpu_us);
    fflush(stdout);
    kube_informer_free(inf);
    return events > 0 && c.done == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: kube_informer_bench populate NS N | sync NS | events NS N\n");
        return 2;
    }
    log_setup(LOG_WARN, LOG_LOGFMT);
    if (kube_config_load_default(&cfg, NULL) != FS_OK) {
        fprintf(stderr, "kubeconfig: %s\n", cfg.errbuf);
        return 1;
    }
    struct kube_client_opts o = {.qps = -1, .timeout_ms = 120000};
    if (kube_client_new(&cl, &cfg, &o) != FS_OK)
        return 1;
    int rc = 2;
    if (!strcmp(argv[1], "populate") && argc == 4)
        rc = populate(argv[2], (int)strtol(argv[3], NULL, 10));
    else if (!strcmp(argv[1], "sync") && argc == 3)
        rc = run_informer(argv[2], 0);
    else if (!strcmp(argv[1], "events") && argc == 4)
        rc = run_informer(argv[2], strtol(argv[3], NULL, 10));
    kube_client_free(cl);
    kube_config_release(&cfg);
    return rc;
}
