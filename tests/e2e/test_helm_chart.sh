#!/usr/bin/env bash
# E2E: the Helm chart (charts/foresight) as an operator installs it.
# - helm lint passes; values.schema.json refuses bad values with the field named;
# - helm install creates the objects and both Deployments become Available (kwok runs them);
# - the chart's RBAC, flags and scheduler configuration are the ones that work: the real
#   foresight-controller runs with a token of the chart's controller service account and
#   turns a MicroTask into a pod; the real kube-scheduler runs the chart's rendered
#   KubeSchedulerConfiguration with a token of the scheduler service account, beside
#   foresight-extender under the same account, and a pod asking for the chart's
#   schedulerName is bound by the extender; neither log shows a forbidden request;
# - helm uninstall removes what it installed and leaves the CRDs (and MicroTasks) alone.
# Needs KUBECONFIG, kubectl, helm, curl, BIN (tests/e2e/run.sh sets them).
set -euo pipefail
ROOT=$(realpath "$(dirname "$0")/../..")
source "$ROOT/tests/e2e/lib.sh"
BIN=${BIN:-$ROOT/_out/build}
CHART=$ROOT/charts/foresight
LOGS=${E2E_LOGS:-/tmp}
REL=fs$$
RNS=foresight-chart-$$
SCHED=foresight-chart-$$
EXT_PORT=$(( 20000 + $$ % 20000 ))
SCHED_SECURE_PORT=$(( EXT_PORT + 1 ))
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  helm uninstall "$REL" -n "$RNS" >/dev/null 2>&1 || true
  kubectl delete namespace "$RNS" "${NS:-none}" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# helm built from source reports Kubernetes 1.20 to `helm template` unless told otherwise
KUBE_VERSION=$(kubectl version -o json | jq -r .serverVersion.gitVersion)
values=(--set "schedulerName=$SCHED" --set "extender.port=$EXT_PORT" --set "scheduler.securePort=$SCHED_SECURE_PORT")

info "lint and schema"
helm lint "$CHART" 2>/dev/null | grep -q '1 chart(s) linted, 0 chart(s) failed' || { helm lint "$CHART"; fail "helm lint"; }
for bad in controller.replicas=-1 ledger.headroom=2 schedulerName=default-scheduler extender.port=0; do
  if out=$(helm template x "$CHART" --kube-version "$KUBE_VERSION" --set "$bad" 2>&1); then
    fail "the schema accepted $bad"
  fi
  key=${bad%%=*}
  grep -qF "at '/${key//.//}'" <<<"$out" || fail "the schema error for $bad does not name the field: $out"
done
out=$(helm template x "$CHART" --kube-version "$KUBE_VERSION" --set nosuchkey=1 2>&1) && fail "the schema accepted an unknown key"
grep -q "nosuchkey" <<<"$out" || fail "the unknown key is not named: $out"
# what the API server itself says of every rendered object
helm template "$REL" "$CHART" -n "$RNS" --kube-version "$KUBE_VERSION" "${values[@]}" 2>/dev/null >"$WORK/rendered.yaml"
kubectl create namespace "$RNS" >/dev/null
kubectl apply --dry-run=server -f "$WORK/rendered.yaml" >/dev/null || fail "the API server refuses the rendered chart"

info "install"
helm install "$REL" "$CHART" -n "$RNS" "${values[@]}" --wait --timeout 180s >"$LOGS/helm-install.log" 2>&1 ||
  { cat "$LOGS/helm-install.log"; fail "helm install"; }
for d in controller scheduler; do
  kubectl -n "$RNS" wait --for=condition=Available "deployment/$REL-foresight-$d" --timeout=120s >/dev/null ||
    fail "deployment $d not Available"
done
kubectl get crd microtasks.foresight.sh taskprofiles.foresight.sh reservationpools.foresight.sh >/dev/null ||
  fail "the chart's CRDs are missing"
[ "$(kubectl -n "$RNS" get deploy "$REL-foresight-controller" -o jsonpath='{.spec.replicas}')" = 2 ] ||
  fail "the controller does not run the two replicas of the default values"

