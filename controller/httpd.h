/* A small HTTP/1.1 server for the controller's /healthz, /readyz and /metrics: GET only, one
 * request per connection, answered from memory by a callback on the server's own thread.
 * Requests are read into a bounded buffer with a timeout, so a slow or hostile client can
 * neither block the controller nor grow its memory. */
#ifndef FS_CONTROLLER_HTTPD_H
#define FS_CONTROLLER_HTTPD_H

#include <stddef.h>

#include "common/fs_err.h"

#define HTTPD_MAX_REQUEST 8192

/* Fills the answer to GET path: *status (200, 404, 503), content type, and body (a new
 * malloc'd string the server frees). */
typedef void (*httpd_handler)(void *arg, const char *path, int *status, const char **content_type, char **body);

struct httpd;

/* Listens on address:port (address NULL = all interfaces; port 0 = any, see httpd_port) and
 * serves on a thread until httpd_free. */
enum fs_err httpd_start(struct httpd **out, const char *address, int port, httpd_handler h, void *arg);
int httpd_port(const struct httpd *s);
void httpd_free(struct httpd *s);

#endif
