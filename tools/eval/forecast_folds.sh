#!/bin/sh
# SPDX-License-Identifier: MIT
# Forecast evaluation on left-out machines (issue 12): per-machine folds over
# the Alibaba 2018 machines and the Bitbrains VMs in ../shared/data. For each
# fold the forecaster is trained by nodescore-train with exactly the options of
# the time split (tools/eval/forecast.sh) on the first 70 % of the OTHER
# machines, and the last 30 % of the left-out machines is scored: a machine is
# never in both, and no training row is later than a scored row's series
# split. Same rows, metrics and baselines (persistence, seasonal naive, EWMA)
# as the time split; tools/eval/forecast_folds.py pools the folds and writes
# the per-fold and mean tables, beside the time-split figures when
# tools/eval/forecast.sh has run in the same BUILD. Run from the repository root.
set -eu

usage() {
	cat <<'EOF'
Usage: tools/eval/forecast_folds.sh [OPTIONS] [BUILD]

Per-machine folds for the load forecaster: train on some machines, score the
others, never the same machine in both. Report: BUILD/eval-forecast-folds.md
(and .json); work files in BUILD/eval-forecast-folds/. Progress on stderr.

Options:
  --datasets LIST      alibaba,bitbrains (default: both)
  --alibaba-folds K    folds over the 12 Alibaba machines, 2..12 (default 6)
  --bitbrains-folds K  folds over the Bitbrains VMs, 2..20 (default 5)
  --recipe eval|shipped  eval (default): one model per data set with the time
                       split's options (tools/eval/forecast.sh); shipped: the shipped
                       bundle's recipe (models/README-forecast.md): one model trained on
                       both data sets (the other data set's machines all in training,
                       their first 70 % too), 120,000 rows, format auto
  --train-args ARGS    extra nodescore-train forecast options for every fold
                       (e.g. "--trees 100"); default none = the time-split recipe
  --tag NAME           name of this variant: work in BUILD/eval-forecast-folds-NAME,
                       report BUILD/eval-forecast-folds-NAME.md (default: none)
  --out FILE.md        report path instead (JSON beside it as FILE.json, work files
                       in the directory FILE)
  --time-split DIR|none  time-split exports to show beside the folds (default
                       BUILD/eval-forecast, written by tools/eval/forecast.sh); none: folds only
  --jobs N             folds trained at once, 1..2 (default 1; nthread is 1 each)
  --reuse              keep fold bundles already trained with the same options
  -h, --help           this text

Machine i (Alibaba: by name, Bitbrains: by VM id) is in fold i mod K.
Environment: NODESCORE_DATA (default ../shared/data).
Exit status: 0 done, 1 a run failed (data, build, training), 2 bad options.
About 70 s per Alibaba fold and 3 min per Bitbrains fold on one core.
EOF
}

die() { echo "ERROR eval_folds: $*" >&2; exit 1; }
bad() { echo "ERROR eval_folds: $*" >&2; exit 2; } # bad options: exit 2
info() { echo "INFO eval_folds: $*" >&2; }
need() { [ "$2" -ge 2 ] || bad "$1 needs a value (see --help)"; }

recipe=eval datasets=alibaba,bitbrains ka=6 kb=5 extra="" tag="" jobs=1 reuse=0 out="" tsdir=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--datasets) need "$1" $#; datasets=$2; shift 2 ;;
	--alibaba-folds) need "$1" $#; ka=$2; shift 2 ;;
	--bitbrains-folds) need "$1" $#; kb=$2; shift 2 ;;
	--recipe) need "$1" $#; recipe=$2; shift 2 ;;
	--train-args) need "$1" $#; extra=$2; shift 2 ;;
	--tag) need "$1" $#; tag=$2; shift 2 ;;
	--out) need "$1" $#; out=$2; shift 2 ;;
	--time-split) need "$1" $#; tsdir=$2; shift 2 ;;
	--jobs) need "$1" $#; jobs=$2; shift 2 ;;
	--reuse) reuse=1; shift ;;
	--) shift; break ;;
	-*) bad "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
done
[ $# -le 1 ] || bad "one BUILD directory at most (see --help)"
build=${1:-build}
isint() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
if ! { isint "$ka" && [ "$ka" -ge 2 ] && [ "$ka" -le 12 ]; }; then bad "--alibaba-folds must be 2..12, got '$ka'"; fi
if ! { isint "$kb" && [ "$kb" -ge 2 ] && [ "$kb" -le 20 ]; }; then bad "--bitbrains-folds must be 2..20, got '$kb'"; fi
if ! { isint "$jobs" && [ "$jobs" -ge 1 ] && [ "$jobs" -le 2 ]; }; then bad "--jobs must be 1 or 2, got '$jobs'"; fi
case $recipe in eval | shipped) ;; *) bad "--recipe must be eval or shipped, got '$recipe'" ;; esac
case $out in '' | *.md) ;; *) bad "--out must name a .md file, got '$out'" ;; esac
case $tag in *[!A-Za-z0-9_.-]*) bad "--tag: letters, digits, '.', '_', '-' only" ;; esac
do_al=0 do_bb=0
for d in $(echo "$datasets" | tr ',' ' '); do
	case $d in
	alibaba) do_al=1 ;;
	bitbrains) do_bb=1 ;;
	*) bad "--datasets: unknown '$d' (alibaba, bitbrains)" ;;
	esac
