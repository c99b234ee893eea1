# funnel_lib.sh - helpers for tests that run funneld against the broker harness.
# Source after tests/harness/lib.sh and fnl_test_init.
#   fnl_funneld_start [-X key=value]...   starts funneld on $FNL_BOOTSTRAP, socket in $FNL_TMP;
#                                         exports FNL_SOCKET, FNL_FUNNELD_PID
#   fnl_funneld_stop                      SIGTERM, wait, fail unless exit 0
#   fnl_funneld_ready SOCKET              true once funneld at SOCKET is past start-up (the
#                                         control socket opens before bootstrap)
#   fnl_readback_verify TOPIC PARTS EXPECT... read back with kcat and check every record
: "${FNL_FUNNELD:=$FNL_BUILD_DIR/ctrl/funneld}"
: "${FNL_LOAD:=$FNL_BUILD_DIR/tests/integration/fnl-load}"

fnl_funneld_start() {
	FNL_SOCKET=$FNL_TMP/run/funnel.sock
	export FNL_SOCKET
	cat >"$FNL_TMP/funnel.properties" <<PROPS
bootstrap.servers=$FNL_BOOTSTRAP
funnel.socket.path=$FNL_SOCKET
linger.ms=5
max.block.ms=10000
PROPS
	"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "$@" 2>>"$FNL_TMP/funneld.err" &
	FNL_FUNNELD_PID=$!
	fnl_track "$FNL_FUNNELD_PID"
	export FNL_FUNNELD_PID
	fnl_wait_for 20 fnl_funneld_ready "$FNL_SOCKET" || {
		cat "$FNL_TMP/funneld.err" >&2
		fnl_fail "funneld did not come up"
	}
}

# Ready: funnelctl answers and its status does not say "starting:" (bootstrap or the
# producer id still pending; clients are refused and retry until then).
fnl_funneld_ready() {
	local out
	out=$("$FNL_BUILD_DIR/ctrl/funnelctl" -s "$1" status 2>/dev/null) || return 1
	[[ $out != *"(starting:"* && $out != *"no metadata yet"* && $out != *"no producer id yet"* ]]
}

fnl_funneld_stop() {
	kill -TERM "$FNL_FUNNELD_PID"
	local st=0
	wait "$FNL_FUNNELD_PID" || st=$?
	[[ $st -eq 0 ]] || { tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "funneld exited $st after SIGTERM"; }
}

# fnl_readback_verify TOPIC PARTITIONS EXPECT_FILE...
fnl_readback_verify() {
	local topic=$1 parts=$2
	shift 2
	local ex=() f
	for f in "$@"; do ex+=(--expect "$f"); done
	"$FNL_READBACK" "$FNL_BOOTSTRAP" "$topic" "$parts" >"$FNL_TMP/rb-$topic.tsv" ||
		fnl_fail "read-back of $topic failed"
	cat "$@" >"$FNL_TMP/expect-$topic.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$topic.tsv" \
		--expect "$FNL_TMP/expect-$topic.tsv" --fail-on-duplicates ||
		fnl_fail "records of $topic do not match what was produced"
}

# fnl_verify_faulty TOPIC PARTITIONS EXPECT_FILE...: after faults. Every record
# must be there, in order; the sequence numbers on the wire must have no gap.
# This broker (librdkafka's mock) does not check sequences without a
# transactional id, so a batch resent after a lost response is stored twice:
# duplicates are allowed only if fnl-rawfetch shows whole batches resent with
# the same producer id, epoch and base sequence (a real broker answers those
# with DUPLICATE_SEQUENCE_NUMBER).
fnl_verify_faulty() {
	local topic=$1 parts=$2
	shift 2
	"$FNL_READBACK" "$FNL_BOOTSTRAP" "$topic" "$parts" >"$FNL_TMP/rb-$topic.tsv" ||
		fnl_fail "read-back of $topic failed"
	cat "$@" >"$FNL_TMP/expect-$topic.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$topic.tsv" \
		--expect "$FNL_TMP/expect-$topic.tsv" | tee "$FNL_TMP/check-$topic.txt" ||
		fnl_fail "records of $topic lost or out of order"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$topic" >"$FNL_TMP/raw-$topic.txt" || fnl_fail "rawfetch $topic"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$topic.txt" --codec zstd --idempotent \
		| tail -1 | tee "$FNL_TMP/batches-$topic.txt"
	grep -q " 0 sequence errors" "$FNL_TMP/batches-$topic.txt" || fnl_fail "sequence gap on the wire in $topic"
	if ! grep -q " 0 duplicates" "$FNL_TMP/check-$topic.txt"; then
		grep -q " 0 resent" "$FNL_TMP/batches-$topic.txt" &&
			fnl_fail "$topic has duplicates that are not resent batches"
		echo "$topic: duplicates are identical resends (same pid, epoch, base sequence)"
	fi
}

# fnl_pyreadback_verify TOPIC PARTITIONS EXPECT_FILE...: the same check as fnl_readback_verify
# through a second, independent consumer: Debian's python3-kafka (pure Python, its own
# RecordBatch v2 decoder, CRC checks, every codec), so a bug shared by funnel's encoder and
# librdkafka's decoder cannot hide. On the mock it speaks Kafka 0.11's versions (Fetch v4).
fnl_pyreadback_verify() {
	local topic=$1 parts=$2 ver=2.1
	shift 2
	fnl_broker_is_mock && ver=0.11
	/usr/bin/python3 "$FNL_HARNESS_DIR/pyreadback.py" "$FNL_BOOTSTRAP" "$topic" "$parts" "$ver" \
		>"$FNL_TMP/py-$topic.tsv" || fnl_fail "python3-kafka read-back of $topic failed"
	cat "$@" >"$FNL_TMP/expect-py-$topic.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/py-$topic.tsv" \
		--expect "$FNL_TMP/expect-py-$topic.tsv" --fail-on-duplicates ||
		fnl_fail "python3-kafka: records of $topic do not match what was produced"
}
