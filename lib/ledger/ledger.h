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
#include "ledger/slab.h"

#define LEDGER_NRES CURVE_NRES
/* allocatable of a resource the node does not declare (e.g. network): never checked */
#define LEDGER_UNLIMITED (-1)
#define LEDGER_MAX_STEPS 100000
/* Steps per block of the block maxima kept beside every ring and shape. Blocks are aligned
 * on absolute steps (block of step k = floor(k / LEDGER_BLOCK)), so they survive a ring
 * advance. A check adds a node's block maximum to the pod's and reads a block's steps only
 * when that bound could overflow the limit or raise the peak: 8 steps keep a block at one
 * cache line per resource. */
#define LEDGER_BLOCK 8

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
    int64_t blk_first;          /* absolute block of bmax[r][0] (floor(first / LEDGER_BLOCK)) */
    uint32_t blk_n;             /* blocks the values span (0 when flat) */
    int64_t *bmax[LEDGER_NRES]; /* max of v[r] over each block's steps; NULL when flat */
    int64_t *bmin[LEDGER_NRES]; /* min of v[r] over each block's steps (of the shape); NULL when flat */
    /* The shape's window in the horizon as it was when ledger_shape_init ran (win_base is
     * the ledger's base then), per window block j (absolute block win_b0 + j): the shape's
     * block maximum win_ub, and win_lb = its block minimum where the block's valid steps
     * all lie in the window (else far below 0: no bound). Per-request constants, so that a
     * check of 5,000 nodes adds one array to another instead of recomputing them per node.
     * Not copied into claims; checks at another base take the general path. Non-flat only. */
    int64_t win_base, win_b0;
    size_t win_slot0; /* ring-of-blocks slot of win_b0 */
    uint32_t win_nb;  /* 0: no window data */
    uint32_t win_nb4; /* win_nb rounded up to four: win_ub and win_lb are padded with far below 0 */
    int win_edge0, win_edge1; /* the first / last window block is partly outside the window */
    int64_t *win_ub[LEDGER_NRES], *win_lb[LEDGER_NRES];
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

/* Laid out by what reads it, one cache line at a time (its slab slot is line-aligned): a
 * 5,000-node request touches every node, in the scheduler's order, and each line it need
 * not read is a cache miss saved. Line 0: what every filter reads; line 1: what a scored
 * check reads besides (the memo, where the block maxima and the ring are); the rest only
 * when the ledger changes. The block maxima follow the node in its slot. */
struct ledger_node {
    int64_t limit[LEDGER_NRES]; /* alloc minus headroom, INT64_MAX when unlimited */
    int64_t peak[LEDGER_NRES];  /* max over the ring, kept current */
    size_t n_claims;            /* claims on the node (its pods, for the extender's cluster) */
    /* the owner's data, never read by the ledger: the extender's cluster keeps the node's pod
     * capacity here (read on every filter) and what else it counts per node (extended
     * resources) behind user, which it frees */
    int64_t max_pods; /* -1: not limited */
    void *user;
    uint64_t gen; /* bumped whenever the ring or the limits change */
    /* the last scored check on this node (ledger_check_memo), what a prioritize reads of it:
     * valid while gen, the ledger's base and the shape's hash are the same */
    struct {
        uint64_t gen, shape_hash;
        int64_t base;
        uint8_t valid, fits, unresolvable, res;
        int8_t score;
    } memo;
    /* [res * ledger.bstride + block % n_blocks]: max of the ring over the block's steps that
     * lie inside the horizon (the first and last blocks are partly outside), kept current;
     * [.. + n_blocks + slot] holds the same as [.. + slot], so that a window's blocks are
     * contiguous from any slot, and zeros follow to a multiple of four from there */
    int64_t *bmax;
    int64_t *ring; /* [res * n_steps + slot] reserved amounts, a slot of ledger.rings */
    char *name;
    int64_t alloc[LEDGER_NRES]; /* allocatable (milli-cores, bytes, bytes/s) or LEDGER_UNLIMITED */
    struct ledger_claim **claims;
    size_t cap_claims;
    size_t index; /* position in ledger.nodes */
} __attribute__((aligned(64)));

struct ledger_claim {
    char *key; /* the pod's UID */
    struct ledger_node *node;
    struct ledger_shape shape;
    size_t node_pos; /* position in node->claims */
};

