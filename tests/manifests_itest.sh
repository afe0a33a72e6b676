# SPDX-License-Identifier: MIT
# daemonset/ offline: yamllint on every YAML file, kubectl kustomize (when
# kubectl is installed), every object against the Kubernetes OpenAPI models
# with unknown fields rejected, the agent's capability and host path
# allowlists, the scheduler configurations against the extender's real flags
# and routes, and the Containerfile against the libraries the built binaries
# load. Each checker is also shown a broken copy and must reject it. The
# per-node key component (daemonset/components/node-keys) and the HTTPS one
# (daemonset/components/extender-tls) are rendered in overlays and held to
# the same checks; the HTTPS overlay's extender arguments and scheduler
# tlsConfig are run for real: the extender with a certificate for the
# Service name, curl verifying it with the CA file the scheduler mounts.
. tests/lib.sh
BUILD=${1:-build}
PY=/usr/bin/python3
CHECK=tools/manifests/check.py
MODELS=${NS_K8S_MODELS:-/usr/local/share/nodescore-test/k8s-client-node-2.0.1/models}
YL="yamllint -s -c tools/manifests/yamllint.yaml"

# The Kubernetes objects and configurations (the rest of daemonset/ is
# Prometheus and Alertmanager configuration, checked by their own tests).
K8S_FILES="daemonset/kustomization.yaml daemonset/namespaces.yaml daemonset/agent.yaml
daemonset/extender.yaml daemonset/networkpolicy.yaml daemonset/scheduler/kustomization.yaml
daemonset/scheduler/rbac.yaml daemonset/scheduler/deployment.yaml daemonset/scheduler/config.yaml
daemonset/scheduler-config.yaml daemonset/components/node-keys/kustomization.yaml
daemonset/components/extender-tls/kustomization.yaml
daemonset/components/extender-tls/scheduler-config-tls.yaml"

# broken NAME FILE SED-SCRIPT: a copy of daemonset/ in $NS_TMP/NAME with one
# edit; fails the test (and returns 1) if the edit matched nothing.
broken() {
	rm -rf "${NS_TMP:?}/$1"
	cp -r daemonset "$NS_TMP/$1"
	sed -e "$3" "daemonset/$2" >"$NS_TMP/$1/$2"
	if cmp -s "daemonset/$2" "$NS_TMP/$1/$2"; then
		fail "$1" "the edit '$3' changed nothing in $2"
		return 1
	fi
}

# --- yamllint
if command -v yamllint >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	check yamllint_daemonset $YL daemonset/
	printf 'a: 1\nb: 2\na: 3\n' >"$NS_TMP/dup.yaml"
	# shellcheck disable=SC2086
	if $YL "$NS_TMP/dup.yaml" >/dev/null 2>&1; then
		fail yamllint_rejects_duplicate_key
	else
		pass yamllint_rejects_duplicate_key
	fi
else
	skip yamllint_daemonset "yamllint not installed (tools/install-deps.sh installs it)"
fi

if ! $PY -c 'import yaml' 2>/dev/null; then
	skip manifests "$PY cannot import yaml (Debian package python3-yaml)"
	finish
fi

# --- kustomize
if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize daemonset >"$NS_TMP/rendered.yaml" 2>"$NS_TMP/kerr"; then
		pass kustomize_build
		n=$(grep -c '^kind:' "$NS_TMP/rendered.yaml")
		# 21 objects: 2 namespaces, agent 2, extender 5, policies 3, scheduler 9.
		check kustomize_object_count [ "$n" -eq 21 ]
	else
		fail kustomize_build "$(head -3 "$NS_TMP/kerr")"
	fi
else
	skip kustomize_build "kubectl not installed: 'kubectl kustomize daemonset' not run (check.py policy reads the kustomization itself)"
fi

