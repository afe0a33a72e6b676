#!/bin/sh
# SPDX-License-Identifier: MIT
# The extender's HTTP port with TLS (--tls-cert/--tls-key): a self-signed
# certificate from openssl req, the real curl verifying it with --cacert,
# /prioritize and /filter over https giving the fixture answers of the
# plain-HTTP extender, a plain-HTTP request to the TLS port failing, and
# the refusals of unusable certificates and keys (world-readable key, one
# flag without the other, not PEM, mismatched, encrypted, oversized). The
# bearer token (--auth-token-file): /metrics and the status page answer 401
# with WWW-Authenticate: Bearer without it (counted), 200 with it; /filter,
# /prioritize and /healthz never ask; the token is in no log or metric.
# Usage: sh tests/httpsec_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
https_test httpsec
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

# --- HTTPS: the normal answers over TLS -------------------------------------
# The cluster of tests/fixtures/extender, as extender_itest publishes it.
CSV=$FIX/cluster.csv
LOG=$NS_TMP/extender.log
start_extender "$EXT" "$LOG" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 1s --reserve-settle 0 --tls-cert "$CRT" --tls-key "$TKEY"
EPID=$EXT_PID
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

# --- bearer token on /metrics and the status page ---------------------------
TOKEN=nsTok-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$NS_TMP/token" && chmod 600 "$NS_TMP/token"
TLOG=$NS_TMP/token-extender.log
TSP=$(free_port)
# The token file from the environment, as NODESCORE_<FLAG> promises.
NODESCORE_AUTH_TOKEN_FILE=$NS_TMP/token start_extender "$EXT" "$TLOG" --key-file "$KEY" \
	--listen-scores "tcp://127.0.0.1:$TSP" --publish-interval 1s --reserve-settle 0 \
	--tls-cert "$CRT" --tls-key "$TKEY"
