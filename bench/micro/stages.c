/* fnl-stages - funneld's per-record data-plane work, stage by stage, in one
 * process and without a network, for callgrind (issue 17, item 5).
 *
 * The same modules the core runs, called in the core's order: a client fills
 * a shared-memory ring (dataplane/ring, not counted), then the "daemon" side
 * takes each record and its report slot (ring read), picks a partition
 * (uniform sticky, as for null keys), appends it to the partition's open
 * batch (RecordBatch v2 encoding), seals full batches (zstd at funneld's
 * level 1, in place), writes the header with its CRC32C, and fills and
 * publishes the records' reports. Each stage is its own noinline function,
 * so `callgrind_annotate --inclusive=yes` gives its instructions directly:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out build-rel/bench/micro/fnl-stages
 *   callgrind_annotate --inclusive=yes cg.out | grep stage_
 *
 * Not here: sending (Produce request encoding and io_uring, per batch), the
 * loop's polling, take_record's glue and the per-batch producer state machine:
 * fnl-core-stages (core_stages.c) runs those with the core's own code. Natively
 * it prints ns per record for the whole daemon side, for zstd alone and
 * outside zstd.
 * Usage: fnl-stages [RECORDS (default 1000000)]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/batch/accum.h"
#include "dataplane/partition/partition.h"
#include "dataplane/ring/ring.h"
#include "micro_corpus.h"

#define RING_BYTES  (4u << 20)
#define CMP_ENTRIES 65536u
#define NPARTS      12
#define VALUE_BYTES MICRO_VALUE_BYTES
#define BATCH_BYTES 65536u /* funneld's default batch.size */
#define NOINLINE    __attribute__((noinline))

static struct fnl_accum acc;
static struct fnl_batch *open_b[NPARTS];
static struct fnl_sticky sticky;
static struct fnl_ring_cview cv;
static struct fnl_ring_dview dv;
static uint64_t rd; /* daemon's read cursor */
static double zstd_ns;
static uint64_t records_done;

/* Client side (not counted): up to n records into the ring, published. */
static NOINLINE uint64_t client_fill(uint64_t n, uint64_t first)
{
	uint64_t k = 0;
	for (; k < n; k++)
		if (micro_put_record(&cv, first + k, 0) < 0)
			break;
	return k;
}

/* Client side (not counted): read every published report. */
static NOINLINE void client_drain(void)
{
	struct fnl_cmp c;
	while (fnl_ring_cmp_pop(&cv, &c) == 1)
		if (c.err)
			abort();
	fnl_ring_cmp_commit(&cv);
}

static NOINLINE int stage_ring_read(struct fnl_rec_view *r, uint64_t *slot)
{
	uint64_t cur = rd;
	int rc = fnl_ring_next(&dv, &cur, r);
	if (rc <= 0)
		return rc;
	if (fnl_ring_cmp_reserve(&dv, r->end, slot) < 0)
		abort();
	rd = cur;
	return 1;
}

static NOINLINE int32_t stage_partition(const struct fnl_rec_view *r)
{
	int32_t p = fnl_sticky_partition(&sticky, NPARTS, NULL);
	fnl_sticky_on_append(&sticky, (int32_t)r->h.len, BATCH_BYTES, NPARTS, NULL);
	return p;
}

static NOINLINE int stage_append(struct fnl_batch *b, const struct fnl_rec_view *r,
                                 const struct fnl_rec_meta *m)
{
	return fnl_accum_append(&acc, b, r->h.timestamp_ms, NULL, -1, r->value,
	                        (int32_t)r->h.value_len, NULL, 0, m);
}

static NOINLINE void stage_seal(struct fnl_batch *b)
{
	double t0 = micro_now_ns();
	if (fnl_accum_seal(&acc, b) < 0)
		abort();
	zstd_ns += micro_now_ns() - t0; /* seal is zstd plus a memcpy back and counters */
}

