/* Online anomaly detectors: see anomaly.h. */
#include "forecast/anomaly.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/fc_math.h"

enum fs_err kofn_init(struct kofn *d, int k, int n)
{
    memset(d, 0, sizeof(*d));
    if (n < 1 || n > 64 || k < 1 || k > n)
        return FS_EINVAL;
    d->k = k;
    d->n = n;
    return FS_OK;
}

int kofn_push(struct kofn *d, int violation)
{
    uint64_t mask = d->n == 64 ? ~0ull : ((1ull << d->n) - 1);
    d->bits = ((d->bits << 1) | (violation ? 1u : 0u)) & mask;
    return __builtin_popcountll(d->bits) >= d->k;
}

enum fs_err hw_aberrant_init(struct hw_aberrant *h, int m, double alpha, double beta, double gamma, double delta,
                             int threshold, int window)
{
    memset(h, 0, sizeof(*h));
    if (m < 1 || m > 100000 || !(alpha > 0 && alpha < 1) || !(beta >= 0 && beta < 1) || !(gamma > 0 && gamma < 1) ||
        !(delta > 0) || window < 1 || window > 64 || threshold < 1 || threshold > window)
        return FS_EINVAL;
    h->m = m;
    h->alpha = alpha;
    h->beta = beta;
    h->gamma = gamma;
    h->delta_pos = h->delta_neg = delta;
    h->threshold = threshold;
    h->window = window;
    h->s = calloc((size_t)m, sizeof(double));
    h->d = calloc((size_t)m, sizeof(double));
    h->boot = calloc((size_t)m, sizeof(double));
    if (!h->s || !h->d || !h->boot) {
        hw_aberrant_release(h);
        return FS_ENOMEM;
    }
    return FS_OK;
}

void hw_aberrant_release(struct hw_aberrant *h)
{
    free(h->s);
    free(h->d);
    free(h->boot);
    memset(h, 0, sizeof(*h));
}

/* First season: intercept = its mean, slope 0, seasonal = offsets from the mean,
 * deviation = the mean absolute offset (a non-zero start so the second season is not
 * all violations). Gaps in it take the mean. */
static void bootstrap(struct hw_aberrant *h)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < h->m; i++)
        if (!isnan(h->boot[i])) {
            sum += h->boot[i];
            k++;
        }
    double mean = k ? sum / k : 0;
    double mad = 0;
    for (int i = 0; i < h->m; i++) {
        double v = isnan(h->boot[i]) ? mean : h->boot[i];
        h->s[i] = v - mean;
        mad += fabs(v - mean);
    }
    mad /= h->m;
    if (!(mad > 0))
        mad = fabs(mean) * 0.01 + 1e-9;
    for (int i = 0; i < h->m; i++)
        h->d[i] = mad;
    h->a = mean;
    h->b = 0;
}

int hw_aberrant_push(struct hw_aberrant *h, double y, double *pred, double *lo, double *hi)
{
    if (pred)
        *pred = NAN;
    if (lo)
        *lo = NAN;
    if (hi)
        *hi = NAN;
    if (h->seen < h->m) {
        h->boot[h->seen] = isfinite(y) ? y : NAN;
        h->seen++;
        h->pos = (int)(h->seen % h->m);
        if (h->seen == h->m)
            bootstrap(h);
        return 0;
    }
    h->seen++;
    int i = h->pos;
    double yhat = h->a + h->b + h->s[i];
    double dev = h->d[i];
    double l = yhat - h->delta_neg * dev, u = yhat + h->delta_pos * dev;
    if (pred)
        *pred = yhat;
    if (lo)
        *lo = l;
    if (hi)
        *hi = u;
    int violation;
    if (!isfinite(y)) {
        violation = 1;
        h->a += h->b; /* coast */
    } else {
        violation = y < l || y > u;
        double a_prev = h->a;
        h->a = h->alpha * (y - h->s[i]) + (1 - h->alpha) * (h->a + h->b);
        h->b = h->beta * (h->a - a_prev) + (1 - h->beta) * h->b;
        h->s[i] = h->gamma * (y - h->a) + (1 - h->gamma) * h->s[i];
        h->d[i] = h->gamma * fabs(y - yhat) + (1 - h->gamma) * h->d[i];
    }
    h->pos = (i + 1) % h->m;
    uint64_t mask = h->window == 64 ? ~0ull : ((1ull << h->window) - 1);
    h->hist = ((h->hist << 1) | (uint64_t)violation) & mask;
    return __builtin_popcountll(h->hist) >= h->threshold;
}

