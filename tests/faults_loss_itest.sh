#!/bin/sh
# SPDX-License-Identifier: MIT
# Fault injection, packet loss (issue 11 item 1, case 3 with loss instead
# of a link down): a real agent (--no-bpf) in network namespace A publishes
# over a veth pair to a real extender in namespace B, as in
# faults_netns_itest.sh. nftables drops a random share of the packets that
# cross the veth, in both directions (see loss below): 10 % and 50 % for
# 20 s each, then 100 % for 5 s and for 7 s, each time removed again.
# Meanwhile a sampler polls B's status page (the node's age) and
# /prioritize (its answer time) every 0.1 s.
#   - 10 %: the node never goes stale (TCP retransmits under nanomsg);
#     message rate and worst age (the gap between accepted messages).
#   - 50 %: the same figures; messages keep arriving.
#   - 100 %: stale after the TTL, neutral score 5, passes the filter,
#     nothing accepted once stale.
#   - each time the loss is removed: a message accepted within the loss's
#     duration plus 2 s (TCP's backed-off retransmission timer; reasoning
#     at the 100 % loop), every message sent meanwhile accepted, the same
#     TCP connection (no nanomsg reconnect).
#   - /prioritize answers within 200 ms (the scheduler's httpTimeout)
#     throughout.
# Figures printed on stderr; README ("Tests", fault injection) has them.
# Usage: sh tests/faults_loss_itest.sh BUILD_DIR   (root, ip netns, nft)
. "$(dirname "$0")/lib.sh"
B=${1:-build}
AGENT=$B/nodescore-agent
EXT=$B/nodescore-extender
NSA=nsla-$$
NSB=nslb-$$
VA=nlA$$
VB=nlB$$
# Scheduler's httpTimeout (daemonset/scheduler/config.yaml).
BUDGET_MS=200

if [ "$(id -u)" != 0 ]; then
	skip faults_loss "needs root for ip netns and nft"
	finish
fi
if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
	skip faults_loss "needs ip netns (Debian package iproute2)"
	finish
fi
if ! command -v nft >/dev/null 2>&1; then
	skip faults_loss "needs nft (Debian package nftables, tools/install-deps.sh)"
	finish
fi
if [ ! -x "$AGENT" ] || [ ! -x "$EXT" ]; then
	skip faults_loss "needs $AGENT and $EXT"
	finish
fi
netns_pair faults_loss "$NSA" "$VA" "$NSB" "$VB" 10.203.2
if ! ip netns exec "$NSA" nft add table inet nsprobe 2>"$NS_TMP/err"; then
	skip faults_loss_nft "nft does not work in a network namespace here: $(cat "$NS_TMP/err")"
	finish
fi
ip netns exec "$NSA" nft delete table inet nsprobe

KEY=$NS_TMP/key
make_key "$KEY"
# A fixture node (score 713: /prioritize gives it 7 when fresh, so the
# neutral 5 is told apart); its CPU ticks for the whole test.
PR=$NS_TMP/root
CG=$NS_TMP/cg
fixture_node "$PR" "$CG" 400

# Extender in B: publish interval 1 s, TTL 3 s (the default ratio; at
# 500 ms and 1.5 s a busy machine's own delays plus one retransmission
# sometimes pass the TTL).
netns_extender "$NSB" 1s
ip netns exec "$NSA" "$AGENT" --no-bpf --proc-root "$PR" --cgroup-root "$CG" --node-name loss-1 --key-file "$KEY" \
	--listen-http 127.0.0.1:9464 --publish tcp://10.203.2.2:5555 --interval 200ms \
	--publish-interval 1s --history-interval 0 --forecast-model none --anomaly-model none \
	2>"$NS_TMP/agent.log" &
