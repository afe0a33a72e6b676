#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Offline checks of daemonset/: strict schema check, security allowlists, and
# the manifests against what the built binaries actually accept and serve.
#
#   check.py schema --models DIR FILE...   every document against the Kubernetes
#                                          OpenAPI models (unknown fields rejected)
#   check.py policy --build BUILD DIR      allowlists and cross-checks on DIR
#                                          (a kustomize directory, e.g. daemonset)
#   check.py containerfile --build BUILD FILE
#
# DIR of "schema" is the model directory of the npm package
# @kubernetes/client-node (dist/gen/models, installed by tools/install-deps.sh):
# generated from the Kubernetes OpenAPI document, one attributeTypeMap (field,
# JSON name, type) per definition and TypeScript declarations that mark the
# optional fields. It is the only machine-readable copy of the schemas that a
# package registry ships without the rest of a client; the JSON schemas
# kubernetes-models ships are compiled validators that ignore unknown fields.
# KubeSchedulerConfiguration and Kustomization are not API objects, so their
# schemas are written out below from their Go types.
#
# Output: one "ERROR manifests: <file>: <path>: <message>" line per problem and
# exit status 1, or one SUCCESS line and 0. Exit status 2: bad usage or input
# the checker cannot read.
import copy
import glob
import json
import os
import re
import subprocess
import sys

import yaml


def die(msg):
    print("ERROR manifests: " + msg, file=sys.stderr)
    sys.exit(2)


class Errors:
    def __init__(self):
        self.lines = []

    def add(self, where, path, msg):
        self.lines.append("%s: %s: %s" % (where, path or "/", msg))

    def finish(self, what):
        # A component pass re-checks the base objects: report each line once.
        for line in dict.fromkeys(self.lines):
            print("ERROR manifests: " + line)
        if self.lines:
            return 1
        print("SUCCESS manifests: " + what)
        return 0


