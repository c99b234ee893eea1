#!/usr/bin/env bash
# KIP-360 epoch bump end to end: the broker rejects the first batch of every
# partition with UNKNOWN_PRODUCER_ID (then, on a second topic, with
# OUT_OF_ORDER_SEQUENCE_NUMBER). Nothing of the partition is stored, so the
# producer must bump its epoch client-side, resequence the partition from 0
# and deliver every record: read back exactly once, in order, and on the wire
# a new epoch per round that starts at sequence 0 without gaps.
# delivery.timeout.ms is short so that a producer stuck waiting for a bump
# fails the clients' reports within the test's time.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 180
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 1 -t bump1:3 -t bump2:3
fnl_funneld_start -X request.timeout.ms=5000 -X delivery.timeout.ms=15000
N=${FNL_BUMP_RECORDS:-3000}

round() { # topic error
	fnl_broker_cmd "push Produce $2" >/dev/null
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c "$1" -n "$N" -k 30 -P 3 -e "$FNL_TMP/ex-$1"
	wait "$FNL_LAST_PID" || fnl_fail "$1 ($2): the client did not get every delivery report"
	fnl_readback_verify "$1" 3 "$FNL_TMP/ex-$1"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$1" >"$FNL_TMP/raw-$1.txt" || fnl_fail "rawfetch $1"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$1.txt" --codec zstd --idempotent ||
		fnl_fail "$1: batches on the wire not CRC-valid or their sequences have a gap"
}

echo "== UNKNOWN_PRODUCER_ID on the first Produce"
round bump1 UNKNOWN_PRODUCER_ID
grep -q "^batch .*epoch=1 " "$FNL_TMP/raw-bump1.txt" || fnl_fail "bump1: no batch under epoch 1"
grep -q "^batch .*epoch=0 " "$FNL_TMP/raw-bump1.txt" && fnl_fail "bump1: a batch stored under epoch 0"

echo "== OUT_OF_ORDER_SEQUENCE_NUMBER on the first Produce of a second topic"
round bump2 OUT_OF_ORDER_SEQUENCE_NUMBER
grep -q "^batch .*epoch=2 " "$FNL_TMP/raw-bump2.txt" || fnl_fail "bump2: no batch under epoch 2"

fnl_funneld_stop
echo "epoch_bump: ok"
