/* The objects the controller creates, built as JSON from a parsed MicroTask: child MicroTasks
 * of a split (owned by the parent, deterministic names, the parent's estimate frozen on them)
 * and the one Pod of a leaf (owned by the leaf, schedulerName foresight, label
 * foresight.sh/microtask, environment giving its shard and work range). Pure: no I/O. */
#ifndef FS_CONTROLLER_BUILD_H
#define FS_CONTROLLER_BUILD_H

#include <jansson.h>

#include "common/fs_err.h"
#include "decompose.h"
#include "microtask.h"

#define FS_API_VERSION "foresight.sh/v1alpha1"
#define FS_SCHEDULER_NAME "foresight"
#define FS_LABEL_MICROTASK "foresight.sh/microtask"
#define FS_LABEL_PARENT "foresight.sh/parent"
#define FS_LABEL_ROOT "foresight.sh/root"
#define FS_LABEL_TASK_TYPE "foresight.sh/task-type"

/* A child MicroTask of parent (parsed from parent_obj, which supplies uid and the spec to
 * copy). The child keeps the parent's template, type, SLA, anomaly policy and resources
 * (with duration scaled to its share); it carries spec.split with its own limits and e
 * frozen only if it splits again. New reference in *out. */
enum fs_err build_child(const struct microtask *parent, const json_t *parent_obj,
                        const struct decompose_child *c, const struct decompose_estimate *e,
                        json_t **out);

/* The Pod of a leaf, for the scheduler named scheduler_name (NULL: FS_SCHEDULER_NAME).
 * Environment added to every container: FORESIGHT_MICROTASK,
 * FORESIGHT_TASK_TYPE, FORESIGHT_SHARD_INDEX, FORESIGHT_SHARD_COUNT, FORESIGHT_SHARD_PATH,
 * FORESIGHT_WORK_START, FORESIGHT_WORK_END (exclusive). restartPolicy defaults to Never.
 * New reference in *out; FS_EINVAL when the template is unusable. */
enum fs_err build_pod(const struct microtask *leaf, const char *scheduler_name, json_t **out);

/* The linear estimate a split is planned with: the frozen spec.split.estimate of a child, else
 * spec.resources (duration spread evenly over the work units, default_s when no duration is
 * given; cpu and memory flat). A TaskProfile's regression replaces this once learnt. */
void build_estimate(const struct microtask *mt, double default_s, struct decompose_estimate *e);

#endif
