/* The extender's HTTP(S) server on libwebsockets: one service thread answers fast verbs
 * inline; slow ones (bind: an API call) run on worker threads and are answered when done.
 * TLS via OpenSSL with optional client-certificate verification. No HTTP parsing of our own. */
#ifndef FS_EXTENDER_SERVER_H
#define FS_EXTENDER_SERVER_H

#include <stddef.h>

#include "ledger/extproto.h"

struct server_opts {
    const char *address;   /* NULL = all interfaces */
    int port;
    const char *tls_cert;  /* PEM; NULL = plain HTTP */
    const char *tls_key;
    const char *client_ca; /* PEM; when set, clients must present a certificate it signed */
    size_t max_body;       /* larger request bodies get 400 */
    int workers;           /* threads for slow verbs */
};

/* Called with the request's method ("GET"/"POST"), path and body; fills *out.
 * slow() says whether a path runs on a worker thread. */
struct server_app {
    void (*handle)(void *arg, const char *method, const char *path, const char *body, size_t len,
                   struct ext_reply *out);
    int (*slow)(void *arg, const char *method, const char *path);
    /* optional: called after a reply answered on the service thread is wholly handed to the
     * socket, with the request it answered; the next request on the connection waits */
    void (*after)(void *arg, const char *method, const char *path, const char *body, size_t len, int status);
    void *arg;
};

struct server;

enum fs_err server_new(struct server **out, const struct server_opts *o, const struct server_app *app);
/* Serves until server_stop() (from a signal handler or another thread). */
enum fs_err server_run(struct server *s);
void server_stop(struct server *s);
void server_free(struct server *s);

#endif
