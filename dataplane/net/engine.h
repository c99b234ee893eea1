/* engine.h - the network engine of one data-plane core: the interface, and
 * its io_uring implementation (uring.c; others plug in through engine_ops.h).
 *
 * One engine per data-plane core, driven by one thread, no locks. It opens TCP
 * connections, sends caller-owned iovec lists in order and cuts the byte stream
 * it receives into frames of [int32 BE size][size bytes]. It knows nothing
 * else about Kafka: the caller matches correlation ids.
 *
 * Layout
 *
 *   struct fnl_engine
 *   +-----------+-------------------------------------------------------------+
 *   | io_uring  | SQ sq_entries, CQ >= 4 * conns_max (see uring.c)            |
 *   | conns[]   | conns_max slots, index = connection id                      |
 *   | sendq[]   | conns_max * sends_max {iov, iovcnt, tag}, a ring per slot   |
 *   | free[]    | LIFO stack of free slot ids (a closed slot is reused first) |
 *   | pending[] | FIFO of slots with output still owed to the caller          |
 *   | watches[] | FNL_ENGINE_WATCHES_MAX eventfd doorbells                    |
 *   | br, pb    | provided buffer ring: rx_bufs buffers of rx_buf_bytes, one  |
 *   |           | block shared by all connections, buffer group 0 (absent on  |
 *   |           | the direct path)                                            |
 *   +-----------+-------------------------------------------------------------+
 *
 *   one slot's receive buffer (rx_bytes_max + 4 bytes, malloc'ed lazily the
 *   first time the slot is opened and kept until fnl_engine_free); the frames
 *   are cut here on both paths:
 *
 *   0          rx_head                    rx_tail               rx_bytes_max + 4
 *   |  consumed  | unparsed bytes (< 1 frame) |  free: new bytes land here |
 *
 * Receive (decided once, in fnl_engine_new; stats.rx_bufring says which)
 *
 *   provided buffers (default, Linux 6.0+): the buffers are registered as a
 *   buffer ring (IORING_REGISTER_PBUF_RING) and each connection has ONE
 *   multishot recv (IORING_RECV_MULTISHOT + IOSQE_BUFFER_SELECT): the kernel
 *   picks a buffer per completion and the recv stays armed while CQEs carry
 *   IORING_CQE_F_MORE; it is re-armed after a CQE without it. The engine copies
 *   each buffer's bytes (id = cqe->flags >> IORING_CQE_BUFFER_SHIFT) to rx_tail
 *   and gives the buffer back to the ring once all its bytes are copied.
 *   Bytes that do not fit stay in their buffer, queued on the connection in
 *   stream order ("held"), until frames are handed out and rx is compacted at
 *   a later poll. Flow control: while a connection holds buffers its multishot
 *   is cancelled (stats.recv_stops), so the socket, then TCP, holds the rest
 *   and one slow connection cannot drain the shared ring; it is re-armed when
 *   nothing is held. An empty ring ends a multishot with -ENOBUFS
 *   (stats.recv_nobufs): it is re-armed at once if buffers came back since,
 *   else when the next buffer is given back. EOF or an error that completes
 *   behind held bytes takes effect after their frames are delivered.
 *   Sizing: 64 x 16 KiB (1 MiB per engine) by default. A data-plane
 *   connection receives Produce and ApiVersions responses, mostly well under
 *   16 KiB, so one buffer usually holds a whole response and 64 cover one
 *   completion for each of the default 64 connections; buffers go back within
 *   the reap that copies them, so the ring runs dry only when the caller stops
 *   polling, when stopping is the point. Larger frames simply span buffers.
 *
 *   direct (cfg.rx_direct, or when registering the ring or the multishot
 *   probe fails: kernel < 6.0): one plain recv into rx at rx_tail, sized to
 *   the free room, re-armed after each completion (deferred while rx cannot
 *   be compacted), as before the buffer ring existed.
 *
 * Connection states
 *
 *   FREE -open-> CONNECTING -ok-> CONNECTED
 *                    |                |  (error, peer close, fnl_conn_close)
 *                    +----------------+--> CLOSING: ops cancelled, waiting for
 *                                          every in-flight op's completion
 *                                     --> DRAINING: fd closed; queued sends are
 *                                          reported SENT -ECANCELED, then one
 *                                          CLOSED -> FREE (generation + 1)
 *
 * Invariants
 *   - A slot is reused only after every SQE issued for it has completed (a
 *     multishot recv: its CQE without F_MORE), so the kernel never writes a
 *     reused slot's buffer nor reads a caller's buffers after
 *     FNL_EV_SENT/FNL_EV_CLOSED. user_data also carries the slot's
 *     generation: a completion whose generation is not the slot's is dropped
 *     (counted in stale_cqes); this is a second guard, not the first.
 *   - On the provided-buffer path the kernel writes only provided buffers,
 *     never rx. Every buffer a completion names is given back to the ring
 *     exactly once: when its bytes are copied, or dropped (close, bad frame,
 *     a completion for a closing slot or a stale generation).
 *   - At most one recv (plain or multishot) and one sendmsg are in flight per
 *     connection. Received bytes are framed in stream order. Sends go out in
 *     submission order and never interleave.
 *   - Every connection id returned by fnl_conn_open gets exactly one
 *     FNL_EV_CLOSED, the last event for that id; the id may be returned again
 *     by a later fnl_conn_open after that event.
 *   - Every fnl_conn_send that returned 0 gets exactly one FNL_EV_SENT, before
 *     the connection's FNL_EV_CLOSED.
 *   - Nothing is allocated after fnl_engine_new (which allocates the provided
 *     buffers) except the receive buffer of a slot opened for the first time
 *     (in fnl_conn_open, never in poll).
 *
 * Threading: single thread. The ring is created disabled and bound
 * (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN) to the thread that first
 * submits: the first fnl_engine_poll (or an open/send finding the SQ full), so
 * the engine may be built on another thread and handed over before that. If
 * the kernel refuses those flags the ring is plain; with cfg.sqpoll it is
 * SQPOLL (no DEFER_TASKRUN). There are no atomics here.
 *
 * Event order: per connection, CONNECTED first and CLOSED last; SENT events in
 * send order; FRAME events in stream order. A FRAME (a response) may be seen
 * before the SENT of its request: do not rely on SENT having arrived.
 *
 * errno mapping (res fields are 0 or -errno, never Kafka codes)
 *
 *   operation  result                          engine action / event
 *   ---------  ------------------------------  -----------------------------------
 *   connect    0                               CONNECTED res 0, recv armed
 *   connect    -ECANCELED by its link timeout  CLOSED res -ETIMEDOUT
 *   connect    -EINTR, -EAGAIN                 CLOSED res same (not retried: a
 *                                              connect cannot be safely reissued)
 *   connect    -ECONNREFUSED, -ENETUNREACH,    CLOSED res same (conn_errors + 1)
 *              -EHOSTUNREACH, -ETIMEDOUT, any
 *   sendmsg    n > 0, all written              SENT res 0
 *   sendmsg    n > 0, partial                  iovecs advanced, sendmsg reissued
 *   sendmsg    -EAGAIN, -EINTR, -ENOBUFS,      reissued unchanged
 *              -ENOMEM
 *   sendmsg    0 (nothing written)             treated as -EPIPE
 *   sendmsg    -EPIPE, -ECONNRESET, -ETIMEDOUT, SENT res same for that send, then
 *              -EHOSTUNREACH, any other        close: CLOSED res same (send_errors+1)
 *   recv       n > 0                           frames cut and delivered; direct:
 *                                              re-armed; multishot: goes on while
 *                                              F_MORE, else re-armed
 *   recv       0 (peer closed)                 CLOSED res -ECONNRESET (recv_errors+1),
 *                                              after the frames received before it
 *   recv       -EAGAIN, -EINTR, -ENOMEM,       reissued
 *              -ENOBUFS (direct path)
 *   recv       -ENOBUFS (multishot: the ring   re-armed once a buffer is back
 *              is empty)                       (recv_nobufs + 1)
 *   recv       -ECANCELED after a flow-control re-armed when nothing is held
 *              stop (rx full)
 *   recv       -ECONNRESET, any other          CLOSED res same (recv_errors + 1),
 *                                              after the frames received before it
 *   frame      size < 0                        CLOSED res -EBADMSG (recv_errors + 1)
 *   frame      size > rx_bytes_max             CLOSED res -EMSGSIZE (recv_errors + 1)
 *   any op     -ECANCELED during a close       part of the close, no own event
 *   close      fnl_conn_close by the caller    queued sends SENT -ECANCELED, CLOSED 0
 *   eventfd    8 bytes read                    WAKE res 0, tag = counter value, re-armed
 *   eventfd    -EAGAIN, -EINTR                 re-armed
 *   eventfd    any other error                 WAKE res same, watch stopped
 *
 *   On a close caused by an error, complete frames already received are still
 *   delivered before CLOSED; on a caller's close they are discarded. The socket
 *   is shut down at once and closed when its ops have completed: with linger 0
 *   (a RST) when sends were still queued or the close is a failure, so no
 *   orphan socket keeps pushing half a request; with a plain FIN otherwise.
 *
 * Submission: SQEs prepared by fnl_conn_open/fnl_conn_send are submitted by the
 * next fnl_engine_poll (or at once when the SQ is full); poll also submits on
 * its way out what its own handlers queued (re-armed recvs, stops, next sends).
 */
