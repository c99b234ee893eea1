/* client.c - libfunnel: attach to funneld, produce into the ring, serve reports.
 *
 * One fnl_client owns: the control socket (SOCK_SEQPACKET), the daemon's
 * doorbell eventfd, the ring mapping and its client view, and the topic table
 * (id -> name, for reports). Allocation happens in fnl_open()/fnl_topic() only;
 * fnl_produce() copies into the ring and does no syscall unless the daemon is
 * asleep (one eventfd write) or the ring is full (spin, then futex wait).
 *
 * fork(): every open client is on one list (clients_mu). The pthread_atfork
 * child handler closes the child's copies of each client's socket, doorbell
 * and ring fds (the parent's stay open: funneld sees the parent's client only)
 * and sets `forked`. The first call on such a client in the child attaches a
 * ring of its own (fork_attach); until then the inherited mapping of the
 * parent's ring is never read or written. fnl_produce() pays one load of
 * `forked`, a field of the client it already reads.
 */
#include "funnel.h"

#include "dataplane/client/client_int.h"
#include "dataplane/ring/ctlproto.h"
#include "dataplane/ring/ring.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RING_BYTES_DEFAULT   (4u << 20)
#define MAX_BLOCK_MS_DEFAULT 60000
#define CTL_TIMEOUT_MS       30000
#define SPIN_ROUNDS          256
#define WAIT_SLICE_MS        100 /* re-check daemon liveness this often while blocked */
#define ATTACH_RETRY_MS      20  /* while the daemon is absent (reattach() keeps its own 100 ms) */

struct fnl_topic {
	uint32_t id;
	int32_t partitions;
	char name[FNL_CTL_NAME_BYTES];
};

struct fnl_client {
	struct fnl_ring_cview v;
	int sock, doorbell;
	void *base;
	size_t map_bytes;
	uint32_t client_id;
	bool dead;      /* no daemon attached right now (records still go into the ring) */
	bool broken;    /* a new daemon gave other topic ids: this client cannot go on */
	uint32_t replies_owed; /* control replies that timed out and will still come */
	bool forked;    /* inherited across fork(): the fds are closed, the ring is the parent's */
	int ring_fd;    /* kept to attach the same ring to a restarted daemon */
	int64_t next_reattach_ms;
	char path[108];
	struct fnl_conf conf;
	struct fnl_topic **topics;
	uint32_t ntopics, topics_cap;
	uint32_t last_topic; /* index of the last report's topic (cache) */
	uint64_t last_stamp; /* stamp_ns of the last record: stamps never decrease */
	uint64_t rt_next;    /* stamp at which rt_off is measured again (0: never measured) */
	int64_t rt_off;      /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns, RT_REFRESH_NS at most old */
	struct fnl_client *prev, *next; /* all open clients (clients_mu) */
	struct fnl_ctxn *txn; /* transactions (txn_client.c); NULL until fnl_txn_init */
};

/* ------------------------------------------------------------------ fork */

static pthread_mutex_t clients_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fnl_client *clients; /* open clients, for the atfork child handler */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The lock keeps the list whole across fork(). */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&clients_mu);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&clients_mu);
}

/* In the child, single-threaded: only close() (async-signal-safe) and stores.
 * Closing our copies does not affect the parent's descriptors, so funneld
 * sees the parent's socket close when the parent exits, not when we do. */
static void atfork_child(void)
{
	for (struct fnl_client *c = clients; c; c = c->next) {
		close_fd(&c->sock);
		close_fd(&c->doorbell);
		close_fd(&c->ring_fd);
		fnl_ctxn_atfork_child(c->txn);
		c->forked = true;
	}
	pthread_mutex_unlock(&clients_mu);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void clients_link(struct fnl_client *c)
{
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&clients_mu);
	c->prev = NULL;
	c->next = clients;
	if (clients)
		clients->prev = c;
	clients = c;
	pthread_mutex_unlock(&clients_mu);
}

static void clients_unlink(struct fnl_client *c)
{
	pthread_mutex_lock(&clients_mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&clients_mu);
}

/* The daemon's message for the last refusal on this thread (fnl_last_error). */
static _Thread_local char last_error[FNL_CTL_NAME_BYTES];

static int refused(const struct fnl_ctl_msg *m)
{
	memcpy(last_error, m->name, sizeof(last_error));
	last_error[sizeof(last_error) - 1] = '\0';
	return m->status < 0 ? m->status : -EPROTO;
}

const char *fnl_last_error(void)
{
	return last_error;
}

void fnl_conf_init(struct fnl_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ring_bytes = RING_BYTES_DEFAULT;
	c->max_block_ms = MAX_BLOCK_MS_DEFAULT;
}

static int64_t now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define RT_REFRESH_NS 100000000u /* re-measure the wall clock's offset every 100 ms */

