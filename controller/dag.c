/* MicroTask dependency graphs: name lookup by a sorted index, components by union-find,
 * cycles by an iterative depth-first search (no recursion, so a 10,000-task chain is fine),
 * then readiness and failure propagation in the search's post-order (dependencies first).
 * Messages are deterministic: nodes are visited in name order and a cycle is printed from
 * its smallest name, whatever order the caller's cache returned. */
#include "dag.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dag_verdict_name(enum dag_verdict_kind k)
{
    switch (k) {
    case DAG_READY: return "Ready";
    case DAG_WAITING: return "Waiting";
    case DAG_CYCLE: return "Cycle";
    case DAG_MISSING: return "Missing";
    case DAG_DEP_FAILED: return "DependencyFailed";
    case DAG_DEP_FAILED_WAIT: return "DependencyFailedWaiting";
    }
    return "Unknown";
}

struct dag {
    const struct dag_node *nodes;
    size_t n;
    size_t *by_name;    /* node indexes sorted by name */
    size_t *edge_start; /* n + 1 offsets into edges */
    long *edges;        /* dependency index, -1 for a missing target */
    size_t *parent;     /* union-find */
    size_t *post;       /* post-order of the search, dependencies first */
    size_t n_post;
};

/* bounded append: a message that does not fit ends in "..." */
static void msg_add(char *buf, size_t *len, const char *fmt, ...)
{
    if (*len >= DAG_MSG_MAX - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *len, DAG_MSG_MAX - *len, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if ((size_t)w >= DAG_MSG_MAX - *len) {
        *len = DAG_MSG_MAX - 1;
        memcpy(buf + DAG_MSG_MAX - 4, "...", 4);
    } else {
        *len += (size_t)w;
    }
}

static const struct dag_node *sort_nodes; /* qsort has no context argument in C17 */

static int by_name_cmp(const void *a, const void *b)
{
    return strcmp(sort_nodes[*(const size_t *)a].name, sort_nodes[*(const size_t *)b].name);
}

static long lookup(const struct dag *g, const char *name)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->nodes[g->by_name[mid]].name, name);
        if (c == 0)
            return (long)g->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static size_t uf_find(size_t *p, size_t x)
{
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

static void uf_union(size_t *p, size_t a, size_t b)
{
    a = uf_find(p, a);
    b = uf_find(p, b);
    if (a != b)
        p[a > b ? a : b] = a > b ? b : a;
}

static void dag_release(struct dag *g)
{
    free(g->by_name);
    free(g->edge_start);
    free(g->edges);
    free(g->parent);
    free(g->post);
}

static enum fs_err dag_build(struct dag *g, const struct dag_node *nodes, size_t n)
{
    size_t n_edges = 0;
    memset(g, 0, sizeof(*g));
    g->nodes = nodes;
    g->n = n;
    for (size_t i = 0; i < n; i++)
        n_edges += nodes[i].n_deps;
    g->by_name = malloc((n ? n : 1) * sizeof(size_t));
    g->edge_start = malloc((n + 1) * sizeof(size_t));
    g->edges = malloc((n_edges ? n_edges : 1) * sizeof(long));
    g->parent = malloc((n ? n : 1) * sizeof(size_t));
    g->post = malloc((n ? n : 1) * sizeof(size_t));
    if (!g->by_name || !g->edge_start || !g->edges || !g->parent || !g->post)
        return FS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!nodes[i].name || (nodes[i].n_deps && !nodes[i].deps))
            return FS_EINVAL;
        g->by_name[i] = i;
        g->parent[i] = i;
    }
    sort_nodes = nodes;
    qsort(g->by_name, n, sizeof(size_t), by_name_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(nodes[g->by_name[i - 1]].name, nodes[g->by_name[i]].name) == 0)
            return FS_EINVAL;
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        g->edge_start[i] = e;
        for (size_t d = 0; d < nodes[i].n_deps; d++) {
            long j = nodes[i].deps[d] ? lookup(g, nodes[i].deps[d]) : -1;
            g->edges[e++] = j;
            if (j >= 0)
                uf_union(g->parent, i, (size_t)j);
        }
    }
    g->edge_start[n] = e;
    return FS_OK;
}