# The two components as the README enables them ("Key file", "HTTPS on the
# extender"): overlays beside a copy of daemonset/.
# overlay DIR SRC COMPONENT: DIR/daemonset from SRC, DIR/overlay using
# daemonset/components/COMPONENT, as the README's overlays do.
overlay() {
	rm -rf "${1:?}" && mkdir -p "$1/overlay" && cp -r "$2" "$1/daemonset"
	printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
		'resources:' '  - ../daemonset' 'components:' "  - ../daemonset/components/$3" \
		>"$1/overlay/kustomization.yaml"
}
overlay "$NS_TMP/nk" daemonset node-keys
overlay "$NS_TMP/tls" daemonset extender-tls
# rendered FILE KIND NAME PYTHON-EXPR: true on the first object of KIND whose
# name starts with NAME in the rendered FILE (o), its pod spec (s), first
# container (c); for a ConfigMap, x is its KubeSchedulerConfiguration's
# extender entry.
rendered() {
	$PY - "$@" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
o = [d for d in docs if d["kind"] == sys.argv[2] and d["metadata"]["name"].startswith(sys.argv[3])][0]
s = o.get("spec", {}).get("template", {}).get("spec", {})
c = (s.get("containers") or [{}])[0]
x = yaml.safe_load(o["data"]["config.yaml"])["extenders"][0] if o["kind"] == "ConfigMap" else None
sys.exit(0 if eval(sys.argv[4]) else 1)
EOF
}
nk_agent() { rendered "$NS_TMP/nk.yaml" DaemonSet nodescore-agent "$1"; }
tls_doc() { rendered "$NS_TMP/tls.yaml" "$@"; }
if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize "$NS_TMP/nk/overlay" >"$NS_TMP/nk.yaml" 2>"$NS_TMP/kerr"; then
		pass nodekeys_kustomize_build
		check nodekeys_object_count [ "$(grep -c '^kind:' "$NS_TMP/nk.yaml")" -eq 21 ]
		check nodekeys_no_master_key_volume nk_agent \
			'not [v for v in s["volumes"] if "secret" in v] and "key" not in [v["name"] for v in s["volumes"]]'
		check nodekeys_host_file_volume nk_agent \
			'{"name": "node-key", "hostPath": {"path": "/etc/nodescore/node.key", "type": "File"}} in s["volumes"]'
		check nodekeys_mount_read_only nk_agent \
			'[m for m in c["volumeMounts"] if m["name"] == "node-key"] == [{"name": "node-key", "mountPath": "/etc/nodescore/node.key", "readOnly": True}]'
		check nodekeys_args nk_agent \
			'"--node-key-file=/etc/nodescore/node.key" in c["args"] and not [x for x in c["args"] if x.startswith("--key-file")]'
		# The rest of the agent is untouched.
		check nodekeys_other_mounts_kept nk_agent \
			'[m["name"] for m in c["volumeMounts"]] == ["proc", "cgroup", "state", "node-key"]'
		# The patch's "test" operations: agent.yaml reordered, kustomize fails
		# rather than patching the wrong argument.
		overlay "$NS_TMP/nk_moved" daemonset node-keys
		sed -i 's|^            - --key-file=/etc/nodescore/key|            - --key-file=/etc/nodescore/master|' \
			"$NS_TMP/nk_moved/daemonset/agent.yaml"
		if kubectl kustomize "$NS_TMP/nk_moved/overlay" >/dev/null 2>"$NS_TMP/kerr2"; then
			fail nodekeys_kustomize_guard "agent.yaml changed under the patch, kustomize still rendered"
		else
			check nodekeys_kustomize_guard grep -q "testing value /spec/template/spec/containers/0/args/2 failed" "$NS_TMP/kerr2"
		fi
	else
		fail nodekeys_kustomize_build "$(head -3 "$NS_TMP/kerr")"
	fi
else
	skip nodekeys_kustomize_build "kubectl not installed: the node-keys overlay is not rendered (check.py policy applies the component itself)"
fi

