/* recover.c - keeping the restart journal and recovering from it; see recover.h. */
#include "dataplane/core/recover.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dataplane/core/core_int.h"

enum { ERR_UNKNOWN_TOPIC_OR_PART = 3 };

/* ------------------------------------------------------------ sequences */

static uint32_t seq_hash(uint32_t topic_id, int32_t partition, uint32_t n)
{
	uint64_t h = ((uint64_t)topic_id << 32 | (uint32_t)partition) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) % n;
}

/* The entry of (topic, partition), inserting it if absent; UINT32_MAX if full. */
static uint32_t seq_find(struct fnl_journal *j, uint32_t topic_id, int32_t partition, bool insert)
{
	uint32_t n = FNL_JSEQ_ENTRIES(&j->geom);
	uint32_t i = seq_hash(topic_id, partition, n);

	for (uint32_t k = 0; k < n; k++, i = (i + 1) % n) {
		struct fnl_jseq *e = &j->seqs[i];
		if (e->used && e->topic_id == topic_id && e->partition == partition)
			return i;
		if (!e->used) {
			if (!insert)
				return UINT32_MAX;
			e->topic_id = topic_id;
			e->partition = partition;
			e->pid = -1;
			e->epoch = -1;
			e->next_seq = 0;
			fnl_journal_fence();
			e->used = 1;
			return i;
		}
	}
	return UINT32_MAX;
}

/* ------------------------------------------------------------ running */

void fnl_journal_on_pid(struct fnl_core *c)
{
	struct fnl_recovery *r = &c->rec;

	if (!r->enabled || r->j.hdr->pid == -2)
		return; /* -2: pid not reusable (sequence table full) */
	/* never a torn (pid, epoch): -1 in between means "ask for a new one" */
	r->j.hdr->pid = -1;
	fnl_journal_fence();
	r->j.hdr->epoch = c->prod.epoch;
	fnl_journal_fence();
	r->j.hdr->pid = c->prod.pid;
}

void fnl_journal_on_seal(struct fnl_core *c, struct fnl_batch *b)
{
	struct fnl_recovery *r = &c->rec;

	if (!r->enabled)
		return;
	struct fnl_jdesc *d = &r->j.descs[fnl_accum_slot_index(&c->acc, b)];
	d->topic_id = b->topic_id;
	d->partition = b->partition;
	d->count = b->count;
	d->seal_no = ++r->j.hdr->seal_no;
	d->sequenced = 0;
	d->wire_len = (uint32_t)b->wire_len;
	d->codec = b->codec;
	d->base_ts = b->w.base_ts;
	d->max_ts = b->w.max_ts;
	fnl_journal_fence(); /* wire bytes and meta are complete before the state says so */
	d->state = FNL_JD_SEALED;
}

void fnl_journal_on_send(struct fnl_core *c, struct part *p, struct fnl_batch *b)
{
	struct fnl_recovery *r = &c->rec;

	if (!r->enabled || !c->cfg.idempotent || b->pb.base_seq < 0)
		return;
	if (p->jseq != UINT32_MAX) {
		struct fnl_jseq *e = &r->j.seqs[p->jseq];
		e->pid = p->pp.seq_pid;
		e->epoch = p->pp.seq_epoch;
		e->next_seq = p->pp.next_seq;
	}
	struct fnl_jdesc *d = &r->j.descs[fnl_accum_slot_index(&c->acc, b)];
	if (d->sequenced && d->pid == b->pb.pid && d->epoch == b->pb.epoch &&
	    d->base_seq == b->pb.base_seq)
		return;
	d->sequenced = 0;
	fnl_journal_fence();
	d->pid = b->pb.pid;
	d->epoch = b->pb.epoch;
	d->base_seq = b->pb.base_seq;
	fnl_journal_fence();
	d->sequenced = 1;
}

void fnl_journal_on_release(struct fnl_core *c, struct fnl_batch *b)
{
	struct fnl_recovery *r = &c->rec;

	if (!r->enabled)
		return;
	uint32_t i = fnl_accum_slot_index(&c->acc, b);
	fnl_journal_fence(); /* the reports are in the rings before the batch is forgotten */
	r->j.descs[i].state = FNL_JD_FREE;
	if (r->enqueued && r->enqueued[i]) {
		r->enqueued[i] = 0;
		r->nenqueued--;
	}
}

