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
# inside ns B: exactly once, in order. funneld runs with the test-only transactional id, so
# the mock checks producer sequences (as faults.sh explains). Then faults on net_af_xdp
# (net_af_packet where AF_XDP does not start): broker 2 down/up, every leader moved, the
# connections closed by the broker (TRANSPORT), and 200 ms RTT on the veth (tc netem).
# Part 3: a plain load over net_tap (the PMD here that offers checksum offload), its tap bridged
# to a second veth into ns B. Knobs: FNL_DPDK_PARTS (default 12345: 1 af_xdp + faults, 2
# af_packet, 3 net_tap, 4 settings, 5 af_xdp with hugepages), FNL_DPDK_FAULT_PMD=net_af_packet (the faults there),
# FNL_DPDK_XDP_OPTS (vdev options), FNL_DPDK_TRACE=1 (funneld's port counters every second).
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
trap 'st=$?; set +e; ip netns del "$NB" 2>/dev/null; ip netns del "$NF" 2>/dev/null; [[ -n ${hp_before:-} ]] && echo "$hp_before" >/proc/sys/vm/nr_hugepages; (exit $st); fnl__cleanup' EXIT
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
real_mock=$FNL_MOCKBROKER real_rb=$FNL_READBACK real_raw=$FNL_RAWFETCH
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NB" "$real_mock" >"$FNL_TMP/mock-in-ns"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NB" "$real_rb" >"$FNL_TMP/rb-in-ns"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NB" "$real_raw" >"$FNL_TMP/raw-in-ns"
chmod +x "$FNL_TMP/mock-in-ns" "$FNL_TMP/rb-in-ns" "$FNL_TMP/raw-in-ns"
FNL_READBACK=$FNL_TMP/rb-in-ns FNL_RAWFETCH=$FNL_TMP/raw-in-ns
FNL_MOCKBROKER=$FNL_TMP/mock-in-ns fnl_broker_start -b 3 -t plain_xdp:6 -t plain_pkt:6 -t plain_tap:6 -t plain_huge:6 -t fdown:6 -t flead:6 -t fclose:6 -t frtt:6

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

# LeakSanitizer (ASan builds): libxdp's xsk_umem__create allocates a umem record that DPDK
# 22.11's AF_XDP PMD does not free when the port closes; not funnel's, so suppressed here.
printf 'leak:xsk_umem__create\n' >"$FNL_TMP/lsan.supp"
export LSAN_OPTIONS="suppressions=$FNL_TMP/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# funneld inside ns F, with the DPDK egress on fD
real_funneld=$FNL_FUNNELD
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NF" "$real_funneld" >"$FNL_TMP/funneld-in-ns"
chmod +x "$FNL_TMP/funneld-in-ns"
FNL_FUNNELD=$FNL_TMP/funneld-in-ns
cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
start_dpdk() { # start_dpdk PMD [-X ...]; net_tap: its own tap dtap0 on 10.99.1.0/24 (part 3)
	local pmd=$1 dev=fD net=10.99.0
	shift
	[[ $pmd == net_tap ]] && dev=dtap0 net=10.99.1
	local mem="--no-huge --no-shconf" # HUGE=1: 2 MiB pages, no hugetlbfs mount (part 5)
	[[ ${HUGE:-0} == 1 ]] && mem="--in-memory"
	local eal="-l $cpu $mem --no-pci --no-telemetry -m 256 --log-level=*:warning"
	eal+=" --vdev=${pmd}0,iface=$dev"
	[[ $pmd == net_af_xdp ]] && eal+="${FNL_DPDK_XDP_OPTS:-}"
	fnl_funneld_start -X funnel.egress=dpdk -X "funnel.dpdk.eal.args=$eal" \
		-X funnel.dpdk.ip=$net.2 -X funnel.dpdk.netmask=255.255.255.0 \
		-X funnel.dpdk.addr.map=127.0.0.1=$net.1 -X funnel.metrics.listen=127.0.0.1:0 \
		-X retry.backoff.ms=50 -X request.timeout.ms=5000 \
		-X funnel.test.transactional.id=funnel-seqcheck "$@"
}
plain() { # plain PMD N: two clients, every record read back exactly once, in order
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c k1 -n "$2" -k 100 -P 6 -e "$FNL_TMP/ex-$1-1"
	p1=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c nk -n "$2" -S 300 -e "$FNL_TMP/ex-$1-2"
	p2=$FNL_LAST_PID
	for p in $p1 $p2; do wait "$p" || fnl_fail "$1: a client did not get every delivery report"; done
	fnl_readback_verify "$1" 6 "$FNL_TMP/ex-$1-1" "$FNL_TMP/ex-$1-2"
	echo "dpdk_netns: plain load on $1 ok" >&2
}
N=${FNL_DPDK_RECORDS:-20000}

