/* Unit tests for lib/kube/config: kubeconfig contexts, merging, file and -data credentials,
 * token files that rotate, the exec plugin, in-cluster (IPv4 and IPv6) and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/config.h"

static char tmpdir[256];

static void write_file(const char *name, const char *content, int mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_kube_config.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* "hello CA\n" and "cert" / "key" in base64 */
static const char *const KCFG =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "clusters:\n"
    "- name: c1\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: aGVsbG8gQ0EK\n"
    "    tls-server-name: kubernetes.default\n"
    "- name: c2\n"
    "  cluster:\n"
    "    server: https://[::1]:7443\n"
    "    insecure-skip-tls-verify: true\n"
    "    certificate-authority: ca.pem\n"
    "contexts:\n"
    "- name: dev\n"
    "  context: {cluster: c1, user: u1, namespace: team-a}\n"
    "- name: other\n"
    "  context: {cluster: c2, user: u2}\n"
    "users:\n"
    "- name: u1\n"
    "  user:\n"
    "    token: abc.def\n"
    "    client-certificate-data: Y2VydA==\n"
    "    client-key-data: a2V5\n"
    "- name: u2\n"
    "  user:\n"
    "    tokenFile: tok\n";

static void test_current_context_with_data_fields(void **state)
{
    (void)state;
    struct kube_config cfg;
    assert_int_equal(kube_config_parse(&cfg, KCFG, strlen(KCFG), NULL, tmpdir), FS_OK);
    assert_string_equal(cfg.server, "https://127.0.0.1:6443");
    assert_string_equal(cfg.context, "dev");
    assert_string_equal(cfg.namespace, "team-a");
    assert_int_equal(cfg.ca_pem_len, 9);
    assert_memory_equal(cfg.ca_pem, "hello CA\n", 9);
    assert_string_equal(cfg.tls_server_name, "kubernetes.default");
    assert_int_equal(cfg.insecure_skip_verify, 0);
    struct kube_credentials cr;
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "abc.def");
    assert_string_equal(cr.cert_pem, "cert");
    assert_string_equal(cr.key_pem, "key");
    kube_credentials_release(&cr);
    kube_config_release(&cfg);
}

static void test_named_context_files_relative_to_kubeconfig(void **state)
{
    (void)state;
    write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
    write_file("tok", "token-one\n", 0600);
    struct kube_config cfg;
    assert_int_equal(kube_config_parse(&cfg, KCFG, strlen(KCFG), "other", tmpdir), FS_OK);
    assert_string_equal(cfg.server, "https://[::1]:7443");
    assert_string_equal(cfg.namespace, "default");
    assert_int_equal(cfg.insecure_skip_verify, 1);
    assert_string_equal(cfg.ca_pem, "-----BEGIN CERTIFICATE-----\n");
    struct kube_credentials cr;
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "token-one");
    kube_credentials_release(&cr);

    /* rotation: not re-read before token_reread_s, re-read when forced or once it is due */
    write_file("tok", "token-two\n", 0600);
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "token-one");
    kube_credentials_release(&cr);
    assert_int_equal(kube_config_credentials(&cfg, 1, &cr), FS_OK);
    assert_string_equal(cr.token, "token-two");
    kube_credentials_release(&cr);
    write_file("tok", "token-three\n", 0600);
    cfg.token_reread_s = 0;
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "token-three");
    kube_credentials_release(&cr);
    /* a token file that vanishes mid-rotation keeps the last good token */
    char p[512];
    snprintf(p, sizeof(p), "%s/tok", tmpdir);
    unlink(p);
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "token-three");
    kube_credentials_release(&cr);
    kube_config_release(&cfg);
}

static void test_kubeconfig_env_merge_first_wins(void **state)
{
    (void)state;
    write_file("a.yaml",
               "current-context: ctx\n"
               "contexts: [{name: ctx, context: {cluster: c, user: u}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://a.example:443'}}]\n", 0600);
    write_file("b.yaml",
               "current-context: ignored\n"
               "clusters: [{name: c, cluster: {server: 'https://b.example:443'}}]\n"
               "users: [{name: u, user: {token: from-b}}]\n", 0600);
    char env[1024];
    snprintf(env, sizeof(env), "%s/missing.yaml:%s/a.yaml:%s/b.yaml", tmpdir, tmpdir, tmpdir);
    setenv("KUBECONFIG", env, 1);
    struct kube_config cfg;
    assert_int_equal(kube_config_load_default(&cfg, NULL), FS_OK);
    assert_string_equal(cfg.server, "https://a.example:443");
    assert_string_equal(cfg.token, "from-b");
    kube_config_release(&cfg);
    unsetenv("KUBECONFIG");
}

