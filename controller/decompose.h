/* Recursive decomposition of a MicroTask's work into child MicroTasks: pure arithmetic, no I/O.
 * A plan depends only on its inputs (the task's work range, a frozen linear estimate, limits),
 * so the same task always yields the same children with the same names: a restarted
 * controller recreates nothing twice. One call plans one level; children that must split
 * again carry their own (reduced) limits and are planned by their own reconcile. */
#ifndef FS_CONTROLLER_DECOMPOSE_H
#define FS_CONTROLLER_DECOMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"

#define DECOMPOSE_NAME_MAX 63     /* names are label values on pods: 63 characters at most */
#define DECOMPOSE_PATH_MAX 64     /* "0.3.1": child indexes from the root */
#define DECOMPOSE_MAX_FANOUT 1000
#define DECOMPOSE_MAX_DEPTH 8

/* Linear model of a task of u work units: value = fixed + per_unit * u. Frozen at the root
 * (from the TaskProfile's regression on work size, or from spec.resources) and copied to
 * children, so that learning something new never re-plans a tree already being built. */
struct decompose_estimate {
    double fixed_s, s_per_unit;                   /* predicted duration, seconds */
    double fixed_cpu_milli, cpu_milli_per_unit;   /* predicted cpu peak, milli-cores */
    double fixed_mem_bytes, mem_bytes_per_unit;   /* predicted memory peak, bytes */
};

struct decompose_limits {
    double target_s;         /* a leaf's predicted duration should be at most this */
    int64_t max_cpu_milli;   /* a leaf's predicted cpu peak should fit this; 0: no limit */
    int64_t max_mem_bytes;   /* same for memory; 0: no limit */
    uint32_t max_fan_out;    /* children of one task, 2..DECOMPOSE_MAX_FANOUT */
    uint32_t max_depth;      /* levels of splitting left below this task, 0..DECOMPOSE_MAX_DEPTH */
    uint32_t max_leaves;     /* leaves this task's subtree may have, >= 1 */
    int64_t min_units;       /* no child gets fewer units than this, >= 1 */
};

/* What a task becomes. */
enum decompose_verdict {
    DECOMPOSE_SPLIT = 0,      /* split into children */
    DECOMPOSE_LEAF_FITS,      /* predicted duration and resources are within the limits */
    DECOMPOSE_LEAF_DEPTH,     /* too big, but no level of splitting is left */
    DECOMPOSE_LEAF_MIN_UNITS, /* too big, but two children would get fewer than min_units */
    DECOMPOSE_LEAF_LEAVES,    /* too big, but the leaf budget of the tree is spent */
    DECOMPOSE_LEAF_FIXED,     /* too big, but only in what splitting cannot reduce (fixed part) */
};

/* Short CamelCase name usable as a condition reason ("LeafFits", "DepthLimit", ...). */
const char *decompose_verdict_reason(enum decompose_verdict v);

/* The task being decomposed. */
struct decompose_task {
    const char *name;   /* its MicroTask name (at most DECOMPOSE_NAME_MAX characters) */
    const char *path;   /* its path from the root, "" for a MicroTask a user created */
    uint32_t depth;     /* 0 for a MicroTask a user created */
    int64_t offset;     /* first work unit */
    int64_t units;      /* number of work units, >= 1 */
};

struct decompose_child {
    char name[DECOMPOSE_NAME_MAX + 1];
    char path[DECOMPOSE_PATH_MAX];
    uint32_t index, count;   /* position among its siblings */
    uint32_t depth;          /* parent's depth + 1 */
    int64_t offset, units;   /* its work range [offset, offset + units) */
    struct decompose_limits limits;   /* what to plan it with, if it splits again */
    enum decompose_verdict verdict;   /* what it will become (SPLIT or a leaf reason) */
    double pred_s, pred_cpu_milli, pred_mem_bytes;   /* the estimate at its size */
};

/* Checks an estimate and limits: FS_EINVAL (with a reason in err, may be NULL) when a value
 * is negative, not finite, or out of its documented range. */
enum fs_err decompose_check(const struct decompose_estimate *e, const struct decompose_limits *l,
                            char *err, size_t errlen);

/* What a task of `units` units becomes under e and l; *fan_out (may be NULL) gets the number
 * of children when the verdict is DECOMPOSE_SPLIT, 1 otherwise. Inputs must pass decompose_check. */
enum decompose_verdict decompose_judge(const struct decompose_estimate *e,
                                       const struct decompose_limits *l, int64_t units,
                                       uint32_t *fan_out);

/* Plans the direct children of t. *out gets a new array of *n children (the caller frees it);
 * *n is 0 and *out NULL when t is a leaf (then *verdict says why). FS_EINVAL for bad input. */
enum fs_err decompose_children(const struct decompose_task *t, const struct decompose_estimate *e,
                               const struct decompose_limits *l, enum decompose_verdict *verdict,
                               struct decompose_child **out, size_t *n, char *err, size_t errlen);

/* Plans the whole tree below t and returns its leaves in work order (a leaf-only t yields
 * itself as the one leaf). For tests, the benchmark and the predicted leaf count in status.
 * *out is a new array the caller frees. */
enum fs_err decompose_leaves(const struct decompose_task *t, const struct decompose_estimate *e,
                             const struct decompose_limits *l, struct decompose_child **out,
                             size_t *n, char *err, size_t errlen);

/* Deterministic name of child `index` of `parent`: "<parent>-<index>" when that fits in
 * DECOMPOSE_NAME_MAX characters, else a shortened parent, a hash of the full parent name,
 * and the index. buf holds at least DECOMPOSE_NAME_MAX + 1 bytes. */
void decompose_child_name(const char *parent, uint32_t index, char *buf, size_t len);

#endif
