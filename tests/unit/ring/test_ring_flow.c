/* Single process: reserve/publish/next across the wrap with PADs, full ring,
 * completion-ring flow control, release in order, doorbell/wake flags, and the
 * client's wake marks (hysteresis) as both sides test them. */
#include "ring_testutil.h"
#include "ring_recgen.h"

#define REC_BYTES (64u * 1024u)

static uint32_t rand_len(uint64_t *s, uint32_t max)
{
	uint32_t len = FNL_REC_HDR_BYTES + (uint32_t)(test_rand(s) % (max - FNL_REC_HDR_BYTES));
	return fnl_ring_align8(len);
}

/* The daemon drains everything published, checks it, completes and releases. */
static uint64_t drain(struct test_ring *t, uint64_t *cursor, uint64_t *next_opaque)
{
	struct fnl_rec_view r;
	uint64_t n = 0;
	int rc;

	while ((rc = fnl_ring_next(&t->d, cursor, &r)) == 1) {
		struct fnl_cmp c = {.opaque = r.h.opaque,
		                    .offset = (int64_t)r.h.opaque,
		                    .partition = 0,
		                    .topic_id = r.h.topic_id};
		recgen_check(&r, 7, *next_opaque);
		(*next_opaque)++;
		CHECK_EQ(fnl_ring_cmp_push(&t->d, &c), 0);
		CHECK_EQ(fnl_ring_release(&t->d, r.end), 0);
		n++;
	}
	CHECK_EQ(rc, 0);
	return n;
}

static void test_wrap_with_pads(void)
{
	struct test_ring t;
	uint64_t seed = 1, cursor = 0, opaque = 0, want = 0, reported = 0, pads = 0, i;
	struct fnl_cmp c;

	test_ring_open(&t, REC_BYTES, 1024);
	for (i = 0; i < 200000; i++) {
		uint32_t len = rand_len(&seed, (i % 100) ? 512 : FNL_RING_REC_MAX(REC_BYTES));
		uint64_t off = t.c.head & t.c.rec_mask;
		void *p = fnl_ring_reserve(&t.c, len);

		if (!p) {
			/* full: drain, then it must fit */
			drain(&t, &cursor, &want);
			while (fnl_ring_cmp_pop(&t.c, &c) == 1)
				CHECK_EQ(c.opaque, reported++);
			fnl_ring_cmp_commit(&t.c);
			p = fnl_ring_reserve(&t.c, len);
			CHECK(p != NULL);
		}
		if (len > REC_BYTES - off)
			pads++;
		CHECK(((uint8_t *)p - t.c.rec) % 8 == 0);
		CHECK((uint64_t)((uint8_t *)p - t.c.rec) + len <= REC_BYTES);
		recgen_write(p, len, 7, opaque++);
		fnl_ring_publish(&t.c);
		if (i % 3 == 0)
			drain(&t, &cursor, &want);
		if (i % 5 == 0) {
			while (fnl_ring_cmp_pop(&t.c, &c) == 1) {
				CHECK_EQ(c.opaque, reported);
				CHECK_EQ(c.offset, (int64_t)reported);
				reported++;
			}
			fnl_ring_cmp_commit(&t.c);
		}
	}
	drain(&t, &cursor, &want);
	while (fnl_ring_cmp_pop(&t.c, &c) == 1)
		CHECK_EQ(c.opaque, reported++);
	fnl_ring_cmp_commit(&t.c);
	CHECK_EQ(want, opaque);
	CHECK_EQ(reported, opaque);
	CHECK_EQ(fnl_ring_outstanding(&t.c), 0);
	CHECK(pads > 100);
	CHECK_EQ(atomic_load(&t.c.hdr->rec_tail), atomic_load(&t.c.hdr->rec_head));
	test_ring_close(&t);
}

