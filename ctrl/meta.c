/* meta.c - metadata, topics and the producer id, fetched by the control
 * thread and handed to the data-plane core as commands. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctrl/daemon.h"
#include "ctrl/log.h"
#include "dataplane/net/engine.h"
#include "dataplane/producer/errtab.h"

enum { ERR_UNKNOWN_TOPIC_OR_PART = 3, ERR_LEADER_NOT_AVAILABLE = 5, ERR_NOT_COORDINATOR = 16 };

void fnl_daemon_push(struct fnl_daemon *d, const struct fnl_cmd *m)
{
	uint64_t one = 1;
	while (!fnl_cmdq_push(&d->cmdq, m)) {
		/* full: wake the core and give it a moment; never drop a command */
		ssize_t w = write(d->doorbell_efd, &one, sizeof(one));
		(void)w;
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	ssize_t w = write(d->doorbell_efd, &one, sizeof(one));
	(void)w;
}

struct md_ctx {
	struct fnl_daemon *d;
	int cur_topic; /* our id of the topic being visited, -1 if not ours */
	int brokers;
	int16_t top_err; /* the response's top-level error (Metadata v13+) */
};

static void md_error(void *ctx, int16_t err)
{
	((struct md_ctx *)ctx)->top_err = err;
}

static void md_broker(void *ctx, int32_t node_id, const char *host, int host_len, int32_t port)
{
	struct md_ctx *x = ctx;
	char h[256];
	snprintf(h, sizeof(h), "%.*s", host_len, host);
	struct fnl_cmd m = {.type = FNL_CMD_BROKER, .a = node_id};
	snprintf(m.name, sizeof(m.name), "%s", h);
	if (fnl_resolve(h, port, &m.addr) < 0) {
		fnl_warn("broker address does not resolve node=%d host=%s port=%d", node_id, h,
			 port);
		return;
	}
	x->brokers++;
	fnl_daemon_push(x->d, &m);
}

static int topic_id(struct fnl_daemon *d, const char *name, int len)
{
	for (int i = 0; i < d->cfg.topics_max; i++)
		if (d->topics[i].used && (int)strlen(d->topics[i].name) == len &&
		    memcmp(d->topics[i].name, name, (size_t)len) == 0)
			return i;
	return -1;
}

/* A name from the saved topic table (clients that lived through the restart may
 * hold its id) that the cluster does not know, deleted meanwhile: the core gets it
 * with 0 partitions, so its records fail with UNKNOWN_TOPIC_OR_PARTITION instead
 * of breaking their client's ring (an id the core never heard of quarantines the
 * client). A name added by a lookup (tentative) was never given to a client. Once
 * the cluster has the topic again, md_topic gives the core its count. */
static void topic_missing(struct fnl_daemon *d, int id)
{
	struct dtopic *t = &d->topics[id];
	if (t->in_core || t->tentative || t->missing)
		return;
	fnl_warn("topic '%s' is in funneld's topic table but the cluster does not know it "
		 "(deleted?): records for it fail with UNKNOWN_TOPIC_OR_PARTITION until it "
		 "exists again",
		 t->name);
	struct fnl_cmd m = {.type = FNL_CMD_TOPIC, .a = id, .b = 0};
	snprintf(m.name, sizeof(m.name), "%s", t->name);
	fnl_daemon_push(d, &m);
	t->missing = true;
}

/* funnel.partitions.max has no room for topic t at nparts (the core holds every topic's
 * partitions for its life): a topic in the core keeps the count it has, so clients are
 * told the count records can use; a new one is not given to the core and its lookups fail
 * naming the setting (fnl_daemon_topic_failure); a name from the saved table, which
 * clients that lived through a restart may hold, goes to the core with 0 partitions, so
 * its records fail (UNKNOWN_TOPIC_OR_PARTITION) rather than quarantine their client.
 * Logged once per count. */
/* Why topic t (not in the core, t->over_max set) is refused: the log line and the
 * lookups' answer (fnl_daemon_topic_failure) say the same. */
