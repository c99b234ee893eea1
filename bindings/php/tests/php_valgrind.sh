#!/usr/bin/env bash
# The PHP extension's own memory checks: the sanitizer runtimes cannot load
# into php (it dlopen()s extensions with RTLD_DEEPBIND), so api.php runs under
# valgrind memcheck (PHP's allocator off, USE_ZEND_ALLOC=0) against funneld
# and kfake-broker: any invalid access, use of uninitialised memory or
# definitely lost block fails it (a forked child too: its exit status is
# checked by api.php).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../tests/harness/lib.sh"
fnl_test_init 500
source "$here/../../../tests/integration/funnel_lib.sh"
source "$here/php_lib.sh"
command -v valgrind >/dev/null || fnl_fail "valgrind not installed (apt-get install valgrind)"

fnl_kfake_start -topic phpvg:4
fnl_funneld_start
st=0
FUNNEL_SOCKET=$FNL_SOCKET USE_ZEND_ALLOC=0 ZEND_DONT_UNLOAD_MODULES=1 \
	valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	php -n -d extension="$FNL_PHP_EXT" "$here/api.php" phpvg 4 "$FNL_TMP/ex" kfake \
	>"$FNL_TMP/valgrind.txt" 2>&1 || st=$?
if [[ $st -ne 0 ]] || grep -q "^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|definitely\)" "$FNL_TMP/valgrind.txt"; then
	head -100 "$FNL_TMP/valgrind.txt" >&2
	fnl_fail "api.php under valgrind: status $st"
fi
grep "^api.php" "$FNL_TMP/valgrind.txt"
fnl_php_verify phpvg 4 "$FNL_TMP/ex" --allow-unexpected
fnl_funneld_stop
fnl_kfake_stop
echo "php_valgrind: ok"
