#!/usr/bin/env bash
# Runs the end-to-end tests (tests/e2e/test_*.sh, or those named as arguments) against the
# local cluster. The cluster is brought up first and always taken down afterwards, even when
# a test fails, unless KEEP_CLUSTER=1. Each test runs with KUBECONFIG exported, the repo root
# as working directory, kubectl on PATH and BIN=_out/build.
set -uo pipefail
ROOT=$(realpath "$(dirname "$0")/../..")
cd "$ROOT"
NAME=${FORESIGHT_CLUSTER_NAME:-foresight}
KC=$ROOT/_out/kubeconfig; [ "$NAME" = foresight ] || KC=$ROOT/_out/kubeconfig-$NAME
export PATH=$ROOT/_out/bin:$PATH KUBECONFIG=${FORESIGHT_KUBECONFIG:-$KC} BIN=$(realpath "${BIN:-$ROOT/_out/build}")
LOGS=$ROOT/_out/e2e-logs/$NAME
rm -rf "$LOGS"; mkdir -p "$LOGS"
export E2E_LOGS=$LOGS

tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/e2e/test_*.sh)

cleanup() {
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then hack/cluster.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
hack/cluster.sh up || { echo "e2e: the cluster did not come up" >&2; exit 1; }
took=$(( $(date +%s) - start ))
echo "e2e: cluster up in ${took}s"

failed=()
for t in "${tests[@]}"; do
  name=$(basename "$t" .sh)
  t0=$(date +%s)
  touch -d "@$((t0 - 1))" "$LOGS/.started" # timestamps are coarse: a log begun at once must count
  if timeout "${E2E_TEST_TIMEOUT:-900}" "$t" > "$LOGS/$name.log" 2>&1; then
    took=$(( $(date +%s) - t0 ))
    echo "PASS $name (${took}s)"
  else
    took=$(( $(date +%s) - t0 ))
    echo "FAIL $name (${took}s), last lines of $LOGS/$name.log:"
    tail -25 "$LOGS/$name.log" | sed 's/^/    /'
    # CI keeps only what is printed: the warnings of the components this test started
    find "$LOGS" -maxdepth 1 -type f -name '*.log' ! -name 'test_*' -newer "$LOGS/.started" | sort | while read -r f; do
      w=$(grep -E 'level="?(warn|error)' "$f" | tail -10)
      [ -n "$w" ] && { echo "    warnings in $f:"; sed 's/^/      /' <<<"$w"; }
    done
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "e2e: ${#failed[@]} failed: ${failed[*]}" >&2
  exit 1
fi
took=$(( $(date +%s) - start ))
echo "e2e: all ${#tests[@]} passed in ${took}s"
