#!/bin/sh
# SPDX-License-Identifier: MIT
# Agent overhead benchmark: nodescore-agent (BPF on) and Debian's
# prometheus-node-exporter side by side, both scraped every second for
# NS_BENCH_SECONDS (60); CPU from /proc/PID/stat, RSS from /proc/PID/status,
# BPF in-kernel time from bpftool, the agent's loop p99 from its /metrics.
# Then the history ring micro-benchmark. Table on stdout and in $1/bench-agent.md.
# Usage: tools/bench/agent.sh BUILD_DIR   (NS_BENCH_STRICT=1: exit 1 on a MISS)
set -u
build=${1:-build}
secs=${NS_BENCH_SECONDS:-60}
strict=${NS_BENCH_STRICT:-0}
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/lib.sh"

agent=$build/nodescore-agent
ringbench=$build/nodescore-ringbench
ne=$(command -v prometheus-node-exporter || true)
out=$build/bench-agent.md
rc=0
hz=$(getconf CLK_TCK)
stats_file=/proc/sys/kernel/bpf_stats_enabled
stats_old=

err() { echo "ERROR bench-agent: $*"; }
info() { echo "INFO bench-agent: $*"; }

cleanup() {
	# Put the kernel's BPF run-time accounting back the way we found it.
	[ -n "$stats_old" ] && echo "$stats_old" >"$stats_file" 2>/dev/null
	ns_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

case "$secs" in '' | *[!0-9]*) err "NS_BENCH_SECONDS must be a number of seconds"; exit 2 ;; esac
[ "$secs" -ge 5 ] && [ "$secs" -le 3600 ] || { err "NS_BENCH_SECONDS must be 5..3600"; exit 2; }
if [ -z "$ne" ]; then
	err "prometheus-node-exporter not installed (tools/install-deps.sh installs it)"
	exit 1
fi
have_agent=1
if [ ! -x "$agent" ]; then
	err "agent binary not found path=$agent (build it first: make BUILD=$build); measuring node-exporter only"
	have_agent=0
	rc=1
fi
if [ "$(id -u)" != 0 ]; then
	info "not root: the agent falls back to sock_diag/diskstats instead of BPF"
fi

