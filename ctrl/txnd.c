/* txnd.c - funneld's transaction thread (txnd.h): client transactions in daemon-wide windows.
 *
 * Loop: poll the transaction socket and the clients' connections; read HELLOs and whole
 * COMMITs (into the window buffer); when the window holds commits, run it as one Kafka
 * transaction and answer each commit; commits that arrive meanwhile wait in their sockets
 * for the next window. The Kafka side is the transaction state machine (txn.h) driven over
 * blocking connections (kclient.h), as tests/integration/txn_driver.c drives it, but
 * recovering from errors instead of exiting. Protocol: KIP-98 (TV1: Produce <= 11,
 * EndTxn <= 4, TxnOffsetCommit <= 4; sequences run on per partition while the epoch lasts),
 * which every broker with transactions speaks.
 *
 * Window layout (all allocated at start): wbuf holds the commit bodies back to back; recs[]
 * indexes their records, linked per partition (wpart.head/tail, rec.next); arena holds the
 * RecordBatches built from them, batch[] their places. A window's records keep each client's
 * order per partition, and clients follow each other in arrival order.
 */
#include "ctrl/txnd.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrl/log.h"
#include "ctrl/txnd_int.h"
#include "dataplane/kafka/recbatch.h"
#include "dataplane/partition/partition.h"
#include "dataplane/producer/errtab.h"
#include "dataplane/ring/ring.h"

/* [u16 len][bytes] -> NUL-terminated copy in scratch; NULL for a null string. -1 malformed. */
static int get_str(const uint8_t **p, const uint8_t *end, uint8_t *scr, size_t *so, size_t scap,
                   const char **out)
{
	uint16_t n;
	if (end - *p < 2)
		return -1;
	memcpy(&n, *p, 2);
	*p += 2;
	if (n == FNL_TXW_NULL_STR) {
		*out = NULL;
		return 0;
	}
	if (end - *p < n || *so + n + 1 > scap)
		return -1;
	memcpy(scr + *so, *p, n);
	scr[*so + n] = 0;
	*out = (const char *)scr + *so;
	*so += (size_t)n + 1;
	*p += n;
	return 0;
}

/* Parses one serialized group (txnwire.h) at *p; advances *p. 0 or -1 (malformed / too big). */
static int parse_group(struct fnl_txnd *t, const uint8_t **p, const uint8_t *end, struct pgroup *pg)
{
	size_t so = 0, cap = sizeof(t->scratch);
	uint32_t n;
	const char *topic;
	if (get_str(p, end, t->scratch, &so, cap, &pg->g.group_id) < 0 || !pg->g.group_id ||
	    end - *p < 4)
		return -1;
	memcpy(&pg->g.generation_id, *p, 4);
	*p += 4;
	if (get_str(p, end, t->scratch, &so, cap, &pg->g.member_id) < 0 || !pg->g.member_id ||
	    get_str(p, end, t->scratch, &so, cap, &pg->g.group_instance_id) < 0 || end - *p < 4)
		return -1;
	memcpy(&n, *p, 4);
	*p += 4;
	if (n > 1024)
		return -1;
	pg->ntos = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct fnl_txn_offset *o = &pg->offs[i];
		if (get_str(p, end, t->scratch, &so, cap, &topic) < 0 || !topic || end - *p < 12)
			return -1;
		memcpy(&o->partition, *p, 4);
		memcpy(&o->offset, *p + 4, 8);
		*p += 12;
		o->leader_epoch = -1;
		if (get_str(p, end, t->scratch, &so, cap, &o->metadata) < 0)
			return -1;
		if (pg->ntos == 0 || strcmp(pg->tos[pg->ntos - 1].topic, topic) != 0) {
			if (pg->ntos == 256)
				return -1;
			pg->tos[pg->ntos++] = (struct fnl_txn_topic_offsets){topic, o, 0};
		}
		pg->tos[pg->ntos - 1].noffsets++;
	}
	return 0;
}

/* ---- the window ---- */

/* Replies go out at once as far as the client's socket takes them; the rest waits in the
 * conn's out (txnd_int.h) and goes as the socket drains, so a client that does not read
 * (its fnl_txn_commit timed out) holds up no other client and no window. A client that
 * reads nothing of it for REPLY_KEEP_MS is closed (its next fnl_txn_commit learns the
 * outcome by RESEND); REPLY_KEEP_BYTES bounds what waits over all clients. */
#define REPLY_KEEP_MS    30000
#define REPLY_KEEP_BYTES ((size_t)64 << 20)

static void conn_close(struct fnl_txnd *t, int ci);

/* What iov[0..n) holds, after what already waits in c->out. 0 or -ENOMEM. */
static int out_keep(struct fnl_txnd *t, struct conn *c, const struct iovec *iov, int n)
{
	size_t add = 0, keep = c->out_len - c->out_off;
	for (int i = 0; i < n; i++)
		add += iov[i].iov_len;
	if (t->out_bytes + add > REPLY_KEEP_BYTES)
		return -ENOMEM;
	uint8_t *b = malloc(keep + add);
	if (!b)
		return -ENOMEM;
	if (keep)
		memcpy(b, c->out + c->out_off, keep);
	for (int i = 0; i < n; i++) {
		memcpy(b + keep, iov[i].iov_base, iov[i].iov_len);
		keep += iov[i].iov_len;
	}
	if (!c->out)
		c->out_until_ms = mono_ms() + REPLY_KEEP_MS;
	free(c->out);
	c->out = b;
	c->out_off = 0;
	c->out_len = keep;
	t->out_bytes += add;
	return 0;
}

/* Sends what waits in c->out as far as the socket takes it (POLLOUT); closes the
 * connection if it failed. */
