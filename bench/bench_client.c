/* bench_client.c - the body of one benchmark client process: libfunnel or its
 * own librdkafka producer. Records come from the corpus made before the
 * fork. One append call in --time-every (default 64, the same in every mode)
 * is timed with the TSC, and its delivery report measures append -> report
 * (the append's TSC travels as the record's opaque; the others carry 0 and
 * their reports are only counted). Timing every call cost both producers
 * three TSC reads a record (15 ns each on this rig's VM, where rdtsc is
 * slow) and two histogram updates: ~50 ns of the clients' CPU per record
 * that was the rig's, not the producer's (bench/README.md). */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "bench_run.h"
#include "funnel.h"

#define KEYS_N         4096 /* key table entries (a power of two) */
#define POLL_EVERY     256  /* records between non-blocking report polls */
#define PROGRESS_EVERY 1024 /* records between progress counter stores */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* The client's records come from the corpus (made by the parent before the
 * fork, bench_corpus.c): client idx of a run sends records idx*R .. idx*R+R-1,
 * none twice. Keys (--keys K) are user-N for K distinct N, a table of
 * KEYS_N made before the start line. */
struct pool {
	const struct bench_corpus *c;
	uint64_t first;
	char keys[KEYS_N][24];
	size_t klen[KEYS_N];
};

static int pool_init(struct pool *p, const struct bench_opts *o, int client, long records)
{
	p->c = o->corpus;
	p->first = (uint64_t)client * (uint64_t)records;
	if (!p->c || p->c->n < p->first + (uint64_t)records)
		return -ENOMEM;
	for (long i = 0; i < KEYS_N; i++) {
		p->klen[i] = 0;
		if (o->keys > 0) {
			long k =
			    (long)(mix((uint64_t)i * 31 + (uint64_t)client) % (uint64_t)o->keys);
			p->klen[i] =
			    (size_t)snprintf(p->keys[i], sizeof(p->keys[i]), "user-%ld", k);
		}
	}
	return 0;
}

/* report-side state, process-wide (one client per process) */
static struct bench_slot *g_slot;
static double g_tsc_ns;
static uint64_t g_acked, g_failed;

/* TSC ticks from t0 to t1 in nanoseconds */
static uint64_t tsc_ns(uint64_t t0, uint64_t t1)
{
	return (uint64_t)((double)(t1 - t0) * g_tsc_ns);
}

/* t_append_tsc: the timed append's TSC, 0 for an untimed one */
static void note_report(uint64_t t_append_tsc, int err)
{
	if (t_append_tsc)
		bench_hist_add(&g_slot->e2e_ns, tsc_ns(t_append_tsc, __rdtsc()));
	if (err)
		g_failed++;
	else
		g_acked++;
	if (((g_acked + g_failed) & (PROGRESS_EVERY - 1)) == 0) {
		atomic_store_explicit(&g_slot->acked, g_acked, memory_order_relaxed);
		atomic_store_explicit(&g_slot->failed, g_failed, memory_order_relaxed);
	}
}

static uint64_t tv_ns(const struct timeval *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_usec * 1000u;
}

static void slow_note(struct bench_slow *st, uint64_t slow_ns, uint64_t wall_ns,
                      const struct rusage *a, const struct rusage *b)
{
	if (wall_ns < slow_ns)
		return;
	uint64_t cpu_ns = tv_ns(&b->ru_utime) + tv_ns(&b->ru_stime) - tv_ns(&a->ru_utime) -
	                  tv_ns(&a->ru_stime);
	st->calls++;
	st->wall_ns += wall_ns;
	st->cpu_ns += cpu_ns;
	st->offcpu += cpu_ns * 5 < wall_ns;
	st->faulted += b->ru_minflt + b->ru_majflt > a->ru_minflt + a->ru_majflt;
	st->preempted += b->ru_nivcsw > a->ru_nivcsw;
	st->blocked += b->ru_nvcsw > a->ru_nvcsw;
}

/* --slow-ns: time a plain copy of the record into a private buffer next to
 * each append: the same thread, load and pacing, without funnel or librdkafka.
 * What the control's tail shows, the machine does to any code. It goes before
 * or after the append by a hash of the record number, so both get the first
 * moments after the pacing sleep equally often (that is when a paced thread
 * is most often interrupted: other threads' timers fire then). */
#define CONTROL_BYTES (4u << 20)
static uint8_t *g_control;
static uint32_t g_control_off;

static void control_init(const struct bench_opts *o)
{
	if (o->slow_ns && (g_control = malloc(CONTROL_BYTES)))
		memset(g_control, 1, CONTROL_BYTES); /* no first-touch faults in the timing */
}

static bool control_first(long i)
{
	return ((uint64_t)i * 0x9e3779b97f4a7c15ull) >> 63;
}

