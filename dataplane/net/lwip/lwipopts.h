/* lwipopts.h - funnel's lwIP configuration for the DPDK egress (issue 16).
 *
 * One lwIP instance per process, driven by one data-plane thread: NO_SYS=1,
 * raw (callback) TCP API only, no sockets, no netconn, no threads. IPv4,
 * Ethernet + ARP, ICMP (echo), TCP; no UDP, DHCP, DNS or IPv6.
 *
 * Sizing (compile time; lwIP has no run-time sizing):
 *   TCP_SND_BUF   8 MiB per connection: max.in.flight.requests.per.connection
 *                 (5) requests of max.request.size (1 MiB) by default, plus
 *                 room; larger settings still work, the engine then keeps the
 *                 rest in the caller's queued sends until lwIP has room.
 *   TCP_WND       1 MiB with window scaling (shift 5): responses are small,
 *                 but a stalled reader must not close the window early.
 *   MEM_SIZE      the heap TCP_WRITE_FLAG_COPY copies sends into, shared by
 *                 every connection: 64 MiB (static, in .bss: pages are touched
 *                 only when used).
 *   TCP_SNDLOWAT  set explicitly: lwIP's default (half TCP_SND_BUF) would not
 *                 fit the u16 its sanity check demands.
 *   TCP_MSS       1460 (MTU 1500); the interface MTU (funnel.dpdk.mtu) lowers
 *                 the effective MSS per connection.
 */
#ifndef FNL_LWIPOPTS_H
#define FNL_LWIPOPTS_H

#define NO_SYS               1
#define LWIP_TIMERS          1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN         0
#define LWIP_SOCKET          0
#define LWIP_NETIF_API       0

#define LWIP_IPV4                     1
#define LWIP_IPV6                     0
#define LWIP_ARP                      1
#define ARP_QUEUEING                  1
#define MEMP_NUM_ARP_QUEUE            64
#define ARP_TABLE_SIZE                32
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_ETHERNET                 1
#define LWIP_ICMP                     1
#define LWIP_RAW                      0
#define LWIP_UDP                      0
#define LWIP_DHCP                     0
#define LWIP_AUTOIP                   0
#define LWIP_DNS                      0
#define LWIP_IGMP                     0
#define IP_REASSEMBLY                 0
#define IP_FRAG                       0
#define LWIP_NETIF_STATUS_CALLBACK    0
#define LWIP_NETIF_LINK_CALLBACK      0
#define LWIP_SINGLE_NETIF             1

#define MEM_ALIGNMENT     8
#define MEM_SIZE          (64u * 1024 * 1024)
#define MEMP_NUM_PBUF     1024
#define PBUF_POOL_SIZE    4096
#define PBUF_POOL_BUFSIZE 1600

#define LWIP_TCP                           1
#define TCP_MSS                            1460
#define LWIP_WND_SCALE                     1
#define TCP_RCV_SCALE                      5
#define TCP_WND                            (1024u * 1024)
#define TCP_SND_BUF                        (8u * 1024 * 1024)
#define TCP_SNDLOWAT                       (32 * TCP_MSS)
#define TCP_SND_QUEUELEN                   0xfff0
#define MEMP_NUM_TCP_SEG                   0xfff0
#define MEMP_NUM_TCP_PCB                   256
#define MEMP_NUM_TCP_PCB_LISTEN            1
#define TCP_QUEUE_OOSEQ                    1
#define TCP_OVERSIZE                       TCP_MSS
#define LWIP_TCP_TIMESTAMPS                0
#define TCP_LISTEN_BACKLOG                 0
#define LWIP_TCP_KEEPALIVE                 1
#define LWIP_CALLBACK_API                  1
#define LWIP_EVENT_API                     0
#define TCP_MAXRTX                         12
#define TCP_SYNMAXRTX                      6
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1

/* software checksums both ways (the AF_XDP/af_packet PMDs on veth offer no offload) */
#define CHECKSUM_GEN_IP       1
#define CHECKSUM_GEN_TCP      1
#define CHECKSUM_GEN_ICMP     1
#define CHECKSUM_CHECK_IP     1
#define CHECKSUM_CHECK_TCP    1
#define LWIP_CHECKSUM_ON_COPY 1
/* ...switched off per netif where the DPDK port offers the offload (dpdk_engine.c) */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1

/* counters: drops by layer for /metrics */
#define LWIP_STATS         1
#define LWIP_STATS_DISPLAY 0
#define LINK_STATS         1
#define ETHARP_STATS       1
#define IP_STATS           1
#define TCP_STATS          1
#define ICMP_STATS         0
#define MEM_STATS          1
#define MEMP_STATS         1
#define SYS_STATS          0

/* funnel uses the libc byte-order functions; lwIP must not define htons etc. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1

#define LWIP_DEBUG    0
#define LWIP_NOASSERT 1

#endif
