#!/bin/sh
# SPDX-License-Identifier: MIT
# daemonset/grafana-dashboard.json against real data, all on 127.0.0.1:
# the JSON's structure (tools/grafana/check.py structure: unique panel ids,
# a datasource and targets on every panel, only the ${DS_PROMETHEUS}
# variable as datasource), then nodescore-extender fed by nodescore-pub
# (replayed nodes, one flagged anomalous, one that stops and goes stale, one
# with the wrong key), a nodescore-agent on a fixture /proc tree with the
# shipped models and an injected anomaly, filter/prioritize calls, and a real
# prometheus scraping agent and extender every 1 s with the shipped rules.
# Every panel target's expr ($node -> .*, $__rate_interval -> 15s) must
# return at least one series with a finite value from /api/v1/query. The
# checkers are shown broken inputs and must reject them. Grafana itself is
# not needed. Usage: sh tests/grafana_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
# A signal to this shell alone (run.sh stopped, a timeout) still stops the
# processes below: lib.sh cleans up on EXIT only, which a signal skips.
trap 'exit 143' HUP INT TERM
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
CHK=$ROOT/tools/grafana/check.py
DASH=$ROOT/daemonset/grafana-dashboard.json
NODE=grafana-node
# Bound of the wait for every panel to have data (about 8 s measured).
DATA_MAX=30

if [ ! -x "$PY" ]; then
	skip grafana_all "$PY not installed"
	finish
fi

# mutate NAME PYTHON: a copy of the dashboard as d, edited by PYTHON, in $NS_TMP/NAME.json.
mutate() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
p = [x for x in d["panels"] if x["type"] != "row"]
exec(sys.argv[2])
json.dump(d, open(sys.argv[3], "w"))' "$DASH" "$2" "$NS_TMP/$1.json"
}

# --- structure ------------------------------------------------------------------
check dashboard_json_parses "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$DASH"
if "$PY" "$CHK" structure "$DASH" >"$NS_TMP/structure" 2>&1; then
	pass dashboard_structure
	sed 's/^PASS /  /' "$NS_TMP/structure" >&2
else
	fail dashboard_structure "$(head -3 "$NS_TMP/structure")"
fi
mutate dup_id 'p[3]["id"] = p[0]["id"]'
rejects structure_rejects_duplicate_id "also used by panel" "$PY" "$CHK" structure "$NS_TMP/dup_id.json"
mutate fixed_uid 'p[1]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}'
rejects structure_rejects_fixed_uid "hard-coded datasource uid 'P1809F7CD0C75ACF3'" "$PY" "$CHK" structure "$NS_TMP/fixed_uid.json"
mutate no_targets 'p[2]["targets"] = []'
rejects structure_rejects_panel_without_targets "no targets" "$PY" "$CHK" structure "$NS_TMP/no_targets.json"
mutate no_ds 'del p[2]["datasource"]'
rejects structure_rejects_panel_without_datasource "no datasource" "$PY" "$CHK" structure "$NS_TMP/no_ds.json"
# shellcheck disable=SC2016 # $node is the dashboard variable, not the shell's
mutate bad_var 'p[0]["targets"][0]["expr"] = p[0]["targets"][0]["expr"].replace("$node", "$nodes")'
rejects structure_rejects_unknown_variable "unknown variable \$nodes" "$PY" "$CHK" structure "$NS_TMP/bad_var.json"
mutate old_schema 'd["schemaVersion"] = 27'
rejects structure_rejects_old_schema "schemaVersion 27" "$PY" "$CHK" structure "$NS_TMP/old_schema.json"

for b in prometheus curl; do
	if ! command -v "$b" >/dev/null 2>&1; then
		skip grafana_queries "$b not installed (tools/install-deps.sh installs it): panel queries not run"
		finish
	fi
done
for b in nodescore-extender nodescore-pub nodescore-agent; do
	if [ ! -x "$B/$b" ]; then
		fail binaries "missing $B/$b"
		finish
	fi
done

# --- extender and fake agents -----------------------------------------------------
KEY=$NS_TMP/key
make_key "$KEY"
make_key "$NS_TMP/badkey"
SP=$(free_port)
EP=$(free_port)
# TTL 3 s (3 x --publish-interval): gone-node is stale 3 s after its last round.
"$B/nodescore-extender" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SP" \
	--listen-http "127.0.0.1:$EP" --publish-interval 1s 2>"$NS_TMP/ext.log" &
