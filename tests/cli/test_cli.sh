#!/usr/bin/env bash
# Tests of the kubectl-foresight binary itself (no cluster): --help texts, the CSV
# columns and band ordering of `forecast`, seasonal naive against the input, a line-
# numbered error on malformed CSV, usage errors, the terminal chart and `anomalies`
# finding an injected fault. Usage: tests/cli/test_cli.sh [path/to/kubectl-foresight]
# (default $BIN/bin/kubectl-foresight, BIN defaulting to _out/build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLI=${1:-${BIN:-$ROOT/_out/build}/bin/kubectl-foresight}
[ -x "$CLI" ] || { echo "test_cli: $CLI missing (make all)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# Ten days of hourly values: a daily cycle plus a deterministic wobble.
series() {
  awk -v spike="${1:--1}" 'BEGIN {
    print "timestamp,cpu"
    for (i = 0; i < 240; i++) {
      v = 50 + 10 * sin(2 * 3.14159265 * i / 24) + ((i * 7919) % 13) / 13.0
      if (i >= spike && i < spike + 6) v += 40
      printf "%s,%.3f\n", strftime("%Y-%m-%d %H:%M:%S", 1704067200 + 3600 * i, 1), v
    }
  }'
}
series > "$TMP/s.csv"

# --help: exit 0 and every option documented
"$CLI" --help > "$TMP/h" || fail "--help exits non-zero"
grep -q forecast "$TMP/h" && grep -q anomalies "$TMP/h" && pass "top-level --help lists the commands" ||
  fail "top-level --help lacks the commands"
"$CLI" forecast --help > "$TMP/hf" || fail "forecast --help exits non-zero"
for o in --column --season --horizon --model --level --plot; do
  grep -q -- "$o" "$TMP/hf" || fail "forecast --help does not document $o"
done
for m in auto ets hw arima naive snaive; do
  grep -qw -- "$m" "$TMP/hf" || fail "forecast --help does not document model $m"
done
"$CLI" anomalies --help > "$TMP/ha" || fail "anomalies --help exits non-zero"
for o in --detector --level --k --n --train --threshold likelihood score; do
  grep -q -- "$o" "$TMP/ha" || fail "anomalies --help does not document $o"
done
pass "--help texts"

# forecast: header, one row per step, ordered bands, times continuing the input
"$CLI" forecast --horizon 30 "$TMP/s.csv" > "$TMP/f.csv" 2> "$TMP/f.err" || fail "forecast exits non-zero"
head -1 "$TMP/f.csv" | grep -qx 'step,time,mean,lo80,hi80,lo95,hi95' || fail "forecast header: $(head -1 "$TMP/f.csv")"
[ "$(tail -n +2 "$TMP/f.csv" | wc -l)" -eq 30 ] || fail "forecast rows: $(tail -n +2 "$TMP/f.csv" | wc -l), want 30"
awk -F, 'NR > 1 { if (NF != 7 || $1 != NR - 1) bad = 1
                  for (i = 3; i <= 7; i++) if ($i !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) bad = 1
                  if (!($6 <= $4 && $4 <= $3 && $3 <= $5 && $5 <= $7)) bad = 1 }
         END { exit bad }' "$TMP/f.csv" || fail "forecast rows are not numeric with lo95 <= lo80 <= mean <= hi80 <= hi95"
sed -n 2p "$TMP/f.csv" | cut -d, -f2 | grep -qx '2024-01-11T00:00:00Z' || fail "first forecast time: $(sed -n 2p "$TMP/f.csv")"
grep -q 'model=' "$TMP/f.err" || fail "forecast does not report its model on stderr"
pass "forecast CSV columns, bands and times"

# --level picks the columns
"$CLI" forecast --horizon 2 --level 50,99 "$TMP/s.csv" 2> /dev/null | head -1 | grep -qx 'step,time,mean,lo50,hi50,lo99,hi99' ||
  fail "--level 50,99 header"
pass "--level columns"

# seasonal naive repeats the last season of the input exactly
"$CLI" forecast --model snaive --season 24 --horizon 24 "$TMP/s.csv" 2> /dev/null | tail -n +2 | cut -d, -f3 > "$TMP/sn"
tail -n 24 "$TMP/s.csv" | cut -d, -f2 > "$TMP/last"
awk 'NR == FNR { want[FNR] = $1; next } { if ($1 + 0 != want[FNR] + 0) bad = 1 } END { exit bad || FNR != 24 }' \
  "$TMP/last" "$TMP/sn" || fail "snaive forecast is not the last season"
pass "snaive repeats the last season"

# stdin works like a file
"$CLI" forecast --horizon 3 - < "$TMP/s.csv" 2> /dev/null | tail -n +2 | wc -l | grep -qx 3 || fail "forecast from stdin"
pass "forecast reads stdin"