static void test_full_ring(void)
{
	struct test_ring t;
	uint64_t cursor = 0, want = 0, n = 0;
	struct fnl_cmp c;
	void *p;

	test_ring_open(&t, REC_BYTES, 4096);
	/* too big, misaligned or too small records are refused */
	CHECK(fnl_ring_reserve(&t.c, FNL_RING_REC_MAX(REC_BYTES) + 8) == NULL);
	CHECK(fnl_ring_reserve(&t.c, 52) == NULL);
	CHECK(fnl_ring_reserve(&t.c, 40) == NULL);
	CHECK_EQ(t.c.head, 0);
	while ((p = fnl_ring_reserve(&t.c, 1024)) != NULL)
		recgen_write(p, 1024, 7, n++);
	CHECK_EQ(n, REC_BYTES / 1024);
	fnl_ring_publish(&t.c);
	CHECK(fnl_ring_reserve(&t.c, FNL_REC_HDR_BYTES) == NULL);
	/* the daemon releases one record: exactly one fits again */
	struct fnl_rec_view r;
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &r), 1);
	recgen_check(&r, 7, want++);
	c = (struct fnl_cmp){.opaque = r.h.opaque};
	CHECK_EQ(fnl_ring_cmp_push(&t.d, &c), 0);
	CHECK_EQ(fnl_ring_release(&t.d, r.end), 0);
	CHECK(fnl_ring_reserve(&t.c, 1032) == NULL); /* 1032 > 1024 free */
	p = fnl_ring_reserve(&t.c, 1024);
	CHECK(p != NULL);
	CHECK(p == t.c.rec); /* wrapped exactly at the end, no PAD */
	recgen_write(p, 1024, 7, n++);
	fnl_ring_publish(&t.c);
	CHECK(fnl_ring_reserve(&t.c, FNL_REC_HDR_BYTES) == NULL);
	/* release is in order and bounded */
	CHECK_EQ(fnl_ring_release(&t.d, r.end - 8), -EINVAL);
	CHECK_EQ(fnl_ring_release(&t.d, r.end + REC_BYTES + 8), -EINVAL);
	CHECK_EQ(drain(&t, &cursor, &want), n - 1);
	CHECK_EQ(want, n);
	test_ring_close(&t);
}

static void test_cmp_flow_control(void)
{
	struct test_ring t;
	uint64_t cursor = 0, want = 0, n = 0;
	struct fnl_cmp c;
	void *p;

	test_ring_open(&t, REC_BYTES, 64);
	while ((p = fnl_ring_reserve(&t.c, 64)) != NULL)
		recgen_write(p, 64, 7, n++);
	CHECK_EQ(n, 64); /* record space left, completion budget exhausted */
	fnl_ring_publish(&t.c);
	CHECK_EQ(drain(&t, &cursor, &want), 64);
	CHECK_EQ(fnl_ring_cmp_space(&t.d), 0);
	/* completions published but not consumed: still no room */
	CHECK(fnl_ring_reserve(&t.c, 64) == NULL);
	c = (struct fnl_cmp){0};
	CHECK_EQ(fnl_ring_cmp_push(&t.d, &c), -ENOBUFS); /* full ring never overwritten */
	CHECK_EQ(fnl_ring_cmp_pop(&t.c, &c), 1);
	CHECK_EQ(c.opaque, 0);
	CHECK(fnl_ring_reserve(&t.c, 64) == NULL); /* popped but not committed: counted */
	CHECK_EQ(fnl_ring_outstanding(&t.c), 63);
	p = NULL;
	fnl_ring_cmp_commit(&t.c);
	CHECK_EQ(fnl_ring_cmp_space(&t.d), 1);
	/* a hostile cmp_tail ahead of cmp_head reads as full, not as space */
	atomic_store(&t.c.hdr->cmp_tail, 1000);
	CHECK_EQ(fnl_ring_cmp_space(&t.d), 0);
	atomic_store(&t.c.hdr->cmp_tail, 1);
	test_ring_close(&t);
}

