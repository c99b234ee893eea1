#!/usr/bin/env bash
# Transactions end to end: fnl-txn-client (libfunnel fnl_txn_*) -> funneld's transaction
# thread (ctrl/txnd.c) -> a real broker. FNL_BROKER picks it.
#
# both brokers:
#   0. config checks: transactional.id with enable.idempotence=false, or with acks=1, stops
#      funneld at start-up with a message naming the keys.
# kfake (markers, read_committed, group offsets):
#   1. commit, abort, commit with offsets: read_committed holds transactions 0 and 2 in
#      order, sent as transactional zstd batches with commit markers (fnl-rawfetch); the aborted one reached Kafka not at all (read_uncommitted holds the same); the
#      group's offsets are transaction 2's.
#   2. offsets reach the group only with the commit: while a client holds an open
#      transaction with offsets, the group has none and read_committed none of its records.
#      Delivery reports: each committed record's report has the partition and offset where
#      read_committed finds it; the aborted transaction's records report
#      TRANSACTION_ABORTABLE (120).
#   3. a window aborted on Kafka (TxnOffsetCommit answers ILLEGAL_GENERATION): the client
#      gets ABORTABLE; read_uncommitted sees the window's records, read_committed does not;
#      after the abort its records report ILLEGAL_GENERATION (22).
#   3b. a bad commit dropped from its window: two clients commit into one window
#      (funnel.test.txn.window.min.commits=2), one with group metadata the coordinator
#      refuses: it alone gets ABORTABLE (ILLEGAL_GENERATION); the other commits at its first
#      try, its records and offsets visible to read_committed, its reports' offsets theirs.
#   3c. a client that reads no answer holds up no other: s1's commit of 30,000 records
#      times out before its window runs (window.min.commits=2), then s1 reads nothing; s2's
#      commit completes the window and s2 is answered while s1's 480 KB of offsets wait
#      past its socket buffer; s1 then reads its answer on the same connection (no RESEND):
#      every one of its reports has the place read_committed finds the record at.
#   4. a client SIGKILLed mid-transaction: nothing of it anywhere; funneld goes on.
#   5. funneld SIGKILLed while 4 clients are mid-transaction: the restarted funneld
#      re-initializes the transactional id (same producer id, higher epoch), the clients'
#      commits go to it, and read_committed holds exactly the committed transactions, once
#      each, in order per client.
#   5b. funneld SIGKILLed twice while 4 clients commit 40 transactions back to back: a commit
#      whose answer was lost is sent again (RESEND) to the successor, which answers it from
#      the last committed window's record or runs it; read_committed holds each client's 40
#      transactions exactly once, in order.
#   6. fencing: funneld A is stopped (SIGSTOP), funneld B starts with the same
#      transactional.id (InitProducerId fences A); A resumes and its client's commit is
#      FATAL; B's client commits; read_committed holds B's records only.
#   7. transaction.timeout.ms above the broker's transaction.max.timeout.ms: the client's
#      fnl_txn_init is FATAL with a message naming both settings.
#   9. the transaction thread over SASL_SSL (TLS with a CA made here, SCRAM-SHA-256, a
#      second kfake): commit, abort, commit with offsets; read_committed (kcat over
#      SASL_SSL) holds 0 and 2; the transaction thread's own connections used TLS.
# mock (no markers: protocol order and injected errors):
#   8. the order of a window's requests (FindCoordinator, InitProducerId, AddPartitionsToTxn,
#      Produce, AddOffsetsToTxn, FindCoordinator(group), TxnOffsetCommit for the client's
#      group, the same for the window's own record (txnd_resolve.h), EndTxn);
#      CONCURRENT_TRANSACTIONS on AddPartitionsToTxn retried and the commit succeeds;
#      NOT_LEADER_OR_FOLLOWER on the transactional Produce resent (same sequence) and
#      NOT_COORDINATOR on EndTxn -> FindCoordinator, EndTxn again, committed;
#      TRANSACTION_ABORTABLE on AddPartitionsToTxn, then on EndTxn: the window is aborted and
#      sent again whole, and the client's commit succeeds at its first call (reports with
#      offsets);
#      a HELLO of another wire version is answered FATAL naming both versions;
#      MESSAGE_TOO_LARGE on a Produce of a window with two clients' commits: one commit is
#      answered alone with it (its records report it after its abort), the other commits;
#      TOPIC_AUTHORIZATION_FAILED from AddPartitionsToTxn: the first commit on that topic is
#      dropped, a commit on another topic in the same window commits;
#      PRODUCER_FENCED on EndTxn: the client's commit is FATAL (its records report 90); a
#      libfunnel meeting a funneld of wire version 1 gives up FATAL naming both versions;
#      garbage on the transaction
#      socket (bad magic, oversized or cut bodies, malformed commits) is refused and
#      funneld goes on committing; two clients that stall mid-message (a body cut short,
#      half a header) hold up no other client's commit, and are closed after 10 s;
#      4 commits of ~0.9 MB with 1 MiB windows (more than the 2 windows of body memory)
#      all commit, each with its reports.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 280
source "$(dirname "$0")/funnel_lib.sh"
CLI=$FNL_BUILD_DIR/tests/integration/fnl-txn-client
[[ -x $CLI ]] || fnl_fail "fnl-txn-client not built"
R=4 # records per transaction
P=3 # partitions

