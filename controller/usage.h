/* Observed usage of a running leaf micro-task, folded per prediction step: the samples from
 * metrics.k8s.io (cpu, memory) and Prometheus (network, when configured) become per-step means (the part of status.prediction that replaces the
 * predicted one), the error of the baseline prediction (MAPE, MASE) and the anomaly verdict
 * (usage above the baseline's p90 band for long enough). Pure: no I/O, no clock. */
#ifndef FS_CONTROLLER_USAGE_H
#define FS_CONTROLLER_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"
#include "ledger/curve.h"

/* A sample's value for a resource that was not read this time (Prometheus unreachable, the
 * pod not in its answer yet, or no Prometheus configured). */
#define USAGE_UNKNOWN (-1)

/* Per-step observed values from a curve's start, in curve units (milli-cores, bytes, bytes/s). */
struct usage_obs {
    int64_t start_s;
    uint32_t step_s;
    uint32_t n;                 /* steps observed; the last one may still be filling */
    uint32_t cap;
    int64_t *v[CURVE_NRES];     /* n values each; network is 0 until sampled */
    uint32_t seen[CURVE_NRES];  /* steps up to the last one with a sample of the resource, 0 none */
    int64_t last_t;             /* timestamp of the newest sample folded in, 0 none */
    int64_t acc_step;           /* step whose means acc/acc_n are being built, -1 none */
    double acc[CURVE_NRES];
    uint32_t acc_n[CURVE_NRES];
};

void usage_obs_init(struct usage_obs *o, int64_t start_s, uint32_t step_s);
void usage_obs_release(struct usage_obs *o);

/* Takes the first n_obs steps of c (a spliced status.prediction) as already observed. */
enum fs_err usage_obs_load(struct usage_obs *o, const struct curve *c, uint32_t n_obs);

/* Deep copy; dst is initialised by this call. */
enum fs_err usage_obs_copy(struct usage_obs *dst, const struct usage_obs *src);

/* Folds one sample at unix time t. A sample not newer than the last one is ignored
 * (metrics-server repeats its value until the next scrape): returns 0 then, 1 when used.
 * Per resource, steps skipped since its last sample are interpolated linearly between the two
 * (its first sample fills the steps before it). A value USAGE_UNKNOWN leaves the resource out
 * of this sample: a new step holds its last known value (0 before any) until a sample of it
 * comes, which then interpolates over the steps it missed. Samples before start_s count in
 * step 0. Negative on error (FS_ERANGE past CURVE_MAX_STEPS steps, FS_ENOMEM). */
int usage_obs_add(struct usage_obs *o, int64_t t, const int64_t v[CURVE_NRES]);

/* Errors of the baseline's p50 against the observed steps, in percent. MAPE per resource
 * over steps whose observed value is > 0; MASE per resource: mean absolute error over the
 * mean absolute step-to-step change of the observations (undefined when that is 0 or with
 * fewer than two steps). The overall figures average the defined cpu and memory ones, and
 * network's where it was both observed and predicted (a baseline with no network at all
 * made no network prediction to be wrong about). */
struct usage_error {
    int has_mape[CURVE_NRES], has_mase[CURVE_NRES];
    double mape[CURVE_NRES], mase[CURVE_NRES];
    int has_mape_all, has_mase_all;
    double mape_all, mase_all;
};
void usage_error(const struct usage_obs *o, const struct curve *baseline, struct usage_error *e);

/* A band value at time t, holding the first/last step outside the window (a task that runs
 * past its predicted end is compared with its last predicted level, not with zero). */
int64_t usage_band_at(const struct curve *c, enum curve_band b, enum curve_res r, int64_t t);

/* Anomaly: a resource is above its band at a sample when value > p90 * (1 + tolerance) and
 * value - p90 exceeds a small floor (5m cpu, 8Mi memory, 1 MiB/s network, so idle noise
 * never counts); it is anomalous once it has been above at every sample for at least
 * window_s. Network counts only when sampled (not USAGE_UNKNOWN) and predicted (some p90
 * step above 0). */
struct usage_anomaly {
    int64_t above_since[CURVE_NRES];  /* first sample of the current run above the band, 0 none */
    int flagged;                      /* latched once anomalous */
    enum curve_res res;               /* what was anomalous */
    int64_t observed, band;           /* at the sample that flagged it */
    double for_s;                     /* how long it had been above */
};
/* Returns 1 on the sample that first makes the task anomalous, 0 otherwise. */
int usage_anomaly_push(struct usage_anomaly *a, const struct curve *baseline, int64_t t,
                       const int64_t v[CURVE_NRES], double tolerance, double window_s);

#endif
