/* dpdk_port.c - the DPDK half of the DPDK egress (see dpdk.h): the EAL, one
 * ethdev port with one rx and one tx queue, and an mbuf pool. DPDK headers
 * only; no lwIP here.
 *
 * Layout: struct fnl_dpdk_port holds the port id, the pool and the tx batch
 * (up to TX_BATCH mbufs filled since the last flush). Invariant: every mbuf
 * taken from the pool is either in the tx batch, handed to the PMD, or freed.
 */
#include "dataplane/net/dpdk.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#define RX_BURST   64
#define TX_BATCH   64
#define POOL_MBUFS 8191
#define ARGS_MAX   64

struct fnl_dpdk_port {
	uint16_t port;
	struct rte_mempool *pool;
	struct rte_mbuf *tx[TX_BATCH];
	uint32_t ntx;
	uint32_t mtu;
	uint64_t tx_pkts, tx_drops;
	unsigned offloads;     /* FNL_DPDK_*_CKSUM in use */
	uint64_t rx_bad_cksum; /* frames the port found a bad checksum in */
	void **held;           /* net_af_xdp: mbufs outside the umem, kept out of use until close */
	uint32_t nheld;
};

static bool eal_done;

/* rte_eal_init pins the calling thread to the main lcore: give it its
 * affinity back (it may be ctrl's thread). */
static int eal_init(const char *args, char *why, size_t why_len)
{
	if (eal_done)
		return 0;
	static char buf[1024];
	snprintf(buf, sizeof(buf), "%s", args);
	char *argv[ARGS_MAX + 2];
	int argc = 0;
	argv[argc++] = "funneld";
	for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (argc == ARGS_MAX + 1) {
			snprintf(why, why_len, "funnel.dpdk.eal.args: more than %d arguments",
			         ARGS_MAX);
			return -E2BIG;
		}
		argv[argc++] = t;
	}
	argv[argc] = NULL;
	cpu_set_t saved;
	bool have = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
	int rc = rte_eal_init(argc, argv);
	if (have)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	if (rc < 0) {
		int err = rte_errno ? rte_errno : EINVAL;
		snprintf(why, why_len, "DPDK EAL init failed (funnel.dpdk.eal.args='%s'): %s", args,
		         rte_strerror(err));
		return -err;
	}
	eal_done = true;
	return 0;
}

/* ---- the mbuf pool and the AF_XDP umem ----
 *
 * DPDK 22.11's AF_XDP PMD registers the rx queue's mbuf pool as its umem, but
 * sizes that umem as populated_size * object size from the first memory
 * chunk's page. A pool whose objects are not packed back to back (the default
 * pool keeps each object inside one page: with --no-huge that is one 2.4 KiB
 * mbuf per 4 KiB page) or that has several memory chunks reaches past that
 * span. The kernel then rejects every descriptor naming such an mbuf: a tx
 * frame is skipped without a word (it never reaches the wire and the mbuf
 * never comes back on the completion ring), a fill entry likewise. Measured on
 * the default pool under --no-huge: 3,456 of 8,191 mbufs outside; once the
 * pool's FIFO reached them (about 1,300 frames in) every frame was lost until
 * all 3,456 had leaked, which TCP's backoff stretches past any timeout.
 *
 * So for net_af_xdp: a packed pool (RTE_MEMPOOL_F_NO_IOVA_CONTIG, one chunk;
 * no DMA on this path needs IOVA-contiguous objects) where the EAL runs
 * without hugepages, and in every case any mbuf still outside the umem is
 * taken out of circulation at start (held until close) and counted. */
struct umem_span {
	uintptr_t base, end;
	size_t frame;
};

static bool outside_umem(const struct umem_span *s, const struct rte_mempool *mp, void *obj)
{
	uintptr_t a = (uintptr_t)obj - mp->header_size; /* the PMD's chunk address */
	return a < s->base || a + s->frame > s->end;
}

/* The umem span as the PMD computes it (rte_eth_af_xdp.c, xdp_umem_configure). */
static struct umem_span umem_span_of(struct rte_mempool *mp)
{
	struct rte_mempool_memhdr *h = STAILQ_FIRST(&mp->mem_list);
	uintptr_t first = (uintptr_t)h->addr;
	struct umem_span s = {.base = first & ~(uintptr_t)(getpagesize() - 1)};
	s.frame = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, NULL);
	s.end = first + (uintptr_t)mp->populated_size * s.frame;
	return s;
}

