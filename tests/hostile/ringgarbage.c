/* ringgarbage.c - a hostile funnel client for isolation tests.
 *
 *   ringgarbage -s SOCKET -t TOPIC -m MODE [-d SECONDS] [-S SEED] [-v]
 *
 * It speaks the control protocol itself (dataplane/ring/ctlproto.h) and builds
 * its ring with fnl_ring_create() like libfunnel, then misbehaves:
 *
 *   ring        attach, then for SECONDS: valid records mixed with corruptions
 *               of the live ring (rec_head backwards / beyond tail + rec_bytes /
 *               misaligned, len past the published bytes or the end of the area,
 *               PAD not reaching the end, unknown type or flags, unknown topic id,
 *               headers_len not adding up, random bytes over records, random
 *               writes to the daemon's indexes). Each structural corruption must
 *               get the client quarantined (the daemon closes its socket) within
 *               2 s; then it attaches again with a fresh ring. Semantic errors
 *               (bad partition, malformed header bytes) must NOT quarantine but
 *               come back as a delivery report with an error.
 *   noseal      memfd without any seal             -> refused with a message naming the seals
 *   shrinkonly  memfd sealed F_SEAL_SHRINK only    -> refused likewise (GROW missing)
 *   growonly    memfd sealed F_SEAL_GROW only      -> refused likewise (SHRINK missing)
 *   notmemfd    a regular temporary file as ring   -> refused
 *   badhdr      sealed memfd, wrong magic           -> refused ("ring header is invalid")
 *   badsize     sealed memfd, header rec_bytes != size -> refused
 *   nofd        HELLO without an fd               -> refused ("HELLO without a ring fd")
 *   hello2      a good HELLO, then a second HELLO -> ERROR "already attached"; the first
 *               ring keeps working (TOPIC_OK, a record is reported)
 *   ctlgarbage  short, long, bad magic/version/type, name without NUL, two fds, a
 *               daemon-only type (WELCOME), random bytes: each gets an ERROR or a
 *               closed socket, never a hang; a topic name Kafka would reject (spaces,
 *               '/', a newline) is refused; the daemon still answers a new HELLO
 *   hdrflip     for SECONDS: attach while a child process flips the ring magic in
 *               line 0, so that funneld's ctrl thread and its data-plane core may
 *               see different headers; funneld must refuse or quarantine, and live
 *   topicflood  registers SECONDS distinct topic names (observational; the test checks
 *               that another client can still register a topic afterwards)
 *   nohello     16 connections that never say HELLO, held 1 s then closed, then a
 *               normal attach must still work (no slot leak)
 *
 * Exit 0 when the daemon behaved as described, 1 when it did not (the reason is
 * printed), 2 on a local setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/ring/ctlproto.h"
#include "dataplane/ring/ring.h"

#define REC_BYTES   (256u * 1024u)
#define CMP_ENTRIES 1024u

static const char *sock_path, *topic = "hostile";
static int verbose;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int ctl_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends raw bytes with up to two fds. */
static int send_raw(int fd, const void *buf, size_t len, int fd1, int fd2)
{
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr a;
	} u;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[2] = {fd1, fd2}, n = (fd1 >= 0) + (fd2 >= 0);

	if (n) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* One reply: 0 and *m (fd closed unless efd), -ECONNRESET when the daemon
 * closed, -EAGAIN on timeout. */
static int reply(int fd, struct fnl_ctl_msg *m, int *efd)
{
	int rc = fnl_ctl_recv(fd, m, efd);
	if (rc == -EWOULDBLOCK)
		return -EAGAIN;
	return rc;
}

struct ring {
	int sock, memfd, doorbell;
	void *base;
	size_t bytes;
	struct fnl_ring_cview v;
	uint32_t topic_id;
	int32_t nparts;
};

static void ring_drop(struct ring *r)
{
	if (r->sock >= 0)
		close(r->sock);
	if (r->memfd >= 0)
		close(r->memfd);
	if (r->doorbell >= 0)
		close(r->doorbell);
	if (r->base)
		munmap(r->base, r->bytes);
	memset(r, 0, sizeof(*r));
	r->sock = r->memfd = r->doorbell = -1;
}