# faults, as faults.sh does them on the kernel path
RATE=${FNL_DPDK_RATE:-5000}
NF_=${FNL_DPDK_FAULT_RECORDS:-15000}
run() { # topic: one keyed and one null-key client at RATE
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c "$1-k" -n "$NF_" -k 50 -P 6 -r "$RATE" -e "$FNL_TMP/ex-$1-k"
	c1=$FNL_LAST_PID
	fnl_spawn "$FNL_LOAD" -q -s "$FNL_SOCKET" -t "$1" -c "$1-n" -n "$NF_" -r "$RATE" -e "$FNL_TMP/ex-$1-n"
	c2=$FNL_LAST_PID
}
metrics() { # the funnel_dpdk_* and connection lines of /metrics, for the log
	local port
	port=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FNL_TMP/funneld.err" | tail -1)
	inf curl -sf "http://127.0.0.1:$port/metrics" >"$FNL_TMP/metrics.txt" || return 1
	grep -E '^funnel_(dpdk_|broker_|tx_bytes|rx_bytes|requests_sent|responses)' "$FNL_TMP/metrics.txt" >&2
	inf ethtool -S fD >&2 || true
	inb ip -s link show bD >&2 || true
	inf ip -s link show fD >&2 || true
}
finish() {
	wait "$c1" || { metrics; fnl_fail "$1: keyed client did not get every report"; }
	wait "$c2" || { metrics; fnl_fail "$1: null-key client did not get every report"; }
	((netem)) || for b in 1 2 3; do fnl_broker_cmd "rtt $b 0" >/dev/null; done # read back at speed
	fnl_verify_faulty "$1" 6 "$FNL_TMP/ex-$1-k" "$FNL_TMP/ex-$1-n"
	grep -q " 0 duplicates" "$FNL_TMP/check-$1.txt" || fnl_fail "$1: duplicates with a sequence-checking broker"
}
faults() { # on the running funneld: broker down/up, leaders moving, closed connections, RTT
	netem=1
	echo "== broker 2 down, then up ($PMD)" >&2
	run fdown
	sleep 1; fnl_broker_cmd "down 2" >/dev/null; sleep 2; fnl_broker_cmd "up 2" >/dev/null
	finish fdown
	echo "== leaders move ($PMD)" >&2
	run flead
	for p in 0 1 2 3 4 5; do sleep 0.3; fnl_broker_cmd "leader flead $p $(((p + 1) % 3 + 1))" >/dev/null; done
	finish flead
	echo "== connections closed by the broker ($PMD)" >&2
	run fclose
	for b in 1 2 3; do sleep 0.4; fnl_broker_cmd "push_rtt $b 0 TRANSPORT 0" >/dev/null; done
	finish fclose
	echo "== 200 ms RTT on the veth ($PMD)" >&2
	# tc netem on the broker's veth end; where the kernel has no netem (sch_netem), the mock's
	# own per-broker response delay instead (as faults.sh does)
	if inb tc qdisc add dev bD root netem delay 200ms limit 100000 2>/dev/null; then
		netem=1
	else
		echo "dpdk_netns: no tc netem in this kernel: 200 ms RTT from the mock's rtt instead" >&2
		netem=0
		for b in 1 2 3; do fnl_broker_cmd "rtt $b 200" >/dev/null; done
	fi
	run frtt
	finish frtt
	if ((netem)); then inb tc qdisc del dev bD root; else for b in 1 2 3; do fnl_broker_cmd "rtt $b 0" >/dev/null; done; fi

	# the DPDK counters on /metrics
	local port v m
	port=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FNL_TMP/funneld.err" | tail -1)
	inf curl -sf "http://127.0.0.1:$port/metrics" >"$FNL_TMP/metrics.txt" || fnl_fail "GET /metrics"
	for m in funnel_dpdk_rx_packets_total funnel_dpdk_tx_packets_total; do
		v=$(awk -v m="$m" '$1 == m {print $2}' "$FNL_TMP/metrics.txt")
		[[ -n $v && $v != 0 ]] || fnl_fail "$m is '${v:-absent}' after the load"
	done
	grep -E '^funnel_dpdk_' "$FNL_TMP/metrics.txt" >&2
	# and on funnelctl status (the control socket is a path: any namespace reaches it)
	"${FNL_FUNNELCTL:-$FNL_BUILD_DIR/ctrl/funnelctl}" -s "$FNL_SOCKET" status >"$FNL_TMP/status.txt" ||
		fnl_fail "funnelctl status"
	grep -Eq '^egress dpdk: packets in [1-9][0-9]*, out [1-9]' "$FNL_TMP/status.txt" ||
		fnl_fail "funnelctl status shows no DPDK counters: $(cat "$FNL_TMP/status.txt")"
	grep '^egress dpdk' "$FNL_TMP/status.txt" >&2
	# veth's PMDs offer no checksum offload: lwIP does every checksum
	grep -q '^egress dpdk checksum offload: tx ip no tcp no, rx ip no tcp no' "$FNL_TMP/status.txt" ||
		fnl_fail "funnelctl status: offloads on $PMD? $(cat "$FNL_TMP/status.txt")"
}

