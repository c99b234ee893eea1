#!/usr/bin/env bash
# The DPDK egress (funnel.egress=dpdk, issue 16) over a veth pair between two
# network namespaces made here:
#
#   ns B (broker)                                 ns F (funneld)
#   fnl-mockbroker on 127.0.0.1:P1..P3            funneld: data plane = DPDK PMD
#   socat 10.99.0.1:Pi -> 127.0.0.1:Pi            (net_af_xdp, else net_af_packet)
#   bD 10.99.0.1/24, tx checksum offload off  <== veth ==>  fD (no kernel IP)
#                                                 lwIP 10.99.0.2/24 on fD
#   socat UNIX b<P>.sock -> 127.0.0.1:Pi  <-- filesystem -- socat 127.0.0.1:Pi (ctrl's kernel
#                                                 path for Metadata/InitProducerId)
#
# The mock advertises 127.0.0.1:Pi; funnel.dpdk.addr.map=127.0.0.1=10.99.0.1 sends the data
# plane's connections to the socat in front of each broker. Records are read back by kcat
# inside ns B: exactly once, in order. Then faults: broker 2 down/up, the connections
# closed by the broker (TRANSPORT), and 200 ms RTT on the veth (tc netem).
# Needs root (ip netns, AF_XDP), socat, ethtool, tc; a funneld built with -Ddpdk=enabled.
set -euo pipefail
source "$(dirname "$0")/../harness/lib.sh"
fnl_test_init 280
source "$(dirname "$0")/funnel_lib.sh"
[[ $(id -u) -eq 0 ]] || fnl_fail "dpdk_netns needs root (ip netns, AF_XDP)"
for t in socat ethtool tc; do
	command -v $t >/dev/null || fnl_fail "$t not installed (scripts/setup installs it)"
done

NB=fnl-dpb-$$ NF=fnl-dpf-$$
ip netns add "$NB" || fnl_fail "ip netns add $NB"
ip netns add "$NF" || { ip netns del "$NB"; fnl_fail "ip netns add $NF"; }
# set +e: under set -e, "(exit 1)" would end the trap before lib.sh's cleanup ran. The names
# go first; each namespace (and its veth end) goes when lib.sh has stopped its last process.
trap 'st=$?; set +e; ip netns del "$NB" 2>/dev/null; ip netns del "$NF" 2>/dev/null; (exit $st); fnl__cleanup' EXIT
inb() { ip netns exec "$NB" "$@"; }
inf() { ip netns exec "$NF" "$@"; }
inb ip link set lo up
inf ip link set lo up
ip link add bD netns "$NB" type veth peer name fD netns "$NF" || fnl_fail "veth pair"
inb ip addr add 10.99.0.1/24 dev bD
inb ip link set bD mtu 1500 up
# the kernel would send partial checksums (offload to a veth) that lwIP drops
inb ethtool -K bD tx off >/dev/null
inf ip link set fD mtu 1500 up # no kernel address: the kernel would answer lwIP's peers with RST

# the mock inside ns B (lib.sh starts $FNL_MOCKBROKER), kcat inside ns B
real_mock=$FNL_MOCKBROKER real_rb=$FNL_READBACK
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NB" "$real_mock" >"$FNL_TMP/mock-in-ns"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NB" "$real_rb" >"$FNL_TMP/rb-in-ns"
chmod +x "$FNL_TMP/mock-in-ns" "$FNL_TMP/rb-in-ns"
FNL_READBACK=$FNL_TMP/rb-in-ns
FNL_MOCKBROKER=$FNL_TMP/mock-in-ns fnl_broker_start -b 3 -t plain:6 -t fault:6 -t slow:3

for hp in ${FNL_BOOTSTRAP//,/ }; do
	p=${hp##*:}
	# the data plane's path: lwIP -> veth -> this socat -> the broker
	ip netns exec "$NB" socat "TCP-LISTEN:$p,bind=10.99.0.1,reuseaddr,fork" "TCP:127.0.0.1:$p" \
		2>>"$FNL_TMP/socat.err" &
	fnl_track $!
	# ctrl's kernel path (Metadata, InitProducerId): ns F's 127.0.0.1 -> unix socket -> broker
	ip netns exec "$NB" socat "UNIX-LISTEN:$FNL_TMP/b$p.sock,fork" "TCP:127.0.0.1:$p" 2>>"$FNL_TMP/socat.err" &
	fnl_track $!
	fnl_wait_for 10 test -S "$FNL_TMP/b$p.sock" || fnl_fail "inner socat for $p"
	ip netns exec "$NF" socat "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$FNL_TMP/b$p.sock" \
		2>>"$FNL_TMP/socat.err" &
	fnl_track $!
done
for hp in ${FNL_BOOTSTRAP//,/ }; do
	fnl_wait_for 10 inf bash -c "echo >/dev/tcp/127.0.0.1/${hp##*:}" 2>/dev/null ||
		fnl_fail "ctrl path to ${hp##*:}"
	fnl_wait_for 10 inb bash -c "echo >/dev/tcp/10.99.0.1/${hp##*:}" 2>/dev/null ||
		fnl_fail "data path socat on ${hp##*:}"
done

# funneld inside ns F, with the DPDK egress on fD
real_funneld=$FNL_FUNNELD
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NF" "$real_funneld" >"$FNL_TMP/funneld-in-ns"
chmod +x "$FNL_TMP/funneld-in-ns"
FNL_FUNNELD=$FNL_TMP/funneld-in-ns
cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
start_dpdk() { # start_dpdk PMD [-X ...]
	local pmd=$1
	shift
	local eal="-l $cpu --no-huge --no-pci --no-shconf --no-telemetry -m 256 --log-level=*:warning"
	eal+=" --vdev=${pmd}0,iface=fD"
	fnl_funneld_start -X funnel.egress=dpdk -X "funnel.dpdk.eal.args=$eal" \
		-X funnel.dpdk.ip=10.99.0.2 -X funnel.dpdk.netmask=255.255.255.0 \
		-X funnel.dpdk.addr.map=127.0.0.1=10.99.0.1 -X funnel.metrics.listen=127.0.0.1:0 \
		-X retry.backoff.ms=50 -X request.timeout.ms=5000 "$@"
}
PMD=${FNL_DPDK_PMD:-net_af_xdp}
start_dpdk "$PMD"
sleep 1
if ! kill -0 "$FNL_FUNNELD_PID" 2>/dev/null && [[ $PMD == net_af_xdp ]]; then
	echo "dpdk_netns: net_af_xdp did not start; falling back to net_af_packet" >&2
	tail -5 "$FNL_TMP/funneld.err" >&2
	PMD=net_af_packet
	start_dpdk "$PMD"
fi
grep -q "egress dpdk" "$FNL_TMP/funneld.err" || fnl_fail "funneld did not log the DPDK egress"
echo "dpdk_netns: funneld up with $PMD" >&2

# 1. plain load: exactly once, in order
N=${FNL_DPDK_RECORDS:-20000}
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t plain -c k1 -n "$N" -k 100 -P 6 -e "$FNL_TMP/ex1"; p1=$FNL_LAST_PID
fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t plain -c nk -n "$N" -S 300 -e "$FNL_TMP/ex2"; p2=$FNL_LAST_PID
for p in $p1 $p2; do wait "$p" || fnl_fail "plain: a client did not get every delivery report"; done
fnl_readback_verify plain 6 "$FNL_TMP/ex1" "$FNL_TMP/ex2"
echo "dpdk_netns: plain ok" >&2
