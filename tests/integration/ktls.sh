#!/usr/bin/env bash
# Kernel TLS (funnel.ssl.ktls) on the data plane's broker connections.
#
# What it checks depends on the kernel it runs on (probed: TCP_ULP "tls" on an
# unconnected socket fails with ENOTCONN where the kernel has kTLS, ENOENT
# where it has none):
#
#  - no kernel TLS (this project's hosts: CONFIG_TLS off): funnel.ssl.ktls=auto
#    falls back to user-space TLS (the per-connection log line says so,
#    /metrics counts the connections as user-space, none as kernel) and
#    delivers every record exactly once, in order (kfake-broker's own TLS,
#    kcat read-back, verify.py); funnel.ssl.ktls=required stops start-up with
#    a message naming the key and the reason; required without TLS is refused.
#  - kernel TLS (Debian's kernel under user-mode-linux, FNL_KTLS_UML=1, or a
#    host that has it): the engine's TLS unit test (test_net_tls: 1 MiB
#    frames echoed by an OpenSSL server over TLS 1.3 and 1.2, now through
#    kernel TLS), then the issue's rig, a socat OPENSSL-LISTEN terminator per
#    advertised port in front of kfake-broker in a network namespace; over
#    TLS 1.3 with funnel.ssl.ktls=auto (the kernel encrypts sends, OpenSSL
#    still decrypts: kernel TLS 1.3 receive is not used) and over TLS 1.2
#    (terminator capped at 1.2) with funnel.ssl.ktls=required (the kernel
#    encrypts and decrypts): offload engaged (log line, /metrics kernel
#    counters, no user-space connection) and every record arrives exactly
#    once, in order (kcat read-back inside the namespace, verify.py).
#
# FNL_KTLS_UML=1 (meson suite "uml"): boot Debian's user-mode-linux kernel
# (package user-mode-linux, hostfs root = this machine's /, loopback only,
# kmod to load tls.ko from /usr/lib/uml/modules) and run this script inside
# it; its output comes back on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# ---- the user-mode-linux wrapper --------------------------------------------
if [[ ${FNL_KTLS_UML:-0} == 1 && -z ${FNL_IN_UML:-} ]]; then
	command -v linux.uml >/dev/null || { echo "FAIL: linux.uml missing (apt-get install user-mode-linux)"; exit 1; }
	command -v modprobe >/dev/null || [[ -x /usr/sbin/modprobe ]] || { echo "FAIL: kmod missing"; exit 1; }
	fd=${FNL_FUNNELD:-${FNL_BUILD_DIR:-}/ctrl/funneld}
	if ldd "$fd" 2>/dev/null | grep -q 'libasan\|libubsan'; then
		echo "FAIL: $fd is built with sanitizers, which cannot run under user-mode-linux (ASan's"
		echo "shadow memory lies beyond UML's address space): use a plain build, e.g."
		echo "  meson setup build-uml -Duml=true && meson test -C build-uml --suite uml"
		exit 1
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/fnl-uml.XXXXXX")
	# what the test needs from meson's environment, for the init inside
	env_lines=$(env | grep -E '^(FNL_[A-Z_]*|MESON_[A-Z_]*|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS)=' |
		grep -v '^FNL_KTLS_UML=' | sed "s/'/'\\\\''/g; s/=/='/; s/\$/'/; s/^/export /")
	cat >"$work/init" <<EOF
#!/bin/sh
# pid 1 inside user-mode-linux: mounts, modules, then the test
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/run/tmp
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmpfs /run
mkdir -p /dev/shm /run/tmp /run/netns /run/m/lib/modules; mount -t tmpfs tmpfs /dev/shm
ln -s /usr/lib/uml/modules/\$(uname -r) /run/m/lib/modules/\$(uname -r)
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d /run/m "\$@"\n' >/run/modprobe; chmod +x /run/modprobe
echo /run/modprobe >/proc/sys/kernel/modprobe
ip link set lo up
/usr/sbin/modprobe -d /run/m tls || echo "modprobe tls failed"
$env_lines
export FNL_IN_UML=1
cd '$PWD'
bash '$here/ktls.sh' >'$work/out' 2>&1
echo \$? >'$work/rc'
cp -r /run/tmp/fnl-test.* '$work/' 2>/dev/null
sync
halt -f
EOF
	chmod +x "$work/init"
	echo "booting user-mode-linux ($(linux.uml --version 2>/dev/null | head -1 || echo linux.uml))"
	timeout "${FNL_UML_TIMEOUT:-540}" linux.uml mem=2G root=/dev/root rootfstype=hostfs rootflags=/ rw \
		init="$work/init" con=null con0=null,fd:2 </dev/null >"$work/console" 2>&1 || true
	cat "$work/out" 2>/dev/null || true
	rc=$(cat "$work/rc" 2>/dev/null || echo none)
	if [[ $rc != 0 ]]; then
		echo "FAIL: ktls.sh inside user-mode-linux ended with status $rc; console:"
		tail -30 "$work/console"
		echo "(kept $work)"
		exit 1
	fi
	rm -rf "$work"
	exit 0
