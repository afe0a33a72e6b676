# SPDX-License-Identifier: MIT
# Fuzz regression replay: every libFuzzer target in tests/fuzz/*_fuzz.c, built
# without libFuzzer by `make tests` as BUILD/fuzz-replay/<name> (driver
# tests/fuzz/replay.c; sanitizers on under `make asan`), runs every input in
# tests/fuzz/corpus/<name>/ (seeds, minimised long-fuzz finds and crash
# reproducers). A target passes when the driver exits 0 having run exactly
# as many inputs as the directory holds files; an abort, a sanitizer report,
# a signal or a hang (60 s) fails it. Negative checks show that a missing
# corpus and a crashing program are reported as failures.
. tests/lib.sh
BUILD=${1:-build}

# replay_ok NAME EXPECTED CMD...: CMD exits 0 within 60 s and printed
# "replay: EXPECTED inputs".
replay_ok() {
	rn=$1 want=$2
	shift 2
	timeout 60 "$@" >"$NS_TMP/$rn.out" 2>"$NS_TMP/$rn.err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "  $rn: exit status $rc" >&2
		tail -n 20 "$NS_TMP/$rn.err" >&2
		return 1
	fi
	grep -qx "replay: $want inputs" "$NS_TMP/$rn.out" || {
		echo "  $rn: expected $want inputs, got: $(cat "$NS_TMP/$rn.out")" >&2
		return 1
	}
}

total=0
start=$(date +%s)
for src in tests/fuzz/*_fuzz.c; do
	n=$(basename "$src" .c)
	bin=$BUILD/fuzz-replay/$n
	dir=tests/fuzz/corpus/$n
	if [ ! -x "$bin" ]; then
		fail "replay_$n" "$bin not built (make tests)"
		continue
	fi
	if [ ! -d "$dir" ]; then
		fail "replay_$n" "no corpus directory $dir"
		continue
	fi
	cnt=$(find "$dir" -maxdepth 1 -type f ! -name '.*' | wc -l)
	if [ "$cnt" -eq 0 ]; then
		fail "replay_$n" "$dir is empty"
		continue
	fi
	t0=$(date +%s)
	if replay_ok "$n" "$cnt" "$bin" "$dir"; then
		pass "replay_$n ($cnt inputs, $(($(date +%s) - t0)) s)"
		total=$((total + cnt))
	else
		fail "replay_$n" "see the output above"
	fi
done
echo "replayed $total corpus inputs in $(($(date +%s) - start)) s"

# The harness can fail: a missing corpus directory, an empty one, and a
# program that dies of SIGABRT (what a finding looks like) are all failures.
bin=$BUILD/fuzz-replay/wire_fuzz
if [ -x "$bin" ]; then
	check replay_missing_dir_fails sh -c '! "$1" "$2/no-such-dir" >/dev/null 2>&1' sh "$bin" "$NS_TMP"
	mkdir -p "$NS_TMP/empty"
	check replay_empty_dir_fails sh -c '! "$1" "$2/empty" >/dev/null 2>&1' sh "$bin" "$NS_TMP"
	check replay_usage_fails sh -c '! "$1" >/dev/null 2>&1' sh "$bin"
fi
if replay_ok neg 1 sh -c 'echo "replay: 1 inputs"; kill -ABRT $$' 2>/dev/null; then
	fail replay_detects_abort "a SIGABRT exit was taken for success"
else
	pass replay_detects_abort
fi
if replay_ok neg2 2 sh -c 'echo "replay: 1 inputs"' 2>/dev/null; then
	fail replay_detects_short_count "a run over fewer inputs than files was taken for success"
else
	pass replay_detects_short_count
fi
summary
