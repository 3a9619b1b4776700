#!/usr/bin/env bash
# A rotated token file is picked up without a restart: the client authenticates as the
# service account whose token is in the file now (bound tokens rotate in real pods).
source "$(dirname "$0")/lib.sh"
E2E=$BIN/e2e/kube_e2e
[ -x "$E2E" ] || fail "$E2E not built"
ns=e2e-ktoken-$$
kubectl create namespace "$ns" >/dev/null
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' EXIT
kubectl -n "$ns" create serviceaccount one >/dev/null
kubectl -n "$ns" create serviceaccount two >/dev/null
kubectl -n "$ns" create token one --duration=10m > "$work/token"
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cafile=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
if [ -n "$ca" ]; then tls="certificate-authority-data: $ca"
elif [ -n "$cafile" ]; then tls="certificate-authority: $cafile"
else tls="insecure-skip-tls-verify: true"; fi
cat > "$work/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: t
clusters: [{name: c, cluster: {server: "$server", $tls}}]
contexts: [{name: t, context: {cluster: c, user: u}}]
users: [{name: u, user: {tokenFile: token}}]
YAML
KUBECONFIG=$work/kubeconfig "$E2E" whoami 60 > "$work/who.out" 2>&1 &
poll 30 "authenticated as one" grep -q "USER system:serviceaccount:$ns:one" "$work/who.out"
info "rotate the token file to the other service account"
kubectl -n "$ns" create token two --duration=10m > "$work/token.new"
mv "$work/token.new" "$work/token"   # atomic, as the kubelet does
t0=$(date +%s)
poll 15 "authenticated as two" grep -q "USER system:serviceaccount:$ns:two" "$work/who.out"
echo "new token used after $(( $(date +%s) - t0 ))s (re-read every 1s)"
grep -q '^ERROR' "$work/who.out" && fail "a request failed during the rotation: $(grep -m1 '^ERROR' "$work/who.out")"
echo "ok"
