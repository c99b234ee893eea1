/* producer.c - idempotent producer state machine; see producer.h for the
 * queue layout, the states and the invariants.
 *
 * Resolution rule (KIP-360 for a non-transactional idempotent producer):
 * a partition's "first unresolved" batch is the first one on its queue that is
 * not DONE; everything before it is acknowledged or given up. When the broker
 * rejects that batch with OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID or
 * INVALID_PRODUCER_EPOCH, the broker has nothing of it nor of anything after
 * it, so the partition may be resequenced from 0 under a newer epoch once its
 * in-flight answers are in. The same errors on a later batch only mean that a
 * predecessor is still unresolved: retry in order.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/producer/producer.h"

int fnl_producer_cfg_check(const struct fnl_producer_cfg *c, char *msg, size_t msg_len)
{
	const char *why = NULL;
	char buf[160];

	if (c->acks != -1 && c->acks != 0 && c->acks != 1) {
		snprintf(buf, sizeof(buf), "acks must be all (-1), 0 or 1 (got acks=%d)", c->acks);
		why = buf;
	} else if (c->max_inflight < 1) {
		snprintf(buf, sizeof(buf),
		         "max.in.flight.requests.per.connection must be >= 1 (got %d)",
		         c->max_inflight);
		why = buf;
	} else if (c->retries < 0) {
		snprintf(buf, sizeof(buf), "retries must be >= 0 (got retries=%d)", c->retries);
		why = buf;
	} else if (c->retry_backoff_ms < 0 || c->request_timeout_ms <= 0 ||
	           c->delivery_timeout_ms <= 0) {
		snprintf(
		    buf, sizeof(buf),
		    "retry.backoff.ms must be >= 0 and request.timeout.ms, delivery.timeout.ms "
		    "> 0 (got %lld, %lld, %lld)",
		    (long long)c->retry_backoff_ms, (long long)c->request_timeout_ms,
		    (long long)c->delivery_timeout_ms);
		why = buf;
	} else if (c->delivery_timeout_ms < c->request_timeout_ms) {
		snprintf(buf, sizeof(buf),
		         "delivery.timeout.ms should be >= request.timeout.ms (got %lld < %lld)",
		         (long long)c->delivery_timeout_ms, (long long)c->request_timeout_ms);
		why = buf;
	} else if (c->idempotent && c->acks != -1) {
		snprintf(buf, sizeof(buf),
		         "enable.idempotence=true requires acks=all (got acks=%d)", c->acks);
		why = buf;
	} else if (c->idempotent && c->max_inflight > FNL_PRODUCER_MAX_INFLIGHT_IDEMPOTENT) {
		snprintf(buf, sizeof(buf),
		         "enable.idempotence=true requires max.in.flight.requests.per.connection "
		         "<= 5 (got %d)",
		         c->max_inflight);
		why = buf;
	} else if (c->idempotent && c->retries == 0) {
		snprintf(buf, sizeof(buf),
		         "enable.idempotence=true requires retries > 0 (got "
		         "retries=0)");
		why = buf;
	}
	if (why == NULL) {
		if (msg && msg_len)
			msg[0] = '\0';
		return 0;
	}
	if (msg && msg_len)
		snprintf(msg, msg_len, "%s", why);
	return -EINVAL;
}

void fnl_producer_init(struct fnl_producer *p, const struct fnl_producer_cfg *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	if (p->cfg.max_inflight < 1)
		p->cfg.max_inflight = 1;
	p->pid = -1;
	p->epoch = -1;
	p->state = cfg->idempotent ? FNL_PRODUCER_NEED_PID : FNL_PRODUCER_READY;
}

void fnl_producer_set_pid(struct fnl_producer *p, int64_t pid, int16_t epoch, int64_t now_ms)
{
	(void)now_ms;
	if (p->state == FNL_PRODUCER_FATAL || !p->cfg.idempotent)
		return;
	if (p->pid == pid && epoch != p->epoch)
		p->stats.epoch_bumps++;
	p->pid = pid;
	p->epoch = epoch;
	p->state = FNL_PRODUCER_READY;
}

int fnl_producer_bump_epoch(struct fnl_producer *p, int64_t now_ms)
{
	if (p->state == FNL_PRODUCER_FATAL || !p->cfg.idempotent)
		return 0;
	if (p->pid < 0 || p->epoch >= INT16_MAX) {
		p->state = FNL_PRODUCER_NEED_PID;
		return 1;
	}
	fnl_producer_set_pid(p, p->pid, (int16_t)(p->epoch + 1), now_ms);
	return 0;
}

void fnl_producer_set_fatal(struct fnl_producer *p, int16_t err)
{
	if (p->state == FNL_PRODUCER_FATAL)
		return;
	p->state = FNL_PRODUCER_FATAL;
	p->fatal_err = err ? err : FNL_KERR_UNKNOWN_SERVER_ERROR;
}

void fnl_ppart_init(struct fnl_ppart *pp, int32_t leader)
{
	memset(pp, 0, sizeof(*pp));
	pp->seq_pid = -1;
	pp->seq_epoch = -1;
	pp->leader = leader;
	pp->pending_leader = FNL_NO_LEADER;
}

void fnl_ppart_enqueue(struct fnl_ppart *pp, struct fnl_pbatch *b, int64_t now_ms)
{
	assert(b->record_count >= 1);
	b->next = NULL;
	b->pid = -1;
	if (b->created_ms > now_ms)
		b->created_ms = now_ms;
	b->sent_ms = 0;
	b->retry_at_ms = 0;
	b->base_offset = -1;
	b->base_seq = -1;
	b->request_gen = 0;
	b->epoch = -1;
	b->err = 0;
	b->attempts = 0;
	b->state = FNL_PB_QUEUED;
	b->flags = 0;
	if (pp->tail)
		pp->tail->next = b;
	else
		pp->head = b;
	pp->tail = b;
	if (pp->send_next == NULL)
		pp->send_next = b;
	pp->queued++;
}

void fnl_ppart_restore_seq(struct fnl_ppart *pp, int64_t pid, int16_t epoch, int32_t next_seq)
{
	pp->seq_pid = pid;
	pp->seq_epoch = epoch;
	pp->next_seq = next_seq & 0x7fffffff;
}

void fnl_ppart_enqueue_sent(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b,
                            int64_t pid, int16_t epoch, int32_t base_seq, int64_t now_ms)
{
	fnl_ppart_enqueue(pp, b, now_ms);
	b->pid = pid;
	b->epoch = epoch;
	b->base_seq = base_seq;
	b->state = FNL_PB_RETRY;
	b->retry_at_ms = now_ms;
	b->attempts = 1;
	pp->quiet_at_ms = now_ms + p->cfg.request_timeout_ms;
	/* the journal's next_seq may lag the batch's (it is stored first, but a
	 * rewrite restamps batches before their send): never hand out a sequence
	 * this batch already covers under the same identity */
	int32_t end = fnl_seq_add(base_seq, b->record_count);
	if (pp->seq_pid < 0) { /* no sequence state was kept: the batch's identity it is */
		pp->seq_pid = pid;
		pp->seq_epoch = epoch;
		pp->next_seq = end;
	} else if (pp->seq_pid == pid && pp->seq_epoch == epoch &&
	           (((uint32_t)end - (uint32_t)pp->next_seq) & 0x7fffffffu) < (1u << 30)) {
		pp->next_seq = end; /* end is at or after next_seq */
	}
}

