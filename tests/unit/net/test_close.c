/* test_close.c - bad frames, peer close, a caller's close with queued sends,
 * slot reuse with a new generation. */
#include "netutil.h"

#include <poll.h>

struct peer {
	int lfd;
	pthread_t th;
	const uint8_t *out; /* written once accepted */
	size_t out_len;
	bool hold;  /* then read until EOF (else close at once) */
	int rcvbuf; /* > 0: small window, and never read */
	bool lax;   /* the engine may reset the connection under our write */
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	uint8_t buf[4096];
	int fd = accept(p->lfd, NULL, NULL);
	CHECK(fd >= 0);
	if (p->out_len && !nt_write_all(fd, p->out, p->out_len))
		CHECK(p->lax);
	if (p->hold && p->rcvbuf > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
		while (poll(&pf, 1, -1) >= 0 && !(pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			;
	} else if (p->hold) {
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
	close(fd);
	return NULL;
}

static int peer_start(struct peer *p, struct fnl_engine *e, uint64_t user)
{
	struct sockaddr_in sa;
	p->lfd = nt_listen(&sa, 4);
	if (p->rcvbuf > 0)
		CHECK(setsockopt(p->lfd, SOL_SOCKET, SO_RCVBUF, &p->rcvbuf, sizeof(p->rcvbuf)) ==
		      0);
	CHECK(pthread_create(&p->th, NULL, peer_main, p) == 0);
	return nt_connect(e, &sa, user);
}

static void peer_join(struct peer *p)
{
	pthread_join(p->th, NULL);
	close(p->lfd);
}

/* A good frame, then a header that the engine must refuse with res. */
static void test_bad_header(uint32_t bad, int res)
{
	struct fnl_engine *e = nt_engine(1000);
	struct fnl_engine_stats st;
	uint8_t out[4 + 3 + 4] = {0, 0, 0, 3, 'a', 'b', 'c'};
	struct peer p = {.out = out, .out_len = sizeof(out), .hold = true};
	struct fnl_event ev;
	int id;

	nt_be32(out + 7, bad);
	id = peer_start(&p, e, 11);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_FRAME);
	CHECK_EQ(ev.frame_len, 3);
	CHECK_MEM(ev.frame, "abc", 3);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.conn, id);
	CHECK_EQ(ev.res, res);
	CHECK_EQ(ev.user, 11);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.recv_errors, 1);
	peer_join(&p); /* our close ended its read */
	fnl_engine_free(e);
}

/* The largest accepted frame passes, one byte more does not. */
static void test_size_limit(void)
{
	enum { MAX = 1000 };
	static uint8_t out[4 + MAX + 4];
	struct fnl_engine *e = nt_engine(MAX);
	struct peer p = {.out = out, .out_len = sizeof(out), .hold = true};
	struct fnl_event ev;

	nt_be32(out, MAX);
	memset(out + 4, 0x5a, MAX);
	nt_be32(out + 4 + MAX, MAX + 1);
	peer_start(&p, e, 1);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_FRAME);
	CHECK_EQ(ev.frame_len, MAX);
	CHECK_EQ(ev.frame[MAX - 1], 0x5a);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.res, -EMSGSIZE);
	peer_join(&p);
	fnl_engine_free(e);
}

/* Frames sent just before the peer closes are all delivered, then CLOSED. */
static void test_peer_close(void)
{
	uint8_t out[10 * 5];
	struct fnl_engine *e = nt_engine(0);
	struct peer p = {.out = out, .out_len = sizeof(out)};
	struct fnl_event ev;
	int id;

	for (int i = 0; i < 10; i++) {
		nt_be32(out + 5 * i, 1);
		out[5 * i + 4] = (uint8_t)i;
	}
	id = peer_start(&p, e, 2);
	for (int i = 0; i < 10; i++) {
		ev = nt_next(e);
		CHECK_EQ(ev.type, FNL_EV_FRAME);
		CHECK_EQ(ev.frame[0], i);
	}
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.conn, id);
	CHECK_EQ(ev.res, -ECONNRESET);
	CHECK_EQ(fnl_conn_send(e, id, &(struct iovec){"x", 1}, 1, 0), -ENOTCONN);
	fnl_conn_close(e, id); /* no-op on a free slot */
	nt_quiet(e, 20000000LL);
	peer_join(&p);
	fnl_engine_free(e);
}

