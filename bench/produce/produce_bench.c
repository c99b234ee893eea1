/* produce_bench.c - fnl-produce-bench: one data-plane engine pushing
 * pre-built RecordBatches in Produce requests to a Kafka-protocol broker,
 * with 1..5 requests in flight. Measures what the egress path (io_uring
 * engine + Produce framing, no copy of the batch) sustains on loopback.
 *
 *   fnl-produce-bench -b BOOTSTRAP -t TOPIC [-s BATCH_BYTES] [-i INFLIGHT]
 *                     [-d SECONDS] [-p PARTITIONS]
 *                     [-M FROM=TO] [-E dpdk -A EAL_ARGS -I IP [-N NETMASK] [-G GATEWAY]]
 *
 * -M: connect to TO where the leader is advertised at FROM (IPv4; e.g. a broker
 * behind a forwarder in another network namespace). -E dpdk: the DPDK egress
 * (a -Ddpdk=enabled build) instead of io_uring, on the port EAL_ARGS names,
 * with lwIP's address IP (the metadata connection stays on the kernel).
 *
 * Prints one JSON object: requests/s, GB/s (batch bytes acknowledged), p50
 * and p99 request latency. acks=1, no idempotence: the batch bytes are the
 * same in every request, so the broker must not check sequences.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrl/kclient.h"
#include "dataplane/core/apiver.h"
#include "dataplane/kafka/proto.h"
#include "dataplane/kafka/recbatch.h"
#include "dataplane/net/dpdk.h"
#include "dataplane/net/engine.h"

#define INFLIGHT_MAX 5

struct leader {
	int32_t partition, node;
	char host[256];
	int port;
};

struct md {
	struct leader l[64];
	int n;
	struct {
		int32_t id;
		char host[256];
		int port;
	} b[16];
	int nb;
};

static void on_broker(void *ctx, int32_t id, const char *host, int hl, int32_t port)
{
	struct md *m = ctx;
	if (m->nb < 16) {
		m->b[m->nb].id = id;
		snprintf(m->b[m->nb].host, sizeof(m->b[m->nb].host), "%.*s", hl, host);
		m->b[m->nb++].port = port;
	}
}

static void on_partition(void *ctx, int16_t err, int32_t p, int32_t leader, int32_t epoch)
{
	struct md *m = ctx;
	(void)err;
	(void)epoch;
	if (m->n < 64)
		m->l[m->n++] = (struct leader){.partition = p, .node = leader};
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* One batch of ~size bytes of uncompressed JSON-like records. */
static size_t build_batch(uint8_t *buf, size_t size)
{
	struct fnl_rbw w;
	fnl_rbw_init(&w, buf + FNL_RB_HEADER_BYTES, size - FNL_RB_HEADER_BYTES, 1700000000000);
	char v[100];
	for (int i = 0;; i++) {
		int n = snprintf(v, sizeof(v), "{\"svc\":\"checkout\",\"level\":\"info\",\"user\":%d,"
					       "\"msg\":\"order placed\",\"ms\":%d}",
				 i, i % 977);
		if (fnl_rbw_append(&w, 1700000000000 + i / 100, NULL, -1, v, n, NULL, 0) < 0)
			break;
	}
	struct fnl_rb_meta m = {.producer_id = -1, .producer_epoch = -1, .base_sequence = -1,
				.record_count = w.count, .base_ts = w.base_ts, .max_ts = w.max_ts};
	fnl_rb_write_header(buf, w.len, &m);
	return FNL_RB_HEADER_BYTES + w.len;
}

static struct fnl_event *wait_ev(struct fnl_engine *e, struct fnl_event *ev, int type)
{
	for (int k = 0; k < 1000; k++) {
		int n = fnl_engine_poll(e, ev, 1, 10 * 1000000);
		if (n == 1 && (int)ev->type == type)
			return ev;
		if (n == 1 && ev->type == FNL_EV_CLOSED)
			return NULL;
	}
	return NULL;
}

