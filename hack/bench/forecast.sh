#!/usr/bin/env bash
# make bench-forecast: accuracy and speed of lib/forecast against R forecast and
# statsmodels, fitted in the same run on the same series, and the NAB anomaly score.
# Needs: r-cran-forecast, python3-statsmodels (Debian's /usr/bin/python3).
# Knobs (environment): M4_STRIDE (1) and M4_MAX (414) pick M4 series (all 414 by
# default; M4_STRIDE=17 M4_MAX=25 is the quick subset); R_ETS_MAX (40), R_ARIMA_MAX (3)
# (R's ets and auto.arima are slow: 3 s and ~60 s per M4 series, so they run on the
# first series of the selection only; ratios use the series both ran on);
# AZURE_VMS (4), BITBRAINS_VMS (3); SM_RES_MAX (all) series for statsmodels at m = 288;
# RES_REF_MAX (all) series for the R references on 5-minute data; SKIP_NAB=1;
# SKIP_FIT=1 (the NAB part only: it has no reference to time, so it may run apart).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
DATA=${DATA:-$ROOT/../shared/data}
OUT=$ROOT/_out/bench-forecast
BUILD=${BUILD:-_out/build}
BIN=$BUILD/bench/forecast_bench
PY=/usr/bin/python3
M4_STRIDE=${M4_STRIDE:-1}; M4_MAX=${M4_MAX:-414}
R_ETS_MAX=${R_ETS_MAX:-40}; R_ARIMA_MAX=${R_ARIMA_MAX:-3}
AZURE_VMS=${AZURE_VMS:-4}; BITBRAINS_VMS=${BITBRAINS_VMS:-3}; SM_RES_MAX=${SM_RES_MAX:-1000}
RES_REF_MAX=${RES_REF_MAX:-1000}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "bench-forecast: $BIN missing (make all)" >&2; exit 1; }
Rscript -e 'suppressMessages(library(forecast))' >/dev/null 2>&1 || { echo "bench-forecast: R package forecast missing (apt-get install r-cran-forecast)" >&2; exit 1; }
$PY -c 'import statsmodels' 2>/dev/null || { echo "bench-forecast: statsmodels missing for $PY (apt-get install python3-statsmodels)" >&2; exit 1; }
R() { Rscript "$@" 2> >(grep -v -e quantmod -e '^  method' -e as.zoo >&2); }
M4T=$DATA/m4-hourly/Hourly-train.csv; M4S=$DATA/m4-hourly/Hourly-test.csv
RES=$OUT/results.csv

if [ "${SKIP_FIT:-0}" != 1 ]; then
: > "$RES"

echo "bench-forecast: M4 Hourly, every ${M4_STRIDE}th series, at most $M4_MAX" >&2
"$BIN" m4 "$M4T" "$M4S" "$M4_STRIDE" "$M4_MAX" >> "$RES"
R hack/bench/forecast/ref_m4.R "$M4T" "$M4S" "$M4_STRIDE" "$M4_MAX" naive2,r_hw,r_stlf >> "$RES"
R hack/bench/forecast/ref_m4.R "$M4T" "$M4S" "$M4_STRIDE" "$R_ETS_MAX" r_ets >> "$RES"
R hack/bench/forecast/ref_m4.R "$M4T" "$M4S" "$M4_STRIDE" "$R_ARIMA_MAX" r_arima >> "$RES"
$PY hack/bench/forecast/ref_sm.py m4 "$M4T" "$M4S" "$M4_STRIDE" "$M4_MAX" >> "$RES"

echo "bench-forecast: 5-minute series" >&2
$PY hack/bench/forecast/prep.py "$DATA" "$OUT/series" "$AZURE_VMS" "$BITBRAINS_VMS"
"$BIN" res "$OUT/series/list.txt" >> "$RES"
head -n "$RES_REF_MAX" "$OUT/series/list.txt" > "$OUT/series/list_ref.txt"
R hack/bench/forecast/ref_res.R "$OUT/series/list_ref.txt" >> "$RES"
$PY hack/bench/forecast/ref_sm.py res "$OUT/series/list.txt" "$SM_RES_MAX" >> "$RES"

$PY hack/bench/forecast/report.py "$RES"
fi

if [ "${SKIP_NAB:-0}" != 1 ]; then
  echo "bench-forecast: NAB" >&2
  rm -rf "$OUT/nab" && mkdir -p "$OUT/nab"
  $PY -c 'import json,sys; [print(sys.argv[1] + "/data/" + k) for k in sorted(json.load(open(sys.argv[1] + "/labels/combined_windows.json")))]' "$DATA/nab" > "$OUT/nab_list.txt"
  "$BIN" nab "$OUT/nab_list.txt" "$OUT/nab" 2> "$OUT/nab.log"
  echo
  $PY hack/bench/forecast/nab_score.py "$DATA/nab" "$OUT/nab"
fi