consume() { # consume TOPIC ISOLATION: "value" lines in partition, offset order
	timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t "$1" -o beginning -e -q \
		-X isolation.level="$2" -X check.crcs=true -X fetch.wait.max.ms=50 \
		-f '%p %o %s\n' | sort -n -k1,1 -k2,2 | awk '{print $3}'
}

expected() { # expected NAME "k:KIND"...: the values those transactions wrote, in order
	local id=$1 t i
	shift
	for t in "$@"; do
		for ((i = 0; i < R; i++)); do echo "$id:${t%%:*}-${t##*:}-$i"; done
	done
}

committed() { # committed GROUP TOPIC: the group's offsets of partitions 0..P-1
	timeout 30 /usr/bin/python3 - "$FNL_BOOTSTRAP" "$1" "$2" "$P" <<'PY'
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1].split(","), group_id=sys.argv[2],
                  enable_auto_commit=False, api_version=(2, 5, 0))
print(" ".join(str(c.committed(TopicPartition(sys.argv[3], p))) for p in range(int(sys.argv[4]))))
c.close()
PY
}

reports_match() { # reports_match CLIENT TOPIC: its err-0 reports = read_committed's places
	timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t "$2" -o beginning -e -q \
		-X isolation.level=read_committed -X check.crcs=true -X fetch.wait.max.ms=50 \
		-f '%s %p %o\n' | grep "^$1:" | sort >"$FNL_TMP/places.$1"
	awk '$1 == "report" && $5 == 0 {print $2, $3, $4}' "$FNL_TMP/$1.out" | sort >"$FNL_TMP/reports.$1"
	[[ -s $FNL_TMP/reports.$1 ]] || fnl_fail "$1 got no delivery reports"
	same "$FNL_TMP/reports.$1" "$FNL_TMP/places.$1" "$1's delivery reports (value partition offset)"
}

same() { # same FILE_GOT FILE_WANT WHAT
	if ! diff -u "$2" "$1" >"$FNL_TMP/diff"; then
		head -40 "$FNL_TMP/diff" >&2
		fnl_fail "$3 differs from what was expected"
	fi
}

sock() { echo "${SOCK_OVERRIDE:-$FNL_SOCKET}"; }

client() { # client NAME ARGS...: runs in the background, output in $FNL_TMP/NAME.out
	local n=$1
	shift
	FUNNEL_SOCKET=$(sock) "$CLI" -x "$n" -r $R "$@" >"$FNL_TMP/$n.out" 2>&1 &
	fnl_track $!
	eval "PID_$n=$!"
}

run_client() { # run_client NAME ARGS...: in the foreground; fails the test if it fails
	local n=$1
	shift
	if ! FUNNEL_SOCKET=$(sock) timeout 60 "$CLI" -x "$n" -r $R "$@" >"$FNL_TMP/$n.out" 2>&1; then
		cat "$FNL_TMP/$n.out" >&2
		tail -20 "$FNL_TMP/funneld.err" >&2
		fnl_fail "client $n failed"
	fi
}

echo "== 0. config checks"
printf 'bootstrap.servers=127.0.0.1:1\nfunnel.socket.path=%s/x.sock\ntransactional.id=t\n' \
	"$FNL_TMP" >"$FNL_TMP/bad.properties"
for bad in enable.idempotence=false acks=1; do
	if "$FNL_BUILD_DIR/ctrl/funneld" -c "$FNL_TMP/bad.properties" -X "$bad" \
		2>"$FNL_TMP/bad.err"; then
		fnl_fail "funneld started with transactional.id and $bad"
	fi
	grep -q "transactional.id is set but ${bad%%=*}" "$FNL_TMP/bad.err" || {
		cat "$FNL_TMP/bad.err" >&2
		fnl_fail "the refusal of transactional.id with $bad does not name the keys"
	}
done