NS_PIDS="$NS_PIDS $!"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# nap SECONDS: sleep that a SIGTERM interrupts at once (the shell runs its
# trap during wait, not during a foreground sleep).
nap() {
	sleep "$1" &
	wait $!
}
inb() { ip netns exec "$NSB" curl -sf --max-time 2 "$@"; }
m() { inb http://127.0.0.1:8888/metrics | awk -v s="$1" '$1 == s { print $2 }'; }
am() { ip netns exec "$NSA" curl -sf --max-time 2 http://127.0.0.1:9464/metrics | awk -v s="$1" '$1 == s { print $2 }'; }
fresh() { inb http://127.0.0.1:8888/ | grep "<td>loss-1</td>" | grep -qv 'class="stale"'; }
stale() { inb http://127.0.0.1:8888/ | grep "<td>loss-1</td>" | grep -q 'class="stale"'; }
REQ='{"Pod":{},"NodeNames":["loss-1"]}'
prio() { inb -X POST --data-binary "$REQ" http://127.0.0.1:8888/prioritize | sed 's/},{/\n/g' |
	sed -n 's/.*"Host":"\([^"]*\)","Score":\([0-9]*\).*/\1:\2/p' | paste -sd ' '; }
filter_passes() { inb -X POST --data-binary "$REQ" http://127.0.0.1:8888/filter |
	grep -qF '"NodeNames":["loss-1"],"FailedNodes":{}'; }
sport() { ip netns exec "$NSA" ss -Htn state established 'dport = :5555' | awk '{ print $3 }' | head -n 1; }

check node_fresh wait_for 10 fresh loss-1
check fresh_score_not_neutral test "$(prio)" = 'loss-1:7'
conn0=$(sport)
check agent_connected test -n "$conn0"

# loss PERCENT: from now on PERCENT % of the packets that cross the veth
# are dropped, each chosen at random (nftables numgen), in both directions:
# nftables in A drops what arrives on A's end (the extender's ACKs), in B
# what arrives on B's end (the agent's messages); 0 removes the rules.
# Dropped on arrival, the loss is silent to the sender, as on a lossy path,
# and TCP backs its retransmission timeout off. (Dropped in the sender's
# own output hook, a packet is a local send error that TCP retries without
# backing off, as with faults_netns's link down: measured, rto stayed at
# 204 ms through 12 s of total loss and a message came < 1 s after.)
# Counters: every packet that arrives, and the dropped ones.
loss() {
	for ns in "$NSA" "$NSB"; do
		ip netns exec "$ns" nft delete table inet nsloss 2>/dev/null
	done
	[ "$1" -eq 0 ] && return 0
	# "mod 100 < 100" is out of numgen's range: 100 % is a plain drop.
	r="numgen random mod 100 < $1"
	[ "$1" -lt 100 ] || r=""
	for nd in "$NSA:$VA" "$NSB:$VB"; do
		ip netns exec "${nd%%:*}" nft -f - <<EOF || return 1
table inet nsloss {
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "${nd#*:}" counter
		iifname "${nd#*:}" $r counter drop
	}
}
EOF
	done
}
# loss_counts: "PACKETS DROPPED" over the rules in place in A and B.
loss_counts() {
	for ns in "$NSA" "$NSB"; do
		ip netns exec "$ns" nft list table inet nsloss 2>/dev/null
	done | awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") v = $(i + 1)
		if (/drop/) d += v; else t += v } END { print t + 0, d + 0 }'
}
# rto: "rto:MS backoff:N" of the agent's connection (ss -ti in A).
rto() { ip netns exec "$NSA" ss -Htni 'dport = :5555' | grep -o 'rto:[0-9]*\|backoff:[0-9]*' | paste -sd ' '; }

# The sampler, in the background for at most 400 s: every 0.1 s (slower on
# a loaded machine) one line "MS AGE-S STALE PRIO-HTTP-CODE PRIO-SECONDS":
# the node's age on B's status page (its last column), 1 when its row is
# stale, and one /prioritize call's status and time (curl's time_total).
SAMPLES=$NS_TMP/samples
sampler() {
	end=$(($(date +%s) + 400))
	while [ "$(date +%s)" -lt "$end" ]; do
		t=$(now_ms)
		row=$(inb http://127.0.0.1:8888/ | grep "<td>loss-1</td>")
		age=$(echo "$row" | sed -n 's/.*<td>\([0-9.]*\)<\/td><\/tr>$/\1/p')
		case $row in *'class="stale"'*) st=1 ;; *) st=0 ;; esac
		pr=$(ip netns exec "$NSB" curl -s --max-time 2 -o /dev/null -w '%{http_code} %{time_total}' \
			-X POST --data-binary "$REQ" http://127.0.0.1:8888/prioritize)
		echo "$t ${age:--1} $st $pr" >>"$SAMPLES"
		sleep 0.1
	done
}
sampler &
NS_PIDS="$NS_PIDS $!"

# window FROM-MS TO-MS: "SAMPLES MAX-AGE-MS STALE-SAMPLES PRIO-BAD MAX-PRIO-MS"
# over the sampler's lines in that time (PRIO-BAD: not 200, or over budget).
window() {
	awk -v a="$1" -v b="$2" -v bud="$BUDGET_MS" '$1 >= a && $1 <= b {
		n++; age = $2 * 1000; if (age > ma) ma = age; s += $3
		p = $5 * 1000; if (p > mp) mp = p; if ($4 != 200 || p > bud) bad++ }
		END { printf "%d %d %d %d %d\n", n, ma, s, bad, mp }' "$SAMPLES"
}
accepted() { m nodescore_extender_messages_accepted_total; }
sent() { am 'nodescore_agent_publish_total{node="loss-1"}'; }
# begin PERCENT: the counters (read while nothing is in flight: accepted
# twice around sent, until both readings agree), then that loss from now on.
begin() {
	for _ in 1 2 3 4 5; do
		acc0=$(accepted)
		sent0=$(sent)
		[ "$(accepted)" = "$acc0" ] && break
	done
	loss "$1"
	t0=$(now_ms)
}
# measure: the figures from begin to now: N (samples), MAXAGE (ms), NSTALE
# (stale samples), PBAD, PMAX (/prioritize), RATE (accepted messages/s),
# SENT, ACC, DROP (packets dropped) of PKTS, RTO (the agent's connection).
measure() {
	read -r PKTS DROP <<EOF
$(loss_counts)
EOF
	RTO=$(rto)
	t1=$(now_ms)
	SENT=$(($(sent) - sent0))
	ACC=$(($(accepted) - acc0))
	RATE=$(echo "scale=2; $ACC * 1000 / ($t1 - $t0)" | bc | sed 's/^\./0./')
	read -r N MAXAGE NSTALE PBAD PMAX <<EOF
$(window "$t0" "$t1")
EOF
}
# recover NAME: removes the loss; a message must be accepted (the node fresh
# on a message that arrived after the removal) within the loss's duration
# plus 2 s (see below). Then every message sent since begin must have been
# accepted: TCP delays them, loses none. Sets DUR (the loss's duration, ms),
# BOUND, REC (ms, -1 when none came) and LATE (messages accepted after the
# removal).
arrived() { [ "$(accepted)" -gt "$acc1" ] && fresh loss-1; }
caught_up() { s=$(sent); [ $(($(accepted) - acc0)) -ge $((s - sent0)) ]; }
recover() {
	acc1=$(accepted)
	t1=$(now_ms)
	loss 0
	DUR=$((t1 - t0))
	BOUND=$((DUR + 2000))
	if wait_for 40 arrived; then
		REC=$(($(now_ms) - t1))
		LATE=$(($(accepted) - acc1))
		check "$1_fresh_after" test "$REC" -le "$BOUND"
	else
		REC=-1 LATE=0
		fail "$1_fresh_after" "no message accepted 40 s after the loss was removed"
	fi
	check "$1_none_lost" wait_for 5 caught_up
	check "$1_same_connection" test "$(sport)" = "$conn0"
}

# Reference: no loss.
begin 0
nap 5
measure
echo "  no loss, 5 s: $RATE messages/s accepted ($ACC of $SENT sent), worst age ${MAXAGE} ms, $NSTALE of $N samples stale, /prioritize worst ${PMAX} ms" >&2

# Moderate and heavy loss, 20 s each. Recovery bound as for 100 % below.
for p in 10 50; do
	begin $p
	nap 20
	measure
	echo "  loss $p % each way, 20 s: $DROP of $PKTS packets dropped; $RATE messages/s accepted ($ACC of $SENT sent), worst age ${MAXAGE} ms (TTL 3000), $NSTALE of $N samples stale, $RTO at the end, /prioritize worst ${PMAX} ms" >&2
	check "loss${p}_dropped" test "$DROP" -gt 0
	check "loss${p}_prioritize_in_budget" test "$PBAD" -eq 0 -a "$N" -ge 10
	if [ $p -eq 10 ]; then
		check loss10_never_stale test "$NSTALE" -eq 0
		check loss10_worst_age_under_ttl test "$MAXAGE" -lt 3000
		# 1 message/s is due; at least 80 % of them arrive in time.
		check loss10_rate test "$ACC" -ge 16
	else
		check loss50_messages_arrive test "$ACC" -ge 1
	fi
	recover "loss$p"
	echo "  loss $p % removed after ${DUR} ms: a message accepted ${REC} ms later (bound ${BOUND} ms), $LATE accepted by then; $(($(accepted) - acc0)) of $(($(sent) - sent0)) sent since the loss began accepted" >&2
done

# Total loss for D seconds (a little more on a busy machine: the checks
# run meanwhile). After the removal the next message arrives with TCP's
# next retransmission. The timeout doubles from about 200 ms with every
# lost retransmission (0.2, 0.6, 1.4, 3.0, 6.2, 12.6 s after the first lost
# message, which left 0-1 s after the loss began), so the wait after the
# removal is at most one backed-off timeout, itself at most the loss's
# duration plus the first timeout: asserted duration + 2 s (the margin: a
# first timeout raised by the earlier loss, polling on a loaded machine).
# Which retransmission comes next depends on the duration: after 5 s the
# one at ~6.2 s (a wait of 1.2-2.2 s), after 7 s the one at ~12.6 s
# (5.6-6.6 s).
for d in 5 7; do
	p=loss100_${d}s
	stale0=$(m 'nodescore_extender_candidates_without_signal_total{why="stale"}')
	begin 100
	if wait_for 8 stale loss-1; then
		ts=$(($(now_ms) - t0))
		accs=$(accepted)
		# The TTL after the last message, which left up to a publish
		# interval (plus a busy machine's delay) before the loss began.
		check "${p}_stale_after_ttl" test "$ts" -ge 1500 -a "$ts" -le 4500
	else
		ts=-1 accs=$(accepted)
		fail "${p}_stale_after_ttl" "not stale 8 s after 100 % loss began"
	fi
	check "${p}_neutral_score" test "$(prio)" = 'loss-1:5'
	check "${p}_filter_passes" filter_passes
	check "${p}_stale_counted" test "$(m 'nodescore_extender_candidates_without_signal_total{why="stale"}')" -ge $((stale0 + 1))
	check "${p}_stale_gauge" test "$(m nodescore_extender_stale_nodes)" = 1
	check "${p}_agent_keeps_sampling" ip netns exec "$NSA" curl -sf -o /dev/null --max-time 2 http://127.0.0.1:9464/healthz
	left=$((d * 1000 - ($(now_ms) - t0)))
	[ "$left" -gt 0 ] && nap "$(echo "scale=3; $left / 1000" | bc)"
	measure
	check "${p}_nothing_accepted_once_stale" test "$(accepted)" = "$accs"
	check "${p}_prioritize_in_budget" test "$PBAD" -eq 0 -a "$N" -ge 3
	echo "  loss 100 %, $d s: $DROP of $PKTS packets dropped, $ACC of $SENT messages accepted; stale ${ts} ms after the loss began (TTL 3000 ms); $RTO at the end; /prioritize worst ${PMAX} ms" >&2
	recover "$p"
	echo "  loss 100 %, removed after ${DUR} ms: a message accepted ${REC} ms later (bound ${BOUND} ms), $LATE accepted by then (the queued ones in order); $(($(accepted) - acc0)) of $(($(sent) - sent0)) sent since the loss began accepted" >&2
	check "${p}_score_back" test "$(prio)" = 'loss-1:7'
done

check agent_publish_errors_none test "$(am 'nodescore_agent_publish_errors_total{node="loss-1"}')" = 0
check log_format log_format_ok "$NS_TMP"/*.log
finish
