# SPDX-License-Identifier: MIT
# Real Prometheus (Debian's binary) scrapes a real agent and extender on
# 127.0.0.1; the shipped rules pass promtool and load into Prometheus; the
# agent's and extender's expositions pass promtool's parser.
. tests/lib.sh
BUILD=${1:-build}

for b in prometheus promtool curl; do
	if ! command -v "$b" >/dev/null 2>&1; then
		skip prometheus_all "$b not installed (tools/install-deps.sh installs it)"
		finish
	fi
done

check promtool_rules promtool check rules daemonset/prometheus-rules.yaml

SCORES=$(free_port)
EXT=$(free_port)
AG=$(free_port)
make_key "$NS_TMP/key"
"$BUILD/nodescore-extender" --listen-scores "tcp://127.0.0.1:$SCORES" --listen-http "127.0.0.1:$EXT" \
	--key-file "$NS_TMP/key" --publish-interval 1s 2>"$NS_TMP/ext.log" &
NS_PIDS="$NS_PIDS $!"
"$BUILD/nodescore-agent" --publish "tcp://127.0.0.1:$SCORES" --key-file "$NS_TMP/key" \
	--listen-http "127.0.0.1:$AG" --state-dir "$NS_TMP/state" --node-name prom-test \
	--interval 1s --publish-interval 1s --no-bpf 2>"$NS_TMP/agent.log" &
NS_PIDS="$NS_PIDS $!"

prometheus_config "$NS_TMP/prometheus.yml" "$(pwd)/daemonset/prometheus-rules.yaml" \
	nodescore-agent="$AG" nodescore-extender="$EXT"
check promtool_config promtool check config "$NS_TMP/prometheus.yml"
start_prometheus "$NS_TMP/prometheus.yml"

# promtool: 0 clean, 3 lint findings only, 1 parse error. The agent's node
# gauges keep the history CSV names (_us, _m), a documented lint finding.
lint() { curl -s --max-time 2 "$1" | promtool check metrics >"$NS_TMP/lint" 2>&1; echo $?; }
wait_for 10 curl -sf "http://127.0.0.1:$AG/metrics"
wait_for 10 curl -sf "http://127.0.0.1:$EXT/metrics"
rc=$(lint "http://127.0.0.1:$AG/metrics")
check agent_exposition_clean test "$rc" -eq 0 || cat "$NS_TMP/lint" >&2
check extender_exposition_clean test "$(lint "http://127.0.0.1:$EXT/metrics")" -eq 0
# Both expose the standard process metrics and their build (promtool above
# has checked names and types; here: present, sane values).
procm() { # URL BINARY: build_info for BINARY, RSS over 1 MiB, CPU and fd counts present
	curl -s --max-time 2 "$1" | awk -v b="$2" '
		$1 ~ "^nodescore_build_info[{]binary=\"" b "\",version=\"[^\"]+\"[}]$" && $2 == 1 { bi = 1 }
		$1 == "process_resident_memory_bytes" && $2 > 1048576 { rss = 1 }
		$1 == "process_cpu_seconds_total" && $2 >= 0 { cpu = 1 }
		$1 == "process_open_fds" && $2 >= 3 { fd = 1 }
		$1 == "process_start_time_seconds" && $2 > 1600000000 { st = 1 }
		END { exit !(bi && rss && cpu && fd && st) }'
}
check agent_process_metrics procm "http://127.0.0.1:$AG/metrics" agent
check extender_process_metrics procm "http://127.0.0.1:$EXT/metrics" extender
# the check can fail: the extender's exposition is not the agent's build
if procm "http://127.0.0.1:$EXT/metrics" agent; then
	fail process_metrics_check_can_fail
else
	pass process_metrics_check_can_fail
fi
check prometheus_scrapes_agent_score wait_for 30 prom_has_value 'nodescore_agent_score{node="prom-test"}'
check prometheus_scrapes_extender_table wait_for 30 prom_has_value 'nodescore_extender_table_nodes >= 1'
check targets_up wait_for 10 prom_has_value 'count(up == 1) == 2'
check recording_rule_evaluates wait_for 15 prom_has_value 'nodescore:agent_score:min'
if curl -s --max-time 2 "$PROM_URL/api/v1/rules" | grep -q '"name":"NodeAnomaly"'; then
	pass alert_rules_loaded
else
	fail alert_rules_loaded
fi
summary
