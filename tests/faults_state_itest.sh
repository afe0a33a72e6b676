#!/bin/sh
# SPDX-License-Identifier: MIT
# Fault injection, agent state directory (issue 11 item 1, case 4): the real
# nodescore-agent (--no-bpf, fixture cgroup tree) publishing to a real
# extender on loopback while its --state-dir is read-only, full (a 64 KiB
# tmpfs) or its history.ring damaged mid-record while the agent is stopped.
# The agent must keep sampling and publishing (the extender keeps a fresh
# row), say so in a WARNING/ERROR line and in /metrics, and lose at most the
# damaged record. Measured figures are printed; docs/faults.md has them.
# Usage: sh tests/faults_state_itest.sh BUILD_DIR   (root, for the tmpfs mounts)
. "$(dirname "$0")/lib.sh"
B=${1:-build}
AGENT=$B/nodescore-agent
EXT=$B/nodescore-extender
MNTS=""

# Not ns_cleanup: it removes NS_TMP, and the mounts inside it must go first.
state_cleanup() {
	ns_kill_pids
	for m in $MNTS; do umount -l "$m" 2>/dev/null; done
	rm -rf "$NS_TMP"
}
trap state_cleanup EXIT
trap 'exit 1' HUP INT TERM

if [ ! -x "$AGENT" ] || [ ! -x "$EXT" ]; then
	skip faults_state "needs $AGENT and $EXT"
	finish
fi
if [ "$(id -u)" != 0 ]; then
	skip faults_state "needs root to mount the tmpfs state directories"
	finish
fi

T0=$(date +%s)
KEY=$NS_TMP/key
make_key "$KEY"
# Minimal kubepods tree so the pods source is healthy (real /proc otherwise).
CG=$NS_TMP/cg
fixture_kubepods "$CG"

SP=$(free_port)
start_extender "$EXT" "$NS_TMP/ext.log" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 500ms --reserve-settle 0
check extender_started test -n "$EXT_URL"
U=$EXT_URL

# start_agent NODE STATE_DIR [ARGS...]: agent in the background; sets APID, AP.
start_agent() {
	an=$1 d=$2
	shift 2
	AP=$(free_port)
	"$AGENT" --no-bpf --cgroup-root "$CG" --node-name "$an" --key-file "$KEY" \
		--listen-http "127.0.0.1:$AP" --publish "tcp://127.0.0.1:$SP" --state-dir "$d" \
		--interval 200ms --publish-interval 500ms --history-interval 1s \
		--history-capacity 64 --forecast-model none --anomaly-model none "$@" \
		2>>"$NS_TMP/$an.log" &
	APID=$!
	NS_PIDS="$NS_PIDS $APID"
	wait_for 5 curl -sf "http://127.0.0.1:$AP/healthz"
}
stop_agent() { stop_pid "$APID"; }
# am NODE NAME: the agent's sample NAME{node="NODE"}.
am() { curl -sf --max-time 2 "http://127.0.0.1:$AP/metrics" | awk -v k="$2{node=\"$1\"}" '$1 == k { print $2 }'; }
amge() { v=$(am "$1" "$2"); [ -n "$v" ] && [ "${v%.*}" -ge "$3" ]; }
export_rows() { "$AGENT" --export-history - --state-dir "$1" 2>/dev/null | tail -n +2; }
mount_tmpfs() { # DIR OPTIONS
	mkdir -p "$1" && mount -t tmpfs -o "$2" nodescore-faults "$1" && MNTS="$1 $MNTS"
}

echo "  t=$(($(date +%s) - T0)) s" >&2
# --- 4a. read-only state directory at start ----------------------------------
RO=$NS_TMP/ro
if mount_tmpfs "$RO" size=64k,ro; then
	start_agent ro-node "$RO"
	check ro_agent_runs kill -0 "$APID"
	check ro_error_logged grep -q '^ERROR agent: history unavailable, sampling and publishing without it reason=.*Read-only file system' "$NS_TMP/ro-node.log"
	check ro_metric_unavailable test "$(am ro-node nodescore_agent_history_available)" = 0
	check ro_errors_counted wait_for 5 amge ro-node nodescore_agent_history_errors_total 2
	check ro_still_publishing wait_for 5 amge ro-node nodescore_agent_publish_total 4
	check ro_extender_receives wait_for 5 node_fresh "$U" ro-node
	# The directory becomes writable: the agent picks the history up at its
	# next retry (backoff 1, 2, 4, ... history intervals).
	t0=$(date +%s%N)
	mount -o remount,rw "$RO"
	if wait_for 20 amge ro-node nodescore_agent_history_appends_total 1; then
		echo "  read-only -> writable: history written again after $((($(date +%s%N) - t0) / 1000000)) ms" >&2
		pass ro_recovers_when_writable
	else
		fail ro_recovers_when_writable "no append 20 s after remount rw"
	fi
	check ro_recovery_logged grep -q '^SUCCESS agent: history available again' "$NS_TMP/ro-node.log"
	check ro_metric_available test "$(am ro-node nodescore_agent_history_available)" = 1
	stop_agent
	check ro_clean_exit test $? -eq 0
	check ro_history_exported test "$(export_rows "$RO" | wc -l)" -ge 1
else
	fail ro_mount "mount -t tmpfs -o ro failed"
fi

