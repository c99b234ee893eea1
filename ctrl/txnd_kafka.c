/* txnd_kafka.c - the transaction thread's Kafka side (txnd_int.h): broker connections,
 * metadata, the coordinator requests the transaction state machine asks for, start-up. */
#include "ctrl/txnd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/log.h"
#include "dataplane/producer/errtab.h"

/* ---- connections to brokers ---- */

static struct node *node_find(struct fnl_txnd *t, int32_t id)
{
	for (int i = 0; i < MAX_NODES; i++)
		if (t->nodes[i].used && t->nodes[i].id == id)
			return &t->nodes[i];
	return NULL;
}

static void node_set(struct fnl_txnd *t, int32_t id, const char *host, int host_len, int32_t port)
{
	struct node *n = node_find(t, id);
	for (int i = 0; !n && i < MAX_NODES; i++)
		if (!t->nodes[i].used)
			n = &t->nodes[i];
	if (!n)
		return;
	char hp[300];
	snprintf(hp, sizeof(hp), "%.*s:%d", host_len, host, port);
	if (n->used && strcmp(n->hp, hp) != 0 && n->kc_init)
		fnl_kclient_close(&n->kc); /* moved */
	n->used = true;
	n->id = id;
	snprintf(n->hp, sizeof(n->hp), "%s", hp);
}

struct fnl_kclient *fnl_txnd_node_kc(struct fnl_txnd *t, int32_t id)
{
	struct node *n = node_find(t, id);
	if (!n)
		return NULL;
	if (!n->kc_init) {
		if (fnl_kclient_init(&n->kc, t->cfg->client_id, t->cfg->request_timeout_ms) < 0)
			return NULL;
		n->kc.tls_ctx = t->d->tls_ctx;
		n->kc.creds = t->d->creds.mech ? &t->d->creds : NULL;
		n->kc_init = true;
	}
	if (n->kc.fd < 0) {
		char msg[512];
		if (fnl_kclient_connect(&n->kc, n->hp, msg, sizeof(msg)) < 0) {
			fnl_warn("transactions: cannot connect to broker node=%d: %s", id, msg);
			return NULL;
		}
	}
	return &n->kc;
}

static const struct {
	int16_t key, max;
} caps[] = {
    {FNL_API_PRODUCE, 11},
    {FNL_API_END_TXN, 4},
    {FNL_API_TXN_OFFSET_COMMIT, 4},
    {FNL_API_INIT_PRODUCER_ID, 4},
};

int16_t fnl_txnd_ver(struct fnl_txnd *t, int16_t key)
{
	int16_t v = fnl_api_pick(t->ranges, t->nranges, key);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (caps[i].key == key && v > caps[i].max)
			v = caps[i].max;
	return v;
}

/* Sends kc->buf[0..len) and returns the body, or NULL (connection closed, error logged). */
const uint8_t *fnl_txnd_request(struct fnl_kclient *kc, int len, int16_t api, int16_t ver,
                                size_t *bl)
{
	const uint8_t *b;
	if (len < 0 || !kc)
		return NULL;
	int rc = fnl_kclient_request(kc, (size_t)len, api, ver, &b, bl);
	if (rc < 0) {
		fnl_warn("transactions: request api=%d v%d to %s failed: %s", api, ver, kc->peer,
		         strerror(-rc));
		return NULL;
	}
	return b;
}

static void io_err(struct fnl_txnd *t)
{
	t->op_err = -1;
	fnl_txn_on_io_error(&t->txn, mono_ms());
}

/* ---- metadata ---- */

struct md_ctx {
	struct fnl_txnd *t;
	int ti; /* topic being read, -1 none */
};

static void md_broker(void *ctx, int32_t id, const char *host, int host_len, int32_t port)
{
	struct md_ctx *m = ctx;
	node_set(m->t, id, host, host_len, port);
}

int fnl_txnd_topic_find(struct fnl_txnd *t, const char *name, size_t len)
{
	for (int i = 0; i < t->ntopics; i++)
		if (strlen(t->topics[i].name) == len && memcmp(t->topics[i].name, name, len) == 0)
			return i;
	return -1;
}

