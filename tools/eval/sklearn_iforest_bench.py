#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# scikit-learn IsolationForest speed, same shapes as nodescore-iforestbench:
# standard-normal training rows, 100 trees, max_samples 256, one sample per
# call and batches of 1,000, process CPU time (the machine is shared).
# Prints one parseable line.
import argparse
import time

import numpy as np
from sklearn.ensemble import IsolationForest


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--singles", type=int, default=300, help="single-sample calls to time")
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    X = rng.normal(size=(a.rows, a.features)).astype(np.float32)
    Q = (rng.normal(size=(1000, a.features)) * 1.5).astype(np.float32)
    t0 = time.process_time()
    f = IsolationForest(n_estimators=100, max_samples=256, random_state=42).fit(X)
    t_train = time.process_time() - t0
    f.score_samples(Q[:1])  # warm-up
    t0 = time.process_time()
    for i in range(a.singles):
        f.score_samples(Q[i % 1000:i % 1000 + 1])
    t_single = (time.process_time() - t0) / a.singles
    reps = 5
    t0 = time.process_time()
    for _ in range(reps):
        f.score_samples(Q)
    t_batch = (time.process_time() - t0) / (reps * 1000)
    print("sklearn features=%d trees=100 psi=256 train_ms=%.2f single_us=%.3f batch1000_us_per_sample=%.3f (cpu time)"
          % (a.features, t_train * 1e3, t_single * 1e6, t_batch * 1e6))


if __name__ == "__main__":
    main()
