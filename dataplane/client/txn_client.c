/* txn_client.c - libfunnel's transactions (include/funnel.h fnl_txn_*): the client holds an
 * open transaction's records and offsets in buffers of its own and hands the whole
 * transaction to funneld's transaction thread at commit, over "<socket>.txn"
 * (dataplane/ring/txnwire.h).
 *
 * State: inited (HELLO answered OK) -> open (begin) -> commit_sent (COMMIT written, RESULT not
 * read) -> back to not open. abortable: the open transaction can only be aborted. fatal:
 * terminal. Buffers are allocated once at fnl_txn_init (records: the ring's size); offsets
 * grow on demand (not per record), as does the array of a commit's record offsets.
 *
 * Delivery reports (conf.on_report): once a transaction's outcome is known, each of its
 * records gets one, in produce order, from inside the call that learnt it: fnl_txn_commit()
 * answered OK (err 0, the partition and offset funneld's RESULT gave; offset -1 when not
 * known), fnl_txn_abort() (err TXN_ABORTED_ERR, or the Kafka error funneld refused the
 * commit with), a FATAL commit (its Kafka error, else TXN_ABORTED_ERR).
 */
#include "dataplane/client/client_int.h"
#include "dataplane/ring/txnwire.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The report error of a transaction's records that were never committed: Kafka's
 * TRANSACTION_ABORTABLE ("the transaction must be aborted"). */
#define TXN_ABORTED_ERR 120

struct fnl_ctxn {
	int fd; /* transaction socket, -1 when not connected */
	bool inited, open, commit_sent, abortable, fatal;
	int cls; /* enum fnl_txn_error_class of the last call */
	char msg[FNL_TXW_MSG_BYTES + 64];
	uint32_t seq;
	uint64_t uid;  /* names this client's commits to funneld (random) */
	uint32_t cseq; /* the open transaction's commit number */
	bool resend;   /* its commit got no answer: the outcome is funneld's to tell */
	uint8_t *rec;  /* records in ring format */
	size_t rec_cap, rec_len;
	uint32_t nrec;
	uint8_t *offs; /* serialized groups (txnwire.h COMMIT) */
	size_t offs_cap, offs_len;
	uint32_t ngroups;
	char path[128];            /* "<socket>.txn" */
	struct fnl_txw_roff *roff; /* the last RESULT's record offsets */
	uint32_t roff_cap, nroff;
	int16_t kerr;   /* the Kafka error of the last ABORTABLE / FATAL answer (0: none) */
	bool reporting; /* inside report_all: on_report may not begin the next transaction */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct fnl_ctxn *t, int cls, int rc, const char *fmt, ...)
{
	va_list ap;
	char m[sizeof(t->msg)]; /* the arguments may be t->msg itself */
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	memcpy(t->msg, m, sizeof(m));
	t->cls = cls;
	if (cls == FNL_TXN_ERR_FATAL)
		t->fatal = true;
	return rc;
}

static int ok(struct fnl_ctxn *t)
{
	t->cls = FNL_TXN_ERR_NONE;
	t->msg[0] = '\0';
	return 0;
}

static void drop_conn(struct fnl_ctxn *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

bool fnl_ctxn_open(const struct fnl_ctxn *t)
{
	return t->open;
}

int fnl_ctxn_append(struct fnl_ctxn *t, const struct fnl_rec_hdr *rh, const void *key,
                    const void *value, const struct fnl_header *h, int nh)
{
	if (t->fatal)
		return -EPERM; /* refused, never sent outside the transaction (funnel.h) */
	if (t->commit_sent)
		return -EINPROGRESS; /* the records of a commit under way are fixed */
	if (rh->len > t->rec_cap - t->rec_len)
		return -ENOBUFS;
	fnl_client_write_record(t->rec + t->rec_len, rh, key, value, h, nh);
	t->rec_len += rh->len;
	t->nrec++;
	return 0;
}

void fnl_ctxn_free(struct fnl_ctxn *t)
{
	if (!t)
		return;
	drop_conn(t);
	free(t->rec);
	free(t->offs);
	free(t->roff);
	free(t);
}

void fnl_ctxn_atfork_child(struct fnl_ctxn *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd); /* the parent's connection; the child connects again at need */
	t->fd = -1;
	t->open = t->commit_sent = t->abortable = false;
	t->rec_len = t->offs_len = 0;
	t->nrec = t->ngroups = 0;
}

/* ---- the socket ---- */

static int remaining(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - mono_ms();
	return left > 0 ? (int)left : 0;
}

