/* config.c - table-driven parsing and validation of funneld settings. */
#include "ctrl/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "dataplane/compress/compress.h"
#include "dataplane/net/engine.h"

enum kind {
	K_INT,
	K_I64,
	K_BOOL,
	K_STR,
	K_ACKS,
	K_CODEC,
	K_CORES,
	K_IDS,
	K_PARTITIONER,
	K_LOGLEVEL,
	K_SECPROTO,
	K_SASLMECH,
	K_ENDPOINT,
	K_PEM,
	K_SECRET,
	K_KTLS,
	K_EGRESS
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	int64_t min, max;
	const char *def;
	const char *help;
};

#define F(field) offsetof(struct fnl_config, field)

/* funnel.ssl.ktls, in the order of enum fnl_ktls_mode (dataplane/net/tls.h) */
static const char *const ktls_modes[] = {"auto", "off", "required"};

/* Defaults follow the Java producer (Kafka 4.x: linger.ms=5), except
 * compression.type, where funnel's reason to exist is one large zstd batch,
 * its level (1: on 100-byte log records in batches of 16 KiB to 1 MB it
 * compresses as well as level 3 for 0.6-0.85x of its CPU, on random hex within
 * 3% for a third to a half; measured in docs/architecture.md) and batch.size, which counts records before
 * compression (librdkafka's meaning): 65536 is about what the Java default of
 * 16384 estimated compressed bytes holds of records that compress 4:1. */