static void control_copy(struct bench_slot *s, uint64_t slow_ns, const void *val, size_t len)
{
	if (!g_control || len > 4096)
		return;
	struct rusage u0, u1;
	getrusage(RUSAGE_THREAD, &u0);
	uint64_t t0 = __rdtsc();
	memcpy(g_control + g_control_off, val, len);
	__asm__ volatile("" ::: "memory");
	uint64_t t1 = __rdtsc();
	getrusage(RUSAGE_THREAD, &u1);
	g_control_off = (g_control_off + (uint32_t)((len + 63) & ~63u)) & (CONTROL_BYTES - 8192);
	uint64_t wall = tsc_ns(t0, t1);
	bench_hist_add(&s->control_ns, wall);
	slow_note(&s->control_slow, slow_ns, wall, &u0, &u1);
}

/* Around each timed append: the control (when it goes first) and the usage
 * before it; after it, the histogram, the slow-call note and the control
 * (when it goes second). */
static void call_begin(struct bench_slot *s, const struct bench_opts *o, long i, const void *val,
                       size_t len, struct rusage *u0)
{
	if (!o->slow_ns)
		return;
	if (control_first(i))
		control_copy(s, o->slow_ns, val, len);
	getrusage(RUSAGE_THREAD, u0);
}

static void call_end(struct bench_slot *s, const struct bench_opts *o, long i, const void *val,
                     size_t len, uint64_t t0, uint64_t t1, const struct rusage *u0)
{
	uint64_t wall = tsc_ns(t0, t1);
	bench_hist_add(&s->append_ns, wall);
	if (!o->slow_ns)
		return;
	struct rusage u1;
	getrusage(RUSAGE_THREAD, &u1);
	slow_note(&s->slow, o->slow_ns, wall, u0, &u1);
	if (!control_first(i))
		control_copy(s, o->slow_ns, val, len);
}

static void fail(struct bench_slot *s, int code, const char *what, const char *why)
{
	s->status = code;
	snprintf(s->err, sizeof(s->err), "%.30s: %.60s", what, why);
}

/* CPU time of the whole process (every thread: librdkafka's too) */
static double proc_cpu_s(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return bench_ru_cpu_s(&u);
}

/* waits for the parent's start signal; returns the process's CPU time then,
 * so that cpu_run_s leaves out what is not the producer's: the fork (page
 * tables of the parent's corpus), set-up, and the exit */
static double wait_go(struct bench_shm *shm)
{
	atomic_fetch_add_explicit(&shm->ready, 1, memory_order_release);
	struct timespec d = {.tv_nsec = 100 * 1000};
	while (!atomic_load_explicit(&shm->go, memory_order_acquire))
		nanosleep(&d, NULL);
	return proc_cpu_s();
}

/* paces to `rate` records/s: returns when record i is due. Sleeps (1 us
 * timer slack) rather than spins, so a paced client's CPU time is what a real
 * application that waits for work would spend; records due together go out
 * back to back. */
static void pace(uint64_t t0_ns, long i, long rate, void (*poll)(void *), void *arg)
{
	uint64_t due = t0_ns + (uint64_t)((double)i * 1e9 / (double)rate);
	uint64_t now = bench_now_ns();
	if (now >= due)
		return;
	poll(arg);
	now = bench_now_ns();
	if (now < due) {
		struct timespec d = {.tv_sec = (time_t)((due - now) / 1000000000u),
		                     .tv_nsec = (long)((due - now) % 1000000000u)};
		nanosleep(&d, NULL);
	}
}

static void finish(struct bench_slot *s, long records)
{
	atomic_store_explicit(&s->produced, (uint64_t)records, memory_order_relaxed);
	atomic_store_explicit(&s->acked, g_acked, memory_order_relaxed);
	atomic_store_explicit(&s->failed, g_failed, memory_order_relaxed);
	if (!s->status && (g_acked != (uint64_t)records || g_failed))
		snprintf(s->err, sizeof(s->err), "acked %llu failed %llu of %ld",
		         (unsigned long long)g_acked, (unsigned long long)g_failed, records),
		    s->status = 3;
	atomic_store_explicit(&s->done, 1, memory_order_release);
}

/* ---- funnel ---- */

static void fnl_on_report(const struct fnl_report *r, void *ctx)
{
	(void)ctx;
	note_report(r->opaque, r->err);
}

static void fnl_poll0(void *c)
{
	fnl_poll(c, 0);
}

