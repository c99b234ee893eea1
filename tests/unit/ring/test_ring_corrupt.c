/* Hostile client: every malformed record or index makes fnl_ring_next return
 * -EBADMSG, and random garbage never makes the daemon read outside the area
 * (the daemon mapping sits between PROT_NONE guard pages). */
#include "ring_testutil.h"
#include "ring_recgen.h"

#define REC_BYTES (64u * 1024u)

static volatile uint8_t sink;

static struct fnl_rec_hdr *client_rec(struct test_ring *t, uint64_t pos)
{
	return (struct fnl_rec_hdr *)(t->c.rec + (pos & t->c.rec_mask));
}

/* Writes one valid 64-byte record at pos 0, publishes it, applies mutate, and
 * returns what the daemon says from cursor 0. */
static int one(void (*mutate)(struct test_ring *t))
{
	struct test_ring t;
	struct fnl_rec_view r;
	uint64_t cursor = 0;
	void *p;
	int rc;

	test_ring_open(&t, REC_BYTES, 64);
	p = fnl_ring_reserve(&t.c, 64);
	recgen_write(p, 64, 1, 0);
	fnl_ring_publish(&t.c);
	mutate(&t);
	rc = fnl_ring_next(&t.d, &cursor, &r);
	test_ring_close(&t);
	return rc;
}

static void m_none(struct test_ring *t)
{
	(void)t;
}
static void m_len_small(struct test_ring *t)
{
	client_rec(t, 0)->len = 40;
}
static void m_len_zero(struct test_ring *t)
{
	client_rec(t, 0)->len = 0;
}
static void m_len_odd(struct test_ring *t)
{
	client_rec(t, 0)->len = 60;
}
static void m_len_past_head(struct test_ring *t)
{
	client_rec(t, 0)->len = 72;
}
static void m_len_huge(struct test_ring *t)
{
	client_rec(t, 0)->len = 0xfffffff8u;
}
static void m_type(struct test_ring *t)
{
	client_rec(t, 0)->type = 3;
}
static void m_flags(struct test_ring *t)
{
	client_rec(t, 0)->flags = 4;
}
static void m_null_key_with_len(struct test_ring *t)
{
	client_rec(t, 0)->flags = FNL_REC_F_KEY_NULL;
	client_rec(t, 0)->key_len = 3;
}
static void m_lengths_sum(struct test_ring *t)
{
	client_rec(t, 0)->value_len += 8;
}
static void m_lengths_overflow(struct test_ring *t)
{
	client_rec(t, 0)->value_len = 0xffffffffu;
	client_rec(t, 0)->headers_len = 0xffffffffu;
}
static void m_head_misaligned(struct test_ring *t)
{
	atomic_store(&t->c.hdr->rec_head, 60);
}
static void m_head_past_ring(struct test_ring *t)
{
	atomic_store(&t->c.hdr->rec_head, REC_BYTES + 8);
}
static void m_head_huge(struct test_ring *t)
{
	atomic_store(&t->c.hdr->rec_head, UINT64_MAX - 7);
}
static void m_pad_short(struct test_ring *t)
{
	client_rec(t, 0)->type = FNL_REC_PAD; /* a PAD must reach the end of the area */
}
static void m_null_both(struct test_ring *t)
{
	struct fnl_rec_hdr *h = client_rec(t, 0);
	h->flags = FNL_REC_F_KEY_NULL | FNL_REC_F_VALUE_NULL;
	h->key_len = 0;
	h->value_len = 0;
	h->headers_len = 64 - FNL_REC_HDR_BYTES;
}

