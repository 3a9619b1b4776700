# statsmodels references (run with Debian's /usr/bin/python3): Holt-Winters
# ExponentialSmoothing(trend="add", seasonal="add") fitted with its defaults, on M4 Hourly
# (m = 24) and on the 5-minute series (m = 288), in the harness's CSV lines.
# Usage: python3 ref_sm.py m4 TRAIN TEST STRIDE MAX | res LIST MAXFILES
import csv
import math
import sys
import time
import warnings

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing

warnings.filterwarnings("ignore")


def fit_es(y, m, h):
    t0 = time.process_time()
    fit = ExponentialSmoothing(y, trend="add", seasonal="add", seasonal_periods=m).fit()
    f = fit.forecast(h)
    return np.asarray(f), time.process_time() - t0


def m4(train, test, stride, maxn):
    with open(train) as ft, open(test) as fs:
        rt, rs = csv.reader(ft), csv.reader(fs)
        next(rt), next(rs)
        done = 0
        for i, (a, b) in enumerate(zip(rt, rs)):
            if i % stride or (maxn > 0 and done >= maxn):
                continue
            y = np.array([float(v) for v in a[1:] if v not in ("", "NA")])
            yt = np.array([float(v) for v in b[1:] if v not in ("", "NA")])
            scale = np.mean(np.abs(y[24:] - y[:-24]))
            try:
                f, t = fit_es(y, 24, 48)
                smape = np.mean(200 * np.abs(yt - f) / (np.abs(yt) + np.abs(f)))
                print(f"m4,{a[0]},sm_es,{smape:.6f},{np.mean(np.abs(yt - f)) / scale:.6f},{t:.6f},NA,NA,ExponentialSmoothing(A;A)")
            except Exception as e:  # noqa: BLE001 - report and go on
                print(f"m4,{a[0]},sm_es,NA,NA,0,NA,NA,fail")
            sys.stdout.flush()
            done += 1


def res(listfile, maxfiles):
    files = [l.strip() for l in open(listfile) if l.strip()][:maxfiles]
    for path in files:
        y = np.array([float("nan") if v.strip() == "NA" else float(v) for v in open(path)])
        idx = np.arange(len(y))
        ok = ~np.isnan(y)
        y = np.interp(idx, idx[ok], y[ok])
        name = path.rsplit("/", 1)[-1]
        for oi in range(3):
            origin = 2016 + oi * 288
            if origin + 288 > len(y):
                break
            tr, te = y[origin - 2016:origin], y[origin:origin + 288]
            scale = np.mean(np.abs(tr[288:] - tr[:-288]))
            try:
                f, t = fit_es(tr, 288, 288)
                e = np.abs(te - f)
                print(f"res,{name},{oi},sm_es,{e[:12].mean() / scale:.6f},{e.mean() / scale:.6f},NA,NA,NA,NA,{t:.6f},NA,NA,ExponentialSmoothing(A;A)")
            except Exception:  # noqa: BLE001
                print(f"res,{name},{oi},sm_es,NA,NA,NA,NA,NA,NA,0,NA,NA,fail")
            sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "m4":
        m4(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        res(sys.argv[2], int(sys.argv[3]))
