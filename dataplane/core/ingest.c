/* ingest.c - client rings -> partitioner -> accumulator, and delivery
 * reports back into the rings, in ring order.
 *
 * Each record taken reserves the client's next completion slot (ring
 * order); its report fills that slot whenever its batch finishes; reports
 * are published over the filled prefix only, after rec_tail was released to
 * the end of the last of their records (dataplane/ring/ring.h). So what a
 * client has been told and what it may overwrite are the same ring prefix,
 * and everything past rec_tail is unreported: a restarted daemon resends
 * exactly that.
 */
#include <errno.h>
#include <stdatomic.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dataplane/core/core_int.h"

enum { ERR_UNKNOWN_TOPIC_OR_PART = 3, ERR_MESSAGE_TOO_LARGE = 10, ERR_INVALID_RECORD = 87 };

static void count_err(struct fnl_core *c, int16_t err, uint64_t n)
{
	int i = err + 1;
	if (i < 0 || i >= 128)
		i = 0;
	c->st.err_by_code[i] += n;
}

/* The client a report goes to, or NULL: a slot is freed only when nothing is
 * pending; after a restart, a journaled record whose ring did not come back. */
static struct client *report_client(struct fnl_core *c, const struct fnl_rec_meta *m)
{
	if (m->client >= (uint32_t)c->cfg.clients_max)
		return NULL;
	struct client *cl = &c->clients[m->client];
	return cl->state == CL_FREE || cl->gen != m->client_gen ? NULL : cl;
}

/* One record's report into its reserved slot (published later, in order). */
static void report_one(struct fnl_core *c, const struct fnl_rec_meta *m, uint32_t topic_id,
		       int32_t partition, int64_t offset, int16_t err)
{
	struct client *cl = report_client(c, m);
	if (!cl)
		return;
	struct fnl_cmp e = {
		.opaque = m->opaque,
		.offset = offset,
		.partition = partition,
		.topic_id = topic_id,
		.err = err,
	};
	fnl_ring_cmp_fill(&cl->v, m->cmp_slot, &e);
	if (err) {
		cl->failed++;
		c->st.records_failed++;
		count_err(c, err, 1);
	} else {
		cl->delivered++;
		c->st.records_acked++;
	}
	cl->wake = true;
}

/* A batch's reports, per record into its reserved slot; what is the same for
 * the whole batch (topic, partition, error, the core's counters) once. */
void fnl_ingest_report_batch(struct fnl_core *c, struct fnl_batch *b, int16_t err,
			     int64_t base_offset)
{
	struct fnl_cmp e = {.partition = b->partition, .topic_id = b->topic_id, .err = err};
	bool ok = base_offset >= 0 && !err;
	uint64_t n = 0;
	const struct fnl_rec_meta *meta = b->meta; /* locals: the stores below cannot move them */
	int32_t count = b->count;
	for (int32_t i = 0; i < count; i++) {
		const struct fnl_rec_meta *m = &meta[i];
		struct client *cl = report_client(c, m);
		if (!cl)
			continue;
		e.opaque = m->opaque;
		e.offset = ok ? base_offset + i : -1;
		fnl_ring_cmp_fill(&cl->v, m->cmp_slot, &e);
		if (err)
			cl->failed++;
		else
			cl->delivered++;
		cl->wake = true;
		n++;
	}
	if (!err) {
		c->st.records_acked += n;
	} else if (n) {
		c->st.records_failed += n;
		count_err(c, err, n);
	}
}

/* Release ring space and wake clients that sleep on their futex. One pass
 * per loop iteration, so the syscall is per wake-up, never per record. */
void fnl_ingest_flush_wakes(struct fnl_core *c)
{
	for (uint32_t k = 0; k < c->nactive; k++) {
		struct client *cl = &c->clients[c->active[k]];
		if (!cl->wake)
			continue;
		cl->wake = false;
		fnl_ring_cmp_publish(&cl->v); /* releases ring bytes, then shows reports */
		if (fnl_ring_client_wants_wake(&cl->v)) {
			/* a client slept and its wake marks are reached: on a full
			 * ring (back-pressure: once half the ring or half its report
			 * slots are free), or in fnl_poll/fnl_flush for any report;
			 * the ring does not say which */
			c->st.ring_full_waits++;
			cl->ring_full_waits++;
			/* relaxed add: the futex word only has to change; the seq_cst
			 * fence in fnl_ring_client_wants_wake() ordered our releases */
			atomic_fetch_add_explicit(&cl->v.hdr->client_futex, 1, memory_order_relaxed);
			syscall(SYS_futex, &cl->v.hdr->client_futex, FUTEX_WAKE, INT32_MAX, NULL,
				NULL, 0);
		}
	}
}

