/* fnl-rawfetch - an independent Kafka Fetch client that prints one line per RecordBatch.
 *
 *   fnl-rawfetch -b BOOTSTRAP -t TOPIC [-p PARTITION]... [-o OFFSET] [-w TIMEOUT_MS]
 *   fnl-rawfetch -b BOOTSTRAP -t TOPIC -p PARTITION -i|-I VALUE
 *                            (produce one hand-made record; -I stores a wrong CRC, to prove
 *                             that the read-back tools notice)
 *   fnl-rawfetch -T          (self-test of the CRC32C table and the batch parser)
 *
 * Written from the Kafka message schemas only (MetadataRequest v1, FetchRequest v5,
 * ProduceRequest v3 for -i/-I, RecordBatch v2); shares no code with funnel's own codec, so it can
 * judge what funnel put on the wire.
 *
 * Per partition, on stdout:
 *   partition partition=P leader=B high_watermark=H log_start=L
 *   gap partition=P from=O to=O2                      (records evicted before O2)
 *   batch partition=P base_offset=O count=N codec=C magic=2 crc_ok=1 producer_id=I epoch=E
 *         base_seq=S bytes=B last_offset_delta=D first_ts=T max_ts=T2 attrs=0xA leader_epoch=L
 *   end partition=P batches=N records=M next_offset=O
 * (each "batch" is one line). Exit 0 if every partition was read to its high watermark, 1 on a
 * protocol or network error, 2 on usage; a bad CRC is reported as crc_ok=0, not as a failure.
 *
 * Wire framing: every request is [i32 size][i16 api_key][i16 api_version][i32 correlation_id]
 * [string client_id][body]; every response [i32 size][i32 correlation_id][body]. Only
 * non-flexible versions are used, so no tagged fields appear anywhere.
 *
 * RecordBatch v2 header (61 bytes, big-endian):
 *   0 base_offset i64 | 8 batch_length i32 | 12 partition_leader_epoch i32 | 16 magic i8
 *   17 crc u32 (CRC32C of bytes 21..end) | 21 attributes i16 | 23 last_offset_delta i32
 *   27 base_timestamp i64 | 35 max_timestamp i64 | 43 producer_id i64 | 51 producer_epoch i16
 *   53 base_sequence i32 | 57 records_count i32 | 61 records...
 * The whole batch is 12 + batch_length bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define BROKERS_MAX     64
#define PARTITIONS_MAX  4096
#define RESPONSE_MAX    (128u << 20)
#define FETCH_BYTES_MAX (64 << 20)
#define BATCH_HEADER    61
#define API_FETCH       1
#define API_METADATA    3
#define ERR_OFFSET_OOR  1

/* ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), byte-wise table ---- */

static uint32_t crc_table[256];