int bench_client_funnel(const struct bench_opts *o, struct bench_shm *shm, int idx, long records,
                        long rate)
{
	struct bench_slot *s = &shm->slots[idx];
	g_slot = s;
	g_tsc_ns = o->tsc_ns;
	control_init(o);
	bench_pin(o->client_cpu);
	bench_sched_batch(o->sched_batch);
	struct pool pool;
	if (pool_init(&pool, o, idx, records) < 0) {
		fail(s, 2, "pool", "out of memory");
		wait_go(shm);
		finish(s, records);
		return 2;
	}
	struct fnl_conf conf;
	fnl_conf_init(&conf);
	conf.socket_path = o->socket;
	conf.on_report = fnl_on_report;
	fnl_client_t *c = NULL;
	fnl_topic_t *t = NULL;
	int rc = fnl_open(&conf, &c);
	if (rc < 0)
		fail(s, 2, "fnl_open", fnl_strerror(rc));
	else if ((rc = fnl_topic(c, o->topic, &t)) < 0)
		fail(s, 2, "fnl_topic", fnl_strerror(rc));
	double cpu0 = wait_go(shm);
	if (s->status) {
		finish(s, records);
		return 2;
	}
	if (rate)
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	s->t_start_ns = bench_now_ns();
	const long tmask = o->time_every - 1;
	long i;
	for (i = 0; i < records; i++) {
		int k = (int)(i & (KEYS_N - 1));
		const void *key = o->keys > 0 ? pool.keys[k] : NULL;
		size_t vlen;
		const char *val = bench_corpus_rec(pool.c, pool.first + (uint64_t)i, &vlen);
		if (rate)
			pace(s->t_start_ns, i, rate, fnl_poll0, c);
		if (i & tmask) { /* untimed: opaque 0 */
			rc = fnl_produce(c, t, -1, key, pool.klen[k], val, vlen, NULL, 0, 0, 0);
			if (rc < 0) {
				fail(s, 3, "fnl_produce", fnl_strerror(rc));
				break;
			}
		} else {
			struct rusage u0;
			call_begin(s, o, i, val, vlen, &u0);
			uint64_t t0 = __rdtsc();
			rc = fnl_produce(c, t, -1, key, pool.klen[k], val, vlen, NULL, 0, 0, t0);
			uint64_t t1 = __rdtsc();
			if (rc < 0) {
				fail(s, 3, "fnl_produce", fnl_strerror(rc));
				break;
			}
			call_end(s, o, i, val, vlen, t0, t1, &u0);
		}
		if ((i & (POLL_EVERY - 1)) == POLL_EVERY - 1)
			fnl_poll(c, 0);
		if ((i & (PROGRESS_EVERY - 1)) == PROGRESS_EVERY - 1)
			atomic_store_explicit(&s->produced, (uint64_t)i + 1, memory_order_relaxed);
	}
	rc = fnl_flush(c, 120000);
	s->t_end_ns = bench_now_ns();
	s->cpu_run_s = proc_cpu_s() - cpu0;
	if (rc < 0 && !s->status)
		fail(s, 3, "fnl_flush", fnl_strerror(rc));
	fnl_close(c);
	finish(s, records);
	return s->status;
}

/* ---- librdkafka ---- */

static uint64_t g_stats_seen_ns;
static uint64_t g_produce_reqs, g_connects;

static void rdk_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	note_report((uint64_t)(uintptr_t)m->_private, m->err != 0);
}

/* sums "key":N over the whole statistics JSON (only the brokers' objects
 * carry "connects" and the request-type map carries "Produce") */
static uint64_t json_sum(const char *json, const char *key)
{
	uint64_t sum = 0;
	size_t kl = strlen(key);
	for (const char *p = json; (p = strstr(p, key)); p += kl)
		sum += strtoull(p + kl, NULL, 10);
	return sum;
}

static int rdk_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk;
	(void)len;
	(void)opaque;
	g_produce_reqs = json_sum(json, "\"Produce\":");
	g_connects = json_sum(json, "\"connects\":");
	g_stats_seen_ns = bench_now_ns();
	if (getenv("FNL_BENCH_DUMP_STATS"))
		fprintf(stderr, "%s\n", json);
	return 0;
}

static void rdk_poll0(void *rk)
{
	rd_kafka_poll(rk, 0);
}

