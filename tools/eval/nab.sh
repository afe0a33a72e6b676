#!/bin/sh
# SPDX-License-Identifier: MIT
# make eval (NAB part): runs nodescore-nab over ../shared/data/nab, scores it
# and a scikit-learn IsolationForest baseline with ../shared/tools/nab_score.py
# (all three profiles, same files, same scorer, same run), reports flag events
# and forest speed against scikit-learn, and writes $BUILD/eval-nab.md.
set -u
build=${1:-build}
shared=../shared
data=$shared/data/nab
py=/usr/bin/python3
res=$build/nab-results
md=$build/eval-nab.md
scorer="$py $shared/tools/nab_score.py --data $data/data --labels $data/labels/combined_windows.json"

for f in "$build/nodescore-nab" "$build/nodescore-iforestbench" "$shared/tools/nab_score.py"; do
	[ -e "$f" ] || { echo "ERROR eval-nab: missing $f (run make first; data at $shared)"; exit 1; }
done
rm -rf "$res" && mkdir -p "$res" || exit 1

echo "INFO eval-nab: nodescore detector on $data/data"
t0=$(date +%s)
"$build/nodescore-nab" --data "$data/data" --results "$res" --detector nodescore 2>"$res/nab.log" ||
	{ cat "$res/nab.log"; echo "ERROR eval-nab: nodescore-nab failed"; exit 1; }
t1=$(date +%s)
tail -n 1 "$res/nab.log"
echo "INFO eval-nab: scikit-learn IsolationForest baseline"
$py tools/eval/sklearn_iforest_nab.py --data "$data/data" --out "$res/sklearn_iforest" ||
	{ echo "ERROR eval-nab: sklearn baseline failed"; exit 1; }
t2=$(date +%s)

for d in nodescore sklearn_iforest; do
	$scorer --results "$res/$d" --detector "$d" --json "$res/$d.json" >"$res/$d.txt" 2>&1 ||
		{ cat "$res/$d.txt"; echo "ERROR eval-nab: scoring $d failed"; exit 1; }
	cat "$res/$d.txt"
done

# One row per detector: standard, reward_low_FP_rate, reward_low_FN_rate.
row() {
	awk -v d="$1" '/^standard/{s=$6} /^reward_low_FP_rate/{p=$6} /^reward_low_FN_rate/{n=$6; w=$9}
		END{printf "| %s | %s | %s | %s | %s |\n", d, s, p, n, w}' "$res/$2.txt"
}
events=$($py tools/eval/nab_events.py --results "$res/nodescore" --markdown) ||
	{ echo "ERROR eval-nab: event report failed"; exit 1; }
echo "INFO eval-nab: speed (process CPU time; the machine may be shared)"
ours=$("$build/nodescore-iforestbench" --features 8) || exit 1
theirs=$($py tools/eval/sklearn_iforest_bench.py --features 8) || exit 1
echo "$ours"
echo "$theirs"
get() { echo "$1" | sed -nE "s/.*$2=([0-9.]+).*/\1/p"; }
os=$(get "$ours" single_us) ob=$(get "$ours" batch1000_us_per_sample)
ss=$(get "$theirs" single_us) sb=$(get "$theirs" batch1000_us_per_sample)

{
	echo "# NAB evaluation ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null))"
	echo
	echo "51 NAB v1.1 series shipped in $data (97 windows), scored by \`nab_score.py\` in this run,"
	echo "threshold optimised per profile on these files. nodescore: streaming, one parameter set,"
	echo "past data only ($((t1 - t0)) s). sklearn: IsolationForest on the raw value, fitted once per"
	echo "file on its probationary rows ($((t2 - t1)) s)."
	echo
	echo "| detector | standard | reward_low_FP_rate | reward_low_FN_rate | windows detected (low FN) |"
	echo "|---|---|---|---|---|"
	row "**nodescore (isolation forest, this run)**" nodescore
	row "scikit-learn IsolationForest (this run)" sklearn_iforest
	echo
	echo "Published detectors on the same 51 files, same scorer: quoted from"
	echo "\`$data/PUBLISHED_ON_SHIPPED_FILES.md\`, not re-run here (their per-row outputs are not"
	echo "shipped in $data, so they cannot be re-scored in this run):"
	echo
	sed -n '/^| detector/,$p' "$data/PUBLISHED_ON_SHIPPED_FILES.md"
	echo
	echo "## Flag events (agent operating point: severity >= 5 for 2 samples, clear after 12)"
	echo
	echo "$events"
	echo
	echo "## Speed, 100 trees, psi 256, 8 features, per sample (process CPU time)"
	echo
	echo "| | single sample | batch of 1,000 |"
	echo "|---|---|---|"
	echo "| nodescore iforest (C) | $os us | $ob us |"
	echo "| scikit-learn IsolationForest | $ss us | $sb us |"
	echo "| ratio | $(awk -v a="$ss" -v b="$os" 'BEGIN{printf "%.0fx", a/b}') | $(awk -v a="$sb" -v b="$ob" 'BEGIN{printf "%.1fx", a/b}') |"
} >"$md"
echo "SUCCESS eval-nab: wrote $md"
cat "$md"
