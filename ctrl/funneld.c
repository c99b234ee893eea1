/* funneld.c - the daemon: settings, bootstrap, the data-plane core thread,
 * and the control loop (clients, core events, metadata age, signals).
 *
 *   funneld -c funnel.properties [-X key=value]...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ctrl/admin.h"
#include "ctrl/daemon.h"
#include "ctrl/log.h"
#include "ctrl/metrics.h"
#include "ctrl/txnd.h"
#include "dataplane/net/dpdk.h"
#include "dataplane/net/engine.h"
#include "dataplane/producer/producer.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: funneld [-c funnel.properties] [-X key=value]... [--dump-config]\n"
		   "Settings use the Java producer's names (bootstrap.servers, acks, linger.ms,\n"
		   "batch.size, compression.type, ...) plus funnel.* keys; see docs/config.md.\n");
}

/* What SIGHUP reads again: the -c file and the -X overrides, in order. */
static const char *cfg_path;
static char **cfg_overrides;
static int cfg_overrides_n;
static struct fnl_metrics *metrics;
static struct fnl_txnd *txnd; /* transactions (transactional.id set), else NULL */

static int load_config(struct fnl_daemon *d, int argc, char **argv, bool *dump)
{
	char msg[FNL_CONFIG_MSG_MAX];
	fnl_config_defaults(&d->cfg);
	static const struct option opts[] = {{"dump-config", no_argument, NULL, 'D'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int o;
	cfg_overrides = calloc((size_t)argc + 1, sizeof(char *));
	if (!cfg_overrides)
		return -ENOMEM;
	while ((o = getopt_long(argc, argv, "c:X:h", opts, NULL)) != -1) {
		int rc = 0;
		switch (o) {
		case 'c':
			rc = fnl_config_load_file(&d->cfg, optarg, msg, sizeof(msg));
			cfg_path = optarg;
			break;
		case 'X':
			rc = fnl_config_set_kv(&d->cfg, optarg, msg, sizeof(msg));
			cfg_overrides[cfg_overrides_n++] = optarg;
			break;
		case 'D':
			*dump = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (rc < 0) {
			fprintf(stderr, "funneld: %s\n", msg);
			return rc;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "funneld: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	int rc = fnl_config_finish(&d->cfg, msg, sizeof(msg));
	if (rc == 0) {
		struct fnl_producer_cfg p = {.idempotent = d->cfg.enable_idempotence,
					     .acks = d->cfg.acks,
					     .max_inflight = d->cfg.max_in_flight,
					     .retries = d->cfg.retries,
					     .retry_backoff_ms = d->cfg.retry_backoff_ms,
					     .delivery_timeout_ms = d->cfg.delivery_timeout_ms,
					     .request_timeout_ms = d->cfg.request_timeout_ms};
		rc = fnl_producer_cfg_check(&p, msg, sizeof(msg));
	}
	if (rc < 0)
		fprintf(stderr, "funneld: %s\n", msg);
	return rc;
}

static void core_cfg(const struct fnl_config *s, struct fnl_core_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->cpu = s->cores_n ? s->cores[0] : -1;
	for (int i = 1; i < s->cores_n && i < FNL_ZCORES_MAX; i++)
		c->zcpus[c->zworkers++] = s->cores[i]; /* compression workers */
	c->linger_ms = s->linger_ms;
	c->batch_size = s->batch_size;
	c->buffer_memory = s->buffer_memory;
	c->max_request_size = s->max_request_size;
	c->codec = s->compression_type;
	c->level = s->compression_type == 4   ? s->compression_zstd_level
		   : s->compression_type == 1 ? s->compression_gzip_level
					      : s->compression_lz4_level;
	c->acks = s->acks;
	c->idempotent = s->enable_idempotence;
	c->max_inflight = s->max_in_flight;
	c->retries = s->retries;
	c->retry_backoff_ms = s->retry_backoff_ms;
	c->delivery_timeout_ms = s->delivery_timeout_ms;
	c->request_timeout_ms = s->request_timeout_ms;
	c->clients_max = s->clients_max;
	c->topics_max = s->topics_max;
	c->partitions_max = s->partitions_max;
	c->brokers_max = FNL_METRICS_BROKERS_MAX;
	c->round_robin = s->round_robin;
	c->ignore_keys = s->partitioner_ignore_keys;
	c->sqpoll = s->uring_sqpoll;
	c->rx_bufs = (uint32_t)s->uring_rx_buffers;
	c->rx_buf_bytes = (uint32_t)s->uring_rx_buffer_bytes;
	c->rx_direct = s->uring_rx_direct;
	c->idle_nap_us = s->idle_nap_us;
	c->zdelay_us = s->test_compress_delay_us;
	c->egress = s->egress;
	snprintf(c->client_id, sizeof(c->client_id), "%s", s->client_id);
	if (s->journal)
		fnl_state_path(s, "journal", c->journal_path, sizeof(c->journal_path));
	c->restart_wait_ms = s->restart_wait_ms;
	c->seed = (uint64_t)fnl_now_ns() ^ (uint64_t)getpid();
}

/* funnel.dpdk.* (checked by fnl_config_finish) as the DPDK engine takes them */
static void dpdk_cfg(const struct fnl_config *s, struct fnl_dpdk_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->eal_args, sizeof(c->eal_args), "%s", s->dpdk_eal_args);
	struct in_addr a;
	if (inet_pton(AF_INET, s->dpdk_ip, &a) == 1)
		c->ip = a.s_addr;
	if (inet_pton(AF_INET, s->dpdk_netmask, &a) == 1)
		c->netmask = a.s_addr;
	if (s->dpdk_gateway[0] && inet_pton(AF_INET, s->dpdk_gateway, &a) == 1)
		c->gateway = a.s_addr;
	c->mtu = (uint32_t)s->dpdk_mtu;
	char map[sizeof(s->dpdk_addr_map)];
	snprintf(map, sizeof(map), "%s", s->dpdk_addr_map);
	char *eq = strchr(map, '=');
	if (eq) {
		*eq = '\0';
		if (inet_pton(AF_INET, map, &a) == 1)
			c->map_from = a.s_addr;
		if (inet_pton(AF_INET, eq + 1, &a) == 1)
			c->map_to = a.s_addr;
	}
}

/* after fnl_secure_setup: the connections' TLS context and credentials */
static void core_cfg_security(const struct fnl_daemon *d, struct fnl_core_cfg *c)
{
	c->tls_ctx = d->tls_ctx;
	c->creds = d->creds.mech ? (struct fnl_sasl_creds *)&d->creds : NULL;
}

static void *core_main(void *arg)
{
	struct fnl_daemon *d = arg;
	int rc = fnl_core_run(d->core);
	if (rc < 0)
		fnl_err("data-plane core stopped err=\"%s\"", strerror(-rc));
	return NULL;
}

/* The control thread's poll set (d->pfd, allocated in setup): the caller's
 * fixed entries, then one per connected client. */
#define FNL_POLL_FIXED 3

/* Appends an entry for each connected client from d->pfd[n] on; returns the
 * new count (at most FNL_POLL_FIXED + clients_max). */
static int poll_add_clients(struct fnl_daemon *d, int n)
{
	for (int i = 0; i < d->cfg.clients_max; i++) {
		if (!d->clients[i].used || d->clients[i].fd < 0)
			continue;
		d->pfd_slot[n] = i;
		d->pfd[n++] = (struct pollfd){.fd = d->clients[i].fd, .events = POLLIN};
	}
	return n;
}

/* Serves the clients whose entries d->pfd[from..n) are ready (a slot whose
 * connection changed since the poll is left for the next one). */
static void serve_ready_clients(struct fnl_daemon *d, int from, int n)
{
	for (int k = from; k < n; k++)
		if (d->pfd[k].revents && d->clients[d->pfd_slot[k]].fd == d->pfd[k].fd)
			fnl_registry_serve(d, d->pfd_slot[k]);
}

/* While bootstrap retries: serve funnelctl on the control socket (clients are
 * refused with "starting") for up to wait_ms, then take a pending SIGTERM/SIGINT
 * (blocked: no signalfd yet). The signal, or 0. */
static int serve_while_starting(struct fnl_daemon *d, const sigset_t *sigs, int wait_ms)
{
	int64_t until = fnl_now_ns() / 1000000 + wait_ms;
	for (int64_t now; (now = fnl_now_ns() / 1000000) < until;) {
		int n = 0;
		d->pfd[n++] = (struct pollfd){.fd = d->listen_fd, .events = POLLIN};
		n = poll_add_clients(d, n);
		if (poll(d->pfd, (nfds_t)n, (int)(until - now)) < 0 && errno != EINTR)
			break;
		if (d->pfd[0].revents)
			fnl_registry_accept(d);
		serve_ready_clients(d, 1, n);
		struct timespec zero = {0, 0};
		int sig = sigtimedwait(sigs, NULL, &zero);
		if (sig > 0)
			return sig;
	}
	struct timespec zero = {0, 0};
	int sig = sigtimedwait(sigs, NULL, &zero);
	return sig > 0 ? sig : 0;
}

static int setup(struct fnl_daemon *d)
{
	char msg[512];
	d->listen_fd = -1;
	d->start_ms = fnl_now_ns() / 1000000;
	d->batch_size_max = d->cfg.batch_size;
	/* Block the signals before any thread exists: threads inherit the mask, and
	 * a SIGTERM delivered to a thread that does not block it kills the process
	 * instead of reaching the signalfd below. */
	sigset_t early;
	sigemptyset(&early);
	sigaddset(&early, SIGTERM);
	sigaddset(&early, SIGINT);
	sigaddset(&early, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &early, NULL);
	d->cmd_slots = calloc(FNL_CMDQ_SLOTS, sizeof(struct fnl_cmd));
	d->evt_slots = calloc(FNL_CMDQ_SLOTS, sizeof(struct fnl_cmd));
	d->clients = calloc((size_t)d->cfg.clients_max, sizeof(*d->clients));
	d->topics = calloc((size_t)d->cfg.topics_max, sizeof(*d->topics));
	d->pfd = calloc((size_t)d->cfg.clients_max + FNL_POLL_FIXED, sizeof(*d->pfd));
	d->pfd_slot = calloc((size_t)d->cfg.clients_max + FNL_POLL_FIXED, sizeof(int));
	if (!d->cmd_slots || !d->evt_slots || !d->clients || !d->topics || !d->pfd ||
	    !d->pfd_slot)
		return -ENOMEM;
	for (int i = 0; i < d->cfg.clients_max; i++)
		d->clients[i] = (struct dclient){.fd = -1, .memfd = -1};
	fnl_cmdq_init(&d->cmdq, d->cmd_slots, FNL_CMDQ_SLOTS);
	fnl_cmdq_init(&d->evtq, d->evt_slots, FNL_CMDQ_SLOTS);
	d->doorbell_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->evt_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->doorbell_efd < 0 || d->evt_efd < 0)
		return -errno;
	struct fnl_core_cfg cc;
	int rc = fnl_secure_setup(d, msg, sizeof(msg));
	if (rc < 0) {
		fnl_err("%s", msg);
		return rc;
	}
	core_cfg(&d->cfg, &cc);
	core_cfg_security(d, &cc);
	if (cc.journal_path[0]) {
		/* the state dir is the socket's (0750) unless funnel.state.dir says */
		char dir[sizeof(cc.journal_path)];
		snprintf(dir, sizeof(dir), "%s", cc.journal_path);
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			int mrc = fnl_mkdir_p(dir, 0750);
			if (mrc < 0)
				fnl_warn("cannot create the state directory dir=%s err=\"%s\"", dir,
					 strerror(-mrc));
		}
	}
	struct fnl_dpdk_cfg dcfg;
	if (cc.egress == FNL_EGRESS_DPDK) {
		dpdk_cfg(&d->cfg, &dcfg);
		cc.egress_cfg = &dcfg; /* read in fnl_core_new only */
		fnl_info("egress dpdk ip=%s mtu=%d eal=\"%s\" (ctrl's Metadata connection stays on "
			 "the kernel)", d->cfg.dpdk_ip, d->cfg.dpdk_mtu, d->cfg.dpdk_eal_args);
	}
	rc = fnl_core_new(&cc, &d->cmdq, &d->evtq, d->doorbell_efd, d->evt_efd, &d->core);
	if (rc < 0) {
		if (cc.egress == FNL_EGRESS_DPDK)
			fnl_err("cannot start the DPDK egress err=\"%s\" why=\"%s\"", strerror(-rc),
				fnl_engine_last_error());
		else if (rc == -EBUSY)
			fnl_err("another funneld uses the state directory (its journal is locked): "
				"stop it or set funnel.state.dir path=%s", cc.journal_path);
		else
			fnl_err("cannot create the data-plane core err=\"%s\"", strerror(-rc));
		return rc;
	}
	if (d->tls_ctx && !fnl_core_stats(d->core)->rx_bufring) {
		fnl_err("security.protocol=%s needs io_uring provided buffers with multishot "
			"receive (Linux 6.0+), which this kernel lacks",
			fnl_sec_proto_name(d->cfg.security_protocol));
		return -EOPNOTSUPP;
	}
	bool tmpfs = false;
	const char *note = fnl_core_journal_note(d->core, &tmpfs);
	if (note)
		fnl_warn("journal not reused: in-flight records of a previous funneld are sent "
			 "again from the rings (at-least-once) reason=\"%s\"", note);
	if (cc.journal_path[0] && !tmpfs)
		fnl_warn("journal is not on tmpfs: writeback may stall the data plane now and "
			 "then; put funnel.state.dir on /run path=%s", cc.journal_path);
	/* before bootstrap, so /health answers 503 while the cluster is out of reach */
	rc = fnl_metrics_start(d, &metrics, msg, sizeof(msg));
	if (rc < 0)
		fnl_err("metrics disabled: %s", msg);
	else if (metrics)
		fnl_info("metrics listening listen=%s port=%d", d->cfg.metrics_listen,
			 fnl_metrics_port(metrics));
	rc = fnl_kclient_init(&d->kc, d->cfg.client_id, d->cfg.request_timeout_ms);
	if (rc < 0)
		return rc;
	d->kc.tls_ctx = d->tls_ctx;
	d->kc.creds = d->creds.mech ? &d->creds : NULL;
	/* The control socket opens before the cluster is reached, so funnelctl can say
	 * why start-up waits; clients are refused (and retry) until funneld is ready. */
	d->starting = true;
	rc = fnl_registry_listen(d, msg, sizeof(msg));
	if (rc < 0) {
		fnl_err("%s", msg);
		return rc;
	}
	/* Reach the cluster within max.block.ms, like a producer's first send. */
	int64_t deadline = fnl_now_ns() / 1000000 + d->cfg.max_block_ms;
	while ((rc = fnl_daemon_bootstrap(d, msg, sizeof(msg))) < 0) {
		fnl_daemon_set_start_why(d, msg);
		if (fnl_now_ns() / 1000000 >= deadline) {
			fnl_err("cannot reach the cluster within max.block.ms=%d: %s",
				d->cfg.max_block_ms, msg);
			return rc;
		}
		fnl_warn("bootstrap failed, retrying reason=\"%s\"", msg);
		int sig = serve_while_starting(d, &early, 1000);
		if (sig == SIGTERM || sig == SIGINT) {
			fnl_info("stopping: signal during bootstrap signal=%d", sig);
			return -EINTR;
		}
	}
	fnl_daemon_set_start_why(d, NULL);
	int64_t rpid;
	int16_t repoch;
	if (d->cfg.enable_idempotence && fnl_core_restored_pid(d->core, &rpid, &repoch)) {
		/* batches in the journal are resent under the id and epoch they carry,
		 * and new ones continue their partitions' sequences */
		d->pid = rpid;
		d->epoch = repoch;
		struct fnl_cmd m = {.type = FNL_CMD_PRODUCER_ID, .i64 = rpid, .a = repoch};
		snprintf(m.name, sizeof(m.name), "%s", d->cfg.test_txn_id);
		fnl_daemon_push(d, &m);
		fnl_info("producer id restored from the journal pid=%lld epoch=%d "
			 "batches=%llu",
			 (long long)rpid, repoch,
			 (unsigned long long)fnl_core_stats(d->core)->restored_batches);
	} else if (d->cfg.enable_idempotence) {
		rc = fnl_daemon_init_pid(d, false, msg, sizeof(msg));
		if (rc < 0) {
			fnl_err("cannot get a producer id: %s", msg);
			return rc;
		}
	}
	/* Topics a previous funneld gave out: clients' rings may still hold records
	 * naming them, so they are known (with their leaders) before anyone attaches. */
	if (fnl_daemon_topics_load(d) > 0)
		fnl_daemon_refresh(d);
	d->starting = false;
	if (d->cfg.txn_id[0]) {
		msg[0] = '\0';
		rc = fnl_txnd_start(d, &txnd, msg, sizeof(msg));
		if (rc < 0) {
			fnl_err("%s", msg);
			return rc;
		}
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	rc = pthread_create(&d->core_thread, NULL, core_main, d);
	if (rc)
		return -rc;
	d->core_running = true;
	fnl_info("funneld ready socket=%s brokers=%d producer_id=%lld epoch=%d codec=%d "
		 "linger_ms=%d batch_size=%d rx=%s compress_cores=%u",
		 d->cfg.socket_path, d->brokers_known, (long long)d->pid, d->epoch,
		 d->cfg.compression_type, d->cfg.linger_ms, d->cfg.batch_size,
		 fnl_core_stats(d->core)->rx_bufring ? "bufring" : "direct",
		 fnl_core_stats(d->core)->zcores);
	return 0;
}

static void on_core_events(struct fnl_daemon *d)
{
	uint64_t v;
	ssize_t r = read(d->evt_efd, &v, sizeof(v));
	(void)r;
	struct fnl_cmd e;
	char msg[256];
	while (fnl_cmdq_pop(&d->evtq, &e)) {
		switch (e.type) {
		case FNL_EVT_REFRESH_METADATA:
			d->refresh_wanted = true;
			break;
		case FNL_EVT_BUMP_EPOCH:
			/* the core bumps epochs itself; this means the epoch is
			 * exhausted and a new producer id is needed */
			if (fnl_daemon_init_pid(d, false, msg, sizeof(msg)) < 0)
				fnl_err("new producer id failed reason=\"%s\"", msg);
			break;
		case FNL_EVT_CLIENT_RELEASED:
			fnl_registry_released(d, e.a);
			break;
		case FNL_EVT_CLIENT_QUARANTINED:
			fnl_err("client quarantined slot=%d reason=\"%s\"", e.a, e.name);
			fnl_registry_gone(d, e.a);
			break;
		case FNL_EVT_STOPPED:
			d->stopped = true;
			break;
		case FNL_EVT_RECOVERED:
			fnl_info("restart recovery done batches=%d records_rebound=%lld "
				 "ring_entries_moved=%llu",
				 e.a, (long long)e.i64, (unsigned long long)e.u64);
			if (e.b)
				fnl_warn("restart journal: no free ring entry was left to keep %d "
					 "missing clients' records; if funneld is killed again before "
					 "they re-attach, those records are sent twice (raise "
					 "funnel.clients.max)",
					 e.b);
			if (e.c)
				fnl_warn("restart: %d reports of journaled records were dropped: their "
					 "clients did not re-attach within funnel.restart.wait.ms; the "
					 "records are still sent, and a client that comes back later "
					 "sends them again",
					 e.c);
			break;
		case FNL_EVT_BROKER_READY:
			fnl_info("broker connection ready node=%d produce_version=%lld", e.a,
				 (long long)e.i64);
			break;
		case FNL_EVT_LOG:
			if (e.b == 1)
				fnl_log(e.a == 0 ? FNL_LOG_ERROR : e.a == 1 ? FNL_LOG_WARN : FNL_LOG_INFO,
					"%s", e.name);
			else
				fnl_log(e.a == 0 ? FNL_LOG_ERROR : e.a == 1 ? FNL_LOG_WARN : FNL_LOG_INFO,
					"%s node=%lld", e.name, (long long)e.i64);
			break;
		case FNL_EVT_SECURITY:
			/* its own call site: the log's per-site rate limit never hides it
			 * behind other core events */
			if (!e.a)
				fnl_secure_explain(d, e.name, sizeof(e.name));
			if (!e.a && e.c)
				fnl_err("broker security failure: %s node=%lld", e.name,
					(long long)e.i64);
			fnl_secure_status(d, e.i64, e.a ? NULL : e.name);
			break;
		default:
			break;
		}
	}
}

static void on_signal(struct fnl_daemon *d)
{
	struct signalfd_siginfo si;
	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			fnl_info("SIGHUP: reloading settings");
			fnl_admin_reload(d, cfg_path, cfg_overrides, cfg_overrides_n);
			continue;
		}
		if (d->stopping)
			continue;
		d->stopping = true;
		fnl_info("stopping: intake closed, delivering pending records timeout_ms=%d",
			 d->cfg.shutdown_timeout_ms);
		struct fnl_cmd m = {.type = FNL_CMD_STOP, .a = d->cfg.shutdown_timeout_ms};
		fnl_daemon_push(d, &m);
	}
}

static void loop(struct fnl_daemon *d)
{
	struct pollfd *p = d->pfd;
	while (!d->stopped) {
		int n = 0;
		p[n++] = (struct pollfd){.fd = d->sig_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->evt_efd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = d->listen_fd, .events = POLLIN};
		n = poll_add_clients(d, n);
		int rc = poll(p, (nfds_t)n, d->topics_pending ? 20 : 100);
		if (rc < 0 && errno != EINTR)
			break;
		fnl_secure_refresh(d, false);
		if (p[0].revents)
			on_signal(d);
		if (p[1].revents)
			on_core_events(d);
		if (p[2].revents)
			fnl_registry_accept(d);
		serve_ready_clients(d, FNL_POLL_FIXED, n);
		fnl_registry_topics_tick(d, false);
		fnl_daemon_keep_session(d);
		int64_t now = fnl_now_ns() / 1000000;
		if (d->refresh_wanted || now - d->last_metadata_ms >= d->cfg.metadata_max_age_ms)
			fnl_daemon_refresh(d);
	}
}

int main(int argc, char **argv)
{
	static struct fnl_daemon d;
	bool dump = false;
	if (load_config(&d, argc, argv, &dump) < 0)
		return 2;
	fnl_log_set_level(d.cfg.log_level);
	if (dump) {
		size_t need = fnl_config_dump(&d.cfg, NULL, 0) + 1;
		char *buf = malloc(need);
		if (!buf)
			return 1;
		fnl_config_dump(&d.cfg, buf, need);
		fputs(buf, stdout);
		free(buf);
		return 0;
	}
	if (setup(&d) < 0) {
		if (d.listen_fd >= 0) { /* opened before a failed bootstrap */
			close(d.listen_fd);
			unlink(d.cfg.socket_path);
		}
		return 1;
	}
	loop(&d);
	fnl_txnd_stop(txnd);
	pthread_join(d.core_thread, NULL);
	fnl_metrics_stop(metrics);
	const struct fnl_core_stats *st = fnl_core_stats(d.core);
	fnl_info("stopped records_in=%llu acked=%llu failed=%llu batches=%llu requests=%llu "
		 "bytes_raw=%llu bytes_wire=%llu seals_full=%llu seals_linger=%llu seals_pool=%llu",
		 (unsigned long long)st->records_in, (unsigned long long)st->records_acked,
		 (unsigned long long)st->records_failed, (unsigned long long)st->batches_acked,
		 (unsigned long long)st->requests_sent, (unsigned long long)st->bytes_raw,
		 (unsigned long long)st->bytes_wire, (unsigned long long)st->seals_full,
		 (unsigned long long)st->seals_linger, (unsigned long long)st->seals_pool);
	for (uint32_t i = 0; i < st->zcores && i < FNL_ZCORES_MAX; i++)
		fnl_info("compression at stop core=%u cpu=%d batches=%llu bytes_in=%llu bytes_out=%llu "
			 "busy_us=%llu sleeps=%llu cpu_us=%llu",
			 i, st->zcore[i].cpu, (unsigned long long)st->zcore[i].batches,
			 (unsigned long long)st->zcore[i].bytes_in,
			 (unsigned long long)st->zcore[i].bytes_out,
			 (unsigned long long)st->zcore[i].busy_ns / 1000,
			 (unsigned long long)st->zcore[i].sleeps,
			 (unsigned long long)st->zcore[i].cpu_ns / 1000);
	fnl_registry_close_all(&d);
	fnl_core_free(d.core);
	fnl_kclient_free(&d.kc);
	fnl_secure_free(&d);
	return 0;
}