/* A caller's close with 6 x 4 MiB queued to a peer that does not read: every
 * send gets one SENT (0 or -ECANCELED) in order, then CLOSED 0. The slot is
 * then reused with a new generation and only the new connection's events
 * are seen. */
static void test_close_queued_and_reuse(void)
{
	enum { N = 6, SZ = 4 << 20 };
	struct fnl_engine *e = nt_engine(0);
	struct fnl_engine_stats st;
	struct peer p = {.hold = true, .rcvbuf = 4096};
	struct peer p2 = {.hold = true};
	uint8_t *buf = calloc(1, SZ);
	struct iovec iov[N];
	struct fnl_event ev;
	int id, id2, cancelled = 0, done = 0;

	id = peer_start(&p, e, 100);
	for (int i = 0; i < N; i++) {
		iov[i] = (struct iovec){buf, SZ};
		CHECK_EQ(fnl_conn_send(e, id, &iov[i], 1, (uint64_t)i), 0);
	}
	/* the socket buffer takes a few MiB, then the sends are stuck */
	for (int64_t end = fnl_now_ns() + 100000000LL; fnl_now_ns() < end;) {
		if (fnl_engine_poll(e, &ev, 1, 10000000LL) == 0)
			continue;
		CHECK_EQ(ev.type, FNL_EV_SENT);
		CHECK_EQ(ev.tag, done);
		CHECK_EQ(ev.res, 0);
		done++;
	}
	CHECK(done < N);
	fnl_conn_close(e, id);
	fnl_conn_close(e, id); /* second close: no-op */
	CHECK_EQ(fnl_conn_send(e, id, &iov[0], 1, 99), -ENOTCONN);
	for (int i = done; i < N; i++) {
		ev = nt_next(e);
		CHECK_EQ(ev.type, FNL_EV_SENT);
		CHECK_EQ(ev.conn, id);
		CHECK_EQ(ev.tag, i);
		CHECK(ev.res == 0 || ev.res == -ECANCELED);
		cancelled += ev.res == -ECANCELED;
	}
	CHECK(cancelled >= N - done - 1);
	printf("close: %d sent before, %d cancelled\n", done, cancelled);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.res, 0);
	CHECK_EQ(ev.user, 100);
	peer_join(&p);

	/* reuse: LIFO free list hands the same slot back */
	id2 = peer_start(&p2, e, 200);
	CHECK_EQ(id2, id);
	iov[0] = (struct iovec){buf, 1000};
	CHECK_EQ(fnl_conn_send(e, id2, &iov[0], 1, 7), 0);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_SENT);
	CHECK_EQ(ev.tag, 7);
	CHECK_EQ(ev.user, 200);
	CHECK_EQ(ev.res, 0);
	nt_quiet(e, 50000000LL);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.stale_cqes, 0);
	fnl_conn_close(e, id2);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.user, 200);
	peer_join(&p2);
	free(buf);
	fnl_engine_free(e);
}

/* Open/close churn on one slot while data is in flight both ways. */
static void test_churn(void)
{
	struct fnl_engine *e = nt_engine(0);
	static uint8_t out[4 + 100000];
	static uint8_t data[200000];
	struct fnl_engine_stats st;

	nt_be32(out, 100000);
	for (int round = 0; round < 50; round++) {
		struct peer p = {.out = out, .out_len = sizeof(out), .hold = true, .lax = true};
		struct iovec iov = {data, sizeof(data)};
		struct fnl_event ev;
		int id = peer_start(&p, e, (uint64_t)round);
		bool sent = false, closed = false;
		CHECK_EQ(fnl_conn_send(e, id, &iov, 1, (uint64_t)round), 0);
		fnl_conn_close(e, id);
		while (!closed) {
			ev = nt_next(e);
			CHECK_EQ(ev.conn, id);
			CHECK_EQ(ev.user, round);
			if (ev.type == FNL_EV_SENT) {
				CHECK(!sent);
				sent = true;
			} else {
				CHECK_EQ(ev.type, FNL_EV_CLOSED);
				closed = true;
			}
		}
		CHECK(sent);
		peer_join(&p);
	}
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.stale_cqes, 0);
	fnl_engine_free(e);
}

int main(void)
{
	test_bad_header(1001, -EMSGSIZE);
	test_bad_header(0x80000000u, -EBADMSG);
	test_bad_header(0xffffffffu, -EBADMSG);
	test_size_limit();
	test_peer_close();
	test_close_queued_and_reuse();
	test_churn();
	printf("net close: ok\n");
	return 0;
}