static void crc32c_init(void)
{
	uint32_t i, j, c;
	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	while (n--)
		c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* ---- big-endian reader with sticky error ---- */

struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static const uint8_t *rd_take(struct rd *r, size_t n)
{
	const uint8_t *q;
	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	q = r->p + r->off;
	r->off += n;
	return q;
}

static uint64_t be(const uint8_t *q, int n)
{
	uint64_t v = 0;
	int i;
	for (i = 0; i < n; i++)
		v = (v << 8) | q[i];
	return v;
}

static int64_t rd_int(struct rd *r, int n)
{
	const uint8_t *q = rd_take(r, (size_t)n);
	uint64_t v;
	if (!q)
		return 0;
	v = be(q, n);
	/* sign-extend */
	if (n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~(uint64_t)0 << (8 * n);
	return (int64_t)v;
}

/* Reads an int16-length string; returns its length or -1 for null. */
static int rd_str(struct rd *r, const char **s)
{
	int64_t n = rd_int(r, 2);
	*s = NULL;
	if (n < 0)
		return -1;
	*s = (const char *)rd_take(r, (size_t)n);
	return *s ? (int)n : -1;
}

/* ---- big-endian writer into a fixed buffer ---- */

struct wr {
	uint8_t buf[1024];
	size_t len;
	int bad;
};

static void wr_int(struct wr *w, int64_t v, int n)
{
	int i;
	if (w->bad || sizeof(w->buf) - w->len < (size_t)n) {
		w->bad = 1;
		return;
	}
	for (i = n - 1; i >= 0; i--)
		w->buf[w->len++] = (uint8_t)((uint64_t)v >> (8 * i));
}

static void wr_str(struct wr *w, const char *s)
{
	size_t n = strlen(s);
	if (n > 32767 || sizeof(w->buf) - w->len < n + 2) {
		w->bad = 1;
		return;
	}
	wr_int(w, (int64_t)n, 2);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* ---- connections ---- */

struct broker {
	int32_t id;
	char host[256];
	int port;
	int fd;
};

static int32_t corr_id;
static int timeout_ms = 10000;

static int dial(const char *host, int port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	char port_s[16];
	int fd = -1, one = 1;

	snprintf(port_s, sizeof(port_s), "%d", port);
	if (getaddrinfo(host, port_s, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : -ECONNREFUSED;
}

static int io_all(int fd, void *buf, size_t n, int writing)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t k = writing ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ECONNRESET;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends one request and reads its response body into *resp (malloc'd, caller frees). */
static int roundtrip(int fd, int16_t api_key, int16_t api_version, const struct wr *body,
                     uint8_t **resp, size_t *resp_len)
{
	struct wr h = {0};
	uint8_t szb[4];
	uint32_t sz;
	int32_t id = ++corr_id;
	int rc;

	wr_int(&h, (int64_t)(10 + strlen("fnl-rawfetch") + body->len), 4);
	wr_int(&h, api_key, 2);
	wr_int(&h, api_version, 2);
	wr_int(&h, id, 4);
	wr_str(&h, "fnl-rawfetch");
	if (h.bad || body->bad)
		return -EOVERFLOW;
	if ((rc = io_all(fd, h.buf, h.len, 1)) ||
	    (rc = io_all(fd, (void *)body->buf, body->len, 1)))
		return rc;
	if ((rc = io_all(fd, szb, 4, 0)))
		return rc;
	sz = (uint32_t)be(szb, 4);
	if (sz < 4 || sz > RESPONSE_MAX)
		return -EBADMSG;
	*resp = malloc(sz);
	if (!*resp)
		return -ENOMEM;
	if ((rc = io_all(fd, *resp, sz, 0))) {
		free(*resp);
		return rc;
	}
	if ((int32_t)be(*resp, 4) != id) {
		free(*resp);
		return -EPROTO;
	}
	*resp_len = sz;
	return 0;
}

/* ---- metadata ---- */

struct meta {
	struct broker brokers[BROKERS_MAX];
	int broker_cnt;
	int32_t leaders[PARTITIONS_MAX];
	int partition_cnt;
};

static int parse_metadata(const uint8_t *p, size_t n, const char *topic, struct meta *m)
{
	struct rd r = {.p = p, .len = n, .off = 4};
	int64_t i, j, cnt, pcnt, k;
	const char *s;
	int sl;

	cnt = rd_int(&r, 4);
	for (i = 0; i < cnt && !r.bad; i++) {
		struct broker b = {.fd = -1};
		b.id = (int32_t)rd_int(&r, 4);
		sl = rd_str(&r, &s);
		if (sl < 0 || sl >= (int)sizeof(b.host))
			return -EBADMSG;
		memcpy(b.host, s, (size_t)sl);
		b.port = (int)rd_int(&r, 4);
		rd_str(&r, &s); /* rack */
		if (m->broker_cnt < BROKERS_MAX)
			m->brokers[m->broker_cnt++] = b;
	}
	rd_int(&r, 4); /* controller_id */
	cnt = rd_int(&r, 4);
	for (i = 0; i < cnt && !r.bad; i++) {
		int16_t terr = (int16_t)rd_int(&r, 2);
		int match;
		sl = rd_str(&r, &s);
		match = sl >= 0 && (size_t)sl == strlen(topic) && !memcmp(s, topic, (size_t)sl);
		rd_int(&r, 1); /* is_internal */
		pcnt = rd_int(&r, 4);
		if (match && terr) {
			fprintf(stderr, "fnl-rawfetch: topic %s: error %d\n", topic, terr);
			return -ENOENT;
		}
		if (match && (pcnt < 1 || pcnt > PARTITIONS_MAX))
			return -EBADMSG;
		if (match)
			m->partition_cnt = (int)pcnt;
		for (j = 0; j < pcnt && !r.bad; j++) {
			int32_t pidx, leader;
			rd_int(&r, 2); /* partition error */
			pidx = (int32_t)rd_int(&r, 4);
			leader = (int32_t)rd_int(&r, 4);
			for (k = 0; k < 2; k++) { /* replica_nodes, isr_nodes */
				int64_t c = rd_int(&r, 4);
				if (c > 0)
					rd_take(&r, (size_t)c * 4);
			}
			if (match && pidx >= 0 && pidx < PARTITIONS_MAX)
				m->leaders[pidx] = leader;
		}
	}
	if (r.bad)
		return -EBADMSG;
	return m->partition_cnt ? 0 : -ENOENT;
}

static int fetch_metadata(const char *bootstrap, const char *topic, struct meta *m)
{
	char list[1024], *save = NULL, *hp;
	struct wr body = {0};
	uint8_t *resp;
	size_t resp_len;
	int fd = -1, rc = -ECONNREFUSED;

	wr_int(&body, -1, 4); /* topics: null = all topics (a named list would auto-create) */
	snprintf(list, sizeof(list), "%s", bootstrap);
	for (hp = strtok_r(list, ",", &save); hp; hp = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(hp, ':');
		if (!colon)
			continue;
		*colon = '\0';
		fd = dial(hp, atoi(colon + 1));
		if (fd < 0)
			continue;
		rc = roundtrip(fd, API_METADATA, 1, &body, &resp, &resp_len);
		close(fd);
		if (rc)
			continue;
		rc = parse_metadata(resp, resp_len, topic, m);
		free(resp);
		return rc;
	}
	return rc;
}

static struct broker *broker_get(struct meta *m, int32_t id)
{
	int i;
	for (i = 0; i < m->broker_cnt; i++) {
		if (m->brokers[i].id == id) {
			if (m->brokers[i].fd < 0)
				m->brokers[i].fd = dial(m->brokers[i].host, m->brokers[i].port);
			return m->brokers[i].fd >= 0 ? &m->brokers[i] : NULL;
		}
	}
	return NULL;
}

/* ---- record batches ---- */

static const char *codec_name(int attrs)
{
	static const char *names[8] = {"none", "gzip", "snappy", "lz4", "zstd", "c5", "c6", "c7"};
	return names[attrs & 7];
}

struct part_stats {
	int64_t batches, records, next_offset;
};

/* Prints every complete batch in records[0..n) and advances st->next_offset.
 * Returns the number of complete batches, or -EBADMSG on a malformed batch header. */
static int print_batches(int32_t partition, const uint8_t *p, size_t n, struct part_stats *st)
{
	size_t off = 0;
	int cnt = 0;

	while (n - off >= 17) {
		const uint8_t *b = p + off;
		int64_t base_offset = (int64_t)be(b, 8);
		int32_t batch_length = (int32_t)be(b + 8, 4);
		int magic = (int8_t)b[16];
		size_t total;

		if (batch_length < 0)
			return -EBADMSG;
		total = 12 + (size_t)batch_length;
		if (total > n - off)
			break; /* partial batch at the end of the fetch: the broker may truncate */
		if (magic != 2 || total < BATCH_HEADER) {
			printf("batch partition=%" PRId32 " base_offset=%" PRId64
			       " count=? codec=? magic=%d crc_ok=? bytes=%zu\n",
			       partition, base_offset, magic, total);
			st->next_offset = base_offset + 1;
		} else {
			uint32_t crc = (uint32_t)be(b + 17, 4);
			int attrs = (int)be(b + 21, 2);
			int32_t lod = (int32_t)be(b + 23, 4);
			int32_t count = (int32_t)be(b + 57, 4);
			int crc_ok = crc32c(b + 21, total - 21) == crc;
			printf("batch partition=%" PRId32 " base_offset=%" PRId64 " count=%" PRId32
			       " codec=%s magic=2 crc_ok=%d producer_id=%" PRId64 " epoch=%d"
			       " base_seq=%" PRId32 " bytes=%zu last_offset_delta=%" PRId32
			       " first_ts=%" PRId64 " max_ts=%" PRId64
			       " attrs=0x%x leader_epoch=%" PRId32 "\n",
			       partition, base_offset, count, codec_name(attrs), crc_ok,
			       (int64_t)be(b + 43, 8), (int16_t)be(b + 51, 2),
			       (int32_t)be(b + 53, 4), total, lod, (int64_t)be(b + 27, 8),
			       (int64_t)be(b + 35, 8), attrs, (int32_t)be(b + 12, 4));
			st->records += count;
			if (base_offset + lod + 1 > st->next_offset)
				st->next_offset = base_offset + lod + 1;
		}
		st->batches++;
		off += total;
		cnt++;
	}
	return cnt;
}

static void build_fetch(struct wr *w, const char *topic, int32_t partition, int64_t offset)
{
	wr_int(w, -1, 4);              /* replica_id */
	wr_int(w, 0, 4);               /* max_wait_ms */
	wr_int(w, 0, 4);               /* min_bytes */
	wr_int(w, FETCH_BYTES_MAX, 4); /* max_bytes */
	wr_int(w, 0, 1);               /* isolation_level: read_uncommitted */
	wr_int(w, 1, 4);               /* topics */
	wr_str(w, topic);
	wr_int(w, 1, 4); /* partitions */
	wr_int(w, partition, 4);
	wr_int(w, offset, 8);
	wr_int(w, -1, 8);              /* log_start_offset (followers only) */
	wr_int(w, FETCH_BYTES_MAX, 4); /* partition_max_bytes */
}

struct fetch_part {
	int16_t err;
	int64_t hwm, log_start;
	const uint8_t *records;
	int32_t records_len;
};

static int parse_fetch(const uint8_t *p, size_t n, struct fetch_part *fp)
{
	struct rd r = {.p = p, .len = n, .off = 4};
	const char *s;
	int64_t aborted;

	rd_int(&r, 4); /* throttle_time_ms */
	if (rd_int(&r, 4) != 1)
		return -EBADMSG;
	rd_str(&r, &s);
	if (rd_int(&r, 4) != 1)
		return -EBADMSG;
	rd_int(&r, 4); /* partition_index */
	fp->err = (int16_t)rd_int(&r, 2);
	fp->hwm = rd_int(&r, 8);
	rd_int(&r, 8); /* last_stable_offset */
	fp->log_start = rd_int(&r, 8);
	aborted = rd_int(&r, 4);
	if (aborted > 0)
		rd_take(&r, (size_t)aborted * 16);
	fp->records_len = (int32_t)rd_int(&r, 4);
	fp->records = NULL;
	if (fp->records_len > 0)
		fp->records = rd_take(&r, (size_t)fp->records_len);
	else
		fp->records_len = 0;
	return r.bad ? -EBADMSG : 0;
}

static int fetch_partition(struct meta *m, const char *topic, int32_t partition, int64_t offset)
{
	struct part_stats st = {.next_offset = offset};
	struct fetch_part fp;
	struct broker *b = broker_get(m, m->leaders[partition]);
	int printed_header = 0, rc;

	if (!b) {
		fprintf(stderr, "fnl-rawfetch: partition %d: leader %d unreachable\n", partition,
		        m->leaders[partition]);
		return -EHOSTUNREACH;
	}
	for (;;) {
		struct wr body = {0};
		uint8_t *resp;
		size_t resp_len;

		build_fetch(&body, topic, partition, st.next_offset);
		if ((rc = roundtrip(b->fd, API_FETCH, 5, &body, &resp, &resp_len)))
			return rc;
		if ((rc = parse_fetch(resp, resp_len, &fp))) {
			free(resp);
			return rc;
		}
		if (!printed_header) {
			printf("partition partition=%d leader=%d high_watermark=%" PRId64
			       " log_start=%" PRId64 "\n",
			       partition, b->id, fp.hwm, fp.log_start);
			printed_header = 1;
		}
		if (fp.err == ERR_OFFSET_OOR && fp.log_start > st.next_offset) {
			printf("gap partition=%d from=%" PRId64 " to=%" PRId64 "\n", partition,
			       st.next_offset, fp.log_start);
			st.next_offset = fp.log_start;
			free(resp);
			continue;
		}
		if (fp.err) {
			fprintf(stderr, "fnl-rawfetch: partition %d offset %" PRId64 ": error %d\n",
			        partition, st.next_offset, fp.err);
			free(resp);
			return -EPROTO;
		}
		if (st.next_offset >= fp.hwm) {
			free(resp);
			break;
		}
		rc = print_batches(partition, fp.records, (size_t)fp.records_len, &st);
		free(resp);
		if (rc <= 0) {
			fprintf(stderr,
			        "fnl-rawfetch: partition %d offset %" PRId64 ": no progress\n",
			        partition, st.next_offset);
			return rc < 0 ? rc : -EPROTO;
		}
	}
	printf("end partition=%d batches=%" PRId64 " records=%" PRId64 " next_offset=%" PRId64 "\n",
	       partition, st.batches, st.records, st.next_offset);
	return 0;
}

/* ---- injection: one hand-made batch via Produce v3 (harness self-tests only) ---- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	int i;
	for (i = n - 1; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
}

static size_t put_varint(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); /* zigzag */
	size_t n = 0;
	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

/* Builds an uncompressed, non-idempotent batch holding one record with a null key and the
 * given value; with bad_crc the stored CRC is off by one. Returns the batch size. */
static size_t build_batch(uint8_t *b, size_t cap, const char *value, int64_t ts_ms, int bad_crc)
{
	uint8_t rec[512];
	size_t vlen = strlen(value), rl = 0, hl, total;
	uint32_t crc;

	if (vlen > 400)
		return 0;
	rec[rl++] = 0;                  /* attributes */
	rl += put_varint(rec + rl, 0);  /* timestamp delta */
	rl += put_varint(rec + rl, 0);  /* offset delta */
	rl += put_varint(rec + rl, -1); /* key: null */
	rl += put_varint(rec + rl, (int64_t)vlen);
	memcpy(rec + rl, value, vlen);
	rl += vlen;
	rl += put_varint(rec + rl, 0); /* headers */
	hl = put_varint(b + BATCH_HEADER, (int64_t)rl);
	total = BATCH_HEADER + hl + rl;
	if (total > cap)
		return 0;
	memcpy(b + BATCH_HEADER + hl, rec, rl);
	put_be(b, 0, 8);              /* base_offset */
	put_be(b + 8, total - 12, 4); /* batch_length */
	put_be(b + 12, 0, 4);         /* partition_leader_epoch */
	b[16] = 2;                    /* magic */
	put_be(b + 21, 0, 2);         /* attributes */
	put_be(b + 23, 0, 4);         /* last_offset_delta */
	put_be(b + 27, (uint64_t)ts_ms, 8);
	put_be(b + 35, (uint64_t)ts_ms, 8);
	put_be(b + 43, (uint64_t)-1, 8); /* producer_id */
	put_be(b + 51, (uint64_t)-1, 2); /* producer_epoch */
	put_be(b + 53, (uint64_t)-1, 4); /* base_sequence */
	put_be(b + 57, 1, 4);            /* records_count */
	crc = crc32c(b + 21, total - 21) + (bad_crc ? 1 : 0);
	put_be(b + 17, crc, 4);
	return total;
}

static int inject(struct meta *m, const char *topic, int32_t partition, const char *value,
                  int bad_crc)
{
	struct broker *b = broker_get(m, m->leaders[partition]);
	struct wr body = {0};
	uint8_t batch[600], *resp;
	size_t n, resp_len;
	struct timeval now;
	struct rd r;
	const char *s;
	int16_t err;
	int rc;

	gettimeofday(&now, NULL);
	n = build_batch(batch, sizeof(batch), value,
	                (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000, bad_crc);
	if (!b || !n)
		return !b ? -EHOSTUNREACH : -EINVAL;
	wr_int(&body, -1, 2);   /* transactional_id: null */
	wr_int(&body, 1, 2);    /* acks */
	wr_int(&body, 5000, 4); /* timeout_ms */
	wr_int(&body, 1, 4);
	wr_str(&body, topic);
	wr_int(&body, 1, 4);
	wr_int(&body, partition, 4);
	wr_int(&body, (int64_t)n, 4);
	if (body.bad || sizeof(body.buf) - body.len < n)
		return -EOVERFLOW;
	memcpy(body.buf + body.len, batch, n);
	body.len += n;
	if ((rc = roundtrip(b->fd, 0, 3, &body, &resp, &resp_len)))
		return rc;
	r = (struct rd){.p = resp, .len = resp_len, .off = 4};
	rd_int(&r, 4);
	rd_str(&r, &s);
	rd_int(&r, 4);
	rd_int(&r, 4);
	err = (int16_t)rd_int(&r, 2);
	printf("injected partition=%d crc_ok=%d error=%d base_offset=%" PRId64 "\n", partition,
	       !bad_crc, err, rd_int(&r, 8));
	free(resp);
	return r.bad ? -EBADMSG : (err ? -EPROTO : 0);
}

/* ---- self-test ---- */

static int selftest(void)
{
	uint8_t batch[BATCH_HEADER + 8] = {0};
	struct part_stats st = {0};
	uint32_t crc;
	int fails = 0;

	if (crc32c((const uint8_t *)"123456789", 9) != 0xE3069283u) {
		fprintf(stderr, "crc32c check value wrong\n");
		fails++;
	}
	/* A hand-made zstd batch: base_offset 7, 3 records, producer 42 epoch 1 seq 10. */
	batch[7] = 7;
	batch[11] = sizeof(batch) - 12;
	batch[16] = 2;
	batch[22] = 4;  /* attributes: zstd */
	batch[26] = 2;  /* last_offset_delta */
	batch[50] = 42; /* producer_id */
	batch[52] = 1;  /* epoch */
	batch[56] = 10; /* base_sequence */
	batch[60] = 3;  /* records_count */
	crc = crc32c(batch + 21, sizeof(batch) - 21);
	batch[17] = (uint8_t)(crc >> 24);
	batch[18] = (uint8_t)(crc >> 16);
	batch[19] = (uint8_t)(crc >> 8);
	batch[20] = (uint8_t)crc;
	if (print_batches(0, batch, sizeof(batch), &st) != 1 || st.next_offset != 10 ||
	    st.records != 3) {
		fprintf(stderr, "batch parse wrong\n");
		fails++;
	}
	batch[sizeof(batch) - 1] ^= 1; /* corrupt: must print crc_ok=0 and still parse */
	if (print_batches(0, batch, sizeof(batch), &st) != 1)
		fails++;
	if (print_batches(0, batch, sizeof(batch) - 1, &st) != 0) /* truncated: skipped */
		fails++;
	printf("selftest %s\n", fails ? "FAILED" : "ok");
	return fails ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: fnl-rawfetch -b BOOTSTRAP -t TOPIC [-p PARTITION]... [-o OFFSET] "
	        "[-w TIMEOUT_MS]\n"
	        "       fnl-rawfetch -b BOOTSTRAP -t TOPIC -p PARTITION -i|-I VALUE\n"
	        "       fnl-rawfetch -T\n"
	        "  -i VALUE  produce one uncompressed record (null key), -I: same with a bad CRC\n"
	        "  -T        self-test\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct meta m;
	static int32_t parts[PARTITIONS_MAX];
	const char *bootstrap = NULL, *topic = NULL, *inject_value = NULL;
	int inject_bad = 0;
	int part_cnt = 0, opt, i, rc, failed = 0;
	int64_t offset = 0;

	crc32c_init();
	while ((opt = getopt(argc, argv, "b:t:p:o:w:i:I:T")) != -1) {
		switch (opt) {
		case 'b':
			bootstrap = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'p':
			if (part_cnt == PARTITIONS_MAX)
				usage();
			parts[part_cnt++] = atoi(optarg);
			break;
		case 'o':
			offset = strtoll(optarg, NULL, 10);
			break;
		case 'w':
			timeout_ms = atoi(optarg) > 0 ? atoi(optarg) : 10000;
			break;
		case 'i':
		case 'I':
			inject_value = optarg;
			inject_bad = opt == 'I';
			break;
		case 'T':
			return selftest();
		default:
			usage();
		}
	}
	if (!bootstrap || !topic || optind != argc || offset < 0)
		usage();
	if ((rc = fetch_metadata(bootstrap, topic, &m))) {
		fprintf(stderr, "fnl-rawfetch: metadata for %s: %s\n", topic, strerror(-rc));
		return 1;
	}
	if (inject_value) {
		if (part_cnt != 1 || parts[0] < 0 || parts[0] >= m.partition_cnt)
			usage();
		rc = inject(&m, topic, parts[0], inject_value, inject_bad);
		if (rc)
			fprintf(stderr, "fnl-rawfetch: inject: %s\n", strerror(-rc));
		return rc ? 1 : 0;
	}
	if (!part_cnt) {
		for (i = 0; i < m.partition_cnt; i++)
			parts[part_cnt++] = i;
	}
	for (i = 0; i < part_cnt; i++) {
		if (parts[i] < 0 || parts[i] >= m.partition_cnt) {
			fprintf(stderr, "fnl-rawfetch: no partition %d\n", parts[i]);
			failed = 1;
			continue;
		}
		if ((rc = fetch_partition(&m, topic, parts[i], offset))) {
			fprintf(stderr, "fnl-rawfetch: partition %d: %s\n", parts[i],
			        strerror(-rc));
			failed = 1;
		}
	}
	fflush(stdout);
	return failed;
}
