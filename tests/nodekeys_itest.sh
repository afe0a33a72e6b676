#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/node-keys.sh (per-node keys for daemonset/components/node-keys):
# keys equal to nodescore-extender --derive-key, mode 0400, the refusals
# (bad names, an accessible master key, existing files), --force, the printed
# install loop run against a fake ssh, and end to end: a real agent with
# --node-key-file of a generated key is accepted by a real extender, the same
# key used for another node is refused (bad_mac) and stores nothing. Master
# key rotation with real agents: with --key-file-next, agents on the old and
# on the new per-node keys are both accepted (counted by key); after the
# next key is promoted to --key-file and removed, old-key agents are
# refused (bad_mac) and counted.
# Usage: sh tests/nodekeys_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
EXT=$B/nodescore-extender
AGENT=$B/nodescore-agent
# Word-split on purpose wherever it is used.
NK="sh tools/node-keys.sh --extender $EXT"

if [ ! -x "$EXT" ] || [ ! -x "$AGENT" ]; then
	fail nodekeys "needs $EXT and $AGENT (make all)"
	finish
fi

mode() { stat -c %a "$1"; }

KEY=$NS_TMP/master.key
make_key "$KEY"
K=$NS_TMP/keys
NODES="worker-1 worker-2.example.com n3"

# --- generation: names from kubectl get nodes -o name on stdin
printf 'node/worker-1\nnode/worker-2.example.com\n\n  node/n3\r\n' | $NK --key-file "$KEY" --out "$K" \
	>"$NS_TMP/gen.out" 2>"$NS_TMP/gen.err"
check generate_exit_0 test $? -eq 0
check generate_reports grep -q "SUCCESS node-keys: wrote 3 node keys to $K (mode 0400)" "$NS_TMP/gen.err"
check out_dir_0700 test "$(mode "$K")" = 700
for node in $NODES; do
	"$EXT" --key-file "$KEY" --derive-key "$node" >"$NS_TMP/want.$node" 2>/dev/null
	check "key_equals_derive_key_$node" cmp -s "$K/$node.key" "$NS_TMP/want.$node"
	check "key_mode_0400_$node" test "$(mode "$K/$node.key")" = 400
done
check three_files_no_temporaries test "$(ls -A "$K" | wc -l)" -eq 3
check keys_differ sh -c "! cmp -s '$K/worker-1.key' '$K/n3.key'"
# Arguments work as well as stdin.
$NK --key-file "$KEY" --out "$NS_TMP/args" node/worker-1 n3 2>/dev/null
check args_key_equal cmp -s "$NS_TMP/args/n3.key" "$K/n3.key"

# --- refusals: nothing is written
rejects refuses_uppercase_name "node name 'Worker-1' is not a DNS-1123 subdomain" \
	$NK --key-file "$KEY" --out "$NS_TMP/bad" ok-1 Worker-1
check bad_name_writes_nothing test ! -e "$NS_TMP/bad"
long=$(printf 'a%.0s' $(seq 64))
rejects refuses_64_char_name "node name '$long' is not" $NK --key-file "$KEY" --out "$NS_TMP/bad" "$long"
rejects refuses_dash_label "node name 'a.-b' is not" $NK --key-file "$KEY" --out "$NS_TMP/bad" a.-b
rejects refuses_glob_name "node name '*' is not" $NK --key-file "$KEY" --out "$NS_TMP/bad" '*'
rejects refuses_space_in_name "node name 'a b' is not" sh -c "printf 'a b\n' | $NK --key-file '$KEY' --out '$NS_TMP/bad'"
rejects refuses_duplicate "node ok-1 is named twice" $NK --key-file "$KEY" --out "$NS_TMP/bad" ok-1 node/ok-1
cp "$KEY" "$NS_TMP/open.key" && chmod 644 "$NS_TMP/open.key"
rejects refuses_0644_master "has mode 644: group or others have access" \
	$NK --key-file "$NS_TMP/open.key" --out "$NS_TMP/bad" ok-1
chmod 640 "$NS_TMP/open.key"
rejects refuses_0640_master "has mode 640: group or others have access" \
	$NK --key-file "$NS_TMP/open.key" --out "$NS_TMP/bad" ok-1
check open_master_writes_nothing test ! -e "$NS_TMP/bad"
head -c 16 /dev/urandom >"$NS_TMP/short.key" && chmod 600 "$NS_TMP/short.key"
rejects refuses_short_master "ERROR extender: key file has 16 bytes" \
	$NK --key-file "$NS_TMP/short.key" --out "$NS_TMP/short" ok-1
check short_master_no_temporaries test "$(ls -A "$NS_TMP/short" | wc -l)" -eq 0
rejects refuses_no_names "no node names on stdin" sh -c "$NK --key-file '$KEY' --out '$NS_TMP/bad' </dev/null"
$NK --key-file "$KEY" >/dev/null 2>&1
check missing_out_usage_2 test $? -eq 2
check help_exit_0 sh -c "$NK --help | grep -q 'Usage: tools/node-keys.sh'"

