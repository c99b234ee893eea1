#!/usr/bin/env bash
# Producer semantics against the broker harness:
# - acks=0 and acks=1 with enable.idempotence=false deliver every record;
# - a topic the cluster does not have fails fnl_topic() within max.block.ms
#   with a clear error, never a hang;
# - records whose leader stays down past delivery.timeout.ms get an error
#   report (REQUEST_TIMED_OUT) and funneld keeps serving;
# - versions are negotiated: a broker that only speaks Produce v3 still works.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 200
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 3 -t a0:3 -t a1:3 -t gone:1 -t old:2

echo "== acks=0 and acks=1 without idempotence"
fnl_funneld_start -X enable.idempotence=false -X acks=0
"$FNL_LOAD" -s "$FNL_SOCKET" -t a0 -c a0 -n 20000 -k 10 -P 3 -e "$FNL_TMP/ex-a0" || fnl_fail "acks=0 client"
fnl_funneld_stop
fnl_readback_verify a0 3 "$FNL_TMP/ex-a0"
fnl_funneld_start -X enable.idempotence=false -X acks=1
"$FNL_LOAD" -s "$FNL_SOCKET" -t a1 -c a1 -n 20000 -e "$FNL_TMP/ex-a1" || fnl_fail "acks=1 client"
fnl_funneld_stop
fnl_readback_verify a1 3 "$FNL_TMP/ex-a1"

echo "== a topic the cluster does not have"
fnl_broker_cmd "topic_error gone 3"
fnl_funneld_start -X max.block.ms=2000
t0=$(fnl_now_ms)
st=0
"$FNL_LOAD" -s "$FNL_SOCKET" -t gone -c g -n 10 2>"$FNL_TMP/gone.err" || st=$?
el=$(( $(fnl_now_ms) - t0 ))
cat "$FNL_TMP/gone.err"
[[ $st -ne 0 ]] || fnl_fail "producing to a missing topic succeeded"
(( el < 10000 )) || fnl_fail "missing topic took ${el} ms, more than max.block.ms allows"
grep -q "topic gone: .*not available (Kafka error 3) after max.block.ms=2000" "$FNL_TMP/gone.err" ||
	fnl_fail "the client did not get the daemon's explanation"
grep -q "not available" "$FNL_TMP/funneld.err" || fnl_fail "funneld did not log why"

echo "== leader down past delivery.timeout.ms"
fnl_funneld_stop
fnl_funneld_start -X delivery.timeout.ms=3000 -X request.timeout.ms=1000 -X linger.ms=5
fnl_broker_cmd "leader old 0 1"
fnl_broker_cmd "leader old 1 1"
fnl_broker_cmd "down 1"
st=0
"$FNL_LOAD" -s "$FNL_SOCKET" -t old -c d -n 100 2>"$FNL_TMP/down.err" || st=$?
cat "$FNL_TMP/down.err"
[[ $st -ne 0 ]] || fnl_fail "records to a down leader were reported delivered"
grep -q "failed=100 .*first_error=REQUEST_TIMED_OUT" "$FNL_TMP/down.err" ||
	fnl_fail "expected 100 REQUEST_TIMED_OUT reports"
fnl_broker_cmd "up 1"
kill -0 "$FNL_FUNNELD_PID" || fnl_fail "funneld died"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t old -c after -n 1000 -e "$FNL_TMP/ex-old" ||
	fnl_fail "funneld did not recover after the broker came back"
fnl_funneld_stop

echo "== a broker that speaks only Produce v3"
fnl_broker_cmd "apiversion Produce 3 3"
fnl_funneld_start
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t old -c v3 -n 5000 -e "$FNL_TMP/ex-v3" || fnl_fail "Produce v3 client"
fnl_funneld_stop
fnl_readback_verify old 2 "$FNL_TMP/ex-old" "$FNL_TMP/ex-v3"
echo "semantics: ok"
