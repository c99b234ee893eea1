#!/usr/bin/env bash
# The cost of TLS per record, for funnel and for librdkafka, over the same
# relays (root: ip netns; socat):
#
#   bench/secure_rig.sh BUILD_DIR [funnel-bench options...]
#
# funnel-bench runs twice with the same options. Each time it starts its mock
# through a wrapper that puts the mock in its own network namespace and, for
# each port the mock advertises, a relay on this namespace's 127.0.0.1:PORT
# -> a UNIX socket -> socat inside -> the broker (as tests/integration/
# secure_rig.sh): first plain TCP relays (socat TCP-LISTEN), then TLS
# terminators (socat OPENSSL-LISTEN, an RSA-2048 certificate for IP 127.0.0.1
# made here) with --security ssl. Both producers make the same hops in both
# runs, so the difference is TLS (handshakes, encryption in the producer,
# decryption in socat: socat's CPU is not counted in either producer's).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bench/secure_rig.sh BUILD_DIR [funnel-bench options...]" >&2; exit 2; }
B=$(cd "$1" && pwd)
shift
[[ $(id -u) -eq 0 ]] || { echo "secure_rig.sh: needs root (ip netns)" >&2; exit 2; }
T=$(mktemp -d /tmp/fnl-benchsec.XXXXXX)
NS=fnl-bsec-$$
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T"' EXIT
(
	cd "$T"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca
	openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=bench
	printf 'subjectAltName=IP:127.0.0.1\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
		-days 2 -extfile server.ext
) >/dev/null 2>&1

# the wrapper funnel-bench starts as its mock broker (-b N -k; commands on stdin)
cat >"$T/mock-rig" <<'EOF'
#!/usr/bin/env bash
set -u
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
trap 'exit 0' TERM
coproc M { exec ip netns exec "$RIG_NS" "$RIG_MOCK" "$@"; }
pids+=("$M_PID")
exec 3<&"${M[0]}" 4>&"${M[1]}" # (a coproc's own fds are closed in subshells)
read -r line <&3
boot=${line#BOOTSTRAP }
for hp in ${boot//,/ }; do
	p=${hp##*:}
	ip netns exec "$RIG_NS" socat "UNIX-LISTEN:$RIG_DIR/b$p.sock,fork" "TCP:127.0.0.1:$p" 2>/dev/null &
	pids+=($!)
	for _ in $(seq 100); do [[ -S $RIG_DIR/b$p.sock ]] && break; sleep 0.05; done
	if [[ $RIG_MODE == tls ]]; then
		lis="OPENSSL-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,cert=$RIG_DIR/server.pem,key=$RIG_DIR/server.key,verify=0"
	else
		lis="TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork"
	fi
	socat "$lis" "UNIX-CONNECT:$RIG_DIR/b$p.sock" 2>/dev/null &
	pids+=($!)
done
for hp in ${boot//,/ }; do
	for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/${hp##*:}") 2>/dev/null && break; sleep 0.05; done
done
echo "$line"
cat <&3 &
pids+=($!)
cat >&4
EOF
chmod +x "$T/mock-rig"
export RIG_NS=$NS RIG_MOCK=$B/tests/harness/fnl-mockbroker RIG_DIR=$T
echo "== plain TCP relays"
RIG_MODE=tcp "$B/bench/funnel-bench" --mockbroker "$T/mock-rig" --no-rawfetch "$@"
rm -f "$T"/b*.sock
echo "== TLS terminators (security.protocol=SSL)"
RIG_MODE=tls "$B/bench/funnel-bench" --mockbroker "$T/mock-rig" --security ssl --ssl-ca "$T/ca.pem" "$@"
