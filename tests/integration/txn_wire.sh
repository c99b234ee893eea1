#!/usr/bin/env bash
# The transaction codec and state machine against real brokers, with fnl-txn-driver (plain
# sockets, no funneld; see txn_driver.c). FNL_BROKER picks the broker:
#
# kfake (transactions with control records):
#   1. plan C A W C with consumer offsets: while each transaction is open, a read_committed
#      kcat sees only the earlier committed transactions and the group's committed offsets are
#      the earlier committed ones; afterwards read_committed sees exactly transactions 0 and 3
#      (in order, per partition), read_uncommitted all four; the group's offsets are those of
#      transaction 3 (the aborted transaction's offsets never became visible). Transaction 2
#      (W) passes its local deadline and is aborted by the state machine; the commit then
#      answers ABORTABLE and the client's abort completes at once.
#   2. fencing, at the KIP-890 versions (EndTxn v5, Produce v12): while a transaction of one
#      producer is open, a second producer initializes the same transactional id
#      (InitProducerId aborts the open transaction) and commits two; the
#      first producer's EndTxn is refused as fenced and its state machine ends in FATAL_ERROR;
#      read_committed holds only the second producer's records.
#   2a. KIP-360: a batch with a sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER, the
#      transaction is abortable with an epoch bump: EndTxn(abort), InitProducerId with the
#      current producer id and epoch (epoch 0 -> 1), and the next transaction commits from
#      sequence 0; read_committed holds transactions 0 and 2.
#   2c. transaction.timeout.ms above the broker's transaction.max.timeout.ms: InitProducerId
#      answers INVALID_TRANSACTION_TIMEOUT, fatal, with a message naming both settings.
#   2d. the versions of Kafka 2.5 (kfake -as-version 2.5: FindCoordinator v3, InitProducerId
#      v3, AddPartitionsToTxn/AddOffsetsToTxn/EndTxn v1, TxnOffsetCommit v3, Produce v8):
#      abort, commit, abort with offsets; visibility and offsets as in 1.
# mock (librdkafka's mock: no markers, so protocol order and injected errors only):
#   3. the exact request order of a committed and an aborted transaction with offsets, at
#      the versions the mock speaks (FindCoordinator v2, AddPartitionsToTxn v1, EndTxn v1);
#   4. CONCURRENT_TRANSACTIONS on AddPartitionsToTxn retried, NOT_COORDINATOR on EndTxn ->
#      FindCoordinator again, COORDINATOR_LOAD_IN_PROGRESS on InitProducerId retried;
#   5. PRODUCER_FENCED -> FATAL_ERROR; TOPIC_AUTHORIZATION_FAILED -> ABORTABLE_ERROR;
#   6. as 2a below.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 180
DRV=$FNL_BUILD_DIR/tests/integration/fnl-txn-driver
[[ -x $DRV ]] || fnl_fail "fnl-txn-driver not built"
R=4     # records per partition per transaction
P=3     # partitions

# consume TOPIC ISOLATION: "partition value" lines, sorted by partition then offset
consume() {
	timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t "$1" -o beginning -e -q \
		-X isolation.level="$2" -X check.crcs=true -X fetch.wait.max.ms=50 \
		-f '%p %o %s\n' | sort -n -k1,1 -k2,2 | awk '{print $1, $3}'
}

# expected TXN_ID "k:kind ..." -> the records those transactions wrote, as consume prints them
expected() {
	local id=$1 p i t
	shift
	for ((p = 0; p < P; p++)); do
		for t in "$@"; do
			for ((i = 0; i < R; i++)); do
				echo "$p $id:${t%%:*}-${t##*:}-$p-$i"
			done
		done
	done
}

# committed GROUP TOPIC: the group's committed offsets of partitions 0..P-1 (python3-kafka)
committed() {
	timeout 30 /usr/bin/python3 - "$FNL_BOOTSTRAP" "$1" "$2" "$P" <<'PY'
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1].split(","), group_id=sys.argv[2],
                  enable_auto_commit=False, api_version=(2, 5, 0))
print(" ".join(str(c.committed(TopicPartition(sys.argv[3], p))) for p in range(int(sys.argv[4]))))
c.close()
PY
}

