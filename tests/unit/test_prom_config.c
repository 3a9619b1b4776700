/* Unit tests for the controller's Prometheus settings (controller/config): the defaults leave
 * network unsampled, the file keys and the flags set the URL, the PromQL, the timeout, TLS
 * and credentials, a URL that is not http(s) or a timeout out of range is refused with the
 * key named, and settings that exclude each other or need another are refused by
 * ctl_opts_check naming both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/duration.c"
#include "../../controller/config.c"

static void test_defaults(void **state)
{
    (void)state;
    struct ctl_opts o;
    ctl_opts_init(&o);
    assert_null(o.prom_url);
    assert_null(o.prom_net_query);
    assert_true(o.prom_timeout_s == 5);
    /* the default query is cadvisor's counters summed per pod, labelled namespace and pod */
    assert_non_null(strstr(CTL_DEFAULT_NETWORK_QUERY, "sum by (namespace, pod)"));
    assert_non_null(strstr(CTL_DEFAULT_NETWORK_QUERY, "container_network_receive_bytes_total"));
    assert_non_null(strstr(CTL_DEFAULT_NETWORK_QUERY, "container_network_transmit_bytes_total"));
    ctl_opts_release(&o);
}

static void test_file_and_flags(void **state)
{
    (void)state;
    struct ctl_opts o;
    char err[300] = "";
    ctl_opts_init(&o);
    const char *y = "prometheus-url: http://prometheus.monitoring:9090\n"
                    "prometheus-network-query: 'sum by (namespace, pod) (rate(net_bytes_total[2m]))'\n"
                    "prometheus-timeout: 3s\n";
    assert_int_equal(ctl_opts_load_yaml(&o, y, strlen(y), "c.yaml", err, sizeof(err)), FS_OK);
    assert_string_equal(o.prom_url, "http://prometheus.monitoring:9090");
    assert_string_equal(o.prom_net_query, "sum by (namespace, pod) (rate(net_bytes_total[2m]))");
    assert_true(o.prom_timeout_s == 3);
    /* a flag given after the file wins */
    assert_int_equal(ctl_opts_set(&o, "prometheus-url", "https://thanos.example/prom", err, sizeof(err)), FS_OK);
    assert_string_equal(o.prom_url, "https://thanos.example/prom");
    assert_int_equal(ctl_opts_set(&o, "prometheus-timeout", "1500ms", err, sizeof(err)), FS_OK);
    assert_true(o.prom_timeout_s == 1.5);
    ctl_opts_release(&o);
    assert_null(o.prom_url);
}

/* key=value is refused with FS_EINVAL and a message holding `says`; o keeps its defaults. */
static void expect_refused(struct ctl_opts *o, const char *key, const char *value, const char *says)
{
    char err[300] = "";
    enum fs_err rc = ctl_opts_set(o, key, value, err, sizeof(err));
    if (rc != FS_EINVAL || !strstr(err, says))
        fail_msg("%s=%s: rc %d, err \"%s\"", key, value, rc, err);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *says;
    } bad[] = {
        {"prometheus-url", "prometheus:9090", "not an http:// or https:// URL"},
        {"prometheus-url", "", "empty"},
        {"prometheus-network-query", "", "empty"},
        {"prometheus-timeout", "0s", "prometheus-timeout: not a duration"},
        {"prometheus-timeout", "2m", "prometheus-timeout: not a duration"},
        {"prometheus-timeout", "soon", "prometheus-timeout: not a duration"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ctl_opts o;
        ctl_opts_init(&o);
        expect_refused(&o, bad[i].key, bad[i].value, bad[i].says);
        assert_null(o.prom_url);
        assert_true(o.prom_timeout_s == 5);
        ctl_opts_release(&o);
    }
    struct ctl_opts o;
    char err[300] = "";
    ctl_opts_init(&o);
    const char *y = "prometheus-url: [a, b]\n";
    assert_int_equal(ctl_opts_load_yaml(&o, y, strlen(y), "c.yaml", err, sizeof(err)), FS_EPARSE);
    assert_non_null(strstr(err, "prometheus-url must be a single value"));
    ctl_opts_release(&o);
}

