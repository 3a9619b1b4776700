#!/usr/bin/env bash
# lib/kube's TLS settings against the real kube-apiserver: client-certificate/client-key
# files and their -data forms authenticate as the certificate's user; no certificate, a
# certificate the cluster's CA did not sign, or a key that does not match are refused;
# tls-server-name verifies the serving certificate under a name it carries (the server is
# reached by IP) and refuses one it does not carry. Needs the openssl command.
source "$(dirname "$0")/lib.sh"
E2E=$BIN/e2e/kube_e2e
[ -x "$E2E" ] || fail "$E2E not built"
command -v openssl >/dev/null || fail "the openssl command is needed (apt-get install openssl)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

view() { kubectl config view --raw --minify -o jsonpath="{$1}"; }
server=$(view .clusters[0].cluster.server)
# every file this test writes is base64 "-data" or a path of its own: the cluster's own
# kubeconfig may use either form
pem() { # pem FIELD OUT: the kubeconfig's FIELD (file or -data) into OUT
  local data file
  data=$(view ".users[0].user.$1-data")
  file=$(view ".users[0].user.$1")
  if [ -n "$data" ]; then base64 -d <<< "$data" > "$2"
  elif [ -n "$file" ]; then cp "$file" "$2"
  else fail "the cluster's kubeconfig has no $1: this test needs a client-certificate user"; fi
}
pem client-certificate "$work/client.crt"
pem client-key "$work/client.key"
ca_data=$(view .clusters[0].cluster.certificate-authority-data)
ca_file=$(view .clusters[0].cluster.certificate-authority)
if [ -n "$ca_data" ]; then base64 -d <<< "$ca_data" > "$work/ca.crt"
elif [ -n "$ca_file" ]; then cp "$ca_file" "$work/ca.crt"
else fail "the cluster's kubeconfig has no certificate-authority"; fi
case $server in https://127.0.0.1:*|https://\[::1\]:*) ;; *) fail "want the server by IP, got $server" ;; esac
hostport=${server#https://}
want_user=$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')
[ -n "$want_user" ] || fail "kubectl auth whoami gave no user"
info "the certificate's user is $want_user"

# kubeconfig NAME CLUSTER_EXTRA USER_FIELDS: a kubeconfig file for one case
kubeconfig() {
  cat > "$work/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: t
clusters: [{name: c, cluster: {server: "$server", certificate-authority: "$work/ca.crt"$2}}]
contexts: [{name: t, context: {cluster: c, user: u}}]
users: [{name: u, user: {$3}}]
YAML
}
# whoami NAME: what lib/kube authenticates as with that kubeconfig (one request)
whoami() {
  KUBECONFIG=$work/$1.kubeconfig timeout 60 "$E2E" whoami 1 > "$work/$1.out" 2>&1 || true
  head -1 "$work/$1.out"
}

info "client-certificate and client-key files"
kubeconfig files "" "client-certificate: \"$work/client.crt\", client-key: \"$work/client.key\""
out=$(whoami files)
[ "$out" = "USER $want_user" ] || fail "with certificate files: $out"

info "client-certificate-data and client-key-data"
kubeconfig data "" "client-certificate-data: $(base64 -w0 "$work/client.crt"), client-key-data: $(base64 -w0 "$work/client.key")"
out=$(whoami data)
[ "$out" = "USER $want_user" ] || fail "with certificate data: $out"

info "no client certificate: not that user"
kubeconfig none "" ""
out=$(whoami none)
case $out in "USER $want_user") fail "authenticated without a certificate" ;;
  USER\ system:anonymous|ERROR\ 401*|ERROR\ 403*) ;; *) fail "unclear answer without a certificate: $out" ;; esac
info "without: $out"

info "a certificate the cluster's CA did not sign"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/other.key" -out "$work/other.crt" -days 1 \
  -subj "/O=system:masters/CN=intruder" >/dev/null 2>&1 || fail "openssl could not make a certificate"
kubeconfig stranger "" "client-certificate: \"$work/other.crt\", client-key: \"$work/other.key\""
out=$(whoami stranger)
case $out in USER\ system:anonymous|ERROR*) ;; *) fail "a stranger's certificate was accepted: $out" ;; esac
info "stranger: $out"

info "a key that does not match the certificate: a clear error"
kubeconfig mismatch "" "client-certificate: \"$work/client.crt\", client-key: \"$work/other.key\""
out=$(whoami mismatch)
case $out in ERROR*) ;; *) fail "a mismatched key was used: $out" ;; esac
echo "$out" | grep -qiE "key|certificate|ssl|tls" || fail "unclear error for a mismatched key: $out"
info "mismatch: $out"

info "tls-server-name: a name of the serving certificate, the server reached by IP"
sans=$(openssl s_client -connect "$hostport" -servername kubernetes </dev/null 2>/dev/null |
  openssl x509 -noout -ext subjectAltName 2>/dev/null | tr ',' '\n' | sed -n 's/^ *DNS://p')
name=$(head -1 <<< "$sans")
[ -n "$name" ] || fail "the serving certificate has no DNS name"
info "serving certificate names: $(tr '\n' ' ' <<< "$sans")"
certs="client-certificate: \"$work/client.crt\", client-key: \"$work/client.key\""
kubeconfig sni-good ", tls-server-name: $name" "$certs"
out=$(whoami sni-good)
[ "$out" = "USER $want_user" ] || fail "with tls-server-name $name: $out"
kubeconfig sni-bad ", tls-server-name: not-a-name-of-the-cert.invalid" "$certs"
out=$(whoami sni-bad)
case $out in ERROR*) ;; *) fail "tls-server-name not on the certificate was accepted: $out" ;; esac
echo "$out" | grep -qiE "certificate|ssl|tls|verif" || fail "unclear error for a wrong tls-server-name: $out"
info "wrong name refused: $out"
echo "ok"
