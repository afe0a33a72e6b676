# SPDX-License-Identifier: MIT
# Helpers for shell integration tests: pass/fail counting in the same
# "N passed, N failed" format as tests/check.h, process cleanup, free ports.
# Usage: . tests/lib.sh; BUILD=$1
passed=0
failed=0
skipped=0
NS_PIDS=""
NS_TMP=$(mktemp -d /tmp/nodescore-itest.XXXXXX)

ns_cleanup() {
	for p in $NS_PIDS; do kill "$p" 2>/dev/null; done
	for p in $NS_PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$NS_TMP"
}
trap ns_cleanup EXIT
# A test killed by a signal (CI timeout, Ctrl-C) cleans up too: exiting runs
# the EXIT trap, which a bare signal death does not.
trap 'exit 130' HUP INT TERM

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; echo "  skip: $2" >&2; }
# check NAME CONDITION-COMMAND...: pass when the command succeeds.
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
summary() { echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; }

# A TCP port that nothing listens on right now, in 20000..59999.
free_port() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_for() {
	t=$(($1 * 10)); shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}

# A 0600 key file with 32 random bytes.
make_key() {
	head -c 32 /dev/urandom >"$1"
	chmod 600 "$1"
}

# extender_http_port LOG: the HTTP port the extender logged when it started.
extender_http_port() { sed -n 's/.*http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n 1; }
# metric NAME: value of the unlabelled sample NAME on $U/metrics; ge NAME N: it is >= N.
metric() { curl -sf "$U/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
ge() { v=$(metric "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }

# rejects NAME WANT CMD...: passes when CMD exits 1 and its output (stdout
# and stderr, kept in $NS_TMP/out) holds the text WANT; otherwise fails and
# shows the output's first lines. For checkers shown a broken input.
rejects() {
	n=$1 want=$2
	shift 2
	"$@" >"$NS_TMP/out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$NS_TMP/out"; then
		pass "$n"
	else
		fail "$n" "exit $rc, wanted 1 with '$want'"
		head -5 "$NS_TMP/out"
	fi
}
