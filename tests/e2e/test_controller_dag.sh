#!/usr/bin/env bash
# E2E: foresight-controller runs hack/examples/etl-dag.yaml in dependency order: extract's pod
# first, then transform split into 4 children of 2 leaves each (8 pods with their shard
# environment), then load; a restart of the controller mid-way creates no duplicate (nor
# counts an arrival twice in the TaskProfiles' arrival series); a cycle
# gets its condition and no pod. Pods run on kwok nodes and complete by themselves: the example's
# templates carry foresight.sh/run-duration (extract 20s, transform shards 45s), which the
# controller copies onto the pods.
# Needs KUBECONFIG, kubectl, and BIN (the build tree; tests/e2e/run.sh sets all three).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/e2e/controller_lib.sh"
NS=ctl-e2e-$$
LOG=${E2E_LOGS:-/tmp}/controller-$NS.log

start_ctl() { "$CTL" --kubeconfig "$KUBECONFIG" --lease-namespace "$NS" --http-address 127.0.0.1:0 >>"$LOG" 2>&1 & ctl_pid=$!; }
stop_ctl() { [ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null; ctl_pid=; }
cleanup() { stop_ctl || true; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT
pods() { kubectl get pods -n "$NS" --no-headers -o custom-columns=N:.metadata.name 2>/dev/null | sort; }
npods() { [ "$(pods | grep -c "$1")" -eq "$2" ]; }
phase() { [ "$(kubectl get mt "$1" -n "$NS" -o jsonpath='{.status.phase}')" = "$2" ]; }
pod_phase() { [ "$(kubectl get pod "$1" -n "$NS" -o jsonpath='{.status.phase}')" = "$2" ]; }
all_leaves_succeeded() {
  [ "$(kubectl get pods -n "$NS" --no-headers -o custom-columns=N:.metadata.name,P:.status.phase | grep -c '^etl-transform-[0-3]-[01] *Succeeded$')" -eq 8 ]
}

kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl apply -n "$NS" -f "$ROOT/hack/examples/etl-dag.yaml" >/dev/null
start_ctl

wait_for 30 "extract gets its pod" npods '^etl-extract$' 1
wait_for 30 "extract runs on a kwok node" pod_phase etl-extract Running
[ "$(pods | wc -l)" -eq 1 ] && pod_phase etl-extract Running && ok "nothing else starts while extract runs" \
  || bad "pods before extract succeeded: $(pods | tr '\n' ' ')"
got=$(kubectl get pod etl-extract -n "$NS" -o jsonpath='{.spec.schedulerName} {.metadata.labels.foresight\.sh/microtask} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')
[ "$got" = "foresight etl-extract MicroTask/etl-extract" ] && ok "pod has schedulerName, label and owner" || bad "pod fields: $got"
got=$(kubectl get mt etl-extract -n "$NS" -o jsonpath='{.status.predictionSummary.cpuPeak} {.status.predictionSummary.memoryPeak} {.status.prediction.stepSeconds} {.status.predictionSummary.duration}')
[ "$got" = "500m 256Mi 30 1m" ] && ok "prediction in status from spec.resources" || bad "prediction: $got"
got=$(kubectl get mt etl-load -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="DependenciesReady")].message}')
[ "$got" = "waiting for etl-transform to succeed" ] && ok "load says what it waits for" || bad "load condition: $got"

wait_for 60 "transform splits into 8 leaf pods" npods '^etl-transform-[0-3]-[01]$' 8
got=$(kubectl get mt etl-transform -n "$NS" -o jsonpath='{.status.progress.total} {.status.children}')
[ "$got" = '4 ["etl-transform-0","etl-transform-1","etl-transform-2","etl-transform-3"]' ] && ok "transform lists 4 children" || bad "transform children: $got"
env=$(kubectl get pod etl-transform-1-1 -n "$NS" -o jsonpath='{range .spec.containers[0].env[*]}{.name}={.value} {end}')
echo "$env" | grep -q 'FORESIGHT_SHARD_PATH=1.1 FORESIGHT_WORK_START=450 FORESIGHT_WORK_END=600' \
  && ok "leaf 1.1 covers units [450, 600)" || bad "leaf env: $env"
[ "$(pods | grep -c etl-load)" -eq 0 ] && ok "load waits for transform" || bad "load started early"

# restart mid-DAG: the shards finish while the controller is down; nothing is created twice
stop_ctl
before_mt=$(kubectl get mt -n "$NS" --no-headers | wc -l)
wait_for 90 "the 8 shards complete (kwok, run-duration 45s) while the controller is down" all_leaves_succeeded
start_ctl
wait_for 60 "load starts after all of transform succeeded" npods '^etl-load$' 1
wait_for 30 "transform aggregates to Succeeded" phase etl-transform Succeeded
[ "$(pods | wc -l)" -eq 10 ] && [ "$(kubectl get mt -n "$NS" --no-headers | wc -l)" -eq "$before_mt" ] \
  && ok "after a restart: 10 pods, $before_mt MicroTasks, no duplicate" || bad "after restart: $(pods | wc -l) pods"

# arrival-rate series per type: one root task of each type arrived (split children are not
# new work), in one bucket of the default 5 minutes, and the restart counted nothing twice
arrivals() { kubectl get taskprofile "$1" -n "$NS" -o json 2>/dev/null |
  jq -e --argjson n "$2" '.status.arrivals | .total == $n and (.counts | add) == $n and .bucketSeconds == 300' >/dev/null; }
for t in etl-extract etl-transform etl-load; do
  wait_for 30 "TaskProfile $t's arrival series counts its 1 root task" arrivals "$t" 1
done
echo "    etl-transform arrivals: $(kubectl get taskprofile etl-transform -n "$NS" -o jsonpath='{.status.arrivals}')"

# a cycle: conditions say so, and no pod starts
kubectl apply -n "$NS" -f - >/dev/null <<'EOF'
apiVersion: foresight.sh/v1alpha1
kind: MicroTask
metadata: {name: cyc-a}
spec:
  taskType: cyc
  dependsOn: [cyc-b]
  resources: {cpu: 100m, memory: 64Mi}
  template: {spec: {containers: [{name: main, image: registry.k8s.io/pause:3.10}]}}
---
apiVersion: foresight.sh/v1alpha1
kind: MicroTask
metadata: {name: cyc-b}
spec:
  taskType: cyc
  dependsOn: [cyc-a]
  resources: {cpu: 100m, memory: 64Mi}
  template: {spec: {containers: [{name: main, image: registry.k8s.io/pause:3.10}]}}
EOF
both_blocked() { phase cyc-a Blocked && phase cyc-b Blocked; }
wait_for 30 "a cycle blocks its tasks" both_blocked
got=$(kubectl get mt cyc-b -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="DependenciesReady")].reason}: {.status.conditions[?(@.type=="DependenciesReady")].message}')
[ "$got" = "DependencyCycle: dependency cycle cyc-a -> cyc-b -> cyc-a; nothing of this graph starts" ] \
  && ok "the cycle's condition names the path" || bad "cycle condition: $got"
[ "$(pods | grep -c cyc-)" -eq 0 ] && ok "no pod for a cycle" || bad "cycle pods: $(pods | grep cyc-)"
wait_for 30 "TaskProfile cyc's arrival series counts its 2 tasks (blocked ones arrived too)" arrivals cyc 2

finish test_controller_dag
