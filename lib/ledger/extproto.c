/* Extender protocol: parses ExtenderArgs / ExtenderBindingArgs, decides against the cluster's
 * ledger, formats replies (rules in extproto.h). Replies are written by hand into a bounded
 * buffer: 5,000-node replies are on the hot path and a jansson tree per reply costs more. */
#include "ledger/extproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

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

/* ---- request parsing ---- */

/* Case-insensitive key look-up; an exact match wins. */
static json_t *ci_get(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v)
        return v;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)obj, k, val) {
        if (strcasecmp(k, key) == 0)
            return val;
    }
    return NULL;
}

static json_t *load(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    if (len > EXT_MAX_BODY_DEFAULT) {
        snprintf(err, errlen, "request body of %zu bytes exceeds the limit of %u", len, EXT_MAX_BODY_DEFAULT);
        return NULL;
    }
    json_t *j = json_loadb(body, len, 0, &jerr);
    if (!j) {
        snprintf(err, errlen, "malformed json at byte %d: %s", jerr.position, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "the request is not a json object");
        return NULL;
    }
    return j;
}

/* Parsed ExtenderArgs: names[i] borrowed from the tree; items[i] the Node objects (Nodes mode). */
struct args {
    json_t *root;
    struct cluster_pod pod;
    int cache_mode; /* NodeNames given */
    size_t n;
    const char **names;
    json_t **items;
    char *arena; /* the streaming path's copies of the node names, NUL-separated */
    size_t arena_len;
    /* streaming path: names[i] has name_len[i] bytes of valid UTF-8 (yajl checked) */
    size_t *name_len;
    int names_plain; /* no name needs escaping, so replies copy them as they are */
};

static void args_release(struct args *a)
{
    json_decref(a->root);
    free(a->names);
    free(a->items);
    free(a->arena);
    free(a->name_len);
    memset(a, 0, sizeof(*a));
}


/* ---- streaming path for the scheduler's own request shape ----
 * kube-scheduler (nodeCacheCapable) sends {"Pod":{...},"Nodes":null,"NodeNames":["n1",...]}.
 * At 5,000 nodes, jansson's json_loadb of that body costs 1.4 ms (a tree of 5,000 strings);
 * yajl's event parser reads it in under 0.1 ms, so this path streams the body through yajl,
 * copies the node names into one arena, and hands only the Pod object's bytes (located by
 * yajl's byte offsets) to jansson. Any other shape (a NodeList in Nodes, a non-string
 * name, a repeated key, malformed JSON) declines, and the request takes the jansson path,
 * which answers it or reports what is wrong. */
enum top_key { K_OTHER, K_POD, K_NODES, K_NODE_NAMES };

struct stream {
    yajl_handle h;
    const char *body;
    int depth;               /* open maps and arrays */
    enum top_key key;        /* the current top-level key */
    int seen[4];             /* top-level keys met, case-insensitively */
    int in_names;            /* inside the NodeNames array */
    size_t pod_start, pod_end; /* the Pod object's bytes: [start, end) */
    int have_names, names_plain, oom;
    char *arena;
    size_t arena_len;
    size_t *off; /* name offsets into the arena (it does not move: sized to the body) */
    size_t n, cap;
};

/* A value other than a string, map or array. At the top level: null stands for an absent
 * Nodes or NodeNames, and the values of other keys are ignored; a node name must be a
 * string; values inside the Pod are read by jansson afterwards. */
static int st_scalar(struct stream *s, int is_null)
{
    if (s->depth == 1)
        return s->key == K_OTHER || (is_null && (s->key == K_NODES || s->key == K_NODE_NAMES));
    return s->depth > 1 && !s->in_names;
}

static int st_null(void *ctx)
{
    return st_scalar(ctx, 1);
}

static int st_bool(void *ctx, int v)
{
    (void)v;
    return st_scalar(ctx, 0);
}

static int st_number(void *ctx, const char *v, size_t len)
{
    (void)v;
    (void)len;
    return st_scalar(ctx, 0);
}

/* Node name bytes: NAME_NUL ends a C string; NAME_ESCAPE needs escaping in a JSON reply. */
enum { NAME_ESCAPE = 1, NAME_NUL = 2 };
static const unsigned char name_byte_class[256] = {
    [0] = NAME_ESCAPE | NAME_NUL, [1 ... 0x1f] = NAME_ESCAPE, ['"'] = NAME_ESCAPE, ['\\'] = NAME_ESCAPE};

