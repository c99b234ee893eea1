/* test_producer_cases.c - hand-written scenarios for the producer state
 * machine: sequencing, in-flight cap, retry in order, lost responses,
 * leader change, KIP-360 epoch bump, delivery timeout, acks=0, fatal errors,
 * config validation.
 */
#include <errno.h>
#include <limits.h>

#include "check.h"
#include "dataplane/producer/producer.h"

#define NB 16

static struct fnl_pbatch bs[NB];
static struct fnl_producer P;

static struct fnl_producer_cfg cfg_default(void)
{
	struct fnl_producer_cfg c = {
	    .idempotent = true,
	    .acks = -1,
	    .max_inflight = 5,
	    .retries = INT_MAX,
	    .retry_backoff_ms = 100,
	    .delivery_timeout_ms = 120000,
	    .request_timeout_ms = 30000,
	};
	return c;
}

static void setup(const struct fnl_producer_cfg *c)
{
	memset(bs, 0, sizeof(bs));
	fnl_producer_init(&P, c);
	if (c->idempotent)
		fnl_producer_set_pid(&P, 4242, 0, 0);
}

static struct fnl_pbatch *enq(struct fnl_ppart *pp, int i, int32_t count, int64_t now)
{
	bs[i].record_count = count;
	bs[i].created_ms = now;
	fnl_ppart_enqueue(pp, &bs[i], now);
	return &bs[i];
}

/* next_send must return exactly `want`; then on_sent. */
static void send(struct fnl_ppart *pp, struct fnl_pbatch *want, int64_t now)
{
	struct fnl_pbatch *b = fnl_ppart_next_send(&P, pp, now);
	CHECK(b == want);
	fnl_ppart_on_sent(&P, pp, b, now);
}

static struct fnl_pb_outcome resp(struct fnl_ppart *pp, struct fnl_pbatch *b, int16_t err,
                                  int64_t off, int64_t now)
{
	return fnl_ppart_on_response(&P, pp, b, err, off, now);
}

static void expect_pop(struct fnl_ppart *pp, struct fnl_pbatch *want, int16_t want_err,
                       int64_t want_off, int64_t now)
{
	int16_t err = -2;
	int64_t off = -2;
	struct fnl_pbatch *b = fnl_ppart_pop_done(&P, pp, now, &err, &off);
	CHECK(b == want);
	CHECK_EQ(err, want_err);
	CHECK_EQ(off, want_off);
}

static void expect_no_pop(struct fnl_ppart *pp, int64_t now)
{
	int16_t err;
	int64_t off;
	CHECK(fnl_ppart_pop_done(&P, pp, now, &err, &off) == NULL);
}

static void test_cfg_check(void)
{
	char msg[200];
	struct fnl_producer_cfg c = cfg_default();

	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), 0);
	CHECK_EQ(msg[0], '\0');
	c.acks = 1;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strcmp(msg, "enable.idempotence=true requires acks=all (got acks=1)") == 0);
	c.acks = 0;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strcmp(msg, "enable.idempotence=true requires acks=all (got acks=0)") == 0);
	c = cfg_default();
	c.max_inflight = 6;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strcmp(msg, "enable.idempotence=true requires max.in.flight.requests.per.connection "
	                  "<= 5 (got 6)") == 0);
	c = cfg_default();
	c.retries = 0;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strcmp(msg, "enable.idempotence=true requires retries > 0 (got retries=0)") == 0);
	c = cfg_default();
	c.acks = 2;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "acks=2") != NULL);
	c = cfg_default();
	c.delivery_timeout_ms = 1000;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "delivery.timeout.ms") != NULL);
	/* Non-idempotent: acks=1, 10 in flight, no retries are all fine. */
	c = cfg_default();
	c.idempotent = false;
	c.acks = 1;
	c.max_inflight = 10;
	c.retries = 0;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, sizeof(msg)), 0);
	/* Truncation is safe, NULL message allowed. */
	c = cfg_default();
	c.acks = 1;
	CHECK_EQ(fnl_producer_cfg_check(&c, msg, 8), -EINVAL);
	CHECK_EQ(strlen(msg), 7);
	CHECK_EQ(fnl_producer_cfg_check(&c, NULL, 0), -EINVAL);
}

