/* test_rxring.c - the two receive paths: provided buffer ring + multishot recv
 * (the default on Linux 6.0+) and the direct recv (cfg.rx_direct, the
 * fallback). Each case runs on both: one multishot arm for many completions,
 * a slow consumer with a small rx buffer (the multishot is stopped, nothing is
 * lost), a buffer ring that runs dry under several connections (-ENOBUFS,
 * re-armed later), EOF behind bytes still held, a close with buffers held and
 * the slot reused, and the config checks. */
#include "netutil.h"

#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>

static bool kernel_has_ring(void)
{
	struct utsname u;
	return uname(&u) == 0 && atoi(u.release) >= 6;
}

static void sleep_ms(int ms)
{
	nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static uint8_t pat(uint32_t frame, uint32_t j)
{
	return (uint8_t)(frame * 29u + j * 11u + (j >> 7));
}

/* A stream of count frames, frame i of size(i) bytes. */
struct stream {
	uint32_t count, size_mod;
	uint8_t *blob;
	size_t len;
};

static uint32_t st_size(const struct stream *s, uint32_t i)
{
	return (i * 7919u) % s->size_mod;
}

static void stream_make(struct stream *s, uint32_t count, uint32_t size_mod)
{
	size_t off = 0;
	s->count = count;
	s->size_mod = size_mod;
	s->len = 0;
	for (uint32_t i = 0; i < count; i++)
		s->len += 4 + st_size(s, i);
	s->blob = malloc(s->len);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t sz = st_size(s, i);
		nt_be32(s->blob + off, sz);
		for (uint32_t j = 0; j < sz; j++)
			s->blob[off + 4 + j] = pat(i, j);
		off += 4 + sz;
	}
}

static void stream_check(const struct stream *s, uint32_t i, const struct fnl_event *ev)
{
	CHECK(i < s->count);
	CHECK_EQ(ev->frame_len, st_size(s, i));
	for (uint32_t j = 0; j < ev->frame_len; j++)
		CHECK_EQ(ev->frame[j], pat(i, j));
}

/* A peer that writes a stream (chunk bytes per write, pause_us between), then
 * closes at once (eof) or reads until the engine closes. */
struct peer {
	int lfd;
	pthread_t th;
	const struct stream *s;
	size_t chunk;
	int pause_us;
	bool eof;
	const int *go; /* if set: write only once *go != 0 */
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	size_t off = 0;
	uint8_t c;
	int fd = accept(p->lfd, NULL, NULL);
	CHECK(fd >= 0);
	while (p->go && !__atomic_load_n(p->go, __ATOMIC_ACQUIRE))
		usleep(100);
	while (off < p->s->len) {
		size_t n = p->s->len - off < p->chunk ? p->s->len - off : p->chunk;
		CHECK(nt_write_all(fd, p->s->blob + off, n));
		off += n;
		if (p->pause_us > 0)
			usleep((useconds_t)p->pause_us);
	}
	if (!p->eof)
		while (read(fd, &c, 1) > 0)
			;
	close(fd);
	return NULL;
}

static int peer_start(struct peer *p, struct fnl_engine *e, uint64_t user)
{
	struct sockaddr_in sa;
	p->lfd = nt_listen(&sa, 4);
	CHECK(pthread_create(&p->th, NULL, peer_main, p) == 0);
	return nt_connect(e, &sa, user);
}

static void peer_join(struct peer *p)
{
	pthread_join(p->th, NULL);
	close(p->lfd);
}

static struct fnl_engine *engine(bool direct, uint32_t rx_bytes_max, uint32_t bufs,
                                 uint32_t buf_bytes)
{
	struct fnl_engine_cfg cfg;
	struct fnl_engine_stats st;
	struct fnl_engine *e = NULL;
	fnl_engine_cfg_default(&cfg);
	cfg.conns_max = 8;
	cfg.rx_direct = direct;
	if (rx_bytes_max)
		cfg.rx_bytes_max = rx_bytes_max;
	if (bufs)
		cfg.rx_bufs = bufs;
	if (buf_bytes)
		cfg.rx_buf_bytes = buf_bytes;
	CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.rx_bufring, !direct && kernel_has_ring());
	return e;
}

static void close_wait(struct fnl_engine *e, int id, int res)
{
	struct fnl_event ev;
	fnl_conn_close(e, id);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK_EQ(ev.conn, id);
	CHECK_EQ(ev.res, res);
}