if ! fnl_broker_is_mock; then
	fnl_broker_start -b 3 -t txn:$P -t win:$P -t drop:$P -t stall:$P -t kill:$P -t fence:$P -- \
		-broker-config transaction.max.timeout.ms=30000
	TX=(-X transactional.id=fnl-e2e -X transaction.timeout.ms=20000)
	fnl_funneld_start -X funnel.metrics.listen= "${TX[@]}"

	echo "== 1. commit, abort, commit with offsets"
	run_client c1 -t txn -p CAC -g grp -P $P
	consume txn read_committed >"$FNL_TMP/rc1"
	expected c1 0:C 2:C >"$FNL_TMP/want1"
	same "$FNL_TMP/rc1" "$FNL_TMP/want1" "read_committed after C A C"
	consume txn read_uncommitted >"$FNL_TMP/ru1"
	same "$FNL_TMP/ru1" "$FNL_TMP/want1" "read_uncommitted after C A C (a client abort never reaches Kafka)"
	[[ $(committed grp txn) == "30 31 32" ]] || fnl_fail "group offsets: $(committed grp txn), want 30 31 32"
	reports_match c1 txn
	(($(grep -c '^report c1:1-A-[0-9]* -1 -1 120$' "$FNL_TMP/c1.out") == R)) ||
		{ cat "$FNL_TMP/c1.out" >&2; fnl_fail "the aborted records did not each report TRANSACTION_ABORTABLE"; }
	# on the wire (fnl-rawfetch, independent of funnel's codec): transactional zstd batches
	# (attributes 0x14) with their commit markers (control batches, 0x30), CRCs good
	timeout 30 "$FNL_BUILD_DIR/tests/harness/fnl-rawfetch" -b "$FNL_BOOTSTRAP" -t txn >"$FNL_TMP/raw1"
	grep '^batch ' "$FNL_TMP/raw1" | grep -v 'crc_ok=1' && fnl_fail "a bad CRC on the wire"
	(($(grep -c "^batch .*count=$R codec=zstd .*attrs=0x14 " "$FNL_TMP/raw1") == 2)) ||
		{ cat "$FNL_TMP/raw1" >&2; fnl_fail "the committed records are not 2 transactional zstd batches"; }
	(($(grep -c '^batch .*attrs=0x30 ' "$FNL_TMP/raw1") == 2)) || fnl_fail "not 2 commit markers"

	echo "== 2. offsets only with the commit"
	client c2 -t txn -p W -g grp2 -P $P -w "$FNL_TMP/go2"
	fnl_wait_for 30 grep -q '^waiting 0' "$FNL_TMP/c2.out" || fnl_fail "c2 did not start"
	[[ $(committed grp2 txn) == "None None None" ]] ||
		fnl_fail "offsets of an open transaction are visible: $(committed grp2 txn)"
	consume txn read_uncommitted | grep -q '^c2:' && fnl_fail "records of an open transaction reached Kafka"
	touch "$FNL_TMP/go2"
	wait "$PID_c2" || { cat "$FNL_TMP/c2.out" >&2; fnl_fail "c2 failed"; }
	[[ $(committed grp2 txn) == "10 11 12" ]] || fnl_fail "group offsets after commit: $(committed grp2 txn)"
	consume txn read_committed | grep '^c2:' >"$FNL_TMP/rc2" || true
	expected c2 0:W >"$FNL_TMP/want2"
	same "$FNL_TMP/rc2" "$FNL_TMP/want2" "c2's committed records"

	echo "== 3. a window aborted on Kafka"
	run_client c3 -t win -p X -g grp3 -P $P
	grep -q '^abortable 0 .*ILLEGAL_GENERATION' "$FNL_TMP/c3.out" || fnl_fail "no abortable error: $(cat "$FNL_TMP/c3.out")"
	consume win read_uncommitted >"$FNL_TMP/ru3"
	expected c3 0:X >"$FNL_TMP/want3"
	same "$FNL_TMP/ru3" "$FNL_TMP/want3" "read_uncommitted of the aborted window"
	[[ -z $(consume win read_committed) ]] || fnl_fail "read_committed sees an aborted window"
	(($(grep -c '^report c3:0-X-[0-9]* -1 -1 22$' "$FNL_TMP/c3.out") == R)) ||
		{ cat "$FNL_TMP/c3.out" >&2; fnl_fail "c3's records did not report ILLEGAL_GENERATION"; }

	echo "== 3b. a bad commit is dropped from its window, the other commits"
	fnl_funneld_stop
	fnl_funneld_start -X funnel.metrics.listen= "${TX[@]}" -X funnel.test.txn.window.min.commits=2
	client d1 -t drop -p Y -g grpd1 -P $P -w "$FNL_TMP/go3b"
	client d2 -t drop -p W -g grpd2 -P $P -w "$FNL_TMP/go3b"
	for n in d1 d2; do
		fnl_wait_for 30 grep -q '^waiting 0' "$FNL_TMP/$n.out" || fnl_fail "$n did not start"
	done
	touch "$FNL_TMP/go3b"
	for n in d1 d2; do
		v=PID_$n
		wait "${!v}" || { cat "$FNL_TMP/$n.out" >&2; tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "$n failed"; }
	done
	grep -q '^abortable 0 .*ILLEGAL_GENERATION' "$FNL_TMP/d1.out" || fnl_fail "d1: $(cat "$FNL_TMP/d1.out")"
	grep -q '^retry' "$FNL_TMP/d2.out" && fnl_fail "d2 was not committed at its first try: $(cat "$FNL_TMP/d2.out")"
	grep -q 'dropped (.*ILLEGAL_GENERATION.*); the window.s other 1 commit' "$FNL_TMP/funneld.err" ||
		{ tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "the two commits were not in one window"; }
	consume drop read_committed >"$FNL_TMP/rc3b"
	expected d2 0:W >"$FNL_TMP/want3b"
	same "$FNL_TMP/rc3b" "$FNL_TMP/want3b" "read_committed after the dropped commit"
	[[ $(committed grpd2 drop) == "10 11 12" ]] || fnl_fail "d2's group offsets: $(committed grpd2 drop)"
	[[ $(committed grpd1 drop) == "None None None" ]] || fnl_fail "d1's group offsets: $(committed grpd1 drop)"
	reports_match d2 drop

	echo "== 3c. a client that reads no answer holds up no other"
	R=30000 client s1 -t stall -p S -P $P -w "$FNL_TMP/go3c"
	fnl_wait_for 60 grep -q '^stalled 0' "$FNL_TMP/s1.out" ||
		{ cat "$FNL_TMP/s1.out" >&2; fnl_fail "s1's commit did not time out"; }
	run_client s2 -t stall -p C -P $P
	touch "$FNL_TMP/go3c"
	wait "$PID_s1" || { tail -5 "$FNL_TMP/s1.out" >&2; tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "s1 failed"; }
	grep -q '^retry' "$FNL_TMP/s1.out" && fnl_fail "s1 lost its connection: $(grep '^retry' "$FNL_TMP/s1.out")"
	grep -q 'read none of its answer' "$FNL_TMP/funneld.err" && fnl_fail "funneld closed s1"
	(($(grep -c '^report s1:' "$FNL_TMP/s1.out") == 30000)) || fnl_fail "s1 did not get 30000 reports"
	reports_match s1 stall
	reports_match s2 stall
	fnl_funneld_stop
	fnl_funneld_start -X funnel.metrics.listen= "${TX[@]}"

	echo "== 4. a client SIGKILLed mid-transaction"
	client c4 -t kill -p CH -P $P
	fnl_wait_for 30 grep -q '^holding 1' "$FNL_TMP/c4.out" || fnl_fail "c4 did not reach its open transaction"
	kill -KILL "$PID_c4"
	wait "$PID_c4" 2>/dev/null || true
	run_client c4b -t kill -p C -P $P
	consume kill read_uncommitted >"$FNL_TMP/ru4"
	{ expected c4 0:C; expected c4b 0:C; } | sort >"$FNL_TMP/want4"
	sort "$FNL_TMP/ru4" | same /dev/stdin "$FNL_TMP/want4" "records after a client was killed mid-transaction"

	echo "== 5. funneld SIGKILLed while clients are mid-transaction"
	for n in k1 k2 k3 k4; do client "$n" -t kill -p CCWCC -P $P -w "$FNL_TMP/go5"; done
	for n in k1 k2 k3 k4; do
		fnl_wait_for 60 grep -q '^waiting 2' "$FNL_TMP/$n.out" || fnl_fail "$n did not reach its third transaction"
	done
	epoch_before=$(grep -o 'transactions ready .* epoch=[0-9]*' "$FNL_TMP/funneld.err" | tail -1)
	kill -KILL "$FNL_FUNNELD_PID"
	wait "$FNL_FUNNELD_PID" 2>/dev/null || true
	: >"$FNL_TMP/funneld.err"
	fnl_funneld_start -X funnel.metrics.listen= "${TX[@]}"
	fnl_wait_for 30 grep -q 'transactions ready' "$FNL_TMP/funneld.err" || fnl_fail "no transactions after the restart"
	epoch_after=$(grep -o 'transactions ready .* epoch=[0-9]*' "$FNL_TMP/funneld.err" | tail -1)
	pid_of() { sed -E 's/.* pid=([0-9]+) .*/\1/' <<<"$1"; }
	ep_of() { sed -E 's/.*epoch=([0-9]+)$/\1/' <<<"$1"; }
	[[ $(pid_of "$epoch_before") == $(pid_of "$epoch_after") ]] || fnl_fail "the restarted funneld has another producer id: $epoch_before / $epoch_after"
	(($(ep_of "$epoch_after") > $(ep_of "$epoch_before"))) || fnl_fail "the epoch was not bumped: $epoch_before / $epoch_after"
	touch "$FNL_TMP/go5"
	for n in k1 k2 k3 k4; do
		v=PID_$n
		wait "${!v}" || { cat "$FNL_TMP/$n.out" >&2; tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "$n failed after the restart"; }
	done
	consume kill read_committed >"$FNL_TMP/rc5"
	for n in k1 k2 k3 k4; do
		grep "^$n:" "$FNL_TMP/rc5" >"$FNL_TMP/rc5.$n" || true
		expected "$n" 0:C 1:C 2:W 3:C 4:C >"$FNL_TMP/want5.$n"
		same "$FNL_TMP/rc5.$n" "$FNL_TMP/want5.$n" "$n's committed transactions after the funneld kill"
	done

	echo "== 5b. funneld SIGKILLed twice while 4 clients commit back to back"
	plan=$(printf 'C%.0s' $(seq 1 40))
	for n in q1 q2 q3 q4; do client "$n" -t kill -p "$plan" -P $P; done
	for kill in 1 2; do
		fnl_wait_for 60 grep -q "^committed $((kill * 10))" "$FNL_TMP/q1.out" || fnl_fail "q1 stalled before kill $kill"
		kill -KILL "$FNL_FUNNELD_PID"
		wait "$FNL_FUNNELD_PID" 2>/dev/null || true
		cat "$FNL_TMP/funneld.err" >>"$FNL_TMP/funneld.all"
		: >"$FNL_TMP/funneld.err"
		fnl_funneld_start -X funnel.metrics.listen= "${TX[@]}"
	done
	for n in q1 q2 q3 q4; do
		v=PID_$n
		wait "${!v}" || { cat "$FNL_TMP/$n.out" >&2; tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "$n failed across the kills"; }
	done
	consume kill read_committed >"$FNL_TMP/rc5b"
	for n in q1 q2 q3 q4; do
		grep "^$n:" "$FNL_TMP/rc5b" >"$FNL_TMP/rc5b.$n" || true
		expected "$n" $(for k in $(seq 0 39); do echo "$k:C"; done) >"$FNL_TMP/want5b.$n"
		same "$FNL_TMP/rc5b.$n" "$FNL_TMP/want5b.$n" "$n's 40 transactions across two funneld kills"
	done
	echo "   commits settled by a successor: $(cat "$FNL_TMP/funneld.err" "$FNL_TMP/funneld.all" | grep -c 'answered without running it again' || true)"

	echo "== 6. fencing: a stopped funneld resumes after another took its transactional.id"
	# A must hold the id first (a funneld stopped before its InitProducerId would take the
	# id back from B when it resumes: the last InitProducerId wins)
	fnl_wait_for 30 grep -q 'transactions ready' "$FNL_TMP/funneld.err" || fnl_fail "funneld A has no transactions"
	kill -STOP "$FNL_FUNNELD_PID"
	A_PID=$FNL_FUNNELD_PID A_SOCK=$FNL_SOCKET
	mkdir -p "$FNL_TMP/b"
	printf 'bootstrap.servers=%s\nfunnel.socket.path=%s/b/f.sock\nfunnel.metrics.listen=\n' \
		"$FNL_BOOTSTRAP" "$FNL_TMP" >"$FNL_TMP/b.properties"
	"$FNL_BUILD_DIR/ctrl/funneld" -c "$FNL_TMP/b.properties" "${TX[@]}" 2>"$FNL_TMP/b.err" &
	B_PID=$!
	fnl_track $B_PID
	fnl_wait_for 30 grep -q 'transactions ready' "$FNL_TMP/b.err" || { cat "$FNL_TMP/b.err" >&2; fnl_fail "funneld B has no transactions"; }
	kill -CONT "$A_PID"
	SOCK_OVERRIDE=$A_SOCK run_client fa -t fence -p F -P $P
	grep -q '^fatal 0 .*\(PRODUCER_FENCED\|INVALID_PRODUCER_EPOCH\)' "$FNL_TMP/fa.out" || fnl_fail "the old funneld's commit: $(cat "$FNL_TMP/fa.out")"
	(($(grep -c '^report fa:0-F-[0-9]* -1 -1 \(90\|47\)$' "$FNL_TMP/fa.out") == R)) ||
		fnl_fail "the fenced commit's records did not report its error: $(cat "$FNL_TMP/fa.out")"
	SOCK_OVERRIDE=$FNL_TMP/b/f.sock run_client fb -t fence -p C -P $P
	consume fence read_committed >"$FNL_TMP/rc6"
	expected fb 0:C >"$FNL_TMP/want6"
	same "$FNL_TMP/rc6" "$FNL_TMP/want6" "read_committed after the fencing"
	kill -TERM "$B_PID"
	wait "$B_PID" || fnl_fail "funneld B exited $? after SIGTERM"
	fnl_funneld_stop

	echo "== 7. transaction.timeout.ms above the broker's maximum"
	: >"$FNL_TMP/funneld.err"
	fnl_funneld_start -X funnel.metrics.listen= -X transactional.id=fnl-e2e-big \
		-X transaction.timeout.ms=60000
	set +e
	FUNNEL_SOCKET=$FNL_SOCKET timeout 60 "$CLI" -x big -t txn -p C -k -T 10000 >"$FNL_TMP/big.out" 2>&1
	st=$?
	set -e
	[[ $st -eq 3 ]] || fnl_fail "init with a too large transaction.timeout.ms: exit $st $(cat "$FNL_TMP/big.out")"
	grep -q 'init failed class 3: .*transaction.timeout.ms.*transaction.max.timeout.ms' "$FNL_TMP/big.out" ||
		fnl_fail "the refusal does not name the settings: $(cat "$FNL_TMP/big.out")"
	fnl_funneld_stop

	echo "== 9. over SASL_SSL (TLS + SCRAM-SHA-256)"
	mkdir -p "$FNL_TMP/s"
	(
		cd "$FNL_TMP/s"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
			-subj /CN=txn-ca >/dev/null 2>&1
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
			-subj /CN=localhost >/dev/null 2>&1
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out server.pem -days 2 -extfile san.ext >/dev/null 2>&1
	) || fnl_fail "openssl could not make the test certificates"
	"$FNL_KFAKE" -brokers 3 -topic sec:$P -sasl SCRAM-SHA-256:s2:s256-pw \
		-advertise-sasl-handshake-v0 -tls-cert "$FNL_TMP/s/server.pem" \
		-tls-key "$FNL_TMP/s/server.key" -bootfile "$FNL_TMP/s/boot" </dev/null \
		>"$FNL_TMP/s/kfake.out" 2>&1 &
	fnl_track $!
	fnl_wait_for 10 test -s "$FNL_TMP/s/boot" || fnl_fail "the SASL_SSL kfake did not start"
	SB=$(cat "$FNL_TMP/s/boot")
	printf '%s\n' "bootstrap.servers=$SB" "funnel.socket.path=$FNL_TMP/s/f.sock" \
		funnel.metrics.listen= security.protocol=SASL_SSL sasl.mechanism=SCRAM-SHA-256 \
		sasl.username=s2 sasl.password=s256-pw "ssl.ca.location=$FNL_TMP/s/ca.pem" \
		>"$FNL_TMP/s/f.properties"
	"$FNL_BUILD_DIR/ctrl/funneld" -c "$FNL_TMP/s/f.properties" "${TX[@]}" 2>"$FNL_TMP/s/f.err" &
	S_PID=$!
	fnl_track $S_PID
	fnl_wait_for 30 grep -q 'transactions ready' "$FNL_TMP/s/f.err" || { cat "$FNL_TMP/s/f.err" >&2; fnl_fail "no transactions over SASL_SSL"; }
	SOCK_OVERRIDE=$FNL_TMP/s/f.sock run_client sa -t sec -p CAC -g gs -P $P
	timeout 30 kcat -C -b "$SB" -t sec -o beginning -e -q -X security.protocol=SASL_SSL \
		-X ssl.ca.location="$FNL_TMP/s/ca.pem" \
		-X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=s2 -X sasl.password=s256-pw \
		-X isolation.level=read_committed -X check.crcs=true -f '%s\n' >"$FNL_TMP/rc9"
	expected sa 0:C 2:C >"$FNL_TMP/want9"
	same "$FNL_TMP/rc9" "$FNL_TMP/want9" "read_committed over SASL_SSL"
	kill -TERM "$S_PID"
	wait "$S_PID" || fnl_fail "the SASL_SSL funneld exited $? after SIGTERM"
	grep -E "tls|TLS" "$FNL_TMP/s/f.err" | head -3
