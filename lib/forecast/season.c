/* Seasonality detection: see season.h. The periodogram proposes candidate periods
 * cheaply (one FFT), the ACF confirms them: a periodogram alone is fooled by
 * harmonics and by trends, an ACF alone by its slow decay at small lags. */
#include "forecast/season.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/fc_math.h"

size_t fc_interpolate(const double *y, size_t n, double *out)
{
    size_t finite = 0, prev = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            continue;
        finite++;
        out[i] = y[i];
        if (prev == (size_t)-1) {
            for (size_t k = 0; k < i; k++)
                out[k] = y[i];
        } else {
            for (size_t k = prev + 1; k < i; k++)
                out[k] = y[prev] + (y[i] - y[prev]) * (double)(k - prev) / (double)(i - prev);
        }
        prev = i;
    }
    if (prev == (size_t)-1) {
        for (size_t k = 0; k < n; k++)
            out[k] = 0;
    } else {
        for (size_t k = prev + 1; k < n; k++)
            out[k] = y[prev];
    }
    return finite;
}

/* In-place iterative radix-2 FFT; n a power of two. */
static void fft(double complex *a, size_t n)
{
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double complex t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
    for (size_t len = 2; len <= n; len <<= 1) {
        double complex w = cexp(-2.0 * M_PI * I / (double)len);
        for (size_t i = 0; i < n; i += len) {
            double complex wk = 1;
            for (size_t k = 0; k < len / 2; k++) {
                double complex u = a[i + k], v = a[i + k + len / 2] * wk;
                a[i + k] = u + v;
                a[i + k + len / 2] = u - v;
                wk *= w;
            }
        }
    }
}

double season_strength(const double *y, size_t n, int m)
{
    if (m < 2 || n < (size_t)(2 * m))
        return 0;
    double *trend = malloc(sizeof(double) * n), *fig = calloc((size_t)m, sizeof(double));
    int *cnt = calloc((size_t)m, sizeof(int));
    double res = 0;
    if (!trend || !fig || !cnt)
        goto out;
    int half = m / 2, even = m % 2 == 0;
    for (size_t t = 0; t < n; t++) {
        trend[t] = NAN;
        if (t < (size_t)half || t + (size_t)half >= n)
            continue;
        double s = 0;
        for (int k = -half; k <= half; k++)
            s += (even && (k == -half || k == half) ? 0.5 : 1.0) * y[t + (size_t)k];
        trend[t] = s / m;
    }
    for (size_t t = 0; t < n; t++)
        if (!isnan(trend[t])) {
            fig[t % (size_t)m] += y[t] - trend[t];
            cnt[t % (size_t)m]++;
        }
    double mu = 0;
    for (int i = 0; i < m; i++) {
        fig[i] = cnt[i] ? fig[i] / cnt[i] : 0;
        mu += fig[i] / m;
    }
    double sr = 0, srr = 0, sd = 0, sdd = 0;
    size_t k = 0;
    for (size_t t = 0; t < n; t++) {
        if (isnan(trend[t]))
            continue;
        double s = fig[t % (size_t)m] - mu;
        double detr = y[t] - trend[t];
        double rem = detr - s;
        sr += rem;
        srr += rem * rem;
        sd += detr;
        sdd += detr * detr;
        k++;
    }
    if (k > 1) {
        double vr = srr / k - (sr / k) * (sr / k), vd = sdd / k - (sd / k) * (sd / k);
        res = vd > 0 ? fmax(0, fmin(1, 1 - vr / vd)) : 0;
    }
out:
    free(trend);
    free(fig);
    free(cnt);
    return res;
}

