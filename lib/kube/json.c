/* A JSON reader that builds jansson values, for the hot paths of watches and the informer
 * cache (every watch event is read once from the wire and its previous state once from the
 * cache). It accepts exactly what json_loadb accepts (RFC 8259, UTF-8 checked, no "\u0000",
 * integers that fit a json_int_t, finite reals, depth <= 2048, an object or array at the top)
 * but scans strings in place instead of byte by byte through a stream, about twice as fast.
 * tests/unit/test_kube_json.c and tests/fuzz/fuzz_watch.c compare it with json_loadb. */
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"

#define DEPTH_MAX 2048 /* as jansson's JSON_PARSER_MAX_DEPTH */
#define NUM_MAX 1024   /* longest number text read (jansson has no bound; nobody writes more) */

struct reader {
    const char *p, *end;
    unsigned flags;
    int depth;
    enum fs_err err;
    char *scratch; /* decoded escaped strings */
    size_t scap;
};

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static void skip_ws(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static int fail(struct reader *r, enum fs_err e)
{
    if (r->err == FS_OK)
        r->err = e;
    return -1;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int scratch_reserve(struct reader *r, size_t n)
{
    if (n <= r->scap)
        return 0;
    size_t cap = r->scap ? r->scap : 256;
    while (cap < n)
        cap *= 2;
    char *s = realloc(r->scratch, cap);
    if (!s)
        return fail(r, FS_ENOMEM);
    r->scratch = s;
    r->scap = cap;
    return 0;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decodes the escaped string whose body starts at start (after the quote) into scratch;
 * r->p ends after the closing quote. */
static int read_escaped(struct reader *r, const char *start, const char **s, size_t *len)
{
    /* find the closing quote first: the decoded text is never longer than the encoded one */
    const char *p = start, *q = start;
    size_t n = 0;
    while (q < r->end && *q != '"') {
        if (*q == '\\' && r->end - q < 2)
            return fail(r, FS_EPARSE); /* a backslash at the very end */
        q += *q == '\\' ? 2 : 1;
    }
    if (q >= r->end)
        return fail(r, FS_EPARSE); /* unterminated */
    if (scratch_reserve(r, (size_t)(q - start) + 1) != 0)
        return -1;
    char *out = r->scratch;
    while (p < q + 1) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            r->p = p + 1;
            *s = out;
            *len = n;
            return 0;
        }
        if (c < 0x20)
            return fail(r, FS_EPARSE);
        if (c >= 0x80) {
            size_t k = (r->flags & KUBE_JSON_TRUSTED) ? 1
                                                      : utf8_len((const unsigned char *)p,
                                                                 (const unsigned char *)q);
            if (k == 0)
                return fail(r, FS_EPARSE);
            memcpy(out + n, p, k);
            n += k;
            p += k;
            continue;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            p++;
            continue;
        }
        if (q - p < 2)
            return fail(r, FS_EPARSE);
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (q - p < 4 || hex4(p, &cp) != 0)
                return fail(r, FS_EPARSE);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* a high surrogate must be followed by an escaped low one */
                if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return fail(r, FS_EPARSE);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(r, FS_EPARSE);
            }
            if (cp == 0)
                return fail(r, FS_EPARSE); /* as json_loadb without JSON_ALLOW_NUL */
            /* at most 4 bytes out for at least 6 in: the bound above holds */
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800) {
                out[n++] = (char)(0xC0 | (cp >> 6));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                out[n++] = (char)(0xE0 | (cp >> 12));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[n++] = (char)(0xF0 | (cp >> 18));
                out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return fail(r, FS_EPARSE);
        }
    }
    return fail(r, FS_EPARSE); /* unterminated */
}

/* Reads a string at r->p (on its opening quote). *s points into the input when the string
 * has no escapes, else into scratch (valid until the next string is read). */
static int read_string(struct reader *r, const char **s, size_t *len)
{
    const char *start = ++r->p;
    const char *p = start;
    int trusted = (r->flags & KUBE_JSON_TRUSTED) != 0;
    while (p < r->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *s = start;
            *len = (size_t)(p - start);
            r->p = p + 1;
            return 0;
        }
        if (c == '\\')
            return read_escaped(r, start, s, len);
        if (c < 0x20)
            return fail(r, FS_EPARSE);
        if (c >= 0x80 && !trusted) {
            size_t k = utf8_len((const unsigned char *)p, (const unsigned char *)r->end);
            if (k == 0)
                return fail(r, FS_EPARSE);
            p += k;
            continue;
        }
        p++;
    }
    return fail(r, FS_EPARSE);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static json_t *read_number(struct reader *r)
{
    const char *s = r->p, *p = s;
    int real = 0;
    if (p < r->end && *p == '-')
        p++;
    if (p >= r->end || !is_digit(*p))
        return fail(r, FS_EPARSE), NULL;
    if (*p == '0') {
        p++;
        if (p < r->end && is_digit(*p))
            return fail(r, FS_EPARSE), NULL; /* no leading zeros */
    } else {
        while (p < r->end && is_digit(*p))
            p++;
    }
    if (p < r->end && *p == '.') {
        real = 1;
        p++;
        if (p >= r->end || !is_digit(*p))
            return fail(r, FS_EPARSE), NULL;
        while (p < r->end && is_digit(*p))
            p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < r->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= r->end || !is_digit(*p))
            return fail(r, FS_EPARSE), NULL;
        while (p < r->end && is_digit(*p))
            p++;
    }
    size_t n = (size_t)(p - s);
    char buf[NUM_MAX + 1];
    if (n > NUM_MAX)
        return fail(r, FS_EPARSE), NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    r->p = p;
    errno = 0;
    json_t *v;
    if (!real) {
        long long i = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return fail(r, FS_EPARSE), NULL; /* json_loadb: "too big integer" */
        v = json_integer((json_int_t)i);
    } else {
        pthread_once(&c_locale_once, c_locale_init);
        double d = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
        if (errno == ERANGE && (d > 1.0 || d < -1.0))
            return fail(r, FS_EPARSE), NULL; /* json_loadb: "real number overflow" */
        v = json_real(d);
    }
    if (!v)
        fail(r, FS_ENOMEM);
    return v;
}

