# shellcheck shell=bash
# php_lib.sh - helpers for the PHP extension's tests (source after funnel_lib.sh).
#   fnl_php ARGS...                      php with only the funnel extension loaded
#   fnl_kfake_start -topic NAME:PARTS... kfake-broker (3 brokers) via lib.sh; sets FNL_BOOTSTRAP
#   fnl_kfake_stop                       fnl_broker_stop for it
#   fnl_php_verify TOPIC PARTS EXPECT    read back with kcat, verify.py check (murmur2 too)
: "${FNL_PHP_EXT:=$FNL_BUILD_DIR/bindings/php/funnel.so}"

fnl_php() {
	FUNNEL_SOCKET=${FNL_SOCKET:-} php -n -d extension="$FNL_PHP_EXT" "$@"
}

# kfake through lib.sh's broker start (FNL_KFAKE says where it is), the mock before it
# stays the mock's: FNL_BROKER is switched for this start and stop only.
fnl_kfake_start() {
	FNL_BROKER=kfake fnl_broker_start -- "$@"
}

fnl_kfake_stop() {
	FNL_BROKER=kfake fnl_broker_stop
}

fnl_php_verify() {
	local topic=$1 parts=$2 expect=$3
	"$FNL_READBACK" "$FNL_BOOTSTRAP" "$topic" "$parts" >"$FNL_TMP/rb-$topic.tsv" ||
		fnl_fail "read-back of $topic failed"
	python3 "$FNL_VERIFY" check --readback "$FNL_TMP/rb-$topic.tsv" --expect "$expect" \
		--partitions "$parts" --fail-on-duplicates "${@:4}" ||
		fnl_fail "records of $topic do not match what PHP produced"
}
