#!/usr/bin/env bash
# bench-controller: N MicroTasks (default 10,000; 1m cpu, 1Mi, 1 minute each, so all fit the
# ledger of the local 4-node cluster) created at once in one namespace by
# tests/bench/controller_load.c, with foresight-controller running: the time from the first
# creation until every one is predicted and has an admission decision (pod created or
# Queued), reconciles per second, and the controller's resident memory (peak, from /proc).
# Reference, measured in the same run: the API server's create rate for the same objects
# (the load generator's own figure), so "decided/s over created/s" says how close the
# controller keeps up with the fastest the objects can arrive.
# Uses the local cluster (hack/cluster.sh up; FORESIGHT_CLUSTER_NAME etc. as for e2e).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-_out/build}
CTL=$BUILD/bin/foresight-controller
LOAD=$BUILD/bench/controller_load
N=${N:-10000}
QPS=${QPS:-500}
NAME=${FORESIGHT_CLUSTER_NAME:-foresight}
KC=$ROOT/_out/kubeconfig; [ "$NAME" = foresight ] || KC=$ROOT/_out/kubeconfig-$NAME
export PATH=$ROOT/_out/bin:$PATH KUBECONFIG=${FORESIGHT_KUBECONFIG:-$KC}
NS=bench-ctl-$$
WORK=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$CTL" ] && [ -x "$LOAD" ] || { echo "bench-controller: build first (make all)" >&2; exit 2; }
hack/cluster.sh up >/dev/null
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl create namespace "$NS" >/dev/null

"$CTL" --kubeconfig "$KUBECONFIG" --lease-namespace "$NS" --http-address 127.0.0.1:0 --qps "$QPS" \
  --sample-interval 30s 2>"$WORK/ctl.log" &
pid=$!
for _ in $(seq 1 120); do grep -q 'msg="leading"' "$WORK/ctl.log" && break; sleep 0.5; done
port=$(sed -n 's/.*msg="serving[^"]*".* port="\([0-9]*\)".*/\1/p' "$WORK/ctl.log" | tail -1)
rss_start=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")

out=$("$LOAD" "$KUBECONFIG" "$NS" "$N" 8 1800) || { echo "bench-controller: not every MicroTask was decided: $out" >&2; tail -5 "$WORK/ctl.log" >&2; exit 1; }
field() { sed -E "s/.*[ ^]?$1=([0-9.-]+).*/\1/" <<<"$out"; }
met() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
rec=$(( $(met 'foresight_controller_reconciles_total{result="ok"}') + $(met 'foresight_controller_reconciles_total{result="error"}') ))
created_pods=$(met 'foresight_controller_created_total{kind="Pod"}')
n=$(field n); cs=$(field create_s); cps=$(field create_per_s); ds=$(field decided_s)
adm=$(field admitted); q=$(field queued)

echo "bench-controller: $n MicroTasks in one namespace, controller --qps $QPS, cluster $NAME ($(kubectl get nodes --no-headers | wc -l) nodes)"
printf '%-44s %12s\n' "figure" "value"
printf '%-44s %12s\n' "create all (reference: API server)" "${cs}s"
printf '%-44s %12s\n' "created per second (reference)" "$cps"
printf '%-44s %12s\n' "all predicted and decided after" "${ds}s"
printf '%-44s %12s\n' "decided per second" "$(awk -v n="$n" -v d="$ds" 'BEGIN{printf "%.1f", n/d}')"
printf '%-44s %12s\n' "ratio decided/s over created/s" "$(awk -v n="$n" -v d="$ds" -v c="$cps" 'BEGIN{printf "%.2f", n/d/c}')"
printf '%-44s %12s\n' "admitted (pod created) / queued" "$adm / $q"
printf '%-44s %12s\n' "pods created by the controller" "$created_pods"
printf '%-44s %12s\n' "namespace reconciles (each covers all tasks)" "$rec"
printf '%-44s %12s\n' "reconciles per second" "$(awk -v r="$rec" -v d="$ds" 'BEGIN{printf "%.2f", r/d}')"
printf '%-44s %12s\n' "controller RSS at start" "$(( rss_start / 1024 )) MiB"
printf '%-44s %12s\n' "controller RSS after / peak" "$(( rss / 1024 )) / $(( hwm / 1024 )) MiB"
