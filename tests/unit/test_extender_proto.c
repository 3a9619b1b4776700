/* Unit tests for the extender protocol (lib/ledger/extproto.c) and the cluster state behind
 * it, with request bodies shaped as kube-scheduler sends them (PascalCase from Go types with
 * no json tags, null for the unused one of Nodes/NodeNames, and lowercase variants). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ledger/cluster.h"
#include "ledger/extargs.h"
#include "ledger/extproto.h"

#define T0 1735725600 /* 2025-01-01T10:00:00Z */

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("bad test json: %s: %s", e.text, s);
    return j;
}

static void node(struct cluster *c, const char *name, const char *cpu, const char *mem)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\"},\"status\":{\"allocatable\":{\"cpu\":\"%s\",\"memory\":\"%s\",\"pods\":\"110\"}}}",
             name, cpu, mem);
    json_t *j = parse(buf);
    assert_int_equal(cluster_node_upsert(c, j), FS_OK);
    json_decref(j);
}

/* A pod as the API server serialises it; node "" = pending. */
static char *pod_json(const char *name, const char *uid, const char *mt, const char *cpu, const char *node_name)
{
    static char buf[2048];
    char labels[128] = "";
    if (mt)
        snprintf(labels, sizeof(labels), ",\"labels\":{\"foresight.sh/microtask\":\"%s\"}", mt);
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\","
             "\"uid\":\"%s\"%s},\"spec\":{\"schedulerName\":\"foresight\",\"nodeName\":\"%s\",\"containers\":"
             "[{\"name\":\"main\",\"image\":\"busybox\",\"resources\":{\"requests\":{\"cpu\":\"%s\",\"memory\":"
             "\"256Mi\"}}}]},\"status\":{\"phase\":\"%s\"%s}}",
             name, uid, labels, node_name, cpu, node_name[0] ? "Running" : "Pending",
             node_name[0] ? ",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\","
                            "\"lastTransitionTime\":\"2025-01-01T10:00:00Z\"}]"
                          : "");
    return buf;
}

static void add_pod(struct cluster *c, const char *name, const char *uid, const char *mt, const char *cpu,
                    const char *node_name)
{
    json_t *j = parse(pod_json(name, uid, mt, cpu, node_name));
    assert_int_equal(cluster_pod_upsert(c, j, T0), FS_OK);
    json_decref(j);
}

static void microtask(struct cluster *c, const char *name, const char *cpu_p90)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},\"status\":{\"prediction\":{\"model\":"
             "\"profile\",\"stepSeconds\":60,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{\"cpu\":{\"p90\":%s}}}}}",
             name, cpu_p90);
    json_t *j = parse(buf);
    assert_int_equal(cluster_microtask_upsert(c, j, T0), FS_OK);
    json_decref(j);
}

static struct cluster *mk_cluster(void)
{
    static struct cluster c;
    struct ledger_config cfg = {.step_s = 30, .n_steps = 240};
    assert_int_equal(cluster_init(&c, &cfg, T0), FS_OK);
    return &c;
}

static json_t *reply_json(const struct ext_reply *r, int status)
{
    assert_int_equal(r->status, status);
    json_error_t e;
    json_t *j = json_loadb(r->body, r->len, 0, &e);
    if (!j)
        fail_msg("reply is not json: %.*s", (int)r->len, r->body);
    return j;
}

static char *args(const char *pod, const char *names_json, int lowercase)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf), lowercase ? "{\"pod\":%s,\"nodes\":null,\"nodenames\":%s}"
                                         : "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}",
             pod, names_json);
    return buf;
}

static void check_cache_mode_filter(int lowercase)
{
    struct cluster *c = mk_cluster();
    struct ext_counters ctr = {0};
    node(c, "big", "4", "8Gi");
    node(c, "small", "1", "8Gi");
    char pod[2048];
    snprintf(pod, sizeof(pod), "%s", pod_json("p1", "uid-1", NULL, "2", ""));
    char *body = args(pod, "[\"big\",\"small\",\"ghost\"]", lowercase);
    struct ext_reply r;
    ext_filter(c, body, strlen(body), T0, &ctr, &r);
    json_t *j = reply_json(&r, 200);
    json_t *names = json_object_get(j, "NodeNames");
    assert_int_equal(json_array_size(names), 1);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "big");
    assert_null(json_object_get(j, "Nodes"));
    const char *unres = json_string_value(json_object_get(json_object_get(j, "FailedAndUnresolvableNodes"), "small"));
    assert_non_null(unres);
    assert_string_equal(unres, "cpu: 0m reserved + 2000m for this pod > 1000m allowed at +0s (the pod alone exceeds the node)");
    const char *ghost = json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "ghost"));
    assert_non_null(ghost);
    assert_non_null(strstr(ghost, "unknown to foresight"));
    assert_null(json_object_get(json_object_get(j, "FailedNodes"), "small"));
    assert_string_equal(json_string_value(json_object_get(j, "Error")), "");
    assert_int_equal(ctr.rejections[EXT_R_UNRESOLVABLE], 1);
    assert_int_equal(ctr.rejections[EXT_R_UNKNOWN_NODE], 1);
    assert_int_equal(ctr.from_requests, 1);
    json_decref(j);
    ext_reply_release(&r);
    cluster_release(c);
}

static void test_filter_cache_mode(void **state)
{
    (void)state;
    check_cache_mode_filter(0);
}

static void test_filter_lowercase_keys(void **state)
{
    (void)state;
    check_cache_mode_filter(1);
}

/* When every node passes, the reply lists them as the request did, and always compactly:
 * a request that wrote its list with spaces, escapes or anything after it gets the same
 * reply as the compact one. */
static void test_filter_all_pass_list(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    node(c, "n1", "4", "8Gi");
    node(c, "n2", "4", "8Gi");
    char pod[2048];
    snprintf(pod, sizeof(pod), "%s", pod_json("p1", "uid-1", NULL, "1", ""));
    const char *fmt[] = {
        "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n2\",\"n1\"]}",
        "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[ \"n2\",\"n1\"]}",
        "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n2\", \"n1\"]}",
        "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"\\u006e2\",\"n1\"]}",
        "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n2\",\"n1\"] }",
        "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\" : [\"n2\",\"n1\"]}",
        "{\"Pod\":%s,\"NodeNames\":[\"n2\",\"n1\"],\"Nodes\":null}",
    };
    for (size_t k = 0; k < sizeof(fmt) / sizeof(fmt[0]); k++) {
        char body[4096];
        snprintf(body, sizeof(body), fmt[k], pod);
        struct ext_reply r;
        ext_names_unref(c->names_memo); /* each body read afresh */
        c->names_memo = NULL;
        ext_filter(c, body, strlen(body), T0, NULL, &r);
        assert_int_equal(r.status, 200);
        const char *want = "{\"NodeNames\":[\"n2\",\"n1\"],\"FailedNodes\":{},";
        if (strncmp(r.body, want, strlen(want)) != 0)
            fail_msg("body %zu (%s): %s", k, body, r.body);
        ext_reply_release(&r);
    }
    cluster_release(c);
}

