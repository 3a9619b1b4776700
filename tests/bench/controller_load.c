/* bench-controller load generator: creates N MicroTasks in a namespace through lib/kube (W
 * writer threads, no client-side rate limit) and waits, watching them with an informer,
 * until every one is predicted and has an admission decision (Admitted or Queued).
 * Prints one line: n= create_s= create_per_s= decided_s= admitted= queued= predicted=.
 * usage: controller_load KUBECONFIG NAMESPACE N [WRITERS] [TIMEOUT_S] */
#include <pthread.h>
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
#include "kube/informer.h"

static const struct kube_ref MT = {"foresight.sh", "v1alpha1", "microtasks", NULL, NULL, NULL};

struct job {
    struct kube_client *c;
    const char *ns;
    long from, to;
    long failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
    struct job *j = arg;
    struct kube_ref ref = MT;
    ref.namespace = j->ns;
    for (long i = j->from; i < j->to; i++) {
        char name[64];
        snprintf(name, sizeof(name), "bench-%05ld", i);
        /* small tasks: 10,000 of them fit a 4-node cluster's ledger (1m cpu, 1Mi, 1 minute) */
        json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:{s:s, s:s, s:s}, s:{s:{s:{s:s}}, s:{s:[{s:s, s:s}]}}}}",
                              "apiVersion", "foresight.sh/v1alpha1", "kind", "MicroTask", "metadata", "name", name,
                              "spec", "taskType", "bench", "resources", "cpu", "1m", "memory", "1Mi", "duration", "1m",
                              "template", "metadata", "annotations", "foresight.sh/run-duration", "10m", "spec",
                              "containers", "name", "main", "image", "registry.k8s.io/pause:3.10");
        struct kube_status st;
        enum fs_err rc = o ? kube_create(j->c, &ref, o, NULL, NULL, &st) : FS_ENOMEM;
        if (rc != FS_OK && rc != FS_ECONFLICT)
            j->failed++;
        json_decref(o);
    }
    return NULL;
}

static int cond_true(const json_t *obj, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: controller_load KUBECONFIG NAMESPACE N [WRITERS] [TIMEOUT_S]\n");
        return 2;
    }
    char *end = NULL;
    long n = strtol(argv[3], &end, 10);
    long w = argc > 4 ? strtol(argv[4], NULL, 10) : 8;
    long timeout = argc > 5 ? strtol(argv[5], NULL, 10) : 1800;
    if (!end || *end || n < 1 || n > 1000000 || w < 1 || w > 64 || timeout < 1) {
        fprintf(stderr, "controller_load: N from 1 to 1000000, WRITERS from 1 to 64\n");
        return 2;
    }
    log_setup(LOG_WARN, LOG_LOGFMT);
    struct kube_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    struct kube_client *c = NULL;
    struct kube_client_opts co = {.qps = -1};
    if (kube_config_load_file(&cfg, argv[1], NULL) != FS_OK || kube_client_new(&c, &cfg, &co) != FS_OK) {
        fprintf(stderr, "controller_load: cannot load %s\n", argv[1]);
        return 1;
    }
    struct kube_informer *inf = NULL;
    struct kube_informer_opts io = {.ref = MT, .transform = kube_transform_strip_managed_fields};
    io.ref.namespace = argv[2];
    if (kube_informer_new(&inf, c, &io) != FS_OK || kube_informer_start(inf) != FS_OK) {
        fprintf(stderr, "controller_load: cannot watch MicroTasks\n");
        return 1;
    }
    kube_informer_wait_synced(inf, 30000);
    double t0 = now_s();
    pthread_t th[64];
    struct job jobs[64];
    for (long i = 0; i < w; i++) {
        jobs[i] = (struct job){c, argv[2], n * i / w, n * (i + 1) / w, 0};
        pthread_create(&th[i], NULL, writer, &jobs[i]);
    }
    long failed = 0;
    for (long i = 0; i < w; i++) {
        pthread_join(th[i], NULL);
        failed += jobs[i].failed;
    }
    double t_created = now_s() - t0;
    long admitted = 0, queued = 0, predicted = 0;
    double t_decided = -1;
    while (now_s() - t0 < timeout) {
        json_t *all = kube_informer_list(inf);
        size_t i;
        json_t *o;
        admitted = queued = predicted = 0;
        json_array_foreach(all, i, o) {
            predicted += cond_true(o, "Predicted");
            if (cond_true(o, "Admitted"))
                admitted++;
            else if (cond_true(o, "Queued"))
                queued++;
        }
        json_decref(all);
        if (predicted >= n && admitted + queued >= n) {
            t_decided = now_s() - t0;
            break;
        }
        usleep(200 * 1000);
    }
    printf("n=%ld failed=%ld create_s=%.2f create_per_s=%.1f decided_s=%.2f admitted=%ld queued=%ld predicted=%ld\n", n,
           failed, t_created, n / t_created, t_decided, admitted, queued, predicted);
    kube_informer_stop(inf);
    kube_informer_free(inf);
    kube_client_free(c);
    kube_config_release(&cfg);
    return t_decided < 0 ? 1 : 0;
}