static void test_sequences(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	CHECK_EQ(fnl_seq_add(INT32_MAX, 1), 0);
	CHECK_EQ(fnl_seq_add(INT32_MAX - 2, 5), 2);
	CHECK_EQ(fnl_seq_add(7, 3), 10);

	fnl_producer_init(&P, &c);
	CHECK_EQ(P.state, FNL_PRODUCER_NEED_PID);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 10, 0);
	CHECK(fnl_ppart_next_send(&P, &pp, 0) == NULL); /* no pid yet */
	fnl_producer_set_pid(&P, 4242, 3, 0);
	enq(&pp, 1, 5, 0);
	enq(&pp, 2, 7, 0);
	send(&pp, &bs[0], 1);
	send(&pp, &bs[1], 1);
	send(&pp, &bs[2], 1);
	CHECK(fnl_ppart_next_send(&P, &pp, 1) == NULL);
	CHECK_EQ(bs[0].base_seq, 0);
	CHECK_EQ(bs[1].base_seq, 10);
	CHECK_EQ(bs[2].base_seq, 15);
	CHECK_EQ(pp.next_seq, 22);
	CHECK_EQ(bs[2].epoch, 3);
	CHECK_EQ(bs[2].pid, 4242);
	CHECK_EQ(pp.inflight, 3);
	CHECK(bs[0].request_gen != 0 && bs[1].request_gen != bs[0].request_gen);
	/* Answers out of order still report in order. */
	CHECK_EQ(resp(&pp, &bs[1], 0, 110, 2).action, FNL_PB_ACKED);
	expect_no_pop(&pp, 2);
	CHECK_EQ(resp(&pp, &bs[0], 0, 100, 2).action, FNL_PB_ACKED);
	expect_pop(&pp, &bs[0], 0, 100, 2);
	expect_pop(&pp, &bs[1], 0, 110, 2);
	expect_no_pop(&pp, 2);
	CHECK_EQ(resp(&pp, &bs[2], 0, 115, 2).action, FNL_PB_ACKED);
	expect_pop(&pp, &bs[2], 0, 115, 2);
	CHECK(pp.head == NULL && pp.tail == NULL && pp.queued == 0);

	/* Wrap: the next batch starts just below INT32_MAX. */
	pp.next_seq = INT32_MAX - 2;
	enq(&pp, 3, 5, 3);
	send(&pp, &bs[3], 3);
	CHECK_EQ(bs[3].base_seq, INT32_MAX - 2);
	CHECK_EQ(pp.next_seq, 2);
}

static void test_inflight_cap(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	for (int i = 0; i < 7; i++)
		enq(&pp, i, 1, 0);
	for (int i = 0; i < 5; i++)
		send(&pp, &bs[i], 0);
	CHECK(fnl_ppart_next_send(&P, &pp, 0) == NULL);
	CHECK_EQ(pp.inflight, 5);
	resp(&pp, &bs[0], 0, 0, 1);
	send(&pp, &bs[5], 1);
	CHECK(fnl_ppart_next_send(&P, &pp, 1) == NULL);
}

/* A response is lost after the broker stored the batch: resent with the same sequence, the
 * broker answers DUPLICATE_SEQUENCE_NUMBER, the batch is acknowledged once. */