# 1. net_af_xdp (native XDP on the veth): plain load, then the faults. Where AF_XDP does not
# start, the faults run on net_af_packet (FNL_DPDK_FAULT_PMD=net_af_packet runs them there
# anyway; FNL_DPDK_XDP_OPTS adds vdev options).
PMD=${FNL_DPDK_FAULT_PMD:-net_af_xdp}
PARTS=${FNL_DPDK_PARTS:-12345} # diagnosis: the parts to run
[[ $PARTS == *1* ]] && start_dpdk net_af_xdp
sleep 1
if [[ $PARTS != *1* ]]; then
	:
elif kill -0 "$FNL_FUNNELD_PID" 2>/dev/null; then
	grep -q "egress dpdk" "$FNL_TMP/funneld.err" || fnl_fail "funneld did not log the DPDK egress"
	grep -q "outside the AF_XDP umem" "$FNL_TMP/funneld.err" || fnl_fail "no umem line from the port"
	plain plain_xdp "$N"
	[[ $PMD == net_af_xdp ]] && faults
	fnl_funneld_stop
else
	echo "dpdk_netns: net_af_xdp did not start here; net_af_packet only:" >&2
	tail -5 "$FNL_TMP/funneld.err" >&2
	PMD=net_af_packet
fi
inf ip link set dev fD xdp off 2>/dev/null || true

# 2. net_af_packet: plain load (and the faults where AF_XDP could not run them)
if [[ $PARTS == *2* ]]; then
	start_dpdk net_af_packet
	plain plain_pkt "$N"
	[[ $PMD == net_af_packet ]] && faults
	fnl_funneld_stop
fi

# 3. net_tap, the one PMD here that offers checksum offload (the PMD does the sums in software,
# but through the same ol_flags a NIC takes): lwIP computes none on tx, and skips the checks the
# port made on rx. Its tap dtap0 (in ns F, made by the PMD) joins a bridge in ns F with a second
# veth to ns B (vB2 10.99.1.1/24, no kernel address in ns F); socat on 10.99.1.1 per broker.
if [[ $PARTS != *3* ]]; then
	:
elif [[ -e /dev/net/tun ]] && inf ip link add br0 type bridge 2>/dev/null; then
	ip link add vB2 netns "$NB" type veth peer name vF2 netns "$NF" || fnl_fail "second veth pair"
	inb ip addr add 10.99.1.1/24 dev vB2
	inb ip link set vB2 mtu 1500 up
	inb ethtool -K vB2 tx off >/dev/null
	inf ip link set vF2 master br0
	inf ip link set vF2 up
	inf ip link set br0 up
	for hp in ${FNL_BOOTSTRAP//,/ }; do
		p=${hp##*:}
		ip netns exec "$NB" socat "TCP-LISTEN:$p,bind=10.99.1.1,reuseaddr,fork" "TCP:127.0.0.1:$p" \
			2>>"$FNL_TMP/socat.err" &
		fnl_track $!
		fnl_wait_for 10 inb bash -c "echo >/dev/tcp/10.99.1.1/$p" 2>/dev/null || fnl_fail "tap socat on $p"
	done
	start_dpdk net_tap
	fnl_wait_for 10 inf ip link show dtap0 >/dev/null 2>&1 || fnl_fail "net_tap made no dtap0"
	# the PMD gives the kernel's dtap0 lwIP's MAC; as a bridge port's own address the bridge
	# would keep frames for it (lwIP's) to itself: dtap0 takes another
	inf ip link set dtap0 address 02:00:0a:63:01:fe
	inf ip link set dtap0 master br0
	inf ip link set dtap0 up
	grep -q 'net_tap.*checksum offload tx ip yes tcp yes, rx ip yes tcp yes' "$FNL_TMP/funneld.err" ||
		fnl_fail "net_tap: the offloads are not in use: $(grep 'checksum offload' "$FNL_TMP/funneld.err")"
	plain plain_tap "$N"
	"${FNL_FUNNELCTL:-$FNL_BUILD_DIR/ctrl/funnelctl}" -s "$FNL_SOCKET" status >"$FNL_TMP/status.txt" ||
		fnl_fail "funnelctl status"
	grep -q '^egress dpdk checksum offload: tx ip yes tcp yes, rx ip yes tcp yes' "$FNL_TMP/status.txt" ||
		fnl_fail "funnelctl status shows no offloads on net_tap: $(cat "$FNL_TMP/status.txt")"
	port=$(sed -n 's/.*metrics listening.* port=\([0-9]*\).*/\1/p' "$FNL_TMP/funneld.err" | tail -1)
	inf curl -sf "http://127.0.0.1:$port/metrics" >"$FNL_TMP/metrics.txt" || fnl_fail "GET /metrics"
	grep -q '^funnel_dpdk_checksum_offload 15$' "$FNL_TMP/metrics.txt" ||
		fnl_fail "funnel_dpdk_checksum_offload: $(grep checksum_offload "$FNL_TMP/metrics.txt")"
	fnl_funneld_stop
else
	echo "dpdk_netns: no /dev/net/tun or no bridge here: the checksum offload part is not run" >&2
fi

# 5. net_af_xdp on 2 MiB hugepages, as a deployment runs the EAL (--in-memory: no hugetlbfs
# mount needed): the mbuf pool is then DPDK's page-aligned one, and the mbufs that lie past
# the span the AF_XDP PMD registers as its umem are held back (the start-up line counts
# them). Reserves 128 pages for the part and gives them back; where the kernel cannot
# reserve them, says that the part was not run.
if [[ $PARTS == *5* ]]; then
	hp_before=$(cat /proc/sys/vm/nr_hugepages)
	echo $((hp_before + 128)) >/proc/sys/vm/nr_hugepages 2>/dev/null || true
	if (($(awk '/^HugePages_Free/ {print $2}' /proc/meminfo) >= 128)); then
		HUGE=1 start_dpdk net_af_xdp
		sleep 1
		kill -0 "$FNL_FUNNELD_PID" 2>/dev/null || { tail -5 "$FNL_TMP/funneld.err" >&2; fnl_fail "net_af_xdp on hugepages did not start"; }
		grep -E "outside the AF_XDP umem" "$FNL_TMP/funneld.err" | tail -1 >&2
		grep -Eq "mbuf pool of [0-9]+ \(page-aligned\), [0-9]+ outside the AF_XDP umem" "$FNL_TMP/funneld.err" ||
			fnl_fail "hugepages: no page-aligned pool line from the port"
		plain plain_huge "$N"
		fnl_funneld_stop
		inf ip link set dev fD xdp off 2>/dev/null || true
	else
		echo "dpdk_netns: 128 hugepages could not be reserved here: the hugepage part is not run" >&2
	fi
	echo "$hp_before" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
fi

# 4. the settings refuse what the DPDK egress cannot do, with a message that says so
out=$(inf "$real_funneld" -X funnel.egress=dpdk -X funnel.dpdk.ip=10.99.0.2 \
	-X "funnel.dpdk.eal.args=--no-huge" -X security.protocol=SSL -X bootstrap.servers=x:1 2>&1) &&
	fnl_fail "funnel.egress=dpdk with TLS was accepted"
grep -q "TLS is not offered on funnel.egress=dpdk" <<<"$out" || fnl_fail "no clear message: $out"
echo "dpdk_netns: ok ($PMD)"
