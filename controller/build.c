/* Child MicroTask and leaf Pod JSON (see build.h). Everything is built on deep copies of the
 * parent's spec and template, so the informer's cached objects are never modified. */
#include "build.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

static int set(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v); /* steals v even on failure */
}

static json_t *owner_ref(const char *api_version, const char *kind, const char *name, const char *uid)
{
    json_t *ref = json_object();
    if (!ref || set(ref, "apiVersion", json_string(api_version)) || set(ref, "kind", json_string(kind)) ||
        set(ref, "name", json_string(name)) || set(ref, "uid", json_string(uid)) ||
        set(ref, "controller", json_true()) || set(ref, "blockOwnerDeletion", json_true())) {
        json_decref(ref);
        return NULL;
    }
    json_t *arr = json_array();
    if (!arr || json_array_append_new(arr, ref)) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *quantity_milli(double milli)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lldm", (long long)ceil(milli));
    return json_string(buf);
}

static json_t *duration_str(double s)
{
    char buf[DURATION_STR_MAX];
    duration_format(s < 1 ? 1 : ceil(s), buf, sizeof(buf));
    return json_string(buf);
}

enum fs_err build_child(const struct microtask *parent, const json_t *parent_obj,
                        const struct decompose_child *c, const struct decompose_estimate *e,
                        json_t **out)
{
    enum fs_err rc = FS_EINVAL;
    json_t *obj = NULL, *spec = NULL;
    *out = NULL;
    const json_t *pspec = json_object_get(parent_obj, "spec");
    if (!json_is_object(pspec) || !parent->uid[0])
        goto out;
    rc = FS_ENOMEM;
    if (!(spec = json_deep_copy(pspec)))
        goto out;
    /* the parent waited for its dependencies before splitting: children have none of their own */
    json_object_del(spec, "dependsOn");
    json_object_del(spec, "split");
    json_t *work = json_object(), *shard = json_object();
    if (set(spec, "work", work) || set(spec, "shard", shard))
        goto out;
    const json_t *unit = json_object_get(json_object_get(pspec, "work"), "unit");
    if (set(work, "units", json_integer(c->units)) || set(work, "offset", json_integer(c->offset)) ||
        (json_is_string(unit) && set(work, "unit", json_deep_copy(unit))))
        goto out;
    const char *root = parent->has_shard && parent->shard_root[0] ? parent->shard_root : parent->name;
    if (set(shard, "index", json_integer(c->index)) || set(shard, "count", json_integer(c->count)) ||
        set(shard, "depth", json_integer(c->depth)) || set(shard, "path", json_string(c->path)) ||
        set(shard, "root", json_string(root)))
        goto out;

    /* resources: the child's share, as the fallback prediction of its own curve */
    json_t *res = json_object_get(spec, "resources");
    if (!json_is_object(res)) {
        res = json_object();
        if (set(spec, "resources", res))
            goto out;
    }
    if (set(res, "duration", duration_str(c->pred_s)) ||
        (c->pred_cpu_milli > 0 && set(res, "cpu", quantity_milli(c->pred_cpu_milli))) ||
        (c->pred_mem_bytes > 0 && set(res, "memory", json_integer((json_int_t)ceil(c->pred_mem_bytes)))))
        goto out;

    if (c->verdict == DECOMPOSE_SPLIT) {
        json_t *split = json_object(), *est = json_object();
        char target[DURATION_STR_MAX];
        duration_format(c->limits.target_s, target, sizeof(target));
        if (set(spec, "split", split) || set(split, "targetDuration", json_string(target)) ||
            set(split, "maxFanOut", json_integer(c->limits.max_fan_out)) ||
            set(split, "maxDepth", json_integer(c->limits.max_depth)) ||
            set(split, "maxLeaves", json_integer(c->limits.max_leaves)) ||
            set(split, "minUnits", json_integer(c->limits.min_units)) || set(split, "estimate", est) ||
            set(est, "fixedSeconds", json_real(e->fixed_s)) || set(est, "secondsPerUnit", json_real(e->s_per_unit)) ||
            set(est, "fixedCpuMilli", json_real(e->fixed_cpu_milli)) ||
            set(est, "cpuMilliPerUnit", json_real(e->cpu_milli_per_unit)) ||
            set(est, "fixedMemoryBytes", json_real(e->fixed_mem_bytes)) ||
            set(est, "memoryBytesPerUnit", json_real(e->mem_bytes_per_unit)))
            goto out;
        if (c->limits.max_cpu_milli > 0 || c->limits.max_mem_bytes > 0) {
            json_t *mr = json_object();
            if (set(split, "maxResources", mr) ||
                (c->limits.max_cpu_milli > 0 && set(mr, "cpu", quantity_milli((double)c->limits.max_cpu_milli))) ||
                (c->limits.max_mem_bytes > 0 && set(mr, "memory", json_integer(c->limits.max_mem_bytes))))
                goto out;
        }
    }

    json_t *md = json_object(), *labels = json_object();
    if (!(obj = json_object()) || set(obj, "apiVersion", json_string(FS_API_VERSION)) ||
        set(obj, "kind", json_string("MicroTask")) || set(obj, "metadata", md) ||
        set(md, "name", json_string(c->name)) || set(md, "namespace", json_string(parent->ns)) ||
        set(md, "labels", labels) || set(labels, FS_LABEL_PARENT, json_string(parent->name)) ||
        set(labels, FS_LABEL_ROOT, json_string(root)) ||
        set(labels, FS_LABEL_TASK_TYPE, json_string(parent->task_type)) ||
        set(md, "ownerReferences", owner_ref(FS_API_VERSION, "MicroTask", parent->name, parent->uid)))
        goto out;
    json_t *s = spec;
    spec = NULL;
    if (set(obj, "spec", s))
        goto out;
    *out = obj;
    obj = NULL;
    rc = FS_OK;
out:
    json_decref(spec);
    json_decref(obj);
    return rc;
}

