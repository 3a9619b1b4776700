/* libFuzzer target for the extender's request parsers: the first byte picks filter (and the
 * warm-up after it), prioritize, bind or a MicroTask prediction; the rest is the body. Every reply must be
 * valid JSON with a status of 200, 400 or 500, and nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/cluster.h"
#include "ledger/curve.h"
#include "ledger/extargs.h"
#include "ledger/extproto.h"

#define T0 1735725600

static struct cluster *setup(void)
{
    static struct cluster c;
    static int done;
    if (done)
        return &c;
    struct ledger_config cfg = {.step_s = 30, .n_steps = 240};
    if (cluster_init(&c, &cfg, T0) != FS_OK)
        abort();
    ext_args_split_min = 64; /* lists read in two halves from small bodies on */
    json_t *n = json_loads("{\"metadata\":{\"name\":\"n1\"},\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\"}}}", 0, NULL);
    json_t *mt = json_loads("{\"metadata\":{\"name\":\"m\",\"namespace\":\"default\"},\"status\":{\"prediction\":"
                            "{\"stepSeconds\":60,\"start\":\"2025-01-01T10:00:00Z\",\"curves\":{\"cpu\":{\"p90\":[1,3]}}}}}",
                            0, NULL);
    if (!n || !mt || cluster_node_upsert(&c, n) != FS_OK || cluster_microtask_upsert(&c, mt, T0) != FS_OK)
        abort();
    json_decref(n);
    json_decref(mt);
    done = 1;
    return &c;
}

static void check(const struct ext_reply *r)
{
    if (r->status != 200 && r->status != 400 && r->status != 500)
        abort();
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    if (!j)
        abort();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cluster *c = setup();
    struct ext_reply r;
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0:
        ext_filter(c, body, len, T0, NULL, &r);
        check(&r);
        /* as after a filter's answer: the prioritize worked out ahead, with the list the
         * filter answered as the names memo, which a prioritize case may then meet */
        if (r.status == 200)
            ext_prioritize_warm(c, body, len, T0);
        ext_reply_release(&r);
        break;
    case 1:
        ext_prioritize(c, body, len, T0, NULL, &r);
        check(&r);
        ext_reply_release(&r);
        break;
    case 2: {
        struct ext_bind_args a;
        if (ext_bind_parse(body, len, &a, NULL, &r) == FS_OK) {
            char msg[512];
            enum fs_err rc = ext_bind_claim(c, &a, NULL, T0, NULL, msg, sizeof(msg));
            ext_bind_done(c, &a, rc == FS_OK ? NULL : msg, T0, NULL, &r);
        }
        check(&r);
        ext_reply_release(&r);
        break;
    }
    default: {
        struct curve cv;
        char err[160];
        curve_init(&cv);
        if (curve_parse(&cv, body, len, err, sizeof(err)) == FS_OK) {
            json_t *o = NULL;
            if (curve_to_json(&cv, &o) != FS_OK)
                abort();
            json_decref(o);
        }
        curve_release(&cv);
        break;
    }
    }
    return 0;
}