else
	fnl_broker_start -b 3 -t txn:$P:3 -t txn2:$P:3
	fnl_funneld_start -X funnel.metrics.listen= -X transactional.id=fnl-e2e \
		-X funnel.test.txn.trace="$FNL_TMP/trace"

	echo "== 8a. protocol order of a window"
	run_client m1 -t txn -p C -g grp -P $P
	cp "$FNL_TMP/trace" "$FNL_TMP/ops"
	printf '%s\n' 'FindCoordinator(txn) INITIALIZING NONE' 'InitProducerId READY NONE' \
		'AddPartitionsToTxn IN_TXN NONE' 'Produce v7 partitions=1' 'AddOffsetsToTxn IN_TXN NONE' \
		'FindCoordinator(group) IN_TXN NONE' 'TxnOffsetCommit IN_TXN NONE' \
		'AddOffsetsToTxn IN_TXN NONE' 'FindCoordinator(group) IN_TXN NONE' \
		'TxnOffsetCommit IN_TXN NONE' 'EndTxn READY NONE' >"$FNL_TMP/ops.want"
	same "$FNL_TMP/ops" "$FNL_TMP/ops.want" "the requests of a window"

	echo "== 8b. CONCURRENT_TRANSACTIONS retried"
	fnl_broker_cmd "push AddPartitionsToTxn CONCURRENT_TRANSACTIONS CONCURRENT_TRANSACTIONS" >/dev/null
	run_client m2 -t txn -p C -P $P
	grep -q '^committed 0' "$FNL_TMP/m2.out" || fnl_fail "m2 did not commit"
	awk 'seen; /^EndTxn/ {seen = 1}' "$FNL_TMP/trace" >"$FNL_TMP/ops2"
	printf '%s\n' 'AddPartitionsToTxn IN_TXN CONCURRENT_TRANSACTIONS' \
		'AddPartitionsToTxn IN_TXN CONCURRENT_TRANSACTIONS' 'AddPartitionsToTxn IN_TXN NONE' \
		'Produce v7 partitions=1' 'AddOffsetsToTxn IN_TXN NONE' \
		'FindCoordinator(group) IN_TXN NONE' 'TxnOffsetCommit IN_TXN NONE' \
		'EndTxn READY NONE' >"$FNL_TMP/ops2.want"
	same "$FNL_TMP/ops2" "$FNL_TMP/ops2.want" "the window with CONCURRENT_TRANSACTIONS"

	echo "== 8e. NOT_COORDINATOR on EndTxn, NOT_LEADER_OR_FOLLOWER on the transactional Produce"
	fnl_broker_cmd "push EndTxn NOT_COORDINATOR" >/dev/null
	fnl_broker_cmd "push Produce NOT_LEADER_OR_FOLLOWER" >/dev/null
	n0=$(wc -l <"$FNL_TMP/trace")
	run_client m5 -t txn -p C -P $P
	grep -q '^committed 0' "$FNL_TMP/m5.out" || fnl_fail "m5 did not commit"
	tail -n +$((n0 + 1)) "$FNL_TMP/trace" >"$FNL_TMP/ops5"
	printf '%s\n' 'AddPartitionsToTxn IN_TXN NONE' 'Produce v7 partitions=1' 'Produce v7 partitions=1' \
		'AddOffsetsToTxn IN_TXN NONE' 'FindCoordinator(group) IN_TXN NONE' \
		'TxnOffsetCommit IN_TXN NONE' 'EndTxn COMMITTING NOT_COORDINATOR' \
		'FindCoordinator(txn) COMMITTING NONE' 'EndTxn READY NONE' >"$FNL_TMP/ops5.want"
	same "$FNL_TMP/ops5" "$FNL_TMP/ops5.want" "the window with a moved coordinator and leader"

	echo "== 8d. garbage on the transaction socket"
	/usr/bin/python3 - "$FNL_SOCKET.txn" <<'PY' || fnl_fail "hostile transaction client"