static void test_lost_then_duplicate(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;
	struct fnl_pb_outcome o;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 3, 0);
	send(&pp, &bs[0], 0);
	uint32_t gen1 = bs[0].request_gen;
	o = fnl_ppart_on_lost(&P, &pp, &bs[0], FNL_KERR_NETWORK_EXCEPTION, 10);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	CHECK(o.refresh_metadata);
	CHECK(fnl_ppart_next_send(&P, &pp, 50) == NULL); /* backoff */
	CHECK_EQ(fnl_ppart_next_wakeup_ms(&P, &pp), 110);
	send(&pp, &bs[0], 110);
	CHECK_EQ(bs[0].base_seq, 0);
	CHECK_EQ(bs[0].attempts, 2);
	CHECK(bs[0].request_gen != gen1);
	/* A second loss report for the old attempt is ignored (not in flight any more... it is in
	 * flight again, so the caller's gen check is what protects it; simulate the caller). */
	CHECK(bs[0].request_gen != gen1);
	o = resp(&pp, &bs[0], FNL_KERR_DUPLICATE_SEQUENCE_NUMBER, -1, 120);
	CHECK_EQ(o.action, FNL_PB_ACKED);
	CHECK_EQ(o.err, 0);
	expect_pop(&pp, &bs[0], 0, -1, 120);
	/* Anything further about it is ignored. */
	CHECK_EQ(resp(&pp, &bs[0], 0, 5, 121).action, FNL_PB_IGNORED);
	CHECK_EQ(fnl_ppart_on_lost(&P, &pp, &bs[0], 7, 121).action, FNL_PB_IGNORED);
	CHECK_EQ(P.stats.acked, 1);
	CHECK_EQ(P.stats.duplicates, 1);
}

/* b0 fails retriably with b1..b4 in flight: they come back OUT_OF_ORDER (expected, no bump),
 * nothing new goes out until all answered, then b0..b4 go again with the same sequences. */
static void test_retry_in_order(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;
	struct fnl_pb_outcome o;
	int32_t seq[5];

	setup(&c);
	fnl_ppart_init(&pp, 1);
	for (int i = 0; i < 6; i++)
		enq(&pp, i, 2, 0);
	for (int i = 0; i < 5; i++) {
		send(&pp, &bs[i], 0);
		seq[i] = bs[i].base_seq;
	}
	o = resp(&pp, &bs[0], FNL_KERR_NOT_ENOUGH_REPLICAS, -1, 5);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	CHECK(!o.bump_epoch);
	CHECK(pp.draining);
	CHECK(fnl_ppart_next_send(&P, &pp, 500) == NULL);
	for (int i = 1; i < 5; i++) {
		o = resp(&pp, &bs[i], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 6);
		CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
		CHECK(!o.bump_epoch);
		if (i < 4)
			CHECK(fnl_ppart_next_send(&P, &pp, 500) == NULL);
	}
	CHECK_EQ(P.state, FNL_PRODUCER_READY);
	for (int i = 0; i < 5; i++) {
		send(&pp, &bs[i], 500);
		CHECK_EQ(bs[i].base_seq, seq[i]);
		CHECK_EQ(bs[i].flags & FNL_PBF_REWRITTEN, 0);
	}
	CHECK(fnl_ppart_next_send(&P, &pp, 500) == NULL); /* cap */
	for (int i = 0; i < 5; i++)
		CHECK_EQ(resp(&pp, &bs[i], 0, 100 + i, 501).action, FNL_PB_ACKED);
	send(&pp, &bs[5], 502);
	CHECK_EQ(bs[5].base_seq, 10);
	for (int i = 0; i < 5; i++)
		expect_pop(&pp, &bs[i], 0, 100 + i, 502);
	/* OUT_OF_ORDER retries did not count against retries. */
	CHECK_EQ(bs[1].attempts, 2);
}

static void test_leader_change(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	for (int i = 0; i < 3; i++)
		enq(&pp, i, 1, 0);
	send(&pp, &bs[0], 0);
	send(&pp, &bs[1], 0);
	fnl_ppart_set_leader(&pp, 2);
	CHECK_EQ(pp.leader, 1);
	CHECK_EQ(pp.pending_leader, 2);
	CHECK(fnl_ppart_next_send(&P, &pp, 1) == NULL);
	CHECK_EQ(resp(&pp, &bs[0], 0, 7, 2).action, FNL_PB_ACKED);
	CHECK(fnl_ppart_next_send(&P, &pp, 2) == NULL);
	CHECK_EQ(resp(&pp, &bs[1], FNL_KERR_NOT_LEADER_OR_FOLLOWER, -1, 3).action,
	         FNL_PB_WILL_RETRY);
	send(&pp, &bs[1], 200);
	CHECK_EQ(pp.leader, 2);
	CHECK_EQ(bs[1].base_seq, 1);
	send(&pp, &bs[2], 200);
	CHECK_EQ(bs[2].base_seq, 2);
	/* Without anything in flight the switch is immediate. */
	resp(&pp, &bs[1], 0, 8, 201);
	resp(&pp, &bs[2], 0, 9, 201);
	fnl_ppart_set_leader(&pp, 3);
	CHECK_EQ(pp.leader, 3);
	CHECK(!pp.draining);
}

