#!/usr/bin/env bash
# readback.sh - read back every record of a topic with kcat, independently of funnel.
#
#   readback.sh BOOTSTRAP TOPIC [PARTITIONS]
#
# Prints one line per record, sorted by partition then offset, 7 tab-separated fields:
#   topic  partition  offset  key  value  headers  timestamp_ms
# with the escaping described in verify.py / README.md (null key or value: \N).
# kcat runs as a plain (group-less) consumer from the beginning to the end of each partition with
# CRC checks on (-X check.crcs=true); without PARTITIONS one kcat reads all partitions, with
# PARTITIONS one kcat per partition 0..PARTITIONS-1. Exit status: non-zero if kcat failed
# (including a CRC mismatch, which kcat treats as an error) or did not finish within
# FNL_READBACK_TIMEOUT seconds (default 30). kcat's own errors go to stderr.
# FNL_KCAT_ARGS (optional) adds kcat arguments, split on spaces: e.g. TLS/SASL settings
# "-X security.protocol=SSL -X ssl.ca.location=ca.pem".
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
	echo "usage: readback.sh BOOTSTRAP TOPIC [PARTITIONS]" >&2
	exit 2
fi
bootstrap=$1
topic=$2
parts=${3:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
limit=${FNL_READBACK_TIMEOUT:-30}
errlog=$(mktemp "${TMPDIR:-/tmp}/fnl-readback.XXXXXX")
trap 'rm -f "$errlog"' EXIT

# One kcat consumer; arguments are passed to kcat (e.g. -p 3).
consume() {
	# shellcheck disable=SC2086 # FNL_KCAT_ARGS is a list of words
	timeout "$limit" kcat -C -b "$bootstrap" -t "$topic" "$@" ${FNL_KCAT_ARGS:-} -o beginning -e -J \
		-X check.crcs=true -X fetch.wait.max.ms=50 -X socket.timeout.ms=10000 \
		2>>"$errlog"
}

# All JSON envelopes of the topic; the status is the first failing kcat's.
consume_all() {
	local st=0 p r
	if [[ -z $parts ]]; then
		consume || st=$?
	else
		for ((p = 0; p < parts; p++)); do
			consume -p "$p" || {
				r=$?
				[[ $st -ne 0 ]] || st=$r
			}
		done
	fi
	return "$st"
}

# verify.py tsv turns kcat's JSON envelope into escaped TSV; pipefail keeps kcat's status.
rc=0
consume_all | python3 "$here/verify.py" tsv | LC_ALL=C sort -t $'\t' -k2,2n -k3,3n -s || rc=$?

# Pass kcat's messages on, except its normal end-of-partition notes.
grep -v '^% Reached end of topic' "$errlog" >&2 || true
if [[ $rc -ne 0 ]]; then
	echo "readback.sh: kcat failed (status $rc) reading $topic from $bootstrap" >&2
fi
exit "$rc"
