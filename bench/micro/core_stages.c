/* fnl-core-stages - funneld's whole per-record data-plane path, with the
 * core's own code, in one process and without a network, for callgrind
 * (issue 17, item 5; fnl-stages measures the modules one by one).
 *
 * A struct fnl_core is built by hand (no engine, no brokers, no journal) and
 * driven the way fnl_core_run() drives it: CLIENTS clients fill their rings
 * (not counted; stamps interleave as if they ran at once), then
 *
 *   stage_ingest  fnl_ingest_pass() until the rings are empty: polling, the
 *                 merge by stamp, take_record's glue (topic check, report
 *                 slot, headers, partition, counters), append, and the seal
 *                 (zstd level 1) of full batches;
 *   stage_send    per batch: the producer's next_send, header + CRC, the
 *                 Produce request's encoding, on_sent, an acknowledgement
 *                 (on_response), and fnl_sender_pop_done(): the reports into
 *                 the rings and the slot back to the pool;
 *   stage_wakes   fnl_ingest_flush_wakes(): the reports published (rec_tail,
 *                 cmp_head) once per pass.
 *
 * What is left out is the engine (io_uring submission and completion per
 * request, not per record) and the broker. Time stands still (now_ms is a
 * counter, linger.ms is long), so the same binary gives the same counts:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out \
 *       build-rel/bench/micro/fnl-core-stages 200000
 *   callgrind_annotate --inclusive=yes --threshold=100 cg.out | grep -E 'stage_|fnl_compress '
 *
 * Outside zstd per record = (stage_ingest + stage_send + stage_wakes -
 * fnl_compress) / records. Natively it prints ns per record.
 * Usage: fnl-core-stages [RECORDS (default 1000000)] [CLIENTS (default 8)]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/core/core_int.h"
#include "micro_corpus.h"

#define RING_BYTES  (4u << 20)
#define CMP_ENTRIES 65536u
#define NPARTS      12
#define VALUE_BYTES MICRO_VALUE_BYTES
#define CLIENTS_MAX 64
#define NOINLINE    __attribute__((noinline))

static struct fnl_core *c;
static struct fnl_ring_cview cv[CLIENTS_MAX];
static void *rings[CLIENTS_MAX];
static int nclients = 8;
static uint64_t stamp, acked_offset;
static struct req rq; /* one request's scratch and iovecs, as the sender's */

/* Client side (not counted): up to n records, one per client in turn. */
static NOINLINE uint64_t client_fill(uint64_t n, uint64_t first)
{
	uint64_t k = 0;
	for (; k < n; k++)
		if (micro_put_record(&cv[(first + k) % (uint64_t)nclients], first + k, ++stamp) < 0)
			break;
	return k;
}

/* Client side (not counted): read every published report. */
static NOINLINE uint64_t client_drain(void)
{
	uint64_t n = 0;
	for (int i = 0; i < nclients; i++) {
		struct fnl_cmp e;
		while (fnl_ring_cmp_pop(&cv[i], &e) == 1) {
			if (e.err || e.offset < 0)
				abort();
			n++;
		}
		fnl_ring_cmp_commit(&cv[i]);
	}
	return n;
}

static NOINLINE int stage_ingest(void)
{
	int n = 0, t;
	while ((t = fnl_ingest_pass(c)) > 0)
		n += t;
	return n;
}

/* One batch through the producer and an acknowledgement (the sender's path
 * without the engine): one request per batch, as under a light load. */
static void send_ack(struct part *p)
{
	struct fnl_pbatch *pb = fnl_ppart_next_send(&c->prod, &p->pp, c->now_ms);
	if (!pb)
		abort();
	struct fnl_batch *b = fnl_batch_of(pb);
	struct fnl_preq q;
	int rc = fnl_preq_begin(&q, rq.scratch, sizeof(rq.scratch), rq.iov,
	                        (int)(sizeof(rq.iov) / sizeof(rq.iov[0])), 9, 1, "bench", NULL, -1,
	                        30000, 1);
	if (rc >= 0)
		rc = fnl_preq_topic(&q, c->topics[0].name, c->topics[0].name_len, 1);
	fnl_batch_prepare(b, b->pb.pid, b->pb.epoch, b->pb.base_seq);
	if (rc >= 0)
		rc = fnl_preq_partition(&q, b->partition, b->wire, (uint32_t)b->wire_len);
	if (rc < 0 || fnl_preq_end(&q) < 0)
		abort();
	fnl_ppart_on_sent(&c->prod, &p->pp, pb, c->now_ms);
	struct fnl_pb_outcome o =
	    fnl_ppart_on_response(&c->prod, &p->pp, pb, 0, (int64_t)acked_offset, c->now_ms);
	if (o.action != FNL_PB_ACKED)
		abort();
	acked_offset += (uint64_t)b->count;
	fnl_sender_pop_done(c, p);
}

static NOINLINE void stage_send(void)
{
	for (uint32_t k = 0; k < c->parts_used; k++)
		while (c->parts[k].pp.head)
			send_ack(&c->parts[k]);
}

static NOINLINE void stage_wakes(void)
{
	fnl_ingest_flush_wakes(c);
}

static void *zalloc(size_t n)
{
	void *p = calloc(1, n);
	if (!p)
		abort();
	return p;
}

