/* kubeconfig and in-cluster configuration. Files are converted to JSON first; merging
 * follows kubectl (the first file in $KUBECONFIG that names a context, cluster or user
 * wins), relative paths resolve against the file that holds them, and every string the
 * config keeps is owned by it. */
#include "kube/config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "kube/internal.h"

extern char **environ;

#define KUBECONFIG_MAX (4u * 1024u * 1024u)   /* bytes per kubeconfig file */
#define PEM_MAX (1024u * 1024u)
#define TOKEN_MAX (64u * 1024u)
#define EXEC_OUT_MAX (1024u * 1024u)
#define EXEC_TIMEOUT_MS 60000
#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

static void set_err(struct kube_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(struct kube_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->errbuf, sizeof(cfg->errbuf), fmt, ap);
    va_end(ap);
}

static void config_zero(struct kube_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    pthread_mutex_init(&cfg->lock, NULL);
    cfg->token_reread_s = 60;
}

static void free_strv(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

void kube_config_release(struct kube_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->server);
    free(cfg->ca_pem);
    free(cfg->tls_server_name);
    free(cfg->namespace);
    free(cfg->context);
    free(cfg->token);
    free(cfg->token_file);
    free(cfg->cert_pem);
    free(cfg->key_pem);
    free(cfg->exec.command);
    free_strv(cfg->exec.args);
    free_strv(cfg->exec.env);
    free(cfg->exec.api_version);
    free(cfg->cached_token);
    free(cfg->exec_cert_pem);
    free(cfg->exec_key_pem);
    pthread_mutex_destroy(&cfg->lock);
    char errbuf[sizeof(cfg->errbuf)];
    memcpy(errbuf, cfg->errbuf, sizeof(errbuf));
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->errbuf, errbuf, sizeof(errbuf)); /* the reason survives release */
}

enum fs_err kube_base64_decode(const char *in, size_t in_len, char **out, size_t *out_len)
{
    char *buf = malloc(in_len / 4 * 3 + 4);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    *out = NULL;
    if (!buf)
        return FS_ENOMEM;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=') {
            pad++;
            continue;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        else
            goto bad;
        if (pad)
            goto bad; /* data after padding */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6 || pad > 2)
        goto bad; /* a lone 6-bit group cannot encode a byte */
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return FS_OK;
bad:
    free(buf);
    return FS_EPARSE;
}

/* A named entry found in one of the merged files, with the directory of that file. */
struct entry {
    const json_t *body;
    const char *dir;
};

struct merged {
    json_t *docs;       /* array of parsed files */
    json_t *dirs;       /* array of their directories (strings) */
    const char *current_context;
};

static int find_named(const struct merged *m, const char *list, const char *inner,
                      const char *name, struct entry *e)
{
    size_t i;
    json_t *doc;
    json_array_foreach(m->docs, i, doc) {
        json_t *arr = json_object_get(doc, list);
        size_t j;
        json_t *it;
        if (!json_is_array(arr))
            continue;
        json_array_foreach(arr, j, it) {
            const char *n = json_string_value(json_object_get(it, "name"));
            if (n && strcmp(n, name) == 0) {
                e->body = json_object_get(it, inner);
                e->dir = json_string_value(json_array_get(m->dirs, i));
                return e->body && json_is_object(e->body) ? 0 : -1;
            }
        }
    }
    return -1;
}

static const char *get_s(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && *v ? v : NULL;
}

