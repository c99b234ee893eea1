/* txn_bench.c - fnl-txn-bench: CLIENTS processes each running TXNS transactions of RECORDS
 * records (100-byte values, keyed per client) through funneld (libfunnel fnl_txn_*) or as
 * librdkafka transactional producers (one transactional.id each), side by side on one broker.
 *
 *   fnl-txn-bench -m funnel|rdkafka -t TOPIC [-b BOOTSTRAP] [-s SOCKET] [-c CLIENTS]
 *                 [-n RECORDS] [-T TXNS] [-x TXN_ID_PREFIX] [-L LINGER_MS (librdkafka, 5)]
 *
 * Prints one line: mode, clients, records per transaction, committed records/s over the
 * whole run (first begin to last commit), commit latency p50/p99 (the commit call: for
 * funnel, sending the transaction and waiting for its window; for librdkafka, flushing the
 * records and EndTxn), and begin -> committed p50/p99, in ms.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "funnel.h"

static const char *mode = "funnel", *topic, *boot = "", *prefix = "bench-txn", *linger = "5";
static int clients = 8, nrec = 100, ntxn = 200;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct sample {
	int64_t commit_us, txn_us;
};

static struct sample *samples; /* shared: clients * ntxn */
static int64_t *bounds;        /* shared: per client first begin, last commit */

static void die(const char *what)
{
	fprintf(stderr, "fnl-txn-bench: %s\n", what);
	exit(1);
}

static void value(char *v, int c, int k, int i)
{
	int n = snprintf(v, 101, "c%d-t%d-r%d-", c, k, i);
	memset(v + n, 'x', (size_t)(100 - n));
	v[100] = 0;
}

static void run_funnel(int ci)
{
	struct fnl_conf conf;
	fnl_client_t *c;
	fnl_topic_t *t;
	char key[16], v[101];
	fnl_conf_init(&conf);
	conf.ring_bytes = 8u << 20;
	if (fnl_open(&conf, &c) < 0 || fnl_topic(c, topic, &t) < 0 || fnl_txn_init(c, 30000) < 0)
		die(fnl_txn_error(c));
	int kl = snprintf(key, sizeof(key), "c%d", ci);
	for (int k = 0; k < ntxn; k++) {
		int64_t t0 = now_us();
		if (k == 0)
			bounds[2 * ci] = t0;
		if (fnl_txn_begin(c) < 0)
			die(fnl_txn_error(c));
		for (int i = 0; i < nrec; i++) {
			value(v, ci, k, i);
			if (fnl_produce(c, t, -1, key, (size_t)kl, v, 100, NULL, 0, 0, 0) < 0)
				die("produce");
		}
		int64_t t1 = now_us();
		if (fnl_txn_commit(c, 30000) < 0)
			die(fnl_txn_error(c));
		int64_t t2 = now_us();
		samples[ci * ntxn + k] = (struct sample){t2 - t1, t2 - t0};
		bounds[2 * ci + 1] = t2;
	}
	fnl_close(c);
}

static void run_rdkafka(int ci)
{
	char err[512], id[128], key[16], v[101];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	snprintf(id, sizeof(id), "%s-%d", prefix, ci);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", boot, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "transactional.id", id, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "linger.ms", linger, err, sizeof(err)))
		die(err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk)
		die(err);
	rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 30000);
	if (e)
		die(rd_kafka_error_string(e));
	int kl = snprintf(key, sizeof(key), "c%d", ci);
	for (int k = 0; k < ntxn; k++) {
		int64_t t0 = now_us();
		if (k == 0)
			bounds[2 * ci] = t0;
		if ((e = rd_kafka_begin_transaction(rk)))
			die(rd_kafka_error_string(e));
		for (int i = 0; i < nrec; i++) {
			value(v, ci, k, i);
			while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, kl),
			                         RD_KAFKA_V_VALUE(v, 100),
			                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 1);
		}
		int64_t t1 = now_us();
		if ((e = rd_kafka_commit_transaction(rk, 30000)))
			die(rd_kafka_error_string(e));
		int64_t t2 = now_us();
		samples[ci * ntxn + k] = (struct sample){t2 - t1, t2 - t0};
		bounds[2 * ci + 1] = t2;
	}
	rd_kafka_destroy(rk);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(int64_t *v, size_t n, double p)
{
	return (double)v[(size_t)((double)(n - 1) * p)] / 1000.0;
}

int main(int argc, char **argv)
{
	int o;
	while ((o = getopt(argc, argv, "m:t:b:s:c:n:T:x:L:")) != -1) {
		switch (o) {
		case 'm': mode = optarg; break;
		case 't': topic = optarg; break;
		case 'b': boot = optarg; break;
		case 's': setenv("FUNNEL_SOCKET", optarg, 1); break;
		case 'c': clients = atoi(optarg); break;
		case 'n': nrec = atoi(optarg); break;
		case 'T': ntxn = atoi(optarg); break;
		case 'x': prefix = optarg; break;
		case 'L': linger = optarg; break;
		default: return 2;
		}
	}
	bool rdk = strcmp(mode, "rdkafka") == 0;
	if (!topic || clients < 1 || nrec < 1 || ntxn < 1 || (rdk && !boot[0]))
		return 2;
	size_t n = (size_t)clients * (size_t)ntxn;
	samples = mmap(NULL, n * sizeof(*samples) + 2 * (size_t)clients * sizeof(int64_t),
	               PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (samples == MAP_FAILED)
		die("mmap");
	bounds = (int64_t *)(samples + n);
	for (int ci = 0; ci < clients; ci++) {
		pid_t p = fork();
		if (p == 0) {
			rdk ? run_rdkafka(ci) : run_funnel(ci);
			_exit(0);
		}
	}
	int failed = 0, st;
	while (wait(&st) > 0)
		failed |= !WIFEXITED(st) || WEXITSTATUS(st);
	if (failed)
		die("a client failed");
	int64_t *cu = malloc(n * sizeof(int64_t)), *tu = malloc(n * sizeof(int64_t));
	int64_t first = INT64_MAX, last = 0;
	for (size_t i = 0; i < n; i++)
		cu[i] = samples[i].commit_us, tu[i] = samples[i].txn_us;
	for (int ci = 0; ci < clients; ci++) {
		first = bounds[2 * ci] < first ? bounds[2 * ci] : first;
		last = bounds[2 * ci + 1] > last ? bounds[2 * ci + 1] : last;
	}
	qsort(cu, n, sizeof(int64_t), cmp64);
	qsort(tu, n, sizeof(int64_t), cmp64);
	printf("%-8s clients=%d records/txn=%d txns=%zu committed_rec_s=%.0f commit_ms_p50=%.2f "
	       "p99=%.2f txn_ms_p50=%.2f p99=%.2f\n",
	       mode, clients, nrec, n, (double)n * nrec / ((double)(last - first) / 1e6),
	       pct(cu, n, 0.5), pct(cu, n, 0.99), pct(tu, n, 0.5), pct(tu, n, 0.99));
	return 0;
}
