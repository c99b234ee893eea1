/* txn_driver.c - fnl-txn-driver: whole Kafka transactions over blocking sockets, with the
 * transaction codec (dataplane/kafka/txn_proto.h) and the transaction state machine
 * (dataplane/producer/txn.h), against a real broker. Not funneld: a test of the codec and of
 * the state machine against a real peer.
 *
 *   fnl-txn-driver -b BOOTSTRAP -t TOPIC -n PARTITIONS -x TXN_ID -p PLAN [-r RECORDS]
 *                  [-g GROUP] [-T TXN_TIMEOUT_MS] [-D DEADLINE_MS] [-V API=MAXVER]...
 *                  [-w MS] [-s CMD]
 *
 * PLAN is a string of C (commit), A (abort) and W (begin, produce, then wait -w ms, past the
 * local deadline -D (W transactions only; the others use -T, the transaction.timeout.ms sent
 * to the broker), and let the machine abort it) and G (a batch with a sequence gap on
 * partition 0: the broker's OUT_OF_ORDER_SEQUENCE_NUMBER makes the transaction abortable with
 * a KIP-360 epoch bump: abort, then InitProducerId with the current producer id and epoch).
 * With -s, CMD runs (system(3), FNL_TXN_INDEX in its environment) after a C or A transaction's
 * records and offsets went out and before its EndTxn, to look at what is visible while it is
 * open; a failing CMD fails the driver. Transaction k (0-based) writes RECORDS records to
 * every partition, values "<txn id>:<k>-<C|A|W>-<partition>-<i>", keys "k<k>". With -g,
 * committed and aborted transactions also send offsets for GROUP (offset 10*(k+1) + partition
 * on every partition of TOPIC), through AddOffsetsToTxn, FindCoordinator(group) and
 * TxnOffsetCommit with KIP-447 group metadata (generation -1, member "", no instance).
 *
 * Flow: ApiVersions, Metadata, then what the state machine asks for: FindCoordinator(txn),
 * InitProducerId(txn id), and per transaction AddPartitionsToTxn, Produce (transactional
 * batches, sequences continued per partition), [AddOffsetsToTxn, FindCoordinator(group),
 * TxnOffsetCommit], EndTxn. Every request is printed on stdout as "-> Api vN" and every
 * answer's error as "<- Api err NAME", so tests can check the protocol order.
 *
 * Versions: the highest both sides speak, capped by -V api=max (names: produce,
 * findcoordinator, initproducerid, addpartitionstotxn, addoffsetstotxn, endtxn,
 * txnoffsetcommit). By default Produce <= 11, EndTxn <= 4 and TxnOffsetCommit <= 4: the
 * transaction protocol of KIP-98 (TV1), which is what the Java client speaks unless the
 * cluster has finalized transaction.version 2 (KIP-890 part 2: Produce 12, EndTxn 5 answering
 * a bumped epoch per transaction, TxnOffsetCommit 5, no AddPartitionsToTxn). -V raises them
 * (the driver still sends AddPartitionsToTxn; kfake accepts that mix). Exit 0 when the
 * plan ran as asked (W must end in the abortable error a commit then reports), 1 otherwise.
 * A committed transaction prints "   commit_us N txn_us M": microseconds from the commit call
 * to READY (EndTxn answered), and from begin to READY.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/kafka/proto.h"
#include "dataplane/kafka/recbatch.h"
#include "dataplane/kafka/txn_proto.h"
#include "dataplane/producer/errtab.h"
#include "dataplane/producer/txn.h"

#define MAX_NODES 16
#define MAX_PARTS 64
#define CLIENT    "fnl-txn-driver"

static void die(const char *what)
{
	fprintf(stderr, "fnl-txn-driver: %s\n", what);
	exit(1);
}

#define NEED(c)                                                                                    \
	do {                                                                                       \
		if (!(c))                                                                          \
			die("failed: " #c);                                                        \
	} while (0)

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- connections ---- */

struct node {
	int32_t id;
	char host[128];
	int32_t port;
	int fd;
};

