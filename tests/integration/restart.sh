#!/usr/bin/env bash
# funneld killed with SIGKILL at random moments, 20 times, while three clients
# produce; a new funneld is started each time. Clients keep their rings and
# re-attach; the new daemon continues each ring where the reports stopped.
# Every record must be read back (none lost). Records that were in flight when
# funneld died are sent again by its successor: the test reports how many
# duplicates landed (at-least-once across a daemon crash; docs/reliability.md).
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 3 -t rs:6
fnl_funneld_start -X max.block.ms=30000 -X funnel.metrics.listen=
KILLS=${FNL_RESTART_KILLS:-20}
N=${FNL_RESTART_RECORDS:-40000}
for c in a b c; do
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t rs -c "r$c" -n "$N" -k 97 -P 6 -r 3000 \
		-e "$FNL_TMP/ex-$c"
	eval "pid_$c=\$FNL_LAST_PID"
done

ready_count() { grep -c "funneld ready" "$FNL_TMP/funneld.err" || true; }
restarted() { [[ $(ready_count) -gt $before ]]; }
for i in $(seq 1 "$KILLS"); do
	sleep "0.$(( RANDOM % 5 + 2 ))"
	kill -KILL "$FNL_FUNNELD_PID" 2>/dev/null || true
	wait "$FNL_FUNNELD_PID" 2>/dev/null || true
	before=$(ready_count)
	"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" -X max.block.ms=30000 \
		-X funnel.metrics.listen= 2>>"$FNL_TMP/funneld.err" &
	FNL_FUNNELD_PID=$!
	fnl_track "$FNL_FUNNELD_PID"
	fnl_wait_for 20 restarted || fnl_fail "funneld did not restart ($i)"
done
echo "funneld killed and restarted $KILLS times"
for c in a b c; do
	eval "p=\$pid_$c"
	wait "$p" || fnl_fail "client r$c did not get a successful report for every record"
done
fnl_funneld_stop

"$FNL_READBACK" "$FNL_BOOTSTRAP" rs 6 >"$FNL_TMP/rb-rs.tsv" || fnl_fail "read-back failed"
cat "$FNL_TMP"/ex-a "$FNL_TMP"/ex-b "$FNL_TMP"/ex-c >"$FNL_TMP/expect-rs.tsv"
python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-rs.tsv" --expect "$FNL_TMP/expect-rs.tsv" \
	>"$FNL_TMP/check.txt" || true
tail -1 "$FNL_TMP/check.txt"
grep -q " 0 missing" "$FNL_TMP/check.txt" || fnl_fail "records were lost across daemon crashes"
dups=$(sed -n 's/.*records, \([0-9]*\) duplicates.*/\1/p' "$FNL_TMP/check.txt")
echo "restart: ok: $((3 * N)) records, none lost, $dups duplicates after $KILLS SIGKILLs"