static void test_flags(void)
{
	struct test_ring t;
	void *p;

	test_ring_open(&t, REC_BYTES, 64);
	CHECK(!fnl_ring_pending(&t.d, 0));
	p = fnl_ring_reserve(&t.c, 64);
	recgen_write(p, 64, 7, 0);
	CHECK(!fnl_ring_publish(&t.c)); /* daemon awake: no doorbell */
	CHECK(fnl_ring_pending(&t.d, 0));
	fnl_ring_set_sleeping(&t.d, true);
	p = fnl_ring_reserve(&t.c, 64);
	recgen_write(p, 64, 7, 1);
	CHECK(fnl_ring_publish(&t.c));                       /* asleep: ring it */
	CHECK_EQ(atomic_load(&t.c.hdr->daemon_sleeping), 0); /* the client took the bell */
	p = fnl_ring_reserve(&t.c, 64);
	recgen_write(p, 64, 7, 2);
	CHECK(!fnl_ring_publish(&t.c)); /* at most one doorbell per daemon sleep */
	fnl_ring_set_sleeping(&t.d, false);
	CHECK(!fnl_ring_client_wants_wake(&t.d));
	atomic_store(&t.c.hdr->client_waiting, 1);
	CHECK(fnl_ring_client_wants_wake(&t.d)); /* marks never written (0): any release */
	uint32_t seen = atomic_load(&t.c.hdr->client_futex);
	fnl_ring_wake_client(&t.d);
	CHECK_EQ(atomic_load(&t.c.hdr->client_futex), seen + 1);
	CHECK_EQ(fnl_ring_wait_client(&t.c, seen, 1000), 0); /* value moved: returns at once */
	CHECK_EQ(fnl_ring_wait_client(&t.c, seen + 1, 10), -ETIMEDOUT);
	test_ring_close(&t);
}

/* The daemon takes, reports and releases the next record and says whether the
 * client wants a wake-up; while the client sleeps, its own re-check agrees. */
static bool release_one(struct test_ring *t, uint64_t *cursor, uint64_t rec_mark, uint64_t cmp_mark)
{
	struct fnl_rec_view r;
	struct fnl_cmp c = {0};
	bool wake;

	CHECK_EQ(fnl_ring_next(&t->d, cursor, &r), 1);
	c.opaque = r.h.opaque;
	CHECK_EQ(fnl_ring_cmp_push(&t->d, &c), 0);
	CHECK_EQ(fnl_ring_release(&t->d, r.end), 0);
	wake = fnl_ring_client_wants_wake(&t->d);
	if (atomic_load(&t->c.hdr->client_waiting))
		CHECK_EQ(wake, fnl_ring_client_wake_due(&t->c, rec_mark, cmp_mark));
	return wake;
}

static void pop_all(struct test_ring *t, uint64_t *reported)
{
	struct fnl_cmp c;

	while (fnl_ring_cmp_pop(&t->c, &c) == 1)
		CHECK_EQ(c.opaque, (*reported)++);
	fnl_ring_cmp_commit(&t->c);
}

/* Record area full: the client sleeps until its record fits AND half the ring
 * is free; releases short of that wake nothing. */
