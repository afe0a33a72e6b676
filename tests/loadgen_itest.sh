#!/bin/sh
# SPDX-License-Identifier: MIT
# Bench tools against the real extender over loopback: nodescore-loadgen
# counts requests, saves a reply and reports percentiles; fails loudly on a
# refused port, a wrong status and bad flags; nodescore-cjsonfloor times a
# parse and refuses invalid JSON; gen-nodes.py writes parseable bodies.
# Usage: sh tests/loadgen_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
EXT=$B/nodescore-extender
PUB=$B/nodescore-pub
LG=$B/nodescore-loadgen
FL=$B/nodescore-cjsonfloor

for b in "$EXT" "$PUB" "$LG" "$FL"; do
	if [ ! -x "$b" ]; then
		skip loadgen_tools "needs $b"
		finish
	fi
done

KEY=$NS_TMP/key
make_key "$KEY"
SP=$(free_port)
LOG=$NS_TMP/extender.log
start_extender "$EXT" "$LOG" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 1s
check extender_started test -n "$EXT_URL"
U=$EXT_URL
"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --nodes 20 --prefix lg- \
	--interval 200ms --log-every 0 2>"$NS_TMP/pub.log" &
NS_PIDS="$NS_PIDS $!"
nodes() { curl -sf "$U/metrics" | awk '$1 == "nodescore_extender_table_nodes" { print $2 }'; }
has20() { [ "$(nodes)" = 20 ]; }
check table_filled wait_for 20 has20

check gen_nodes python3 tools/bench/gen-nodes.py "$NS_TMP" --prefix lg- --names 20 --nodes 3
check gen_nodes_valid python3 -c "
import json, sys
n = json.load(open('$NS_TMP/names-20.json')); o = json.load(open('$NS_TMP/nodes-3.json'))
assert n['NodeNames'] == ['lg-%d' % i for i in range(20)] and n['Nodes'] is None
items = o['Nodes']['items']
assert [i['metadata']['name'] for i in items] == ['lg-0', 'lg-1', 'lg-2']
assert all(3500 < len(json.dumps(i, separators=(',', ':'))) < 6000 for i in items)"

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }
"$LG" --url "$U/prioritize" --body "$NS_TMP/names-20.json" --clients 2 --duration 500ms \
	--warmup 100ms --save-response "$NS_TMP/reply.json" >"$NS_TMP/lg.out" 2>"$NS_TMP/lg.err"
check loadgen_exit_0 test $? -eq 0
check loadgen_counts sh -c "[ \"$(kv requests "$NS_TMP/lg.out")\" -gt 20 ] && \
	[ \"$(kv errors "$NS_TMP/lg.out")\" = 0 ]"
check loadgen_percentiles_ordered awk -v a="$(kv p50_us "$NS_TMP/lg.out")" \
	-v b="$(kv p99_us "$NS_TMP/lg.out")" -v c="$(kv max_us "$NS_TMP/lg.out")" \
	'BEGIN { exit !(a > 0 && a <= b && b <= c) }'
check loadgen_saved_reply python3 -c "
import json
r = json.load(open('$NS_TMP/reply.json'))
assert sorted(h['Host'] for h in r) == sorted('lg-%d' % i for i in range(20))"
# GET /metrics without a body, and a request capped by --requests.
"$LG" --url "$U/metrics" --duration 2s --requests 50 >"$NS_TMP/lg2.out" 2>&1
check loadgen_get_requests_cap sh -c "[ $? -eq 0 ] && [ \"$(kv requests "$NS_TMP/lg2.out")\" -ge 50 ] && \
	[ \"$(kv requests "$NS_TMP/lg2.out")\" -lt 60 ]"

# Paced: 2 clients at 50 requests/s each for 1 s send about 100, not the
# thousands a closed loop sends; a bad rate is refused.
"$LG" --url "$U/prioritize" --body "$NS_TMP/names-20.json" --clients 2 --rate 50 \
	--duration 1s --warmup 0 >"$NS_TMP/lgr.out" 2>"$NS_TMP/lgr.err"
check loadgen_rate_exit_0 test $? -eq 0
check loadgen_rate_paced sh -c "n=\$(sed -n 's/.* requests=\\([0-9]*\\).*/\\1/p' '$NS_TMP/lgr.out'); \
	[ \"\$n\" -ge 95 ] && [ \"\$n\" -le 102 ] && grep -q ' rate=50 ' '$NS_TMP/lgr.out'"
"$LG" --url "$U/x" --rate -1 >/dev/null 2>"$NS_TMP/lgr2.err"
check loadgen_bad_rate sh -c "[ $? -eq 2 ] && grep -q 'or --rate' '$NS_TMP/lgr2.err'"

"$LG" --url "$U/prioritize" --body "$NS_TMP/names-20.json" --duration 200ms \
	--expect-status 201 >"$NS_TMP/lg3.out" 2>"$NS_TMP/lg3.err"
check loadgen_wrong_status_fails sh -c "[ $? -eq 1 ] && grep -q 'unexpected status=200' '$NS_TMP/lg3.err'"
"$LG" --url "http://127.0.0.1:$(free_port)/x" --duration 200ms >"$NS_TMP/lg4.out" 2>"$NS_TMP/lg4.err"
check loadgen_refused_fails sh -c "[ $? -eq 1 ] && grep -q 'what=connect' '$NS_TMP/lg4.err'"
"$LG" --url "ftp://x" >/dev/null 2>"$NS_TMP/lg5.err"
check loadgen_bad_url sh -c "[ $? -eq 2 ] && grep -q 'ERROR loadgen: invalid --url' '$NS_TMP/lg5.err'"
"$LG" --url "$U/x" --clients 0 >/dev/null 2>&1
check loadgen_bad_clients test $? -eq 2

"$FL" --file "$NS_TMP/nodes-3.json" --duration 100ms >"$NS_TMP/fl.out" 2>&1
check floor_runs sh -c "[ $? -eq 0 ] && awk -v a=\"$(kv p50_us "$NS_TMP/fl.out")\" \
	-v n=\"$(kv iters "$NS_TMP/fl.out")\" 'BEGIN { exit !(a > 0 && n >= 5) }'"
printf '{"a":[1,2' >"$NS_TMP/bad.json"
"$FL" --file "$NS_TMP/bad.json" >/dev/null 2>"$NS_TMP/fl2.err"
check floor_rejects_invalid sh -c "[ $? -eq 1 ] && grep -q 'not valid JSON' '$NS_TMP/fl2.err'"
"$FL" --file "$NS_TMP/missing.json" >/dev/null 2>&1
check floor_missing_file test $? -eq 2
summary
