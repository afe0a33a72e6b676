#!/bin/sh
# SPDX-License-Identifier: MIT
# make sim: the default placement comparison (docs/sim.md) on the test half
# of the traces, one run after the other, each running its policies on
# every core (nodescore-sim --jobs), then the plots and the targets:
#   S1 steady, S3 faults, S4 packing (80 % offered load): 5 seeds, 1 day;
#   S2 burst at 60 s score staleness: 5 seeds.
# make sim-extra: the sweeps around it (the README's second-level tables):
#   S1 with the Azure VM arrivals instead of the Alibaba tasks: 5 seeds;
#   nodescore alone at 0, 10 and 180 s staleness: 3 seeds each (the peers do
#   not depend on it); both nodescore policies with a 15-minute forecast
#   horizon: 5 seeds.
# Usage: tools/sim/make-sim.sh BUILD_DIR OUT_DIR [default|extra|all]
set -u
build=${1:-build}
out=${2:-docs/sim-results}
set_=${3:-default}
case "$set_" in
default | extra | all) ;;
*)
	echo "ERROR sim: unknown run set $set_ (default, extra, all)"
	exit 2
	;;
esac
sim=$build/nodescore-sim
mkdir -p "$out" || exit 1
start=$(date +%s)
jobs=$(mktemp)
trap 'rm -f "$jobs" "$jobs.t"' EXIT
if [ "$set_" != extra ]; then
	cat <<JOBS
--scenario s4 --days 1 --seeds 5 --load 0.8 --out $out
--scenario s1 --days 1 --seeds 5 --load 0.65 --out $out
--scenario s3 --days 1 --seeds 5 --load 0.65 --out $out
--scenario s2 --seeds 5 --load 1.8 --staleness 60 --out $out
JOBS
fi >"$jobs"
if [ "$set_" != default ]; then
	cat <<JOBS
--arrivals azure --scenario s1 --days 1 --seeds 5 --load 0.65 --out $out/azure
--scenario s2 --seeds 5 --load 1.8 --staleness 60 --policies nodescore,nodescore-q --ns-horizon 900 --out $out/s2-h900
--scenario s2 --seeds 3 --load 1.8 --staleness 0 --policies nodescore --out $out/s2-stale0
--scenario s2 --seeds 3 --load 1.8 --staleness 10 --policies nodescore --out $out/s2-stale10
--scenario s2 --seeds 3 --load 1.8 --staleness 180 --policies nodescore --out $out/s2-stale180
JOBS
fi >>"$jobs"
echo "INFO sim: $(wc -l <"$jobs") runs, one at a time on every core; progress on stderr"
# One run at a time: inside a run the policies share the cores and end
# together (the agent-running ones start first), where two whole runs side
# by side left one core idle while the longer finished.
# shellcheck disable=SC2016
xargs -L 1 sh -c '"$0" --quiet "$@" 2>&1 | grep -E "^(SUCCESS|ERROR)" || true; exit 0' "$sim" <"$jobs"
rc=0
if [ "$set_" != extra ]; then
	for sc in s1 s2 s3 s4; do
		[ -s "$out/$sc-runs.csv" ] || { echo "ERROR sim: $out/$sc-runs.csv missing"; rc=1; continue; }
		"$(dirname "$0")/plot.sh" "$out/$sc-runs.csv" "$out/$sc.png" || rc=1
	done
	if [ -s "$out/qlearn-curve.csv" ]; then
		"$(dirname "$0")/plot-qlearn.sh" "$out/qlearn-curve.csv" "$out/qlearn.png" || rc=1
	fi
	{
		echo "# Placement targets against the last make sim run"
		for p in nodescore nodescore-q; do
			echo
			"$(dirname "$0")/targets.sh" "$out" "$p"
		done
	} >"$out/targets.md" || rc=1
fi
# CPU of every run (the children's user+system time from the shell's
# times): wall time on a shared machine says little, CPU / 2 is what two
# idle cores would take.
times >"$jobs.t"
cpu=$(sed -n 2p "$jobs.t" | awk '{ for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] } } END { printf "%.0f", t }')
echo "INFO sim: make sim took $(($(date +%s) - start)) s wall, ${cpu} s CPU"
exit $rc
