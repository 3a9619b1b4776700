/* Learning per task type, kept in the TaskProfile's status so that a restarted controller
 * loses nothing: the most recent completed runs (observed per-step cpu and memory, work size,
 * duration) are the durable record, and the lifetime profile and the regressions on work size
 * (lib/forecast/profile.h, rls.h) are rebuilt from them by replaying them in order.
 * Pure: JSON in, JSON and curves out.
 *
 * status written here:
 *   runs: 12                         completed runs folded in (all time)
 *   mape, mase, accuracy: "91.4%"    error of the predictions those runs had, recent-weighted
 *   lastLearnt: RFC 3339
 *   profile: {"stepSeconds":30, "recent":[{"uid":..., "size":40, "durationSeconds":95,
 *             "stepSeconds":30, "cpu":[milli,...], "memory":[bytes,...]}, ...]}   oldest first
 *   regression: {"duration":{"intercept":s,"perUnit":s}, "cpuPeak":{...milli}, "memoryPeak":{...bytes}}
 *   arrivals: {"bucketSeconds":300, "start":RFC 3339, "counts":[3,0,1,...], "total":4,
 *              "watermark":{"time":RFC 3339, "names":[...]}}
 *     root MicroTasks of the type created per bucket (counts[i] covers [start + i*bucket,
 *     start + (i+1)*bucket); buckets after the last had none), at most max_buckets, oldest
 *     dropped first; the watermark (newest creation time counted and the names created in
 *     that second) makes folding the same task twice, e.g. after a restart, a no-op. */
#ifndef FS_CONTROLLER_LEARN_H
#define FS_CONTROLLER_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "forecast/profile.h"
#include "ledger/curve.h"

#define LEARN_MAX_RUNS 20     /* runs kept in status.profile.recent */
#define LEARN_SHAPE_BINS 10

/* One completed run: n observed steps of step_s from its start. */
struct learn_run {
    const char *uid;                    /* the leaf MicroTask's uid: a run is folded in once */
    double size;                        /* work units (1 without spec.work) */
    double duration_s;
    uint32_t step_s;
    uint32_t n;
    const int64_t *v[CURVE_NRES];       /* cpu milli-cores, memory bytes; network may be NULL */
    int has_error;                      /* the error of the prediction it ran with */
    double mape, mase;                  /* percent; mase < 0 when undefined */
};

/* The TaskProfile's status after folding run into old_status (may be NULL). *out gets a new
 * status object, or NULL when the run is already in it (same uid). The running error is a
 * mean weighted towards recent runs (weight halves every half_life runs). */
enum fs_err learn_fold(const json_t *old_status, const struct learn_run *run, int64_t now_s, int half_life,
                       uint32_t profile_step_s, uint32_t max_steps, json_t **out, char *err, size_t errlen);

/* Rebuilds the profile from status.profile.recent (p is initialised here; release it with
 * profile_release whatever the result). *runs gets status.runs. FS_EDATA when nothing is learnt yet, FS_EPARSE
 * when the status is malformed (err says where). */
enum fs_err learn_load(const json_t *status, int half_life, uint32_t max_steps, struct profile *p, long *runs,
                       char *err, size_t errlen);

/* The predicted curve of a run of work size `size` from the profile: duration from the
 * regression, cpu and memory as the shape's mean (p50) and 90th percentile (p90, never below
 * p50) scaled by the predicted peaks; steps of step_s from start_s. c must be initialised. */
enum fs_err learn_predict(const struct profile *p, double size, int64_t start_s, uint32_t step_s,
                          struct curve *c, char *err, size_t errlen);

/* One created task of the type: its name and creation time. */
struct learn_arrival {
    const char *name;
    int64_t created_s;
};

#define LEARN_MAX_ARRIVAL_BUCKETS 288  /* a day of 5-minute buckets */
#define LEARN_WATERMARK_NAMES 256      /* names of one second remembered (more are not deduplicated) */

/* Folds arrivals (any order; those at or before the watermark already counted are skipped)
 * into old_status's arrivals. A bucket size other than the series' starts a new series.
 * *out gets the new arrivals object, or NULL when nothing new was counted; *counted how
 * many were. The array is sorted in place (and otherwise left as it was). */
enum fs_err learn_arrivals_fold(const json_t *old_status, struct learn_arrival *a, size_t n, uint32_t bucket_s,
                                uint32_t max_buckets, json_t **out, size_t *counted, char *err, size_t errlen);

#endif