#ifndef FNL_NET_ENGINE_H
#define FNL_NET_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FNL_ENGINE_WATCHES_MAX 8

struct fnl_engine_cfg {
	uint32_t sq_entries;   /* SQ ring size; default 256 */
	uint32_t conns_max;    /* connection slots; default 64 */
	uint32_t rx_bytes_max; /* largest frame payload (the size field) accepted, default
	                          8 MiB; the slot's buffer is rx_bytes_max + 4 bytes; a bigger
	                          frame closes the connection with -EMSGSIZE */
	uint32_t sends_max;    /* queued sends per connection, >= 8; default 16 */
	bool sqpoll;           /* funnel.uring.sqpoll: IORING_SETUP_SQPOLL (no DEFER_TASKRUN) */
	int sqpoll_cpu;        /* SQPOLL thread cpu, -1 none */
	/* additions, at the end: the receive path (see "Receive" above) */
	uint32_t rx_bufs;      /* provided receive buffers shared by all connections, a power
	                          of 2, 1..32768; default 64 */
	uint32_t rx_buf_bytes; /* bytes per provided buffer, 1..16 MiB; default 16 KiB */
	bool rx_direct;        /* force the fallback: no buffer ring, a plain recv straight
	                          into each slot's buffer (rx_bufs/rx_buf_bytes unused) */
	/* which implementation (engine_ops.h); the fields above are io_uring's */
	enum fnl_egress { FNL_EGRESS_URING = 0, FNL_EGRESS_DPDK = 1 } egress;
	const void *egress_cfg; /* the implementation's own settings; NULL for io_uring */
};

