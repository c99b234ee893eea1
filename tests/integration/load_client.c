/* load_client.c - fnl-load: a libfunnel client for integration tests and the
 * demo. Produces records "c=<client> s=<seq> <padding>" and writes the
 * expectation lines that tests/harness/verify.py checks against what an
 * independent consumer read back. The expected partition of a keyed record
 * comes from librdkafka's murmur2 partitioner (an independent
 * Java-compatible reference), not from funnel's own code.
 *
 *   fnl-load -s SOCKET -t TOPIC -c NAME -n RECORDS [-k KEYS] [-H name=value]
 *            [-p PARTITION] [-S VALUE_BYTES] [-e EXPECT_FILE] [-P NPARTS]
 *            [-r RECORDS_PER_S] [-R RING_BYTES] [-B] [-L PROGRESS_FILE] [-Q NPARTS] [-q]
 *
 *   -B  non-blocking: a full ring returns -EAGAIN, which is counted and retried
 *       (the test of backpressure reads "eagain=N" from stderr)
 *   -L  after every 1,000 records, the count appended so far is written to the
 *       file (a test that SIGKILLs the client knows a lower bound of what was
 *       appended); "appended=N" is written there once all records are in
 *  -Q  exit 1 before producing unless fnl_topic_partitions() says NPARTS (the count
 *      funneld tells its clients)
 *
 * Exit 0 when every record got a successful delivery report; 1 otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "funnel.h"

struct opts {
	const char *socket, *topic, *name, *expect;
	long n, keys, value_bytes, rate;
	int partition, nparts, want_nparts;
	const char *hname, *hvalue;
	bool quiet, nonblock;
	long ring_bytes;
	const char *progress;
};

static long eagain;

static void progress(const struct opts *o, long n, bool done)
{
	if (!o->progress)
		return;
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", o->progress);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s=%ld\n", done ? "appended" : "appending", n);
	fclose(f);
	rename(tmp, o->progress); /* readers see a whole line */
}

static long delivered, failed;
static int16_t first_err;

static void on_report(const struct fnl_report *r, void *ctx)
{
	(void)ctx;
	if (r->err) {
		if (!failed)
			first_err = r->err;
		failed++;
	} else {
		delivered++;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->partition = -1;
	o->value_bytes = 100;
	o->name = "0";
	int c;
	while ((c = getopt(argc, argv, "s:t:c:n:k:H:p:S:e:P:r:qR:BL:Q:")) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 't': o->topic = optarg; break;
		case 'c': o->name = optarg; break;
		case 'n': o->n = atol(optarg); break;
		case 'k': o->keys = atol(optarg); break;
		case 'p': o->partition = atoi(optarg); break;
		case 'S': o->value_bytes = atol(optarg); break;
		case 'e': o->expect = optarg; break;
		case 'P': o->nparts = atoi(optarg); break;
		case 'r': o->rate = atol(optarg); break;
		case 'q': o->quiet = true; break;
		case 'R': o->ring_bytes = atol(optarg); break;
		case 'B': o->nonblock = true; break;
		case 'L': o->progress = optarg; break;
		case 'Q': o->want_nparts = atoi(optarg); break;
		case 'H': {
			char *eq = strchr(optarg, '=');
			if (!eq)
				return -1;
			*eq = '\0';
			o->hname = optarg;
			o->hvalue = eq + 1;
			break;
		}
		default:
			return -1;
		}
	}
	if (!o->topic || o->n <= 0 || (o->keys && !o->nparts && o->expect))
		return -1;
	return 0;
}

