/* admin.c - snapshots for funnelctl over the control socket, and SIGHUP reload. */
#include "ctrl/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctrl/daemon.h"
#include "ctrl/log.h"
#include "dataplane/net/engine.h"
#include "dataplane/producer/errtab.h"

static void put_str(struct fnl_mbuf *b, const char *key, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	fnl_mbuf_printf(b, " %s=", key);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		unsigned char ch = *p;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || strchr("._:/,@+-", ch);
		if (plain) {
			fnl_mbuf_put(b, (const char *)p, 1);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			fnl_mbuf_put(b, e, 3);
		}
	}
}

static void put_u(struct fnl_mbuf *b, const char *key, uint64_t v)
{
	fnl_mbuf_printf(b, " %s=%llu", key, (unsigned long long)v);
}

static void put_i(struct fnl_mbuf *b, const char *key, int64_t v)
{
	fnl_mbuf_printf(b, " %s=%lld", key, (long long)v);
}

static const char *broker_state_name(int s)
{
	static const char *const n[] = {"unused", "down", "connecting", "negotiating", "ready"};
	return s >= 0 && s <= 4 ? n[s] : "unknown";
}

static const char *client_state_name(int s)
{
	static const char *const n[] = {"free", "active", "draining", "quarantined"};
	return s >= 0 && s <= 3 ? n[s] : "unknown";
}

static void snap_daemon(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	const struct fnl_core_stats *st = fnl_core_stats(d->core);
	int64_t now = fnl_now_ns() / 1000000;
	int topics = 0;
	for (int i = 0; i < d->cfg.topics_max; i++)
		topics += d->topics[i].used;
	const char *why = NULL;
	bool ok = fnl_metrics_healthy(d, &why);
	fnl_mbuf_put(b, "daemon", 6);
	put_i(b, "pid", getpid());
	put_i(b, "uptime_ms", d->start_ms ? now - d->start_ms : 0);
	put_i(b, "now_ms", now);
	put_i(b, "producer_id", st->producer_id);
	put_i(b, "producer_epoch", st->producer_epoch);
	put_i(b, "idempotent", d->cfg.enable_idempotence);
	put_i(b, "metadata_age_ms", d->last_metadata_ms > 0 ? now - d->last_metadata_ms : -1);
	put_i(b, "brokers_known", d->brokers_known);
	put_i(b, "clients_active", st->clients_active);
	put_i(b, "topics", topics);
	put_i(b, "partitions", fnl_core_part_count(d->core));
	put_i(b, "healthy", ok);
	put_str(b, "health", ok ? "ok" : why);
	put_str(b, "log_level", levels[fnl_log_level() & 3]);
	put_str(b, "metrics_listen", d->cfg.metrics_listen);
	put_str(b, "socket", d->cfg.socket_path);
	put_str(b, "egress", d->cfg.egress == FNL_EGRESS_DPDK ? "dpdk" : "uring");
	fnl_mbuf_put(b, "\n", 1);
}

/* One row per topic the core has: the partition count it uses now (it grows when
 * the cluster's does, at the next metadata refresh). */
static void snap_topics(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	for (int i = 0; i < d->cfg.topics_max; i++) {
		int n = d->topics[i].used ? fnl_core_topic_partitions(d->core, i) : -ENOENT;
		if (n < 0)
			continue;
		fnl_mbuf_put(b, "topic", 5);
		put_str(b, "name", d->topics[i].name);
		put_i(b, "partitions", n);
		fnl_mbuf_put(b, "\n", 1);
	}
}

static void snap_totals(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	const struct fnl_core_stats *s = fnl_core_stats(d->core);
	const struct {
		const char *k;
		uint64_t v;
	} f[] = {{"records_in", s->records_in},
	         {"records_acked", s->records_acked},
	         {"records_failed", s->records_failed},
	         {"records_bad", s->records_bad},
	         {"batches_sent", s->batches_sent},
	         {"batches_acked", s->batches_acked},
	         {"batches_failed", s->batches_failed},
	         {"retries", s->retries},
	         {"requests_sent", s->requests_sent},
	         {"responses", s->responses},
	         {"bytes_raw", s->bytes_raw},
	         {"bytes_wire", s->bytes_wire},
	         {"bytes_tx", s->bytes_tx},
	         {"connects", s->connects},
	         {"disconnects", s->disconnects},
	         {"ring_full_waits", s->ring_full_waits},
	         {"pool_empty", s->pool_empty},
	         {"seals_full", s->seals_full},
	         {"seals_linger", s->seals_linger},
	         {"seals_pool", s->seals_pool},
	         {"quarantined", s->quarantined},
	         {"metadata_requests", s->metadata_requests},
	         {"epoch_bumps", s->epoch_bumps},
	         {"tls_user", s->tls_user},
	         {"ktls_tx", s->ktls_tx},
	         {"ktls_rx", s->ktls_rx},
	         {"pkts_rx", s->pkts_rx},
	         {"pkts_tx", s->pkts_tx},
	         {"pkt_drops", s->pkt_drops},
	         {"tcp_retransmits", s->tcp_retransmits},
	         {"csum_offload", s->csum_offload}};
	fnl_mbuf_put(b, "totals", 6);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		put_u(b, f[i].k, f[i].v);
	fnl_mbuf_put(b, "\n", 1);
}

