#!/usr/bin/env bash
# bench-extender, two tables from one run:
# 1. filter+prioritize latency of foresight-extender at 1,000 and 5,000 nodes (240-step
#    horizon: 2 h at 30 s) from a load generator on loopback (tests/bench/extender_load.c),
#    for one pod repeated (the replicas of one MicroTask: per-node memos answer) and for a
#    new pod of another MicroTask every pair (nothing reusable); the reference, measured in
#    the same run, is the same bodies POSTed to /healthz (the HTTP round trip alone).
# 2. kube-scheduler throughput (pods/s) on a separate named cluster of 1,000 kwok nodes,
#    2,000 pods, the foresight profile with the extender versus without it.
#    BENCH_SCHED=0 skips it (it needs the Kubernetes binaries of `make k8s-bins tools`);
#    BENCH_LATENCY=0 skips the first.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-_out/build}
EXT=$BUILD/bin/foresight-extender
LOAD=$BUILD/bench/extender_load
PAIRS=${PAIRS:-2000}
PORT=${PORT:-18931}
WORK=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  if [ -n "${BENCH_CLUSTER_UP:-}" ]; then
    FORESIGHT_CLUSTER_NAME=$BNAME APISERVER_PORT=$BAPI SCHED_PORT=$BSCHED hack/cluster.sh down >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$EXT" ] && [ -x "$LOAD" ] || { echo "bench-extender: build first (make all)" >&2; exit 2; }
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }

if [ "${BENCH_LATENCY:-1}" = 1 ]; then
echo "filter+prioritize pairs, ms per pair ($PAIRS pairs each; reference: the same bodies to /healthz)"
printf '%-6s %-9s %-8s %-8s %-8s %-8s %-8s %-14s %s\n' nodes pod p50_ms p99_ms max_ms ref_p50 ref_p99 p99/ref_p99 "p99 <= 1 ms"
for nodes in 1000 5000; do
  "$LOAD" gen "$nodes" "$WORK/cluster.json"
  "$EXT" --fake-cluster "$WORK/cluster.json" --address 127.0.0.1 --port "$PORT" --step 30 --horizon 7200 2>"$WORK/ext.log" &
  pid=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  ref=$("$LOAD" run "http://127.0.0.1:$PORT" "$nodes" "$PAIRS" ref)
  rp50=$(field p50_ms "$ref"); rp99=$(field p99_ms "$ref")
  for mode in same distinct; do
    out=$("$LOAD" run "http://127.0.0.1:$PORT" "$nodes" "$PAIRS" "$mode")
    p50=$(field p50_ms "$out"); p99=$(field p99_ms "$out"); max=$(field max_ms "$out")
    printf '%-6s %-9s %-8s %-8s %-8s %-8s %-8s %-14s %s\n' "$nodes" "$mode" "$p50" "$p99" "$max" "$rp50" "$rp99" \
      "$(awk -v a="$p99" -v b="$rp99" 'BEGIN{printf "%.2f", (b > 0) ? a / b : 0}')" \
      "$(awk -v p="$p99" 'BEGIN{print (p <= 1.0) ? "met" : "missed"}')"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
fi

[ "${BENCH_SCHED:-1}" = 1 ] || exit 0
# ---- kube-scheduler throughput with and without the extender --------------------------------
BNAME=${BENCH_CLUSTER_NAME:-bench-extender}; BAPI=${BENCH_APISERVER_PORT:-16499}; BSCHED=${BENCH_SCHED_PORT:-10399}
BNODES=${BENCH_NODES:-1000}; BPODS=${BENCH_PODS:-2000}
export FORESIGHT_CLUSTER_NAME=$BNAME APISERVER_PORT=$BAPI SCHED_PORT=$BSCHED
export KUBECONFIG=$ROOT/_out/kubeconfig-$BNAME PATH=$ROOT/_out/bin:$PATH
BENCH_CLUSTER_UP=1
NODES=$BNODES hack/cluster.sh up >"$WORK/up.log" 2>&1 || { tail "$WORK/up.log" >&2; exit 1; }

# run_pods NS: creates BPODS pods for the foresight profile, waits until all are bound and
# prints "created_s first_to_last_bound_s" from the PodScheduled timestamps
run_pods() {
  local ns=$1 i
  kubectl create namespace "$ns" >/dev/null
  for i in $(seq 1 "$BPODS"); do
    printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: p-%d}\nspec:\n  schedulerName: foresight\n  containers: [{name: c, image: registry.k8s.io/pause:3.10, resources: {requests: {cpu: 10m, memory: 16Mi}}}]\n' "$i"
  done >"$WORK/pods.yaml"
  local t0; t0=$(date +%s.%N)
  kubectl create -n "$ns" -f "$WORK/pods.yaml" >/dev/null
  local t1; t1=$(date +%s.%N)
  local deadline=$(( $(date +%s) + 900 ))
  until [ "$(kubectl get pods -n "$ns" -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c .)" -ge "$BPODS" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench-extender: pods of $ns not all bound in 900 s" >&2; exit 1; }
    sleep 1
  done
  local t2; t2=$(date +%s.%N)
  kubectl get pods -n "$ns" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="PodScheduled")].lastTransitionTime}{"\n"}{end}' \
    | sort >"$WORK/times"
  local first last
  first=$(date -d "$(head -1 "$WORK/times")" +%s); last=$(date -d "$(tail -1 "$WORK/times")" +%s)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v f="$first" -v l="$last" \
    'BEGIN{printf "%.1f %.1f %d\n", b - a, c - a, l - f}'
  kubectl delete namespace "$ns" --wait=false >/dev/null
}

EXTENDER_URL= hack/cluster.sh restart-foresight-scheduler >/dev/null
without=$(run_pods bench-without)
"$EXT" --address 127.0.0.1 --port "$PORT" --kubeconfig "$KUBECONFIG" 2>"$WORK/ext-kube.log" &
pid=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
EXTENDER_URL="http://127.0.0.1:$PORT" hack/cluster.sh restart-foresight-scheduler >/dev/null
with=$(run_pods bench-with)
binds=$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^foresight_extender_binds_total{result="bound"} //p')
EXTENDER_URL= hack/cluster.sh restart-foresight-scheduler >/dev/null

echo
echo "kube-scheduler, foresight profile: $BNODES kwok nodes, $BPODS pods created at once (kubectl create)"
printf '%-16s %-10s %-14s %-16s %-10s\n' run create_s all_bound_s sched_span_s pods_per_s
for r in without with; do
  v=${!r}
  read -r c b s <<<"$v"
  printf '%-16s %-10s %-14s %-16s %-10s\n' "$r extender" "$c" "$b" "$s" "$(awk -v n="$BPODS" -v b="$b" 'BEGIN{printf "%.1f", n / b}')"
done
read -r _ bw _ <<<"$without"; read -r _ bx _ <<<"$with"
echo "throughput ratio with/without: $(awk -v a="$bw" -v b="$bx" 'BEGIN{printf "%.2f", a / b}') (goal >= 0.9); extender binds: ${binds:-?}"
