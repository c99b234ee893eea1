/* uring.c - the io_uring network engine; layout, states and the errno table
 * are in engine.h, the structures in uring_int.h, TLS in uring_tls.c.
 *
 * user_data of every SQE: [63..32 generation][31..4 slot index][3..0 op].
 * Watches use op OP_WAKE with their own index and generation 0. Cancels use
 * OP_CANCEL and are not counted as in flight: their completion is ignored.
 * A close cancels by exact user_data, so generation included.
 *
 * Event output: fnl_engine_poll sets e->ev/ev_n/ev_max; handlers emit into it.
 * A completion is reaped only while there is room for one more event, and
 * every handler emits at most one event directly; anything more (frames past
 * the room, the SENT/CLOSED burst of a close) is owed through the pending FIFO
 * and resumes from the slot's own state at the next poll.
 *
 * Frame pointers stay valid until the next poll, so a receive buffer is
 * compacted (memmove to offset 0) only when no frame of it was handed out in
 * the current poll (rx_epoch != epoch); otherwise the compaction, and with it
 * the copy of bytes that do not fit or (direct path) the re-arm of the recv,
 * is deferred to the next poll through the pending FIFO.
 *
 * Receive, provided-buffer path (e->bufring, chosen once in fnl_engine_new):
 * one multishot recv per connection (IOSQE_BUFFER_SELECT, group RX_BGID) picks
 * a buffer of e->br per completion; it counts once in inflight and ends with
 * the first CQE without IORING_CQE_F_MORE. Each data CQE's buffer is appended
 * to the connection's held FIFO (pb_next links, in stream order) and copied
 * from there into rx as room allows; a buffer goes back to the ring as soon as
 * its last byte is copied. Held buffers mean rx is full: the multishot is
 * cancelled (recv_stopping) and re-armed once the FIFO is empty and its last
 * CQE came; the cancel is queued before any re-arm, so in SQ order it finds
 * the multishot it was meant for or nothing (-ENOENT, ignored). A terminal
 * error or EOF waits in rx_end until the bytes received before it are parsed.
 * An -ENOBUFS end re-arms at once unless every buffer is held (pb_out ==
 * rx_bufs); then the connection waits (rx_nobufs) for the next buffer given
 * back. Every buffer a CQE names is given back exactly once: copied, dropped
 * by a close, or carried by a stale or closing CQE.
 *
 * Receive, direct path (fallback): one plain recv into rx at rx_tail, sized to
 * the free room, re-armed after each completion.
 */
#include "dataplane/net/uring_int.h"

#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

bool ur_ev_room(const struct fnl_uring *e)
{
	return e->ev_n < e->ev_max;
}

void ur_ev_emit(struct fnl_uring *e, enum fnl_ev_type type, int conn, int res, uint64_t user,
                uint64_t tag)
{
	struct fnl_event *v = &e->ev[e->ev_n++];
	*v = (struct fnl_event){.type = type, .conn = conn, .res = res, .user = user, .tag = tag};
}

void ur_pending_add(struct fnl_uring *e, struct fnl_conn *c)
{
	if (c->on_pending)
		return;
	c->on_pending = true;
	e->pending[(e->pend_head + e->pend_count) % e->cfg.conns_max] = conn_idx(e, c);
	e->pend_count++;
}

static struct fnl_conn *pending_pop(struct fnl_uring *e)
{
	struct fnl_conn *c = &e->conns[e->pending[e->pend_head]];
	e->pend_head = (e->pend_head + 1) % e->cfg.conns_max;
	e->pend_count--;
	c->on_pending = false;
	return c;
}

/* ---- ring ------------------------------------------------------------- */

static int ring_enable(struct fnl_uring *e)
{
	int r;
	if (e->enabled)
		return 0;
	/* liburing 2.3 declares io_uring_enable_rings but does not export it */
	r = (int)syscall(__NR_io_uring_register, e->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
	                 NULL, 0);
	if (r < 0)
		return -errno;
	e->enabled = true;
	return 0;
}

/* An SQE, submitting what is queued when the SQ is full. NULL if still full. */
struct io_uring_sqe *ur_sqe_get(struct fnl_uring *e)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&e->ring);
	if (s)
		return s;
	if (ring_enable(e) < 0)
		return NULL;
	io_uring_submit(&e->ring);
	if (e->ring.flags & IORING_SETUP_SQPOLL)
		io_uring_sqring_wait(&e->ring); /* the SQ thread frees entries asynchronously */
	return io_uring_get_sqe(&e->ring);
}

