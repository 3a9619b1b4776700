/* Dependencies between MicroTasks of one namespace (spec.dependsOn): validation (cycles with
 * the cycle's path, missing targets), readiness (every dependency succeeded) and failure
 * propagation by each dependant's policy. Pure: the caller passes a snapshot of the tasks.
 * A cycle or a missing target blocks its whole graph (weakly connected component), so that
 * nothing of a broken graph starts; blocking is re-evaluated on every snapshot. */
#ifndef FS_CONTROLLER_DAG_H
#define FS_CONTROLLER_DAG_H

#include <stddef.h>

#include "common/fs_err.h"

#define DAG_MSG_MAX 512

enum dag_state { DAG_PENDING = 0, DAG_RUNNING, DAG_SUCCEEDED, DAG_FAILED };

/* spec.onDependencyFailure */
enum dag_policy {
    DAG_ON_FAILURE_FAIL = 0, /* a failed dependency fails this task */
    DAG_ON_FAILURE_WAIT,     /* it stays blocked until the dependency succeeds */
    DAG_ON_FAILURE_IGNORE,   /* a failed dependency counts as finished */
};

struct dag_node {
    const char *name;
    const char *const *deps; /* borrowed names, n_deps of them */
    size_t n_deps;
    enum dag_state state;
    enum dag_policy policy;
};

enum dag_verdict_kind {
    DAG_READY = 0,     /* every dependency is done: may start (or has) */
    DAG_WAITING,       /* some dependency is not done yet */
    DAG_CYCLE,         /* its graph has a cycle: nothing of it starts */
    DAG_MISSING,       /* its graph depends on a MicroTask that does not exist */
    DAG_DEP_FAILED,    /* a dependency failed and the policy is Fail: this task fails */
    DAG_DEP_FAILED_WAIT, /* a dependency failed and the policy is Wait */
};

struct dag_verdict {
    enum dag_verdict_kind kind;
    const char *reason;         /* condition reason, static string */
    char message[DAG_MSG_MAX];  /* what a user reads in the condition and the Event */
};

/* Evaluates every node; out[i] is the verdict of nodes[i]. Terminal nodes (Succeeded, Failed)
 * get DAG_READY unless their graph is blocked. FS_EINVAL when two nodes share a name,
 * FS_ENOMEM on allocation failure. */
enum fs_err dag_evaluate(const struct dag_node *nodes, size_t n, struct dag_verdict *out);

/* "Ready", "Waiting", ... for logs and metrics. */
const char *dag_verdict_name(enum dag_verdict_kind k);

#endif
