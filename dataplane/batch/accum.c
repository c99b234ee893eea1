/* accum.c - batch pool, per-partition append, linger and seal. */
#include "dataplane/batch/accum.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* Java's MemoryRecordsBuilder / CompressionRatioEstimator constants */
#define RATIO_ESTIMATION_FACTOR 1.05f
#define RATIO_IMPROVING_STEP    0.005f
#define RATIO_DETERIORATE_STEP  0.05f
#define RAW_FACTOR_MAX          4u

uint32_t fnl_accum_raw_cap(uint32_t batch_bytes, int codec, uint32_t request_max)
{
	if (codec == FNL_CODEC_NONE)
		return batch_bytes;
	uint64_t cap = (uint64_t)batch_bytes * RAW_FACTOR_MAX;
	uint64_t lim = request_max / 2 > batch_bytes ? request_max / 2 : batch_bytes;
	return (uint32_t)(cap < lim ? cap : lim);
}

/* A topic's estimate: its own (nratio = topics_max), the shared one (nratio =
 * 1), or none (no codec, or an id beyond the table: 1.0, never updated). */
static float *ratio_of(const struct fnl_accum *a, uint32_t topic_id)
{
	if (a->nratio == 1)
		return &a->ratio[0];
	return topic_id < a->nratio ? &a->ratio[topic_id] : NULL;
}

float fnl_accum_ratio(const struct fnl_accum *a, uint32_t topic_id)
{
	const float *r = ratio_of(a, topic_id);
	return r ? *r : 1.0f;
}

/* Java's CompressionRatioEstimator.updateEstimation(): worse -> up at once,
 * better -> down slowly. */
static void ratio_update(struct fnl_accum *a, uint32_t topic_id, float seen)
{
	float *r = ratio_of(a, topic_id);
	if (!r)
		return;
	if (seen > *r)
		*r = seen > *r + RATIO_DETERIORATE_STEP ? seen : *r + RATIO_DETERIORATE_STEP;
	else if (seen < *r)
		*r = seen > *r - RATIO_IMPROVING_STEP ? seen : *r - RATIO_IMPROVING_STEP;
}

/* Raw bytes a new batch of this topic may take: header + raw x ratio x 1.05
 * <= batch.size (Java's estimatedBytesWritten() against its write limit). */
static size_t raw_limit(const struct fnl_accum *a, uint32_t topic_id)
{
	if (a->cfg.codec == FNL_CODEC_NONE)
		return a->batch_bytes;
	float est = fnl_accum_ratio(a, topic_id) * RATIO_ESTIMATION_FACTOR;
	float room = (float)a->batch_bytes - (float)FNL_RB_HEADER_BYTES;
	if (room < 1.0f)
		room = 1.0f;
	float raw = room / (est > 0.001f ? est : 0.001f);
	if (raw >= (float)a->cfg.records_cap)
		return a->cfg.records_cap;
	return raw < 1.0f ? 1 : (size_t)raw;
}

int fnl_accum_geometry(const struct fnl_accum_cfg *cfg, size_t *slot_bytes, uint32_t *slots,
			size_t *wire_cap)
{
	if (cfg->records_cap < 256 || cfg->meta_cap == 0)
		return -EINVAL;
	size_t bound = fnl_compress_bound(cfg->codec, cfg->records_cap);
	if (bound < cfg->records_cap)
		bound = cfg->records_cap;
	*wire_cap = FNL_RB_HEADER_BYTES + bound;
	*slot_bytes = align64(sizeof(struct fnl_batch)) + align64(cfg->records_cap) +
		      align64(*wire_cap) + align64(cfg->meta_cap * sizeof(struct fnl_rec_meta));
	uint64_t n = cfg->memory_bytes / *slot_bytes;
	if (n < 4)
		n = 4;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	*slots = (uint32_t)n;
	return 0;
}

