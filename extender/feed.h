/* Feeds the extender's cluster state: from the API server (informers on Nodes, Pods and
 * MicroTasks, the Binding POST), or from a fixed JSON List for tests and benchmarks. */
#ifndef FS_EXTENDER_FEED_H
#define FS_EXTENDER_FEED_H

#include <stddef.h>

#include "common/fs_err.h"
#include "ledger/cluster.h"

struct feed;

/* Starts informers with the kubeconfig (NULL: $KUBECONFIG, ~/.kube/config, in-cluster). */
enum fs_err feed_start_kube(struct feed **out, struct cluster *c, const char *kubeconfig);
/* Loads a v1 List of Node, Pod and MicroTask objects; binds then only update memory. */
enum fs_err feed_start_file(struct feed **out, struct cluster *c, const char *path);
/* 1 once every informer has listed (always 1 for a file). */
int feed_synced(struct feed *f);
/* POSTs the Binding (a file feed has no API server: the claim in memory is the binding);
 * on failure err says what the server answered. */
enum fs_err feed_bind(struct feed *f, const char *ns, const char *name, const char *uid, const char *node,
                      char *err, size_t errlen);
/* Connections opened to the API server so far (0 for a file). */
unsigned long feed_connections_opened(struct feed *f);
/* A new reference to the Pod from the API server, NULL if it cannot be read. */
json_t *feed_get_pod(struct feed *f, const char *ns, const char *name);
void feed_free(struct feed *f);

#endif
