/* Exponential smoothing in innovations state-space form (Hyndman et al. 2008), the
 * ETS(error, trend, season) family: error A|M, trend N|A|Ad, season N|A|M. Fitted by
 * maximum likelihood with Nelder-Mead, chosen among the family by AICc, forecast with
 * analytic (or, where none exists, simulated) intervals, updated online in O(1).
 * Conventions follow R's forecast::ets so that its fits serve as references: the
 * likelihood omits constants (loglik = -0.5 * (n log SSE + 2 sum log|yhat|) for M error),
 * parameters count the initial states, and sigma2 = SSE / (n - np). */
#ifndef FC_ETS_H
#define FC_ETS_H

#include <stddef.h>

#include "common/fs_err.h"
#include "forecast/fc.h"

enum ets_error { ETS_ERR_ADD = 0, ETS_ERR_MUL };
enum ets_trend { ETS_TREND_NONE = 0, ETS_TREND_ADD, ETS_TREND_DAMPED };
enum ets_season { ETS_SEASON_NONE = 0, ETS_SEASON_ADD, ETS_SEASON_MUL };

struct ets_spec {
    enum ets_error error;
    enum ets_trend trend;
    enum ets_season season;
};

/* Longest season whose initial states are fitted by the optimiser (like R); longer
 * seasons keep the decomposition's initial states and fit only the other parameters. */
#define ETS_FREE_SEASON_MAX 24
#define ETS_MAX_SEASON 10080  /* a week of minutes */

struct ets_params {
    double alpha, beta, gamma, phi; /* unused ones are 0 (phi is 1 when not damped) */
};

struct ets_model {
    struct ets_spec spec;
    int m;                  /* season length in steps; 1 when there is no season */
    struct ets_params par;
    double level, slope;    /* current state */
    double *season;         /* m seasonal states, ring: season[pos] serves the next step */
    int pos;
    size_t nobs;            /* finite observations seen by the fit and later updates */
    int npar;               /* estimated parameters, initial states included (R's np - 1) */
    double sse;             /* sum of squared innovations (relative for M error) */
    double sigma2;          /* innovation variance, sse / (nobs - npar) */
    double loglik, aic, aicc, bic;
    int evals;              /* likelihood evaluations spent by the fit */
};

/* Sets up an unfitted model (allocates the season ring). FS_EINVAL for a bad m or a
 * combination the family excludes (additive error with multiplicative season). */
enum fs_err ets_init(struct ets_model *mod, struct ets_spec spec, int m);
void ets_release(struct ets_model *mod);

/* Parameters and state in R's layout: l, [b], s1..sm with s1 the most recent season. */
enum fs_err ets_set_state(struct ets_model *mod, const struct ets_params *p, const double *state);
void ets_get_state(const struct ets_model *mod, double *state);
int ets_state_len(const struct ets_model *mod);

/* Runs the model over y (NaN = missing: the states coast on the forecast) from the
 * current state, which it advances; fills sse, nobs, loglik and, given npar, sigma2 and
 * the criteria. fitted (n values, may be NULL) gets the one-step forecasts. FS_ERANGE
 * when the recursion leaves the representable range. */
enum fs_err ets_filter(struct ets_model *mod, const double *y, size_t n, double *fitted);

struct ets_fit_opts {
    int max_evals;  /* per model; 0 = default (2000 + restarts) */
};

/* Fits spec to y (n values, NaN allowed but not at the start) with season m. The model
 * must be released by the caller even on failure. FS_EDATA when the series is too short
 * for the model or not positive for a multiplicative one. */
enum fs_err ets_fit(struct ets_model *mod, const double *y, size_t n, int m, struct ets_spec spec,
                    const struct ets_fit_opts *opts);

/* Tries the family (multiplicative error and season only for positive data; seasonal
 * ones only when m > 1 and n >= 2m) and keeps the lowest AICc. additive_only restricts
 * to additive error and season. */
enum fs_err ets_fit_auto(struct ets_model *mod, const double *y, size_t n, int m, int additive_only,
                         const struct ets_fit_opts *opts);

/* One new observation in O(1): advances the state, the residual variance and nobs. */
void ets_update(struct ets_model *mod, double y);

/* Point forecasts and bands for h steps; r is initialised here and owned by the caller. */
enum fs_err ets_forecast(const struct ets_model *mod, int h, const double *levels, int nlevels,
                         struct fc_result *r);

/* "ETS(M,Ad,M)" */
void ets_name(const struct ets_model *mod, char *buf, size_t len);

#endif
