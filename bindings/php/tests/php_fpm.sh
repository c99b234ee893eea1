#!/usr/bin/env bash
# The PHP extension in a real server: nginx + php-fpm (processes of this test,
# configs in its temp dir, 127.0.0.1 on a free port) with funnel.so, a page
# producing one keyed record per request, driven by ab: FNL_PHP_REQUESTS
# (20000) requests, 32 at a time (one ab per key, so each key's requests are
# sequential and its records have a defined order), pm.max_requests low so
# workers are recycled during the run, and one worker SIGKILLed mid-run.
# Keys k0, k4, ... also set a delivery callback with an opaque object and
# flush() (500 unless their report came back good); k1, k5, ... set them and
# only poll(0), so reports come back after their request ended.
# Every record whose request got 200 must be read back exactly once, in
# per-key order across workers (a key's requests are sequential, so each
# produce() began after the previous one returned, in whichever worker: funnel
# keeps that order across clients), via kfake-broker, kcat, verify.py; the
# only other records allowed are those of requests that did not get 200.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../tests/harness/lib.sh"
fnl_test_init 400
source "$here/../../../tests/integration/funnel_lib.sh"
source "$here/php_lib.sh"
source "$here/fpm_rig.sh"
for t in php-fpm8.2 nginx ab; do
	command -v $t >/dev/null || fnl_fail "$t not installed (apt-get install php8.2-fpm nginx-light apache2-utils)"
done
N=${FNL_PHP_REQUESTS:-20000}
KEYS=32
PER=$((N / KEYS))

fnl_kfake_start -topic phpfpm:6
mport=$(fpm__free_port)
fnl_funneld_start -X funnel.metrics.listen="127.0.0.1:$mport"
mkdir -p "$FNL_TMP/seq"
FPM_RIG_CHILDREN=8 FPM_RIG_MAX_REQUESTS=300 \
	FPM_RIG_ENV="FUNNEL_SOCKET=$FNL_SOCKET FNL_PHP_SEQDIR=$FNL_TMP/seq FNL_PHP_TOPIC=phpfpm" \
	fpm_rig_start "$FNL_TMP" "$here/www" -- -d extension="$FNL_PHP_EXT" ||
	fnl_fail "nginx + php-fpm did not start"
fnl_track "$FPM_RIG_FPM_PID"
fnl_track "$FPM_RIG_NGINX_PID"
url="http://127.0.0.1:$FPM_RIG_PORT/produce.php"
curl_ok=$(fnl_php -r "echo file_get_contents('$url?key=probe');") || fnl_fail "the page does not answer"
[[ $curl_ok == "probe "*" 0" ]] || fnl_fail "the page answered '$curl_ok'"

t0=$(fnl_now_ms)
abs=()
for ((k = 0; k < KEYS; k++)); do
	ab -r -v 4 -n "$PER" -c 1 "$url?key=k$k" >"$FNL_TMP/ab-$k.out" 2>"$FNL_TMP/ab-$k.err" &
	abs+=($!)
	fnl_track "${abs[-1]}"
done
# Once about a third of the requests are in: one request whose worker is
# SIGKILLed after its produce(), before it answers (its record must be there),
# and one more worker, picked at random, SIGKILLed wherever it is.
fnl_wait_for 200 bash -c "(( \$(cat '$FNL_TMP'/seq/k* | wc -c) >= $N / 3 ))" ||
	fnl_fail "the run did not get to a third of its requests"
fnl_php -r "echo @file_get_contents('$url?key=hold&hold=1') === false ? 'failed' : 'answered';" \
	>"$FNL_TMP/hold.out" 2>&1 &
hold=$!
fnl_track "$hold"
fnl_wait_for 30 test -s "$FNL_TMP/hold.pid" || fnl_fail "the held request did not start"
held=$(cat "$FNL_TMP/hold.pid")
kill -KILL "$held"
# a worker may exit (pm.max_requests) between the listing and the kill: try another
for ((i = 0; i < 20; i++)); do
	victim=$(fpm_rig_workers | grep -vx "$held" | shuf -n 1) || true
	[[ -n $victim ]] && kill -KILL "$victim" 2>/dev/null && break
	victim=none
	sleep 0.05
done
echo "php_fpm: SIGKILLed php-fpm workers $held (held after produce) and" \
	"$victim after $(cat "$FNL_TMP"/seq/k* | wc -c) requests"
