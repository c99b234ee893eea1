# lib.sh - bash helpers for funnel's integration tests (source it; needs bash >= 4).
#
#   source "$FNL_HARNESS_DIR/lib.sh"   (or a path relative to the test script)
#   fnl_test_init [TIMEOUT_S]          temp dir, cleanup trap, hard timeout (default 60 s)
#   fnl_broker_start [-b N] [-t topic:parts[:repl]]... [-- BROKER-SPECIFIC ARGS...]
#                                      start the broker FNL_BROKER names; exports FNL_BOOTSTRAP,
#                                      FNL_BROKER_PID
#   fnl_broker_is_mock                 true when FNL_BROKER is the mock (fault injection)
#   fnl_broker_cmd "down 2"            send one command, print the reply, fail unless "OK ..."
#                                      (kfake: only "topic NAME P" and "partitions NAME TOTAL",
#                                      through python3-kafka's admin)
#   fnl_broker_stop                    quit the broker and reap it; fails if it had crashed
#   fnl_spawn CMD...                   start CMD in the background, tracked for cleanup; sets FNL_LAST_PID
#   fnl_track PID                      track a process started some other way
#   fnl_fail MESSAGE                   print "FAIL: MESSAGE" and exit 1
#   fnl_now_ms                         wall-clock milliseconds
#   fnl_wait_for SECONDS CMD...        retry CMD every 0.1 s until it succeeds or time runs out
#
# Environment (set by the meson test() that runs the script; all optional when run by hand):
#   FNL_BROKER       mock (default): librdkafka 2.0.2's mock cluster in fnl-mockbroker, lenient,
#                    with fault injection; kfake: ../shared/brokers/kfake-broker, strict (CRCs,
#                    idempotent sequences with dedup, Produce <= v13, Metadata <= v13), no faults,
#                    no auto-created topics
#   FNL_KFAKE        path of kfake-broker (default: <checkout>/../shared/brokers/kfake-broker)
#   FNL_BUILD_DIR    meson build root; tools are looked up under it (default: walk up from $PWD)
#   FNL_MOCKBROKER   path of fnl-mockbroker   (default $FNL_BUILD_DIR/tests/harness/fnl-mockbroker)
#   FNL_RAWFETCH     path of fnl-rawfetch     (default $FNL_BUILD_DIR/tests/harness/fnl-rawfetch)
#   FNL_KEEP_TMP=1   keep the per-test temp dir (it is always kept, and named, on failure)
#   FNL_BROKER_DEBUG=1  start the broker with librdkafka debug=mock (stderr in $FNL_TMP/broker.err)
# Exported for the test: FNL_TMP (per-test temp dir), FNL_HARNESS_DIR, FNL_READBACK (readback.sh),
#   FNL_VERIFY (verify.py), FNL_MOCKBROKER, FNL_RAWFETCH, FNL_BOOTSTRAP, FNL_BROKER_PID.
#
# Invariants: every process the helpers start is recorded in FNL_PIDS and, if it is still a child
# of the test shell, is killed (TERM, then KILL after 2 s) by the EXIT trap; the watchdog kills the test's remaining descendants by pid and
# then the test itself when the hard timeout expires (exit status 124).

FNL_HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FNL_HARNESS_DIR
: "${FNL_BROKER:=mock}"
: "${FNL_KFAKE:=$FNL_HARNESS_DIR/../../../shared/brokers/kfake-broker}"
export FNL_BROKER FNL_KFAKE
export FNL_READBACK="$FNL_HARNESS_DIR/readback.sh"
export FNL_VERIFY="$FNL_HARNESS_DIR/verify.py"
FNL_PIDS=()
FNL_WATCHDOG_PID=
FNL_TMP=
FNL_BROKER_PID=
FNL_BOOTSTRAP=

fnl__find_build_dir() {
	local d=$PWD
	while [[ $d != / ]]; do
		if [[ -f $d/build.ninja && -x $d/tests/harness/fnl-mockbroker ]]; then
			echo "$d"
			return 0
		fi
		d=$(dirname "$d")
	done
	return 1
}

fnl_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

