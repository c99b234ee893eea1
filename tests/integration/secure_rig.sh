#!/usr/bin/env bash
# TLS under broker faults, through real TLS terminators in front of the
# librdkafka mock cluster (the issue's rig): the mock runs in its own network
# namespace, where its 127.0.0.1 is private; for each port it advertises, a
# socat OPENSSL-LISTEN on this namespace's 127.0.0.1 (certificate for IP
# 127.0.0.1, made here by openssl) relays to a socat UNIX-LISTEN inside, which
# connects to the broker. So the addresses in Metadata reach the brokers over
# TLS, with hostname (IP) verification on.
# funneld (security.protocol=SSL) produces while broker 2 goes down and up and
# leaders move; every record is read back by kcat over TLS exactly once, in
# order, and the sequences on the wire (fnl-rawfetch inside the namespace)
# have no gap. Then mTLS: the terminators restart demanding a client
# certificate (socat verify=1, cafile): kcat with a client certificate proves
# the rig; funneld without one is refused (the log names the broker and the
# cause, /health 503); funneld with ssl.certificate.location and an encrypted
# ssl.key.location + ssl.key.password delivers exactly once, in order. Needs
# root (ip netns) and socat.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 280
source "$(dirname "$0")/funnel_lib.sh"
command -v socat >/dev/null || fnl_fail "socat not installed (scripts/setup installs it)"

NS=fnl-sec-$$
fnl_netns_add "$NS"

C=$FNL_TMP/certs
fnl_cert_ca "$C" rig-ca
fnl_cert_leaf "$C" server rig 2 'subjectAltName=IP:127.0.0.1\n'
# the client's certificate for mTLS, its key encrypted (ssl.key.password)
fnl_cert_leaf "$C" client funnel-client 2 'extendedKeyUsage=clientAuth\n'
fnl__openssl openssl pkey -in "$C/client.key" -aes256 -passout pass:rig-key-pass -out "$C/client-enc.key"

# the mock inside the namespace (lib.sh starts $FNL_MOCKBROKER)
fnl_mock_in_ns "$NS"
fnl_broker_start -b 3 -t rdown:6 -t rlead:6 -t mtls:6

