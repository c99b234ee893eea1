#!/usr/bin/env bash
# funnelctl against a live funneld while clients produce: every --json output
# parses; `funnelctl top` runs in tmux and shows moving per-client and
# per-partition rates, and q quits it; SIGHUP applies funnel.log.level live and
# names the keys that need a restart.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 240
source "$(dirname "$0")/funnel_lib.sh"
source "$(dirname "$0")/obs/obs_lib.sh"
command -v tmux >/dev/null || fnl_fail "tmux not installed (scripts/setup installs it)"

fnl_broker_start -b 3 -t ctl:4
obs_funneld_start
fnl_wait_for 20 fnl_funneld_ready "$FNL_SOCKET" || fnl_fail "funneld did not come up"

json_ok() { # name, then funnelctl arguments
	local name=$1
	shift
	obs_ctl "$@" >"$FNL_TMP/$name.json" || fnl_fail "funnelctl $* failed"
	python3 -m json.tool "$FNL_TMP/$name.json" >/dev/null || fnl_fail "funnelctl $* is not valid JSON"
}

# 1. A client produces at a steady rate for ~8 s.
N=40000
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t ctl -c steady -n "$N" -r 5000 -k 20 -P 4 -e "$FNL_TMP/ex"; p1=$FNL_LAST_PID
fnl_wait_for 10 bash -c "'$FNL_FUNNELCTL' -s '$FNL_SOCKET' clients | grep -q ' $p1 '" ||
	fnl_fail "funnelctl clients never showed the client"
fnl_wait_for 10 bash -c "'$FNL_FUNNELCTL' -s '$FNL_SOCKET' status | grep -q ' ready '" ||
	fnl_fail "funnelctl status never showed a ready broker"

# 2. Every command, text and JSON.
for c in status clients partitions config; do
	obs_ctl "$c" >"$FNL_TMP/$c.txt" || fnl_fail "funnelctl $c failed"
	json_ok "$c" "$c" --json
done
json_ok top top --json -d 0.5
python3 - "$FNL_TMP" "$p1" <<'PY' || fnl_fail "JSON content"
import json, sys
d, pid = sys.argv[1], int(sys.argv[2])
st = json.load(open(f"{d}/status.json"))
assert st["daemon"]["healthy"] == 1 and st["daemon"]["producer_id"] >= 0, st["daemon"]
assert any(b["state_name"] == "ready" for b in st["brokers"]), st["brokers"]
assert st["config"]["linger.ms"] == "5", st["config"]
cl = json.load(open(f"{d}/clients.json"))["clients"]
assert any(c["pid"] == pid and c["state"] == "active" for c in cl), cl
pt = json.load(open(f"{d}/partitions.json"))["partitions"]
assert sorted(p["partition"] for p in pt if p["topic"] == "ctl") == [0, 1, 2, 3], pt
assert all(p["queued_bytes"] >= 0 and p["records_acked"] >= p["batches_acked"] and
           isinstance(p["retries_by_code"], dict) for p in pt), pt
top = json.load(open(f"{d}/top.json"))
c = [c for c in top["clients"] if c["pid"] == pid][0]
assert c["appended_per_s"] > 1000, c
assert c["appended_bytes"] >= 48 * c["appended"] > 0 and c["ring_full_waits"] >= 0, c
assert top["rates"]["records_acked_per_s"] > 1000, top["rates"]
assert any(p["batches_acked_per_s"] > 0 for p in top["partitions"]), top["partitions"]
print("json: status, clients, partitions, config, top parse; top rates",
      round(c["appended_per_s"]), "records/s for the client")
PY
obs_ctl top --json -d 0.3 -n 3 >"$FNL_TMP/top3.jsonl" || fnl_fail "top --json -n 3"
[[ $(wc -l <"$FNL_TMP/top3.jsonl") == 3 ]] || fnl_fail "top --json -n 3 did not print 3 lines"
while read -r l; do python3 -m json.tool <<<"$l" >/dev/null || fnl_fail "top line is not JSON"; done <"$FNL_TMP/top3.jsonl"

# 3. funnelctl top in a terminal (tmux): rates move while the client produces; q quits.
TM=(tmux -S "$FNL_TMP/tmux.sock")
tmux_stop() { "${TM[@]}" kill-server 2>/dev/null || true; }
# keep the test's exit status for lib.sh's cleanup (it reads $? first)
trap 'obs_st=$?; tmux_stop; set +e; (exit "$obs_st"); fnl__cleanup' EXIT
"${TM[@]}" new-session -d -s top -x 132 -y 40 \
	"'$FNL_FUNNELCTL' -s '$FNL_SOCKET' top -d 0.5; echo \$? >'$FNL_TMP/top.rc'"
