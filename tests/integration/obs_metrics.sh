#!/usr/bin/env bash
# Metrics and health during an end-to-end run: /health answers 503 while the
# cluster is out of reach and 200 once metadata and a producer id are held;
# every scrape passes `promtool check metrics`; per-client series carry the
# client's pid; the records delivered according to /metrics equal the records
# read back with kcat; funnelctl says why start-up waits while the cluster is out of
# reach, and "not running" (exit 2) once funneld stopped.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"
source "$(dirname "$0")/obs/obs_lib.sh"

command -v promtool >/dev/null ||
	fnl_fail "promtool not installed (apt-get install prometheus, or run scripts/setup)"
promcheck() {
	promtool check metrics <"$1" >"$1.lint" 2>&1 || { cat "$1.lint" >&2; fnl_fail "promtool: $1"; }
}

# The alert rules in docs/operations.md must stay valid.
awk '/^```yaml/ { f = 1; next } /^```/ { f = 0 } f' "$(dirname "$0")/../../docs/operations.md" >"$FNL_TMP/rules.yml"
promtool check rules "$FNL_TMP/rules.yml" >/dev/null || fnl_fail "alert rules in docs/operations.md"

fnl_broker_start -b 3 -t obs:4 -t obs2:2
for b in 1 2 3; do fnl_broker_cmd "down $b" >/dev/null; done

# 1. Cluster unreachable: funneld keeps retrying its bootstrap; /health is 503,
#    /metrics already answers (funnel_ready 0), funnelctl says why start-up waits.
# (the test-only transactional id makes the harness broker check producer sequences, as
# a real broker does for every idempotent producer: see step 3 and faults.sh)
obs_funneld_start -X funnel.test.transactional.id=obs-seqcheck
fnl_wait_for 10 obs_health_is 503 || fnl_fail "/health is not 503 while the cluster is down"
obs_http /health >"$FNL_TMP/h0.txt" && fnl_fail "/health answered 200 too early"
grep -q "not ready" "$FNL_TMP/h0.txt" || fnl_fail "/health 503 body lacks the reason"
obs_http /metrics >"$FNL_TMP/m0.txt" || fnl_fail "/metrics did not answer during bootstrap"
promcheck "$FNL_TMP/m0.txt"
[[ $(obs_metric "$FNL_TMP/m0.txt" funnel_ready) == 0 ]] || fnl_fail "funnel_ready is not 0"
[[ $(obs_metric "$FNL_TMP/m0.txt" funnel_producer_id) == -1 ]] || fnl_fail "producer id before bootstrap"
ctl_starting() { obs_ctl status 2>&1 | grep -q 'NOT READY (starting: '; }
fnl_wait_for 10 ctl_starting || {
	obs_ctl status >&2 || true
	fnl_fail "funnelctl status does not say that start-up waits for the cluster"
}
echo "before the cluster: /health 503, funnelctl: $(obs_ctl status | head -1)"

# 2. The cluster comes back: /health turns 200.
for b in 1 2 3; do fnl_broker_cmd "up $b" >/dev/null; done
fnl_wait_for 40 obs_health_is 200 || { tail "$FNL_TMP/funneld.err" >&2; fnl_fail "/health never turned 200"; }
fnl_wait_for 10 fnl_funneld_ready "$FNL_SOCKET" || fnl_fail "no control socket after bootstrap"
echo "/health: 503 -> 200"

