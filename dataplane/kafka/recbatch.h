/* recbatch.h - Kafka RecordBatch v2 (magic 2): record writer, header writer, decoder.
 *
 * Batch layout (big-endian; offsets in bytes):
 *
 *    0 baseOffset           i64   0 from a producer
 *    8 batchLength          i32   bytes after this field = 49 + records section
 *   12 partitionLeaderEpoch i32   -1 from a producer
 *   16 magic                i8    2
 *   17 crc                  u32   CRC-32C of bytes [21, end)
 *   21 attributes           i16   bits 0-2 codec, bit 3 timestamp type (0 CreateTime),
 *                                 bit 4 transactional, bit 5 control
 *   23 lastOffsetDelta      i32   record_count - 1
 *   27 baseTimestamp        i64
 *   35 maxTimestamp         i64
 *   43 producerId           i64
 *   51 producerEpoch        i16
 *   53 baseSequence         i32
 *   57 recordCount          i32
 *   61 records section      (compressed as one block when codec != none)
 *
 * Record (inside the records section, uncompressed form):
 *   length varint (bytes after itself), attributes i8 (0), timestampDelta varlong,
 *   offsetDelta varint, keyLen varint (-1 null), key, valueLen varint (-1 null), value,
 *   headerCount varint, headers: [hKeyLen varint, hKey, hValueLen varint (-1 null), hValue]
 *
 * Invariants:
 *   - The writer appends whole records or nothing: on -ENOSPC the writer is unchanged.
 *   - The decoder never reads past n, never writes past scratch_cap, allocates nothing.
 *   - fnl_rb_write_header and fnl_rb_set_producer always leave a valid CRC.
 */
#ifndef FNL_KAFKA_RECBATCH_H
#define FNL_KAFKA_RECBATCH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/compress/compress.h"
#include "dataplane/kafka/wire.h"

#define FNL_RB_HEADER_BYTES 61
#define FNL_RB_CRC_OFFSET   17
#define FNL_RB_ATTR_OFFSET  21 /* CRC covers [21, end) */
#define FNL_RB_CODEC_MASK   0x07
#define FNL_RB_ATTR_TXN     0x10
#define FNL_RB_ATTR_CONTROL 0x20

struct fnl_rb_header_kv {
	const void *key;
	int32_t key_len; /* >= 0 (a header key is never null) */
	const void *value;
	int32_t value_len; /* -1 null */
};

/* Writes UNCOMPRESSED records (the records section only) into a caller buffer. */
struct fnl_rbw {
	uint8_t *buf;
	size_t len, cap;
	int32_t count;
	int64_t base_ts, max_ts; /* max_ts is -1 until a record is appended */
};

void fnl_rbw_init(struct fnl_rbw *w, void *buf, size_t cap, int64_t base_ts_ms);

/* Varint size and store with the one- and two-byte cases (every field of a
 * small record) straight-line; longer ones take the loop. */
static inline size_t fnl_rb_uv_size(uint64_t v)
{
	return v < 0x80 ? 1 : v < 0x4000 ? 2 : fnl_uvarlong_size(v);
}

static inline uint8_t *fnl_rb_put_uv(uint8_t *d, uint64_t v)
{
	if (v < 0x80) {
		d[0] = (uint8_t)v;
		return d + 1;
	}
	if (v < 0x4000) {
		d[0] = (uint8_t)(v | 0x80);
		d[1] = (uint8_t)(v >> 7);
		return d + 2;
	}
	return d + fnl_uvarlong_put(d, v);
}

/* One record, in one pass: the zigzagged varints are computed once, their
 * sizes give the body's length and the room check, then every field is
 * stored directly (no writer cursor, no check per field). The headers are
 * a list (h, nh entries), or with h NULL already serialized (raw, hs bytes). Key, value and
 * header bytes are read once each (they may be a client's shared memory).
 * This is the largest cost per record outside zstd (bench/README.md, "Per-record
 * cost by stage"), so it is inline: the accumulator's append takes it for a
 * record without headers. hs must be the headers' exact encoded size (h) or
 * raw's length. 0, -EINVAL or -ENOSPC (w unchanged). */