/* A packet mbuf pool of packed objects (rte_pktmbuf_pool_create, but with
 * RTE_MEMPOOL_F_NO_IOVA_CONTIG). */
static struct rte_mempool *packed_pool(const char *name, unsigned n, int sock)
{
	struct rte_pktmbuf_pool_private priv = {.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE};
	unsigned elt = (unsigned)sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE;
	struct rte_mempool *mp = rte_mempool_create_empty(name, n, elt, 256, sizeof(priv), sock,
	                                                  RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (!mp)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

/* Take every mbuf outside the umem out of the pool (p->held). Returns how many. */
static int hold_outside_umem(struct fnl_dpdk_port *p)
{
	struct rte_mempool *mp = p->pool;
	struct umem_span s = umem_span_of(mp);
	unsigned n = rte_mempool_avail_count(mp);
	void **all = calloc(n, sizeof(*all));
	if (!all)
		return -ENOMEM;
	unsigned got = 0, bad = 0;
	while (got < n && rte_mempool_get(mp, &all[got]) == 0)
		got++;
	for (unsigned i = 0; i < got; i++)
		if (outside_umem(&s, mp, all[i]))
			bad++;
	p->held = bad ? calloc(bad, sizeof(*p->held)) : NULL;
	if (bad && !p->held) {
		rte_mempool_put_bulk(mp, all, got);
		free(all);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < got; i++) {
		if (outside_umem(&s, mp, all[i]))
			p->held[p->nheld++] = all[i];
		else
			rte_mempool_put(mp, all[i]);
	}
	free(all);
	return (int)bad;
}

static int make_pool(struct fnl_dpdk_port *p, const char *driver, int sock, char *why,
                     size_t why_len)
{
	bool xdp = strcmp(driver, "net_af_xdp") == 0;
	if (xdp && !rte_eal_has_hugepages())
		p->pool = packed_pool("fnl_mbufs", POOL_MBUFS, sock);
	else
		p->pool = rte_pktmbuf_pool_create("fnl_mbufs", POOL_MBUFS, 256, 0,
		                                  RTE_MBUF_DEFAULT_BUF_SIZE, sock);
	if (!p->pool) {
		snprintf(why, why_len, "DPDK: mbuf pool: %s (give the EAL more memory: -m)",
		         rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (!xdp)
		return 0;
	int bad = hold_outside_umem(p);
	if (bad < 0) {
		snprintf(why, why_len, "DPDK: mbuf pool: out of memory");
		return bad;
	}
	fprintf(stderr,
	        "funneld: DPDK port %u (net_af_xdp): mbuf pool of %u (%s), %d outside the AF_XDP "
	        "umem%s\n",
	        p->port, p->pool->populated_size,
	        p->pool->flags & RTE_MEMPOOL_F_NO_IOVA_CONTIG ? "packed" : "page-aligned", bad,
	        bad ? " (held back unused)" : "");
	return 0;
}

static int port_start(struct fnl_dpdk_port *p, char *why, size_t why_len)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(p->port, &info);
	if (rc < 0)
		return rc;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = p->mtu;
	/* checksum offloads where the PMD offers them (each direction wants IPv4 and TCP both,
	 * or takes the one it gets) */
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		p->offloads |= FNL_DPDK_TX_IP_CKSUM;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		p->offloads |= FNL_DPDK_TX_TCP_CKSUM;
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
		p->offloads |= FNL_DPDK_RX_IP_CKSUM;
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
		p->offloads |= FNL_DPDK_RX_TCP_CKSUM;
	}
	rc = rte_eth_dev_configure(p->port, 1, 1, &conf);
	if (rc < 0) {
		snprintf(why, why_len, "DPDK port %u: configure: %s", p->port, strerror(-rc));
		return rc;
	}
	uint16_t nrx = 1024, ntx = 1024;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port, &nrx, &ntx);
	int sock = rte_eth_dev_socket_id(p->port);
	if (sock < 0)
		sock = 0;
	rc = make_pool(p, info.driver_name, sock, why, why_len);
	if (rc < 0)
		return rc;
	rc = rte_eth_rx_queue_setup(p->port, 0, nrx, sock, NULL, p->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(p->port, 0, ntx, sock, NULL);
	if (rc < 0) {
		snprintf(why, why_len, "DPDK port %u (%s): queue setup: %s", p->port,
		         info.driver_name, strerror(-rc));
		return rc;
	}
	rte_eth_dev_set_mtu(p->port, (uint16_t)p->mtu); /* best effort; frames stay <= mtu */
	rc = rte_eth_dev_start(p->port);
	if (rc < 0) {
		snprintf(why, why_len, "DPDK port %u (%s): start: %s", p->port, info.driver_name,
		         strerror(-rc));
		return rc;
	}
	unsigned o = p->offloads;
	fprintf(stderr,
	        "funneld: DPDK port %u (%s): checksum offload tx ip %s tcp %s, rx ip %s tcp %s "
	        "(the rest in software)\n",
	        p->port, info.driver_name, o & FNL_DPDK_TX_IP_CKSUM ? "yes" : "no",
	        o & FNL_DPDK_TX_TCP_CKSUM ? "yes" : "no", o & FNL_DPDK_RX_IP_CKSUM ? "yes" : "no",
	        o & FNL_DPDK_RX_TCP_CKSUM ? "yes" : "no");
	return 0;
}

int fnl_dpdk_port_open(const char *eal_args, uint32_t mtu, uint8_t mac[6],
                       struct fnl_dpdk_port **out, char *why, size_t why_len)
{
	int rc = eal_init(eal_args, why, why_len);
	if (rc < 0)
		return rc;
	uint16_t port = RTE_MAX_ETHPORTS;
	uint16_t id;
	RTE_ETH_FOREACH_DEV(id)
	{
		port = id;
		break;
	}
	if (port == RTE_MAX_ETHPORTS) {
		snprintf(why, why_len,
		         "DPDK: no port (funnel.dpdk.eal.args needs a device, e.g. "
		         "--vdev=net_af_xdp0,iface=eth1)");
		return -ENODEV;
	}
	struct fnl_dpdk_port *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->port = port;
	p->mtu = mtu;
	rc = port_start(p, why, why_len);
	if (rc < 0) {
		if (p->pool)
			rte_mempool_free(p->pool);
		free(p->held);
		free(p);
		return rc;
	}
	struct rte_ether_addr a;
	rte_eth_macaddr_get(port, &a);
	memcpy(mac, a.addr_bytes, 6);
	*out = p;
	return 0;
}

void fnl_dpdk_port_close(struct fnl_dpdk_port *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->ntx; i++)
		rte_pktmbuf_free(p->tx[i]);
	rte_eth_dev_stop(p->port);
	rte_eth_dev_close(p->port);
	if (p->nheld)
		rte_mempool_put_bulk(p->pool, p->held, p->nheld);
	free(p->held);
	rte_mempool_free(p->pool);
	free(p);
}

unsigned fnl_dpdk_port_offloads(const struct fnl_dpdk_port *p)
{
	return p->offloads;
}

/* What the port says of a received frame's checksums: FNL_DPDK_RX_*_CKSUM for
 * those it found good, -1 when it found one bad. */
static int rx_cksum(const struct fnl_dpdk_port *p, const struct rte_mbuf *m)
{
	int ok = 0;
	uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (p->offloads & FNL_DPDK_RX_IP_CKSUM) {
		if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD)
			return -1;
		if (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
			ok |= FNL_DPDK_RX_IP_CKSUM;
	}
	if (p->offloads & FNL_DPDK_RX_TCP_CKSUM) {
		if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD)
			return -1;
		if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
			ok |= FNL_DPDK_RX_TCP_CKSUM;
	}
	return ok;
}

