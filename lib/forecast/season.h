/* Seasonality detection: which periods a series repeats at (ACF + periodogram, several
 * at once, e.g. a day and a week of 5-minute steps), how strong each is, and a classical
 * decomposition used by the models' initialisation and by the tests of seasonality. */
#ifndef FC_SEASON_H
#define FC_SEASON_H

#include <stddef.h>

#include "common/fs_err.h"

#define SEASON_MAX_FOUND 4

struct season_period {
    int period;       /* in steps */
    double acf;       /* autocorrelation of the detrended series at that lag */
    double strength;  /* 1 - var(remainder) / var(season + remainder), in [0, 1] */
};

struct season_result {
    int count;        /* periods found, strongest first */
    struct season_period p[SEASON_MAX_FOUND];
};

/* Finds periods in [2, max_period] (0: n / 2) that show both as a periodogram peak
 * and as an ACF local maximum above min_acf (0: 0.3). NaN gaps are interpolated.
 * count 0 means no seasonality. FS_EDATA when fewer than 8 finite values. */
enum fs_err season_detect(const double *y, size_t n, int max_period, double min_acf, struct season_result *out);

/* Seasonal strength of period m (Wang, Smith & Hyndman 2006, via a classical
 * additive decomposition); 0 when n < 2m. */
double season_strength(const double *y, size_t n, int m);

/* Copies y into out with NaN gaps linearly interpolated (ends: nearest value).
 * Returns the number of finite input values. */
size_t fc_interpolate(const double *y, size_t n, double *out);

#endif
