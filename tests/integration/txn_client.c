/* txn_client.c - fnl-txn-client: a libfunnel client running transactions through funneld
 * (include/funnel.h fnl_txn_*), for tests/integration/txn_e2e.sh.
 *
 *   fnl-txn-client -t TOPIC -x NAME -p PLAN [-r RECORDS] [-g GROUP -P PARTS] [-T TIMEOUT_MS]
 *                  [-w GO_FILE] [-k]
 *
 * Socket: $FUNNEL_SOCKET. Transaction k (0-based, one per PLAN letter) produces RECORDS
 * records with key NAME (so all of a client's records go to one partition, in order) and
 * values "NAME:k-KIND-i"; with -g it also sends offsets for GROUP: offset 10*(k+1)+p on
 * partitions 0..PARTS-1 of TOPIC. PLAN letters:
 *   C  commit (a RETRIABLE answer calls commit again; ABORTABLE aborts and sends the same
 *      transaction again, up to 20 times)
 *   A  abort
 *   H  hold: produce, print "holding k", then wait forever (to be killed)
 *   W  produce, print "waiting k", wait until GO_FILE exists, then commit as C
 *   F  commit and expect FATAL (fenced): exit 0 when it is, 1 otherwise
 *   X  send offsets with generation 7 and member "nobody" (a group that has no such
 *      member), commit and expect ABORTABLE (funneld's window is aborted on Kafka), abort
 *   Y  as X, after waiting for GO_FILE as W does
 *   S  commit with a 1 s timeout that ends before the answer (prints "stalled k"; exit 1 if
 *      it was answered in time), read nothing until GO_FILE exists, then commit as C, which
 *      reads the answer that waited
 * Prints "committed k" / "aborted k" / "retry k CLASS MSG", and for every delivery report
 * (conf.on_report) "report VALUE PARTITION OFFSET ERR" (and checks that fnl_txn_begin() is
 * refused from inside it). Exit 0 when the plan ran.
 * -k: print the class and message of a failed fnl_txn_init and exit 3 (config checks).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "funnel.h"

static const char *topic_name, *name, *group, *go_file;
static int nrec = 5, nparts = 1, timeout_ms = 20000;
static fnl_client_t *c;
static fnl_topic_t *topic;
/* by opaque % nvals: the value of each record produced; nvals >= RECORDS, so the one
 * transaction whose reports are pending never wraps */
static char (*values)[256];
static uint64_t nvals;
static uint64_t nvalues;