static int send_hello(int sock, int memfd, struct fnl_ctl_msg *rep, int *efd)
{
	struct fnl_ctl_msg m;
	fnl_ctl_msg_init(&m, FNL_CTL_HELLO);
	m.arg = FNL_RING_VERSION;
	int rc = fnl_ctl_send(sock, &m, memfd);
	return rc < 0 ? rc : reply(sock, rep, efd);
}

static int ask_topic(struct ring *r)
{
	struct fnl_ctl_msg m;
	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	snprintf(m.name, sizeof(m.name), "%s", topic);
	int rc = fnl_ctl_send(r->sock, &m, -1);
	if (rc == 0)
		rc = reply(r->sock, &m, NULL);
	if (rc < 0)
		return rc;
	if (m.type != FNL_CTL_TOPIC_OK)
		return m.status < 0 ? m.status : -EPROTO;
	r->topic_id = m.arg;
	r->nparts = m.arg2;
	return 0;
}

/* A good attach, like libfunnel: ring, HELLO, WELCOME + doorbell, TOPIC. */
static int ring_attach(struct ring *r)
{
	struct fnl_ctl_msg m;
	memset(r, 0, sizeof(*r));
	r->sock = r->memfd = r->doorbell = -1;
	r->sock = ctl_connect();
	if (r->sock < 0)
		return r->sock;
	int rc = fnl_ring_create(REC_BYTES, CMP_ENTRIES, &r->memfd, &r->base, &r->bytes);
	if (rc < 0)
		return rc;
	fnl_ring_cview_init(&r->v, r->base, REC_BYTES, CMP_ENTRIES);
	rc = send_hello(r->sock, r->memfd, &m, &r->doorbell);
	if (rc < 0)
		return rc;
	if (m.type != FNL_CTL_WELCOME || r->doorbell < 0) {
		fprintf(stderr, "ringgarbage: attach refused: %s\n", m.name);
		return m.status < 0 ? m.status : -EPROTO;
	}
	return ask_topic(r);
}

static void ring_bell(struct ring *r)
{
	uint64_t one = 1;
	ssize_t n = write(r->doorbell, &one, sizeof(one));
	(void)n;
}

/* Reserves and fills one DATA record; the caller may damage it before publish. */
static struct fnl_rec_hdr *put_rec(struct ring *r, uint32_t topic_id, int32_t part,
                                   uint32_t value_len, uint64_t opaque)
{
	uint32_t len = fnl_ring_align8(FNL_REC_HDR_BYTES + value_len);
	struct fnl_rec_hdr *h = fnl_ring_reserve(&r->v, len);
	if (!h)
		return NULL;
	memset(h, 0, FNL_REC_HDR_BYTES);
	h->len = len;
	h->type = FNL_REC_DATA;
	h->flags = FNL_REC_F_KEY_NULL;
	h->topic_id = topic_id;
	h->partition = part;
	h->timestamp_ms = 1700000000000;
	h->opaque = opaque;
	h->value_len = value_len;
	memset((uint8_t *)h + FNL_REC_HDR_BYTES, 'g', value_len);
	return h;
}

static void publish(struct ring *r)
{
	fnl_ring_publish(&r->v);
	ring_bell(r);
}

