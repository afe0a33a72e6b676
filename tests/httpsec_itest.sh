#!/bin/sh
# SPDX-License-Identifier: MIT
# The extender's HTTP port with TLS (--tls-cert/--tls-key): a self-signed
# certificate from openssl req, the real curl verifying it with --cacert,
# /prioritize and /filter over https giving the fixture answers of the
# plain-HTTP extender, a plain-HTTP request to the TLS port failing, and
# the refusals of unusable certificates and keys (world-readable key, one
# flag without the other, not PEM, mismatched, encrypted, oversized).
# Usage: sh tests/httpsec_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
EXT=$B/nodescore-extender
PUB=$B/nodescore-pub
FIX=tests/fixtures/extender

if [ ! -x "$EXT" ] || [ ! -x "$PUB" ]; then
	fail httpsec "needs $EXT and $PUB (make all)"
	summary
	exit 1
fi
if ! command -v openssl >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
	fail httpsec "needs openssl and curl (tools/install-deps.sh)"
	summary
	exit 1
fi

KEY=$NS_TMP/key
make_key "$KEY"
SP=$(free_port)

# cert NAME: NAME.crt and NAME.key (0600), self-signed for 127.0.0.1.
cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=nodescore-extender" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$NS_TMP/$1.key" -out "$NS_TMP/$1.crt" >/dev/null 2>&1 &&
		chmod 600 "$NS_TMP/$1.key"
}
check openssl_self_signed_cert cert tls
cert other
CRT=$NS_TMP/tls.crt
TKEY=$NS_TMP/tls.key

# refuses NAME RC WANT [FLAGS...]: the extender exits RC at start with WANT
# in its ERROR line (env vars passed through, so they can be tested too).
refuses() {
	n=$1 want_rc=$2 want=$3
	shift 3
	timeout 10 "$EXT" --key-file "$KEY" --listen-http 127.0.0.1:0 \
		--listen-scores "tcp://127.0.0.1:$(free_port)" "$@" >"$NS_TMP/refuse.out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && grep -q "^ERROR extender: .*$want" "$NS_TMP/refuse.out"; then
		pass "$n"
	else
		fail "$n" "exit $rc (wanted $want_rc), output: $(head -c 300 "$NS_TMP/refuse.out")"
	fi
}

# --- HTTPS: the normal answers over TLS -------------------------------------
CSV=$NS_TMP/cluster.csv
cat >"$CSV" <<'CSV'
node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,free_mib,pods,rtt_p99_us
node-a,800,0,50,300,300,400,300,4000,8192,10,300
node-b,400,1,912,300,300,100,100,4000,8192,10,300
node-c,600,0,20,300,300,700,500,900,8192,10,200
node-d,300,0,10,300,300,200,100,4000,300,10,5000
CSV
LOG=$NS_TMP/extender.log
"$EXT" --key-file "$KEY" --listen-http 127.0.0.1:0 --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 1s --reserve-settle 0 --tls-cert "$CRT" --tls-key "$TKEY" 2>"$LOG" &
EPID=$!
NS_PIDS="$NS_PIDS $EPID"
wait_for 5 grep -q "SUCCESS extender: listening" "$LOG"
HP=$(extender_http_port "$LOG")
check tls_extender_started test -n "$HP"
check tls_on_in_start_line grep -q "SUCCESS extender: listening .* tls=on" "$LOG"
U=https://127.0.0.1:$HP
CURL="curl -s --cacert $CRT"
# The lib.sh helpers read $U/metrics with plain curl: over TLS here.
metric() { $CURL "$U/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }

"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --replay "$CSV" --interval 200ms \
	--log-every 0 2>"$NS_TMP/pub.log" &
NS_PIDS="$NS_PIDS $!"
check https_messages_arrive wait_for 10 ge nodescore_extender_table_nodes 4
check https_healthz sh -c "[ \"\$($CURL '$U/healthz')\" = ok ]"
for f in prioritize_names filter_names; do
	verb=${f%%_*}
	code=$($CURL -o "$NS_TMP/out" -w '%{http_code}' -X POST --data-binary "@$FIX/${f}_request.json" "$U/$verb")
	if [ "$code" = 200 ] && printf '%s' "$(cat "$FIX/${f}_reply.json")" | cmp -s - "$NS_TMP/out"; then
		pass "https_${f}_fixture_answer"
	else
		fail "https_${f}_fixture_answer" "code $code: $(head -c 200 "$NS_TMP/out")"
	fi
done
# curl verifies the chain and the address: another certificate as the CA fails.
check https_wrong_ca_refused_by_client sh -c "! curl -s --cacert '$NS_TMP/other.crt' '$U/healthz' >/dev/null"
# Plain HTTP to the TLS port: no HTTP answer at all.
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/healthz")
rc=$?
check plain_http_to_tls_port_fails sh -c "[ $rc -ne 0 ] && [ '$code' = 000 ]"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST --data-binary "@$FIX/prioritize_names_request.json" \
	"http://127.0.0.1:$HP/prioritize")
