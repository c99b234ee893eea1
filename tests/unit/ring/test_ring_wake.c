/* Wake-up hysteresis end to end: libfunnel in a forked child produces into a
 * 64 KiB ring; the parent runs the fake daemon and completes records one at a
 * time, as far as the test lets it. Checked:
 *   1. a produce blocked on a full ring is woken when half the ring is free,
 *      not by the releases before (the marks in the header, the daemon's
 *      decisions, and the child not moving until then);
 *   2. likewise when the completion slots run out (small records): woken once
 *      half of them can be freed;
 *   3. flat out against a slower daemon nothing is lost or reordered (every
 *      report in order, its offset the hash of the bytes) and the daemon sends
 *      far fewer wake-ups than it releases records;
 *   4. fnl_poll is still woken by a single report. */
#include "fake_daemon.h"
#include "funnel.h"

#include <sys/wait.h>
#include <time.h>

#define RING    (64u * 1024u)
#define VAL     992u /* DATA record: 56 + 992 = 1048 bytes */
#define BIG     1048u
#define FILL    (RING / BIG) /* 62 records fit, the 63rd blocks */
#define CMP     1024u        /* libfunnel: one slot per 64 ring bytes */
#define N_BIG   20000u       /* opaques 0 .. N_BIG-1: 1048-byte records */
#define N_SMALL 20000u       /* then 56-byte records (no key, no value) */
#define TOTAL   (N_BIG + N_SMALL)

/* ------------------------------------------------------------------ child */

struct child {
	uint64_t next;
	int64_t small_hash;
};

static void big_value(uint64_t opaque, char *v)
{
	for (uint32_t j = 0; j < VAL; j++)
		v[j] = (char)(opaque * 7 + j);
}

static void on_report(const struct fnl_report *r, void *ctx)
{
	struct child *ch = ctx;
	char v[VAL];
	int64_t want = ch->small_hash;

	CHECK_EQ(r->opaque, ch->next); /* nothing lost, nothing reordered */
	CHECK_EQ(r->err, 0);
	if (r->opaque < N_BIG) {
		big_value(r->opaque, v);
		want = fake_hash(FNL_REC_F_KEY_NULL, NULL, 0, v, VAL, NULL, 0);
	}
	CHECK_EQ(r->offset, want);
	ch->next++;
}

