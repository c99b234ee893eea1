#!/usr/bin/env bash
# hostile_broker.sh MODE [BAD_N [METADATA_MODE]]: funneld against tests/hostile/fakebroker.py, a
# one-node Kafka peer that answers ApiVersions, Metadata and InitProducerId
# correctly and Produce with the misbehaviour MODE (see fakebroker.py).
#
#   BAD_N absent / -1: every Produce answer is bad. Checks: funneld stays up,
#     logs why it closed the connection (unless the mode keeps the connection
#     usable), the client gets a delivery report for EVERY record (errors
#     after delivery.timeout.ms are fine) within a bound, never a hang; a
#     second client can still attach and gets its report; no ASan/UBSan
#     report; SIGTERM exits 0.
#   BAD_N >= 0: the first BAD_N answers are bad, then the broker behaves:
#     every record must be delivered OK, and what the broker stored (deduped
#     by producer id, epoch and sequence, like Kafka) must be every record
#     exactly once, in order (tests/harness/verify.py check).
#   METADATA_MODE (fakebroker --md): Metadata refreshes after the topic was
#     registered are hostile (leader not a broker, no leader, partition count
#     changes, odd partition ids, 200,000 partitions, none, a bad broker
#     address): every record gets a report, funneld stays up and serves a new
#     client, no sanitizer report.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 100
source "$(dirname "$0")/funnel_lib.sh"

MODE=${1:?usage: hostile_broker.sh MODE [BAD_N [METADATA_MODE]]}
BAD=${2:--1}
MD=${3:-good} # fakebroker --md: hostile Metadata refreshes (metadata.max.age.ms=300)
N=${FNL_HOSTILE_RECORDS:-300}
FAKEBROKER=${FNL_FAKEBROKER:-$(dirname "$0")/../hostile/fakebroker.py}
DELIVERY_MS=3000
RATE=()
[[ $MD == good ]] || RATE=(-r 150) # 2 s of records, across several metadata refreshes
REQUEST_MS=1000

fnl_spawn python3 "$FAKEBROKER" --mode "$MODE" --bad "$BAD" --md "$MD" --store "$FNL_TMP/store.tsv" \
	--log "$FNL_TMP/fakebroker.log" --portfile "$FNL_TMP/fb.port" >/dev/null
fb=$FNL_LAST_PID
fnl_wait_for 10 test -s "$FNL_TMP/fb.port" || fnl_fail "fakebroker did not start"
FNL_BOOTSTRAP=$(awk '{print $2}' "$FNL_TMP/fb.port")
export FNL_BOOTSTRAP

fnl_funneld_start -X funnel.metrics.listen= -X compression.type=gzip -X request.timeout.ms=$REQUEST_MS \
	-X delivery.timeout.ms=$DELIVERY_MS -X retry.backoff.ms=50 -X linger.ms=2 -X batch.size=4096 \
	-X metadata.max.age.ms=300

# run_client NAME COUNT: fnl-load under a hard bound; prints its summary line.
run_client() {
	local st=0
	timeout -s KILL 45 "$FNL_LOAD" -s "$FNL_SOCKET" -t hostile -c "$1" -n "$2" -S 80 "${RATE[@]}" \
		-e "$FNL_TMP/ex-$1.tsv" 2>"$FNL_TMP/load-$1.err" || st=$?
	[[ $st -ne 137 ]] || fnl_fail "client $1 hung (killed after 45 s): $(cat "$FNL_TMP/load-$1.err")"
	[[ $st -ne 2 ]] || fnl_fail "client $1 could not attach: $(cat "$FNL_TMP/load-$1.err")"
	grep "produced=" "$FNL_TMP/load-$1.err" || true
	return $st
}

# every_report NAME COUNT: the client's summary shows a report for each record.
every_report() {
	local line p d f
	line=$(grep -o "produced=[0-9]* delivered=[0-9]* failed=[0-9]*.*" "$FNL_TMP/load-$1.err") ||
		fnl_fail "client $1 printed no summary"
	p=$(sed 's/.*produced=\([0-9]*\).*/\1/' <<<"$line")
	d=$(sed 's/.*delivered=\([0-9]*\).*/\1/' <<<"$line")
	f=$(sed 's/.*failed=\([0-9]*\).*/\1/' <<<"$line")
	[[ $p -eq $2 && $((d + f)) -eq $2 ]] || fnl_fail "client $1: not every record got a report: $line"
	[[ $line == *"flush=ok"* ]] || fnl_fail "client $1: flush did not finish: $line"
}

t0=$(fnl_now_ms)
st=0
run_client a "$N" || st=$?
t1=$(fnl_now_ms)
echo "mode=$MODE bad=$BAD: client a exit $st after $((t1 - t0)) ms"
every_report a "$N"
kill -0 "$FNL_FUNNELD_PID" 2>/dev/null || fnl_fail "funneld died (mode $MODE)"

if [[ $MD != good ]]; then
	# Hostile metadata: records may fail, but each gets a report, and funneld
	# still serves a new client.
	((t1 - t0 < DELIVERY_MS + 15000)) || fnl_fail "reports took $((t1 - t0)) ms"
	st=0
	run_client b 3 || st=$?
	every_report b 3
elif [[ $BAD -lt 0 && $MODE != good ]]; then
	# Reports must not take much longer than delivery.timeout.ms (+ linger, slack for ASan).
	((t1 - t0 < DELIVERY_MS + 15000)) || fnl_fail "reports took $((t1 - t0)) ms"
	case $MODE in
	negcount | negparts) ;; # answers without partitions: funneld may keep the connection
	*)
		# a broker-connection line (they carry node=) giving a reason
		grep -Eiq "(clos|timed out|disconnect|malformed|unexpected|bad frame|too large|reset).*node=" \
			"$FNL_TMP/funneld.err" ||
			{
				tail -20 "$FNL_TMP/funneld.err" >&2
				fnl_fail "funneld logged no reason for dropping the connection (mode $MODE)"
			}
		;;
	esac
	# Still accepts (and reports to) a new client.
	st=0
	run_client b 3 || st=$?
	every_report b 3
else
	[[ $st -eq 0 ]] || fnl_fail "records were not all delivered after the broker recovered"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/store.tsv" --expect "$FNL_TMP/ex-a.tsv" \
		--fail-on-duplicates || fnl_fail "stored records differ from what was produced"
fi
kill -0 "$FNL_FUNNELD_PID" 2>/dev/null || fnl_fail "funneld died (mode $MODE)"
fnl_funneld_stop
if grep -E "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$FNL_TMP/funneld.err" >&2; then
	fnl_fail "sanitizer report in funneld's log"
fi
kill "$fb" 2>/dev/null || true
echo "hostile_broker $MODE $BAD: ok"