fi

# ---- the test --------------------------------------------------------------
source "$here/../harness/lib.sh"
fnl_test_init "${FNL_KTLS_LIMIT:-420}"
source "$here/funnel_lib.sh"
root=$(cd "$here/../.." && pwd)
KFAKE=${FNL_KFAKE:-$root/../shared/brokers/kfake-broker}
[[ -x $KFAKE ]] || KFAKE=/work/shared/brokers/kfake-broker
[[ -x $KFAKE ]] || fnl_fail "kfake-broker not found (FNL_KFAKE)"
N=${FNL_KTLS_RECORDS:-2000}
C=$FNL_TMP/certs
fnl_cert_ca "$C" ktls-ca
fnl_cert_leaf "$C" server ktls 2 'subjectAltName=IP:127.0.0.1\n'
KT="-X security.protocol=SSL -X ssl.ca.location=$C/ca.pem"

ktls_probe() {
	/usr/bin/python3 - <<'EOF'
import errno, socket, sys
s = socket.socket()
try:
    s.setsockopt(socket.IPPROTO_TCP, 31, b"tls")  # TCP_ULP
except OSError as e:
    sys.exit(0 if e.errno == errno.ENOTCONN else 1)
sys.exit(0)
EOF
}

# fd_start TAG BOOTSTRAP -X...: funneld with its own socket and metrics port
fd_start() {
	local tag=$1 boot=$2
	shift 2
	FD_SOCK=$FNL_TMP/run-$tag/funnel.sock
	FD_LOG=$FNL_TMP/funneld-$tag.err
	"$FNL_FUNNELD" -X "bootstrap.servers=$boot" -X "funnel.socket.path=$FD_SOCK" \
		-X funnel.metrics.listen=127.0.0.1:0 -X linger.ms=5 -X funnel.journal=false \
		-X max.block.ms=60000 -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" \
		"$@" 2>"$FD_LOG" &
	FD_PID=$!
	fnl_track "$FD_PID"
	fnl_wait_for 60 fnl_funneld_ready "$FD_SOCK" || { cat "$FD_LOG" >&2; fnl_fail "$tag: funneld did not come up"; }
}
fd_metric() {
	local port
	port=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FD_LOG" | head -1)
	python3 "$here/obs/httpget.py" "$port" /metrics | awk -v m="$1" '$1 == m {print $2}'
}
fd_stop() {
	kill -TERM "$FD_PID"
	local st=0
	wait "$FD_PID" || st=$?
	[[ $st -eq 0 ]] || { tail -20 "$FD_LOG" >&2; fnl_fail "funneld exited $st after SIGTERM"; }
}
# produce TAG TOPIC [RATE]: two clients, N records each; produce_wait TAG: all
# reports back
produce_start() {
	local tag=$1 topic=$2 rate=()
	[[ -n ${3:-} ]] && rate=(-r "$3")
	fnl_spawn "$FNL_LOAD" -q -s "$FD_SOCK" -t "$topic" -c "$tag-a" -n "$N" -k 40 -P 3 \
		"${rate[@]}" -e "$FNL_TMP/ex-$tag-a"
	P1=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FD_SOCK" -t "$topic" -c "$tag-b" -n "$N" -S 200 \
		"${rate[@]}" -e "$FNL_TMP/ex-$tag-b"
	P2=$FNL_LAST_PID
}
produce_wait() {
	wait "$P1" || fnl_fail "$1: client a did not get every delivery report"
	wait "$P2" || fnl_fail "$1: client b did not get every delivery report"
}
produce() {
	produce_start "$@"
	produce_wait "$1"
}
# check TAG TOPIC BOOTSTRAP [READBACK PREFIX...]: exactly once, in order
check() {
	local tag=$1 topic=$2 boot=$3
	shift 3
	"$@" "$FNL_READBACK" "$boot" "$topic" 3 >"$FNL_TMP/rb-$topic.tsv" ||
		fnl_fail "$tag: read-back of $topic failed"
	cat "$FNL_TMP/ex-$tag-a" "$FNL_TMP/ex-$tag-b" >"$FNL_TMP/expect-$topic.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$topic.tsv" \
		--expect "$FNL_TMP/expect-$topic.tsv" --fail-on-duplicates ||
		fnl_fail "$tag: records of $topic lost, repeated or out of order"
	echo "$tag: $((2 * N)) records exactly once, in order"
}
# counters TAG USER TX RX: /metrics' TLS connection counters; each expectation
# is "0" (must be 0) or "+" (must be >= 1)
counters() {
	local tag=$1 u t r
	u=$(fd_metric funnel_tls_user_connections_total)
	t=$(fd_metric funnel_tls_kernel_tx_connections_total)
	r=$(fd_metric funnel_tls_kernel_rx_connections_total)
	echo "$tag: /metrics user=$u kernel_tx=$t kernel_rx=$r"
	want() { [[ $2 == 0 && $1 == 0 ]] || [[ $2 == + && ${1:-0} -ge 1 ]]; }
	want "$u" "$2" && want "$t" "$3" && want "$r" "$4" ||
		fnl_fail "$tag: expected user=$2 kernel_tx=$3 kernel_rx=$4 in /metrics"
}

