/* TaskProfile status: folding completed runs in, rebuilding the lifetime profile from them,
 * and predicting a new run's curve (see learn.h). */
#include "learn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *int_array(const int64_t *v, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(v[i] > 0 ? v[i] : 0))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static double num(const json_t *o, const char *k, double dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static double decay_of(int half_life)
{
    return pow(0.5, 1.0 / (half_life > 0 ? half_life : 20));
}

static void profile_opts_for(struct profile_opts *o, uint32_t step_s, uint32_t max_steps, int half_life)
{
    o->bin_s = step_s ? step_s : 30;
    o->nbins = max_steps < 1 ? 1 : max_steps > PROFILE_MAX_BINS ? PROFILE_MAX_BINS : (int)max_steps;
    o->shape_bins = LEARN_SHAPE_BINS;
    o->decay = decay_of(half_life);
    o->keep_runs = LEARN_MAX_RUNS;
}

/* one element of profile.recent -> a profile run; t/value arrays are allocated into bufs.
 * network is optional (runs observed without Prometheus have none) */
static enum fs_err run_from_json(const json_t *j, double **t, double *v[PROFILE_NRES], struct profile_run *run)
{
    const json_t *cpu = json_object_get(j, "cpu"), *mem = json_object_get(j, "memory");
    const json_t *net = json_object_get(j, "network");
    double step = num(j, "stepSeconds", 0), dur = num(j, "durationSeconds", 0), size = num(j, "size", 1);
    size_t n = json_array_size(cpu);
    if (!json_is_array(cpu) || !json_is_array(mem) || json_array_size(mem) != n || n == 0 || n > CURVE_MAX_STEPS ||
        !(step > 0) || !(dur > 0) || !isfinite(size) || !isfinite(dur) ||
        (net && (!json_is_array(net) || json_array_size(net) != n)))
        return FS_EPARSE;
    *t = malloc(n * sizeof(double));
    for (int r = 0; r < PROFILE_NRES; r++)
        v[r] = malloc(n * sizeof(double));
    if (!*t || !v[0] || !v[1] || !v[2])
        return FS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(cpu, i), *b = json_array_get(mem, i);
        (*t)[i] = ((double)i + 0.5) * step;
        v[PROFILE_CPU][i] = json_is_number(a) ? json_number_value(a) : NAN;
        v[PROFILE_MEM][i] = json_is_number(b) ? json_number_value(b) : NAN;
        const json_t *c = json_array_get(net, i);
        v[PROFILE_NET][i] = json_is_number(c) ? json_number_value(c) : NAN;
    }
    memset(run, 0, sizeof(*run));
    run->t_s = *t;
    run->value[PROFILE_CPU] = v[PROFILE_CPU];
    run->value[PROFILE_MEM] = v[PROFILE_MEM];
    run->value[PROFILE_NET] = net ? v[PROFILE_NET] : NULL;
    run->n = n;
    run->duration_s = dur;
    run->size = size;
    return FS_OK;
}

enum fs_err learn_load(const json_t *status, int half_life, uint32_t max_steps, struct profile *p, long *runs,
                       char *err, size_t errlen)
{
    const json_t *prof = json_object_get(status, "profile");
    const json_t *recent = json_object_get(prof, "recent");
    struct profile_opts o;
    *runs = (long)num(status, "runs", 0);
    profile_opts_for(&o, (uint32_t)num(prof, "stepSeconds", 30), max_steps, half_life);
    enum fs_err rc = profile_init(p, &o);
    if (rc != FS_OK)
        return fs_say(err, errlen, rc, "cannot set up the lifetime profile");
    if (!json_is_array(recent) || json_array_size(recent) == 0)
        return fs_say(err, errlen, FS_EDATA, "no completed run learnt yet");
    size_t i;
    const json_t *j;
    json_array_foreach(recent, i, j) {
        double *t = NULL, *v[PROFILE_NRES] = {NULL, NULL, NULL};
        struct profile_run run;
        rc = run_from_json(j, &t, v, &run);
        if (rc == FS_OK)
            rc = profile_add_run(p, &run);
        free(t);
        for (int r = 0; r < PROFILE_NRES; r++)
            free(v[r]);
        if (rc != FS_OK) {
            if (err && errlen)
                snprintf(err, errlen, "status.profile.recent[%zu]: %s", i,
                         rc == FS_ENOMEM ? "out of memory" : "not a run (cpu, memory, stepSeconds, durationSeconds)");
            return rc == FS_ENOMEM ? rc : FS_EPARSE;
        }
    }
    return FS_OK;
}

