#!/usr/bin/env bash
# Several client processes -> libfunnel -> funneld -> 3-broker harness -> kcat:
# every record exactly once, in order per client and partition, keys (murmur2
# partition per librdkafka's reference), headers and timestamps intact, zstd
# batches with valid CRCs and a producer id on the wire; SIGTERM exits 0.
# Then once more with funnel.uring.rx.direct=true (plain recv per connection,
# no provided-buffer ring): the receive path the engine falls back to.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 180
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 3 -t e2e:6 -t pinned:3 -t direct:3
fnl_funneld_start
N=${FNL_E2E_RECORDS:-20000}
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t e2e -c keyed1 -n "$N" -k 100 -P 6 -H trace=abc -e "$FNL_TMP/ex1"; p1=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t e2e -c keyed2 -n "$N" -k 7 -P 6 -e "$FNL_TMP/ex2"; p2=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t e2e -c nokey -n "$N" -S 300 -e "$FNL_TMP/ex3"; p3=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t pinned -c pin -n "$N" -p 2 -H h=v -e "$FNL_TMP/ex4"; p4=$FNL_LAST_PID
for p in $p1 $p2 $p3 $p4; do wait "$p" || fnl_fail "a client did not get every delivery report"; done

fnl_readback_verify e2e 6 "$FNL_TMP/ex1" "$FNL_TMP/ex2" "$FNL_TMP/ex3"
fnl_pyreadback_verify e2e 6 "$FNL_TMP/ex1" "$FNL_TMP/ex2" "$FNL_TMP/ex3"
fnl_readback_verify pinned 3 "$FNL_TMP/ex4"
for t in e2e pinned; do
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$t" >"$FNL_TMP/raw-$t.txt" || fnl_fail "rawfetch $t"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$t.txt" --codec zstd --idempotent ||
		fnl_fail "batches of $t on the wire are not all zstd, CRC-valid and idempotent"
done
fnl_funneld_stop

fnl_funneld_start -X funnel.uring.rx.direct=true
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t direct -c direct -n 5000 -k 50 -P 3 -e "$FNL_TMP/ex5"
wait "$FNL_LAST_PID" || fnl_fail "rx.direct: a client did not get every delivery report"
fnl_readback_verify direct 3 "$FNL_TMP/ex5"
fnl_funneld_stop
echo "e2e_basic: ok"