static const struct key keys[] = {
	{"bootstrap.servers", K_STR, F(bootstrap_servers), 0, 0, "", "host:port[,host:port...]"},
	{"acks", K_ACKS, F(acks), 0, 0, "all", "all, -1, 0 or 1"},
	{"enable.idempotence", K_BOOL, F(enable_idempotence), 0, 0, "true", "true or false"},
	{"max.in.flight.requests.per.connection", K_INT, F(max_in_flight), 1, 1000, "5", NULL},
	{"retries", K_INT, F(retries), 0, INT_MAX, "2147483647", NULL},
	{"retry.backoff.ms", K_INT, F(retry_backoff_ms), 0, INT_MAX, "100", NULL},
	{"delivery.timeout.ms", K_INT, F(delivery_timeout_ms), 1, INT_MAX, "120000", NULL},
	{"request.timeout.ms", K_INT, F(request_timeout_ms), 1, INT_MAX, "30000", NULL},
	{"linger.ms", K_INT, F(linger_ms), 0, 3600000, "5", NULL},
	{"batch.size", K_INT, F(batch_size), 512, 16 << 20, "65536", NULL},
	{"buffer.memory", K_I64, F(buffer_memory), 1 << 20, (int64_t)64 << 30, "33554432", NULL},
	{"max.block.ms", K_INT, F(max_block_ms), 0, INT_MAX, "60000", NULL},
	{"max.request.size", K_INT, F(max_request_size), 1024, 1 << 30, "1048576", NULL},
	{"compression.type", K_CODEC, F(compression_type), 0, 0, "zstd",
	 "none, gzip, snappy, lz4 or zstd"},
	{"compression.zstd.level", K_INT, F(compression_zstd_level), -131072, 22, "1", NULL},
	{"compression.gzip.level", K_INT, F(compression_gzip_level), -1, 9, "-1", NULL},
	{"compression.lz4.level", K_INT, F(compression_lz4_level), 1, 17, "9", NULL},
	{"metadata.max.age.ms", K_INT, F(metadata_max_age_ms), 0, INT_MAX, "300000", NULL},
	{"client.id", K_STR, F(client_id), 0, 0, "funnel", NULL},
	{"partitioner.ignore.keys", K_BOOL, F(partitioner_ignore_keys), 0, 0, "false",
	 "true or false"},
	{"funnel.socket.path", K_STR, F(socket_path), 0, 0, "/run/funnel/funnel.sock", NULL},
	{"funnel.cores", K_CORES, F(cores), 0, 0, "",
	 "comma-separated CPU numbers for data-plane threads, empty = one unpinned"},
	{"funnel.ctrl.core", K_INT, F(ctrl_core), -1, 4095, "-1", NULL},
	{"funnel.ring.bytes.max", K_I64, F(ring_bytes_max), 65536, (int64_t)1 << 31, "67108864",
	 NULL},
	{"funnel.clients.max", K_INT, F(clients_max), 1, 65535, "1024", NULL},
	{"funnel.topics.max", K_INT, F(topics_max), 1, 65535, "1024", NULL},
	{"funnel.client.topics.max", K_INT, F(client_topics_max), 0, 65535, "0",
	 "0 (a quarter of funnel.topics.max) or the number of new topic names one client may create"},
	{"funnel.partitions.max", K_INT, F(partitions_max), 1, 1 << 20, "16384", NULL},
	{"funnel.partitioner", K_PARTITIONER, F(round_robin), 0, 0, "sticky",
	 "sticky (KIP-794 uniform sticky) or round_robin"},
	{"funnel.metrics.listen", K_STR, F(metrics_listen), 0, 0, "127.0.0.1:9464", NULL},
	{"funnel.allowed.uids", K_IDS, F(allowed_uids), 0, 0, "", "comma-separated uids"},
	{"funnel.allowed.gids", K_IDS, F(allowed_gids), 0, 0, "", "comma-separated gids"},
	{"funnel.uring.sqpoll", K_BOOL, F(uring_sqpoll), 0, 0, "false", "true or false"},
	{"funnel.uring.rx.buffers", K_INT, F(uring_rx_buffers), 1, 32768, "64",
	 "a power of two: receive buffers the broker connections share"},
	{"funnel.uring.rx.buffer.bytes", K_INT, F(uring_rx_buffer_bytes), 1024, 16 << 20, "16384",
	 NULL},
	{"funnel.uring.rx.direct", K_BOOL, F(uring_rx_direct), 0, 0, "false",
	 "true or false (true: plain recv per connection, no provided-buffer ring)"},
	{"funnel.egress", K_EGRESS, F(egress), 0, 0, "uring",
	 "uring or dpdk (dpdk: a funneld built with meson -Ddpdk=enabled)"},
	{"funnel.dpdk.eal.args", K_STR, F(dpdk_eal_args), 0, 0, "",
	 "DPDK EAL arguments, e.g. -l 1 --no-huge --no-pci --no-shconf -m 256 "
	 "--vdev=net_af_xdp0,iface=eth1"},
	{"funnel.dpdk.ip", K_STR, F(dpdk_ip), 0, 0, "", "the IPv4 address funneld uses on the port"},
	{"funnel.dpdk.netmask", K_STR, F(dpdk_netmask), 0, 0, "255.255.255.0", "an IPv4 netmask"},
	{"funnel.dpdk.gateway", K_STR, F(dpdk_gateway), 0, 0, "",
	 "an IPv4 address on the subnet; empty = brokers on the subnet only"},
	{"funnel.dpdk.mtu", K_INT, F(dpdk_mtu), 576, 1500, "1500", NULL},
	{"funnel.dpdk.addr.map", K_STR, F(dpdk_addr_map), 0, 0, "",
	 "FROM=TO (IPv4): the data plane connects to TO where a broker advertises FROM"},
	{"funnel.log.level", K_LOGLEVEL, F(log_level), 0, 0, "info", "error, warn, info or debug"},
	{"funnel.shutdown.timeout.ms", K_INT, F(shutdown_timeout_ms), 0, INT_MAX, "30000", NULL},
	{"funnel.idle.nap.us", K_INT, F(idle_nap_us), 0, 100000, "0", NULL},
	{"funnel.state.dir", K_STR, F(state_dir), 0, 0, "", "directory for restart state"},
	{"funnel.journal", K_BOOL, F(journal), 0, 0, "true",
	 "true or false (keep in-flight batches in <state dir>/journal for a restart)"},
	{"funnel.restart.wait.ms", K_INT, F(restart_wait_ms), 0, 600000, "3000", NULL},
	{"security.protocol", K_SECPROTO, F(security_protocol), 0, 0, "plaintext",
	 "plaintext, ssl, sasl_plaintext or sasl_ssl"},
	{"ssl.ca.location", K_STR, F(ssl_ca_location), 0, 0, "",
	 "a CA file or directory; empty = the system store"},
	{"ssl.ca.pem", K_PEM, F(ssl_ca_pem), 0, 0, "", "PEM text of the CA certificates"},
	{"ssl.certificate.location", K_STR, F(ssl_certificate_location), 0, 0, "", NULL},
	{"ssl.key.location", K_STR, F(ssl_key_location), 0, 0, "", NULL},
	{"ssl.key.password", K_SECRET, F(ssl_key_password), 0, 0, "", NULL},
	{"enable.ssl.certificate.verification", K_BOOL, F(ssl_verify), 0, 0, "true",
	 "true or false"},
	{"ssl.endpoint.identification.algorithm", K_ENDPOINT, F(ssl_verify_host), 0, 0, "https",
	 "https or none"},
	{"funnel.ssl.ktls", K_KTLS, F(ssl_ktls), 0, 0, "auto",
	 "auto, off or required (kernel TLS after the handshake; auto: where the kernel has it)"},
	{"sasl.mechanism", K_SASLMECH, F(sasl_mechanism), 0, 0, "",
	 "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"},
	{"sasl.username", K_STR, F(sasl_username), 0, 0, "", NULL},
	{"sasl.password", K_SECRET, F(sasl_password), 0, 0, "", NULL},
	{"funnel.sasl.password.file", K_STR, F(sasl_password_file), 0, 0, "",
	 "a file holding the SASL password, re-read at each login"},
	{"funnel.sasl.oauthbearer.token.file", K_STR, F(sasl_token_file), 0, 0, "",
	 "a file holding the OAUTHBEARER token, re-read at each login"},
	{"enable.sasl.oauthbearer.unsecure.jwt", K_BOOL, F(sasl_unsecure_jwt), 0, 0, "false",
	 "true or false (tests only: an unsigned token)"},
	{"sasl.oauthbearer.config", K_STR, F(sasl_oauthbearer_config), 0, 0, "",
	 "principal=NAME [lifeSeconds=N] (with enable.sasl.oauthbearer.unsecure.jwt)"},
	{"funnel.test.compress.delay.us", K_INT, F(test_compress_delay_us), 0, 100000, "0",
	 "test only: a compression worker holds each batch this long before handing it back"},
	{"funnel.test.transactional.id", K_STR, F(test_txn_id), 0, 0, "",
	 "test only: makes a mock broker check sequences"},
	/* transactions (ctrl/txnd.c): unset = no transaction socket */
	{"transactional.id", K_STR, F(txn_id), 0, 0, "", "funneld's transactional id"},
	{"transaction.timeout.ms", K_INT, F(txn_timeout_ms), 1, INT_MAX, "60000", NULL},
	{"funnel.txn.window.bytes", K_I64, F(txn_window_bytes), 1 << 20, (int64_t)1 << 30,
	 "16777216", "bytes of client transactions one window (Kafka transaction) holds"},
	{"funnel.test.txn.trace", K_STR, F(txn_trace), 0, 0, "",
	 "test only: a file funneld appends each transaction request and its answer to"},
	{"funnel.test.txn.window.min.commits", K_INT, F(txn_min_commits), 0, 64, "0",
	 "test only: a window waits (at most 5 s) until it holds this many commits"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int say(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (msg && len)
		vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct key *find_key(const char *name)
{
	if (strcmp(name, "sasl.mechanisms") == 0) /* librdkafka's spelling */
		name = "sasl.mechanism";
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Edit distance, to suggest the key a person probably meant. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	int row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cur = row[j];
			int sub = prev + (a[i - 1] != b[j - 1]);
			int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
			row[j] = sub < best ? sub : best;
			prev = cur;
		}
	}
	return row[lb];
}

static const char *suggest(const char *name)
{
	const char *best = NULL;
	int best_d = 4;
	for (size_t i = 0; i < NKEYS; i++) {
		int d = distance(name, keys[i].name);
		if (d < best_d) {
			best_d = d;
			best = keys[i].name;
		}
	}
	return best;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(s, "false") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* "1,3,5" -> ints; returns count or -EINVAL */
static int parse_list(const char *s, int64_t *out, int max)
{
	int n = 0;
	const char *p = s;
	while (*p) {
		char item[32];
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(item) || n == max)
			return -EINVAL;
		memcpy(item, p, len);
		item[len] = '\0';
		if (parse_i64(item, &out[n]) < 0 || out[n] < 0 || out[n] > UINT32_MAX)
			return -EINVAL;
		n++;
		p += len;
		if (*p == ',')
			p++;
	}
	return n;
}

static int bad(const struct key *k, const char *value, char *msg, size_t len)
{
	if (k->help)
		return say(msg, len, "%s: '%s' is not allowed (allowed: %s)", k->name, value,
			   k->help);
	return say(msg, len, "%s: '%s' is not allowed (allowed: an integer from %lld to %lld)",
		   k->name, value, (long long)k->min, (long long)k->max);
}

static int set_list(struct fnl_config *c, const struct key *k, const char *value, char *msg,
		    size_t len)
{
	int64_t v[FNL_CONFIG_IDS_MAX];
	int max = k->kind == K_CORES ? FNL_CONFIG_CORES_MAX : FNL_CONFIG_IDS_MAX;
	int n = parse_list(value, v, max);
	if (n < 0)
		return bad(k, value, msg, len);
	if (k->kind == K_CORES) {
		for (int i = 0; i < n; i++)
			c->cores[i] = (int)v[i];
		c->cores_n = n;
		return 0;
	}
	uint32_t *dst = (uint32_t *)((char *)c + k->off);
	for (int i = 0; i < n; i++)
		dst[i] = (uint32_t)v[i];
	if (k->off == F(allowed_uids))
		c->allowed_uids_n = n;
	else
		c->allowed_gids_n = n;
	return 0;
}

static int set_enum(struct fnl_config *c, const struct key *k, const char *value, char *msg,
		    size_t len)
{
	int *dst = (int *)((char *)c + k->off);
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	switch (k->kind) {
	case K_ACKS:
		if (strcmp(value, "all") == 0 || strcmp(value, "-1") == 0)
			*dst = -1;
		else if (strcmp(value, "0") == 0 || strcmp(value, "1") == 0)
			*dst = value[0] - '0';
		else
			return bad(k, value, msg, len);
		return 0;
	case K_CODEC: {
		int codec = fnl_codec_parse(value);
		if (codec < 0)
			return bad(k, value, msg, len);
		*dst = codec;
		return 0;
	}
	case K_PARTITIONER:
		if (strcmp(value, "sticky") == 0)
			c->round_robin = false;
		else if (strcmp(value, "round_robin") == 0)
			c->round_robin = true;
		else
			return bad(k, value, msg, len);
		return 0;
	case K_LOGLEVEL:
		for (int i = 0; i < 4; i++)
			if (strcmp(value, levels[i]) == 0) {
				*dst = i;
				return 0;
			}
		return bad(k, value, msg, len);
	case K_SECPROTO:
		for (int i = FNL_SEC_PLAINTEXT; i <= FNL_SEC_SASL_SSL; i++)
			if (strcasecmp(value, fnl_sec_proto_name(i)) == 0) {
				*dst = i;
				return 0;
			}
		return bad(k, value, msg, len);
	case K_SASLMECH:
		for (int i = FNL_SASL_NONE; i <= FNL_SASL_OAUTHBEARER; i++)
			if (strcasecmp(value, fnl_sasl_mech_name(i)) == 0) {
				*dst = i;
				return 0;
			}
		return bad(k, value, msg, len);
	case K_KTLS:
		for (int i = 0; i < 3; i++)
			if (strcasecmp(value, ktls_modes[i]) == 0) {
				*dst = i;
				return 0;
			}
		return bad(k, value, msg, len);
	case K_EGRESS:
		if (strcmp(value, "uring") == 0)
			*dst = FNL_EGRESS_URING;
		else if (strcmp(value, "dpdk") == 0)
			*dst = FNL_EGRESS_DPDK;
		else
			return bad(k, value, msg, len);
		return 0;
	case K_ENDPOINT:
		if (strcasecmp(value, "https") == 0)
			c->ssl_verify_host = true;
		else if (strcasecmp(value, "none") == 0 || value[0] == '\0')
			c->ssl_verify_host = false;
		else
			return bad(k, value, msg, len);
		return 0;
	default:
		return bad(k, value, msg, len);
	}
}

const char *fnl_sec_proto_name(int p)
{
	static const char *const names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
	return p >= 0 && p <= FNL_SEC_SASL_SSL ? names[p] : "?";
}

const char *fnl_sasl_mech_name(int m)
{
	static const char *const names[] = {"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512",
					    "OAUTHBEARER"};
	return m >= 0 && m <= FNL_SASL_OAUTHBEARER ? names[m] : "?";
}

/* PEM text; a literal backslash-n (as a one-line properties value carries it)
 * becomes a newline. */
static int set_pem(char *dst, const char *key, const char *value, char *msg, size_t len)
{
	size_t n = 0;
	for (const char *p = value; *p; p++) {
		char ch = *p;
		if (p[0] == '\\' && p[1] == 'n') {
			ch = '\n';
			p++;
		}
		if (n + 1 >= FNL_CONFIG_PEM_MAX)
			return say(msg, len, "%s: value longer than %d bytes", key,
				   FNL_CONFIG_PEM_MAX - 1);
		dst[n++] = ch;
	}
	dst[n] = '\0';
	return 0;
}

int fnl_config_set(struct fnl_config *c, const char *key, const char *value, char *msg,
		   size_t len)
{
	const struct key *k = find_key(key);
	if (!k) {
		const char *s = suggest(key);
		if (s)
			say(msg, len, "unknown key '%s' (did you mean '%s'?)", key, s);
		else
			say(msg, len, "unknown key '%s'", key);
		return -ENOENT;
	}
	char *field = (char *)c + k->off;
	int64_t v;
	bool b;
	switch (k->kind) {
	case K_INT:
	case K_I64:
		if (parse_i64(value, &v) < 0 || v < k->min || v > k->max)
			return bad(k, value, msg, len);
		if (k->kind == K_INT)
			*(int *)field = (int)v;
		else
			*(int64_t *)field = v;
		return 0;
	case K_BOOL:
		if (parse_bool(value, &b) < 0)
			return bad(k, value, msg, len);
		*(bool *)field = b;
		return 0;
	case K_STR:
	case K_SECRET:
		if (strlen(value) >= FNL_CONFIG_STR_MAX)
			return say(msg, len, "%s: value longer than %d bytes", key,
				   FNL_CONFIG_STR_MAX - 1);
		if (k->kind == K_SECRET && strcmp(value, FNL_REDACTED) == 0)
			return say(msg, len, "%s: '%s' is what a dump shows, not the secret", key,
				   FNL_REDACTED);
		strcpy(field, value);
		return 0;
	case K_PEM:
		return set_pem(field, key, value, msg, len);
	case K_CORES:
	case K_IDS:
		return set_list(c, k, value, msg, len);
	default:
		return set_enum(c, k, value, msg, len);
	}
}

void fnl_config_defaults(struct fnl_config *c)
{
	char msg[FNL_CONFIG_MSG_MAX];
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++) {
		int rc = fnl_config_set(c, keys[i].name, keys[i].def, msg, sizeof(msg));
		(void)rc; /* defaults are checked by the unit test */
	}
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int fnl_config_set_kv(struct fnl_config *c, const char *kv, char *msg, size_t len)
{
	char buf[FNL_CONFIG_PEM_MAX + FNL_CONFIG_STR_MAX];
	if (strlen(kv) >= sizeof(buf))
		return say(msg, len, "setting too long: '%.40s...'", kv);
	strcpy(buf, kv);
	char *eq = strchr(buf, '=');
	if (!eq)
		return say(msg, len, "'%s' is not key=value", kv);
	*eq = '\0';
	return fnl_config_set(c, trim(buf), trim(eq + 1), msg, len);
}

int fnl_config_load_file(struct fnl_config *c, const char *path, char *msg, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int err = errno;
		say(msg, len, "cannot open %s: %s", path, strerror(err));
		return -err;
	}
	char line[FNL_CONFIG_PEM_MAX + FNL_CONFIG_STR_MAX + 2];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == '!')
			continue;
		char *sep = s + strcspn(s, "=:");
		if (*sep == '\0') {
			rc = say(msg, len, "%s:%d: '%s' is not key=value", path, lineno, s);
			break;
		}
		*sep = '\0';
		char inner[FNL_CONFIG_MSG_MAX];
		rc = fnl_config_set(c, trim(s), trim(sep + 1), inner, sizeof(inner));
		if (rc < 0) {
			say(msg, len, "%s:%d: %s", path, lineno, inner);
			break;
		}
	}
	fclose(f);
	return rc;
}

