# Shared by the controller e2e tests (sourced, not run): counted checks that go on after a
# failure, and reads of the MicroTasks and pods in $NS. The sourcing test sets NS, its own
# cleanup trap, and ends with `finish NAME`.
source "$(dirname "${BASH_SOURCE[0]}")/../../hack/lib/poll.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../../hack/lib/ports.sh"
CTL=${BIN:-$(realpath "$(dirname "${BASH_SOURCE[0]}")/../..")/_out/build}/bin/foresight-controller
pass=0
failures=()
ctl_pid=

ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { failures+=("$*"); echo "not ok - $*" >&2; }
# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND; counts the check either way
wait_for() {
  local t=$1 what=$2; shift 2
  if poll_until "$t" 0.5 "$@"; then ok "$what"; else bad "$what (not within ${t}s)"; return 1; fi
}
# finish NAME: the summary line, and the test's exit status
finish() {
  echo "$1: $pass passed, ${#failures[@]} failed"
  [ ${#failures[@]} -eq 0 ]
}

mtget() { kubectl get mt "$1" -n "$NS" -o jsonpath="$2" 2>/dev/null; }
podget() { kubectl get pod "$1" -n "$NS" -o jsonpath="$2" 2>/dev/null; }
phase_is() { [ "$(mtget "$1" '{.status.phase}')" = "$2" ]; }
cond() { mtget "$1" "{.status.conditions[?(@.type==\"$2\")].$3}"; }
cond_is() { [ "$(cond "$1" "$2" status)" = "$3" ]; }
# serving_port LOG: the /metrics port a controller started with --http-address ...:0 chose
serving_port() { sed -n 's/.*msg="serving[^"]*".* port="\([0-9]*\)".*/\1/p' "$1" | tail -1; }

# microtask NAME TYPE RESOURCES ANNOTATIONS [SPEC_EXTRA [CONTAINER_RESOURCES]]: one MicroTask
# document (YAML, ending with ---) running a pause container on kwok; RESOURCES and
# ANNOTATIONS are YAML flow maps (the annotations script kwok's usage), SPEC_EXTRA more
# spec fields as a flow map's inside (e.g. "anomaly: {action: Alert, window: 30s}").
microtask() {
  local extra=${5:-} cres=${6:-}
  cat <<EOM
apiVersion: foresight.sh/v1alpha1
kind: MicroTask
metadata: {name: $1}
spec: {taskType: $2, resources: $3${extra:+, $extra},
  template: {metadata: {annotations: $4},
    spec: {containers: [{name: main, image: registry.k8s.io/pause:3.10${cres:+, resources: $cres}}]}}}
---
EOM
}
