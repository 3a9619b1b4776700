/* E2E checker for the extender tests: recomputes, from the final bindings alone, every
 * node's predicted cpu and memory sum over time and compares it with the node's allocatable.
 * Deliberately independent of lib/ledger: its own JSON reading, time parsing and exact
 * piecewise-constant sums (no step grid), so a ledger bug cannot hide itself.
 *
 *   extender_check NODES.json OBJECTS.json
 * NODES.json: `kubectl get nodes -o json` (the nodes to check); OBJECTS.json: `kubectl get
 * pods,microtasks -o json` of the test's namespace. A bound pod labelled
 * foresight.sh/microtask=<mt> demands that MicroTask's status.prediction p90 curves from
 * max(prediction.start, the pod's PodScheduled time); other bound pods their requests, always.
 * Prints one line per node (name, pods, peak cpu milli / allocatable, peak memory MiB /
 * allocatable) and "over-committed" lines; exits 1 if any node's sum exceeds allocatable.
 *
 *   extender_check claims LEDGER.json NODES.json OBJECTS.json
 * LEDGER.json: the extender's GET /debug/ledger. Exits 1 unless, on every node of NODES.json,
 * the ledger's claims are exactly the UIDs of the pods bound there that have not ended, each
 * claimed once in the whole ledger (no double claim, no claim left behind). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define MAXN 256

struct seg {
    int64_t t0, t1;   /* [t0, t1) unix seconds; t1 = INT64_MAX for requests */
    int64_t cpu_milli, mem_bytes;
};

struct node {
    const char *name;
    int64_t cpu_milli, mem_bytes;
    struct seg *segs;
    size_t n, cap;
    int pods;
};

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int64_t parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    int64_t t = (int64_t)timegm(&tm);
    if (*end == '.')
        while (*++end >= '0' && *end <= '9')
            ;
    if (*end == '+' || *end == '-') {
        int hh = 0, mm = 0;
        if (sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        t -= (*end == '+' ? 1 : -1) * (int64_t)(hh * 3600 + mm * 60);
    }
    return t;
}

/* Quantities as kubectl prints them: plain numbers, m, Ki/Mi/Gi, k/M/G. */
static double quantity(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return NAN;
    static const struct {
        const char *suf;
        double mul;
    } m[] = {{"m", 1e-3}, {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
             {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"", 1}};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (strcmp(end, m[i].suf) == 0)
            return v * m[i].mul;
    return NAN;
}

static int add_seg(struct node *n, struct seg s)
{
    if (n->n == n->cap) {
        size_t cap = n->cap ? 2 * n->cap : 64;
        struct seg *p = realloc(n->segs, cap * sizeof(*p));
        if (!p)
            return -1;
        n->segs = p;
        n->cap = cap;
    }
    n->segs[n->n++] = s;
    return 0;
}

static const json_t *find_mt(const json_t *items, const char *name)
{
    size_t i;
    const json_t *o;
    json_array_foreach(items, i, o) {
        if (strcmp(str(o, "kind"), "MicroTask") == 0 && strcmp(str(json_object_get(o, "metadata"), "name"), name) == 0)
            return o;
    }
    return NULL;
}

static int64_t scheduled_at(const json_t *pod)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
        if (strcmp(str(c, "type"), "PodScheduled") == 0 && strcmp(str(c, "status"), "True") == 0)
            return parse_time(str(c, "lastTransitionTime"));
    }
    return -1;
}