static int child_main(const char *path)
{
	struct child ch = {.small_hash = fake_hash(FNL_REC_F_KEY_NULL | FNL_REC_F_VALUE_NULL, NULL,
	                                           0, NULL, 0, NULL, 0)};
	struct fnl_conf conf;
	struct timespec t0, t1;
	fnl_client_t *c;
	fnl_topic_t *t;
	char v[VAL];
	uint64_t i;

	fnl_conf_init(&conf);
	conf.socket_path = path;
	conf.ring_bytes = RING;
	conf.max_block_ms = 60000;
	conf.on_report = on_report;
	conf.ctx = &ch;
	CHECK_EQ(fnl_open(&conf, &c), 0);
	CHECK_EQ(fnl_topic(c, "wake", &t), 0);
	for (i = 0; i < N_BIG; i++) { /* phases 1 and 3a */
		big_value(i, v);
		CHECK_EQ(fnl_produce(c, t, 0, NULL, 0, v, VAL, NULL, 0, 0, i), 0);
	}
	CHECK_EQ(fnl_flush(c, 60000), 0);
	CHECK_EQ(ch.next, N_BIG);
	for (; i < TOTAL; i++) /* phases 2 and 3b */
		CHECK_EQ(fnl_produce(c, t, 0, NULL, 0, NULL, 0, NULL, 0, 0, i), 0);
	CHECK_EQ(fnl_flush(c, 60000), 0);
	CHECK_EQ(ch.next, TOTAL);
	/* phase 4: one record, held by the daemon until we sleep in fnl_poll */
	CHECK_EQ(fnl_produce(c, t, 0, NULL, 0, NULL, 0, NULL, 0, 0, TOTAL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(fnl_poll(c, 60000), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_EQ(ch.next, TOTAL + 1);
	fprintf(stderr, "child: %u records, all reported in order; poll woke after %ld us\n",
	        TOTAL + 1,
	        (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	fnl_close(c);
	return 0;
}

/* ------------------------------------------------------------------ parent */

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

/* Waits (up to 30 s) until the child sleeps with these marks. */
static void wait_sleeping(struct fake_daemon *f, uint64_t rec_mark, uint64_t cmp_mark)
{
	for (int i = 0; i < 30000; i++) {
		if (f->attached) {
			struct fnl_ring_hdr *h = f->d.hdr;
			/* acquire: as the daemon reads the marks after client_waiting */
			if (atomic_load_explicit(&h->client_waiting, memory_order_acquire) == 1 &&
			    atomic_load_explicit(&h->wake_rec_tail, memory_order_relaxed) ==
			        rec_mark &&
			    atomic_load_explicit(&h->wake_cmp_head, memory_order_relaxed) ==
			        cmp_mark)
				return;
		}
		sleep_us(1000);
	}
	fprintf(stderr, "the child never slept with marks %" PRIu64 "/%" PRIu64 "\n", rec_mark,
	        cmp_mark);
	CHECK(0);
}

/* Lets the daemon complete records up to limit and waits (up to ~30 s) until
 * it has. */
static void complete_to(struct fake_daemon *f, uint64_t limit)
{
	f->limit = limit;
	f->hold = 0;
	fake_kick(f);
	for (int i = 0; f->records < limit; i++) {
		CHECK(i < 600000);
		sleep_us(50);
	}
}

static uint64_t rec_head(struct fake_daemon *f)
{
	/* acquire: nothing read behind it, but as any reader of rec_head */
	return atomic_load_explicit(&f->d.hdr->rec_head, memory_order_acquire);
}

/* The daemon completes (and releases) records one at a time, checking for a
 * wake-up after each: up to last_below the child's marks do not hold, after
 * the next they do. No wake-up may come before; exactly one comes then,
 * unless libfunnel's 100 ms re-check (WAIT_SLICE_MS) let the child use the
 * space below its marks in between, or caught it between two waits, at that
 * very moment: then the daemon rightly sends none and this returns false. */
static bool check_wake_at(struct fake_daemon *f, uint64_t last_below)
{
	uint64_t wakes = f->wakes;

	complete_to(f, last_below);
	CHECK_EQ(f->wakes, wakes); /* short of the marks: never */
	complete_to(f, last_below + 1);
	if (f->wakes == wakes + 1)
		return true;
	CHECK_EQ(f->wakes, wakes);
	fprintf(stderr, "parent: the child's 100 ms re-check came in between\n");
	return false;
}

int main(void)
{
	struct fake_daemon *f = calloc(1, sizeof(*f));
	uint64_t head, rec_mark, cmp_mark, wakes0;
	int status;
	pid_t pid;

	CHECK(f != NULL);
	f->hold = 1;
	fake_start(f);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_main(f->path));

	/* 1. FILL records, the next blocks on the record area. Its mark: it fits
	 *    (PAD included) and half the ring is free; no completion mark. */
	head = (uint64_t)FILL * BIG;
	uint64_t to_end = RING - head, need = BIG + (BIG > to_end ? to_end : 0);
	rec_mark = head + need - RING > head - RING / 2 ? head + need - RING : head - RING / 2;
	wait_sleeping(f, rec_mark, 0);
	CHECK_EQ(rec_head(f), head);
	bool exact1 = check_wake_at(f, (rec_mark - 1) / BIG);
	if (exact1)
		CHECK_EQ(f->last_wake_tail, ((rec_mark - 1) / BIG + 1) * BIG);
	for (int i = 0; rec_head(f) == head; i++) { /* it runs again */
		CHECK(i < 30000);
		sleep_us(1000);
	}
	fprintf(stderr,
	        "parent: full ring: woken at rec_tail %" PRIu64 " (mark %" PRIu64
	        "), not before%s\n",
	        (uint64_t)f->last_wake_tail, rec_mark, exact1 ? "" : " (exact check skipped)");

	/* 3a. flat out against a slower daemon (a pause every 4 records). Count
	 *     the sleeps woken (a client slow to run is woken again after each
	 *     record until it clears client_waiting): each on a full ring needs
	 *     half the ring (31 records) released since the child blocked, so even
	 *     with the flush's fnl_poll sleeps (at most one per report, 62) there
	 *     are far fewer than the N_BIG/4 pauses, after each of which a client
	 *     woken on any release would have run and blocked again */
	wakes0 = f->sleeps_woken;
	f->pace_us = 50;
	f->pace_every = 4;
	complete_to(f, N_BIG);
	uint64_t wakes_big = f->sleeps_woken - wakes0;

	/* 2. small records: CMP of them fit in the ring, the completion slots
	 *    run out first. Mark: half the slots free once reported, no ring mark. */
	f->pace_every = 0;
	cmp_mark = N_BIG + CMP - CMP / 2;
	wait_sleeping(f, 0, cmp_mark);
	bool exact2 = check_wake_at(f, cmp_mark - 1);
	fprintf(stderr, "parent: completion slots: woken at cmp_head %" PRIu64 "%s\n", cmp_mark,
	        exact2 ? ", not before" : " (exact check skipped)");
	CHECK(exact1 || exact2); /* both skipped: a missing wake-up, not bad luck */

	/* 3b. small records flat out: a sleep on exhausted slots needs 512
	 *     reports; the final flush may sleep once per report (1024) */
	wakes0 = f->sleeps_woken;
	f->pace_every = 4;
	complete_to(f, TOTAL);
	uint64_t wakes_small = f->sleeps_woken - wakes0;
	f->pace_every = 0;
	fprintf(stderr,
	        "parent: flat out: %" PRIu64 " sleeps woken for %u big records, %" PRIu64
	        " for %u small ones\n",
	        wakes_big, N_BIG, wakes_small, N_SMALL);
	CHECK(wakes_big < N_BIG / 16);
	CHECK(wakes_small < N_SMALL / 16);

	/* 4. fnl_poll waits for any report (its produce was published before):
	 *    the one report wakes it */
	wait_sleeping(f, 0, TOTAL + 1);
	wakes0 = f->wakes;
	complete_to(f, TOTAL + 1);
	CHECK_EQ(f->wakes, wakes0 + 1);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(f->bad, 0);
	CHECK_EQ(f->records, TOTAL + 1);
	fake_stop(f);
	free(f);
	return 0;
}
