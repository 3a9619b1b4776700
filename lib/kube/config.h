/* Where and how to reach the API server: kubeconfig files (KUBECONFIG list, ~/.kube/config,
 * current or named context) and in-cluster service-account configuration. A loaded config
 * owns all its strings; credentials that rotate (token files, exec plugins) are refreshed
 * through kube_config_credentials(), which is thread-safe.
 * Owner: issue 3 (lib/kube). Users: controller, extender, cli. */
#ifndef KUBE_CONFIG_H
#define KUBE_CONFIG_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "common/fs_err.h"

/* The exec credential plugin (client.authentication.k8s.io/v1). */
struct kube_exec {
    char *command;        /* NULL when no plugin is configured */
    char **args;          /* argv[1..], NULL-terminated */
    char **env;           /* "NAME=value" entries added to the environment, NULL-terminated */
    char *api_version;    /* as written in the kubeconfig */
};

/* Credentials valid now. All fields are owned by the struct; release with
 * kube_credentials_release(). */
struct kube_credentials {
    char *token;          /* bearer token, or NULL */
    char *cert_pem;       /* client certificate (PEM), or NULL */
    size_t cert_pem_len;
    char *key_pem;        /* client key (PEM), or NULL */
    size_t key_pem_len;
};

struct kube_config {
    char *server;             /* "https://host:port" (IPv6 hosts bracketed), no trailing slash */
    char *ca_pem;             /* CA bundle (PEM) from certificate-authority(-data), or NULL */
    size_t ca_pem_len;
    int insecure_skip_verify; /* insecure-skip-tls-verify */
    char *tls_server_name;    /* SNI / verification name override, or NULL */
    char *namespace;          /* the context's namespace, or the pod's; "default" otherwise */
    char *context;            /* the context name used ("" in-cluster) */

    /* user */
    char *token;              /* static token, or NULL */
    char *token_file;         /* tokenFile or the in-cluster token, re-read every token_reread_s */
    char *cert_pem;           /* client-certificate(-data) (PEM) */
    size_t cert_pem_len;
    char *key_pem;            /* client-key(-data) (PEM) */
    size_t key_pem_len;
    struct kube_exec exec;
    int token_reread_s;       /* seconds between token file reads; default 60 */

    /* cached rotating credentials, guarded by lock */
    pthread_mutex_t lock;
    char *cached_token;
    time_t cached_token_at;   /* when the token file was read (CLOCK_MONOTONIC seconds) */
    time_t exec_expiry;       /* wall-clock expiry of the exec credential, 0 = none given */
    int exec_valid;           /* 1 once the plugin produced a credential that has not expired */
    char *exec_cert_pem;
    size_t exec_cert_pem_len;
    char *exec_key_pem;
    size_t exec_key_pem_len;

    char errbuf[256];         /* why the last load or credential call failed */
};

/* Loads the configuration the way kubectl does: $KUBECONFIG (colon-separated, the first
 * file that defines a name wins), else ~/.kube/config, else in-cluster. context may be NULL
 * for current-context. On failure cfg->errbuf says why; release cfg in every case. */
enum fs_err kube_config_load_default(struct kube_config *cfg, const char *context);

/* Loads one kubeconfig file (relative paths resolve against its directory). */
enum fs_err kube_config_load_file(struct kube_config *cfg, const char *path, const char *context);

/* Parses kubeconfig YAML held in memory; base_dir resolves relative file paths (NULL = cwd). */
enum fs_err kube_config_parse(struct kube_config *cfg, const char *yaml, size_t len,
                              const char *context, const char *base_dir);

/* In-cluster: KUBERNETES_SERVICE_HOST/_PORT (IPv6 too) and the service-account directory
 * (sa_dir NULL = /var/run/secrets/kubernetes.io/serviceaccount). */
enum fs_err kube_config_in_cluster(struct kube_config *cfg, const char *sa_dir);

void kube_config_release(struct kube_config *cfg);

/* Credentials to use for the next request: re-reads the token file when older than
 * token_reread_s, runs the exec plugin when there is no valid credential. force_refresh
 * (after a 401) re-reads or re-runs regardless. Thread-safe. */
enum fs_err kube_config_credentials(struct kube_config *cfg, int force_refresh,
                                    struct kube_credentials *out);
void kube_credentials_release(struct kube_credentials *cr);

/* Decodes standard base64 (padding optional, whitespace ignored). Returns a new
 * NUL-terminated buffer the caller frees; *out_len excludes the NUL. */
enum fs_err kube_base64_decode(const char *in, size_t in_len, char **out, size_t *out_len);

#endif
