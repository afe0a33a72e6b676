#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: the extender on loopback, the real agent measuring this machine
# (BPF when allowed), 50 replayed fake nodes from nodescore-pub; then, step by
# step, what a newcomer needs to see:
#   1. the ranking with every node's score broken down, and how this machine's
#      own score is made (once the agent has measured CPU: see "before");
#   2. a bounded CPU burner on this machine and its ranking falling within
#      seconds, then recovering when the burner stops;
#   3. with prometheus and prometheus-alertmanager installed: both on
#      127.0.0.1, one demo anomaly (the agent's --test-anomaly-file hook) and
#      the NodeAnomaly notification arriving at a local webhook.
# Ctrl-C (or the end) stops every process the demo started: each runs in its
# own process group (setsid), which the exit trap kills and then checks.
#
# Environment:
#   DEMO_SECONDS=N       after the steps, refresh for N s and stop (0 = until Ctrl-C)
#   DEMO_LOAD_SECONDS=N  how long the burner runs (default 10, at most 60)
#   DEMO_ALERT=0         skip step 3
#   DEMO_NODES=N         replayed nodes (default 50)
set -u
build=${1:-build}
seconds=${DEMO_SECONDS:-0}
load_s=${DEMO_LOAD_SECONDS:-10}
alert=${DEMO_ALERT:-1}
nodes=${DEMO_NODES:-50}
PY=/usr/bin/python3
SHOW=$(dirname "$0")/demo-show.py
SINK=$(dirname "$0")/webhook-sink.py
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$seconds$load_s$nodes" in *[!0-9]*)
	echo "ERROR demo: DEMO_SECONDS, DEMO_LOAD_SECONDS and DEMO_NODES must be whole numbers"; exit 2 ;;
esac
[ "$load_s" -ge 1 ] && [ "$load_s" -le 60 ] || { echo "ERROR demo: DEMO_LOAD_SECONDS must be 1..60"; exit 2; }
[ "$nodes" -ge 1 ] && [ "$nodes" -le 1000 ] || { echo "ERROR demo: DEMO_NODES must be 1..1000"; exit 2; }
dir=$(mktemp -d /tmp/nodescore-demo.XXXXXX)
pgids=""

# run LOG CMD...: starts CMD in the background in a new session and process
# group (setsid execs it: the pid is the group id), output to LOG.
run() {
	log=$1
	shift
	setsid "$@" >"$log" 2>&1 </dev/null &
	pgids="$pgids $!"
}

