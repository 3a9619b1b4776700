/* The kube-scheduler extender protocol (k8s.io/kube-scheduler/extender/v1) answered from the
 * in-memory cluster: request bodies in, reply bodies and HTTP status out, no I/O. The HTTP
 * server (extender/) only moves bytes.
 *
 * Requests: the Go types have no json tags, so keys are PascalCase and Go matches them
 * case-insensitively; so do we (an exact match wins over a case-insensitive one). Filter and
 * prioritize take ExtenderArgs {Pod, Nodes (NodeList, nodeCacheCapable: false) | NodeNames
 * ([]string, nodeCacheCapable: true)}; the reply uses the same form as the request.
 * Replies: PascalCase. Filter: {NodeNames|Nodes, FailedNodes, FailedAndUnresolvableNodes,
 * Error}; prioritize: [{"Host","Score"}] with Score 0..10; bind: {Error}.
 * Malformed or oversized bodies get HTTP 400 with {"Error": "..."}.
 * Besides the ledger (cpu, memory, network over time), filter enforces what NodeResourcesFit
 * would (that filter is off in the foresight profile): the node's pod count and counted
 * resources (extended resources, ephemeral-storage, hugepages; see cluster.h).
 * Node names the ledger does not know fail that node in FailedNodes ("unknown to foresight"),
 * score 0, and make /bind answer an Error. */
#ifndef FS_LEDGER_EXTPROTO_H
#define FS_LEDGER_EXTPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"
#include "ledger/cluster.h"

#define EXT_MAX_BODY_DEFAULT (16u << 20) /* 16 MiB: 5,000 full Node objects fit */
#define EXT_MAX_NODES 100000

/* A reply: HTTP status and a malloc'd JSON body (the caller frees body). */
struct ext_reply {
    int status;
    char *body;
    size_t len;
};
void ext_reply_release(struct ext_reply *r);

/* Counters for /metrics; updated under the cluster's lock. */
enum ext_reason {
    EXT_R_CPU, EXT_R_MEMORY, EXT_R_NETWORK, EXT_R_UNRESOLVABLE, EXT_R_UNKNOWN_NODE,
    EXT_R_PODS,     /* the node's pod count (allocatable pods) */
    EXT_R_EXTENDED, /* a counted resource: extended resources, ephemeral-storage, hugepages */
    EXT_R_N
};
struct ext_counters {
    unsigned long rejections[EXT_R_N]; /* node rejections by reason */
    unsigned long bad_requests;        /* 400s */
    unsigned long binds, bind_conflicts, bind_failures;
    unsigned long from_prediction, from_requests; /* how filtered pods were modelled */
    unsigned long prioritize_ahead; /* prioritize replies worked out by the warm-up, taken whole */
};
const char *ext_reason_name(enum ext_reason r);

/* Filter and prioritize. Never fail: errors become 400 replies; ENOMEM a 500 reply. */
void ext_filter(struct cluster *c, const char *body, size_t len, int64_t now, struct ext_counters *ctr,
                struct ext_reply *out);
void ext_prioritize(struct cluster *c, const char *body, size_t len, int64_t now, struct ext_counters *ctr,
                    struct ext_reply *out);
/* What a filter's request (body) asks of the prioritize that follows it, worked out ahead.
 * kube-scheduler calls an extender's prioritize only after its own score plugins have run,
 * so the extender, idle meanwhile, takes that work off the prioritize's path: the scores
 * of the nodes that fit go into their memos, and the whole reply to the prioritize
 * kube-scheduler sends next (this pod, the list the filter answered, as its encoder writes
 * it) is kept with what it depends on; that prioritize takes it as it is when the list, the
 * pod, the second and the cluster's state are the same, and is answered afresh otherwise.
 * No reply; a request that does not parse does nothing. */
void ext_prioritize_warm(struct cluster *c, const char *body, size_t len, int64_t now);
/* For cluster_release. */
void ext_ahead_free(struct ext_ahead *h);

/* Bind in three steps, so that the Binding POST runs outside the lock:
 * ext_bind_parse, ext_bind_claim (claims the curve on the node), the caller POSTs the
 * Binding, then ext_bind_done (releases the claim if the POST failed) builds the reply. */
struct ext_bind_args {
    char pod_name[254];
    char pod_ns[64];
    char pod_uid[64];
    char node[254];
};
/* FS_EPARSE with a 400 reply in *out on malformed input. */
enum fs_err ext_bind_parse(const char *body, size_t len, struct ext_bind_args *a, struct ext_counters *ctr,
                           struct ext_reply *out);
/* pod: the Pod object when the cluster does not know it yet (may be NULL). Returns FS_OK
 * (claimed), FS_EDATA (pod unknown and pod == NULL: fetch it and call again), FS_ENOTFOUND
 * (node unknown), FS_ECONFLICT (no longer fits), FS_EINVAL (pod UID differs); msg says why. */
enum fs_err ext_bind_claim(struct cluster *c, const struct ext_bind_args *a, const json_t *pod, int64_t now,
                           struct ext_counters *ctr, char *msg, size_t msglen);
/* error: NULL when the Binding was created; else the reason (the claim is released). */
void ext_bind_done(struct cluster *c, const struct ext_bind_args *a, const char *error, int64_t now,
                   struct ext_counters *ctr, struct ext_reply *out);
/* A reply {"Error": msg} with the given status. */
void ext_error_reply(int status, const char *msg, struct ext_reply *out);

#endif
