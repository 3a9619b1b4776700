/* The reservation ledger: per node and per resource (cpu, memory, network), the amounts
 * reserved over a horizon of fixed steps, kept as a ring that advances with time.
 * A claim is a pod's p90 curve placed at its start on one node; a placement fits when at
 * every step of the horizon reserved + curve <= allocatable - headroom.
 *
 * Time is in absolute steps: step k covers unix seconds [k*step_s, (k+1)*step_s). The ring
 * holds steps [base, base + n_steps) with base = floor(now / step_s); a curve step that
 * overlaps several ledger steps counts in each (the reservation is never smaller than the
 * prediction). Parts of a curve before `base` are over; parts past the horizon are not
 * checked yet and enter the ring as it advances.
 * Not thread-safe: the caller serialises access (the extender holds one mutex). */
#ifndef FS_LEDGER_LEDGER_H
#define FS_LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"
#include "ledger/curve.h"
#include "ledger/lmap.h"

#define LEDGER_NRES CURVE_NRES
/* allocatable of a resource the node does not declare (e.g. network): never checked */
#define LEDGER_UNLIMITED (-1)
#define LEDGER_MAX_STEPS 100000

struct ledger_config {
    uint32_t step_s;               /* seconds per ledger step, e.g. 30 */
    uint32_t n_steps;              /* horizon in steps, e.g. 240 (2 h at 30 s) */
    double headroom[LEDGER_NRES];  /* fraction of allocatable never promised, 0 <= h < 1 */
};

/* A curve resampled onto the ledger's grid. Either finite (len values from `first`) or
 * flat (the same value from `first` with no end). */
struct ledger_shape {
    int64_t first; /* absolute step of the first value */
    uint32_t len;  /* number of values (0 when flat) */
    int flat;
    int64_t *v[LEDGER_NRES];       /* len values each; NULL when flat */
    int64_t flat_v[LEDGER_NRES];
    int64_t peak[LEDGER_NRES];
    uint64_t hash; /* of first, len and the values: names the shape in per-node memos */
};

/* Outcome of checking one shape against one node. */
struct ledger_fit {
    int fits;
    int unresolvable;     /* the pod alone exceeds the node's limit: no eviction helps */
    enum curve_res res;   /* first overflowing resource (when !fits) */
    int64_t step;         /* absolute step of the first overflow */
    int64_t reserved;     /* already reserved at that step */
    int64_t need;         /* the pod's demand at that step */
    int64_t limit;        /* the node's limit for that resource */
    double rise;          /* dominant rise of the node's peak over the pod's window / limit */
    double after;         /* dominant peak after placement over the pod's window / limit */
    int score;            /* 0..10, see ledger_score() */
};

struct ledger_node {
    char *name;
    int64_t alloc[LEDGER_NRES]; /* allocatable (milli-cores, bytes, bytes/s) or LEDGER_UNLIMITED */
    int64_t limit[LEDGER_NRES]; /* alloc minus headroom, INT64_MAX when unlimited */
    int64_t *ring;              /* [res * n_steps + slot] reserved amounts */
    int64_t peak[LEDGER_NRES];  /* max over the ring, kept current */
    struct ledger_claim **claims;
    size_t n_claims, cap_claims;
    size_t index; /* position in ledger.nodes */
    uint64_t gen; /* bumped whenever the ring or the limits change */
    /* the last scored check on this node (ledger_check_memo): valid while gen, the
     * ledger's base and the shape's hash are the same */
    struct {
        uint64_t gen, shape_hash;
        int64_t base;
        int valid;
        struct ledger_fit fit;
    } memo;
};

struct ledger_claim {
    char *key; /* the pod's UID */
    struct ledger_node *node;
    struct ledger_shape shape;
    size_t node_pos; /* position in node->claims */
};

struct ledger {
    struct ledger_config cfg;
    int64_t base;    /* absolute step held at the ring's logical start */
    uint64_t generation; /* bumped on every change, for caches of decisions */
    uint64_t topology;   /* bumped when a node is added or removed (node pointers change) */
    struct ledger_node **nodes;
    size_t n_nodes, cap_nodes;
    struct lmap by_name; /* node name -> struct ledger_node */
    struct lmap claims;  /* key -> struct ledger_claim */
};


enum fs_err ledger_new(const struct ledger_config *cfg, int64_t now, struct ledger **out);
void ledger_free(struct ledger *l);

/* Moves the horizon to start at now's step; newly exposed steps get the claims' values. */
void ledger_advance(struct ledger *l, int64_t now);

/* Adds a node or updates its allocatable; claims on it are kept. */
enum fs_err ledger_node_set(struct ledger *l, const char *name, const int64_t alloc[LEDGER_NRES]);
/* Removes a node and the claims on it (FS_ENOTFOUND if unknown). */
enum fs_err ledger_node_remove(struct ledger *l, const char *name);
/* Borrowed, valid until the node is removed. */
struct ledger_node *ledger_node_get(const struct ledger *l, const char *name);

/* Resamples band b of c onto the grid, placed at start_s (usually c->start_s). */
enum fs_err ledger_shape_init(struct ledger_shape *s, const struct ledger *l, const struct curve *c,
                              enum curve_band b, int64_t start_s);
void ledger_shape_release(struct ledger_shape *s);
int64_t ledger_shape_at(const struct ledger_shape *s, enum curve_res r, int64_t step);

/* Checks the shape on the node over the horizon and scores it (never modifies the ledger). */
void ledger_check(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                  struct ledger_fit *out);

/* ledger_check that remembers its answer on the node: asking again for the same shape
 * (the replicas of one MicroTask, or filter then prioritize of one pod) while the node's
 * ring is unchanged costs O(1). The extender's hot path. */
void ledger_check_memo(struct ledger *l, struct ledger_node *n, const struct ledger_shape *s,
                       struct ledger_fit *out);

/* The same without the score (rise, after, score stay 0 when it fits): O(1) for nodes
 * whose peak leaves room for the pod's peak. Used by filter. */
void ledger_check_fit(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                      struct ledger_fit *out);

#define LEDGER_FORCE 1 /* record the claim even if it does not fit (state that already exists) */
/* Claims the shape on node under key, replacing an existing claim of that key (also on
 * another node). Without LEDGER_FORCE a shape that does not fit is refused with
 * FS_ECONFLICT, fit (may be NULL) says why, and any previous claim stays as it was.
 * The shape is copied. */
enum fs_err ledger_claim(struct ledger *l, const char *key, const char *node, const struct ledger_shape *s,
                         int flags, struct ledger_fit *fit);
/* Releases the claim of key (FS_ENOTFOUND if none). */
enum fs_err ledger_release(struct ledger *l, const char *key);
/* Borrowed, NULL if none. */
const struct ledger_claim *ledger_claim_get(const struct ledger *l, const char *key);

/* Reserved amount of a resource on a node at absolute time t (0 outside the horizon). */
int64_t ledger_reserved(const struct ledger *l, const struct ledger_node *n, enum curve_res r, int64_t t);

/* Writes a human-readable reason for a failed fit, with the time offset from now:
 * "cpu: 3500m reserved + 1000m for this pod > 4000m allowed at +4m30s". */
void ledger_fit_message(const struct ledger *l, const struct ledger_fit *f, int64_t now, char *buf, size_t len);

/* Formats an amount of a resource the way kubectl users read it (1500m, 2Gi, 10Mi/s). */
void ledger_format_amount(enum curve_res r, int64_t v, char *buf, size_t len);

#endif