/* One line per core that compresses (compress_pool.h): 0 the data-plane core. */
static void snap_zcores(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	const struct fnl_core_stats *s = fnl_core_stats(d->core);
	uint32_t n = s->zcores < FNL_ZCORES_MAX ? s->zcores : FNL_ZCORES_MAX;
	for (uint32_t i = 0; i < n; i++) {
		const struct fnl_zcore_stats *z = &s->zcore[i];
		fnl_mbuf_put(b, "core", 4);
		put_u(b, "core", i);
		put_i(b, "cpu", z->cpu);
		put_u(b, "batches", z->batches);
		put_u(b, "bytes_in", z->bytes_in);
		put_u(b, "bytes_out", z->bytes_out);
		put_u(b, "busy_us", z->busy_ns / 1000);
		put_u(b, "depth", z->depth);
		put_u(b, "sleeps", z->sleeps);
		put_u(b, "cpu_us", z->cpu_ns / 1000);
		fnl_mbuf_put(b, "\n", 1);
	}
}

static void snap_errors(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	const struct fnl_core_stats *s = fnl_core_stats(d->core);
	for (int i = 0; i < 128; i++) {
		if (!s->err_by_code[i])
			continue;
		int16_t code = (int16_t)(i - 1);
		fnl_mbuf_put(b, "error", 5);
		put_i(b, "code", code);
		put_str(b, "name", fnl_err_name(code));
		put_u(b, "records", s->err_by_code[i]);
		fnl_mbuf_put(b, "\n", 1);
	}
}

static void snap_brokers(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	int nparts = fnl_core_part_count(d->core);
	for (int i = 0; i < FNL_METRICS_BROKERS_MAX; i++) {
		struct fnl_broker_stats br;
		if (fnl_core_broker_stats(d->core, i, &br) < 0)
			continue;
		int leads = 0;
		for (int k = 0; k < nparts; k++) {
			struct fnl_part_stats p;
			if (fnl_core_part_stats(d->core, k, &p) == 0 && p.leader == br.node_id)
				leads++;
		}
		fnl_mbuf_put(b, "broker", 6);
		put_i(b, "node", br.node_id);
		put_i(b, "state", br.state);
		put_str(b, "state_name", broker_state_name(br.state));
		put_u(b, "inflight", br.inflight);
		put_u(b, "requests", br.requests);
		put_u(b, "responses", br.responses);
		put_u(b, "rtt_mean_us", br.responses ? br.rtt_us_sum / br.responses : 0);
		put_i(b, "leads", leads);
		fnl_mbuf_put(b, "\n", 1);
	}
}

static void snap_parts(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	int n = fnl_core_part_count(d->core);
	for (int i = 0; i < n; i++) {
		struct fnl_part_stats p;
		if (fnl_core_part_stats(d->core, i, &p) < 0)
			continue;
		bool known = p.topic_id < (uint32_t)d->cfg.topics_max && d->topics[p.topic_id].used;
		fnl_mbuf_put(b, "partition", 9);
		put_str(b, "topic", known ? d->topics[p.topic_id].name : "");
		put_i(b, "partition", p.partition);
		put_i(b, "leader", p.leader);
		put_u(b, "queued_batches", p.queued_batches);
		put_u(b, "queued_bytes", p.queued_bytes);
		put_u(b, "open_records", p.open_records);
		put_i(b, "inflight", p.inflight);
		put_u(b, "batches_acked", p.batches_acked);
		put_u(b, "records_acked", p.records_acked);
		put_u(b, "retries", p.retries);
		/* "CODE:N,..." over the nonzero cells ("" when none; the last cell is
		 * "other"): at most 17 characters a cell, no truncation */
		char codes[FNL_RETRY_CELLS * 24] = "";
		size_t cl = 0;
		for (int k = 0; k < FNL_RETRY_CELLS; k++) {
			if (!p.retries_by_cell[k])
				continue;
			char code[8] = "other";
			if (k != FNL_RETRY_OTHER)
				snprintf(code, sizeof(code), "%d", (int)fnl_retry_cell_code(k));
			cl += (size_t)snprintf(codes + cl, sizeof(codes) - cl, "%s%s:%u",
			                       cl ? "," : "", code, p.retries_by_cell[k]);
		}
		put_str(b, "retries_by_code", codes);
		put_i(b, "last_error", p.last_err);
		put_str(b, "last_error_name", p.last_err ? fnl_err_name(p.last_err) : "NONE");
		fnl_mbuf_put(b, "\n", 1);
	}
}