/* Connect and negotiate; returns the Produce version, or -1. */
static int16_t handshake(struct fnl_engine *e, int conn, uint8_t *scratch, size_t cap)
{
	struct fnl_event ev;
	if (!wait_ev(e, &ev, FNL_EV_CONNECTED))
		return -1;
	int16_t ver = 3;
	for (int attempt = 0; attempt < 3; attempt++) {
		int n = fnl_enc_api_versions_req(scratch, cap, ver, 1, "bench", "funnel", "0");
		struct iovec iov = {scratch, (size_t)n};
		if (n < 0 || fnl_conn_send(e, conn, &iov, 1, 0) < 0 || !wait_ev(e, &ev, FNL_EV_FRAME))
			return -1;
		int32_t corr;
		int hl = fnl_dec_resp_header(ev.frame, ev.frame_len, FNL_API_API_VERSIONS, ver, &corr);
		struct fnl_api_range r[64];
		int nr;
		int16_t retry;
		int rc = hl < 0 ? -1
				: fnl_apiver_answer(ev.frame + hl, ev.frame_len - (uint32_t)hl, ver, r, 64,
						    &nr, &retry);
		if (rc == FNL_APIVER_RETRY) {
			ver = retry;
			continue;
		}
		return rc == FNL_APIVER_READY ? fnl_api_pick(r, nr, FNL_API_PRODUCE) : -1;
	}
	return -1;
}

struct slot {
	uint8_t scratch[512];
	struct iovec iov[8];
	int64_t sent_ns;
	int32_t corr;
};

