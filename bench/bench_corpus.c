/* bench_corpus.c - the records every benchmark client sends (--corpus), made
 * once in the parent before any client is forked (the children read them
 * copy-on-write, so making them costs no client CPU), and the calibration
 * pass: the same records, in batches of the size funnel's were, compressed
 * with zstd alone.
 *
 * Corpus layout: data[] holds every record back to back; record i is
 * data[off[i] .. off[i + 1]). Client c of a run with R records per client
 * sends records c*R .. c*R + R - 1, so no two records of a run are the same
 * record (json and hex records are also distinct byte strings; file: records
 * repeat only if the file has fewer lines than a run sends). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "bench_run.h"
#include "dataplane/compress/compress.h"
#include "dataplane/kafka/recbatch.h"

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static const char *const levels[] = {"info", "info",  "info", "info",
                                     "info", "debug", "warn", "error"};
static const char *const svcs[] = {"checkout", "cart",      "payments", "search",
                                   "auth",     "inventory", "shipping", "frontend"};
static const char *const paths[] = {"/api/v1/cart", "/api/v1/checkout", "/api/v2/search",
                                    "/login",       "/api/v1/orders",   "/healthz",
                                    "/api/v1/items"};
static const char *const words[] = {
    "request", "completed",  "user",  "session", "cache",    "miss",    "hit", "order",
    "payment", "authorized", "retry", "timeout", "upstream", "latency", "for", "item",
    "cart",    "ok",         "slow",  "query",   "db",       "took",    "the", "validated"};

static void hex(char *out, uint64_t v, int digits)
{
	static const char h[] = "0123456789abcdef";
	for (int i = 0; i < digits; i++, v >>= 4)
		out[i] = h[v & 15];
	out[digits] = '\0';
}

/* One log line of exactly len bytes: a timestamp that advances (1 ms every 3
 * records of a client, clients interleaved), a random request id and trace
 * id, a user id from a log-uniform (skewed) distribution over 1..10^6, then
 * words to fill; cut at len if the fields alone are longer (the unique fields
 * come first, so a cut record is still unique). */
static size_t json_record(char *buf, size_t len, uint64_t i, uint32_t client)
{
	uint64_t h = mix(i * 0x9e3779b97f4a7c15ULL + (uint64_t)client * 0xbf58476d1ce4e5b9ULL + 1);
	uint64_t h2 = mix(h + 0x632be59bd9b4e019ULL), h3 = mix(h2 + 1);
	double u = (double)(h2 >> 11) / 9007199254740992.0;
	unsigned user = (unsigned)exp(u * log(1e6));
	char req[17], trace[17];
	hex(req, h3, 16);
	hex(trace, mix(h3 + 7), 16);
	char tmp[2048];
	int n = snprintf(tmp, sizeof(tmp),
	                 "{\"ts\":%llu,\"level\":\"%s\",\"svc\":\"%s\",\"req\":\"%s\",\"user\":%u,"
	                 "\"status\":%d,\"ms\":%u,\"path\":\"%s\",\"trace\":\"%s\",\"msg\":\"",
	                 1765000000000ull + i / 3, levels[h & 7], svcs[(h >> 3) & 7], req, user,
	                 ((h >> 30) & 15) == 0 ? 500 : 200, (unsigned)((h >> 34) % 900),
	                 paths[(h >> 40) % 7], trace);
	size_t p = n > 0 ? (size_t)n : 0;
	uint64_t w = h;
	while (p + 3 < len && p + 3 < sizeof(tmp)) {
		if ((w & 0xff) == 0)
			w = mix(w + p);
		const char *s = words[(w & 0xff) % 24];
		w >>= 8;
		for (size_t k = 0; s[k] && p + 3 < len; k++)
			tmp[p++] = s[k];
		if (p + 3 < len)
			tmp[p++] = ' ';
	}
	if (p + 2 > len)
		p = len >= 2 ? len - 2 : 0;
	tmp[p++] = '"';
	tmp[p++] = '}';
	size_t out = p < len ? p : len;
	memcpy(buf, tmp, out);
	for (size_t k = out; k < len; k++)
		buf[k] = ' ';
	return len;
}

/* len random hex digits: 4 bits of entropy per byte, about 2:1 for any codec */
static void hex_record(char *buf, size_t len, uint64_t i, uint32_t client)
{
	uint64_t s = mix(i * 0xd1342543de82ef95ULL + client * 0x2545f4914f6cdd1dULL + 3);
	for (size_t k = 0; k < len; k += 16) {
		char t[17];
		s = mix(s + k);
		hex(t, s, 16);
		memcpy(buf + k, t, len - k < 16 ? len - k : 16);
	}
}

static int file_lines(struct bench_corpus *c, const char *path, uint64_t n, int max_bytes)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0, used = 0, dcap = 0;
	uint64_t lines = 0;
	ssize_t l;
	/* the file's lines once, then the corpus repeats them to n records */
	while ((l = getline(&line, &cap, f)) > 0) {
		while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			l--;
		if (l == 0)
			continue;
		if (l > max_bytes)
			l = max_bytes;
		if (used + (size_t)l > dcap || lines + 2 > c->n) {
			dcap = (used + (size_t)l) * 2 + 4096;
			char *d = realloc(c->data, dcap);
			uint64_t *o = realloc(c->off, sizeof(*o) * (lines + 2) * 2);
			if (!d || !o) {
				free(d ? d : c->data);
				free(o ? o : c->off);
				free(line);
				fclose(f);
				return -ENOMEM;
			}
			c->data = d;
			c->off = o;
			c->n = (lines + 2) * 2;
		}
		c->off[lines] = used;
		memcpy(c->data + used, line, (size_t)l);
		used += (size_t)l;
		lines++;
		if (lines >= n)
			break;
	}
	free(line);
	fclose(f);
	if (!lines)
		return -ENODATA;
	c->off[lines] = used;
	c->distinct = lines;
	c->file_bytes = used;
	return 0;
}