int fnl_dpdk_port_rx(struct fnl_dpdk_port *p, fnl_dpdk_rx_fn fn, void *arg)
{
	struct rte_mbuf *m[RX_BURST];
	uint16_t n = rte_eth_rx_burst(p->port, 0, m, RX_BURST);
	for (uint16_t i = 0; i < n; i++) {
		int ok = rx_cksum(p, m[i]);
		if (ok < 0) {
			p->rx_bad_cksum++;
			rte_pktmbuf_free(m[i]);
			continue;
		}
		if (m[i]->nb_segs == 1)
			fn(arg, rte_pktmbuf_mtod(m[i], const uint8_t *), m[i]->data_len,
			   (unsigned)ok);
		else { /* chained (a PMD with scatter): linearise on the stack */
			uint8_t buf[RTE_ETHER_MAX_JUMBO_FRAME_LEN];
			uint32_t len = m[i]->pkt_len < sizeof(buf) ? m[i]->pkt_len : sizeof(buf);
			const void *d = rte_pktmbuf_read(m[i], 0, len, buf);
			if (d)
				fn(arg, d, len, (unsigned)ok);
		}
		rte_pktmbuf_free(m[i]);
	}
	return n;
}

uint8_t *fnl_dpdk_port_tx_buf(struct fnl_dpdk_port *p, uint32_t len)
{
	if (p->ntx == TX_BATCH)
		fnl_dpdk_port_tx_flush(p);
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	if (!m) {
		p->tx_drops++;
		return NULL;
	}
	char *d = rte_pktmbuf_append(m, (uint16_t)len);
	if (!d) {
		rte_pktmbuf_free(m);
		p->tx_drops++;
		return NULL;
	}
	p->tx[p->ntx++] = m;
	return (uint8_t *)d;
}

