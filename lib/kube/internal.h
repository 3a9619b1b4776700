/* Helpers shared by the lib/kube modules and their tests, not part of the public API:
 * bounded file reads, YAML to JSON, time stamps, monotonic clocks, sleeping with a stop flag. */
#ifndef KUBE_INTERNAL_H
#define KUBE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/fs_err.h"

/* Reads a whole file of at most max bytes into a new NUL-terminated buffer. FS_EIO if it
 * cannot be read, FS_ERANGE if it is larger than max. */
enum fs_err kube_read_file(const char *path, size_t max, char **out, size_t *out_len);

/* Converts one YAML document to JSON: mappings to objects (keys as strings), sequences to
 * arrays, every scalar to a string (callers interpret "true", numbers). Bounded: depth 64 and
 * 200000 nodes (so aliases cannot explode). *out is a new reference. errbuf gets the reason. */
enum fs_err kube_yaml_to_json(const char *yaml, size_t len, json_t **out, char *errbuf,
                              size_t errlen);

/* RFC 3339 ("2026-01-02T03:04:05Z", fractions and offsets allowed) to Unix seconds. */
enum fs_err kube_parse_rfc3339(const char *s, time_t *out);
/* Formats t as RFC 3339 with microseconds (MicroTime) or seconds, in UTC. */
void kube_format_rfc3339(const struct timespec *ts, int micro, char *buf, size_t len);

int64_t kube_mono_ms(void);
/* Sleeps ms, waking early (returns 1) when *stop becomes non-zero. */
int kube_sleep_ms(long ms, volatile int *stop);
/* Uniform jitter: returns ms scaled by a factor in [1, 1+frac). */
long kube_jitter_ms(long ms, double frac);

/* Borrowed string at a dotted path ("metadata.name") or NULL. */
const char *kube_json_str(const json_t *obj, const char *path);

/* Streams a GET to fn as the body arrives (a watch). total_timeout_s bounds the request,
 * stop aborts it. Returns like kube_request; on a non-2xx answer the body is collected into
 * st instead of being streamed. fn returns 0 to go on, non-zero to stop (FS_OK then).
 * *stream_err (may be NULL) is where fn reports why it stopped. */
struct kube_client;
struct kube_status;
typedef int (*kube_stream_fn)(void *arg, const char *data, size_t len);
enum fs_err kube_client_stream(struct kube_client *c, const char *path, long total_timeout_s,
                               volatile int *stop, kube_stream_fn fn, void *arg,
                               struct kube_status *st);

/* Reads JSON text into jansson values (lib/kube/json.c, json_loadb underneath). Flags:
 * KUBE_JSON_PREFIX reads one value and stops (*used = the offset after it, as
 * JSON_DISABLE_EOF_CHECK); KUBE_JSON_REJECT_DUPLICATES as jansson's; KUBE_JSON_TRUSTED marks
 * text this library wrote or already checked (jansson checks it anyway).
 * FS_EPARSE or FS_ENOMEM; *used (may be NULL) is also where reading stopped on an error. */
#define KUBE_JSON_PREFIX 1u
#define KUBE_JSON_REJECT_DUPLICATES 2u
#define KUBE_JSON_TRUSTED 4u
enum fs_err kube_json_load(const char *s, size_t len, unsigned flags, json_t **out, size_t *used);

/* Appends "&key=value" (or "?key=value" when buf has no '?') percent-encoding value;
 * FS_ERANGE if it does not fit. */
enum fs_err kube_query_add(char *buf, size_t len, const char *key, const char *value);

#endif
