#!/usr/bin/env bash
# selftest.sh SCENARIO - proves the harness against kcat, librdkafka's own producer.
#
#   SCENARIO: idle | down-up | leader-move | not-leader | commands | crc
#
# A 3-broker fnl-mockbroker with topics t1 (6 partitions) and t2 (3 partitions). Client "a"
# produces 10,000 keyed records with two headers to t1 through one kcat (zstd, idempotent,
# murmur2_random = the Java partitioner), fed in four chunks; the fault of the scenario starts
# after chunk 1 and ends after chunk 2. Client "b" produces 2,000 records to t2 meanwhile. Then:
# readback.sh + verify.py check (every record once, in order, murmur2 partition, key, headers,
# timestamp within the run) and fnl-rawfetch + verify.py batches (CRC32C, codec zstd, producer
# id and sequence continuity). "commands" checks the broker's command parser instead; "crc"
# checks that readback.sh, fnl-rawfetch and verify.py notice a batch with a wrong CRC32C.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scenario=${1:?usage: selftest.sh idle|down-up|leader-move|not-leader|commands|crc}
fnl_test_init 55

cmd() {
	fnl_broker_cmd "$1" >/dev/null || fnl_fail "broker command '$1' failed"
}

# Expects the command to be rejected, and the broker to survive it.
cmd_err() {
	local reply
	if reply=$(fnl_broker_cmd "$1"); then
		fnl_fail "'$1' was accepted: $reply"
	fi
	[[ $reply == ERR* ]] || fnl_fail "'$1' got no ERR reply: $reply"
}

scenario_commands() {
	local junk
	fnl_broker_start -b 3 -t t1:2
	cmd "help"
	cmd "topic t9 4 2"
	cmd "leader t9 3 3"
	cmd "topic t8 1 1"
	cmd "leader t8 0 -1"
	cmd "rtt 2 5"
	cmd "rtt 2 0"
	cmd "push Produce NOT_LEADER_OR_FOLLOWER 6 REQUEST_TIMED_OUT"
	cmd "push_rtt 1 0 NOT_LEADER_OR_FOLLOWER 10 0 0"
	[[ $(fnl_broker_cmd "errcnt 1 Produce") == "OK errcnt 2" ]] || fnl_fail "errcnt"
	cmd "clear"
	cmd "clear Produce"
	cmd "apiversion Produce 3 7"
	cmd "topic_error t1 0"
	cmd "down 3"
	cmd "up 3"
	cmd_err "down 4"
	cmd_err "down 0"
	cmd_err "down x"
	cmd_err "up"
	cmd_err "leader nosuch 0 1"
	cmd_err "leader t9 4 1"
	cmd_err "leader t9 0 9"
	cmd_err "topic t9 4 1"
	cmd_err "topic tz 0 1"
	cmd_err "topic tz 2 4"
	cmd_err "push Produce"
	cmd_err "push Bogus 6"
	cmd_err "push 0 NO_SUCH_ERROR"
	cmd_err "push_rtt 1 0 6"
	cmd_err "push_rtt 1 0 6 -5"
	cmd_err "errcnt 9 0"
	cmd_err "frobnicate"
	cmd_err "rtt 1 99999999999999999999"
	junk=$(head -c 5000 /dev/zero | tr '\0' 'x')
	cmd_err "$junk"
	cmd_err "$(seq -s ' ' 1 200)"
	# After all that the broker still serves Kafka requests.
	printf 'k\tc=a s=0\n' | kcat -P -b "$FNL_BOOTSTRAP" -t t9 -K $'\t' -p 1 ||
		fnl_fail "kcat produce after bad commands"
	"$FNL_READBACK" "$FNL_BOOTSTRAP" t9 >"$FNL_TMP/t9.tsv" || fnl_fail "read back t9"
	[[ $(wc -l <"$FNL_TMP/t9.tsv") -eq 1 ]] || fnl_fail "t9 should hold one record"
	fnl_broker_stop
	echo "commands ok"
}

# The read-back tools must notice a batch whose CRC32C is wrong (the mock never checks CRCs).
scenario_crc() {
	fnl_broker_start -b 3 -t t1:2
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t t1 -p 0 -i "c=x s=0 good" >/dev/null || fnl_fail "inject"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t t1 -p 0 -i "c=x s=1 good" >/dev/null || fnl_fail "inject"
	"$FNL_READBACK" "$FNL_BOOTSTRAP" t1 >"$FNL_TMP/good.tsv" || fnl_fail "readback of good batches"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/good.tsv" --clients x=2 \
		--fail-on-duplicates || fnl_fail "hand-made batches do not verify"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t t1 -p 1 -I "c=x s=2 bad" >/dev/null || fnl_fail "inject"
	if "$FNL_READBACK" "$FNL_BOOTSTRAP" t1 >"$FNL_TMP/bad.tsv" 2>"$FNL_TMP/bad.err"; then
		fnl_fail "readback.sh accepted a batch with a bad CRC"
	fi
	grep -q CRC "$FNL_TMP/bad.err" || fnl_fail "kcat did not report the CRC: $(cat "$FNL_TMP/bad.err")"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t t1 >"$FNL_TMP/t1.batches" || fnl_fail "rawfetch"
	[[ $(grep -c ' crc_ok=0 ' "$FNL_TMP/t1.batches") -eq 1 ]] || fnl_fail "rawfetch crc_ok=0"
	[[ $(grep -c ' crc_ok=1 ' "$FNL_TMP/t1.batches") -eq 2 ]] || fnl_fail "rawfetch crc_ok=1"
	if python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/t1.batches"; then
		fnl_fail "verify.py batches accepted a bad CRC"
	fi
	fnl_broker_stop
	echo "crc ok"
}