done
[ $((do_al + do_bb)) -gt 0 ] || bad "--datasets is empty"

data=${NODESCORE_DATA:-../shared/data}
train="$build/nodescore-train"
py=/usr/bin/python3
[ "$recipe" = eval ] && suffix=${tag:+-$tag} || suffix=-shipped${tag:+-$tag}
[ -n "$out" ] || out="$build/eval-forecast-folds$suffix.md"
work=${out%.md}
[ -n "$tsdir" ] || tsdir="$build/eval-forecast"
al_csv="$data/alibaba-v2018-machine-usage-slice/machine_usage.csv"
bb_dir="$data/bitbrains-rnd-2013-7/rnd/2013-7"
[ -x "$train" ] || die "$train not built (run make BUILD=$build)"
[ "$do_al" = 0 ] && [ "$recipe" = eval ] || [ -f "$al_csv" ] || die "missing $al_csv"
[ "$do_bb" = 0 ] && [ "$recipe" = eval ] || [ -d "$bb_dir" ] || die "missing $bb_dir"
[ -x "$py" ] || die "$py not found (apt-get install python3)"
$py -c 'import numpy' 2>/dev/null || die "$py needs python3-numpy"
mkdir -p "$work" || die "cannot create $work"
start=$(date +%s)

# The time split's options (tools/eval/forecast.sh), so only the machines differ.
common="--train-frac 0.7 --stride 30m"
# The shipped recipe: models/README-forecast.md (its 15 min models are left out: every
# target is its own model, so the 1 h..4 h ones do not depend on them).
if [ "$recipe" = eval ]; then
	train_opts="$common --max-rows 80000 --horizons 1h,2h,4h $extra"
else
	train_opts="$common --max-rows 120000 --horizons 1h,2h,4h --trees 150 --depth 6 --eta 0.08"
	train_opts="$train_opts --peak-quantile 0.8 --peak-quantile-short 0.75"
	train_opts="$train_opts --peak-objective reg:pseudohubererror $extra"
fi

# fold_lists NAME K: NAME/machines (sorted as the reader sorts them) and
# NAME/foldN.test / foldN.train (machine names, one a line).
fold_lists() {
	name=$1 k=$2
	awk -v k="$k" -v dir="$work/$name" '
		{ f = (NR - 1) % k; print > (dir "/fold" f ".test")
		  for (j = 0; j < k; j++) if (j != f) print > (dir "/fold" j ".train") }' \
		"$work/$name/machines"
}

if [ "$do_al" = 1 ]; then
	mkdir -p "$work/alibaba"
	rm -f "$work"/alibaba/fold*.test "$work"/alibaba/fold*.train
	# The reader orders Alibaba machines by first appearance; the file is grouped by machine.
	awk -F, '!seen[$1]++ { print $1 }' "$al_csv" | sort >"$work/alibaba/machines"
	awk -F, '!seen[$1]++ { print $1 }' "$al_csv" | cmp -s - "$work/alibaba/machines" ||
		die "$al_csv is not grouped by machine in name order"
	n=$(wc -l <"$work/alibaba/machines")
	[ "$n" -ge "$ka" ] || bad "$n Alibaba machines, fewer than --alibaba-folds $ka"
	fold_lists alibaba "$ka"
	f=0
	while [ "$f" -lt "$ka" ]; do
		for part in train test; do
			awk -F, 'NR == FNR { keep[$1] = 1; next } keep[$1]' \
				"$work/alibaba/fold$f.$part" "$al_csv" >"$work/alibaba/fold$f.$part.csv.tmp"
			mv "$work/alibaba/fold$f.$part.csv.tmp" "$work/alibaba/fold$f.$part.csv"
		done
		f=$((f + 1))
	done
fi
if [ "$do_bb" = 1 ]; then
	mkdir -p "$work/bitbrains"
	rm -f "$work"/bitbrains/fold*.test "$work"/bitbrains/fold*.train
	# Numeric VM ids, the order of the reader (shorter names first).
	(cd "$bb_dir" && ls) | sed -n 's/^\([0-9][0-9]*\)\.csv\(\.gz\)\{0,1\}$/\1/p' | sort -n \
		>"$work/bitbrains/machines"
	n=$(wc -l <"$work/bitbrains/machines")
	[ "$n" -ge "$kb" ] || bad "$n Bitbrains VMs, fewer than --bitbrains-folds $kb"
	fold_lists bitbrains "$kb"
	absdir=$(cd "$bb_dir" && pwd)
	f=0
	while [ "$f" -lt "$kb" ]; do
		for part in train test; do
			d="$work/bitbrains/fold$f.$part.d"
			rm -rf "$d"
			mkdir -p "$d"
			(cd "$absdir" && ls) | awk -v dir="$absdir" 'NR == FNR { keep[$1] = 1; next }
				{ id = $0; sub(/\.csv(\.gz)?$/, "", id) } id in keep { print dir "/" $0 }' \
				"$work/bitbrains/fold$f.$part" - | xargs ln -s -t "$d"
		done
		f=$((f + 1))
	done
