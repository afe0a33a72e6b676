#!/bin/sh
# SPDX-License-Identifier: MIT
# nodescore-agent end to end: the real binary on fixture /proc and cgroup
# trees, its /metrics and /healthz over loopback, history export, garbage in
# every file it reads, clean shutdown, and a real extender receiving it.
# Usage: sh tests/agent_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
AGENT=$B/nodescore-agent
EXT=$B/nodescore-extender
P=$NS_TMP/root
C=$NS_TMP/cg
NODE=itest-node

if [ ! -x "$AGENT" ]; then
	fail agent_binary "missing $AGENT"
	finish
fi

# --- fixture trees ---------------------------------------------------------
# Hand-computed expectations (docs/agent.md has the formula):
#   cpu 0.2 (updater below), mem 1 - 3 GiB / 10 GiB = 0.7, PSI max some = 10 %
#   headroom = 0.5*(1-0.2) + 0.5*(1-0.7) - 0.10 = 0.45
#   score = 1000 * (0.3*0.45 + 0.4*0.45 + 0.3*1) = 615
#   free_millicores = (1-0.2) * 2 * 1000 = 1600, free_mib = 3072
# Its own node, not fixture_proc's (tests/lib.sh): less memory available,
# more pressure. Each good_* function also restores its file below.
mkdir -p "$P/proc/pressure"
good_meminfo() { write_file "$P/proc/meminfo" 'MemTotal:       10485760 kB\nMemFree:         1048576 kB\nMemAvailable:    3145728 kB\n'; }
good_loadavg() { write_file "$P/proc/loadavg" '0.52 0.40 0.30 2/300 4242\n'; }
good_psi() {
	write_file "$P/proc/pressure/cpu" 'some avg10=2.00 avg60=1.00 avg300=0.50 total=100\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'
	write_file "$P/proc/pressure/memory" 'some avg10=4.00 avg60=1.00 avg300=0.50 total=100\nfull avg10=1.00 avg60=0.50 avg300=0.10 total=50\n'
	write_file "$P/proc/pressure/io" 'some avg10=10.00 avg60=5.00 avg300=1.00 total=700\nfull avg10=8.00 avg60=4.00 avg300=0.90 total=600\n'
}
good_diskstats() { write_file "$P/proc/diskstats" '   8       0 sda 1000 0 8000 500 2000 0 16000 1000 0 1500 1500 0 0 0 0 0 0\n'; }
good_meminfo; good_loadavg; good_psi; good_diskstats; fixture_proc_stat "$P" 1
K=$C/kubepods.slice
fixture_kubepods "$C"
fixture_pod "$C" kubepods-pod1111.slice 39 536870912
fixture_pod "$C" kubepods-burstable.slice/kubepods-burstable-pod2222.slice 10 max
fixture_pod "$C" kubepods-besteffort.slice/kubepods-besteffort-pod3333.slice 1 max
KEY=$NS_TMP/key
make_key "$KEY"
# The hand-computed scores assume the heuristic: no models unless a test asks
# (flags win over these); the models section below loads the shipped ones.
export NODESCORE_FORECAST_MODEL=none NODESCORE_ANOMALY_MODEL=none
MODELS=$(dirname "$0")/../models

# /proc/stat advances 10 steps a second while $NS_TMP/pause is absent.
fixture_cpu_ticker "$P" 120 "$NS_TMP/pause"
# Every run that is expected to end is bounded (T seconds): a run that does
# not end fails its check instead of hanging the test.
T=20

# --- help and configuration errors ------------------------------------------
out=$(timeout $T "$AGENT" --help 2>&1); rc=$?
check help_exit0 [ $rc -eq 0 ]
check help_lists_flags sh -c 'echo "$1" | grep -q -- "--proc-root" && echo "$1" | grep -q NODESCORE_PUBLISH_INTERVAL' _ "$out"

