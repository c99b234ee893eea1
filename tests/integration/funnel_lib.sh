# funnel_lib.sh - helpers for tests that run funneld against the broker harness.
# Source after tests/harness/lib.sh and fnl_test_init.
#   fnl_funneld_start [-X key=value]...   starts funneld on $FNL_BOOTSTRAP, socket in $FNL_TMP;
#                                         exports FNL_SOCKET, FNL_FUNNELD_PID
#   fnl_funneld_stop                      SIGTERM, wait, fail unless exit 0
#   fnl_funneld_ready SOCKET              true once funneld at SOCKET is past start-up (the
#                                         control socket opens before bootstrap)
#   fnl_readback_verify TOPIC PARTS EXPECT... read back with kcat and check every record
#   fnl_free_port                         a TCP port free on 127.0.0.1 now (for a broker
#                                         started later on a port funneld was told)
: "${FNL_FUNNELD:=$FNL_BUILD_DIR/ctrl/funneld}"
: "${FNL_LOAD:=$FNL_BUILD_DIR/tests/integration/fnl-load}"

fnl_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fnl_funneld_start() {
	FNL_SOCKET=$FNL_TMP/run/funnel.sock
	export FNL_SOCKET
	cat >"$FNL_TMP/funnel.properties" <<PROPS
bootstrap.servers=$FNL_BOOTSTRAP
funnel.socket.path=$FNL_SOCKET
linger.ms=5
max.block.ms=10000
PROPS
	"$FNL_FUNNELD" -c "$FNL_TMP/funnel.properties" "$@" 2>>"$FNL_TMP/funneld.err" &
	FNL_FUNNELD_PID=$!
	fnl_track "$FNL_FUNNELD_PID"
	export FNL_FUNNELD_PID
	fnl_wait_for 20 fnl_funneld_ready "$FNL_SOCKET" || {
		cat "$FNL_TMP/funneld.err" >&2
		fnl_fail "funneld did not come up"
	}
}

# Ready: funnelctl answers and its status does not say "starting:" (bootstrap or the
# producer id still pending; clients are refused and retry until then).
fnl_funneld_ready() {
	local out
	out=$("$FNL_BUILD_DIR/ctrl/funnelctl" -s "$1" status 2>/dev/null) || return 1
	[[ $out != *"(starting:"* && $out != *"no metadata yet"* && $out != *"no producer id yet"* ]]
}

fnl_funneld_stop() {
	kill -TERM "$FNL_FUNNELD_PID"
	local st=0
	wait "$FNL_FUNNELD_PID" || st=$?
	[[ $st -eq 0 ]] || { tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "funneld exited $st after SIGTERM"; }
}

# fnl_readback_verify TOPIC PARTITIONS EXPECT_FILE...
fnl_readback_verify() {
	local topic=$1 parts=$2
	shift 2
	local ex=() f
	for f in "$@"; do ex+=(--expect "$f"); done
	"$FNL_READBACK" "$FNL_BOOTSTRAP" "$topic" "$parts" >"$FNL_TMP/rb-$topic.tsv" ||
		fnl_fail "read-back of $topic failed"
	cat "$@" >"$FNL_TMP/expect-$topic.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$topic.tsv" \
		--expect "$FNL_TMP/expect-$topic.tsv" --fail-on-duplicates ||
		fnl_fail "records of $topic do not match what was produced"
}

# fnl_verify_faulty TOPIC PARTITIONS EXPECT_FILE...: after faults. Every record
# must be there, in order; the sequence numbers on the wire must have no gap.
# This broker (librdkafka's mock) does not check sequences without a
# transactional id, so a batch resent after a lost response is stored twice:
# duplicates are allowed only if fnl-rawfetch shows whole batches resent with
# the same producer id, epoch and base sequence (a real broker answers those
# with DUPLICATE_SEQUENCE_NUMBER).
fnl_verify_faulty() {
	local topic=$1 parts=$2
	shift 2
	"$FNL_READBACK" "$FNL_BOOTSTRAP" "$topic" "$parts" >"$FNL_TMP/rb-$topic.tsv" ||
		fnl_fail "read-back of $topic failed"
	cat "$@" >"$FNL_TMP/expect-$topic.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$topic.tsv" \
		--expect "$FNL_TMP/expect-$topic.tsv" | tee "$FNL_TMP/check-$topic.txt" ||
		fnl_fail "records of $topic lost or out of order"
	"$FNL_RAWFETCH" -b "$FNL_BOOTSTRAP" -t "$topic" >"$FNL_TMP/raw-$topic.txt" || fnl_fail "rawfetch $topic"
	python3 "$FNL_VERIFY" batches --rawfetch "$FNL_TMP/raw-$topic.txt" --codec zstd --idempotent \
		| tail -1 | tee "$FNL_TMP/batches-$topic.txt"
	grep -q " 0 sequence errors" "$FNL_TMP/batches-$topic.txt" || fnl_fail "sequence gap on the wire in $topic"
	if ! grep -q " 0 duplicates" "$FNL_TMP/check-$topic.txt"; then
		grep -q " 0 resent" "$FNL_TMP/batches-$topic.txt" &&
			fnl_fail "$topic has duplicates that are not resent batches"
		echo "$topic: duplicates are identical resends (same pid, epoch, base sequence)"
	fi
}