void fnl_ingest_seal(struct fnl_core *c, struct part *p)
{
	struct fnl_batch *b = p->open;
	if (!b)
		return;
	p->open = NULL;
	if (c->zp) {
		fnl_zpool_submit(c, p, b); /* comes back to fnl_ingest_sealed in seal order */
		return;
	}
	/* timed as a worker's compression is (two clock reads a batch): the
	 * compression's share of the core, in /metrics and for funnel-bench */
	int64_t t0 = fnl_now_ns();
	int rc = fnl_accum_seal(&c->acc, b);
	c->st.zcore[0].busy_ns += (uint64_t)(fnl_now_ns() - t0);
	fnl_ingest_sealed(c, p, b, rc);
}

/* A sealed batch (rc: its compression's result) joins its partition's queue;
 * with compression workers, in the partition's seal order. */
void fnl_ingest_sealed(struct fnl_core *c, struct part *p, struct fnl_batch *b, int rc)
{
	if (rc < 0) {
		/* compression failed: the records cannot be sent; fail them loudly */
		fnl_ingest_report_batch(c, b, -1, -1);
		fnl_accum_release(&c->acc, b);
		return;
	}
	fnl_journal_on_seal(c, b);
	fnl_ppart_enqueue(&p->pp, &b->pb, c->now_ms);
	p->queued_bytes += b->wire_len;
	c->st.bytes_raw = c->acc.st.bytes_raw;
	c->st.bytes_wire = c->acc.st.bytes_wire;
	if (p->broker >= 0)
		c->brokers[p->broker].queued++;
}

static int32_t choose_partition(struct fnl_core *c, struct topic *t, const struct fnl_rec_hdr *r,
				const uint8_t *key)
{
	/* r is the ring helper's private copy of the header: safe to read again */
	if (t->nparts <= 0)
		return -1; /* a topic the cluster does not know now (core.c cmd_topic) */
	if (r->partition >= 0)
		return r->partition < t->nparts ? r->partition : -1;
	if (r->partition != -1)
		return -1;
	if (!(r->flags & FNL_REC_F_KEY_NULL) && !c->cfg.ignore_keys)
		return fnl_partition_key(key, r->key_len, t->nparts);
	if (c->cfg.round_robin)
		return fnl_rr_partition(&t->rr, t->nparts);
	return fnl_sticky_partition(&t->sticky, t->nparts, NULL);
}

/* Record headers from the ring's serialized form (bounds-checked by the
 * ring helper) into the codec's list. */
static int parse_headers(const struct fnl_rec_view *rv, struct fnl_rb_header_kv *h)
{
	if (rv->h.header_count > FNL_HEADERS_MAX)
		return -EMSGSIZE;
	uint32_t pos = 0;
	struct fnl_rec_kv kv;
	int n = 0, rc;
	while ((rc = fnl_rec_hdrs_next(rv, &pos, &kv)) == 1) {
		if (n == rv->h.header_count)
			return -EBADMSG;
		h[n].key = kv.name;
		h[n].key_len = kv.name_len;
		h[n].value = kv.value;
		h[n].value_len = kv.value_len;
		n++;
	}
	return rc < 0 || n != rv->h.header_count ? -EBADMSG : n;
}

static void fail_now(struct fnl_core *c, struct client *cl, uint32_t slot,
		     const struct fnl_rec_hdr *r, uint64_t cmp_slot, int16_t err)
{
	struct fnl_rec_meta m = {
		.opaque = r->opaque, .client = slot, .cmp_slot = cmp_slot, .client_gen = cl->gen};
	report_one(c, &m, r->topic_id, r->partition, -1, err);
}

static void quarantine(struct fnl_core *c, uint32_t slot, const char *why)
{
	struct client *cl = &c->clients[slot];
	cl->state = CL_QUARANTINED;
	c->st.quarantined++;
	fnl_core_evt(c, FNL_EVT_CLIENT_QUARANTINED, (int32_t)slot, 0, why);
}

