#!/usr/bin/env bash
# lib/kube against the real kube-apiserver: CRUD, conflicts and every patch type on
# ConfigMaps and on a test CRD (with status and scale subresources), pod binding and
# eviction, a paginated list of 2,000 objects, an informer index, events with series.
source "$(dirname "$0")/lib.sh"
E2E=$BIN/e2e/kube_e2e
[ -x "$E2E" ] || fail "$E2E not built"

# (lib.sh's new_namespace sets its EXIT trap inside $(...), so the namespace would be
# deleted at once; these tests make their own)
ns=e2e-kube-$$
kubectl create namespace "$ns" >/dev/null
trap 'kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
# pods need the namespace's default service account (made by kube-controller-manager)
poll 60 "default service account in $ns" kubectl -n "$ns" get serviceaccount default

info "CRUD, conflicts, patches, CRD, subresources"
"$E2E" crud "$ns"

info "paginated list of 2000 configmaps"
"$E2E" paginate "$ns" 2000

info "informer index of pods by node"
"$E2E" index "$ns"

info "events with de-duplication"
"$E2E" events "$ns"

info "bad input: a malformed kubeconfig and an unreachable server give clear errors"
bad=$(mktemp); printf 'clusters: [unclosed\n' > "$bad"
out=$(KUBECONFIG=$bad "$E2E" expired "$ns" 1 2>&1) && fail "a malformed kubeconfig was accepted"
echo "$out" | grep -q "malformed kubeconfig" || fail "unclear error for a malformed kubeconfig: $out"
cat > "$bad" <<YAML
current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
YAML
out=$(KUBECONFIG=$bad timeout 60 "$E2E" expired "$ns" 1 2>&1) && fail "an unreachable server answered"
echo "$out" | grep -qi "connect" || fail "unclear error for an unreachable server: $out"
rm -f "$bad"
echo "ok"
