/* wire.h - bounded big-endian writer and reader for the Kafka protocol primitives.
 *
 * Layout of the two cursors:
 *
 *   struct fnl_wbuf                       struct fnl_rbuf
 *   p ->+-----------------+------+        p ->+-----------+-----------+
 *       | written (len)   | free |            | consumed  | unread    |
 *       +-----------------+------+            +-----------+-----------+
 *       0                len    cap           0          off         len
 *
 * Invariants:
 *   - w->len <= w->cap and r->off <= r->len at all times.
 *   - Errors are sticky: once a write would pass cap, w->err = -ENOSPC and every later
 *     write is a no-op (w->len stays where the first failing write found it). Once a read
 *     would pass len (or a value is malformed), r->err = -EBADMSG and every later read
 *     returns 0 / NULL without moving. So a whole message can be encoded or decoded with
 *     one error check at the end.
 *   - Readers never read outside [p, p + len). Strings and byte spans returned by the
 *     readers point into the input buffer and are NOT NUL-terminated.
 *   - Varints follow Kafka (protobuf-style base 128, little-endian groups). An unsigned
 *     varint (uvarint) is at most 5 bytes, a varlong at most 10: longer encodings are
 *     errors. Signed values are zigzag-encoded.
 *
 * Nothing here allocates or keeps state outside the cursor. Everything is static inline
 * so the hot encoders compile down to stores.
 */
#ifndef FNL_KAFKA_WIRE_H
#define FNL_KAFKA_WIRE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fnl_wbuf {
	uint8_t *p;
	size_t len, cap;
	int err; /* 0, or -ENOSPC once a write overflowed */
};

struct fnl_rbuf {
	const uint8_t *p;
	size_t len, off;
	int err; /* 0, or -EBADMSG once a read failed */
};

/* ---- unaligned big-endian load/store for patching ---- */

