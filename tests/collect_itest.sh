# SPDX-License-Identifier: MIT
# nodescore-collect against a real Prometheus (Debian's binary) on 127.0.0.1:
# live series of a real prometheus-node-exporter and nodescore-agent scraped
# every second, plus 26 h of node-exporter-shaped history backfilled with
# promtool (nodescore-train needs a day of data plus the horizon, which no
# short test can scrape), collected into CSV and trained on by
# nodescore-train; then the failure cases: closed port, a server that is not
# Prometheus, a bad selector, an empty result, an over-large reply.
. tests/lib.sh
BUILD=${1:-build}
COL=$BUILD/nodescore-collect
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY

for b in prometheus promtool prometheus-node-exporter curl; do
	if ! command -v "$b" >/dev/null 2>&1; then
		skip collect_all "$b not installed (tools/install-deps.sh installs it)"
		finish
	fi
done
if [ ! -x "$COL" ] || [ ! -x "$BUILD/nodescore-train" ]; then
	fail collect_binaries "missing $COL or $BUILD/nodescore-train"
	finish
fi
check help_exits_0 sh -c "'$COL' --help >/dev/null"

# --- backfill: 26 h at 30 s ending 10 min ago ----------------------------
# cpu_util (user share of 2 CPUs) = 0.3 + 0.2 sin(day) + 0.05 sin(t / 700 s),
# mem_util = 1 - MemAvailable / MemTotal = 0.4 + 0.1 sin(day), both in the
# ranges checked below.
NOW=$(date +%s)
BF_END=$(((NOW - 600) / 60 * 60))
BF_START=$((BF_END - 26 * 3600))
awk -v t0="$BF_START" -v n=$((26 * 120)) 'BEGIN {
	pi = 3.14159265; lbl = "instance=\"backfill-node\",job=\"node\""
	print "# TYPE node_cpu_seconds_total counter"
	for (c = 0; c < 2; c++) for (m = 0; m < 2; m++) {
		mode = m ? "user" : "idle"; v = 0
		for (i = 0; i < n; i++) {
			t = t0 + i * 30; u = 0.3 + 0.2 * sin(2 * pi * t / 86400) + 0.05 * sin(t / 700)
			v += 30 * (m ? u : 1 - u)
			printf "node_cpu_seconds_total{cpu=\"%d\",%s,mode=\"%s\"} %.3f %d\n", c, lbl, mode, v, t
		}
	}
	print "# TYPE node_memory_MemTotal_bytes gauge"
	for (i = 0; i < n; i++) printf "node_memory_MemTotal_bytes{%s} 8589934592 %d\n", lbl, t0 + i * 30
	print "# TYPE node_memory_MemAvailable_bytes gauge"
	for (i = 0; i < n; i++) {
		t = t0 + i * 30
		printf "node_memory_MemAvailable_bytes{%s} %.0f %d\n", lbl, 8589934592 * (0.6 - 0.1 * sin(2 * pi * t / 86400)), t
	}
	print "# EOF"
}' >"$NS_TMP/backfill.om"
check backfill_blocks promtool tsdb create-blocks-from openmetrics "$NS_TMP/backfill.om" "$NS_TMP/tsdb" \
	>"$NS_TMP/promtool.log" 2>&1

# --- live targets and Prometheus -------------------------------------------
NE=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NE" >"$NS_TMP/ne.log" 2>&1 &
NS_PIDS="$NS_PIDS $!"
AG=""
if [ -x "$BUILD/nodescore-agent" ]; then
	AG=$(free_port)
	make_key "$NS_TMP/key"
	# Nothing listens on the publish port: the agent only needs to serve /metrics.
	"$BUILD/nodescore-agent" --publish "tcp://127.0.0.1:$(free_port)" --key-file "$NS_TMP/key" \
		--listen-http "127.0.0.1:$AG" --state-dir "$NS_TMP/state" --node-name collect-test \
		--interval 1s --publish-interval 1s --no-bpf 2>"$NS_TMP/agent.log" &
	NS_PIDS="$NS_PIDS $!"
fi
# The backfilled blocks are in $NS_TMP/tsdb, where start_prometheus keeps its data.
prometheus_config "$NS_TMP/prometheus.yml" "" node="$NE" nodescore-agent="${AG:-1}"
start_prometheus "$NS_TMP/prometheus.yml"
P=$PROM_URL
# 30 scrapes of the live exporter (bounded: 60 s), enough for 1 s and 5 s grids.
check live_samples_scraped wait_for 60 prom_has_value "count_over_time(node_load1{instance=\"127.0.0.1:$NE\"}[1m]) >= 30"

# --- live node-exporter, 1 s and 5 s grids ---------------------------------
END=$(($(date +%s) - 2))
START=$((END - 20))
NODE="127\\.0\\.0\\.1:$NE"
"$COL" --prometheus "$P" --start "$START" --end "$END" --step 1s --window 5s --node "$NODE" \
	--out "$NS_TMP/live.csv" 2>"$NS_TMP/live.log"