static int get_bool(const json_t *o, const char *k)
{
    const char *v = get_s(o, k);
    return v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

/* dir/path unless path is absolute (new string). */
static char *resolve_path(const char *dir, const char *path)
{
    char *r = NULL;
    if (path[0] == '/' || !dir || !*dir)
        return strdup(path);
    if (asprintf(&r, "%s/%s", dir, path) < 0)
        return NULL;
    return r;
}

/* Loads PEM bytes from "<key>-data" (base64) or "<key>" (a file). */
static enum fs_err load_pem(struct kube_config *cfg, const json_t *o, const char *key,
                            const char *dir, char **out, size_t *out_len)
{
    char data_key[64];
    snprintf(data_key, sizeof(data_key), "%s-data", key);
    const char *data = get_s(o, data_key);
    const char *file = get_s(o, key);
    enum fs_err rc;
    if (data) {
        rc = kube_base64_decode(data, strlen(data), out, out_len);
        if (rc != FS_OK)
            set_err(cfg, "%s is not valid base64", data_key);
        return rc;
    }
    if (file) {
        char *p = resolve_path(dir, file);
        if (!p)
            return FS_ENOMEM;
        rc = kube_read_file(p, PEM_MAX, out, out_len);
        if (rc != FS_OK)
            set_err(cfg, "cannot read %s %s: %s", key, p, fs_strerror(rc));
        free(p);
        return rc;
    }
    return FS_OK;
}

static char **strv_from_json(const json_t *arr, int env_pairs)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    char **v = calloc(n + 1, sizeof(char *));
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, i);
        if (env_pairs) {
            const char *name = get_s(it, "name");
            const char *val = json_string_value(json_object_get(it, "value"));
            if (!name || asprintf(&v[i], "%s=%s", name, val ? val : "") < 0)
                v[i] = NULL;
        } else {
            const char *s = json_string_value(it);
            v[i] = strdup(s ? s : "");
        }
        if (!v[i]) {
            free_strv(v);
            return NULL;
        }
    }
    return v;
}

static enum fs_err apply_context(struct kube_config *cfg, const struct merged *m,
                                 const char *context)
{
    struct entry ctx, cl, us;
    const char *name = context && *context ? context : m->current_context;
    enum fs_err rc;
    if (!name) {
        set_err(cfg, "kubeconfig has no current-context and none was given");
        return FS_EINVAL;
    }
    if (find_named(m, "contexts", "context", name, &ctx) != 0) {
        set_err(cfg, "context \"%s\" not found in kubeconfig", name);
        return FS_EINVAL;
    }
    const char *cluster = get_s(ctx.body, "cluster");
    const char *user = get_s(ctx.body, "user");
    if (!cluster || find_named(m, "clusters", "cluster", cluster, &cl) != 0) {
        set_err(cfg, "cluster \"%s\" of context \"%s\" not found", cluster ? cluster : "", name);
        return FS_EINVAL;
    }
    const char *server = get_s(cl.body, "server");
    if (!server) {
        set_err(cfg, "cluster \"%s\" has no server", cluster);
        return FS_EINVAL;
    }
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
        set_err(cfg, "cluster \"%s\": server \"%s\" is not an http(s) URL", cluster, server);
        return FS_EINVAL;
    }
    cfg->context = strdup(name);
    cfg->server = strdup(server);
    if (!cfg->context || !cfg->server)
        return FS_ENOMEM;
    size_t sl = strlen(cfg->server);
    while (sl > 0 && cfg->server[sl - 1] == '/')
        cfg->server[--sl] = '\0';
    const char *ns = get_s(ctx.body, "namespace");
    cfg->namespace = strdup(ns ? ns : "default");
    if (!cfg->namespace)
        return FS_ENOMEM;
    cfg->insecure_skip_verify = get_bool(cl.body, "insecure-skip-tls-verify");
    const char *sni = get_s(cl.body, "tls-server-name");
    if (sni && !(cfg->tls_server_name = strdup(sni)))
        return FS_ENOMEM;
    rc = load_pem(cfg, cl.body, "certificate-authority", cl.dir, &cfg->ca_pem, &cfg->ca_pem_len);
    if (rc != FS_OK)
        return rc;

    if (!user)
        return FS_OK; /* anonymous */
    if (find_named(m, "users", "user", user, &us) != 0) {
        set_err(cfg, "user \"%s\" of context \"%s\" not found", user, name);
        return FS_EINVAL;
    }
    if (json_object_get(us.body, "auth-provider")) {
        set_err(cfg, "user \"%s\": auth-provider plugins are not supported, use exec", user);
        return FS_EINVAL;
    }
    const char *tok = get_s(us.body, "token");
    const char *tokf = get_s(us.body, "tokenFile");
    if (tok && !(cfg->token = strdup(tok)))
        return FS_ENOMEM;
    if (tokf && !(cfg->token_file = resolve_path(us.dir, tokf)))
        return FS_ENOMEM;
    rc = load_pem(cfg, us.body, "client-certificate", us.dir, &cfg->cert_pem, &cfg->cert_pem_len);
    if (rc == FS_OK)
        rc = load_pem(cfg, us.body, "client-key", us.dir, &cfg->key_pem, &cfg->key_pem_len);
    if (rc != FS_OK)
        return rc;
    if (!!cfg->cert_pem != !!cfg->key_pem) {
        set_err(cfg, "user \"%s\": a client certificate needs a client key and vice versa", user);
        return FS_EINVAL;
    }
    json_t *ex = json_object_get(us.body, "exec");
    if (ex) {
        const char *cmd = get_s(ex, "command");
        const char *av = get_s(ex, "apiVersion");
        if (!cmd) {
            set_err(cfg, "user \"%s\": exec has no command", user);
            return FS_EINVAL;
        }
        if (av && strcmp(av, "client.authentication.k8s.io/v1") != 0 &&
            strcmp(av, "client.authentication.k8s.io/v1beta1") != 0) {
            set_err(cfg, "user \"%s\": exec apiVersion %s is not supported", user, av);
            return FS_EINVAL;
        }
        /* a relative command with a slash is relative to the kubeconfig, like client-go */
        cfg->exec.command = strchr(cmd, '/') ? resolve_path(us.dir, cmd) : strdup(cmd);
        cfg->exec.api_version = strdup(av ? av : "client.authentication.k8s.io/v1");
        cfg->exec.args = strv_from_json(json_object_get(ex, "args"), 0);
        cfg->exec.env = strv_from_json(json_object_get(ex, "env"), 1);
        if (!cfg->exec.command || !cfg->exec.api_version || !cfg->exec.args || !cfg->exec.env)
            return FS_ENOMEM;
    }
    return FS_OK;
}

