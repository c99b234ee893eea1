/* libFuzzer target: the daemon side of the ring against hostile client bytes.
 * Input: [u8 mode][u64 tail][u64 head][bytes...]. mode & 1: the bytes become
 * line 0 of the header (fnl_ring_validate against several mapping sizes);
 * else they fill the records area of a 64 KiB ring and fnl_ring_next /
 * fnl_rec_hdrs_next walk it from tail. Every pointer handed out must lie in
 * the records area and every payload byte is read, so ASan sees overruns. */
#include "dataplane/ring/ring.h"

#include <stdlib.h>

#define REC_BYTES (64u * 1024u)
#define CMP       64u

static uint8_t *ring_mem;
static size_t ring_total;

static void check_in(const struct fnl_ring_dview *d, const uint8_t *p, uint64_t n)
{
	if (p < d->rec || p + n > d->rec + d->rec_bytes)
		abort();
}

static void walk(struct fnl_ring_dview *d, uint64_t tail, uint64_t head)
{
	struct fnl_rec_view r;
	uint64_t cursor = tail;
	volatile uint8_t sink = 0;
	int rc;

	d->tail = tail;
	atomic_store_explicit(&d->hdr->rec_head, head, memory_order_relaxed);
	while ((rc = fnl_ring_next(d, &cursor, &r)) == 1) {
		struct fnl_rec_kv kv;
		uint32_t pos = 0, i;

		if (r.end - r.pos != r.h.len || r.end - tail > d->rec_bytes ||
		    r.pos - tail >= d->rec_bytes)
			abort();
		if (r.key)
			check_in(d, r.key, r.h.key_len);
		if (r.value)
			check_in(d, r.value, r.h.value_len);
		check_in(d, r.headers, r.h.headers_len);
		for (i = 0; i < r.h.key_len; i++)
			sink ^= r.key[i];
		for (i = 0; i < r.h.value_len; i++)
			sink ^= r.value[i];
		while (fnl_rec_hdrs_next(&r, &pos, &kv) == 1) {
			check_in(d, kv.name, kv.name_len);
			if (kv.value)
				check_in(d, kv.value, (uint64_t)kv.value_len);
		}
	}
	if (rc != 0 && rc != -EBADMSG)
		abort();
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fnl_ring_dview d;
	uint64_t tail, head;
	uint8_t mode;

	if (!ring_mem) {
		if (fnl_ring_layout(REC_BYTES, CMP, &ring_total) < 0)
			abort();
		ring_mem = aligned_alloc(64, (ring_total + 63) & ~(size_t)63);
	}
	if (size < 17)
		return 0;
	mode = data[0];
	memcpy(&tail, data + 1, 8);
	memcpy(&head, data + 9, 8);
	data += 17;
	size -= 17;
	fnl_ring_init(ring_mem, REC_BYTES, CMP, 1);
	if (mode & 1) {
		struct fnl_ring_geom g;
		size_t n = size < 64 ? size : 64;

		memcpy(ring_mem, data, n);
		(void)fnl_ring_validate((struct fnl_ring_hdr *)ring_mem, ring_total, &g);
		(void)fnl_ring_validate((struct fnl_ring_hdr *)ring_mem, (size_t)(tail & 0xffffff),
		                        &g);
		if (fnl_ring_dview_init(&d, ring_mem, ring_total) == 0 &&
		    (d.rec_bytes != REC_BYTES || d.cmp_entries != CMP))
			abort();
		return 0;
	}
	if (fnl_ring_dview_init(&d, ring_mem, ring_total) < 0)
		abort();
	memset(ring_mem + FNL_RING_HDR_BYTES, 0, REC_BYTES);
	memcpy(ring_mem + FNL_RING_HDR_BYTES, data, size < REC_BYTES ? size : REC_BYTES);
	/* mostly plausible indexes, sometimes raw */
	if (mode & 2) {
		tail &= ~(uint64_t)7;
		head = tail + (head % (REC_BYTES + 16));
	}
	walk(&d, tail, head);
	return 0;
}
