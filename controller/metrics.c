/* The controller's HTTP answers: /healthz and /livez, /readyz once the caches are synced, and
 * /metrics in Prometheus's text format (counters, the running leaves' prediction errors and
 * what the reservation ledger holds on each node), rendered into a bounded buffer. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/fs_err.h"

#include "ctl.h"

#define METRICS_MAX_BYTES (64u << 20) /* bounded: far beyond what 10,000 tracked tasks need */

/* The /metrics text being rendered: after the first failure (past METRICS_MAX_BYTES, out of
 * memory) nothing more is appended and rc says why, so the caller checks once at the end. */
struct mtext {
    struct fs_buf b;
    enum fs_err rc;
};

static void mprintf(struct mtext *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mprintf(struct mtext *m, const char *fmt, ...)
{
    /* formatted straight into the buffer's free room; when it does not fit, room for it is
     * reserved and it is formatted again */
    for (int pass = 0; pass < 2 && m->rc == FS_OK; pass++) {
        size_t room = m->b.data ? m->b.cap - m->b.len : 0;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(room ? m->b.data + m->b.len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            m->rc = FS_EINVAL;
        } else if ((size_t)n < room) {
            m->b.len += (size_t)n; /* vsnprintf wrote the '\0' */
            return;
        } else if (pass == 0) {
            m->rc = fs_buf_reserve(&m->b, (size_t)n);
        }
    }
    if (m->rc == FS_OK)
        m->rc = FS_ERANGE; /* not reached: the reserved room holds it */
    if (m->b.data)
        m->b.data[m->b.len] = '\0'; /* a piece that did not fit may have been written in part */
}

static void metrics_text(struct ctl *c, struct mtext *m)
{
    struct counters n;
    size_t qlen = kube_workqueue_len(c->queue);
    pthread_mutex_lock(&c->mu);
    n = c->n;
    long queued_now = 0;
    {
        size_t qpos = 0;
        const char *qk;
        void *qv;
        while (lmap_next(&c->queued_ns, &qpos, &qk, &qv))
            queued_now += (long)(uintptr_t)qv;
    }
    mprintf(m, "# HELP foresight_controller_reconciles_total Namespace reconciles by result.\n"
               "# TYPE foresight_controller_reconciles_total counter\n"
               "foresight_controller_reconciles_total{result=\"ok\"} %lu\n"
               "foresight_controller_reconciles_total{result=\"error\"} %lu\n",
            n.reconciles_ok, n.reconciles_err);
    mprintf(m, "# HELP foresight_controller_queue_depth Keys ready in the work queue.\n"
               "# TYPE foresight_controller_queue_depth gauge\nforesight_controller_queue_depth %zu\n", qlen);
    mprintf(m, "# HELP foresight_controller_leader 1 while this replica holds the Lease.\n"
               "# TYPE foresight_controller_leader gauge\nforesight_controller_leader %d\n", c->leader);
    mprintf(m, "# HELP foresight_controller_admissions_total Admission decisions by result.\n"
               "# TYPE foresight_controller_admissions_total counter\n"
               "foresight_controller_admissions_total{result=\"admitted\"} %lu\n"
               "foresight_controller_admissions_total{result=\"queued\"} %lu\n",
            n.admitted, n.queued);
    mprintf(m, "# HELP foresight_controller_queued_microtasks Leaves left Queued by the last admission pass of each namespace.\n"
               "# TYPE foresight_controller_queued_microtasks gauge\nforesight_controller_queued_microtasks %ld\n",
            queued_now);
    mprintf(m, "# HELP foresight_controller_created_total Objects created.\n"
               "# TYPE foresight_controller_created_total counter\n"
               "foresight_controller_created_total{kind=\"Pod\"} %lu\n"
               "foresight_controller_created_total{kind=\"MicroTask\"} %lu\n",
            n.pods_created, n.children_created);
    mprintf(m, "# HELP foresight_controller_usage_samples_total Pod usage samples folded in.\n"
               "# TYPE foresight_controller_usage_samples_total counter\nforesight_controller_usage_samples_total %lu\n"
               "# HELP foresight_controller_usage_sample_errors_total Failed reads of metrics.k8s.io.\n"
               "# TYPE foresight_controller_usage_sample_errors_total counter\n"
               "foresight_controller_usage_sample_errors_total %lu\n",
            n.samples, n.sample_errors);
    struct netrate_counts nc;
    netrate_counts(c->net, &nc);
    if (c->net)
        mprintf(m, "# HELP foresight_controller_network_queries_total Prometheus network queries by result.\n"
                   "# TYPE foresight_controller_network_queries_total counter\n"
                   "foresight_controller_network_queries_total{result=\"ok\"} %lu\n"
                   "foresight_controller_network_queries_total{result=\"error\"} %lu\n"
                   "# HELP foresight_controller_network_pods Pods with a network rate in the last Prometheus answer.\n"
                   "# TYPE foresight_controller_network_pods gauge\nforesight_controller_network_pods %lu\n"
                   "# HELP foresight_controller_network_samples_total Usage samples that carried a network rate.\n"
                   "# TYPE foresight_controller_network_samples_total counter\n"
                   "foresight_controller_network_samples_total %lu\n",
                nc.queries - nc.errors, nc.errors, nc.pods, n.net_samples);
    mprintf(m, "# HELP foresight_controller_anomalies_total Micro-tasks found above their predicted band.\n"
               "# TYPE foresight_controller_anomalies_total counter\n");
    for (int r = 0; r < CURVE_NRES; r++)
        mprintf(m, "foresight_controller_anomalies_total{resource=\"%s\"} %lu\n", curve_res_name((enum curve_res)r),
                n.anomalies[r]);
    mprintf(m, "# HELP foresight_controller_throttles_total Pods resized down after an anomaly.\n"
               "# TYPE foresight_controller_throttles_total counter\nforesight_controller_throttles_total %lu\n"
               "# HELP foresight_controller_taskprofile_updates_total Completed runs folded into TaskProfiles.\n"
               "# TYPE foresight_controller_taskprofile_updates_total counter\n"
               "foresight_controller_taskprofile_updates_total %lu\n",
            n.throttles, n.profile_updates);
    mprintf(m, "# HELP foresight_controller_completed_prediction_mape_percent MAPE of completed leaves' predictions.\n"
               "# TYPE foresight_controller_completed_prediction_mape_percent summary\n"
               "foresight_controller_completed_prediction_mape_percent_sum %.4f\n"
               "foresight_controller_completed_prediction_mape_percent_count %lu\n",
            n.done_mape_sum, n.done_mape_n);
    mprintf(m, "# HELP foresight_controller_prediction_mape_percent Error so far of each running leaf's prediction.\n"
               "# TYPE foresight_controller_prediction_mape_percent gauge\n");
    size_t pos = 0;
    const char *key;
    void *val;
    while (lmap_next(&c->tracks, &pos, &key, &val)) {
        struct track *t = val;
        char ns[80], name[80];
        const char *sl = strchr(t->key, '/');
        if (!sl || !t->err.has_mape_all)
            continue;
        snprintf(ns, sizeof(ns), "%.*s", (int)(sl - t->key), t->key);
        snprintf(name, sizeof(name), "%s", sl + 1);
        mprintf(m, "foresight_controller_prediction_mape_percent{namespace=\"%s\",microtask=\"%s\"} %.4f\n", ns, name,
                t->err.mape_all);
    }
    mprintf(m, "# HELP foresight_controller_prediction_mase Error so far of each running leaf's prediction, scaled.\n"
               "# TYPE foresight_controller_prediction_mase gauge\n");
    pos = 0;
    while (lmap_next(&c->tracks, &pos, &key, &val)) {
        struct track *t = val;
        char ns[80];
        const char *sl = strchr(t->key, '/');
        if (!sl || !t->err.has_mase_all)
            continue;
        snprintf(ns, sizeof(ns), "%.*s", (int)(sl - t->key), t->key);
        mprintf(m, "foresight_controller_prediction_mase{namespace=\"%s\",microtask=\"%s\"} %.4f\n", ns, sl + 1,
                t->err.mase_all);
    }
    pthread_mutex_unlock(&c->mu);
    /* the ledger admission decides from (outside c->mu: the cluster lock is never taken under it) */
    if (!c->cl_ready)
        return;
    mprintf(m, "# HELP foresight_controller_ledger_reserved What the reservation ledger holds on each node now "
               "(cpu in millicores, memory in bytes).\n"
               "# TYPE foresight_controller_ledger_reserved gauge\n");
    int64_t now = time(NULL);
    cluster_lock(&c->cl);
    ledger_advance(c->cl.ledger, now);
    for (size_t i = 0; i < c->cl.ledger->n_nodes; i++) {
        const struct ledger_node *nd = c->cl.ledger->nodes[i];
        for (int r = 0; r < CURVE_NET; r++)
            mprintf(m, "foresight_controller_ledger_reserved{node=\"%s\",resource=\"%s\"} %lld\n", nd->name,
                    curve_res_name((enum curve_res)r), (long long)ledger_reserved(c->cl.ledger, nd, (enum curve_res)r, now));
    }
    cluster_unlock(&c->cl);
}

void metrics_http_handler(void *arg, const char *path, int *status, const char **ctype, char **body)
{
    struct ctl *c = arg;
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0) {
        *status = 200;
        *body = strdup("ok\n");
    } else if (strcmp(path, "/readyz") == 0) {
        *status = c->synced ? 200 : 503;
        *body = strdup(c->synced ? "ok\n" : "caches not synced yet\n");
    } else if (strcmp(path, "/metrics") == 0) {
        struct mtext m = {.rc = FS_OK};
        fs_buf_init(&m.b, METRICS_MAX_BYTES, 0);
        metrics_text(c, &m);
        if (m.rc != FS_OK || !m.b.data) {
            fs_buf_release(&m.b);
            *status = 503;
            *body = strdup("cannot render metrics\n");
            return;
        }
        *status = 200;
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        *body = m.b.data; /* the caller frees it */
    } else {
        *status = 404;
        *body = strdup("not found\n");
    }
}
