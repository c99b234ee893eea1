/* fnl-client-stages - libfunnel's per-record work (fnl_produce and report
 * serving in fnl_poll), in one process, for callgrind (issue 17, item 5).
 *
 * A control thread plays funneld's control plane only (HELLO -> attach the
 * ring, WELCOME with an eventfd; TOPIC -> TOPIC_OK); the main thread then
 * runs the bench client's loop: fnl_produce() of unique 100-byte values with
 * a null key, and every POLL_EVERY records (as funnel-bench's clients do) a
 * fake consumer (not counted: it reads the published records, reports each one
 * and releases the bytes, as funneld would) and fnl_poll(c, 0), which serves
 * the reports to on_report. Instructions per record:
 *
 *   valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file=cg.out \
 *       build-rel/bench/micro/fnl-client-stages 200000
 *   callgrind_annotate --inclusive=yes cg.out | grep -E 'fnl_produce|fnl_poll|on_report'
 *   callgrind_annotate --auto=yes cg.out   # per source line: group into stages
 *
 * Natively it prints the thread's CPU ns per record of the produce calls and
 * of the polls (each timed per POLL_EVERY records, so the clock reads cost
 * little).
 * Usage: fnl-client-stages [RECORDS (default 2000000)]
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/ring/ctlproto.h"
#include "dataplane/ring/ring.h"
#include "funnel.h"

#define VALUE_BYTES 100
#define POLL_EVERY  256 /* funnel-bench's clients poll every 256 records */
#define VALUES_N    4096
#define NOINLINE    __attribute__((noinline))

static struct fnl_ring_dview dv;
static _Atomic int attached; /* release by the control thread, acquire by main */
static uint64_t rd;          /* fake consumer's read cursor */
static uint64_t reports, offset_next;
static char values[VALUES_N][VALUE_BYTES];
static char sock_path[108];
static int lfd;

/* the thread's CPU time: the machine is shared, so wall time would count the
 * time other processes ran on this core */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* control plane: HELLO and TOPIC, then wait for the close */
static void *ctl_thread(void *arg)
{
	(void)arg;
	int cfd = accept(lfd, NULL, NULL);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cfd < 0 || efd < 0)
		abort();
	for (;;) {
		struct fnl_ctl_msg m;
		int fd = -1;
		if (fnl_ctl_recv(cfd, &m, &fd) < 0 || m.type == FNL_CTL_BYE)
			break;
		if (m.type == FNL_CTL_HELLO) {
			if (fd < 0 || fnl_ring_attach(fd, &dv) < 0)
				abort();
			close(fd);
			/* release: the view is written before main uses it */
			atomic_store_explicit(&attached, 1, memory_order_release);
			fnl_ctl_msg_init(&m, FNL_CTL_WELCOME);
			m.arg = 1;
			fnl_ctl_send(cfd, &m, efd);
		} else if (m.type == FNL_CTL_TOPIC) {
			fnl_ctl_msg_init(&m, FNL_CTL_TOPIC_OK);
			m.arg = 7;
			m.arg2 = 12;
			fnl_ctl_send(cfd, &m, -1);
		}
	}
	close(cfd);
	close(efd);
	return NULL;
}

/* fake funneld (not counted): takes every published record, reports it in
 * ring order and releases its bytes */
static NOINLINE void fake_consume(void)
{
	struct fnl_rec_view r;
	struct fnl_cmp e[POLL_EVERY * 2];
	uint32_t n = 0;
	uint64_t end = rd;
	int rc;

	while (n < POLL_EVERY * 2 && (rc = fnl_ring_next(&dv, &rd, &r)) == 1) {
		e[n] = (struct fnl_cmp){.opaque = r.h.opaque,
		                        .offset = (int64_t)offset_next++,
		                        .partition = (int32_t)(r.h.opaque % 12),
		                        .topic_id = r.h.topic_id};
		n++;
		end = r.end;
	}
	if (rc < 0 || fnl_ring_cmp_push_burst(&dv, e, n) != n)
		abort();
	if (n && fnl_ring_release(&dv, end) < 0)
		abort();
}

static void on_report(const struct fnl_report *r, void *ctx)
{
	(void)ctx;
	if (r->err)
		abort();
	reports++;
}

static NOINLINE void make_values(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < VALUES_N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int n = snprintf(
		    values[i], VALUE_BYTES,
		    "{\"ts\":%d,\"req\":\"%016llx\",\"user\":%d,\"msg\":\"GET /api/items "
		    "200\",\"ms\":%d}",
		    1700000000 + i, (unsigned long long)x, (int)(x % 9973), (int)(x % 500));
		memset(values[i] + n, ' ', VALUE_BYTES - (size_t)n);
	}
}

int main(int argc, char **argv)
{
	long records = argc > 1 ? atol(argv[1]) : 2000000;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	pthread_t th;

	make_values();
	snprintf(sock_path, sizeof(sock_path), "/tmp/fnl-client-stages.%d.sock", (int)getpid());
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0)
		return perror("socket"), 1;
	pthread_create(&th, NULL, ctl_thread, NULL);

	struct fnl_conf conf;
	fnl_client_t *c;
	fnl_topic_t *t;
	fnl_conf_init(&conf);
	conf.socket_path = sock_path;
	conf.on_report = on_report;
	if (fnl_open(&conf, &c) < 0 || fnl_topic(c, "bench", &t) < 0)
		return fprintf(stderr, "open/topic failed\n"), 1;
	/* acquire: pairs with the control thread's release after attaching */
	while (!atomic_load_explicit(&attached, memory_order_acquire))
		;

	double produce_ns = 0, poll_ns = 0;
	for (long i = 0; i < records; i += POLL_EVERY) {
		long n = records - i < POLL_EVERY ? records - i : POLL_EVERY;
		double t0 = now_ns();
		for (long k = 0; k < n; k++) {
			int rc = fnl_produce(c, t, -1, NULL, 0, values[(i + k) & (VALUES_N - 1)],
			                     VALUE_BYTES, NULL, 0, 0, (uint64_t)(i + k));
			if (rc < 0)
				return fprintf(stderr, "fnl_produce: %s\n", fnl_strerror(rc)), 1;
		}
		double t1 = now_ns();
		fake_consume();
		double t2 = now_ns();
		if (fnl_poll(c, 0) < 0)
			return fprintf(stderr, "fnl_poll failed\n"), 1;
		double t3 = now_ns();
		produce_ns += t1 - t0;
		poll_ns += t3 - t2;
	}
	if ((uint64_t)records != reports)
		return fprintf(stderr, "reports %llu of %ld\n", (unsigned long long)reports,
		               records),
		       1;
	printf(
	    "{\"records\": %ld, \"produce_ns_per_record\": %.1f, \"poll_ns_per_record\": %.1f}\n",
	    records, produce_ns / (double)records, poll_ns / (double)records);
	fnl_close(c);
	pthread_join(th, NULL);
	close(lfd);
	unlink(sock_path);
	return 0;
}