def load_docs(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        die("cannot read %s: %s" % (path, e))


# --- schema ---------------------------------------------------------------

MAP_RE = re.compile(r"^\{ \[key: string\]: (.+); \}$")
ARRAY_RE = re.compile(r"^Array<(.+)>$")


def load_models(d):
    """{class: (fields {json name: (type, format)}, required set)}"""
    if not os.path.isfile(os.path.join(d, "V1PodSpec.js")):
        die("no Kubernetes models in %s (run tools/install-deps.sh)" % d)
    models = {}
    decl = re.compile(r"^\s+'([^']+)'(\?)?:", re.M)
    for name in os.listdir(d):
        if not name.endswith(".js"):
            continue
        cls = name[:-3]
        with open(os.path.join(d, name), encoding="utf-8") as f:
            src = f.read()
        m = re.search(re.escape(cls) + r"\.attributeTypeMap = (\[.*?\]);", src, re.S)
        if not m:
            continue
        fields = {a["baseName"]: (a["type"], a.get("format", "")) for a in json.loads(m.group(1))}
        required = set()
        try:
            with open(os.path.join(d, cls + ".d.ts"), encoding="utf-8") as f:
                for fm in decl.finditer(f.read()):
                    if not fm.group(2):
                        required.add(fm.group(1))
        except OSError:
            pass
        # Declarations name the TypeScript property; the map has its JSON name.
        byname = {a["name"]: a["baseName"] for a in json.loads(m.group(1))}
        models[cls] = (fields, {byname.get(r, r) for r in required} & set(fields))
    return models


def S(fields, required=()):
    """A hand-written schema in the same shape as load_models' entries."""
    return ({k: (v, "") for k, v in fields.items()}, set(required))


# kubescheduler.config.k8s.io/v1 (k8s.io/kube-scheduler/config/v1/types.go and
# k8s.io/component-base/config/v1alpha1, v1.31).
SCHED = {
    "KubeSchedulerConfiguration": S({
        "apiVersion": "string", "kind": "string", "parallelism": "int",
        "leaderElection": "LeaderElectionConfiguration",
        "clientConnection": "ClientConnectionConfiguration",
        "enableProfiling": "boolean", "enableContentionProfiling": "boolean",
        "percentageOfNodesToScore": "int", "podInitialBackoffSeconds": "int",
        "podMaxBackoffSeconds": "int", "profiles": "Array<KubeSchedulerProfile>",
        "extenders": "Array<Extender>", "delayCacheUntilActive": "boolean",
    }, ["apiVersion", "kind"]),
    "LeaderElectionConfiguration": S({
        "leaderElect": "boolean", "leaseDuration": "duration",
        "renewDeadline": "duration", "retryPeriod": "duration",
        "resourceLock": "string", "resourceName": "string",
        "resourceNamespace": "string",
    }),
    "ClientConnectionConfiguration": S({
        "kubeconfig": "string", "acceptContentTypes": "string",
        "contentType": "string", "qps": "float", "burst": "int",
    }),
    "KubeSchedulerProfile": S({
        "schedulerName": "string", "percentageOfNodesToScore": "int",
        "plugins": "Plugins", "pluginConfig": "Array<PluginConfig>",
    }),
    "Plugins": S({k: "PluginSet" for k in (
        "preEnqueue", "queueSort", "preFilter", "filter", "postFilter", "preScore",
        "score", "reserve", "permit", "preBind", "bind", "postBind", "multiPoint")}),
    "PluginSet": S({"enabled": "Array<Plugin>", "disabled": "Array<Plugin>"}),
    "Plugin": S({"name": "string", "weight": "int"}, ["name"]),
    "PluginConfig": S({"name": "string", "args": "any"}, ["name"]),
    "Extender": S({
        "urlPrefix": "string", "filterVerb": "string", "preemptVerb": "string",
        "prioritizeVerb": "string", "weight": "int", "bindVerb": "string",
        "enableHTTPS": "boolean", "tlsConfig": "ExtenderTLSConfig",
        "httpTimeout": "duration", "nodeCacheCapable": "boolean",
        "managedResources": "Array<ExtenderManagedResource>", "ignorable": "boolean",
    }, ["urlPrefix"]),
    "ExtenderManagedResource": S({"name": "string", "ignoredByScheduler": "boolean"}, ["name"]),
    "ExtenderTLSConfig": S({k: "string" for k in (
        "serverName", "certFile", "keyFile", "caFile", "certData", "keyData", "caData")}
        | {"insecure": "boolean"}),
}

# kustomize.config.k8s.io/v1beta1 Kustomization, the fields this tree may use.
KUST = {
    "Kustomization": S({
        "apiVersion": "string", "kind": "string", "metadata": "any",
        "resources": "Array<string>", "components": "Array<string>",
        "namespace": "string", "namePrefix": "string", "nameSuffix": "string",
        "labels": "any", "commonLabels": "{ [key: string]: string; }",
        "commonAnnotations": "{ [key: string]: string; }", "images": "any",
        "patches": "any", "replicas": "any",
        "configMapGenerator": "Array<Generator>", "secretGenerator": "Array<Generator>",
        "generatorOptions": "any",
    }, ["apiVersion", "kind"]),
    "Generator": S({
        "name": "string", "namespace": "string", "behavior": "string",
        "files": "Array<string>", "literals": "Array<string>", "envs": "Array<string>",
        "options": "GeneratorOptions",
    }, ["name"]),
    "GeneratorOptions": S({
        "labels": "{ [key: string]: string; }", "annotations": "{ [key: string]: string; }",
        "disableNameSuffixHash": "boolean", "immutable": "boolean",
    }),
}

# kustomize.config.k8s.io/v1alpha1 Component (daemonset/components/*): the
# same fields.
KUST["Component"] = KUST["Kustomization"]

# Kinds this tree uses and their API group; anything else is refused rather
# than waved through.
KIND_GROUP = {
    "Namespace": "", "ServiceAccount": "", "Service": "", "ConfigMap": "",
    "Secret": "", "DaemonSet": "apps", "Deployment": "apps", "StatefulSet": "apps",
    "PodDisruptionBudget": "policy", "NetworkPolicy": "networking.k8s.io",
    "Role": "rbac.authorization.k8s.io", "RoleBinding": "rbac.authorization.k8s.io",
    "ClusterRole": "rbac.authorization.k8s.io",
    "ClusterRoleBinding": "rbac.authorization.k8s.io",
    "PriorityClass": "scheduling.k8s.io",
}

DURATION_RE = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
# Fields holding resource.Quantity, which YAML may write as a bare number.
QUANTITY_MAPS = {"limits", "requests"}


def check_value(models, v, typ, fmt, path, err, field=""):
    if v is None:
        return  # null is "unset" for every optional field
    m = ARRAY_RE.match(typ)
    if m:
        if not isinstance(v, list):
            err(path, "expected a list, got %s" % type(v).__name__)
            return
        for i, x in enumerate(v):
            check_value(models, x, m.group(1), "", "%s[%d]" % (path, i), err)
        return
    m = MAP_RE.match(typ)
    if m:
        if not isinstance(v, dict):
            err(path, "expected a map, got %s" % type(v).__name__)
            return
        for k, x in v.items():
            if not isinstance(k, str):
                err(path, "map key %r is not a string" % (k,))
            if field in QUANTITY_MAPS and isinstance(x, (int, float)) and not isinstance(x, bool):
                continue
            check_value(models, x, m.group(1), "", "%s.%s" % (path, k), err)
        return
    if typ in ("any", "object"):
        return
    if typ in ("string", "Date"):
        if not isinstance(v, str):
            err(path, "expected a string, got %s %r" % (type(v).__name__, v))
        return
    if typ == "boolean":
        if not isinstance(v, bool):
            err(path, "expected true or false, got %r" % (v,))
        return
    if typ in ("number", "int", "float"):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok and (typ == "int" or fmt in ("int32", "int64")) and not isinstance(v, int):
            ok = False
        if not ok:
            err(path, "expected a number, got %r" % (v,))
        return
    if typ == "IntOrString":
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            err(path, "expected an integer or a string, got %r" % (v,))
        return
    if typ == "duration":
        if not isinstance(v, str) or not DURATION_RE.match(v):
            err(path, "expected a Go duration such as 200ms, got %r" % (v,))
        return
    if typ not in models:
        err(path, "checker has no schema for type %s" % typ)
        return
    if not isinstance(v, dict):
        err(path, "expected an object (%s), got %s" % (typ, type(v).__name__))
        return
    fields, required = models[typ]
    for k, x in v.items():
        if k not in fields:
            err(path, "unknown field %r in %s" % (k, typ))
            continue
        t, f = fields[k]
        check_value(models, x, t, f, "%s.%s" % (path, k) if path else k, err, k)
    for r in sorted(required - set(v)):
        err(path, "required field %r of %s is missing" % (r, typ))


def doc_class(doc, models):
    """The schema class of a document, or an error message."""
    if not isinstance(doc, dict):
        return None, "document is not a mapping"
    av, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(av, str) or not isinstance(kind, str):
        return None, "no apiVersion/kind: not a Kubernetes object"
    if av == "kubescheduler.config.k8s.io/v1" and kind == "KubeSchedulerConfiguration":
        return kind, None
    if av == "kustomize.config.k8s.io/v1beta1" and kind == "Kustomization":
        return kind, None
    if av == "kustomize.config.k8s.io/v1alpha1" and kind == "Component":
        return kind, None
    group, _, version = av.rpartition("/")
    if kind not in KIND_GROUP:
        return None, "kind %s is not one the checker knows" % kind
    if KIND_GROUP[kind] != group:
        return None, "apiVersion %s: %s is in group %r" % (av, kind, KIND_GROUP[kind] or "core")
    cls = version[0].upper() + version[1:] + kind
    if cls not in models:
        return None, "apiVersion %s has no %s" % (av, kind)
    return cls, None


def cmd_schema(args):
    if len(args) < 3 or args[0] != "--models":
        die("usage: check.py schema --models DIR FILE...")
    models = load_models(args[1])
    models.update(SCHED)
    models.update(KUST)
    errs = Errors()
    n = 0
    for path in args[2:]:
        for i, doc in enumerate(load_docs(path)):
            where = "%s#%d" % (path, i)
            cls, msg = doc_class(doc, models)
            if msg:
                errs.add(where, "", msg)
                continue
            n += 1
            check_value(models, doc, cls, "", "", lambda p, m, w=where: errs.add(w, p, m))
            if doc.get("kind") == "ConfigMap":
                # A generated scheduler ConfigMap: check the embedded file too.
                for key, text in (doc.get("data") or {}).items():
                    sub = yaml.safe_load(text) if isinstance(text, str) else None
                    if isinstance(sub, dict) and sub.get("kind") == "KubeSchedulerConfiguration":
                        check_value(models, sub, "KubeSchedulerConfiguration", "", "",
                                    lambda p, m, w="%s data.%s" % (where, key): errs.add(w, p, m))
    return errs.finish("%d objects match the schemas" % n)


# --- policy ---------------------------------------------------------------

# The agent's capabilities and host paths, each with its reason in
# daemonset/agent.yaml. A change here is a security review, not a refactor.
AGENT_CAPS = {"BPF", "PERFMON"}
AGENT_HOST_PATHS = {
    "/proc": ("/host/proc", True),
    "/sys/fs/cgroup": ("/host/sys/fs/cgroup", True),
    "/var/lib/nodescore": ("/var/lib/nodescore", False),  # history ring
}
# Allowed, not required: daemonset/components/node-keys mounts this node's own
# key, one file, read-only, type File, given to --node-key-file; the
# master-key Secret and --key-file must then be gone.
AGENT_NODE_KEY = "/etc/nodescore/node.key"
AGENT_OPTIONAL_HOST_PATHS = {AGENT_NODE_KEY: (AGENT_NODE_KEY, True)}
AGENT_HOST_PATH_TYPES = {AGENT_NODE_KEY: "File"}
MASTER_KEY_SECRET = "nodescore-key"
EXTENDER_SCORES_FLAG = "listen-scores"


def json_pointer(path):
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("path %r is not a JSON pointer below the root" % (path,))
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_json6902(doc, ops):
    """Applies a JSON 6902 patch (add, remove, replace, test: what kustomize
    applies) to doc in place; ValueError where kustomize would fail."""
    if not isinstance(ops, list):
        raise ValueError("not a JSON 6902 patch (a list of operations); the checker applies no other kind")
    for i, o in enumerate(ops):
        what = "operation %d" % i
        if not isinstance(o, dict) or o.get("op") not in ("add", "remove", "replace", "test"):
            raise ValueError("%s: op %r is not add, remove, replace or test" % (what, (o or {}).get("op")))
        keys = json_pointer(o.get("path"))
        parent = doc
        for k in keys[:-1]:
            if isinstance(parent, list) and k.isdigit() and int(k) < len(parent):
                parent = parent[int(k)]
            elif isinstance(parent, dict) and k in parent:
                parent = parent[k]
            else:
                raise ValueError("%s: %s does not exist" % (what, o["path"]))
        last, op = keys[-1], o["op"]
        if op != "remove" and "value" not in o:
            raise ValueError("%s: %s without a value" % (what, op))
        if isinstance(parent, list):
            if op == "add" and last == "-":
                last = str(len(parent))
            if not last.isdigit() or int(last) > len(parent) or (op != "add" and int(last) == len(parent)):
                raise ValueError("%s: %s does not exist" % (what, o["path"]))
            idx = int(last)
        elif isinstance(parent, dict):
            if op != "add" and last not in parent:
                raise ValueError("%s: %s does not exist" % (what, o["path"]))
            idx = last
        else:
            raise ValueError("%s: %s is below a scalar" % (what, o["path"]))
        if op == "test":
            if parent[idx] != o["value"]:
                raise ValueError("%s: test of %s failed: %r, not %r" % (what, o["path"], parent[idx], o["value"]))
        elif op == "remove":
            del parent[idx]
        elif op == "replace":
            parent[idx] = copy.deepcopy(o["value"])
        elif isinstance(parent, list):
            parent.insert(idx, copy.deepcopy(o["value"]))
        else:
            parent[idx] = copy.deepcopy(o["value"])


def target_matches(t, doc):
    group, _, version = (doc.get("apiVersion") or "").rpartition("/")
    md = doc.get("metadata") or {}
    have = {"group": group, "version": version, "kind": doc.get("kind"),
            "name": md.get("name"), "namespace": md.get("namespace")}
    return all(have[k] == v for k, v in t.items() if k in have)


def apply_component(c, docs, errs):
    """docs with the kustomize Component in directory c applied: its
    resources added and its JSON 6902 patches applied to their targets
    (patched objects are labelled "FILE (+c)")."""
    kpath = os.path.join(c, "kustomization.yaml")
    if not os.path.isfile(kpath):
        errs.add(c, "", "no kustomization.yaml")
        return docs
    k = load_docs(kpath)[0]
    if k.get("kind") != "Component" or k.get("apiVersion") != "kustomize.config.k8s.io/v1alpha1":
        errs.add(kpath, "", "not a kustomize.config.k8s.io/v1alpha1 Component")
        return docs
    docs = list(docs)
    for r in k.get("resources") or []:
        p = os.path.join(c, r)
        if os.path.isfile(p):
            docs += [(p, doc) for doc in load_docs(p)]
        else:
            errs.add(kpath, "resources", "%s is not a file" % r)
    for i, pt in enumerate(k.get("patches") or []):
        where = "patches[%d]" % i
        t = pt.get("target")
        if not isinstance(t, dict) or not t.get("kind") or not t.get("name"):
            errs.add(kpath, where, "needs a target with kind and name (JSON 6902)")
            continue
        if pt.get("path"):
            ppath = os.path.join(c, pt["path"])
            if not os.path.isfile(ppath):
                errs.add(kpath, where, "%s does not exist" % pt["path"])
                continue
            ops = load_docs(ppath)
            ops = ops[0] if len(ops) == 1 else ops
        else:
            ppath, ops = kpath, yaml.safe_load(pt.get("patch") or "")
        hit = False
        for j, (f, doc) in enumerate(docs):
            if not target_matches(t, doc):
                continue
            hit = True
            new = copy.deepcopy(doc)
            try:
                apply_json6902(new, ops)
            except ValueError as e:
                errs.add(ppath, where, str(e))
                continue
            docs[j] = ("%s (+%s)" % (f, os.path.normpath(c)), new)
        if not hit:
            errs.add(kpath, where, "target %s matches no object" % t)
    for i, g in enumerate(k.get("configMapGenerator") or []):
        where = "configMapGenerator[%d]" % i
        new = generated_configmap(c, g)
        if g.get("behavior", "create") == "create":
            docs.append((kpath, new))
            continue
        hit = False
        for j, (f, doc) in enumerate(docs):
            md = doc.get("metadata") or {}
            if doc.get("kind") == "ConfigMap" and md.get("name") == g.get("name") and \
                    md.get("namespace", "") == g.get("namespace", ""):
                hit = True
                merged = copy.deepcopy(doc)
                if g["behavior"] == "replace":
                    merged["data"] = new["data"]
                else:
                    merged.setdefault("data", {}).update(new["data"])
                docs[j] = ("%s (+%s)" % (f, os.path.normpath(c)), merged)
        if not hit:
            errs.add(kpath, where, "%s of ConfigMap %s matches no generated ConfigMap"
                     % (g.get("behavior"), g.get("name")))
    return docs


def generated_configmap(d, g):
    """The ConfigMap a configMapGenerator entry of directory d yields (name
    without the hash suffix)."""
    data = {}
    for f in g.get("files") or []:
        key, _, src = f.partition("=") if "=" in f else (os.path.basename(f), "", f)
        with open(os.path.join(d, src), encoding="utf-8") as fh:
            data[key] = fh.read()
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": g["name"], "namespace": g.get("namespace", "")},
            "data": data}


