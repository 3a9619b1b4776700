/* foresight-controller settings (see config.h). One table names every setting, its kind and
 * its bounds, so a flag and a file key are checked by the same code. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "duration.h"
#include "ledger/curve.h"
#include "ledger/ledger.h"

enum kind { K_STR, K_BOOL, K_NUM, K_DUR, K_ADDR };

struct setting {
    const char *name;
    enum kind kind;
    double min, max;
};

static const struct setting SETTINGS[] = {
    {"kubeconfig", K_STR, 0, 0},
    {"context", K_STR, 0, 0},
    {"leader-elect", K_BOOL, 0, 0},
    {"no-leader-elect", K_BOOL, 0, 0},
    {"lease-namespace", K_STR, 0, 0},
    {"lease-name", K_STR, 0, 0},
    {"scheduler-name", K_STR, 0, 0},
    {"http-address", K_ADDR, 0, 0},
    {"step", K_DUR, 1, CURVE_MAX_STEP_S},
    {"horizon", K_NUM, 1, LEDGER_MAX_STEPS},
    {"headroom", K_NUM, 0, 0.99},
    {"default-duration", K_DUR, 1, 1e9},
    {"sample-interval", K_DUR, 1, 1e9},
    {"requeue", K_DUR, 1, 1e9},
    {"anomaly-tolerance", K_NUM, 0, 100},
    {"learn-min-runs", K_NUM, 1, 1000},
    {"qps", K_NUM, 1, 100000},
    {"workers", K_NUM, 1, 64},
    {"prometheus-url", K_STR, 0, 0},
    {"prometheus-network-query", K_STR, 0, 0},
    {"prometheus-timeout", K_DUR, 1, 60},
    {"prometheus-ca-file", K_STR, 0, 0},
    {"prometheus-insecure-skip-tls-verify", K_BOOL, 0, 0},
    {"prometheus-bearer-token-file", K_STR, 0, 0},
    {"prometheus-username", K_STR, 0, 0},
    {"prometheus-password-file", K_STR, 0, 0},
    {"log-json", K_BOOL, 0, 0},
    {"verbose", K_BOOL, 0, 0},
};

void ctl_opts_init(struct ctl_opts *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->http_host, sizeof(o->http_host), "0.0.0.0");
    o->http_port = 8080;
    o->leader_elect = 1;
    o->step_s = 30;
    o->default_s = 600;
    o->sample_s = 15;
    o->requeue_s = 30;
    o->anomaly_tol = 0.1;
    o->headroom = 0;
    o->horizon_steps = 240;
    o->learn_min_runs = 3;
    o->workers = 4;
    o->qps = 50;
    o->prom_timeout_s = 5;
}

void ctl_opts_release(struct ctl_opts *o)
{
    free(o->kubeconfig);
    free(o->context);
    free(o->lease_ns);
    free(o->lease_name);
    free(o->scheduler_name);
    free(o->prom_url);
    free(o->prom_net_query);
    free(o->prom_ca_file);
    free(o->prom_token_file);
    free(o->prom_username);
    free(o->prom_password_file);
    o->kubeconfig = o->context = o->lease_ns = o->lease_name = o->scheduler_name = NULL;
    o->prom_url = o->prom_net_query = o->prom_ca_file = o->prom_token_file = NULL;
    o->prom_username = o->prom_password_file = NULL;
}

static enum fs_err say(char *err, size_t errlen, enum fs_err rc, const char *fmt, const char *a, const char *b)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, b);
    return rc;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", "1"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_number(const char *v, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || !end || end == v || *end || !isfinite(d) || d < min || d > max)
        return -1;
    *out = d;
    return 0;
}

static int has_control(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return 1;
    return 0;
}

static enum fs_err set_str(char **field, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return FS_ENOMEM;
    free(*field);
    *field = s;
    return FS_OK;
}

enum fs_err ctl_opts_set(struct ctl_opts *o, const char *name, const char *value, char *err, size_t errlen)
{
    const struct setting *s = NULL;
    char range[96];
    for (size_t i = 0; i < sizeof(SETTINGS) / sizeof(SETTINGS[0]); i++)
        if (strcmp(SETTINGS[i].name, name) == 0)
            s = &SETTINGS[i];
    if (!s)
        return say(err, errlen, FS_ENOTFOUND, "unknown key %s%s", name, "");
    if (!value && s->kind != K_BOOL)
        return say(err, errlen, FS_EINVAL, "%s needs a value%s", name, "");
    int b = 1;
    double d = 0;
    switch (s->kind) {
    case K_BOOL:
        if (value && parse_bool(value, &b))
            return say(err, errlen, FS_EINVAL, "%s: %s is not true or false", name, value);
        if (strcmp(name, "leader-elect") == 0)
            o->leader_elect = b;
        else if (strcmp(name, "no-leader-elect") == 0)
            o->leader_elect = !b;
        else if (strcmp(name, "log-json") == 0)
            o->log_json = b;
        else if (strcmp(name, "prometheus-insecure-skip-tls-verify") == 0)
            o->prom_insecure = b;
        else
            o->verbose = b;
        return FS_OK;
    case K_STR:
        if (!value[0])
            return say(err, errlen, FS_EINVAL, "%s: empty%s", name, "");
        if (strcmp(name, "prometheus-url") == 0 && strncmp(value, "http://", 7) != 0 &&
            strncmp(value, "https://", 8) != 0)
            return say(err, errlen, FS_EINVAL, "%s: %s is not an http:// or https:// URL", name, value);
        /* RFC 7617: the user-id of basic auth cannot hold a colon (nor a control character) */
        if (strcmp(name, "prometheus-username") == 0 && (strchr(value, ':') || has_control(value)))
            return say(err, errlen, FS_EINVAL, "%s: %s has a colon or a control character", name, value);
        return set_str(strcmp(name, "kubeconfig") == 0                 ? &o->kubeconfig
                       : strcmp(name, "context") == 0                  ? &o->context
                       : strcmp(name, "lease-namespace") == 0          ? &o->lease_ns
                       : strcmp(name, "scheduler-name") == 0           ? &o->scheduler_name
                       : strcmp(name, "prometheus-url") == 0           ? &o->prom_url
                       : strcmp(name, "prometheus-network-query") == 0 ? &o->prom_net_query
                       : strcmp(name, "prometheus-ca-file") == 0           ? &o->prom_ca_file
                       : strcmp(name, "prometheus-bearer-token-file") == 0 ? &o->prom_token_file
                       : strcmp(name, "prometheus-username") == 0          ? &o->prom_username
                       : strcmp(name, "prometheus-password-file") == 0     ? &o->prom_password_file
                                                                       : &o->lease_name,
                       value);
    case K_ADDR: {
        const char *colon = strrchr(value, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || !end || *end || end == colon + 1 || port < 0 || port > 65535 ||
            (size_t)(colon - value) >= sizeof(o->http_host))
            return say(err, errlen, FS_EINVAL, "%s: %s is not ADDRESS:PORT such as 127.0.0.1:8080", name, value);
        snprintf(o->http_host, sizeof(o->http_host), "%.*s", (int)(colon - value), value);
        if (!o->http_host[0])
            snprintf(o->http_host, sizeof(o->http_host), "0.0.0.0");
        o->http_port = (int)port;
        return FS_OK;
    }
    case K_DUR:
        /* a bare number is seconds (--step 30 predates durations) */
        if ((parse_number(value, 0, 1e18, &d) && duration_parse(value, &d) != FS_OK) || !(d >= s->min) ||
            d > s->max) {
            snprintf(range, sizeof(range), "a duration such as 30s, from %gs to %gs", s->min, s->max);
            return say(err, errlen, FS_EINVAL, "%s: not %s", name, range);
        }
        if (strcmp(name, "step") == 0)
            o->step_s = (uint32_t)d;
        else if (strcmp(name, "default-duration") == 0)
            o->default_s = d;
        else if (strcmp(name, "sample-interval") == 0)
            o->sample_s = d;
        else if (strcmp(name, "prometheus-timeout") == 0)
            o->prom_timeout_s = d;
        else
            o->requeue_s = d;
        return FS_OK;
    case K_NUM:
        if (parse_number(value, s->min, s->max, &d)) {
            snprintf(range, sizeof(range), "a number from %g to %g", s->min, s->max);
            return say(err, errlen, FS_EINVAL, "%s: not %s", name, range);
        }
        if (strcmp(name, "horizon") == 0)
            o->horizon_steps = (uint32_t)d;
        else if (strcmp(name, "headroom") == 0)
            o->headroom = d;
        else if (strcmp(name, "anomaly-tolerance") == 0)
            o->anomaly_tol = d;
        else if (strcmp(name, "learn-min-runs") == 0)
            o->learn_min_runs = (long)d;
        else if (strcmp(name, "qps") == 0)
            o->qps = d;
        else
            o->workers = (long)d;
        return FS_OK;
    }
    return FS_EINVAL;
}