static void test_wake_marks_rec(void)
{
	struct test_ring t;
	uint64_t cursor = 0, n = 0, reported = 0, rec_mark, cmp_mark, i;
	uint32_t seen;
	void *p;

	test_ring_open(&t, REC_BYTES, 4096);
	/* an older client never writes marks (0): woken on anything, as before */
	CHECK(!fnl_ring_client_wants_wake(&t.d)); /* not waiting */
	atomic_store(&t.c.hdr->client_waiting, 1);
	CHECK_EQ(atomic_load(&t.c.hdr->wake_rec_tail), 0);
	CHECK_EQ(atomic_load(&t.c.hdr->wake_cmp_head), 0);
	CHECK(fnl_ring_client_wants_wake(&t.d));
	atomic_store(&t.c.hdr->client_waiting, 0);

	while ((p = fnl_ring_reserve(&t.c, 1024)) != NULL)
		recgen_write(p, 1024, 7, n++);
	CHECK_EQ(n, 64);
	fnl_ring_publish(&t.c);
	fnl_ring_full_marks(&t.c, 1024, atomic_load(&t.c.hdr->rec_tail), &rec_mark, &cmp_mark);
	CHECK_EQ(rec_mark, REC_BYTES / 2); /* half the ring, more than the record needs */
	CHECK_EQ(cmp_mark, 0);             /* completion slots are not what lacks */
	CHECK(!fnl_ring_client_wait_begin(&t.c, rec_mark, cmp_mark, &seen));
	CHECK_EQ(atomic_load(&t.c.hdr->wake_rec_tail), rec_mark);
	CHECK_EQ(atomic_load(&t.c.hdr->wake_cmp_head), 0);
	CHECK_EQ(atomic_load(&t.c.hdr->client_waiting), 1);
	CHECK_EQ(atomic_load(&t.c.hdr->client_futex), seen);
	for (i = 0; i < 32; i++) /* 31 records free 31 KiB: not yet; the 32nd: 32 KiB */
		CHECK_EQ(release_one(&t, &cursor, rec_mark, cmp_mark), i == 31);
	/* a client that lies about its marks only loses its own wake-ups */
	atomic_store(&t.c.hdr->wake_rec_tail, UINT64_MAX);
	CHECK(!fnl_ring_client_wants_wake(&t.d));
	atomic_store(&t.c.hdr->wake_rec_tail, rec_mark);
	CHECK(fnl_ring_client_wants_wake(&t.d));
	fnl_ring_client_wait_end(&t.c);
	CHECK(!fnl_ring_client_wants_wake(&t.d)); /* awake again */
	p = fnl_ring_reserve(&t.c, 1024);         /* libfunnel's retry after the wake-up */
	CHECK(p != NULL);
	recgen_write(p, 1024, 7, n++);
	fnl_ring_publish(&t.c);
	while (cursor != atomic_load(&t.c.hdr->rec_head))
		CHECK(!release_one(&t, &cursor, 0, 0)); /* nobody waits */
	pop_all(&t, &reported);
	CHECK_EQ(reported, n);

	/* the record needs a PAD and nearly the whole ring: its fit decides.
	 * head at area offset 32776: a 32768-byte record pads 32760 first */
	CHECK_EQ(t.c.head & t.c.rec_mask, 1024);
	p = fnl_ring_reserve(&t.c, 32776 - 1024 - FNL_REC_HDR_BYTES);
	recgen_write(p, 32776 - 1024 - FNL_REC_HDR_BYTES, 7, n++);
	p = fnl_ring_reserve(&t.c, FNL_REC_HDR_BYTES);
	recgen_write(p, FNL_REC_HDR_BYTES, 7, n++);
	fnl_ring_publish(&t.c);
	CHECK_EQ(t.c.head & t.c.rec_mask, 32776);
	CHECK(fnl_ring_reserve(&t.c, 32768) == NULL);
	fnl_ring_full_marks(&t.c, 32768, atomic_load(&t.c.hdr->rec_tail), &rec_mark, &cmp_mark);
	CHECK_EQ(rec_mark, t.c.head - 8); /* 32760 + 32768 of 65536: only 8 may stay used */
	CHECK_EQ(cmp_mark, 0);
	CHECK(!fnl_ring_client_wait_begin(&t.c, rec_mark, cmp_mark, &seen));
	CHECK(!release_one(&t, &cursor, rec_mark, cmp_mark)); /* 8 short */
	CHECK(release_one(&t, &cursor, rec_mark, cmp_mark));
	fnl_ring_client_wait_end(&t.c);
	p = fnl_ring_reserve(&t.c, 32768);
	CHECK(p == t.c.rec); /* after the PAD, at offset 0 */
	recgen_write(p, 32768, 7, n++);
	fnl_ring_publish(&t.c);
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &(struct fnl_rec_view){0}), 1);
	test_ring_close(&t);
}