fnl_now_ms() {
	date +%s%3N
}

fnl_track() {
	FNL_PIDS+=("$1")
}

fnl_spawn() {
	"$@" &
	FNL_LAST_PID=$!
	fnl_track "$FNL_LAST_PID"
}

# Prints the pids of all descendants of $1, children first.
fnl__descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		fnl__descendants "$c"
		echo "$c"
	done
}

# True if $1 is still a child of this shell. Pids of reaped children are recycled quickly
# (pid_max is often 32768), so a stale pid must never be signalled.
fnl__is_child() {
	[[ $(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ') == "$$" ]]
}

fnl__cleanup() {
	local st=$? pid i live=()
	trap - EXIT TERM INT
	if [[ -n $FNL_WATCHDOG_PID ]]; then
		kill "$FNL_WATCHDOG_PID" 2>/dev/null || true
	fi
	if [[ $st -ne 0 && -n $FNL_BROKER_PID && -n $FNL_TMP ]]; then
		kill -0 "$FNL_BROKER_PID" 2>/dev/null || echo "lib.sh: the $FNL_BROKER broker had exited" >&2
		kill -CONT "$FNL_BROKER_PID" 2>/dev/null || true
		tail -n 5 "$FNL_TMP/broker.err" >&2 2>/dev/null || true
	fi
	for pid in "${FNL_PIDS[@]}"; do
		if fnl__is_child "$pid"; then
			live+=("$pid")
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for ((i = 0; i < 20 && ${#live[@]} > 0; i++)); do
		for pid in "${!live[@]}"; do
			fnl__is_child "${live[$pid]}" || unset "live[$pid]"
		done
		[[ ${#live[@]} -gt 0 ]] || break
		sleep 0.1
	done
	for pid in "${live[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [[ -n $FNL_TMP && -d $FNL_TMP ]]; then
		if [[ $st -ne 0 || ${FNL_KEEP_TMP:-0} == 1 ]]; then
			echo "lib.sh: test files kept in $FNL_TMP (status $st)" >&2
		else
			rm -rf "$FNL_TMP"
		fi
	fi
	exit "$st"
}

fnl__on_timeout() {
	echo "FAIL: hard timeout of ${FNL_TIMEOUT_S}s reached" >&2
	exit 124
}

# The watchdog runs in a subshell: after the timeout it kills the test's other descendants (by
# pid; the test shell only runs its TERM trap once its foreground child is gone), then the test.
fnl__start_watchdog() {
	local main=$$
	(
		sleep "$1" >/dev/null 2>&1 &
		sp=$!
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		wait "$sp"
		me=$BASHPID
		for pid in $(fnl__descendants "$main"); do
			[[ $pid == "$me" ]] || kill -TERM "$pid" 2>/dev/null || true
		done
		kill -TERM "$main" 2>/dev/null || true
	) &
	FNL_WATCHDOG_PID=$!
}

fnl_test_init() {
	local limit=${1:-60}
	FNL_TIMEOUT_S=$limit
	if [[ -z ${FNL_BUILD_DIR:-} ]]; then
		FNL_BUILD_DIR=$(fnl__find_build_dir) || FNL_BUILD_DIR=
	fi
	export FNL_BUILD_DIR
	: "${FNL_MOCKBROKER:=$FNL_BUILD_DIR/tests/harness/fnl-mockbroker}"
	: "${FNL_RAWFETCH:=$FNL_BUILD_DIR/tests/harness/fnl-rawfetch}"
	export FNL_MOCKBROKER FNL_RAWFETCH
	[[ -x $FNL_MOCKBROKER ]] || fnl_fail "fnl-mockbroker not found (set FNL_BUILD_DIR or FNL_MOCKBROKER)"
	case $FNL_BROKER in
	mock) ;;
	kfake) [[ -x $FNL_KFAKE ]] ||
		fnl_fail "kfake-broker not found at $FNL_KFAKE (set FNL_KFAKE to ../shared/brokers/kfake-broker)" ;;
	*) fnl_fail "FNL_BROKER=$FNL_BROKER: use mock or kfake" ;;
	esac
	command -v kcat >/dev/null || fnl_fail "kcat not installed (apt-get install kcat)"
	FNL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fnl-test.XXXXXX")
	export FNL_TMP
	trap fnl__cleanup EXIT
	trap fnl__on_timeout TERM
	trap 'exit 130' INT
	fnl__start_watchdog "$limit"
}

# fnl_wait_for SECONDS CMD...: 0 once CMD succeeds, 1 after SECONDS.
fnl_wait_for() {
	local deadline=$(($(date +%s%3N) + $1 * 1000))
	shift
	until "$@"; do
		(($(date +%s%3N) < deadline)) || return 1
		sleep 0.1
	done
}

fnl__bootstrap_ready() {
	[[ -s $FNL_TMP/broker.out ]] && grep -q '^BOOTSTRAP ' "$FNL_TMP/broker.out"
}

fnl_broker_is_mock() {
	[[ $FNL_BROKER == mock ]]
}

fnl_broker_start() {
	[[ -n $FNL_TMP ]] || fnl_fail "call fnl_test_init first"
	if fnl_broker_is_mock; then
		fnl__mock_start "$@"
	else
		fnl__kfake_start "$@"
	fi
	export FNL_BOOTSTRAP FNL_BROKER_PID
}

fnl__mock_start() {
	local debug=() args=()
	[[ ${FNL_BROKER_DEBUG:-0} == 1 ]] && debug=(-d)
	while [[ $# -gt 0 && $1 != -- ]]; do args+=("$1"); shift; done
	[[ $# -gt 0 ]] && shift
	args+=("$@")
	FNL_BROKER_FIFO=$FNL_TMP/broker.fifo
	export FNL_BROKER_FIFO
	# -k: stdin is /dev/null here; the FIFO carries the commands.
	"$FNL_MOCKBROKER" -k -f "$FNL_BROKER_FIFO" "${debug[@]}" "${args[@]}" \
		</dev/null >"$FNL_TMP/broker.out" 2>"$FNL_TMP/broker.err" &
	FNL_BROKER_PID=$!
	fnl_track "$FNL_BROKER_PID"
	if ! fnl_wait_for 10 fnl__bootstrap_ready; then
		cat "$FNL_TMP/broker.err" >&2
		fnl_fail "fnl-mockbroker did not print BOOTSTRAP"
	fi
	FNL_BOOTSTRAP=$(sed -n 's/^BOOTSTRAP //p' "$FNL_TMP/broker.out" | head -n 1)
}

# The same options, as kfake-broker spells them; after "--", kfake's own (-as-version 2.8).
fnl__kfake_start() {
	local args=(-brokers 3) t
	while [[ $# -gt 0 ]]; do
		case $1 in
		-b) args+=(-brokers "$2"); shift 2 ;;
		-t) # name:partitions[:replication]; kfake has no replication
			t=$2
			[[ $t == *:*:* ]] && t=${t%:*}
			args+=(-topic "$t")
			shift 2 ;;
		--) shift; args+=("$@"); break ;;
		*) fnl_fail "fnl_broker_start: option $1 is the mock's only" ;;
		esac
	done
	[[ ${FNL_BROKER_DEBUG:-0} == 1 ]] && args+=(-log debug)
	rm -f "$FNL_TMP/kfake.boot"
	"$FNL_KFAKE" "${args[@]}" -bootfile "$FNL_TMP/kfake.boot" \
		</dev/null >"$FNL_TMP/broker.out" 2>"$FNL_TMP/broker.err" &
	FNL_BROKER_PID=$!
	fnl_track "$FNL_BROKER_PID"
	if ! fnl_wait_for 10 test -s "$FNL_TMP/kfake.boot"; then
		cat "$FNL_TMP/broker.err" >&2
		fnl_fail "kfake-broker did not write its bootstrap file"
	fi
	FNL_BOOTSTRAP=$(cat "$FNL_TMP/kfake.boot")
}

# kfake takes no commands; a topic is created with Kafka's CreateTopics, and partitions are
# added with CreatePartitions ("partitions NAME TOTAL"), both through python3-kafka.
fnl__kfake_cmd() {
	local w=($1)
	if [[ ${w[0]} == partitions && ${#w[@]} -ge 3 ]]; then
		fnl__kfake_partitions "${w[1]}" "${w[2]}"
		return
	fi
	[[ ${w[0]} == topic && ${#w[@]} -ge 3 ]] ||
		fnl_fail "'$1' needs the mock broker (fault injection); kfake has none"
	/usr/bin/python3 - "$FNL_BOOTSTRAP" "${w[1]}" "${w[2]}" <<'PY' || return 1
import sys
from kafka.admin import KafkaAdminClient, NewTopic
a = KafkaAdminClient(bootstrap_servers=sys.argv[1].split(","), api_version=(2, 5, 0))
r = a.create_topics([NewTopic(sys.argv[2], int(sys.argv[3]), 1)])
errs = [e for e in r.topic_errors if e[1] != 0]
print("ERR %s" % (errs,) if errs else "OK topic %s" % sys.argv[2])
sys.exit(1 if errs else 0)
PY
}

fnl__kfake_partitions() {
	/usr/bin/python3 - "$FNL_BOOTSTRAP" "$1" "$2" <<'PY' || return 1
import sys
from kafka.admin import KafkaAdminClient, NewPartitions
a = KafkaAdminClient(bootstrap_servers=sys.argv[1].split(","), api_version=(2, 5, 0))
r = a.create_partitions({sys.argv[2]: NewPartitions(total_count=int(sys.argv[3]))})
errs = [e for e in r.topic_errors if e[1] != 0]
print("ERR %s" % (errs,) if errs else "OK partitions %s %s" % (sys.argv[2], sys.argv[3]))
sys.exit(1 if errs else 0)
PY
}

fnl__replies() {
	grep -c -E '^(OK|ERR)' "$FNL_TMP/broker.out" || true
}

# fnl_broker_cmd "COMMAND": prints the broker's reply; status 0 for OK, 1 for ERR or no reply.
fnl_broker_cmd() {
	local before reply
	[[ -n $FNL_BROKER_PID ]] || fnl_fail "no broker running"
	fnl_broker_is_mock || { fnl__kfake_cmd "$1"; return; }
	case $1 in
	"" | "#"* | *$'\n'*) fnl_fail "fnl_broker_cmd: one non-empty command per call" ;;
	esac
	kill -0 "$FNL_BROKER_PID" 2>/dev/null || fnl_fail "fnl-mockbroker is gone"
	before=$(fnl__replies)
	# The broker holds the FIFO open for reading, so this open never blocks while it lives.
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$1" "$FNL_BROKER_FIFO" ||
		fnl_fail "cannot write to $FNL_BROKER_FIFO"
	if ! fnl_wait_for 10 fnl__reply_after "$before"; then
		echo "lib.sh: no reply to '$1'" >&2
		return 1
	fi
	reply=$(grep -E '^(OK|ERR)' "$FNL_TMP/broker.out" | sed -n "$((before + 1))p")
	echo "$reply"
	[[ $reply == OK* ]]
}

fnl__reply_after() {
	(($(fnl__replies) > $1))
}

fnl_broker_stop() {
	local i
	[[ -n $FNL_BROKER_PID ]] || return 0
	if kill -0 "$FNL_BROKER_PID" 2>/dev/null; then
		kill -CONT "$FNL_BROKER_PID" 2>/dev/null || true # a test may have stopped it
		# shellcheck disable=SC2016 # expanded by the inner bash
		fnl_broker_is_mock && { timeout 5 bash -c 'echo quit >"$1"' _ "$FNL_BROKER_FIFO" || true; }
		fnl_broker_is_mock || kill -TERM "$FNL_BROKER_PID" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$FNL_BROKER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -TERM "$FNL_BROKER_PID" 2>/dev/null || true
	fi
	local st=0
	wait "$FNL_BROKER_PID" 2>/dev/null || st=$?
	FNL_BROKER_PID=
	if [[ $st -ne 0 ]]; then
		tail -n 20 "$FNL_TMP/broker.err" >&2
		fnl_fail "the $FNL_BROKER broker exited with status $st"
	fi
}
