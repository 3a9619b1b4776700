/* Small numerical helpers shared by the forecasting models: the normal quantile,
 * NaN-aware moments, least squares on a line, quantiles and a seeded PRNG.
 * Pure functions over caller-owned arrays; nothing here allocates or logs. */
#ifndef FC_MATH_H
#define FC_MATH_H

#include <stddef.h>
#include <stdint.h>

/* Standard normal quantile, full double precision for 0 < p < 1 (inf at 0 and 1). */
double fc_qnorm(double p);
/* Standard normal CDF. */
double fc_pnorm(double x);

/* Mean and sample variance of the finite values; *count gets how many there were.
 * Return 0 when there is none. */
double fc_mean(const double *x, size_t n, size_t *count);
double fc_var(const double *x, size_t n);

/* Ordinary least squares y = a + b*t with t = 1..n (R's lsfit(1:n, y)). */
void fc_linfit(const double *y, size_t n, double *a, double *b);

/* Quantile of sorted values, R type 7 (linear interpolation). */
double fc_quantile_sorted(const double *sorted, size_t n, double p);
/* Sorts doubles ascending in place (NaN must not be present). */
void fc_sort(double *x, size_t n);

/* xorshift64* generator: deterministic streams for simulated intervals and tests. */
struct fc_rng {
    uint64_t s;
    int have_spare;
    double spare;
};
void fc_rng_init(struct fc_rng *r, uint64_t seed);
double fc_rng_uniform(struct fc_rng *r);  /* in (0, 1) */
double fc_rng_normal(struct fc_rng *r);   /* standard normal */

/* 1 when every root of the monic-by-leading polynomial
 * c[0] + c[1] z + ... + c[deg] z^deg lies in |z| <= radius (Schur-Cohn test);
 * work needs 2*(deg+1) doubles. */
int fc_roots_within(const double *c, int deg, double radius, double *work);

#endif