/* nodeCacheCapable: false: full Node objects in, the passing ones echoed back as a NodeList. */
static void test_filter_full_nodes_mode(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    node(c, "n1", "4", "8Gi");
    node(c, "n2", "2", "8Gi");
    add_pod(c, "running", "uid-r", NULL, "1500m", "n2");
    char body[8192];
    snprintf(body, sizeof(body),
             "{\"Pod\":%s,\"Nodes\":{\"metadata\":{},\"items\":["
             "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"zone\":\"a\"}},\"status\":{\"allocatable\":{\"cpu\":\"4\"}}},"
             "{\"metadata\":{\"name\":\"n2\"},\"status\":{\"allocatable\":{\"cpu\":\"2\"}}}]},\"NodeNames\":null}",
             pod_json("p1", "uid-1", NULL, "1", ""));
    struct ext_reply r;
    ext_filter(c, body, strlen(body), T0, NULL, &r);
    json_t *j = reply_json(&r, 200);
    json_t *items = json_object_get(json_object_get(j, "Nodes"), "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *n1 = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(n1, "metadata"), "name")), "n1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(n1, "metadata"), "labels"), "zone")), "a");
    assert_null(json_object_get(j, "NodeNames"));
    /* n2 holds 1500m of 2000m: not alone over, so preemption could help */
    const char *msg = json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "n2"));
    assert_non_null(msg);
    assert_string_equal(msg, "cpu: 1500m reserved + 1000m for this pod > 2000m allowed at +0s");
    json_decref(j);
    ext_reply_release(&r);
    /* the warm-up after such a filter, and after one whose names jansson reads (a key
     * repeated), works nothing out ahead for lists it did not stream; the prioritize answers */
    char dup[8192];
    snprintf(dup, sizeof(dup), "{\"Pod\":%s,\"Nodes\":null,\"Nodes\":null,\"NodeNames\":[\"n1\",\"n2\"]}",
             pod_json("p1", "uid-1", NULL, "1", ""));
    const char *bodies[] = {body, dup};
    for (int k = 0; k < 2; k++) {
        ext_prioritize_warm(c, bodies[k], strlen(bodies[k]), T0);
        assert_null(c->ahead);
        ext_prioritize(c, bodies[k], strlen(bodies[k]), T0, NULL, &r);
        j = reply_json(&r, 200);
        assert_int_equal(json_array_size(j), 2);
        json_decref(j);
        ext_reply_release(&r);
    }
    cluster_release(c);
}

/* Two micro-tasks whose peaks do not overlap share a 4-core node that their 3-core requests
 * would not; the message for a clash names the time offset of the overflow. */
static void test_filter_with_predictions(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    struct ext_counters ctr = {0};
    node(c, "n1", "4", "8Gi");
    microtask(c, "early", "[3, 3, 0.5, 0.5, 0.5, 0.5]");
    microtask(c, "late", "[0.5, 0.5, 0.5, 0.5, 3, 3]");
    add_pod(c, "early-pod", "uid-e", "early", "3", "n1");

    char pod[2048];
    snprintf(pod, sizeof(pod), "%s", pod_json("late-pod", "uid-l", "late", "3", ""));
    char *body = args(pod, "[\"n1\"]", 0);
    struct ext_reply r;
    ext_filter(c, body, strlen(body), T0, &ctr, &r);
    json_t *j = reply_json(&r, 200);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
    assert_int_equal(ctr.from_prediction, 1);
    json_decref(j);
    ext_reply_release(&r);

    /* once "late" is bound, a pod without prediction requesting 1 core clashes at +0s */
    add_pod(c, "late-pod", "uid-l", "late", "3", "n1");
    snprintf(pod, sizeof(pod), "%s", pod_json("plain", "uid-p", NULL, "1", ""));
    body = args(pod, "[\"n1\"]", 0);
    ext_filter(c, body, strlen(body), T0, &ctr, &r);
    j = reply_json(&r, 200);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "n1")),
                        "cpu: 3500m reserved + 1000m for this pod > 4000m allowed at +0s");
    json_decref(j);
    ext_reply_release(&r);

    /* 60 s later the early peak is over; the late peak (minute 4) is the clash */
    ext_filter(c, body, strlen(body), T0 + 120, &ctr, &r);
    j = reply_json(&r, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "FailedNodes"), "n1")),
                        "cpu: 3500m reserved + 1000m for this pod > 4000m allowed at +2m00s");
    assert_int_equal(ctr.rejections[EXT_R_CPU], 2);
    json_decref(j);
    ext_reply_release(&r);
    cluster_release(c);
}

static void test_prioritize_scores(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    node(c, "with-early", "4", "8Gi");
    node(c, "with-late", "4", "8Gi");
    node(c, "empty", "4", "8Gi");
    node(c, "full", "1", "8Gi");
    microtask(c, "early", "[3, 3, 0.5, 0.5, 0.5, 0.5]");
    microtask(c, "late", "[0.5, 0.5, 0.5, 0.5, 3, 3]");
    add_pod(c, "e", "uid-e", "early", "3", "with-early");
    add_pod(c, "l", "uid-l", "late", "3", "with-late");
    char pod[2048];
    snprintf(pod, sizeof(pod), "%s", pod_json("l2", "uid-l2", "late", "3", ""));
    char *body = args(pod, "[\"with-early\",\"with-late\",\"empty\",\"full\",\"ghost\"]", 0);
    struct ext_reply r;
    ext_prioritize(c, body, strlen(body), T0, NULL, &r);
    json_t *j = reply_json(&r, 200);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 5);
    int score[5];
    for (int i = 0; i < 5; i++) {
        json_t *h = json_array_get(j, i);
        assert_int_equal(json_object_size(h), 2);
        assert_true(json_is_integer(json_object_get(h, "Score")));
        score[i] = (int)json_integer_value(json_object_get(h, "Score"));
        assert_in_range(score[i], 0, 10);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "Host")), "with-early");
    /* complementary peaks beat an empty node, which beats a coinciding peak (does not fit: 0) */
    assert_true(score[0] > score[2]);
    assert_int_equal(score[1], 0);
    assert_int_equal(score[3], 0);
    assert_int_equal(score[4], 0);
    json_decref(j);
    ext_reply_release(&r);
    cluster_release(c);
}

