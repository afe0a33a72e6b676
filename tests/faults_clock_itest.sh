#!/bin/sh
# SPDX-License-Identifier: MIT
# Fault injection, the wall clock of a running agent jumps (issue 11: clock
# jump forward/backward on the publisher, no permanent lock-out once the
# clock is fixed). The real nodescore-agent (--no-bpf, fixture /proc and
# cgroup trees, the shipped anomaly model on 1 s steps) runs under
# libfaketime (Debian package faketime): LD_PRELOAD with
# FAKETIME_TIMESTAMP_FILE, re-read on every call (FAKETIME_NO_CACHE=1), so
# the test moves the agent's CLOCK_REALTIME by rewriting one file, while
# CLOCK_MONOTONIC stays real (DONT_FAKE_MONOTONIC=1). It publishes to a real
# extender on 127.0.0.1 (--skew 30 s, --future-skew 2 s, TTL 1.5 s):
#   +1 h, then fixed; -1 h, then fixed; -10 s (inside the skew), then fixed.
# Asserted: while skewed, messages are refused as clock_skew (never as
# replay), the node goes stale and neutral; once the clock is right it is
# fresh again within a bounded time; the agent keeps its publish cadence,
# keeps writing history and keeps stepping its anomaly detector through
# every jump, and logs each jump. Figures are printed; docs/faults.md has them.
# Usage: sh tests/faults_clock_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
AGENT=$B/nodescore-agent
EXT=$B/nodescore-extender
MODELS=$(dirname "$0")/../models
FT_LIB=
for f in /usr/lib/*/faketime/libfaketime.so.1; do [ -f "$f" ] && FT_LIB=$f && break; done

if [ ! -x "$AGENT" ] || [ ! -x "$EXT" ]; then
	skip faults_clock "needs $AGENT and $EXT"
	finish
fi
if [ -z "$FT_LIB" ]; then
	skip faults_clock "needs libfaketime.so.1 (Debian package faketime, tools/install-deps.sh)"
	finish
fi

KEY=$NS_TMP/key
make_key "$KEY"
P=$NS_TMP/root
C=$NS_TMP/cg
fixture_node "$P" "$C" 150
NODE=clock-1
now_ms() { echo $(($(date +%s%N) / 1000000)); }

SP=$(free_port)
start_extender "$EXT" "$NS_TMP/ext.log" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 500ms --skew 30s --future-skew 2s --reserve-settle 0
check extender_started test -n "$EXT_URL"
U=$EXT_URL

# The agent's wall clock: the offset in $FT (seconds, "+0" = right).
FT=$NS_TMP/faketime
write_file "$FT" '+0\n'
# start_agent LOG: the agent under libfaketime in the background; sets
# APID and AP (its HTTP port).
start_agent() {
	LD_PRELOAD=$FT_LIB FAKETIME_TIMESTAMP_FILE=$FT FAKETIME_NO_CACHE=1 DONT_FAKE_MONOTONIC=1 \
		"$AGENT" --proc-root "$P" --cgroup-root "$C" --no-bpf --node-name $NODE --key-file "$KEY" \
		--listen-http 127.0.0.1:0 --publish "tcp://127.0.0.1:$SP" --state-dir "$NS_TMP/state" \
		--interval 100ms --publish-interval 500ms --history-interval 1s --history-capacity 1000 \
		--forecast-model "$MODELS/forecast-default" --anomaly-model "$MODELS/iforest-default.nsif" \
		--anomaly-step 1s 2>"$1" &
	APID=$!
	NS_PIDS="$NS_PIDS $APID"
	AP=$(agent_http_port "$1")
}
LOG=$NS_TMP/agent.log
start_agent "$LOG"
TS=$(date +%s)
check agent_started test -n "$AP"
# am NAME: the agent's sample NAME (its node label included).
am() { curl -sf --max-time 2 "http://127.0.0.1:$AP/metrics" | awk -v s="$1{node=\"$NODE\"}" '$1 == s { print $2 }'; }
# rej REASON: the extender's count of messages refused for REASON.
rej() { metric "nodescore_extender_messages_rejected_total{reason=\"$1\"}"; }
prio() {
	curl -sf --max-time 2 -X POST --data-binary "{\"Pod\":{},\"NodeNames\":[\"$NODE\"]}" "$U/prioritize" |
		sed -n 's/.*"Host":"\([^"]*\)","Score":\([0-9]*\).*/\1:\2/p'
}
# rows: history rows exported so far (the agent runs: the export reads a copy).
rows() { timeout 20 "$AGENT" --export-history - --state-dir "$NS_TMP/state" 2>/dev/null | tail -n +2; }
# grows NAME FROM SECONDS: the agent's counter NAME passes FROM + 2 within SECONDS.
grows() { wait_for "$3" sh -c 'v=$(curl -sf --max-time 2 "http://127.0.0.1:$1/metrics" |
	awk -v s="$2{node=\"$3\"}" "\$1 == s { print \$2 }"); [ -n "$v" ] && [ "${v%.*}" -ge "$4" ]' \
	_ "$AP" "$1" "$NODE" $(($2 + 2)); }