# bump_order FILE INIT_PID_LINE END_TXN_ABORT_LINE: the gap was refused, the transaction
# aborted, the epoch bumped with InitProducerId, and the next transaction began at seq 0
bump_order() {
	grep -E -A7 '^-> Produce v[0-9]+ partition 0 seq 1[0-9]{3}$' "$1" |
		grep -E '^(->|<-)' | sed -n 1,6p >"$FNL_TMP/bump.got"
	printf '%s\n' '-> Produce v_ partition 0 seq gap' \
		'<- Produce err OUT_OF_ORDER_SEQUENCE_NUMBER' "$3" '<- EndTxn err NONE' "$2" \
		'<- InitProducerId err NONE' >"$FNL_TMP/bump.want"
	sed -i -E 's/^-> Produce v[0-9]+ (partition 0 seq) [0-9]+$/-> Produce v_ \1 gap/' "$FNL_TMP/bump.got"
	same "$FNL_TMP/bump.got" "$FNL_TMP/bump.want" "the KIP-360 sequence"
	grep -q '^   epoch bumped 0 -> 1$' "$1" || fnl_fail "the epoch was not bumped"
}

same() { # same FILE_GOT FILE_WANT WHAT
	if ! diff -u "$2" "$1" >"$FNL_TMP/diff"; then
		head -40 "$FNL_TMP/diff" >&2
		fnl_fail "$3 differs from what was expected"
	fi
}

