/* Pods' network rates (bytes/s) from a Prometheus instant query, read every period by a
 * thread of their own so that a slow or unreachable Prometheus never holds up the control
 * loop or the cpu and memory samples. */
#ifndef FS_CONTROLLER_NETRATE_H
#define FS_CONTROLLER_NETRATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"
#include "prom/prom.h"

struct netrate_opts {
    const char *url;    /* Prometheus base URL */
    const char *query;  /* PromQL giving bytes/s per pod, labelled namespace and pod */
    double timeout_s;   /* bound of one query */
    double period_s;    /* between queries; an answer older than 3 periods + timeout is stale */
    const volatile int *active; /* queries only while *active (the leader); NULL: always */
    struct prom_auth auth;      /* TLS and credentials (all zero: none); copied at the start */
};

struct netrate_counts {
    unsigned long queries, errors; /* queries made, of which failed */
    unsigned long pods;            /* pods in the last answer */
};

struct netrate;

/* Starts the reading thread. FS_EINVAL with err saying why for a bad URL, timeout or
 * auth combination; FS_EIO or FS_EPARSE naming the CA, token or password file that cannot
 * be read or holds nothing usable. */
enum fs_err netrate_start(const struct netrate_opts *o, struct netrate **out, char *err, size_t errlen);
/* Stops and joins the thread, frees everything; NULL is fine. */
void netrate_stop(struct netrate *n);
/* The pod's rate from the newest answer; USAGE_UNKNOWN (-1) when n is NULL, the answer is
 * stale or the pod was not in it. */
int64_t netrate_get(struct netrate *n, const char *ns, const char *pod);
void netrate_counts(struct netrate *n, struct netrate_counts *out);

#endif
