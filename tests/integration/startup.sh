#!/usr/bin/env bash
# Start-up while the cluster is out of reach: funneld's control socket opens before
# bootstrap, so `funnelctl status` and /health say why it waits (naming the broker);
# a client that attaches meanwhile is refused with "starting" and retries; once a
# broker (kfake-broker, on the port funneld was told) comes up, funneld gets ready and
# the waiting client's records are delivered exactly once. A funneld that never
# reaches the cluster exits after max.block.ms and removes its socket.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 180
source "$(dirname "$0")/funnel_lib.sh"
FNL_BROKER=kfake
CTL=$FNL_BUILD_DIR/ctrl/funnelctl

port=$(fnl_free_port)
FNL_BOOTSTRAP=127.0.0.1:$port
FNL_SOCKET=$FNL_TMP/run/funnel.sock
"$FNL_FUNNELD" -X "bootstrap.servers=$FNL_BOOTSTRAP" -X "funnel.socket.path=$FNL_SOCKET" \
	-X linger.ms=5 -X max.block.ms=120000 -X funnel.metrics.listen=127.0.0.1:0 \
	2>"$FNL_TMP/funneld.err" &
FNL_FUNNELD_PID=$!
fnl_track "$FNL_FUNNELD_PID"

# 1. Before the cluster is reachable: the socket is there and says why.
fnl_wait_for 20 test -S "$FNL_SOCKET" || { cat "$FNL_TMP/funneld.err" >&2; fnl_fail "no control socket during bootstrap"; }
fnl_wait_for 20 sh -c "'$CTL' -s '$FNL_SOCKET' status 2>&1 | grep -q 'NOT READY (starting: .*127.0.0.1:$port'" || {
	"$CTL" -s "$FNL_SOCKET" status >&2 || true
	fnl_fail "funnelctl status does not say that start-up waits for 127.0.0.1:$port"
}
"$CTL" -s "$FNL_SOCKET" status | head -1
mport=$(sed -n 's/.*metrics listening listen=[^ ]* port=\([0-9]*\).*/\1/p' "$FNL_TMP/funneld.err" | head -1)
[[ -n $mport ]] || fnl_fail "no metrics port in the log"
code=$(curl -s -o "$FNL_TMP/health" -w '%{http_code}' "http://127.0.0.1:$mport/health")
[[ $code == 503 ]] && grep -q "starting: .*127.0.0.1:$port" "$FNL_TMP/health" ||
	fnl_fail "/health during bootstrap: $code $(cat "$FNL_TMP/health")"
fnl_funneld_ready "$FNL_SOCKET" && fnl_fail "fnl_funneld_ready says ready during bootstrap"
# 40 idle connections (more than the 32 the start-up poll set once held):
# funnelctl, connecting after them, is still answered.
/usr/bin/python3 -c '
import socket, sys, time
s = [socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(40)]
for c in s: c.connect(sys.argv[1])
open(sys.argv[2], "w").write("connected")
time.sleep(8)' "$FNL_SOCKET" "$FNL_TMP/idle.ok" &
idle=$!
fnl_track "$idle"
fnl_wait_for 5 test -s "$FNL_TMP/idle.ok" || fnl_fail "40 idle connections to the control socket failed"
sleep 0.5
timeout 5 "$CTL" -s "$FNL_SOCKET" status 2>&1 | grep -q "NOT READY (starting" ||
	fnl_fail "funnelctl not answered during bootstrap with 40 other connections open"
kill "$idle" 2>/dev/null || true
wait "$idle" 2>/dev/null || true

# 2. A client attaching now waits (refused with "starting", retried by libfunnel).
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t up -c w -n 3000 -k 10 -P 3 -e "$FNL_TMP/ex-up"
client=$FNL_LAST_PID
sleep 1
kill -0 "$client" 2>/dev/null || fnl_fail "the client gave up while funneld was starting"
grep -q "client attached" "$FNL_TMP/funneld.err" && fnl_fail "a client attached before funneld was ready"

# 3. The broker comes up on that port: funneld gets ready, the client delivers.
"$FNL_KFAKE" -brokers 1 -ports "$port" -topic up:3 -bootfile "$FNL_TMP/kfake.boot" \
	</dev/null >"$FNL_TMP/broker.out" 2>"$FNL_TMP/broker.err" &
FNL_BROKER_PID=$!
fnl_track "$FNL_BROKER_PID"
fnl_wait_for 30 fnl_funneld_ready "$FNL_SOCKET" || { tail "$FNL_TMP/funneld.err" >&2; fnl_fail "funneld not ready after the broker came up"; }
wait "$client" || { tail "$FNL_TMP/funneld.err" >&2; fnl_fail "the waiting client did not get every delivery report"; }
"$CTL" -s "$FNL_SOCKET" status | head -1
fnl_funneld_stop
fnl_readback_verify up 3 "$FNL_TMP/ex-up"
kill "$FNL_BROKER_PID"
wait "$FNL_BROKER_PID" || true

# 4. A cluster that never comes: exit != 0 after max.block.ms, socket removed.
st=0
"$FNL_FUNNELD" -X "bootstrap.servers=127.0.0.1:$(fnl_free_port)" -X "funnel.socket.path=$FNL_SOCKET" \
	-X max.block.ms=2000 2>"$FNL_TMP/never.err" || st=$?
[[ $st -ne 0 ]] || fnl_fail "funneld started without a cluster"
grep -q "cannot reach the cluster within max.block.ms=2000" "$FNL_TMP/never.err" || { cat "$FNL_TMP/never.err" >&2; fnl_fail "no clear message"; }
[[ ! -e $FNL_SOCKET ]] || fnl_fail "the socket of a funneld that never started is left behind"
echo "startup: ok"
