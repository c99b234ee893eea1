/* test_send.c - iovec sends: partial writes against a slow small-window
 * reader, 5 pipelined sends kept in order, the sends_max bound. */
#include "netutil.h"

#include <time.h>

struct sink {
	int lfd;
	pthread_t th;
	size_t want;  /* bytes to read before closing */
	int delay_ms; /* before the first read */
	size_t chunk; /* read size (slow reader when small) */
	uint8_t *got; /* want bytes */
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	size_t off = 0;
	int fd = accept(s->lfd, NULL, NULL);
	CHECK(fd >= 0);
	if (s->delay_ms > 0)
		nanosleep(&(struct timespec){0, s->delay_ms * 1000000L}, NULL);
	while (off < s->want) {
		size_t n = s->want - off < s->chunk ? s->want - off : s->chunk;
		ssize_t r = read(fd, s->got + off, n);
		CHECK(r > 0);
		off += (size_t)r;
	}
	close(fd);
	return NULL;
}

static int sink_start(struct sink *s, struct fnl_engine *e, int rcvbuf)
{
	struct sockaddr_in sa;
	s->lfd = nt_listen(&sa, 4);
	if (rcvbuf > 0) /* inherited by the accepted socket, caps the window */
		CHECK(setsockopt(s->lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == 0);
	s->got = malloc(s->want);
	CHECK(pthread_create(&s->th, NULL, sink_main, s) == 0);
	return nt_connect(e, &sa, 5);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131u + i * 13u + (i >> 11));
}

static void test_partial_writes(void)
{
	const size_t sz[3] = {3u << 20, 1234567, 2u << 20};
	struct fnl_engine *e = nt_engine(0);
	struct fnl_engine_stats st;
	struct sink s = {.want = sz[0] + sz[1] + sz[2], .delay_ms = 200, .chunk = 4096};
	uint8_t *buf[3];
	struct iovec iov[3];
	struct fnl_event ev;
	size_t off = 0;
	int id = sink_start(&s, e, 4096);

	for (int i = 0; i < 3; i++) {
		buf[i] = malloc(sz[i]);
		fill(buf[i], sz[i], (uint32_t)i);
		iov[i] = (struct iovec){buf[i], sz[i]};
	}
	CHECK_EQ(fnl_conn_send(e, id, iov, 3, 0xabc), 0);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_SENT);
	CHECK_EQ(ev.tag, 0xabc);
	CHECK_EQ(ev.res, 0);
	pthread_join(s.th, NULL);
	for (int i = 0; i < 3; i++) {
		CHECK_MEM(s.got + off, buf[i], sz[i]);
		off += sz[i];
		free(buf[i]);
	}
	fnl_engine_stats(e, &st);
	printf("partial writes continued: %llu\n", (unsigned long long)st.send_partials);
	CHECK(st.send_partials > 0);
	CHECK_EQ(st.bytes_tx, s.want);
	/* the sink closed after reading: the engine sees the peer close */
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.res, -ECONNRESET);
	free(s.got);
	close(s.lfd);
	fnl_engine_free(e);
}

static void test_pipelined_order(void)
{
	enum { N = 5, SZ = 1 << 20 };
	struct fnl_engine *e = nt_engine(0);
	struct sink s = {.want = (size_t)N * (4 + SZ), .chunk = 65536};
	uint8_t *buf[N], hdr[N][4];
	struct iovec iov[N][2];
	int id = sink_start(&s, e, 0);

	for (int i = 0; i < N; i++) {
		buf[i] = malloc(SZ);
		fill(buf[i], SZ, 100u + (uint32_t)i);
		nt_be32(hdr[i], (uint32_t)i);
		iov[i][0] = (struct iovec){hdr[i], 4};
		iov[i][1] = (struct iovec){buf[i], SZ};
		CHECK_EQ(fnl_conn_send(e, id, iov[i], 2, (uint64_t)i), 0);
	}
	for (int i = 0; i < N; i++) {
		struct fnl_event ev = nt_next(e);
		CHECK_EQ(ev.type, FNL_EV_SENT);
		CHECK_EQ(ev.tag, i);
		CHECK_EQ(ev.res, 0);
	}
	pthread_join(s.th, NULL);
	for (int i = 0; i < N; i++) {
		uint8_t *p = s.got + (size_t)i * (4 + SZ);
		CHECK_MEM(p, hdr[i], 4);
		CHECK_MEM(p + 4, buf[i], SZ);
		free(buf[i]);
	}
	free(s.got);
	close(s.lfd);
	fnl_engine_free(e);
}

static void test_sends_max(void)
{
	struct fnl_engine *e = nt_engine(0);
	struct sink s = {.want = 16 * 1000, .chunk = 65536};
	static uint8_t data[1000];
	struct iovec iov[17];
	int id = sink_start(&s, e, 0);
	int sent = 0;

	for (int i = 0; i < 16; i++) {
		iov[i] = (struct iovec){data, sizeof(data)};
		CHECK_EQ(fnl_conn_send(e, id, &iov[i], 1, (uint64_t)i), 0);
	}
	iov[16] = (struct iovec){data, sizeof(data)};
	CHECK_EQ(fnl_conn_send(e, id, &iov[16], 1, 16), -ENOBUFS);
	while (sent < 16) {
		struct fnl_event ev = nt_next(e);
		CHECK_EQ(ev.type, FNL_EV_SENT);
		CHECK_EQ(ev.tag, sent);
		sent++;
	}
	pthread_join(s.th, NULL);
	free(s.got);
	close(s.lfd);
	fnl_engine_free(e);
}

int main(void)
{
	test_partial_writes();
	test_pipelined_order();
	test_sends_max();
	printf("net send: ok\n");
	return 0;
}