int bench_corpus_make(struct bench_corpus *c, const char *kind, uint64_t n, uint64_t per_client,
                      int value_bytes)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	if (!strncmp(kind, "file:", 5)) {
		int rc = file_lines(c, kind + 5, n, 1 << 20);
		if (rc < 0)
			return rc;
		c->n = n;
		return 0; /* record i is line i % distinct (bench_corpus_rec) */
	}
	bool js = !strcmp(kind, "json");
	if (!js && strcmp(kind, "hex"))
		return -EINVAL;
	c->n = n;
	c->distinct = n;
	c->data = malloc((size_t)n * (size_t)value_bytes + 1);
	c->off = malloc(sizeof(*c->off) * (n + 1));
	if (!c->data || !c->off)
		return -ENOMEM;
	for (uint64_t i = 0; i <= n; i++)
		c->off[i] = i * (uint64_t)value_bytes;
	/* each client sends a contiguous range of per_client records: its
	 * timestamps advance from the same start, 1 ms every 3 records */
	uint64_t per = per_client ? per_client : n;
	for (uint64_t i = 0; i < n; i++) {
		char *b = c->data + i * (uint64_t)value_bytes;
		if (js)
			json_record(b, (size_t)value_bytes, i % per, (uint32_t)(i / per));
		else
			hex_record(b, (size_t)value_bytes, i, 0);
	}
	return 0;
}

void bench_corpus_free(struct bench_corpus *c)
{
	free(c->data);
	free(c->off);
	memset(c, 0, sizeof(*c));
}

uint64_t bench_corpus_bytes(const struct bench_corpus *c, uint64_t first, uint64_t n)
{
	uint64_t sum = 0;
	for (uint64_t i = first; i < first + n; i++) {
		size_t len;
		bench_corpus_rec(c, i, &len);
		sum += len;
	}
	return sum;
}

static double thread_cpu_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int bench_calibrate(const struct bench_corpus *c, int clients, uint64_t per_client,
                    double recs_per_batch, int level, struct bench_calib *out)
{
	memset(out, 0, sizeof(*out));
	if (recs_per_batch < 1)
		return -EINVAL;
	uint64_t total = (uint64_t)clients * per_client;
	size_t raw_cap = 64u << 20;
	uint8_t *raw = malloc(raw_cap);
	size_t dst_cap = ZSTD_compressBound(raw_cap);
	uint8_t *dst = malloc(dst_cap);
	/* funneld's own compressor (dataplane/compress): its zstd profile at this level */
	struct fnl_compressor *z = fnl_compressor_new();
	if (!raw || !dst || !z) {
		free(raw);
		free(dst);
		fnl_compressor_free(z);
		return -ENOMEM;
	}
	/* Records in the order funneld takes them: clients in turn, a run of
	 * 64 records from each (its ingest reads ring chunks the same way);
	 * each batch is RecordBatch records (fnl_rbw) of recs_per_batch
	 * records, as funnel's batches were on average in the measured run. */
	struct fnl_rbw w;
	uint64_t taken = 0, in_batch = 0, target = (uint64_t)(recs_per_batch + 0.5);
	double cpu = 0;
	fnl_rbw_init(&w, raw, raw_cap, 1765000000000ll);
	for (uint64_t run = 0; taken < total; run++) {
		for (int cl = 0; cl < clients; cl++) {
			uint64_t from = (uint64_t)cl * per_client + run * 64;
			for (uint64_t k = 0; k < 64 && run * 64 + k < per_client; k++) {
				size_t len;
				const char *v = bench_corpus_rec(c, from + k, &len);
				int rc = fnl_rbw_append(&w, 1765000000000ll, NULL, -1, v,
				                        (int32_t)len, NULL, 0);
				if (rc == 0) {
					in_batch++;
					taken++;
					out->value_bytes += len;
				}
				bool last = taken == total;
				if (rc == 0 && in_batch < target && !last)
					continue;
				double t0 = thread_cpu_s();
				long zn = fnl_compress(z, FNL_CODEC_ZSTD, level, raw, w.len, dst, dst_cap);
				cpu += thread_cpu_s() - t0;
				if (zn < 0)
					goto fail;
				out->batches++;
				out->raw_bytes += w.len;
				out->wire_bytes += FNL_RB_HEADER_BYTES + (uint64_t)zn;
				fnl_rbw_init(&w, raw, raw_cap, 1765000000000ll);
				in_batch = 0;
				if (rc != 0) { /* did not fit: it starts the next batch */
					k--;
					continue;
				}
			}
		}
	}
	out->records = taken;
	out->cpu_s = cpu;
	out->ns_per_rec = taken ? cpu * 1e9 / (double)taken : 0;
	out->ratio = out->wire_bytes ? (double)out->value_bytes / (double)out->wire_bytes : 0;
	free(raw);
	free(dst);
	fnl_compressor_free(z);
	return 0;
fail:
	free(raw);
	free(dst);
	fnl_compressor_free(z);
	return -EIO;
}