# 3. Production: two clients; scrape while they run and after. The first two Produce
#    requests get NOT_ENOUGH_REPLICAS (retried; the broker stores nothing for them, and
#    answers OUT_OF_ORDER_SEQUENCE_NUMBER to what was pipelined behind them).
#    (6,000 records/s each: the clients live ~5 s, so a loaded machine still scrapes them)
fnl_broker_cmd "push Produce NOT_ENOUGH_REPLICAS NOT_ENOUGH_REPLICAS" >/dev/null
N=${FNL_OBS_RECORDS:-30000}
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t obs -c a -n "$N" -k 50 -P 4 -r 6000 -e "$FNL_TMP/ex1"; p1=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t obs2 -c b -n "$N" -S 200 -r 6000 -e "$FNL_TMP/ex2"; p2=$FNL_LAST_PID
have_clients() {
	obs_http /metrics >"$FNL_TMP/m1.txt" &&
		grep -q "^funnel_client_records_appended_total{client=\"[0-9]*\",pid=\"$p1\"} [1-9]" "$FNL_TMP/m1.txt" &&
		grep -q "^funnel_client_records_appended_total{client=\"[0-9]*\",pid=\"$p2\"} [1-9]" "$FNL_TMP/m1.txt"
}
fnl_wait_for 20 have_clients || fnl_fail "per-client series with the clients' pids never appeared"
promcheck "$FNL_TMP/m1.txt"
# (the clients are released once they exit, so per-client series are checked here)
for p in $p1 $p2; do
	b=$(awk -v l="pid=\"$p\"}" '/^funnel_client_appended_bytes_total\{/ && index($1, l) { print $2; exit }' "$FNL_TMP/m1.txt")
	[[ ${b:-0} -gt 0 ]] || fnl_fail "funnel_client_appended_bytes_total of pid $p is '${b:-}' (want > 0)"
	grep -q "^funnel_client_ring_full_waits_total{client=\"[0-9]*\",pid=\"$p\"} [0-9]" "$FNL_TMP/m1.txt" ||
		fnl_fail "no funnel_client_ring_full_waits_total for pid $p"
done
for f in batches_acked_total records_acked_total queued_bytes; do
	grep -q "^funnel_partition_$f{topic=\"obs\",partition=\"3\"}" "$FNL_TMP/m1.txt" ||
		fnl_fail "no funnel_partition_$f series for obs/3"
done
grep -q '^funnel_broker_state{node="[0-9]*"} 4$' "$FNL_TMP/m1.txt" || fnl_fail "no ready broker in the metrics"
for p in $p1 $p2; do wait "$p" || fnl_fail "a client did not get every delivery report"; done

obs_http /metrics >"$FNL_TMP/m2.txt" || fnl_fail "/metrics after the run"
promcheck "$FNL_TMP/m2.txt"
m() { obs_metric "$FNL_TMP/m2.txt" "$@"; }
acked=$(m funnel_records_acked_total)
failed=$(m funnel_records_failed_total)
[[ $(m funnel_records_in_total) == $((2 * N)) ]] || fnl_fail "records_in $(m funnel_records_in_total) != $((2 * N))"
[[ $failed == 0 ]] || fnl_fail "$failed records failed"
[[ $(m funnel_ready) == 1 ]] || fnl_fail "funnel_ready is not 1"
[[ $(m funnel_producer_id) -ge 0 ]] || fnl_fail "no producer id in the metrics"
[[ $(m funnel_rx_bytes_total) -gt 0 ]] || fnl_fail "funnel_rx_bytes_total is $(m funnel_rx_bytes_total)"
[[ $(m funnel_recv_arms_total) -gt 0 ]] || fnl_fail "funnel_recv_arms_total is $(m funnel_recv_arms_total)"
[[ $(m funnel_rx_bufring) == [01] ]] || fnl_fail "funnel_rx_bufring is '$(m funnel_rx_bufring)'"
hist=$(m funnel_delivery_latency_seconds_count)
[[ $hist == $((acked + failed)) ]] || fnl_fail "latency histogram counts $hist records, reports $((acked + failed))"
[[ $(m funnel_delivery_latency_seconds_bucket 'le="+Inf"') == "$hist" ]] || fnl_fail "+Inf bucket != _count"
sum_parts=$(awk '/^funnel_partition_batches_acked_total\{/ { s += $2 } END { print s + 0 }' "$FNL_TMP/m2.txt")
[[ $sum_parts == $(m funnel_batches_acked_total) ]] ||
	fnl_fail "partition batches acked sum $sum_parts != funnel_batches_acked_total $(m funnel_batches_acked_total)"
