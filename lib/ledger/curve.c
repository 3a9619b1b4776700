/* Predicted demand curves: parsing and writing MicroTask status.prediction (shape in curve.h).
 * Invariant: a non-flat curve has n_steps >= 1 and all six arrays allocated. */
#include "ledger/curve.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const res_names[CURVE_NRES] = {"cpu", "memory", "network"};
/* JSON unit -> in-memory unit: cores -> milli-cores, bytes, bytes/s */
static const double res_scale[CURVE_NRES] = {1000.0, 1.0, 1.0};
/* The largest in-memory value accepted: 1e9 milli-cores (1e6 cores), 2^60 bytes, 2^60 B/s. */
static const double res_max[CURVE_NRES] = {1e9, 1152921504606846976.0, 1152921504606846976.0};

const char *curve_res_name(enum curve_res r)
{
    return (unsigned)r < CURVE_NRES ? res_names[r] : "unknown";
}

void curve_init(struct curve *c)
{
    memset(c, 0, sizeof(*c));
}

void curve_release(struct curve *c)
{
    for (int b = 0; b < 2; b++)
        for (int r = 0; r < CURVE_NRES; r++)
            free(c->v[b][r]);
    curve_init(c);
}

enum fs_err curve_copy(struct curve *dst, const struct curve *src)
{
    *dst = *src;
    for (int b = 0; b < 2; b++)
        for (int r = 0; r < CURVE_NRES; r++)
            dst->v[b][r] = NULL;
    if (src->flat || src->n_steps == 0)
        return FS_OK;
    for (int b = 0; b < 2; b++)
        for (int r = 0; r < CURVE_NRES; r++) {
            dst->v[b][r] = malloc(sizeof(int64_t) * src->n_steps);
            if (!dst->v[b][r]) {
                curve_release(dst);
                return FS_ENOMEM;
            }
            memcpy(dst->v[b][r], src->v[b][r], sizeof(int64_t) * src->n_steps);
        }
    return FS_OK;
}

enum fs_err curve_alloc(struct curve *c, const char *model, int64_t start_s, uint32_t step_s, uint32_t n,
                        int64_t duration_s)
{
    curve_release(c);
    snprintf(c->model, sizeof(c->model), "%s", model ? model : "");
    c->start_s = start_s;
    c->step_s = step_s;
    c->n_steps = n;
    c->duration_s = duration_s;
    for (int b = 0; b < 2; b++)
        for (int r = 0; r < CURVE_NRES; r++)
            if (!(c->v[b][r] = calloc(n ? n : 1, sizeof(int64_t)))) {
                curve_release(c);
                return FS_ENOMEM;
            }
    return FS_OK;
}

void curve_init_flat(struct curve *c, int64_t start_s, const int64_t value[CURVE_NRES])
{
    curve_init(c);
    c->flat = 1;
    c->start_s = start_s;
    c->step_s = 1;
    snprintf(c->model, sizeof(c->model), "requests");
    for (int r = 0; r < CURVE_NRES; r++)
        c->flat_value[r] = value[r] > 0 ? value[r] : 0;
}

int64_t curve_end(const struct curve *c)
{
    if (c->flat)
        return INT64_MAX;
    return c->start_s + c->duration_s;
}

int64_t curve_at(const struct curve *c, enum curve_band b, enum curve_res r, int64_t t)
{
    if ((unsigned)r >= CURVE_NRES || t < c->start_s)
        return 0;
    if (c->flat)
        return c->flat_value[r];
    if (t >= curve_end(c) || c->step_s == 0)
        return 0;
    int64_t i = (t - c->start_s) / c->step_s;
    return i < c->n_steps ? c->v[b][r][i] : 0;
}

int64_t curve_peak(const struct curve *c, enum curve_band b, enum curve_res r, int64_t *at_s)
{
    if (at_s)
        *at_s = c->start_s;
    if ((unsigned)r >= CURVE_NRES)
        return 0;
    if (c->flat)
        return c->flat_value[r];
    int64_t best = 0;
    for (uint32_t i = 0; i < c->n_steps; i++)
        if (c->v[b][r][i] > best) {
            best = c->v[b][r][i];
            if (at_s)
                *at_s = c->start_s + (int64_t)i * c->step_s;
        }
    return best;
}

/* ---- RFC 3339 ---- */

static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

