/* CSV time series reader: see csv.h. One pass splits lines into fields (in place, in a
 * bounded line buffer), a second step picks columns and fills timestamp holes. */
#include "forecast/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "forecast/fc_math.h"

void csv_series_release(struct csv_series *s)
{
    free(s->t);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void set_err(struct csv_error *err, size_t line, const char *msg, const char *detail)
{
    if (!err)
        return;
    err->line = line;
    if (detail)
        snprintf(err->msg, sizeof(err->msg), "%s: %.60s", msg, detail);
    else
        snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

/* Splits line (NUL-terminated, modified in place) into fields; handles "quoted,""fields""".
 * Returns the field count or -1 on an unterminated quote, -2 on too many fields. */
static int split_fields(char *line, char **fields)
{
    int nf = 0;
    char *p = line;
    for (;;) {
        if (nf == CSV_MAX_FIELDS)
            return -2;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            char *w = ++p, *start = p;
            for (;;) {
                if (*p == 0)
                    return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            *w = 0;
            fields[nf++] = start;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == 0)
                return nf;
            return -1;
        }
        fields[nf++] = p;
        char *c = strchr(p, ',');
        char *end = c ? c : p + strlen(p);
        char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = 0;
        if (!c)
            return nf;
        p = c + 1;
    }
}

/* 1: a gap (empty, NA, NaN, null); 0: a finite number in *v; -1: not a number. */
static int parse_value(const char *s, double *v)
{
    if (*s == 0 || strcasecmp(s, "na") == 0 || strcasecmp(s, "nan") == 0 || strcasecmp(s, "null") == 0) {
        *v = NAN;
        return 1;
    }
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != 0 || !isfinite(d))
        return -1;
    *v = d;
    return 0;
}

int csv_parse_time(const char *s, double *t)
{
    int Y, M, D, h = 0, mi = 0, n = 0;
    double sec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) == 3) {
        const char *p = s + n;
        if (*p == 'T' || *p == ' ') {
            int k = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k) != 2)
                return -1;
            p += 1 + k;
            if (*p == ':') {
                char *end;
                sec = strtod(p + 1, &end);
                if (end == p + 1)
                    return -1;
                p = end;
            }
        }
        if (*p == 'Z')
            p++;
        if (*p != 0)
            return -1;
        if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61)
            return -1;
        struct tm tm = {0};
        tm.tm_year = Y - 1900;
        tm.tm_mon = M - 1;
        tm.tm_mday = D;
        tm.tm_hour = h;
        tm.tm_min = mi;
        time_t tt = timegm(&tm);
        *t = (double)tt + sec;
        return 0;
    }
    return -1;
}

static int name_is_time(const char *s)
{
    return strcasecmp(s, "timestamp") == 0 || strcasecmp(s, "time") == 0 || strcasecmp(s, "date") == 0 ||
           strcasecmp(s, "datetime") == 0 || strcasecmp(s, "ts") == 0;
}

struct growbuf {
    double *t, *v;
    size_t n, cap;
};