static void snap_clients(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	for (int i = 0; i < d->cfg.clients_max; i++) {
		struct fnl_client_stats c;
		if (fnl_core_client_stats(d->core, i, &c) < 0)
			continue;
		fnl_mbuf_put(b, "client", 6);
		put_i(b, "slot", i);
		put_i(b, "pid", d->clients[i].pid);
		put_u(b, "uid", d->clients[i].uid);
		put_str(b, "state", client_state_name(c.state));
		put_u(b, "appended", c.appended);
		put_u(b, "delivered", c.delivered);
		put_u(b, "failed", c.failed);
		put_u(b, "appended_bytes", c.appended_bytes);
		put_u(b, "ring_full_waits", c.ring_full_waits);
		put_u(b, "ring_bytes", c.ring_bytes);
		put_u(b, "ring_used_bytes", c.ring_used_bytes);
		fnl_mbuf_put(b, "\n", 1);
	}
}

static void snap_config(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	size_t need = fnl_config_dump(&d->cfg, NULL, 0) + 1;
	char *text = malloc(need);
	if (!text) {
		b->failed = true;
		return;
	}
	fnl_config_dump(&d->cfg, text, need);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		fnl_mbuf_put(b, "config", 6);
		put_str(b, "key", line);
		put_str(b, "value", eq + 1);
		fnl_mbuf_put(b, "\n", 1);
	}
	free(text);
}

int fnl_admin_snapshot(const struct fnl_daemon *d, uint32_t sections, struct fnl_mbuf *out)
{
	if (sections & FNL_ADMIN_DAEMON)
		snap_daemon(d, out);
	if (sections & FNL_ADMIN_DAEMON)
		snap_topics(d, out);
	if (sections & FNL_ADMIN_TOTALS)
		snap_totals(d, out);
	if (sections & FNL_ADMIN_TOTALS)
		snap_zcores(d, out);
	if (sections & FNL_ADMIN_ERRORS)
		snap_errors(d, out);
	if (sections & FNL_ADMIN_BROKERS)
		snap_brokers(d, out);
	if (sections & FNL_ADMIN_PARTITIONS)
		snap_parts(d, out);
	if (sections & FNL_ADMIN_CLIENTS)
		snap_clients(d, out);
	if (sections & FNL_ADMIN_CONFIG)
		snap_config(d, out);
	return out->failed ? -ENOMEM : 0;
}

static void admin_error(int fd, int err, const char *why)
{
	struct fnl_ctl_msg r;
	fnl_ctl_msg_init(&r, FNL_CTL_ERROR);
	r.status = err;
	snprintf(r.name, sizeof(r.name), "%s", why);
	fnl_ctl_send(fd, &r, -1);
}

