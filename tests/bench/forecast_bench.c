/* Benchmark harness for lib/forecast (hack/bench/forecast.sh drives it):
 *   forecast_bench m4 TRAIN.csv TEST.csv STRIDE MAX   M4 Hourly, h = 48, m = 24
 *   forecast_bench res LIST                          5-minute series, rolling origin
 *   forecast_bench nab LIST OUTDIR                   anomaly flags per NAB file
 * Each prints one CSV line per (series, origin, method) with accuracy and timings;
 * hack/bench/forecast/report.py turns them and the references' lines into tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast/anomaly.h"
#include "forecast/cad.h"
#include "forecast/csv.h"
#include "forecast/forecast.h"
#include "forecast/season.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One quoted M4 row: "H1","619","565",...,"NA" -> id and values (NA dropped). */
static int parse_m4_row(char *line, char *id, size_t idlen, double *v, size_t cap, size_t *n)
{
    char *save = NULL, *tok = strtok_r(line, ",\n\r", &save);
    if (!tok)
        return -1;
    snprintf(id, idlen, "%s", tok[0] == '"' ? tok + 1 : tok);
    char *q = strchr(id, '"');
    if (q)
        *q = 0;
    *n = 0;
    while ((tok = strtok_r(NULL, ",\n\r", &save)) && *n < cap) {
        if (*tok == '"')
            tok++;
        if (strncmp(tok, "NA", 2) == 0 || *tok == 0)
            continue;
        v[(*n)++] = strtod(tok, NULL);
    }
    return 0;
}

/* model names such as ETS(M,Ad,M) go into a CSV field: commas become ';' */
static const char *csv_name(const struct fc_model *mod)
{
    static char buf[64];
    snprintf(buf, sizeof(buf), "%s", mod->name);
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = ';';
    return buf;
}

static const enum fc_method methods[] = {FC_AUTO, FC_ETS, FC_HW, FC_ARIMA, FC_SNAIVE};
static const char *const method_names[] = {"auto", "ets", "hw", "arima", "snaive"};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

static const char *only_methods; /* FORECAST_BENCH_METHODS=auto,ets */

static int method_wanted(const char *name)
{
    if (!only_methods)
        return 1;
    const char *p = strstr(only_methods, name);
    return p && (p == only_methods || p[-1] == ',') && (p[strlen(name)] == 0 || p[strlen(name)] == ',');
}

static int bench_m4(const char *train_path, const char *test_path, int stride, int max)
{
    FILE *ft = fopen(train_path, "r"), *fs = fopen(test_path, "r");
    if (!ft || !fs) {
        fprintf(stderr, "cannot open M4 files\n");
        return 1;
    }
    size_t cap = 1 << 16;
    char *lt = malloc(cap), *ls = malloc(cap);
    double *y = malloc(sizeof(double) * 2000), *yt = malloc(sizeof(double) * 100);
    char id[32], id2[32];
    static const double levels[] = {80, 95};
    /* headers */
    if (!fgets(lt, (int)cap, ft) || !fgets(ls, (int)cap, fs))
        return 1;
    int row = 0, done = 0;
    while (fgets(lt, (int)cap, ft) && fgets(ls, (int)cap, fs)) {
        if (row++ % stride != 0)
            continue;
        if (max > 0 && done >= max)
            break;
        size_t n, nt;
        parse_m4_row(lt, id, sizeof(id), y, 2000, &n);
        parse_m4_row(ls, id2, sizeof(id2), yt, 100, &nt);
        if (strcmp(id, id2) != 0 || nt != 48)
            continue;
        double scale = 0;
        for (size_t t = 24; t < n; t++)
            scale += fabs(y[t] - y[t - 24]);
        scale /= (double)(n - 24);
        for (size_t k = 0; k < NMETHODS; k++) {
            if (!method_wanted(method_names[k]))
                continue;
            struct fc_options o = {.method = methods[k], .season = 24, .horizon = 48};
            struct fc_model mod;
            double t0 = now_s();
            enum fs_err rc = fc_fit(&mod, y, n, &o);
            struct fc_result r;
            if (rc == FS_OK)
                rc = fc_predict(&mod, 48, levels, 2, &r);
            double fit_s = now_s() - t0;
            if (rc != FS_OK) {
                printf("m4,%s,%s,NA,NA,%.6f,NA,NA,fail\n", id, method_names[k], fit_s);
                fc_model_release(&mod);
                continue;
            }
            double smape = 0, mae = 0, c80 = 0, c95 = 0;
            for (int i = 0; i < 48; i++) {
                double f = r.mean[i], a = yt[i];
                smape += 200 * fabs(a - f) / (fabs(a) + fabs(f));
                mae += fabs(a - f);
                c80 += a >= r.lower[2 * i] && a <= r.upper[2 * i];
                c95 += a >= r.lower[2 * i + 1] && a <= r.upper[2 * i + 1];
            }
            printf("m4,%s,%s,%.6f,%.6f,%.6f,%.4f,%.4f,%s\n", id, method_names[k], smape / 48, mae / 48 / scale, fit_s,
                   c80 / 48, c95 / 48, csv_name(&mod));
            fflush(stdout);
            fc_result_release(&r);
            fc_model_release(&mod);
        }
        done++;
    }
    free(lt);
    free(ls);
    free(y);
    free(yt);
    fclose(ft);
    fclose(fs);
    return 0;
}

