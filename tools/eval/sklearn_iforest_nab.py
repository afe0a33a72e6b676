#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Baseline for tools/eval/nab.sh: scikit-learn IsolationForest on NAB, fitted
# once per file on its probationary rows (first 15 %, at most 750, the rows
# NAB never scores) on the raw value, then scoring every row; no look-ahead.
# Writes <out>/<corpus>/sklearn_iforest_<name>.csv (timestamp,value,anomaly_score).
import argparse
import os
import sys

import numpy as np
from sklearn.ensemble import IsolationForest


def main():
    ap = argparse.ArgumentParser(description="scikit-learn IsolationForest NAB baseline")
    ap.add_argument("--data", default="../shared/data/nab/data")
    ap.add_argument("--out", required=True, help="results folder for this detector")
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        print("ERROR sklearn-nab: data folder not found path=%s" % a.data, file=sys.stderr)
        return 2
    n_files = 0
    for corpus in sorted(os.listdir(a.data)):
        cdir = os.path.join(a.data, corpus)
        if not os.path.isdir(cdir):
            continue
        for name in sorted(os.listdir(cdir)):
            if not name.endswith(".csv"):
                continue
            with open(os.path.join(cdir, name)) as fp:
                lines = fp.read().splitlines()
            if not lines or lines[0] != "timestamp,value":
                print("ERROR sklearn-nab: bad header path=%s/%s" % (corpus, name), file=sys.stderr)
                return 1
            ts = [l.split(",")[0] for l in lines[1:]]
            x = np.array([float(l.split(",")[1]) for l in lines[1:]]).reshape(-1, 1)
            prob = min(int(0.15 * len(x)), 750)
            f = IsolationForest(n_estimators=100, max_samples=min(256, prob), random_state=42)
            f.fit(x[:prob])
            s = -f.score_samples(x)  # the paper's s in (0, 1]
            os.makedirs(os.path.join(a.out, corpus), exist_ok=True)
            with open(os.path.join(a.out, corpus, "sklearn_iforest_" + name), "w") as fp:
                fp.write("timestamp,value,anomaly_score\n")
                for t, v, sc in zip(ts, x[:, 0], s):
                    fp.write("%s,%.9g,%.6f\n" % (t, v, sc))
            n_files += 1
    print("INFO sklearn-nab: done files=%d" % n_files, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
