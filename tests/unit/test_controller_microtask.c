/* Unit tests for controller/microtask: MicroTask JSON into a struct, the CRD's defaults, and a
 * clear message naming the field for each kind of bad input. */
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

#define TEMPLATE "\"template\":{\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"pause\"}]}}"

static const char *const transform_json =
    "{\"apiVersion\":\"foresight.sh/v1alpha1\",\"kind\":\"MicroTask\","
    "\"metadata\":{\"name\":\"etl-transform\",\"namespace\":\"demo\",\"uid\":\"u-1\",\"generation\":3,"
    "\"creationTimestamp\":\"2026-01-02T03:04:05Z\"},"
    "\"spec\":{\"taskType\":\"etl-transform\",\"dependsOn\":[\"etl-extract\"],"
    "\"work\":{\"units\":1200,\"offset\":0,\"unit\":\"rows\"},"
    "\"split\":{\"targetDuration\":\"2m\",\"maxFanOut\":4,\"maxDepth\":2,\"minUnits\":50,"
    "\"maxResources\":{\"cpu\":\"2\",\"memory\":\"2Gi\"}},"
    "\"resources\":{\"cpu\":\"1\",\"memory\":\"512Mi\",\"duration\":\"12m\"},"
    "\"sla\":{\"class\":\"high\",\"deadline\":\"2030-01-01T00:00:00Z\"},"
    "\"anomaly\":{\"action\":\"Throttle\",\"window\":\"1m\"}," TEMPLATE "},"
    "\"status\":{\"phase\":\"Running\",\"observedGeneration\":2}}";

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("bad test JSON at %d: %s", e.position, e.text);
    return j;
}

static void test_parses_a_full_microtask(void **state)
{
    (void)state;
    json_t *j = load(transform_json);
    struct microtask mt;
    char err[MT_ERR_MAX];
    microtask_init(&mt);
    assert_int_equal(microtask_parse(&mt, j, err, sizeof(err)), FS_OK);
    assert_string_equal(err, "");
    assert_string_equal(mt.name, "etl-transform");
    assert_string_equal(mt.ns, "demo");
    assert_string_equal(mt.uid, "u-1");
    assert_int_equal(mt.generation, 3);
    assert_int_equal(mt.created_s, 1767323045);
    assert_string_equal(mt.task_type, "etl-transform");
    assert_int_equal(mt.n_depends, 1);
    assert_string_equal(mt.depends_on[0], "etl-extract");
    assert_int_equal(mt.on_dependency_failure, DAG_ON_FAILURE_FAIL);
    assert_true(mt.has_work);
    assert_int_equal(mt.work_units, 1200);
    assert_true(mt.has_split);
    assert_true(mt.split.target_s == 120);
    assert_int_equal(mt.split.max_cpu_milli, 2000);
    assert_int_equal(mt.split.max_mem_bytes, 2147483648LL);
    assert_int_equal(mt.split.max_fan_out, 4);
    assert_int_equal(mt.split.max_depth, 2);
    assert_int_equal(mt.split.max_leaves, 1000); /* the CRD default */
    assert_int_equal(mt.split.min_units, 50);
    assert_false(mt.split.has_estimate);
    assert_true(mt.has_resources);
    assert_int_equal(mt.res_cpu_milli, 1000);
    assert_int_equal(mt.res_mem_bytes, 536870912);
    assert_true(mt.res_duration_s == 720);
    assert_int_equal(mt.sla_class, SLA_HIGH);
    assert_true(mt.has_deadline);
    assert_int_equal(mt.deadline_s, 1893456000);
    assert_int_equal(mt.anomaly_action, MT_ANOMALY_THROTTLE);
    assert_true(mt.anomaly_window_s == 60);
    assert_int_equal(mt.phase, MT_PHASE_RUNNING);
    assert_int_equal(mt.observed_generation, 2);
    /* the template is shared, not copied: the object holds one more reference */
    assert_ptr_equal(mt.pod_template, json_object_get(json_object_get(j, "spec"), "template"));
    assert_int_equal(mt.pod_template->refcount, 2);

    struct decompose_limits l;
    microtask_split_limits(&mt, &l);
    assert_true(l.target_s == 120);
    assert_int_equal(l.max_fan_out, 4);
    assert_int_equal(l.min_units, 50);
    microtask_release(&mt);
    assert_null(mt.pod_template);
    json_decref(j);
}

