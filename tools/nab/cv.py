#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Leave-one-corpus-out cross-validation of nodescore-nab runs (docs/anomaly-cv.md).
#
# Input: --runs DIR holding one folder per grid point and seed, named
# g<gate>_m<margin>_ts<tail season>_s<seed>, each a nodescore-nab results tree
# (<run>/nodescore/<corpus>/nodescore_<name>.csv) with a "done" marker.
#
# Per seed and fold (one corpus left out; the two artificial corpora form one
# fold, because artificialNoAnomaly has no windows and so no normalised score
# of its own): the grid point and the output threshold are both chosen on the
# other corpora by NAB standard raw score (NAB's optimiser: best total, ties to
# the higher threshold; grid ties to the first grid point), then the left-out
# corpus is scored at that fixed threshold. Left-out per-corpus scores are
# normalised on the corpus (null = no detection = -windows, perfect =
# +windows); the overall left-out figure sums the raw scores of all folds and
# normalises on all 51 files, like NAB's own total.
#
# Scoring is ../shared/tools/nab_score.py's own code (imported, not copied).
# Event precision / window recall use tools/eval/nab_events.py's rule.
#
# The one generalisation idea tried (--budget): a per-series detection budget.
# An output detection (severity >= the detector threshold, output >= 1/3) that
# comes when the series already had B detections in the last D rows only counts
# if its severity exceeds every one of them; otherwise its output is set to 0
# and it does not count either. Causal: uses only earlier rows of the same
# series. B and D are chosen by the same protocol (off is one of the choices).
import argparse
import importlib.util
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDS = [("realAWSCloudwatch", ["realAWSCloudwatch"]),
         ("realAdExchange", ["realAdExchange"]),
         ("realTraffic", ["realTraffic"]),
         ("realTweets", ["realTweets"]),
         ("artificial", ["artificialNoAnomaly", "artificialWithAnomaly"])]
