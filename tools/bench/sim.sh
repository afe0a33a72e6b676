#!/bin/sh
# SPDX-License-Identifier: MIT
# Simulator speed: nodescore-sim with the Kubernetes default policy, pinned
# to one core (taskset -c 0), on 100 nodes x 2 days and 1,000 nodes x 2 days
# (1 day warm-up + 1 day), then the target itself, 1,000 nodes x 7 days
# (+1 warm-up), measured, not extrapolated. Each run reports user CPU
# seconds (what one core spent, honest on a shared machine), wall seconds
# and peak RSS. Target: 1,000 nodes x 7 days in under 60 s of CPU.
# Table on stdout and in $1/bench-sim.md. Needs ../shared/data and
# /usr/bin/time. BENCH_SIM_NO7=1 skips the 7-day run.
# Usage: tools/bench/sim.sh BUILD_DIR
set -u
build=${1:-build}
sim=$build/nodescore-sim
out=$build/bench-sim.md
[ -x "$sim" ] || { echo "ERROR bench-sim: no $sim (run make)"; exit 1; }
[ -x /usr/bin/time ] || { echo "ERROR bench-sim: /usr/bin/time not found (apt-get install time)"; exit 1; }
[ -r ../shared/data/alibaba-v2018-machine-usage-slice/machine_usage.csv ] || {
	echo "ERROR bench-sim: ../shared/data not found (the traces the simulator replays)"
	exit 1
}
tf=$(mktemp) || exit 1
trap 'rm -f "$tf"' EXIT

run() { # nodes days -> "user wall maxrss_kb"
	/usr/bin/time -o "$tf" -f '%U %e %M' taskset -c 0 "$sim" --scenario s1 --days "$2" \
		--seeds 1 --nodes "$1" --policies k8s-default --split all --quiet >/dev/null 2>&1 ||
		{ echo "ERROR bench-sim: run failed nodes=$1 days=$2" >&2; return 1; }
	tail -n 1 "$tf"
}

row() { # label nodes simulated_days "user wall rss"
	set -- "$1" "$2" "$3" $4
	printf '| %s | %.1f | %.1f | %.0f | %.2f |\n' "$1" "$4" "$5" "$(echo "$6 / 1024" | bc -l)" \
		"$(echo "$4 * 1000 / ($2 * $3)" | bc -l)"
}

echo "INFO bench-sim: 100 and 1000 nodes x 2 days, then 1000 nodes x 8 days; a few minutes"
r100=$(run 100 1) || exit 1
r1000=$(run 1000 1) || exit 1
r7=
if [ "${BENCH_SIM_NO7:-0}" != 1 ]; then
	r7=$(run 1000 7) || exit 1
fi
{
	echo "| run (k8s-default, one core) | user CPU s | wall s | peak RSS MB | CPU ms per node-day |"
	echo "|---|---|---|---|---|"
	row "100 nodes x 2 days (1 warm-up + 1)" 100 2 "$r100"
	row "1000 nodes x 2 days (1 warm-up + 1)" 1000 2 "$r1000"
	if [ -n "$r7" ]; then
		row "1000 nodes x 7 days (+1 warm-up), measured" 1000 8 "$r7"
		u7=$(echo "$r7" | cut -d' ' -f1)
		[ "$(echo "$u7 < 60" | bc -l)" = 1 ] && v=ok || v=MISS
		printf '\ntarget: 1,000 nodes x 7 days in under 60 s of CPU on one core: %.0f s, %s\n' \
			"$u7" "$v"
	fi
} | tee "$out"
exit 0
