#!/usr/bin/env bash
# How Produce failures reach the reports and the log.
# 1. A broker that stops answering Produce: every request of one partition's
# leader answers only after 4 s while request.timeout.ms=1000 and
# delivery.timeout.ms=3000. funneld closes the connection at each request
# timeout and resends; once delivery.timeout.ms has passed the records fail,
# and their reports say REQUEST_TIMED_OUT (Java and librdkafka: a timeout),
# not NETWORK_EXCEPTION (a connection the broker or the network cut).
# 2. Meanwhile a topic led by the other broker is read back exactly once, in
#    order.
# 3. A fatal Produce answer (CLUSTER_AUTHORIZATION_FAILED: no IdempotentWrite
#    permission): the core's producer stops for good, as the Java producer
#    does; every record fails with that error, and funneld says so once in its
#    log, naming the error, the topic, the partition and the broker.
# 4. InitProducerId refused (CLUSTER_AUTHORIZATION_FAILED) at start-up: funneld
#    exits non-zero and its message names the error and the broker.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 120
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 2 -t slow:1 -t after:1 -t fatal:1
fnl_broker_cmd "leader slow 0 1" >/dev/null
fnl_broker_cmd "leader after 0 2" >/dev/null
fnl_broker_cmd "leader fatal 0 2" >/dev/null
fnl_funneld_start -X request.timeout.ms=1000 -X delivery.timeout.ms=3000 -X retry.backoff.ms=50
slow=()
for i in $(seq 1 40); do slow+=(0 4000); done
fnl_broker_cmd "push_rtt 1 Produce ${slow[*]}" >/dev/null

echo "== Produce answered after request.timeout.ms, until delivery.timeout.ms"
st=0
"$FNL_LOAD" -s "$FNL_SOCKET" -t slow -c slow -n 200 -p 0 2>"$FNL_TMP/slow.err" || st=$?
cat "$FNL_TMP/slow.err"
[[ $st -ne 0 ]] || fnl_fail "the records sent to a silent broker were reported delivered"
grep -q "delivered=0 failed=200 .*first_error=REQUEST_TIMED_OUT" "$FNL_TMP/slow.err" ||
	fnl_fail "records that timed out are not all reported REQUEST_TIMED_OUT"

echo "== the other broker's topic"
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t after -c after -n 2000 -k 20 -P 1 -e "$FNL_TMP/ex-after"
wait "$FNL_LAST_PID" || fnl_fail "after: the client did not get every delivery report"
fnl_readback_verify after 1 "$FNL_TMP/ex-after"

echo "== CLUSTER_AUTHORIZATION_FAILED on Produce"
fnl_broker_cmd "push Produce CLUSTER_AUTHORIZATION_FAILED" >/dev/null
st=0
"$FNL_LOAD" -s "$FNL_SOCKET" -t fatal -c fatal -n 100 -p 0 2>"$FNL_TMP/fatal.err" || st=$?
cat "$FNL_TMP/fatal.err"
grep -q "delivered=0 failed=100 .*first_error=CLUSTER_AUTHORIZATION_FAILED" "$FNL_TMP/fatal.err" ||
	fnl_fail "records after a fatal Produce answer are not all reported CLUSTER_AUTHORIZATION_FAILED"
grep "level=error" "$FNL_TMP/funneld.err" | grep "CLUSTER_AUTHORIZATION_FAILED" | grep "topic=fatal" |
	grep "partition=0" | grep -q "node=2" || {
	tail -5 "$FNL_TMP/funneld.err" >&2
	fnl_fail "funneld did not log the fatal Produce error with its topic, partition and broker"
}
fnl_funneld_stop

echo "== InitProducerId refused at start-up"
errs=()
for i in $(seq 1 8); do errs+=(CLUSTER_AUTHORIZATION_FAILED); done
fnl_broker_cmd "push InitProducerId ${errs[*]}" >/dev/null
st=0
mkdir -p "$FNL_TMP/state2" # no journal: the producer id is asked for, not restored
timeout 60 "$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" -X funnel.state.dir="$FNL_TMP/state2" \
	2>"$FNL_TMP/initpid.err" || st=$?
cat "$FNL_TMP/initpid.err"
[[ $st -ne 0 && $st -ne 124 ]] || fnl_fail "funneld did not exit with an error (status $st)"
grep "cannot get a producer id" "$FNL_TMP/initpid.err" | grep "CLUSTER_AUTHORIZATION_FAILED" |
	grep -q "127.0.0.1:" || fnl_fail "the start-up error does not name the Kafka error and the broker"
echo "produce_errors: ok"
