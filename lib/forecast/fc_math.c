/* Numerical helpers for lib/forecast: see fc_math.h. The normal quantile is Acklam's
 * rational approximation polished by one Halley step against erfc, which brings it to
 * full double precision. */
#include "forecast/fc_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double fc_pnorm(double x)
{
    return 0.5 * erfc(-x / M_SQRT2);
}

double fc_qnorm(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double plow = 0.02425;
    double x;

    if (!(p > 0.0))
        return p == 0.0 ? -INFINITY : NAN;
    if (!(p < 1.0))
        return p == 1.0 ? INFINITY : NAN;
    if (p > 0.5)
        return -fc_qnorm(1.0 - p); /* exact subtraction; the lower tail is the precise one */
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - plow) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    /* One Halley step on Phi(x) - p. */
    double e = fc_pnorm(x) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    x = x - u / (1 + x * u / 2);
    return x;
}

double fc_mean(const double *x, size_t n, size_t *count)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(x[i])) {
            s += x[i];
            k++;
        }
    }
    if (count)
        *count = k;
    return k ? s / (double)k : 0.0;
}

double fc_var(const double *x, size_t n)
{
    size_t k;
    double mu = fc_mean(x, n, &k);
    if (k < 2)
        return 0.0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            s += (x[i] - mu) * (x[i] - mu);
    return s / (double)(k - 1);
}

void fc_linfit(const double *y, size_t n, double *a, double *b)
{
    double st = 0, sy = 0, stt = 0, sty = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)(i + 1);
        st += t;
        sy += y[i];
        stt += t * t;
        sty += t * y[i];
    }
    double dn = (double)n;
    double den = dn * stt - st * st;
    *b = den != 0 ? (dn * sty - st * sy) / den : 0.0;
    *a = n ? (sy - *b * st) / dn : 0.0;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void fc_sort(double *x, size_t n)
{
    qsort(x, n, sizeof(*x), cmp_double);
}

double fc_quantile_sorted(const double *s, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    if (p <= 0)
        return s[0];
    if (p >= 1)
        return s[n - 1];
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return s[n - 1];
    return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

void fc_rng_init(struct fc_rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9E3779B97F4A7C15ull;
    r->have_spare = 0;
    r->spare = 0;
}

double fc_rng_uniform(struct fc_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t v = r->s * 0x2545F4914F6CDD1Dull;
    return ((double)(v >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double fc_rng_normal(struct fc_rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = fc_rng_uniform(r), u2 = fc_rng_uniform(r);
    double rad = sqrt(-2 * log(u1));
    r->spare = rad * sin(2 * M_PI * u2);
    r->have_spare = 1;
    return rad * cos(2 * M_PI * u2);
}

int fc_roots_within(const double *c, int deg, double radius, double *work)
{
    /* Scale z -> radius*z so the question becomes "inside the unit disc", then run the
     * Schur-Cohn step-down recursion: every reflection coefficient must be below 1. */
    double *a = work, *t = work + deg + 1;
    double sc = 1;
    while (deg > 0 && c[deg] == 0)
        deg--;
    if (deg <= 0)
        return 1;
    for (int i = 0; i <= deg; i++) {
        a[i] = c[i] * sc;
        sc *= radius;
    }
    for (int k = deg; k >= 1; k--) {
        double lead = a[k];
        if (lead == 0 || !isfinite(lead))
            return 0;
        double refl = a[0] / lead;
        if (!(fabs(refl) < 1))
            return 0;
        /* a'(z) = (lead*a(z) - a0*reverse(a)(z)) / z, degree k-1 */
        for (int i = 0; i < k; i++)
            t[i] = lead * a[i + 1] - a[0] * a[k - 1 - i];
        double norm = fabs(t[k - 1]);
        if (norm == 0)
            return 0;
        for (int i = 0; i < k; i++)
            a[i] = t[i] / norm;
    }
    return 1;
}
