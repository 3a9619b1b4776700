/* MicroTask JSON -> struct microtask. Each field is read by a small typed getter that knows
 * its JSON path, so every error message starts with the path a user would write in YAML.
 * Defaults are the CRD's (crds/foresight.sh_microtasks.yaml): keep the two in step. */
#include "microtask.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "kube/quantity.h"
#include "ledger/curve.h"

struct pctx {
    char *err;
    size_t errlen;
};

static enum fs_err perr(struct pctx *p, enum fs_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum fs_err perr(struct pctx *p, enum fs_err rc, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$, at most MT_NAME_MAX: task types, names in dependsOn */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '-' || c == '.') && i > 0 && i < n - 1))
            return 0;
    }
    return 1;
}

static enum fs_err get_object(struct pctx *p, const json_t *obj, const char *key, const char *path,
                              int required, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? perr(p, FS_EPARSE, "%s: Required value", path) : FS_OK;
    if (!json_is_object(v))
        return perr(p, FS_EPARSE, "%s: must be an object", path);
    *out = v;
    return FS_OK;
}

static enum fs_err get_string(struct pctx *p, const json_t *obj, const char *key, const char *path,
                              int required, char *buf, size_t len, int *present)
{
    json_t *v = json_object_get(obj, key);
    if (present)
        *present = 0;
    if (!v || json_is_null(v))
        return required ? perr(p, FS_EPARSE, "%s: Required value", path) : FS_OK;
    if (!json_is_string(v))
        return perr(p, FS_EPARSE, "%s: must be a string", path);
    const char *s = json_string_value(v);
    if (strlen(s) >= len)
        return perr(p, FS_EPARSE, "%s: longer than %zu characters", path, len - 1);
    snprintf(buf, len, "%s", s);
    if (present)
        *present = 1;
    return FS_OK;
}

static enum fs_err get_int(struct pctx *p, const json_t *obj, const char *key, const char *path,
                           int64_t min, int64_t max, int64_t *out, int *present)
{
    json_t *v = json_object_get(obj, key);
    if (present)
        *present = 0;
    if (!v || json_is_null(v))
        return FS_OK;
    if (!json_is_integer(v))
        return perr(p, FS_EPARSE, "%s: must be an integer", path);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return perr(p, FS_EPARSE, "%s: must be from %lld to %lld, not %lld", path, (long long)min,
                    (long long)max, (long long)i);
    *out = i;
    if (present)
        *present = 1;
    return FS_OK;
}

static enum fs_err get_u32(struct pctx *p, const json_t *obj, const char *key, const char *path,
                           int64_t min, int64_t max, uint32_t *out)
{
    int64_t v = *out;
    enum fs_err rc = get_int(p, obj, key, path, min, max, &v, NULL);
    if (rc == FS_OK)
        *out = (uint32_t)v;
    return rc;
}

static enum fs_err get_number(struct pctx *p, const json_t *obj, const char *key, const char *path,
                              double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return FS_OK;
    if (!json_is_number(v))
        return perr(p, FS_EPARSE, "%s: must be a number", path);
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0)
        return perr(p, FS_EPARSE, "%s: must be a finite number, not negative", path);
    *out = d;
    return FS_OK;
}

/* A quantity written as a string ("500m", "1Gi") or a JSON integer (cores, bytes). */
static enum fs_err get_quantity(struct pctx *p, const json_t *obj, const char *key, const char *path,
                                int milli, int64_t *out, int *present)
{
    json_t *v = json_object_get(obj, key);
    char buf[64];
    const char *s;
    if (present)
        *present = 0;
    if (!v || json_is_null(v))
        return FS_OK;
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        s = buf;
    } else if (json_is_string(v)) {
        s = json_string_value(v);
    } else {
        return perr(p, FS_EPARSE, "%s: must be a quantity such as \"500m\" or \"1Gi\"", path);
    }
    enum fs_err rc = milli ? kube_parse_milli(s, out) : kube_parse_bytes(s, out);
    if (rc != FS_OK)
        return perr(p, rc == FS_ERANGE ? FS_ERANGE : FS_EPARSE,
                    "%s: \"%.40s\" is not a valid quantity (%s)", path, s, fs_strerror(rc));
    if (*out < 0)
        return perr(p, FS_EPARSE, "%s: must not be negative", path);
    if (present)
        *present = 1;
    return FS_OK;
}

