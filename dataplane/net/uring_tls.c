/* uring_tls.c - TLS on the io_uring engine's connections (user-space: OpenSSL
 * through a BIO pair, dataplane/net/tls.h). */
#include "dataplane/net/uring_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- TLS: ciphertext on the socket, plaintext to and from the caller ------
 *
 * The handshake starts when the TCP connect completes (on_connect) and runs
 * in rx_step (tls_hs_step) as the peer's bytes come in; FNL_EV_CONNECTED is
 * emitted when it is done. Received buffers are fed to the TLS pair
 * (tls_fill) and decrypted into rx, where frames are cut as on a plain
 * connection. Sends: the head send's iovecs are gathered into e->tls_stage a
 * record at a time and encrypted into the pair, whose outgoing buffer (fixed
 * at connection set-up) is sent as is by one IORING_OP_SEND at a time; the
 * head's FNL_EV_SENT comes with the completion of the send that emptied the
 * pair after its last plaintext byte was encrypted. */

int ur_conn_tls(struct fnl_engine *base, int conn, struct fnl_tls_ctx *ctx, const char *host)
{
	struct fnl_uring *e = ur(base);
	struct fnl_conn *c;
	if (!e || !ctx || !host || conn < 0 || (uint32_t)conn >= e->cfg.conns_max)
		return -EINVAL;
	c = &e->conns[conn];
	if (c->state != S_CONNECTING || c->tls)
		return -EINVAL;
	if (!e->bufring)
		return -EOPNOTSUPP; /* the direct receive path does not decrypt (yet) */
	return fnl_tls_conn_new(ctx, host, &c->tls);
}

const char *ur_conn_why(const struct fnl_engine *base, int conn)
{
	const struct fnl_uring *e = ur_c(base);
	if (!e || conn < 0 || (uint32_t)conn >= e->cfg.conns_max)
		return "";
	return e->conns[conn].why;
}

/* Encrypt more of the head send (whole records while the pair has room). */
static int tls_encrypt(struct fnl_uring *e, struct fnl_conn *c)
{
	while (c->tls_up && c->sq_count > 0 && !c->tls_q_done && fnl_tls_can_write(c->tls)) {
		struct fnl_send *q = &c->sendq[c->sq_head];
		size_t n = 0;
		int w;
		while (q->iovcnt > 0 && n < sizeof(e->tls_stage)) {
			size_t k = q->iov->iov_len;
			if (k > sizeof(e->tls_stage) - n)
				k = sizeof(e->tls_stage) - n;
			memcpy(e->tls_stage + n, q->iov->iov_base, k);
			n += k;
			ur_send_advance(q, k);
		}
		w = fnl_tls_write(c->tls, e->tls_stage, n);
		if (w != (int)n) {
			snprintf(c->why, sizeof(c->why), "%s", fnl_tls_why(c->tls));
			return w < 0 ? w : -EPROTO;
		}
		c->tls_q_done = q->iovcnt == 0;
	}
	return 0;
}

/* Send what the pair holds (one send in flight). 0, -EBUSY (no SQE: retried
 * by the caller's error path) or a TLS error. */
