# SPDX-License-Identifier: MIT
# Helpers for shell integration tests: pass/fail counting in the same
# "N passed, N failed" format as tests/check.h, process cleanup, free ports,
# and the fixtures and servers that several tests start the same way.
# Usage: . tests/lib.sh; BUILD=$1
passed=0
failed=0
skipped=0
NS_PIDS=""
NS_NETNS=""
NS_TMP=$(mktemp -d /tmp/nodescore-itest.XXXXXX)
# Under make asan, a binary started with LD_PRELOAD (libfaketime in
# faults_clock_itest and mtls_itest) would refuse to run because the ASan
# runtime is not first in the library list; the preloaded library only
# wraps clock calls, so the order check is off for the tests' children.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# ns_kill_pids: ends the background processes listed in NS_PIDS: SIGTERM,
# and SIGKILL for one still running 10 s later, so that cleanup never hangs.
ns_kill_pids() {
	for p in $NS_PIDS; do kill "$p" 2>/dev/null; done
	for p in $NS_PIDS; do
		ended_within 10 "$p" || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
# ns_cleanup, on exit: ends those processes, deletes the network namespaces
# made by netns_add, removes NS_TMP.
ns_cleanup() {
	ns_kill_pids
	for p in $NS_NETNS; do ip netns del "$p" 2>/dev/null; done
	rm -rf "$NS_TMP"
}
trap ns_cleanup EXIT
# A test killed by a signal (CI timeout, Ctrl-C) cleans up too: exiting runs
# the EXIT trap, which a bare signal death does not.
trap 'exit 130' HUP INT TERM

pass() { passed=$((passed + 1)); echo "PASS $1"; }
# links BIN PATTERN: the binary BIN loads a shared library matching PATTERN
# (grep), e.g. libasan for a make asan build.
links() { ldd "$1" 2>/dev/null | grep -q "$2"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; echo "  skip: $2" >&2; }
# check NAME CONDITION-COMMAND...: pass when the command succeeds.
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
summary() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; }
# finish: the summary, then the test ends here, exit status 0 unless a check
# failed. For a test that cannot go on: after a skip, or a failed start.
finish() { summary; exit $?; }

# port_listening PORT: something listens on TCP port PORT of this machine.
port_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
# free_port: a TCP port that nothing listens on right now and that this test
# has not been given before. Outside the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range), from which every outgoing
# connection (curl, nanomsg, Prometheus) takes its local port: a port picked
# there can be taken between this check and the bind (EADDRINUSE). Where a
# binary can listen on port 0 and logs the port (--listen-http 127.0.0.1:0:
# start_extender, agent_http_port), that is better still; the scores socket
# (nanomsg) cannot. Prints nothing and fails after 1000 tries.
free_port() {
	read -r fp_lo fp_hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || fp_lo=32768 fp_hi=60999
	# The wider side of the range outside it, from 10000 up; where neither
	# side has 1000 ports (the whole range is ephemeral), 20000..59999.
	if [ $((fp_lo - 10000)) -ge $((65535 - fp_hi)) ] && [ $((fp_lo - 10000)) -ge 1000 ]; then
		fp_min=10000 fp_n=$((fp_lo - 10000))
	elif [ $((65535 - fp_hi)) -ge 1000 ]; then
		fp_min=$((fp_hi + 1)) fp_n=$((65535 - fp_hi))
	else
		fp_min=20000 fp_n=40000
	fi
	fp_try=1000
	while [ "$fp_try" -gt 0 ]; do
		fp_try=$((fp_try - 1))
		p=$((fp_min + $(od -An -N2 -tu2 /dev/urandom) % fp_n))
		grep -qx "$p" "$NS_TMP/ports" 2>/dev/null && continue
		port_listening "$p" && continue
		echo "$p" >>"$NS_TMP/ports"
		echo "$p"
		return 0
	done
	return 1
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_for() {
	t=$(($1 * 10)); shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}
# ended_within SECONDS PID: polls every 0.1 s until process PID has ended;
# false if it still runs after SECONDS.
ended_within() {
	t=$(($1 * 10))
	while kill -0 "$2" 2>/dev/null; do
		[ "$t" -gt 0 ] || return 1
		sleep 0.1
		t=$((t - 1))
	done
}
# stop_pid PID [SECONDS]: SIGTERM to the background process PID, then its
# exit status; one still running after SECONDS (10) is killed (SIGKILL) and
# the status is 124, as timeout(1) gives.
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	if ! ended_within "${2:-10}" "$1"; then
		echo "  pid $1 still running ${2:-10} s after SIGTERM: SIGKILL" >&2
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1"
}

