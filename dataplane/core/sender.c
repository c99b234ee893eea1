/* sender.c - broker connections, version negotiation, pipelined Produce
 * requests (one batch per partition per request, <= max in flight per
 * connection), and responses fed to the producer state machine.
 *
 * Connection life: DOWN -> CONNECTING (TCP; with TLS also the handshake,
 * done by the engine) -> VERSIONS (ApiVersions, retried at a version the
 * broker lists if it answers UNSUPPORTED_VERSION) -> SASL (with
 * security.protocol=SASL_*: SaslHandshake v1, then SaslAuthenticate rounds
 * until the mechanism is done) -> READY. A security failure (certificate,
 * handshake, login) is logged once per broker and cause, reported to ctrl
 * (FNL_EVT_SECURITY, for /health) and retried with the reconnect backoff.
 * Responses arrive in request order on a connection (Kafka guarantees it),
 * so in-flight requests are a FIFO; a response whose correlation id is not
 * the FIFO head's means a broken peer: the connection is closed and what
 * was in flight is handed back to the producer as lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/core/apiver.h"
#include "dataplane/core/core_int.h"
#include "dataplane/producer/errtab.h"

enum { ERR_NETWORK_EXCEPTION = 13 };

#define RECONNECT_BACKOFF_MS     50
#define RECONNECT_BACKOFF_MAX_MS 1000
#define CONNECT_TIMEOUT_MS       5000

static struct req *req_get(struct broker *br)
{
	if (!br->free_mask)
		return NULL;
	int i = __builtin_ctz(br->free_mask);
	br->free_mask &= ~(1u << i);
	struct req *r = &br->reqs[i];
	r->nb = 0;
	r->sent = r->sent_ok = false;
	r->done = false;
	return r;
}

static void req_put(struct broker *br, struct req *r)
{
	br->free_mask |= 1u << (r - br->reqs);
}

static uint32_t inflight(const struct broker *br)
{
	return br->rq_tail - br->rq_head;
}

static void fifo_push(struct broker *br, struct req *r)
{
	br->fifo[br->rq_tail++ % FNL_REQS_PER_BROKER] = r;
}

static struct req *fifo_pop(struct broker *br)
{
	return br->fifo[br->rq_head++ % FNL_REQS_PER_BROKER];
}

static void refresh_metadata(struct fnl_core *c)
{
	if (c->now_ms - c->last_refresh_ms < 100)
		return;
	c->last_refresh_ms = c->now_ms;
	c->st.metadata_requests++;
	fnl_core_evt(c, FNL_EVT_REFRESH_METADATA, -1, 0, NULL);
}

/* KIP-360 for an idempotent producer: bump the epoch client-side (as the
 * Java client does); only an exhausted epoch needs a new producer id. */
static void bump_epoch(struct fnl_core *c)
{
	/* Only the partition that moved the producer to BUMPING asks for a bump (at
	 * most one per epoch); NEED_PID: a new id is under way, FATAL: nothing to do. */
	if (c->prod.state != FNL_PRODUCER_BUMPING)
		return;
	c->st.epoch_bumps++;
	if (fnl_producer_bump_epoch(&c->prod, c->now_ms) == 1)
		fnl_core_evt(c, FNL_EVT_BUMP_EPOCH, c->prod.epoch, c->prod.pid, NULL);
	else
		fnl_journal_on_pid(c);
	c->st.producer_epoch = c->prod.epoch;
}

/* Report and free what the producer says is finished for this partition. */
void fnl_sender_pop_done(struct fnl_core *c, struct part *p)
{
	struct fnl_pbatch *pb;
	int16_t err;
	int64_t off;
	while (p->pp.head && !fnl_batch_of(p->pp.head)->in_send &&
	       (pb = fnl_ppart_pop_done(&c->prod, &p->pp, c->now_ms, &err, &off)) != NULL) {
		struct fnl_batch *b = fnl_batch_of(pb);
		fnl_ingest_report_batch(c, b, err, off);
		if (err) {
			c->st.batches_failed++;
			p->last_err = err;
		} else {
			c->st.batches_acked++;
			p->batches_acked++;
			p->records_acked += (uint64_t)b->count;
		}
		int64_t lat = c->now_ms - b->created_ms;
		c->st.latency_ms_sum += (uint64_t)(lat > 0 ? lat : 0) * (uint64_t)b->count;
		int bucket = lat <= 0 ? 0 : 64 - __builtin_clzll((uint64_t)lat);
		c->st.latency_ms_hist[bucket < FNL_LAT_BUCKETS ? bucket : FNL_LAT_BUCKETS - 1] +=
			(uint64_t)b->count;
		if (p->broker >= 0 && c->brokers[p->broker].queued)
			c->brokers[p->broker].queued--;
		p->queued_bytes -= b->wire_len; /* added in fnl_ingest_seal() or fnl_recover_topic() */
		fnl_journal_on_release(c, b);
		fnl_accum_release(&c->acc, b);
	}
}

