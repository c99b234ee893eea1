/* accum.c - batch pool, per-partition append, linger and seal. */
#include "dataplane/batch/accum.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* room a Produce request needs besides one batch (request and topic/partition
 * framing, client id, transactional id: far less than this) */
#define REQUEST_OVERHEAD 1024u
#define META_CAP_MAX     16384u

uint32_t fnl_accum_raw_cap(uint32_t batch_bytes, uint32_t request_max)
{
	uint32_t lim = request_max > FNL_RB_HEADER_BYTES + REQUEST_OVERHEAD + 256
			       ? request_max - FNL_RB_HEADER_BYTES - REQUEST_OVERHEAD
			       : 256;
	return batch_bytes < lim ? batch_bytes : lim;
}

uint32_t fnl_accum_big_cap(uint32_t batch_bytes, uint32_t request_max)
{
	uint32_t big = fnl_accum_raw_cap(request_max, request_max);
	return big > fnl_accum_raw_cap(batch_bytes, request_max) ? big : 0;
}

uint32_t fnl_accum_meta_cap(uint32_t records_cap)
{
	uint32_t n = records_cap / 32;
	return n < 64 ? 64 : n > META_CAP_MAX ? META_CAP_MAX : n;
}

static size_t slot_size(uint32_t cap, uint32_t meta_cap, size_t *wire_cap)
{
	*wire_cap = FNL_RB_HEADER_BYTES + (size_t)cap;
	return align64(sizeof(struct fnl_batch)) + align64(*wire_cap) +
	       align64((size_t)meta_cap * sizeof(struct fnl_rec_meta));
}

int fnl_accum_geometry(const struct fnl_accum_cfg *cfg, struct fnl_accum_geom *g)
{
	memset(g, 0, sizeof(*g));
	if (cfg->records_cap < 256 || cfg->meta_cap == 0)
		return -EINVAL;
	g->slot_bytes = slot_size(cfg->records_cap, cfg->meta_cap, &g->wire_cap);
	uint64_t mem = cfg->memory_bytes;
	if (cfg->big_cap > cfg->records_cap) {
		/* one big slot per 16 big slots' worth of buffer.memory, 1 to 4:
		 * a big record waits for one, as Java's waits for memory; none if
		 * buffer.memory cannot hold one besides 4 regular slots (then a
		 * record larger than batch.size fails with MESSAGE_TOO_LARGE) */
		size_t bwire;
		size_t bbytes = slot_size(cfg->big_cap, 1, &bwire);
		uint64_t n = mem / (16 * (uint64_t)bbytes);
		n = n < 1 ? 1 : n > 4 ? 4 : n;
		if (mem >= n * bbytes + 4 * (uint64_t)g->slot_bytes) {
			g->big_slots = (uint32_t)n;
			g->big_slot_bytes = bbytes;
			g->big_wire_cap = bwire;
			mem -= n * bbytes;
		}
	}
	uint64_t n = mem / g->slot_bytes;
	if (n < 4)
		n = 4;
	if (n > UINT32_MAX / 2)
		n = UINT32_MAX / 2;
	g->slots = (uint32_t)n;
	g->pool_bytes = (size_t)g->slots * g->slot_bytes + (size_t)g->big_slots * g->big_slot_bytes;
	return 0;
}

int fnl_accum_init(struct fnl_accum *a, const struct fnl_accum_cfg *cfg)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	int rc = fnl_accum_geometry(cfg, &a->g);
	if (rc < 0)
		return rc;
	size_t cap = cfg->big_cap > cfg->records_cap ? cfg->big_cap : cfg->records_cap;
	if (cfg->codec != FNL_CODEC_NONE) {
		a->scratch_cap = fnl_compress_bound(cfg->codec, cap);
		a->scratch = malloc(a->scratch_cap);
		if (!a->scratch)
			return -ENOMEM;
	}
	a->zc = fnl_compressor_new();
	if (!a->zc) {
		free(a->scratch);
		return -ENOMEM;
	}
	a->mem = cfg->mem;
	if (!a->mem) {
		a->mem = aligned_alloc(64, a->g.pool_bytes);
		a->own_mem = true;
	}
	if (!a->mem) {
		fnl_compressor_free(a->zc);
		free(a->scratch);
		return -ENOMEM;
	}
	uint32_t total = a->g.slots + a->g.big_slots;
	for (uint32_t i = total; i-- > 0;) {
		bool big = i >= a->g.slots;
		uint8_t *base = (uint8_t *)fnl_accum_slot(a, i);
		struct fnl_batch *b = (struct fnl_batch *)base;
		bool keep = cfg->keep && cfg->keep[i];
		size_t bytes = big ? a->g.big_slot_bytes : a->g.slot_bytes;
		size_t wire_cap = big ? a->g.big_wire_cap : a->g.wire_cap;
		/* Touch every page now so that no page fault lands on the hot path
		 * later; a kept slot keeps its wire bytes and meta. */
		memset(base, 0, keep ? sizeof(*b) : bytes);
		size_t off = align64(sizeof(*b));
		b->wire = base + off;
		b->recs = b->wire + FNL_RB_HEADER_BYTES;
		off += align64(wire_cap);
		b->meta = (struct fnl_rec_meta *)(base + off);
		b->big = big;
		if (keep)
			continue;
		if (big) {
			b->next = a->big_free;
			a->big_free = b;
			a->big_free_n++;
		} else {
			b->next = a->free;
			a->free = b;
			a->free_n++;
		}
	}
	a->batch_bytes = cfg->batch_bytes && cfg->batch_bytes <= cfg->records_cap ? cfg->batch_bytes
										   : cfg->records_cap;
	return 0;
}

