/* Two processes: a forked client produces 1,000,000 records of random sizes
 * through a sealed memfd ring; the parent (daemon role) consumes them with
 * fnl_ring_next, checks every byte, completes them in small delayed groups,
 * releases rec_tail in order and wakes the client; the client checks every
 * report. Both sides sleep with the real protocol (eventfd doorbell, futex),
 * the client with the wake marks libfunnel uses (half the ring free on a full
 * ring, any report when draining): a lost wake-up shows as a timed-out sleep. */
#include "ring_testutil.h"
#include "ring_recgen.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#define RECORDS   1000000u
#define REC_BYTES (256u * 1024u)
#define CMP       1024u
#define TOPIC     3u
#define HOLD_MAX  64u

static uint32_t rand_len(uint64_t *s)
{
	uint64_t r = test_rand(s);
	uint32_t max = (r & 0xff) == 0 ? 16384 : 600; /* mostly small, some big */

	return fnl_ring_align8(FNL_REC_HDR_BYTES + (r >> 8) % max);
}

static uint64_t client_reports(struct fnl_ring_cview *v, uint64_t reported)
{
	struct fnl_cmp c;

	while (fnl_ring_cmp_pop(v, &c) == 1) {
		CHECK_EQ(c.opaque, reported);
		CHECK_EQ(c.offset, (int64_t)reported * 2);
		CHECK_EQ(c.topic_id, TOPIC);
		CHECK_EQ(c.partition, (int32_t)(reported % 7));
		CHECK_EQ(c.err, reported % 1000 == 0 ? 10 : 0);
		reported++;
	}
	fnl_ring_cmp_commit(v);
	return reported;
}

struct waits {
	uint64_t sleeps, timeouts, early; /* early: woken before the marks held */
};

static void client_wait(struct fnl_ring_cview *v, uint64_t rec_mark, uint64_t cmp_mark,
                        struct waits *w)
{
	uint32_t seen;

	if (!fnl_ring_client_wait_begin(v, rec_mark, cmp_mark, &seen)) {
		w->sleeps++;
		if (fnl_ring_wait_client(v, seen, 50) == -ETIMEDOUT)
			w->timeouts++;
		else if (!fnl_ring_client_wake_due(v, rec_mark, cmp_mark))
			w->early++; /* a wake-up meant for an earlier sleep */
	}
	fnl_ring_client_wait_end(v);
}

static int client(void *base, int efd)
{
	struct fnl_ring_cview v;
	uint64_t seed = 12345, reported = 0, i, bells = 0, rec_mark, cmp_mark;
	struct waits w = {0};

	fnl_ring_cview_init(&v, base, REC_BYTES, CMP);
	for (i = 0; i < RECORDS; i++) {
		uint32_t len = rand_len(&seed);
		void *p;

		while ((p = fnl_ring_reserve(&v, len)) == NULL) {
			uint64_t before = reported;
			reported = client_reports(&v, reported);
			if (reported != before)
				continue;
			/* acquire: pairs with the daemon's release of rec_tail */
			uint64_t tail =
			    atomic_load_explicit(&v.hdr->rec_tail, memory_order_acquire);
			fnl_ring_full_marks(&v, len, tail, &rec_mark, &cmp_mark);
			client_wait(&v, rec_mark, cmp_mark, &w);
		}
		recgen_write(p, len, TOPIC, i);
		if (fnl_ring_publish(&v)) {
			uint64_t one = 1;
			CHECK_EQ(write(efd, &one, 8), 8);
			bells++;
		}
		if ((i & 63) == 0)
			reported = client_reports(&v, reported);
	}
	while (reported < RECORDS) {
		uint64_t before = reported;
		reported = client_reports(&v, reported);
		if (reported == before)
			client_wait(&v, 0, reported + 1, &w); /* any report */
	}
	CHECK_EQ(fnl_ring_outstanding(&v), 0);
	fprintf(stderr,
	        "client: %" PRIu64 " records, %" PRIu64 " doorbells, %" PRIu64 " sleeps (%" PRIu64
	        " timed out, %" PRIu64 " woken early)\n",
	        i, bells, w.sleeps, w.timeouts, w.early);
	/* the daemon never waits for anything but records: a sleep ends with its
	 * wake-up, and one that times out (50 ms) is a lost wake-up, or a very
	 * loaded machine */
	CHECK(w.timeouts <= w.sleeps / 10 + 5);
	return 0;
}

struct held {
	uint64_t end, opaque;
	int32_t partition;
};

static void complete(struct fnl_ring_dview *d, struct held *h, uint32_t n)
{
	struct fnl_cmp c[HOLD_MAX];
	uint32_t i;

	if (!n)
		return;
	for (i = 0; i < n; i++) {
		c[i] = (struct fnl_cmp){.opaque = h[i].opaque,
		                        .offset = (int64_t)h[i].opaque * 2,
		                        .partition = h[i].partition,
		                        .topic_id = TOPIC};
		c[i].err = h[i].opaque % 1000 == 0 ? 10 : 0;
	}
	CHECK_EQ(fnl_ring_cmp_push_burst(d, c, n), n);
	CHECK_EQ(fnl_ring_release(d, h[n - 1].end), 0);
	if (fnl_ring_client_wants_wake(d))
		fnl_ring_wake_client(d);
}

static void daemon_sleep(struct fnl_ring_dview *d, uint64_t cursor, int efd, uint64_t *sleeps)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	uint64_t v;

	fnl_ring_set_sleeping(d, true);
	if (!fnl_ring_pending(d, cursor)) {
		(*sleeps)++;
		if (poll(&p, 1, 100) == 1)
			CHECK_EQ(read(efd, &v, 8), 8);
	}
	fnl_ring_set_sleeping(d, false);
}

int main(void)
{
	struct fnl_ring_dview d;
	struct held hold[HOLD_MAX];
	uint64_t cursor = 0, got = 0, seed = 777, sleeps = 0;
	uint32_t nheld = 0, hold_target = 1;
	size_t total;
	void *base;
	int fd, efd, status;
	pid_t pid;

	CHECK_EQ(fnl_ring_create(REC_BYTES, CMP, &fd, &base, &total), 0);
	CHECK_EQ(fnl_ring_attach(fd, &d), 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(efd >= 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(client(base, efd));
	munmap(base, total); /* the parent only uses its own (attached) mapping */

	while (got < RECORDS) {
		struct fnl_rec_view r;
		int rc = fnl_ring_next(&d, &cursor, &r);

		CHECK(rc >= 0);
		if (rc == 0) {
			complete(&d, hold, nheld); /* nothing new: flush what we hold */
			nheld = 0;
			daemon_sleep(&d, cursor, efd, &sleeps);
			continue;
		}
		recgen_check(&r, TOPIC, got);
		hold[nheld++] = (struct held){r.end, r.h.opaque, (int32_t)(got % 7)};
		got++;
		if (nheld >= hold_target) {
			complete(&d, hold, nheld);
			nheld = 0;
			hold_target = 1 + (uint32_t)(test_rand(&seed) % HOLD_MAX);
		}
	}
	complete(&d, hold, nheld);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(atomic_load(&d.hdr->rec_tail), cursor);
	fprintf(stderr, "daemon: %" PRIu64 " records, %" PRIu64 " sleeps\n", got, sleeps);
	fnl_ring_detach(&d, true);
	close(efd);
	close(fd);
	return 0;
}
