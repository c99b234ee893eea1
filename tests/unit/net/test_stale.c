/* test_stale.c - white-box: a completion carrying an old generation, or for
 * a free slot, is dropped after the slot is reused; on the buffer ring path a
 * dropped completion gives its provided buffer back, and a connection that
 * found the ring dry while every buffer was held waits and is woken. Includes
 * uring.c to reach its static dispatcher (this binary does not link
 * fnl_net_lib); ur(e) is the io_uring engine behind the handle. */
#include "dataplane/net/uring.c"

#include "netutil.h"

static void check_drop(struct fnl_engine *e, uint64_t ud, int res, uint64_t stale_before)
{
	struct fnl_event ev[4];
	struct fnl_engine_stats st;
	ur(e)->ev = ev;
	ur(e)->ev_n = 0;
	ur(e)->ev_max = 4;
	on_cqe(ur(e), ud, res, 0);
	CHECK_EQ(ur(e)->ev_n, 0);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.stale_cqes, stale_before + 1);
}

/* Ring path: a real data CQE (it names a buffer the kernel took) taken off
 * the CQ and dispatched with an old generation is dropped and its buffer given
 * back; the multishot goes on and delivers the next frame. */
static void test_stale_buffer(void)
{
	struct fnl_engine_cfg cfg;
	struct fnl_engine *e = NULL;
	struct fnl_engine_stats st;
	struct sockaddr_in sa;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_sec = 2, .tv_nsec = 0};
	struct fnl_event evs[4], ev;
	const uint8_t ok[] = {0, 0, 0, 2, 'o', 'k'};
	uint64_t ud;
	uint32_t flags, inflight;
	int res, lfd, fd, id;
	struct fnl_conn *c;

	nt_cfg(&cfg);
	cfg.conns_max = 8;
	CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
	if (!ur(e)->bufring) {
		fnl_engine_free(e);
		return;
	}
	lfd = nt_listen(&sa, 4);
	id = nt_connect(e, &sa, 7);
	c = &ur(e)->conns[id];
	fd = accept(lfd, NULL, NULL);
	CHECK(fd >= 0);
	CHECK(nt_write_all(fd, "xyz", 3));
	ur(e)->ev = evs;
	ur(e)->ev_n = 0;
	ur(e)->ev_max = 4;
	for (;;) { /* others (the connect's link timeout) are dispatched as usual */
		CHECK_EQ(io_uring_wait_cqe_timeout(&ur(e)->ring, &cqe, &ts), 0);
		ud = cqe->user_data;
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(&ur(e)->ring, cqe);
		if (ud == ud_make(OP_RECV, (uint32_t)id, c->gen))
			break;
		on_cqe(ur(e), ud, res, flags);
	}
	CHECK_EQ(ur(e)->ev_n, 0);
	CHECK_EQ(res, 3);
	CHECK(flags & IORING_CQE_F_BUFFER);
	CHECK(flags & IORING_CQE_F_MORE);
	inflight = c->inflight;
	on_cqe(ur(e), ud_make(OP_RECV, (uint32_t)id, c->gen - 1), res, flags);
	CHECK_EQ(ur(e)->ev_n, 0);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.stale_cqes, 1);
	CHECK_EQ(ur(e)->pb_out, 0);
	CHECK_EQ(c->held_n, 0);
	CHECK_EQ(c->inflight, inflight);
	CHECK(c->recv_armed);
	CHECK(nt_write_all(fd, ok, sizeof(ok)));
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_FRAME);
	CHECK_EQ(ev.frame_len, 2);
	CHECK_MEM(ev.frame, "ok", 2);
	fnl_conn_close(e, id);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ur(e)->pb_out, 0);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.recv_arms, 1);
	close(fd);
	close(lfd);
	fnl_engine_free(e);
}

struct writer {
	int lfd;
	pthread_t th;
	const uint8_t *blob;
	size_t len;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t b;
	int fd = accept(w->lfd, NULL, NULL);
	CHECK(fd >= 0);
	CHECK(nt_write_all(fd, w->blob, w->len));
	while (read(fd, &b, 1) > 0)
		;
	close(fd);
	return NULL;
}

/* Ring path, 2 buffers of 256 bytes, a 104-byte rx buffer, 12 KiB queued in
 * the socket before the first poll: the multishot fills both buffers and ends
 * -ENOBUFS while both are held, so the connection waits (rx_nobufs) until one
 * is given back, then resumes; all frames arrive; nothing stays held. */
