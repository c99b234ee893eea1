#!/usr/bin/env bash
# Topic lookups against a cluster that does not auto-create topics (kfake-broker without
# -seed-topics-auto, like most production clusters):
# 1. a topic that does not exist fails fnl_topic() after max.block.ms with an error that
#    names the topic and the Kafka error (funnel-cat prints it, funneld logs it once), and
#    never "ring full"; while that lookup waits, other clients attach and produce at once;
# 2. a topic created while a client waits for it is found, without a restart;
# 3. a topic created after a failed lookup works, without a restart.
# Every record is read back with kcat.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 150
source "$(dirname "$0")/funnel_lib.sh"
fnl_broker_is_mock && fnl_fail "topics.sh needs a broker that does not create topics (FNL_BROKER=kfake)"
CAT=$FNL_BUILD_DIR/dataplane/client/funnel-cat

fnl_broker_start -b 3 -t here:3
fnl_funneld_start -X max.block.ms=4000

echo "== a missing topic, with other clients attaching meanwhile"
t0=$(fnl_now_ms)
echo lost | "$CAT" -s "$FNL_SOCKET" -t nosuch 2>"$FNL_TMP/nosuch.err" &
cat_pid=$!
fnl_track "$cat_pid"
sleep 0.3
pids=()
for i in 1 2 3 4; do
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t here -c "h$i" -n 2000 -k 10 -P 3 -e "$FNL_TMP/ex-h$i"
	pids+=("$FNL_LAST_PID")
done
for p in "${pids[@]}"; do wait "$p" || fnl_fail "a client of an existing topic failed during the lookup"; done
others_ms=$(( $(fnl_now_ms) - t0 ))
kill -0 "$cat_pid" 2>/dev/null ||
	fnl_fail "the lookup of nosuch ended before the other clients were done: nothing proves they ran meanwhile"
st=0
wait "$cat_pid" || st=$?
el=$(( $(fnl_now_ms) - t0 ))
cat "$FNL_TMP/nosuch.err"
echo "other clients done after ${others_ms} ms; lookup of nosuch failed after ${el} ms"
[[ $st -ne 0 ]] || fnl_fail "funnel-cat to a missing topic succeeded"
(( el >= 3500 && el < 9000 )) || fnl_fail "the lookup took ${el} ms; max.block.ms is 4000"
grep -q "topic 'nosuch' does not exist (UNKNOWN_TOPIC_OR_PARTITION" "$FNL_TMP/nosuch.err" ||
	fnl_fail "funnel-cat did not print the daemon's reason"
grep -q "ring full" "$FNL_TMP/nosuch.err" && fnl_fail "a lookup time-out was described as a full ring"
n=$(grep -c "topic lookup failed.*'nosuch'" "$FNL_TMP/funneld.err" || true)
[[ $n -eq 1 ]] || fnl_fail "funneld logged the failed lookup $n times (want once)"
fnl_readback_verify here 3 "$FNL_TMP"/ex-h*

echo "== a topic created while a client waits for it"
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t later -c l -n 1000 -k 5 -P 2 -e "$FNL_TMP/ex-later"
lpid=$FNL_LAST_PID
sleep 1
kill -0 "$lpid" 2>/dev/null || fnl_fail "the client did not wait for the missing topic"
fnl_broker_cmd "topic later 2"
wait "$lpid" || fnl_fail "the client waiting for 'later' failed after it was created"
fnl_readback_verify later 2 "$FNL_TMP/ex-later"

echo "== a topic created after a failed lookup"
fnl_broker_cmd "topic nosuch 1"
printf 'one\ntwo\n' | "$CAT" -s "$FNL_SOCKET" -t nosuch || fnl_fail "nosuch still failed after it was created"
"$FNL_READBACK" "$FNL_BOOTSTRAP" nosuch 1 >"$FNL_TMP/rb-nosuch.tsv" || fnl_fail "read-back of nosuch"
cut -f5 "$FNL_TMP/rb-nosuch.tsv" | tr '\n' ' ' | grep -qx "one two " ||
	fnl_fail "nosuch holds $(cut -f5 "$FNL_TMP/rb-nosuch.tsv" | tr '\n' ' '), want 'one two'"
kill -0 "$FNL_FUNNELD_PID" || fnl_fail "funneld died"
fnl_funneld_stop
echo "topics: ok"
