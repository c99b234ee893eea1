#!/usr/bin/env bash
# Per-key order across client processes across funneld restarts, on the broker
# FNL_BROKER names (mock, kfake): fnl-order's processes hand key tokens around
# a circle of pipes (as in order.sh) while funneld is SIGKILLed and restarted.
# Records a dead daemon had not taken stay in their rings (clients also go on
# writing into them while no daemon runs); the new daemon takes no record until
# every ring of the previous one is back (docs/architecture.md, "Order across
# rings", restarts), so each key's records are still read back in order. The
# mock may store a resent batch twice (restart.sh); kfake drops such resends.
# Then a client that exits while no daemon runs: the next daemon waits for it
# once (funnel.restart.wait.ms), warns, and the daemon after it does not wait.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"
: "${FNL_ORDER:=$FNL_BUILD_DIR/tests/integration/fnl-order}"

fnl_broker_start -b 3 -t ordr:6 -t ordx:1
OPTS=(-X max.block.ms=30000 -X funnel.metrics.listen= -X funnel.restart.wait.ms=10000)
fnl_funneld_start "${OPTS[@]}"

"$FNL_ORDER" -s "$FNL_SOCKET" -t ordr -e "$FNL_TMP/expect-ordr" -p 8 -k 16 -n 3000 -u 1000 \
	>"$FNL_TMP/order.out" &
opid=$!
fnl_track "$opid"

ready_count() { grep -c "funneld ready" "$FNL_TMP/funneld.err" || true; }
restarted() { [[ $(ready_count) -gt $before ]]; }
kills=0
# the run lasts at least 2 x 3000 x 1 ms (each process serves 6,000 token hops,
# sleeping 1 ms after each): three restarts fit in its first half, so no
# client exits while no daemon runs (its unsent records would go with it)
for i in 1 2 3; do
	sleep 0.$((RANDOM % 3 + 2))
	kill -0 "$opid" 2>/dev/null || fnl_fail "fnl-order ended before restart $i"
	kill -KILL "$FNL_FUNNELD_PID"
	wait "$FNL_FUNNELD_PID" 2>/dev/null || true
	kills=$((kills + 1))
	sleep 0.$((RANDOM % 3 + 1)) # the clients go on writing into their rings meanwhile
	before=$(ready_count)
	"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "${OPTS[@]}" 2>>"$FNL_TMP/funneld.err" &
	FNL_FUNNELD_PID=$!
	fnl_track "$FNL_FUNNELD_PID"
	fnl_wait_for 20 restarted || fnl_fail "funneld did not restart ($i)"
done
kill -0 "$opid" 2>/dev/null || fnl_fail "fnl-order ended during the restarts"
wait "$opid" || { cat "$FNL_TMP/order.out"; fnl_fail "fnl-order failed"; }
tail -1 "$FNL_TMP/order.out"
echo "funneld killed and restarted $kills times while the tokens went round"
fnl_funneld_stop
grep "did not re-attach within funnel.restart.wait.ms" "$FNL_TMP/funneld.err" &&
	fnl_fail "a ring of a live client was given up on"

"$FNL_READBACK" "$FNL_BOOTSTRAP" ordr 6 >"$FNL_TMP/rb-ordr.tsv" || fnl_fail "read-back failed"
python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-ordr.tsv" --expect "$FNL_TMP/expect-ordr" \
	>"$FNL_TMP/check.txt" || true
tail -1 "$FNL_TMP/check.txt"
grep -q " 0 missing" "$FNL_TMP/check.txt" || fnl_fail "records were lost across the restarts"
grep -q " 0 out of order" "$FNL_TMP/check.txt" || fnl_fail "a key's records out of order across a restart"
if ! fnl_broker_is_mock; then
	grep -q " 0 duplicates" "$FNL_TMP/check.txt" || fnl_fail "duplicates on kfake"
fi

# A client that exits while no daemon runs never comes back: the next daemon
# waits funnel.restart.wait.ms for it once, warns, and clears its journal
# entry, so the daemon after that does not wait for it again.
OPTS=(-X max.block.ms=30000 -X funnel.metrics.listen= -X funnel.restart.wait.ms=1000)
fnl_funneld_start "${OPTS[@]}"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t ordx -c gone -n 100000 -r 200 2>/dev/null &
gone=$!
fnl_track "$gone"
sleep 0.5
kill -STOP "$gone"
warned() { grep -c "did not re-attach within funnel.restart.wait.ms" "$FNL_TMP/funneld.err" || true; }
restart_once() {
	kill -KILL "$FNL_FUNNELD_PID"
	wait "$FNL_FUNNELD_PID" 2>/dev/null || true
	[[ -z ${1:-} ]] || { kill -KILL "$1"; wait "$1" 2>/dev/null || true; }
	before=$(ready_count)
	"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "${OPTS[@]}" 2>>"$FNL_TMP/funneld.err" &
	FNL_FUNNELD_PID=$!
	fnl_track "$FNL_FUNNELD_PID"
	fnl_wait_for 20 restarted || fnl_fail "funneld did not restart"
}
w0=$(warned)
restart_once "$gone"
# the wait runs from the first client that attaches (before it no ring is read)
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t ordx -c first -n 50 -e "$FNL_TMP/expect-first" ||
	fnl_fail "records after the first restart were not delivered"
has_warned() { [[ $(warned) -gt $w0 ]]; }
fnl_wait_for 20 has_warned || fnl_fail "no warning for a client that exited while no daemon ran"
grep "did not re-attach" "$FNL_TMP/funneld.err" | tail -1
# the warning names the ring of the gone client as its attach line did (by ring_ino)
inos=$(grep "did not re-attach" "$FNL_TMP/funneld.err" | tail -1 | sed -n "s/.*'client attached' lines:\([0-9 ]*\)).*/\1/p")
gone_ino=$(sed -n "s/.*client attached .*pid=$gone .*ring_ino=\([0-9]*\).*/\1/p" "$FNL_TMP/funneld.err" | tail -1)
[[ -n $gone_ino && " $inos " == *" $gone_ino "* ]] ||
	fnl_fail "the restart warning (rings:$inos) does not name pid $gone's ring (ring_ino=${gone_ino:-none})"
w1=$(warned)
restart_once
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t ordx -c after -n 50 -e "$FNL_TMP/expect-after" ||
	fnl_fail "records after the second restart were not delivered"
sleep 1.5 # past the wait, had there been one
[[ $(warned) -eq $w1 ]] || fnl_fail "the next daemon waited again for the client given up on"
fnl_funneld_stop
fnl_broker_stop
echo "order-restart: ok"