bad() { # NAME EXPECTED-SUBSTRING ARGS...: exit 2 and one clear ERROR line
	n=$1; want=$2; shift 2
	err=$(timeout $T "$AGENT" --proc-root "$P" --cgroup-root "$C" --node-name $NODE --key-file "$KEY" \
		--listen-http 127.0.0.1:0 --state-dir "$NS_TMP/state-bad" "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 2 ] && echo "$err" | grep -q "^ERROR agent: .*$want"; then pass "$n"
	else fail "$n" "rc=$rc stderr=$err"; fi
}
bad cfg_interval "bad --interval" --interval 0s
bad cfg_interval_junk "bad --interval" --interval fast
bad cfg_weights "bad --weights" --weights 0.5,0.5
bad cfg_weights_range "bad --weights" --weights 2,0,0
bad cfg_history_cap "bad --history-capacity" --history-capacity 3
bad cfg_history_cap_max "bad --history-capacity.*16..67108864" --history-capacity 67108865
bad cfg_forecast_horizon "bad --forecast-horizon" --forecast-horizon 1500ms
bad cfg_model_reload "bad --model-reload-interval" --model-reload-interval 10ms
bad cfg_anomaly_metrics "unknown metric in --anomaly-metrics" --anomaly-metrics cpu_util,nope
bad cfg_pods_rescan "bad --pods-rescan" --pods-rescan soon
bad cfg_log_level "bad --log-level" --log-level debug
bad cfg_unknown_flag "unknown option --frobnicate" --frobnicate
bad cfg_node_name "invalid node name" --node-name Bad_Name
bad cfg_key_missing "cannot open key file" --key-file "$NS_TMP/nokey"
cp "$KEY" "$NS_TMP/key-public"; chmod 644 "$NS_TMP/key-public"
bad cfg_key_world_readable "world-readable" --key-file "$NS_TMP/key-public"
bad cfg_publish "bad --publish endpoint" --publish 'bogus://x'
bad cfg_listen "bad HTTP listen address" --listen-http nonsense
err=$(NODE_NAME=UPPER timeout $T "$AGENT" --key-file "$KEY" --once 2>&1 >/dev/null); rc=$?
check cfg_node_name_env_validated [ $rc -eq 2 ]
out=$(NODE_NAME=from-env timeout $T "$AGENT" --key-file "$KEY" --once --interval 50ms --proc-root "$P" --cgroup-root "$C" --no-bpf 2>/dev/null)
check node_name_from_env sh -c 'echo "$1" | grep -qx node=from-env' _ "$out"

# --- --once ----------------------------------------------------------------
touch "$NS_TMP/pause"
out=$(timeout $T "$AGENT" --key-file "$KEY" --once --interval 200ms --proc-root "$P" --cgroup-root "$C" --no-bpf \
	--node-name $NODE 2>"$NS_TMP/once.log"); rc=$?
rm -f "$NS_TMP/pause"
has() { echo "$out" | grep -qx "$1"; }
check once_exit0 [ $rc -eq 0 ]
check once_values sh -c 'for k in ncpu=2 mem_util=0.7 mem_total_mib=10240 mem_avail_mib=3072 load1=0.52 \
	psi_io_some=10 psi_mem_full=1 pods=3 pod_cpu_req_m=1234 pod_mem_lim_mib=512 pod_mem_use_mib=100 \
	source_pods=ok source_psi=ok net_mode=sock_diag disk_mode=diskstats pods_layout=v2-systemd \
	flag_model_fallback=1 flag_degraded=0 cpu_util=nan; do
	echo "$1" | grep -qx "$k" || { echo "missing $k" >&2; exit 1; }; done' _ "$out"
# Paused /proc/stat: no CPU delta, so load1/ncpu = 0.26 stands in:
# headroom 0.5*0.74 + 0.15 - 0.10 = 0.42 -> 1000*(0.7*0.42 + 0.3) = 594.
check once_score_by_hand has score=594
check once_no_warnings sh -c '! grep -q "^WARNING" "$1"' _ "$NS_TMP/once.log"

# --- the daemon --------------------------------------------------------------
# HTTP on a port the agent picks (from its start line); the scores port
# cannot be 0, free_port keeps it out of the ephemeral range.
SP=$(free_port)
LOG=$NS_TMP/agent.log
"$AGENT" --proc-root "$P" --cgroup-root "$C" --no-bpf --node-name $NODE --key-file "$KEY" \
	--listen-http 127.0.0.1:0 --publish "tcp://127.0.0.1:$SP" --state-dir "$NS_TMP/state" \
	--interval 200ms --publish-interval 5s --history-interval 1s --history-capacity 1000 \
	--pods-rescan 1s 2>"$LOG" &
APID=$!
NS_PIDS="$NS_PIDS $APID"
AP=$(agent_http_port "$LOG")
M=$NS_TMP/metrics
scrape() { curl -sf --max-time 2 "http://127.0.0.1:$AP/metrics" >"$M"; }
val() { awk -v k="$1" '$1 == k { print $2 }' "$M"; }
near() { # SERIES WANT [TOL]
	v=$(val "$1"); awk -v v="$v" -v w="$2" -v t="${3:-0.0001}" \
		'BEGIN { d = v - w; if (d < 0) d = -d; exit !(v != "" && d <= t) }' ||
		{ echo "  $1 = '$v', want $2" >&2; return 1; }
}
L="{node=\"$NODE\"}"
check daemon_healthz wait_for 10 curl -sf --max-time 5 "http://127.0.0.1:$AP/healthz"
# cpu_util needs two ticks with the updater between them; a loaded machine
# can stall the updater, so take a scrape where the CPU delta is in.
cpu_ok() { scrape && near "nodescore_node_cpu_util$L" 0.2 0.001; }
score_ok() { cpu_ok && near "nodescore_agent_score$L" 615 0 && near "nodescore_agent_headroom$L" 0.45 0.0001 &&
	near "nodescore_agent_free_millicores$L" 1600 0 && near "nodescore_agent_free_mib$L" 3072 0; }
check metrics_cpu_util wait_for 10 cpu_ok
check metrics_score_by_hand wait_for 10 score_ok
check metrics_fixture_values sh -c '
	for kv in mem_util:0.7 ncpu:2 load1:0.52 psi_cpu_some:2 psi_mem_some:4 psi_io_full:8 \
		pods:3 pod_cpu_requests_cores:1.234 pod_mem_limit_bytes:536870912 \
		pod_mem_use_bytes:104857600 mem_avail_bytes:3221225472; do
		k=${kv%%:*}; w=${kv#*:}
		v=$(awk -v k="nodescore_node_$k{node=\"'$NODE'\"}" "\$1 == k { print \$2 }" "$1")
		awk -v v="$v" -v w="$w" "BEGIN { d = v - w; if (d < 0) d = -d; exit !(v != \"\" && d < 1e-4) }" ||
			{ echo "  $k = $v, want $w" >&2; exit 1; }
	done' _ "$M"
check metrics_modes sh -c 'grep -q "^nodescore_agent_source_mode{node=\"[^\"]*\",source=\"net\",mode=\"sock_diag\"} 1" "$1" &&
	grep -q "source=\"disk\",mode=\"diskstats\"} 1" "$1" && grep -q "source=\"pods\",mode=\"v2-systemd\"} 1" "$1"' _ "$M"
check metrics_all_sources_healthy sh -c '! grep "^nodescore_agent_source_healthy" "$1" | grep -q " 0$"' _ "$M"
check metrics_flags sh -c 'grep -q "flag=\"degraded\"} 0" "$1" && grep -q "flag=\"model_fallback\"} 1" "$1"' _ "$M"
check metrics_published sh -c 'awk "/^nodescore_agent_publish_total/ { exit !(\$2 >= 1) }" "$1"' _ "$M"
check metrics_histogram sh -c 'grep -q "^nodescore_agent_loop_duration_seconds_bucket{node=\"[^\"]*\",le=\"+Inf\"} [1-9]" "$1"' _ "$M"
check metrics_prometheus_format sh -c '! grep -v "^#" "$1" | grep -vE "^[a-z_0-9]+(\{[^}]*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$" | grep -q .' _ "$M"
if command -v promtool >/dev/null 2>&1; then
	# Lint about unit spellings is not an error: the names are the history CSV's.
	check metrics_promtool sh -c 'promtool check metrics <"$1" 2>&1 | grep -v "abbreviated units" | (! grep -q .)' _ "$M"
fi
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/nope")
check http_404 [ "$code" = 404 ]
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$AP/metrics")
check http_405 [ "$code" = 405 ]

# --- history -------------------------------------------------------------------
hist_ok() {
	timeout $T "$AGENT" --export-history "$NS_TMP/h.csv" --state-dir "$NS_TMP/state" 2>/dev/null &&
		[ "$(wc -l <"$NS_TMP/h.csv")" -ge 3 ]
}
check history_export_while_running wait_for 10 hist_ok
check history_csv_values awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	{ n++; if ($c["mem_util"] < 0.6999 || $c["mem_util"] > 0.7001 || $c["pods"] != 3) bad = 1 }
	END { exit !(n >= 2 && !bad) }' "$NS_TMP/h.csv"
check history_export_no_temp_left sh -c '! ls "$1".tmp.* >/dev/null 2>&1 && [ "$(stat -c %a "$1")" = 644 ]' _ "$NS_TMP/h.csv"
# A failed export (rename onto a directory) leaves neither a partial file nor a temp file.
mkdir -p "$NS_TMP/isdir"
timeout $T "$AGENT" --export-history "$NS_TMP/isdir" --state-dir "$NS_TMP/state" 2>"$NS_TMP/exp2.err"; rc=$?
check history_export_failure_atomic sh -c '[ "$1" -eq 1 ] && grep -q "^ERROR agent: history export failed" "$2" &&
	! ls "$3".tmp.* >/dev/null 2>&1 && [ -d "$3" ]' _ $rc "$NS_TMP/exp2.err" "$NS_TMP/isdir"
timeout $T "$AGENT" --export-history - --state-dir "$NS_TMP/nostate" >/dev/null 2>"$NS_TMP/exp.err"; rc=$?
check history_export_missing_is_error sh -c '[ "$1" -ne 0 ] && grep -q "^ERROR agent: cannot open history" "$2"' _ $rc "$NS_TMP/exp.err"
# Refused at start; were it not, it would run as the daemon: bounded.
timeout $T "$AGENT" --proc-root "$P" --cgroup-root "$C" --no-bpf --node-name $NODE --key-file "$KEY" \
	--listen-http 127.0.0.1:0 --state-dir "$NS_TMP/state" --history-capacity 1000 2>"$NS_TMP/second.log"; rc=$?
check history_second_writer_refused sh -c '[ "$1" -eq 2 ] && grep -q "another agent uses this --state-dir" "$2"' _ $rc "$NS_TMP/second.log"

# --- garbage in every file the agent reads ------------------------------------
garbage() { head -c 3000 /dev/urandom >"$1.tmp" && mv "$1.tmp" "$1"; }
huge() { yes 'cpu  1 2 3 4 5 6 7 8 9 10' | head -c 200000 >"$1.tmp" && mv "$1.tmp" "$1"; }
unhealthy() { scrape && grep -q "source_healthy{node=\"$NODE\",source=\"$1\"} 0" "$M" &&
	grep -q 'flag="degraded"} 1' "$M"; }
healthy() { scrape && grep -q "source_healthy{node=\"$NODE\",source=\"$1\"} 1" "$M"; }
alive() { kill -0 $APID 2>/dev/null && curl -sf --max-time 2 "http://127.0.0.1:$AP/healthz" >/dev/null; }
imm0=$(scrape && val "nodescore_agent_publish_immediate_total$L")
survive() { # NAME FILE SOURCE RESTORE-CMD
	n=$1; f=$2; src=$3; restore=$4
	ok=1
	for kind in garbage huge empty; do
		case $kind in
		garbage) garbage "$f" ;;
		huge) huge "$f" ;;
		empty) : >"$f" ;;
		esac
		wait_for 5 unhealthy "$src" || { ok=0; echo "  $n: $src not unhealthy after $kind" >&2; }
		alive || { ok=0; echo "  $n: agent died after $kind" >&2; }
	done
	$restore
	wait_for 5 healthy "$src" || { ok=0; echo "  $n: $src did not recover" >&2; }
	[ $ok -eq 1 ] && pass "$n" || fail "$n"
}
touch "$NS_TMP/pause"
sleep 0.3 # let a write in flight finish
survive garbage_proc_stat "$P/proc/stat" cpu "fixture_proc_stat $P 100000"
rm -f "$NS_TMP/pause"
survive garbage_meminfo "$P/proc/meminfo" mem good_meminfo
survive garbage_loadavg "$P/proc/loadavg" load good_loadavg
survive garbage_psi_cpu "$P/proc/pressure/cpu" psi good_psi
survive garbage_psi_memory "$P/proc/pressure/memory" psi good_psi
survive garbage_psi_io "$P/proc/pressure/io" psi good_psi
survive garbage_diskstats "$P/proc/diskstats" disk good_diskstats
W=$K/kubepods-burstable.slice/kubepods-burstable-pod2222.slice/cpu.weight
survive garbage_cpu_weight "$W" pods "write_file $W 10\n"
survive garbage_memory_max "$K/kubepods-pod1111.slice/memory.max" pods "write_file $K/kubepods-pod1111.slice/memory.max 536870912\n"
good_cpu_stat() { write_file "$K/cpu.stat" 'usage_usec 9000000\n'; }
good_memory_current() { write_file "$K/memory.current" '104857600\n'; }
survive garbage_cpu_stat "$K/cpu.stat" pods good_cpu_stat
survive garbage_memory_current "$K/memory.current" pods good_memory_current
scrape
imm1=$(val "nodescore_agent_publish_immediate_total$L")
check publish_immediately_on_degraded [ "${imm1:-0}" -gt "${imm0:-0}" ]
# One WARNING per state change, never one per tick: each episode above spans
# many 200 ms ticks but changes state at most three times (garbage, huge, empty).
nw=$(grep -c '^WARNING sampler: source failing.*source=meminfo' "$LOG")
check warnings_rate_limited [ "$nw" -ge 1 ] && [ "$nw" -le 3 ]
check recovered_logged grep -q '^INFO sampler: source recovered source=meminfo' "$LOG"
check log_format log_format_ok "$LOG"
check all_healthy_again wait_for 5 sh -c 'curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | grep -q "flag=\"degraded\"} 0"' _ "$AP"

