/* dpdk_engine.c - the DPDK egress engine: engine.h's contract (engine_ops.h)
 * over lwIP's raw TCP API, packets through dpdk_port.c. lwIP headers only; no
 * DPDK here (dpdk.h explains the split).
 *
 * Layout
 *
 *   struct dpdk_engine
 *   +-----------+----------------------------------------------------------+
 *   | base      | struct fnl_engine (ops)                                  |
 *   | nif       | the one lwIP netif: funnel.dpdk.ip/netmask/gateway, mtu  |
 *   | port      | dpdk_port.c's port (rx burst, tx buffers, tx burst)      |
 *   | conns[]   | conns_max slots, index = connection id; each with a tcp  |
 *   |           | pcb, a send queue of sends_max caller iovec lists and a  |
 *   |           | receive buffer of rx_bytes_max + 4 (malloc'ed lazily the |
 *   |           | first time the slot is opened, kept until free)          |
 *   | free[]    | LIFO of free slot ids                                    |
 *   | watches[] | eventfds read without blocking (ppoll) in every poll     |
 *   +-----------+----------------------------------------------------------+
 *
 *   one slot's send queue (indices grow; slot = index % sends_max):
 *     head .. wr    copied into lwIP's send buffer, SENT owed to the caller
 *     wr .. tail    queued, not yet (fully) copied: lwIP had no room
 *
 * Poll: rx bursts -> lwIP input (ethernet_input: ARP, IPv4, TCP; callbacks
 * append bytes to a slot's receive buffer or mark it closed) -> lwIP timers
 * (sys_check_timeouts: retransmission, delayed ACKs) -> connect timeouts ->
 * queued sends copied into lwIP (tcp_write with TCP_WRITE_FLAG_COPY, so SENT
 * follows the copy: the caller's buffers are free then) and tcp_output -> tx
 * burst -> events (per slot: CONNECTED, SENT, FRAME, then CLOSED) -> eventfd
 * watches. With nothing to report and wait_ns != 0 it spins while TCP has
 * bytes queued or unacknowledged (or a connect is under way), else ~20 us, then
 * naps in ppoll on the watched eventfds (a doorbell ends the nap at once) for
 * 50 us doubling up to 200 us, polling the port between naps, until wait_ns is up.
 *
 * Invariants
 *   - lwIP is driven from this thread only, and only inside engine calls;
 *     callbacks run inside fnl_engine_poll (input, timers) or inside a
 *     conn_close/conn_open call, never elsewhere.
 *   - A slot's pcb pointer is NULL once lwIP freed it (err callback) or we
 *     let go of it (close); callbacks are detached (tcp_arg NULL) first.
 *   - Frames handed out point into a slot's receive buffer; they stay valid
 *     until the next poll, because the buffer is compacted only by lwIP input,
 *     which runs inside the next poll before any event is cut.
 *   - Every open id gets exactly one CLOSED, last; every send that returned 0
 *     gets exactly one SENT, before it.
 *
 * errno mapping (the io_uring engine's table, as lwIP reports it):
 *   connect: RST -> -ECONNREFUSED; no route (tcp_connect ERR_RTE) ->
 *   -ENETUNREACH; SYN retries exhausted (ERR_ABRT) -> -ETIMEDOUT; the caller's
 *   timeout -> -ETIMEDOUT. Connected: RST -> -ECONNRESET; retransmissions
 *   exhausted -> -ETIMEDOUT; peer FIN -> -ECONNRESET after the frames before
 *   it; lwIP out of memory for a send -> retried at the next poll.
 *   TLS: not offered (conn_tls -> -EOPNOTSUPP).
 *
 * FNL_DPDK_TRACE=1 in the environment prints the port's and lwIP's counters
 * on stderr once a second (diagnosis only).
 */
#include "dataplane/net/dpdk.h"
#include "dataplane/net/engine_ops.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define SPIN_NS       20000
#define NAP_MIN_US    50
#define NAP_MAX_US    200
#define RX_BURSTS_MAX 8 /* rx bursts per poll before events are cut */

enum cstate { C_FREE = 0, C_CONNECTING, C_CONNECTED, C_CLOSING };

struct dsend {
	struct iovec *iov;
	int iovcnt;
	int idx; /* first iovec not fully copied */
	uint64_t tag;
};

