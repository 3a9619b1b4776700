/* Unit tests for controller/throttle: the QoS class as Kubernetes computes it, and the
 * pods/resize patch that lowers cpu limits without changing it (requests follow a lowered
 * limit, Guaranteed stays Guaranteed, Burstable never becomes Guaranteed, BestEffort and
 * nothing-to-lower are refused with a reason). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/throttle.c"

static json_t *pod(const char *spec_json)
{
    json_error_t e;
    json_t *spec = json_loads(spec_json, 0, &e);
    assert_non_null(spec);
    json_t *p = json_pack("{s:o}", "spec", spec);
    assert_non_null(p);
    return p;
}

/* the patched container's cpu limit and request ("" when the patch leaves it) */
static void patched(const json_t *patch, size_t i, const char **name, const char **lim, const char **req)
{
    const json_t *c = json_array_get(json_object_get(json_object_get(patch, "spec"), "containers"), i);
    assert_non_null(c);
    const json_t *r = json_object_get(c, "resources");
    *name = json_string_value(json_object_get(c, "name"));
    *lim = json_string_value(json_object_get(json_object_get(r, "limits"), "cpu"));
    *req = json_string_value(json_object_get(json_object_get(r, "requests"), "cpu"));
    if (!*req)
        *req = "";
    assert_null(json_object_get(json_object_get(r, "limits"), "memory")); /* memory is never touched */
}

static void test_qos(void **state)
{
    (void)state;
    struct {
        const char *spec;
        enum throttle_qos want;
    } cases[] = {
        {"{\"containers\":[{\"name\":\"a\"}]}", THROTTLE_BEST_EFFORT},
        {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"0\"}}}]}", THROTTLE_BEST_EFFORT},
        {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}", THROTTLE_BURSTABLE},
        {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
         "\"limits\":{\"cpu\":\"1000m\",\"memory\":\"1Gi\"}}}]}", THROTTLE_GUARANTEED},
        /* cpu limit only: not both limits */
        {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\"},\"limits\":{\"cpu\":\"1\"}}}]}",
         THROTTLE_BURSTABLE},
        /* one container of two without limits */
        {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
         "\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},{\"name\":\"b\"}]}", THROTTLE_BURSTABLE},
        /* sums compared, as ComputePodQOS does */
        {"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
         "\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}}]}", THROTTLE_BURSTABLE},
        /* an init container's request counts */
        {"{\"containers\":[{\"name\":\"a\"}],\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"memory\":\"1Mi\"}}}]}",
         THROTTLE_BURSTABLE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t e;
        json_t *s = json_loads(cases[i].spec, 0, &e);
        assert_non_null(s);
        if (throttle_qos(s) != cases[i].want)
            fail_msg("case %zu: %s, want %s", i, throttle_qos_name(throttle_qos(s)), throttle_qos_name(cases[i].want));
        json_decref(s);
    }
}

static void test_burstable_limit_lowered_request_kept(void **state)
{
    (void)state;
    json_t *p = pod("{\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
                    "\"limits\":{\"cpu\":\"2\",\"memory\":\"256Mi\"}}}]}");
    json_t *patch = NULL;
    char msg[300];
    assert_int_equal(throttle_plan(p, 500, &patch, msg, sizeof(msg)), FS_OK);
    assert_non_null(patch);
    const char *name, *lim, *req;
    patched(patch, 0, &name, &lim, &req);
    assert_string_equal(name, "main");
    assert_string_equal(lim, "500m");
    assert_string_equal(req, ""); /* 250m <= 500m: unchanged, so not in the patch */
    assert_string_equal(msg, "cpu limit of container main lowered from 2 to 500m");
    json_decref(patch);
    json_decref(p);
}

static void test_request_above_new_limit_follows_it(void **state)
{
    (void)state;
    json_t *p = pod("{\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"1\"},"
                    "\"limits\":{\"cpu\":\"2\"}}}]}");
    json_t *patch = NULL;
    char msg[300];
    assert_int_equal(throttle_plan(p, 400, &patch, msg, sizeof(msg)), FS_OK);
    const char *name, *lim, *req;
    patched(patch, 0, &name, &lim, &req);
    assert_string_equal(lim, "400m");
    assert_string_equal(req, "400m");
    assert_non_null(strstr(msg, "(request 400m)"));
    json_decref(patch);
    json_decref(p);
}

static void test_guaranteed_stays_guaranteed(void **state)
{
    (void)state;
    json_t *p = pod("{\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"2\",\"memory\":\"1Gi\"},"
                    "\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}}]}");
    json_t *patch = NULL;
    char msg[300];
    assert_int_equal(throttle_plan(p, 700, &patch, msg, sizeof(msg)), FS_OK);
    const char *name, *lim, *req;
    patched(patch, 0, &name, &lim, &req);
    assert_string_equal(lim, "700m");
    assert_string_equal(req, "700m");
    json_decref(patch);
    json_decref(p);
}

static void test_burstable_never_becomes_guaranteed(void **state)
{
    (void)state;
    /* memory request = limit, cpu 500m..2: a 500m limit alone would equal the request */
    json_t *p = pod("{\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"},"
                    "\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}}]}");
    json_t *patch = NULL;
    char msg[300];
    assert_int_equal(throttle_plan(p, 500, &patch, msg, sizeof(msg)), FS_OK);
    const char *name, *lim, *req;
    patched(patch, 0, &name, &lim, &req);
    assert_string_equal(lim, "500m");
    assert_string_equal(req, "499m");
    json_decref(patch);
    json_decref(p);
}