/* A topic with more partitions than before (Kafka only adds them): the new ones have no
 * leader yet (md_part fills it) and start at sequence 0 for this producer id and epoch. */
static int grow(struct ttopic *tp, int32_t nparts)
{
	int32_t *leader = realloc(tp->leader, (size_t)nparts * sizeof(int32_t));
	if (!leader)
		return -ENOMEM;
	tp->leader = leader;
	int32_t *seq = realloc(tp->seq, (size_t)nparts * sizeof(int32_t));
	if (!seq)
		return -ENOMEM;
	tp->seq = seq;
	for (int32_t p = tp->nparts; p < nparts; p++)
		tp->leader[p] = -1, tp->seq[p] = 0;
	tp->nparts = nparts;
	return 0;
}

static void md_topic(void *ctx, int16_t err, const char *name, int name_len, int32_t nparts)
{
	struct md_ctx *m = ctx;
	struct fnl_txnd *t = m->t;
	m->ti = -1;
	if (err || nparts <= 0 || name_len >= 256)
		return;
	int ti = fnl_txnd_topic_find(t, name, (size_t)name_len);
	if (ti < 0) {
		if (t->ntopics == MAX_TOPICS)
			return;
		ti = t->ntopics;
		struct ttopic *tp = &t->topics[ti];
		tp->leader = calloc((size_t)nparts, sizeof(int32_t));
		tp->seq = calloc((size_t)nparts, sizeof(int32_t));
		if (!tp->leader || !tp->seq) {
			free(tp->leader);
			free(tp->seq);
			return;
		}
		memcpy(tp->name, name, (size_t)name_len);
		tp->name[name_len] = '\0';
		tp->nparts = nparts;
		for (int32_t p = 0; p < nparts; p++)
			tp->leader[p] = -1;
		t->ntopics++;
	}
	struct ttopic *tp = &t->topics[ti];
	if (nparts > tp->nparts && grow(tp, nparts) == 0)
		fnl_info("transactions: topic '%s' grew to %d partitions: transactional records "
		         "use them from the next commit",
		         tp->name, nparts);
	if (tp->nparts != nparts)
		return; /* fewer (re-created), or no memory to grow: the old count stays */
	m->ti = ti;
}

static void md_part(void *ctx, int16_t err, int32_t p, int32_t leader, int32_t epoch)
{
	struct md_ctx *m = ctx;
	(void)epoch;
	if (m->ti < 0 || p < 0 || p >= m->t->topics[m->ti].nparts)
		return;
	m->t->topics[m->ti].leader[p] = err ? -1 : leader;
}

/* Metadata for these topics (n 0: brokers only), on the bootstrap connection. */
int fnl_txnd_metadata(struct fnl_txnd *t, const char *const *names, int n)
{
	char msg[512];
	if (t->boot.fd < 0 &&
	    fnl_kclient_connect(&t->boot, t->cfg->bootstrap_servers, msg, sizeof(msg)) < 0) {
		snprintf(t->why, sizeof(t->why), "%s", msg);
		return -ENOTCONN;
	}
	if (t->boot.fd >= 0 && t->nranges == 0) {
		memcpy(t->ranges, t->boot.ranges, sizeof(t->ranges));
		t->nranges = t->boot.nranges;
	}
	struct md_ctx m = {t, -1};
	struct fnl_md_visitor v = {&m, md_broker, md_topic, md_part, NULL, NULL};
	if (fnl_kclient_metadata(&t->boot, names, n, &v, msg, sizeof(msg)) < 0) {
		snprintf(t->why, sizeof(t->why), "%s", msg);
		return -EIO;
	}
	return 0;
}

/* ---- the coordinator requests ---- */

struct coord_seen {
	int16_t err;
	int32_t node;
	struct fnl_txnd *t;
};

