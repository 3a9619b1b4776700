# NAB scoring re-implemented from the rules of numenta/NAB (nab/sweeper.py and
# nab/optimizer.py, read for behaviour): anomaly windows from labels/combined_windows.json;
# the first min(floor(15 % of rows), 750) rows of each file are probationary (ignored);
# a row is a detection when its score >= the threshold; in a window only the best
# (earliest) detection counts, A_TP * sigma(position) / sigma(-1), position
# -(right - i + 1) / width, sigma(x) = 2 / (1 + exp(5x)) - 1; a detection outside
# windows costs A_FP * sigma(distance past the previous window / (its width - 1)), or
# -A_FP when no window precedes; each missed window costs A_FN. Scores are summed over
# the corpus and normalised per profile: null detector 0, perfect 100.
#
# Two thresholds per detector:
#  - fixed: chosen a priori, written in the detector's column name as NAME:THRESHOLD
#    (plain 0/1 flag columns use 0.5);
#  - nab-opt: NAB's optimiser, i.e. the threshold maximising the corpus score, chosen
#    separately for each profile (NAB sweeps every distinct score of the corpus from the
#    highest down, which is what this does; NAB's published scoreboard uses it).
# Usage: python3 nab_score.py NAB_DIR SCORES_DIR
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
    if x >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


MAX_TP = sigmoid(-1.0)


def parse_ts(s):
    s = s.split(".")[0]
    return datetime.strptime(s, "%Y-%m-%d %H:%M:%S")


def row_parts(windows, n, tp_w, fp_w, key):
    """For each scorable row: (window id or None, its weighted score if detected)."""
    prob = min(int(math.floor(0.15 * n)), 750)
    parts = [None] * n
    wi = 0
    prev_right = prev_width = None
    for i in range(n):
        while wi < len(windows) and windows[wi][1] < i:
            prev_right, prev_width = windows[wi][1], windows[wi][1] - windows[wi][0] + 1
            wi += 1
        if i < prob:
            continue
        if wi < len(windows) and windows[wi][0] <= i <= windows[wi][1]:
            left, right = windows[wi]
            pos = -(right - i + 1) / float(right - left + 1)
            parts[i] = ((key, wi), tp_w * sigmoid(pos) / MAX_TP)
        else:
            s = -1.0 if prev_right is None else sigmoid(abs(prev_right - i) / float(max(prev_width - 1, 1)))
            parts[i] = (None, fp_w * s)
    return parts


def score_at(rows, nwin, fn_w, thr):
    """Corpus score, true positives and false positives with detections at score >= thr."""
    best = {}
    fp_sum = 0.0
    fp = 0
    for sc, win, w in rows:
        if sc < thr:
            continue
        if win is None:
            fp_sum += w
            fp += 1
        elif win not in best or w > best[win]:
            best[win] = w
    return fp_sum + sum(best.values()) - fn_w * (nwin - len(best)), len(best), fp


def optimise(rows, nwin, fn_w):
    """NAB's optimiser: every distinct score as a threshold, from the highest down."""
    rows = sorted(rows, key=lambda r: r[0], reverse=True)
    best = {}
    total = -fn_w * nwin  # running corpus score: no detection yet
    top = (total, 1.1)
    i = 0
    while i < len(rows):
        thr = rows[i][0]
        while i < len(rows) and rows[i][0] == thr:
            _, win, w = rows[i]
            if win is None:
                total += w
            elif win not in best:
                best[win] = w
                total += w + fn_w
            elif w > best[win]:
                total += w - best[win]
                best[win] = w
            i += 1
        if total > top[0]:
            top = (total, thr)
    return top[1]


def main():
    nab, scoredir = sys.argv[1], sys.argv[2]
    windows = json.load(open(os.path.join(nab, "labels", "combined_windows.json")))
    files = sorted(windows)
    columns = None
    rows = {}  # (column, profile) -> [(score, window or None, weighted score)]
    days = 0.0
    nwin = 0
    scored = 0
    for rel in files:
        path = os.path.join(nab, "data", rel)
        spath = os.path.join(scoredir, rel.replace("/", "_"))
        if not os.path.exists(path) or not os.path.exists(spath):
            continue
        data = list(csv.DictReader(open(path)))
        ts = [parse_ts(r["timestamp"]) for r in data]
        n = len(ts)
        win = []
        for a, b in windows[rel]:
            ta, tb = parse_ts(a), parse_ts(b)
            idx = [i for i, t in enumerate(ts) if ta <= t <= tb]
            if idx:
                win.append((idx[0], idx[-1]))
        sr = list(csv.reader(open(spath)))
        head, body = sr[0], sr[1:]
        if len(body) != n:
            print(f"nab_score: {rel}: {len(body)} score rows for {n} data rows", file=sys.stderr)
            continue
        if columns is None:
            columns = head
        elif head != columns:
            print(f"nab_score: {rel}: other columns", file=sys.stderr)
            continue
        days += (ts[-1] - ts[0]).total_seconds() / 86400
        nwin += len(win)
        scored += 1
        for prof, (tw, fw, nw) in PROFILES.items():
            parts = row_parts(win, n, tw, fw, rel)
            for j, col in enumerate(columns):
                acc = rows.setdefault((col, prof), [])
                for i in range(n):
                    if parts[i] is not None:
                        acc.append((float(body[i][j]), parts[i][0], parts[i][1]))
    if columns is None:
        print("nab_score: no score files", file=sys.stderr)
        sys.exit(1)
    print(f"NAB corpus: {scored} of the {len(files)} labelled files present, {nwin} windows, {days:.0f} days; "
          "fixed = threshold chosen a priori, nab-opt = NAB's optimiser (best corpus score per profile)")
    w = max(22, max(len(c.partition(":")[0]) for c in columns))
    print(f"{'detector':<{w}} {'threshold':<9} {'standard':>9} {'low_FP':>9} {'low_FN':>9} "
          f"{'recall':>7} {'FP/day':>7}  thresholds (std/lowFP/lowFN)")
    for col in columns:
        name, _, fixed = col.partition(":")
        kinds = [("fixed", None)]
        if fixed:
            kinds.append(("nab-opt", "opt"))
        for kind, how in kinds:
            vals, thrs = [], []
            for prof, (tw, fw, nw) in PROFILES.items():
                r = rows[(col, prof)]
                thr = float(fixed) if (how is None and fixed) else 0.5 if how is None else optimise(r, nwin, nw)
                s, tp, fp = score_at(r, nwin, nw, thr)
                null, perfect = -nw * nwin, tw * nwin
                vals.append(100 * (s - null) / (perfect - null))
                thrs.append(thr)
                if prof == "standard":
                    recall, fpd = tp / max(nwin, 1), fp / days
            t = "/".join(f"{x:.4g}" for x in thrs) if how else f"{thrs[0]:.4g}"
            print(f"{name:<{w}} {kind:<9} {vals[0]:9.1f} {vals[1]:9.1f} {vals[2]:9.1f} {recall:7.3f} {fpd:7.2f}  {t}")
    print("published standard scores (NAB's optimiser, all 58 files): Numenta HTM 70.5, Random Cut Forest 51.7, "
          "Twitter ADVec 47.1, Windowed Gaussian 39.6, Etsy Skyline 35.7")


main()
