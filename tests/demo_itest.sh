#!/bin/sh
# SPDX-License-Identifier: MIT
# `make demo` itself (tools/demo.sh), short and non-interactive:
#   1. a full run (DEMO_SECONDS=1, 4 s of load, 20 replayed nodes): the
#      breakdown and this machine's score arithmetic are printed, no NaN
#      anywhere, the ranking changes under the CPU burner (unless the machine
#      was already saturated before it: then the demo says so and this check
#      is skipped), the NodeAnomaly alert arrives when Prometheus and
#      Alertmanager are installed, exit 0, nothing left running;
#   2. Ctrl-C in the middle of the load step (SIGINT to the demo's process
#      group, as a terminal sends it): it stops, says so, nothing left running.
# "Nothing left running" is checked on every process that inherited a marker
# environment variable, wherever it went (the demo puts its children in their
# own sessions).
# Usage: sh tests/demo_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
for b in nodescore-extender nodescore-agent nodescore-pub; do
	[ -x "$B/$b" ] || { fail binaries "missing $B/$b"; finish; }
done
for b in curl setsid ss "$PY"; do
	command -v "$b" >/dev/null 2>&1 || { skip demo_all "$b not installed"; finish; }
done
TAG=NS_DEMO_ITEST=$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')

# Processes carrying the marker (the demo and everything it started).
marked() {
	"$PY" - "$TAG" <<'PY'
import os, sys
tag = sys.argv[1].encode()
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    try:
        with open(f"/proc/{p}/environ", "rb") as f:
            if tag not in f.read().split(b"\0"):
                continue
        with open(f"/proc/{p}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").replace(b"\n", b" ")[:120].decode(errors="replace")
    except OSError:
        continue
    print(p, cmd)
PY
}
none_marked() { [ -z "$(marked)" ]; }
# Kills whatever a failed run left behind, so this test never leaks.
reap() {
	for p in $(marked | awk '{print $1}'); do kill -KILL "$p" 2>/dev/null; done
}
NS_PIDS=""

# start_demo OUT ENV...: the demo in a new session with SIGINT at its default
# (a background job of a script would ignore it), like `make demo` in a terminal.
start_demo() {
	out=$1
	shift
	env "$TAG" "$@" "$PY" -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp(sys.argv[1], sys.argv[1:])' sh "$ROOT/tools/demo.sh" "$B" >"$out" 2>&1 &
	DEMO=$!
}

# --- 1: a whole short run --------------------------------------------------------
OUT=$NS_TMP/run.out
t0=$(date +%s)
start_demo "$OUT" DEMO_SECONDS=1 DEMO_LOAD_SECONDS=4 DEMO_NODES=20
if ! ended_within 90 $DEMO; then
	fail run_ends_within_90s
	kill -INT -$DEMO 2>/dev/null
	sleep 3
fi
wait $DEMO
rc=$?
echo "  demo run: $(($(date +%s) - t0)) s, exit $rc" >&2
check run_exit_0 [ "$rc" = 0 ]
check waited_for_measured_cpu sh -c '! grep -q "has not measured CPU use" "$1"' _ "$OUT"
check breakdown_header grep -q 'rank  node .* prio score .* cpu .* peak .* mem .* peak .* headrm .* anomaly .* flags and reasons' "$OUT"
check breakdown_before_load grep -q '^== before load: 21 nodes' "$OUT"
check this_machine_row grep -q '<- this machine' "$OUT"
check score_arithmetic grep -q '^  score = 1000 x (0.7 x headroom + 0.3 x (1 - anomaly)) = 1000 x (0.7 x [0-9.]* + 0.3 x [0-9.]*) = [0-9]*; the agent published [0-9]*' "$OUT"
check headroom_explained grep -q '^  headroom = 0.5 x (1 - cpu peak) + 0.5 x (1 - memory peak) - pressure' "$OUT"
check flags_explained grep -q '^  flags: ' "$OUT"
check no_nan sh -c '! grep -qiw nan "$1"' _ "$OUT"
check load_lines grep -q '^  t+4s under load: ' "$OUT"
check recovery_lines grep -q '^  t+1s after load: ' "$OUT"

