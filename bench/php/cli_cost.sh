#!/usr/bin/env bash
# bench/php/cli_cost.sh BUILD_DIR - the PHP-side cost of a request's
# new Funnel\Producer + produce(), and of produce() alone, from php-cli with
# opcache (bench/php/cli_loop.php, twice), against funneld on a kfake-broker.
set -euo pipefail
build=$(cd "${1:?usage: cli_cost.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export FNL_BUILD_DIR=$build
source "$top/tests/harness/lib.sh"
fnl_test_init 300
source "$top/tests/integration/funnel_lib.sh"
source "$top/bindings/php/tests/php_lib.sh"
fnl_kfake_start -topic bench:6
fnl_funneld_start
for _ in 1 2; do
	fnl_php -d zend_extension=opcache -d opcache.enable_cli=1 "$here/cli_loop.php"
done
fnl_funneld_stop
fnl_kfake_stop
