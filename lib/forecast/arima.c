/* Seasonal ARIMA with regression and Fourier terms: CSS fitting, Hyndman-Khandakar
 * order search, psi-weight intervals, online update. See arima.h. */
#include "forecast/arima.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/fc_math.h"
#include "forecast/optim.h"
#include "forecast/season.h"

#define ROOT_MARGIN 1.01 /* roots of phi, Phi, theta, Theta must lie outside |z| = 1.01 */

void arima_release(struct arima_model *mod)
{
    free(mod->a);
    free(mod->b);
    free(mod->zr);
    free(mod->er);
    memset(mod, 0, sizeof(*mod));
}

static int xreg_count(const struct arima_order *o)
{
    int nx = 0;
    if (o->constant && o->d + o->D <= 1)
        nx++;
    for (int k = 1; k <= o->fourier_k; k++)
        nx += 2 * k == o->fourier_m ? 1 : 2;
    return nx;
}

/* Regressors at time index t (0-based from the start of the fitted series). */
static void xreg_row(const struct arima_order *o, double t, double *x)
{
    int j = 0;
    if (o->constant && o->d + o->D == 0)
        x[j++] = 1;
    else if (o->constant && o->d + o->D == 1)
        x[j++] = t + 1; /* drift, R's 1..n */
    for (int k = 1; k <= o->fourier_k; k++) {
        double w = 2 * M_PI * k * (t + 1) / o->fourier_m;
        if (2 * k != o->fourier_m)
            x[j++] = sin(w);
        x[j++] = cos(w);
    }
}

/* c (degree dc, c[0] = 1) *= f (degree df); result in c, degree returned. */
static int polymul(double *c, int dc, const double *f, int df, double *tmp)
{
    for (int i = 0; i <= dc + df; i++)
        tmp[i] = 0;
    for (int i = 0; i <= dc; i++)
        for (int j = 0; j <= df; j++)
            tmp[i + j] += c[i] * f[j];
    memcpy(c, tmp, sizeof(double) * (size_t)(dc + df + 1));
    return dc + df;
}

/* Expands the AR side (with differencing) and the MA side into mod->a, mod->b. */
static int expand(struct arima_model *mod)
{
    const struct arima_order *o = &mod->o;
    int m = o->m > 1 ? o->m : 1;
    int na = o->p + o->P * m + o->d + o->D * m, nb = o->q + o->Q * m;
    int nmax = na > nb ? na : nb;
    double *c = calloc((size_t)(nmax + 1) * 3 + 8, sizeof(double));
    double *f = calloc((size_t)(m * ARIMA_MAX_SPQ + ARIMA_MAX_PQ + 2 + nmax), sizeof(double));
    if (!c || !f) {
        free(c);
        free(f);
        return -1;
    }
    double *tmp = c + nmax + 1 + 4;
    free(mod->a);
    free(mod->b);
    mod->a = calloc((size_t)na + 1, sizeof(double));
    mod->b = calloc((size_t)nb + 1, sizeof(double));
    if (!mod->a || !mod->b) {
        free(c);
        free(f);
        return -1;
    }
    int dc = 0;
    c[0] = 1;
    /* phi(B) */
    f[0] = 1;
    for (int i = 1; i <= o->p; i++)
        f[i] = -mod->phi[i - 1];
    dc = polymul(c, dc, f, o->p, tmp);
    /* Phi(B^m) */
    memset(f, 0, sizeof(double) * (size_t)(o->P * m + 1));
    f[0] = 1;
    for (int i = 1; i <= o->P; i++)
        f[i * m] = -mod->sphi[i - 1];
    dc = polymul(c, dc, f, o->P * m, tmp);
    double d1[2] = {1, -1};
    for (int i = 0; i < o->d; i++)
        dc = polymul(c, dc, d1, 1, tmp);
    for (int i = 0; i < o->D; i++) {
        memset(f, 0, sizeof(double) * (size_t)(m + 1));
        f[0] = 1;
        f[m] = -1;
        dc = polymul(c, dc, f, m, tmp);
    }
    for (int i = 1; i <= na; i++)
        mod->a[i] = -c[i];
    /* MA side */
    memset(c, 0, sizeof(double) * (size_t)(nmax + 1));
    c[0] = 1;
    dc = 0;
    f[0] = 1;
    for (int i = 1; i <= o->q; i++)
        f[i] = mod->theta[i - 1];
    dc = polymul(c, dc, f, o->q, tmp);
    memset(f, 0, sizeof(double) * (size_t)(o->Q * m + 1));
    f[0] = 1;
    for (int i = 1; i <= o->Q; i++)
        f[i * m] = mod->stheta[i - 1];
    dc = polymul(c, dc, f, o->Q * m, tmp);
    for (int i = 1; i <= nb; i++)
        mod->b[i] = c[i];
    mod->na = na;
    mod->nb = nb;
    free(c);
    free(f);
    return 0;
}

