#!/bin/sh
# SPDX-License-Identifier: MIT
# promtool unit tests of the shipped alert and recording rules
# (tests/rules/*-test.yaml against daemonset/prometheus-rules.yaml), that
# every shipped alert has a firing and a silent case, and that the tests can
# fail: a wrong expectation, a changed `for`, a changed threshold and a
# NodeAnomaly without the feature label each make promtool exit non-zero.
# Usage: sh tests/rules_itest.sh [BUILD_DIR]
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RULES=$ROOT/daemonset/prometheus-rules.yaml
TESTS=$ROOT/tests/rules/nodescore-rules-test.yaml

if ! command -v promtool >/dev/null 2>&1; then
	skip rules_all "promtool not installed (tools/install-deps.sh installs prometheus)"
	finish
fi

# The shipped tests, run from their own folder as a user would.
out=$(cd "$ROOT/tests/rules" && promtool test rules nodescore-rules-test.yaml 2>&1); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q SUCCESS; then
	pass rules_unit_tests
else
	fail rules_unit_tests "promtool rc=$rc"
	echo "$out" | head -n 40 >&2
fi

# Every alert in the rules file has a case where it fires (an exp_alerts list
# with entries) and one where it must stay silent (exp_alerts: []).
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$RULES")
check rules_file_has_alerts [ -n "$alerts" ]
for a in $alerts; do
	# awk: the line after "alertname: A" says whether that case is empty.
	cases=$(awk -v a="$a" '$1 == "alertname:" && $2 == a { getline; print ($0 ~ /\[\]/) ? "silent" : "fires" }' "$TESTS")
	check "rules_${a}_fires_case" sh -c 'echo "$1" | grep -qx fires' _ "$cases"
	check "rules_${a}_silent_case" sh -c 'echo "$1" | grep -qx silent' _ "$cases"
done

# must_fail NAME RULES-COPY TESTS-COPY: promtool must report a failure.
must_fail() {
	sed "s|^  - \.\./\.\./daemonset/prometheus-rules\.yaml$|  - $2|" "$3" >"$3.run"
	if grep -q "^  - $2\$" "$3.run" && ! promtool test rules "$3.run" >"$NS_TMP/$1.out" 2>&1 &&
		grep -q FAILED "$NS_TMP/$1.out"; then
		pass "$1"
	else
		fail "$1" "promtool accepted a broken rule or expectation"
	fi
}
# Sanity for must_fail itself: the unmodified copies pass through the same path.
cp "$RULES" "$NS_TMP/rules.yaml"
cp "$TESTS" "$NS_TMP/t.yaml"
sed "s|^  - \.\./\.\./daemonset/prometheus-rules\.yaml$|  - $NS_TMP/rules.yaml|" "$NS_TMP/t.yaml" >"$NS_TMP/t.yaml.run"
check rules_copy_passes sh -c 'promtool test rules "$1" >/dev/null 2>&1' _ "$NS_TMP/t.yaml.run"

sed 's/^\(              severity: \)warning$/\1critical/' "$TESTS" >"$NS_TMP/wrong-severity.yaml"
must_fail rules_wrong_expectation_fails "$NS_TMP/rules.yaml" "$NS_TMP/wrong-severity.yaml"

awk '/- alert: NodeAnomaly/ { a = 1 } a && /for: 1m/ { sub(/1m/, "2m"); a = 0 } { print }' "$RULES" >"$NS_TMP/slow.yaml"
must_fail rules_changed_for_fails "$NS_TMP/slow.yaml" "$NS_TMP/t.yaml"

sed 's/stale_ratio > 0\.2$/stale_ratio > 0.3/' "$RULES" >"$NS_TMP/threshold.yaml"
check rules_threshold_copy_changed sh -c '! cmp -s "$1" "$2"' _ "$RULES" "$NS_TMP/threshold.yaml"
must_fail rules_changed_threshold_fails "$NS_TMP/threshold.yaml" "$NS_TMP/t.yaml"

# The rule as first shipped (no feature label) fails the label expectations.
awk '/- alert: NodeAnomaly/ { print; print "        expr: nodescore_agent_anomaly_flag == 1"; skip = 1; next }
	skip && /^        for:/ { skip = 0 } !skip { print }' "$RULES" >"$NS_TMP/nolabel.yaml"
check rules_nolabel_copy_valid sh -c 'promtool check rules "$1" >/dev/null 2>&1' _ "$NS_TMP/nolabel.yaml"
must_fail rules_missing_feature_label_fails "$NS_TMP/nolabel.yaml" "$NS_TMP/t.yaml"
summary
