/* Online anomaly detectors for resource series.
 *  - k-of-n: a sample is a violation when it falls outside a forecast band (p99 by
 *    default); an anomaly is k violations among the last n samples (n <= 64).
 *  - Holt-Winters aberrant behaviour, as RRDtool's HWPREDICT/DEVPREDICT/FAILURES
 *    (Brutlag, LISA 2000): additive Holt-Winters with a per-slot smoothed absolute
 *    deviation d; a violation is y outside yhat -/+ delta*d; a failure is at least
 *    `threshold` violations in the last `window` samples. NaN counts as a violation
 *    and skips the updates. Both are O(1) per sample. */
#ifndef FC_ANOMALY_H
#define FC_ANOMALY_H

#include <stdint.h>

#include "common/fs_err.h"
#include "forecast/cad.h"

struct kofn {
    int k, n;
    uint64_t bits;  /* the last n violation flags, newest in bit 0 */
};

/* FS_EINVAL unless 1 <= k <= n <= 64. */
enum fs_err kofn_init(struct kofn *d, int k, int n);
/* Records one sample; returns 1 when at least k of the last n were violations. */
int kofn_push(struct kofn *d, int violation);

struct hw_aberrant {
    int m;                        /* season length in steps */
    double alpha, beta, gamma;    /* intercept, slope, seasonal smoothing (gamma also for d) */
    double delta_pos, delta_neg;  /* band width in deviations (RRDtool default 2) */
    int threshold, window;        /* failure: threshold violations in window (<= 64) */
    double a, b;                  /* intercept and slope */
    double *s, *d;                /* per-slot seasonal coefficient and deviation */
    int pos;                      /* slot of the next sample */
    long seen;                    /* samples pushed */
    double *boot;                 /* first season, kept until the bootstrap */
    uint64_t hist;                /* recent violation flags */
};

/* RRDtool's defaults are alpha 0.1, beta 0.0035, gamma 0.1, delta 2, 7 of 9. The first
 * season only bootstraps the state (no verdicts). FS_EINVAL on bad arguments. */
enum fs_err hw_aberrant_init(struct hw_aberrant *h, int m, double alpha, double beta, double gamma, double delta,
                             int threshold, int window);
void hw_aberrant_release(struct hw_aberrant *h);
/* Pushes y; returns 1 on a failure. *pred, *lo, *hi (may be NULL) get the band used;
 * they are NaN during the bootstrap season. */
int hw_aberrant_push(struct hw_aberrant *h, double y, double *pred, double *lo, double *hi);

struct anom_lik {
    int short_w, long_w;
    double *sring;      /* last short_w raw scores */
    int spos, scount;
    double ssum;
    double *lring;      /* last long_w short-window means */
    int lpos, lcount;
    double lsum, lsq;
    long pushed;        /* samples since the last exact resummation */
};

/* FS_EINVAL unless 1 <= short_w <= long_w; FS_ENOMEM. */
enum fs_err anom_lik_init(struct anom_lik *a, int short_w, int long_w);
void anom_lik_release(struct anom_lik *a);
/* Pushes a raw score (>= 0; NaN is skipped and returns 1) and returns the upper-tail
 * probability of the current short-window mean: near 1 when ordinary, tiny when
 * anomalous; 1 until the long window holds short_w + 30 means. */
double anom_lik_push(struct anom_lik *a, double raw);

/* An anomaly score per sample in [0, 1] for a forecast's one-step residuals, as NAB
 * detectors emit (a threshold on it makes the verdict; 0.5 is the a-priori one):
 *  - the anomaly likelihood above on |residual|, as a log score
 *    log(tail + 1e-10) / log(1e-10) (tail 1e-5 -> 0.5, as Numenta's detector maps it);
 *  - when level_w > 0, the same on |y - slow mean of y| (mean over about level_w
 *    samples): a shift of level the forecast follows quickly still shows there; the
 *    larger of the two scores is kept;
 *  - a value beyond the range seen so far by more than `spatial_tol` of that range
 *    scores 1 (a level never seen is anomalous whatever the residuals say);
 *  - after a score >= `alarm`, the next `hold` samples score 0 unless they are beyond
 *    the range (which restarts the hold): one incident is reported once, not at every
 *    sample while the likelihood windows catch up with it;
 *  - with anom_score_use_cad, the contextual detector of cad.h joins the maximum (before
 *    the hold), its score mapped piecewise linearly so that its own threshold meets
 *    `alarm`: a pattern never seen before is anomalous even when its values are
 *    ordinary, such as a series gone calm. */
struct anom_score {
    struct anom_lik lik, lev;
    int level_w;
    double spatial_tol, alarm;
    int hold;
    double lo, hi;      /* range of the values seen */
    double ymean;       /* slow mean of the values (level_w > 0) */
    long seen;          /* finite values seen */
    long scored;        /* finite values scored */
    long quiet;         /* samples left in the hold */
    struct cad *cad;    /* NULL unless anom_score_use_cad */
    struct anom_lik blk;
    int block;          /* samples per block, 0 = off */
    int bn;             /* samples in the current block */
    double bsum, bsq;   /* of the current block's values */
    double bmean;       /* slow mean of the blocks' log standard deviations */
    long blocks;        /* blocks completed */
};

/* FS_EINVAL unless the anom_lik windows are valid, level_w >= 0 (0 = off),
 * spatial_tol >= 0 (0 = off), 0 < alarm <= 1 and hold >= 0; FS_ENOMEM. */
enum fs_err anom_score_init(struct anom_score *s, int short_w, int long_w, int level_w, double spatial_tol,
                            double alarm, int hold);
void anom_score_release(struct anom_score *s);
/* Adds the contextual detector over bins spanning [lo, hi] (the value range expected,
 * e.g. a whole file's), with CAD OSE's defaults and `rest` samples of rest after its
 * alarms. Call before the first sample. FS_EINVAL, FS_ENOMEM. */
enum fs_err anom_score_use_cad(struct anom_score *s, double lo, double hi, int rest);
/* Adds the block spread signal with blocks of `block` samples (>= 2, at most level_w;
 * needs the level signal). Call before the first sample. FS_EINVAL, FS_ENOMEM. */
enum fs_err anom_score_use_blocks(struct anom_score *s, int block);
/* Learns the value y without scoring (the probationary part before the model runs).
 * FS_ENOMEM only from the contextual detector (the value is still learnt by the rest). */
enum fs_err anom_score_learn(struct anom_score *s, double y);
/* Pushes the value y and its one-step residual (y - forecast); returns the score in
 * [0, 1] (0 for NaN input, which is skipped). */
double anom_score_push(struct anom_score *s, double y, double resid);

#endif