# utime+stime in clock ticks; fields counted after the ")" closing comm.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
now_ns() { date +%s%N; }
# Summed run_time_ns and run_cnt of the BPF programs a process holds, found through the
# prog_id lines of its fds' fdinfo (this bpftool cannot list owner pids).
bpf_ns() {
	ids=$(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" {print $2}' | sort -u | tr '\n' ' ')
	bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
ids = {int(x) for x in sys.argv[1].split()}
try:
    progs = json.load(sys.stdin)
except Exception:
    progs = []
mine = [p for p in progs if p.get("id") in ids]
print(sum(p.get("run_time_ns", 0) for p in mine), sum(p.get("run_cnt", 0) for p in mine))' "$ids"
}

ne_port=$(free_port)
"$ne" --web.listen-address="127.0.0.1:$ne_port" >"$NS_TMP/ne.log" 2>&1 &
ne_pid=$!
NS_PIDS="$NS_PIDS $ne_pid"

agent_pid=
if [ "$have_agent" = 1 ]; then
	a_http=$(free_port)
	a_pub=$(free_port)
	make_key "$NS_TMP/key"
	mkdir -p "$NS_TMP/state"
	"$agent" --interval 1s --publish "tcp://127.0.0.1:$a_pub" --key-file "$NS_TMP/key" \
		--listen-http "127.0.0.1:$a_http" --state-dir "$NS_TMP/state" \
		>"$NS_TMP/agent.log" 2>&1 &
	agent_pid=$!
	NS_PIDS="$NS_PIDS $agent_pid"
	if ! wait_for 15 curl -sf -o /dev/null "http://127.0.0.1:$a_http/metrics"; then
		err "agent did not serve /metrics within 15 s; its log:"
		sed 's/^/  /' "$NS_TMP/agent.log"
		exit 1
	fi
	grep -q "using bpf" "$NS_TMP/agent.log" && agent_mode=bpf || agent_mode=fallback
	info "agent up pid=$agent_pid latency_sources=$agent_mode"
fi
if ! wait_for 15 curl -sf -o /dev/null "http://127.0.0.1:$ne_port/metrics"; then
	err "node-exporter did not serve /metrics within 15 s; its log:"
	sed 's/^/  /' "$NS_TMP/ne.log"
	exit 1
fi
ne_version=$("$ne" --version 2>&1 | awk 'NR==1{print $3}')
info "node-exporter up pid=$ne_pid version=$ne_version"

if [ "$(id -u)" = 0 ] && [ -w "$stats_file" ]; then
	stats_old=$(cat "$stats_file")
	echo 1 >"$stats_file"
fi

# One scrape each to warm up, then the measured window.
curl -sf -o /dev/null "http://127.0.0.1:$ne_port/metrics"
[ -n "$agent_pid" ] && curl -sf -o /dev/null "http://127.0.0.1:$a_http/metrics"
sleep 1
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(now_ns)
ne_c0=$(cpu_ticks "$ne_pid")
ne_rss0=$(status_kb "$ne_pid" VmRSS)
if [ -n "$agent_pid" ]; then
	a_c0=$(cpu_ticks "$agent_pid")
	a_rss0=$(status_kb "$agent_pid" VmRSS)
	set -- $(bpf_ns "$agent_pid")
	a_bpf0=$1 a_ev0=$2
fi
info "scraping every second for $secs s"
ne_fail=0 a_fail=0 ne_bytes=0 a_bytes=0 i=0
while [ "$i" -lt "$secs" ]; do
	tick=$(now_ns)
	b=$(curl -sf --max-time 5 "http://127.0.0.1:$ne_port/metrics" | wc -c) || b=0
	[ "$b" -gt 0 ] && ne_bytes=$b || ne_fail=$((ne_fail + 1))
	if [ -n "$agent_pid" ]; then
		b=$(curl -sf --max-time 5 "http://127.0.0.1:$a_http/metrics" | wc -c) || b=0
		[ "$b" -gt 0 ] && a_bytes=$b || a_fail=$((a_fail + 1))
	fi
	# Sleep the rest of the second so the scrape rate stays 1/s.
	left=$(awk -v a="$tick" -v b="$(now_ns)" 'BEGIN{d = 1 - (b - a) / 1e9; print (d > 0 ? d : 0)}')
	sleep "$left"
	i=$((i + 1))
done
t1=$(now_ns)
load1=$(cut -d' ' -f1-3 /proc/loadavg)
kill -0 "$ne_pid" 2>/dev/null || { err "node-exporter died during the run"; exit 1; }
ne_c1=$(cpu_ticks "$ne_pid")
ne_rss1=$(status_kb "$ne_pid" VmRSS)
ne_hwm=$(status_kb "$ne_pid" VmHWM)
if [ -n "$agent_pid" ]; then
	kill -0 "$agent_pid" 2>/dev/null || { err "agent died during the run"; exit 1; }
	a_c1=$(cpu_ticks "$agent_pid")
	a_rss1=$(status_kb "$agent_pid" VmRSS)
	a_hwm=$(status_kb "$agent_pid" VmHWM)
	set -- $(bpf_ns "$agent_pid")
	a_bpf1=$1 a_ev1=$2
	curl -sf --max-time 5 "http://127.0.0.1:$a_http/metrics" >"$NS_TMP/agent.metrics"
fi

# Derived figures, all in awk (sh has no floating point).
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b - a) / 1e9}')
ms_per_s() { awk -v c="$1" -v hz="$hz" -v e="$elapsed" 'BEGIN{printf "%.3f", c * 1000 / hz / e}'; }
ne_cpu=$(ms_per_s $((ne_c1 - ne_c0)))
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b > 0) printf "%.3f", a / b; else print "n/a"}'; }
pct() { awk -v m="$1" 'BEGIN{printf "%.3f", m / 10}'; }
# "p99_ms mean_ms count over_1ms" of a histogram in the agent's /metrics; p99 is
# the upper bound of the first bucket holding 99 % of the iterations.
hist_p99() {
	awk -v m="$1" '
		index($0, m "_bucket") == 1 {
			match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
			n++; les[n] = le; cum[n] = $NF
		}
		index($0, m "_sum") == 1 { sum = $NF }
		index($0, m "_count") == 1 { cnt = $NF }
		END {
			if (!cnt) { print "n/a n/a 0 0"; exit }
			for (i = 1; i <= n; i++) if (cum[i] >= 0.99 * cnt) { p = les[i]; break }
			for (i = 1; i <= n; i++) if (les[i] == "0.001") over = cnt - cum[i]
			printf "%s %.4f %d %d\n", (p == "+Inf" ? "inf" : p * 1000), sum / cnt * 1000, cnt, over
		}' "$NS_TMP/agent.metrics"
}
verdict() { awk -v x="$1" -v lim="$2" 'BEGIN{print (x != "n/a" && x + 0 <= lim + 0) ? "PASS" : "MISS"}'; }