/* UNKNOWN_PRODUCER_ID on the first unresolved batch: bump, resequence from 0 under the new
 * epoch; other partitions switch lazily once their in-flight batches are answered. */
static void test_unknown_pid_bump(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp, q;
	struct fnl_pb_outcome o;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	fnl_ppart_init(&q, 2);
	for (int i = 0; i < 4; i++)
		enq(&pp, i, 3, 0);
	enq(&q, 10, 4, 0);
	enq(&q, 11, 4, 0);
	for (int i = 0; i < 4; i++)
		send(&pp, &bs[i], 0);
	send(&q, &bs[10], 0);
	CHECK_EQ(resp(&pp, &bs[0], 0, 50, 1).action, FNL_PB_ACKED);
	o = resp(&pp, &bs[1], FNL_KERR_UNKNOWN_PRODUCER_ID, -1, 1);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	CHECK(o.bump_epoch);
	CHECK_EQ(P.state, FNL_PRODUCER_BUMPING);
	o = resp(&pp, &bs[2], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 1);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	CHECK(!o.bump_epoch);
	o = resp(&pp, &bs[3], FNL_KERR_UNKNOWN_PRODUCER_ID, -1, 1);
	CHECK(!o.bump_epoch);
	/* Waiting for the bump; q cannot sequence a fresh batch either. */
	CHECK(fnl_ppart_next_send(&P, &pp, 500) == NULL);
	CHECK(fnl_ppart_next_send(&P, &q, 500) == NULL);
	CHECK_EQ(fnl_producer_bump_epoch(&P, 500), 0);
	CHECK_EQ(P.epoch, 1);
	CHECK_EQ(P.state, FNL_PRODUCER_READY);
	send(&pp, &bs[1], 500);
	CHECK_EQ(bs[1].epoch, 1);
	CHECK_EQ(bs[1].base_seq, 0);
	CHECK(bs[1].flags & FNL_PBF_REWRITTEN);
	send(&pp, &bs[2], 500);
	CHECK_EQ(bs[2].base_seq, 3);
	send(&pp, &bs[3], 500);
	CHECK_EQ(bs[3].base_seq, 6);
	CHECK_EQ(pp.next_seq, 9);
	CHECK_EQ(bs[0].epoch, 0); /* acknowledged ones untouched */
	/* q: bs[10] still in flight under epoch 0, so bs[11] waits. */
	CHECK(fnl_ppart_next_send(&P, &q, 500) == NULL);
	CHECK_EQ(resp(&q, &bs[10], 0, 70, 501).action, FNL_PB_ACKED);
	send(&q, &bs[11], 501);
	CHECK_EQ(bs[11].epoch, 1);
	CHECK_EQ(bs[11].base_seq, 0);
	CHECK_EQ(bs[11].flags & FNL_PBF_REWRITTEN, 0);
	CHECK_EQ(P.stats.epoch_bumps, 1);
}

/* A non-retriable failure leaves a gap: the successor's OUT_OF_ORDER then bumps the epoch. */
static void test_fail_then_gap(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;
	struct fnl_pb_outcome o;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 1, 0);
	enq(&pp, 1, 1, 0);
	send(&pp, &bs[0], 0);
	send(&pp, &bs[1], 0);
	o = resp(&pp, &bs[0], FNL_KERR_MESSAGE_TOO_LARGE, -1, 1);
	CHECK_EQ(o.action, FNL_PB_FAILED);
	expect_pop(&pp, &bs[0], FNL_KERR_MESSAGE_TOO_LARGE, -1, 1);
	o = resp(&pp, &bs[1], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 1);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	CHECK(o.bump_epoch);
	fnl_producer_bump_epoch(&P, 2);
	send(&pp, &bs[1], 200);
	CHECK_EQ(bs[1].base_seq, 0);
	CHECK_EQ(bs[1].epoch, 1);
}