static void out_flush(struct fnl_txnd *t, int ci)
{
	struct conn *c = &t->conns[ci];
	while (c->out_off < c->out_len) {
		ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		if (k < 0) {
			conn_close(t, ci);
			return;
		}
		c->out_off += (size_t)k;
		t->out_bytes -= (size_t)k;
		c->out_until_ms = mono_ms() + REPLY_KEEP_MS; /* it reads */
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

/* Closes the clients that read none of their waiting answer for REPLY_KEEP_MS. */
static void out_expire(struct fnl_txnd *t)
{
	if (!t->out_bytes)
		return;
	int64_t now = mono_ms();
	for (int ci = 0; ci < t->nconns; ci++)
		if (t->conns[ci].fd >= 0 && t->conns[ci].out && now >= t->conns[ci].out_until_ms) {
			fnl_warn("transactions: a client read none of its answer for %d s; closing "
			         "its connection (its next fnl_txn_commit learns the outcome)",
			         REPLY_KEEP_MS / 1000);
			conn_close(t, ci);
		}
}

/* A reply (header, RESULT, offsets) to conn ci, after what waits for it. 0 or -1. */
static int send_result(struct fnl_txnd *t, int ci, struct iovec *iov, int n)
{
	struct conn *c = &t->conns[ci];
	while (n > 0 && !c->out) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t k = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			break;
		if (k < 0)
			return -1;
		n = fnl_txw_iov_advance(&iov, n, (size_t)k);
	}
	return n > 0 && out_keep(t, c, iov, n) < 0 ? -1 : 0;
}

static void reply_offs(struct fnl_txnd *t, int ci, uint32_t seq, int cls, int16_t kerr,
                       const char *msg, uint32_t noffs)
{
	if (ci < 0 || t->conns[ci].fd < 0)
		return;
	struct fnl_txw_hdr h;
	struct fnl_txw_result r;
	memset(&r, 0, sizeof(r));
	size_t ob = (size_t)noffs * sizeof(struct fnl_txw_roff);
	h = (struct fnl_txw_hdr){FNL_TXW_MAGIC, FNL_TXW_RESULT, FNL_TXW_VERSION,
	                         (uint32_t)(sizeof(r) + ob), seq};
	r.cls = cls;
	r.kafka_err = kerr;
	r.window = t->window_no;
	snprintf(r.msg, sizeof(r.msg), "%s", msg ? msg : "");
	struct iovec iov[3] = {{&h, sizeof(h)}, {&r, sizeof(r)}, {t->roff, ob}};
	if (send_result(t, ci, iov, noffs ? 3 : 2) < 0)
		conn_close(t, ci);
}

static void reply(struct fnl_txnd *t, int ci, uint32_t seq, int cls, int16_t kerr, const char *msg)
{
	reply_offs(t, ci, seq, cls, kerr, msg, 0);
}

/* A validated record at p (ring format). 0 or -1. */
static int rec_view(const uint8_t *p, size_t left, struct fnl_rec_view *r)
{
	struct fnl_rec_hdr h;
	if (left < FNL_REC_HDR_BYTES)
		return -1;
	memcpy(&h, p, sizeof(h));
	if (h.type != FNL_REC_DATA || h.len > left || h.len < FNL_REC_HDR_BYTES || (h.len & 7u) ||
	    (h.flags & ~FNL_REC_F_ALL) ||
	    fnl_rec_size(h.key_len, h.value_len, h.headers_len) != h.len ||
	    ((h.flags & FNL_REC_F_KEY_NULL) && h.key_len) ||
	    ((h.flags & FNL_REC_F_VALUE_NULL) && h.value_len) || h.key_len > INT32_MAX ||
	    h.value_len > INT32_MAX)
		return -1;
	r->h = h;
	r->key = (h.flags & FNL_REC_F_KEY_NULL) ? NULL : p + FNL_REC_HDR_BYTES;
	r->value = (h.flags & FNL_REC_F_VALUE_NULL) ? NULL : p + FNL_REC_HDR_BYTES + h.key_len;
	r->headers = p + FNL_REC_HDR_BYTES + h.key_len + h.value_len;
	return 0;
}

static int wpart_of(struct fnl_txnd *t, int ti, int32_t p)
{
	static int last = -1; /* consecutive records mostly go to one partition */
	if (last >= 0 && last < t->nwparts && t->wparts[last].ti == ti && t->wparts[last].p == p)
		return last;
	for (int i = 0; i < t->nwparts; i++)
		if (t->wparts[i].ti == ti && t->wparts[i].p == p)
			return last = i;
	if (t->nwparts == MAX_WPARTS)
		return -1;
	t->wparts[t->nwparts] = (struct wpart){ti, p, UINT32_MAX, UINT32_MAX, 0, 0, false, 0, -1};
	return last = t->nwparts++;
}

/* Reads one commit's topic table and records: every record gets its partition and joins its
 * partition's list; the commit's groups are noted. 0, or -1 with why (the commit is refused
 * alone; nothing of it stays in the window). */
static int take_commit(struct fnl_txnd *t, struct entry *e, char *why, size_t cap)
{
	const uint8_t *p = t->wbuf + e->off, *end = p + e->len;
	struct fnl_txw_commit cm;
	int ent = (int)(e - t->entries);
	static uint32_t ids[MAX_CTOPICS];
	static int tis[MAX_CTOPICS];
	const char *names[MAX_CTOPICS];
	static char namebuf[MAX_CTOPICS][256];
	int missing = 0;

	if (e->len < sizeof(cm))
		return snprintf(why, cap, "malformed commit"), -1;
	memcpy(&cm, p, sizeof(cm));
	p += sizeof(cm);
	if (cm.ntopics > MAX_CTOPICS)
		return snprintf(why, cap, "a transaction names more than %d topics", MAX_CTOPICS),
		       -1;
	for (uint32_t i = 0; i < cm.ntopics; i++) {
		uint16_t nl;
		if (end - p < 6)
			return snprintf(why, cap, "malformed commit"), -1;
		memcpy(&ids[i], p, 4);
		memcpy(&nl, p + 4, 2);
		p += 6;
		if (end - p < nl || nl >= 256)
			return snprintf(why, cap, "malformed commit"), -1;
		memcpy(namebuf[i], p, nl);
		namebuf[i][nl] = 0;
		p += nl;
		tis[i] = fnl_txnd_topic_find(t, namebuf[i], nl);
		if (tis[i] < 0)
			names[missing++] = namebuf[i];
	}
	if (missing) {
		fnl_txnd_metadata(t, names, missing);
		for (uint32_t i = 0; i < cm.ntopics; i++)
			if (tis[i] < 0)
				tis[i] = fnl_txnd_topic_find(t, namebuf[i], strlen(namebuf[i]));
	}
	if ((size_t)(end - p) < cm.rec_bytes)
		return snprintf(why, cap, "malformed commit"), -1;
	const uint8_t *rp = p, *rend = p + cm.rec_bytes;
	uint32_t first = t->nrecs;
	int nw0 = t->nwparts;
	for (int k = 0; k < t->ntopics; k++)
		t->topics[k].sticky = -1;
	uint32_t last_i = 0;
	while (rp < rend) {
		struct fnl_rec_view r;
		uint32_t i;
		if (rec_view(rp, (size_t)(rend - rp), &r) < 0 || t->nrecs == t->recs_cap)
			goto bad;
		i = last_i < cm.ntopics && ids[last_i] == r.h.topic_id ? last_i : 0;
		for (; i < cm.ntopics && ids[i] != r.h.topic_id; i++)
			;
		last_i = i;
		if (i == cm.ntopics)
			goto bad;
		if (tis[i] < 0) {
			snprintf(why, cap, "topic '%s' is not known to the cluster", namebuf[i]);
			goto undo;
		}
		struct ttopic *tp = &t->topics[tis[i]];
		int32_t part = r.h.partition;
		if (part >= tp->nparts) {
			snprintf(why, cap, "topic '%s' has no partition %d", tp->name, part);
			goto undo;
		}
		if (part < 0 && r.key)
			part = fnl_partition_key(r.key, r.h.key_len, tp->nparts);
		else if (part < 0) {
			if (tp->sticky < 0)
				tp->sticky = (int32_t)((uint64_t)(t->window_no + tis[i]) %
				                       (uint64_t)tp->nparts);
			part = tp->sticky;
		}
		int w = wpart_of(t, tis[i], part);
		if (w < 0) {
			snprintf(why, cap, "a window touches more than %d partitions", MAX_WPARTS);
			goto undo;
		}
		t->recs[t->nrecs] =
		    (struct rec){(uint32_t)(rp - t->wbuf), UINT32_MAX, part, ent, -1};
		struct wpart *wp = &t->wparts[w];
		if (wp->tail == UINT32_MAX)
			wp->head = t->nrecs;
		else
			t->recs[wp->tail].next = t->nrecs;
		wp->tail = t->nrecs++;
		rp += r.h.len;
	}
	p = rend;
	for (uint32_t g = 0; g < cm.ngroups; g++) {
		const uint8_t *g0 = p;
		if (t->ngroups == MAX_GROUPS || parse_group(t, &p, end, &t->pg) < 0)
			goto bad;
		t->groups[t->ngroups++] =
		    (struct group){(size_t)(g0 - t->wbuf), (size_t)(p - g0), ent};
	}
	e->rec0 = first;
	e->nrec = t->nrecs - first;
	return 0;
bad:
	snprintf(why, cap, "malformed or oversized commit");
undo:
	/* unlink this commit's records from the lists (they are the lists' tails) */
	t->nrecs = first;
	for (int w = 0; w < t->nwparts; w++) {
		struct wpart *wp = &t->wparts[w];
		if (wp->head != UINT32_MAX && wp->head >= first) {
			wp->head = wp->tail = UINT32_MAX;
			continue;
		}
		uint32_t last = wp->head;
		while (last != UINT32_MAX && t->recs[last].next != UINT32_MAX &&
		       t->recs[last].next < first)
			last = t->recs[last].next;
		if (last != UINT32_MAX) {
			t->recs[last].next = UINT32_MAX;
			wp->tail = last;
		}
	}
	(void)nw0;
	return -1;
}

static int cmp_wpart(const void *a, const void *b)
{
	const struct wpart *x = a, *y = b;
	if (x->ti != y->ti)
		return x->ti - y->ti;
	return x->p < y->p ? -1 : x->p > y->p;
}

/* Compresses a batch's records in place (compression.type, as the data plane does: kept
 * uncompressed when that is not smaller). Returns the codec used; rw->len is updated. */
static int compress_batch(struct fnl_txnd *t, struct fnl_rbw *rw)
{
	int codec = t->cfg->compression_type;
	if (codec == FNL_CODEC_NONE || !t->zc)
		return FNL_CODEC_NONE;
	int level = codec == FNL_CODEC_ZSTD   ? t->cfg->compression_zstd_level
	            : codec == FNL_CODEC_GZIP ? t->cfg->compression_gzip_level
	                                      : t->cfg->compression_lz4_level;
	long z = fnl_compress(t->zc, (enum fnl_codec)codec, level, rw->buf, rw->len, t->zscratch,
	                      t->zcap);
	if (z <= 0 || (size_t)z >= rw->len)
		return FNL_CODEC_NONE;
	memcpy(rw->buf, t->zscratch, (size_t)z);
	rw->len = (size_t)z;
	return codec;
}

/* Builds the window's batches: per partition, its records in order, cut at the request
 * size. 0 or -1 (the arena is full: cannot happen within the bounds, see fnl_txnd_start). */
static int build_batches(struct fnl_txnd *t)
{
	size_t ao = 0, bcap = (size_t)t->cfg->max_request_size;
	struct fnl_rb_header_kv hk[MAX_HEADERS];
	if (bcap > REQ_CAP / 2)
		bcap = REQ_CAP / 2;
	t->nbatches = 0;
	for (int w = 0; w < t->nwparts; w++) {
		struct wpart *wp = &t->wparts[w];
		struct ttopic *tp = &t->topics[wp->ti];
		struct fnl_rbw rw;
		bool open = false;
		wp->b0 = t->nbatches;
		wp->nb = 0;
		for (uint32_t ri = wp->head; ri != UINT32_MAX;) {
			struct fnl_rec_view r = {0};
			if (rec_view(t->wbuf + t->recs[ri].off, FNL_REC_HDR_BYTES + (1u << 31),
			             &r) < 0)
				return -1; /* validated when the commit was taken */
			if (!open) {
				size_t room = t->acap - ao;
				if (room < FNL_RB_HEADER_BYTES + 64 ||
				    t->nbatches == t->batches_cap)
					return -1;
				room -= FNL_RB_HEADER_BYTES;
				fnl_rbw_init(&rw, t->arena + ao + FNL_RB_HEADER_BYTES,
				             room < bcap ? room : bcap, r.h.timestamp_ms);
				open = true;
			}
			int nh = 0;
			uint32_t hp = 0;
			struct fnl_rec_kv kv;
			while (nh < MAX_HEADERS && fnl_rec_hdrs_next(&r, &hp, &kv) == 1)
				hk[nh++] = (struct fnl_rb_header_kv){kv.name, kv.name_len, kv.value,
				                                     kv.value_len};
			if (nh < r.h.header_count)
				return -1;
			int rc = fnl_rbw_append(&rw, r.h.timestamp_ms, r.key,
			                        r.key ? (int32_t)r.h.key_len : -1, r.value,
			                        r.value ? (int32_t)r.h.value_len : -1, hk, nh);
			if (rc == -ENOSPC && rw.count > 0) {
				goto seal; /* this record starts the next batch */
			}
			if (rc < 0)
				return -1;
			ri = t->recs[ri].next;
			if (ri != UINT32_MAX)
				continue;
		seal:;
			int codec = compress_batch(t, &rw);
			struct fnl_rb_meta m = {.codec = (int16_t)codec,
			                        .producer_id = t->txn.producer_id,
			                        .producer_epoch = t->txn.epoch,
			                        .base_sequence = tp->seq[wp->p],
			                        .record_count = rw.count,
			                        .base_ts = rw.base_ts,
			                        .max_ts = rw.max_ts};
			/* sequences of the following batches of this window; taken back by
			 * produce() if a batch is not stored */
			tp->seq[wp->p] += rw.count;
			uint8_t *bp = t->arena + ao;
			fnl_rb_write_header(bp, rw.len, &m);
			size_t len = FNL_RB_HEADER_BYTES + rw.len;
			fnl_rb_set_transactional(bp, len);
			t->batches[t->nbatches++] = (struct wbatch){ao, len, rw.count, -1};
			wp->nb++;
			ao += (len + 7) & ~(size_t)7;
			open = false;
		}
	}
	return 0;
}

struct presp {
	struct fnl_txnd *t;
	int *sel;
	int nsel;
};

static void on_presp(void *ctx, const char *tn, int tl, int32_t p, int16_t err, int64_t base,
                     int64_t lat, int64_t lso)
{
	struct presp *s = ctx;
	(void)lat;
	(void)lso;
	for (int i = 0; i < s->nsel; i++) {
		struct wpart *wp = &s->t->wparts[s->sel[i]];
		const char *name = s->t->topics[wp->ti].name;
		if (wp->p == p && (int)strlen(name) == tl && memcmp(name, tn, (size_t)tl) == 0) {
			wp->err = err;
			wp->base = base;
		}
	}
}

/* One Produce request to one leader with batch r of the selected partitions. Returns 0 when
 * it was answered (per-partition errors in wparts[].err), -1 on an I/O failure. */
static int produce_one(struct fnl_txnd *t, int32_t leader, int *sel, int nsel, uint32_t r)
{
	struct fnl_kclient *kc = fnl_txnd_node_kc(t, leader);
	static uint8_t scratch[64 * 1024];
	static struct iovec iov[2 * MAX_WPARTS + 8];
	struct fnl_preq q;
	int16_t v = fnl_txnd_ver(t, FNL_API_PRODUCE);
	int ntop = 0;
	if (!kc)
		return -1;
	for (int i = 0; i < nsel; i++)
		if (i == 0 || t->wparts[sel[i]].ti != t->wparts[sel[i - 1]].ti)
			ntop++;
	if (fnl_preq_begin(&q, scratch, sizeof(scratch), iov, (int)(sizeof(iov) / sizeof(iov[0])),
	                   v, kc->corr++, t->cfg->client_id, t->cfg->txn_id, -1,
	                   t->cfg->request_timeout_ms, ntop) < 0)
		return -1;
	for (int i = 0; i < nsel;) {
		int j = i;
		while (j < nsel && t->wparts[sel[j]].ti == t->wparts[sel[i]].ti)
			j++;
		const char *name = t->topics[t->wparts[sel[i]].ti].name;
		fnl_preq_topic(&q, name, (int)strlen(name), j - i);
		for (; i < j; i++) {
			struct wpart *wp = &t->wparts[sel[i]];
			struct wbatch *b = &t->batches[wp->b0 + r];
			wp->err = -1; /* until answered */
			wp->base = -1;
			fnl_preq_partition(&q, wp->p, t->arena + b->off, (uint32_t)b->len);
		}
	}
	int niov = fnl_preq_end(&q);
	if (niov < 0)
		return -1;
	size_t len = 0;
	for (int i = 0; i < niov; i++) {
		if (len + iov[i].iov_len > kc->buf_bytes)
			return -1;
		memcpy(kc->buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	size_t bl;
	const uint8_t *b = fnl_txnd_request(kc, (int)len, FNL_API_PRODUCE, v, &bl);
	struct presp s = {t, sel, nsel};
	if (!b || fnl_dec_produce(b, bl, v, on_presp, &s, NULL) < 0)
		return -1;
	if (t->trace)
		fprintf(t->trace, "Produce v%d partitions=%d\n", v, nsel), fflush(t->trace);
	fnl_debug("transactions: op=PRODUCE v%d node=%d partitions=%d", v, leader, nsel);
	return 0;
}

/* A Produce error that is the content's own (too large, invalid, not allowed on its topic)
 * is blamed on one commit of the refused batch (t->culprit): for a size error the one with
 * the largest record, else the first; the window is then sent again without it. Other
 * errors are the window's. */
static void blame_batch(struct fnl_txnd *t, const struct wpart *wp, uint32_t r)
{
	int16_t err = wp->err;
	bool size = err == 10 || err == 18; /* MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE */
	if (!size && err != 87 && err != 2 && err != 32 && err != 29 && err != 17)
		return; /* INVALID_RECORD, CORRUPT_MESSAGE, INVALID_TIMESTAMP,
		         * TOPIC_AUTHORIZATION_FAILED, INVALID_TOPIC_EXCEPTION */
	uint32_t ri = wp->head, skip = 0, biggest = 0;
	for (uint32_t k = 0; k < r; k++)
		skip += (uint32_t)t->batches[wp->b0 + k].count;
	for (; skip && ri != UINT32_MAX; skip--)
		ri = t->recs[ri].next;
	t->culprit = ri != UINT32_MAX ? t->recs[ri].ent : -1;
	for (int32_t j = 0; size && j < t->batches[wp->b0 + r].count && ri != UINT32_MAX; j++) {
		struct fnl_rec_hdr h;
		memcpy(&h, t->wbuf + t->recs[ri].off, sizeof(h));
		if (h.len > biggest) {
			biggest = h.len;
			t->culprit = t->recs[ri].ent;
		}
		ri = t->recs[ri].next;
	}
}

/* AddPartitionsToTxn refused a topic (TOPIC_AUTHORIZATION_FAILED): blamed on the first commit
 * with records in it (each such commit is dropped in turn). */
static void blame_topic(struct fnl_txnd *t, const char *topic)
{
	if (!topic[0] || t->txn.state == FNL_TXN_FATAL_ERROR)
		return;
	int best = -1;
	for (int w = 0; w < t->nwparts; w++) {
		const struct wpart *wp = &t->wparts[w];
		if (wp->head != UINT32_MAX && strcmp(t->topics[wp->ti].name, topic) == 0 &&
		    (best < 0 || t->recs[wp->head].ent < best))
			best = t->recs[wp->head].ent;
	}
	t->culprit = best;
}

/* After EndTxn(commit): every record's offset, from its batch's base offset. */
static void assign_offsets(struct fnl_txnd *t)
{
	for (int w = 0; w < t->nwparts; w++) {
		struct wpart *wp = &t->wparts[w];
		uint32_t ri = wp->head;
		for (uint32_t k = 0; k < wp->nb; k++) {
			const struct wbatch *b = &t->batches[wp->b0 + k];
			for (int32_t j = 0; j < b->count && ri != UINT32_MAX; j++) {
				t->recs[ri].offset = b->base >= 0 ? b->base + j : -1;
				ri = t->recs[ri].next;
			}
		}
	}
}

/* Sends every batch: round r carries batch r of each partition, one request per leader
 * (split at the request size). A retriable error resends (same sequence; the broker keeps
 * one copy); anything else ends the window through the state machine. 0 or -1. */
static int produce(struct fnl_txnd *t)
{
	static int sel[MAX_WPARTS];
	uint32_t rounds = 0;
	for (int w = 0; w < t->nwparts; w++)
		if (t->wparts[w].nb > rounds)
			rounds = t->wparts[w].nb;
	for (uint32_t r = 0; r < rounds; r++) {
		for (int w = 0; w < t->nwparts; w++)
			t->wparts[w].pending = t->wparts[w].nb > r;
		for (int tries = 0;; tries++) {
			bool left = false, refresh = false;
			for (int w = 0; w < t->nwparts; w++) {
				if (!t->wparts[w].pending)
					continue;
				left = true;
				int32_t leader = t->topics[t->wparts[w].ti].leader[t->wparts[w].p];
				int nsel = 0;
				size_t bytes = 0;
				for (int x = w; x < t->nwparts; x++) {
					struct wpart *wp = &t->wparts[x];
					size_t bl = t->batches[wp->b0 + r].len;
					if (!wp->pending ||
					    t->topics[wp->ti].leader[wp->p] != leader ||
					    (nsel && bytes + bl > REQ_CAP / 2))
						continue;
					sel[nsel++] = x;
					bytes += bl;
				}
				if (leader < 0 || produce_one(t, leader, sel, nsel, r) < 0) {
					refresh = true;
					for (int i = 0; i < nsel; i++)
						t->wparts[sel[i]].pending = false;
					continue;
				}
				for (int i = 0; i < nsel; i++) {
					struct wpart *wp = &t->wparts[sel[i]];
					enum fnl_err_class c = fnl_err_class_produce(wp->err);
					wp->pending = false;
					if (c == FNL_ERR_OK || c == FNL_ERR_DUPLICATE) {
						t->batches[wp->b0 + r].base = wp->base;
						continue;
					}
					if (c == FNL_ERR_RETRY || c == FNL_ERR_RETRY_REFRESH) {
						refresh = true;
						continue;
					}
					fnl_warn("transactions: produce %s-%d window=%lld err=%s",
					         t->topics[wp->ti].name, wp->p,
					         (long long)t->window_no, fnl_err_name(wp->err));
					blame_batch(t, wp, r);
					fnl_txn_on_produce_error(&t->txn, wp->err);
					/* batches after this one were numbered already */
					fnl_txn_on_produce_lost(&t->txn);
					return -1;
				}
			}
			if (!left && !refresh)
				break;
			if (!refresh)
				continue;
			/* resend what failed or was not answered, after a metadata refresh */
			if (tries + 1 >= PRODUCE_TRIES) {
				fnl_txn_on_produce_lost(&t->txn); /* their fate is unknown */
				return -1;
			}
			sleep_ms(t->cfg->retry_backoff_ms);
			const char *names[MAX_TOPICS];
			int nn = 0;
			for (int w = 0; w < t->nwparts; w++) {
				struct wpart *wp = &t->wparts[w];
				wp->pending = wp->nb > r && (wp->err != 0 && wp->err != 46);
				if (wp->pending &&
				    (nn == 0 || names[nn - 1] != t->topics[wp->ti].name))
					names[nn++] = t->topics[wp->ti].name;
			}
			fnl_txnd_metadata(t, names, nn);
		}
	}
	return 0;
}

/* The window's own offset (txnd_resolve.h): group rgroup, partition 0 of a topic the window
 * wrote (or sent offsets for), offset = the window's number, metadata = its commits. 0, or -1
 * when the transaction failed. A window that names no topic (empty commits) records nothing:
 * committing those again stores nothing twice. */
static int window_record(struct fnl_txnd *t)
{
	static struct fnl_txr_id ids[FNL_TXR_WINDOW_MAX];
	static char md[FNL_TXR_WINDOW_MAX * 32], topic[256];
	int n = 0;
	topic[0] = '\0';
	if (t->nwparts)
		snprintf(topic, sizeof(topic), "%s", t->topics[t->wparts[0].ti].name);
	else if (t->ngroups && t->pg.ntos) /* t->pg: the last group sent */
		snprintf(topic, sizeof(topic), "%s", t->pg.tos[0].topic);
	if (!topic[0])
		return 0;
	for (int i = 0; i < t->nentries && n < FNL_TXR_WINDOW_MAX; i++)
		if (!t->entries[i].bad)
			ids[n++] = (struct fnl_txr_id){t->entries[i].uid, t->entries[i].cseq};
	if (fnl_txr_format(ids, n, md, sizeof(md)) < 0)
		return 0;
	t->pg.g = (struct fnl_txn_group){t->rgroup, -1, "", NULL};
	t->pg.offs[0] = (struct fnl_txn_offset){0, t->window_no, -1, md};
	t->pg.tos[0] = (struct fnl_txn_topic_offsets){topic, t->pg.offs, 1};
	t->pg.ntos = 1;
	fnl_txn_send_offsets(&t->txn);
	fnl_txnd_drive(t);
	return t->txn.state == FNL_TXN_IN_TXN ? 0 : -1;
}

/* Runs the window's Kafka transaction. Returns the class for every commit in it, with why. */
static int run_txn(struct fnl_txnd *t, int16_t *kerr, char *why, size_t cap)
{
	*kerr = 0;
	if (fnl_txn_begin(&t->txn, mono_ms()) != FNL_TXN_OK)
		goto failed;
	if (t->nwparts) {
		fnl_txn_add_partitions(&t->txn);
		fnl_txnd_drive(t);
		if (t->txn.state != FNL_TXN_IN_TXN) {
			blame_topic(t, t->denied_topic);
			goto failed;
		}
		if (build_batches(t) < 0) {
			snprintf(why, cap,
			         "the window's batches do not fit funnel.txn.window.bytes");
			fnl_txn_on_produce_lost(&t->txn); /* some sequences were taken */
			goto failed;
		}
		if (produce(t) < 0)
			goto failed;
	}
	for (int g = 0; g < t->ngroups; g++) {
		const uint8_t *p = t->wbuf + t->groups[g].off;
		if (parse_group(t, &p, p + t->groups[g].len, &t->pg) < 0)
			continue; /* checked when the commit was taken */
		fnl_txn_send_offsets(&t->txn);
		fnl_txnd_drive(t);
		if (t->txn.state != FNL_TXN_IN_TXN) {
			/* the group coordinator refused this client's group metadata or offsets
			 * (e.g. ILLEGAL_GENERATION): that commit's own error */
			enum fnl_txn_op op = t->txn.last_err_op;
			if (t->txn.state != FNL_TXN_FATAL_ERROR &&
			    (op == FNL_TXN_OP_TXN_OFFSET_COMMIT || op == FNL_TXN_OP_ADD_OFFSETS ||
			     op == FNL_TXN_OP_FIND_GROUP_COORD))
				t->culprit = t->groups[g].ent;
			goto failed;
		}
	}
	if (window_record(t) < 0)
		goto failed;
	fnl_txn_commit(&t->txn);
	fnl_txnd_drive(t);
	if (t->txn.state == FNL_TXN_READY)
		return FNL_TXW_OK;
failed:
	*kerr = t->txn.last_err;
	if (!why[0])
		fnl_txn_describe(&t->txn, t->cfg->txn_id, why, cap);
	if (t->txn.state == FNL_TXN_FATAL_ERROR) {
		snprintf(t->why, sizeof(t->why), "%s", why);
		fnl_err("transactions: window=%lld failed for good: %s", (long long)t->window_no,
		        why);
		t->ready = false;
		return FNL_TXW_FATAL;
	}
	fnl_warn("transactions: window=%lld aborted: %s", (long long)t->window_no, why);
	fnl_txn_abort(&t->txn);
	fnl_txnd_drive(t);
	if (t->txn.state == FNL_TXN_FATAL_ERROR) {
		t->ready = false;
		fnl_txn_describe(&t->txn, t->cfg->txn_id, t->why, sizeof(t->why));
		return FNL_TXW_FATAL;
	}
	if (t->txn.state != FNL_TXN_READY)
		t->ready = false; /* re-initialized at the next window */
	/* the sequences of batches that were not stored are unknown: only an epoch bump
	 * (done by the abort when needed) resets them; otherwise they were all stored */
	return FNL_TXW_ABORTABLE;
}

/* Takes the commits not answered yet into the window: record lists, groups. Returns how
 * many were taken; the others were answered (refused alone, or committed before). */
static int take_window(struct fnl_txnd *t)
{
	char why[FNL_TXW_MSG_BYTES];
	int good = 0;
	t->nrecs = 0;
	t->nwparts = 0;
	t->ngroups = 0;
	for (int i = 0; i < t->nentries; i++) {
		struct entry *e = &t->entries[i];
		int ng = t->ngroups;
		why[0] = 0;
		if (e->bad)
			continue;
		if (e->resend && fnl_txr_has(&t->done, e->uid, e->cseq)) {
			/* its window was committed before its answer was lost: no offsets */
			fnl_info("transactions: a commit sent again was committed before; answered "
			         "without running it again uid=%llx cseq=%u",
			         (unsigned long long)e->uid, e->cseq);
			e->bad = true;
			reply(t, e->ci, e->seq, FNL_TXW_OK, 0, "");
			continue;
		}
		if (take_commit(t, e, why, sizeof(why)) < 0) {
			t->ngroups = ng;
			e->bad = true;
			reply(t, e->ci, e->seq, FNL_TXW_ABORTABLE, 0, why);
			continue;
		}
		good++;
	}
	/* drop partitions whose records all went with refused commits; sort by topic */
	int n = 0;
	for (int w = 0; w < t->nwparts; w++)
		if (t->wparts[w].head != UINT32_MAX)
			t->wparts[n++] = t->wparts[w];
	t->nwparts = n;
	qsort(t->wparts, (size_t)n, sizeof(t->wparts[0]), cmp_wpart);
	return good;
}

static void answer_ok(struct fnl_txnd *t)
{
	assign_offsets(t);
	for (int i = 0; i < t->nentries; i++) {
		struct entry *e = &t->entries[i];
		if (e->bad)
			continue;
		fnl_txr_add(&t->done, e->uid, e->cseq);
		for (uint32_t k = 0; k < e->nrec; k++)
			t->roff[k] = (struct fnl_txw_roff){t->recs[e->rec0 + k].part, 0,
			                                   t->recs[e->rec0 + k].offset};
		reply_offs(t, e->ci, e->seq, FNL_TXW_OK, 0, "", e->nrec);
	}
}

/* Runs the window as one Kafka transaction. An attempt that fails with an abortable error
 * is aborted and the window sent again whole (up to WINDOW_TRIES attempts within
 * WINDOW_RETRY_MS), except that a commit the failure is blamed on (its own content:
 * blame_batch, a refused group) is answered with its error and dropped first. What is left
 * when the attempts run out is answered with the last error. */
#define WINDOW_RETRY_MS 10000
static void run_window(struct fnl_txnd *t)
{
	char why[FNL_TXW_MSG_BYTES];
	t->window_no++;
	if (!t->ready) {
		fnl_txnd_try_init(t);
		int cls = t->txn.state == FNL_TXN_FATAL_ERROR ? FNL_TXW_FATAL : FNL_TXW_RETRIABLE;
		if (!t->ready) {
			for (int i = 0; i < t->nentries; i++)
				reply(t, t->entries[i].ci, t->entries[i].seq, cls, t->txn.last_err,
				      t->why[0] ? t->why : "transactional producer not ready");
			return;
		}
	}
	int64_t t0 = mono_ms();
	for (int tries = 1;;) {
		int good = take_window(t);
		if (!good)
			return;
		int16_t kerr;
		why[0] = 0;
		t->culprit = -1;
		int64_t t1 = mono_ms();
		int cls = run_txn(t, &kerr, why, sizeof(why));
		fnl_debug("transactions: window=%lld attempt=%d commits=%d records=%u "
		          "partitions=%d groups=%d result=%d ms=%lld",
		          (long long)t->window_no, tries, good, t->nrecs, t->nwparts, t->ngroups,
		          cls, (long long)(mono_ms() - t1));
		if (cls == FNL_TXW_OK) {
			answer_ok(t);
			return;
		}
		if (cls == FNL_TXW_ABORTABLE && t->culprit >= 0) {
			struct entry *e = &t->entries[t->culprit];
			fnl_warn("transactions: window=%lld: commit uid=%llx cseq=%u dropped (%s); "
			         "the window's other %d commit(s) are sent again",
			         (long long)t->window_no, (unsigned long long)e->uid, e->cseq, why,
			         good - 1);
			e->bad = true;
			reply(t, e->ci, e->seq, FNL_TXW_ABORTABLE, kerr, why);
		} else if (cls == FNL_TXW_ABORTABLE && tries < WINDOW_TRIES &&
		           mono_ms() - t0 < WINDOW_RETRY_MS) {
			tries++;
			fnl_warn(
			    "transactions: window=%lld sent again whole (attempt %d of %d) after: "
			    "%s",
			    (long long)t->window_no, tries, WINDOW_TRIES, why);
			sleep_ms(t->cfg->retry_backoff_ms);
		} else {
			for (int i = 0; i < t->nentries; i++)
				if (!t->entries[i].bad)
					reply(t, t->entries[i].ci, t->entries[i].seq, cls, kerr,
					      why);
			return;
		}
		if (!t->ready)
			fnl_txnd_try_init(t); /* the abort left no usable producer id */
		if (!t->ready) {
			for (int i = 0; i < t->nentries; i++)
				if (!t->entries[i].bad)
					reply(t, t->entries[i].ci, t->entries[i].seq,
					      t->txn.state == FNL_TXN_FATAL_ERROR
					          ? FNL_TXW_FATAL
					          : FNL_TXW_ABORTABLE,
					      kerr, why);
			return;
		}
	}
}

/* ---- clients ---- */

/* A message must be whole BODY_WAIT_MS after its first byte (libfunnel writes it at
 * once); bodies being read or waiting for a window take at most IN_WINDOWS windows' bytes
 * (any one fits: a body larger than the window is refused at its header). */
#define BODY_WAIT_MS 10000
#define IN_WINDOWS   2

static void conn_close(struct fnl_txnd *t, int ci)
{
	struct conn *c = &t->conns[ci];
	if (c->fd >= 0)
		close(c->fd);
	t->out_bytes -= c->out_len - c->out_off;
	free(c->out);
	if (c->in)
		t->in_bytes -= c->hdr.len;
	free(c->in);
	*c = (struct conn){.fd = -1};
}

/* Reads what the socket has, up to want - *got bytes, into p + *got. 1 when all came,
 * 0 when more is to come, -1 when the peer closed or failed. */
static int read_some(int fd, uint8_t *p, size_t want, size_t *got)
{
	while (*got < want) {
		ssize_t k = recv(fd, p + *got, want - *got, MSG_DONTWAIT);
		if (k == 0)
			return -1;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? 0 : -1;
		*got += (size_t)k;
	}
	return 1;
}

/* Moves a whole COMMIT body into the window if it fits (else it waits for the next). */
static void take_body(struct fnl_txnd *t, int ci)
{
	struct conn *c = &t->conns[ci];
	uint32_t len = c->hdr.len;
	if (!c->in || c->in_got < len || len > t->wcap - t->wlen || t->nentries == t->entries_max)
		return;
	memcpy(t->wbuf + t->wlen, c->in, len);
	free(c->in);
	c->in = NULL;
	t->in_bytes -= len;
	struct fnl_txw_commit cm = {0};
	if (len >= sizeof(cm))
		memcpy(&cm, t->wbuf + t->wlen, sizeof(cm));
	t->entries[t->nentries++] =
	    (struct entry){ci,    c->hdr.seq, t->wlen, len,
	                   false, cm.uid,     cm.cseq, (cm.flags & FNL_TXW_F_RESEND) != 0,
	                   0,     0};
	t->wlen += (len + 7) & ~7u;
	c->has_hdr = false;
	c->hdr_got = c->in_got = 0;
}

/* A buffer for conn ci's body once IN_WINDOWS has room (until then its bytes wait in the
 * socket, and serve_conn is not called for it). */
static void body_start(struct fnl_txnd *t, int ci)
{
	struct conn *c = &t->conns[ci];
	if (c->in || t->in_bytes + c->hdr.len > IN_WINDOWS * t->wcap)
		return;
	c->in = malloc(c->hdr.len ? c->hdr.len : 1);
	if (!c->in)
		return; /* tried again at the next turn of the loop */
	t->in_bytes += c->hdr.len;
	c->in_got = 0;
	c->in_until_ms = mono_ms() + BODY_WAIT_MS;
}

/* A whole header: HELLO answered; COMMIT: its body is read next (refused at once when it
 * cannot fit a window). */
static void on_header(struct fnl_txnd *t, int ci)
{
	struct conn *c = &t->conns[ci];
	c->hdr_got = 0;
	if (c->hdr.magic != FNL_TXW_MAGIC) {
		conn_close(t, ci);
		return;
	}
	if (c->hdr.type == FNL_TXW_HELLO && c->hdr.len == 0) {
		if (c->hdr.flags != FNL_TXW_VERSION) {
			char why[FNL_TXW_MSG_BYTES];
			snprintf(
			    why, sizeof(why),
			    "libfunnel speaks transaction wire version %u, this funneld %u: use "
			    "the libfunnel of funneld's release",
			    c->hdr.flags ? c->hdr.flags : 1u, FNL_TXW_VERSION);
			reply(t, ci, c->hdr.seq, FNL_TXW_FATAL, 0, why);
			return;
		}
		if (t->ready)
			reply(t, ci, c->hdr.seq, FNL_TXW_OK, 0, "");
		else if (t->txn.state == FNL_TXN_FATAL_ERROR)
			reply(t, ci, c->hdr.seq, FNL_TXW_FATAL, t->txn.last_err, t->why);
		else
			c->hello_owed = true;
		return;
	}
	if (c->hdr.type != FNL_TXW_COMMIT || c->hdr.len > FNL_TXW_MAX_BODY) {
		conn_close(t, ci);
		return;
	}
	if (c->hdr.len > t->wcap) {
		char why[FNL_TXW_MSG_BYTES];
		snprintf(why, sizeof(why),
		         "a transaction of %u bytes does not fit funnel.txn.window.bytes=%zu",
		         c->hdr.len, t->wcap);
		reply(t, ci, c->hdr.seq, FNL_TXW_ABORTABLE, 0, why);
		conn_close(t, ci); /* its body is not read */
		return;
	}
	c->has_hdr = true;
	body_start(t, ci);
	take_body(t, ci); /* an empty body is whole at once */
}

/* Conn ci is readable: the rest of its message as far as it came. */
static void serve_conn(struct fnl_txnd *t, int ci)
{
	struct conn *c = &t->conns[ci];
	int rc;
	if (!c->has_hdr) {
		if (c->hdr_got == 0)
			c->in_until_ms = mono_ms() + BODY_WAIT_MS;
		rc = read_some(c->fd, (uint8_t *)&c->hdr, sizeof(c->hdr), &c->hdr_got);
		if (rc < 0)
			conn_close(t, ci);
		if (rc == 1)
			on_header(t, ci);
		return;
	}
	if (!c->in)
		return;
	rc = read_some(c->fd, c->in, c->hdr.len, &c->in_got);
	if (rc < 0)
		conn_close(t, ci); /* a partial commit is dropped: it never joins a window */
	if (rc == 1)
		take_body(t, ci);
}

/* Bodies that waited for memory start; messages not whole in time close their
 * connection. */
static void in_tick(struct fnl_txnd *t)
{
	int64_t now = mono_ms();
	for (int ci = 0; ci < t->nconns; ci++) {
		struct conn *c = &t->conns[ci];
		if (c->fd < 0)
			continue;
		if (c->has_hdr && !c->in) {
			body_start(t, ci);
			take_body(t, ci);
		}
		bool partial = c->has_hdr ? c->in && c->in_got < c->hdr.len : c->hdr_got > 0;
		if (partial && now >= c->in_until_ms) {
			fnl_warn("transactions: a client sent part of a message and not the rest "
			         "within %d s; closing its connection",
			         BODY_WAIT_MS / 1000);
			conn_close(t, ci);
		}
	}
}

/* The main socket's rule (registry.c): the socket's mode decides unless
 * funnel.allowed.uids/gids name who may connect. */
static bool peer_allowed(struct fnl_txnd *t, int fd)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	if (t->cfg->allowed_uids_n == 0 && t->cfg->allowed_gids_n == 0)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0)
		return false;
	if (cr.uid == geteuid())
		return true;
	for (int i = 0; i < t->cfg->allowed_uids_n; i++)
		if (t->cfg->allowed_uids[i] == cr.uid)
			return true;
	for (int i = 0; i < t->cfg->allowed_gids_n; i++)
		if (t->cfg->allowed_gids[i] == cr.gid)
			return true;
	return false;
}

static void accept_conns(struct fnl_txnd *t)
{
	for (;;) {
		int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int ci;
		if (!peer_allowed(t, fd)) {
			close(fd);
			continue;
		}
		for (ci = 0; ci < t->conns_cap && t->conns[ci].fd >= 0; ci++)
			;
		if (ci == t->conns_cap) {
			fnl_warn("transactions: more than funnel.clients.max=%d transactional "
			         "clients; refusing one",
			         t->conns_cap);
			close(fd);
			continue;
		}
		t->conns[ci] = (struct conn){.fd = fd};
		if (ci >= t->nconns)
			t->nconns = ci + 1;
	}
}

static void answer_hellos(struct fnl_txnd *t)
{
	bool fatal = t->txn.state == FNL_TXN_FATAL_ERROR;
	if (!t->ready && !fatal)
		return;
	for (int ci = 0; ci < t->nconns; ci++)
		if (t->conns[ci].fd >= 0 && t->conns[ci].hello_owed) {
			t->conns[ci].hello_owed = false;
			reply(t, ci, t->conns[ci].hdr.seq, fatal ? FNL_TXW_FATAL : FNL_TXW_OK,
			      t->txn.last_err, fatal ? t->why : "");
		}
}

/* Between windows, every metadata.max.age.ms: the topics' leaders and partition counts
 * (a topic that grew is used with its new count from the next commit on). */
static void refresh_topics(struct fnl_txnd *t)
{
	int64_t now = mono_ms();
	if (t->ntopics == 0 || now - t->md_at_ms < t->cfg->metadata_max_age_ms)
		return;
	t->md_at_ms = now;
	const char *names[MAX_TOPICS];
	for (int i = 0; i < t->ntopics; i++)
		names[i] = t->topics[i].name;
	char keep[sizeof(t->why)]; /* t->why is what clients are told: a refresh keeps it */
	memcpy(keep, t->why, sizeof(keep));
	if (fnl_txnd_metadata(t, names, t->ntopics) < 0)
		fnl_warn("transactions: metadata refresh failed reason=\"%s\"", t->why);
	memcpy(t->why, keep, sizeof(keep));
}

static void *txnd_main(void *arg)
{
	struct fnl_txnd *t = arg;
	struct pollfd *p = calloc((size_t)t->conns_cap + 2, sizeof(*p));
	int *ci_of = calloc((size_t)t->conns_cap + 2, sizeof(int));
	if (!p || !ci_of)
		goto out;
	while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
		fnl_txnd_try_init(t);
		answer_hellos(t);
		int n = 0;
		p[n++] = (struct pollfd){.fd = t->stop_efd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = t->listen_fd, .events = POLLIN};
		for (int ci = 0; ci < t->nconns; ci++) {
			struct conn *c = &t->conns[ci];
			bool reading = !c->has_hdr || (c->in && c->in_got < c->hdr.len);
			short ev = (short)((reading ? POLLIN : 0) | (c->out ? POLLOUT : 0));
			if (c->fd >= 0 && ev) {
				ci_of[n] = ci;
				p[n++] = (struct pollfd){.fd = c->fd, .events = ev};
			}
		}
		if (poll(p, (nfds_t)n, t->ready ? 200 : 100) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			accept_conns(t);
		for (int k = 2; k < n; k++) {
			struct conn *c = &t->conns[ci_of[k]];
			if (c->out && (p[k].revents & (POLLOUT | POLLERR | POLLHUP)))
				out_flush(t, ci_of[k]);
			if (c->fd >= 0 && (p[k].revents & ~POLLOUT))
				serve_conn(t, ci_of[k]);
		}
		out_expire(t);
		in_tick(t);
		if (t->nentries && t->nentries < t->cfg->txn_min_commits &&
		    t->nentries < t->entries_max) {
			/* funnel.test.txn.window.min.commits: wait for more, 5 s at most */
			if (!t->min_commits_wait)
				t->min_commits_wait = mono_ms();
			if (mono_ms() - t->min_commits_wait < 5000)
				continue;
		}
		t->min_commits_wait = 0;
		if (!t->nentries && t->ready)
			refresh_topics(t);
		if (t->nentries) {
			run_window(t);
			t->nentries = 0;
			t->wlen = 0;
			/* bodies that waited for room join the next window */
			for (int ci = 0; ci < t->nconns; ci++)
				if (t->conns[ci].fd >= 0 && t->conns[ci].has_hdr)
					take_body(t, ci);
		}
	}
out:
	free(p);
	free(ci_of);
	return NULL;
}

int fnl_txnd_start(struct fnl_daemon *d, struct fnl_txnd **out, char *msg, size_t msg_len)
{
	struct fnl_txnd *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->d = d;
	t->cfg = &d->cfg;
	t->listen_fd = t->stop_efd = -1;
	t->txn_coord = t->group_coord = -1;
	t->wcap = (size_t)d->cfg.txn_window_bytes;
	t->acap = 2 * t->wcap + (1u << 20); /* Kafka's record encoding is at most ~2x the ring's */
	t->recs_cap = (uint32_t)(t->wcap / FNL_REC_HDR_BYTES);
	t->batches_cap = t->recs_cap + MAX_WPARTS;
	t->conns_cap = d->cfg.clients_max;
	t->entries_max = t->conns_cap < FNL_TXR_WINDOW_MAX ? t->conns_cap : FNL_TXR_WINDOW_MAX;
	snprintf(t->rgroup, sizeof(t->rgroup), "%s%s", d->cfg.txn_id, FNL_TXR_SUFFIX);
	t->wbuf = malloc(t->wcap);
	t->arena = malloc(t->acap);
	t->recs = calloc(t->recs_cap, sizeof(*t->recs));
	t->batches = calloc(t->batches_cap, sizeof(*t->batches));
	t->entries = calloc((size_t)t->conns_cap, sizeof(*t->entries));
	t->conns = calloc((size_t)t->conns_cap, sizeof(*t->conns));
	for (int i = 0; t->conns && i < t->conns_cap; i++)
		t->conns[i].fd = -1; /* before any goto fail: stop closes what is >= 0 */
	t->roff = calloc(t->recs_cap, sizeof(*t->roff));
	int rc = -ENOMEM;
	if (!t->wbuf || !t->arena || !t->recs || !t->batches || !t->entries || !t->conns ||
	    !t->roff)
		goto fail;
	if (d->cfg.compression_type != FNL_CODEC_NONE) {
		t->zcap = fnl_compress_bound((enum fnl_codec)d->cfg.compression_type, REQ_CAP / 2);
		t->zc = fnl_compressor_new();
		t->zscratch = t->zcap ? malloc(t->zcap) : NULL;
		if (!t->zc || !t->zscratch)
			goto fail;
	}
	rc = fnl_kclient_init(&t->boot, d->cfg.client_id, d->cfg.request_timeout_ms);
	if (rc < 0)
		goto fail;
	t->boot.tls_ctx = d->tls_ctx;
	t->boot.creds = d->creds.mech ? &d->creds : NULL;
	if (d->cfg.txn_trace[0] && !(t->trace = fopen(d->cfg.txn_trace, "a"))) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot open funnel.test.txn.trace %s: %s", d->cfg.txn_trace,
		         strerror(errno));
		goto fail;
	}
	struct fnl_txn_cfg tc = {d->cfg.txn_timeout_ms, d->cfg.retry_backoff_ms, 1000};
	fnl_txn_init(&t->txn, &tc);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(d->cfg.socket_path) + 4 >= sizeof(sa.sun_path)) {
		snprintf(msg, msg_len, "funnel.socket.path is too long for its .txn socket");
		rc = -ENAMETOOLONG;
		goto fail;
	}
	snprintf(t->path, sizeof(t->path), "%s.txn", d->cfg.socket_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->path);
	t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	t->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->listen_fd < 0 || t->stop_efd < 0) {
		rc = -errno;
		goto fail;
	}
	unlink(t->path); /* the main socket's lock (its journal) tells a live funneld apart */
	if (bind(t->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(t->listen_fd, 128) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "cannot listen on %s: %s", t->path, strerror(errno));
		goto fail;
	}
	chmod(t->path, 0660); /* as the main socket */
	rc = pthread_create(&t->thr, NULL, txnd_main, t);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	t->running = true;
	*out = t;
	return 0;
