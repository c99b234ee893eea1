/* libfunnel against the in-process fake daemon: attach errors, topics,
 * produce/poll/flush with content checked end to end (offset = hash of the
 * bytes the daemon saw), null key/value, headers, timestamps, size limits,
 * backpressure (non-blocking, timed, and serving reports while blocked), and
 * the daemon going away. */
#include "fake_daemon.h"
#include "funnel.h"

#include <time.h>

#define N_BASIC 20000

struct expect {
	int64_t hash[N_BASIC + 16];
	uint64_t reports, failed, next;
	const char *topic;
	bool ordered;
};

static void on_report(const struct fnl_report *r, void *ctx)
{
	struct expect *e = ctx;

	CHECK(r->opaque < N_BASIC + 16);
	CHECK_EQ(r->offset, e->hash[r->opaque]);
	if (e->topic)
		CHECK(strcmp(r->topic, e->topic) == 0);
	if (e->ordered) {
		CHECK_EQ(r->opaque, e->next);
		e->next++;
	}
	if (r->err)
		e->failed++;
	e->reports++;
}

static size_t ser_headers(uint8_t *out, const struct fnl_header *h, int nh)
{
	size_t n = 0;

	for (int i = 0; i < nh; i++) {
		uint16_t nl = (uint16_t)strlen(h[i].name);
		memcpy(out + n, &nl, 2);
		memcpy(out + n + 2, h[i].name, nl);
		memcpy(out + n + 2 + nl, &h[i].value_len, 4);
		n += 6 + nl;
		if (h[i].value_len > 0) {
			memcpy(out + n, h[i].value, (size_t)h[i].value_len);
			n += (size_t)h[i].value_len;
		}
	}
	return n;
}

static fnl_client_t *open_client(struct fake_daemon *f, struct expect *e, size_t ring_bytes,
                                 int max_block_ms)
{
	struct fnl_conf conf;
	fnl_client_t *c;

	fnl_conf_init(&conf);
	conf.socket_path = f->path;
	conf.ring_bytes = ring_bytes;
	conf.max_block_ms = max_block_ms;
	conf.on_report = on_report;
	conf.ctx = e;
	CHECK_EQ(fnl_open(&conf, &c), 0);
	return c;
}

