/* Admission of a leaf micro-task against the reservation ledger (lib/ledger): its p90 curve,
 * placed now, must fit on some node over its whole predicted window. The controller holds a
 * provisional claim for an admitted task until its pod is bound (the extender's claim by pod
 * UID replaces it), so two tasks admitted in one pass are never promised the same capacity.
 * When nothing fits: the reason (from the node that came closest) and the earliest start
 * within the horizon at which it would fit, given what is reserved now. Caller holds the
 * cluster lock; no I/O. */
#ifndef FS_CONTROLLER_ADMIT_H
#define FS_CONTROLLER_ADMIT_H

#include <stdint.h>

#include "common/fs_err.h"
#include "ledger/curve.h"
#include "ledger/ledger.h"

#include "priority.h"

#define ADMIT_KEY_PREFIX "admit:"
#define ADMIT_HOLD_PREFIX "hold:"

struct admit_result {
    int fits;
    char node[254];        /* where it fits (the node whose peak stays lowest) */
    int unresolvable;      /* larger than every node: no wait helps */
    int64_t earliest_s;    /* when it would fit; 0 when not within the horizon */
    char reason[256];      /* why it does not fit now */
};

/* Checks c (placed at now) on every node. Never modifies the ledger. */
enum fs_err admit_check(const struct ledger *l, const struct curve *c, int64_t now, struct admit_result *out);

/* Records the provisional claim of an admitted task under "admit:<ns>/<name>". */
enum fs_err admit_claim(struct ledger *l, const char *ns, const char *name, const char *node, const struct curve *c,
                        int64_t now);
/* Drops it (its pod is bound, finished or gone); FS_ENOTFOUND when there is none. */
enum fs_err admit_unclaim(struct ledger *l, const char *ns, const char *name);

/* One admission order across namespaces. A namespace's pass admits its own ready leaves
 * ("mine"), but only where they still fit after every better-placed leaf of the other
 * namespaces that fits has been given its place first: those are "held" (claimed under
 * "hold:<ns>/<name>" for the duration of the call, then released) for their own namespace's
 * pass, which the caller triggers. Order: priority_key_cmp, then namespace. */
struct admit_item {
    struct priority_key key;
    const struct curve *cv;
    const char *ns, *name;
    int mine;
    size_t idx;                /* the caller's, carried through the sort */
    /* out */
    int fits;                  /* mine: claimed under admit:<ns>/<name>; others: held */
    struct admit_result res;   /* mine */
};
/* Sorts items into admission order and decides each. Caller holds the cluster lock. */
enum fs_err admit_in_order(struct ledger *l, struct admit_item *items, size_t n, int64_t now);

/* Reserved cpu over allocatable cpu across all nodes now (0 without nodes): the cluster load
 * the priority's queueing delay is computed from. */
double admit_load(const struct ledger *l, int64_t now);

#endif