if ! fnl_broker_is_mock; then
	# transaction.max.timeout.ms 30 s (Kafka's default is 15 min): -T 20000 below, 60000 in 2c
	fnl_broker_start -b 3 -t txn:$P -t fence:$P -t bump:$P -- \
		-broker-config transaction.max.timeout.ms=30000

	echo "== 1. commit, abort, deadline abort, commit; offsets with each"
	# while each transaction is open: what read_committed sees, and the group's offsets
	# (system(3) runs /bin/sh, which drops exported functions: the script carries them)
	{
		echo "P=$P"
		declare -f consume committed
		cat <<'SH'
consume txn read_committed >"$FNL_TMP/open.$FNL_TXN_INDEX" &&
	committed grp txn >"$FNL_TMP/offs.$FNL_TXN_INDEX"
SH
	} >"$FNL_TMP/open.sh"
	open_cmd="bash $FNL_TMP/open.sh"
	"$DRV" -b "$FNL_BOOTSTRAP" -t txn -n $P -x tA -p CAWC -r $R -g grp -T 20000 -D 3000 \
		-w 3500 -s "$open_cmd" >"$FNL_TMP/drv1.out" 2>&1 || {
		cat "$FNL_TMP/drv1.out"
		fnl_fail "the driver failed on kfake"
	}
	# ApiVersions v3's finalized features: kfake (Kafka 4.x) finalizes transaction.version 2
	grep -q '^   finalized transaction.version 2 (min 0)$' "$FNL_TMP/drv1.out" ||
		fnl_fail "kfake's finalized transaction.version 2 was not read"
	grep -q 'deadline abort: commit answered ABORTABLE, abort OK' "$FNL_TMP/drv1.out" ||
		fnl_fail "the deadline abort did not run"
	: >"$FNL_TMP/empty"
	same "$FNL_TMP/open.0" "$FNL_TMP/empty" "read_committed during open transaction 0"
	expected tA 0:C >"$FNL_TMP/want.c0"
	same "$FNL_TMP/open.1" "$FNL_TMP/want.c0" "read_committed during open transaction 1"
	same "$FNL_TMP/open.3" "$FNL_TMP/want.c0" "read_committed during open transaction 3"
	[[ $(cat "$FNL_TMP/offs.0") == "None None None" ]] ||
		fnl_fail "offsets visible before any commit: $(cat "$FNL_TMP/offs.0")"
	[[ $(cat "$FNL_TMP/offs.1") == "10 11 12" ]] ||
		fnl_fail "offsets during transaction 1: $(cat "$FNL_TMP/offs.1"), want those of 0"
	[[ $(cat "$FNL_TMP/offs.3") == "10 11 12" ]] ||
		fnl_fail "offsets during transaction 3: $(cat "$FNL_TMP/offs.3") (the abort leaked?)"
	consume txn read_committed >"$FNL_TMP/rc"
	expected tA 0:C 3:C >"$FNL_TMP/want.rc"
	same "$FNL_TMP/rc" "$FNL_TMP/want.rc" "read_committed"
	consume txn read_uncommitted >"$FNL_TMP/ru"
	expected tA 0:C 1:A 2:W 3:C >"$FNL_TMP/want.ru"
	same "$FNL_TMP/ru" "$FNL_TMP/want.ru" "read_uncommitted"
	[[ $(committed grp txn) == "40 41 42" ]] ||
		fnl_fail "final offsets $(committed grp txn), want transaction 3's (40 41 42)"
	echo "read_committed $(wc -l <"$FNL_TMP/rc") records, read_uncommitted $(wc -l <"$FNL_TMP/ru")"

	echo "== 2. a second producer with the same transactional id fences the first"
	# (at the KIP-890 versions: EndTxn v5 answers the next epoch, Produce v12)
	v2="-V endtxn=5 -V produce=12 -V txnoffsetcommit=5"
	second="$DRV -b $FNL_BOOTSTRAP -t fence -n $P -x tF -p CC -r $R -T 20000 $v2 >$FNL_TMP/drv2b.out 2>&1"
	st=0
	# shellcheck disable=SC2086 # $v2 is several words
	"$DRV" -b "$FNL_BOOTSTRAP" -t fence -n $P -x tF -p C -r $R -T 20000 $v2 -s "$second" \
		>"$FNL_TMP/drv2a.out" 2>&1 || st=$?
	cat "$FNL_TMP/drv2a.out"
	[[ $st -eq 1 ]] || fnl_fail "the fenced producer's driver exited $st, want 1"
	grep -q 'state FATAL_ERROR' "$FNL_TMP/drv2a.out" || fnl_fail "the first producer is not fatal"
	grep -Eq '^<- EndTxn err (PRODUCER_FENCED|INVALID_PRODUCER_EPOCH)$' "$FNL_TMP/drv2a.out" ||
		fnl_fail "the first producer's EndTxn was not refused as fenced"
	grep -q '^== done: 2 transaction' "$FNL_TMP/drv2b.out" || {
		cat "$FNL_TMP/drv2b.out"
		fnl_fail "the second producer did not commit"
	}
	consume fence read_committed >"$FNL_TMP/rc2"
	expected tF 0:C 1:C >"$FNL_TMP/want.rc2"
	# both producers wrote "tF:0-C-..." values: read_committed must hold them once, not twice
	same "$FNL_TMP/rc2" "$FNL_TMP/want.rc2" "read_committed after fencing"
	consume fence read_uncommitted >"$FNL_TMP/ru2"
	[[ $(wc -l <"$FNL_TMP/ru2") -eq $((3 * P * R)) ]] ||
		fnl_fail "read_uncommitted holds $(wc -l <"$FNL_TMP/ru2") records, want both producers' $((3 * P * R))"
	# EndTxn v5: each transaction ends with the next epoch; the second transaction's
	# sequences start again at 0 under it
	epochs=$(awk '/^   (next )?producer id/ {printf "%s ", $NF}' "$FNL_TMP/drv2b.out")
	read -r e0 e1 e2 <<<"$epochs"
	[[ -n $e2 && $e1 -eq $((e0 + 1)) && $e2 -eq $((e0 + 2)) ]] ||
		fnl_fail "EndTxn v5 did not hand out the next epochs (InitProducerId, EndTxn, EndTxn: $epochs)"
	echo "epochs of the second producer: $epochs"
	[[ $(grep -c '^-> Produce v12 partition 0 seq 0$' "$FNL_TMP/drv2b.out") -eq 2 ]] ||
		fnl_fail "the second transaction did not restart its sequence under the new epoch"
	echo "fenced producer: FATAL_ERROR; read_committed $(wc -l <"$FNL_TMP/rc2") records"

	echo "== 2a. KIP-360: a sequence gap, abort, epoch bump, commit again"
	"$DRV" -b "$FNL_BOOTSTRAP" -t bump -n $P -x tB -p CGC -r $R -T 20000 >"$FNL_TMP/drvb.out" 2>&1 || {
		cat "$FNL_TMP/drvb.out"
		fnl_fail "the driver failed through the epoch bump on kfake"
	}
	bump_order "$FNL_TMP/drvb.out" "-> InitProducerId v5" "-> EndTxn v4 abort"
	consume bump read_committed >"$FNL_TMP/rcb"
	expected tB 0:C 2:C >"$FNL_TMP/want.rcb"
	same "$FNL_TMP/rcb" "$FNL_TMP/want.rcb" "read_committed after the epoch bump"

	echo "== 2c. transaction.timeout.ms above the broker's transaction.max.timeout.ms"
	st=0
	"$DRV" -b "$FNL_BOOTSTRAP" -t bump -n $P -x tT -p C -T 60000 >"$FNL_TMP/drvt.out" 2>&1 || st=$?
	cat "$FNL_TMP/drvt.out"
	[[ $st -eq 1 ]] || fnl_fail "a transaction.timeout.ms above the broker's was accepted"
	grep -qF 'transactional.id tT: transaction.timeout.ms=60000 is above the broker'"'"'s transaction.max.timeout.ms (InitProducerId: INVALID_TRANSACTION_TIMEOUT)' \
		"$FNL_TMP/drvt.out" || fnl_fail "the timeout error does not name the settings"
	fnl_broker_stop

	echo "== 2d. Kafka 2.5's versions (kfake -as-version 2.5): commit, abort, with offsets"
	fnl_broker_start -b 3 -t txn:$P -- -as-version 2.5
	"$DRV" -b "$FNL_BOOTSTRAP" -t txn -n $P -x t25 -p ACA -r $R -g grp >"$FNL_TMP/drv25.out" 2>&1 || {
		cat "$FNL_TMP/drv25.out"
		fnl_fail "the driver failed on kfake -as-version 2.5"
	}
	grep -E '^-> ' "$FNL_TMP/drv25.out" | grep -v ' Produce ' | sort -u | tr '\n' ' '
	echo
	grep -q '^-> EndTxn v1 commit$' "$FNL_TMP/drv25.out" || fnl_fail "want EndTxn v1 at Kafka 2.5"
	grep -q '^   finalized transaction.version none$' "$FNL_TMP/drv25.out" ||
		fnl_fail "Kafka 2.5 finalizes no transaction.version"
	grep -q '^-> TxnOffsetCommit v3$' "$FNL_TMP/drv25.out" || fnl_fail "want TxnOffsetCommit v3"
	grep -q '^-> Produce v8 ' "$FNL_TMP/drv25.out" || fnl_fail "want Produce v8 at Kafka 2.5"
	consume txn read_committed >"$FNL_TMP/rc25"
	expected t25 1:C >"$FNL_TMP/want.rc25"
	same "$FNL_TMP/rc25" "$FNL_TMP/want.rc25" "read_committed (2.5)"
	consume txn read_uncommitted >"$FNL_TMP/ru25"
	expected t25 0:A 1:C 2:A >"$FNL_TMP/want.ru25"
	same "$FNL_TMP/ru25" "$FNL_TMP/want.ru25" "read_uncommitted (2.5)"
	[[ $(committed grp txn) == "20 21 22" ]] ||
		fnl_fail "offsets $(committed grp txn) at 2.5, want transaction 1's (20 21 22)"
	fnl_broker_stop
	echo "PASS txn_wire (kfake)"
	exit 0
