#!/usr/bin/env bash
# Two processes contend for a Lease: exactly one leads; when it is killed (-9, no release)
# the other takes over within the lease duration (counted from when it last saw the lease
# renewed, so at most duration + 2 retry periods after the kill); when a leader
# stops gracefully it releases the Lease and the other takes over at once.
source "$(dirname "$0")/lib.sh"
E2E=$BIN/e2e/kube_e2e
[ -x "$E2E" ] || fail "$E2E not built"
ns=e2e-klease-$$
kubectl create namespace "$ns" >/dev/null
work=$(mktemp -d)
DUR=6
trap 'kill $(jobs -p) 2>/dev/null || true; kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT

# wait_line SECONDS FILE PATTERN: polls every 0.1 s, so measured takeover times are exact
wait_line() {
  local deadline=$(( $(date +%s) + $1 ))
  until grep -q "$3" "$2"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after $1s waiting for '$3' in $2"
    sleep 0.1
  done
}

"$E2E" lease "$ns" foresight-e2e a "$DUR" > "$work/a.out" 2>&1 & pa=$!
poll 30 "a leads" grep -q '^LEADER a' "$work/a.out"
"$E2E" lease "$ns" foresight-e2e b "$DUR" > "$work/b.out" 2>&1 & pb=$!
sleep 3   # b must stay a follower while a renews: give it several retry periods
grep -q '^LEADER' "$work/b.out" && fail "b leads while a holds the lease"
holder=$(kubectl -n "$ns" get lease foresight-e2e -o jsonpath='{.spec.holderIdentity}')
[ "$holder" = a ] || fail "lease holder is '$holder', want a"

info "kill -9 the leader: b takes over within the lease duration"
t0=$(date +%s.%N)
kill -9 "$pa"
wait_line $((DUR + 10)) "$work/b.out" '^LEADER b'
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
echo "takeover after kill -9: ${took}s (lease duration ${DUR}s, retry 1s)"
# duration + 2 retry periods (1 s each, jittered by up to 20 %) + the request itself
awk -v t="$took" -v d="$DUR" 'BEGIN{exit !(t <= d + 2.9)}' || fail "takeover took ${took}s, more than ${DUR}s + 2.9s"
holder=$(kubectl -n "$ns" get lease foresight-e2e -o jsonpath='{.spec.holderIdentity}')
[ "$holder" = b ] || fail "lease holder is '$holder', want b"

info "graceful stop releases the lease"
"$E2E" lease "$ns" foresight-e2e c "$DUR" > "$work/c.out" 2>&1 & pc=$!
sleep 2
t0=$(date +%s.%N)
kill -TERM "$pb"; wait "$pb" || true
grep -q '^STOPPED b' "$work/b.out" || fail "b did not report stopping"
wait_line 10 "$work/c.out" '^LEADER c'
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
echo "takeover after release: ${took}s"
awk -v t="$took" -v d="$DUR" 'BEGIN{exit !(t < d)}' || fail "release did not shorten the takeover (${took}s)"
kill -TERM "$pc"; wait "$pc" || true
echo "ok"