/* Config: sizes of the buffer ring are checked unless the fallback is forced. */
static void test_cfg(void)
{
	struct fnl_engine_cfg cfg;
	struct fnl_engine *e = NULL;
	const uint32_t bad_bufs[] = {0, 3, 100, 65536};

	for (size_t i = 0; i < sizeof(bad_bufs) / sizeof(bad_bufs[0]); i++) {
		fnl_engine_cfg_default(&cfg);
		cfg.rx_bufs = bad_bufs[i];
		CHECK_EQ(fnl_engine_new(&cfg, &e), -EINVAL);
	}
	fnl_engine_cfg_default(&cfg);
	CHECK_EQ(cfg.rx_bufs, 64);
	CHECK_EQ(cfg.rx_buf_bytes, 16384);
	CHECK(!cfg.rx_direct);
	cfg.rx_buf_bytes = 0;
	CHECK_EQ(fnl_engine_new(&cfg, &e), -EINVAL);
	cfg.rx_buf_bytes = (16u << 20) + 1;
	CHECK_EQ(fnl_engine_new(&cfg, &e), -EINVAL);
	cfg.rx_direct = true; /* unused then */
	CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
	fnl_engine_free(e);
	e = engine(false, 0, 32768, 1);
	fnl_engine_free(e);
}

/* 40 frames written one by one with pauses: the ring path arms its multishot
 * once for all of them, the direct path once per completion. */
static void test_one_arm(bool direct)
{
	struct fnl_engine *e = engine(direct, 0, 0, 0);
	struct fnl_engine_stats st;
	struct sockaddr_in sa;
	struct stream s;
	int lfd = nt_listen(&sa, 4), fd, id;
	uint32_t got = 0;
	size_t off = 0;

	stream_make(&s, 40, 300);
	id = nt_connect(e, &sa, 9);
	fd = accept(lfd, NULL, NULL);
	CHECK(fd >= 0);
	for (uint32_t i = 0; i < s.count; i++) {
		size_t n = 4 + st_size(&s, i);
		CHECK(nt_write_all(fd, s.blob + off, n)); /* one frame per write */
		off += n;
		while (got <= i) {
			struct fnl_event ev = nt_next(e);
			CHECK_EQ(ev.type, FNL_EV_FRAME);
			CHECK_EQ(ev.conn, id);
			CHECK_EQ(ev.user, 9);
			stream_check(&s, got, &ev);
			got++;
		}
		sleep_ms(2);
	}
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.bytes_rx, s.len);
	CHECK_EQ(st.frames, s.count);
	if (st.rx_bufring)
		CHECK_EQ(st.recv_arms, 1);
	else
		CHECK(st.recv_arms >= s.count);
	printf("one arm (%s): %llu recv arms for %u frames\n", st.rx_bufring ? "ring" : "direct",
	       (unsigned long long)st.recv_arms, s.count);
	close_wait(e, id, 0);
	close(fd);
	close(lfd);
	free(s.blob);
	fnl_engine_free(e);
}

/* A 1004-byte rx buffer, 8 x 4 KiB provided buffers, a peer pushing 3 MiB as
 * fast as it can and a consumer that starts late and takes 1..3 events per
 * poll: every frame arrives once, in order; the ring path had to stop its
 * multishot (rx full) and resume it. */
static void test_slow_consumer(bool direct)
{
	struct fnl_engine *e = engine(direct, 1000, 8, 4096);
	struct stream s;
	struct peer p = {.chunk = 65536};
	struct fnl_engine_stats st;
	struct fnl_event ev[3];
	uint32_t got = 0;
	unsigned seed = 5;
	int64_t end = fnl_now_ns() + 30 * 1000000000LL;
	int id;

	stream_make(&s, 6000, 1001);
	p.s = &s;
	id = peer_start(&p, e, 3);
	sleep_ms(100); /* the socket fills while nobody polls */
	while (got < s.count) {
		int max = 1 + rand_r(&seed) % 3;
		int n = fnl_engine_poll(e, ev, max, 100000000LL);
		CHECK(n >= 0 && n <= max);
		for (int i = 0; i < n; i++) {
			CHECK_EQ(ev[i].type, FNL_EV_FRAME);
			CHECK_EQ(ev[i].conn, id);
			stream_check(&s, got, &ev[i]);
			got++;
		}
		if (got % 1000 == 999)
			sleep_ms(5);
		CHECK(fnl_now_ns() < end);
	}
	nt_quiet(e, 10000000LL);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.bytes_rx, s.len);
	CHECK_EQ(st.stale_cqes, 0);
	if (st.rx_bufring)
		CHECK(st.recv_stops > 0);
	printf("slow consumer (%s): %llu arms, %llu stops, %llu nobufs\n",
	       st.rx_bufring ? "ring" : "direct", (unsigned long long)st.recv_arms,
	       (unsigned long long)st.recv_stops, (unsigned long long)st.recv_nobufs);
	close_wait(e, id, 0);
	peer_join(&p);
	free(s.blob);
	fnl_engine_free(e);
}

/* 2 provided buffers of 64 bytes shared by 4 connections that all receive at
 * once: the ring runs dry again and again (-ENOBUFS); every connection is
 * re-armed when a buffer comes back and gets its whole stream in order. */