static void test_bind_claims_and_releases(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    struct ext_counters ctr = {0};
    node(c, "n1", "4", "8Gi");
    add_pod(c, "a", "uid-a", NULL, "3", "");
    add_pod(c, "b", "uid-b", NULL, "3", "");
    struct ext_bind_args a;
    struct ext_reply r;
    const char *bind_a = "{\"PodName\":\"a\",\"PodNamespace\":\"default\",\"PodUID\":\"uid-a\",\"Node\":\"n1\"}";
    assert_int_equal(ext_bind_parse(bind_a, strlen(bind_a), &a, &ctr, &r), FS_OK);
    char msg[256];
    assert_int_equal(ext_bind_claim(c, &a, NULL, T0, &ctr, msg, sizeof(msg)), FS_OK);
    ext_bind_done(c, &a, NULL, T0, &ctr, &r);
    json_t *j = reply_json(&r, 200);
    assert_string_equal(json_string_value(json_object_get(j, "Error")), "");
    json_decref(j);
    ext_reply_release(&r);
    assert_non_null(ledger_claim_get(c->ledger, "uid-a"));
    /* the informer then sees the binding: the claim stays one claim */
    add_pod(c, "a", "uid-a", NULL, "3", "n1");
    assert_int_equal(c->ledger->claims.len, 1);

    /* the second pod no longer fits: an Error naming the resource, nothing claimed */
    const char *bind_b = "{\"podname\":\"b\",\"podnamespace\":\"default\",\"poduid\":\"uid-b\",\"node\":\"n1\"}";
    struct ext_bind_args b;
    assert_int_equal(ext_bind_parse(bind_b, strlen(bind_b), &b, &ctr, &r), FS_OK);
    assert_int_equal(ext_bind_claim(c, &b, NULL, T0, &ctr, msg, sizeof(msg)), FS_ECONFLICT);
    assert_non_null(strstr(msg, "no longer fits node n1: cpu: 3000m reserved + 3000m"));
    ext_bind_done(c, &b, msg, T0, &ctr, &r);
    j = reply_json(&r, 200);
    assert_non_null(strstr(json_string_value(json_object_get(j, "Error")), "no longer fits"));
    json_decref(j);
    ext_reply_release(&r);
    assert_null(ledger_claim_get(c->ledger, "uid-b"));

    /* a failed Binding POST releases the claim */
    add_pod(c, "c", "uid-c", NULL, "500m", "");
    const char *bind_c = "{\"PodName\":\"c\",\"PodNamespace\":\"default\",\"PodUID\":\"uid-c\",\"Node\":\"n1\"}";
    struct ext_bind_args cc;
    assert_int_equal(ext_bind_parse(bind_c, strlen(bind_c), &cc, &ctr, &r), FS_OK);
    assert_int_equal(ext_bind_claim(c, &cc, NULL, T0, &ctr, msg, sizeof(msg)), FS_OK);
    assert_non_null(ledger_claim_get(c->ledger, "uid-c"));
    ext_bind_done(c, &cc, "409 Conflict: pod already bound", T0, &ctr, &r);
    ext_reply_release(&r);
    assert_null(ledger_claim_get(c->ledger, "uid-c"));
    assert_int_equal(ctr.binds, 1);
    assert_int_equal(ctr.bind_conflicts, 1);
    assert_int_equal(ctr.bind_failures, 2);

    /* unknown node, unknown pod */
    const char *bind_g = "{\"PodName\":\"c\",\"PodNamespace\":\"default\",\"PodUID\":\"uid-c\",\"Node\":\"ghost\"}";
    assert_int_equal(ext_bind_parse(bind_g, strlen(bind_g), &cc, &ctr, &r), FS_OK);
    assert_int_equal(ext_bind_claim(c, &cc, NULL, T0, &ctr, msg, sizeof(msg)), FS_ENOTFOUND);
    assert_non_null(strstr(msg, "ghost"));
    const char *bind_u = "{\"PodName\":\"z\",\"PodNamespace\":\"default\",\"PodUID\":\"uid-z\",\"Node\":\"n1\"}";
    assert_int_equal(ext_bind_parse(bind_u, strlen(bind_u), &cc, &ctr, &r), FS_OK);
    assert_int_equal(ext_bind_claim(c, &cc, NULL, T0, &ctr, msg, sizeof(msg)), FS_EDATA);
    /* ... then with the pod fetched from the API server */
    json_t *z = parse(pod_json("z", "uid-z", NULL, "100m", ""));
    assert_int_equal(ext_bind_claim(c, &cc, z, T0, &ctr, msg, sizeof(msg)), FS_OK);
    json_decref(z);
    z = parse(pod_json("z", "uid-other", NULL, "100m", ""));
    assert_int_equal(ext_bind_claim(c, &cc, z, T0, &ctr, msg, sizeof(msg)), FS_EINVAL);
    json_decref(z);
    cluster_release(c);
}

static void expect_400(struct cluster *c, const char *body, size_t len, const char *needle, int verb)
{
    struct ext_reply r;
    struct ext_bind_args a;
    if (verb == 0)
        ext_filter(c, body, len, T0, NULL, &r);
    else if (verb == 1)
        ext_prioritize(c, body, len, T0, NULL, &r);
    else
        assert_int_equal(ext_bind_parse(body, len, &a, NULL, &r), FS_EPARSE);
    json_t *j = reply_json(&r, 400);
    const char *err = json_string_value(json_object_get(j, "Error"));
    assert_non_null(err);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    json_decref(j);
    ext_reply_release(&r);
}

static void test_malformed_requests(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    node(c, "n1", "4", "8Gi");
    for (int verb = 0; verb < 2; verb++) {
        expect_400(c, "{\"Pod\":", 7, "malformed json", verb);
        expect_400(c, "[1,2]", 5, "not a json object", verb);
        expect_400(c, "{\"NodeNames\":[\"n1\"]}", 20, "Pod is missing", verb);
        const char *nonodes = "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"uid\":\"u\"}}}";
        expect_400(c, nonodes, strlen(nonodes), "neither NodeNames", verb);
        const char *badname = "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"uid\":\"u\"}},\"NodeNames\":[1]}";
        expect_400(c, badname, strlen(badname), "node 0 has no name", verb);
        const char *badq = "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"uid\":\"u\"},\"spec\":{\"containers\":"
                           "[{\"resources\":{\"requests\":{\"cpu\":\"lots\"}}}]}},\"NodeNames\":[]}";
        expect_400(c, badq, strlen(badq), "bad resource quantity", verb);
        expect_400(c, "\0\0", 2, "malformed json", verb);
        /* jansson's message quotes the bad bytes: the reply must still be valid JSON */
        expect_400(c, "{\"Zb\\\xde\x84U\xa3", 9, "malformed json", verb);
    }
    size_t big = EXT_MAX_BODY_DEFAULT + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    expect_400(c, huge, big, "exceeds the limit", 0);
    expect_400(c, huge, big, "exceeds the limit", 2);
    free(huge);
    expect_400(c, "{\"PodName\":\"a\"}", 15, "PodNamespace is missing", 2);
    expect_400(c, "{\"PodName\":\"a\",\"PodNamespace\":\"d\",\"PodUID\":\"u\",\"Node\":7}", 56, "Node is missing", 2);
    cluster_release(c);
}


/* The streaming (yajl) path for the scheduler's usual request shape and the general jansson
 * path give byte-identical replies; shapes the streaming path declines (duplicates, a
 * NodeList) still get the general path's answer, and broken ones a 400. */
