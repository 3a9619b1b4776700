/* Unit tests for the controller's Prometheus settings (controller/config): the defaults leave
 * network unsampled, the file keys and the flags set the URL, the PromQL and the timeout, and
 * a URL that is not http(s) or a timeout out of range is refused with the key named. */
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
        char err[300] = "";
        ctl_opts_init(&o);
        enum fs_err rc = ctl_opts_set(&o, bad[i].key, bad[i].value, err, sizeof(err));
        if (rc != FS_EINVAL || !strstr(err, bad[i].says))
            fail_msg("%s=%s: rc %d, err \"%s\"", bad[i].key, bad[i].value, rc, err);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_and_flags),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
