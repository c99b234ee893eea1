/* test_frames.c - frames echoed by a peer: sizes 0..4 MiB crossing recv
 * boundaries, thousands of frames per recv, a tiny receive buffer that must be
 * compacted, and small event arrays that leave frames owed across polls. */
#include "netutil.h"

#include <stdlib.h>

struct echo {
	int lfd;
	pthread_t th;
};

static void *echo_main(void *arg)
{
	struct echo *p = arg;
	static __thread uint8_t buf[65536];
	int fd = accept(p->lfd, NULL, NULL);
	CHECK(fd >= 0);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		if (!nt_write_all(fd, buf, (size_t)r))
			break;
	}
	close(fd);
	return NULL;
}

static int echo_start(struct echo *p, struct fnl_engine *e)
{
	struct sockaddr_in sa;
	p->lfd = nt_listen(&sa, 4);
	CHECK(pthread_create(&p->th, NULL, echo_main, p) == 0);
	return nt_connect(e, &sa, 1);
}

static void echo_stop(struct echo *p, struct fnl_engine *e, int id)
{
	struct fnl_event ev;
	fnl_conn_close(e, id);
	do
		ev = nt_next(e);
	while (ev.type != FNL_EV_CLOSED);
	CHECK_EQ(ev.res, 0);
	pthread_join(p->th, NULL);
	close(p->lfd);
}

static uint8_t pat(uint32_t frame, uint32_t j)
{
	return (uint8_t)(frame * 31u + j * 7u + (j >> 8));
}

/* Frames to send: [hdr][payload] each, payloads in one arena. */
struct plan {
	uint32_t n;
	uint32_t *size;
	uint8_t (*hdr)[4];
	uint8_t **payload;
	struct iovec (*iov)[2];
};

static void plan_make(struct plan *p, const uint32_t *sizes, uint32_t n)
{
	p->n = n;
	p->size = calloc(n, sizeof(*p->size));
	p->hdr = calloc(n, sizeof(*p->hdr));
	p->payload = calloc(n, sizeof(*p->payload));
	p->iov = calloc(n, sizeof(*p->iov));
	for (uint32_t i = 0; i < n; i++) {
		p->size[i] = sizes[i];
		p->payload[i] = malloc(sizes[i] + 1);
		for (uint32_t j = 0; j < sizes[i]; j++)
			p->payload[i][j] = pat(i, j);
		nt_be32(p->hdr[i], sizes[i]);
	}
}

static void plan_free(struct plan *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		free(p->payload[i]);
	free(p->size);
	free(p->hdr);
	free(p->payload);
	free(p->iov);
}

/* Send all frames (window-limited by sends_max) and check every echoed frame,
 * polling with max events per call. */
static void run_plan(struct fnl_engine *e, int id, struct plan *p, int max)
{
	struct fnl_event ev[16];
	uint32_t next_send = 0, sent = 0, got = 0;
	int64_t end = fnl_now_ns() + 20 * 1000000000LL;

	while (got < p->n) {
		while (next_send < p->n) {
			struct iovec *v = p->iov[next_send];
			int r;
			v[0] = (struct iovec){p->hdr[next_send], 4};
			v[1] = (struct iovec){p->payload[next_send], p->size[next_send]};
			r = fnl_conn_send(e, id, v, p->size[next_send] ? 2 : 1, next_send);
			if (r == -ENOBUFS)
				break;
			CHECK_EQ(r, 0);
			next_send++;
		}
		int n = fnl_engine_poll(e, ev, max, 100000000LL);
		CHECK(n >= 0 && n <= max);
		for (int i = 0; i < n; i++) {
			if (ev[i].type == FNL_EV_SENT) {
				CHECK_EQ(ev[i].res, 0);
				CHECK_EQ(ev[i].tag, sent);
				sent++;
				continue;
			}
			CHECK_EQ(ev[i].type, FNL_EV_FRAME);
			CHECK_EQ(ev[i].conn, id);
			CHECK(got < p->n);
			CHECK_EQ(ev[i].frame_len, p->size[got]);
			CHECK_MEM(ev[i].frame, p->payload[got], p->size[got]);
			got++;
		}
		CHECK(fnl_now_ns() < end);
	}
	CHECK_EQ(sent, p->n);
}

