/* KIP-794 uniform sticky partitioner and round robin. */
#include "dataplane/partition/partition.h"

#include <errno.h>
#include <string.h>

#include "check.h"

static void set_bit(uint64_t *bm, int32_t p)
{
	bm[p / 64] |= 1ull << (p % 64);
}

/* Pearson chi-square of observed counts against a uniform expectation. */
static double chi_square(const long *counts, int n, long total)
{
	double expect = (double)total / n, chi = 0;
	for (int i = 0; i < n; i++) {
		double d = (double)counts[i] - expect;
		chi += d * d / expect;
	}
	return chi;
}

/* Sticks until batch_bytes have been appended, switching on the append that reaches it. */
static void test_stays_until_batch_bytes(void)
{
	struct fnl_sticky s;
	fnl_sticky_init(&s, 1);
	CHECK_EQ(s.current, -1);
	int switches = 0;
	for (int round = 0; round < 50; round++) {
		int32_t p = fnl_sticky_partition(&s, 1000, NULL);
		CHECK(p >= 0 && p < 1000);
		/* 163 records of 100 bytes = 16300 < 16384: no switch yet */
		for (int i = 0; i < 163; i++) {
			CHECK_EQ(fnl_sticky_partition(&s, 1000, NULL), p);
			fnl_sticky_on_append(&s, 100, 16384, 1000, NULL);
			CHECK_EQ(s.current, p);
		}
		CHECK_EQ(s.produced_bytes, 16300);
		fnl_sticky_on_append(&s, 100, 16384, 1000, NULL); /* 16400 >= 16384 */
		CHECK_EQ(s.produced_bytes, 0);
		switches += s.current != p; /* the new partition may equal the old (1/1000) */
	}
	CHECK(switches >= 45);
	/* exactly batch_bytes switches too */
	fnl_sticky_init(&s, 2);
	fnl_sticky_partition(&s, 50, NULL);
	fnl_sticky_on_append(&s, 999, 1000, 50, NULL);
	CHECK_EQ(s.produced_bytes, 999);
	fnl_sticky_on_append(&s, 1, 1000, 50, NULL);
	CHECK_EQ(s.produced_bytes, 0);
}

static void test_uniform_all(void)
{
	enum { N = 10, SWITCHES = 100000 };
	long counts[N] = {0};
	struct fnl_sticky s;
	fnl_sticky_init(&s, 42);
	for (int i = 0; i < SWITCHES; i++) {
		int32_t p = fnl_sticky_partition(&s, N, NULL);
		CHECK(p >= 0 && p < N);
		counts[p]++;
		fnl_sticky_on_append(&s, 500, 500, N, NULL);
	}
	double chi = chi_square(counts, N, SWITCHES);
	printf("uniform over %d partitions: chi-square %.2f (9 df, p=0.001 at 27.88)\n", N, chi);
	CHECK(chi < 27.88);
}

static void test_only_available(void)
{
	enum { N = 100, SWITCHES = 80000 };
	static const int32_t avail[] = {1, 3, 4, 8, 63, 64, 65, 99};
	enum { NAVAIL = sizeof(avail) / sizeof(avail[0]) };
	uint64_t bm[2] = {0, 0};
	for (int i = 0; i < NAVAIL; i++)
		set_bit(bm, avail[i]);
	long counts[NAVAIL] = {0};
	struct fnl_sticky s;
	fnl_sticky_init(&s, 7);
	for (int i = 0; i < SWITCHES; i++) {
		int32_t p = fnl_sticky_partition(&s, N, bm);
		int k = 0;
		while (k < NAVAIL && avail[k] != p)
			k++;
		CHECK(k < NAVAIL); /* never an unavailable partition */
		counts[k]++;
		fnl_sticky_on_append(&s, 16384, 16384, N, bm);
	}
	double chi = chi_square(counts, NAVAIL, SWITCHES);
	printf("uniform over %d available of %d: chi-square %.2f (7 df, p=0.001 at 24.32)\n",
	       NAVAIL, N, chi);
	CHECK(chi < 24.32);

	/* bits past nparts are ignored */
	uint64_t wide[1] = {~0ull};
	fnl_sticky_init(&s, 3);
	for (int i = 0; i < 10000; i++) {
		int32_t p = fnl_sticky_partition(&s, 5, wide);
		CHECK(p >= 0 && p < 5);
		fnl_sticky_on_append(&s, 1, 1, 5, wide);
	}
}