/* Fill *c with the defaults above. */
void fnl_engine_cfg_default(struct fnl_engine_cfg *c);

struct fnl_engine;

/* Make an engine of cfg.egress (-EOPNOTSUPP if that kind is not built in).
 * For io_uring: allocate the engine, its ring and the provided buffers (everything but the
 * slots' receive buffers), and choose the receive path: the buffer ring unless
 * cfg.rx_direct, registering it fails or a multishot recv probe (on a
 * throwaway ring and socketpair) fails; then the direct recv, silently.
 * -EINVAL on a bad cfg (zero sizes, sends_max < 8, rx_bytes_max > 1 GiB,
 * rx_bufs not a power of 2 in 1..32768 or rx_buf_bytes outside 1..16 MiB
 * unless rx_direct), -ENOMEM, or the -errno of io_uring_queue_init_params. */
int fnl_engine_new(const struct fnl_engine_cfg *cfg, struct fnl_engine **out);

/* Cancel every operation, wait (bounded, 1 s) for the kernel to let go of the
 * buffers, close all sockets and free. No events are delivered. NULL is fine.
 * Call it on the engine's thread: elsewhere the ring refuses the wait (-EEXIST)
 * and the engine relies on the ring's exit to cancel what is still armed. */
void fnl_engine_free(struct fnl_engine *e);