check baseline_fresh wait_for 10 node_fresh "$U" $NODE
check baseline_anomaly_steps grows nodescore_agent_anomaly_updates_total 0 10
# The agent's wall clock is what the test says: its start time (process
# start, CLOCK_REALTIME) is within a few seconds of the real one.
st=$(am nodescore_agent_start_time_seconds)
check baseline_agent_clock_real awk -v a="${st:-0}" -v b="$(date +%s)" 'BEGIN { d = a - b; exit !(d > -30 && d < 5) }'
# The loop keeps its 100 ms pace. libfaketime 0.9.10 with DONT_FAKE_MONOTONIC
# fails clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) with EINVAL (its
# issue 426); the agent then sleeps relative intervals instead of spinning.
tk0=$(am nodescore_agent_ticks_total)
sleep 2
tk1=$(am nodescore_agent_ticks_total)
echo "  ticks in 2 s: $((tk1 - tk0)) (interval 100 ms)$(grep -q '^WARNING agent: absolute sleep failed' "$LOG" &&
	echo '; absolute sleeps refused here, relative ones used')" >&2
check baseline_tick_pace test $((tk1 - tk0)) -ge 8 -a $((tk1 - tk0)) -le 30

# jump NAME OFFSET LABEL: the agent's clock moves by OFFSET seconds for at
# least 4 s (2.7 TTLs), then is right again. Refused as clock_skew, never as replay;
# stale and neutral; fresh again within 5 s of the fix; the agent keeps
# publishing and stepping its anomaly detector, during and after.
jump() {
	jn=$1
	skew0=$(rej clock_skew) rep0=$(rej replay)
	pub0=$(am nodescore_agent_publish_total) an0=$(am nodescore_agent_anomaly_updates_total)
	tj=$(now_ms)
	write_file "$FT" "$2\n"
	check "${jn}_refused_clock_skew" wait_for 5 ge 'nodescore_extender_messages_rejected_total{reason="clock_skew"}' $((skew0 + 3))
	check "${jn}_goes_stale" wait_for 5 node_stale "$U" $NODE
	check "${jn}_neutral" test "$(prio)" = "$NODE:5"
	sleep 1
	check "${jn}_agent_keeps_publishing" test "$(am nodescore_agent_publish_total)" -ge $((pub0 + 4))
	check "${jn}_anomaly_steps_during" grows nodescore_agent_anomaly_updates_total "${an0:-0}" 5
	an1=$(am nodescore_agent_anomaly_updates_total)
	left=$((tj + 4000 - $(now_ms)))
	[ "$left" -le 0 ] || sleep "$(awk -v l="$left" 'BEGIN { print l / 1000 }')"
	t0=$(now_ms)
	write_file "$FT" '+0\n'
	if wait_for 5 node_fresh "$U" $NODE; then
		echo "  clock $3 for $(((t0 - tj) / 100))00 ms: clock_skew +$(($(rej clock_skew) - skew0)), replay +$(($(rej replay) - rep0)); fresh again $(($(now_ms) - t0)) ms after the fix" >&2
		pass "${jn}_fresh_after_fix"
	else
		fail "${jn}_fresh_after_fix" "not fresh 5 s after the clock was fixed"
	fi
	check "${jn}_no_replay" test "$(rej replay)" = "$rep0"
	check "${jn}_anomaly_steps_after_fix" grows nodescore_agent_anomaly_updates_total "${an1:-0}" 5
}
jump ahead_1h +3600 "+1 h"
jump behind_1h -3600 "-1 h"