# --- existing files and rotation
cp "$K/n3.key" "$NS_TMP/old-n3.key"
rejects refuses_existing "$K/n3.key exists (--force replaces it); nothing written" \
	$NK --key-file "$KEY" --out "$K" new-1 n3
check existing_writes_nothing test ! -e "$K/new-1.key"
make_key "$NS_TMP/master2.key"
$NK --key-file "$NS_TMP/master2.key" --out "$K" --force $NODES 2>/dev/null
check force_exit_0 test $? -eq 0
"$EXT" --key-file "$NS_TMP/master2.key" --derive-key n3 >"$NS_TMP/want2" 2>/dev/null
check force_rotated_key cmp -s "$K/n3.key" "$NS_TMP/want2"
check force_key_changed sh -c "! cmp -s '$K/n3.key' '$NS_TMP/old-n3.key'"
check force_mode_0400 test "$(mode "$K/n3.key")" = 400
# Back to the first master for the end-to-end part.
$NK --key-file "$KEY" --out "$K" --force $NODES 2>/dev/null

# --- --print-install, run with a fake ssh that installs under $NS_TMP/root/HOST
$NK --key-file "$KEY" --out "$NS_TMP/inst" --print-install worker-1 n3 >"$NS_TMP/install.sh" 2>/dev/null
check print_install_is_sh sh -n "$NS_TMP/install.sh"
cat >"$NS_TMP/ssh" <<EOF
#!/bin/sh
# fake ssh HOST CMD: CMD run here with /etc/nodescore moved under $NS_TMP/root/HOST
host=\$1
shift
mkdir -p "$NS_TMP/root/\$host/etc"
exec sh -c "\$(printf '%s' "\$*" | sed "s|/etc/nodescore|$NS_TMP/root/\$host/etc/nodescore|g; s|chown root:root [^ ]* && ||")"
EOF
chmod +x "$NS_TMP/ssh"
SSH=$NS_TMP/ssh SUDO='' sh "$NS_TMP/install.sh" >"$NS_TMP/install.out" 2>&1
check install_loop_exit_0 test $? -eq 0
for node in worker-1 n3; do
	f=$NS_TMP/root/$node/etc/nodescore/node.key
	check "installed_key_$node" cmp -s "$f" "$K/$node.key"
	check "installed_mode_0400_$node" test "$(mode "$f")" = 400
	check "installed_dir_0700_$node" test "$(mode "$(dirname "$f")")" = 700
done
check install_no_temporaries test ! -e "$NS_TMP/root/n3/etc/nodescore/.node.key.new"

# --- end to end: a real agent with a generated key, a real extender ---------
export NODESCORE_FORECAST_MODEL=none NODESCORE_ANOMALY_MODEL=none
OUT=$("$AGENT" --once --no-bpf --interval 100ms --node-name worker-1 --node-key-file "$K/worker-1.key" 2>"$NS_TMP/once.err")
rc=$?
check agent_once_accepts_generated_key sh -c "[ $rc -eq 0 ] && echo '$OUT' | grep -q '^score='"
SP=$(free_port)
LOG=$NS_TMP/extender.log
# start_ext LOG FLAGS...: an extender on the scores port $SP; sets EPID and U.
start_ext() {
	start_extender "$EXT" "$@" --listen-scores "tcp://127.0.0.1:$SP" --publish-interval 200ms
	EPID=$EXT_PID
	U=$EXT_URL
}
start_ext "$LOG" --key-file "$KEY"
check extender_started test -n "$U"
agent() { # agent NODE KEYFILE: publishes every 200 ms until killed
	"$AGENT" --no-bpf --node-name "$1" --node-key-file "$2" --listen-http "" \
		--publish "tcp://127.0.0.1:$SP" --history-interval 0 --interval 200ms \
		--publish-interval 200ms 2>"$NS_TMP/agent.$1.log" &
	NS_PIDS="$NS_PIDS $!"
	APID=$!
}
listed() { curl -sf "$U/" | grep -q "<td>$1</td>"; }
agent worker-1 "$K/worker-1.key"
check own_key_accepted_listed wait_for 10 listed worker-1
kill "$APID" 2>/dev/null
bad0=$(metric 'nodescore_extender_messages_rejected_total{reason="bad_mac"}')
# node A's (worker-1's) key used for node B (n3)
agent n3 "$K/worker-1.key"
check other_nodes_key_rejected_bad_mac wait_for 10 ge 'nodescore_extender_messages_rejected_total{reason="bad_mac"}' $((${bad0:-0} + 5))
check other_nodes_key_not_listed sh -c "! curl -sf '$U/' | grep -q '<td>n3</td>'"
kill "$APID" 2>/dev/null
# n3 with its own generated key is accepted.
agent n3 "$K/n3.key"
check n3_own_key_accepted wait_for 10 listed n3
kill "$APID" 2>/dev/null

