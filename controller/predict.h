/* A leaf micro-task's predicted demand curve (struct curve, lib/ledger/curve.h) and the status
 * JSON that carries it: status.prediction (curve_to_json's shape, shared with the extender)
 * plus status.predictionSummary, the display form kubectl's printer columns show.
 * Sources, best first: a TaskProfile (lib/forecast), the frozen per-unit estimate a parent put
 * on a child, then spec.resources. While a task runs, the observed steps replace the
 * predicted ones and the rest is rescaled by how the observed part compared. */
#ifndef FS_CONTROLLER_PREDICT_H
#define FS_CONTROLLER_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "decompose.h"
#include "ledger/curve.h"
#include "microtask.h"

#define PREDICT_SCALE_MIN 0.25  /* rescaling of the unobserved rest is clamped to [1/4, 4] */
#define PREDICT_SCALE_MAX 4.0

/* A flat curve at spec.resources (p50 = p90) over spec.resources.duration, or default_s when
 * the spec gives none; steps of step_s from start_s. c must be initialised (it is released
 * first). FS_EINVAL without spec.resources, FS_ERANGE past CURVE_MAX_STEPS steps. */
enum fs_err predict_from_resources(const struct microtask *mt, int64_t start_s, uint32_t step_s,
                                   double default_s, struct curve *c, char *err, size_t errlen);

/* A flat curve from a linear estimate at `units` work units (a child's frozen estimate):
 * duration, cpu and memory peaks as decompose computes them; network from net_bps. */
enum fs_err predict_from_estimate(const struct decompose_estimate *e, int64_t units, int64_t net_bps,
                                  int64_t start_s, uint32_t step_s, struct curve *c, char *err,
                                  size_t errlen);

/* The running-task curve: observed[r][0..n_obs) (per step from pred->start_s, in curve units)
 * replace the prediction's first steps, and every later step is the prediction scaled per
 * resource by sum(observed) / sum(predicted p50) over the observed steps, clamped to
 * [PREDICT_SCALE_MIN, PREDICT_SCALE_MAX]. A task running past its prediction gets one more
 * step at its last observed level. out is initialised by this call. */
enum fs_err predict_splice(const struct curve *pred, const int64_t *const observed[CURVE_NRES],
                           uint32_t n_obs, struct curve *out);

/* status.predictionSummary: {"cpuPeak":"1500m","memoryPeak":"768Mi","networkPeak":"10Mi",
 * "peakAfter":"4m30s","duration":"10m","model":"resources"} from the p90 band. New reference. */
enum fs_err predict_summary_json(const struct curve *c, json_t **out);

/* The merge patch for the status subresource:
 * {"status":{"prediction":<curve_to_json>,"predictionSummary":<summary>}}. New reference. */
enum fs_err predict_status_patch(const struct curve *c, json_t **out);

#endif
