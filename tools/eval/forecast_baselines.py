#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Forecast evaluation tables: Python XGBoost trained on the very feature rows
# that `nodescore-train eval --export` wrote, scored side by side with the C
# forecaster and the simple baselines carried in the same CSV.
"""Usage: forecast_baselines.py --out FILE.md NAME=EXPORT.csv [NAME=EXPORT.csv ...]

Each CSV: series,active,test,ts_ms,<features>,y_<target>...,persistence_<target>...,
seasonal_naive_<target>...,ewma_<target>...,ours_<target>... (targets like cpu_util_mean_1h).
Training rows (test=0) train Python XGBoost (XGBRegressor defaults: 100 trees, depth 6,
eta 0.3, hist, 1 thread, absolute target); test rows (test=1) score every method.
"""
import argparse
import sys
import time

import numpy as np
import xgboost as xgb

METHODS = ["persistence", "seasonal_naive", "ewma", "python_xgb", "ours"]
SIMPLE = ["persistence", "seasonal_naive", "ewma"]


def log(level, msg):
    print(f"{level} eval: {msg}", file=sys.stderr, flush=True)


def load(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    t0 = time.time()
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    if data.ndim != 2 or data.shape[1] != len(header):
        raise SystemExit(f"ERROR eval: {path}: expected {len(header)} columns")
    log("INFO", f"loaded path={path} rows={data.shape[0]} cols={data.shape[1]} seconds={time.time() - t0:.1f}")
    col = {h: i for i, h in enumerate(header)}
    prefixes = ("y_",) + tuple(m + "_" for m in METHODS)
    feats = [i for i, h in enumerate(header[4:], 4) if not h.startswith(prefixes)]
    targets = [h[2:] for h in header if h.startswith("y_")]
    return data, col, feats, targets


def scores(y, p, pers, sid):
    """MAE, MASE (per series mean of MAE/MAE_persistence), within 10 pp, bias, under share."""
    ok = np.isfinite(y) & np.isfinite(p) & np.isfinite(pers)
    y, p, pers, sid = y[ok], p[ok], pers[ok], sid[ok]
    if y.size == 0:
        return None
    e = p - y
    ratios = []
    for s in np.unique(sid):
        m = sid == s
        dp = np.abs(pers[m] - y[m]).sum()
        if dp > 1e-9:
            ratios.append(np.abs(e[m]).sum() / dp)
    return {
        "mae": 100 * np.abs(e).mean(),
        "mase": float(np.mean(ratios)) if ratios else float("nan"),
        "nseries": len(ratios),
        "within": 100 * (np.abs(e) <= 0.10).mean(),
        "bias": 100 * e.mean(),
        "under": 100 * (e < 0).mean(),
        "n": y.size,
    }


def python_xgb(data, col, feats, targets, train, test):
    preds, fit_s = {}, 0.0
    X_tr, X_te = data[train][:, feats], data[test][:, feats]
    models = []
    for t in targets:
        y = data[train][:, col["y_" + t]]
        ok = np.isfinite(y)
        t0 = time.time()
        m = xgb.XGBRegressor(tree_method="hist", n_jobs=1, random_state=1)
        m.fit(X_tr[ok], y[ok])
        fit_s += time.time() - t0
        preds[t] = m.predict(X_te)
        models.append(m)
        log("INFO", f"python xgboost fitted target={t} rows={int(ok.sum())}")
    # Per-sample latency: one row, every model, the way the agent would call it.
    row = X_te[:1]
    for m in models:
        m.get_booster().inplace_predict(row)
    reps = 200
    t0 = time.perf_counter()
    for i in range(reps):
        r = X_te[i % len(X_te)][None, :]
        for m in models:
            m.get_booster().inplace_predict(r)
    single_us = (time.perf_counter() - t0) / reps * 1e6
    t0 = time.perf_counter()
    for m in models:
        m.predict(X_te)
    batch_us = (time.perf_counter() - t0) / len(X_te) * 1e6
    return preds, fit_s, single_us, batch_us


def fmt(x, d=2):
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def report(name, path, out):
    data, col, feats, targets = load(path)
    test = data[:, col["test"]] == 1
    train = ~test
    sid = data[:, col["series"]]
    active = data[:, col["active"]] == 1
    pyx, fit_s, single_us, batch_us = python_xgb(data, col, feats, targets, train, test)
    nser = len(np.unique(sid))
    nact = len(np.unique(sid[active]))
    res = {}
    for subset, mask in (("active", active[test]), ("all", np.ones(test.sum(), bool)), ("idle", ~active[test])):
        for t in targets:
            y = data[test][:, col["y_" + t]][mask]
            pers = data[test][:, col["persistence_" + t]][mask]
            s = sid[test][mask]
            for m in METHODS:
                p = pyx[t][mask] if m == "python_xgb" else data[test][:, col[m + "_" + t]][mask]
                res[(subset, t, m)] = scores(y, p, pers, s)

    w = out.write
    w(f"\n## {name}\n\n")
    w(f"Series: {nser} ({nact} active: CPU std over the training part >= 2 pp; {nser - nact} idle). "
      f"Rows: {int(train.sum())} training, {int(test.sum())} test (time split per series: first 70 % train, "
      f"last 30 % test). Python XGBoost fit time {fit_s:.0f} s for {len(targets)} targets.\n\n")
    for subset in ("active", "all"):
        w(f"### MASE vs persistence, {subset} series (per-series mean of MAE / MAE of persistence; lower is better)\n\n")
        w("| target | " + " | ".join(METHODS) + " | ours <= best other |\n")
        w("|---|" + "---|" * (len(METHODS) + 1) + "\n")
        for t in targets:
            r = [res[(subset, t, m)] for m in METHODS]
            vals = [x["mase"] if x else float("nan") for x in r]
            best = np.nanmin(vals[:-1])
            ok = "yes" if vals[-1] <= best + 1e-9 else f"no (+{vals[-1] - best:.3f})"
            w(f"| {t} | " + " | ".join(fmt(v, 3) for v in vals) + f" | {ok} |\n")
        w("\n")
    w("### MAE (pp) and accuracy (share of forecasts within +-10 pp of the truth), active series\n\n")
    w("| target | MAE persistence | MAE python_xgb | MAE ours | within10 persistence | within10 python_xgb | within10 ours | within10 ours, idle series |\n")
    w("|---|---|---|---|---|---|---|---|\n")
    for t in targets:
        p, x, o = (res[("active", t, m)] for m in ("persistence", "python_xgb", "ours"))
        idle = res[("idle", t, "ours")]
        w(f"| {t} | {fmt(p['mae'])} | {fmt(x['mae'])} | {fmt(o['mae'])} | {fmt(p['within'], 1)} % | "
          f"{fmt(x['within'], 1)} % | {fmt(o['within'], 1)} % | {fmt(idle['within'], 1) + ' %' if idle else 'n/a'} |\n")
    w("\n### Peaks (max over the next H), active series: bias (pp, forecast - truth) and under-prediction share\n\n")
    w("| target | bias persistence | bias python_xgb | bias ours | under persistence | under python_xgb | under ours |\n")
    w("|---|---|---|---|---|---|---|\n")
    for t in targets:
        if "_peak_" not in t:
            continue
        p, x, o = (res[("active", t, m)] for m in ("persistence", "python_xgb", "ours"))
        w(f"| {t} | {fmt(p['bias'])} | {fmt(x['bias'])} | {fmt(o['bias'])} | {fmt(p['under'], 1)} % | "
          f"{fmt(x['under'], 1)} % | {fmt(o['under'], 1)} % |\n")
    w(f"\nPython XGBoost predict, same run: {single_us:.1f} us per sample for all {len(targets)} targets "
      f"(inplace_predict, one row per call), {batch_us:.2f} us per row in one batch call.\n")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="markdown file to write")
    ap.add_argument("--header", default="", help="text placed above the tables")
    ap.add_argument("exports", nargs="+", help="NAME=CSV from nodescore-train eval --export")
    a = ap.parse_args()
    with open(a.out + ".tmp", "w") as out:
        out.write("# Forecast evaluation\n\n" + a.header + "\n")
        for e in a.exports:
            name, _, path = e.partition("=")
            if not path:
                raise SystemExit("ERROR eval: exports are NAME=CSV")
            report(name, path, out)
    import os
    os.replace(a.out + ".tmp", a.out)
    with open(a.out) as f:
        sys.stdout.write(f.read())


if __name__ == "__main__":
    main()