import socket, struct, sys, os
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.settimeout(20)
    return s
MAGIC = 0x46545857
s = conn(); s.sendall(b"\xff" * 64); s.close()                        # bad magic: closed
s = conn(); s.sendall(struct.pack("=IHHII", MAGIC, 2, 0, 1 << 30, 1)); s.close()  # too long
s = conn(); s.sendall(struct.pack("=IHHII", MAGIC, 2, 0, 4096, 1) + b"\x01" * 100); s.close()  # cut
for body in [b"", os.urandom(40), struct.pack("=QIIIIII", 1, 1, 0, 1, 1, 1000, 0) + b"\x07\x00"]:
    s = conn()
    s.sendall(struct.pack("=IHHII", MAGIC, 2, 0, len(body), 7) + body)
    h = s.recv(16, socket.MSG_WAITALL)
    magic, typ, _, ln, seq = struct.unpack("=IHHII", h)
    assert magic == MAGIC and typ == 3 and seq == 7, h
    r = s.recv(ln, socket.MSG_WAITALL)
    cls = struct.unpack("=i", r[:4])[0]
    assert cls == 2, (cls, r)  # ABORTABLE: refused alone
    s.close()
# a HELLO of wire version 1 (flags 0, before per-record offsets): FATAL, both versions named
s = conn()
s.sendall(struct.pack("=IHHII", MAGIC, 1, 0, 0, 9))
magic, typ, flags, ln, seq = struct.unpack("=IHHII", s.recv(16, socket.MSG_WAITALL))
assert typ == 3 and seq == 9 and flags == 2, (typ, seq, flags)
r = s.recv(ln, socket.MSG_WAITALL)
assert struct.unpack("=i", r[:4])[0] == 3 and b"wire version 1, this funneld 2" in r, r
s.close()
print("garbage refused")
PY
	run_client m4 -t txn -p C -P $P
	grep -q '^committed 0' "$FNL_TMP/m4.out" || fnl_fail "no commit after the garbage"

	echo "== 8j. clients that stall mid-message hold up no other"
	/usr/bin/python3 - "$FNL_SOCKET.txn" "$FNL_TMP/stalling" <<'PY' &
