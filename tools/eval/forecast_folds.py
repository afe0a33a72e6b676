#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Per-machine fold tables for the load forecaster (tools/eval/forecast_folds.sh):
# pools the test rows of every fold (each machine is scored in exactly one
# fold, by a model that never saw it) and scores our forecaster and the simple
# baselines with the definitions of tools/eval/forecast_baselines.py, beside
# the time split when its export is given.
"""Usage: forecast_folds.py --out FILE.md [--json FILE.json] [--header TEXT]
       --dataset NAME=DIR:K [--dataset ...] [--time-split NAME=EXPORT.csv ...]

DIR holds foldF.csv (`nodescore-train eval --export` of fold F's left-out machines) and
foldF.test (their names, in the reader's order: series index i is line i+1), F = 0..K-1.
EXPORT.csv is the time split's export (tools/eval/forecast.sh: BUILD/eval-forecast/NAME.csv).
Only test rows (test=1) are read. MASE = per series MAE / MAE of persistence on the same
rows, averaged over series (series where persistence is exact are left out); active series:
CPU std over the training part >= 2 pp (as in the time split).
"""
import argparse
import json
import os
import sys
import time
import zlib

import numpy as np

SIMPLE = ["persistence", "seasonal_naive", "ewma"]
METHODS = SIMPLE + ["ours"]
SHORT = {"persistence": "P", "seasonal_naive": "S", "ewma": "E"}
BOOT = 2000