static void apply_outcome(struct fnl_core *c, struct part *p, struct fnl_pb_outcome o)
{
	if (o.action == FNL_PB_WILL_RETRY) {
		c->st.retries++;
		p->retries++;
		p->retries_by_cell[fnl_retry_cell(o.err)]++;
		p->last_err = o.err;
	}
	if (o.refresh_metadata)
		refresh_metadata(c);
	if (o.bump_epoch)
		bump_epoch(c);
	fnl_sender_pop_done(c, p);
}

/* Everything in flight on this broker's connection is lost (closed, timed out). */
static void lose_inflight(struct fnl_core *c, struct broker *br, int16_t err)
{
	while (inflight(br)) {
		struct req *r = fifo_pop(br);
		for (int i = 0; i < r->nb; i++) {
			struct fnl_batch *b = r->b[i];
			bool answered = r->kind == REQ_PRODUCE && r->answered[i];
			/* answered (a response that named a partition not sent closes the
			 * connection after the others were applied) and its send done: it went
			 * to pop_done then, so b may be free or another batch by now */
			if (answered && r->sent_ok)
				continue;
			struct part *p = &c->parts[b->part];
			b->in_send = false;
			if (answered)
				fnl_sender_pop_done(c, p); /* its outcome waited for the send */
			else if (r->kind == REQ_PRODUCE)
				apply_outcome(c, p, fnl_ppart_on_lost(&c->prod, &p->pp, &b->pb, err,
								      c->now_ms));
		}
		req_put(br, r);
	}
}

/* "broker 1 (host:port)" */
static void broker_name(const struct broker *br, char *out, size_t n)
{
	snprintf(out, n, "broker %d (%.100s:%d)", br->node_id, br->host[0] ? br->host : "?",
		 ntohs(br->addr.sin6_port));
}

/* A security failure: logged once per cause, reported for /health. */
static void security_failed(struct fnl_core *c, struct broker *br, const char *why)
{
	char text[256], name[160];
	broker_name(br, name, sizeof(name));
	snprintf(text, sizeof(text), "%.150s (%.100s)", why, name);
	struct fnl_cmd e = {.type = FNL_EVT_SECURITY, .a = 0, .i64 = br->node_id};
	snprintf(e.name, sizeof(e.name), "%s", text);
	if (strcmp(br->last_why, why) != 0) { /* a new cause: ctrl logs it */
		snprintf(br->last_why, sizeof(br->last_why), "%s", why);
		e.c = 1;
	}
	fnl_core_evt_full(c, &e);
	br->quiet_close = true;
}

static void broker_down(struct fnl_core *c, struct broker *br, int res)
{
	const char *cause = br->conn >= 0 ? fnl_conn_why(c->eng, br->conn) : "";
	if (br->state == BR_READY || br->state == BR_VERSIONS || br->state == BR_SASL)
		c->st.disconnects++;
	if (br->state == BR_SASL && !br->quiet_close) {
		char w[160];
		snprintf(w, sizeof(w),
			 "SASL %s authentication failed: the broker closed the connection (wrong "
			 "user or password?)",
			 fnl_sasl_mech_wire(br->sasl->mech));
		c->st.sasl_failures++;
		security_failed(c, br, w);
	} else if (res < 0 && cause[0] && !br->quiet_close &&
		   (res == -EKEYREJECTED || res == -EPROTO) && c->cfg.tls_ctx) {
		security_failed(c, br, cause);
	}
	if (res < 0 && !br->quiet_close) {
		char why[256];
		/* TLS: what the session said (e.g. close_notify), else its path */
		snprintf(why, sizeof(why), "broker connection %s: %s%s%.150s%s",
			 br->state == BR_CONNECTING ? "failed" : "closed", strerror(-res),
			 c->cfg.tls_ctx && cause[0] ? " (" : "", c->cfg.tls_ctx ? cause : "",
			 c->cfg.tls_ctx && cause[0] ? ")" : "");
		fnl_core_evt(c, FNL_EVT_LOG, 1, br->node_id, why);
	}
	/* a request that timed out is reported as a timeout, a cut connection as lost */
	lose_inflight(c, br, br->timed_out ? FNL_KERR_REQUEST_TIMED_OUT : ERR_NETWORK_EXCEPTION);
	br->timed_out = false;
	br->state = BR_DOWN;
	br->conn = -1;
	br->quiet_close = false;
	br->reauth_at_ms = 0;
	br->reauth_due = false;
	br->backoff_ms = br->backoff_ms ? br->backoff_ms * 2 : RECONNECT_BACKOFF_MS;
	if (br->backoff_ms > RECONNECT_BACKOFF_MAX_MS)
		br->backoff_ms = RECONNECT_BACKOFF_MAX_MS;
	br->reconnect_at_ms = c->now_ms + br->backoff_ms;
	refresh_metadata(c);
}