/* Writes "a -> b -> ... -> a" for the cycle stack[from..top], starting at its smallest name. */
static void cycle_message(const struct dag *g, const size_t *stack, size_t from, size_t top,
                          char *buf)
{
    size_t len = 0, k = top - from + 1, start = from;
    for (size_t i = from; i <= top; i++)
        if (strcmp(g->nodes[stack[i]].name, g->nodes[stack[start]].name) < 0)
            start = i;
    msg_add(buf, &len, "dependency cycle ");
    for (size_t s = 0; s < k; s++)
        msg_add(buf, &len, "%s -> ", g->nodes[stack[from + (start - from + s) % k]].name);
    msg_add(buf, &len, "%s; nothing of this graph starts", g->nodes[stack[start]].name);
}

enum fs_err dag_evaluate(const struct dag_node *nodes, size_t n, struct dag_verdict *out)
{
    enum fs_err rc;
    struct dag g;
    unsigned char *color = NULL;  /* 0 white, 1 on the stack, 2 done */
    size_t *stack = NULL, *next_edge = NULL;
    char **comp_block = NULL;     /* per component root: the blocking message, or NULL */
    enum dag_verdict_kind *comp_kind = NULL;
    long *root_cause = NULL;      /* per node: the failed task its failure comes from, or -1 */

    rc = dag_build(&g, nodes, n);
    if (rc != FS_OK)
        goto out;
    rc = FS_ENOMEM;
    color = calloc(n ? n : 1, 1);
    stack = malloc((n ? n : 1) * sizeof(size_t));
    next_edge = malloc((n ? n : 1) * sizeof(size_t));
    comp_block = calloc(n ? n : 1, sizeof(char *));
    comp_kind = calloc(n ? n : 1, sizeof(*comp_kind));
    root_cause = malloc((n ? n : 1) * sizeof(long));
    if (!color || !stack || !next_edge || !comp_block || !comp_kind || !root_cause)
        goto out;

    /* missing targets, in name order so that the first one reported is stable */
    for (size_t s = 0; s < n; s++) {
        size_t i = g.by_name[s], c = uf_find(g.parent, i);
        for (size_t e = g.edge_start[i]; e < g.edge_start[i + 1]; e++) {
            if (g.edges[e] >= 0 || comp_block[c])
                continue;
            if (!(comp_block[c] = malloc(DAG_MSG_MAX)))
                goto out;
            size_t len = 0;
            comp_block[c][0] = '\0';
            msg_add(comp_block[c], &len, "%s depends on %s, which does not exist; nothing of this graph starts",
                    nodes[i].name, nodes[i].deps[e - g.edge_start[i]]);
            comp_kind[c] = DAG_MISSING;
        }
    }

    /* cycles, and the post-order used below */
    for (size_t s = 0; s < n; s++) {
        size_t r = g.by_name[s];
        if (color[r])
            continue;
        size_t top = 0;
        stack[0] = r;
        next_edge[r] = g.edge_start[r];
        color[r] = 1;
        for (;;) {
            size_t u = stack[top];
            if (next_edge[u] < g.edge_start[u + 1]) {
                long v = g.edges[next_edge[u]++];
                if (v < 0)
                    continue;
                if (color[v] == 0) {
                    color[v] = 1;
                    next_edge[v] = g.edge_start[v];
                    stack[++top] = (size_t)v;
                } else if (color[v] == 1) {
                    size_t c = uf_find(g.parent, u);
                    if (comp_kind[c] != DAG_CYCLE) { /* a cycle outranks a missing target */
                        size_t from = top;
                        while (stack[from] != (size_t)v)
                            from--;
                        if (!comp_block[c] && !(comp_block[c] = malloc(DAG_MSG_MAX)))
                            goto out;
                        comp_block[c][0] = '\0';
                        cycle_message(&g, stack, from, top, comp_block[c]);
                        comp_kind[c] = DAG_CYCLE;
                    }
                }
                continue;
            }
            color[u] = 2;
            g.post[g.n_post++] = u;
            if (top == 0)
                break;
            top--;
        }
    }

