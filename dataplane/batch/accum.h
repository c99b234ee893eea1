/* accum.h - the record accumulator: a fixed pool of batches, one open batch
 * per partition, sealing by size or linger, compression at seal.
 *
 * Layout of one pool slot (all carved from one allocation at start-up):
 *
 *   struct fnl_batch          bookkeeping, embeds the producer's fnl_pbatch
 *   wire[61 + cap]            the batch as sent: the 61-byte header, then the
 *                             records section; records are appended in place
 *                             (recs = wire + 61) and compressed at seal into
 *                             the accumulator's scratch buffer, then copied
 *                             back over them
 *   meta[meta_cap]            per record: which client, which ring chunk,
 *                             the client's opaque, for the delivery report
 *
 *   pool: slots regular slots (cap = records_cap = batch.size), then
 *         big_slots big slots (cap = big_cap, for one record larger than
 *         batch.size, up to max.request.size, as the Java producer does)
 *   free lists (regular, big) ──▶ slot ──▶ slot ...   (LIFO, O(1), no malloc)
 *   linger list: open batches by creation time (oldest at head)
 *
 * batch.size counts the bytes of a batch's records section before
 * compression (as librdkafka's batch.size does): a batch is full when the
 * next record would take its records past batch.size. There is no ratio
 * estimate: with a codec the batch holds batch.size of records, and the
 * compressed batch is smaller; a batch that does not compress (the codec's
 * output is not smaller than its input) is sent uncompressed (attributes
 * codec none, which every broker accepts). buffer.memory bounds the pool:
 * slots * slot_bytes + big_slots * big_slot_bytes <= buffer.memory (at least
 * four regular slots and, when max.request.size > batch.size, one big slot).
 *
 * Invariants:
 * - a slot is on exactly one of: its free list, a partition's open pointer
 *   (and the linger list), the producer's partition queue (sealed);
 * - record data lives in `wire` from append until the batch is acknowledged
 *   or failed (compressed in place at seal); nothing is allocated after
 *   fnl_accum_init();
 * - appending costs O(record size); a batch seals when a record does not
 *   fit, when meta is full, or at linger_ms after its first record; a big
 *   slot holds one record and is sealed at once.
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
	uint8_t *recs;           /* wire + 61 */
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
	bool big;     /* a big slot (for one record larger than batch.size) */
	/* compression on another core (dataplane/core/compress_pool.h): set by
	 * the worker before it hands the batch back (zrc), by the core when it
	 * took it back (zdone); the core's per-partition FIFO links by `next` */
	bool zdone;
	uint8_t zcore; /* which core compressed it: 0 the data-plane core, i worker i */
	int32_t zrc;   /* fnl_accum_compress()'s result */
};

struct fnl_accum_cfg {
	uint32_t records_cap; /* records section bytes a regular slot holds: batch.size */
	uint32_t batch_bytes; /* batch.size (records section bytes); 0: records_cap */
	uint32_t big_cap;     /* records section bytes of a big slot (fnl_accum_big_cap());
	                       * 0: no big slots */
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
	uint64_t batches_sealed, records_in, bytes_raw, bytes_wire, pool_empty, big_batches,
		uncompressed; /* batches sent without compression: it did not make them smaller */
};

/* Where the pool's slots lie (the restart journal maps the same geometry). */
struct fnl_accum_geom {
	size_t slot_bytes, wire_cap;         /* regular slots */
	uint32_t slots;
	size_t big_slot_bytes, big_wire_cap; /* big slots, after the regular ones */
	uint32_t big_slots;
	size_t pool_bytes;
};

struct fnl_accum {
	struct fnl_accum_cfg cfg;
	struct fnl_compressor *zc;
	void *mem;
	struct fnl_accum_geom g;
	uint32_t free_n, big_free_n;
	bool own_mem;
	uint32_t batch_bytes; /* current batch.size: <= records_cap, changeable live */
	uint8_t *scratch;     /* compression output, copied back into the slot */
	size_t scratch_cap;
	struct fnl_batch *free, *big_free;
	struct fnl_batch *linger_head, *linger_tail;
	struct fnl_accum_stats st;
};

/* Records section bytes of a regular slot for batch.size = batch_bytes: the
 * batch header and the request's own overhead must fit in max.request.size
 * too, so a batch that is sent uncompressed is never refused for its size. */