static json_t *regression_json(const struct rls *r)
{
    return json_pack("{s:f, s:f}", "intercept", isfinite(r->theta[0]) ? r->theta[0] : 0.0, "perUnit",
                     isfinite(r->theta[1]) ? r->theta[1] : 0.0);
}

enum fs_err learn_fold(const json_t *old_status, const struct learn_run *run, int64_t now_s, int half_life,
                       uint32_t profile_step_s, uint32_t max_steps, json_t **out, char *err, size_t errlen)
{
    enum fs_err rc = FS_ENOMEM;
    json_t *st = NULL, *rec = NULL;
    struct profile p;
    int have_p = 0;
    *out = NULL;
    if (!run->uid || !run->n || !run->step_s || !run->v[CURVE_CPU] || !run->v[CURVE_MEM] || !(run->duration_s > 0) ||
        !isfinite(run->size))
        return fs_say(err, errlen, FS_EINVAL, "a run needs a uid, observed steps and a positive duration");
    const json_t *old_recent = json_object_get(json_object_get(old_status, "profile"), "recent");
    size_t i;
    const json_t *j;
    json_array_foreach(old_recent, i, j) {
        const char *u = json_string_value(json_object_get(j, "uid"));
        if (u && strcmp(u, run->uid) == 0)
            return FS_OK; /* folded in already */
    }
    st = json_is_object(old_status) ? json_deep_copy(old_status) : json_object();
    if (!st)
        goto out;
    json_t *prof = json_object_get(st, "profile");
    if (!json_is_object(prof)) {
        if (!(prof = json_object()) || json_object_set_new(st, "profile", prof))
            goto out;
    }
    if (!json_object_get(prof, "stepSeconds") &&
        json_object_set_new(prof, "stepSeconds", json_integer(profile_step_s ? profile_step_s : run->step_s)))
        goto out;
    json_t *recent = json_object_get(prof, "recent");
    if (!json_is_array(recent)) {
        if (!(recent = json_array()) || json_object_set_new(prof, "recent", recent))
            goto out;
    }
    rec = json_pack("{s:s, s:f, s:f, s:I}", "uid", run->uid, "size", run->size, "durationSeconds", run->duration_s,
                    "stepSeconds", (json_int_t)run->step_s);
    if (!rec || json_object_set_new(rec, "cpu", int_array(run->v[CURVE_CPU], run->n)) ||
        json_object_set_new(rec, "memory", int_array(run->v[CURVE_MEM], run->n)) ||
        (run->v[CURVE_NET] && json_object_set_new(rec, "network", int_array(run->v[CURVE_NET], run->n))))
        goto out; /* set_new steals (and frees) its value even when it fails */
    if (json_array_append_new(recent, rec)) {
        rec = NULL;
        goto out;
    }
    rec = NULL;
    while (json_array_size(recent) > LEARN_MAX_RUNS)
        json_array_remove(recent, 0);

    long runs = (long)num(old_status, "runs", 0) + 1;
    char ts[40];
    rfc3339_format(now_s, ts, sizeof(ts));
    if (json_object_set_new(st, "runs", json_integer(runs)) || json_object_set_new(st, "lastLearnt", json_string(ts)))
        goto out;
    if (run->has_error && isfinite(run->mape)) {
        /* recent-weighted mean: the old mean fades like the profile's runs do */
        double d = decay_of(half_life);
        double w = num(old_status, "errorWeight", 0);
        double mape = num(old_status, "mape", 0);
        double nw = w * d + 1;
        mape = (mape * w * d + run->mape) / nw;
        char acc[32];
        double a = 100 - mape;
        snprintf(acc, sizeof(acc), "%.1f%%", a < 0 ? 0.0 : a);
        if (json_object_set_new(st, "mape", json_real(round(mape * 100) / 100)) ||
            json_object_set_new(st, "errorWeight", json_real(nw)) ||
            json_object_set_new(st, "accuracy", json_string(acc)))
            goto out;
        if (run->mase >= 0 && isfinite(run->mase)) {
            double mase = num(old_status, "mase", run->mase);
            mase = (mase * w * d + run->mase) / nw;
            if (json_object_set_new(st, "mase", json_real(round(mase * 1000) / 1000)))
                goto out;
        }
    }
    /* the regressions, from the profile rebuilt with this run */
    long dummy;
    char e2[160];
    rc = learn_load(st, half_life, max_steps, &p, &dummy, e2, sizeof(e2));
    have_p = 1;
    if (rc != FS_OK) {
        fs_say(err, errlen, rc, "%s", e2);
        goto out;
    }
    rc = FS_ENOMEM;
    json_t *reg = json_pack("{s:o, s:o, s:o}", "duration", regression_json(&p.duration), "cpuPeak",
                            regression_json(&p.peak[PROFILE_CPU]), "memoryPeak", regression_json(&p.peak[PROFILE_MEM]));
    if (!reg || json_object_set_new(st, "regression", reg))
        goto out;
    if (p.peak[PROFILE_NET].n > 0 &&
        json_object_set_new(reg, "networkPeak", regression_json(&p.peak[PROFILE_NET])))
        goto out;
    *out = st;
    st = NULL;
    rc = FS_OK;
out:
    if (rc == FS_ENOMEM)
        fs_say(err, errlen, rc, "out of memory");
    if (have_p)
        profile_release(&p);
    json_decref(rec);
    json_decref(st);
    return rc;
}