import socket, struct, sys, time
MAGIC = 0x46545857
a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); a.connect(sys.argv[1])
a.sendall(struct.pack("=IHHII", MAGIC, 2, 0, 4096, 5) + b"\x01" * 100)  # a body cut short
b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); b.connect(sys.argv[1])
b.sendall(struct.pack("=IHHII", MAGIC, 2, 0, 64, 6)[:7])  # half a header
open(sys.argv[2], "w").close()
time.sleep(14)
a.settimeout(5); b.settimeout(5)
assert a.recv(1) == b"" and b.recv(1) == b"", "funneld did not close the stalled connections"
PY
	stall_pid=$!
	fnl_wait_for 10 test -e "$FNL_TMP/stalling" || fnl_fail "the stalling client did not start"
	# 4 s, less than the 10 s a stalled message is waited for: the thread must not wait on it
	run_client m5 -t txn -p C -P $P -T 4000
	grep -q '^retry' "$FNL_TMP/m5.out" && fnl_fail "m5 waited on the stalled clients: $(cat "$FNL_TMP/m5.out")"
	grep -q '^committed 0' "$FNL_TMP/m5.out" || fnl_fail "m5 did not commit"
	wait "$stall_pid" || fnl_fail "the stalling client failed"
	(($(grep -c 'sent part of a message and not the rest within 10 s' "$FNL_TMP/funneld.err") == 2)) ||
		fnl_fail "funneld did not close the 2 stalled connections"

	echo "== 8f. an abortable error: the window is sent again whole"
	for api in AddPartitionsToTxn EndTxn; do
		fnl_broker_cmd "push $api 120" >/dev/null # TRANSACTION_ABORTABLE
		run_client m6$api -t txn -p C -P $P
		grep -q '^committed 0' "$FNL_TMP/m6$api.out" || fnl_fail "m6$api did not commit"
		grep -q '^retry' "$FNL_TMP/m6$api.out" && fnl_fail "m6$api's commit was not retried by funneld: $(cat "$FNL_TMP/m6$api.out")"
		(($(grep -c '^report m6'$api':0-C-[0-9]* [0-9]* [0-9]* 0$' "$FNL_TMP/m6$api.out") == R)) ||
			fnl_fail "m6$api's reports: $(cat "$FNL_TMP/m6$api.out")"
	done
	(($(grep -c 'sent again whole (attempt 2 of' "$FNL_TMP/funneld.err") == 2)) ||
		{ tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "the windows were not sent again whole"; }

	echo "== 8g. a batch refused for its content: that commit is dropped, the other commits"
	fnl_funneld_stop
	fnl_funneld_start -X funnel.metrics.listen= -X transactional.id=fnl-e2e \
		-X funnel.test.txn.window.min.commits=2
	fnl_broker_cmd "push Produce 10" >/dev/null # MESSAGE_TOO_LARGE
	for n in g1 g2; do client $n -t txn -p W -P $P -w "$FNL_TMP/go8g"; done
	for n in g1 g2; do
		fnl_wait_for 30 grep -q '^waiting 0' "$FNL_TMP/$n.out" || fnl_fail "$n did not start"
	done
	touch "$FNL_TMP/go8g"
	for n in g1 g2; do
		v=PID_$n
		wait "${!v}" || { cat "$FNL_TMP/$n.out" >&2; fnl_fail "$n failed"; }
		grep -q '^committed 0' "$FNL_TMP/$n.out" || fnl_fail "$n did not commit"
	done
	# one was answered MESSAGE_TOO_LARGE alone (then aborted: its records report 10, and
	# sent again); the other was committed at its first try
	dropped=$(grep -l '^retry 0 2 .*MESSAGE_TOO_LARGE' "$FNL_TMP/g1.out" "$FNL_TMP/g2.out" | wc -l)
	other=$(grep -L '^retry' "$FNL_TMP/g1.out" "$FNL_TMP/g2.out" | wc -l)
	[[ $dropped == 1 && $other == 1 ]] || fnl_fail "g1/g2: $(cat "$FNL_TMP/g1.out" "$FNL_TMP/g2.out")"
	(($(cat "$FNL_TMP/g1.out" "$FNL_TMP/g2.out" | grep -c '^report .* -1 -1 10$') == R)) ||
		fnl_fail "the dropped commit's records did not report MESSAGE_TOO_LARGE at its abort"
	grep -q 'dropped (.*MESSAGE_TOO_LARGE.*); the window.s other 1 commit' "$FNL_TMP/funneld.err" ||
		{ tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "the two commits were not in one window"; }

	echo "== 8i. AddPartitionsToTxn refuses a topic: the first commit on it is dropped"
	fnl_broker_cmd "push AddPartitionsToTxn TOPIC_AUTHORIZATION_FAILED" >/dev/null
	client i1 -t txn -p W -P $P -w "$FNL_TMP/go8i"
	client i2 -t txn2 -p W -P $P -w "$FNL_TMP/go8i"
	for n in i1 i2; do
		fnl_wait_for 30 grep -q '^waiting 0' "$FNL_TMP/$n.out" || fnl_fail "$n did not start"
	done
	touch "$FNL_TMP/go8i"
	for n in i1 i2; do
		v=PID_$n
		wait "${!v}" || { cat "$FNL_TMP/$n.out" >&2; fnl_fail "$n failed"; }
		grep -q '^committed 0' "$FNL_TMP/$n.out" || fnl_fail "$n did not commit"
	done
	# the mock refuses every partition of the request; "txn" sorts first: i1 is blamed
	grep -q '^retry 0 2 .*TOPIC_AUTHORIZATION_FAILED' "$FNL_TMP/i1.out" || fnl_fail "i1: $(cat "$FNL_TMP/i1.out")"
	grep -q '^retry' "$FNL_TMP/i2.out" && fnl_fail "i2 was not committed at its first try: $(cat "$FNL_TMP/i2.out")"
	grep -q 'dropped (.*TOPIC_AUTHORIZATION_FAILED.*); the window.s other 1 commit' "$FNL_TMP/funneld.err" ||
		{ tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "i1 and i2 were not in one window"; }
	fnl_funneld_stop
	fnl_funneld_start -X funnel.metrics.listen= -X transactional.id=fnl-e2e

	echo "== 8c. PRODUCER_FENCED is fatal"
	fnl_broker_cmd "push EndTxn PRODUCER_FENCED" >/dev/null
	run_client m3 -t txn -p F -P $P
	grep -q '^fatal 0 .*PRODUCER_FENCED' "$FNL_TMP/m3.out" || fnl_fail "m3: $(cat "$FNL_TMP/m3.out")"
	(($(grep -c '^report m3:0-F-[0-9]* -1 -1 90$' "$FNL_TMP/m3.out") == R)) ||
		fnl_fail "the fatal commit's records did not report PRODUCER_FENCED: $(cat "$FNL_TMP/m3.out")"
	fnl_funneld_stop

	echo "== 8k. commits past the body memory (2 windows) wait in their sockets, then commit"
	fnl_funneld_start -X funnel.metrics.listen= -X transactional.id=fnl-e2e \
		-X funnel.txn.window.bytes=1048576
	for n in b1 b2 b3 b4; do client $n -t txn -p C -P $P -r 14000; done # ~0.9 MB each
	for n in b1 b2 b3 b4; do
		v=PID_$n
		wait "${!v}" || { tail -3 "$FNL_TMP/$n.out" >&2; tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "$n failed"; }
		grep -q '^committed 0' "$FNL_TMP/$n.out" || fnl_fail "$n did not commit"
		(($(grep -c "^report $n:0-C-[0-9]* [0-9]* [0-9]* 0\$" "$FNL_TMP/$n.out") == 14000)) ||
			fnl_fail "$n did not get 14000 reports with offsets"
	done
	fnl_funneld_stop

	echo "== 8h. a funneld of transaction wire version 1: libfunnel refuses it, naming both"
	fnl_funneld_start -X funnel.metrics.listen= # no transactional.id: no .txn socket of its own
	/usr/bin/python3 - "$FNL_SOCKET.txn" <<'PY' &
