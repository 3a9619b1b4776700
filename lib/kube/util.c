/* Small helpers for lib/kube: bounded file reads, YAML documents as JSON, RFC 3339 times,
 * clocks and interruptible sleeps. None of them keeps state. */
#include "kube/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum fs_err kube_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    enum fs_err rc = FS_EIO;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f)
        goto out;
    for (;;) {
        if (len + 4097 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > max + 4097)
                ncap = max + 4097;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = FS_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > max) {
            rc = FS_ERANGE;
            goto out;
        }
        if (n == 0) {
            if (ferror(f))
                goto out;
            break;
        }
    }
    if (!buf) {
        buf = malloc(1);
        if (!buf) {
            rc = FS_ENOMEM;
            goto out;
        }
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    buf = NULL;
    rc = FS_OK;
out:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

struct y2j {
    yaml_document_t *doc;
    size_t nodes;
    char *errbuf;
    size_t errlen;
};

#define YAML_DEPTH_MAX 64
#define YAML_NODES_MAX 200000

static json_t *node_to_json(struct y2j *c, yaml_node_t *node, int depth)
{
    if (!node)
        return NULL;
    if (depth > YAML_DEPTH_MAX || ++c->nodes > YAML_NODES_MAX) {
        snprintf(c->errbuf, c->errlen, "yaml nested too deeply or too large");
        return NULL;
    }
    switch (node->type) {
    case YAML_SCALAR_NODE: {
        json_t *s = json_stringn((const char *)node->data.scalar.value, node->data.scalar.length);
        if (!s)
            snprintf(c->errbuf, c->errlen, "yaml scalar is not valid utf-8 or out of memory");
        return s;
    }
    case YAML_SEQUENCE_NODE: {
        json_t *arr = json_array();
        if (!arr)
            return NULL;
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
            json_t *v = node_to_json(c, yaml_document_get_node(c->doc, *it), depth + 1);
            if (!v || json_array_append_new(arr, v) != 0) {
                json_decref(arr);
                return NULL;
            }
        }
        return arr;
    }
    case YAML_MAPPING_NODE: {
        json_t *obj = json_object();
        if (!obj)
            return NULL;
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                snprintf(c->errbuf, c->errlen, "yaml mapping key is not a scalar");
                json_decref(obj);
                return NULL;
            }
            json_t *v = node_to_json(c, yaml_document_get_node(c->doc, p->value), depth + 1);
            char key[256];
            size_t kl = k->data.scalar.length;
            if (!v || kl >= sizeof(key)) {
                if (v)
                    snprintf(c->errbuf, c->errlen, "yaml key too long");
                json_decref(v);
                json_decref(obj);
                return NULL;
            }
            memcpy(key, k->data.scalar.value, kl);
            key[kl] = '\0';
            if (json_object_set_new(obj, key, v) != 0) {
                snprintf(c->errbuf, c->errlen, "yaml key is not valid utf-8");
                json_decref(obj);
                return NULL;
            }
        }
        return obj;
    }
    default:
        snprintf(c->errbuf, c->errlen, "empty yaml node");
        return NULL;
    }
}

enum fs_err kube_yaml_to_json(const char *yaml, size_t len, json_t **out, char *errbuf,
                              size_t errlen)
{
    enum fs_err rc = FS_EPARSE;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_doc = 0;
    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return FS_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(errbuf, errlen, "yaml: %s at line %zu", parser.problem ? parser.problem : "error",
                 parser.problem_mark.line + 1);
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        *out = json_object(); /* an empty file is an empty config */
        rc = *out ? FS_OK : FS_ENOMEM;
        goto out;
    }
    struct y2j c = {.doc = &doc, .errbuf = errbuf, .errlen = errlen};
    *out = node_to_json(&c, root, 0);
    rc = *out ? FS_OK : FS_EPARSE;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

enum fs_err kube_parse_rfc3339(const char *s, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, se;
    const char *p = s;
    memset(&tm, 0, sizeof(tm));
    if (!s)
        return FS_EPARSE;
    if (parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) || *p++ != '-' ||
        parse_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return FS_EPARSE;
    p++;
    if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi) || *p++ != ':' ||
        parse_digits(&p, 2, &se))
        return FS_EPARSE;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return FS_EPARSE;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om))
            return FS_EPARSE;
        off = sign * (oh * 3600L + om * 60L);
    } else {
        return FS_EPARSE;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return FS_EPARSE;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *out = timegm(&tm) - off;
    return FS_OK;
}

void kube_format_rfc3339(const struct timespec *ts, int micro, char *buf, size_t len)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (micro)
        snprintf(buf, len, "%s.%06ldZ", base, ts->tv_nsec / 1000);
    else
        snprintf(buf, len, "%sZ", base);
}

int64_t kube_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kube_sleep_ms(long ms, volatile int *stop)
{
    int64_t end = kube_mono_ms() + ms;
    for (;;) {
        if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))
            return 1;
        int64_t left = end - kube_mono_ms();
        if (left <= 0)
            return 0;
        if (left > 50)
            left = 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

long kube_jitter_ms(long ms, double frac)
{
    /* rand_r on a thread-local seed: jitter needs no quality, only spreading */
    static __thread unsigned seed;
    if (!seed)
        seed = (unsigned)kube_mono_ms() ^ (unsigned)(uintptr_t)&seed;
    double f = 1.0 + frac * ((double)rand_r(&seed) / ((double)RAND_MAX + 1.0));
    return (long)((double)ms * f);
}

const char *kube_json_str(const json_t *obj, const char *path)
{
    char part[128];
    const char *p = path;
    const json_t *cur = obj;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        cur = json_object_get(cur, part);
        p += n + (dot ? 1 : 0);
        if (!dot)
            break;
    }
    return json_is_string(cur) ? json_string_value(cur) : NULL;
}
