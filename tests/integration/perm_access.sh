#!/usr/bin/env bash
# perm_access.sh: who may attach, and that rings are private.
#
#  1. funneld creates the socket directory 0750 and the socket 0660.
#  2. funnel.allowed.uids=0: root attaches and delivers; uid 65534 (setpriv) is
#     refused: first by the file modes (connect: EACCES), then, with the modes
#     opened (0755 dir, 0666 socket) so that funneld's own SO_PEERCRED check is
#     what decides, by funneld: fnl-load exits 2 and its stderr must say why
#     (the allowed uids/gids), funneld logs the refusal with the uid.
#  3. funnel.allowed.gids=65534: the same uid 65534 is now accepted.
#  4. Rings are private memfds passed with SCM_RIGHTS: no /dev/shm entry appears
#     during a run, funneld's mappings are memfds, and uid 65534 cannot open
#     funneld's or a root client's fds through /proc.
# Needs root (setpriv --reuid); skipped (exit 77) otherwise.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 85
source "$(dirname "$0")/funnel_lib.sh"

[[ $(id -u) -eq 0 ]] || { echo "perm_access: needs root for setpriv; skipped"; exit 77; }
command -v setpriv >/dev/null || { echo "perm_access: setpriv missing; skipped"; exit 77; }
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 0711 "$FNL_TMP" # let uid 65534 reach $FNL_TMP/run, the socket directory
# The checkout may live where uid 65534 cannot go (a 0700 home or mktemp -d): its client
# runs from a copy in $FNL_TMP, next to the libfunnel it links (found by LD_LIBRARY_PATH),
# so every check below fails or passes for the reason it names, wherever the checkout is.
NOBODY_BIN=$FNL_TMP/nobody-bin
mkdir -m 0755 "$NOBODY_BIN"
cp "$FNL_LOAD" "$NOBODY_BIN/fnl-load"
cp "$(readlink -f "$FNL_BUILD_DIR/dataplane/client/libfunnel.so.0")" "$NOBODY_BIN/libfunnel.so.0"
chmod 0755 "$NOBODY_BIN"/*
AS_NOBODY=(env LD_LIBRARY_PATH="$NOBODY_BIN" "${AS_NOBODY[@]}")
NOBODY_LOAD=$NOBODY_BIN/fnl-load
usage=$("${AS_NOBODY[@]}" "$NOBODY_LOAD" -h 2>&1 || true)
[[ $usage == *"usage: fnl-load"* ]] || fnl_fail "uid 65534 cannot run its copy of fnl-load: $usage"
fails=()

shm_before=$(ls -A /dev/shm | sort)
fnl_broker_start -b 1 -t perm:1
fnl_funneld_start -X funnel.metrics.listen= -X funnel.allowed.uids=0

# 1. modes
dmode=$(stat -c %a "$(dirname "$FNL_SOCKET")")
smode=$(stat -c %a "$FNL_SOCKET")
echo "socket directory mode $dmode, socket mode $smode"
[[ $dmode == 750 ]] || fails+=("socket directory mode is $dmode, not 750")
[[ $smode == 660 ]] || fails+=("socket mode is $smode, not 660")

# 2a. root is accepted (and keeps a ring open for step 4)
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t perm -c root -n 3000 -r 1000 -e "$FNL_TMP/ex-root"
root_client=$FNL_LAST_PID

# 2b. uid 65534 through the file modes
st=0
"${AS_NOBODY[@]}" "$NOBODY_LOAD" -s "$FNL_SOCKET" -t perm -c nobody -n 1 2>"$FNL_TMP/nobody1.err" || st=$?
echo "uid 65534 with modes 0750/0660: exit $st: $(cat "$FNL_TMP/nobody1.err")"
[[ $st -eq 2 ]] || fails+=("uid 65534 was not refused by the socket modes (exit $st)")

# 2c. uid 65534 with the modes opened: funneld's allowed.uids must refuse it
chmod 0755 "$(dirname "$FNL_SOCKET")"
chmod 0666 "$FNL_SOCKET"
# Five tries: the refusal must be explained every time, not by luck of timing.
for try in 1 2 3 4 5; do
	st=0
	"${AS_NOBODY[@]}" "$NOBODY_LOAD" -s "$FNL_SOCKET" -t perm -c nobody -n 1 2>"$FNL_TMP/nobody2.err" || st=$?
	echo "uid 65534 with open modes, try $try: exit $st: $(cat "$FNL_TMP/nobody2.err")"
	[[ $st -eq 2 ]] || fails+=("uid 65534 not refused by funnel.allowed.uids (exit $st)")
	grep -Eq "allowed\.(uids|gids)" "$FNL_TMP/nobody2.err" ||
		fails+=("try $try: the refused client's message does not name funnel.allowed.uids/gids: '$(head -1 "$FNL_TMP/nobody2.err")'")
done
grep -q "client refused reason=not-allowed uid=65534" "$FNL_TMP/funneld.err" ||
	fails+=("funneld did not log the refusal of uid 65534")

# 4. no /dev/shm, memfd mappings, /proc fds closed to another uid
shm_during=$(ls -A /dev/shm | sort)
[[ $shm_during == "$shm_before" ]] || fails+=("new /dev/shm entries during the run: $(comm -13 <(echo "$shm_before") <(echo "$shm_during") | tr '\n' ' ')")
if grep -q "memfd:funnel-ring" "/proc/$FNL_FUNNELD_PID/maps"; then
	echo "funneld maps client rings as memfds: $(grep -c "memfd:funnel-ring" "/proc/$FNL_FUNNELD_PID/maps") mapping(s)"
else
	fails+=("no memfd:funnel-ring mapping in funneld while a client is attached")
fi
grep -E "/dev/shm" "/proc/$FNL_FUNNELD_PID/maps" && fails+=("funneld maps something from /dev/shm")
for pid in "$FNL_FUNNELD_PID" "$root_client"; do
	for fd in /proc/$pid/fd/*; do
		[[ $(readlink "$fd" 2>/dev/null) == *memfd:funnel-ring* ]] || continue
		if "${AS_NOBODY[@]}" dd if="$fd" of=/dev/null bs=4096 count=1 status=none 2>/dev/null; then
			fails+=("uid 65534 could read ring $fd")
		else
			echo "uid 65534 cannot open $fd ($(readlink "$fd")): ok"
		fi
	done
	range=$(grep -m1 "memfd:funnel-ring" "/proc/$pid/maps" | cut -d' ' -f1) || true
	[[ -n $range ]] || { fails+=("pid $pid has no ring mapping"); continue; }
	if "${AS_NOBODY[@]}" dd if="/proc/$pid/map_files/$range" of=/dev/null bs=4096 count=1 \
		status=none 2>/dev/null; then
		fails+=("uid 65534 could read a ring through /proc/$pid/map_files/$range")
	else
		echo "uid 65534 cannot open /proc/$pid/map_files/$range: ok"
	fi
done
wait "$root_client" || fails+=("root was not served")
fnl_readback_verify perm 1 "$FNL_TMP/ex-root"
fnl_funneld_stop
shm_after=$(ls -A /dev/shm | sort)
[[ $shm_after == "$shm_before" ]] || fails+=("/dev/shm entries left after the run")

# 3. allowed by group
rm -f "$FNL_TMP/funnel.properties"
fnl_funneld_start -X funnel.metrics.listen= -X funnel.allowed.uids=0 -X funnel.allowed.gids=65534
chmod 0755 "$(dirname "$FNL_SOCKET")"
chmod 0666 "$FNL_SOCKET"
st=0
"${AS_NOBODY[@]}" "$NOBODY_LOAD" -q -s "$FNL_SOCKET" -t perm -c nobody -n 100 2>"$FNL_TMP/nobody3.err" || st=$?
echo "uid 65534 with funnel.allowed.gids=65534: exit $st"
[[ $st -eq 0 ]] || fails+=("uid 65534 refused although its gid is allowed (exit $st: $(head -1 "$FNL_TMP/nobody3.err"))")
fnl_funneld_stop

if [[ ${#fails[@]} -gt 0 ]]; then
	printf 'FAIL: %s\n' "${fails[@]}" >&2
	exit 1
fi
echo "perm_access: ok"