static void on_report(const struct fnl_report *r, void *ctx)
{
	(void)ctx;
	/* the transaction being reported has not ended yet: no next one from here */
	if (fnl_txn_begin(c) != -EINVAL || fnl_txn_error_class(c) != FNL_TXN_ERR_USAGE) {
		fprintf(stderr,
		        "fnl-txn-client %s: fnl_txn_begin inside on_report was not refused\n",
		        name);
		exit(1);
	}
	printf("report %s %d %lld %d\n", values[r->opaque % nvals], r->partition,
	       (long long)r->offset, r->err);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "fnl-txn-client %s: %s: %s (class %d: %s)\n", name, what, fnl_strerror(rc),
	        fnl_txn_error_class(c), fnl_txn_error(c));
	exit(1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void fill(int k, char kind)
{
	int rc = fnl_txn_begin(c);
	if (rc < 0)
		die("begin", rc);
	char v[256];
	for (int i = 0; i < nrec; i++) {
		int vl = snprintf(v, sizeof(v), "%s:%d-%c-%d", name, k, kind, i);
		uint64_t op = ++nvalues;
		snprintf(values[op % nvals], sizeof(values[0]), "%s", v);
		rc = fnl_produce(c, topic, -1, name, strlen(name), v, (size_t)vl, NULL, 0, 0, op);
		if (rc < 0)
			die("produce", rc);
	}
	if (group && (kind == 'X' || kind == 'Y')) {
		struct fnl_txn_offset o = {topic_name, 0, 5, NULL};
		rc = fnl_txn_send_offsets(c, group, 7, "nobody", NULL, &o, 1);
		if (rc < 0)
			die("send_offsets", rc);
	} else if (group) {
		struct fnl_txn_offset offs[64];
		for (int p = 0; p < nparts && p < 64; p++)
			offs[p] = (struct fnl_txn_offset){topic_name, p, 10 * (k + 1) + p, NULL};
		rc = fnl_txn_send_offsets(c, group, -1, "", NULL, offs, nparts);
		if (rc < 0)
			die("send_offsets", rc);
	}
}

/* Commits transaction k; 0, or the FATAL class's rc. */
static int commit(int k, char kind)
{
	for (int tries = 0; tries < 20; tries++) {
		int rc = fnl_txn_commit(c, timeout_ms);
		if (rc == 0) {
			printf("committed %d\n", k);
			return 0;
		}
		int cls = fnl_txn_error_class(c);
		printf("retry %d %d %s\n", k, cls, fnl_txn_error(c));
		if (cls == FNL_TXN_ERR_RETRIABLE)
			continue;
		if (cls == FNL_TXN_ERR_FATAL)
			return rc;
		if (cls != FNL_TXN_ERR_ABORTABLE)
			die("commit", rc);
		if ((rc = fnl_txn_abort(c, timeout_ms)) < 0)
			die("abort after an abortable commit", rc);
		sleep_ms(200);
		fill(k, kind); /* the same transaction again */
	}
	die("commit (20 tries)", -ETIMEDOUT);
	return -1;
}

int main(int argc, char **argv)
{
	const char *plan = NULL;
	int opt, check_init = 0;
	while ((opt = getopt(argc, argv, "t:x:p:r:g:P:T:w:k")) != -1) {
		switch (opt) {
		case 't':
			topic_name = optarg;
			break;
		case 'x':
			name = optarg;
			break;
		case 'p':
			plan = optarg;
			break;
		case 'r':
			nrec = atoi(optarg);
			break;
		case 'g':
			group = optarg;
			break;
		case 'P':
			nparts = atoi(optarg);
			break;
		case 'T':
			timeout_ms = atoi(optarg);
			break;
		case 'w':
			go_file = optarg;
			break;
		case 'k':
			check_init = 1;
			break;
		default:
			return 2;
		}
	}
	if (!topic_name || !name || !plan)
		return 2;
	nvals = nrec > 4096 ? (uint64_t)nrec : 4096;
	values = calloc(nvals, sizeof(*values));
	if (!values)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct fnl_conf conf;
	fnl_conf_init(&conf);
	conf.max_block_ms = 30000;
	conf.on_report = on_report;
	int rc = fnl_open(&conf, &c);
	if (rc < 0)
		die("open", rc);
	rc = fnl_topic(c, topic_name, &topic);
	if (rc < 0)
		die("topic", rc);
	rc = fnl_txn_init(c, timeout_ms);
	if (rc < 0 && check_init) {
		printf("init failed class %d: %s\n", fnl_txn_error_class(c), fnl_txn_error(c));
		return 3;
	}
	if (rc < 0)
		die("init", rc);
	printf("initialized\n");
	for (int k = 0; plan[k]; k++) {
		char kind = plan[k];
		fill(k, kind);
		switch (kind) {
		case 'C':
			commit(k, kind) == 0 ? (void)0 : die("commit", -EPERM);
			break;
		case 'A':
			if ((rc = fnl_txn_abort(c, timeout_ms)) < 0)
				die("abort", rc);
			printf("aborted %d\n", k);
			break;
		case 'H':
			printf("holding %d\n", k);
			for (;;)
				pause();
		case 'W':
			printf("waiting %d\n", k);
			while (access(go_file, F_OK) != 0)
				sleep_ms(20);
			commit(k, kind) == 0 ? (void)0 : die("commit", -EPERM);
			break;
		case 'S':
			rc = fnl_txn_commit(c, 1000);
			if (rc == 0 || fnl_txn_error_class(c) != FNL_TXN_ERR_RETRIABLE) {
				fprintf(stderr,
				        "fnl-txn-client %s: the commit did not time out: %s\n",
				        name, rc == 0 ? "committed" : fnl_txn_error(c));
				return 1;
			}
			printf("stalled %d\n", k);
			while (access(go_file, F_OK) != 0)
				sleep_ms(20);
			commit(k, kind) == 0 ? (void)0 : die("commit", -EPERM);
			break;
		case 'Y':
			printf("waiting %d\n", k);
			while (access(go_file, F_OK) != 0)
				sleep_ms(20);
			/* fall through */
		case 'X':
			rc = fnl_txn_commit(c, timeout_ms);
			if (rc == 0 || fnl_txn_error_class(c) != FNL_TXN_ERR_ABORTABLE) {
				fprintf(stderr,
				        "fnl-txn-client %s: expected an abortable commit: %s\n",
				        name, fnl_txn_error(c));
				return 1;
			}
			printf("abortable %d %s\n", k, fnl_txn_error(c));
			if ((rc = fnl_txn_abort(c, timeout_ms)) < 0)
				die("abort", rc);
			break;
		case 'F':
			rc = commit(k, kind);
			if (rc == 0 || fnl_txn_error_class(c) != FNL_TXN_ERR_FATAL) {
				fprintf(stderr, "fnl-txn-client %s: expected a fatal commit\n",
				        name);
				return 1;
			}
			printf("fatal %d %s\n", k, fnl_txn_error(c));
			/* the dead transaction refuses records, loudly (never buffered) */
			rc = fnl_produce(c, topic, -1, name, strlen(name), "late", 4, NULL, 0, 0, 0);
			if (rc != -EPERM || !strstr(fnl_last_error(), "fatal error")) {
				fprintf(stderr, "fnl-txn-client %s: produce after a fatal commit: %d %s\n",
				        name, rc, fnl_last_error());
				return 1;
			}
			fnl_close(c);
			return 0;
		default:
			return 2;
		}
	}
	rc = fnl_flush(c, 10000);
	fnl_close(c);
	printf("done\n");
	return rc < 0 ? 1 : 0;
}
