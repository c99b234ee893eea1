/* accum.h - the record accumulator: a fixed pool of batches, one open batch
 * per partition, sealing by size or linger, compression at seal.
 *
 * Layout of one pool slot (all carved from one allocation at start-up):
 *
 *   struct fnl_batch          bookkeeping, embeds the producer's fnl_pbatch
 *   recs[records_cap]         uncompressed records section (RecordBatch v2 records)
 *   wire[61 + bound]          the batch as sent: 61-byte header + records,
 *                             compressed with the configured codec
 *   meta[meta_cap]            per record: which client, which ring chunk,
 *                             the client's opaque, for the delivery report
 *
 *   free list ──▶ slot ──▶ slot ...        (LIFO, O(1), no malloc)
 *   linger list: open batches by creation time (oldest at head)
 *
 * batch.size, as in the Java producer: with a codec, a batch is full when its
 * ESTIMATED compressed size reaches batch.size (Java's MemoryRecordsBuilder:
 * header + raw bytes x ratio estimate x 1.05). The estimate is kept per topic
 * (Java's CompressionRatioEstimator): it starts at 1.0, moves up at once (by at
 * least 0.05) when a batch compresses worse than estimated and down by 0.005 per
 * batch when it compresses better. So a batch of compressible records holds
 * several times batch.size of raw records; the slot's `recs` is sized for that
 * (fnl_accum_raw_cap()). Without a codec a batch holds batch.size raw bytes.
 *
 * Invariants:
 * - a slot is on exactly one of: the free list, a partition's open pointer
 *   (and the linger list), the producer's partition queue (sealed);
 * - record data lives in `recs` until seal and in `wire` until the batch is
 *   acknowledged or failed; nothing is allocated after fnl_accum_init();
 * - appending costs O(record size); a batch seals when a record does not
 *   fit, when meta is full, or at linger_ms after its first record.
 */
#ifndef FNL_BATCH_ACCUM_H
#define FNL_BATCH_ACCUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/compress/compress.h"
#include "dataplane/kafka/recbatch.h"
#include "dataplane/producer/producer.h"

/* What a delivery report needs to find its way back, per record. */
struct fnl_rec_meta {
	uint64_t opaque;
	uint64_t cmp_slot; /* the client's completion slot reserved for this record */
	uint32_t client;   /* client slot */
	uint32_t client_gen;
};

struct fnl_batch {
	struct fnl_pbatch pb;    /* producer state machine's part; must stay first */
	struct fnl_batch *next;  /* free list / linger list */
	struct fnl_batch *lprev; /* linger list (doubly linked: removal on size seal) */
	uint32_t part;           /* partition slot in the core's table */
	uint32_t topic_id;
	int32_t partition;
	int32_t count;
	struct fnl_rbw w;        /* records writer over recs */
	uint8_t *recs;
	uint8_t *wire;
	size_t wire_len;         /* header + (compressed) records; 0 until sealed */
	struct fnl_rec_meta *meta;
	int64_t created_ms;
	int64_t hdr_pid;         /* producer fields the wire header holds */
	int16_t hdr_epoch;
	int16_t codec;
	int32_t hdr_seq;
	bool hdr_valid;
	bool sealed;
	bool in_send; /* a send referencing `wire` has not completed yet */
};

struct fnl_accum_cfg {
	uint32_t records_cap; /* raw record bytes a slot holds: fnl_accum_raw_cap() */
	uint32_t batch_bytes; /* batch.size (estimated wire bytes); 0: records_cap */
	uint32_t topics_max;  /* topic ids with their own ratio estimate (0: one shared) */
	uint32_t meta_cap;    /* records per batch at most */
	uint64_t memory_bytes; /* buffer.memory */
	int codec;            /* enum fnl_codec */
	int level;
	int linger_ms;
	void *mem;           /* NULL: allocate; else slots * slot_bytes owned by the caller
	                      * (the restart journal's pool, see journal.h) */
	const uint8_t *keep; /* NULL, or per slot 1: holds a batch from before a restart:
	                      * kept as it is and left off the free list (fnl_accum_slot) */
};