enum fs_err rfc3339_parse(const char *s, int64_t *out)
{
    int Y, M, D, h, m, sec;
    const char *p = s;
    if (!s)
        return FS_EPARSE;
    if (take_digits(&p, 4, &Y) || *p++ != '-' || take_digits(&p, 2, &M) || *p++ != '-' ||
        take_digits(&p, 2, &D))
        return FS_EPARSE;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return FS_EPARSE;
    p++;
    if (take_digits(&p, 2, &h) || *p++ != ':' || take_digits(&p, 2, &m) || *p++ != ':' ||
        take_digits(&p, 2, &sec))
        return FS_EPARSE;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return FS_EPARSE;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (take_digits(&p, 2, &oh) || *p++ != ':' || take_digits(&p, 2, &om) || oh > 23 || om > 59)
            return FS_EPARSE;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return FS_EPARSE;
    }
    if (*p != '\0')
        return FS_EPARSE;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return FS_EPARSE;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March: refuse what it had to move */
    if (tm.tm_mday != D || tm.tm_mon != M - 1)
        return FS_EPARSE;
    *out = (int64_t)t - offset_s;
    return FS_OK;
}

enum fs_err rfc3339_format(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return FS_ERANGE;
    if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return FS_ERANGE;
    return FS_OK;
}

/* ---- JSON ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads one band array into a new buffer of *n values (sets *n on the first array seen). */
static enum fs_err read_band(const json_t *arr, enum curve_res r, const char *band, uint32_t *n,
                             int64_t **out, char *err, size_t errlen)
{
    const char *rn = res_names[r];
    if (!json_is_array(arr)) {
        set_err(err, errlen, "curves.%s.%s is not an array", rn, band);
        return FS_EPARSE;
    }
    size_t len = json_array_size(arr);
    if (len == 0 || len > CURVE_MAX_STEPS) {
        set_err(err, errlen, "curves.%s.%s must hold 1 to %d values", rn, band, CURVE_MAX_STEPS);
        return FS_EPARSE;
    }
    if (*n && len != *n) {
        set_err(err, errlen, "curves.%s.%s has %ld values, other arrays differ", rn, band, (long)len);
        return FS_EPARSE;
    }
    int64_t *v = malloc(sizeof(int64_t) * len);
    if (!v)
        return FS_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        const json_t *x = json_array_get(arr, i);
        double d = json_is_number(x) ? json_number_value(x) : NAN;
        if (!isfinite(d) || d < 0 || d * res_scale[r] > res_max[r]) {
            free(v);
            set_err(err, errlen, "curves.%s.%s[%ld] is not a finite number in range", rn, band, (long)i);
            return FS_EPARSE;
        }
        /* round up: a reservation must not be smaller than the prediction */
        v[i] = (int64_t)ceil(d * res_scale[r] - 1e-6);
        if (v[i] < 0)
            v[i] = 0;
    }
    *n = (uint32_t)len;
    *out = v;
    return FS_OK;
}

enum fs_err curve_from_json(struct curve *c, const json_t *pred, char *err, size_t errlen)
{
    enum fs_err rc = FS_EPARSE;
    curve_release(c);
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(pred)) {
        set_err(err, errlen, "prediction is not an object");
        goto out;
    }
    const json_t *step = json_object_get(pred, "stepSeconds");
    if (!json_is_integer(step) || json_integer_value(step) < 1 || json_integer_value(step) > CURVE_MAX_STEP_S) {
        set_err(err, errlen, "stepSeconds must be an integer from 1 to %d", CURVE_MAX_STEP_S);
        goto out;
    }
    c->step_s = (uint32_t)json_integer_value(step);
    const json_t *start = json_object_get(pred, "start");
    if (!json_is_string(start) || rfc3339_parse(json_string_value(start), &c->start_s) != FS_OK) {
        set_err(err, errlen, "start is not an RFC 3339 time");
        goto out;
    }
    const json_t *model = json_object_get(pred, "model");
    if (json_is_string(model))
        snprintf(c->model, sizeof(c->model), "%s", json_string_value(model));
    const json_t *curves = json_object_get(pred, "curves");
    if (!json_is_object(curves)) {
        set_err(err, errlen, "curves is missing or not an object");
        goto out;
    }
    uint32_t n = 0;
    int seen = 0;
    for (int r = 0; r < CURVE_NRES; r++) {
        const json_t *rc_obj = json_object_get(curves, res_names[r]);
        if (!rc_obj)
            continue;
        if (!json_is_object(rc_obj)) {
            set_err(err, errlen, "curves.%s is not an object", res_names[r]);
            goto out;
        }
        const json_t *p50 = json_object_get(rc_obj, "p50"), *p90 = json_object_get(rc_obj, "p90");
        if (!p50 && !p90) {
            set_err(err, errlen, "curves.%s has neither p50 nor p90", res_names[r]);
            goto out;
        }
        if (p50 && (rc = read_band(p50, r, "p50", &n, &c->v[CURVE_P50][r], err, errlen)) != FS_OK)
            goto out;
        if (p90 && (rc = read_band(p90, r, "p90", &n, &c->v[CURVE_P90][r], err, errlen)) != FS_OK)
            goto out;
        rc = FS_EPARSE;
        seen++;
    }
    if (!seen) {
        set_err(err, errlen, "curves holds none of cpu, memory, network");
        goto out;
    }
    c->n_steps = n;
    rc = FS_ENOMEM;
    for (int r = 0; r < CURVE_NRES; r++) {
        for (int b = 0; b < 2; b++) {
            if (c->v[b][r])
                continue;
            const int64_t *other = c->v[1 - b][r];
            c->v[b][r] = other ? malloc(sizeof(int64_t) * n) : calloc(n, sizeof(int64_t));
            if (!c->v[b][r])
                goto out;
            if (other)
                memcpy(c->v[b][r], other, sizeof(int64_t) * n);
        }
        for (uint32_t i = 0; i < n; i++)
            if (c->v[CURVE_P90][r][i] < c->v[CURVE_P50][r][i]) {
                rc = FS_EPARSE;
                set_err(err, errlen, "curves.%s.p90[%ld] is below p50", res_names[r], (long)i);
                goto out;
            }
    }
    rc = FS_EPARSE;
    c->duration_s = (int64_t)n * c->step_s;
    const json_t *dur = json_object_get(pred, "durationSeconds");
    if (dur) {
        json_int_t d = json_is_integer(dur) ? json_integer_value(dur) : -1;
        /* the arrays must hold exactly ceil(d / step) entries */
        if (d < 0 || d > (json_int_t)n * c->step_s || (d + c->step_s - 1) / c->step_s != (json_int_t)n) {
            set_err(err, errlen, "durationSeconds does not match the %ld steps of the curves", (long)n);
            goto out;
        }
        c->duration_s = d;
    }
    rc = FS_OK;