fi

# run_fold NAME FMT F K TEST_STRIDE: train on fold F's training machines, score its test machines.
run_fold() {
	name=$1 fmt=$2 f=$3 k=$4 ts=$5
	dir="$work/$name"
	if [ "$name" = alibaba ]; then
		trainp="$dir/fold$f.train.csv" testp="$dir/fold$f.test.csv" otherp=$bb_dir
	else
		trainp="$dir/fold$f.train.d" testp="$dir/fold$f.test.d" otherp=$al_csv
	fi
	tfmt=$fmt
	if [ "$recipe" = shipped ]; then
		# Both data sets, Bitbrains first as in the shipped recipe.
		tfmt=auto
		[ "$name" = alibaba ] && trainp="$otherp $trainp" || trainp="$trainp $otherp"
	fi
	stamp="$recipe $train_opts | $(tr '\n' ' ' <"$dir/fold$f.train")"
	b="$dir/fold$f-bundle"
	if [ "$reuse" = 1 ] && [ -f "$b/manifest.json" ] && [ -f "$b.stamp" ] &&
		[ "$(cat "$b.stamp")" = "$stamp" ]; then
		info "$name fold $((f + 1))/$k: reusing $b"
	else
		rm -f "$b.stamp"
		info "$name fold $((f + 1))/$k: training on $(wc -l <"$dir/fold$f.train") machines," \
			"leaving out $(wc -l <"$dir/fold$f.test") ($(head -3 "$dir/fold$f.test" | tr '\n' ' ')...)"
		# shellcheck disable=SC2086 # option lists split on purpose
		"$train" forecast --format "$tfmt" $train_opts --version "folds-$recipe-$name-$f" \
			--out "$b" $trainp >"$dir/fold$f-train.log" 2>&1 ||
			{ tail -5 "$dir/fold$f-train.log" >&2; echo "$name fold $f" >>"$work/failed"; return 1; }
		echo "$stamp" >"$b.stamp"
		info "$name fold $((f + 1))/$k: $(grep -E '^SUCCESS' "$dir/fold$f-train.log" | sed 's/.*targets=/targets=/')"
	fi
	# Export test rows only (--max-rows 1 keeps the export small; scores do not depend on it).
	"$train" eval --format "$fmt" $common --max-rows 1 --test-stride "$ts" \
		--export "$dir/fold$f.csv" "$b" "$testp" >"$dir/fold$f-eval.txt" 2>"$dir/fold$f-eval.log" ||
		{ tail -5 "$dir/fold$f-eval.log" >&2; echo "$name fold $f eval" >>"$work/failed"; return 1; }
}

rm -f "$work/failed"
pending=""
run_all() { # NAME FMT K TEST_STRIDE: folds in batches of $jobs
	f=0
	while [ "$f" -lt "$3" ]; do
		if [ "$jobs" = 1 ]; then
			run_fold "$1" "$2" "$f" "$3" "$4" || true
		else
			run_fold "$1" "$2" "$f" "$3" "$4" &
			pending="$pending $!"
			if [ "$(echo $pending | wc -w)" -ge "$jobs" ]; then
				for p in $pending; do wait "$p" || true; done
				pending=""
			fi
		fi
		f=$((f + 1))
	done
}
# Background folds ignore SIGINT (POSIX): stop them and their trainer by pid.
trap 'for p in $pending; do pkill -TERM -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done; exit 130' INT TERM
[ "$do_al" = 1 ] && run_all alibaba alibaba "$ka" 5m
[ "$do_bb" = 1 ] && run_all bitbrains bitbrains "$kb" 1h
for p in $pending; do wait "$p" || true; done
[ ! -f "$work/failed" ] || die "failed: $(tr '\n' ',' <"$work/failed") (logs in $work)"

args=""
[ "$do_al" = 1 ] && args="$args --dataset alibaba=$work/alibaba:$ka"
[ "$do_bb" = 1 ] && args="$args --dataset bitbrains=$work/bitbrains:$kb"
for name in alibaba bitbrains; do
	[ "$tsdir" != none ] || break
	ts="$tsdir/$name.csv"
	if [ -f "$ts" ]; then
		args="$args --time-split $name=$ts"
	else
		info "no time-split export $ts (run tools/eval/forecast.sh $build first to see both side by side)"
	fi
done
note=""
[ "$recipe" = shipped ] && note="
Trained on both data sets: the left-out data set's other machines and every machine of the other one."
header="Generated by tools/eval/forecast_folds.sh on $(date -u +%Y-%m-%dT%H:%MZ). Data: $data.
Recipe: $recipe. Fold training options: nodescore-train forecast $train_opts$note"
# shellcheck disable=SC2086
$py tools/eval/forecast_folds.py --out "$out" --json "${out%.md}.json" --header "$header" $args ||
	die "forecast_folds.py failed"
info "per-machine folds done seconds=$(($(date +%s) - start)) report=$out"
