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

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
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
kfake keep:3 gone:3
fnl_funneld_start -X request.timeout.ms=10000 -X delivery.timeout.ms=20000

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
fnl_funneld_start -X request.timeout.ms=10000 -X delivery.timeout.ms=20000 -X metadata.max.age.ms=500
fnl_wait_for 20 grep -q "topic 'gone' is in funneld's topic table but the cluster does not know it" "$FNL_TMP/funneld.err" ||
	fnl_fail "no warning that the topic table names a topic the cluster does not know"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t keep -c k -n 2000 -k 50 -P 3 -e "$FNL_TMP/ex-keep" ||
	fnl_fail "records for an existing topic were not delivered after the restart"
st=0
wait "$g" || st=$?
cat "$FNL_TMP/g.err" >&2
((st != 0)) || fnl_fail "the client of the deleted topic got success for every record"
grep -q "first_error=UNKNOWN_TOPIC_OR_PARTITION" "$FNL_TMP/g.err" ||
	fnl_fail "the deleted topic's records did not fail with UNKNOWN_TOPIC_OR_PARTITION"
delivered=$(sed -n 's/.* delivered=\([0-9]*\).*/\1/p' "$FNL_TMP/g.err" | tail -1)
failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' "$FNL_TMP/g.err" | tail -1)
((delivered > 0 && failed > 0 && delivered + failed == 3000)) ||
	fnl_fail "client g: delivered=$delivered failed=$failed of 3000 (every record needs one report)"
if grep -i "quarantin" "$FNL_TMP/funneld.err"; then
	fnl_fail "a client was quarantined for records of a deleted topic"
fi
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
echo "topic_deleted: ok: $delivered delivered before the deletion, $failed failed with UNKNOWN_TOPIC_OR_PARTITION, no quarantine"
