#!/usr/bin/env bash
# Version negotiation against a real broker at its full range and capped to Kafka releases
# (kfake-broker -as-version): funneld must pick, for each API, the highest version both
# sides speak, and deliver through it. Per release: the versions funneld says it uses
# (ctrl's cluster connection: ApiVersions, Metadata, InitProducerId; each data-plane
# broker connection: Produce), then keyed records with headers, every one read back with
# kcat (CRCs checked) and the batches with fnl-rawfetch (zstd, idempotent, in sequence).
# The mock's range (Produce v7, Metadata v2) is checked by semantics.sh.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"
fnl_broker_is_mock && fnl_fail "versions.sh caps kfake-broker's versions (FNL_BROKER=kfake)"

# release  ApiVersions Metadata InitProducerId Produce (what funneld must use)
cases=(
	"full 4 13 5 12"
	"3.9 4 12 5 11"
	"3.7 3 12 4 10"
	"3.0 3 11 4 9"
	"2.8 3 11 4 9"
	"2.4 3 9 2 8"
	"2.0 2 6 1 6"
)
for c in "${cases[@]}"; do
	read -r rel av md ip pr <<<"$c"
	echo "== $rel: ApiVersions v$av Metadata v$md InitProducerId v$ip Produce v$pr"
	cap=()
	[[ $rel == full ]] || cap=(-- -as-version "$rel")
	t=v${rel//./_}
	fnl_broker_start -b 3 -t "$t:4" "${cap[@]}"
	: >"$FNL_TMP/funneld.err"
	fnl_funneld_start
	"$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$t" -c "$t" -n 5000 -k 40 -P 4 -H ver="$rel" \
		-e "$FNL_TMP/ex-$t" || fnl_fail "$rel: the client did not get every report"
	fnl_funneld_stop
	want="api_versions_version=$av metadata_version=$md init_producer_id_version=$ip"
	grep -q "cluster connection ready .*$want" "$FNL_TMP/funneld.err" || {
		grep "cluster connection ready" "$FNL_TMP/funneld.err" >&2
		fnl_fail "$rel: ctrl did not negotiate $want"
	}
	got=$(sed -n 's/.*broker connection ready .*produce_version=\([0-9]*\).*/\1/p' \
		"$FNL_TMP/funneld.err" | sort -u | tr '\n' ' ')
	[[ $got == "$pr " ]] || fnl_fail "$rel: Produce versions used: '$got', want $pr"
	fnl_readback_verify "$t" 4 "$FNL_TMP/ex-$t"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$t" >"$FNL_TMP/raw-$t.txt" || fnl_fail "rawfetch $t"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$t.txt" --codec zstd --idempotent |
		tail -1 | tee "$FNL_TMP/b-$t.txt"
	grep -q " 0 bad crc, 0 codec mismatches, 0 resent, 0 sequence errors" "$FNL_TMP/b-$t.txt" ||
		fnl_fail "$rel: batches on the wire are not all good"
	fnl_broker_stop
done
echo "versions: ok"
