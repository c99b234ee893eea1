/* fake_daemon.h - a tiny in-process funneld stand-in for libfunnel tests: one
 * thread that accepts clients on a unix socket, speaks the control protocol,
 * drains each ring, and completes every record at once with
 *   offset = FNV-1a hash of (flags, key, value, headers) so the client can check
 *   the bytes arrived intact, err = 10 when the value starts with "FAIL",
 *   err = 3 for an unknown topic id, partition = the record's or 0.
 * Each record is released and reported on its own, then the client is woken if
 * it wants (fnl_ring_client_wants_wake). It captures the first FAKE_CAPTURE
 * records for assertions; hold, limit and pace_every/pace_us slow it down. */
#ifndef FNL_TEST_FAKE_DAEMON_H
#define FNL_TEST_FAKE_DAEMON_H

#include "check.h"
#include "dataplane/ring/ctlproto.h"
#include "dataplane/ring/ring.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FAKE_CAPTURE 256
#define FAKE_TOPICS  8

struct fake_rec {
	uint32_t topic_id;
	int32_t partition;
	int64_t timestamp_ms;
	uint16_t flags, header_count;
	uint32_t key_len, value_len, headers_len;
	char key[64], value[64], headers[128];
};

struct fake_daemon {
	char path[108];
	int lfd, efd, cfd;
	pthread_t th;
	_Atomic int stop;
	int refuse;             /* HELLO answered with ERROR status = refuse (when < 0) */
	uint64_t die_after;     /* drop the client after this many records (0 = never) */
	_Atomic int hold;       /* 1: do not complete records (ring fills up) */
	_Atomic uint64_t limit; /* if not 0: complete records only while records < limit */
	_Atomic uint32_t pace_every, pace_us; /* sleep pace_us after every pace_every records */
	_Atomic uint64_t records, bad, hellos, doorbells;
	_Atomic uint64_t wakes, last_wake_tail; /* client wake-ups sent; rec_tail at the last */
	_Atomic uint64_t sleeps_woken; /* wake-ups for marks other than the last woken ones */
	uint64_t woken_marks[2];
	struct fnl_ring_dview d;
	_Atomic bool attached;
	uint64_t cursor;
	uint32_t ntopics;
	char topics[FAKE_TOPICS][FNL_CTL_NAME_BYTES];
	struct fake_rec cap[FAKE_CAPTURE];
};

static inline uint64_t fake_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static inline int64_t fake_hash(uint16_t flags, const void *k, size_t kl, const void *v, size_t vl,
                                const void *h, size_t hl)
{
	uint64_t x = fake_fnv(0xcbf29ce484222325ull, &flags, 2);

	x = fake_fnv(x, k, kl);
	x = fake_fnv(x, v, vl);
	x = fake_fnv(x, h, hl);
	return (int64_t)(x >> 1);
}

static inline void fake_drop(struct fake_daemon *f)
{
	if (f->attached)
		fnl_ring_detach(&f->d, false);
	f->attached = false;
	if (f->cfd >= 0)
		close(f->cfd);
	f->cfd = -1;
}

