/* test_journal.c - the restart journal file (dataplane/batch/journal.h), the
 * batch pool kept across a restart (accum keep), and the producer's restore
 * entry points: what a restarted funneld relies on, without sockets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dataplane/batch/accum.h"
#include "dataplane/batch/journal.h"
#include "dataplane/producer/producer.h"

static char path[256];

static struct fnl_accum_cfg acfg(void *mem, const uint8_t *keep)
{
	return (struct fnl_accum_cfg){.records_cap = 4096,
				      .meta_cap = 128,
				      .memory_bytes = 64 * 1024,
				      .codec = FNL_CODEC_NONE,
				      .linger_ms = 5,
				      .mem = mem,
				      .keep = keep};
}

static struct fnl_jgeom geom(void)
{
	struct fnl_accum_cfg c = acfg(NULL, NULL);
	struct fnl_accum_geom ag;
	CHECK_EQ(fnl_accum_geometry(&c, &ag), 0);
	return (struct fnl_jgeom){.slot_bytes = ag.slot_bytes,
				  .slots = ag.slots,
				  .clients_max = 4,
				  .partitions_max = 8,
				  .records_cap = c.records_cap,
				  .meta_cap = c.meta_cap,
				  .wire_cap = (uint32_t)ag.wire_cap};
}

static void test_file(void)
{
	struct fnl_journal j, j2;
	struct fnl_jgeom g = geom();
	const char *why = NULL;

	CHECK_EQ(fnl_journal_open(&j, path, &g, &why), FNL_JOURNAL_FRESH);
	CHECK(why != NULL); /* "no journal yet" */
	CHECK_EQ(j.hdr->pid, -1);
	/* a second daemon on the same state dir is refused */
	CHECK_EQ(fnl_journal_open(&j2, path, &g, NULL), -EBUSY);
	j.hdr->pid = 42;
	j.hdr->epoch = 3;
	j.descs[1].state = FNL_JD_SEALED;
	j.descs[1].count = 7;
	memset((uint8_t *)j.pool + g.slot_bytes, 0xab, 64);
	fnl_journal_close(&j);

	/* same geometry: everything is back, pool included */
	CHECK_EQ(fnl_journal_open(&j, path, &g, &why), FNL_JOURNAL_RECOVERED);
	CHECK_EQ(j.hdr->pid, 42);
	CHECK_EQ(j.hdr->epoch, 3);
	CHECK_EQ(j.descs[1].state, FNL_JD_SEALED);
	CHECK_EQ(j.descs[1].count, 7);
	CHECK_EQ(((uint8_t *)j.pool)[g.slot_bytes + 63], 0xab);
	fnl_journal_close(&j);

	/* another geometry (say batch.size changed): a fresh journal, and why */
	struct fnl_jgeom g2 = g;
	g2.clients_max = 5;
	CHECK_EQ(fnl_journal_open(&j, path, &g2, &why), FNL_JOURNAL_FRESH);
	CHECK(why && strstr(why, "changed"));
	CHECK_EQ(j.hdr->pid, -1);
	CHECK_EQ(j.descs[1].state, FNL_JD_FREE);
	fnl_journal_close(&j);

	/* a file of garbage is not trusted */
	FILE *f = fopen(path, "w");
	CHECK(f);
	fputs("not a journal", f);
	fclose(f);
	CHECK_EQ(fnl_journal_open(&j, path, &g, &why), FNL_JOURNAL_FRESH);
	CHECK(why && strstr(why, "format"));
	fnl_journal_close(&j);
}

/* A sealed batch in the journal's pool keeps its bytes when the pool is set up
 * again with that slot kept, and stays off the free list. */