/* Append one record to its partition's open batch. Returns 0, or 1 when the
 * pool is empty (stop this pass; the record is retried next pass). */
static bool topic_known(struct fnl_core *c, uint32_t id)
{
	return id < (uint32_t)c->cfg.topics_max && c->topics[id].used;
}

/* A record larger than batch.size (it did not fit the empty batch p->open):
 * a batch of its own in a big slot, up to max.request.size, sealed at once;
 * the empty p->open goes back to the pool first (the partition's older
 * records are sealed already, so its order holds). Returns 0 (taken), 1 (no
 * big slot free: retry the record later) or -EMSGSIZE (larger than
 * max.request.size, or no big slots). */
static int take_big(struct fnl_core *c, struct part *p, int32_t pnum, const struct fnl_rec_hdr *r,
		    const uint8_t *key, int32_t klen, const uint8_t *val, int32_t vlen,
		    const struct fnl_rb_header_kv *h, const struct fnl_rec_meta *m)
{
	if (p->open && p->open->count == 0) {
		fnl_accum_release(&c->acc, p->open);
		p->open = NULL;
	}
	if (!c->acc.g.big_slots || p->open)
		return -EMSGSIZE;
	struct fnl_batch *b = fnl_accum_open_big(&c->acc, (uint32_t)(p - c->parts), r->topic_id,
						 pnum, c->now_ms, r->timestamp_ms);
	if (!b)
		return 1; /* every big slot is in flight: it comes back when acknowledged */
	int rc = fnl_accum_append(&c->acc, b, r->timestamp_ms, key, klen, val, vlen, h,
				  r->header_count, m);
	if (rc < 0) {
		fnl_accum_release(&c->acc, b);
		return -EMSGSIZE;
	}
	c->st.seals_full++;
	p->open = b;
	fnl_ingest_seal(c, p);
	return 0;
}

static int take_record(struct fnl_core *c, struct client *cl, uint32_t slot,
		       const struct fnl_rec_view *rv)
{
	const struct fnl_rec_hdr *r = &rv->h;
	if (!topic_known(c, r->topic_id)) {
		/* ctrl queues a topic before it answers the client: catch up once */
		fnl_core_run_commands(c);
		if (!topic_known(c, r->topic_id)) {
			quarantine(c, slot, "record names a topic id that was never registered");
			return -1;
		}
	}
	uint64_t cmp_slot;
	int rc = fnl_ring_cmp_reserve(&cl->v, rv->end, &cmp_slot);
	if (rc == -ENOBUFS)
		return 2; /* the client has not read its reports yet: wait */
	if (rc < 0) {
		quarantine(c, slot, "completion index (cmp_tail) out of range");
		return -1;
	}
	const uint8_t *key = rv->key, *val = rv->value;
	struct topic *t = &c->topics[r->topic_id];
	struct fnl_rb_header_kv h[FNL_HEADERS_MAX];
	if (parse_headers(rv, h) < 0) {
		fail_now(c, cl, slot, r, cmp_slot, ERR_INVALID_RECORD);
		return 0;
	}
	int32_t pnum = choose_partition(c, t, r, key);
	if (pnum < 0) {
		fail_now(c, cl, slot, r, cmp_slot, ERR_UNKNOWN_TOPIC_OR_PART);
		return 0;
	}
	struct part *p = fnl_topic_part(c, t, pnum);
	struct fnl_rec_meta m = {
		.opaque = r->opaque, .client = slot, .cmp_slot = cmp_slot, .client_gen = cl->gen};
	int32_t klen = (r->flags & FNL_REC_F_KEY_NULL) ? -1 : (int32_t)r->key_len;
	int32_t vlen = (r->flags & FNL_REC_F_VALUE_NULL) ? -1 : (int32_t)r->value_len;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!p->open) {
			p->open = fnl_accum_open(&c->acc, (uint32_t)(p - c->parts), r->topic_id,
						 pnum, c->now_ms, r->timestamp_ms);
			if (!p->open) {
				/* buffer.memory exhausted: like the Java client, batches
				 * waiting for linger become ready so memory comes back */
				c->st.pool_empty = c->acc.st.pool_empty;
				struct fnl_batch *old = c->acc.linger_head;
				if (old) {
					c->st.seals_pool++;
					fnl_ingest_seal(c, &c->parts[old->part]);
				}
				fnl_ring_cmp_unreserve(&cl->v);
				return 1;
			}
		}
		rc = fnl_accum_append(&c->acc, p->open, r->timestamp_ms, key, klen, val, vlen, h,
				      r->header_count, &m);
		if (rc == -EMSGSIZE) {
			/* larger than batch.size: a big slot of its own */
			rc = take_big(c, p, pnum, r, key, klen, val, vlen, h, &m);
			if (rc == 1) {
				fnl_ring_cmp_unreserve(&cl->v);
				return 1;
			}
			if (rc < 0)
				break;
		}
		if (rc == 0) {
			cl->appended++;
			cl->appended_bytes += r->len;
			c->st.records_in++;
			if (r->partition == -1 && (klen < 0 || c->cfg.ignore_keys) &&
			    !c->cfg.round_robin)
				fnl_sticky_on_append(&t->sticky, (int32_t)r->len, c->cfg.batch_size,
						     t->nparts, NULL);
			return 0;
		}
		c->st.seals_full++;
		fnl_ingest_seal(c, p); /* full: seal and retry once in a fresh batch */
	}
	fail_now(c, cl, slot, r, cmp_slot, ERR_MESSAGE_TOO_LARGE);
	return 0;
}

