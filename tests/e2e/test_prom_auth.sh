#!/usr/bin/env bash
# The controller's Prometheus client (lib/prom) against a real Prometheus (Debian's 2.42) served
# over HTTPS with basic auth (--web.config.file: tls_server_config and basic_auth_users), with
# certificates made here by the openssl CLI: the right CA and password give `up` as a vector;
# a wrong password and no credentials say authentication failed (without the password); a CA
# that did not sign the server, and the system store, say TLS verification failed; skipping
# verification works without a CA. Then foresight-controller itself: an unreadable CA or
# password file and a bearer token with basic auth stop it with the file or the flags named,
# and skipping verification is warned about. Last, the chart mounts a CA ConfigMap and a
# token Secret and passes them as flags, and refuses a token with basic auth. Needs no
# cluster (helm from _out/bin); the bearer token's header is tested in
# tests/unit/test_prom_auth.c (Prometheus does not check tokens).
source "$(dirname "$0")/lib.sh"

CHART=$(cd "$(dirname "$0")/../../charts/foresight" && pwd)
Q=$BIN/e2e/prom_query
CTL=$BIN/bin/foresight-controller
[ -x "$Q" ] || fail "build first: $Q is needed"
[ -x "$CTL" ] || fail "build first: $CTL is needed"
command -v prometheus >/dev/null || fail "prometheus is needed (apt package prometheus)"
command -v openssl >/dev/null || fail "the openssl CLI is needed"
command -v helm >/dev/null || fail "helm is needed (make tools; tests/e2e/run.sh puts _out/bin on PATH)"
WORK=$(mktemp -d)
PROM_PID=
cleanup() {
  if [ -n "$PROM_PID" ]; then
    kill "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

# bcrypt_hash PASSWORD: what basic_auth_users holds. htpasswd (apt package apache2-utils) is
# what Prometheus's documentation uses; else the system's crypt(3) (libxcrypt does bcrypt)
# through python3's crypt module.
bcrypt_hash() {
  if command -v htpasswd >/dev/null; then
    htpasswd -nbB -C 10 x "$1" | head -1 | cut -d: -f2-
  else
    python3 -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))' "$1"
  fi
}

for ca in ca otherca; do
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$ca.key" -out "$ca.crt" \
    -days 1 -subj "/CN=e2e-prom-$ca" 2>/dev/null
done
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
  -subj "/CN=prometheus" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 \
  -extfile server.ext 2>/dev/null || fail "cannot sign the server certificate"

PASSWORD="pw-$RANDOM-$RANDOM"
printf '%s\n' "$PASSWORD" >password
printf 'wrong-%s\n' "$PASSWORD" >wrong-password
HASH=$(bcrypt_hash "$PASSWORD")
case $HASH in '$2'*) ;; *) fail "no bcrypt hash (install apache2-utils for htpasswd): got '$HASH'" ;; esac

PORT=$(free_port) || fail "no free port"
URL="https://127.0.0.1:$PORT"
cat >web.yml <<EOF
tls_server_config:
  cert_file: $WORK/server.crt
  key_file: $WORK/server.key
basic_auth_users:
  foresight: '$HASH'
EOF
# it scrapes itself through the same TLS and basic auth, so `up` has one series
cat >prometheus.yml <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: self
  scheme: https
  tls_config: {ca_file: $WORK/ca.crt}
  basic_auth: {username: foresight, password_file: $WORK/password}
  static_configs: [{targets: ['127.0.0.1:$PORT']}]
EOF
prometheus --config.file=prometheus.yml --web.config.file=web.yml --web.listen-address="127.0.0.1:$PORT" \
  --storage.tsdb.path="$WORK/data" --log.level=warn >prometheus.log 2>&1 &
PROM_PID=$!
info "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') on $URL (pid $PROM_PID)"

GOOD=(--ca-file ca.crt --username foresight --password-file password)
up_is_one() {
  kill -0 "$PROM_PID" 2>/dev/null || { cat prometheus.log >&2; fail "prometheus exited"; }
  "$Q" "${GOOD[@]}" "$URL" 'up' job instance >up.out 2>up.err && grep -q "^job=self instance=127.0.0.1:$PORT 1$" up.out
}
poll 60 "up{job=self} is 1 through TLS and basic auth" up_is_one
info "right CA and password: $(cat up.out)"