fi

fnl_broker_start -b 3 -t txn:$P

# order FILE: the driver's requests and answers, without the produce lines
order() {
	grep -E '^(->|<-)' "$1" | grep -v -E ' Produce( |$)'
}

echo "== 3. protocol order of a committed and an aborted transaction with offsets"
"$DRV" -b "$FNL_BOOTSTRAP" -t txn -n $P -x m1 -p CA -r 2 -g grp >"$FNL_TMP/m1.out" 2>&1 || {
	cat "$FNL_TMP/m1.out"
	fnl_fail "the driver failed on the mock"
}
order "$FNL_TMP/m1.out" | grep '^->' >"$FNL_TMP/m1.order"
one_txn() { # kind
	printf '%s\n' '-> AddPartitionsToTxn v1' '-> AddOffsetsToTxn v1' \
		'-> FindCoordinator v2 group' '-> TxnOffsetCommit v2' "-> EndTxn v1 $1"
}
{
	printf '%s\n' '-> FindCoordinator v2 txn' '-> InitProducerId v4'
	one_txn commit
	one_txn abort
} >"$FNL_TMP/m1.want"
same "$FNL_TMP/m1.order" "$FNL_TMP/m1.want" "the request order"
[[ $(grep -c '^-> Produce v7 ' "$FNL_TMP/m1.out") -eq $((2 * P)) ]] ||
	fnl_fail "want $((2 * P)) transactional Produce v7 requests"