static enum fs_err merged_add(struct merged *m, struct kube_config *cfg, const char *yaml,
                              size_t len, const char *dir, const char *what)
{
    json_t *doc = NULL;
    char err[160] = "";
    enum fs_err rc = kube_yaml_to_json(yaml, len, &doc, err, sizeof(err));
    if (rc != FS_OK) {
        set_err(cfg, "malformed kubeconfig %s: %s", what, err[0] ? err : fs_strerror(rc));
        return rc;
    }
    if (!json_is_object(doc)) {
        set_err(cfg, "malformed kubeconfig %s: not a mapping", what);
        json_decref(doc);
        return FS_EPARSE;
    }
    static const char *const lists[] = {"contexts", "clusters", "users"};
    for (size_t i = 0; i < 3; i++) {
        json_t *l = json_object_get(doc, lists[i]);
        if (l && !json_is_array(l) && !(json_is_string(l) && !*json_string_value(l))) {
            set_err(cfg, "malformed kubeconfig %s: %s is not a list", what, lists[i]);
            json_decref(doc);
            return FS_EPARSE;
        }
    }
    if (json_array_append_new(m->docs, doc) != 0 ||
        json_array_append_new(m->dirs, json_string(dir ? dir : "")) != 0)
        return FS_ENOMEM;
    if (!m->current_context)
        m->current_context = get_s(doc, "current-context");
    return FS_OK;
}

static enum fs_err merged_init(struct merged *m)
{
    memset(m, 0, sizeof(*m));
    m->docs = json_array();
    m->dirs = json_array();
    return m->docs && m->dirs ? FS_OK : FS_ENOMEM;
}

static void merged_release(struct merged *m)
{
    json_decref(m->docs);
    json_decref(m->dirs);
}

