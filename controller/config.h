/* foresight-controller's settings: defaults, then an optional YAML file (--config), then
 * the command-line flags, which win. A file's keys are the long flag names (step: 30s,
 * leader-elect: false); an unknown key, a value of the wrong kind or out of range is an
 * error naming the key and the line. Strings set here are owned by the config. */
#ifndef FS_CONTROLLER_CONFIG_H
#define FS_CONTROLLER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"

#define CTL_CONFIG_MAX_BYTES (1u << 20) /* a config file larger than this is refused */

/* Each pod's network rate in bytes/s, one series per pod labelled namespace and pod: what
 * cadvisor's counters give (kubelet's /metrics/cadvisor scraped by Prometheus). irate, not
 * rate: rate divides by the whole window, so for the first minute of every pod (all of a
 * short micro-task) it reads low (44 % of the true rate 26 s in, measured); irate is right
 * from the second scrape, and the controller averages its samples per step itself. */
#define CTL_DEFAULT_NETWORK_QUERY                                                                                     \
    "sum by (namespace, pod) (irate(container_network_receive_bytes_total[1m]) + "                                   \
    "irate(container_network_transmit_bytes_total[1m]))"

struct ctl_opts {
    char *kubeconfig, *context, *lease_ns, *lease_name;
    char *scheduler_name;     /* schedulerName of the pods created (NULL: foresight) */
    char http_host[64];
    int http_port;
    int leader_elect;
    uint32_t step_s;          /* prediction curve and ledger step */
    double default_s;         /* predicted duration when a spec gives none */
    double sample_s;          /* metrics.k8s.io sampling period */
    double requeue_s;         /* queued tasks are looked at again at least this often */
    double anomaly_tol;       /* fraction above p90 that counts as above the band */
    double headroom;          /* fraction of each node never promised */
    uint32_t horizon_steps;   /* ledger horizon in steps */
    long learn_min_runs;      /* runs before the TaskProfile predicts */
    long workers;             /* namespaces reconciled at once */
    double qps;
    char *prom_url;           /* Prometheus base URL for network usage (NULL: network is not sampled) */
    char *prom_net_query;     /* PromQL giving bytes/s per pod (NULL: CTL_DEFAULT_NETWORK_QUERY) */
    double prom_timeout_s;    /* bound of one Prometheus query */
    char *prom_ca_file;       /* PEM bundle verifying Prometheus's certificate (NULL: system store) */
    int prom_insecure;        /* Prometheus's certificate is not verified */
    char *prom_token_file;    /* bearer token, re-read before every query (NULL: none) */
    char *prom_username;      /* basic auth with the password in prom_password_file (NULL: none) */
    char *prom_password_file;
    int log_json, verbose;
};

/* Defaults (no allocation that can fail: the strings stay NULL until set). */
void ctl_opts_init(struct ctl_opts *o);
void ctl_opts_release(struct ctl_opts *o);

/* Sets one setting by its long flag name from its text form ("30s", "0.1", "true"). For a
 * boolean flag given on the command line, value is NULL (it means true; "no-leader-elect"
 * means leader-elect false). FS_ENOTFOUND for an unknown name, FS_EINVAL for a bad value;
 * err says which and why. */
enum fs_err ctl_opts_set(struct ctl_opts *o, const char *name, const char *value, char *err, size_t errlen);

/* Checks what single settings cannot: settings that only mean something together. Called
 * once every source is applied. FS_EINVAL with err naming the settings: a bearer token and
 * basic auth together, a username without a password file or the reverse, a CA file with
 * skipped verification, TLS settings with an http:// URL, Prometheus settings without
 * prometheus-url. */
enum fs_err ctl_opts_check(const struct ctl_opts *o, char *err, size_t errlen);

/* Applies a YAML mapping of settings (what is the file name used in messages). Stops at
 * the first error: FS_EPARSE (not YAML, not a mapping of scalars, duplicate key),
 * FS_ENOTFOUND (unknown key), FS_EINVAL (bad value). */
enum fs_err ctl_opts_load_yaml(struct ctl_opts *o, const char *buf, size_t len, const char *what, char *err,
                               size_t errlen);
/* The same from a file (FS_EIO when it cannot be read, FS_ERANGE past CTL_CONFIG_MAX_BYTES). */
enum fs_err ctl_opts_load_file(struct ctl_opts *o, const char *path, char *err, size_t errlen);

#endif