static inline void fake_ctl(struct fake_daemon *f)
{
	struct fnl_ctl_msg m;
	int fd = -1, rc = fnl_ctl_recv(f->cfd, &m, &fd);

	if (rc < 0 || m.type == FNL_CTL_BYE) {
		if (fd >= 0)
			close(fd);
		fake_drop(f);
		return;
	}
	if (m.type == FNL_CTL_HELLO) {
		f->hellos++;
		rc = f->refuse < 0 ? f->refuse : (fd < 0 ? -EINVAL : fnl_ring_attach(fd, &f->d));
		if (fd >= 0)
			close(fd);
		if (rc < 0) {
			fnl_ctl_msg_init(&m, FNL_CTL_ERROR);
			m.status = rc;
			snprintf(m.name, sizeof(m.name), "refused: %d", rc);
			fnl_ctl_send(f->cfd, &m, -1);
			return;
		}
		f->attached = true;
		f->cursor = f->d.tail; /* like funneld: continue where the reports stopped */
		fnl_ctl_msg_init(&m, FNL_CTL_WELCOME);
		m.arg = 77;
		fnl_ctl_send(f->cfd, &m, f->efd);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (m.type == FNL_CTL_TOPIC) {
		uint32_t i;

		if (strcmp(m.name, "missing") == 0) {
			fnl_ctl_msg_init(&m, FNL_CTL_ERROR);
			m.status = -ENOENT;
			strcpy(m.name, "topic 'missing' does not exist (UNKNOWN_TOPIC_OR_PARTITION)");
		} else {
			for (i = 0; i < f->ntopics && strcmp(f->topics[i], m.name); i++)
				;
			if (i == f->ntopics && i < FAKE_TOPICS)
				strcpy(f->topics[f->ntopics++], m.name);
			fnl_ctl_msg_init(&m, FNL_CTL_TOPIC_OK);
			m.arg = 100 + i;
			m.arg2 = 3;
		}
		fnl_ctl_send(f->cfd, &m, -1);
	}
}

static inline void fake_capture(struct fake_daemon *f, const struct fnl_rec_view *r, uint64_t n)
{
	struct fake_rec *c;

	if (n >= FAKE_CAPTURE)
		return;
	c = &f->cap[n];
	c->topic_id = r->h.topic_id;
	c->partition = r->h.partition;
	c->timestamp_ms = r->h.timestamp_ms;
	c->flags = r->h.flags;
	c->header_count = r->h.header_count;
	c->key_len = r->h.key_len;
	c->value_len = r->h.value_len;
	c->headers_len = r->h.headers_len;
	memcpy(c->key, r->key ? r->key : (const uint8_t *)"",
	       r->h.key_len < 63 ? r->h.key_len : 63);
	memcpy(c->value, r->value ? r->value : (const uint8_t *)"",
	       r->h.value_len < 63 ? r->h.value_len : 63);
	memcpy(c->headers, r->headers, r->h.headers_len < 128 ? r->h.headers_len : 128);
}

/* Held (f->hold) or the record limit reached: complete nothing for now. */
static inline bool fake_paused(struct fake_daemon *f)
{
	uint64_t limit = f->limit;

	return f->hold || (limit && f->records >= limit);
}

/* Test thread: wakes the daemon thread out of its poll (after changing hold or
 * limit), as a doorbell does. */
static inline void fake_kick(struct fake_daemon *f)
{
	uint64_t one = 1;

	CHECK_EQ(write(f->efd, &one, sizeof(one)), sizeof(one));
}

static inline void fake_drain(struct fake_daemon *f)
{
	struct fnl_rec_view r = {0};
	int rc;

	while (f->attached && !fake_paused(f) && (rc = fnl_ring_next(&f->d, &f->cursor, &r)) != 0) {
		struct fnl_rec_kv kv;
		struct fnl_cmp c = {.opaque = 0};
		uint32_t hp = 0;
		int hrc;

		if (rc < 0) {
			f->bad++;
			fake_drop(f);
			return;
		}
		while ((hrc = fnl_rec_hdrs_next(&r, &hp, &kv)) == 1)
			;
		if (hrc < 0)
			f->bad++;
		fake_capture(f, &r, f->records);
		c.opaque = r.h.opaque;
		c.topic_id = r.h.topic_id;
		c.partition = r.h.partition >= 0 ? r.h.partition : 0;
		c.offset = fake_hash(r.h.flags, r.key, r.h.key_len, r.value, r.h.value_len,
		                     r.headers, r.h.headers_len);
		if (r.h.topic_id < 100 || r.h.topic_id >= 100 + f->ntopics)
			c.err = 3;
		else if (r.value && r.h.value_len >= 4 && memcmp(r.value, "FAIL", 4) == 0)
			c.err = 10;
		CHECK_EQ(fnl_ring_cmp_push(&f->d, &c), 0);
		CHECK_EQ(fnl_ring_release(&f->d, r.end), 0);
		if (fnl_ring_client_wants_wake(&f->d)) {
			/* relaxed: read after the acquire in fnl_ring_client_wants_wake */
			uint64_t m0 =
			    atomic_load_explicit(&f->d.hdr->wake_rec_tail, memory_order_relaxed);
			uint64_t m1 =
			    atomic_load_explicit(&f->d.hdr->wake_cmp_head, memory_order_relaxed);

			fnl_ring_wake_client(&f->d);
			f->last_wake_tail = f->d.tail;
			/* a client still asleep is woken again after the next record:
			 * one sleep (one pair of marks) counts once */
			if (m0 != f->woken_marks[0] || m1 != f->woken_marks[1])
				f->sleeps_woken++;
			f->woken_marks[0] = m0;
			f->woken_marks[1] = m1;
			f->wakes++;
		}
		f->records++;
		uint32_t every = f->pace_every;
		if (every && f->records % every == 0)
			usleep(f->pace_us);
		if (f->die_after && f->records >= f->die_after) {
			/* gone for good: unlink first, or libfunnel may re-attach to
			 * the still-listening socket between the two and get more */
			unlink(f->path);
			fake_drop(f);
			return;
		}
	}
}

static inline void *fake_main(void *arg)
{
	struct fake_daemon *f = arg;

	while (!f->stop) {
		struct pollfd p[3] = {{.fd = f->lfd, .events = POLLIN},
		                      {.fd = f->efd, .events = POLLIN},
		                      {.fd = f->cfd, .events = POLLIN}};
		uint64_t v;

		fake_drain(f);
		if (f->attached) {
			fnl_ring_set_sleeping(&f->d, true);
			if (fnl_ring_pending(&f->d, f->cursor) && !fake_paused(f)) {
				fnl_ring_set_sleeping(&f->d, false);
				continue;
			}
		}
		poll(p, 3, 20);
		if (f->attached)
			fnl_ring_set_sleeping(&f->d, false);
		if (p[1].revents & POLLIN) {
			if (read(f->efd, &v, 8) == 8)
				f->doorbells += v;
		}
		if (f->cfd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			fake_ctl(f);
		if (f->cfd < 0 && (p[0].revents & POLLIN))
			f->cfd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	fake_drop(f);
	return NULL;
}

static inline void fake_start(struct fake_daemon *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int rc;

	f->cfd = -1;
	snprintf(f->path, sizeof(f->path), "/tmp/fnl-fake-%d-%p.sock", (int)getpid(), (void *)f);
	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(f->lfd >= 0);
	CHECK_EQ(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(listen(f->lfd, 4), 0);
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(f->efd >= 0);
	rc = pthread_create(&f->th, NULL, fake_main, f);
	CHECK_EQ(rc, 0);
}

static inline void fake_stop(struct fake_daemon *f)
{
	f->stop = 1;
	pthread_join(f->th, NULL);
	close(f->lfd);
	close(f->efd);
	unlink(f->path);
}

#endif