/* 1 when 1 + sgn*(c1 z + ... + ck z^k) has all roots outside |z| = ROOT_MARGIN. */
static int roots_ok(const double *coef, int k, double sgn)
{
    if (k == 0)
        return 1;
    double c[ARIMA_MAX_PQ + 1], work[2 * (ARIMA_MAX_PQ + 1)];
    /* reversed polynomial z^k + sgn*c1 z^(k-1) + ... + sgn*ck: roots = 1 / roots above */
    c[k] = 1;
    for (int i = 1; i <= k; i++)
        c[k - i] = sgn * coef[i - 1];
    return fc_roots_within(c, k, 1 / ROOT_MARGIN, work);
}

/* The CSS sum over y with scratch z, e (n each); fills the online state when asked. */
static enum fs_err css_sum(struct arima_model *mod, const double *y, size_t n, double *z, double *e, int fill,
                           double *sse_out, size_t *nused)
{
    if (expand(mod) != 0)
        return FS_ENOMEM;
    int na = mod->na, nb = mod->nb;
    size_t t0 = (size_t)(na > mod->cond_from ? na : mod->cond_from);
    double x[ARIMA_MAX_XREG];
    for (size_t t = 0; t < n; t++) {
        double v = y[t];
        if (mod->nx) {
            xreg_row(&mod->o, (double)t, x);
            for (int j = 0; j < mod->nx; j++)
                v -= mod->beta[j] * x[j];
        }
        z[t] = v;
        e[t] = 0;
    }
    const double *a = mod->a, *b = mod->b;
    double sse = 0;
    size_t k = 0;
    for (size_t t = (size_t)na; t < n; t++) {
        double pr = 0;
        for (int i = 1; i <= na; i++)
            pr += a[i] * z[t - (size_t)i];
        for (int j = 1; j <= nb && (size_t)j <= t; j++)
            pr += b[j] * e[t - (size_t)j];
        e[t] = z[t] - pr;
        if (t >= t0) {
            sse += e[t] * e[t];
            k++;
        }
    }
    *sse_out = sse;
    *nused = k;
    if (!isfinite(sse))
        return FS_ERANGE;
    if (!fill)
        return FS_OK;
    /* the online state: last na z values and nb residuals in rings where index
     * (pos - i) mod len holds the value i steps back */
    free(mod->zr);
    free(mod->er);
    mod->zr = calloc((size_t)na + 1, sizeof(double));
    mod->er = calloc((size_t)nb + 1, sizeof(double));
    if (!mod->zr || !mod->er)
        return FS_ENOMEM;
    for (int i = 1; i <= na; i++)
        mod->zr[(na - i) % (na ? na : 1)] = (size_t)i <= n ? z[n - (size_t)i] : 0;
    for (int j = 1; j <= nb; j++)
        mod->er[(nb - j) % (nb ? nb : 1)] = (size_t)j <= n ? e[n - (size_t)j] : 0;
    mod->zpos = 0;
    mod->epos = 0;
    mod->t = (long)n;
    return FS_OK;
}

