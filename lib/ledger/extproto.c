/* Extender protocol: decides ExtenderArgs (parsed by extargs.c) against the cluster's ledger,
 * parses ExtenderBindingArgs, formats replies (rules in extproto.h). Replies are written by
 * hand into a bounded buffer: 5,000-node replies are on the hot path and a jansson tree per
 * reply costs more. */
#include "ledger/extproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/extargs.h"

#define EXT_MAX_REPLY (256u << 20)

static const char *const reason_names[EXT_R_N] = {"cpu",          "memory", "network", "unresolvable",
                                                  "unknown_node", "pods",   "extended"};

const char *ext_reason_name(enum ext_reason r)
{
    return (unsigned)r < EXT_R_N ? reason_names[r] : "unknown";
}

void ext_reply_release(struct ext_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* ---- a bounded string builder ---- */

struct sb {
    char *buf;
    size_t len, cap;
    int failed;
};

static void sb_grow_slow(struct sb *b, size_t more)
{
    if (b->failed)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    if (cap > EXT_MAX_REPLY) {
        b->failed = 1;
        return;
    }
    char *p = realloc(b->buf, cap);
    if (!p) {
        b->failed = 1;
        return;
    }
    b->buf = p;
    b->cap = cap;
}

/* inline: replies append a few bytes at a time, 25,000 times for a 5,000-node reply */
static inline void sb_grow(struct sb *b, size_t more)
{
    if (b->len + more + 1 > b->cap)
        sb_grow_slow(b, more);
}

static void sb_putn(struct sb *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->failed)
        return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s, 0 if invalid (overlongs and surrogates too). */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (!n || (s[0] >= 0xf0 && s[0] > 0xf4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* A JSON string literal with its quotes; invalid UTF-8 (e.g. echoed from a bad request)
 * becomes U+FFFD so that the reply is always valid JSON. */
static void sb_json_str(struct sb *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    sb_grow(b, strlen(str) + 2);
    sb_putn(b, "\"", 1);
    const unsigned char *run = s;
    while (*s) {
        unsigned char ch = *s;
        size_t n = utf8_len(s);
        if (n >= 1 && ch >= 0x20 && ch != '"' && ch != '\\') {
            s += n;
            continue;
        }
        sb_putn(b, (const char *)run, (size_t)(s - run));
        if (n == 0) {
            sb_puts(b, "\\ufffd");
        } else if (ch == '"' || ch == '\\') {
            char esc[3] = {'\\', (char)ch, 0};
            sb_puts(b, esc);
        } else {
            char esc[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
            sb_puts(b, esc);
        }
        s++;
        run = s;
    }
    sb_putn(b, (const char *)run, (size_t)(s - run));
    sb_putn(b, "\"", 1);
}

/* Reserves room for `more` bytes up front: a 5,000-node reply is built without reallocs. */
static void sb_reserve(struct sb *b, size_t more)
{
    sb_grow(b, more);
}

/* A score (0..10 here, any int works) without a printf per node. */
static void sb_put_int(struct sb *b, int v)
{
    char tmp[16];
    size_t n = sizeof(tmp);
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--n] = '-';
    sb_putn(b, tmp + n, sizeof(tmp) - n);
}

static void sb_to_reply(struct sb *b, int status, struct ext_reply *out)
{
    if (b->failed) {
        free(b->buf);
        out->status = 500;
        out->body = strdup("{\"Error\":\"reply too large or out of memory\"}");
        out->len = out->body ? strlen(out->body) : 0;
        return;
    }
    out->status = status;
    out->body = b->buf;
    out->len = b->len;
}

void ext_error_reply(int status, const char *msg, struct ext_reply *out)
{
    struct sb b = {0};
    sb_puts(&b, "{\"Error\":");
    sb_json_str(&b, msg);
    sb_puts(&b, "}");
    sb_to_reply(&b, status, out);
}

/* A name that needs no escaping, between quotes at p (room reserved); returns the end. */
static inline char *put_quoted(char *p, const char *name, size_t len)
{
    *p++ = '"';
    memcpy(p, name, len);
    p += len;
    *p++ = '"';
    return p;
}

/* Node i's name as a JSON string: copied as it is when the streaming path saw no character
 * that needs escaping. */
static void put_name(struct sb *b, const struct ext_args *a, size_t i)
{
    if (!a->names_plain) {
        sb_json_str(b, a->names[i]);
        return;
    }
    sb_grow(b, a->name_len[i] + 2);
    if (b->failed)
        return;
    b->len = (size_t)(put_quoted(b->buf + b->len, a->names[i], a->name_len[i]) - b->buf);
    b->buf[b->len] = '\0';
}

static void bad_request(struct ext_counters *ctr, const char *err, struct ext_reply *out)
{
    if (ctr)
        ctr->bad_requests++;
    ext_error_reply(400, err, out);
}

/* ---- filter and prioritize ---- */

/* One decision per requested node, 16 bytes: a 5,000-node request reads its decisions three
 * times (checks, passing nodes, failures). A failure's details are checked again when its
 * message is written (the lock is held throughout, so the answer is the same). */
struct decision {
    struct ledger_node *node; /* NULL when unknown */
    uint8_t fits;             /* 0 too when the pod count or a counted resource fails */
    uint8_t unresolvable;
    uint8_t counted; /* enum cluster_static: CLUSTER_FITS unless that */
    uint8_t res;     /* the first overflowing resource, when the ledger said no */
    int8_t score;    /* prioritize's */
};

/* One request's per-node checks over nodes [lo, hi): the cluster's lock is held by the
 * request's thread, and each node's memo is written by the one thread checking it. */
struct decide_job {
    struct cluster *c;
    const struct ext_args *a;
    const struct ledger_shape *s;
    struct decision *d;
    int want_score; /* 2: as 1, but the nodes that do not fit are not scored (ext_prioritize_warm) */
    int prefetch;   /* what ledger_prefetch asks for */
};

/* Nodes ahead whose memory is asked for (ledger_prefetch): enough to overlap a few misses. */
#define PREFETCH_AHEAD 4

static void decide_range(void *arg, size_t lo, size_t hi)
{
    const struct decide_job *j = arg;
    struct ledger *l = j->c->ledger;
    for (size_t i = lo; i < hi; i++) {
        struct decision *d = &j->d[i];
        if (i + PREFETCH_AHEAD < hi && d[PREFETCH_AHEAD].node)
            ledger_prefetch(l, d[PREFETCH_AHEAD].node, j->s, j->prefetch);
        struct ledger_fit fit;
        if (d->node && j->want_score == 2) { /* a node that does not fit scores 0 without its memo */
            ledger_check_fit(l, d->node, j->s, &fit);
            if (fit.fits)
                ledger_check_memo(l, d->node, j->s, &fit);
        } else if (d->node && j->want_score) {
            ledger_check_memo(l, d->node, j->s, &fit); /* replicas of one curve reuse it */
        } else if (d->node) {
            ledger_check_fit(l, d->node, j->s, &fit);
        } else {
            memset(&fit, 0, sizeof(fit));
        }
        enum cluster_static counted = CLUSTER_FITS;
        int unres = 0;
        if (d->node && fit.fits &&
            (counted = cluster_static_fits_locked(j->c, &j->a->pod, d->node, &unres, NULL, 0)) != CLUSTER_FITS) {
            fit.fits = 0;
            fit.unresolvable = unres;
            fit.score = 0;
        }
        d->fits = (uint8_t)fit.fits;
        d->unresolvable = (uint8_t)fit.unresolvable;
        d->counted = (uint8_t)counted;
        d->res = (uint8_t)fit.res;
        d->score = (int8_t)fit.score;
    }
}

/* s: the pod's shape, set up here and released by the caller (also on error). */
static enum fs_err decide(struct cluster *c, struct ext_args *a, int64_t now, struct ext_counters *ctr,
                          struct decision *d, int want_score, struct ledger_shape *s)
{
    int from_pred = 0;
    memset(s, 0, sizeof(*s));
    ledger_advance(c->ledger, now);
    enum fs_err rc = cluster_pod_shape(c, &a->pod, now, s, &from_pred);
    if (rc != FS_OK)
        return rc;
    if (ctr) {
        if (from_pred)
            ctr->from_prediction++;
        else
            ctr->from_requests++;
    }
    struct ledger_node *const *nodes = ext_args_nodes(c, a);
    if (!nodes)
        return FS_ENOMEM;
    for (size_t i = 0; i < a->n; i++)
        d[i].node = nodes[i];
    /* a filter reads line 0 unless the node's peak cannot take the pod; a prioritize reads
     * the memo, and the window when the memo is of another shape (the first node tells) */
    int prefetch = LEDGER_PREFETCH_FIT;
    if (want_score) {
        size_t k = 0;
        while (k < a->n && !d[k].node)
            k++;
        prefetch |= LEDGER_PREFETCH_MEMO;
        if (k == a->n || !ledger_memo_holds(c->ledger, d[k].node, s))
            prefetch |= LEDGER_PREFETCH_WINDOW;
    }
    struct decide_job job = {c, a, s, d, want_score, prefetch};
    /* chunks of 512 nodes: small requests stay on the caller's thread */
    fs_pool_for(c->pool, a->n, 512, decide_range, &job);
    return FS_OK;
}

/* Parses a request; on error the reply is in *out (ctr counts a bad request) and -1. */
static int request_parse(struct cluster *c, const char *body, size_t len, struct ext_counters *ctr, struct ext_args *a,
                         struct ext_reply *out)
{
    char err[256];
    enum fs_err rc = ext_args_parse(c, body, len, a, err, sizeof(err));
    if (rc == FS_OK)
        return 0;
    if (rc == FS_ENOMEM)
        ext_error_reply(500, "out of memory", out);
    else
        bad_request(ctr, err, out);
    return -1;
}

/* Decides every node of a parsed request with the cluster's lock held by the caller.
 * Returns the decisions (the caller releases the pod's shape in *s), or NULL with the error
 * reply in *out and the lock released. model_ctr (filter's, so that a pod counts once)
 * counts how the pod was modelled. */
static struct decision *locked_decide(struct cluster *c, struct ext_args *a, int64_t now,
                                      struct ext_counters *model_ctr, int want_score, struct ledger_shape *s,
                                      struct ext_reply *out)
{
    char err[256];
    struct decision *d = malloc((a->n ? a->n : 1) * sizeof(*d)); /* decide sets every entry */
    if (!d) {
        cluster_unlock(c);
        ext_error_reply(500, "out of memory", out);
        return NULL;
    }
    enum fs_err rc = decide(c, a, now, model_ctr, d, want_score, s);
    if (rc == FS_OK)
        return d;
    cluster_unlock(c);
    ledger_shape_release(s);
    free(d);
    snprintf(err, sizeof(err), "cannot model the pod: %s", fs_strerror(rc));
    ext_error_reply(rc == FS_ENOMEM ? 500 : 400, err, out);
    return NULL;
}

/* What filter and prioritize share: parses the request and decides every node. Returns the
 * decisions with the cluster's lock held (the caller unlocks, and releases the pod's shape
 * in *s), or NULL with the error reply in *out and the lock not held. ctr counts a bad
 * request; model_ctr as in locked_decide. */
static struct decision *request_decide(struct cluster *c, const char *body, size_t len, int64_t now,
                                       struct ext_counters *ctr, struct ext_counters *model_ctr, int want_score,
                                       struct ext_args *a, struct ledger_shape *s, struct ext_reply *out)
{
    memset(s, 0, sizeof(*s));
    if (request_parse(c, body, len, ctr, a, out) != 0)
        return NULL;
    cluster_lock(c);
    return locked_decide(c, a, now, model_ctr, want_score, s, out);
}

void ext_filter(struct cluster *c, const char *body, size_t len, int64_t now, struct ext_counters *ctr,
                struct ext_reply *out)
{
    struct ext_args a;
    struct ledger_shape shape;
    struct sb b = {0};
    memset(out, 0, sizeof(*out));
    struct decision *d = request_decide(c, body, len, now, ctr, ctr, 0, &a, &shape, out);
    if (!d)
        goto out;
    /* passing nodes */
    size_t passed = 0, list_len = 0;
    for (size_t i = 0; i < a.n; i++)
        passed += d[i].node && d[i].fits;
    /* every node passed, and the request's list reads as the reply writes it: that list */
    const char *list = a.cache_mode && passed == a.n ? ext_args_compact_list(&a, &list_len) : NULL;
    sb_puts(&b, a.cache_mode ? "{\"NodeNames\":" : "{\"Nodes\":{\"items\":[");
    if (list)
        sb_putn(&b, list, list_len - 1); /* its `]` is written below */
    else if (a.cache_mode)
        sb_puts(&b, "[");
    int first = 1;
    if (a.names_plain && !list) { /* the hot path: names copied between quotes, no checks per byte */
        sb_reserve(&b, a.names_bytes + 2 * a.n + 128);
        if (!b.failed) {
            char *p = b.buf + b.len;
            for (size_t i = 0; i < a.n; i++) {
                if (!d[i].node || !d[i].fits)
                    continue;
                if (!first)
                    *p++ = ',';
                first = 0;
                p = put_quoted(p, a.names[i], a.name_len[i]);
            }
            b.len = (size_t)(p - b.buf);
            b.buf[b.len] = '\0';
        }
    }
    for (size_t i = 0; i < a.n && !a.names_plain; i++) {
        if (!d[i].node || !d[i].fits)
            continue;
        if (!first)
            sb_puts(&b, ",");
        first = 0;
        if (a.cache_mode) {
            put_name(&b, &a, i);
        } else {
            char *js = json_dumps(a.items[i], JSON_COMPACT);
            if (!js)
                b.failed = 1;
            else
                sb_puts(&b, js);
            free(js);
        }
    }
    sb_puts(&b, a.cache_mode ? "]" : "]}");
    /* failures: resolvable ones, then the ones preemption cannot fix */
    for (int pass = 0; pass < 2; pass++) {
        sb_puts(&b, pass == 0 ? ",\"FailedNodes\":{" : "},\"FailedAndUnresolvableNodes\":{");
        first = 1;
        for (size_t i = 0; i < a.n; i++) {
            char msg[256];
            int unresolvable;
            if (!d[i].node) {
                unresolvable = 0;
                snprintf(msg, sizeof(msg), "node %s is unknown to foresight (not yet synced)", a.names[i]);
            } else if (d[i].counted != CLUSTER_FITS) {
                (void)cluster_static_fits_locked(c, &a.pod, d[i].node, &unresolvable, msg, sizeof(msg));
            } else if (!d[i].fits) {
                struct ledger_fit fit; /* the details, checked again */
                ledger_check_fit(c->ledger, d[i].node, &shape, &fit);
                unresolvable = d[i].unresolvable;
                ledger_fit_message(c->ledger, &fit, now, msg, sizeof(msg));
            } else {
                continue;
            }
            if (unresolvable != pass)
                continue;
            if (pass == 0 && ctr)
                ctr->rejections[!d[i].node                             ? EXT_R_UNKNOWN_NODE
                                : d[i].counted == CLUSTER_TOO_MANY_PODS    ? EXT_R_PODS
                                : d[i].counted == CLUSTER_COUNTED_RESOURCE ? EXT_R_EXTENDED
                                                                           : (enum ext_reason)d[i].res]++;
            if (pass == 1 && ctr)
                ctr->rejections[EXT_R_UNRESOLVABLE]++;
            if (!first)
                sb_puts(&b, ",");
            first = 0;
            put_name(&b, &a, i);
            sb_puts(&b, ":");
            sb_json_str(&b, msg);
        }
    }
    cluster_unlock(c);
    ledger_shape_release(&shape);
    sb_puts(&b, "},\"Error\":\"\"}");
    sb_to_reply(&b, 200, out);
out:
    free(d);
    ext_args_release(&a);
}

/* The prioritize reply for a's nodes whose keep[i] is set (keep NULL: all of them), scored
 * as decided in d. */
static void prioritize_reply(struct sb *b, const struct ext_args *a, const struct decision *d, const uint8_t *keep)
{
    int first = 1;
    sb_puts(b, "[");
    if (a->names_plain) { /* the hot path: {"Host":"name","Score":N} without checks per byte */
        static const char host[] = "{\"Host\":", score[] = ",\"Score\":";
        sb_reserve(b, a->names_bytes + a->n * (sizeof(host) + sizeof(score) + 5) + 2);
        if (!b->failed) {
            char *p = b->buf + b->len;
            for (size_t i = 0; i < a->n; i++) {
                if (keep && !keep[i])
                    continue;
                if (!first)
                    *p++ = ',';
                first = 0;
                memcpy(p, host, sizeof(host) - 1);
                p = put_quoted(p + sizeof(host) - 1, a->names[i], a->name_len[i]);
                memcpy(p, score, sizeof(score) - 1);
                p += sizeof(score) - 1;
                int v = d[i].node && d[i].fits ? d[i].score : 0; /* 0..10 (score_of) */
                if (v >= 10) {
                    *p++ = '1';
                    *p++ = '0';
                } else {
                    *p++ = (char)('0' + (v > 0 ? v : 0));
                }
                *p++ = '}';
            }
            b->len = (size_t)(p - b->buf);
            b->buf[b->len] = '\0';
        }
    }
    for (size_t i = 0; i < a->n && !a->names_plain; i++) {
        if (keep && !keep[i])
            continue;
        if (!first)
            sb_putn(b, ",", 1);
        first = 0;
        sb_putn(b, "{\"Host\":", 8);
        put_name(b, a, i);
        sb_putn(b, ",\"Score\":", 9);
        sb_put_int(b, d[i].node && d[i].fits ? d[i].score : 0);
        sb_putn(b, "}", 1);
    }
    sb_puts(b, "]");
}

/* A prioritize answered by the warm-up (see ext_prioritize_warm), and what its answer
 * depends on besides the node list: the pod as parsed, the time and the cluster's state. */
struct ext_ahead {
    struct ext_names *nm; /* the list that prioritize carries (a reference) */
    struct cluster_pod pod;
    int64_t now, base;
    uint64_t ledger_gen, cluster_gen;
    struct ext_reply reply;
};

void ext_ahead_free(struct ext_ahead *h)
{
    if (!h)
        return;
    ext_names_unref(h->nm);
    ext_reply_release(&h->reply);
    free(h);
}

/* The reply of c's answer ahead into *out when it answers a at now (lock held): it is used
 * up. 0 when there is none for a. */
static int take_ahead_locked(struct cluster *c, const struct ext_args *a, int64_t now, struct ext_reply *out)
{
    struct ext_ahead *h = c->ahead;
    if (!h || !a->nm || a->nm != h->nm || h->now != now || h->base != c->ledger->base ||
        h->ledger_gen != c->ledger->generation || h->cluster_gen != c->generation ||
        memcmp(&h->pod, &a->pod, sizeof(a->pod)) != 0)
        return 0;
    *out = h->reply;
    memset(&h->reply, 0, sizeof(h->reply));
    ext_ahead_free(h);
    c->ahead = NULL;
    return 1;
}

/* After the warm-up's decisions d on a filter's request a (lock held): the prioritize
 * kube-scheduler will send, for the nodes that passed, answered now; their list becomes the
 * names memo, so that the prioritize's parse takes it as it is. */
static void answer_ahead_locked(struct cluster *c, struct ext_args *a, const struct decision *d, int64_t now)
{
    ext_ahead_free(c->ahead);
    c->ahead = NULL;
    struct ledger_node *const *nodes = a->cache_mode ? ext_args_nodes(c, a) : NULL;
    uint8_t *keep = nodes ? malloc(a->n ? a->n : 1) : NULL;
    struct ext_ahead *h = keep ? calloc(1, sizeof(*h)) : NULL;
    if (!h)
        goto out;
    for (size_t i = 0; i < a->n; i++)
        keep[i] = d[i].node && d[i].fits;
    if (!(h->nm = ext_names_subset(c, a, nodes, keep)))
        goto out;
    struct sb b = {0};
    prioritize_reply(&b, a, d, keep);
    if (b.failed) {
        free(b.buf);
        goto out;
    }
    sb_to_reply(&b, 200, &h->reply);
    memcpy(&h->pod, &a->pod, sizeof(h->pod));
    h->now = now;
    h->base = c->ledger->base;
    h->ledger_gen = c->ledger->generation;
    h->cluster_gen = c->generation;
    ext_names_remember_locked(c, h->nm);
    c->ahead = h;
    h = NULL;
out:
    ext_ahead_free(h);
    free(keep);
}

void ext_prioritize(struct cluster *c, const char *body, size_t len, int64_t now, struct ext_counters *ctr,
                    struct ext_reply *out)
{
    struct ext_args a;
    struct ledger_shape shape;
    struct sb b = {0};
    struct decision *d = NULL;
    memset(out, 0, sizeof(*out));
    memset(&shape, 0, sizeof(shape));
    if (request_parse(c, body, len, ctr, &a, out) != 0)
        goto out;
    cluster_lock(c);
    ledger_advance(c->ledger, now);
    if (take_ahead_locked(c, &a, now, out)) {
        if (ctr)
            ctr->prioritize_ahead++;
        cluster_unlock(c);
        goto out;
    }
    if (!(d = locked_decide(c, &a, now, NULL, 1, &shape, out)))
        goto out;
    cluster_unlock(c);
    ledger_shape_release(&shape);
    prioritize_reply(&b, &a, d, NULL);
    sb_to_reply(&b, 200, out);
out:
    free(d);
    ext_args_release(&a);
}

void ext_prioritize_warm(struct cluster *c, const char *body, size_t len, int64_t now)
{
    struct ext_args a;
    struct ledger_shape shape;
    struct ext_reply out;
    memset(&out, 0, sizeof(out));
    struct decision *d = request_decide(c, body, len, now, NULL, NULL, 2, &a, &shape, &out);
    if (d) {
        answer_ahead_locked(c, &a, d, now);
        cluster_unlock(c);
        ledger_shape_release(&shape);
    }
    ext_reply_release(&out);
    free(d);
    ext_args_release(&a);
}

/* ---- bind ---- */

static int copy_field(const json_t *root, const char *key, char *dst, size_t len, int required)
{
    const json_t *v = ext_json_get_ci(root, key);
    if (!v && !required) {
        dst[0] = '\0';
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || (required && !*s))
        return -1;
    int n = snprintf(dst, len, "%s", s);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

enum fs_err ext_bind_parse(const char *body, size_t len, struct ext_bind_args *a, struct ext_counters *ctr,
                           struct ext_reply *out)
{
    char err[256];
    memset(a, 0, sizeof(*a));
    memset(out, 0, sizeof(*out));
    json_t *root = ext_json_load(body, len, err, sizeof(err));
    if (!root) {
        bad_request(ctr, err, out);
        return FS_EPARSE;
    }
    const char *bad = NULL;
    if (copy_field(root, "PodName", a->pod_name, sizeof(a->pod_name), 1))
        bad = "PodName";
    else if (copy_field(root, "PodNamespace", a->pod_ns, sizeof(a->pod_ns), 1))
        bad = "PodNamespace";
    else if (copy_field(root, "PodUID", a->pod_uid, sizeof(a->pod_uid), 1))
        bad = "PodUID";
    else if (copy_field(root, "Node", a->node, sizeof(a->node), 1))
        bad = "Node";
    json_decref(root);
    if (bad) {
        snprintf(err, sizeof(err), "%s is missing, empty, too long or not a string", bad);
        bad_request(ctr, err, out);
        return FS_EPARSE;
    }
    return FS_OK;
}

enum fs_err ext_bind_claim(struct cluster *c, const struct ext_bind_args *a, const json_t *pod, int64_t now,
                           struct ext_counters *ctr, char *msg, size_t msglen)
{
    struct cluster_pod parsed;
    const struct cluster_pod *p = NULL;
    enum fs_err rc;
    if (pod) {
        if ((rc = cluster_pod_parse(pod, &parsed)) != FS_OK) {
            snprintf(msg, msglen, "pod %s/%s cannot be read: %s", a->pod_ns, a->pod_name, fs_strerror(rc));
            return rc;
        }
        if (strcmp(parsed.uid, a->pod_uid) != 0) {
            snprintf(msg, msglen, "pod %s/%s has uid %s, not %s (recreated?)", a->pod_ns, a->pod_name, parsed.uid,
                     a->pod_uid);
            return FS_EINVAL;
        }
        /* recorded (pending: no claim yet) so that, once claimed below, its counted
         * resources count for other pods before the informer catches up */
        (void)cluster_pod_upsert(c, pod, now);
        p = &parsed;
    }
    cluster_lock(c);
    ledger_advance(c->ledger, now);
    if (!p)
        p = cluster_pod_get_locked(c, a->pod_uid);
    if (!p) {
        cluster_unlock(c);
        snprintf(msg, msglen, "pod %s/%s (uid %s) is not known yet", a->pod_ns, a->pod_name, a->pod_uid);
        return FS_EDATA;
    }
    if (!ledger_node_get(c->ledger, a->node)) {
        cluster_unlock(c);
        snprintf(msg, msglen, "node %s is unknown to foresight", a->node);
        return FS_ENOTFOUND;
    }
    struct ledger_shape s;
    struct ledger_fit fit;
    char why[200];
    int unres;
    if (cluster_static_fits_locked(c, p, ledger_node_get(c->ledger, a->node), &unres, why, sizeof(why)) !=
        CLUSTER_FITS) {
        snprintf(msg, msglen, "pod %s/%s no longer fits node %s: %s", a->pod_ns, a->pod_name, a->node, why);
        if (ctr)
            ctr->bind_conflicts++;
        cluster_unlock(c);
        return FS_ECONFLICT;
    }
    rc = cluster_pod_shape(c, p, now, &s, NULL);
    if (rc == FS_OK) {
        rc = ledger_claim(c->ledger, a->pod_uid, a->node, &s, 0, &fit);
        ledger_shape_release(&s);
    }
    if (rc == FS_ECONFLICT) {
        ledger_fit_message(c->ledger, &fit, now, why, sizeof(why));
        snprintf(msg, msglen, "pod %s/%s no longer fits node %s: %s", a->pod_ns, a->pod_name, a->node, why);
        if (ctr)
            ctr->bind_conflicts++;
    } else if (rc != FS_OK) {
        snprintf(msg, msglen, "cannot claim node %s for pod %s/%s: %s", a->node, a->pod_ns, a->pod_name,
                 fs_strerror(rc));
    }
    cluster_unlock(c);
    return rc;
}

void ext_bind_done(struct cluster *c, const struct ext_bind_args *a, const char *error, int64_t now,
                   struct ext_counters *ctr, struct ext_reply *out)
{
    memset(out, 0, sizeof(*out));
    cluster_lock(c);
    if (error) {
        cluster_pod_unclaim_locked(c, a->pod_uid, now);
        if (ctr)
            ctr->bind_failures++;
    } else if (ctr) {
        ctr->binds++;
    }
    cluster_unlock(c);
    ext_error_reply(200, error ? error : "", out);
}
