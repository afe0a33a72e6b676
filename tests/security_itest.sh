#!/bin/sh
# SPDX-License-Identifier: MIT
# Issue 13 regressions against the real nodescore-extender on loopback:
# memory bound under concurrent large bodies (RSS printed and bounded), 413
# at once, Content-Length abuse, non-UTF-8 names, slowloris with normal
# /prioritize calls answered meanwhile, per-source cap, per-node keys (one
# node's key cannot publish for another), the new-nonce lock-out bound, and
# nodescore-agent --once checking its key. Clients: tests/security_probe.py.
# Usage: sh tests/security_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
EXT=$B/nodescore-extender
PUB=$B/nodescore-pub
AGENT=$B/nodescore-agent
PROBE="/usr/bin/python3 $(dirname "$0")/security_probe.py"

if [ ! -x "$EXT" ] || [ ! -x "$PUB" ] || [ ! -x /usr/bin/python3 ]; then
	skip security "needs $EXT, $PUB and /usr/bin/python3"
	summary
	exit 0
fi

KEY=$NS_TMP/key
make_key "$KEY"
SP=$(free_port)
LOG=$NS_TMP/extender.log
"$EXT" --key-file "$KEY" --listen-http 127.0.0.1:0 --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 200ms --request-timeout 2s 2>"$LOG" &
EPID=$!
NS_PIDS="$NS_PIDS $EPID"
wait_for 5 grep -q "SUCCESS extender: listening" "$LOG"
HP=$(extender_http_port "$LOG")
check extender_started test -n "$HP"
U=http://127.0.0.1:$HP
val() { echo "$OUT" | sed -n "s/^$1=//p"; }

# --- protocol abuse ---------------------------------------------------------
OUT=$($PROBE raw "$HP")
echo "$OUT" | sed 's/^/  /'
check dup_content_length_400 test "$(val dup_content_length)" = 400
check repeated_content_length_400 test "$(val repeated_equal_content_length)" = 400
check negative_content_length_400 test "$(val negative_content_length)" = 400
check negative_content_length_rest_not_parsed test "$(val negative_smuggled_answered)" = 0
check huge_content_length_413 test "$(val huge_content_length)" = 413
check huge_content_length_at_once awk "BEGIN { exit !($(val huge_content_length_seconds) < 1) }"
check invalid_utf8_name_400 test "$(val invalid_utf8)" = 400
check overlong_utf8_name_400 test "$(val overlong_utf8)" = 400
check valid_utf8_name_200 test "$(val valid_utf8)" = 200
check bad_header_counted ge nodescore_extender_bad_header_total 2
check too_large_counted ge nodescore_extender_body_too_large_total 1

# --- memory: 24 concurrent 30 MB bodies (under --max-body 32Mi) --------------
# An extender of its own: a 30 MB body from a busy client can take longer than
# the 2 s deadline the slowloris part below needs, and a body cut by the
# deadline would not show what the budget does.
start_extender "$EXT" "$NS_TMP/bodies.log" --key-file "$KEY" \
	--listen-scores "tcp://127.0.0.1:$(free_port)" --request-timeout 60s
BPID=$EXT_PID
BP=$(extender_http_port "$NS_TMP/bodies.log")
OUT=$($PROBE bodies "$BP" 24 30)
echo "$OUT" | sed 's/^/  /'
hwm=$(awk '/^VmHWM/ { print int($2 / 1024) }' /proc/$BPID/status)
rss=$(awk '/^VmRSS/ { print int($2 / 1024) }' /proc/$BPID/status)
echo "  extender peak RSS ${hwm} MiB, after ${rss} MiB (24 x 30 MB bodies, --body-budget 96Mi)"
check concurrent_bodies_some_served test "$(val status_200)" -ge 1
check concurrent_bodies_over_budget_503 test "$(val status_503)" -ge 1
U=http://127.0.0.1:$BP
check budget_exceeded_counted ge nodescore_extender_body_budget_exceeded_total 1
# An ASan build keeps up to 256 MiB of freed memory in its quarantine (to
# catch use after free), so its bound is that much higher.
rss_bound=512
if links "$EXT" libasan; then
	rss_bound=$((512 + 256))
	echo "  ASan build: RSS bound ${rss_bound} MiB (512 + the 256 MiB quarantine)"
fi
check peak_rss_bounded test "$hwm" -lt "$rss_bound"
# Every client has its answer, but the server may still be closing the last
# connections: released within 5 s.
inflight_zero() { [ "$(metric nodescore_extender_body_inflight_bytes)" = 0 ]; }
check inflight_released wait_for 5 inflight_zero
stop_pid "$BPID"
U=http://127.0.0.1:$HP

# --- slowloris: 400 slow header senders from 10 sources, one source over the cap
OUT=$($PROBE slowloris "$HP" 4)
echo "$OUT" | sed 's/^/  /'
check slowloris_normal_calls_answered sh -c "[ $(val normal_calls) -ge 5 ] && [ $(val normal_ok) -eq $(val normal_calls) ]"
check slowloris_deadline_closes_slow test "$(val slow_closed_by_server)" -ge "$(val slow_opened)"
check per_source_cap_closes_surplus test "$(val capped_source_closed_by_server)" -ge 30
check deadline_counted ge nodescore_extender_request_deadline_closed_total 300