/* Writes the whole text into a new memfd; returns the fd or -errno. */
static int text_memfd(const struct fnl_mbuf *b)
{
	int mfd = memfd_create("funnel-admin", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	size_t off = 0;
	while (off < b->len) {
		ssize_t n = write(mfd, b->buf + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO;
			close(mfd);
			return rc;
		}
		off += (size_t)n;
	}
	return mfd;
}

int fnl_admin_handle(struct fnl_daemon *d, int fd, const struct fnl_ctl_msg *m)
{
	uint32_t sections = m->arg & FNL_ADMIN_ALL;
	if (m->type != FNL_CTL_ADMIN || sections == 0) {
		admin_error(fd, -EINVAL, "ADMIN needs a non-empty section mask");
		return -EINVAL;
	}
	struct fnl_mbuf b;
	fnl_mbuf_init(&b);
	int rc = fnl_admin_snapshot(d, sections, &b);
	if (rc == 0 && b.len > FNL_ADMIN_REPLY_MAX)
		rc = -EFBIG;
	int mfd = rc < 0 ? rc : text_memfd(&b);
	if (mfd < 0) {
		fnl_mbuf_free(&b);
		admin_error(fd, mfd, "cannot build the snapshot");
		return mfd;
	}
	struct fnl_ctl_msg r;
	fnl_ctl_msg_init(&r, FNL_CTL_ADMIN_REPLY);
	r.arg = (uint32_t)b.len;
	fnl_mbuf_free(&b);
	rc = fnl_ctl_send(fd, &r, mfd);
	close(mfd);
	if (rc < 0)
		fnl_debug("admin reply not sent err=\"%s\"", strerror(-rc));
	return rc;
}

/* ---- SIGHUP ---- */

static int reload_read(struct fnl_config *c, const char *path, char *const *ov, int n, char *msg,
                       size_t len)
{
	fnl_config_defaults(c);
	int rc = path ? fnl_config_load_file(c, path, msg, len) : 0;
	for (int i = 0; rc == 0 && i < n; i++)
		rc = fnl_config_set_kv(c, ov[i], msg, len);
	if (rc == 0)
		rc = fnl_config_finish(c, msg, len);
	return rc;
}

/* Keys SIGHUP changed but could not apply, for one log line. */
struct pending {
	char keys[1024];
	size_t len;
	int n;
};

/* Calls fn(key, old, new) for each key whose dumped value differs. */
static int diff_keys(const struct fnl_config *a, const struct fnl_config *b, struct fnl_daemon *d,
                     struct pending *pend,
                     void (*fn)(struct fnl_daemon *, struct pending *, const char *, const char *,
                                const char *))
{
	size_t na = fnl_config_dump(a, NULL, 0) + 1, nb = fnl_config_dump(b, NULL, 0) + 1;
	char *ta = malloc(na), *tb = malloc(nb);
	if (!ta || !tb) {
		free(ta);
		free(tb);
		return -ENOMEM;
	}
	fnl_config_dump(a, ta, na);
	fnl_config_dump(b, tb, nb);
	char *sa, *sb;
	char *la = strtok_r(ta, "\n", &sa), *lb = strtok_r(tb, "\n", &sb);
	for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
		if (strcmp(la, lb) == 0)
			continue;
		char *ea = strchr(la, '='), *eb = strchr(lb, '=');
		if (!ea || !eb)
			continue;
		*ea = *eb = '\0';
		fn(d, pend, la, ea + 1, eb + 1);
	}
	free(ta);
	free(tb);
	return 0;
}

static void apply_key(struct fnl_daemon *d, struct pending *pend, const char *key, const char *old,
                      const char *now)
{
	if (strcmp(key, "funnel.log.level") == 0) {
		static const char *const levels[] = {"error", "warn", "info", "debug"};
		for (int i = 0; i < 4; i++)
			if (strcmp(now, levels[i]) == 0) {
				d->cfg.log_level = i;
				fnl_log_set_level(i);
			}
		/* logged at warn so the change shows even when the new level is warn */
		fnl_warn("reload: applied key=%s old=%s new=%s", key, old, now);
		return;
	}
	bool linger = strcmp(key, "linger.ms") == 0, batch = strcmp(key, "batch.size") == 0;
	if (linger || batch) {
		int v = atoi(now);
		if (batch && v > d->batch_size_max) {
			fnl_warn("reload: batch.size can grow only up to its start-up value %d without a "
				 "restart key=%s new=%s",
				 d->batch_size_max, key, now);
		} else {
			if (linger)
				d->cfg.linger_ms = v;
			else
				d->cfg.batch_size = v;
			struct fnl_cmd m = {
				.type = FNL_CMD_TUNE, .a = d->cfg.linger_ms, .b = d->cfg.batch_size};
			fnl_daemon_push(d, &m);
			fnl_warn("reload: applied key=%s old=%s new=%s", key, old, now);
			return;
		}
	}
	fnl_debug("reload: changed key=%s running=%s file=%s", key, old, now);
	int w = snprintf(pend->keys + pend->len, sizeof(pend->keys) - pend->len, "%s%s",
	                 pend->n ? "," : "", key);
	if (w > 0 && pend->len + (size_t)w < sizeof(pend->keys))
		pend->len += (size_t)w;
	pend->n++;
}

int fnl_admin_reload(struct fnl_daemon *d, const char *path, char *const *overrides, int n)
{
	char msg[FNL_CONFIG_MSG_MAX];
	struct fnl_config *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	int rc = reload_read(c, path, overrides, n, msg, sizeof(msg));
	if (rc < 0) {
		fnl_err("reload: settings refused, nothing changed reason=\"%s\"", msg);
		free(c);
		return rc;
	}
	fnl_info("reload: reading settings path=%s", path ? path : "(none)");
	struct pending pend = {.len = 0};
	rc = diff_keys(&d->cfg, c, d, &pend, apply_key);
	free(c);
	if (pend.n)
		fnl_warn("reload: not applied, restart funneld to change count=%d keys=%s", pend.n,
		         pend.keys);
	else if (rc == 0)
		fnl_info("reload: done, nothing else changed");
	return rc;
}