struct fnl_accum_stats {
	uint64_t batches_sealed, records_in, bytes_raw, bytes_wire, seal_size, seal_linger,
		seal_meta, pool_empty;
};

struct fnl_accum {
	struct fnl_accum_cfg cfg;
	struct fnl_compressor *zc;
	void *mem;
	size_t slot_bytes, wire_cap;
	uint32_t slots, free_n;
	bool own_mem;
	uint32_t batch_bytes; /* current batch.size: <= records_cap, changeable live */
	float *ratio;         /* per topic: estimated wire bytes / raw bytes (Java's estimator) */
	uint32_t nratio;
	struct fnl_batch *free;
	struct fnl_batch *linger_head, *linger_tail;
	struct fnl_accum_stats st;
};

/* Raw record bytes a slot must hold for batch.size = batch_bytes: batch_bytes
 * without a codec; with one, up to 4 x batch_bytes (a ratio estimate of 1/4;
 * each slot is carved at start-up, so more would cost buffer.memory slots),
 * but no more than max(batch_bytes, request_max / 2) so that even a batch whose
 * records stop compressing stays well inside max.request.size. */
uint32_t fnl_accum_raw_cap(uint32_t batch_bytes, int codec, uint32_t request_max);

/* The current ratio estimate for a topic id (1.0 for an unknown id). */
float fnl_accum_ratio(const struct fnl_accum *a, uint32_t topic_id);

/* Pool geometry for cfg: bytes per slot, slots, wire buffer bytes. -EINVAL for a bad cfg. */
int fnl_accum_geometry(const struct fnl_accum_cfg *cfg, size_t *slot_bytes, uint32_t *slots,
		       size_t *wire_cap);
int fnl_accum_init(struct fnl_accum *a, const struct fnl_accum_cfg *cfg);
/* Slot i of the pool, and the slot of a batch (for the journal's descriptors). */
struct fnl_batch *fnl_accum_slot(struct fnl_accum *a, uint32_t i);
uint32_t fnl_accum_slot_index(const struct fnl_accum *a, const struct fnl_batch *b);
void fnl_accum_free(struct fnl_accum *a);

/* Live settings: linger.ms, and batch.size up to the start-up value (slots are
 * sized then). Open batches keep their size. -EINVAL if batch_bytes is too big. */
int fnl_accum_tune(struct fnl_accum *a, int linger_ms, uint32_t batch_bytes);

/* A new open batch for a partition, or NULL if the pool is empty (backpressure). */
struct fnl_batch *fnl_accum_open(struct fnl_accum *a, uint32_t part, uint32_t topic_id,
				 int32_t partition, int64_t now_ms, int64_t base_ts_ms);

/* Append one record; -ENOSPC if it does not fit (caller seals and opens a new
 * batch), -EMSGSIZE if it could never fit in an empty batch. */
int fnl_accum_append(struct fnl_accum *a, struct fnl_batch *b, int64_t ts_ms, const void *key,
		     int32_t key_len, const void *value, int32_t value_len,
		     const struct fnl_rb_header_kv *h, int nh, const struct fnl_rec_meta *m);

/* Compress the records into `wire` (after the 61-byte header space); leaves the
 * header to fnl_batch_prepare(). Returns 0 or -errno. Removes b from the linger list. */
int fnl_accum_seal(struct fnl_accum *a, struct fnl_batch *b);

/* Writes the header for the producer fields the batch is sent with (CRC included),
 * only when they differ from what the wire already holds. */
void fnl_batch_prepare(struct fnl_batch *b, int64_t pid, int16_t epoch, int32_t base_seq);

/* The oldest open batch whose linger expired at now_ms, or NULL. */
struct fnl_batch *fnl_accum_lingered(struct fnl_accum *a, int64_t now_ms);
/* ms until the oldest open batch must seal (-1: none open). */
int64_t fnl_accum_next_deadline_ms(const struct fnl_accum *a, int64_t now_ms);

void fnl_accum_release(struct fnl_accum *a, struct fnl_batch *b);

static inline struct fnl_batch *fnl_batch_of(struct fnl_pbatch *pb)
{
	return (struct fnl_batch *)pb; /* pb is the first member */
}

#endif