enum fs_err arima_css(struct arima_model *mod, const double *y, size_t n, double *sse_out, size_t *nused)
{
    double *z = malloc(sizeof(double) * (n ? n : 1)), *e = malloc(sizeof(double) * (n ? n : 1));
    enum fs_err rc = FS_ENOMEM;
    if (z && e)
        rc = css_sum(mod, y, n, z, e, 1, sse_out, nused);
    free(z);
    free(e);
    return rc;
}

struct css_target {
    struct arima_model *mod;
    const double *y;
    size_t n;
    double *z, *e;  /* scratch */
    int fixed_beta; /* 1: x holds the ARMA coefficients only */
};

static void unpack(struct arima_model *mod, const double *x)
{
    int k = 0;
    for (int i = 0; i < mod->o.p; i++)
        mod->phi[i] = x[k++];
    for (int i = 0; i < mod->o.q; i++)
        mod->theta[i] = x[k++];
    for (int i = 0; i < mod->o.P; i++)
        mod->sphi[i] = x[k++];
    for (int i = 0; i < mod->o.Q; i++)
        mod->stheta[i] = x[k++];
    for (int i = 0; i < mod->nx; i++)
        mod->beta[i] = x[k++];
}

static double css_objective(const double *x, void *ctx)
{
    struct css_target *t = ctx;
    struct arima_model *mod = t->mod;
    int nx = mod->nx;
    if (t->fixed_beta)
        mod->nx = 0;
    unpack(mod, x);
    mod->nx = nx;
    if (!roots_ok(mod->phi, mod->o.p, -1) || !roots_ok(mod->sphi, mod->o.P, -1) ||
        !roots_ok(mod->theta, mod->o.q, 1) || !roots_ok(mod->stheta, mod->o.Q, 1))
        return INFINITY;
    double sse;
    size_t k;
    if (css_sum(mod, t->y, t->n, t->z, t->e, 0, &sse, &k) != FS_OK || k == 0)
        return INFINITY;
    return 0.5 * log(sse / (double)k);
}

/* Applies (1-B)^d (1-B^m)^D to v (n values) into out; returns the new length. */
static size_t difference(const double *v, size_t n, int d, int D, int m, double *out)
{
    memcpy(out, v, sizeof(double) * n);
    size_t len = n;
    for (int i = 0; i < D; i++) {
        if (len <= (size_t)m)
            return 0;
        for (size_t t = len - 1; t >= (size_t)m; t--)
            out[t] = out[t] - out[t - (size_t)m];
        memmove(out, out + m, sizeof(double) * (len - (size_t)m));
        len -= (size_t)m;
    }
    for (int i = 0; i < d; i++) {
        if (len <= 1)
            return 0;
        for (size_t t = len - 1; t >= 1; t--)
            out[t] = out[t] - out[t - 1];
        memmove(out, out + 1, sizeof(double) * (len - 1));
        len -= 1;
    }
    return len;
}

/* Solves the k x k system A x = b in place by Gaussian elimination with pivoting. */
static int solve(double *A, double *b, int k)
{
    for (int c = 0; c < k; c++) {
        int piv = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(A[r * k + c]) > fabs(A[piv * k + c]))
                piv = r;
        if (fabs(A[piv * k + c]) < 1e-300)
            return -1;
        if (piv != c) {
            for (int j = 0; j < k; j++) {
                double t = A[c * k + j];
                A[c * k + j] = A[piv * k + j];
                A[piv * k + j] = t;
            }
            double t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int r = c + 1; r < k; r++) {
            double f = A[r * k + c] / A[c * k + c];
            for (int j = c; j < k; j++)
                A[r * k + j] -= f * A[c * k + j];
            b[r] -= f * b[c];
        }
    }
    for (int c = k - 1; c >= 0; c--) {
        double s = b[c];
        for (int j = c + 1; j < k; j++)
            s -= A[c * k + j] * b[j];
        b[c] = s / A[c * k + c];
    }
    return 0;
}

