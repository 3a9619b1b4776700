/* The reservation ledger (see ledger.h). Ring slot of absolute step k is k % n_steps; the
 * valid steps are [base, base + n_steps). Every node's ring always equals the sum of its
 * claims' shapes over those steps, and node->peak is the ring's maximum. */
#include "ledger/ledger.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static size_t slot_of(const struct ledger *l, int64_t step)
{
    int64_t n = l->cfg.n_steps;
    int64_t m = step % n;
    return (size_t)(m < 0 ? m + n : m);
}

int64_t ledger_shape_at(const struct ledger_shape *s, enum curve_res r, int64_t step)
{
    if (step < s->first)
        return 0;
    if (s->flat)
        return s->flat_v[r];
    if (step - s->first >= (int64_t)s->len)
        return 0;
    return s->v[r][step - s->first];
}

static void node_recompute_peak(const struct ledger *l, struct ledger_node *n)
{
    uint32_t steps = l->cfg.n_steps;
    for (int r = 0; r < LEDGER_NRES; r++) {
        const int64_t *ring = n->ring + (size_t)r * steps;
        int64_t pk = 0;
        for (uint32_t i = 0; i < steps; i++)
            if (ring[i] > pk)
                pk = ring[i];
        n->peak[r] = pk;
    }
}

static void compute_limits(const struct ledger *l, struct ledger_node *n)
{
    for (int r = 0; r < LEDGER_NRES; r++) {
        if (n->alloc[r] < 0) {
            n->limit[r] = INT64_MAX;
            continue;
        }
        double keep = ceil((double)n->alloc[r] * l->cfg.headroom[r]);
        n->limit[r] = n->alloc[r] - (int64_t)keep;
        if (n->limit[r] < 0)
            n->limit[r] = 0;
    }
}

enum fs_err ledger_new(const struct ledger_config *cfg, int64_t now, struct ledger **out)
{
    *out = NULL;
    if (!cfg || cfg->step_s == 0 || cfg->n_steps == 0 || cfg->n_steps > LEDGER_MAX_STEPS)
        return FS_EINVAL;
    for (int r = 0; r < LEDGER_NRES; r++)
        if (!(cfg->headroom[r] >= 0 && cfg->headroom[r] < 1))
            return FS_EINVAL;
    struct ledger *l = calloc(1, sizeof(*l));
    if (!l)
        return FS_ENOMEM;
    l->cfg = *cfg;
    l->base = floor_div(now, cfg->step_s);
    lmap_init(&l->by_name);
    lmap_init(&l->claims);
    *out = l;
    return FS_OK;
}

static void claim_free(struct ledger_claim *c)
{
    if (!c)
        return;
    free(c->key);
    ledger_shape_release(&c->shape);
    free(c);
}

static void node_free(struct ledger_node *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->ring);
    free(n->claims);
    free(n);
}

void ledger_free(struct ledger *l)
{
    if (!l)
        return;
    size_t pos = 0;
    void *v;
    while (lmap_next(&l->claims, &pos, NULL, &v))
        claim_free(v);
    for (size_t i = 0; i < l->n_nodes; i++)
        node_free(l->nodes[i]);
    free(l->nodes);
    lmap_release(&l->by_name);
    lmap_release(&l->claims);
    free(l);
}

/* Fills the slot of absolute step k from the node's claims. */
static void fill_step(const struct ledger *l, struct ledger_node *n, int64_t k)
{
    size_t slot = slot_of(l, k);
    for (int r = 0; r < LEDGER_NRES; r++) {
        int64_t sum = 0;
        for (size_t i = 0; i < n->n_claims; i++)
            sum += ledger_shape_at(&n->claims[i]->shape, r, k);
        n->ring[(size_t)r * l->cfg.n_steps + slot] = sum;
    }
}

void ledger_advance(struct ledger *l, int64_t now)
{
    int64_t nb = floor_div(now, l->cfg.step_s);
    if (nb <= l->base)
        return;
    int64_t n = l->cfg.n_steps;
    /* steps [max(old end, new base), new end) are new */
    int64_t from = l->base + n, to = nb + n;
    if (from < nb)
        from = nb;
    l->base = nb;
    for (size_t i = 0; i < l->n_nodes; i++) {
        struct ledger_node *nd = l->nodes[i];
        for (int64_t k = from; k < to; k++)
            fill_step(l, nd, k);
        node_recompute_peak(l, nd);
        nd->gen++;
    }
    l->generation++;
}

struct ledger_node *ledger_node_get(const struct ledger *l, const char *name)
{
    return lmap_get(&l->by_name, name);
}

