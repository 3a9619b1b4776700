/* Admission against the reservation ledger (see admit.h). */
#include "admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void claim_key(const char *ns, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, ADMIT_KEY_PREFIX "%s/%s", ns, name);
}

/* 1 when the shape of c placed at start fits on some node; *best gets the fitting node with
 * the lowest peak after placement (or the closest failure when none fits). */
static int fits_at(const struct ledger *l, const struct curve *c, int64_t start, int score, struct ledger_fit *best,
                   const struct ledger_node **best_node, int *all_unresolvable)
{
    struct ledger_shape s;
    int found = 0;
    *best_node = NULL;
    *all_unresolvable = l->n_nodes > 0;
    if (ledger_shape_init(&s, l, c, CURVE_P90, start) != FS_OK)
        return 0;
    for (size_t i = 0; i < l->n_nodes; i++) {
        struct ledger_fit f;
        const struct ledger_node *n = l->nodes[i];
        if (score)
            ledger_check(l, n, &s, &f);
        else
            ledger_check_fit(l, n, &s, &f);
        if (!f.unresolvable)
            *all_unresolvable = 0;
        if (f.fits) {
            if (!found || f.after < best->after) {
                *best = f;
                *best_node = n;
            }
            found = 1;
            if (!score)
                break;
        } else if (!found && (!*best_node || f.need - (f.limit - f.reserved) < best->need - (best->limit - best->reserved))) {
            *best = f;
            *best_node = n;
        }
    }
    ledger_shape_release(&s);
    return found;
}

enum fs_err admit_check(const struct ledger *l, const struct curve *c, int64_t now, struct admit_result *out)
{
    struct ledger_fit f;
    const struct ledger_node *n = NULL;
    int unres = 0;
    memset(out, 0, sizeof(*out));
    if (c->flat || c->n_steps == 0)
        return FS_EINVAL;
    if (l->n_nodes == 0) {
        snprintf(out->reason, sizeof(out->reason), "no node is known to the ledger");
        return FS_OK;
    }
    memset(&f, 0, sizeof(f));
    if (fits_at(l, c, now, 1, &f, &n, &unres)) {
        out->fits = 1;
        snprintf(out->node, sizeof(out->node), "%s", n->name);
        return FS_OK;
    }
    out->unresolvable = unres;
    char msg[200] = "";
    if (n)
        ledger_fit_message(l, &f, now, msg, sizeof(msg));
    snprintf(out->reason, sizeof(out->reason), "%s on %s%s", msg, n ? n->name : "?",
             unres ? " (larger than any node)" : "");
    if (unres)
        return FS_OK;
    /* earliest start: slide the curve along the horizon, one ledger step at a time */
    int64_t step = l->cfg.step_s ? l->cfg.step_s : 30;
    int64_t first = (now / step + 1) * step;
    for (uint32_t k = 0; k < l->cfg.n_steps; k++) {
        int64_t t = first + (int64_t)k * step;
        struct ledger_fit f2;
        const struct ledger_node *n2;
        int u2;
        if (fits_at(l, c, t, 0, &f2, &n2, &u2)) {
            out->earliest_s = t;
            break;
        }
    }
    return FS_OK;
}

enum fs_err admit_claim(struct ledger *l, const char *ns, const char *name, const char *node, const struct curve *c,
                        int64_t now)
{
    char key[300];
    struct ledger_shape s;
    claim_key(ns, name, key, sizeof(key));
    enum fs_err rc = ledger_shape_init(&s, l, c, CURVE_P90, now);
    if (rc != FS_OK)
        return rc;
    rc = ledger_claim(l, key, node, &s, LEDGER_FORCE, NULL);
    ledger_shape_release(&s);
    return rc;
}

enum fs_err admit_unclaim(struct ledger *l, const char *ns, const char *name)
{
    char key[300];
    claim_key(ns, name, key, sizeof(key));
    return ledger_release(l, key);
}

double admit_load(const struct ledger *l, int64_t now)
{
    double used = 0, cap = 0;
    for (size_t i = 0; i < l->n_nodes; i++) {
        const struct ledger_node *n = l->nodes[i];
        if (n->alloc[CURVE_CPU] <= 0)
            continue;
        cap += (double)n->alloc[CURVE_CPU];
        used += (double)ledger_reserved(l, n, CURVE_CPU, now);
    }
    return cap > 0 ? used / cap : 0;
}

static int cmp_item(const void *a, const void *b)
{
    const struct admit_item *x = a, *y = b;
    int c = priority_key_cmp(&x->key, &y->key);
    return c ? c : strcmp(x->ns, y->ns);
}

enum fs_err admit_in_order(struct ledger *l, struct admit_item *items, size_t n, int64_t now)
{
    enum fs_err ret = FS_OK;
    qsort(items, n, sizeof(*items), cmp_item);
    for (size_t i = 0; i < n; i++) {
        struct admit_item *it = &items[i];
        enum fs_err rc = FS_OK;
        it->fits = 0;
        if (it->mine) {
            rc = admit_check(l, it->cv, now, &it->res);
            if (rc != FS_OK) {
                ret = rc;
                continue;
            }
            if (!it->res.fits)
                continue;
            rc = admit_claim(l, it->ns, it->name, it->res.node, it->cv, now);
        } else { /* only whether it fits, and where: no score, no earliest start */
            struct ledger_fit f;
            const struct ledger_node *node = NULL;
            int unres = 0;
            if (it->cv->flat || it->cv->n_steps == 0 || !fits_at(l, it->cv, now, 0, &f, &node, &unres) || !node)
                continue;
            char key[300];
            struct ledger_shape s;
            snprintf(key, sizeof(key), ADMIT_HOLD_PREFIX "%s/%s", it->ns, it->name);
            rc = ledger_shape_init(&s, l, it->cv, CURVE_P90, now);
            if (rc == FS_OK) {
                rc = ledger_claim(l, key, node->name, &s, LEDGER_FORCE, NULL);
                ledger_shape_release(&s);
            }
        }
        if (rc != FS_OK) {
            ret = rc;
            continue;
        }
        it->fits = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].mine || !items[i].fits)
            continue;
        char key[300];
        snprintf(key, sizeof(key), ADMIT_HOLD_PREFIX "%s/%s", items[i].ns, items[i].name);
        ledger_release(l, key);
    }
    return ret;
}
