#!/usr/bin/env bash
# foresight-extender over HTTPS with client-certificate verification: certificates made
# here with the openssl CLI (a CA, a server certificate for 127.0.0.1, a client signed by
# the CA and one signed by another CA); curl checks that a client with the right certificate
# is answered (GET /healthz and a real POST /filter), that no certificate, a certificate of
# another CA and plain HTTP are refused, and that without --client-ca any TLS client is
# answered. Then, over plain HTTP, what bad requests get: a 400 with a JSON Error for
# malformed JSON and for a body over --max-body (the server keeps answering), 404 for an
# unknown verb. The extender runs on a fixed List (--fake-cluster): no API server needed.
source "$(dirname "$0")/lib.sh"

EXT=$BIN/bin/foresight-extender
[ -x "$EXT" ] || fail "build first: $EXT is needed"
command -v openssl >/dev/null || fail "the openssl CLI is needed"
WORK=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

# cert NAME CA_NAME EXTENSIONS: an EC key and a certificate signed by CA_NAME
cert() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" \
    -subj "/CN=$1" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" -days 1 \
    -extfile "$1.ext" 2>/dev/null
}
for ca in ca otherca; do
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$ca.key" -out "$ca.crt" \
    -days 1 -subj "/CN=e2e-$ca" 2>/dev/null
done
cert server ca $'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
cert scheduler ca 'extendedKeyUsage=clientAuth'
cert intruder otherca 'extendedKeyUsage=clientAuth'
info "certificates: $(openssl x509 -in server.crt -noout -subject -ext subjectAltName 2>/dev/null | tr '\n' ' ')"

cat >cluster.json <<'EOF'
{"apiVersion": "v1", "kind": "List", "items": [
 {"kind": "Node", "metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}},
 {"kind": "Node", "metadata": {"name": "n2"}, "status": {"allocatable": {"cpu": "1", "memory": "8Gi"}}}]}
EOF
FILTER='{"Pod":{"metadata":{"name":"p","namespace":"default","uid":"u1"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"2"}}}]}},"Nodes":null,"NodeNames":["n1","n2"]}'

# start_ext ARGS...: an extender on a free port in $PORT, ready when /healthz answers
start_ext() {
  PORT=$(free_port) || fail "no free port"
  "$EXT" --fake-cluster cluster.json --address 127.0.0.1 --port "$PORT" "$@" >>"$WORK/ext.log" 2>&1 &
  pids+=($!)
  poll 30 "the extender on $PORT to listen" curl -s -o /dev/null --cacert ca.crt --cert scheduler.crt --key scheduler.key \
    "https://127.0.0.1:$PORT/healthz"
}

start_ext --tls-cert server.crt --tls-key server.key --client-ca ca.crt
URL=https://127.0.0.1:$PORT
got=$(curl -sS --cacert ca.crt --cert scheduler.crt --key scheduler.key "$URL/healthz") || fail "client with a CA-signed certificate refused"
[ "$got" = ok ] || fail "healthz over TLS answered: $got"
got=$(curl -sS --cacert ca.crt --cert scheduler.crt --key scheduler.key -H 'Content-Type: application/json' \
      --data "$FILTER" -w ' %{http_code}' "$URL/filter") || fail "POST /filter over TLS failed"
case $got in
  *'"NodeNames":["n1"]'*'"n2":"cpu: 0m reserved + 2000m for this pod > 1000m allowed at +0s (the pod alone exceeds the node)"'*' 200') ;;
  *) fail "filter over TLS answered: $got" ;;
esac
info "a client signed by the CA is answered: healthz ok, filter keeps n1 and explains n2"

if curl -sS --cacert ca.crt "$URL/healthz" >"$WORK/out" 2>"$WORK/err"; then
  fail "a client without a certificate was answered: $(cat "$WORK/out")"
fi
info "no client certificate: refused ($(head -c 120 "$WORK/err"))"
if curl -sS --cacert ca.crt --cert intruder.crt --key intruder.key "$URL/healthz" >"$WORK/out" 2>"$WORK/err"; then
  fail "a client signed by another CA was answered: $(cat "$WORK/out")"
fi
info "certificate of another CA: refused ($(head -c 120 "$WORK/err"))"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" || true)
[ "$code" != 200 ] || fail "plain HTTP was answered on the TLS port"
info "plain HTTP on the TLS port: no answer (code ${code:-none})"
# the server's certificate is checked by the client too: a client trusting another CA fails
if curl -sS --cacert otherca.crt --cert scheduler.crt --key scheduler.key "$URL/healthz" >/dev/null 2>&1; then
  fail "the server's certificate was accepted by a client that trusts only another CA"
fi

# TLS without client verification: any TLS client is answered
start_ext --tls-cert server.crt --tls-key server.key
got=$(curl -sS --cacert ca.crt "https://127.0.0.1:$PORT/healthz") || fail "TLS without --client-ca refused a client"
[ "$got" = ok ] || fail "healthz answered: $got"
info "without --client-ca: a client with no certificate is answered"
# flags that do not go together are refused with a message
if "$EXT" --fake-cluster cluster.json --client-ca ca.crt >/dev/null 2>"$WORK/err"; then fail "--client-ca without a certificate accepted"; fi
grep -q -- "--client-ca needs them" "$WORK/err" || fail "no clear message for --client-ca alone: $(cat "$WORK/err")"

# bad requests over plain HTTP: answered with a JSON Error, and the server goes on
PORT=$(free_port) || fail "no free port"
"$EXT" --fake-cluster cluster.json --address 127.0.0.1 --port "$PORT" --max-body 4096 >>"$WORK/ext.log" 2>&1 &
pids+=($!)
poll 30 "the plain extender on $PORT to listen" curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"
URL=http://127.0.0.1:$PORT
# post PATH BODY_FILE: "CODE BODY"
post() { curl -sS -H 'Content-Type: application/json' --data-binary "@$2" -w ' %{http_code}' "$URL/$1"; }
printf '{"Pod":{"metadata":{"name":"p"}},"NodeNames":["n1",]}' >bad.json
got=$(post filter bad.json) || fail "malformed JSON: no answer"
case $got in *'{"Error":"malformed json at byte'*'"}'*' 400') ;; *) fail "malformed JSON answered: $got" ;; esac
info "malformed JSON: 400 ($got)"
{ printf '{"Pod":{"metadata":{"name":"p","namespace":"d","uid":"u"}},"NodeNames":['
  for i in $(seq 600); do printf '"node-%05d",' "$i"; done; printf '"n1"]}'; } >big.json
got=$(post prioritize big.json) || fail "oversized body: no answer"
case $got in *'"Error":"request body exceeds the limit of 4096 bytes"'*' 400') ;; *) fail "a body over --max-body answered: $got" ;; esac
info "a $(wc -c <big.json)-byte body over --max-body 4096: 400"
printf '%s' "$FILTER" >filter.json
got=$(post nosuchverb filter.json) || fail "unknown verb: no answer"
case $got in *'"Error":"no such verb'*' 404') ;; *) fail "an unknown verb answered: $got" ;; esac
got=$(post filter filter.json) || fail "filter after the bad requests: no answer"
case $got in *'"NodeNames":["n1"]'*' 200') ;; *) fail "filter after the bad requests answered: $got" ;; esac
info "unknown verb: 404; the next good filter is answered"
echo "PASS test_extender_tls"
