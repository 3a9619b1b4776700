/* Leader election on a coordination.k8s.io/v1 Lease, following client-go's
 * leaderelection: expiry is judged by when *we* last saw the record change (local monotonic
 * time), not by the holder's clock, so clock skew between processes does not matter. */
#include "kube/lease.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kube/internal.h"

struct kube_lease {
    struct kube_client *c;
    char *ns, *name, *identity;
    int duration_s, renew_deadline_s, retry_s, release_on_stop;
    void (*on_started)(void *);
    void (*on_stopped)(void *);
    void (*on_new_leader)(void *, const char *);
    void *arg;

    pthread_t thread;
    int running;
    volatile int stop;
    pthread_mutex_t lock;       /* guards leader, holder */
    int leader;
    char holder[256];

    char observed[512];         /* holder + renewTime of the last record seen */
    int64_t observed_ms;        /* when it last changed (monotonic) */
};

enum fs_err kube_lease_new(struct kube_lease **out, struct kube_client *c,
                           const struct kube_lease_opts *o)
{
    *out = NULL;
    if (!o->namespace || !o->name || !o->identity || !*o->identity)
        return FS_EINVAL;
    struct kube_lease *le = calloc(1, sizeof(*le));
    if (!le)
        return FS_ENOMEM;
    le->c = c;
    le->ns = strdup(o->namespace);
    le->name = strdup(o->name);
    le->identity = strdup(o->identity);
    le->duration_s = o->lease_duration_s > 0 ? o->lease_duration_s : 15;
    le->renew_deadline_s = o->renew_deadline_s > 0 ? o->renew_deadline_s : 10;
    le->retry_s = o->retry_period_s > 0 ? o->retry_period_s : 2;
    le->release_on_stop = o->release_on_stop;
    le->on_started = o->on_started_leading;
    le->on_stopped = o->on_stopped_leading;
    le->on_new_leader = o->on_new_leader;
    le->arg = o->arg;
    pthread_mutex_init(&le->lock, NULL);
    if (!le->ns || !le->name || !le->identity || le->renew_deadline_s >= le->duration_s ||
        le->retry_s >= le->renew_deadline_s) {
        enum fs_err rc = !le->ns || !le->name || !le->identity ? FS_ENOMEM : FS_EINVAL;
        kube_lease_free(le);
        return rc;
    }
    *out = le;
    return FS_OK;
}

static void now_micro(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    kube_format_rfc3339(&ts, 1, buf, len);
}

static json_t *new_lease(struct kube_lease *le)
{
    char now[64];
    now_micro(now, sizeof(now));
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s, s:s, s:i}}", "apiVersion",
                     "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", le->name,
                     "namespace", le->ns, "spec", "holderIdentity", le->identity,
                     "leaseDurationSeconds", le->duration_s, "acquireTime", now, "renewTime", now,
                     "leaseTransitions", 0);
}

static void set_holder(struct kube_lease *le, const char *holder)
{
    int changed;
    pthread_mutex_lock(&le->lock);
    changed = strcmp(le->holder, holder) != 0;
    snprintf(le->holder, sizeof(le->holder), "%s", holder);
    pthread_mutex_unlock(&le->lock);
    if (changed && le->on_new_leader && *holder)
        le->on_new_leader(le->arg, holder);
}