static uint32_t pow2_up(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static int ring_init(struct fnl_uring *e)
{
	const uint32_t base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
	uint32_t tries[4], cq, need;
	int n = 0, r = -EINVAL;

	/* a multishot recv posts one CQE per buffer it fills, so the buffers count too */
	need = 4 * e->cfg.conns_max + 2 * FNL_ENGINE_WATCHES_MAX + 16 +
	       (e->cfg.rx_direct ? 0 : e->cfg.rx_bufs);
	cq = pow2_up(need > 2 * e->cfg.sq_entries ? need : 2 * e->cfg.sq_entries);
	if (e->cfg.sqpoll) {
		tries[n++] =
		    base | IORING_SETUP_SQPOLL | (e->cfg.sqpoll_cpu >= 0 ? IORING_SETUP_SQ_AFF : 0);
	} else {
		tries[n++] = base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		             IORING_SETUP_R_DISABLED;
	}
	tries[n++] = base;
	tries[n++] = IORING_SETUP_CQSIZE;
	for (int i = 0; i < n; i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = tries[i];
		p.cq_entries = cq;
		if (tries[i] & IORING_SETUP_SQPOLL) {
			p.sq_thread_idle = 1000;
			p.sq_thread_cpu = e->cfg.sqpoll_cpu >= 0 ? (uint32_t)e->cfg.sqpoll_cpu : 0;
		}
		r = io_uring_queue_init_params(e->cfg.sq_entries, &e->ring, &p);
		if (r == 0) {
			e->enabled = !(tries[i] & IORING_SETUP_R_DISABLED);
			return 0;
		}
		if (r != -EINVAL && r != -EPERM)
			return r;
	}
	return r;
}

/* ---- SQE preparation ---------------------------------------------------- */

static int arm_recv(struct fnl_uring *e, struct fnl_conn *c)
{
	struct io_uring_sqe *s = ur_sqe_get(e);
	if (!s)
		return -EBUSY;
	if (e->bufring) {
		/* completes once per buffer filled, until a CQE without F_MORE */
		io_uring_prep_recv_multishot(s, c->fd, NULL, 0, 0);
		s->flags |= IOSQE_BUFFER_SELECT;
		s->buf_group = RX_BGID;
	} else {
		io_uring_prep_recv(s, c->fd, c->rx + c->rx_tail, e->rx_cap - c->rx_tail, 0);
	}
	io_uring_sqe_set_data64(s, ud_make(OP_RECV, conn_idx(e, c), c->gen));
	c->recv_armed = true;
	c->inflight++;
	e->st.recv_arms++;
	return 0;
}

static int arm_send(struct fnl_uring *e, struct fnl_conn *c)
{
	struct fnl_send *q = &c->sendq[c->sq_head];
	struct io_uring_sqe *s = ur_sqe_get(e);
	if (!s)
		return -EBUSY;
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = q->iov;
	c->msg.msg_iovlen = (size_t)q->iovcnt;
	io_uring_prep_sendmsg(s, c->fd, &c->msg, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(s, ud_make(OP_SEND, conn_idx(e, c), c->gen));
	c->send_armed = true;
	c->inflight++;
	return 0;
}

static void arm_watch(struct fnl_uring *e, uint32_t i)
{
	struct fnl_watch *w = &e->watches[i];
	struct io_uring_sqe *s;
	if (w->fd < 0 || w->armed || w->stopped)
		return;
	s = ur_sqe_get(e);
	if (!s)
		return; /* retried at the next poll */
	io_uring_prep_read(s, w->fd, &w->val, sizeof(w->val), (uint64_t)-1);
	io_uring_sqe_set_data64(s, ud_make(OP_WAKE, i, 0));
	w->armed = true;
}

/* ---- provided buffers ------------------------------------------------ */

/* Give buffer bid back to the ring; wake the connections waiting for one. */
static void pb_give(struct fnl_uring *e, uint16_t bid)
{
	io_uring_buf_ring_add(e->br, e->pb_mem + (size_t)bid * e->cfg.rx_buf_bytes,
	                      e->cfg.rx_buf_bytes, bid, io_uring_buf_ring_mask(e->cfg.rx_bufs), 0);
	io_uring_buf_ring_advance(e->br, 1);
	e->pb_out--;
	if (e->rx_waiters == 0)
		return;
	for (uint32_t i = 0; i < e->cfg.conns_max; i++) {
		struct fnl_conn *w = &e->conns[i];
		if (w->rx_nobufs) {
			w->rx_nobufs = false;
			ur_pending_add(e, w); /* conn_drain re-arms its recv */
		}
	}
	e->rx_waiters = 0;
}

static void held_push(struct fnl_uring *e, struct fnl_conn *c, uint16_t bid, uint32_t len)
{
	e->pb_len[bid] = len;
	e->pb_next[bid] = PB_NONE;
	if (c->held_n == 0) {
		c->held_head = bid;
		c->held_off = 0;
	} else {
		e->pb_next[c->held_tail] = bid;
	}
	c->held_tail = bid;
	c->held_n++;
}

void ur_held_pop(struct fnl_uring *e, struct fnl_conn *c)
{
	uint16_t bid = c->held_head;
	c->held_head = e->pb_next[bid];
	c->held_off = 0;
	c->held_n--;
	pb_give(e, bid);
}

/* Give back every buffer the connection holds, its bytes dropped. */
void ur_held_drop(struct fnl_uring *e, struct fnl_conn *c)
{
	while (c->held_n > 0)
		ur_held_pop(e, c);
}

/* ---- close ------------------------------------------------------------ */

static void slot_release(struct fnl_uring *e, struct fnl_conn *c)
{
	c->state = S_FREE;
	c->gen++;
	e->free_stack[e->free_count++] = conn_idx(e, c);
}

/* All ops completed: let go of the socket, owe SENT(-ECANCELED)s and CLOSED. */
static void finish_close(struct fnl_uring *e, struct fnl_conn *c)
{
	/* Unsent bytes or a failure: reset (linger 0) rather than leave an orphan
	 * socket pushing half a request behind a FIN. */
	if (c->sq_count > 0 || c->close_res != 0) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	c->fd = -1;
	c->state = S_DRAINING;
	ur_pending_add(e, c);
}

/* Cancel one in-flight op by its exact user_data: the generation in it means a
 * cancel executed late (SQPOLL) can never hit the slot's next connection, as a
 * cancel by fd number could once the fd is closed and its number reused. */
static bool cancel_op(struct fnl_uring *e, struct fnl_conn *c, unsigned op)
{
	struct io_uring_sqe *s = ur_sqe_get(e);
	if (!s)
		return false; /* shutdown() still ends recv and send */
	io_uring_prep_cancel64(s, ud_make(op, conn_idx(e, c), c->gen), 0);
	io_uring_sqe_set_data64(s, ud_make(OP_CANCEL, conn_idx(e, c), c->gen));
	return true;
}

void ur_start_close(struct fnl_uring *e, struct fnl_conn *c, int res)
{
	bool connecting = c->state == S_CONNECTING;
	if (c->state != S_CONNECTING && c->state != S_CONNECTED)
		return;
	c->state = S_CLOSING;
	c->close_res = res;
	if (c->rx_nobufs) {
		c->rx_nobufs = false;
		e->rx_waiters--;
	}
	if (c->inflight == 0) {
		finish_close(e, c);
		return;
	}
	/* shutdown completes a pending recv or a blocked send at once; the
	 * cancels cover the rest (a connect cancel also ends its link timeout) */
	shutdown(c->fd, SHUT_RDWR);
	if (connecting)
		cancel_op(e, c, OP_CONNECT);
	if (c->recv_armed)
		cancel_op(e, c, OP_RECV);
	if (c->send_armed)
		cancel_op(e, c, OP_SEND);
}

/* Emit the SENT(-ECANCELED)s and the CLOSED of a DRAINING slot, then free it. */
static enum drain_res drain_closed(struct fnl_uring *e, struct fnl_conn *c)
{
	int id = (int)conn_idx(e, c);
	while (c->sq_count > 0) {
		if (!ur_ev_room(e))
			return D_BLOCKED;
		ur_ev_emit(e, FNL_EV_SENT, id, -ECANCELED, c->user, c->sendq[c->sq_head].tag);
		c->sq_head = (c->sq_head + 1) % e->cfg.sends_max;
		c->sq_count--;
	}
	if (!ur_ev_room(e))
		return D_BLOCKED;
	ur_ev_emit(e, FNL_EV_CLOSED, id, c->close_res, c->user, 0);
	ur_held_drop(e, c);
	slot_release(e, c);
	return D_DONE;
}

/* ---- receive ------------------------------------------------------------ */

/* Bytes the buffer must still take at rx_tail to complete the frame at rx_head
 * (its size was validated when its header arrived). */
static uint32_t rx_want(const struct fnl_conn *c)
{
	uint32_t have = c->rx_tail - c->rx_head;
	if (have < 4)
		return 4 - have;
	return 4 + be32_load(c->rx + c->rx_head) - have;
}

void ur_rx_compact(struct fnl_conn *c)
{
	uint32_t have = c->rx_tail - c->rx_head;
	if (have > 0 && c->rx_head > 0)
		memmove(c->rx, c->rx + c->rx_head, have);
	c->rx_head = 0;
	c->rx_tail = have;
}

static void rx_fail(struct fnl_uring *e, struct fnl_conn *c, int res)
{
	if (c->tls && !c->tls_up) {
		if (!c->why[0])
			snprintf(c->why, sizeof(c->why),
			         "connection closed during the TLS "
			         "handshake (is it a plaintext port?)");
		e->st.tls_failures++;
		res = -EPROTO;
	}
	e->st.recv_errors++;
	c->rx_head = c->rx_tail = 0;
	c->rx_parse = false;
	ur_held_drop(e, c);
	ur_start_close(e, c, res);
}

/* Hand out the complete frames at rx_head. D_BLOCKED when out of event room. */
static enum drain_res rx_parse(struct fnl_uring *e, struct fnl_conn *c)
{
	while (c->rx_tail - c->rx_head >= 4) {
		uint32_t have = c->rx_tail - c->rx_head;
		uint32_t size = be32_load(c->rx + c->rx_head);
		if (size > INT32_MAX) {
			rx_fail(e, c, -EBADMSG);
			return D_DONE;
		}
		if (size > e->cfg.rx_bytes_max) {
			rx_fail(e, c, -EMSGSIZE);
			return D_DONE;
		}
		if (have - 4 < size)
			break;
		if (!ur_ev_room(e))
			return D_BLOCKED;
		ur_ev_emit(e, FNL_EV_FRAME, (int)conn_idx(e, c), 0, c->user, 0);
		e->ev[e->ev_n - 1].frame = c->rx + c->rx_head + 4;
		e->ev[e->ev_n - 1].frame_len = size;
		c->rx_epoch = e->epoch;
		c->rx_head += 4 + size;
		e->st.frames++;
	}
	c->rx_parse = false;
	return D_DONE;
}

/* Room at rx_tail, compacting first when allowed and useful (the frames at
 * rx_head are parsed). false when the buffer must or should move but holds a
 * frame handed out in this poll: retry at the next poll. */
static bool rx_room(struct fnl_uring *e, struct fnl_conn *c)
{
	uint32_t room_min = e->rx_cap / 2 < RX_ROOM_MIN ? e->rx_cap / 2 : RX_ROOM_MIN;
	uint32_t room = e->rx_cap - c->rx_tail;
	bool must = room < rx_want(c);
	bool should = c->rx_head > 0 && room < room_min;

	if (c->rx_epoch != e->epoch) {
		if (must || should || c->rx_head == c->rx_tail)
			ur_rx_compact(c);
		return true;
	}
	return !must && !should;
}

/* Direct path: re-arm the recv at rx_tail. D_DEFER when the buffer must move
 * but holds a frame handed out in this poll. */
static enum drain_res rx_arm(struct fnl_uring *e, struct fnl_conn *c)
{
	int r;

	if (c->recv_armed || c->rx_parse || c->state != S_CONNECTED)
		return D_DONE;
	if (!rx_room(e, c))
		return D_DEFER;
	r = arm_recv(e, c);
	if (r < 0)
		rx_fail(e, c, r);
	return D_DONE;
}

/* Buffer ring: copy held bytes to rx_tail, in order, as far as rx has room
 * (compacting first when that makes room and is allowed). true if any moved. */

static bool rx_fill(struct fnl_uring *e, struct fnl_conn *c)
{
	bool moved = false;
	if (ur_tls_rx_user(c))
		return ur_tls_fill(e, c);
	while (c->held_n > 0) {
		uint16_t bid = c->held_head;
		uint32_t avail = e->pb_len[bid] - c->held_off;
		uint32_t room = e->rx_cap - c->rx_tail, n;
		/* Everything parsed and no frame of this poll points into rx: start
		 * again at 0, so a connection touches a few pages of its rx buffer
		 * instead of walking all of it (RSS, page faults) before compacting. */
		if (c->rx_head == c->rx_tail && c->rx_head > 0 && c->rx_epoch != e->epoch)
			ur_rx_compact(c);
		room = e->rx_cap - c->rx_tail;
		if (room < avail && c->rx_head > 0 && c->rx_epoch != e->epoch) {
			ur_rx_compact(c);
			room = e->rx_cap - c->rx_tail;
		}
		if (room == 0)
			break;
		n = room < avail ? room : avail;
		memcpy(c->rx + c->rx_tail,
		       e->pb_mem + (size_t)bid * e->cfg.rx_buf_bytes + c->held_off, n);
		c->rx_tail += n;
		c->held_off += n;
		c->rx_parse = true;
		moved = true;
		if (n < avail)
			break; /* rx is full */
		ur_held_pop(e, c);
	}
	return moved;
}

/* Buffer ring: move held bytes into rx and hand out frames until nothing is
 * held (D_DONE), the event room runs out (D_BLOCKED), or rx is full of bytes
 * that cannot move in this poll (D_DEFER: compaction at the next poll). Also
 * runs while closing, so frames received before an error close are delivered. */
static enum drain_res rx_feed(struct fnl_uring *e, struct fnl_conn *c)
{
	for (;;) {
		bool moved = rx_fill(e, c);
		if (c->rx_parse && rx_parse(e, c) == D_BLOCKED)
			return D_BLOCKED;
		if (c->held_n == 0)
			return c->tls && c->tls_rx_full ? D_DEFER : D_DONE;
		if (!moved)
			return D_DEFER;
	}
}

/* Buffer ring: feed, then stop the multishot while buffers stay held (rx is
 * full: the consumer has not taken its frames), apply a recv end that waited
 * for the held bytes, or (re-)arm the multishot. */

static enum drain_res rx_step(struct fnl_uring *e, struct fnl_conn *c)
{
	enum drain_res r;
	if (c->tls && !c->tls_up && c->state == S_CONNECTED) {
		r = ur_tls_hs_step(e, c);
		if (r != D_DONE)
			return r;
	}
	r = rx_feed(e, c);
	if (r != D_DONE) {
		if (c->held_n > 0 && c->recv_armed && !c->recv_stopping &&
		    c->state == S_CONNECTED && cancel_op(e, c, OP_RECV)) {
			c->recv_stopping = true;
			e->st.recv_stops++;
		}
		return r;
	}
	if (c->state != S_CONNECTED)
		return D_DONE;
	if (c->rx_end) {
		int res = c->rx_end;
		c->rx_end = 0;
		rx_fail(e, c, res);
		return D_DONE;
	}
	if (!rx_room(e, c))
		return D_DEFER;
	if (!c->recv_armed && !c->rx_nobufs) {
		int ar = arm_recv(e, c);
		if (ar < 0)
			rx_fail(e, c, ar);
	}
	return D_DONE;
}

static void rx_rearm(struct fnl_uring *e, struct fnl_conn *c)
{
	if ((e->bufring ? rx_step(e, c) : rx_arm(e, c)) != D_DONE)
		ur_pending_add(e, c);
}

bool ur_retryable(int res)
{
	return res == -EAGAIN || res == -EINTR || res == -ENOBUFS || res == -ENOMEM;
}

/* Buffer ring: one CQE of the multishot recv; bid is the buffer it names or -1. */
static void on_recv_ring(struct fnl_uring *e, struct fnl_conn *c, int res, bool more, int bid)
{
	bool stopped = !more && c->recv_stopping;

	if (!more)
		c->recv_armed = c->recv_stopping = false;
	if (c->state != S_CONNECTED) {
		if (bid >= 0)
			pb_give(e, (uint16_t)bid); /* closing: whatever came is dropped */
		return;
	}
	if (res > 0 && bid >= 0) {
		e->st.bytes_rx += (uint64_t)res;
		held_push(e, c, (uint16_t)bid, (uint32_t)res);
	} else {
		if (bid >= 0)
			pb_give(e, (uint16_t)bid);
		/* a CQE with F_MORE and no data changes nothing; after the last one
		 * rx_step re-arms unless the connection ends or waits for a buffer.
		 * -ECANCELED after recv_stopping is the stop rx_step asked for. */
		if (!more && res > 0) {
			c->rx_end = -EIO; /* data without a buffer: cannot happen */
		} else if (!more && res == -ENOBUFS) {
			e->st.recv_nobufs++;
			if (e->pb_out >= e->cfg.rx_bufs) { /* all held: wait for one back */
				c->rx_nobufs = true;
				e->rx_waiters++;
			} /* else some came back since the kernel found none: re-arm */
		} else if (!more && !ur_retryable(res) && !(res == -ECANCELED && stopped)) {
			c->rx_end = res == 0 ? -ECONNRESET : res;
			if (c->ktls_rx)
				ur_ktls_rx_end(e, c, res);
		}
	}
	if (rx_step(e, c) != D_DONE)
		ur_pending_add(e, c);
}

static void on_recv(struct fnl_uring *e, struct fnl_conn *c, int res)
{
	c->recv_armed = false;
	if (c->state != S_CONNECTED)
		return; /* closing: whatever came is dropped */
	if (res > 0) {
		c->rx_tail += (uint32_t)res;
		e->st.bytes_rx += (uint64_t)res;
		c->rx_parse = true;
		if (rx_parse(e, c) == D_BLOCKED)
			ur_pending_add(e, c);
		else
			rx_rearm(e, c);
	} else if (res == 0) {
		rx_fail(e, c, -ECONNRESET);
	} else if (ur_retryable(res)) {
		rx_rearm(e, c);
	} else {
		rx_fail(e, c, res);
	}
}

/* ---- send --------------------------------------------------------------- */

/* Advance q past n written bytes; true when nothing is left. */
bool ur_send_advance(struct fnl_send *q, size_t n)
{
	while (n > 0 && q->iovcnt > 0) {
		size_t len = q->iov->iov_len;
		if (n >= len) {
			n -= len;
			q->iov++;
			q->iovcnt--;
		} else {
			q->iov->iov_base = (uint8_t *)q->iov->iov_base + n;
			q->iov->iov_len = len - n;
			n = 0;
		}
	}
	while (q->iovcnt > 0 && q->iov->iov_len == 0) {
		q->iov++;
		q->iovcnt--;
	}
	return q->iovcnt == 0;
}

void ur_send_pop(struct fnl_uring *e, struct fnl_conn *c)
{
	c->sq_head = (c->sq_head + 1) % e->cfg.sends_max;
	c->sq_count--;
}

void ur_send_next(struct fnl_uring *e, struct fnl_conn *c)
{
	int r;
	if (ur_tls_tx_user(c)) {
		r = ur_tls_pump(e, c);
		if (r < 0) {
			e->st.send_errors++;
			ur_start_close(e, c, r);
		}
		return;
	}
	if (c->state != S_CONNECTED || c->sq_count == 0)
		return;
	r = arm_send(e, c);
	if (r < 0) {
		e->st.send_errors++;
		ur_start_close(e, c, r);
	}
}

static void on_send(struct fnl_uring *e, struct fnl_conn *c, int res)
{
	struct fnl_send *q = &c->sendq[c->sq_head];
	int id = (int)conn_idx(e, c);

	if (ur_tls_tx_user(c)) {
		ur_on_send_tls(e, c, res);
		return;
	}

	c->send_armed = false;
	if (res > 0) {
		e->st.bytes_tx += (uint64_t)res;
		if (ur_send_advance(q, (size_t)res)) {
			ur_ev_emit(e, FNL_EV_SENT, id, 0, c->user, q->tag);
			e->st.sends++;
			ur_send_pop(e, c);
		} else {
			e->st.send_partials++;
		}
		ur_send_next(e, c);
		return;
	}
	if (c->state != S_CONNECTED)
		return; /* cancelled by a close: reported by drain_closed */
	if (ur_retryable(res)) {
		ur_send_next(e, c);
		return;
	}
	if (res == 0)
		res = -EPIPE;
	e->st.send_errors++;
	ur_ev_emit(e, FNL_EV_SENT, id, res, c->user, q->tag);
	ur_send_pop(e, c);
	ur_start_close(e, c, res);
}

/* ---- connect, watches, dispatch --------------------------------------- */

static void on_connect(struct fnl_uring *e, struct fnl_conn *c, int res)
{
	if (c->state != S_CONNECTING)
		return;
	if (res == 0) {
		c->state = S_CONNECTED;
		e->st.connects++;
		if (c->tls) { /* CONNECTED waits for the handshake (tls_hs_step) */
			int h = fnl_tls_handshake(c->tls), r = h < 0 ? h : ur_tls_pump(e, c);
			if (r < 0) {
				snprintf(c->why, sizeof(c->why), "%s", fnl_tls_why(c->tls));
				e->st.tls_failures++;
				ur_start_close(e, c, r);
				return;
			}
		} else {
			ur_ev_emit(e, FNL_EV_CONNECTED, (int)conn_idx(e, c), 0, c->user, 0);
		}
		rx_rearm(e, c);
		return;
	}
	if (res == -ECANCELED)
		res = -ETIMEDOUT; /* only the linked timeout cancels a live connect */
	e->st.conn_errors++;
	ur_start_close(e, c, res);
}

static void on_wake(struct fnl_uring *e, uint32_t i, int res)
{
	struct fnl_watch *w;
	if (i >= e->watch_count)
		return;
	w = &e->watches[i];
	w->armed = false;
	if (res == (int)sizeof(w->val)) {
		ur_ev_emit(e, FNL_EV_WAKE, -1, 0, w->user, w->val);
		arm_watch(e, i);
	} else if (res == -EAGAIN || res == -EINTR) {
		arm_watch(e, i);
	} else {
		w->stopped = true;
		ur_ev_emit(e, FNL_EV_WAKE, -1, res < 0 ? res : -EIO, w->user, 0);
	}
}

static void on_cqe(struct fnl_uring *e, uint64_t ud, int res, uint32_t flags)
{
	unsigned op = (unsigned)(ud & ((1u << UD_OP_BITS) - 1));
	uint32_t idx = (uint32_t)(ud >> UD_OP_BITS) & UD_IDX_MASK;
	uint32_t gen = (uint32_t)(ud >> 32);
	bool more = flags & IORING_CQE_F_MORE;
	int bid = -1;
	struct fnl_conn *c;

	if ((flags & IORING_CQE_F_BUFFER) && e->bufring &&
	    (flags >> IORING_CQE_BUFFER_SHIFT) < e->cfg.rx_bufs) {
		bid = (int)(flags >> IORING_CQE_BUFFER_SHIFT); /* ours until pb_give */
		e->pb_out++;
	}
	if (op == OP_CANCEL || op == OP_WAKE) {
		if (bid >= 0)
			pb_give(e, (uint16_t)bid);
		if (op == OP_WAKE)
			on_wake(e, idx, res);
		return;
	}
	c = idx < e->cfg.conns_max ? &e->conns[idx] : NULL;
	if (!c || c->state == S_FREE || c->gen != gen || c->inflight == 0) {
		if (bid >= 0)
			pb_give(e, (uint16_t)bid);
		e->st.stale_cqes++;
		return;
	}
	if (!more)
		c->inflight--; /* a multishot recv counts once, until its last CQE */
	if (op == OP_CONNECT)
		on_connect(e, c, res);
	else if (op == OP_RECV && e->bufring)
		on_recv_ring(e, c, res, more, bid);
	else if (op == OP_RECV)
		on_recv(e, c, res);
	else if (op == OP_SEND)
		on_send(e, c, res);
	if (c->state == S_CLOSING && c->inflight == 0)
		finish_close(e, c);
}

/* ---- poll --------------------------------------------------------------- */

static enum drain_res conn_drain(struct fnl_uring *e, struct fnl_conn *c)
{
	if (e->bufring) {
		enum drain_res r = rx_step(e, c);
		if (r != D_DONE || c->state != S_DRAINING)
			return r; /* CLOSING: finish_close queues it again */
		return drain_closed(e, c);
	}
	if (c->rx_parse && rx_parse(e, c) == D_BLOCKED)
		return D_BLOCKED;
	if (c->state == S_CONNECTED)
		return rx_arm(e, c);
	if (c->state == S_DRAINING)
		return drain_closed(e, c);
	return D_DONE; /* CLOSING: finish_close queues it again */
}

static void drain_pending(struct fnl_uring *e)
{
	uint32_t n = e->pend_count;
	while (n-- > 0 && ur_ev_room(e)) {
		struct fnl_conn *c = pending_pop(e);
		enum drain_res r = conn_drain(e, c);
		if (r != D_DONE)
			ur_pending_add(e, c);
		if (r == D_BLOCKED)
			break;
	}
}

static void reap(struct fnl_uring *e)
{
	struct io_uring_cqe *cqe;
	while (ur_ev_room(e) && io_uring_peek_cqe(&e->ring, &cqe) == 0) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		uint32_t flags = cqe->flags;
		io_uring_cqe_seen(&e->ring, cqe);
		on_cqe(e, ud, res, flags);
	}
}

/* Submit; wait for one completion when block (until deadline_ns, 0 = none). */
static int submit_wait(struct fnl_uring *e, bool block, int64_t deadline_ns)
{
	struct io_uring_cqe *cqe;
	int r;

	if (!block) {
		r = io_uring_submit_and_get_events(&e->ring);
	} else if (deadline_ns == 0) {
		r = io_uring_submit_and_wait(&e->ring, 1);
	} else {
		int64_t left = deadline_ns - fnl_now_ns();
		struct __kernel_timespec ts;
		if (left <= 0) {
			r = io_uring_submit_and_get_events(&e->ring);
		} else {
			ts.tv_sec = left / 1000000000LL;
			ts.tv_nsec = left % 1000000000LL;
			r = io_uring_submit_and_wait_timeout(&e->ring, &cqe, 1, &ts, NULL);
		}
	}
	if (r == -ETIME || r == -EINTR || r == -EAGAIN || r == -EBUSY)
		return 0;
	return r;
}

static int uring_poll(struct fnl_engine *base, struct fnl_event *ev, int max, int64_t wait_ns)
{
	struct fnl_uring *e = ur(base);
	int64_t deadline_ns = wait_ns > 0 ? fnl_now_ns() + wait_ns : 0;
	int r;

	if (!ev || max < 1)
		return -EINVAL;
	r = ring_enable(e);
	if (r < 0)
		return r;
	e->epoch++;
	e->ev = ev;
	e->ev_n = 0;
	e->ev_max = max;
	for (uint32_t i = 0; i < e->watch_count; i++)
		arm_watch(e, i);
	drain_pending(e);
	for (;;) {
		r = submit_wait(e, e->ev_n == 0 && wait_ns != 0, deadline_ns);
		if (r < 0)
			return e->ev_n > 0 ? e->ev_n : r;
		reap(e);
		if (e->ev_n == 0 && e->pend_count > 0)
			drain_pending(e); /* no frame is out: compaction is allowed */
		if (e->ev_n > 0 || wait_ns == 0)
			break;
		if (wait_ns > 0 && fnl_now_ns() >= deadline_ns)
			break;
	}
	/* Start what the handlers queued (re-armed recvs, next sends) while the
	 * caller works on the events. */
	if (io_uring_sq_ready(&e->ring) > 0)
		io_uring_submit(&e->ring);
	return e->ev_n;
}

/* ---- public: connections -------------------------------------------------- */

static int conn_socket(const struct sockaddr *sa)
{
	int one = 1;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void conn_reset(struct fnl_conn *c, int fd, uint64_t user)
{
	c->state = S_CONNECTING;
	c->recv_armed = c->send_armed = c->rx_parse = c->user_closed = false;
	c->recv_stopping = c->rx_nobufs = false;
	c->rx_end = 0;
	c->held_n = c->held_off = 0;
	c->fd = fd;
	c->close_res = 0;
	c->inflight = 0;
	c->user = user;
	c->rx_epoch = 0;
	c->rx_head = c->rx_tail = 0;
	c->sq_head = c->sq_count = 0;
	fnl_tls_conn_free(c->tls); /* the slot's previous connection's */
	c->tls = NULL;
	c->tls_up = c->tls_q_done = c->tls_rx_full = false;
	c->tls_path_set = c->ktls_tx = c->ktls_rx = false;
	c->why[0] = '\0';
}

static void conn_prep_connect(struct fnl_uring *e, struct fnl_conn *c, socklen_t salen,
                              int64_t timeout_ms)
{
	uint32_t idx = conn_idx(e, c);
	struct io_uring_sqe *s = io_uring_get_sqe(&e->ring);

	io_uring_prep_connect(s, c->fd, (struct sockaddr *)&c->addr, salen);
	io_uring_sqe_set_data64(s, ud_make(OP_CONNECT, idx, c->gen));
	c->inflight++;
	if (timeout_ms <= 0)
		return;
	s->flags |= IOSQE_IO_LINK;
	c->connect_ts.tv_sec = timeout_ms / 1000;
	c->connect_ts.tv_nsec = (timeout_ms % 1000) * 1000000LL;
	s = io_uring_get_sqe(&e->ring);
	io_uring_prep_link_timeout(s, &c->connect_ts, 0);
	io_uring_sqe_set_data64(s, ud_make(OP_TIMEOUT, idx, c->gen));
	c->inflight++;
}

static int uring_conn_open(struct fnl_engine *base, const struct sockaddr *sa, socklen_t salen,
                           int64_t timeout_ms, uint64_t user)
{
	struct fnl_uring *e = ur(base);
	struct fnl_conn *c;
	int fd;

	if (!sa || salen < (socklen_t)sizeof(sa_family_t) ||
	    salen > (socklen_t)sizeof(struct sockaddr_storage))
		return -EINVAL;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EINVAL;
	if (e->free_count == 0)
		return -EMFILE;
	c = &e->conns[e->free_stack[e->free_count - 1]];
	if (!c->rx) {
		c->rx = malloc(e->rx_cap);
		if (!c->rx)
			return -ENOMEM;
	}
	/* connect and its linked timeout must go in one submission */
	if (io_uring_sq_space_left(&e->ring) < 2) {
		if (ring_enable(e) == 0)
			io_uring_submit(&e->ring);
		if (e->ring.flags & IORING_SETUP_SQPOLL)
			io_uring_sqring_wait(&e->ring);
		if (io_uring_sq_space_left(&e->ring) < 2)
			return -EBUSY;
	}
	fd = conn_socket(sa);
	if (fd < 0)
		return fd;
	e->free_count--;
	conn_reset(c, fd, user);
	memcpy(&c->addr, sa, salen);
	conn_prep_connect(e, c, salen, timeout_ms);
	return (int)conn_idx(e, c);
}

static int uring_conn_send(struct fnl_engine *base, int conn, struct iovec *iov, int iovcnt,
                           uint64_t tag)
{
	struct fnl_uring *e = ur(base);
	struct fnl_conn *c;
	struct fnl_send *q;
	size_t total = 0;
	int r;

	if (conn < 0 || (uint32_t)conn >= e->cfg.conns_max)
		return -ENOTCONN;
	c = &e->conns[conn];
	if (c->state != S_CONNECTED || (c->tls && !c->tls_up))
		return -ENOTCONN;
	if (!iov || iovcnt < 1 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total == 0)
		return -EINVAL;
	if (c->sq_count == e->cfg.sends_max)
		return -ENOBUFS;
	q = &c->sendq[(c->sq_head + c->sq_count) % e->cfg.sends_max];
	q->iov = iov;
	q->iovcnt = iovcnt;
	q->tag = tag;
	ur_send_advance(q, 0); /* skip leading empty entries */
	c->sq_count++;
	if (c->send_armed)
		return 0;
	r = ur_tls_tx_user(c) ? ur_tls_pump(e, c) : arm_send(e, c);
	if (r < 0)
		c->sq_count--;
	return r;
}

static void uring_conn_close(struct fnl_engine *base, int conn)
{
	struct fnl_uring *e = ur(base);
	struct fnl_conn *c;
	if (conn < 0 || (uint32_t)conn >= e->cfg.conns_max)
		return;
	c = &e->conns[conn];
	if (c->state != S_CONNECTING && c->state != S_CONNECTED)
		return;
	c->user_closed = true;
	c->rx_head = c->rx_tail = 0;
	c->rx_parse = false;
	ur_held_drop(e, c);
	ur_start_close(e, c, 0);
}

static int uring_watch_eventfd(struct fnl_engine *base, int efd, uint64_t user)
{
	struct fnl_uring *e = ur(base);
	struct fnl_watch *w;
	if (efd < 0)
		return -EBADF;
	if (e->watch_count == FNL_ENGINE_WATCHES_MAX)
		return -ENOSPC;
	w = &e->watches[e->watch_count];
	*w = (struct fnl_watch){.fd = efd, .user = user};
	arm_watch(e, e->watch_count);
	return (int)e->watch_count++;
}

/* ---- public: engine ------------------------------------------------------- */

static bool cfg_valid(const struct fnl_engine_cfg *c)
{
	return c->sq_entries >= 8 && c->sq_entries <= SQ_ENTRIES_LIMIT && c->conns_max >= 1 &&
	       c->conns_max <= CONNS_LIMIT && c->rx_bytes_max >= 1 &&
	       c->rx_bytes_max <= RX_BYTES_LIMIT && c->sends_max >= 8 &&
	       c->sends_max <= SENDS_LIMIT &&
	       (c->rx_direct || (c->rx_bufs >= 1 && c->rx_bufs <= RX_BUFS_LIMIT &&
	                         (c->rx_bufs & (c->rx_bufs - 1)) == 0 && c->rx_buf_bytes >= 1 &&
	                         c->rx_buf_bytes <= RX_BUF_LIMIT));
}

static void rxring_release(struct fnl_uring *e)
{
	if (e->br)
		munmap(e->br, e->br_bytes);
	free(e->pb_mem);
	free(e->pb_len);
	free(e->pb_next);
	e->br = NULL;
	e->pb_mem = NULL;
	e->pb_len = NULL;
	e->pb_next = NULL;
}

/* Does this kernel run a multishot recv on provided buffers (6.0+)? Tried on a
 * throwaway ring (the engine's own is disabled until its thread submits): one
 * byte through a socketpair must come back with a buffer and F_MORE. */
static bool multishot_recv_works(void)
{
	static uint8_t buf[64];
	struct io_uring r;
	struct io_uring_buf_reg reg;
	struct io_uring_buf_ring *br;
	struct io_uring_sqe *s;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 0};
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int sv[2] = {-1, -1};
	bool ok = false;

	if (io_uring_queue_init(4, &r, 0) < 0)
		return false;
	br = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED) {
		io_uring_queue_exit(&r);
		return false;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	reg.ring_entries = 1;
	reg.bgid = RX_BGID;
	if (io_uring_register_buf_ring(&r, &reg, 0) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto out;
	io_uring_buf_ring_init(br);
	io_uring_buf_ring_add(br, buf, sizeof(buf), 0, io_uring_buf_ring_mask(1), 0);
	io_uring_buf_ring_advance(br, 1);
	if (write(sv[1], "x", 1) != 1 || (s = io_uring_get_sqe(&r)) == NULL)
		goto out;
	io_uring_prep_recv_multishot(s, sv[0], NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = RX_BGID;
	if (io_uring_submit(&r) != 1 || io_uring_wait_cqe_timeout(&r, &cqe, &ts) < 0)
		goto out;
	ok =
	    cqe->res == 1 && (cqe->flags & IORING_CQE_F_BUFFER) && (cqe->flags & IORING_CQE_F_MORE);
out:
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	io_uring_queue_exit(&r); /* no buffer is left in its ring: nothing can be written */
	munmap(br, page);
	return ok;
}

/* Allocate the provided buffers and register them as group RX_BGID. -ENOMEM,
 * or another -errno when the kernel cannot receive this way (old kernel:
 * fall back to the direct recv). */
static int rxring_init(struct fnl_uring *e)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t n = e->cfg.rx_bufs;
	struct io_uring_buf_reg reg;
	int r;

	e->br_bytes = ((size_t)n * sizeof(struct io_uring_buf) + page - 1) / page * page;
	e->br = mmap(NULL, e->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->br == MAP_FAILED) {
		e->br = NULL;
		return -ENOMEM;
	}
	e->pb_mem = malloc((size_t)n * e->cfg.rx_buf_bytes);
	e->pb_len = calloc(n, sizeof(*e->pb_len));
	e->pb_next = calloc(n, sizeof(*e->pb_next));
	if (!e->pb_mem || !e->pb_len || !e->pb_next)
		return -ENOMEM;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)e->br;
	reg.ring_entries = n;
	reg.bgid = RX_BGID;
	r = io_uring_register_buf_ring(&e->ring, &reg, 0);
	if (r < 0)
		return r;
	if (!multishot_recv_works()) {
		io_uring_unregister_buf_ring(&e->ring, RX_BGID);
		return -EOPNOTSUPP;
	}
	io_uring_buf_ring_init(e->br);
	for (uint32_t i = 0; i < n; i++)
		io_uring_buf_ring_add(e->br, e->pb_mem + (size_t)i * e->cfg.rx_buf_bytes,
		                      e->cfg.rx_buf_bytes, (uint16_t)i, io_uring_buf_ring_mask(n),
		                      (int)i);
	io_uring_buf_ring_advance(e->br, (int)n);
	e->bufring = true;
	return 0;
}

static void engine_release(struct fnl_uring *e)
{
	if (e->conns) {
		for (uint32_t i = 0; i < e->cfg.conns_max; i++) {
			if (e->conns[i].fd >= 0)
				close(e->conns[i].fd);
			free(e->conns[i].rx);
			fnl_tls_conn_free(e->conns[i].tls);
		}
	}
	free(e->conns);
	free(e->sendq);
	free(e->free_stack);
	free(e->pending);
	rxring_release(e);
	free(e);
}

static void uring_free(struct fnl_engine *base);
static void uring_stats(const struct fnl_engine *base, struct fnl_engine_stats *out);

static const struct fnl_engine_ops uring_ops = {
    .name = "uring",
    .free = uring_free,
    .conn_open = uring_conn_open,
    .conn_tls = ur_conn_tls,
    .conn_why = ur_conn_why,
    .conn_send = uring_conn_send,
    .conn_close = uring_conn_close,
    .watch_eventfd = uring_watch_eventfd,
    .poll = uring_poll,
    .stats = uring_stats,
};

int fnl_uring_new(const struct fnl_engine_cfg *cfg, struct fnl_engine **out)
{
	struct fnl_uring *e;
	uint32_t n;
	int r;

	if (!cfg || !out || !cfg_valid(cfg))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->base.ops = &uring_ops;
	e->cfg = *cfg;
	n = cfg->conns_max;
	e->rx_cap = cfg->rx_bytes_max + 4;
	e->conns = calloc(n, sizeof(*e->conns));
	e->sendq = calloc((size_t)n * cfg->sends_max, sizeof(*e->sendq));
	e->free_stack = calloc(n, sizeof(*e->free_stack));
	e->pending = calloc(n, sizeof(*e->pending));
	if (!e->conns || !e->sendq || !e->free_stack || !e->pending) {
		engine_release(e);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		e->conns[i].fd = -1;
		e->conns[i].sendq = &e->sendq[(size_t)i * cfg->sends_max];
		e->free_stack[i] = n - 1 - i; /* slot 0 is handed out first */
	}
	e->free_count = n;
	for (uint32_t i = 0; i < FNL_ENGINE_WATCHES_MAX; i++)
		e->watches[i].fd = -1;
	r = ring_init(e);
	if (r < 0) {
		engine_release(e);
		return r;
	}
	/* decided once: provided buffers + multishot recv, or the direct recv */
	r = cfg->rx_direct ? -EOPNOTSUPP : rxring_init(e);
	if (r == -ENOMEM) {
		io_uring_queue_exit(&e->ring);
		engine_release(e);
		return r;
	}
	if (r < 0)
		rxring_release(e);
	e->st.rx_bufring = e->bufring;
	*out = &e->base;
	return 0;
}

static uint32_t busy_ops(const struct fnl_uring *e)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->cfg.conns_max; i++)
		n += e->conns[i].inflight;
	for (uint32_t i = 0; i < e->watch_count; i++)
		n += e->watches[i].armed;
	return n;
}