int fnl_accum_init(struct fnl_accum *a, const struct fnl_accum_cfg *cfg)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	int rc = fnl_accum_geometry(cfg, &a->slot_bytes, &a->slots, &a->wire_cap);
	if (rc < 0)
		return rc;
	a->nratio = cfg->codec == FNL_CODEC_NONE ? 0 : cfg->topics_max ? cfg->topics_max : 1;
	if (a->nratio) {
		a->ratio = malloc(sizeof(*a->ratio) * a->nratio);
		if (!a->ratio)
			return -ENOMEM;
		for (uint32_t i = 0; i < a->nratio; i++)
			a->ratio[i] = 1.0f;
	}
	a->zc = fnl_compressor_new();
	if (!a->zc) {
		free(a->ratio);
		return -ENOMEM;
	}
	a->mem = cfg->mem;
	if (!a->mem) {
		a->mem = aligned_alloc(64, a->slot_bytes * a->slots);
		a->own_mem = true;
	}
	if (!a->mem) {
		fnl_compressor_free(a->zc);
		free(a->ratio);
		return -ENOMEM;
	}
	for (uint32_t i = a->slots; i-- > 0;) {
		uint8_t *base = (uint8_t *)a->mem + (size_t)i * a->slot_bytes;
		struct fnl_batch *b = (struct fnl_batch *)base;
		bool keep = cfg->keep && cfg->keep[i];
		/* Touch every page now so that no page fault lands on the hot path
		 * later; a kept slot keeps its records, wire bytes and meta. */
		memset(base, 0, keep ? sizeof(*b) : a->slot_bytes);
		size_t off = align64(sizeof(*b));
		b->recs = base + off;
		off += align64(cfg->records_cap);
		b->wire = base + off;
		off += align64(a->wire_cap);
		b->meta = (struct fnl_rec_meta *)(base + off);
		if (keep)
			continue;
		b->next = a->free;
		a->free = b;
		a->free_n++;
	}
	a->batch_bytes = cfg->batch_bytes && cfg->batch_bytes <= cfg->records_cap ? cfg->batch_bytes
										   : cfg->records_cap;
	return 0;
}

struct fnl_batch *fnl_accum_slot(struct fnl_accum *a, uint32_t i)
{
	return (struct fnl_batch *)((uint8_t *)a->mem + (size_t)i * a->slot_bytes);
}

uint32_t fnl_accum_slot_index(const struct fnl_accum *a, const struct fnl_batch *b)
{
	return (uint32_t)(((const uint8_t *)b - (const uint8_t *)a->mem) / a->slot_bytes);
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
	free(a->ratio);
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
	uint8_t *recs = b->recs, *wire = b->wire;
	struct fnl_rec_meta *meta = b->meta;
	memset(b, 0, sizeof(*b));
	b->recs = recs;
	b->wire = wire;
	b->meta = meta;
	b->part = part;
	b->topic_id = topic_id;
	b->partition = partition;
	b->created_ms = now_ms;
	b->pb.base_seq = -1;
	fnl_rbw_init(&b->w, b->recs, raw_limit(a, topic_id), base_ts_ms);
	/* linger list: append at the tail (creation order) */
	b->lprev = a->linger_tail;
	if (a->linger_tail)
		a->linger_tail->next = b;
	else
		a->linger_head = b;
	a->linger_tail = b;
	return b;
}

int fnl_accum_append(struct fnl_accum *a, struct fnl_batch *b, int64_t ts_ms, const void *key,
		     int32_t key_len, const void *value, int32_t value_len,
		     const struct fnl_rb_header_kv *h, int nh, const struct fnl_rec_meta *m)
{
	if ((uint32_t)b->count >= a->cfg.meta_cap)
		return -ENOSPC;
	int rc = fnl_rbw_append(&b->w, ts_ms, key, key_len, value, value_len, h, nh);
	if (rc == -ENOSPC && b->count == 0 && b->w.cap < a->cfg.records_cap) {
		/* a record bigger than the batch's limit (batch.size over the ratio
		 * estimate, or batch.size lowered live) gets a batch of its own, as
		 * big as the slot (the Java client does the same) */
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

int fnl_accum_seal(struct fnl_accum *a, struct fnl_batch *b)
{
	linger_remove(a, b);
	size_t raw = b->w.len;
	long n;
	if (a->cfg.codec == FNL_CODEC_NONE) {
		memcpy(b->wire + FNL_RB_HEADER_BYTES, b->recs, raw);
		n = (long)raw;
	} else {
		n = fnl_compress(a->zc, a->cfg.codec, a->cfg.level, b->recs, raw,
				 b->wire + FNL_RB_HEADER_BYTES, a->wire_cap - FNL_RB_HEADER_BYTES);
		if (n < 0)
			return (int)n;
	}
	b->wire_len = FNL_RB_HEADER_BYTES + (size_t)n;
	if (raw > 0) /* no codec: no estimate to update */
		ratio_update(a, b->topic_id, (float)b->wire_len / (float)raw);
	b->codec = (int16_t)a->cfg.codec;
	b->sealed = true;
	b->pb.record_count = b->count;
	b->pb.created_ms = b->created_ms;
	a->st.batches_sealed++;
	a->st.bytes_raw += raw;
	a->st.bytes_wire += b->wire_len;
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
	b->next = a->free;
	a->free = b;
	a->free_n++;
}
