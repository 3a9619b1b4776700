#!/usr/bin/env bash
# E2E: foresight-controller as an operator runs it.
# - /healthz and /readyz answer 200 (readyz after the caches synced), /metrics is Prometheus text;
# - two replicas on one Lease: only the leader creates anything (the standby's /metrics says
#   leader 0 and created 0); SIGTERM makes the leader exit 0 and release the Lease, and the
#   standby takes over and admits the next task;
# - admission: a task larger than any node stays Queued with the reason and no pod; with every
#   node predicted busy, a task waits Queued with its predicted earliest start and is admitted
#   as soon as the pods in its way complete (capacity change), not only at its earliest start;
# - an invalid MicroTask is refused by the API server.
# Needs KUBECONFIG, kubectl, curl, BIN (tests/e2e/run.sh sets them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/e2e/controller_lib.sh"
NS=ctl-ops-$$
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
log_of() { echo "${E2E_LOGS:-/tmp}/controller-$NS-$1.log"; }
start() { # start NAME: a replica on the test's Lease
  "$CTL" --kubeconfig "$KUBECONFIG" --lease-namespace "$NS" --http-address 127.0.0.1:0 --requeue 5s >>"$(log_of "$1")" 2>&1 &
  pids+=($!)
  eval "pid_$1=$!"
}
port_of() { serving_port "$(log_of "$1")"; }
metric() { curl -sf "http://127.0.0.1:$(port_of "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
leading() { grep -q 'msg="leading"' "$(log_of "$1")"; }
has_pod() { kubectl get pod "$1" -n "$NS" >/dev/null 2>&1; }
mt() { # mt NAME CPU DURATION RUN-DURATION [REQUEST-CPU]
  local req=""
  [ -n "${5:-}" ] && req="resources: {requests: {cpu: \"$5\"}}, "
  cat <<EOM
apiVersion: foresight.sh/v1alpha1
kind: MicroTask
metadata: {name: $1}
spec:
  taskType: ops
  resources: {cpu: "$2", memory: 64Mi, duration: $3}
  template:
    metadata: {annotations: {foresight.sh/run-duration: $4, kwok.x-k8s.io/usage-cpu: 10m}}
    spec: {containers: [{name: main, image: registry.k8s.io/pause:3.10, ${req}}]}
---
EOM
}

kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null
kubectl create namespace "$NS" >/dev/null

# --- two replicas -------------------------------------------------------------------------
start a
wait_for 30 "replica a leads" leading a
start b
wait_for 30 "replica b serves /readyz after its caches synced" \
  sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:\$(sed -n 's/.*msg=\"serving[^\"]*\".* port=\"\\([0-9]*\\)\".*/\\1/p' '$(log_of b)' | tail -1)/readyz)\" = 200 ]"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port_of a)/healthz")
[ "$code" = 200 ] && ok "/healthz 200" || bad "/healthz: $code"
body=$(curl -sf "http://127.0.0.1:$(port_of a)/metrics")
for m in foresight_controller_reconciles_total foresight_controller_queue_depth foresight_controller_admissions_total \
         foresight_controller_anomalies_total foresight_controller_prediction_mape_percent foresight_controller_leader; do
  echo "$body" | grep -q "^# TYPE $m " || { bad "/metrics lacks $m"; continue; }
done
echo "$body" | grep -q '^# TYPE foresight_controller_leader gauge' && ok "/metrics in Prometheus text format with the controller's series"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port_of a)/nope")
[ "$code" = 404 ] && ok "unknown path 404" || bad "unknown path: $code"

mt first 100m 1m 20s | kubectl apply -n "$NS" -f - >/dev/null
wait_for 30 "the leader admits 'first' and creates its pod" has_pod first
sleep 2 # give the standby a chance to do something wrong
[ "$(metric b foresight_controller_leader)" = 0 ] && [ "$(metric b 'foresight_controller_created_total{kind="Pod"}')" = 0 ] \
  && [ "$(metric b 'foresight_controller_reconciles_total{result="ok"}')" = 0 ] \
  && ok "the standby created nothing and reconciled nothing" || bad "standby: leader=$(metric b foresight_controller_leader) created=$(metric b 'foresight_controller_created_total{kind="Pod"}')"