int ur_tls_pump(struct fnl_uring *e, struct fnl_conn *c)
{
	const uint8_t *p;
	size_t n;
	struct io_uring_sqe *s;
	int r;
	if (c->send_armed || c->state != S_CONNECTED)
		return 0;
	r = tls_encrypt(e, c);
	if (r < 0)
		return r;
	n = fnl_tls_out(c->tls, &p);
	if (n == 0)
		return 0;
	s = ur_sqe_get(e);
	if (!s)
		return -EBUSY;
	io_uring_prep_send(s, c->fd, p, n, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(s, ud_make(OP_SEND, conn_idx(e, c), c->gen));
	c->send_armed = true;
	c->inflight++;
	return 0;
}

void ur_on_send_tls(struct fnl_uring *e, struct fnl_conn *c, int res)
{
	const uint8_t *p;
	int id = (int)conn_idx(e, c), r;

	c->send_armed = false;
	if (c->state != S_CONNECTED)
		return; /* cancelled by a close: reported by drain_closed */
	if (res > 0) {
		e->st.bytes_tx += (uint64_t)res;
		fnl_tls_out_done(c->tls, (size_t)res);
		if (c->sq_count > 0 && c->tls_q_done && fnl_tls_out(c->tls, &p) == 0) {
			ur_ev_emit(e, FNL_EV_SENT, id, 0, c->user, c->sendq[c->sq_head].tag);
			e->st.sends++;
			ur_send_pop(e, c);
			c->tls_q_done = false;
		}
		ur_send_next(e, c);
		return;
	}
	if (ur_retryable(res)) {
		ur_send_next(e, c);
		return;
	}
	r = res == 0 ? -EPIPE : res;
	e->st.send_errors++;
	if (c->sq_count > 0) {
		ur_ev_emit(e, FNL_EV_SENT, id, r, c->user, c->sendq[c->sq_head].tag);
		ur_send_pop(e, c);
	}
	ur_start_close(e, c, r);
}

/* Feed held buffers to the pair (as much as fits). */
static bool tls_feed_held(struct fnl_uring *e, struct fnl_conn *c)
{
	bool moved = false;
	while (c->held_n > 0) {
		uint16_t bid = c->held_head;
		uint32_t avail = e->pb_len[bid] - c->held_off;
		size_t k = fnl_tls_feed(
		    c->tls, e->pb_mem + (size_t)bid * e->cfg.rx_buf_bytes + c->held_off, avail);
		if (k == 0)
			break;
		moved = true;
		c->held_off += (uint32_t)k;
		if (k < avail)
			break;
		ur_held_pop(e, c);
	}
	return moved;
}

/* Handshake progress; emits CONNECTED when done. */
enum drain_res ur_tls_hs_step(struct fnl_uring *e, struct fnl_conn *c)
{
	int h, r;
	tls_feed_held(e, c);
	h = fnl_tls_handshake(c->tls);
	r = h < 0 ? h : ur_tls_pump(e, c);
	if (r < 0) {
		snprintf(c->why, sizeof(c->why), "%s", fnl_tls_why(c->tls));
		e->st.tls_failures++;
		c->rx_head = c->rx_tail = 0;
		ur_held_drop(e, c);
		ur_start_close(e, c, r);
		return D_DONE;
	}
	if (h == 0)
		return D_DONE;
	if (!ur_ev_room(e))
		return D_BLOCKED;
	snprintf(c->why, sizeof(c->why), "%s", fnl_tls_why(c->tls)); /* version, cipher */
	c->tls_up = true;
	e->st.tls_handshakes++;
	ur_ev_emit(e, FNL_EV_CONNECTED, (int)conn_idx(e, c), 0, c->user, 0);
	return D_DONE;
}

/* rx_fill for TLS: decrypt into rx, feeding held ciphertext as needed. */
bool ur_tls_fill(struct fnl_uring *e, struct fnl_conn *c)
{
	bool moved = false;
	c->tls_rx_full = false;
	if (!c->tls_up)
		return tls_feed_held(e, c);
	for (;;) {
		uint32_t room;
		int r;
		if (c->rx_head == c->rx_tail && c->rx_head > 0 && c->rx_epoch != e->epoch)
			ur_rx_compact(c);
		room = e->rx_cap - c->rx_tail;
		if (room < FNL_TLS_RECORD && c->rx_head > 0 && c->rx_epoch != e->epoch) {
			ur_rx_compact(c);
			room = e->rx_cap - c->rx_tail;
		}
		if (room == 0) {
			c->tls_rx_full = true;
			break;
		}
		if (c->rx_end)
			break; /* the session already failed: keep its first cause */
		r = fnl_tls_read(c->tls, c->rx + c->rx_tail, room);
		if (r > 0) {
			c->rx_tail += (uint32_t)r;
			c->rx_parse = true;
			moved = true;
			continue;
		}
		if (r < 0) {
			snprintf(c->why, sizeof(c->why), "%s", fnl_tls_why(c->tls));
			if (!c->rx_end)
				c->rx_end = r;
			ur_held_drop(e, c);
			break;
		}
		if (!tls_feed_held(e, c))
			break;
		moved = true;
	}
	/* reading may have produced output (a KeyUpdate answer, an alert) */
	if (!c->send_armed && fnl_tls_out(c->tls, &(const uint8_t *){NULL}) > 0 &&
	    ur_tls_pump(e, c) < 0 && !c->rx_end)
		c->rx_end = -EPROTO;
	return moved;
}