topics=()
for t in kt_auto kt13 kt_off kt_cc kt_cbc kt12; do topics+=(-topic "$t:3"); done

if ! ktls_probe; then
	echo "== this kernel has no kernel TLS: fallback"
	rm -f "$FNL_TMP/boot"
	"$KFAKE" -brokers 2 "${topics[@]}" -bootfile "$FNL_TMP/boot" -tls-cert "$C/server.pem" \
		-tls-key "$C/server.key" >"$FNL_TMP/kfake.log" 2>&1 &
	fnl_track $!
	fnl_wait_for 20 test -s "$FNL_TMP/boot" || fnl_fail "kfake-broker did not start"
	boot=$(cat "$FNL_TMP/boot")
	# auto (the default): user-space TLS, said per connection and counted
	fd_start auto "$boot"
	produce auto kt_auto
	grep -q "TLS in user space (kernel TLS not available" "$FD_LOG" ||
		{ cat "$FD_LOG" >&2; fnl_fail "auto: no per-connection line saying TLS runs in user space"; }
	counters auto + 0 0
	fd_stop
	FNL_KCAT_ARGS=$KT check auto kt_auto "$boot"
	# required: start-up stops with the key and the reason
	st=0
	timeout 30 "$FNL_FUNNELD" -X "bootstrap.servers=$boot" -X "funnel.socket.path=$FNL_TMP/rq.sock" \
		-X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" -X funnel.ssl.ktls=required \
		2>"$FNL_TMP/required.err" || st=$?
	[[ $st -ne 0 && $st -ne 124 ]] || fnl_fail "required: funneld did not refuse to start (status $st)"
	grep -q "funnel.ssl.ktls=required, but this kernel offers no kernel TLS" "$FNL_TMP/required.err" ||
		{ cat "$FNL_TMP/required.err" >&2; fnl_fail "required: no message naming funnel.ssl.ktls"; }
	echo "required: $(grep -m1 -o 'funnel.ssl.ktls=required, but this kernel offers no kernel TLS[^;]*' "$FNL_TMP/required.err")"
	# required without TLS: a configuration error naming both keys
	st=0
	"$FNL_FUNNELD" -X "bootstrap.servers=$boot" -X funnel.ssl.ktls=required --dump-config \
		>/dev/null 2>"$FNL_TMP/plain.err" || st=$?
	[[ $st -ne 0 ]] && grep -q "funnel.ssl.ktls=required but security.protocol=PLAINTEXT" "$FNL_TMP/plain.err" ||
		{ cat "$FNL_TMP/plain.err" >&2; fnl_fail "required without TLS was not refused"; }
	echo "ktls (fallback): ok"
	exit 0
fi