static void test_fast_and_general_parsers_agree(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    node(c, "n1", "4", "8Gi");
    node(c, "n2", "1", "8Gi");
    const char *pod = "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u1\"},"
                      "\"spec\":{\"containers\":[{\"name\":\"m\",\"resources\":{\"requests\":{\"cpu\":\"2\"}}}]}}";
    char bodies[6][1024];
    /* 0: the scheduler's shape (streamed); 1: lowercase keys, other order, whitespace
     * (streamed); 2: an escaped name (streamed, decoded); 3: an unknown extra key (streamed,
     * ignored); 4: "nodes" null last with tabs (streamed); 5: duplicate NodeNames (general:
     * jansson keeps the last) */
    snprintf(bodies[0], 1024, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n1\",\"n2\",\"zz\"]}", pod);
    snprintf(bodies[1], 1024, " { \"nodenames\" : [ \"n1\" , \"n2\",\"zz\" ] ,\n \"pod\" : %s } ", pod);
    snprintf(bodies[2], 1024, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n\\u0031\",\"n2\",\"zz\"]}", pod);
    snprintf(bodies[3], 1024, "{\"Pod\":%s,\"Extra\":{\"a\":[1]},\"NodeNames\":[\"n1\",\"n2\",\"zz\"]}", pod);
    snprintf(bodies[4], 1024, "{\"NodeNames\":[\"n1\",\"n2\",\"zz\"],\t\"Pod\":%s,\"Nodes\":\tnull}", pod);
    snprintf(bodies[5], 1024, "{\"Pod\":%s,\"NodeNames\":[\"x\"],\"NodeNames\":[\"n1\",\"n2\",\"zz\"]}", pod);
    for (int verb = 0; verb < 2; verb++) {
        struct ext_reply first = {0};
        for (int i = 0; i < 6; i++) {
            struct ext_reply r;
            if (verb == 0)
                ext_filter(c, bodies[i], strlen(bodies[i]), T0, NULL, &r);
            else
                ext_prioritize(c, bodies[i], strlen(bodies[i]), T0, NULL, &r);
            assert_int_equal(r.status, 200);
            if (i == 0) {
                first = r;
                continue;
            }
            if (strcmp(first.body, r.body) != 0)
                fail_msg("body %d answers %s, not %s", i, r.body, first.body);
            ext_reply_release(&r);
        }
        if (verb == 0) {
            assert_non_null(strstr(first.body, "\"NodeNames\":[\"n1\"]"));
            assert_non_null(strstr(first.body, "\"zz\":\"node zz is unknown to foresight"));
        } else {
            assert_non_null(strstr(first.body, "{\"Host\":\"n2\",\"Score\":0}"));
        }
        ext_reply_release(&first);
        /* a name that needs escaping in the reply (a quote, a control character) */
        char esc[1024];
        snprintf(esc, sizeof(esc), "{\"Pod\":%s,\"NodeNames\":[\"n1\",\"q\\\"x\\ty\"]}", pod);
        struct ext_reply er;
        if (verb == 0)
            ext_filter(c, esc, strlen(esc), T0, NULL, &er);
        else
            ext_prioritize(c, esc, strlen(esc), T0, NULL, &er);
        assert_int_equal(er.status, 200);
        json_error_t jerr;
        json_t *ej = json_loads(er.body, 0, &jerr);
        if (!ej)
            fail_msg("reply is not JSON (%s): %s", jerr.text, er.body);
        if (verb == 0)
            assert_non_null(json_object_get(json_object_get(ej, "FailedNodes"), "q\"x\ty"));
        else
            assert_string_equal(json_string_value(json_object_get(json_array_get(ej, 1), "Host")), "q\"x\ty");
        json_decref(ej);
        ext_reply_release(&er);
        /* broken variants of the usual shape */
        char bad[1024];
        snprintf(bad, sizeof(bad), "{\"Pod\":%s,\"NodeNames\":[\"n1\",]}", pod);
        expect_400(c, bad, strlen(bad), "malformed json", verb);
        snprintf(bad, sizeof(bad), "{\"Pod\":%s,\"NodeNames\":[\"n1\"", pod);
        expect_400(c, bad, strlen(bad), "malformed json", verb);
        snprintf(bad, sizeof(bad), "{\"Pod\":%s,\"NodeNames\":[\"n1\"]} x", pod);
        expect_400(c, bad, strlen(bad), "malformed json", verb);
        snprintf(bad, sizeof(bad), "{\"Pod\":{\"metadata\":}},\"NodeNames\":[\"n1\"]}");
        expect_400(c, bad, strlen(bad), "malformed json", verb);
        snprintf(bad, sizeof(bad), "{\"Pod\":%s,\"NodeNames\":[\"\"]}", pod);
        expect_400(c, bad, strlen(bad), "node 0 has no name", verb);
    }
    /* the same names again after node zz appears: the remembered look-ups are not reused */
    node(c, "zz", "4", "8Gi");
    struct ext_reply r;
    ext_filter(c, bodies[0], strlen(bodies[0]), T0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"NodeNames\":[\"n1\",\"zz\"]"));
    ext_reply_release(&r);
    cluster_release(c);
}


/* The memo of the last node list (kube-scheduler sends prioritize the list filter answered):
 * a request whose bytes after the NodeNames key equal the memo's takes its names without
 * parsing them, and the answer is still that request's own (its Pod); bytes that differ, a
 * list followed by more keys, or a memo tail without a Pod before it are not taken. */
static void test_names_memo(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    node(c, "n1", "4", "8Gi");
    node(c, "n2", "1", "8Gi");
    char small[2048], big[2048], body[8192];
    snprintf(small, sizeof(small), "%s", pod_json("p1", "uid-1", NULL, "500m", ""));
    snprintf(big, sizeof(big), "%s", pod_json("p2", "uid-2", NULL, "2", ""));
    struct ext_reply r;

    snprintf(body, sizeof(body), "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n1\",\"n2\"]}", small);
    ext_filter(c, body, strlen(body), T0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"NodeNames\":[\"n1\",\"n2\"]"));
    ext_reply_release(&r);
    const struct ext_names *memo = c->names_memo;
    assert_non_null(memo);

    /* the same list for another pod: the memo's names, this pod's answer */
    snprintf(body, sizeof(body), "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n1\",\"n2\"]}", big);
    ext_filter(c, body, strlen(body), T0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_ptr_equal(c->names_memo, memo);
    assert_non_null(strstr(r.body, "\"NodeNames\":[\"n1\"]"));
    assert_non_null(strstr(r.body, "\"n2\":\"cpu: 0m reserved + 2000m"));
    ext_reply_release(&r);
    ext_prioritize(c, body, strlen(body), T0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_ptr_equal(c->names_memo, memo);
    assert_non_null(strstr(r.body, "{\"Host\":\"n2\",\"Score\":0}"));
    assert_null(strstr(r.body, "{\"Host\":\"n1\",\"Score\":0}"));
    ext_reply_release(&r);

    /* one byte different after the key: parsed, and the new memo */
    snprintf(body, sizeof(body), "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n2\",\"n1\"]}", big);
    ext_filter(c, body, strlen(body), T0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_ptr_not_equal(c->names_memo, memo);
    assert_non_null(strstr(r.body, "\"NodeNames\":[\"n1\"]"));
    ext_reply_release(&r);
    memo = c->names_memo;

    /* the memo's tail, but no Pod before it: still a 400 */
    snprintf(body, sizeof(body), "{\"Nodes\":null,\"NodeNames\":[\"n2\",\"n1\"]}");
    expect_400(c, body, strlen(body), "Pod is missing", 0);
    /* the memo's tail, and trailing bytes: compared too, so still malformed */
    snprintf(body, sizeof(body), "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"n2\",\"n1\"]}}", big);
    expect_400(c, body, strlen(body), "malformed json", 1);

    /* a list followed by another key is answered but not remembered: what follows the names
     * would then depend on what came before them */
    snprintf(body, sizeof(body), "{\"NodeNames\":[\"n1\"],\"Pod\":%s}", small);
    ext_filter(c, body, strlen(body), T0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"NodeNames\":[\"n1\"]"));
    ext_reply_release(&r);
    assert_ptr_equal(c->names_memo, memo);

    /* a node added since: the memo's names are looked up again */
    node(c, "n3", "4", "8Gi");
    snprintf(body, sizeof(body), "{\"Pod\":%s,\"NodeNames\":[\"n3\",\"zz\"]}", small);
    ext_filter(c, body, strlen(body), T0, NULL, &r);
    ext_reply_release(&r);
    node(c, "zz", "4", "8Gi");
    ext_filter(c, body, strlen(body), T0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"NodeNames\":[\"n3\",\"zz\"]"));
    ext_reply_release(&r);
    cluster_release(c);
}

/* Nodes n0000.. of 1 to 7 cores, two in three with a pod of 0 to 1000m already bound. */
static void busy_nodes(struct cluster *c, int n)
{
    char name[32], cpu[16], uid[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "n%04d", i);
        snprintf(cpu, sizeof(cpu), "%d", 1 + i % 7);
        node(c, name, cpu, "8Gi");
        if (i % 3) {
            snprintf(uid, sizeof(uid), "u-busy-%d", i);
            snprintf(cpu, sizeof(cpu), "%dm", 250 * (i % 5));
            add_pod(c, uid, uid, NULL, cpu, name);
        }
    }
}

/* Checks spread over a pool's threads answer byte for byte what one thread answers: 3,000
 * nodes with different loads and sizes (some too small: FailedNodes in node order), a pod
 * with a predicted curve (scores vary), replicas of it (memos), filter and prioritize. */