NS_PIDS="$NS_PIDS $!"
cat >"$NS_TMP/cluster.csv" <<'EOF'
node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,free_mib,pods,rtt_p99_us
node-a,800,0,50,300,300,400,300,4000,8192,10,300
node-b,400,1,912,300,300,100,100,4000,8192,10,300
node-c,600,0,20,300,300,700,500,900,8192,10,200
EOF
printf 'node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,free_mib,pods,rtt_p99_us\ngone-node,500,0,0,300,300,300,300,4000,8192,5,300\n' >"$NS_TMP/gone.csv"
PUBARGS="--connect tcp://127.0.0.1:$SP --log-every 0 --connect-wait 1s"
# shellcheck disable=SC2086
"$B/nodescore-pub" $PUBARGS --key-file "$KEY" --replay "$NS_TMP/cluster.csv" --interval 200ms 2>"$NS_TMP/pub.log" &
NS_PIDS="$NS_PIDS $!"
# shellcheck disable=SC2086
"$B/nodescore-pub" $PUBARGS --key-file "$KEY" --replay "$NS_TMP/gone.csv" --interval 200ms --rounds 5 2>/dev/null &
NS_PIDS="$NS_PIDS $!"
# shellcheck disable=SC2086
"$B/nodescore-pub" $PUBARGS --key-file "$NS_TMP/badkey" --replay "$NS_TMP/cluster.csv" --interval 500ms 2>/dev/null &
NS_PIDS="$NS_PIDS $!"

# --- agent on a fixture node, the shipped models, an anomaly injected -----------
P=$NS_TMP/root
C=$NS_TMP/cg
fixture_node "$P" "$C" 90
echo cpu_util.z_short >"$NS_TMP/anomaly"
AP=$(free_port)
"$B/nodescore-agent" --proc-root "$P" --cgroup-root "$C" --no-bpf --node-name $NODE --key-file "$KEY" \
	--listen-http "127.0.0.1:$AP" --publish "tcp://127.0.0.1:$SP" --state-dir "$NS_TMP/state" \
	--history-interval 0 --interval 200ms --publish-interval 1s \
	--forecast-model "$ROOT/models/forecast-default" \
	--anomaly-model "$ROOT/models/iforest-default.nsif" --anomaly-step 1s \
	--test-anomaly-file "$NS_TMP/anomaly" 2>"$NS_TMP/agent.log" &
NS_PIDS="$NS_PIDS $!"

# --- scheduler calls: filter and prioritize, 5 a second, for at most 90 s --------
printf '{"Pod":{"metadata":{"name":"p","namespace":"default"}},"NodeNames":["node-a","node-b","node-c","gone-node","not-published"]}' >"$NS_TMP/req.json"
(end=$(($(date +%s) + 90)); while [ "$(date +%s)" -lt $end ]; do
	for v in filter prioritize; do
		curl -s -o /dev/null --max-time 2 -X POST --data-binary "@$NS_TMP/req.json" "http://127.0.0.1:$EP/$v"
	done
	sleep 0.2
done) &
NS_PIDS="$NS_PIDS $!"

# --- prometheus with the shipped rules -------------------------------------------
prometheus_config "$NS_TMP/prometheus.yml" "$ROOT/daemonset/prometheus-rules.yaml" \
	nodescore-agent="$AP" nodescore-extender="$EP"
start_prometheus "$NS_TMP/prometheus.yml"

t0=$(date +%s)
check prometheus_ready wait_for 15 curl -sf "$PROM_URL/-/ready"
check agent_scraped wait_for 20 prom_has_value "nodescore_agent_score{node=\"$NODE\"}"
check extender_table_full wait_for 20 prom_has_value 'nodescore_extender_table_nodes >= 5'
check extender_has_stale_node wait_for 20 prom_has_value 'nodescore:extender_stale_ratio > 0'
check bad_key_rejections_seen wait_for 20 prom_has_value 'nodescore_extender_messages_rejected_total{reason="bad_mac"} > 0'
check anomaly_filter_seen wait_for 20 prom_has_value 'nodescore_extender_filtered_nodes_total{reason="anomaly"} > 0'

# --- every panel target against Prometheus ---------------------------------------
# Data arrives asynchronously (rates need 2 scrapes of an increase): poll the
# checker, bounded, then record its last answer line by line.
wait_for $DATA_MAX "$PY" "$CHK" queries "$DASH" "$PROM_URL" '.*' --finite
"$PY" "$CHK" queries "$DASH" "$PROM_URL" '.*' --finite >"$NS_TMP/all" 2>&1
echo "  panels had data $(($(date +%s) - t0)) s after start (bound ${DATA_MAX} s after the waits above)" >&2
while read -r verdict rest; do
	case "$rest" in
	*"]: "*) name=${rest%%]: *} ;;
	*) name=${rest%%: *} ;;
	esac
	name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9' _ | tr -s _ | sed 's/_$//')
	case "$verdict" in
	PASS) pass "panel_${name}" ;;
	FAIL) fail "panel_${name}" "${rest#*: }" ;;
	*) fail checker_output "$verdict $rest" ;;
	esac
