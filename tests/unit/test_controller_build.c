/* Unit tests for controller/build: a child MicroTask of a split is itself a valid MicroTask
 * with the right range, shard, owner and frozen estimate; a leaf's Pod carries the foresight
 * scheduler, the microtask label, an owner reference and its shard environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "../../controller/duration.c"
#include "../../controller/priority.c"
#include "../../controller/microtask.c"
#include "../../controller/decompose.c"
#include "../../controller/build.c"

static const char *const parent_json =
    "{\"apiVersion\":\"foresight.sh/v1alpha1\",\"kind\":\"MicroTask\","
    "\"metadata\":{\"name\":\"etl-transform\",\"namespace\":\"demo\",\"uid\":\"uid-p\"},"
    "\"spec\":{\"taskType\":\"etl-transform\",\"dependsOn\":[\"etl-extract\"],"
    "\"work\":{\"units\":1200,\"unit\":\"rows\"},"
    "\"split\":{\"targetDuration\":\"2m\",\"maxFanOut\":4,\"maxDepth\":2,\"minUnits\":50},"
    "\"resources\":{\"cpu\":\"1\",\"memory\":\"512Mi\",\"duration\":\"12m\"},"
    "\"sla\":{\"class\":\"high\"},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"etl\"}},\"spec\":{\"containers\":["
    "{\"name\":\"main\",\"image\":\"pause\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]},"
    "{\"name\":\"side\",\"image\":\"pause\"}]}}}}";

static const char *env_of(const json_t *ctr, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(ctr, "env"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return json_string_value(json_object_get(e, "value"));
    return NULL;
}

static void test_children_are_valid_microtasks(void **state)
{
    (void)state;
    json_t *pobj = json_loads(parent_json, 0, NULL);
    assert_non_null(pobj);
    struct microtask parent, child, leaf;
    microtask_init(&parent);
    microtask_init(&child);
    microtask_init(&leaf);
    assert_int_equal(microtask_parse(&parent, pobj, NULL, 0), FS_OK);

    struct decompose_estimate e;
    build_estimate(&parent, 600, &e);
    assert_true(fabs(e.s_per_unit - 0.6) < 1e-12);
    assert_true(e.fixed_cpu_milli == 1000);

    struct decompose_limits l;
    microtask_split_limits(&parent, &l);
    struct decompose_task t = {parent.name, "", 0, 0, parent.work_units};
    struct decompose_child *kids = NULL;
    size_t n = 0;
    assert_int_equal(decompose_children(&t, &e, &l, NULL, &kids, &n, NULL, 0), FS_OK);
    assert_int_equal(n, 4);

    json_t *cobj = NULL;
    assert_int_equal(build_child(&parent, pobj, &kids[1], &e, &cobj), FS_OK);
    json_t *md = json_object_get(cobj, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "name")), "etl-transform-1");
    assert_string_equal(json_string_value(json_object_get(md, "namespace")), "demo");
    json_t *own = json_array_get(json_object_get(md, "ownerReferences"), 0);
    assert_string_equal(json_string_value(json_object_get(own, "uid")), "uid-p");
    assert_string_equal(json_string_value(json_object_get(own, "kind")), "MicroTask");
    assert_true(json_is_true(json_object_get(own, "controller")));
    json_t *labels = json_object_get(md, "labels");
    assert_string_equal(json_string_value(json_object_get(labels, FS_LABEL_PARENT)), "etl-transform");
    assert_string_equal(json_string_value(json_object_get(labels, FS_LABEL_ROOT)), "etl-transform");
    json_t *spec = json_object_get(cobj, "spec");
    assert_null(json_object_get(spec, "dependsOn"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "resources"), "duration")), "3m");

    /* the child parses, with its range, shard and the frozen estimate; it splits again */
    json_object_set_new(md, "uid", json_string("uid-c"));
    char err[MT_ERR_MAX] = "";
    assert_int_equal(microtask_parse(&child, cobj, err, sizeof(err)), FS_OK);
    assert_int_equal(child.work_offset, 300);
    assert_int_equal(child.work_units, 300);
    assert_true(child.has_shard);
    assert_int_equal(child.shard_index, 1);
    assert_int_equal(child.shard_count, 4);
    assert_string_equal(child.shard_root, "etl-transform");
    assert_true(child.has_split);
    assert_true(child.split.has_estimate);
    assert_true(fabs(child.split.estimate.s_per_unit - 0.6) < 1e-12);
    assert_int_equal(child.split.max_depth, 1);
    assert_int_equal(child.n_depends, 0);
    assert_int_equal(child.sla_class, SLA_HIGH);

    /* its own children are leaves: no split, 150 units, 90 s */
    struct decompose_estimate ce;
    build_estimate(&child, 600, &ce);
    struct decompose_limits cl;
    microtask_split_limits(&child, &cl);
    struct decompose_task ct = {child.name, child.shard_path, child.shard_depth, child.work_offset, child.work_units};
    struct decompose_child *gk = NULL;
    size_t gn = 0;
    assert_int_equal(decompose_children(&ct, &ce, &cl, NULL, &gk, &gn, NULL, 0), FS_OK);
    assert_int_equal(gn, 2);
    json_t *lobj = NULL;
    assert_int_equal(build_child(&child, cobj, &gk[1], &ce, &lobj), FS_OK);
    json_object_set_new(json_object_get(lobj, "metadata"), "uid", json_string("uid-l"));
    assert_int_equal(microtask_parse(&leaf, lobj, err, sizeof(err)), FS_OK);
    assert_string_equal(leaf.name, "etl-transform-1-1");
    assert_false(leaf.has_split);
    assert_int_equal(leaf.work_offset, 450);
    assert_int_equal(leaf.work_units, 150);
    assert_true(leaf.res_duration_s == 90);
    assert_string_equal(leaf.shard_path, "1.1");
    assert_string_equal(leaf.shard_root, "etl-transform");

    /* the leaf's pod */
    json_t *pod = NULL;
    assert_int_equal(build_pod(&leaf, NULL, &pod), FS_OK);
    json_t *pmd = json_object_get(pod, "metadata");
    assert_string_equal(json_string_value(json_object_get(pmd, "name")), "etl-transform-1-1");
    json_t *plabels = json_object_get(pmd, "labels");
    assert_string_equal(json_string_value(json_object_get(plabels, FS_LABEL_MICROTASK)), "etl-transform-1-1");
    assert_string_equal(json_string_value(json_object_get(plabels, "app")), "etl");
    json_t *pown = json_array_get(json_object_get(pmd, "ownerReferences"), 0);
    assert_string_equal(json_string_value(json_object_get(pown, "uid")), "uid-l");
    json_t *pspec = json_object_get(pod, "spec");
    assert_string_equal(json_string_value(json_object_get(pspec, "schedulerName")), "foresight");
    assert_string_equal(json_string_value(json_object_get(pspec, "restartPolicy")), "Never");
    json_t *pod2 = NULL; /* another scheduler when the controller is told so */
    assert_int_equal(build_pod(&leaf, "foresight-gpu", &pod2), FS_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pod2, "spec"), "schedulerName")),
                        "foresight-gpu");
    json_decref(pod2);
    json_t *ctrs = json_object_get(pspec, "containers");
    assert_int_equal(json_array_size(ctrs), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *c = json_array_get(ctrs, i);
        assert_string_equal(env_of(c, "FORESIGHT_SHARD_INDEX"), "1");
        assert_string_equal(env_of(c, "FORESIGHT_SHARD_COUNT"), "2");
        assert_string_equal(env_of(c, "FORESIGHT_SHARD_PATH"), "1.1");
        assert_string_equal(env_of(c, "FORESIGHT_WORK_START"), "450");
        assert_string_equal(env_of(c, "FORESIGHT_WORK_END"), "600");
        assert_string_equal(env_of(c, "FORESIGHT_TASK_TYPE"), "etl-transform");
    }
    assert_string_equal(env_of(json_array_get(ctrs, 0), "A"), "1"); /* the template's own env kept */
    /* the cached parent object was not modified */
    assert_null(json_object_get(json_object_get(json_object_get(json_object_get(pobj, "spec"), "template"), "spec"),
                                "schedulerName"));
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(
                         json_object_get(json_object_get(json_object_get(pobj, "spec"), "template"), "spec"),
                         "containers"), 0), "env")), 1);

    json_decref(pod);
    json_decref(lobj);
    json_decref(cobj);
    free(gk);
    free(kids);
    microtask_release(&leaf);
    microtask_release(&child);
    microtask_release(&parent);
    json_decref(pobj);
}

static void test_unusable_input_is_refused(void **state)
{
    (void)state;
    struct microtask mt;
    json_t *out = NULL;
    microtask_init(&mt);
    assert_int_equal(build_pod(&mt, NULL, &out), FS_EINVAL); /* no template, no uid */
    assert_null(out);
    struct decompose_child c = {0};
    struct decompose_estimate e = {0};
    json_t *obj = json_object();
    assert_int_equal(build_child(&mt, obj, &c, &e, &out), FS_EINVAL);
    assert_null(out);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_children_are_valid_microtasks),
        cmocka_unit_test(test_unusable_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