echo "== kernel TLS on $(uname -r): the engine against an OpenSSL server (tests/unit/net/test_tls.c)"
# 40 frames up to 1 MiB as iovecs, 5 in flight, echoed: TLS 1.3 (kernel TX)
# and TLS 1.2 (kernel TX and RX); on the default and a 4-buffer receive ring
for rx in "" tiny; do
	FNL_NET_RX=$rx "$FNL_BUILD_DIR/tests/unit/net/test_net_tls" >"$FNL_TMP/net-tls$rx.out" 2>&1 ||
		{ cat "$FNL_TMP/net-tls$rx.out" >&2; fnl_fail "test_net_tls (FNL_NET_RX=$rx) failed under kernel TLS"; }
	grep -q "TLSv1.2 .*kernel TLS for sends and receives" "$FNL_TMP/net-tls$rx.out" ||
		fnl_fail "test_net_tls did not run TLS 1.2 through kernel TLS"
	sed "s/^/engine (rx=${rx:-ring}): /" "$FNL_TMP/net-tls$rx.out"
done

echo "== kernel TLS on $(uname -r): the socat rig"
command -v socat >/dev/null || fnl_fail "socat not installed"
NS=fnl-ktls-$$
SOCKS=
# shellcheck disable=SC2016 # eval'ed at exit
FNL_NETNS_ON_EXIT='[[ -n $SOCKS ]] && rm -rf "$SOCKS"'
fnl_netns_add "$NS"
rm -f "$FNL_TMP/boot"
ip netns exec "$NS" "$KFAKE" -brokers 2 "${topics[@]}" -bootfile "$FNL_TMP/boot" \
	>"$FNL_TMP/kfake.log" 2>&1 &