def kustomize_docs(d, errs):
    """Every object a kustomize directory yields, as (file, doc), including
    its configMapGenerator ConfigMaps (name without the hash suffix) and its
    components' patches."""
    kpath = os.path.join(d, "kustomization.yaml")
    if not os.path.isfile(kpath):
        errs.add(d, "", "no kustomization.yaml")
        return []
    k = load_docs(kpath)[0]
    out = []
    for r in k.get("resources") or []:
        p = os.path.join(d, r)
        if os.path.isdir(p):
            out += kustomize_docs(p, errs)
        elif os.path.isfile(p):
            out += [(p, doc) for doc in load_docs(p)]
        else:
            errs.add(kpath, "resources", "%s does not exist" % r)
    for g in k.get("configMapGenerator") or []:
        out.append((os.path.join(d, "kustomization.yaml"), generated_configmap(d, g)))
    for c in k.get("components") or []:
        out = apply_component(os.path.join(d, c), out, errs)
    return out


def parse_help(build, binary):
    exe = os.path.join(build, "nodescore-" + binary)
    try:
        out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10).stdout
    except OSError as e:
        die("cannot run %s --help: %s" % (exe, e))
    flags = {}
    for m in re.finditer(r"^  --([a-z0-9-]+)(=VALUE)?\n.*?\[env [A-Z_]+(?:, default ([^\]]*))?\]",
                         out, re.M | re.S):
        flags[m.group(1)] = m.group(3)
    if not flags:
        die("no flags in %s --help" % exe)
    return flags


