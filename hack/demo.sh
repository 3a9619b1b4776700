#!/usr/bin/env bash
# The local demo (`make demo`, the README's main command): brings up the local cluster
# (hack/cluster.sh up), runs foresight-controller in the background (logs and pid in
# _out/demo/), applies the sample MicroTasks from hack/examples/ (not invalid/) and shows
# `kubectl get mt` with their predictions, plus a pod with scripted usage read back through
# metrics.k8s.io. The cluster and the controller stay up; `make cluster-down` stops the
# cluster, `kill $(cat _out/demo/controller.pid)` the controller.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
NAME=${FORESIGHT_CLUSTER_NAME:-foresight}
KC=$ROOT/_out/kubeconfig; [ "$NAME" = foresight ] || KC=$ROOT/_out/kubeconfig-$NAME
export PATH=$ROOT/_out/bin:$PATH KUBECONFIG=${FORESIGHT_KUBECONFIG:-$KC}
BIN=${BIN:-$ROOT/_out/build}
DEMO=$ROOT/_out/demo
NS=demo
mkdir -p "$DEMO"

hack/cluster.sh up
echo; kubectl get nodes -o wide

# the controller: one replica, restarted if a previous demo left one running
if [ -f "$DEMO/controller.pid" ]; then
  old=$(cat "$DEMO/controller.pid")
  if [ -r "/proc/$old/cmdline" ] && tr '\0' ' ' < "/proc/$old/cmdline" | grep -q foresight-controller; then
    kill "$old" 2>/dev/null || true
    while kill -0 "$old" 2>/dev/null; do sleep 0.2; done
  fi
fi
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd/microtasks.foresight.sh crd/taskprofiles.foresight.sh >/dev/null
: > "$DEMO/controller.log"
setsid "$BIN/bin/foresight-controller" --kubeconfig "$KUBECONFIG" --http-address 127.0.0.1:0 --step 10 \
  --sample-interval 5s >>"$DEMO/controller.log" 2>&1 < /dev/null &
echo $! > "$DEMO/controller.pid"
echo; echo "foresight-controller running (pid $(cat "$DEMO/controller.pid"), log $DEMO/controller.log)"
for _ in $(seq 1 60); do grep -q 'msg="leading"' "$DEMO/controller.log" && break; sleep 0.5; done
port=$(sed -n 's/.*msg="serving[^"]*".* port="\([0-9]*\)".*/\1/p' "$DEMO/controller.log" | tail -1)

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
for f in hack/examples/*.yaml; do
  kubectl apply -n "$NS" -f "$f" >/dev/null
done
echo; echo "applied hack/examples/ in namespace $NS; waiting for predictions..."
predicted() { [ -n "$(kubectl -n "$NS" get mt etl-extract nightly-report -o jsonpath='{.items[*].status.predictionSummary.cpuPeak}' 2>/dev/null | tr -d ' ')" ]; }
for _ in $(seq 1 60); do predicted && break; sleep 1; done
sleep 2
echo; kubectl -n "$NS" get mt
echo; echo "in 20 s etl-extract completes, etl-transform splits into 8 shards, then etl-load runs:"
for _ in $(seq 1 90); do
  [ "$(kubectl -n "$NS" get mt etl-transform -o jsonpath='{.status.progress.total}' 2>/dev/null)" = 4 ] && break; sleep 1
done
sleep 3
kubectl -n "$NS" get mt -o wide
echo; kubectl -n "$NS" get pods -o wide

echo; echo "waiting for metrics-server to scrape the scripted pod..."
until kubectl -n "$NS" top pod scripted >/dev/null 2>&1; do sleep 2; done
kubectl -n "$NS" top pod scripted
cat <<EOT

The cluster and the controller are up. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$ROOT/_out/bin:\$PATH
  kubectl get mt -n $NS -w                # phases, nodes, predicted peaks, error so far
  kubectl get taskprofiles -n $NS         # what was learnt (after runs complete)
  kubectl get events -n $NS               # Queued, PodCreated, Anomalous
  curl -s http://127.0.0.1:$port/metrics | grep foresight_
  tail -f $DEMO/controller.log
  kill \$(cat $DEMO/controller.pid); make cluster-down
EOT