enum fs_err ctl_opts_check(const struct ctl_opts *o, char *err, size_t errlen)
{
    const char *tls = o->prom_ca_file ? "prometheus-ca-file"
                      : o->prom_insecure ? "prometheus-insecure-skip-tls-verify"
                                         : NULL;
    const char *any = tls                      ? tls
                      : o->prom_token_file     ? "prometheus-bearer-token-file"
                      : o->prom_username       ? "prometheus-username"
                      : o->prom_password_file  ? "prometheus-password-file"
                                               : NULL;
    if (any && !o->prom_url)
        return say(err, errlen, FS_EINVAL, "%s is set but prometheus-url is not%s", any, "");
    if (o->prom_token_file && (o->prom_username || o->prom_password_file))
        return say(err, errlen, FS_EINVAL,
                   "prometheus-bearer-token-file and %s are exclusive: a bearer token or basic auth%s",
                   o->prom_username ? "prometheus-username" : "prometheus-password-file", "");
    if (!o->prom_username != !o->prom_password_file)
        return say(err, errlen, FS_EINVAL, "basic auth needs %s too%s",
                   o->prom_username ? "prometheus-password-file" : "prometheus-username", "");
    if (o->prom_ca_file && o->prom_insecure)
        return say(err, errlen, FS_EINVAL,
                   "prometheus-ca-file and prometheus-insecure-skip-tls-verify are exclusive: the CA would be "
                   "ignored%s%s", "", "");
    if (tls && strncmp(o->prom_url, "https://", 8) != 0)
        return say(err, errlen, FS_EINVAL, "%s needs an https:// prometheus-url%s", tls, "");
    return FS_OK;
}

