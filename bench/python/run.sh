#!/usr/bin/env bash
# run.sh BUILD_DIR [bench_produce.py options]: starts fnl-mockbroker (3 brokers)
# and funneld from BUILD_DIR, runs bench_produce.py with Debian's python3 on the
# module in BUILD_DIR/bindings/python, stops both. Use a release build:
#   meson setup build-rel --buildtype=release && meson compile -C build-rel
#   bench/python/run.sh build-rel --records 200000 --rounds 5
set -euo pipefail
build=$(cd "${1:?usage: run.sh BUILD_DIR [options]}" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/fnl-pybench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
"$build/tests/harness/fnl-mockbroker" -k -b 3 -t bench:6 </dev/null >"$tmp/broker.out" 2>"$tmp/broker.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^BOOTSTRAP ' "$tmp/broker.out" 2>/dev/null && break; sleep 0.1; done
boot=$(sed -n 's/^BOOTSTRAP //p' "$tmp/broker.out" | head -1)
[[ -n $boot ]] || { echo "fnl-mockbroker did not start" >&2; exit 1; }
cat >"$tmp/funnel.properties" <<PROPS
bootstrap.servers=$boot
funnel.socket.path=$tmp/funnel.sock
funnel.metrics.listen=
funnel.ring.bytes.max=134217728
PROPS
"$build/ctrl/funneld" -c "$tmp/funnel.properties" 2>"$tmp/funneld.err" &
pids+=($!)
for _ in $(seq 100); do [[ -S $tmp/funnel.sock ]] && break; sleep 0.1; done
echo "python: $(/usr/bin/python3 -V 2>&1); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(nproc) cpus"
PYTHONPATH=$build/bindings/python /usr/bin/python3 "$here/bench_produce.py" \
	--socket "$tmp/funnel.sock" --bootstrap "$boot" --topic bench "$@"
