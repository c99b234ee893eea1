/* test_ring_inorder.c - the daemon's in-order report protocol: slots reserved
 * in ring order, filled in any order, published over the filled prefix only;
 * the release position is the end of the last published record; a client
 * that has cmp_entries reports outstanding stops further reservations. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "dataplane/ring/ring.h"
#include "ring_testutil.h"

#define N 12

static uint64_t publish_one(struct test_ring *t, uint64_t opaque)
{
	uint8_t *p = fnl_ring_reserve(&t->c, FNL_REC_HDR_BYTES + 8);
	CHECK(p);
	struct fnl_rec_hdr h = {.len = FNL_REC_HDR_BYTES + 8, .type = FNL_REC_DATA,
				.flags = FNL_REC_F_KEY_NULL, .value_len = 8, .opaque = opaque};
	memcpy(p, &h, sizeof(h));
	memcpy(p + FNL_REC_HDR_BYTES, &opaque, 8);
	fnl_ring_publish(&t->c);
	return h.len;
}

/* A daemon killed after releasing rec_tail but before publishing cmp_head:
 * the next daemon's resume publishes the released records' reports, and takes
 * the unreported records again. */
static int resume_test(void)
{
	struct test_ring t;
	test_ring_open(&t, 64 * 1024, 64);
	uint64_t cur = 0, slot[4], end[4];
	for (int i = 0; i < 4; i++)
		publish_one(&t, 200 + (uint64_t)i);
	for (int i = 0; i < 4; i++) {
		struct fnl_rec_view r;
		CHECK_EQ(fnl_ring_next(&t.d, &cur, &r), 1);
		CHECK_EQ(fnl_ring_cmp_reserve(&t.d, r.end, &slot[i]), 0);
		end[i] = r.end;
	}
	for (int i = 0; i < 2; i++) {
		struct fnl_cmp e = {.opaque = 200 + (uint64_t)i};
		fnl_ring_cmp_fill(&t.d, slot[i], &e);
	}
	/* the crash: the release of records 0..1 landed, the publish did not */
	CHECK_EQ(fnl_ring_release(&t.d, end[1]), 0);
	CHECK_EQ(atomic_load(&t.d.hdr->cmp_head), 0);
	struct fnl_ring_dview d2;
	CHECK_EQ(fnl_ring_dview_init(&d2, t.d.hdr, t.d.map_bytes), 0);
	CHECK_EQ(atomic_load(&t.d.hdr->cmp_head), 2); /* the two reports are repaired */
	CHECK_EQ(d2.tail, end[1]);
	cur = d2.tail;                                /* records 2..3 are taken again */
	struct fnl_rec_view r;
	CHECK_EQ(fnl_ring_next(&d2, &cur, &r), 1);
	CHECK_EQ(r.h.opaque, 202);
	uint64_t s2;
	CHECK_EQ(fnl_ring_cmp_reserve(&d2, r.end, &s2), 0);
	CHECK_EQ(s2, 2);
	/* a second resume with nothing to repair changes nothing */
	CHECK_EQ(fnl_ring_dview_init(&d2, t.d.hdr, t.d.map_bytes), 0);
	CHECK_EQ(atomic_load(&t.d.hdr->cmp_head), 2);
	/* inconsistent indexes are refused */
	atomic_store(&t.d.hdr->rec_tail, end[1] + 3);
	CHECK_EQ(fnl_ring_dview_init(&d2, t.d.hdr, t.d.map_bytes), -EPROTO);
	test_ring_close(&t);
	puts("ring resume after a daemon crash: ok");
	return 0;
}

/* After a restart, the report of a record the journal kept is filled into the
 * slot the killed daemon reserved for it before the new daemon's walk reaches
 * the record (its batch was acked first). The walk then passes over it as
 * finished, and it is published in ring order; a daemon killed again before
 * the walk got there leaves the filled slot for its successor. */
