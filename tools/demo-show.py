#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints what `make demo` shows, from what the real components answer:

  show   the ranking with each node's score broken down (the extender's
         status page, table id="nodes"), the /prioritize reply next to it,
         and how this machine's own score is made (the agent's /metrics);
  line   one line about this machine (the load phase prints one a second);
  alert  the NodeAnomaly notification the webhook received, if any.

No value is printed as NaN: what is not known is "n/a (why)"."""
import argparse
import html.parser
import json
import math
import os
import re
import sys

# Default agent weights (--weights 0.7,0,0.3): the demo starts the agent so.
W_HEADROOM, W_Q, W_ANOMALY = 0.7, 0.0, 0.3


class Rows(html.parser.HTMLParser):
    """Cells of the status page's <table id="nodes">: header and rows as text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.header, self.rows = [], []
        self.row = None
        self.cell = None
        self.span = 1

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "nodes":
            self.inside = True
        elif self.inside and tag == "tr":
            self.row = []
        elif self.inside and tag in ("td", "th") and self.row is not None:
            self.cell = []
            try:
                self.span = max(1, int(a.get("colspan", "1")))
            except ValueError:
                self.span = 1

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag in ("td", "th") and self.cell is not None:
            text = " ".join("".join(self.cell).split())
            self.row.extend([text] * self.span)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if not self.header:
                self.header = self.row
            else:
                self.rows.append(dict(zip(self.header, self.row)))
            self.row = None
        elif tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def status_rows(path):
    p = Rows()
    with open(path, encoding="utf-8", errors="replace") as f:
        p.feed(f.read())
    return p.rows


def prio_scores(path):
    try:
        with open(path) as f:
            prio = json.load(f)
    except (OSError, ValueError) as e:
        return None, f"cannot read the /prioritize reply: {e}"
    if not isinstance(prio, list):
        return None, f"/prioritize replied {str(prio)[:200]!r}"
    return {h["Host"]: h["Score"] for h in prio}, None


LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def agent_metrics(path):
    """{(name, frozenset(labels without node)): float}; NaN kept as NaN."""
    vals = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.startswith("nodescore_"):
                    continue
                key, _, v = line.strip().rpartition(" ")
                name, _, labels = key.partition("{")
                lab = frozenset((k, x) for k, x in LABEL.findall(labels) if k != "node")
                try:
                    vals[(name, lab)] = float(v)
                except ValueError:
                    pass
    except OSError:
        pass
    return vals


def m(vals, name, **labels):
    return vals.get((name, frozenset(labels.items())), math.nan)


def na(v, why, fmt="{:.3f}"):
    return f"n/a ({why})" if v is None or math.isnan(v) else fmt.format(v)


def pct(v):
    return "n/a" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def cut(s, n):
    return s if len(s) <= n else s[: n - 3] + "..."


def fmt_row(rank, r, prio, mark=""):
    return (f"  {rank:>4}  {cut(r.get('node', '?'), 24):<24} {prio:>4} {r.get('score', '?'):>5}  "
            f"{r.get('cpu now', '?'):>6} {r.get('cpu peak (forecast)', '?'):>6}  "
            f"{r.get('mem now', '?'):>6} {r.get('mem peak (forecast)', '?'):>6}  "
            f"{r.get('headroom at peak', '?'):>6}  {cut(r.get('anomaly', '?'), 14):<14} "
            f"{r.get('flags and reasons', '?')}{mark}")


def find(rows, node):
    for i, r in enumerate(rows):
        if r.get("node") == node:
            return i, r
    return None, None