static rd_kafka_t *rdk_new(const struct bench_opts *o, struct bench_slot *s)
{
	char err[256], num[32];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct {
		const char *k, *v;
	} kv[] = {{"bootstrap.servers", o->bootstrap},
	          {"enable.idempotence", "true"},
	          {"acks", "all"},
	          {"compression.codec", "zstd"},
	          {"statistics.interval.ms", "1000"},
	          {"linger.ms", NULL},
	          {"batch.size", NULL},
	          {"compression.level", NULL}};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		const char *v = kv[i].v;
		/* batch.size 0: librdkafka's own defaults (batch.size 1000000,
		 * batch.num.messages 10000, linger.ms 5) stay as they are */
		if (!strcmp(kv[i].k, "linger.ms")) {
			if (!o->batch_size)
				continue;
			snprintf(num, sizeof(num), "%d", o->linger_ms), v = num;
		} else if (!strcmp(kv[i].k, "batch.size")) {
			if (!o->batch_size)
				continue;
			snprintf(num, sizeof(num), "%d", o->batch_size), v = num;
		} else if (!strcmp(kv[i].k, "compression.level")) {
			if (o->zstd_level < 0)
				continue;
			snprintf(num, sizeof(num), "%d", o->zstd_level), v = num;
		}
		if (rd_kafka_conf_set(conf, kv[i].k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
			fail(s, 2, kv[i].k, err);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	if (o->security &&
	    (rd_kafka_conf_set(conf, "security.protocol", "ssl", err, sizeof(err)) ||
	     rd_kafka_conf_set(conf, "ssl.ca.location", o->ssl_ca, err, sizeof(err)) ||
	     rd_kafka_conf_set(conf, "ssl.endpoint.identification.algorithm", "https", err,
	                       sizeof(err)))) {
		fail(s, 2, "security", err);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, rdk_dr);
	rd_kafka_conf_set_stats_cb(conf, rdk_stats);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		fail(s, 2, "rd_kafka_new", err);
	return rk;
}

int bench_client_rdk(const struct bench_opts *o, struct bench_shm *shm, int idx, long records,
                     long rate)
{
	struct bench_slot *s = &shm->slots[idx];
	g_slot = s;
	g_tsc_ns = o->tsc_ns;
	control_init(o);
	bench_pin(o->client_cpu);
	bench_sched_batch(o->sched_batch);
	struct pool pool;
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_t *rkt = NULL;
	if (pool_init(&pool, o, idx, records) < 0)
		fail(s, 2, "pool", "out of memory");
	else if ((rk = rdk_new(o, s))) {
		rkt = rd_kafka_topic_new(rk, o->topic, NULL);
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
		if (e)
			fail(s, 2, "metadata", rd_kafka_err2str(e));
		else
			rd_kafka_metadata_destroy(md);
	}
	double cpu0 = wait_go(shm);
	if (s->status) {
		finish(s, records);
		return 2;
	}
	if (rate)
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	s->t_start_ns = bench_now_ns();
	const long tmask = o->time_every - 1;
	for (long i = 0; i < records; i++) {
		int k = (int)(i & (KEYS_N - 1));
		size_t vlen;
		const char *val = bench_corpus_rec(pool.c, pool.first + (uint64_t)i, &vlen);
		const void *key = o->keys > 0 ? pool.keys[k] : NULL;
		if (rate)
			pace(s->t_start_ns, i, rate, rdk_poll0, rk);
		rd_kafka_resp_err_t e;
		struct rusage u0;
		bool timed = !(i & tmask); /* as in the funnel loop: 1 call in --time-every */
		if (timed)
			call_begin(s, o, i, val, vlen, &u0);
		uint64_t t0 = timed ? __rdtsc() : 0; /* untimed: opaque 0 */
		for (;;) {
			/* like a Java send() that blocks on a full buffer: retry until queued */
			e = rd_kafka_producev(
			    rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_VALUE((void *)val, vlen),
			    RD_KAFKA_V_KEY(key, pool.klen[k]),
			    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)t0), RD_KAFKA_V_END);
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			s->eagain++;
			rd_kafka_poll(rk, 1);
		}
		if (e) {
			fail(s, 3, "producev", rd_kafka_err2str(e));
			break;
		}
		if (timed)
			call_end(s, o, i, val, vlen, t0, __rdtsc(), &u0);
		if ((i & (POLL_EVERY - 1)) == POLL_EVERY - 1)
			rd_kafka_poll(rk, 0);
		if ((i & (PROGRESS_EVERY - 1)) == PROGRESS_EVERY - 1)
			atomic_store_explicit(&s->produced, (uint64_t)i + 1, memory_order_relaxed);
	}
	rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 120000);
	s->t_end_ns = bench_now_ns();
	s->cpu_run_s = proc_cpu_s() - cpu0;
	if (fe && !s->status)
		fail(s, 3, "flush", rd_kafka_err2str(fe));
	bench_sockets(0, o->ports, o->nports, &s->sock);
	/* the statistics are cumulative: wait for one emitted after the flush */
	uint64_t flushed = bench_now_ns();
	while (g_stats_seen_ns < flushed && bench_now_ns() - flushed < 2500000000ull)
		rd_kafka_poll(rk, 50);
	s->produce_requests = g_produce_reqs;
	s->rdk_connects = g_connects;
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	finish(s, records);
	return s->status;
}