# Processes (not zombies) left in the demo's process groups.
alive() {
	[ -n "$pgids" ] || return 0
	ps -e -o pgid=,pid=,stat=,args= | awk -v g="$pgids" '
		BEGIN { n = split(g, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
		($1 in want) && $3 !~ /^Z/ { print }'
}

cleanup() {
	trap - INT TERM EXIT HUP
	rm -f "$dir/anomaly"
	for g in $pgids; do kill -TERM "-$g" 2>/dev/null; done
	i=0
	while [ -n "$(alive)" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	left=$(alive)
	if [ -n "$left" ]; then
		echo "WARNING demo: still running after 5 s, sending SIGKILL:"
		echo "$left" | cut -c1-150
		for g in $pgids; do kill -KILL "-$g" 2>/dev/null; done
		sleep 0.2
	fi
	# Reap (every leader is dead or a zombie by now; a live one would block).
	[ -z "$(alive)" ] && for g in $pgids; do wait "$g" 2>/dev/null; done
	left=$(alive)
	rm -rf "$dir"
	if [ -n "$left" ]; then
		echo "ERROR demo: processes left running:"
		echo "$left" | cut -c1-150
		exit 1
	fi
	echo "SUCCESS demo: stopped, all $(echo $pgids | wc -w) process groups ended"
}
trap cleanup EXIT
trap 'echo; echo "INFO demo: interrupted, stopping"; exit 130' INT TERM HUP

for b in nodescore-extender nodescore-agent nodescore-pub; do
	[ -x "$build/$b" ] || { echo "ERROR demo: $build/$b missing (run make)"; exit 1; }
done
for b in setsid curl ss "$PY"; do
	command -v "$b" >/dev/null 2>&1 || { echo "ERROR demo: $b missing (tools/install-deps.sh)"; exit 1; }
done

# port [USED...]: a TCP port nothing listens on, not one of USED.
port() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		case " $* " in *" $p "*) continue ;; esac
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}
# wait_until TENTHS CMD...: polls CMD every 0.1 s; 0 when it succeeded.
wait_until() {
	t=$1
	shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}
SCORES=$(port)
HTTP=$(port $SCORES)
AGENT_HTTP=$(port $SCORES $HTTP)
head -c 32 /dev/urandom >"$dir/key"
chmod 600 "$dir/key"
node=$(hostname | tr 'A-Z' 'a-z' | tr -c 'a-z0-9.\n-' '-')
U=http://127.0.0.1:$HTTP
AU=http://127.0.0.1:$AGENT_HTTP

run "$dir/extender.log" "$build/nodescore-extender" --listen-scores "tcp://127.0.0.1:$SCORES" \
	--listen-http "127.0.0.1:$HTTP" --key-file "$dir/key" --publish-interval 1s
run "$dir/agent.log" "$build/nodescore-agent" --publish "tcp://127.0.0.1:$SCORES" --key-file "$dir/key" \
	--listen-http "127.0.0.1:$AGENT_HTTP" --state-dir "$dir/state" --node-name "$node" \
	--interval 1s --publish-interval 1s --anomaly-step 1s --test-anomaly-file "$dir/anomaly"
run "$dir/pub.log" "$build/nodescore-pub" --connect "tcp://127.0.0.1:$SCORES" --key-file "$dir/key" \
	--nodes "$nodes" --prefix replay- --interval 1s --seed 7

# --- Prometheus and Alertmanager, when installed (started now: they take a
# few seconds; the demo anomaly comes after the load step) -------------------
have_alert=0
if [ "$alert" != 0 ]; then
	missing=""
	for b in prometheus prometheus-alertmanager; do
		command -v "$b" >/dev/null 2>&1 || missing="$missing $b"
	done
	if [ -n "$missing" ]; then
		echo "INFO demo: skipping the alert step:$missing not installed (tools/install-deps.sh installs them)"
	else
		have_alert=1
	fi
fi
if [ $have_alert = 1 ]; then
	HOOKP=$(port $SCORES $HTTP $AGENT_HTTP)
	AMP=$(port $SCORES $HTTP $AGENT_HTTP $HOOKP)
	PROMP=$(port $SCORES $HTTP $AGENT_HTTP $HOOKP $AMP)
	mkdir -p "$dir/hook"
	run "$dir/hook.log" "$PY" "$SINK" "$HOOKP" "$dir/hook"
	# The shipped example and rules with demo timings (docs/alerts.md has
	# the production ones): group_wait 1s, NodeAnomaly's `for` 5s.
	sed -e "s|url: http://alert-receiver.monitoring.svc:9095/hook|url: http://127.0.0.1:$HOOKP/hook|" \
		-e 's/group_wait: 30s/group_wait: 1s/' -e 's/group_interval: 5m/group_interval: 2s/' \
		"$ROOT/daemonset/alertmanager-example.yml" >"$dir/am.yml"
	awk '/- alert: NodeAnomaly/ { a = 1 } a && /^        for: 1m$/ { sub(/1m/, "5s"); a = 0 } { print }' \
		"$ROOT/daemonset/prometheus-rules.yaml" >"$dir/rules.yaml"
	cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $dir/rules.yaml
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$AMP"]}]
scrape_configs:
  - job_name: nodescore-agent
    static_configs: [{targets: ["127.0.0.1:$AGENT_HTTP"]}]
  - job_name: nodescore-extender
    static_configs: [{targets: ["127.0.0.1:$HTTP"]}]
YML
	run "$dir/am.log" prometheus-alertmanager --config.file="$dir/am.yml" --storage.path="$dir/am" \
		--web.listen-address="127.0.0.1:$AMP" --cluster.listen-address=
	run "$dir/prom.log" prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
		--web.listen-address="127.0.0.1:$PROMP" --rules.alert.resend-delay=1s
fi

echo "INFO demo: extender status page $U/ (the same breakdown, refreshes every 5 s)"
echo "INFO demo: agent metrics $AU/metrics"
if [ $have_alert = 1 ]; then
	echo "INFO demo: Prometheus http://127.0.0.1:$PROMP/alerts   Alertmanager http://127.0.0.1:$AMP/#/alerts"
fi
want=$((nodes + 1))
echo "INFO demo: waiting for $want nodes ($nodes replayed + this machine: $node)"
tables() {
	n=$(curl -s --max-time 2 "$U/metrics" | awk '/^nodescore_extender_table_nodes /{print $2}')
	[ "${n:-0}" -ge "$want" ] 2>/dev/null
}
if ! wait_until 150 tables; then
	echo "ERROR demo: not all $want nodes after 15 s; logs:"
	tail -n 5 "$dir"/*.log
	exit 1
fi
grep -h -E '^(SUCCESS|WARNING|ERROR) ' "$dir/agent.log" | head -n 6

# The agent's first sample has no CPU use: it is the difference of two
# /proc/stat reads, and the second comes one --interval later. Until then it
# scores from load1/ncpu (on a shared machine often 1, i.e. "full") with no
# forecast (model_fallback). Wait for a measured CPU sample and for the
# message published after it, so the first ranking is a real one.
agent_metric() { # agent_metric NAME: this node's unlabelled-but-node sample
	curl -s --max-time 2 "$AU/metrics" | awk -v k="$1{node=\"$node\"}" '$1 == k { print $2 }'
}
seq0=
i=0
while [ $i -lt 100 ]; do
	v=$(agent_metric nodescore_node_cpu_util)
	if [ -n "$v" ] && [ "$v" != NaN ]; then
		seq0=$(agent_metric nodescore_agent_publish_seq)
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$seq0" ]; then
	echo "WARNING demo: the agent has not measured CPU use after 10 s; showing what it has"
else
	i=0
	while [ $i -lt 50 ]; do
		s=$(agent_metric nodescore_agent_publish_seq)
		[ "${s:-0}" -gt "$seq0" ] 2>/dev/null && break
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.3
fi

names=$(i=0; while [ $i -lt "$nodes" ]; do printf '"replay-%d",' $i; i=$((i + 1)); done)
fetch() {
	body="{\"Pod\":{\"metadata\":{\"name\":\"demo\"}},\"NodeNames\":[${names}\"$node\"]}"
	curl -s --max-time 5 -X POST -H 'Content-Type: application/json' -d "$body" \
		"$U/prioritize" >"$dir/prio.json"
	curl -s --max-time 5 "$U/" >"$dir/status.html"
	curl -s --max-time 5 "$AU/metrics" >"$dir/agent.prom"
}
show() { # show LABEL [show options]
	fetch
	label=$1
	shift
	"$PY" "$SHOW" show --status "$dir/status.html" --prio "$dir/prio.json" --agent "$dir/agent.prom" \
		--node "$node" --label "$label" "$@"
}
line() { # line PREFIX
	fetch
	"$PY" "$SHOW" line --status "$dir/status.html" --prio "$dir/prio.json" --node "$node" \
		--prefix "$1" --state "$dir/now.json"
}

echo
echo "STEP 1: the ranking, explained. Every agent publishes a score 0..1000 each second;"
echo "the extender answers the scheduler's /prioritize by spreading the candidates' scores over 0..10."
show "before load" --state "$dir/before.json"

# --- step 2: load on this machine -------------------------------------------------
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
# The burners outlive the watch by 15 s so the last "under load" line and the
# summary see them still running (ending at exactly load_s, they were often gone
# by the summary and the ranking looked unchanged); the demo stops them right after.
echo "STEP 2: load. Starting $ncpu CPU burners (python3 busy loops; the demo stops them after"
echo "${load_s} s, and they stop themselves after $((load_s + 15)) s) and watching this machine once a second."
run "$dir/burn.log" "$PY" -c '
import os, sys, time
n, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
for _ in range(n - 1):
    if os.fork() == 0:
        break
while time.monotonic() < end:
    pass
' "$ncpu" "$((load_s + 15))"
burn=$!
t=0
while [ $t -lt "$load_s" ]; do
	sleep 1
	t=$((t + 1))
	line "t+${t}s under load:"
done
show "under load" --compare "$dir/before.json" --state "$dir/load.json"
kill -TERM "-$burn" 2>/dev/null
echo "INFO demo: burners stopped; watching the score recover"
t=0
while [ $t -lt 5 ]; do
	sleep 1
	t=$((t + 1))
	line "t+${t}s after load:"
done

# --- step 3: one demo anomaly ---------------------------------------------------------
echo
echo "STEP 3: an anomaly. Writing a feature name to the agent's --test-anomaly-file (a test hook"
echo "that forces the detector's flag; docs/alerts.md): the extender's /filter removes this machine"
echo "and /prioritize gives it 0."
if [ $have_alert = 1 ]; then
	ready() { curl -sf --max-time 2 "http://127.0.0.1:$AMP/-/ready" && curl -s --max-time 2 \
		"http://127.0.0.1:$PROMP/api/v1/query?query=nodescore_agent_anomaly_flag" | grep -q '"value"'; }
	if ! wait_until 200 ready; then
		echo "WARNING demo: Prometheus or Alertmanager not ready after 20 s; logs:"
		tail -n 3 "$dir/prom.log" "$dir/am.log"
		have_alert=0
	fi
fi
t0=$(date +%s)
echo cpu_util.z_short >"$dir/anomaly.tmp" && mv "$dir/anomaly.tmp" "$dir/anomaly"
flagged() { curl -s --max-time 2 "$U/" | grep "<td>$node</td>" | grep -q 'class="anomaly"'; }
if wait_until 100 flagged; then
	echo "INFO demo: the extender has this machine flagged $(($(date +%s) - t0)) s after the injection"
else
	echo "WARNING demo: the extender does not show the anomaly flag after 10 s"
fi
show "anomaly" --top 3
if [ $have_alert = 1 ]; then
	echo "INFO demo: Prometheus evaluates NodeAnomaly (demo: for 5s), Alertmanager sends it"
	echo "to the webhook (demo: group_wait 1s); waiting up to 45 s"
	if wait_until 450 "$PY" "$SHOW" alert "$dir/hook" "$node"; then
		echo "ALERT demo: NodeAnomaly arrived at the webhook $(($(date +%s) - t0)) s after the injection:"
		"$PY" "$SHOW" alert "$dir/hook" "$node"
	else
		echo "WARNING demo: no NodeAnomaly notification within 45 s (see http://127.0.0.1:$PROMP/alerts)"
	fi
fi
rm -f "$dir/anomaly"
echo "INFO demo: anomaly ended (the flag clears on the next tick)"

if [ "$seconds" -gt 0 ]; then
	end=$(($(date +%s) + seconds))
	while [ "$(date +%s)" -lt "$end" ]; do
		sleep 1
	done
	show "at the end"
	exit 0
fi
echo "INFO demo: running; the ranking refreshes every 10 s. Ctrl-C to stop."
while :; do
	i=0
	while [ $i -lt 10 ]; do
		sleep 1
		i=$((i + 1))
	done
	show "now"
done
