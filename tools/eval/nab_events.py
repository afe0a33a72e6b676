#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Event view of nodescore-nab output at the agent's operating point (the
# hysteresis flag, column "flag"): an onset is a 0 -> 1 transition after the
# probationary rows. Event precision = onsets inside a labelled window / all
# onsets; window recall = windows (after probation) holding at least one onset.
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description="event precision / window recall of the flag")
    ap.add_argument("--results", required=True, help="<results>/<detector> folder")
    ap.add_argument("--detector", default="nodescore")
    ap.add_argument("--labels", default="../shared/data/nab/labels/combined_windows.json")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    labels = json.load(open(a.labels))
    onsets = inside = wins = hit = files = 0
    for rel, windows in sorted(labels.items()):
        corpus, name = rel.split("/")
        path = os.path.join(a.results, corpus, "%s_%s" % (a.detector, name))
        if not os.path.exists(path):
            continue
        files += 1
        rows = open(path).read().splitlines()
        head = rows[0].split(",")
        fi, ti = head.index("flag"), head.index("timestamp")
        ts = [r.split(",")[ti] for r in rows[1:]]
        flag = [int(r.split(",")[fi]) for r in rows[1:]]
        prob = min(int(0.15 * len(ts)), 750)
        span = [(w[0][:19], w[1][:19]) for w in windows]
        on = [i for i in range(max(prob, 1), len(ts)) if flag[i] and not flag[i - 1]]
        onsets += len(on)
        inside += sum(1 for i in on if any(lo <= ts[i] <= hi for lo, hi in span))
        for lo, hi in span:
            if hi < ts[prob]:
                continue  # window entirely in probation: NAB does not score it either
            wins += 1
            hit += any(lo <= ts[i] <= hi for i in on)
    if not files:
        print("ERROR nab-events: no result files under %s" % a.results, file=sys.stderr)
        return 1
    prec = 100.0 * inside / onsets if onsets else 0.0
    rec = 100.0 * hit / wins if wins else 0.0
    if a.markdown:
        print("| files | flag onsets | onsets in a window | event precision | windows | windows with an onset | window recall |")
        print("|---|---|---|---|---|---|---|")
        print("| %d | %d | %d | %.1f %% | %d | %d | %.1f %% |" % (files, onsets, inside, prec, wins, hit, rec))
    else:
        print("events files=%d onsets=%d inside=%d precision=%.1f%% windows=%d hit=%d recall=%.1f%%"
              % (files, onsets, inside, prec, wins, hit, rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
