/* partition.h - partitioners identical to the Java producer's.
 *
 * Pure functions and caller-owned state; no allocation, no locks, no syscalls.
 *
 *   keyed record       fnl_partition_key():  toPositive(murmur2(key)) % nparts
 *   null key (default) struct fnl_sticky:    KIP-794 uniform sticky partitioner
 *   null key (option)  struct fnl_rr:        round robin
 *
 * Availability bitmap (sticky): bit p of available_bitmap[p / 64] (bit p % 64,
 * least significant first) is 1 when partition p has a known, connected leader.
 * It must hold at least (nparts + 63) / 64 words; NULL means all are available.
 *
 * Sticky state machine (one struct per topic per core):
 *
 *   current = -1 --fnl_sticky_partition--> current = uniform(available)
 *        ^                                     |  fnl_sticky_on_append(bytes)
 *        |                                     v
 *        +---- produced_bytes >= batch_bytes: current = uniform(available),
 *                                              produced_bytes = 0
 *
 * Invariants: the value fnl_sticky_partition() returns is in [0, nparts) and is
 * an available partition whenever at least one partition is available (if none
 * is, it is chosen among all partitions, as Java does). As in Java's
 * BuiltInPartitioner the next partition is drawn uniformly among the available
 * ones, so it may equal the previous one. Unlike Java, a current partition that
 * has become unavailable is replaced on the next fnl_sticky_partition() call.
 * The RNG is xorshift64* seeded by the caller: same seed, same choices.
 */
#ifndef FNL_PARTITION_H
#define FNL_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* Java's org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c, m 0x5bd1e995,
 * r 24), bit-identical. Returns the int32 bits. */
int32_t fnl_murmur2(const void *key, size_t len);

/* toPositive(murmur2(key)) % nparts, toPositive = x & 0x7fffffff; -EINVAL if nparts < 1. */
int32_t fnl_partition_key(const void *key, size_t len, int32_t nparts);

/* KIP-794 uniform sticky partitioner for null-key records. */
struct fnl_sticky {
	int32_t current;        /* -1 until the first fnl_sticky_partition() */
	int64_t produced_bytes; /* bytes appended to `current` since it was chosen */
	uint64_t rng;           /* xorshift64* state, never 0 */
};

void fnl_sticky_init(struct fnl_sticky *s, uint64_t seed);
/* The partition for the next null-key record; -EINVAL if nparts < 1. */
int32_t fnl_sticky_pick(struct fnl_sticky *s, int32_t nparts, const uint64_t *available_bitmap);
static inline int32_t fnl_sticky_partition(struct fnl_sticky *s, int32_t nparts,
                                           const uint64_t *available_bitmap)
{
	/* per record: the current partition stands (no bitmap to consult) */
	if (!available_bitmap && s->current >= 0 && s->current < nparts)
		return s->current;
	return fnl_sticky_pick(s, nparts, available_bitmap);
}
/* Account a record of `bytes` appended to the current partition; switches when the
 * total reaches batch_bytes (batch_bytes < 1 acts as 1). */
void fnl_sticky_account(struct fnl_sticky *s, int32_t bytes, int32_t batch_bytes, int32_t nparts,
                        const uint64_t *available_bitmap);
static inline void fnl_sticky_on_append(struct fnl_sticky *s, int32_t bytes, int32_t batch_bytes,
                                        int32_t nparts, const uint64_t *available_bitmap)
{
	/* per record: below batch_bytes nothing switches */
	if (s->current >= 0 && bytes > 0 && s->produced_bytes + bytes < batch_bytes) {
		s->produced_bytes += bytes;
		return;
	}
	fnl_sticky_account(s, bytes, batch_bytes, nparts, available_bitmap);
}

/* Legacy round-robin option; -EINVAL if nparts < 1. */
struct fnl_rr {
	uint32_t next;
};
int32_t fnl_rr_partition(struct fnl_rr *r, int32_t nparts);

#endif
