#!/usr/bin/env bash
# bench-extender: filter+prioritize latency of foresight-extender at 1,000 and 5,000 nodes
# (240-step horizon: 2 h at 30 s), from a load generator on loopback, against the same
# generator hitting /healthz (the HTTP round trip alone) as the reference in the same run.
# The kube-scheduler throughput comparison needs the local cluster: see the report/note.
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
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
[ -x "$EXT" ] && [ -x "$LOAD" ] || { echo "bench-extender: build first (make all)" >&2; exit 2; }

printf '%-7s %-6s %-10s %-10s %-10s %-14s %s\n' nodes pairs p50_ms p99_ms max_ms healthz_p50_ms "p99 goal <= 1 ms"
for nodes in 1000 5000; do
  "$LOAD" gen "$nodes" "$WORK/cluster.json"
  "$EXT" --fake-cluster "$WORK/cluster.json" --port "$PORT" --step 30 --horizon 7200 2>"$WORK/ext.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  out=$("$LOAD" run "http://127.0.0.1:$PORT" "$nodes" "$PAIRS")
  ref=$(curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/healthz" "http://127.0.0.1:$PORT/healthz" \
        "http://127.0.0.1:$PORT/healthz" | sort -n | sed -n 2p)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out")
  max=$(sed -E 's/.*max_ms=([0-9.]+).*/\1/' <<<"$out")
  ok=$(awk -v p="$p99" 'BEGIN{print (p <= 1.0) ? "met" : "missed"}')
  printf '%-7s %-6s %-10s %-10s %-10s %-14s %s\n' "$nodes" "$PAIRS" "$p50" "$p99" "$max" \
    "$(awk -v t="$ref" 'BEGIN{printf "%.3f", t*1000}')" "$ok (ratio p99/goal $(awk -v p="$p99" 'BEGIN{printf "%.2f", p/1.0}'))"
done