# fnl_pyreadback_verify TOPIC PARTITIONS EXPECT_FILE...: the same check as fnl_readback_verify
# through a second, independent consumer: Debian's python3-kafka (pure Python, its own
# RecordBatch v2 decoder, CRC checks, every codec), so a bug shared by funnel's encoder and
# librdkafka's decoder cannot hide. On the mock it speaks Kafka 0.11's versions (Fetch v4).
fnl_pyreadback_verify() {
	local topic=$1 parts=$2 ver=2.1
	shift 2
	fnl_broker_is_mock && ver=0.11
	/usr/bin/python3 "$FNL_HARNESS_DIR/pyreadback.py" "$FNL_BOOTSTRAP" "$topic" "$parts" "$ver" \
		>"$FNL_TMP/py-$topic.tsv" || fnl_fail "python3-kafka read-back of $topic failed"
	cat "$@" >"$FNL_TMP/expect-py-$topic.tsv"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/py-$topic.tsv" \
		--expect "$FNL_TMP/expect-py-$topic.tsv" --fail-on-duplicates ||
		fnl_fail "python3-kafka: records of $topic do not match what was produced"
}

# ---- network namespaces and certificates (secure.sh, secure_rig.sh, sasl_gate.sh, ktls.sh)
#   fnl_netns_add NAME                 ip netns NAME with lo up, deleted at exit (before lib.sh's
#                                      cleanup, and then "$FNL_NETNS_ON_EXIT" is eval'ed if set);
#                                      needs root
#   fnl_mock_in_ns NS                  the mock broker started by fnl_broker_start runs inside NS
#                                      (FNL_MOCKBROKER becomes a wrapper script)
#   fnl_ns_relay NS SOCKET HOST:PORT   socat inside NS: UNIX-LISTEN SOCKET -> TCP HOST:PORT, tracked,
#                                      waits for the socket; sets FNL_LAST_PID
#   fnl_cert_ca DIR [NAME] CN          a self-signed CA, DIR/NAME.key + DIR/NAME.pem (NAME: ca), 2 days
#   fnl_cert_leaf DIR NAME CN DAYS EXT a key and a certificate signed by DIR/ca: DIR/NAME.key,
#                                      .csr, .ext (EXT: extension lines, printf %b) and .pem
#   fnl_cert_dated DIR NAME OUT START END   DIR/OUT.pem for NAME's request and extensions, valid
#                                      only from START to END (YYYYMMDDhhmmssZ; openssl ca, as
#                                      openssl x509 of OpenSSL 3.0 cannot set the start)
fnl_netns_add() {
	[[ $(id -u) -eq 0 ]] || fnl_fail "$(basename "$0") needs root (ip netns)"
	FNL_NETNS=$1
	ip netns add "$FNL_NETNS" || fnl_fail "ip netns add $FNL_NETNS"
	# set +e: under set -e, "(exit 1)" would end the trap before lib.sh's cleanup ran
	trap 'st=$?; set +e; ip netns del "$FNL_NETNS" 2>/dev/null; [[ -n ${FNL_NETNS_ON_EXIT:-} ]] &&
		eval "$FNL_NETNS_ON_EXIT"; (exit $st); fnl__cleanup' EXIT
	ip netns exec "$FNL_NETNS" ip link set lo up
}

fnl_mock_in_ns() {
	local real=$FNL_MOCKBROKER
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$1" "$real" >"$FNL_TMP/mock-in-ns"
	chmod +x "$FNL_TMP/mock-in-ns"
	FNL_MOCKBROKER=$FNL_TMP/mock-in-ns
}

fnl_ns_relay() {
	ip netns exec "$1" socat "UNIX-LISTEN:$2,fork" "TCP:$3" 2>>"$FNL_TMP/socat.err" &
	FNL_LAST_PID=$!
	fnl_track "$FNL_LAST_PID"
	fnl_wait_for 10 test -S "$2" || fnl_fail "relay in $1 for $3"
}

fnl__openssl() {
	"$@" >/dev/null 2>&1 || fnl_fail "openssl failed: $*"
}

fnl_cert_ca() {
	local dir=$1 name=ca cn
	[[ $# -ge 3 ]] && { name=$2; shift; }
	cn=$2
	mkdir -p "$dir"
	fnl__openssl openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/$name.key" \
		-out "$dir/$name.pem" -days 2 -subj "/CN=$cn"
}

fnl_cert_leaf() {
	local dir=$1 name=$2 cn=$3 days=$4 ext=$5
	fnl__openssl openssl req -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" \
		-subj "/CN=$cn"
	printf '%b' "$ext" >"$dir/$name.ext"
	# -CAcreateserial writes ca.srl next to ca.pem: run where the files are
	(cd "$dir" && fnl__openssl openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key \
		-CAcreateserial -out "$name.pem" -days "$days" -extfile "$name.ext")
}

fnl_cert_dated() {
	local dir=$1 name=$2 out=$3 start=$4 end=$5
	(
		cd "$dir" || exit 1
		if [[ ! -f ca.cnf ]]; then
			mkdir -p ca.d
			touch ca.d/index.txt
			echo 1000 >ca.d/serial
			printf '%s\n' '[ca]' default_ca=d '[d]' database=ca.d/index.txt serial=ca.d/serial \
				new_certs_dir=ca.d default_md=sha256 policy=p unique_subject=no '[p]' \
				commonName=supplied >ca.cnf
		fi
		fnl__openssl openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$name.csr" \
			-out "$out.pem" -startdate "$start" -enddate "$end" -extfile "$name.ext"
	)
}