static NOINLINE void stage_crc(struct fnl_batch *b)
{
	fnl_batch_prepare(b, 1000, 0, (int32_t)(records_done & 0x7fffffff));
}

static NOINLINE void stage_report(struct fnl_batch *b)
{
	for (int32_t i = 0; i < b->count; i++) {
		struct fnl_cmp e = {.opaque = b->meta[i].opaque,
		                    .offset = (int64_t)records_done + i,
		                    .partition = b->partition,
		                    .topic_id = 0};
		fnl_ring_cmp_fill(&dv, b->meta[i].cmp_slot, &e);
	}
	records_done += (uint64_t)b->count;
	fnl_ring_cmp_publish(&dv);
}

static void finish(struct fnl_batch *b)
{
	stage_seal(b);
	stage_crc(b);
	stage_report(b);
	fnl_accum_release(&acc, b);
}

/* The daemon side over everything published: returns records taken. */
static NOINLINE uint64_t daemon_pass(void)
{
	uint64_t n = 0;
	struct fnl_rec_view r;
	uint64_t slot;
	while (stage_ring_read(&r, &slot) == 1) {
		int32_t p = stage_partition(&r);
		struct fnl_rec_meta m = {.opaque = r.h.opaque, .cmp_slot = slot};
		for (;;) {
			if (!open_b[p] && !(open_b[p] = fnl_accum_open(&acc, (uint32_t)p, 0, p, 0,
			                                               r.h.timestamp_ms)))
				abort();
			if (stage_append(open_b[p], &r, &m) == 0)
				break;
			finish(open_b[p]); /* full: seal, header + CRC, reports */
			open_b[p] = NULL;
		}
		n++;
	}
	return n;
}

static void seal_all(void)
{
	for (int p = 0; p < NPARTS; p++)
		if (open_b[p]) {
			finish(open_b[p]);
			open_b[p] = NULL;
		}
}

int main(int argc, char **argv)
{
	uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	size_t bytes;
	if (fnl_ring_layout(RING_BYTES, CMP_ENTRIES, &bytes) < 0)
		return 1;
	void *ring = aligned_alloc(4096, bytes);
	if (!ring)
		return 1;
	fnl_ring_init(ring, RING_BYTES, CMP_ENTRIES, 1);
	fnl_ring_cview_init(&cv, ring, RING_BYTES, CMP_ENTRIES);
	if (fnl_ring_dview_init(&dv, ring, bytes) < 0)
		return 1;
	struct fnl_accum_cfg cfg = {.records_cap = BATCH_BYTES,
	                            .batch_bytes = BATCH_BYTES,
	                            .meta_cap = fnl_accum_meta_cap(BATCH_BYTES),
	                            .memory_bytes = 32u << 20,
	                            .codec = FNL_CODEC_ZSTD,
	                            .level = 1,
	                            .linger_ms = 5};
	if (fnl_accum_init(&acc, &cfg) < 0)
		return 1;
	fnl_sticky_init(&sticky, 42);
	double daemon_ns = 0;
	uint64_t made = 0;
	while (made < total) {
		uint64_t want = total - made < 20000 ? total - made : 20000;
		uint64_t got = client_fill(want, made);
		made += got;
		double t0 = micro_now_ns();
		daemon_pass();
		if (made == total || got < want)
			seal_all(); /* as linger.ms would */
		daemon_ns += micro_now_ns() - t0;
		client_drain();
	}
	if (records_done != total)
		return 2;
	double per = daemon_ns / (double)total, z = zstd_ns / (double)total;
	printf("{\"records\": %llu, \"daemon_ns_per_record\": %.1f, \"seal_zstd_ns_per_record\": "
	       "%.1f, \"outside_zstd_ns_per_record\": %.1f, \"ratio\": %.3f}\n",
	       (unsigned long long)total, per, z, per - z,
	       (double)acc.st.bytes_raw / (double)acc.st.bytes_wire);
	fnl_accum_free(&acc);
	free(ring);
	return 0;
}
