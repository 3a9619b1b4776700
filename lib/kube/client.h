/* REST requests to the API server for core, grouped and custom resources alike
 * (group/version/resource/namespace/name[/subresource]). A client is thread-safe: it keeps
 * a pool of reusable connections, a client-side token-bucket rate limit, timeouts on every
 * request, and retries 429/5xx with backoff honouring Retry-After. On an API error the
 * server's Status (code, reason, message) is kept in a struct kube_status.
 * Owner: issue 3 (lib/kube). Users: controller, extender, cli. */
#ifndef KUBE_CLIENT_H
#define KUBE_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"
#include "kube/config.h"

struct kube_client;

struct kube_client_opts {
    double qps;                 /* sustained requests per second; 0 = 50; <0 = no limit */
    int burst;                  /* token bucket size; 0 = 100 */
    long timeout_ms;            /* whole request, not watches; 0 = 30000 */
    long connect_timeout_ms;    /* 0 = 5000 */
    int max_retries;            /* on 429, 5xx and connection errors; 0 = 5; <0 = none */
    long backoff_base_ms;       /* first retry delay, doubled each time; 0 = 200 */
    long backoff_max_ms;        /* 0 = 10000 */
    const char *user_agent;     /* copied; NULL = "foresight/0.1" */
};

/* The resource a request is about. Strings are borrowed for the call only.
 * group "" (or NULL) = the core API (/api/v1); namespace NULL/"" = cluster-scoped or all
 * namespaces; name NULL for collections; subresource e.g. "status", "binding", "scale",
 * "eviction". */
struct kube_ref {
    const char *group;
    const char *version;
    const char *resource;       /* plural, lowercase: "pods", "configmaps", "microtasks" */
    const char *namespace;
    const char *name;
    const char *subresource;
};

/* What the server said when it refused. http_code 0 = no HTTP answer (message says why). */
struct kube_status {
    long http_code;
    long code;                  /* Status.code, or http_code if the body was not a Status */
    char reason[64];            /* Status.reason: "NotFound", "AlreadyExists", "Conflict", ... */
    char message[512];          /* Status.message, else the start of the body or curl's error */
    long retry_after_s;         /* Retry-After or Status.details.retryAfterSeconds, 0 if none */
};

enum kube_patch_type {
    KUBE_PATCH_MERGE,           /* application/merge-patch+json */
    KUBE_PATCH_STRATEGIC,       /* application/strategic-merge-patch+json (built-in types only) */
    KUBE_PATCH_JSON,            /* application/json-patch+json (an array of operations) */
    KUBE_PATCH_APPLY,           /* application/apply-patch+yaml, server-side apply; needs field_manager */
};

struct kube_list_opts {
    const char *label_selector;
    const char *field_selector;
    long limit;                 /* page size; 0 = no limit for kube_list, 500 for kube_list_all */
    const char *continue_token;
    const char *resource_version;       /* "" or NULL = most recent (quorum read) */
    const char *resource_version_match; /* "NotOlderThan" / "Exact" / NULL */
};

struct kube_write_opts {
    const char *field_manager;  /* fieldManager */
    int force;                  /* apply: force=true takes ownership of conflicting fields */
    int dry_run;                /* dryRun=All */
};

struct kube_delete_opts {
    const char *propagation;    /* "Foreground", "Background", "Orphan" or NULL (server default) */
    long grace_period_s;        /* -1 = server default */
    const char *precondition_uid;
    const char *precondition_rv;
};

/* Creates a client. cfg is borrowed and must outlive the client (credentials are refreshed
 * from it). opts may be NULL for defaults. */
enum fs_err kube_client_new(struct kube_client **out, struct kube_config *cfg,
                            const struct kube_client_opts *opts);
void kube_client_free(struct kube_client *c);
struct kube_config *kube_client_config(struct kube_client *c);  /* borrowed */
/* Connections opened to the API server so far: one per request means none is reused (each
 * pays a TLS handshake); it should stay near the number of requests ever in flight at once. */
uint64_t kube_client_connections_opened(struct kube_client *c);