out:
    if (rc != FS_OK) {
        curve_release(c);
        if (rc == FS_ENOMEM && err && errlen)
            snprintf(err, errlen, "out of memory");
    }
    return rc;
}

enum fs_err curve_parse(struct curve *c, const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        curve_release(c);
        if (err && errlen)
            snprintf(err, errlen, "invalid json at %d: %s", jerr.position, jerr.text);
        return FS_EPARSE;
    }
    enum fs_err rc = curve_from_json(c, j, err, errlen);
    json_decref(j);
    return rc;
}

static json_t *band_array(const struct curve *c, int b, int r)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (uint32_t i = 0; i < c->n_steps; i++) {
        double v = (double)c->v[b][r][i] / res_scale[r];
        json_t *x = r == CURVE_CPU ? json_real(v) : json_integer(c->v[b][r][i]);
        if (json_array_append_new(a, x) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

enum fs_err curve_to_json(const struct curve *c, json_t **out)
{
    char ts[40];
    enum fs_err rc = FS_EINVAL;
    json_t *o = NULL;
    *out = NULL;
    if (c->flat || c->n_steps == 0)
        goto out;
    rc = FS_ENOMEM;
    o = json_object();
    json_t *curves = json_object(), *peak = json_object();
    /* set_new steals the reference even when it fails, so nothing leaks past this point */
    if (!o || json_object_set_new(o, "curves", curves) || json_object_set_new(o, "peak", peak)) {
        if (!o) {
            json_decref(curves);
            json_decref(peak);
        }
        goto out;
    }
    if (rfc3339_format(c->start_s, ts, sizeof(ts)) != FS_OK)
        goto out;
    if (json_object_set_new(o, "model", json_string(c->model[0] ? c->model : "unknown")) ||
        json_object_set_new(o, "stepSeconds", json_integer(c->step_s)) ||
        json_object_set_new(o, "start", json_string(ts)) ||
        json_object_set_new(o, "durationSeconds", json_integer(c->duration_s)))
        goto out;
    int64_t peak_at = c->start_s;
    for (int r = 0; r < CURVE_NRES; r++) {
        json_t *rc_obj = json_object();
        if (json_object_set_new(curves, res_names[r], rc_obj) ||
            json_object_set_new(rc_obj, "p50", band_array(c, CURVE_P50, r)) ||
            json_object_set_new(rc_obj, "p90", band_array(c, CURVE_P90, r)))
            goto out;
        int64_t at;
        int64_t pk = curve_peak(c, CURVE_P90, r, &at);
        json_t *x = r == CURVE_CPU ? json_real((double)pk / 1000.0) : json_integer(pk);
        if (json_object_set_new(peak, res_names[r], x))
            goto out;
        if (r == CURVE_CPU)
            peak_at = at;
    }
    if (rfc3339_format(peak_at, ts, sizeof(ts)) != FS_OK || json_object_set_new(peak, "at", json_string(ts)))
        goto out;
    *out = o;
    o = NULL;
    rc = FS_OK;
out:
    json_decref(o);
    return rc;
}

int64_t curve_value(double v)
{
    if (!isfinite(v) || v <= 0)
        return 0;
    if (v >= 9.2e18)
        return INT64_MAX;
    return (int64_t)llround(v);
}
