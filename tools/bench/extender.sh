#!/bin/sh
# SPDX-License-Identifier: MIT
# Extender benchmark: /prioritize and /filter latency and throughput against a
# 5,000-node table fed by nodescore-pub, each case next to the cJSON parse time
# of the same body (same-run floor), then ingest rate. Prints PASS/MISS per
# target and a markdown table (also written to $BUILD/bench-extender.md).
#
# Usage: tools/bench/extender.sh BUILD
# Environment: BENCH_SECONDS (per case, default 2), BENCH_HTTP_THREADS (2),
# BENCH_INGEST_RATE (msg/s offered, 250000), BENCH_STRICT=1 (exit 1 on a MISS).
set -u
. "$(dirname "$0")/common.inc"
build=${1:-build}
secs=${BENCH_SECONDS:-2}
threads=${BENCH_HTTP_THREADS:-2}
ingest_rate=${BENCH_INGEST_RATE:-250000}
strict=${BENCH_STRICT:-0}
nodes=5000
md="$build/bench-extender.md"
dir=$(mktemp -d /tmp/nodescore-bench.XXXXXX)
pids=""
watchdog=""

log() { echo "$1 bench-extender: $2"; }

cleanup() {
	trap - EXIT INT TERM
	[ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'log ERROR "interrupted or over the 175 s time limit"; exit 1' INT TERM

for b in nodescore-extender nodescore-pub nodescore-loadgen nodescore-cjsonfloor; do
	if [ ! -x "$build/$b" ]; then
		log ERROR "$build/$b missing (run make BUILD=$build)"
		exit 1
	fi
done
# The whole run stays under 3 minutes even if something hangs.
# The watchdog keeps no stdout open (a pipe reader would wait for it) and
# takes its sleep down with it.
(
	exec >/dev/null 2>&1
	trap 'kill $sp; exit 0' TERM
	sleep 175 &
	sp=$!
	wait $sp && kill -TERM $$
) &
watchdog=$!

extender_ports_and_key

NODES_RE='^nodescore_extender_table_nodes$'
ACCEPTED_RE=${BENCH_ACCEPTED_METRIC:-'^nodescore_extender_messages_accepted_total$'}
REJECTED_RE='^nodescore_extender_messages_rejected_total'

t0=$(date +%s)
load=$(cut -d' ' -f1 /proc/loadavg)
log INFO "generating request bodies (names 100/1000/5000, Node objects 1000/5000)"
python3 "$(dirname "$0")/gen-nodes.py" "$dir" || { log ERROR "gen-nodes.py failed"; exit 1; }

# The in-flight body budget sized for 8 clients x 64 MiB: the Node-object
# cases measure the verbs, not the admission control that answers 503 past
# the default 96 MiB (security_itest covers that).
"$build/nodescore-extender" --listen-scores "tcp://127.0.0.1:$SP" --listen-http "127.0.0.1:$HP" \
	--key-file "$dir/key" --publish-interval 2s --max-body 64Mi --body-budget 512Mi \
	--http-threads "$threads" --log-level warning 2>"$dir/extender.log" &
pids="$pids $!"
"$build/nodescore-pub" --connect "tcp://127.0.0.1:$SP" --key-file "$dir/key" --nodes $nodes \
	--interval 1s --spread --log-every 0 2>"$dir/pub.log" &
pub=$!
pids="$pids $pub"

i=0
n=""
while :; do
	n=$(metric "$NODES_RE")
	[ "${n:-0}" -ge $nodes ] 2>/dev/null && break
	i=$((i + 1))
	if [ $i -gt 200 ]; then
		log ERROR "table has ${n:-no} nodes after 20 s, want $nodes; logs:"
		tail -n 5 "$dir/extender.log" "$dir/pub.log"
		exit 1
	fi
	sleep 0.1
done
log INFO "table holds $n nodes after $((i / 10)).$((i % 10)) s"

# Checks a saved reply covers every candidate: prioritize lists each host once;
# filter keeps or fails each node.
valid() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
path, verb, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    r = json.load(open(path))
except Exception as e:
    print(f"unparsable reply: {e}"); sys.exit(1)
if verb == "prioritize":
    got = len(r) if isinstance(r, list) else -1
else:
    kept = r.get("NodeNames") or []
    if not kept and r.get("Nodes"):
        kept = r["Nodes"].get("items") or []
    got = len(kept) + len(r.get("FailedNodes") or {})
    if r.get("Error"):
        print(f"Error={r['Error']}"); sys.exit(1)
if got != want:
    print(f"reply covers {got} nodes, want {want}"); sys.exit(1)
EOF
}

rows=""
bad=0
for body in names-100 names-1000 names-5000 nodes-1000 nodes-5000; do
	f=$(kv p50_us " $("$build/nodescore-cjsonfloor" --file "$dir/$body.json" --duration 500ms)")
	eval "floor_$(echo "$body" | tr - _)=\${f:-0}"
done
for verb in prioritize filter; do
	for body in names-100 names-1000 names-5000 nodes-1000 nodes-5000; do
		count=${body#*-}
		kind=${body%-*}
		eval "floor=\$floor_$(echo "$body" | tr - _)"
		for c in 1 8; do
			out=$("$build/nodescore-loadgen" --url "$url/$verb" --body "$dir/$body.json" \
				--clients $c --duration "${secs}s" --warmup 300ms --timeout 10s \
				--save-response "$dir/reply.json" 2>"$dir/loadgen.err")
			rc=$?
			rps=$(kv req_per_s " $out")
			p50=$(kv p50_us " $out")
			p99=$(kv p99_us " $out")
			note=""
			if [ $rc -ne 0 ] || [ -z "$p50" ]; then
				note="errors ($(tail -n 1 "$dir/loadgen.err"))"
				bad=1
			elif [ $c -eq 1 ] && ! why=$(valid "$dir/reply.json" "$verb" "$count"); then
				note="bad reply: $why"
				bad=1
			fi
			line=$(awk -v v="$verb" -v k="$kind" -v n="$count" -v c="$c" -v r="${rps:-0}" \
				-v a="${p50:-0}" -v b="${p99:-0}" -v f="$floor" -v note="$note" 'BEGIN {
				printf "| %s | %s %s | %d | %.0f | %.3f | %.3f | %.3f | %s |", v, n,
					k == "names" ? "names" : "Node objects", c, r, a / 1000, b / 1000,
					f / 1000, (f > 0 && a > 0) ? sprintf("%.1fx", a / f) : "-"
				if (note != "") printf " %s", note
				printf "\n" }')
			echo "$line ($(($(date +%s) - t0)) s)"
			rows="$rows$line
"
			eval "res_${verb}_$(echo "$body" | tr - _)_c$c=\"${rps:-0} ${p50:-0} ${p99:-0}\""
		done
	done
done

# The cases behind the targets run twice more and keep their best figures:
# the CPUs are shared, and a neighbour's burst should not decide PASS or MISS.
again() {
	o=$("$build/nodescore-loadgen" --url "$url/$1" --body "$dir/$2.json" --clients "$3" \
		--duration "${secs}s" --warmup 300ms --timeout 10s 2>/dev/null) || { echo "0 0 0"; return; }
	echo "$(kv req_per_s " $o") $(kv p50_us " $o") $(kv p99_us " $o")"
}
for t in "prioritize names-5000 1" "prioritize names-5000 8" "prioritize nodes-5000 1" \
	"filter nodes-5000 1"; do
	set -- $t
	var="res_${1}_$(echo "$2" | tr - _)_c$3"
	eval "cur=\$$var"
	for k in 1 2; do
		cur=$(echo "$cur $(again "$1" "$2" "$3")" | awk '
			function mn(x, y) { return x <= 0 ? y : (y <= 0 || x < y) ? x : y }
			{ printf "%s %s %s\n", ($1 > $4 ? $1 : $4), mn($2, $5), mn($3, $6) }')
	done
	eval "$var=\"\$cur\""
done
log INFO "target cases repeated, best of 3 kept ($(($(date +%s) - t0)) s)"

# Ingest: a fresh publisher offers BENCH_INGEST_RATE msg/s; the accepted counter's
# slope over a steady window is what the extender keeps up with.
kill "$pub" 2>/dev/null
wait "$pub" 2>/dev/null
"$build/nodescore-pub" --connect "tcp://127.0.0.1:$SP" --key-file "$dir/key" --nodes $nodes \
	--rate "$ingest_rate" --log-every 0 2>"$dir/pub-rate.log" &
pub=$!
pids="$pids $pub"
sleep 1.5
a=$(metric "$ACCEPTED_RE")
ra=$(metric "$REJECTED_RE")
ta=$(date +%s.%N)
sleep 4
b=$(metric "$ACCEPTED_RE")
rb=$(metric "$REJECTED_RE")
tb=$(date +%s.%N)
kill "$pub" 2>/dev/null
wait "$pub" 2>/dev/null
sent=$(sed -n 's/.*SUCCESS pub: stopped.* msg_per_s=\([0-9]*\).*/\1/p' "$dir/pub-rate.log")
if [ -z "$a" ] || [ -z "$b" ]; then
	log ERROR "no accepted-messages counter in /metrics (regex $ACCEPTED_RE; set BENCH_ACCEPTED_METRIC)"
	ingest=0
	bad=1
else
	ingest=$(awk -v a="$a" -v b="$b" -v ta="$ta" -v tb="$tb" 'BEGIN { printf "%.0f", (b - a) / (tb - ta) }')
fi
rejected=$(awk -v a="${ra:-0}" -v b="${rb:-0}" 'BEGIN { printf "%.0f", b - a }')
log INFO "ingest accepted_per_s=$ingest offered_per_s=${sent:-?} rejected_in_window=$rejected"

# Targets (DESIGN.md budget, tightened for this benchmark).
set -- $res_prioritize_names_5000_c1
p99_1=${3:-0}
set -- $res_prioritize_names_5000_c8
rps_8=${1:-0}
set -- $res_prioritize_nodes_5000_c1
pn_p50=${2:-0}
set -- $res_filter_nodes_5000_c1
fn_p50=${2:-0}
verdict() { awk -v x="$1" -v op="$2" -v y="$3" 'BEGIN { ok = op == "<=" ? x <= y : op == "<" ? x < y : x >= y
	print (x > 0 && ok) ? "PASS" : "MISS" }'; }
t1=$(verdict "$p99_1" "<=" 500)
t2=$(verdict "$rps_8" ">=" 4000)
t3a=$(verdict "$pn_p50" "<" 30000)
t3b=$(verdict "$fn_p50" "<" 30000)
t3=PASS
[ "$t3a" = PASS ] && [ "$t3b" = PASS ] || t3=MISS
t4=$(verdict "$ingest" ">=" 100000)
targets=$(awk -v a="$p99_1" -v b="$rps_8" -v c="$pn_p50" -v d="$fn_p50" -v e="$ingest" \
	-v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" -v s="${sent:-0}" -v rj="$rejected" -v rate="$ingest_rate" 'BEGIN {
	printf "| /prioritize p99, 5,000 names, 1 client | <= 0.5 ms | %.3f ms | %s |\n", a / 1000, t1
	printf "| /prioritize throughput, 5,000 names, 8 clients | >= 4,000 req/s | %.0f req/s | %s |\n", b, t2
	printf "| 5,000 Node objects, p50, 1 client (prioritize / filter) | < 30 ms | %.1f / %.1f ms | %s |\n", c / 1000, d / 1000, t3
	# Everything offered was taken: the figure is a lower bound set by the publisher.
	pb = (s + 0 > 0 && e >= 0.95 * s && s < 0.9 * rate) ? ", publisher-bound" : ""
	printf "| ingest, messages accepted (publisher average %s/s, %s rejected%s) | >= 100,000 msg/s | %.0f msg/s | %s |\n", s, rj, pb, e, t4 }')

cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
{
	echo "### Extender benchmark"
	echo
	echo "$(nproc) CPUs ($cpu), loopback, $nodes nodes in the table (fed by nodescore-pub at 1 msg/s each),"
	echo "--http-threads $threads, ${secs} s per case after 300 ms warm-up, closed loop (nodescore-loadgen, keep-alive),"
	echo "load average ${load} at start (the clients, pub and extender share these CPUs)."
	echo "Floor: cJSON parse of the same request body alone (nodescore-cjsonfloor, p50)."
	echo
	echo "| verb | request | clients | req/s | p50 ms | p99 ms | cJSON floor ms | p50 / floor |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|"
	printf "%s" "$rows"
	echo
	echo "Targets: best of 3 runs of the same case (other tenants share the CPUs)."
	echo
	echo "| target | goal | measured | result |"
	echo "|---|---|---:|---|"
	echo "$targets"
} >"$md"
echo
cat "$md"
echo
for t in "$t1" "$t2" "$t3" "$t4"; do [ "$t" = PASS ] || { [ "$strict" = 1 ] && bad=1; }; done
if [ "$bad" -ne 0 ]; then
	log ERROR "benchmark incomplete or a case failed (see the table above; extender log tail below)"
	tail -n 5 "$dir/extender.log" 2>/dev/null
	exit 1
fi
log SUCCESS "done in $(($(date +%s) - t0)) s, table written to $md"
