/* core.c - the data-plane loop: commands, ingest, send, events, sleep.
 *
 * One pass: commands from ctrl -> engine completions -> drain rings ->
 * seal lingered batches -> send -> release/wake clients -> timers. When a
 * pass found nothing to do for FNL_IDLE_SPIN_NS, the core naps: it waits in
 * the engine for up to linger.ms / 5 (at most 1 ms) without telling clients,
 * so records that arrive meanwhile wait at most that long and fnl_produce
 * makes no syscall (a record's batch waits up to linger.ms anyway). Only after
 * FNL_DEEP_IDLE_NS without work (or with linger.ms = 0) does it announce that
 * it sleeps (daemon_sleeping in every ring), re-check the rings, and block in
 * the engine until a doorbell, a completion or the next deadline; the first
 * record after that costs its client one eventfd write.
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/core/core_int.h"

#define FNL_IDLE_SPIN_NS  (50 * 1000)
#define FNL_DEEP_IDLE_NS  (200 * 1000 * 1000)
#define FNL_NAP_MAX_NS    (1000 * 1000)
#define FNL_TICK_MS       10
#define FNL_EVENTS_MAX    64
#define FNL_DOORBELL_USER (~(uint64_t)0)

void fnl_core_evt_full(struct fnl_core *c, const struct fnl_cmd *e)
{
	if (!fnl_cmdq_push(c->evt, e))
		return; /* ctrl is behind: an event is advice, dropping one is safe */
	uint64_t one = 1;
	ssize_t w = write(c->evt_efd, &one, sizeof(one));
	(void)w;
}

void fnl_core_evt(struct fnl_core *c, uint32_t type, int32_t a, int64_t i64, const char *name)
{
	struct fnl_cmd e = {.type = type, .a = a, .i64 = i64};
	if (name)
		snprintf(e.name, sizeof(e.name), "%s", name);
	fnl_core_evt_full(c, &e);
}

static void *zalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	return p;
}

/* The engine's receive-path counters into the stats ctrl reads (every tick). */
static void copy_engine_stats(struct fnl_core *c)
{
	struct fnl_engine_stats es;
	fnl_engine_stats(c->eng, &es);
	c->st.bytes_rx = es.bytes_rx;
	c->st.rx_bufring = es.rx_bufring;
	c->st.recv_arms = es.recv_arms;
	c->st.recv_stops = es.recv_stops;
	c->st.recv_nobufs = es.recv_nobufs;
	c->st.tls_handshakes = es.tls_handshakes;
	c->st.tls_failures = es.tls_failures;
	c->st.tls_user = es.tls_user;
	c->st.ktls_tx = es.ktls_tx;
	c->st.ktls_rx = es.ktls_rx;
	if (!c->zp) {
		/* one core: it compressed every batch, at seal */
		struct fnl_zcore_stats *z = &c->st.zcore[0];
		z->batches = c->acc.st.batches_sealed;
		z->bytes_in = c->acc.st.bytes_raw;
		z->bytes_out = c->acc.st.bytes_wire;
	}
	c->st.pkts_rx = es.pkts_rx;
	c->st.pkts_tx = es.pkts_tx;
	c->st.pkt_drops = es.pkt_drops;
	c->st.tcp_retransmits = es.tcp_retransmits;
	c->st.csum_offload = es.csum_offload;
}