/* A file a key names must be readable now (the daemon reads it again later). */
static int readable(const char *key, const char *path, char *msg, size_t len)
{
	if (access(path, R_OK) < 0)
		return say(msg, len, "%s=%s: cannot read: %s", key, path, strerror(errno));
	return 0;
}

static int finish_ssl(const struct fnl_config *c, char *msg, size_t len)
{
	const char *proto = fnl_sec_proto_name(c->security_protocol);
	bool tls = fnl_sec_tls(c->security_protocol);
	static const struct {
		const char *key;
		size_t off;
	} files[] = {{"ssl.ca.location", F(ssl_ca_location)},
		     {"ssl.certificate.location", F(ssl_certificate_location)},
		     {"ssl.key.location", F(ssl_key_location)}};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *v = (const char *)c + files[i].off;
		if (v[0] == '\0')
			continue;
		if (!tls)
			return say(msg, len,
				   "%s is set but security.protocol=%s does not use TLS: set "
				   "security.protocol=SSL (or SASL_SSL) or remove %s",
				   files[i].key, proto, files[i].key);
		if (readable(files[i].key, v, msg, len) < 0)
			return -EINVAL;
	}
	if (!tls && c->ssl_ktls == 2)
		return say(msg, len,
			   "funnel.ssl.ktls=required but security.protocol=%s does not use TLS: set "
			   "security.protocol=SSL (or SASL_SSL) or funnel.ssl.ktls=auto",
			   proto);
	if (tls && c->uring_rx_direct)
		return say(msg, len,
			   "security.protocol=%s needs the provided-buffer receive path: remove "
			   "funnel.uring.rx.direct=true",
			   proto);
	if (!tls && c->ssl_ca_pem[0])
		return say(msg, len,
			   "ssl.ca.pem is set but security.protocol=%s does not use TLS", proto);
	if (c->ssl_ca_pem[0] && c->ssl_ca_location[0])
		return say(msg, len, "ssl.ca.location and ssl.ca.pem are both set: set one of them");
	if (!c->ssl_certificate_location[0] != !c->ssl_key_location[0])
		return say(msg, len,
			   "ssl.certificate.location and ssl.key.location go together (mTLS): "
			   "%s is set, %s is not",
			   c->ssl_key_location[0] ? "ssl.key.location" : "ssl.certificate.location",
			   c->ssl_key_location[0] ? "ssl.certificate.location" : "ssl.key.location");
	if (c->ssl_key_password[0] && !c->ssl_key_location[0])
		return say(msg, len, "ssl.key.password is set without ssl.key.location");
	return 0;
}