static void test_big_frames(bool sqpoll)
{
	static const uint32_t sizes[] = {0,
	                                 1,
	                                 2,
	                                 3,
	                                 100,
	                                 4095,
	                                 4096,
	                                 65535,
	                                 65536,
	                                 65537,
	                                 1 << 20,
	                                 3000000,
	                                 (3 << 20) + 7,
	                                 4 << 20,
	                                 17,
	                                 4 << 20,
	                                 (1 << 20) - 1,
	                                 5,
	                                 4 << 20,
	                                 1};
	struct fnl_engine_cfg cfg;
	struct fnl_engine *e = NULL;
	struct echo p;
	struct plan pl;
	struct fnl_engine_stats st;
	int id;
	uint64_t bytes = 0;

	nt_cfg(&cfg);
	cfg.sqpoll = sqpoll;
	CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
	nt_check_rx_path(e);
	id = echo_start(&p, e);

	plan_make(&pl, sizes, sizeof(sizes) / sizeof(sizes[0]));
	run_plan(e, id, &pl, 16);
	run_plan(e, id, &pl, 1);
	for (uint32_t i = 0; i < pl.n; i++)
		bytes += 4 + sizes[i];
	fnl_engine_stats(e, &st);
	CHECK_EQ(st.frames, 2 * pl.n);
	CHECK_EQ(st.sends, 2 * pl.n);
	CHECK_EQ(st.bytes_tx, 2 * bytes);
	CHECK_EQ(st.bytes_rx, 2 * bytes);
	CHECK_EQ(st.stale_cqes, 0);
	echo_stop(&p, e, id);
	plan_free(&pl);
	fnl_engine_free(e);
}

/* Thousands of small frames in one send: many frames per recv, delivered
 * through event arrays of 7 (frames owed across polls). */
static void test_many_small(uint32_t rx_bytes_max, uint32_t count, uint32_t size_mod)
{
	struct fnl_engine *e = nt_engine(rx_bytes_max);
	struct echo p;
	struct fnl_event ev[7];
	int id = echo_start(&p, e);
	size_t total = 0, off = 0;
	uint8_t *blob;
	uint32_t got = 0;
	bool sent = false;
	int64_t end = fnl_now_ns() + 20 * 1000000000LL;

	for (uint32_t i = 0; i < count; i++)
		total += 4 + i % size_mod;
	blob = malloc(total);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t sz = i % size_mod;
		nt_be32(blob + off, sz);
		for (uint32_t j = 0; j < sz; j++)
			blob[off + 4 + j] = pat(i, j);
		off += 4 + sz;
	}
	struct iovec v = {blob, total};
	CHECK_EQ(fnl_conn_send(e, id, &v, 1, 77), 0);
	while (got < count || !sent) {
		int n = fnl_engine_poll(e, ev, 7, 100000000LL);
		CHECK(n >= 0);
		for (int i = 0; i < n; i++) {
			if (ev[i].type == FNL_EV_SENT) {
				CHECK_EQ(ev[i].tag, 77);
				CHECK_EQ(ev[i].res, 0);
				sent = true;
				continue;
			}
			CHECK_EQ(ev[i].type, FNL_EV_FRAME);
			CHECK_EQ(ev[i].frame_len, got % size_mod);
			for (uint32_t j = 0; j < ev[i].frame_len; j++)
				CHECK_EQ(ev[i].frame[j], pat(got, j));
			got++;
		}
		CHECK(fnl_now_ns() < end);
	}
	nt_quiet(e, 10000000LL);
	echo_stop(&p, e, id);
	free(blob);
	fnl_engine_free(e);
}