static bool expired(const struct fnl_producer *p, const struct fnl_pbatch *b, int64_t now_ms)
{
	return now_ms - b->created_ms >= p->cfg.delivery_timeout_ms;
}

static void finish(struct fnl_producer *p, struct fnl_pbatch *b, int16_t err, int64_t offset)
{
	b->state = FNL_PB_DONE;
	b->err = err;
	b->base_offset = err ? -1 : offset;
	if (err)
		p->stats.failed++;
	else
		p->stats.acked++;
}

static int16_t timeout_err(const struct fnl_pbatch *b)
{
	return b->err ? b->err : FNL_KERR_REQUEST_TIMED_OUT;
}

static struct fnl_pbatch *first_unresolved(const struct fnl_ppart *pp)
{
	struct fnl_pbatch *b = pp->head;

	while (b && b->state == FNL_PB_DONE)
		b = b->next;
	return b;
}

/* Resequence every unresolved batch that already carries a sequence from 0 under the current
 * identity. Only called with nothing of pp in flight. */
static void rewrite(struct fnl_producer *p, struct fnl_ppart *pp)
{
	int32_t seq = 0;

	for (struct fnl_pbatch *b = pp->head; b; b = b->next) {
		if (b->state == FNL_PB_DONE || b->base_seq < 0)
			continue;
		b->pid = p->pid;
		b->epoch = p->epoch;
		b->base_seq = seq;
		b->flags |= FNL_PBF_REWRITTEN;
		seq = fnl_seq_add(seq, b->record_count);
	}
	pp->seq_pid = p->pid;
	pp->seq_epoch = p->epoch;
	pp->next_seq = seq;
	pp->rewrite = false;
	p->stats.rewrites++;
}