struct dconn {
	enum cstate st;
	struct tcp_pcb *pcb;
	uint64_t user;
	int64_t deadline_ns; /* connect timeout, 0 none */
	bool connected_owed; /* CONNECTED not yet reported */
	bool gone;           /* the TCP connection is over: CLOSED owed after SENTs */
	bool drop_frames;    /* the caller closed: received frames are discarded */
	int close_res;       /* CLOSED's res (first error wins) */
	uint8_t *rx;
	uint32_t rx_head, rx_tail;
	struct dsend *sq;
	uint32_t sq_head, sq_wr, sq_tail;
	uint8_t nrtx_seen;
	char why[96];
};

struct watch {
	int fd;
	uint64_t user;
	bool on;
};

struct dpdk_engine {
	struct fnl_engine base;
	struct fnl_engine_cfg cfg;
	struct fnl_dpdk_cfg dcfg;
	struct fnl_dpdk_port *port;
	struct netif nif;
	struct dconn *conns;
	int *free_ids;
	int nfree;
	uint32_t scan; /* first slot looked at when cutting events (fairness) */
	struct watch watches[FNL_ENGINE_WATCHES_MAX];
	int nwatch;
	struct fnl_engine_stats st;
	uint64_t rx_nopbuf;    /* frames dropped: no lwIP pbuf */
	u16_t cksum_flags;     /* the netif's NETIF_CHECKSUM_*: off where the port offloads */
	int64_t trace_next_ns; /* FNL_DPDK_TRACE=1: a counters line on stderr every second */
	bool trace;
};

static bool engine_live; /* lwIP and the EAL exist once per process */
static char last_error[256];

static const struct fnl_engine_ops dpdk_ops;

/* ---- lwIP platform ---- */

static uint64_t rand_state;

unsigned int fnl_lwip_rand(void)
{
	/* xorshift64*: lwIP's local ports and nothing secret */
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	return (unsigned int)((rand_state * 2685821657736338717ULL) >> 32);
}

u32_t sys_now(void)
{
	return (u32_t)(fnl_now_ns() / 1000000);
}

/* ---- netif: frames between lwIP and the port ---- */

static err_t nif_linkoutput(struct netif *n, struct pbuf *p)
{
	struct dpdk_engine *d = n->state;
	uint8_t *buf = fnl_dpdk_port_tx_buf(d->port, p->tot_len);
	if (buf)
		pbuf_copy_partial(p, buf, p->tot_len, 0);
	return ERR_OK; /* a frame without an mbuf is lost: counted, TCP retransmits */
}