static void test_pool_answers_as_serial(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    enum { N = 3000 };
    char uid[32];
    busy_nodes(c, N);
    microtask(c, "wave", "[0.5, 1.5, 2.5, 1.5, 0.5]");
    size_t cap = (size_t)N * 12 + 4096, len = 0;
    char *names = malloc(cap), *body = malloc(cap + 2048);
    assert_non_null(names);
    assert_non_null(body);
    len += (size_t)snprintf(names + len, cap - len, "[");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(names + len, cap - len, "%s\"n%04d\"", i ? "," : "", i);
    snprintf(names + len, cap - len, ",\"unknown\"]");
    struct fs_pool *pool;
    assert_int_equal(fs_pool_new(3, &pool), FS_OK);
    for (int replica = 0; replica < 3; replica++) {
        snprintf(uid, sizeof(uid), "u-wave-%d", replica);
        json_t *pod = parse(pod_json(uid, uid, "wave", "1", ""));
        char *pj = json_dumps(pod, JSON_COMPACT);
        json_decref(pod);
        snprintf(body, cap + 2048, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}", pj, names);
        free(pj);
        for (int verb = 0; verb < 2; verb++) {
            struct ext_reply serial, par;
            c->pool = NULL;
            if (verb == 0)
                ext_filter(c, body, strlen(body), T0, NULL, &serial);
            else
                ext_prioritize(c, body, strlen(body), T0, NULL, &serial);
            c->pool = pool;
            if (verb == 0)
                ext_filter(c, body, strlen(body), T0, NULL, &par);
            else
                ext_prioritize(c, body, strlen(body), T0, NULL, &par);
            c->pool = NULL;
            assert_int_equal(serial.status, 200);
            assert_int_equal(par.status, 200);
            if (serial.len != par.len || memcmp(serial.body, par.body, serial.len) != 0)
                fail_msg("replica %d verb %d: the pool's reply differs from the serial one", replica, verb);
            /* the case is not trivial: some nodes fail, scores differ */
            if (verb == 0)
                assert_non_null(strstr(serial.body, "\"unknown\":\"node unknown is unknown"));
            else
                assert_true(strstr(serial.body, "\"Score\":0}") && strstr(serial.body, "\"Score\":6}"));
            ext_reply_release(&serial);
            ext_reply_release(&par);
        }
    }
    fs_pool_free(pool);
    free(names);
    free(body);
    cluster_release(c);
}

/* Two clusters alike (600 busy nodes, the MicroTask "wave"); a request with every name and
 * one unknown. */
static void warm_cluster(struct cluster *c)
{
    struct ledger_config cfg = {.step_s = 30, .n_steps = 240};
    assert_int_equal(cluster_init(c, &cfg, T0), FS_OK);
    busy_nodes(c, 600);
    microtask(c, "wave", "[0.5, 1.5, 2.5, 1.5, 0.5]");
}

/* Two clusters alike, the second one checking on a pool (returned) and warmed up, the
 * first one never. */
static struct fs_pool *twin_clusters(struct cluster *cold, struct cluster *warm)
{
    struct fs_pool *pool;
    warm_cluster(cold);
    warm_cluster(warm);
    assert_int_equal(fs_pool_new(1, &pool), FS_OK);
    warm->pool = pool;
    return pool;
}

static void twin_clusters_release(struct cluster *cold, struct cluster *warm, struct fs_pool *pool)
{
    warm->pool = NULL;
    fs_pool_free(pool);
    cluster_release(cold);
    cluster_release(warm);
}

static char *wave_body(const char *uid)
{
    static char body[16384];
    json_t *pod = parse(pod_json(uid, uid, "wave", "1", ""));
    char *pj = json_dumps(pod, JSON_COMPACT);
    json_decref(pod);
    int len = snprintf(body, sizeof(body), "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[", pj);
    free(pj);
    for (int i = 0; i < 600; i++)
        len += snprintf(body + len, sizeof(body) - (size_t)len, "%s\"n%04d\"", i ? "," : "", i);
    snprintf(body + len, sizeof(body) - (size_t)len, ",\"unknown\"]}");
    return body;
}

static void same_reply(const struct ext_reply *a, const struct ext_reply *b, const char *what)
{
    assert_int_equal(a->status, 200);
    assert_int_equal(b->status, 200);
    if (a->len != b->len || memcmp(a->body, b->body, a->len) != 0)
        fail_msg("%s: the replies differ", what);
}

/* The prioritize worked out ahead after a filter (ext_prioritize_warm) fills the memos of
 * the nodes that fit, and only theirs; the prioritize then answers byte for byte what it
 * answers unwarmed, also when a node's ledger changed in between; a warm-up of a request
 * that does not parse does nothing. */
static void test_prioritize_warm(void **state)
{
    (void)state;
    static struct cluster cold, warm;
    struct fs_pool *pool = twin_clusters(&cold, &warm);
    struct ext_reply ref, got;

    char *body = wave_body("u-w1");
    ext_prioritize_warm(&warm, body, strlen(body), T0);
    /* n0000 (1 core, no pod) takes the 2.5-core wave nowhere; n0006 (7 cores) does */
    assert_int_equal(ledger_node_get(warm.ledger, "n0000")->memo.valid, 0);
    assert_int_equal(ledger_node_get(warm.ledger, "n0006")->memo.valid, 1);
    ext_prioritize(&cold, body, strlen(body), T0, NULL, &ref);
    ext_prioritize(&warm, body, strlen(body), T0, NULL, &got);
    same_reply(&ref, &got, "warmed");
    assert_true(strstr(ref.body, "{\"Host\":\"n0000\",\"Score\":0}") && strstr(ref.body, "\"Score\":6}"));
    ext_reply_release(&ref);
    ext_reply_release(&got);

    /* a pod bound on n0006 between the warm-up and the prioritize */
    body = wave_body("u-w2");
    ext_prioritize_warm(&warm, body, strlen(body), T0);
    add_pod(&warm, "late", "u-late", NULL, "5", "n0006"); /* the wave no longer fits there */
    add_pod(&cold, "late", "u-late", NULL, "5", "n0006");
    ext_prioritize(&cold, body, strlen(body), T0, NULL, &ref);
    ext_prioritize(&warm, body, strlen(body), T0, NULL, &got);
    same_reply(&ref, &got, "a claim in between");
    assert_non_null(strstr(ref.body, "{\"Host\":\"n0006\",\"Score\":0}"));
    ext_reply_release(&ref);
    ext_reply_release(&got);

    ext_prioritize_warm(&warm, "{\"Pod\":", 7, T0);
    ext_prioritize_warm(&warm, "", 0, T0);
    body = wave_body("u-w3");
    ext_prioritize(&cold, body, strlen(body), T0, NULL, &ref);
    ext_prioritize(&warm, body, strlen(body), T0, NULL, &got);
    same_reply(&ref, &got, "after bad requests");
    ext_reply_release(&ref);
    ext_reply_release(&got);

    twin_clusters_release(&cold, &warm, pool);
}

/* kube-scheduler's prioritize after a filter on c: the pod of filter_body (the Pod object
 * as it was sent) and the list the filter answered, as Go's encoder writes them. */