/* SaslHandshake (kind REQ_SASL_HANDSHAKE, text = the mechanism) or
 * SaslAuthenticate (auth bytes) as a request in flight. */
static int send_sasl(struct fnl_core *c, struct broker *br, uint8_t kind, const void *p, size_t n)
{
	struct req *r = req_get(br);
	if (!r)
		return -ENOBUFS;
	r->kind = kind;
	r->api_ver = kind == REQ_SASL_HANDSHAKE ? 1 : br->sasl_auth_ver;
	r->corr = br->next_corr++;
	int len = kind == REQ_SASL_HANDSHAKE
			  ? fnl_enc_sasl_handshake_req(r->scratch, sizeof(r->scratch), 1, r->corr,
						       c->cfg.client_id, p)
			  : fnl_enc_sasl_auth_req(r->scratch, sizeof(r->scratch), r->api_ver, r->corr,
						  c->cfg.client_id, p, n);
	int rc = len;
	if (len > 0) {
		r->iov[0].iov_base = r->scratch;
		r->iov[0].iov_len = (size_t)len;
		rc = fnl_conn_send(c->eng, br->conn, r->iov, 1, (uint64_t)(uintptr_t)r);
	}
	if (rc < 0) {
		req_put(br, r);
		return rc;
	}
	r->sent_ms = c->now_ms;
	fifo_push(br, r);
	return 0;
}

static void sasl_fail(struct fnl_core *c, struct broker *br, const char *why)
{
	c->st.sasl_failures++;
	security_failed(c, br, why);
	fnl_conn_close(c->eng, br->conn);
}

static void sasl_start(struct fnl_core *c, struct broker *br)
{
	br->state = BR_SASL;
	if (fnl_sasl_creds_login(c->cfg.creds, br->sasl, &br->sasl_gen) < 0) {
		sasl_fail(c, br, "SASL credentials do not fit");
		return;
	}
	if (send_sasl(c, br, REQ_SASL_HANDSHAKE, fnl_sasl_mech_wire(br->sasl->mech), 0) < 0)
		fnl_conn_close(c->eng, br->conn);
}

static void on_sasl_handshake(struct fnl_core *c, struct broker *br, const uint8_t *body,
			      size_t n)
{
	char mechs[96], why[200];
	int16_t err = 0;
	const char *mech = fnl_sasl_mech_wire(br->sasl->mech);
	if (fnl_dec_sasl_handshake(body, n, &err, mechs, sizeof(mechs)) < 0) {
		sasl_fail(c, br, "malformed SaslHandshake answer");
		return;
	}
	if (err || br->sasl_auth_ver < 0) {
		snprintf(why, sizeof(why), "SASL mechanism %s not enabled by the broker (error %d; "
					   "enabled: %s)",
			 mech, err, mechs[0] ? mechs : "none");
		sasl_fail(c, br, why);
		return;
	}
	int m = fnl_sasl_first(br->sasl, NULL, c->sasl_msg, sizeof(c->sasl_msg));
	if (m < 0 || send_sasl(c, br, REQ_SASL_AUTH, c->sasl_msg, (size_t)m) < 0)
		fnl_conn_close(c->eng, br->conn);
}

