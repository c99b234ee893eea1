#!/usr/bin/env bash
# funneld under broker faults, each scenario on its own topic while clients
# keep producing: a broker down then up; leaders moving; NOT_LEADER_OR_FOLLOWER,
# REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS, NETWORK_EXCEPTION pushed on Produce;
# connections closed by the broker; 200 ms RTT with 5 requests in flight.
# Each ends with every record read back exactly once, in order per partition,
# and sequence numbers without gaps on the wire. The harness broker checks
# producer sequences only for a transactional producer, so funneld runs with
# the test-only funnel.test.transactional.id: the broker then answers
# OUT_OF_ORDER_SEQUENCE_NUMBER and DUPLICATE_SEQUENCE_NUMBER like a real broker
# does for every idempotent producer, and order and exactly-once are proven.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 280
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 3 -t fdown:6 -t flead:6 -t ferr:6 -t fclose:6 -t frtt:6
fnl_funneld_start -X retry.backoff.ms=50 -X request.timeout.ms=5000 \
	-X funnel.test.transactional.id=funnel-seqcheck
N=${FNL_FAULT_RECORDS:-30000}
RATE=${FNL_FAULT_RATE:-10000}

run() { # topic name: start one keyed and one null-key client at RATE
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c "$1-k" -n "$N" -k 50 -P 6 -r "$RATE" -e "$FNL_TMP/ex-$1-k"
	c1=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c "$1-n" -n "$N" -r "$RATE" -e "$FNL_TMP/ex-$1-n"
	c2=$FNL_LAST_PID
}
finish() {
	wait "$c1" || fnl_fail "$1: keyed client did not get every report"
	wait "$c2" || fnl_fail "$1: null-key client did not get every report"
	for b in 1 2 3; do fnl_broker_cmd "rtt $b 0" >/dev/null; done # read back at full speed
	fnl_verify_faulty "$1" 6 "$FNL_TMP/ex-$1-k" "$FNL_TMP/ex-$1-n"
	grep -q " 0 duplicates" "$FNL_TMP/check-$1.txt" || fnl_fail "$1: duplicates with a sequence-checking broker"
}

echo "== broker 2 down, then up"
run fdown
sleep 1; fnl_broker_cmd "down 2"; sleep 2; fnl_broker_cmd "up 2"
finish fdown

echo "== leaders move"
run flead
for p in 0 1 2 3 4 5; do sleep 0.3; fnl_broker_cmd "leader flead $p $(( (p + 1) % 3 + 1 ))"; done
finish flead

echo "== errors pushed on Produce"
run ferr
for e in NOT_LEADER_OR_FOLLOWER REQUEST_TIMED_OUT NOT_ENOUGH_REPLICAS NETWORK_EXCEPTION; do
	sleep 0.4; fnl_broker_cmd "push 0 $e $e $e"
done
finish ferr

echo "== connections closed by the broker"
run fclose
for b in 1 2 3; do sleep 0.4; fnl_broker_cmd "push_rtt $b 0 TRANSPORT 0"; done
finish fclose

echo "== 200 ms RTT, 5 in flight"
for b in 1 2 3; do fnl_broker_cmd "rtt $b 200"; done
run frtt
finish frtt

fnl_funneld_stop
echo "faults: ok"