static char *prioritize_body(const char *filter_body, const struct ext_reply *filter)
{
    static char body[65536];
    json_t *f = parse(filter_body), *r = parse(filter->body);
    char *pod = json_dumps(json_object_get(f, "Pod"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *names = json_dumps(json_object_get(r, "NodeNames"), JSON_COMPACT);
    assert_true(pod && names);
    snprintf(body, sizeof(body), "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}", pod, names);
    free(pod);
    free(names);
    json_decref(f);
    json_decref(r);
    return body;
}

/* The prioritize kube-scheduler sends after a filter (that pod, the list the filter
 * answered) is answered by the warm-up, ahead: the reply is byte for byte what a cluster
 * without warm-ups answers, and it is used only while nothing it depends on changed: a
 * claim, a MicroTask's new prediction, another second or another pod in between each get an
 * answer worked out afresh, the same as the cold cluster's. */
static void test_prioritize_answered_ahead(void **state)
{
    (void)state;
    static struct cluster cold, warm;
    struct fs_pool *pool = twin_clusters(&cold, &warm);
    struct ext_counters ctr = {0};
    /* a pod waiting for its bind, which comes between one filter and its prioritize */
    add_pod(&warm, "pend", "u-pend", NULL, "4", "");
    add_pod(&cold, "pend", "u-pend", NULL, "4", "");
    for (int k = 0; k < 7; k++) {
        char uid[32];
        snprintf(uid, sizeof(uid), "u-a%d", k);
        char *fbody = strdup(wave_body(uid));
        struct ext_reply f, ref, got;
        ext_filter(&warm, fbody, strlen(fbody), T0, NULL, &f);
        assert_int_equal(f.status, 200);
        /* some nodes fail (n0000 is too small, "unknown" is unknown): a shorter list */
        assert_non_null(strstr(f.body, "\"n0013\""));
        assert_null(strstr(f.body, "[\"n0000\""));
        ext_prioritize_warm(&warm, fbody, strlen(fbody), T0);
        char *pbody = prioritize_body(fbody, &f);
        int64_t at = T0;
        const char *what = "nothing in between";
        if (k == 1) {
            what = "a pod seen bound in between";
            add_pod(&warm, "late", "u-late", NULL, "5", "n0006");
            add_pod(&cold, "late", "u-late", NULL, "5", "n0006");
        } else if (k == 2) {
            what = "a bind in between"; /* 4 more cores on n0013 (7): the wave fits no more */
            const char *bb = "{\"PodName\":\"pend\",\"PodNamespace\":\"default\",\"PodUID\":\"u-pend\","
                             "\"Node\":\"n0013\"}";
            struct ext_bind_args ba;
            struct ext_reply br;
            char msg[256];
            assert_int_equal(ext_bind_parse(bb, strlen(bb), &ba, NULL, &br), FS_OK);
            assert_int_equal(ext_bind_claim(&warm, &ba, NULL, T0, NULL, msg, sizeof(msg)), FS_OK);
            assert_int_equal(ext_bind_claim(&cold, &ba, NULL, T0, NULL, msg, sizeof(msg)), FS_OK);
        } else if (k == 3) {
            what = "a new prediction in between";
            microtask(&warm, "wave", "[0.5, 1.5, 3.5, 1.5, 0.5]");
            microtask(&cold, "wave", "[0.5, 1.5, 3.5, 1.5, 0.5]");
        } else if (k == 4) {
            what = "a second later";
            at = T0 + 1;
        } else if (k == 5) {
            what = "another pod";
            char other[2100]; /* 6 cores by its requests: fits fewer nodes, scores otherwise */
            snprintf(other, sizeof(other), "{\"Pod\":%s}", pod_json("o", "u-other", NULL, "6", ""));
            pbody = prioritize_body(other, &f);
        }
        unsigned long hits = ctr.prioritize_ahead;
        ext_prioritize(&cold, pbody, strlen(pbody), at, NULL, &ref);
        ext_prioritize(&warm, pbody, strlen(pbody), at, &ctr, &got);
        same_reply(&ref, &got, what);
        int scored = 0; /* the case is not trivial: nodes score above 0 */
        for (int v = 1; v <= 10; v++) {
            char sc[16];
            snprintf(sc, sizeof(sc), "\"Score\":%d}", v);
            scored |= strstr(ref.body, sc) != NULL;
        }
        if (!scored)
            fail_msg("%s: no node scores above 0: %.200s", what, ref.body);
        if (k == 2) /* the case is not trivial: the bind changed the answer */
            assert_non_null(strstr(ref.body, "{\"Host\":\"n0013\",\"Score\":0}"));
        /* taken ahead only when nothing changed; k == 6 asks twice: the answer is used up */
        assert_int_equal(ctr.prioritize_ahead - hits, k == 0 || k == 6);
        if (k == 6) {
            ext_reply_release(&got);
            ext_prioritize(&warm, pbody, strlen(pbody), at, &ctr, &got);
            same_reply(&ref, &got, "asked again");
            assert_int_equal(ctr.prioritize_ahead - hits, 1);
        }
        ext_reply_release(&f);
        ext_reply_release(&ref);
        ext_reply_release(&got);
        free(fbody);
    }
    twin_clusters_release(&cold, &warm, pool);
}

/* Each reply to body with its list read whole and cut in two (ext_args_split_min), on one
 * thread and on a pool, is the same; returns how many of the three cuts held. */
static unsigned long split_agrees(struct cluster *c, struct fs_pool *pool, const char *body, size_t len)
{
    unsigned long before = ext_args_splits();
    for (int verb = 0; verb < 2; verb++) {
        struct ext_reply r[3];
        for (int k = 0; k < 3; k++) {
            ext_names_unref(c->names_memo); /* else a list met before is taken whole */
            c->names_memo = NULL;
            ext_args_split_min = k == 0 ? SIZE_MAX : 0;
            c->pool = k == 2 ? pool : NULL;
            if (verb == 0)
                ext_filter(c, body, len, T0, NULL, &r[k]);
            else
                ext_prioritize(c, body, len, T0, NULL, &r[k]);
        }
        c->pool = NULL;
        ext_args_split_min = 16384;
        for (int k = 1; k < 3; k++)
            if (r[k].status != r[0].status || r[k].len != r[0].len || memcmp(r[k].body, r[0].body, r[0].len) != 0)
                fail_msg("verb %d, %s: cut in two answers %d %.200s, whole %d %.200s", verb,
                         k == 1 ? "one thread" : "pool", r[k].status, r[k].body, r[0].status, r[0].body);
        for (int k = 0; k < 3; k++)
            ext_reply_release(&r[k]);
    }
    return ext_args_splits() - before;
}

/* A long list read in two halves at once answers as the list read whole: the scheduler's
 * shape (the cut holds), escaped names at the cut, a Pod holding `","` past the middle, the
 * list before the Pod, and broken bodies (a list cut short, a number or a nested value in
 * the second half, trailing bytes, the key twice). */
static void test_split_list_agrees(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    busy_nodes(c, 600);
    microtask(c, "wave", "[0.5, 1.5, 2.5, 1.5, 0.5]");
    struct fs_pool *pool;
    assert_int_equal(fs_pool_new(1, &pool), FS_OK);
    const char *pod = pod_json("p", "u-split", "wave", "1", "");
    char names[8192], esc[8192], bad[8192];
    int n = snprintf(names, sizeof(names), "[");
    for (int i = 0; i < 600; i++)
        n += snprintf(names + n, sizeof(names) - (size_t)n, "%s\"n%04d\"", i ? "," : "", i);
    snprintf(names + n, sizeof(names) - (size_t)n, ",\"unknown\"]");
    char *body = malloc(65536);
    assert_non_null(body);
#define CASE(expect_cut, ...)                                                                      \
    do {                                                                                           \
        size_t len_ = (size_t)snprintf(body, 65536, __VA_ARGS__);                                  \
        unsigned long cuts_ = split_agrees(c, pool, body, len_);                                   \
        if (expect_cut >= 0 && cuts_ != (unsigned long)(expect_cut))                               \
            fail_msg("line %d: %lu of 4 cuts held, expected %d", __LINE__, cuts_, expect_cut);     \
    } while (0)
    /* the scheduler's shape: each of the 4 split parses (2 verbs x thread/pool) joins */
    CASE(4, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}", pod, names);
    CASE(4, "{\"Pod\":%s,\"NodeNames\":%s,\"Nodes\":null}", pod, names);
    /* the list first: the cut lands in the Pod or the list, either way the same answer */
    CASE(-1, "{\"NodeNames\":%s,\"Pod\":%s}", names, pod);
    /* escaped names all along (decoded; one needs escaping back in the reply) */
    int m = snprintf(esc, sizeof(esc), "[");
    for (int i = 0; i < 600; i++)
        m += snprintf(esc + m, sizeof(esc) - (size_t)m, "%s\"\\u006e%04d\"", i ? "," : "", i);
    snprintf(esc + m, sizeof(esc) - (size_t)m, ",\"q\\\"x\"]");
    CASE(4, "{\"Pod\":%s,\"NodeNames\":%s}", pod, esc);
    /* a Pod whose annotation holds "," runs past the middle, and a short list: no cut holds */
    char annot[12000];
    int a = 0;
    for (int i = 0; i < 1500; i++)
        a += snprintf(annot + a, sizeof(annot) - (size_t)a, "\\\",\\\"x");
    char podx[16000];
    snprintf(podx, sizeof(podx), "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u-x\","
             "\"annotations\":{\"a\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":"
             "{\"requests\":{\"cpu\":\"1\"}}}]}}", annot);
    CASE(0, "{\"Pod\":%s,\"NodeNames\":[\"n0001\",\"n0002\"]}", podx);
    /* broken: each a 400, the same one */
    snprintf(bad, sizeof(bad), "%.*s", n - 40, names); /* the list cut short */
    CASE(0, "{\"Pod\":%s,\"NodeNames\":%s", pod, bad);
    snprintf(bad, sizeof(bad), "%s", names);
    memcpy(bad + n - 30, "7,", 2); /* a number in the second half */
    CASE(-1, "{\"Pod\":%s,\"NodeNames\":%s}", pod, bad);
    memcpy(bad + n - 30, "[]", 2);
    CASE(-1, "{\"Pod\":%s,\"NodeNames\":%s}", pod, bad);
    CASE(-1, "{\"Pod\":%s,\"NodeNames\":%s} x", pod, names);
    CASE(-1, "{\"Pod\":%s,\"NodeNames\":%s,\"NodeNames\":[\"n0001\"]}", pod, names);
#undef CASE
    free(body);
    fs_pool_free(pool);
    cluster_release(c);
}

/* Restart: a cluster rebuilt from the same objects holds the same claims, in any order. */
static void test_rebuild_is_idempotent(void **state)
{
    (void)state;
    struct cluster *a = mk_cluster();
    static struct cluster b;
    struct ledger_config cfg = {.step_s = 30, .n_steps = 240};
    assert_int_equal(cluster_init(&b, &cfg, T0), FS_OK);
    /* a: nodes, microtasks, then pods; b: pods first, then nodes, microtasks last */
    node(a, "n1", "8", "16Gi");
    microtask(a, "m1", "[1, 2, 3]");
    add_pod(a, "p1", "u1", "m1", "3", "n1");
    add_pod(a, "p2", "u2", NULL, "1", "n1");
    add_pod(a, "p2", "u2", NULL, "1", "n1"); /* a duplicate event */

    add_pod(&b, "p2", "u2", NULL, "1", "n1");
    add_pod(&b, "p1", "u1", "m1", "3", "n1");
    node(&b, "n1", "8", "16Gi");
    microtask(&b, "m1", "[1, 2, 3]");
    struct ledger_node *na = ledger_node_get(a->ledger, "n1"), *nb = ledger_node_get(b.ledger, "n1");
    assert_int_equal(a->ledger->claims.len, 2);
    assert_int_equal(b.ledger->claims.len, 2);
    for (int k = 0; k < 240; k++)
        assert_int_equal(ledger_reserved(a->ledger, na, CURVE_CPU, T0 + 30 * k),
                         ledger_reserved(b.ledger, nb, CURVE_CPU, T0 + 30 * k));
    assert_int_equal(ledger_reserved(a->ledger, na, CURVE_CPU, T0 + 150), 4000);
    assert_int_equal(ledger_reserved(a->ledger, na, CURVE_CPU, T0 + 180), 1000);
    /* the pod finishes: its claim goes */
    json_t *done = parse(pod_json("p1", "u1", "m1", "3", "n1"));
    json_object_set_new(json_object_get(done, "status"), "phase", json_string("Succeeded"));
    assert_int_equal(cluster_pod_upsert(a, done, T0), FS_OK);
    assert_null(ledger_claim_get(a->ledger, "u1"));
    assert_int_equal(cluster_pod_delete(a, done), FS_OK);
    json_decref(done);
    struct cluster_stats st;
    cluster_stats(a, &st);
    assert_int_equal(st.pods, 1);
    assert_int_equal(st.claims, 1);
    assert_int_equal(st.predictions, 1);
    cluster_release(a);
    cluster_release(&b);
}

/* A node with a pod capacity and counted resources in allocatable (JSON object text). */
static void node_with(struct cluster *c, const char *name, const char *alloc_json)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\"},\"status\":{\"allocatable\":%s}}", name, alloc_json);
    json_t *j = parse(buf);
    assert_int_equal(cluster_node_upsert(c, j), FS_OK);
    json_decref(j);
}

