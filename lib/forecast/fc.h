/* A forecast with prediction intervals: what every model family in lib/forecast
 * produces and what the CLI and the controller consume. Values are never NaN: a model
 * that cannot produce a band says so with an error instead. */
#ifndef FC_H
#define FC_H

#include <stddef.h>

#include "common/fs_err.h"

#define FC_MAX_LEVELS 8
#define FC_MAX_HORIZON 100000

struct fc_result {
    int h;                         /* steps ahead */
    int nlevels;
    double levels[FC_MAX_LEVELS];  /* coverage in percent, e.g. 80, 95 */
    double *mean;                  /* h point forecasts */
    double *lower;                 /* h * nlevels, row-major by step: lower[i*nlevels+j] */
    double *upper;
};

/* Allocates for h steps and the given levels (each in (0, 100)); FS_EINVAL or FS_ENOMEM. */
enum fs_err fc_result_init(struct fc_result *r, int h, const double *levels, int nlevels);
void fc_result_release(struct fc_result *r);

/* Fills the bands of step i from a normal forecast distribution with variance var. */
void fc_result_set_normal(struct fc_result *r, int i, double mean, double var);

#endif
