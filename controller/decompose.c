/* Recursive decomposition of a MicroTask's work: how many children, which work ranges, which
 * names, and what each child becomes. Pure and deterministic (see decompose.h); sizes are
 * balanced so that sibling ranges differ by at most one unit and tile the parent's range. */
#include "decompose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *decompose_verdict_reason(enum decompose_verdict v)
{
    switch (v) {
    case DECOMPOSE_SPLIT: return "Split";
    case DECOMPOSE_LEAF_FITS: return "LeafFits";
    case DECOMPOSE_LEAF_DEPTH: return "DepthLimit";
    case DECOMPOSE_LEAF_MIN_UNITS: return "MinUnitsLimit";
    case DECOMPOSE_LEAF_LEAVES: return "LeafLimit";
    case DECOMPOSE_LEAF_FIXED: return "FixedCostTooLarge";
    }
    return "Unknown";
}

static int bad_number(double x)
{
    return !isfinite(x) || x < 0;
}

enum fs_err decompose_check(const struct decompose_estimate *e, const struct decompose_limits *l,
                            char *err, size_t errlen)
{
    const char *why = NULL;
    if (bad_number(e->fixed_s) || bad_number(e->s_per_unit))
        why = "duration estimate must be finite and not negative";
    else if (bad_number(e->fixed_cpu_milli) || bad_number(e->cpu_milli_per_unit))
        why = "cpu estimate must be finite and not negative";
    else if (bad_number(e->fixed_mem_bytes) || bad_number(e->mem_bytes_per_unit))
        why = "memory estimate must be finite and not negative";
    else if (!isfinite(l->target_s) || l->target_s <= 0)
        why = "target duration must be greater than zero";
    else if (l->max_cpu_milli < 0 || l->max_mem_bytes < 0)
        why = "max resources must not be negative";
    else if (l->max_fan_out < 2 || l->max_fan_out > DECOMPOSE_MAX_FANOUT)
        why = "max fan-out must be between 2 and 1000";
    else if (l->max_depth > DECOMPOSE_MAX_DEPTH)
        why = "max depth must be at most 8";
    else if (l->max_leaves < 1)
        why = "max leaves must be at least 1";
    else if (l->min_units < 1)
        why = "min units must be at least 1";
    if (why && err && errlen)
        snprintf(err, errlen, "%s", why);
    return why ? FS_EINVAL : FS_OK;
}

/* Fewest parts such that fixed + per * ceil(units / parts) <= limit: 1 when it already fits,
 * 0 when no number of parts can help (the fixed part alone exceeds the limit). When even one
 * unit per part is too much, splitting as far as possible is still the best: return units. */
static uint64_t parts_needed(double fixed, double per, double limit, int64_t units)
{
    if (fixed + per * (double)units <= limit)
        return 1;
    if (per <= 0 || fixed >= limit)
        return 0;
    double umax = floor((limit - fixed) / per);
    if (umax < 1)
        return (uint64_t)units;
    double parts = ceil((double)units / umax);
    return parts >= (double)units ? (uint64_t)units : (uint64_t)parts;
}