# A 0600 key file with 32 random bytes.
make_key() {
	head -c 32 /dev/urandom >"$1"
	chmod 600 "$1"
}

# extender_http_port LOG: the HTTP port the extender logged when it started.
extender_http_port() { sed -n 's/.*http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n 1; }
# metric NAME: value of the unlabelled sample NAME on $U/metrics; ge NAME N: it is >= N.
metric() { curl -sf "$U/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
ge() { v=$(metric "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
# log_format_ok FILE...: every line of the FILEs is "LEVEL component: ...",
# LEVEL one of ERROR, WARNING, INFO, SUCCESS: the binaries' log format.
log_format_ok() { cat "$@" | grep -vE "^(ERROR|WARNING|INFO|SUCCESS) [a-z_]+: " | (! grep -q .); }

# rejects NAME WANT CMD...: passes when CMD exits 1 and its output (stdout
# and stderr, kept in $NS_TMP/out) holds the text WANT; otherwise fails and
# shows the output's first lines. For checkers shown a broken input.
rejects() {
	n=$1 want=$2
	shift 2
	"$@" >"$NS_TMP/out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$NS_TMP/out"; then
		pass "$n"
	else
		fail "$n" "exit $rc, wanted 1 with '$want'"
		head -5 "$NS_TMP/out"
	fi
}

# --- a fixture node for the agent (--proc-root, --cgroup-root) --------------------
# write_file FILE TEXT: FILE holds TEXT (printf %b: '\n' is a newline), put in
# place by a rename so that the agent never reads half of it.
write_file() { printf '%b' "$2" >"$1.tmp" && mv "$1.tmp" "$1"; }

# fixture_proc_stat ROOT STEP: ROOT/proc/stat of a 2-CPU node after STEP
# steps of 200 busy ticks in 1000: cpu_util 0.2 between any two steps.
fixture_proc_stat() {
	u=$((100 * $2)) i=$((800 * $2))
	h=$((u / 2)) j=$((i / 2))
	write_file "$1/proc/stat" "cpu  $u 0 $u $i 0 0 0 0 0 0\ncpu0 $h 0 $h $j 0 0 0 0 0 0\ncpu1 $h 0 $h $j 0 0 0 0 0 0\nintr 1 2 3\n"
}

# fixture_proc ROOT: ROOT/proc of a healthy 2-CPU node: 10 GiB of memory with
# 4 GiB available (mem_util 0.6), load 0.52, PSI "some" 1 % for cpu, memory
# and io, one disk, /proc/stat at step 1.
fixture_proc() {
	mkdir -p "$1/proc/pressure"
	write_file "$1/proc/meminfo" 'MemTotal:       10485760 kB\nMemFree:         1048576 kB\nMemAvailable:    4194304 kB\n'
	write_file "$1/proc/loadavg" '0.52 0.40 0.30 2/300 4242\n'
	for r in cpu memory io; do
		write_file "$1/proc/pressure/$r" 'some avg10=1.00 avg60=1.00 avg300=0.50 total=100\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'
	done
	write_file "$1/proc/diskstats" '   8       0 sda 1000 0 8000 500 2000 0 16000 1000 0 1500 1500 0 0 0 0 0 0\n'
	fixture_proc_stat "$1" 1
}

# fixture_cpu_ticker ROOT SECONDS [PAUSE-FILE]: in the background for SECONDS,
# advances ROOT/proc/stat one step every 0.1 s (from step 2), except while
# PAUSE-FILE exists. Stopped by ns_cleanup.
fixture_cpu_ticker() {
	(n=2; end=$(($(date +%s) + $2)); while [ "$(date +%s)" -lt $end ]; do
		if [ -z "$3" ] || [ ! -e "$3" ]; then
			fixture_proc_stat "$1" $n
			n=$((n + 1))
		fi
		sleep 0.1
	done) &
	NS_PIDS="$NS_PIDS $!"
}

# fixture_kubepods CG: a cgroup v2 CG/kubepods.slice (systemd layout) with
# 1 s of CPU and 100 MiB used and no pods: the agent's pods source is healthy.
fixture_kubepods() {
	mkdir -p "$1/kubepods.slice"
	write_file "$1/kubepods.slice/cpu.stat" 'usage_usec 1000000\n'
	write_file "$1/kubepods.slice/memory.current" '104857600\n'
}

# fixture_pod CG SLICE CPU-WEIGHT MEMORY-MAX: a pod's cgroup
# CG/kubepods.slice/SLICE with that cpu.weight and memory.max ("max" or bytes).
fixture_pod() {
	mkdir -p "$1/kubepods.slice/$2"
	write_file "$1/kubepods.slice/$2/cpu.weight" "$3\n"
	write_file "$1/kubepods.slice/$2/memory.max" "$4\n"
}

# fixture_node ROOT CG SECONDS: fixture_proc ROOT, and in CG a kubepods tree
# with one pod (pod1111: cpu.weight 39, memory.max 512 MiB); the CPU ticks
# for SECONDS.
fixture_node() {
	fixture_proc "$1"
	fixture_kubepods "$2"
	fixture_pod "$2" kubepods-pod1111.slice 39 536870912
	fixture_cpu_ticker "$1" "$3"
}

# --- a real Prometheus on 127.0.0.1 -----------------------------------------------
# prometheus_config FILE RULES JOB=PORT...: FILE is a Prometheus configuration
# that scrapes each JOB at 127.0.0.1:PORT and evaluates the rule file RULES
# ("" for none), both every second.
prometheus_config() {
	pc_file=$1 pc_rules=$2
	shift 2
	{
		printf 'global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n'
		[ -z "$pc_rules" ] || printf 'rule_files:\n  - %s\n' "$pc_rules"
		echo 'scrape_configs:'
		for pc_job in "$@"; do
			printf '  - job_name: %s\n    static_configs: [{targets: ["127.0.0.1:%s"]}]\n' \
				"${pc_job%%=*}" "${pc_job#*=}"
		done
	} >"$pc_file"
}

# start_prometheus CONFIG [FLAG...]: Prometheus in the background on a free
# port of 127.0.0.1, its data in $NS_TMP/tsdb, its log in $NS_TMP/prom.log;
# sets PROM_URL. It is not waited for: poll with prom_has_value, or
# $PROM_URL/-/ready.
start_prometheus() {
	PROM_URL=http://127.0.0.1:$(free_port)
	sp_config=$1
	shift
	prometheus --config.file="$sp_config" --storage.tsdb.path="$NS_TMP/tsdb" \
		--web.listen-address="${PROM_URL#http://}" "$@" >"$NS_TMP/prom.log" 2>&1 &
	NS_PIDS="$NS_PIDS $!"
}

# prom_query PROMQL: the JSON answer of $PROM_URL to an instant query.
prom_query() { curl -s --max-time 2 "$PROM_URL/api/v1/query" --data-urlencode "query=$1"; }
# prom_has_value PROMQL: the query returns at least one sample.
prom_has_value() { prom_query "$1" | grep -q '"value":\['; }

# --- nodescore-agent --------------------------------------------------------------
# agent_running LOG: the agent that logs to LOG said it runs (its start line).
agent_running() { grep -q "^SUCCESS agent: running " "$1"; }
# agent_http_port LOG: the HTTP port in the agent's start line in LOG (with
# --listen-http 127.0.0.1:0 the port it was given); waits up to 20 s for the
# line, prints nothing if it does not come.
agent_http_port() {
	wait_for 20 agent_running "$1"
	sed -n 's/^SUCCESS agent: running .* http_port=\([0-9]*\).*/\1/p' "$1" | head -n 1
}

# --- nodescore-extender -----------------------------------------------------------
# extender_listening LOG: the extender that logs to LOG said it listens.
extender_listening() { grep -q "SUCCESS extender: listening" "$1"; }

# ext_refuses NAME RC WANT [FLAGS...]: the extender $EXT (key $KEY) exits RC
# at start with WANT in its ERROR line (environment passed through, so
# NODESCORE_* variables can be tested too).
ext_refuses() {
	er_n=$1 er_rc=$2 er_want=$3
	shift 3
	timeout 10 "$EXT" --key-file "$KEY" --listen-http 127.0.0.1:0 \
		--listen-scores "tcp://127.0.0.1:$(free_port)" "$@" >"$NS_TMP/refuse.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$er_rc" ] && grep -q "^ERROR extender: .*$er_want" "$NS_TMP/refuse.out"; then
		pass "$er_n"
	else
		fail "$er_n" "exit $rc (wanted $er_rc), output: $(head -c 300 "$NS_TMP/refuse.out")"
	fi
}

# https_test NAME: the start of a test of the extender's HTTPS port (B set):
# EXT and PUB from B, FIX the extender fixtures, KEY a new key file. NAME
# fails and the test ends here without the binaries, openssl or curl.
https_test() {
	EXT=$B/nodescore-extender
	PUB=$B/nodescore-pub
	FIX=tests/fixtures/extender
	if [ ! -x "$EXT" ] || [ ! -x "$PUB" ] || ! command -v openssl >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
		fail "$1" "needs $EXT and $PUB (make all), openssl and curl (tools/install-deps.sh)"
		finish
	fi
	KEY=$NS_TMP/key
	make_key "$KEY"
}

# start_extender BINARY LOG ARG...: the extender BINARY with ARGs in the
# background, its HTTP on a port it picks on 127.0.0.1, its stderr in LOG;
# waits up to 20 s for it to listen. Sets EXT_PID, and EXT_URL
# (http://127.0.0.1:PORT; empty when it did not start).
start_extender() {
	se_bin=$1 se_log=$2
	shift 2
	"$se_bin" --listen-http 127.0.0.1:0 "$@" 2>"$se_log" &
	EXT_PID=$!
	NS_PIDS="$NS_PIDS $EXT_PID"
	wait_for 20 extender_listening "$se_log"
	EXT_URL=$(extender_http_port "$se_log")
	EXT_URL=${EXT_URL:+http://127.0.0.1:$EXT_URL}
}

# node_fresh URL NODE: the status page of the extender at URL lists NODE and
# its last message is within the TTL. node_stale URL NODE: listed, stale.
node_fresh() { curl -sf --max-time 2 "$1/" | grep "<td>$2</td>" | grep -qv 'class="stale"'; }
node_stale() { curl -sf --max-time 2 "$1/" | grep "<td>$2</td>" | grep -q 'class="stale"'; }

# --- network namespaces (root) ----------------------------------------------------
# netns_add NAME: a new network namespace, deleted by ns_cleanup.
netns_add() { ip netns add "$1" && NS_NETNS="$NS_NETNS $1"; }

# veth_pair NS-A DEV-A NS-B DEV-B NET: a veth pair from DEV-A in NS-A
# (address NET.1/24) to DEV-B in NS-B (NET.2/24), both ends up, and the
# loopback up in both namespaces.
veth_pair() {
	ip link add "$2" type veth peer name "$4" &&
		ip link set "$2" netns "$1" && ip link set "$4" netns "$3" &&
		ip -n "$1" addr add "$5.1/24" dev "$2" && ip -n "$3" addr add "$5.2/24" dev "$4" &&
		ip -n "$1" link set lo up && ip -n "$3" link set lo up &&
		ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# netns_extender NS INTERVAL: the extender $EXT (key $KEY) in namespace NS
# (ports are NS's own): scores on port 5555, HTTP on 127.0.0.1:8888,
# publish interval INTERVAL, its log in $NS_TMP/ext.log; check
# extender_started. A start that fails is shown and ends the test: every
# later check would only wait out its own timeout.
netns_extender() {
	ip netns exec "$1" "$EXT" --key-file "$KEY" --listen-scores tcp://0.0.0.0:5555 \
		--listen-http 127.0.0.1:8888 --publish-interval "$2" --reserve-settle 0 2>"$NS_TMP/ext.log" &
	NS_PIDS="$NS_PIDS $!"
	if wait_for 15 extender_listening "$NS_TMP/ext.log"; then
		pass extender_started
	else
		fail extender_started "no listening line in 15 s; its log:"
		sed 's/^/  /' "$NS_TMP/ext.log" >&2
		ip netns list >&2
		finish
	fi
}

# netns_pair TEST NS-A DEV-A NS-B DEV-B NET: the set-up step of a test on two
# namespaces: both made and joined by veth_pair, check netns_setup. Where
# namespaces cannot be made here TEST is skipped; either way a failure ends
# the test.
netns_pair() {
	if ! netns_add "$2" 2>"$NS_TMP/err"; then
		skip "$1" "ip netns add failed: $(cat "$NS_TMP/err")"
		finish
	fi
	if ! netns_add "$4" || ! veth_pair "$2" "$3" "$4" "$5" "$6"; then
		fail netns_setup "could not build the veth pair"
		finish
	fi
	pass netns_setup
}