static inline void fnl_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void fnl_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void fnl_put_be64(uint8_t *p, uint64_t v)
{
	fnl_put_be32(p, (uint32_t)(v >> 32));
	fnl_put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t fnl_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t fnl_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t fnl_get_be64(const uint8_t *p)
{
	return (uint64_t)fnl_get_be32(p) << 32 | fnl_get_be32(p + 4);
}

/* ---- varint sizes (for exact size computations without writing) ---- */

static inline size_t fnl_uvarint_size(uint32_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline size_t fnl_uvarlong_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint32_t fnl_zigzag32(int32_t v)
{
	return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

static inline uint64_t fnl_zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int32_t fnl_unzigzag32(uint32_t v)
{
	return (int32_t)((v >> 1) ^ (~(v & 1) + 1));
}

static inline int64_t fnl_unzigzag64(uint64_t v)
{
	return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

static inline size_t fnl_varint_size(int32_t v)
{
	return fnl_uvarint_size(fnl_zigzag32(v));
}

static inline size_t fnl_varlong_size(int64_t v)
{
	return fnl_uvarlong_size(fnl_zigzag64(v));
}

/* ---- writer ---- */

static inline void fnl_wbuf_init(struct fnl_wbuf *w, void *p, size_t cap)
{
	w->p = p;
	w->len = 0;
	w->cap = cap;
	w->err = 0;
}

/* Reserves n bytes and returns where to write them, or NULL (and sets err) if they do not fit. */
static inline uint8_t *fnl_w_reserve(struct fnl_wbuf *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = -ENOSPC;
		return NULL;
	}
	uint8_t *d = w->p + w->len;
	w->len += n;
	return d;
}

static inline void fnl_w_bytes_raw(struct fnl_wbuf *w, const void *s, size_t n)
{
	uint8_t *d = fnl_w_reserve(w, n);
	if (d && n)
		memcpy(d, s, n);
}

static inline void fnl_w_i8(struct fnl_wbuf *w, int8_t v)
{
	uint8_t *d = fnl_w_reserve(w, 1);
	if (d)
		d[0] = (uint8_t)v;
}

static inline void fnl_w_i16(struct fnl_wbuf *w, int16_t v)
{
	uint8_t *d = fnl_w_reserve(w, 2);
	if (d)
		fnl_put_be16(d, (uint16_t)v);
}

static inline void fnl_w_i32(struct fnl_wbuf *w, int32_t v)
{
	uint8_t *d = fnl_w_reserve(w, 4);
	if (d)
		fnl_put_be32(d, (uint32_t)v);
}

static inline void fnl_w_u32(struct fnl_wbuf *w, uint32_t v)
{
	uint8_t *d = fnl_w_reserve(w, 4);
	if (d)
		fnl_put_be32(d, v);
}

static inline void fnl_w_i64(struct fnl_wbuf *w, int64_t v)
{
	uint8_t *d = fnl_w_reserve(w, 8);
	if (d)
		fnl_put_be64(d, (uint64_t)v);
}

/* Raw base-128 encoding into d (which has room for 10 bytes); returns bytes written. */
static inline size_t fnl_uvarlong_put(uint8_t *d, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		d[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	d[n++] = (uint8_t)v;
	return n;
}

static inline void fnl_w_uvarint(struct fnl_wbuf *w, uint32_t v)
{
	uint8_t *d = fnl_w_reserve(w, fnl_uvarint_size(v));
	if (d)
		fnl_uvarlong_put(d, v);
}

static inline void fnl_w_varint(struct fnl_wbuf *w, int32_t v)
{
	fnl_w_uvarint(w, fnl_zigzag32(v));
}

static inline void fnl_w_varlong(struct fnl_wbuf *w, int64_t v)
{
	uint64_t z = fnl_zigzag64(v);
	uint8_t *d = fnl_w_reserve(w, fnl_uvarlong_size(z));
	if (d)
		fnl_uvarlong_put(d, z);
}

/* int16 length + bytes; len must be <= INT16_MAX */
static inline void fnl_w_string(struct fnl_wbuf *w, const char *s, size_t len)
{
	if (len > INT16_MAX) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	fnl_w_i16(w, (int16_t)len);
	fnl_w_bytes_raw(w, s, len);
}

/* nullable: s == NULL writes length -1 */
static inline void fnl_w_nstring(struct fnl_wbuf *w, const char *s, size_t len)
{
	if (!s)
		fnl_w_i16(w, -1);
	else
		fnl_w_string(w, s, len);
}

/* uvarint (len + 1) + bytes */
static inline void fnl_w_compact_string(struct fnl_wbuf *w, const char *s, size_t len)
{
	if (len >= INT32_MAX) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	fnl_w_uvarint(w, (uint32_t)len + 1);
	fnl_w_bytes_raw(w, s, len);
}

/* nullable compact: s == NULL writes uvarint 0 */
static inline void fnl_w_compact_nstring(struct fnl_wbuf *w, const char *s, size_t len)
{
	if (!s)
		fnl_w_uvarint(w, 0);
	else
		fnl_w_compact_string(w, s, len);
}

/* int32 length + bytes; NULL writes -1 */
static inline void fnl_w_bytes(struct fnl_wbuf *w, const void *s, size_t len)
{
	if (!s) {
		fnl_w_i32(w, -1);
		return;
	}
	if (len > INT32_MAX) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	fnl_w_i32(w, (int32_t)len);
	fnl_w_bytes_raw(w, s, len);
}

/* uvarint (len + 1) + bytes; NULL writes 0 */
static inline void fnl_w_compact_bytes(struct fnl_wbuf *w, const void *s, size_t len)
{
	fnl_w_compact_nstring(w, s, len);
}

static inline void fnl_w_array_len(struct fnl_wbuf *w, int32_t n)
{
	fnl_w_i32(w, n);
}

/* n + 1; n == -1 (null array) writes 0 */
static inline void fnl_w_compact_array_len(struct fnl_wbuf *w, int32_t n)
{
	fnl_w_uvarint(w, (uint32_t)n + 1);
}

static inline void fnl_w_tags_empty(struct fnl_wbuf *w)
{
	fnl_w_uvarint(w, 0);
}

/* ---- reader ---- */

static inline void fnl_rbuf_init(struct fnl_rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

static inline size_t fnl_r_left(const struct fnl_rbuf *r)
{
	return r->len - r->off;
}

static inline void fnl_r_fail(struct fnl_rbuf *r)
{
	if (!r->err)
		r->err = -EBADMSG;
}

/* Consumes n bytes and returns where they start, or NULL (and sets err). */
static inline const uint8_t *fnl_r_take(struct fnl_rbuf *r, size_t n)
{
	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = -EBADMSG;
		return NULL;
	}
	const uint8_t *s = r->p + r->off;
	r->off += n;
	return s;
}

static inline void fnl_r_skip(struct fnl_rbuf *r, size_t n)
{
	(void)fnl_r_take(r, n);
}

static inline int8_t fnl_r_i8(struct fnl_rbuf *r)
{
	const uint8_t *s = fnl_r_take(r, 1);
	return s ? (int8_t)s[0] : 0;
}

static inline int16_t fnl_r_i16(struct fnl_rbuf *r)
{
	const uint8_t *s = fnl_r_take(r, 2);
	return s ? (int16_t)fnl_get_be16(s) : 0;
}

static inline int32_t fnl_r_i32(struct fnl_rbuf *r)
{
	const uint8_t *s = fnl_r_take(r, 4);
	return s ? (int32_t)fnl_get_be32(s) : 0;
}

static inline int64_t fnl_r_i64(struct fnl_rbuf *r)
{
	const uint8_t *s = fnl_r_take(r, 8);
	return s ? (int64_t)fnl_get_be64(s) : 0;
}

/* Base-128 decode of at most max_bytes bytes; values wider than `bits` are errors. */
static inline uint64_t fnl_r_uvar_n(struct fnl_rbuf *r, unsigned max_bytes, unsigned bits)
{
	uint64_t v = 0;
	if (r->err)
		return 0;
	for (unsigned i = 0; i < max_bytes; i++) {
		if (r->off >= r->len)
			break;
		uint8_t b = r->p[r->off++];
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (bits < 64 && (v >> bits) != 0)
				break;
			return v;
		}
	}
	r->err = -EBADMSG;
	return 0;
}

static inline uint32_t fnl_r_uvarint(struct fnl_rbuf *r)
{
	return (uint32_t)fnl_r_uvar_n(r, 5, 32);
}

static inline int32_t fnl_r_varint(struct fnl_rbuf *r)
{
	return fnl_unzigzag32(fnl_r_uvarint(r));
}

static inline int64_t fnl_r_varlong(struct fnl_rbuf *r)
{
	return fnl_unzigzag64(fnl_r_uvar_n(r, 10, 64));
}

/* int16-length string; *len = -1 and *s = NULL for a null string. Returns *s. */
static inline const char *fnl_r_string(struct fnl_rbuf *r, const char **s, int32_t *len)
{
	int16_t n = fnl_r_i16(r);
	*s = NULL;
	*len = 0;
	if (r->err)
		return NULL;
	if (n < 0) {
		if (n == -1)
			*len = -1;
		else
			fnl_r_fail(r);
		return NULL;
	}
	const uint8_t *d = fnl_r_take(r, (size_t)n);
	if (!d)
		return NULL;
	*s = (const char *)d;
	*len = n;
	return *s;
}

/* uvarint (len + 1) string; 0 means null (*len = -1). Returns *s. */
static inline const char *fnl_r_compact_string(struct fnl_rbuf *r, const char **s, int32_t *len)
{
	uint32_t n = fnl_r_uvarint(r);
	*s = NULL;
	*len = 0;
	if (r->err)
		return NULL;
	if (n == 0) {
		*len = -1;
		return NULL;
	}
	if (n - 1 > INT32_MAX) {
		fnl_r_fail(r);
		return NULL;
	}
	const uint8_t *d = fnl_r_take(r, n - 1);
	if (!d)
		return NULL;
	*s = (const char *)d;
	*len = (int32_t)(n - 1);
	return *s;
}

/* int32-length bytes; -1 is null. */
static inline const uint8_t *fnl_r_bytes(struct fnl_rbuf *r, const uint8_t **s, int32_t *len)
{
	int32_t n = fnl_r_i32(r);
	*s = NULL;
	*len = 0;
	if (r->err)
		return NULL;
	if (n < 0) {
		if (n == -1)
			*len = -1;
		else
			fnl_r_fail(r);
		return NULL;
	}
	const uint8_t *d = fnl_r_take(r, (size_t)n);
	if (!d)
		return NULL;
	*s = d;
	*len = n;
	return d;
}

static inline const uint8_t *fnl_r_compact_bytes(struct fnl_rbuf *r, const uint8_t **s,
                                                 int32_t *len)
{
	const char *c;
	fnl_r_compact_string(r, &c, len);
	*s = (const uint8_t *)c;
	return *s;
}

/* int32 array length; -1 is null; other negatives are errors (returns 0). */
static inline int32_t fnl_r_array_len(struct fnl_rbuf *r)
{
	int32_t n = fnl_r_i32(r);
	if (r->err || n < -1) {
		fnl_r_fail(r);
		return 0;
	}
	return n;
}

/* uvarint (n + 1); 0 is null (returns -1). */
static inline int32_t fnl_r_compact_array_len(struct fnl_rbuf *r)
{
	uint32_t n = fnl_r_uvarint(r);
	if (r->err)
		return 0;
	if (n == 0)
		return -1;
	if (n - 1 > INT32_MAX) {
		fnl_r_fail(r);
		return 0;
	}
	return (int32_t)(n - 1);
}

/* Skips a tagged-field section: uvarint count, then per field uvarint tag, uvarint size, data. */
static inline void fnl_r_tags_skip(struct fnl_rbuf *r)
{
	uint32_t n = fnl_r_uvarint(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		(void)fnl_r_uvarint(r);
		uint32_t size = fnl_r_uvarint(r);
		fnl_r_skip(r, size);
	}
}

/* An array count can never be larger than the bytes left (each element takes >= min_elem
 * bytes): rejects absurd counts before any loop runs. Returns true when plausible. */
static inline bool fnl_r_count_ok(struct fnl_rbuf *r, int32_t n, size_t min_elem)
{
	if (r->err)
		return false;
	if (n > 0 && (size_t)n > fnl_r_left(r) / (min_elem ? min_elem : 1)) {
		fnl_r_fail(r);
		return false;
	}
	return true;
}

#endif