static int fill_ahead_test(void)
{
	struct test_ring t;
	test_ring_open(&t, 64 * 1024, 64);
	uint64_t cur = 0, slot, end[4];
	for (int i = 0; i < 4; i++)
		publish_one(&t, 300 + (uint64_t)i);
	for (int i = 0; i < 4; i++) { /* the killed daemon took all four */
		struct fnl_rec_view r;
		CHECK_EQ(fnl_ring_next(&t.d, &cur, &r), 1);
		CHECK_EQ(fnl_ring_cmp_reserve(&t.d, r.end, &slot), 0);
		end[i] = r.end;
	}
	struct fnl_ring_dview d2;
	CHECK_EQ(fnl_ring_dview_init(&d2, t.d.hdr, t.d.map_bytes), 0);
	CHECK_EQ(d2.cmp_resv, 0);
	CHECK(fnl_ring_cmp_slot_open(&d2, 2));
	CHECK(!fnl_ring_cmp_slot_open(&d2, 64)); /* past the client's window */
	struct fnl_cmp e = {.opaque = 302, .offset = 7002};
	fnl_ring_cmp_fill(&d2, 2, &e); /* record 2's kept batch was acked */
	CHECK(!fnl_ring_cmp_slot_open(&d2, 2));
	CHECK_EQ(fnl_ring_cmp_publish(&d2), 0); /* not reached by the walk yet */

	/* killed again: the successor's resume leaves slot 2 alone (its record
	 * lies past rec_tail) and its walk finds it DONE */
	struct fnl_ring_dview d3;
	CHECK_EQ(fnl_ring_dview_init(&d3, t.d.hdr, t.d.map_bytes), 0);
	CHECK_EQ(atomic_load(&t.d.hdr->cmp_head), 0);
	cur = d3.tail;
	for (int i = 0; i < 4; i++) {
		struct fnl_rec_view r;
		CHECK_EQ(fnl_ring_next(&d3, &cur, &r), 1);
		CHECK_EQ(r.end, end[i]);
		if (i == 2) {
			CHECK(fnl_ring_cmp_take_done(&d3, r.end));
			continue;
		}
		CHECK(!fnl_ring_cmp_take_done(&d3, r.end));
		CHECK_EQ(fnl_ring_cmp_reserve(&d3, r.end, &slot), 0);
		CHECK_EQ(slot, (uint64_t)i);
		struct fnl_cmp f = {.opaque = 300 + (uint64_t)i, .offset = 7000 + i};
		fnl_ring_cmp_fill(&d3, slot, &f);
	}
	CHECK_EQ(fnl_ring_cmp_publish(&d3), 4);
	CHECK_EQ(atomic_load(&t.d.hdr->rec_tail), end[3]);
	for (int i = 0; i < 4; i++) {
		struct fnl_cmp got;
		CHECK_EQ(fnl_ring_cmp_pop(&t.c, &got), 1);
		CHECK_EQ(got.opaque, 300 + (uint64_t)i);
		CHECK_EQ(got.offset, 7000 + i);
	}
	test_ring_close(&t);
	puts("ring report filled ahead of the walk after a restart: ok");
	return 0;
}

int main(void)
{
	struct test_ring t;
	test_ring_open(&t, 64 * 1024, 64);
	uint64_t cur = 0, slot[N], end[N];
	for (int i = 0; i < N; i++)
		publish_one(&t, 100 + (uint64_t)i);
	for (int i = 0; i < N; i++) {
		struct fnl_rec_view r;
		CHECK_EQ(fnl_ring_next(&t.d, &cur, &r), 1);
		CHECK_EQ(fnl_ring_cmp_reserve(&t.d, r.end, &slot[i]), 0);
		CHECK_EQ(slot[i], (uint64_t)i);
		end[i] = r.end;
	}
	/* fill out of order: nothing is published until the prefix is complete */
	static const int order[N] = {5, 3, 1, 2, 11, 4, 0, 9, 10, 7, 8, 6};
	uint64_t released = 0;
	for (int k = 0; k < N; k++) {
		int i = order[k];
		struct fnl_cmp e = {.opaque = 100 + (uint64_t)i, .offset = 1000 + i, .partition = i};
		fnl_ring_cmp_fill(&t.d, slot[i], &e);
		uint64_t before = t.d.cmp_head;
		uint64_t n = fnl_ring_cmp_publish(&t.d);
		uint64_t pos = t.d.tail;
		/* the published prefix: slots 0.. while filled */
		int prefix = 0;
		while (prefix < N) {
			int filled = 0;
			for (int j = 0; j <= k; j++)
				filled |= order[j] == prefix;
			if (!filled)
				break;
			prefix++;
		}
		CHECK_EQ(atomic_load(&t.d.hdr->cmp_head), (uint64_t)prefix);
		CHECK_EQ(n, (uint64_t)prefix - before);
		CHECK_EQ(pos, prefix ? end[prefix - 1] : 0);
		CHECK_EQ(atomic_load(&t.d.hdr->rec_tail), pos);
		CHECK(pos >= released);
		released = pos;
	}
	CHECK_EQ(atomic_load(&t.d.hdr->rec_tail), end[N - 1]);
	/* the client sees the reports in ring order with the daemon's fields */
	for (int i = 0; i < N; i++) {
		struct fnl_cmp e;
		CHECK_EQ(fnl_ring_cmp_pop(&t.c, &e), 1);
		CHECK_EQ(e.opaque, 100 + (uint64_t)i);
		CHECK_EQ(e.offset, 1000 + i);
	}
	fnl_ring_cmp_commit(&t.c);

	/* with cmp_entries reports outstanding, reservations stop; they resume as
	 * the client consumes */
	uint64_t s;
	for (uint32_t i = 0; i < 64; i++)
		CHECK_EQ(fnl_ring_cmp_reserve(&t.d, end[N - 1], &s), 0);
	CHECK_EQ(fnl_ring_cmp_reserve(&t.d, end[N - 1], &s), -ENOBUFS);
	fnl_ring_cmp_unreserve(&t.d);
	CHECK_EQ(fnl_ring_cmp_reserve(&t.d, end[N - 1], &s), 0);
	/* a cmp_tail ahead of what was published is no honest client's */
	atomic_store(&t.d.hdr->cmp_tail, t.d.cmp_head + 5);
	CHECK_EQ(fnl_ring_cmp_reserve(&t.d, end[N - 1], &s), -EPROTO);
	test_ring_close(&t);
	puts("ring in-order reports: ok");
	return resume_test() || fill_ahead_test();
}