/* Adds a pod's demand to its node; -1 on a malformed object. */
static int add_pod(struct node *n, const json_t *pod, const json_t *items)
{
    const json_t *md = json_object_get(pod, "metadata");
    const char *mtname = str(json_object_get(md, "labels"), "foresight.sh/microtask");
    const json_t *pred = NULL;
    if (*mtname)
        pred = json_object_get(json_object_get(find_mt(items, mtname), "status"), "prediction");
    if (!pred) {
        double cpu = 0, mem = 0;
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
            const json_t *r = json_object_get(json_object_get(c, "resources"), "requests");
            if (*str(r, "cpu"))
                cpu += quantity(str(r, "cpu"));
            if (*str(r, "memory"))
                mem += quantity(str(r, "memory"));
        }
        if (isnan(cpu) || isnan(mem))
            return -1;
        return add_seg(n, (struct seg){INT64_MIN, INT64_MAX, llround(cpu * 1000), llround(mem)});
    }
    int64_t step = json_integer_value(json_object_get(pred, "stepSeconds"));
    int64_t start = parse_time(str(pred, "start")), bound = scheduled_at(pod);
    if (step <= 0 || start < 0 || bound < 0)
        return -1;
    int64_t at = start > bound ? start : bound;
    const json_t *curves = json_object_get(pred, "curves");
    const json_t *cpu = json_object_get(json_object_get(curves, "cpu"), "p90");
    const json_t *mem = json_object_get(json_object_get(curves, "memory"), "p90");
    size_t len = json_array_size(cpu) > json_array_size(mem) ? json_array_size(cpu) : json_array_size(mem);
    for (size_t k = 0; k < len; k++) {
        double c = k < json_array_size(cpu) ? json_number_value(json_array_get(cpu, k)) : 0;
        double m = k < json_array_size(mem) ? json_number_value(json_array_get(mem, k)) : 0;
        if (add_seg(n, (struct seg){at + (int64_t)k * step, at + (int64_t)(k + 1) * step, llround(c * 1000),
                                    llround(m)}) != 0)
            return -1;
    }
    return 0;
}

/* The highest sum of a node's segments: piecewise constant, so its maximum is at a start. */
static void peak(const struct node *n, int64_t *cpu, int64_t *mem, int64_t *cpu_at)
{
    *cpu = *mem = 0;
    *cpu_at = 0;
    for (size_t i = 0; i < n->n; i++) {
        int64_t t = n->segs[i].t0, c = 0, m = 0;
        for (size_t j = 0; j < n->n; j++)
            if (n->segs[j].t0 <= t && t < n->segs[j].t1) {
                c += n->segs[j].cpu_milli;
                m += n->segs[j].mem_bytes;
            }
        if (c > *cpu) {
            *cpu = c;
            *cpu_at = t;
        }
        if (m > *mem)
            *mem = m;
    }
}