static void test_minimal_microtask_gets_the_crd_defaults(void **state)
{
    (void)state;
    json_t *j = load("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"taskType\":\"t\","
                     "\"work\":{\"units\":10},\"split\":{\"targetDuration\":\"90s\"},"
                     "\"resources\":{\"cpu\":2,\"memory\":1073741824}," TEMPLATE "}}");
    struct microtask mt;
    microtask_init(&mt);
    assert_int_equal(microtask_parse(&mt, j, NULL, 0), FS_OK);
    assert_int_equal(mt.split.max_fan_out, 16);
    assert_int_equal(mt.split.max_depth, 3);
    assert_int_equal(mt.split.max_leaves, 1000);
    assert_int_equal(mt.split.min_units, 1);
    assert_int_equal(mt.work_offset, 0);
    assert_int_equal(mt.res_cpu_milli, 2000); /* integer cores */
    assert_int_equal(mt.res_mem_bytes, 1073741824);
    assert_true(mt.res_duration_s == 0);
    assert_int_equal(mt.sla_class, SLA_NORMAL);
    assert_false(mt.has_deadline);
    assert_int_equal(mt.anomaly_action, MT_ANOMALY_ALERT);
    assert_true(mt.anomaly_window_s == 120);
    assert_int_equal(mt.phase, MT_PHASE_NONE);
    assert_int_equal(mt.n_depends, 0);
    /* parsing again into the same struct releases what it held */
    assert_int_equal(microtask_parse(&mt, j, NULL, 0), FS_OK);
    microtask_release(&mt);
    json_decref(j);
}

static void test_child_fields(void **state)
{
    (void)state;
    json_t *j = load("{\"metadata\":{\"name\":\"p-1\"},\"spec\":{\"taskType\":\"t\","
                     "\"work\":{\"units\":300,\"offset\":300},"
                     "\"split\":{\"targetDuration\":\"2m\",\"maxDepth\":1,\"maxFanOut\":2,\"maxLeaves\":2,"
                     "\"estimate\":{\"secondsPerUnit\":0.6,\"fixedMemoryBytes\":1e8}},"
                     "\"shard\":{\"index\":1,\"count\":4,\"depth\":1,\"path\":\"1\",\"root\":\"p\"},"
                     "\"onDependencyFailure\":\"Ignore\"," TEMPLATE "}}");
    struct microtask mt;
    microtask_init(&mt);
    assert_int_equal(microtask_parse(&mt, j, NULL, 0), FS_OK);
    assert_true(mt.has_shard);
    assert_int_equal(mt.shard_index, 1);
    assert_int_equal(mt.shard_count, 4);
    assert_string_equal(mt.shard_path, "1");
    assert_string_equal(mt.shard_root, "p");
    assert_true(mt.split.has_estimate);
    assert_true(mt.split.estimate.s_per_unit == 0.6);
    assert_true(mt.split.estimate.fixed_mem_bytes == 1e8);
    assert_int_equal(mt.on_dependency_failure, DAG_ON_FAILURE_IGNORE);
    microtask_release(&mt);
    json_decref(j);
}

struct bad_case {
    const char *spec;        /* the spec object's members after taskType, or a whole object */
    enum fs_err rc;
    const char *message;     /* the exact message, or a prefix ending in '*' */
};