static void on_coord(void *ctx, const char *key, int key_len, int16_t err, int32_t node,
                     const char *host, int host_len, int32_t port)
{
	struct coord_seen *s = ctx;
	(void)key;
	(void)key_len;
	s->err = err;
	s->node = node;
	if (err == 0)
		node_set(s->t, node, host, host_len, port);
}

/* The group being sent: its id and metadata, parsed from wbuf (strings copied to scratch). */
struct parts_seen {
	enum fnl_txn_op op;
	int16_t worst;
	char *denied; /* NULL, or where the first topic refused TOPIC_AUTHORIZATION_FAILED goes */
};

static void on_part(void *ctx, const char *tn, int tl, int32_t p, int16_t err)
{
	struct parts_seen *s = ctx;
	(void)p;
	s->worst = fnl_txn_worse(s->op, s->worst, err);
	if (s->denied && err == 29 && !s->denied[0] && tl > 0 && tl < 256) {
		memcpy(s->denied, tn, (size_t)tl);
		s->denied[tl] = '\0';
	}
}

static void op_find_coord(struct fnl_txnd *t, enum fnl_txn_op op)
{
	bool is_txn = op == FNL_TXN_OP_FIND_TXN_COORD;
	int16_t v = fnl_txnd_ver(t, FNL_API_FIND_COORDINATOR);
	size_t bl;
	if (t->boot.fd < 0 && fnl_txnd_metadata(t, NULL, 0) < 0) {
		io_err(t);
		return;
	}
	int n = fnl_enc_find_coordinator_req(
	    t->boot.buf, t->boot.buf_bytes, v, t->boot.corr++, t->cfg->client_id,
	    is_txn ? t->cfg->txn_id : t->pg.g.group_id, is_txn ? FNL_COORD_TXN : FNL_COORD_GROUP);
	const uint8_t *b = fnl_txnd_request(&t->boot, n, FNL_API_FIND_COORDINATOR, v, &bl);
	struct coord_seen s = {-1, -1, t};
	if (!b || fnl_dec_find_coordinator(b, bl, v, on_coord, &s, NULL) < 0) {
		io_err(t);
		return;
	}
	if (s.err == 0)
		*(is_txn ? &t->txn_coord : &t->group_coord) = s.node;
	t->op_err = s.err;
	fnl_txn_on_result(&t->txn, op, s.err, mono_ms());
}

static void op_init_pid(struct fnl_txnd *t)
{
	struct fnl_kclient *kc = fnl_txnd_node_kc(t, t->txn_coord);
	int16_t v = fnl_txnd_ver(t, FNL_API_INIT_PRODUCER_ID), err, epoch;
	int64_t pid;
	size_t bl;
	if (!kc) {
		t->txn.need_txn_coord = true;
		io_err(t);
		return;
	}
	int n = fnl_enc_init_pid_req_txn(kc->buf, kc->buf_bytes, v, kc->corr++, t->cfg->client_id,
	                                 t->cfg->txn_id, t->cfg->txn_timeout_ms, t->txn.producer_id,
	                                 t->txn.epoch);
	const uint8_t *b = fnl_txnd_request(kc, n, FNL_API_INIT_PRODUCER_ID, v, &bl);
	if (!b || fnl_dec_init_pid(b, bl, v, &err, &pid, &epoch) < 0) {
		io_err(t);
		return;
	}
	if (err == 0) {
		if (pid != t->txn.producer_id || epoch != t->txn.epoch)
			for (int i = 0; i < t->ntopics; i++)
				memset(t->topics[i].seq, 0,
				       (size_t)t->topics[i].nparts * sizeof(int32_t));
		fnl_info("transactions: producer id pid=%lld epoch=%d transactional.id=%s",
		         (long long)pid, epoch, t->cfg->txn_id);
	}
	t->op_err = err;
	fnl_txn_on_init_pid(&t->txn, err, pid, epoch, mono_ms());
}

