#!/usr/bin/env bash
# Funnel\Producer's transactions (php-rdkafka's names) through funneld with a
# transactional.id on kfake-broker (the mock writes no transaction markers).
#   1. php-cli (txn.php): commit, abort, commit with an abortable failure (group
#      metadata of a member the group does not have) then abort, commit; misuse throws
#      Funnel\KafkaErrorException with the right flags; dr_msg_cb runs for every
#      transactional record inside commitTransaction/abortTransaction: the committed ones'
#      (partition, offset) are where read_committed finds them, aborted ones have err 120
#      (TRANSACTION_ABORTABLE) or the coordinator's 25 (UNKNOWN_MEMBER_ID). read_committed (kcat, check.crcs) holds exactly transactions 0
#      and 3 in order; read_uncommitted none of the aborted ones; the group's offsets are
#      those sent with the commits.
#   1b. the same script under valgrind memcheck (PHP's allocator off) on another topic:
#      no invalid access, uninitialised use or definitely lost block; same contents.
#   2. php-fpm with one worker (www/txn.php): requests leave a transaction open at
#      request end, the next request of the same worker begins and commits: RSHUTDOWN
#      aborted the open one; a request whose commitTransaction(0) said retriable ends
#      with its commit under way: RSHUTDOWN waits for its outcome (committed). read_committed
#      and read_uncommitted hold the committed requests' records only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../tests/harness/lib.sh"
fnl_test_init 200
source "$here/../../../tests/integration/funnel_lib.sh"
source "$here/php_lib.sh"
source "$here/fpm_rig.sh"
command -v php >/dev/null || fnl_fail "php not installed (apt-get install php8.2-cli)"
for t in php-fpm8.2 nginx; do
	command -v $t >/dev/null || fnl_fail "$t not installed (apt-get install php8.2-fpm nginx-light)"
done

consume() { # TOPIC ISOLATION: values in partition, offset order
	timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t "$1" -o beginning -e -q \
		-X isolation.level="$2" -X check.crcs=true -X fetch.wait.max.ms=50 \
		-f '%p %o %s\n' | sort -n -k1,1 -k2,2 | awk '{print $3}'
}

fnl_kfake_start -topic phptxn:3 -topic phptxnvg:3 -topic phpfpmtxn:1
fnl_funneld_start -X funnel.metrics.listen= -X transactional.id=php-txn \
	-X transaction.timeout.ms=20000

check_cli() { # TOPIC: what txn.php must have left
	local topic=$1 want got offs
	# one key: one partition, so the order is the commit order
	want=$(for k in 0 3; do for i in 0 1 2 3; do echo "php:$k-$i"; done; done)
	got=$(consume "$topic" read_committed)
	[[ $got == "$want" ]] || fnl_fail "$topic: read_committed holds: $got"
	# aborted client transactions never reach Kafka; the failed window (2) does, aborted
	got=$(consume "$topic" read_uncommitted | grep -v '^php:2-' || true)
	[[ $got == "$want" ]] || fnl_fail "$topic: read_uncommitted holds: $got"
	offs=$(timeout 30 /usr/bin/python3 - "$FNL_BOOTSTRAP" "$topic" <<'PY'
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1].split(","), group_id="phpg",
                  enable_auto_commit=False, api_version=(2, 5, 0))
print(" ".join(str(c.committed(TopicPartition(sys.argv[2], p))) for p in range(3)))
PY
)
	[[ $offs == "8 6 9" ]] || fnl_fail "$topic: group offsets: $offs, want 8 6 9"
	timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t "$topic" -o beginning -e -q \
		-X isolation.level=read_committed -X check.crcs=true -f '%s %p %o\n' | sort >"$FNL_TMP/places.$topic"
	sort "$FNL_TMP/reports.$topic" | diff -u "$FNL_TMP/places.$topic" - >&2 ||
		fnl_fail "$topic: dr_msg_cb's partition/offset differ from read_committed's"
}

echo "== 1. php-cli"
fnl_php "$here/txn.php" phptxn "$FNL_TMP/reports.phptxn" || { tail -20 "$FNL_TMP/funneld.err" >&2; fnl_fail "txn.php failed"; }
check_cli phptxn

echo "== 1b. php-cli under valgrind"
if command -v valgrind >/dev/null; then
	st=0
	FUNNEL_SOCKET=$FNL_SOCKET USE_ZEND_ALLOC=0 ZEND_DONT_UNLOAD_MODULES=1 \
		valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
		php -n -d extension="$FNL_PHP_EXT" "$here/txn.php" phptxnvg "$FNL_TMP/reports.phptxnvg" \
		>"$FNL_TMP/valgrind.txt" 2>&1 || st=$?
	if [[ $st -ne 0 ]] || grep -q "^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|definitely\)" "$FNL_TMP/valgrind.txt"; then
		head -100 "$FNL_TMP/valgrind.txt" >&2
		fnl_fail "txn.php under valgrind: status $st"
	fi
	grep -q "^php transactions ok" "$FNL_TMP/valgrind.txt" || fnl_fail "txn.php under valgrind did not finish"
	check_cli phptxnvg
else
	fnl_fail "valgrind not installed (apt-get install valgrind)"
fi

echo "== 2. php-fpm: a transaction left open at request end is aborted"
FPM_RIG_CHILDREN=1 FPM_RIG_ENV="FUNNEL_SOCKET=$FNL_SOCKET FNL_PHP_TOPIC=phpfpmtxn" \
	fpm_rig_start "$FNL_TMP/fpm" "$here/www" -- -d extension="$FNL_PHP_EXT" ||
	fnl_fail "nginx + php-fpm did not start"
fnl_track "$FPM_RIG_FPM_PID"
fnl_track "$FPM_RIG_NGINX_PID"
url="http://127.0.0.1:$FPM_RIG_PORT/txn.php"
want=""
for n in 1 2 3 4 5 6 7 8; do
	# odd: left open; even: committed by the same worker; 5 and 7: commit with timeout 0
	commit=$((n % 2 == 0 ? 1 : n == 5 || n == 7 ? 2 : 0))
	ans=$(timeout 30 curl -sS "$url?n=$n&commit=$commit") || fnl_fail "request $n failed: $ans"
	echo "request $n (commit=$commit): $ans"
	[[ $ans == "ok $n" || ($commit == 2 && ($ans == "ok $n retriable" || $ans == "ok $n committed")) ]] || {
		cat "$FNL_TMP/fpm/fpm.log" >&2 || true
		fnl_fail "request $n (commit=$commit) answered: $ans"
	}
	((commit)) && want+="fpm:$n-0"$'\n'"fpm:$n-1"$'\n'
done
[[ $(fpm_rig_workers | wc -w) == 1 ]] || fnl_fail "expected one php-fpm worker"
got=$(consume phpfpmtxn read_committed)
[[ $got$'\n' == "$want" ]] || fnl_fail "fpm read_committed holds: $got"
got=$(consume phpfpmtxn read_uncommitted)
[[ $got$'\n' == "$want" ]] || fnl_fail "fpm read_uncommitted holds: $got"
fpm_rig_stop || fnl_fail "php-fpm or nginx did not stop cleanly"
fnl_funneld_stop
fnl_kfake_stop
echo "php_txn: ok"