# malformed CSV: exit 1, nothing on stdout, the file and line number on stderr
{ head -5 "$TMP/s.csv"; echo "2024-01-01 05:00:00,abc"; tail -n +7 "$TMP/s.csv"; } > "$TMP/bad.csv"
set +e
"$CLI" forecast "$TMP/bad.csv" > "$TMP/bad.out" 2> "$TMP/bad.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "malformed CSV exit status $rc, want 1"
[ ! -s "$TMP/bad.out" ] || fail "malformed CSV printed a forecast"
grep -q "bad.csv:6:" "$TMP/bad.err" || fail "malformed CSV error without line 6: $(cat "$TMP/bad.err")"
pass "malformed CSV: $(cat "$TMP/bad.err")"

# usage errors exit 2
for args in "forecast --horizon 0 $TMP/s.csv" "forecast --model bogus $TMP/s.csv" "forecast" "bogus"; do
  set +e
  # shellcheck disable=SC2086
  "$CLI" $args > /dev/null 2>&1
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'$args' exit status $rc, want 2"
done
pass "usage errors exit 2"

# --plot draws a chart within the requested width, no CSV
"$CLI" forecast --plot --width 60 --height 8 --horizon 24 "$TMP/s.csv" > "$TMP/plot" 2> /dev/null || fail "--plot exits non-zero"
! grep -q '^step,' "$TMP/plot" || fail "--plot printed CSV"
grep -q 'forecast' "$TMP/plot" || fail "--plot has no legend"
awk -v w=60 'length($0) > w + 20 { bad = 1 } END { exit bad }' "$TMP/plot" || fail "--plot wider than asked"
pass "--plot chart"

# anomalies: an injected burst at sample 200 (1-based 201..206) is inside a reported
# window, and the clean series has none (trained on five days: with the default 15 %
# the AICc prefers a model without the season's 23 initial states)
series 200 > "$TMP/spike.csv"
"$CLI" anomalies --train 120 "$TMP/s.csv" > "$TMP/a0.csv" 2> /dev/null || fail "anomalies exits non-zero"
[ "$(tail -n +2 "$TMP/a0.csv" | wc -l)" -eq 0 ] || fail "anomalies on the clean series: $(cat "$TMP/a0.csv")"
"$CLI" anomalies --train 120 "$TMP/spike.csv" > "$TMP/a.csv" 2> "$TMP/a.err" || fail "anomalies exits non-zero"
grep -q 'train=120' "$TMP/a.err" || fail "anomalies does not report its training length: $(cat "$TMP/a.err")"
head -1 "$TMP/a.csv" | grep -qx 'start,end,start_time,end_time,samples' || fail "anomalies header: $(head -1 "$TMP/a.csv")"
awk -F, 'NR > 1 && $1 <= 206 && $2 >= 201 { hit = 1 } END { exit !hit }' "$TMP/a.csv" ||
  fail "anomalies missed the burst at 201..206: $(cat "$TMP/a.csv")"
"$CLI" anomalies --detector hw --season 24 "$TMP/spike.csv" > "$TMP/a2.csv" 2> /dev/null || fail "anomalies --detector hw exits non-zero"
awk -F, 'NR > 1 && $1 <= 212 && $2 >= 201 { hit = 1 } END { exit !hit }' "$TMP/a2.csv" ||
  fail "hw detector missed the burst: $(cat "$TMP/a2.csv")"
# a detector on the model's errors: finds the burst, is quiet on the clean series and
# refuses a --threshold out of its range with exit status 2
check_error_detector() {
  local det=$1 bad=$2
  "$CLI" anomalies --detector "$det" --train 120 "$TMP/spike.csv" > "$TMP/a_$det.csv" 2> /dev/null ||
    fail "anomalies --detector $det exits non-zero"
  awk -F, 'NR > 1 && $1 <= 206 && $2 >= 201 { hit = 1 } END { exit !hit }' "$TMP/a_$det.csv" ||
    fail "$det detector missed the burst: $(cat "$TMP/a_$det.csv")"
  "$CLI" anomalies --detector "$det" --train 120 "$TMP/s.csv" 2> /dev/null | tail -n +2 | wc -l | grep -qx 0 ||
    fail "$det detector flags the clean series"
  set +e
  "$CLI" anomalies --detector "$det" --threshold "$bad" "$TMP/s.csv" > /dev/null 2>&1
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$det --threshold $bad exit status $rc, want 2"
}
check_error_detector likelihood 2
check_error_detector score 1.5
pass "anomalies finds an injected burst (band, hw, likelihood, score)"

if [ "$failures" -ne 0 ]; then
  echo "test_cli: $failures failure(s)" >&2
  exit 1
fi
echo "test_cli: all passed"
