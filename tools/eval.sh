#!/bin/sh
# SPDX-License-Identifier: MIT
# make eval: model quality on ../shared/data, every tools/eval/*.sh in turn.
set -u
build=${1:-build}
rc=0
for e in tools/eval/*.sh; do
	[ -f "$e" ] || continue
	echo "=== eval: $(basename "$e" .sh)"
	sh "$e" "$build" || { echo "ERROR eval: $(basename "$e") failed"; rc=1; }
done
exit $rc