static void core_build(void)
{
	static struct fnl_cmdq cmd, evt;
	static struct fnl_cmd cslots[256], eslots[256];
	fnl_cmdq_init(&cmd, cslots, 256);
	fnl_cmdq_init(&evt, eslots, 256);
	c = zalloc(sizeof(*c));
	struct fnl_core_cfg *g = &c->cfg;
	g->cpu = -1;
	g->linger_ms = 1000000; /* time stands still: batches seal when full */
	g->batch_size = 65536;  /* funneld's default */
	g->buffer_memory = 32 << 20;
	g->max_request_size = 1048576;
	g->codec = FNL_CODEC_ZSTD;
	g->level = 1;
	g->acks = -1;
	g->idempotent = true;
	g->max_inflight = 5;
	g->retries = 1000;
	g->retry_backoff_ms = 100;
	g->delivery_timeout_ms = 120000;
	g->request_timeout_ms = 30000;
	g->clients_max = CLIENTS_MAX;
	g->topics_max = 4;
	g->partitions_max = 64;
	g->brokers_max = 1;
	g->seed = 42;
	snprintf(g->client_id, sizeof(g->client_id), "bench");
	c->cmd = &cmd;
	c->evt = &evt;
	c->clients = zalloc(sizeof(*c->clients) * CLIENTS_MAX);
	c->active = zalloc(sizeof(*c->active) * CLIENTS_MAX);
	c->heap = zalloc(sizeof(*c->heap) * CLIENTS_MAX);
	c->topics = zalloc(sizeof(*c->topics) * 4);
	c->parts = zalloc(sizeof(*c->parts) * 64);
	c->pidx = zalloc(sizeof(*c->pidx) * 64); /* partitions_max */
	c->records_cap = fnl_accum_raw_cap((uint32_t)g->batch_size, (uint32_t)g->max_request_size);
	c->big_cap = fnl_accum_big_cap((uint32_t)g->batch_size, (uint32_t)g->max_request_size);
	c->meta_cap = fnl_accum_meta_cap(c->records_cap);
	struct fnl_accum_cfg acfg = {.records_cap = c->records_cap,
	                             .batch_bytes = (uint32_t)g->batch_size,
	                             .big_cap = c->big_cap,
	                             .meta_cap = c->meta_cap,
	                             .memory_bytes = (uint64_t)g->buffer_memory,
	                             .codec = g->codec,
	                             .level = g->level,
	                             .linger_ms = g->linger_ms};
	if (fnl_accum_init(&c->acc, &acfg) < 0)
		abort();
	struct fnl_producer_cfg pcfg = {.idempotent = true,
	                                .acks = -1,
	                                .max_inflight = 5,
	                                .retries = 1000,
	                                .retry_backoff_ms = 100,
	                                .delivery_timeout_ms = 120000,
	                                .request_timeout_ms = 30000};
	fnl_producer_init(&c->prod, &pcfg);
	c->now_ms = 1000;
	fnl_producer_set_pid(&c->prod, 4242, 0, c->now_ms);
	struct fnl_cmd m = {.type = FNL_CMD_TOPIC, .a = 0, .b = NPARTS};
	snprintf(m.name, sizeof(m.name), "bench");
	fnl_cmdq_push(&cmd, &m);
	size_t bytes;
	if (fnl_ring_layout(RING_BYTES, CMP_ENTRIES, &bytes) < 0)
		abort();
	for (int i = 0; i < nclients; i++) {
		if (!(rings[i] = aligned_alloc(4096, bytes)))
			abort();
		fnl_ring_init(rings[i], RING_BYTES, CMP_ENTRIES, 1);
		fnl_ring_cview_init(&cv[i], rings[i], RING_BYTES, CMP_ENTRIES);
		struct fnl_cmd a = {
		    .type = FNL_CMD_CLIENT_ADD, .a = i, .ptr = rings[i], .u64 = bytes};
		fnl_cmdq_push(&cmd, &a);
	}
	fnl_core_run_commands(c);
	if (c->nactive != (uint32_t)nclients || !c->topics[0].used)
		abort();
}

int main(int argc, char **argv)
{
	uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	if (argc > 2)
		nclients = atoi(argv[2]);
	if (nclients < 1 || nclients > CLIENTS_MAX)
		return 1;
	core_build();
	double ns = 0;
	uint64_t made = 0, reported = 0;
	while (made < total) {
		uint64_t want = total - made < 20000 ? total - made : 20000;
		uint64_t got = client_fill(want, made);
		made += got;
		double t0 = micro_now_ns();
		c->now_ms++;
		stage_ingest();
		if (made == total || got < want)
			for (uint32_t k = 0; k < c->parts_used; k++)
				fnl_ingest_seal(c, &c->parts[k]); /* as linger.ms would */
		stage_send();
		stage_wakes();
		ns += micro_now_ns() - t0;
		reported += client_drain();
	}
	if (reported != total || c->st.records_acked != total)
		return 2;
	printf("{\"records\": %llu, \"clients\": %d, \"daemon_ns_per_record\": %.1f, \"ratio\": "
	       "%.3f}\n",
	       (unsigned long long)total, nclients, ns / (double)total,
	       (double)c->acc.st.bytes_raw / (double)c->acc.st.bytes_wire);
	return 0;
}