# --- models --------------------------------------------------------------------
# The shipped models, copied so the test can damage them. --weights 0.5,0,0.5
# leaves out the Q part (no Q-table exists yet): with both models loaded no
# part of the score is a heuristic and the model-fallback flag clears.
MD=$NS_TMP/models
mkdir -p "$MD/fc" && cp "$MODELS/forecast-default/manifest.json" "$MODELS/forecast-default/forecast.nsf" "$MD/fc/" &&
	cp "$MODELS/iforest-default.nsif" "$MD/a.nsif"
"$AGENT" --proc-root "$P" --cgroup-root "$C" --no-bpf --node-name model-node --key-file "$KEY" \
	--listen-http 127.0.0.1:0 --publish "tcp://127.0.0.1:$SP" --history-interval 0 \
	--interval 200ms --weights 0.5,0,0.5 --forecast-model "$MD/fc" --anomaly-model "$MD/a.nsif" \
	--model-reload-interval 1s 2>"$NS_TMP/models.log" &
MPID=$!
NS_PIDS="$NS_PIDS $MPID"
MP=$(agent_http_port "$NS_TMP/models.log")
MM=$NS_TMP/models.metrics
mscrape() { curl -sf --max-time 2 "http://127.0.0.1:$MP/metrics" >"$MM"; }
mhas() { mscrape && grep -qE "$1" "$MM"; }
ML='node="model-node"'
check models_loaded wait_for 10 mhas "^nodescore_agent_model_loaded\{$ML,model=\"forecast\",version=\"[^\"]+\"\} 1"
check models_anomaly_loaded mhas "^nodescore_agent_model_loaded\{$ML,model=\"anomaly\",version=\"nsif-1\"\} 1"
check models_fallback_flag_cleared wait_for 10 mhas "^nodescore_agent_flag\{$ML,flag=\"model_fallback\"\} 0"
check models_forecast_in_range awk -v k="nodescore_agent_forecast_peak{$ML,resource=\"cpu\",horizon_seconds=\"3600\"}" \
	'$1 == k { f = 1; ok = ($2 != "NaN" && $2 >= 0 && $2 <= 1) } END { exit !(f && ok) }' "$MM"