static void on_sasl_auth(struct fnl_core *c, struct broker *br, int16_t ver, int64_t sent_ms,
			 const uint8_t *body, size_t n)
{
	struct fnl_sasl_auth_resp r;
	char why[200];
	const char *mech = fnl_sasl_mech_wire(br->sasl->mech);
	if (fnl_dec_sasl_auth(body, n, ver, &r) < 0) {
		sasl_fail(c, br, "malformed SaslAuthenticate answer");
		return;
	}
	if (r.err) {
		snprintf(why, sizeof(why), "SASL %s authentication failed: error %d %.*s", mech,
			 r.err, r.error_message_len > 0 ? (r.error_message_len > 100 ? 100 : r.error_message_len) : 0,
			 r.error_message ? r.error_message : "");
		sasl_fail(c, br, why);
		return;
	}
	int m = fnl_sasl_step(br->sasl, r.auth, (size_t)r.auth_len, c->sasl_msg,
			      sizeof(c->sasl_msg));
	if (m > 0) {
		if (send_sasl(c, br, REQ_SASL_AUTH, c->sasl_msg, (size_t)m) < 0)
			fnl_conn_close(c->eng, br->conn);
		return;
	}
	if (m < 0) {
		snprintf(why, sizeof(why), "SASL %s failed: %.150s", mech, br->sasl->why);
		sasl_fail(c, br, why);
		return;
	}
	c->st.sasl_logins++;
	if (br->reauth_due)
		c->st.sasl_reauths++;
	else
		fnl_core_evt(c, FNL_EVT_BROKER_READY, br->node_id, br->produce_ver, "");
	br->reauth_due = false;
	/* KIP-368: log in again at 85% of the session (the Java client
	 * re-authenticates at 85-95%), counted from when the last
	 * SaslAuthenticate was sent: the broker's session began before its
	 * answer reached us, so the time the answer took comes off our margin,
	 * not the broker's. At least 100 ms from then. */
	br->reauth_at_ms = 0;
	if (r.session_lifetime_ms > 0) {
		int64_t at = r.session_lifetime_ms * 85 / 100;
		br->reauth_at_ms = sent_ms + (at > 100 ? at : 100);
	}
	br->last_why[0] = '\0';
	fnl_core_evt(c, FNL_EVT_SECURITY, 1, br->node_id, "");
	br->state = BR_READY;
}

static int send_api_versions(struct fnl_core *c, struct broker *br, int16_t ver)
{
	struct req *r = req_get(br);
	if (!r)
		return -ENOBUFS;
	r->kind = REQ_API_VERSIONS;
	r->api_ver = ver;
	r->corr = br->next_corr++;
	int n = fnl_enc_api_versions_req(r->scratch, sizeof(r->scratch), ver, r->corr,
					 c->cfg.client_id, "funnel", "0.1.0");
	if (n < 0) {
		req_put(br, r);
		return n;
	}
	r->iov[0].iov_base = r->scratch;
	r->iov[0].iov_len = (size_t)n;
	int rc = fnl_conn_send(c->eng, br->conn, r->iov, 1, (uint64_t)(uintptr_t)r);
	if (rc < 0) {
		req_put(br, r);
		return rc;
	}
	r->sent_ms = c->now_ms;
	fifo_push(br, r);
	return 0;
}

static void on_api_versions(struct fnl_core *c, struct broker *br, int16_t ver,
			    const uint8_t *body, size_t n)
{
	struct fnl_api_range ranges[64];
	int nr;
	int16_t retry = 0;
	int rc = fnl_apiver_answer(body, n, ver, ranges, 64, &nr, &retry);
	if (rc == FNL_APIVER_RETRY) {
		if (send_api_versions(c, br, retry) < 0)
			fnl_conn_close(c->eng, br->conn);
		return;
	}
	int16_t pv = rc < 0 ? -1 : fnl_api_pick(ranges, nr, FNL_API_PRODUCE);
	if (pv < 0) {
		fnl_core_evt(c, FNL_EVT_LOG, 0, br->node_id,
			     rc < 0 ? "ApiVersions answer unusable: closing connection"
				    : "broker supports no Produce version funnel speaks (v3..v12)");
		fnl_conn_close(c->eng, br->conn);
		return;
	}
	br->produce_ver = pv;
	br->sasl_auth_ver = fnl_api_pick(ranges, nr, FNL_API_SASL_AUTHENTICATE);
	if (c->cfg.creds) {
		sasl_start(c, br);
		return;
	}
	br->state = BR_READY; /* backoff resets on a good Produce answer, not here */
	fnl_core_evt(c, FNL_EVT_BROKER_READY, br->node_id, pv, "");
}

struct presp_ctx {
	struct fnl_core *c;
	struct broker *br;
	struct req *r;
	bool bad;
};

/* A fatal Produce answer stops the core's producer for good (every record fails from now
 * on, as with the Java producer): said once, naming what a person needs to act on. */
static void log_fatal(struct fnl_core *c, const struct broker *br, const struct topic *t,
		      int32_t partition, int16_t err)
{
	char text[256];
	snprintf(text, sizeof(text),
		 "producer stopped: Produce answered %s (%d), a fatal error; every record fails "
		 "until funneld restarts topic=%.100s partition=%d",
		 fnl_err_name(err), err, t->name, partition);
	fnl_core_evt(c, FNL_EVT_LOG, 0, br->node_id, text);
}