static int add_env(json_t *env, const char *name, const char *value)
{
    json_t *e = json_object();
    if (!e || set(e, "name", json_string(name)) || set(e, "value", json_string(value))) {
        json_decref(e);
        return -1;
    }
    return json_array_append_new(env, e);
}

enum fs_err build_pod(const struct microtask *leaf, const char *scheduler_name, json_t **out)
{
    enum fs_err rc = FS_EINVAL;
    json_t *pod = NULL;
    *out = NULL;
    const json_t *tmpl = leaf->pod_template;
    if (!json_is_object(tmpl) || !json_is_object(json_object_get(tmpl, "spec")) || !leaf->uid[0])
        goto out;
    rc = FS_ENOMEM;
    if (!(pod = json_object()))
        goto out;
    const json_t *tmd = json_object_get(tmpl, "metadata");
    json_t *md = json_is_object(tmd) ? json_deep_copy(tmd) : json_object();
    if (!md || set(pod, "metadata", md))
        goto out;
    json_t *spec = json_deep_copy(json_object_get(tmpl, "spec"));
    if (!spec || set(pod, "spec", spec) || set(pod, "apiVersion", json_string("v1")) ||
        set(pod, "kind", json_string("Pod")))
        goto out;
    json_object_del(md, "generateName");
    json_object_del(md, "resourceVersion");
    json_object_del(md, "uid");
    json_t *labels = json_object_get(md, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        if (set(md, "labels", labels))
            goto out;
    }
    if (set(md, "name", json_string(leaf->name)) || set(md, "namespace", json_string(leaf->ns)) ||
        set(labels, FS_LABEL_MICROTASK, json_string(leaf->name)) ||
        set(labels, FS_LABEL_TASK_TYPE, json_string(leaf->task_type)) ||
        set(md, "ownerReferences", owner_ref(FS_API_VERSION, "MicroTask", leaf->name, leaf->uid)))
        goto out;
    if (set(spec, "schedulerName", json_string(scheduler_name ? scheduler_name : FS_SCHEDULER_NAME)))
        goto out;
    if (!json_object_get(spec, "restartPolicy") && set(spec, "restartPolicy", json_string("Never")))
        goto out;
    if (leaf->priority_class_name[0] && !json_object_get(spec, "priorityClassName") &&
        set(spec, "priorityClassName", json_string(leaf->priority_class_name)))
        goto out;

    char idx[24], cnt[24], start[24], end[24];
    int64_t units = leaf->has_work ? leaf->work_units : 1;
    snprintf(idx, sizeof(idx), "%u", leaf->has_shard ? leaf->shard_index : 0);
    snprintf(cnt, sizeof(cnt), "%u", leaf->has_shard ? leaf->shard_count : 1);
    snprintf(start, sizeof(start), "%lld", (long long)leaf->work_offset);
    snprintf(end, sizeof(end), "%lld", (long long)(leaf->work_offset + units));
    json_t *containers = json_object_get(spec, "containers");
    if (!json_is_array(containers) || json_array_size(containers) == 0) {
        rc = FS_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < json_array_size(containers); i++) {
        json_t *ctr = json_array_get(containers, i);
        if (!json_is_object(ctr)) {
            rc = FS_EINVAL;
            goto out;
        }
        json_t *env = json_object_get(ctr, "env");
        if (!json_is_array(env)) {
            env = json_array();
            if (set(ctr, "env", env))
                goto out;
        }
        if (add_env(env, "FORESIGHT_MICROTASK", leaf->name) || add_env(env, "FORESIGHT_TASK_TYPE", leaf->task_type) ||
            add_env(env, "FORESIGHT_SHARD_INDEX", idx) || add_env(env, "FORESIGHT_SHARD_COUNT", cnt) ||
            add_env(env, "FORESIGHT_SHARD_PATH", leaf->shard_path) ||
            add_env(env, "FORESIGHT_WORK_START", start) || add_env(env, "FORESIGHT_WORK_END", end))
            goto out;
    }
    *out = pod;
    pod = NULL;
    rc = FS_OK;
out:
    json_decref(pod);
    return rc;
}

void build_estimate(const struct microtask *mt, double default_s, struct decompose_estimate *e)
{
    memset(e, 0, sizeof(*e));
    if (mt->has_split && mt->split.has_estimate) {
        *e = mt->split.estimate;
        return;
    }
    double units = mt->has_work && mt->work_units > 0 ? (double)mt->work_units : 1;
    double d = mt->res_duration_s > 0 ? mt->res_duration_s : default_s;
    e->s_per_unit = isfinite(d) && d > 0 ? d / units : 0;
    /* nothing learnt: cpu and memory are taken as flat, whatever the size */
    e->fixed_cpu_milli = (double)mt->res_cpu_milli;
    e->fixed_mem_bytes = (double)mt->res_mem_bytes;
}
