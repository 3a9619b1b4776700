/* Contextual anomaly detector in the manner of CAD OSE (M. Smirnov, 2016: NAB's
 * "ContextOSE" entry; our own C from a reading of how it works). Values are quantised
 * into 2^bits bins over a given range; each bin's bits become facts. A context pairs a
 * set of facts of the previous step (its sensor facts and the contexts then active,
 * the "neurons") with a set of facts of the current step. A step's score is half the
 * share of the contexts whose left side held that failed to come true plus half the
 * share of the step's candidate contexts never seen before: 0 for a pattern seen many
 * times, near 1 for a transition never seen. After a raw score >= `base`, `rest` steps
 * score 0 (one incident, one report). O(contexts touched) per step; memory grows with
 * the distinct contexts seen, up to CAD_MAX_CONTEXTS (then it stops learning new ones). */
#ifndef FC_CAD_H
#define FC_CAD_H

#include <stdint.h>

#include "common/fs_err.h"

#define CAD_MAX_CONTEXTS (1 << 21)

struct cad_link {
    uint32_t rmask; /* right side: a set of sensor facts as a bit mask */
    int ctx;
};

struct cad_lsc {   /* a left side: a sorted set of facts */
    int *facts;
    int len;
    uint64_t hash;
    int hit;       /* its facts in the current left group */
    struct cad_link *links;
    int nlinks, caplinks;
};

struct cad_ctx {
    long uses;     /* steps it came true */
    int zero;      /* seen as a whole step-to-step transition (may seed new contexts) */
};

struct cad_ids {
    int *v;
    int n, cap;
};

struct cad_cand { /* a candidate context: left facts in the scratch pool, right mask */
    int off, len;
    uint32_t rmask;
    uint64_t hash;
};

struct cad {
    double lo, step;           /* bin = floor((y - lo) / step), clamped */
    int bits, rest, max_left, max_neurons;
    double base;
    struct cad_lsc *lsc;
    int nlsc, caplsc;
    int *tab;                  /* open addressing over lsc: id + 1, 0 empty */
    int tabcap;
    struct cad_ctx *ctx;
    int nctx, capctx;
    struct cad_ids *inv;       /* fact -> ids of the left sides holding it */
    int ninv;
    struct cad_ids crossed;    /* left sides with hit > 0 */
    struct cad_ids group;      /* left group: last sensor facts and active contexts */
    struct cad_ids active;     /* scratch */
    struct cad_ids pool;       /* scratch: candidates' left facts */
    struct cad_cand *cand;
    int ncand, capcand;
    double *hist;              /* the last `rest` raw scores (ring) */
    int hpos;
    long steps;
};

/* Bins span [lo, hi] (hi > lo, else a unit range around lo); bits in 1..16; rest >= 0;
 * 0 < base <= 1; max_left >= 1; max_neurons >= 1 (CAD OSE's defaults: bits 3, base
 * 0.75, max_left 7, max_neurons 15). FS_EINVAL on bad arguments, FS_ENOMEM. */
enum fs_err cad_init(struct cad *c, double lo, double hi, int bits, int rest, double base, int max_left,
                     int max_neurons);
void cad_release(struct cad *c);
/* Pushes y; *score (in [0, 1]) gets its anomaly score. A NaN or infinite y scores 0
 * and is skipped. FS_ENOMEM leaves the detector usable (that step not learnt). */
enum fs_err cad_push(struct cad *c, double y, double *score);

#endif
