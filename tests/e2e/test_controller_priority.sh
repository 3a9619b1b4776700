#!/usr/bin/env bash
# E2E: one admission order across namespaces. Every node is predicted busy (one filler per
# node, 7 of 8 cores for 10 minutes); a batch task in namespace A, then a critical task in
# namespace B, each needing 5 cores, wait Queued. One filler completes: one node frees, room
# for exactly one of them. The critical task of B is admitted and the batch task of A, older,
# stays Queued, whichever namespace the controller happens to look at first. A MicroTask of a
# namespace being deleted (held by a finalizer) gets no pod and no retries.
# Needs KUBECONFIG, kubectl, BIN (tests/e2e/run.sh sets them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/e2e/controller_lib.sh"
A=ctl-pa-$$
B=ctl-pb-$$
C=ctl-pc-$$
LOG=${E2E_LOGS:-/tmp}/controller-$A.log

cleanup() {
  [ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
  kubectl patch mt doomed -n "$C" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
  kubectl delete namespace "$A" "$B" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
has_pod() { kubectl get pod "$2" -n "$1" >/dev/null 2>&1; }
mtget() { kubectl get mt "$2" -n "$1" -o jsonpath="$3" 2>/dev/null; }
queued() { [ "$(mtget "$1" "$2" '{.status.phase}')" = Queued ]; }
mt() { # mt NAME CLASS CPU DURATION RUN-DURATION [REQUEST-CPU]
  local req=""
  [ -n "${6:-}" ] && req="resources: {requests: {cpu: \"$6\"}}, "
  cat <<EOM
apiVersion: foresight.sh/v1alpha1
kind: MicroTask
metadata: {name: $1}
spec:
  taskType: prio
  sla: {class: $2}
  resources: {cpu: "$3", memory: 64Mi, duration: $4}
  template:
    metadata: {annotations: {foresight.sh/run-duration: $5, kwok.x-k8s.io/usage-cpu: 10m}}
    spec: {containers: [{name: main, image: registry.k8s.io/pause:3.10, ${req}}]}
---
EOM
}

kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null
kubectl create namespace "$A" >/dev/null
kubectl create namespace "$B" >/dev/null

# a namespace being deleted while a finalizer holds one of its MicroTasks: the controller
# starts nothing there and does not retry (the finalizer is removed at the end)
kubectl create namespace "$C" >/dev/null
{ mt doomed normal 100m 1m 10s; } | sed 's/^metadata: {name: doomed}$/metadata: {name: doomed, finalizers: [e2e.foresight.sh\/hold]}/' |
  kubectl apply -n "$C" -f - >/dev/null
kubectl delete namespace "$C" --wait=false >/dev/null
deleting() { [ -n "$(mtget "$C" doomed '{.metadata.deletionTimestamp}')" ]; }
wait_for 30 "namespace $C is being deleted, its MicroTask held by a finalizer" deleting

"$CTL" --kubeconfig "$KUBECONFIG" --lease-namespace "$A" --http-address 127.0.0.1:0 --requeue 5s -v >>"$LOG" 2>&1 &
ctl_pid=$!

# every node predicted busy for 10 minutes; the first filler really ends after 20 s
nodes=$(kubectl get nodes -l type=kwok --no-headers 2>/dev/null | wc -l)
[ "$nodes" -gt 0 ] || nodes=$(kubectl get nodes --no-headers | wc -l)
{ mt fill-1 normal 7 10m 20s 7; for i in $(seq 2 "$nodes"); do mt "fill-$i" normal 7 10m 10m 7; done; } |
  kubectl apply -n "$A" -f - >/dev/null
all_filled() { for i in $(seq 1 "$nodes"); do has_pod "$A" "fill-$i" || return 1; done; }
wait_for 60 "$nodes fillers admitted, one per node" all_filled

mt batch-task batch 5 2m 1m 5 | kubectl apply -n "$A" -f - >/dev/null
sleep 1 # batch-task is the older of the two
mt critical-task critical 5 2m 1m 5 | kubectl apply -n "$B" -f - >/dev/null
both_queued() { queued "$A" batch-task && queued "$B" critical-task; }
wait_for 30 "both wait Queued while every node is busy" both_queued
pa=$(mtget "$A" batch-task '{.status.priority}'); pb=$(mtget "$B" critical-task '{.status.priority}')
[ -n "$pa" ] && [ -n "$pb" ] && [ "$pb" -gt "$pa" ] && ok "priority: critical $pb over batch $pa" \
  || bad "priorities: batch '$pa', critical '$pb'"

wait_for 90 "once one node frees, the critical task of the other namespace is admitted" has_pod "$B" critical-task
# the freed node holds one of them: the batch task must still be waiting, and stay so
still_waits() { ! has_pod "$A" batch-task && queued "$A" batch-task; }
end=$(( $(date +%s) + 15 )); kept=1
while [ "$(date +%s)" -lt "$end" ]; do still_waits || { kept=0; break; }; sleep 1; done
[ "$kept" = 1 ] && ok "the older batch task of namespace $A still waits (15 s later)" \
  || bad "the batch task got a pod though only one 5-core task fits"
echo "    batch-task: $(mtget "$A" batch-task '{.status.conditions[?(@.type=="Queued")].message}')"

# by now the controller has reconciled namespace C many times (every requeue and capacity change)
has_pod "$C" doomed && bad "a pod was created for a MicroTask being deleted" || ok "no pod for the MicroTask being deleted"
grep -q "reconcile failed.*namespace=\"$C\"" "$LOG" && bad "a reconcile of $C failed and was retried" \
  || ok "no reconcile of $C failed (nothing retried into the namespace being deleted)"
grep "namespace is being deleted" "$LOG" | grep -q "$C" && ok "the controller noticed once that $C is being deleted" \
  || echo "    (the controller had nothing to create in $C)"
grep -q "cannot create.*$C" "$LOG" && bad "the controller tried to create in $C: $(grep "cannot create.*$C" "$LOG" | head -1)" \
  || ok "nothing was attempted in $C"

finish test_controller_priority
