# Polling for the shell scripts of hack/ and tests/: sourced, not run.

# poll_until SECONDS INTERVAL COMMAND...: runs COMMAND (quietly) every INTERVAL seconds until
# it succeeds (status 0) or SECONDS have passed (status 1).
poll_until() {
  local timeout=$1 interval=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep "$interval"
  done
}