static inline int fnl_rbw_put(struct fnl_rbw *w, int64_t ts_ms, const void *key, int32_t key_len,
                              const void *value, int32_t value_len,
                              const struct fnl_rb_header_kv *h, const void *raw, size_t hs,
                              int nh)
{
	if (w->count == INT32_MAX || key_len < -1 || value_len < -1 || nh < 0 ||
	    (key_len > 0 && !key) || (value_len > 0 && !value))
		return -EINVAL;
	uint64_t zts = fnl_zigzag64((int64_t)((uint64_t)ts_ms - (uint64_t)w->base_ts));
	uint32_t zoff = fnl_zigzag32(w->count), zk = fnl_zigzag32(key_len),
		 zv = fnl_zigzag32(value_len), znh = fnl_zigzag32(nh);
	size_t body = 1 + fnl_rb_uv_size(zts) + fnl_rb_uv_size(zoff) + fnl_rb_uv_size(zk) + (key_len > 0 ? (size_t)key_len : 0) +
		      fnl_rb_uv_size(zv) + (value_len > 0 ? (size_t)value_len : 0) + fnl_rb_uv_size(znh) + hs;
	if (body > INT32_MAX)
		return -EINVAL;
	uint32_t zbody = fnl_zigzag32((int32_t)body);
	size_t total = fnl_rb_uv_size(zbody) + body;
	if (total > w->cap - w->len)
		return -ENOSPC;
	uint8_t *d = fnl_rb_put_uv(w->buf + w->len, zbody);
	*d++ = 0; /* record attributes */
	d = fnl_rb_put_uv(d, zts);
	d = fnl_rb_put_uv(d, zoff);
	d = fnl_rb_put_uv(d, zk);
	if (key_len > 0) {
		memcpy(d, key, (size_t)key_len);
		d += key_len;
	}
	d = fnl_rb_put_uv(d, zv);
	if (value_len > 0) {
		memcpy(d, value, (size_t)value_len);
		d += value_len;
	}
	d = fnl_rb_put_uv(d, znh);
	if (!h) {
		if (hs)
			memcpy(d, raw, hs);
	} else {
		for (int i = 0; i < nh; i++) {
			d = fnl_rb_put_uv(d, fnl_zigzag32(h[i].key_len));
			if (h[i].key_len > 0) {
				memcpy(d, h[i].key, (size_t)h[i].key_len);
				d += h[i].key_len;
			}
			d = fnl_rb_put_uv(d, fnl_zigzag32(h[i].value_len));
			if (h[i].value_len > 0) {
				memcpy(d, h[i].value, (size_t)h[i].value_len);
				d += h[i].value_len;
			}
		}
	}
	w->len += total;
	w->count++;
	if (ts_ms > w->max_ts)
		w->max_ts = ts_ms;
	return 0;
}

/* Exact encoded size of one record, length prefix included (0 if a length is invalid). */
size_t fnl_rb_record_size(int64_t ts_delta, int32_t offset_delta, int32_t key_len,
                          int32_t value_len, const struct fnl_rb_header_kv *h, int nh);

/* Appends one record with timestamp ts_ms and offsetDelta = w->count. key/value NULL with
 * len -1 are null. Returns 0, -ENOSPC (w unchanged) or -EINVAL (bad length / count). */
int fnl_rbw_append(struct fnl_rbw *w, int64_t ts_ms, const void *key, int32_t key_len,
                   const void *value, int32_t value_len, const struct fnl_rb_header_kv *h, int nh);

/* Same with the headers already serialized in record wire format (nh headers in
 * hdrs_len bytes of [hKeyLen varint, hKey, hValueLen varint, hValue]); they are copied
 * verbatim, not checked. */
size_t fnl_rb_record_size_raw(int64_t ts_delta, int32_t offset_delta, int32_t key_len,
                              int32_t value_len, size_t hdrs_len, int nh);
int fnl_rbw_append_raw_headers(struct fnl_rbw *w, int64_t ts_ms, const void *key, int32_t key_len,
                               const void *value, int32_t value_len, const void *hdrs,
                               size_t hdrs_len, int nh);

struct fnl_rb_meta {
	int64_t base_offset;
	int16_t codec; /* enum fnl_codec; attribute bits 0-2 */
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
	int64_t base_ts, max_ts;
	int16_t attributes;   /* decoder output: full attributes field; ignored by the writer */
	int32_t leader_epoch; /* decoder output: partitionLeaderEpoch; the writer writes -1 */
};

/* Writes the 61-byte header at `batch` for the records section of `records_len` bytes
 * (compressed or not) that follows it in the same buffer, and computes the CRC. */
void fnl_rb_write_header(uint8_t *batch, size_t records_len, const struct fnl_rb_meta *m);

/* Sets the transactional attribute bit (FNL_RB_ATTR_TXN) of a finished batch and recomputes
 * its CRC (KIP-98: every batch of a transactional producer carries it). */
void fnl_rb_set_transactional(uint8_t *batch, size_t batch_len);

/* Rewrites producer id/epoch/base sequence in a finished batch and recomputes its CRC. */
void fnl_rb_set_producer(uint8_t *batch, size_t batch_len, int64_t pid, int16_t epoch,
                         int32_t base_seq);

struct fnl_rb_record {
	int64_t offset, timestamp;
	const uint8_t *key; /* NULL when key_len == -1 */
	int32_t key_len;
	const uint8_t *value; /* NULL when value_len == -1 */
	int32_t value_len;
	int header_count;
	const uint8_t *headers; /* header_count headers in wire format; see fnl_rb_header_next */
	size_t headers_len;
};

/* Return 0 to continue; a negative value stops the decode, which returns it. */
typedef int (*fnl_rb_record_cb)(void *ctx, const struct fnl_rb_meta *m,
                                const struct fnl_rb_record *rec);

/* Validates length, magic and CRC, decompresses the records section into scratch (through
 * fnl_decompress; c may be NULL for uncompressed batches) and calls cb for each record
 * (cb may be NULL). Returns the bytes of the batch consumed (12 + batchLength), -EBADMSG
 * (malformed), -EPROTO (CRC mismatch), -ENOSPC (scratch too small), -EINVAL (compressed
 * but c or scratch is NULL) or cb's error. */
long fnl_rb_decode(const uint8_t *p, size_t n, struct fnl_compressor *c, void *scratch,
                   size_t scratch_cap, struct fnl_rb_meta *meta_out, fnl_rb_record_cb cb,
                   void *ctx);

/* Iterates the headers of a decoded record: 1 got one (advances *p, *left), 0 end,
 * -EBADMSG malformed. */
int fnl_rb_header_next(const uint8_t **p, size_t *left, struct fnl_rb_header_kv *out);

#endif
