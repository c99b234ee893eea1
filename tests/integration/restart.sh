#!/usr/bin/env bash
# funneld killed with SIGKILL at random moments, 20 (+6) times, while three clients
# produce; a new funneld is started each time. Clients keep their rings and
# re-attach; the new daemon continues each ring where the reports stopped and
# resends the batches its journal holds exactly as they were (same bytes,
# producer id, epoch, base sequence). The broker checks sequences (the test
# transactional id makes librdkafka's mock do so) and drops a resend it already
# stored. Checks: every record read back, in order; per partition, every
# stored batch carries the one producer id and epoch and continues the previous
# batch's sequence, or is an exact repeat of an earlier batch (same identity,
# base sequence and count: see the mock's quirk below), and duplicates read
# back are exactly those repeats; every restart reused the producer id, and
# journaled batches were resent (the log says how many). Each broker answers
# after 30 ms while the kills happen, so every kill finds batches in flight: on
# a fast loopback a sealed batch is acked within a millisecond and a random
# kill would seldom catch one, which left the resend path unexercised. Every
# fourth kill hits a daemon still recovering (clients not all back), whose
# successor must still find every kept record's ring in the journal. Before
# those, each client in turn is stopped across two quick restarts (6 more
# kills), so another client may take its slot meanwhile.
# FNL_RESTART_{KILLS,RECORDS,RTT_MS,GAP} change the shape (KILLS: the random
# ones; GAP: seconds between a restart and the next kill, for every kill).
# On kfake (FNL_BROKER=kfake), which checks every idempotent producer's sequences
# and drops an exact resend of one of the last 5 batches as Kafka does, funneld runs
# without the test-only transactional id, and the test demands 0 duplicates. kfake
# has no response delay; instead the broker process is stopped for 20 ms before each
# kill (the Produce requests sent meanwhile are in flight when the daemon dies) and
# continued right after it.
# FNL_RESTART_CORES (restart-cores: 0,1; restart-cores-kfake: 0,1,1, two workers on CPU 1
# that finish a partition's batches out of order) runs funneld with funnel.cores set, so
# sealed batches are compressed by workers on the further cores
# (dataplane/core/compress_pool.h); the worker holds each batch 1 ms
# (funnel.test.compress.delay.us) so that the kills find batches being compressed,
# whose records must be taken again from the rings, neither lost nor sent twice. The
# last daemon must say at its stop that the worker compressed batches.
# A fourth client sends records of 70 KB (larger than batch.size, so each is a
# batch of its own in a big slot, which the journal maps as the others) at 8/s.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 3 -t rs:6
OPTS=(-X max.block.ms=30000 -X funnel.metrics.listen=)
fnl_broker_is_mock && OPTS+=(-X funnel.test.transactional.id=rs)
if [[ -n ${FNL_RESTART_CORES:-} ]]; then
	OPTS+=(-X "funnel.cores=$FNL_RESTART_CORES" -X funnel.test.compress.delay.us=1000)
fi
fnl_funneld_start "${OPTS[@]}"
RTT_MS=${FNL_RESTART_RTT_MS:-30}
if fnl_broker_is_mock; then
	for b in 1 2 3; do fnl_broker_cmd "rtt $b $RTT_MS" >/dev/null; done
fi
KILLS=${FNL_RESTART_KILLS:-20}
N=${FNL_RESTART_RECORDS:-40000}
for c in a b c; do
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t rs -c "r$c" -n "$N" -k 97 -P 6 -r 3000 \
		-e "$FNL_TMP/ex-$c"
	eval "pid_$c=\$FNL_LAST_PID"
done
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t rs -c rd -n 100 -S 70000 -k 97 -P 6 -r 8 \
	-R 4194304 -e "$FNL_TMP/ex-d"
pid_d=$FNL_LAST_PID

ready_count() { grep -c "funneld ready" "$FNL_TMP/funneld.err" || true; }
restarted() { [[ $(ready_count) -gt $before ]]; }
kill_restart() { # kill -9 funneld, start the next one, wait until it is ready
	if ! fnl_broker_is_mock; then
		kill -STOP "$FNL_BROKER_PID"
		sleep 0.02
	fi
	kill -KILL "$FNL_FUNNELD_PID" 2>/dev/null || true
	wait "$FNL_FUNNELD_PID" 2>/dev/null || true
	fnl_broker_is_mock || kill -CONT "$FNL_BROKER_PID"
	before=$(ready_count)
	"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "${OPTS[@]}" 2>>"$FNL_TMP/funneld.err" &
	FNL_FUNNELD_PID=$!
	fnl_track "$FNL_FUNNELD_PID"
	fnl_wait_for 20 restarted || fnl_fail "funneld did not restart ($1)"
}
# First, killed again while one client is not back: that client is stopped across
# the first restart, so the others may take its client slot, whose journal
# entry its kept records still name. Its successor must still find it.
for c in a b c; do
	eval "p=\$pid_$c"
	sleep 0.3
	kill -STOP "$p" 2>/dev/null || true # (a client may have finished)
	kill_restart "stop-$c"
	sleep 0.3
	kill_restart "again-$c"
	kill -CONT "$p" 2>/dev/null || true
done
for i in $(seq 1 "$KILLS"); do
	# every fourth kill comes 10 ms after the previous daemon said ready:
	# killed again while recovering, before every client re-attached
	gap=0.$(( RANDOM % 5 + 2 ))
	(( i % 4 == 0 )) && gap=0.01
	sleep "${FNL_RESTART_GAP:-$gap}"
	kill_restart "$i"
done
KILLS=$((KILLS + 6)) # with the three rounds above
echo "funneld killed and restarted $KILLS times"
if fnl_broker_is_mock; then
	for b in 1 2 3; do fnl_broker_cmd "rtt $b 0" >/dev/null; done