static enum fs_err get_duration(struct pctx *p, const json_t *obj, const char *key, const char *path,
                                int required, double *out, int *present)
{
    char buf[DURATION_STR_MAX + 1];
    int have = 0;
    enum fs_err rc = get_string(p, obj, key, path, required, buf, sizeof(buf), &have);
    if (present)
        *present = have;
    if (rc != FS_OK || !have)
        return rc;
    if (duration_parse(buf, out) != FS_OK)
        return perr(p, FS_EPARSE, "%s: \"%s\" is not a duration such as 90s, 5m or 1h30m", path, buf);
    return FS_OK;
}

void microtask_init(struct microtask *mt)
{
    memset(mt, 0, sizeof(*mt));
}

void microtask_release(struct microtask *mt)
{
    json_decref(mt->pod_template);
    for (size_t i = 0; i < mt->n_depends; i++)
        free(mt->depends_on[i]);
    free(mt->depends_on);
    microtask_init(mt);
}

static const char *const phase_names[] = {
    "", "Pending", "Blocked", "Queued", "Scheduled", "Running", "Succeeded", "Failed",
};

const char *mt_phase_name(enum mt_phase ph)
{
    return (unsigned)ph < sizeof(phase_names) / sizeof(phase_names[0]) ? phase_names[ph] : "";
}