wait "$hold"
[[ $(cat "$FNL_TMP/hold.out") == failed ]] || fnl_fail "the held request was answered: $(cat "$FNL_TMP/hold.out")"
printf 'hold\t0\tphpfpm\t*\thold\t\t*\n' >"$FNL_TMP/expect-hold"
for p in "${abs[@]}"; do wait "$p" || fnl_fail "ab failed (see $FNL_TMP/ab-*.err)"; done
t1=$(fnl_now_ms)

# 200 responses name the record they produced; anything else may or may not have one
python3 - "$FNL_TMP" "$KEYS" <<'PY' || fnl_fail "ab output"
import re, sys
d, keys = sys.argv[1], int(sys.argv[2])
ok = bad = 0
with open(d + "/expect", "w") as ex:
    for k in range(keys):
        text = open("%s/ab-%d.out" % (d, k), encoding="latin-1").read()
        for block in text.split("LOG: header received:")[1:]:
            st = re.search(r"^HTTP/1\.[01] (\d+)", block.lstrip(), re.M)
            m = re.search(r"^X-Funnel: (k\d+) (\d+) (\d+)\r?$", block, re.M)
            if st and st.group(1) == "200" and m:
                ex.write("%s\t%s\tphpfpm\t*\t%s\t\t*\n"
                         % (m.group(1), m.group(3), m.group(1)))
                ok += 1
            elif st and st.group(1) == "500":
                sys.exit("ab-%d: a request answered 500 (flush() without a good report?)" % k)
            else:
                bad += 1
        done = re.search(r"^Complete requests:\s+(\d+)", text, re.M)
        if not done:
            sys.exit("ab-%d did not finish" % k)
print("php_fpm: %d requests answered 200 with a record, %d others" % (ok, bad))
open(d + "/ok_count", "w").write("%d %d\n" % (ok, bad))
PY
# One client per worker process, kept across requests: funneld's per-client
# series (labelled with the client's pid) show each live worker once, and
# workers that served many requests with as many records in one client.
mapfile -t workers < <(fpm_rig_workers)
python3 - "$mport" "${workers[@]}" <<'PY' || fnl_fail "clients are not one per worker, kept across requests"
import re, sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
per_pid = {}
for m in re.finditer(r'^funnel_client_records_appended_total\{client="\d+",pid="(\d+)"\} (\d+)', text, re.M):
    per_pid.setdefault(m.group(1), []).append(int(m.group(2)))
workers = sys.argv[2:]
counts = {w: per_pid.get(w, []) for w in workers}
print("php_fpm: records appended per live worker's client:", " ".join(
    "%s=%s" % (w, ",".join(map(str, c)) or "none") for w, c in counts.items()))
if any(len(c) > 1 for c in counts.values()):
    sys.exit("a worker has more than one client attached")
if max((max(c) for c in counts.values() if c), default=0) < 50:
    sys.exit("no worker's client holds more than 50 requests' records")
PY
read -r ok bad <"$FNL_TMP/ok_count"
((ok >= N * 9 / 10)) || fnl_fail "only $ok of $N requests got 200"
produced=$(cat "$FNL_TMP"/seq/k* | wc -c)
echo "php_fpm: $N requests in $((t1 - t0)) ms; $produced sequence numbers taken"
grep -q "child $held exited on signal 9" "$FNL_TMP/fpm.log" || fnl_fail "php-fpm did not see worker $held killed"
recycled=$(grep -c "exited with code 0" "$FNL_TMP/fpm.log" || true)
echo "php_fpm: $recycled workers recycled by pm.max_requests"
((recycled >= N / 300 / 2)) || fnl_fail "workers were not recycled during the run ($recycled)"

fpm_rig_stop || fnl_fail "nginx or php-fpm did not stop cleanly"
# every ring is drained before funneld exits 0
fnl_funneld_stop
cat "$FNL_TMP/expect-hold" >>"$FNL_TMP/expect"
fnl_php_verify phpfpm 6 "$FNL_TMP/expect" --allow-unexpected | tee "$FNL_TMP/verify.out"
unexpected=$(sed -n 's/.* \([0-9]*\) unexpected records/\1/p' "$FNL_TMP/verify.out")
unexpected=$((${unexpected:-0} - 1)) # the probe request's record
((unexpected <= bad)) || fnl_fail "$unexpected records beyond the 200 answers, only $bad requests failed"
fnl_kfake_stop
echo "php_fpm: ok"