static void on_partition_result(void *ctx, const char *topic, int topic_len, int32_t partition,
				int16_t err, int64_t base_offset, int64_t log_append_time_ms,
				int64_t log_start_offset)
{
	struct presp_ctx *x = ctx;
	(void)log_append_time_ms;
	(void)log_start_offset;
	for (int i = 0; i < x->r->nb; i++) {
		struct fnl_batch *b = x->r->b[i];
		struct topic *t = &x->c->topics[b->topic_id];
		if (x->r->answered[i] || b->partition != partition || t->name_len != topic_len ||
		    memcmp(t->name, topic, (size_t)topic_len) != 0)
			continue;
		x->r->answered[i] = true;
		struct part *p = &x->c->parts[b->part];
		struct fnl_pb_outcome o = fnl_ppart_on_response(&x->c->prod, &p->pp, &b->pb, err,
								 base_offset, x->c->now_ms);
		if (o.action == FNL_PB_FATAL && x->c->prod.fatal_err == err && !x->c->fatal_logged) {
			x->c->fatal_logged = true;
			log_fatal(x->c, x->br, t, partition, err);
		}
		apply_outcome(x->c, p, o);
		return;
	}
	x->bad = true; /* an answer for a partition we did not send */
}

/* Returns false when the response is malformed or names a partition we did
 * not send: the caller closes the connection and the request stays in flight
 * so that lose_inflight() hands its unanswered batches back. */
static bool on_produce(struct fnl_core *c, struct broker *br, struct req *r, const uint8_t *body,
		       size_t n)
{
	struct presp_ctx x = {.c = c, .br = br, .r = r};
	int32_t throttle = 0;
	c->st.responses++;
	br->responses++;
	br->rtt_us_sum += (uint64_t)(c->now_ms - r->sent_ms) * 1000;
	int rc = fnl_dec_produce(body, n, r->api_ver, on_partition_result, &x, &throttle);
	if (rc < 0 || x.bad) {
		fnl_core_evt(c, FNL_EVT_LOG, 1, br->node_id,
			     rc < 0 ? "malformed Produce response: closing connection"
				    : "Produce response names a partition not sent: closing");
		return false;
	}
	fifo_pop(br);
	for (int i = 0; i < r->nb; i++) {
		if (r->answered[i])
			continue;
		struct fnl_batch *b = r->b[i];
		struct part *p = &c->parts[b->part];
		apply_outcome(c, p,
			      fnl_ppart_on_lost(&c->prod, &p->pp, &b->pb, ERR_NETWORK_EXCEPTION,
						c->now_ms));
	}
	r->done = true;
	br->backoff_ms = 0; /* the broker answers Produce well: reconnect fast next time */
	if (r->sent)
		req_put(br, r); /* else on_sent() frees it */
	return true;
}

static void on_frame(struct fnl_core *c, struct broker *br, const uint8_t *f, uint32_t len)
{
	struct req *r = inflight(br) ? br->fifo[br->rq_head % FNL_REQS_PER_BROKER] : NULL;
	if (c->cfg.acks == 0 && (!r || r->kind == REQ_PRODUCE))
		return; /* acks=0: the broker may answer anyway; nothing waits for it */
	int32_t corr = 0;
	int hl = -EBADMSG;
	if (r) {
		static const int16_t apis[] = {0, FNL_API_PRODUCE, FNL_API_API_VERSIONS,
					       FNL_API_SASL_HANDSHAKE, FNL_API_SASL_AUTHENTICATE};
		hl = fnl_dec_resp_header(f, len, apis[r->kind], r->api_ver, &corr);
	}
	if (hl < 0 || corr != r->corr) {
		fnl_core_evt(c, FNL_EVT_LOG, 1, br->node_id,
			     "response with an unexpected correlation id: closing connection");
		fnl_conn_close(c->eng, br->conn);
		return;
	}
	if (r->kind != REQ_PRODUCE) {
		int16_t ver = r->api_ver;
		uint8_t kind = r->kind;
		int64_t sent_ms = r->sent_ms;
		fifo_pop(br);
		r->done = true;
		if (r->sent)
			req_put(br, r); /* else on_sent() frees it */
		if (kind == REQ_API_VERSIONS)
			on_api_versions(c, br, ver, f + hl, len - (uint32_t)hl);
		else if (kind == REQ_SASL_HANDSHAKE)
			on_sasl_handshake(c, br, f + hl, len - (uint32_t)hl);
		else
			on_sasl_auth(c, br, ver, sent_ms, f + hl, len - (uint32_t)hl);
		return;
	}
	if (!on_produce(c, br, r, f + hl, len - (uint32_t)hl))
		fnl_conn_close(c->eng, br->conn);
}