enum fs_err ledger_node_set(struct ledger *l, const char *name, const int64_t alloc[LEDGER_NRES])
{
    struct ledger_node *n = ledger_node_get(l, name);
    enum fs_err rc = FS_ENOMEM;
    if (n) {
        memcpy(n->alloc, alloc, sizeof(n->alloc));
        compute_limits(l, n);
        n->gen++;
        l->generation++;
        return FS_OK;
    }
    if (!name || !*name)
        return FS_EINVAL;
    n = calloc(1, sizeof(*n));
    if (!n)
        goto out;
    n->name = strdup(name);
    n->ring = calloc((size_t)l->cfg.n_steps * LEDGER_NRES, sizeof(int64_t));
    if (!n->name || !n->ring)
        goto out;
    memcpy(n->alloc, alloc, sizeof(n->alloc));
    compute_limits(l, n);
    if (l->n_nodes == l->cap_nodes) {
        size_t cap = l->cap_nodes ? l->cap_nodes * 2 : 16;
        struct ledger_node **nodes = realloc(l->nodes, cap * sizeof(*nodes));
        if (!nodes)
            goto out;
        l->nodes = nodes;
        l->cap_nodes = cap;
    }
    if ((rc = lmap_put(&l->by_name, name, n)) != FS_OK)
        goto out;
    n->index = l->n_nodes;
    l->nodes[l->n_nodes++] = n;
    l->topology++;
    n = NULL; /* the ledger owns it now */
    l->generation++;
    rc = FS_OK;
out:
    node_free(n);
    return rc;
}

/* Adds sign * shape to the node's ring over the horizon. */
static void apply(struct ledger *l, struct ledger_node *n, const struct ledger_shape *s, int sign)
{
    int64_t lo = s->first > l->base ? s->first : l->base;
    int64_t hi = l->base + l->cfg.n_steps;
    if (!s->flat && s->first + (int64_t)s->len < hi)
        hi = s->first + (int64_t)s->len;
    for (int64_t k = lo; k < hi; k++) {
        size_t slot = slot_of(l, k);
        for (int r = 0; r < LEDGER_NRES; r++)
            n->ring[(size_t)r * l->cfg.n_steps + slot] += sign * ledger_shape_at(s, r, k);
    }
    node_recompute_peak(l, n);
    n->gen++;
}

static void claim_detach(struct ledger *l, struct ledger_claim *c)
{
    struct ledger_node *n = c->node;
    apply(l, n, &c->shape, -1);
    n->claims[c->node_pos] = n->claims[--n->n_claims];
    n->claims[c->node_pos]->node_pos = c->node_pos;
    c->node = NULL;
}

static enum fs_err claim_attach(struct ledger *l, struct ledger_claim *c, struct ledger_node *n)
{
    if (n->n_claims == n->cap_claims) {
        size_t cap = n->cap_claims ? n->cap_claims * 2 : 8;
        struct ledger_claim **cl = realloc(n->claims, cap * sizeof(*cl));
        if (!cl)
            return FS_ENOMEM;
        n->claims = cl;
        n->cap_claims = cap;
    }
    c->node = n;
    c->node_pos = n->n_claims;
    n->claims[n->n_claims++] = c;
    apply(l, n, &c->shape, +1);
    return FS_OK;
}

enum fs_err ledger_node_remove(struct ledger *l, const char *name)
{
    struct ledger_node *n = lmap_del(&l->by_name, name);
    if (!n)
        return FS_ENOTFOUND;
    for (size_t i = 0; i < n->n_claims; i++) {
        struct ledger_claim *c = n->claims[i];
        lmap_del(&l->claims, c->key);
        claim_free(c);
    }
    l->nodes[n->index] = l->nodes[--l->n_nodes];
    l->nodes[n->index]->index = n->index;
    node_free(n);
    l->topology++;
    l->generation++;
    return FS_OK;
}

void ledger_shape_release(struct ledger_shape *s)
{
    for (int r = 0; r < LEDGER_NRES; r++)
        free(s->v[r]);
    memset(s, 0, sizeof(*s));
}

static enum fs_err shape_copy(struct ledger_shape *dst, const struct ledger_shape *src)
{
    *dst = *src;
    for (int r = 0; r < LEDGER_NRES; r++)
        dst->v[r] = NULL;
    if (src->flat)
        return FS_OK;
    for (int r = 0; r < LEDGER_NRES; r++) {
        dst->v[r] = malloc(sizeof(int64_t) * (src->len ? src->len : 1));
        if (!dst->v[r]) {
            ledger_shape_release(dst);
            return FS_ENOMEM;
        }
        if (src->len)
            memcpy(dst->v[r], src->v[r], sizeof(int64_t) * src->len);
    }
    return FS_OK;
}

