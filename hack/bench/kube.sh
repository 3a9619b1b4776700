#!/usr/bin/env bash
# lib/kube against client-go on the same objects, in the same run: list+watch sync time and
# resident memory per cached object on KUBE_BENCH_OBJECTS ConfigMaps (default 50,000) in the
# real kube-apiserver, and update events handled per second on a replayed watch stream
# (tests/bench/kube_replay: both clients read the same bytes, so the rate is the client's).
# Uses $KUBECONFIG (default: the kubeconfig of the cluster FORESIGHT_CLUSTER_NAME names, or
# _out/kubeconfig); brings that cluster up if it is not. BIN is the build directory
# (default _out/build), as for tests/e2e/run.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if [ -n "${FORESIGHT_CLUSTER_NAME:-}" ] && [ "$FORESIGHT_CLUSTER_NAME" != foresight ]; then
  KC_DEFAULT=$ROOT/_out/kubeconfig-$FORESIGHT_CLUSTER_NAME
else
  KC_DEFAULT=$ROOT/_out/kubeconfig
fi
export KUBECONFIG=${KUBECONFIG:-$KC_DEFAULT} PATH=$ROOT/_out/bin:$PATH
B=$(cd "${BIN:-$ROOT/_out/build}" && pwd)/bench
N=${KUBE_BENCH_OBJECTS:-50000}
EVENTS=${KUBE_BENCH_EVENTS:-50000}
NS=${KUBE_BENCH_NS:-foresight-bench-kube}
ROUNDS=${KUBE_BENCH_ROUNDS:-3}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

[ -x "$B/kube_informer_bench" ] && [ -x "$B/kube_replay" ] || { echo "bench kube: run make first" >&2; exit 1; }
if ! kubectl get --raw /readyz >/dev/null 2>&1; then
  echo "bench kube: bringing the local cluster up"
  hack/cluster.sh up
fi

echo "building the client-go reference (hack/bench/kube/informer)"
(cd hack/bench/kube && GOWORK=off GOFLAGS=-mod=mod go build -o "$B/client-go-informer" ./informer)

count() {
  kubectl get --raw "/api/v1/namespaces/$NS/configmaps?limit=1" |
    sed -n 's/.*"remainingItemCount":\([0-9]*\).*/\1/p' | awk '{print $1 + 1}'
}
kubectl get namespace "$NS" >/dev/null 2>&1 || kubectl create namespace "$NS" >/dev/null
have=$(count); have=${have:-0}
if [ "$have" -lt "$N" ]; then
  echo "populating $NS with $N ConfigMaps (has $have; kept for later runs)"
  "$B/kube_informer_bench" populate "$NS" "$N"
fi

field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<< "$1"; }
best_min() { printf '%s\n' "$@" | sort -g | head -1; }
best_max() { printf '%s\n' "$@" | sort -g | tail -1; }

c_sync=(); g_sync=(); c_mem=(); g_mem=(); j_sync=(); j_mem=()
for r in $(seq 1 "$ROUNDS"); do
  # alternate the order so neither always runs on a warmer server; "json" is client-go told
  # to use JSON like lib/kube (by default it asks built-in types in protobuf, which the
  # apiserver encodes several times faster)
  for who in c go json; do
    case $who in
      c) out=$("$B/kube_informer_bench" sync "$NS") ;;
      go) out=$("$B/client-go-informer" sync "$NS") ;;
      json) out=$(CLIENT_GO_JSON=1 "$B/client-go-informer" sync "$NS") ;;
    esac
    echo "round $r: $out"
    [ "$(field "$out" objects)" -ge "$N" ] || { echo "bench kube: $who cached $(field "$out" objects) objects, want $N" >&2; exit 1; }
    case $who in
      c) c_sync+=("$(field "$out" sync_s)"); c_mem+=("$(field "$out" bytes_per_object)") ;;
      go) g_sync+=("$(field "$out" sync_s)"); g_mem+=("$(field "$out" bytes_per_object)") ;;
      json) j_sync+=("$(field "$out" sync_s)"); j_mem+=("$(field "$out" bytes_per_object)") ;;
    esac
  done
done