static err_t nif_init(struct netif *n)
{
	struct dpdk_engine *d = n->state;
	n->name[0] = 'd';
	n->name[1] = 'p';
	n->output = etharp_output;
	n->linkoutput = nif_linkoutput;
	n->mtu = (u16_t)d->dcfg.mtu;
	n->hwaddr_len = ETH_HWADDR_LEN;
	n->flags =
	    NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

static void rx_frame(void *arg, const uint8_t *frame, uint32_t len, unsigned ok)
{
	struct dpdk_engine *d = arg;
	if (len > 0xffff)
		return;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
	if (!p) {
		d->rx_nopbuf++;
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	/* checks the port made are not repeated: the netif's flags for this frame only
	 * (input runs to its end inside this call) */
	u16_t flags = d->cksum_flags;
	if (ok & FNL_DPDK_RX_IP_CKSUM)
		flags &= (u16_t)~NETIF_CHECKSUM_CHECK_IP;
	if (ok & FNL_DPDK_RX_TCP_CKSUM)
		flags &= (u16_t)~NETIF_CHECKSUM_CHECK_TCP;
	d->nif.chksum_flags = flags;
	if (d->nif.input(p, &d->nif) != ERR_OK)
		pbuf_free(p);
	d->nif.chksum_flags = d->cksum_flags;
}

/* ---- connection state ---- */

static struct dconn *slot(struct dpdk_engine *d, int id)
{
	if (id < 0 || (uint32_t)id >= d->cfg.conns_max)
		return NULL;
	return &d->conns[id];
}

static void set_why(struct dconn *c, const char *what)
{
	if (!c->why[0])
		snprintf(c->why, sizeof(c->why), "%s", what);
}

/* The TCP connection is over: CLOSED (res, unless an earlier result is kept)
 * follows the SENTs still owed. */
static void mark_gone(struct dconn *c, int res)
{
	if (!c->gone && !c->close_res)
		c->close_res = res;
	c->gone = true;
	c->pcb = NULL;
	c->st = C_CLOSING;
}

/* Let go of the pcb: RST when hard (an error, or sends still queued), else FIN. */
static void drop_pcb(struct dconn *c, bool hard)
{
	struct tcp_pcb *pcb = c->pcb;
	if (!pcb)
		return;
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
	c->pcb = NULL;
	if (hard || tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

/* The engine, for lwIP's callbacks (their arg is the slot): a process
 * singleton while it lives. */
static struct dpdk_engine *the_engine;

static void on_err(void *arg, err_t err)
{
	struct dconn *c = arg;
	if (!c)
		return;
	bool connecting = c->st == C_CONNECTING;
	int res;
	switch (err) {
	case ERR_RST:
		res = connecting ? -ECONNREFUSED : -ECONNRESET;
		set_why(c, connecting ? "connection refused (RST)" : "connection reset by peer");
		break;
	case ERR_ABRT:
		res = -ETIMEDOUT;
		set_why(c, connecting ? "SYN retries exhausted" : "retransmissions exhausted");
		break;
	case ERR_CLSD:
		res = -ECONNRESET;
		set_why(c, "connection closed");
		break;
	default:
		res = -EIO;
		set_why(c, "lwIP error");
		break;
	}
	c->pcb = NULL; /* lwIP freed it */
	mark_gone(c, res);
	if (connecting)
		the_engine->st.conn_errors++;
	else
		the_engine->st.recv_errors++;
}

static void rx_compact(struct dconn *c)
{
	if (c->rx_head == 0)
		return;
	memmove(c->rx, c->rx + c->rx_head, c->rx_tail - c->rx_head);
	c->rx_tail -= c->rx_head;
	c->rx_head = 0;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct dconn *c = arg;
	struct dpdk_engine *d = the_engine;
	if (!c || c->pcb != pcb) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (!p || err != ERR_OK) { /* the peer closed (FIN) */
		if (p)
			pbuf_free(p);
		set_why(c, "closed by the broker (FIN)");
		drop_pcb(c, true); /* aborts: lwIP wants ERR_ABRT back */
		mark_gone(c, -ECONNRESET);
		d->st.recv_errors++;
		return ERR_ABRT;
	}
	uint32_t cap = d->cfg.rx_bytes_max + 4;
	if (cap - c->rx_tail < p->tot_len)
		rx_compact(c); /* safe: no frame of this poll is cut yet */
	if (cap - c->rx_tail < p->tot_len)
		return ERR_MEM; /* lwIP keeps it (refused data) and offers it again */
	pbuf_copy_partial(p, c->rx + c->rx_tail, p->tot_len, 0);
	c->rx_tail += p->tot_len;
	d->st.bytes_rx += p->tot_len;
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct dconn *c = arg;
	if (!c || c->pcb != pcb)
		return ERR_OK;
	if (err != ERR_OK)
		return ERR_OK; /* lwIP reports failures through on_err */
	c->st = C_CONNECTED;
	c->connected_owed = true;
	c->deadline_ns = 0;
	the_engine->st.connects++;
	return ERR_OK;
}

/* ---- the ops ---- */

static int dp_conn_open(struct fnl_engine *e, const struct sockaddr *sa, socklen_t salen,
                        int64_t timeout_ms, uint64_t user)
{
	struct dpdk_engine *d = (struct dpdk_engine *)e;
	if (!sa || salen < (socklen_t)sizeof(struct sockaddr_in) || sa->sa_family != AF_INET)
		return -EINVAL; /* IPv4 only over lwIP */
	if (d->nfree == 0)
		return -EMFILE;
	int id = d->free_ids[d->nfree - 1];
	struct dconn *c = &d->conns[id];
	if (!c->rx && !(c->rx = malloc((size_t)d->cfg.rx_bytes_max + 4)))
		return -ENOMEM;
	struct tcp_pcb *pcb = tcp_new();
	if (!pcb)
		return -ENOMEM;
	d->nfree--;
	struct dsend *sq = c->sq;
	uint8_t *rx = c->rx;
	memset(c, 0, sizeof(*c));
	c->sq = sq;
	c->rx = rx;
	c->st = C_CONNECTING;
	c->user = user;
	c->pcb = pcb;
	if (timeout_ms > 0)
		c->deadline_ns = fnl_now_ns() + timeout_ms * 1000000;
	tcp_arg(pcb, c);
	tcp_recv(pcb, on_recv);
	tcp_err(pcb, on_err);
	tcp_nagle_disable(pcb);
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
	ip_addr_t dst;
	uint32_t to = in->sin_addr.s_addr;
	if (d->dcfg.map_from && to == d->dcfg.map_from)
		to = d->dcfg.map_to; /* funnel.dpdk.addr.map */
	ip_addr_set_ip4_u32(&dst, to);
	err_t rc = tcp_connect(pcb, &dst, ntohs(in->sin_port), on_connected);
	if (rc != ERR_OK) { /* no route (no gateway for an off-subnet broker), or memory */
		set_why(c, rc == ERR_RTE ? "no route to the broker (set funnel.dpdk.gateway)"
		                         : "lwIP refused the connect");
		drop_pcb(c, true);
		mark_gone(c, rc == ERR_RTE ? -ENETUNREACH : -ENOMEM);
		d->st.conn_errors++;
	}
	return id;
}

static int dp_conn_tls(struct fnl_engine *e, int conn, struct fnl_tls_ctx *ctx, const char *host)
{
	(void)e, (void)conn, (void)ctx, (void)host;
	return -EOPNOTSUPP;
}

static const char *dp_conn_why(const struct fnl_engine *e, int conn)
{
	struct dpdk_engine *d = (struct dpdk_engine *)e;
	struct dconn *c = slot(d, conn);
	return c ? c->why : "";
}

static int dp_conn_send(struct fnl_engine *e, int conn, struct iovec *iov, int iovcnt, uint64_t tag)
{
	struct dpdk_engine *d = (struct dpdk_engine *)e;
	if (iovcnt < 1 || iovcnt > IOV_MAX)
		return -EINVAL;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total == 0)
		return -EINVAL;
	struct dconn *c = slot(d, conn);
	if (!c || c->st != C_CONNECTED || c->gone)
		return -ENOTCONN;
	if (c->sq_tail - c->sq_head >= d->cfg.sends_max)
		return -ENOBUFS;
	c->sq[c->sq_tail % d->cfg.sends_max] =
	    (struct dsend){.iov = iov, .iovcnt = iovcnt, .idx = 0, .tag = tag};
	c->sq_tail++;
	return 0;
}

static void dp_conn_close(struct fnl_engine *e, int conn)
{
	struct dpdk_engine *d = (struct dpdk_engine *)e;
	struct dconn *c = slot(d, conn);
	if (!c || c->st == C_FREE || c->st == C_CLOSING)
		return;
	drop_pcb(c, c->sq_wr != c->sq_tail);
	c->drop_frames = true;
	mark_gone(c, 0);
}

static int dp_watch_eventfd(struct fnl_engine *e, int efd, uint64_t user)
{
	struct dpdk_engine *d = (struct dpdk_engine *)e;
	if (efd < 0)
		return -EBADF;
	if (d->nwatch == FNL_ENGINE_WATCHES_MAX)
		return -ENOSPC;
	d->watches[d->nwatch] = (struct watch){.fd = efd, .user = user, .on = true};
	return d->nwatch++;
}

/* Copy queued sends into lwIP's send buffer as far as it has room. */
static void push_sends(struct dpdk_engine *d, struct dconn *c)
{
	bool wrote = false;
	while (c->pcb && c->sq_wr != c->sq_tail) {
		struct dsend *s = &c->sq[c->sq_wr % d->cfg.sends_max];
		while (s->idx < s->iovcnt) {
			struct iovec *v = &s->iov[s->idx];
			if (v->iov_len == 0) {
				s->idx++;
				continue;
			}
			u32_t room = tcp_sndbuf(c->pcb);
			if (room == 0 || tcp_sndqueuelen(c->pcb) >= TCP_SND_QUEUELEN - 8)
				goto out;
			size_t n = v->iov_len;
			if (n > room)
				n = room;
			if (n > 0xffff)
				n = 0xffff;
			bool more =
			    n < v->iov_len || s->idx + 1 < s->iovcnt || c->sq_wr + 1 != c->sq_tail;
			err_t rc =
			    tcp_write(c->pcb, v->iov_base, (u16_t)n,
			              TCP_WRITE_FLAG_COPY | (more ? TCP_WRITE_FLAG_MORE : 0));
			if (rc == ERR_MEM)
				goto out; /* lwIP is full: the rest at the next poll */
			if (rc != ERR_OK) {
				set_why(c, "lwIP refused a write");
				drop_pcb(c, true);
				mark_gone(c, -EPIPE);
				d->st.send_errors++;
				return;
			}
			wrote = true;
			d->st.bytes_tx += n;
			if (n < v->iov_len)
				d->st.send_partials++;
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
		}
		c->sq_wr++;
	}
out:
	if (wrote && c->pcb)
		tcp_output(c->pcb);
}

static void count_retransmits(struct dpdk_engine *d, struct dconn *c)
{
	if (!c->pcb)
		return;
	uint8_t n = c->pcb->nrtx;
	if (n > c->nrtx_seen)
		d->st.tcp_retransmits += (uint64_t)(n - c->nrtx_seen);
	c->nrtx_seen = n;
}

static void trace(struct dpdk_engine *d, int64_t now)
{
	struct fnl_dpdk_port_stats ps;
	fnl_dpdk_port_stats(d->port, &ps);
	d->trace_next_ns = now + 1000000000;
	fprintf(stderr,
	        "dpdk: rx=%llu tx=%llu rxdrop=%llu txdrop=%llu nopbuf=%llu link.recv=%u ip.recv=%u "
	        "tcp.recv=%u tcp.drop=%u tcp.memerr=%u pool.used=%u pool.err=%u heap.used=%u "
	        "heap.err=%u seg.used=%u mbufs.free=%u\n",
	        (unsigned long long)ps.rx_pkts, (unsigned long long)ps.tx_pkts,
	        (unsigned long long)ps.rx_drops, (unsigned long long)ps.tx_drops,
	        (unsigned long long)d->rx_nopbuf, (unsigned)lwip_stats.link.recv,
	        (unsigned)lwip_stats.ip.recv, (unsigned)lwip_stats.tcp.recv,
	        (unsigned)lwip_stats.tcp.drop, (unsigned)lwip_stats.tcp.memerr,
	        (unsigned)lwip_stats.memp[MEMP_PBUF_POOL]->used,
	        (unsigned)lwip_stats.memp[MEMP_PBUF_POOL]->err, (unsigned)lwip_stats.mem.used,
	        (unsigned)lwip_stats.mem.err, (unsigned)lwip_stats.memp[MEMP_TCP_SEG]->used,
	        ps.mbufs_free);
}

/* Everything but cutting events: rx, lwIP timers, timeouts, sends, tx. */
static int pump(struct dpdk_engine *d)
{
	int pkts = 0;
	for (int i = 0; i < RX_BURSTS_MAX; i++) {
		int n = fnl_dpdk_port_rx(d->port, rx_frame, d);
		pkts += n;
		if (n == 0)
			break;
	}
	sys_check_timeouts();
	int64_t now = fnl_now_ns();
	for (uint32_t i = 0; i < d->cfg.conns_max; i++) {
		struct dconn *c = &d->conns[i];
		if (c->st == C_FREE || c->gone)
			continue;
		if (c->st == C_CONNECTING && c->deadline_ns && now >= c->deadline_ns) {
			set_why(c, "connect timed out");
			drop_pcb(c, true);
			mark_gone(c, -ETIMEDOUT);
			d->st.conn_errors++;
			continue;
		}
		count_retransmits(d, c);
		if (c->st == C_CONNECTED)
			push_sends(d, c);
	}
	fnl_dpdk_port_tx_flush(d->port);
	if (d->trace && now >= d->trace_next_ns)
		trace(d, now);
	return pkts;
}

static void free_slot(struct dpdk_engine *d, struct dconn *c)
{
	c->st = C_FREE;
	d->free_ids[d->nfree++] = (int)(c - d->conns);
}

static int put(struct fnl_event *ev, int *n, int max, struct dconn *c, struct dpdk_engine *d,
               enum fnl_ev_type t, int res)
{
	if (*n >= max)
		return -1;
	ev[*n] =
	    (struct fnl_event){.type = t, .conn = (int)(c - d->conns), .res = res, .user = c->user};
	(*n)++;
	return 0;
}

/* Cut one slot's events in order: CONNECTED, SENT, FRAME, then CLOSED.
 * Returns -1 when ev is full (the rest waits for the next poll). */
static int cut_events(struct dpdk_engine *d, struct dconn *c, struct fnl_event *ev, int *n, int max)
{
	if (c->connected_owed) {
		if (put(ev, n, max, c, d, FNL_EV_CONNECTED, 0) < 0)
			return -1;
		c->connected_owed = false;
	}
	while (c->sq_head != c->sq_wr) {
		if (put(ev, n, max, c, d, FNL_EV_SENT, 0) < 0)
			return -1;
		ev[*n - 1].tag = c->sq[c->sq_head % d->cfg.sends_max].tag;
		c->sq_head++;
		d->st.sends++;
	}
	while (!c->drop_frames && c->rx_tail - c->rx_head >= 4) {
		const uint8_t *h = c->rx + c->rx_head;
		int32_t size = (int32_t)((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		                         (uint32_t)h[2] << 8 | h[3]);
		if (size < 0 || (uint32_t)size > d->cfg.rx_bytes_max) {
			set_why(c, size < 0 ? "bad frame size" : "frame larger than rx_bytes_max");
			drop_pcb(c, true);
			mark_gone(c, size < 0 ? -EBADMSG : -EMSGSIZE);
			c->drop_frames = true;
			d->st.recv_errors++;
			break;
		}
		if (c->rx_tail - c->rx_head - 4 < (uint32_t)size)
			break;
		if (put(ev, n, max, c, d, FNL_EV_FRAME, 0) < 0)
			return -1;
		ev[*n - 1].frame = h + 4;
		ev[*n - 1].frame_len = (uint32_t)size;
		c->rx_head += 4 + (uint32_t)size;
		d->st.frames++;
	}
	if (!c->gone)
		return 0;
	while (c->sq_head != c->sq_tail) {
		int res = c->close_res && c->sq_head == c->sq_wr ? c->close_res : -ECANCELED;
		if (put(ev, n, max, c, d, FNL_EV_SENT, res) < 0)
			return -1;
		ev[*n - 1].tag = c->sq[c->sq_head % d->cfg.sends_max].tag;
		c->sq_head++;
		c->sq_wr = c->sq_head;
	}
	if (put(ev, n, max, c, d, FNL_EV_CLOSED, c->close_res) < 0)
		return -1;
	free_slot(d, c);
	return 0;
}

static int cut_all(struct dpdk_engine *d, struct fnl_event *ev, int max)
{
	int n = 0;
	uint32_t m = d->cfg.conns_max;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t i = (d->scan + k) % m;
		struct dconn *c = &d->conns[i];
		if (c->st == C_FREE)
			continue;
		if (cut_events(d, c, ev, &n, max) < 0) {
			d->scan = i; /* start here next time */
			return n;
		}
	}
	d->scan = (d->scan + 1) % m;
	return n;
}

/* Read the watched eventfds that are readable; wait up to timeout_ms for one. */
static int read_watches(struct dpdk_engine *d, struct fnl_event *ev, int max, int timeout_us)
{
	struct pollfd pf[FNL_ENGINE_WATCHES_MAX];
	int idx[FNL_ENGINE_WATCHES_MAX], np = 0;
	for (int i = 0; i < d->nwatch; i++)
		if (d->watches[i].on) {
			pf[np] = (struct pollfd){.fd = d->watches[i].fd, .events = POLLIN};
			idx[np++] = i;
		}
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)timeout_us * 1000};
	if (np == 0) {
		if (timeout_us > 0)
			nanosleep(&ts, NULL);
		return 0;
	}
	if (ppoll(pf, (nfds_t)np, &ts, NULL) <= 0)
		return 0;
	int n = 0;
	for (int k = 0; k < np && n < max; k++) {
		if (!(pf[k].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)))
			continue;
		struct watch *w = &d->watches[idx[k]];
		uint64_t v = 0;
		ssize_t r = read(w->fd, &v, sizeof(v));
		if (r == (ssize_t)sizeof(v))
			ev[n++] = (struct fnl_event){
			    .type = FNL_EV_WAKE, .conn = -1, .user = w->user, .tag = v};
		else if (r < 0 && errno != EAGAIN && errno != EINTR) {
			ev[n++] = (struct fnl_event){
			    .type = FNL_EV_WAKE, .conn = -1, .res = -errno, .user = w->user};
			w->on = false;
		}
	}
	return n;
}

