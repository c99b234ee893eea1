#!/usr/bin/env bash
# hostile_client.sh SCENARIO: hostile clients next to a well-behaved one, against
# the broker harness (fnl-mockbroker), funneld from the ASan/UBSan build.
#
#   ring    fnl-ringgarbage corrupts its own live ring for 10 s (indexes, lengths,
#           PADs, types, flags, topic ids, headers_len, random bytes, daemon-owned
#           fields), re-attaching after every quarantine, while fnl-load produces
#           to another topic. funneld must stay up, log each quarantine, and the
#           good client's records must all be delivered and read back (kcat +
#           verify.py), exactly once and in order.
#   ctl     refused rings (no seals, one seal missing, not a memfd, bad header,
#           wrong size, no fd), HELLO twice, malformed control messages, and
#           connections that never say HELLO, with funnel.clients.max=8: each
#           gets a clear refusal or a closed socket, never a hang; funneld stays
#           up; a good client attaches and delivers afterwards.
#   hdrflip a client flips its ring's magic (line 0) while attaching, so that
#           funneld's ctrl thread (which validates the HELLO) and its core (which
#           builds the view) may read different headers; funneld must survive and
#           the good client deliver.
#   topics  one client registers more topic names than funnel.topics.max; another
#           client must still be able to register its topic and deliver.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 110
source "$(dirname "$0")/funnel_lib.sh"

SCENARIO=${1:-ring}
RG=${FNL_RINGGARBAGE:-$FNL_BUILD_DIR/tests/hostile/fnl-ringgarbage}
[[ -x $RG ]] || fnl_fail "fnl-ringgarbage not found at $RG"

sanitizer_clean() {
	if grep -E "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$FNL_TMP/funneld.err" >&2; then
		fnl_fail "sanitizer report in funneld's log"
	fi
}
alive() {
	kill -0 "$FNL_FUNNELD_PID" 2>/dev/null || {
		tail -30 "$FNL_TMP/funneld.err" >&2
		fnl_fail "funneld died ($*)"
	}
}

case $SCENARIO in
ring)
	fnl_broker_start -b 1 -t good:3 -t hostile:1
	fnl_funneld_start -X funnel.metrics.listen= -X funnel.clients.max=8
	N=25000
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t good -c good -n $N -k 64 -P 3 -r 2500 \
		-e "$FNL_TMP/ex-good"
	good=$FNL_LAST_PID
	st=0
	timeout -s KILL 60 "$RG" -s "$FNL_SOCKET" -t hostile -m ring -d 10 -v || st=$?
	[[ $st -ne 137 ]] || fnl_fail "fnl-ringgarbage hung"
	alive "ring garbage"
	[[ $st -eq 0 ]] || fnl_fail "the hostile client was not quarantined as expected (exit $st)"
	wait "$good" || fnl_fail "the good client did not get a successful report for every record"
	n=$(grep -c "client quarantined" "$FNL_TMP/funneld.err" || true)
	[[ $n -gt 0 ]] || fnl_fail "funneld logged no quarantine"
	echo "funneld logged $n quarantine lines (rate-limited)"
	fnl_readback_verify good 3 "$FNL_TMP/ex-good"
	alive "after read-back"
	;;
ctl)
	fnl_broker_start -b 1 -t good:3 -t hostile:1
	fnl_funneld_start -X funnel.metrics.listen= -X funnel.clients.max=8
	fails=()
	for m in noseal shrinkonly growonly notmemfd badhdr badsize nofd hello2 ctlgarbage nohello; do
		st=0
		timeout -s KILL 60 "$RG" -s "$FNL_SOCKET" -t hostile -m $m || st=$?
		[[ $st -eq 0 ]] || fails+=("$m(exit $st)")
		alive "mode $m"
	done
	grep -q 'client ring refused.*must be sealed' "$FNL_TMP/funneld.err" ||
		fails+=("no log line for the unsealed ring")
	timeout -s KILL 60 "$FNL_LOAD" -q -s "$FNL_SOCKET" -t good -c after -n 2000 -e "$FNL_TMP/ex-good" ||
		fails+=("a good client after the hostile ones did not deliver")
	fnl_readback_verify good 3 "$FNL_TMP/ex-good"
	[[ ${#fails[@]} -eq 0 ]] || fnl_fail "hostile control clients: ${fails[*]}"
	;;
hdrflip)
	fnl_broker_start -b 1 -t good:3 -t hostile:1
	fnl_funneld_start -X funnel.metrics.listen=
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t good -c good -n 10000 -r 2000 -e "$FNL_TMP/ex-good"
	good=$FNL_LAST_PID
	st=0
	timeout -s KILL 60 "$RG" -s "$FNL_SOCKET" -t hostile -m hdrflip -d 5 || st=$?
	alive "ring header flipped during attach"
	[[ $st -eq 0 ]] || fnl_fail "fnl-ringgarbage -m hdrflip failed (exit $st)"
	wait "$good" || fnl_fail "the good client did not get a successful report for every record"
	fnl_readback_verify good 3 "$FNL_TMP/ex-good"
	;;
topics)
	fnl_broker_start -b 1 -t good:3
	fnl_funneld_start -X funnel.metrics.listen= -X funnel.topics.max=8
	timeout -s KILL 60 "$RG" -s "$FNL_SOCKET" -m topicflood -d 20 || fnl_fail "topic flood client failed"
	alive "topic flood"
	timeout -s KILL 60 "$FNL_LOAD" -q -s "$FNL_SOCKET" -t good -c after -n 500 -e "$FNL_TMP/ex-good" ||
		fnl_fail "after one client registered funnel.topics.max topic names, another client cannot use its topic"
	fnl_readback_verify good 3 "$FNL_TMP/ex-good"
	;;
*)
	fnl_fail "unknown scenario $SCENARIO"
	;;
esac
fnl_funneld_stop
sanitizer_clean
echo "hostile_client $SCENARIO: ok"
