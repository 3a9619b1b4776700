/* Prometheus HTTP API instant queries (see prom.h). Every failure leaves a message saying
 * what went wrong in the caller's buffer; an answer larger than the bound is cut off, never
 * buffered whole. Tokens and passwords live on the stack for one query's set-up only (curl
 * keeps its own copy) and are wiped there: they never reach a message. */
#include "prom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/buf.h"

struct prom_client {
    CURL *h;
    char base[PROM_MAX_URL];
    long timeout_ms;
    char *ca_file, *token_file, *username, *password_file; /* owned copies, NULL: unset */
    int insecure;
    long last_status; /* of the last answer, 0: none */
};

void prom_vector_init(struct prom_vector *v)
{
    memset(v, 0, sizeof(*v));
}

void prom_vector_release(struct prom_vector *v)
{
    for (size_t i = 0; i < v->n; i++)
        for (int k = 0; k < PROM_MAX_KEYS; k++)
            free(v->p[i].key[k]);
    free(v->p);
    prom_vector_init(v);
}

/* A sample value: Prometheus writes it as a string ("1.5", "NaN", "+Inf"). 0 when finite. */
static int value_of(const json_t *s, double *out)
{
    const char *txt = json_string_value(s);
    if (!txt || !txt[0])
        return -1;
    char *end = NULL;
    errno = 0;
    double d = strtod(txt, &end);
    if (!end || *end || end == txt || !isfinite(d) || (errno == ERANGE && d != 0))
        return -1;
    *out = d;
    return 0;
}

enum fs_err prom_vector_parse(const char *body, size_t len, const char *const *keys, size_t n_keys,
                              struct prom_vector *v, char *err, size_t errlen)
{
    enum fs_err rc = FS_EPARSE;
    json_error_t je;
    prom_vector_init(v);
    if (!keys || n_keys == 0 || n_keys > PROM_MAX_KEYS)
        return fs_say(err, errlen, FS_EINVAL, "from 1 to %d key labels", PROM_MAX_KEYS);
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fs_say(err, errlen, FS_EPARSE, "answer is not JSON: %s (byte %d)", je.text, je.position);
    const char *status = json_string_value(json_object_get(root, "status"));
    if (!status) {
        fs_say(err, errlen, rc, "answer has no status: not the Prometheus query API");
        goto out;
    }
    if (strcmp(status, "success") != 0) {
        const char *et = json_string_value(json_object_get(root, "errorType"));
        const char *em = json_string_value(json_object_get(root, "error"));
        rc = fs_say(err, errlen, FS_EHTTP, "prometheus: %.40s: %.300s", et ? et : status, em ? em : "no message");
        goto out;
    }
    const json_t *data = json_object_get(root, "data");
    const char *rt = json_string_value(json_object_get(data, "resultType"));
    const json_t *result = json_object_get(data, "result");
    if (!rt || !json_is_array(result)) {
        fs_say(err, errlen, rc, "answer has no data.resultType and data.result");
        goto out;
    }
    if (strcmp(rt, "vector") != 0) {
        fs_say(err, errlen, rc, "query gives a %.20s, not an instant vector", rt);
        goto out;
    }
    size_t n = json_array_size(result);
    if (n && !(v->p = calloc(n, sizeof(*v->p)))) {
        rc = fs_say(err, errlen, FS_ENOMEM, "out of memory");
        goto out;
    }
    size_t i;
    const json_t *s;
    json_array_foreach(result, i, s) {
        const json_t *metric = json_object_get(s, "metric"), *val = json_object_get(s, "value");
        if (!json_is_object(metric) || !json_is_array(val) || json_array_size(val) != 2 ||
            !json_is_number(json_array_get(val, 0))) {
            fs_say(err, errlen, rc, "data.result[%zu] is not {\"metric\":{...},\"value\":[time,\"value\"]}", i);
            goto out;
        }
        int have = 1;
        for (size_t k = 0; k < n_keys && have; k++)
            have = json_is_string(json_object_get(metric, keys[k]));
        if (!have) {
            v->missing_labels++;
            continue;
        }
        struct prom_point *p = &v->p[v->n];
        if (value_of(json_array_get(val, 1), &p->value)) {
            v->not_finite++;
            continue;
        }
        p->t_s = json_number_value(json_array_get(val, 0));
        v->n++; /* from here the vector owns what p holds */
        for (size_t k = 0; k < n_keys; k++)
            if (!(p->key[k] = strdup(json_string_value(json_object_get(metric, keys[k]))))) {
                rc = fs_say(err, errlen, FS_ENOMEM, "out of memory");
                goto out;
            }
    }
    rc = FS_OK;
out:
    json_decref(root);
    if (rc != FS_OK)
        prom_vector_release(v);
    return rc;
}