enum decompose_verdict decompose_judge(const struct decompose_estimate *e,
                                       const struct decompose_limits *l, int64_t units,
                                       uint32_t *fan_out)
{
    uint64_t need = 1;
    int fixable = 0, fits = 1;
    struct { double fixed, per, limit; } dims[3] = {
        {e->fixed_s, e->s_per_unit, l->target_s},
        {e->fixed_cpu_milli, e->cpu_milli_per_unit, (double)l->max_cpu_milli},
        {e->fixed_mem_bytes, e->mem_bytes_per_unit, (double)l->max_mem_bytes},
    };
    if (fan_out)
        *fan_out = 1;
    for (int i = 0; i < 3; i++) {
        if (i > 0 && dims[i].limit <= 0)
            continue; /* no resource limit */
        uint64_t p = parts_needed(dims[i].fixed, dims[i].per, dims[i].limit, units);
        if (p == 1)
            continue;
        fits = 0;
        if (p == 0)
            continue;
        fixable = 1;
        if (p > need)
            need = p;
    }
    if (fits)
        return DECOMPOSE_LEAF_FITS;
    if (!fixable)
        return DECOMPOSE_LEAF_FIXED;
    if (l->max_depth == 0)
        return DECOMPOSE_LEAF_DEPTH;
    int64_t by_units = units / l->min_units;
    if (by_units < 2)
        return DECOMPOSE_LEAF_MIN_UNITS;
    if (l->max_leaves < 2)
        return DECOMPOSE_LEAF_LEAVES;
    uint64_t k = need;
    if (k > l->max_fan_out)
        k = l->max_fan_out;
    if (k > (uint64_t)by_units)
        k = (uint64_t)by_units;
    if (k > l->max_leaves)
        k = l->max_leaves;
    if (fan_out)
        *fan_out = (uint32_t)k;
    return DECOMPOSE_SPLIT;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void decompose_child_name(const char *parent, uint32_t index, char *buf, size_t len)
{
    char suffix[24];
    int sn = snprintf(suffix, sizeof(suffix), "-%u", index);
    size_t plen = strlen(parent);
    size_t cap = len - 1 < DECOMPOSE_NAME_MAX ? len - 1 : DECOMPOSE_NAME_MAX;
    if (plen + (size_t)sn <= cap) {
        snprintf(buf, len, "%s%s", parent, suffix);
        return;
    }
    /* shortened parent + hash of the whole parent name keeps names distinct and stable */
    char tail[40];
    int tn = snprintf(tail, sizeof(tail), "-%08x%s", fnv1a(parent), suffix);
    size_t keep = cap > (size_t)tn ? cap - (size_t)tn : 0;
    if (keep > plen)
        keep = plen;
    /* a name part must end alphanumeric: drop trailing '-' and '.' of the shortened parent */
    while (keep > 0 && (parent[keep - 1] == '-' || parent[keep - 1] == '.'))
        keep--;
    if (keep == 0) /* tail starts with '-': a name cannot */
        snprintf(buf, len, "t%s", tail);
    else
        snprintf(buf, len, "%.*s%s", (int)keep, parent, tail);
}

static void fill_prediction(struct decompose_child *c, const struct decompose_estimate *e)
{
    c->pred_s = e->fixed_s + e->s_per_unit * (double)c->units;
    c->pred_cpu_milli = e->fixed_cpu_milli + e->cpu_milli_per_unit * (double)c->units;
    c->pred_mem_bytes = e->fixed_mem_bytes + e->mem_bytes_per_unit * (double)c->units;
}

static enum fs_err check_task(const struct decompose_task *t, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!t->name || !t->name[0] || strlen(t->name) > DECOMPOSE_NAME_MAX)
        why = "task name must have 1 to 63 characters";
    else if (t->units < 1)
        why = "work units must be at least 1";
    else if (t->offset < 0 || t->offset > INT64_MAX - t->units)
        why = "work offset must be between 0 and the end of the int64 range";
    else if (t->path && strlen(t->path) >= DECOMPOSE_PATH_MAX - 5)
        why = "task path is too long";
    if (why && err && errlen)
        snprintf(err, errlen, "%s", why);
    return why ? FS_EINVAL : FS_OK;
}

enum fs_err decompose_children(const struct decompose_task *t, const struct decompose_estimate *e,
                               const struct decompose_limits *l, enum decompose_verdict *verdict,
                               struct decompose_child **out, size_t *n, char *err, size_t errlen)
{
    enum fs_err rc;
    struct decompose_child *kids = NULL;
    uint32_t k = 1;

    *out = NULL;
    *n = 0;
    if ((rc = check_task(t, err, errlen)) != FS_OK || (rc = decompose_check(e, l, err, errlen)) != FS_OK)
        return rc;
    enum decompose_verdict v = decompose_judge(e, l, t->units, &k);
    if (verdict)
        *verdict = v;
    if (v != DECOMPOSE_SPLIT)
        return FS_OK;

