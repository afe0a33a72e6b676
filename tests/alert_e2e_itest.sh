#!/bin/sh
# SPDX-License-Identifier: MIT
# The alert path end to end, all real processes on 127.0.0.1: nodescore-agent
# on a fixture /proc tree -> prometheus (Debian) scraping it every 1 s with
# the shipped rules -> prometheus-alertmanager with a config derived from
# daemonset/alertmanager-example.yml -> a webhook receiver (python3
# http.server) that keeps every POST body. An anomaly is injected (firing
# notification with alertname, node, severity, feature), then ended
# (resolved notification). Test timings vs production: docs/alerts.md.
# Usage: sh tests/alert_e2e_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AGENT=$B/nodescore-agent
PY=/usr/bin/python3
NODE=e2e-node
# Bounds of each wait (the measured figures are printed; see docs/alerts.md).
FIRE_MAX=30
RESOLVE_MAX=30

for b in prometheus prometheus-alertmanager promtool amtool curl "$PY"; do
	if ! command -v "$b" >/dev/null 2>&1; then
		skip alert_e2e_all "$b not installed (tools/install-deps.sh installs it)"
		finish
	fi
done
if [ ! -x "$AGENT" ]; then
	fail agent_binary "missing $AGENT"
	finish
fi

# --- fixture node: every source healthy, so NodescoreAgentDegraded (which
# inhibits NodeAnomaly in the example route) stays out of the way ---------
P=$NS_TMP/root
C=$NS_TMP/cg
fixture_node "$P" "$C" 150
make_key "$NS_TMP/key"

# --- webhook receiver: one file per POST body, bounded size and lifetime ---
HOOK=$NS_TMP/hook
mkdir -p "$HOOK"
HP=$(free_port)
"$PY" "$ROOT/tools/webhook-sink.py" "$HP" "$HOOK" 150 2>"$NS_TMP/hook.log" &
NS_PIDS="$NS_PIDS $!"

# --- agent -------------------------------------------------------------------
AP=$(free_port)
INJECT=$NS_TMP/anomaly
"$AGENT" --proc-root "$P" --cgroup-root "$C" --no-bpf --node-name $NODE --key-file "$NS_TMP/key" \
	--listen-http "127.0.0.1:$AP" --publish "tcp://127.0.0.1:$(free_port)" --state-dir "$NS_TMP/state" \
	--history-interval 0 --interval 200ms --forecast-model none \
	--anomaly-model "$ROOT/models/iforest-default.nsif" --anomaly-step 1s \
	--test-anomaly-file "$INJECT" 2>"$NS_TMP/agent.log" &
NS_PIDS="$NS_PIDS $!"

# --- alertmanager: the shipped example with test timings and a local hook ---
AMP=$(free_port)
sed -e "s|url: http://alert-receiver.monitoring.svc:9095/hook|url: http://127.0.0.1:$HP/hook|" \
	-e 's/group_wait: 30s/group_wait: 1s/' -e 's/group_interval: 5m/group_interval: 2s/' \
	"$ROOT/daemonset/alertmanager-example.yml" >"$NS_TMP/am.yml"
check am_config_derived sh -c 'grep -q "127.0.0.1:$1/hook" "$2" && grep -q "group_wait: 1s" "$2" &&
	grep -q "group_interval: 2s" "$2" && amtool check-config "$2" >/dev/null 2>&1' _ "$HP" "$NS_TMP/am.yml"
prometheus-alertmanager --config.file="$NS_TMP/am.yml" --storage.path="$NS_TMP/am" \
	--web.listen-address="127.0.0.1:$AMP" --cluster.listen-address= >"$NS_TMP/am.log" 2>&1 &
NS_PIDS="$NS_PIDS $!"

# --- prometheus: the shipped rules, NodeAnomaly's `for` 1m -> 5s ------------
awk '/- alert: NodeAnomaly/ { a = 1 } a && /^        for: 1m$/ { sub(/1m/, "5s"); a = 0 } { print }' \
	"$ROOT/daemonset/prometheus-rules.yaml" >"$NS_TMP/rules.yaml"
