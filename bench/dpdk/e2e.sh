#!/usr/bin/env bash
# bench/dpdk/e2e.sh BUILD_DIR [funnel-bench options...] - funnel-bench end to end (clients ->
# funneld -> broker; acked rec/s, CPU per record, e2e p50/p99) with funneld's egress over one
# veth pair between two network namespaces, once with funnel.egress=dpdk (lwIP on net_af_xdp)
# and once with funnel.egress=uring (kernel TCP on the same veth end). Needs root and a
# -Ddpdk=enabled build with funnel-bench, funneld and fnl-mockbroker. See bench/README.md,
# "DPDK egress".
#
#   ns B: fnl-mockbroker on 127.0.0.1:P (it advertises that); per port a socat
#         10.99.0.1:P -> 127.0.0.1:P (what both egresses reach over the veth) and a
#         UNIX socket -> 127.0.0.1:P (ctrl's kernel path in the dpdk run)
#   ns F: funneld; fD is the DPDK port (dpdk run) or carries 10.99.0.2/24 (uring run).
#         127.0.0.1:P -> for dpdk: the UNIX socket (ctrl's Metadata/InitProducerId; the data
#         plane goes over lwIP with funnel.dpdk.addr.map=127.0.0.1=10.99.0.1);
#         for uring: TCP to 10.99.0.1:P over the veth (io_uring has no address map, so its
#         data plane takes one more relay than DPDK's: socat in ns F)
# The clients run in the root namespace and reach funneld's socket by its path.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bench/dpdk/e2e.sh BUILD_DIR [funnel-bench options...]" >&2; exit 2; }
B=$(cd "$1" && pwd)
shift
[[ $(id -u) -eq 0 ]] || { echo "e2e.sh: needs root (ip netns, AF_XDP)" >&2; exit 2; }
for t in "$B/bench/funnel-bench" "$B/ctrl/funneld" "$B/tests/harness/fnl-mockbroker"; do
	[[ -x $t ]] || { echo "e2e.sh: build $t first" >&2; exit 2; }
done
T=$(mktemp -d /tmp/fnl-benchdpdk.XXXXXX)
NB=fnl-bdb-$$ NF=fnl-bdf-$$
ip netns add "$NB"
ip netns add "$NF"
trap 'ip netns del "$NB" 2>/dev/null; ip netns del "$NF" 2>/dev/null; rm -rf "$T"' EXIT
ip -n "$NB" link set lo up
ip -n "$NF" link set lo up
ip link add bD netns "$NB" type veth peer name fD netns "$NF"
ip -n "$NB" addr add 10.99.0.1/24 dev bD
ip -n "$NB" link set bD mtu 1500 up
ip netns exec "$NB" ethtool -K bD tx off >/dev/null # lwIP drops the kernel's partial checksums
ip -n "$NF" link set fD mtu 1500 up

# the wrapper funnel-bench starts as its mock broker (-b N -t ... -k; commands on stdin)
cat >"$T/mock-rig" <<'EOF'
#!/usr/bin/env bash
set -u
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
trap 'exit 0' TERM
coproc M { exec ip netns exec "$RIG_NB" "$RIG_MOCK" "$@"; }
pids+=("$M_PID")
exec 3<&"${M[0]}" 4>&"${M[1]}"
read -r line <&3
boot=${line#BOOTSTRAP }
for hp in ${boot//,/ }; do
	p=${hp##*:}
	ip netns exec "$RIG_NB" socat "TCP-LISTEN:$p,bind=10.99.0.1,reuseaddr,fork" "TCP:127.0.0.1:$p" 2>/dev/null &
	pids+=($!)
	ip netns exec "$RIG_NB" socat "UNIX-LISTEN:$RIG_DIR/b$p.sock,fork" "TCP:127.0.0.1:$p" 2>/dev/null &
	pids+=($!)
	for _ in $(seq 100); do [[ -S $RIG_DIR/b$p.sock ]] && break; sleep 0.05; done
	if [[ $RIG_EGRESS == dpdk ]]; then to="UNIX-CONNECT:$RIG_DIR/b$p.sock"; else to="TCP:10.99.0.1:$p"; fi
	ip netns exec "$RIG_NF" socat "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork" "$to" 2>/dev/null &
	pids+=($!)
done
for hp in ${boot//,/ }; do
	for _ in $(seq 100); do
		ip netns exec "$RIG_NF" bash -c "echo >/dev/tcp/127.0.0.1/${hp##*:}" 2>/dev/null && break
		sleep 0.05
	done
done
echo "$line"
cat <&3 &
pids+=($!)
cat >&4
rm -f "$RIG_DIR"/b*.sock
EOF
# the wrapper funnel-bench starts as funneld: inside ns F, with the egress's settings
cat >"$T/funneld-rig" <<'EOF'
#!/usr/bin/env bash
if [[ $RIG_EGRESS == dpdk ]]; then
	exec ip netns exec "$RIG_NF" "$RIG_FUNNELD" "$@" -X funnel.egress=dpdk \
		-X "funnel.dpdk.eal.args=-l $RIG_CPU --no-huge --no-pci --no-shconf --no-telemetry -m 256 --log-level=*:error --vdev=net_af_xdp0,iface=fD" \
		-X funnel.dpdk.ip=10.99.0.2 -X funnel.dpdk.netmask=255.255.255.0 \
		-X funnel.dpdk.addr.map=127.0.0.1=10.99.0.1
fi
exec ip netns exec "$RIG_NF" "$RIG_FUNNELD" "$@"
EOF
chmod +x "$T/mock-rig" "$T/funneld-rig"
# funnel-bench pins funneld to CPU 0 (funnel.cores=0) unless --no-pin: the EAL's lcore too
export RIG_NB=$NB RIG_NF=$NF RIG_DIR=$T RIG_CPU=0 RIG_MOCK=$B/tests/harness/fnl-mockbroker \
	RIG_FUNNELD=$B/ctrl/funneld
for egress in ${FNL_BENCH_EGRESS:-dpdk uring}; do
	echo "== funnel.egress=$egress"
	if [[ $egress == uring ]]; then
		ip -n "$NF" link set dev fD xdp off 2>/dev/null || true
		ip -n "$NF" addr add 10.99.0.2/24 dev fD
	else
		ip -n "$NF" addr flush dev fD # no kernel address: the kernel would RST lwIP's peers
	fi
	RIG_EGRESS=$egress "$B/bench/funnel-bench" --mockbroker "$T/mock-rig" --funneld "$T/funneld-rig" \
		--modes funnel --no-rawfetch "$@"
done