def parse_args(args):
    out = {}
    for a in args or []:
        if a.startswith("--"):
            k, _, v = a[2:].partition("=")
            out[k] = v
    return out


def duration_ms(s):
    """Go and nodescore durations (200ms, 10s, 1m30s) in milliseconds."""
    units = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1000, "m": 60000,
             "h": 3600000, "d": 86400000}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)", s or "")
    if not parts or "".join(a + b for a, b in parts) != s:
        return None
    return sum(float(a) * units[b] for a, b in parts)


def served_routes(src):
    """{path: handler} from route() in extender/exthttp.c."""
    try:
        with open(src, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        die("cannot read %s: %s" % (src, e))
    routes = dict((p, v) for p, v in re.findall(
        r'strcmp\(url, "(/[^"]*)"\) == 0\)\s*return (V_[A-Z]+);', text))
    if not routes:
        die("no routes found in %s" % src)
    return routes


def find(docs, kind, name):
    for f, d in docs:
        if d.get("kind") == kind and d.get("metadata", {}).get("name") == name:
            return f, d
    return None, None


def pod_spec(d):
    return d.get("spec", {}).get("template", {}).get("spec", {}) if d else {}


def container_sc_checks(where, who, c, spec, err, allowed_caps):
    sc = c.get("securityContext") or {}
    psc = spec.get("securityContext") or {}
    p = "%s container %s" % (who, c.get("name"))
    if sc.get("privileged"):
        err(where, p, "privileged: true is not allowed")
    if sc.get("allowPrivilegeEscalation") is not False:
        err(where, p, "allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        err(where, p, "readOnlyRootFilesystem must be true")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        err(where, p, "seccompProfile must be RuntimeDefault, is %r" % seccomp)
    caps = sc.get("capabilities") or {}
    if caps.get("drop") != ["ALL"]:
        err(where, p, "capabilities.drop must be [ALL]")
    added = set(caps.get("add") or [])
    for cap in sorted(added - allowed_caps):
        err(where, p, "capability %s is not in the allowlist %s" % (cap, sorted(allowed_caps) or "[]"))
    for cap in sorted(allowed_caps - added):
        err(where, p, "allowlisted capability %s is missing (update the allowlist)" % cap)
    for key in ("hostPID", "hostIPC"):
        if spec.get(key):
            err(where, who, "%s is not allowed" % key)


def cmd_policy(args):
    if len(args) != 3 or args[0] != "--build":
        die("usage: check.py policy --build BUILD DIR")
    build, d = args[1], args[2]
    errs = Errors()
    docs = kustomize_docs(d, errs)
    nsched = policy(build, d, docs, errs, True)
    # Each component shipped in DIR/components, applied to DIR as an overlay
    # would (README "Key file"): the result must hold to the same policy.
    comps = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(d, "components", "*", "kustomization.yaml")))
    for c in comps:
        policy(build, d, apply_component(c, kustomize_docs(d, Errors()), errs), errs, False)
    return errs.finish("policy holds for %d objects, %d scheduler configurations%s" %
                       (len(docs), nsched, ", %d components" % len(comps) if comps else ""))