    /* readiness and failure, dependencies before dependants */
    for (size_t p = 0; p < g.n_post; p++) {
        size_t i = g.post[p], c = uf_find(g.parent, i);
        struct dag_verdict *v = &out[i];
        size_t len = 0;
        v->message[0] = '\0';
        root_cause[i] = -1;
        if (comp_block[c]) {
            v->kind = comp_kind[c];
            v->reason = comp_kind[c] == DAG_CYCLE ? "DependencyCycle" : "DependencyMissing";
            snprintf(v->message, sizeof(v->message), "%s", comp_block[c]);
            continue;
        }
        if (nodes[i].state != DAG_PENDING) {
            v->kind = DAG_READY;
            v->reason = "DependenciesSucceeded";
            if (nodes[i].state == DAG_FAILED)
                root_cause[i] = (long)i;
            continue;
        }
        long failed = -1;
        size_t waiting = 0;
        for (size_t e = g.edge_start[i]; e < g.edge_start[i + 1]; e++) {
            size_t d = (size_t)g.edges[e];
            if (root_cause[d] >= 0) {
                if (nodes[i].policy == DAG_ON_FAILURE_IGNORE)
                    continue;
                if (failed < 0)
                    failed = (long)d;
            } else if (nodes[d].state != DAG_SUCCEEDED) {
                waiting++;
            }
        }
        if (failed >= 0 && nodes[i].policy == DAG_ON_FAILURE_FAIL) {
            v->kind = DAG_DEP_FAILED;
            v->reason = "DependencyFailed";
            root_cause[i] = root_cause[failed];
            if (root_cause[failed] == failed)
                msg_add(v->message, &len, "dependency %s failed", nodes[failed].name);
            else
                msg_add(v->message, &len, "dependency %s failed because %s failed",
                        nodes[failed].name, nodes[root_cause[failed]].name);
        } else if (failed >= 0) {
            v->kind = DAG_DEP_FAILED_WAIT;
            v->reason = "DependencyFailed";
            msg_add(v->message, &len, "dependency %s failed; waiting for it to succeed (onDependencyFailure: Wait)",
                    nodes[failed].name);
        } else if (waiting) {
            v->kind = DAG_WAITING;
            v->reason = "WaitingForDependencies";
            msg_add(v->message, &len, "waiting for ");
            size_t shown = 0;
            for (size_t e = g.edge_start[i]; e < g.edge_start[i + 1]; e++) {
                size_t d = (size_t)g.edges[e];
                if (root_cause[d] >= 0 || nodes[d].state == DAG_SUCCEEDED)
                    continue;
                if (shown == 5) {
                    msg_add(v->message, &len, " and %zu more", waiting - shown);
                    break;
                }
                msg_add(v->message, &len, "%s%s", shown ? ", " : "", nodes[d].name);
                shown++;
            }
            msg_add(v->message, &len, " to succeed");
        } else {
            v->kind = DAG_READY;
            v->reason = "DependenciesSucceeded";
            msg_add(v->message, &len, g.edge_start[i] == g.edge_start[i + 1]
                                          ? "no dependencies" : "all dependencies succeeded");
        }
    }
    rc = FS_OK;
out:
    if (comp_block)
        for (size_t i = 0; i < n; i++)
            free(comp_block[i]);
    free(comp_block);
    free(comp_kind);
    free(root_cause);
    free(color);
    free(stack);
    free(next_edge);
    dag_release(&g);
    return rc;
}