int main(int argc, char **argv)
{
	const char *bootstrap = NULL, *topic = NULL;
	size_t size = 1 << 20;
	int inflight = 1, seconds = 3, opt;
	const char *map = NULL, *egress = "uring", *eal = NULL, *ip = NULL;
	const char *mask = "255.255.255.0", *gw = NULL;
	while ((opt = getopt(argc, argv, "b:t:s:i:d:M:E:A:I:N:G:")) != -1) {
		switch (opt) {
		case 'b': bootstrap = optarg; break;
		case 't': topic = optarg; break;
		case 's': size = (size_t)atol(optarg); break;
		case 'i': inflight = atoi(optarg); break;
		case 'd': seconds = atoi(optarg); break;
		case 'M': map = optarg; break;
		case 'E': egress = optarg; break;
		case 'A': eal = optarg; break;
		case 'I': ip = optarg; break;
		case 'N': mask = optarg; break;
		case 'G': gw = optarg; break;
		default: bootstrap = NULL;
		}
	}
	if (!bootstrap || !topic || inflight < 1 || inflight > INFLIGHT_MAX || size < 1024) {
		fprintf(stderr, "usage: fnl-produce-bench -b BOOTSTRAP -t TOPIC [-s BATCH_BYTES] "
				"[-i INFLIGHT 1..5] [-d SECONDS] [-M FROM=TO] [-E uring|dpdk -A "
				"EAL_ARGS -I IP [-N NETMASK] [-G GATEWAY]]\n");
		return 2;
	}
	char msg[512];
	struct fnl_kclient k;
	struct md md = {0};
	struct fnl_md_visitor v = {.ctx = &md, .broker = on_broker, .partition = on_partition};
	const char *topics[1] = {topic};
	if (fnl_kclient_init(&k, "bench", 5000) < 0 ||
	    fnl_kclient_connect(&k, bootstrap, msg, sizeof(msg)) < 0 ||
	    fnl_kclient_metadata(&k, topics, 1, &v, msg, sizeof(msg)) < 0 || md.n == 0) {
		fprintf(stderr, "fnl-produce-bench: metadata: %s\n", msg);
		return 1;
	}
	/* partition 0's leader */
	struct sockaddr_in6 sa;
	int found = -1;
	for (int i = 0; i < md.nb; i++)
		if (md.b[i].id == md.l[0].node)
			found = i;
	if (found < 0 || fnl_resolve(md.b[found].host, md.b[found].port, &sa) < 0) {
		fprintf(stderr, "fnl-produce-bench: no leader for %s[0]\n", topic);
		return 1;
	}
	if (map && sa.sin6_family == AF_INET) { /* -M FROM=TO */
		char from[64];
		snprintf(from, sizeof(from), "%s", map);
		char *eq = strchr(from, '=');
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		struct in_addr f, t;
		if (eq && (*eq = '\0', inet_pton(AF_INET, from, &f) == 1) &&
		    inet_pton(AF_INET, eq + 1, &t) == 1 && in->sin_addr.s_addr == f.s_addr)
			in->sin_addr = t;
	}
	uint8_t *batch = malloc(size);
	size_t blen = build_batch(batch, size);

	struct fnl_engine_cfg ecfg;
	fnl_engine_cfg_default(&ecfg);
	ecfg.conns_max = 2;
	struct fnl_dpdk_cfg dcfg = {.mtu = 1500};
	if (strcmp(egress, "dpdk") == 0) {
		struct in_addr a;
		snprintf(dcfg.eal_args, sizeof(dcfg.eal_args), "%s", eal ? eal : "");
		if (ip && inet_pton(AF_INET, ip, &a) == 1)
			dcfg.ip = a.s_addr;
		if (inet_pton(AF_INET, mask, &a) == 1)
			dcfg.netmask = a.s_addr;
		if (gw && inet_pton(AF_INET, gw, &a) == 1)
			dcfg.gateway = a.s_addr;
		ecfg.egress = FNL_EGRESS_DPDK;
		ecfg.egress_cfg = &dcfg;
	}
	struct fnl_engine *e;
	int erc = fnl_engine_new(&ecfg, &e);
	if (erc < 0) {
		fprintf(stderr, "fnl-produce-bench: engine %s: %s %s\n", egress, strerror(-erc),
			fnl_engine_last_error());
		return 1;
	}
	socklen_t sl = sa.sin6_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(sa);
	int conn = fnl_conn_open(e, (struct sockaddr *)&sa, sl, 5000, 0);
	uint8_t hs[512];
	int16_t ver = conn < 0 ? -1 : handshake(e, conn, hs, sizeof(hs));
	if (ver < 0) {
		fprintf(stderr, "fnl-produce-bench: cannot connect or negotiate\n");
		return 1;
	}
	struct slot slots[INFLIGHT_MAX];
	int64_t *lat = calloc(1 << 20, sizeof(int64_t));
	size_t nlat = 0;
	int32_t corr = 100;
	uint64_t acked = 0, head = 0, tail = 0; /* requests sent = head, answered = tail */
	int64_t t0 = fnl_now_ns(), end = t0 + (int64_t)seconds * 1000000000;
	struct fnl_event ev[16];
	for (;;) {
		int64_t now = fnl_now_ns();
		while (now < end && head - tail < (uint64_t)inflight) {
			struct slot *s = &slots[head % INFLIGHT_MAX];
			struct fnl_preq q;
			s->corr = corr++;
			fnl_preq_begin(&q, s->scratch, sizeof(s->scratch), s->iov, 8, ver, s->corr,
				       "bench", NULL, 1, 30000, 1);
			fnl_preq_topic(&q, topic, (int)strlen(topic), 1);
			fnl_preq_partition(&q, 0, batch, (uint32_t)blen);
			int niov = fnl_preq_end(&q);
			if (niov < 0 || fnl_conn_send(e, conn, s->iov, niov, head) < 0) {
				fprintf(stderr, "fnl-produce-bench: send failed\n");
				return 1;
			}
			s->sent_ns = now;
			head++;
		}
		if (now >= end && head == tail)
			break;
		int n = fnl_engine_poll(e, ev, 16, 100 * 1000000);
		for (int i = 0; i < n; i++) {
			if (ev[i].type == FNL_EV_CLOSED) {
				fprintf(stderr, "fnl-produce-bench: connection closed (%s)\n",
					strerror(-ev[i].res));
				return 1;
			}
			if (ev[i].type != FNL_EV_FRAME)
				continue;
			struct slot *s = &slots[tail % INFLIGHT_MAX];
			int32_t got;
			if (fnl_dec_resp_header(ev[i].frame, ev[i].frame_len, FNL_API_PRODUCE, ver,
						&got) < 0 ||
			    got != s->corr) {
				fprintf(stderr, "fnl-produce-bench: unexpected response\n");
				return 1;
			}
			if (nlat < (1 << 20))
				lat[nlat++] = fnl_now_ns() - s->sent_ns;
			tail++;
			acked += blen;
		}
	}
	double el = (double)(fnl_now_ns() - t0) / 1e9;
	qsort(lat, nlat, sizeof(*lat), cmp_i64);
	printf("{\"egress\":\"%s\",\"batch_bytes\":%zu,\"inflight\":%d,\"produce_version\":%d,"
	       "\"seconds\":%.2f,"
	       "\"requests\":%llu,\"requests_per_s\":%.0f,\"gb_per_s\":%.3f,"
	       "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f}\n",
	       fnl_engine_name(e), blen, inflight, ver, el, (unsigned long long)tail, (double)tail / el,
	       (double)acked / el / 1e9, nlat ? (double)lat[nlat / 2] / 1e6 : 0,
	       nlat ? (double)lat[nlat * 99 / 100] / 1e6 : 0);
	fnl_engine_free(e);
	fnl_kclient_free(&k);
	free(batch);
	free(lat);
	return 0;
}
