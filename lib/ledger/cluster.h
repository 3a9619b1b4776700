/* The extender's in-memory view of the cluster: nodes (allocatable), pods (where they run,
 * what they request, which MicroTask made them) and MicroTask predictions, folded into one
 * reservation ledger. Fed by informer events (or a fixed list in tests and benchmarks);
 * filter, prioritize and bind decide from it without any API call.
 *
 * What a pod claims (rebuildable from the API server alone, so restarts never double-claim):
 * - a pod labelled foresight.sh/microtask=<name> whose MicroTask (same namespace) has a valid
 *   status.prediction: that p90 curve, placed at max(prediction.start, the time the pod was
 *   bound: its PodScheduled condition's lastTransitionTime, else startTime);
 * - any other pod: its requests as a flat curve with no end (containers summed, the largest
 *   init container if bigger, plus spec.overhead; network from the pod annotation
 *   foresight.sh/network-bytes-per-second).
 * Bound pods (spec.nodeName set) that are not Succeeded/Failed hold a claim keyed by UID;
 * others hold none, except the claim /bind makes just before posting the Binding.
 * A node's network capacity is its annotation foresight.sh/network-bytes-per-second
 * (no annotation: network is not checked on that node).
 * Thread-safe: every function takes the cluster's mutex. */
#ifndef FS_LEDGER_CLUSTER_H
#define FS_LEDGER_CLUSTER_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "common/pool.h"
#include "ledger/curve.h"
#include "ledger/ledger.h"
#include "ledger/lmap.h"

#define CLUSTER_LABEL_MICROTASK "foresight.sh/microtask"
#define CLUSTER_MAX_EXT 8       /* counted resources one pod may request */
#define CLUSTER_MAX_NODE_EXT 32 /* counted resources one node may declare */
#define CLUSTER_ANNOTATION_NETWORK "foresight.sh/network-bytes-per-second"

/* Counted resources: what the ledger does not hold over time but the foresight profile
 * must still enforce, because NodeResourcesFit's filter is off there (it would also refuse
 * cpu and memory by requests, which the ledger holds as curves): the node's pod count and
 * every other resource in requests and allocatable (ephemeral-storage, hugepages-*,
 * extended resources such as nvidia.com/gpu). A node passes when the requests of the pods
 * it holds plus this pod's stay within allocatable, as NodeResourcesFit checks them; a
 * resource the node does not declare counts as 0 available. */
struct cluster_res {
    char name[64];
    int64_t milli; /* quantity in thousandths (a GPU is 1000, a byte of storage 1000) */
};

/* The per-node part (ledger_node.user; the pod count is ledger_node.max_pods). */
struct cluster_node_extra {
    int n_ext;
    struct cluster_res alloc[CLUSTER_MAX_NODE_EXT];
};

/* What the extender needs of a pod. */
struct cluster_pod {
    char uid[64];
    char ns[64];
    char name[254];
    char microtask[254]; /* "" when not made by foresight */
    char node[254];      /* "" when not bound */
    int64_t bound_s;     /* when it was bound (0 unknown) */
    int64_t req[CURVE_NRES];
    int done;            /* Succeeded or Failed */
    int n_ext;
    struct cluster_res ext[CLUSTER_MAX_EXT]; /* effective requests of counted resources (> 0) */
};

struct cluster_stats {
    size_t nodes, pods, microtasks, predictions, claims;
    unsigned long prediction_errors; /* MicroTasks whose status.prediction did not parse */
};

struct ext_names;
struct ext_ahead;

struct cluster {
    pthread_mutex_t mu;
    struct ledger *ledger;
    /* bumped by every change of nodes, pods or MicroTasks; with the ledger's generation and
     * base it names a state of the cluster (what an answer worked out ahead depends on) */
    uint64_t generation;
    struct lmap pods;       /* uid -> struct cluster_pod */
    struct lmap microtasks; /* "ns/name" -> struct curve (NULL when no valid prediction) */
    unsigned long prediction_errors;
    /* extargs' memo of the last request's node names (struct ext_names, reference-counted),
     * with their ledger nodes while ledger->topology is unchanged: kube-scheduler sends
     * prioritize the list filter answered, and 5,000 names parsed and looked up cost more
     * than the answer. Replaced under the lock. */
    struct ext_names *names_memo;
    /* extproto's prioritize worked out after a filter, for the prioritize that follows it
     * (NULL: none). Replaced under the lock. */
    struct ext_ahead *ahead;
    /* optional (NULL: serial), owned by whoever set it: extproto checks a request's nodes
     * on these threads too, for the latency of one large request on a multi-core node */
    struct fs_pool *pool;
};

enum fs_err cluster_init(struct cluster *c, const struct ledger_config *cfg, int64_t now);
void cluster_release(struct cluster *c);

void cluster_lock(struct cluster *c);
void cluster_unlock(struct cluster *c);

/* Informer-fed updates (objects borrowed). A malformed object is FS_EPARSE/FS_EINVAL and
 * changes nothing. */
enum fs_err cluster_node_upsert(struct cluster *c, const json_t *node);
enum fs_err cluster_node_delete(struct cluster *c, const json_t *node);
enum fs_err cluster_pod_upsert(struct cluster *c, const json_t *pod, int64_t now);
enum fs_err cluster_pod_delete(struct cluster *c, const json_t *pod);
enum fs_err cluster_microtask_upsert(struct cluster *c, const json_t *mt, int64_t now);
enum fs_err cluster_microtask_delete(struct cluster *c, const json_t *mt, int64_t now);

/* Reads the fields the extender needs from a Pod object (no lock needed). FS_EPARSE for a
 * bad quantity, FS_ERANGE for more than CLUSTER_MAX_EXT counted resources. */
enum fs_err cluster_pod_parse(const json_t *pod, struct cluster_pod *out);

/* Whether p's pod count and counted resources fit n beside the pods n holds (not counting
 * p's own claim) (lock held): CLUSTER_FITS, or what does not fit, with msg (may be NULL)
 * saying why and *unresolvable set when the pod alone exceeds what the node has. */
enum cluster_static { CLUSTER_FITS, CLUSTER_TOO_MANY_PODS, CLUSTER_COUNTED_RESOURCE };
enum cluster_static cluster_static_fits_locked(struct cluster *c, const struct cluster_pod *p, const struct ledger_node *n,
                               int *unresolvable, char *msg, size_t len);
/* Reads allocatable (milli-cores, bytes, bytes/s or LEDGER_UNLIMITED) from a Node object. */
enum fs_err cluster_node_alloc(const json_t *node, int64_t alloc[LEDGER_NRES]);

/* The shape a pod claims when placed now (caller holds the lock); *from_prediction says
 * whether a MicroTask prediction was used. start_s is where it is placed. */
enum fs_err cluster_pod_shape(struct cluster *c, const struct cluster_pod *p, int64_t start_s,
                              struct ledger_shape *out, int *from_prediction);

/* After a failed bind: drops the pod's claim unless the pod is in fact bound (lock held). */
void cluster_pod_unclaim_locked(struct cluster *c, const char *uid, int64_t now);
/* The pod's record (lock held; borrowed until the lock is released), NULL if unknown. */
const struct cluster_pod *cluster_pod_get_locked(struct cluster *c, const char *uid);

void cluster_stats(struct cluster *c, struct cluster_stats *out);

#endif