static void test_each_violation(void)
{
	CHECK_EQ(one(m_none), 1);
	CHECK_EQ(one(m_null_both), 1);
	CHECK_EQ(one(m_len_small), -EBADMSG);
	CHECK_EQ(one(m_len_zero), -EBADMSG);
	CHECK_EQ(one(m_len_odd), -EBADMSG);
	CHECK_EQ(one(m_len_past_head), -EBADMSG);
	CHECK_EQ(one(m_len_huge), -EBADMSG);
	CHECK_EQ(one(m_type), -EBADMSG);
	CHECK_EQ(one(m_flags), -EBADMSG);
	CHECK_EQ(one(m_null_key_with_len), -EBADMSG);
	CHECK_EQ(one(m_lengths_sum), -EBADMSG);
	CHECK_EQ(one(m_lengths_overflow), -EBADMSG);
	CHECK_EQ(one(m_head_misaligned), -EBADMSG);
	CHECK_EQ(one(m_head_past_ring), -EBADMSG);
	CHECK_EQ(one(m_head_huge), -EBADMSG);
	CHECK_EQ(one(m_pad_short), -EBADMSG);
}

static void test_head_backwards_and_pads(void)
{
	struct test_ring t;
	struct fnl_rec_view r;
	uint64_t cursor = 0;
	void *p;

	test_ring_open(&t, REC_BYTES, 64);
	p = fnl_ring_reserve(&t.c, 64);
	recgen_write(p, 64, 1, 0);
	fnl_ring_publish(&t.c);
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &r), 1);
	CHECK_EQ(cursor, 64);
	atomic_store(&t.c.hdr->rec_head, 56); /* behind the daemon's cursor */
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &r), -EBADMSG);
	atomic_store(&t.c.hdr->rec_head, 64);
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &r), 0);
	/* the daemon's tail, not the shared one, bounds rec_head */
	atomic_store(&t.c.hdr->rec_tail, 1u << 20);
	atomic_store(&t.c.hdr->rec_head, (1u << 20) + 64);
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &r), -EBADMSG);
	test_ring_close(&t);

	/* a record whose len crosses the end of the area, and a short PAD at the end */
	test_ring_open(&t, REC_BYTES, 64);
	cursor = REC_BYTES - 16;
	t.d.tail = cursor; /* pretend everything before was consumed and released */
	client_rec(&t, cursor)->len = 64;
	client_rec(&t, cursor)->type = FNL_REC_DATA;
	atomic_store(&t.c.hdr->rec_head, cursor + 64);
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &r), -EBADMSG);
	client_rec(&t, cursor)->len = 16;
	client_rec(&t, cursor)->type = FNL_REC_PAD;
	recgen_write(t.c.rec, FNL_REC_HDR_BYTES, 1, 9);
	atomic_store(&t.c.hdr->rec_head, cursor + 16 + FNL_REC_HDR_BYTES);
	CHECK_EQ(fnl_ring_next(&t.d, &cursor, &r), 1);
	recgen_check(&r, 1, 9);
	CHECK_EQ(r.pos, REC_BYTES);
	CHECK_EQ(cursor, REC_BYTES + FNL_REC_HDR_BYTES);
	test_ring_close(&t);
}

static void test_headers_iter(void)
{
	struct fnl_rec_view r = {0};
	uint8_t buf[64];
	struct fnl_rec_kv kv;
	uint32_t pos = 0;
	uint16_t nl = 3;
	int32_t vl = 2, vnull = -1, vbad = -2;

	memcpy(buf, &nl, 2);
	memcpy(buf + 2, "abc", 3);
	memcpy(buf + 5, &vl, 4);
	memcpy(buf + 9, "xy", 2);
	nl = 1;
	memcpy(buf + 11, &nl, 2);
	buf[13] = 'z';
	memcpy(buf + 14, &vnull, 4);
	r.headers = buf;
	r.h.headers_len = 18;
	CHECK_EQ(fnl_rec_hdrs_next(&r, &pos, &kv), 1);
	CHECK_EQ(kv.name_len, 3);
	CHECK_MEM(kv.name, "abc", 3);
	CHECK_EQ(kv.value_len, 2);
	CHECK_MEM(kv.value, "xy", 2);
	CHECK_EQ(fnl_rec_hdrs_next(&r, &pos, &kv), 1);
	CHECK_EQ(kv.value_len, -1);
	CHECK(kv.value == NULL);
	CHECK_EQ(fnl_rec_hdrs_next(&r, &pos, &kv), 0);
	/* truncated at each point */
	for (uint32_t n = 1; n < 18; n++) {
		int rc;
		r.h.headers_len = n;
		pos = 0;
		while ((rc = fnl_rec_hdrs_next(&r, &pos, &kv)) == 1)
			;
		CHECK(rc == -EBADMSG || (rc == 0 && n == 11));
	}
	memcpy(buf + 14, &vbad, 4);
	r.h.headers_len = 18;
	pos = 11;
	CHECK_EQ(fnl_rec_hdrs_next(&r, &pos, &kv), -EBADMSG);
}

