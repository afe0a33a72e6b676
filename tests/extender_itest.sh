#!/bin/sh
# SPDX-License-Identifier: MIT
# nodescore-extender fed by the real nodescore-pub (CSV replay) over
# loopback: fixture replies, skewed clocks and a wrong key are refused and
# counted, the table keeps its values, SIGTERM exits 0.
# Usage: sh tests/extender_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
EXT=$B/nodescore-extender
PUB=$B/nodescore-pub
FIX=tests/fixtures/extender

if [ ! -x "$EXT" ] || [ ! -x "$PUB" ]; then
	skip extender_with_pub "needs $EXT and $PUB"
	finish
fi

KEY=$NS_TMP/key
BADKEY=$NS_TMP/badkey
make_key "$KEY"
make_key "$BADKEY"
SP=$(free_port)
LOG=$NS_TMP/extender.log

# The cluster of tests/fixtures/extender (node-e and node-f never publish,
# so both are unknown; the fixtures give unknown and stale the same answers).
CSV=$FIX/cluster.csv

start_extender "$EXT" "$LOG" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 1s --reserve-settle 0
EPID=$EXT_PID
check extender_started test -n "$EXT_URL"
U=$EXT_URL

post() { curl -s -o "$NS_TMP/out" -w '%{http_code}' -X POST --data-binary "@$2" "$U$1"; }
same() { printf '%s' "$(cat "$1")" | cmp -s - "$NS_TMP/out"; }

# Agents keep publishing while the test runs: 5 rounds a second.
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --replay "$CSV" --interval 200ms \
	--log-every 0 2>"$NS_TMP/pub.log" &
NS_PIDS="$NS_PIDS $!"
check first_messages_arrive wait_for 10 ge nodescore_extender_table_nodes 4

for f in filter_names filter_objects; do
	check "fixture_$f" sh -c "[ \"\$(curl -s -o '$NS_TMP/out' -w '%{http_code}' -X POST \
		--data-binary @$FIX/${f}_request.json $U/filter)\" = 200 ] && \
		printf '%s' \"\$(cat $FIX/${f}_reply.json)\" | cmp -s - '$NS_TMP/out'"
done
for f in prioritize_names prioritize_objects prioritize_latency prioritize_batch; do
	code=$(post /prioritize "$FIX/${f}_request.json")
	if [ "$code" = 200 ] && same "$FIX/${f}_reply.json"; then pass "fixture_$f"; else
		fail "fixture_$f" "code=$code body=$(head -c 200 "$NS_TMP/out")"; fi
done

# Agents with a clock two minutes ahead, and with the wrong key.
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --replay "$CSV" --interval 100ms \
	--clock-offset 120000 --log-every 0 2>/dev/null &
SKEWPID=$!
NS_PIDS="$NS_PIDS $SKEWPID"
check skewed_clock_counted wait_for 10 ge 'nodescore_extender_messages_rejected_total{reason="clock_skew"}' 1
kill "$SKEWPID" 2>/dev/null
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$BADKEY" --replay "$CSV" --interval 100ms \
	--log-every 0 2>/dev/null &
BADPID=$!
NS_PIDS="$NS_PIDS $BADPID"
check wrong_key_counted wait_for 10 ge 'nodescore_extender_messages_rejected_total{reason="bad_mac"}' 1
kill "$BADPID" 2>/dev/null
# Refused messages changed nothing: the fixture answer still holds.
code=$(post /prioritize "$FIX/prioritize_names_request.json")
check table_unchanged_after_rejections sh -c "[ $code = 200 ] && printf '%s' \"\$(cat $FIX/prioritize_names_reply.json)\" | cmp -s - '$NS_TMP/out'"

# Malformed bodies.
printf '{"Pod":{},"NodeNames":[1]}' >"$NS_TMP/bad.json"
check bad_body_400 test "$(post /filter "$NS_TMP/bad.json")" = 400
check metrics_count_400 ge 'nodescore_extender_requests_total{verb="filter",code="400"}' 1

check sigterm_exit_0 stop_pid "$EPID"
check stopped_logged grep -q "INFO extender: stopped" "$LOG"
summary