static int st_string(void *ctx, const unsigned char *v, size_t len)
{
    struct stream *s = ctx;
    if (!s->in_names || s->depth != 2)
        return st_scalar(s, 0);
    if (len == 0 || ++s->n > EXT_MAX_NODES)
        return 0;
    if (s->n > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        size_t *o = realloc(s->off, nc * sizeof(*o));
        if (!o) {
            s->oom = 1;
            return 0;
        }
        s->off = o;
        s->cap = nc;
    }
    /* one branch-free pass: a NUL (escaped as \u0000) cannot be a C string; a quote,
     * backslash or control character makes the replies escape names */
    unsigned acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= name_byte_class[v[i]];
    if (acc & NAME_NUL)
        return 0;
    int plain = acc == 0;
    s->names_plain &= plain;
    /* JSON escapes never shrink below the decoded length, so the arena (body length + 1)
     * always has room */
    s->off[s->n - 1] = s->arena_len;
    memcpy(s->arena + s->arena_len, v, len);
    s->arena_len += len;
    s->arena[s->arena_len++] = '\0';
    return 1;
}

static int st_map_key(void *ctx, const unsigned char *k, size_t len)
{
    struct stream *s = ctx;
    if (s->depth != 1)
        return 1;
    s->key = len == 3 && strncasecmp((const char *)k, "Pod", 3) == 0          ? K_POD
             : len == 5 && strncasecmp((const char *)k, "Nodes", 5) == 0      ? K_NODES
             : len == 9 && strncasecmp((const char *)k, "NodeNames", 9) == 0 ? K_NODE_NAMES
                                                                             : K_OTHER;
    return s->key == K_OTHER || !s->seen[s->key]++;
}

static int st_start_map(void *ctx)
{
    struct stream *s = ctx;
    if (s->in_names)
        return 0;
    if (s->depth == 1 && s->key == K_POD) {
        /* yajl has consumed the '{' that opens the Pod */
        s->pod_start = yajl_get_bytes_consumed(s->h) - 1;
        if (s->body[s->pod_start] != '{')
            return 0;
    } else if (s->depth == 1 && s->key == K_NODES) {
        return 0; /* a NodeList: the jansson path */
    }
    s->depth++;
    return 1;
}

static int st_end_map(void *ctx)
{
    struct stream *s = ctx;
    if (--s->depth == 1 && s->key == K_POD) {
        s->pod_end = yajl_get_bytes_consumed(s->h);
        if (s->pod_end <= s->pod_start || s->body[s->pod_end - 1] != '}')
            return 0;
    }
    return 1;
}

static int st_start_array(void *ctx)
{
    struct stream *s = ctx;
    if (s->in_names || (s->depth == 1 && (s->key == K_POD || s->key == K_NODES)))
        return 0;
    if (s->depth == 1 && s->key == K_NODE_NAMES)
        s->in_names = s->have_names = 1;
    s->depth++;
    return 1;
}

static int st_end_array(void *ctx)
{
    struct stream *s = ctx;
    if (--s->depth == 1)
        s->in_names = 0;
    return 1;
}

static const yajl_callbacks stream_callbacks = {
    .yajl_null = st_null,
    .yajl_boolean = st_bool,
    .yajl_number = st_number,
    .yajl_string = st_string,
    .yajl_start_map = st_start_map,
    .yajl_map_key = st_map_key,
    .yajl_end_map = st_end_map,
    .yajl_start_array = st_start_array,
    .yajl_end_array = st_end_array,
};

