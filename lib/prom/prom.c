/* Prometheus HTTP API instant queries (see prom.h). Every failure leaves a message saying
 * what went wrong in the caller's buffer; an answer larger than the bound is cut off, never
 * buffered whole. */
#include "prom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

struct prom_client {
    CURL *h;
    char base[PROM_MAX_URL];
    long timeout_ms;
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

enum fs_err prom_client_new(const char *base_url, double timeout_s, struct prom_client **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    if (!base_url || (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0))
        return fs_say(err, errlen, FS_EINVAL, "prometheus URL %.100s does not start with http:// or https://",
                      base_url ? base_url : "(none)");
    size_t len = strlen(base_url);
    while (len && base_url[len - 1] == '/')
        len--;
    size_t scheme = base_url[4] == ':' ? strlen("http://") : strlen("https://");
    if (len + sizeof("/api/v1/query") >= PROM_MAX_URL || len <= scheme)
        return fs_say(err, errlen, FS_EINVAL, "prometheus URL %.100s has no host or is too long", base_url);
    if (strchr(base_url, '?') || strchr(base_url, '#') || strpbrk(base_url, " \t\r\n"))
        return fs_say(err, errlen, FS_EINVAL, "prometheus URL %.100s has a query, a fragment or a space", base_url);
    if (!(timeout_s >= 0.1 && timeout_s <= 600))
        return fs_say(err, errlen, FS_EINVAL, "prometheus timeout must be from 0.1 s to 600 s");
    struct prom_client *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return fs_say(err, errlen, FS_ENOMEM, "out of memory");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(pc->h = curl_easy_init())) {
        free(pc);
        return fs_say(err, errlen, FS_ENOMEM, "cannot set up a curl handle");
    }
    snprintf(pc->base, sizeof(pc->base), "%.*s", (int)len, base_url);
    pc->timeout_ms = (long)llround(timeout_s * 1000);
    *out = pc;
    return FS_OK;
}

void prom_client_free(struct prom_client *pc)
{
    if (!pc)
        return;
    curl_easy_cleanup(pc->h);
    free(pc);
}

struct body {
    char *p;
    size_t len, cap;
    int too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    if (n > PROM_MAX_RESPONSE_BYTES - b->len) {
        b->too_big = 1;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

enum fs_err prom_query(struct prom_client *pc, const char *query, const char *const *keys, size_t n_keys,
                       struct prom_vector *v, char *err, size_t errlen)
{
    enum fs_err rc;
    struct body b = {0};
    char url[PROM_MAX_URL + 4096], cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    prom_vector_init(v);
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
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (cc != CURLE_OK) {
        rc = b.too_big ? FS_ERANGE : cc == CURLE_OPERATION_TIMEDOUT ? FS_ETIMEOUT
             : cc == CURLE_WRITE_ERROR                             ? FS_ENOMEM
                                                                   : FS_EIO;
        if (b.too_big)
            fs_say(err, errlen, rc, "prometheus %s answered more than %u bytes", pc->base, PROM_MAX_RESPONSE_BYTES);
        else
            fs_say(err, errlen, rc, "cannot query prometheus %s: %s", pc->base, cerr[0] ? cerr : curl_easy_strerror(cc));
        goto out;
    }
    /* Prometheus answers errors (400 bad_data, 422 execution, 503 timeout) with its JSON
     * error body: its message is the useful part */
    rc = prom_vector_parse(b.p ? b.p : "", b.len, keys, n_keys, v, err, errlen);
    if (code / 100 != 2 && rc != FS_EHTTP) {
        prom_vector_release(v);
        rc = fs_say(err, errlen, FS_EHTTP, "prometheus %s answered HTTP %ld", pc->base, code);
    }
out:
    curl_slist_free_all(hdr);
    free(b.p);
    return rc;
}
