#!/usr/bin/env bash
# Clients come and go: a client killed with SIGKILL has what it appended
# delivered (a gap-free prefix, at least what it said it appended); a full ring
# gives backpressure (-EAGAIN), then progress, with nothing lost; 256 clients
# at once, each record read back exactly once.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"

fnl_broker_start -b 3 -t kill:4 -t full:2 -t many:8
fnl_funneld_start

# 1. SIGKILL a client in the middle of its run.
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t kill -c victim -n 2000000 -r 200000 -L "$FNL_TMP/victim.progress"
victim=$FNL_LAST_PID
fnl_wait_for 20 grep -q "appending=[0-9]*[1-9]" "$FNL_TMP/victim.progress" || fnl_fail "victim did not start"
sleep 0.5
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
appended=$(sed -n 's/.*=//p' "$FNL_TMP/victim.progress")
# the daemon drains what was published, then releases the slot
fnl_wait_for 20 grep -q "client detached" "$FNL_TMP/funneld.err" || fnl_fail "no detach logged"
sleep 1
"$FNL_READBACK" "$FNL_BOOTSTRAP" kill 4 >"$FNL_TMP/rb-kill.tsv" || fnl_fail "read-back of kill"
python3 - "$FNL_TMP/rb-kill.tsv" "$appended" <<'PY' || fnl_fail "the killed client's records are not a complete prefix"
import re, sys
seqs = [int(m.group(1)) for line in open(sys.argv[1])
        for m in [re.search(r"\tc=victim s=(\d+) ", line)] if m]
need = int(sys.argv[2])
got = sorted(seqs)
assert len(got) == len(set(got)), "duplicates"
assert got == list(range(len(got))), "a gap: lost records"
assert len(got) >= need, "fewer records than the client had appended: %d < %d" % (len(got), need)
print("killed client: %d records delivered, gap-free (it had appended >= %d)" % (len(got), need))
PY

# 2. A tiny ring and a slow broker: the client must see -EAGAIN, then finish.
#    (mock: 300 ms per response; kfake: the broker process stopped for 1.5 s)
if fnl_broker_is_mock; then
	for b in 1 2 3; do fnl_broker_cmd "rtt $b 300"; done
else
	"$FNL_LOAD" -q -s "$FNL_SOCKET" -t full -c full0 -n 10 -e "$FNL_TMP/ex-full0" ||
		fnl_fail "full: first client" # the topic is known before the broker stops
	kill -STOP "$FNL_BROKER_PID"
	(sleep 1.5; kill -CONT "$FNL_BROKER_PID") &
fi
"$FNL_LOAD" -s "$FNL_SOCKET" -t full -c full -n 20000 -S 200 -R 65536 -B -e "$FNL_TMP/ex-full" \
	2>"$FNL_TMP/full.err" || { cat "$FNL_TMP/full.err" >&2; fnl_fail "backpressure client failed"; }
cat "$FNL_TMP/full.err"
grep -Eq "eagain=[1-9]" "$FNL_TMP/full.err" || fnl_fail "the ring never filled: no backpressure seen"
if fnl_broker_is_mock; then
	for b in 1 2 3; do fnl_broker_cmd "rtt $b 0"; done
else
	wait $! # the continue
	cat "$FNL_TMP/ex-full0" >>"$FNL_TMP/ex-full"
fi
fnl_readback_verify full 2 "$FNL_TMP/ex-full"

# 3. 256 clients at once.
pids=()
for i in $(seq 1 256); do
	"$FNL_LOAD" -q -s "$FNL_SOCKET" -t many -c "m$i" -n 200 -k 16 -P 8 -R 65536 -e "$FNL_TMP/ex-m$i" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fnl_fail "one of 256 clients failed"; done
fnl_readback_verify many 8 "$FNL_TMP"/ex-m*
fnl_funneld_stop
echo "clients: ok"