/* OLS of the differenced y on the differenced regressors: the starting beta. */
static int ols_beta(struct arima_model *mod, const double *y, size_t n)
{
    int nx = mod->nx, m = mod->o.m > 1 ? mod->o.m : 1;
    if (nx == 0)
        return 0;
    double *X = malloc(sizeof(double) * n * (size_t)(nx + 1)), *col = malloc(sizeof(double) * n),
           *dcol = malloc(sizeof(double) * n);
    int rc = -1;
    if (!X || !col || !dcol)
        goto out;
    size_t len = 0;
    for (int j = 0; j <= nx; j++) {
        for (size_t t = 0; t < n; t++) {
            if (j == nx) {
                col[t] = y[t];
            } else {
                double xr[ARIMA_MAX_XREG];
                xreg_row(&mod->o, (double)t, xr);
                col[t] = xr[j];
            }
        }
        len = difference(col, n, mod->o.d, mod->o.D, m, dcol);
        memcpy(X + (size_t)j * n, dcol, sizeof(double) * len);
    }
    if (len < (size_t)nx + 2)
        goto out;
    double A[ARIMA_MAX_XREG * ARIMA_MAX_XREG], b[ARIMA_MAX_XREG];
    for (int i = 0; i < nx; i++) {
        for (int j = 0; j < nx; j++) {
            double s = 0;
            for (size_t t = 0; t < len; t++)
                s += X[(size_t)i * n + t] * X[(size_t)j * n + t];
            A[i * nx + j] = s;
        }
        double s = 0;
        for (size_t t = 0; t < len; t++)
            s += X[(size_t)i * n + t] * X[(size_t)nx * n + t];
        b[i] = s;
    }
    if (solve(A, b, nx) != 0)
        goto out;
    for (int i = 0; i < nx; i++)
        mod->beta[i] = isfinite(b[i]) ? b[i] : 0;
    rc = 0;
out:
    free(X);
    free(col);
    free(dcol);
    return rc;
}

static enum fs_err arima_fit_cond(struct arima_model *mod, const double *y, size_t n, const struct arima_order *o,
                                  int cond_from);

enum fs_err arima_fit(struct arima_model *mod, const double *y, size_t n, const struct arima_order *o)
{
    return arima_fit_cond(mod, y, n, o, 0);
}