/* Has the daemon closed our control socket (quarantine)? Waits up to ms. */
static bool closed_within(struct ring *r, int ms)
{
	int64_t end = now_ms() + ms;
	for (;;) {
		struct pollfd p = {.fd = r->sock, .events = POLLIN};
		int left = (int)(end - now_ms());
		if (left < 0)
			left = 0;
		if (poll(&p, 1, left) > 0) {
			char b[512];
			ssize_t n = recv(r->sock, b, sizeof(b), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return true;
			continue; /* an unexpected message: keep waiting */
		}
		if (now_ms() >= end)
			return false;
	}
}

/* Waits for the report of opaque; returns its error code, or INT32_MIN. */
static int32_t report_of(struct ring *r, uint64_t opaque, int ms)
{
	int64_t end = now_ms() + ms;
	struct fnl_cmp e;
	while (now_ms() < end) {
		while (fnl_ring_cmp_pop(&r->v, &e) == 1) {
			fnl_ring_cmp_commit(&r->v);
			if (e.opaque == opaque)
				return e.err;
		}
		sleep_ms(2);
	}
	return INT32_MIN;
}

enum corruption {
	C_HEAD_BACK,
	C_HEAD_FAR,
	C_HEAD_MISALIGNED,
	C_LEN_PAST_HEAD,
	C_LEN_PAST_END,
	C_LEN_SHORT,
	C_BAD_TYPE,
	C_BAD_FLAGS,
	C_PAD_MIDDLE,
	C_TOPIC_UNKNOWN,
	C_HEADERS_LEN,
	C_NULL_KEY_WITH_LEN,
	C_RANDOM_BYTES,
	C_N
};

static const char *const cname[C_N] = {"rec_head backwards",
                                       "rec_head beyond tail+rec_bytes",
                                       "rec_head misaligned",
                                       "len beyond published head",
                                       "len beyond the end of the area",
                                       "len < 56",
                                       "unknown type",
                                       "unknown flags",
                                       "PAD not reaching the end",
                                       "unknown topic id",
                                       "huge headers_len",
                                       "null key with key_len",
                                       "random bytes as a record"};

/* Applies one structural corruption. Valid records go first so that the
 * daemon has a cursor > 0. */
static void corrupt(struct ring *r, enum corruption k)
{
	for (int i = 0; i < 3; i++)
		if (put_rec(r, r->topic_id, -1, 40, rnd()))
			publish(r);
	sleep_ms(20);
	uint64_t head = r->v.head;
	struct fnl_rec_hdr *h = NULL;
	if (k >= C_LEN_PAST_HEAD && k != C_PAD_MIDDLE && k != C_RANDOM_BYTES) {
		h = put_rec(r, r->topic_id, -1, 64, rnd());
		if (!h)
			return;
	}
	switch (k) {
	case C_HEAD_BACK:
		atomic_store(&r->v.hdr->rec_head, head >= 16 ? head - 16 - 8 * (rnd() % 4) : 0);
		break;
	case C_HEAD_FAR:
		atomic_store(&r->v.hdr->rec_head, head + REC_BYTES + 8 * (1 + rnd() % 1000));
		break;
	case C_HEAD_MISALIGNED:
		atomic_store(&r->v.hdr->rec_head, head + 1 + rnd() % 7);
		break;
	case C_LEN_PAST_HEAD:
		h->len += 64;
		break;
	case C_LEN_PAST_END:
		h->len = (uint32_t)(REC_BYTES + 8 * (rnd() % 100));
		break;
	case C_LEN_SHORT:
		h->len = 8 * (uint32_t)(rnd() % 6);
		break;
	case C_BAD_TYPE:
		h->type = (uint16_t)(3 + rnd() % 1000);
		break;
	case C_BAD_FLAGS:
		h->flags |= (uint16_t)(4u << (rnd() % 10));
		break;
	case C_PAD_MIDDLE: {
		uint64_t off = r->v.head & r->v.rec_mask;
		if (r->v.rec_bytes - off < 256)
			return; /* a PAD here would be legal: skip */
		h = fnl_ring_reserve(&r->v, 64);
		if (!h)
			return;
		h->len = 16;
		h->type = FNL_REC_PAD;
		break;
	}
	case C_TOPIC_UNKNOWN:
		h->topic_id = 100000 + (uint32_t)(rnd() % 1000);
		break;
	case C_HEADERS_LEN:
		h->headers_len = 0xfffffff0u - (uint32_t)(rnd() % 64);
		break;
	case C_NULL_KEY_WITH_LEN:
		h->key_len = 8;
		break;
	case C_RANDOM_BYTES: {
		uint8_t *p = fnl_ring_reserve(&r->v, 128);
		if (!p)
			return;
		for (int i = 0; i < 128; i++)
			p[i] = (uint8_t)rnd();
		uint32_t len = 8 + 8 * (uint32_t)(rnd() % 15), type = FNL_REC_DATA;
		memcpy(p, &len, 4); /* a DATA header whose lengths cannot add up */
		memcpy(p + 4, &type, 2);
		break;
	}
	default:
		break;
	}
	if (k != C_HEAD_BACK && k != C_HEAD_FAR && k != C_HEAD_MISALIGNED)
		fnl_ring_publish(&r->v);
	ring_bell(r);
}

/* Writes to fields the daemon must not trust: none of them may crash it. */
static void scribble_header(struct ring *r)
{
	struct fnl_ring_hdr *h = r->v.hdr;
	switch (rnd() % 8) {
	case 0:
		atomic_store(&h->rec_tail, rnd());
		break;
	case 1:
		atomic_store(&h->cmp_head, rnd());
		break;
	case 2:
		atomic_store(&h->cmp_tail, rnd()); /* only our own reports can be lost */
		break;
	case 3: /* line 0 (immutable after attach) is left to mode hdrflip */
		atomic_store(&h->client_futex, (uint32_t)rnd());
		break;
	case 4:
		atomic_store(&h->daemon_sleeping, (uint32_t)rnd());
		break;
	case 5: /* wake marks: only decide whether this client is woken */
		atomic_store(&h->wake_rec_tail, rnd() | (1ull << 63));
		atomic_store(&h->client_waiting, 1);
		break;
	case 6:
		atomic_store(&h->wake_cmp_head, rnd());
		atomic_store(&h->client_waiting, 1);
		break;
	default:
		atomic_store(&h->client_waiting, 1);
		break;
	}
}

/* Semantic errors: reported, not quarantined. Returns 0 or -1. */
static int semantic_round(struct ring *r, uint64_t *opq)
{
	struct fnl_rec_hdr *h;
	int32_t err;
	uint64_t o = ++*opq;

	/* a partition that does not exist */
	if (!(h = put_rec(r, r->topic_id, 5000, 16, o)))
		return 0;
	publish(r);
	err = report_of(r, o, 3000);
	if (err == INT32_MIN || err == 0) {
		fprintf(stderr, "ringgarbage: partition 5000: report err=%d (want an error)\n",
		        err);
		return -1;
	}
	/* header bytes that do not parse: header_count 1, name_len beyond headers_len */
	o = ++*opq;
	uint32_t len = fnl_ring_align8(FNL_REC_HDR_BYTES + 8 + 8);
	h = fnl_ring_reserve(&r->v, len);
	if (!h)
		return 0;
	memset(h, 0, len);
	*h = (struct fnl_rec_hdr){.len = len,
	                          .type = FNL_REC_DATA,
	                          .flags = FNL_REC_F_KEY_NULL,
	                          .topic_id = r->topic_id,
	                          .partition = -1,
	                          .timestamp_ms = 1,
	                          .opaque = o,
	                          .value_len = 8,
	                          .headers_len = 8,
	                          .header_count = 1};
	uint16_t bad_name_len = 60000;
	memcpy((uint8_t *)h + FNL_REC_HDR_BYTES + 8, &bad_name_len, 2);
	publish(r);
	err = report_of(r, o, 3000);
	if (err == INT32_MIN || err == 0) {
		fprintf(stderr, "ringgarbage: bad header bytes: report err=%d (want an error)\n",
		        err);
		return -1;
	}
	if (closed_within(r, 50)) {
		fprintf(stderr, "ringgarbage: quarantined for a semantic error\n");
		return -1;
	}
	return 0;
}

static int mode_ring(int seconds)
{
	struct ring r;
	int64_t end = now_ms() + (int64_t)seconds * 1000;
	long attaches = 0, quarantined = 0, missed = 0, valid = 0, sem_ok = 0;
	long per_kind[C_N] = {0};
	uint64_t opq = 1ull << 40;
	int rc, failures = 0;

	while (now_ms() < end) {
		if ((rc = ring_attach(&r)) < 0) {
			fprintf(stderr, "ringgarbage: re-attach failed: %s (%s)\n", strerror(-rc),
			        "the daemon must keep accepting clients");
			ring_drop(&r);
			return 1;
		}
		attaches++;
		if (attaches % 5 == 1) {
			if (semantic_round(&r, &opq) < 0)
				failures++;
			else
				sem_ok++;
		}
		/* a few rounds of valid records and harmless scribbles */
		for (int i = 0; i < 1 + (int)(rnd() % 4); i++) {
			for (int j = 0; j < 1 + (int)(rnd() % 20); j++)
				if (put_rec(&r, r.topic_id, -1, (uint32_t)(rnd() % 200), ++opq))
					valid++;
			publish(&r);
			if (rnd() % 3 == 0)
				scribble_header(&r); /* reports are not read after this */
			sleep_ms(1 + (int)(rnd() % 5));
		}
		enum corruption k = (enum corruption)(rnd() % C_N);
		/* restore what scribble_header broke that the helpers rely on */
		atomic_store(&r.v.hdr->rec_tail, 0);
		corrupt(&r, k);
		if (closed_within(&r, 2000)) {
			quarantined++;
			per_kind[k]++;
		} else {
			missed++;
			fprintf(stderr, "ringgarbage: NOT quarantined after: %s\n", cname[k]);
		}
		ring_drop(&r);
	}
	fprintf(stderr,
	        "ringgarbage: attaches=%ld quarantined=%ld missed=%ld valid_records=%ld "
	        "semantic_ok=%ld\n",
	        attaches, quarantined, missed, valid, sem_ok);
	for (int k = 0; k < C_N && verbose; k++)
		fprintf(stderr, "ringgarbage:   %-32s %ld\n", cname[k], per_kind[k]);
	return missed || failures || !quarantined ? 1 : 0;
}

/* ---------------------------------------------------------- refused rings */

static int expect_refusal(int memfd, const char *want, const char *what)
{
	int sock = ctl_connect();
	if (sock < 0) {
		fprintf(stderr, "ringgarbage: connect: %s\n", strerror(-sock));
		return 2;
	}
	struct fnl_ctl_msg m;
	int efd = -1;
	int rc = send_hello(sock, memfd, &m, &efd);
	close(sock);
	if (efd >= 0)
		close(efd);
	if (rc < 0) {
		fprintf(stderr, "ringgarbage: %s: no reply (%s)\n", what, strerror(-rc));
		return 1;
	}
	if (m.type != FNL_CTL_ERROR || m.status >= 0) {
		fprintf(stderr, "ringgarbage: %s: ACCEPTED (type %u)\n", what, m.type);
		return 1;
	}
	if (want && !strstr(m.name, want)) {
		fprintf(stderr, "ringgarbage: %s: refused with an unclear message: \"%s\"\n", what,
		        m.name);
		return 1;
	}
	printf("ringgarbage: %s: refused status=%d \"%s\"\n", what, m.status, m.name);
	return 0;
}

/* A memfd of the right size with a valid header and the given seals. */
static int make_memfd(int seals, bool good_hdr, uint64_t hdr_rec_bytes)
{
	size_t total;
	fnl_ring_layout(REC_BYTES, CMP_ENTRIES, &total);
	int fd = memfd_create("hostile-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)total) < 0)
		return -1;
	void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	fnl_ring_init(p, REC_BYTES, CMP_ENTRIES, getpid());
	if (!good_hdr)
		((struct fnl_ring_hdr *)p)->magic ^= 0xff;
	if (hdr_rec_bytes)
		((struct fnl_ring_hdr *)p)->rec_bytes = hdr_rec_bytes;
	munmap(p, total);
	if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)
		return -1;
	return fd;
}

static int mode_refusals(const char *mode)
{
	int fd, rc;
	if (!strcmp(mode, "noseal"))
		fd = make_memfd(0, true, 0);
	else if (!strcmp(mode, "shrinkonly"))
		fd = make_memfd(F_SEAL_SHRINK, true, 0);
	else if (!strcmp(mode, "growonly"))
		fd = make_memfd(F_SEAL_GROW, true, 0);
	else if (!strcmp(mode, "badhdr"))
		fd = make_memfd(F_SEAL_SHRINK | F_SEAL_GROW, false, 0);
	else if (!strcmp(mode, "badsize"))
		fd = make_memfd(F_SEAL_SHRINK | F_SEAL_GROW, true, 2 * REC_BYTES);
	else {
		char tmpl[] = "/tmp/ringgarbage.XXXXXX";
		fd = mkstemp(tmpl);
		if (fd >= 0) {
			unlink(tmpl);
			if (ftruncate(fd, 1 << 20) < 0)
				return 2;
		}
	}
	if (fd < 0) {
		perror("ringgarbage: memfd");
		return 2;
	}
	const char *want = strstr(mode, "only") || !strcmp(mode, "noseal") ? "seal" : NULL;
	if (!strcmp(mode, "badhdr") || !strcmp(mode, "badsize"))
		want = "invalid";
	rc = expect_refusal(fd, want, mode);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ control socket */

static int mode_nofd(void)
{
	return expect_refusal(-1, "without a ring fd", "HELLO without an fd");
}

static int mode_hello2(void)
{
	struct ring r;
	struct fnl_ctl_msg m;
	int efd = -1, rc = ring_attach(&r);
	if (rc < 0) {
		fprintf(stderr, "ringgarbage: first attach: %s\n", strerror(-rc));
		return 1;
	}
	int fd2, e2;
	void *b2;
	size_t n2;
	if (fnl_ring_create(REC_BYTES, CMP_ENTRIES, &fd2, &b2, &n2) < 0)
		return 2;
	rc = send_hello(r.sock, fd2, &m, &efd);
	if (efd >= 0)
		close(efd);
	close(fd2);
	munmap(b2, n2);
	e2 = 0;
	if (rc < 0) {
		fprintf(stderr, "ringgarbage: second HELLO: no reply (%s)\n", strerror(-rc));
		e2 = 1;
	} else if (m.type != FNL_CTL_ERROR) {
		fprintf(stderr, "ringgarbage: second HELLO: ACCEPTED (type %u)\n", m.type);
		e2 = 1;
	} else {
		printf("ringgarbage: second HELLO refused status=%d \"%s\"\n", m.status, m.name);
	}
	/* the first ring still works */
	if (!e2 && ask_topic(&r) < 0) {
		fprintf(stderr, "ringgarbage: TOPIC after the second HELLO failed\n");
		e2 = 1;
	}
	if (!e2) {
		put_rec(&r, r.topic_id, -1, 32, 4242);
		publish(&r);
		int32_t err = report_of(&r, 4242, 20000);
		if (err == INT32_MIN) {
			fprintf(stderr, "ringgarbage: no report for the first ring's record\n");
			e2 = 1;
		} else {
			printf("ringgarbage: first ring still served (report err=%d)\n", err);
		}
	}
	ring_drop(&r);
	return e2;
}

/* Sends one malformed message on a fresh connection; the daemon must answer
 * ERROR or close; returns 1 on a hang. */
static bool must_refuse;

static int one_garbage(const char *what, const void *buf, size_t len, int fd1, int fd2)
{
	int sock = ctl_connect();
	if (sock < 0)
		return 2;
	struct timeval tv = {.tv_sec = 3};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int rc = send_raw(sock, buf, len, fd1, fd2);
	char b[512];
	ssize_t n = rc < 0 ? -1 : recv(sock, b, sizeof(b), 0);
	int hang = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	struct fnl_ctl_msg *m = (struct fnl_ctl_msg *)b;
	if (hang)
		fprintf(stderr, "ringgarbage: %s: no answer and no close within 3 s\n", what);
	else if (n == (ssize_t)sizeof(*m) && m->type == FNL_CTL_ERROR)
		printf("ringgarbage: %s: ERROR \"%.100s\"\n", what, m->name);
	else if (n == (ssize_t)sizeof(*m) && m->type == FNL_CTL_WELCOME) {
		fprintf(stderr, "ringgarbage: %s: WELCOMED\n", what);
		hang = 1;
	} else if (n == (ssize_t)sizeof(*m) && m->type == FNL_CTL_TOPIC_OK && must_refuse) {
		fprintf(stderr, "ringgarbage: %s: ACCEPTED as topic id %u\n", what, m->arg);
		hang = 1;
	} else if (n == (ssize_t)sizeof(*m))
		printf("ringgarbage: %s: reply type %u\n", what, m->type);
	else
		printf("ringgarbage: %s: %s (%zd bytes)\n", what, n == 0 ? "closed" : "reply", n);
	close(sock);
	return hang;
}

static int mode_ctlgarbage(void)
{
	struct fnl_ctl_msg m;
	uint8_t big[1024], rb[276];
	int bad = 0, ring_fd;
	void *base;
	size_t total;

	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	snprintf(m.name, sizeof(m.name), "x");
	bad |= one_garbage("short message", &m, 100, -1, -1);
	memset(big, 'A', sizeof(big));
	memcpy(big, &m, sizeof(m));
	bad |= one_garbage("long message", big, sizeof(big), -1, -1);
	m.magic = 0xdeadbeef;
	bad |= one_garbage("bad magic", &m, sizeof(m), -1, -1);
	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	m.version = 99;
	bad |= one_garbage("bad version", &m, sizeof(m), -1, -1);
	fnl_ctl_msg_init(&m, 77);
	bad |= one_garbage("bad type", &m, sizeof(m), -1, -1);
	fnl_ctl_msg_init(&m, FNL_CTL_WELCOME);
	bad |= one_garbage("daemon-only type WELCOME", &m, sizeof(m), -1, -1);
	fnl_ctl_msg_init(&m, FNL_CTL_ERROR);
	bad |= one_garbage("daemon-only type ERROR", &m, sizeof(m), -1, -1);
	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	memset(m.name, 'n', sizeof(m.name));
	bad |= one_garbage("name without NUL", &m, sizeof(m), -1, -1);
	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	snprintf(m.name, sizeof(m.name), "bad name/with spaces\nlevel=error forged log line");
	must_refuse = true; /* Kafka topic names are [a-zA-Z0-9._-]{1,249} */
	bad |= one_garbage("invalid topic name", &m, sizeof(m), -1, -1);
	must_refuse = false;
	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	bad |= one_garbage("empty topic name", &m, sizeof(m), -1, -1);
	if (fnl_ring_create(REC_BYTES, CMP_ENTRIES, &ring_fd, &base, &total) < 0)
		return 2;
	fnl_ctl_msg_init(&m, FNL_CTL_HELLO);
	m.arg = FNL_RING_VERSION;
	bad |= one_garbage("HELLO with two fds", &m, sizeof(m), ring_fd, ring_fd);
	bad |= one_garbage("HELLO with a socket as ring", &m, sizeof(m), STDERR_FILENO, -1);
	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	snprintf(m.name, sizeof(m.name), "%s", topic);
	bad |= one_garbage("TOPIC carrying an fd", &m, sizeof(m), ring_fd, -1);
	for (int i = 0; i < 20; i++) {
		for (size_t k = 0; k < sizeof(rb); k++)
			rb[k] = (uint8_t)rnd();
		if (i & 1) { /* valid magic/version, random rest */
			memcpy(rb, &(uint32_t){FNL_CTL_MAGIC}, 4);
			memcpy(rb + 4, &(uint16_t){FNL_CTL_VERSION}, 2);
		}
		bad |= one_garbage("random bytes", rb, (size_t)(1 + rnd() % sizeof(rb)), -1, -1);
	}
	close(ring_fd);
	munmap(base, total);
	/* the daemon still serves a well-behaved attach */
	struct ring r;
	int rc = ring_attach(&r);
	ring_drop(&r);
	if (rc < 0) {
		fprintf(stderr, "ringgarbage: attach after garbage failed: %s\n", strerror(-rc));
		return 1;
	}
	printf("ringgarbage: attach after control garbage: ok\n");
	return bad ? 1 : 0;
}

/* Line 0 of the header is validated by funneld's ctrl thread when the HELLO
 * arrives and read again later by the data-plane core. A child process flips
 * the magic while we attach, again and again: whichever side sees a bad header
 * must refuse or quarantine, and funneld must survive. */
static int mode_hdrflip(int seconds)
{
	int64_t end = now_ms() + (int64_t)seconds * 1000;
	long welcomed = 0, refused = 0, quarantined = 0;
	while (now_ms() < end) {
		int memfd, sock = ctl_connect();
		void *base;
		size_t total;
		if (sock < 0) {
			fprintf(stderr, "ringgarbage: hdrflip: funneld stopped accepting: %s\n",
			        strerror(-sock));
			return 1;
		}
		if (fnl_ring_create(REC_BYTES, CMP_ENTRIES, &memfd, &base, &total) < 0)
			return 2;
		pid_t child = fork();
		if (child == 0) {
			volatile uint64_t *magic = &((struct fnl_ring_hdr *)base)->magic;
			for (uint64_t i = 0;; i++)
				*magic = (i & 1) ? FNL_RING_MAGIC : 0;
		}
		struct fnl_ctl_msg m;
		int efd = -1, rc = send_hello(sock, memfd, &m, &efd);
		if (rc == 0 && m.type == FNL_CTL_WELCOME) {
			welcomed++;
			struct ring r = {.sock = sock};
			quarantined += closed_within(&r, 100);
		} else {
			refused++;
		}
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		if (efd >= 0)
			close(efd);
		close(sock);
		close(memfd);
		munmap(base, total);
	}
	printf("ringgarbage: hdrflip: welcomed=%ld (quarantined %ld) refused=%ld\n", welcomed,
	       quarantined, refused);
	int sock = ctl_connect();
	if (sock < 0) {
		fprintf(stderr, "ringgarbage: hdrflip: funneld is gone: %s\n", strerror(-sock));
		return 1;
	}
	close(sock);
	return 0;
}

/* Registers count distinct topic names (the broker may auto-create them):
 * observational, exit 0; the test then checks that another client can still
 * register its own topic. */
static int mode_topicflood(int count)
{
	struct ring r;
	int rc = ring_attach(&r), ok = 0, refused = 0;
	if (rc < 0) {
		fprintf(stderr, "ringgarbage: attach: %s\n", strerror(-rc));
		ring_drop(&r);
		return 1;
	}
	for (int i = 0; i < count; i++) {
		struct fnl_ctl_msg m;
		fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
		snprintf(m.name, sizeof(m.name), "flood-%d-%d", (int)getpid(), i);
		if (fnl_ctl_send(r.sock, &m, -1) < 0 || reply(r.sock, &m, NULL) < 0)
			break;
		if (m.type == FNL_CTL_TOPIC_OK)
			ok++;
		else
			refused++;
	}
	printf("ringgarbage: topic flood: registered=%d refused=%d\n", ok, refused);
	ring_drop(&r);
	return 0;
}

static int mode_nohello(void)
{
	int fds[16], n = 0;
	for (int i = 0; i < 16; i++) {
		int fd = ctl_connect();
		if (fd >= 0)
			fds[n++] = fd;
	}
	sleep_ms(1000);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	sleep_ms(200);
	struct ring r;
	int rc = ring_attach(&r);
	ring_drop(&r);
	printf("ringgarbage: %d silent connections held and closed; attach after: %s\n", n,
	       rc < 0 ? strerror(-rc) : "ok");
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = "ring";
	int seconds = 10, o;
	while ((o = getopt(argc, argv, "s:t:m:d:S:v")) != -1) {
		switch (o) {
		case 's':
			sock_path = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'd':
			seconds = atoi(optarg);
			break;
		case 'S':
			rng_state = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(
			    stderr,
			    "usage: ringgarbage -s SOCKET [-t TOPIC] -m MODE [-d S] [-S SEED]\n");
			return 2;
		}
	}
	if (!sock_path) {
		fprintf(stderr, "ringgarbage: -s SOCKET is required\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "ring"))
		return mode_ring(seconds);
	if (!strcmp(mode, "hello2"))
		return mode_hello2();
	if (!strcmp(mode, "ctlgarbage"))
		return mode_ctlgarbage();
	if (!strcmp(mode, "hdrflip"))
		return mode_hdrflip(seconds);
	if (!strcmp(mode, "topicflood"))
		return mode_topicflood(seconds);
	if (!strcmp(mode, "nohello"))
		return mode_nohello();
	if (!strcmp(mode, "nofd"))
		return mode_nofd();
	if (!strcmp(mode, "noseal") || !strcmp(mode, "shrinkonly") || !strcmp(mode, "growonly") ||
	    !strcmp(mode, "notmemfd") || !strcmp(mode, "badhdr") || !strcmp(mode, "badsize"))
		return mode_refusals(mode);
	fprintf(stderr, "ringgarbage: unknown mode %s\n", mode);
	return 2;
}