/* librdkafka's Java-compatible murmur2 partitioner, as the reference. */
static int32_t ref_partition(const char *key, size_t len, int32_t nparts)
{
	return rd_kafka_msg_partitioner_murmur2(NULL, key, len, nparts, NULL, NULL);
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, &o) < 0) {
		/* see the comment at the top for -R -B -L */
		fprintf(stderr, "usage: fnl-load -s SOCKET -t TOPIC -n RECORDS [-c NAME] [-k KEYS -P "
				"NPARTS] [-H name=value] [-p PARTITION] [-S BYTES] [-e EXPECT] "
				"[-r RATE] [-q]\n");
		return 2;
	}
	struct fnl_conf conf;
	fnl_conf_init(&conf);
	if (o.socket)
		conf.socket_path = o.socket;
	conf.on_report = on_report;
	if (o.ring_bytes)
		conf.ring_bytes = (size_t)o.ring_bytes;
	if (o.nonblock)
		conf.max_block_ms = 0;
	fnl_client_t *cl;
	int rc = fnl_open(&conf, &cl);
	if (rc < 0) {
		fprintf(stderr, "fnl-load: cannot attach to funneld: %s%s%s\n", fnl_strerror(rc),
			*fnl_last_error() ? ": " : "", fnl_last_error());
		return 2;
	}
	fnl_topic_t *t;
	rc = fnl_topic(cl, o.topic, &t);
	if (rc < 0) {
		fprintf(stderr, "fnl-load: topic %s: %s%s%s\n", o.topic, fnl_strerror(rc),
			*fnl_last_error() ? ": " : "", fnl_last_error());
		fnl_close(cl);
		return 2;
	}
	if (o.want_nparts && fnl_topic_partitions(t) != o.want_nparts) {
		fprintf(stderr, "fnl-load: topic %s: fnl_topic_partitions says %d, want %d\n",
			o.topic, fnl_topic_partitions(t), o.want_nparts);
		fnl_close(cl);
		return 1;
	}
	FILE *ex = o.expect ? fopen(o.expect, "w") : NULL;
	char *value = malloc((size_t)o.value_bytes + 64);
	struct fnl_header h = {.name = o.hname, .value = o.hvalue,
			       .value_len = o.hvalue ? (int32_t)strlen(o.hvalue) : -1};
	int64_t t0 = now_ms();
	for (long s = 0; s < o.n; s++) {
		int vl = snprintf(value, 64, "c=%s s=%ld ", o.name, s);
		for (long i = vl; i < o.value_bytes; i++)
			value[i] = (char)('a' + (i * 7 + s) % 26);
		if (o.value_bytes > vl)
			vl = (int)o.value_bytes;
		char key[32];
		int kl = o.keys ? snprintf(key, sizeof(key), "key-%ld", s % o.keys) : 0;
		int64_t ts = t0 + s / 1000;
		for (;;) {
			rc = fnl_produce(cl, t, o.partition, o.keys ? key : NULL, (size_t)kl, value,
					 (size_t)vl, o.hname ? &h : NULL, o.hname ? 1 : 0, ts,
					 (uint64_t)s);
			if (rc != -EAGAIN)
				break;
			eagain++;
			fnl_poll(cl, 1);
		}
		if (rc < 0) {
			fprintf(stderr, "fnl-load: produce failed at s=%ld: %s\n", s, fnl_strerror(rc));
			return 1;
		}
		if (ex) {
			char part[16] = "*";
			if (o.partition >= 0)
				snprintf(part, sizeof(part), "%d", o.partition);
			else if (o.keys)
				snprintf(part, sizeof(part), "%d",
					 ref_partition(key, (size_t)kl, o.nparts));
			char hdr[256] = "";
			if (o.hname)
				snprintf(hdr, sizeof(hdr), "%s=%s", o.hname, o.hvalue);
			fprintf(ex, "%s\t%ld\t%s\t%s\t%s\t%s\t%lld\n", o.name, s, o.topic, part,
				o.keys ? key : "\\N", o.hname ? hdr : "", (long long)ts);
		}
		if ((s & 1023) == 0)
			fnl_poll(cl, 0);
		if (s % 1000 == 999)
			progress(&o, s + 1, false);
		if (o.rate) {
			int64_t due = t0 + s * 1000 / o.rate;
			while (now_ms() < due)
				fnl_poll(cl, 1);
		}
	}
	if (ex)
		fclose(ex);
	progress(&o, o.n, true);
	rc = fnl_flush(cl, 120000);
	fnl_poll(cl, 0);
	if (!o.quiet || rc < 0 || failed)
		fprintf(stderr,
			"fnl-load %s: produced=%ld delivered=%ld failed=%ld eagain=%ld%s%s flush=%s\n",
			o.name, o.n, delivered, failed, eagain, failed ? " first_error=" : "",
			failed ? fnl_kafka_err_name(first_err) : "", rc < 0 ? fnl_strerror(rc) : "ok");
	fnl_close(cl);
	free(value);
	return rc == 0 && failed == 0 && delivered == o.n ? 0 : 1;
}