static int finish_sasl(const struct fnl_config *c, char *msg, size_t len)
{
	const char *proto = fnl_sec_proto_name(c->security_protocol);
	const char *mech = fnl_sasl_mech_name(c->sasl_mechanism);
	if (!fnl_sec_sasl(c->security_protocol)) {
		if (c->sasl_mechanism != FNL_SASL_NONE)
			return say(msg, len,
				   "sasl.mechanism=%s is set but security.protocol=%s does not use "
				   "SASL: set security.protocol=SASL_SSL (or SASL_PLAINTEXT) or "
				   "remove sasl.mechanism",
				   mech, proto);
		return 0;
	}
	if (c->sasl_mechanism == FNL_SASL_NONE)
		return say(msg, len,
			   "security.protocol=%s needs sasl.mechanism (PLAIN, SCRAM-SHA-256, "
			   "SCRAM-SHA-512 or OAUTHBEARER)",
			   proto);
	if (c->sasl_mechanism == FNL_SASL_OAUTHBEARER) {
		if (!c->sasl_token_file[0] && !c->sasl_unsecure_jwt)
			return say(msg, len,
				   "sasl.mechanism=OAUTHBEARER needs "
				   "funnel.sasl.oauthbearer.token.file (or, in tests, "
				   "enable.sasl.oauthbearer.unsecure.jwt=true)");
		if (c->sasl_token_file[0] && c->sasl_unsecure_jwt)
			return say(msg, len,
				   "funnel.sasl.oauthbearer.token.file and "
				   "enable.sasl.oauthbearer.unsecure.jwt=true are both set: set one");
		if (c->sasl_token_file[0])
			return readable("funnel.sasl.oauthbearer.token.file", c->sasl_token_file,
					msg, len);
		return 0;
	}
	if (!c->sasl_username[0])
		return say(msg, len, "sasl.mechanism=%s needs sasl.username", mech);
	if (!c->sasl_password[0] && !c->sasl_password_file[0])
		return say(msg, len,
			   "sasl.mechanism=%s needs sasl.password or funnel.sasl.password.file",
			   mech);
	if (c->sasl_password[0] && c->sasl_password_file[0])
		return say(msg, len,
			   "sasl.password and funnel.sasl.password.file are both set: set one");
	if (c->sasl_password_file[0])
		return readable("funnel.sasl.password.file", c->sasl_password_file, msg,
				len);
	return 0;
}

