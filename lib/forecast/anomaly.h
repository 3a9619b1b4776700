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

#endif