check live_exit_0 test $? -eq 0
check live_progress grep -q 'INFO collect: chunk 1/1 points=21 series=1 nodes=1' "$NS_TMP/live.log"
check live_header grep -qx 'timestamp_ms,cpu_util,mem_util,load1,load5,load15,ncpu,mem_total_mib,mem_avail_mib.*' "$NS_TMP/live.csv"
NCPU=$(grep -c '^cpu[0-9]' /proc/stat)
MEMMIB=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
# Rows: every grid point from the first with data (the exporter answered
# well before START), timestamps on the 1 s grid, values in range.
awk -F, -v s="$START" -v e="$END" -v ncpu="$NCPU" -v mem="$MEMMIB" '
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{
		rows++; t = $1
		if (t % 1000 || t < s * 1000 || t > e * 1000 || (prev && t != prev + 1000)) bad = bad " time@" NR
		prev = t
		c = $(col["cpu_util"]); m = $(col["mem_util"])
		if (c == "" || c < 0 || c > 1) bad = bad " cpu@" NR
		if (m == "" || m <= 0 || m >= 1) bad = bad " mem@" NR
		if ($(col["ncpu"]) != ncpu) bad = bad " ncpu@" NR
		d = $(col["mem_total_mib"]) - mem; if (d < -mem / 100 || d > mem / 100) bad = bad " memtotal@" NR
		if ($(col["load1"]) < 0) bad = bad " load@" NR
	}
	END { if (rows != e - s + 1) bad = bad " rows=" rows; if (bad) { print bad; exit 1 } }' \
	"$NS_TMP/live.csv" >"$NS_TMP/live.check" 2>&1
check live_rows_and_ranges test $? -eq 0
[ -s "$NS_TMP/live.check" ] && cat "$NS_TMP/live.check"

"$COL" --prometheus "$P" --start "$START" --end "$END" --step 5s --window 5s --node "$NODE" \
	--out "$NS_TMP/live5.csv" 2>"$NS_TMP/live5.log"
check live_5s_exit_0 test $? -eq 0
# Grid points are absolute multiples of 5 s inside [START, END]: 4 or 5.
check live_5s_rows awk -F, 'NR > 1 { if ($1 % 5000) exit 1; n++ } END { exit !(n >= 4 && n <= 5) }' \
	"$NS_TMP/live5.csv"

# --- the agent's own gauges --------------------------------------------------
if [ -n "$AG" ]; then
	"$COL" --prometheus "$P" --source agent --node collect-test --start "$START" --end "$END" \
		--step 1s --window 5s --out "$NS_TMP/agent.csv" 2>"$NS_TMP/agent-col.log"
	check agent_source_exit_0 test $? -eq 0
	check agent_source_header grep -q '^timestamp_ms,cpu_util,mem_util,.*ncpu' "$NS_TMP/agent.csv"
	check agent_source_rows awk -F, 'NR > 1 && $2 != "" && $2 >= 0 && $2 <= 1 && $3 > 0 && $3 < 1 { n++ } END { exit !(n >= 15) }' \
		"$NS_TMP/agent.csv"
	# The agent exposes base units (bytes); the collector scales them back to
	# the CSV's MiB: mem_total_mib must match /proc/meminfo here.
	total_mib=$(awk '$1 == "MemTotal:" { printf "%.0f", $2 / 1024 }' /proc/meminfo)
	check agent_source_mib_scaled awk -F, -v want="$total_mib" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == "mem_total_mib") c = i; next }
		c && $c != "" { d = $c - want; if (d < 0) d = -d; if (d > 1) exit 1; n++ }
		END { exit !(n >= 15) }' "$NS_TMP/agent.csv"
	# Every series the agent source asks for (one per column, from the
	# queries the collector prints) exists on the agent.
	curl -s --max-time 5 "http://127.0.0.1:$AG/metrics" >"$NS_TMP/agent.prom"
	"$COL" --source agent --print-queries >"$NS_TMP/agent.queries"
	check agent_print_queries_exit_0 test $? -eq 0
	check agent_source_series_exist sh -c '
		n=0
		for m in $(cut -f 2 "$1" | grep -o "nodescore_node_[a-z0-9_]*{" | tr -d "{" | sort -u); do
			grep -q "^$m{" "$2" || { echo "  $m not on the agent" >&2; exit 1; }
			n=$((n + 1))
		done
		[ "$n" -gt 0 ] && [ "$n" -eq "$(wc -l <"$1")" ] || { echo "  $n series for $(wc -l <"$1") queries" >&2; exit 1; }' \
		_ "$NS_TMP/agent.queries" "$NS_TMP/agent.prom"
else
	skip agent_source "$BUILD/nodescore-agent not built"
fi

# --- backfilled day, chunks, training ---------------------------------------
"$COL" --prometheus "$P" --start "$BF_START" --end "$BF_END" --step 60s --node backfill-node \
	--out "$NS_TMP/bf.csv" 2>"$NS_TMP/bf.log"
