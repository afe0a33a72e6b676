#!/bin/sh
# SPDX-License-Identifier: MIT
# nodescore-extender --shadow next to a normal extender, both fed by the
# real nodescore-pub over loopback: shadow answers neutrally, logs and
# counts what it would have done; the normal one gives the real answers to
# the same requests.
# Usage: sh tests/shadow_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
EXT=$B/nodescore-extender
PUB=$B/nodescore-pub

if [ ! -x "$EXT" ] || [ ! -x "$PUB" ]; then
	skip shadow_with_pub "needs $EXT and $PUB"
	finish
fi

KEY=$NS_TMP/key
make_key "$KEY"

# sh-a ranks well but is busy; sh-b is less allocated; sh-c ranks best
# but has 500m of forecast CPU headroom and is the least allocated one
# nodescore keeps for a pod without requests; sh-d is anomalous and idle.
# sh-x never publishes.
CSV=$NS_TMP/cluster.csv
cat >"$CSV" <<'EOF'
node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,free_mib,pods,rtt_p99_us
sh-a,900,0,10,700,600,300,300,4000,8192,10,100
sh-b,500,0,10,200,200,300,300,4000,8192,10,100
sh-c,950,0,10,100,100,300,300,500,8192,10,100
sh-d,1000,1,912,0,0,300,300,4000,8192,10,100
EOF

# A bad value is refused before anything starts (bounded: were it not
# refused, the extender would run on).
NODESCORE_SHADOW=maybe timeout 20 "$EXT" --key-file "$KEY" --listen-http 127.0.0.1:0 \
	--listen-scores "tcp://127.0.0.1:$(free_port)" 2>"$NS_TMP/bad.log"
check bad_shadow_value_exit_2 test $? -eq 2
check bad_shadow_value_logged grep -q 'ERROR extender: invalid --shadow value="maybe"' "$NS_TMP/bad.log"

# Shadow keeps the default --reserve-settle: shadow mode must turn holds off itself.
SSP=$(free_port)
SLOG=$NS_TMP/shadow.log
start_extender "$EXT" "$SLOG" --shadow --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SSP" \
	--publish-interval 1s
SPID=$EXT_PID
SU=$EXT_URL
RSP=$(free_port)
RLOG=$NS_TMP/real.log
start_extender "$EXT" "$RLOG" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$RSP" \
	--publish-interval 1s --reserve-settle 0
RU=$EXT_URL
check startup_line_says_shadow_on grep -q "SUCCESS extender: listening .*reserve_settle_ms=0 shadow=on" "$SLOG"
check startup_shadow_info grep -q "INFO extender: shadow mode: /filter passes every node" "$SLOG"
check startup_line_says_shadow_off grep -q "SUCCESS extender: listening .* shadow=off" "$RLOG"

"$PUB" --connect "tcp://127.0.0.1:$SSP,tcp://127.0.0.1:$RSP" --key-file "$KEY" --replay "$CSV" \
	--interval 200ms --log-every 0 2>"$NS_TMP/pub.log" &
NS_PIDS="$NS_PIDS $!"
U=$SU
check shadow_gets_messages wait_for 10 ge nodescore_extender_table_nodes 4
U=$RU
check real_gets_messages wait_for 10 ge nodescore_extender_table_nodes 4

# post BASE PATH BODY: the status code; the reply in $NS_TMP/out.
post() { printf '%s' "$3" >"$NS_TMP/body"; curl -s -o "$NS_TMP/out" -w '%{http_code}' -X POST --data-binary "@$NS_TMP/body" "$1$2"; }
is() { [ "$(cat "$NS_TMP/out")" = "$1" ]; }
# answers NAME BASE PATH BODY WANT: NAME passes when the POST is answered
# 200 with exactly WANT.
answers() {
	code=$(post "$2" "$3" "$4")
	if [ "$code" = 200 ] && is "$5"; then
		pass "$1"
	else
		fail "$1" "code=$code body=$(head -c 300 "$NS_TMP/out")"
	fi
}
POD1='"Pod":{"metadata":{"name":"web-1","namespace":"shop"},"spec":{"containers":[{"resources":{"requests":{"cpu":"1"}}}]}}'
POD0='"Pod":{"metadata":{"name":"idle-0","namespace":"shop"}}'
ALL='"NodeNames":["sh-a","sh-b","sh-c","sh-d","sh-x"]'

# Filter: the real extender removes sh-c (CPU) and sh-d (anomaly); shadow passes all.
code=$(post "$RU" /filter "{$POD1,$ALL}")
check real_filter_removes sh -c "[ $code = 200 ] && grep -q '\"NodeNames\":\[\"sh-a\",\"sh-b\",\"sh-x\"\]' '$NS_TMP/out' \
	&& grep -q '\"sh-c\":\"nodescore: forecast CPU headroom 500m' '$NS_TMP/out' && grep -q '\"sh-d\":\"nodescore: node flagged anomalous' '$NS_TMP/out'"
