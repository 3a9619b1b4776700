#!/usr/bin/env bash
# E2E: the foresight CRDs on the real kube-apiserver. Applies crds/, then the valid samples
# from hack/examples/, checks defaults, status subresource and printer columns, and that every
# sample in hack/examples/invalid/ is refused with the message its "# expect:" line names.
# Needs KUBECONFIG and kubectl (tests/e2e/run.sh provides both).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NS=crds-e2e-$$
pass=0
failures=()

ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { failures+=("$*"); echo "not ok - $*" >&2; }
cleanup() { kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

# --- the CRDs themselves ---------------------------------------------------------------
kubectl apply --server-side --force-conflicts -f "$ROOT/crds/" >/dev/null
for crd in microtasks taskprofiles reservationpools; do
  kubectl wait --for=condition=Established --timeout=60s "crd/$crd.foresight.sh" >/dev/null
  # NonStructuralSchema or a CEL compile problem shows up as a condition, not an error.
  nonstruct=$(kubectl get "crd/$crd.foresight.sh" \
    -o jsonpath='{.status.conditions[?(@.type=="NonStructuralSchema")].status}')
  [ -z "$nonstruct" ] && ok "crd $crd established with a structural schema" \
    || bad "crd $crd has NonStructuralSchema=$nonstruct"
done

res=$(kubectl api-resources --api-group=foresight.sh --no-headers)
echo "$res" | grep -Eq '^microtasks +mt +foresight.sh/v1alpha1 +true +MicroTask' \
  && ok "microtasks: short name mt, namespaced" || bad "api-resources for microtasks: $res"
echo "$res" | grep -Eq '^reservationpools +rp +foresight.sh/v1alpha1 +false +ReservationPool' \
  && ok "reservationpools: cluster-scoped" || bad "api-resources for reservationpools: $res"

# --- valid samples ---------------------------------------------------------------------
kubectl create namespace "$NS" >/dev/null
for f in "$ROOT"/hack/examples/*.yaml; do
  grep -q '^apiVersion: foresight.sh/' "$f" || continue   # other samples (plain pods) are not ours
  if grep -q '^kind: ReservationPool' "$f"; then
    # cluster-scoped: validate fully on the server without leaving an object behind
    # (apply, not create: `make demo` may have left the same pool in the cluster)
    out=$(kubectl apply --dry-run=server -f "$f" 2>&1) && ok "accepted $(basename "$f") (server dry-run)" \
      || bad "refused valid $(basename "$f"): $out"
  else
    out=$(kubectl apply -n "$NS" -f "$f" 2>&1) && ok "accepted $(basename "$f")" \
      || bad "refused valid $(basename "$f"): $out"
  fi
done

# defaults from the schema
got=$(kubectl get mt etl-transform -n "$NS" -o jsonpath='{.spec.split.maxLeaves} {.spec.split.maxFanOut} {.spec.onDependencyFailure} {.spec.work.offset} {.spec.anomaly.window}')
[ "$got" = "1000 4 Fail 0 1m" ] && ok "defaults applied (maxLeaves, onDependencyFailure, work.offset)" \
  || bad "defaults on etl-transform: got '$got'"
got=$(kubectl get mt etl-load -n "$NS" -o jsonpath='{.spec.anomaly.window}{.spec.sla.class}')
[ -z "$got" ] && ok "no defaults invented for absent optional objects" || bad "etl-load got '$got'"

# category and short name
# (the category also lists cluster-scoped ReservationPools, which are not this test's)
n=$(kubectl get foresight -n "$NS" --no-headers -o name 2>/dev/null | grep -vc '^reservationpool' || true)
[ "$n" -eq 5 ] && ok "kubectl get foresight lists the 4 MicroTasks and the TaskProfile" \
  || bad "kubectl get foresight listed $n objects, want 5"

# status is a subresource: a write to the main resource does not change it
kubectl patch mt etl-extract -n "$NS" --type=merge -p '{"status":{"phase":"Running"}}' >/dev/null
got=$(kubectl get mt etl-extract -n "$NS" -o jsonpath='{.status.phase}')
[ -z "$got" ] && ok "status ignored on the main resource" || bad "status.phase written through main resource: '$got'"

# printer columns, from a status written the way the controller writes it
kubectl patch mt etl-transform -n "$NS" --subresource=status --type=merge -p '{"status":{
  "phase":"Running","priority":612345,
  "reservation":{"node":"kwok-node-3"},
  "predictionSummary":{"cpuPeak":"1500m","memoryPeak":"768Mi","peakAfter":"4m30s"},
  "usage":{"error":"12.5%","mape":12.5},
  "progress":{"total":4,"running":4}}}' >/dev/null
hdr=$(kubectl get mt -n "$NS" | sed -n 1p)
row=$(kubectl get mt etl-transform -n "$NS" --no-headers)
if echo "$hdr" | grep -Eq '^NAME +TYPE +PHASE +NODE +CPU-PEAK +MEM-PEAK +PEAK-AT +ERROR +AGE$' &&
   echo "$row" | grep -Eq '^etl-transform +etl-transform +Running +kwok-node-3 +1500m +768Mi +4m30s +12.5% +'; then
  ok "kubectl get mt shows type, phase, node, cpu/memory peak, peak-at, error"
else
  bad "kubectl get mt columns: '$hdr' / '$row'"
fi
wide=$(kubectl get mt etl-transform -n "$NS" -o wide --no-headers)
echo "$wide" | grep -Eq ' 612345 +4 +' && ok "-o wide adds priority and children" || bad "wide row: '$wide'"

kubectl patch taskprofile etl-transform -n "$NS" --subresource=status --type=merge \
  -p '{"status":{"runs":5,"accuracy":"91.2%","mape":8.8}}' >/dev/null
hdr=$(kubectl get taskprofiles -n "$NS" | sed -n 1p)
row=$(kubectl get taskprofiles -n "$NS" --no-headers)
if echo "$hdr" | grep -Eq '^NAME +TYPE +RUNS +ACCURACY +LAST-LEARNT +AGE$' &&
   echo "$row" | grep -Eq '^etl-transform +etl-transform +5 +91.2% +'; then
  ok "kubectl get taskprofiles shows runs and accuracy"
else
  bad "kubectl get taskprofiles columns: '$hdr' / '$row'"
fi

# status values are validated too
out=$(kubectl patch mt etl-transform -n "$NS" --subresource=status --type=merge \
  -p '{"status":{"phase":"Exploded"}}' 2>&1) && bad "status.phase Exploded accepted" \
  || { echo "$out" | grep -q 'status.phase: Unsupported value' && ok "bad status.phase refused" || bad "status.phase message: $out"; }

# a transition rule: the task type of a profile never changes
out=$(kubectl patch taskprofile etl-transform -n "$NS" --type=merge -p '{"spec":{"taskType":"other"}}' 2>&1) \
  && bad "taskType change accepted" \
  || { echo "$out" | grep -q 'spec.taskType is immutable' && ok "taskType change refused" || bad "taskType change message: $out"; }

# --- invalid samples -------------------------------------------------------------------
for f in "$ROOT"/hack/examples/invalid/*.yaml; do
  want=$(sed -n 's/^# expect: //p' "$f")
  [ -n "$want" ] || { bad "$(basename "$f") has no '# expect:' line"; continue; }
  if out=$(kubectl create --dry-run=server -n "$NS" -f "$f" 2>&1); then
    bad "accepted invalid $(basename "$f")"
  elif echo "$out" | grep -qF -- "$want"; then
    ok "refused $(basename "$f"): $(echo "$out" | grep -F -m1 -- "$want" | sed 's/^[* ]*//')"
  else
    bad "refused $(basename "$f") without saying '$want': $out"
  fi
done

echo "test_crds: $pass passed, ${#failures[@]} failed"
[ ${#failures[@]} -eq 0 ]
