/* Creating objects: idempotent (names are deterministic, so one that exists counts as created)
 * and aware of namespaces being deleted: a create refused because its namespace is
 * terminating or gone marks the namespace, which is then left alone for a while. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/fs_err.h"
#include "common/log.h"

#include "ctl.h"

#define TERMINATING_RECHECK_S 60 /* a namespace seen being deleted is left alone this long */

/* 1 while ns was seen being deleted in the last TERMINATING_RECHECK_S seconds */
int create_ns_terminating(struct ctl *c, const char *ns)
{
    pthread_mutex_lock(&c->mu);
    uintptr_t seen = (uintptr_t)lmap_get(&c->terminating, ns);
    int yes = seen && (int64_t)time(NULL) - (int64_t)seen < TERMINATING_RECHECK_S;
    if (seen && !yes)
        lmap_del(&c->terminating, ns);
    pthread_mutex_unlock(&c->mu);
    return yes;
}

/* 1 when a create failed because its namespace is being deleted (403 "being terminated")
 * or is gone (404 on the namespace); the namespace is then left alone for a while. */
int create_namespace_gone(struct ctl *c, const char *ns, const char *what, const struct kube_status *st)
{
    if (!ns || !((st->code == 403 && strstr(st->message, "being terminated")) ||
                 (st->code == 404 && strstr(st->message, "namespaces \""))))
        return 0;
    pthread_mutex_lock(&c->mu);
    int known = lmap_get(&c->terminating, ns) != NULL;
    lmap_put(&c->terminating, ns, (void *)(uintptr_t)time(NULL));
    pthread_mutex_unlock(&c->mu);
    if (!known) {
        const char *kv[] = {"namespace", ns, "object", what, "detail", st->message, NULL};
        log_kv(LOG_INFO, "namespace is being deleted: creating nothing there", kv);
    }
    return 1;
}

/* Creates obj. FS_EGONE when its namespace is being deleted (403 "being terminated") or is
 * gone (404 on the namespace): nothing can be created there, so the caller gives up on it
 * rather than retrying, and the namespace is left alone for a while. */
enum fs_err create_object(struct ctl *c, const struct kube_ref *ref, const json_t *obj, const char *what)
{
    struct kube_status st;
    enum fs_err rc = kube_create(c->client, ref, obj, NULL, NULL, &st);
    if (rc == FS_ECONFLICT) /* it exists already: deterministic names make creation idempotent */
        return FS_OK;
    if (rc != FS_OK && create_namespace_gone(c, ref->namespace, what, &st))
        return FS_EGONE;
    if (rc != FS_OK) {
        char buf[600];
        log_err("cannot create %s: %s", what, kube_status_str(&st, buf, sizeof(buf)));
    }
    return rc;
}
