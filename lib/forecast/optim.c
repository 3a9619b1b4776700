/* Nelder-Mead (reflection 1, expansion 2, contraction 0.5, shrink 0.5) in the form of
 * Lagarias et al. (1998), with restarts from the best vertex: a collapsed simplex is the
 * usual failure on these likelihoods, and a restart is cheaper than a smarter method. */
#include "forecast/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nm_state {
    nm_objective f;
    void *ctx;
    int n;
    int evals;
    int max_evals;
};

static double eval(struct nm_state *s, const double *x)
{
    s->evals++;
    double v = s->f(x, s->ctx);
    return isnan(v) ? INFINITY : v;
}

/* One Nelder-Mead run from the simplex in p (n+1 rows of n) with values fv. */
static void nm_run(struct nm_state *s, double *p, double *fv, double *cen, double *xr, double *xe,
                   double reltol)
{
    int n = s->n;
    for (;;) {
        /* order: best (lo), worst (hi), second worst (nh) */
        int lo = 0, hi = 0;
        for (int i = 1; i <= n; i++) {
            if (fv[i] < fv[lo])
                lo = i;
            if (fv[i] > fv[hi])
                hi = i;
        }
        int nh = lo;
        for (int i = 0; i <= n; i++)
            if (i != hi && fv[i] > fv[nh])
                nh = i;
        if (s->evals >= s->max_evals)
            return;
        if (isfinite(fv[hi]) && fv[hi] - fv[lo] <= reltol * (fabs(fv[lo]) + reltol))
            return;
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int i = 0; i <= n; i++)
                if (i != hi)
                    sum += p[i * n + j];
            cen[j] = sum / n;
        }
        double *ph = p + hi * n;
        for (int j = 0; j < n; j++)
            xr[j] = cen[j] + (cen[j] - ph[j]);
        double fr = eval(s, xr);
        if (fr < fv[lo]) {
            for (int j = 0; j < n; j++)
                xe[j] = cen[j] + 2 * (cen[j] - ph[j]);
            double fe = eval(s, xe);
            if (fe < fr) {
                memcpy(ph, xe, sizeof(double) * n);
                fv[hi] = fe;
            } else {
                memcpy(ph, xr, sizeof(double) * n);
                fv[hi] = fr;
            }
            continue;
        }
        if (fr < fv[nh]) {
            memcpy(ph, xr, sizeof(double) * n);
            fv[hi] = fr;
            continue;
        }
        /* contraction: outside if the reflection beat the worst, else inside */
        int outside = fr < fv[hi];
        for (int j = 0; j < n; j++)
            xe[j] = outside ? cen[j] + 0.5 * (xr[j] - cen[j]) : cen[j] + 0.5 * (ph[j] - cen[j]);
        double fc = eval(s, xe);
        if (fc < (outside ? fr : fv[hi])) {
            memcpy(ph, xe, sizeof(double) * n);
            fv[hi] = fc;
            continue;
        }
        /* shrink towards the best vertex */
        double *pl = p + lo * n;
        int moved = 0;
        for (int i = 0; i <= n; i++) {
            if (i == lo)
                continue;
            for (int j = 0; j < n; j++) {
                double nv = pl[j] + 0.5 * (p[i * n + j] - pl[j]);
                if (nv != p[i * n + j])
                    moved = 1;
                p[i * n + j] = nv;
            }
            fv[i] = eval(s, p + i * n);
        }
        if (!moved)
            return;
    }
}

static void build_simplex(struct nm_state *s, const double *x, double fx, const double *step,
                          const double *lower, const double *upper, double *p, double *fv)
{
    int n = s->n;
    memcpy(p, x, sizeof(double) * n);
    fv[0] = fx;
    for (int i = 1; i <= n; i++) {
        double *v = p + i * n;
        memcpy(v, x, sizeof(double) * n);
        int j = i - 1;
        double st = step[j] != 0 ? step[j] : 0.1;
        double up = upper ? upper[j] : INFINITY, lw = lower ? lower[j] : -INFINITY;
        if (x[j] + st <= up)
            v[j] = x[j] + st;
        else if (x[j] - st >= lw)
            v[j] = x[j] - st;
        else
            v[j] = (x[j] - lw > up - x[j]) ? lw + 0.5 * (x[j] - lw) : x[j] + 0.5 * (up - x[j]);
        fv[i] = eval(s, v);
    }
}

enum fs_err nm_minimise(nm_objective f, void *ctx, double *x, int n, const double *step,
                        const double *lower, const double *upper, const struct nm_opts *opts,
                        double *fmin, int *evals)
{
    enum fs_err rc = FS_EINVAL;
    double *buf = NULL;
    struct nm_state s = {f, ctx, n, 0, opts && opts->max_evals > 0 ? opts->max_evals : 2000};
    double reltol = opts && opts->reltol > 0 ? opts->reltol : 1e-8;
    int restarts = opts ? opts->restarts : 1;

    if (n < 1 || n > NM_MAX_DIM)
        goto out;
    double fx = eval(&s, x);
    if (!isfinite(fx))
        goto out;
    rc = FS_ENOMEM;
    buf = malloc(sizeof(double) * ((size_t)(n + 1) * n + (n + 1) + 3 * (size_t)n + n));
    if (!buf)
        goto out;
    double *p = buf, *fv = p + (n + 1) * n, *cen = fv + n + 1, *xr = cen + n, *xe = xr + n,
           *stp = xe + n;
    memcpy(stp, step, sizeof(double) * n);
    for (int r = 0; r <= restarts; r++) {
        build_simplex(&s, x, fx, stp, lower, upper, p, fv);
        nm_run(&s, p, fv, cen, xr, xe, reltol);
        int lo = 0;
        for (int i = 1; i <= n; i++)
            if (fv[i] < fv[lo])
                lo = i;
        double improvement = fx - fv[lo];
        if (fv[lo] < fx) {
            memcpy(x, p + lo * n, sizeof(double) * n);
            fx = fv[lo];
        }
        if (s.evals >= s.max_evals || improvement <= reltol * (fabs(fx) + reltol))
            break;
        /* the next simplex is smaller: the basin is known roughly now */
        for (int j = 0; j < n; j++)
            stp[j] *= 0.5;
    }
    if (fmin)
        *fmin = fx;
    rc = FS_OK;
out:
    if (evals)
        *evals = s.evals;
    free(buf);
    return rc;
}
