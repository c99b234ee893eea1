#!/usr/bin/env bash
# bench/dpdk/run.sh BUILD_DIR - the egress path alone (fnl-produce-bench) over one veth pair
# between two network namespaces, io_uring (kernel TCP) against DPDK (lwIP on net_af_xdp and
# net_af_packet), same broker, same forwarder, same veth. Needs root and a -Ddpdk=enabled
# build. Prints one JSON line per run (see bench/README.md, "DPDK egress").
#
#   ns B: fnl-mockbroker (1 broker, topic pb:1) on 127.0.0.1:P; socat 10.99.0.1:P -> it;
#         bD 10.99.0.1/24 (tx checksum offload off)
#   ns F: fD (DPDK's port, or the kernel's 10.99.0.2/24 for io_uring); the bench's metadata
#         connection: 127.0.0.1:P -> unix socket -> ns B
set -euo pipefail
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
secs=${FNL_BENCH_SECONDS:-3}
bench=$build/bench/produce/fnl-produce-bench
[[ -x $bench && -x $build/tests/harness/fnl-mockbroker ]] || { echo "build $build first" >&2; exit 1; }
NB=fnl-bb-$$ NF=fnl-bf-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$NB" 2>/dev/null || true
	ip netns del "$NF" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$NB"; ip netns add "$NF"
ip -n "$NB" link set lo up; ip -n "$NF" link set lo up
ip link add bD netns "$NB" type veth peer name fD netns "$NF"
ip -n "$NB" addr add 10.99.0.1/24 dev bD
ip -n "$NB" link set bD mtu 1500 up
ip netns exec "$NB" ethtool -K bD tx off >/dev/null
ip -n "$NF" link set fD mtu 1500 up
ip netns exec "$NB" "$build/tests/harness/fnl-mockbroker" -k -b 1 -t pb:1 </dev/null >"$tmp/broker.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q '^BOOTSTRAP' "$tmp/broker.out" 2>/dev/null && break; sleep 0.1; done
bs=$(sed -n 's/^BOOTSTRAP //p' "$tmp/broker.out")
p=${bs##*:}
ip netns exec "$NB" socat "TCP-LISTEN:$p,bind=10.99.0.1,reuseaddr,fork" "TCP:127.0.0.1:$p" &
pids+=($!)
ip netns exec "$NB" socat "UNIX-LISTEN:$tmp/b.sock,fork" "TCP:127.0.0.1:$p" &
pids+=($!)
sleep 0.5
ip netns exec "$NF" socat "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$tmp/b.sock" &
pids+=($!)
sleep 0.5
cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
run() { # LABEL ARGS...: one bench run in ns F, pinned; adds the process CPU seconds
	local label=$1 out u s
	shift
	out=$( { TIMEFORMAT='%U %S'; time ip netns exec "$NF" taskset -c "$cpu" "$bench" \
		-b "127.0.0.1:$p" -t pb -d "$secs" -M 127.0.0.1=10.99.0.1 "$@" 2>"$tmp/err"; } 2>"$tmp/time") ||
		{ echo "{\"run\":\"$label\",\"error\":\"$(tail -1 "$tmp/err")\"}"; return 0; }
	read -r u s <"$tmp/time"
	echo "{\"run\":\"$label\",\"cpu_s\":$(awk -v a="$u" -v b="$s" 'BEGIN { print a + b }'),${out#\{}"
}
eal() { echo "-l $cpu --no-huge --no-pci --no-shconf --no-telemetry -m 256 --log-level=*:error --vdev=${1}0,iface=fD"; }
for pmd in net_af_xdp net_af_packet; do
	for args in "-i 1" "-i 5" "-i 1 -s 1024"; do
		# shellcheck disable=SC2086
		run "dpdk-$pmd $args" $args -E dpdk -A "$(eal $pmd)" -I 10.99.0.2
		ip -n "$NF" link set dev fD xdp off 2>/dev/null || true
	done
done
ip -n "$NF" addr add 10.99.0.2/24 dev fD
for args in "-i 1" "-i 5" "-i 1 -s 1024"; do
	# shellcheck disable=SC2086
	run "uring $args" $args
done