enum fs_err anom_lik_init(struct anom_lik *a, int short_w, int long_w)
{
    memset(a, 0, sizeof(*a));
    if (short_w < 1 || long_w < short_w)
        return FS_EINVAL;
    a->short_w = short_w;
    a->long_w = long_w;
    a->sring = calloc((size_t)short_w, sizeof(double));
    a->lring = calloc((size_t)long_w, sizeof(double));
    if (!a->sring || !a->lring) {
        anom_lik_release(a);
        return FS_ENOMEM;
    }
    return FS_OK;
}

void anom_lik_release(struct anom_lik *a)
{
    free(a->sring);
    free(a->lring);
    memset(a, 0, sizeof(*a));
}

double anom_lik_push(struct anom_lik *a, double raw)
{
    if (!isfinite(raw))
        return 1;
    if (a->scount == a->short_w)
        a->ssum -= a->sring[a->spos];
    else
        a->scount++;
    a->sring[a->spos] = raw;
    a->ssum += raw;
    a->spos = (a->spos + 1) % a->short_w;
    double avg = a->ssum / a->scount;
    /* the tail probability against the history before this sample */
    double p = 1;
    if (a->lcount >= a->short_w + 30) {
        double mu = a->lsum / a->lcount;
        double var = a->lsq / a->lcount - mu * mu;
        /* a floor on the spread: a perfectly quiet history must not make every
         * wobble infinitely unlikely */
        double sd = sqrt(var > 0 ? var : 0);
        sd = fmax(sd, 0.05 * fabs(mu) + 1e-12);
        p = fc_pnorm(-(avg - mu) / sd);
    }
    if (a->lcount == a->long_w) {
        double old = a->lring[a->lpos];
        a->lsum -= old;
        a->lsq -= old * old;
    } else {
        a->lcount++;
    }
    a->lring[a->lpos] = avg;
    a->lsum += avg;
    a->lsq += avg * avg;
    a->lpos = (a->lpos + 1) % a->long_w;
    /* running sums drift with the subtractions: resum exactly now and then */
    if (++a->pushed >= 4L * a->long_w) {
        a->pushed = 0;
        a->lsum = a->lsq = 0;
        for (int i = 0; i < a->lcount; i++) {
            a->lsum += a->lring[i];
            a->lsq += a->lring[i] * a->lring[i];
        }
    }
    return p;
}

enum fs_err anom_score_init(struct anom_score *s, int short_w, int long_w, int level_w, double spatial_tol,
                            double alarm, int hold)
{
    memset(s, 0, sizeof(*s));
    if (level_w < 0 || !(spatial_tol >= 0) || !(alarm > 0 && alarm <= 1) || hold < 0)
        return FS_EINVAL;
    enum fs_err rc = anom_lik_init(&s->lik, short_w, long_w);
    if (rc == FS_OK && level_w > 0)
        rc = anom_lik_init(&s->lev, short_w, long_w);
    if (rc != FS_OK) {
        anom_score_release(s);
        return rc;
    }
    s->level_w = level_w;
    s->spatial_tol = spatial_tol;
    s->alarm = alarm;
    s->hold = hold;
    return FS_OK;
}

void anom_score_release(struct anom_score *s)
{
    anom_lik_release(&s->lik);
    anom_lik_release(&s->lev);
    anom_lik_release(&s->blk);
    if (s->cad)
        cad_release(s->cad);
    free(s->cad);
    memset(s, 0, sizeof(*s));
}

/* CAD OSE's defaults: 8 bins, threshold 0.75, left sides of at most 7 facts, 15 neurons */
#define CAD_BITS 3
#define CAD_BASE 0.75
#define CAD_MAX_LEFT 7
#define CAD_NEURONS 15

enum fs_err anom_score_use_cad(struct anom_score *s, double lo, double hi, int rest)
{
    if (s->cad || s->seen > 0)
        return FS_EINVAL;
    struct cad *c = calloc(1, sizeof(*c));
    if (!c)
        return FS_ENOMEM;
    enum fs_err rc = cad_init(c, lo, hi, CAD_BITS, rest, CAD_BASE, CAD_MAX_LEFT, CAD_NEURONS);
    if (rc != FS_OK) {
        free(c);
        return rc;
    }
    s->cad = c;
    return FS_OK;
}