done <"$NS_TMP/all"
check panel_count_as_dashboard test "$(grep -c '^PASS .*\[' "$NS_TMP/all")" -eq \
	"$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(sum(len(p.get("targets", [])) for p in d["panels"] if p["type"] != "row"))' "$DASH")"
if "$PY" "$CHK" queries "$DASH" "$PROM_URL" "$NODE" --finite >"$NS_TMP/one" 2>&1; then
	pass panels_with_one_node
else
	fail panels_with_one_node "$(grep '^FAIL' "$NS_TMP/one" | head -3)"
fi

# --- what the panels show is what the test set up ----------------------------------
# e TITLE REFID: a panel target's expr as the checker runs it (node .*).
e() { "$PY" "$CHK" expr "$DASH" "$1" "$2" '.*'; }
# shows TITLE REFID PROMQL-FILTER [GREP]: (expr) FILTER has a value (and the
# answer holds GREP, a label pair).
shows() {
	x=$(e "$1" "$2") || return 1
	prom_query "($x) $3" >"$NS_TMP/ans"
	grep -q '"value":\[' "$NS_TMP/ans" && { [ -z "$4" ] || grep -qF "$4" "$NS_TMP/ans"; }
}
check value_score_in_range shows "Node score" A ">= 0 <= 1000" "\"node\":\"$NODE\""
check value_anomaly_flag_set shows "Anomaly flag" A "== 1" "\"node\":\"$NODE\""
check value_top_feature_injected shows "Anomalous nodes: top feature" A "== 1" '"feature":"cpu_util.z_short"'
check value_cpu_actual_fixture shows "CPU: forecast peak vs actual" A "> 0.15 < 0.25"
check value_cpu_forecast_0_1 shows "CPU: forecast peak vs actual" B ">= 0 <= 1" '"resource":"cpu"'
check value_mem_actual_fixture shows "Memory: forecast peak vs actual" A "> 0.55 < 0.65"
check value_latency_p99_measured shows "Request latency" A "> 0 < 1" '"verb":"filter"'
check value_bad_mac_rejections shows "Score messages rejected, by reason" A "> 0" '"reason":"bad_mac"'
check value_anomaly_filtered shows "Candidates removed by filter, by reason" A "> 0" '"reason":"anomaly"'
check value_unknown_candidates shows "Candidates removed by filter, by reason" C "> 0" '"why":"unknown"'
check value_stale_nodes shows "Stale nodes" A "== 1"
check value_stale_ratio shows "Stale ratio" A "> 0.15 < 0.25"
check value_loop_p99 shows "Sampling loop duration p99" A "> 0 < 1"
check value_models_loaded shows "Models loaded" A "== 1" '"model":"forecast"'
check value_targets_up shows "Scrape targets up" A "== 1" '"job":"nodescore-extender"'

# --- the query checker can fail ---------------------------------------------------
mutate misspelt 'p[0]["targets"][0]["expr"] = p[0]["targets"][0]["expr"].replace("nodescore_agent_score{", "nodescore_agent_scroe{")'
rejects queries_reject_misspelt_metric "FAIL Node score [A]: no series" "$PY" "$CHK" queries "$NS_TMP/misspelt.json" "$PROM_URL" '.*'
rejects queries_reject_unknown_node "FAIL Node score [A]: no series" "$PY" "$CHK" queries "$DASH" "$PROM_URL" no-such-node
check unknown_node_spares_extender_panels grep -q '^PASS Stale nodes \[A\]' "$NS_TMP/out"
mutate bad_promql 'p[0]["targets"][0]["expr"] = "sum by (node (nodescore_agent_score)"'
rejects queries_reject_bad_promql "FAIL Node score [A]: query error" "$PY" "$CHK" queries "$NS_TMP/bad_promql.json" "$PROM_URL" '.*'
mutate nan_only 'p[0]["targets"][0]["expr"] = "nodescore_agent_score / 0 * 0"'
rejects queries_finite_rejects_nan "all NaN/Inf" "$PY" "$CHK" queries "$NS_TMP/nan_only.json" "$PROM_URL" '.*' --finite
mutate bad_lv 'd["templating"]["list"][1]["query"]["query"] = "label_values(nodescore_agent_scroe, node)"'
rejects queries_reject_empty_node_variable "FAIL variable node" "$PY" "$CHK" queries "$NS_TMP/bad_lv.json" "$PROM_URL" '.*'
echo "  test took $(($(date +%s) - t0)) s after the processes started" >&2
summary