/* One attempt to acquire or renew. Returns 1 if we hold the lease afterwards. */
static int try_acquire_or_renew(struct kube_lease *le)
{
    struct kube_ref ref = {.group = "coordination.k8s.io", .version = "v1", .resource = "leases",
                           .namespace = le->ns, .name = le->name};
    struct kube_status st;
    json_t *cur = NULL, *obj = NULL;
    int held = 0;
    char msg[700];
    enum fs_err rc = kube_get(le->c, &ref, &cur, &st);
    if (rc == FS_ENOTFOUND) {
        struct kube_ref coll = ref;
        coll.name = NULL;
        obj = new_lease(le);
        if (!obj)
            return 0;
        rc = kube_create(le->c, &coll, obj, NULL, NULL, &st);
        json_decref(obj);
        if (rc == FS_OK) {
            le->observed_ms = kube_mono_ms();
            set_holder(le, le->identity);
            return 1;
        }
        if (rc != FS_ECONFLICT) /* AlreadyExists: someone else was faster */
            log_warn("cannot create lease %s/%s: %s", le->ns, le->name, kube_status_str(&st, msg, sizeof(msg)));
        return 0;
    }
    if (rc != FS_OK) {
        log_warn("cannot get lease %s/%s: %s", le->ns, le->name, kube_status_str(&st, msg, sizeof(msg)));
        return 0;
    }
    json_t *spec = json_object_get(cur, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    const char *renew = json_string_value(json_object_get(spec, "renewTime"));
    json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    char seen[512];
    snprintf(seen, sizeof(seen), "%s|%s", holder ? holder : "", renew ? renew : "");
    int64_t now = kube_mono_ms();
    if (strcmp(seen, le->observed) != 0) {
        snprintf(le->observed, sizeof(le->observed), "%s", seen);
        le->observed_ms = now;
    }
    set_holder(le, holder ? holder : "");
    int mine = holder && strcmp(holder, le->identity) == 0;
    if (!mine && holder && *holder && le->observed_ms + (dur > 0 ? dur : le->duration_s) * 1000 > now) {
        json_decref(cur);
        return 0; /* held by someone else and not expired */
    }
    char ts[64];
    now_micro(ts, sizeof(ts));
    json_t *trans = json_object_get(spec, "leaseTransitions");
    json_int_t transitions = json_integer_value(trans);
    int bad = 0;
    if (!mine) {
        bad |= json_object_set_new(spec, "acquireTime", json_string(ts));
        if (holder && *holder)
            transitions++;
        bad |= json_object_set_new(spec, "leaseTransitions", json_integer(transitions));
    }
    bad |= json_object_set_new(spec, "holderIdentity", json_string(le->identity));
    bad |= json_object_set_new(spec, "renewTime", json_string(ts));
    bad |= json_object_set_new(spec, "leaseDurationSeconds", json_integer(le->duration_s));
    if (!bad) {
        rc = kube_update(le->c, &ref, cur, NULL, NULL, &st); /* carries resourceVersion */
        if (rc == FS_OK) {
            le->observed_ms = kube_mono_ms();
            snprintf(le->observed, sizeof(le->observed), "%s|%s", le->identity, ts);
            set_holder(le, le->identity);
            held = 1;
        } else if (rc != FS_ECONFLICT) {
            log_warn("cannot update lease %s/%s: %s", le->ns, le->name, kube_status_str(&st, msg, sizeof(msg)));
        }
    }
    json_decref(cur);
    return held;
}

static void set_leader(struct kube_lease *le, int v)
{
    pthread_mutex_lock(&le->lock);
    le->leader = v;
    pthread_mutex_unlock(&le->lock);
}

static void release(struct kube_lease *le)
{
    struct kube_ref ref = {.group = "coordination.k8s.io", .version = "v1", .resource = "leases",
                           .namespace = le->ns, .name = le->name};
    struct kube_status st;
    json_t *cur = NULL;
    if (kube_get(le->c, &ref, &cur, &st) != FS_OK)
        return;
    json_t *spec = json_object_get(cur, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (holder && strcmp(holder, le->identity) == 0) {
        char ts[64];
        now_micro(ts, sizeof(ts));
        /* an empty holder and a 1 s duration let the next candidate take it at once */
        if (!json_object_set_new(spec, "holderIdentity", json_string("")) &&
            !json_object_set_new(spec, "leaseDurationSeconds", json_integer(1)) &&
            !json_object_set_new(spec, "renewTime", json_string(ts)) &&
            kube_update(le->c, &ref, cur, NULL, NULL, &st) == FS_OK)
            log_info("released lease %s/%s", le->ns, le->name);
    }
    json_decref(cur);
}

static void *run(void *arg)
{
    struct kube_lease *le = arg;
    while (!le->stop) {
        /* acquire */
        /* a small jitter (client-go uses 1.2, i.e. up to 2.2 periods) keeps the takeover
         * within lease duration + about two retry periods of the holder's last renewal */
        while (!le->stop && !try_acquire_or_renew(le))
            kube_sleep_ms(kube_jitter_ms(le->retry_s * 1000L, 0.2), &le->stop);
        if (le->stop)
            break;
        log_info("became leader on lease %s/%s as %s", le->ns, le->name, le->identity);
        set_leader(le, 1);
        if (le->on_started)
            le->on_started(le->arg);
        /* renew until a renewal has not succeeded within the deadline */
        int64_t last_ok = kube_mono_ms();
        while (!le->stop) {
            if (kube_sleep_ms(le->retry_s * 1000L, &le->stop))
                break;
            if (try_acquire_or_renew(le)) {
                last_ok = kube_mono_ms();
                continue;
            }
            if (kube_mono_ms() - last_ok >= le->renew_deadline_s * 1000L) {
                log_warn("lost lease %s/%s: no renewal for %d s", le->ns, le->name, le->renew_deadline_s);
                break;
            }
        }
        set_leader(le, 0);
        if (le->stop && le->release_on_stop)
            release(le);
        if (le->on_stopped)
            le->on_stopped(le->arg);
    }
    return NULL;
}

enum fs_err kube_lease_start(struct kube_lease *le)
{
    if (le->running)
        return FS_EINVAL;
    le->stop = 0;
    if (pthread_create(&le->thread, NULL, run, le) != 0)
        return FS_ENOMEM;
    le->running = 1;
    return FS_OK;
}

void kube_lease_stop(struct kube_lease *le)
{
    if (!le->running)
        return;
    __atomic_store_n(&le->stop, 1, __ATOMIC_RELEASE);
    pthread_join(le->thread, NULL);
    le->running = 0;
}

void kube_lease_free(struct kube_lease *le)
{
    if (!le)
        return;
    kube_lease_stop(le);
    free(le->ns);
    free(le->name);
    free(le->identity);
    pthread_mutex_destroy(&le->lock);
    free(le);
}

int kube_lease_is_leader(struct kube_lease *le)
{
    pthread_mutex_lock(&le->lock);
    int v = le->leader;
    pthread_mutex_unlock(&le->lock);
    return v;
}

void kube_lease_holder(struct kube_lease *le, char *buf, size_t len)
{
    pthread_mutex_lock(&le->lock);
    snprintf(buf, len, "%s", le->holder);
    pthread_mutex_unlock(&le->lock);
}
