#!/bin/sh
# SPDX-License-Identifier: MIT
# Leave-one-corpus-out cross-validation of the NAB detector (docs/anomaly-cv.md).
#
#   sh tools/nab/cv.sh [BUILD]      (env: CV_SEEDS="42", CV_OUT=BUILD/nab-cv,
#                                    NAB_BIN=BUILD/nodescore-nab; CV_GRID, CV_MARGINS,
#                                    CV_TSEASONS override the grid)
#
# 1. runs BUILD/nodescore-nab once per grid point and seed over every shipped
#    NAB series (nice -n 10, one job at a time; a finished run is reused);
# 2. tools/nab/cv.py: for each fold (one corpus left out; artificialNoAnomaly
#    and artificialWithAnomaly form one "artificial" fold), chooses the grid
#    point AND the output threshold on the other corpora by NAB standard score,
#    then scores the left-out corpus with both fixed; prints the left-out table
#    beside the in-sample one and writes CV_OUT/cv.md, CV_OUT/cv.json.
# The grid (below) is the parameters that were tuned on these same files:
# gate x tail margin x seasonal tail. Everything else stays at nodescore-nab's
# defaults.
set -u
build=${1:-build}
shared=../shared
data=$shared/data/nab
py=/usr/bin/python3
bin=${NAB_BIN:-$build/nodescore-nab}
out=${CV_OUT:-$build/nab-cv}
seeds=${CV_SEEDS:-42}
grid=${CV_GRID:-"0.97 0.98 0.99"}
margins=${CV_MARGINS:-"1 1.25 1.5"}
tseasons=${CV_TSEASONS:-"0 3"}

for f in "$bin" "$shared/tools/nab_score.py" "$data/labels/combined_windows.json"; do
	[ -e "$f" ] || { echo "ERROR nab-cv: missing $f (run make first; data at $shared)"; exit 1; }
done
mkdir -p "$out/runs" || exit 1
n=0
for s in $seeds; do
	for g in $grid; do
		for m in $margins; do
			for t in $tseasons; do
				name="g${g}_m${m}_ts${t}_s${s}"
				dir="$out/runs/$name"
				n=$((n + 1))
				if [ -f "$dir/done" ]; then
					continue
				fi
				rm -rf "$dir"
				echo "INFO nab-cv: run $n $name"
				nice -n 10 "$bin" --data "$data/data" --results "$dir" --detector nodescore \
					--gate "$g" --tail-margin "$m" --tail-season "$t" --seed "$s" \
					2>"$dir.log" || { tail -n 3 "$dir.log"; echo "ERROR nab-cv: $name failed"; exit 1; }
				tail -n 1 "$dir.log" | sed 's/^/    /'
				echo "gate=$g tail_margin=$m tail_season=$t seed=$s" >"$dir/done"
			done
		done
	done
done
nice -n 10 $py tools/nab/cv.py --data "$data" --runs "$out/runs" --seeds "$seeds" \
	--markdown "$out/cv.md" --json "$out/cv.json" --pr-data "$out/pr.dat" ||
	{ echo "ERROR nab-cv: cv.py failed"; exit 1; }
if command -v gnuplot >/dev/null; then
	gnuplot -e "in='$out/pr.dat'; out='$out/pr.png'" tools/nab/pr.gp || echo "WARNING nab-cv: gnuplot failed"
fi
echo "SUCCESS nab-cv: wrote $out/cv.md, $out/cv.json, $out/pr.dat, $out/pr.png"
