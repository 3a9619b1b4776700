/* A replaying API endpoint for the event-throughput benchmark (hack/bench/kube.sh): serves
 * a ConfigMap list captured from the real kube-apiserver, then to the first watch a stream
 * of N MODIFIED events built from those objects, as fast as the client reads. Both the C
 * informer and the client-go one read the same bytes, so the rate measures the clients.
 * The server is tests/support/fake_http (libwebsockets).
 *   kube_replay LIST_JSON_FILE N PORT_FILE        (plain HTTP on 127.0.0.1, no auth) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/fake_http.h"

static char *list_body, *events;
static size_t list_len, events_len;
static int watch_served; /* service thread only */

static void answer(void *arg, const struct fake_http_req *req, struct fake_http_reply *reply)
{
    (void)arg;
    char v[16];
    int watch = fake_http_query(req, "watch", v, sizeof(v)) && (!strcmp(v, "1") || !strcmp(v, "true"));
    if (watch && fake_http_query(req, "sendInitialEvents", v, sizeof(v)) && !strcmp(v, "true")) {
        /* no streaming lists here: clients fall back to LIST */
        reply->status = 400;
        reply->body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                      "\"reason\":\"BadRequest\",\"code\":400,\"message\":\"sendInitialEvents not supported\"}";
        return;
    }
    if (!watch) {
        reply->body = list_body;
        reply->body_len = list_len;
        reply->body_static = 1;
        return;
    }
    /* the first watch gets every event; any later one stays empty; both stay open until
     * the client goes (or 600 s) */
    reply->stream = 1;
    reply->end_after_ms = 600 * 1000L;
    if (!watch_served) {
        watch_served = 1;
        reply->body = events;
        reply->body_len = events_len;
        reply->body_static = 1;
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kube_replay LIST_JSON_FILE N PORT_FILE\n");
        return 2;
    }
    json_error_t err;
    json_t *list = json_load_file(argv[1], 0, &err);
    json_t *items = json_object_get(list, "items");
    long n = strtol(argv[2], NULL, 10);
    if (!list || !json_array_size(items) || n <= 0) {
        fprintf(stderr, "kube_replay: bad list %s: %s\n", argv[1], err.text);
        return 1;
    }
    long base = strtol(json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion")), NULL, 10);
    /* the list: as captured (the items carry the kind only at the top) */
    json_object_del(json_object_get(list, "metadata"), "continue");
    list_body = json_dumps(list, JSON_COMPACT);
    list_len = strlen(list_body);
    size_t cap = 0;
    FILE *mem = open_memstream(&events, &cap);
    size_t nitems = json_array_size(items);
    for (long i = 0; i < n; i++) {
        json_t *o = json_deep_copy(json_array_get(items, (size_t)i % nitems));
        char rv[32], v[32];
        snprintf(rv, sizeof(rv), "%ld", base + i + 1);
        snprintf(v, sizeof(v), "v%ld", i);
        json_object_set_new(o, "kind", json_string("ConfigMap"));
        json_object_set_new(o, "apiVersion", json_string("v1"));
        json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(rv));
        json_object_set_new(json_object_get(o, "data"), "id", json_string(v));
        json_t *ev = json_pack("{s:s, s:o}", "type", "MODIFIED", "object", o);
        char *line = json_dumps(ev, JSON_COMPACT);
        fprintf(mem, "%s\n", line);
        free(line);
        json_decref(ev);
    }
    fclose(mem);
    events_len = strlen(events);
    json_decref(list);

    struct fake_http *srv = NULL;
    if (fake_http_new(&srv, answer, NULL) != FS_OK) {
        fprintf(stderr, "kube_replay: cannot listen on 127.0.0.1\n");
        return 1;
    }
    int port = fake_http_port(srv);
    FILE *pf = fopen(argv[3], "w");
    if (!pf)
        return 1;
    fprintf(pf, "%d\n", port);
    fclose(pf);
    fprintf(stderr, "kube_replay: %zu objects, %ld events (%zu bytes) on port %d\n", nitems, n, events_len, port);
    for (;;)
        pause(); /* the server's thread answers; hack/bench/kube.sh kills us */
}
