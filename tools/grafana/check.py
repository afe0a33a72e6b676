#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks daemonset/grafana-dashboard.json (tests/grafana_itest.sh).

  check.py structure FILE
      The JSON parses; schemaVersion >= 38 (Grafana 10 and 11); a
      datasource variable DS_PROMETHEUS of type prometheus and a query
      variable `node` from label_values(..., node) on it; panel ids unique;
      every panel but a row has gridPos, a datasource and at least one
      target with an expr and a unique refId; no datasource anywhere names a
      fixed uid (only ${DS_PROMETHEUS}); no expr uses an unknown variable.

  check.py queries FILE PROM_URL NODE [--finite]
      Runs every target's expr as an instant query against PROM_URL
      (/api/v1/query) with $node / ${node} replaced by NODE (a regex, as
      Grafana's "All" gives .*) and $__rate_interval / $__interval /
      $__range by 15s. A target passes when the answer holds at least one
      series (with --finite: at least one value that is not NaN or Inf).
      Also checks the node variable: /api/v1/label/node/values with its
      label_values metric as match[] must be non-empty. One PASS/FAIL line
      per target, the panel title first.

  check.py expr FILE TITLE REFID NODE
      Prints that target's expr with the same substitutions (for value
      checks in tests); exit 1 when there is no such target.

Exit status: 0 all passed, 1 something failed, 2 usage or I/O error.
"""
import json
import math
import re
import sys
import urllib.parse
import urllib.request

DS_VAR = "DS_PROMETHEUS"
DS_REFS = ("${%s}" % DS_VAR, "$%s" % DS_VAR)
MIN_SCHEMA = 38  # Grafana 10.0; 10.4 and 11 write 39
KNOWN_VARS = {"node", "__rate_interval", "__interval", "__range", DS_VAR}
PANEL_TYPES = {"timeseries", "state-timeline", "table", "stat", "bargauge", "gauge"}
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
LV_RE = re.compile(r"^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s*,\s*node\s*\)\s*$")


def panels_of(dash):
    """Every panel, rows' nested panels (collapsed rows) included."""
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []) or [])
    return out