static void test_attach_errors(void)
{
	struct fnl_conf conf;
	struct fake_daemon *f = calloc(1, sizeof(*f));
	fnl_client_t *c;

	fnl_conf_init(&conf);
	CHECK_EQ(conf.ring_bytes, 4u << 20);
	CHECK_EQ(conf.max_block_ms, 60000);
	conf.max_block_ms = 0; /* fail at once: no daemon to wait for */
	conf.socket_path = "/tmp/fnl-no-such-dir/x.sock";
	CHECK_EQ(fnl_open(&conf, &c), -ENOENT);
	/* env var used when socket_path is NULL */
	conf.socket_path = NULL;
	setenv("FUNNEL_SOCKET", "/tmp/fnl-no-such-dir/y.sock", 1);
	CHECK_EQ(fnl_open(&conf, &c), -ENOENT);
	unsetenv("FUNNEL_SOCKET");
	/* a socket file nobody listens on */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/fnl-dead-%d.sock", (int)getpid());
	unlink(sa.sun_path);
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK_EQ(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	conf.socket_path = sa.sun_path;
	CHECK_EQ(fnl_open(&conf, &c), -ECONNREFUSED);
	close(s);
	unlink(sa.sun_path);
	conf.max_block_ms = -1;
	CHECK_EQ(fnl_open(&conf, &c), -EINVAL);
	/* the daemon refuses */
	f->refuse = -EACCES;
	fake_start(f);
	fnl_conf_init(&conf);
	conf.socket_path = f->path;
	CHECK_EQ(fnl_open(&conf, &c), -EACCES);
	fake_stop(f);
	free(f);
	CHECK(strcmp(fnl_strerror(-EPIPE), "funneld is gone") == 0);
	CHECK(strcmp(fnl_strerror(-EACCES), "Permission denied") == 0);
	CHECK(strcmp(fnl_kafka_err_name(10), "MESSAGE_TOO_LARGE") == 0);
	CHECK(strcmp(fnl_kafka_err_name(-1), "UNKNOWN_SERVER_ERROR") == 0);
	CHECK(strcmp(fnl_kafka_err_name(999), "UNKNOWN") == 0);
}

static void test_produce_basic(void)
{
	struct fake_daemon *f = calloc(1, sizeof(*f));
	struct expect *e = calloc(1, sizeof(*e));
	fnl_topic_t *t, *t2;
	fnl_client_t *c;
	uint8_t hbuf[512];
	char key[32], value[2048];
	uint64_t seed = 99;
	struct timespec now;

	fake_start(f);
	c = open_client(f, e, 64 * 1024, 10000);
	CHECK_EQ(fnl_topic(c, "t1", &t), 0);
	CHECK_EQ(fnl_topic(c, "t1", &t2), 0);
	CHECK(t == t2);
	CHECK_EQ(fnl_topic_partitions(t), 3);
	CHECK_EQ(fnl_topic(c, "missing", &t2), -ENOENT);
	CHECK_EQ(fnl_topic(c, "", &t2), -EINVAL);
	e->topic = "t1";
	e->ordered = true;
	for (uint64_t i = 0; i < N_BASIC; i++) {
		uint64_t r = seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t kl = (size_t)snprintf(key, sizeof(key), "k%" PRIu64, i);
		size_t vl = (size_t)((r >> 20) % sizeof(value));
		struct fnl_header h[2] = {{"trace", "abc", 3}, {"nullh", NULL, -1}};
		int nh = (int)(i % 3);
		const void *kp = (i % 5 == 0) ? NULL : key;

		for (size_t j = 0; j < vl; j++)
			value[j] = (char)(i + j);
		if (i % 1000 == 7) {
			memcpy(value, "FAIL", 4);
			vl = vl < 4 ? 4 : vl;
		}
		size_t hl = ser_headers(hbuf, h, nh);
		uint16_t flags = kp ? 0 : FNL_REC_F_KEY_NULL;
		e->hash[i] = fake_hash(flags, kp, kp ? kl : 0, value, vl, hbuf, hl);
		CHECK_EQ(fnl_produce(c, t, (int32_t)(i % 4) - 1, kp, kl, value, vl, h, nh, 0, i),
		         0);
		if (i % 97 == 0)
			CHECK(fnl_poll(c, 0) >= 0);
	}
	CHECK_EQ(fnl_flush(c, 10000), 0);
	CHECK_EQ(fnl_outq_len(c), 0);
	CHECK_EQ(e->reports, N_BASIC);
	CHECK_EQ(e->failed, N_BASIC / 1000);
	CHECK_EQ(f->bad, 0);
	/* first record: null key, value, no headers, timestamp near now */
	clock_gettime(CLOCK_REALTIME, &now);
	CHECK_EQ(f->cap[0].flags, FNL_REC_F_KEY_NULL);
	CHECK_EQ(f->cap[0].topic_id, 100);
	CHECK_EQ(f->cap[0].partition, -1);
	CHECK(llabs(f->cap[0].timestamp_ms - ((int64_t)now.tv_sec * 1000)) < 60000);
	CHECK_EQ(f->cap[2].header_count, 2);
	CHECK_EQ(f->cap[1].header_count, 1);
	CHECK_EQ(f->cap[1].headers_len, 2 + 5 + 4 + 3);
	CHECK_MEM(f->cap[1].headers + 2, "trace", 5);
	CHECK_EQ(f->cap[1].key_len, 2);
	CHECK_MEM(f->cap[1].key, "k1", 2);
	CHECK_EQ(f->cap[2].partition, 1);

	/* null value, explicit timestamp, second topic */
	e->topic = NULL;
	e->ordered = false;
	CHECK_EQ(fnl_topic(c, "t2", &t2), 0);
	e->hash[N_BASIC] = fake_hash(FNL_REC_F_VALUE_NULL, "kk", 2, NULL, 0, NULL, 0);
	CHECK_EQ(fnl_produce(c, t2, 2, "kk", 2, NULL, 0, NULL, 0, 1234567, N_BASIC), 0);
	e->hash[N_BASIC + 1] =
	    fake_hash(FNL_REC_F_KEY_NULL | FNL_REC_F_VALUE_NULL, NULL, 0, NULL, 0, NULL, 0);
	CHECK_EQ(fnl_produce(c, t2, -1, NULL, 5, NULL, 7, NULL, 0, 5, N_BASIC + 1), 0);
	CHECK_EQ(fnl_flush(c, 10000), 0);
	CHECK_EQ(e->reports, N_BASIC + 2);
	/* errors that never touch the ring */
	static char big[40000];
	CHECK_EQ(fnl_produce(c, t, -1, NULL, 0, big, sizeof(big), NULL, 0, 0, 0), -EMSGSIZE);
	struct fnl_header bad = {NULL, NULL, 0};
	CHECK_EQ(fnl_produce(c, t, -1, NULL, 0, "x", 1, &bad, 1, 0, 0), -EINVAL);
	struct fnl_header badlen = {"n", "v", -2};
	CHECK_EQ(fnl_produce(c, t, -1, NULL, 0, "x", 1, &badlen, 1, 0, 0), -EINVAL);
	CHECK_EQ(fnl_produce(c, t, -2, NULL, 0, "x", 1, NULL, 0, 0, 0), -EINVAL);
	CHECK_EQ(fnl_outq_len(c), 0);
	fnl_close(c);
	fake_stop(f);
	CHECK(f->doorbells > 0);
	free(f);
	free(e);
}

static int64_t ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void test_backpressure(void)
{
	struct fake_daemon *f = calloc(1, sizeof(*f));
	struct expect *e = calloc(1, sizeof(*e));
	fnl_topic_t *t;
	fnl_client_t *c;
	struct timespec t0;
	char v[1000] = {0};
	uint64_t i;
	int rc;

	f->hold = 1;
	fake_start(f);
	for (i = 0; i < N_BASIC; i++)
		e->hash[i] = fake_hash(FNL_REC_F_KEY_NULL, NULL, 0, v, sizeof(v), NULL, 0);
	/* non-blocking: -EAGAIN when the ring is full */
	c = open_client(f, e, 64 * 1024, 0);
	CHECK_EQ(fnl_topic(c, "bp", &t), 0);
	for (i = 0; (rc = fnl_produce(c, t, 0, NULL, 0, v, sizeof(v), NULL, 0, 0, i)) == 0; i++)
		e->hash[i] = fake_hash(FNL_REC_F_KEY_NULL, NULL, 0, v, sizeof(v), NULL, 0);
	CHECK_EQ(rc, -EAGAIN);
	CHECK_EQ(i, 64 * 1024 / 1048);
	CHECK_EQ(fnl_outq_len(c), (int64_t)i);
	CHECK_EQ(fnl_flush(c, 50), -ETIMEDOUT);
	f->hold = 0;
	CHECK_EQ(fnl_flush(c, 10000), 0);
	CHECK_EQ(e->reports, i);
	fnl_close(c);

	/* timed: blocks about max_block_ms, then -EAGAIN */
	e->reports = 0;
	f->hold = 1;
	c = open_client(f, e, 64 * 1024, 200);
	CHECK_EQ(fnl_topic(c, "bp", &t), 0);
	for (i = 0; i < 64 * 1024 / 1048; i++)
		CHECK_EQ(fnl_produce(c, t, 0, NULL, 0, v, sizeof(v), NULL, 0, 0, i), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(fnl_produce(c, t, 0, NULL, 0, v, sizeof(v), NULL, 0, 0, i), -EAGAIN);
	int64_t waited = ms_since(&t0);
	CHECK(waited >= 190 && waited < 2000);
	f->hold = 0;
	CHECK_EQ(fnl_produce(c, t, 0, NULL, 0, v, sizeof(v), NULL, 0, 0, i), 0); /* wakes up */
	CHECK_EQ(fnl_flush(c, 10000), 0);
	CHECK_EQ(e->reports, i + 1);
	fnl_close(c);
	fake_stop(f);
	free(f);
	free(e);
}

/* Never polling: produce must serve reports itself when the completion budget
 * (1024 entries for a 64 KiB ring) runs out. */
static void test_no_poll(void)
{
	struct fake_daemon *f = calloc(1, sizeof(*f));
	struct expect *e = calloc(1, sizeof(*e));
	fnl_topic_t *t;
	fnl_client_t *c;
	uint64_t i;

	fake_start(f);
	c = open_client(f, e, 64 * 1024, 5000);
	CHECK_EQ(fnl_topic(c, "np", &t), 0);
	e->ordered = true;
	for (i = 0; i < N_BASIC; i++) {
		e->hash[i] = fake_hash(FNL_REC_F_KEY_NULL, NULL, 0, "x", 1, NULL, 0);
		CHECK_EQ(fnl_produce(c, t, -1, NULL, 0, "x", 1, NULL, 0, 0, i), 0);
	}
	CHECK_EQ(fnl_flush(c, 10000), 0);
	CHECK_EQ(e->reports, N_BASIC);
	fnl_close(c);
	fake_stop(f);
	free(f);
	free(e);
}

static void test_daemon_gone(void)
{
	struct fake_daemon *f = calloc(1, sizeof(*f));
	struct expect *e = calloc(1, sizeof(*e));
	fnl_topic_t *t;
	fnl_client_t *c;
	uint64_t i;
	int rc = 0;

	f->die_after = 100;
	fake_start(f);
	c = open_client(f, e, 64 * 1024, 2000);
	CHECK_EQ(fnl_topic(c, "g", &t), 0);
	for (i = 0; i < 100000 && rc == 0; i++) {
		e->hash[i % N_BASIC] = fake_hash(FNL_REC_F_KEY_NULL, NULL, 0, "y", 1, NULL, 0);
		rc = fnl_produce(c, t, -1, NULL, 0, "y", 1, NULL, 0, 0, i % N_BASIC);
	}
	CHECK_EQ(rc, -EPIPE);
	CHECK_EQ(fnl_flush(c, 1000), -EPIPE);
	CHECK_EQ(e->reports, 100);
	CHECK_EQ(fnl_topic(c, "g2", &t), -EPIPE);
	CHECK_EQ(fnl_produce(c, t, -1, NULL, 0, "y", 1, NULL, 0, 0, 0), -EPIPE);
	fnl_close(c);
	fake_stop(f);
	free(f);
	free(e);
}

static void *start_later(void *arg)
{
	struct timespec ts = {.tv_nsec = 300 * 1000000};
	nanosleep(&ts, NULL);
	fake_start(arg);
	return NULL;
}

/* funneld restarting: fnl_open() and fnl_topic() wait for it up to
 * max_block_ms (as a Kafka producer waits for its first metadata), then give
 * the error they last saw. */
static void test_wait_for_daemon(void)
{
	struct fake_daemon *f = calloc(1, sizeof(*f));
	struct fnl_conf conf;
	struct timespec t0;
	fnl_client_t *c;
	fnl_topic_t *t;
	pthread_t th;

	fnl_conf_init(&conf);
	conf.max_block_ms = 200;
	conf.socket_path = "/tmp/fnl-no-such-dir/x.sock";
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(fnl_open(&conf, &c), -ENOENT);
	CHECK(ms_since(&t0) >= 190); /* it waited (no upper bound: a slow machine) */

	/* the daemon comes up 300 ms after the client started */
	snprintf(f->path, sizeof(f->path), "/tmp/fnl-fake-%d-%p.sock", (int)getpid(), (void *)f);
	unlink(f->path);
	CHECK_EQ(pthread_create(&th, NULL, start_later, f), 0);
	conf.max_block_ms = 30000;
	conf.socket_path = f->path;
	CHECK_EQ(fnl_open(&conf, &c), 0);
	pthread_join(th, NULL);
	CHECK_EQ(fnl_topic(c, "w1", &t), 0);

	/* it goes away and comes back: a topic lookup meanwhile waits for it */
	fake_stop(f);
	f->stop = 0;
	f->attached = false;
	CHECK_EQ(pthread_create(&th, NULL, start_later, f), 0);
	CHECK_EQ(fnl_topic(c, "w2", &t), 0);
	pthread_join(th, NULL);
	CHECK_EQ(fnl_produce(c, t, -1, NULL, 0, "v", 1, NULL, 0, 0, 1), 0);
	CHECK_EQ(fnl_flush(c, 5000), 0);
	fnl_close(c);
	fake_stop(f);
	free(f);
	puts("libfunnel waits for a restarting funneld: ok");
}

int main(void)
{
	test_attach_errors();
	test_produce_basic();
	test_backpressure();
	test_no_poll();
	test_daemon_gone();
	test_wait_for_daemon();
	return 0;
}
