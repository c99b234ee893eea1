/* Single process: reserve/publish/next across the wrap with PADs, full ring,
 * completion-ring flow control, release in order, doorbell/wake flags. */
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
	CHECK(fnl_ring_reserve(&t.c, 48) == NULL);
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
	CHECK(fnl_ring_reserve(&t.c, 48) == NULL);
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
	CHECK(!fnl_ring_client_waiting(&t.d));
	atomic_store(&t.c.hdr->client_waiting, 1);
	CHECK(fnl_ring_client_waiting(&t.d));
	uint32_t seen = atomic_load(&t.c.hdr->client_futex);
	fnl_ring_wake_client(&t.d);
	CHECK_EQ(atomic_load(&t.c.hdr->client_futex), seen + 1);
	CHECK_EQ(fnl_ring_wait_client(&t.c, seen, 1000), 0); /* value moved: returns at once */
	CHECK_EQ(fnl_ring_wait_client(&t.c, seen + 1, 10), -ETIMEDOUT);
	test_ring_close(&t);
}

int main(void)
{
	test_wrap_with_pads();
	test_full_ring();
	test_cmp_flow_control();
	test_flags();
	return 0;
}