static void over_max_why(const struct fnl_daemon *d, const struct dtopic *t, char *msg,
			 size_t len)
{
	snprintf(msg, len,
		 "topic '%s' has %d partitions but funnel.partitions.max=%d has room for %d more "
		 "(%d in use by other topics): raise funnel.partitions.max and restart funneld",
		 t->name, t->over_max, d->cfg.partitions_max,
		 d->cfg.partitions_max - d->parts_in_core, d->parts_in_core);
}

static void topic_over_max(struct fnl_daemon *d, struct dtopic *t, int id, int32_t nparts)
{
	if (t->over_max == nparts)
		return;
	t->over_max = nparts;
	if (t->in_core) {
		fnl_err("topic '%s' grew from %d to %d partitions but funnel.partitions.max=%d has "
			"no room: records keep to its first %d until funneld restarts",
			t->name, t->core_parts, nparts, d->cfg.partitions_max, t->core_parts);
		return;
	}
	char why[512];
	over_max_why(d, t, why, sizeof(why));
	fnl_err("%s", why);
	if (!t->tentative && !t->missing) {
		struct fnl_cmd m = {.type = FNL_CMD_TOPIC, .a = id, .b = 0};
		snprintf(m.name, sizeof(m.name), "%s", t->name);
		fnl_daemon_push(d, &m);
		t->missing = true;
	}
}

static void md_topic(void *ctx, int16_t err, const char *name, int name_len, int32_t nparts)
{
	struct md_ctx *x = ctx;
	struct fnl_daemon *d = x->d;
	x->cur_topic = topic_id(d, name, name_len);
	if (x->cur_topic >= 0) {
		d->topics[x->cur_topic].md_err =
		    err ? err : (nparts <= 0 ? ERR_UNKNOWN_TOPIC_OR_PART : 0);
		if (d->topics[x->cur_topic].md_err == ERR_UNKNOWN_TOPIC_OR_PART)
			topic_missing(d, x->cur_topic);
	}
	if (x->cur_topic < 0 || err || nparts <= 0) {
		x->cur_topic = -1;
		return;
	}
	struct dtopic *t = &d->topics[x->cur_topic];
	if (t->in_core && nparts < t->nparts) {
		/* Kafka only adds partitions: fewer means the topic was deleted and
		 * created again. The core keeps the old count (records for the missing
		 * partitions fail as the cluster answers them). */
		if (t->shrunk_to != nparts)
			fnl_warn("topic '%s' now has %d partitions, had %d: Kafka cannot remove "
				 "partitions, so the topic was deleted and created again; funneld "
				 "keeps using %d until it restarts",
				 t->name, nparts, t->nparts, t->nparts);
		t->shrunk_to = nparts;
		return;
	}
	t->shrunk_to = 0;
	if ((!t->in_core || nparts > t->nparts) &&
	    d->parts_in_core + (nparts - t->core_parts) > d->cfg.partitions_max) {
		topic_over_max(d, t, x->cur_topic, nparts);
		return;
	}
	if (!t->in_core || nparts > t->nparts) {
		/* new, or grown (CreatePartitions): the core takes the new count for
		 * records it partitions from now on (cmd_topic in dataplane/core/core.c) */
		if (t->in_core)
			fnl_info("topic '%s' grew from %d to %d partitions: records without a key "
				 "spread over all %d, keyed records go to murmur2(key) %% %d from now "
				 "on (a key's later records may sit in another partition than its "
				 "earlier ones, as with the Java producer)",
				 t->name, t->nparts, nparts, nparts, nparts);
		if (t->missing)
			fnl_info("topic '%s' exists again with %d partitions: its records are "
				 "produced again",
				 t->name, nparts);
		struct fnl_cmd m = {.type = FNL_CMD_TOPIC, .a = x->cur_topic, .b = nparts};
		snprintf(m.name, sizeof(m.name), "%s", t->name);
		fnl_daemon_push(d, &m);
		d->parts_in_core += nparts - t->core_parts;
		t->core_parts = nparts;
		t->over_max = 0;
		t->in_core = true;
		t->missing = false;
		t->nparts = nparts;
	}
}

