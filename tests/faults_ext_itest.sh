#!/bin/sh
# SPDX-License-Identifier: MIT
# Fault injection, extender side (issue 11 item 1, cases 1, 2 and 5), real
# processes on loopback: nodescore-pub (CSV replay) and a real agent
# (--no-bpf) publishing while
#   1. the extender is killed with SIGKILL and restarted: answers while the
#      table is empty are neutral (5) and pass the filter, counted as
#      candidates_without_signal{why="unknown"}; refill time measured;
#   2. one of two replicas the publishers fan out to is killed and restarted:
#      the other keeps answering with fresh scores, the restarted one reaches
#      the same ranking, times measured;
#   5. the publisher's clock jumps (+30 s, -30 s, -5 s, fixed again):
#      rejections counted by reason, the node is accepted again within a
#      bounded time once its clock is right.
# Figures are printed; docs/faults.md has them.
# Usage: sh tests/faults_ext_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
EXT=$B/nodescore-extender
PUB=$B/nodescore-pub
AGENT=$B/nodescore-agent
trap 'exit 1' HUP INT TERM

if [ ! -x "$EXT" ] || [ ! -x "$PUB" ] || [ ! -x "$AGENT" ]; then
	skip faults_ext "needs $EXT, $PUB and $AGENT"
	finish
fi