/* A pod of 100m cpu that also requests the given resources (a JSON object's members). */
static char *pod_with(const char *name, const char *uid, const char *extra, const char *node_name)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"%s\"},\"spec\":{\"nodeName\":"
             "\"%s\",\"containers\":[{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"100m\"%s%s}}}]},"
             "\"status\":{\"phase\":\"%s\"}}",
             name, uid, node_name, extra[0] ? "," : "", extra, node_name[0] ? "Running" : "Pending");
    return buf;
}

static void add_pod_with(struct cluster *c, const char *name, const char *uid, const char *extra,
                         const char *node_name)
{
    json_t *j = parse(pod_with(name, uid, extra, node_name));
    assert_int_equal(cluster_pod_upsert(c, j, T0), FS_OK);
    json_decref(j);
}

/* Filters pod on the names; returns the reply (caller frees). */
static json_t *filter_pod(struct cluster *c, const char *pod, const char *names, struct ext_counters *ctr)
{
    char podcopy[2048];
    snprintf(podcopy, sizeof(podcopy), "%s", pod);
    char *body = args(podcopy, names, 0);
    struct ext_reply r;
    ext_filter(c, body, strlen(body), T0, ctr, &r);
    json_t *j = reply_json(&r, 200);
    ext_reply_release(&r);
    return j;
}

static const char *failed(const json_t *j, const char *group, const char *node_name)
{
    return json_string_value(json_object_get(json_object_get(j, group), node_name));
}

/* With NodeResourcesFit's filter off in the foresight profile, filter itself refuses a node
 * whose pod capacity is used up, as NodeResourcesFit would ("Too many pods"). */
