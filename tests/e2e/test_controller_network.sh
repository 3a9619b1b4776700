#!/usr/bin/env bash
# E2E: network usage from a real Prometheus. kwok serves per-pod network counters in
# cadvisor's names (hack/cluster/network-metrics.yaml) from the pods' annotations
# (foresight.sh/usage-network-receive/-transmit, hack/cluster/usage.yaml); Debian's prometheus,
# started here on loopback with its own config and data in a temporary directory, scrapes
# every kwok node's /metrics/cadvisor; the controller reads
#   sum by (namespace, pod) (irate(receive) + irate(transmit))
# once per sampling period (its default query, irate of cadvisor's counters).
# - With Prometheus: a task whose pod moves 1Mi/s in and 512Ki/s out shows that rate
#   (1.5Mi/s, within 10 %) in status.usage, its network error against its spec (1Mi/s, so
#   about 33 %), and once done its run in the TaskProfile with the network curve; the next
#   run of the type is predicted from what was learnt (network within 15 % of 1.5Mi/s although
#   its spec says 100Ki/s).
# - Prometheus stopped mid-run: a warning is logged and counted, cpu and memory samples go on.
# - Without --prometheus-url: a task runs, is sampled (cpu, memory) and learnt, with no network.
# Skips (exit 0) only when the prometheus binary is not installed (hack/setup.sh installs it).
# Needs KUBECONFIG, kubectl, BIN (tests/e2e/run.sh sets them), jq and curl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/e2e/controller_lib.sh"
if ! command -v prometheus >/dev/null; then
  echo "SKIP test_controller_network: no prometheus binary (apt-get install prometheus; hack/setup.sh does)"
  exit 0
fi
NS=ctl-net-$$
LOGS=${E2E_LOGS:-/tmp}
LOG=
STEP=10
TMP=$(mktemp -d)
prom_pid=