# --- per-node keys: node-a's key cannot publish for node-b ------------------
"$EXT" --key-file "$KEY" --derive-key node-a >"$NS_TMP/node-a.key" 2>/dev/null
chmod 600 "$NS_TMP/node-a.key"
"$EXT" --key-file "$KEY" --derive-key node-b >"$NS_TMP/node-b.key" 2>/dev/null
chmod 600 "$NS_TMP/node-b.key"
check derive_key_32_bytes test "$(wc -c <"$NS_TMP/node-a.key")" -eq 32
check derive_key_differs_per_node sh -c "! cmp -s '$NS_TMP/node-a.key' '$NS_TMP/node-b.key'"
check derive_key_refuses_bad_name sh -c "! '$EXT' --key-file '$KEY' --derive-key -a >/dev/null 2>&1"
H=node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,free_mib,pods,rtt_p99_us
printf '%s\nnode-b,100,1,900,300,300,400,300,4000,8192,10,300\n' "$H" >"$NS_TMP/b.csv"
printf '%s\nnode-b,800,0,50,300,300,400,300,4000,8192,10,300\nnode-r,500,0,50,300,300,400,300,4000,8192,10,300\n' "$H" >"$NS_TMP/real.csv"
bad0=$(metric 'nodescore_extender_messages_rejected_total{reason="bad_mac"}')
"$PUB" --connect "tcp://127.0.0.1:$SP" --node-key-file "$NS_TMP/node-a.key" --replay "$NS_TMP/b.csv" \
	--interval 100ms --rounds 10 --connect-wait 500ms --log-every 0 2>/dev/null
check hijack_refused_bad_mac ge 'nodescore_extender_messages_rejected_total{reason="bad_mac"}' $((bad0 + 5))
check hijack_not_stored sh -c "! curl -sf '$U/' | grep -q '<td>node-b</td>'"
# node-b's own key works; so does an agent deriving from the master.
"$PUB" --connect "tcp://127.0.0.1:$SP" --node-key-file "$NS_TMP/node-b.key" --replay "$NS_TMP/b.csv" \
	--interval 100ms --rounds 5 --connect-wait 500ms --log-every 0 2>/dev/null
check own_node_key_accepted wait_for 3 sh -c "curl -sf '$U/' | grep -q '<td>node-b</td>'"

# --- lock-out: a new nonce dated ahead holds the real agent off <= future skew
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --replay "$NS_TMP/real.csv" \
	--interval 200ms --log-every 0 2>"$NS_TMP/real.log" &
REAL=$!
NS_PIDS="$NS_PIDS $REAL"
REQ='{"Pod":{},"NodeNames":["node-b","node-r"]}'
top() { curl -s -X POST --data-binary "$REQ" "$U/prioritize" | grep -q "\"node-b\",\"Score\":$1"; }
check real_agent_ranks_first wait_for 5 top 10
skew0=$(metric 'nodescore_extender_messages_rejected_total{reason="clock_skew"}')
"$PUB" --connect "tcp://127.0.0.1:$SP" --node-key-file "$NS_TMP/node-b.key" --replay "$NS_TMP/b.csv" \
	--clock-offset 25000 --interval 50ms --rounds 10 --connect-wait 500ms --log-every 0 2>/dev/null
check future_25s_refused ge 'nodescore_extender_messages_rejected_total{reason="clock_skew"}' $((skew0 + 5))
check future_25s_no_effect top 10
# 1.5 s ahead is within --future-skew (2s): the forgery lands, then the real
# agent is back once its clock passes the forged timestamp.
"$PUB" --connect "tcp://127.0.0.1:$SP" --node-key-file "$NS_TMP/node-b.key" --replay "$NS_TMP/b.csv" \
	--clock-offset 1500 --interval 50ms --rounds 3 --connect-wait 500ms --log-every 0 2>/dev/null
t0=$(date +%s%N)
check forged_new_nonce_landed top 0
if wait_for 5 top 10; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "  real agent accepted again ${ms} ms after the forged new-nonce messages"
	check lockout_bounded test "$ms" -lt 3000
else
	fail lockout_bounded "real agent still locked out after 5 s"
fi
kill "$REAL" 2>/dev/null

# --- agent --once checks the key file ----------------------------------------
if [ -x "$AGENT" ]; then
	"$AGENT" --once --no-bpf --node-name k --key-file "$NS_TMP/missing.key" >/dev/null 2>"$NS_TMP/once.err"
	rc=$?
	check once_refuses_missing_key sh -c "[ $rc -eq 2 ] && grep -q 'ERROR agent: cannot open key file' '$NS_TMP/once.err'"
fi

# --- broken /proc: neutral score, degraded flag, not filtered ----------------
if [ -x "$AGENT" ]; then
	mkdir -p "$NS_TMP/noproc"
	OUT=$("$AGENT" --once --no-bpf --interval 100ms --proc-root "$NS_TMP/noproc" \
		--cgroup-root "$NS_TMP/noproc" --node-name broken --key-file "$KEY" \
		--forecast-model none --anomaly-model none 2>/dev/null)
	check broken_proc_neutral_score test "$(val score)" = 500
	check broken_proc_flag_degraded test "$(val flag_degraded)" = 1
	check broken_proc_free_unknown test "$(val free_millicores)" = 4294967295
	# What such an agent publishes passes a filter with a real request.
	printf '%s\nnode-z,500,2,0,500,500,500,500,4294967295,4294967295,0,0\n' "$H" >"$NS_TMP/z.csv"
	"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --replay "$NS_TMP/z.csv" \
		--interval 100ms --rounds 5 --log-every 0 2>/dev/null
	F='{"Pod":{"spec":{"containers":[{"resources":{"requests":{"cpu":"2","memory":"1Gi"}}}]}},"NodeNames":["node-z","node-r"]}'
	check degraded_node_not_filtered sh -c "curl -s -X POST --data-binary '$F' '$U/filter' | grep -q '\"NodeNames\":\[\"node-z\"'"
fi

kill -TERM "$EPID"
wait "$EPID"
check sigterm_exit_0 test $? -eq 0
summary