static int ipv4(const char *key, const char *v, uint32_t *out, char *msg, size_t len)
{
	struct in_addr a;
	if (inet_pton(AF_INET, v, &a) != 1)
		return say(msg, len, "%s='%s' is not an IPv4 address (a.b.c.d)", key, v);
	*out = ntohl(a.s_addr);
	return 0;
}

/* funnel.egress=dpdk: built in, and funnel.dpdk.* complete and consistent. */
static int finish_egress(const struct fnl_config *c, char *msg, size_t len)
{
	if (c->egress != FNL_EGRESS_DPDK) {
		if (c->dpdk_eal_args[0] || c->dpdk_ip[0] || c->dpdk_gateway[0])
			return say(msg, len,
				   "funnel.dpdk.* is set but funnel.egress=uring: set "
				   "funnel.egress=dpdk or remove the funnel.dpdk.* settings");
		return 0;
	}
	if (!fnl_engine_built(FNL_EGRESS_DPDK))
		return say(msg, len,
			   "funnel.egress=dpdk: this funneld was built without DPDK (build it "
			   "with meson -Ddpdk=enabled)");
	if (!c->dpdk_eal_args[0])
		return say(msg, len,
			   "funnel.egress=dpdk needs funnel.dpdk.eal.args (e.g. -l 1 --no-huge "
			   "--no-pci --no-shconf -m 256 --vdev=net_af_xdp0,iface=eth1)");
	if (!c->dpdk_ip[0])
		return say(msg, len, "funnel.egress=dpdk needs funnel.dpdk.ip (funneld's address)");
	uint32_t ip = 0, mask = 0, gw = 0;
	if (ipv4("funnel.dpdk.ip", c->dpdk_ip, &ip, msg, len) < 0 ||
	    ipv4("funnel.dpdk.netmask", c->dpdk_netmask, &mask, msg, len) < 0)
		return -EINVAL;
	if (mask == 0 || (~mask & (~mask + 1)) != 0)
		return say(msg, len, "funnel.dpdk.netmask='%s' is not a netmask (e.g. 255.255.255.0)",
			   c->dpdk_netmask);
	if (c->dpdk_gateway[0]) {
		if (ipv4("funnel.dpdk.gateway", c->dpdk_gateway, &gw, msg, len) < 0)
			return -EINVAL;
		if ((gw & mask) != (ip & mask))
			return say(msg, len,
				   "funnel.dpdk.gateway=%s is not on funnel.dpdk.ip's subnet (%s/%s)",
				   c->dpdk_gateway, c->dpdk_ip, c->dpdk_netmask);
	}
	if (c->dpdk_addr_map[0]) {
		char a[FNL_CONFIG_STR_MAX];
		snprintf(a, sizeof(a), "%s", c->dpdk_addr_map);
		char *eq = strchr(a, '=');
		uint32_t x;
		if (!eq)
			return say(msg, len, "funnel.dpdk.addr.map='%s' is not FROM=TO", a);
		*eq = '\0';
		if (ipv4("funnel.dpdk.addr.map (FROM)", a, &x, msg, len) < 0 ||
		    ipv4("funnel.dpdk.addr.map (TO)", eq + 1, &x, msg, len) < 0)
			return -EINVAL;
	}
	if (fnl_sec_tls(c->security_protocol))
		return say(msg, len,
			   "security.protocol=%s: TLS is not offered on funnel.egress=dpdk; use "
			   "funnel.egress=uring",
			   fnl_sec_proto_name(c->security_protocol));
	if (c->cores_n > 1)
		return say(msg, len,
			   "funnel.egress=dpdk runs one data-plane core (one port, one lwIP): give "
			   "funnel.cores one CPU");
	return 0;
}

