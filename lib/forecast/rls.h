/* Recursive least squares with exponential forgetting: y ~ theta' x, updated in O(p^2)
 * per observation without refitting. Used to learn a task type's duration and peak
 * demand as functions of its work size (x = (1, size) or (1, log size), ...). */
#ifndef FC_RLS_H
#define FC_RLS_H

#include <stddef.h>

#include "common/fs_err.h"

#define RLS_MAX_P 8

struct rls {
    int p;                          /* number of regressors */
    double lambda;                  /* forgetting factor in (0, 1]: 1 = ordinary least squares */
    double theta[RLS_MAX_P];        /* coefficients */
    double P[RLS_MAX_P * RLS_MAX_P];/* scaled inverse information matrix */
    size_t n;                       /* observations seen */
    double wsum;                    /* effective (forgotten) number of observations */
    double sse;                     /* forgotten sum of squared a-priori errors */
};

/* delta is the prior variance scale of theta (P0 = delta * I; large = vague, e.g. 1e6).
 * FS_EINVAL unless 1 <= p <= RLS_MAX_P, 0 < lambda <= 1 and delta > 0. */
enum fs_err rls_init(struct rls *r, int p, double lambda, double delta);

/* Adds one observation. Non-finite x or y are ignored (FS_EINVAL), the state unchanged. */
enum fs_err rls_update(struct rls *r, const double *x, double y);

/* Point prediction at x; *var (may be NULL) gets the predictive variance
 * s2 * (1 + x' P x), s2 the forgotten residual variance (0 before 2 observations). */
double rls_predict(const struct rls *r, const double *x, double *var);

#endif