fault_on() {
	local p
	case $scenario in
	down-up) cmd "down 2" ;;
	leader-move) for ((p = 0; p < 6; p++)); do cmd "leader t1 $p $(((p + 1) % 3 + 1))"; done ;;
	not-leader)
		cmd "push Produce NOT_LEADER_OR_FOLLOWER NOT_LEADER_OR_FOLLOWER NOT_LEADER_OR_FOLLOWER"
		cmd "push_rtt 1 Produce NOT_LEADER_OR_FOLLOWER 50 NOT_LEADER_OR_FOLLOWER 0"
		;;
	esac
}

fault_off() {
	local p
	case $scenario in
	down-up) cmd "up 2" ;;
	leader-move) for ((p = 0; p < 6; p++)); do cmd "leader t1 $p $(((p + 2) % 3 + 1))"; done ;;
	esac
}

# Feeds the kcat input of client a in four chunks around the fault.
feed() {
	local f=$FNL_TMP/a.kcat
	sed -n '1,2500p' "$f"
	sleep 0.3
	fault_on
	sed -n '2501,5000p' "$f"
	sleep 0.7
	fault_off
	sed -n '5001,7500p' "$f"
	sleep 0.2
	sed -n '7501,$p' "$f"
}

kcat_produce() {
	local topic=$1 client=$2
	kcat -P -b "$FNL_BOOTSTRAP" -t "$topic" -K $'\t' -z zstd \
		-H "client=$client" -H "run=$scenario" \
		-X partitioner=murmur2_random -X enable.idempotence=true -X linger.ms=5 \
		-X reconnect.backoff.ms=50 -X reconnect.backoff.max.ms=250 -X retry.backoff.ms=50 \
		-X topic.metadata.refresh.interval.ms=1000 -X message.timeout.ms=30000
}

scenario_produce() {
	local t0 t1 dupflag=(--fail-on-duplicates) resendflag=(--fail-on-resend) p
	fnl_broker_start -b 3 -t t1:6 -t t2:3
	for ((p = 0; p < 6; p++)); do cmd "leader t1 $p $((p % 3 + 1))"; done
	python3 "$FNL_VERIFY" gen --client a --count 10000 --keys 1000 --pad 40 --topic t1 \
		--partitions 6 --headers "client=a,run=$scenario" \
		--kcat "$FNL_TMP/a.kcat" --expect "$FNL_TMP/a.expect"
	python3 "$FNL_VERIFY" gen --client b --count 2000 --keys 50 --pad 8 --topic t2 \
		--partitions 3 --headers "client=b,run=$scenario" \
		--kcat "$FNL_TMP/b.kcat" --expect "$FNL_TMP/b.expect"

	t0=$(fnl_now_ms)
	kcat_produce t2 b <"$FNL_TMP/b.kcat" 2>"$FNL_TMP/kcat-b.err" &
	fnl_track $!
	local bpid=$!
	feed | kcat_produce t1 a 2>"$FNL_TMP/kcat-a.err" ||
		fnl_fail "kcat producer a failed: $(tail -5 "$FNL_TMP/kcat-a.err")"
	wait "$bpid" || fnl_fail "kcat producer b failed: $(tail -5 "$FNL_TMP/kcat-b.err")"
	t1=$(fnl_now_ms)
	echo "produced 12000 records in $((t1 - t0)) ms"

	if [[ $scenario == not-leader ]]; then
		[[ $(fnl_broker_cmd "errcnt 1 Produce") == "OK errcnt 0" ]] ||
			fnl_fail "pushed Produce errors on broker 1 were not all consumed"
	fi
	if [[ $scenario == down-up ]]; then
		# The mock does not check sequences without a transactional id, so a request that
		# was appended just before its connection died is appended again when retried.
		dupflag=()
		resendflag=()
	fi

	"$FNL_READBACK" "$FNL_BOOTSTRAP" t1 6 >"$FNL_TMP/t1.tsv" || fnl_fail "readback t1"
	"$FNL_READBACK" "$FNL_BOOTSTRAP" t2 >"$FNL_TMP/t2.tsv" || fnl_fail "readback t2"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/t1.tsv" --readback "$FNL_TMP/t2.tsv" \
		--expect <(cat "$FNL_TMP/a.expect" "$FNL_TMP/b.expect") \
		--partitions t1=6,t2=3 --ts-min "$t0" --ts-max "$t1" "${dupflag[@]}" ||
		fnl_fail "verify.py check"

	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t t1 >"$FNL_TMP/t1.batches" || fnl_fail "rawfetch t1"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t t2 >"$FNL_TMP/t2.batches" || fnl_fail "rawfetch t2"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/t1.batches" --codec zstd --idempotent \
		"${resendflag[@]}" || fnl_fail "verify.py batches t1"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/t2.batches" --codec zstd --idempotent \
		"${resendflag[@]}" || fnl_fail "verify.py batches t2"
	if grep -q '^ERR' "$FNL_TMP/broker.out"; then
		fnl_fail "broker reported: $(grep '^ERR' "$FNL_TMP/broker.out" | head -3)"
	fi
	fnl_broker_stop
	echo "scenario $scenario ok"
}

case $scenario in
commands) scenario_commands ;;
crc) scenario_crc ;;
idle | down-up | leader-move | not-leader) scenario_produce ;;
*) fnl_fail "unknown scenario $scenario" ;;
esac
