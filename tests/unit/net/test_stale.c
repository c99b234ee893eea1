/* test_stale.c - white-box: a completion carrying an old generation, or for
 * a free slot, is dropped after the slot is reused. Includes engine.c to reach
 * its static dispatcher (this binary does not link fnl_net_lib). */
#include "dataplane/net/engine.c"

#include "netutil.h"

static void check_drop(struct fnl_engine *e, uint64_t ud, int res, uint64_t stale_before)
{
	struct fnl_event ev[4];
	struct fnl_engine_stats st;
	e->ev = ev;
	e->ev_n = 0;
	e->ev_max = 4;
	on_cqe(e, ud, res, 0);
	CHECK_EQ(e->ev_n, 0);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.stale_cqes, stale_before + 1);
}

int main(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct sockaddr_in sa;
	struct fnl_event ev;
	int lfd = nt_listen(&sa, 4);
	int id = nt_connect(e, &sa, 1), id2;
	struct fnl_conn *c = &e->conns[id];
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
	printf("default ring flags 0x%x (single issuer %d, defer taskrun %d)\n", e->ring.flags,
	       !!(e->ring.flags & IORING_SETUP_SINGLE_ISSUER),
	       !!(e->ring.flags & IORING_SETUP_DEFER_TASKRUN));
	CHECK(e->ring.flags & IORING_SETUP_DEFER_TASKRUN);
	fnl_engine_free(e);
	{
		struct fnl_engine_cfg cfg;
		fnl_engine_cfg_default(&cfg);
		cfg.sqpoll = true;
		cfg.sqpoll_cpu = 0;
		CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
		printf("sqpoll ring flags 0x%x (sqpoll %d)\n", e->ring.flags,
		       !!(e->ring.flags & IORING_SETUP_SQPOLL));
		fnl_engine_free(e);
	}
	close(lfd);
	printf("net stale: ok\n");
	return 0;
}
