#!/usr/bin/env bash
# Installs the Go-built tools that have their own go.mod (kwok, kwokctl, helm, metrics-server)
# into _out/bin at pinned versions. Each `go install` is a no-op when nothing changed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export GOBIN=${GOBIN:-$ROOT/_out/bin} GOWORK=off CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local
mkdir -p "$GOBIN"
source "$ROOT/hack/versions.env"

STAMP=$GOBIN/.tools.stamp
inputs=$(cat "$ROOT/hack/versions.env" "$0" | sha256sum | cut -d' ' -f1)
if [ "${1:-}" != --force ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$inputs" ] && \
   [ -x "$GOBIN/kwok" ] && [ -x "$GOBIN/kwokctl" ] && [ -x "$GOBIN/helm" ] && [ -x "$GOBIN/metrics-server" ]; then
  echo "tools are up to date; --force reinstalls"
  exit 0
fi
rm -f "$STAMP"

install() { # name module@version
  local start log
  start=$(date +%s)
  log=$(go install "$2" 2>&1) || { echo "hack/tools.sh: $1 failed: $(echo "$log" | grep -v '^#' | head -1)" >&2; exit 1; }
  echo "installed $1 in $(( $(date +%s) - start ))s"
}
install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
install kwokctl "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
install metrics-server "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
echo "$inputs" > "$STAMP"