enum mt_phase mt_phase_parse(const char *s)
{
    for (size_t i = 1; s && i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
        if (strcmp(s, phase_names[i]) == 0)
            return (enum mt_phase)i;
    return MT_PHASE_NONE;
}

enum dag_state mt_phase_dag_state(enum mt_phase ph)
{
    switch (ph) {
    case MT_PHASE_SUCCEEDED: return DAG_SUCCEEDED;
    case MT_PHASE_FAILED: return DAG_FAILED;
    case MT_PHASE_SCHEDULED:
    case MT_PHASE_RUNNING: return DAG_RUNNING;
    default: return DAG_PENDING;
    }
}

static enum fs_err parse_metadata(struct pctx *p, struct microtask *mt, const json_t *obj)
{
    enum fs_err rc;
    json_t *md;
    char ts[64];
    int have = 0;
    int64_t gen = 0;
    if ((rc = get_object(p, obj, "metadata", "metadata", 1, &md)) != FS_OK)
        return rc;
    if ((rc = get_string(p, md, "name", "metadata.name", 1, mt->name, sizeof(mt->name), NULL)) != FS_OK ||
        (rc = get_string(p, md, "namespace", "metadata.namespace", 0, mt->ns, sizeof(mt->ns), NULL)) != FS_OK ||
        (rc = get_string(p, md, "uid", "metadata.uid", 0, mt->uid, sizeof(mt->uid), NULL)) != FS_OK ||
        (rc = get_int(p, md, "generation", "metadata.generation", 0, INT64_MAX, &gen, NULL)) != FS_OK ||
        (rc = get_string(p, md, "creationTimestamp", "metadata.creationTimestamp", 0, ts, sizeof(ts), &have)) != FS_OK)
        return rc;
    mt->generation = gen;
    if (have && rfc3339_parse(ts, &mt->created_s) != FS_OK)
        return perr(p, FS_EPARSE, "metadata.creationTimestamp: \"%s\" is not an RFC 3339 time", ts);
    return FS_OK;
}

static enum fs_err parse_split(struct pctx *p, struct microtask *mt, const json_t *split)
{
    enum fs_err rc;
    struct mt_split *s = &mt->split;
    json_t *maxr, *est;
    int64_t min_units = 1;
    s->max_fan_out = 16;
    s->max_depth = 3;
    s->max_leaves = 1000;
    if ((rc = get_duration(p, split, "targetDuration", "spec.split.targetDuration", 1, &s->target_s, NULL)) != FS_OK)
        return rc;
    if (s->target_s < 1)
        return perr(p, FS_EINVAL, "spec.split.targetDuration must be at least 1s");
    if ((rc = get_object(p, split, "maxResources", "spec.split.maxResources", 0, &maxr)) != FS_OK)
        return rc;
    if (maxr) {
        int have_cpu = 0, have_mem = 0;
        if ((rc = get_quantity(p, maxr, "cpu", "spec.split.maxResources.cpu", 1, &s->max_cpu_milli, &have_cpu)) != FS_OK ||
            (rc = get_quantity(p, maxr, "memory", "spec.split.maxResources.memory", 0, &s->max_mem_bytes, &have_mem)) != FS_OK)
            return rc;
        if (have_cpu && s->max_cpu_milli <= 0)
            return perr(p, FS_EINVAL, "spec.split.maxResources.cpu must be greater than zero");
        if (have_mem && s->max_mem_bytes <= 0)
            return perr(p, FS_EINVAL, "spec.split.maxResources.memory must be greater than zero");
    }
    if ((rc = get_u32(p, split, "maxFanOut", "spec.split.maxFanOut", 2, DECOMPOSE_MAX_FANOUT, &s->max_fan_out)) != FS_OK ||
        (rc = get_u32(p, split, "maxDepth", "spec.split.maxDepth", 1, DECOMPOSE_MAX_DEPTH, &s->max_depth)) != FS_OK ||
        (rc = get_u32(p, split, "maxLeaves", "spec.split.maxLeaves", 2, 100000, &s->max_leaves)) != FS_OK ||
        (rc = get_int(p, split, "minUnits", "spec.split.minUnits", 1, INT64_MAX, &min_units, NULL)) != FS_OK)
        return rc;
    s->min_units = min_units;
    if (s->max_leaves < s->max_fan_out)
        return perr(p, FS_EINVAL, "spec.split.maxLeaves must be at least spec.split.maxFanOut");
    if ((rc = get_object(p, split, "estimate", "spec.split.estimate", 0, &est)) != FS_OK)
        return rc;
    if (est) {
        struct decompose_estimate *e = &s->estimate;
        s->has_estimate = 1;
        if ((rc = get_number(p, est, "fixedSeconds", "spec.split.estimate.fixedSeconds", &e->fixed_s)) != FS_OK ||
            (rc = get_number(p, est, "secondsPerUnit", "spec.split.estimate.secondsPerUnit", &e->s_per_unit)) != FS_OK ||
            (rc = get_number(p, est, "fixedCpuMilli", "spec.split.estimate.fixedCpuMilli", &e->fixed_cpu_milli)) != FS_OK ||
            (rc = get_number(p, est, "cpuMilliPerUnit", "spec.split.estimate.cpuMilliPerUnit", &e->cpu_milli_per_unit)) != FS_OK ||
            (rc = get_number(p, est, "fixedMemoryBytes", "spec.split.estimate.fixedMemoryBytes", &e->fixed_mem_bytes)) != FS_OK ||
            (rc = get_number(p, est, "memoryBytesPerUnit", "spec.split.estimate.memoryBytesPerUnit", &e->mem_bytes_per_unit)) != FS_OK)
            return rc;
    }
    return FS_OK;
}

static enum fs_err parse_depends(struct pctx *p, struct microtask *mt, const json_t *spec)
{
    json_t *deps = json_object_get(spec, "dependsOn");
    if (!deps || json_is_null(deps))
        return FS_OK;
    if (!json_is_array(deps))
        return perr(p, FS_EPARSE, "spec.dependsOn: must be a list of MicroTask names");
    size_t n = json_array_size(deps);
    if (n > MT_MAX_DEPENDS)
        return perr(p, FS_EPARSE, "spec.dependsOn: at most %d names, not %zu", MT_MAX_DEPENDS, n);
    if (n == 0)
        return FS_OK;
    mt->depends_on = calloc(n, sizeof(char *));
    if (!mt->depends_on)
        return FS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(deps, i);
        if (!json_is_string(d) || !valid_name(json_string_value(d)))
            return perr(p, FS_EPARSE, "spec.dependsOn[%zu]: must be a MicroTask name (lowercase letters, digits, '-', '.')", i);
        const char *name = json_string_value(d);
        if (strcmp(name, mt->name) == 0)
            return perr(p, FS_EINVAL, "spec.dependsOn: a MicroTask cannot depend on itself");
        for (size_t j = 0; j < mt->n_depends; j++)
            if (strcmp(mt->depends_on[j], name) == 0)
                return perr(p, FS_EPARSE, "spec.dependsOn[%zu]: duplicate name %s", i, name);
        if (!(mt->depends_on[mt->n_depends] = strdup(name)))
            return FS_ENOMEM;
        mt->n_depends++;
    }
    return FS_OK;
}

static enum fs_err parse_spec(struct pctx *p, struct microtask *mt, const json_t *spec)
{
    enum fs_err rc;
    json_t *o, *tspec, *containers;
    char buf[64];
    int have = 0;

    if ((rc = get_string(p, spec, "taskType", "spec.taskType", 1, mt->task_type, sizeof(mt->task_type), NULL)) != FS_OK)
        return rc;
    if (!valid_name(mt->task_type))
        return perr(p, FS_EPARSE, "spec.taskType: \"%s\" must be lowercase letters, digits, '-' and '.', at most 63", mt->task_type);