static void op_add_partitions(struct fnl_txnd *t)
{
	static struct fnl_txn_topic_parts tps[MAX_WPARTS];
	static int32_t parts[MAX_WPARTS];
	struct fnl_kclient *kc = fnl_txnd_node_kc(t, t->txn_coord);
	int16_t v = fnl_txnd_ver(t, FNL_API_ADD_PARTITIONS_TO_TXN);
	size_t bl;
	int ntp = 0;
	if (!kc) {
		t->txn.need_txn_coord = true;
		io_err(t);
		return;
	}
	for (int i = 0; i < t->nwparts; i++) { /* wparts are sorted by topic */
		parts[i] = t->wparts[i].p;
		if (ntp == 0 || tps[ntp - 1].topic != t->topics[t->wparts[i].ti].name)
			tps[ntp++] = (struct fnl_txn_topic_parts){t->topics[t->wparts[i].ti].name,
			                                          &parts[i], 0};
		tps[ntp - 1].npartitions++;
	}
	int n =
	    fnl_enc_add_partitions_req(kc->buf, kc->buf_bytes, v, kc->corr++, t->cfg->client_id,
	                               t->cfg->txn_id, t->txn.producer_id, t->txn.epoch, tps, ntp);
	const uint8_t *b = fnl_txnd_request(kc, n, FNL_API_ADD_PARTITIONS_TO_TXN, v, &bl);
	struct parts_seen s = {FNL_TXN_OP_ADD_PARTITIONS, 0, t->denied_topic};
	t->denied_topic[0] = '\0';
	if (!b || fnl_dec_add_partitions(b, bl, v, on_part, &s, NULL) < 0) {
		io_err(t);
		return;
	}
	t->op_err = s.worst;
	fnl_txn_on_result(&t->txn, FNL_TXN_OP_ADD_PARTITIONS, s.worst, mono_ms());
}

static void op_add_offsets(struct fnl_txnd *t)
{
	struct fnl_kclient *kc = fnl_txnd_node_kc(t, t->txn_coord);
	int16_t v = fnl_txnd_ver(t, FNL_API_ADD_OFFSETS_TO_TXN), err;
	size_t bl;
	if (!kc) {
		t->txn.need_txn_coord = true;
		io_err(t);
		return;
	}
	int n = fnl_enc_add_offsets_req(kc->buf, kc->buf_bytes, v, kc->corr++, t->cfg->client_id,
	                                t->cfg->txn_id, t->txn.producer_id, t->txn.epoch,
	                                t->pg.g.group_id);
	const uint8_t *b = fnl_txnd_request(kc, n, FNL_API_ADD_OFFSETS_TO_TXN, v, &bl);
	if (!b || fnl_dec_add_offsets(b, bl, v, &err, NULL) < 0) {
		io_err(t);
		return;
	}
	t->op_err = err;
	fnl_txn_on_result(&t->txn, FNL_TXN_OP_ADD_OFFSETS, err, mono_ms());
}

static void op_offset_commit(struct fnl_txnd *t)
{
	struct fnl_kclient *kc = fnl_txnd_node_kc(t, t->group_coord);
	int16_t v = fnl_txnd_ver(t, FNL_API_TXN_OFFSET_COMMIT);
	size_t bl;
	if (!kc) {
		t->txn.need_group_coord = true;
		io_err(t);
		return;
	}
	int n = fnl_enc_txn_offset_commit_req(kc->buf, kc->buf_bytes, v, kc->corr++,
	                                      t->cfg->client_id, t->cfg->txn_id, t->txn.producer_id,
	                                      t->txn.epoch, &t->pg.g, t->pg.tos, t->pg.ntos);
	const uint8_t *b = fnl_txnd_request(kc, n, FNL_API_TXN_OFFSET_COMMIT, v, &bl);
	struct parts_seen s = {FNL_TXN_OP_TXN_OFFSET_COMMIT, 0};
	if (!b || fnl_dec_txn_offset_commit(b, bl, v, on_part, &s, NULL) < 0) {
		io_err(t);
		return;
	}
	t->op_err = s.worst;
	fnl_txn_on_result(&t->txn, FNL_TXN_OP_TXN_OFFSET_COMMIT, s.worst, mono_ms());
}

