#!/usr/bin/env bash
# foresight-extender through the real kube-scheduler (the cluster's `foresight` profile,
# deploy/scheduler/foresight-scheduler.yaml) on kwok nodes of its own (4 cpu, tainted and
# labelled for this test only): pods whose predicted peaks do not overlap share a node their
# requests would not let them share; a pod that fits nowhere stays pending with the reasons
# in its events; 200 pods at once never over-commit a node; killing the extender during a
# burst and starting a new one rebuilds the ledger with no double claim; a node's pod count
# and extended resources are enforced (NodeResourcesFit's filter is off). Sums are recomputed
# from the final bindings by tests/e2e/extender_check.c, independently of the extender.
source "$(dirname "$0")/lib.sh"

EXT=$BIN/bin/foresight-extender
CHECK=$BIN/e2e/extender_check
[ -x "$EXT" ] && [ -x "$CHECK" ] || fail "build first: $EXT and $CHECK are needed"
NS="e2e-extender-$$"
POOL=$NS                       # label value and name prefix of this test's nodes
WORK=$(mktemp -d)
LOGS=${E2E_LOGS:-$WORK}
ext_pid=

cleanup() {
  [ -z "$ext_pid" ] || kill "$ext_pid" 2>/dev/null || true
  EXTENDER_URL= hack/cluster.sh restart-foresight-scheduler >/dev/null 2>&1 || true
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  kubectl delete nodes -l "foresight.sh/e2e-pool=$POOL" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_extender() {
  "$EXT" --address 127.0.0.1 --port "$PORT" >>"$LOGS/extender.log" 2>&1 &
  ext_pid=$!
  poll 60 "the extender to be ready (informers synced)" curl -sf "http://127.0.0.1:$PORT/readyz"
}

# make_nodes SUFFIX COUNT: kwok nodes of 4 cpu / 16Gi only this test's pods tolerate.
make_nodes() {
  local i m=""
  for i in $(seq 0 $(( $2 - 1 ))); do
    m+="---
apiVersion: v1
kind: Node
metadata:
  name: $POOL-$1-$i
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {foresight.sh/e2e-pool: $POOL, foresight.sh/e2e-group: \"$1\", kubernetes.io/hostname: $POOL-$1-$i}
spec:
  taints: [{key: foresight.sh/e2e-pool, value: $POOL, effect: NoSchedule}]
status:
  allocatable: {cpu: \"4\", memory: 16Gi, pods: \"110\"}
  capacity: {cpu: \"4\", memory: 16Gi, pods: \"110\"}
"
  done
  echo "$m" | kubectl apply -f - >/dev/null
  poll 60 "nodes of group $1 to be Ready" nodes_ready "$1" "$2"
}
nodes_ready() {
  [ "$(kubectl get nodes -l "foresight.sh/e2e-group=$1,foresight.sh/e2e-pool=$POOL" \
        -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)" -eq "$2" ]
}

# microtask NAME START_UNIX "cpu cores per 30 s step..." [memory bytes per step]
microtask() {
  local name=$1 start cpu mem="" v n=0
  start=$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%SZ)
  for v in $3; do cpu+="${cpu:+,}$v"; n=$((n + 1)); done
  if [ -n "${4:-}" ]; then for _ in $(seq "$n"); do mem+="${mem:+,}$4"; done; fi
  kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: foresight.sh/v1alpha1
kind: MicroTask
metadata: {name: $name}
spec:
  taskType: e2e-extender
  template: {spec: {containers: [{name: main, image: registry.k8s.io/pause:3.10}]}}
EOF
  local curves="\"cpu\":{\"p90\":[$cpu]}"
  [ -z "$mem" ] || curves+=",\"memory\":{\"p90\":[$mem]}"
  kubectl patch mt "$name" -n "$NS" --subresource=status --type=merge \
    -p "{\"status\":{\"prediction\":{\"model\":\"e2e\",\"stepSeconds\":30,\"start\":\"$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%SZ)\",\"curves\":{$curves}}}}" >/dev/null
}

# pod_yaml NAME MICROTASK GROUP CPU_REQUEST [LABEL]
pod_yaml() {
  cat <<EOF
---
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {foresight.sh/microtask: $2, e2e-set: "${5:-none}"}
spec:
  schedulerName: foresight
  nodeSelector: {foresight.sh/e2e-pool: $POOL, foresight.sh/e2e-group: "$3"}
  tolerations: [{key: foresight.sh/e2e-pool, operator: Equal, value: $POOL, effect: NoSchedule}]
  containers:
  - {name: main, image: registry.k8s.io/pause:3.10, resources: {requests: {cpu: "$4", memory: 256Mi}}}
EOF
}

# every pod of a set either bound or marked unschedulable by the scheduler
set_decided() {
  local rows # read whole: under pipefail an early `grep -q` exit would fail kubectl's side
  rows=$(kubectl get pods -n "$NS" -l "e2e-set=$1" \
      -o jsonpath='{range .items[*]}{.spec.nodeName}|{.status.conditions[?(@.type=="PodScheduled")].status}{"\n"}{end}') || return 1
  ! grep -qx '|' <<<"$rows"
}
bound_count() {
  kubectl get pods -n "$NS" -l "e2e-set=$1" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c . || true
}
bound_is() { [ "$(bound_count "$1")" -eq "$2" ]; }

# check_group GROUP: the independent recomputation, then the extender's claims against the
# bindings (polled: a bind in flight may be claimed before the informer sees it)
check_group() {
  kubectl get nodes -l "foresight.sh/e2e-pool=$POOL,foresight.sh/e2e-group=$1" -o json >"$WORK/nodes.json"
  kubectl get pods,microtasks -n "$NS" -o json >"$WORK/objs.json"
  "$CHECK" "$WORK/nodes.json" "$WORK/objs.json" | tee "$WORK/check.out" || fail "group $1 over-committed: $(cat "$WORK/check.out")"
  poll 30 "the extender's claims to match the bindings on group $1" claims_match "$1"
  "$CHECK" claims "$WORK/ledger.json" "$WORK/nodes.json" "$WORK/objs.json"
}
claims_match() {
  kubectl get nodes -l "foresight.sh/e2e-pool=$POOL,foresight.sh/e2e-group=$1" -o json >"$WORK/nodes.json"
  kubectl get pods,microtasks -n "$NS" -o json >"$WORK/objs.json"
  curl -sf "http://127.0.0.1:$PORT/debug/ledger" >"$WORK/ledger.json"
  "$CHECK" claims "$WORK/ledger.json" "$WORK/nodes.json" "$WORK/objs.json"
}

kubectl apply -f crds/ >/dev/null
kubectl create namespace "$NS" >/dev/null
PORT=$(free_port) || fail "no free port"
start_extender
EXTENDER_URL="http://127.0.0.1:$PORT" hack/cluster.sh restart-foresight-scheduler >/dev/null
info "extender on port $PORT, the foresight scheduler calls it"

# ---- 1. peaks at different times share a node; an overlapping peak does not fit ------------
make_nodes share 1
# both predictions start at the same step, a minute ahead: placement does not depend on
# when each binding lands; early peaks at 3 cpu for 4 min, late for the last 4 of 10 min
t0=$(( ($(date +%s) / 30 + 3) * 30 ))
microtask early "$t0" "3 3 3 3 3 3 3 3 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5"
microtask late "$t0" "0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 0.5 3 3 3 3 3 3 3 3"
{ pod_yaml early early share 3 share; pod_yaml late late share 3 share; } | kubectl apply -n "$NS" -f - >/dev/null
poll 60 "early and late to be bound" bound_is share 2
nodes=$(kubectl get pods -n "$NS" -l e2e-set=share -o jsonpath='{.items[*].spec.nodeName}')
[ "$nodes" = "$POOL-share-0 $POOL-share-0" ] || fail "early and late on: $nodes"
info "early and late (3 cpu requested each) share the 4-cpu node $POOL-share-0"
check_group share

# a third pod peaking with `early`: 3 + 3 + 0.5 > 4 in the first minutes, so it must wait
pod_yaml clash early share 3 clash | kubectl apply -n "$NS" -f - >/dev/null
# ---- 2. a pod that fits nowhere: its peak alone is above every node's capacity ------------
microtask huge "$t0" "1 1 6 6 1 1"
pod_yaml huge huge share 1 huge | kubectl apply -n "$NS" -f - >/dev/null
reasons() {
  kubectl get events -n "$NS" --field-selector "involvedObject.name=$1,reason=FailedScheduling" \
    -o jsonpath='{range .items[*]}{.message}{"\n"}{end}'
}
poll 60 "clash to get a FailedScheduling event" sh -c "kubectl get events -n $NS --field-selector involvedObject.name=clash,reason=FailedScheduling -o name | grep -q ."
poll 60 "huge to get a FailedScheduling event" sh -c "kubectl get events -n $NS --field-selector involvedObject.name=huge,reason=FailedScheduling -o name | grep -q ."
info "clash: $(reasons clash | head -1)"
info "huge: $(reasons huge | head -1)"
# The scheduler retries, so an Event's message can change after it first appears: poll.
reasons_match() { reasons "$1" | grep -Eq "$2"; }
until_reason() { # pod regex description
  local deadline=$(( $(date +%s) + 60 ))
  until reasons_match "$1" "$2"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$1's events do not say $3: $(reasons "$1")"
    sleep 1
  done
}
until_reason clash "cpu: [0-9]+m reserved \+ [0-9]+m for this pod > 4000m allowed at \+" "which resource overflows when"
until_reason huge "cpu: [0-9]+m reserved \+ [0-9]+m for this pod > 4000m allowed at \+[0-9ms]+ \(the pod alone exceeds the node\)" "that it alone exceeds the node"
[ -z "$(kubectl get pod clash huge -n "$NS" -o jsonpath='{.items[*].spec.nodeName}')" ] \
  || fail "clash or huge was bound"
kubectl get pod huge -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}' | grep -qx Unschedulable \
  || fail "huge is not marked Unschedulable"
check_group share
kubectl delete pod clash huge -n "$NS" --wait=false >/dev/null

# ---- 3. 200 pods at once on 4 nodes of 4 cpu: never over-committed --------------------------
make_nodes burst 4
t1=$(( ($(date +%s) / 30 + 2) * 30 ))
# 20 shapes: 50m, except 1 cpu at two steps that move with k; 256Mi all along
for k in $(seq 0 19); do
  c=""; for s in $(seq 0 19); do
    if [ "$s" -eq "$k" ] || [ "$s" -eq $(( (k + 1) % 20 )) ]; then c+=" 1"; else c+=" 0.05"; fi
  done
  microtask "shape-$k" "$t1" "$c" 268435456
done
for i in $(seq 0 199); do pod_yaml "burst-$i" "shape-$(( i % 20 ))" burst 500m burst; done >"$WORK/burst.yaml"
start=$(date +%s)
kubectl apply -n "$NS" -f "$WORK/burst.yaml" >/dev/null
poll 300 "every burst pod to be bound or unschedulable" set_decided burst
took=$(( $(date +%s) - start ))
bound=$(bound_count burst)
info "200 pods decided in ${took}s: $bound bound, $((200 - bound)) pending"
[ "$bound" -gt 0 ] && [ "$bound" -lt 200 ] || fail "expected contention (some bound, some pending), got $bound bound"
check_group burst
# the binds reuse their connections to the API server (a new one each paid a TLS handshake)
m=$(curl -sf "http://127.0.0.1:$PORT/metrics")
conns=$(sed -n 's/^foresight_extender_apiserver_connections_opened_total //p' <<<"$m")
binds=$(sed -n 's/^foresight_extender_binds_total{result="bound"} //p' <<<"$m")
info "$binds bindings so far over $conns connections to the API server"
[ -n "$conns" ] && [ "$conns" -le 48 ] || fail "$conns connections opened for $binds bindings (32 bind threads + informers)"
# after each filter's answer the prioritize that follows is worked out ahead, while the
# scheduler runs its own score plugins: the warm-ups ran, and the prioritize calls came after
warmups=$(sed -n 's/^foresight_extender_prioritize_warmup_seconds_count //p' <<<"$m")
gaps=$(sed -n 's/^foresight_extender_filter_to_prioritize_seconds_count //p' <<<"$m")
gap_sum=$(sed -n 's/^foresight_extender_filter_to_prioritize_seconds_sum //p' <<<"$m")
warm_sum=$(sed -n 's/^foresight_extender_prioritize_warmup_seconds_sum //p' <<<"$m")
info "$warmups prioritize warm-ups (mean $(awk -v s="$warm_sum" -v n="$warmups" 'BEGIN{printf "%.3f", n ? s / n * 1000 : 0}') ms);" \
  "$gaps prioritize calls after a filter (mean gap $(awk -v s="$gap_sum" -v n="$gaps" 'BEGIN{printf "%.3f", n ? s / n * 1000 : 0}') ms)"
[ "${warmups:-0}" -gt 0 ] && [ "${gaps:-0}" -gt 0 ] || fail "no prioritize warm-up after kube-scheduler's filter calls ($warmups) or no prioritize after one ($gaps)"
# the warm-up answers the prioritize kube-scheduler sends next (its pod, the list the filter
# answered, as Go's encoder writes it): some are taken as they are (binds in between make
# others be answered afresh)
ahead=$(sed -n 's/^foresight_extender_prioritize_answered_ahead_total //p' <<<"$m")
prios=$(sed -n 's/^foresight_extender_requests_total{verb="prioritize",code="2xx"} //p' <<<"$m")
info "$ahead of $prios prioritize calls answered with the reply worked out ahead"
[ "${ahead:-0}" -gt 0 ] || fail "no prioritize of kube-scheduler's was answered ahead ($prios calls)"

# ---- 4. the extender is killed during a burst; a new one rebuilds the ledger ---------------
make_nodes restart 4
for i in $(seq 0 149); do pod_yaml "rs-$i" "shape-$(( i % 20 ))" restart 500m restart; done >"$WORK/restart.yaml"
kubectl apply -n "$NS" -f "$WORK/restart.yaml" >/dev/null
# kill as soon as the first pod of the burst is bound: the scheduler is mid-burst
poll 120 "the first restart-burst pod to be bound" sh -c "kubectl get pods -n $NS -l e2e-set=restart -o jsonpath='{range .items[*]}{.spec.nodeName}{\"\\n\"}{end}' | grep -q ."
kill -9 "$ext_pid"
wait "$ext_pid" 2>/dev/null || true
before=$(bound_count restart)
undecided=$(kubectl get pods -n "$NS" -l e2e-set=restart \
  -o jsonpath='{range .items[*]}{.spec.nodeName}|{.status.conditions[?(@.type=="PodScheduled")].status}{"\n"}{end}' | grep -cx '|' || true)
info "extender killed (SIGKILL) with $before of 150 pods bound, $undecided not yet tried; a new one starts on port $PORT"
start_extender
poll 300 "every restart-burst pod to be bound or unschedulable" set_decided restart
after=$(bound_count restart)
filters=$(curl -sf "http://127.0.0.1:$PORT/metrics" | sed -n 's/^foresight_extender_requests_total{verb="filter",code="2xx"} //p')
info "after the restart: $after bound, $((150 - after)) pending; the new extender answered ${filters:-0} filter calls"
if [ "$undecided" -gt 0 ]; then
  [ "${filters:-0}" -gt 0 ] || fail "pods were left to schedule but the new extender answered no filter call"
fi
check_group restart
# the burst group's claims survived the restart too (rebuilt from the API server)
check_group burst

# ---- 5. pod count and extended resources (NodeResourcesFit's filter is off in this profile) --
# one node with room for 2 pods and 1 example.com/dongle; cpu and memory are plentiful
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $POOL-counted-0
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {foresight.sh/e2e-pool: $POOL, foresight.sh/e2e-group: "counted", kubernetes.io/hostname: $POOL-counted-0}
spec:
  taints: [{key: foresight.sh/e2e-pool, value: $POOL, effect: NoSchedule}]
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "2", example.com/dongle: "1"}
  capacity: {cpu: "4", memory: 16Gi, pods: "2", example.com/dongle: "1"}
EOF
poll 60 "the counted node to be Ready" nodes_ready counted 1
# counted_pod NAME DONGLES: a plain pod (no MicroTask: held to its requests) on that node
counted_pod() {
  local ext=""
  [ "$2" = 0 ] || ext=", example.com/dongle: \"$2\""
  cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {e2e-set: counted}}
spec:
  schedulerName: foresight
  nodeSelector: {foresight.sh/e2e-pool: $POOL, foresight.sh/e2e-group: counted}
  tolerations: [{key: foresight.sh/e2e-pool, operator: Equal, value: $POOL, effect: NoSchedule}]
  containers:
  - name: main
    image: registry.k8s.io/pause:3.10
    resources: {requests: {cpu: 100m, memory: 64Mi$ext}, limits: {cpu: 100m, memory: 64Mi$ext}}
EOF
}
counted_pod dongle-1 1 | kubectl apply -n "$NS" -f - >/dev/null
poll 60 "dongle-1 to be bound" bound_is counted 1
counted_pod dongle-2 1 | kubectl apply -n "$NS" -f - >/dev/null
until_reason dongle-2 "example.com/dongle: 1 requested \+ 1 in use > 1 on the node" "that the dongle is taken"
counted_pod plain-1 0 | kubectl apply -n "$NS" -f - >/dev/null
poll 60 "plain-1 to be bound" bound_is counted 2
counted_pod plain-2 0 | kubectl apply -n "$NS" -f - >/dev/null
until_reason plain-2 "pods: 2 of 2 pods already on the node" "that the node's pod capacity is used up"
[ "$(bound_count counted)" -eq 2 ] || fail "more than 2 pods bound on a node for 2 pods"
[ -z "$(kubectl get pod dongle-2 plain-2 -n "$NS" -o jsonpath='{.items[*].spec.nodeName}')" ] \
  || fail "dongle-2 or plain-2 was bound"
info "pod count and example.com/dongle enforced: $(reasons plain-2 | head -1)"

curl -sf "http://127.0.0.1:$PORT/metrics" | grep -E '^foresight_(extender_binds_total|extender_rejections_total|ledger_claims)' || true
echo "PASS test_extender"