int fnl_core_new(const struct fnl_core_cfg *cfg, struct fnl_cmdq *cmd, struct fnl_cmdq *evt,
		 int doorbell_efd, int evt_efd, struct fnl_core **out)
{
	struct fnl_core *c = zalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->cmd = cmd;
	c->evt = evt;
	c->doorbell_efd = doorbell_efd;
	c->evt_efd = evt_efd;
	c->clients = zalloc(sizeof(*c->clients) * (size_t)cfg->clients_max);
	c->active = zalloc(sizeof(*c->active) * (size_t)cfg->clients_max);
	c->heap = zalloc(sizeof(*c->heap) * (size_t)cfg->clients_max);
	c->topics = zalloc(sizeof(*c->topics) * (size_t)cfg->topics_max);
	c->parts = zalloc(sizeof(*c->parts) * (size_t)cfg->partitions_max);
	c->bparts = zalloc(sizeof(*c->bparts) * (size_t)cfg->partitions_max);
	c->pidx = zalloc(sizeof(*c->pidx) * (size_t)cfg->partitions_max);
	c->brokers = zalloc(sizeof(*c->brokers) * (size_t)cfg->brokers_max);
	int rc = -ENOMEM;
	if (!c->clients || !c->active || !c->heap || !c->topics || !c->parts || !c->bparts ||
	    !c->pidx || !c->brokers)
		goto fail;
	for (int i = 0; i < cfg->brokers_max; i++) {
		c->brokers[i].reqs = zalloc(sizeof(struct req) * FNL_REQS_PER_BROKER);
		c->brokers[i].conn = -1;
		if (!c->brokers[i].reqs)
			goto fail;
		if (cfg->creds && !(c->brokers[i].sasl = zalloc(sizeof(struct fnl_sasl))))
			goto fail;
	}
	/* records section bytes a batch may hold: batch.size (before
	 * compression, as librdkafka counts it); records in a batch at most:
	 * one per 32 bytes, at most 16,384 (smaller records seal the batch
	 * early rather than cost metadata memory); a record larger than
	 * batch.size gets a big slot of its own, up to max.request.size */
	c->records_cap =
		fnl_accum_raw_cap((uint32_t)cfg->batch_size, (uint32_t)cfg->max_request_size);
	c->big_cap = fnl_accum_big_cap((uint32_t)cfg->batch_size, (uint32_t)cfg->max_request_size);
	c->meta_cap = fnl_accum_meta_cap(c->records_cap);
	uint8_t *keep = NULL;
	rc = fnl_recover_open(c, cfg->journal_path, &keep, &c->rec.note);
	if (rc < 0)
		goto fail;
	struct fnl_accum_cfg acfg = {
		.records_cap = c->records_cap,
		.batch_bytes = (uint32_t)cfg->batch_size,
		.big_cap = c->big_cap,
		.meta_cap = c->meta_cap,
		.memory_bytes = (uint64_t)cfg->buffer_memory,
		.codec = cfg->codec,
		.level = cfg->level,
		.linger_ms = cfg->linger_ms,
		.mem = c->rec.enabled ? c->rec.j.pool : NULL,
		.keep = keep,
	};
	rc = fnl_accum_init(&c->acc, &acfg);
	free(keep);
	if (rc < 0)
		goto fail;
	fnl_recover_adopt(c);
	c->st.restored_batches = c->rec.restored_batches;
	struct fnl_producer_cfg pcfg = {
		.idempotent = cfg->idempotent,
		.acks = cfg->acks,
		.max_inflight = cfg->max_inflight,
		.retries = cfg->retries,
		.retry_backoff_ms = cfg->retry_backoff_ms,
		.delivery_timeout_ms = cfg->delivery_timeout_ms,
		.request_timeout_ms = cfg->request_timeout_ms,
	};
	fnl_producer_init(&c->prod, &pcfg);
	struct fnl_engine_cfg ecfg;
	fnl_engine_cfg_default(&ecfg);
	ecfg.conns_max = (uint32_t)cfg->brokers_max;
	ecfg.sqpoll = cfg->sqpoll;
	if (cfg->rx_bufs)
		ecfg.rx_bufs = cfg->rx_bufs;
	if (cfg->rx_buf_bytes)
		ecfg.rx_buf_bytes = cfg->rx_buf_bytes;
	ecfg.rx_direct = cfg->rx_direct;
	ecfg.egress = (enum fnl_egress)cfg->egress;
	ecfg.egress_cfg = cfg->egress_cfg;
	rc = fnl_engine_new(&ecfg, &c->eng);
	if (rc < 0)
		goto fail;
	rc = fnl_engine_watch_eventfd(c->eng, doorbell_efd, FNL_DOORBELL_USER);
	if (rc < 0)
		goto fail;
	copy_engine_stats(c); /* the receive path chosen is known from here */
	rc = fnl_zpool_new(c, &c->zp); /* compression workers on funnel.cores[1..] */
	if (rc < 0)
		goto fail;
	c->st.producer_id = -1;
	*out = c;
	return 0;
fail:
	fnl_core_free(c);
	return rc;
}

