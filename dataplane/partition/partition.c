/* partition.c - murmur2 key partitioner, KIP-794 uniform sticky, round robin.
 * Layout and invariants: see partition.h.
 */
#include "dataplane/partition/partition.h"

#include <errno.h>
#include <stdbool.h>

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M    0x5bd1e995u
#define MURMUR2_R    24

/* All arithmetic in uint32_t: Java's int wraps the same way and >>> is a logical shift. */
int32_t fnl_murmur2(const void *key, size_t len)
{
	const uint8_t *p = key;
	uint32_t n = (uint32_t)len; /* Java's length is an int */
	uint32_t h = MURMUR2_SEED ^ n;
	size_t body = len & ~(size_t)3;

	for (size_t i = 0; i < body; i += 4) {
		uint32_t k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
		             (uint32_t)p[i + 3] << 24;
		k *= MURMUR2_M;
		k ^= k >> MURMUR2_R;
		k *= MURMUR2_M;
		h *= MURMUR2_M;
		h ^= k;
	}
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)p[body + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)p[body + 1] << 8;
		/* fall through */
	case 1:
		h ^= (uint32_t)p[body];
		h *= MURMUR2_M;
	}
	h ^= h >> 13;
	h *= MURMUR2_M;
	h ^= h >> 15;
	return (int32_t)h;
}

int32_t fnl_partition_key(const void *key, size_t len, int32_t nparts)
{
	if (nparts < 1)
		return -EINVAL;
	uint32_t positive = (uint32_t)fnl_murmur2(key, len) & 0x7fffffffu;
	return (int32_t)(positive % (uint32_t)nparts);
}

/* ---- uniform sticky ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n): multiply-shift of the high 32 bits; bias <= n / 2^32. */
static uint32_t rng_below(uint64_t *x, uint32_t n)
{
	return (uint32_t)(((rng_next(x) >> 32) * (uint64_t)n) >> 32);
}

static bool is_available(const uint64_t *bitmap, int32_t p)
{
	return !bitmap || (bitmap[p >> 6] >> (p & 63) & 1u);
}

/* Bits of word w that are partitions < nparts. */
static uint64_t word_mask(int32_t nparts, int32_t w)
{
	int32_t left = nparts - w * 64;
	return left >= 64 ? ~0ull : (1ull << left) - 1;
}

static int32_t count_available(const uint64_t *bitmap, int32_t nparts)
{
	int32_t n = 0;
	for (int32_t w = 0; w * 64 < nparts; w++)
		n += __builtin_popcountll(bitmap[w] & word_mask(nparts, w));
	return n;
}

/* The k-th (0-based) available partition; k < count_available(). */
static int32_t nth_available(const uint64_t *bitmap, int32_t nparts, int32_t k)
{
	for (int32_t w = 0; w * 64 < nparts; w++) {
		uint64_t bits = bitmap[w] & word_mask(nparts, w);
		int32_t c = __builtin_popcountll(bits);
		if (k >= c) {
			k -= c;
			continue;
		}
		while (k-- > 0)
			bits &= bits - 1; /* drop the lowest set bit */
		return w * 64 + __builtin_ctzll(bits);
	}
	return 0; /* unreachable when k < count_available() */
}

/* Java BuiltInPartitioner.nextPartition without load stats: uniform among the
 * available partitions, or among all of them when none is available. */
static int32_t next_partition(struct fnl_sticky *s, int32_t nparts, const uint64_t *bitmap)
{
	int32_t navail = bitmap ? count_available(bitmap, nparts) : nparts;
	if (navail == 0)
		return (int32_t)rng_below(&s->rng, (uint32_t)nparts);
	int32_t k = (int32_t)rng_below(&s->rng, (uint32_t)navail);
	return bitmap ? nth_available(bitmap, nparts, k) : k;
}

static void switch_partition(struct fnl_sticky *s, int32_t nparts, const uint64_t *bitmap)
{
	s->current = next_partition(s, nparts, bitmap);
	s->produced_bytes = 0;
}

void fnl_sticky_init(struct fnl_sticky *s, uint64_t seed)
{
	/* splitmix64 finaliser: spreads small seeds and keeps the state non-zero */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	s->rng = z ? z : 0x9e3779b97f4a7c15ull;
	s->current = -1;
	s->produced_bytes = 0;
}

int32_t fnl_sticky_pick(struct fnl_sticky *s, int32_t nparts, const uint64_t *available_bitmap)
{
	if (nparts < 1)
		return -EINVAL;
	if (s->current < 0 || s->current >= nparts || !is_available(available_bitmap, s->current))
		switch_partition(s, nparts, available_bitmap);
	return s->current;
}

void fnl_sticky_account(struct fnl_sticky *s, int32_t bytes, int32_t batch_bytes, int32_t nparts,
                        const uint64_t *available_bitmap)
{
	if (s->current < 0)
		return; /* nothing is sticky yet */
	if (bytes > 0)
		s->produced_bytes += bytes;
	if (batch_bytes < 1)
		batch_bytes = 1;
	if (s->produced_bytes < batch_bytes)
		return;
	if (nparts < 1) {
		s->current = -1;
		s->produced_bytes = 0;
		return;
	}
	switch_partition(s, nparts, available_bitmap);
}

/* ---- round robin --------------------------------------------------------------------------- */

int32_t fnl_rr_partition(struct fnl_rr *r, int32_t nparts)
{
	if (nparts < 1)
		return -EINVAL;
	return (int32_t)(r->next++ % (uint32_t)nparts);
}