check backfill_exit_0 test $? -eq 0
check backfill_header grep -qx 'timestamp_ms,cpu_util,mem_util,ncpu,mem_total_mib,mem_avail_mib' "$NS_TMP/bf.csv"
# The first point has no CPU rate: its window holds one sample.
check backfill_rows_and_ranges awk -F, 'NR > 1 {
		if ($2 == "") { e++; next }
		n++; if ($2 < 0.04 || $2 > 0.56 || $3 < 0.29 || $3 > 0.51 || $4 != 2 || $5 != 8192) exit 1
	} END { exit !(n == 1560 && e == 1) }' "$NS_TMP/bf.csv"
"$COL" --prometheus "$P" --start "$BF_START" --end "$BF_END" --step 60s --node backfill-node \
	--chunk-points 500 --out "$NS_TMP/bf-chunked.csv" 2>"$NS_TMP/bf-chunked.log"
check chunked_exit_0 test $? -eq 0
check chunked_progress grep -q 'chunk 4/4 points=61 ' "$NS_TMP/bf-chunked.log"
check chunked_equals_single cmp -s "$NS_TMP/bf.csv" "$NS_TMP/bf-chunked.csv"

# Smallest valid training: nodescore-train keeps series of at least a day
# plus twice the longest horizon (1 min here) and needs 100 training rows.
"$BUILD/nodescore-train" forecast --format agent --step 60s --horizons 1m --stride 1m --trees 10 \
	--out "$NS_TMP/bundle" "$NS_TMP/bf.csv" >"$NS_TMP/train.log" 2>&1
check train_on_collected_csv test $? -eq 0
check train_bundle_written test -s "$NS_TMP/bundle/forecast.nsf"
check train_used_rows grep -q 'rows ready train_rows=1[0-9][0-9][0-9] ' "$NS_TMP/train.log"

# --out-dir: one file per node, every node matched.
"$COL" --prometheus "$P" --start "$START" --end "$END" --step 1s --window 5s \
	--selector 'job="node"' --out-dir "$NS_TMP/dir" 2>"$NS_TMP/dir.log"
check out_dir_exit_0 test $? -eq 0
check out_dir_files test -s "$NS_TMP/dir/127.0.0.1_$NE.csv" -a "$(ls "$NS_TMP/dir" | wc -l)" -eq 1

# --- failures: non-zero, a clear message, no file ---------------------------
fails() { # NAME PATTERN ARGS...: exit status non-zero, stderr matches, no --out file
	n=$1; pat=$2; shift 2
	rm -f "$NS_TMP/err.csv"
	"$COL" "$@" --out "$NS_TMP/err.csv" >"$NS_TMP/$n.out" 2>"$NS_TMP/$n.log"
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "$pat" "$NS_TMP/$n.log" && [ ! -e "$NS_TMP/err.csv" ]; then
		pass "$n"
	else
		fail "$n" "rc=$rc"
		cat "$NS_TMP/$n.log"
	fi
}
CLOSED=$(free_port)
fails unreachable_server "ERROR collect: cannot query Prometheus.*Couldn't connect" \
	--prometheus "http://127.0.0.1:$CLOSED" --hours 1
# A server that accepts and never answers: the request stops at --timeout.
SILENT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); c = s.accept(); time.sleep(5)' "$SILENT" &
NS_PIDS="$NS_PIDS $!"
wait_for 5 port_listening "$SILENT"
fails silent_server_times_out "cannot query Prometheus.*timed out after 1[0-9]* milliseconds" \
	--prometheus "http://127.0.0.1:$SILENT" --hours 1 --timeout 1s
fails not_prometheus "ERROR collect: query failed.*malformed reply.*not JSON" \
	--prometheus "http://127.0.0.1:$NE" --hours 1
fails bad_selector "ERROR collect: query failed.*http=400.*bad_data: .*parse error" \
	--prometheus "$P" --hours 1 --selector 'job=~"("'
fails bad_label_name "ERROR collect: query failed.*bad_data" \
	--prometheus "$P" --hours 1 --selector '0job="x"'
fails empty_result "ERROR collect: empty result: no series matched" \
	--prometheus "$P" --hours 1 --node no-such-node
fails reply_too_large "reply larger than 4096 bytes" \
	--prometheus "$P" --start "$BF_START" --end "$BF_END" --node backfill-node --max-response 4Ki
fails out_needs_one_node "matched nodes=2" \
	--prometheus "$P" --start $((BF_END - 120)) --end "$END" --step 1s --window 5s
fails brace_in_selector "bad --selector" --prometheus "$P" --hours 1 --selector 'a="b"} or vector(1'
fails bad_step "bad --step" --prometheus "$P" --step 0s
fails too_many_points "more than .* points" --prometheus "$P" --days 100 --step 1s
check usage_exit_2 sh -c "'$COL' --prometheus '$P' --hours 1 >/dev/null 2>&1; test \$? -eq 2"
summary
