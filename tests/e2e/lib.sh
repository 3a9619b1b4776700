# Shared helpers for the e2e shell tests: sourced, not run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../hack/lib/poll.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../../hack/lib/ports.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
info() { echo "--- $*"; }

# poll SECONDS DESCRIPTION COMMAND...: runs COMMAND until it succeeds, or fails the test.
poll() {
  local timeout=$1 what=$2; shift 2
  poll_until "$timeout" 1 "$@" || fail "timed out after ${timeout}s: $what"
}

# new_namespace NAME: creates a fresh namespace for this test in $NS, deleted when the test
# ends. (Not usable as $(new_namespace): the trap would fire when the subshell exits.)
new_namespace() {
  NS="e2e-$1-$$"
  kubectl create namespace "$NS" >/dev/null
  # shellcheck disable=SC2064
  trap "kubectl delete namespace $NS --wait=false >/dev/null 2>&1 || true" EXIT
}

# Converts a cpu quantity (e.g. 3, 500m, 2500000n) to millicores.
cpu_milli() {
  local q=$1
  case $q in
    *n) echo $(( ${q%n} / 1000000 )) ;;
    *u) echo $(( ${q%u} / 1000 )) ;;
    *m) echo "${q%m}" ;;
    *) awk -v v="$q" 'BEGIN{printf "%d", v*1000}' ;;
  esac
}

# Converts a memory quantity (Ki, Mi, Gi or bytes) to MiB.
mem_mib() {
  local q=$1
  case $q in
    *Ki) echo $(( ${q%Ki} / 1024 )) ;;
    *Mi) echo "${q%Mi}" ;;
    *Gi) echo $(( ${q%Gi} * 1024 )) ;;
    *) echo $(( q / 1048576 )) ;;
  esac
}
