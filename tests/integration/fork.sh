#!/usr/bin/env bash
# libfunnel across fork(), on the broker FNL_BROKER names (mock, kfake): fnl-fork
# produces from one client, forks children (and a grandchild) in the middle of
# producing, and parent and children all keep producing through the inherited
# handles. Each process must get exactly one report per record of its own and
# none of another's; a child that only closes the inherited client leaves the
# parent's ring alone; children that _exit() without fnl_flush lose nothing.
# Everything is read back with kcat exactly once, in order per client and
# partition; funnel_reports_unread_total counts the reports the unflushed
# children never read.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"
source "$(dirname "$0")/obs/obs_lib.sh"
: "${FNL_FORK:=$FNL_BUILD_DIR/tests/integration/fnl-fork}"

unread_counted() {
	obs_http /metrics >"$FNL_TMP/scrape.txt" 2>/dev/null || return 1
	local u
	u=$(obs_metric "$FNL_TMP/scrape.txt" funnel_reports_unread_total)
	[[ -n $u ]] && ((u > 0)) && [[ $(obs_metric "$FNL_TMP/scrape.txt" funnel_clients_active) == 0 ]]
}

fnl_broker_start -b 3 -t forked:6
echo "== $FNL_BROKER: 5 children and a grandchild forked while producing"
obs_funneld_start
fnl_wait_for 20 fnl_funneld_ready "$FNL_SOCKET" || fnl_fail "funneld did not create its socket"
mkdir -p "$FNL_TMP/ex"
st=0
"$FNL_FORK" -s "$FNL_SOCKET" -t forked -n 30000 -f 5 -d "$FNL_TMP/ex" 2>&1 | tee "$FNL_TMP/fork.log" ||
	st=$?
[[ $st -eq 0 ]] || fnl_fail "a process lost, doubled or misrouted a report"
grep -q "^p: .* missing 0, twice 0, foreign 0" "$FNL_TMP/fork.log" || fnl_fail "the parent's reports"
[[ $(ls "$FNL_TMP/ex"/ex-* | wc -l) -eq 7 ]] || fnl_fail "expected 7 producing processes"
# c1 and g3 exited without fnl_flush: their unread reports are counted once released
fnl_wait_for 30 unread_counted ||
	fnl_fail "funnel_reports_unread_total not counted: $(grep -E 'unread|clients_active' "$FNL_TMP/scrape.txt")"
grep '^funnel_reports_unread_total' "$FNL_TMP/scrape.txt"
fnl_funneld_stop
fnl_readback_verify forked 6 "$FNL_TMP/ex"/ex-*
fnl_broker_stop
echo "fork: ok"