# No --qtable: the default file (absent until one is trained) or nothing; the series exist either way.
check models_qtable_series mhas "^nodescore_agent_model_reload_rejected_total\{$ML,model=\"qtable\"\} 0"
check models_anomaly_series mhas "^nodescore_agent_anomaly_raw_score\{$ML\} 0\.[0-9]"
check models_prometheus_format sh -c '! grep -v "^#" "$1" | grep -vE "^[a-z_0-9]+(\{[^}]*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$" | grep -q .' _ "$MM"
# One byte changed in place: SHA-256 mismatch, rejected, the old model stays.
printf 'Z' | dd of="$MD/fc/forecast.nsf" bs=1 seek=5000 conv=notrunc 2>/dev/null
touch -d '+5 seconds' "$MD/fc/forecast.nsf"
check models_bad_bundle_rejected wait_for 10 mhas "^nodescore_agent_model_reload_rejected_total\{$ML,model=\"forecast\"\} 1"
check models_bad_bundle_old_kept mhas "^nodescore_agent_model_loaded\{$ML,model=\"forecast\",version=\"[^\"]+\"\} 1"
check models_bad_bundle_error_logged grep -q '^ERROR models: forecast bundle rejected, keeping the loaded one' "$NS_TMP/models.log"
# A good bundle again (new inode, as a ConfigMap symlink swap gives): swapped in.
cp "$MODELS/forecast-default/forecast.nsf" "$MD/fc/forecast.nsf.new" && mv "$MD/fc/forecast.nsf.new" "$MD/fc/forecast.nsf"
check models_good_bundle_reloaded wait_for 10 mhas "^nodescore_agent_model_reloads_total\{$ML,model=\"forecast\"\} 1"
check models_log_format log_format_ok "$NS_TMP/models.log"
kill $MPID 2>/dev/null

