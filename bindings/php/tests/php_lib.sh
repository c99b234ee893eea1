# shellcheck shell=bash
# php_lib.sh - helpers for the PHP extension's tests (source after funnel_lib.sh).
#   fnl_php ARGS...                      php with only the funnel extension loaded
#   fnl_kfake_start -topic NAME:PARTS... start kfake-broker (3 brokers); sets FNL_BOOTSTRAP
#   fnl_kfake_stop                       SIGTERM, wait; fail unless it exited 0
#   fnl_php_verify TOPIC PARTS EXPECT    read back with kcat, verify.py check (murmur2 too)
: "${FNL_PHP_EXT:=$FNL_BUILD_DIR/bindings/php/funnel.so}"
: "${FNL_KFAKE:=$FNL_HARNESS_DIR/../../../shared/brokers/kfake-broker}"
[[ -x $FNL_KFAKE ]] || FNL_KFAKE=/work/shared/brokers/kfake-broker

fnl_php() {
	FUNNEL_SOCKET=${FNL_SOCKET:-} php -n -d extension="$FNL_PHP_EXT" "$@"
}

fnl_kfake_start() {
	[[ -x $FNL_KFAKE ]] || fnl_fail "kfake-broker not found (set FNL_KFAKE)"
	rm -f "$FNL_TMP/kfake.boot"
	"$FNL_KFAKE" -brokers 3 -bootfile "$FNL_TMP/kfake.boot" "$@" \
		>"$FNL_TMP/kfake.out" 2>"$FNL_TMP/kfake.err" &
	FNL_KFAKE_PID=$!
	fnl_track "$FNL_KFAKE_PID"
	fnl_wait_for 20 test -s "$FNL_TMP/kfake.boot" || {
		cat "$FNL_TMP/kfake.err" >&2
		fnl_fail "kfake-broker did not write its bootstrap file"
	}
	FNL_BOOTSTRAP=$(cat "$FNL_TMP/kfake.boot")
	export FNL_BOOTSTRAP
}

fnl_kfake_stop() {
	kill -TERM "$FNL_KFAKE_PID"
	local st=0
	wait "$FNL_KFAKE_PID" || st=$?
	[[ $st -eq 0 ]] || fnl_fail "kfake-broker exited $st after SIGTERM"
}

fnl_php_verify() {
	local topic=$1 parts=$2 expect=$3
	"$FNL_READBACK" "$FNL_BOOTSTRAP" "$topic" "$parts" >"$FNL_TMP/rb-$topic.tsv" ||
		fnl_fail "read-back of $topic failed"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$topic.tsv" --expect "$expect" \
		--partitions "$parts" --fail-on-duplicates "${@:4}" ||
		fnl_fail "records of $topic do not match what PHP produced"
}