static void test_tls_and_auth_settings(void **state)
{
    (void)state;
    struct ctl_opts o;
    char err[300] = "";
    ctl_opts_init(&o);
    assert_null(o.prom_ca_file);
    assert_int_equal(o.prom_insecure, 0);
    assert_null(o.prom_token_file);
    assert_null(o.prom_username);
    assert_null(o.prom_password_file);
    const char *y = "prometheus-url: https://thanos-querier.openshift-monitoring.svc:9091\n"
                    "prometheus-ca-file: /etc/foresight/prometheus-ca/ca.crt\n"
                    "prometheus-bearer-token-file: /var/run/secrets/kubernetes.io/serviceaccount/token\n";
    assert_int_equal(ctl_opts_load_yaml(&o, y, strlen(y), "c.yaml", err, sizeof(err)), FS_OK);
    assert_string_equal(o.prom_ca_file, "/etc/foresight/prometheus-ca/ca.crt");
    assert_string_equal(o.prom_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
    assert_int_equal(ctl_opts_check(&o, err, sizeof(err)), FS_OK);
    ctl_opts_release(&o);
    assert_null(o.prom_ca_file);
    assert_null(o.prom_token_file);

    ctl_opts_init(&o);
    y = "prometheus-url: https://prometheus.example/api/prom\n"
        "prometheus-insecure-skip-tls-verify: true\n"
        "prometheus-username: foresight\n"
        "prometheus-password-file: /etc/foresight/prometheus-auth/password\n";
    assert_int_equal(ctl_opts_load_yaml(&o, y, strlen(y), "c.yaml", err, sizeof(err)), FS_OK);
    assert_int_equal(o.prom_insecure, 1);
    assert_string_equal(o.prom_username, "foresight");
    assert_string_equal(o.prom_password_file, "/etc/foresight/prometheus-auth/password");
    assert_int_equal(ctl_opts_check(&o, err, sizeof(err)), FS_OK);
    /* the flag after the file (a boolean flag has no value on the command line) */
    assert_int_equal(ctl_opts_set(&o, "prometheus-insecure-skip-tls-verify", "false", err, sizeof(err)), FS_OK);
    assert_int_equal(o.prom_insecure, 0);
    assert_int_equal(ctl_opts_set(&o, "prometheus-insecure-skip-tls-verify", NULL, err, sizeof(err)), FS_OK);
    assert_int_equal(o.prom_insecure, 1);
    ctl_opts_release(&o);
}

static void test_tls_and_auth_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *says;
    } bad[] = {
        {"prometheus-username", "a:b", "prometheus-username: a:b has a colon"},
        {"prometheus-username", "", "prometheus-username: empty"},
        {"prometheus-ca-file", "", "prometheus-ca-file: empty"},
        {"prometheus-bearer-token-file", "", "prometheus-bearer-token-file: empty"},
        {"prometheus-password-file", "", "prometheus-password-file: empty"},
        {"prometheus-insecure-skip-tls-verify", "maybe", "maybe is not true or false"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ctl_opts o;
        ctl_opts_init(&o);
        expect_refused(&o, bad[i].key, bad[i].value, bad[i].says);
        ctl_opts_release(&o);
    }
}

/* combinations: each file is valid setting by setting, the check names what clashes */
static void test_combinations_checked(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *says;
    } bad[] = {
        {"prometheus-url: https://p\nprometheus-bearer-token-file: /t\nprometheus-username: u\n"
         "prometheus-password-file: /p\n",
         "prometheus-bearer-token-file and prometheus-username are exclusive"},
        {"prometheus-url: https://p\nprometheus-bearer-token-file: /t\nprometheus-password-file: /p\n",
         "prometheus-bearer-token-file and prometheus-password-file are exclusive"},
        {"prometheus-url: https://p\nprometheus-username: u\n", "basic auth needs prometheus-password-file"},
        {"prometheus-url: https://p\nprometheus-password-file: /p\n", "basic auth needs prometheus-username"},
        {"prometheus-url: https://p\nprometheus-ca-file: /ca\nprometheus-insecure-skip-tls-verify: true\n",
         "prometheus-ca-file and prometheus-insecure-skip-tls-verify are exclusive"},
        {"prometheus-url: http://p:9090\nprometheus-ca-file: /ca\n",
         "prometheus-ca-file needs an https:// prometheus-url"},
        {"prometheus-url: http://p:9090\nprometheus-insecure-skip-tls-verify: true\n",
         "prometheus-insecure-skip-tls-verify needs an https:// prometheus-url"},
        {"prometheus-bearer-token-file: /t\n", "prometheus-bearer-token-file is set but prometheus-url is not"},
        {"prometheus-ca-file: /ca\n", "prometheus-ca-file is set but prometheus-url is not"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ctl_opts o;
        char err[300] = "";
        ctl_opts_init(&o);
        assert_int_equal(ctl_opts_load_yaml(&o, bad[i].yaml, strlen(bad[i].yaml), "c.yaml", err, sizeof(err)), FS_OK);
        enum fs_err rc = ctl_opts_check(&o, err, sizeof(err));
        if (rc != FS_EINVAL || !strstr(err, bad[i].says))
            fail_msg("case %zu: rc %d, err \"%s\", expected \"%s\"", i, rc, err, bad[i].says);
        ctl_opts_release(&o);
    }
    /* bearer over plain http (a sidecar proxy in the pod) and no Prometheus at all are fine */
    struct ctl_opts o;
    char err[300] = "";
    ctl_opts_init(&o);
    assert_int_equal(ctl_opts_check(&o, err, sizeof(err)), FS_OK);
    const char *y = "prometheus-url: http://127.0.0.1:9091\nprometheus-bearer-token-file: /t\n";
    assert_int_equal(ctl_opts_load_yaml(&o, y, strlen(y), "c.yaml", err, sizeof(err)), FS_OK);
    assert_int_equal(ctl_opts_check(&o, err, sizeof(err)), FS_OK);
    ctl_opts_release(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_and_flags),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_tls_and_auth_settings),
        cmocka_unit_test(test_tls_and_auth_refusals),
        cmocka_unit_test(test_combinations_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