/* 0: parsed into a; 1: not the expected shape or not valid JSON (use jansson); <0: out of memory. */
static int args_parse_stream(const char *body, size_t len, struct args *a)
{
    struct stream s = {.body = body, .names_plain = 1};
    int rc = 1;
    memset(a, 0, sizeof(*a));
    if (!(s.arena = malloc(len + 1)) || !(s.h = yajl_alloc(&stream_callbacks, NULL, &s))) {
        free(s.arena);
        return -1;
    }
    int ok = yajl_parse(s.h, (const unsigned char *)body, len) == yajl_status_ok &&
             yajl_complete_parse(s.h) == yajl_status_ok;
    yajl_free(s.h);
    if (s.oom) {
        rc = -1;
        goto out;
    }
    /* the root must have been an object holding a Pod object and a NodeNames array */
    if (!ok || !s.pod_end || !s.have_names)
        goto out;
    json_error_t jerr;
    if (!(a->root = json_loadb(body + s.pod_start, s.pod_end - s.pod_start, 0, &jerr)) ||
        cluster_pod_parse(a->root, &a->pod) != FS_OK)
        goto out; /* the jansson path reports what is wrong with it */
    a->cache_mode = 1;
    a->n = s.n;
    a->arena = s.arena;
    a->arena_len = s.arena_len;
    s.arena = NULL;
    a->names_plain = s.names_plain;
    a->names = malloc((s.n ? s.n : 1) * sizeof(*a->names)); /* every entry is set below */
    a->items = calloc(1, sizeof(*a->items));
    a->name_len = malloc((s.n ? s.n : 1) * sizeof(*a->name_len));
    if (!a->names || !a->items || !a->name_len) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < s.n; i++) {
        a->names[i] = a->arena + s.off[i];
        a->name_len[i] = (i + 1 < s.n ? s.off[i + 1] : s.arena_len) - s.off[i] - 1;
    }
    rc = 0;
out:
    free(s.off);
    free(s.arena);
    if (rc != 0)
        args_release(a);
    return rc;
}

static enum fs_err args_parse(const char *body, size_t len, struct args *a, char *err, size_t errlen)
{
    int fast = len <= EXT_MAX_BODY_DEFAULT ? args_parse_stream(body, len, a) : 1;
    if (fast == 0)
        return FS_OK;
    if (fast < 0) {
        snprintf(err, errlen, "out of memory");
        return FS_ENOMEM;
    }
    memset(a, 0, sizeof(*a));
    if (!(a->root = load(body, len, err, errlen)))
        return FS_EPARSE;
    const json_t *pod = ci_get(a->root, "Pod");
    if (!json_is_object(pod)) {
        snprintf(err, errlen, "Pod is missing or not an object");
        return FS_EPARSE;
    }
    enum fs_err rc = cluster_pod_parse(pod, &a->pod);
    if (rc != FS_OK) {
        snprintf(err, errlen, "Pod is invalid: %s",
                 rc == FS_EPARSE   ? "bad resource quantity"
                 : rc == FS_ERANGE ? "more than 8 kinds of counted resources (extended, storage, hugepages) requested"
                                   : "no metadata.uid or name");
        return FS_EPARSE;
    }
    const json_t *names = ci_get(a->root, "NodeNames");
    const json_t *nodes = ci_get(a->root, "Nodes");
    const json_t *items = NULL;
    if (json_is_array(names)) {
        a->cache_mode = 1;
        a->n = json_array_size(names);
    } else if (json_is_object(nodes) && json_is_array(items = json_object_get(nodes, "items"))) {
        a->n = json_array_size(items);
    } else if (json_is_object(nodes) && !json_object_get(nodes, "items")) {
        a->n = 0; /* an empty NodeList: Go omits "items" when there are none */
    } else {
        snprintf(err, errlen, "neither NodeNames (an array) nor Nodes (a NodeList) is given");
        return FS_EPARSE;
    }
    if (a->n > EXT_MAX_NODES) {
        snprintf(err, errlen, "%zu nodes exceed the limit of %d", a->n, EXT_MAX_NODES);
        return FS_EPARSE;
    }
    a->names = calloc(a->n ? a->n : 1, sizeof(*a->names));
    a->items = calloc(a->n ? a->n : 1, sizeof(*a->items));
    if (!a->names || !a->items)
        return FS_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        if (a->cache_mode) {
            a->names[i] = json_string_value(json_array_get(names, i));
        } else {
            a->items[i] = json_array_get(items, i);
            a->names[i] = json_string_value(json_object_get(json_object_get(a->items[i], "metadata"), "name"));
        }
        if (!a->names[i] || !a->names[i][0]) {
            snprintf(err, errlen, "node %zu has no name", i);
            return FS_EPARSE;
        }
    }
    return FS_OK;
}

/* Node i's name as a JSON string: copied as it is when the streaming path saw no character
 * that needs escaping. */
