/* The controller's small HTTP server (see httpd.h): poll() on the listening socket and a
 * self-pipe for shutdown; each connection is read, answered and closed in turn. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define READ_TIMEOUT_MS 2000

struct httpd {
    int fd, port;
    int wake[2];
    int running;          /* the thread was started */
    pthread_t thread;
    httpd_handler handler;
    void *arg;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int status, const char *ctype, const char *body)
{
    const char *text = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
                     : status == 400 ? "Bad Request" : status == 431 ? "Request Header Fields Too Large"
                     : "Service Unavailable";
    char head[256];
    size_t len = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     text, ctype ? ctype : "text/plain; charset=utf-8", len);
    if (n > 0 && (size_t)n < sizeof(head))
        write_all(fd, head, (size_t)n);
    if (len)
        write_all(fd, body, len);
}

static void serve(struct httpd *s, int fd)
{
    char buf[HTTPD_MAX_REQUEST + 1];
    size_t len = 0;
    long deadline = now_ms() + READ_TIMEOUT_MS;
    while (!memmem(buf, len, "\r\n\r\n", 4) && !memmem(buf, len, "\n\n", 2)) {
        if (len == HTTPD_MAX_REQUEST) {
            reply(fd, 431, NULL, "request too large\n");
            return;
        }
        long left = deadline - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return;
        ssize_t r = recv(fd, buf + len, HTTPD_MAX_REQUEST - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        len += (size_t)r;
    }
    buf[len] = 0;
    char method[8], path[1024];
    /* "GET /path HTTP/1.1" */
    char *sp1 = memchr(buf, ' ', len);
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - buf)) : NULL;
    if (!sp1 || !sp2 || (size_t)(sp1 - buf) >= sizeof(method) || (size_t)(sp2 - sp1 - 1) >= sizeof(path)) {
        reply(fd, 400, NULL, "bad request\n");
        return;
    }
    memcpy(method, buf, (size_t)(sp1 - buf));
    method[sp1 - buf] = 0;
    memcpy(path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    path[sp2 - sp1 - 1] = 0;
    char *q = strchr(path, '?');
    if (q)
        *q = 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        reply(fd, 405, NULL, "only GET\n");
        return;
    }
    int status = 404;
    const char *ctype = NULL;
    char *body = NULL;
    s->handler(s->arg, path, &status, &ctype, &body);
    reply(fd, status, ctype, strcmp(method, "HEAD") == 0 ? NULL : body);
    free(body);
}

static void *run(void *arg)
{
    struct httpd *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve(s, c);
        close(c);
    }
    return NULL;
}

enum fs_err httpd_start(struct httpd **out, const char *address, int port, httpd_handler h, void *arg)
{
    *out = NULL;
    struct httpd *s = calloc(1, sizeof(*s));
    if (!s)
        return FS_ENOMEM;
    s->fd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->handler = h;
    s->arg = arg;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (address && inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
        log_err("cannot listen on %s: not an IPv4 address", address);
        free(s);
        return FS_EINVAL;
    }
    int one = 1;
    if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->fd, 16) < 0 ||
        pipe2(s->wake, O_CLOEXEC) < 0) {
        log_err("cannot listen on %s:%d: %s", address ? address : "0.0.0.0", port, strerror(errno));
        httpd_free(s);
        return FS_EIO;
    }
    socklen_t sl = sizeof(sa);
    getsockname(s->fd, (struct sockaddr *)&sa, &sl);
    s->port = ntohs(sa.sin_port);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        httpd_free(s);
        return FS_ENOMEM;
    }
    s->running = 1;
    *out = s;
    return FS_OK;
}

int httpd_port(const struct httpd *s)
{
    return s ? s->port : 0;
}

void httpd_free(struct httpd *s)
{
    if (!s)
        return;
    if (s->running) {
        ssize_t w = write(s->wake[1], "x", 1); /* wakes poll(); a full pipe wakes it as well */
        (void)w;
        pthread_join(s->thread, NULL);
    }
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}