static void test_waiter(void)
{
	enum { COUNT = 240 };
	struct fnl_engine_cfg cfg;
	struct fnl_engine *e = NULL;
	struct fnl_engine_stats st;
	struct sockaddr_in sa;
	struct writer w;
	static uint8_t blob[COUNT * 104];
	size_t off = 0;
	uint32_t got = 0, waited = 0, held_max = 0;
	int id;

	nt_cfg(&cfg);
	cfg.conns_max = 8;
	cfg.rx_bufs = 2;
	cfg.rx_buf_bytes = 256;
	cfg.rx_bytes_max = 100;
	CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
	if (!ur(e)->bufring) {
		fnl_engine_free(e);
		return;
	}
	for (uint32_t i = 0; i < COUNT; i++) {
		nt_be32(blob + off, i % 101);
		memset(blob + off + 4, (int)i, i % 101);
		off += 4 + i % 101;
	}
	w = (struct writer){.blob = blob, .len = off};
	w.lfd = nt_listen(&sa, 4);
	CHECK(pthread_create(&w.th, NULL, writer_main, &w) == 0);
	id = nt_connect(e, &sa, 8);
	usleep(50000);
	while (got < COUNT) { /* 16 events a poll: all CQEs of a burst are reaped together */
		struct fnl_event ev[16];
		int n = fnl_engine_poll(e, ev, 16, 100000000LL);
		CHECK(n >= 0);
		for (int i = 0; i < n; i++) {
			CHECK_EQ(ev[i].type, FNL_EV_FRAME);
			CHECK_EQ(ev[i].frame_len, got % 101);
			for (uint32_t j = 0; j < ev[i].frame_len; j++)
				CHECK_EQ(ev[i].frame[j], (uint8_t)got);
			got++;
		}
		waited += ur(e)->rx_waiters;
		if (ur(e)->pb_out > held_max)
			held_max = ur(e)->pb_out;
		CHECK(n > 0 || ur(e)->rx_waiters == 0); /* a waiter is woken within a poll */
	}
	fnl_engine_stats(e, &st);
	printf("waiter: %u polls saw a waiter, %llu nobufs, %llu stops, %llu arms\n", waited,
	       (unsigned long long)st.recv_nobufs, (unsigned long long)st.recv_stops,
	       (unsigned long long)st.recv_arms);
	CHECK(waited > 0);
	CHECK_EQ(held_max, 2);
	CHECK(st.recv_nobufs > 0);
	fnl_conn_close(e, id);
	CHECK_EQ(nt_next(e).type, FNL_EV_CLOSED);
	CHECK_EQ(ur(e)->pb_out, 0);
	CHECK_EQ(ur(e)->rx_waiters, 0);
	CHECK_EQ(ur(e)->conns[id].held_n, 0);
	pthread_join(w.th, NULL);
	close(w.lfd);
	fnl_engine_free(e);
}

int main(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct sockaddr_in sa;
	struct fnl_event ev;
	int lfd = nt_listen(&sa, 4);
	int id = nt_connect(e, &sa, 1), id2;
	struct fnl_conn *c = &ur(e)->conns[id];
	uint32_t old_gen = c->gen, inflight, tail;
	uint64_t x = 0;
	struct iovec iov = {&x, sizeof(x)}; /* valid until SENT */

	fnl_conn_close(e, id);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(c->state, S_FREE);
	/* the slot is free: a late recv/send/connect of the old generation */
	check_drop(e, ud_make(OP_RECV, (uint32_t)id, old_gen), 100, 0);
	check_drop(e, ud_make(OP_SEND, (uint32_t)id, old_gen), 5, 1);

	id2 = nt_connect(e, &sa, 2);
	CHECK_EQ(id2, id);
	CHECK(c->gen != old_gen);
	inflight = c->inflight;
	tail = c->rx_tail;
	/* reused: the old generation's completions change nothing */
	check_drop(e, ud_make(OP_RECV, (uint32_t)id, old_gen), 100, 2);
	check_drop(e, ud_make(OP_CONNECT, (uint32_t)id, old_gen), -ECONNREFUSED, 3);
	check_drop(e, ud_make(OP_SEND, (uint32_t)id, old_gen), 5, 4);
	check_drop(e, ud_make(OP_RECV, 1000000, 0), 1, 5); /* no such slot */
	CHECK_EQ(c->inflight, inflight);
	CHECK_EQ(c->rx_tail, tail);
	CHECK_EQ(c->state, S_CONNECTED);
	/* and the connection still works */
	CHECK_EQ(fnl_conn_send(e, id2, &iov, 1, 3), 0);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_SENT);
	CHECK_EQ(ev.user, 2);
	/* which ring setup the kernel took */
	printf("default ring flags 0x%x (single issuer %d, defer taskrun %d)\n", ur(e)->ring.flags,
	       !!(ur(e)->ring.flags & IORING_SETUP_SINGLE_ISSUER),
	       !!(ur(e)->ring.flags & IORING_SETUP_DEFER_TASKRUN));
	CHECK(ur(e)->ring.flags & IORING_SETUP_DEFER_TASKRUN);
	fnl_engine_free(e);
	{
		struct fnl_engine_cfg cfg;
		nt_cfg(&cfg);
		cfg.sqpoll = true;
		cfg.sqpoll_cpu = 0;
		CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
		printf("sqpoll ring flags 0x%x (sqpoll %d)\n", ur(e)->ring.flags,
		       !!(ur(e)->ring.flags & IORING_SETUP_SQPOLL));
		fnl_engine_free(e);
	}
	close(lfd);
	test_stale_buffer();
	test_waiter();
	printf("net stale: ok\n");
	return 0;
}