static enum fs_err arima_fit_cond(struct arima_model *mod, const double *y, size_t n, const struct arima_order *o,
                                  int cond_from)
{
    memset(mod, 0, sizeof(*mod));
    mod->cond_from = cond_from;
    if (o->p < 0 || o->p > ARIMA_MAX_PQ || o->q < 0 || o->q > ARIMA_MAX_PQ || o->P < 0 || o->P > ARIMA_MAX_SPQ ||
        o->Q < 0 || o->Q > ARIMA_MAX_SPQ || o->d < 0 || o->d > 2 || o->D < 0 || o->D > 1 || o->m < 1 ||
        o->fourier_k < 0 || o->fourier_k > ARIMA_MAX_K || (o->fourier_k > 0 && 2 * o->fourier_k > o->fourier_m))
        return FS_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]))
            return FS_EINVAL;
    mod->o = *o;
    if (mod->o.m == 1)
        mod->o.P = mod->o.Q = mod->o.D = 0;
    mod->nx = xreg_count(&mod->o);
    int m = mod->o.m;
    int narma = mod->o.p + mod->o.q + mod->o.P + mod->o.Q;
    int ncond = mod->o.p + mod->o.P * m + mod->o.d + mod->o.D * m;
    mod->npar = narma + mod->nx;
    if (n < (size_t)ncond + (size_t)mod->npar + 4)
        return FS_EDATA;
    if (ols_beta(mod, y, n) != 0 && mod->nx > 0)
        return FS_ERANGE;
    double x[ARIMA_MAX_PQ * 2 + ARIMA_MAX_SPQ * 2 + ARIMA_MAX_XREG], step[sizeof(x) / sizeof(x[0])];
    int k = 0;
    for (int i = 0; i < narma; i++) {
        x[k] = 0;
        step[k++] = 0.1;
    }
    double sd = sqrt(fc_var(y, n));
    for (int i = 0; i < mod->nx; i++) {
        x[k] = mod->beta[i];
        step[k++] = 0.1 * fabs(mod->beta[i]) + 0.01 * (sd > 0 ? sd : 1);
    }
    struct css_target tg = {mod, y, n, malloc(sizeof(double) * n), malloc(sizeof(double) * n), 0};
    enum fs_err rc = FS_ENOMEM;
    if (!tg.z || !tg.e)
        goto out_scratch;
    if (k > 0) {
        double fmin;
        /* Regression coefficients start at their OLS values, which is where they end
         * up for long series; during an order search they stay there (two-step
         * regression with ARMA errors), a final fit moves them with the rest. */
        if (cond_from && mod->nx > 0 && narma > 0) {
            tg.fixed_beta = 1;
            struct nm_opts no = {.max_evals = 300 + 150 * narma, .reltol = 1e-8, .restarts = 1};
            rc = nm_minimise(css_objective, &tg, x, narma, step, NULL, NULL, &no, &fmin, NULL);
        } else {
            struct nm_opts no = {.max_evals = 500 + 200 * k, .reltol = 1e-9, .restarts = 2};
            rc = nm_minimise(css_objective, &tg, x, k, step, NULL, NULL, &no, &fmin, NULL);
        }
        if (rc != FS_OK) {
            rc = rc == FS_EINVAL ? FS_ERANGE : rc;
            goto out_scratch;
        }
        int nxs = mod->nx;
        if (tg.fixed_beta)
            mod->nx = 0;
        unpack(mod, x);
        mod->nx = nxs;
    }
    rc = FS_OK;
out_scratch:
    free(tg.z);
    free(tg.e);
    if (rc != FS_OK)
        return rc;
    double sse;
    size_t used;
    rc = arima_css(mod, y, n, &sse, &used);
    if (rc != FS_OK)
        return rc;
    if (used == 0)
        return FS_EDATA;
    mod->nobs = n;
    mod->nused = used;
    /* as R's forecast::Arima: the variance on nstar - ncoef degrees of freedom, the CSS
     * log-likelihood on nstar = n - d - Dm observations at SSE / nused */
    double nstar = (double)n - mod->o.d - mod->o.D * m;
    double nu = (double)used, kk = mod->npar + 1;
    double dof = (mod->cond_from ? nu : nstar) - mod->npar;
    mod->sigma2 = sse / (dof > 1 ? dof : 1);
    double s2css = sse / nu;
    if (mod->cond_from)
        nstar = nu; /* candidates compared on one common sample */
    mod->loglik = -0.5 * nstar * (log(2 * M_PI * (s2css > 0 ? s2css : 1e-300)) + 1);
    nu = nstar;
    mod->aic = -2 * mod->loglik + 2 * kk;
    mod->bic = -2 * mod->loglik + log(nu) * kk;
    mod->aicc = nu - kk - 1 > 0 ? mod->aic + 2 * kk * (kk + 1) / (nu - kk - 1) : INFINITY;
    return isfinite(mod->aicc) ? FS_OK : FS_ERANGE;
}

/* ---- order selection ---- */

double arima_kpss(const double *y, size_t n)
{
    if (n < 3)
        return 0;
    double mu = fc_mean(y, n, NULL), s = 0, ss = 0, var = 0;
    for (size_t t = 0; t < n; t++) {
        double u = y[t] - mu;
        s += u;
        ss += s * s;
        var += u * u;
    }
    int L = (int)trunc(3 * sqrt((double)n) / 13);
    double lr = var / (double)n;
    for (int l = 1; l <= L && (size_t)l < n; l++) {
        double c = 0;
        for (size_t t = (size_t)l; t < n; t++)
            c += (y[t] - mu) * (y[t - (size_t)l] - mu);
        lr += 2 * (1 - (double)l / (L + 1)) * c / (double)n;
    }
    if (!(lr > 0))
        return 0;
    return ss / ((double)n * (double)n * lr);
}

