#!/usr/bin/env bash
# E2E: the anomaly policies that act, on kwok pods with scripted usage.
# - Throttle: a task predicted at 500m whose pod (Burstable: cpu 250m..2) uses 1500m becomes
#   Anomalous and its pod's cpu limit is lowered to the predicted 500m through pods/resize:
#   read back from the pod spec (request, memory and QoS class untouched), the MicroTask's
#   Throttled condition says so, with an Event and the metric. A BestEffort twin cannot be
#   throttled (a limit would change its QoS class): Throttled=False with that reason.
# - Reserve: a task predicted at 500m that uses 500m for 40 s then 1500m is re-reserved at the
#   observed level: every step of its curve after the observed ones is at least the highest
#   observed value (the rescaling alone would give the mean ratio, below it), and the
#   reservation ledger the controller admits from holds it (status.reservation.claimed, and
#   the node's reserved cpu in /metrics).
# kwok does not actuate a resize; only the API server's acceptance and the pod spec matter.
# The API server accepts a resize only from a node that reports the allocated resources of
# running containers (containerStatuses[].resources, as every kubelet since 1.33 does):
# kwok's stock pod-ready stage does not, so the test reports them for the throttled pod the
# way a kubelet would, unless the cluster's stage already did.
# The controller runs with a config file (--config) whose sampling period its flag overrides.
# Needs KUBECONFIG, kubectl, jq, BIN (tests/e2e/run.sh sets them) and metrics-server.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/e2e/controller_lib.sh"
NS=ctl-an-$$
LOG=${E2E_LOGS:-/tmp}/controller-$NS.log