rate_of() { # capture file -> APPENDED/s of the client row
	awk -v pid="$p1" '$2 == pid && $3 == "active" { print int($4); exit }' "$1"
}
capture() { "${TM[@]}" capture-pane -p -t top >"$1"; }
moving() {
	capture "$FNL_TMP/top1.txt"
	[[ $(rate_of "$FNL_TMP/top1.txt") -gt 1000 ]]
}
fnl_wait_for 10 moving || { cat "$FNL_TMP/top1.txt" >&2; fnl_fail "top shows no rate for the client"; }
sleep 1.2
capture "$FNL_TMP/top2.txt"
r1=$(rate_of "$FNL_TMP/top1.txt")
r2=$(rate_of "$FNL_TMP/top2.txt")
[[ -n $r2 && $r2 -gt 1000 ]] || { cat "$FNL_TMP/top2.txt" >&2; fnl_fail "second frame has no rate"; }
grep -q "^records/s" "$FNL_TMP/top2.txt" || fnl_fail "top has no totals line"
grep -Eq '^ctl +[0-3] ' "$FNL_TMP/top2.txt" || fnl_fail "top shows no partition of ctl"
cmp -s "$FNL_TMP/top1.txt" "$FNL_TMP/top2.txt" && fnl_fail "top did not refresh"
echo "top: client rate $r1 then $r2 records/s"
cp "$FNL_TMP/top2.txt" "$FNL_TMP/top-capture.txt"
"${TM[@]}" send-keys -t top q
fnl_wait_for 5 test -s "$FNL_TMP/top.rc" || fnl_fail "q did not quit top"
[[ $(cat "$FNL_TMP/top.rc") == 0 ]] || fnl_fail "top exited $(cat "$FNL_TMP/top.rc")"
[[ -n ${FNL_OBS_TOP_CAPTURE:-} ]] && cp "$FNL_TMP/top-capture.txt" "$FNL_OBS_TOP_CAPTURE"

wait "$p1" || fnl_fail "the client did not get every delivery report"
fnl_readback_verify ctl 4 "$FNL_TMP/ex"

# 4. SIGHUP: funnel.log.level, linger.ms and batch.size (up to its start-up value)
# apply live; other keys (acks) are reported as needing a restart.
printf 'funnel.log.level=debug\nlinger.ms=50\nbatch.size=8192\nretry.backoff.ms=77\n' >>"$FNL_TMP/funnel.properties"
kill -HUP "$FNL_FUNNELD_PID"
fnl_wait_for 5 grep -q "reload: applied key=funnel.log.level old=info new=debug" "$FNL_TMP/funneld.err" ||
	fnl_fail "log level not reloaded"
grep -q "reload: applied key=linger.ms old=5 new=50" "$FNL_TMP/funneld.err" ||
	fnl_fail "linger.ms not applied live"
grep -q "reload: applied key=batch.size old=65536 new=8192" "$FNL_TMP/funneld.err" ||
	fnl_fail "batch.size not applied live"
grep -q "reload: not applied, restart funneld to change count=1 keys=retry.backoff.ms" \
	"$FNL_TMP/funneld.err" || fnl_fail "retry.backoff.ms not reported as needing a restart"
obs_ctl config | grep -qx "funnel.log.level=debug" || fnl_fail "config does not show the new level"
obs_ctl config | grep -qx "linger.ms=50" || fnl_fail "funnelctl config does not show linger.ms=50"
obs_ctl config | grep -qx "retry.backoff.ms=100" || fnl_fail "retry.backoff.ms changed without a restart"
printf 'funnel.log.level=loud\n' >>"$FNL_TMP/funnel.properties"
kill -HUP "$FNL_FUNNELD_PID"
fnl_wait_for 5 grep -q "reload: settings refused, nothing changed" "$FNL_TMP/funneld.err" ||
	fnl_fail "a bad reload was not refused"
kill -0 "$FNL_FUNNELD_PID" || fnl_fail "funneld died on SIGHUP"

# 5. Usage errors exit 1; a stopped daemon means exit 2.
st=0
obs_ctl bogus 2>/dev/null || st=$?
[[ $st -eq 1 ]] || fnl_fail "unknown command exit $st"
fnl_funneld_stop
st=0
obs_ctl status --json >/dev/null 2>&1 || st=$?
[[ $st -eq 2 ]] || fnl_fail "funnelctl after stop exit $st (want 2)"
echo "obs_funnelctl: ok"
