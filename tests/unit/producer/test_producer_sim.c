/* test_producer_sim.c - seeded random scenarios: a simulated engine drives
 * the producer state machine the way the core does, against simulated
 * brokers that check sequences like Kafka (per partition, per producer id:
 * epoch fencing, dedup of the last 5 batches, OUT_OF_ORDER on gaps,
 * UNKNOWN_PRODUCER_ID when the state is gone), over a network that delays
 * and reorders across connections, drops requests, drops responses after the
 * broker stored the batch, times out, disconnects and moves leaders.
 *
 * Asserted per seed: every batch comes out of pop_done exactly once, in
 * order per partition; an acknowledged batch is stored exactly once (at the
 * reported offset); no batch is stored twice; each partition's log is in
 * batch order; at most max_inflight requests per connection and batches per
 * partition; the module's in-flight count equals the simulator's; with
 * unlimited retries and no permanent errors nothing fails; everything
 * finishes once the chaos stops.
 *
 * Usage: test_producer_sim [seeds [first_seed]]; FNL_SIM_TRACE=1 prints events.
 */
#include <limits.h>

#include "check.h"
#include "dataplane/producer/producer.h"

#define MAXP   6
#define MAXBR  3
#define MAXB   240
#define MAXREQ 512
#define MAXPID 4
#define RECENT 5

struct sbatch {
	struct fnl_pbatch pb; /* first, like the core's batch */
	int id, part;
	bool too_large;
	int pops, stored;
	int16_t final_err;
	int64_t final_off, stored_off;
};

struct item {
	struct sbatch *b;
	uint32_t gen;
	int64_t pid;
	int16_t epoch;
	int32_t seq;
	int16_t err;
	int64_t off;
};

struct req {
	bool used, gone; /* gone: the client forgot it (connection lost) */
	int stage;       /* 0 travelling to the broker, 1 answer travelling back */
	int conn;
	uint64_t order;
	int64_t sent_ms, arrive_ms, resp_ms;
	int n;
	struct item it[MAXP];
};

struct pstate {
	int64_t pid;
	int16_t epoch;
	int32_t last_seq;
	int nrecent;
	struct {
		int32_t first, last;
		int64_t off;
	} recent[RECENT];
};

struct spart {
	int leader; /* broker truth */
	struct fnl_ppart pp;
	int log[8 * MAXB], nlog;
	int64_t next_off;
	struct pstate ps[MAXPID];
	int nps;
	int last_pop;
};

struct sconn {
	bool up;
	int64_t up_at, last_arrive, last_resp;
	int live; /* requests the client waits for */
};

struct sim {
	uint64_t rng, seed;
	bool trace;
	int np, nb, nbatches, created, popped;
	bool idem, unlimited;
	int acks;
	struct fnl_producer_cfg cfg;
	struct fnl_producer p;
	struct spart part[MAXP];
	struct sbatch b[MAXB];
	struct sconn conn[MAXBR];
	struct req req[MAXREQ];
	uint64_t order;
	int64_t now, chaos_end, last_create;
	/* per-mille chances per tick / per item */
	int p_create, p_break, p_err, p_after, p_move, p_loss, p_slow, p_toolarge, p_dup_ok;
	int64_t refresh_at, bump_at, pid_at, next_pid;
	int fenced_live, stale_answers;
};

static struct sim S;

