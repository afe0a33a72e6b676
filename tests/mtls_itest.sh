#!/bin/sh
# SPDX-License-Identifier: MIT
# Client certificates on the extender's HTTPS port (--tls-client-ca, mTLS):
# a CA and a client certificate it issued from openssl, a second client
# certificate from another CA and an expired one; the real curl presents
# them. /filter, /prioritize, /metrics and the status page answer 403
# without a valid certificate (counted by reason, logged), the normal answer
# with one; /healthz stays open for the kubelet's probes; a CA without HTTPS
# or a CA file that is not PEM is refused at start.
# Usage: sh tests/mtls_itest.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
B=${1:-build}
https_test mtls
D=$NS_TMP
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null && chmod 600 "$1"; }
# ca NAME: a self-signed CA, NAME.crt and NAME.key.
ca() {
	ec "$D/$1.key" && openssl req -x509 -new -key "$D/$1.key" -days 2 -subj "/CN=$1" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
		-out "$D/$1.crt" 2>/dev/null
}
# issue NAME CA DAYS: a certificate for NAME signed by CA.
issue() {
	ec "$D/$1.key" && openssl req -new -key "$D/$1.key" -subj "/CN=$1" -out "$D/$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$D/$1.csr" -CA "$D/$2.crt" -CAkey "$D/$2.key" -CAcreateserial \
			-days "$3" -extfile /dev/stdin -out "$D/$1.crt" 2>/dev/null <<EOF
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
}
check openssl_ca ca clientca
ca otherca
ca serverca
check openssl_server_cert issue server serverca 2
check openssl_client_cert issue scheduler clientca 2
issue stranger otherca 2
# Expired: issued for one day, ten days ago (openssl signs under libfaketime;
# without faketime the case is skipped below).
if command -v faketime >/dev/null 2>&1; then
	faketime "$(date -u -d '10 days ago' '+%Y-%m-%d %H:%M:%S')" sh -c "$(command -v openssl) x509 -req \
		-in '$D/scheduler.csr' -CA '$D/clientca.crt' -CAkey '$D/clientca.key' -CAcreateserial \
		-days 1 -out '$D/expired.crt'" 2>/dev/null && cp "$D/scheduler.key" "$D/expired.key"
fi

ext_refuses ca_without_tls_refused 2 "tls-client-ca.*need HTTPS" --tls-client-ca "$D/clientca.crt"
printf 'not a certificate\n' >"$D/junk.pem"
ext_refuses ca_not_pem_refused 2 "invalid --tls-client-ca path=.*junk.pem.*BEGIN CERTIFICATE" \
	--tls-cert "$D/server.crt" --tls-key "$D/server.key" --tls-client-ca "$D/junk.pem"
ext_refuses ca_missing_refused 2 "cannot use --tls-client-ca" \
	--tls-cert "$D/server.crt" --tls-key "$D/server.key" --tls-client-ca "$D/nope.pem"

SP=$(free_port)
LOG=$D/extender.log
start_extender "$EXT" "$LOG" --key-file "$KEY" --listen-scores "tcp://127.0.0.1:$SP" \
	--publish-interval 1s --reserve-settle 0 --tls-cert "$D/server.crt" --tls-key "$D/server.key" \
	--tls-client-ca "$D/clientca.crt"
EPID=$EXT_PID
HP=$(extender_http_port "$LOG")
check mtls_extender_started grep -q "SUCCESS extender: listening .* tls=on .* client_ca=on" "$LOG"
U=https://127.0.0.1:$HP
CURL="curl -s --max-time 5 --cacert $D/serverca.crt"
AS="--cert $D/scheduler.crt --key $D/scheduler.key"
# code PATH [CURL ARGS...]: the status of GET (or the given method on) PATH; 000 when the
# connection failed.
code() { p=$1; shift; $CURL -o "$D/body" -w '%{http_code}' "$@" "$U$p"; }
metric() { $CURL $AS "$U/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }

"$PUB" --connect "tcp://127.0.0.1:$SP" --key-file "$KEY" --replay "$FIX/cluster.csv" --interval 200ms \
	--log-every 0 2>"$D/pub.log" &
NS_PIDS="$NS_PIDS $!"
check messages_arrive wait_for 10 sh -c "v=\$($CURL $AS '$U/metrics' | awk '\$1 == \"nodescore_extender_table_nodes\" { print \$2 }'); [ \"\${v:-0}\" -ge 4 ]"

check healthz_open_without_cert test "$(code /healthz)" = 200
check metrics_without_cert_403 test "$(code /metrics)" = 403
check metrics_403_says_why grep -q "client certificate issued by the CA of --tls-client-ca" "$D/body"
check status_without_cert_403 test "$(code /)" = 403
check prioritize_without_cert_403 test "$(code /prioritize -X POST --data-binary "@$FIX/prioritize_names_request.json")" = 403
check filter_without_cert_403 test "$(code /filter -X POST --data-binary "@$FIX/filter_names_request.json")" = 403
# Refusals are logged at most once a second: a second apart, both reasons show.
sleep 1.1
check metrics_other_ca_403 test "$(code /metrics --cert "$D/stranger.crt" --key "$D/stranger.key")" = 403
if [ -s "$D/expired.crt" ]; then
	check metrics_expired_cert_403 test "$(code /metrics --cert "$D/expired.crt" --key "$D/expired.key")" = 403
else
	skip metrics_expired_cert_403 "no faketime to issue a certificate in the past (tools/install-deps.sh)"
fi
check metrics_with_cert_200 test "$(code /metrics $AS)" = 200
check status_with_cert_200 test "$(code / $AS)" = 200
for f in prioritize_names filter_names; do
	verb=${f%%_*}
	c=$(code "/$verb" $AS -X POST --data-binary "@$FIX/${f}_request.json")
	if [ "$c" = 200 ] && printf '%s' "$(cat "$FIX/${f}_reply.json")" | cmp -s - "$D/body"; then
		pass "mtls_${f}_fixture_answer"
	else
		fail "mtls_${f}_fixture_answer" "code $c, body $(head -c 200 "$D/body")"
	fi
done
# Keep-alive: the verdict is cached per connection; several requests on one
# connection with the certificate all pass.
check keepalive_with_cert sh -c "$CURL $AS -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}\n' \
	'$U/metrics' '$U/healthz' '$U/metrics' | tr -d '\n' | grep -qx 200200200"
check refused_missing_counted test "$(metric 'nodescore_extender_client_cert_refused_total{reason="missing"}')" -ge 4
check refused_invalid_counted test "$(metric 'nodescore_extender_client_cert_refused_total{reason="invalid"}')" -ge 2
check refused_in_requests_total test "$(metric 'nodescore_extender_requests_total{verb="metrics",code="403"}')" -ge 2
check refused_logged grep -q "WARNING http: refused request without a valid client certificate verb=metrics reason=missing client=127.0.0.1" "$LOG"
check refused_invalid_logged grep -q "WARNING http: refused request without a valid client certificate verb=metrics reason=invalid client=127.0.0.1" "$LOG"
check log_format log_format_ok "$LOG"
check mtls_extender_sigterm_exit_0 stop_pid "$EPID"
check no_key_material_logged sh -c "! grep -q 'PRIVATE KEY' '$LOG'"
finish