static void op_end_txn(struct fnl_txnd *t)
{
	struct fnl_kclient *kc = fnl_txnd_node_kc(t, t->txn_coord);
	int16_t v = fnl_txnd_ver(t, FNL_API_END_TXN), err, epoch;
	int64_t pid;
	size_t bl;
	bool commit = t->txn.state == FNL_TXN_COMMITTING;
	if (!kc) {
		t->txn.need_txn_coord = true;
		io_err(t);
		return;
	}
	int n = fnl_enc_end_txn_req(kc->buf, kc->buf_bytes, v, kc->corr++, t->cfg->client_id,
	                            t->cfg->txn_id, t->txn.producer_id, t->txn.epoch, commit);
	const uint8_t *b = fnl_txnd_request(kc, n, FNL_API_END_TXN, v, &bl);
	if (!b || fnl_dec_end_txn(b, bl, v, &err, &pid, &epoch, NULL) < 0) {
		io_err(t);
		return;
	}
	if (err)
		fnl_warn("transactions: EndTxn(%s) window=%lld err=%s", commit ? "commit" : "abort",
		         (long long)t->window_no, fnl_err_name(err));
	t->op_err = err;
	fnl_txn_on_end_txn(&t->txn, err, pid, epoch, mono_ms());
}

/* Runs what the state machine asks for until it owes nothing (or funneld stops). */
void fnl_txnd_drive(struct fnl_txnd *t)
{
	for (;;) {
		int64_t wait;
		enum fnl_txn_op op = fnl_txn_next(&t->txn, mono_ms(), true, &wait);
		switch (op) {
		case FNL_TXN_OP_NONE:
			if (wait < 0 || atomic_load_explicit(&t->stop, memory_order_relaxed))
				return;
			sleep_ms(wait);
			continue;
		case FNL_TXN_OP_FIND_TXN_COORD:
		case FNL_TXN_OP_FIND_GROUP_COORD:
			op_find_coord(t, op);
			break;
		case FNL_TXN_OP_INIT_PID:
			op_init_pid(t);
			break;
		case FNL_TXN_OP_ADD_PARTITIONS:
			op_add_partitions(t);
			break;
		case FNL_TXN_OP_ADD_OFFSETS:
			op_add_offsets(t);
			break;
		case FNL_TXN_OP_TXN_OFFSET_COMMIT:
			op_offset_commit(t);
			break;
		case FNL_TXN_OP_END_TXN:
			op_end_txn(t);
			break;
		default:
			return;
		}
		if (t->trace) /* tests check the protocol order in it */
			fprintf(t->trace, "%s %s %s\n", fnl_txn_op_name(op),
			        fnl_txn_state_name(t->txn.state),
			        t->op_err < 0 ? "no_answer" : fnl_err_name(t->op_err)),
			    fflush(t->trace);
		fnl_debug("transactions: op=%s state=%s err=%s", fnl_txn_op_name(op),
		          fnl_txn_state_name(t->txn.state),
		          t->op_err < 0 ? "no answer" : fnl_err_name(t->op_err));
	}
}

/* ---- start-up of the producer ---- */

struct fetch_seen {
	int64_t best;
	char md[FNL_TXR_WINDOW_MAX * 32];
	int mdl;
	int16_t err;
};

static void on_offset(void *ctx, const char *tn, int tl, int32_t p, int64_t off, const char *md,
                      int mdl, int16_t err)
{
	struct fetch_seen *f = ctx;
	(void)tn;
	(void)tl;
	(void)p;
	if (err) {
		if (err == 88) /* UNSTABLE_OFFSET_COMMIT: a commit is being completed; again */
			f->err = err;
		return;
	}
	if (off > f->best && (size_t)mdl < sizeof(f->md)) {
		f->best = off;
		memcpy(f->md, md, (size_t)mdl);
		f->mdl = mdl;
	}
}