#define TRACE(...)                                                                                 \
	do {                                                                                       \
		if (S.trace) {                                                                     \
			printf("%6lld ", (long long)S.now);                                        \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

static uint64_t rnd(void)
{
	S.rng ^= S.rng >> 12;
	S.rng ^= S.rng << 25;
	S.rng ^= S.rng >> 27;
	return S.rng * 0x2545F4914F6CDD1DULL;
}

static int64_t range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static bool chance(int per_mille)
{
	return (int)(rnd() % 1000) < per_mille;
}

static bool chaos(void)
{
	return S.now < S.chaos_end;
}

static void setup(uint64_t seed)
{
	memset(&S, 0, sizeof(S));
	S.seed = seed;
	S.rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	S.trace = getenv("FNL_SIM_TRACE") != NULL;
	S.np = (int)range(1, MAXP);
	S.nb = (int)range(1, MAXBR);
	S.nbatches = (int)range(10, MAXB);
	int mode = (int)(rnd() % 10);
	S.idem = mode != 0 && mode != 1;
	S.acks = S.idem ? -1 : (mode == 0 ? 0 : 1);
	S.cfg.idempotent = S.idem;
	S.cfg.acks = S.acks;
	S.cfg.max_inflight = (int)range(1, 5);
	S.unlimited = chance(700);
	S.cfg.retries = S.unlimited ? INT_MAX : (int)range(1, 4);
	S.cfg.retry_backoff_ms = range(0, 30);
	S.cfg.request_timeout_ms = range(100, 300);
	S.cfg.delivery_timeout_ms =
	    S.unlimited ? INT64_MAX / 4 : range(S.cfg.request_timeout_ms, 3000);
	S.p_create = (int)range(50, 600);
	S.p_break = chance(600) ? (int)range(1, 15) : 0;
	S.p_err = chance(600) ? (int)range(1, 100) : 0;
	S.p_after = chance(400) ? (int)range(1, 60) : 0;
	S.p_move = chance(500) ? (int)range(1, 15) : 0;
	S.p_slow = chance(300) ? (int)range(1, 20) : 0;
	S.p_toolarge = (!S.unlimited && chance(300)) ? (int)range(1, 50) : 0;
	S.p_dup_ok = (int)range(0, 1000);
	/* Producer-state loss makes a resend of a stored batch undetectable (as in Kafka), so it
	 * only runs on a network that never loses an answer. */
	if (S.idem && chance(250)) {
		S.p_break = S.p_after = S.p_slow = 0;
		S.p_loss = (int)range(1, 10);
	}
	char msg[160];
	CHECK_EQ(fnl_producer_cfg_check(&S.cfg, msg, sizeof(msg)), 0);
	fnl_producer_init(&S.p, &S.cfg);
	for (int i = 0; i < S.np; i++) {
		S.part[i].leader = (int)range(0, S.nb - 1);
		fnl_ppart_init(&S.part[i].pp, S.part[i].leader);
		S.part[i].last_pop = -1;
	}
	for (int i = 0; i < S.nb; i++)
		S.conn[i].up = true;
	S.refresh_at = S.bump_at = -1;
	S.pid_at = S.idem ? range(0, 20) : -1;
	S.next_pid = 1000;
	S.chaos_end = INT64_MAX;
}

/* ---- broker ---------------------------------------------------------------------------- */

static struct pstate *pstate_find(struct spart *sp, int64_t pid)
{
	for (int i = 0; i < sp->nps; i++)
		if (sp->ps[i].pid == pid)
			return &sp->ps[i];
	return NULL;
}

static struct pstate *pstate_new(struct spart *sp, int64_t pid, int16_t epoch)
{
	if (sp->nps == MAXPID) {
		memmove(&sp->ps[0], &sp->ps[1], sizeof(sp->ps[0]) * (MAXPID - 1));
		sp->nps--;
	}
	struct pstate *st = &sp->ps[sp->nps++];
	memset(st, 0, sizeof(*st));
	st->pid = pid;
	st->epoch = epoch;
	st->last_seq = -1;
	return st;
}

static void store(struct spart *sp, struct item *it)
{
	struct sbatch *b = it->b;

	it->off = sp->next_off;
	sp->next_off += b->pb.record_count;
	CHECK(sp->nlog < 8 * MAXB);
	sp->log[sp->nlog++] = b->id;
	b->stored++;
	b->stored_off = it->off;
	it->err = 0;
}

static void remember(struct pstate *st, const struct item *it)
{
	int32_t last = fnl_seq_add(it->seq, it->b->pb.record_count - 1);

	if (st->nrecent == RECENT) {
		memmove(&st->recent[0], &st->recent[1], sizeof(st->recent[0]) * (RECENT - 1));
		st->nrecent--;
	}
	st->recent[st->nrecent].first = it->seq;
	st->recent[st->nrecent].last = last;
	st->recent[st->nrecent].off = it->off;
	st->nrecent++;
	st->last_seq = last;
}

/* Sequence check like the partition leader's producer state. Returns true if stored. */
static void broker_idempotent(struct spart *sp, struct item *it)
{
	struct pstate *st = pstate_find(sp, it->pid);

	if (st == NULL) {
		if (it->seq != 0) {
			it->err = FNL_KERR_UNKNOWN_PRODUCER_ID;
			return;
		}
		st = pstate_new(sp, it->pid, it->epoch);
	} else if (it->epoch < st->epoch) {
		it->err = FNL_KERR_INVALID_PRODUCER_EPOCH;
		return;
	} else if (it->epoch > st->epoch) {
		if (it->seq != 0) {
			it->err = FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
			return;
		}
		st->epoch = it->epoch;
		st->nrecent = 0;
		st->last_seq = -1;
	} else {
		int32_t last = fnl_seq_add(it->seq, it->b->pb.record_count - 1);
		for (int i = 0; i < st->nrecent; i++) {
			if (st->recent[i].first != it->seq || st->recent[i].last != last)
				continue;
			/* Newer brokers answer success with the original offset. */
			if (chance(S.p_dup_ok)) {
				it->err = 0;
				it->off = st->recent[i].off;
			} else {
				it->err = FNL_KERR_DUPLICATE_SEQUENCE_NUMBER;
				it->off = -1;
			}
			return;
		}
		if (it->seq != fnl_seq_add(st->last_seq, 1)) {
			it->err = FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
			return;
		}
	}
	store(sp, it);
	remember(st, it);
}

static void broker_item(int broker, struct item *it, bool live)
{
	struct spart *sp = &S.part[it->b->part];

	it->off = -1;
	if (sp->leader != broker) {
		it->err = FNL_KERR_NOT_LEADER_OR_FOLLOWER;
		return;
	}
	if (chaos() && chance(S.p_err)) {
		static const int16_t pre[] = {
		    FNL_KERR_NOT_ENOUGH_REPLICAS, FNL_KERR_KAFKA_STORAGE_ERROR,
		    FNL_KERR_LEADER_NOT_AVAILABLE, FNL_KERR_CORRUPT_MESSAGE};
		it->err = pre[rnd() % 4];
		return;
	}
	if (it->b->too_large) {
		it->err = FNL_KERR_MESSAGE_TOO_LARGE;
		return;
	}
	if (S.idem)
		broker_idempotent(sp, it);
	else
		store(sp, it);
	if (it->err == FNL_KERR_INVALID_PRODUCER_EPOCH && live)
		S.fenced_live++;
	if (it->err == 0 && chaos() && chance(S.p_after))
		it->err = chance(500) ? FNL_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND
		                      : FNL_KERR_REQUEST_TIMED_OUT;
}

static int64_t delay(void)
{
	int64_t d = range(0, 20);
	if (chaos() && chance(S.p_slow))
		d += S.cfg.request_timeout_ms + range(0, 100);
	return d;
}

static struct req *next_due(int stage)
{
	struct req *best = NULL;
	for (int i = 0; i < MAXREQ; i++) {
		struct req *r = &S.req[i];
		int64_t t = stage == 0 ? r->arrive_ms : r->resp_ms;
		if (!r->used || r->stage != stage || t > S.now)
			continue;
		int64_t bt = best ? (stage == 0 ? best->arrive_ms : best->resp_ms) : 0;
		if (!best || t < bt || (t == bt && r->order < best->order))
			best = r;
	}
	return best;
}

static void broker_step(void)
{
	struct req *r;

	while ((r = next_due(0)) != NULL) {
		for (int i = 0; i < r->n; i++)
			broker_item(r->conn, &r->it[i], !r->gone);
		TRACE("broker %d handles req %llu (%d items)%s", r->conn,
		      (unsigned long long)r->order, r->n, r->gone ? " [orphan]" : "");
		if (r->gone || S.acks == 0) {
			r->used = false;
			continue;
		}
		struct sconn *c = &S.conn[r->conn];
		r->stage = 1;
		r->resp_ms = S.now + delay();
		if (r->resp_ms < c->last_resp)
			r->resp_ms = c->last_resp;
		c->last_resp = r->resp_ms;
	}
}

/* ---- client (the engine the core would be) ---------------------------------------------- */

static void outcome(const struct fnl_pb_outcome *o)
{
	if (o->refresh_metadata && S.refresh_at < 0)
		S.refresh_at = S.now + range(1, 40);
	if (o->bump_epoch) {
		CHECK(S.idem);
		CHECK(S.bump_at < 0);
		S.bump_at = S.now + range(0, 30);
	}
}

static void answer(struct req *r)
{
	struct sconn *c = &S.conn[r->conn];

	c->live--;
	for (int i = 0; i < r->n; i++) {
		struct item *it = &r->it[i];
		struct sbatch *b = it->b;
		if (b->pb.request_gen != it->gen) {
			S.stale_answers++;
			continue;
		}
		struct fnl_pb_outcome o = fnl_ppart_on_response(&S.p, &S.part[b->part].pp, &b->pb,
		                                                it->err, it->off, S.now);
		TRACE("  b%d p%d seq %d e%d: err %d -> action %d%s", b->id, b->part, it->seq,
		      it->epoch, it->err, o.action, o.bump_epoch ? " BUMP" : "");
		CHECK(o.action != FNL_PB_IGNORED);
		CHECK(o.action != FNL_PB_FATAL);
		outcome(&o);
	}
	r->used = false;
}

static void client_answers(void)
{
	struct req *r;

	while ((r = next_due(1)) != NULL) {
		TRACE("answer for req %llu on conn %d", (unsigned long long)r->order, r->conn);
		answer(r);
	}
}

/* The connection is gone: the client loses every request on it; requests still travelling
 * may or may not reach the broker; answers travelling back are lost. */
static void break_conn(int ci, struct req *timed_out)
{
	struct sconn *c = &S.conn[ci];

	TRACE("conn %d breaks%s", ci, timed_out ? " (request timeout)" : "");
	for (int i = 0; i < MAXREQ; i++) {
		struct req *r = &S.req[i];
		if (!r->used || r->conn != ci || r->gone)
			continue;
		int16_t err =
		    r == timed_out ? FNL_KERR_REQUEST_TIMED_OUT : FNL_KERR_NETWORK_EXCEPTION;
		for (int k = 0; k < r->n; k++) {
			struct sbatch *b = r->it[k].b;
			if (b->pb.request_gen != r->it[k].gen)
				continue;
			struct fnl_pb_outcome o =
			    fnl_ppart_on_lost(&S.p, &S.part[b->part].pp, &b->pb, err, S.now);
			CHECK(o.action == FNL_PB_WILL_RETRY || o.action == FNL_PB_FAILED);
			outcome(&o);
		}
		c->live--;
		r->gone = true;
		/* An orphan reaches the broker within request.timeout.ms of the loss, or never. */
		if (r->stage == 1 || chance(500) ||
		    r->arrive_ms >= S.now + S.cfg.request_timeout_ms)
			r->used = false;
	}
	CHECK_EQ(c->live, 0);
	c->up = false;
	c->up_at = S.now + range(1, 50);
	c->last_resp = 0;
}

static void client_timeouts(void)
{
	for (int i = 0; i < MAXREQ; i++) {
		struct req *r = &S.req[i];
		if (r->used && !r->gone && S.now - r->sent_ms >= S.cfg.request_timeout_ms)
			break_conn(r->conn, r);
	}
}

static struct req *req_alloc(void)
{
	for (int i = 0; i < MAXREQ; i++)
		if (!S.req[i].used) {
			memset(&S.req[i], 0, sizeof(S.req[i]));
			S.req[i].used = true;
			return &S.req[i];
		}
	CHECK(!"request table full");
	return NULL;
}

static void send_conn(int ci)
{
	struct sconn *c = &S.conn[ci];
	struct req *r = NULL;
	int start = (int)(rnd() % (uint64_t)S.np);

	if (!c->up || c->live >= S.cfg.max_inflight)
		return;
	for (int k = 0; k < S.np; k++) {
		int pi = (start + k) % S.np;
		struct fnl_ppart *pp = &S.part[pi].pp;
		struct fnl_pbatch *pb = fnl_ppart_next_send(&S.p, pp, S.now);
		if (pb == NULL || pp->leader != ci)
			continue;
		struct sbatch *b = (struct sbatch *)pb;
		if (r == NULL)
			r = req_alloc();
		fnl_ppart_on_sent(&S.p, pp, pb, S.now);
		CHECK(pp->inflight <= S.cfg.max_inflight);
		struct item *it = &r->it[r->n++];
		it->b = b;
		it->gen = pb->request_gen;
		it->pid = pb->pid;
		it->epoch = pb->epoch;
		it->seq = pb->base_seq;
		if (S.idem)
			CHECK(it->seq >= 0 && it->pid >= 0 && it->epoch >= 0);
		else
			CHECK(it->seq == -1);
		TRACE("send b%d p%d seq %d e%d pid %lld -> broker %d (attempt %d)", b->id, pi,
		      it->seq, it->epoch, (long long)it->pid, ci, pb->attempts);
	}
	if (r == NULL)
		return;
	r->conn = ci;
	r->order = ++S.order;
	r->sent_ms = S.now;
	r->arrive_ms = S.now + delay();
	if (r->arrive_ms < c->last_arrive)
		r->arrive_ms = c->last_arrive;
	c->last_arrive = r->arrive_ms;
	if (S.acks != 0)
		c->live++;
	else
		r->gone = true; /* no answer will come; the broker still stores it */
	CHECK(c->live <= S.cfg.max_inflight);
	CHECK(c->live <= FNL_PRODUCER_MAX_INFLIGHT_IDEMPOTENT || !S.idem);
}

static void client_pops(void)
{
	for (int pi = 0; pi < S.np; pi++) {
		struct spart *sp = &S.part[pi];
		struct fnl_pbatch *pb;
		int16_t err;
		int64_t off;
		while ((pb = fnl_ppart_pop_done(&S.p, &sp->pp, S.now, &err, &off)) != NULL) {
			struct sbatch *b = (struct sbatch *)pb;
			CHECK_EQ(b->part, pi);
			CHECK(b->id > sp->last_pop);
			sp->last_pop = b->id;
			b->pops++;
			b->final_err = err;
			b->final_off = off;
			S.popped++;
			TRACE("pop b%d p%d err %d off %lld", b->id, pi, err, (long long)off);
		}
	}
}

static void create_batches(void)
{
	while (S.created < S.nbatches && chance(S.p_create)) {
		struct sbatch *b = &S.b[S.created];
		b->id = S.created++;
		b->part = (int)(rnd() % (uint64_t)S.np);
		b->too_large = chance(S.p_toolarge);
		b->pb.record_count = (int32_t)range(1, 5);
		b->pb.created_ms = S.now;
		fnl_ppart_enqueue(&S.part[b->part].pp, &b->pb, S.now);
		S.last_create = S.now;
		if (S.created == S.nbatches)
			S.chaos_end = S.now + range(0, 2000);
	}
}

static void chaos_step(void)
{
	if (!chaos())
		return;
	for (int ci = 0; ci < S.nb; ci++)
		if (S.conn[ci].up && chance(S.p_break))
			break_conn(ci, NULL);
	if (chance(S.p_move)) {
		int pi = (int)(rnd() % (uint64_t)S.np);
		S.part[pi].leader = (int)(rnd() % (uint64_t)S.nb);
		TRACE("p%d leader moves to %d", pi, S.part[pi].leader);
		if (chance(500))
			fnl_ppart_set_leader(&S.part[pi].pp, S.part[pi].leader);
	}
	if (chance(S.p_loss)) {
		int pi = (int)(rnd() % (uint64_t)S.np);
		TRACE("p%d loses producer state", pi);
		S.part[pi].nps = 0;
	}
}

static void control_step(void)
{
	for (int ci = 0; ci < S.nb; ci++)
		if (!S.conn[ci].up && S.now >= S.conn[ci].up_at) {
			S.conn[ci].up = true;
			S.conn[ci].last_arrive = 0;
		}
	if (S.refresh_at >= 0 && S.now >= S.refresh_at) {
		S.refresh_at = -1;
		for (int pi = 0; pi < S.np; pi++)
			fnl_ppart_set_leader(&S.part[pi].pp, S.part[pi].leader);
	}
	if (S.bump_at >= 0 && S.now >= S.bump_at) {
		S.bump_at = -1;
		CHECK_EQ(S.p.state, FNL_PRODUCER_BUMPING);
		if (chance(500)) {
			if (fnl_producer_bump_epoch(&S.p, S.now) == 1)
				S.pid_at = S.now + range(1, 30);
		} else if (S.p.epoch < INT16_MAX) { /* InitProducerId with the current pid */
			fnl_producer_set_pid(&S.p, S.p.pid, (int16_t)(S.p.epoch + 1), S.now);
		} else {
			S.pid_at = S.now + range(1, 30);
		}
		TRACE("epoch bump -> pid %lld epoch %d", (long long)S.p.pid, S.p.epoch);
	}
	if (S.pid_at >= 0 && S.now >= S.pid_at) {
		S.pid_at = -1;
		int16_t epoch = chance(200) ? (int16_t)(INT16_MAX - range(0, 2)) : 0;
		fnl_producer_set_pid(&S.p, S.next_pid++, epoch, S.now);
		TRACE("pid %lld epoch %d", (long long)S.p.pid, epoch);
	}
}

static void check_inflight_accounting(void)
{
	int n[MAXP] = {0};
	for (int i = 0; i < MAXREQ; i++) {
		struct req *r = &S.req[i];
		if (!r->used || r->gone)
			continue;
		for (int k = 0; k < r->n; k++)
			if (r->it[k].b->pb.request_gen == r->it[k].gen)
				n[r->it[k].b->part]++;
	}
	for (int pi = 0; pi < S.np; pi++) {
		CHECK_EQ(S.part[pi].pp.inflight, n[pi]);
		CHECK(n[pi] <= S.cfg.max_inflight);
	}
}

static void final_checks(void)
{
	for (int i = 0; i < S.nbatches; i++) {
		struct sbatch *b = &S.b[i];
		if (b->pops != 1 || (S.idem && b->stored > 1) ||
		    (b->final_err == 0 && S.acks != 0 && b->stored < 1))
			fprintf(stderr, "seed %llu: b%d p%d pops %d stored %d err %d\n",
			        (unsigned long long)S.seed, b->id, b->part, b->pops, b->stored,
			        b->final_err);
		CHECK_EQ(b->pops, 1);
		if (S.acks != 0 && b->final_err == 0)
			CHECK(b->stored >= 1);
		if (!S.idem)
			continue;
		CHECK(b->stored <= 1);
		if (b->final_err == 0) {
			CHECK_EQ(b->stored, 1);
			if (b->final_off != -1)
				CHECK_EQ(b->final_off, b->stored_off);
		}
		if (b->too_large)
			CHECK_EQ(b->stored, 0);
		if (S.unlimited && S.p_toolarge == 0)
			CHECK_EQ(b->final_err, 0);
	}
	if (!S.idem)
		return;
	for (int pi = 0; pi < S.np; pi++)
		for (int k = 1; k < S.part[pi].nlog; k++)
			CHECK(S.part[pi].log[k] > S.part[pi].log[k - 1]);
	CHECK_EQ(S.fenced_live, 0);
}

static void run(uint64_t seed)
{
	setup(seed);
	for (;;) {
		S.now += range(0, 3);
		control_step();
		create_batches();
		broker_step();
		client_answers();
		client_timeouts();
		chaos_step();
		for (int ci = 0; ci < S.nb; ci++)
			send_conn(ci);
		client_pops();
		check_inflight_accounting();
		if (S.popped == S.nbatches && S.created == S.nbatches)
			break;
		if (S.created == S.nbatches && S.now > S.chaos_end + 60000) {
			fprintf(stderr, "seed %llu: stuck, %d/%d popped, state %d\n",
			        (unsigned long long)seed, S.popped, S.nbatches, S.p.state);
			for (int pi = 0; pi < S.np; pi++) {
				struct fnl_ppart *pp = &S.part[pi].pp;
				fprintf(stderr,
				        "  p%d inflight %d draining %d rewrite %d leader %d\n", pi,
				        pp->inflight, pp->draining, pp->rewrite, pp->leader);
			}
			CHECK(!"scenario did not finish");
		}
	}
	final_checks();
}

int main(int argc, char **argv)
{
	uint64_t seeds = argc > 1 ? strtoull(argv[1], NULL, 0) : 3000;
	uint64_t first = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	uint64_t bumps = 0, retries = 0, rewrites = 0, dups = 0, failed = 0, stale = 0;

	for (uint64_t s = first; s < first + seeds; s++) {
		run(s);
		bumps += S.p.stats.epoch_bumps;
		retries += S.p.stats.retries;
		rewrites += S.p.stats.rewrites;
		dups += S.p.stats.duplicates;
		failed += S.p.stats.failed;
		stale += (uint64_t)S.stale_answers;
	}
	printf("sim: %llu seeds ok; retries %llu, duplicates %llu, epoch bumps %llu, rewrites "
	       "%llu, failed %llu, stale answers %llu\n",
	       (unsigned long long)seeds, (unsigned long long)retries, (unsigned long long)dups,
	       (unsigned long long)bumps, (unsigned long long)rewrites, (unsigned long long)failed,
	       (unsigned long long)stale);
	return 0;
}