/* ------------------------------------------------------------ start-up */

static int cmp_kept(const void *a, const void *b, void *arg)
{
	const struct fnl_jdesc *d = arg;
	uint64_t x = d[*(const uint32_t *)a].seal_no, y = d[*(const uint32_t *)b].seal_no;
	return x < y ? -1 : x > y;
}

static int cmp_recs(const void *a, const void *b)
{
	const struct fnl_jrec *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->cmp_slot < y->cmp_slot ? -1 : x->cmp_slot > y->cmp_slot;
}

static bool desc_sane(const struct fnl_core *c, const struct fnl_jdesc *d, uint32_t slot)
{
	const struct fnl_jgeom *g = &c->rec.j.geom;
	bool big = slot >= g->slots;
	return d->state == FNL_JD_SEALED && d->count >= 1 &&
	       (uint32_t)d->count <= (big ? 1u : g->meta_cap) && d->wire_len >= FNL_RB_HEADER_BYTES &&
	       d->wire_len <= (big ? g->big_wire_cap : g->wire_cap) &&
	       d->topic_id < (uint32_t)c->cfg.topics_max && d->partition >= 0;
}

/* The rings the previous daemon had attached, to wait for (see recover.h, 5). */
static int order_rings(struct fnl_recovery *r)
{
	uint32_t n = r->j.geom.clients_max;

	if (r->wait_ms <= 0)
		return 0;
	r->owait = calloc(n, sizeof(*r->owait));
	if (!r->owait)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct fnl_jring *jr = &r->j.rings[i];
		if (!jr->used || !jr->nonce)
			continue;
		uint32_t k = 0;
		while (k < r->nowait &&
		       (r->owait[k].ino != jr->ino || r->owait[k].nonce != jr->nonce))
			k++; /* relocate() may have left a copy */
		if (k == r->nowait)
			r->owait[r->nowait++] =
			    (struct fnl_jkey){.ino = jr->ino, .nonce = jr->nonce, .lo = i};
	}
	r->order_wait = r->nowait > 0;
	return 0;
}

int fnl_recover_open(struct fnl_core *c, const char *path, uint8_t **keep, const char **why)
{
	struct fnl_recovery *r = &c->rec;
	struct fnl_accum_cfg probe = {.records_cap = c->records_cap,
				      .big_cap = c->big_cap,
				      .meta_cap = c->meta_cap,
				      .memory_bytes = (uint64_t)c->cfg.buffer_memory,
				      .codec = c->cfg.codec};
	struct fnl_accum_geom ag;

	*keep = NULL;
	*why = NULL;
	r->wait_ms = c->cfg.restart_wait_ms;
	if (!path || !path[0])
		return 0;
	if (fnl_accum_geometry(&probe, &ag) < 0)
		return -EINVAL;
	struct fnl_jgeom g = {.slot_bytes = ag.slot_bytes,
			      .slots = ag.slots,
			      .big_slot_bytes = ag.big_slot_bytes,
			      .big_slots = ag.big_slots,
			      .big_wire_cap = (uint32_t)ag.big_wire_cap,
			      .clients_max = (uint32_t)c->cfg.clients_max,
			      .partitions_max = (uint32_t)c->cfg.partitions_max,
			      .records_cap = probe.records_cap,
			      .meta_cap = probe.meta_cap,
			      .wire_cap = (uint32_t)ag.wire_cap};
	uint32_t slots = fnl_jgeom_nslots(&g);
	int rc = fnl_journal_open(&r->j, path, &g, why);
	if (rc == -EBUSY)
		return rc;
	if (rc < 0) {
		*why = "cannot open the journal file";
		return 0;
	}
	r->enabled = true;
	if (r->j.hdr->pid < 0) {
		/* the id is not reused: sequences kept for it are of no use */
		r->j.hdr->pid = -1;
		memset(r->j.seqs, 0, (size_t)FNL_JSEQ_ENTRIES(&g) * sizeof(struct fnl_jseq));
	}
	if (rc == FNL_JOURNAL_FRESH)
		return 0;
	if (order_rings(r) < 0)
		return -ENOMEM;
	uint8_t *k = calloc(slots, 1);
	r->kept = calloc(slots, sizeof(*r->kept));
	r->enqueued = calloc(slots, 1);
	if (!k || !r->kept || !r->enqueued) {
		free(k);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < slots; i++) {
		if (!desc_sane(c, &r->j.descs[i], i)) {
			r->j.descs[i].state = FNL_JD_FREE;
			continue;
		}
		k[i] = 1;
		r->kept[r->nkept++] = i;
	}
	qsort_r(r->kept, r->nkept, sizeof(*r->kept), cmp_kept, r->j.descs);
	*keep = k;
	return 0;
}