static struct node nodes[MAX_NODES];
static int nnodes;
static int boot_fd = -1;
static int32_t corr = 1;
static uint8_t resp[1 << 20];

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die("getaddrinfo");
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	NEED(fd >= 0);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		die("connect");
	freeaddrinfo(ai);
	struct timeval tv = {30, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int one = 1; /* a request goes out in one piece; no Nagle wait behind a delayed ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int node_fd(int32_t id)
{
	for (int i = 0; i < nnodes; i++) {
		if (nodes[i].id != id)
			continue;
		if (nodes[i].fd < 0) {
			char port[16];
			snprintf(port, sizeof(port), "%d", nodes[i].port);
			nodes[i].fd = dial(nodes[i].host, port);
		}
		return nodes[i].fd;
	}
	die("broker id not in metadata");
	return -1;
}

static void io_all(int fd, void *p, size_t n, int wr)
{
	uint8_t *b = p;
	while (n) {
		ssize_t k = wr ? write(fd, b, n) : read(fd, b, n);
		if (k <= 0)
			die(wr ? "write" : "read (connection closed or 30 s timeout)");
		b += k;
		n -= (size_t)k;
	}
}

/* Sends one frame (iovecs), reads the answer, checks the header; returns the body. */
static const uint8_t *roundtrip_iov(int fd, struct iovec *iov, int niov, int16_t key, int16_t ver,
                                    size_t *body_len)
{
	int32_t want = (int32_t)fnl_get_be32((const uint8_t *)iov[0].iov_base + 8);
	static uint8_t frame[1 << 20];
	size_t len = 0;
	for (int i = 0; i < niov; i++) {
		NEED(len + iov[i].iov_len <= sizeof(frame));
		memcpy(frame + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	io_all(fd, frame, len, 1); /* one write per request */
	uint8_t sz[4];
	io_all(fd, sz, 4, 0);
	size_t n = fnl_get_be32(sz);
	NEED(n <= sizeof(resp));
	io_all(fd, resp, n, 0);
	int32_t got;
	int hl = fnl_dec_resp_header(resp, n, key, ver, &got);
	NEED(hl > 0);
	NEED(got == want);
	*body_len = n - (size_t)hl;
	return resp + hl;
}

static const uint8_t *roundtrip(int fd, void *frame, int len, int16_t key, int16_t ver, size_t *bl)
{
	NEED(len > 0);
	struct iovec iov = {frame, (size_t)len};
	return roundtrip_iov(fd, &iov, 1, key, ver, bl);
}

/* ---- versions ---- */

static struct fnl_api_range ranges[256];
static int nranges;

struct cap {
	const char *name;
	int16_t key, max;
};
static struct cap caps[] = {
    {"produce", FNL_API_PRODUCE, 11},
    {"findcoordinator", FNL_API_FIND_COORDINATOR, 99},
    {"initproducerid", FNL_API_INIT_PRODUCER_ID, 99},
    {"addpartitionstotxn", FNL_API_ADD_PARTITIONS_TO_TXN, 99},
    {"addoffsetstotxn", FNL_API_ADD_OFFSETS_TO_TXN, 99},
    {"endtxn", FNL_API_END_TXN, 4},
    {"txnoffsetcommit", FNL_API_TXN_OFFSET_COMMIT, 4},
};

static int16_t ver_of(int16_t key)
{
	int16_t v = fnl_api_pick(ranges, nranges, key);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (caps[i].key == key && v > caps[i].max)
			v = caps[i].max;
	if (v < 0) {
		fprintf(stderr, "fnl-txn-driver: no common version for api %d\n", key);
		exit(1);
	}
	return v;
}

/* ApiVersions v3 (for the finalized features), v0 where the broker does not speak v3 (the
 * mock answers v3 with UNSUPPORTED_VERSION). Prints the finalized transaction.version. */
static void api_versions(void)
{
	uint8_t buf[256];
	size_t bl;
	int16_t err, max, min;
	int n = fnl_enc_api_versions_req(buf, sizeof(buf), 3, corr++, CLIENT, NULL, NULL);
	const uint8_t *b = roundtrip(boot_fd, buf, n, FNL_API_API_VERSIONS, 3, &bl);
	int rc = fnl_dec_api_versions(b, bl, 3, ranges, 256, &nranges, &err);
	if (rc == 0 && err == 0) {
		rc = fnl_dec_api_versions_feature(b, bl, 3, FNL_FEATURE_TXN_VERSION, &max, &min);
		NEED(rc == 0 || rc == -ENOENT);
		if (rc == 0)
			printf("   finalized transaction.version %d (min %d)\n", max, min);
		else
			printf("   finalized transaction.version none\n");
		return;
	}
	n = fnl_enc_api_versions_req(buf, sizeof(buf), 0, corr++, CLIENT, NULL, NULL);
	b = roundtrip(boot_fd, buf, n, FNL_API_API_VERSIONS, 0, &bl);
	NEED(fnl_dec_api_versions(b, bl, 0, ranges, 256, &nranges, &err) == 0);
	NEED(err == 0);
	printf("   finalized transaction.version unknown (ApiVersions v0)\n");
}

/* ---- metadata ---- */

static int32_t leaders[MAX_PARTS];
static int nparts_seen;

static void md_broker(void *ctx, int32_t id, const char *host, int host_len, int32_t port)
{
	(void)ctx;
	NEED(nnodes < MAX_NODES && host_len < 127);
	struct node *nd = &nodes[nnodes++];
	nd->id = id;
	memcpy(nd->host, host, (size_t)host_len);
	nd->host[host_len] = 0;
	nd->port = port;
	nd->fd = -1;
}

static void md_part(void *ctx, int16_t err, int32_t p, int32_t leader, int32_t epoch)
{
	(void)ctx;
	(void)epoch;
	NEED(err == 0 && p >= 0 && p < MAX_PARTS);
	leaders[p] = leader;
	nparts_seen++;
}

static void metadata(const char *topic)
{
	uint8_t buf[512];
	size_t bl;
	int16_t v = fnl_api_pick(ranges, nranges, FNL_API_METADATA);
	int n = fnl_enc_metadata_req(buf, sizeof(buf), v, corr++, CLIENT, &topic, 1, false);
	const uint8_t *b = roundtrip(boot_fd, buf, n, FNL_API_METADATA, v, &bl);
	struct fnl_md_visitor vis = {NULL, md_broker, NULL, md_part, NULL, NULL};
	NEED(fnl_dec_metadata(b, bl, v, &vis) == 0);
}

/* ---- the transaction ---- */

static const char *topic, *txn_id, *group;
static int nparts, nrec = 5;
static int32_t txn_timeout_ms = 60000, deadline_ms = -1;
static const char *open_cmd;
static struct fnl_txn txn;
static int32_t txn_coord = -1, group_coord = -1;
static int32_t seq[MAX_PARTS];
static int txn_index;

static void trace_err(const char *api, int16_t err)
{
	printf("<- %s err %s\n", api, fnl_err_name(err));
	fflush(stdout);
}

struct coord_seen {
	int16_t err;
	int32_t node;
};

static void on_coord(void *ctx, const char *key, int key_len, int16_t err, int32_t node,
                     const char *host, int host_len, int32_t port)
{
	struct coord_seen *s = ctx;
	(void)key;
	(void)key_len;
	(void)host;
	(void)host_len;
	(void)port;
	s->err = err;
	s->node = node;
}

static void do_find_coord(enum fnl_txn_op op)
{
	bool is_txn = op == FNL_TXN_OP_FIND_TXN_COORD;
	uint8_t buf[512];
	size_t bl;
	int16_t v = ver_of(FNL_API_FIND_COORDINATOR);
	int n = fnl_enc_find_coordinator_req(buf, sizeof(buf), v, corr++, CLIENT,
	                                     is_txn ? txn_id : group,
	                                     is_txn ? FNL_COORD_TXN : FNL_COORD_GROUP);
	printf("-> FindCoordinator v%d %s\n", v, is_txn ? "txn" : "group");
	const uint8_t *b = roundtrip(boot_fd, buf, n, FNL_API_FIND_COORDINATOR, v, &bl);
	struct coord_seen s = {-1, -1};
	NEED(fnl_dec_find_coordinator(b, bl, v, on_coord, &s, NULL) == 0);
	trace_err("FindCoordinator", s.err);
	if (s.err == 0)
		*(is_txn ? &txn_coord : &group_coord) = s.node;
	fnl_txn_on_result(&txn, op, s.err, now_ms());
}

static void do_init_pid(void)
{
	uint8_t buf[512];
	size_t bl;
	int16_t v = ver_of(FNL_API_INIT_PRODUCER_ID), err, epoch;
	int64_t pid;
	/* v3+ carries the current producer for an epoch bump (KIP-360) */
	int n = fnl_enc_init_pid_req_txn(buf, sizeof(buf), v, corr++, CLIENT, txn_id,
	                                 txn_timeout_ms, txn.producer_id, txn.epoch);
	printf("-> InitProducerId v%d\n", v);
	const uint8_t *b = roundtrip(node_fd(txn_coord), buf, n, FNL_API_INIT_PRODUCER_ID, v, &bl);
	NEED(fnl_dec_init_pid(b, bl, v, &err, &pid, &epoch) == 0);
	trace_err("InitProducerId", err);
	if (err == 0) {
		printf("   producer id %lld epoch %d\n", (long long)pid, epoch);
		memset(seq, 0, sizeof(seq));
	}
	fnl_txn_on_init_pid(&txn, err, pid, epoch, now_ms());
}

struct parts_seen {
	enum fnl_txn_op op;
	int16_t worst;
	int n;
};

static void on_part(void *ctx, const char *t, int tl, int32_t p, int16_t err)
{
	struct parts_seen *s = ctx;
	(void)t;
	(void)tl;
	(void)p;
	s->worst = fnl_txn_worse(s->op, s->worst, err);
	s->n++;
}

static void do_add_partitions(void)
{
	static int32_t all[MAX_PARTS];
	uint8_t buf[1024];
	size_t bl;
	for (int p = 0; p < nparts; p++)
		all[p] = p;
	struct fnl_txn_topic_parts tp = {topic, all, nparts};
	int16_t v = ver_of(FNL_API_ADD_PARTITIONS_TO_TXN);
	int n = fnl_enc_add_partitions_req(buf, sizeof(buf), v, corr++, CLIENT, txn_id,
	                                   txn.producer_id, txn.epoch, &tp, 1);
	printf("-> AddPartitionsToTxn v%d\n", v);
	const uint8_t *b =
	    roundtrip(node_fd(txn_coord), buf, n, FNL_API_ADD_PARTITIONS_TO_TXN, v, &bl);
	struct parts_seen s = {FNL_TXN_OP_ADD_PARTITIONS, 0, 0};
	NEED(fnl_dec_add_partitions(b, bl, v, on_part, &s, NULL) == 0);
	NEED(s.n == nparts);
	trace_err("AddPartitionsToTxn", s.worst);
	fnl_txn_on_result(&txn, FNL_TXN_OP_ADD_PARTITIONS, s.worst, now_ms());
}

static void do_add_offsets(void)
{
	uint8_t buf[512];
	size_t bl;
	int16_t v = ver_of(FNL_API_ADD_OFFSETS_TO_TXN), err;
	int n = fnl_enc_add_offsets_req(buf, sizeof(buf), v, corr++, CLIENT, txn_id,
	                                txn.producer_id, txn.epoch, group);
	printf("-> AddOffsetsToTxn v%d\n", v);
	const uint8_t *b =
	    roundtrip(node_fd(txn_coord), buf, n, FNL_API_ADD_OFFSETS_TO_TXN, v, &bl);
	NEED(fnl_dec_add_offsets(b, bl, v, &err, NULL) == 0);
	trace_err("AddOffsetsToTxn", err);
	fnl_txn_on_result(&txn, FNL_TXN_OP_ADD_OFFSETS, err, now_ms());
}

static void do_offset_commit(void)
{
	static struct fnl_txn_offset offs[MAX_PARTS];
	uint8_t buf[4096];
	size_t bl;
	for (int p = 0; p < nparts; p++)
		offs[p] = (struct fnl_txn_offset){p, 10 * (txn_index + 1) + p, -1, NULL};
	struct fnl_txn_topic_offsets to = {topic, offs, nparts};
	struct fnl_txn_group g = {group, -1, "", NULL};
	int16_t v = ver_of(FNL_API_TXN_OFFSET_COMMIT);
	int n = fnl_enc_txn_offset_commit_req(buf, sizeof(buf), v, corr++, CLIENT, txn_id,
	                                      txn.producer_id, txn.epoch, &g, &to, 1);
	printf("-> TxnOffsetCommit v%d\n", v);
	const uint8_t *b =
	    roundtrip(node_fd(group_coord), buf, n, FNL_API_TXN_OFFSET_COMMIT, v, &bl);
	struct parts_seen s = {FNL_TXN_OP_TXN_OFFSET_COMMIT, 0, 0};
	NEED(fnl_dec_txn_offset_commit(b, bl, v, on_part, &s, NULL) == 0);
	NEED(s.n == nparts);
	trace_err("TxnOffsetCommit", s.worst);
	fnl_txn_on_result(&txn, FNL_TXN_OP_TXN_OFFSET_COMMIT, s.worst, now_ms());
}

static void do_end_txn(void)
{
	uint8_t buf[512];
	size_t bl;
	int16_t v = ver_of(FNL_API_END_TXN), err, epoch;
	int64_t pid;
	bool commit = txn.state == FNL_TXN_COMMITTING;
	int n = fnl_enc_end_txn_req(buf, sizeof(buf), v, corr++, CLIENT, txn_id, txn.producer_id,
	                            txn.epoch, commit);
	printf("-> EndTxn v%d %s\n", v, commit ? "commit" : "abort");
	const uint8_t *b = roundtrip(node_fd(txn_coord), buf, n, FNL_API_END_TXN, v, &bl);
	NEED(fnl_dec_end_txn(b, bl, v, &err, &pid, &epoch, NULL) == 0);
	trace_err("EndTxn", err);
	if (v >= 5)
		printf("   next producer id %lld epoch %d\n", (long long)pid, epoch);
	int16_t old_epoch = txn.epoch;
	fnl_txn_on_end_txn(&txn, err, pid, epoch, now_ms());
	if (txn.epoch != old_epoch)
		memset(seq, 0, sizeof(seq)); /* a new epoch starts its sequences at 0 */
}

/* Runs what the state machine asks for until it owes nothing. */
static void drive(void)
{
	for (;;) {
		int64_t wait;
		enum fnl_txn_op op = fnl_txn_next(&txn, now_ms(), true, &wait);
		switch (op) {
		case FNL_TXN_OP_NONE:
			if (wait < 0)
				return;
			sleep_ms(wait);
			break;
		case FNL_TXN_OP_FIND_TXN_COORD:
		case FNL_TXN_OP_FIND_GROUP_COORD:
			do_find_coord(op);
			break;
		case FNL_TXN_OP_INIT_PID:
			do_init_pid();
			break;
		case FNL_TXN_OP_ADD_PARTITIONS:
			do_add_partitions();
			break;
		case FNL_TXN_OP_ADD_OFFSETS:
			do_add_offsets();
			break;
		case FNL_TXN_OP_TXN_OFFSET_COMMIT:
			do_offset_commit();
			break;
		case FNL_TXN_OP_END_TXN:
			do_end_txn();
			break;
		default:
			die("unexpected op");
		}
	}
}

/* ---- produce ---- */

static int16_t produce_err;

static void on_presp(void *ctx, const char *t, int tl, int32_t p, int16_t err, int64_t base,
                     int64_t lat, int64_t lso)
{
	(void)ctx;
	(void)t;
	(void)tl;
	(void)p;
	(void)base;
	(void)lat;
	(void)lso;
	if (err)
		produce_err = err;
}

static void produce_partition(int32_t p, char kind, int32_t seq_skew)
{
	static uint8_t raw[1 << 19], batch[(1 << 19) + FNL_RB_HEADER_BYTES];
	uint8_t scratch[512];
	struct iovec iov[8];
	struct fnl_preq q;
	struct fnl_rbw w;
	char k[16], v[192];
	int64_t ts = 1700000000000LL + txn_index * 1000;

	fnl_rbw_init(&w, raw, sizeof(raw), ts);
	int kl = snprintf(k, sizeof(k), "k%d", txn_index);
	for (int i = 0; i < nrec; i++) {
		int vl = snprintf(v, sizeof(v), "%s:%d-%c-%d-%d", txn_id, txn_index, kind, p, i);
		NEED(fnl_rbw_append(&w, ts + i, k, kl, v, vl, NULL, 0) == 0);
	}
	memcpy(batch + FNL_RB_HEADER_BYTES, raw, w.len);
	struct fnl_rb_meta m = {.codec = FNL_CODEC_NONE,
	                        .producer_id = txn.producer_id,
	                        .producer_epoch = txn.epoch,
	                        .base_sequence = seq[p] + seq_skew,
	                        .record_count = w.count,
	                        .base_ts = w.base_ts,
	                        .max_ts = w.max_ts};
	fnl_rb_write_header(batch, w.len, &m);
	size_t len = FNL_RB_HEADER_BYTES + w.len;
	fnl_rb_set_transactional(batch, len);

	int16_t ver = ver_of(FNL_API_PRODUCE);
	NEED(fnl_preq_begin(&q, scratch, sizeof(scratch), iov, 8, ver, corr++, CLIENT, txn_id, -1,
	                    10000, 1) == 0);
	NEED(fnl_preq_topic(&q, topic, (int)strlen(topic), 1) == 0);
	NEED(fnl_preq_partition(&q, p, batch, (uint32_t)len) == 0);
	int niov = fnl_preq_end(&q);
	NEED(niov > 0);
	printf("-> Produce v%d partition %d seq %d\n", ver, p, seq[p] + seq_skew);
	size_t bl;
	const uint8_t *b = roundtrip_iov(node_fd(leaders[p]), iov, niov, FNL_API_PRODUCE, ver, &bl);
	produce_err = 0;
	NEED(fnl_dec_produce(b, bl, ver, on_presp, NULL, NULL) == 0);
	trace_err("Produce", produce_err);
	if (produce_err)
		fnl_txn_on_produce_error(&txn, produce_err);
	else
		seq[p] += nrec;
}

/* ---- plan ---- */

static void expect_state(enum fnl_txn_state s, const char *when)
{
	if (txn.state == s)
		return;
	char why[512];
	fnl_txn_describe(&txn, txn_id, why, sizeof(why));
	fprintf(stderr, "fnl-txn-driver: %s: state %s, want %s (last error %s in %s): %s\n", when,
	        fnl_txn_state_name(txn.state), fnl_txn_state_name(s), fnl_err_name(txn.last_err),
	        fnl_txn_op_name(txn.last_err_op), why);
	exit(1);
}

static void run_txn(char kind, int64_t wait_ms)
{
	printf("== transaction %d: %c\n", txn_index, kind);
	int64_t t0 = now_us();
	/* the local deadline -D applies to W transactions only, so that a slow -s command on
	 * a loaded machine cannot time out the others */
	txn.cfg.txn_timeout_ms = kind == 'W' && deadline_ms > 0 ? deadline_ms : txn_timeout_ms;
	NEED(fnl_txn_begin(&txn, now_ms()) == FNL_TXN_OK);
	NEED(fnl_txn_add_partitions(&txn) == FNL_TXN_OK);
	drive();
	expect_state(FNL_TXN_IN_TXN, "after AddPartitionsToTxn");
	if (kind == 'G') {
		/* a sequence gap: OUT_OF_ORDER_SEQUENCE_NUMBER, abortable with an epoch bump
		 * (KIP-360): abort, InitProducerId(pid, epoch), READY under the next epoch */
		int16_t epoch = txn.epoch;
		produce_partition(0, kind, 1000);
		expect_state(FNL_TXN_ABORTABLE_ERROR, "after a produce with a sequence gap");
		NEED(txn.need_bump);
		NEED(fnl_txn_commit(&txn) == FNL_TXN_ABORTABLE);
		NEED(fnl_txn_abort(&txn) == FNL_TXN_PENDING);
		drive();
		expect_state(FNL_TXN_READY, "after the abort and epoch bump");
		NEED(txn.epoch > epoch);
		printf("   epoch bumped %d -> %d\n", epoch, txn.epoch);
		txn_index++;
		return;
	}
	for (int p = 0; p < nparts; p++)
		produce_partition(p, kind, 0);
	expect_state(FNL_TXN_IN_TXN, "after Produce");
	if (group && kind != 'W') {
		NEED(fnl_txn_send_offsets(&txn) == FNL_TXN_PENDING);
		drive();
		expect_state(FNL_TXN_IN_TXN, "after sending offsets");
	}
	if (open_cmd && kind != 'W') {
		char idx[16];
		snprintf(idx, sizeof(idx), "%d", txn_index);
		setenv("FNL_TXN_INDEX", idx, 1);
		if (system(open_cmd) != 0)
			die("the -s command failed");
	}
	if (kind == 'C') {
		int64_t t1 = now_us();
		NEED(fnl_txn_commit(&txn) == FNL_TXN_PENDING);
		drive();
		expect_state(FNL_TXN_READY, "after commit");
		int64_t t2 = now_us();
		printf("   commit_us %lld txn_us %lld\n", (long long)(t2 - t1),
		       (long long)(t2 - t0));
	} else if (kind == 'A') {
		NEED(fnl_txn_abort(&txn) == FNL_TXN_PENDING);
		drive();
		expect_state(FNL_TXN_READY, "after abort");
	} else {
		/* past the deadline the machine aborts on its own; the commit then says abortable
		 * and the client's abort completes at once */
		sleep_ms(wait_ms);
		drive();
		expect_state(FNL_TXN_ABORTABLE_ERROR, "after the transaction deadline");
		NEED(txn.timed_out);
		NEED(fnl_txn_commit(&txn) == FNL_TXN_ABORTABLE);
		NEED(fnl_txn_abort(&txn) == FNL_TXN_OK);
		expect_state(FNL_TXN_READY, "after the client's abort");
		printf("   deadline abort: commit answered ABORTABLE, abort OK\n");
	}
	txn_index++;
}

static void usage(void)
{
	fprintf(stderr, "usage: fnl-txn-driver -b BOOTSTRAP -t TOPIC -n PARTITIONS -x TXN_ID -p "
	                "PLAN [-r RECORDS] [-g GROUP] [-T TXN_TIMEOUT_MS] [-D DEADLINE_MS] "
	                "[-V api=maxver] [-w WAIT_MS] [-s CMD]\n");
	exit(2);
}

static void cap_version(const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq)
		usage();
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (strlen(caps[i].name) == (size_t)(eq - arg) &&
		    strncmp(caps[i].name, arg, (size_t)(eq - arg)) == 0) {
			caps[i].max = (int16_t)atoi(eq + 1);
			return;
		}
	usage();
}

int main(int argc, char **argv)
{
	const char *boot = NULL, *plan = NULL;
	int64_t wait_ms = 0;
	int c;
	while ((c = getopt(argc, argv, "b:t:n:x:p:r:g:T:D:V:w:s:")) != -1) {
		switch (c) {
		case 'b':
			boot = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'n':
			nparts = atoi(optarg);
			break;
		case 'x':
			txn_id = optarg;
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
		case 'T':
			txn_timeout_ms = atoi(optarg);
			break;
		case 'V':
			cap_version(optarg);
			break;
		case 'w':
			wait_ms = atoll(optarg);
			break;
		case 'D':
			deadline_ms = atoi(optarg);
			break;
		case 's':
			open_cmd = optarg;
			break;
		default:
			usage();
		}
	}
	if (!boot || !topic || !txn_id || !plan || nparts <= 0 || nparts > MAX_PARTS || nrec <= 0 ||
	    strlen(txn_id) > 100)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	char host[256];
	snprintf(host, sizeof(host), "%s", boot);
	char *comma = strchr(host, ',');
	if (comma)
		*comma = 0;
	char *colon = strrchr(host, ':');
	if (!colon)
		usage();
	*colon = 0;
	boot_fd = dial(host, colon + 1);
	api_versions();
	metadata(topic);
	if (nparts_seen != nparts)
		die("the topic's partition count differs from -n");

	struct fnl_txn_cfg cfg = {deadline_ms > 0 ? deadline_ms : txn_timeout_ms, 100, 1000};
	fnl_txn_init(&txn, &cfg);
	NEED(fnl_txn_init_transactions(&txn) == FNL_TXN_PENDING);
	drive();
	expect_state(FNL_TXN_READY, "after InitProducerId");
	for (const char *k = plan; *k; k++) {
		if (!strchr("CAWG", *k))
			usage();
		run_txn(*k, wait_ms);
	}
	printf("== done: %d transaction(s)\n", txn_index);
	return 0;
}
