#!/usr/bin/env bash
# Builds each tests/fuzz/fuzz_*.c with clang's libFuzzer, ASan and UBSan against the library
# sources, then runs each for the given number of seconds from its seed corpus
# (tests/fuzz/corpus/<name>/ when present). A crash fails the run and leaves its input in _out/fuzz.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=${1:-20}
OUT=$ROOT/_out/fuzz
mkdir -p "$OUT"
shopt -s nullglob
targets=(tests/fuzz/fuzz_*.c)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets"; exit 0; }
PKGS="libcurl jansson yajl yaml-0.1 openssl libwebsockets"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 -Ilib $(pkg-config --cflags $PKGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
LIBS="$(pkg-config --libs $PKGS) -lpthread -lm"
for t in "${targets[@]}"; do
  name=$(basename "$t" .c)
  # a target outside lib/ names its program sources in a "fuzz-sources:" comment line
  extra=$(sed -n 's|^ \* fuzz-sources: \([^*]*\).*|\1|p' "$t")
  # shellcheck disable=SC2086
  clang $CFLAGS -o "$OUT/$name" "$t" lib/*/*.c $extra $LIBS
  corpus=$OUT/corpus/$name; mkdir -p "$corpus"
  seeds=(); [ -d "$ROOT/tests/fuzz/corpus/$name" ] && seeds=("$ROOT/tests/fuzz/corpus/$name")
  echo "fuzz: $name for ${SECONDS_EACH}s"
  (cd "$OUT" && "./$name" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$corpus" "${seeds[@]}" 2>&1 | tail -3)
done