grep -q '^   finalized transaction.version unknown (ApiVersions v0)$' "$FNL_TMP/m1.out" ||
	fnl_fail "the mock (ApiVersions <= 2) should have been asked at v0"
grep -q '^-> Produce v7 partition 0 seq 2$' "$FNL_TMP/m1.out" ||
	fnl_fail "the second transaction did not continue the sequence"

echo "== 4. retried errors"
fnl_broker_cmd "push InitProducerId COORDINATOR_LOAD_IN_PROGRESS" >/dev/null
fnl_broker_cmd "push AddPartitionsToTxn CONCURRENT_TRANSACTIONS CONCURRENT_TRANSACTIONS" >/dev/null
fnl_broker_cmd "push EndTxn NOT_COORDINATOR" >/dev/null
"$DRV" -b "$FNL_BOOTSTRAP" -t txn -n $P -x m2 -p C -r 1 >"$FNL_TMP/m2.out" 2>&1 || {
	cat "$FNL_TMP/m2.out"
	fnl_fail "the driver did not get through the retriable errors"
}
order "$FNL_TMP/m2.out" >"$FNL_TMP/m2.order"
printf '%s\n' '-> FindCoordinator v2 txn' '<- FindCoordinator err NONE' \
	'-> InitProducerId v4' '<- InitProducerId err COORDINATOR_LOAD_IN_PROGRESS' \
	'-> InitProducerId v4' '<- InitProducerId err NONE' \
	'-> AddPartitionsToTxn v1' '<- AddPartitionsToTxn err CONCURRENT_TRANSACTIONS' \
	'-> AddPartitionsToTxn v1' '<- AddPartitionsToTxn err CONCURRENT_TRANSACTIONS' \
	'-> AddPartitionsToTxn v1' '<- AddPartitionsToTxn err NONE' \
	'-> EndTxn v1 commit' '<- EndTxn err NOT_COORDINATOR' \
	'-> FindCoordinator v2 txn' '<- FindCoordinator err NONE' \
	'-> EndTxn v1 commit' '<- EndTxn err NONE' >"$FNL_TMP/m2.want"
same "$FNL_TMP/m2.order" "$FNL_TMP/m2.want" "the retry order"

echo "== 5. fatal and abortable errors"
fnl_broker_cmd "push AddPartitionsToTxn PRODUCER_FENCED" >/dev/null
st=0
"$DRV" -b "$FNL_BOOTSTRAP" -t txn -n $P -x m3 -p C -r 1 >"$FNL_TMP/m3.out" 2>&1 || st=$?
if [[ $st -ne 1 ]] || ! grep -q 'state FATAL_ERROR.*PRODUCER_FENCED in AddPartitionsToTxn' "$FNL_TMP/m3.out"; then
	cat "$FNL_TMP/m3.out"
	fnl_fail "PRODUCER_FENCED did not end in FATAL_ERROR"
fi
fnl_broker_cmd "push AddPartitionsToTxn TOPIC_AUTHORIZATION_FAILED" >/dev/null
st=0
"$DRV" -b "$FNL_BOOTSTRAP" -t txn -n $P -x m4 -p C -r 1 >"$FNL_TMP/m4.out" 2>&1 || st=$?
if [[ $st -ne 1 ]] || ! grep -q 'state ABORTABLE_ERROR.*TOPIC_AUTHORIZATION_FAILED' "$FNL_TMP/m4.out"; then
	cat "$FNL_TMP/m4.out"
	fnl_fail "TOPIC_AUTHORIZATION_FAILED did not end in ABORTABLE_ERROR"
fi

echo "== 6. KIP-360: a sequence gap, abort, epoch bump, commit again"
"$DRV" -b "$FNL_BOOTSTRAP" -t txn -n $P -x m5 -p CGC -r 1 >"$FNL_TMP/m5.out" 2>&1 || {
	cat "$FNL_TMP/m5.out"
	fnl_fail "the driver failed through the epoch bump on the mock"
}
bump_order "$FNL_TMP/m5.out" "-> InitProducerId v4" "-> EndTxn v1 abort"
fnl_broker_stop
echo "PASS txn_wire (mock)"
