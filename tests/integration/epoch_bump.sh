#!/usr/bin/env bash
# KIP-360 epoch bump end to end: a partition's first unresolved batch is
# rejected with a sequence error, nothing of it is stored, so the producer
# must bump its epoch client-side, resequence the partition from 0 and
# deliver every record: read back exactly once, in order, and on the wire the
# new epoch starts at sequence 0 without gaps.
#   mock: UNKNOWN_PRODUCER_ID pushed on the first Produce of a topic (then
#     OUT_OF_ORDER_SEQUENCE_NUMBER on a second topic);
#   kfake (checks idempotent sequences like Kafka, message.max.bytes=20000):
#     a batch over the limit fails MESSAGE_TOO_LARGE, so the next batch of
#     the partition leaves a gap and gets OUT_OF_ORDER_SEQUENCE_NUMBER.
# delivery.timeout.ms is short so that a producer stuck waiting for a bump
# fails the clients' reports within the test's time.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 180
source "$(dirname "$0")/funnel_lib.sh"

N=${FNL_BUMP_RECORDS:-3000}
if ! fnl_broker_is_mock; then
	fnl_broker_start -b 1 -t bumpk:1 -- -broker-config message.max.bytes=20000
	fnl_funneld_start -X request.timeout.ms=5000 -X delivery.timeout.ms=30000 \
		-X compression.type=none -X batch.size=8192
	echo "== MESSAGE_TOO_LARGE, then OUT_OF_ORDER_SEQUENCE_NUMBER from kfake"
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t bumpk -c before -n 10 -p 0 -e "$FNL_TMP/ex-before"
	wait "$FNL_LAST_PID" || fnl_fail "before: the client did not get every delivery report"
	st=0
	"$FNL_LOAD" -s "$FNL_SOCKET" -t bumpk -c big -n 1 -p 0 -S 30000 2>"$FNL_TMP/big.err" || st=$?
	cat "$FNL_TMP/big.err"
	grep -q "failed=1 .*first_error=MESSAGE_TOO_LARGE" "$FNL_TMP/big.err" ||
		fnl_fail "a batch over message.max.bytes was not refused MESSAGE_TOO_LARGE"
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t bumpk -c after -n "$N" -k 30 -P 1 -e "$FNL_TMP/ex-after"
	wait "$FNL_LAST_PID" || fnl_fail "after: the client did not get every delivery report"
	fnl_readback_verify bumpk 1 "$FNL_TMP/ex-before" "$FNL_TMP/ex-after"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t bumpk >"$FNL_TMP/raw-bumpk.txt" || fnl_fail "rawfetch bumpk"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-bumpk.txt" --codec none --idempotent ||
		fnl_fail "bumpk: batches on the wire not CRC-valid or their sequences have a gap"
	grep -q "^batch .*epoch=1 base_seq=0 " "$FNL_TMP/raw-bumpk.txt" ||
		fnl_fail "bumpk: no batch under epoch 1 from sequence 0"
	fnl_funneld_stop
	echo "epoch_bump: ok"
	exit 0
fi

fnl_broker_start -b 1 -t bump1:3 -t bump2:3
# One request in flight: the mock checks no sequences without a transactional id, so a
# partition's next batch, in flight when the first is refused, would be stored past the
# gap (a real broker refuses it OUT_OF_ORDER_SEQUENCE_NUMBER, as kfake does above), and the
# rewritten first batch would land after it.
fnl_funneld_start -X request.timeout.ms=5000 -X delivery.timeout.ms=30000 \
	-X max.in.flight.requests.per.connection=1

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

echo "== OUT_OF_ORDER_SEQUENCE_NUMBER on the first Produce of a second topic"
round bump2 OUT_OF_ORDER_SEQUENCE_NUMBER
grep -q "^batch .*epoch=2 " "$FNL_TMP/raw-bump2.txt" || fnl_fail "bump2: no batch under epoch 2"
"$FNL_BUILD_DIR/ctrl/funnelctl" -s "$FNL_SOCKET" status >"$FNL_TMP/status.txt" || fnl_fail "funnelctl status"
grep -q "^producer id [0-9]* epoch 2 " "$FNL_TMP/status.txt" || {
	cat "$FNL_TMP/status.txt" >&2
	fnl_fail "funnelctl status does not show epoch 2 after two bumps"
}

fnl_funneld_stop
echo "epoch_bump: ok"