/* Completion slots exhausted: the client sleeps until half of them are free
 * once it consumes the reports; fnl_poll's mark (cmp_tail + 1) wakes on one. */
static void test_wake_marks_cmp(void)
{
	struct test_ring t;
	uint64_t cursor = 0, n = 0, reported = 0, rec_mark, cmp_mark, i;
	uint32_t seen;
	void *p;

	test_ring_open(&t, REC_BYTES, 64);
	while ((p = fnl_ring_reserve(&t.c, 64)) != NULL)
		recgen_write(p, 64, 7, n++);
	CHECK_EQ(n, 64); /* bytes left, slots not */
	fnl_ring_publish(&t.c);
	fnl_ring_full_marks(&t.c, 64, atomic_load(&t.c.hdr->rec_tail), &rec_mark, &cmp_mark);
	CHECK_EQ(rec_mark, 0);  /* the record fits */
	CHECK_EQ(cmp_mark, 32); /* 64 outstanding: half the slots free once 32 are reported */
	CHECK(!fnl_ring_client_wait_begin(&t.c, rec_mark, cmp_mark, &seen));
	for (i = 0; i < 64; i++)
		CHECK_EQ(release_one(&t, &cursor, rec_mark, cmp_mark), i >= 31);
	fnl_ring_client_wait_end(&t.c);
	pop_all(&t, &reported);
	CHECK_EQ(reported, 64);

	/* both lacking: both marks must hold */
	while ((p = fnl_ring_reserve(&t.c, 1024)) != NULL)
		recgen_write(p, 1024, 7, n++);
	fnl_ring_publish(&t.c);
	CHECK_EQ(n, 128); /* both run out together: 64 slots, 64 KiB */
	fnl_ring_full_marks(&t.c, 1024, atomic_load(&t.c.hdr->rec_tail), &rec_mark, &cmp_mark);
	CHECK_EQ(rec_mark, 4096 + REC_BYTES / 2);
	CHECK_EQ(cmp_mark, 128 - 32);
	CHECK(!fnl_ring_client_wait_begin(&t.c, rec_mark, cmp_mark, &seen));
	for (i = 0; i < 64; i++) /* half the bytes and half the slots, both at record 32 */
		CHECK_EQ(release_one(&t, &cursor, rec_mark, cmp_mark), i >= 31);
	/* one mark reached is not enough: tail 69632, cmp_head 128 */
	CHECK(fnl_ring_client_wants_wake(&t.d));
	atomic_store(&t.c.hdr->wake_cmp_head, 129);
	CHECK(!fnl_ring_client_wants_wake(&t.d));
	atomic_store(&t.c.hdr->wake_cmp_head, 128);
	atomic_store(&t.c.hdr->wake_rec_tail, 69640);
	CHECK(!fnl_ring_client_wants_wake(&t.d));
	atomic_store(&t.c.hdr->wake_rec_tail, 69632);
	CHECK(fnl_ring_client_wants_wake(&t.d));
	fnl_ring_client_wait_end(&t.c);
	pop_all(&t, &reported);

	/* fnl_poll: any report */
	p = fnl_ring_reserve(&t.c, 64);
	recgen_write(p, 64, 7, n++);
	fnl_ring_publish(&t.c);
	CHECK(!fnl_ring_client_wait_begin(&t.c, 0, t.c.cmp_tail + 1, &seen));
	CHECK(!fnl_ring_client_wants_wake(&t.d));
	CHECK(release_one(&t, &cursor, 0, t.c.cmp_tail + 1));
	fnl_ring_client_wait_end(&t.c);
	pop_all(&t, &reported);
	CHECK_EQ(reported, n);
	test_ring_close(&t);
}

int main(void)
{
	test_wrap_with_pads();
	test_full_ring();
	test_cmp_flow_control();
	test_flags();
	test_wake_marks_rec();
	test_wake_marks_cmp();
	return 0;
}