void fnl_core_free(struct fnl_core *c)
{
	if (!c)
		return;
	fnl_zpool_free(c->zp); /* joins the workers before their batches' pool goes */
	if (c->eng)
		fnl_engine_free(c->eng);
	if (c->acc.mem)
		fnl_accum_free(&c->acc);
	fnl_recover_close(c);
	for (int i = 0; c->brokers && i < c->cfg.brokers_max; i++) {
		free(c->brokers[i].reqs);
		if (c->brokers[i].sasl)
			fnl_sasl_reset(c->brokers[i].sasl); /* wipes the secret */
		free(c->brokers[i].sasl);
	}
	free(c->clients);
	free(c->active);
	free(c->heap);
	free(c->topics);
	free(c->parts);
	free(c->bparts);
	free(c->pidx);
	free(c->brokers);
	free(c);
}

int fnl_core_restored_pid(const struct fnl_core *c, int64_t *pid, int16_t *epoch)
{
	return fnl_recover_pid(c, pid, epoch);
}

const char *fnl_core_journal_note(const struct fnl_core *c, bool *on_tmpfs)
{
	if (on_tmpfs)
		*on_tmpfs = c->rec.enabled && c->rec.j.on_tmpfs;
	return c->rec.note;
}

const struct fnl_core_stats *fnl_core_stats(const struct fnl_core *c)
{
	return &c->st;
}

int fnl_core_client_stats(const struct fnl_core *c, int slot, struct fnl_client_stats *out)
{
	if (slot < 0 || slot >= c->cfg.clients_max)
		return -ENOENT;
	const struct client *cl = &c->clients[slot];
	uint8_t state = cl->state;
	if (state == CL_FREE)
		return -ENOENT;
	*out = (struct fnl_client_stats){
		.state = state,
		.appended = cl->appended,
		.delivered = cl->delivered,
		.failed = cl->failed,
		.appended_bytes = cl->appended_bytes,
		.ring_full_waits = cl->ring_full_waits,
		.ring_bytes = cl->v.rec_bytes,
		.ring_used_bytes = cl->rd - cl->v.tail,
	};
	return 0;
}

int fnl_core_part_count(const struct fnl_core *c)
{
	return (int)c->parts_used;
}

int fnl_core_topic_partitions(const struct fnl_core *c, int id)
{
	if (id < 0 || id >= c->cfg.topics_max || !c->topics[id].used)
		return -ENOENT;
	return c->topics[id].nparts; /* a plain store by the core; a reader may see the old count */
}

int fnl_core_part_stats(const struct fnl_core *c, int idx, struct fnl_part_stats *out)
{
	if (idx < 0 || (uint32_t)idx >= c->parts_used)
		return -ENOENT;
	const struct part *p = &c->parts[idx];
	const struct fnl_batch *open = p->open;
	*out = (struct fnl_part_stats){
		.topic_id = p->topic,
		.partition = p->partition,
		.leader = p->leader,
		.queued_batches = p->pp.queued,
		.open_records = open ? (uint32_t)open->count : 0,
		.inflight = p->pp.inflight,
		.batches_acked = p->batches_acked,
		.records_acked = p->records_acked,
		.retries = p->retries,
		.queued_bytes = p->queued_bytes,
		.last_err = p->last_err,
	};
	for (int i = 0; i < FNL_RETRY_CELLS; i++)
		out->retries_by_cell[i] = p->retries_by_cell[i];
	return 0;
}

int fnl_core_broker_stats(const struct fnl_core *c, int idx, struct fnl_broker_stats *out)
{
	if (idx < 0 || idx >= c->cfg.brokers_max || c->brokers[idx].state == BR_UNUSED)
		return -ENOENT;
	const struct broker *br = &c->brokers[idx];
	*out = (struct fnl_broker_stats){
		.node_id = br->node_id,
		.state = br->state == BR_SASL ? BR_VERSIONS : br->state,
		.inflight = br->rq_tail - br->rq_head,
		.requests = br->requests,
		.responses = br->responses,
		.rtt_us_sum = br->rtt_us_sum,
	};
	return 0;
}

/* Parts for partitions [from, to) of topic id, appended at parts_used (the caller
 * checked the room); pidx is the caller's to fill. parts_used moves only past
 * complete parts: ctrl's snapshots read parts[0 .. parts_used) without locks. */
