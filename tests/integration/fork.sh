#!/usr/bin/env bash
# libfunnel across fork(), against the mock harness and then kfake-broker (strict
# CRC and idempotent-sequence checks): fnl-fork produces from one client, forks
# children (and a grandchild) in the middle of producing, and parent and
# children all keep producing through the inherited handles. Each process must
# get exactly one report per record of its own and none of another's; children
# that _exit() without fnl_flush lose nothing. Everything is read back with
# kcat exactly once, in order per client and key; funnel_reports_unread_total
# counts the reports the unflushed children never read.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"
source "$(dirname "$0")/obs/obs_lib.sh"
: "${FNL_FORK:=$FNL_BUILD_DIR/tests/integration/fnl-fork}"
: "${FNL_KFAKE:=$(cd "$(dirname "$0")/../.." && pwd)/../shared/brokers/kfake-broker}"
[[ -x $FNL_KFAKE ]] || FNL_KFAKE=/work/shared/brokers/kfake-broker

# kfake_start TOPIC:PARTS: kfake-broker with 3 brokers; sets FNL_BOOTSTRAP
kfake_start() {
	rm -f "$FNL_TMP/kfake.boot"
	"$FNL_KFAKE" -brokers 3 -topic "$1" -bootfile "$FNL_TMP/kfake.boot" \
		>"$FNL_TMP/kfake.out" 2>"$FNL_TMP/kfake.err" &
	KFAKE_PID=$!
	fnl_track "$KFAKE_PID"
	fnl_wait_for 20 test -s "$FNL_TMP/kfake.boot" || fnl_fail "kfake-broker did not write its bootfile"
	FNL_BOOTSTRAP=$(cat "$FNL_TMP/kfake.boot")
	export FNL_BOOTSTRAP
}

kfake_stop() {
	kill -TERM "$KFAKE_PID"
	wait "$KFAKE_PID" || true
}

unread_counted() {
	obs_http /metrics >"$FNL_TMP/scrape.txt" 2>/dev/null || return 1
	local u
	u=$(obs_metric "$FNL_TMP/scrape.txt" funnel_reports_unread_total)
	[[ -n $u ]] && ((u > 0)) && [[ $(obs_metric "$FNL_TMP/scrape.txt" funnel_clients_active) == 0 ]]
}

# round NAME TOPIC PARTS: funneld on $FNL_BOOTSTRAP, fnl-fork, read back, check
round() {
	local name=$1 topic=$2 parts=$3
	echo "== $name: 5 children and a grandchild forked while producing"
	mkdir -p "$FNL_TMP/$name"
	# a fresh log: obs_funneld_start reads the metrics port from it
	[[ ! -f $FNL_TMP/funneld.err ]] || mv "$FNL_TMP/funneld.err" "$FNL_TMP/funneld-before-$name.err"
	obs_funneld_start
	fnl_wait_for 20 test -S "$FNL_SOCKET" || fnl_fail "funneld did not create its socket"
	"$FNL_FORK" -s "$FNL_SOCKET" -t "$topic" -n 30000 -f 5 -d "$FNL_TMP/$name" \
		2>&1 | tee "$FNL_TMP/$name/fork.log"
	[[ ${PIPESTATUS[0]} -eq 0 ]] || fnl_fail "$name: a process lost, doubled or misrouted a report"
	grep -q "^p: .* missing 0, twice 0, foreign 0" "$FNL_TMP/$name/fork.log" || fnl_fail "$name: parent"
	[[ $(ls "$FNL_TMP/$name"/ex-* | wc -l) -eq 7 ]] || fnl_fail "$name: expected 7 producers"
	# c1 and g3 exited without fnl_flush: their unread reports are counted once released
	fnl_wait_for 30 unread_counted || fnl_fail "$name: funnel_reports_unread_total not counted: $(grep -E 'unread|clients_active' "$FNL_TMP/scrape.txt")"
	echo "$name: $(grep '^funnel_reports_unread_total' "$FNL_TMP/scrape.txt")"
	fnl_funneld_stop
	fnl_readback_verify "$topic" "$parts" "$FNL_TMP/$name"/ex-*
}

fnl_broker_start -b 3 -t forked:6
round mock forked 6
fnl_broker_stop

kfake_start kforked:6
round kfake kforked 6
kfake_stop
echo "fork: ok"