/* The current partition losing its leader is replaced on the next call. */
static void test_current_becomes_unavailable(void)
{
	uint64_t bm[1] = {0};
	for (int p = 0; p < 8; p++)
		set_bit(bm, p);
	struct fnl_sticky s;
	fnl_sticky_init(&s, 9);
	for (int i = 0; i < 1000; i++) {
		int32_t p = fnl_sticky_partition(&s, 8, bm);
		fnl_sticky_on_append(&s, 10, 1000, 8, bm);
		bm[0] &= ~(1ull << p);
		if (bm[0] == 0)
			bm[0] = 0xff;
		int32_t q = fnl_sticky_partition(&s, 8, bm);
		CHECK(bm[0] >> q & 1);
		CHECK(q != p || bm[0] == 0xff);
	}
	/* none available: any partition (as Java), still in range */
	uint64_t none[1] = {0};
	fnl_sticky_init(&s, 10);
	for (int i = 0; i < 1000; i++) {
		int32_t p = fnl_sticky_partition(&s, 6, none);
		CHECK(p >= 0 && p < 6);
		fnl_sticky_on_append(&s, 10, 5, 6, none);
	}
	/* partition count shrinks below current */
	fnl_sticky_init(&s, 11);
	s.current = 40;
	int32_t p = fnl_sticky_partition(&s, 4, NULL);
	CHECK(p >= 0 && p < 4);
}

static void test_edges(void)
{
	struct fnl_sticky s, t;
	fnl_sticky_init(&s, 5);
	for (int i = 0; i < 1000; i++) {
		CHECK_EQ(fnl_sticky_partition(&s, 1, NULL), 0);
		fnl_sticky_on_append(&s, 1000, 100, 1, NULL);
	}
	uint64_t one[1] = {1};
	CHECK_EQ(fnl_sticky_partition(&s, 1, one), 0);
	CHECK_EQ(fnl_sticky_partition(&s, 0, NULL), -EINVAL);
	CHECK_EQ(fnl_sticky_partition(&s, -1, NULL), -EINVAL);

	/* same seed, same choices; seed 0 works */
	fnl_sticky_init(&s, 0);
	fnl_sticky_init(&t, 0);
	CHECK(s.rng != 0);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		int32_t a = fnl_sticky_partition(&s, 37, NULL);
		CHECK_EQ(a, fnl_sticky_partition(&t, 37, NULL));
		fnl_sticky_on_append(&s, 1, 0, 37, NULL); /* batch_bytes < 1: every append */
		fnl_sticky_on_append(&t, 1, 0, 37, NULL);
		differ += a != s.current;
	}
	CHECK(differ > 900);
	/* on_append before any partition call does nothing */
	fnl_sticky_init(&s, 1);
	fnl_sticky_on_append(&s, 100, 10, 5, NULL);
	CHECK_EQ(s.current, -1);
	CHECK_EQ(s.produced_bytes, 0);
}

static void test_round_robin(void)
{
	struct fnl_rr r = {0};
	for (int i = 0; i < 100; i++)
		CHECK_EQ(fnl_rr_partition(&r, 7), i % 7);
	CHECK_EQ(fnl_rr_partition(&r, 0), -EINVAL);
	r.next = UINT32_MAX;
	CHECK_EQ(fnl_rr_partition(&r, 3), (int32_t)(UINT32_MAX % 3));
	CHECK_EQ(fnl_rr_partition(&r, 3), 0);
}

int main(void)
{
	test_stays_until_batch_bytes();
	test_uniform_all();
	test_only_available();
	test_current_becomes_unavailable();
	test_edges();
	test_round_robin();
	printf("ok\n");
	return 0;
}