answers shadow_filter_neutral "$SU" /filter "{$POD1,$ALL}" \
	'{"Nodes":null,"NodeNames":["sh-a","sh-b","sh-c","sh-d","sh-x"],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""}'

# Prioritize: the real ranking is spread out, shadow gives everyone 5.
answers real_prioritize_ranks "$RU" /prioritize "{$POD1,$ALL}" \
	'[{"Host":"sh-a","Score":9},{"Host":"sh-b","Score":5},{"Host":"sh-c","Score":10},{"Host":"sh-d","Score":0},{"Host":"sh-x","Score":5}]'
answers shadow_prioritize_neutral "$SU" /prioritize "{$POD1,$ALL}" \
	'[{"Host":"sh-a","Score":5},{"Host":"sh-b","Score":5},{"Host":"sh-c","Score":5},{"Host":"sh-d","Score":5},{"Host":"sh-x","Score":5}]'
# Without sh-c and sh-d (which its filter would have removed) nodescore
# picks sh-a; least allocated over the same request is the idle sh-d.
check shadow_log_line wait_for 3 grep -q \
	"INFO shadow: prioritize pod=shop/web-1 top=sh-a least_allocated=sh-d agreement=disagree candidates=5 would_filter=2" "$SLOG"
check shadow_filter_log_line grep -q \
	"INFO shadow: filter pod=shop/web-1 candidates=5 would_filter=2 anomaly=1 cpu=1 memory=0 fail_open=0" "$SLOG"
# A pod without requests: sh-c fits, ranks first and is least allocated.
code=$(post "$SU" /prioritize "{$POD0,\"NodeNames\":[\"sh-a\",\"sh-b\",\"sh-c\"]}")
check shadow_prioritize_agree_200 test "$code" = 200
# Only unknown nodes: nothing to compare.
code=$(post "$SU" /prioritize "{$POD0,\"NodeNames\":[\"sh-x\"]}")
check shadow_prioritize_unknown_neutral sh -c "[ $code = 200 ] && [ \"\$(cat '$NS_TMP/out')\" = '[{\"Host\":\"sh-x\",\"Score\":5}]' ]"

U=$SU
check metric_shadow_gauge_on test "$(metric nodescore_extender_shadow)" = 1
check metric_shadow_filter_requests test "$(metric 'nodescore_extender_shadow_requests_total{verb="filter"}')" = 1
check metric_shadow_prioritize_requests test "$(metric 'nodescore_extender_shadow_requests_total{verb="prioritize"}')" = 3
check metric_shadow_compared test "$(metric nodescore_extender_shadow_compared_total)" = 2
check metric_shadow_disagree test "$(metric nodescore_extender_shadow_disagree_total)" = 1
check metric_would_filter_anomaly test "$(metric 'nodescore_extender_shadow_would_filter_total{reason="anomaly"}')" = 1
check metric_would_filter_cpu test "$(metric 'nodescore_extender_shadow_would_filter_total{reason="cpu"}')" = 1
check metric_would_filter_memory test "$(metric 'nodescore_extender_shadow_would_filter_total{reason="memory"}')" = 0
check metric_nothing_really_filtered test "$(metric 'nodescore_extender_filtered_nodes_total{reason="anomaly"}')" = 0
# The last request ranked nothing (sh-x only); the one before: sh-c 10.
check metric_last_ranking_empty sh -c "! curl -sf '$SU/metrics' | grep -q '^nodescore_extender_shadow_last_ranking{'"
check metric_no_holds sh -c "! curl -sf '$SU/metrics' | grep -q '^nodescore_extender_reservations'"
post "$SU" /prioritize "{$POD0,\"NodeNames\":[\"sh-a\",\"sh-b\",\"sh-c\"]}" >/dev/null
check metric_last_ranking test "$(metric 'nodescore_extender_shadow_last_ranking{rank="1",node="sh-c"}')" = 10
check metric_last_ranking_third test "$(metric 'nodescore_extender_shadow_last_ranking{rank="3",node="sh-b"}')" = 0
check metric_would_scores test "$(metric 'nodescore_extender_shadow_scores_total{score="10"}')" = 3
check status_page_shadow sh -c "curl -sf '$SU/' | grep -q '<h2>Shadow mode</h2>' && curl -sf '$SU/' | grep -q 'least allocated in 1 of 3 compared'"

U=$RU
check metric_shadow_gauge_off test "$(metric nodescore_extender_shadow)" = 0
check metric_real_no_shadow_requests test "$(metric 'nodescore_extender_shadow_requests_total{verb="prioritize"}')" = 0
check metric_real_filtered test "$(metric 'nodescore_extender_filtered_nodes_total{reason="anomaly"}')" = 1
check status_page_real_no_shadow sh -c "! curl -sf '$RU/' | grep -q 'Shadow mode'"

check shadow_sigterm_exit_0 stop_pid "$SPID"
summary
