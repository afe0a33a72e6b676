#!/bin/sh
# SPDX-License-Identifier: MIT
# S4's first placement failure: raises the offered request load step by step
# (S1 arrivals, 1 day after the warm-up) and reports, per policy, the last
# load at which every pod was placed and the first at which one failed.
# One seed per load: the sweep is a grid, not an interval estimate.
# Usage: tools/sim/first-failure.sh BUILD_DIR [LOADS] [POLICIES]
#   LOADS     space-separated offered loads, rising (default 0.30 ... 0.40)
#   POLICIES  comma-separated (default: the request-fit policies and the
#             load-aware peers with a filter of their own, and nodescore)
set -u
case "${1:-}" in
-h | --help)
	sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
build=${1:-build}
loads=${2:-0.30 0.32 0.34 0.36 0.38 0.40}
policies=${3:-k8s-default,trimaran-tlp,trimaran-lvrb,crane,koordinator,nodescore}
sim=$build/nodescore-sim
[ -x "$sim" ] || { echo "ERROR first-failure: no $sim (run make)"; exit 1; }
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
prev=0
for l in $loads; do
	case "$l" in
	'' | *[!0-9.]*) echo "ERROR first-failure: load $l is not a number"; exit 2 ;;
	esac
	if [ "$(echo "$l <= $prev" | bc -l)" = 1 ]; then
		echo "ERROR first-failure: loads must rise (got $l after $prev)"
		exit 2
	fi
	prev=$l
done
for l in $loads; do
	echo "INFO first-failure: load=$l policies=$policies" >&2
	"$sim" --scenario s4 --days 1 --seeds 1 --load "$l" --policies "$policies" --quiet 2>&1 |
		sed -nE "s/^SUCCESS sim: run policy=([a-z0-9-]+) .* placed=([0-9]+) failed=([0-9]+).*/$l \1 \2 \3/p" >>"$runs"
done
[ -s "$runs" ] || { echo "ERROR first-failure: no run finished"; exit 1; }
echo "| policy | last load with no failure | first load with a failure | pods failed there |"
echo "|---|---|---|---|"
echo "$policies" | tr ',' '\n' | while read -r p; do
	awk -v p="$p" '$2 == p {
		if ($4 == 0 && !seen) ok = $1
		if ($4 > 0 && !seen) { seen = 1; first = $1; nf = $4 }
	} END {
		printf "| %s | %s | %s | %s |\n", p, ok == "" ? "none" : ok,
		       seen ? first : "none (max " $1 ")", seen ? nf : "-"
	}' "$runs"
done