# --- loop cost -----------------------------------------------------------------
# Budget: one iteration p99 < 1 ms of the loop's own time. The test machine
# is shared with parallel builds, so the assertion uses the loop thread's CPU
# time (nodescore_agent_loop_cpu_seconds), which other processes' time slices
# do not inflate; the wall-clock histogram is reported next to it. Measured
# with BPF latency sources (the default); the sock_diag fallback costs what the
# kernel's walk of the TCP hash table costs (milliseconds on big-memory hosts).
loop_fig() { # PORT NODE HISTOGRAM -> "count within_1ms"
	curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" -v h="$3" '
		$1 == h "_count{node=\"" n "\"}" { t = $2 }
		$1 == h "_bucket{node=\"" n "\",le=\"0.001\"}" { a = $2 }
		END { print t + 0, a + 0 }'
}
echo "  --no-bpf loop (count, within 1 ms): wall $(loop_fig "$AP" "$NODE" nodescore_agent_loop_duration_seconds)," \
	"cpu $(loop_fig "$AP" "$NODE" nodescore_agent_loop_cpu_seconds)" >&2
"$AGENT" --proc-root "$P" --cgroup-root "$C" --node-name loop-node --key-file "$KEY" \
	--listen-http 127.0.0.1:0 --publish "tcp://127.0.0.1:$SP" --history-interval 0 \
	--interval 20ms --forecast-model "$MODELS/forecast-default" \
	--anomaly-model "$MODELS/iforest-default.nsif" --anomaly-step 1s 2>"$NS_TMP/loop.log" &
