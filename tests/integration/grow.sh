#!/usr/bin/env bash
# A topic grows from 4 to 8 partitions while clients produce (kfake-broker's
# CreatePartitions, through python3-kafka). funneld (metadata.max.age.ms=500) takes
# the new count at its next metadata refresh, as the Java producer does:
# 1. records produced before the growth: keyed ones in murmur2(key) % 4;
# 2. clients producing across the growth (keyed and null keys, 1,000 rec/s each):
#    a key's records sit in murmur2 % 4 up to the switch and in murmur2 % 8 after it,
#    never back; records without a key reach partitions 4..7 after it;
# 3. records produced once funnelctl shows 8: keyed ones in murmur2(key) % 8, null
#    keys over all 8 partitions;
# 4. funneld is SIGKILLed and restarted (restart journal) while clients produce after
#    the growth;
# a second topic (3 partitions, registered after grow) is produced to before and after;
# 5. a growth past funnel.partitions.max keeps the old count, with one error line that
#    names the topic and the setting, and clients are told the old count
#    (fnl_topic_partitions); a new topic with more partitions than the setting has room
#    for is refused at fnl_topic naming the setting (it used to be accepted, and its
#    records then quarantined the client);
# 6. transactions: the transaction thread refreshes its topics every metadata.max.age.ms
#    between windows, so a transaction after the growth puts key "ta" in murmur2 % 8 = 5
#    (before it: % 4 = 1); its delivery reports and kcat read_committed agree.
# Every record is read back once (kcat, verify.py); on the wire every partition's
# sequences start at 0 for the producer and have no gap (fnl-rawfetch, verify.py
# batches; kfake itself rejects a sequence out of order).
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 200
source "$(dirname "$0")/funnel_lib.sh"
fnl_broker_is_mock && fnl_fail "grow.sh needs kfake (CreatePartitions; the mock cannot add partitions)"
CTL=$FNL_BUILD_DIR/ctrl/funnelctl
OPTS=(-X metadata.max.age.ms=500 -X batch.size=2048 -X funnel.metrics.listen=)

fnl_broker_start -b 3 -t grow:4 -t other:3
fnl_funneld_start "${OPTS[@]}"

topic_parts() { # the count funnelctl status shows for topic grow
	"$CTL" -s "$FNL_SOCKET" status 2>/dev/null | sed -n 's/^topic grow: \([0-9]*\) partitions$/\1/p'
}

echo "== before: 4 partitions"
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t grow -c ka -n 3000 -k 50 -P 4 -e "$FNL_TMP/ex-ka"
pa=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t grow -c na -n 3000 -e "$FNL_TMP/ex-na"
pb=$FNL_LAST_PID
wait "$pa" || fnl_fail "ka did not get every report"
wait "$pb" || fnl_fail "na did not get every report"
[[ $(topic_parts) == 4 ]] || fnl_fail "funnelctl status shows '$(topic_parts)' partitions for grow, want 4"
# a second topic registered after grow: grow's new partitions' state lands after other's
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t other -c ko -n 2000 -k 30 -P 3 -e "$FNL_TMP/ex-ko" ||
	fnl_fail "ko did not get every report"

echo "== growing to 8 while two clients produce"
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t grow -c km -n 9000 -k 50 -r 1000
pkm=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t grow -c nm -n 9000 -r 1000
pnm=$FNL_LAST_PID
sleep 1.5
t0=$(fnl_now_ms)
fnl_broker_cmd "partitions grow 8" || fnl_fail "CreatePartitions failed"
fnl_wait_for 20 bash -c "[[ \$('$CTL' -s '$FNL_SOCKET' status 2>/dev/null |
	sed -n 's/^topic grow: \([0-9]*\) partitions\$/\1/p') == 8 ]]" ||
	fnl_fail "funneld did not take the 8 partitions (funnelctl shows '$(topic_parts)')"
echo "funneld uses 8 partitions $(( $(fnl_now_ms) - t0 )) ms after CreatePartitions"
grep -q "topic 'grow' grew from 4 to 8 partitions" "$FNL_TMP/funneld.err" ||
	fnl_fail "funneld did not log the growth"