# kubeconfig_for SA FILE: a kubeconfig that authenticates as the chart's service account SA
kubeconfig_for() {
  local token server ca
  token=$(kubectl -n "$RNS" create token "$1" --duration 1h)
  server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  if [ -z "$ca" ]; then
    ca=$(base64 -w0 <"$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')")
  fi
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: u, user: {token: "$token"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
EOF
}

info "the controller under the chart's service account"
kubeconfig_for "$REL-foresight-controller" "$WORK/controller.kubeconfig"
new_namespace chart
trap cleanup EXIT
# container_args DEPLOYMENT CONTAINER: the arguments the chart gives that container (after the
# program name), so the real binaries are run with exactly the chart's flags
container_args() {
  kubectl -n "$RNS" get deployment "$1" -o json |
    jq -r --arg c "$2" '.spec.template.spec.containers[] | select(.name == $c) | .command[1:][]'
}
mapfile -t ctl_args < <(container_args "$REL-foresight-controller" controller)
[ "${#ctl_args[@]}" -gt 5 ] || fail "no controller arguments in the chart's Deployment"
# the chart's flags, then what differs out of cluster (later flags win): the kubeconfig, a
# loopback port, a Lease of its own (the kwok replicas do not run the binary)
"$BIN/bin/foresight-controller" "${ctl_args[@]}" --kubeconfig "$WORK/controller.kubeconfig" \
  --lease-name "$REL-foresight-controller-e2e" --http-address 127.0.0.1:0 --requeue 5s >"$LOGS/chart-controller.log" 2>&1 &
pids+=($!)
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: foresight.sh/v1alpha1
kind: MicroTask
metadata: {name: chart}
spec:
  taskType: chart
  resources: {cpu: 200m, memory: 64Mi, duration: 2m}
  template:
    metadata: {annotations: {kwok.x-k8s.io/usage-cpu: 10m}}
    spec: {containers: [{name: main, image: registry.k8s.io/pause:3.10}]}
EOF
controller_pod() { [ -n "$(kubectl -n "$NS" get pods -l foresight.sh/microtask=chart -o name)" ]; }
poll 90 "the controller (chart RBAC) creates the MicroTask's pod" controller_pod
[ "$(kubectl -n "$NS" get pods -l foresight.sh/microtask=chart -o jsonpath='{.items[0].spec.schedulerName}')" = "$SCHED" ] ||
  fail "the controller's pod does not ask for the chart's scheduler $SCHED"
poll 60 "the MicroTask has a predicted peak" \
  sh -c "[ -n \"\$(kubectl -n $NS get mt chart -o jsonpath='{.status.predictionSummary.cpuPeak}')\" ]"

info "the chart's scheduler configuration with the real kube-scheduler and the extender"
kubeconfig_for "$REL-foresight-scheduler" "$WORK/scheduler.kubeconfig"
{ printf 'clientConnection:\n  kubeconfig: %s\n' "$WORK/scheduler.kubeconfig"
  kubectl -n "$RNS" get configmap "$REL-foresight-scheduler" -o jsonpath='{.data.config\.yaml}'; } >"$WORK/scheduler.yaml"
mapfile -t ext_args < <(container_args "$REL-foresight-scheduler" extender)
[ "${#ext_args[@]}" -gt 3 ] || fail "no extender arguments in the chart's Deployment"
"$BIN/bin/foresight-extender" "${ext_args[@]}" --kubeconfig "$WORK/scheduler.kubeconfig" --address 127.0.0.1 \
  >"$LOGS/chart-extender.log" 2>&1 &
pids+=($!)
kube-scheduler --config "$WORK/scheduler.yaml" --secure-port "$SCHED_SECURE_PORT" --bind-address 127.0.0.1 \
  >"$LOGS/chart-kube-scheduler.log" 2>&1 &
pids+=($!)
poll 60 "the extender is ready" curl -sf "http://127.0.0.1:$EXT_PORT/readyz"
poll 60 "the chart's kube-scheduler is ready" curl -skf "https://127.0.0.1:$SCHED_SECURE_PORT/readyz"
poll 60 "the chart's kube-scheduler holds its Lease" \
  sh -c "kubectl -n $RNS get lease $REL-foresight-scheduler -o jsonpath='{.spec.holderIdentity}' | grep -q ."
kubectl apply -n "$NS" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: placed}
spec:
  schedulerName: $SCHED
  containers: [{name: main, image: registry.k8s.io/pause:3.10, resources: {requests: {cpu: 250m, memory: 64Mi}}}]
EOF
poll 60 "the pod asking for $SCHED is bound" \
  sh -c "[ -n \"\$(kubectl -n $NS get pod placed -o jsonpath='{.spec.nodeName}')\" ]"
poll 60 "the controller's pod is bound by the chart's scheduler too" \
  sh -c "[ -n \"\$(kubectl -n $NS get pods -l foresight.sh/microtask=chart -o jsonpath='{.items[0].spec.nodeName}')\" ]"
binds=$(curl -sf "http://127.0.0.1:$EXT_PORT/metrics" | awk '$1 ~ /^foresight_extender_binds_total/ && $1 !~ /fail|error/ {s += $2} END {print s + 0}')
[ "$binds" -ge 2 ] || fail "the pod was bound, but not through the extender (binds_total $binds)"
# stopped before the uninstall takes their permissions away, so any refusal below is real
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
# an RBAC refusal reads 'User "system:serviceaccount:..." cannot VERB resource "..."' (other
# 403s, such as creating in a namespace another test is deleting, are not about the chart)
for l in chart-controller chart-extender chart-kube-scheduler; do
  if grep -qE 'cannot [a-z]+ resource' "$LOGS/$l.log"; then
    fail "$l was refused by RBAC: $(grep -E -m3 'cannot [a-z]+ resource' "$LOGS/$l.log")"
  fi
done

info "uninstall"
helm uninstall "$REL" -n "$RNS" --wait --timeout 120s >/dev/null || fail "helm uninstall"
left=$(kubectl get clusterrole,clusterrolebinding -o name | grep -c "$REL-foresight" || true)
[ "$left" = 0 ] || fail "helm uninstall left $left cluster-scoped objects"
kubectl get crd microtasks.foresight.sh >/dev/null || fail "helm uninstall removed the CRDs (and every MicroTask with them)"
kubectl -n "$NS" get mt chart >/dev/null || fail "the MicroTask did not survive helm uninstall"
echo "PASS: chart lints, installs, its RBAC and scheduler configuration work, uninstalls cleanly"