/* Whether TCP has work in flight: sends queued or unacknowledged, a connect
 * under way. Then the poll keeps spinning (ACKs must be answered with the next
 * segments at once); it naps only when nothing is owed to the wire. */
static bool tcp_busy(const struct dpdk_engine *d)
{
	for (uint32_t i = 0; i < d->cfg.conns_max; i++) {
		const struct dconn *c = &d->conns[i];
		if (c->st == C_CONNECTING || c->sq_wr != c->sq_tail)
			return true;
		if (c->pcb && (c->pcb->unsent || c->pcb->unacked))
			return true;
	}
	return false;
}

static int dp_poll(struct fnl_engine *e, struct fnl_event *ev, int max, int64_t wait_ns)
{
	struct dpdk_engine *d = (struct dpdk_engine *)e;
	if (max < 1)
		return -EINVAL;
	int64_t start = fnl_now_ns();
	int nap_us = NAP_MIN_US;
	for (;;) {
		pump(d);
		int n = cut_all(d, ev, max);
		if (n < max)
			n += read_watches(d, ev + n, max - n, 0);
		if (n > 0 || wait_ns == 0)
			return n;
		int64_t now = fnl_now_ns();
		if (wait_ns > 0 && now - start >= wait_ns)
			return 0;
		if (now - start < SPIN_NS || tcp_busy(d))
			continue;
		int64_t left_us = wait_ns > 0 ? (wait_ns - (now - start)) / 1000 : nap_us;
		int us = left_us < nap_us ? (int)left_us : nap_us;
		if (us > 0) {
			n = read_watches(d, ev, max, us);
			if (n > 0)
				return n;
		}
		if (nap_us < NAP_MAX_US)
			nap_us *= 2;
	}
}