static void md_partition(void *ctx, int16_t err, int32_t partition, int32_t leader,
			 int32_t leader_epoch)
{
	struct md_ctx *x = ctx;
	(void)leader_epoch;
	if (x->cur_topic < 0)
		return;
	struct fnl_cmd m = {.type = FNL_CMD_LEADER,
			    .a = x->cur_topic,
			    .b = partition,
			    .c = err == ERR_LEADER_NOT_AVAILABLE ? -1 : leader};
	fnl_daemon_push(x->d, &m);
}

void fnl_daemon_keep_session(struct fnl_daemon *d)
{
	if (d->kc.fd >= 0 && d->kc.reauth_at_ns && fnl_now_ns() >= d->kc.reauth_at_ns) {
		fnl_secure_refresh(d, true); /* a rotated password/token file is used now */
		int rc = fnl_kclient_keep_session(&d->kc);
		if (rc == 1)
			fnl_info("cluster connection re-authenticated (KIP-368) peer=%s "
				 "session_lifetime_ms=%lld reauths=%llu",
				 d->kc.peer, (long long)d->kc.session_lifetime_ms,
				 (unsigned long long)d->kc.reauths);
		else if (rc < 0)
			fnl_info("cluster connection closed for a new login peer=%s why=\"%s\"",
				 d->kc.peer, d->kc.why);
	}
}

/* Connects ctrl's cluster connection if it is down (with the current SASL
 * credentials), and says which versions it speaks. A security failure (TLS,
 * SASL) is what /health reports until a login works again. */
static int kc_connect(struct fnl_daemon *d, char *msg, size_t len)
{
	fnl_daemon_keep_session(d);
	if (d->kc.fd >= 0)
		return 0;
	fnl_secure_refresh(d, true);
	int rc = fnl_kclient_connect(&d->kc, d->cfg.bootstrap_servers, msg, len);
	if (rc < 0 && d->kc.why[0]) {
		fnl_secure_explain(d, d->kc.why, sizeof(d->kc.why));
		if (strncmp(d->kc.why, "OAUTHBEARER token expired", 25) == 0)
			snprintf(msg, len, "%s", d->kc.why);
	}
	if (rc == 0)
		fnl_secure_status(d, -1, NULL);
	else if (d->kc.why[0])
		fnl_secure_status(d, -1, d->kc.why);
	if (rc == 0)
		fnl_info("cluster connection ready peer=%s api_versions_version=%d "
			 "metadata_version=%d init_producer_id_version=%d",
			 d->kc.peer, d->kc.ver_api_versions, d->kc.ver_metadata,
			 d->kc.ver_init_pid);
	return rc;
}

static int metadata(struct fnl_daemon *d, struct md_ctx *x, const char *const *names, int n,
		    char *msg, size_t len)
{
	struct fnl_md_visitor v = {.ctx = x,
				   .broker = md_broker,
				   .topic = md_topic,
				   .partition = md_partition,
				   .error = md_error};
	x->d = d;
	x->cur_topic = -1;
	int rc = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = kc_connect(d, msg, len);
		if (rc == 0)
			rc = fnl_kclient_metadata(&d->kc, names, n, &v, msg, len);
		if (rc == 0 && x->top_err) {
			/* e.g. REBOOTSTRAP_REQUIRED: start over from bootstrap.servers */
			snprintf(msg, len, "Metadata from %s answered %s (Kafka error %d)",
				 d->kc.peer, fnl_err_name(x->top_err), x->top_err);
			fnl_kclient_close(&d->kc);
			x->top_err = 0;
			rc = -EAGAIN;
		}
		if (rc == 0)
			break;
	}
	if (rc < 0)
		return rc;
	struct fnl_cmd done = {.type = FNL_CMD_METADATA_DONE};
	fnl_daemon_push(d, &done);
	d->last_metadata_ms = fnl_now_ns() / 1000000;
	d->brokers_known = x->brokers;
	return 0;
}

int fnl_daemon_bootstrap(struct fnl_daemon *d, char *msg, size_t len)
{
	struct md_ctx x = {0};
	return metadata(d, &x, NULL, 0, msg, len);
}