# one terminator pair per advertised port; terminators VERIFY (0, or 1 with
# the CA: a client certificate is required)
OUTER=()
terminators() {
	local hp p
	for hp in ${FNL_BOOTSTRAP//,/ }; do
		p=${hp##*:}
		socat "OPENSSL-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,cert=$C/server.pem,key=$C/server.key,$1" \
			"UNIX-CONNECT:$FNL_TMP/b$p.sock" 2>>"$FNL_TMP/socat.err" &
		fnl_track $!
		OUTER+=($!)
	done
	for hp in ${FNL_BOOTSTRAP//,/ }; do
		fnl_wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/${hp##*:}" 2>/dev/null ||
			fnl_fail "terminator ${hp##*:}"
	done
}
for hp in ${FNL_BOOTSTRAP//,/ }; do
	p=${hp##*:}
	fnl_ns_relay "$NS" "$FNL_TMP/b$p.sock" "127.0.0.1:$p"
done
terminators verify=0
# the rig first, with an independent client: kcat over TLS lists the brokers
KT="-X security.protocol=SSL -X ssl.ca.location=$C/ca.pem -X ssl.endpoint.identification.algorithm=https"
# shellcheck disable=SC2086
timeout 20 kcat -L -b "$FNL_BOOTSTRAP" $KT >"$FNL_TMP/kcat-L.txt" 2>&1 || {
	cat "$FNL_TMP/kcat-L.txt" >&2
	fnl_fail "kcat cannot list the cluster through the terminators"
}
grep -q "3 brokers" "$FNL_TMP/kcat-L.txt" || fnl_fail "kcat does not see 3 brokers: $(cat "$FNL_TMP/kcat-L.txt")"

fnl_funneld_start -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" -X retry.backoff.ms=50 \
	-X funnel.metrics.listen=127.0.0.1:0 \
	-X request.timeout.ms=5000 -X funnel.test.transactional.id=funnel-seqcheck
N=${FNL_RIG_RECORDS:-10000}
RATE=${FNL_RIG_RATE:-5000}
run() {
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c "$1-k" -n "$N" -k 50 -P 6 -r "$RATE" -e "$FNL_TMP/ex-$1-k"
	c1=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c "$1-n" -n "$N" -r "$RATE" -e "$FNL_TMP/ex-$1-n"
	c2=$FNL_LAST_PID
}
finish() {
	wait "$c1" || fnl_fail "$1: keyed client did not get every report"
	wait "$c2" || fnl_fail "$1: null-key client did not get every report"
	FNL_KCAT_ARGS=${KREAD:-$KT} "$FNL_READBACK" "$FNL_BOOTSTRAP" "$1" 6 >"$FNL_TMP/rb-$1.tsv" ||
		fnl_fail "read-back of $1 over TLS failed"
	cat "$FNL_TMP/ex-$1-k" "$FNL_TMP/ex-$1-n" >"$FNL_TMP/expect-$1.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$1.tsv" --expect "$FNL_TMP/expect-$1.tsv" \
		--fail-on-duplicates || fnl_fail "$1: records lost, repeated or out of order"
	ip netns exec "$NS" "$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$1" >"$FNL_TMP/raw-$1.txt" ||
		fnl_fail "rawfetch $1"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$1.txt" --codec zstd --idempotent |
		tail -1 | tee "$FNL_TMP/batches-$1.txt"
	grep -q " 0 sequence errors" "$FNL_TMP/batches-$1.txt" || fnl_fail "$1: sequence gap on the wire"
}

echo "== over TLS: broker 2 down, then up"
run rdown
sleep 1
fnl_broker_cmd "down 2"
sleep 2
fnl_broker_cmd "up 2"
finish rdown
# (whether funneld reconnects to broker 2 depends on the mock moving leaders
# back to it after "up 2", so only delivery is asserted here; the handshakes
# are in /metrics)
mport=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FNL_TMP/funneld.err" | head -1)
hs=$(python3 "$(dirname "$0")/obs/httpget.py" "$mport" /metrics |
	awk '$1 == "funnel_tls_user_handshakes_total" {print $2}')
echo "TLS handshakes so far: ${hs:-?}"
[[ ${hs:-0} -ge 1 ]] || fnl_fail "no TLS handshake counted in /metrics"
echo "== over TLS: leaders move"
run rlead
for p in 0 1 2 3 4 5; do
	sleep 0.3
	fnl_broker_cmd "leader rlead $p $(((p + 1) % 3 + 1))"
done
finish rlead
grep -Eq "TLS in user space|kernel TLS for sends" "$FNL_TMP/funneld.err" || fnl_fail "no per-connection TLS line"
fnl_funneld_stop

echo "== mTLS: the terminators require a client certificate"
kill "${OUTER[@]}" 2>/dev/null || true
wait "${OUTER[@]}" 2>/dev/null || true
OUTER=()
terminators "verify=1,cafile=$C/ca.pem"
# shellcheck disable=SC2086
timeout 20 kcat -L -b "$FNL_BOOTSTRAP" $KT >"$FNL_TMP/kcat-nocert.txt" 2>&1 &&
	grep -q "3 brokers" "$FNL_TMP/kcat-nocert.txt" &&
	fnl_fail "the terminators let kcat in without a client certificate"
KM="$KT -X ssl.certificate.location=$C/client.pem -X ssl.key.location=$C/client-enc.key -X ssl.key.password=rig-key-pass"
# shellcheck disable=SC2086
timeout 20 kcat -L -b "$FNL_BOOTSTRAP" $KM >"$FNL_TMP/kcat-mtls.txt" 2>&1 || {
	cat "$FNL_TMP/kcat-mtls.txt" >&2
	fnl_fail "kcat with a client certificate cannot list the cluster"
}
grep -q "3 brokers" "$FNL_TMP/kcat-mtls.txt" || fnl_fail "kcat (mTLS) does not see 3 brokers"

# without a certificate: refused, the reason logged and in /health
"$FNL_FUNNELD" -X "bootstrap.servers=$FNL_BOOTSTRAP" -X "funnel.socket.path=$FNL_TMP/nocert.sock" \
	-X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" -X funnel.metrics.listen=127.0.0.1:0 \
	-X funnel.journal=false 2>"$FNL_TMP/funneld-nocert.err" &
nocert=$!
fnl_track $nocert
fnl_wait_for 20 grep -q "metrics listening" "$FNL_TMP/funneld-nocert.err" || fnl_fail "funneld (no cert) did not start"
np=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FNL_TMP/funneld-nocert.err" | head -1)
health() { python3 "$(dirname "$0")/obs/httpget.py" "$np" /health --status || true; }
fnl_wait_for 20 sh -c "grep -q 'requires a client certificate (mTLS): set ssl.certificate.location' '$FNL_TMP/funneld-nocert.err'" || {
	tail -5 "$FNL_TMP/funneld-nocert.err" >&2
	fnl_fail "funneld without a client certificate logs no certificate cause"
}
grep -m1 "client certificate" "$FNL_TMP/funneld-nocert.err"
grep -Eiq "certificate.*127\.0\.0\.1:[0-9]+|127\.0\.0\.1:[0-9]+.*certificate" "$FNL_TMP/funneld-nocert.err" ||
	fnl_fail "the refusal does not name the broker"
[[ $(health) == 503 ]] || fnl_fail "/health is not 503 while every broker refuses the client"
# not ready: no control socket, or (a funneld that opens it before the bootstrap) a
# status that says NOT READY
if [[ -S $FNL_TMP/nocert.sock ]]; then
	"$FNL_BUILD_DIR/ctrl/funnelctl" -s "$FNL_TMP/nocert.sock" status 2>/dev/null | grep -q "NOT READY" ||
		fnl_fail "funneld without a client certificate became ready"
fi
kill -TERM $nocert
wait $nocert || true

fnl_funneld_start -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" \
	-X "ssl.certificate.location=$C/client.pem" -X "ssl.key.location=$C/client-enc.key" \
	-X ssl.key.password=rig-key-pass -X funnel.metrics.listen=127.0.0.1:0 \
	-X funnel.test.transactional.id=funnel-seqcheck
grep -q "rig-key-pass" "$FNL_TMP/funneld.err" && fnl_fail "the key password is in the log"
run mtls
KREAD=$KM finish mtls
fnl_funneld_stop
echo "mTLS: 2 x $N records exactly once, in order, with a client certificate"
echo "secure_rig: ok"