static void parts_append(struct fnl_core *c, int32_t id, int32_t from, int32_t to)
{
	for (int32_t i = from; i < to; i++, c->parts_used++) {
		struct part *p = &c->parts[c->parts_used];
		memset(p, 0, sizeof(*p));
		p->topic = (uint32_t)id;
		p->partition = i;
		p->leader = -1;
		p->broker = -1;
		fnl_ppart_init(&p->pp, -1); /* no sequence yet: a new partition starts at 0 */
	}
}

/* pidx afresh from parts[]: each used topic's range in id order (O(topics + parts),
 * only when a topic grows). Parts never move, so batches, bparts and the journal,
 * which name parts by slot, are untouched. */
static void pidx_rebuild(struct fnl_core *c)
{
	uint32_t base = 0;
	for (int i = 0; i < c->cfg.topics_max; i++) {
		struct topic *t = &c->topics[i];
		if (!t->used)
			continue;
		t->idx_base = base;
		base += (uint32_t)t->nparts;
	}
	for (uint32_t k = 0; k < c->parts_used; k++) {
		const struct part *p = &c->parts[k];
		c->pidx[c->topics[p->topic].idx_base + (uint32_t)p->partition] = k;
	}
}

/* A log line about a topic (b = 1: no "node=" suffix; the text names the topic). */
static void topic_log(struct fnl_core *c, int32_t level, const char *msg)
{
	struct fnl_cmd e = {.type = FNL_EVT_LOG, .a = level, .b = 1};
	memcpy(e.name, msg, strnlen(msg, sizeof(e.name) - 1)); /* e.name stays terminated */
	fnl_core_evt_full(c, &e);
}

/* The cluster says topic id has n > t->nparts partitions (Kafka only adds them,
 * kafka-topics --alter / CreatePartitions): from now on murmur2(key) % n and the
 * sticky partitioner use all n, as the Java producer does after its next metadata
 * refresh. Batches already open or sealed keep their partitions; each new
 * partition starts its sequence at 0. */
static void topic_grow(struct fnl_core *c, int32_t id, int32_t n)
{
	struct topic *t = &c->topics[id];
	int32_t old = t->nparts;
	char msg[400];
	if (c->parts_used + (uint32_t)(n - old) > (uint32_t)c->cfg.partitions_max) {
		if (t->refused != n) {
			t->refused = n;
			snprintf(msg, sizeof(msg),
				 "topic '%.100s' grew from %d to %d partitions but funnel.partitions.max=%d "
				 "has no room: records keep to its first %d until funneld restarts",
				 t->name, old, n, c->cfg.partitions_max, old);
			topic_log(c, 0, msg);
		}
		return;
	}
	parts_append(c, id, old, n);
	t->nparts = n;
	t->refused = 0;
	pidx_rebuild(c);
	fnl_recover_topic(c, (uint32_t)id, old);
	snprintf(msg, sizeof(msg), "topic '%.100s' now uses %d partitions (was %d)", t->name, n,
		 old);
	topic_log(c, 2, msg);
}

static void cmd_topic(struct fnl_core *c, const struct fnl_cmd *m)
{
	/* b = 0: a name ctrl's table has and the cluster does not (deleted while
	 * funneld was down, ctrl/meta.c topic_missing): known, with no partitions,
	 * so its records fail with UNKNOWN_TOPIC_OR_PARTITION; a later count grows it */
	if (m->a < 0 || m->a >= c->cfg.topics_max || m->b < 0)
		return;
	struct topic *t = &c->topics[m->a];
	if (t->used) {
		if (m->b > t->nparts)
			topic_grow(c, m->a, m->b);
		return; /* fewer: Kafka cannot shrink a topic (ctrl logs a re-created one) */
	}
	/* ctrl keeps the same count and never sends what does not fit (ctrl/meta.c
	 * topic_over_max): these checks are the core's own bound on its arrays */
	if (c->parts_used + (uint32_t)m->b > (uint32_t)c->cfg.partitions_max) {
		fnl_core_evt(c, FNL_EVT_LOG, 0, m->a, "funnel.partitions.max reached: topic ignored");
		return;
	}
	snprintf(t->name, sizeof(t->name), "%s", m->name);
	t->name_len = (int)strlen(t->name);
	t->nparts = m->b;
	t->refused = 0;
	/* pidx is compact: the used topics' ranges fill pidx[0 .. parts_used) */
	t->idx_base = c->parts_used;
	for (int32_t i = 0; i < m->b; i++)
		c->pidx[t->idx_base + (uint32_t)i] = c->parts_used + (uint32_t)i;
	fnl_sticky_init(&t->sticky, c->cfg.seed ^ (uint64_t)m->a * 0x9e3779b97f4a7c15ull);
	t->rr.next = 0;
	parts_append(c, m->a, 0, m->b);
	fnl_recover_topic(c, (uint32_t)m->a, 0);
	t->used = true; /* last: ingest only sees complete topics */
}

