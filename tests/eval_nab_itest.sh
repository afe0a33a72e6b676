#!/bin/sh
# SPDX-License-Identifier: MIT
# make eval's NAB part (tools/eval/nab.sh) on a NAB folder holding only some
# corpora (issue 12): it scores the files present, cross-validates over the
# corpora present, and says so; one corpus, or a folder that is not NAB's,
# is a clear error. Reads ../shared/data/nab; one seed: about 20 s.
. tests/lib.sh
BUILD=${1:-build}
NAB=../shared/data/nab

if [ ! -x "$BUILD/nodescore-nab" ] || [ ! -x "$BUILD/nodescore-iforestbench" ]; then
	skip eval_nab "$BUILD/nodescore-nab not built"
	finish
fi
if [ ! -d "$NAB/data/realAdExchange" ] || ! /usr/bin/python3 -c 'import numpy, sklearn' 2>/dev/null; then
	skip eval_nab "needs $NAB and /usr/bin/python3 with numpy and scikit-learn"
	finish
fi
sub() { # DIR CORPUS...: a NAB folder with these corpora only
	d=$1
	shift
	mkdir -p "$d/data" && cp -r "$NAB/labels" "$d/" || return 1
	for c in "$@"; do cp -r "$NAB/data/$c" "$d/data/" || return 1; done
}
ev() { NAB_SEEDS=42 NAB_RESULTS="$NS_TMP/res" NAB_MD="$NS_TMP/eval.md" sh tools/eval/nab.sh "$BUILD"; }

sub "$NS_TMP/two" realAdExchange artificialWithAnomaly
NAB_DATA="$NS_TMP/two" ev >"$NS_TMP/two.log" 2>&1
rc=$?
[ $rc = 0 ] && pass eval_nab_subset_runs || fail eval_nab_subset_runs "rc=$rc $(tail -3 "$NS_TMP/two.log")"
grep -q "^12 NAB v1.1 series in $NS_TMP/two (artificialWithAnomaly,realAdExchange)" "$NS_TMP/eval.md" &&
	pass eval_nab_subset_says_which || fail eval_nab_subset_says_which "$(sed -n 3p "$NS_TMP/eval.md")"
grep -q "^| | realAdExchange | artificial | overall |" "$NS_TMP/eval.md" &&
	grep -q "^| \*\*left-out, mean\*\* | \*\*-\?[0-9]" "$NS_TMP/eval.md" && pass eval_nab_subset_left_out ||
	fail eval_nab_subset_left_out "$(grep -n 'left-out' "$NS_TMP/eval.md" | head -3)"
grep -q "Published detectors are quoted only on all 51 shipped files; this run scored 12." \
	"$NS_TMP/eval.md" && pass eval_nab_subset_no_published || fail eval_nab_subset_no_published

sub "$NS_TMP/one" realAdExchange
NAB_DATA="$NS_TMP/one" ev >"$NS_TMP/one.log" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "needs two corpora" "$NS_TMP/one.log" && pass eval_nab_one_corpus_refused ||
	fail eval_nab_one_corpus_refused "rc=$rc $(tail -2 "$NS_TMP/one.log")"

mkdir -p "$NS_TMP/notnab"
NAB_DATA="$NS_TMP/notnab" ev >"$NS_TMP/notnab.log" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "ERROR eval-nab: $NS_TMP/notnab is not a NAB folder" "$NS_TMP/notnab.log" &&
	pass eval_nab_not_nab_folder || fail eval_nab_not_nab_folder "rc=$rc $(cat "$NS_TMP/notnab.log")"
finish
