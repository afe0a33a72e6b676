#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Event view of nodescore-nab output at the agent's operating point (the
# hysteresis flag, column "flag"): an onset is a 0 -> 1 transition after the
# probationary rows. Event precision = onsets inside a labelled window / all
# onsets; window recall = windows (after probation) holding at least one onset.
#
# --threshold/--enter-k/--leave-m/--onset-rearm re-derive the flag from the
# "severity" column with another operating point (same rule as
# lib/anomaly.c, plus an optional minimum gap between two onsets); --sweep
# tries a grid of them and prints the best precision at each recall floor.
import argparse
import itertools
import json
import os
import sys


def load(a):
    labels = json.load(open(a.labels))
    files = []
    for rel, windows in sorted(labels.items()):
        corpus, name = rel.split("/")
        path = os.path.join(a.results, corpus, "%s_%s" % (a.detector, name))
        if not os.path.exists(path):
            continue
        rows = open(path).read().splitlines()
        head = rows[0].split(",")
        fi, ti, si = head.index("flag"), head.index("timestamp"), head.index("severity")
        cols = [r.split(",") for r in rows[1:]]
        files.append(([c[ti] for c in cols], [int(c[fi]) for c in cols],
                      [float(c[si]) for c in cols], [(w[0][:19], w[1][:19]) for w in windows]))
    return files


def flags_from(sev, th, k, m, gap):
    """The detector's hysteresis on severity; an onset needs gap ticks since the last one."""
    out, flag, orun, urun, last = [], 0, 0, 0, -10**9
    for i, s in enumerate(sev):
        if s >= th:
            urun, orun = 0, orun + 1
            if not flag and orun >= k and i - last >= gap:
                flag, last = 1, i
        else:
            orun, urun = 0, urun + 1
            if flag and urun >= m:
                flag = 0
        out.append(flag)
    return out


def events(files, op=None):
    onsets = inside = wins = hit = 0
    for ts, flag, sev, span in files:
        if op is not None:
            flag = flags_from(sev, *op)
        prob = min(int(0.15 * len(ts)), 750)
        on = [i for i in range(max(prob, 1), len(ts)) if flag[i] and not flag[i - 1]]
        onsets += len(on)
        inside += sum(1 for i in on if any(lo <= ts[i] <= hi for lo, hi in span))
        for lo, hi in span:
            if hi < ts[prob]:
                continue  # window entirely in probation: NAB does not score it either
            wins += 1
            hit += any(lo <= ts[i] <= hi for i in on)
    prec = 100.0 * inside / onsets if onsets else 0.0
    rec = 100.0 * hit / wins if wins else 0.0
    return onsets, inside, prec, wins, hit, rec


def main():
    ap = argparse.ArgumentParser(description="event precision / window recall of the flag")
    ap.add_argument("--results", required=True, help="<results>/<detector> folder")
    ap.add_argument("--detector", default="nodescore")
    ap.add_argument("--labels", default="../shared/data/nab/labels/combined_windows.json")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--threshold", type=float, help="re-derive the flag: severity threshold")
    ap.add_argument("--enter-k", type=int, default=2)
    ap.add_argument("--leave-m", type=int, default=12)
    ap.add_argument("--onset-rearm", type=int, default=0, help="min ticks between two onsets")
    ap.add_argument("--sweep", action="store_true", help="grid of operating points")
    a = ap.parse_args()
    files = load(a)
    if not files:
        print("ERROR nab-events: no result files under %s" % a.results, file=sys.stderr)
        return 1
    if a.sweep:
        grid = []
        for op in itertools.product([5, 8, 12, 20, 30], [1, 2, 3, 6], [12, 72], [0, 288, 1000, 3000]):
            o, i, p, w, h, r = events(files, op)
            grid.append((p, r, op, o))
        print("| window recall at least | best event precision | threshold, enter_k, leave_m, onset rearm | onsets |")
        print("|---|---|---|---|")
        for floor in (60, 40, 20, 5):
            ok = [g for g in grid if g[1] >= floor]
            if ok:
                p, r, op, o = max(ok)
                print("| %d %% | %.1f %% (recall %.1f %%) | %s | %d |" % (floor, p, r, ", ".join(str(x) for x in op), o))
        return 0
    op = None if a.threshold is None else (a.threshold, a.enter_k, a.leave_m, a.onset_rearm)
    onsets, inside, prec, wins, hit, rec = events(files, op)
    if a.markdown:
        print("| files | flag onsets | onsets in a window | event precision | windows | windows with an onset | window recall |")
        print("|---|---|---|---|---|---|---|")
        print("| %d | %d | %d | %.1f %% | %d | %d | %.1f %% |" % (len(files), onsets, inside, prec, wins, hit, rec))
    else:
        print("events files=%d onsets=%d inside=%d precision=%.1f%% windows=%d hit=%d recall=%.1f%%"
              % (len(files), onsets, inside, prec, wins, hit, rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