struct ledger {
    struct ledger_config cfg;
    int64_t base;    /* absolute step held at the ring's logical start */
    size_t base_slot; /* its slot in the rings (base mod n_steps): slots without a division */
    uint32_t n_blocks; /* slots of each node's block-maxima ring: blocks the horizon can touch */
    uint32_t bstride;  /* a node's bmax entries per resource: the ring of blocks, its copy, padding */
    uint64_t generation; /* bumped on every change, for caches of decisions */
    uint64_t topology;   /* bumped when a node is added or removed (node pointers change) */
    struct ledger_node **nodes;
    size_t n_nodes, cap_nodes;
    struct lmap by_name; /* node name -> struct ledger_node */
    struct lmap claims;  /* key -> struct ledger_claim */
    struct slab heads;   /* the nodes, each with its block maxima */
    struct slab rings;   /* the nodes' rings */
};


enum fs_err ledger_new(const struct ledger_config *cfg, int64_t now, struct ledger **out);
void ledger_free(struct ledger *l);

/* Moves the horizon to start at now's step; newly exposed steps get the claims' values. */
void ledger_advance(struct ledger *l, int64_t now);

/* Adds a node or updates its allocatable; claims on it are kept. */
enum fs_err ledger_node_set(struct ledger *l, const char *name, const int64_t alloc[LEDGER_NRES]);
/* Removes a node and the claims on it (FS_ENOTFOUND if unknown); the owner frees n->user first. */
enum fs_err ledger_node_remove(struct ledger *l, const char *name);
/* Borrowed, valid until the node is removed. */
struct ledger_node *ledger_node_get(const struct ledger *l, const char *name);
/* out[i] = ledger_node_get(l, names[i]) for n names, overlapping their cache misses. */
void ledger_node_get_many(const struct ledger *l, const char *const *names, size_t n, struct ledger_node **out);

/* Resamples band b of c onto the grid, placed at start_s (usually c->start_s). */
enum fs_err ledger_shape_init(struct ledger_shape *s, const struct ledger *l, const struct curve *c,
                              enum curve_band b, int64_t start_s);
void ledger_shape_release(struct ledger_shape *s);
int64_t ledger_shape_at(const struct ledger_shape *s, enum curve_res r, int64_t step);

/* Checks the shape on the node over the horizon and scores it (never modifies the ledger). */

void ledger_check(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                  struct ledger_fit *out);

/* Asks the CPU for the memory a check of s on n will read: a request's nodes come in the
 * scheduler's order, scattered in memory, and asking a few nodes ahead overlaps their cache
 * misses. what: LEDGER_PREFETCH_FIT (a fit check that the node's peak answers: line 0),
 * _MEMO (ledger_check_memo's memo), _WINDOW (the block maxima a scored check reads). */
enum { LEDGER_PREFETCH_FIT = 1, LEDGER_PREFETCH_MEMO = 2, LEDGER_PREFETCH_WINDOW = 4 };
void ledger_prefetch(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s, int what);
/* Whether n's memo holds a check of this very shape (gen aside): a request's first node
 * tells whether its nodes' windows are worth prefetching. */
int ledger_memo_holds(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s);
/* ledger_check that remembers its answer on the node: asking again for the same shape
 * (the replicas of one MicroTask, or filter then prioritize of one pod) while the node's
 * ring is unchanged costs O(1). The extender's hot path. A remembered answer holds fits,
 * unresolvable, res and score (what a prioritize reads); the other fields are 0. */
void ledger_check_memo(struct ledger *l, struct ledger_node *n, const struct ledger_shape *s,
                       struct ledger_fit *out);

/* The same without the score (rise, after and score stay 0): O(1) for nodes whose peak
 * leaves room for the pod's peak, else one comparison per block and a scan of the blocks
 * where the node's and the pod's block maxima together pass the limit. Used by filter. */
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

/* A node's maximum reservation of r over the horizon's steps in absolute block blk (0 when
 * the block is outside the horizon). For tests and debugging. */
int64_t ledger_block_max(const struct ledger *l, const struct ledger_node *n, enum curve_res r, int64_t blk);

/* Writes a human-readable reason for a failed fit, with the time offset from now:
 * "cpu: 3500m reserved + 1000m for this pod > 4000m allowed at +4m30s". */
void ledger_fit_message(const struct ledger *l, const struct ledger_fit *f, int64_t now, char *buf, size_t len);

/* Formats an amount of a resource the way kubectl users read it (1500m, 2Gi, 10Mi/s). */
void ledger_format_amount(enum curve_res r, int64_t v, char *buf, size_t len);

#endif