/* A record's stamp_ns (ring.h): CLOCK_MONOTONIC through the vDSO, read after
 * the ring space is reserved and before rec_head is published, so it lies
 * between the start of this produce call and the record's publication. funneld
 * takes records across rings in stamp order, which keeps a produce call that
 * returned before another began ahead of it (docs/architecture.md, "Order
 * across rings"). Clamped so one ring's stamps never decrease.
 * *wall_ms (if not NULL): the record's CreateTime, CLOCK_REALTIME derived from
 * the stamp and an offset read at most RT_REFRESH_NS ago, so a record costs
 * one clock read, as it did before stamps (a step of the wall clock shows
 * within 100 ms; NTP's slew moves it by microseconds meanwhile). */
static inline uint64_t rec_stamp(struct fnl_client *c, int64_t *wall_ms)
{
	struct timespec ts;
	uint64_t s;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	s = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (s < c->last_stamp)
		s = c->last_stamp;
	c->last_stamp = s;
	if (wall_ms) {
		if (__builtin_expect(s >= c->rt_next, 0)) { /* rt_next 0: never measured */
			clock_gettime(CLOCK_REALTIME, &ts);
			c->rt_off = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - (int64_t)s;
			c->rt_next = s + RT_REFRESH_NS;
		}
		*wall_ms = ((int64_t)s + c->rt_off) / 1000000;
	}
	return s;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* ------------------------------------------------------------------ attach */

static uint64_t ring_size(size_t want)
{
	uint64_t n = FNL_RING_REC_BYTES_MIN;

	while (n < want && n < FNL_RING_REC_BYTES_MAX)
		n <<= 1;
	return n;
}

static uint32_t cmp_size(uint64_t rec_bytes)
{
	uint64_t n = rec_bytes / 64; /* one report per 64 ring bytes */

	if (n < FNL_RING_CMP_ENTRIES_MIN)
		n = FNL_RING_CMP_ENTRIES_MIN;
	if (n > FNL_RING_CMP_ENTRIES_MAX)
		n = FNL_RING_CMP_ENTRIES_MAX;
	return (uint32_t)n;
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = CTL_TIMEOUT_MS / 1000};
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* HELLO with the ring fd; WELCOME with the doorbell. */
static int ctl_hello(struct fnl_client *c, int ring_fd)
{
	struct fnl_ctl_msg m;
	int rc, efd = -1;

	fnl_ctl_msg_init(&m, FNL_CTL_HELLO);
	m.arg = FNL_RING_VERSION;
	rc = fnl_ctl_send(c->sock, &m, ring_fd);
	int sent = rc;
	/* A daemon that refuses us (uid, clients.max, shutting down) sends ERROR and
	 * closes before or while our HELLO arrives: the send or the first read can
	 * fail with EPIPE/ECONNRESET while its ERROR still waits in our queue. */
	for (int tries = 0; tries < 2; tries++) {
		rc = fnl_ctl_recv(c->sock, &m, &efd);
		if (rc >= 0 || (rc != -ECONNRESET && rc != -EPIPE))
			break;
	}
	if (rc < 0)
		return sent < 0 ? sent : rc;
	if (m.type == FNL_CTL_ERROR) {
		if (efd >= 0)
			close(efd);
		return refused(&m);
	}
	if (m.type != FNL_CTL_WELCOME || efd < 0) {
		if (efd >= 0)
			close(efd);
		return -EPROTO;
	}
	c->doorbell = efd;
	c->client_id = m.arg;
	return 0;
}

/* A daemon that is not there right now but may be soon: none listening yet
 * (socket file absent or stale), one that went away mid-handshake, or one
 * shutting down for a successor. */
static bool daemon_absent(int rc)
{
	return rc == -ENOENT || rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EPIPE ||
	       rc == -ESHUTDOWN;
}

static void nap_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Connects and says HELLO with the ring, retrying every ATTACH_RETRY_MS while
 * the daemon is absent (daemon_absent) until max_block_ms passed: a client
 * started while funneld restarts waits for it, as a Kafka producer waits up
 * to max.block.ms for its first metadata. */
static int attach_first(struct fnl_client *c, const char *path, int ring_fd)
{
	int64_t deadline = now_ms(CLOCK_MONOTONIC) + c->conf.max_block_ms;

	for (;;) {
		c->sock = ctl_connect(path);
		int rc = c->sock < 0 ? c->sock : ctl_hello(c, ring_fd);
		if (rc >= 0)
			return 0;
		if (c->sock >= 0)
			close(c->sock);
		c->sock = -1;
		int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
		if (!daemon_absent(rc) || left <= 0)
			return rc;
		nap_ms(left < ATTACH_RETRY_MS ? left : ATTACH_RETRY_MS);
	}
}

int fnl_open(const struct fnl_conf *conf, fnl_client_t **out)
{
	struct fnl_conf def;
	struct fnl_client *c;
	const char *path;
	uint64_t rec_bytes;
	uint32_t cmp_entries;
	int ring_fd, rc;

	last_error[0] = '\0'; /* an earlier refusal's text must not describe this call */
	if (!conf) {
		fnl_conf_init(&def);
		conf = &def;
	}
	if (!out || conf->max_block_ms < 0)
		return -EINVAL;
	path = conf->socket_path ? conf->socket_path : getenv(FNL_CTL_SOCKET_ENV);
	if (!path || !*path)
		path = FNL_CTL_SOCKET_DEFAULT;
	if (strlen(path) >= sizeof(c->path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->conf = *conf;
	c->doorbell = -1;
	c->sock = -1;
	rec_bytes = ring_size(conf->ring_bytes ? conf->ring_bytes : RING_BYTES_DEFAULT);
	cmp_entries = cmp_size(rec_bytes);
	rc = fnl_ring_create(rec_bytes, cmp_entries, &ring_fd, &c->base, &c->map_bytes);
	if (rc < 0) {
		free(c);
		return rc;
	}
	fnl_ring_cview_init(&c->v, c->base, rec_bytes, cmp_entries);
	rc = attach_first(c, path, ring_fd);
	if (rc < 0) {
		close(ring_fd);
		munmap(c->base, c->map_bytes);
		free(c);
		return rc;
	}
	c->ring_fd = ring_fd; /* a restarted daemon gets the same ring */
	snprintf(c->path, sizeof(c->path), "%s", path);
	clients_link(c);
	*out = c;
	return 0;
}

void fnl_close(fnl_client_t *c)
{
	struct fnl_ctl_msg m;
	uint32_t i;

	if (!c)
		return;
	clients_unlink(c);
	/* forked and not re-attached: the socket (closed at fork) was the parent's,
	 * and so is the ring; unmapping our copy of it does not touch the parent */
	if (!c->dead && !c->forked) {
		fnl_ctl_msg_init(&m, FNL_CTL_BYE);
		fnl_ctl_send(c->sock, &m, -1);
	}
	close_fd(&c->sock);
	close_fd(&c->ring_fd);
	close_fd(&c->doorbell);
	if (c->base)
		munmap(c->base, c->map_bytes);
	for (i = 0; i < c->ntopics; i++)
		free(c->topics[i]);
	free(c->topics);
	fnl_ctxn_free(c->txn);
	free(c);
}

/* ------------------------------------------------------------------ topics */

static int topic_add(struct fnl_client *c, struct fnl_topic *t)
{
	if (c->ntopics == c->topics_cap) {
		uint32_t cap = c->topics_cap ? c->topics_cap * 2 : 8;
		struct fnl_topic **n = realloc(c->topics, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->topics = n;
		c->topics_cap = cap;
	}
	c->topics[c->ntopics++] = t;
	return 0;
}

static bool reattach(struct fnl_client *c);
static int fork_attach(struct fnl_client *c);

/* A reply that did not come within the socket's time-out is still owed: the next
 * call reads it first, so replies never answer the wrong request. */
static int ctl_drain_owed(struct fnl_client *c)
{
	struct fnl_ctl_msg stale;

	while (c->replies_owed > 0) {
		int rc = fnl_ctl_recv(c->sock, &stale, NULL);

		if (rc < 0)
			return rc == -EAGAIN ? -ETIMEDOUT : rc;
		c->replies_owed--;
	}
	return 0;
}

/* One request, one reply (the daemon sends nothing else). The request must be
 * safe to repeat: while the daemon is gone (or goes mid-call) it is sent again
 * to its successor, until max_block_ms passed; then -EPIPE. The daemon answers
 * a topic lookup by max_block_ms (it is told it); a reply later than that plus
 * CTL_TIMEOUT_MS gives -ETIMEDOUT. */
static int ctl_call(struct fnl_client *c, struct fnl_ctl_msg *m)
{
	int64_t deadline = now_ms(CLOCK_MONOTONIC) + c->conf.max_block_ms;
	struct fnl_ctl_msg req = *m;
	int rc;

	for (;;) {
		if (!c->dead || reattach(c)) {
			*m = req;
			rc = ctl_drain_owed(c);
			if (rc == 0)
				rc = fnl_ctl_send(c->sock, m, -1);
			if (rc == 0) {
				rc = fnl_ctl_recv(c->sock, m, NULL);
				/* SO_RCVTIMEO (CTL_TIMEOUT_MS) ran out: wait on while allowed */
				while (rc == -EAGAIN &&
				       now_ms(CLOCK_MONOTONIC) < deadline + CTL_TIMEOUT_MS)
					rc = fnl_ctl_recv(c->sock, m, NULL);
				if (rc == -EAGAIN) {
					c->replies_owed++;
					return -ETIMEDOUT;
				}
			}
			if (rc != -ECONNRESET && rc != -EPIPE)
				return rc;
			c->dead = true;
		}
		int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
		if (c->broken || left <= 0)
			return -EPIPE;
		nap_ms(left < ATTACH_RETRY_MS ? left : ATTACH_RETRY_MS);
	}
}

/* A TOPIC lookup (ctlproto.h) of name, whose len + 1 bytes fit m->name;
 * held_id + 1 in arg2 when the caller holds the id already (0: a first
 * lookup). 0 with m the TOPIC_OK answer, or -errno. */
static int topic_call(struct fnl_client *c, const char *name, size_t len, int32_t held,
                      struct fnl_ctl_msg *m)
{
	int rc;

	fnl_ctl_msg_init(m, FNL_CTL_TOPIC);
	memcpy(m->name, name, len + 1);
	m->arg = c->conf.max_block_ms > 0 ? (uint32_t)c->conf.max_block_ms : 1;
	m->arg2 = held;
	rc = ctl_call(c, m);
	if (rc < 0)
		return rc;
	if (m->type == FNL_CTL_ERROR)
		return refused(m);
	return m->type == FNL_CTL_TOPIC_OK ? 0 : -EPROTO;
}

int fnl_topic(fnl_client_t *c, const char *name, fnl_topic_t **out)
{
	struct fnl_ctl_msg m;
	struct fnl_topic *t;
	size_t len;
	uint32_t i;
	int rc;

	last_error[0] = '\0';
	if (!c || !name || !out)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len >= FNL_CTL_NAME_BYTES)
		return -EINVAL;
	if (c->forked && (rc = fork_attach(c)) < 0)
		return rc;
	for (i = 0; i < c->ntopics; i++) {
		if (strcmp(c->topics[i]->name, name) == 0) {
			*out = c->topics[i];
			return 0;
		}
	}
	rc = topic_call(c, name, len, 0, &m);
	if (rc < 0)
		return rc;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->id = m.arg;
	t->partitions = m.arg2;
	memcpy(t->name, name, len + 1);
	rc = topic_add(c, t);
	if (rc < 0) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int32_t fnl_topic_partitions(const fnl_topic_t *t)
{
	return t ? t->partitions : -1;
}

int32_t fnl_topic_refresh(fnl_client_t *c, fnl_topic_t *t)
{
	struct fnl_ctl_msg m;
	int rc;

	last_error[0] = '\0';
	if (!c || !t)
		return -EINVAL;
	if (c->forked && (rc = fork_attach(c)) < 0)
		return rc;
	rc = topic_call(c, t->name, strlen(t->name), (int32_t)t->id + 1, &m);
	if (rc < 0)
		return rc;
	if (m.arg != t->id)
		return -EPROTO; /* another id: only a daemon that lost its topic table */
	t->partitions = m.arg2 < 0 ? -1 : m.arg2;
	return t->partitions;
}

static const char *topic_name(struct fnl_client *c, uint32_t id)
{
	uint32_t i;

	if (c->last_topic < c->ntopics && c->topics[c->last_topic]->id == id)
		return c->topics[c->last_topic]->name;
	for (i = 0; i < c->ntopics; i++) {
		if (c->topics[i]->id == id) {
			c->last_topic = i;
			return c->topics[i]->name;
		}
	}
	return "?";
}

/* ------------------------------------------------------------------ liveness */

/* Slow path only: the daemon detached cleanly or closed the control socket. */
static bool daemon_gone(struct fnl_client *c)
{
	struct pollfd p = {.fd = c->sock, .events = POLLRDHUP};

	if (!c->dead) {
		/* seq_cst: pairs with the daemon's store in fnl_ring_detach() */
		if (atomic_load_explicit(&c->v.hdr->daemon_alive, memory_order_seq_cst) == 0)
			c->dead = true;
		else if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			c->dead = true;
	}
	return c->dead && !reattach(c);
}

/* The daemon is gone (killed, restarted): attach the same ring to whatever
 * daemon listens on the socket now, at most every 100 ms. The new daemon
 * continues the ring where the reports stopped (dataplane/ring/ring.h), so
 * records written meanwhile are sent, and none that was unreported is lost.
 * Topic ids are written into records, so they must not change. */
static bool reattach(struct fnl_client *c)
{
	struct fnl_ctl_msg m;
	int64_t now = now_ms(CLOCK_MONOTONIC);
	int s;

	if (c->broken || now < c->next_reattach_ms)
		return false;
	c->next_reattach_ms = now + 100;
	s = ctl_connect(c->path);
	if (s < 0)
		return false;
	close(c->sock);
	c->sock = s;
	c->replies_owed = 0; /* owed on the old connection only */
	if (c->doorbell >= 0)
		close(c->doorbell);
	c->doorbell = -1;
	if (ctl_hello(c, c->ring_fd) < 0)
		return false;
	c->dead = false;
	for (uint32_t i = 0; i < c->ntopics; i++) {
		fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
		memcpy(m.name, c->topics[i]->name, sizeof(m.name));
		m.arg2 = (int32_t)c->topics[i]->id + 1; /* the id our records carry (ctlproto.h) */
		int rc = fnl_ctl_send(c->sock, &m, -1);
		if (rc == 0)
			rc = fnl_ctl_recv(c->sock, &m, NULL);
		if (rc < 0) {
			c->dead = true;
			return false;
		}
		if (m.type != FNL_CTL_TOPIC_OK || m.arg != c->topics[i]->id) {
			c->dead = c->broken = true; /* records in the ring name the old ids */
			snprintf(last_error, sizeof(last_error),
			         "the restarted funneld gave topic %.200s another id",
			         c->topics[i]->name);
			return false;
		}
	}
	return true;
}

/* First call in a child on a client inherited across fork(): a new ring of
 * the same size, attached as a new client, and the cached topics looked up
 * again (the ring is empty, so their ids may change). The parent's ring, its
 * records and their reports stay the parent's. On failure the client stays
 * forked and the next call tries again. */
static int fork_attach(struct fnl_client *c)
{
	uint64_t rec_bytes = c->v.rec_bytes;
	uint32_t cmp_entries = c->v.cmp_entries;
	struct fnl_ctl_msg m;
	void *base;
	size_t map_bytes;
	int ring_fd, rc;

	if (c->base) {
		munmap(c->base, c->map_bytes); /* our copy of the parent's mapping */
		c->base = NULL;
	}
	rc = fnl_ring_create(rec_bytes, cmp_entries, &ring_fd, &base, &map_bytes);
	if (rc < 0)
		return rc;
	c->dead = c->broken = false;
	c->next_reattach_ms = 0;
	c->replies_owed = 0; /* owed on the parent's connection only */
	rc = attach_first(c, c->path, ring_fd);
	if (daemon_absent(rc))
		rc = -EPIPE; /* as for a daemon that went away after fnl_open() */
	for (uint32_t i = 0; rc >= 0 && i < c->ntopics; i++) {
		fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
		memcpy(m.name, c->topics[i]->name, sizeof(m.name));
		rc = fnl_ctl_send(c->sock, &m, -1);
		if (rc == 0)
			rc = fnl_ctl_recv(c->sock, &m, NULL);
		if (rc == 0 && m.type == FNL_CTL_ERROR)
			rc = refused(&m);
		else if (rc == 0 && m.type != FNL_CTL_TOPIC_OK)
			rc = -EPROTO;
		if (rc == -ECONNRESET)
			rc = -EPIPE;
		if (rc == 0) {
			c->topics[i]->id = m.arg;
			c->topics[i]->partitions = m.arg2;
		}
	}
	if (rc < 0) {
		close_fd(&c->sock);
		close_fd(&c->doorbell);
		close(ring_fd);
		munmap(base, map_bytes);
		return rc;
	}
	c->base = base;
	c->map_bytes = map_bytes;
	c->ring_fd = ring_fd;
	c->last_topic = 0;
	fnl_ring_cview_init(&c->v, base, rec_bytes, cmp_entries);
	c->forked = false;
	return 0;
}

static void ring_doorbell(struct fnl_client *c)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(c->doorbell, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

/* Sleeps until rec_tail >= rec_mark and cmp_head >= cmp_mark (0: no condition),
 * or ms pass. The daemon tests the same condition on the marks before it wakes
 * us, and fnl_ring_client_wait_begin() re-checks it after client_waiting is
 * visible, so no wake-up is lost (dataplane/ring/ring.h, "Wake-ups"). */
static int wait_daemon(struct fnl_client *c, uint64_t rec_mark, uint64_t cmp_mark, int ms)
{
	uint32_t seen;
	int rc = 0;

	if (!fnl_ring_client_wait_begin(&c->v, rec_mark, cmp_mark, &seen))
		rc = fnl_ring_wait_client(&c->v, seen, ms);
	fnl_ring_client_wait_end(&c->v);
	return rc == -EINTR || rc == -ETIMEDOUT ? 0 : rc;
}

/* ------------------------------------------------------------------ reports */

/* Serves every published report, in ring order, reading each entry in place
 * (no copy). cmp_tail moves past an entry before its callback runs, and the
 * loop re-reads it, so a callback that calls fnl_poll() (or fnl_produce())
 * sees a consistent ring; the slots go back to the daemon once, at the end. */
static int serve_reports(struct fnl_client *c)
{
	struct fnl_ring_cview *v = &c->v;
	uint64_t head = fnl_ring_cmp_avail(v), first = v->cmp_tail;
	struct fnl_report r = {.topic = NULL};
	uint32_t id = 0; /* r.topic's id, once r.topic is set */

	if (v->cmp_tail >= head)
		return 0;
	if (!c->conf.on_report) {
		v->cmp_tail = head;
	} else {
		while (v->cmp_tail < head) {
			const struct fnl_cmp *e = &v->cmp[v->cmp_tail & v->cmp_mask];

			if (!r.topic || e->topic_id != id) /* a burst is mostly one topic */
				r.topic = topic_name(c, id = e->topic_id);
			r.partition = e->partition;
			r.offset = e->offset;
			r.err = e->err;
			r.opaque = e->opaque;
			v->cmp_tail++;
			c->conf.on_report(&r, c->conf.ctx);
		}
	}
	if (v->cmp_tail_pub < v->cmp_tail) /* a nested fnl_poll may have committed */
		fnl_ring_cmp_commit(v);
	return (int)(v->cmp_tail - first);
}

int fnl_poll(fnl_client_t *c, int timeout_ms)
{
	/* timeout 0 (a poll between produce calls) reads no clock */
	int64_t deadline = timeout_ms < 0    ? INT64_MAX
	                   : timeout_ms == 0 ? 0
	                                     : now_ms(CLOCK_MONOTONIC) + timeout_ms;
	int n, rc;

	if (c->forked && (rc = fork_attach(c)) < 0)
		return rc;
	for (;;) {
		n = serve_reports(c);
		if (n > 0)
			return n;
		if (daemon_gone(c))
			return -EPIPE;
		if (timeout_ms == 0)
			return 0;
		int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
		if (left <= 0)
			return 0;
		/* any report: every published one was served above */
		rc = wait_daemon(c, 0, c->v.cmp_tail + 1,
		                 (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS));
		if (rc < 0)
			return rc;
	}
}

int fnl_flush(fnl_client_t *c, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms(CLOCK_MONOTONIC) + timeout_ms;
	int rc;

	if (c->forked)
		return 0; /* nothing of this process is queued (the records are the parent's) */
	while (fnl_ring_outstanding(&c->v) > 0) {
		int64_t left = deadline - now_ms(CLOCK_MONOTONIC);

		if (left <= 0)
			return -ETIMEDOUT;
		rc = fnl_poll(c, left > INT32_MAX ? -1 : (int)left);
		if (rc == -EPIPE && !c->broken && left > 50) {
			/* no daemon now: one may come back and finish the ring */
			struct timespec ts = {0, 50 * 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int64_t fnl_outq_len(fnl_client_t *c)
{
	if (c->forked)
		return 0; /* the inherited records are the parent's */
	return (int64_t)fnl_ring_outstanding(&c->v);
}

int fnl_set_max_block_ms(fnl_client_t *c, int max_block_ms)
{
	if (!c || max_block_ms < 0)
		return -EINVAL;
	c->conf.max_block_ms = max_block_ms;
	return 0;
}

/* ------------------------------------------------------------------ produce */

/* Ring full: serve reports, spin, then sleep until max_block_ms. A sleep lasts
 * until the record fits and half the ring is free, or half the report slots
 * (fnl_ring_full_marks), not until the first released byte: woken for every
 * acked batch, a fast client would block again at once, over and over. Every
 * wake-up (and every WAIT_SLICE_MS) tries to reserve again, so space that frees
 * up below the marks is still used before max_block_ms runs out. */
static void *reserve_slow(struct fnl_client *c, uint32_t len, int *err)
{
	int64_t deadline = now_ms(CLOCK_MONOTONIC) + c->conf.max_block_ms;
	uint64_t tail, rec_mark, cmp_mark;
	void *p;
	int i, rc;

	for (;;) {
		serve_reports(c);
		for (i = 0; i < SPIN_ROUNDS; i++) {
			p = fnl_ring_reserve(&c->v, len);
			if (p)
				return p;
			cpu_relax();
		}
		int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
		if (daemon_gone(c)) {
			/* no daemon: wait for one to come back, up to max_block_ms */
			if (left <= 0 || c->broken) {
				*err = -EPIPE;
				return NULL;
			}
			struct timespec ts = {0, (left < 50 ? left : 50) * 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (left <= 0) {
			*err = -EAGAIN;
			return NULL;
		}
		/* acquire: pairs with the daemon's release of rec_tail */
		tail = atomic_load_explicit(&c->v.hdr->rec_tail, memory_order_acquire);
		fnl_ring_full_marks(&c->v, len, tail, &rec_mark, &cmp_mark);
		rc = wait_daemon(c, rec_mark, cmp_mark,
		                 (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS));
		if (rc < 0) {
			*err = rc;
			return NULL;
		}
	}
}

static int headers_size(const struct fnl_header *h, int nh, uint64_t *bytes)
{
	uint64_t n = 0;
	int i;

	if (nh < 0 || nh > UINT16_MAX || (nh > 0 && !h))
		return -EINVAL;
	for (i = 0; i < nh; i++) {
		size_t name_len = h[i].name ? strlen(h[i].name) : 0;

		if (!h[i].name || name_len > UINT16_MAX || h[i].value_len < -1 ||
		    (h[i].value_len > 0 && !h[i].value))
			return -EINVAL;
		n += 2 + name_len + 4 + (h[i].value_len > 0 ? (uint64_t)h[i].value_len : 0);
	}
	*bytes = n;
	return 0;
}

static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
	if (n)
		memcpy(p, src, n);
	return p + n;
}

/* Serializes nh headers at q (ring.h's format); returns the end. */
static uint8_t *write_headers(uint8_t *q, const struct fnl_header *h, int nh)
{
	for (int i = 0; i < nh; i++) {
		uint16_t name_len = (uint16_t)strlen(h[i].name);

		q = put(q, &name_len, 2);
		q = put(q, h[i].name, name_len);
		q = put(q, &h[i].value_len, 4);
		if (h[i].value_len > 0)
			q = put(q, h[i].value, (size_t)h[i].value_len);
	}
	return q;
}

void fnl_client_write_record(uint8_t *p, const struct fnl_rec_hdr *rh, const void *key,
                             const void *value, const struct fnl_header *h, int nh)
{
	uint8_t *q = put(p, rh, sizeof(*rh));

	q = put(q, key, rh->key_len);
	q = put(q, value, rh->value_len);
	q = write_headers(q, h, nh);
	memset(q, 0, (size_t)(p + rh->len - q)); /* padding: no stale bytes to the daemon */
}

/* fnl_produce() inside an open transaction (txn_client.c), off the ring path */
static __attribute__((noinline)) int produce_txn(struct fnl_client *c, struct fnl_rec_hdr *rh,
                                                 const void *key, const void *value,
                                                 const struct fnl_header *h, int nh)
{
	int rc;

	/* CreateTime for 0 as on the ring path (the stamp orders nothing here) */
	rh->stamp_ns = rec_stamp(c, rh->timestamp_ms ? NULL : &rh->timestamp_ms);
	rc = fnl_ctxn_append(c->txn, rh, key, value, h, nh);
	if (rc == -EPERM)
		snprintf(last_error, sizeof(last_error),
		         "this client's transaction ended with a fatal error (%.120s): "
		         "close the client and open a new one",
		         fnl_txn_error(c));
	return rc;
}

/* Ring full: reports, then the wait max_block_ms allows (0: none). */
static __attribute__((noinline)) void *reserve_full(struct fnl_client *c, uint32_t len, int *rc)
{
	void *p;

	if (c->conf.max_block_ms == 0) {
		serve_reports(c);
		p = fnl_ring_reserve_len(&c->v, len);
		*rc = p ? 0 : (daemon_gone(c) ? -EPIPE : -EAGAIN);
		return p;
	}
	return reserve_slow(c, len, rc);
}

/* The ring path computes the record's size once (fnl_ring_reserve_len does
 * not check it again) and writes the header straight into the reserved space,
 * after the padding's last word (the payload overwrites the rest of that
 * word), so no stale bytes reach the daemon. */
int fnl_produce(fnl_client_t *c, fnl_topic_t *t, int32_t partition, const void *key, size_t key_len,
                const void *value, size_t value_len, const struct fnl_header *h, int nh,
                int64_t timestamp_ms, uint64_t opaque)
{
	uint64_t hbytes = 0, len;
	uint8_t *p;
	int rc = 0;

	if (!c || !t || partition < -1)
		return -EINVAL;
	/* one test for both rare states: fork_attach() clears broken too */
	if (__builtin_expect(c->forked | c->broken, 0)) {
		if (!c->forked)
			return -EPIPE; /* with no daemon now, records still go into the ring */
		rc = fork_attach(c);
		if (rc < 0)
			return rc;
	}
	if (__builtin_expect(nh != 0, 0) && headers_size(h, nh, &hbytes) < 0)
		return -EINVAL;
	if (!key)
		key_len = 0;
	if (!value)
		value_len = 0;
	if ((key_len | value_len) > UINT32_MAX)
		return -EMSGSIZE;
	/* no overflow: hbytes < 2^16 * (2^16 + 6 + 2^31) */
	len = (FNL_REC_HDR_BYTES + key_len + value_len + hbytes + 7u) & ~(uint64_t)7u;
	if (len > fnl_ring_rec_max(&c->v)) /* rec_max <= 0xfffffff8: len fits a u32 */
		return -EMSGSIZE;
	uint16_t flags =
	    (uint16_t)((key ? 0 : FNL_REC_F_KEY_NULL) | (value ? 0 : FNL_REC_F_VALUE_NULL));
	if (__builtin_expect(c->txn != NULL, 0) && fnl_ctxn_open(c->txn)) {
		struct fnl_rec_hdr rh = {.len = (uint32_t)len,
		                         .type = FNL_REC_DATA,
		                         .flags = flags,
		                         .topic_id = t->id,
		                         .partition = partition,
		                         .timestamp_ms = timestamp_ms,
		                         .opaque = opaque,
		                         .key_len = (uint32_t)key_len,
		                         .value_len = (uint32_t)value_len,
		                         .headers_len = (uint32_t)hbytes,
		                         .header_count = (uint16_t)nh};
		return produce_txn(c, &rh, key, value, h, nh);
	}
	p = fnl_ring_reserve_len(&c->v, (uint32_t)len);
	if (__builtin_expect(!p, 0) && !(p = reserve_full(c, (uint32_t)len, &rc)))
		return rc;
	/* the stamp after the reservation, before the publication (ring.h) */
	uint64_t stamp = rec_stamp(c, timestamp_ms ? NULL : &timestamp_ms);
	memset(p + len - 8, 0, 8); /* the padding (<= 7 bytes) ends in this word */
	/* the header, stored in place (p is 8-aligned: the area and lens are) */
	*(struct fnl_rec_hdr *)p = (struct fnl_rec_hdr){.len = (uint32_t)len,
	                                                .type = FNL_REC_DATA,
	                                                .flags = flags,
	                                                .topic_id = t->id,
	                                                .partition = partition,
	                                                .timestamp_ms = timestamp_ms,
	                                                .opaque = opaque,
	                                                .key_len = (uint32_t)key_len,
	                                                .value_len = (uint32_t)value_len,
	                                                .headers_len = (uint32_t)hbytes,
	                                                .header_count = (uint16_t)nh,
	                                                .stamp_ns = stamp};
	if (key_len)
		memcpy(p + FNL_REC_HDR_BYTES, key, key_len);
	if (value_len)
		memcpy(p + FNL_REC_HDR_BYTES + key_len, value, value_len);
	if (__builtin_expect(nh != 0, 0))
		write_headers(p + FNL_REC_HDR_BYTES + key_len + value_len, h, nh);
	if (fnl_ring_publish(&c->v))
		ring_doorbell(c);
	return 0;
}

/* ------------------------------------------------------------------ for txn_client.c */

void fnl_client_report(fnl_client_t *c, uint32_t topic_id, int32_t partition, int64_t offset,
                       int16_t err, uint64_t opaque)
{
	if (!c->conf.on_report)
		return;
	struct fnl_report r = {topic_name(c, topic_id), partition, offset, err, opaque};
	c->conf.on_report(&r, c->conf.ctx);
}

struct fnl_ctxn **fnl_client_txn_slot(fnl_client_t *c)
{
	return &c->txn;
}

const char *fnl_client_socket_path(const fnl_client_t *c)
{
	return c->path;
}

size_t fnl_client_ring_bytes(const fnl_client_t *c)
{
	return (size_t)c->v.rec_bytes;
}

int fnl_client_topic_at(const fnl_client_t *c, uint32_t i, uint32_t *id, const char **name)
{
	if (i >= c->ntopics)
		return -ENOENT;
	*id = c->topics[i]->id;
	*name = c->topics[i]->name;
	return 0;
}

/* ------------------------------------------------------------------ errors */

const char *fnl_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
	if (err == 0)
		return "Success";
	switch (err) {
	case EAGAIN:
		return "ring full (max_block_ms elapsed)";
	case EMSGSIZE:
		return "record larger than half the ring";
	case EPIPE:
		return "funneld is gone";
	case ECONNREFUSED:
		return "funneld is not listening on the socket";
	case ENOENT:
		return "no such socket or topic";
	case ETIMEDOUT:
		return "timed out (max_block_ms elapsed)";
	case EPROTO:
		return "control protocol mismatch";
	default:
		break;
	}
	s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}

const char *fnl_kafka_err_name(int16_t err)
{
	switch (err) {
	case -1:
		return "UNKNOWN_SERVER_ERROR";
	case 0:
		return "NONE";
	case 1:
		return "OFFSET_OUT_OF_RANGE";
	case 2:
		return "CORRUPT_MESSAGE";
	case 3:
		return "UNKNOWN_TOPIC_OR_PARTITION";
	case 4:
		return "INVALID_FETCH_SIZE";
	case 5:
		return "LEADER_NOT_AVAILABLE";
	case 6:
		return "NOT_LEADER_OR_FOLLOWER";
	case 7:
		return "REQUEST_TIMED_OUT";
	case 8:
		return "BROKER_NOT_AVAILABLE";
	case 9:
		return "REPLICA_NOT_AVAILABLE";
	case 10:
		return "MESSAGE_TOO_LARGE";
	case 12:
		return "OFFSET_METADATA_TOO_LARGE";
	case 13:
		return "NETWORK_EXCEPTION";
	case 17:
		return "INVALID_TOPIC_EXCEPTION";
	case 18:
		return "RECORD_LIST_TOO_LARGE";
	case 19:
		return "NOT_ENOUGH_REPLICAS";
	case 20:
		return "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
	case 21:
		return "INVALID_REQUIRED_ACKS";
	case 22:
		return "ILLEGAL_GENERATION";
	case 25:
		return "UNKNOWN_MEMBER_ID";
	case 27:
		return "REBALANCE_IN_PROGRESS";
	case 28:
		return "INVALID_COMMIT_OFFSET_SIZE";
	case 29:
		return "TOPIC_AUTHORIZATION_FAILED";
	case 30:
		return "GROUP_AUTHORIZATION_FAILED";
	case 31:
		return "CLUSTER_AUTHORIZATION_FAILED";
	case 32:
		return "INVALID_TIMESTAMP";
	case 35:
		return "UNSUPPORTED_VERSION";
	case 42:
		return "INVALID_REQUEST";
	case 43:
		return "UNSUPPORTED_FOR_MESSAGE_FORMAT";
	case 45:
		return "OUT_OF_ORDER_SEQUENCE_NUMBER";
	case 46:
		return "DUPLICATE_SEQUENCE_NUMBER";
	case 47:
		return "INVALID_PRODUCER_EPOCH";
	case 49:
		return "INVALID_PRODUCER_ID_MAPPING";
	case 53:
		return "TRANSACTIONAL_ID_AUTHORIZATION_FAILED";
	case 59:
		return "UNKNOWN_PRODUCER_ID";
	case 74:
		return "FENCED_LEADER_EPOCH";
	case 75:
		return "UNKNOWN_LEADER_EPOCH";
	case 82:
		return "FENCED_INSTANCE_ID";
	case 87:
		return "INVALID_RECORD";
	case 120:
		return "TRANSACTION_ABORTABLE";
	default:
		return "UNKNOWN";
	}
}