TPID=$EXT_PID
TP=$(extender_http_port "$TLOG")
check token_extender_started grep -q "SUCCESS extender: listening .* tls=on auth_token=on" "$TLOG"
TU=https://127.0.0.1:$TP
AUTH="Authorization: Bearer $TOKEN"
# status PATH [CURL ARGS...]: the HTTP status code of GET PATH.
status() { p=$1; shift; $CURL -o "$NS_TMP/body" -D "$NS_TMP/headers" -w '%{http_code}' "$@" "$TU$p"; }
check metrics_without_token_401 test "$(status /metrics)" = 401
check metrics_401_www_authenticate_bearer grep -qi '^WWW-Authenticate: Bearer realm="nodescore"' "$NS_TMP/headers"
check metrics_401_no_metrics_in_body sh -c "! grep -q nodescore_ '$NS_TMP/body'"
check metrics_wrong_token_401 test "$(status /metrics -H "Authorization: Bearer $TOKEN-x")" = 401
check wrong_token_invalid_token_error grep -qi 'WWW-Authenticate: Bearer .*error="invalid_token"' "$NS_TMP/headers"
check metrics_token_prefix_401 test "$(status /metrics -H "Authorization: Bearer ${TOKEN%?}")" = 401
check metrics_basic_auth_401 test "$(status /metrics -u "user:$TOKEN")" = 401
check status_page_without_token_401 test "$(status /)" = 401
check metrics_with_token_200 test "$(status /metrics -H "$AUTH")" = 200
check metrics_with_token_has_samples grep -q '^nodescore_extender_table_capacity 10000' "$NS_TMP/body"
check status_page_with_token_200 test "$(status / -H "$AUTH")" = 200
check status_page_with_token_html grep -q '<html' "$NS_TMP/body"
check bearer_scheme_case_insensitive test "$(status /metrics -H "Authorization: bearer $TOKEN")" = 200
# What kube-scheduler and the kubelet call sends no token and needs none.
check healthz_without_token_200 test "$(status /healthz)" = 200
code=$($CURL -o "$NS_TMP/out" -w '%{http_code}' -X POST --data-binary "@$FIX/prioritize_names_request.json" "$TU/prioritize")
check prioritize_without_token_200 test "$code" = 200
code=$($CURL -o "$NS_TMP/out" -w '%{http_code}' -X POST --data-binary "@$FIX/filter_names_request.json" "$TU/filter")
check filter_without_token_200 test "$code" = 200
tmetric() { $CURL -H "$AUTH" "$TU/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
check unauthorized_missing_counted test "$(tmetric 'nodescore_extender_unauthorized_total{reason="missing"}')" -ge 3
check unauthorized_invalid_counted test "$(tmetric 'nodescore_extender_unauthorized_total{reason="invalid"}')" -ge 2
check unauthorized_in_requests_total test "$(tmetric 'nodescore_extender_requests_total{verb="metrics",code="401"}')" -ge 4
check unauthorized_logged grep -q "WARNING http: refused request without a valid bearer token verb=metrics reason=missing client=127.0.0.1" "$TLOG"
$CURL -H "$AUTH" "$TU/metrics" >"$NS_TMP/metrics.txt"
check token_not_in_metrics sh -c "! grep -qF '$TOKEN' '$NS_TMP/metrics.txt'"
check token_extender_sigterm_exit_0 stop_pid "$TPID"
check token_not_in_log sh -c "! grep -qF '$TOKEN' '$TLOG'"
# Refusals of the token file: world-readable, empty, a space, too long.
cp "$NS_TMP/token" "$NS_TMP/token-open" && chmod 644 "$NS_TMP/token-open"
ext_refuses token_world_readable_refused 2 "invalid --auth-token-file: token file is world-readable path=$NS_TMP/token-open" \
	--auth-token-file "$NS_TMP/token-open"
printf '\n' >"$NS_TMP/token-empty" && chmod 600 "$NS_TMP/token-empty"
ext_refuses token_empty_refused 2 "token file is empty" --auth-token-file "$NS_TMP/token-empty"
printf 'two words\n' >"$NS_TMP/token-space" && chmod 600 "$NS_TMP/token-space"
ext_refuses token_with_space_refused 2 "token file has a space, control or non-ASCII byte at offset 3" \
	--auth-token-file "$NS_TMP/token-space"
check token_refusal_does_not_echo_token sh -c "! grep -q 'words' '$NS_TMP/refuse.out'"
head -c 2000 /dev/zero | tr '\0' a >"$NS_TMP/token-long" && chmod 600 "$NS_TMP/token-long"
ext_refuses token_too_long_refused 2 "token file is longer than 1024 bytes" --auth-token-file "$NS_TMP/token-long"
ext_refuses token_missing_refused 2 "cannot open token file" --auth-token-file "$NS_TMP/no-token"

# --- refusals at start: clear ERROR, nothing served --------------------------
cp "$TKEY" "$NS_TMP/open.key" && chmod 644 "$NS_TMP/open.key"
ext_refuses tls_world_readable_key_refused 2 "cannot use --tls-key: TLS key file is world-readable path=$NS_TMP/open.key mode=0644" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/open.key"
NODESCORE_TLS_CERT=$CRT NODESCORE_TLS_KEY=$NS_TMP/open.key \
	ext_refuses tls_env_vars_used 2 "TLS key file is world-readable"
ext_refuses tls_cert_without_key 2 "invalid --tls-cert .*--tls-cert and --tls-key go together" --tls-cert "$CRT"
ext_refuses tls_key_without_cert 2 "invalid --tls-key .*--tls-cert and --tls-key go together" --tls-key "$TKEY"
ext_refuses tls_missing_key_file 2 "cannot open TLS key file path=$NS_TMP/none.key" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/none.key"
# Text without a PEM block (the HMAC key is random bytes: it may hold a NUL,
# which is refused earlier and for another reason).
NOTPEM=$NS_TMP/notpem.txt
printf 'not a certificate\n' >"$NOTPEM" && chmod 600 "$NOTPEM"
ext_refuses tls_cert_not_pem 2 "invalid --tls-cert path=$NOTPEM: the file has no -----BEGIN CERTIFICATE----- block" \
	--tls-cert "$NOTPEM" --tls-key "$TKEY"
ext_refuses tls_key_not_pem 2 "has no -----BEGIN ... PRIVATE KEY----- block" --tls-cert "$CRT" --tls-key "$NOTPEM"
head -c 70000 /dev/zero | tr '\0' A >"$NS_TMP/big.key" && chmod 600 "$NS_TMP/big.key"
ext_refuses tls_oversized_key 2 "TLS key file has more than 65536 bytes" --tls-cert "$CRT" --tls-key "$NS_TMP/big.key"
openssl pkcs8 -topk8 -in "$TKEY" -passout pass:secret -out "$NS_TMP/enc.key" 2>/dev/null && chmod 600 "$NS_TMP/enc.key"
ext_refuses tls_encrypted_key 2 "is encrypted: the extender takes an unencrypted key" --tls-cert "$CRT" --tls-key "$NS_TMP/enc.key"
ext_refuses tls_key_of_other_cert 1 "cannot start HTTPS server: GnuTLS .*do not match" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/other.key"
sed '2s/^M/X/' "$CRT" >"$NS_TMP/corrupt.crt"
ext_refuses tls_corrupt_cert 1 "cannot start HTTPS server: GnuTLS" --tls-cert "$NS_TMP/corrupt.crt" --tls-key "$TKEY"
# Group read is what fsGroup gives a Secret volume (0440): accepted, like the HMAC key.
cp "$TKEY" "$NS_TMP/group.key" && chmod 640 "$NS_TMP/group.key"
start_extender "$EXT" "$NS_TMP/group.log" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$(free_port)" \
	--tls-cert "$CRT" --tls-key "$NS_TMP/group.key"
check tls_group_readable_key_accepted grep -q "SUCCESS extender: listening .* tls=on" "$NS_TMP/group.log"
kill "$EXT_PID" 2>/dev/null

check tls_extender_sigterm_exit_0 stop_pid "$EPID"
check tls_no_key_material_logged sh -c "! grep -q 'PRIVATE KEY' '$LOG'"
summary
