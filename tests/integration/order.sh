#!/usr/bin/env bash
# Per-key order across client processes, on the broker FNL_BROKER names (mock,
# kfake): fnl-order's processes (a ring each) hand key tokens around a circle
# of pipes; each produces a key's next record only after the previous holder's
# fnl_produce() returned, so every key's records come from different rings in
# a happens-before chain. funneld must append each key's records in that
# order (docs/architecture.md, "Order across rings"): read back with kcat,
# verify.py checks every record exactly once and each key's seqs in order.
# A second run adds bursts of unkeyed records of each process's own, so the
# rings fill unevenly and the daemon's passes find several rings busy.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"
: "${FNL_ORDER:=$FNL_BUILD_DIR/tests/integration/fnl-order}"

fnl_broker_start -b 3 -t order:6 -t orderb:6
fnl_funneld_start

run() { # run NAME TOPIC fnl-order-args...
	local name=$1 topic=$2
	shift 2
	echo "== $FNL_BROKER: $name"
	"$FNL_ORDER" -s "$FNL_SOCKET" -t "$topic" -e "$FNL_TMP/expect-$name" "$@" \
		>"$FNL_TMP/order-$name.out" || { cat "$FNL_TMP/order-$name.out"; fnl_fail "fnl-order $name"; }
	tail -1 "$FNL_TMP/order-$name.out"
	# the unkeyed bursts: "p<i> <count>" per process, each its own stream
	sed -n 's/^\(p[0-9]*\)\t\([0-9]*\)$/\1=\2/p' "$FNL_TMP/order-$name.out" | paste -sd, - \
		>"$FNL_TMP/own-$name"
}
run tokens order -p 8 -k 16 -n 400
run bursts orderb -p 6 -k 12 -n 200 -b 3
fnl_funneld_stop
fnl_readback_verify order 6 "$FNL_TMP/expect-tokens"
own=$(cat "$FNL_TMP/own-bursts")
"$FNL_READBACK" "$FNL_BOOTSTRAP" orderb 6 >"$FNL_TMP/rb-orderb.tsv" || fnl_fail "read-back of orderb"
python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-orderb.tsv" --expect "$FNL_TMP/expect-bursts" \
	--clients "$own" --partitions 6 --fail-on-duplicates ||
	fnl_fail "records of orderb do not match what was produced"
fnl_broker_stop
echo "order: ok"