static void test_bad_input_names_the_field(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"!{\"metadata\":{\"name\":\"x\"},\"spec\":{" TEMPLATE "}}", FS_EPARSE, "spec.taskType: Required value"},
        {"!{\"metadata\":{\"name\":\"x\"}}", FS_EPARSE, "spec: Required value"},
        {"!{\"spec\":{}}", FS_EPARSE, "metadata: Required value"},
        {"![1,2]", FS_EPARSE, "a MicroTask must be a JSON object"},
        {"!{\"metadata\":{\"name\":\"x\"},\"spec\":{\"taskType\":\"Big_Type\"," TEMPLATE "}}", FS_EPARSE,
         "spec.taskType: \"Big_Type\" must be lowercase letters, digits, '-' and '.', at most 63"},
        {"\"dependsOn\":[\"a\",\"x\"]", FS_EINVAL, "spec.dependsOn: a MicroTask cannot depend on itself"},
        {"\"dependsOn\":[\"a\",\"a\"]", FS_EPARSE, "spec.dependsOn[1]: duplicate name a"},
        {"\"dependsOn\":\"a\"", FS_EPARSE, "spec.dependsOn: must be a list of MicroTask names"},
        {"\"dependsOn\":[\"-a\"]", FS_EPARSE, "spec.dependsOn[0]: must be a MicroTask name*"},
        {"\"work\":{\"units\":0}", FS_EPARSE, "spec.work.units: must be from 1 to 1000000000000, not 0"},
        {"\"work\":{}", FS_EPARSE, "spec.work.units: Required value"},
        {"\"work\":{\"units\":1.5}", FS_EPARSE, "spec.work.units: must be an integer"},
        {"\"split\":{\"targetDuration\":\"1m\"}", FS_EINVAL,
         "spec.split needs spec.work: there is nothing to split without a work size"},
        {"\"work\":{\"units\":10},\"split\":{\"targetDuration\":\"1m\",\"maxFanOut\":1}", FS_EPARSE,
         "spec.split.maxFanOut: must be from 2 to 1000, not 1"},
        {"\"work\":{\"units\":10},\"split\":{\"targetDuration\":\"1m\",\"minUnits\":11}", FS_EINVAL,
         "spec.split.minUnits must not exceed spec.work.units"},
        {"\"work\":{\"units\":10},\"split\":{\"targetDuration\":\"0s\"}", FS_EINVAL,
         "spec.split.targetDuration must be at least 1s"},
        {"\"work\":{\"units\":10},\"split\":{}", FS_EPARSE, "spec.split.targetDuration: Required value"},
        {"\"work\":{\"units\":10},\"split\":{\"targetDuration\":\"1m\",\"maxFanOut\":8,\"maxLeaves\":4}", FS_EINVAL,
         "spec.split.maxLeaves must be at least spec.split.maxFanOut"},
        {"\"work\":{\"units\":10},\"split\":{\"targetDuration\":\"1m\",\"maxResources\":{\"cpu\":\"0\"}}", FS_EINVAL,
         "spec.split.maxResources.cpu must be greater than zero"},
        {"\"work\":{\"units\":10},\"split\":{\"targetDuration\":\"1m\",\"estimate\":{\"secondsPerUnit\":-1}}", FS_EPARSE,
         "spec.split.estimate.secondsPerUnit: must be a finite number, not negative"},
        {"\"resources\":{\"memory\":\"lots\"}", FS_EPARSE, "spec.resources.memory: \"lots\" is not a valid quantity*"},
        {"\"resources\":{\"cpu\":true}", FS_EPARSE, "spec.resources.cpu: must be a quantity such as \"500m\" or \"1Gi\""},
        {"\"resources\":{\"cpu\":\"-1\"}", FS_EPARSE, "spec.resources.cpu: must not be negative"},
        {"\"resources\":{\"duration\":\"ten minutes\"}", FS_EPARSE,
         "spec.resources.duration: \"ten minutes\" is not a duration such as 90s, 5m or 1h30m"},
        {"\"sla\":{\"deadline\":\"tomorrow\"}", FS_EPARSE,
         "spec.sla.deadline must be an RFC 3339 time such as 2026-01-02T15:04:05Z, not \"tomorrow\""},
        {"\"sla\":{\"class\":\"urgent\"}", FS_EPARSE,
         "spec.sla.class: \"urgent\" is not one of critical, high, normal, low, batch"},
        {"\"onDependencyFailure\":\"Retry\"", FS_EPARSE, "spec.onDependencyFailure: \"Retry\" is not one of Fail, Wait, Ignore"},
        {"\"anomaly\":{\"action\":\"Kill\"}", FS_EPARSE, "spec.anomaly.action: \"Kill\" is not one of Alert, Reserve, Throttle"},
        {"\"work\":{\"units\":10},\"shard\":{\"index\":3,\"count\":3,\"depth\":1}", FS_EINVAL,
         "spec.shard.index must be less than spec.shard.count"},
        {"\"shard\":{\"index\":0,\"count\":3,\"depth\":1}", FS_EINVAL, "spec.shard needs spec.work (the shard's work range)"},
        {"!{\"metadata\":{\"name\":\"x\"},\"spec\":{\"taskType\":\"t\",\"template\":{\"spec\":{\"containers\":[]}}}}",
         FS_EPARSE, "spec.template.spec.containers: at least one container is required"},
        {"!{\"metadata\":{\"name\":\"x\"},\"spec\":{\"taskType\":\"t\",\"template\":{}}}", FS_EPARSE,
         "spec.template.spec: Required value"},
        {"!{\"metadata\":{\"name\":\"x\"},\"spec\":{\"taskType\":\"t\"," TEMPLATE "},\"status\":{\"phase\":\"Exploded\"}}",
         FS_EPARSE, "status.phase: \"Exploded\" is not a MicroTask phase"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[2048];
        if (cases[i].spec[0] == '!')
            snprintf(doc, sizeof(doc), "%s", cases[i].spec + 1);
        else
            snprintf(doc, sizeof(doc), "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"taskType\":\"t\",%s," TEMPLATE "}}",
                     cases[i].spec);
        json_t *j = load(doc);
        struct microtask mt;
        char err[MT_ERR_MAX] = "";
        microtask_init(&mt);
        enum fs_err rc = microtask_parse(&mt, j, err, sizeof(err));
        size_t ml = strlen(cases[i].message);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %s, want %s (%s)", i, fs_strerror(rc), fs_strerror(cases[i].rc), err);
        if (cases[i].message[ml - 1] == '*') {
            if (strncmp(err, cases[i].message, ml - 1) != 0)
                fail_msg("case %zu: message \"%s\"", i, err);
        } else if (strcmp(err, cases[i].message) != 0) {
            fail_msg("case %zu: message \"%s\", want \"%s\"", i, err, cases[i].message);
        }
        /* nothing is kept from a failed parse */
        assert_null(mt.pod_template);
        assert_null(mt.depends_on);
        json_decref(j);
    }
}

