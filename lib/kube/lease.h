/* Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: acquire
 * when the lease is free or expired, renew every retry period, give up leadership when a
 * renewal has not succeeded within renew_deadline, release (holderIdentity cleared) on stop.
 * Threading: the elector runs its own thread; the callbacks run on it. on_stopped_leading
 * means the work must stop now (another process may already hold the lease).
 * Owner: issue 3 (lib/kube). Users: controller. */
#ifndef KUBE_LEASE_H
#define KUBE_LEASE_H

#include "common/fs_err.h"
#include "kube/client.h"

struct kube_lease;

struct kube_lease_opts {
    const char *namespace;      /* copied */
    const char *name;           /* copied */
    const char *identity;       /* copied; unique per process, e.g. hostname_pid */
    int lease_duration_s;       /* 0 = 15 */
    int renew_deadline_s;       /* 0 = 10; must be < lease_duration_s */
    int retry_period_s;         /* 0 = 2 */
    int release_on_stop;        /* clear holderIdentity on kube_lease_stop() (recommended) */
    void (*on_started_leading)(void *arg);
    void (*on_stopped_leading)(void *arg);
    void (*on_new_leader)(void *arg, const char *identity); /* identity borrowed */
    void *arg;
};

enum fs_err kube_lease_new(struct kube_lease **out, struct kube_client *c,
                           const struct kube_lease_opts *opts);
enum fs_err kube_lease_start(struct kube_lease *le);
/* Stops the elector thread and releases the lease if held and release_on_stop. */
void kube_lease_stop(struct kube_lease *le);
void kube_lease_free(struct kube_lease *le);
/* 1 while this process holds the lease (thread-safe). */
int kube_lease_is_leader(struct kube_lease *le);
/* Copies the last observed holder into buf ("" if none). */
void kube_lease_holder(struct kube_lease *le, char *buf, size_t len);

#endif