check rules_for_rewritten sh -c 'awk "/- alert: NodeAnomaly/ { a = 1 } a && /for:/ { print; exit }" "$1" | grep -q "for: 5s"' _ "$NS_TMP/rules.yaml"
prometheus_config "$NS_TMP/prometheus.yml" "$NS_TMP/rules.yaml" nodescore-agent="$AP"
cat >>"$NS_TMP/prometheus.yml" <<YML
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$AMP"]}]
YML
check promtool_config sh -c 'promtool check config "$1" >/dev/null 2>&1' _ "$NS_TMP/prometheus.yml"
start_prometheus "$NS_TMP/prometheus.yml" --rules.alert.resend-delay=1s

check agent_up wait_for 15 curl -sf "http://127.0.0.1:$AP/healthz"
check alertmanager_up wait_for 15 curl -sf "http://127.0.0.1:$AMP/-/ready"
check prometheus_scrapes_agent wait_for 20 prom_has_value "nodescore_agent_anomaly_flag{node=\"$NODE\"} == 0"
check prometheus_finds_alertmanager wait_for 15 sh -c 'curl -s --max-time 2 "$1/api/v1/alertmanagers" | grep -q "127.0.0.1:$2"' _ "$PROM_URL" "$AMP"
check agent_not_degraded prom_has_value "nodescore_agent_flag{node=\"$NODE\",flag=\"degraded\"} == 0"

# notified STATUS: some webhook body holds NodeAnomaly for $NODE in STATUS
# with every label the route and the on-call page need; prints the alert.
notified() {
	"$PY" - "$HOOK" "$1" "$NODE" <<'PY'
import json, os, sys
d, status, node = sys.argv[1:4]
for name in sorted(os.listdir(d)):
    if not name.endswith(".json"):
        continue
    try:
        body = json.load(open(os.path.join(d, name)))
    except ValueError:
        continue
    for a in body.get("alerts", []):
        l = a.get("labels", {})
        if (a.get("status") == status and l.get("alertname") == "NodeAnomaly"
                and l.get("node") == node and l.get("severity") == "warning"
                and l.get("feature") == "cpu_util"):
            print(json.dumps({"file": name, "labels": l, "annotations": a.get("annotations", {}),
                              "startsAt": a.get("startsAt"), "endsAt": a.get("endsAt")}))
            sys.exit(0)
sys.exit(1)
PY
}

# A calm node: a few evaluations and group waits pass without a notification.
sleep 3
check calm_no_notification sh -c '! ls "$1"/*.json >/dev/null 2>&1' _ "$HOOK"

# --- anomaly on ----------------------------------------------------------------
t0=$(date +%s)
echo cpu_util.z_short >"$INJECT"
if wait_for $FIRE_MAX notified firing; then
	t1=$(date +%s)
	pass firing_notification_received
	echo "  firing notification $((t1 - t0)) s after the anomaly (bound ${FIRE_MAX} s)" >&2
	fired=$(notified firing)
	check firing_top_feature_annotation sh -c 'echo "$1" | grep -q "\"top_feature\": \"cpu_util.z_short\""' _ "$fired"
	check firing_has_summary sh -c 'echo "$1" | grep -q "node e2e-node behaves anomalously"' _ "$fired"
	# `for` held: the alert went pending, then firing, never straight to firing.
	check firing_after_for [ $((t1 - t0)) -ge 5 ]
else
	fail firing_notification_received "nothing within ${FIRE_MAX} s; bodies: $(cat "$HOOK"/*.json 2>/dev/null | head -c 600)"
fi
check agent_logged_injection grep -q '^WARNING models: test anomaly forced feature=cpu_util.z_short' "$NS_TMP/agent.log"

# --- anomaly off -----------------------------------------------------------------
t0=$(date +%s)
rm -f "$INJECT"
if wait_for $RESOLVE_MAX notified resolved; then
	pass resolved_notification_received
	echo "  resolved notification $(($(date +%s) - t0)) s after the anomaly ended (bound ${RESOLVE_MAX} s)" >&2
else
	fail resolved_notification_received "nothing within ${RESOLVE_MAX} s"
fi
check agent_log_format log_format_ok "$NS_TMP/agent.log"
summary