static void test_several_containers_share_the_target(void **state)
{
    (void)state;
    json_t *p = pod("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"3\"}}},"
                    "{\"name\":\"b\",\"resources\":{\"limits\":{\"cpu\":\"1\"}}},{\"name\":\"c\"}]}");
    json_t *patch = NULL;
    char msg[300];
    assert_int_equal(throttle_plan(p, 2000, &patch, msg, sizeof(msg)), FS_OK);
    assert_int_equal(json_array_size(json_object_get(json_object_get(patch, "spec"), "containers")), 2);
    const char *name, *lim, *req;
    patched(patch, 0, &name, &lim, &req);
    assert_string_equal(name, "a");
    assert_string_equal(lim, "1500m");
    patched(patch, 1, &name, &lim, &req);
    assert_string_equal(name, "b");
    assert_string_equal(lim, "500m");
    json_decref(patch);
    json_decref(p);
}

static void test_requests_only_get_a_limit(void **state)
{
    (void)state;
    json_t *p = pod("{\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}");
    json_t *patch = NULL;
    char msg[300];
    assert_int_equal(throttle_plan(p, 600, &patch, msg, sizeof(msg)), FS_OK);
    const char *name, *lim, *req;
    patched(patch, 0, &name, &lim, &req);
    assert_string_equal(lim, "600m");
    assert_string_equal(req, "600m");
    assert_string_equal(msg, "cpu limit of container main lowered from none to 600m (request 600m)");
    json_decref(patch);
    json_decref(p);
}

static void test_refusals(void **state)
{
    (void)state;
    json_t *patch = (json_t *)1;
    char msg[300];
    json_t *p = pod("{\"containers\":[{\"name\":\"main\"}]}");
    assert_int_equal(throttle_plan(p, 500, &patch, msg, sizeof(msg)), FS_EINVAL);
    assert_null(patch);
    assert_non_null(strstr(msg, "BestEffort"));
    json_decref(p);

    p = pod("{\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}]}");
    assert_int_equal(throttle_plan(p, 500, &patch, msg, sizeof(msg)), FS_EINVAL);
    assert_string_equal(msg, "no container has a cpu request or limit to lower");
    json_decref(p);

    p = pod("{\"resources\":{\"limits\":{\"cpu\":\"2\"}},\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}");
    assert_int_equal(throttle_plan(p, 500, &patch, msg, sizeof(msg)), FS_EINVAL);
    assert_non_null(strstr(msg, "pod-level"));
    json_decref(p);

    p = pod("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\"}}},"
            "{\"name\":\"b\",\"resources\":{\"limits\":{\"cpu\":\"3\"}}}]}");
    assert_int_equal(throttle_plan(p, 2, &patch, msg, sizeof(msg)), FS_EINVAL);
    assert_non_null(strstr(msg, "under 1m"));
    json_decref(p);

    p = pod("{\"containers\":[]}");
    assert_int_equal(throttle_plan(p, 500, &patch, msg, sizeof(msg)), FS_EINVAL);
    json_decref(p);
}

static void test_already_low_is_nothing_to_do(void **state)
{
    (void)state;
    json_t *patch = (json_t *)1;
    char msg[300];
    json_t *p = pod("{\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"250m\"},"
                    "\"limits\":{\"cpu\":\"500m\"}}}]}");
    assert_int_equal(throttle_plan(p, 500, &patch, msg, sizeof(msg)), FS_OK);
    assert_null(patch);
    assert_string_equal(msg, "cpu limit 500m already at or below 500m");
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qos),
        cmocka_unit_test(test_burstable_limit_lowered_request_kept),
        cmocka_unit_test(test_request_above_new_limit_follows_it),
        cmocka_unit_test(test_guaranteed_stays_guaranteed),
        cmocka_unit_test(test_burstable_never_becomes_guaranteed),
        cmocka_unit_test(test_several_containers_share_the_target),
        cmocka_unit_test(test_requests_only_get_a_limit),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_already_low_is_nothing_to_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
