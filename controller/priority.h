/* Priority of a micro-task for the admission queue, from its SLA class, its deadline slack
 * (earliest deadline first) and the cluster load. The class is a band that always dominates;
 * inside a band, less slack means a higher score, and a busier cluster shrinks the slack by
 * the queueing delay it predicts, so deadline work moves up when capacity is scarce. */
#ifndef FS_CONTROLLER_PRIORITY_H
#define FS_CONTROLLER_PRIORITY_H

#include <stddef.h>
#include <stdint.h>

#include "common/fs_err.h"

enum sla_class { SLA_CRITICAL = 0, SLA_HIGH, SLA_NORMAL, SLA_LOW, SLA_BATCH };
#define SLA_NCLASS 5

#define PRIORITY_BAND 200000          /* score width of one class */
#define PRIORITY_HORIZON_S 3600.0     /* slack at which urgency is half of its band */
#define PRIORITY_MAX_LOAD 0.95        /* queueing delay is taken at this load at most */

/* "critical", "high", "normal", "low", "batch" <-> enum; parse gives FS_EINVAL otherwise. */
const char *sla_class_name(enum sla_class c);
enum fs_err sla_class_parse(const char *s, enum sla_class *c);

struct priority_input {
    enum sla_class cls;
    int has_deadline;
    int64_t deadline_s;    /* unix seconds */
    int64_t now_s;         /* unix seconds */
    double remaining_s;    /* predicted time the task still needs, >= 0 */
    double load;           /* predicted demand over capacity in the admission window, >= 0 */
};

struct priority_result {
    double score;          /* higher goes first; class band + urgency in [0, PRIORITY_BAND) */
    int32_t value;         /* floor(score), for status.priority */
    double slack_s;        /* deadline - now - remaining - wait; 0 without a deadline */
    double wait_s;         /* queueing delay the load predicts */
    char reason[160];      /* "class=high slack=52m wait=4m load=0.80" */
};

/* FS_EINVAL (and a reason in out->reason) when remaining_s or load is negative or not finite. */
enum fs_err priority_compute(const struct priority_input *in, struct priority_result *out);

/* Admission order: higher score first, then earlier deadline (none is last), then older
 * creation, then name, so that the order is total and the same in every replica. */
struct priority_key {
    double score;
    int64_t deadline_s;    /* INT64_MAX without a deadline */
    int64_t created_s;
    const char *name;
};
int priority_key_cmp(const struct priority_key *a, const struct priority_key *b);

#endif
