/* Recursive least squares: see rls.h. The covariance update is symmetrised each step,
 * which keeps P positive definite over long runs with lambda < 1. */
#include "forecast/rls.h"

#include <math.h>
#include <string.h>

enum fs_err rls_init(struct rls *r, int p, double lambda, double delta)
{
    memset(r, 0, sizeof(*r));
    if (p < 1 || p > RLS_MAX_P || !(lambda > 0 && lambda <= 1) || !(delta > 0) || !isfinite(delta))
        return FS_EINVAL;
    r->p = p;
    r->lambda = lambda;
    for (int i = 0; i < p; i++)
        r->P[i * p + i] = delta;
    return FS_OK;
}

enum fs_err rls_update(struct rls *r, const double *x, double y)
{
    int p = r->p;
    if (!isfinite(y))
        return FS_EINVAL;
    for (int i = 0; i < p; i++)
        if (!isfinite(x[i]))
            return FS_EINVAL;
    double Px[RLS_MAX_P], k[RLS_MAX_P];
    double den = r->lambda;
    for (int i = 0; i < p; i++) {
        double s = 0;
        for (int j = 0; j < p; j++)
            s += r->P[i * p + j] * x[j];
        Px[i] = s;
        den += x[i] * s;
    }
    if (!(den > 0) || !isfinite(den))
        return FS_ERANGE;
    double pred = 0;
    for (int i = 0; i < p; i++) {
        k[i] = Px[i] / den;
        pred += r->theta[i] * x[i];
    }
    double e = y - pred;
    for (int i = 0; i < p; i++)
        r->theta[i] += k[i] * e;
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++)
            r->P[i * p + j] = (r->P[i * p + j] - k[i] * Px[j]) / r->lambda;
    for (int i = 0; i < p; i++)
        for (int j = i + 1; j < p; j++) {
            double s = 0.5 * (r->P[i * p + j] + r->P[j * p + i]);
            r->P[i * p + j] = r->P[j * p + i] = s;
        }
    /* a-priori errors scaled to a-posteriori ones: e^2 * lambda / den */
    r->sse = r->lambda * r->sse + e * e * r->lambda / den;
    r->wsum = r->lambda * r->wsum + 1;
    r->n++;
    return FS_OK;
}

double rls_predict(const struct rls *r, const double *x, double *var)
{
    int p = r->p;
    double pred = 0, q = 0;
    for (int i = 0; i < p; i++) {
        pred += r->theta[i] * x[i];
        double s = 0;
        for (int j = 0; j < p; j++)
            s += r->P[i * p + j] * x[j];
        q += x[i] * s;
    }
    if (var) {
        double dof = r->wsum - p;
        double s2 = r->n >= 2 && dof > 0 ? r->sse / dof : 0;
        *var = s2 * (1 + q);
        if (!isfinite(*var) || *var < 0)
            *var = 0;
    }
    return pred;
}