echo "capturing the list for the replayed watch"
kubectl get --raw "/api/v1/namespaces/$NS/configmaps" > "$work/list.json"
replay() { # replay WHO: a fresh replay server per client, so each reads the whole stream
  rm -f "$work/port"
  "$B/kube_replay" "$work/list.json" "$EVENTS" "$work/port" 2> "$work/replay.err" & pids+=($!)
  local rp=$!
  for _ in $(seq 1 3000); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { cat "$work/replay.err" >&2; exit 1; }
  cat > "$work/replay.kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: r
clusters: [{name: r, cluster: {server: "http://127.0.0.1:$(cat "$work/port")"}}]
contexts: [{name: r, context: {cluster: r, user: r}}]
users: [{name: r, user: {}}]
YAML
  if [ "$1" = c ]; then KUBECONFIG=$work/replay.kubeconfig "$B/kube_informer_bench" events "$NS" "$EVENTS"
  else KUBECONFIG=$work/replay.kubeconfig "$B/client-go-informer" events "$NS" "$EVENTS"; fi
  kill "$rp" 2>/dev/null || true
}
c_ev=(); g_ev=(); c_cpu=(); g_cpu=(); c_rs=(); g_rs=()
for r in $(seq 1 "$ROUNDS"); do
  for who in go c; do
    out=$(replay "$who")
    echo "replay round $r: $out"
    if [ "$who" = c ]; then c_ev+=("$(field "$out" events_per_s)"); c_cpu+=("$(field "$out" cpu_us_per_event)")
      c_rs+=("$(field "$out" sync_s)")
    else g_ev+=("$(field "$out" events_per_s)"); g_cpu+=("$(field "$out" cpu_us_per_event)")
      g_rs+=("$(field "$out" sync_s)"); fi
  done
done

cs=$(best_min "${c_sync[@]}"); gs=$(best_min "${g_sync[@]}")
cm=$(best_min "${c_mem[@]}"); gm=$(best_min "${g_mem[@]}")
js=$(best_min "${j_sync[@]}"); jm=$(best_min "${j_mem[@]}")
ce=$(best_max "${c_ev[@]}"); ge=$(best_max "${g_ev[@]}")
cc=$(best_min "${c_cpu[@]}"); gc=$(best_min "${g_cpu[@]}")
crs=$(best_min "${c_rs[@]}"); grs=$(best_min "${g_rs[@]}")
echo
echo "lib/kube vs client-go, $N ConfigMaps, $EVENTS replayed update events (best of $ROUNDS)"
printf '%-34s %14s %14s %10s  %s\n' metric lib/kube client-go ratio goal
awk -v c="$cs" -v g="$gs" 'BEGIN{printf "%-34s %14.2f %14.2f %10.2f  %s\n", "list+watch sync (s)", c, g, c/g, "-"}'
awk -v c="$cs" -v g="$js" 'BEGIN{printf "%-34s %14.2f %14.2f %10.2f  %s\n", "  sync, client-go also on JSON (s)", c, g, c/g, "-"}'
# the same JSON bytes from the replay server: the clients' own share of a sync
awk -v c="$crs" -v g="$grs" 'BEGIN{printf "%-34s %14.2f %14.2f %10.2f  %s\n", "  sync of the replayed JSON list (s)", c, g, c/g, "-"}'
awk -v c="$cm" -v g="$gm" 'BEGIN{printf "%-34s %14.0f %14.0f %10.2f  %s\n", "resident memory per object (B)", c, g, c/g, "<= 0.50"}'
awk -v c="$cm" -v g="$jm" 'BEGIN{printf "%-34s %14.0f %14.0f %10.2f  %s\n", "  memory, client-go on JSON (B)", c, g, c/g, "-"}'
awk -v c="$ce" -v g="$ge" 'BEGIN{printf "%-34s %14.0f %14.0f %10.2f  %s\n", "update events handled per second", c, g, c/g, ">= 1.00"}'
# CPU time (user + system, whole process) per update event: what an event costs whatever
# share of the shared machine each client got while the rate above was measured
awk -v c="$cc" -v g="$gc" 'BEGIN{printf "%-34s %14.1f %14.1f %10.2f  %s\n", "  CPU per update event (us)", c, g, c/g, "-"}'
awk -v cm="$cm" -v gm="$gm" -v ce="$ce" -v ge="$ge" 'BEGIN{
  ok = (cm <= 0.5 * gm) && (ce >= ge)
  print ok ? "goals met" : "GOALS NOT MET"; exit !ok }'