sum_recs=$(awk '/^funnel_partition_records_acked_total\{/ { s += $2 } END { print s + 0 }' "$FNL_TMP/m2.txt")
[[ $sum_recs == "$acked" ]] || fnl_fail "partition records acked sum $sum_recs != records delivered $acked"
# every batch was acknowledged: nothing is queued, in bytes either
qb=$(awk '/^funnel_partition_queued_bytes\{/ { n++; if ($2 != 0) bad = bad " " $0 } END { print n + 0 bad }' "$FNL_TMP/m2.txt")
[[ $qb == 6 ]] || fnl_fail "funnel_partition_queued_bytes after the run (want 6 series, all 0): $qb"
# retries by code: the pushed NOT_ENOUGH_REPLICAS (19) are there, and per partition the
# codes add up to funnel_partition_retries_total
r19=$(awk '/^funnel_partition_retries_by_code_total\{.*code="19"\}/ { s += $2 } END { print s + 0 }' "$FNL_TMP/m2.txt")
[[ $r19 -gt 0 ]] || fnl_fail "no retries with code 19 counted after pushing NOT_ENOUGH_REPLICAS"
awk '
	/^funnel_partition_retries_total\{/ { split($1, a, "}"); tot[a[1]] = $2 }
	/^funnel_partition_retries_by_code_total\{/ {
		k = $1; sub(/,code="[^"]*"\}$/, "", k); sub(/_by_code_total/, "_total", k); by[k] += $2
	}
	END { for (k in tot) if (tot[k] != by[k] + 0) { print k, tot[k], by[k] + 0; bad = 1 } exit bad }
' "$FNL_TMP/m2.txt" || fnl_fail "retries by code do not add up to funnel_partition_retries_total"
echo "partitions: records acked $sum_recs, retries with code 19: $r19, queued bytes 0"

# 4. Delivered according to the metrics == read back with kcat (and every record intact).
"$FNL_READBACK" "$FNL_BOOTSTRAP" obs 4 >"$FNL_TMP/rb1.tsv" || fnl_fail "read-back obs"
"$FNL_READBACK" "$FNL_BOOTSTRAP" obs2 2 >"$FNL_TMP/rb2.tsv" || fnl_fail "read-back obs2"
readback=$(cat "$FNL_TMP/rb1.tsv" "$FNL_TMP/rb2.tsv" | wc -l)
echo "metrics: records acked $acked, failed $failed; kcat read back $readback"
[[ $acked == "$readback" ]] || fnl_fail "metrics say $acked delivered, kcat read $readback"
fnl_readback_verify obs 4 "$FNL_TMP/ex1"
fnl_readback_verify obs2 2 "$FNL_TMP/ex2"

# 5. Bounded HTTP: an oversized request gets 431, an unknown path 404, a bad method 405.
raw_status() { # request bytes (python escapes) -> status line of the reply
	python3 - "$OBS_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
except OSError:
    pass
data = b""
try:
    while b"\r\n" not in data:
        chunk = s.recv(256)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.split(b"\r\n")[0].decode(errors="replace"))
PY
}
big=$(head -c 6000 /dev/zero | tr '\0' a)
raw_status "GET /$big HTTP/1.1\r\n\r\n" | grep -q " 431 " || fnl_fail "oversized request not refused with 431"
[[ $(obs_status /nope) == 404 ]] || fnl_fail "unknown path is not 404"
raw_status "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n" | grep -q " 405 " ||
	fnl_fail "POST is not 405"
raw_status "garbage\r\n\r\n" | grep -q " 400 " || fnl_fail "a bad request line is not 400"

# 6. Bounded connections: 20 idle connections (more than the 16 slots) do not lock out
#    30 concurrent scrapes; the oldest idle ones are evicted.
python3 - "$OBS_PORT" <<'PY' || fnl_fail "concurrent scrapes behind idle connections"
import http.client, socket, sys, threading, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
t0, res = time.time(), []
def get():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    r = c.getresponse()
    res.append((r.status, b"funnel_records_in_total" in r.read()))
ts = [threading.Thread(target=get) for _ in range(30)]
[t.start() for t in ts]
[t.join() for t in ts]
took = time.time() - t0
assert len(res) == 30 and all(st == 200 and ok for st, ok in res), res
# without eviction the scrapes would wait for the idle connections' request deadline
# (FNL_HTTP_REQ_MS, 3 s); eviction needs FNL_HTTP_EVICT_MS (0.25 s) per round of slots
assert took < 2.9, f"scrapes took {took:.2f} s behind idle connections"
print(f"30 scrapes behind 20 idle connections: {took:.2f} s")
PY
fnl_funneld_stop
st=0
obs_ctl status >/dev/null 2>"$FNL_TMP/ctl0.err" || st=$?
[[ $st -eq 2 ]] || fnl_fail "funnelctl exit status $st without a daemon socket (want 2)"
grep -q "not running" "$FNL_TMP/ctl0.err" || fnl_fail "funnelctl message: $(cat "$FNL_TMP/ctl0.err")"
echo "after stop: funnelctl exit 2: $(cat "$FNL_TMP/ctl0.err")"
echo "obs_metrics: ok"
