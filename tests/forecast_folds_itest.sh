# SPDX-License-Identifier: MIT
# tools/eval/forecast_folds.sh end to end on a small synthetic Alibaba-format
# trace (4 machines, 3 days, 5-minute samples): every machine is scored in
# exactly one fold, never trained on in that fold, the report and JSON are
# written, and bad options give clear errors. A few trees only: seconds.
. tests/lib.sh
BUILD=${1:-build}

if [ ! -x "$BUILD/nodescore-train" ]; then
	skip forecast_folds "$BUILD/nodescore-train not built"
	finish
fi
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
	skip forecast_folds "/usr/bin/python3 with numpy needed"
	finish
fi
D="$NS_TMP/data/alibaba-v2018-machine-usage-slice"
mkdir -p "$D"
# machine_id,time_stamp,cpu %,mem %,,,net_in,net_out,disk: a daily CPU cycle
# whose phase and level differ per machine, memory drifting slowly.
awk 'BEGIN {
	srand(7)
	for (m = 0; m < 4; m++)
		for (t = 0; t < 3 * 86400; t += 300) {
			c = 30 + 10 * m + 20 * sin(2 * 3.14159265 * (t / 86400 + m / 8)) + 4 * rand()
			u = 50 + 5 * m + 3 * sin(2 * 3.14159265 * t / 43200) + rand()
			printf "m_%d,%d,%.0f,%.0f,,,1.0,1.0,1\n", 2000 + m, t, c, u
		}
}' >"$D/machine_usage.csv"
OUT="$NS_TMP/folds.md"
run() { NODESCORE_DATA="$NS_TMP/data" sh tools/eval/forecast_folds.sh "$@"; }

run --help >"$NS_TMP/help" 2>&1
check help_exit test $? -eq 0
check help_text grep -q "^Usage: tools/eval/forecast_folds.sh" "$NS_TMP/help"
run --datasets alibaba --alibaba-folds 2 --train-args "--trees 5" --time-split none \
	--out "$OUT" "$BUILD" >"$NS_TMP/stdout" 2>"$NS_TMP/stderr"
rc=$?
check runs test "$rc" -eq 0 || cat "$NS_TMP/stderr"
check report_written test -s "$OUT"
check json_written test -s "${OUT%.md}.json"
check progress_on_stderr grep -q "^INFO eval_folds: alibaba fold 2/2: training on 2 machines" "$NS_TMP/stderr"
check success_logged grep -q "^SUCCESS eval_folds: wrote $OUT" "$NS_TMP/stderr"
check log_format log_format_ok "$NS_TMP/stderr"
W="${OUT%.md}"
# Folds: machine i in fold i mod 2; every machine is scored in exactly one
# fold; the training data and the fold's bundle never hold a scored machine.
check fold_lists test "$(tr '\n' ' ' <"$W/alibaba/fold0.test")" = "m_2000 m_2002 "
check each_scored_once test "$(cat "$W"/alibaba/fold*.test | sort | uniq -c | awk '$1 == 1' | wc -l)" -eq 4
disjoint=1
for f in 0 1; do
	for m in $(cat "$W/alibaba/fold$f.test"); do
		grep -q "^$m," "$W/alibaba/fold$f.train.csv" && disjoint=0
		grep -q "^$m," "$W/alibaba/fold$f.test.csv" || disjoint=0
		grep -qx "$m" "$W/alibaba/fold$f.train" && disjoint=0
	done
	# The bundle was trained on the 2 other machines only, read from the training file.
	/usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))['data']
assert len(d) == 1 and d[0]['series'] == 2 and d[0]['path'].endswith('fold$f.train.csv'), d
" "$W/alibaba/fold$f-bundle/manifest.json" || disjoint=0
done
check train_test_disjoint test "$disjoint" = 1
check four_scored grep -q "^## alibaba: 2 folds, 4 machines scored" "$OUT"
check mean_table grep -q "^| CPU | 1h | 1.000 | " "$OUT"
check per_fold_table grep -q "^| 2 | m_2001, m_2003 | " "$OUT"
check no_time_split sh -c "! grep -q 'time split:' '$OUT'"
check json_cells /usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))['alibaba']
c = j['cells']['cpu_util_mean_1h']
assert len(j['folds']) == 2 and c['mase']['persistence'] == 1.0 and c['mase']['ours'] > 0
assert sorted(m for f in j['folds'] for m in f['machines']) == ['m_2000', 'm_2001', 'm_2002', 'm_2003']
" "${OUT%.md}.json"
# --reuse keeps the fold bundles trained with the same options.
run --datasets alibaba --alibaba-folds 2 --train-args "--trees 5" --time-split none --reuse \
	--out "$OUT" "$BUILD" >/dev/null 2>"$NS_TMP/stderr2"
check reuse grep -q "fold 2/2: reusing" "$NS_TMP/stderr2"
# The python tables refuse a machine scored in two folds.
cp "$W/alibaba/fold0.test" "$W/alibaba/fold1.test"
/usr/bin/python3 tools/eval/forecast_folds.py --out "$NS_TMP/dup.md" --dataset "alibaba=$W/alibaba:2" \
	>/dev/null 2>"$NS_TMP/dup"
rc=$?
check duplicate_refused sh -c "[ $rc -eq 1 ] && grep -q '^ERROR eval_folds: machine m_2000 is scored in two folds' '$NS_TMP/dup'"

# Clear errors: bad options exit 2 naming the option, a failed run exits 1.
err() { # name status expected-text args...
	n=$1 want_rc=$2 want=$3
	shift 3
	run "$@" >/dev/null 2>"$NS_TMP/err"
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && grep -q "^ERROR eval_folds: .*$want" "$NS_TMP/err"; then
		pass "$n"
	else
		fail "$n" "exit $rc, wanted $want_rc with '$want'"
		cat "$NS_TMP/err"
	fi
}
err bad_folds 2 "--alibaba-folds must be 2..12, got '1'" --alibaba-folds 1 "$BUILD"
err bad_folds_text 2 "--bitbrains-folds must be 2..20, got 'x'" --bitbrains-folds x "$BUILD"
err too_many_folds 2 "fewer than --alibaba-folds 5" --datasets alibaba --alibaba-folds 5 --out "$OUT" "$BUILD"
err bad_dataset 2 "--datasets: unknown 'foo'" --datasets foo "$BUILD"
err bad_recipe 2 "--recipe must be eval or shipped" --recipe best "$BUILD"
err bad_jobs 2 "--jobs must be 1 or 2" --jobs 3 "$BUILD"
err bad_out 2 "--out must name a .md file" --out "$NS_TMP/x.txt" "$BUILD"
err missing_value 2 "--tag needs a value" --tag
err bad_option 2 "unknown option --bogus" --bogus "$BUILD"
err two_builds 2 "one BUILD directory at most" "$BUILD" "$BUILD"
err no_build 1 "not built" --datasets alibaba "$NS_TMP/nobuild"
err missing_data 1 "missing .*bitbrains" --datasets bitbrains --out "$OUT" "$BUILD"
finish