# The HTTPS overlay.
if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize "$NS_TMP/tls/overlay" >"$NS_TMP/tls.yaml" 2>"$NS_TMP/kerr"; then
		pass tls_kustomize_build
		check tls_object_count [ "$(grep -c '^kind:' "$NS_TMP/tls.yaml")" -eq 21 ]
		check tls_extender_args tls_doc StatefulSet nodescore-extender \
			'c["args"][-2:] == ["--tls-cert=/etc/nodescore-tls/tls.crt", "--tls-key=/etc/nodescore-tls/tls.key"]'
		check tls_extender_probes_https tls_doc StatefulSet nodescore-extender \
			'c["livenessProbe"]["httpGet"]["scheme"] == c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"'
		check tls_scheduler_mounts_ca_only tls_doc Deployment nodescore-scheduler \
			'[v["secret"]["items"] for v in s["volumes"] if v["name"] == "extender-ca"] == [[{"key": "ca.crt", "path": "ca.crt"}]]'
		check tls_scheduler_config_https tls_doc ConfigMap nodescore-scheduler-config \
			'x["urlPrefix"].startswith("https://") and x["enableHTTPS"] is True and x["tlsConfig"] == {"caFile": "/etc/nodescore-scheduler-tls/ca.crt"}'
	else
		fail tls_kustomize_build "$(head -3 "$NS_TMP/kerr")"
	fi
else
	skip tls_kustomize_build "kubectl not installed: the extender-tls overlay is not rendered (check.py policy applies the component itself)"
fi
# The HTTPS scheduler configuration is scheduler/config.yaml but for the
# three TLS fields.
tls_only_diff() {
	$PY - daemonset/scheduler/config.yaml daemonset/components/extender-tls/scheduler-config-tls.yaml <<'EOF'
import sys, yaml
a, b = (yaml.safe_load(open(f)) for f in sys.argv[1:3])
ea, eb = a["extenders"][0], b["extenders"][0]
assert eb.pop("urlPrefix") == ea.pop("urlPrefix").replace("http://", "https://", 1)
assert eb.pop("enableHTTPS") is True and ea.pop("enableHTTPS") is False
eb.pop("tlsConfig")
assert a == b, "scheduler-config-tls.yaml differs from scheduler/config.yaml beyond TLS"
EOF
}
check tls_config_differs_only_in_tls tls_only_diff

# --- schema
if [ -f "$MODELS/V1PodSpec.js" ]; then
	# shellcheck disable=SC2086
	check schema_all $PY $CHECK schema --models "$MODELS" $K8S_FILES
	if [ -s "$NS_TMP/rendered.yaml" ]; then
		check schema_kustomize_output $PY $CHECK schema --models "$MODELS" "$NS_TMP/rendered.yaml"
	fi
	if [ -s "$NS_TMP/tls.yaml" ]; then
		check schema_tls_output $PY $CHECK schema --models "$MODELS" "$NS_TMP/tls.yaml"
	fi
	if [ -s "$NS_TMP/nk.yaml" ]; then
		check schema_nodekeys_output $PY $CHECK schema --models "$MODELS" "$NS_TMP/nk.yaml" \
			"$NS_TMP/nk/overlay/kustomization.yaml"
	fi
	if broken unknown_field agent.yaml 's/^      hostNetwork: true/&\n      hostNetwrok: true/'; then
		rejects schema_rejects_unknown_field "unknown field 'hostNetwrok' in V1PodSpec" \
			$PY $CHECK schema --models "$MODELS" "$NS_TMP/unknown_field/agent.yaml"
	fi
	if broken unknown_sched_field scheduler/config.yaml 's/^    httpTimeout:/    httpTimeOut:/'; then
		rejects schema_rejects_unknown_scheduler_field "unknown field 'httpTimeOut' in Extender" \
			$PY $CHECK schema --models "$MODELS" "$NS_TMP/unknown_sched_field/scheduler/config.yaml"
	fi
	if broken wrong_type extender.yaml 's/^  replicas: 2/  replicas: "two"/'; then
		rejects schema_rejects_wrong_type "spec.replicas: expected a number" \
			$PY $CHECK schema --models "$MODELS" "$NS_TMP/wrong_type/extender.yaml"
	fi
	if broken wrong_group agent.yaml 's|^apiVersion: apps/v1|apiVersion: extensions/v1beta1|'; then
		rejects schema_rejects_wrong_api_group "DaemonSet is in group 'apps'" \
			$PY $CHECK schema --models "$MODELS" "$NS_TMP/wrong_group/agent.yaml"
	fi
	if broken missing_required agent.yaml 's/^        - name: agent$/        - image: x/'; then
		rejects schema_rejects_missing_required "required field 'name' of V1Container" \
			$PY $CHECK schema --models "$MODELS" "$NS_TMP/missing_required/agent.yaml"
	fi