/* ---- the client ----------------------------------------------------------------------- */

/* Reads a token or password file into buf (cap bytes, NUL-terminated), surrounding white
 * space trimmed as Prometheus itself does for its *_file settings. A token goes into an
 * HTTP header: a control character in it is refused rather than sent. On failure buf is
 * wiped and err names the file, never its content. */
static enum fs_err read_secret(const char *path, const char *what, int header_safe, char *buf, size_t cap, char *err,
                               size_t errlen)
{
    enum fs_err rc = FS_EIO;
    FILE *f = fopen(path, "rb");
    buf[0] = '\0';
    if (!f)
        return fs_say(err, errlen, FS_EIO, "cannot read the %s %s: %s", what, path, strerror(errno));
    size_t n = fread(buf, 1, cap, f);
    if (ferror(f)) {
        fs_say(err, errlen, rc, "cannot read the %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    if (n >= cap) {
        rc = fs_say(err, errlen, FS_ERANGE, "the %s %s is larger than %zu bytes", what, path, cap - 1);
        goto out;
    }
    size_t a = 0;
    while (n && strchr(" \t\r\n", buf[n - 1]))
        n--;
    while (a < n && strchr(" \t\r\n", buf[a]))
        a++;
    memmove(buf, buf + a, n - a);
    n -= a;
    buf[n] = '\0';
    if (!n) {
        rc = fs_say(err, errlen, FS_EINVAL, "the %s %s is empty", what, path);
        goto out;
    }
    for (size_t i = 0; header_safe && i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
            rc = fs_say(err, errlen, FS_EINVAL, "the %s %s holds a control character", what, path);
            goto out;
        }
    rc = FS_OK;
out:
    if (rc != FS_OK)
        explicit_bzero(buf, cap);
    fclose(f);
    return rc;
}

/* A CA file that cannot be read or holds no certificate would otherwise show up only as a
 * TLS failure of every query. */
static enum fs_err check_ca_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fs_say(err, errlen, FS_EIO, "cannot read the CA file %s: %s", path, strerror(errno));
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        ERR_clear_error(); /* not left in this thread's queue for curl's next TLS call to find */
        return fs_say(err, errlen, FS_EPARSE, "the CA file %s holds no PEM certificate", path);
    }
    X509_free(x);
    return FS_OK;
}

/* Credentials written into the URL (https://user:pass@host) would be printed with it in
 * every log line and error: curl's URL parser finds them. */
