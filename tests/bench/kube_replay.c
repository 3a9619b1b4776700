/* A replaying API endpoint for the event-throughput benchmark (hack/bench/kube.sh): serves
 * a ConfigMap list captured from the real kube-apiserver, then to the first watch a stream
 * of N MODIFIED events built from those objects, as fast as the client reads. Both the C
 * informer and the client-go one read the same bytes, so the rate measures the clients.
 *   kube_replay LIST_JSON_FILE N PORT_FILE        (plain HTTP on 127.0.0.1, no auth) */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *list_body, *events;
static size_t list_len, events_len;
static int watch_served;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Waits until the client closes (or 600 s). */
static void idle_until_closed(int c)
{
    struct pollfd p = {.fd = c, .events = POLLIN};
    char buf[256];
    for (int i = 0; i < 600; i++) {
        if (poll(&p, 1, 1000) > 0 && read(c, buf, sizeof(buf)) <= 0)
            return;
    }
}

static void *serve(void *arg)
{
    int c = (int)(intptr_t)arg;
    char req[8192];
    size_t len = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(req, len, "\r\n\r\n", 4))) {
            ssize_t n = read(c, req + len, sizeof(req) - len - 1);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        req[len] = '\0';
        size_t hlen = (size_t)(end - req) + 4;
        int watch = strstr(req, "watch=1") || strstr(req, "watch=true");
        int initial = strstr(req, "sendInitialEvents=true") != NULL;
        memmove(req, req + hlen, len - hlen);
        len -= hlen;
        char hdr[256];
        if (watch && initial) {
            /* no streaming lists here: clients fall back to LIST */
            const char *b = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                            "\"reason\":\"BadRequest\",\"code\":400,\"message\":\"sendInitialEvents not supported\"}";
            int n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                                               "Content-Length: %zu\r\n\r\n", strlen(b));
            if (write_all(c, hdr, (size_t)n) || write_all(c, b, strlen(b)))
                goto out;
            continue;
        }
        if (!watch) {
            int n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                               "Content-Length: %zu\r\n\r\n", list_len);
            if (write_all(c, hdr, (size_t)n) || write_all(c, list_body, list_len))
                goto out;
            continue;
        }
        pthread_mutex_lock(&lock);
        int first = !watch_served;
        watch_served = 1;
        pthread_mutex_unlock(&lock);
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if (write_all(c, h, strlen(h)))
            goto out;
        if (first) {
            for (size_t off = 0; off < events_len;) {
                size_t n = events_len - off < 65536 ? events_len - off : 65536;
                int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
                if (write_all(c, hdr, (size_t)hl) || write_all(c, events + off, n) || write_all(c, "\r\n", 2))
                    goto out;
                off += n;
            }
        }
        idle_until_closed(c);
        goto out;
    }
out:
    close(c);
    return NULL;
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

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
        perror("kube_replay: bind");
        return 1;
    }
    getsockname(fd, (struct sockaddr *)&a, &al);
    FILE *pf = fopen(argv[3], "w");
    if (!pf)
        return 1;
    fprintf(pf, "%d\n", ntohs(a.sin_port));
    fclose(pf);
    fprintf(stderr, "kube_replay: %zu objects, %ld events (%zu bytes) on port %d\n", nitems, n, events_len,
            ntohs(a.sin_port));
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        pthread_t t;
        pthread_create(&t, NULL, serve, (void *)(intptr_t)c);
        pthread_detach(t);
    }
}
