/* Lifetime profiles of micro-tasks: a task type's demand as a function of time since
 * its start, per resource, learned from completed runs, plus RLS models of a run's
 * duration and peak demand on its work size; together they predict the demand curve
 * of a new run before it starts. All updates are O(bins) per completed run.
 *
 * Two views of each run are kept:
 *  - absolute: demand in bins of bin_s seconds since start (what a run of this type
 *    usually does at minute 3), with the fraction of runs still alive per bin;
 *  - shape: time as a fraction of the run's duration and demand as a fraction of the
 *    run's peak, which the size models rescale for a new run.
 * Old runs fade by `decay` per new run (weight decay^age) in means and quantiles. */
#ifndef FC_PROFILE_H
#define FC_PROFILE_H

#include <stddef.h>

#include "common/fs_err.h"
#include "forecast/rls.h"

enum profile_resource { PROFILE_CPU = 0, PROFILE_MEM, PROFILE_NET, PROFILE_NRES };

#define PROFILE_MAX_BINS 4096
#define PROFILE_MAX_RUNS 256   /* runs kept for the quantiles */

struct profile_opts {
    double bin_s;      /* absolute bin width, seconds (e.g. 10) */
    int nbins;         /* absolute bins (horizon = nbins * bin_s) */
    int shape_bins;    /* bins over the run's [0, 1] phase (e.g. 50) */
    double decay;      /* weight factor per newer run, in (0, 1] (e.g. 0.95) */
    int keep_runs;     /* runs kept for quantiles (<= PROFILE_MAX_RUNS) */
};

/* One completed run: n samples at t_s seconds since start (increasing), demand per
 * resource (value[r] has n values, NaN = not measured); size is its work size. */
struct profile_run {
    const double *t_s;
    const double *value[PROFILE_NRES];
    size_t n;
    double duration_s;
    double size;
};

struct profile {
    struct profile_opts o;
    size_t runs;
    double wsum;              /* decayed number of runs */
    /* exponentially weighted per bin: sum w, sum w x, sum w x^2 (absolute view) */
    double *w, *s1, *s2;      /* [res][bin] */
    double *alive;            /* [bin]: decayed weight of runs still running */
    double *shape_w, *shape_s1, *shape_s2; /* [res][shape bin], values / run peak */
    /* recent runs for quantiles: ring of keep_runs x res x nbins (NaN = absent) */
    double *ring;
    double *shape_ring;       /* keep_runs x res x shape_bins */
    int ring_pos, ring_len;
    struct rls duration;      /* duration_s on (1, log1p(size)) */
    struct rls peak[PROFILE_NRES]; /* peak demand on (1, size) */
};

enum fs_err profile_init(struct profile *p, const struct profile_opts *o);
void profile_release(struct profile *p);

/* Folds a completed run in. FS_EINVAL for an empty run, decreasing times or a
 * non-positive duration. */
enum fs_err profile_add_run(struct profile *p, const struct profile_run *run);

/* Absolute view at bin b for resource r: weighted mean and the weighted quantiles
 * q_lo, q_hi (e.g. 0.05, 0.95) over the kept runs alive at b; *alive gets the
 * decayed fraction of runs that reach b. FS_EDATA when no run reached b. */
enum fs_err profile_band(const struct profile *p, int r, int b, double q_lo, double q_hi, double *mean,
                         double *lo, double *hi, double *alive);

/* The predicted curve of a new run of work size `size`: duration from the RLS, then
 * for each of nbins points at t = (i + 0.5) * duration / nbins, the shape's mean and
 * quantile band scaled by the predicted peak for resource r. t_s, mean, lo, hi get
 * nbins values each (lo/hi may be NULL). FS_EDATA before the first run. */
enum fs_err profile_predict(const struct profile *p, int r, double size, double q_lo, double q_hi, int nbins,
                            double *t_s, double *mean, double *lo, double *hi, double *duration_s);

#endif