/* The claims mode (see the top of the file). */
static int check_claims(const char *ledger_path, const char *nodes_path, const char *objs_path)
{
    json_error_t err;
    json_t *ledger = json_load_file(ledger_path, 0, &err), *nodes = json_load_file(nodes_path, 0, &err),
           *objs = json_load_file(objs_path, 0, &err);
    int bad = 0;
    if (!ledger || !nodes || !objs) {
        fprintf(stderr, "extender_check: cannot read input: %s (line %d)\n", err.text, err.line);
        bad = 2;
        goto out;
    }
    const json_t *lnodes = json_object_get(ledger, "nodes");
    /* every UID in the whole ledger, to find a pod claimed on two nodes */
    json_t *seen = json_object();
    if (!seen) {
        bad = 2;
        goto out;
    }
    const char *lname;
    const json_t *ln;
    json_object_foreach((json_t *)lnodes, lname, ln) {
        size_t k;
        const json_t *uid;
        json_array_foreach(json_object_get(ln, "claims"), k, uid) {
            const char *u = json_string_value(uid);
            if (json_object_get(seen, u)) {
                printf("double claim: %s on %s and %s\n", u, str(seen, u), lname);
                bad = 1;
            }
            json_object_set_new(seen, u, json_string(lname));
        }
    }
    size_t i, claims = 0;
    const json_t *node;
    json_array_foreach(json_object_get(nodes, "items"), i, node) {
        const char *name = str(json_object_get(node, "metadata"), "name");
        const json_t *want = json_object_get(json_object_get(lnodes, name), "claims");
        if (!want) {
            printf("node %s missing from the ledger\n", name);
            bad = 1;
            continue;
        }
        size_t j, n_bound = 0;
        const json_t *o;
        json_array_foreach(json_object_get(objs, "items"), j, o) {
            const char *phase = str(json_object_get(o, "status"), "phase");
            if (strcmp(str(o, "kind"), "Pod") != 0 || strcmp(str(json_object_get(o, "spec"), "nodeName"), name) != 0 ||
                strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)
                continue;
            n_bound++;
            const char *uid = str(json_object_get(o, "metadata"), "uid");
            if (strcmp(str(seen, uid), name) != 0) {
                printf("pod %s (uid %s) bound to %s is not claimed there\n",
                       str(json_object_get(o, "metadata"), "name"), uid, name);
                bad = 1;
            }
        }
        claims += json_array_size(want);
        if (json_array_size(want) != n_bound) {
            printf("node %s: %zu claims for %zu bound pods\n", name, json_array_size(want), n_bound);
            bad = 1;
        }
    }
    printf("claims %zu\n", claims);
    json_decref(seen);
out:
    json_decref(ledger);
    json_decref(nodes);
    json_decref(objs);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "claims") == 0)
        return check_claims(argv[2], argv[3], argv[4]);
    if (argc != 3) {
        fprintf(stderr, "usage: extender_check NODES.json OBJECTS.json | claims LEDGER.json NODES.json OBJECTS.json\n");
        return 2;
    }
    json_error_t err;
    json_t *nodes = json_load_file(argv[1], 0, &err), *objs = json_load_file(argv[2], 0, &err);
    if (!nodes || !objs) {
        fprintf(stderr, "extender_check: cannot read input: %s (line %d)\n", err.text, err.line);
        return 2;
    }
    static struct node ns[MAXN];
    size_t nn = 0, i;
    const json_t *o;
    json_array_foreach(json_object_get(nodes, "items"), i, o) {
        if (nn == MAXN)
            break;
        const json_t *alloc = json_object_get(json_object_get(o, "status"), "allocatable");
        ns[nn].name = str(json_object_get(o, "metadata"), "name");
        ns[nn].cpu_milli = llround(quantity(str(alloc, "cpu")) * 1000);
        ns[nn].mem_bytes = llround(quantity(str(alloc, "memory")));
        nn++;
    }
    int bad = 0, bound = 0;
    const json_t *items = json_object_get(objs, "items");
    json_array_foreach(items, i, o) {
        if (strcmp(str(o, "kind"), "Pod") != 0)
            continue;
        const char *node = str(json_object_get(o, "spec"), "nodeName");
        const char *phase = str(json_object_get(o, "status"), "phase");
        if (!*node || strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)
            continue;
        for (size_t k = 0; k < nn; k++)
            if (strcmp(ns[k].name, node) == 0) {
                ns[k].pods++;
                bound++;
                if (add_pod(&ns[k], o, items) != 0) {
                    fprintf(stderr, "extender_check: malformed pod or prediction: %s\n",
                            str(json_object_get(o, "metadata"), "name"));
                    bad = 1;
                }
            }
    }
    printf("bound %d\n", bound);
    for (size_t k = 0; k < nn; k++) {
        int64_t cpu, mem, at;
        peak(&ns[k], &cpu, &mem, &at);
        printf("node %s pods %d cpu_peak_milli %lld cpu_alloc_milli %lld mem_peak_mib %lld mem_alloc_mib %lld\n",
               ns[k].name, ns[k].pods, (long long)cpu, (long long)ns[k].cpu_milli, (long long)(mem >> 20),
               (long long)(ns[k].mem_bytes >> 20));
        if (cpu > ns[k].cpu_milli || mem > ns[k].mem_bytes) {
            printf("over-committed %s: cpu %lldm of %lldm (at unix %lld), memory %lld of %lld bytes\n", ns[k].name,
                   (long long)cpu, (long long)ns[k].cpu_milli, (long long)at, (long long)mem,
                   (long long)ns[k].mem_bytes);
            bad = 1;
        }
        free(ns[k].segs);
    }
    json_decref(nodes);
    json_decref(objs);
    return bad;
}
