/* registry.c - the control socket: who may attach, ring validation, topic
 * registration, and a client's life (attach -> gone -> released). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctrl/admin.h"
#include "ctrl/daemon.h"
#include "ctrl/log.h"
#include "dataplane/net/engine.h"
#include "dataplane/ring/ctlproto.h"
#include "dataplane/ring/ring.h"

int fnl_mkdir_p(const char *dir, mode_t mode)
{
	char tmp[FNL_CONFIG_STR_MAX];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fnl_registry_listen(struct fnl_daemon *d, char *msg, size_t len)
{
	const char *path = d->cfg.socket_path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(msg, len, "funnel.socket.path is longer than %zu bytes",
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	char dir[FNL_CONFIG_STR_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	int rc = fnl_mkdir_p(dirname(dir), 0750);
	if (rc < 0) {
		snprintf(msg, len, "cannot create the socket directory of %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	chmod(dirname(dir), 0750);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a stale socket from a previous run: remove it only if nobody answers */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(msg, len, "another funneld is already serving %s", path);
		return -EADDRINUSE;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		snprintf(msg, len, "cannot listen on %s: %s", path, strerror(-rc));
		return rc;
	}
	d->listen_fd = fd;
	return 0;
}

static bool allowed(const struct fnl_daemon *d, const struct ucred *cr)
{
	if (d->cfg.allowed_uids_n == 0 && d->cfg.allowed_gids_n == 0)
		return true; /* the socket's mode (0660) and directory (0750) decide */
	if (cr->uid == geteuid())
		return true;
	for (int i = 0; i < d->cfg.allowed_uids_n; i++)
		if (d->cfg.allowed_uids[i] == cr->uid)
			return true;
	for (int i = 0; i < d->cfg.allowed_gids_n; i++)
		if (d->cfg.allowed_gids[i] == cr->gid)
			return true;
	return false;
}

static void refuse(int fd, int err, const char *why)
{
	struct fnl_ctl_msg m = {.magic = FNL_CTL_MAGIC,
				.version = FNL_CTL_VERSION,
				.type = FNL_CTL_ERROR,
				.status = err};
	snprintf(m.name, sizeof(m.name), "%s", why);
	fnl_ctl_send(fd, &m, -1);
}

void fnl_registry_accept(struct fnl_daemon *d)
{
	for (;;) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || !allowed(d, &cr)) {
			fnl_warn("client refused reason=not-allowed uid=%u gid=%u pid=%d",
				 (unsigned)cr.uid, (unsigned)cr.gid, (int)cr.pid);
			refuse(fd, -EACCES,
			       "this uid/gid is not in funnel.allowed.uids / funnel.allowed.gids");
			close(fd);
			continue;
		}
		int slot = -1;
		for (int i = 0; i < d->cfg.clients_max && slot < 0; i++)
			if (!d->clients[i].used)
				slot = i;
		if (slot < 0 || d->stopping) {
			fnl_warn("client refused reason=%s pid=%d",
				 d->stopping ? "stopping" : "funnel.clients.max", (int)cr.pid);
			refuse(fd, d->stopping ? -ESHUTDOWN : -EUSERS,
			       d->stopping ? "funneld is shutting down"
					   : "funnel.clients.max clients are attached");
			close(fd);
			continue;
		}
		d->clients[slot] = (struct dclient){
			.fd = fd, .memfd = -1, .pid = cr.pid, .uid = cr.uid, .used = true};
	}
}

/* Validate the client's memfd (sealed, sized, header) and map it; the core
 * gets the mapping. */
static int attach(struct fnl_daemon *d, int slot, int memfd, char *why, size_t len)
{
	struct dclient *c = &d->clients[slot];
	struct fnl_ring_dview v;
	int rc = fnl_ring_attach(memfd, &v);
	if (rc < 0) {
		snprintf(why, len, "%s",
			 rc == -EPERM ? "ring memfd must be sealed with F_SEAL_SHRINK|F_SEAL_GROW"
				      : "ring header is invalid (magic, version or sizes)");
		return rc;
	}
	if (v.rec_bytes > (uint64_t)d->cfg.ring_bytes_max) {
		fnl_ring_detach(&v, false);
		snprintf(why, len, "ring of %llu record bytes exceeds funnel.ring.bytes.max=%lld",
			 (unsigned long long)v.rec_bytes, (long long)d->cfg.ring_bytes_max);
		return -EFBIG;
	}
	/* the size is within funnel.ring.bytes.max: map every page now, on the ctrl
	 * thread, so no page fault lands on the data-plane core (best effort:
	 * MADV_POPULATE_WRITE needs Linux 5.14) */
	(void)madvise(v.hdr, v.map_bytes, MADV_POPULATE_WRITE);
	c->memfd = memfd;
	c->map = v.hdr;
	c->bytes = v.map_bytes;
	c->in_core = true;
	struct stat st;
	c->ino = fstat(memfd, &st) == 0 ? (uint64_t)st.st_ino : 0;
	struct fnl_cmd m = {.type = FNL_CMD_CLIENT_ADD,
			    .a = slot,
			    .ptr = c->map,
			    .u64 = c->bytes,
			    .i64 = (int64_t)c->ino};
	fnl_daemon_push(d, &m);
	return 0;
}