fnl_track $!
fnl_wait_for 30 test -s "$FNL_TMP/boot" || fnl_fail "kfake-broker did not start"
boot=$(cat "$FNL_TMP/boot")
SOCKS=$(mktemp -d /run/fnl-ktls.XXXXXX 2>/dev/null || mktemp -d)
# terminators VERSION [CIPHERS]: one per advertised port, TLS capped at
# VERSION (the previous ones stopped; the inner relays stay)
term_pids=()
inner_pids=()
# inner_up / inner_down: the relays inside the namespace, socket -> broker
inner_up() {
	local hp p
	for hp in ${boot//,/ }; do
		p=${hp##*:}
		[[ -S $SOCKS/b$p.sock ]] && continue
		fnl_ns_relay "$NS" "$SOCKS/b$p.sock" "127.0.0.1:$p"
		inner_pids+=("$FNL_LAST_PID")
	done
}
inner_down() {
	local pid kid
	for pid in "${inner_pids[@]}"; do
		for kid in $(ps -o pid= --ppid "$pid"); do kill "$kid" 2>/dev/null || true; done
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	done
	inner_pids=()
	rm -f "$SOCKS"/b*.sock
}
terminators() {
	local hp p
	inner_up
	for pid in "${term_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
	term_pids=()
	for hp in ${boot//,/ }; do
		p=${hp##*:}
		socat "OPENSSL-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,cert=$C/server.pem,key=$C/server.key,verify=0,openssl-max-proto-version=$1${2:+,ciphers=$2}" \
			"UNIX-CONNECT:$SOCKS/b$p.sock" 2>>"$FNL_TMP/socat.err" &
		fnl_track $!
		term_pids+=($!)
	done
	for hp in ${boot//,/ }; do
		fnl_wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/${hp##*:}" 2>/dev/null ||
			fnl_fail "terminator ${hp##*:}"
	done
}
inns() { ip netns exec "$NS" "$@"; }

# rig_case TAG TOPIC MAX_VERSION CIPHERS MODE LINE USER TX RX: terminators
# capped at MAX_VERSION (TLS 1.2 ones offering only CIPHERS), funneld with
# funnel.ssl.ktls=MODE, two clients; the per-connection line matches LINE and
# /metrics' counters USER TX RX ("0" or "+", see counters); records read back
rig_case() {
	local tag=$1 topic=$2 ver=$3 ciphers=$4 mode=$5 line=$6
	terminators "$ver" "$ciphers"
	fd_start "$tag" "$boot" -X funnel.idle.nap.us=1000 -X "funnel.ssl.ktls=$mode"
	produce "$tag" "$topic"
	grep -q -- "$line" "$FD_LOG" || { cat "$FD_LOG" >&2; fnl_fail "$tag: no per-connection line '$line'"; }
	counters "$tag" "$7" "$8" "$9"
	fd_stop
	check "$tag" "$topic" "$boot" inns
	echo "$tag: $(grep -m1 -o 'broker [0-9]* ([^)]*): TLSv.*' "$FD_LOG")"
}

echo "== TLS 1.3, funnel.ssl.ktls=auto: the kernel encrypts, OpenSSL decrypts"
rig_case kt13 kt13 TLS1.3 "" auto \
	"TLSv1.3 TLS_AES_256_GCM_SHA384, kernel TLS for sends, receives in user space (TLS 1.3)" 0 + 0
echo "== TLS 1.3, funnel.ssl.ktls=off: user space although the kernel has kTLS"
rig_case ktoff kt_off TLS1.3 "" off "TLS in user space (funnel.ssl.ktls=off)" + 0 0
echo "== TLS 1.2 ChaCha20-Poly1305, funnel.ssl.ktls=required: the kernel encrypts and decrypts"
rig_case ktcc kt_cc TLS1.2 ECDHE-RSA-CHACHA20-POLY1305 required \
	"TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305, kernel TLS for sends and receives" 0 + +

echo "== TLS 1.2 AES-128-CBC (no kernel TLS for it here): auto falls back, required refuses"
rig_case ktcbc kt_cbc TLS1.2 ECDHE-RSA-AES128-SHA256 auto \
	"TLSv1.2 ECDHE-RSA-AES128-SHA256, TLS in user space (kernel TLS for this cipher" + 0 0
fd_start ktcbcr "$boot" -X funnel.idle.nap.us=1000 -X funnel.ssl.ktls=required \
	-X funnel.shutdown.timeout.ms=1000
# (brokers are dialled when records come: a client that waits)
fnl_spawn "$FNL_LOAD" -q -s "$FD_SOCK" -t kt_cbc -c ktcbcr -n 10 -e "$FNL_TMP/ex-ktcbcr"
waiter=$FNL_LAST_PID
fnl_wait_for 60 grep -q "funnel.ssl.ktls=required: kernel TLS for this cipher" "$FD_LOG" ||
	{ cat "$FD_LOG" >&2; fnl_fail "ktcbcr: no line saying required refused the connection"; }
port=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FD_LOG" | head -1)
fnl_wait_for 20 sh -c "python3 '$here/obs/httpget.py' $port /health | grep -q 'funnel.ssl.ktls=required'" ||
	fnl_fail "ktcbcr: /health does not name funnel.ssl.ktls=required"
counters ktcbcr 0 0 0
kill "$waiter" 2>/dev/null || true
kill -TERM "$FD_PID"
wait "$FD_PID" || true
echo "ktcbcr: $(grep -m1 -o 'funnel.ssl.ktls=required: kernel TLS for this cipher[^"]*' "$FD_LOG")"

echo "== TLS 1.2 AES-256-GCM, funnel.ssl.ktls=required, the terminators close mid-stream"
terminators TLS1.2 ""
fd_start kt12 "$boot" -X funnel.idle.nap.us=1000 -X funnel.ssl.ktls=required \
	-X retry.backoff.ms=50
produce_start kt12 kt12 "${FNL_KTLS_RATE:-400}"
# mid-stream, the relays behind the terminators go away for 2 s: the live
# connections end (the terminator closes, with or without close_notify), and
# each new one is accepted by the terminator, which then cannot reach the
# broker and ends the TLS session with close_notify; funneld's kernel-TLS
# receive gets it as a non-data record and says so; after the relays are back
# funneld reconnects (kernel TLS again) and the idempotent producer delivers
# everything exactly once
fnl_wait_for 30 grep -q "broker connection ready" "$FD_LOG" || fnl_fail "kt12: no broker connection"
sleep 1
k0=$(fd_metric funnel_tls_kernel_rx_connections_total)
inner_down
fnl_wait_for 30 grep -q "peer closed the TLS session (close_notify)" "$FD_LOG" ||
	{ cat "$FD_LOG" >&2; fnl_fail "kt12: the terminators' close_notify was not recognised on kernel TLS"; }
inner_up
produce_wait kt12
grep -q "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384, kernel TLS for sends and receives" "$FD_LOG" ||
	{ cat "$FD_LOG" >&2; fnl_fail "kt12: no per-connection line saying the kernel encrypts and decrypts"; }
counters kt12 0 + +
t=$(fd_metric funnel_tls_kernel_rx_connections_total)
[[ $t -gt $k0 ]] || fnl_fail "kt12: no kernel-TLS reconnect counted (kernel_rx $k0 before the close, $t after)"
echo "kt12: kernel-TLS connections $k0 before the terminators closed, $t after"
fd_stop
check kt12 kt12 "$boot" inns
echo "kt12: $(grep -m1 -o 'broker connection closed: .*(close_notify))' "$FD_LOG")"
echo "ktls (kernel TLS): ok"