def datasource_problems(obj, where, errs):
    """Any "datasource" in the tree must be the variable, never a fixed uid."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "datasource":
                if isinstance(v, dict):
                    uid = v.get("uid")
                    if uid not in DS_REFS:
                        errs.append("%s: hard-coded datasource uid %r (use ${%s})" % (where, uid, DS_VAR))
                elif v not in DS_REFS:
                    errs.append("%s: hard-coded datasource %r (use ${%s})" % (where, v, DS_VAR))
            else:
                datasource_problems(v, where, errs)
    elif isinstance(obj, list):
        for v in obj:
            datasource_problems(v, where, errs)


def node_query(dash):
    for v in dash.get("templating", {}).get("list", []):
        if v.get("name") == "node":
            q = v.get("query")
            return q.get("query", "") if isinstance(q, dict) else (q or "")
    return ""


def structure(dash):
    errs = []
    if not isinstance(dash, dict):
        return ["top level is not an object"]
    for k in ("title", "uid", "panels", "templating", "schemaVersion"):
        if k not in dash:
            errs.append("missing top-level %r" % k)
    sv = dash.get("schemaVersion")
    if not isinstance(sv, int) or sv < MIN_SCHEMA:
        errs.append("schemaVersion %r < %d (Grafana 10)" % (sv, MIN_SCHEMA))
    if "__inputs" in dash:
        errs.append("__inputs present: use the DS_PROMETHEUS datasource variable instead")

    tv = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = tv.get(DS_VAR)
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errs.append("no datasource variable %s of type prometheus" % DS_VAR)
    nv = tv.get("node")
    if not nv or nv.get("type") != "query":
        errs.append("no query variable 'node'")
    else:
        if not LV_RE.match(node_query(dash)):
            errs.append("variable node: query %r is not label_values(METRIC, node)" % node_query(dash))
        if (nv.get("datasource") or {}).get("uid") not in DS_REFS:
            errs.append("variable node: datasource is not ${%s}" % DS_VAR)
        if nv.get("includeAll") and nv.get("allValue") != ".*":
            errs.append("variable node: includeAll without allValue .*")
    datasource_problems(dash.get("templating", {}), "templating", errs)
    datasource_problems(dash.get("annotations", {}), "annotations", errs)

    seen = {}
    n = 0
    for p in panels_of(dash):
        pid = p.get("id")
        title = p.get("title") or "?"
        where = "panel %r (id %r)" % (title, pid)
        if not isinstance(pid, int):
            errs.append("%s: id is not an integer" % where)
        elif pid in seen:
            errs.append("%s: id %d also used by panel %r" % (where, pid, seen[pid]))
        else:
            seen[pid] = title
        gp = p.get("gridPos") or {}
        if not all(isinstance(gp.get(k), int) for k in ("h", "w", "x", "y")) or gp.get("x", 0) + gp.get("w", 0) > 24:
            errs.append("%s: bad gridPos %r" % (where, gp))
        datasource_problems(p, where, errs)
        if p.get("type") == "row":
            continue
        n += 1
        if p.get("type") not in PANEL_TYPES:
            errs.append("%s: panel type %r" % (where, p.get("type")))
        if not isinstance(p.get("datasource"), dict):
            errs.append("%s: no datasource" % where)
        targets = p.get("targets") or []
        if not targets:
            errs.append("%s: no targets" % where)
        refs = set()
        for t in targets:
            expr = (t.get("expr") or "").strip()
            if not expr:
                errs.append("%s: target %r without expr" % (where, t.get("refId")))
            if t.get("refId") in refs or not t.get("refId"):
                errs.append("%s: refId %r missing or repeated" % (where, t.get("refId")))
            refs.add(t.get("refId"))
            for m in VAR_RE.finditer(expr):
                name = m.group(1) or m.group(2)
                if name not in KNOWN_VARS:
                    errs.append("%s: target %s uses unknown variable $%s" % (where, t.get("refId"), name))
    if n == 0:
        errs.append("no panels")
    return errs


def substitute(expr, node, step="15s"):
    def rep(m):
        name = m.group(1) or m.group(2)
        if name == "node":
            return node
        if name in ("__rate_interval", "__interval", "__range"):
            return step
        return m.group(0)
    return VAR_RE.sub(rep, expr)


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def finite(v):
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def queries(dash, prom, node, need_finite):
    ok = True
    base = prom.rstrip("/")
    m = LV_RE.match(node_query(dash))
    if m:
        match = m.group(1) + (m.group(2) or "")
        try:
            vals = get(base + "/api/v1/label/node/values?" + urllib.parse.urlencode({"match[]": match}))["data"]
        except Exception as e:  # noqa: BLE001 - reported, then a failure
            vals = []
            print("  error: %s" % e)
        if vals:
            print("PASS variable node: %d values (%s)" % (len(vals), ", ".join(vals[:5])))
        else:
            print("FAIL variable node: label_values(%s, node) is empty" % match)
            ok = False
    else:
        print("FAIL variable node: no label_values query")
        ok = False
    for p in panels_of(dash):
        if p.get("type") == "row":
            continue
        for t in p.get("targets") or []:
            expr = substitute(t.get("expr", ""), node)
            name = "%s [%s]" % (p.get("title"), t.get("refId"))
            try:
                r = get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
            except Exception as e:  # noqa: BLE001 - HTTP 400 for a bad expr lands here
                print("FAIL %s: query error %s: %s" % (name, e, expr))
                ok = False
                continue
            res = r.get("data", {}).get("result", [])
            if r.get("data", {}).get("resultType") == "scalar":
                res = [{"value": res}]
            nfin = sum(1 for s in res if finite(s.get("value", [0, "NaN"])[1]))
            if not res:
                print("FAIL %s: no series: %s" % (name, expr))
                ok = False
            elif need_finite and nfin == 0:
                print("FAIL %s: %d series, all NaN/Inf: %s" % (name, len(res), expr))
                ok = False
            else:
                print("PASS %s: %d series (%d finite)" % (name, len(res), nfin))
    return ok


def main(argv):
    if len(argv) < 3 or argv[1] not in ("structure", "queries", "expr"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(argv[2], encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print("FAIL parse %s: %s" % (argv[2], e))
        return 1
    if argv[1] == "structure":
        errs = structure(dash)
        for e in errs:
            print("FAIL %s" % e)
        if not errs:
            n = sum(1 for p in panels_of(dash) if p.get("type") != "row")
            print("PASS structure: %d panels, %d targets" % (
                n, sum(len(p.get("targets") or []) for p in panels_of(dash) if p.get("type") != "row")))
        return 1 if errs else 0
    if len(argv) < 5 or (argv[1] == "expr" and len(argv) < 6):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "expr":
        for p in panels_of(dash):
            for t in p.get("targets") or []:
                if p.get("title") == argv[3] and t.get("refId") == argv[4]:
                    print(substitute(t.get("expr", ""), argv[5]))
                    return 0
        print("no target %s [%s]" % (argv[3], argv[4]), file=sys.stderr)
        return 1
    return 0 if queries(dash, argv[3], argv[4], "--finite" in argv[5:]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