/* Reads the last committed window (of this funneld's predecessors): its number continues,
 * its commits are settled as committed. 0, or -1 (try again later; not ready meanwhile). */
static int fetch_last_window(struct fnl_txnd *t)
{
	size_t bl;
	int16_t v = fnl_txnd_ver(t, FNL_API_FIND_COORDINATOR);
	struct coord_seen s = {-1, -1, t};
	int n = fnl_enc_find_coordinator_req(t->boot.buf, t->boot.buf_bytes, v, t->boot.corr++,
	                                     t->cfg->client_id, t->rgroup, FNL_COORD_GROUP);
	const uint8_t *b = fnl_txnd_request(&t->boot, n, FNL_API_FIND_COORDINATOR, v, &bl);
	if (!b || fnl_dec_find_coordinator(b, bl, v, on_coord, &s, NULL) < 0 || s.err) {
		snprintf(t->why, sizeof(t->why), "FindCoordinator(%s) failed: %s", t->rgroup,
		         b ? fnl_err_name(s.err) : "no answer");
		return -1;
	}
	struct fnl_kclient *kc = fnl_txnd_node_kc(t, s.node);
	if (!kc)
		return -1;
	struct fetch_seen f = {.best = -1};
	int16_t top = 0;
	n = fnl_enc_offset_fetch_all(kc->buf, kc->buf_bytes, kc->corr++, t->cfg->client_id,
	                             t->rgroup);
	b = fnl_txnd_request(kc, n, 9 /* OffsetFetch */, 2, &bl);
	/* GROUP_ID_NOT_FOUND (69): no window was ever committed */
	if (!b || fnl_dec_offset_fetch(b, bl, on_offset, &f, &top) < 0 || (top && top != 69) ||
	    f.err) {
		snprintf(t->why, sizeof(t->why), "OffsetFetch(%s) failed: %s", t->rgroup,
		         fnl_err_name(top     ? top
		                      : f.err ? f.err
		                              : -1));
		return -1;
	}
	if (f.best >= 0) {
		if (fnl_txr_parse(f.md, (size_t)f.mdl, &t->done) < 0)
			fnl_warn("transactions: the last window's record is malformed group=%s",
			         t->rgroup);
		if (f.best > t->window_no)
			t->window_no = f.best;
	}
	fnl_info("transactions: last committed window=%lld commits=%u group=%s", (long long)f.best,
	         t->done.n, t->rgroup);
	return 0;
}

void fnl_txnd_try_init(struct fnl_txnd *t)
{
	if (t->ready || t->txn.state == FNL_TXN_FATAL_ERROR || mono_ms() < t->init_at_ms)
		return;
	t->init_at_ms = mono_ms() + 1000;
	if (fnl_txnd_metadata(t, NULL, 0) < 0) {
		fnl_warn("transactions: cluster not reachable yet: %s", t->why);
		return;
	}
	if (t->txn.state == FNL_TXN_UNINITIALIZED)
		fnl_txn_init_transactions(&t->txn);
	else if (t->txn.state == FNL_TXN_ABORTABLE_ERROR || t->txn.state == FNL_TXN_IN_TXN)
		fnl_txn_abort(&t->txn); /* a window left half-ended: end it first */
	fnl_txnd_drive(t);
	if (t->txn.state == FNL_TXN_READY && !t->fetched) {
		if (fetch_last_window(t) < 0) {
			fnl_warn("transactions: cannot read the last committed window yet: %s",
			         t->why);
			return;
		}
		t->fetched = true;
	}
	if (t->txn.state == FNL_TXN_READY) {
		t->ready = true;
		t->why[0] = '\0';
		fnl_info("transactions ready transactional.id=%s pid=%lld epoch=%d socket=%s",
		         t->cfg->txn_id, (long long)t->txn.producer_id, t->txn.epoch, t->path);
	} else if (t->txn.state == FNL_TXN_FATAL_ERROR) {
		fnl_txn_describe(&t->txn, t->cfg->txn_id, t->why, sizeof(t->why));
		fnl_err("transactions: %s", t->why);
	}
}