def policy(build, d, docs, errs, walk):
    """Checks the objects docs of directory d; walk: also that every YAML file
    under d is applied. Returns the number of scheduler configurations."""
    err = errs.add
    routes = served_routes(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "..", "..", "extender", "exthttp.c"))
    agent_flags = parse_help(build, "agent")
    ext_flags = parse_help(build, "extender")

    # Every YAML file is either applied or known not to be a Kubernetes object
    # (a kustomization's patch files are neither: they are used by it).
    applied = {os.path.normpath(f) for f, _ in docs}
    for root, _, files in os.walk(d):
        if walk and "kustomization.yaml" in files:
            for k in load_docs(os.path.join(root, "kustomization.yaml"))[:1]:
                for pt in k.get("patches") or []:
                    if isinstance(pt, dict) and pt.get("path"):
                        applied.add(os.path.normpath(os.path.join(root, pt["path"])))
                for g in k.get("configMapGenerator") or []:
                    for f in g.get("files") or []:
                        applied.add(os.path.normpath(os.path.join(root, f.rpartition("=")[2])))
    not_objects = {"scheduler-config.yaml", "prometheus-scrape.yaml",
                   "prometheus-rules.yaml", "alertmanager-example.yml"}
    for root, _, files in os.walk(d) if walk else ():
        for name in files:
            p = os.path.normpath(os.path.join(root, name))
            if name.endswith((".yaml", ".yml")) and name != "kustomization.yaml" and \
                    p not in applied and os.path.relpath(p, d) not in not_objects:
                err(p, "", "not listed in any kustomization.yaml")

    # No object may mount a service account token unless it talks to the API.
    for f, doc in docs:
        if doc.get("kind") in ("DaemonSet", "Deployment", "StatefulSet"):
            spec = pod_spec(doc)
            name = doc["metadata"]["name"]
            if name != "nodescore-scheduler" and spec.get("automountServiceAccountToken") is not False:
                err(f, name, "automountServiceAccountToken must be false (it reads nothing from the API)")
            for v in spec.get("volumes") or []:
                if "hostPath" in v and name != "nodescore-agent":
                    err(f, name, "hostPath volume %s: only the agent may mount host paths" % v.get("name"))
            if spec.get("hostNetwork") and name != "nodescore-agent":
                err(f, name, "hostNetwork: only the agent needs it")
            if name != "nodescore-agent":
                sc = spec.get("securityContext") or {}
                if sc.get("runAsNonRoot") is not True:
                    err(f, name, "runAsNonRoot must be true")
                for c in spec.get("containers") or []:
                    container_sc_checks(f, name, c, spec, err, set())

    # --- agent
    af, agent = find(docs, "DaemonSet", "nodescore-agent")
    aargs = {}
    if not agent:
        err(d, "", "no DaemonSet nodescore-agent")
    else:
        spec = pod_spec(agent)
        cs = spec.get("containers") or []
        if len(cs) != 1:
            err(af, "agent", "expected exactly one container")
        c = cs[0] if cs else {}
        container_sc_checks(af, "agent", c, spec, err, AGENT_CAPS)
        if spec.get("priorityClassName") != "system-node-critical":
            err(af, "agent", "priorityClassName must be system-node-critical")
        ru = agent.get("spec", {}).get("updateStrategy", {}).get("rollingUpdate", {})
        if ru.get("maxUnavailable") != "10%":
            err(af, "agent", "updateStrategy maxUnavailable must be 10%")
        if not any(t.get("operator") == "Exists" and not t.get("key") for t in spec.get("tolerations") or []):
            err(af, "agent", "must tolerate every taint (operator: Exists)")
        vols = {v["name"]: v for v in spec.get("volumes") or []}
        mounts = {m["name"]: m for m in c.get("volumeMounts") or []}
        seen = set()
        allowed = dict(AGENT_HOST_PATHS, **AGENT_OPTIONAL_HOST_PATHS)
        for name, v in vols.items():
            hp = v.get("hostPath")
            if not hp:
                continue
            path = hp.get("path", "").rstrip("/") or "/"
            m = mounts.get(name)
            if path not in allowed:
                err(af, "agent volume %s" % name, "host path %s is not in the allowlist %s" %
                    (path, sorted(allowed)))
                continue
            seen.add(path)
            want_at, want_ro = allowed[path]
            if path in AGENT_HOST_PATH_TYPES and hp.get("type") != AGENT_HOST_PATH_TYPES[path]:
                err(af, "agent volume %s" % name, "host path %s must have type %s, has %r" %
                    (path, AGENT_HOST_PATH_TYPES[path], hp.get("type")))
            if not m:
                err(af, "agent volume %s" % name, "host path %s is not mounted" % path)
                continue
            if m.get("mountPath") != want_at:
                err(af, "agent volume %s" % name, "mounted at %s, expected %s" % (m.get("mountPath"), want_at))
            if want_ro and m.get("readOnly") is not True:
                err(af, "agent volume %s" % name, "host path %s must be mounted readOnly" % path)
            if m.get("subPath"):
                err(af, "agent volume %s" % name, "subPath is not allowed on host paths")
        for path in sorted(set(AGENT_HOST_PATHS) - seen):
            err(af, "agent", "allowlisted host path %s is not mounted (update the allowlist)" % path)
        aargs = parse_args(c.get("args"))
        for k in aargs:
            if k not in agent_flags:
                err(af, "agent args", "--%s is not a nodescore-agent flag" % k)
        # Per-node keys (components/node-keys): the node's own key file, and
        # nothing of the master key left on the node.
        master = [n for n, v in vols.items() if (v.get("secret") or {}).get("secretName") == MASTER_KEY_SECRET]
        if AGENT_NODE_KEY in seen:
            if aargs.get("node-key-file") != AGENT_NODE_KEY:
                err(af, "agent args", "--node-key-file must be %s, the mounted host file" % AGENT_NODE_KEY)
            if "key-file" in aargs:
                err(af, "agent args", "--key-file (the master key) must go when the node key is mounted")
            for n in master:
                err(af, "agent volume %s" % n, "the master-key Secret %s must not be mounted with per-node keys"
                    % MASTER_KEY_SECRET)
        elif "node-key-file" in aargs:
            err(af, "agent args", "--node-key-file needs the host file %s mounted read-only" % AGENT_NODE_KEY)
        env = {e["name"]: e for e in c.get("env") or []}
        pod_ip = env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if aargs.get("listen-http") != "$(POD_IP):9464" or pod_ip != "status.podIP":
            err(af, "agent args", "--listen-http must be $(POD_IP):9464 with POD_IP from status.podIP")
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        for probe in ("livenessProbe", "readinessProbe"):
            hg = (c.get(probe) or {}).get("httpGet") or {}
            port = ports.get(hg.get("port"), hg.get("port"))
            if hg.get("path") != "/healthz" or port != 9464:
                err(af, "agent %s" % probe, "must be httpGet /healthz on 9464")
            if hg.get("host"):
                err(af, "agent %s" % probe, "host must be unset (the Pod IP, where the agent listens)")
        res = c.get("resources") or {}
        if not res.get("requests", {}).get("cpu") or not res.get("limits", {}).get("memory"):
            err(af, "agent resources", "needs a CPU request and a memory limit")

    # --- extender
    ef, ext = find(docs, "StatefulSet", "nodescore-extender")
    eargs = {}
    if not ext:
        err(d, "", "no StatefulSet nodescore-extender")
    else:
        es = ext["spec"]
        ens = ext["metadata"].get("namespace")
        c = (pod_spec(ext).get("containers") or [{}])[0]
        eargs = parse_args(c.get("args"))
        for k in eargs:
            if k not in ext_flags:
                err(ef, "extender args", "--%s is not a nodescore-extender flag" % k)
        if es.get("replicas", 1) < 2:
            err(ef, "extender", "needs at least 2 replicas")
        # Every agent must connect to every replica by its own name.
        svc = es.get("serviceName")
        sf, hs = find(docs, "Service", svc)
        if not hs or hs["spec"].get("clusterIP") != "None":
            err(ef, "extender", "serviceName %s must be a headless Service" % svc)
        scores_port = int(re.sub(r".*:", "", eargs.get(EXTENDER_SCORES_FLAG) or
                                 ext_flags.get(EXTENDER_SCORES_FLAG) or "0"))
        want = ["tcp://%s-%d.%s.%s.svc.cluster.local:%d" % (ext["metadata"]["name"], i, svc, ens, scores_port)
                for i in range(es.get("replicas", 1))]
        have = (aargs.get("publish") or "").split(",")
        if agent and have != want:
            err(af, "agent --publish", "must list every extender replica: %s, has %s" %
                (",".join(want), ",".join(have)))
        if agent and aargs.get("publish-interval") != eargs.get("publish-interval"):
            err(af, "agent --publish-interval", "%r differs from the extender's %r" %
                (aargs.get("publish-interval"), eargs.get("publish-interval")))
        tls = "tls-cert" in eargs
        if tls != ("tls-key" in eargs):
            err(ef, "extender args", "--tls-cert and --tls-key go together")
        for probe in ("livenessProbe", "readinessProbe"):
            hg = (c.get(probe) or {}).get("httpGet") or {}
            if routes.get(hg.get("path")) != "V_HEALTHZ":
                err(ef, "extender %s" % probe, "path %r is not the extender's health check" % hg.get("path"))
            if (hg.get("scheme") == "HTTPS") != tls:
                err(ef, "extender %s" % probe, "scheme must be %s: the extender serves %s"
                    % (("HTTPS", "HTTPS") if tls else ("HTTP", "plain HTTP")))
        # The certificate and key come from a mounted Secret, the key not
        # readable by others (the extender refuses a world-readable key).
        evols = {v["name"]: v for v in pod_spec(ext).get("volumes") or []}
        for flag in ("tls-cert", "tls-key") if tls else ():
            path = eargs.get(flag) or ""
            src = [m for m in c.get("volumeMounts") or []
                   if path.startswith(m.get("mountPath", "").rstrip("/") + "/")]
            sec = (evols.get(src[0]["name"]) or {}).get("secret") if src else None
            if not sec:
                err(ef, "extender --%s" % flag, "%s is not in a mounted Secret" % path)
                continue
            item = os.path.relpath(path, src[0]["mountPath"])
            items = {i.get("path"): i for i in sec.get("items") or []}
            mode = items.get(item, {}).get("mode", sec.get("defaultMode", 0o644))
            if sec.get("items") and item not in items:
                err(ef, "extender --%s" % flag, "%s is not among the Secret's items" % item)
            if flag == "tls-key" and mode & 0o004:
                err(ef, "extender --tls-key", "mode %o makes the key world-readable" % mode)
        pf, pdb = find(docs, "PodDisruptionBudget", "nodescore-extender")
        if not pdb:
            err(d, "", "no PodDisruptionBudget for the extender")

    # --- scheduler configurations: the second scheduler's and the alternative
    scheds = []
    for f, doc in docs:
        if doc.get("kind") == "ConfigMap":
            for key, text in (doc.get("data") or {}).items():
                sub = yaml.safe_load(text)
                if isinstance(sub, dict) and sub.get("kind") == "KubeSchedulerConfiguration":
                    scheds.append(("%s (ConfigMap %s)" % (f, doc["metadata"]["name"]), sub, True))
    alt = os.path.join(d, "scheduler-config.yaml")
    if os.path.isfile(alt):
        scheds.append((alt, load_docs(alt)[0], False))
    if not any(second for _, _, second in scheds):
        err(d, "", "no KubeSchedulerConfiguration in a ConfigMap (the second scheduler)")
    tls = "tls-cert" in eargs
    http_port = int(re.sub(r".*:", "", eargs.get("listen-http") or ext_flags.get("listen-http") or "0"))
    req_timeout = duration_ms(eargs.get("request-timeout") or ext_flags.get("request-timeout"))
    for f, cfg, second in scheds:
        if tls and not second:
            continue  # the alternative file is not deployed; it stays plain HTTP
        exts = cfg.get("extenders") or []
        if len(exts) != 1:
            err(f, "extenders", "expected exactly one extender entry")
            continue
        e = exts[0]
        scheme = "https" if tls else "http"
        m = re.match(r"^%s://([a-z0-9.-]+):(\d+)$" % scheme, e.get("urlPrefix", ""))
        if not m:
            err(f, "extenders[0].urlPrefix", "must be %s://SERVICE.NAMESPACE.svc...:PORT with no path"
                " (the extender serves %s)" % (scheme, "HTTPS" if tls else "plain HTTP"))
        elif ext:
            host, port = m.group(1), int(m.group(2))
            parts = host.split(".")
            sf, s = find(docs, "Service", parts[0])
            if len(parts) < 3 or parts[2] != "svc" or not s or \
                    s["metadata"].get("namespace") != parts[1] or \
                    s["spec"].get("selector") != ext["spec"]["selector"]["matchLabels"]:
                err(f, "extenders[0].urlPrefix", "%s is not a Service in front of the extender" % host)
            elif s["spec"].get("clusterIP") == "None":
                err(f, "extenders[0].urlPrefix", "%s is headless; use the ClusterIP Service" % host)
            else:
                sp = [p for p in s["spec"].get("ports") or [] if p.get("port") == port]
                cports = {p.get("name"): p.get("containerPort")
                          for p in (pod_spec(ext).get("containers") or [{}])[0].get("ports") or []}
                tgt = sp[0].get("targetPort") if sp else None
                if not sp or cports.get(tgt, tgt) != http_port:
                    err(f, "extenders[0].urlPrefix", "port %d does not reach the extender's --listen-http port %d"
                        % (port, http_port))
        for verb, handler in (("filterVerb", "V_FILTER"), ("prioritizeVerb", "V_PRIORITIZE")):
            if routes.get("/" + str(e.get(verb))) != handler:
                err(f, "extenders[0].%s" % verb, "%r: the extender serves %s at %s" %
                    (e.get(verb), handler, [p for p, h in routes.items() if h == handler]))
        for verb in ("preemptVerb", "bindVerb"):
            if e.get(verb):
                err(f, "extenders[0].%s" % verb, "the extender serves no %s" % verb)
        if e.get("nodeCacheCapable") is not True:
            err(f, "extenders[0].nodeCacheCapable", "must be true (the extender's --max-body is sized for names)")
        if e.get("ignorable") is not True:
            err(f, "extenders[0].ignorable", "must be true: nodescore must never block scheduling")
        if bool(e.get("enableHTTPS")) != tls:
            err(f, "extenders[0].enableHTTPS", "must be %s: the extender serves %s"
                % (tls, "HTTPS" if tls else "plain HTTP"))
        tc = e.get("tlsConfig") or {}
        if tls and (tc.get("insecure") or not (tc.get("caFile") or tc.get("caData"))):
            err(f, "extenders[0].tlsConfig", "needs caFile or caData and not insecure: the scheduler "
                "must verify the extender")
        if tls and second and tc.get("caFile"):
            sdf, sdep = find(docs, "Deployment", "nodescore-scheduler")
            sc0 = (pod_spec(sdep).get("containers") or [{}])[0] if sdep else {}
            svols = {v["name"]: v for v in pod_spec(sdep).get("volumes") or []} if sdep else {}
            ok = any(tc["caFile"].startswith(mm.get("mountPath", "").rstrip("/") + "/") and
                     "secret" in svols.get(mm.get("name"), {}) for mm in sc0.get("volumeMounts") or [])
            if not ok:
                err(f, "extenders[0].tlsConfig.caFile", "%s is not in a Secret mounted into the "
                    "nodescore-scheduler Deployment" % tc["caFile"])
        w = e.get("weight")
        if not isinstance(w, int) or not 1 <= w <= 10:
            err(f, "extenders[0].weight", "must be 1..10 (10 x weight x 10 points vs about 1,200 for the plugins)")
        t = duration_ms(e.get("httpTimeout"))
        if t is None or t >= 1000:
            err(f, "extenders[0].httpTimeout", "must be set and well under 1s, is %r" % e.get("httpTimeout"))
        elif req_timeout is not None and t >= req_timeout:
            err(f, "extenders[0].httpTimeout", "must be below the extender's --request-timeout")
        if second:
            names = [p.get("schedulerName") for p in cfg.get("profiles") or []]
            if names != ["nodescore"]:
                err(f, "profiles", "expected one profile with schedulerName nodescore, got %s" % names)
            le = cfg.get("leaderElection") or {}
            if not le.get("leaderElect") or le.get("resourceName") in (None, "", "kube-scheduler"):
                err(f, "leaderElection", "needs leaderElect and its own resourceName")
            else:
                granted = False
                for _, r in docs:
                    if r.get("kind") == "Role" and r["metadata"].get("namespace") == le.get("resourceNamespace"):
                        for rule in r.get("rules") or []:
                            if "leases" in rule.get("resources", []) and \
                                    le["resourceName"] in rule.get("resourceNames", []) and \
                                    {"get", "update"} <= set(rule.get("verbs", [])):
                                granted = True
                if not granted:
                    err(f, "leaderElection", "no Role grants get/update on lease %s/%s" %
                        (le.get("resourceNamespace"), le.get("resourceName")))

    # --- the scheduler Deployment and its RBAC
    sf, sd = find(docs, "Deployment", "nodescore-scheduler")
    if not sd:
        err(d, "", "no Deployment nodescore-scheduler")
    bound = {d2["roleRef"]["name"] for _, d2 in docs if d2.get("kind") == "ClusterRoleBinding"
             and any(s.get("name") == "nodescore-scheduler" for s in d2.get("subjects") or [])}
    for role in ("system:kube-scheduler", "system:volume-scheduler"):
        if role not in bound:
            err(d, "rbac", "nodescore-scheduler is not bound to %s" % role)
    for _, r in docs:
        if r.get("kind") in ("Role", "ClusterRole"):
            for rule in r.get("rules") or []:
                if "*" in rule.get("verbs", []) or "*" in rule.get("resources", []):
                    err(d, "rbac %s" % r["metadata"]["name"], "wildcards are not least privilege")

    # --- namespaces and Pod Security
    levels = {doc["metadata"]["name"]: doc["metadata"].get("labels", {}).get(
        "pod-security.kubernetes.io/enforce") for _, doc in docs if doc.get("kind") == "Namespace"}
    for f, doc in docs:
        if doc.get("kind") in ("DaemonSet", "Deployment", "StatefulSet"):
            ns = doc["metadata"].get("namespace")
            want = "privileged" if doc["metadata"]["name"] == "nodescore-agent" else "restricted"
            if levels.get(ns) != want:
                err(f, doc["metadata"]["name"], "namespace %s must enforce Pod Security %s, has %r"
                    % (ns, want, levels.get(ns)))
    return len(scheds)