    kids = calloc(k, sizeof(*kids));
    if (!kids)
        return FS_ENOMEM;
    int64_t base = t->units / k, extra = t->units % k, off = t->offset;
    uint32_t lbase = l->max_leaves / k, lextra = l->max_leaves % k;
    for (uint32_t i = 0; i < k; i++) {
        struct decompose_child *c = &kids[i];
        decompose_child_name(t->name, i, c->name, sizeof(c->name));
        if (t->path && t->path[0])
            snprintf(c->path, sizeof(c->path), "%s.%u", t->path, i);
        else
            snprintf(c->path, sizeof(c->path), "%u", i);
        c->index = i;
        c->count = k;
        c->depth = t->depth + 1;
        c->offset = off;
        c->units = base + ((int64_t)i < extra ? 1 : 0);
        off += c->units;
        c->limits = *l;
        c->limits.max_depth = l->max_depth - 1;
        c->limits.max_leaves = lbase + (i < lextra ? 1 : 0);
        /* a child never fans out wider than its leaf budget (the CRD checks maxLeaves >= maxFanOut) */
        if (c->limits.max_fan_out > c->limits.max_leaves)
            c->limits.max_fan_out = c->limits.max_leaves < 2 ? 2 : c->limits.max_leaves;
        c->verdict = decompose_judge(e, &c->limits, c->units, NULL);
        fill_prediction(c, e);
    }
    *out = kids;
    *n = k;
    return FS_OK;
}

struct leaf_list {
    struct decompose_child *v;
    size_t n, cap;
};

static enum fs_err leaves_push(struct leaf_list *ll, const struct decompose_child *c)
{
    if (ll->n == ll->cap) {
        size_t cap = ll->cap ? ll->cap * 2 : 16;
        struct decompose_child *v = realloc(ll->v, cap * sizeof(*v));
        if (!v)
            return FS_ENOMEM;
        ll->v = v;
        ll->cap = cap;
    }
    ll->v[ll->n++] = *c;
    return FS_OK;
}

static enum fs_err leaves_walk(struct leaf_list *ll, const struct decompose_child *self,
                               const struct decompose_estimate *e, char *err, size_t errlen)
{
    enum fs_err rc;
    struct decompose_child *kids = NULL;
    size_t n = 0;
    enum decompose_verdict v;
    struct decompose_task t = {self->name, self->path, self->depth, self->offset, self->units};

    rc = decompose_children(&t, e, &self->limits, &v, &kids, &n, err, errlen);
    if (rc != FS_OK)
        goto out;
    if (n == 0) {
        rc = leaves_push(ll, self);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = leaves_walk(ll, &kids[i], e, err, errlen)) != FS_OK)
            goto out;
out:
    free(kids);
    return rc;
}

enum fs_err decompose_leaves(const struct decompose_task *t, const struct decompose_estimate *e,
                             const struct decompose_limits *l, struct decompose_child **out,
                             size_t *n, char *err, size_t errlen)
{
    enum fs_err rc;
    struct leaf_list ll = {0};
    struct decompose_child root = {0};

    *out = NULL;
    *n = 0;
    if ((rc = check_task(t, err, errlen)) != FS_OK || (rc = decompose_check(e, l, err, errlen)) != FS_OK)
        return rc;
    snprintf(root.name, sizeof(root.name), "%s", t->name);
    snprintf(root.path, sizeof(root.path), "%s", t->path ? t->path : "");
    root.count = 1;
    root.depth = t->depth;
    root.offset = t->offset;
    root.units = t->units;
    root.limits = *l;
    root.verdict = decompose_judge(e, l, t->units, NULL);
    fill_prediction(&root, e);
    rc = leaves_walk(&ll, &root, e, err, errlen);
    if (rc != FS_OK) {
        free(ll.v);
        return rc;
    }
    *out = ll.v;
    *n = ll.n;
    return FS_OK;
}