enum fs_err kube_config_parse(struct kube_config *cfg, const char *yaml, size_t len,
                              const char *context, const char *base_dir)
{
    struct merged m;
    config_zero(cfg);
    enum fs_err rc = merged_init(&m);
    if (rc == FS_OK)
        rc = merged_add(&m, cfg, yaml, len, base_dir, "(memory)");
    if (rc == FS_OK)
        rc = apply_context(cfg, &m, context);
    merged_release(&m);
    return rc;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Adds the files of a colon-separated list; missing files are skipped like kubectl does. */
static enum fs_err load_paths(struct kube_config *cfg, const char *paths, const char *context)
{
    struct merged m;
    enum fs_err rc = merged_init(&m);
    char *list = strdup(paths), *save = NULL;
    int found = 0;
    if (rc != FS_OK || !list) {
        rc = FS_ENOMEM;
        goto out;
    }
    for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        char *buf = NULL, *dir = NULL;
        size_t len = 0;
        rc = kube_read_file(p, KUBECONFIG_MAX, &buf, &len);
        if (rc == FS_EIO && errno == ENOENT)
            continue;
        if (rc != FS_OK) {
            set_err(cfg, "cannot read kubeconfig %s: %s", p, rc == FS_ERANGE ? "too large" : strerror(errno));
            goto out;
        }
        dir = dir_of(p);
        rc = dir ? merged_add(&m, cfg, buf, len, dir, p) : FS_ENOMEM;
        free(buf);
        free(dir);
        if (rc != FS_OK)
            goto out;
        found++;
    }
    if (!found) {
        set_err(cfg, "no kubeconfig file found in %s", paths);
        rc = FS_EIO;
        goto out;
    }
    rc = apply_context(cfg, &m, context);
out:
    free(list);
    merged_release(&m);
    return rc;
}

enum fs_err kube_config_load_file(struct kube_config *cfg, const char *path, const char *context)
{
    config_zero(cfg);
    if (!path || !*path) {
        set_err(cfg, "no kubeconfig path");
        return FS_EINVAL;
    }
    /* one file, even if the name contains ':' */
    struct merged m;
    char *buf = NULL, *dir = NULL;
    size_t len = 0;
    enum fs_err rc = merged_init(&m);
    if (rc != FS_OK)
        goto out;
    rc = kube_read_file(path, KUBECONFIG_MAX, &buf, &len);
    if (rc != FS_OK) {
        set_err(cfg, "cannot read kubeconfig %s: %s", path, rc == FS_ERANGE ? "too large" : strerror(errno));
        goto out;
    }
    dir = dir_of(path);
    rc = dir ? merged_add(&m, cfg, buf, len, dir, path) : FS_ENOMEM;
    if (rc == FS_OK)
        rc = apply_context(cfg, &m, context);
out:
    free(buf);
    free(dir);
    merged_release(&m);
    return rc;
}

enum fs_err kube_config_in_cluster(struct kube_config *cfg, const char *sa_dir)
{
    enum fs_err rc = FS_EINVAL;
    char path[4096];
    char *ns = NULL;
    size_t ns_len = 0;
    config_zero(cfg);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!sa_dir)
        sa_dir = SA_DIR_DEFAULT;
    if (!host || !*host || !port || !*port) {
        set_err(cfg, "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
        return FS_EINVAL;
    }
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9') {
            set_err(cfg, "KUBERNETES_SERVICE_PORT \"%s\" is not a port", port);
            return FS_EINVAL;
        }
    }
    int v6 = strchr(host, ':') != NULL;
    if (asprintf(&cfg->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0) {
        cfg->server = NULL;
        return FS_ENOMEM;
    }
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    if (access(path, R_OK) != 0) {
        set_err(cfg, "in-cluster token %s is not readable: %s", path, strerror(errno));
        return FS_EIO;
    }
    if (!(cfg->token_file = strdup(path)))
        return FS_ENOMEM;
    snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
    rc = kube_read_file(path, PEM_MAX, &cfg->ca_pem, &cfg->ca_pem_len);
    if (rc != FS_OK) {
        set_err(cfg, "cannot read in-cluster CA %s: %s", path, fs_strerror(rc));
        return rc;
    }
    snprintf(path, sizeof(path), "%s/namespace", sa_dir);
    if (kube_read_file(path, 1024, &ns, &ns_len) == FS_OK) {
        while (ns_len > 0 && (ns[ns_len - 1] == '\n' || ns[ns_len - 1] == ' '))
            ns[--ns_len] = '\0';
    }
    cfg->namespace = ns && *ns ? ns : strdup("default");
    if (cfg->namespace != ns)
        free(ns);
    cfg->context = strdup("");
    if (!cfg->namespace || !cfg->context)
        return FS_ENOMEM;
    return FS_OK;
}

enum fs_err kube_config_load_default(struct kube_config *cfg, const char *context)
{
    const char *env = getenv("KUBECONFIG");
    if (env && *env) {
        config_zero(cfg);
        return load_paths(cfg, env, context);
    }
    const char *home = getenv("HOME");
    if (home && *home) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/.kube/config", home);
        if (access(path, F_OK) == 0)
            return kube_config_load_file(cfg, path, context);
    }
    return kube_config_in_cluster(cfg, NULL);
}

