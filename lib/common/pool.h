/* A fork-join pool of persistent threads for CPU work inside one request: a loop over n
 * items is cut into chunks that the pool's threads and the caller take in turn, and the
 * call returns when every chunk is done. Threads are started once (starting them per call
 * would cost more than a 5,000-node loop saves). */
#ifndef FS_POOL_H
#define FS_POOL_H

#include <stddef.h>

#include "common/fs_err.h"

struct fs_pool;

/* A pool with `threads` threads besides the caller's (0 is allowed: fs_pool_for then runs
 * serially). FS_ENOMEM, FS_EIO when a thread cannot start. The caller frees it with fs_pool_free. */
enum fs_err fs_pool_new(unsigned threads, struct fs_pool **out);
/* Stops and joins the threads; NULL is allowed. No fs_pool_for may be running. */
void fs_pool_free(struct fs_pool *p);
/* Threads besides the caller's (0 for NULL). */
unsigned fs_pool_threads(const struct fs_pool *p);

/* Calls fn(arg, lo, hi) on disjoint ranges covering [0, n), each at most `grain` long
 * (grain 0 = one range per thread), from the pool's threads and the calling thread; returns
 * when all have returned. p NULL, no threads, or n <= grain: one call, fn(arg, 0, n), on
 * the caller's thread. Callers from several threads are served one at a time. fn must be
 * safe to run on disjoint ranges at once. */
void fs_pool_for(struct fs_pool *p, size_t n, size_t grain, void (*fn)(void *arg, size_t lo, size_t hi), void *arg);

#endif
