#!/usr/bin/env bash
# The PHP extension from php-cli against a real funneld: configuration errors,
# keyed records with headers and timestamps, delivery callbacks (key, payload,
# opaque kept until its report), exceptions, a forked child, records left
# unflushed at exit; read back with kcat and checked by verify.py (every record
# exactly once, per-key order, murmur2 partition, headers, timestamps).
# Once against the librdkafka mock cluster, once against kfake-broker.
set -euo pipefail
here=$(dirname "$0")
source "$here/../../../tests/harness/lib.sh"
fnl_test_init 240
source "$here/../../../tests/integration/funnel_lib.sh"
source "$here/php_lib.sh"
command -v php >/dev/null || fnl_fail "php not installed (apt-get install php8.2-cli)"

run_api() { # KIND TOPIC PARTS
	local kind=$1 topic=$2 parts=$3
	fnl_php "$here/api.php" "$topic" "$parts" "$FNL_TMP/ex-$kind" "$kind" ||
		fnl_fail "api.php failed against $kind"
	# not produced as c=/s= records: the 'nopart' one is refused, the null value has none
	fnl_php_verify "$topic" "$parts" "$FNL_TMP/ex-$kind" --allow-unexpected
	[[ $(awk -F'\t' '$4 == "knull" && $5 == "\\N"' "$FNL_TMP/rb-$topic.tsv" | wc -l) == 1 ]] ||
		fnl_fail "$kind: the null-value record is not there exactly once"
	grep -q 'nopart' "$FNL_TMP/rb-$topic.tsv" && fnl_fail "$kind: the record for partition 999 landed"
	return 0
}

fnl_broker_start -b 3 -t phpmock:4 -t phprestart:3
fnl_funneld_start
run_api mock phpmock 4

# a Producer across a funneld restart (records produced meanwhile wait in the ring)
mkdir -p "$FNL_TMP/restart"
fnl_php "$here/restart.php" phprestart "$FNL_TMP/ex-restart" "$FNL_TMP/restart" &
rp=$!
fnl_track "$rp"
fnl_wait_for 60 test -e "$FNL_TMP/restart/phase1" || fnl_fail "restart.php did not get to phase 1"
fnl_funneld_stop
touch "$FNL_TMP/restart/stopped"
fnl_wait_for 60 test -e "$FNL_TMP/restart/phase2" || fnl_fail "restart.php did not get to phase 2"
fnl_funneld_start
wait "$rp" || fnl_fail "restart.php failed"
fnl_php_verify phprestart 3 "$FNL_TMP/ex-restart"
fnl_funneld_stop
fnl_broker_stop

fnl_kfake_start -topic phpkfake:6
fnl_funneld_start
run_api kfake phpkfake 6
fnl_funneld_stop
fnl_kfake_stop
echo "php_cli: ok"