# -10 s, inside the 30 s skew: every message is accepted (the same boot
# nonce, rising sequence numbers: an older timestamp is no replay), the node
# never goes stale.
acc0=$(metric nodescore_extender_messages_accepted_total)
skew0=$(rej clock_skew) rep0=$(rej replay)
write_file "$FT" '-10\n'
stale=0
end=$(($(now_ms) + 3000))
while [ "$(now_ms)" -lt "$end" ]; do
	node_fresh "$U" $NODE || stale=$((stale + 1))
	sleep 0.25
done
write_file "$FT" '+0\n'
check behind_10s_accepted test "$(metric nodescore_extender_messages_accepted_total)" -ge $((acc0 + 5))
check behind_10s_none_refused test "$(rej clock_skew)" = "$skew0" -a "$(rej replay)" = "$rep0"
check behind_10s_never_stale test "$stale" -eq 0
check behind_10s_anomaly_steps grows nodescore_agent_anomaly_updates_total "$(am nodescore_agent_anomaly_updates_total)" 5

# History: one row a second through every jump, dated by the agent's clock
# (some an hour ahead, some an hour behind); none refused.
rows >"$NS_TMP/rows.csv"
now=$(date +%s)
echo "  history: $(wc -l <"$NS_TMP/rows.csv") rows in $((now - TS)) s" >&2
check history_rows_through_jumps test "$(wc -l <"$NS_TMP/rows.csv")" -ge $((now - TS - 3))
check history_rows_an_hour_ahead awk -F, -v t="$now" '$1 / 1000 > t + 3000 { f = 1 } END { exit !f }' "$NS_TMP/rows.csv"
check history_rows_an_hour_behind awk -F, -v t="$now" '$1 / 1000 < t - 3000 { f = 1 } END { exit !f }' "$NS_TMP/rows.csv"
check history_no_errors test "$(am nodescore_agent_history_errors_total)" = 0

# Six steps: +1 h and back, -1 h and back, -10 s and back; each one WARNING.
check agent_counts_jumps test "$(am nodescore_agent_clock_jumps_total)" = 6
check agent_last_jump_back_to_right awk -v v="$(am nodescore_agent_clock_jump_last_seconds)" 'BEGIN { exit !(v >= 9 && v <= 11) }'
check agent_logs_jumps test "$(grep -c '^WARNING agent: wall clock jumped jump_ms=' "$LOG")" = 6
check sigterm_clean_exit stop_pid "$APID"

# A restart while the clock is 10 s behind: the new boot's messages are
# older than the last accepted one, refused as replay (a new boot nonce
# must bring a newer timestamp); once the clock is fixed they are accepted
# at once: the replay guard holds no node off after its clock is right.
write_file "$FT" '-10\n'
rep0=$(rej replay)
start_agent "$NS_TMP/agent2.log"
check restart_behind_refused_replay wait_for 5 ge 'nodescore_extender_messages_rejected_total{reason="replay"}' $((rep0 + 3))
check restart_behind_stale wait_for 5 node_stale "$U" $NODE
t0=$(now_ms)
write_file "$FT" '+0\n'
if wait_for 5 node_fresh "$U" $NODE; then
	echo "  restart 10 s behind: replay +$(($(rej replay) - rep0)); fresh again $(($(now_ms) - t0)) ms after the fix" >&2
	pass restart_fresh_after_fix
else
	fail restart_fresh_after_fix "not fresh 5 s after the clock was fixed"
fi
check restart_sigterm_clean_exit stop_pid "$APID"
check log_format log_format_ok "$LOG" "$NS_TMP/agent2.log" "$NS_TMP/ext.log"
summary