static struct broker *broker_of(struct fnl_core *c, const struct fnl_event *ev)
{
	uint64_t i = ev->user;
	if (i >= (uint64_t)c->cfg.brokers_max)
		return NULL;
	struct broker *br = &c->brokers[i];
	return br->conn == ev->conn ? br : NULL;
}

/* The kernel is done with the request's buffers: batches may now be freed.
 * With acks=0 this is also the request's end (nothing will answer it). */
static void on_sent(struct fnl_core *c, struct broker *br, const struct fnl_event *ev)
{
	struct req *r = (struct req *)(uintptr_t)ev->tag;
	if (r < br->reqs || r >= br->reqs + FNL_REQS_PER_BROKER || r->sent)
		return;
	r->sent = true;
	r->sent_ok = ev->res >= 0;
	if (ev->res < 0) {
		/* the connection closes; CLOSED hands back what was in flight. One
		 * already answered (a response can come before its SENT) is no longer
		 * in flight: free it here or its slot is lost */
		if (r->done)
			req_put(br, r);
		return;
	}
	if (r->kind == REQ_PRODUCE && c->cfg.acks == 0 && !r->done) {
		fifo_pop(br); /* sends complete in order: it is the FIFO head */
		r->done = true;
	}
	for (int i = 0; i < r->nb; i++) {
		r->b[i]->in_send = false;
		fnl_sender_pop_done(c, &c->parts[r->b[i]->part]);
	}
	if (r->done)
		req_put(br, r);
}

void fnl_sender_on_event(struct fnl_core *c, const struct fnl_event *ev)
{
	struct broker *br = broker_of(c, ev);
	if (!br)
		return;
	switch (ev->type) {
	case FNL_EV_CONNECTED:
		c->st.connects++;
		br->state = BR_VERSIONS;
		if (c->cfg.tls_ctx) {
			char text[256], name[160];
			broker_name(br, name, sizeof(name));
			/* version, cipher, and where the record layer runs */
			snprintf(text, sizeof(text), "%.100s: %.150s", name,
				 fnl_conn_why(c->eng, br->conn));
			fnl_core_evt(c, FNL_EVT_LOG, 2, br->node_id, text);
			if (!c->cfg.creds)
				fnl_core_evt(c, FNL_EVT_SECURITY, 1, br->node_id, "");
		}
		if (send_api_versions(c, br, fnl_apiver_first()) < 0)
			fnl_conn_close(c->eng, br->conn);
		break;
	case FNL_EV_SENT:
		on_sent(c, br, ev);
		break;
	case FNL_EV_FRAME:
		on_frame(c, br, ev->frame, ev->frame_len);
		break;
	case FNL_EV_CLOSED:
		broker_down(c, br, ev->res);
		break;
	default:
		break;
	}
}

/* Topic-grouped Produce request from the ready batches of one broker's parts. */
static int collect(struct fnl_core *c, struct broker *br, struct req *r, int *ntopics)
{
	size_t bytes = 64, scratch = 64 + strlen(c->cfg.client_id);
	uint32_t last_topic = UINT32_MAX;
	*ntopics = 0;
	for (uint32_t k = 0; k < br->bpart_n && r->nb < FNL_REQ_PARTS_MAX; k++) {
		struct part *p = &c->parts[c->bparts[br->bpart_base + k]];
		if (!p->pp.head)
			continue;
		size_t need = 32 + (p->topic != last_topic ? (size_t)c->topics[p->topic].name_len + 16 : 0);
		if (scratch + need > FNL_REQ_SCRATCH)
			break;
		struct fnl_pbatch *pb = fnl_ppart_next_send(&c->prod, &p->pp, c->now_ms);
		if (!pb || p->pp.leader != br->node_id)
			continue; /* a leader switch completed: the new leader's pass sends it */
		struct fnl_batch *b = fnl_batch_of(pb);
		if (r->nb && bytes + b->wire_len > (size_t)c->cfg.max_request_size)
			break;
		if (p->topic != last_topic)
			(*ntopics)++;
		last_topic = p->topic;
		scratch += need;
		bytes += b->wire_len;
		r->answered[r->nb] = false;
		r->b[r->nb++] = b;
	}
	return r->nb;
}