/* Non-blocking TCP connect (IORING_OP_CONNECT linked to a timeout when
 * timeout_ms > 0), TCP_NODELAY set. Returns a connection id >= 0 at once; the
 * outcome arrives as FNL_EV_CONNECTED (res 0) or FNL_EV_CLOSED (res -errno).
 * The address is copied. Errors returned here (no event follows): -EINVAL (bad
 * address length or family), -EMFILE (all conns_max slots in use), -ENOMEM
 * (first use of a slot and its buffer cannot be allocated), socket()'s -errno,
 * -EBUSY (SQ full even after a submit). */
int fnl_conn_open(struct fnl_engine *e, const struct sockaddr *sa, socklen_t salen,
                  int64_t timeout_ms, uint64_t user);

struct fnl_tls_ctx;
/* Make connection conn (just returned by fnl_conn_open, before the next poll)
 * a TLS client connection to host (the broker's advertised name or address:
 * SNI and hostname verification, dataplane/net/tls.h). The TCP connect is then
 * followed by the handshake, and FNL_EV_CONNECTED means the handshake is done
 * and the record layer placed (user space, or kernel TLS per the context's
 * funnel.ssl.ktls: uring_tls.c; fnl_conn_why says which);
 * a failed handshake ends in FNL_EV_CLOSED res -EKEYREJECTED (certificate) or
 * -EPROTO, with fnl_conn_why saying why. Sends take and FRAME events give
 * plaintext as on any connection. Allocates the connection's TLS state (SSL,
 * two FNL_TLS_PAIR_BYTES buffers); -EINVAL, -ENOMEM, -EOPNOTSUPP on the direct
 * receive path. */
int fnl_conn_tls(struct fnl_engine *e, int conn, struct fnl_tls_ctx *ctx, const char *host);
/* Why connection conn closed, or after a TLS handshake its version, cipher
 * and record-layer path; "" if nothing to say. Valid until the slot is opened again. */
const char *fnl_conn_why(const struct fnl_engine *e, int conn);

/* Queue a send of an iovec list (no copy). The iovec ARRAY and all the buffers
 * must stay valid until FNL_EV_SENT for this tag. The engine rewrites the
 * caller's iovec entries in place to continue partial writes (iov_base and
 * iov_len of a partly written entry): rebuild the array before reusing it.
 * -EINVAL (iovcnt < 1 or > IOV_MAX, or zero total bytes), -ENOTCONN (not in
 * state CONNECTED: connecting, closing or a bad id), -ENOBUFS (sends_max queued). */
int fnl_conn_send(struct fnl_engine *e, int conn, struct iovec *iov, int iovcnt, uint64_t tag);

/* Close now: cancels the connection's operations. Queued sends then complete
 * with FNL_EV_SENT res -ECANCELED, and one FNL_EV_CLOSED res 0 follows (or the
 * error res if the connection was already failing). No-op on a free slot, a
 * bad id or a connection already closing. */
void fnl_conn_close(struct fnl_engine *e, int conn);

/* Read an fd (an eventfd doorbell) continuously: each 8-byte read yields
 * FNL_EV_WAKE with conn -1, user, and tag = the value read. Returns the watch
 * index >= 0, -ENOSPC past FNL_ENGINE_WATCHES_MAX, -EBADF for fd < 0. The fd
 * stays the caller's: close it only after fnl_engine_free. */
int fnl_engine_watch_eventfd(struct fnl_engine *e, int efd, uint64_t user);