/* Refresh every registered topic (leaders move, brokers come and go). */
int fnl_daemon_refresh(struct fnl_daemon *d)
{
	const char *names[256];
	int n = 0, rc = 0;
	char msg[256];
	for (int i = 0; i < d->cfg.topics_max; i++) {
		if (!d->topics[i].used)
			continue;
		names[n++] = d->topics[i].name;
		if (n == 256) {
			struct md_ctx x = {0};
			rc = metadata(d, &x, names, n, msg, sizeof(msg));
			n = 0;
		}
	}
	struct md_ctx x = {0};
	if (rc == 0)
		rc = metadata(d, &x, names, n, msg, sizeof(msg));
	if (rc < 0)
		fnl_warn("metadata refresh failed reason=\"%s\"", msg);
	d->refresh_wanted = rc < 0;
	return rc;
}

/* Topic ids are written into client rings, so a restarted funneld must give
 * every name the id it had: the table is kept in <state dir>/topics
 * ("id name" lines; the state dir defaults to the socket's directory). */
void fnl_state_path(const struct fnl_config *cfg, const char *name, char *out, size_t n)
{
	if (cfg->state_dir[0]) {
		snprintf(out, n, "%s/%s", cfg->state_dir, name);
		return;
	}
	char dir[FNL_CONFIG_STR_MAX];
	snprintf(dir, sizeof(dir), "%s", cfg->socket_path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, n, "%s/%s", slash ? dir : ".", name);
}

static void topics_file(const struct fnl_daemon *d, char *out, size_t n)
{
	fnl_state_path(&d->cfg, "topics", out, n);
}

void fnl_daemon_topics_save(const struct fnl_daemon *d)
{
	char path[FNL_CONFIG_STR_MAX + 16], tmp[FNL_CONFIG_STR_MAX + 24];
	topics_file(d, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fnl_warn("cannot save the topic table path=%s err=\"%s\"", tmp, strerror(errno));
		return;
	}
	for (int i = 0; i < d->cfg.topics_max; i++)
		if (d->topics[i].used)
			fprintf(f, "%d %s\n", i, d->topics[i].name);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		fnl_warn("cannot save the topic table path=%s err=\"%s\"", path, strerror(errno));
}

int fnl_daemon_topics_load(struct fnl_daemon *d)
{
	char path[FNL_CONFIG_STR_MAX + 16], line[320], name[256];
	topics_file(d, path, sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		return 0; /* first start */
	int n = 0, id;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%d %255s", &id, name) != 2 || id < 0 || id >= d->cfg.topics_max ||
		    !fnl_topic_name_ok(name) || d->topics[id].used) {
			fnl_warn("topic table line ignored path=%s", path);
			continue;
		}
		snprintf(d->topics[id].name, sizeof(d->topics[id].name), "%s", name);
		d->topics[id].used = true;
		n++;
	}
	fclose(f);
	if (n)
		fnl_info("topic table loaded path=%s topics=%d", path, n);
	return n;
}