int fnl_config_finish(struct fnl_config *c, char *msg, size_t len)
{
	if (finish_egress(c, msg, len) < 0)
		return -EINVAL;
	if (finish_ssl(c, msg, len) < 0 || finish_sasl(c, msg, len) < 0)
		return -EINVAL;
	if (c->bootstrap_servers[0] == '\0')
		return say(msg, len, "bootstrap.servers is required (host:port[,host:port...])");
	if (c->socket_path[0] == '\0')
		return say(msg, len, "funnel.socket.path must not be empty");
	if (c->txn_id[0] && !c->enable_idempotence)
		return say(msg, len,
			   "transactional.id is set but enable.idempotence=false: transactions need "
			   "idempotence (set enable.idempotence=true or unset transactional.id)");
	if (c->txn_id[0] && c->acks != -1)
		return say(msg, len,
			   "transactional.id is set but acks=%d: transactions need acks=all", c->acks);
	if (c->enable_idempotence) {
		if (c->acks != -1)
			return say(msg, len,
				   "enable.idempotence=true requires acks=all (got acks=%d); set "
				   "acks=all or enable.idempotence=false",
				   c->acks);
		if (c->max_in_flight > 5)
			return say(msg, len,
				   "enable.idempotence=true requires "
				   "max.in.flight.requests.per.connection <= 5 (got %d)",
				   c->max_in_flight);
		if (c->retries == 0)
			return say(msg, len,
				   "enable.idempotence=true requires retries > 0 (got retries=0)");
	}
	if (c->delivery_timeout_ms < c->linger_ms + c->request_timeout_ms)
		return say(msg, len,
			   "delivery.timeout.ms (%d) must be >= linger.ms + request.timeout.ms (%d)",
			   c->delivery_timeout_ms, c->linger_ms + c->request_timeout_ms);
	if (c->buffer_memory < 4 * (int64_t)c->batch_size)
		return say(msg, len, "buffer.memory (%lld) must hold at least 4 batches of batch.size (%d)",
			   (long long)c->buffer_memory, c->batch_size);
	if (c->client_topics_max == 0)
		c->client_topics_max = c->topics_max / 4 > 0 ? c->topics_max / 4 : 1;
	if (c->max_request_size < c->batch_size)
		return say(msg, len, "max.request.size (%d) must be >= batch.size (%d)",
			   c->max_request_size, c->batch_size);
	if (c->uring_rx_buffers & (c->uring_rx_buffers - 1))
		return say(msg, len, "funnel.uring.rx.buffers (%d) must be a power of two, e.g. %d",
			   c->uring_rx_buffers, 1 << (32 - __builtin_clz((unsigned)c->uring_rx_buffers)));
	return 0;
}