/* Cancel everything and reap, without events, until the kernel holds no buffer. */
static void engine_quiesce(struct fnl_uring *e)
{
	int64_t deadline_ns = fnl_now_ns() + FREE_WAIT_NS;
	struct io_uring_sqe *s;
	struct io_uring_cqe *cqe;

	for (uint32_t i = 0; i < e->cfg.conns_max; i++) {
		struct fnl_conn *c = &e->conns[i];
		if (c->fd >= 0 && c->inflight > 0 && (s = ur_sqe_get(e)) != NULL) {
			shutdown(c->fd, SHUT_RDWR);
			io_uring_prep_cancel_fd(s, c->fd, IORING_ASYNC_CANCEL_ALL);
			io_uring_sqe_set_data64(s, ud_make(OP_CANCEL, i, c->gen));
		}
	}
	for (uint32_t i = 0; i < e->watch_count; i++) {
		if (e->watches[i].armed && (s = ur_sqe_get(e)) != NULL) {
			io_uring_prep_cancel64(s, ud_make(OP_WAKE, i, 0), 0);
			io_uring_sqe_set_data64(s, ud_make(OP_CANCEL, 0, 0));
		}
	}
	while (busy_ops(e) > 0 && fnl_now_ns() < deadline_ns) {
		struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10000000};
		int r = io_uring_submit_and_wait_timeout(&e->ring, &cqe, 1, &ts, NULL);
		if (r == -EEXIST)
			break; /* not the bound thread: the ring's exit cancels instead */
		while (io_uring_peek_cqe(&e->ring, &cqe) == 0) {
			uint64_t ud = cqe->user_data;
			unsigned op = (unsigned)(ud & ((1u << UD_OP_BITS) - 1));
			uint32_t idx = (uint32_t)(ud >> UD_OP_BITS) & UD_IDX_MASK;
			bool more = cqe->flags & IORING_CQE_F_MORE;
			io_uring_cqe_seen(&e->ring, cqe);
			if (op == OP_WAKE && idx < e->watch_count)
				e->watches[idx].armed = false;
			else if (op != OP_CANCEL && op != OP_WAKE && !more &&
			         idx < e->cfg.conns_max &&
			         e->conns[idx].gen == (uint32_t)(ud >> 32) &&
			         e->conns[idx].inflight > 0)
				e->conns[idx].inflight--;
		}
	}
}

static void uring_free(struct fnl_engine *base)
{
	struct fnl_uring *e = ur(base);
	if (e->enabled)
		engine_quiesce(e);
	if (e->bufring) /* -EEXIST off the bound thread: the ring's exit drops it */
		io_uring_unregister_buf_ring(&e->ring, RX_BGID);
	io_uring_queue_exit(&e->ring);
	engine_release(e);
}

static void uring_stats(const struct fnl_engine *base, struct fnl_engine_stats *out)
{
	const struct fnl_uring *e = ur_c(base);
	*out = e->st;
}
