#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the configuration reference embedded in README.md: the --help of
# every binary, so the README cannot drift from the code.
#   tools/readme-flags.sh BUILD            print the block
#   tools/readme-flags.sh BUILD --update   rewrite README.md between the markers
set -eu
build=${1:-build}
# Every binary the Makefile builds (agent, extender, tools/*/main.c), so a
# new tool cannot be left out; train has subcommands and comes last.
bins() {
	echo agent extender
	for d in tools/*/main.c; do
		d=${d#tools/}
		d=${d%/main.c}
		[ "$d" = train ] || echo "$d"
	done
}
gen() {
	for b in $(bins); do
		echo "### nodescore-$b"
		echo
		echo '```'
		"$build/nodescore-$b" --help
		echo '```'
		echo
	done
	for c in "" forecast iforest eval list; do
		echo "### nodescore-train${c:+ $c}"
		echo
		echo '```'
		# shellcheck disable=SC2086
		"$build/nodescore-train" $c --help
		echo '```'
		echo
	done
}
if [ "${2:-}" = "--update" ]; then
	tmp=$(mktemp)
	gen >"$tmp.block"
	awk -v blk="$tmp.block" '
		/<!-- BEGIN FLAGS -->/ { print; while ((getline l < blk) > 0) print l; skip = 1; next }
		/<!-- END FLAGS -->/ { skip = 0 }
		!skip { print }' README.md >"$tmp"
	mv "$tmp" README.md
	rm -f "$tmp.block"
else
	gen
fi
