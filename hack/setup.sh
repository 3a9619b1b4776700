#!/usr/bin/env bash
# One-time setup of a fresh Debian 12 machine: the apt packages foresight builds and tests
# with, then the Kubernetes components and tools built from Go modules into _out/bin.
# Safe to run again: apt skips what is installed and the Go builds skip what is up to date.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH=/usr/local/go/bin:$PATH DEBIAN_FRONTEND=noninteractive
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

PACKAGES=(build-essential pkg-config jq curl ca-certificates openssl git procps iproute2 apache2-utils
  libcurl4-openssl-dev libjansson-dev libyajl-dev libyaml-dev libssl-dev libwebsockets-dev libcmocka-dev
  clang libclang-rt-14-dev valgrind prometheus)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "setup: Go 1.26 is needed (https://go.dev/dl), for hack/ only" >&2; exit 1; }

echo "setup: kubernetes components (a cold build takes 10-15 minutes on 2 cores)"
"$ROOT/hack/k8s/build.sh"
echo "setup: kwok, kwokctl, helm, metrics-server"
"$ROOT/hack/tools.sh"
echo "setup: done"