/* Builds the request path for ref ("/api/v1/namespaces/ns/pods/p/status"). FS_ERANGE when
 * it does not fit, FS_EINVAL when version or resource is missing or a part contains '/'. */
enum fs_err kube_ref_path(const struct kube_ref *ref, char *buf, size_t len);

/* All calls below: *out receives a new reference to the decoded response body (the caller
 * json_decref()s it); out may be NULL when the body is not wanted. st may be NULL; when given
 * it is filled on every API error. Errors: FS_ENOTFOUND (404), FS_ECONFLICT (409, including
 * AlreadyExists), FS_EGONE (410), FS_EHTTP (other non-2xx), FS_EIO (no connection after
 * retries), FS_ETIMEOUT, FS_EPARSE (a 2xx body that is not JSON). */
enum fs_err kube_get(struct kube_client *c, const struct kube_ref *ref, json_t **out,
                     struct kube_status *st);
/* One page; the list's metadata.continue gives the next token. */
enum fs_err kube_list(struct kube_client *c, const struct kube_ref *ref,
                      const struct kube_list_opts *opts, json_t **out, struct kube_status *st);
/* Every page, following continue tokens; *out is the first page's list object with all the
 * items and the resourceVersion of the last page (the one a watch must start from). A 410
 * on a continue token restarts the list from scratch, at most 3 times. */
enum fs_err kube_list_all(struct kube_client *c, const struct kube_ref *ref,
                          const struct kube_list_opts *opts, json_t **out, struct kube_status *st);
enum fs_err kube_create(struct kube_client *c, const struct kube_ref *ref, const json_t *obj,
                        const struct kube_write_opts *wo, json_t **out, struct kube_status *st);
/* PUT: obj carries metadata.resourceVersion for optimistic concurrency; a stale one is
 * FS_ECONFLICT. ref->name must be set (subresource "status" or "scale" allowed). */
enum fs_err kube_update(struct kube_client *c, const struct kube_ref *ref, const json_t *obj,
                        const struct kube_write_opts *wo, json_t **out, struct kube_status *st);
/* For KUBE_PATCH_APPLY, patch is the full intent as JSON (JSON is valid YAML). */
enum fs_err kube_patch(struct kube_client *c, const struct kube_ref *ref,
                       enum kube_patch_type type, const json_t *patch,
                       const struct kube_write_opts *wo, json_t **out, struct kube_status *st);
enum fs_err kube_delete(struct kube_client *c, const struct kube_ref *ref,
                        const struct kube_delete_opts *dopts, json_t **out,
                        struct kube_status *st);

/* Subresource helpers. */
/* POST pods/<pod>/binding to node (what a scheduler extender's bind does). */
enum fs_err kube_bind_pod(struct kube_client *c, const char *ns, const char *pod,
                          const char *pod_uid, const char *node, struct kube_status *st);
/* POST pods/<pod>/eviction (policy/v1); 429 means a PodDisruptionBudget forbids it now and
 * is returned as FS_EHTTP with st->code 429 (not retried). */
enum fs_err kube_evict_pod(struct kube_client *c, const char *ns, const char *pod,
                           const struct kube_delete_opts *dopts, struct kube_status *st);
/* GET then PUT <ref>/scale with spec.replicas set. ref->subresource is ignored. */
enum fs_err kube_set_scale(struct kube_client *c, const struct kube_ref *ref, long replicas,
                           struct kube_status *st);

/* The lowest level: method, path (from kube_ref_path, may carry "?query"), a body with its
 * content type (NULL for none). Used for discovery (/apis) and anything the helpers lack.
 * No retry for non-idempotent methods (POST) except on 429 and connection refusal. */
enum fs_err kube_request(struct kube_client *c, const char *method, const char *path,
                         const char *content_type, const char *body, size_t body_len,
                         json_t **out, struct kube_status *st);

/* Formats st for a log message ("409 Conflict: the object has been modified ..."). */
const char *kube_status_str(const struct kube_status *st, char *buf, size_t len);

#endif
