/* Seasonal ARIMA (p,d,q)(P,D,Q)m with regression on a constant/drift and Fourier terms
 * (K harmonics of a long period, e.g. 288 five-minute steps in a day):
 *   y_t = beta' x_t + z_t,  (1-B)^d (1-B^m)^D phi(B) Phi(B^m) z_t = theta(B) Theta(B^m) e_t.
 * Estimated by conditional sum of squares (CSS, as R's arima(method = "CSS"): the first
 * d + Dm + p + Pm residuals are conditioned on) with Nelder-Mead; stationarity of phi,
 * Phi and invertibility of theta, Theta are enforced. The likelihood reported is the
 * Gaussian one at the CSS variance: -n/2 (log(2 pi sigma2) + 1), n the residuals used.
 * Orders are chosen as Hyndman & Khandakar (2008): D by seasonal strength (> 0.64),
 * d by KPSS tests, then a stepwise search on AICc. Forecast intervals from psi weights;
 * one new observation costs O(p + q + (P + Q + D) m). */
#ifndef FC_ARIMA_H
#define FC_ARIMA_H

#include <stddef.h>

#include "common/fs_err.h"
#include "forecast/fc.h"

#define ARIMA_MAX_PQ 5
#define ARIMA_MAX_SPQ 2
#define ARIMA_MAX_K 10      /* Fourier harmonics */
#define ARIMA_MAX_XREG (2 * ARIMA_MAX_K + 2)

struct arima_order {
    int p, d, q;
    int P, D, Q;
    int m;          /* seasonal period of the ARMA part (1 = none) */
    int constant;   /* mean when d + D = 0, drift when d + D = 1, ignored otherwise */
    int fourier_k;  /* harmonics of fourier_m as regressors (0 = none) */
    int fourier_m;
};

struct arima_model {
    struct arima_order o;
    double phi[ARIMA_MAX_PQ], theta[ARIMA_MAX_PQ];
    double sphi[ARIMA_MAX_SPQ], stheta[ARIMA_MAX_SPQ];
    int nx;                         /* regressors: [1 or t], Fourier sin/cos pairs */
    double beta[ARIMA_MAX_XREG];
    double sigma2;
    double loglik, aic, aicc, bic;
    size_t nobs, nused;             /* observations, residuals in the CSS sum */
    int npar;                       /* estimated coefficients (sigma2 excluded) */
    /* expanded polynomials: z_t = sum a[i] z_{t-i} + e_t + sum b[j] e_{t-j} */
    int na, nb;
    double *a, *b;                  /* a[1..na], b[1..nb] (index 0 unused) */
    /* online state: rings of the last na z values and nb residuals; t = next index */
    double *zr, *er;
    int zpos, epos;
    long t;
    int cond_from;                  /* CSS sum starts here at the earliest (order search) */
};

/* Fits the given order to y (n values; NaN not allowed here: interpolate first).
 * FS_EDATA when too short, FS_ERANGE when no admissible fit was found. */
enum fs_err arima_fit(struct arima_model *mod, const double *y, size_t n, const struct arima_order *o);

/* Hyndman-Khandakar automatic order. m is the season (1 = none). Seasons longer than
 * fourier_above (0: 24) are modelled by Fourier terms (K chosen by AICc) with
 * non-seasonal ARMA errors instead of seasonal ARMA terms. */
enum fs_err arima_auto(struct arima_model *mod, const double *y, size_t n, int m, int fourier_above);

void arima_release(struct arima_model *mod);
void arima_update(struct arima_model *mod, double y);
enum fs_err arima_forecast(const struct arima_model *mod, int h, const double *levels, int nlevels,
                           struct fc_result *r);
void arima_name(const struct arima_model *mod, char *buf, size_t len);

/* KPSS level-stationarity statistic with Newey-West lags trunc(4 (n/100)^0.25)
 * (urca's "short"); 5 % critical value 0.463. */
double arima_kpss(const double *y, size_t n);
/* Differencing orders as auto.arima chooses them. */
int arima_ndiffs(const double *y, size_t n);
int arima_nsdiffs(const double *y, size_t n, int m);

/* The CSS sum of squares and residual count at given coefficients (for tests):
 * the model's order, coefficients and beta are used as set. */
enum fs_err arima_css(struct arima_model *mod, const double *y, size_t n, double *sse, size_t *nused);

#endif
