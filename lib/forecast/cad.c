/* Contextual anomaly detector (CAD OSE's method): see cad.h. Left sides are interned
 * in a hash table and indexed by fact, so a step touches only the left sides sharing a
 * fact with the left group; right sides are bit masks over the 2 * bits sensor facts. */
#include "forecast/cad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* v with room for element n (of `size` bytes): v itself, or a copy twice as large
 * (`first` elements at first) and *cap updated; NULL when out of memory (v intact) */
static void *room(void *v, int n, int *cap, size_t size, int first)
{
    if (n < *cap)
        return v;
    int ncap = *cap ? 2 * *cap : first;
    void *nv = realloc(v, size * (size_t)ncap);
    if (nv)
        *cap = ncap;
    return nv;
}

static enum fs_err ids_push(struct cad_ids *a, int v)
{
    int *nv = room(a->v, a->n, &a->cap, sizeof(int), 8);
    if (!nv)
        return FS_ENOMEM;
    a->v = nv;
    a->v[a->n++] = v;
    return FS_OK;
}

static uint64_t facts_hash(const int *f, int len)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < len; i++) {
        h ^= (uint64_t)(uint32_t)f[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

enum fs_err cad_init(struct cad *c, double lo, double hi, int bits, int rest, double base, int max_left,
                     int max_neurons)
{
    memset(c, 0, sizeof(*c));
    if (!isfinite(lo) || !isfinite(hi) || bits < 1 || bits > 16 || rest < 0 || !(base > 0 && base <= 1) ||
        max_left < 1 || max_neurons < 1)
        return FS_EINVAL;
    int nbins = 1 << bits;
    /* CAD OSE spreads the range over nbins - 1 steps: the top value has a bin of its own */
    c->lo = lo;
    c->step = hi > lo ? (hi - lo) / (nbins - 1) : 1.0;
    c->bits = bits;
    c->rest = rest;
    c->base = base;
    c->max_left = max_left;
    c->max_neurons = max_neurons;
    c->tabcap = 1024;
    c->tab = calloc((size_t)c->tabcap, sizeof(int));
    c->hist = malloc(sizeof(double) * (size_t)(rest > 0 ? rest : 1));
    if (!c->tab || !c->hist) {
        cad_release(c);
        return FS_ENOMEM;
    }
    /* the start counts as an incident: the first `rest` steps are learnt, not scored */
    for (int i = 0; i < rest; i++)
        c->hist[i] = 1;
    return FS_OK;
}

void cad_release(struct cad *c)
{
    for (int i = 0; i < c->nlsc; i++) {
        free(c->lsc[i].facts);
        free(c->lsc[i].links);
    }
    free(c->lsc);
    free(c->tab);
    free(c->ctx);
    for (int i = 0; i < c->ninv; i++)
        free(c->inv[i].v);
    free(c->inv);
    free(c->crossed.v);
    free(c->group.v);
    free(c->active.v);
    free(c->pool.v);
    free(c->cand);
    free(c->hist);
    memset(c, 0, sizeof(*c));
}

static enum fs_err tab_grow(struct cad *c)
{
    int cap = 2 * c->tabcap;
    int *t = calloc((size_t)cap, sizeof(int));
    if (!t)
        return FS_ENOMEM;
    for (int i = 0; i < c->nlsc; i++) {
        size_t j = c->lsc[i].hash & (size_t)(cap - 1);
        while (t[j])
            j = (j + 1) & (size_t)(cap - 1);
        t[j] = i + 1;
    }
    free(c->tab);
    c->tab = t;
    c->tabcap = cap;
    return FS_OK;
}

/* The id of the left side with these (sorted) facts, interned if new; -1 when the
 * memory is full (not learnt). */
static enum fs_err lsc_get(struct cad *c, const int *f, int len, int *id)
{
    uint64_t h = facts_hash(f, len);
    size_t j = h & (size_t)(c->tabcap - 1);
    for (; c->tab[j]; j = (j + 1) & (size_t)(c->tabcap - 1)) {
        struct cad_lsc *l = &c->lsc[c->tab[j] - 1];
        if (l->hash == h && l->len == len && memcmp(l->facts, f, sizeof(int) * (size_t)len) == 0) {
            *id = c->tab[j] - 1;
            return FS_OK;
        }
    }
    *id = -1;
    if (c->nlsc >= CAD_MAX_CONTEXTS)
        return FS_OK;
    struct cad_lsc *nl = room(c->lsc, c->nlsc, &c->caplsc, sizeof(*nl), 256);
    if (!nl)
        return FS_ENOMEM;
    c->lsc = nl;
    int maxf = f[len - 1];
    if (maxf >= c->ninv) {
        int n = maxf + 1 > 2 * c->ninv ? maxf + 1 : 2 * c->ninv;
        struct cad_ids *ni = realloc(c->inv, sizeof(*ni) * (size_t)n);
        if (!ni)
            return FS_ENOMEM;
        memset(ni + c->ninv, 0, sizeof(*ni) * (size_t)(n - c->ninv));
        c->inv = ni;
        c->ninv = n;
    }
    int *copy = malloc(sizeof(int) * (size_t)len);
    if (!copy)
        return FS_ENOMEM;
    memcpy(copy, f, sizeof(int) * (size_t)len);
    int nid = c->nlsc;
    for (int i = 0; i < len; i++)
        if (ids_push(&c->inv[f[i]], nid) != FS_OK) {
            for (int k = 0; k < i; k++) /* undo: the index holds only interned sides */
                c->inv[f[k]].n--;
            free(copy);
            return FS_ENOMEM;
        }
    c->lsc[nid] = (struct cad_lsc){.facts = copy, .len = len, .hash = h};
    c->tab[j] = nid + 1;
    c->nlsc++;
    *id = nid;
    if (2 * c->nlsc > c->tabcap)
        return tab_grow(c);
    return FS_OK;
}

/* The context (left side l, right side r), created (with `zero`) if new; *added tells. */
static enum fs_err ctx_get(struct cad *c, int l, uint32_t r, int zero, int *id, int *added)
{
    struct cad_lsc *s = &c->lsc[l];
    *added = 0;
    for (int i = 0; i < s->nlinks; i++)
        if (s->links[i].rmask == r) {
            *id = s->links[i].ctx;
            return FS_OK;
        }
    *id = -1;
    if (c->nctx >= CAD_MAX_CONTEXTS)
        return FS_OK;
    struct cad_ctx *nc = room(c->ctx, c->nctx, &c->capctx, sizeof(*nc), 256);
    if (!nc)
        return FS_ENOMEM;
    c->ctx = nc;
    struct cad_link *nl = room(s->links, s->nlinks, &s->caplinks, sizeof(*nl), 2);
    if (!nl)
        return FS_ENOMEM;
    s->links = nl;
    c->ctx[c->nctx] = (struct cad_ctx){.uses = 0, .zero = zero};
    s->links[s->nlinks++] = (struct cad_link){.rmask = r, .ctx = c->nctx};
    *id = c->nctx++;
    *added = 1;
    return FS_OK;
}

/* a candidate: the left side's facts that are in the group, and the right mask */
static enum fs_err cand_add(struct cad *c, const struct cad_lsc *l, uint32_t r)
{
    int off = c->pool.n, a = 0, b = 0;
    while (a < l->len && b < c->group.n) {
        if (l->facts[a] < c->group.v[b]) {
            a++;
        } else if (l->facts[a] > c->group.v[b]) {
            b++;
        } else {
            if (ids_push(&c->pool, l->facts[a]) != FS_OK)
                return FS_ENOMEM;
            a++;
            b++;
        }
    }
    struct cad_cand *nc = room(c->cand, c->ncand, &c->capcand, sizeof(*nc), 16);
    if (!nc)
        return FS_ENOMEM;
    c->cand = nc;
    int len = c->pool.n - off;
    c->cand[c->ncand++] = (struct cad_cand){
        .off = off, .len = len, .rmask = r, .hash = facts_hash(c->pool.v + off, len) * 31 + r};
    return FS_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* most used first; among equals the older context */
static int cmp_uses(const void *a, const void *b, void *arg)
{
    const struct cad_ctx *ctx = arg;
    int x = *(const int *)a, y = *(const int *)b;
    long ux = ctx[x].uses, uy = ctx[y].uses;
    if (ux != uy)
        return ux > uy ? -1 : 1;
    return x < y ? -1 : x > y;
}

enum fs_err cad_push(struct cad *c, double y, double *score)
{
    *score = 0;
    if (!isfinite(y))
        return FS_OK;
    enum fs_err rc = FS_OK;
    int nbins = 1 << c->bits;
    double q = floor((y - c->lo) / c->step);
    int bin = q < 0 ? 0 : q > nbins - 1 ? nbins - 1 : (int)q;
    uint32_t sens = 0; /* fact 2k + bit k of the bin */
    for (int k = 0; k < c->bits; k++)
        sens |= 1u << (2 * k + ((bin >> k) & 1));

    /* the whole transition from the last step: a zero-level context */
    int newflag = 0, newctx = -1;
    c->ncand = 0;
    c->pool.n = 0;
    if (c->group.n > 0) {
        int l, id, added;
        if ((rc = lsc_get(c, c->group.v, c->group.n, &l)) != FS_OK)
            return rc;
        if (l >= 0) {
            if ((rc = ctx_get(c, l, sens, 1, &id, &added)) != FS_OK)
                return rc;
            if (id >= 0 && !added)
                c->ctx[id].zero = 1;
            newflag = added || id < 0;
            newctx = added ? id : -1;
        } else {
            newflag = 1;
        }
    }
    uint64_t zero_hash = facts_hash(c->group.v, c->group.n) * 31 + sens;

    /* contexts whose left side held last step: did their right side come true? */
    long selected = 0;
    c->active.n = 0;
    for (int i = 0; i < c->crossed.n; i++) {
        struct cad_lsc *l = &c->lsc[c->crossed.v[i]];
        int full = l->hit == l->len;
        for (int k = 0; k < l->nlinks; k++) {
            int id = l->links[k].ctx;
            if (id == newctx)
                continue;
            uint32_t r = l->links[k].rmask, meet = r & sens;
            int seed = c->ctx[id].zero && newflag && meet && l->hit <= c->max_left;
            if (full) {
                selected++;
                if (meet == r) {
                    c->ctx[id].uses++;
                    if ((rc = ids_push(&c->active, id)) != FS_OK)
                        return rc;
                } else if (seed && (rc = cand_add(c, l, meet)) != FS_OK) {
                    return rc;
                }
            } else if (seed && (rc = cand_add(c, l, meet)) != FS_OK) {
                return rc;
            }
        }
    }
    double pct_active = selected > 0 ? (double)c->active.n / (double)selected : 0;

    /* the next left group: this step's sensor facts and the most used active contexts */
    if (c->active.n > 1)
        qsort_r(c->active.v, (size_t)c->active.n, sizeof(int), cmp_uses, c->ctx);
    int nact = c->active.n < c->max_neurons ? c->active.n : c->max_neurons;
    c->group.n = 0;
    for (int f = 0; f < 2 * c->bits; f++)
        if (sens & (1u << f) && (rc = ids_push(&c->group, f)) != FS_OK)
            return rc;
    int nsens = c->group.n;
    for (int i = 0; i < nact; i++)
        if ((rc = ids_push(&c->group, 2 * c->bits + c->active.v[i])) != FS_OK)
            return rc;
    if (nact > 1)
        qsort(c->group.v + nsens, (size_t)nact, sizeof(int), cmp_int);

    /* learn the candidates; the share of the distinct ones that were new */
    double pct_new = 0;
    if (newflag) {
        int nnew = 1;
        uint64_t *hs = malloc(sizeof(uint64_t) * (size_t)(c->ncand + 1));
        if (!hs)
            return FS_ENOMEM;
        hs[0] = zero_hash;
        for (int i = 0; i < c->ncand; i++) {
            struct cad_cand *cd = &c->cand[i];
            hs[i + 1] = cd->hash;
            int l, id, added;
            if ((rc = lsc_get(c, c->pool.v + cd->off, cd->len, &l)) != FS_OK)
                break;
            if (l < 0)
                continue;
            if ((rc = ctx_get(c, l, cd->rmask, 0, &id, &added)) != FS_OK)
                break;
            nnew += added;
        }
        qsort(hs, (size_t)c->ncand + 1, sizeof(uint64_t), cmp_u64);
        int uniq = 1;
        for (int i = 1; i <= c->ncand; i++)
            uniq += hs[i] != hs[i - 1];
        free(hs);
        if (rc != FS_OK)
            return rc;
        pct_new = fmin((double)nnew / uniq, 1);
    }

    /* the left sides the new group meets, for the next step */
    for (int i = 0; i < c->crossed.n; i++)
        c->lsc[c->crossed.v[i]].hit = 0;
    c->crossed.n = 0;
    for (int g = 0; g < c->group.n; g++) {
        int f = c->group.v[g];
        if (f >= c->ninv)
            continue;
        for (int k = 0; k < c->inv[f].n; k++) {
            struct cad_lsc *l = &c->lsc[c->inv[f].v[k]];
            if (l->hit == 0 && (rc = ids_push(&c->crossed, c->inv[f].v[k])) != FS_OK)
                return rc;
            l->hit++;
        }
    }

    double raw = (1 - pct_active + pct_new) / 2;
    double recent = 0;
    for (int i = 0; i < c->rest; i++)
        recent = fmax(recent, c->hist[i]);
    *score = recent < c->base ? raw : 0;
    if (c->rest > 0) {
        c->hist[c->hpos] = raw;
        c->hpos = (c->hpos + 1) % c->rest;
    }
    c->steps++;
    return FS_OK;
}
