# Prepares the 5-minute resource series for the forecasting benchmark: one value per
# line (NA for gaps), 2880 steps (7 training days + 3 one-day origins), from the shared
# data read in place: NAB realAWSCloudwatch, Azure V1 VM cpu, Bitbrains Rnd VMs.
# Usage: python3 prep.py DATA_DIR OUT_DIR AZURE_VMS BITBRAINS_VMS
import csv
import gzip
import os
import sys
from datetime import datetime, timezone

STEPS = 2880


def regular(times, values, step=300):
    """Values on a regular grid from the first time; duplicates averaged, holes NA."""
    t0 = times[0]
    grid = {}
    for t, v in zip(times, values):
        k = int(round((t - t0) / step))
        grid.setdefault(k, []).append(v)
    n = max(grid) + 1
    return [sum(grid[k]) / len(grid[k]) if k in grid else None for k in range(n)]


def write(out, name, vals):
    vals = vals[:STEPS]
    if len(vals) < STEPS:
        return False
    with open(os.path.join(out, name), "w") as f:
        for v in vals:
            f.write("NA\n" if v is None else f"{v:.6g}\n")
    return True


def main():
    data, out, naz, nbb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    names = []
    nab = os.path.join(data, "nab", "data", "realAWSCloudwatch")
    for fn in sorted(os.listdir(nab)):
        with open(os.path.join(nab, fn)) as f:
            rows = list(csv.DictReader(f))
        ts = [datetime.strptime(r["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp() for r in rows]
        steps = sorted(b - a for a, b in zip(ts, ts[1:]))
        if not steps or abs(steps[len(steps) // 2] - 300) > 1:
            continue  # not a 5-minute series
        vals = regular(ts, [float(r["value"]) for r in rows])
        name = "nab_" + fn.replace(".csv", ".txt")
        if write(out, name, vals):
            names.append(name)
    with open(os.path.join(data, "azure-v1-vm-cpu", "microsoft_avg_100.csv")) as f:
        r = csv.reader(f)
        head = next(r)
        cols = [[] for _ in range(naz)]
        for row in r:
            for j in range(naz):
                cols[j].append(float(row[j + 1]))
    for j in range(naz):
        name = f"azure_{head[j + 1]}.txt"
        if write(out, name, cols[j]):
            names.append(name)
    bb = os.path.join(data, "traces", "bitbrains_gwa_t12_rnd_2013-7", "vms")
    for vm in range(1, nbb + 1):
        with gzip.open(os.path.join(bb, f"{vm}.csv.gz"), "rt") as f:
            next(f)
            rows = [[float(x) for x in line.split(";")] for line in f if line.strip()]
        ts = [r[0] for r in rows]
        for col, label in ((4, "cpu"), (6, "mem"), (9, "netrx")):
            vals = regular(ts, [r[col] for r in rows])
            name = f"bitbrains_{vm}_{label}.txt"
            if write(out, name, vals):
                names.append(name)
    with open(os.path.join(out, "list.txt"), "w") as f:
        for n in names:
            f.write(os.path.join(out, n) + "\n")
    print(f"prep: {len(names)} series in {out}", file=sys.stderr)


main()