    if ((rc = get_object(p, spec, "template", "spec.template", 1, &o)) != FS_OK ||
        (rc = get_object(p, o, "spec", "spec.template.spec", 1, &tspec)) != FS_OK)
        return rc;
    containers = json_object_get(tspec, "containers");
    if (!json_is_array(containers) || json_array_size(containers) == 0)
        return perr(p, FS_EPARSE, "spec.template.spec.containers: at least one container is required");
    mt->pod_template = json_incref(o);

    if ((rc = get_object(p, spec, "work", "spec.work", 0, &o)) != FS_OK)
        return rc;
    if (o) {
        mt->has_work = 1;
        if ((rc = get_int(p, o, "units", "spec.work.units", 1, 1000000000000LL, &mt->work_units, &have)) != FS_OK)
            return rc;
        if (!have)
            return perr(p, FS_EPARSE, "spec.work.units: Required value");
        if ((rc = get_int(p, o, "offset", "spec.work.offset", 0, 1000000000000LL, &mt->work_offset, NULL)) != FS_OK)
            return rc;
    }

    if ((rc = get_object(p, spec, "split", "spec.split", 0, &o)) != FS_OK)
        return rc;
    if (o) {
        if (!mt->has_work)
            return perr(p, FS_EINVAL, "spec.split needs spec.work: there is nothing to split without a work size");
        mt->has_split = 1;
        if ((rc = parse_split(p, mt, o)) != FS_OK)
            return rc;
        if (mt->split.min_units > mt->work_units)
            return perr(p, FS_EINVAL, "spec.split.minUnits must not exceed spec.work.units");
    }

    if ((rc = get_object(p, spec, "shard", "spec.shard", 0, &o)) != FS_OK)
        return rc;
    if (o) {
        int64_t idx = -1, cnt = -1, depth = -1;
        int hi = 0, hc = 0, hd = 0;
        if ((rc = get_int(p, o, "index", "spec.shard.index", 0, DECOMPOSE_MAX_FANOUT - 1, &idx, &hi)) != FS_OK ||
            (rc = get_int(p, o, "count", "spec.shard.count", 1, DECOMPOSE_MAX_FANOUT, &cnt, &hc)) != FS_OK ||
            (rc = get_int(p, o, "depth", "spec.shard.depth", 1, DECOMPOSE_MAX_DEPTH, &depth, &hd)) != FS_OK ||
            (rc = get_string(p, o, "path", "spec.shard.path", 0, mt->shard_path, sizeof(mt->shard_path), NULL)) != FS_OK ||
            (rc = get_string(p, o, "root", "spec.shard.root", 0, mt->shard_root, sizeof(mt->shard_root), NULL)) != FS_OK)
            return rc;
        if (!hi || !hc || !hd)
            return perr(p, FS_EPARSE, "spec.shard: index, count and depth are required");
        if (idx >= cnt)
            return perr(p, FS_EINVAL, "spec.shard.index must be less than spec.shard.count");
        if (!mt->has_work)
            return perr(p, FS_EINVAL, "spec.shard needs spec.work (the shard's work range)");
        mt->has_shard = 1;
        mt->shard_index = (uint32_t)idx;
        mt->shard_count = (uint32_t)cnt;
        mt->shard_depth = (uint32_t)depth;
    }

    if ((rc = parse_depends(p, mt, spec)) != FS_OK)
        return rc;
    mt->on_dependency_failure = DAG_ON_FAILURE_FAIL;
    if ((rc = get_string(p, spec, "onDependencyFailure", "spec.onDependencyFailure", 0, buf, sizeof(buf), &have)) != FS_OK)
        return rc;
    if (have) {
        if (strcmp(buf, "Fail") == 0)
            mt->on_dependency_failure = DAG_ON_FAILURE_FAIL;
        else if (strcmp(buf, "Wait") == 0)
            mt->on_dependency_failure = DAG_ON_FAILURE_WAIT;
        else if (strcmp(buf, "Ignore") == 0)
            mt->on_dependency_failure = DAG_ON_FAILURE_IGNORE;
        else
            return perr(p, FS_EPARSE, "spec.onDependencyFailure: \"%s\" is not one of Fail, Wait, Ignore", buf);
    }

