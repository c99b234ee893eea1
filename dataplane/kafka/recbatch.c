/* recbatch.c - RecordBatch v2 writer and decoder (layout in recbatch.h). */
#include "dataplane/kafka/recbatch.h"

#include <errno.h>
#include <string.h>

#include "dataplane/kafka/crc32c.h"
#include "dataplane/kafka/wire.h"

/* Bytes of the batch after the batchLength field, excluding records. */
#define RB_FIXED_AFTER_LEN (FNL_RB_HEADER_BYTES - 12)

void fnl_rbw_init(struct fnl_rbw *w, void *buf, size_t cap, int64_t base_ts_ms)
{
	w->buf = buf;
	w->len = 0;
	w->cap = cap;
	w->count = 0;
	w->base_ts = base_ts_ms;
	w->max_ts = -1;
}

static size_t opt_len(int32_t len)
{
	return len > 0 ? (size_t)len : 0;
}

/* Size of a record body (everything after its length varint); 0 on invalid lengths. */
static size_t body_size(int64_t ts_delta, int32_t offset_delta, int32_t key_len, int32_t value_len,
                        size_t hdrs_len, int nh)
{
	if (key_len < -1 || value_len < -1 || nh < 0)
		return 0;
	return 1 + fnl_varlong_size(ts_delta) + fnl_varint_size(offset_delta) +
	       fnl_varint_size(key_len) + opt_len(key_len) + fnl_varint_size(value_len) +
	       opt_len(value_len) + fnl_varint_size(nh) + hdrs_len;
}

/* Serialized size of a header list; SIZE_MAX on an invalid header. */
static size_t headers_size(const struct fnl_rb_header_kv *h, int nh)
{
	size_t n = 0;
	for (int i = 0; i < nh; i++) {
		if (h[i].key_len < 0 || h[i].value_len < -1)
			return SIZE_MAX;
		n += fnl_varint_size(h[i].key_len) + (size_t)h[i].key_len +
		     fnl_varint_size(h[i].value_len) + opt_len(h[i].value_len);
	}
	return n;
}

size_t fnl_rb_record_size_raw(int64_t ts_delta, int32_t offset_delta, int32_t key_len,
                              int32_t value_len, size_t hdrs_len, int nh)
{
	size_t body = body_size(ts_delta, offset_delta, key_len, value_len, hdrs_len, nh);
	if (!body || body > INT32_MAX)
		return 0;
	return fnl_varint_size((int32_t)body) + body;
}

size_t fnl_rb_record_size(int64_t ts_delta, int32_t offset_delta, int32_t key_len,
                          int32_t value_len, const struct fnl_rb_header_kv *h, int nh)
{
	size_t hs = nh > 0 ? headers_size(h, nh) : 0;
	if (hs == SIZE_MAX)
		return 0;
	return fnl_rb_record_size_raw(ts_delta, offset_delta, key_len, value_len, hs, nh);
}

int fnl_rbw_append(struct fnl_rbw *w, int64_t ts_ms, const void *key, int32_t key_len,
                   const void *value, int32_t value_len, const struct fnl_rb_header_kv *h, int nh)
{
	size_t hs = nh > 0 ? headers_size(h, nh) : 0;
	if (hs == SIZE_MAX || (nh > 0 && !h))
		return -EINVAL;
	/* no headers: the serialized form of none ("" is 0 bytes, never read) */
	return fnl_rbw_put(w, ts_ms, key, key_len, value, value_len, nh > 0 ? h : NULL, "", hs, nh);
}

int fnl_rbw_append_raw_headers(struct fnl_rbw *w, int64_t ts_ms, const void *key, int32_t key_len,
                               const void *value, int32_t value_len, const void *hdrs,
                               size_t hdrs_len, int nh)
{
	if (hdrs_len > 0 && !hdrs)
		return -EINVAL;
	return fnl_rbw_put(w, ts_ms, key, key_len, value, value_len, NULL, hdrs, hdrs_len, nh);
}

/* ---- batch header ---- */

static void rb_update_crc(uint8_t *batch, size_t batch_len)
{
	uint32_t crc = fnl_crc32c(0, batch + FNL_RB_ATTR_OFFSET, batch_len - FNL_RB_ATTR_OFFSET);
	fnl_put_be32(batch + FNL_RB_CRC_OFFSET, crc);
}