static void cmd_leader(struct fnl_core *c, const struct fnl_cmd *m)
{
	if (m->a < 0 || m->a >= c->cfg.topics_max || !c->topics[m->a].used)
		return;
	struct topic *t = &c->topics[m->a];
	if (m->b < 0 || m->b >= t->nparts)
		return;
	struct part *p = fnl_topic_part(c, t, m->b);
	if (p->leader != m->c) {
		p->leader = m->c;
		fnl_ppart_set_leader(&p->pp, m->c);
	}
}

static void handle_cmd(struct fnl_core *c, const struct fnl_cmd *m)
{
	switch (m->type) {
	case FNL_CMD_CLIENT_ADD:
		if (m->a >= 0 && m->a < c->cfg.clients_max)
			fnl_ingest_client_add(c, m->a, m->ptr, m->u64, (uint64_t)m->i64);
		break;
	case FNL_CMD_CLIENT_GONE:
		if (m->a >= 0 && m->a < c->cfg.clients_max)
			fnl_ingest_client_gone(c, m->a);
		break;
	case FNL_CMD_TOPIC:
		cmd_topic(c, m);
		break;
	case FNL_CMD_BROKER:
		fnl_sender_broker_set(c, m->a, &m->addr, m->name);
		break;
	case FNL_CMD_LEADER:
		cmd_leader(c, m);
		break;
	case FNL_CMD_METADATA_DONE:
		fnl_sender_rebuild(c);
		c->have_metadata = true;
		break;
	case FNL_CMD_PRODUCER_ID:
		snprintf(c->txn_id, sizeof(c->txn_id), "%s", m->name);
		fnl_producer_set_pid(&c->prod, m->i64, (int16_t)m->a, c->now_ms);
		fnl_journal_on_pid(c);
		c->st.producer_id = m->i64;
		c->st.producer_epoch = m->a;
		break;
	case FNL_CMD_TUNE:
		if (fnl_accum_tune(&c->acc, m->a, (uint32_t)m->b) == 0) {
			c->cfg.linger_ms = m->a;
			c->cfg.batch_size = m->b;
		}
		break;
	case FNL_CMD_STOP:
		/* intake stops: what clients published so far is still delivered */
		for (int i = 0; i < c->cfg.clients_max; i++)
			fnl_ingest_client_gone(c, i);
		c->stopping = true;
		c->stop_deadline_ms = c->now_ms + m->a;
		break;
	default:
		break;
	}
}

static int64_t now_ms(void)
{
	return fnl_now_ns() / 1000000;
}

int fnl_core_run_commands(struct fnl_core *c)
{
	struct fnl_cmd m;
	int n = 0;
	while (fnl_cmdq_pop(c->cmd, &m)) {
		handle_cmd(c, &m);
		n++;
	}
	return n;
}

static int run_engine(struct fnl_core *c, int64_t wait_ns)
{
	struct fnl_event ev[FNL_EVENTS_MAX];
	/* a compression worker that hands a batch back wakes a waiting core */
	if (wait_ns > 0 && !fnl_zpool_sleep_begin(c))
		wait_ns = 0;
	int n = fnl_engine_poll(c->eng, ev, FNL_EVENTS_MAX, wait_ns);
	if (wait_ns > 0)
		fnl_zpool_sleep_end(c);
	if (n <= 0)
		return 0;
	c->now_ms = now_ms();
	for (int i = 0; i < n; i++) {
		if (ev[i].type == FNL_EV_WAKE)
			continue;
		fnl_sender_on_event(c, &ev[i]);
	}
	return n;
}