/* The key of the ring that client slot `client` with generation gen held, or
 * UINT32_MAX if the journal does not know it (adding a key when new). */
static uint32_t key_of(struct fnl_recovery *r, uint32_t client, uint32_t gen)
{
	if (client >= r->j.geom.clients_max)
		return UINT32_MAX;
	const struct fnl_jring *jr = &r->j.rings[client];
	if (!jr->used || jr->gen != gen)
		return UINT32_MAX;
	for (uint32_t i = 0; i < r->nkeys; i++)
		if (r->keys[i].ino == jr->ino && r->keys[i].nonce == jr->nonce)
			return i;
	r->keys[r->nkeys] = (struct fnl_jkey){.ino = jr->ino, .nonce = jr->nonce};
	return r->nkeys++;
}

void fnl_recover_adopt(struct fnl_core *c)
{
	struct fnl_recovery *r = &c->rec;
	uint64_t nrec = 0;

	if (!r->nkept)
		return;
	for (uint32_t i = 0; i < r->nkept; i++)
		nrec += (uint64_t)r->j.descs[r->kept[i]].count;
	r->recs = calloc(nrec ? nrec : 1, sizeof(*r->recs));
	r->keys = calloc(r->j.geom.clients_max, sizeof(*r->keys));
	r->needed = calloc(r->j.geom.clients_max, sizeof(*r->needed));
	if (!r->recs || !r->keys || !r->needed) {
		r->nkept = 0; /* no memory to recover: the rings resend (at-least-once) */
		return;
	}
	for (uint32_t i = 0; i < r->nkept; i++) {
		uint32_t s = r->kept[i];
		const struct fnl_jdesc *d = &r->j.descs[s];
		struct fnl_batch *b = fnl_accum_slot(&c->acc, s);
		b->topic_id = d->topic_id;
		b->partition = d->partition;
		b->count = d->count;
		b->wire_len = d->wire_len;
		b->codec = d->codec;
		b->w.base_ts = d->base_ts;
		b->w.max_ts = d->max_ts;
		b->sealed = true;
		b->part = UINT32_MAX;
		if (d->sequenced) {
			b->hdr_pid = d->pid;
			b->hdr_epoch = d->epoch;
			b->hdr_seq = d->base_seq;
			b->hdr_valid = true;
		}
		for (int32_t x = 0; x < d->count; x++) {
			struct fnl_rec_meta *m = &b->meta[x];
			/* (client, gen) stays as it is until the ring is back: gens are
			 * unique across restarts, so reports never reach another ring */
			uint32_t key = key_of(r, m->client, m->client_gen);
			if (key == UINT32_MAX)
				continue;
			r->recs[r->nrecs++] = (struct fnl_jrec){.cmp_slot = m->cmp_slot,
			                                        .key = key,
			                                        .batch = s,
			                                        .idx = (uint32_t)x,
			                                        .jring = m->client};
			r->needed[m->client]++;
		}
		r->restored_batches++;
		r->restored_records += (uint64_t)d->count;
	}
	qsort(r->recs, r->nrecs, sizeof(*r->recs), cmp_recs);
	for (uint32_t i = 0; i < r->nrecs; i++) {
		struct fnl_jkey *k = &r->keys[r->recs[i].key];
		if (i == 0 || r->recs[i - 1].key != r->recs[i].key)
			k->lo = i;
		k->hi = i + 1;
	}
	r->active = true;
}