LPID=$!
NS_PIDS="$NS_PIDS $LPID"
LP=$(agent_http_port "$NS_TMP/loop.log")
wait_for 5 curl -sf --max-time 5 "http://127.0.0.1:$LP/healthz"
sleep 5
if links "$AGENT" 'libasan\|libubsan\|libtsan'; then
	skip loop_p99_under_1ms "sanitizer build: instrumentation, not the loop, sets the figure"
elif ! curl -sf --max-time 5 "http://127.0.0.1:$LP/metrics" | grep -q 'source="net",mode="bpf"'; then
	skip loop_p99_under_1ms "BPF not available here: the fallback path is not held to 1 ms"
else
	echo "  bpf loop (count, within 1 ms): wall $(loop_fig "$LP" loop-node nodescore_agent_loop_duration_seconds)" >&2
	set -- $(loop_fig "$LP" loop-node nodescore_agent_loop_cpu_seconds)
	echo "  bpf loop (count, within 1 ms): cpu $1 $2" >&2
	check loop_p99_under_1ms awk -v t="$1" -v a="$2" 'BEGIN { exit !(t >= 100 && a / t >= 0.99) }'
fi
kill $LPID 2>/dev/null

# --- the extender sees the node ------------------------------------------------------
if [ ! -x "$EXT" ]; then
	skip extender_receives_node "no $EXT (build the extender first)"
