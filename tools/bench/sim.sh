#!/bin/sh
# SPDX-License-Identifier: MIT
# Simulator speed: nodescore-sim with the Kubernetes default policy on
# 100 and 1,000 nodes (1 day warm-up + 1 day), one core, wall time; the
# 7-day figure for 1,000 nodes is extrapolated from the 2 simulated days
# (cost is linear in days). Target: 1,000 nodes x 7 days in under 60 s.
# Table on stdout and in $1/bench-sim.md. Needs ../shared/data.
# Usage: tools/bench/sim.sh BUILD_DIR
set -u
build=${1:-build}
sim=$build/nodescore-sim
out=$build/bench-sim.md
[ -x "$sim" ] || { echo "ERROR bench-sim: no $sim (run make)"; exit 1; }
[ -r ../shared/data/alibaba-v2018-machine-usage-slice/machine_usage.csv ] || {
	echo "ERROR bench-sim: ../shared/data not found (the traces the simulator replays)"
	exit 1
}

run() { # nodes policy -> wall seconds
	s=$(date +%s.%N)
	taskset -c 0 "$sim" --scenario s1 --days 1 --seeds 1 --nodes "$1" --policies "$2" \
		--split all --quiet >/dev/null 2>&1 || { echo "ERROR bench-sim: run failed nodes=$1" >&2; return 1; }
	echo "$(date +%s.%N) - $s" | bc
}

echo "INFO bench-sim: 100 nodes (baseline), then 1000 nodes; about 3 minutes"
t100=$(run 100 k8s-default) || exit 1
t1000=$(run 1000 k8s-default) || exit 1
t7=$(echo "$t1000 * 8 / 2" | bc -l)
verdict=$(echo "$t7 < 60" | bc -l)
[ "$verdict" = 1 ] && v=ok || v=MISS
{
	echo "| run | wall s | per node-day ms |"
	echo "|---|---|---|"
	printf '| 100 nodes x 2 days (baseline) | %.1f | %.1f |\n' "$t100" "$(echo "$t100 * 1000 / 200" | bc -l)"
	printf '| 1000 nodes x 2 days | %.1f | %.1f |\n' "$t1000" "$(echo "$t1000 * 1000 / 2000" | bc -l)"
	printf '| 1000 nodes x 7 days (+1 warm-up), extrapolated | %.0f | target < 60 s: %s |\n' "$t7" "$v"
} | tee "$out"
exit 0