/* A peer that writes a stream of frames in random chunks (down to 1 byte,
 * with pauses), so frame boundaries land anywhere in a recv; the engine polls
 * with random event array sizes. */
struct chunker {
	int lfd;
	pthread_t th;
	const uint8_t *blob;
	size_t len;
	unsigned seed;
};

static void *chunker_main(void *arg)
{
	struct chunker *k = arg;
	size_t off = 0;
	int fd = accept(k->lfd, NULL, NULL);
	CHECK(fd >= 0);
	while (off < k->len) {
		size_t n = (size_t)(rand_r(&k->seed) % 3 == 0 ? 1 + rand_r(&k->seed) % 7
		                                              : 1 + rand_r(&k->seed) % 20000);
		if (n > k->len - off)
			n = k->len - off;
		CHECK(nt_write_all(fd, k->blob + off, n));
		off += n;
		if (rand_r(&k->seed) % 50 == 0)
			usleep(200);
	}
	/* hold until the engine closes */
	uint8_t c;
	while (read(fd, &c, 1) > 0)
		;
	close(fd);
	return NULL;
}

static void test_random_split(uint32_t rx_bytes_max, unsigned seed)
{
	const uint32_t count = rx_bytes_max > 10000 ? 200 : 3000;
	struct fnl_engine *e = nt_engine(rx_bytes_max);
	struct chunker k = {.seed = seed};
	struct sockaddr_in sa;
	struct fnl_event ev[16];
	uint32_t *sizes = calloc(count, sizeof(*sizes)), got = 0;
	size_t total = 0, off = 0;
	uint8_t *blob;
	unsigned rs = seed * 7 + 1;
	int id;

	for (uint32_t i = 0; i < count; i++) {
		sizes[i] = (uint32_t)rand_r(&rs) % (rx_bytes_max + 1);
		total += 4 + sizes[i];
	}
	blob = malloc(total);
	for (uint32_t i = 0; i < count; i++) {
		nt_be32(blob + off, sizes[i]);
		for (uint32_t j = 0; j < sizes[i]; j++)
			blob[off + 4 + j] = pat(i, j);
		off += 4 + sizes[i];
	}
	k.blob = blob;
	k.len = total;
	k.lfd = nt_listen(&sa, 4);
	CHECK(pthread_create(&k.th, NULL, chunker_main, &k) == 0);
	id = nt_connect(e, &sa, 1);
	while (got < count) {
		int max = 1 + rand_r(&rs) % 16;
		int n = fnl_engine_poll(e, ev, max, 1000000000LL);
		CHECK(n > 0 && n <= max);
		for (int i = 0; i < n; i++) {
			CHECK_EQ(ev[i].type, FNL_EV_FRAME);
			CHECK_EQ(ev[i].frame_len, sizes[got]);
			for (uint32_t j = 0; j < sizes[got]; j++)
				CHECK_EQ(ev[i].frame[j], pat(got, j));
			got++;
		}
	}
	fnl_conn_close(e, id);
	CHECK_EQ(nt_next(e).type, FNL_EV_CLOSED);
	pthread_join(k.th, NULL);
	close(k.lfd);
	free(sizes);
	free(blob);
	fnl_engine_free(e);
}

int main(void)
{
	test_big_frames(false);
	test_big_frames(true); /* SQPOLL ring (falls back to a plain ring if refused) */
	test_many_small(0, 20000, 50);
	/* buffer of 1004 bytes: frames up to 1000 force compaction constantly */
	test_many_small(1000, 5000, 1001);
	test_many_small(64, 20000, 65);
	for (unsigned seed = 1; seed <= 3; seed++) {
		test_random_split(100, seed);    /* 104-byte buffer */
		test_random_split(5000, seed);   /* frames straddle many recvs */
		test_random_split(300000, seed); /* below the 64 KiB compaction room */
	}
	printf("net frames: ok\n");
	return 0;
}
