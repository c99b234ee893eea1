/* dpdk.h - the DPDK egress's settings (funnel.dpdk.*) and the seam between its
 * two halves, which must not see each other's headers (DPDK's and lwIP's clash
 * on htons and IP_RF):
 *
 *   dpdk_engine.c  lwIP side: struct fnl_engine_ops over lwIP's raw TCP API,
 *                  the lwIP netif, timers, eventfd watches
 *        |  frames in (rx callback), frames out (tx buffer + flush)
 *   dpdk_port.c    DPDK side: EAL, one ethdev port, one rx and one tx queue,
 *                  an mbuf pool; plain bytes cross this line, never mbufs
 *
 * Only plain C types here. Single thread: every function below runs on the
 * engine's thread (fnl_dpdk_port_open may run on the thread that builds the
 * engine, before it is handed over).
 */
#ifndef FNL_NET_DPDK_H
#define FNL_NET_DPDK_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/net/engine.h"

/* fnl_engine_cfg.egress_cfg for FNL_EGRESS_DPDK (owned by the caller, read in
 * fnl_engine_new only). Addresses in network byte order. */
struct fnl_dpdk_cfg {
	char eal_args[1024]; /* funnel.dpdk.eal.args: whitespace-separated EAL arguments */
	uint32_t ip, netmask, gateway; /* gateway 0: none (brokers must be on the subnet) */
	uint32_t mtu;                  /* 576..1500 */
	/* funnel.dpdk.addr.map: connects to map_from go to map_to instead (0: none) */
	uint32_t map_from, map_to;
};

/* The DPDK egress engine (dpdk_engine.c). -EBUSY for a second one in the same
 * process (-EALREADY: lwIP and the EAL are per process), -EINVAL on a bad cfg, the EAL's
 * or port's -errno (fnl_dpdk_last_error() says why in words). */
int fnl_dpdk_new(const struct fnl_engine_cfg *cfg, struct fnl_engine **out);
/* Why the last fnl_dpdk_new failed, "" if it did not. */
const char *fnl_dpdk_last_error(void);

/* ---- dpdk_port.c ---- */
struct fnl_dpdk_port;
struct fnl_dpdk_port_stats {
	uint64_t rx_pkts, tx_pkts; /* packets received / handed to the PMD and sent */
	uint64_t rx_drops;         /* dropped before us: imissed + rx_nombuf + ierrors */
	uint64_t tx_drops;         /* refused by the tx queue, or no mbuf, or oerrors */
	uint32_t mbufs_free;       /* mbufs left in the pool now */
	uint64_t rx_bad_cksum;     /* dropped: the PMD found a bad IPv4 or TCP checksum */
};
/* Checksum offloads in use on the port (those of these the PMD offers), a bit set. */
enum {
	FNL_DPDK_TX_IP_CKSUM = 1,  /* the port fills IPv4 header checksums */
	FNL_DPDK_TX_TCP_CKSUM = 2, /* the port fills TCP checksums */
	FNL_DPDK_RX_IP_CKSUM = 4,  /* the port checks IPv4 header checksums */
	FNL_DPDK_RX_TCP_CKSUM = 8, /* the port checks TCP checksums */
};
unsigned fnl_dpdk_port_offloads(const struct fnl_dpdk_port *p);
/* Initialise the EAL once (the calling thread's CPU affinity is restored after
 * it), then configure and start the first port: one rx and one tx queue, mtu.
 * mac receives the port's address. -errno with why filled. */
int fnl_dpdk_port_open(const char *eal_args, uint32_t mtu, uint8_t mac[6],
                       struct fnl_dpdk_port **out, char *why, size_t why_len);
void fnl_dpdk_port_close(struct fnl_dpdk_port *p);
/* One rx burst: fn(arg, frame, len, ok) per packet (frame valid during the call);
 * ok: FNL_DPDK_RX_IP_CKSUM / FNL_DPDK_RX_TCP_CKSUM when the port found that
 * checksum good (frames it found bad are dropped and counted, never passed).
 * Returns the packets seen. */
typedef void (*fnl_dpdk_rx_fn)(void *arg, const uint8_t *frame, uint32_t len, unsigned ok);
int fnl_dpdk_port_rx(struct fnl_dpdk_port *p, fnl_dpdk_rx_fn fn, void *arg);
/* A tx buffer of len bytes (<= mtu + 14) queued for the next flush, or NULL
 * (no mbuf: the frame is dropped and counted; TCP retransmits). */
uint8_t *fnl_dpdk_port_tx_buf(struct fnl_dpdk_port *p, uint32_t len);
/* Hand the queued frames to the PMD (tx burst). With tx checksum offload the
 * frames' IPv4/TCP checksum fields are the port's to fill: the caller leaves them. */
void fnl_dpdk_port_tx_flush(struct fnl_dpdk_port *p);
void fnl_dpdk_port_stats(struct fnl_dpdk_port *p, struct fnl_dpdk_port_stats *out);

#endif