/* The ring's next record into cl->next. 1 when there is one, 0 when nothing
 * more is published (or a gone client's records are all taken), -1 when the
 * ring broke the format (quarantined). Inline in both loops of the pass: a
 * call per record cost ~30 instructions (bench/micro/fnl-core-stages). */
static inline __attribute__((always_inline)) int peek(struct fnl_core *c, uint32_t slot)
{
	struct client *cl = &c->clients[slot];
	uint64_t limit = cl->state == CL_GONE ? cl->stop_at : UINT64_MAX;
	if (cl->rd >= limit)
		return 0;
	uint64_t cur = cl->rd;
	int rc = fnl_ring_next(&cl->v, &cur, &cl->next);
	if (rc == 0)
		cl->rd = cur; /* PADs skipped */
	if (rc < 0)
		quarantine(c, slot, "malformed record or ring index in shared memory");
	return rc < 0 ? -1 : rc;
}

/* Takes cl->next. 0 taken (or passed over: finished or journaled before a
 * restart), 1 out of batch memory (the pass stops; the record is retried next
 * pass), 2 this ring stalls (its report slots are full: only a client that
 * broke I3 of ring.h), -1 quarantined or failed. */
static int take_next(struct fnl_core *c, uint32_t slot)
{
	struct client *cl = &c->clients[slot];
	const struct fnl_rec_view *r = &cl->next;
	int t = 0;
	if (cl->resumed) {
		t = fnl_recover_record(c, cl, r);
		if (t == -ENOBUFS)
			return 2; /* the client has not read its reports yet */
		if (t < 0) {
			quarantine(c, slot, "completion index (cmp_tail) out of range");
			return -1;
		}
		cl->resumed = r->end < cl->resume_end;
	}
	if (t == 0) {
		t = take_record(c, cl, slot, r);
		if (t < 0)
			c->st.records_bad++;
		if (t != 0)
			return t;
	}
	cl->rd = r->end;
	cl->wake = true;
	return 0;
}

/* The merge heap: a min-heap of (stamp, slot), ties by slot. */
static bool ent_less(const struct fnl_merge_ent *a, const struct fnl_merge_ent *b)
{
	return a->stamp < b->stamp || (a->stamp == b->stamp && a->slot < b->slot);
}

static void heap_down(struct fnl_merge_ent *h, uint32_t n, uint32_t i)
{
	struct fnl_merge_ent e = h[i];
	for (;;) {
		uint32_t k = 2 * i + 1;
		if (k >= n)
			break;
		if (k + 1 < n && ent_less(&h[k + 1], &h[k]))
			k++;
		if (!ent_less(&h[k], &e))
			break;
		h[i] = h[k];
		i = k;
	}
	h[i] = e;
}