/* SIGTERM path: after intake stopped, seal everything open at once. */
static void seal_all(struct fnl_core *c)
{
	for (uint32_t k = 0; k < c->parts_used; k++)
		fnl_ingest_seal(c, &c->parts[k]);
}

/* At the deadline, whatever is still pending fails with a report. */
static void fail_all(struct fnl_core *c)
{
	struct fnl_producer_cfg cfg = c->prod.cfg;
	c->prod.cfg.delivery_timeout_ms = 0;
	fnl_sender_expire(c);
	c->prod.cfg = cfg;
}

/* While stopping nothing waits for linger: every pass seals what is open,
 * so published records keep flowing out until the rings are drained. */
static bool stop_progress(struct fnl_core *c)
{
	seal_all(c);
	if (c->now_ms >= c->stop_deadline_ms)
		fail_all(c);
	return !fnl_ingest_has_input(c) && fnl_sender_idle(c);
}

static int64_t sleep_ns(struct fnl_core *c)
{
	int64_t ms = fnl_accum_next_deadline_ms(&c->acc, c->now_ms);
	if (ms < 0 || ms > FNL_TICK_MS * 10)
		ms = FNL_TICK_MS * 10;
	return ms * 1000000;
}

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int fnl_core_run(struct fnl_core *c)
{
	pin(c->cfg.cpu);
	int64_t idle_since = fnl_now_ns();
	int64_t next_tick = 0;
	for (;;) {
		c->now_ms = now_ms();
		c->st.loops++;
		int work = fnl_core_run_commands(c);
		work += run_engine(c, 0);
		int taken = fnl_ingest_pass(c);
		work += taken + c->deferred; /* deferred: stamped after the pass began */
		work += fnl_zpool_collect(c); /* compressed batches, to their queues */
		work += fnl_sender_pass(c);
		fnl_ingest_flush_wakes(c);
		if (c->now_ms >= next_tick) {
			next_tick = c->now_ms + FNL_TICK_MS;
			fnl_sender_timers(c);
			fnl_sender_expire(c);
			fnl_ingest_reap_clients(c);
			fnl_ingest_flush_wakes(c);
			copy_engine_stats(c);
		}
		if (c->stopping && stop_progress(c)) {
			/* clients gone since the last tick: their journal entries are
			 * cleared, so the next funneld does not wait for them */
			fnl_ingest_reap_clients(c);
			break;
		}
		int64_t t = fnl_now_ns();
		if (work) {
			idle_since = t;
			/* Light load (funnel.idle.nap.us > 0): a few records per pass.
			 * Rather than spin the core for them, wait a little in the engine
			 * (broker answers still wake it at once); records wait in the
			 * rings meanwhile. Cuts CPU per record ~4x at 200k records/s but
			 * lengthens the latency tail (bench/README.md): off by default. */
			if (c->cfg.idle_nap_us > 0 && taken > 0 && taken < FNL_NAP_BELOW &&
			    !c->stopping)
				run_engine(c, (int64_t)c->cfg.idle_nap_us * 1000);
			continue;
		}
		if (t - idle_since < FNL_IDLE_SPIN_NS)
			continue;
		int64_t nap = (int64_t)c->cfg.linger_ms * 1000000 / 5;
		if (nap > FNL_NAP_MAX_NS)
			nap = FNL_NAP_MAX_NS;
		if (nap > 0 && t - idle_since < FNL_DEEP_IDLE_NS && !c->stopping) {
			c->st.naps++;
			run_engine(c, nap);
			continue;
		}
		/* announce the sleep, then re-check: a client that published
		 * before seeing the flag is caught here (seq_cst in the ring). */
		fnl_ingest_set_sleeping(c, 1);
		if (!fnl_ingest_has_input(c)) {
			c->st.sleeps++;
			run_engine(c, sleep_ns(c));
		}
		fnl_ingest_set_sleeping(c, 0);
		idle_since = fnl_now_ns();
	}
	fnl_core_evt(c, FNL_EVT_STOPPED, 0, 0, NULL);
	return 0;
}
