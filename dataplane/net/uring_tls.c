/* uring_tls.c - TLS on the io_uring engine's connections: the handshake in
 * user space (OpenSSL through a BIO pair, dataplane/net/tls.h), then the
 * record layer in user space or, where the kernel takes it, in the kernel
 * (funnel.ssl.ktls). */
#include "dataplane/net/uring_int.h"

#include <errno.h>
#include <linux/tls.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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
 * pair after its last plaintext byte was encrypted.
 *
 * Kernel TLS (tls_path, once per connection, after the handshake and before
 * CONNECTED): with funnel.ssl.ktls != off the engine waits until OpenSSL's
 * last handshake bytes (the client Finished) have left the pair and their
 * send has completed, so no byte OpenSSL encrypted can reach the socket after
 * the kernel starts encrypting; then fnl_tls_ktls_start. Success with TX
 * (ktls_tx): sends take the plaintext path (sendmsg of the caller's iovecs,
 * never SEND_ZC: kTLS refuses it) and the kernel cuts records. With RX too
 * (ktls_rx, TLS 1.2 only, and only when no ciphertext was already received
 * past the handshake): the multishot recv's buffers hold plaintext, copied to
 * rx as on a plain connection. A non-data record (alert, renegotiation) ends
 * that recv with -EIO (a plain recv has no room for the record-type cmsg):
 * the record is then read once with recvmsg and a cmsg buffer to say what it
 * was (close_notify: -ECONNRESET, as in user space; else -EPROTO); a record
 * the kernel cannot decrypt ends it with -EBADMSG (-EPROTO). Either way the
 * connection closes with a reason and the sender reconnects. TX only
 * (TLS 1.3): OpenSSL still decrypts; any output it then produces (an answer
 * to a KeyUpdate, an alert) cannot be sent with OpenSSL's stale send state,
 * so the connection closes (a reconnect, nothing lost). The per-connection
 * path is in fnl_conn_why and counted in stats (tls_user, ktls_tx, ktls_rx).
 */

int ur_conn_tls(struct fnl_engine *base, int conn, struct fnl_tls_ctx *ctx, const char *host)
{
	struct fnl_uring *e = ur(base);
	struct fnl_conn *c;
	if (!ctx || !host || conn < 0 || (uint32_t)conn >= e->cfg.conns_max)
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
	if (conn < 0 || (uint32_t)conn >= e->cfg.conns_max)
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
		if (!c->tls_up)
			ur_pending_add(e, c); /* the handshake's bytes are out: tls_path */
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

/* After the handshake: kernel TLS where funnel.ssl.ktls asks and the kernel
 * takes it, else user space; c->why says which. 0, or -errno to close. */
static int tls_path(struct fnl_uring *e, struct fnl_conn *c)
{
	char hs[64];
	int mode = fnl_tls_ktls_mode(c->tls), r;
	bool rx_ok = c->held_n == 0 && !fnl_tls_rx_buffered(c->tls);

	snprintf(hs, sizeof(hs), "%.63s", fnl_tls_why(c->tls)); /* version, cipher */
	c->tls_path_set = true;
	if (mode == FNL_KTLS_OFF) {
		e->st.tls_user++;
		snprintf(c->why, sizeof(c->why), "%s, TLS in user space (funnel.ssl.ktls=off)", hs);
		return 0;
	}
	r = fnl_tls_ktls_start(c->tls, c->fd, rx_ok);
	if (r < 0 && (mode == FNL_KTLS_REQUIRED || r == -ENOTRECOVERABLE)) {
		snprintf(c->why, sizeof(c->why), "funnel.ssl.ktls=%s: %.150s",
		         mode == FNL_KTLS_REQUIRED ? "required" : "auto", fnl_tls_why(c->tls));
		return -EPROTO; /* reported like any TLS failure (sender: /health, log) */
	}
	if (r < 0) {
		e->st.tls_user++;
		snprintf(c->why, sizeof(c->why), "%s, TLS in user space (%.100s)", hs,
		         fnl_tls_why(c->tls));
		return 0;
	}
	c->ktls_tx = true;
	e->st.ktls_tx++;
	if (r & FNL_KTLS_RX) {
		c->ktls_rx = true;
		e->st.ktls_rx++;
		snprintf(c->why, sizeof(c->why), "%s, kernel TLS for sends and receives", hs);
	} else {
		snprintf(c->why, sizeof(c->why),
		         "%s, kernel TLS for sends, receives in user space (%s)", hs,
		         fnl_tls_is13(c->tls) ? "TLS 1.3"
		         : !rx_ok             ? "bytes already received past the handshake"
		                              : "the kernel refused TLS_RX");
	}
	return 0;
}

static enum drain_res hs_fail(struct fnl_uring *e, struct fnl_conn *c, int r)
{
	e->st.tls_failures++;
	c->rx_head = c->rx_tail = 0;
	ur_held_drop(e, c);
	ur_start_close(e, c, r);
	return D_DONE;
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
		return hs_fail(e, c, r);
	}
	if (h == 0)
		return D_DONE;
	if (!c->tls_path_set) {
		/* kernel TLS: OpenSSL's last bytes must be on the wire first; the
		 * send's completion (ur_on_send_tls) brings the connection back */
		if (fnl_tls_ktls_mode(c->tls) != FNL_KTLS_OFF &&
		    (c->send_armed || fnl_tls_out(c->tls, &(const uint8_t *){NULL}) > 0))
			return D_DONE;
		r = tls_path(e, c);
		if (r < 0)
			return hs_fail(e, c, r);
	}
	if (!ur_ev_room(e))
		return D_BLOCKED;
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
	if (c->ktls_tx && fnl_tls_owes_output(c->tls)) {
		if (!c->rx_end) {
			snprintf(c->why, sizeof(c->why),
			         "the broker's TLS peer needs an answer (a TLS 1.3 KeyUpdate or an "
			         "alert) that OpenSSL cannot send while the kernel encrypts: "
			         "reconnecting");
			c->rx_end = -EPROTO;
		}
		ur_held_drop(e, c);
	} else if (!c->ktls_tx && !c->send_armed &&
	           fnl_tls_out(c->tls, &(const uint8_t *){NULL}) > 0 && ur_tls_pump(e, c) < 0 &&
	           !c->rx_end) {
		c->rx_end = -EPROTO;
	}
	return moved;
}