cleanup() {
  [ -n "$ctl_pid" ] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  [ -f "$TMP/prometheus.log" ] && cp "$TMP/prometheus.log" "$LOGS/prometheus-$NS.log" 2>/dev/null
  rm -rf "$TMP"
  if [ ${#failures[@]} -gt 0 ] && [ "${KEEP_NS_ON_FAILURE:-0}" = 1 ]; then echo "kept namespace $NS"; return; fi
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

RX=1048576 TX=524288 WANT=$((1048576 + 524288)) # bytes/s the pods are scripted at
# within PCT % of WANT: within VALUE PCT
within() { awk -v v="$1" -v w="$WANT" -v p="$2" 'BEGIN { exit !(v != "" && v + 0 >= w * (1 - p / 100) && v + 0 <= w * (1 + p / 100)) }'; }
mtjson() { kubectl get mt "$1" -n "$NS" -o json 2>/dev/null; }
tpjson() { kubectl get taskprofile "$1" -n "$NS" -o json 2>/dev/null; }
metric() { { curl -sf "http://127.0.0.1:$(serving_port "$LOG")/metrics" || true; } | awk -v m="$1" '$1 == m {print $2}'; }

# a MicroTask: name type spec-network run-duration [more spec fields]
mt() {
  microtask "$1" "$2" "{cpu: 500m, memory: 128Mi, network: $3, duration: $4}" \
    "{foresight.sh/run-duration: $4, kwok.x-k8s.io/usage-cpu: 500m, kwok.x-k8s.io/usage-memory: 100Mi, foresight.sh/usage-network-receive: \"$RX\", foresight.sh/usage-network-transmit: \"$TX\"}" "${5:-}"
}
# start_ctl LOGNAME FLAGS...: a controller logging to $LOGS/controller-$NS-LOGNAME.log
start_ctl() {
  LOG=$LOGS/controller-$NS-$1.log; shift
  "$CTL" --kubeconfig "$KUBECONFIG" --lease-namespace "$NS" --http-address 127.0.0.1:0 --step "$STEP" \
    --sample-interval 5s --learn-min-runs 1 -v "$@" >>"$LOG" 2>&1 &
  ctl_pid=$!
  has_port() { [ -n "$(serving_port "$LOG")" ]; }
  poll_until 30 0.5 has_port
}
stop_ctl() { kill "$ctl_pid" 2>/dev/null || true; wait "$ctl_pid" 2>/dev/null || true; ctl_pid=; }

# --- kwok's counters and a real Prometheus scraping them -------------------------------------
nodes=$(kubectl get nodes -l type=kwok -o jsonpath='{.items[*].metadata.name}')
kport=$(kubectl get nodes -l type=kwok -o jsonpath='{.items[0].status.daemonEndpoints.kubeletEndpoint.Port}')
first=${nodes%% *}
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$kport/metrics/nodes/$first/metrics/cadvisor" || true)
if [ "$code" != 200 ]; then
  bad "kwok serves no /metrics/nodes/$first/metrics/cadvisor on port $kport (HTTP $code): the cluster predates hack/cluster/network-metrics.yaml, recreate it (hack/cluster.sh down && up)"
  finish test_controller_network; exit 1
fi
ok "kwok serves network counters at /metrics/nodes/<node>/metrics/cadvisor on port $kport"
{
  printf 'global: {scrape_interval: 2s, evaluation_interval: 2s}\nscrape_configs:\n'
  for n in $nodes; do
    printf -- '- job_name: kwok-%s\n  metrics_path: /metrics/nodes/%s/metrics/cadvisor\n  honor_labels: true\n  static_configs: [{targets: ["127.0.0.1:%s"]}]\n' "$n" "$n" "$kport"
  done
} > "$TMP/prometheus.yml"
prom_up() { curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null; }
for try in 1 2 3 4 5; do
  pport=$(free_port) || continue
  prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
    --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
  prom_pid=$!
  poll_until 30 0.5 prom_up && break
  kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null; prom_pid=
done
if [ -z "$prom_pid" ]; then
  bad "prometheus did not start: $(tail -3 "$TMP/prometheus.log")"; finish test_controller_network; exit 1
fi
ok "prometheus $(prometheus --version 2>&1 | awk 'NR == 1 {print $3}') ready on 127.0.0.1:$pport, scraping $(wc -w <<<"$nodes") kwok nodes"

kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null
kubectl create namespace "$NS" >/dev/null

# --- with Prometheus ---------------------------------------------------------------------
start_ctl prom --prometheus-url "http://127.0.0.1:$pport"
# net-1 as its spec says (1Mi/s), and net-hot predicted at 100Ki/s with an anomaly window:
# its scripted 1.5Mi/s must make it Anomalous on its network (it runs long enough for the rate
# to be known, by two Prometheus scrapes, and then above the band for the whole window)
{ mt net-1 net 1Mi 60s; mt net-hot net-hot 100Ki 150s "anomaly: {action: Alert, window: 20s}"; } |
  kubectl apply -n "$NS" -f - >/dev/null
net_seen() { [ -n "$(mtget net-1 '{.status.usage.networkBytesPerSecond}')" ] && [ -n "$(mtget net-1 '{.status.usage.networkMape}')" ]; }
if wait_for 90 "net-1's status shows a network rate read from Prometheus" net_seen; then
  got=$(mtget net-1 '{.status.usage.networkBytesPerSecond}')
  echo "    net-1: usage.network=$(mtget net-1 '{.status.usage.network}') ($got B/s, scripted $WANT) networkMape=$(mtget net-1 '{.status.usage.networkMape}')% cpu=$(mtget net-1 '{.status.usage.cpu}')"
  within "$got" 10 && ok "observed network $got B/s is within 10 % of the scripted $WANT" || bad "observed network $got B/s, scripted $WANT"
  # its spec predicts 1Mi/s: |1Mi - 1.5Mi| / 1.5Mi = 33 %
  m=$(mtget net-1 '{.status.usage.networkMape}')
  awk -v m="$m" 'BEGIN { exit !(m >= 23 && m <= 43) }' && ok "network error against the spec's 1Mi/s is ${m}% (expected about 33 %)" \
    || bad "network MAPE $m, expected about 33"
  obs=$(mtjson net-1 | jq -r '.status.usage.observedSteps as $n | .status.prediction.curves.network.p50[:$n] | map(tostring) | join(" ")')
  echo "    net-1 observed network steps in status.prediction: $obs"
fi
net_anomalous() { cond_is net-hot Anomalous True; }
if wait_for 90 "net-hot (1.5Mi/s against a predicted 100Ki/s) becomes Anomalous" net_anomalous; then
  msg=$(cond net-hot Anomalous message)
  echo "    net-hot: $msg"
  case $msg in "network usage "*) ok "the anomaly names the network" ;; *) bad "net-hot's anomaly is not about the network: $msg" ;; esac
  a=$(metric 'foresight_controller_anomalies_total{resource="network"}')
  [ "${a:-0}" -ge 1 ] && ok "/metrics counts it (anomalies_total{resource=\"network\"} $a)" || bad "network anomalies metric: '$a'"
fi
q=$(metric 'foresight_controller_network_queries_total{result="ok"}')
[ "${q:-0}" -ge 1 ] && ok "/metrics counts Prometheus queries ($q ok)" || bad "network queries metric: '$q'"

wait_for 120 "net-1 succeeds" phase_is net-1 Succeeded || true
learnt() { [ "$(tpjson net | jq '.status.profile.recent | length')" -ge 1 ] 2>/dev/null; }
if wait_for 60 "net-1's run is folded into TaskProfile net" learnt; then
  tp=$(tpjson net)
  arr=$(jq -r '.status.profile.recent[0].network // [] | map(tostring) | join(" ")' <<<"$tp")
  mean=$(jq -r '.status.profile.recent[0].network // [] | if length > 0 then add / length else "" end' <<<"$tp")
  peak=$(jq -r '.status.regression.networkPeak | if . then .intercept + .perUnit else "" end' <<<"$tp")
  echo "    TaskProfile net: recent[0].network=[$arr] mean=$mean regression.networkPeak(size 1)=$peak"
  within "$mean" 10 && ok "the learnt run's network (mean $mean B/s) is within 10 % of $WANT" || bad "learnt network mean '$mean'"
  within "$peak" 10 && ok "the network peak regression ($peak B/s) is within 10 % of $WANT" || bad "networkPeak '$peak'"
fi

# the next run of the type: predicted from the profile, not from its spec's 100Ki/s (and long
# enough to outlive Prometheus below)
mt net-2 net 100Ki 120s | kubectl apply -n "$NS" -f - >/dev/null
base_seen() { [ "$(mtjson net-2 | jq -r '.status.usage.baseline.curves.network.p50 | length')" -gt 0 ] 2>/dev/null; }
if wait_for 90 "net-2 runs and is sampled" base_seen; then
  b=$(mtjson net-2 | jq -r '.status.usage.baseline')
  model=$(jq -r .model <<<"$b")
  pmean=$(jq -r '.curves.network.p50 | add / length' <<<"$b")
  echo "    net-2 predicted with model=$model, network p50 [$(jq -r '.curves.network.p50 | map(tostring) | join(" ")' <<<"$b")] mean $pmean (spec says 102400)"
  within "$pmean" 15 && ok "net-2's predicted network (mean $pmean B/s) comes from what net-1 taught, within 15 % of $WANT" \
    || bad "net-2's predicted network mean $pmean, want $WANT"
fi

# Prometheus goes away mid-run: a warning and a metric, and cpu/memory sampling goes on
kill "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; prom_pid=
s0=$(metric foresight_controller_usage_samples_total)
warned() { grep -q 'cannot read network usage from prometheus' "$LOG"; }
wait_for 30 "a stopped Prometheus is a logged warning" warned && grep 'cannot read network usage from prometheus' "$LOG" | tail -1 | sed 's/^/    /'
errs() { [ "$(metric 'foresight_controller_network_queries_total{result="error"}')" -ge 1 ]; }
wait_for 30 "/metrics counts the failed Prometheus queries" errs || true
more() { [ "$(metric foresight_controller_usage_samples_total)" -gt "${s0:-0}" ]; }
wait_for 30 "cpu and memory samples go on without Prometheus (from $s0)" more || true
wait_for 150 "net-2 succeeds" phase_is net-2 Succeeded || true
runs2() { [ "$(tpjson net | jq '.status.runs')" -ge 2 ] 2>/dev/null; }
wait_for 60 "net-2's run is learnt too" runs2 || true
stop_ctl

# --- without Prometheus ------------------------------------------------------------------
start_ctl plain
mt plain-1 plain 1Mi 60s | kubectl apply -n "$NS" -f - >/dev/null
sampled() { [ -n "$(mtget plain-1 '{.status.usage.cpu}')" ]; }
if wait_for 90 "without Prometheus, plain-1 is sampled (cpu, memory)" sampled; then
  u=$(mtjson plain-1 | jq -c '.status.usage | {cpu, memory, network, observedSteps}')
  echo "    plain-1 usage: $u"
  [ "$(jq -r .network <<<"$u")" = null ] && ok "and has no network figure (none was read)" || bad "plain-1 has network usage: $u"
fi
wait_for 90 "plain-1 succeeds" phase_is plain-1 Succeeded || true
plain_learnt() { [ "$(tpjson plain | jq '.status.profile.recent | length')" -ge 1 ] 2>/dev/null; }
if wait_for 60 "plain-1 is learnt" plain_learnt; then
  r=$(tpjson plain | jq -c '.status.profile.recent[0] | {cpu: (.cpu | length), network}')
  [ "$(jq -r .network <<<"$r")" = null ] && ok "its TaskProfile run has cpu and no network: $r" || bad "plain run: $r"
fi
body=$(curl -sf "http://127.0.0.1:$(serving_port "$LOG")/metrics" || true)
if [ -z "$body" ]; then bad "no /metrics from the controller without Prometheus"
elif grep -q '^foresight_controller_network_queries_total' <<<"$body"; then bad "a controller without Prometheus reports network queries"
else ok "a controller without Prometheus makes no network query"; fi
finish test_controller_network
