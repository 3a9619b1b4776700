#!/usr/bin/env bash
# Runs each cmocka test binary given, prints a summary line, fails if any failed.
set -u
failed=()
for t in "$@"; do
  if ! out=$("$t" 2>&1); then
    echo "$out"
    failed+=("$(basename "$t")")
  else
    echo "$out" | grep -E '^\[  PASSED  \]' | sed "s|^|$(basename "$t"): |"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "unit tests failed: ${failed[*]}" >&2
  exit 1
fi