check extender_sigterm_exit_0 stop_pid "$EPID"

# --- master key rotation window (--key-file-next) ---------------------------
NEW=$NS_TMP/master-new.key
make_key "$NEW"
K2=$NS_TMP/keys-new
$NK --key-file "$NEW" --out "$K2" $NODES 2>/dev/null
check rotation_new_keys_generated test -f "$K2/worker-1.key"
VCUR='nodescore_extender_messages_verified_total{key="current"}'
VNEXT='nodescore_extender_messages_verified_total{key="next"}'
BADMAC='nodescore_extender_messages_rejected_total{reason="bad_mac"}'
start_ext "$NS_TMP/rot1.log" --key-file "$KEY" --key-file-next "$NEW"
check rotation_window_started grep -q "SUCCESS extender: listening .* key_next=on" "$NS_TMP/rot1.log"
check rotation_window_logged grep -q "INFO extender: key rotation window" "$NS_TMP/rot1.log"
check rotation_gauge_1 test "$(metric nodescore_extender_key_rotation)" = 1
# worker-1 still on the old master's key, n3 already on the new one.
agent worker-1 "$K/worker-1.key"
OLD_W1=$APID
agent n3 "$K2/n3.key"
NEW_N3=$APID
check rotation_old_key_agent_accepted wait_for 10 listed worker-1
check rotation_new_key_agent_accepted wait_for 10 listed n3
check rotation_counts_current wait_for 5 ge "$VCUR" 3
check rotation_counts_next wait_for 5 ge "$VNEXT" 3
check rotation_no_bad_mac test "$(metric "$BADMAC")" = 0
# worker-1's agent restarts with its new key (its key file rolled): it
# stays fresh, and nothing verifies under the current key any more.
kill "$OLD_W1" 2>/dev/null
agent worker-1 "$K2/worker-1.key"
NEW_W1=$APID
sleep 1
c0=$(metric "$VCUR")
n0=$(metric "$VNEXT")
sleep 1
check rotation_restarted_agent_on_next_key test "$(metric "$VNEXT")" -ge $((n0 + 7))
check rotation_current_key_unused test "$(metric "$VCUR")" = "$c0"
check rotation_restarted_agent_fresh node_fresh "$U" worker-1
check rotation_still_no_bad_mac test "$(metric "$BADMAC")" = 0
# A key of neither master is still refused during the window.
"$EXT" --key-file "$NS_TMP/master2.key" --derive-key worker-2.example.com >"$NS_TMP/w2-other.key" 2>/dev/null
chmod 600 "$NS_TMP/w2-other.key"
agent worker-2.example.com "$NS_TMP/w2-other.key"
check rotation_third_key_bad_mac wait_for 10 ge "$BADMAC" 3
check rotation_third_key_not_listed sh -c "! curl -sf '$U/' | grep -q '<td>worker-2.example.com</td>'"
kill "$APID" 2>/dev/null
check rotation_extender_exit_0 stop_pid "$EPID"

# Promote: the next key becomes --key-file, --key-file-next is gone.
start_ext "$NS_TMP/rot2.log" --key-file "$NEW"
check promoted_started grep -q "SUCCESS extender: listening .* key_next=off" "$NS_TMP/rot2.log"
check promoted_gauge_0 test "$(metric nodescore_extender_key_rotation)" = 0
check promoted_new_key_agents_accepted wait_for 10 sh -c "curl -sf '$U/' | grep -q '<td>worker-1</td>' && curl -sf '$U/' | grep -q '<td>n3</td>'"
# An agent left on the old key (its node missed the roll) is refused.
agent worker-2.example.com "$K/worker-2.example.com.key"
check promoted_old_key_agent_bad_mac wait_for 10 ge "$BADMAC" 5
check promoted_old_key_agent_not_listed sh -c "! curl -sf '$U/' | grep -q '<td>worker-2.example.com</td>'"
check promoted_not_counted_by_key test "$(metric "$VCUR")" = 0
kill "$APID" "$NEW_W1" "$NEW_N3" 2>/dev/null
# A next key file gets the key file's checks (bounded: were it not refused,
# the extender would run on).
cp "$NEW" "$NS_TMP/next-open.key" && chmod 644 "$NS_TMP/next-open.key"
timeout 20 "$EXT" --key-file "$KEY" --key-file-next "$NS_TMP/next-open.key" --listen-http 127.0.0.1:0 \
	--listen-scores "tcp://127.0.0.1:$(free_port)" 2>"$NS_TMP/next-open.err"
rc=$?
check next_key_world_readable_refused sh -c "[ $rc -eq 2 ] && grep -q 'ERROR extender: invalid --key-file-next: key file is world-readable' '$NS_TMP/next-open.err'"
check promoted_extender_exit_0 stop_pid "$EPID"
summary