static void test_dry_ring(bool direct)
{
	enum { N = 4 };
	struct fnl_engine *e = engine(direct, 0, 2, 64);
	struct stream s[N];
	struct peer p[N];
	struct fnl_engine_stats st;
	struct fnl_event ev[4];
	uint32_t got[N] = {0}, done = 0;
	int id[N], go = 0;
	int64_t end = fnl_now_ns() + 30 * 1000000000LL;

	for (int k = 0; k < N; k++) {
		stream_make(&s[k], 3000 + 500 * (uint32_t)k, 97 + 50 * (uint32_t)k);
		p[k] = (struct peer){.s = &s[k], .chunk = 1000 + 3000 * (size_t)k, .go = &go};
		id[k] = peer_start(&p[k], e, (uint64_t)k);
		CHECK_EQ(id[k], k);
	}
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE); /* all connected: write at once */
	while (done < N) {
		int n = fnl_engine_poll(e, ev, 4, 100000000LL);
		CHECK(n >= 0);
		for (int i = 0; i < n; i++) {
			int k = ev[i].conn;
			CHECK_EQ(ev[i].type, FNL_EV_FRAME);
			CHECK(k >= 0 && k < N);
			CHECK_EQ(ev[i].user, k);
			stream_check(&s[k], got[k], &ev[i]);
			if (++got[k] == s[k].count)
				done++;
		}
		CHECK(fnl_now_ns() < end);
	}
	nt_quiet(e, 10000000LL);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.stale_cqes, 0);
	if (st.rx_bufring)
		CHECK(st.recv_nobufs > 0);
	printf("dry ring (%s): %llu arms, %llu stops, %llu nobufs\n",
	       st.rx_bufring ? "ring" : "direct", (unsigned long long)st.recv_arms,
	       (unsigned long long)st.recv_stops, (unsigned long long)st.recv_nobufs);
	for (int k = 0; k < N; k++) {
		close_wait(e, id[k], 0);
		peer_join(&p[k]);
		free(s[k].blob);
	}
	fnl_engine_free(e);
}

/* The peer writes 60 KiB of small frames and closes at once while the
 * consumer is away: the EOF completes behind bytes the engine still holds;
 * every frame is delivered, then CLOSED -ECONNRESET. */
static void test_eof_behind_held(bool direct)
{
	struct fnl_engine *e = engine(direct, 64, 4, 4096);
	struct stream s;
	struct peer p = {.chunk = 7000, .eof = true};
	struct fnl_event ev;
	struct fnl_engine_stats st;
	uint32_t got = 0;
	int id;

	stream_make(&s, 1800, 65);
	p.s = &s;
	id = peer_start(&p, e, 4);
	peer_join(&p); /* all written and closed */
	sleep_ms(50);
	for (;;) {
		ev = nt_next(e);
		CHECK_EQ(ev.conn, id);
		if (ev.type == FNL_EV_CLOSED)
			break;
		CHECK_EQ(ev.type, FNL_EV_FRAME);
		stream_check(&s, got, &ev);
		got++;
	}
	CHECK_EQ(got, s.count);
	CHECK_EQ(ev.res, -ECONNRESET);
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.recv_errors, 1);
	CHECK_EQ(st.bytes_rx, s.len);
	free(s.blob);
	fnl_engine_free(e);
}

/* A caller's close while the connection holds both provided buffers (its rx
 * is full, the consumer took one frame): the buffers go back, the slot is
 * reused with the same 2-buffer ring and the new connection gets its stream. */
static void test_close_held_reuse(bool direct)
{
	struct fnl_engine *e = engine(direct, 100, 2, 1024);
	struct stream s;
	struct peer p = {.chunk = 20000}, p2 = {.chunk = 3000};
	struct fnl_event ev;
	struct fnl_engine_stats st;
	uint32_t got = 0;
	int id, id2;

	stream_make(&s, 800, 101);
	p.s = p2.s = &s;
	id = peer_start(&p, e, 5);
	sleep_ms(50);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_FRAME);
	stream_check(&s, 0, &ev);
	close_wait(e, id, 0);
	peer_join(&p);

	id2 = peer_start(&p2, e, 6);
	CHECK_EQ(id2, id);
	while (got < s.count) {
		ev = nt_next(e);
		CHECK_EQ(ev.type, FNL_EV_FRAME);
		CHECK_EQ(ev.user, 6);
		stream_check(&s, got, &ev);
		got++;
	}
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.stale_cqes, 0);
	close_wait(e, id2, 0);
	peer_join(&p2);
	free(s.blob);
	fnl_engine_free(e);
}

int main(void)
{
	test_cfg();
	for (int direct = 0; direct <= 1; direct++) {
		test_one_arm(direct);
		test_slow_consumer(direct);
		test_dry_ring(direct);
		test_eof_behind_held(direct);
		test_close_held_reuse(direct);
	}
	printf("net rxring: ok\n");
	return 0;
}