check plain_http_prioritize_fails test "$code" = 000
check https_still_serving_after_plain sh -c "[ \"\$($CURL '$U/healthz')\" = ok ]"
# TLS 1.1 is refused by the server: s_client with SECLEVEL=0 would take it
# (curl's OpenSSL policy refuses it on the client side and proves nothing).
check https_tls11_refused sh -c "echo | timeout 5 openssl s_client -connect 127.0.0.1:$HP \
	-tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1 | grep -q 'Cipher is (NONE)'"
check https_tls12_accepted sh -c "echo | timeout 5 openssl s_client -connect 127.0.0.1:$HP \
	-tls1_2 2>&1 | grep -q 'New, TLSv1.2, Cipher is ECDHE'"

# --- refusals at start: clear ERROR, nothing served --------------------------
cp "$TKEY" "$NS_TMP/open.key" && chmod 644 "$NS_TMP/open.key"
refuses tls_world_readable_key_refused 2 "cannot use --tls-key: TLS key file is world-readable path=$NS_TMP/open.key mode=0644" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/open.key"
NODESCORE_TLS_CERT=$CRT NODESCORE_TLS_KEY=$NS_TMP/open.key \
	refuses tls_env_vars_used 2 "TLS key file is world-readable"
refuses tls_cert_without_key 2 "invalid --tls-cert .*--tls-cert and --tls-key go together" --tls-cert "$CRT"
refuses tls_key_without_cert 2 "invalid --tls-key .*--tls-cert and --tls-key go together" --tls-key "$TKEY"
refuses tls_missing_key_file 2 "cannot open TLS key file path=$NS_TMP/none.key" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/none.key"
refuses tls_cert_not_pem 2 "invalid --tls-cert path=$KEY: the file has no -----BEGIN CERTIFICATE----- block" \
	--tls-cert "$KEY" --tls-key "$TKEY"
refuses tls_key_not_pem 2 "has no -----BEGIN ... PRIVATE KEY----- block" --tls-cert "$CRT" --tls-key "$KEY"
head -c 70000 /dev/zero | tr '\0' A >"$NS_TMP/big.key" && chmod 600 "$NS_TMP/big.key"
refuses tls_oversized_key 2 "TLS key file has more than 65536 bytes" --tls-cert "$CRT" --tls-key "$NS_TMP/big.key"
openssl pkcs8 -topk8 -in "$TKEY" -passout pass:secret -out "$NS_TMP/enc.key" 2>/dev/null && chmod 600 "$NS_TMP/enc.key"
refuses tls_encrypted_key 2 "is encrypted: the extender takes an unencrypted key" --tls-cert "$CRT" --tls-key "$NS_TMP/enc.key"
refuses tls_key_of_other_cert 1 "cannot start HTTPS server: GnuTLS .*do not match" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/other.key"
sed '2s/^M/X/' "$CRT" >"$NS_TMP/corrupt.crt"
refuses tls_corrupt_cert 1 "cannot start HTTPS server: GnuTLS" --tls-cert "$NS_TMP/corrupt.crt" --tls-key "$TKEY"
# Group read is what fsGroup gives a Secret volume (0440): accepted, like the HMAC key.
cp "$TKEY" "$NS_TMP/group.key" && chmod 640 "$NS_TMP/group.key"
"$EXT" --key-file "$KEY" --listen-http 127.0.0.1:0 --listen-scores "tcp://127.0.0.1:$(free_port)" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/group.key" 2>"$NS_TMP/group.log" &
GPID=$!
NS_PIDS="$NS_PIDS $GPID"
check tls_group_readable_key_accepted wait_for 5 grep -q "SUCCESS extender: listening .* tls=on" "$NS_TMP/group.log"
kill "$GPID" 2>/dev/null

kill -TERM "$EPID"
wait "$EPID"
check tls_extender_sigterm_exit_0 test $? -eq 0
check tls_no_key_material_logged sh -c "! grep -q 'PRIVATE KEY' '$LOG'"
summary
