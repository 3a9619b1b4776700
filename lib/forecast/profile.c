/* Lifetime profiles: see profile.h. Runs are resampled onto fixed bins (the mean of
 * the samples in a bin, the previous bin's value across sampling holes) so that runs
 * sampled at different rates add up. */
#include "forecast/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum fs_err profile_init(struct profile *p, const struct profile_opts *o)
{
    memset(p, 0, sizeof(*p));
    if (!o || !(o->bin_s > 0) || o->nbins < 1 || o->nbins > PROFILE_MAX_BINS || o->shape_bins < 1 ||
        o->shape_bins > PROFILE_MAX_BINS || !(o->decay > 0 && o->decay <= 1) || o->keep_runs < 1 ||
        o->keep_runs > PROFILE_MAX_RUNS)
        return FS_EINVAL;
    p->o = *o;
    size_t na = (size_t)PROFILE_NRES * (size_t)o->nbins, ns = (size_t)PROFILE_NRES * (size_t)o->shape_bins;
    p->w = calloc(na, sizeof(double));
    p->s1 = calloc(na, sizeof(double));
    p->s2 = calloc(na, sizeof(double));
    p->alive = calloc((size_t)o->nbins, sizeof(double));
    p->shape_w = calloc(ns, sizeof(double));
    p->shape_s1 = calloc(ns, sizeof(double));
    p->shape_s2 = calloc(ns, sizeof(double));
    p->ring = malloc(sizeof(double) * na * (size_t)o->keep_runs);
    p->shape_ring = malloc(sizeof(double) * ns * (size_t)o->keep_runs);
    if (!p->w || !p->s1 || !p->s2 || !p->alive || !p->shape_w || !p->shape_s1 || !p->shape_s2 || !p->ring ||
        !p->shape_ring) {
        profile_release(p);
        return FS_ENOMEM;
    }
    enum fs_err rc = rls_init(&p->duration, 2, o->decay, 1e8);
    for (int r = 0; r < PROFILE_NRES && rc == FS_OK; r++)
        rc = rls_init(&p->peak[r], 2, o->decay, 1e8);
    if (rc != FS_OK)
        profile_release(p);
    return rc;
}

void profile_release(struct profile *p)
{
    free(p->w);
    free(p->s1);
    free(p->s2);
    free(p->alive);
    free(p->shape_w);
    free(p->shape_s1);
    free(p->shape_s2);
    free(p->ring);
    free(p->shape_ring);
    memset(p, 0, sizeof(*p));
}

/* Resamples values at times t (n, increasing) onto nb bins of width bw starting at 0;
 * bins at or past `end` are NaN. Returns the largest value seen (or 0). */
static double resample(const double *t, const double *v, size_t n, double bw, int nb, double end, double *out)
{
    double peak = 0, last = NAN;
    size_t i = 0;
    for (int b = 0; b < nb; b++) {
        double lo = b * bw, hi = lo + bw;
        double s = 0;
        int k = 0;
        while (i < n && t[i] < lo)
            i++;
        size_t j = i;
        while (j < n && t[j] < hi) {
            if (isfinite(v[j])) {
                s += v[j];
                k++;
            }
            j++;
        }
        if (lo >= end) {
            out[b] = NAN;
            continue;
        }
        if (k > 0)
            last = s / k;
        else if (isnan(last)) {
            /* before the first sample: the first finite value ahead */
            for (size_t q = j; q < n; q++)
                if (isfinite(v[q])) {
                    last = v[q];
                    break;
                }
        }
        out[b] = last;
        if (isfinite(last) && last > peak)
            peak = last;
    }
    return peak;
}

enum fs_err profile_add_run(struct profile *p, const struct profile_run *run)
{
    if (!run || run->n == 0 || !(run->duration_s > 0) || !isfinite(run->duration_s) || !isfinite(run->size))
        return FS_EINVAL;
    for (size_t i = 0; i < run->n; i++)
        if (!isfinite(run->t_s[i]) || run->t_s[i] < 0 || (i > 0 && run->t_s[i] < run->t_s[i - 1]))
            return FS_EINVAL;
    int nb = p->o.nbins, sb = p->o.shape_bins;
    double d = p->o.decay;
    size_t na = (size_t)PROFILE_NRES * (size_t)nb, ns = (size_t)PROFILE_NRES * (size_t)sb;
    double *slot = p->ring + (size_t)p->ring_pos * na;
    double *sslot = p->shape_ring + (size_t)p->ring_pos * ns;
    double *phase = malloc(sizeof(double) * run->n);
    if (!phase)
        return FS_ENOMEM;
    for (size_t i = 0; i < run->n; i++)
        phase[i] = run->t_s[i] / run->duration_s;
    /* fade the past, then add this run with weight 1 */
    for (size_t i = 0; i < na; i++) {
        p->w[i] *= d;
        p->s1[i] *= d;
        p->s2[i] *= d;
    }
    for (size_t i = 0; i < ns; i++) {
        p->shape_w[i] *= d;
        p->shape_s1[i] *= d;
        p->shape_s2[i] *= d;
    }
    for (int b = 0; b < nb; b++)
        p->alive[b] = p->alive[b] * d + (b * p->o.bin_s < run->duration_s ? 1.0 : 0.0);
    p->wsum = p->wsum * d + 1;
    double x[2] = {1, run->size};
    for (int r = 0; r < PROFILE_NRES; r++) {
        double *a = slot + (size_t)r * nb, *s = sslot + (size_t)r * sb;
        if (!run->value[r]) {
            for (int b = 0; b < nb; b++)
                a[b] = NAN;
            for (int b = 0; b < sb; b++)
                s[b] = NAN;
            continue;
        }
        double peak = resample(run->t_s, run->value[r], run->n, p->o.bin_s, nb, run->duration_s, a);
        resample(phase, run->value[r], run->n, 1.0 / sb, sb, 1.0, s);
        for (int b = 0; b < nb; b++)
            if (isfinite(a[b])) {
                p->w[r * nb + b] += 1;
                p->s1[r * nb + b] += a[b];
                p->s2[r * nb + b] += a[b] * a[b];
            }
        for (int b = 0; b < sb; b++) {
            if (!isfinite(s[b]))
                continue;
            s[b] = peak > 0 ? s[b] / peak : 0;
            p->shape_w[r * sb + b] += 1;
            p->shape_s1[r * sb + b] += s[b];
            p->shape_s2[r * sb + b] += s[b] * s[b];
        }
        /* the peak over the whole run, not only the absolute bins' horizon */
        double full = 0;
        for (size_t i = 0; i < run->n; i++)
            if (isfinite(run->value[r][i]) && run->value[r][i] > full)
                full = run->value[r][i];
        rls_update(&p->peak[r], x, full);
    }
    rls_update(&p->duration, x, run->duration_s);
    free(phase);
    p->ring_pos = (p->ring_pos + 1) % p->o.keep_runs;
    if (p->ring_len < p->o.keep_runs)
        p->ring_len++;
    p->runs++;
    return FS_OK;
}