# The ranking under load: score and rank from the RESULT line.
res=$(sed -n 's/^RESULT under load: this machine rank \([0-9]*\) -> \([0-9]*\) of [0-9]*, score \([0-9]*\) -> \([0-9]*\),.*/\1 \2 \3 \4/p' "$OUT")
check result_line [ -n "$res" ]
set -- $res
echo "  under load: rank ${1:-?} -> ${2:-?}, score ${3:-?} -> ${4:-?}" >&2
if grep -q '^NOTE demo: this machine was already saturated before the burner' "$OUT"; then
	skip ranking_changes_under_load "this machine was saturated before the burner (other load; $(grep -o 'cpu [0-9.]*%, PSI pressure [0-9.]*' "$OUT" | head -n 1)): its score was at the floor already"
else
	# Score at least 50 lower, and ranked lower unless it was last already:
	# on an idle machine the CPU term alone is worth 350 points.
	of=$(sed -n 's/^RESULT under load: this machine rank [0-9]* -> [0-9]* of \([0-9]*\),.*/\1/p' "$OUT")
	check ranking_changes_under_load sh -c '[ -n "$4" ] && [ "$4" -le $(($3 - 50)) ] &&
		{ [ "$2" -gt "$1" ] || [ "$1" -eq "$5" -a "$2" -eq "$5" ]; }' _ "${1:-}" "${2:-}" "${3:-}" "${4:-}" "${of:-0}"
fi
check anomaly_flagged_on_extender grep -q '^INFO demo: the extender has this machine flagged' "$OUT"
if command -v prometheus >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1; then
	check prometheus_urls_printed grep -q '^INFO demo: Prometheus http://127.0.0.1:[0-9]*/alerts   Alertmanager http://127.0.0.1:[0-9]*/' "$OUT"
	check alert_arrived grep -q '^ALERT demo: NodeAnomaly arrived at the webhook [0-9]* s after' "$OUT"
	check alert_labels grep -q '^  alertname=NodeAnomaly node=[a-z0-9.-]* severity=warning feature=cpu_util status=firing' "$OUT"
else
	skip alert_arrived "prometheus or prometheus-alertmanager not installed"
	check alert_step_skipped_said grep -q 'skipping the alert step' "$OUT"
fi
check run_says_all_ended grep -q '^SUCCESS demo: stopped, all [0-9]* process groups ended' "$OUT"
check run_nothing_left wait_for 3 none_marked
marked >&2
reap

# --- 2: Ctrl-C during the load step --------------------------------------------
OUT2=$NS_TMP/int.out
start_demo "$OUT2" DEMO_SECONDS=0 DEMO_LOAD_SECONDS=30 DEMO_NODES=5
if wait_for 90 grep -q '^  t+1s under load' "$OUT2"; then
	pass int_reached_load_step
	if [ "$(marked | grep -c 'python3 -c')" -gt 0 ]; then pass int_burner_running; else fail int_burner_running; fi
	t0=$(date +%s)
	kill -INT -$DEMO
	check int_demo_exits_within_15s ended_within 15 $DEMO
	echo "  Ctrl-C: the demo ended $(($(date +%s) - t0)) s after SIGINT" >&2
	check int_says_interrupted grep -q '^INFO demo: interrupted, stopping' "$OUT2"
	check int_says_all_ended grep -q '^SUCCESS demo: stopped, all [0-9]* process groups ended' "$OUT2"
	check int_nothing_left wait_for 3 none_marked
	marked >&2
else
	fail int_reached_load_step "$(tail -n 5 "$OUT2")"
	kill -INT -$DEMO 2>/dev/null
	sleep 5
fi
wait $DEMO 2>/dev/null
reap
summary