static void test_delivery_timeout(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;
	struct fnl_pb_outcome o;

	c.delivery_timeout_ms = 1000;
	c.request_timeout_ms = 300;
	setup(&c);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 1, 0);
	enq(&pp, 1, 1, 100);
	enq(&pp, 2, 1, 900);
	send(&pp, &bs[0], 0);
	CHECK(fnl_pbatch_request_expired(&P, &bs[0], 300));
	CHECK_EQ(fnl_ppart_next_wakeup_ms(&P, &pp), 300);
	o = fnl_ppart_on_lost(&P, &pp, &bs[0], FNL_KERR_REQUEST_TIMED_OUT, 300);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	send(&pp, &bs[0], 400);
	/* In flight: never expired, even past the deadline. */
	expect_no_pop(&pp, 1200);
	o = fnl_ppart_on_lost(&P, &pp, &bs[0], FNL_KERR_NETWORK_EXCEPTION, 1200);
	CHECK_EQ(o.action, FNL_PB_FAILED);
	CHECK_EQ(o.err, FNL_KERR_NETWORK_EXCEPTION);
	expect_pop(&pp, &bs[0], FNL_KERR_NETWORK_EXCEPTION, -1, 1200);
	/* Never sent and expired: REQUEST_TIMED_OUT, via next_send or pop_done. */
	CHECK(fnl_ppart_next_send(&P, &pp, 1200) == &bs[2]);
	expect_pop(&pp, &bs[1], FNL_KERR_REQUEST_TIMED_OUT, -1, 1200);
	expect_no_pop(&pp, 1200);
	expect_pop(&pp, &bs[2], FNL_KERR_REQUEST_TIMED_OUT, -1, 1900);
	CHECK(pp.head == NULL);

	/* Retries exhausted. */
	c = cfg_default();
	c.retries = 2;
	setup(&c);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 1, 0);
	int64_t t = 0;
	for (int i = 0; i < 3; i++) {
		send(&pp, &bs[0], t);
		o = resp(&pp, &bs[0], FNL_KERR_REQUEST_TIMED_OUT, -1, t);
		t += 200;
		CHECK_EQ(o.action, i < 2 ? FNL_PB_WILL_RETRY : FNL_PB_FAILED);
	}
	expect_pop(&pp, &bs[0], FNL_KERR_REQUEST_TIMED_OUT, -1, t);
}

static void test_acks0(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	c.idempotent = false;
	c.acks = 0;
	setup(&c);
	CHECK_EQ(P.state, FNL_PRODUCER_READY);
	fnl_ppart_init(&pp, 1);
	for (int i = 0; i < 8; i++)
		enq(&pp, i, 1, 0);
	for (int i = 0; i < 8; i++) {
		send(&pp, &bs[i], 0);
		CHECK_EQ(bs[i].base_seq, -1);
		CHECK_EQ(bs[i].state, FNL_PB_DONE);
	}
	CHECK_EQ(pp.inflight, 0);
	/* An answer the broker sends anyway is ignored. */
	CHECK_EQ(resp(&pp, &bs[3], FNL_KERR_NOT_LEADER_OR_FOLLOWER, -1, 1).action, FNL_PB_IGNORED);
	for (int i = 0; i < 8; i++)
		expect_pop(&pp, &bs[i], 0, -1, 1);
}

static void test_non_idempotent(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	c.idempotent = false;
	c.acks = 1;
	c.retries = 1;
	setup(&c);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 1, 0);
	enq(&pp, 1, 1, 0);
	send(&pp, &bs[0], 0);
	send(&pp, &bs[1], 0);
	CHECK_EQ(bs[0].base_seq, -1);
	CHECK_EQ(resp(&pp, &bs[0], FNL_KERR_DUPLICATE_SEQUENCE_NUMBER, -1, 1).action,
	         FNL_PB_FAILED);
	CHECK_EQ(resp(&pp, &bs[1], FNL_KERR_NOT_ENOUGH_REPLICAS, -1, 1).action, FNL_PB_WILL_RETRY);
	send(&pp, &bs[1], 200);
	CHECK_EQ(resp(&pp, &bs[1], FNL_KERR_NOT_ENOUGH_REPLICAS, -1, 201).action, FNL_PB_FAILED);
}