else
	skip schema_all "no Kubernetes models in $MODELS (tools/install-deps.sh fetches them with npm pack)"
fi

# --- policy: allowlists and the manifests against the built binaries
POLICY="$PY $CHECK policy --build $BUILD"
if [ ! -x "$BUILD/nodescore-agent" ] || [ ! -x "$BUILD/nodescore-extender" ]; then
	fail policy "no $BUILD/nodescore-agent or nodescore-extender (make all)"
	finish
fi
check policy_holds $POLICY daemonset
# ... and on daemonset/ with each of its components applied, and the overlay.
check policy_checks_components sh -c "$POLICY daemonset | grep -q ', 2 components'"
check policy_nodekeys_overlay $POLICY "$NS_TMP/nk/overlay"
check policy_tls_overlay $POLICY "$NS_TMP/tls/overlay"

# policy_rejects NAME FILE SED-SCRIPT WANT
policy_rejects() {
	broken "$1" "$2" "$3" && rejects "policy_rejects_$1" "$4" $POLICY "$NS_TMP/$1"
}
policy_rejects forbidden_cap agent.yaml 's/^                - PERFMON/&\n                - SYS_ADMIN/' \
	"capability SYS_ADMIN is not in the allowlist"
policy_rejects cap_not_dropped agent.yaml 's/drop: \["ALL"\]/drop: ["NET_RAW"]/' \
	"capabilities.drop must be [ALL]"
policy_rejects privileged agent.yaml 's/^            privileged: false/            privileged: true/' \
	"privileged: true is not allowed"
policy_rejects new_host_path agent.yaml 's|^            path: /var/lib/nodescore|            path: /etc|' \
	"host path /etc is not in the allowlist"
policy_rejects proc_writable agent.yaml '/mountPath: \/host\/proc/{n;s/readOnly: true/readOnly: false/}' \
	"host path /proc must be mounted readOnly"
policy_rejects host_pid agent.yaml 's/^      hostPID: false/      hostPID: true/' \
	"hostPID is not allowed"
policy_rejects agent_bind_all agent.yaml 's/--listen-http=$(POD_IP):9464/--listen-http=0.0.0.0:9464/' \
	"--listen-http must be \$(POD_IP):9464"
policy_rejects unknown_agent_flag agent.yaml 's/--interval=1s/--intervall=1s/' \
	"--intervall is not a nodescore-agent flag"
policy_rejects unknown_extender_flag extender.yaml 's/--skew=30s/--clock-skew=30s/' \
	"--clock-skew is not a nodescore-extender flag"
policy_rejects replica_not_published extender.yaml 's/^  replicas: 2/  replicas: 3/' \
	"must list every extender replica"
policy_rejects interval_mismatch extender.yaml 's/--publish-interval=2s/--publish-interval=1s/' \
	"differs from the extender's"
policy_rejects token_mounted extender.yaml 's/^      automountServiceAccountToken: false/      automountServiceAccountToken: true/' \
	"automountServiceAccountToken must be false"
policy_rejects wrong_filter_verb scheduler/config.yaml 's/filterVerb: filter/filterVerb: filtr/' \
	"'filtr': the extender serves V_FILTER at ['/filter']"
policy_rejects wrong_prioritize_verb scheduler-config.yaml 's/prioritizeVerb: prioritize/prioritizeVerb: filter/' \
	"'filter': the extender serves V_PRIORITIZE"
policy_rejects preempt_verb scheduler/config.yaml 's/^    filterVerb: filter/&\n    preemptVerb: preempt/' \
	"the extender serves no preemptVerb"
policy_rejects slow_timeout scheduler/config.yaml 's/httpTimeout: 200ms/httpTimeout: 2s/' \
	"well under 1s"
policy_rejects wrong_port scheduler/config.yaml 's/svc.cluster.local:8888/svc.cluster.local:5555/' \
	"does not reach the extender's --listen-http port 8888"
policy_rejects headless_url scheduler/config.yaml 's|//nodescore-extender.nodescore|//nodescore-extender-peers.nodescore|' \
	"is headless"
policy_rejects not_ignorable scheduler/config.yaml 's/ignorable: true/ignorable: false/' \
	"must be true: nodescore must never block scheduling"
