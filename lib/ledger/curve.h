/* A micro-task's predicted demand over time (cpu, memory, network per fixed step, p50 and
 * p90 bands) and the JSON shape of MicroTask `status.prediction` that carries it. The
 * controller writes that JSON with curve_to_json(); the extender reads it with curve_from_json().
 *
 * JSON shape of status.prediction (compact, numbers only, no quantity strings):
 *   {
 *     "model": "profile",                  string, <= 31 chars, informative
 *     "stepSeconds": 30,                    integer 1..86400, required
 *     "start": "2025-01-01T10:00:00Z",      RFC 3339 (UTC "Z" or +hh:mm offset), required
 *     "durationSeconds": 600,               integer >= 0, optional; default steps*stepSeconds;
 *                                           the arrays must hold ceil(duration/step) entries
 *     "curves": {                           at least one resource, each optional
 *       "cpu":     {"p50": [0.5, ...], "p90": [0.8, ...]},   cores
 *       "memory":  {"p50": [...],      "p90": [...]},        bytes
 *       "network": {"p50": [...],      "p90": [...]}         bytes per second
 *     },
 *     "peak": {"cpu": 0.8, "memory": 1.5e9, "network": 0, "at": "RFC 3339"}   informative
 *   }
 * Rules: every present array of every resource has the same length (1..CURVE_MAX_STEPS);
 * values are finite and >= 0; a missing p50 copies p90 and a missing p90 copies p50; p90 may
 * not be below p50; a missing resource is all zeros; "peak" is recomputed, never trusted.
 *
 * In memory, cpu is in milli-cores, memory in bytes, network in bytes per second (int64).
 * A *flat* curve (pods without a prediction, pods foresight does not manage) is one value per
 * resource from `start_s` with no end. */
#ifndef FS_LEDGER_CURVE_H
#define FS_LEDGER_CURVE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"

enum curve_res { CURVE_CPU = 0, CURVE_MEM = 1, CURVE_NET = 2 };
#define CURVE_NRES 3
#define CURVE_MAX_STEPS 20160 /* a week at 30 s: longer predictions are refused */
#define CURVE_MAX_STEP_S 86400

enum curve_band { CURVE_P50 = 0, CURVE_P90 = 1 };

struct curve {
    char model[32];
    uint32_t step_s;    /* seconds per curve step */
    int64_t start_s;    /* unix seconds of the first step */
    int64_t duration_s; /* predicted lifetime, <= n_steps * step_s */
    uint32_t n_steps;
    /* [band][res] arrays of n_steps values (milli-cores, bytes, bytes/s); NULL when flat */
    int64_t *v[2][CURVE_NRES];
    int flat;                      /* open-ended constant demand from start_s */
    int64_t flat_value[CURVE_NRES];
};

/* Resource names as used in JSON ("cpu", "memory", "network"). */
const char *curve_res_name(enum curve_res r);

void curve_init(struct curve *c);
void curve_release(struct curve *c);
/* Deep copy; dst is initialised by this call (release it afterwards). */
enum fs_err curve_copy(struct curve *dst, const struct curve *src);

/* n steps of step_s from start_s, all six arrays allocated and zeroed (c is released
 * first; model may be NULL). FS_ENOMEM leaves c empty. */
enum fs_err curve_alloc(struct curve *c, const char *model, int64_t start_s, uint32_t step_s, uint32_t n,
                        int64_t duration_s);

/* A flat open-ended curve of value[] from start_s. */
void curve_init_flat(struct curve *c, int64_t start_s, const int64_t value[CURVE_NRES]);

/* Parses status.prediction. c must be initialised (it is released first). On error c is
 * left empty and err (may be NULL) holds a lowercase reason naming the offending field. */
enum fs_err curve_from_json(struct curve *c, const json_t *prediction, char *err, size_t errlen);
enum fs_err curve_parse(struct curve *c, const char *buf, size_t len, char *err, size_t errlen);

/* Builds the status.prediction object (new reference in *out, the caller decrefs it),
 * including "peak" from the p90 band. Flat curves cannot be written (FS_EINVAL). */
enum fs_err curve_to_json(const struct curve *c, json_t **out);

/* Value of one band at absolute time t (0 outside the curve's window). */
int64_t curve_at(const struct curve *c, enum curve_band b, enum curve_res r, int64_t t);
/* Highest value of a band; *at_s (may be NULL) gets the time of its first occurrence. */
int64_t curve_peak(const struct curve *c, enum curve_band b, enum curve_res r, int64_t *at_s);
/* End of the window (exclusive), INT64_MAX for flat curves. */
int64_t curve_end(const struct curve *c);

/* An amount as curves hold it: v rounded to an integer, NaN and negatives as 0, saturated
 * at INT64_MAX, so no NaN reaches the API server or the ledger. */
int64_t curve_value(double v);

/* RFC 3339 timestamps <-> unix seconds (fractions are truncated). */
enum fs_err rfc3339_parse(const char *s, int64_t *out);
enum fs_err rfc3339_format(int64_t t, char *buf, size_t len);

#endif