static size_t put_value(const struct fnl_config *c, const struct key *k, char *v, size_t cap)
{
	const char *field = (const char *)c + k->off;
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	switch (k->kind) {
	case K_INT:
		return (size_t)snprintf(v, cap, "%d", *(const int *)field);
	case K_I64:
		return (size_t)snprintf(v, cap, "%lld", (long long)*(const int64_t *)field);
	case K_BOOL:
		return (size_t)snprintf(v, cap, "%s", *(const bool *)field ? "true" : "false");
	case K_STR:
		return (size_t)snprintf(v, cap, "%s", field);
	case K_SECRET:
		return (size_t)snprintf(v, cap, "%s", field[0] ? FNL_REDACTED : "");
	case K_PEM: /* one line, as set_pem reads it back */
	{
		size_t n = 0;
		for (const char *p = field; *p; p++) {
			const char *piece = *p == '\n' ? "\\n" : NULL;
			size_t pl = piece ? 2 : 1;
			if (n + pl < cap)
				memcpy(v + n, piece ? piece : p, pl);
			n += pl;
		}
		if (cap)
			v[n < cap ? n : cap - 1] = '\0';
		return n;
	}
	case K_SECPROTO:
		return (size_t)snprintf(v, cap, "%s", fnl_sec_proto_name(c->security_protocol));
	case K_SASLMECH:
		return (size_t)snprintf(v, cap, "%s", fnl_sasl_mech_name(c->sasl_mechanism));
	case K_ENDPOINT:
		return (size_t)snprintf(v, cap, "%s", c->ssl_verify_host ? "https" : "none");
	case K_KTLS:
		return (size_t)snprintf(v, cap, "%s", ktls_modes[*(const int *)field % 3]);
	case K_EGRESS:
		return (size_t)snprintf(v, cap, "%s", c->egress == FNL_EGRESS_DPDK ? "dpdk" : "uring");
	case K_ACKS:
		return (size_t)snprintf(v, cap, "%s", c->acks == -1 ? "all" : c->acks ? "1" : "0");
	case K_CODEC:
		return (size_t)snprintf(v, cap, "%s", fnl_codec_name(c->compression_type));
	case K_PARTITIONER:
		return (size_t)snprintf(v, cap, "%s", c->round_robin ? "round_robin" : "sticky");
	case K_LOGLEVEL:
		return (size_t)snprintf(v, cap, "%s", levels[c->log_level & 3]);
	case K_CORES:
	case K_IDS: {
		size_t n = 0;
		int cnt = k->kind == K_CORES ? c->cores_n
			  : k->off == F(allowed_uids) ? c->allowed_uids_n
						      : c->allowed_gids_n;
		for (int i = 0; i < cnt && n < cap; i++) {
			long long x = k->kind == K_CORES ? (long long)c->cores[i]
						       : (long long)((const uint32_t *)field)[i];
			n += (size_t)snprintf(v + n, cap - n, "%s%lld", i ? "," : "", x);
		}
		if (cnt == 0 && cap)
			v[0] = '\0';
		return n;
	}
	}
	return 0;
}

size_t fnl_config_dump(const struct fnl_config *c, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		char v[2 * FNL_CONFIG_PEM_MAX];
		put_value(c, &keys[i], v, sizeof(v));
		int w = snprintf(n < cap ? out + n : NULL, n < cap ? cap - n : 0, "%s=%s\n",
				 keys[i].name, v);
		n += (size_t)w;
	}
	return n;
}
