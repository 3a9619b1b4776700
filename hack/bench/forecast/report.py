# Turns the benchmark's CSV lines (ours and the references') into the tables of
# `make bench-forecast`, with ratios against the references measured in the same run.
# Usage: python3 report.py RESULTS.csv
import math
import sys
from collections import defaultdict

OURS = ["auto", "ets", "hw", "arima", "snaive"]
NAIVE2_PUBLISHED = (18.383, 2.395)


def num(s):
    """A finite float, else None (a zero MASE scale on a flat training window gives inf)."""
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def fmt(x, w=8, p=3):
    return f"{x:{w}.{p}f}" if x is not None else f"{'-':>{w}}"


def m4_table(rows):
    by = defaultdict(dict)
    for r in rows:
        by[r[2]][r[1]] = r
    methods = [m for m in OURS + ["naive2", "r_ets", "r_hw", "r_arima", "r_stlf", "sm_es"] if m in by]
    if not methods:
        return
    print("\nM4 Hourly (h = 48, m = 24): means over the series each method ran on")
    base = by.get("naive2", {})
    print(f"{'method':<8} {'series':>6} {'sMAPE':>8} {'MASE':>8} {'OWA':>8} {'cov80':>7} {'cov95':>7} {'fit s':>9} "
          f"{'auto/ref MASE':>13} {'ref fit/auto fit':>16}")
    for m in methods:
        ser = [s for s, r in by[m].items() if r[3] != "NA"]
        sm = mean([num(by[m][s][3]) for s in ser])
        ms = mean([num(by[m][s][4]) for s in ser])
        common = [s for s in ser if s in base and base[s][3] != "NA"]
        owa = None
        if common:
            n2s = mean([num(base[s][3]) for s in common])
            n2m = mean([num(base[s][4]) for s in common])
            s1 = mean([num(by[m][s][3]) for s in common])
            m1 = mean([num(by[m][s][4]) for s in common])
            owa = 0.5 * (s1 / n2s + m1 / n2m)
        c80 = mean([num(by[m][s][6]) for s in ser])
        c95 = mean([num(by[m][s][7]) for s in ser])
        fit = mean([num(by[m][s][5]) for s in ser])
        ratio = speed = None
        if m not in OURS and "auto" in by:
            both = [s for s in ser if s in by["auto"] and by["auto"][s][3] != "NA"]
            if both:
                ratio = mean([num(by["auto"][s][4]) for s in both]) / mean([num(by[m][s][4]) for s in both])
                fa = mean([num(by["auto"][s][5]) for s in both])
                fr = mean([num(by[m][s][5]) for s in both])
                speed = fr / fa if fa else None
        print(f"{m:<8} {len(ser):6d} {fmt(sm)} {fmt(ms)} {fmt(owa)} {fmt(c80, 7)} {fmt(c95, 7)} {fmt(fit, 9, 4)} "
              f"{fmt(ratio, 13)} {fmt(speed, 16, 1)}")
    pairs = [("ets", "r_ets"), ("hw", "r_hw"), ("arima", "r_arima"), ("ets", "sm_es"), ("auto", "r_ets")]
    print("\nfit time, like for like, on the series both ran on (ratio > 1: ours faster):")
    print(f"{'ours':<8} {'reference':<9} {'series':>6} {'ours s':>9} {'ref s':>9} {'ref/ours':>9}")
    for a, b in pairs:
        if a not in by or b not in by:
            continue
        both = [s for s in by[a] if s in by[b] and num(by[a][s][5]) is not None and num(by[b][s][5]) is not None
                and by[b][s][3] != "NA"]
        if not both:
            continue
        fa = mean([num(by[a][s][5]) for s in both])
        fb = mean([num(by[b][s][5]) for s in both])
        print(f"{a:<8} {b:<9} {len(both):6d} {fmt(fa, 9, 4)} {fmt(fb, 9, 4)} {fmt(fb / fa if fa else None, 9, 1)}")
    print("OWA is relative to Naive2 computed on the same series (equal to the published 18.383 / 2.395 on all 414).")
    print("Published M4 Hourly OWA: seasonal naive 0.627, best entry (Doornik) 0.410.")


def res_table(rows):
    by = defaultdict(dict)
    for r in rows:
        by[r[3]][(r[1], r[2])] = r
    methods = [m for m in OURS + ["r_hw", "r_stlf", "r_farima", "sm_es"] if m in by]
    if not methods:
        return
    print("\n5-minute resource series (m = 288; train 7 days, 3 daily origins, h = 288): means over series x origins")
    print(f"{'method':<9} {'runs':>5} {'MASE 1h':>8} {'MASE 24h':>8} {'cov80':>6} {'cov95':>6} {'fit s':>8} "
          f"{'upd ns':>8} {'state B':>8}")
    for m in methods:
        keys = [k for k, r in by[m].items() if num(r[4]) is not None and num(r[5]) is not None]
        g = lambda i: mean([num(by[m][k][i]) for k in keys])  # noqa: E731
        print(f"{m:<9} {len(keys):5d} {fmt(g(4))} {fmt(g(5))} {fmt(g(8), 6)} {fmt(g(9), 6)} {fmt(g(10), 8, 4)} "
              f"{fmt(g(11), 8, 1)} {fmt(g(12), 8, 0)}")
    if "auto" in by:
        print("\nauto against each reference on the runs both completed (ratios < 1: auto better / faster):")
        print(f"{'reference':<9} {'runs':>5} {'MASE 1h':>8} {'MASE 24h':>8} {'fit time ref/auto':>18}")
        for m in methods:
            if m in OURS:
                continue
            keys = [k for k in by[m] if num(by[m][k][5]) is not None and k in by["auto"]
                    and num(by["auto"][k][5]) is not None and num(by[m][k][4]) is not None
                    and num(by["auto"][k][4]) is not None]
            if not keys:
                continue
            r1 = mean([num(by["auto"][k][4]) for k in keys]) / mean([num(by[m][k][4]) for k in keys])
            r2 = mean([num(by["auto"][k][5]) for k in keys]) / mean([num(by[m][k][5]) for k in keys])
            sp = mean([num(by[m][k][10]) for k in keys]) / mean([num(by["auto"][k][10]) for k in keys])
            print(f"{m:<9} {len(keys):5d} {fmt(r1)} {fmt(r2)} {fmt(sp, 18, 2)}")
    pairs = [("hw", "r_hw"), ("hw", "sm_es"), ("arima", "r_farima"), ("auto", "r_stlf")]
    print("\nfit time, like for like, on the runs both completed (ratio > 1: ours faster):")
    print(f"{'ours':<8} {'reference':<9} {'runs':>5} {'ours s':>9} {'ref s':>9} {'ref/ours':>9}")
    for a, b in pairs:
        if a not in by or b not in by:
            continue
        keys = [k for k in by[b] if k in by[a] and num(by[a][k][10]) is not None and num(by[b][k][10]) is not None
                and num(by[b][k][5]) is not None]
        if not keys:
            continue
        fa = mean([num(by[a][k][10]) for k in keys])
        fb = mean([num(by[b][k][10]) for k in keys])
        print(f"{a:<8} {b:<9} {len(keys):5d} {fmt(fa, 9, 4)} {fmt(fb, 9, 4)} {fmt(fb / fa if fa else None, 9, 1)}")


def main():
    rows = [l.rstrip("\n").split(",") for l in open(sys.argv[1]) if l.count(",") >= 8]
    m4_table([r for r in rows if r[0] == "m4"])
    res_table([r for r in rows if r[0] == "res"])


main()
