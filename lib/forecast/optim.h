/* Bound-constrained Nelder-Mead minimiser used to fit the forecasting models.
 * Bounds are handled by the objective (return INFINITY outside the feasible set) and by
 * keeping the starting simplex inside the box; the starting point must be feasible. */
#ifndef FC_OPTIM_H
#define FC_OPTIM_H

#include <stddef.h>

#include "common/fs_err.h"

#define NM_MAX_DIM 512

typedef double (*nm_objective)(const double *x, void *ctx);

struct nm_opts {
    int max_evals;  /* total function evaluations, all restarts included */
    double reltol;  /* stop when f spread <= reltol * (|fmin| + reltol) */
    int restarts;   /* fresh simplices around the best point after convergence */
};

/* Minimises f from x (n values, updated in place to the best point found).
 * step[i] is the initial simplex edge along coordinate i (taken with the sign that
 * stays inside [lower, upper]; either bound array may be NULL). *fmin gets f(x),
 * *evals the evaluations used (both may be NULL). FS_EINVAL when n is out of range
 * or f(x) is not finite at the start, FS_ENOMEM. */
enum fs_err nm_minimise(nm_objective f, void *ctx, double *x, int n, const double *step,
                        const double *lower, const double *upper, const struct nm_opts *opts,
                        double *fmin, int *evals);

#endif
