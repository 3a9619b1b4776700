/* Reader for the reference fixtures in tests/fixtures/forecast/: lines "key v1 v2 ...",
 * '#' comments (which record the command that produced the file). Test-only code:
 * a malformed fixture fails the test that loads it. */
#ifndef TEST_FORECAST_FIXTURE_H
#define TEST_FORECAST_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX_MAX_KEYS 64

struct fixture {
    int nkeys;
    char key[FIX_MAX_KEYS][32];
    char *text[FIX_MAX_KEYS]; /* the raw value text */
    double *val[FIX_MAX_KEYS];
    size_t len[FIX_MAX_KEYS];
};

static inline const char *fixture_dir(void)
{
    const char *d = getenv("FORECAST_FIXTURES");
    return d ? d : "tests/fixtures/forecast";
}

static inline int fixture_load(struct fixture *fx, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
    memset(fx, 0, sizeof(*fx));
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (fx->nkeys == FIX_MAX_KEYS)
            break;
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = 0;
        int k = fx->nkeys++;
        snprintf(fx->key[k], sizeof(fx->key[k]), "%s", line);
        char *v = sp + 1;
        v[strcspn(v, "\n")] = 0;
        fx->text[k] = strdup(v);
        size_t n = 0, capv = 16;
        fx->val[k] = malloc(capv * sizeof(double));
        char *p = v, *end;
        while (*p) {
            while (*p == ' ')
                p++;
            if (!*p)
                break;
            double d;
            if (strncmp(p, "NA", 2) == 0) {
                d = NAN;
                end = p + 2;
            } else {
                d = strtod(p, &end);
                if (end == p)
                    break;
            }
            if (n == capv) {
                capv *= 2;
                fx->val[k] = realloc(fx->val[k], capv * sizeof(double));
            }
            fx->val[k][n++] = d;
            p = end;
        }
        fx->len[k] = n;
    }
    free(line);
    fclose(f);
    return 0;
}

static inline const double *fixture_get(const struct fixture *fx, const char *key, size_t *len)
{
    for (int k = 0; k < fx->nkeys; k++)
        if (strcmp(fx->key[k], key) == 0) {
            if (len)
                *len = fx->len[k];
            return fx->val[k];
        }
    if (len)
        *len = 0;
    return NULL;
}

static inline const char *fixture_text(const struct fixture *fx, const char *key)
{
    for (int k = 0; k < fx->nkeys; k++)
        if (strcmp(fx->key[k], key) == 0)
            return fx->text[k];
    return NULL;
}

static inline double fixture_num(const struct fixture *fx, const char *key)
{
    size_t n;
    const double *v = fixture_get(fx, key, &n);
    return v && n ? v[0] : NAN;
}

static inline void fixture_release(struct fixture *fx)
{
    for (int k = 0; k < fx->nkeys; k++) {
        free(fx->val[k]);
        free(fx->text[k]);
    }
    memset(fx, 0, sizeof(*fx));
}

/* |a - b| <= tol * max(1, |b|) */
static inline int close_rel(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

#endif