static void test_fatal(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;
	struct fnl_pb_outcome o;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	for (int i = 0; i < 4; i++)
		enq(&pp, i, 1, 0);
	send(&pp, &bs[0], 0);
	send(&pp, &bs[1], 0);
	o = resp(&pp, &bs[0], FNL_KERR_CLUSTER_AUTHORIZATION_FAILED, -1, 1);
	CHECK_EQ(o.action, FNL_PB_FATAL);
	CHECK_EQ(P.state, FNL_PRODUCER_FATAL);
	CHECK(fnl_ppart_next_send(&P, &pp, 1) == NULL);
	expect_pop(&pp, &bs[0], FNL_KERR_CLUSTER_AUTHORIZATION_FAILED, -1, 1);
	expect_no_pop(&pp, 1); /* bs[1] in flight */
	CHECK_EQ(fnl_ppart_on_lost(&P, &pp, &bs[1], FNL_KERR_NETWORK_EXCEPTION, 2).action,
	         FNL_PB_WILL_RETRY);
	expect_pop(&pp, &bs[1], FNL_KERR_CLUSTER_AUTHORIZATION_FAILED, -1, 2);
	expect_pop(&pp, &bs[2], FNL_KERR_CLUSTER_AUTHORIZATION_FAILED, -1, 2);
	expect_pop(&pp, &bs[3], FNL_KERR_CLUSTER_AUTHORIZATION_FAILED, -1, 2);
	fnl_producer_set_pid(&P, 1, 1, 3); /* sticky */
	CHECK_EQ(P.state, FNL_PRODUCER_FATAL);
}

static void test_epoch_exhausted(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	setup(&c);
	fnl_producer_set_pid(&P, 77, INT16_MAX - 1, 0);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 2, 0);
	enq(&pp, 1, 2, 0);
	send(&pp, &bs[0], 0);
	send(&pp, &bs[1], 0);
	CHECK_EQ(fnl_producer_bump_epoch(&P, 0), 0);
	CHECK_EQ(P.epoch, INT16_MAX);
	/* bs[0] has the old epoch and is now rejected: rewrite without asking for another bump. */
	struct fnl_pb_outcome o = resp(&pp, &bs[0], FNL_KERR_UNKNOWN_PRODUCER_ID, -1, 1);
	CHECK(!o.bump_epoch);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	resp(&pp, &bs[1], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 1);
	send(&pp, &bs[0], 200);
	CHECK_EQ(bs[0].epoch, INT16_MAX);
	CHECK_EQ(bs[0].base_seq, 0);
	send(&pp, &bs[1], 200);
	/* Now the same at INT16_MAX: a fresh pid is needed. */
	o = resp(&pp, &bs[0], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 201);
	CHECK(o.bump_epoch);
	resp(&pp, &bs[1], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 201);
	CHECK_EQ(fnl_producer_bump_epoch(&P, 201), 1);
	CHECK_EQ(P.state, FNL_PRODUCER_NEED_PID);
	CHECK(fnl_ppart_next_send(&P, &pp, 400) == NULL);
	fnl_producer_set_pid(&P, 78, 0, 400);
	send(&pp, &bs[0], 400);
	CHECK_EQ(bs[0].pid, 78);
	CHECK_EQ(bs[0].epoch, 0);
	CHECK_EQ(bs[0].base_seq, 0);
	send(&pp, &bs[1], 400);
	CHECK_EQ(bs[1].base_seq, 2);
}

/* A retry of an earlier batch while later ones are still answered with success (the
 * earlier one was lost but stored): the acked ones are not resent. */
