/* ExtenderArgs (k8s.io/kube-scheduler/extender/v1) parsed for filter and prioritize: the Pod,
 * and the node names of NodeNames (nodeCacheCapable) or of a NodeList in Nodes. Keys are
 * matched case-insensitively, an exact match first.
 *
 * The scheduler's own shape ({"Pod":{...},"Nodes":null,"NodeNames":[...]}) is streamed through
 * yajl; its node names live in a shared, reference-counted ext_names, which the cluster keeps
 * as a memo of the last list: kube-scheduler sends prioritize the very list that filter
 * answered, and a request whose bytes after the NodeNames key equal the memo's takes the memo's
 * names without parsing them again. Any other shape goes through jansson. */
#ifndef FS_LEDGER_EXTARGS_H
#define FS_LEDGER_EXTARGS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"
#include "ledger/cluster.h"

struct ext_names;

struct ext_args {
    json_t *root; /* the parsed Pod (streaming path) or the whole request */
    struct cluster_pod pod;
    int cache_mode; /* NodeNames given */
    size_t n;
    const char *const *names;
    const size_t *name_len; /* streaming path only: names[i]'s length (no NUL inside) */
    int names_plain;        /* streaming path only: no name needs escaping in a reply */
    size_t names_bytes;     /* streaming path only: the names' lengths + n */
    json_t **items;         /* Nodes path only: the Node objects */
    struct ext_names *nm;   /* streaming path only: the names, one reference held */
    const char **own_names; /* jansson path: names[] allocated here */
    struct ledger_node **own_nodes;
};

/* FS_EPARSE with the reason in err for a bad request, FS_ENOMEM. c (may be NULL) holds the
 * names memo; it is locked briefly, never held. */
enum fs_err ext_args_parse(struct cluster *c, const char *body, size_t len, struct ext_args *a, char *err,
                           size_t errlen);
void ext_args_release(struct ext_args *a);

/* The ledger node of every name (NULL when unknown), resolved once per memoised list and
 * ledger topology. Call with the cluster's lock held; valid until it is released. NULL
 * when out of memory. */
struct ledger_node *const *ext_args_nodes(struct cluster *c, struct ext_args *a);

/* A request body as a JSON object (NULL with the reason in err), and an object's member
 * matched case-insensitively, an exact match first: for the bind request too. */
json_t *ext_json_load(const char *body, size_t len, char *err, size_t errlen);
json_t *ext_json_get_ci(const json_t *obj, const char *key);

/* Bodies from this many bytes have their list of names read in two halves at once (on the
 * cluster's pool); tests and fuzzing lower it to reach that path with small bodies. */
extern size_t ext_args_split_min;
/* Lists read that way so far (the cut held), for tests and benchmarks. */
unsigned long ext_args_splits(void);

/* A reference more to nm (NULL is allowed); ext_names_unref drops one (the last frees it). */
struct ext_names *ext_names_ref(struct ext_names *nm);
void ext_names_unref(struct ext_names *nm);

/* The list kube-scheduler sends prioritize after a filter that answered the nodes of a
 * whose keep[i] is set (in a's order): a names list of those, with their ledger nodes
 * (nodes[i], from ext_args_nodes) and the tail that request will carry, so that its parse
 * takes them from the memo. A new reference (a's own list when every node is kept and it
 * came in that encoding); NULL when none is kept, a's names are not plain (their encoding
 * in the request cannot be foreseen) or memory runs out. Lock held. */
struct ext_names *ext_names_subset(struct cluster *c, const struct ext_args *a, struct ledger_node *const *nodes,
                                   const uint8_t *keep);
/* The request's NodeNames list as it came, `["a","b"]` (len bytes, not NUL-terminated),
 * when that is exactly how a reply writes a's names: plain, compact, the list last in the
 * request. NULL otherwise. Valid while a is. */
const char *ext_args_compact_list(const struct ext_args *a, size_t *len);
/* Makes nm (with a tail) the cluster's memo of names. Lock held. */
void ext_names_remember_locked(struct cluster *c, struct ext_names *nm);

#endif
