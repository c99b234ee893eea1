#!/usr/bin/env bash
# funneld's life: a bad properties file stops start-up with a message naming
# the key (exit != 0); SIGTERM with records pending (long linger) delivers all
# of them and exits 0.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 120
source "$(dirname "$0")/funnel_lib.sh"

# 1. Bad settings: each gives a clear message and a non-zero exit.
check_bad() { # expected-substring, then funneld arguments
	local want=$1 st=0
	shift
	"$FNL_FUNNELD" "$@" >"$FNL_TMP/bad.out" 2>&1 || st=$?
	[[ $st -ne 0 ]] || fnl_fail "funneld accepted: $*"
	grep -qF -- "$want" "$FNL_TMP/bad.out" || { cat "$FNL_TMP/bad.out" >&2; fnl_fail "message lacks '$want'"; }
	echo "refused ($st): $(head -1 "$FNL_TMP/bad.out")"
}
printf 'bootstrap.servers=127.0.0.1:1\nlinger.ms=soon\n' >"$FNL_TMP/bad1.properties"
check_bad "bad1.properties:2: linger.ms: 'soon' is not allowed" -c "$FNL_TMP/bad1.properties"
printf 'bootstrap.servers=127.0.0.1:1\nbatchsize=100\n' >"$FNL_TMP/bad2.properties"
check_bad "unknown key 'batchsize' (did you mean 'batch.size'?)" -c "$FNL_TMP/bad2.properties"
check_bad "enable.idempotence=true requires acks=all" -X bootstrap.servers=h:1 -X acks=1
check_bad "cannot open" -c "$FNL_TMP/missing.properties"
check_bad "bootstrap.servers is required" -X linger.ms=1

# 2. SIGTERM with records waiting in open batches (linger.ms far away).
fnl_broker_start -b 3 -t term:3
fnl_funneld_start -X linger.ms=60000 -X batch.size=1048576 -X max.request.size=2097152
fnl_spawn "$FNL_LOAD" -s "$FNL_SOCKET" -t term -c t -n 5000 -e "$FNL_TMP/ex-term" -L "$FNL_TMP/term.progress"
client=$FNL_LAST_PID
fnl_wait_for 20 grep -q "^appended=" "$FNL_TMP/term.progress" || fnl_fail "client did not append"
sleep 0.3
fnl_funneld_stop
wait "$client" || fnl_fail "the client did not get every delivery report after SIGTERM"
fnl_readback_verify term 3 "$FNL_TMP/ex-term"
echo "lifecycle: ok"