struct wv {
    double v, w;
};

static int cmp_wv(const void *a, const void *b)
{
    double x = ((const struct wv *)a)->v, y = ((const struct wv *)b)->v;
    return (x > y) - (x < y);
}

/* Weighted quantiles of the kept runs' values at offset off (stride per run). */
static int ring_quantiles(const struct profile *p, const double *ring, size_t stride, size_t off, double q_lo,
                          double q_hi, double *lo, double *hi)
{
    struct wv buf[PROFILE_MAX_RUNS];
    int k = 0;
    double wt = 0;
    for (int age = 0; age < p->ring_len; age++) {
        int slot = ((p->ring_pos - 1 - age) % p->o.keep_runs + p->o.keep_runs) % p->o.keep_runs;
        double v = ring[(size_t)slot * stride + off];
        if (!isfinite(v))
            continue;
        buf[k].v = v;
        buf[k].w = pow(p->o.decay, age);
        wt += buf[k].w;
        k++;
    }
    if (k == 0)
        return -1;
    qsort(buf, (size_t)k, sizeof(buf[0]), cmp_wv);
    double qs[2] = {q_lo, q_hi}, *res[2] = {lo, hi};
    for (int j = 0; j < 2; j++) {
        if (!res[j])
            continue;
        double target = qs[j] * wt, cum = 0;
        *res[j] = buf[k - 1].v;
        for (int i = 0; i < k; i++) {
            cum += buf[i].w;
            if (cum >= target - 1e-12) {
                *res[j] = buf[i].v;
                break;
            }
        }
    }
    return 0;
}

enum fs_err profile_band(const struct profile *p, int r, int b, double q_lo, double q_hi, double *mean,
                         double *lo, double *hi, double *alive)
{
    if (r < 0 || r >= PROFILE_NRES || b < 0 || b >= p->o.nbins || !(q_lo >= 0 && q_lo <= q_hi && q_hi <= 1))
        return FS_EINVAL;
    size_t i = (size_t)r * p->o.nbins + b;
    if (alive)
        *alive = p->wsum > 0 ? p->alive[b] / p->wsum : 0;
    if (!(p->w[i] > 0))
        return FS_EDATA;
    if (mean)
        *mean = p->s1[i] / p->w[i];
    size_t stride = (size_t)PROFILE_NRES * p->o.nbins;
    if (ring_quantiles(p, p->ring, stride, i, q_lo, q_hi, lo, hi) != 0)
        return FS_EDATA;
    return FS_OK;
}

enum fs_err profile_predict(const struct profile *p, int r, double size, double q_lo, double q_hi, int nbins,
                            double *t_s, double *mean, double *lo, double *hi, double *duration_s)
{
    if (r < 0 || r >= PROFILE_NRES || nbins < 1 || !isfinite(size) || !(q_lo >= 0 && q_lo <= q_hi && q_hi <= 1))
        return FS_EINVAL;
    if (p->runs == 0)
        return FS_EDATA;
    double x[2] = {1, size};
    double dur = rls_predict(&p->duration, x, NULL);
    double peak = rls_predict(&p->peak[r], x, NULL);
    /* a regression extrapolated below zero means "short/small": clamp to the least seen scale */
    if (!(dur > 0))
        dur = p->o.bin_s;
    if (!(peak > 0))
        peak = 0;
    if (duration_s)
        *duration_s = dur;
    int sb = p->o.shape_bins;
    size_t stride = (size_t)PROFILE_NRES * sb;
    for (int i = 0; i < nbins; i++) {
        double ph = (i + 0.5) / nbins;
        int b = (int)(ph * sb);
        if (b >= sb)
            b = sb - 1;
        size_t k = (size_t)r * sb + b;
        t_s[i] = ph * dur;
        double m = p->shape_w[k] > 0 ? p->shape_s1[k] / p->shape_w[k] : 0;
        mean[i] = m * peak;
        double l = m, h = m;
        ring_quantiles(p, p->shape_ring, stride, k, q_lo, q_hi, &l, &h);
        if (lo)
            lo[i] = l * peak;
        if (hi)
            hi[i] = h * peak;
    }
    return FS_OK;
}