/* tail probability -> score in [0, 1]: 1e-10 and below score 1 */
static double log_score(double tail)
{
    return fmin(fmax(log(tail + 1e-10) / log(1e-10), 0), 1);
}

enum fs_err anom_score_use_blocks(struct anom_score *s, int block)
{
    if (s->block > 0 || s->seen > 0 || s->level_w <= 0 || block < 2 || block > s->level_w)
        return FS_EINVAL;
    /* the likelihood needs 31 blocks of history: a long window at least that long */
    int long_w = s->lik.long_w / block;
    enum fs_err rc = anom_lik_init(&s->blk, 1, long_w > 64 ? long_w : 64);
    if (rc != FS_OK)
        return rc;
    s->block = block;
    return FS_OK;
}

/* at a block's end, the log score of its spread's distance from the usual; else 0 */
static double block_score(struct anom_score *s, double y)
{
    s->bsum += y;
    s->bsq += y * y;
    if (++s->bn < s->block)
        return 0;
    double mu = s->bsum / s->bn, var = s->bsq / s->bn - mu * mu;
    /* a floor relative to the level: a flat block must not be infinitely far */
    double ls = log(sqrt(var > 0 ? var : 0) + 1e-9 + 1e-3 * fabs(mu));
    if (s->blocks++ == 0)
        s->bmean = ls;
    double tail = anom_lik_push(&s->blk, fabs(ls - s->bmean));
    s->bmean += (ls - s->bmean) * s->block / s->level_w;
    s->bsum = s->bsq = 0;
    s->bn = 0;
    return log_score(tail);
}

/* the range bookkeeping of learn and push */
static void learn_range(struct anom_score *s, double y)
{
    if (s->seen == 0) {
        s->lo = s->hi = y;
    } else {
        s->lo = fmin(s->lo, y);
        s->hi = fmax(s->hi, y);
    }
    s->seen++;
}

enum fs_err anom_score_learn(struct anom_score *s, double y)
{
    if (!isfinite(y))
        return FS_OK;
    learn_range(s, y);
    double ignored;
    return s->cad ? cad_push(s->cad, y, &ignored) : FS_OK;
}

double anom_score_push(struct anom_score *s, double y, double resid)
{
    if (!isfinite(y) || !isfinite(resid))
        return 0;
    double score = log_score(anom_lik_push(&s->lik, fabs(resid)));
    if (s->level_w > 0) {
        /* the slow mean starts with the scored part: during the probationary part the
         * model may still be settling (measured on NAB: starting earlier scored lower) */
        if (s->scored == 0)
            s->ymean = y;
        score = fmax(score, log_score(anom_lik_push(&s->lev, fabs(y - s->ymean))));
        s->ymean += (y - s->ymean) / s->level_w;
    }
    s->scored++;
    int beyond = 0;
    if (s->spatial_tol > 0 && s->seen > 0) {
        double tol = s->spatial_tol * (s->hi - s->lo);
        beyond = y > s->hi + tol || y < s->lo - tol;
        if (beyond)
            score = 1;
    }
    learn_range(s, y);
    /* the hold silences the likelihoods while their windows catch up with one
     * incident; a new extreme is news whatever came before, so it is not held */
    if (s->quiet > 0) {
        s->quiet--;
        if (!beyond)
            score = 0;
    }
    if (score >= s->alarm)
        s->quiet = s->hold;
    /* CAD has its own rest after its alarms, so the hold does not apply to it (holding
     * it too scored 0.6 lower on NAB); a step it could not learn (no memory) is scored
     * without it */
    double cs;
    if (s->cad && cad_push(s->cad, y, &cs) == FS_OK) {
        /* CAD's own threshold maps onto `alarm` */
        double m = cs < CAD_BASE ? cs * s->alarm / CAD_BASE : s->alarm + (cs - CAD_BASE) * (1 - s->alarm) / (1 - CAD_BASE);
        score = fmax(score, fmin(m, 1));
    }
    /* the block signal speaks once per block and its likelihood has its own
     * history: not held either */
    if (s->block > 0)
        score = fmax(score, block_score(s, y));
    return score;
}