/* Writes all iovecs (blocking, bounded by the deadline). 0 or -errno. */
static int send_all(int fd, struct iovec *iov, int n, int64_t deadline)
{
	while (n > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			struct pollfd p = {fd, POLLOUT, 0};
			int left = remaining(deadline);
			if (left == 0 || poll(&p, 1, left) == 0)
				return -ETIMEDOUT;
			continue;
		}
		n = fnl_txw_iov_advance(&iov, n, (size_t)k);
	}
	return 0;
}

static int recv_all(int fd, void *p, size_t n, int64_t deadline)
{
	uint8_t *b = p;
	while (n) {
		struct pollfd pf = {fd, POLLIN, 0};
		int left = remaining(deadline);
		int pr = left == 0 ? 0 : poll(&pf, 1, left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t k = recv(fd, b, n, MSG_DONTWAIT);
		if (k == 0)
			return -EPIPE;
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads one RESULT for request seq, with its record offsets into t->roff (t->nroff: 0 or
 * nrec, the count of records the request carried). -EPROTONOSUPPORT: funneld speaks
 * another wire version (t->msg says which); -EPROTO: a malformed answer. */
static int read_result(struct fnl_ctxn *t, int64_t deadline, struct fnl_txw_result *r,
                       uint32_t nrec)
{
	struct fnl_txw_hdr h;
	size_t rb = sizeof(struct fnl_txw_roff);
	int rc = recv_all(t->fd, &h, sizeof(h), deadline);
	t->nroff = 0;
	if (rc == 0 && (h.magic != FNL_TXW_MAGIC || h.type != FNL_TXW_RESULT || h.seq != t->seq))
		rc = -EPROTO;
	if (rc == 0 && h.flags != FNL_TXW_VERSION) {
		snprintf(t->msg, sizeof(t->msg),
		         "funneld speaks transaction wire version %u, this libfunnel %u: use the "
		         "libfunnel of funneld's release",
		         h.flags ? h.flags : 1u, FNL_TXW_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (rc == 0 &&
	    (h.len < sizeof(*r) || h.len > FNL_TXW_MAX_BODY || (h.len - sizeof(*r)) % rb != 0 ||
	     ((h.len - sizeof(*r)) / rb != 0 && (h.len - sizeof(*r)) / rb != nrec)))
		rc = -EPROTO;
	/* the body follows its header at once */
	int64_t body_deadline = deadline < 0 ? -1 : mono_ms() + 30000;
	if (rc == 0)
		rc = recv_all(t->fd, r, sizeof(*r), body_deadline);
	uint32_t n = rc == 0 ? (uint32_t)((h.len - sizeof(*r)) / rb) : 0;
	if (rc == 0 && n > t->roff_cap) {
		struct fnl_txw_roff *p = realloc(t->roff, (size_t)n * rb); /* per commit */
		if (!p)
			return -ENOMEM;
		t->roff = p;
		t->roff_cap = n;
	}
	if (rc == 0 && n)
		rc = recv_all(t->fd, t->roff, (size_t)n * rb, body_deadline);
	if (rc == 0) {
		r->msg[sizeof(r->msg) - 1] = '\0';
		t->nroff = n;
	}
	return rc;
}

/* One delivery report per record of the transaction, in produce order: with the offsets of
 * the last RESULT when err is 0 (offset -1 when it had none), then the records are gone. */
static void report_all(struct fnl_ctxn *t, fnl_client_t *c, int16_t err)
{
	size_t o = 0;
	t->reporting = true;
	for (uint32_t i = 0; o + sizeof(struct fnl_rec_hdr) <= t->rec_len; i++) {
		struct fnl_rec_hdr rh;
		memcpy(&rh, t->rec + o, sizeof(rh));
		int32_t part = rh.partition;
		int64_t off = -1;
		if (err == 0 && i < t->nroff) {
			part = t->roff[i].partition;
			off = t->roff[i].offset;
		}
		fnl_client_report(c, rh.topic_id, part, off, err, rh.opaque);
		o += rh.len;
	}
	t->reporting = false;
	t->rec_len = t->offs_len = 0;
	t->nrec = t->ngroups = 0;
	t->nroff = 0;
}

/* Connects and says HELLO: 0 when funneld's producer is ready; else an error set on t. */
static int connect_hello(struct fnl_ctxn *t, int64_t deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int rc;

	if (strlen(t->path) >= sizeof(sa.sun_path))
		return fail(t, FNL_TXN_ERR_FATAL, -ENAMETOOLONG, "socket path too long: %s",
		            t->path);
	memcpy(sa.sun_path, t->path, strlen(t->path) + 1);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail(t, FNL_TXN_ERR_RETRIABLE, -errno, "socket: %s",
			            strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			t->fd = fd;
			break;
		}
		rc = -errno;
		close(fd);
		if (remaining(deadline) == 0) {
			if (rc == -ENOENT)
				return fail(
				    t, FNL_TXN_ERR_RETRIABLE, -ENOTSUP,
				    "no transaction socket %s: funneld is not running or has no "
				    "transactional.id (set it in funneld's settings)",
				    t->path);
			return fail(t, FNL_TXN_ERR_RETRIABLE, -ETIMEDOUT,
			            "cannot reach funneld's transaction socket %s: %s", t->path,
			            strerror(-rc));
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	struct fnl_txw_hdr h = {FNL_TXW_MAGIC, FNL_TXW_HELLO, FNL_TXW_VERSION, 0, ++t->seq};
	struct iovec iov = {&h, sizeof(h)};
	struct fnl_txw_result r;
	rc = send_all(t->fd, &iov, 1, deadline);
	if (rc == 0)
		rc = read_result(t, deadline, &r, 0);
	if (rc == -EPROTONOSUPPORT) {
		drop_conn(t);
		return fail(t, FNL_TXN_ERR_FATAL, -EPROTO, "%s", t->msg);
	}
	if (rc < 0) {
		drop_conn(t);
		return fail(t, FNL_TXN_ERR_RETRIABLE, rc == -EPIPE ? -ETIMEDOUT : rc,
		            "funneld's transactional producer is not ready: %s", strerror(-rc));
	}
	if (r.cls != FNL_TXW_OK) {
		drop_conn(t);
		return fail(t, r.cls == FNL_TXW_FATAL ? FNL_TXN_ERR_FATAL : FNL_TXN_ERR_RETRIABLE,
		            r.cls == FNL_TXW_FATAL ? -EPERM : -ETIMEDOUT, "%s", r.msg);
	}
	return 0;
}

static struct fnl_ctxn *get(fnl_client_t *c)
{
	return c ? *fnl_client_txn_slot(c) : NULL;
}

int fnl_txn_init(fnl_client_t *c, int timeout_ms)
{
	if (!c)
		return -EINVAL;
	struct fnl_ctxn *t = get(c);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		t->fd = -1;
		t->rec_cap = fnl_client_ring_bytes(c);
		t->rec = malloc(t->rec_cap);
		if (!t->rec) {
			free(t);
			return -ENOMEM;
		}
		snprintf(t->path, sizeof(t->path), "%s.txn", fnl_client_socket_path(c));
		if (getrandom(&t->uid, sizeof(t->uid), 0) != sizeof(t->uid))
			t->uid = (uint64_t)mono_ms() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
		*fnl_client_txn_slot(c) = t;
	}
	if (t->fatal)
		return fail(t, FNL_TXN_ERR_FATAL, -EPERM, "%s", t->msg);
	if (t->inited && t->fd >= 0)
		return ok(t);
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	int rc = connect_hello(t, deadline);
	if (rc < 0)
		return rc;
	t->inited = true;
	return ok(t);
}

int fnl_txn_begin(fnl_client_t *c)
{
	struct fnl_ctxn *t = get(c);
	if (!t)
		return -EINVAL;
	if (t->fatal)
		return fail(t, FNL_TXN_ERR_FATAL, -EPERM, "%s", t->msg);
	if (!t->inited || t->open || t->reporting)
		return fail(t, FNL_TXN_ERR_USAGE, -EINVAL,
		            t->reporting
		                ? "fnl_txn_begin from on_report: the transaction being "
		                  "reported has not ended yet (begin after the call returns)"
		            : t->open ? "a transaction is already open"
		                      : "call fnl_txn_init first");
	t->open = true;
	t->abortable = false;
	t->resend = false;
	t->cseq++;
	t->rec_len = t->offs_len = 0;
	t->nrec = t->ngroups = 0;
	t->kerr = 0;
	return ok(t);
}

/* ---- offsets ---- */

static int reserve(struct fnl_ctxn *t, size_t n)
{
	if (t->offs_cap - t->offs_len >= n)
		return 0;
	size_t cap = t->offs_cap ? t->offs_cap : 4096;
	while (cap - t->offs_len < n)
		cap *= 2;
	uint8_t *p = realloc(t->offs, cap);
	if (!p)
		return -ENOMEM;
	t->offs = p;
	t->offs_cap = cap;
	return 0;
}

static void put(struct fnl_ctxn *t, const void *p, size_t n)
{
	memcpy(t->offs + t->offs_len, p, n);
	t->offs_len += n;
}

static void put_str(struct fnl_ctxn *t, const char *s)
{
	uint16_t n = s ? (uint16_t)strlen(s) : FNL_TXW_NULL_STR;
	put(t, &n, 2);
	if (s)
		put(t, s, n);
}

static bool str_ok(const char *s, bool nullable)
{
	return s ? strlen(s) < FNL_TXW_NULL_STR : nullable;
}

int fnl_txn_send_offsets(fnl_client_t *c, const char *group_id, int32_t generation_id,
                         const char *member_id, const char *group_instance_id,
                         const struct fnl_txn_offset *offsets, int n)
{
	struct fnl_ctxn *t = get(c);
	if (!t)
		return -EINVAL;
	if (t->fatal)
		return fail(t, FNL_TXN_ERR_FATAL, -EPERM, "%s", t->msg);
	if (!t->open || t->commit_sent)
		return fail(t, FNL_TXN_ERR_USAGE, -EINVAL, "no transaction is open");
	if (t->abortable)
		return fail(t, FNL_TXN_ERR_ABORTABLE, -ECANCELED, "%s", t->msg);
	if (!str_ok(group_id, false) || !*group_id || !str_ok(member_id, false) ||
	    !str_ok(group_instance_id, true) || n < 0 || (n > 0 && !offsets))
		return fail(t, FNL_TXN_ERR_USAGE, -EINVAL, "bad group id, member id or offsets");
	size_t need = 2 + strlen(group_id) + 4 + 2 + strlen(member_id) + 2 +
	              (group_instance_id ? strlen(group_instance_id) : 0) + 4;
	for (int i = 0; i < n; i++) {
		if (!str_ok(offsets[i].topic, false) || !str_ok(offsets[i].metadata, true) ||
		    offsets[i].partition < 0 || offsets[i].offset < 0)
			return fail(t, FNL_TXN_ERR_USAGE, -EINVAL, "bad offset entry %d", i);
		need += 2 + strlen(offsets[i].topic) + 4 + 8 + 2 +
		        (offsets[i].metadata ? strlen(offsets[i].metadata) : 0);
	}
	if (reserve(t, need) < 0)
		return fail(t, FNL_TXN_ERR_RETRIABLE, -ENOMEM, "out of memory");
	uint32_t nn = (uint32_t)n;
	put_str(t, group_id);
	put(t, &generation_id, 4);
	put_str(t, member_id);
	put_str(t, group_instance_id);
	put(t, &nn, 4);
	for (int i = 0; i < n; i++) {
		put_str(t, offsets[i].topic);
		put(t, &offsets[i].partition, 4);
		put(t, &offsets[i].offset, 8);
		put_str(t, offsets[i].metadata);
	}
	t->ngroups++;
	return ok(t);
}

/* ---- commit / abort ---- */

/* The client's topics as [u32 id][u16 len][name], into a stack buffer or t->offs' tail. */
static int send_commit(struct fnl_ctxn *t, fnl_client_t *c, int64_t deadline)
{
	uint32_t ntopics = 0, id;
	const char *name;
	size_t tbytes = 0;
	for (uint32_t i = 0; fnl_client_topic_at(c, i, &id, &name) == 0; i++) {
		tbytes += 6 + strlen(name);
		ntopics++;
	}
	uint8_t *tb = malloc(tbytes ? tbytes : 1); /* per commit, not per record */
	if (!tb)
		return -ENOMEM;
	size_t o = 0;
	for (uint32_t i = 0; fnl_client_topic_at(c, i, &id, &name) == 0; i++) {
		uint16_t nl = (uint16_t)strlen(name);
		memcpy(tb + o, &id, 4);
		memcpy(tb + o + 4, &nl, 2);
		memcpy(tb + o + 6, name, nl);
		o += 6 + nl;
	}
	struct fnl_txw_commit cm = {t->uid,    t->cseq, t->resend ? FNL_TXW_F_RESEND : 0u,
	                            ntopics,   t->nrec, (uint32_t)t->rec_len,
	                            t->ngroups};
	struct fnl_txw_hdr h = {FNL_TXW_MAGIC, FNL_TXW_COMMIT, 0,
	                        (uint32_t)(sizeof(cm) + tbytes + t->rec_len + t->offs_len),
	                        ++t->seq};
	struct iovec iov[5] = {{&h, sizeof(h)},
	                       {&cm, sizeof(cm)},
	                       {tb, tbytes},
	                       {t->rec, t->rec_len},
	                       {t->offs, t->offs_len}};
	int rc = send_all(t->fd, iov, 5, deadline);
	free(tb);
	return rc;
}

int fnl_txn_commit(fnl_client_t *c, int timeout_ms)
{
	struct fnl_ctxn *t = get(c);
	if (!t)
		return -EINVAL;
	if (t->fatal)
		return fail(t, FNL_TXN_ERR_FATAL, -EPERM, "%s", t->msg);
	if (!t->open)
		return fail(t, FNL_TXN_ERR_USAGE, -EINVAL, "no transaction is open");
	if (t->abortable)
		return fail(t, FNL_TXN_ERR_ABORTABLE, -ECANCELED, "%s", t->msg);
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	int rc;
	if (!t->commit_sent) {
		if (t->fd < 0 && (rc = connect_hello(t, deadline)) < 0)
			return rc;
		rc = send_commit(t, c, deadline);
		if (rc < 0) {
			/* funneld never got the whole transaction (it drops a partial one): the
			 * next call sends it again on a new connection */
			drop_conn(t);
			return fail(t, FNL_TXN_ERR_RETRIABLE, rc == -ENOMEM ? rc : -ETIMEDOUT,
			            "the commit did not reach funneld: %s", strerror(-rc));
		}
		t->commit_sent = true;
	}
	struct fnl_txw_result r;
	rc = read_result(t, deadline, &r, t->nrec);
	if (rc == -EPROTONOSUPPORT) {
		t->commit_sent = false;
		drop_conn(t);
		report_all(t, c, TXN_ABORTED_ERR);
		return fail(t, FNL_TXN_ERR_FATAL, -EPROTO, "%s", t->msg);
	}
	if (rc == -ETIMEDOUT)
		return fail(t, FNL_TXN_ERR_RETRIABLE, -ETIMEDOUT,
		            "the commit is still under way after %d ms: call fnl_txn_commit again",
		            timeout_ms);
	t->commit_sent = false;
	if (rc < 0) {
		/* funneld went away with the commit: its successor knows whether it was
		 * committed; ask it (the same commit, marked RESEND) within this call's time */
		drop_conn(t);
		t->resend = true;
		if (remaining(deadline) != 0)
			return fnl_txn_commit(c, deadline < 0 ? -1 : remaining(deadline));
		return fail(t, FNL_TXN_ERR_RETRIABLE, -ETIMEDOUT,
		            "funneld went away while committing (%s): call fnl_txn_commit again "
		            "to learn the outcome from its successor",
		            strerror(-rc));
	}
	if (r.cls != FNL_TXW_RETRIABLE)
		t->resend = false; /* answered: the outcome is known (RETRIABLE: not looked at) */
	switch (r.cls) {
	case FNL_TXW_OK:
		t->open = t->resend = false;
		report_all(t, c, 0);
		return ok(t);
	case FNL_TXW_RETRIABLE:
		return fail(t, FNL_TXN_ERR_RETRIABLE, -EAGAIN, "%s", r.msg);
	case FNL_TXW_FATAL:
		drop_conn(t);
		report_all(t, c, r.kafka_err ? r.kafka_err : TXN_ABORTED_ERR);
		return fail(t, FNL_TXN_ERR_FATAL, -EPERM, "%s", r.msg);
	default:
		t->abortable = true;
		t->kerr = r.kafka_err;
		return fail(t, FNL_TXN_ERR_ABORTABLE, -ECANCELED, "%s", r.msg);
	}
}

int fnl_txn_abort(fnl_client_t *c, int timeout_ms)
{
	(void)timeout_ms;
	struct fnl_ctxn *t = get(c);
	if (!t)
		return -EINVAL;
	if (t->fatal)
		return fail(t, FNL_TXN_ERR_FATAL, -EPERM, "%s", t->msg);
	if (t->commit_sent || t->resend)
		return fail(t, FNL_TXN_ERR_RETRIABLE, -EINPROGRESS,
		            "a commit is under way (or its outcome is not known yet): call "
		            "fnl_txn_commit for its result");
	if (!t->open)
		return fail(t, FNL_TXN_ERR_USAGE, -EINVAL, "no transaction is open");
	t->open = t->abortable = false;
	report_all(t, c, t->kerr ? t->kerr : TXN_ABORTED_ERR);
	t->kerr = 0;
	return ok(t);
}

int fnl_txn_error_class(fnl_client_t *c)
{
	struct fnl_ctxn *t = get(c);
	return t ? t->cls : FNL_TXN_ERR_NONE;
}

const char *fnl_txn_error(fnl_client_t *c)
{
	struct fnl_ctxn *t = get(c);
	return t ? t->msg : "";
}
