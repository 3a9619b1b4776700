/* Forecast result storage and normal bands: see fc.h. */
#include "forecast/fc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/fc_math.h"

enum fs_err fc_result_init(struct fc_result *r, int h, const double *levels, int nlevels)
{
    memset(r, 0, sizeof(*r));
    if (h < 1 || h > FC_MAX_HORIZON || nlevels < 0 || nlevels > FC_MAX_LEVELS)
        return FS_EINVAL;
    for (int j = 0; j < nlevels; j++) {
        if (!(levels[j] > 0 && levels[j] < 100))
            return FS_EINVAL;
        r->levels[j] = levels[j];
    }
    r->h = h;
    r->nlevels = nlevels;
    size_t nb = (size_t)h * (size_t)(nlevels ? nlevels : 1);
    r->mean = calloc((size_t)h, sizeof(double));
    r->lower = calloc(nb, sizeof(double));
    r->upper = calloc(nb, sizeof(double));
    if (!r->mean || !r->lower || !r->upper) {
        fc_result_release(r);
        return FS_ENOMEM;
    }
    return FS_OK;
}

void fc_result_release(struct fc_result *r)
{
    free(r->mean);
    free(r->lower);
    free(r->upper);
    memset(r, 0, sizeof(*r));
}

void fc_result_set_normal(struct fc_result *r, int i, double mean, double var)
{
    double sd = var > 0 && isfinite(var) ? sqrt(var) : 0.0;
    r->mean[i] = mean;
    for (int j = 0; j < r->nlevels; j++) {
        double z = fc_qnorm(0.5 + r->levels[j] / 200.0);
        r->lower[i * r->nlevels + j] = mean - z * sd;
        r->upper[i * r->nlevels + j] = mean + z * sd;
    }
}