void fnl_recover_close(struct fnl_core *c)
{
	struct fnl_recovery *r = &c->rec;

	free(r->kept);
	free(r->enqueued);
	free(r->recs);
	free(r->keys);
	free(r->needed);
	free(r->owait);
	if (r->enabled)
		fnl_journal_close(&r->j);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ topics */

void fnl_recover_topic(struct fnl_core *c, uint32_t topic_id, int32_t from)
{
	struct fnl_recovery *r = &c->rec;
	struct topic *t = &c->topics[topic_id];

	for (int32_t i = from; i < t->nparts; i++) {
		struct part *p = fnl_topic_part(c, t, i);
		p->jseq = UINT32_MAX;
		if (!r->enabled || !c->cfg.idempotent)
			continue;
		p->jseq = seq_find(&r->j, topic_id, i, true);
		if (p->jseq == UINT32_MAX) {
			/* no room to remember its sequences: the producer id must not be
			 * reused after a restart (-2 tells fnl_journal_on_pid) */
			r->j.hdr->pid = -2;
			continue;
		}
		const struct fnl_jseq *e = &r->j.seqs[p->jseq];
		if (e->pid >= 0)
			fnl_ppart_restore_seq(&p->pp, e->pid, e->epoch, e->next_seq);
	}
	for (uint32_t k = 0; r->active && k < r->nkept; k++) {
		uint32_t s = r->kept[k];
		struct fnl_batch *b = fnl_accum_slot(&c->acc, s);
		if (b->topic_id != topic_id || r->enqueued[s] || b->partition >= t->nparts)
			continue;
		struct part *p = fnl_topic_part(c, t, b->partition);
		b->part = (uint32_t)(p - c->parts);
		b->pb.record_count = b->count;
		b->created_ms = c->now_ms; /* delivery.timeout.ms and latency count from here */
		b->pb.created_ms = c->now_ms;
		if (b->hdr_valid)
			fnl_ppart_enqueue_sent(&c->prod, &p->pp, &b->pb, b->hdr_pid, b->hdr_epoch,
					       b->hdr_seq, c->now_ms);
		else
			fnl_ppart_enqueue(&p->pp, &b->pb, c->now_ms);
		if (p->broker >= 0)
			c->brokers[p->broker].queued++;
		p->queued_bytes += b->wire_len; /* as fnl_ingest_seal() counts a sealed batch */
		r->enqueued[s] = 1;
		r->nenqueued++;
	}
}

/* ------------------------------------------------------------ clients */

/* Bind every kept record of ring k to the client that brought it back: reports
 * of its kept batches go to the slots the previous daemon reserved. A record
 * whose slot is DONE already (reported before the kill) or outside the window
 * stays unbound; the walk skips the first kind and takes the second as new. A
 * client that rewrote its published records only confuses its own reports. */
static void bind_key(struct fnl_core *c, struct client *cl, uint32_t slot, const struct fnl_jkey *k)
{
	struct fnl_recovery *r = &c->rec;

	for (uint32_t i = k->lo; i < k->hi; i++) {
		struct fnl_jrec *jr = &r->recs[i];
		r->needed[jr->jring]--; /* its ring is back: the entry may go */
		if (!fnl_ring_cmp_slot_open(&cl->v, jr->cmp_slot))
			continue;
		struct fnl_rec_meta *m = &fnl_accum_slot(&c->acc, jr->batch)->meta[jr->idx];
		m->client_gen = cl->gen;
		fnl_journal_fence(); /* never (new slot, old gen) in the journal */
		m->client = slot;
		jr->bound = 1;
		cl->appended++;
		r->bound_records++;
	}
}

/* Journal ring entry `from` is about to be overwritten for a new client while
 * records of a ring not back yet name it: copy it to an entry no client holds
 * and no such record names, then point those records there. Each record's
 * (client, gen) resolves through one entry or the other at every moment, so a
 * kill midway loses nothing. Without a free entry the records keep naming
 * `from`; a successor would take them again (duplicates, never loss). */
static void relocate(struct fnl_core *c, uint32_t from)
{
	struct fnl_recovery *r = &c->rec;
	uint32_t to = 0, n = r->j.geom.clients_max;

	while (to < n && (to == from || r->needed[to] || c->clients[to].state != CL_FREE))
		to++;
	if (to == n) {
		r->relocate_failed++;
		return;
	}
	struct fnl_jring *src = &r->j.rings[from], *dst = &r->j.rings[to];
	dst->used = 0;
	fnl_journal_fence();
	dst->ino = src->ino;
	dst->nonce = src->nonce;
	dst->gen = src->gen;
	fnl_journal_fence();
	dst->used = 1;
	fnl_journal_fence(); /* the copy is complete before a record names it */
	for (uint32_t i = 0; i < r->nrecs; i++) {
		struct fnl_jrec *jr = &r->recs[i];
		if (jr->jring != from || r->keys[jr->key].attached)
			continue;
		fnl_accum_slot(&c->acc, jr->batch)->meta[jr->idx].client = to;
		jr->jring = to;
		r->needed[from]--;
		r->needed[to]++;
	}
	r->relocated++;
}

void fnl_recover_client(struct fnl_core *c, struct client *cl, uint32_t slot, uint64_t ino)
{
	struct fnl_recovery *r = &c->rec;

	cl->jk = UINT32_MAX;
	if (!r->enabled)
		return;
	/* relaxed: only daemons store it, and only this one now */
	uint64_t nonce = atomic_load_explicit(&cl->v.hdr->daemon_ring_id, memory_order_relaxed);
	if (nonce == 0) {
		if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
			nonce = (uint64_t)c->now_ms * 0x9e3779b97f4a7c15ull ^ ino;
		nonce |= 1;
		atomic_store_explicit(&cl->v.hdr->daemon_ring_id, nonce, memory_order_relaxed);
	}
	/* the wait runs from the first attach: before it no ring can be read,
	 * and start-up (bootstrap, producer id) may take longer than the wait */
	if (r->order_wait && r->order_until_ms == 0)
		r->order_until_ms = c->now_ms + r->wait_ms;
	for (uint32_t i = 0; r->order_wait && i < r->nowait; i++) {
		struct fnl_jkey *k = &r->owait[i];
		if (!k->attached && k->ino == ino && k->nonce == nonce) {
			k->attached = true;
			r->owait_back++;
			break;
		}
	}
	/* records of rings not back name this entry (even this ring's own, until
	 * bind_key() below rewrites them): keep it for them */
	if (r->active && r->needed[slot])
		relocate(c, slot);
	struct fnl_jring *jr = &r->j.rings[slot];
	jr->used = 0;
	fnl_journal_fence();
	jr->ino = ino;
	jr->nonce = nonce;
	jr->gen = cl->gen;
	fnl_journal_fence();
	jr->used = 1;
	for (uint32_t i = 0; r->active && i < r->nkeys; i++) {
		struct fnl_jkey *k = &r->keys[i];
		if (k->attached || k->ino != ino || k->nonce != nonce)
			continue;
		k->attached = true;
		r->keys_back++;
		cl->jk = i;
		cl->jr = k->lo;
		bind_key(c, cl, slot, k);
		break;
	}
}

int fnl_recover_record(struct fnl_core *c, struct client *cl, const struct fnl_rec_view *rv)
{
	struct fnl_recovery *r = &c->rec;

	if (fnl_ring_cmp_take_done(&cl->v, rv->end)) {
		r->done_skipped++; /* reported before the kill, or by its kept batch since */
		return 1;
	}
	if (cl->jk == UINT32_MAX)
		return 0;
	/* only the index: the kept batch may be acked and its slot reused by now */
	const struct fnl_jkey *k = &r->keys[cl->jk];
	uint64_t want = cl->v.cmp_resv;
	while (cl->jr < k->hi && r->recs[cl->jr].cmp_slot < want)
		cl->jr++;
	if (cl->jr >= k->hi || r->recs[cl->jr].cmp_slot != want || !r->recs[cl->jr].bound)
		return 0;
	uint64_t got;
	int rc = fnl_ring_cmp_reserve(&cl->v, rv->end, &got);
	if (rc < 0)
		return rc;
	cl->jr++; /* its kept batch fills the slot when acked */
	return 1;
}

int fnl_recover_pid(const struct fnl_core *c, int64_t *pid, int16_t *epoch)
{
	const struct fnl_recovery *r = &c->rec;

	if (!r->enabled || !c->cfg.idempotent || r->j.hdr->pid < 0)
		return 0;
	*pid = r->j.hdr->pid;
	*epoch = r->j.hdr->epoch;
	return 1;
}

void fnl_recover_client_released(struct fnl_core *c, uint32_t slot)
{
	struct fnl_recovery *r = &c->rec;

	/* an entry that records of a ring not back still name stays (relocate()) */
	if (!r->enabled || slot >= r->j.geom.clients_max || (r->active && r->needed[slot]))
		return;
	r->j.rings[slot].used = 0;
}

bool fnl_recover_order_ready(struct fnl_core *c)
{
	struct fnl_recovery *r = &c->rec;

	if (r->order_until_ms == 0 || (r->owait_back < r->nowait && c->now_ms < r->order_until_ms))
		return false; /* no client attached yet (no ring to read), or waiting */
	r->order_wait = false;
	if (r->owait_back == r->nowait)
		return true;
	char msg[256];
	int len =
	    snprintf(msg, sizeof(msg),
	             "restart: %u clients of the previous funneld did not re-attach within "
	             "funnel.restart.wait.ms; their earlier records may follow newer ones of "
	             "other clients (ring_ino of their 'client attached' lines:",
	             r->nowait - r->owait_back);
	for (uint32_t i = 0; i < r->nowait; i++) {
		const struct fnl_jkey *k = &r->owait[i];
		if (k->attached)
			continue;
		if (len > 0 && (size_t)len < sizeof(msg) - 24)
			len += snprintf(msg + len, sizeof(msg) - (size_t)len, " %llu",
			                (unsigned long long)k->ino);
		/* given up on: a successor need not wait for it again, unless
		 * kept records still name its entry or another ring holds it now */
		struct fnl_jring *jr = &r->j.rings[k->lo];
		if (jr->used && jr->ino == k->ino && jr->nonce == k->nonce &&
		    c->clients[k->lo].state == CL_FREE && !(r->active && r->needed[k->lo]))
			jr->used = 0;
	}
	if (len > 0 && (size_t)len < sizeof(msg) - 2)
		snprintf(msg + len, sizeof(msg) - (size_t)len, ")");
	struct fnl_cmd e = {.type = FNL_EVT_LOG, .a = 1, .b = 1};
	memcpy(e.name, msg, strnlen(msg, sizeof(e.name) - 1));
	fnl_core_evt_full(c, &e);
	return true;
}

/* ------------------------------------------------------------ the end */

static void finish(struct fnl_core *c)
{
	struct fnl_recovery *r = &c->rec;

	for (uint32_t k = 0; k < r->nkept; k++) {
		uint32_t s = r->kept[k];
		struct fnl_batch *b = fnl_accum_slot(&c->acc, s);
		if (r->j.descs[s].state != FNL_JD_SEALED)
			continue;
		for (int32_t x = 0; x < b->count; x++) {
			const struct fnl_rec_meta *m = &b->meta[x];
			if (m->client >= (uint32_t)c->cfg.clients_max ||
			    c->clients[m->client].gen != m->client_gen)
				r->dropped_reports++;
		}
		if (r->enqueued[s])
			continue;
		/* its topic or partition did not come back */
		r->kept_failed++;
		fnl_ingest_report_batch(c, b, ERR_UNKNOWN_TOPIC_OR_PART, -1);
		fnl_journal_on_release(c, b);
		fnl_accum_release(&c->acc, b);
	}
	r->active = false;
	struct fnl_cmd e = {
	    .type = FNL_EVT_RECOVERED,
	    .a = (int32_t)r->restored_batches,
	    .b = (int32_t)(r->relocate_failed > INT32_MAX ? INT32_MAX : r->relocate_failed),
	    .c = (int32_t)(r->dropped_reports > INT32_MAX ? INT32_MAX : r->dropped_reports),
	    .i64 = (int64_t)r->bound_records,
	    .u64 = r->relocated};
	fnl_core_evt_full(c, &e);
}

bool fnl_recover_poll(struct fnl_core *c)
{
	struct fnl_recovery *r = &c->rec;

	if (!r->active)
		return true;
	if (r->until_ms == 0)
		r->until_ms = c->now_ms + r->wait_ms;
	if (r->keys_back < r->nkeys && c->now_ms < r->until_ms)
		return false;
	finish(c);
	return true;
}
