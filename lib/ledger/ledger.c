/* The reservation ledger (see ledger.h). Ring slot of absolute step k is k % n_steps; the
 * valid steps are [base, base + n_steps). Every node's ring always equals the sum of its
 * claims' shapes over those steps, node->bmax holds the ring's maximum per block (block slot
 * of absolute block b is b % n_blocks, over the block's valid steps only) and node->peak is
 * the maximum of those. Checks are exact: block maxima only decide which steps need reading. */
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

/* slot_of for a step inside the horizon, without a division (the hot paths' version). */
static inline size_t ring_slot(const struct ledger *l, int64_t step)
{
    size_t sl = (size_t)(step - l->base) + l->base_slot;
    return sl >= l->cfg.n_steps ? sl - l->cfg.n_steps : sl;
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

static int64_t blk_of(int64_t step)
{
    return floor_div(step, LEDGER_BLOCK);
}

static size_t bslot_of(const struct ledger *l, int64_t blk)
{
    int64_t n = l->n_blocks;
    int64_t m = blk % n;
    return (size_t)(m < 0 ? m + n : m);
}

/* The node's block maxima of r from block b0 on, contiguous for the n_blocks blocks a
 * horizon can touch (the ring of blocks is kept twice): [blk - b0] is block blk's. */
static inline const int64_t *node_bmax_from(const struct ledger *l, const struct ledger_node *n, int r, int64_t b0)
{
    return n->bmax + (size_t)r * l->bstride + bslot_of(l, b0);
}

/* The node's maximum of r over block blk (its valid steps); 0 outside the horizon. */
static inline int64_t node_bmax(const struct ledger *l, const struct ledger_node *n, int r, int64_t blk)
{
    return *node_bmax_from(l, n, r, blk);
}

/* The shape's maximum of r over block blk: at least each of its values in that block. */
static inline int64_t shape_bmax(const struct ledger_shape *s, int r, int64_t blk)
{
    if (s->flat)
        return blk >= s->blk_first ? s->flat_v[r] : 0;
    int64_t j = blk - s->blk_first;
    return j >= 0 && j < (int64_t)s->blk_n ? s->bmax[r][j] : 0;
}

/* The shape's minimum of r over its steps in block blk (0 outside the shape): at most each
 * of its values in that block. */
static inline int64_t shape_bmin(const struct ledger_shape *s, int r, int64_t blk)
{
    if (s->flat)
        return blk > s->blk_first ? s->flat_v[r] : 0;
    int64_t j = blk - s->blk_first;
    return j >= 0 && j < (int64_t)s->blk_n ? s->bmin[r][j] : 0;
}

/* Max of r over the ring's absolute steps [a, b) (inside the horizon); 0 when empty. */
static int64_t ring_max(const struct ledger *l, const struct ledger_node *n, int r, int64_t a, int64_t b)
{
    uint32_t steps = l->cfg.n_steps;
    const int64_t *ring = n->ring + (size_t)r * steps;
    size_t slot = a < b ? ring_slot(l, a) : 0;
    int64_t m = 0;
    for (int64_t k = a; k < b; k++) {
        m = ring[slot] > m ? ring[slot] : m;
        if (++slot == steps)
            slot = 0;
    }
    return m;
}

/* The valid steps [*a, *b) of block blk: its steps inside the horizon. */
static void block_range(const struct ledger *l, int64_t blk, int64_t *a, int64_t *b)
{
    *a = blk * LEDGER_BLOCK;
    *b = *a + LEDGER_BLOCK;
    if (*a < l->base)
        *a = l->base;
    if (*b > l->base + (int64_t)l->cfg.n_steps)
        *b = l->base + (int64_t)l->cfg.n_steps;
}

static void recompute_block(const struct ledger *l, struct ledger_node *n, int64_t blk)
{
    int64_t a, b;
    block_range(l, blk, &a, &b);
    size_t bs = bslot_of(l, blk);
    for (int r = 0; r < LEDGER_NRES; r++) {
        int64_t *row = n->bmax + (size_t)r * l->bstride;
        row[bs] = row[bs + l->n_blocks] = ring_max(l, n, r, a, b);
    }
}

/* After the ring changed over steps [from, to): their blocks, then the peak. */
static void recompute_blocks(const struct ledger *l, struct ledger_node *n, int64_t from, int64_t to)
{
    if (from < to)
        for (int64_t blk = blk_of(from); blk <= blk_of(to - 1); blk++)
            recompute_block(l, n, blk);
}

static void node_recompute_peak(const struct ledger *l, struct ledger_node *n)
{
    int64_t b0 = blk_of(l->base), b1 = blk_of(l->base + (int64_t)l->cfg.n_steps - 1);
    for (int r = 0; r < LEDGER_NRES; r++) {
        int64_t pk = 0;
        for (int64_t blk = b0; blk <= b1; blk++) {
            int64_t v = node_bmax(l, n, r, blk);
            pk = v > pk ? v : pk;
        }
        n->peak[r] = pk;
    }
}

int64_t ledger_block_max(const struct ledger *l, const struct ledger_node *n, enum curve_res r, int64_t blk)
{
    if ((unsigned)r >= LEDGER_NRES || blk < blk_of(l->base) || blk > blk_of(l->base + (int64_t)l->cfg.n_steps - 1))
        return 0;
    return node_bmax(l, n, r, blk);
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
    l->base_slot = slot_of(l, l->base);
    l->n_blocks = cfg->n_steps / LEDGER_BLOCK + 2; /* a horizon touches at most this many */
    /* a window starts at a slot < n_blocks and reads at most n_blocks + 3 entries from it */
    l->bstride = (2 * l->n_blocks + 3 + 7) & ~7u; /* whole cache lines per resource */
    lmap_init(&l->by_name);
    lmap_init(&l->claims);
    /* a node with its block maxima, what every check reads, in one slot; the ring (most of
     * the bytes: 5.6 KB at 240 steps) in another, read only where bounds do not decide */
    slab_init(&l->heads, sizeof(struct ledger_node) + (size_t)l->bstride * LEDGER_NRES * sizeof(int64_t));
    slab_init(&l->rings, (size_t)cfg->n_steps * LEDGER_NRES * sizeof(int64_t));
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

static void node_free(struct ledger *l, struct ledger_node *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->claims);
    slab_free(&l->rings, n->ring);
    slab_free(&l->heads, n); /* bmax lives in the node's slot */
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
        node_free(l, l->nodes[i]);
    free(l->nodes);
    slab_release(&l->heads);
    slab_release(&l->rings);
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
    l->base_slot = slot_of(l, nb);
    for (size_t i = 0; i < l->n_nodes; i++) {
        struct ledger_node *nd = l->nodes[i];
        for (int64_t k = from; k < to; k++)
            fill_step(l, nd, k);
        /* the new steps' blocks, and the first block, which lost its past steps */
        recompute_blocks(l, nd, from, to);
        if (from > nb)
            recompute_block(l, nd, blk_of(nb));
        node_recompute_peak(l, nd);
        nd->gen++;
    }
    l->generation++;
}

struct ledger_node *ledger_node_get(const struct ledger *l, const char *name)
{
    return lmap_get(&l->by_name, name);
}

void ledger_node_get_many(const struct ledger *l, const char *const *names, size_t n, struct ledger_node **out)
{
    lmap_get_many(&l->by_name, names, n, (void **)out);
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
    n = slab_alloc(&l->heads); /* zeroed, line 0 on one cache line */
    if (!n)
        goto out;
    n->bmax = (int64_t *)(n + 1);
    n->max_pods = -1;
    n->ring = slab_alloc(&l->rings);
    n->name = strdup(name);
    if (!n->ring || !n->name)
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
    node_free(l, n);
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
    recompute_blocks(l, n, lo, hi);
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
    node_free(l, n);
    l->topology++;
    l->generation++;
    return FS_OK;
}

void ledger_shape_release(struct ledger_shape *s)
{
    for (int r = 0; r < LEDGER_NRES; r++) {
        free(s->v[r]);
        free(s->bmax[r]);
        free(s->bmin[r]);
        free(s->win_ub[r]);
        free(s->win_lb[r]);
    }
    memset(s, 0, sizeof(*s));
}

static enum fs_err shape_copy(struct ledger_shape *dst, const struct ledger_shape *src)
{
    *dst = *src;
    for (int r = 0; r < LEDGER_NRES; r++)
        dst->v[r] = dst->bmax[r] = dst->bmin[r] = dst->win_ub[r] = dst->win_lb[r] = NULL;
    dst->win_nb = 0; /* a claim's shape is never checked */
    if (src->flat)
        return FS_OK;
    for (int r = 0; r < LEDGER_NRES; r++) {
        dst->v[r] = malloc(sizeof(int64_t) * (src->len ? src->len : 1));
        dst->bmax[r] = malloc(sizeof(int64_t) * (src->blk_n ? src->blk_n : 1));
        dst->bmin[r] = malloc(sizeof(int64_t) * (src->blk_n ? src->blk_n : 1));
        if (!dst->v[r] || !dst->bmax[r] || !dst->bmin[r]) {
            ledger_shape_release(dst);
            return FS_ENOMEM;
        }
        if (src->len)
            memcpy(dst->v[r], src->v[r], sizeof(int64_t) * src->len);
        if (src->blk_n) {
            memcpy(dst->bmax[r], src->bmax[r], sizeof(int64_t) * src->blk_n);
            memcpy(dst->bmin[r], src->bmin[r], sizeof(int64_t) * src->blk_n);
        }
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

/* Fills the shape's window data for the ledger's current base (see ledger.h). */
static enum fs_err shape_window(struct ledger_shape *s, const struct ledger *l)
{
    int64_t lo = s->first > l->base ? s->first : l->base, hi = l->base + l->cfg.n_steps;
    if (s->first + (int64_t)s->len < hi)
        hi = s->first + (int64_t)s->len;
    s->win_base = l->base;
    s->win_nb = 0;
    if (lo >= hi)
        return FS_OK; /* nothing to check: the general path answers at once */
    int64_t b0 = blk_of(lo), b1 = blk_of(hi - 1), a, b;
    uint32_t nb = (uint32_t)(b1 - b0 + 1), nb4 = (nb + 3) & ~3u;
    for (int r = 0; r < LEDGER_NRES; r++) {
        s->win_ub[r] = malloc(nb4 * sizeof(int64_t));
        s->win_lb[r] = malloc(nb4 * sizeof(int64_t));
        if (!s->win_ub[r] || !s->win_lb[r])
            return FS_ENOMEM;
        for (uint32_t j = 0; j < nb4; j++) {
            int64_t blk = b0 + j;
            block_range(l, blk, &a, &b);
            /* past the window: bounds no node's block maximum lifts above 0 */
            s->win_ub[r][j] = j < nb ? shape_bmax(s, r, blk) : INT64_MIN / 4;
            s->win_lb[r][j] = j < nb && a >= lo && b <= hi ? shape_bmin(s, r, blk) : INT64_MIN / 4;
        }
    }
    block_range(l, b0, &a, &b);
    s->win_edge0 = !(a >= lo && b <= hi);
    block_range(l, b1, &a, &b);
    s->win_edge1 = b1 != b0 && !(a >= lo && b <= hi);
    s->win_b0 = b0;
    s->win_slot0 = bslot_of(l, b0);
    s->win_nb = nb;
    s->win_nb4 = nb4;
    return FS_OK;
}

enum fs_err ledger_shape_init(struct ledger_shape *s, const struct ledger *l, const struct curve *c,
                              enum curve_band b, int64_t start_s)
{
    int64_t L = l->cfg.step_s;
    memset(s, 0, sizeof(*s));
    s->first = floor_div(start_s, L);
    s->blk_first = blk_of(s->first);
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
    s->blk_n = (uint32_t)(blk_of(s->first + len - 1) - s->blk_first + 1);
    for (int r = 0; r < LEDGER_NRES; r++) {
        s->bmax[r] = calloc(s->blk_n, sizeof(int64_t));
        s->bmin[r] = malloc(s->blk_n * sizeof(int64_t));
        if (!s->bmax[r] || !s->bmin[r]) {
            ledger_shape_release(s);
            return FS_ENOMEM;
        }
        for (uint32_t j = 0; j < s->blk_n; j++)
            s->bmin[r][j] = INT64_MAX;
        for (int64_t i = 0; i < len; i++) {
            int64_t j = blk_of(s->first + i) - s->blk_first;
            if (s->v[r][i] > s->bmax[r][j])
                s->bmax[r][j] = s->v[r][i];
            if (s->v[r][i] < s->bmin[r][j])
                s->bmin[r][j] = s->v[r][i];
        }
    }
    if (shape_window(s, l) != FS_OK) {
        ledger_shape_release(s);
        return FS_ENOMEM;
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

/* Checks read the window [lo, hi) (where the shape and the horizon overlap) block by block:
 * a block whose node maximum plus shape maximum cannot overflow the limit, or cannot raise the
 * peak found so far, is never read step by step. The results are those of a plain per-step
 * scan (the unit tests compare them on random rings). Shape values are never negative (the
 * curve parser and curve_init_flat see to it), so ring + shape >= ring at every step. */

/* What one pass over the block maxima of r in the window [lo, hi) tells (lo < hi). */
struct wpass {
    int64_t before;  /* exact maximum of the ring over the window */
    int64_t lower;   /* a value ring + shape reaches in the window */
    int64_t best;    /* the block with the highest bound on ring + shape */
    int64_t best_ub; /* that bound: node's block maximum + shape's block maximum */
};

/* Blocks whose valid steps all lie in the window give the ring's maximum from the block
 * maximum alone, and ring + shape reaches at least block maximum + the shape's block minimum
 * there (at the step where the ring peaks); the one or two edge blocks are read step by step
 * when they could raise the ring's maximum. */
static void window_pass(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s, int r,
                        int64_t lo, int64_t hi, struct wpass *o)
{
    int64_t b0 = blk_of(lo), b1 = blk_of(hi - 1), a, b;
    const int64_t *bm = node_bmax_from(l, n, r, b0);
    o->before = o->lower = o->best_ub = 0;
    o->best = b1 + 1;
    for (int64_t blk = b0; blk <= b1; blk++) {
        int64_t v = bm[blk - b0], ub = v + shape_bmax(s, r, blk);
        block_range(l, blk, &a, &b);
        if (a >= lo && b <= hi) {
            int64_t reach = v + shape_bmin(s, r, blk);
            o->before = v > o->before ? v : o->before;
            o->lower = reach > o->lower ? reach : o->lower;
        }
        if (ub > o->best_ub) {
            o->best_ub = ub;
            o->best = blk;
        }
    }
    for (int64_t blk = b0; blk <= b1; blk = blk == b1 ? b1 + 1 : b1) { /* b0, then b1 */
        block_range(l, blk, &a, &b);
        if ((a >= lo && b <= hi) || node_bmax(l, n, r, blk) <= o->before)
            continue;
        int64_t v = ring_max(l, n, r, a > lo ? a : lo, b < hi ? b : hi);
        o->before = v > o->before ? v : o->before;
    }
    if (o->before > o->lower)
        o->lower = o->before; /* shape values are never negative */
}

/* Exact maximum of ring + shape of r over the window's steps in block blk. */
static int64_t block_sum_max(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                             int r, int64_t blk, int64_t lo, int64_t hi)
{
    uint32_t steps = l->cfg.n_steps;
    const int64_t *ring = n->ring + (size_t)r * steps;
    int64_t a = blk * LEDGER_BLOCK, b = a + LEDGER_BLOCK, m = 0;
    a = a > lo ? a : lo;
    b = b < hi ? b : hi;
    size_t slot = ring_slot(l, a);
    for (int64_t k = a; k < b; k++) {
        int64_t t = ring[slot] + ledger_shape_at(s, (enum curve_res)r, k);
        m = t > m ? t : m;
        if (++slot == steps)
            slot = 0;
    }
    return m;
}

/* The maxima window_pass_fast gathers over the window's blocks j in [0, nb4) whose node
 * block maxima are v[j] (nb4 a multiple of four): of the node's block maximum over blocks
 * wholly in the window (those with a lower bound, lbs[j] >= 0), of node + shape's lower
 * bounds and of their upper bounds (the padding past the window counts for none). The
 * hottest loop of a 5,000-node prioritize: four blocks at a time, with AVX2 where the CPU
 * has it (a copy of the function for it is chosen when the program loads). */
struct wmax {
    int64_t before, lower, best_ub;
};

typedef int64_t v4i64 __attribute__((vector_size(32)));

/* macros, not functions: a function returning a 32-byte vector would change the ABI */
#define V4_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define V4_MAX(a, b) (((a) & ((a) > (b))) | ((b) & ~((a) > (b))))
/* v's lanes in the order a, b, c, d (the fuzz targets build with clang) */
#if defined(__clang__)
#define V4_SHUF(v, a, b, c, d) __builtin_shufflevector((v), (v), a, b, c, d)
#else
#define V4_SHUF(v, a, b, c, d) __builtin_shuffle((v), (v4i64){a, b, c, d})
#endif
/* v's four lanes all set to their maximum */
#define V4_HMAX(v)                                                                 \
    do {                                                                           \
        v4i64 t_ = V4_SHUF((v), 2, 3, 0, 1);                                       \
        (v) = V4_MAX((v), t_);                                                     \
        t_ = V4_SHUF((v), 1, 0, 3, 2);                                             \
        (v) = V4_MAX((v), t_);                                                     \
    } while (0)

#if defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void window_run(const int64_t *v, const int64_t *ubs, const int64_t *lbs, size_t nb4, struct wmax *o)
{
    v4i64 zero = {0, 0, 0, 0}, before = zero, lower = zero, best = zero;
    for (size_t j = 0; j < nb4; j += 4) {
        v4i64 x, lb, ub;
        V4_LOAD(x, v + j);
        V4_LOAD(lb, lbs + j);
        V4_LOAD(ub, ubs + j);
        v4i64 in = x & (lb >= zero), low = x + lb, up = x + ub;
        before = V4_MAX(before, in);
        lower = V4_MAX(lower, low);
        best = V4_MAX(best, up);
    }
    V4_HMAX(before);
    V4_HMAX(lower);
    V4_HMAX(best);
    o->before = before[0];
    o->lower = lower[0];
    o->best_ub = best[0];
}

/* node_bmax_from at the shape window's first block, without a division (hot paths) */
static inline const int64_t *window_bmax(const struct ledger *l, const struct ledger_node *n,
                                         const struct ledger_shape *s, int r)
{
    return n->bmax + (size_t)r * l->bstride + s->win_slot0;
}

/* window_pass from the shape's window data (valid when s->win_base == l->base): the same
 * results, with the per-block shape bounds read from arrays and no block arithmetic. */
static void window_pass_fast(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                             int r, int64_t lo, int64_t hi, struct wpass *o)
{
    /* the window's blocks, contiguous from its first slot (the ring of blocks is kept twice) */
    const int64_t *bm = window_bmax(l, n, s, r);
    struct wmax w;
    window_run(bm, s->win_ub[r], s->win_lb[r], s->win_nb4, &w);
    int64_t before = w.before;
    o->best = -1; /* not known here */
    o->best_ub = w.best_ub;
    for (int e = 0; e < 2; e++) { /* the partial edge blocks, step by step if they matter */
        if (!(e == 0 ? s->win_edge0 : s->win_edge1))
            continue;
        size_t j = e == 0 ? 0 : s->win_nb - 1;
        int64_t blk = s->win_b0 + (int64_t)j, a, b;
        if (bm[j] <= before)
            continue;
        block_range(l, blk, &a, &b);
        int64_t x = ring_max(l, n, r, a > lo ? a : lo, b < hi ? b : hi);
        before = x > before ? x : before;
    }
    o->before = before;
    o->lower = w.lower > before ? w.lower : before;
}

/* Exact maximum of ring + shape of r over [lo, hi) after window_pass: nothing to read when
 * the best bound is already reached, else the best block first, then only blocks whose
 * bound beats the best so far. */
static int64_t window_max_sum(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                              int r, int64_t lo, int64_t hi, const struct wpass *p)
{
    int64_t b0 = blk_of(lo), b1 = blk_of(hi - 1), m = p->lower;
    if (p->best_ub <= m)
        return m;
    int64_t v = block_sum_max(l, n, s, r, p->best, lo, hi);
    m = v > m ? v : m;
    const int64_t *bm = node_bmax_from(l, n, r, b0);
    for (int64_t blk = b0; blk <= b1; blk++) {
        if (blk == p->best || bm[blk - b0] + shape_bmax(s, r, blk) <= m)
            continue;
        v = block_sum_max(l, n, s, r, blk, lo, hi);
        m = v > m ? v : m;
    }
    return m;
}

/* Finds the window's block (index from the window's first) whose bound is window_pass_fast's
 * best, keeps it in p->best, and asks for its ring steps: window_max_sum_fast reads them. */
static void prefetch_best_block(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                                int r, int64_t lo, struct wpass *p)
{
    const int64_t *bm = window_bmax(l, n, s, r), *ubs = s->win_ub[r];
    size_t nb = s->win_nb, j;
    for (j = 0; j < nb - 1; j++)
        if (bm[j] + ubs[j] == p->best_ub)
            break;
    int64_t a = (s->win_b0 + (int64_t)j) * LEDGER_BLOCK;
    size_t slot = ring_slot(l, a > lo ? a : lo);
    const int64_t *row = n->ring + (size_t)r * l->cfg.n_steps;
    p->best = (int64_t)j;
    __builtin_prefetch(row + slot);
    if (slot + LEDGER_BLOCK - 1 < l->cfg.n_steps) /* a block's steps may cross a line */
        __builtin_prefetch(row + slot + LEDGER_BLOCK - 1);
}

/* window_max_sum after window_pass_fast and prefetch_best_block (which found p->best): the
 * same, over the window's block arrays (the block with the highest bound first: it often
 * holds the maximum, and then no other block is read). */
static int64_t window_max_sum_fast(const struct ledger *l, const struct ledger_node *n,
                                   const struct ledger_shape *s, int r, int64_t lo, int64_t hi,
                                   const struct wpass *p)
{
    int64_t m = p->lower;
    if (p->best_ub <= m)
        return m;
    const int64_t *bm = window_bmax(l, n, s, r), *ubs = s->win_ub[r];
    size_t nb = s->win_nb, best = (size_t)p->best;
    int64_t v = block_sum_max(l, n, s, r, s->win_b0 + (int64_t)best, lo, hi);
    m = v > m ? v : m;
    for (size_t j = 0; j < nb; j++) {
        if (j == best || bm[j] + ubs[j] <= m)
            continue;
        v = block_sum_max(l, n, s, r, s->win_b0 + (int64_t)j, lo, hi);
        m = v > m ? v : m;
    }
    return m;
}

/* The first step of [lo, hi) where r overflows (hi if none): a step with demand whose
 * reserved amount plus demand exceeds the limit. */
static int64_t first_overflow(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s,
                              int r, int64_t lo, int64_t hi, int64_t *have, int64_t *need)
{
    const int64_t *ring = n->ring + (size_t)r * l->cfg.n_steps;
    int64_t limit = n->limit[r];
    if (lo >= hi)
        return hi;
    int64_t b0 = blk_of(lo);
    const int64_t *bm = node_bmax_from(l, n, r, b0);
    for (int64_t blk = b0; blk <= blk_of(hi - 1); blk++) {
        if (bm[blk - b0] + shape_bmax(s, r, blk) <= limit)
            continue;
        int64_t a = blk * LEDGER_BLOCK, b = a + LEDGER_BLOCK;
        a = a > lo ? a : lo;
        b = b < hi ? b : hi;
        size_t slot = ring_slot(l, a);
        for (int64_t k = a; k < b; k++, slot = slot + 1 == l->cfg.n_steps ? 0 : slot + 1) {
            int64_t h = ring[slot], d = ledger_shape_at(s, (enum curve_res)r, k);
            if (d > 0 && h + d > limit) {
                *have = h;
                *need = d;
                return k;
            }
        }
    }
    return hi;
}

/* The pod's own maximum of r over [lo, hi). */
static int64_t shape_window_max(const struct ledger_shape *s, int r, int64_t lo, int64_t hi)
{
    if (lo >= hi)
        return 0;
    if (s->flat)
        return s->flat_v[r];
    int64_t m = 0;
    for (int64_t k = lo; k < hi; k++)
        m = s->v[r][k - s->first] > m ? s->v[r][k - s->first] : m;
    return m;
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
    /* the window passes of all resources first, then the ring lines of their best blocks
     * asked for at once: the exact maxima below read them, and their misses overlap */
    struct wpass wp[LEDGER_NRES];
    int have_wp[LEDGER_NRES] = {0};
    if (want_score && !s->flat && s->win_nb && s->win_base == l->base && lo < hi)
        for (int r = 0; r < LEDGER_NRES; r++) {
            if (n->limit[r] == INT64_MAX || n->limit[r] == 0 || s->peak[r] <= 0)
                continue;
            window_pass_fast(l, n, s, r, lo, hi, &wp[r]);
            have_wp[r] = 1;
            if (wp[r].best_ub > wp[r].lower)
                prefetch_best_block(l, n, s, r, lo, &wp[r]);
        }
    int64_t best_step = INT64_MAX;
    for (int r = 0; r < LEDGER_NRES; r++) {
        int64_t limit = n->limit[r];
        /* an unlimited resource never fails and does not score; zero demand neither */
        if (limit == INT64_MAX || s->peak[r] <= 0)
            continue;
        if (s->peak[r] > limit && shape_window_max(s, r, lo, hi) > limit)
            out->unresolvable = 1;
        if (n->peak[r] + s->peak[r] > limit) {
            int64_t have = 0, need = 0;
            int64_t k = first_overflow(l, n, s, r, lo, hi, &have, &need);
            if (k < hi && k < best_step) { /* the earliest overflow; on a tie the first resource */
                best_step = k;
                out->fits = 0;
                out->res = (enum curve_res)r;
                out->step = k;
                out->reserved = have;
                out->need = need;
                out->limit = limit;
            }
        }
        if (!want_score)
            continue;
        if (limit == 0) {
            out->rise = out->after = 1;
            continue;
        }
        int64_t before = 0, after = 0;
        if (lo < hi && s->flat && lo == l->base) {
            /* a flat shape from the horizon's start spans all of it: the peak is the answer */
            before = n->peak[r];
            after = before + s->flat_v[r];
        } else if (lo < hi) {
            if (have_wp[r]) {
                before = wp[r].before;
                after = window_max_sum_fast(l, n, s, r, lo, hi, &wp[r]);
            } else {
                struct wpass w;
                window_pass(l, n, s, r, lo, hi, &w);
                before = w.before;
                after = s->flat ? before + s->flat_v[r] : window_max_sum(l, n, s, r, lo, hi, &w);
            }
        }
        double rise = (double)(after - before) / (double)limit;
        double aft = (double)after / (double)limit;
        if (rise > out->rise)
            out->rise = rise;
        if (aft > out->after)
            out->after = aft;
    }
    if (out->fits)
        out->unresolvable = 0;
    out->score = out->fits && want_score ? score_of(out->rise, out->after) : 0;
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

void ledger_prefetch(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s, int what)
{
    const char *p = (const char *)n;
    if (what & LEDGER_PREFETCH_FIT)
        __builtin_prefetch(p);
    if (what & LEDGER_PREFETCH_MEMO)
        __builtin_prefetch(p + 64);
    if (!(what & LEDGER_PREFETCH_WINDOW) || !s->win_nb || s->win_base != l->base)
        return;
    const int64_t *bm = (const int64_t *)(n + 1); /* n->bmax, without waiting for n */
    for (int r = 0; r < LEDGER_NRES; r++) {
        if (s->peak[r] <= 0)
            continue;
        /* the window's lines: rows start on a line, 8 blocks per line */
        const int64_t *row = bm + (size_t)r * l->bstride;
        for (size_t b = s->win_slot0 & ~(size_t)7; b < s->win_slot0 + s->win_nb; b += 8)
            __builtin_prefetch(row + b);
    }
}

int ledger_memo_holds(const struct ledger *l, const struct ledger_node *n, const struct ledger_shape *s)
{
    return n->memo.valid && n->memo.base == l->base && n->memo.shape_hash == s->hash && s->hash != 0;
}

void ledger_check_memo(struct ledger *l, struct ledger_node *n, const struct ledger_shape *s,
                       struct ledger_fit *out)
{
    if (n->memo.gen == n->gen && ledger_memo_holds(l, n, s)) {
        memset(out, 0, sizeof(*out));
        out->fits = n->memo.fits;
        out->unresolvable = n->memo.unresolvable;
        out->res = (enum curve_res)n->memo.res;
        out->score = n->memo.score;
        return;
    }
    check(l, n, s, out, 1);
    n->memo.gen = n->gen;
    n->memo.base = l->base;
    n->memo.shape_hash = s->hash;
    n->memo.fits = (uint8_t)out->fits;
    n->memo.unresolvable = (uint8_t)out->unresolvable;
    n->memo.res = (uint8_t)out->res;
    n->memo.score = (int8_t)out->score;
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