echo "== after: keyed records over 8, and a SIGKILL + restart meanwhile"
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t grow -c kb -n 3000 -k 50 -P 8 -r 1500 -e "$FNL_TMP/ex-kb"
pkb=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t grow -c nb -n 4000 -r 2000 -e "$FNL_TMP/ex-nb"
pnb=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t other -c ko2 -n 3000 -k 30 -P 3 -r 1500 -e "$FNL_TMP/ex-ko2"
pko=$FNL_LAST_PID
sleep 1
before=$(grep -c "funneld ready" "$FNL_TMP/funneld.err" || true)
kill -STOP "$FNL_BROKER_PID" # unanswered batches for the journal to bring back
sleep 0.05
kill -KILL "$FNL_FUNNELD_PID"
wait "$FNL_FUNNELD_PID" 2>/dev/null || true
kill -CONT "$FNL_BROKER_PID"
"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "${OPTS[@]}" 2>>"$FNL_TMP/funneld.err" &
FNL_FUNNELD_PID=$!
fnl_track "$FNL_FUNNELD_PID"
fnl_wait_for 20 bash -c "(( \$(grep -c 'funneld ready' '$FNL_TMP/funneld.err') > $before ))" ||
	fnl_fail "funneld did not restart"
for p in $pkm $pnm $pkb $pnb $pko; do wait "$p" || fnl_fail "a client did not get every report"; done
[[ $(topic_parts) == 8 ]] || fnl_fail "after the restart funnelctl shows '$(topic_parts)' partitions"
grep "producer id restored from the journal" "$FNL_TMP/funneld.err" ||
	fnl_fail "the restarted funneld did not reuse the journal"
fnl_funneld_stop

echo "== read back"
"$FNL_READBACK" "$FNL_BOOTSTRAP" grow 8 >"$FNL_TMP/rb.tsv" || fnl_fail "read-back failed"
cat "$FNL_TMP"/ex-ka "$FNL_TMP"/ex-na "$FNL_TMP"/ex-kb "$FNL_TMP"/ex-nb >"$FNL_TMP/expect.tsv"
python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb.tsv" --expect "$FNL_TMP/expect.tsv" \
	--clients km=9000,nm=9000 --fail-on-duplicates ||
	fnl_fail "records do not match what was produced (once each, keyed ones where murmur2 says)"
python3 - "$FNL_HARNESS_DIR" "$FNL_TMP/rb.tsv" <<'PY' || fnl_fail "records across the growth are not where they belong"
import sys
sys.path.insert(0, sys.argv[1])
import verify
recs = verify.read_readback(sys.argv[2])
bad = []
parts = {c: set() for c in ("na", "nm", "nb")}
by_key = {}
for r in recs:
    if r.client in parts:
        parts[r.client].add(r.partition)
    if r.client == "km":
        k = verify.unesc(r.key)
        p4, p8 = verify.murmur2_partition(k, 4), verify.murmur2_partition(k, 8)
        if r.partition not in (p4, p8):
            bad.append("km s=%d key %s in %d: neither %d nor %d" % (r.seq, r.key, r.partition, p4, p8))
        elif p4 != p8:
            by_key.setdefault(k, []).append((r.seq, r.partition == p8))
if parts["na"] - set(range(4)):
    bad.append("na (before the growth) reached %s" % sorted(parts["na"]))
if parts["nb"] != set(range(8)):
    bad.append("nb (after the growth) reached only %s" % sorted(parts["nb"]))
if not parts["nm"] & set(range(4, 8)):
    bad.append("nm (across the growth) never reached partitions 4..7")
old = new = 0
for k, seen in by_key.items():
    seen.sort()
    flags = [f for _, f in seen]
    old += flags.count(False)
    new += flags.count(True)
    first_new = flags.index(True) if True in flags else len(flags)
    if False in flags[first_new:]:
        bad.append("key %s went back to murmur2 %% 4 after murmur2 %% 8" % k)
if not old or not new:
    bad.append("km: %d records by murmur2 %% 4 and %d by %% 8 (want both)" % (old, new))
print("km keys that moved: %d records before the switch, %d after; partitions: na %s, nm %s, nb %s"
      % (old, new, sorted(parts["na"]), sorted(parts["nm"]), sorted(parts["nb"])))
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
PY
fnl_readback_verify other 3 "$FNL_TMP/ex-ko" "$FNL_TMP/ex-ko2"
"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t grow >"$FNL_TMP/raw.txt" || fnl_fail "rawfetch failed"
python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw.txt" --idempotent | tail -1 | tee "$FNL_TMP/b.txt"
grep -q " 0 bad crc, .* 0 sequence errors" "$FNL_TMP/b.txt" ||
	fnl_fail "batches on the wire: bad CRCs or sequence gaps (a new partition must start at 0)"
echo "== past funnel.partitions.max: the old count stays, with an error that names both"
mkdir -p "$FNL_TMP/st2"
fnl_broker_cmd "topic cap 4" || fnl_fail "cannot create topic cap"
fnl_funneld_start -X funnel.partitions.max=6 -X funnel.state.dir="$FNL_TMP/st2" \
	-X metadata.max.age.ms=300 -X funnel.metrics.listen=
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t cap -c c1 -n 500 -k 20 -P 4 -e "$FNL_TMP/ex-c1" ||
	fnl_fail "c1 did not get every report"
