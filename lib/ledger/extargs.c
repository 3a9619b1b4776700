/* ExtenderArgs parsing (see extargs.h). */
#include "ledger/extargs.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

#include "ledger/extproto.h"

/* A list of node names from one request body, shared by the requests that carry the same
 * bytes. Immutable once built, except nodes/topology, which are written under the cluster's
 * lock. */
struct ext_names {
    atomic_int refs;
    char *arena; /* the names, NUL-separated */
    size_t arena_len, n;
    const char **names;
    size_t *name_len;
    int plain;
    /* the body's bytes after the NodeNames key, when they hold nothing but the names and
     * the end of the request (what makes them comparable); NULL otherwise */
    char *tail;
    size_t tail_len;
    struct ledger_node **nodes;
    uint64_t topology;
};

struct ext_names *ext_names_ref(struct ext_names *nm)
{
    if (nm)
        atomic_fetch_add(&nm->refs, 1);
    return nm;
}

void ext_names_unref(struct ext_names *nm)
{
    if (!nm || atomic_fetch_sub(&nm->refs, 1) != 1)
        return;
    free(nm->arena);
    free(nm->names);
    free(nm->name_len);
    free(nm->tail);
    free(nm->nodes);
    free(nm);
}

void ext_args_release(struct ext_args *a)
{
    json_decref(a->root);
    ext_names_unref(a->nm);
    free(a->own_names);
    free(a->own_nodes);
    free(a->items);
    memset(a, 0, sizeof(*a));
}

json_t *ext_json_get_ci(const json_t *obj, const char *key)
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

json_t *ext_json_load(const char *body, size_t len, char *err, size_t errlen)
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

/* ---- streaming path for the scheduler's own request shape ----
 * kube-scheduler (nodeCacheCapable) sends {"Pod":{...},"Nodes":null,"NodeNames":["n1",...]}.
 * At 5,000 nodes, jansson's json_loadb of that body costs 1.4 ms (a tree of 5,000 strings);
 * yajl's event parser reads it in under 0.1 ms, so this path streams the body through yajl,
 * copies the node names into one arena, and hands only the Pod object's bytes (located by
 * yajl's byte offsets) to jansson. Any other shape (a NodeList in Nodes, a non-string
 * name, a repeated key, malformed JSON) declines, and the request takes the jansson path,
 * which answers it or reports what is wrong.
 *
 * The memo: when yajl reaches the NodeNames key at the top level, the parser is in the same
 * state whatever came before (inside the top-level object, after a key met once), so bytes
 * from there equal to the memo's tail parse to the memo's names and the end of the request:
 * the parse stops there and takes them. A memo's tail is only kept when, after the names,
 * nothing but the closing of the request followed (a key there, such as a Pod after the
 * names, would make the outcome depend on what came before). */
enum top_key { K_OTHER, K_POD, K_NODES, K_NODE_NAMES };

struct stream {
    yajl_handle h;
    const char *body;
    size_t len;
    size_t base;               /* where in body the chunk being parsed starts */
    int depth;                 /* open maps and arrays */
    enum top_key key;          /* the current top-level key */
    int seen[4];               /* top-level keys met, case-insensitively */
    int in_names;              /* inside the NodeNames array */
    size_t pod_start, pod_end; /* the Pod object's bytes: [start, end) */
    int have_names, names_plain, oom;
    size_t tail_start;          /* just after the NodeNames key; 0: none */
    int names_closed, tail_dirty; /* the names array ended; something but the end followed */
    struct ext_names *memo;     /* the cluster's memo when the parse began (a reference) */
    int memo_hit;
    char *arena;
    size_t arena_len;
    size_t *off; /* name offsets into the arena (it does not move: sized to the body) */
    size_t n, cap;
    size_t last_name_end; /* in body: just after the closing quote of the last name */
    int fragment;         /* the second half of a split list (see parse_split) */
    size_t names_end;     /* fragment: in body, just after the list's closing bracket */
};

/* Where the chunk being parsed has got to, in body. */
static size_t consumed(const struct stream *s)
{
    return s->base + yajl_get_bytes_consumed(s->h);
}

/* A value other than a string, map or array. At the top level: null stands for an absent
 * Nodes or NodeNames, and the values of other keys are ignored; a node name must be a
 * string; values inside the Pod are read by jansson afterwards. */