static int encode(struct fnl_core *c, struct broker *br, struct req *r, int ntopics)
{
	struct fnl_preq q;
	int16_t acks = (int16_t)c->cfg.acks;
	int rc = fnl_preq_begin(&q, r->scratch, sizeof(r->scratch), r->iov,
				(int)(sizeof(r->iov) / sizeof(r->iov[0])), br->produce_ver, r->corr,
				c->cfg.client_id, c->txn_id[0] ? c->txn_id : NULL, acks,
				c->cfg.request_timeout_ms, ntopics);
	for (int i = 0; i < r->nb && rc >= 0;) {
		uint32_t tid = r->b[i]->topic_id;
		int j = i;
		while (j < r->nb && r->b[j]->topic_id == tid)
			j++;
		struct topic *t = &c->topics[tid];
		rc = fnl_preq_topic(&q, t->name, t->name_len, j - i);
		for (; i < j && rc >= 0; i++) {
			struct fnl_batch *b = r->b[i];
			fnl_batch_prepare(b, b->pb.pid, b->pb.epoch, b->pb.base_seq);
			fnl_journal_on_send(c, &c->parts[b->part], b);
			rc = fnl_preq_partition(&q, b->partition, b->wire, (uint32_t)b->wire_len);
		}
	}
	if (rc < 0)
		return rc;
	return fnl_preq_end(&q);
}

static uint64_t q_bytes(const struct req *r, int niov)
{
	uint64_t n = 0;
	for (int i = 0; i < niov; i++)
		n += r->iov[i].iov_len;
	return n;
}

static int send_produce(struct fnl_core *c, struct broker *br)
{
	struct req *r = req_get(br);
	if (!r)
		return 0;
	r->kind = REQ_PRODUCE;
	r->api_ver = br->produce_ver;
	int ntopics;
	if (collect(c, br, r, &ntopics) == 0) {
		req_put(br, r);
		return 0;
	}
	r->corr = br->next_corr++;
	int niov = encode(c, br, r, ntopics);
	int rc = niov < 0 ? niov : fnl_conn_send(c->eng, br->conn, r->iov, niov, (uint64_t)(uintptr_t)r);
	if (rc < 0) {
		/* nothing went out: hand the batches back as lost, in order */
		for (int i = 0; i < r->nb; i++) {
			struct part *p = &c->parts[r->b[i]->part];
			fnl_ppart_on_sent(&c->prod, &p->pp, &r->b[i]->pb, c->now_ms);
			apply_outcome(c, p, fnl_ppart_on_lost(&c->prod, &p->pp, &r->b[i]->pb,
							      ERR_NETWORK_EXCEPTION, c->now_ms));
		}
		req_put(br, r);
		return rc;
	}
	for (int i = 0; i < r->nb; i++) {
		struct part *p = &c->parts[r->b[i]->part];
		r->b[i]->in_send = true;
		fnl_ppart_on_sent(&c->prod, &p->pp, &r->b[i]->pb, c->now_ms);
	}
	r->sent_ms = c->now_ms;
	fifo_push(br, r);
	c->st.bytes_tx += q_bytes(r, niov);
	c->st.requests_sent++;
	br->requests++;
	c->st.batches_sent += (uint64_t)r->nb;
	return r->nb;
}

int fnl_sender_pass(struct fnl_core *c)
{
	int sent = 0;
	if (!fnl_recover_poll(c))
		return 0; /* rings named by journaled batches are not all back yet */
	for (int i = 0; i < c->cfg.brokers_max; i++) {
		struct broker *br = &c->brokers[i];
		if (br->state == BR_READY && br->reauth_at_ms && c->now_ms >= br->reauth_at_ms)
			br->reauth_due = true; /* KIP-368: drain, then log in on this connection */
		if (br->state == BR_READY && br->reauth_due) {
			if (inflight(br) == 0)
				sasl_start(c, br);
			continue; /* nothing new goes out meanwhile: order is kept */
		}
		if (br->state != BR_READY || !br->queued)
			continue;
		while (inflight(br) < (uint32_t)c->cfg.max_inflight) {
			int n = send_produce(c, br);
			if (n <= 0)
				break;
			sent += n;
		}
	}
	return sent;
}

static void connect_broker(struct fnl_core *c, int i)
{
	struct broker *br = &c->brokers[i];
	socklen_t len = br->addr.sin6_family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6);
	int conn = fnl_conn_open(c->eng, (const struct sockaddr *)&br->addr, len, CONNECT_TIMEOUT_MS,
				 (uint64_t)i);
	if (conn < 0) {
		br->reconnect_at_ms = c->now_ms + RECONNECT_BACKOFF_MAX_MS;
		return;
	}
	br->conn = conn;
	br->state = BR_CONNECTING;
	br->connect_ms = c->now_ms;
	if (c->cfg.tls_ctx) {
		int rc = fnl_conn_tls(c->eng, conn, c->cfg.tls_ctx, br->host[0] ? br->host : "");
		if (rc < 0) {
			char why[120];
			snprintf(why, sizeof(why), "cannot set up TLS: %s", strerror(-rc));
			security_failed(c, br, why);
			fnl_conn_close(c->eng, conn);
		}
	}
}

