#!/usr/bin/env bash
# The local Kubernetes cluster for tests and the demo, on 127.0.0.1 only: etcd,
# kube-apiserver, kube-controller-manager, the default kube-scheduler, a kwok controller
# simulating N nodes, metrics-server reading kwok's simulated usage, and a second
# kube-scheduler named `foresight` (with foresight-extender when --extender-url is given).
# Everything is built from Go modules by `make k8s-bins tools`; nothing is downloaded here.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/_out/bin
# Several clusters can run side by side: FORESIGHT_CLUSTER_NAME names one, and
# APISERVER_PORT/SCHED_PORT must then differ from the other clusters'.
NAME=${FORESIGHT_CLUSTER_NAME:-foresight}
STATE=$ROOT/_out/cluster/$NAME        # our own pids, logs and generated configs
export KWOK_WORKDIR=$ROOT/_out/kwok   # kwokctl's data for the cluster
if [ "$NAME" = foresight ]; then KC_DEFAULT=$ROOT/_out/kubeconfig; else KC_DEFAULT=$ROOT/_out/kubeconfig-$NAME; fi
export KUBECONFIG=${FORESIGHT_KUBECONFIG:-$KC_DEFAULT}
export PATH=$BIN:$PATH
source "$ROOT/hack/versions.env"
source "$ROOT/hack/lib/poll.sh"

NODES=${NODES:-4}
NODE_CPU=${NODE_CPU:-8}
NODE_MEMORY=${NODE_MEMORY:-32Gi}
NODE_PODS=${NODE_PODS:-110}
APISERVER_PORT=${APISERVER_PORT:-16443}
SCHED_PORT=${SCHED_PORT:-10359}
EXTENDER_URL=${EXTENDER_URL:-}

usage() {
  cat <<EOF
usage: hack/cluster.sh up|down|status|restart-apiserver|restart-foresight-scheduler [flags]

A second cluster beside the first: FORESIGHT_CLUSTER_NAME=other APISERVER_PORT=16444
SCHED_PORT=10360 hack/cluster.sh up (its kubeconfig is _out/kubeconfig-other).

  up        bring the cluster up (idempotent: a running cluster is reconciled, not recreated)
  down      stop every process the cluster started (by pid) and remove its data
  status    show each component and whether its process is alive
  restart-apiserver            kill -9 kube-apiserver and start it again with the same flags
  restart-foresight-scheduler  restart the foresight scheduler (e.g. with a new --extender-url)

flags (or the environment variable in brackets):
  --nodes N            simulated kwok nodes [NODES=$NODES]
  --node-cpu C         cpu of each node [NODE_CPU=$NODE_CPU]
  --node-memory M      memory of each node [NODE_MEMORY=$NODE_MEMORY]
  --node-pods P        pod capacity of each node [NODE_PODS=$NODE_PODS]
  --extender-url URL   the foresight scheduler calls this extender, configured by
                       deploy/scheduler/foresight-scheduler.yaml [EXTENDER_URL]; without it
                       the foresight scheduler runs with no extender
  --while-down CMD     restart-apiserver: run CMD (bash) while kube-apiserver is down, e.g.
                       to write to etcd behind its back

The kubeconfig is written to $KUBECONFIG (context kwok-$NAME).

Pods on kwok nodes become Running at once. Annotations a test can script:
  foresight.sh/run-duration: 90s     the pod completes (Succeeded) 90 s after it started running
  kwok.x-k8s.io/usage-cpu: 3         simulated cpu usage (any quantity), memory likewise
  foresight.sh/usage-switch-seconds: 300 with foresight.sh/usage-cpu-after: 500m
                                     the usage 300 s after the pod was created
  (any other curve: a kwok ResourceUsage object named like the pod, with a CEL expression
  of pod.SinceSecond(); see hack/cluster/usage.yaml)
EOF
}

die() { echo "hack/cluster.sh: $*" >&2; exit 1; }
log() { echo "cluster: $*" >&2; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local timeout=$1 what=$2; shift 2
  poll_until "$timeout" 0.5 "$@" || die "timed out after ${timeout}s waiting for $what"
}