[ "$(metric a foresight_controller_leader)" = 1 ] && [ "$(metric a 'foresight_controller_created_total{kind="Pod"}')" -ge 1 ] \
  && ok "the leader's /metrics: leader 1, pods created $(metric a 'foresight_controller_created_total{kind="Pod"}')" || bad "leader metrics"

t0=$(date +%s)
kill -TERM "$pid_a"
rc=0; wait "$pid_a" || rc=$?
took=$(( $(date +%s) - t0 ))
[ "$rc" = 0 ] && ok "SIGTERM: the leader exits 0 in ${took}s" || bad "SIGTERM exit status $rc"
grep -q 'msg="released lease' "$(log_of a)" && ok "the leader released its Lease" || bad "no lease release in the log"
wait_for 20 "the standby takes over" leading b
mt second 100m 1m 20s | kubectl apply -n "$NS" -f - >/dev/null
wait_for 30 "the new leader admits 'second'" has_pod second

# --- admission ------------------------------------------------------------------------------
mt huge 500 1m 10s | kubectl apply -n "$NS" -f - >/dev/null
queued_huge() { phase_is huge Queued && [ "$(mtget huge '{.status.conditions[?(@.type=="Queued")].status}')" = True ]; }
wait_for 30 "a task larger than any node stays Queued" queued_huge
msg=$(mtget huge '{.status.conditions[?(@.type=="Queued")].message}')
echo "$msg" | grep -q 'cpu: .* allowed .*no node can ever hold it' && ok "its reason: $msg" || bad "huge's reason: $msg"
has_pod huge && bad "huge got a pod" || ok "no pod for it"

# fill every node (predicted 7 of 8 cores for 10 minutes; the pods complete after 25 s)
nodes=$(kubectl get nodes -l type=kwok --no-headers 2>/dev/null | wc -l)
[ "$nodes" -gt 0 ] || nodes=$(kubectl get nodes --no-headers | wc -l)
for i in $(seq 1 "$nodes"); do mt "fill-$i" 7 10m 25s 7; done | kubectl apply -n "$NS" -f - >/dev/null
all_filled() { for i in $(seq 1 "$nodes"); do has_pod "fill-$i" || return 1; done; }
wait_for 60 "$nodes fillers admitted, one per node" all_filled
t_wait=$(date +%s)
mt waiter 2 2m 10s | kubectl apply -n "$NS" -f - >/dev/null
waiter_queued() { phase_is waiter Queued && [ -n "$(mtget waiter '{.status.reservation.earliestStart}')" ]; }
wait_for 30 "with every node busy, 'waiter' is Queued with a predicted earliest start" waiter_queued
echo "    waiter: $(mtget waiter '{.status.conditions[?(@.type=="Queued")].message}')"
has_pod waiter && bad "waiter got a pod while the nodes are full" || ok "waiter has no pod yet"
kubectl get mt -n "$NS"
wait_for 120 "waiter is admitted once the fillers completed" has_pod waiter
echo "    admitted $(( $(date +%s) - t_wait ))s after it was created (fillers run 25s, predicted 10m: re-evaluated on the capacity change)"
m=$(metric b 'foresight_controller_admissions_total{result="queued"}')
[ "${m:-0}" -ge 1 ] && ok "/metrics counts queued admissions ($m)" || bad "queued admissions metric: '$m'"

# --- invalid objects are refused by the API server ----------------------------------------------
out=$(kubectl apply -n "$NS" -f "$ROOT/hack/examples/invalid/self-dependency.yaml" 2>&1) && bad "self-dependency accepted" \
  || { echo "$out" | grep -qi 'depend' && ok "a self-dependent MicroTask is refused: $(echo "$out" | tail -1 | cut -c1-140)" || bad "refusal message: $out"; }

finish test_controller_ops