static double *read_values(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1024;
    double *v = malloc(cap * sizeof(double));
    char buf[128];
    *n = 0;
    while (v && fgets(buf, sizeof(buf), f)) {
        if (*n == cap) {
            cap *= 2;
            double *nv = realloc(v, cap * sizeof(double));
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
        }
        v[(*n)++] = strncmp(buf, "NA", 2) == 0 ? NAN : strtod(buf, NULL);
    }
    fclose(f);
    return v;
}

#define TRAIN 2016
#define H 288

static int bench_res(const char *list)
{
    FILE *fl = fopen(list, "r");
    if (!fl)
        return 1;
    char path[1024];
    static const double levels[] = {80, 95};
    while (fgets(path, sizeof(path), fl)) {
        path[strcspn(path, "\n")] = 0;
        size_t n;
        double *y = read_values(path, &n);
        if (!y)
            continue;
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        for (int oi = 0; oi < 3; oi++) {
            size_t origin = TRAIN + (size_t)oi * 288;
            if (origin + H > n)
                break;
            const double *tr = y + origin - TRAIN;
            double scale = 0;
            int ks = 0;
            for (size_t t = 288; t < TRAIN; t++)
                if (isfinite(tr[t]) && isfinite(tr[t - 288])) {
                    scale += fabs(tr[t] - tr[t - 288]);
                    ks++;
                }
            scale = ks ? scale / ks : NAN;
            for (size_t k = 0; k < NMETHODS; k++) {
                if (!method_wanted(method_names[k]))
                    continue;
                struct fc_options o = {.method = methods[k], .season = 288, .horizon = H};
                struct fc_model mod;
                double t0 = now_s();
                enum fs_err rc = fc_fit(&mod, tr, TRAIN, &o);
                struct fc_result r;
                if (rc == FS_OK)
                    rc = fc_predict(&mod, H, levels, 2, &r);
                double fit_s = now_s() - t0;
                if (rc != FS_OK) {
                    printf("res,%s,%d,%s,NA,NA,NA,NA,NA,NA,%.6f,NA,NA,fail\n", name, oi, method_names[k], fit_s);
                    fc_model_release(&mod);
                    continue;
                }
                double e12 = 0, e288 = 0, c80 = 0, c95 = 0, c80h = 0, c95h = 0;
                int k12 = 0, k288 = 0;
                for (int i = 0; i < H; i++) {
                    double a = y[origin + (size_t)i];
                    if (!isfinite(a))
                        continue;
                    double e = fabs(a - r.mean[i]);
                    int in80 = a >= r.lower[2 * i] && a <= r.upper[2 * i];
                    int in95 = a >= r.lower[2 * i + 1] && a <= r.upper[2 * i + 1];
                    if (i < 12) {
                        e12 += e;
                        c80h += in80;
                        c95h += in95;
                        k12++;
                    }
                    e288 += e;
                    c80 += in80;
                    c95 += in95;
                    k288++;
                }
                /* update cost: the next H samples one at a time into a copy of the state */
                double t1 = now_s();
                for (int i = 0; i < H; i++)
                    fc_update(&mod, y[origin + (size_t)i]);
                double upd_ns = (now_s() - t1) / H * 1e9;
                size_t state = sizeof(mod);
                if (mod.method == FC_ETS || mod.method == FC_HW)
                    state += sizeof(double) * (size_t)mod.ets.m;
                else if (mod.method == FC_ARIMA)
                    state += sizeof(double) * (size_t)(2 * (mod.arima.na + mod.arima.nb) + 2);
                else
                    state += sizeof(double) * (size_t)mod.simple.m;
                printf("res,%s,%d,%s,%.6f,%.6f,%.4f,%.4f,%.4f,%.4f,%.6f,%.1f,%zu,%s\n", name, oi, method_names[k],
                       e12 / k12 / scale, e288 / k288 / scale, c80h / k12, c95h / k12, c80 / k288, c95 / k288, fit_s,
                       upd_ns, state, csv_name(&mod));
                fflush(stdout);
                fc_result_release(&r);
                fc_model_release(&mod);
            }
        }
        free(y);
    }
    fclose(fl);
    return 0;
}