{
	echo "## Agent overhead (tools/bench/agent.sh)"
	echo
	echo "Method: both processes scraped every second with curl for $elapsed s on $(nproc) CPUs, kernel $(uname -r);"
	echo "CPU = utime+stime (/proc/PID/stat, CLK_TCK $hz) over the window, RSS = VmRSS/VmHWM at the end."
	echo "Machine load average (1/5/15 min) at start $load0, at end $load1: other work on the machine"
	echo "stretches the loop's wall time and drives the BPF cost (one run per TCP packet / block request)."
	if [ -n "$agent_pid" ]; then
		echo "Agent: \`--interval 1s\`, latency sources $agent_mode, /metrics $a_bytes B; node-exporter $ne_version default collectors, /metrics $ne_bytes B."
	else
		echo "Agent: NOT MEASURED ($agent missing). node-exporter /metrics $ne_bytes B."
	fi
	echo
} >"$NS_TMP/table.md"

if [ -n "$agent_pid" ]; then
	a_cpu=$(ms_per_s $((a_c1 - a_c0)))
	a_bpf=$(awk -v d="$((a_bpf1 - a_bpf0))" -v e="$elapsed" 'BEGIN{printf "%.3f", d / 1e6 / e}')
	a_tot=$(awk -v a="$a_cpu" -v b="$a_bpf" 'BEGIN{printf "%.3f", a + b}')
	a_evs=$(awk -v d="$((a_ev1 - a_ev0))" -v e="$elapsed" 'BEGIN{printf "%.0f", d / e}')
	a_nsev=$(awk -v t="$((a_bpf1 - a_bpf0))" -v n="$((a_ev1 - a_ev0))" 'BEGIN{if (n > 0) printf "%.0f", t / n; else print "n/a"}')
	cpu_r=$(ratio "$a_cpu" "$ne_cpu")
	tot_r=$(ratio "$a_tot" "$ne_cpu")
	rss_r=$(ratio "$a_rss1" "$ne_rss1")
	hwm_r=$(ratio "$a_hwm" "$ne_hwm")
	set -- $(hist_p99 nodescore_agent_loop_duration_seconds)
	p99_ms=$1 mean_ms=$2 loops=$3 over_ms=$4
	set -- $(hist_p99 nodescore_agent_loop_cpu_seconds)
	cp99_ms=$1 cmean_ms=$2 cloops=$3 cover_ms=$4
	v_cpu=$(verdict "$cpu_r" 0.3333)
	v_tot=$(verdict "$tot_r" 0.3333)
	v_core=$(verdict "$(pct "$a_tot")" 1)
	v_rss=$(awk -v r="$rss_r" -v k="$a_rss1" 'BEGIN{print (r <= 0.5 && k < 16384) ? "PASS" : "MISS"}')
	v_loop=$(awk -v p="$p99_ms" 'BEGIN{print (p != "n/a" && p != "inf" && p + 0 <= 1) ? "PASS" : "MISS"}')
	v_cloop=$(awk -v p="$cp99_ms" 'BEGIN{print (p != "n/a" && p != "inf" && p + 0 <= 1) ? "PASS" : "MISS"}')
	{
		echo "| measure | nodescore-agent | node-exporter | agent / node-exporter | target | result |"
		echo "|---|---:|---:|---:|---|---|"
		echo "| CPU ms per s (user+sys, /proc) | $a_cpu | $ne_cpu | $cpu_r | <= 1/3 of node-exporter | $v_cpu |"
		echo "| BPF programs in kernel, ms per s ($a_evs runs/s, $a_nsev ns/run) | $a_bpf | - | | | |"
		echo "| CPU ms per s incl. BPF | $a_tot | $ne_cpu | $tot_r | <= 1/3 of node-exporter | $v_tot |"
		echo "| % of one core incl. BPF | $(pct "$a_tot") | $(pct "$ne_cpu") | | agent < 1 % | $v_core |"
		echo "| RSS MiB (VmRSS, end) | $(mib "$a_rss1") | $(mib "$ne_rss1") | $rss_r | <= 1/2 and < 16 MiB | $v_rss |"
		echo "| peak RSS MiB (VmHWM) | $(mib "$a_hwm") | $(mib "$ne_hwm") | $hwm_r | | |"
		echo "| RSS MiB at start of window | $(mib "$a_rss0") | $(mib "$ne_rss0") | | | |"
		echo "| loop iteration p99 ms, wall time (bucket bound) | <= $p99_ms | - | | < 1 ms | $v_loop |"
		echo "| loop wall time mean ms; iterations over 1 ms | $mean_ms; $over_ms of $loops | - | | | |"
		echo "| loop iteration p99 ms, thread CPU time (bucket bound) | <= $cp99_ms | - | | < 1 ms | $v_cloop |"
		echo "| loop CPU time mean ms; iterations over 1 ms | $cmean_ms; $cover_ms of $cloops | - | | | |"
		echo "| failed scrapes | $a_fail | $ne_fail | | 0 | $([ "$a_fail$ne_fail" = 00 ] && echo PASS || echo MISS) |"
	} >>"$NS_TMP/table.md"
	[ "$loops" -lt 100 ] && echo "