void fnl_rb_set_transactional(uint8_t *batch, size_t batch_len)
{
	uint16_t attr = fnl_get_be16(batch + FNL_RB_ATTR_OFFSET);
	fnl_put_be16(batch + FNL_RB_ATTR_OFFSET, (uint16_t)(attr | FNL_RB_ATTR_TXN));
	rb_update_crc(batch, batch_len);
}

void fnl_rb_write_header(uint8_t *batch, size_t records_len, const struct fnl_rb_meta *m)
{
	uint8_t *p = batch;
	fnl_put_be64(p + 0, (uint64_t)m->base_offset);
	fnl_put_be32(p + 8, (uint32_t)(RB_FIXED_AFTER_LEN + records_len));
	fnl_put_be32(p + 12, (uint32_t)-1); /* partitionLeaderEpoch */
	p[16] = 2;                          /* magic */
	fnl_put_be16(p + 21, (uint16_t)(m->codec & FNL_RB_CODEC_MASK));
	fnl_put_be32(p + 23, (uint32_t)(m->record_count - 1));
	fnl_put_be64(p + 27, (uint64_t)m->base_ts);
	fnl_put_be64(p + 35, (uint64_t)m->max_ts);
	fnl_put_be64(p + 43, (uint64_t)m->producer_id);
	fnl_put_be16(p + 51, (uint16_t)m->producer_epoch);
	fnl_put_be32(p + 53, (uint32_t)m->base_sequence);
	fnl_put_be32(p + 57, (uint32_t)m->record_count);
	rb_update_crc(batch, FNL_RB_HEADER_BYTES + records_len);
}

void fnl_rb_set_producer(uint8_t *batch, size_t batch_len, int64_t pid, int16_t epoch,
                         int32_t base_seq)
{
	if (batch_len < FNL_RB_HEADER_BYTES)
		return;
	fnl_put_be64(batch + 43, (uint64_t)pid);
	fnl_put_be16(batch + 51, (uint16_t)epoch);
	fnl_put_be32(batch + 53, (uint32_t)base_seq);
	rb_update_crc(batch, batch_len);
}

/* ---- decoder ---- */

static void rb_read_meta(const uint8_t *p, struct fnl_rb_meta *m)
{
	m->base_offset = (int64_t)fnl_get_be64(p + 0);
	m->leader_epoch = (int32_t)fnl_get_be32(p + 12);
	m->attributes = (int16_t)fnl_get_be16(p + 21);
	m->codec = m->attributes & FNL_RB_CODEC_MASK;
	m->base_ts = (int64_t)fnl_get_be64(p + 27);
	m->max_ts = (int64_t)fnl_get_be64(p + 35);
	m->producer_id = (int64_t)fnl_get_be64(p + 43);
	m->producer_epoch = (int16_t)fnl_get_be16(p + 51);
	m->base_sequence = (int32_t)fnl_get_be32(p + 53);
	m->record_count = (int32_t)fnl_get_be32(p + 57);
}

/* Skips nh headers in r, checking their shape. */
static void skip_headers(struct fnl_rbuf *r, int32_t nh)
{
	for (int32_t i = 0; i < nh && !r->err; i++) {
		int32_t kl = fnl_r_varint(r);
		if (kl < 0)
			fnl_r_fail(r);
		fnl_r_skip(r, opt_len(kl));
		int32_t vl = fnl_r_varint(r);
		if (vl < -1)
			fnl_r_fail(r);
		fnl_r_skip(r, opt_len(vl));
	}
}

/* Reads a varint length and that many bytes: NULL for -1, error below that. */
static const uint8_t *r_varbytes(struct fnl_rbuf *r, int32_t *len)
{
	*len = fnl_r_varint(r);
	if (r->err || *len < -1) {
		fnl_r_fail(r);
		return NULL;
	}
	if (*len == -1)
		return NULL;
	return fnl_r_take(r, (size_t)*len);
}