static void test_lost_middle(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	for (int i = 0; i < 3; i++)
		enq(&pp, i, 1, 0);
	for (int i = 0; i < 3; i++)
		send(&pp, &bs[i], 0);
	fnl_ppart_on_lost(&P, &pp, &bs[0], FNL_KERR_REQUEST_TIMED_OUT, 1);
	resp(&pp, &bs[1], 0, 11, 2);
	resp(&pp, &bs[2], FNL_KERR_NOT_ENOUGH_REPLICAS, -1, 2);
	send(&pp, &bs[0], 200);
	send(&pp, &bs[2], 200);
	CHECK(fnl_ppart_next_send(&P, &pp, 200) == NULL);
	resp(&pp, &bs[0], FNL_KERR_DUPLICATE_SEQUENCE_NUMBER, -1, 201);
	resp(&pp, &bs[2], 0, 12, 201);
	expect_pop(&pp, &bs[0], 0, -1, 201);
	expect_pop(&pp, &bs[1], 0, 11, 201);
	expect_pop(&pp, &bs[2], 0, 12, 201);
}

/* The send window is anchored at the first unresolved batch: with b0 unresolved and b1..b4
 * acknowledged, b5 must wait (the broker could no longer recognise a resent b0). */
static void test_dedup_window(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;

	setup(&c);
	fnl_ppart_init(&pp, 1);
	for (int i = 0; i < 7; i++)
		enq(&pp, i, 1, 0);
	for (int i = 0; i < 5; i++)
		send(&pp, &bs[i], 0);
	for (int i = 1; i < 5; i++)
		CHECK_EQ(resp(&pp, &bs[i], 0, i, 1).action, FNL_PB_ACKED);
	CHECK_EQ(pp.inflight, 1);
	CHECK(fnl_ppart_next_send(&P, &pp, 1) == NULL);
	CHECK_EQ(resp(&pp, &bs[0], 0, 0, 2).action, FNL_PB_ACKED);
	send(&pp, &bs[5], 2);
	send(&pp, &bs[6], 2);
}

/* After a loss, an OUT_OF_ORDER from an attempt sent before quiet_at_ms is not evidence of a
 * gap (an orphan of the lost request may still fill it): plain retry, no bump. */
static void test_orphan_quiet(void)
{
	struct fnl_producer_cfg c = cfg_default();
	struct fnl_ppart pp;
	struct fnl_pb_outcome o;

	c.request_timeout_ms = 1000;
	setup(&c);
	fnl_ppart_init(&pp, 1);
	enq(&pp, 0, 1, 0);
	enq(&pp, 1, 1, 0);
	send(&pp, &bs[0], 0);
	send(&pp, &bs[1], 0);
	fnl_ppart_on_lost(&P, &pp, &bs[0], FNL_KERR_NETWORK_EXCEPTION, 10);
	fnl_ppart_on_lost(&P, &pp, &bs[1], FNL_KERR_NETWORK_EXCEPTION, 10);
	CHECK_EQ(pp.quiet_at_ms, 1010);
	send(&pp, &bs[0], 200);
	o = resp(&pp, &bs[0], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 210);
	CHECK_EQ(o.action, FNL_PB_WILL_RETRY);
	CHECK(!o.bump_epoch);
	CHECK(!pp.rewrite);
	send(&pp, &bs[0], 1010);
	o = resp(&pp, &bs[0], FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 1020);
	CHECK(o.bump_epoch);
	CHECK(pp.rewrite);
	fnl_producer_bump_epoch(&P, 1020);
	send(&pp, &bs[0], 1200);
	CHECK_EQ(bs[0].epoch, 1);
	CHECK_EQ(bs[0].base_seq, 0);
	send(&pp, &bs[1], 1200);
	CHECK_EQ(bs[1].base_seq, 1);
}

int main(void)
{
	test_cfg_check();
	test_sequences();
	test_inflight_cap();
	test_lost_then_duplicate();
	test_retry_in_order();
	test_leader_change();
	test_unknown_pid_bump();
	test_fail_then_gap();
	test_delivery_timeout();
	test_acks0();
	test_non_idempotent();
	test_fatal();
	test_epoch_exhausted();
	test_lost_middle();
	test_dedup_window();
	test_orphan_quiet();
	printf("producer cases ok\n");
	return 0;
}
