/* test_connect.c - connect ok, refused, timed out, bad arguments, slots exhausted. */
#include "netutil.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>

static void test_connect_ok(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct fnl_engine_stats st;
	struct sockaddr_in sa;
	struct fnl_event ev;
	int lfd = nt_listen(&sa, 16);
	int id = nt_connect(e, &sa, 42);
	int afd = accept(lfd, NULL, NULL);
	CHECK(afd >= 0);
	fnl_conn_close(e, id);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.conn, id);
	CHECK_EQ(ev.res, 0);
	CHECK_EQ(ev.user, 42);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.connects, 1);
	CHECK_EQ(st.conn_errors, 0);
	fnl_engine_free(e);
	close(afd);
	close(lfd);
}

static void test_connect_refused(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct fnl_engine_stats st;
	struct sockaddr_in sa;
	struct fnl_event ev;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), id;

	/* a bound port nobody listens on answers a SYN with a RST */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	id = fnl_conn_open(e, (struct sockaddr *)&sa, sizeof(sa), 1000, 7);
	CHECK(id >= 0);
	CHECK_EQ(fnl_conn_send(e, id, &(struct iovec){"x", 1}, 1, 0), -ENOTCONN);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.res, -ECONNREFUSED);
	CHECK_EQ(ev.user, 7);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.conn_errors, 1);
	fnl_engine_free(e);
	close(fd);
}

/* Fill the accept queue of a backlog-0 listener that never accepts: Linux then
 * drops further SYNs, so a connect hangs in SYN_SENT. Returns the fillers. */
static int fill_backlog(const struct sockaddr_in *sa, int *fds, int max)
{
	int n = 0;
	while (n < max) {
		struct pollfd p;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
		fds[n++] = fd;
		if (r == 0)
			continue;
		CHECK_EQ(errno, EINPROGRESS);
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, 200) == 0)
			return n; /* this one hangs: the queue is full */
	}
	return n;
}

static void test_connect_timeout(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct sockaddr_in sa;
	struct fnl_event ev;
	int fds[16], nfds, id;
	int lfd = nt_listen(&sa, 0);
	int64_t t0, dt;

	nfds = fill_backlog(&sa, fds, 16);
	t0 = fnl_now_ns();
	id = fnl_conn_open(e, (struct sockaddr *)&sa, sizeof(sa), 300, 9);
	CHECK(id >= 0);
	ev = nt_next(e);
	dt = fnl_now_ns() - t0;
	if (ev.type == FNL_EV_CONNECTED) {
		printf("SKIP connect timeout: the kernel accepted past a full backlog\n");
	} else {
		CHECK_EQ(ev.type, FNL_EV_CLOSED);
		CHECK_EQ(ev.res, -ETIMEDOUT);
		CHECK(dt >= 250000000LL && dt < 3000000000LL);
		printf("connect timeout after %lld ms (%d fillers)\n", (long long)(dt / 1000000),
		       nfds);
	}
	fnl_engine_free(e);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
}

/* A caller's close while connecting: CLOSED 0, no CONNECTED. */
static void test_close_while_connecting(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct sockaddr_in sa;
	struct fnl_event ev;
	int fds[16], nfds, id;
	int lfd = nt_listen(&sa, 0);

	nfds = fill_backlog(&sa, fds, 16);
	id = fnl_conn_open(e, (struct sockaddr *)&sa, sizeof(sa), 5000, 3);
	CHECK(id >= 0);
	nt_quiet(e, 50000000LL);
	fnl_conn_close(e, id);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.conn, id);
	CHECK_EQ(ev.res, 0);
	nt_quiet(e, 20000000LL);
	fnl_engine_free(e);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
}

static void test_bad_args(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct fnl_engine_cfg cfg;
	struct fnl_engine *bad = NULL;
	struct sockaddr_in sa;
	struct sockaddr_un_like {
		sa_family_t f;
		char p[8];
	} un = {AF_UNIX, "x"};
	int lfd = nt_listen(&sa, 16), ids[8];
	struct fnl_event ev[8];
	int got = 0;

	fnl_engine_cfg_default(&cfg);
	cfg.sends_max = 4;
	CHECK_EQ(fnl_engine_new(&cfg, &bad), -EINVAL);
	CHECK_EQ(fnl_conn_open(e, (struct sockaddr *)&un, sizeof(un), 0, 0), -EINVAL);
	CHECK_EQ(fnl_conn_open(e, (struct sockaddr *)&sa, 1, 0, 0), -EINVAL);
	for (int i = 0; i < 8; i++) {
		ids[i] = fnl_conn_open(e, (struct sockaddr *)&sa, sizeof(sa), 0, (uint64_t)i);
		CHECK_EQ(ids[i], i);
	}
	CHECK_EQ(fnl_conn_open(e, (struct sockaddr *)&sa, sizeof(sa), 0, 0), -EMFILE);
	while (got < 8) {
		int n = fnl_engine_poll(e, ev, 8, 1000000000LL);
		CHECK(n > 0);
		for (int i = 0; i < n; i++)
			CHECK_EQ(ev[i].type, FNL_EV_CONNECTED);
		got += n;
	}
	CHECK_EQ(fnl_conn_send(e, 99, &(struct iovec){"x", 1}, 1, 0), -ENOTCONN);
	CHECK_EQ(fnl_conn_send(e, 0, &(struct iovec){"x", 0}, 1, 0), -EINVAL);
	CHECK_EQ(fnl_conn_send(e, 0, NULL, 1, 0), -EINVAL);
	CHECK_EQ(fnl_engine_poll(e, ev, 0, 0), -EINVAL);
	fnl_engine_free(e); /* with live connections */
	close(lfd);
}

/* Built on one thread, driven by another (the ring binds at the first poll). */
struct handover {
	struct fnl_engine *e;
	struct sockaddr_in sa;
};

static void *handover_main(void *arg)
{
	struct handover *h = arg;
	struct fnl_event ev;
	int id = nt_connect(h->e, &h->sa, 8);
	fnl_conn_close(h->e, id);
	ev = nt_next(h->e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	return NULL;
}

static void test_handover(void)
{
	struct handover h = {.e = nt_engine(0)};
	int lfd = nt_listen(&h.sa, 4);
	int efd = eventfd(0, EFD_CLOEXEC);
	pthread_t th;
	int64_t t0;
	CHECK_EQ(fnl_engine_watch_eventfd(h.e, efd, 0), 0); /* queued before binding */
	CHECK(pthread_create(&th, NULL, handover_main, &h) == 0);
	pthread_join(th, NULL);
	close(lfd);
	t0 = fnl_now_ns();
	fnl_engine_free(h.e); /* not the bound thread: best effort, must not hang */
	CHECK(fnl_now_ns() - t0 < 500000000LL);
	close(efd);
}

int main(void)
{
	test_connect_ok();
	test_connect_refused();
	test_connect_timeout();
	test_close_while_connecting();
	test_bad_args();
	test_handover();
	printf("net connect: ok\n");
	return 0;
}