enum fs_err learn_predict(const struct profile *p, double size, int64_t start_s, uint32_t step_s,
                          struct curve *c, char *err, size_t errlen)
{
    double t1, m1, dur = 0;
    curve_release(c);
    if (step_s == 0 || step_s > CURVE_MAX_STEP_S)
        return fs_say(err, errlen, FS_EINVAL, "curve step must be from 1 s to 1 day");
    enum fs_err rc = profile_predict(p, PROFILE_CPU, size, 0.1, 0.9, 1, &t1, &m1, NULL, NULL, &dur);
    if (rc != FS_OK)
        return fs_say(err, errlen, rc, rc == FS_EDATA ? "nothing learnt yet" : "cannot predict from the profile");
    if (!isfinite(dur) || dur <= 0)
        dur = step_s;
    double steps = ceil(dur / step_s);
    if (steps > CURVE_MAX_STEPS)
        return fs_say(err, errlen, FS_ERANGE, "predicted duration is longer than the longest curve");
    uint32_t n = steps < 1 ? 1 : (uint32_t)steps;
    double *t = malloc(n * sizeof(double)), *mean = malloc(n * sizeof(double)), *hi = malloc(n * sizeof(double));
    rc = FS_ENOMEM;
    if (!t || !mean || !hi)
        goto out;
    if (curve_alloc(c, "profile", start_s, step_s, n, (int64_t)ceil(dur)) != FS_OK)
        goto out;
    for (int r = 0; r < CURVE_NRES; r++) { /* network stays 0 when no run observed it */
        double d2;
        if (profile_predict(p, r, size, 0.1, 0.9, (int)n, t, mean, NULL, hi, &d2) != FS_OK)
            continue;
        for (uint32_t i = 0; i < n; i++) {
            int64_t m = curve_value(mean[i]), h = curve_value(hi[i]);
            c->v[CURVE_P50][r][i] = m;
            c->v[CURVE_P90][r][i] = h > m ? h : m;
        }
    }
    rc = FS_OK;
out:
    if (rc != FS_OK) {
        curve_release(c);
        fs_say(err, errlen, rc, "out of memory");
    }
    free(t);
    free(mean);
    free(hi);
    return rc;
}

/* ---- arrivals ----------------------------------------------------------------------------- */