static bool same_identity(const struct fnl_producer *p, int64_t pid, int16_t epoch)
{
	return p->pid == pid && p->epoch == epoch;
}

/* All in-flight answers are in: switch leader, rewrite if due, restart the pass at the first
 * unresolved batch. False while a rewrite still waits for the epoch bump. */
static bool drain_finish(struct fnl_producer *p, struct fnl_ppart *pp, int64_t now_ms)
{
	if (pp->pending_leader != FNL_NO_LEADER) {
		pp->leader = pp->pending_leader;
		pp->pending_leader = FNL_NO_LEADER;
	}
	if (pp->rewrite) {
		if (p->state != FNL_PRODUCER_READY ||
		    same_identity(p, pp->seq_pid, pp->seq_epoch) || now_ms < pp->quiet_at_ms)
			return false;
		rewrite(p, pp);
	}
	pp->draining = false;
	pp->send_next = first_unresolved(pp);
	return true;
}

/* The batch at send_next, failing expired ones on the way. */
static struct fnl_pbatch *candidate(struct fnl_producer *p, struct fnl_ppart *pp, int64_t now_ms)
{
	struct fnl_pbatch *b;

	while ((b = pp->send_next) != NULL) {
		/* A resend pass passes over batches answered meanwhile (lost but stored). */
		if (b->state == FNL_PB_DONE) {
			pp->send_next = b->next;
			continue;
		}
		assert(b->state == FNL_PB_QUEUED || b->state == FNL_PB_RETRY);
		if (!expired(p, b, now_ms))
			return b;
		finish(p, b, timeout_err(b), -1);
		p->stats.expired++;
		pp->send_next = b->next;
	}
	return NULL;
}

/* The broker deduplicates against its last 5 stored batches only. Everything after the first
 * unresolved batch u may be stored after u, so if u has to be resent, at most max_inflight - 1
 * batches after it may ever have been sent: b must lie within max_inflight of u. */
static bool in_window(const struct fnl_producer *p, const struct fnl_ppart *pp,
                      const struct fnl_pbatch *b)
{
	const struct fnl_pbatch *u = first_unresolved(pp);

	for (int i = 0; u && i < p->cfg.max_inflight; i++, u = u->next)
		if (u == b)
			return true;
	return false;
}

static bool assign_seq(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b,
                       int64_t now_ms)
{
	if (p->state != FNL_PRODUCER_READY)
		return false;
	if (!same_identity(p, pp->seq_pid, pp->seq_epoch)) {
		/* A new identity starts at 0; older sequences must all be answered first, and
		 * orphans of lost requests given time to land. */
		if (pp->inflight > 0 || now_ms < pp->quiet_at_ms)
			return false;
		assert(!pp->rewrite);
		pp->seq_pid = p->pid;
		pp->seq_epoch = p->epoch;
		pp->next_seq = 0;
	}
	b->pid = p->pid;
	b->epoch = p->epoch;
	b->base_seq = pp->next_seq;
	pp->next_seq = fnl_seq_add(pp->next_seq, b->record_count);
	return true;
}

struct fnl_pbatch *fnl_ppart_next_send(struct fnl_producer *p, struct fnl_ppart *pp, int64_t now_ms)
{
	struct fnl_pbatch *b;

	if (p->state == FNL_PRODUCER_FATAL)
		return NULL;
	if (pp->draining && (pp->inflight > 0 || !drain_finish(p, pp, now_ms)))
		return NULL;
	if (pp->inflight >= p->cfg.max_inflight)
		return NULL;
	b = candidate(p, pp, now_ms);
	if (b == NULL || !in_window(p, pp, b))
		return NULL;
	if (b->state == FNL_PB_RETRY && now_ms < b->retry_at_ms)
		return NULL;
	if (p->cfg.idempotent && b->base_seq < 0 && !assign_seq(p, pp, b, now_ms))
		return NULL;
	return b;
}