    mt->sla_class = SLA_NORMAL;
    if ((rc = get_object(p, spec, "sla", "spec.sla", 0, &o)) != FS_OK)
        return rc;
    if (o) {
        if ((rc = get_string(p, o, "class", "spec.sla.class", 0, buf, sizeof(buf), &have)) != FS_OK)
            return rc;
        if (have && sla_class_parse(buf, &mt->sla_class) != FS_OK)
            return perr(p, FS_EPARSE, "spec.sla.class: \"%s\" is not one of critical, high, normal, low, batch", buf);
        if ((rc = get_string(p, o, "deadline", "spec.sla.deadline", 0, buf, sizeof(buf), &have)) != FS_OK)
            return rc;
        if (have) {
            if (rfc3339_parse(buf, &mt->deadline_s) != FS_OK)
                return perr(p, FS_EPARSE, "spec.sla.deadline must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not \"%s\"", buf);
            mt->has_deadline = 1;
        }
    }
    if ((rc = get_string(p, spec, "priorityClassName", "spec.priorityClassName", 0, mt->priority_class_name,
                         sizeof(mt->priority_class_name), NULL)) != FS_OK)
        return rc;

    if ((rc = get_object(p, spec, "resources", "spec.resources", 0, &o)) != FS_OK)
        return rc;
    if (o) {
        mt->has_resources = 1;
        if ((rc = get_quantity(p, o, "cpu", "spec.resources.cpu", 1, &mt->res_cpu_milli, NULL)) != FS_OK ||
            (rc = get_quantity(p, o, "memory", "spec.resources.memory", 0, &mt->res_mem_bytes, NULL)) != FS_OK ||
            (rc = get_quantity(p, o, "network", "spec.resources.network", 0, &mt->res_net_bps, NULL)) != FS_OK ||
            (rc = get_duration(p, o, "duration", "spec.resources.duration", 0, &mt->res_duration_s, NULL)) != FS_OK)
            return rc;
    }

    mt->anomaly_action = MT_ANOMALY_ALERT;
    mt->anomaly_window_s = 120;
    if ((rc = get_object(p, spec, "anomaly", "spec.anomaly", 0, &o)) != FS_OK)
        return rc;
    if (o) {
        if ((rc = get_string(p, o, "action", "spec.anomaly.action", 0, buf, sizeof(buf), &have)) != FS_OK)
            return rc;
        if (have) {
            if (strcmp(buf, "Alert") == 0)
                mt->anomaly_action = MT_ANOMALY_ALERT;
            else if (strcmp(buf, "Reserve") == 0)
                mt->anomaly_action = MT_ANOMALY_RESERVE;
            else if (strcmp(buf, "Throttle") == 0)
                mt->anomaly_action = MT_ANOMALY_THROTTLE;
            else
                return perr(p, FS_EPARSE, "spec.anomaly.action: \"%s\" is not one of Alert, Reserve, Throttle", buf);
        }
        if ((rc = get_duration(p, o, "window", "spec.anomaly.window", 0, &mt->anomaly_window_s, NULL)) != FS_OK)
            return rc;
    }
    return FS_OK;
}

enum fs_err microtask_parse(struct microtask *mt, const json_t *obj, char *err, size_t errlen)
{
    struct pctx p = {err, errlen};
    enum fs_err rc;
    json_t *spec, *status;
    char buf[32];
    int have = 0;

    microtask_release(mt);
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(obj)) {
        rc = perr(&p, FS_EPARSE, "a MicroTask must be a JSON object");
        goto out;
    }
    if ((rc = parse_metadata(&p, mt, obj)) != FS_OK)
        goto out;
    if ((rc = get_object(&p, obj, "spec", "spec", 1, &spec)) != FS_OK || (rc = parse_spec(&p, mt, spec)) != FS_OK)
        goto out;
    if ((rc = get_object(&p, obj, "status", "status", 0, &status)) != FS_OK)
        goto out;
    if (status) {
        if ((rc = get_string(&p, status, "phase", "status.phase", 0, buf, sizeof(buf), &have)) != FS_OK ||
            (rc = get_int(&p, status, "observedGeneration", "status.observedGeneration", 0, INT64_MAX,
                          &mt->observed_generation, NULL)) != FS_OK)
            goto out;
        if (have && (mt->phase = mt_phase_parse(buf)) == MT_PHASE_NONE) {
            rc = perr(&p, FS_EPARSE, "status.phase: \"%s\" is not a MicroTask phase", buf);
            goto out;
        }
    }
    rc = FS_OK;
out:
    if (rc != FS_OK)
        microtask_release(mt);
    return rc;
}

void microtask_split_limits(const struct microtask *mt, struct decompose_limits *l)
{
    memset(l, 0, sizeof(*l));
    l->target_s = mt->split.target_s;
    l->max_cpu_milli = mt->split.max_cpu_milli;
    l->max_mem_bytes = mt->split.max_mem_bytes;
    l->max_fan_out = mt->split.max_fan_out;
    l->max_depth = mt->split.max_depth;
    l->max_leaves = mt->split.max_leaves;
    l->min_units = mt->split.min_units;
}