enum fs_err season_detect(const double *y, size_t n, int max_period, double min_acf, struct season_result *out)
{
    enum fs_err rc = FS_ENOMEM;
    memset(out, 0, sizeof(*out));
    double *x = NULL, *acf = NULL;
    double complex *a = NULL;
    if (min_acf <= 0)
        min_acf = 0.3;
    if (n < 8)
        return FS_EDATA;
    x = malloc(sizeof(double) * n);
    if (!x)
        goto out;
    if (fc_interpolate(y, n, x) < 8) {
        rc = FS_EDATA;
        goto out;
    }
    if (max_period <= 0 || (size_t)max_period > n / 2)
        max_period = (int)(n / 2);
    /* remove a straight line so a trend does not pose as a long period */
    double la, lb;
    fc_linfit(x, n, &la, &lb);
    double var = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] -= la + lb * (double)(i + 1);
        var += x[i] * x[i];
    }
    if (!(var > 1e-300 * (double)n) || !isfinite(var)) {
        rc = FS_OK; /* constant (or linear): no season */
        goto out;
    }
    size_t nfft = 1;
    while (nfft < 2 * n)
        nfft <<= 1;
    a = calloc(nfft, sizeof(*a));
    acf = malloc(sizeof(double) * ((size_t)max_period + 2));
    if (!a || !acf)
        goto out;
    for (size_t i = 0; i < n; i++)
        a[i] = x[i];
    fft(a, nfft);
    /* |X|^2 is the periodogram; its inverse transform is the (zero-padded) ACF */
    double complex *pg = malloc(sizeof(*pg) * nfft);
    if (!pg)
        goto out;
    for (size_t i = 0; i < nfft; i++)
        pg[i] = creal(a[i]) * creal(a[i]) + cimag(a[i]) * cimag(a[i]);
    memcpy(a, pg, sizeof(*a) * nfft);
    /* inverse via conj(FFT(conj)) */
    for (size_t i = 0; i < nfft; i++)
        a[i] = conj(a[i]);
    fft(a, nfft);
    double c0 = creal(a[0]);
    for (int k = 0; k <= max_period + 1 && (size_t)k < n; k++)
        acf[k] = creal(a[k]) / c0;
    /* candidate periods: the strongest periodogram frequencies (the spectrum of the
     * zero-padded series, frequency index f <-> period nfft / f) */
    struct cand {
        double power;
        int period;
    } best[16];
    int nb = 0;
    for (size_t f = 2; f < nfft / 2; f++) {
        double pw = creal(pg[f]);
        if (!(pw > creal(pg[f - 1]) && pw >= creal(pg[f + 1])))
            continue;
        double per = (double)nfft / (double)f;
        if (per < 2 || per > max_period)
            continue;
        int slot = nb < 16 ? nb++ : 15;
        if (slot == 15 && nb == 16 && best[15].power >= pw)
            continue;
        best[slot].power = pw;
        best[slot].period = (int)lround(per);
        for (int i = slot; i > 0 && best[i].power > best[i - 1].power; i--) {
            struct cand t = best[i];
            best[i] = best[i - 1];
            best[i - 1] = t;
        }
    }
    free(pg);
    for (int c = 0; c < nb && out->count < SEASON_MAX_FOUND; c++) {
        /* the exact lag is the ACF's local maximum near the periodogram's guess */
        int guess = best[c].period, lo = (int)floor(guess * 0.9), hi = (int)ceil(guess * 1.1);
        if (lo < 2)
            lo = 2;
        if (hi > max_period)
            hi = max_period;
        int lag = -1;
        for (int k = lo; k <= hi; k++)
            if (acf[k] > acf[k - 1] && acf[k] >= acf[k + 1] && (lag < 0 || acf[k] > acf[lag]))
                lag = k;
        if (lag < 0 || acf[lag] < min_acf)
            continue;
        int dup = 0;
        for (int i = 0; i < out->count; i++)
            if (abs(out->p[i].period - lag) <= lag / 20 + 1)
                dup = 1;
        if (dup)
            continue;
        out->p[out->count].period = lag;
        out->p[out->count].acf = acf[lag];
        out->p[out->count].strength = season_strength(x, n, lag);
        out->count++;
    }
    /* strongest first; a multiple of a found period that adds nothing is a harmonic */
    for (int i = 1; i < out->count; i++)
        for (int j = i; j > 0 && out->p[j].acf > out->p[j - 1].acf; j--) {
            struct season_period t = out->p[j];
            out->p[j] = out->p[j - 1];
            out->p[j - 1] = t;
        }
    rc = FS_OK;
out:
    free(x);
    free(acf);
    free(a);
    return rc;
}