static void test_keep(void)
{
	struct fnl_journal j;
	struct fnl_jgeom g = geom();
	struct fnl_accum a;

	CHECK(fnl_journal_open(&j, path, &g, NULL) >= 0);
	struct fnl_accum_cfg c = acfg(j.pool, NULL);
	CHECK_EQ(fnl_accum_init(&a, &c), 0);
	CHECK_EQ(a.free_n, g.slots);
	struct fnl_batch *b = fnl_accum_open(&a, 0, 1, 0, 1000, 1000);
	CHECK(b);
	struct fnl_rec_meta m = {.opaque = 77, .cmp_slot = 5, .client = 2, .client_gen = 9};
	CHECK_EQ(fnl_accum_append(&a, b, 1000, "k", 1, "value", 5, NULL, 0, &m), 0);
	CHECK_EQ(fnl_accum_seal(&a, b), 0);
	fnl_batch_prepare(b, 42, 3, 100);
	uint32_t slot = fnl_accum_slot_index(&a, b);
	size_t wl = b->wire_len;
	uint8_t wire[256];
	CHECK(wl <= sizeof(wire));
	memcpy(wire, b->wire, wl);
	fnl_accum_free(&a); /* the pool is the journal's: not freed */
	fnl_journal_close(&j);

	CHECK_EQ(fnl_journal_open(&j, path, &g, NULL), FNL_JOURNAL_RECOVERED);
	uint8_t *keep = calloc(g.slots, 1);
	keep[slot] = 1;
	c = acfg(j.pool, keep);
	CHECK_EQ(fnl_accum_init(&a, &c), 0);
	CHECK_EQ(a.free_n, g.slots - 1);
	struct fnl_batch *k = fnl_accum_slot(&a, slot);
	CHECK_MEM(k->wire, wire, wl);
	CHECK_EQ(k->meta[0].opaque, 77);
	CHECK_EQ(k->meta[0].client_gen, 9);
	for (uint32_t i = 0; i < g.slots - 1; i++)
		CHECK(fnl_accum_open(&a, i, 1, 0, 1000, 1000) != k);
	CHECK(fnl_accum_open(&a, 0, 1, 0, 1000, 1000) == NULL); /* pool empty */
	free(keep);
	fnl_accum_free(&a);
	fnl_journal_close(&j);
}

/* A restored batch is resent with the sequence it had; new batches continue after it. */
static void test_restore(void)
{
	struct fnl_producer p;
	struct fnl_ppart pp;
	struct fnl_pbatch a = {.record_count = 10}, b = {.record_count = 4}, n = {.record_count = 3};
	struct fnl_producer_cfg cfg = {.idempotent = true,
				       .acks = -1,
				       .max_inflight = 5,
				       .retries = 3,
				       .retry_backoff_ms = 10,
				       .delivery_timeout_ms = 120000,
				       .request_timeout_ms = 30000};

	fnl_producer_init(&p, &cfg);
	fnl_producer_set_pid(&p, 42, 3, 0);
	fnl_ppart_init(&pp, 1);
	fnl_ppart_restore_seq(&pp, 42, 3, 100); /* journal lags: batch b ends at 114 */
	fnl_ppart_enqueue_sent(&p, &pp, &a, 42, 3, 100, 0);
	fnl_ppart_enqueue_sent(&p, &pp, &b, 42, 3, 110, 0);
	fnl_ppart_enqueue(&pp, &n, 0);
	CHECK(fnl_ppart_next_send(&p, &pp, 0) == &a);
	CHECK_EQ(a.base_seq, 100);
	fnl_ppart_on_sent(&p, &pp, &a, 0);
	CHECK(fnl_ppart_next_send(&p, &pp, 0) == &b);
	CHECK_EQ(b.base_seq, 110);
	fnl_ppart_on_sent(&p, &pp, &b, 0);
	CHECK(fnl_ppart_next_send(&p, &pp, 0) == &n);
	CHECK_EQ(n.base_seq, 114);
	CHECK_EQ(n.pid, 42);
	CHECK_EQ(n.epoch, 3);
	fnl_ppart_on_sent(&p, &pp, &n, 0);
	/* the broker had a already: a duplicate is an acknowledgement */
	struct fnl_pb_outcome o = fnl_ppart_on_response(&p, &pp, &a, 46 /* DUPLICATE_SEQUENCE */, -1, 1);
	CHECK_EQ(o.action, FNL_PB_ACKED);
	o = fnl_ppart_on_response(&p, &pp, &b, 0, 500, 1);
	CHECK_EQ(o.action, FNL_PB_ACKED);
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/fnl-journal-test.%d", (int)getpid());
	unlink(path);
	test_file();
	unlink(path);
	test_keep();
	unlink(path);
	test_restore();
	unlink(path);
	return 0;
}