struct fnl_batch *fnl_accum_slot(struct fnl_accum *a, uint32_t i)
{
	uint8_t *m = a->mem;
	if (i < a->g.slots)
		return (struct fnl_batch *)(m + (size_t)i * a->g.slot_bytes);
	return (struct fnl_batch *)(m + (size_t)a->g.slots * a->g.slot_bytes +
				    (size_t)(i - a->g.slots) * a->g.big_slot_bytes);
}

uint32_t fnl_accum_slot_index(const struct fnl_accum *a, const struct fnl_batch *b)
{
	size_t off = (size_t)((const uint8_t *)b - (const uint8_t *)a->mem);
	size_t reg = (size_t)a->g.slots * a->g.slot_bytes;
	if (off < reg)
		return (uint32_t)(off / a->g.slot_bytes);
	return a->g.slots + (uint32_t)((off - reg) / a->g.big_slot_bytes);
}

int fnl_accum_tune(struct fnl_accum *a, int linger_ms, uint32_t batch_bytes)
{
	if (batch_bytes < 256 || batch_bytes > a->cfg.records_cap || linger_ms < 0)
		return -EINVAL;
	a->cfg.linger_ms = linger_ms;
	a->batch_bytes = batch_bytes;
	return 0;
}

void fnl_accum_free(struct fnl_accum *a)
{
	if (a->own_mem)
		free(a->mem);
	if (a->zc)
		fnl_compressor_free(a->zc);
	free(a->scratch);
	memset(a, 0, sizeof(*a));
}

static void linger_remove(struct fnl_accum *a, struct fnl_batch *b)
{
	if (b->lprev)
		b->lprev->next = b->next;
	else if (a->linger_head == b)
		a->linger_head = b->next;
	if (b->next)
		b->next->lprev = b->lprev;
	else if (a->linger_tail == b)
		a->linger_tail = b->lprev;
	b->next = b->lprev = NULL;
}

static struct fnl_batch *open_from(struct fnl_accum *a, struct fnl_batch *b, uint32_t part,
				   uint32_t topic_id, int32_t partition, int64_t now_ms,
				   int64_t base_ts_ms, size_t cap)
{
	uint8_t *recs = b->recs, *wire = b->wire;
	struct fnl_rec_meta *meta = b->meta;
	bool big = b->big;
	memset(b, 0, sizeof(*b));
	b->recs = recs;
	b->wire = wire;
	b->meta = meta;
	b->big = big;
	b->part = part;
	b->topic_id = topic_id;
	b->partition = partition;
	b->created_ms = now_ms;
	b->pb.base_seq = -1;
	fnl_rbw_init(&b->w, b->recs, cap, base_ts_ms);
	/* linger list: append at the tail (creation order) */
	b->lprev = a->linger_tail;
	if (a->linger_tail)
		a->linger_tail->next = b;
	else
		a->linger_head = b;
	a->linger_tail = b;
	return b;
}

struct fnl_batch *fnl_accum_open(struct fnl_accum *a, uint32_t part, uint32_t topic_id,
				 int32_t partition, int64_t now_ms, int64_t base_ts_ms)
{
	struct fnl_batch *b = a->free;
	if (!b) {
		a->st.pool_empty++;
		return NULL;
	}
	a->free = b->next;
	a->free_n--;
	return open_from(a, b, part, topic_id, partition, now_ms, base_ts_ms, a->batch_bytes);
}

struct fnl_batch *fnl_accum_open_big(struct fnl_accum *a, uint32_t part, uint32_t topic_id,
				     int32_t partition, int64_t now_ms, int64_t base_ts_ms)
{
	struct fnl_batch *b = a->big_free;
	if (!b)
		return NULL;
	a->big_free = b->next;
	a->big_free_n--;
	a->st.big_batches++;
	return open_from(a, b, part, topic_id, partition, now_ms, base_ts_ms, a->cfg.big_cap);
}