void fnl_ppart_on_sent(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b,
                       int64_t now_ms)
{
	assert(b == pp->send_next);
	assert(b->state == FNL_PB_QUEUED || b->state == FNL_PB_RETRY);
	if (b->attempts < UINT16_MAX)
		b->attempts++;
	b->sent_ms = now_ms;
	if (++p->gen_last == 0)
		p->gen_last = 1;
	b->request_gen = p->gen_last;
	pp->send_next = b->next;
	p->stats.sent++;
	if (p->cfg.acks == 0) {
		finish(p, b, 0, -1);
		return;
	}
	b->state = FNL_PB_INFLIGHT;
	pp->inflight++;
}

/* Back to the queue with the same sequence; the partition drains before resending. */
static void requeue(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b, int16_t err,
                    int64_t now_ms)
{
	b->state = FNL_PB_RETRY;
	b->err = err;
	b->retry_at_ms = now_ms + p->cfg.retry_backoff_ms;
	pp->draining = true;
	p->stats.retries++;
}

/* expected: the error is a consequence of an unresolved predecessor; it does not use up the
 * batch's retries (it is still bounded by delivery.timeout.ms). */
static bool can_retry(const struct fnl_producer *p, const struct fnl_pbatch *b, int64_t now_ms,
                      bool expected)
{
	if (expired(p, b, now_ms))
		return false;
	return expected || (int64_t)b->attempts <= (int64_t)p->cfg.retries;
}

static void retry_or_fail(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b,
                          int16_t err, int64_t now_ms, bool expected, struct fnl_pb_outcome *o)
{
	if (can_retry(p, b, now_ms, expected)) {
		requeue(p, pp, b, err, now_ms);
		o->action = FNL_PB_WILL_RETRY;
	} else {
		finish(p, b, err, -1);
		o->action = FNL_PB_FAILED;
	}
}

/* OUT_OF_ORDER / UNKNOWN_PRODUCER_ID / INVALID_PRODUCER_EPOCH (see the resolution rule). */
static void on_sequence_error(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b,
                              int16_t err, int64_t now_ms, struct fnl_pb_outcome *o)
{
	/* Evidence of a gap counts only from an attempt sent once orphans of lost requests
	 * have landed; an earlier rejection may be overtaken by such an orphan. */
	bool gap = !pp->rewrite && first_unresolved(pp) == b && b->sent_ms >= pp->quiet_at_ms;

	if (gap) {
		/* Consumed at the end of this drain, never later: a stale flag could rewrite
		 * batches sent (and maybe stored) after the gap was healed. */
		pp->rewrite = true;
		pp->draining = true;
		if (same_identity(p, b->pid, b->epoch) && p->state == FNL_PRODUCER_READY) {
			p->state = FNL_PRODUCER_BUMPING;
			o->bump_epoch = true;
		}
	}
	retry_or_fail(p, pp, b, err, now_ms, !gap, o);
}

static enum fnl_err_class produce_class(const struct fnl_producer *p, int16_t err)
{
	enum fnl_err_class c = fnl_err_class_produce(err);

	if (p->cfg.idempotent)
		return c;
	/* Without sequences these codes cannot be acted upon: fail the batch. */
	if (c == FNL_ERR_DUPLICATE || c == FNL_ERR_OUT_OF_ORDER || c == FNL_ERR_UNKNOWN_PID ||
	    c == FNL_ERR_BUMP_EPOCH)
		return FNL_ERR_FAIL_BATCH;
	return c;
}

struct fnl_pb_outcome fnl_ppart_on_response(struct fnl_producer *p, struct fnl_ppart *pp,
                                            struct fnl_pbatch *b, int16_t err, int64_t base_offset,
                                            int64_t now_ms)
{
	struct fnl_pb_outcome o = {.action = FNL_PB_IGNORED, .err = err, .base_offset = -1};
	enum fnl_err_class c;

	if (b->state != FNL_PB_INFLIGHT) {
		p->stats.ignored++;
		return o;
	}
	pp->inflight--;
	c = produce_class(p, err);
	o.refresh_metadata = fnl_err_lookup(err)->refresh_metadata;
	switch (c) {
	case FNL_ERR_OK:
	case FNL_ERR_DUPLICATE:
		if (c == FNL_ERR_DUPLICATE)
			p->stats.duplicates++;
		finish(p, b, 0, base_offset);
		o.action = FNL_PB_ACKED;
		o.err = 0;
		o.base_offset = b->base_offset;
		break;
	case FNL_ERR_RETRY:
	case FNL_ERR_RETRY_REFRESH:
		retry_or_fail(p, pp, b, err, now_ms, false, &o);
		break;
	case FNL_ERR_OUT_OF_ORDER:
	case FNL_ERR_UNKNOWN_PID:
	case FNL_ERR_BUMP_EPOCH:
		on_sequence_error(p, pp, b, err, now_ms, &o);
		break;
	case FNL_ERR_FATAL:
		finish(p, b, err, -1);
		fnl_producer_set_fatal(p, err);
		o.action = FNL_PB_FATAL;
		break;
	case FNL_ERR_FAIL_BATCH:
	default:
		finish(p, b, err, -1);
		o.action = FNL_PB_FAILED;
		break;
	}
	return o;
}