/* Parses one record body (exactly the bytes of r). Returns 0 or -EBADMSG. */
static int parse_record(struct fnl_rbuf *r, const struct fnl_rb_meta *m, struct fnl_rb_record *rec)
{
	(void)fnl_r_i8(r); /* attributes, unused */
	int64_t ts_delta = fnl_r_varlong(r);
	int32_t off_delta = fnl_r_varint(r);
	rec->timestamp = (int64_t)((uint64_t)m->base_ts + (uint64_t)ts_delta);
	rec->offset = (int64_t)((uint64_t)m->base_offset + (uint64_t)(int64_t)off_delta);
	rec->key = r_varbytes(r, &rec->key_len);
	rec->value = r_varbytes(r, &rec->value_len);
	int32_t nh = fnl_r_varint(r);
	if (nh < 0)
		fnl_r_fail(r);
	rec->header_count = nh;
	size_t hstart = r->off;
	skip_headers(r, nh);
	rec->headers = r->p + hstart;
	rec->headers_len = r->off - hstart;
	if (!r->err && r->off != r->len)
		fnl_r_fail(r); /* bytes left inside the record */
	return r->err;
}

static long walk_records(const uint8_t *recs, size_t len, const struct fnl_rb_meta *m,
                         fnl_rb_record_cb cb, void *ctx)
{
	struct fnl_rbuf r;
	fnl_rbuf_init(&r, recs, len);
	for (int32_t i = 0; i < m->record_count; i++) {
		int32_t rl = fnl_r_varint(&r);
		if (rl < 0)
			fnl_r_fail(&r);
		const uint8_t *body = fnl_r_take(&r, opt_len(rl));
		if (r.err)
			return -EBADMSG;
		struct fnl_rbuf rb;
		struct fnl_rb_record rec;
		fnl_rbuf_init(&rb, body, (size_t)rl);
		if (parse_record(&rb, m, &rec) < 0)
			return -EBADMSG;
		if (cb) {
			int rc = cb(ctx, m, &rec);
			if (rc < 0)
				return rc;
		}
	}
	if (r.off != r.len)
		return -EBADMSG; /* trailing bytes after the declared records */
	return 0;
}

long fnl_rb_decode(const uint8_t *p, size_t n, struct fnl_compressor *c, void *scratch,
                   size_t scratch_cap, struct fnl_rb_meta *meta_out, fnl_rb_record_cb cb, void *ctx)
{
	struct fnl_rb_meta m;

	if (n < FNL_RB_HEADER_BYTES)
		return -EBADMSG;
	int32_t blen = (int32_t)fnl_get_be32(p + 8);
	if (blen < RB_FIXED_AFTER_LEN || (size_t)blen > n - 12)
		return -EBADMSG;
	size_t total = 12 + (size_t)blen;
	if (p[16] != 2)
		return -EBADMSG;
	uint32_t want = fnl_get_be32(p + FNL_RB_CRC_OFFSET);
	if (fnl_crc32c(0, p + FNL_RB_ATTR_OFFSET, total - FNL_RB_ATTR_OFFSET) != want)
		return -EPROTO;
	rb_read_meta(p, &m);
	if (meta_out)
		*meta_out = m;
	if (m.record_count < 0 || m.codec > FNL_CODEC_ZSTD)
		return -EBADMSG;

	const uint8_t *recs = p + FNL_RB_HEADER_BYTES;
	size_t recs_len = total - FNL_RB_HEADER_BYTES;
	if (m.codec != FNL_CODEC_NONE) {
		if (!c || !scratch)
			return -EINVAL;
		long d = fnl_decompress(c, (enum fnl_codec)m.codec, recs, recs_len, scratch,
		                        scratch_cap);
		if (d < 0)
			return d == -ENOSPC ? -ENOSPC : -EBADMSG;
		recs = scratch;
		recs_len = (size_t)d;
	}
	long rc = walk_records(recs, recs_len, &m, cb, ctx);
	return rc < 0 ? rc : (long)total;
}

int fnl_rb_header_next(const uint8_t **p, size_t *left, struct fnl_rb_header_kv *out)
{
	struct fnl_rbuf r;
	if (*left == 0)
		return 0;
	fnl_rbuf_init(&r, *p, *left);
	int32_t kl;
	const uint8_t *k = r_varbytes(&r, &kl);
	if (kl < 0)
		fnl_r_fail(&r);
	int32_t vl;
	const uint8_t *v = r_varbytes(&r, &vl);
	if (r.err)
		return -EBADMSG;
	out->key = k;
	out->key_len = kl;
	out->value = v;
	out->value_len = vl;
	*p += r.off;
	*left -= r.off;
	return 1;
}
