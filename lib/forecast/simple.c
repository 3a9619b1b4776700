/* Naive, seasonal naive and mean forecasts: see simple.h. */
#include "forecast/simple.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/fc_math.h"

double fc_qt(double p, double df)
{
    double z = fc_qnorm(p);
    if (!(df > 0) || isinf(df))
        return z;
    double z2 = z * z, z3 = z2 * z, z5 = z3 * z2, z7 = z5 * z2, z9 = z7 * z2;
    double g1 = (z3 + z) / 4;
    double g2 = (5 * z5 + 16 * z3 + 3 * z) / 96;
    double g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384;
    double g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160;
    return z + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df);
}

enum fs_err simple_fit(struct simple_model *s, enum simple_kind kind, const double *y, size_t n, int m)
{
    memset(s, 0, sizeof(*s));
    if (kind == SIMPLE_NAIVE || kind == SIMPLE_MEAN)
        m = 1;
    if (m < 1 || m > SIMPLE_MAX_SEASON)
        return FS_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (isinf(y[i]))
            return FS_EINVAL;
    s->kind = kind;
    s->m = m;
    s->last = malloc(sizeof(double) * (size_t)m);
    if (!s->last)
        return FS_ENOMEM;
    for (int i = 0; i < m; i++)
        s->last[i] = NAN;
    for (size_t i = 0; i < n; i++)
        simple_update(s, y[i]);
    size_t need = kind == SIMPLE_SNAIVE ? (size_t)m + 1 : 1;
    if (s->nobs < need)
        return FS_EDATA;
    /* a season slot never seen (gaps) borrows the latest value */
    if (kind != SIMPLE_MEAN) {
        double latest = NAN;
        for (int k = 1; k <= m; k++) {
            double v = s->last[((s->pos - k) % m + m) % m];
            if (!isnan(v)) {
                latest = v;
                break;
            }
        }
        for (int i = 0; i < m; i++)
            if (isnan(s->last[i]))
                s->last[i] = latest;
    }
    return FS_OK;
}

void simple_release(struct simple_model *s)
{
    free(s->last);
    memset(s, 0, sizeof(*s));
}

void simple_update(struct simple_model *s, double y)
{
    if (!isfinite(y)) {
        s->pos = (s->pos + 1) % s->m; /* the slot keeps its older value */
        return;
    }
    double prev = s->last[s->pos];
    if (!isnan(prev)) {
        s->sse += (y - prev) * (y - prev);
        s->nres++;
    }
    s->last[s->pos] = y;
    s->pos = (s->pos + 1) % s->m;
    s->sum += y;
    s->sumsq += y * y;
    s->nobs++;
}

enum fs_err simple_forecast(const struct simple_model *s, int h, const double *levels, int nlevels,
                            struct fc_result *r)
{
    enum fs_err rc = fc_result_init(r, h, levels, nlevels);
    if (rc != FS_OK)
        return rc;
    double n = (double)s->nobs;
    if (s->kind == SIMPLE_MEAN) {
        double mu = s->sum / n;
        double var = n > 1 ? fmax(0, (s->sumsq - n * mu * mu) / (n - 1)) : 0;
        double se = sqrt(var * (1 + 1 / n));
        for (int i = 0; i < h; i++) {
            r->mean[i] = mu;
            for (int j = 0; j < nlevels; j++) {
                double q = n > 1 ? fc_qt(0.5 + levels[j] / 200, n - 1) : 0;
                r->lower[i * nlevels + j] = mu - q * se;
                r->upper[i * nlevels + j] = mu + q * se;
            }
        }
        return FS_OK;
    }
    double sigma2 = s->nres ? s->sse / (double)s->nres : 0;
    for (int i = 0; i < h; i++) {
        int steps = i / s->m + 1;
        fc_result_set_normal(r, i, s->last[(s->pos + i) % s->m], sigma2 * steps);
    }
    return FS_OK;
}