enum fs_err ctl_opts_load_yaml(struct ctl_opts *o, const char *buf, size_t len, const char *what, char *err,
                               size_t errlen)
{
    enum fs_err rc = FS_EPARSE;
    yaml_parser_t p;
    yaml_document_t doc;
    int have_doc = 0;
    char e[300] = "";
    if (!yaml_parser_initialize(&p))
        return say(err, errlen, FS_ENOMEM, "out of memory%s%s", "", "");
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&p, &doc)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: line %zu: %s", what, p.problem_mark.line + 1,
                     p.problem ? p.problem : "not YAML");
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) { /* an empty file sets nothing */
        rc = FS_OK;
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        if (err && errlen)
            snprintf(err, errlen, "%s: line %zu: not a mapping of settings", what, root->start_mark.line + 1);
        goto out;
    }
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pair->key), *v = yaml_document_get_node(&doc, pair->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) {
            if (err && errlen)
                snprintf(err, errlen, "%s: line %zu: a key must be a setting's name", what,
                         (k ? k->start_mark.line : root->start_mark.line) + 1);
            rc = FS_EPARSE;
            goto out;
        }
        const char *key = (const char *)k->data.scalar.value;
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < pair; q++) {
            yaml_node_t *qk = yaml_document_get_node(&doc, q->key);
            if (qk && qk->type == YAML_SCALAR_NODE && strcmp((const char *)qk->data.scalar.value, key) == 0) {
                if (err && errlen)
                    snprintf(err, errlen, "%s: line %zu: %s is set twice", what, k->start_mark.line + 1, key);
                rc = FS_EPARSE;
                goto out;
            }
        }
        if (v->type != YAML_SCALAR_NODE) {
            if (err && errlen)
                snprintf(err, errlen, "%s: line %zu: %s must be a single value", what, v->start_mark.line + 1, key);
            rc = FS_EPARSE;
            goto out;
        }
        rc = ctl_opts_set(o, key, (const char *)v->data.scalar.value, e, sizeof(e));
        if (rc != FS_OK) {
            if (err && errlen)
                snprintf(err, errlen, "%s: line %zu: %s", what, k->start_mark.line + 1, e);
            goto out;
        }
    }
    rc = FS_OK;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

enum fs_err ctl_opts_load_file(struct ctl_opts *o, const char *path, char *err, size_t errlen)
{
    enum fs_err rc = FS_EIO;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return FS_EIO;
    }
    if (!(buf = malloc(CTL_CONFIG_MAX_BYTES + 1))) {
        rc = FS_ENOMEM;
        goto out;
    }
    len = fread(buf, 1, CTL_CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        if (err && errlen)
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (len > CTL_CONFIG_MAX_BYTES) {
        if (err && errlen)
            snprintf(err, errlen, "%s is larger than %u bytes", path, CTL_CONFIG_MAX_BYTES);
        rc = FS_ERANGE;
        goto out;
    }
    rc = ctl_opts_load_yaml(o, buf, len, path, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}
