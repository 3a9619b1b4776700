/* Unit tests for controller/config: defaults, a YAML file of settings named like the flags,
 * flags applied after it win, and every bad file is refused with the key and line named:
 * unknown key, bad value, out of range, duplicate key, non-scalar value, not a mapping, not
 * YAML, too large. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../controller/duration.c"
#include "../../controller/config.c"

static enum fs_err load(struct ctl_opts *o, const char *yaml, char *err, size_t errlen)
{
    return ctl_opts_load_yaml(o, yaml, strlen(yaml), "c.yaml", err, errlen);
}

static void test_defaults(void **state)
{
    (void)state;
    struct ctl_opts o;
    ctl_opts_init(&o);
    assert_int_equal(o.step_s, 30);
    assert_int_equal(o.leader_elect, 1);
    assert_int_equal(o.http_port, 8080);
    assert_string_equal(o.http_host, "0.0.0.0");
    assert_int_equal(o.workers, 4);
    assert_true(o.default_s == 600);
    assert_null(o.kubeconfig);
    ctl_opts_release(&o);
}

static void test_file_sets_every_kind(void **state)
{
    (void)state;
    struct ctl_opts o;
    char err[300] = "";
    ctl_opts_init(&o);
    const char *y = "# foresight-controller.yaml\n"
                    "kubeconfig: /etc/k.yaml\n"
                    "context: kwok\n"
                    "leader-elect: false\n"
                    "lease-namespace: ops\n"
                    "scheduler-name: foresight-gpu\n"
                    "http-address: 127.0.0.1:9090\n"
                    "step: 10s\n"
                    "horizon: 120\n"
                    "headroom: 0.1\n"
                    "default-duration: 5m\n"
                    "sample-interval: 5s\n"
                    "requeue: 1m\n"
                    "anomaly-tolerance: 0.25\n"
                    "learn-min-runs: 5\n"
                    "qps: 100\n"
                    "workers: 8\n"
                    "log-json: yes\n"
                    "verbose: true\n";
    assert_int_equal(load(&o, y, err, sizeof(err)), FS_OK);
    assert_string_equal(o.kubeconfig, "/etc/k.yaml");
    assert_string_equal(o.context, "kwok");
    assert_int_equal(o.leader_elect, 0);
    assert_string_equal(o.lease_ns, "ops");
    assert_string_equal(o.scheduler_name, "foresight-gpu");
    assert_string_equal(o.http_host, "127.0.0.1");
    assert_int_equal(o.http_port, 9090);
    assert_int_equal(o.step_s, 10);
    assert_int_equal(o.horizon_steps, 120);
    assert_true(o.headroom == 0.1);
    assert_true(o.default_s == 300);
    assert_true(o.sample_s == 5);
    assert_true(o.requeue_s == 60);
    assert_true(o.anomaly_tol == 0.25);
    assert_int_equal(o.learn_min_runs, 5);
    assert_true(o.qps == 100);
    assert_int_equal(o.workers, 8);
    assert_int_equal(o.log_json, 1);
    assert_int_equal(o.verbose, 1);
    ctl_opts_release(&o);
}

static void test_flags_override_the_file(void **state)
{
    (void)state;
    struct ctl_opts o;
    char err[300] = "";
    ctl_opts_init(&o);
    assert_int_equal(load(&o, "step: 10s\nworkers: 8\nkubeconfig: /a\n", err, sizeof(err)), FS_OK);
    /* what main does with --step 20 --kubeconfig /b --no-leader-elect -v after the file */
    assert_int_equal(ctl_opts_set(&o, "step", "20", err, sizeof(err)), FS_OK);
    assert_int_equal(ctl_opts_set(&o, "kubeconfig", "/b", err, sizeof(err)), FS_OK);
    assert_int_equal(ctl_opts_set(&o, "no-leader-elect", NULL, err, sizeof(err)), FS_OK);
    assert_int_equal(ctl_opts_set(&o, "verbose", NULL, err, sizeof(err)), FS_OK);
    assert_int_equal(o.step_s, 20);
    assert_int_equal(o.workers, 8); /* from the file, no flag */
    assert_string_equal(o.kubeconfig, "/b");
    assert_int_equal(o.leader_elect, 0);
    assert_int_equal(o.verbose, 1);
    ctl_opts_release(&o);
}

