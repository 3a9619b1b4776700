/* Helpers shared by the offline subcommands: input, option values, time format, the
 * terminal chart. See cli.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/fs_err.h"
#include "forecast/ets.h"

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            if (cap >= CLI_MAX_INPUT) {
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int cli_read_series(const char *prog, const char *path, const char *column, struct csv_series *s)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    size_t len = 0;
    char *buf = read_all(f, &len);
    int saved = errno;
    if (f != stdin)
        fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(saved));
        return -1;
    }
    struct csv_error err;
    enum fs_err rc = csv_series_parse(buf, len, column, s, &err);
    free(buf);
    if (rc != FS_OK) {
        if (err.line)
            fprintf(stderr, "%s: %s:%zu: %s\n", prog, path, err.line, err.msg[0] ? err.msg : fs_strerror(rc));
        else
            fprintf(stderr, "%s: %s: %s\n", prog, path, err.msg[0] ? err.msg : fs_strerror(rc));
        return -1;
    }
    return 0;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_season(const char *s, int *season)
{
    long v;
    if (strcmp(s, "auto") == 0)
        *season = 0;
    else if (strcmp(s, "none") == 0)
        *season = 1;
    else if (cli_parse_int(s, 1, ETS_MAX_SEASON, &v) == 0)
        *season = (int)v;
    else
        return -1;
    return 0;
}

int cli_parse_levels(const char *s, double *levels, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !(v > 0 && v < 100) || n == max)
            return -1;
        levels[n++] = v;
        if (*end == ',')
            end++;
        else if (*end != 0)
            return -1;
        p = end;
    }
    /* ascending, so the widest band is last */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && levels[j] < levels[j - 1]; j--) {
            double t = levels[j];
            levels[j] = levels[j - 1];
            levels[j - 1] = t;
        }
    return n ? n : -1;
}

void cli_format_time(double t, char *buf, size_t len)
{
    time_t tt = (time_t)llround(t);
    struct tm tm;
    if (len == 0)
        return;
    buf[0] = 0;
    if (!isfinite(t) || !gmtime_r(&tt, &tm))
        return;
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void cli_plot(FILE *out, const double *hist, size_t n, const struct fc_result *r, int width, int height)
{
    if (width < 20)
        width = 20;
    if (height < 5)
        height = 5;
    int fw = r->h < width / 2 ? r->h : width / 2;   /* forecast columns */
    int hw = width - fw;                            /* history columns */
    size_t h0 = n > (size_t)hw ? n - (size_t)hw : 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = h0; i < n; i++)
        if (isfinite(hist[i])) {
            lo = fmin(lo, hist[i]);
            hi = fmax(hi, hist[i]);
        }
    int wl = r->nlevels - 1;
    for (int i = 0; i < fw; i++) {
        lo = fmin(lo, wl >= 0 ? r->lower[i * r->nlevels + wl] : r->mean[i]);
        hi = fmax(hi, wl >= 0 ? r->upper[i * r->nlevels + wl] : r->mean[i]);
    }
    if (!(hi > lo)) {
        hi = lo + 1;
        lo -= 1;
    }
    char *grid = malloc((size_t)width * (size_t)height);
    if (!grid)
        return;
    memset(grid, ' ', (size_t)width * (size_t)height);
#define ROW(v) ((int)lround((hi - (v)) / (hi - lo) * (height - 1)))
    int col = 0;
    for (size_t i = h0; i < n; i++, col++)
        if (isfinite(hist[i]))
            grid[ROW(hist[i]) * width + col] = '*';
    for (int i = 0; i < fw; i++, col++) {
        if (wl >= 0) {
            int a = ROW(r->upper[i * r->nlevels + wl]), b = ROW(r->lower[i * r->nlevels + wl]);
            for (int k = a; k <= b; k++)
                grid[k * width + col] = ':';
        }
        grid[ROW(r->mean[i]) * width + col] = 'o';
    }
#undef ROW
    for (int k = 0; k < height; k++) {
        double v = hi - (hi - lo) * k / (height - 1);
        fprintf(out, "%12.4g |%.*s\n", v, width, grid + (size_t)k * width);
    }
    fprintf(out, "%12s +%.*s\n", "", width,
            "----------------------------------------------------------------------------------------------------"
            "----------------------------------------------------------------------------------------------------");
    if (wl >= 0)
        fprintf(out, "%12s  * history   o forecast   : %g%% interval\n", "", r->levels[wl]);
    else
        fprintf(out, "%12s  * history   o forecast\n", "");
    free(grid);
}
