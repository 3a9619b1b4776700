#!/usr/bin/env bash
# Runs the benchmark scripts: `run.sh all` runs every hack/bench/<name>.sh, `run.sh NAME` one.
# Each prints its own table with ratios against the reference it measures in the same run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
if [ "${1:-all}" = all ]; then
  set -- $(ls hack/bench/*.sh | xargs -n1 basename | sed 's/\.sh$//' | grep -v '^run$')
fi
for b in "$@"; do
  [ -x "hack/bench/$b.sh" ] || { echo "bench: no benchmark named $b (hack/bench/$b.sh)" >&2; exit 2; }
  echo "=== bench $b"
  "hack/bench/$b.sh"
done
