#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints the demo ranking: a /prioritize reply, with this machine's own
measured values from the agent's /metrics next to it."""
import json
import sys


def main():
    prio_path, prom_path, node = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        with open(prio_path) as f:
            prio = json.load(f)
    except (OSError, ValueError) as e:
        print(f"ERROR demo: cannot read /prioritize reply: {e}")
        return 1
    if not isinstance(prio, list):
        print(f"ERROR demo: /prioritize replied {prio!r}")
        return 1
    ranked = sorted(prio, key=lambda h: (-h["Score"], h["Host"]))
    print()
    print(f"/prioritize for {len(ranked)} nodes (kube-scheduler extender v1, score 0..10):")
    print(f"  {'rank':>4}  {'node':<28} score")
    pos = None
    for i, h in enumerate(ranked):
        if h["Host"] == node:
            pos = i
        if i < 10 or h["Host"] == node:
            mark = "  <- this machine, measured by nodescore-agent" if h["Host"] == node else ""
            print(f"  {i + 1:>4}  {h['Host']:<28} {h['Score']:>5}{mark}")
    if pos is None:
        print(f"  (this machine {node} is not in the reply)")
    vals = {}
    try:
        with open(prom_path) as f:
            for line in f:
                if line.startswith("nodescore_") and not line.startswith("#"):
                    k, _, v = line.rpartition(" ")
                    vals[k] = v.strip()
    except OSError:
        pass
    keys = [k for k in vals if k.startswith("nodescore_node_") or k.startswith("nodescore_agent_score")
            or "mode" in k]
    if keys:
        print(f"\nthis machine ({node}), from the agent's /metrics:")
        for k in sorted(keys)[:40]:
            print(f"  {k} {vals[k]}")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