kwok_module_dir() {
  (cd /tmp && GOWORK=off GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | jq -r .Dir)
}
metrics_server_module_dir() {
  (cd /tmp && GOWORK=off GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION" | jq -r .Dir)
}

cluster_dir() { echo "$KWOK_WORKDIR/clusters/$NAME"; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# kwokctl's configuration plus the Stage, Metric and usage documents for the kwok
# controller. Upstream's documents are read from the kwok module in the Go module cache.
write_kwok_config() {
  local kd; kd=$(kwok_module_dir) || die "cannot find the kwok module $KWOK_VERSION in the Go module cache"
  local cfg=$STATE/kwokctl.yaml
  cat > "$cfg" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverPort: $APISERVER_PORT
  enableMetricsServer: true
  kubeApiserverBinary: $BIN/kube-apiserver
  kubeControllerManagerBinary: $BIN/kube-controller-manager
  kubeSchedulerBinary: $BIN/kube-scheduler
  kubectlBinary: $BIN/kubectl
  etcdBinary: $BIN/etcd
  kwokControllerBinary: $BIN/kwok
  metricsServerBinary: $BIN/metrics-server
  metricsServerManifests:
  - $STATE/metrics-server
  enableCRDs:
  - ResourceUsage
componentsPatches:
# The binary runtime leaves kwok's --node-ip empty, so nodes would get no InternalIP and
# metrics-server could not scrape their simulated kubelet.
- name: kwok-controller
  extraArgs:
  - key: node-ip
    value: 127.0.0.1
    override: true
# One replica each: leader election only makes them exit when a renewal is late on a loaded
# machine (kube-controller-manager did, leaving namespaces Terminating and new namespaces
# without their default ServiceAccount). override: false appends the flag: kwokctl passes
# no --leader-elect of its own, and an override of a flag it does not pass adds nothing.
- name: kube-controller-manager
  extraArgs:
  - key: leader-elect
    value: "false"
    override: false
- name: kube-scheduler
  extraArgs:
  - key: leader-elect
    value: "false"
    override: false
EOF
  local f
  for f in stage/node/fast/node-initialize.yaml stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           stage/pod/fast/pod-ready.yaml stage/pod/fast/pod-complete.yaml stage/pod/fast/pod-delete.yaml \
           metrics/resource/metrics-resource.yaml; do
    [ -f "$kd/kustomize/$f" ] || die "kwok $KWOK_VERSION has no kustomize/$f"
    printf -- '---\n' >> "$cfg"
    if [ "$f" = stage/pod/fast/pod-ready.yaml ]; then
      # Running containers report their resources as kubelets do since 1.33: the API server
      # refuses an in-place resize (pods/resize) of a pod whose node reports none.
      grep -q 'restartCount: 0' "$kd/kustomize/$f" || die "kwok $KWOK_VERSION: pod-ready.yaml changed shape"
      awk '!done && /restartCount: 0/ {print; sub(/restartCount: 0/, "{{ with .resources }}resources: {{ YAML . 2 }}{{ end }}"); print; done = 1; next} {print}' \
        "$kd/kustomize/$f" >> "$cfg"
    else
      cat "$kd/kustomize/$f" >> "$cfg"
    fi
  done
  for f in pod-complete-after-duration.yaml usage.yaml network-metrics.yaml; do
    printf -- '---\n' >> "$cfg"; cat "$ROOT/hack/cluster/$f" >> "$cfg"
  done

  # metrics-server's APIService, RBAC and Service from its module (its Deployment is not
  # wanted: kwokctl runs metrics-server as a local process).
  local md; md=$(metrics_server_module_dir) || die "cannot find the metrics-server module in the Go module cache"
  # kwokctl builds it with `kubectl kustomize`, so it is a kustomization directory.
  mkdir -p "$STATE/metrics-server"
  for f in apiservice.yaml rbac.yaml service.yaml; do cp "$md/manifests/base/$f" "$STATE/metrics-server/"; done
  chmod u+w "$STATE"/metrics-server/*
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n- pairs: {k8s-app: metrics-server}\nresources: [apiservice.yaml, rbac.yaml, service.yaml]\n' \
    > "$STATE/metrics-server/kustomization.yaml"
}

apply_nodes() {
  local i manifest=""
  for i in $(seq 0 $((NODES - 1))); do
    manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-$i/metrics/resource
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node.kubernetes.io/instance-type: kwok-${NODE_CPU}c
status:
  allocatable: {cpu: \"$NODE_CPU\", memory: \"$NODE_MEMORY\", pods: \"$NODE_PODS\"}
  capacity: {cpu: \"$NODE_CPU\", memory: \"$NODE_MEMORY\", pods: \"$NODE_PODS\"}
"
  done
  echo "$manifest" | kubectl apply -f - >/dev/null
  # Nodes beyond the requested count (from an earlier `up --nodes`) are removed.
  local extra
  extra=$(kubectl get nodes -l type=kwok -o name | sed 's|node/kwok-node-||' | awk -v n="$NODES" '$1 >= n {print "node/kwok-node-"$1}')
  [ -z "$extra" ] || kubectl delete $extra --wait=false >/dev/null
}

nodes_ready() {
  local ready
  ready=$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  [ "$ready" -eq "$NODES" ]
}

scheduler_config() {
  local tmpl=$ROOT/hack/cluster/foresight-scheduler.yaml
  [ -z "$EXTENDER_URL" ] || tmpl=$ROOT/deploy/scheduler/foresight-scheduler.yaml
  sed -e "s|\${KUBECONFIG_PATH}|$STATE/scheduler.kubeconfig|" -e "s|\${EXTENDER_URL}|$EXTENDER_URL|" "$tmpl" \
    > "$STATE/foresight-scheduler.yaml"
  echo "$EXTENDER_URL" > "$STATE/extender-url"
}

start_foresight_scheduler() {
  local pidf=$STATE/pids/foresight-scheduler.pid
  if pid_alive "$pidf" && [ "$(cat "$STATE/extender-url" 2>/dev/null)" = "$EXTENDER_URL" ]; then
    return 0
  fi
  stop_pid "$pidf"
  if ss -ltn "sport = :$SCHED_PORT" | grep -q LISTEN; then
    die "port $SCHED_PORT is taken by another process ($(ss -ltnp "sport = :$SCHED_PORT" | grep -o 'users:.*')): set SCHED_PORT"
  fi
  kubectl config view --raw --minify --flatten > "$STATE/scheduler.kubeconfig"
  scheduler_config
  (exec "$BIN/kube-scheduler" --config "$STATE/foresight-scheduler.yaml" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" -v="${SCHED_VERBOSITY:-2}" \
    > "$STATE/logs/foresight-scheduler.log" 2>&1 < /dev/null) &
  echo $! > "$pidf"
  wait_for 60 "the foresight scheduler to be healthy" \
    curl -ksf "https://127.0.0.1:$SCHED_PORT/healthz"
  pid_alive "$pidf" || die "the foresight scheduler exited (log: $STATE/logs/foresight-scheduler.log)"
}

stop_pid() {
  local pidf=$1 pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

apiserver_healthy() { kubectl get --raw /readyz >/dev/null 2>&1; }

metrics_available() {
  kubectl get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>/dev/null | grep -q True
}

# component_argv NAME: the command line kwokctl starts component NAME with, one word per
# line, read from the cluster's kwok.yaml (its components list each have args, then binary).
component_argv() {
  awk -v name="$1" '
    /^- args:/ { n = 0; inargs = 1; next }
    inargs && /^  - / { sub(/^  - /, ""); args[n++] = $0; next }
    /^  [a-zA-Z]/ { inargs = 0 }
    /^  binary: / { b = $2; if (b ~ ("/" name "$")) { print b; for (i = 0; i < n; i++) print args[i]; exit } }
  ' "$(cluster_dir)/kwok.yaml"
}

# Starts again any kwokctl component that has exited: metrics-server exits when it starts
# before kube-apiserver answers, which kwokctl does not notice.
revive_components() {
  local f c argv
  for f in "$(cluster_dir)"/pids/*.pid; do
    pid_alive "$f" && continue
    c=$(basename "$f" .pid)
    argv=$(component_argv "$c" | base64 -w0)
    [ -n "$argv" ] || { log "$c has exited and its command line is unknown"; continue; }
    relaunch "$c" "$argv" "$(cluster_dir)"
    log "$c had exited; started again (pid $(cat "$f"))"
  done
}

# metrics_ready: metrics.k8s.io is available; a metrics-server that died meanwhile is revived.
metrics_ready() {
  metrics_available && return 0
  revive_components >/dev/null 2>&1
  return 1
}

cmd_up() {
  local t0; t0=$(date +%s)
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl metrics-server; do
    [ -x "$BIN/$b" ] || die "missing $BIN/$b: run 'make k8s-bins tools' first"
  done
  mkdir -p "$STATE/pids" "$STATE/logs"
  if [ -d "$(cluster_dir)" ] && apiserver_healthy; then
    log "cluster $NAME is already up; reconciling"
  else
    [ -d "$(cluster_dir)" ] && { log "cluster $NAME exists but is not healthy; recreating"; cmd_down >/dev/null; mkdir -p "$STATE/pids" "$STATE/logs"; }
    write_kwok_config
    log "creating cluster $NAME (kube $KUBE_VERSION, kwok $KWOK_VERSION) on 127.0.0.1:$APISERVER_PORT"
    kwokctl create cluster --name "$NAME" --config "$STATE/kwokctl.yaml" \
      --kubeconfig "$KUBECONFIG" --wait 3m > "$STATE/logs/kwokctl-create.log" 2>&1 \
      || { tail -20 "$STATE/logs/kwokctl-create.log" >&2; die "kwokctl create cluster failed (log: $STATE/logs/kwokctl-create.log)"; }
  fi
  kubectl config use-context "kwok-$NAME" >/dev/null
  wait_for 60 "kube-apiserver to be ready" apiserver_healthy
  revive_components
  apply_nodes
  wait_for 120 "$NODES kwok nodes to be Ready" nodes_ready
  wait_for 120 "the metrics.k8s.io API to be available" metrics_ready
  start_foresight_scheduler
  log "up in $(( $(date +%s) - t0 ))s: $NODES nodes of ${NODE_CPU} cpu / $NODE_MEMORY; KUBECONFIG=$KUBECONFIG"
}

cmd_down() {
  # Every process is stopped by its pid file first (kwokctl's own and ours, including a
  # component restarted by restart-apiserver), then kwokctl removes its data.
  local f
  for f in "$STATE"/pids/*.pid "$(cluster_dir)"/pids/*.pid; do
    [ -f "$f" ] && stop_pid "$f"
  done
  if [ -d "$(cluster_dir)" ]; then
    "$BIN/kwokctl" delete cluster --name "$NAME" >/dev/null 2>&1 || true
  fi
  rm -rf "$(cluster_dir)" "$STATE" "$KUBECONFIG"
  log "down"
}

cmd_status() {
  local rc=0 f name
  if [ ! -d "$(cluster_dir)" ]; then echo "cluster $NAME: not created"; return 1; fi
  for f in "$(cluster_dir)"/pids/*.pid "$STATE"/pids/*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid)
    if pid_alive "$f"; then printf '%-28s running (pid %s)\n' "$name" "$(cat "$f")"
    else printf '%-28s NOT RUNNING\n' "$name"; rc=1; fi
  done
  if apiserver_healthy; then
    echo "nodes ready: $(kubectl get nodes -l type=kwok --no-headers 2>/dev/null | grep -c ' Ready')"
    metrics_available && echo "metrics.k8s.io: available" || echo "metrics.k8s.io: NOT available"
  else
    echo "kube-apiserver: not answering"; rc=1
  fi
  return $rc
}

# Kills kube-apiserver and starts it again with the very same command line, for tests of
# watch resumption. kwokctl's pid file is updated so that `down` stops the new process.
cmd_restart_apiserver() {
  local pidf; pidf=$(cluster_dir)/pids/kube-apiserver.pid
  pid_alive "$pidf" || die "kube-apiserver is not running"
  # Every component's command line is kept first, so that one which exits while
  # kube-apiserver is away is started again too.
  local f c; declare -A cmdlines cwds
  for f in "$(cluster_dir)"/pids/*.pid; do
    pid_alive "$f" || continue
    c=$(basename "$f" .pid)
    cmdlines[$c]=$(tr '\0' '\n' < "/proc/$(cat "$f")/cmdline" | base64 -w0)
    cwds[$c]=$(readlink "/proc/$(cat "$f")/cwd")
  done
  local pid; pid=$(cat "$pidf")
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  # A failed command still gets kube-apiserver back before the restart reports it.
  local down_rc=0
  [ -z "${WHILE_DOWN:-}" ] || bash -c "$WHILE_DOWN" || down_rc=$?
  relaunch kube-apiserver "${cmdlines[kube-apiserver]}" "${cwds[kube-apiserver]}"
  wait_for 120 "kube-apiserver to be ready again" apiserver_healthy
  log "kube-apiserver restarted (pid $(cat "$pidf"))"
  sleep 1
  for c in "${!cmdlines[@]}"; do
    pid_alive "$(cluster_dir)/pids/$c.pid" && continue
    relaunch "$c" "${cmdlines[$c]}" "${cwds[$c]}"
    log "$c had exited; started again (pid $(cat "$(cluster_dir)/pids/$c.pid"))"
  done
  [ "$down_rc" -eq 0 ] || die "the --while-down command failed (exit $down_rc)"
}

# relaunch COMPONENT BASE64_ARGV CWD: starts a kwokctl component again as it was started.
relaunch() {
  local -a args; mapfile -t args < <(echo "$2" | base64 -d)
  # exec in a subshell, so that $! is the component's own pid (setsid may fork).
  (cd "$3" && exec "${args[@]}" >> "$(cluster_dir)/logs/$1.log" 2>&1 < /dev/null) &
  echo $! > "$(cluster_dir)/pids/$1.pid"
}

cmd=${1:-}; [ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) NODES=$2; shift 2 ;;
    --node-cpu) NODE_CPU=$2; shift 2 ;;
    --node-memory) NODE_MEMORY=$2; shift 2 ;;
    --node-pods) NODE_PODS=$2; shift 2 ;;
    --extender-url) EXTENDER_URL=$2; shift 2 ;;
    --while-down) WHILE_DOWN=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown flag $1" ;;
  esac
done

case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  restart-apiserver) cmd_restart_apiserver ;;
  restart-foresight-scheduler)
    mkdir -p "$STATE/pids" "$STATE/logs"; stop_pid "$STATE/pids/foresight-scheduler.pid"; start_foresight_scheduler ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