else
	start_extender "$EXT" "$NS_TMP/ext.log" --listen-scores "tcp://127.0.0.1:$SP" --key-file "$KEY" \
		--publish-interval 1s
	EP=$(extender_http_port "$NS_TMP/ext.log")
	# a second agent with another key must be rejected, not listed
	make_key "$NS_TMP/key2"
	"$AGENT" --proc-root "$P" --cgroup-root "$C" --no-bpf --node-name intruder --key-file "$NS_TMP/key2" \
		--listen-http "" --publish "tcp://127.0.0.1:$SP" --history-interval 0 --interval 200ms \
		--publish-interval 200ms 2>/dev/null &
	NS_PIDS="$NS_PIDS $!"
	in_table() { curl -sf --max-time 5 "http://127.0.0.1:$EP/metrics" | grep -q '^nodescore_extender_table_nodes 1$'; }
	check extender_receives_node wait_for 15 in_table
	prio() {
		curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' \
			-d "{\"Pod\":{},\"NodeNames\":[\"$NODE\",\"intruder\"]}" \
			"http://127.0.0.1:$EP/prioritize" >"$NS_TMP/prio.json"
	}
	check extender_prioritize prio
	check extender_prioritize_has_node /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
h = {x["Host"]: x["Score"] for x in r}
sys.exit(not (sys.argv[2] in h and 0 <= h[sys.argv[2]] <= 10))' "$NS_TMP/prio.json" "$NODE"
	check extender_status_lists_node sh -c 'curl -sf --max-time 5 "http://127.0.0.1:$1/" | grep -q "$2" && ! curl -sf --max-time 5 "http://127.0.0.1:$1/" | grep -q intruder' _ "$EP" "$NODE"
	check extender_rejects_wrong_key wait_for 5 sh -c 'curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | grep -E "messages_rejected_total\{reason=\"bad_mac\"\} [1-9]" >/dev/null' _ "$EP"
fi

# --- shutdown --------------------------------------------------------------------
check sigterm_clean_exit stop_pid $APID
check sigterm_logged grep -q "^INFO agent: shutting down node=$NODE" "$LOG"
summary