enum fnl_ev_type { FNL_EV_CONNECTED = 1, FNL_EV_SENT, FNL_EV_FRAME, FNL_EV_CLOSED, FNL_EV_WAKE };

struct fnl_event {
	enum fnl_ev_type type;
	int conn;             /* connection id; -1 for FNL_EV_WAKE */
	int res;              /* 0 or -errno, see the mapping table above */
	uint64_t user;        /* the conn's user value (or the watch's) */
	uint64_t tag;         /* FNL_EV_SENT: the send's tag; FNL_EV_WAKE: eventfd value */
	const uint8_t *frame; /* FNL_EV_FRAME: payload after the 4-byte size; valid until the
	                         next fnl_engine_poll call */
	uint32_t frame_len;   /* FNL_EV_FRAME: payload bytes */
};

/* Submit pending SQEs and reap completions; waits up to wait_ns for at least one
 * event (0 = don't block, -1 = block). Returns the number of events written to
 * ev (0..max), or -errno (-EINVAL for max < 1; the ring's -errno, e.g. -EEXIST
 * when called from a thread other than the bound one). Never allocates. */
int fnl_engine_poll(struct fnl_engine *e, struct fnl_event *ev, int max, int64_t wait_ns);

/* Counters, single-thread: read them on the engine's thread. */
struct fnl_engine_stats {
	uint64_t bytes_tx, bytes_rx; /* bytes written / read on sockets */
	uint64_t sends, frames;      /* completed sends (res 0) / frames delivered */
	uint64_t connects;           /* successful connects */
	uint64_t conn_errors;        /* failed connects (incl. timeouts) */
	uint64_t send_errors;        /* sendmsg failures that closed a connection */
	uint64_t recv_errors;        /* recv failures, peer closes, bad frames */
	/* additions to the first contract, at the end: */
	uint64_t send_partials; /* short writes continued by the engine */
	uint64_t stale_cqes;    /* completions dropped by the generation check */
	uint64_t rx_bufring;    /* 1: receive path is provided buffers + multishot recv;
	                           0: the direct recv (cfg.rx_direct or an old kernel) */
	uint64_t recv_arms;     /* recv SQEs issued (a multishot counts once) */
	uint64_t recv_stops;    /* multishot recvs cancelled because rx was full (flow control) */
	uint64_t recv_nobufs;   /* multishot recvs ended by an empty buffer ring (-ENOBUFS) */
	uint64_t tls_handshakes; /* TLS connections established (user-space TLS) */
	uint64_t tls_failures;   /* TLS handshakes or sessions that failed */
	/* where each established TLS connection's record layer runs (funnel.ssl.ktls) */
	uint64_t tls_user; /* all in OpenSSL (user space) */
	uint64_t ktls_tx;  /* the kernel encrypts its sends */
	uint64_t ktls_rx;  /* the kernel decrypts its receives (TLS 1.2) */
	/* the DPDK egress only (0 on io_uring): frames received / sent on the port,
	 * frames dropped (by the PMD, for want of a buffer, or by lwIP: checksum, no
	 * connection, ...), and TCP segments lwIP retransmitted */
	uint64_t pkts_rx, pkts_tx, pkt_drops, tcp_retransmits;
	/* the DPDK egress: checksum offloads in use, a bit set (dpdk.h's FNL_DPDK_*_CKSUM:
	 * 1 tx IPv4, 2 tx TCP, 4 rx IPv4, 8 rx TCP); 0 where all are in software */
	uint64_t csum_offload;
};
void fnl_engine_stats(const struct fnl_engine *e, struct fnl_engine_stats *out);

/* Why the last fnl_engine_new of an implementation that says more than an
 * errno failed (DPDK: the EAL's or the port's complaint); "" otherwise. */
const char *fnl_engine_last_error(void);

/* Whether this binary has the egress implementation e (DPDK: -Ddpdk=enabled). */
bool fnl_engine_built(enum fnl_egress e);

/* The implementation's name ("uring", ...); "" for NULL. */
const char *fnl_engine_name(const struct fnl_engine *e);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t fnl_now_ns(void);

#endif