int arima_ndiffs(const double *y, size_t n)
{
    double *w = malloc(sizeof(double) * n);
    if (!w)
        return 0;
    memcpy(w, y, sizeof(double) * n);
    int d = 0;
    size_t len = n;
    while (d < 2 && len > 10) {
        double v = fc_var(w, len);
        if (!(v > 0) || arima_kpss(w, len) < 0.463)
            break;
        for (size_t t = 0; t + 1 < len; t++)
            w[t] = w[t + 1] - w[t];
        len--;
        d++;
    }
    free(w);
    return d;
}

int arima_nsdiffs(const double *y, size_t n, int m)
{
    if (m < 2 || n < (size_t)(2 * m))
        return 0;
    return season_strength(y, n, m) > 0.64;
}

struct search {
    const double *y;
    size_t n;
    struct arima_order base;
    struct arima_model best;
    int have;
    int tried;
    int seen[ARIMA_MAX_PQ + 1][ARIMA_MAX_PQ + 1][ARIMA_MAX_SPQ + 1][ARIMA_MAX_SPQ + 1][2];
};

/* Fits one candidate; keeps it when its AICc is the best so far. Returns 1 if better. */
static int try_order(struct search *s, int p, int q, int P, int Q, int c)
{
    if (p < 0 || q < 0 || P < 0 || Q < 0 || p > ARIMA_MAX_PQ || q > ARIMA_MAX_PQ || P > ARIMA_MAX_SPQ ||
        Q > ARIMA_MAX_SPQ || p + q + P + Q > 5)
        return 0;
    if (s->base.m == 1 && (P || Q))
        return 0;
    if (c && s->base.d + s->base.D > 1)
        return 0;
    if (s->seen[p][q][P][Q][c] || s->tried >= 94)
        return 0;
    s->seen[p][q][P][Q][c] = 1;
    s->tried++;
    struct arima_order o = s->base;
    int mm = o.m > 1 ? o.m : 1;
    o.p = p;
    o.q = q;
    o.P = P;
    o.Q = Q;
    o.constant = c;
    struct arima_model cand;
    /* every candidate is scored on the same residuals: those after the largest lag any
     * candidate may have, so that more AR terms do not buy a shorter sum */
    int cond = o.d + o.D * mm + ARIMA_MAX_PQ + (o.m > 1 ? ARIMA_MAX_SPQ * mm : 0);
    if (arima_fit_cond(&cand, s->y, s->n, &o, cond) != FS_OK) {
        arima_release(&cand);
        return 0;
    }
    if (!s->have || cand.aicc < s->best.aicc - 1e-9) {
        if (s->have)
            arima_release(&s->best);
        s->best = cand;
        s->have = 1;
        return 1;
    }
    arima_release(&cand);
    return 0;
}

static void stepwise(struct search *s)
{
    int seasonal = s->base.m > 1;
    int c0 = s->base.d + s->base.D <= 1;
    try_order(s, 2, 2, seasonal, seasonal, c0);
    try_order(s, 0, 0, 0, 0, c0);
    try_order(s, 1, 0, seasonal, 0, c0);
    try_order(s, 0, 1, 0, seasonal, c0);
    if (c0)
        try_order(s, 0, 0, 0, 0, 0);
    int improved = s->have;
    while (improved && s->tried < 94) {
        improved = 0;
        const struct arima_order *b = &s->best.o;
        int p = b->p, q = b->q, P = b->P, Q = b->Q, c = b->constant && c0;
        static const int moves[][5] = {
            {0, 0, -1, 0, 0}, {0, 0, 1, 0, 0}, {0, 0, 0, -1, 0}, {0, 0, 0, 1, 0},  {0, 0, -1, -1, 0},
            {0, 0, 1, 1, 0},  {-1, 0, 0, 0, 0}, {1, 0, 0, 0, 0}, {0, -1, 0, 0, 0}, {0, 1, 0, 0, 0},
            {-1, -1, 0, 0, 0}, {1, 1, 0, 0, 0}, {-1, 1, 0, 0, 0}, {1, -1, 0, 0, 0},
        };
        for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]) && !improved; i++)
            improved = try_order(s, p + moves[i][0], q + moves[i][1], P + moves[i][2], Q + moves[i][3], c);
        if (!improved && c0)
            improved = try_order(s, p, q, P, Q, !c);
    }
}

