/* A small client of the Prometheus HTTP API: one instant query (GET /api/v1/query) through
 * libcurl with a connect and a total timeout and a bounded response, TLS with a chosen CA and
 * bearer or basic authentication, and the parser of its instant-vector answer into
 * (key labels, value) points. Not the API server's client. Secrets never reach a message. */
#ifndef FS_PROM_PROM_H
#define FS_PROM_PROM_H

#include <stddef.h>

#include "common/fs_err.h"

#define PROM_MAX_KEYS 4                    /* key labels per point */
#define PROM_MAX_RESPONSE_BYTES (16u << 20) /* a larger answer is refused (FS_ERANGE) */
#define PROM_MAX_URL 2048
#define PROM_MAX_SECRET 16384             /* bytes of a bearer token or password file */

/* One series of an instant vector. */
struct prom_point {
    char *key[PROM_MAX_KEYS]; /* the values of the key labels asked for, in their order (owned) */
    double value;             /* always finite */
    double t_s;               /* evaluation time, unix seconds */
};

struct prom_vector {
    struct prom_point *p;
    size_t n;
    size_t missing_labels; /* series left out: a key label absent or not a string */
    size_t not_finite;     /* series left out: NaN, +Inf, -Inf or a value that is not a number */
};

void prom_vector_init(struct prom_vector *v);
void prom_vector_release(struct prom_vector *v);

/* Parses an /api/v1/query answer, {"status":"success","data":{"resultType":"vector",
 * "result":[{"metric":{...},"value":[<ts>,"<value>"]}]}}, keeping the series that carry every
 * label in keys (n_keys from 1 to PROM_MAX_KEYS) and a finite value; the others are counted.
 * v is initialised here. FS_EHTTP for "status":"error" (err holds its errorType and error),
 * FS_EPARSE for anything else than a vector answer (err says what), FS_EINVAL for bad keys. */
enum fs_err prom_vector_parse(const char *body, size_t len, const char *const *keys, size_t n_keys,
                              struct prom_vector *v, char *err, size_t errlen);

struct prom_client;

/* How to reach a Prometheus behind TLS and authentication (thanos-querier with a service
 * account token, a managed Prometheus with basic auth, a private CA). Every field is
 * optional: all zero is plain HTTP(S) verified against the system store, no credentials. */
struct prom_auth {
    const char *ca_file;           /* PEM bundle the server's certificate must chain to (NULL: system store) */
    int insecure_skip_verify;      /* neither the certificate nor the host name is checked */
    const char *bearer_token_file; /* "Authorization: Bearer <its content>" */
    const char *username;          /* basic auth, with the password in password_file */
    const char *password_file;
};

/* base_url: http:// or https://, the Prometheus root (a path prefix is kept, a trailing '/'
 * dropped; credentials in the URL are refused: they would be logged). timeout_s bounds a
 * whole query (connecting included), from 0.1 to 600 s. auth may be NULL; the client keeps
 * copies of its strings. The token and password files are read here (FS_EIO naming the
 * file when one cannot be read or is empty) and again before every query, so a rotated
 * token (projected service account tokens are) is used from the next query on. The CA file
 * must hold a PEM certificate. FS_EINVAL with err saying why for a bad URL, timeout or a
 * bearer token together with basic auth. */
enum fs_err prom_client_new(const char *base_url, double timeout_s, const struct prom_auth *auth,
                            struct prom_client **out, char *err, size_t errlen);
void prom_client_free(struct prom_client *pc);
/* HTTP status of the last answer (401 and 403: the credentials were refused); 0 when the
 * last query got no answer. */
long prom_client_last_status(const struct prom_client *pc);

/* Runs an instant query at the server's now and parses its vector (v initialised here).
 * FS_EIO (cannot connect, reset, TLS verification failed: err says so; a token or password
 * file that cannot be read), FS_ETIMEOUT, FS_ERANGE (answer past PROM_MAX_RESPONSE_BYTES),
 * FS_EHTTP (non-2xx or an error answer: err has Prometheus's message; 401/403 say
 * "authentication failed"), FS_EPARSE. One query at a time per client (the handle is
 * reused: keep-alive). */
enum fs_err prom_query(struct prom_client *pc, const char *query, const char *const *keys, size_t n_keys,
                       struct prom_vector *v, char *err, size_t errlen);

#endif
