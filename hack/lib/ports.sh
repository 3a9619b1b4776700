# Sourced by test and bench scripts: loopback ports.

# free_port: a loopback TCP port nothing listens on now (20000-39999), or fails.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$(( 20000 + RANDOM % 20000 ))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}