static void on_hello(struct fnl_daemon *d, int slot, int memfd)
{
	struct dclient *c = &d->clients[slot];
	char why[200];
	struct fnl_ctl_msg r = {.magic = FNL_CTL_MAGIC, .version = FNL_CTL_VERSION};
	if (c->in_core || memfd < 0) {
		if (memfd >= 0)
			close(memfd);
		refuse(c->fd, -EPROTO, c->in_core ? "already attached" : "HELLO without a ring fd");
		return;
	}
	if (d->starting) { /* -ESHUTDOWN: libfunnel retries until max_block_ms */
		close(memfd);
		fnl_daemon_start_why(d, why, sizeof(why));
		refuse(c->fd, -ESHUTDOWN, why[0] ? why : "starting: funneld is not ready yet");
		return;
	}
	int rc = attach(d, slot, memfd, why, sizeof(why));
	if (rc < 0) {
		close(memfd);
		fnl_warn("client ring refused pid=%d reason=\"%s\"", (int)c->pid, why);
		refuse(c->fd, rc, why);
		return;
	}
	r.type = FNL_CTL_WELCOME;
	r.arg = (uint32_t)slot;
	fnl_ctl_send(c->fd, &r, d->doorbell_efd);
	fnl_info("client attached slot=%d pid=%d uid=%u ring_bytes=%zu ring_ino=%llu", slot,
		 (int)c->pid, (unsigned)c->uid, c->bytes, (unsigned long long)c->ino);
}

/* The name comes from the client: log it only as printable bytes. */
static void printable(char *name)
{
	for (char *p = name; *p; p++)
		if (*p < 0x21 || *p > 0x7e || *p == '"')
			*p = '?';
}

static void topic_reply_ok(struct fnl_daemon *d, struct dclient *c, int id)
{
	struct fnl_ctl_msg r = {.magic = FNL_CTL_MAGIC,
				.version = FNL_CTL_VERSION,
				.type = FNL_CTL_TOPIC_OK,
				.arg = (uint32_t)id,
				.arg2 = d->topics[id].nparts};
	snprintf(r.name, sizeof(r.name), "%s", d->topics[id].name);
	fnl_ctl_send(c->fd, &r, -1);
}

/* Client c waits no more. The last waiter of a tentative topic decides its entry: kept
 * (and saved) once the core has it under this id, freed otherwise. */
static void topic_unwait(struct fnl_daemon *d, struct dclient *c)
{
	struct dtopic *t = &d->topics[c->pend_topic];
	c->pending = false;
	d->topics_pending--;
	if (--t->waiters > 0 || !t->tentative)
		return;
	if (t->in_core) {
		t->tentative = false;
		fnl_daemon_topics_save(d);
	} else {
		*t = (struct dtopic){0};
	}
}

/* Ends client c's pending lookup: the topic is in the core (ok) or the wait is over. */
static void topic_settle(struct fnl_daemon *d, struct dclient *c, bool ok)
{
	char why[256];
	if (ok) {
		if (c->pend_created)
			c->topics_created++;
		topic_reply_ok(d, c, c->pend_topic);
	} else {
		int rc = fnl_daemon_topic_failure(d, c->pend_topic, c->pend_wait_ms, why,
						  sizeof(why));
		fnl_warn("topic lookup failed pid=%d reason=\"%s\"", (int)c->pid, why);
		refuse(c->fd, rc, why);
	}
	topic_unwait(d, c);
}