cleanup() {
  [ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
  if [ ${#failures[@]} -gt 0 ] && [ "${KEEP_NS_ON_FAILURE:-0}" = 1 ]; then echo "kept namespace $NS"; return; fi
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
metrics_port() { serving_port "$LOG"; }
milli() { # cpu quantity -> millicores
  case $1 in *m) echo "${1%m}" ;; *) awk -v v="$1" 'BEGIN{printf "%d", v*1000}' ;; esac
}

# a MicroTask: name action annotations [container resources] (flow maps)
mt() {
  microtask "$1" "$1" '{cpu: 500m, memory: 128Mi, duration: 5m}' "$3" "anomaly: {action: $2, window: 30s}" "$4"
}
HOT='{foresight.sh/run-duration: 5m, kwok.x-k8s.io/usage-cpu: 1500m, kwok.x-k8s.io/usage-memory: 100Mi}'
BURSTABLE='{requests: {cpu: 250m, memory: 64Mi}, limits: {cpu: "2", memory: 256Mi}}'

kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null
kubectl create namespace "$NS" >/dev/null

# the controller's settings from a file (--config), one of them overridden by its flag:
# sampling every 10 minutes would never see the anomalies, so the flag must win
CFG=$(mktemp /tmp/foresight-controller-XXXXXX.yaml)
BADCFG=$(mktemp /tmp/foresight-controller-bad-XXXXXX.yaml)
trap 'rm -f "$CFG" "$BADCFG"; cleanup' EXIT
cat >"$CFG" <<EOF
# foresight-controller.yaml
kubeconfig: $KUBECONFIG
lease-namespace: $NS
http-address: 127.0.0.1:0
step: 10s
sample-interval: 10m
verbose: true
EOF
printf 'step: 10s\nsample-intervall: 5s\n' >"$BADCFG"
if err=$("$CTL" --config "$BADCFG" 2>&1); then bad "a config file with an unknown key was accepted"
else echo "$err" | grep -q 'line 2: unknown key sample-intervall' && ok "a config file's unknown key is refused: $err" \
  || bad "unknown key message: $err"; fi
"$CTL" --config "$CFG" --sample-interval 5s >>"$LOG" 2>&1 &
ctl_pid=$!

{
  mt thr Throttle "$HOT" "$BURSTABLE"
  mt thr-besteffort Throttle "$HOT" ''
  mt res Reserve '{foresight.sh/run-duration: 5m, kwok.x-k8s.io/usage-cpu: 500m, kwok.x-k8s.io/usage-memory: 100Mi, foresight.sh/usage-switch-seconds: "40", foresight.sh/usage-cpu-after: 1500m, foresight.sh/usage-memory-after: 100Mi}' ''
} | kubectl apply -n "$NS" -f - >/dev/null

all_running() { for p in thr thr-besteffort res; do [ "$(podget "$p" '{.status.phase}')" = Running ] || return 1; done; }
wait_for 60 "the three pods run" all_running

# the kubelet's report of the allocated resources of the running container (see the header)
if [ -z "$(podget thr '{.status.containerStatuses[0].resources}')" ]; then
  pod=$(kubectl get pod thr -n "$NS" -o json)
  cs=$(echo "$pod" | jq -c '.spec.containers as $c | .status.containerStatuses
        | map(. as $s | . + {resources: ($c[] | select(.name == $s.name) | .resources)})')
  kubectl patch pod thr -n "$NS" --subresource status --type merge -p "{\"status\":{\"containerStatuses\":$cs}}" >/dev/null
  echo "    reported thr's allocated resources as a resize-capable kubelet would: $(podget thr '{.status.containerStatuses[0].resources}')"
fi
t0=$(date +%s)
step_of() { [ "$(mtget thr '{.status.prediction.stepSeconds}')" = 10 ]; }
wait_for 30 "the curve step comes from the config file (10s)" step_of

# --- Throttle ---------------------------------------------------------------------------
throttled() { cond_is thr Throttled True; }
if wait_for 150 "thr (3x its prediction, policy Throttle) is throttled" throttled; then
  echo "    throttled $(( $(date +%s) - t0 ))s after its pod ran (window 30s plus the metrics pipeline)"
  cond_is thr Anomalous True && ok "thr is Anomalous" || bad "thr is not Anomalous"
  msg=$(cond thr Throttled message)
  echo "    Throttled: $(cond thr Throttled reason): $msg"
  [ "$(cond thr Throttled reason)" = Resized ] && ok "reason Resized" || bad "Throttled reason $(cond thr Throttled reason)"
  echo "$msg" | grep -q 'cpu limit of container main lowered from 2 to 500m' && ok "the condition says what was lowered" \
    || bad "Throttled message: $msg"
  lim=$(podget thr '{.spec.containers[0].resources.limits.cpu}')
  [ "$(milli "$lim")" = 500 ] && ok "the pod spec's cpu limit is now $lim (was 2, predicted p90 500m)" || bad "pod cpu limit: $lim"
  req=$(podget thr '{.spec.containers[0].resources.requests.cpu}')
  mem=$(podget thr '{.spec.containers[0].resources.limits.memory}')
  [ "$req" = 250m ] && [ "$mem" = 256Mi ] && ok "request ($req) and memory limit ($mem) untouched" \
    || bad "request $req, memory limit $mem"
  [ "$(podget thr '{.status.qosClass}')" = Burstable ] && ok "still Burstable" || bad "qosClass $(podget thr '{.status.qosClass}')"
  ev=$(kubectl get events -n "$NS" --field-selector reason=Throttled -o jsonpath='{.items[*].regarding.name}{.items[*].involvedObject.name}' 2>/dev/null)
  echo "$ev" | grep -qw thr && ok "an Event Throttled about thr" || bad "no Throttled event (got '$ev')"
  port=$(metrics_port)
  m=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^foresight_controller_throttles_total /{print $2}')
  [ "${m:-0}" -ge 1 ] && ok "/metrics counts the resize ($m)" || bad "throttles metric: '$m'"
fi
refused() { cond_is thr-besteffort Throttled False; }
if wait_for 60 "the BestEffort twin is not throttled" refused; then
  msg=$(cond thr-besteffort Throttled message)
  echo "$msg" | grep -q 'BestEffort' && ok "and says why: $msg" || bad "BestEffort twin's message: $msg"
  [ -z "$(podget thr-besteffort '{.spec.containers[0].resources.limits}')" ] && ok "its pod has no limit" \
    || bad "the BestEffort pod got limits"
fi

# --- Reserve ----------------------------------------------------------------------------
reserved() { cond_is res Reserved True; }
if wait_for 150 "res (500m then 1500m, policy Reserve) is re-reserved" reserved; then
  # one read of the object: the curve and its observed part are consistent within it
  read -r n hi lo <<<"$(kubectl get mt res -n "$NS" -o json | jq -r '
    .status.usage.observedSteps as $n | .status.prediction.curves.cpu.p90 as $c
    | "\($n) \($c[0:$n] | max) \(if ($c | length) > $n then ($c[$n:] | min) else "none" end)"')"
  echo "    observed steps $n, highest observed cpu ${hi} cores, lowest p90 of the rest ${lo} cores"
  awk -v h="$hi" -v l="$lo" 'BEGIN{exit !(l != "none" && h >= 1.2 && l >= h - 0.001)}' \
    && ok "the rest of its curve is reserved at least at the highest observed level" \
    || bad "rest of the curve ($lo) below the observed level ($hi)"
  claimed_high() { c=$(mtget res '{.status.reservation.claimed.cpu}'); [ -n "$c" ] && [ "$(milli "$c")" -ge 1200 ]; }
  wait_for 60 "the ledger holds the raised claim (status.reservation.claimed)" claimed_high
  echo "    claimed: $(mtget res '{.status.reservation.claimed}') on $(mtget res '{.status.reservation.node}')"
  node=$(podget res '{.spec.nodeName}')
  port=$(metrics_port)
  r=$(curl -sf "http://127.0.0.1:$port/metrics" | awk -v n="$node" '$1 == "foresight_controller_ledger_reserved{node=\"" n "\",resource=\"cpu\"}" {print $2}')
  [ "${r:-0}" -ge 1200 ] && ok "node $node's reserved cpu in the ledger is ${r}m" || bad "ledger on $node: '${r}'"
fi

finish test_controller_anomaly