fi
EXPECT=("$FNL_TMP"/ex-a "$FNL_TMP"/ex-b "$FNL_TMP"/ex-c "$FNL_TMP"/ex-d)
for c in a b c d; do
	eval "p=\$pid_$c"
	wait "$p" || fnl_fail "client r$c did not get a successful report for every record"
done
if [[ -n ${FNL_RESTART_CORES:-} ]]; then
	# the clients may have finished before the last restart: a last one through
	# the last daemon, so that its worker has batches to compress
	"$FNL_LOAD" -q -s "$FNL_SOCKET" -t rs -c re -n 5000 -k 97 -P 6 -e "$FNL_TMP/ex-e" ||
		fnl_fail "client re did not get a successful report for every record"
	EXPECT+=("$FNL_TMP/ex-e")
fi
fnl_funneld_stop
if [[ -n ${FNL_RESTART_CORES:-} ]]; then
	ncores=$(tr ',' '\n' <<<"$FNL_RESTART_CORES" | grep -c .)
	grep -q "compress_cores=$ncores" "$FNL_TMP/funneld.err" ||
		fnl_fail "funneld did not start $((ncores - 1)) compression workers"
	# the last daemon's stop lines: batches compressed by the workers (core >= 1)
	wb=$(tail -n $((ncores + 5)) "$FNL_TMP/funneld.err" |
		sed -n 's/.*compression at stop core=[1-9][0-9]* .* batches=\([0-9]*\) .*/\1/p' |
		awk '{s += $1} END {print s + 0}')
	echo "last daemon: its $((ncores - 1)) workers compressed $wb batches"
	[[ $wb -gt 0 ]] || fnl_fail "the compression workers compressed nothing"
fi

"$FNL_READBACK" "$FNL_BOOTSTRAP" rs 6 >"$FNL_TMP/rb-rs.tsv" || fnl_fail "read-back failed"
cat "${EXPECT[@]}" >"$FNL_TMP/expect-rs.tsv"
python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-rs.tsv" --expect "$FNL_TMP/expect-rs.tsv" \
	>"$FNL_TMP/check.txt" || true
tail -1 "$FNL_TMP/check.txt"
grep -q " 0 missing" "$FNL_TMP/check.txt" || fnl_fail "records were lost across daemon crashes"
dups=$(sed -n 's/.*records, \([0-9]*\) duplicates.*/\1/p' "$FNL_TMP/check.txt")
grep -q " 0 out of order" "$FNL_TMP/check.txt" || fnl_fail "records out of order"
if ! fnl_broker_is_mock; then # a second, independent consumer agrees: each record once
	fnl_pyreadback_verify rs 6 "${EXPECT[@]}"
fi
fnl_broker_is_mock || [[ $dups -eq 0 ]] ||
	fnl_fail "$dups duplicates on kfake, which drops exact resends: funneld resent with a new identity or sequence"

# Batch headers as stored, read with the independent Fetch client.
"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t rs >"$FNL_TMP/raw.txt" || fnl_fail "raw fetch failed"
python3 - "$FNL_TMP/raw.txt" "$dups" <<'PY' || fnl_fail "a resend changed identity or sequence"
# Per partition, each stored batch must either continue the sequence under the
# one producer identity, or repeat an earlier batch exactly (pid, epoch, base
# sequence, count): a resend with its original header that the broker stored
# again. librdkafka 2.0.2's mock does that when two stored batches are resent
# in a row: a duplicate moves its sequence window back (rd_kafka_mock.c,
# rd_kafka_mock_validate_records), which Kafka's broker never does. Every
# duplicate record read back must lie in such an exact repeat.
import sys
nxt, seen, ids, bad, n, rep_batches, rep_records = {}, set(), set(), 0, 0, 0, 0
for line in open(sys.argv[1]):
    if not line.startswith("batch "):
        continue
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    p, pid, ep, seq, cnt = (int(f[k]) for k in ("partition", "producer_id", "epoch", "base_seq", "count"))
    n += 1
    ids.add((pid, ep))
    key = (p, pid, ep, seq, cnt)
    if key in seen:
        rep_batches += 1
        rep_records += cnt
        continue
    if p in nxt and seq != nxt[p]:
        print(f"partition {p}: batch {pid}/{ep} seq {seq} count {cnt}, expected seq {nxt[p]}")
        bad += 1
    seen.add(key)
    nxt[p] = seq + cnt
dups = int(sys.argv[2])
print(f"{n} stored batches, identities {sorted(ids)}, {bad} breaks, "
      f"{rep_batches} exact repeats ({rep_records} records), {dups} duplicates read back")
sys.exit(1 if bad or len(ids) != 1 or rep_records != dups else 0)
PY
restored=$(sed -n 's/.*producer id restored from the journal.* batches=\([0-9]*\).*/\1/p' \
	"$FNL_TMP/funneld.err" | awk '{s += $1} END {print s + 0}')
reused=$(grep -c "producer id restored from the journal" "$FNL_TMP/funneld.err" || true)
echo "journal: $reused restarts reused the producer id, $restored journaled batches resent"
[[ $reused -eq $KILLS ]] || fnl_fail "a restart did not reuse the producer id from the journal"
[[ $restored -gt 0 ]] || fnl_fail "no journaled batch was ever resent: the test proves nothing"
if fnl_broker_is_mock; then
	echo "restart: ok: $((3 * N)) records, none lost, $dups duplicates (all exact resends the mock stored twice), one producer identity after $KILLS SIGKILLs"
else
	echo "restart: ok: $((3 * N)) records, none lost, 0 duplicates (kfake dropped every resend by sequence), one producer identity after $KILLS SIGKILLs"
fi