enum fs_err arima_auto(struct arima_model *mod, const double *y, size_t n, int m, int fourier_above)
{
    memset(mod, 0, sizeof(*mod));
    if (fourier_above <= 0)
        fourier_above = 24;
    if (m < 1)
        m = 1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]))
            return FS_EINVAL;
    if (n < 8)
        return FS_EDATA;
    struct search *s = calloc(1, sizeof(*s));
    if (!s)
        return FS_ENOMEM;
    s->y = y;
    s->n = n;
    enum fs_err rc = FS_ERANGE;
    if (m > fourier_above && n >= (size_t)(2 * m)) {
        /* long season: Fourier terms with non-seasonal ARMA errors; K by AICc */
        int kmax = m / 2 < 5 ? m / 2 : 5;
        int bestk = 1;
        double bestic = INFINITY;
        for (int K = 1; K <= kmax; K++) {
            struct arima_order o = {.p = 1, .q = 1, .m = 1, .constant = 1, .fourier_k = K, .fourier_m = m};
            /* d from the KPSS test on what the harmonics leave */
            struct arima_model reg;
            struct arima_order ro = {.m = 1, .constant = 1, .fourier_k = K, .fourier_m = m};
            memset(&reg, 0, sizeof(reg));
            reg.o = ro;
            reg.nx = xreg_count(&ro);
            double *res = malloc(sizeof(double) * n);
            if (!res) {
                rc = FS_ENOMEM;
                goto out;
            }
            ols_beta(&reg, y, n);
            for (size_t t = 0; t < n; t++) {
                double xr[ARIMA_MAX_XREG], v = y[t];
                xreg_row(&ro, (double)t, xr);
                for (int j = 0; j < reg.nx; j++)
                    v -= reg.beta[j] * xr[j];
                res[t] = v;
            }
            o.d = arima_ndiffs(res, n);
            free(res);
            struct arima_model cand;
            if (arima_fit_cond(&cand, y, n, &o, 2 + ARIMA_MAX_PQ) == FS_OK && cand.aicc < bestic) {
                bestic = cand.aicc;
                bestk = K;
                s->base = o;
            }
            arima_release(&cand);
        }
        if (!isfinite(bestic))
            goto out;
        s->base.fourier_k = bestk;
    } else {
        int D = m > 1 ? arima_nsdiffs(y, n, m) : 0;
        double *w = malloc(sizeof(double) * n);
        if (!w) {
            rc = FS_ENOMEM;
            goto out;
        }
        size_t len = difference(y, n, 0, D, m, w);
        int d = len > 10 ? arima_ndiffs(w, len) : 0;
        free(w);
        s->base = (struct arima_order){.d = d, .D = D, .m = m};
    }
    stepwise(s);
    if (!s->have)
        goto out;
    /* the winner refitted on all its residuals */
    struct arima_order win = s->best.o;
    arima_release(&s->best);
    rc = arima_fit(mod, y, n, &win);
out:
    free(s);
    return rc;
}

/* ---- forecasting and updates ---- */

static double ring_get(const double *r, int len, int pos, int back)
{
    return r[((pos - back) % len + len) % len];
}