static int push(struct growbuf *g, double t, double v)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 1024;
        double *nt = realloc(g->t, nc * sizeof(double));
        if (!nt)
            return -1;
        g->t = nt;
        double *nv = realloc(g->v, nc * sizeof(double));
        if (!nv)
            return -1;
        g->v = nv;
        g->cap = nc;
    }
    g->t[g->n] = t;
    g->v[g->n] = v;
    g->n++;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum fs_err csv_series_parse(const char *buf, size_t len, const char *column, struct csv_series *out,
                             struct csv_error *err)
{
    enum fs_err rc = FS_EPARSE;
    char *line = malloc(CSV_MAX_LINE + 1);
    char *fields[CSV_MAX_FIELDS];
    struct growbuf g = {0};
    char (*hdr)[64] = NULL; /* header names, when there is a header */
    memset(out, 0, sizeof(*out));
    if (err)
        memset(err, 0, sizeof(*err));
    if (!line) {
        rc = FS_ENOMEM;
        goto out;
    }
    int nfields = -1, tcol = -1, vcol = -1, header_done = 0, had_header = 0;
    size_t lineno = 0, pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && buf[end] != '\n')
            end++;
        lineno++;
        size_t ll = end - pos;
        if (ll > 0 && buf[pos + ll - 1] == '\r')
            ll--;
        if (ll > CSV_MAX_LINE) {
            set_err(err, lineno, "line too long", NULL);
            goto out;
        }
        memcpy(line, buf + pos, ll);
        line[ll] = 0;
        pos = end + 1;
        if (memchr(line, 0, ll)) {
            set_err(err, lineno, "NUL byte in line", NULL);
            goto out;
        }
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == 0 || *p == '#')
            continue;
        int nf = split_fields(line, fields);
        if (nf == -1) {
            set_err(err, lineno, "unterminated or misplaced quote", NULL);
            goto out;
        }
        if (nf == -2) {
            set_err(err, lineno, "too many fields", NULL);
            goto out;
        }
        if (!header_done) {
            header_done = 1;
            nfields = nf;
            /* a header has a field that is neither a number, a gap nor a time */
            int is_header = 0;
            for (int i = 0; i < nf; i++) {
                double v, t;
                if (parse_value(fields[i], &v) < 0 && csv_parse_time(fields[i], &t) != 0)
                    is_header = 1;
            }
            if (is_header) {
                had_header = 1;
                hdr = calloc((size_t)nf, sizeof(*hdr));
                if (!hdr) {
                    rc = FS_ENOMEM;
                    goto out;
                }
                for (int i = 0; i < nf; i++)
                    snprintf(hdr[i], sizeof(hdr[i]), "%s", fields[i]);
                for (int i = 0; i < nf; i++)
                    if (tcol < 0 && name_is_time(fields[i]))
                        tcol = i;
                if (column) {
                    for (int i = 0; i < nf; i++)
                        if (strcmp(fields[i], column) == 0)
                            vcol = i;
                }
                if (column && vcol < 0) {
                    char *endp;
                    long k = strtol(column, &endp, 10);
                    if (*endp == 0 && k >= 1 && k <= nf)
                        vcol = (int)k - 1;
                }
                if (column && vcol < 0) {
                    set_err(err, lineno, "no such column", column);
                    rc = FS_EINVAL;
                    goto out;
                }
                if (vcol >= 0)
                    snprintf(out->column, sizeof(out->column), "%s", fields[vcol]);
                continue;
            }
        }
        if (nf != nfields) {
            char d[64];
            snprintf(d, sizeof(d), "%d fields, expected %d", nf, nfields);
            set_err(err, lineno, "wrong number of fields", d);
            goto out;
        }
        if (g.n == 0 && (vcol < 0 || tcol < 0)) {
            /* the first data row settles the defaults: the first field is the time when it
             * reads as one (or, without a header, when there are two numeric fields) */
            double tt;
            if (tcol < 0 && nf >= 2 && vcol != 0 &&
                (csv_parse_time(fields[0], &tt) == 0 || (!had_header && nf == 2 && parse_value(fields[0], &tt) == 0)))
                tcol = 0;
            if (vcol < 0 && column) {
                char *endp;
                long k = strtol(column, &endp, 10);
                if (*endp != 0 || k < 1 || k > nf) {
                    set_err(err, lineno, "no such column", column);
                    rc = FS_EINVAL;
                    goto out;
                }
                vcol = (int)k - 1;
            }
            if (vcol < 0)
                vcol = nf == 1 ? 0 : (tcol == 0 ? 1 : 0);
            if (hdr)
                snprintf(out->column, sizeof(out->column), "%s", hdr[vcol]);
            else
                snprintf(out->column, sizeof(out->column), "%d", vcol + 1);
        }
        double v, t = NAN;
        int pv = parse_value(fields[vcol], &v);
        if (pv < 0) {
            set_err(err, lineno, "not a number", fields[vcol]);
            goto out;
        }
        if (tcol >= 0 && tcol != vcol) {
            if (csv_parse_time(fields[tcol], &t) != 0 && parse_value(fields[tcol], &t) != 0) {
                set_err(err, lineno, "bad timestamp", fields[tcol]);
                goto out;
            }
        }
        if (g.n >= CSV_MAX_ROWS) {
            set_err(err, lineno, "too many rows", NULL);
            rc = FS_ERANGE;
            goto out;
        }
        if (push(&g, t, v) != 0) {
            rc = FS_ENOMEM;
            goto out;
        }
    }
    if (g.n == 0) {
        set_err(err, lineno, "no data rows", NULL);
        rc = FS_EDATA;
        goto out;
    }
    int has_time = tcol >= 0 && tcol != vcol;
    if (has_time) {
        for (size_t i = 1; i < g.n; i++)
            if (!(g.t[i] > g.t[i - 1])) {
                set_err(err, 0, "timestamps do not increase", NULL);
                rc = FS_EPARSE;
                goto out;
            }
    }
    /* regular step: the median difference; holes of whole steps become NaN rows */
    size_t total = g.n;
    double step = 0;
    if (has_time && g.n >= 3) {
        double *d = malloc(sizeof(double) * (g.n - 1));
        if (!d) {
            rc = FS_ENOMEM;
            goto out;
        }
        for (size_t i = 1; i < g.n; i++)
            d[i - 1] = g.t[i] - g.t[i - 1];
        qsort(d, g.n - 1, sizeof(double), cmp_d);
        step = d[(g.n - 1) / 2];
        free(d);
        for (size_t i = 1; i < g.n; i++) {
            double k = (g.t[i] - g.t[i - 1]) / step;
            if (k > 1.5 && fabs(k - round(k)) < 0.01)
                /* a hole wider than the row limit fails below without converting k */
                total += k < (double)CSV_MAX_ROWS ? (size_t)round(k) - 1 : (size_t)CSV_MAX_ROWS + 1;
        }
        if (total > 4 * g.n + 1000 || total > CSV_MAX_ROWS) {
            set_err(err, 0, "too many missing timestamps to fill", NULL);
            rc = FS_ERANGE;
            goto out;
        }
    }
    out->v = malloc(sizeof(double) * total);
    out->t = has_time ? malloc(sizeof(double) * total) : NULL;
    if (!out->v || (has_time && !out->t)) {
        rc = FS_ENOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < g.n; i++) {
        if (i > 0 && step > 0) {
            double r = (g.t[i] - g.t[i - 1]) / step;
            if (r > 1.5 && fabs(r - round(r)) < 0.01) {
                long fill = lround(r) - 1;
                for (long j = 1; j <= fill; j++) {
                    out->t[k] = g.t[i - 1] + (double)j * step;
                    out->v[k++] = NAN;
                    out->filled++;
                }
            }
        }
        if (has_time)
            out->t[k] = g.t[i];
        out->v[k++] = g.v[i];
    }
    out->n = k;
    out->step_s = step;
    rc = FS_OK;
out:
    if (rc != FS_OK) {
        free(out->v);
        free(out->t);
        out->v = out->t = NULL;
        out->n = 0;
    }
    free(g.t);
    free(g.v);
    free(hdr);
    free(line);
    return rc;
}