bool fnl_topic_name_ok(const char *name)
{
	size_t n = 0;
	for (const char *p = name; *p; p++, n++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return n >= 1 && n <= 249;
}

int fnl_daemon_topic_find(struct fnl_daemon *d, const char *name, bool may_create,
			  bool *created, char *msg, size_t len)
{
	*created = false;
	if (!fnl_topic_name_ok(name)) {
		snprintf(msg, len,
			 "a topic name is 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'");
		return -EINVAL;
	}
	int id = topic_id(d, name, (int)strlen(name));
	if (id >= 0)
		return id;
	if (!may_create) {
		snprintf(msg, len,
			 "this client already registered funnel.client.topics.max=%d new topics",
			 d->cfg.client_topics_max);
		return -EDQUOT;
	}
	for (int i = 0; i < d->cfg.topics_max && id < 0; i++)
		if (!d->topics[i].used)
			id = i;
	if (id < 0) {
		snprintf(msg, len, "funnel.topics.max (%d) topics already registered",
			 d->cfg.topics_max);
		return -ENOSPC;
	}
	struct dtopic *t = &d->topics[id];
	*t = (struct dtopic){.used = true, .tentative = true, .md_err = FNL_MD_NO_ANSWER};
	snprintf(t->name, sizeof(t->name), "%s", name);
	*created = true;
	return id;
}

/* Like the Java producer's send(), a lookup waits (bounded by max.block.ms) until the
 * cluster knows the topic; the ctrl thread asks again every 100 ms meanwhile and serves
 * everyone else. */
int fnl_daemon_topics_lookup(struct fnl_daemon *d)
{
	const char *names[256];
	int n = 0;
	for (int i = 0; i < d->cfg.topics_max && n < 256; i++)
		if (d->topics[i].used && !d->topics[i].in_core)
			names[n++] = d->topics[i].name;
	d->last_lookup_ms = fnl_now_ns() / 1000000;
	d->lookup_msg[0] = '\0';
	if (n == 0)
		return 0;
	struct md_ctx x = {0};
	return metadata(d, &x, names, n, d->lookup_msg, sizeof(d->lookup_msg));
}

int fnl_daemon_topic_failure(const struct fnl_daemon *d, int id, int waited_ms, char *msg,
			     size_t len)
{
	const struct dtopic *t = &d->topics[id];
	if (t->over_max) {
		over_max_why(d, t, msg, len);
		return -ENOSPC;
	}
	if (t->md_err == ERR_UNKNOWN_TOPIC_OR_PART) {
		snprintf(msg, len, "topic '%s' does not exist (UNKNOWN_TOPIC_OR_PARTITION; "
			 "waited max.block.ms=%d)", t->name, waited_ms);
		return -ENOENT;
	}
	if (t->md_err != FNL_MD_NO_ANSWER)
		snprintf(msg, len, "topic '%s' is not available (%s, Kafka error %d) after "
			 "max.block.ms=%d", t->name, fnl_err_name(t->md_err), t->md_err, waited_ms);
	else
		snprintf(msg, len, "topic '%s': no metadata from the cluster after "
			 "max.block.ms=%d (%s)", t->name, waited_ms,
			 d->lookup_msg[0] ? d->lookup_msg : "no broker answered");
	return -ETIMEDOUT;
}

int fnl_daemon_init_pid(struct fnl_daemon *d, bool bump, char *msg, size_t len)
{
	int64_t pid;
	int16_t epoch, kerr = 0;
	int rc = 0;
	for (int attempt = 0; attempt < 8; attempt++) {
		rc = kc_connect(d, msg, len);
		const char *txn = d->cfg.test_txn_id[0] ? d->cfg.test_txn_id : NULL;
		if (rc == 0)
			rc = fnl_kclient_init_pid(&d->kc, txn, bump ? d->pid : -1,
						  bump ? d->epoch : -1, &pid, &epoch, &kerr, msg, len);
		if (rc == 0 && kerr == 0)
			break;
		if (rc == 0 && kerr == ERR_NOT_COORDINATOR) {
			/* a transactional id has a coordinator: try the next broker */
			fnl_kclient_close(&d->kc);
			d->kc.next_server++;
		}
		if (rc == 0)
			snprintf(msg, len, "InitProducerId to %s answered %s (Kafka error %d)",
				 d->kc.peer, fnl_err_name(kerr), kerr);
		rc = rc < 0 ? rc : -EAGAIN;
		struct timespec ts = {0, 200 * 1000000};
		nanosleep(&ts, NULL);
	}
	if (rc < 0)
		return rc;
	d->pid = pid;
	d->epoch = epoch;
	struct fnl_cmd m = {.type = FNL_CMD_PRODUCER_ID, .i64 = pid, .a = epoch};
	snprintf(m.name, sizeof(m.name), "%s", d->cfg.test_txn_id); /* test only, usually "" */
	fnl_daemon_push(d, &m);
	fnl_info("producer id acquired pid=%lld epoch=%d bump=%d", (long long)pid, epoch, bump);
	return 0;
}
