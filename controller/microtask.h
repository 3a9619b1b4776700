/* A MicroTask object (JSON from the API server) parsed into a plain struct, with the CRD's
 * defaults applied and its rules checked again: the controller never trusts that the CRD in
 * the cluster is the one in crds/. Errors name the field ("spec.split.maxFanOut: ..."). */
#ifndef FS_CONTROLLER_MICROTASK_H
#define FS_CONTROLLER_MICROTASK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "dag.h"
#include "decompose.h"
#include "priority.h"

#define MT_NAME_MAX 63
#define MT_MAX_DEPENDS 64
#define MT_ERR_MAX 256

enum mt_phase {
    MT_PHASE_NONE = 0, /* no status yet */
    MT_PHASE_PENDING, MT_PHASE_BLOCKED, MT_PHASE_QUEUED, MT_PHASE_SCHEDULED,
    MT_PHASE_RUNNING, MT_PHASE_SUCCEEDED, MT_PHASE_FAILED,
};

enum mt_anomaly_action { MT_ANOMALY_ALERT = 0, MT_ANOMALY_RESERVE, MT_ANOMALY_THROTTLE };

struct mt_split {
    double target_s;
    int64_t max_cpu_milli;   /* 0: not set (the controller uses the largest node) */
    int64_t max_mem_bytes;   /* 0: not set */
    uint32_t max_fan_out, max_depth, max_leaves;
    int64_t min_units;
    int has_estimate;        /* spec.split.estimate was set (frozen by a parent) */
    struct decompose_estimate estimate;
};

struct microtask {
    char ns[MT_NAME_MAX + 1];
    char name[MT_NAME_MAX + 1];
    char uid[64];
    int64_t generation;
    int64_t created_s;             /* metadata.creationTimestamp, unix seconds; 0 if absent */

    char task_type[MT_NAME_MAX + 1];
    json_t *pod_template;          /* spec.template: own reference, released by microtask_release */

    int has_work;
    int64_t work_units, work_offset;

    int has_split;
    struct mt_split split;

    int has_shard;                 /* set by the controller on children */
    uint32_t shard_index, shard_count, shard_depth;
    char shard_path[DECOMPOSE_PATH_MAX];
    char shard_root[MT_NAME_MAX + 1];

    char **depends_on;             /* n_depends owned strings */
    size_t n_depends;
    enum dag_policy on_dependency_failure;

    enum sla_class sla_class;
    int has_deadline;
    int64_t deadline_s;            /* unix seconds */
    char priority_class_name[254];

    int has_resources;             /* spec.resources given: the fallback prediction */
    int64_t res_cpu_milli, res_mem_bytes, res_net_bps;
    double res_duration_s;         /* 0 when not given */

    enum mt_anomaly_action anomaly_action;
    double anomaly_window_s;

    enum mt_phase phase;           /* status.phase */
    int64_t observed_generation;   /* status.observedGeneration */
};

void microtask_init(struct microtask *mt);
void microtask_release(struct microtask *mt);

/* Parses a whole MicroTask object into mt (initialised or released before, released first).
 * On error mt is left released, the result is FS_EPARSE (shape, format) or FS_EINVAL (a rule
 * such as a self-dependency), and err (may be NULL) says which field and why. */
enum fs_err microtask_parse(struct microtask *mt, const json_t *obj, char *err, size_t errlen);

/* The decomposition limits of a task with a split (the CRD's defaults where unset). */
void microtask_split_limits(const struct microtask *mt, struct decompose_limits *l);

/* "Pending", ... <-> enum; unknown strings give MT_PHASE_NONE. */
const char *mt_phase_name(enum mt_phase p);
enum mt_phase mt_phase_parse(const char *s);
/* The dependency state of a phase, for dag_evaluate. */
enum dag_state mt_phase_dag_state(enum mt_phase p);

#endif
