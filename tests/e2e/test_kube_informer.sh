#!/usr/bin/env bash
# An informer keeps a correct cache while objects churn and kube-apiserver is killed and
# restarted twice: its handlers must see no duplicated or missed event, and its cache must
# equal a final list. During the second restart etcd is written and compacted while
# kube-apiserver is down, so the informer's resourceVersion (even one a bookmark advanced
# just before the kill) is older than both the restarted watch cache and etcd's compacted
# history: a 410 that must lead to a relist (whether the watch is served by the cache or by etcd).
source "$(dirname "$0")/lib.sh"
E2E=$BIN/e2e/kube_e2e
RESTART=${RESTART_APISERVER:-hack/cluster.sh restart-apiserver}

# etcd's URL: $ETCD_URL, else the port kwokctl chose for the cluster under test (the one
# FORESIGHT_CLUSTER_NAME names, as for tests/e2e/run.sh: several may run side by side)
etcd_url() {
  if [ -n "${ETCD_URL:-}" ]; then echo "$ETCD_URL"; return; fi
  local port cfg=_out/kwok/clusters/${FORESIGHT_CLUSTER_NAME:-foresight}/kwok.yaml
  port=$(grep -m1 -E '^\s*etcdPort:' "$cfg" 2>/dev/null | awk '{print $2}')
  [ -n "$port" ] || fail "cannot find etcd's port in $cfg (set ETCD_URL)"
  echo "http://127.0.0.1:$port"
}
# Compacts etcd's history up to its current revision (etcd's JSON gateway, no etcdctl).
etcd_compact() {
  local url rev
  url=$(etcd_url)
  rev=$(curl -sf -X POST "$url/v3/kv/range" -d '{"key":"AA=="}' | sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p')
  [ -n "$rev" ] || fail "cannot read etcd's revision from $url"
  curl -sf -X POST "$url/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null ||
    fail "cannot compact etcd at $url"
  echo "compacted etcd at revision $rev"
}
# Writes a key outside the API server's prefix: etcd's revision moves on with no event for it.
etcd_bump() {
  curl -sf -X POST "$(etcd_url)/v3/kv/put" \
    -d "{\"key\":\"$(printf /foresight-e2e/bump | base64)\",\"value\":\"$(date +%s%N | base64)\"}" >/dev/null ||
    fail "cannot write to etcd"
}
export -f etcd_url etcd_compact etcd_bump fail
[ -x "$E2E" ] || fail "$E2E not built"

ns=e2e-kinf-$$
other=e2e-kinf-other-$$
kubectl create namespace "$ns" >/dev/null
kubectl create namespace "$other" >/dev/null
trap 'kubectl delete namespace "$ns" "$other" --wait=false >/dev/null 2>&1 || true; [ -n "${inf_pid:-}" ] && kill "$inf_pid" 2>/dev/null || true' EXIT
work=$(mktemp -d)

"$E2E" churn "$ns" 5 >/dev/null
"$E2E" informer "$ns" "$work/ready" "$work/done" > "$work/informer.out" 2> "$work/informer.err" &
inf_pid=$!
poll 60 "informer synced" test -e "$work/ready"

info "churn while kube-apiserver is killed and restarted"
"$E2E" churn "$ns" 30 > "$work/churn.out" &
churn_pid=$!
sleep 8   # let the churn run before the restart: the restart must land in the middle of it
$RESTART
poll 120 "kube-apiserver back" kubectl get --raw /readyz
wait "$churn_pid" || fail "churn failed"
cat "$work/churn.out"

info "expired resourceVersion: writes elsewhere, a restart with etcd written and compacted meanwhile"
rv=$(kubectl get --raw "/api/v1/namespaces/$ns/configmaps?limit=1" | sed -n 's/^{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"\([0-9]*\)".*/\1/p')
[ -n "$rv" ] || fail "cannot read the list's resourceVersion"
for i in 1 2 3; do kubectl -n "$other" create configmap "bump-$i" >/dev/null; done
$RESTART --while-down "etcd_bump && etcd_compact"
poll 120 "kube-apiserver back" kubectl get --raw /readyz
"$E2E" expired "$ns" "$rv"
"$E2E" churn "$ns" 8 >/dev/null

touch "$work/done"
wait "$inf_pid" || { cat "$work/informer.err"; fail "informer cache or handlers wrong"; }
inf_pid=
cat "$work/informer.out"
lists=$(sed -n 's/.* \([0-9]*\) lists,.*/\1/p' "$work/informer.out")
gone=$(sed -n 's/.* \([0-9]*\) expired (410).*/\1/p' "$work/informer.out")
[ "${gone:-0}" -ge 1 ] || fail "the informer never saw a 410 after the restart"
[ "${lists:-0}" -ge 2 ] || fail "the informer did not relist after the 410"
echo "ok"