fnl_broker_cmd "partitions cap 8" || fnl_fail "CreatePartitions cap failed"
fnl_wait_for 20 grep -q "topic 'cap' grew from 4 to 8 partitions but funnel.partitions.max=6 has no room" \
	"$FNL_TMP/funneld.err" || fnl_fail "no error naming the topic and funnel.partitions.max"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t cap -c c2 -n 500 -k 20 -P 4 -e "$FNL_TMP/ex-c2" ||
	fnl_fail "c2 did not get every report"
[[ $("$CTL" -s "$FNL_SOCKET" status | sed -n 's/^topic cap: \([0-9]*\) partitions$/\1/p') == 4 ]] ||
	fnl_fail "funnelctl does not show 4 partitions for cap"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t cap -c c3 -n 1 -Q 4 -e "$FNL_TMP/ex-c3" ||
	fnl_fail "a client is not told cap's 4 usable partitions"
n=$(grep -c "funnel.partitions.max=6 has no room" "$FNL_TMP/funneld.err" || true)
[[ $n -eq 1 ]] || fnl_fail "the error was logged $n times (want once)"
fnl_broker_cmd "topic cap3 3" || fnl_fail "cannot create topic cap3"
if "$FNL_LOAD" -q -s "$FNL_SOCKET" -t cap3 -c c4 -n 10 2>"$FNL_TMP/c4.err"; then
	fnl_fail "a topic past funnel.partitions.max was accepted"
fi
grep -q "topic 'cap3' has 3 partitions but funnel.partitions.max=6 has room for 2 more" \
	"$FNL_TMP/c4.err" || fnl_fail "cap3's refusal does not name the setting: $(cat "$FNL_TMP/c4.err")"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t cap -c c5 -n 100 -k 20 -P 4 -e "$FNL_TMP/ex-c5" ||
	fnl_fail "cap stopped working after cap3 was refused"
fnl_funneld_stop
fnl_readback_verify cap 8 "$FNL_TMP/ex-c1" "$FNL_TMP/ex-c2" "$FNL_TMP/ex-c3" "$FNL_TMP/ex-c5"

echo "== transactions: the transaction thread takes the new count too"
mkdir -p "$FNL_TMP/st3"
fnl_broker_cmd "topic tgrow 4" || fnl_fail "cannot create topic tgrow"
fnl_funneld_start -X transactional.id=grow-txn -X funnel.state.dir="$FNL_TMP/st3" \
	-X metadata.max.age.ms=300 -X funnel.metrics.listen=
fnl_wait_for 30 grep -q 'transactions ready' "$FNL_TMP/funneld.err" || fnl_fail "no transactions"
TXC=$FNL_BUILD_DIR/tests/integration/fnl-txn-client
FUNNEL_SOCKET=$FNL_SOCKET timeout 60 "$TXC" -t tgrow -x ta -p C -r 5 >"$FNL_TMP/tx1.out" 2>&1 ||
	fnl_fail "the first transaction failed: $(cat "$FNL_TMP/tx1.out")"
fnl_broker_cmd "partitions tgrow 8" || fnl_fail "CreatePartitions tgrow failed"
fnl_wait_for 20 grep -q "transactions: topic 'tgrow' grew to 8 partitions" "$FNL_TMP/funneld.err" ||
	fnl_fail "the transaction thread did not see tgrow grow"
FUNNEL_SOCKET=$FNL_SOCKET timeout 60 "$TXC" -t tgrow -x ta -p C -r 5 >"$FNL_TMP/tx2.out" 2>&1 ||
	fnl_fail "the second transaction failed: $(cat "$FNL_TMP/tx2.out")"
fnl_funneld_stop
p1=$(awk '$1 == "report" {print $3}' "$FNL_TMP/tx1.out" | sort -u)
p2=$(awk '$1 == "report" {print $3}' "$FNL_TMP/tx2.out" | sort -u)
[[ $p1 == 1 && $p2 == 5 ]] || fnl_fail "transactional key ta: partitions '$p1' then '$p2' (want 1 then 5)"
timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t tgrow -o beginning -e -q -X isolation.level=read_committed \
	-X check.crcs=true -f '%p %s\n' | sort >"$FNL_TMP/tgrow.txt"
[[ $(grep -c '^1 ' "$FNL_TMP/tgrow.txt") -eq 5 && $(grep -c '^5 ' "$FNL_TMP/tgrow.txt") -eq 5 &&
	$(wc -l <"$FNL_TMP/tgrow.txt") -eq 10 ]] || {
	cat "$FNL_TMP/tgrow.txt" >&2
	fnl_fail "read_committed: want 5 records in partition 1 and 5 in partition 5"
}
echo "transactions: key ta in partition 1 before the growth and 5 after (reports and read_committed)"
echo "grow: ok"