static int cmp_arrival(const void *x, const void *y)
{
    const struct learn_arrival *a = x, *b = y;
    if (a->created_s != b->created_s)
        return a->created_s < b->created_s ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int64_t floor_div64(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

enum fs_err learn_arrivals_fold(const json_t *old_status, struct learn_arrival *a, size_t n, uint32_t bucket_s,
                                uint32_t max_buckets, json_t **out, size_t *counted, char *err, size_t errlen)
{
    enum fs_err rc = FS_ENOMEM;
    int64_t *counts = NULL;
    char *is_new = NULL;
    json_t *o = NULL, *names = NULL;
    *out = NULL;
    *counted = 0;
    if (bucket_s == 0 || max_buckets == 0 || max_buckets > 100000)
        return fs_say(err, errlen, FS_EINVAL, "arrival buckets must be at least 1 s, at most 100000 of them");
    const json_t *old = json_object_get(old_status, "arrivals");
    int64_t start = 0, old_start = 0, wm = INT64_MIN, total = 0;
    int old_full = 0, full = 0; /* more tasks in the watermark's second than names can list */
    size_t len = 0;
    const json_t *old_counts = json_object_get(old, "counts"), *old_names = NULL;
    if (json_is_object(old) && num(old, "bucketSeconds", 0) == (double)bucket_s && json_is_array(old_counts) &&
        json_is_string(json_object_get(old, "start")) &&
        rfc3339_parse(json_string_value(json_object_get(old, "start")), &start) == FS_OK) {
        len = json_array_size(old_counts);
        old_start = start;
        total = (int64_t)num(old, "total", 0);
        const json_t *w = json_object_get(old, "watermark");
        const char *wt = json_string_value(json_object_get(w, "time"));
        if (wt && rfc3339_parse(wt, &wm) == FS_OK) {
            old_names = json_object_get(w, "names");
            old_full = json_is_true(json_object_get(w, "full"));
        } else
            wm = INT64_MIN;
    } else {
        old = NULL; /* none yet, malformed, or another bucket size: a new series */
    }
    qsort(a, n, sizeof(*a), cmp_arrival);
    if (!(names = json_array()) || !(is_new = calloc(n ? n : 1, 1)))
        goto out;
    if (wm != INT64_MIN && json_is_array(old_names))
        for (size_t i = 0; i < json_array_size(old_names) && i < LEARN_WATERMARK_NAMES; i++)
            if (json_array_append(names, json_array_get(old_names, i)))
                goto out;
    /* the new ones, in order */
    size_t n_new = 0, first = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i].created_s < wm)
            continue;
        if (a[i].created_s == wm) {
            int seen = 0;
            for (size_t k = 0; k < json_array_size(names) && !seen; k++)
                seen = strcmp(json_string_value(json_array_get(names, k)), a[i].name) == 0;
            /* a full list from an earlier fold cannot tell: taken as counted (never twice) */
            if (seen || old_full)
                continue;
        } else {
            json_array_clear(names);
            wm = a[i].created_s;
            old_full = full = 0;
        }
        if (json_array_size(names) >= LEARN_WATERMARK_NAMES)
            full = 1;
        else if (json_array_append_new(names, json_string(a[i].name)))
            goto out;
        is_new[i] = 1;
        if (!n_new++)
            first = i;
        last = i;
    }
    if (n_new == 0) {
        rc = FS_OK;
        goto out;
    }
    /* the series covers from its start (or the first new bucket) to the newest arrival's bucket */
    int64_t b_new_first = floor_div64(a[first].created_s, bucket_s) * bucket_s;
    int64_t b_last = floor_div64(a[last].created_s, bucket_s) * bucket_s;
    if (!old || len == 0)
        start = b_new_first; /* else every new one is at or after the watermark, inside or past the series */
    int64_t span = b_last >= start ? (b_last - start) / bucket_s + 1 : (int64_t)len;
    if (span < (int64_t)len)
        span = (int64_t)len;
    int64_t drop = span > (int64_t)max_buckets ? span - (int64_t)max_buckets : 0;
    size_t m = (size_t)(span - drop);
    if (!(counts = calloc(m ? m : 1, sizeof(*counts))))
        goto out;
    int64_t new_start = start + drop * bucket_s;
    /* the old counts, moved onto the new grid (the oldest fall off its start) */
    for (size_t i = 0; old && i < len; i++) {
        {
            int64_t k = floor_div64(old_start + (int64_t)i * bucket_s - new_start, bucket_s);
            const json_t *v = json_array_get(old_counts, i);
            if (k >= 0 && k < (int64_t)m && json_is_integer(v) && json_integer_value(v) > 0)
                counts[k] += json_integer_value(v);
        }
    }
    for (size_t i = 0; i < n; i++) {
        int64_t t = a[i].created_s;
        if (is_new[i] && t >= new_start) {
            int64_t k = (t - new_start) / (int64_t)bucket_s;
            if (k >= 0 && k < (int64_t)m)
                counts[k]++;
        }
    }
    total += (int64_t)n_new;
    char s_start[40], s_wm[40];
    rfc3339_format(new_start, s_start, sizeof(s_start));
    rfc3339_format(wm, s_wm, sizeof(s_wm));
    json_t *ca = int_array(counts, (uint32_t)m);
    if (!ca)
        goto out;
    o = json_pack("{s:I, s:s, s:o, s:I, s:{s:s, s:O, s:b}}", "bucketSeconds", (json_int_t)bucket_s, "start", s_start,
                  "counts", ca, "total", (json_int_t)total, "watermark", "time", s_wm, "names", names, "full",
                  full || old_full);
    if (!o)
        goto out;
    *out = o;
    o = NULL;
    *counted = n_new;
    rc = FS_OK;
out:
    free(counts);
    free(is_new);
    json_decref(names);
    json_decref(o);
    return rc;
}