static int st_scalar(struct stream *s, int is_null)
{
    if (s->depth == 1) {
        s->tail_dirty |= s->names_closed;
        return s->key == K_OTHER || (is_null && (s->key == K_NODES || s->key == K_NODE_NAMES));
    }
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
    s->names_plain &= acc == 0;
    /* JSON escapes never shrink below the decoded length, so the arena (body length + 1)
     * always has room */
    s->off[s->n - 1] = s->arena_len;
    memcpy(s->arena + s->arena_len, v, len);
    s->arena_len += len;
    s->arena[s->arena_len++] = '\0';
    s->last_name_end = consumed(s);
    return 1;
}

static int st_map_key(void *ctx, const unsigned char *k, size_t len)
{
    struct stream *s = ctx;
    if (s->depth != 1)
        return 1;
    s->tail_dirty |= s->names_closed;
    s->key = len == 3 && strncasecmp((const char *)k, "Pod", 3) == 0          ? K_POD
             : len == 5 && strncasecmp((const char *)k, "Nodes", 5) == 0      ? K_NODES
             : len == 9 && strncasecmp((const char *)k, "NodeNames", 9) == 0 ? K_NODE_NAMES
                                                                             : K_OTHER;
    if (s->key != K_OTHER && s->seen[s->key]++)
        return 0; /* a repeated key: the jansson path */
    if (s->key == K_NODE_NAMES) {
        size_t at = consumed(s);
        if (at == 0 || at > s->len || s->body[at - 1] != '"')
            return 1; /* not where expected: no memo for this one */
        s->tail_start = at;
        const struct ext_names *m = s->memo;
        if (m && m->tail && m->tail_len == s->len - at && memcmp(m->tail, s->body + at, m->tail_len) == 0) {
            s->memo_hit = 1;
            return 0; /* stops the parse: the rest is the memo's */
        }
    }
    return 1;
}

static int st_start_map(void *ctx)
{
    struct stream *s = ctx;
    if (s->in_names)
        return 0;
    if (s->depth == 1) {
        s->tail_dirty |= s->names_closed;
        if (s->key == K_POD) {
            /* yajl has consumed the '{' that opens the Pod */
            s->pod_start = consumed(s) - 1;
            if (s->body[s->pod_start] != '{')
                return 0;
        } else if (s->key == K_NODES) {
            return 0; /* a NodeList: the jansson path */
        }
    }
    s->depth++;
    return 1;
}

