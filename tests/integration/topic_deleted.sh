#!/usr/bin/env bash
# A topic deleted while funneld was down. funneld keeps its topic table across
# restarts (topic ids are written into client rings), and a client that lives
# through the restart still holds the deleted topic's id. The restarted funneld
# (kfake, started again without the topic) must fail that client's records for
# the topic with UNKNOWN_TOPIC_OR_PARTITION and keep the client: the same
# client's records for a topic that still exists are delivered exactly once, and
# nothing is quarantined. When the topic is created again (while that funneld runs),
# its records flow again.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 180
source "$(dirname "$0")/funnel_lib.sh"
FNL_BROKER=kfake

port=$(fnl_free_port)
FNL_BOOTSTRAP=127.0.0.1:$port
kfake() { # kfake TOPIC:N...: one broker on $port
	local args=()
	for t in "$@"; do args+=(-topic "$t"); done
	rm -f "$FNL_TMP/kfake.boot"
	"$FNL_KFAKE" -brokers 1 -ports "$port" "${args[@]}" -bootfile "$FNL_TMP/kfake.boot" \
		</dev/null >>"$FNL_TMP/broker.out" 2>>"$FNL_TMP/broker.err" &
	FNL_BROKER_PID=$!
	fnl_track "$FNL_BROKER_PID"
	fnl_wait_for 20 test -s "$FNL_TMP/kfake.boot" || fnl_fail "kfake did not start on $port"
}
# every record of a client got its report, some UNKNOWN_TOPIC_OR_PARTITION:
# all_reported NAME STDERR_FILE RECORDS EXIT_STATUS sets delivered and failed
# (in this shell: fnl_fail must end the test, not a subshell)
all_reported() {
	local d f
	d=$(sed -n 's/.* delivered=\([0-9]*\).*/\1/p' "$2" | tail -1)
	f=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' "$2" | tail -1)
	(($4 != 0 && ${f:-0} > 0 && ${d:-0} + ${f:-0} == $3)) ||
		fnl_fail "client $1: delivered=${d:-?} failed=${f:-?} of $3 (every record needs one report)"
	grep -q "first_error=UNKNOWN_TOPIC_OR_PARTITION" "$2" ||
		fnl_fail "client $1: the deleted topic's records did not fail with UNKNOWN_TOPIC_OR_PARTITION"
	delivered=$d failed=$f
}
no_quarantine() {
	if grep -i "quarantin" "$FNL_TMP/funneld.err"; then
		fnl_fail "a client was quarantined for records of a deleted topic"
	fi
}
OPTS=(-X request.timeout.ms=10000 -X delivery.timeout.ms=20000)

kfake keep:3 gone:3
fnl_funneld_start "${OPTS[@]}"

# one client process, two topics, across the restart (fnl-load is one topic per
# process, so two processes stand for it: 'gone' is the one that lives through)
"$FNL_LOAD" -s "$FNL_SOCKET" -t gone -c g -n 3000 -r 300 -e "$FNL_TMP/ex-gone" 2>"$FNL_TMP/g.err" &
g=$!
fnl_track "$g"
sleep 2
# killed, as a crash or an OOM kill would (the harder path: the journal; a SIGTERM
# restart gives the same result)
kill -KILL "$FNL_FUNNELD_PID"
wait "$FNL_FUNNELD_PID" 2>/dev/null || true
kill "$FNL_BROKER_PID"
wait "$FNL_BROKER_PID" 2>/dev/null || true

# 'gone' deleted: the cluster comes back without it
kfake keep:3
fnl_funneld_start "${OPTS[@]}" -X metadata.max.age.ms=500
fnl_wait_for 20 grep -q "topic 'gone' is in funneld's topic table but the cluster does not know it" "$FNL_TMP/funneld.err" ||
	fnl_fail "no warning that the topic table names a topic the cluster does not know"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t keep -c k -n 2000 -k 50 -P 3 -e "$FNL_TMP/ex-keep" ||
	fnl_fail "records for an existing topic were not delivered after the restart"
st=0
wait "$g" || st=$?
cat "$FNL_TMP/g.err" >&2
all_reported g "$FNL_TMP/g.err" 3000 "$st"
gd=$delivered gf=$failed
((gd > 0)) || fnl_fail "client g: no record delivered before the deletion"
no_quarantine
fnl_readback_verify keep 3 "$FNL_TMP/ex-keep"

# the topic created again (CreateTopics, python3-kafka) while this funneld runs: the
# next metadata answer gives the core its 2 partitions and its records flow again
fnl_broker_cmd "topic gone 2" >/dev/null || fnl_fail "CreateTopics gone failed"
fnl_wait_for 20 grep -q "topic 'gone' exists again with 2 partitions" "$FNL_TMP/funneld.err" ||
	fnl_fail "funneld did not take the re-created topic back"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t gone -c g2 -n 500 -k 20 -P 2 -e "$FNL_TMP/ex-gone2" ||
	fnl_fail "records for the re-created topic were not delivered"
fnl_readback_verify gone 2 "$FNL_TMP/ex-gone2"
fnl_funneld_stop
kill "$FNL_BROKER_PID"
wait "$FNL_BROKER_PID" 2>/dev/null || true

# Batches of the topic in flight at the kill (librdkafka's mock, its broker answering
# after 1.5 s) stay in the restart journal; the topic is gone at the restart (the mock
# answers UNKNOWN_TOPIC_OR_PARTITION for it): recovery fails those kept batches, so the
# client still gets a report for every record.
FNL_BROKER=mock
fnl_broker_start -b 1 -t kept:3
OPTS+=(-X funnel.restart.wait.ms=2000)
fnl_funneld_start "${OPTS[@]}"
"$FNL_LOAD" -s "$FNL_SOCKET" -t kept -c kp -n 1200 -r 400 -L "$FNL_TMP/kp.progress" 2>"$FNL_TMP/kp.err" &
kp=$!
fnl_track "$kp"
fnl_wait_for 20 test -s "$FNL_TMP/kp.progress" || fnl_fail "client kp did not start producing"
fnl_broker_cmd "rtt 1 1500" >/dev/null || fnl_fail "mock rtt"
sleep 1
kill -KILL "$FNL_FUNNELD_PID"
wait "$FNL_FUNNELD_PID" 2>/dev/null || true
fnl_broker_cmd "topic_error kept 3" >/dev/null || fnl_fail "mock topic_error"
fnl_broker_cmd "rtt 1 0" >/dev/null || fnl_fail "mock rtt 0"
"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "${OPTS[@]}" 2>>"$FNL_TMP/funneld.err" &
FNL_FUNNELD_PID=$!
fnl_track "$FNL_FUNNELD_PID"
st=0
wait "$kp" || st=$?
cat "$FNL_TMP/kp.err" >&2
all_reported kp "$FNL_TMP/kp.err" 1200 "$st"

grep -E "restored|recover" "$FNL_TMP/funneld.err" | tail -2
grep -Eq "restored[^ ]*=[1-9]|batches=[1-9]" <(grep -E "recover" "$FNL_TMP/funneld.err" | tail -1) ||
	fnl_fail "no batch was kept in the journal at the kill: the kept-batch path was not exercised"
no_quarantine
fnl_funneld_stop
echo "topic_deleted: ok: $gd delivered before the deletion, $gf failed with UNKNOWN_TOPIC_OR_PARTITION, no quarantine; kept batches at a kill: $delivered delivered, $failed failed"