static void put_name(struct sb *b, const struct args *a, size_t i)
{
    if (!a->names_plain) {
        sb_json_str(b, a->names[i]);
        return;
    }
    size_t len = a->name_len[i];
    sb_grow(b, len + 2);
    if (b->failed)
        return;
    b->buf[b->len] = '"';
    memcpy(b->buf + b->len + 1, a->names[i], len);
    b->buf[b->len + 1 + len] = '"';
    b->len += len + 2;
    b->buf[b->len] = '\0';
}

static void bad_request(struct ext_counters *ctr, const char *err, struct ext_reply *out)
{
    if (ctr)
        ctr->bad_requests++;
    ext_error_reply(400, err, out);
}

/* ---- filter and prioritize ---- */

/* One decision per requested node; shape prepared once per request (lock held). */
struct decision {
    struct ledger_node *node; /* NULL when unknown */
    struct ledger_fit fit;    /* fits is 0 too when the pod count or a counted resource fails */
    enum cluster_static counted; /* CLUSTER_FITS unless that */
};

/* One request's per-node checks over nodes [lo, hi): the cluster's lock is held by the
 * request's thread, and each node's memo is written by the one thread checking it. */
struct decide_job {
    struct cluster *c;
    const struct args *a;
    const struct ledger_shape *s;
    struct decision *d;
    int want_score;
};

static void decide_range(void *arg, size_t lo, size_t hi)
{
    const struct decide_job *j = arg;
    struct ledger *l = j->c->ledger;
    for (size_t i = lo; i < hi; i++) {
        struct decision *d = &j->d[i];
        if (d->node && j->want_score)
            ledger_check_memo(l, d->node, j->s, &d->fit); /* replicas of one curve reuse it */
        else if (d->node)
            ledger_check_fit(l, d->node, j->s, &d->fit);
        else
            memset(&d->fit, 0, sizeof(d->fit));
        d->counted = CLUSTER_FITS;
        int unres = 0;
        if (d->node && d->fit.fits &&
            (d->counted = cluster_static_fits_locked(j->c, &j->a->pod, d->node, &unres, NULL, 0)) != CLUSTER_FITS) {
            d->fit.fits = 0;
            d->fit.unresolvable = unres;
            d->fit.score = 0;
        }
    }
}

static enum fs_err decide(struct cluster *c, const struct args *a, int64_t now, struct ext_counters *ctr,
                          struct decision *d, int want_score)
{
    struct ledger_shape s;
    int from_pred = 0;
    ledger_advance(c->ledger, now);
    enum fs_err rc = cluster_pod_shape(c, &a->pod, now, &s, &from_pred);
    if (rc != FS_OK)
        return rc;
    if (ctr) {
        if (from_pred)
            ctr->from_prediction++;
        else
            ctr->from_requests++;
    }
    struct ledger *l = c->ledger;
    int memo_hit = a->arena && c->names_memo.nodes && c->names_memo.topology == l->topology &&
                   c->names_memo.n == a->n && c->names_memo.len == a->arena_len &&
                   memcmp(c->names_memo.names, a->arena, a->arena_len) == 0;
    for (size_t i = 0; i < a->n; i++)
        d[i].node = memo_hit ? c->names_memo.nodes[i] : ledger_node_get(l, a->names[i]);
    if (!memo_hit && a->arena) {
        /* remember this list; without memory for it, simply no memo */
        char *nm = malloc(a->arena_len ? a->arena_len : 1);
        struct ledger_node **nn = malloc((a->n ? a->n : 1) * sizeof(*nn));
        if (nm && nn) {
            memcpy(nm, a->arena, a->arena_len);
            for (size_t i = 0; i < a->n; i++)
                nn[i] = d[i].node;
            free(c->names_memo.names);
            free(c->names_memo.nodes);
            c->names_memo.names = nm;
            c->names_memo.nodes = nn;
            c->names_memo.len = a->arena_len;
            c->names_memo.n = a->n;
            c->names_memo.topology = l->topology;
            nm = NULL;
            nn = NULL;
        }
        free(nm);
        free(nn);
    }
    struct decide_job job = {c, a, &s, d, want_score};
    /* chunks of 512 nodes: small requests stay on the caller's thread */
    fs_pool_for(c->pool, a->n, 512, decide_range, &job);
    ledger_shape_release(&s);
    return FS_OK;
}

