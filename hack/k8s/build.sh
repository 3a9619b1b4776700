#!/usr/bin/env bash
# Builds the Kubernetes control plane binaries (kube-apiserver, kube-scheduler,
# kube-controller-manager, kubectl) and etcd from Go modules, pinned, into _out/bin.
# The wrapper module (go.mod/go.sum here) replaces each k8s.io staging module with its
# published v0.X.Y; regenerate it with `build.sh --regen` after changing KV.
set -euo pipefail
cd "$(dirname "$0")"
source ../versions.env
KV=${KV:-$KUBE_VERSION}
MINOR=$(cut -d. -f2 <<<"$KV")
ROOT=$(cd ../.. && pwd)
OUT=${OUT:-$ROOT/_out/bin}
mkdir -p "$OUT"
export GOWORK=off CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local

fail() { echo "hack/k8s/build.sh: $1 failed: $2" >&2; exit 1; }

if [ "${1:-}" = "--regen" ] || [ ! -f go.mod ]; then
  rm -f go.mod go.sum
  go mod init example.invalid/foresight-k8sbins >/dev/null 2>&1
  GM=$(go mod download -json "k8s.io/kubernetes@v$KV" | jq -r .GoMod) || fail resolve "cannot download k8s.io/kubernetes@v$KV"
  # Every staging module upstream requires at v0.0.0 is replaced by its published tag.
  for m in $(awk '$1 ~ /^k8s\.io\// && $2=="v0.0.0"{print $1}' "$GM"); do
    go mod edit -replace="$m=$m@v0.${KV#1.}"
  done
  ETCDV=$(awk '$1=="go.etcd.io/etcd/client/v3"{print $2}' "$GM")
  go get "k8s.io/kubernetes@v$KV" "go.etcd.io/etcd/server/v3@$ETCDV" >/dev/null 2>&1 \
    || fail resolve "go get k8s.io/kubernetes@v$KV etcd@$ETCDV"
  cat > tools.go <<EOT
//go:build tools

// Package tools pins the main packages this module builds.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOT
  go mod tidy >/dev/null 2>&1 || fail resolve "go mod tidy"
fi

# Nothing to do when the binaries were built from these very inputs (Go's own cache check
# would still relink each binary, about half a minute in all).
STAMP=$OUT/.k8s-bins.stamp
inputs=$(cat go.mod go.sum build.sh ../versions.env | sha256sum | cut -d' ' -f1)
if [ "${1:-}" != --force ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$inputs" ] && \
   [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/kube-scheduler" ] && [ -x "$OUT/kube-controller-manager" ] && \
   [ -x "$OUT/kubectl" ] && [ -x "$OUT/etcd" ]; then
  echo "kubernetes components are up to date (v$KV); --force rebuilds"
  exit 0
fi
rm -f "$STAMP"

LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $p.gitVersion=v$KV -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
done
for c in kube-apiserver kube-scheduler kube-controller-manager kubectl; do
  start=$(date +%s)
  log=$(go build -ldflags "$LD" -o "$OUT/$c" "k8s.io/kubernetes/cmd/$c" 2>&1) \
    || fail "$c" "$(echo "$log" | grep -v '^#' | head -1)"
  echo "built $c in $(( $(date +%s) - start ))s"
done
start=$(date +%s)
log=$(go build -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3 2>&1) \
  || fail etcd "$(echo "$log" | grep -v '^#' | head -1)"
echo "built etcd in $(( $(date +%s) - start ))s"
echo "$inputs" > "$STAMP"