With $loops iterations (< 100) the p99 is the slowest iteration: one preemption decides the wall-time p99." >>"$NS_TMP/table.md"
	for v in "$v_cpu" "$v_tot" "$v_core" "$v_rss" "$v_loop" "$v_cloop"; do
		[ "$v" = PASS ] || { [ "$strict" = 1 ] && rc=1; }
	done
	[ "$a_fail$ne_fail" = 00 ] || rc=1
else
	{
		echo "| measure | node-exporter |"
		echo "|---|---:|"
		echo "| CPU ms per s (user+sys) | $ne_cpu |"
		echo "| % of one core | $(pct "$ne_cpu") |"
		echo "| RSS MiB (VmRSS, end) | $(mib "$ne_rss1") |"
		echo "| peak RSS MiB (VmHWM) | $(mib "$ne_hwm") |"
		echo "| failed scrapes | $ne_fail |"
	} >>"$NS_TMP/table.md"
	[ "$ne_fail" = 0 ] || rc=1
fi

echo >>"$NS_TMP/table.md"
if [ -x "$ringbench" ]; then
	# After the window, so its disk writes do not land in the agent's figures.
	echo "History ring micro-benchmark (\`nodescore-ringbench\`, file in $NS_TMP):" >>"$NS_TMP/table.md"
	echo >>"$NS_TMP/table.md"
	if ! "$ringbench" --dir "$NS_TMP" --records 500000 --sync-records 200 >>"$NS_TMP/table.md"; then
		err "nodescore-ringbench failed"
		rc=1
	fi
else
	err "ring benchmark binary not found path=$ringbench"
	rc=1
fi

cat "$NS_TMP/table.md"
cp "$NS_TMP/table.md" "$out" && info "table written path=$out"
exit $rc