def explain_machine(vals, node):
    """How the agent made this machine's score, in numbers and words."""
    out = []
    if not vals:
        return [f"  (the agent's /metrics could not be read)"]
    cpu = m(vals, "nodescore_node_cpu_util")
    mem = m(vals, "nodescore_node_mem_util")
    ncpu = m(vals, "nodescore_node_ncpu")
    load1 = m(vals, "nodescore_node_load1")
    score = m(vals, "nodescore_agent_score")
    head = m(vals, "nodescore_agent_headroom")
    pres = m(vals, "nodescore_agent_pressure")
    an = m(vals, "nodescore_agent_anomaly_score")
    cpk = m(vals, "nodescore_agent_cpu_peak_forecast")
    mpk = m(vals, "nodescore_agent_mem_peak_forecast")
    fc_cpu = next((v for (n, lab), v in vals.items()
                   if n == "nodescore_agent_forecast_peak" and ("resource", "cpu") in lab), math.nan)
    an_raw = m(vals, "nodescore_agent_anomaly_raw_score")
    flag = {f: m(vals, "nodescore_agent_flag", flag=f) for f in
            ("anomaly", "degraded", "model_fallback", "draining")}
    top = [dict(lab).get("feature") for (n, lab) in vals if n == "nodescore_agent_anomaly_top_feature"]
    cpu_why = ("first sample: CPU use is the difference of two /proc/stat reads, "
               "the second comes one --interval later")
    out.append(f"  measured now: cpu {na(cpu, cpu_why, '{:.1%}')} of {na(ncpu, 'unknown', '{:.0f}')} CPUs"
               f" (load1 {na(load1, 'unknown', '{:.2f}')}), memory {na(mem, 'not measured', '{:.1%}')}")
    fc_note = ("forecast model" if not math.isnan(fc_cpu)
               else "no forecast yet, so peak = now (model fallback)")
    out.append(f"  forecast peak (1 h): cpu {pct(cpk)}, memory {pct(mpk)} ({fc_note}; never below now)")
    out.append(f"  PSI pressure penalty {na(pres, 'unknown', '{:.2f}')} (max of cpu/memory/io 'some' avg10 / 100:"
               f" time tasks waited for a resource)")
    out.append(f"  headroom = 0.5 x (1 - cpu peak) + 0.5 x (1 - memory peak) - pressure, in 0..1 = "
               f"{na(head, 'unknown', '{:.3f}')}")
    if math.isnan(an_raw):
        an_txt = "n/a (detector not ready: its first step comes after --anomaly-step), counted as 0"
    else:
        an_txt = f"{an:.3f}" + (" FLAGGED" if flag["anomaly"] == 1 else ", not flagged")
        if top:
            an_txt += f" (top feature {top[0]})"
    out.append(f"  anomaly score {an_txt}")
    if not (math.isnan(head) or math.isnan(an) or math.isnan(score)):
        expect = 1000 * max(0.0, min(1.0, W_HEADROOM * head + W_Q * head + W_ANOMALY * (1 - an)))
        line = (f"  score = 1000 x (0.7 x headroom + 0.3 x (1 - anomaly)) = 1000 x (0.7 x {head:.3f} "
                f"+ 0.3 x {1 - an:.3f}) = {expect:.0f}; the agent published {score:.0f}")
        if flag["degraded"] == 1 and abs(expect - score) > 2:
            line += " (degraded: CPU or memory unmeasured gives the neutral 500)"
        out.append(line)
    reasons = []
    if flag["anomaly"] == 1:
        reasons.append("anomaly: the detector flagged this node, /filter removes it")
    if flag["degraded"] == 1:
        bad = sorted(dict(lab).get("source", "?") for (n, lab), v in vals.items()
                     if n == "nodescore_agent_source_healthy" and v == 0)
        why = {"pods": "pods: no kubepods cgroup, this machine is not a Kubernetes node"}
        txt = "; ".join(why.get(b, b) for b in bad) or "a sampler is failing"
        if math.isnan(cpu) or math.isnan(mem):
            txt += "; CPU or memory not measured, so the score is the neutral 500"
        else:
            txt += "; CPU and memory are measured, so the score is still computed"
        reasons.append("degraded (" + txt + ")")
    if flag["model_fallback"] == 1:
        why = []
        if math.isnan(fc_cpu):
            why.append("no forecast yet (needs a measured CPU sample)")
        if math.isnan(an_raw):
            why.append("anomaly detector not ready")
        reasons.append("model_fallback: " + (", ".join(why) or "a model output is missing")
                       + "; the heuristic stands in")
    if flag["draining"] == 1:
        reasons.append("draining")
    out.append("  flags: " + ("; ".join(reasons) if reasons else "none"))
    pods = m(vals, "nodescore_node_pods")
    if math.isnan(pods):
        out.append("  pods: n/a (no kubepods cgroup here: this machine is not a Kubernetes node)")
    return out


def machine_state(vals):
    return {"headroom": m(vals, "nodescore_agent_headroom"),
            "pressure": m(vals, "nodescore_agent_pressure"),
            "cpu_util": m(vals, "nodescore_node_cpu_util")}


def state_of(rows, prio, node):
    i, r = find(rows, node)
    if r is None:
        return None
    return {"rank": i + 1, "of": len(rows), "score": int(r.get("score", "0") or 0),
            "prio": (prio or {}).get(node), "cpu": r.get("cpu now", "?"),
            "flags": r.get("flags and reasons", "")}