static enum fs_err check_no_userinfo(const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    if (!u)
        return fs_say(err, errlen, FS_ENOMEM, "out of memory");
    enum fs_err rc = FS_OK;
    char *user = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        rc = fs_say(err, errlen, FS_EINVAL, "the prometheus URL is not a URL");
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
        rc = fs_say(err, errlen, FS_EINVAL,
                    "the prometheus URL carries credentials (user:password@): give them as a username and a "
                    "password file instead");
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

static enum fs_err check_auth(const struct prom_auth *a, char *err, size_t errlen)
{
    char secret[PROM_MAX_SECRET];
    enum fs_err rc = FS_OK;
    if (a->bearer_token_file && (a->username || a->password_file))
        return fs_say(err, errlen, FS_EINVAL, "a bearer token and basic auth together: choose one");
    if (!a->username != !a->password_file)
        return fs_say(err, errlen, FS_EINVAL, "basic auth needs both a username and a password file");
    if (a->ca_file && a->insecure_skip_verify)
        return fs_say(err, errlen, FS_EINVAL, "a CA file and skipping TLS verification together: choose one");
    if (a->ca_file && (rc = check_ca_file(a->ca_file, err, errlen)) != FS_OK)
        return rc;
    if (a->bearer_token_file)
        rc = read_secret(a->bearer_token_file, "bearer token file", 1, secret, sizeof(secret), err, errlen);
    else if (a->password_file)
        rc = read_secret(a->password_file, "password file", 0, secret, sizeof(secret), err, errlen);
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

static int dup_opt(char **dst, const char *src)
{
    return src && !(*dst = strdup(src));
}

enum fs_err prom_client_new(const char *base_url, double timeout_s, const struct prom_auth *auth,
                            struct prom_client **out, char *err, size_t errlen)
{
    static const struct prom_auth none;
    enum fs_err rc;
    *out = NULL;
    if (!auth)
        auth = &none;
    if (!base_url || (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0))
        return fs_say(err, errlen, FS_EINVAL, "prometheus URL %.100s does not start with http:// or https://",
                      base_url ? base_url : "(none)");
    size_t len = strlen(base_url);
    while (len && base_url[len - 1] == '/')
        len--;
    size_t scheme = base_url[4] == ':' ? strlen("http://") : strlen("https://");
    if (len + sizeof("/api/v1/query") >= PROM_MAX_URL || len <= scheme)
        return fs_say(err, errlen, FS_EINVAL, "prometheus URL %.100s has no host or is too long", base_url);
    if (strpbrk(base_url, " \t\r\n"))
        return fs_say(err, errlen, FS_EINVAL, "prometheus URL %.100s has a space", base_url);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((rc = check_no_userinfo(base_url, err, errlen)) != FS_OK)
        return rc;
    if (strchr(base_url, '?') || strchr(base_url, '#'))
        return fs_say(err, errlen, FS_EINVAL, "prometheus URL %.100s has a query or a fragment", base_url);
    if (!(timeout_s >= 0.1 && timeout_s <= 600))
        return fs_say(err, errlen, FS_EINVAL, "prometheus timeout must be from 0.1 s to 600 s");
    if ((rc = check_auth(auth, err, errlen)) != FS_OK)
        return rc;
    struct prom_client *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return fs_say(err, errlen, FS_ENOMEM, "out of memory");
    if (dup_opt(&pc->ca_file, auth->ca_file) || dup_opt(&pc->token_file, auth->bearer_token_file) ||
        dup_opt(&pc->username, auth->username) || dup_opt(&pc->password_file, auth->password_file)) {
        prom_client_free(pc);
        return fs_say(err, errlen, FS_ENOMEM, "out of memory");
    }
    if (!(pc->h = curl_easy_init())) {
        prom_client_free(pc);
        return fs_say(err, errlen, FS_ENOMEM, "cannot set up a curl handle");
    }
    pc->insecure = auth->insecure_skip_verify;
    snprintf(pc->base, sizeof(pc->base), "%.*s", (int)len, base_url);
    pc->timeout_ms = (long)llround(timeout_s * 1000);
    *out = pc;
    return FS_OK;
}

void prom_client_free(struct prom_client *pc)
{
    if (!pc)
        return;
    if (pc->h)
        curl_easy_cleanup(pc->h);
    free(pc->ca_file);
    free(pc->token_file);
    free(pc->username);
    free(pc->password_file);
    free(pc);
}

long prom_client_last_status(const struct prom_client *pc)
{
    return pc ? pc->last_status : 0;
}

/* TLS options and credentials of one query. The secret is read again every time: a rotated
 * token file is used from the next query on, without a restart. */
static enum fs_err set_tls_and_auth(struct prom_client *pc, char *err, size_t errlen)
{
    CURL *h = pc->h;
    char secret[PROM_MAX_SECRET];
    enum fs_err rc = FS_OK;
    if (pc->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, pc->ca_file);
    if (pc->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (pc->token_file) {
        if ((rc = read_secret(pc->token_file, "bearer token file", 1, secret, sizeof(secret), err, errlen)) != FS_OK)
            return rc;
        /* the only method allowed: curl sends it with the first request, no challenge needed */
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, secret); /* curl copies it */
    } else if (pc->username) {
        if ((rc = read_secret(pc->password_file, "password file", 0, secret, sizeof(secret), err, errlen)) != FS_OK)
            return rc;
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, pc->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, secret);
    }
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

/* curl's codes for a TLS handshake or certificate that failed (60: the certificate could not
 * be verified against the CA or names another host). */
static int tls_failure(CURLcode cc)
{
    switch (cc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return 1;
    default:
        return 0;
    }
}

struct body {
    struct fs_buf buf; /* bounded by PROM_MAX_RESPONSE_BYTES */
    int too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    enum fs_err rc = fs_buf_append(&b->buf, ptr, size * nmemb);
    if (rc == FS_ERANGE)
        b->too_big = 1;
    return rc == FS_OK ? size * nmemb : 0; /* 0: curl stops, CURLE_WRITE_ERROR */
}

enum fs_err prom_query(struct prom_client *pc, const char *query, const char *const *keys, size_t n_keys,
                       struct prom_vector *v, char *err, size_t errlen)
{
    enum fs_err rc;
    struct body b = {.too_big = 0};
    char url[PROM_MAX_URL + 4096], cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    prom_vector_init(v);
    fs_buf_init(&b.buf, PROM_MAX_RESPONSE_BYTES, 16384);
    char *q = query && query[0] ? curl_easy_escape(pc->h, query, 0) : NULL;
    if (!q)
        return fs_say(err, errlen, query && query[0] ? FS_ENOMEM : FS_EINVAL, "no query to run");
    if ((size_t)snprintf(url, sizeof(url), "%s/api/v1/query?query=%s", pc->base, q) >= sizeof(url)) {
        curl_free(q);
        return fs_say(err, errlen, FS_EINVAL, "query is too long for a URL (%zu characters)", strlen(query));
    }
    curl_free(q);
    if (!(hdr = curl_slist_append(NULL, "Accept: application/json")))
        return fs_say(err, errlen, FS_ENOMEM, "out of memory");
    CURL *h = pc->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "foresight-controller");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, pc->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, pc->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    pc->last_status = 0;
    if ((rc = set_tls_and_auth(pc, err, errlen)) != FS_OK)
        goto out;
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    pc->last_status = code;
    if (cc != CURLE_OK) {
        const char *why = cerr[0] ? cerr : curl_easy_strerror(cc);
        rc = b.too_big ? FS_ERANGE : cc == CURLE_OPERATION_TIMEDOUT ? FS_ETIMEOUT
             : cc == CURLE_WRITE_ERROR                             ? FS_ENOMEM
                                                                   : FS_EIO;
        if (b.too_big)
            fs_say(err, errlen, rc, "prometheus %s answered more than %u bytes", pc->base, PROM_MAX_RESPONSE_BYTES);
        else if (cc == CURLE_PEER_FAILED_VERIFICATION)
            fs_say(err, errlen, rc, "TLS verification of prometheus %s failed (not signed by the CA%s, or issued for "
                   "another host): %s", pc->base, pc->ca_file ? " file" : "s of the system store", why);
        else if (tls_failure(cc))
            fs_say(err, errlen, rc, "TLS with prometheus %s failed: %s", pc->base, why);
        else
            fs_say(err, errlen, rc, "cannot query prometheus %s: %s", pc->base, why);
        goto out;
    }
    /* not Prometheus's JSON: the proxy in front of it (thanos-querier's kube-rbac-proxy) or
     * its own basic_auth_users refused the credentials, or none were given */
    if (code == 401 || code == 403) {
        rc = fs_say(err, errlen, FS_EHTTP, "authentication failed: prometheus %s answered HTTP %ld (%s)", pc->base,
                    code,
                    code == 403                           ? "the credentials may not query"
                    : pc->token_file || pc->username ? "the credentials were refused"
                                                          : "credentials are needed");
        goto out;
    }
    /* Prometheus answers errors (400 bad_data, 422 execution, 503 timeout) with its JSON
     * error body: its message is the useful part */
    rc = prom_vector_parse(b.buf.data ? b.buf.data : "", b.buf.len, keys, n_keys, v, err, errlen);
    if (code / 100 != 2 && rc != FS_EHTTP) {
        prom_vector_release(v);
        rc = fs_say(err, errlen, FS_EHTTP, "prometheus %s answered HTTP %ld", pc->base, code);
    }
out:
    curl_slist_free_all(hdr);
    fs_buf_release(&b.buf);
    return rc;
}