policy_rejects no_lease_rbac scheduler/rbac.yaml 's/resourceNames: \["nodescore-scheduler"\]/resourceNames: ["other"]/' \
	"no Role grants get/update on lease nodescore/nodescore-scheduler"
policy_rejects rbac_wildcard scheduler/rbac.yaml 's/verbs: \["get", "update"\]/verbs: ["*"]/' \
	"wildcards are not least privilege"
policy_rejects baseline_namespace namespaces.yaml 's/enforce: privileged/enforce: baseline/' \
	"namespace nodescore-node must enforce Pod Security privileged"
policy_rejects extender_host_network extender.yaml 's/^      serviceAccountName: nodescore-extender/&\n      hostNetwork: true/' \
	"hostNetwork: only the agent needs it"
# The node-keys component: exactly /etc/nodescore/node.key, read-only, a file,
# with --node-key-file and without the master key.
NKP=components/node-keys/agent-node-key.yaml
policy_rejects nodekeys_writable $NKP 's/^    readOnly: true/    readOnly: false/' \
	"host path /etc/nodescore/node.key must be mounted readOnly"
policy_rejects nodekeys_directory $NKP 's|^      path: /etc/nodescore/node.key|      path: /etc/nodescore|' \
	"host path /etc/nodescore is not in the allowlist"
policy_rejects nodekeys_file_or_create $NKP 's/^      type: File$/      type: FileOrCreate/' \
	"host path /etc/nodescore/node.key must have type File, has 'FileOrCreate'"
policy_rejects nodekeys_master_kept $NKP 's|value: --node-key-file=/etc/nodescore/node.key|value: --key-file=/etc/nodescore/key|' \
	"--key-file (the master key) must go when the node key is mounted"
policy_rejects nodekeys_patch_drift agent.yaml 's|^            - --key-file=/etc/nodescore/key|            - --key-file=/etc/nodescore/master|' \
	"test of /spec/template/spec/containers/0/args/2 failed"
# Writable through the overlay too (the broken copy's overlay).
if broken nk_writable_tree $NKP 's/^    readOnly: true/    readOnly: false/'; then
	overlay "$NS_TMP/nk_writable" "$NS_TMP/nk_writable_tree" node-keys
	rejects policy_rejects_nodekeys_writable_overlay "host path /etc/nodescore/node.key must be mounted readOnly" \
		$POLICY "$NS_TMP/nk_writable/overlay"
fi
# The HTTPS component: a world-readable key, a plain http:// extender URL, an
# unverified extender, probes left on HTTP, the CA from outside a Secret.
TLP=components/extender-tls/extender-tls.yaml
TLC=components/extender-tls/scheduler-config-tls.yaml
policy_rejects tls_key_world_readable $TLP 's/^      defaultMode: 0440/      defaultMode: 0444/' \
	"mode 444 makes the key world-readable"
policy_rejects tls_url_http $TLC 's|"https://nodescore|"http://nodescore|' \
	"must be https://SERVICE.NAMESPACE.svc...:PORT with no path (the extender serves HTTPS)"
policy_rejects tls_insecure $TLC 's|^      caFile: .*|      insecure: true|' \
	"needs caFile or caData and not insecure"
policy_rejects tls_probe_http $TLP '/readinessProbe\/httpGet\/scheme/{n;s/HTTPS/HTTP/}' \
	"readinessProbe: scheme must be HTTPS"
policy_rejects tls_ca_not_mounted $TLC 's|caFile: /etc/nodescore-scheduler-tls/|caFile: /etc/ssl/|' \
	"/etc/ssl/ca.crt is not in a Secret mounted into the nodescore-scheduler Deployment"
policy_rejects tls_patch_drift extender.yaml 's|^            - --listen-http=0.0.0.0:8888|            - --listen-http=0.0.0.0:8889|' \
	"test of /spec/template/spec/containers/0/args/1 failed"