def log(level, msg):
    print(f"{level} eval_folds: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log("ERROR", msg)
    sys.exit(1)


def load_test_rows(path):
    """Test rows of an export: (sid, active, {col: array}) for y_ and method columns."""
    t0 = time.time()
    try:
        f = open(path)
    except OSError as e:
        die(f"{path}: {e.strerror}")
    with f:
        header = f.readline().rstrip("\n").split(",")
        if header[:4] != ["series", "active", "test", "ts_ms"]:
            die(f"{path}: not a nodescore-train eval --export file")
        want = [i for i, h in enumerate(header)
                if h.startswith("y_") or any(h.startswith(m + "_") for m in METHODS)]
        rows = []
        for ln, line in enumerate(f, 2):
            x = line.rstrip("\n").split(",")
            if len(x) != len(header):
                die(f"{path}:{ln}: {len(x)} fields, header has {len(header)}")
            if x[2] != "1":
                continue
            rows.append([x[0], x[1]] + [x[i] for i in want])
    if not rows:
        die(f"{path}: no test rows")
    a = np.array(rows, dtype=np.float64)
    cols = {header[i]: a[:, 2 + k] for k, i in enumerate(want)}
    log("INFO", f"loaded path={path} test_rows={len(a)} seconds={time.time() - t0:.1f}")
    return a[:, 0].astype(int), a[:, 1].astype(int), cols


def targets_of(cols):
    return [c[2:] for c in cols if c.startswith("y_")]


def per_series(sid, active, cols, t, names=None):
    """Per series: dict name -> {method: (sum_abs_err, sum_err, n_within, n_under), n, pers_sum, active}."""
    y = cols["y_" + t]
    pers = cols["persistence_" + t]
    out = {}
    for s in np.unique(sid):
        m = (sid == s)
        rec = {"active": bool(active[m][0])}
        ok = m & np.isfinite(y) & np.isfinite(pers)
        for meth in METHODS:
            p = cols[meth + "_" + t]
            k = ok & np.isfinite(p)
            e = p[k] - y[k]
            rec[meth] = {"abs": float(np.abs(e).sum()), "sum": float(e.sum()), "n": int(k.sum()),
                         "within": int((np.abs(e) <= 0.10).sum()), "under": int((e < 0).sum()),
                         "pabs": float(np.abs(pers[k] - y[k]).sum())}
        key = names[s] if names is not None else int(s)
        out[key] = rec
    return out


def cell(series, meth, only_active=True):
    """MASE (per-series mean), per-series ratios, MAE pp, within10 %, bias pp, under %."""
    ratios, keys = [], []
    tot = {"abs": 0.0, "sum": 0.0, "n": 0, "within": 0, "under": 0}
    for key, rec in series.items():
        if only_active and not rec["active"]:
            continue
        r = rec[meth]
        for k in tot:
            tot[k] += r[k]
        if r["n"] and r["pabs"] > 1e-9:
            ratios.append(r["abs"] / r["pabs"])
            keys.append(key)
    n = tot["n"]
    return {
        "mase": float(np.mean(ratios)) if ratios else float("nan"),
        "ratios": dict(zip(keys, ratios)),
        "nseries": len(ratios),
        "mae": 100 * tot["abs"] / n if n else float("nan"),
        "within": 100 * tot["within"] / n if n else float("nan"),
        "bias": 100 * tot["sum"] / n if n else float("nan"),
        "under": 100 * tot["under"] / n if n else float("nan"),
        "n": n,
    }


def compare(series, only_active=True, rng=None):
    """All methods' cells, the best simple baseline, ours - best (90 % bootstrap over series)."""
    c = {m: cell(series, m, only_active) for m in METHODS}
    simple = {m: c[m]["mase"] for m in SIMPLE}
    best = min(simple, key=lambda m: simple[m] if np.isfinite(simple[m]) else np.inf)
    keys = sorted(set(c["ours"]["ratios"]) & set(c[best]["ratios"]), key=str)
    d = np.array([c["ours"]["ratios"][k] - c[best]["ratios"][k] for k in keys])
    lo = hi = float("nan")
    if rng is not None and len(d) > 1:
        idx = rng.integers(0, len(d), size=(BOOT, len(d)))
        bm = d[idx].mean(axis=1)
        lo, hi = float(np.percentile(bm, 5)), float(np.percentile(bm, 95))
    won = int((d < 0).sum())
    return {"cells": c, "best": best, "diff": float(d.mean()) if len(d) else float("nan"),
            "ci": (lo, hi), "won": won, "paired": len(d)}


def rng_for(*key):
    """A bootstrap stream per table cell: the same figures whatever else is in the run."""
    return np.random.default_rng(zlib.crc32("/".join(key).encode()))


def fmt(x, d=3):
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def pretty(t):
    res, stat, h = t.split("_util_")[0], t.split("_")[2], t.split("_")[3]
    return ("CPU" if res == "cpu" else "memory"), stat, h


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="markdown file to write")
    ap.add_argument("--json", help="machine-readable summary to write")
    ap.add_argument("--header", default="", help="text placed above the tables")
    ap.add_argument("--dataset", action="append", default=[], help="NAME=DIR:K (fold exports)")
    ap.add_argument("--time-split", action="append", default=[], help="NAME=EXPORT.csv")
    a = ap.parse_args()
    if not a.dataset:
        die("no --dataset given (see --help)")
    ts_paths = {}
    for e in a.time_split:
        name, _, path = e.partition("=")
        if not path:
            die(f"--time-split {e}: expected NAME=CSV")
        ts_paths[name] = path
    summary = {}
    md = ["# Forecast evaluation on left-out machines (per-machine folds)\n", a.header, ""]
    md.append(
        "Protocol: per data set, K folds over the machines (machine i in fold i mod K). For each fold "
        "`nodescore-train forecast` trains on the first 70 % of every other machine, with the time "
        "split's options, and the last 30 % of the left-out machines is scored; each machine is scored "
        "once, by a model that never saw it. The pooled test rows are exactly the time split's "
        "test rows (same features, targets and baselines); only the model differs. MASE = per series "
        "MAE / MAE of persistence, averaged over active series (CPU std over the training part >= "
        "2 pp). Best simple = the lowest of persistence (P), seasonal naive (S) and EWMA (E) in that "
        "cell. ours - best: mean over series of the paired MASE difference, with a 90 % bootstrap "
        "interval over series; won = series where ours is below the best simple baseline.\n")
    for spec in a.dataset:
        name, _, rest = spec.partition("=")
        d, _, k = rest.rpartition(":")
        if not d or not k.isdigit():
            die(f"--dataset {spec}: expected NAME=DIR:K")
        k = int(k)
        folds, pooled = [], {}
        tgts = None
        for f in range(k):
            lst = os.path.join(d, f"fold{f}.test")
            try:
                with open(lst) as fh:
                    names = [x.strip() for x in fh if x.strip()]
            except OSError as e:
                die(f"{lst}: {e.strerror}")
            sid, act, cols = load_test_rows(os.path.join(d, f"fold{f}.csv"))
            if sid.max() >= len(names):
                die(f"{d}/fold{f}.csv: series index {sid.max()} but {len(names)} machines listed")
            t = targets_of(cols)
            if tgts is None:
                tgts = t
            elif t != tgts:
                die(f"{d}/fold{f}.csv: targets differ from fold 0")
            fs = {tt: per_series(sid, act, cols, tt, names) for tt in tgts}
            folds.append({"names": names, "series": fs,
                          "nactive": len({names[s] for s in np.unique(sid[act == 1])}),
                          "nscored": len(np.unique(sid))})
            for tt in tgts:
                for key, rec in fs[tt].items():
                    if key in pooled.setdefault(tt, {}):
                        die(f"machine {key} is scored in two folds")
                    pooled[tt][key] = rec
        ts = None
        if name in ts_paths:
            sid, act, cols = load_test_rows(ts_paths[name])
            if targets_of(cols) != tgts:
                die(f"{ts_paths[name]}: targets differ from the folds")
            ts = {tt: per_series(sid, act, cols, tt) for tt in tgts}
        res = {tt: compare(pooled[tt], True, rng_for(name, tt, "folds")) for tt in tgts}
        resall = {tt: compare(pooled[tt], False, None) for tt in tgts}
        tsres = {tt: compare(ts[tt], True, rng_for(name, tt, "time")) for tt in tgts} if ts else None
        tsall = {tt: compare(ts[tt], False, None) for tt in tgts} if ts else None
        nact = sum(f["nactive"] for f in folds)
        nsc = sum(f["nscored"] for f in folds)
        md.append(f"\n## {name}: {k} folds, {nsc} machines scored ({nact} active)\n")
        for stat in ("mean", "peak"):
            md.append(f"\n### MASE, {stat} over the next H, active series (lower is better)\n")
            hdr = "| resource | H | persistence | seasonal naive | EWMA | **ours, left-out machines** | ours <= best simple | ours - best (90 % CI) | won |"
            sep = "|---|---|---:|---:|---:|---:|---|---|---:|"
            if tsres:
                hdr += " ours, time split | best simple, time split | time split: ours <= best |"
                sep += "---:|---:|---|"
            md += [hdr, sep]
            for tt in tgts:
                res_, st, h = pretty(tt)
                if st != stat:
                    continue
                r = res[tt]
                c = r["cells"]
                best = c[r["best"]]["mase"]
                ok = "yes" if c["ours"]["mase"] <= best + 1e-9 else f"**no** (+{c['ours']['mase'] - best:.3f} vs {SHORT[r['best']]})"
                line = (f"| {res_} | {h} | " + " | ".join(fmt(c[m]["mase"]) for m in SIMPLE)
                        + f" | **{fmt(c['ours']['mase'])}** | {ok} | {r['diff']:+.3f} ({r['ci'][0]:+.3f} .. {r['ci'][1]:+.3f}) | {r['won']}/{r['paired']} |")
                if tsres:
                    q = tsres[tt]
                    qc = q["cells"]
                    qb = qc[q["best"]]["mase"]
                    line += (f" {fmt(qc['ours']['mase'])} | {fmt(qb)} ({SHORT[q['best']]}) | "
                             + ("yes" if qc["ours"]["mase"] <= qb + 1e-9 else f"no (+{qc['ours']['mase'] - qb:.3f})") + " |")
                md.append(line)
        md.append("\n### Accuracy (share of forecasts within +-10 pp), MAE, and peak bias, active series\n")
        md.append("| target | within10 persistence | within10 ours, left-out | within10 ours, time split | MAE persistence (pp) | MAE ours, left-out (pp) | peak bias ours (pp) | peaks under-predicted, ours |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for tt in tgts:
            c = res[tt]["cells"]
            tw = fmt(tsres[tt]["cells"]["ours"]["within"], 1) + " %" if tsres else "n/a"
            peak = "_peak_" in tt
            md.append(f"| {tt} | {fmt(c['persistence']['within'], 1)} % | {fmt(c['ours']['within'], 1)} % | {tw} | "
                      f"{fmt(c['persistence']['mae'], 2)} | {fmt(c['ours']['mae'], 2)} | "
                      f"{fmt(c['ours']['bias'], 2) if peak else '-'} | {fmt(c['ours']['under'], 1) + ' %' if peak else '-'} |")
        md.append("\n### MASE, mean over the next H, all series (idle included)\n")
        md.append("| target | persistence | seasonal naive | EWMA | ours, left-out | ours, time split |")
        md.append("|---|---:|---:|---:|---:|---:|")
        for tt in tgts:
            if "_mean_" not in tt:
                continue
            c = resall[tt]["cells"]
            md.append(f"| {tt} | " + " | ".join(fmt(c[m]["mase"]) for m in SIMPLE)
                      + f" | {fmt(c['ours']['mase'])} | {fmt(tsall[tt]['cells']['ours']['mase']) if tsall else 'n/a'} |")
        md.append("\n### Per fold: MASE of ours / best simple baseline (letter), mean over the next H, active series\n")
        means = [tt for tt in tgts if "_mean_" in tt]
        md.append("| fold | left-out machines | active | " + " | ".join(" ".join(pretty(tt)[::2]) for tt in means) + " |")
        md.append("|---|---|---:|" + "---|" * len(means))
        fold_json = []
        for f, fo in enumerate(folds):
            cells, fj = [], {}
            for tt in means:
                r = compare(fo["series"][tt], True, None)
                c = r["cells"]
                if not c["ours"]["nseries"]:
                    cells.append("-")
                    continue
                o, b = c["ours"]["mase"], c[r["best"]]["mase"]
                mark = "" if o <= b + 1e-9 else " **x**"
                cells.append(f"{fmt(o)} / {fmt(b)} {SHORT[r['best']]}{mark}")
                fj[tt] = {"ours": o, "best": r["best"], "best_mase": b}
            nm = fo["names"]
            shown = ", ".join(nm) if len(nm) <= 4 else f"{len(nm)} VMs: {', '.join(nm[:3])}, ..."
            md.append(f"| {f + 1} | {shown} | {fo['nactive']} | " + " | ".join(cells) + " |")
            fold_json.append({"machines": nm, "active": fo["nactive"], "cells": fj})
        if tsres:
            dev = max(abs(res[tt]["cells"][m]["mase"] - tsres[tt]["cells"][m]["mase"])
                      for tt in tgts for m in SIMPLE
                      if np.isfinite(res[tt]["cells"][m]["mase"]))
            md.append(f"\nConsistency: the baselines' MASE over the pooled folds equals the time split's "
                      f"(largest difference {dev:.2e}): same test rows, only the model differs.\n")
        summary[name] = {
            "folds": fold_json,
            "cells": {tt: {"mase": {m: res[tt]["cells"][m]["mase"] for m in METHODS},
                           "best_simple": res[tt]["best"], "diff": res[tt]["diff"], "ci90": res[tt]["ci"],
                           "won": res[tt]["won"], "paired": res[tt]["paired"],
                           "within10": {m: res[tt]["cells"][m]["within"] for m in METHODS},
                           "bias_pp": res[tt]["cells"]["ours"]["bias"],
                           "under_pct": res[tt]["cells"]["ours"]["under"],
                           "time_split": ({m: tsres[tt]["cells"][m]["mase"] for m in METHODS}
                                          if tsres else None)}
                      for tt in tgts},
        }
    text = "\n".join(md) + "\n"
    with open(a.out + ".tmp", "w") as fh:
        fh.write(text)
    os.replace(a.out + ".tmp", a.out)
    if a.json:
        with open(a.json + ".tmp", "w") as fh:
            json.dump(summary, fh, indent=1, sort_keys=True)
        os.replace(a.json + ".tmp", a.json)
    sys.stdout.write(text)
    log("SUCCESS", f"wrote {a.out}")


if __name__ == "__main__":
    main()