echo "  t=$(($(date +%s) - T0)) s" >&2
# --- 4b. full disk --------------------------------------------------------------
# At start: a 64-record ring (12 KiB) does not fit a tmpfs that is already full.
FULL=$NS_TMP/full
if mount_tmpfs "$FULL" size=64k; then
	dd if=/dev/zero of="$FULL/filler" bs=4k count=64 2>/dev/null # ENOSPC ends it
	start_agent full-node "$FULL"
	check full_agent_runs kill -0 "$APID"
	check full_error_logged grep -q '^ERROR agent: history unavailable, sampling and publishing without it reason=.*No space left on device' "$NS_TMP/full-node.log"
	check full_metric_unavailable test "$(am full-node nodescore_agent_history_available)" = 0
	check full_still_publishing wait_for 5 amge full-node nodescore_agent_publish_total 4
	check full_extender_receives wait_for 5 node_fresh "$U" full-node
	check full_no_temp_left sh -c "! ls '$FULL'/history.ring* >/dev/null 2>&1"
	# Room again: the next retry creates the ring.
	rm -f "$FULL/filler"
	check full_recovers_when_room wait_for 20 amge full-node nodescore_agent_history_appends_total 1
	stop_agent
	# While running: the ring's blocks are reserved at creation (fallocate),
	# so filling the disk afterwards costs no record.
	start_agent full-node "$FULL"
	wait_for 5 amge full-node nodescore_agent_history_appends_total 1
	dd if=/dev/zero of="$FULL/filler" bs=4k count=64 2>/dev/null
	avail=$(df -k --output=avail "$FULL" | tail -n 1 | tr -d ' ')
	a0=$(am full-node nodescore_agent_history_appends_total)
	check full_disk_is_full test "$avail" -eq 0
	check full_running_appends_continue wait_for 5 amge full-node nodescore_agent_history_appends_total $((a0 + 2))
	check full_running_no_errors test "$(am full-node nodescore_agent_history_errors_total)" = 0
	check full_running_extender_receives node_fresh "$U" full-node
	stop_agent
	# Restart on the full disk: the existing ring opens (nothing to allocate).
	start_agent full-node "$FULL"
	check full_restart_keeps_history wait_for 5 amge full-node nodescore_agent_history_appends_total 1
	check full_restart_available test "$(am full-node nodescore_agent_history_available)" = 1
	stop_agent
else
	fail full_mount "mount -t tmpfs failed"
fi

echo "  t=$(($(date +%s) - T0)) s" >&2
# --- 4c. ring damaged mid-record while the agent is stopped -----------------------
# 64-record ring, 1 s records: run about 5 s, stop (SIGTERM flushes the
# partial interval), damage one record, start again. Exactly that record may
# be lost; every other record must read back byte for byte.
ST=$NS_TMP/state
damage_run() { # NAME SLOT-FROM-NEWEST HOW (overwrite|truncate)
	dn=$1 back=$2 how=$3
	rm -rf "$ST"
	start_agent "$dn" "$ST"
	wait_for 10 amge "$dn" nodescore_agent_history_appends_total 4
	stop_agent
	export_rows "$ST" >"$NS_TMP/$dn.before"
	nrec=$(wc -l <"$NS_TMP/$dn.before")
	slot=$((nrec - 1 - back)) # ring not wrapped: seq k is in slot k-1
	off=$((4096 + slot * 128))
	case $how in
	overwrite) printf 'XXXXXXXXXXXXXXXX' | dd of="$ST/history.ring" bs=1 seek=$((off + 40)) conv=notrunc 2>/dev/null ;;
	truncate) truncate -s $((off + 64)) "$ST/history.ring" ;;
	esac
	start_agent "$dn" "$ST"
	wait_for 10 amge "$dn" nodescore_agent_history_appends_total 1
	# Rows of the first run still present afterwards, and how many are gone.
	export_rows "$ST" >"$NS_TMP/$dn.after"
	kept=$(grep -cxFf "$NS_TMP/$dn.before" "$NS_TMP/$dn.after")
	lost=$((nrec - kept))
	lostrow=$(sed -n "$((slot + 1))p" "$NS_TMP/$dn.before")
	echo "  $dn: $nrec records before, $how at record $((slot + 1)), $lost lost" >&2
	check "${dn}_loses_only_that_record" sh -c "[ $lost -eq 1 ] && ! grep -qxF '$lostrow' '$NS_TMP/$dn.after'"
	check "${dn}_warning_logged" grep -q '^WARNING ring: ring has damaged records, skipping them .*corrupt=1 ' "$NS_TMP/$dn.log"
	check "${dn}_metric_damaged" test "$(am "$dn" nodescore_agent_history_damaged_records)" = 1
	check "${dn}_appends_continue" wait_for 5 amge "$dn" nodescore_agent_history_appends_total 2
	check "${dn}_no_append_errors" test "$(am "$dn" nodescore_agent_history_errors_total)" = 0
	check "${dn}_extender_receives" wait_for 5 node_fresh "$U" "$dn"
	stop_agent
	check "${dn}_clean_exit" test $? -eq 0
}
damage_run corrupt-mid 2 overwrite
damage_run corrupt-newest 0 overwrite
damage_run truncated-newest 0 truncate
check truncated_warning_logged grep -q '^WARNING ring: ring file is truncated, missing records are lost' "$NS_TMP/truncated-newest.log"
check truncated_file_extended test "$(stat -c %s "$ST/history.ring")" -eq $((4096 + 64 * 128))

check log_format log_format_ok "$NS_TMP"/*.log
summary
