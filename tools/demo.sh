#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: the extender on loopback, the real agent measuring this machine
# (BPF when allowed), 50 replayed fake nodes from nodescore-pub, then the
# ranking a real kube-scheduler /prioritize call gets. Ctrl-C stops it all.
# DEMO_SECONDS=N stops by itself after N seconds (0 = until Ctrl-C).
set -u
build=${1:-build}
seconds=${DEMO_SECONDS:-0}
dir=$(mktemp -d /tmp/nodescore-demo.XXXXXX)
pids=""

cleanup() {
	trap - INT TERM EXIT
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
	echo "SUCCESS demo: stopped, all processes ended"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

for b in nodescore-extender nodescore-agent nodescore-pub; do
	[ -x "$build/$b" ] || { echo "ERROR demo: $build/$b missing (run make)"; exit 1; }
done

port() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}
SCORES=$(port)
HTTP=$(port)
AGENT_HTTP=$(port)
head -c 32 /dev/urandom >"$dir/key"
chmod 600 "$dir/key"
node=$(hostname | tr 'A-Z' 'a-z' | tr -c 'a-z0-9.\n-' '-')

"$build/nodescore-extender" --listen-scores "tcp://127.0.0.1:$SCORES" \
	--listen-http "127.0.0.1:$HTTP" --key-file "$dir/key" --publish-interval 1s \
	2>"$dir/extender.log" &
pids="$pids $!"
"$build/nodescore-agent" --publish "tcp://127.0.0.1:$SCORES" --key-file "$dir/key" \
	--listen-http "127.0.0.1:$AGENT_HTTP" --state-dir "$dir/state" --node-name "$node" \
	--interval 1s --publish-interval 1s 2>"$dir/agent.log" &
pids="$pids $!"
"$build/nodescore-pub" --connect "tcp://127.0.0.1:$SCORES" --key-file "$dir/key" \
	--nodes 50 --prefix replay- --interval 1s 2>"$dir/pub.log" &
pids="$pids $!"

echo "INFO demo: extender http://127.0.0.1:$HTTP/ (status page), agent http://127.0.0.1:$AGENT_HTTP/metrics"
echo "INFO demo: waiting for 51 nodes (50 replayed + this machine: $node)"
i=0
while :; do
	n=$(curl -s "http://127.0.0.1:$HTTP/metrics" | awk '/^nodescore_extender_table_nodes /{print $2}')
	[ "${n:-0}" -ge 51 ] 2>/dev/null && break
	i=$((i + 1))
	if [ $i -gt 150 ]; then
		echo "ERROR demo: only ${n:-0} nodes after 15 s; logs:"
		tail -n 5 "$dir"/*.log
		exit 1
	fi
	sleep 0.1
done
grep -h -E '^(SUCCESS|INFO|WARNING|ERROR) ' "$dir/agent.log" | head -n 8

show() {
	names=$(printf '"replay-%d",' $(seq 0 49))
	body="{\"Pod\":{\"metadata\":{\"name\":\"demo\"}},\"NodeNames\":[${names}\"$node\"]}"
	curl -s -X POST -H 'Content-Type: application/json' -d "$body" \
		"http://127.0.0.1:$HTTP/prioritize" >"$dir/prio.json"
	curl -s "http://127.0.0.1:$AGENT_HTTP/metrics" >"$dir/agent.prom"
	/usr/bin/python3 tools/demo-show.py "$dir/prio.json" "$dir/agent.prom" "$node" \
		"http://127.0.0.1:$HTTP/metrics"
}

show
if [ "$seconds" -gt 0 ]; then
	sleep "$seconds"
	show
	exit 0
fi
echo "INFO demo: running; the ranking refreshes every 10 s. Ctrl-C to stop."
while :; do
	sleep 10
	show
done