KEY=$NS_TMP/key
make_key "$KEY"
CG=$NS_TMP/cg
fixture_kubepods "$CG"
H=node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,free_mib,pods,rtt_p99_us
row() { echo "$1,$2,0,10,300,300,300,300,8000,8192,10,300"; }
{ echo $H; row r-a 900; row r-b 740; row r-c 580; row r-d 420; row r-e 260; row r-f 100; } >"$NS_TMP/cluster.csv"
NAMES='"r-a","r-b","r-c","r-d","r-e","r-f"'

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# start_ext NAME SCORES-PORT HTTP-PORT INTERVAL: sets EPID.
start_ext() {
	: >"$NS_TMP/$1.log"
	"$EXT" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$2" --listen-http "127.0.0.1:$3" \
		--publish-interval "$4" --reserve-settle 0 2>>"$NS_TMP/$1.log" &
	EPID=$!
	NS_PIDS="$NS_PIDS $EPID"
	wait_for 5 extender_listening "$NS_TMP/$1.log"
}
# start_agent NODE ENDPOINTS INTERVAL: a real agent on this machine's /proc.
start_agent() {
	"$AGENT" --no-bpf --cgroup-root "$CG" --node-name "$1" --key-file "$KEY" --listen-http "" \
		--publish "$2" --interval 200ms --publish-interval "$3" --history-interval 0 \
		--forecast-model none --anomaly-model none 2>"$NS_TMP/$1.log" &
	NS_PIDS="$NS_PIDS $!"
}
# m URL NAME: sample NAME (exact, labels included) of URL/metrics.
m() { curl -sf --max-time 2 "$1/metrics" | awk -v s="$2" '$1 == s { print $2 }'; }
mge() { v=$(m "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
# ranking URL NAMES-JSON: "host:score ..." from /prioritize.
ranking() {
	echo $(curl -sf --max-time 2 -X POST --data-binary "{\"Pod\":{},\"NodeNames\":[$2]}" "$1/prioritize" |
		sed 's/},{/\n/g' | sed -n 's/.*"Host":"\([^"]*\)","Score":\([0-9]*\).*/\1:\2/p')
}
WANT='r-a:10 r-b:8 r-c:6 r-d:4 r-e:2 r-f:0'
ranking_is() { [ "$(ranking "$1" "$NAMES")" = "$2" ]; }
unknown='nodescore_extender_candidates_without_signal_total{why="unknown"}'
stalec='nodescore_extender_candidates_without_signal_total{why="stale"}'

# --- 1. extender SIGKILL and restart while agents publish (interval 1 s) ------
SP=$(free_port)
HP=$(free_port)
U=http://127.0.0.1:$HP
start_ext e1 "$SP" "$HP" 1s
E1=$EPID
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --replay "$NS_TMP/cluster.csv" \
	--interval 1s --log-every 0 2>"$NS_TMP/pub1.log" &
NS_PIDS="$NS_PIDS $!"
start_agent real-1 "tcp://127.0.0.1:$SP" 1s
check restart_table_full_before wait_for 10 mge "$U" nodescore_extender_table_nodes 7
check restart_ranking_before wait_for 5 ranking_is "$U" "$WANT"
# Kill right after a round has arrived, so the restarted extender starts
# about a second before the next one: time to ask it with an empty table.
a0=$(m "$U" nodescore_extender_messages_accepted_total)
wait_for 3 mge "$U" nodescore_extender_messages_accepted_total $((a0 + 6))
kill -KILL "$E1"
wait "$E1" 2>/dev/null
sleep 0.2 # messages sent now are lost: nothing listens
tl=$(now_ms)
start_ext e1 "$SP" "$HP" 1s
E1=$EPID
t0=$(now_ms) # listening (start-up on a loaded machine is not the property)
# Straight after the start the table is empty (the next round is up to 1 s
# away): every candidate is unknown -> prioritize 5, filter passes it.
# The counter says how many candidates each call found without a message,
# so whether the table was still empty when the call was answered is known
# exactly (nothing else calls this extender).
r0=$(ranking "$U" "$NAMES,\"ghost\"")
u0=$(m "$U" "$unknown")
f0=$(curl -sf -X POST --data-binary "{\"Pod\":{},\"NodeNames\":[$NAMES,\"ghost\"]}" "$U/filter")
u1=$(m "$U" "$unknown")
echo "  after restart: prioritize found $u0 of 7 candidates unknown: $r0; filter $((u1 - u0)) of 7" >&2
if [ "$u0" = 7 ]; then
	check restart_empty_table_neutral test "$r0" = 'r-a:5 r-b:5 r-c:5 r-d:5 r-e:5 r-f:5 ghost:5'
else
	skip restart_empty_table_neutral "a round arrived before prioritize was answered ($u0 of 7 unknown)"
fi
if [ $((u1 - u0)) = 7 ]; then
	check restart_empty_table_filter_passes_all sh -c "echo '$f0' | grep -qF '\"NodeNames\":[$NAMES,\"ghost\"],\"FailedNodes\":{}'"
else
	skip restart_empty_table_filter_passes_all "a round arrived before filter was answered"
fi
if wait_for 5 mge "$U" nodescore_extender_table_nodes 7; then
	refill=$(($(now_ms) - t0))
	echo "  extender restart: table refilled (7 nodes) ${refill} ms after it listened, $((refill + t0 - tl)) ms after its start (publish interval 1000 ms)" >&2
	# One interval, plus nanomsg's 100 ms reconnect and the polling of a
	# loaded shared machine (load average above 10 seen in these runs).
	check restart_refill_within_one_interval test "$refill" -le 1600
else
	fail restart_refill_within_one_interval "table not refilled within 5 s"
fi
check restart_same_ranking ranking_is "$U" "$WANT"
check restart_agent_fresh node_fresh "$U" real-1
check restart_ghost_still_neutral test "$(ranking "$U" '"ghost","r-a"')" = 'ghost:5 r-a:9'
check restart_unknown_counted mge "$U" "$unknown" 1
kill "$E1" 2>/dev/null

# --- 2. two replicas, one killed and restarted (interval 500 ms, TTL 1.5 s) ----
SPA=$(free_port)
HPA=$(free_port)
SPB=$(free_port)
HPB=$(free_port)
UA=http://127.0.0.1:$HPA
UB=http://127.0.0.1:$HPB
start_ext ea "$SPA" "$HPA" 500ms
start_ext eb "$SPB" "$HPB" 500ms
EB=$EPID
BOTH="tcp://127.0.0.1:$SPA,tcp://127.0.0.1:$SPB"
"$PUB" --connect "$BOTH" --key-file "$KEY" --replay "$NS_TMP/cluster.csv" --interval 500ms \
	--log-every 0 2>"$NS_TMP/pub2.log" &
NS_PIDS="$NS_PIDS $!"
start_agent real-2 "$BOTH" 500ms
check replicas_a_filled wait_for 10 mge "$UA" nodescore_extender_table_nodes 7
check replicas_b_filled wait_for 10 mge "$UB" nodescore_extender_table_nodes 7
check replicas_a_ranking wait_for 5 ranking_is "$UA" "$WANT"
check replicas_b_ranking wait_for 5 ranking_is "$UB" "$WANT"
kill -KILL "$EB"
wait "$EB" 2>/dev/null
acc0=$(m "$UA" nodescore_extender_messages_accepted_total)
# B is down for 3 s (2 TTLs): A answers every 250 ms with fresh scores.
q=0
bad=0
end=$(($(now_ms) + 3000))
while [ "$(now_ms)" -lt "$end" ]; do
	q=$((q + 1))
	if ! ranking_is "$UA" "$WANT"; then
		bad=$((bad + 1))
		echo "  A ranking: $(ranking "$UA" "$NAMES")" >&2
	elif [ "$(m "$UA" nodescore_extender_stale_nodes)" != 0 ] || ! node_fresh "$UA" real-2; then
		bad=$((bad + 1))
		echo "  A stale: $(m "$UA" nodescore_extender_stale_nodes) nodes; real-2: $(curl -sf "$UA/" | grep '<td>real-2</td>')" >&2
	fi
	sleep 0.25
done
acc1=$(m "$UA" nodescore_extender_messages_accepted_total)
echo "  replica B down 3 s: A answered $q queries, $bad not fresh or not the same ranking; accepted $((acc1 - acc0)) messages" >&2
check replicas_a_answers_fresh_while_b_down test "$q" -ge 3 -a "$bad" -eq 0
# 7 nodes every 500 ms for 3 s = 42; allow a slow machine a third less.
check replicas_a_keeps_accepting test $((acc1 - acc0)) -ge 28
check replicas_b_down curl -s -o /dev/null --max-time 1 "$UB/healthz" -w '%{http_code}' | grep -q 000
start_ext eb "$SPB" "$HPB" 500ms
t0=$(now_ms)
if wait_for 5 mge "$UB" nodescore_extender_table_nodes 7; then
	tf=$(($(now_ms) - t0))
	if wait_for 5 ranking_is "$UB" "$(ranking "$UA" "$NAMES")"; then
		tc=$(($(now_ms) - t0))
		echo "  replica B restarted: table full ${tf} ms after it listened, same ranking as A after ${tc} ms (publish interval 500 ms)" >&2
		# Two intervals plus polling slack on a loaded machine.
		check replicas_b_converges_within_1500ms test "$tc" -le 1500
	else
		fail replicas_b_converges_within_1500ms "ranking differs 5 s after restart: A $(ranking "$UA" "$NAMES") B $(ranking "$UB" "$NAMES")"
	fi
else
	fail replicas_b_converges_within_1500ms "B table not full within 5 s"
fi
check replicas_b_agent_fresh wait_for 2 node_fresh "$UB" real-2
check replicas_a_unaffected ranking_is "$UA" "$WANT"

# --- 5. clock jumps on the publisher (replica A: skew 30 s, future 2 s) -------
rej() { m "$UA" "nodescore_extender_messages_rejected_total{reason=\"$1\"}"; }
# pub_clk OFFSET-MS SCORE: background publisher of clk-1 with that clock
# offset and score (each phase its own, to tell whose message was accepted).
pub_clk() {
	{ echo $H; row clk-1 "$2"; } >"$NS_TMP/clk-$2.csv"
	"$PUB" --connect "tcp://127.0.0.1:$SPA" --key-file "$KEY" --replay "$NS_TMP/clk-$2.csv" \
		--interval 200ms --clock-offset "$1" --connect-wait 200ms --log-every 0 2>>"$NS_TMP/clk.log" &
	CPID=$!
	NS_PIDS="$NS_PIDS $CPID"
}
rejge() { v=$(rej "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
# has_score SCORE: clk-1's row shows SCORE and is not stale.
has_score() { curl -sf --max-time 2 "$UA/" | grep "<td>clk-1</td><td>$1</td>" | grep -qv 'class="stale"'; }
stop_clk() { kill "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null; }
# clock_fixed NAME SCORE WHAT [NOTE]: after the clock jump WHAT, clk-1
# publishes SCORE with the right clock; NAME: accepted again within 5 s.
clock_fixed() {
	t0=$(now_ms)
	pub_clk 0 "$2"
	if wait_for 5 has_score "$2"; then
		echo "  $3 -> fixed: accepted again after $(($(now_ms) - t0)) ms$4" >&2
		pass "$1"
	else
		fail "$1" "not fresh 5 s after the clock was fixed"
	fi
	stop_clk
}
pub_clk 0 800
check clock_baseline_fresh wait_for 5 has_score 800
stop_clk

# +30 s: every message is dated past --future-skew (2 s): refused as clock_skew.
skew0=$(rej clock_skew)
pub_clk 30000 830
check clock_ahead_30s_refused wait_for 5 rejge clock_skew $((skew0 + 5))
check clock_ahead_30s_not_accepted sh -c '! curl -sf "$1/" | grep -q "<td>clk-1</td><td>830</td>"' _ "$UA"
check clock_ahead_30s_goes_stale wait_for 5 node_stale "$UA" clk-1
check clock_ahead_30s_neutral test "$(ranking "$UA" '"clk-1","r-a"')" = 'clk-1:5 r-a:9'
check clock_ahead_30s_stale_counted mge "$UA" "$stalec" 1
stop_clk
clock_fixed clock_ahead_fixed_accepted 801 "clock +30 s" \
	" (the +30 s messages were never accepted, so nothing holds it off)"

# -30 s: the timestamp lags by --skew (30 s) plus transit: clock_skew (or,
# landing exactly on the bound, replay: older than the last accepted).
skew0=$(rej clock_skew)
rep0=$(rej replay)
pub_clk -30000 770
sleep 1.5
stop_clk
skew1=$(rej clock_skew)
rep1=$(rej replay)
echo "  clock -30 s for 1.5 s: clock_skew +$((skew1 - skew0)), replay +$((rep1 - rep0))" >&2
check clock_behind_30s_refused test $((skew1 - skew0 + rep1 - rep0)) -ge 5
check clock_behind_30s_not_accepted sh -c '! curl -sf "$1/" | grep -q "<td>clk-1</td><td>770</td>"' _ "$UA"
check clock_behind_30s_goes_stale wait_for 5 node_stale "$UA" clk-1
clock_fixed clock_behind_fixed_accepted 802 "clock -30 s"

# -5 s, inside the skew window: a restart (new boot nonce) whose timestamps
# are older than the last accepted one is a replay until its clock passes
# that timestamp: a lock-out as long as the jump, then accepted on its own.
rep0=$(rej replay)
t0=$(now_ms)
pub_clk -5000 795
if wait_for 10 has_score 795; then
	lock=$(($(now_ms) - t0))
	echo "  clock -5 s after a restart: refused as replay for ${lock} ms, then accepted (replay +$(($(rej replay) - rep0)))" >&2
	check clock_behind_5s_replay_counted test $(($(rej replay) - rep0)) -ge 5
	check clock_behind_5s_lockout_bounded test "$lock" -ge 3000 -a "$lock" -le 7000
else
	fail clock_behind_5s_lockout_bounded "still refused 10 s later"
fi
stop_clk

check log_format log_format_ok "$NS_TMP"/*.log
summary