/* FNV-1a over everything that decides a check's outcome, so that a memo keyed by it is
 * only reused for the very same demand at the very same steps. */
static uint64_t fnv(uint64_t h, int64_t v)
{
    uint64_t x = (uint64_t)v;
    for (int i = 0; i < 8; i++) {
        h ^= (x >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    return h;
}

static void shape_hash(struct ledger_shape *s)
{
    uint64_t h = 14695981039346656037ull;
    h = fnv(h, s->first);
    h = fnv(h, s->len);
    h = fnv(h, s->flat);
    for (int r = 0; r < LEDGER_NRES; r++) {
        h = fnv(h, s->flat_v[r]);
        for (uint32_t i = 0; !s->flat && i < s->len; i++)
            h = fnv(h, s->v[r][i]);
    }
    s->hash = h ? h : 1; /* 0 never names a shape */
}

enum fs_err ledger_shape_init(struct ledger_shape *s, const struct ledger *l, const struct curve *c,
                              enum curve_band b, int64_t start_s)
{
    int64_t L = l->cfg.step_s;
    memset(s, 0, sizeof(*s));
    s->first = floor_div(start_s, L);
    if (c->flat) {
        s->flat = 1;
        for (int r = 0; r < LEDGER_NRES; r++)
            s->flat_v[r] = s->peak[r] = c->flat_value[r];
        shape_hash(s);
        return FS_OK;
    }
    if (c->n_steps == 0 || c->step_s == 0)
        return FS_EINVAL;
    int64_t end = start_s + c->duration_s; /* exclusive */
    if (end <= start_s)
        end = start_s + 1; /* a zero-length prediction still reserves its first step */
    int64_t last = floor_div(end - 1, L);
    int64_t len = last - s->first + 1;
    if (len <= 0 || len > (int64_t)CURVE_MAX_STEPS * CURVE_MAX_STEP_S)
        return FS_ERANGE;
    s->len = (uint32_t)len;
    for (int r = 0; r < LEDGER_NRES; r++) {
        s->v[r] = calloc((size_t)len, sizeof(int64_t));
        if (!s->v[r]) {
            ledger_shape_release(s);
            return FS_ENOMEM;
        }
    }
    /* every curve step counts at its maximum in each ledger step it overlaps */
    for (uint32_t i = 0; i < c->n_steps; i++) {
        int64_t t0 = start_s + (int64_t)i * c->step_s;
        if (t0 >= end)
            break;
        int64_t t1 = t0 + c->step_s;
        if (t1 > end)
            t1 = end;
        int64_t k0 = floor_div(t0, L) - s->first, k1 = floor_div(t1 - 1, L) - s->first;
        for (int r = 0; r < LEDGER_NRES; r++) {
            int64_t v = c->v[b][r][i];
            for (int64_t k = k0; k <= k1; k++)
                if (v > s->v[r][k])
                    s->v[r][k] = v;
            if (v > s->peak[r])
                s->peak[r] = v;
        }
    }
    shape_hash(s);
    return FS_OK;
}

/* Score: mean of the dominant rise of the node's peak (how much this pod adds to the worst
 * moment of its window) and the dominant peak after placement, both relative to the limit;
 * 10 * (1 - mean), rounded, in 0..10. */
static int score_of(double rise, double after)
{
    double x = 10.0 * (1.0 - (rise + after) / 2.0);
    if (!(x > 0))
        return 0;
    if (x > 10)
        return 10;
    return (int)lround(x);
}

/* One resource of check(): the window [lo, hi) is at most two runs of contiguous ring
 * slots, each scanned by a tight loop over plain arrays (no per-step slot arithmetic, no
 * branches on the resource), which is what keeps prioritize at 5,000 nodes cheap. */
struct res_scan {
    int64_t before, after, need_max;
    int over; /* some step with demand > 0 overflows the limit */
};

static void scan_res(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s, int r,
                     int64_t lo, int64_t hi, struct res_scan *o)
{
    uint32_t steps = l->cfg.n_steps;
    const int64_t *ring = n->ring + (size_t)r * steps;
    int64_t limit = n->limit[r], before = 0, after = 0, need_max = 0;
    int over = 0;
    if (s->flat && lo == l->base) {
        before = n->peak[r]; /* the window is the whole horizon */
    } else {
        for (int64_t k = lo; k < hi;) {
            size_t slot = slot_of(l, k);
            size_t seg = (size_t)(hi - k) < steps - slot ? (size_t)(hi - k) : steps - slot;
            const int64_t *h = ring + slot;
            if (s->flat) {
                for (size_t i = 0; i < seg; i++)
                    before = h[i] > before ? h[i] : before;
            } else {
                const int64_t *nd = s->v[r] + (k - s->first);
                for (size_t i = 0; i < seg; i++) {
                    int64_t t = h[i] + nd[i];
                    before = h[i] > before ? h[i] : before;
                    after = t > after ? t : after;
                    need_max = nd[i] > need_max ? nd[i] : need_max;
                    over |= (nd[i] > 0) & (t > limit);
                }
            }
            k += (int64_t)seg;
        }
    }
    if (s->flat && lo < hi) {
        need_max = s->flat_v[r];
        after = before + need_max;
        over = need_max > 0 && after > limit;
    }
    o->before = before;
    o->after = after;
    o->need_max = need_max;
    o->over = over;
}

/* The first step of [lo, hi) where resource r overflows (only called when one does). */
static int64_t first_overflow(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                              int r, int64_t lo, int64_t hi, int64_t *have, int64_t *need)
{
    const int64_t *ring = n->ring + (size_t)r * l->cfg.n_steps;
    for (int64_t k = lo; k < hi; k++) {
        int64_t h = ring[slot_of(l, k)], d = s->flat ? s->flat_v[r] : s->v[r][k - s->first];
        if (d > 0 && h + d > n->limit[r]) {
            *have = h;
            *need = d;
            return k;
        }
    }
    return hi;
}

static void check(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                  struct ledger_fit *out, int want_score)
{
    uint32_t steps = l->cfg.n_steps;
    memset(out, 0, sizeof(*out));
    out->fits = 1;
    int64_t lo = s->first > l->base ? s->first : l->base;
    int64_t hi = l->base + steps;
    if (!s->flat && s->first + (int64_t)s->len < hi)
        hi = s->first + (int64_t)s->len;

    int fast = 1; /* the pod fits under the node's peak anywhere: no per-step fit check */
    for (int r = 0; r < LEDGER_NRES; r++)
        if (n->limit[r] != INT64_MAX && n->peak[r] + s->peak[r] > n->limit[r])
            fast = 0;
    if (fast && !want_score)
        return; /* fits everywhere; no score asked for */
    int64_t best_step = INT64_MAX;
    for (int r = 0; r < LEDGER_NRES; r++) {
        /* an unlimited resource never fails and does not score; zero demand neither */
        if (n->limit[r] == INT64_MAX || s->peak[r] <= 0)
            continue;
        struct res_scan sc;
        scan_res(l, n, s, r, lo, hi, &sc);
        if (sc.need_max > n->limit[r])
            out->unresolvable = 1;
        if (sc.over) {
            int64_t have = 0, need = 0;
            int64_t k = first_overflow(l, n, s, r, lo, hi, &have, &need);
            if (k < best_step) { /* the earliest overflow; on a tie the first resource */
                best_step = k;
                out->fits = 0;
                out->res = (enum curve_res)r;
                out->step = k;
                out->reserved = have;
                out->need = need;
                out->limit = n->limit[r];
            }
        }
        if (n->limit[r] == 0) {
            out->rise = out->after = 1;
            continue;
        }
        double rise = (double)(sc.after - sc.before) / (double)n->limit[r];
        double aft = (double)sc.after / (double)n->limit[r];
        if (rise > out->rise)
            out->rise = rise;
        if (aft > out->after)
            out->after = aft;
    }
    if (out->fits)
        out->unresolvable = 0;
    out->score = out->fits ? score_of(out->rise, out->after) : 0;
}

void ledger_check(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                  struct ledger_fit *out)
{
    check(l, n, s, out, 1);
}

void ledger_check_fit(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                      struct ledger_fit *out)
{
    check(l, n, s, out, 0);
}

void ledger_check_memo(struct ledger *l, struct ledger_node *n, const struct ledger_shape *s,
                       struct ledger_fit *out)
{
    if (n->memo.valid && n->memo.gen == n->gen && n->memo.base == l->base && n->memo.shape_hash == s->hash &&
        s->hash != 0) {
        *out = n->memo.fit;
        return;
    }
    check(l, n, s, out, 1);
    n->memo.gen = n->gen;
    n->memo.base = l->base;
    n->memo.shape_hash = s->hash;
    n->memo.fit = *out;
    n->memo.valid = 1;
}

const struct ledger_claim *ledger_claim_get(const struct ledger *l, const char *key)
{
    return lmap_get(&l->claims, key);
}

enum fs_err ledger_claim(struct ledger *l, const char *key, const char *node, const struct ledger_shape *s,
                         int flags, struct ledger_fit *fit)
{
    enum fs_err rc = FS_ENOMEM;
    struct ledger_fit local;
    struct ledger_claim *c = NULL;
    struct ledger_node *n = ledger_node_get(l, node);
    if (!fit)
        fit = &local;
    memset(fit, 0, sizeof(*fit));
    if (!n)
        return FS_ENOTFOUND;
    if (!key || !*key)
        return FS_EINVAL;
    struct ledger_claim *old = lmap_get(&l->claims, key);
    struct ledger_node *old_node = old ? old->node : NULL;
    /* check without the old claim: a revised curve replaces it, it does not add to it */
    if (old)
        claim_detach(l, old);
    if (!(flags & LEDGER_FORCE)) {
        ledger_check(l, n, s, fit);
        if (!fit->fits) {
            rc = FS_ECONFLICT;
            goto out;
        }
    }
    c = calloc(1, sizeof(*c));
    if (!c || !(c->key = strdup(key)) || shape_copy(&c->shape, s) != FS_OK)
        goto out;
    if ((rc = claim_attach(l, c, n)) != FS_OK)
        goto out;
    if ((rc = lmap_put(&l->claims, key, c)) != FS_OK) {
        claim_detach(l, c);
        goto out;
    }
    c = NULL; /* the ledger owns it now */
    if (old) {
        claim_free(old);
        old = NULL;
    }
    l->generation++;
    rc = FS_OK;
out:
    if (old && claim_attach(l, old, old_node) != FS_OK) {
        /* cannot restore: drop it rather than keep a claim that the ring does not hold */
        lmap_del(&l->claims, key);
        claim_free(old);
        l->generation++;
    }
    claim_free(c);
    return rc;
}

enum fs_err ledger_release(struct ledger *l, const char *key)
{
    struct ledger_claim *c = lmap_del(&l->claims, key);
    if (!c)
        return FS_ENOTFOUND;
    claim_detach(l, c);
    claim_free(c);
    l->generation++;
    return FS_OK;
}

int64_t ledger_reserved(const struct ledger *l, const struct ledger_node *n, enum curve_res r, int64_t t)
{
    int64_t k = floor_div(t, l->cfg.step_s);
    if (k < l->base || k >= l->base + l->cfg.n_steps || (unsigned)r >= LEDGER_NRES)
        return 0;
    return n->ring[(size_t)r * l->cfg.n_steps + slot_of(l, k)];
}

void ledger_format_amount(enum curve_res r, int64_t v, char *buf, size_t len)
{
    static const char *const units[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
    if (r == CURVE_CPU) {
        snprintf(buf, len, "%lldm", (long long)v);
        return;
    }
    int u = 0;
    double x = (double)v;
    while (x >= 1024 && u < 5) {
        x /= 1024;
        u++;
    }
    const char *suffix = r == CURVE_NET ? "/s" : "";
    if (u == 0)
        snprintf(buf, len, "%lld%s", (long long)v, suffix);
    else
        snprintf(buf, len, "%.1f%s%s", x, units[u], suffix);
}

void ledger_fit_message(const struct ledger *l, const struct ledger_fit *f, int64_t now, char *buf, size_t len)
{
    char have[32], need[32], lim[32];
    if (f->fits) {
        snprintf(buf, len, "fits");
        return;
    }
    int64_t off = f->step * (int64_t)l->cfg.step_s - now;
    if (off < 0)
        off = 0;
    ledger_format_amount(f->res, f->reserved, have, sizeof(have));
    ledger_format_amount(f->res, f->need, need, sizeof(need));
    ledger_format_amount(f->res, f->limit, lim, sizeof(lim));
    long long h = off / 3600, m = (off % 3600) / 60, s = off % 60;
    char when[32];
    if (h)
        snprintf(when, sizeof(when), "+%lldh%02lldm%02llds", h, m, s);
    else if (m)
        snprintf(when, sizeof(when), "+%lldm%02llds", m, s);
    else
        snprintf(when, sizeof(when), "+%llds", s);
    snprintf(buf, len, "%s: %s reserved + %s for this pod > %s allowed at %s%s", curve_res_name(f->res), have,
             need, lim, when, f->unresolvable ? " (the pod alone exceeds the node)" : "");
}