static void dp_stats(const struct fnl_engine *e, struct fnl_engine_stats *out)
{
	const struct dpdk_engine *d = (const struct dpdk_engine *)e;
	*out = d->st;
	struct fnl_dpdk_port_stats ps;
	fnl_dpdk_port_stats(d->port, &ps);
	out->pkts_rx = ps.rx_pkts;
	out->pkts_tx = ps.tx_pkts;
	out->csum_offload = fnl_dpdk_port_offloads(d->port);
	/* dropped frames: before us (NIC/PMD), for want of a pbuf or an mbuf, and by
	 * lwIP (bad checksum, no pcb, out of order beyond its queue, ...) */
	out->pkt_drops = ps.rx_drops + ps.tx_drops + d->rx_nopbuf + lwip_stats.link.drop +
	                 lwip_stats.etharp.drop + lwip_stats.ip.drop + lwip_stats.tcp.drop;
}

static void dp_free(struct fnl_engine *e)
{
	struct dpdk_engine *d = (struct dpdk_engine *)e;
	for (uint32_t i = 0; d->conns && i < d->cfg.conns_max; i++) {
		struct dconn *c = &d->conns[i];
		if (c->pcb)
			drop_pcb(c, true); /* RST: funneld is going away */
		free(c->rx);
		free(c->sq);
	}
	if (d->port) { /* the RSTs above, then the port goes (AF_XDP: its XDP program too) */
		fnl_dpdk_port_tx_flush(d->port);
		fnl_dpdk_port_close(d->port);
	}
	free(d->conns);
	free(d->free_ids);
	free(d);
	/* lwIP's state is static and stays; a new engine in this process is refused */
}