/* ---- credentials ---- */

static enum fs_err read_token_file(struct kube_config *cfg, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    enum fs_err rc = kube_read_file(cfg->token_file, TOKEN_MAX, &buf, &len);
    if (rc != FS_OK) {
        set_err(cfg, "cannot read token file %s: %s", cfg->token_file, fs_strerror(rc));
        return rc;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    if (len == 0) {
        free(buf);
        set_err(cfg, "token file %s is empty", cfg->token_file);
        return FS_EINVAL;
    }
    *out = buf;
    return FS_OK;
}

/* Runs the exec plugin and stores its credential. Called with cfg->lock held. */
static enum fs_err run_exec(struct kube_config *cfg)
{
    enum fs_err rc = FS_EIO;
    int pipefd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    int fa_init = 0;
    char **argv = NULL, **envp = NULL, *info = NULL, *outbuf = NULL;
    size_t outlen = 0, outcap = 0;
    pid_t pid = -1;
    json_t *doc = NULL;
    size_t nargs = 0, nenv = 0, nsys = 0;

    for (char **a = cfg->exec.args; a && *a; a++)
        nargs++;
    for (char **e = cfg->exec.env; e && *e; e++)
        nenv++;
    for (char **e = environ; e && *e; e++)
        nsys++;
    argv = calloc(nargs + 2, sizeof(char *));
    envp = calloc(nsys + nenv + 2, sizeof(char *));
    if (asprintf(&info, "KUBERNETES_EXEC_INFO={\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
                        "\"spec\":{\"interactive\":false}}", cfg->exec.api_version) < 0)
        info = NULL;
    if (!argv || !envp || !info) {
        rc = FS_ENOMEM;
        goto out;
    }
    argv[0] = cfg->exec.command;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = cfg->exec.args[i];
    size_t k = 0;
    for (size_t i = 0; i < nsys; i++)
        envp[k++] = environ[i];
    for (size_t i = 0; i < nenv; i++)
        envp[k++] = cfg->exec.env[i];
    envp[k++] = info;
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        goto out;
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto out;
    fa_init = 1;
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int err = posix_spawnp(&pid, cfg->exec.command, &fa, NULL, argv, envp);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (err != 0) {
        pid = -1;
        set_err(cfg, "cannot run exec plugin %s: %s", cfg->exec.command, strerror(err));
        goto out;
    }
    int64_t deadline = kube_mono_ms() + EXEC_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - kube_mono_ms();
        if (left <= 0) {
            set_err(cfg, "exec plugin %s timed out", cfg->exec.command);
            rc = FS_ETIMEOUT;
            goto out;
        }
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR)
            goto out;
        if (pr <= 0)
            continue;
        if (outlen + 4096 + 1 > outcap) {
            if (outcap >= EXEC_OUT_MAX) {
                set_err(cfg, "exec plugin %s wrote more than %u bytes", cfg->exec.command, EXEC_OUT_MAX);
                goto out;
            }
            size_t ncap = outcap ? outcap * 2 : 8192;
            char *nb = realloc(outbuf, ncap);
            if (!nb) {
                rc = FS_ENOMEM;
                goto out;
            }
            outbuf = nb;
            outcap = ncap;
        }
        ssize_t n = read(pipefd[0], outbuf + outlen, outcap - outlen - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        outlen += (size_t)n;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        set_err(cfg, "exec plugin %s failed (status %d)", cfg->exec.command,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto out;
    }
    json_error_t jerr;
    doc = json_loadb(outbuf ? outbuf : "", outlen, 0, &jerr);
    json_t *st = json_object_get(doc, "status");
    const char *kind = get_s(doc, "kind");
    if (!doc || !json_is_object(st) || !kind || strcmp(kind, "ExecCredential") != 0) {
        set_err(cfg, "exec plugin %s did not print an ExecCredential", cfg->exec.command);
        rc = FS_EPARSE;
        goto out;
    }
    const char *tok = get_s(st, "token");
    const char *cert = get_s(st, "clientCertificateData");
    const char *key = get_s(st, "clientKeyData");
    const char *exp = get_s(st, "expirationTimestamp");
    if (!tok && !(cert && key)) {
        set_err(cfg, "exec plugin %s gave neither a token nor a certificate and key", cfg->exec.command);
        rc = FS_EINVAL;
        goto out;
    }
    time_t expiry = 0;
    if (exp && kube_parse_rfc3339(exp, &expiry) != FS_OK) {
        set_err(cfg, "exec plugin %s: bad expirationTimestamp %s", cfg->exec.command, exp);
        rc = FS_EPARSE;
        goto out;
    }
    char *ntok = tok ? strdup(tok) : NULL, *ncert = cert ? strdup(cert) : NULL;
    char *nkey = key ? strdup(key) : NULL;
    if ((tok && !ntok) || (cert && !ncert) || (key && !nkey)) {
        free(ntok);
        free(ncert);
        free(nkey);
        rc = FS_ENOMEM;
        goto out;
    }
    free(cfg->cached_token);
    free(cfg->exec_cert_pem);
    free(cfg->exec_key_pem);
    cfg->cached_token = ntok;
    cfg->exec_cert_pem = ncert;
    cfg->exec_cert_pem_len = ncert ? strlen(ncert) : 0;
    cfg->exec_key_pem = nkey;
    cfg->exec_key_pem_len = nkey ? strlen(nkey) : 0;
    cfg->exec_expiry = expiry;
    cfg->exec_valid = 1;
    rc = FS_OK;
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    free(argv);
    free(envp);
    free(info);
    free(outbuf);
    json_decref(doc);
    return rc;
}

static enum fs_err dup_mem(const char *src, size_t len, char **dst, size_t *dst_len)
{
    *dst = NULL;
    if (!src)
        return FS_OK;
    *dst = malloc(len + 1);
    if (!*dst)
        return FS_ENOMEM;
    memcpy(*dst, src, len);
    (*dst)[len] = '\0';
    if (dst_len)
        *dst_len = len;
    return FS_OK;
}

void kube_credentials_release(struct kube_credentials *cr)
{
    free(cr->token);
    free(cr->cert_pem);
    free(cr->key_pem);
    memset(cr, 0, sizeof(*cr));
}

enum fs_err kube_config_credentials(struct kube_config *cfg, int force_refresh,
                                    struct kube_credentials *out)
{
    enum fs_err rc = FS_OK;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&cfg->lock);
    const char *token = cfg->token;
    const char *cert = cfg->cert_pem, *key = cfg->key_pem;
    size_t cert_len = cfg->cert_pem_len, key_len = cfg->key_pem_len;
    if (cfg->exec.command) {
        time_t now = time(NULL);
        if (force_refresh || !cfg->exec_valid || (cfg->exec_expiry && now >= cfg->exec_expiry - 10))
            rc = run_exec(cfg);
        if (rc != FS_OK)
            goto out;
        if (cfg->cached_token)
            token = cfg->cached_token;
        if (cfg->exec_cert_pem) {
            cert = cfg->exec_cert_pem;
            cert_len = cfg->exec_cert_pem_len;
            key = cfg->exec_key_pem;
            key_len = cfg->exec_key_pem_len;
        }
    } else if (cfg->token_file && !cfg->token) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (force_refresh || !cfg->cached_token ||
            ts.tv_sec - cfg->cached_token_at >= cfg->token_reread_s) {
            char *t = NULL;
            rc = read_token_file(cfg, &t);
            if (rc != FS_OK && !cfg->cached_token)
                goto out;
            if (rc == FS_OK) {
                free(cfg->cached_token);
                cfg->cached_token = t;
                cfg->cached_token_at = ts.tv_sec;
            } else {
                /* keep the last good token: the file may be mid-rotation */
                log_warn("cannot re-read token file %s: %s", cfg->token_file, fs_strerror(rc));
                rc = FS_OK;
            }
        }
        token = cfg->cached_token;
    }
    if ((rc = dup_mem(token, token ? strlen(token) : 0, &out->token, NULL)) != FS_OK ||
        (rc = dup_mem(cert, cert_len, &out->cert_pem, &out->cert_pem_len)) != FS_OK ||
        (rc = dup_mem(key, key_len, &out->key_pem, &out->key_pem_len)) != FS_OK)
        kube_credentials_release(out);
out:
    pthread_mutex_unlock(&cfg->lock);
    return rc;
}