def cmd_show(a):
    rows = status_rows(a.status)
    prio, err = prio_scores(a.prio)
    if err:
        print(f"ERROR demo: {err}")
        return 1
    print()
    print(f"== {a.label}: {len(rows)} nodes, ranked by score (0..1000, from each node's agent); "
          f"prio = the real /prioritize reply (0..10) ==")
    print(f"  {'rank':>4}  {'node':<24} {'prio':>4} {'score':>5}  {'cpu':>6} {'peak':>6}  {'mem':>6} "
          f"{'peak':>6}  {'headrm':>6}  {'anomaly':<14} flags and reasons")
    me, _ = find(rows, a.node)
    shown = set(range(min(a.top, len(rows)))) | {len(rows) - 1}
    if me is not None:
        shown |= {i for i in (me - 1, me, me + 1) if 0 <= i < len(rows)}
    last = -1
    for i in sorted(shown):
        if i > last + 1:
            print("   ...")
        r = rows[i]
        mark = "   <- this machine" if r.get("node") == a.node else ""
        p = (prio or {}).get(r.get("node"))
        print(fmt_row(i + 1, r, "-" if p is None else p, mark))
        last = i
    if me is None:
        print(f"  (this machine {a.node} is not in the extender's table yet)")
    print("  headrm = headroom at the forecast peak, 100% - max(cpu peak, mem peak);"
          " prio spreads the scores of the candidates linearly: best 10, worst 0")
    print(f"\nthis machine ({a.node}): how the agent made its score")
    vals = agent_metrics(a.agent)
    for line in explain_machine(vals, a.node):
        print(line)
    st = state_of(rows, prio, a.node)
    if st:
        # NaN is not JSON: unknown values are stored as null.
        st.update({k: (None if math.isnan(v) else v) for k, v in machine_state(vals).items()})
    if a.state and st:
        with open(a.state, "w") as f:
            json.dump(st, f)
    if a.compare and st:
        try:
            with open(a.compare) as f:
                b = json.load(f)
            print(f"\nRESULT {a.label}: this machine rank {b['rank']} -> {st['rank']} of {st['of']}, "
                  f"score {b['score']} -> {st['score']}, prio {b['prio']} -> {st['prio']}, "
                  f"cpu now {b['cpu']} -> {st['cpu']}")
            h = b.get("headroom")
            if h is not None and h < 0.05:
                print(f"NOTE demo: this machine was already saturated before the burner (cpu "
                      f"{pct(b.get('cpu_util') or math.nan)}, PSI pressure {b.get('pressure') or 0:.2f}, "
                      f"headroom {h:.2f}): its score was already at the floor, 1000 x 0.3 x "
                      f"(1 - anomaly), so the burner cannot lower it. On an idle machine the CPU "
                      f"share of headroom alone is worth 350 points (1000 x 0.7 x 0.5), and the PSI "
                      f"penalty takes more.")
        except (OSError, ValueError, KeyError):
            pass
    print()
    return 0


def cmd_line(a):
    rows = status_rows(a.status)
    prio, _ = prio_scores(a.prio)
    st = state_of(rows, prio, a.node)
    if not st:
        print(f"  {a.prefix} {a.node}: not in the table")
        return 0
    print(f"  {a.prefix} {a.node}: rank {st['rank']:>2} of {st['of']}, score {st['score']:>4}, "
          f"prio {st['prio'] if st['prio'] is not None else '-':>2}, cpu now {st['cpu']:>6}, "
          f"{cut(st['flags'], 70)}")
    if a.state:
        with open(a.state, "w") as f:
            json.dump(st, f)
    return 0


def cmd_alert(a):
    """Exit 0 and print the alert when a webhook body holds a firing
    NodeAnomaly for the node."""
    try:
        names = sorted(os.listdir(a.dir))
    except OSError:
        return 1
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(a.dir, name)) as f:
                body = json.load(f)
        except (OSError, ValueError):
            continue
        for al in body.get("alerts", []):
            lab = al.get("labels", {})
            if (al.get("status") == a.status and lab.get("alertname") == "NodeAnomaly"
                    and lab.get("node") == a.node):
                keys = ("alertname", "node", "severity", "feature")
                print("  " + " ".join(f"{k}={lab.get(k, '-')}" for k in keys)
                      + f" status={a.status} top_feature="
                      + al.get("annotations", {}).get("top_feature", "-"))
                return 0
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show")
    s.add_argument("--status", required=True)
    s.add_argument("--prio", required=True)
    s.add_argument("--agent", required=True)
    s.add_argument("--node", required=True)
    s.add_argument("--label", default="ranking")
    s.add_argument("--top", type=int, default=8)
    s.add_argument("--state")
    s.add_argument("--compare")
    s = sub.add_parser("line")
    s.add_argument("--status", required=True)
    s.add_argument("--prio", required=True)
    s.add_argument("--node", required=True)
    s.add_argument("--prefix", default="")
    s.add_argument("--state")
    s = sub.add_parser("alert")
    s.add_argument("dir")
    s.add_argument("node")
    s.add_argument("--status", default="firing")
    a = ap.parse_args()
    return {"show": cmd_show, "line": cmd_line, "alert": cmd_alert}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