int fnl_accum_append_more(struct fnl_accum *a, struct fnl_batch *b, int64_t ts_ms, const void *key,
			  int32_t key_len, const void *value, int32_t value_len,
			  const struct fnl_rb_header_kv *h, int nh, const struct fnl_rec_meta *m)
{
	if ((uint32_t)b->count >= (b->big ? 1u : a->cfg.meta_cap))
		return -ENOSPC;
	int rc = fnl_rbw_append(&b->w, ts_ms, key, key_len, value, value_len, h, nh);
	if (rc == -ENOSPC && b->count == 0 && !b->big && b->w.cap < a->cfg.records_cap) {
		/* a record bigger than batch.size lowered live gets a batch of its
		 * own, as big as the slot (the Java client does the same) */
		b->w.cap = a->cfg.records_cap;
		rc = fnl_rbw_append(&b->w, ts_ms, key, key_len, value, value_len, h, nh);
		if (rc == 0)
			b->w.cap = b->w.len; /* full: nothing joins it */
	}
	if (rc < 0) {
		if (b->count == 0)
			return -EMSGSIZE;
		return rc;
	}
	b->meta[b->count++] = *m;
	a->st.records_in++;
	return 0;
}

void fnl_accum_seal_begin(struct fnl_accum *a, struct fnl_batch *b)
{
	linger_remove(a, b);
}

int fnl_accum_compress(struct fnl_compressor *zc, uint8_t *scratch, size_t scratch_cap, int codec,
		       int level, struct fnl_batch *b)
{
	size_t raw = b->w.len;
	long n = (long)raw;
	if (codec != FNL_CODEC_NONE) {
		/* the records are already where the wire wants them (recs = wire
		 * + 61): compress them out to scratch and copy back only if that
		 * is smaller; otherwise they go as they are, uncompressed */
		long z = fnl_compress(zc, codec, level, b->recs, raw, scratch, scratch_cap);
		if (z < 0)
			return (int)z;
		if ((size_t)z < raw) {
			memcpy(b->recs, scratch, (size_t)z);
			n = z;
		} else {
			codec = FNL_CODEC_NONE;
		}
	}
	b->wire_len = FNL_RB_HEADER_BYTES + (size_t)n;
	b->codec = (int16_t)codec;
	return 0;
}

void fnl_accum_seal_end(struct fnl_accum *a, struct fnl_batch *b)
{
	if (a->cfg.codec != FNL_CODEC_NONE && b->codec == FNL_CODEC_NONE)
		a->st.uncompressed++;
	b->sealed = true;
	b->pb.record_count = b->count;
	b->pb.created_ms = b->created_ms;
	a->st.batches_sealed++;
	a->st.bytes_raw += b->w.len;
	a->st.bytes_wire += b->wire_len;
}

int fnl_accum_seal(struct fnl_accum *a, struct fnl_batch *b)
{
	fnl_accum_seal_begin(a, b);
	int rc = fnl_accum_compress(a->zc, a->scratch, a->scratch_cap, a->cfg.codec, a->cfg.level, b);
	if (rc < 0)
		return rc;
	fnl_accum_seal_end(a, b);
	return 0;
}

void fnl_batch_prepare(struct fnl_batch *b, int64_t pid, int16_t epoch, int32_t base_seq)
{
	if (b->hdr_valid && b->hdr_pid == pid && b->hdr_epoch == epoch && b->hdr_seq == base_seq)
		return;
	struct fnl_rb_meta m = {
		.base_offset = 0,
		.producer_id = pid,
		.producer_epoch = epoch,
		.base_sequence = base_seq,
		.record_count = b->count,
		.base_ts = b->w.base_ts,
		.max_ts = b->w.max_ts,
	};
	m.codec = b->codec;
	fnl_rb_write_header(b->wire, b->wire_len - FNL_RB_HEADER_BYTES, &m);
	b->hdr_pid = pid;
	b->hdr_epoch = epoch;
	b->hdr_seq = base_seq;
	b->hdr_valid = true;
}

struct fnl_batch *fnl_accum_lingered(struct fnl_accum *a, int64_t now_ms)
{
	struct fnl_batch *b = a->linger_head;
	if (b && now_ms - b->created_ms >= a->cfg.linger_ms)
		return b;
	return NULL;
}

int64_t fnl_accum_next_deadline_ms(const struct fnl_accum *a, int64_t now_ms)
{
	const struct fnl_batch *b = a->linger_head;
	if (!b)
		return -1;
	int64_t left = b->created_ms + a->cfg.linger_ms - now_ms;
	return left < 0 ? 0 : left;
}

void fnl_accum_release(struct fnl_accum *a, struct fnl_batch *b)
{
	if (!b->sealed)
		linger_remove(a, b);
	if (b->big) {
		b->next = a->big_free;
		a->big_free = b;
		a->big_free_n++;
		return;
	}
	b->next = a->free;
	a->free = b;
	a->free_n++;
}