import socket, struct, sys, os
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(sys.argv[1]); l.listen(1); l.settimeout(60)
c, _ = l.accept(); c.settimeout(20)
magic, typ, flags, ln, seq = struct.unpack("=IHHII", c.recv(16, socket.MSG_WAITALL))
assert typ == 1 and flags == 2, (typ, flags)
body = struct.pack("=ihHq240s", 0, 0, 0, -1, b"")  # OK, as version 1 answered (flags 0)
c.sendall(struct.pack("=IHHII", magic, 3, 0, len(body), seq) + body)
try:
    c.recv(1)  # until the client hangs up
except OSError:
    pass
c.close(); os.unlink(sys.argv[1])
PY
	fake=$!
	fnl_track $fake
	fnl_wait_for 10 test -S "$FNL_SOCKET.txn" || fnl_fail "the fake version-1 socket did not start"
	set +e
	FUNNEL_SOCKET=$FNL_SOCKET timeout 60 "$CLI" -x v1 -t txn -p C -k -T 10000 >"$FNL_TMP/v1.out" 2>&1
	st=$?
	set -e
	[[ $st -eq 3 ]] || fnl_fail "init against wire version 1: exit $st $(cat "$FNL_TMP/v1.out")"
	grep -q 'init failed class 3: funneld speaks transaction wire version 1, this libfunnel 2' "$FNL_TMP/v1.out" ||
		fnl_fail "the refusal does not name both versions: $(cat "$FNL_TMP/v1.out")"
	wait $fake || fnl_fail "the fake version-1 funneld failed"
	fnl_funneld_stop
fi
echo "PASS txn_e2e ($FNL_BROKER)"