static void on_topic(struct fnl_daemon *d, int slot, const struct fnl_ctl_msg *m)
{
	struct dclient *c = &d->clients[slot];
	char name[sizeof(m->name) + 1], why[256];
	memcpy(name, m->name, sizeof(m->name));
	name[sizeof(m->name)] = '\0';
	if (c->pending) {
		refuse(c->fd, -EBUSY, "a topic lookup of this client is still pending");
		return;
	}
	bool created;
	int id = fnl_daemon_topic_find(d, name, c->topics_created < d->cfg.client_topics_max,
				       &created, why, sizeof(why));
	if (id < 0) {
		printable(name);
		fnl_warn("topic refused pid=%d topic=\"%.64s\" reason=\"%s\"", (int)c->pid, name,
			 why);
		refuse(c->fd, id, why);
		return;
	}
	if (d->topics[id].in_core ||
	    (m->arg2 > 0 && m->arg2 - 1 == id && d->topics[id].missing)) {
		/* known, or a re-attaching client's topic the cluster lost (ctlproto.h) */
		topic_reply_ok(d, c, id);
		return;
	}
	/* The client may wait less than the daemon's max.block.ms (its own, in arg). */
	int wait_ms = d->cfg.max_block_ms;
	if (m->arg > 0 && m->arg < (uint32_t)wait_ms)
		wait_ms = (int)m->arg;
	c->pending = true;
	c->pend_created = created;
	c->pend_topic = id;
	c->pend_wait_ms = wait_ms;
	c->pend_deadline_ms = fnl_now_ns() / 1000000 + wait_ms;
	d->topics[id].waiters++;
	d->topics_pending++;
	fnl_registry_topics_tick(d, true);
}

void fnl_registry_topics_tick(struct fnl_daemon *d, bool now)
{
	if (d->topics_pending == 0)
		return;
	int64_t t = fnl_now_ns() / 1000000;
	if (now || t - d->last_lookup_ms >= 100)
		fnl_daemon_topics_lookup(d);
	t = fnl_now_ns() / 1000000;
	for (int i = 0; i < d->cfg.clients_max && d->topics_pending > 0; i++) {
		struct dclient *c = &d->clients[i];
		if (!c->used || !c->pending)
			continue;
		if (d->topics[c->pend_topic].in_core)
			topic_settle(d, c, true);
		else if (t >= c->pend_deadline_ms || d->topics[c->pend_topic].over_max)
			topic_settle(d, c, false); /* over_max: no wait helps (meta.c) */
	}
}

/* A client that went away while its lookup waited: nobody to answer. */
static void topic_abandon(struct fnl_daemon *d, struct dclient *c)
{
	if (c->pending)
		topic_unwait(d, c);
}

void fnl_registry_serve(struct fnl_daemon *d, int slot)
{
	struct dclient *c = &d->clients[slot];
	for (;;) {
		struct fnl_ctl_msg m;
		int fd = -1;
		int rc = fnl_ctl_recv(c->fd, &m, &fd);
		if (rc == -EAGAIN)
			return;
		if (rc < 0 || m.type == FNL_CTL_BYE) {
			if (fd >= 0)
				close(fd);
			fnl_registry_gone(d, slot);
			return;
		}
		if (m.type == FNL_CTL_HELLO) {
			on_hello(d, slot, fd);
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (m.type == FNL_CTL_TOPIC)
			on_topic(d, slot, &m);
		else if (m.type == FNL_CTL_ADMIN && !c->in_core)
			fnl_admin_handle(d, c->fd, &m); /* funnelctl: never sends HELLO */
		else
			refuse(c->fd, -EPROTO, "unexpected message type");
	}
}

/* The client's socket closed (exit, crash, kill -9 or quarantine). */
void fnl_registry_gone(struct fnl_daemon *d, int slot)
{
	struct dclient *c = &d->clients[slot];
	topic_abandon(d, c);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		if (c->in_core)
			fnl_info("client detached slot=%d pid=%d", slot, (int)c->pid);
		else /* an admin connection (funnelctl) or a client that never attached */
			fnl_debug("connection closed slot=%d pid=%d", slot, (int)c->pid);
	}
	if (c->in_core) {
		struct fnl_cmd m = {.type = FNL_CMD_CLIENT_GONE, .a = slot};
		fnl_daemon_push(d, &m);
		return; /* unmapped when the core releases it */
	}
	c->used = false;
}

void fnl_registry_released(struct fnl_daemon *d, int slot)
{
	if (slot < 0 || slot >= d->cfg.clients_max)
		return;
	struct dclient *c = &d->clients[slot];
	if (c->map)
		munmap(c->map, c->bytes);
	if (c->memfd >= 0)
		close(c->memfd);
	if (c->fd >= 0)
		close(c->fd);
	*c = (struct dclient){.fd = -1, .memfd = -1};
}

void fnl_registry_close_all(struct fnl_daemon *d)
{
	for (int i = 0; i < d->cfg.clients_max; i++)
		if (d->clients[i].used)
			fnl_registry_released(d, i);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->cfg.socket_path);
	}
}