/* The record that ended a kernel-TLS receive with -EIO: read once, without
 * waiting, with room for its TLS_GET_RECORD_TYPE cmsg (one syscall as the
 * connection ends, never per record). Sets why; the close's result. */
static int ktls_non_data(struct fnl_conn *c)
{
	uint8_t body[64];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(uint8_t))];
	} ctl;
	struct iovec iov = {.iov_base = body, .iov_len = sizeof(body)};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *h;
	int type = -1;
	ssize_t n = recvmsg(c->fd, &m, MSG_DONTWAIT);

	h = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (h && h->cmsg_level == SOL_TLS && h->cmsg_type == TLS_GET_RECORD_TYPE)
		type = *CMSG_DATA(h);
	if (type == 21 && n >= 2 && body[1] == 0) { /* alert: level, description */
		snprintf(c->why, sizeof(c->why), "peer closed the TLS session (close_notify)");
		return -ECONNRESET;
	}
	if (type == 21 && n >= 2)
		snprintf(c->why, sizeof(c->why), "TLS alert %u from the peer (kernel TLS)",
		         body[1]);
	else if (type == 22)
		snprintf(c->why, sizeof(c->why),
		         "kernel TLS: the peer sent a handshake message (renegotiation), which "
		         "kernel TLS cannot follow: reconnecting");
	else
		snprintf(c->why, sizeof(c->why),
		         "kernel TLS: a record that is not application data (type %d) arrived: "
		         "reconnecting",
		         type);
	return -EPROTO;
}

/* A kernel-TLS receive's end (the multishot recv's last CQE, res < 0): a
 * non-data record (-EIO: an alert, or a renegotiation) is read to say which
 * (close_notify becomes -ECONNRESET as in user-space TLS); a record the
 * kernel could not decrypt (-EBADMSG: corrupt; kernel receive is TLS 1.2
 * only, so never a KeyUpdate) -EPROTO. */
void ur_ktls_rx_end(struct fnl_uring *e, struct fnl_conn *c, int res)
{
	if (res == -EIO) {
		c->rx_end = ktls_non_data(c);
	} else if (res == -EBADMSG) {
		c->rx_end = -EPROTO;
		snprintf(c->why, sizeof(c->why),
		         "kernel TLS could not decrypt a record (corrupt): reconnecting");
	} else {
		return;
	}
	if (c->rx_end == -EPROTO)
		e->st.tls_failures++;
}