void arima_update(struct arima_model *mod, double y)
{
    double x[ARIMA_MAX_XREG], xb = 0;
    if (mod->nx) {
        xreg_row(&mod->o, (double)mod->t, x);
        for (int j = 0; j < mod->nx; j++)
            xb += mod->beta[j] * x[j];
    }
    double pr = 0;
    for (int i = 1; i <= mod->na; i++)
        pr += mod->a[i] * ring_get(mod->zr, mod->na, mod->zpos, i);
    for (int j = 1; j <= mod->nb; j++)
        pr += mod->b[j] * ring_get(mod->er, mod->nb, mod->epos, j);
    double z = isfinite(y) ? y - xb : pr;
    double e = z - pr;
    if (mod->na) {
        mod->zr[mod->zpos] = z;
        mod->zpos = (mod->zpos + 1) % mod->na;
    }
    if (mod->nb) {
        mod->er[mod->epos] = e;
        mod->epos = (mod->epos + 1) % mod->nb;
    }
    mod->t++;
}

enum fs_err arima_forecast(const struct arima_model *mod, int h, const double *levels, int nlevels,
                           struct fc_result *r)
{
    enum fs_err rc = fc_result_init(r, h, levels, nlevels);
    if (rc != FS_OK)
        return rc;
    int na = mod->na, nb = mod->nb;
    double *zf = calloc((size_t)na + (size_t)h, sizeof(double));
    double *ef = calloc((size_t)nb + (size_t)h, sizeof(double));
    double *psi = calloc((size_t)h, sizeof(double));
    if (!zf || !ef || !psi) {
        free(zf);
        free(ef);
        free(psi);
        fc_result_release(r);
        return FS_ENOMEM;
    }
    /* zf[0..na) = past z oldest first, then forecasts; ef likewise with future e = 0 */
    for (int i = 1; i <= na; i++)
        zf[na - i] = ring_get(mod->zr, na, mod->zpos, i);
    for (int j = 1; j <= nb; j++)
        ef[nb - j] = ring_get(mod->er, nb, mod->epos, j);
    psi[0] = 1;
    for (int k = 1; k < h; k++) {
        double v = k <= nb ? mod->b[k] : 0;
        for (int i = 1; i <= na && i <= k; i++)
            v += mod->a[i] * psi[k - i];
        psi[k] = v;
    }
    double var = 0;
    for (int k = 0; k < h; k++) {
        double pr = 0;
        for (int i = 1; i <= na; i++)
            pr += mod->a[i] * zf[na + k - i];
        for (int j = 1; j <= nb; j++)
            pr += mod->b[j] * ef[nb + k - j];
        zf[na + k] = pr;
        double xb = 0, x[ARIMA_MAX_XREG];
        if (mod->nx) {
            xreg_row(&mod->o, (double)(mod->t + k), x);
            for (int j = 0; j < mod->nx; j++)
                xb += mod->beta[j] * x[j];
        }
        var += mod->sigma2 * psi[k] * psi[k];
        fc_result_set_normal(r, k, pr + xb, var);
    }
    free(zf);
    free(ef);
    free(psi);
    for (int k = 0; k < h; k++)
        if (!isfinite(r->mean[k])) {
            fc_result_release(r);
            return FS_ERANGE;
        }
    return FS_OK;
}

void arima_name(const struct arima_model *mod, char *buf, size_t len)
{
    const struct arima_order *o = &mod->o;
    int k = snprintf(buf, len, "ARIMA(%d,%d,%d)", o->p, o->d, o->q);
    if (k < 0 || (size_t)k >= len)
        return;
    if (o->m > 1)
        k += snprintf(buf + k, len - (size_t)k, "(%d,%d,%d)[%d]", o->P, o->D, o->Q, o->m);
    if (k >= 0 && (size_t)k < len && o->constant && o->d + o->D <= 1)
        k += snprintf(buf + k, len - (size_t)k, o->d + o->D == 0 ? " with mean" : " with drift");
    if (k >= 0 && (size_t)k < len && o->fourier_k)
        snprintf(buf + k, len - (size_t)k, " + Fourier(%d,K=%d)", o->fourier_m, o->fourier_k);
}
