#!/usr/bin/env bash
# gunicorn --preload (sync workers) serving tests/wsgi_app.py, which produces
# one record per request through the Producer the master created before
# forking. ab drives it: 32 keys, one ab each at concurrency 1 (32 requests
# at a time in all, a key's requests one after another, so each key's
# produce() calls are ordered by happens-before across the workers);
# --max-requests recycles workers during the run and one worker is SIGKILLed
# mid-run. Every record whose request got HTTP 200 (its name is in the X-Rec
# header ab prints) is read back exactly once and in per-key order across
# workers (records of requests cut off by the kill may be there too, but only
# once). On the broker FNL_BROKER names.
set -euo pipefail
source "$(dirname "$0")/../../../tests/harness/lib.sh"
fnl_test_init 560
source "$(dirname "$0")/../../../tests/integration/funnel_lib.sh"
source "$(dirname "$0")/py_lib.sh"
REQUESTS=${FNL_PY_REQUESTS:-20000}
KEYS=32

fnl_broker_start -b 3 -t pyg:6
fnl_funneld_start -X funnel.metrics.listen= -X funnel.clients.max=256
export FNL_PY_TOPIC=pyg FNL_PY_SEQDIR=$FNL_TMP/seq
mkdir -p "$FNL_PY_SEQDIR"
cd "$PY_TESTS"
gunicorn=(gunicorn --preload -w 4 -k sync --max-requests 400 --max-requests-jitter 200
	--graceful-timeout 30 -b 127.0.0.1:0 --error-logfile - wsgi_app:application)
if [[ -n ${FNL_PY_PRELOAD:-} ]]; then
	LD_PRELOAD=$FNL_PY_PRELOAD ASAN_OPTIONS=detect_leaks=0 "${gunicorn[@]}" >"$FNL_TMP/gunicorn.log" 2>&1 &
else
	"${gunicorn[@]}" >"$FNL_TMP/gunicorn.log" 2>&1 &
fi
GPID=$!
fnl_track "$GPID"
fnl_wait_for 30 grep -q "Listening at: http://127.0.0.1:" "$FNL_TMP/gunicorn.log" ||
	{ cat "$FNL_TMP/gunicorn.log"; fnl_fail "gunicorn did not start"; }
PORT=$(sed -n 's/.*Listening at: http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$FNL_TMP/gunicorn.log" | head -1)
echo "gunicorn master $GPID on port $PORT"

abs=()
for k in $(seq 0 $((KEYS - 1))); do
	ab -r -v 2 -n $((REQUESTS / KEYS)) -c 1 "http://127.0.0.1:$PORT/?key=key$k" \
		>"$FNL_TMP/ab$k.log" 2>"$FNL_TMP/ab$k.err" &
	abs+=($!)
	fnl_track $!
done
# one worker SIGKILLed once the run is well under way
fnl_wait_for 120 bash -c "(( \$(grep -c '^X-Rec:' '$FNL_TMP'/ab*.log | awk -F: '{s+=\$2} END {print s}') >= $REQUESTS / 3 ))" ||
	fnl_fail "the requests did not get going"
killed() { grep -q "Worker with pid $1 was terminated due to signal 9" "$FNL_TMP/gunicorn.log"; }
victim=
for _ in $(seq 10); do
	# the newest worker (the farthest from --max-requests); one that was leaving
	# anyway exits normally in gunicorn's eyes: then take another
	v=$(pgrep -n -P "$GPID") || true
	if [[ -n $v ]] && kill -KILL "$v" 2>/dev/null && fnl_wait_for 5 killed "$v"; then
		victim=$v
		break
	fi
done
[[ -n $victim ]] || fnl_fail "could not SIGKILL a gunicorn worker that was serving"
echo "SIGKILLed worker $victim"
for p in "${abs[@]}"; do wait "$p" || fnl_fail "ab failed: $(cat "$FNL_TMP"/ab*.err | tail -5)"; done
grep -h -E "^(Complete|Failed) requests|^Non-2xx" "$FNL_TMP"/ab*.log | sort | uniq -c
kill -TERM "$GPID"
wait "$GPID" || true
recycled=$(grep -c "Autorestarting worker" "$FNL_TMP/gunicorn.log" || true)
echo "workers recycled by --max-requests: $recycled"
((recycled >= 4)) || fnl_fail "workers were not recycled during the run"
fnl_funneld_stop

"$FNL_READBACK" "$FNL_BOOTSTRAP" pyg 6 >"$FNL_TMP/rb.tsv" || fnl_fail "read-back failed"
# records that got 200 (from ab's headers): each exactly once, each key's in order
fnl_py - "$FNL_TMP" $REQUESTS <<'PY' >"$FNL_TMP/expect" || fnl_fail "too few requests got HTTP 200"
import glob, sys
tmp, requests = sys.argv[1], int(sys.argv[2])
n200 = 0
for path in sorted(glob.glob(tmp + "/ab*.log")):
    for line in open(path, errors="replace"):
        if line.startswith("X-Rec: "):
            name, s = line[7:].split()
            print("%s\t%s\tpyg\t*\t%s\t\t*" % (name, s, name))
            n200 += 1
print("%d requests got HTTP 200" % n200, file=sys.stderr)
assert n200 >= requests * 0.95, "only %d of %d requests got 200" % (n200, requests)
PY
# a request cut off by the kill may have left a record: allowed, but only once
st=0
python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb.tsv" --expect "$FNL_TMP/expect" \
	--partitions 6 --fail-on-duplicates --allow-unexpected >"$FNL_TMP/verify.out" || st=$?
cat "$FNL_TMP/verify.out"
((st == 0)) || fnl_fail "records lost, doubled or out of order"
unexpected=$(sed -n 's/.* \([0-9]*\) unexpected records/\1/p' "$FNL_TMP/verify.out")
((${unexpected:-0} <= 2)) || fnl_fail "$unexpected records beyond the 200 answers"
echo "py_gunicorn: ok"
