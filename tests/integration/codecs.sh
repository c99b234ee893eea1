#!/usr/bin/env bash
# Every codec (none, gzip, snappy, lz4, zstd), each on its own topic of 6 partitions, with
# keyed, null-key and explicit-partition records carrying headers: read back with two
# independent consumers, kcat (librdkafka, CRCs checked) and python3-kafka (pure Python,
# its own decoder and decompressors), and every batch on the wire is of that codec, with a
# valid CRC and in sequence (fnl-rawfetch). Runs on both brokers (FNL_BROKER).
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"

codecs=(none gzip snappy lz4 zstd)
topics=()
for c in "${codecs[@]}"; do topics+=(-t "c_$c:6"); done
fnl_broker_start -b 3 "${topics[@]}"
for c in "${codecs[@]}"; do
	echo "== compression.type=$c"
	fnl_funneld_start -X compression.type="$c"
	t=c_$c
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$t" -c "$c-k" -n 3000 -k 30 -P 6 -H codec="$c" \
		-e "$FNL_TMP/ex-$c-1"
	p1=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$t" -c "$c-n" -n 3000 -S 120 -e "$FNL_TMP/ex-$c-2"
	p2=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$t" -c "$c-p" -n 1000 -p 4 -H h=v -e "$FNL_TMP/ex-$c-3"
	p3=$FNL_LAST_PID
	for p in $p1 $p2 $p3; do wait "$p" || fnl_fail "$c: a client did not get every report"; done
	fnl_funneld_stop
	fnl_readback_verify "$t" 6 "$FNL_TMP/ex-$c-1" "$FNL_TMP/ex-$c-2" "$FNL_TMP/ex-$c-3"
	fnl_pyreadback_verify "$t" 6 "$FNL_TMP/ex-$c-1" "$FNL_TMP/ex-$c-2" "$FNL_TMP/ex-$c-3"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$t" >"$FNL_TMP/raw-$t.txt" || fnl_fail "rawfetch $t"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$t.txt" --codec "$c" --idempotent |
		tail -1 | tee "$FNL_TMP/b-$t.txt"
	grep -q " 0 bad crc, 0 codec mismatches, 0 resent, 0 sequence errors" "$FNL_TMP/b-$t.txt" ||
		fnl_fail "$c: batches on the wire are not all good"
done
echo "codecs: ok"
