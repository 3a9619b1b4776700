/* Go-style duration strings: a strict parser (strtod on each number, a closed list of units)
 * and a formatter that writes the largest units first and skips zero parts. */
#include "duration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DURATION_MAX_S (100.0 * 365 * 86400)

enum fs_err duration_parse(const char *s, double *seconds)
{
    static const struct { const char *unit; double scale; } units[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600},
    };
    double total = 0;
    if (!s || !*s)
        return FS_EPARSE;
    while (*s) {
        /* exactly [0-9]+(.[0-9]+)?, as the CRD pattern: strtod alone would take hex and exponents */
        char num[40];
        size_t k = 0, dots = 0;
        while ((s[k] >= '0' && s[k] <= '9') || s[k] == '.') {
            dots += s[k] == '.';
            k++;
        }
        if (k == 0 || k >= sizeof(num) || dots > 1 || s[0] == '.' || s[k - 1] == '.')
            return FS_EPARSE;
        memcpy(num, s, k);
        num[k] = '\0';
        double v = strtod(num, NULL);
        if (!isfinite(v))
            return FS_EPARSE;
        s += k;
        double scale = 0;
        size_t best = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t ul = strlen(units[i].unit);
            if (ul > best && strncmp(s, units[i].unit, ul) == 0) {
                best = ul;
                scale = units[i].scale;
            }
        }
        if (!best)
            return FS_EPARSE;
        s += best;
        total += v * scale;
        if (total > DURATION_MAX_S)
            return FS_ERANGE;
    }
    *seconds = total;
    return FS_OK;
}

void duration_format(double seconds, char *buf, size_t len)
{
    if (!len)
        return;
    if (!isfinite(seconds)) {
        snprintf(buf, len, "?");
        return;
    }
    const char *sign = seconds < 0 ? "-" : "";
    double a = fabs(seconds);
    if (a > DURATION_MAX_S)
        a = DURATION_MAX_S;
    long long t = (long long)floor(a);
    long long h = t / 3600, m = (t % 3600) / 60, s = t % 60;
    size_t n = 0;
    int w = snprintf(buf, len, "%s", sign);
    n = w > 0 ? (size_t)w : 0;
    if (h && n < len) {
        w = snprintf(buf + n, len - n, "%lldh", h);
        n += w > 0 ? (size_t)w : 0;
    }
    if (m && n < len) {
        w = snprintf(buf + n, len - n, "%lldm", m);
        n += w > 0 ? (size_t)w : 0;
    }
    if ((s || (!h && !m)) && n < len)
        snprintf(buf + n, len - n, "%llds", s);
}
