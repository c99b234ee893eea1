/* funnel-cat - produce stdin lines to a topic through funneld.
 *
 *   funnel-cat [-s SOCKET] -t TOPIC [-p PARTITION] [-K DELIM] [-H name=value]...
 *              [-T timestamp_ms] [-m max_block_ms]
 *
 * One record per line (newline stripped; empty lines produce empty values).
 * With -K the key is the text before the first DELIM and the value the rest; a
 * line without DELIM has a null key. Waits for every delivery report, prints
 * failures to stderr, exits 0 when all were delivered, 1 when any failed, 2 on
 * usage or connection errors. -m bounds every wait (attaching while funneld is
 * away, a topic lookup, a full ring), as max.block.ms does; default 60000.
 */
#include "funnel.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADERS_MAX 64

struct cat_state {
	uint64_t delivered, failed;
};

static void usage(void)
{
	fprintf(stderr, "usage: funnel-cat [-s SOCKET] -t TOPIC [-p PARTITION] [-K DELIM]\n"
	                "                  [-H name=value]... [-T timestamp_ms] [-m max_block_ms]\n"
	                "reads stdin, one record per line, and produces to TOPIC via funneld\n");
	exit(2);
}

static void on_report(const struct fnl_report *r, void *ctx)
{
	struct cat_state *st = ctx;

	if (r->err == 0) {
		st->delivered++;
		return;
	}
	st->failed++;
	fprintf(stderr, "funnel-cat: line %" PRIu64 " to %s [%" PRId32 "] failed: %s (%d)\n",
	        r->opaque, r->topic, r->partition, fnl_kafka_err_name(r->err), r->err);
}

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

static int add_header(struct fnl_header *hs, int *nh, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || *nh >= HEADERS_MAX)
		return -1;
	*eq = '\0';
	hs[*nh].name = arg;
	hs[*nh].value = eq + 1;
	hs[*nh].value_len = (int32_t)strlen(eq + 1);
	(*nh)++;
	return 0;
}

static int produce_line(fnl_client_t *c, fnl_topic_t *t, int32_t part, const char *delim,
                        char *line, size_t len, const struct fnl_header *hs, int nh, int64_t ts,
                        uint64_t lineno)
{
	const char *key = NULL, *value = line;
	size_t key_len = 0, value_len = len;

	if (delim) {
		char *d = memmem(line, len, delim, strlen(delim));

		if (d) {
			key = line;
			key_len = (size_t)(d - line);
			value = d + strlen(delim);
			value_len = len - key_len - strlen(delim);
		}
	}
	return fnl_produce(c, t, part, key, key_len, value, value_len, hs, nh, ts, lineno);
}

int main(int argc, char **argv)
{
	struct fnl_header hs[HEADERS_MAX];
	struct cat_state st = {0};
	struct fnl_conf conf;
	const char *topic = NULL, *delim = NULL;
	int64_t part = -1, ts = 0, block_ms;
	fnl_client_t *c;
	fnl_topic_t *t;
	uint64_t lineno = 0, produce_failed = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int opt, nh = 0, rc;

	fnl_conf_init(&conf);
	while ((opt = getopt(argc, argv, "s:t:p:K:H:T:m:h")) != -1) {
		switch (opt) {
		case 's':
			conf.socket_path = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'p':
			if (!parse_i64(optarg, &part) || part < -1 || part > INT32_MAX)
				usage();
			break;
		case 'K':
			if (!*optarg)
				usage();
			delim = optarg;
			break;
		case 'H':
			if (add_header(hs, &nh, optarg) < 0)
				usage();
			break;
		case 'T':
			if (!parse_i64(optarg, &ts) || ts < 0)
				usage();
			break;
		case 'm':
			if (!parse_i64(optarg, &block_ms) || block_ms < 0 || block_ms > INT32_MAX)
				usage();
			conf.max_block_ms = (int)block_ms;
			break;
		default:
			usage();
		}
	}
	if (!topic || optind != argc)
		usage();
	conf.on_report = on_report;
	conf.ctx = &st;
	rc = fnl_open(&conf, &c);
	if (rc < 0) {
		fprintf(stderr, "funnel-cat: cannot attach to funneld at %s: %s%s%s\n",
		        conf.socket_path ? conf.socket_path
		                         : (getenv("FUNNEL_SOCKET") ? getenv("FUNNEL_SOCKET")
		                                                    : "/run/funnel/funnel.sock"),
		        fnl_strerror(rc), *fnl_last_error() ? ": " : "", fnl_last_error());
		return 2;
	}
	rc = fnl_topic(c, topic, &t);
	if (rc < 0) {
		/* the daemon's reason names the topic and the Kafka error */
		if (*fnl_last_error())
			fprintf(stderr, "funnel-cat: %s\n", fnl_last_error());
		else
			fprintf(stderr, "funnel-cat: topic %s: %s\n", topic, fnl_strerror(rc));
		fnl_close(c);
		return 2;
	}
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		rc = produce_line(c, t, (int32_t)part, delim, line, (size_t)n, hs, nh, ts, lineno);
		if (rc == -EPIPE) {
			fprintf(stderr, "funnel-cat: funneld went away at line %" PRIu64 "\n",
			        lineno);
			produce_failed++;
			break;
		}
		if (rc < 0) {
			fprintf(stderr, "funnel-cat: line %" PRIu64 ": %s\n", lineno,
			        fnl_strerror(rc));
			produce_failed++;
		}
		fnl_poll(c, 0);
	}
	free(line);
	rc = fnl_flush(c, -1);
	if (rc < 0) {
		fprintf(stderr, "funnel-cat: %" PRId64 " records without a report: %s\n",
		        fnl_outq_len(c), fnl_strerror(rc));
		produce_failed += (uint64_t)fnl_outq_len(c);
	}
	fnl_close(c);
	return (st.failed || produce_failed) ? 1 : 0;
}
