#!/bin/sh
# SPDX-License-Identifier: MIT
# Line coverage of lib/, agent/ and extender/ from a --coverage build that has
# run the test suite (make coverage): per file, per directory and total, as a
# markdown table on stdout and in BUILD/coverage.md.
# Usage: tools/coverage-report.sh BUILD   (default build-cov)
set -u
build=${1:-build-cov}
out="$build/coverage.md"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

if ! command -v gcov >/dev/null 2>&1; then
	echo "ERROR coverage: gcov not found (apt-get install gcc)"
	exit 1
fi
if [ ! -d "$build" ]; then
	echo "ERROR coverage: no build directory $build (run make coverage)"
	exit 1
fi
if ! find "$build" -name '*.gcda' | grep -q .; then
	echo "ERROR coverage: no .gcda files under $build: build with --coverage and run the tests first"
	exit 1
fi

# One "file covered total" line per source; gcov -n prints without writing .gcov files.
for src in lib/*.c agent/*.c extender/*.c; do
	[ -f "$src" ] || continue
	obj="$build/$(dirname "$src")"
	gcno="$obj/$(basename "$src" .c).gcno"
	if [ ! -f "$gcno" ]; then
		echo "$src - -" >>"$tmp"
		continue
	fi
	gcov -n -o "$obj" "$src" 2>/dev/null | awk -v want="$src" '
		/^File / { f = $2; gsub(/\047/, "", f); next }
		/^Lines executed:/ && f == want {
			split($2, a, ":"); pct = a[2]; sub(/%/, "", pct); n = $4
			printf "%s %d %d\n", want, int(pct * n / 100 + 0.5), n; found = 1; f = "" }
		END { if (!found) printf "%s 0 0\n", want }' >>"$tmp"
done

awk '
	function row(name, c, n) {
		if (n == "-") printf "| %s | not built | - | - |\n", name
		else printf "| %s | %.1f %% | %d | %d |\n", name, n ? 100 * c / n : 0, c, n
	}
	BEGIN { print "| file | line coverage | lines hit | lines |"; print "|---|---:|---:|---:|" }
	{
		split($1, p, "/"); d = p[1]
		if (d != cur && cur != "") { row("**" cur "/ total**", dc[cur], dn[cur]) }
		cur = d
		row($1, $2, $3)
		if ($3 != "-") { dc[d] += $2; dn[d] += $3; tc += $2; tn += $3 }
	}
	END {
		if (cur != "") row("**" cur "/ total**", dc[cur], dn[cur])
		row("**total**", tc, tn)
	}' "$tmp" >"$out"
cat "$out"
total=$(tail -n 1 "$out" | awk -F'|' '{ gsub(/ /, "", $3); print $3 }')
echo "SUCCESS coverage: total line coverage $total (table in $out)"