/* Connect brokers that lead partitions, time out requests. */
void fnl_sender_timers(struct fnl_core *c)
{
	for (int i = 0; i < c->cfg.brokers_max; i++) {
		struct broker *br = &c->brokers[i];
		if (br->state == BR_DOWN && br->bpart_n && c->now_ms >= br->reconnect_at_ms)
			connect_broker(c, i);
		if (br->state == BR_CONNECTING && c->cfg.tls_ctx &&
		    c->now_ms - br->connect_ms > c->cfg.request_timeout_ms) {
			char why[120];
			snprintf(why, sizeof(why),
				 "no TLS handshake within request.timeout.ms=%d (a plaintext port?)",
				 c->cfg.request_timeout_ms);
			security_failed(c, br, why);
			fnl_conn_close(c->eng, br->conn);
		}
		if ((br->state == BR_READY || br->state == BR_VERSIONS || br->state == BR_SASL) &&
		    inflight(br)) {
			struct req *h = br->fifo[br->rq_head % FNL_REQS_PER_BROKER];
			if (c->now_ms - h->sent_ms > c->cfg.request_timeout_ms) {
				fnl_core_evt(c, FNL_EVT_LOG, 1, br->node_id,
					     "request timed out: closing connection");
				br->timed_out = true;
				fnl_conn_close(c->eng, br->conn);
			}
		}
	}
}

/* delivery.timeout.ms for batches that wait (no leader, backoff, ...) */
void fnl_sender_expire(struct fnl_core *c)
{
	for (uint32_t i = 0; i < c->parts_used; i++)
		if (c->parts[i].pp.head)
			fnl_sender_pop_done(c, &c->parts[i]);
}

int fnl_sender_broker_set(struct fnl_core *c, int32_t node_id, const struct sockaddr_in6 *addr,
			  const char *host)
{
	int free_slot = -1;
	for (int i = 0; i < c->cfg.brokers_max; i++) {
		struct broker *br = &c->brokers[i];
		if (br->state == BR_UNUSED) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (br->node_id != node_id)
			continue;
		if (memcmp(&br->addr, addr, sizeof(*addr)) != 0 || strcmp(br->host, host) != 0) {
			br->addr = *addr; /* moved: reconnect at the new address */
			snprintf(br->host, sizeof(br->host), "%s", host);
			if (br->conn >= 0)
				fnl_conn_close(c->eng, br->conn);
		}
		return i;
	}
	if (free_slot < 0)
		return -ENOSPC;
	struct broker *br = &c->brokers[free_slot];
	br->node_id = node_id;
	br->addr = *addr;
	snprintf(br->host, sizeof(br->host), "%s", host);
	br->state = BR_DOWN;
	br->conn = -1;
	br->reconnect_at_ms = 0;
	br->free_mask = (1u << FNL_REQS_PER_BROKER) - 1;
	br->rq_head = br->rq_tail = 0;
	return free_slot;
}

/* After a metadata snapshot: map leaders to broker slots, rebuild each
 * broker's list of parts (in part order, so topics stay grouped). */
void fnl_sender_rebuild(struct fnl_core *c)
{
	for (int i = 0; i < c->cfg.brokers_max; i++) {
		c->brokers[i].bpart_n = 0;
		c->brokers[i].queued = 0;
	}
	for (uint32_t k = 0; k < c->parts_used; k++) {
		struct part *p = &c->parts[k];
		p->broker = -1;
		for (int i = 0; i < c->cfg.brokers_max && p->leader >= 0; i++)
			if (c->brokers[i].state != BR_UNUSED && c->brokers[i].node_id == p->leader)
				p->broker = i;
		if (p->broker >= 0)
			c->brokers[p->broker].bpart_n++;
	}
	uint32_t base = 0;
	for (int i = 0; i < c->cfg.brokers_max; i++) {
		c->brokers[i].bpart_base = base;
		base += c->brokers[i].bpart_n;
		c->brokers[i].bpart_n = 0;
	}
	for (uint32_t k = 0; k < c->parts_used; k++) {
		struct part *p = &c->parts[k];
		if (p->broker < 0)
			continue;
		struct broker *br = &c->brokers[p->broker];
		c->bparts[br->bpart_base + br->bpart_n++] = k;
		for (struct fnl_pbatch *pb = p->pp.head; pb; pb = pb->next)
			br->queued++;
	}
}

bool fnl_sender_idle(const struct fnl_core *c)
{
	for (uint32_t k = 0; k < c->parts_used; k++)
		if (c->parts[k].pp.head || c->parts[k].open || c->parts[k].zhead)
			return false;
	return true;
}
