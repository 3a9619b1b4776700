/* Priority arithmetic (see priority.h). Urgency inside a band is H / (H + slack), strictly
 * decreasing in slack so that equal classes are served earliest deadline first; a task that
 * will miss its deadline anyway sits at the top of its band, later misses higher still. */
#include "priority.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

static const char *const class_names[SLA_NCLASS] = {"critical", "high", "normal", "low", "batch"};

const char *sla_class_name(enum sla_class c)
{
    return (unsigned)c < SLA_NCLASS ? class_names[c] : "unknown";
}

enum fs_err sla_class_parse(const char *s, enum sla_class *c)
{
    for (int i = 0; s && i < SLA_NCLASS; i++)
        if (strcmp(s, class_names[i]) == 0) {
            *c = (enum sla_class)i;
            return FS_OK;
        }
    return FS_EINVAL;
}

enum fs_err priority_compute(const struct priority_input *in, struct priority_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!isfinite(in->remaining_s) || in->remaining_s < 0) {
        snprintf(out->reason, sizeof(out->reason), "remaining duration must be finite and not negative");
        return FS_EINVAL;
    }
    if (!isfinite(in->load) || in->load < 0) {
        snprintf(out->reason, sizeof(out->reason), "cluster load must be finite and not negative");
        return FS_EINVAL;
    }
    if ((unsigned)in->cls >= SLA_NCLASS) {
        snprintf(out->reason, sizeof(out->reason), "unknown sla class");
        return FS_EINVAL;
    }
    double band = (double)(SLA_NCLASS - 1 - in->cls) * PRIORITY_BAND;
    double urgency = 0;
    if (in->has_deadline) {
        /* M/M/1 waiting time: rho / (1 - rho) service times */
        double rho = in->load < PRIORITY_MAX_LOAD ? in->load : PRIORITY_MAX_LOAD;
        out->wait_s = in->remaining_s * rho / (1 - rho);
        out->slack_s = (double)(in->deadline_s - in->now_s) - in->remaining_s - out->wait_s;
        const double top = PRIORITY_BAND - 2;   /* urgency at zero slack */
        if (out->slack_s >= 0)
            urgency = top * PRIORITY_HORIZON_S / (PRIORITY_HORIZON_S + out->slack_s);
        else
            urgency = top + 1 - PRIORITY_HORIZON_S / (PRIORITY_HORIZON_S - out->slack_s);
    }
    out->score = band + urgency;
    out->value = (int32_t)floor(out->score);

    char slack[DURATION_STR_MAX], wait[DURATION_STR_MAX];
    if (in->has_deadline) {
        duration_format(out->slack_s, slack, sizeof(slack));
        duration_format(out->wait_s, wait, sizeof(wait));
        snprintf(out->reason, sizeof(out->reason), "class=%s slack=%s wait=%s load=%.2f",
                 sla_class_name(in->cls), slack, wait, in->load);
    } else {
        snprintf(out->reason, sizeof(out->reason), "class=%s deadline=none load=%.2f",
                 sla_class_name(in->cls), in->load);
    }
    return FS_OK;
}

int priority_key_cmp(const struct priority_key *a, const struct priority_key *b)
{
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->deadline_s != b->deadline_s)
        return a->deadline_s < b->deadline_s ? -1 : 1;
    if (a->created_s != b->created_s)
        return a->created_s < b->created_s ? -1 : 1;
    return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}