/* Tx checksum offload: mark IPv4 frames for the port (it fills the checksums
 * lwIP left; rte_eth_tx_prepare adds what this PMD wants beside, e.g. the TCP
 * pseudo-header sum). */
static void tx_mark(struct fnl_dpdk_port *p, struct rte_mbuf *m)
{
	if (m->data_len < sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr))
		return;
	const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return;
	const struct rte_ipv4_hdr *ih = (const struct rte_ipv4_hdr *)(eh + 1);
	m->l2_len = sizeof(*eh);
	m->l3_len = rte_ipv4_hdr_len(ih);
	m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	if (p->offloads & FNL_DPDK_TX_IP_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	if ((p->offloads & FNL_DPDK_TX_TCP_CKSUM) && ih->next_proto_id == IPPROTO_TCP)
		m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
}

void fnl_dpdk_port_tx_flush(struct fnl_dpdk_port *p)
{
	if (p->ntx && (p->offloads & (FNL_DPDK_TX_IP_CKSUM | FNL_DPDK_TX_TCP_CKSUM))) {
		for (uint32_t i = 0; i < p->ntx; i++)
			tx_mark(p, p->tx[i]);
		uint16_t ok = rte_eth_tx_prepare(p->port, 0, p->tx, (uint16_t)p->ntx);
		for (uint32_t i = ok; i < p->ntx; i++) { /* refused by prepare: dropped */
			rte_pktmbuf_free(p->tx[i]);
			p->tx_drops++;
		}
		p->ntx = ok;
	}
	uint32_t off = 0;
	/* a few tries: the PMD may free descriptors between them */
	for (int tries = 0; off < p->ntx && tries < 4; tries++)
		off += rte_eth_tx_burst(p->port, 0, p->tx + off, (uint16_t)(p->ntx - off));
	p->tx_pkts += off;
	for (uint32_t i = off; i < p->ntx; i++) {
		rte_pktmbuf_free(p->tx[i]);
		p->tx_drops++;
	}
	p->ntx = 0;
}

void fnl_dpdk_port_stats(struct fnl_dpdk_port *p, struct fnl_dpdk_port_stats *out)
{
	struct rte_eth_stats s;
	memset(&s, 0, sizeof(s));
	rte_eth_stats_get(p->port, &s);
	out->rx_pkts = s.ipackets;
	out->tx_pkts = p->tx_pkts;
	out->rx_drops = s.imissed + s.rx_nombuf + s.ierrors;
	out->tx_drops = p->tx_drops + s.oerrors;
	out->mbufs_free = rte_mempool_avail_count(p->pool);
	out->rx_bad_cksum = p->rx_bad_cksum;
	out->rx_drops += p->rx_bad_cksum;
}
