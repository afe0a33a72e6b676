#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every test binary in $1 (build/tests) and every tests/*_itest.sh,
# adds up their "N passed, N failed" lines, prints the total last.
# Exit status: 0 only when nothing failed and every test program exited cleanly.
set -u
bindir=${1:-build/tests}
filter=${2:-}
tp=0 tf=0 ts=0 crashed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() {
	name=$1
	shift
	case "$name" in *"$filter"*) ;; *) return ;; esac
	echo "== $name"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $name: exited rc=$rc without a summary line"
		tf=$((tf + 1))
		crashed=1
		return
	fi
	p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
	tp=$((tp + p))
	tf=$((tf + f))
	ts=$((ts + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exit status $rc"
		tf=$((tf + 1))
		crashed=1
	fi
	echo "-- $name: $line ($(($(date +%s) - start)) s)"
}

for t in "$bindir"/*_test; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in tests/*_itest.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t" .sh)" sh "$t" "$(dirname "$bindir")"
done
echo "skipped: $ts (see 'skip:' lines above for reasons)"
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ] && [ "$crashed" -eq 0 ]