static void test_phases(void **state)
{
    (void)state;
    for (int p = MT_PHASE_PENDING; p <= MT_PHASE_FAILED; p++)
        assert_int_equal(mt_phase_parse(mt_phase_name((enum mt_phase)p)), p);
    assert_int_equal(mt_phase_parse("running"), MT_PHASE_NONE);
    assert_int_equal(mt_phase_parse(NULL), MT_PHASE_NONE);
    assert_int_equal(mt_phase_dag_state(MT_PHASE_SUCCEEDED), DAG_SUCCEEDED);
    assert_int_equal(mt_phase_dag_state(MT_PHASE_FAILED), DAG_FAILED);
    assert_int_equal(mt_phase_dag_state(MT_PHASE_RUNNING), DAG_RUNNING);
    assert_int_equal(mt_phase_dag_state(MT_PHASE_SCHEDULED), DAG_RUNNING);
    assert_int_equal(mt_phase_dag_state(MT_PHASE_QUEUED), DAG_PENDING);
    assert_int_equal(mt_phase_dag_state(MT_PHASE_NONE), DAG_PENDING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_a_full_microtask),
        cmocka_unit_test(test_minimal_microtask_gets_the_crd_defaults),
        cmocka_unit_test(test_child_fields),
        cmocka_unit_test(test_bad_input_names_the_field),
        cmocka_unit_test(test_phases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
