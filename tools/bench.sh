#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench: runs every tools/bench/*.sh with the build directory; each prints
# its own table with a same-run baseline. Exit non-zero if any part failed.
set -u
build=${1:-build}
rc=0
for b in tools/bench/*.sh; do
	[ -f "$b" ] || continue
	echo "=== bench: $(basename "$b" .sh)"
	sh "$b" "$build" || { echo "ERROR bench: $(basename "$b") failed"; rc=1; }
done
exit $rc