static void test_bad_files_are_named(void **state)
{
    (void)state;
    struct {
        const char *yaml;
        enum fs_err rc;
        const char *msg;
    } cases[] = {
        {"step: 10s\nwokers: 8\n", FS_ENOTFOUND, "c.yaml: line 2: unknown key wokers"},
        {"workers: 99\n", FS_EINVAL, "c.yaml: line 1: workers: not a number from 1 to 64"},
        {"workers: eight\n", FS_EINVAL, "c.yaml: line 1: workers: not a number from 1 to 64"},
        {"step: 0s\n", FS_EINVAL, "c.yaml: line 1: step: not a duration such as 30s, from 1s to 86400s"},
        {"sample-interval: soon\n", FS_EINVAL, "c.yaml: line 1: sample-interval: not a duration such as 30s, from 1s to 1e+09s"},
        {"log-json: maybe\n", FS_EINVAL, "c.yaml: line 1: log-json: maybe is not true or false"},
        {"http-address: localhost\n", FS_EINVAL, "c.yaml: line 1: http-address: localhost is not ADDRESS:PORT such as 127.0.0.1:8080"},
        {"headroom: nan\n", FS_EINVAL, "c.yaml: line 1: headroom: not a number from 0 to 0.99"},
        {"context: \"\"\n", FS_EINVAL, "c.yaml: line 1: context: empty"},
        {"qps: 5\nqps: 6\n", FS_EPARSE, "c.yaml: line 2: qps is set twice"},
        {"step: [10s]\n", FS_EPARSE, "c.yaml: line 1: step must be a single value"},
        {"- step\n", FS_EPARSE, "c.yaml: line 1: not a mapping of settings"},
        {"step: 10s\n  workers: [\n", FS_EPARSE, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ctl_opts o;
        char err[300] = "";
        ctl_opts_init(&o);
        enum fs_err rc = load(&o, cases[i].yaml, err, sizeof(err));
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, err);
        if (cases[i].msg && strcmp(err, cases[i].msg) != 0)
            fail_msg("case %zu: message '%s', want '%s'", i, err, cases[i].msg);
        if (!cases[i].msg && strncmp(err, "c.yaml: line ", 13) != 0)
            fail_msg("case %zu: message '%s' names no line", i, err);
        ctl_opts_release(&o);
    }
}

static void test_empty_file_sets_nothing(void **state)
{
    (void)state;
    struct ctl_opts o;
    char err[300] = "";
    ctl_opts_init(&o);
    assert_int_equal(load(&o, "", err, sizeof(err)), FS_OK);
    assert_int_equal(load(&o, "# nothing\n", err, sizeof(err)), FS_OK);
    assert_int_equal(o.step_s, 30);
    ctl_opts_release(&o);
}

static void test_file_io(void **state)
{
    (void)state;
    struct ctl_opts o;
    char err[300] = "", path[] = "/tmp/fs-config-XXXXXX";
    ctl_opts_init(&o);
    assert_int_equal(ctl_opts_load_file(&o, "/nonexistent/foresight.yaml", err, sizeof(err)), FS_EIO);
    assert_string_equal(err, "cannot read /nonexistent/foresight.yaml: No such file or directory");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("workers: 2\n", f);
    fclose(f);
    assert_int_equal(ctl_opts_load_file(&o, path, err, sizeof(err)), FS_OK);
    assert_int_equal(o.workers, 2);
    /* past the bound: refused, never read whole */
    f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 0; i <= CTL_CONFIG_MAX_BYTES / 16; i++)
        fputs("# padding......\n", f);
    fclose(f);
    assert_int_equal(ctl_opts_load_file(&o, path, err, sizeof(err)), FS_ERANGE);
    assert_non_null(strstr(err, "is larger than"));
    unlink(path);
    ctl_opts_release(&o);
}

/* the documented example (hack/examples/controller/foresight-controller.yaml) is valid and
 * says the defaults (found from this file's path: make runs the tests from the repo root) */
static void test_example_file(void **state)
{
    (void)state;
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, sizeof(path), "%.*s/../../hack/examples/controller/foresight-controller.yaml",
             slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    struct ctl_opts o, d;
    char err[300] = "";
    ctl_opts_init(&o);
    ctl_opts_init(&d);
    if (ctl_opts_load_file(&o, path, err, sizeof(err)) != FS_OK)
        fail_msg("%s", err);
    assert_int_equal(o.step_s, d.step_s);
    assert_int_equal(o.horizon_steps, d.horizon_steps);
    assert_int_equal(o.workers, d.workers);
    assert_int_equal(o.leader_elect, d.leader_elect);
    assert_int_equal(o.http_port, d.http_port);
    assert_true(o.default_s == d.default_s && o.sample_s == d.sample_s && o.requeue_s == d.requeue_s);
    assert_true(o.anomaly_tol == d.anomaly_tol && o.qps == d.qps && o.headroom == d.headroom);
    assert_int_equal(o.learn_min_runs, d.learn_min_runs);
    assert_string_equal(o.lease_ns, "default");
    assert_string_equal(o.lease_name, "foresight-controller");
    assert_string_equal(o.scheduler_name, "foresight");
    assert_null(o.prom_url);
    assert_non_null(o.prom_net_query);
    assert_string_equal(o.prom_net_query, CTL_DEFAULT_NETWORK_QUERY);
    assert_true(o.prom_timeout_s == d.prom_timeout_s);
    ctl_opts_release(&o);
    ctl_opts_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_sets_every_kind),
        cmocka_unit_test(test_flags_override_the_file),
        cmocka_unit_test(test_bad_files_are_named),
        cmocka_unit_test(test_empty_file_sets_nothing),
        cmocka_unit_test(test_file_io),
        cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
