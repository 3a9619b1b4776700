# NAB scoring re-implemented (rules of numenta/NAB sweeper.py as described in NAB's
# README and paper): anomaly windows from labels/combined_windows.json, the first
# min(15 %, 750) rows of each file probationary (ignored), in a window only the first
# detection counts with A_TP * sigma(position), position -1 at the window's left edge,
# sigma(x) = 2 / (1 + exp(5x)) - 1; a detection outside windows costs A_FP * sigma of its
# distance past the previous window (-1 when none precedes); each missed window costs
# A_FN. Scores summed over the corpus and normalised: null detector 0, perfect 100.
# Usage: python3 nab_score.py NAB_DIR FLAGS_DIR
import csv
import json
import math
import os
import sys
from datetime import datetime

PROFILES = {
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP": (1.0, 0.22, 1.0),
    "reward_low_FN": (1.0, 0.11, 2.0),
}


def sigmoid(x):
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def parse_ts(s):
    s = s.split(".")[0]
    return datetime.strptime(s, "%Y-%m-%d %H:%M:%S")


def score_file(flags, windows, n, tp_w, fp_w, fn_w):
    prob = min(int(math.floor(0.15 * n)), 750)
    score = 0.0
    detected = [False] * len(windows)
    prev_right = None
    prev_width = None
    wi = 0
    tp = fp = 0
    for i in range(n):
        while wi < len(windows) and windows[wi][1] < i:
            prev_right, prev_width = windows[wi][1], windows[wi][1] - windows[wi][0] + 1
            wi += 1
        inwin = wi < len(windows) and windows[wi][0] <= i <= windows[wi][1]
        if i < prob or not flags[i]:
            continue
        if inwin:
            if not detected[wi]:
                left, right = windows[wi]
                width = right - left + 1
                pos = -(right - i + 1) / float(width)
                score += tp_w * sigmoid(pos)
                detected[wi] = True
                tp += 1
        else:
            if prev_right is None:
                s = -1.0
            else:
                s = sigmoid(abs(prev_right - i) / float(max(prev_width - 1, 1)))
            score += fp_w * s
            fp += 1
    missed = sum(1 for d in detected if not d)
    score -= fn_w * missed
    return score, tp, fp, missed


def main():
    nab, flagdir = sys.argv[1], sys.argv[2]
    windows = json.load(open(os.path.join(nab, "labels", "combined_windows.json")))
    files = sorted(windows)
    detectors = None
    per = {}
    days = 0.0
    nwin = 0
    for rel in files:
        path = os.path.join(nab, "data", rel)
        fpath = os.path.join(flagdir, rel.replace("/", "_"))
        if not os.path.exists(path) or not os.path.exists(fpath):
            continue
        rows = list(csv.DictReader(open(path)))
        ts = [parse_ts(r["timestamp"]) for r in rows]
        n = len(ts)
        days += (ts[-1] - ts[0]).total_seconds() / 86400
        win = []
        for a, b in windows[rel]:
            ta, tb = parse_ts(a), parse_ts(b)
            idx = [i for i, t in enumerate(ts) if ta <= t <= tb]
            if idx:
                win.append((idx[0], idx[-1]))
        nwin += len(win)
        fr = list(csv.reader(open(fpath)))
        head, body = fr[0], fr[1:]
        if len(body) != n:
            print(f"nab_score: {rel}: {len(body)} flag rows for {n} data rows", file=sys.stderr)
            continue
        if detectors is None:
            detectors = head + ["null", "perfect"]
        for j, d in enumerate(detectors):
            if d == "null":
                flags = [0] * n
            elif d == "perfect":
                flags = [0] * n
                for a, b in win:
                    flags[a] = 1
            else:
                flags = [int(r[j]) for r in body]
            for prof, (tw, fw, nw) in PROFILES.items():
                s, tp, fp, missed = score_file(flags, win, n, tw, fw, nw)
                acc = per.setdefault((d, prof), [0.0, 0, 0, 0])
                acc[0] += s
                acc[1] += tp
                acc[2] += fp
                acc[3] += missed
    print(f"NAB corpus: {len(files)} files, {nwin} windows, {days:.0f} days")
    print(f"{'detector':<20} {'standard':>9} {'low_FP':>9} {'low_FN':>9} {'recall':>7} {'FP/day':>7}")
    for d in detectors:
        if d in ("null", "perfect"):
            continue
        vals = []
        for prof in PROFILES:
            raw = per[(d, prof)][0]
            null = per[("null", prof)][0]
            perfect = per[("perfect", prof)][0]
            vals.append(100 * (raw - null) / (perfect - null))
        tp, fp = per[(d, "standard")][1], per[(d, "standard")][2]
        print(f"{d:<20} {vals[0]:9.1f} {vals[1]:9.1f} {vals[2]:9.1f} {tp / max(nwin, 1):7.3f} {fp / days:7.2f}")
    print("published standard scores: Numenta HTM 70.5, Random Cut Forest 51.7, Twitter ADVec 47.1, "
          "Windowed Gaussian 39.6, Etsy Skyline 35.7")


main()
