#!/usr/bin/env bash
# The local demo: brings up the local cluster (hack/cluster.sh up) and shows it working:
# the kwok nodes, and a pod scheduled by the `foresight` scheduler with scripted usage read
# back through metrics.k8s.io. The cluster stays up; `make cluster-down` stops it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=$ROOT/_out/bin:$PATH KUBECONFIG=$ROOT/_out/kubeconfig

hack/cluster.sh up
echo; kubectl get nodes -o wide
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo apply -f hack/examples/scripted-pod.yaml
echo; echo "waiting for the foresight scheduler to place the pod and metrics-server to scrape it..."
until kubectl -n demo top pod scripted >/dev/null 2>&1; do sleep 2; done
kubectl -n demo get pod scripted -o wide
kubectl -n demo top pod scripted
cat <<EOT

The cluster is up. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$ROOT/_out/bin:\$PATH
  kubectl get pods -A; kubectl top pod -n demo
  make cluster-down
EOT