/* What filter and prioritize share: parses the request and decides every node. Returns the
 * decisions with the cluster's lock held (the caller unlocks), or NULL with the error reply
 * in *out and the lock not held. ctr counts a bad request; model_ctr (filter's, so that a
 * pod counts once) how the pod was modelled. */
static struct decision *request_decide(struct cluster *c, const char *body, size_t len, int64_t now,
                                       struct ext_counters *ctr, struct ext_counters *model_ctr, int want_score,
                                       struct args *a, struct ext_reply *out)
{
    char err[256];
    struct decision *d;
    enum fs_err rc = args_parse(body, len, a, err, sizeof(err));
    if (rc != FS_OK) {
        if (rc == FS_ENOMEM)
            ext_error_reply(500, "out of memory", out);
        else
            bad_request(ctr, err, out);
        return NULL;
    }
    if (!(d = malloc((a->n ? a->n : 1) * sizeof(*d)))) { /* decide sets every entry */
        ext_error_reply(500, "out of memory", out);
        return NULL;
    }
    cluster_lock(c);
    rc = decide(c, a, now, model_ctr, d, want_score);
    if (rc != FS_OK) {
        cluster_unlock(c);
        free(d);
        snprintf(err, sizeof(err), "cannot model the pod: %s", fs_strerror(rc));
        ext_error_reply(rc == FS_ENOMEM ? 500 : 400, err, out);
        return NULL;
    }
    return d;
}

void ext_filter(struct cluster *c, const char *body, size_t len, int64_t now, struct ext_counters *ctr,
                struct ext_reply *out)
{
    struct args a;
    struct sb b = {0};
    memset(out, 0, sizeof(*out));
    struct decision *d = request_decide(c, body, len, now, ctr, ctr, 0, &a, out);
    if (!d)
        goto out;
    /* passing nodes */
    if (a.name_len)
        sb_reserve(&b, a.arena_len + 3 * a.n + 128);
    sb_puts(&b, a.cache_mode ? "{\"NodeNames\":[" : "{\"Nodes\":{\"items\":[");
    int first = 1;
    for (size_t i = 0; i < a.n; i++) {
        if (!d[i].node || !d[i].fit.fits)
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
            } else if (!d[i].fit.fits) {
                unresolvable = d[i].fit.unresolvable;
                ledger_fit_message(c->ledger, &d[i].fit, now, msg, sizeof(msg));
            } else {
                continue;
            }
            if (unresolvable != pass)
                continue;
            if (pass == 0 && ctr)
                ctr->rejections[!d[i].node                             ? EXT_R_UNKNOWN_NODE
                                : d[i].counted == CLUSTER_TOO_MANY_PODS    ? EXT_R_PODS
                                : d[i].counted == CLUSTER_COUNTED_RESOURCE ? EXT_R_EXTENDED
                                                                           : (enum ext_reason)d[i].fit.res]++;
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
    sb_puts(&b, "},\"Error\":\"\"}");
    sb_to_reply(&b, 200, out);
out:
    free(d);
    args_release(&a);
}

void ext_prioritize(struct cluster *c, const char *body, size_t len, int64_t now, struct ext_counters *ctr,
                    struct ext_reply *out)
{
    struct args a;
    struct sb b = {0};
    memset(out, 0, sizeof(*out));
    struct decision *d = request_decide(c, body, len, now, ctr, NULL, 1, &a, out);
    if (!d)
        goto out;
    cluster_unlock(c);
    if (a.name_len) /* {"Host":"","Score":10}, per node */
        sb_reserve(&b, a.arena_len + 24 * a.n + 2);
    sb_puts(&b, "[");
    for (size_t i = 0; i < a.n; i++) {
        if (i)
            sb_putn(&b, ",", 1);
        sb_putn(&b, "{\"Host\":", 8);
        put_name(&b, &a, i);
        sb_putn(&b, ",\"Score\":", 9);
        sb_put_int(&b, d[i].node && d[i].fit.fits ? d[i].fit.score : 0);
        sb_putn(&b, "}", 1);
    }
    sb_puts(&b, "]");
    sb_to_reply(&b, 200, out);
out:
    free(d);
    args_release(&a);
}

/* ---- bind ---- */

static int copy_field(const json_t *root, const char *key, char *dst, size_t len, int required)
{
    const json_t *v = ci_get(root, key);
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
    json_t *root = load(body, len, err, sizeof(err));
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
