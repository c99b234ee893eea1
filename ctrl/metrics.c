/* metrics.c - Prometheus text exposition of the core's counters and the
 * HTTP server thread that serves it (GET /metrics, GET /health). */
#include "ctrl/metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctrl/daemon.h"
#include "ctrl/log.h"
#include "dataplane/net/engine.h"
#include "dataplane/producer/errtab.h"

/* ---- text buffer ---- */

void fnl_mbuf_init(struct fnl_mbuf *b)
{
	*b = (struct fnl_mbuf){0};
}

void fnl_mbuf_free(struct fnl_mbuf *b)
{
	free(b->buf);
	*b = (struct fnl_mbuf){0};
}

static bool mbuf_reserve(struct fnl_mbuf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap > FNL_MBUF_MAX) {
		b->failed = true;
		return false;
	}
	char *p = realloc(b->buf, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->buf = p;
	b->cap = cap;
	return true;
}

void fnl_mbuf_put(struct fnl_mbuf *b, const char *s, size_t n)
{
	if (!mbuf_reserve(b, n))
		return;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void fnl_mbuf_printf(struct fnl_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (!mbuf_reserve(b, 256))
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (!mbuf_reserve(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* ---- snapshot of the core's tables ---- */

struct snap {
	struct fnl_client_stats *cl;
	int *cl_slot;
	int ncl;
	struct fnl_part_stats *pt;
	int npt;
	struct fnl_broker_stats br[FNL_METRICS_BROKERS_MAX];
	int nbr;
};

static void snap_free(struct snap *s)
{
	free(s->cl);
	free(s->cl_slot);
	free(s->pt);
}

static int snap_take(const struct fnl_daemon *d, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	int nmax = d->cfg.clients_max;
	int pmax = fnl_core_part_count(d->core);
	s->cl = calloc((size_t)nmax, sizeof(*s->cl));
	s->cl_slot = calloc((size_t)nmax, sizeof(int));
	s->pt = calloc((size_t)(pmax > 0 ? pmax : 1), sizeof(*s->pt));
	if (!s->cl || !s->cl_slot || !s->pt) {
		snap_free(s);
		return -ENOMEM;
	}
	for (int i = 0; i < nmax; i++)
		if (fnl_core_client_stats(d->core, i, &s->cl[s->ncl]) == 0)
			s->cl_slot[s->ncl++] = i;
	for (int i = 0; i < pmax; i++)
		if (fnl_core_part_stats(d->core, i, &s->pt[s->npt]) == 0)
			s->npt++;
	for (int i = 0; i < FNL_METRICS_BROKERS_MAX; i++)
		if (fnl_core_broker_stats(d->core, i, &s->br[s->nbr]) == 0)
			s->nbr++;
	return 0;
}

/* ---- exposition helpers ---- */

static void family(struct fnl_mbuf *b, const char *name, const char *type, const char *help)
{
	fnl_mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped (topic names never need it). */
static void label_value(struct fnl_mbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fnl_mbuf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			fnl_mbuf_put(b, "\\n", 2);
		else
			fnl_mbuf_put(b, s, 1);
	}
}

static const char *topic_name(const struct fnl_daemon *d, uint32_t id)
{
	if (id >= (uint32_t)d->cfg.topics_max || !d->topics[id].used)
		return "";
	return d->topics[id].name;
}

struct gstat {
	const char *name, *type, *help;
	size_t off;
};

#define GS(n, t, f, h)                                                                             \
	{                                                                                          \
		n, t, h, offsetof(struct fnl_core_stats, f)                                        \
	}

static const struct gstat gstats[] = {
    GS("funnel_records_in_total", "counter", records_in, "Records taken from client rings."),
    GS("funnel_records_acked_total", "counter", records_acked,
       "Records acknowledged by the cluster (delivered)."),
    GS("funnel_records_failed_total", "counter", records_failed,
       "Records reported to their client with an error."),
    GS("funnel_records_bad_total", "counter", records_bad,
       "Malformed records found in client rings."),
    GS("funnel_batches_sent_total", "counter", batches_sent, "Batches sent (first sends)."),
    GS("funnel_batches_acked_total", "counter", batches_acked, "Batches acknowledged."),
    GS("funnel_batches_failed_total", "counter", batches_failed, "Batches failed with an error."),
    GS("funnel_batch_retries_total", "counter", retries, "Batch sends retried."),
    GS("funnel_requests_sent_total", "counter", requests_sent, "Produce requests sent."),
    GS("funnel_responses_total", "counter", responses, "Produce responses received."),
    GS("funnel_batch_raw_bytes_total", "counter", bytes_raw,
       "Record bytes in sealed batches before compression."),
    GS("funnel_batch_wire_bytes_total", "counter", bytes_wire,
       "Record bytes in sealed batches after compression."),
    GS("funnel_tx_bytes_total", "counter", bytes_tx, "Bytes written to broker sockets."),
    GS("funnel_rx_bytes_total", "counter", bytes_rx, "Bytes read from broker sockets."),
    GS("funnel_rx_bufring", "gauge", rx_bufring,
       "1: broker responses are received into a provided-buffer ring with multishot recv; 0: "
       "plain recv per connection (funnel.uring.rx.direct or an older kernel)."),
    GS("funnel_recv_arms_total", "counter", recv_arms,
       "Receive operations armed (a multishot recv counts once)."),
    GS("funnel_recv_stops_total", "counter", recv_stops,
       "Multishot receives stopped because a connection's receive buffer was full."),
    GS("funnel_recv_nobufs_total", "counter", recv_nobufs,
       "Multishot receives ended because every provided buffer was in use; if it grows, raise "
       "funnel.uring.rx.buffers."),
    GS("funnel_tls_user_handshakes_total", "counter", tls_handshakes,
       "Data-plane broker connections that completed a TLS handshake (the handshake always "
       "runs in user space: OpenSSL in the data-plane thread)."),
    GS("funnel_tls_user_connections_total", "counter", tls_user,
       "Data-plane TLS connections whose records are encrypted and decrypted in user space "
       "(funnel.ssl.ktls=off, or the kernel offers no kernel TLS)."),
    GS("funnel_tls_kernel_tx_connections_total", "counter", ktls_tx,
       "Data-plane TLS connections whose sends the kernel encrypts (kernel TLS, "
       "funnel.ssl.ktls)."),
    GS("funnel_tls_kernel_rx_connections_total", "counter", ktls_rx,
       "Data-plane TLS connections whose receives the kernel decrypts (kernel TLS; TLS 1.2 "
       "only)."),
    GS("funnel_tls_failures_total", "counter", tls_failures,
       "Data-plane TLS handshakes or sessions that failed (certificate, protocol, peer close)."),
    GS("funnel_sasl_logins_total", "counter", sasl_logins,
       "Data-plane SASL logins that succeeded (SCRAM: server signature verified)."),
    GS("funnel_sasl_reauths_total", "counter", sasl_reauths,
       "KIP-368 re-authentications on live connections (the broker set a session lifetime)."),
    GS("funnel_sasl_failures_total", "counter", sasl_failures,
       "Data-plane SASL logins that failed (refused, closed, or the server failed a check)."),
    GS("funnel_dpdk_rx_packets_total", "counter", pkts_rx,
       "funnel.egress=dpdk: frames received on the DPDK port (0 on io_uring)."),
    GS("funnel_dpdk_tx_packets_total", "counter", pkts_tx,
       "funnel.egress=dpdk: frames sent on the DPDK port (0 on io_uring)."),
    GS("funnel_dpdk_drops_total", "counter", pkt_drops,
       "funnel.egress=dpdk: frames dropped (by the PMD, for want of a buffer, or by lwIP: bad "
       "checksum, no connection, ...)."),
    GS("funnel_dpdk_tcp_retransmits_total", "counter", tcp_retransmits,
       "funnel.egress=dpdk: TCP retransmissions by lwIP (per-connection retransmit counter "
       "increments)."),
    GS("funnel_dpdk_checksum_offload", "gauge", csum_offload,
       "funnel.egress=dpdk: checksum offloads the port does, a bit set: 1 tx IPv4, 2 tx TCP, "
       "4 rx IPv4, 8 rx TCP (0: all in software in lwIP)."),
    GS("funnel_broker_connects_total", "counter", connects, "Broker connections made."),
    GS("funnel_broker_disconnects_total", "counter", disconnects,
       "Broker connections lost or closed."),
    GS("funnel_ring_full_waits_total", "counter", ring_full_waits,
       "Times the core woke a client sleeping in libfunnel: on a full ring (back-pressure) or "
       "in fnl_poll/fnl_flush waiting for reports."),
    GS("funnel_pool_empty_total", "counter", pool_empty,
       "Times the batch pool (buffer.memory) was empty."),
    GS("funnel_batches_sealed_full_total", "counter", seals_full,
       "Batches sealed because the next record did not fit (batch.size or records per batch)."),
    GS("funnel_batches_sealed_linger_total", "counter", seals_linger,
       "Batches sealed at linger.ms."),
    GS("funnel_batches_sealed_pool_total", "counter", seals_pool,
       "Batches sealed early because the batch pool (buffer.memory) was empty."),
    GS("funnel_core_loops_total", "counter", loops, "Data-plane loop passes."),
    GS("funnel_core_sleeps_total", "counter", sleeps, "Times the data-plane core slept."),
    GS("funnel_reports_unread_total", "counter", reports_unread,
       "Delivery reports no process read: still in a client's ring when the client detached "
       "(exited, was killed or closed without fnl_flush). Their records were delivered or "
       "failed all the same; the failed ones are in funnel_delivery_errors_total."),
    GS("funnel_clients_quarantined_total", "counter", quarantined,
       "Clients quarantined for a malformed ring."),
    GS("funnel_metadata_requests_total", "counter", metadata_requests,
       "Metadata refreshes asked for by the core."),
    GS("funnel_epoch_bumps_total", "counter", epoch_bumps, "Producer epoch bumps."),
};

static void render_global(const struct fnl_daemon *d, const struct fnl_core_stats *st,
                          struct fnl_mbuf *b)
{
	for (size_t i = 0; i < sizeof(gstats) / sizeof(gstats[0]); i++) {
		uint64_t v = *(const uint64_t *)((const char *)st + gstats[i].off);
		family(b, gstats[i].name, gstats[i].type, gstats[i].help);
		fnl_mbuf_printf(b, "%s %llu\n", gstats[i].name, (unsigned long long)v);
	}
	uint64_t raw = st->bytes_raw, wire = st->bytes_wire;
	family(
	    b, "funnel_compression_ratio", "gauge",
	    "Raw batch bytes divided by compressed batch bytes since start (absent before any).");
	if (wire)
		fnl_mbuf_printf(b, "funnel_compression_ratio %.4f\n", (double)raw / (double)wire);
	int64_t now_ms = fnl_now_ns() / 1000000;
	family(b, "funnel_metadata_age_seconds", "gauge",
	       "Seconds since the last complete metadata refresh (-1: never).");
	if (d->last_metadata_ms > 0)
		fnl_mbuf_printf(b, "funnel_metadata_age_seconds %.3f\n",
		                (double)(now_ms - d->last_metadata_ms) / 1000.0);
	else
		fnl_mbuf_put(b, "funnel_metadata_age_seconds -1\n", 31);
	family(b, "funnel_brokers_known", "gauge", "Brokers in the last metadata response.");
	fnl_mbuf_printf(b, "funnel_brokers_known %d\n", d->brokers_known);
	family(b, "funnel_producer_id", "gauge", "Producer id held by the core (-1: none).");
	fnl_mbuf_printf(b, "funnel_producer_id %lld\n", (long long)st->producer_id);
	family(b, "funnel_producer_epoch", "gauge", "Producer epoch held by the core.");
	fnl_mbuf_printf(b, "funnel_producer_epoch %d\n", (int)st->producer_epoch);
	family(b, "funnel_clients_active", "gauge", "Clients attached to the core.");
	fnl_mbuf_printf(b, "funnel_clients_active %d\n", (int)st->clients_active);
	family(b, "funnel_uptime_seconds", "gauge", "Seconds since funneld started.");
	fnl_mbuf_printf(b, "funnel_uptime_seconds %.3f\n",
	                d->start_ms ? (double)(now_ms - d->start_ms) / 1000.0 : 0.0);
	family(b, "funnel_ready", "gauge", "1 when /health answers 200, else 0.");
	fnl_mbuf_printf(b, "funnel_ready %d\n", fnl_metrics_healthy(d, NULL) ? 1 : 0);
}

static void render_errors(const struct fnl_core_stats *st, struct fnl_mbuf *b)
{
	family(b, "funnel_delivery_errors_total", "counter",
	       "Records reported with a Kafka error, by error code.");
	for (int i = 0; i < 128; i++) {
		uint64_t v = st->err_by_code[i];
		if (!v)
			continue;
		int16_t code = (int16_t)(i - 1);
		fnl_mbuf_printf(b, "funnel_delivery_errors_total{code=\"%d\",name=\"%s\"} %llu\n",
		                code, fnl_err_name(code), (unsigned long long)v);
	}
}

static void render_security(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	uint64_t n[FNL_SEC_REASONS];
	fnl_secure_counts((struct fnl_daemon *)d, n);
	family(b, "funnel_security_failures_total", "counter",
	       "Failed broker connections and logins (ctrl's and the data plane's) by cause: TLS "
	       "certificate checks, TLS handshakes, SASL mechanism, token and credentials. The log "
	       "and /health name the broker.");
	for (int i = 0; i < FNL_SEC_REASONS; i++)
		fnl_mbuf_printf(b, "funnel_security_failures_total{reason=\"%s\"} %llu\n",
		                fnl_sec_reason_names[i], (unsigned long long)n[i]);
}

/* Compression per core (issue 17): core 0 is the data-plane core, core i the
 * worker pinned on funnel.cores[i]. */
static void render_zcores(const struct fnl_core_stats *st, struct fnl_mbuf *b)
{
	static const struct {
		const char *name, *type, *help;
	} f[] = {
	    {"funnel_core_compress_batches_total", "counter",
	     "Batches compressed on this core (core 0: the data-plane core, alone or when every "
	     "worker was busy; core i: the worker on funnel.cores[i])."},
	    {"funnel_core_compress_bytes_in_total", "counter",
	     "Record bytes this core compressed (before compression)."},
	    {"funnel_core_compress_bytes_out_total", "counter",
	     "Wire bytes of the batches this core compressed."},
	    {"funnel_core_compress_seconds_total", "counter",
	     "Time this core spent compressing (a lone data-plane core: its seals, zstd and the copy back)."},
	    {"funnel_core_compress_queue_depth", "gauge",
	     "Batches handed to this worker and not yet taken back by the data-plane core."},
	    {"funnel_core_compress_sleeps_total", "counter",
	     "Times this worker slept waiting for batches."},
	    {"funnel_core_compress_cpu_seconds_total", "counter",
	     "CPU time of this worker's thread (0 for the data-plane core)."},
	};
	uint32_t n = st->zcores < FNL_ZCORES_MAX ? st->zcores : FNL_ZCORES_MAX;
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		family(b, f[k].name, f[k].type, f[k].help);
		for (uint32_t i = 0; i < n; i++) {
			const struct fnl_zcore_stats *z = &st->zcore[i];
			double v = k == 0   ? (double)z->batches
			           : k == 1 ? (double)z->bytes_in
			           : k == 2 ? (double)z->bytes_out
			           : k == 3 ? (double)z->busy_ns / 1e9
			           : k == 4 ? (double)z->depth
			           : k == 5 ? (double)z->sleeps
			                    : (double)z->cpu_ns / 1e9;
			fnl_mbuf_printf(b, "%s{core=\"%u\",cpu=\"%d\"} %.17g\n", f[k].name, i,
			                (int)z->cpu, v);
		}
	}
}

static void render_latency(const struct fnl_core_stats *st, struct fnl_mbuf *b)
{
	const char *n = "funnel_delivery_latency_seconds";
	family(b, n, "histogram",
	       "Records by time from their batch's first append to their delivery report. "
	       "No _sum: the core counts buckets only.");
	uint64_t cum = 0;
	for (int i = 0; i < FNL_LAT_BUCKETS - 1; i++) {
		cum += st->latency_ms_hist[i];
		/* bucket i holds [2^(i-1), 2^i) ms; its upper bound is 2^i ms */
		fnl_mbuf_printf(b, "%s_bucket{le=\"%.3f\"} %llu\n", n, (double)(1ull << i) / 1000.0,
		                (unsigned long long)cum);
	}
	cum += st->latency_ms_hist[FNL_LAT_BUCKETS - 1];
	fnl_mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", n, (unsigned long long)cum);
	fnl_mbuf_printf(b, "%s_sum %.3f\n", n, (double)st->latency_ms_sum / 1000.0);
	fnl_mbuf_printf(b, "%s_count %llu\n", n, (unsigned long long)cum);
}

enum { CF_APPENDED, CF_DELIVERED, CF_FAILED, CF_BYTES, CF_WAITS, CF_USED, CF_CAP, CF_STATE, CF_N };

static uint64_t client_field(const struct fnl_client_stats *c, int f)
{
	switch (f) {
	case CF_APPENDED:
		return c->appended;
	case CF_DELIVERED:
		return c->delivered;
	case CF_FAILED:
		return c->failed;
	case CF_BYTES:
		return c->appended_bytes;
	case CF_WAITS:
		return c->ring_full_waits;
	case CF_USED:
		return c->ring_used_bytes;
	case CF_CAP:
		return c->ring_bytes;
	default:
		return c->state;
	}
}

static void render_clients(const struct fnl_daemon *d, const struct snap *s, struct fnl_mbuf *b)
{
	static const struct {
		const char *name, *type, *help;
	} f[CF_N] = {
	    {"funnel_client_records_appended_total", "counter",
	     "Records the core read from this client's ring."},
	    {"funnel_client_records_delivered_total", "counter",
	     "Records of this client acknowledged by the cluster."},
	    {"funnel_client_records_failed_total", "counter",
	     "Records of this client reported with an error."},
	    {"funnel_client_appended_bytes_total", "counter",
	     "Ring bytes (record header, key, value, headers, padding) of the records the core "
	     "read from this client's ring."},
	    {"funnel_client_ring_full_waits_total", "counter",
	     "Times the core woke this client sleeping in libfunnel: on a full ring "
	     "(back-pressure) or in fnl_poll/fnl_flush waiting for reports."},
	    {"funnel_client_ring_used_bytes", "gauge",
	     "Ring bytes read by the core and not yet released to the client."},
	    {"funnel_client_ring_capacity_bytes", "gauge", "Size of the client's records ring."},
	    {"funnel_client_state", "gauge", "1 active, 2 gone (draining), 3 quarantined."},
	};
	for (int k = 0; k < CF_N; k++) {
		family(b, f[k].name, f[k].type, f[k].help);
		for (int i = 0; i < s->ncl; i++) {
			int slot = s->cl_slot[i];
			fnl_mbuf_printf(b, "%s{client=\"%d\",pid=\"%d\"} %llu\n", f[k].name, slot,
			                (int)d->clients[slot].pid,
			                (unsigned long long)client_field(&s->cl[i], k));
		}
	}
}

enum {
	PF_QUEUED,
	PF_QBYTES,
	PF_OPEN,
	PF_INFLIGHT,
	PF_ACKED,
	PF_RECORDS,
	PF_RETRIES,
	PF_ERR,
	PF_LEADER,
	PF_N
};

static long long part_field(const struct fnl_part_stats *p, int f)
{
	switch (f) {
	case PF_QUEUED:
		return p->queued_batches;
	case PF_QBYTES:
		return (long long)p->queued_bytes;
	case PF_OPEN:
		return p->open_records;
	case PF_INFLIGHT:
		return p->inflight;
	case PF_ACKED:
		return (long long)p->batches_acked;
	case PF_RECORDS:
		return (long long)p->records_acked;
	case PF_RETRIES:
		return (long long)p->retries;
	case PF_ERR:
		return p->last_err;
	default:
		return p->leader;
	}
}

static void render_parts(const struct fnl_daemon *d, const struct snap *s, struct fnl_mbuf *b)
{
	static const struct {
		const char *name, *type, *help;
	} f[PF_N] = {
	    {"funnel_partition_queued_batches", "gauge", "Sealed batches not yet acknowledged."},
	    {"funnel_partition_queued_bytes", "gauge",
	     "Wire bytes (compressed RecordBatches) of the sealed batches not yet acknowledged."},
	    {"funnel_partition_open_batch_records", "gauge", "Records in the open batch."},
	    {"funnel_partition_inflight_requests", "gauge",
	     "Produce requests in flight for this partition."},
	    {"funnel_partition_batches_acked_total", "counter", "Batches acknowledged."},
	    {"funnel_partition_records_acked_total", "counter",
	     "Records acknowledged by the cluster (delivered)."},
	    {"funnel_partition_retries_total", "counter", "Batch sends retried."},
	    {"funnel_partition_last_error_code", "gauge",
	     "Kafka error code of the last failed batch (0: none)."},
	    {"funnel_partition_leader", "gauge", "Leader broker node id (-1: unknown)."},
	};
	for (int k = 0; k < PF_N; k++) {
		family(b, f[k].name, f[k].type, f[k].help);
		for (int i = 0; i < s->npt; i++) {
			fnl_mbuf_printf(b, "%s{topic=\"", f[k].name);
			label_value(b, topic_name(d, s->pt[i].topic_id));
			fnl_mbuf_printf(b, "\",partition=\"%d\"} %lld\n", (int)s->pt[i].partition,
			                part_field(&s->pt[i], k));
		}
	}
	/* only the cells that counted something: at most FNL_RETRY_CELLS series per partition */
	const char *rn = "funnel_partition_retries_by_code_total";
	char help[192];
	size_t hl = (size_t)snprintf(help, sizeof(help), "%s",
	                             "Batch sends retried, by the Kafka error code that caused the "
	                             "retry (code other: any but");
	for (int k = 0; k < FNL_RETRY_OTHER && hl < sizeof(help); k++)
		hl += (size_t)snprintf(help + hl, sizeof(help) - hl, "%s %d", k ? "," : "",
		                       (int)fnl_retry_cell_code(k));
	if (hl < sizeof(help))
		snprintf(help + hl, sizeof(help) - hl, ").");
	family(b, rn, "counter", help);
	for (int i = 0; i < s->npt; i++) {
		for (int k = 0; k < FNL_RETRY_CELLS; k++) {
			uint32_t v = s->pt[i].retries_by_cell[k];
			if (!v)
				continue;
			fnl_mbuf_printf(b, "%s{topic=\"", rn);
			label_value(b, topic_name(d, s->pt[i].topic_id));
			if (k == FNL_RETRY_OTHER)
				fnl_mbuf_printf(b, "\",partition=\"%d\",code=\"other\"} %u\n",
				                (int)s->pt[i].partition, v);
			else
				fnl_mbuf_printf(b, "\",partition=\"%d\",code=\"%d\"} %u\n",
				                (int)s->pt[i].partition,
				                (int)fnl_retry_cell_code(k), v);
		}
	}
}

static void render_brokers(const struct snap *s, struct fnl_mbuf *b)
{
	static const char *const names[] = {"funnel_broker_state",
	                                    "funnel_broker_inflight_requests",
	                                    "funnel_broker_requests_total",
	                                    "funnel_broker_responses_total",
	                                    "funnel_broker_rtt_seconds_total",
	                                    "funnel_broker_rtt_mean_seconds"};
	static const char *const types[] = {"gauge",   "gauge",   "counter",
	                                    "counter", "counter", "gauge"};
	static const char *const helps[] = {
	    "Connection state: 1 down, 2 connecting, 3 negotiating, 4 ready.",
	    "Produce requests in flight on the connection.",
	    "Produce requests sent.",
	    "Produce responses received.",
	    "Sum of request round-trip times.",
	    "Mean request round-trip time since start (0 before any response)."};
	for (int k = 0; k < 6; k++) {
		family(b, names[k], types[k], helps[k]);
		for (int i = 0; i < s->nbr; i++) {
			const struct fnl_broker_stats *br = &s->br[i];
			double v;
			switch (k) {
			case 0:
				v = br->state;
				break;
			case 1:
				v = br->inflight;
				break;
			case 2:
				v = (double)br->requests;
				break;
			case 3:
				v = (double)br->responses;
				break;
			case 4:
				v = (double)br->rtt_us_sum / 1e6;
				break;
			default:
				v = br->responses
				        ? (double)br->rtt_us_sum / 1e6 / (double)br->responses
				        : 0.0;
			}
			fnl_mbuf_printf(b, "%s{node=\"%d\"} %.17g\n", names[k], (int)br->node_id,
			                v);
		}
	}
}

/* funnel_topic_partitions: the count the core partitions each topic over (it grows
 * with the cluster's at a metadata refresh). */
static void render_topics(const struct fnl_daemon *d, struct fnl_mbuf *b)
{
	family(b, "funnel_topic_partitions", "gauge",
	       "Partitions the data plane spreads the topic's records over.");
	for (int i = 0; i < d->cfg.topics_max; i++) {
		int n = d->topics[i].used ? fnl_core_topic_partitions(d->core, i) : -1;
		if (n < 0)
			continue;
		fnl_mbuf_printf(b, "funnel_topic_partitions{topic=\"");
		label_value(b, d->topics[i].name);
		fnl_mbuf_printf(b, "\"} %d\n", n);
	}
}

int fnl_metrics_render(const struct fnl_daemon *d, struct fnl_mbuf *out)
{
	struct snap s;
	if (snap_take(d, &s) < 0)
		return -ENOMEM;
	const struct fnl_core_stats *st = fnl_core_stats(d->core);
	render_global(d, st, out);
	render_errors(st, out);
	render_security(d, out);
	render_latency(st, out);
	render_zcores(st, out);
	render_clients(d, &s, out);
	render_topics(d, out);
	render_parts(d, &s, out);
	render_brokers(&s, out);
	snap_free(&s);
	return out->failed ? -ENOMEM : 0;
}

bool fnl_metrics_healthy(const struct fnl_daemon *d, const char **why)
{
	static _Thread_local char sec[256]; /* per caller thread: metrics and ctrl */
	const char *w = NULL;
	fnl_secure_why((struct fnl_daemon *)d, sec, sizeof(sec));
	if (!sec[0])
		fnl_daemon_start_why((struct fnl_daemon *)d, sec, sizeof(sec));
	if (sec[0])
		w = sec;
	else if (d->last_metadata_ms <= 0 || d->brokers_known <= 0)
		w = "no metadata yet";
	else if (d->cfg.enable_idempotence && fnl_core_stats(d->core)->producer_id < 0)
		w = "no producer id yet";
	if (why)
		*why = w;
	return w == NULL;
}

/* ---- HTTP server ---- */

struct conn {
	int fd;
	int64_t deadline_ms;
	int64_t accepted_ms; /* eviction waits FNL_HTTP_EVICT_MS after this */
	size_t in_len;
	char in[FNL_HTTP_REQ_MAX];
	struct fnl_mbuf out;
	size_t out_pos;
	bool responding;
};

struct fnl_metrics {
	const struct fnl_daemon *d;
	int listen_fd, stop_efd, port;
	pthread_t thread;
	struct conn conns[FNL_HTTP_CONNS_MAX];
};

static int64_t now_ms(void)
{
	return fnl_now_ns() / 1000000;
}

static void respond(struct conn *c, int status, const char *reason, const char *ctype,
                    const char *body, size_t body_len, bool head)
{
	fnl_mbuf_printf(&c->out,
	                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	                status, reason, ctype, body_len);
	if (!head)
		fnl_mbuf_put(&c->out, body, body_len);
	c->responding = true;
	c->deadline_ms = now_ms() + FNL_HTTP_IDLE_MS;
}

static void respond_text(struct conn *c, int status, const char *reason, const char *text,
                         bool head)
{
	respond(c, status, reason, "text/plain; charset=utf-8", text, strlen(text), head);
}

static void serve_metrics(struct fnl_metrics *m, struct conn *c, bool head)
{
	struct fnl_mbuf body;
	fnl_mbuf_init(&body);
	if (fnl_metrics_render(m->d, &body) < 0) {
		respond_text(c, 500, "Internal Server Error", "metrics do not fit in memory\n",
		             head);
	} else {
		respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body.buf,
		        body.len, head);
	}
	fnl_mbuf_free(&body);
}

/* The request line and headers are complete in c->in. */
static void serve(struct fnl_metrics *m, struct conn *c)
{
	char method[8], path[256];
	const char *sp1 = memchr(c->in, ' ', c->in_len);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', c->in_len - (size_t)(sp1 + 1 - c->in)) : NULL;
	if (!sp1 || !sp2 || sp1 - c->in >= (ptrdiff_t)sizeof(method) ||
	    sp2 - sp1 - 1 >= (ptrdiff_t)sizeof(path) || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		respond_text(c, 400, "Bad Request", "bad request line\n", false);
		return;
	}
	memcpy(method, c->in, (size_t)(sp1 - c->in));
	method[sp1 - c->in] = '\0';
	memcpy(path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	path[sp2 - sp1 - 1] = '\0';
	path[strcspn(path, "?")] = '\0';
	bool head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		respond_text(c, 405, "Method Not Allowed", "only GET and HEAD\n", false);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		serve_metrics(m, c, head);
	} else if (strcmp(path, "/health") == 0) {
		const char *why;
		if (fnl_metrics_healthy(m->d, &why)) {
			respond_text(c, 200, "OK", "ok\n", head);
		} else {
			char text[320];
			snprintf(text, sizeof(text), "not ready: %s\n", why);
			respond_text(c, 503, "Service Unavailable", text, head);
		}
	} else if (strcmp(path, "/") == 0) {
		respond_text(c, 200, "OK", "funneld: /metrics (Prometheus), /health\n", head);
	} else {
		respond_text(c, 404, "Not Found", "not found\n", head);
	}
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	fnl_mbuf_free(&c->out);
	c->fd = -1;
}

static void conn_read(struct fnl_metrics *m, struct conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n"))
		serve(m, c);
	else if (c->in_len == sizeof(c->in) - 1)
		respond_text(c, 431, "Request Header Fields Too Large", "request too large\n",
		             false);
	if (c->responding && c->out.failed)
		conn_close(c);
}

static void conn_write(struct conn *c)
{
	ssize_t n = send(c->fd, c->out.buf + c->out_pos, c->out.len - c->out_pos,
	                 MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->out_pos += (size_t)n;
	if (c->out_pos == c->out.len) {
		/* discard unread input (an oversized request) so that close()
		 * does not reset the connection before the peer read the reply */
		shutdown(c->fd, SHUT_WR);
		for (int i = 0; i < 16 && recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT) > 0; i++)
			;
		conn_close(c);
	}
}

/* The connection to evict for a new one: the oldest that has not sent its request
 * yet and was accepted at least FNL_HTTP_EVICT_MS ago (a scraper whose request is
 * still on its way is never evicted by the next scraper); -1 if none. With `wait_ms`,
 * also how long until one becomes evictable (-1: none will). */
static int victim(const struct fnl_metrics *m, int64_t t, int *wait_ms)
{
	int old = -1;
	int64_t soonest = -1;
	for (int i = 0; i < FNL_HTTP_CONNS_MAX; i++) {
		const struct conn *c = &m->conns[i];
		if (c->fd < 0 || c->responding)
			continue;
		int64_t at = c->accepted_ms + FNL_HTTP_EVICT_MS;
		if (at > t) {
			soonest = soonest < 0 || at < soonest ? at : soonest;
			continue;
		}
		if (old < 0 || c->accepted_ms < m->conns[old].accepted_ms)
			old = i;
	}
	if (wait_ms)
		*wait_ms = old >= 0 ? 0 : soonest < 0 ? -1 : (int)(soonest - t);
	return old;
}

/* A free slot, or the slot of an evicted connection (idle connections must not
 * lock scrapers out); -1 if every connection is responding or too young to evict. */
static int free_slot(struct fnl_metrics *m, int64_t t)
{
	for (int i = 0; i < FNL_HTTP_CONNS_MAX; i++)
		if (m->conns[i].fd < 0)
			return i;
	int old = victim(m, t, NULL);
	if (old >= 0)
		conn_close(&m->conns[old]);
	return old;
}

static void accept_conns(struct fnl_metrics *m)
{
	for (;;) {
		int64_t t = now_ms();
		int i = free_slot(m, t);
		if (i < 0) /* the rest wait in the backlog */
			return;
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = &m->conns[i];
		c->fd = fd;
		c->in_len = 0;
		c->out_pos = 0;
		c->responding = false;
		fnl_mbuf_init(&c->out);
		c->accepted_ms = t;
		c->deadline_ms = t + FNL_HTTP_REQ_MS;
	}
}

static void *server_main(void *arg)
{
	struct fnl_metrics *m = arg;
	struct pollfd p[FNL_HTTP_CONNS_MAX + 2];
	int idx[FNL_HTTP_CONNS_MAX + 2];
	for (;;) {
		int n = 0, live = 0;
		p[n++] = (struct pollfd){.fd = m->stop_efd, .events = POLLIN};
		for (int i = 0; i < FNL_HTTP_CONNS_MAX; i++) {
			struct conn *c = &m->conns[i];
			if (c->fd < 0)
				continue;
			live++;
			idx[n] = i;
			p[n++] = (struct pollfd){.fd = c->fd,
			                         .events = c->responding ? POLLOUT : POLLIN};
		}
		/* bounded connections: while every slot is busy with a response or
		 * with a connection too young to evict, new ones wait in the backlog */
		int wait_ms = 0, timeout_ms = 1000;
		int lidx = live < FNL_HTTP_CONNS_MAX ? n : -1;
		if (lidx < 0 && victim(m, now_ms(), &wait_ms) >= 0)
			lidx = n;
		else if (lidx < 0 && wait_ms >= 0 && wait_ms + 1 < timeout_ms)
			timeout_ms = wait_ms + 1;
		if (lidx >= 0)
			p[n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
		if (poll(p, (nfds_t)n, timeout_ms) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		int64_t t = now_ms();
		for (int k = 1; k < n; k++) {
			if (k == lidx)
				continue;
			struct conn *c = &m->conns[idx[k]];
			if (p[k].revents & (POLLERR | POLLNVAL))
				conn_close(c);
			else if (p[k].revents && c->responding)
				conn_write(c);
			else if (p[k].revents)
				conn_read(m, c);
			else if (t > c->deadline_ms)
				conn_close(c);
		}
		if (lidx >= 0 && p[lidx].revents)
			accept_conns(m);
	}
	return NULL;
}

/* "host:port" or "[v6addr]:port" -> a listening socket. */
static int listen_on(const char *spec, int *port, char *msg, size_t len)
{
	char host[FNL_CONFIG_STR_MAX];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || colon[1] == '\0') {
		snprintf(msg, len, "funnel.metrics.listen: '%s' is not host:port", spec);
		return -EINVAL;
	}
	size_t hl = (size_t)(colon - spec);
	if (spec[0] == '[' && colon[-1] == ']') {
		spec++;
		hl -= 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)hl, spec);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(msg, len, "funnel.metrics.listen: %s: %s", spec, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		snprintf(msg, len, "funnel.metrics.listen: cannot listen on %s: %s", spec,
		         strerror(-rc));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	*port = -1;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int fnl_metrics_start(const struct fnl_daemon *d, struct fnl_metrics **out, char *msg,
                      size_t msg_len)
{
	*out = NULL;
	if (d->cfg.metrics_listen[0] == '\0')
		return 0;
	struct fnl_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->d = d;
	for (int i = 0; i < FNL_HTTP_CONNS_MAX; i++)
		m->conns[i].fd = -1;
	m->listen_fd = listen_on(d->cfg.metrics_listen, &m->port, msg, msg_len);
	if (m->listen_fd < 0) {
		int rc = m->listen_fd;
		free(m);
		return rc;
	}
	m->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* the thread takes no signals: funneld reads them from a signalfd */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = m->stop_efd < 0 ? errno : pthread_create(&m->thread, NULL, server_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(msg, msg_len, "metrics thread: %s", strerror(rc));
		if (m->stop_efd >= 0)
			close(m->stop_efd);
		close(m->listen_fd);
		free(m);
		return -rc;
	}
	*out = m;
	return 0;
}

int fnl_metrics_port(const struct fnl_metrics *m)
{
	return m ? m->port : -1;
}

void fnl_metrics_stop(struct fnl_metrics *m)
{
	if (!m)
		return;
	uint64_t one = 1;
	ssize_t w = write(m->stop_efd, &one, sizeof(one));
	(void)w;
	pthread_join(m->thread, NULL);
	for (int i = 0; i < FNL_HTTP_CONNS_MAX; i++)
		if (m->conns[i].fd >= 0)
			conn_close(&m->conns[i]);
	close(m->stop_efd);
	close(m->listen_fd);
	free(m);
}