# The overlay's extender arguments and the scheduler's tlsConfig for real: a
# CA, a certificate for the Service name from it, the key as the Secret
# volume's mode 0440 leaves it; curl resolves the Service name to loopback
# and verifies the extender with ca.crt alone, as kube-scheduler does.
if command -v openssl >/dev/null 2>&1 && [ -s "$NS_TMP/tls.yaml" ]; then
	T=$NS_TMP/tlsrun && mkdir -p "$T" && SVC=nodescore-extender.nodescore.svc.cluster.local
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=nodescore test CA" -keyout "$T/ca.key" -out "$T/ca.crt" >/dev/null 2>&1 &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$SVC" \
			-keyout "$T/tls.key" -out "$T/tls.csr" >/dev/null 2>&1 &&
		printf 'subjectAltName=DNS:%s,DNS:nodescore-extender.nodescore.svc\n' "$SVC" >"$T/ext" &&
		openssl x509 -req -in "$T/tls.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
			-days 2 -extfile "$T/ext" -out "$T/tls.crt" >/dev/null 2>&1
	chmod 0440 "$T/tls.key" "$T/tls.crt"
	make_key "$T/key"
	# The rendered extender's TLS arguments, pointed at the files here.
	targs=$($PY - "$NS_TMP/tls.yaml" "$T" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
e = [d for d in docs if d["kind"] == "StatefulSet"][0]["spec"]["template"]["spec"]["containers"][0]
print(" ".join(a.replace("/etc/nodescore-tls", sys.argv[2]) for a in e["args"] if a.startswith("--tls-")))
EOF
)
	# shellcheck disable=SC2086
	start_extender "$BUILD/nodescore-extender" "$T/ext.log" --key-file "$T/key" \
		--listen-scores "tcp://127.0.0.1:$(free_port)" $targs
	if [ -n "$EXT_URL" ]; then
		port=${EXT_URL##*:}
		code=$(curl -s --cacert "$T/ca.crt" --resolve "$SVC:$port:127.0.0.1" -o /dev/null -w '%{http_code}' \
			-X POST --data '{"Pod":{},"NodeNames":["a"]}' "https://$SVC:$port/prioritize")
		check tls_scheduler_verifies_extender [ "$code" = 200 ]
		check tls_wrong_name_refused sh -c "! curl -s --cacert '$T/ca.crt' --resolve 'other.svc:$port:127.0.0.1' https://other.svc:$port/healthz >/dev/null"
		stop_pid "$EXT_PID"
	else
		fail tls_scheduler_verifies_extender "the extender did not start with $targs: $(head -3 "$T/ext.log")"
	fi
else
	skip tls_scheduler_verifies_extender "openssl missing or the overlay not rendered"
fi

# A manifest added to daemonset/ but not to kustomization.yaml is never applied.
rm -rf "$NS_TMP/unlisted" && cp -r daemonset "$NS_TMP/unlisted" && cp daemonset/agent.yaml "$NS_TMP/unlisted/extra.yaml"
rejects policy_rejects_unlisted_file "extra.yaml: /: not listed in any kustomization.yaml" $POLICY "$NS_TMP/unlisted"

# --- Containerfile (no container engine here: a static check only)
if links "$BUILD/nodescore-agent" libasan; then
	skip containerfile_matches_binaries "$BUILD is a sanitizer build (it links libasan, which the runtime image never ships); make test checks the release build"
elif command -v objdump >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
	check containerfile_matches_binaries $PY $CHECK containerfile --build "$BUILD" Containerfile
	sed 's/ libsodium23//' Containerfile >"$NS_TMP/Containerfile.nolib"
	rejects containerfile_rejects_missing_library "needs libsodium.so.23 from package libsodium23" \
		$PY $CHECK containerfile --build "$BUILD" "$NS_TMP/Containerfile.nolib"
	sed 's/^      libbpf1 /      libbpf-dev libbpf1 /' Containerfile >"$NS_TMP/Containerfile.dev"
	rejects containerfile_rejects_dev_package "build-only package libbpf-dev in the runtime stage" \
		$PY $CHECK containerfile --build "$BUILD" "$NS_TMP/Containerfile.dev"
	sed 's/ AS runtime$/ AS final/' Containerfile >"$NS_TMP/Containerfile.nostage"
	rejects containerfile_rejects_missing_stage "no stage 'runtime'" \
		$PY $CHECK containerfile --build "$BUILD" "$NS_TMP/Containerfile.nostage"
else
	skip containerfile_matches_binaries "objdump or dpkg missing"
fi
summary