static const struct fnl_engine_ops dpdk_ops = {
    .name = "dpdk",
    .free = dp_free,
    .conn_open = dp_conn_open,
    .conn_tls = dp_conn_tls,
    .conn_why = dp_conn_why,
    .conn_send = dp_conn_send,
    .conn_close = dp_conn_close,
    .watch_eventfd = dp_watch_eventfd,
    .poll = dp_poll,
    .stats = dp_stats,
};

const char *fnl_dpdk_last_error(void)
{
	return last_error;
}

static int fail(int rc, const char *fmt, const char *arg)
{
	snprintf(last_error, sizeof(last_error), fmt, arg);
	return rc;
}

int fnl_dpdk_new(const struct fnl_engine_cfg *cfg, struct fnl_engine **out)
{
	const struct fnl_dpdk_cfg *dc = cfg->egress_cfg;
	last_error[0] = '\0';
	if (!dc)
		return fail(-EINVAL, "%s", "the DPDK egress needs its settings (funnel.dpdk.*)");
	if (!cfg->conns_max || cfg->conns_max > MEMP_NUM_TCP_PCB || cfg->sends_max < 8 ||
	    !cfg->rx_bytes_max || cfg->rx_bytes_max > (1u << 30))
		return fail(-EINVAL, "%s", "DPDK egress: bad engine sizes (at most 256 brokers)");
	if (dc->mtu < 576 || dc->mtu > 1500 || !dc->ip || !dc->netmask)
		return fail(-EINVAL, "%s", "DPDK egress: funnel.dpdk.ip/netmask/mtu");
	if (engine_live)
		return fail(
		    -EALREADY, "%s",
		    "the DPDK egress runs one engine per process: set one funnel.cores entry");
	struct dpdk_engine *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base.ops = &dpdk_ops;
	d->cfg = *cfg;
	d->dcfg = *dc;
	d->cfg.egress_cfg = NULL;
	d->conns = calloc(cfg->conns_max, sizeof(*d->conns));
	d->free_ids = calloc(cfg->conns_max, sizeof(*d->free_ids));
	int rc = -ENOMEM;
	if (!d->conns || !d->free_ids)
		goto fail;
	for (uint32_t i = 0; i < cfg->conns_max; i++) {
		if (!(d->conns[i].sq = calloc(cfg->sends_max, sizeof(struct dsend))))
			goto fail;
		d->free_ids[d->nfree++] = (int)(cfg->conns_max - 1 - i);
	}
	uint8_t mac[6];
	rc = fnl_dpdk_port_open(dc->eal_args, dc->mtu, mac, &d->port, last_error,
	                        sizeof(last_error));
	if (rc < 0)
		goto fail;
	if (getrandom(&rand_state, sizeof(rand_state), 0) != sizeof(rand_state) || !rand_state)
		rand_state = (uint64_t)fnl_now_ns() | 1;
	lwip_init();
	ip4_addr_t ip, mask, gw;
	ip4_addr_set_u32(&ip, dc->ip);
	ip4_addr_set_u32(&mask, dc->netmask);
	ip4_addr_set_u32(&gw, dc->gateway);
	if (!netif_add(&d->nif, &ip, &mask, &gw, d, nif_init, ethernet_input)) {
		rc = fail(-EINVAL, "%s", "lwIP refused the interface");
		goto fail;
	}
	memcpy(d->nif.hwaddr, mac, 6);
	/* checksums the port fills are not computed; those it checks, per frame (rx_frame) */
	unsigned off = fnl_dpdk_port_offloads(d->port);
	d->cksum_flags = NETIF_CHECKSUM_ENABLE_ALL;
	if (off & FNL_DPDK_TX_IP_CKSUM)
		d->cksum_flags &= (u16_t)~NETIF_CHECKSUM_GEN_IP;
	if (off & FNL_DPDK_TX_TCP_CKSUM)
		d->cksum_flags &= (u16_t)~NETIF_CHECKSUM_GEN_TCP;
	NETIF_SET_CHECKSUM_CTRL(&d->nif, d->cksum_flags);
	netif_set_default(&d->nif);
	netif_set_up(&d->nif);
	netif_set_link_up(&d->nif);
	const char *tr = getenv("FNL_DPDK_TRACE");
	d->trace = tr && tr[0] == '1';
	engine_live = true;
	the_engine = d;
	*out = &d->base;
	return 0;
fail:
	if (d->port)
		fnl_dpdk_port_close(d->port);
	for (uint32_t i = 0; d->conns && i < cfg->conns_max; i++)
		free(d->conns[i].sq);
	free(d->conns);
	free(d->free_ids);
	free(d);
	return rc;
}