static void test_exec_plugin(void **state)
{
    (void)state;
    /* the plugin checks it was given KUBERNETES_EXEC_INFO and the configured env and args */
    write_file("plugin.sh",
               "#!/bin/sh\n"
               "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 3;; esac\n"
               "[ \"$1\" = get-token ] || exit 4\n"
               "n=$(cat \"$COUNTER\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$COUNTER\"\n"
               "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
               "\"status\":{\"token\":\"exec-'$n'\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}'\n",
               0755);
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "current-context: x\n"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
             "clusters: [{name: c, cluster: {server: 'https://h:1'}}]\n"
             "users:\n"
             "- name: u\n"
             "  user:\n"
             "    exec:\n"
             "      apiVersion: client.authentication.k8s.io/v1\n"
             "      command: ./plugin.sh\n"
             "      args: [get-token]\n"
             "      env: [{name: COUNTER, value: '%s/count'}]\n", tmpdir);
    struct kube_config cfg;
    assert_int_equal(kube_config_parse(&cfg, yaml, strlen(yaml), NULL, tmpdir), FS_OK);
    struct kube_credentials cr;
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "exec-1");
    kube_credentials_release(&cr);
    /* still valid: the plugin is not run again; a 401 (force) runs it again */
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "exec-1");
    kube_credentials_release(&cr);
    assert_int_equal(kube_config_credentials(&cfg, 1, &cr), FS_OK);
    assert_string_equal(cr.token, "exec-2");
    kube_credentials_release(&cr);
    kube_config_release(&cfg);

    /* a plugin that fails or prints garbage is a clear error */
    write_file("bad.sh", "#!/bin/sh\necho not json\n", 0755);
    const char *bad = "current-context: x\n"
                      "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      "clusters: [{name: c, cluster: {server: 'https://h:1'}}]\n"
                      "users: [{name: u, user: {exec: {command: ./bad.sh}}}]\n";
    assert_int_equal(kube_config_parse(&cfg, bad, strlen(bad), NULL, tmpdir), FS_OK);
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_EPARSE);
    assert_non_null(strstr(cfg.errbuf, "ExecCredential"));
    kube_config_release(&cfg);
    const char *missing = "current-context: x\n"
                          "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                          "clusters: [{name: c, cluster: {server: 'https://h:1'}}]\n"
                          "users: [{name: u, user: {exec: {command: no-such-plugin-xyz}}}]\n";
    assert_int_equal(kube_config_parse(&cfg, missing, strlen(missing), NULL, tmpdir), FS_OK);
    assert_int_not_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_non_null(strstr(cfg.errbuf, "no-such-plugin-xyz"));
    kube_config_release(&cfg);
}

static void test_in_cluster(void **state)
{
    (void)state;
    char sa[512];
    snprintf(sa, sizeof(sa), "%s/sa", tmpdir);
    mkdir(sa, 0700);
    write_file("sa/token", "sa-token\n", 0600);
    write_file("sa/ca.crt", "CA", 0644);
    write_file("sa/namespace", "foresight-system\n", 0644);
    struct kube_config cfg;
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(kube_config_in_cluster(&cfg, sa), FS_EINVAL);
    assert_non_null(strstr(cfg.errbuf, "KUBERNETES_SERVICE_HOST"));
    kube_config_release(&cfg);

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(kube_config_in_cluster(&cfg, sa), FS_OK);
    assert_string_equal(cfg.server, "https://10.96.0.1:443");
    assert_string_equal(cfg.namespace, "foresight-system");
    assert_string_equal(cfg.ca_pem, "CA");
    struct kube_credentials cr;
    assert_int_equal(kube_config_credentials(&cfg, 0, &cr), FS_OK);
    assert_string_equal(cr.token, "sa-token");
    kube_credentials_release(&cr);
    kube_config_release(&cfg);

    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    assert_int_equal(kube_config_in_cluster(&cfg, sa), FS_OK);
    assert_string_equal(cfg.server, "https://[fd00:10:96::1]:443");
    kube_config_release(&cfg);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void expect_bad(const char *yaml, enum fs_err want, const char *msg_part)
{
    struct kube_config cfg;
    enum fs_err rc = kube_config_parse(&cfg, yaml, strlen(yaml), NULL, tmpdir);
    if (rc != want || !strstr(cfg.errbuf, msg_part))
        fail_msg("want %d \"%s\", got %d \"%s\" for:\n%s", want, msg_part, rc, cfg.errbuf, yaml);
    kube_config_release(&cfg);
}

static void test_malformed_kubeconfig_clear_errors(void **state)
{
    (void)state;
    expect_bad("clusters: [unclosed\n", FS_EPARSE, "malformed kubeconfig");
    expect_bad("- a\n- b\n", FS_EPARSE, "not a mapping");
    expect_bad("clusters: {a: b}\n", FS_EPARSE, "clusters is not a list");
    expect_bad("kind: Config\n", FS_EINVAL, "no current-context");
    expect_bad("current-context: nope\n", FS_EINVAL, "context \"nope\" not found");
    expect_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n", FS_EINVAL,
               "cluster \"c\" of context \"x\" not found");
    expect_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
               "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n", FS_EINVAL, "not an http(s) URL");
    expect_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '@@@'}}]\n",
               FS_EPARSE, "not valid base64");
    expect_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: nofile.pem}}]\n",
               FS_EIO, "nofile.pem");
    expect_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
               "users: [{name: u, user: {client-certificate-data: Y2VydA==}}]\n", FS_EINVAL, "client key");
    expect_bad("a: &a [*a]\n", FS_EPARSE, "malformed");
    /* alias bombs stay bounded */
    expect_bad("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
               "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
               "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
               FS_EPARSE, "too large");
}

static void test_base64(void **state)
{
    (void)state;
    char *out;
    size_t n;
    assert_int_equal(kube_base64_decode("aGk=", 4, &out, &n), FS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out, "hi");
    free(out);
    assert_int_equal(kube_base64_decode("aGk", 3, &out, &n), FS_OK); /* padding optional */
    assert_string_equal(out, "hi");
    free(out);
    assert_int_equal(kube_base64_decode("aG\nk=", 5, &out, &n), FS_OK);
    free(out);
    assert_int_equal(kube_base64_decode("a", 1, &out, &n), FS_EPARSE);
    assert_int_equal(kube_base64_decode("aG=k", 4, &out, &n), FS_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_current_context_with_data_fields),
        cmocka_unit_test(test_named_context_files_relative_to_kubeconfig),
        cmocka_unit_test(test_kubeconfig_env_merge_first_wins),
        cmocka_unit_test(test_exec_plugin),
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_malformed_kubeconfig_clear_errors),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