# --- Containerfile --------------------------------------------------------

_BASE = None


def base_packages():
    """Essential packages and what they depend on: present in every Debian
    base image (debian:12-slim included), so a runtime stage need not list
    them (libc6, zlib1g)."""
    global _BASE
    if _BASE is None:
        q = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Essential}\n"],
                           capture_output=True, text=True)
        ess = [l.split()[0] for l in q.stdout.splitlines() if l.endswith(" yes")]
        dep = subprocess.run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
                              "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                              "--no-enhances"] + ess, capture_output=True, text=True)
        _BASE = set(ess) | {l.strip() for l in dep.stdout.splitlines() if l and not l[0].isspace()}
    return _BASE


def cmd_containerfile(args):
    if len(args) != 3 or args[0] != "--build":
        die("usage: check.py containerfile --build BUILD FILE")
    build, path = args[1], args[2]
    errs = Errors()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        die("cannot read %s: %s" % (path, e))
    text = re.sub(r"\\\n", " ", text)
    stages, cur = {}, None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)$", line, re.I)
        if m:
            cur = m.group(2)
            stages[cur] = {"from": m.group(1), "pkgs": set(), "copies": []}
        elif cur and line.upper().startswith("RUN") and "apt-get install" in line:
            for cmd in line.split("&&"):
                if "apt-get install" in cmd:
                    stages[cur]["pkgs"] |= {w for w in cmd.split()[3:] if not w.startswith("-")}
        elif cur and line.upper().startswith("COPY"):
            stages[cur]["copies"].append(line)
    for s in ("build", "runtime"):
        if s not in stages:
            errs.add(path, "", "no stage %r" % s)
        elif not stages[s]["from"].startswith("debian:12"):
            errs.add(path, s, "base image %s is not Debian 12" % stages[s]["from"])
    if list(stages)[-1:] != ["runtime"]:
        errs.add(path, "", "the last stage (the image) must be runtime")
    if "runtime" in stages:
        rt = stages["runtime"]
        for p in sorted(rt["pkgs"]):
            if p.endswith("-dev") or p in ("gcc", "clang", "llvm", "make", "bpftool", "pkg-config"):
                errs.add(path, "runtime", "build-only package %s in the runtime stage" % p)
        for b in ("nodescore-agent", "nodescore-extender"):
            if not any("--from=build" in c and b in c for c in rt["copies"]):
                errs.add(path, "runtime", "%s is not copied from the build stage" % b)
            exe = os.path.join(build, b)
            try:
                od = subprocess.run(["objdump", "-p", exe], capture_output=True, text=True, check=True).stdout
                ldd = subprocess.run(["ldd", exe], capture_output=True, text=True, check=True).stdout
            except (OSError, subprocess.CalledProcessError) as e:
                die("cannot inspect %s: %s" % (exe, e))
            resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
            for lib in re.findall(r"^\s*NEEDED\s+(\S+)", od, re.M):
                if lib not in resolved:
                    errs.add(path, "runtime", "%s needs %s, which ldd cannot resolve here" % (b, lib))
                    continue
                real = os.path.realpath(resolved[lib])
                q = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
                if q.returncode != 0:
                    q = subprocess.run(["dpkg", "-S", resolved[lib]], capture_output=True, text=True)
                pkg = q.stdout.split(":")[0].strip()
                if not pkg:
                    errs.add(path, "runtime", "%s: no Debian package owns %s" % (b, real))
                    continue
                if pkg not in rt["pkgs"] and pkg not in base_packages():
                    errs.add(path, "runtime", "%s needs %s from package %s, not installed in the runtime stage"
                             % (b, lib, pkg))
    return errs.finish("Containerfile stages and runtime libraries match %s" % build)


def main():
    if len(sys.argv) < 2:
        die("usage: check.py schema|policy|containerfile ...")
    cmd = {"schema": cmd_schema, "policy": cmd_policy, "containerfile": cmd_containerfile}.get(sys.argv[1])
    if not cmd:
        die("unknown command %s" % sys.argv[1])
    sys.exit(cmd(sys.argv[2:]))


if __name__ == "__main__":
    main()