static json_t *read_value(struct reader *r);

static json_t *read_object(struct reader *r)
{
    json_t *o = json_object();
    if (!o)
        return fail(r, FS_ENOMEM), NULL;
    r->p++; /* '{' */
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return o;
    }
    for (;;) {
        const char *k;
        size_t klen;
        char *kcopy = NULL;
        if (r->p >= r->end || *r->p != '"' || read_string(r, &k, &klen) != 0)
            goto bad;
        if (k == r->scratch) {
            /* the value may decode strings into scratch too: keep the key apart */
            kcopy = malloc(klen + 1);
            if (!kcopy) {
                fail(r, FS_ENOMEM);
                goto bad;
            }
            memcpy(kcopy, k, klen);
            k = kcopy;
        }
        skip_ws(r);
        if (r->p >= r->end || *r->p != ':') {
            free(kcopy);
            goto bad;
        }
        r->p++;
        skip_ws(r);
        json_t *v = read_value(r);
        if (!v) {
            free(kcopy);
            goto bad;
        }
        size_t before = json_object_size(o);
        int rc = json_object_setn_new_nocheck(o, k, klen, v);
        free(kcopy);
        if (rc != 0) {
            fail(r, FS_ENOMEM);
            goto bad;
        }
        if ((r->flags & KUBE_JSON_REJECT_DUPLICATES) && json_object_size(o) == before)
            goto bad; /* the key replaced an earlier one */
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip_ws(r);
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return o;
        }
        goto bad;
    }
bad:
    fail(r, FS_EPARSE);
    json_decref(o);
    return NULL;
}

static json_t *read_array(struct reader *r)
{
    json_t *a = json_array();
    if (!a)
        return fail(r, FS_ENOMEM), NULL;
    r->p++; /* '[' */
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return a;
    }
    for (;;) {
        json_t *v = read_value(r);
        if (!v)
            goto bad;
        if (json_array_append_new(a, v) != 0) {
            fail(r, FS_ENOMEM);
            goto bad;
        }
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip_ws(r);
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            return a;
        }
        goto bad;
    }
bad:
    fail(r, FS_EPARSE);
    json_decref(a);
    return NULL;
}

static json_t *literal(struct reader *r, const char *word, size_t n, json_t *v)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail(r, FS_EPARSE), NULL;
    r->p += n;
    return v;
}

static json_t *read_value(struct reader *r)
{
    json_t *v;
    if (r->p >= r->end)
        return fail(r, FS_EPARSE), NULL;
    /* as jansson, every value counts one level, scalars too */
    if (r->depth >= DEPTH_MAX)
        return fail(r, FS_EPARSE), NULL;
    r->depth++;
    switch (*r->p) {
    case '{': v = read_object(r); break;
    case '[': v = read_array(r); break;
    case '"': {
        const char *s;
        size_t n;
        v = NULL;
        if (read_string(r, &s, &n) != 0)
            break;
        v = json_stringn_nocheck(s, n); /* checked above, or trusted */
        if (!v)
            fail(r, FS_ENOMEM);
        break;
    }
    case 't': v = literal(r, "true", 4, json_true()); break;
    case 'f': v = literal(r, "false", 5, json_false()); break;
    case 'n': v = literal(r, "null", 4, json_null()); break;
    default: v = read_number(r); break;
    }
    r->depth--;
    return v;
}

enum fs_err kube_json_load(const char *s, size_t len, unsigned flags, json_t **out, size_t *used)
{
    struct reader r = {.p = s, .end = s + len, .flags = flags, .err = FS_OK};
    *out = NULL;
    skip_ws(&r);
    json_t *v = NULL;
    if (r.p < r.end && (*r.p == '{' || *r.p == '['))
        v = read_value(&r);
    else
        fail(&r, FS_EPARSE); /* as json_loadb without JSON_DECODE_ANY */
    if (v && !(flags & KUBE_JSON_PREFIX)) {
        skip_ws(&r);
        if (r.p != r.end) {
            json_decref(v);
            v = NULL;
            fail(&r, FS_EPARSE);
        }
    }
    free(r.scratch);
    if (used)
        *used = (size_t)(r.p - s);
    if (!v)
        return r.err != FS_OK ? r.err : FS_EPARSE;
    *out = v;
    return FS_OK;
}