# expect_failure WHAT SAYS ARGS...: prom_query exits 1 and stderr holds SAYS, never the password
expect_failure() {
  local what=$1 says=$2 rc=0
  shift 2
  "$Q" "$@" >fail.out 2>fail.err || rc=$?
  [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1 (stdout: $(cat fail.out); stderr: $(cat fail.err))"
  grep -q -- "$says" fail.err || fail "$what: stderr does not say '$says': $(cat fail.err)"
  if grep -q -- "$PASSWORD" fail.err; then fail "$what: the password is in the message"; fi
  info "$what: $(cat fail.err)"
}
expect_failure "wrong password" "authentication failed: prometheus $URL answered HTTP 401 (the credentials were refused)" \
  --ca-file ca.crt --username foresight --password-file wrong-password "$URL" up job
expect_failure "wrong user" "authentication failed" \
  --ca-file ca.crt --username someone --password-file password "$URL" up job
expect_failure "no credentials" "answered HTTP 401 (credentials are needed)" --ca-file ca.crt "$URL" up job
expect_failure "another CA" "TLS verification of prometheus $URL failed" \
  --ca-file otherca.crt --username foresight --password-file password "$URL" up job
expect_failure "the system store" "TLS verification of prometheus $URL failed" \
  --username foresight --password-file password "$URL" up job
expect_failure "plain HTTP to the TLS port" "answered HTTP 400" \
  --username foresight --password-file password "http://127.0.0.1:$PORT" up job

"$Q" --insecure-skip-tls-verify --username foresight --password-file password "$URL" up job instance >skip.out 2>&1 ||
  fail "skipping verification: $(cat skip.out)"
grep -q "^job=self instance=127.0.0.1:$PORT 1$" skip.out || fail "skipping verification: $(cat skip.out)"
info "skipping verification without a CA: $(cat skip.out)"

# the password file is read before every query: a changed password is used at once
printf '%s\n' "$PASSWORD" >rotating
"$Q" --ca-file ca.crt --username foresight --password-file rotating "$URL" up job >/dev/null 2>&1 ||
  fail "the rotating password file is refused"
printf 'x%s\n' "$PASSWORD" >rotating.new && mv rotating.new rotating
expect_failure "password file changed" "answered HTTP 401" --ca-file ca.crt --username foresight \
  --password-file rotating "$URL" up job

# the controller: start-up errors name the file or the flags; no cluster is reached before them
expect_exit() {
  local what=$1 code=$2 says=$3 rc=0
  shift 3
  timeout 20 "$CTL" --kubeconfig "$WORK/no-kubeconfig" --no-leader-elect "$@" >ctl.log 2>&1 || rc=$?
  [ "$rc" = "$code" ] || fail "controller, $what: exit $rc, expected $code: $(cat ctl.log)"
  grep -q -- "$says" ctl.log || fail "controller, $what: log does not say '$says': $(cat ctl.log)"
  if grep -q -- "$PASSWORD" ctl.log; then fail "controller, $what: the password is in the log"; fi
  info "controller, $what: $(grep -- "$says" ctl.log | head -1)"
}
expect_exit "missing CA file" 2 "cannot read the CA file $WORK/nope.crt" \
  --prometheus-url "$URL" --prometheus-ca-file "$WORK/nope.crt"
expect_exit "CA file without a certificate" 2 "the CA file $WORK/password holds no PEM certificate" \
  --prometheus-url "$URL" --prometheus-ca-file "$WORK/password"
expect_exit "missing password file" 2 "cannot read the password file $WORK/nope" \
  --prometheus-url "$URL" --prometheus-username foresight --prometheus-password-file "$WORK/nope"
expect_exit "bearer and basic" 2 "prometheus-bearer-token-file and prometheus-username are exclusive" \
  --prometheus-url "$URL" --prometheus-bearer-token-file password --prometheus-username foresight \
  --prometheus-password-file password
# good settings get past the Prometheus set-up and stop at the missing kubeconfig
expect_exit "skipping verification" 1 "TLS certificate is not verified" \
  --prometheus-url "$URL" --prometheus-insecure-skip-tls-verify --prometheus-username foresight \
  --prometheus-password-file password

# the chart: the CA from a ConfigMap and a token from a Secret are mounted as whole volumes
# (a rotated key reaches the pod) and passed as flags; a token with basic auth is refused
helm template x "$CHART" --kube-version 1.33.0 --set controller.prometheus.url=https://p:9091 \
  --set controller.prometheus.caConfigMap.name=svc-ca --set controller.prometheus.caConfigMap.key=service-ca.crt \
  --set controller.prometheus.bearerTokenSecret.name=tok >chart.yaml 2>chart.err || fail "helm template: $(cat chart.err)"
for want in '"--prometheus-ca-file=/etc/foresight/prometheus-ca/ca.crt"' \
  '"--prometheus-bearer-token-file=/etc/foresight/prometheus-token/token"' \
  '{name: prometheus-ca, mountPath: /etc/foresight/prometheus-ca, readOnly: true}' \
  '- key: service-ca.crt' 'name: svc-ca' 'secretName: tok'; do
  grep -qF -- "$want" chart.yaml || fail "the chart does not render $want"
done
if helm template x "$CHART" --kube-version 1.33.0 --set controller.prometheus.url=https://p \
  --set controller.prometheus.bearerTokenFile=/t --set controller.prometheus.username=u \
  --set controller.prometheus.passwordSecret.name=s >/dev/null 2>chart.err; then
  fail "the chart accepted a bearer token with basic auth"
fi
grep -q "are exclusive" chart.err || fail "the chart's refusal does not say why: $(cat chart.err)"
info "chart: CA ConfigMap and token Secret mounted and passed; bearer with basic auth refused"
info "prometheus TLS and basic auth: ok"