static void heap_push(struct fnl_core *c, uint64_t stamp, uint32_t slot)
{
	struct fnl_merge_ent *h = c->heap, e = {.stamp = stamp, .slot = slot};
	uint32_t i = c->heap_n++;
	while (i > 0 && ent_less(&e, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = e;
}

static void heap_pop(struct fnl_core *c)
{
	c->heap[0] = c->heap[--c->heap_n];
	heap_down(c->heap, c->heap_n, 0);
}

/* One drain pass: every record published before the pass began, across all
 * rings, in stamp order (docs/architecture.md, "Order across rings").
 *
 * t0 is read first; then the queued commands run, so a ring whose WELCOME a
 * client could have seen before t0 is attached. A record is taken only if its
 * stamp is below t0: a record stamped later waits for the next pass, even if
 * it is visible now. Then a produce call that returned before another began
 * had published its record before that one's stamp; if that stamp is below t0,
 * the earlier record was published before t0, so this pass sees it, and with
 * its smaller stamp it is taken first. The merge only ever stops as a whole
 * (out of batch memory, or the per-pass budget), never past one ring alone,
 * except for a ring that broke the format or its report budget. */
/* A record's merge key: its stamp, unless the stamp lies more than
 * FNL_STAMP_AHEAD_NS past t0, which no honest client can write (it read its
 * stamp before publishing, and we saw the record after t0): such a record is
 * taken at once rather than left to stall its ring, and keeps the loop from
 * spinning on it. Only that client's own order can suffer. */
static uint64_t rec_key(const struct fnl_rec_view *r, uint64_t t0)
{
	uint64_t st = r->h.stamp_ns;
	return st >= t0 && st - t0 > FNL_STAMP_AHEAD_NS ? 0 : st;
}

static uint64_t pass_t0(void)
{
	uint64_t t0 = (uint64_t)fnl_now_ns();
#if defined(__x86_64__) || defined(__i386__)
	/* the vDSO fences before its TSC read, not after it: without this a load
	 * of a ring below could execute before the clock was read, and miss a
	 * record published before t0 (Intel SDM: LFENCE after RDTSC) */
	__builtin_ia32_lfence();
#endif
	return t0;
}

int fnl_ingest_pass(struct fnl_core *c)
{
	uint64_t t0 = pass_t0();
	fnl_core_run_commands(c);
	c->heap_n = 0;
	c->deferred = false;
	/* after a restart: wait for the rings of the previous daemon (recover.h, 5) */
	uint32_t nscan = c->nactive;
	if (c->rec.order_wait && !fnl_recover_order_ready(c)) {
		nscan = 0;
		c->deferred = fnl_ingest_has_input(c); /* check again soon */
	}
	for (uint32_t k = 0; k < nscan; k++) {
		uint32_t slot = c->active[k];
		struct client *cl = &c->clients[slot];
		if (cl->state != CL_ACTIVE && cl->state != CL_GONE)
			continue;
		if (peek(c, slot) != 1)
			continue;
		uint64_t st = rec_key(&cl->next, t0);
		if (st < t0)
			heap_push(c, st, slot);
		else
			c->deferred = true; /* published just now: the next pass */
	}
	int total = 0, budget = FNL_BURST_RECORDS * (int)(c->nactive ? c->nactive : 1);
	while (c->heap_n && total < budget) {
		uint32_t slot = c->heap[0].slot;
		int t = take_next(c, slot);
		if (t == 1)
			break; /* out of batch memory: all rings wait, order kept */
		if (t != 0) {
			heap_pop(c); /* quarantined, or a client that broke I3 */
			continue;
		}
		total++;
		struct client *cl = &c->clients[slot];
		uint64_t st;
		if (peek(c, slot) == 1 && (st = rec_key(&cl->next, t0)) < t0) {
			c->heap[0].stamp = st;
			if (c->heap_n > 1) /* one busy ring: no heap to keep */
				heap_down(c->heap, c->heap_n, 0);
		} else {
			heap_pop(c);
		}
	}
	if (c->heap_n && total >= budget)
		c->deferred = true; /* not when out of memory: then the loop may nap */
	/* linger: seal what waited long enough */
	struct fnl_batch *b;
	while ((b = fnl_accum_lingered(&c->acc, c->now_ms)) != NULL) {
		c->st.seals_linger++;
		fnl_ingest_seal(c, &c->parts[b->part]);
	}
	return total;
}

void fnl_ingest_client_add(struct fnl_core *c, int slot, void *map, uint64_t bytes, uint64_t ino)
{
	struct client *cl = &c->clients[slot];
	/* with a journal, generations are unique across restarts (recover.c) */
	uint32_t gen = c->rec.enabled ? ++c->rec.j.hdr->attach_no : cl->gen + 1;
	memset(cl, 0, sizeof(*cl));
	cl->gen = gen;
	if (fnl_ring_dview_init(&cl->v, map, bytes) < 0) {
		/* The header changed since ctrl validated it (a hostile client): the
		 * core never touches this ring. It stays free; ctrl closes the socket
		 * and unmaps (a CLIENT_GONE for a free slot is a no-op, and it reaches
		 * the core before any reuse of the slot). */
		memset(&cl->v, 0, sizeof(cl->v));
		c->st.quarantined++;
		fnl_core_evt(c, FNL_EVT_CLIENT_QUARANTINED, slot, 0,
			     "ring header changed after validation");
		fnl_core_evt(c, FNL_EVT_CLIENT_RELEASED, slot, 0, NULL);
		return;
	}
	cl->map = map;
	cl->map_bytes = bytes;
	cl->rd = cl->v.tail;
	/* acquire: the records a previous daemon may have taken */
	cl->resume_end = atomic_load_explicit(&cl->v.hdr->rec_head, memory_order_acquire);
	cl->resumed = cl->resume_end != cl->rd && cl->resume_end - cl->rd <= cl->v.rec_bytes;
	fnl_recover_client(c, cl, (uint32_t)slot, ino);
	cl->state = CL_ACTIVE;
	c->st.clients_active++;
	c->active[c->nactive++] = (uint32_t)slot;
}

void fnl_ingest_client_gone(struct fnl_core *c, int slot)
{
	struct client *cl = &c->clients[slot];
	if (cl->state == CL_ACTIVE) {
		/* acquire: what was published before the socket closed; a value
		 * out of range only means nothing more is taken */
		uint64_t h = atomic_load_explicit(&cl->v.hdr->rec_head, memory_order_acquire);
		cl->stop_at = h >= cl->rd && h - cl->v.tail <= cl->v.rec_bytes ? h : cl->rd;
		cl->state = CL_GONE;
	} else if (cl->state == CL_QUARANTINED) {
		cl->stop_at = cl->rd;
		cl->state = CL_GONE;
	}
}

/* A gone client whose records were all taken and reported is released. */
void fnl_ingest_reap_clients(struct fnl_core *c)
{
	for (uint32_t k = c->nactive; k-- > 0;) {
		uint32_t i = c->active[k];
		struct client *cl = &c->clients[i];
		if (cl->state != CL_GONE || cl->rd < cl->stop_at ||
		    cl->v.cmp_head != cl->v.cmp_resv)
			continue;
		/* acquire: the gone client's last store of cmp_tail; a value out
		 * of range (a hostile client) counts nothing */
		uint64_t read = atomic_load_explicit(&cl->v.hdr->cmp_tail, memory_order_acquire);
		if (read <= cl->v.cmp_head && cl->v.cmp_head - read <= cl->v.cmp_entries)
			c->st.reports_unread += cl->v.cmp_head - read;
		cl->state = CL_FREE;
		fnl_recover_client_released(c, i);
		c->st.clients_active--;
		c->active[k] = c->active[--c->nactive]; /* order does not matter */
		fnl_core_evt(c, FNL_EVT_CLIENT_RELEASED, (int32_t)i, 0, NULL);
	}
}

bool fnl_ingest_has_input(struct fnl_core *c)
{
	for (uint32_t k = 0; k < c->nactive; k++) {
		struct client *cl = &c->clients[c->active[k]];
		if (cl->state == CL_ACTIVE && fnl_ring_pending(&cl->v, cl->rd))
			return true;
		if (cl->state == CL_GONE && cl->rd < cl->stop_at)
			return true;
	}
	return false;
}

void fnl_ingest_set_sleeping(struct fnl_core *c, uint32_t v)
{
	for (uint32_t k = 0; k < c->nactive; k++) {
		struct client *cl = &c->clients[c->active[k]];
		if (cl->state == CL_ACTIVE)
			fnl_ring_set_sleeping(&cl->v, v != 0);
	}
}
