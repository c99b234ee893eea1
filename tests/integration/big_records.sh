#!/usr/bin/env bash
# Records larger than batch.size (issue 17): at the defaults (batch.size 65536,
# max.request.size 1 MiB, zstd) a record of 100 KB or 900 KB gets a batch of its own,
# up to max.request.size, as in the Java producer, while small records of other
# clients keep flowing into the same partitions; every record is read back in order
# (kcat, CRCs checked) and every batch on the wire is good (fnl-rawfetch). A record
# larger than max.request.size fails alone with MESSAGE_TOO_LARGE. A second daemon
# at batch.size 1000000 takes the same load. Runs on both brokers (FNL_BROKER).
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 3 -t big_a:4 -t big_b:4 -t big_c:1
run() { # run TOPIC [funneld settings...]
	local t=$1
	shift
	fnl_funneld_start -X compression.type=zstd "$@"
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$t" -c "$t-big" -n 40 -S 100000 \
		-R 4194304 -e "$FNL_TMP/ex-$t-1"
	local p1=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$t" -c "$t-huge" -n 6 -S 900000 -k 3 -P 4 \
		-R 4194304 -e "$FNL_TMP/ex-$t-2"
	local p2=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$t" -c "$t-small" -n 20000 -k 8 -P 4 \
		-e "$FNL_TMP/ex-$t-3"
	local p3=$FNL_LAST_PID
	for p in $p1 $p2 $p3; do wait "$p" || fnl_fail "$t: a client did not get every report"; done
	fnl_funneld_stop
	fnl_readback_verify "$t" 4 "$FNL_TMP/ex-$t-1" "$FNL_TMP/ex-$t-2" "$FNL_TMP/ex-$t-3"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$t" >"$FNL_TMP/raw-$t.txt" || fnl_fail "rawfetch $t"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$t.txt" --idempotent |
		tail -1 | tee "$FNL_TMP/b-$t.txt"
	grep -q " 0 bad crc, .* 0 resent, 0 sequence errors" "$FNL_TMP/b-$t.txt" ||
		fnl_fail "$t: batches on the wire are not all good"
}

echo "== defaults: batch.size 65536"
run big_a
echo "== batch.size 1000000"
run big_b -X batch.size=1000000

echo "== a record larger than max.request.size fails alone"
fnl_funneld_start -X compression.type=zstd
st=0
"$FNL_LOAD" -s "$FNL_SOCKET" -t big_c -c too-big -n 1 -S 1100000 -R 8388608 \
	2>"$FNL_TMP/too-big.err" || st=$?
cat "$FNL_TMP/too-big.err"
[[ $st -ne 0 ]] || fnl_fail "a 1.1 MB record was acknowledged"
grep -q "first_error=MESSAGE_TOO_LARGE" "$FNL_TMP/too-big.err" ||
	fnl_fail "a 1.1 MB record did not fail with MESSAGE_TOO_LARGE"
"$FNL_LOAD" -q -s "$FNL_SOCKET" -t big_c -c after -n 100 -e "$FNL_TMP/ex-c" ||
	fnl_fail "records after the refused one were not delivered"
fnl_funneld_stop
fnl_readback_verify big_c 1 "$FNL_TMP/ex-c"
echo "big_records: ok"