/* Random bytes and random indexes: must only ever return -EBADMSG/0/1 with
 * pointers and lengths inside the records area. */
static void test_garbage(void)
{
	struct test_ring t;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int round;
	long total_steps = 0;

	test_ring_open(&t, REC_BYTES, 64);
	for (round = 0; round < 3000; round++) {
		struct fnl_rec_view r;
		uint64_t cursor, i, base = (test_rand(&seed) % 4) * REC_BYTES;
		int rc, steps = 0;

		if (round % 2 == 0) {
			for (i = 0; i < REC_BYTES / 8; i++) {
				uint64_t v = test_rand(&seed);
				memcpy(t.c.rec + i * 8, &v, 8);
			}
		} else {
			/* valid records and PADs, then a few flipped bytes */
			uint64_t off = 0;
			while (off < REC_BYTES) {
				uint32_t len = fnl_ring_align8(FNL_REC_HDR_BYTES + test_rand(&seed) % 300);
				if (len > REC_BYTES - off) {
					struct fnl_rec_hdr ph = {.len = (uint32_t)(REC_BYTES - off),
					                         .type = FNL_REC_PAD};
					memcpy(t.c.rec + off, &ph, 8);
					break;
				}
				recgen_write(t.c.rec + off, len, 1, test_rand(&seed));
				off += len;
			}
			for (i = 0; i < 4; i++)
				t.c.rec[test_rand(&seed) % REC_BYTES] ^= (uint8_t)test_rand(&seed);
		}
		t.d.tail = base + (round % 2 ? 0 : (test_rand(&seed) % (REC_BYTES / 8)) * 8);
		cursor = t.d.tail;
		atomic_store(&t.c.hdr->rec_head,
		             round % 3 ? t.d.tail + (test_rand(&seed) % (REC_BYTES / 8)) * 8
		                       : test_rand(&seed));
		while ((rc = fnl_ring_next(&t.d, &cursor, &r)) == 1) {
			CHECK(r.pos >= t.d.tail && r.end <= t.d.tail + REC_BYTES);
			const uint8_t *lo = t.d.rec, *hi = t.d.rec + REC_BYTES;
			const uint8_t *rec = t.d.rec + (r.pos & t.d.rec_mask);
			CHECK(rec + r.h.len <= hi);
			CHECK(!r.key || (r.key >= lo && r.key + r.h.key_len <= hi));
			CHECK(!r.value || (r.value >= lo && r.value + r.h.value_len <= hi));
			CHECK(r.headers >= lo && r.headers + r.h.headers_len <= hi);
			uint8_t sum = 0; /* touch every payload byte (guard pages catch overruns) */
			for (uint32_t k = 0; k < r.h.headers_len; k++)
				sum ^= r.headers[k];
			for (uint32_t k = 0; k < r.h.value_len; k++)
				sum ^= r.value[k];
			sink ^= sum;
			struct fnl_rec_kv kv;
			uint32_t hp = 0;
			while (fnl_rec_hdrs_next(&r, &hp, &kv) == 1)
				CHECK(kv.name + kv.name_len <= hi);
			steps++;
		}
		CHECK(rc == 0 || rc == -EBADMSG);
		total_steps += steps;
	}
	CHECK(total_steps > 10000); /* the valid paths were exercised too */
	test_ring_close(&t);
}

int main(void)
{
	test_each_violation();
	test_head_backwards_and_pads();
	test_headers_iter();
	test_garbage();
	return 0;
}