#define NAB_HOLD 288 /* samples of silence after an alarm */
#define NAB_ALARMS 6

/* anomaly scores in [0, 1] (anom_score): column name (NAME:a-priori threshold) and
 * parameters. The first is the residual likelihood alone with Numenta's windows; the
 * others add what was tried on NAB itself, so their settings are tuned on NAB: the
 * range test (5 % of the range seen), the level signal over 2016 samples (a week of
 * 5-minute steps; 1000 to 4032 scored within 1 point) and the hold after an alarm
 * (288 = a day of 5-minute steps with range events let through; 24 to 576 held all
 * events scored 51 to 66). `cad` adds the contextual detector (CAD OSE's defaults,
 * rest = probation / 5 as NAB runs it) over the file's range as NAB hands it to every
 * detector (1), or over the probationary part's range (2: what a detector that is
 * only told the past knows). `block` adds the spread of blocks of that many samples
 * (anom_score_use_blocks): 48 was tried first (4 hours of 5-minute steps); 12, 24
 * and 96 show how much the score owes to that choice, so the block signal is tuned
 * on NAB. */
static const struct {
    const char *name;
    int short_w, long_w, level_w;
    double spatial_tol, alarm;
    int hold, cad, block;
} nab_scores[] = {
    {"alik:0.5", 10, 8640, 0, 0, 0.5, 0, 0},
    {"alik_hold288:0.5", 10, 8640, 0, 0, 0.5, NAB_HOLD, 0},
    {"alik_range_hold288:0.5", 10, 8640, 0, 0.05, 0.5, NAB_HOLD, 0},
    {"alik_level_range_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 0},
    {"alik_level_range_cad_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 1, 0},
    {"alik_level_range_cadpast_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 2, 0},
    {"alik_level_range_cad_block12_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 1, 12},
    {"alik_level_range_cad_block24_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 1, 24},
    {"alik_level_range_cad_block96_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 1, 96},
    {"alik_level_range_cadpast_block48_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 2, 48},
    {"alik_level_range_cad_block48_hold288:0.5", 10, 8640, 2016, 0.05, 0.5, NAB_HOLD, 1, 48},
};
#define NAB_SCORES (sizeof(nab_scores) / sizeof(nab_scores[0]))

/* NAB: for each file, flags of three detectors at their defaults and a few variants. */
static int bench_nab(const char *list, const char *outdir)
{
    FILE *fl = fopen(list, "r");
    if (!fl)
        return 1;
    char path[1024];
    while (fgets(path, sizeof(path), fl)) {
        path[strcspn(path, "\n")] = 0;
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)len + 1);
        if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
            fclose(f);
            free(buf);
            continue;
        }
        fclose(f);
        /* NAB rows as they are (no gap filling: NAB scores the file's own rows) */
        size_t n = 0, cap = 1024;
        double *v = malloc(sizeof(double) * cap);
        char *save = NULL;
        buf[len] = 0;
        char *line = strtok_r(buf, "\n", &save); /* header */
        while (v && (line = strtok_r(NULL, "\n", &save))) {
            char *c = strrchr(line, ',');
            if (!c)
                continue;
            if (n == cap) {
                cap *= 2;
                double *nv = realloc(v, sizeof(double) * cap);
                if (!nv)
                    break;
                v = nv;
            }
            v[n++] = strtod(c + 1, NULL);
        }
        free(buf);
        if (!v)
            return 1;
        size_t probation = (size_t)fmin(floor(0.15 * (double)n), 750);
        /* season on the probationary part only */
        struct season_result sr;
        int m = 1;
        if (season_detect(v, probation, 0, 0, &sr) == FS_OK && sr.count > 0)
            m = sr.p[0].period;
        const char *rel = path;
        for (const char *q = strstr(path, "/data/"); q; q = strstr(q + 1, "/data/"))
            rel = q + 6;
        char out[1200];
        snprintf(out, sizeof(out), "%s/%s", outdir, rel);
        for (char *p = out + strlen(outdir) + 1; *p; p++)
            if (*p == '/')
                *p = '_';
        FILE *fo = fopen(out, "w");
        if (!fo) {
            fprintf(stderr, "nab: cannot write %s\n", out);
            return 1;
        }
        /* raw k-of-n flags, and the same as alarms: a rising edge, then silence for
         * HOLD samples (what an operator would page on) */
        fprintf(fo, "band99_3of5,band99_1of1,band999_2of3,hw_7of9,hw_3of5,"
                    "alarm_band99_3of5,alarm_band999_2of3,alarm_hw_7of9,alik_1e-5,alik_1e-4,alik_1e-3");
        for (size_t k = 0; k < NAB_SCORES; k++)
            fprintf(fo, ",%s", nab_scores[k].name);
        fprintf(fo, ",cad_filerange:0.75,cad_past:0.75");
        fputc('\n', fo);
        /* CAD OSE's defaults (bits 3, base 0.75, 7, 15; rest = probation / 5 as NAB runs
         * it): over the file's own range as NAB hands it to detectors (it sees the
         * future), and over the probationary part's range (what an online detector knows) */
        double flo = INFINITY, fhi = -INFINITY, plo = INFINITY, phi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            flo = fmin(flo, v[i]);
            fhi = fmax(fhi, v[i]);
            if (i < probation) {
                plo = fmin(plo, v[i]);
                phi = fmax(phi, v[i]);
            }
        }
        if (!(plo <= phi)) { /* no probationary part: the file's range */
            plo = flo;
            phi = fhi;
        }
        struct cad cf, cp;
        int rest = (int)(probation / 5);
        int cadok = cad_init(&cf, flo, fhi, 3, rest, 0.75, 7, 15) == FS_OK &&
                    cad_init(&cp, plo, phi, 3, rest, 0.75, 7, 15) == FS_OK;
        struct anom_score as[NAB_SCORES];
        int asok = 1;
        for (size_t k = 0; k < NAB_SCORES; k++) {
            asok &= anom_score_init(&as[k], nab_scores[k].short_w, nab_scores[k].long_w, nab_scores[k].level_w,
                                    nab_scores[k].spatial_tol, nab_scores[k].alarm, nab_scores[k].hold) == FS_OK;
            if (nab_scores[k].cad)
                asok &= anom_score_use_cad(&as[k], nab_scores[k].cad == 1 ? flo : plo,
                                           nab_scores[k].cad == 1 ? fhi : phi, rest) == FS_OK;
            if (nab_scores[k].block)
                asok &= anom_score_use_blocks(&as[k], nab_scores[k].block) == FS_OK;
        }
        int prev[NAB_ALARMS] = {0};
        size_t quiet[NAB_ALARMS] = {0};
        /* anomaly likelihood on the absolute one-step errors: 10-sample mean against a
         * long window of those means (Numenta's defaults: 10 and 8640 five-minute steps) */
        struct anom_lik al;
        int alok = anom_lik_init(&al, 10, 8640) == FS_OK;
        /* detectors */
        struct fc_model mod;
        struct fc_options fo_opts = {.method = FC_ETS, .season = m > 1 && (size_t)(2 * m) <= probation ? m : 1,
                                     .horizon = 1};
        size_t trainrows = probation > 2 ? probation : 2;
        int have = fc_fit(&mod, v, trainrows, &fo_opts) == FS_OK;
        struct kofn k1, k2, k3;
        kofn_init(&k1, 3, 5);
        kofn_init(&k2, 1, 1);
        kofn_init(&k3, 2, 3);
        struct hw_aberrant h1, h2;
        int hm = m > 1 ? m : 1;
        int hok = hw_aberrant_init(&h1, hm, 0.1, 0.0035, 0.1, 2, 7, 9) == FS_OK &&
                  hw_aberrant_init(&h2, hm, 0.1, 0.0035, 0.1, 3, 3, 5) == FS_OK;
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            double y = v[i];
            int f1 = 0, f2 = 0, f3 = 0, f4 = 0, f5 = 0;
            if (hok) {
                f4 = hw_aberrant_push(&h1, y, NULL, NULL, NULL);
                f5 = hw_aberrant_push(&h2, y, NULL, NULL, NULL);
            }
            double tail = 1, score[NAB_SCORES] = {0};
            if (asok && (!have || i < trainrows))
                for (size_t k = 0; k < NAB_SCORES; k++)
                    anom_score_learn(&as[k], y);
            if (have && i >= trainrows) {
                static const double lv[] = {99, 99.9};
                struct fc_result r;
                int v99 = 0, v999 = 0;
                if (fc_predict(&mod, 1, lv, 2, &r) == FS_OK) {
                    v99 = isfinite(y) && (y < r.lower[0] || y > r.upper[0]);
                    v999 = isfinite(y) && (y < r.lower[1] || y > r.upper[1]);
                    if (alok)
                        tail = anom_lik_push(&al, fabs(y - r.mean[0]));
                    for (size_t k = 0; asok && k < NAB_SCORES; k++)
                        score[k] = anom_score_push(&as[k], y, y - r.mean[0]);
                    fc_result_release(&r);
                }
                f1 = kofn_push(&k1, v99);
                f2 = kofn_push(&k2, v99);
                f3 = kofn_push(&k3, v999);
                fc_update(&mod, y);
            }
            int raw[NAB_ALARMS] = {f1, f3, f4, tail < 1e-5, tail < 1e-4, tail < 1e-3}, alarm[NAB_ALARMS];
            for (int k = 0; k < NAB_ALARMS; k++) {
                alarm[k] = raw[k] && !prev[k] && i >= quiet[k];
                if (alarm[k])
                    quiet[k] = i + NAB_HOLD;
                prev[k] = raw[k];
            }
            fprintf(fo, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", f1, f2, f3, f4, f5, alarm[0], alarm[1], alarm[2],
                    alarm[3], alarm[4], alarm[5]);
            for (size_t k = 0; k < NAB_SCORES; k++)
                fprintf(fo, ",%.6f", score[k]);
            double c1 = 0, c2 = 0;
            if (cadok) {
                cad_push(&cf, y, &c1);
                cad_push(&cp, y, &c2);
            }
            /* the CAD score mapped so its own threshold 0.75 meets anom_score's 0.5 */
            fprintf(fo, ",%.6f,%.6f", c1, c2);
            fputc('\n', fo);
        }
        fprintf(stderr, "nab: %s rows=%zu season=%d %.3fs\n", rel, n, m, now_s() - t0);
        fclose(fo);
        if (have)
            fc_model_release(&mod);
        if (alok)
            anom_lik_release(&al);
        for (size_t k = 0; k < NAB_SCORES; k++)
            anom_score_release(&as[k]);
        hw_aberrant_release(&h1);
        hw_aberrant_release(&h2);
        cad_release(&cf);
        cad_release(&cp);
        free(v);
    }
    fclose(fl);
    return 0;
}

int main(int argc, char **argv)
{
    only_methods = getenv("FORECAST_BENCH_METHODS");
    if (argc >= 6 && strcmp(argv[1], "m4") == 0)
        return bench_m4(argv[2], argv[3], atoi(argv[4]) > 0 ? atoi(argv[4]) : 1, atoi(argv[5]));
    if (argc >= 3 && strcmp(argv[1], "res") == 0)
        return bench_res(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "nab") == 0)
        return bench_nab(argv[2], argv[3]);
    fprintf(stderr, "usage: forecast_bench m4 TRAIN TEST STRIDE MAX | res LIST | nab LIST OUTDIR\n");
    return 2;
}
