/* Benchmark forecasts that never fail on a usable series: naive (last value), seasonal
 * naive (value one season ago) and the mean, with R forecast's intervals (rwf/snaive:
 * sigma*sqrt(ceil(h/m)); meanf: sd*sqrt(1+1/n) with a Student t quantile). They are
 * also the documented fallbacks when a fitted model cannot be had. */
#ifndef FC_SIMPLE_H
#define FC_SIMPLE_H

#include <stddef.h>

#include "common/fs_err.h"
#include "forecast/fc.h"

enum simple_kind { SIMPLE_NAIVE = 0, SIMPLE_SNAIVE, SIMPLE_MEAN };

#define SIMPLE_MAX_SEASON 10080

struct simple_model {
    enum simple_kind kind;
    int m;            /* lag: 1 for naive */
    double *last;     /* ring of the last m values (NaN-free: gaps keep the older value) */
    int pos;          /* last[pos] is the value m steps before the next one */
    double sum, sumsq;/* for the mean (finite values) */
    size_t nobs;
    double sse;       /* sum of squared lag-m differences */
    size_t nres;
};

/* Fits to y (NaN = missing). FS_EDATA when fewer than 1 (mean, naive) or m+1 (snaive)
 * finite values, FS_EINVAL for a bad m or infinite values, FS_ENOMEM. */
enum fs_err simple_fit(struct simple_model *s, enum simple_kind kind, const double *y, size_t n, int m);
void simple_release(struct simple_model *s);
void simple_update(struct simple_model *s, double y);
enum fs_err simple_forecast(const struct simple_model *s, int h, const double *levels, int nlevels,
                            struct fc_result *r);

/* Student t quantile with df degrees of freedom (Cornish-Fisher, good to ~1e-4 for df >= 5). */
double fc_qt(double p, double df);

#endif
