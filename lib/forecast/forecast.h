/* The forecasting front door: one model of any family behind one struct, chosen by
 * name or automatically, with the documented fallbacks for degenerate input so that
 * callers (the CLI, the controller) always get finite numbers or a clear error:
 *   - no finite value: FS_EDATA; an infinite value: FS_EINVAL;
 *   - constant series: the mean, with zero-width bands ("constant");
 *   - fewer than 2 seasons: the season is dropped; too short for ETS (< 10 values):
 *     naive; a model fit that fails: seasonal naive, else naive;
 *   - NaN gaps: the models coast through them (ETS, naive) without imputing; ARIMA
 *     is fitted on a linearly interpolated copy;
 *   - values beyond 1e6 or below 1e-3 in magnitude: fitted on a rescaled copy.
 * Intervals of `auto` are calibrated on its hold-out: the chosen family's forecasts of
 * the held-out stretch give standardised errors z = (y - mean) / (half-width of the 80 %
 * band / 1.2816); at each coverage p the bands are stretched by the ratio of the
 * empirical p-quantile of |z| to the normal one, shrunk towards 1 by the number of
 * held-out values beyond that quantile, t = nz (1 - p), with weight t / (t + 6)
 * (resource series have heavy tails: normal 80 % bands are too wide). The named
 * families keep their model's own bands. */
#ifndef FC_FORECAST_H
#define FC_FORECAST_H

#include <stddef.h>

#include "common/fs_err.h"
#include "forecast/arima.h"
#include "forecast/ets.h"
#include "forecast/fc.h"
#include "forecast/simple.h"

enum fc_method {
    FC_AUTO = 0, /* ETS family vs ARIMA vs seasonal naive, on a hold-out */
    FC_ETS,      /* ETS family, chosen by AICc */
    FC_HW,       /* additive Holt-Winters: ETS(A,A,A), ETS(A,A,N) without a season */
    FC_ARIMA,    /* automatic seasonal ARIMA (Fourier terms for seasons > 24); gaps interpolated */
    FC_NAIVE,
    FC_SNAIVE,
    FC_MEAN,
};

struct fc_options {
    enum fc_method method;
    int season;         /* steps per season; 0 = detect, 1 = none */
    int max_season;     /* longest period detection may return (0: n / 2) */
    int ets_max_evals;  /* 0 = default */
    int horizon;        /* the horizon that matters, for auto's hold-out (0: one season) */
};

#define FC_CAL_GRID 8

struct fc_model {
    enum fc_method method;   /* the family actually used (after any fallback) */
    int m;                   /* season used (1 = none) */
    double scale;            /* the model sees y / scale */
    char name[48];           /* "ETS(M,Ad,M)", "snaive(24)", ... */
    const char *fallback;    /* why a fallback was taken, or NULL */
    struct ets_model ets;
    struct simple_model simple;
    struct arima_model arima;
    double constant;         /* for a constant series */
    int is_constant;
    int calibrated;          /* band_k holds the hold-out's band stretch (auto only) */
    double band_k[FC_CAL_GRID]; /* at coverages 0.5 0.6 0.7 0.8 0.9 0.95 0.975 0.99 */
};

/* Parses "auto", "ets", "hw", "arima", "naive", "snaive", "mean"; -1 if unknown. */
int fc_method_parse(const char *s);
const char *fc_method_name(enum fc_method m);

enum fs_err fc_fit(struct fc_model *mod, const double *y, size_t n, const struct fc_options *opts);
void fc_model_release(struct fc_model *mod);
/* One observation in O(1) (O(m) for nothing: seasons are rings). */
void fc_update(struct fc_model *mod, double y);
enum fs_err fc_predict(const struct fc_model *mod, int h, const double *levels, int nlevels,
                       struct fc_result *r);

#endif
