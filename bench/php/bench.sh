#!/usr/bin/env bash
# bench/php/bench.sh - requests/s of a trivial PHP page with and without one
# Funnel\Producer::produce(), on the same nginx + php-fpm rig (the one
# bindings/php/tests/php_fpm.sh uses: processes of this script, configs in a
# temp dir, 127.0.0.1), funneld on a kfake-broker, opcache on.
#
#   bench/php/bench.sh BUILD_DIR   (a release build: meson setup BUILD --buildtype=release)
#   env: REQUESTS (40000 per run), CONCURRENCY (32), ROUNDS (5), CHILDREN (8), KEEPALIVE (1)
# Runs the two pages alternately, ROUNDS times each, after a warm-up of both;
# prints each run (requests/s, and CPU time per request of the php-fpm workers,
# nginx and funneld, from /proc: less disturbed by other load on the machine
# than requests/s) and the medians; exits non-zero if any request failed.
set -euo pipefail
build=$(cd "${1:?usage: bench.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export FNL_BUILD_DIR=$build
source "$top/tests/harness/lib.sh"
fnl_test_init 3000
source "$top/tests/integration/funnel_lib.sh"
source "$top/bindings/php/tests/php_lib.sh"
source "$top/bindings/php/tests/fpm_rig.sh"
REQUESTS=${REQUESTS:-40000} CONCURRENCY=${CONCURRENCY:-32} ROUNDS=${ROUNDS:-5}
ka=()
[[ ${KEEPALIVE:-1} == 1 ]] && ka=(-k)

fnl_kfake_start -topic bench:6
fnl_funneld_start
FPM_RIG_CHILDREN=${CHILDREN:-8} FPM_RIG_ENV="FUNNEL_SOCKET=$FNL_SOCKET" \
	fpm_rig_start "$FNL_TMP" "$here/www" -- -d extension="$FNL_PHP_EXT" \
	-d zend_extension=opcache -d opcache.enable=1 -d opcache.validate_timestamps=0 ||
	fnl_fail "nginx + php-fpm did not start"
fnl_track "$FPM_RIG_FPM_PID"
fnl_track "$FPM_RIG_NGINX_PID"
base="http://127.0.0.1:$FPM_RIG_PORT"

# CPU clock ticks (user + system) used so far by the processes named: php-fpm
# workers, nginx workers, funneld (all its threads).
ticks() { # PID... -> their user + system clock ticks
	local p
	for p in "$@"; do cut -d' ' -f14,15 "/proc/$p/stat"; done | awk '{t += $1 + $2} END {print t}'
}
cpu_ticks() { # -> "web funneld": php-fpm + nginx workers, and funneld
	# shellcheck disable=SC2046
	echo "$(ticks $(ps -o pid= --ppid "$FPM_RIG_FPM_PID") $(ps -o pid= --ppid "$FPM_RIG_NGINX_PID"))" \
		"$(ticks "$FNL_FUNNELD_PID")"
}
run() { # REQUESTS PAGE -> "requests/s web_cpu_us_per_request funneld_cpu_us_per_request"
	local out w0 f0 w1 f1 hz
	hz=$(getconf CLK_TCK)
	read -r w0 f0 < <(cpu_ticks)
	out=$(ab -q "${ka[@]}" -n "$1" -c "$CONCURRENCY" "$base/$2?key=k42" 2>&1) ||
		fnl_fail "ab failed: $out"
	read -r w1 f1 < <(cpu_ticks)
	grep -q '^Failed requests: *0$' <<<"$out" || fnl_fail "failed requests on $2: $out"
	if grep -q '^Non-2xx responses' <<<"$out"; then fnl_fail "non-2xx answers on $2"; fi
	echo "$(sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' <<<"$out")" \
		"$(((w1 - w0) * 1000000 / hz / $1))" "$(((f1 - f0) * 1000000 / hz / $1))"
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run 5000 empty.php >/dev/null
run 5000 produce.php >/dev/null
e=() p=() ew=() pw=() ef=() pf=()
for ((r = 1; r <= ROUNDS; r++)); do
	read -r x y z < <(run "$REQUESTS" empty.php)
	e+=("$x") ew+=("$y") ef+=("$z")
	read -r x y z < <(run "$REQUESTS" produce.php)
	p+=("$x") pw+=("$y") pf+=("$z")
	echo "round $r: empty.php ${e[-1]} req/s (CPU/req: web ${ew[-1]} us, funneld ${ef[-1]} us)," \
		"produce.php ${p[-1]} req/s (web ${pw[-1]} us, funneld ${pf[-1]} us)"
done
me=$(echo "${e[*]}" | median) mp=$(echo "${p[*]}" | median)
echo "median of $ROUNDS: empty.php $me req/s, produce.php $mp req/s:" \
	"$(python3 -c "print('%.1f' % (100 * (1 - $mp / $me)))")% fewer requests/s;" \
	"CPU per request: web (php-fpm + nginx) $(echo "${ew[*]}" | median) us vs" \
	"$(echo "${pw[*]}" | median) us, funneld $(echo "${ef[*]}" | median) us vs $(echo "${pf[*]}" | median) us"
fpm_rig_stop || fnl_fail "nginx or php-fpm did not stop cleanly"
fnl_funneld_stop
want=$((5000 + ROUNDS * REQUESTS))
got=$(FNL_READBACK_TIMEOUT=300 "$FNL_READBACK" "$FNL_BOOTSTRAP" bench 6 | wc -l)
echo "records read back: $got of $want"
[[ $got == "$want" ]] || fnl_fail "read back $got records, produced $want"
fnl_kfake_stop