struct fnl_pb_outcome fnl_ppart_on_lost(struct fnl_producer *p, struct fnl_ppart *pp,
                                        struct fnl_pbatch *b, int16_t err, int64_t now_ms)
{
	struct fnl_pb_outcome o = {.action = FNL_PB_IGNORED, .err = err, .base_offset = -1};

	if (b->state != FNL_PB_INFLIGHT) {
		p->stats.ignored++;
		return o;
	}
	if (err == 0)
		err = FNL_KERR_NETWORK_EXCEPTION;
	o.err = err;
	pp->inflight--;
	p->stats.lost++;
	pp->quiet_at_ms = now_ms + p->cfg.request_timeout_ms;
	/* The broker may have stored it: the resend must carry the same sequence. A
	 * disconnect also suggests the leader may have moved. */
	o.refresh_metadata = true;
	retry_or_fail(p, pp, b, err, now_ms, false, &o);
	/* Even a batch given up here keeps the partition draining: its successors in flight
	 * must be answered before anything is resent after it. */
	pp->draining = true;
	return o;
}

void fnl_ppart_set_leader(struct fnl_ppart *pp, int32_t new_leader)
{
	if (pp->inflight == 0) {
		pp->leader = new_leader;
		pp->pending_leader = FNL_NO_LEADER;
		return;
	}
	if (new_leader == pp->leader && pp->pending_leader == FNL_NO_LEADER)
		return;
	pp->pending_leader = new_leader;
	pp->draining = true;
}

struct fnl_pbatch *fnl_ppart_pop_done(struct fnl_producer *p, struct fnl_ppart *pp, int64_t now_ms,
                                      int16_t *err, int64_t *base_offset)
{
	struct fnl_pbatch *b = pp->head;

	if (b == NULL || b->state == FNL_PB_INFLIGHT)
		return NULL;
	if (b->state != FNL_PB_DONE) {
		if (p->state == FNL_PRODUCER_FATAL) {
			finish(p, b, p->fatal_err, -1);
		} else if (expired(p, b, now_ms)) {
			finish(p, b, timeout_err(b), -1);
			p->stats.expired++;
		} else {
			return NULL;
		}
	}
	pp->head = b->next;
	if (pp->head == NULL)
		pp->tail = NULL;
	if (pp->send_next == b)
		pp->send_next = b->next;
	b->next = NULL;
	pp->queued--;
	*err = b->err;
	*base_offset = b->base_offset;
	return b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int64_t fnl_ppart_next_wakeup_ms(const struct fnl_producer *p, const struct fnl_ppart *pp)
{
	int64_t t = INT64_MAX;
	const struct fnl_pbatch *b;
	int n = 0;

	if (pp->head && pp->head->state != FNL_PB_INFLIGHT && pp->head->state != FNL_PB_DONE)
		t = pp->head->created_ms + p->cfg.delivery_timeout_ms;
	b = pp->send_next;
	if (b && !pp->draining && b->state == FNL_PB_RETRY)
		t = min64(t, b->retry_at_ms);
	if ((pp->rewrite || (b && b->base_seq < 0)) && pp->quiet_at_ms > 0)
		t = min64(t, pp->quiet_at_ms);
	/* In-flight batches are a bounded set near the head. */
	for (b = pp->head; b && n < pp->inflight; b = b->next) {
		if (b->state != FNL_PB_INFLIGHT)
			continue;
		t = min64(t, b->sent_ms + p->cfg.request_timeout_ms);
		n++;
	}
	return t;
}