uint32_t fnl_accum_raw_cap(uint32_t batch_bytes, uint32_t request_max);
/* Records section bytes of a big slot (one record up to max.request.size);
 * 0 when a regular slot already holds that much. */
uint32_t fnl_accum_big_cap(uint32_t batch_bytes, uint32_t request_max);
/* Records per batch at most for a regular slot of records_cap bytes: one per
 * 32 bytes, at most 16,384 (librdkafka's batch.num.messages is 10,000). */
uint32_t fnl_accum_meta_cap(uint32_t records_cap);

/* Pool geometry for cfg. -EINVAL for a bad cfg (or buffer.memory too small). */
int fnl_accum_geometry(const struct fnl_accum_cfg *cfg, struct fnl_accum_geom *g);
int fnl_accum_init(struct fnl_accum *a, const struct fnl_accum_cfg *cfg);
/* Slot i of the pool (regular slots first, then big ones: i < slots +
 * big_slots), and the slot of a batch (for the journal's descriptors). */
struct fnl_batch *fnl_accum_slot(struct fnl_accum *a, uint32_t i);
uint32_t fnl_accum_slot_index(const struct fnl_accum *a, const struct fnl_batch *b);
void fnl_accum_free(struct fnl_accum *a);

/* Live settings: linger.ms, and batch.size up to the start-up value (slots are
 * sized then). Open batches keep their size. -EINVAL if batch_bytes is too big. */
int fnl_accum_tune(struct fnl_accum *a, int linger_ms, uint32_t batch_bytes);

/* A new open batch for a partition, or NULL if the pool is empty (backpressure). */
struct fnl_batch *fnl_accum_open(struct fnl_accum *a, uint32_t part, uint32_t topic_id,
				 int32_t partition, int64_t now_ms, int64_t base_ts_ms);
/* The same from the big slots, for one record larger than batch.size; NULL if
 * none is free (or there are none). */
struct fnl_batch *fnl_accum_open_big(struct fnl_accum *a, uint32_t part, uint32_t topic_id,
				     int32_t partition, int64_t now_ms, int64_t base_ts_ms);

/* Append one record; -ENOSPC if it does not fit (caller seals and opens a new
 * batch), -EMSGSIZE if it could never fit in an empty batch. The record that
 * fits is appended inline (per record: no call layer of its own; the record
 * encoding itself too when it has no headers); the rest
 * goes to fnl_accum_append_more(), which tries it again (nothing was written). */
int fnl_accum_append_more(struct fnl_accum *a, struct fnl_batch *b, int64_t ts_ms, const void *key,
			  int32_t key_len, const void *value, int32_t value_len,
			  const struct fnl_rb_header_kv *h, int nh, const struct fnl_rec_meta *m);
static inline int fnl_accum_append(struct fnl_accum *a, struct fnl_batch *b, int64_t ts_ms,
				   const void *key, int32_t key_len, const void *value,
				   int32_t value_len, const struct fnl_rb_header_kv *h, int nh,
				   const struct fnl_rec_meta *m)
{
	if ((uint32_t)b->count < (b->big ? 1u : a->cfg.meta_cap) &&
	    (nh == 0 ? fnl_rbw_put(&b->w, ts_ms, key, key_len, value, value_len, NULL, "", 0, 0)
		     : fnl_rbw_append(&b->w, ts_ms, key, key_len, value, value_len, h, nh)) == 0) {
		b->meta[b->count++] = *m;
		a->st.records_in++;
		return 0;
	}
	return fnl_accum_append_more(a, b, ts_ms, key, key_len, value, value_len, h, nh, m);
}

/* Compress the records in place (through the scratch buffer; uncompressed if
 * that is not smaller); leaves the header to fnl_batch_prepare(). Returns 0 or
 * -errno. Removes b from the linger list. */
int fnl_accum_seal(struct fnl_accum *a, struct fnl_batch *b);

/* fnl_accum_seal() in three steps, for compression on another thread:
 * begin (the owning core: off the linger list), compress (any thread that
 * owns zc and scratch, touching only b's records, wire_len and codec), end
 * (the owning core again: sealed, counters). Between begin and end the batch
 * belongs to the compressing thread. */
void fnl_accum_seal_begin(struct fnl_accum *a, struct fnl_batch *b);
int fnl_accum_compress(struct fnl_compressor *zc, uint8_t *scratch, size_t scratch_cap, int codec,
		       int level, struct fnl_batch *b);
void fnl_accum_seal_end(struct fnl_accum *a, struct fnl_batch *b);

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
