/* Throttling a running pod through the in-place resize subresource (pods/resize): the plan
 * of a strategic-merge patch that lowers the pod's cpu limits to a target, within what the
 * API server accepts for a resize: the QoS class must not change, requests stay <= limits,
 * nothing is removed, only cpu changes. Pure: no I/O. */
#ifndef FS_CONTROLLER_THROTTLE_H
#define FS_CONTROLLER_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/fs_err.h"

enum throttle_qos { THROTTLE_BEST_EFFORT, THROTTLE_BURSTABLE, THROTTLE_GUARANTEED };

/* The QoS class Kubernetes computes for a pod spec (cpu and memory of its containers and
 * init containers; zero quantities count as unset). */
enum throttle_qos throttle_qos(const json_t *pod_spec);
const char *throttle_qos_name(enum throttle_qos q);

/* Plans lowering the pod's total cpu limit to target_milli. The containers that have a cpu
 * limit share the target in proportion to their limits (if none has one, the containers with
 * a cpu request get a limit in proportion to their requests); a container's limit is never
 * raised, a request above its new limit comes down to it, and a Burstable pod that would
 * become Guaranteed keeps one request 1m under its limit.
 * *patch: a new reference, {"spec":{"containers":[{name, resources}]}} for pods/resize, or
 * NULL when every limit is already at or below the target (msg says so; FS_OK).
 * FS_EINVAL when the pod cannot be throttled this way (msg says why: BestEffort, no cpu
 * request or limit, pod-level resources, target below 1m per container). */
enum fs_err throttle_plan(const json_t *pod, int64_t target_milli, json_t **patch, char *msg, size_t msglen);

#endif