STD = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}
PROFILES = {"standard": STD,
            "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22},
            "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11}}
DEFAULT = ("0.98", "1.25", "3")   # nodescore-nab's shipped gate, margin, tail season
PUBLISHED = ["random", "null", "randomCutForest", "knncad", "numenta"]
PR_THRESHOLDS = [3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 60]


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def parse_run_name(name):
    g, m, ts, s = name.split("_")
    return g[1:], m[1:], ts[2:], s[1:]


def read_result(path):
    """anomaly_score, severity, flag columns of one nodescore-nab result CSV."""
    with open(path) as fh:
        head = fh.readline().strip().split(",")
        ia, isv, ifl = head.index("anomaly_score"), head.index("severity"), head.index("flag")
        a, sv, fl = [], [], []
        for line in fh:
            c = line.split(",", ifl + 1)
            a.append(float(c[ia]))
            sv.append(float(c[isv]))
            fl.append(int(c[ifl]))
    return np.array(a), np.array(sv), np.array(fl, dtype=np.int8)


def load_run(rundir, rels):
    cache = os.path.join(rundir, "cols.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return {r: (z["a_" + r], z["s_" + r], z["f_" + r]) for r in rels}
    out, flat = {}, {}
    for r in rels:
        corpus, name = r.split("/")
        out[r] = read_result(os.path.join(rundir, "nodescore", corpus, "nodescore_" + name))
        flat["a_" + r], flat["s_" + r], flat["f_" + r] = out[r]
    np.savez(cache, **flat)
    return out


def budget(out, sev, spec):
    """Per-series detection budget (see the header); spec "B@D", "0" = off."""
    if spec == "0":
        return out
    b, d = (int(x) for x in spec.split("@"))
    out = out.copy()
    det = []          # (row, severity) of counted detections
    for i in np.flatnonzero(out >= 1.0 / 3.0):
        det = [x for x in det if i - x[0] <= d]
        if len(det) >= b and sev[i] <= max(s for _, s in det):
            out[i] = 0.0
            continue
        det.append((i, sev[i]))
    return out


class Scorer:
    def __init__(self, ns, data, labels):
        self.ns = ns
        lab = json.load(open(labels))
        # a NAB folder may hold only some corpora: score what is there
        self.rels = sorted(r for r in lab if os.path.exists(os.path.join(data, r)))
        self.missing = len(lab) - len(self.rels)
        self.files = {}
        self.ts = {}
        self.windows = {}
        for r in self.rels:
            ts = ns.read_data_timestamps(os.path.join(data, r))
            self.ts[r] = ts
            self.files[r] = ns.LabelledFile(r, ts, lab[r], ns.PROBATION_PERCENT)
            self.windows[r] = [(w[0][:19], w[1][:19]) for w in lab[r]]

    def corpus_of(self, rels):
        return self.ns.Corpus([self.files[r] for r in rels])

    def optimise(self, rels, scores, w=STD):
        c = self.corpus_of(rels)
        s = np.concatenate([scores[r][self.files[r].start:] for r in rels])
        return c.optimise(s, w)

    def at(self, rels, scores, thr, w=STD):
        rows = [self.ns.score_file_at(self.files[r], scores[r][self.files[r].start:], thr, w)
                for r in rels]
        raw = sum(x["score"] for x in rows)
        return raw, sum(x["FP"] for x in rows), sum(x["windows_detected"] for x in rows)

    def norm(self, rels, raw, w=STD):
        c = self.corpus_of(rels)
        return self.ns.normalise(raw, c.null_score(w), c.perfect_score(w))


def published(data_root, scorer, fold_rels):
    """Published per-file NAB scores (threshold from NAB's own 58-file optimisation)."""
    res = {}
    for det in PUBLISHED:
        p = os.path.join(data_root, "results", det, "%s_standard_scores.csv" % det)
        if not os.path.exists(p):
            continue
        per = {}
        for line in open(p).read().splitlines()[1:]:
            c = line.split(",")
            per[c[2]] = float(c[4])
        # Some per-file files list only part of the corpora: n/a where a file is missing.
        row = {f: scorer.norm(rels, sum(per[r] for r in rels)) if all(r in per for r in rels) else None
               for f, rels in fold_rels.items()}
        row["overall"] = (scorer.norm(scorer.rels, sum(per[r] for r in scorer.rels))
                          if all(r in per for r in scorer.rels) else None)
        res[det] = row
    return res


def event_files(scorer, rels, run):
    return [(scorer.ts[r], list(run[r][2]), list(run[r][1]), scorer.windows[r]) for r in rels]


def main():
    ap = argparse.ArgumentParser(description="leave-one-corpus-out CV of nodescore-nab runs")
    ap.add_argument("--data", default="../shared/data/nab")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--seeds", default="42")
    ap.add_argument("--scorer", default="../shared/tools/nab_score.py")
    ap.add_argument("--budgets", default="1@288,2@288,1@2016,3@2016",
                    help="B@D choices of the budget idea (B detections in D rows; off is always a choice)")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    ap.add_argument("--pr-data", help="write the precision/recall curve (gnuplot data)")
    a = ap.parse_args()

    ns = load_module("nab_score", a.scorer)
    ev = load_module("nab_events", os.path.join(HERE, "..", "eval", "nab_events.py"))
    sc = Scorer(ns, os.path.join(a.data, "data"), os.path.join(a.data, "labels", "combined_windows.json"))
    fold_rels = {f: [r for r in sc.rels if r.split("/")[0] in cs] for f, cs in FOLDS}
    assert sum(len(v) for v in fold_rels.values()) == len(sc.rels), "a corpus is in no fold"
    fold_rels = {f: v for f, v in fold_rels.items() if v}
    if sc.missing:
        print("WARNING nab-cv: labelled files not in the data folder skipped files=%d folds=%s"
              % (sc.missing, ",".join(fold_rels)), file=sys.stderr)
    if len(fold_rels) < 2:
        print("ERROR nab-cv: leave-one-corpus-out needs two corpora with labelled files, found %d"
              % len(fold_rels), file=sys.stderr)
        return 1
    seeds = a.seeds.split()
    runs = {}
    for name in sorted(os.listdir(a.runs)):
        if not os.path.exists(os.path.join(a.runs, name, "done")):
            continue
        g, m, ts, s = parse_run_name(name)
        if s in seeds:
            runs[(g, m, ts, s)] = os.path.join(a.runs, name)
    grid = sorted({k[:3] for k in runs}, key=lambda k: tuple(float(x) for x in k))
    grid = [p for p in grid if all(p + (s,) in runs for s in seeds)]
    if not grid:
        print("ERROR nab-cv: no complete grid point under %s" % a.runs, file=sys.stderr)
        return 1
    budgets = ["0"] + [x for x in a.budgets.split(",") if x]
    print("INFO nab-cv: %d grid points x %d seeds, folds %s" % (len(grid), len(seeds), ", ".join(fold_rels)),
          file=sys.stderr)

    # scores[(point, seed, b)] = {rel: output}; runs loaded once
    cols, scores = {}, {}
    for p in grid:
        for s in seeds:
            cols[p + (s,)] = load_run(runs[p + (s,)], sc.rels)
            for b in budgets:
                scores[(p, s, b)] = {r: budget(cols[p + (s,)][r][0], cols[p + (s,)][r][1], b)
                                     for r in sc.rels}

    def cv(seed, choices, w=STD):
        """choices: list of (point, b). Returns per-fold rows and the overall left-out score."""
        rows, raw_total = {}, 0.0
        for f, test in fold_rels.items():
            train = [r for r in sc.rels if r not in test]
            best = None
            for p, b in choices:
                thr, raw = sc.optimise(train, scores[(p, seed, b)], w)
                if best is None or raw > best[0]:
                    best = (raw, p, b, thr)
            _, p, b, thr = best
            raw, fp, hit = sc.at(test, scores[(p, seed, b)], thr, w)
            raw_total += raw
            rows[f] = {"point": p, "budget": b, "threshold": thr, "raw": raw, "FP": fp,
                       "windows_detected": hit, "windows": sc.corpus_of(test).n_windows,
                       "score": sc.norm(test, raw, w),
                       "train_score": sc.norm(train, best[0], w)}
        return rows, sc.norm(sc.rels, raw_total, w)

    def insample(seed, p, b="0", w=STD):
        thr, raw = sc.optimise(sc.rels, scores[(p, seed, b)], w)
        per = {f: sc.norm(rels, sc.at(rels, scores[(p, seed, b)], thr, w)[0], w)
               for f, rels in fold_rels.items()}
        return sc.norm(sc.rels, raw, w), thr, per

    # NAB's random detector, re-made here (uniform scores, numpy seed 0) and put
    # through the same protocol: output threshold chosen on the other corpora.
    rng = np.random.default_rng(0)
    rnd = {r: rng.random(sc.files[r].n) for r in sc.rels}
    scores[(("random",), "-", "0")] = rnd
    rnd_rows, rnd_overall = None, None

    report = {"grid": grid, "seeds": seeds, "folds": {f: len(r) for f, r in fold_rels.items()},
              "per_seed": {}, "published": published(a.data, sc, fold_rels)}
    base = [(p, "0") for p in grid]
    idea = [(p, b) for p in grid for b in budgets]
    rnd_rows, rnd_overall = cv("-", [(("random",), "0")])
    thr, raw = sc.optimise(sc.rels, rnd)
    report["random_loco"] = {f: rnd_rows[f]["score"] for f in fold_rels}
    report["random_loco"]["overall"] = rnd_overall
    report["random_insample"] = {f: sc.norm(rels, sc.at(rels, rnd, thr)[0]) for f, rels in fold_rels.items()}
    report["random_insample"]["overall"] = sc.norm(sc.rels, raw)
    for s in seeds:
        r = {}
        r["loco"], r["loco_overall"] = cv(s, base)
        r["loco_budget"], r["loco_budget_overall"] = cv(s, idea)
        # The other two NAB profiles: grid point and threshold chosen by that profile's score.
        r["profiles"] = {}
        for pn, w in PROFILES.items():
            rows_p, ov = cv(s, base, w)
            r["profiles"][pn] = {"loco": ov, "loco_per": {f: rows_p[f]["score"] for f in fold_rels},
                                 "insample_default": insample(s, DEFAULT, "0", w)[0] if DEFAULT in grid
                                 else None}
        r["insample_grid"] = {"_".join(p): insample(s, p)[0] for p in grid}
        bestp = max(grid, key=lambda p: r["insample_grid"]["_".join(p)])
        r["insample_best"] = {"point": bestp, "score": insample(s, bestp)[0], "per": insample(s, bestp)[2]}
        if DEFAULT in grid:
            sd, thr, per = insample(s, DEFAULT)
            r["insample_default"] = {"score": sd, "threshold": thr, "per": per}
        r["insample_budget"] = {str(b): max(insample(s, p, b)[0] for p in grid) for b in budgets}
        # Events at the agent operating point (flag column: severity >= 5 for 2, clear after 12)
        # on each left-out corpus with that fold's chosen point, pooled; and a PR curve.
        evrows, pooled = {}, []
        for f, test in fold_rels.items():
            p = r["loco"][f]["point"]
            files = event_files(sc, test, cols[p + (s,)])
            pooled += files
            o, i, prec, w, h, rec = ev.events(files)
            evrows[f] = {"onsets": o, "inside": i, "precision": prec, "windows": w, "hit": h, "recall": rec}
        o, i, prec, w, h, rec = ev.events(pooled)
        evrows["all left-out"] = {"onsets": o, "inside": i, "precision": prec, "windows": w, "hit": h,
                                  "recall": rec}
        r["events"] = evrows
        curve = []
        ins = event_files(sc, sc.rels, cols[DEFAULT + (s,)]) if DEFAULT in grid else None
        for t in PR_THRESHOLDS:
            o, i, prec, w, h, rec = ev.events(pooled, (t, 2, 12, 0))
            pt = {"threshold": t, "onsets": o, "inside": i, "precision": prec, "recall": rec}
            if ins is not None:
                o2, i2, p2, w2, h2, r2 = ev.events(ins, (t, 2, 12, 0))
                pt.update({"in_onsets": o2, "in_precision": p2, "in_recall": r2})
            curve.append(pt)
        r["pr_curve"] = curve
        report["per_seed"][s] = r

    if a.pr_data:
        with open(a.pr_data, "w") as fh:
            fh.write("# threshold left_out_recall left_out_precision in_sample_recall in_sample_precision"
                     " (mean over seeds %s; enter_k 2, leave_m 12)\n" % " ".join(seeds))
            for k, t in enumerate(PR_THRESHOLDS):
                pts = [report["per_seed"][s]["pr_curve"][k] for s in seeds]
                mean = lambda key: sum(x.get(key, float("nan")) for x in pts) / len(pts)
                fh.write("%g %.2f %.2f %.2f %.2f\n" % (t, mean("recall"), mean("precision"),
                                                        mean("in_recall"), mean("in_precision")))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(report, fh, indent=1, default=str)
    md = markdown(report, fold_rels, seeds)
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write(md)
    print(md)
    return 0


def f2(x):
    return "n/a" if x is None else "%.2f" % x


def markdown(rep, fold_rels, seeds):
    L = []
    folds = list(fold_rels)
    n = len(seeds)
    ps = rep["per_seed"]

    def mean(fn):
        return sum(fn(ps[s]) for s in seeds) / n

    L.append("Grid: %d points (gate x tail margin x seasonal tail) x output threshold; seeds %s."
             % (len(rep["grid"]), ", ".join(seeds)))
    L.append("")
    L.append("| | " + " | ".join(folds) + " | overall |")
    L.append("|---|" + "---:|" * (len(folds) + 1))
    L.append("| windows | " + " | ".join(str(ps[seeds[0]]["loco"][f]["windows"]) for f in folds) + " | %d |"
             % sum(ps[seeds[0]]["loco"][f]["windows"] for f in folds))
    for s in seeds:
        L.append("| left-out, seed %s | " % s + " | ".join(f2(ps[s]["loco"][f]["score"]) for f in folds)
                 + " | %s |" % f2(ps[s]["loco_overall"]))
    L.append("| **left-out, mean** | " + " | ".join("**%.2f**" % mean(lambda r: r["loco"][f]["score"])
                                                   for f in folds)
             + " | **%.2f** |" % mean(lambda r: r["loco_overall"]))
    if all("insample_default" in ps[s] for s in seeds):
        L.append("| in-sample, shipped NAB parameters (0.98 / 1.25 / 3), mean | "
                 + " | ".join("%.2f" % mean(lambda r: r["insample_default"]["per"][f]) for f in folds)
                 + " | %.2f |" % mean(lambda r: r["insample_default"]["score"]))
    L.append("| in-sample, best grid point per seed, mean | "
             + " | ".join("%.2f" % mean(lambda r: r["insample_best"]["per"][f]) for f in folds)
             + " | %.2f |" % mean(lambda r: r["insample_best"]["score"]))
    L.append("| idea: per-series budget chosen by the same protocol, left-out mean | "
             + " | ".join("%.2f" % mean(lambda r: r["loco_budget"][f]["score"]) for f in folds)
             + " | %.2f |" % mean(lambda r: r["loco_budget_overall"]))
    L.append("| random detector (uniform scores, this run), left-out | "
             + " | ".join(f2(rep["random_loco"][f]) for f in folds) + " | %s |" % f2(rep["random_loco"]["overall"]))
    L.append("| random detector (this run), in-sample threshold | "
             + " | ".join(f2(rep["random_insample"][f]) for f in folds)
             + " | %s |" % f2(rep["random_insample"]["overall"]))
    for det, row in rep["published"].items():
        L.append("| %s (published, NAB's 58-file threshold) | " % det
                 + " | ".join(f2(row[f]) for f in folds) + " | %s |" % f2(row["overall"]))
    L.append("")
    L.append("All three NAB profiles (grid point and threshold chosen by that profile on the other"
             " corpora), overall, mean of seeds:")
    L.append("")
    L.append("| profile | left-out | " + " | ".join(folds) + " | in-sample, shipped NAB parameters |")
    L.append("|---|---:|" + "---:|" * len(folds) + "---:|")
    for pn in PROFILES:
        ins = [ps[s]["profiles"][pn]["insample_default"] for s in seeds]
        L.append("| %s | %.2f | " % (pn, mean(lambda r: r["profiles"][pn]["loco"]))
                 + " | ".join("%.2f" % mean(lambda r: r["profiles"][pn]["loco_per"][f]) for f in folds)
                 + " | %s |" % ("n/a" if None in ins else "%.2f" % (sum(ins) / n)))
    L.append("")
    L.append("Chosen on the training corpora (gate / tail margin / tail season, output threshold, budget):")
    L.append("")
    L.append("| fold | " + " | ".join("seed %s" % s for s in seeds) + " |")
    L.append("|---|" + "---|" * n)
    for f in folds:
        L.append("| %s | " % f + " | ".join(
            "%s, %.3f (train %.1f; with idea: %s, budget %s)" % (
                " / ".join(ps[s]["loco"][f]["point"]), ps[s]["loco"][f]["threshold"],
                ps[s]["loco"][f]["train_score"], " / ".join(ps[s]["loco_budget"][f]["point"]),
                ps[s]["loco_budget"][f]["budget"]) for s in seeds) + " |")
    L.append("")
    L.append("Per-series budget, in-sample best over the grid, mean of seeds: "
             + ", ".join("%s %.2f" % (b, mean(lambda r: r["insample_budget"][b]))
                         for b in ps[seeds[0]]["insample_budget"]))
    L.append("")
    L.append("Flag events at the agent operating point (severity >= 5 for 2 samples, clear after 12) on the"
             " left-out corpora, each with its fold's chosen parameters:")
    L.append("")
    L.append("| corpus | " + " | ".join("seed %s onsets / in window / precision / windows hit / recall" % s
                                         for s in seeds) + " |")
    L.append("|---|" + "---|" * n)
    for f in folds + ["all left-out"]:
        L.append("| %s | " % f + " | ".join(
            "%d / %d / %.1f %% / %d of %d / %.1f %%" % (
                e["onsets"], e["inside"], e["precision"], e["hit"], e["windows"], e["recall"])
            for e in (ps[s]["events"][f] for s in seeds)) + " |")
    L.append("")
    L.append("Precision / recall over the flag threshold (enter_k 2, leave_m 12), pooled left-out"
             " corpora vs in-sample (shipped NAB parameters, all files); mean of seeds:")
    L.append("")
    L.append("| severity threshold | left-out onsets | left-out precision | left-out recall |"
             " in-sample precision | in-sample recall |")
    L.append("|---:|---:|---:|---:|---:|---:|")
    for k, pt in enumerate(ps[seeds[0]]["pr_curve"]):
        m = lambda key: sum(ps[s]["pr_curve"][k].get(key, float("nan")) for s in seeds) / n
        L.append("| %g | %.0f | %.1f %% | %.1f %% | %.1f %% | %.1f %% |" % (
            pt["threshold"], m("onsets"), m("precision"), m("recall"), m("in_precision"), m("in_recall")))
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