fail:
	if (!msg[0])
		snprintf(msg, msg_len, "transactions: cannot start: %s", strerror(-rc));
	fnl_txnd_stop(t);
	return rc;
}

void fnl_txnd_stop(struct fnl_txnd *t)
{
	if (!t)
		return;
	atomic_store_explicit(&t->stop, true, memory_order_relaxed);
	if (t->stop_efd >= 0) {
		uint64_t one = 1;
		if (write(t->stop_efd, &one, sizeof(one)) < 0) {
			/* the poll timeout still ends the loop */
		}
	}
	if (t->running)
		pthread_join(t->thr, NULL);
	for (int i = 0; t->conns && i < t->conns_cap; i++)
		conn_close(t, i); /* an answer still waiting is lost: RESEND learns it */
	if (t->listen_fd >= 0) {
		close(t->listen_fd);
		unlink(t->path);
	}
	if (t->stop_efd >= 0)
		close(t->stop_efd);
	for (int i = 0; i < MAX_NODES; i++)
		if (t->nodes[i].kc_init)
			fnl_kclient_free(&t->nodes[i].kc);
	if (t->boot.buf)
		fnl_kclient_free(&t->boot);
	for (int i = 0; i < t->ntopics; i++) {
		free(t->topics[i].leader);
		free(t->topics[i].seq);
	}
	free(t->wbuf);
	free(t->arena);
	free(t->recs);
	free(t->batches);
	free(t->entries);
	free(t->conns);
	free(t->roff);
	fnl_compressor_free(t->zc);
	free(t->zscratch);
	if (t->trace)
		fclose(t->trace);
	free(t);
}