static void test_filter_enforces_pod_count(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    struct ext_counters ctr = {0};
    node_with(c, "two", "{\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"2\"}");
    node_with(c, "many", "{\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"110\"}");
    node_with(c, "none", "{\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"0\"}");
    add_pod_with(c, "a", "uid-a", "", "two");
    json_t *j = filter_pod(c, pod_with("p", "uid-p", "", ""), "[\"two\",\"many\",\"none\"]", &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 2); /* one slot left on "two" */
    assert_non_null(failed(j, "FailedAndUnresolvableNodes", "none"));
    assert_string_equal(failed(j, "FailedAndUnresolvableNodes", "none"), "pods: 0 of 0 pods already on the node");
    json_decref(j);

    add_pod_with(c, "b", "uid-b", "", "two");
    j = filter_pod(c, pod_with("p", "uid-p", "", ""), "[\"two\",\"many\"]", &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "NodeNames"), 0)), "many");
    /* resolvable: evicting a pod would make room */
    assert_string_equal(failed(j, "FailedNodes", "two"), "pods: 2 of 2 pods already on the node");
    assert_int_equal(ctr.rejections[EXT_R_PODS], 1);
    json_decref(j);

    /* a pod already counted on the node (its own claim) is not counted twice */
    j = filter_pod(c, pod_with("b", "uid-b", "", ""), "[\"two\"]", &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
    json_decref(j);

    /* a finished pod frees its slot */
    json_t *done = parse(pod_with("a", "uid-a", "", "two"));
    json_object_set_new(json_object_get(done, "status"), "phase", json_string("Succeeded"));
    assert_int_equal(cluster_pod_upsert(c, done, T0), FS_OK);
    json_decref(done);
    j = filter_pod(c, pod_with("p", "uid-p", "", ""), "[\"two\"]", &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
    json_decref(j);

    /* prioritize scores a full node 0 */
    add_pod_with(c, "d", "uid-d", "", "two");
    char podcopy[2048];
    snprintf(podcopy, sizeof(podcopy), "%s", pod_with("p", "uid-p", "", ""));
    char *body = args(podcopy, "[\"two\",\"many\"]", 0);
    struct ext_reply r;
    ext_prioritize(c, body, strlen(body), T0, &ctr, &r);
    assert_non_null(strstr(r.body, "{\"Host\":\"two\",\"Score\":0}"));
    assert_null(strstr(r.body, "{\"Host\":\"many\",\"Score\":0}"));
    ext_reply_release(&r);
    cluster_release(c);
}

/* Extended resources (and ephemeral-storage, hugepages) are counted per node from the
 * pods' effective requests: containers summed, the largest init container if larger,
 * plus overhead. */
static void test_filter_enforces_extended_resources(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    struct ext_counters ctr = {0};
    node_with(c, "gpu4", "{\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"110\",\"nvidia.com/gpu\":\"4\","
                         "\"ephemeral-storage\":\"10Gi\"}");
    node_with(c, "cpu-only", "{\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"110\"}");
    add_pod_with(c, "a", "uid-a", "\"nvidia.com/gpu\":\"3\"", "gpu4");
    const char *names = "[\"gpu4\",\"cpu-only\"]";

    json_t *j = filter_pod(c, pod_with("p", "uid-p", "\"nvidia.com/gpu\":\"1\"", ""), names, &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "NodeNames"), 0)), "gpu4");
    assert_string_equal(failed(j, "FailedAndUnresolvableNodes", "cpu-only"),
                        "nvidia.com/gpu: 1 requested > 0 on the node (the pod alone exceeds the node)");
    json_decref(j);

    j = filter_pod(c, pod_with("p", "uid-p", "\"nvidia.com/gpu\":\"2\"", ""), names, &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 0);
    assert_string_equal(failed(j, "FailedNodes", "gpu4"), "nvidia.com/gpu: 2 requested + 3 in use > 4 on the node");
    assert_int_equal(ctr.rejections[EXT_R_EXTENDED], 1);
    json_decref(j);

    /* storage counts the same way; a pod asking for none of it passes anywhere */
    j = filter_pod(c, pod_with("p", "uid-p", "\"ephemeral-storage\":\"11Gi\"", ""), names, &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 0);
    assert_non_null(failed(j, "FailedAndUnresolvableNodes", "gpu4"));
    json_decref(j);
    j = filter_pod(c, pod_with("p", "uid-p", "\"nvidia.com/gpu\":\"0\"", ""), names, &ctr);
    assert_int_equal(json_array_size(json_object_get(j, "NodeNames")), 2);
    json_decref(j);

    /* effective requests: max(sum of containers, largest init container) + overhead */
    json_t *pj = parse("{\"metadata\":{\"name\":\"q\",\"namespace\":\"default\",\"uid\":\"uid-q\"},\"spec\":{"
                       "\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"example.com/x\":\"1\"}}},"
                       "{\"name\":\"b\",\"resources\":{\"requests\":{\"example.com/x\":\"1\"}}}],"
                       "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"example.com/x\":\"3\","
                       "\"example.com/y\":\"500m\"}}}],\"overhead\":{\"example.com/x\":\"1\"}}}");
    struct cluster_pod cp;
    assert_int_equal(cluster_pod_parse(pj, &cp), FS_OK);
    assert_int_equal(cp.n_ext, 2);
    for (int i = 0; i < cp.n_ext; i++) {
        if (strcmp(cp.ext[i].name, "example.com/x") == 0)
            assert_int_equal(cp.ext[i].milli, 4000);
        else
            assert_int_equal(cp.ext[i].milli, 500);
    }
    json_decref(pj);

    /* bind re-checks under the lock: the fourth GPU goes to one pod only */
    add_pod_with(c, "b", "uid-b", "\"nvidia.com/gpu\":\"1\"", "");
    add_pod_with(c, "e", "uid-e", "\"nvidia.com/gpu\":\"1\"", "");
    struct ext_bind_args ba, be;
    struct ext_reply r;
    char msg[256];
    const char *bind_b = "{\"PodName\":\"b\",\"PodNamespace\":\"default\",\"PodUID\":\"uid-b\",\"Node\":\"gpu4\"}";
    const char *bind_e = "{\"PodName\":\"e\",\"PodNamespace\":\"default\",\"PodUID\":\"uid-e\",\"Node\":\"gpu4\"}";
    assert_int_equal(ext_bind_parse(bind_b, strlen(bind_b), &ba, &ctr, &r), FS_OK);
    assert_int_equal(ext_bind_parse(bind_e, strlen(bind_e), &be, &ctr, &r), FS_OK);
    assert_int_equal(ext_bind_claim(c, &ba, NULL, T0, &ctr, msg, sizeof(msg)), FS_OK);
    assert_int_equal(ext_bind_claim(c, &be, NULL, T0, &ctr, msg, sizeof(msg)), FS_ECONFLICT);
    assert_string_equal(msg, "pod default/e no longer fits node gpu4: nvidia.com/gpu: 1 requested + 4 in use > 4 on "
                             "the node");
    assert_null(ledger_claim_get(c->ledger, "uid-e"));
    cluster_release(c);
}

/* More kinds of counted resources than a pod record holds: a clear 400, not a crash. */
static void test_too_many_counted_resources(void **state)
{
    (void)state;
    struct cluster *c = mk_cluster();
    struct ext_counters ctr = {0};
    node(c, "n1", "4", "8Gi");
    char extra[512] = "", item[64];
    for (int i = 0; i < CLUSTER_MAX_EXT + 1; i++) {
        snprintf(item, sizeof(item), "%s\"example.com/r%d\":\"1\"", i ? "," : "", i);
        strncat(extra, item, sizeof(extra) - strlen(extra) - 1);
    }
    char podcopy[2048];
    snprintf(podcopy, sizeof(podcopy), "%s", pod_with("p", "uid-p", extra, ""));
    char *body = args(podcopy, "[\"n1\"]", 0);
    struct ext_reply r;
    ext_filter(c, body, strlen(body), T0, &ctr, &r);
    json_t *j = reply_json(&r, 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "Error")), "more than 8 kinds"));
    json_decref(j);
    ext_reply_release(&r);
    cluster_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_cache_mode),
        cmocka_unit_test(test_filter_lowercase_keys),
        cmocka_unit_test(test_filter_all_pass_list),
        cmocka_unit_test(test_filter_full_nodes_mode),
        cmocka_unit_test(test_filter_with_predictions),
        cmocka_unit_test(test_prioritize_scores),
        cmocka_unit_test(test_bind_claims_and_releases),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_rebuild_is_idempotent),
        cmocka_unit_test(test_filter_enforces_pod_count),
        cmocka_unit_test(test_filter_enforces_extended_resources),
        cmocka_unit_test(test_too_many_counted_resources),
        cmocka_unit_test(test_fast_and_general_parsers_agree),
        cmocka_unit_test(test_names_memo),
        cmocka_unit_test(test_pool_answers_as_serial),
        cmocka_unit_test(test_prioritize_warm),
        cmocka_unit_test(test_split_list_agrees),
        cmocka_unit_test(test_prioritize_answered_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