static int st_end_map(void *ctx)
{
    struct stream *s = ctx;
    if (--s->depth == 1 && s->key == K_POD) {
        s->pod_end = consumed(s);
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
    if (s->depth == 1) {
        s->tail_dirty |= s->names_closed;
        if (s->key == K_NODE_NAMES)
            s->in_names = s->have_names = 1;
    }
    s->depth++;
    return 1;
}

static int st_end_array(void *ctx)
{
    struct stream *s = ctx;
    if (--s->depth == 1 && s->in_names) {
        s->in_names = 0;
        s->names_closed = 1;
        if (s->fragment) {
            s->names_end = consumed(s);
            return 0; /* what follows the list is the first half's to read */
        }
    }
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

/* The stream's names as a new ext_names (taking its arena), with the tail when comparable. */
static struct ext_names *names_from_stream(struct stream *s)
{
    struct ext_names *nm = calloc(1, sizeof(*nm));
    if (!nm)
        return NULL;
    atomic_init(&nm->refs, 1);
    nm->n = s->n;
    nm->plain = s->names_plain;
    nm->arena = s->arena;
    nm->arena_len = s->arena_len;
    s->arena = NULL;
    nm->names = malloc((s->n ? s->n : 1) * sizeof(*nm->names)); /* every entry is set below */
    nm->name_len = malloc((s->n ? s->n : 1) * sizeof(*nm->name_len));
    if (s->tail_start && !s->tail_dirty && (nm->tail = malloc(s->len - s->tail_start + 1))) {
        nm->tail_len = s->len - s->tail_start;
        memcpy(nm->tail, s->body + s->tail_start, nm->tail_len);
    }
    if (!nm->names || !nm->name_len) {
        ext_names_unref(nm);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++) {
        nm->names[i] = nm->arena + s->off[i];
        nm->name_len[i] = (i + 1 < s->n ? s->off[i + 1] : s->arena_len) - s->off[i] - 1;
    }
    return nm;
}

static void args_set_names(struct ext_args *a, struct ext_names *nm)
{
    a->nm = nm;
    a->cache_mode = 1;
    a->n = nm->n;
    a->names = nm->names;
    a->name_len = nm->name_len;
    a->names_plain = nm->plain;
    a->names_bytes = nm->arena_len;
}

/* ---- a long list read in two halves at once ----
 * yajl reads ~300 MB/s: the 65 KB of a 5,000-name request take ~0.2 ms, the largest serial
 * part of a filter. A list can be cut between two names: the body up to a `","` past its
 * middle goes to the request's parser and the rest, opened with a `[`, to a second parser on
 * another thread, which stops where the list ends. The cut is a guess (those bytes may lie
 * inside a string of the Pod, or the list may come first): it holds when the first parser,
 * at the cut, is inside the NodeNames list just after a name. Then the second half's names
 * follow the first's, and the first parser reads `]` and whatever followed the list, so the
 * request is checked whole as before; otherwise it reads on from the cut, as if no cut had
 * been tried. */
size_t ext_args_split_min = 16384;
static atomic_ulong splits;

unsigned long ext_args_splits(void)
{
    return atomic_load_explicit(&splits, memory_order_relaxed);
}

struct split_job {
    struct stream *first, *second;
    size_t cut; /* the comma between the halves */
    yajl_status st_first, st_second;
};

static void parse_half(void *arg, size_t lo, size_t hi)
{
    struct split_job *j = arg;
    for (size_t i = lo; i < hi; i++) {
        if (i == 0) {
            j->st_first = yajl_parse(j->first->h, (const unsigned char *)j->first->body, j->cut);
            continue;
        }
        struct stream *t = j->second;
        j->st_second = yajl_parse(t->h, (const unsigned char *)"[", 1);
        if (j->st_second == yajl_status_ok)
            j->st_second = yajl_parse(t->h, (const unsigned char *)t->body + t->base, t->len - t->base);
    }
}

/* The comma to cut at (0: none): not for short bodies, nor for the list the memo holds,
 * which is not parsed at all (kube-scheduler sends prioritize the list filter answered). */
static size_t split_point(const char *body, size_t len, const struct ext_names *memo)
{
    if (len < ext_args_split_min || len < 8)
        return 0;
    if (memo && memo->tail && memo->tail_len < len &&
        memcmp(memo->tail, body + len - memo->tail_len, memo->tail_len) == 0)
        return 0;
    const char *p = memmem(body + len / 2, len - len / 2, "\",\"", 3);
    return p ? (size_t)(p - body) + 1 : 0;
}

/* t's names after s's. 0, or -1 when out of memory. */
static int append_names(struct stream *s, const struct stream *t)
{
    if (s->n + t->n > s->cap) {
        size_t *o = realloc(s->off, (s->n + t->n) * sizeof(*o));
        if (!o)
            return -1;
        s->off = o;
        s->cap = s->n + t->n;
    }
    /* s's arena (body length + 1) holds both: each half's names fit in its own bytes */
    memcpy(s->arena + s->arena_len, t->arena, t->arena_len);
    for (size_t i = 0; i < t->n; i++)
        s->off[s->n + i] = s->arena_len + t->off[i];
    s->n += t->n;
    s->arena_len += t->arena_len;
    s->names_plain &= t->names_plain;
    return 0;
}

/* Parses s's body cut in two at `cut` (see above); the status as one yajl_parse of it. */
static yajl_status parse_split(struct cluster *c, struct stream *s, size_t cut)
{
    struct stream t = {.body = s->body, .len = s->len, .base = cut + 1, .names_plain = 1,
                       .depth = 1, .key = K_NODE_NAMES, .fragment = 1};
    struct split_job j = {s, &t, cut, yajl_status_error, yajl_status_error};
    yajl_status st;
    if (!(t.arena = malloc(s->len - cut + 1)) || !(t.h = yajl_alloc(&stream_callbacks, NULL, &t))) {
        st = yajl_parse(s->h, (const unsigned char *)s->body, s->len);
        goto out;
    }
    fs_pool_for(c ? c->pool : NULL, 2, 1, parse_half, &j);
    if ((st = j.st_first) != yajl_status_ok)
        goto out; /* malformed, or the memo's list: the second half does not matter */
    s->oom |= t.oom;
    int joined = !t.oom && j.st_second == yajl_status_client_canceled && t.names_end && s->in_names &&
                 s->depth == 2 && s->last_name_end == cut && s->n + t.n <= EXT_MAX_NODES;
    if (joined && append_names(s, &t) != 0) {
        s->oom = 1;
        st = yajl_status_error;
        goto out;
    }
    if (joined) {
        atomic_fetch_add_explicit(&splits, 1, memory_order_relaxed);
        s->base = t.names_end - 1;
        if ((st = yajl_parse(s->h, (const unsigned char *)"]", 1)) == yajl_status_ok) {
            s->base = t.names_end;
            st = yajl_parse(s->h, (const unsigned char *)s->body + t.names_end, s->len - t.names_end);
        }
    } else {
        s->base = cut;
        st = yajl_parse(s->h, (const unsigned char *)s->body + cut, s->len - cut);
    }
out:
    if (t.h)
        yajl_free(t.h);
    free(t.arena);
    free(t.off);
    return st;
}

/* 0: parsed into a; 1: not the expected shape or not valid JSON (use jansson); <0: out of memory. */
static int args_parse_stream(struct cluster *c, const char *body, size_t len, struct ext_args *a)
{
    struct stream s = {.body = body, .len = len, .names_plain = 1};
    int rc = 1;
    memset(a, 0, sizeof(*a));
    if (c) {
        cluster_lock(c);
        s.memo = ext_names_ref(c->names_memo);
        cluster_unlock(c);
    }
    if (!(s.arena = malloc(len + 1)) || !(s.h = yajl_alloc(&stream_callbacks, NULL, &s))) {
        rc = -1;
        goto out;
    }
    size_t cut = split_point(body, len, s.memo);
    yajl_status st = cut ? parse_split(c, &s, cut) : yajl_parse(s.h, (const unsigned char *)body, len);
    int ok = s.memo_hit ? st == yajl_status_client_canceled
                        : st == yajl_status_ok && yajl_complete_parse(s.h) == yajl_status_ok;
    yajl_free(s.h);
    if (s.oom) {
        rc = -1;
        goto out;
    }
    /* the root must have been an object holding a Pod object and a NodeNames array */
    if (!ok || !s.pod_end || (!s.have_names && !s.memo_hit))
        goto out;
    json_error_t jerr;
    if (!(a->root = json_loadb(body + s.pod_start, s.pod_end - s.pod_start, 0, &jerr)) ||
        cluster_pod_parse(a->root, &a->pod) != FS_OK)
        goto out; /* the jansson path reports what is wrong with it */
    if (s.memo_hit) {
        args_set_names(a, s.memo);
        s.memo = NULL;
        rc = 0;
        goto out;
    }
    struct ext_names *nm = names_from_stream(&s);
    if (!nm) {
        rc = -1;
        goto out;
    }
    args_set_names(a, nm);
    if (c && nm->tail) { /* the new memo */
        cluster_lock(c);
        ext_names_remember_locked(c, nm);
        cluster_unlock(c);
    }
    rc = 0;
out:
    ext_names_unref(s.memo);
    free(s.off);
    free(s.arena);
    if (rc != 0)
        ext_args_release(a);
    return rc;
}

enum fs_err ext_args_parse(struct cluster *c, const char *body, size_t len, struct ext_args *a, char *err,
                           size_t errlen)
{
    int fast = len <= EXT_MAX_BODY_DEFAULT ? args_parse_stream(c, body, len, a) : 1;
    if (fast == 0)
        return FS_OK;
    if (fast < 0) {
        snprintf(err, errlen, "out of memory");
        return FS_ENOMEM;
    }
    memset(a, 0, sizeof(*a));
    if (!(a->root = ext_json_load(body, len, err, errlen)))
        return FS_EPARSE;
    const json_t *pod = ext_json_get_ci(a->root, "Pod");
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
    const json_t *names = ext_json_get_ci(a->root, "NodeNames");
    const json_t *nodes = ext_json_get_ci(a->root, "Nodes");
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
    a->own_names = calloc(a->n ? a->n : 1, sizeof(*a->own_names));
    a->items = calloc(a->n ? a->n : 1, sizeof(*a->items));
    if (!a->own_names || !a->items)
        return FS_ENOMEM;
    a->names = a->own_names;
    for (size_t i = 0; i < a->n; i++) {
        if (a->cache_mode) {
            a->own_names[i] = json_string_value(json_array_get(names, i));
        } else {
            a->items[i] = json_array_get(items, i);
            a->own_names[i] = json_string_value(json_object_get(json_object_get(a->items[i], "metadata"), "name"));
        }
        if (!a->own_names[i] || !a->own_names[i][0]) {
            snprintf(err, errlen, "node %zu has no name", i);
            return FS_EPARSE;
        }
    }
    return FS_OK;
}

struct lookup_job {
    const struct ledger *l;
    const char *const *names;
    struct ledger_node **nodes;
};

static void lookup_range(void *arg, size_t lo, size_t hi)
{
    const struct lookup_job *j = arg;
    ledger_node_get_many(j->l, j->names + lo, hi - lo, j->nodes + lo);
}

struct ledger_node *const *ext_args_nodes(struct cluster *c, struct ext_args *a)
{
    struct ledger *l = c->ledger;
    struct ext_names *nm = a->nm;
    if (nm && nm->nodes && nm->topology == l->topology)
        return nm->nodes;
    struct ledger_node **nodes = nm ? nm->nodes : a->own_nodes;
    if (!nodes && !(nodes = malloc((a->n ? a->n : 1) * sizeof(*nodes))))
        return NULL;
    struct lookup_job job = {l, a->names, nodes};
    fs_pool_for(c->pool, a->n, 1024, lookup_range, &job); /* look-ups only read the ledger */
    if (nm) {
        nm->nodes = nodes;
        nm->topology = l->topology;
    } else {
        a->own_nodes = nodes;
    }
    return nodes;
}

const char *ext_args_compact_list(const struct ext_args *a, size_t *len)
{
    const struct ext_names *nm = a->nm;
    if (!nm || !nm->plain || !nm->tail)
        return NULL;
    /* `["a","b"]`: the names' bytes (the arena less its NULs), their quotes, the commas. Any
     * other encoding of the same plain names (an escape, a space) is longer. */
    size_t list = nm->n ? 2 + (nm->arena_len - nm->n) + 3 * nm->n - 1 : 2;
    if (nm->tail_len != list + 2 || nm->tail[0] != ':' || nm->tail[1] != '[' || nm->tail[list] != ']' ||
        nm->tail[list + 1] != '}')
        return NULL;
    *len = list;
    return nm->tail + 1;
}

/* The tail of a request whose NodeNames, the last key, hold names[i] for keep[i] set, as
 * kube-scheduler's encoder writes it: `:["a","b"]}`. The names are plain. */
static size_t subset_tail_len(const struct ext_args *a, const uint8_t *keep, size_t *kept)
{
    size_t len = 4, n = 0; /* :[ ]} */
    for (size_t i = 0; i < a->n; i++)
        if (keep[i]) {
            len += a->name_len[i] + 2 + (n > 0);
            n++;
        }
    *kept = n;
    return len;
}

struct ext_names *ext_names_subset(struct cluster *c, const struct ext_args *a, struct ledger_node *const *nodes,
                                   const uint8_t *keep)
{
    if (!a->nm || !a->names_plain || !a->name_len) /* the jansson path has no name_len */
        return NULL;
    size_t kept, tail_len = subset_tail_len(a, keep, &kept);
    if (kept == 0)
        return NULL;
    /* every name kept, and the request carried them in that very encoding: its own list */
    size_t list_len;
    if (kept == a->n && ext_args_compact_list(a, &list_len) && a->nm->nodes && a->nm->topology == c->ledger->topology)
        return ext_names_ref(a->nm);
    struct ext_names *nm = calloc(1, sizeof(*nm));
    if (!nm)
        return NULL;
    atomic_init(&nm->refs, 1);
    nm->n = kept;
    nm->plain = 1;
    nm->arena = malloc(tail_len);
    nm->names = malloc(kept * sizeof(*nm->names));
    nm->name_len = malloc(kept * sizeof(*nm->name_len));
    nm->tail = malloc(tail_len);
    nm->nodes = malloc(kept * sizeof(*nm->nodes));
    if (!nm->arena || !nm->names || !nm->name_len || !nm->tail || !nm->nodes) {
        ext_names_unref(nm);
        return NULL;
    }
    char *t = nm->tail, *ar = nm->arena;
    *t++ = ':';
    *t++ = '[';
    for (size_t i = 0, k = 0; i < a->n; i++) {
        if (!keep[i])
            continue;
        size_t l = a->name_len[i];
        if (k)
            *t++ = ',';
        *t++ = '"';
        memcpy(t, a->names[i], l);
        t += l;
        *t++ = '"';
        memcpy(ar, a->names[i], l);
        ar[l] = '\0';
        nm->names[k] = ar;
        nm->name_len[k] = l;
        nm->nodes[k] = nodes[i];
        ar += l + 1;
        k++;
    }
    *t++ = ']';
    *t++ = '}';
    nm->tail_len = (size_t)(t - nm->tail);
    nm->arena_len = (size_t)(ar - nm->arena);
    nm->topology = c->ledger->topology;
    return nm;
}

void ext_names_remember_locked(struct cluster *c, struct ext_names *nm)
{
    if (!nm || !nm->tail || c->names_memo == nm)
        return;
    ext_names_unref(c->names_memo);
    c->names_memo = ext_names_ref(nm);
}
