/* Pods' network rates from Prometheus on a thread of their own (see netrate.h): one instant
 * query for every pod at once per period; each answer replaces the rates held. */
#include "netrate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ledger/curve.h"
#include "ledger/lmap.h"
#include "prom/prom.h"
#include "usage.h"

struct netrate {
    struct netrate_opts o;
    char *url, *query;    /* owned copies */
    struct prom_client *pc;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;   /* guards rates, ok_at and counts */
    struct lmap rates;    /* "ns/pod" -> int64_t * bytes/s, from the last answer */
    int64_t ok_at;        /* unix time of the last answer, 0 none */
    struct netrate_counts counts;
};

static void rates_free(struct lmap *m)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (lmap_next(m, &pos, &k, &v))
        free(v);
    lmap_release(m);
}

/* One instant query for every pod at once; the answer replaces the rates held. */
static enum fs_err rates_read(struct netrate *n, size_t *n_pods, char *err, size_t errlen)
{
    static const char *const keys[] = {"namespace", "pod"};
    struct prom_vector v;
    struct lmap m;
    lmap_init(&m);
    enum fs_err rc = prom_query(n->pc, n->query, keys, 2, &v, err, errlen);
    if (rc != FS_OK)
        goto out;
    for (size_t i = 0; i < v.n; i++) {
        char key[320];
        snprintf(key, sizeof(key), "%s/%s", v.p[i].key[0], v.p[i].key[1]);
        /* a query not summed by pod gives several series of one pod (interfaces): they add up */
        int64_t *have = lmap_get(&m, key), *x = have ? have : calloc(1, sizeof(*x));
        if (!x || (!have && (rc = lmap_put(&m, key, x)) != FS_OK)) {
            if (!have)
                free(x);
            rc = fs_say(err, errlen, FS_ENOMEM, "out of memory");
            goto out;
        }
        *x = curve_value((double)*x + v.p[i].value); /* finite, clamped at 0 */
    }
    if (v.missing_labels)
        log_debug("prometheus network query: %zu series without namespace and pod labels left out", v.missing_labels);
    *n_pods = m.len;
    pthread_mutex_lock(&n->mu);
    struct lmap old = n->rates;
    n->rates = m;
    n->ok_at = time(NULL);
    pthread_mutex_unlock(&n->mu);
    m = old; /* freed below */
out:
    prom_vector_release(&v);
    rates_free(&m);
    return rc;
}

static void *reader(void *arg)
{
    struct netrate *n = arg;
    char last_err[400] = "";
    time_t last_warn = 0;
    while (!n->stop) {
        if (!n->o.active || *n->o.active) {
            char err[400] = "";
            size_t pods = 0;
            enum fs_err rc = rates_read(n, &pods, err, sizeof(err));
            pthread_mutex_lock(&n->mu);
            n->counts.queries++;
            if (rc != FS_OK)
                n->counts.errors++;
            else
                n->counts.pods = pods;
            pthread_mutex_unlock(&n->mu);
            time_t now = time(NULL);
            if (rc != FS_OK && (strcmp(err, last_err) != 0 || now - last_warn >= 60)) {
                /* said when it changes, else once a minute: a Prometheus that is down is one story */
                long status = prom_client_last_status(n->pc);
                const char *kv[] = {"url", n->url, "error", err, NULL};
                log_kv(LOG_WARN,
                       status == 401 || status == 403
                           ? "prometheus authentication failed; network is not sampled meanwhile"
                           : "cannot read network usage from prometheus; network is not sampled meanwhile",
                       kv);
                snprintf(last_err, sizeof(last_err), "%s", err);
                last_warn = now;
            } else if (rc == FS_OK && last_err[0]) {
                const char *kv[] = {"url", n->url, NULL};
                log_kv(LOG_INFO, "network usage from prometheus again", kv);
                last_err[0] = '\0';
            }
        }
        for (double slept = 0; slept < n->o.period_s && !n->stop; slept += 0.1)
            usleep(100 * 1000);
    }
    return NULL;
}

static void netrate_free(struct netrate *n)
{
    prom_client_free(n->pc);
    rates_free(&n->rates);
    pthread_mutex_destroy(&n->mu);
    free(n->url);
    free(n->query);
    free(n);
}

enum fs_err netrate_start(const struct netrate_opts *o, struct netrate **out, char *err, size_t errlen)
{
    *out = NULL;
    struct netrate *n = calloc(1, sizeof(*n));
    if (!n)
        return fs_say(err, errlen, FS_ENOMEM, "out of memory");
    n->o = *o;
    pthread_mutex_init(&n->mu, NULL);
    lmap_init(&n->rates);
    n->url = strdup(o->url ? o->url : "");
    n->query = strdup(o->query ? o->query : "");
    if (!n->url || !n->query) {
        netrate_free(n);
        return fs_say(err, errlen, FS_ENOMEM, "out of memory");
    }
    enum fs_err rc = prom_client_new(n->url, o->timeout_s, &o->auth, &n->pc, err, errlen);
    if (rc != FS_OK) {
        netrate_free(n);
        return rc;
    }
    if (pthread_create(&n->th, NULL, reader, n) != 0) {
        netrate_free(n);
        return fs_say(err, errlen, FS_ENOMEM, "cannot start the network sampling thread");
    }
    *out = n;
    return FS_OK;
}

void netrate_stop(struct netrate *n)
{
    if (!n)
        return;
    n->stop = 1;
    pthread_join(n->th, NULL);
    netrate_free(n);
}

int64_t netrate_get(struct netrate *n, const char *ns, const char *pod)
{
    int64_t r = USAGE_UNKNOWN;
    char key[320];
    if (!n)
        return r;
    snprintf(key, sizeof(key), "%s/%s", ns, pod);
    pthread_mutex_lock(&n->mu);
    const int64_t *x = lmap_get(&n->rates, key);
    if (x && n->ok_at && (double)(time(NULL) - n->ok_at) <= 3 * n->o.period_s + n->o.timeout_s)
        r = *x;
    pthread_mutex_unlock(&n->mu);
    return r;
}

void netrate_counts(struct netrate *n, struct netrate_counts *out)
{
    memset(out, 0, sizeof(*out));
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    *out = n->counts;
    pthread_mutex_unlock(&n->mu);
}
