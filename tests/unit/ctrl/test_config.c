/* test_config.c - settings: defaults, file parsing, overrides, and the
 * messages a person gets for bad input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ctrl/config.h"
#include "dataplane/compress/compress.h"
#include "dataplane/net/engine.h"

static char msg[FNL_CONFIG_MSG_MAX];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f);
	fputs(text, f);
	fclose(f);
}

static void test_defaults(void)
{
	struct fnl_config c;
	fnl_config_defaults(&c);
	CHECK_EQ(c.acks, -1);
	CHECK(c.enable_idempotence);
	CHECK_EQ(c.max_in_flight, 5);
	CHECK_EQ(c.retries, 2147483647);
	CHECK_EQ(c.linger_ms, 5);
	CHECK_EQ(c.batch_size, 65536);
	CHECK_EQ(c.buffer_memory, 33554432);
	CHECK_EQ(c.max_block_ms, 60000);
	CHECK_EQ(c.delivery_timeout_ms, 120000);
	CHECK_EQ(c.request_timeout_ms, 30000);
	CHECK_EQ(c.retry_backoff_ms, 100);
	CHECK_EQ(c.metadata_max_age_ms, 300000);
	CHECK_EQ(c.compression_type, FNL_CODEC_ZSTD);
	CHECK_EQ(c.compression_zstd_level, 1);
	CHECK(strcmp(c.client_id, "funnel") == 0);
	CHECK(strcmp(c.socket_path, "/run/funnel/funnel.sock") == 0);
	/* defaults alone lack bootstrap.servers: a clear message */
	CHECK(fnl_config_finish(&c, msg, sizeof(msg)) < 0);
	CHECK(strstr(msg, "bootstrap.servers"));
}

static void test_file_and_overrides(void)
{
	char path[] = "/tmp/fnl-config-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	write_file(path, "# comment\n! also a comment\n\nbootstrap.servers = 127.0.0.1:9092\n"
			 "linger.ms=20\ncompression.type: lz4\nfunnel.cores=1\nacks=all\n");
	struct fnl_config c;
	fnl_config_defaults(&c);
	CHECK_EQ(fnl_config_load_file(&c, path, msg, sizeof(msg)), 0);
	CHECK(strcmp(c.bootstrap_servers, "127.0.0.1:9092") == 0);
	CHECK_EQ(c.linger_ms, 20);
	CHECK_EQ(c.compression_type, FNL_CODEC_LZ4);
	CHECK_EQ(c.cores_n, 1);
	CHECK_EQ(c.cores[0], 1);
	CHECK_EQ(fnl_config_set_kv(&c, "linger.ms=7", msg, sizeof(msg)), 0);
	CHECK_EQ(c.linger_ms, 7);
	CHECK_EQ(fnl_config_finish(&c, msg, sizeof(msg)), 0);
	char dump[8192];
	size_t n = fnl_config_dump(&c, dump, sizeof(dump));
	CHECK(n < sizeof(dump));
	CHECK(strstr(dump, "linger.ms=7\n"));
	CHECK(strstr(dump, "compression.type=lz4\n"));
	/* a dump loads back to the same settings */
	write_file(path, dump);
	struct fnl_config c2;
	fnl_config_defaults(&c2);
	CHECK_EQ(fnl_config_load_file(&c2, path, msg, sizeof(msg)), 0);
	CHECK_EQ(c2.linger_ms, 7);
	CHECK_EQ(c2.compression_type, FNL_CODEC_LZ4);
	unlink(path);
}

static void test_errors(void)
{
	struct fnl_config c;
	fnl_config_defaults(&c);
	CHECK_EQ(fnl_config_set(&c, "lingerms", "5", msg, sizeof(msg)), -ENOENT);
	CHECK(strstr(msg, "unknown key 'lingerms'"));
	CHECK(strstr(msg, "did you mean 'linger.ms'"));
	CHECK_EQ(fnl_config_set(&c, "linger.ms", "abc", msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "linger.ms") && strstr(msg, "'abc'") && strstr(msg, "allowed"));
	CHECK_EQ(fnl_config_set(&c, "batch.size", "10", msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(fnl_config_set(&c, "compression.type", "brotli", msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "zstd"));
	CHECK_EQ(fnl_config_set(&c, "acks", "2", msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(fnl_config_set(&c, "enable.idempotence", "yes", msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(fnl_config_set(&c, "funnel.cores", "1,,2", msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(fnl_config_set_kv(&c, "novalue", msg, sizeof(msg)), -EINVAL);
	/* idempotence rules name the settings */
	CHECK_EQ(fnl_config_set(&c, "bootstrap.servers", "h:1", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "acks", "1", msg, sizeof(msg)), 0);
	CHECK(fnl_config_finish(&c, msg, sizeof(msg)) < 0);
	CHECK(strstr(msg, "enable.idempotence=true requires acks=all"));
	CHECK_EQ(fnl_config_set(&c, "enable.idempotence", "false", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_finish(&c, msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "enable.idempotence", "true", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "acks", "all", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "max.in.flight.requests.per.connection", "6", msg, sizeof(msg)), 0);
	CHECK(fnl_config_finish(&c, msg, sizeof(msg)) < 0);
	CHECK(strstr(msg, "max.in.flight.requests.per.connection <= 5"));
	/* the engine's receive buffers */
	fnl_config_defaults(&c);
	CHECK_EQ(c.uring_rx_buffers, 64);
	CHECK_EQ(c.uring_rx_buffer_bytes, 16384);
	CHECK(!c.uring_rx_direct);
	CHECK_EQ(fnl_config_set(&c, "bootstrap.servers", "h:1", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "funnel.uring.rx.buffers", "100", msg, sizeof(msg)), 0);
	CHECK(fnl_config_finish(&c, msg, sizeof(msg)) < 0);
	CHECK(strstr(msg, "funnel.uring.rx.buffers (100) must be a power of two, e.g. 128"));
	CHECK_EQ(fnl_config_set(&c, "funnel.uring.rx.buffers", "128", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_finish(&c, msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "funnel.uring.rx.buffers", "65536", msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(fnl_config_set(&c, "funnel.uring.rx.buffer.bytes", "512", msg, sizeof(msg)),
		 -EINVAL);
	CHECK_EQ(fnl_config_set(&c, "funnel.uring.rx.direct", "true", msg, sizeof(msg)), 0);
	CHECK(c.uring_rx_direct);
	/* a file error names the file and line */
	char path[] = "/tmp/fnl-config-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	write_file(path, "bootstrap.servers=h:1\nbatch.size=huge\n");
	fnl_config_defaults(&c);
	CHECK(fnl_config_load_file(&c, path, msg, sizeof(msg)) < 0);
	CHECK(strstr(msg, ":2: batch.size"));
	unlink(path);
	CHECK(fnl_config_load_file(&c, "/nonexistent/funnel.properties", msg, sizeof(msg)) < 0);
	CHECK(strstr(msg, "cannot open"));
}

static struct fnl_config sec; /* large (ssl.ca.pem): not on the stack */

static void sec_reset(void)
{
	fnl_config_defaults(&sec);
	CHECK_EQ(fnl_config_set(&sec, "bootstrap.servers", "h:1", msg, sizeof(msg)), 0);
}

static void sec_set(const char *k, const char *v)
{
	if (fnl_config_set(&sec, k, v, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "set %s=%s: %s\n", k, v, msg);
		exit(1);
	}
}

/* finish() fails and the message names every one of the keys given */
static void sec_refused(const char *k1, const char *k2)
{
	CHECK(fnl_config_finish(&sec, msg, sizeof(msg)) < 0);
	if (!strstr(msg, k1) || (k2 && !strstr(msg, k2))) {
		fprintf(stderr, "message '%s' does not name %s %s\n", msg, k1, k2 ? k2 : "");
		exit(1);
	}
}

static void test_security(void)
{
	char pw[] = "/tmp/fnl-pw-XXXXXX";
	int fd = mkstemp(pw);
	CHECK(fd >= 0);
	close(fd);
	write_file(pw, "s3cret\n");

	sec_reset();
	CHECK_EQ(sec.security_protocol, FNL_SEC_PLAINTEXT);
	CHECK(sec.ssl_verify);
	CHECK(sec.ssl_verify_host);
	CHECK_EQ(sec.sasl_mechanism, FNL_SASL_NONE);
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	/* names as librdkafka spells them, case-insensitive */
	sec_set("security.protocol", "SASL_SSL");
	CHECK_EQ(sec.security_protocol, FNL_SEC_SASL_SSL);
	sec_set("security.protocol", "sasl_plaintext");
	CHECK_EQ(sec.security_protocol, FNL_SEC_SASL_PLAINTEXT);
	sec_set("security.protocol", "Ssl");
	CHECK_EQ(sec.security_protocol, FNL_SEC_SSL);
	CHECK_EQ(fnl_config_set(&sec, "security.protocol", "tls", msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "security.protocol") && strstr(msg, "sasl_ssl"));
	sec_set("sasl.mechanisms", "scram-sha-512"); /* the alias */
	CHECK_EQ(sec.sasl_mechanism, FNL_SASL_SCRAM_SHA_512);
	sec_set("sasl.mechanism", "OAUTHBEARER");
	CHECK_EQ(sec.sasl_mechanism, FNL_SASL_OAUTHBEARER);
	CHECK_EQ(fnl_config_set(&sec, "sasl.mechanism", "GSSAPI", msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "SCRAM-SHA-256"));
	sec_set("ssl.endpoint.identification.algorithm", "none");
	CHECK(!sec.ssl_verify_host);
	sec_set("ssl.endpoint.identification.algorithm", "HTTPS");
	CHECK(sec.ssl_verify_host);
	CHECK_EQ(fnl_config_set(&sec, "ssl.endpoint.identification.algorithm", "dns", msg,
				sizeof(msg)),
		 -EINVAL);

	/* incompatible combinations name the keys */
	sec_reset();
	sec_set("security.protocol", "sasl_ssl");
	sec_refused("security.protocol=SASL_SSL", "sasl.mechanism");
	sec_set("sasl.mechanism", "PLAIN");
	sec_refused("sasl.mechanism=PLAIN", "sasl.username");
	sec_set("sasl.username", "alice");
	sec_refused("sasl.password", "funnel.sasl.password.file");
	sec_set("sasl.password", "pw");
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	sec_set("funnel.sasl.password.file", pw);
	sec_refused("sasl.password", "funnel.sasl.password.file");
	sec_set("sasl.password", "");
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	sec_set("funnel.sasl.password.file", "/nonexistent/pw");
	sec_refused("funnel.sasl.password.file=/nonexistent/pw", "cannot read");
	sec_reset();
	sec_set("sasl.mechanism", "SCRAM-SHA-256");
	sec_refused("sasl.mechanism=SCRAM-SHA-256", "security.protocol=PLAINTEXT");
	sec_reset();
	sec_set("security.protocol", "sasl_plaintext");
	sec_set("sasl.mechanism", "OAUTHBEARER");
	sec_refused("funnel.sasl.oauthbearer.token.file", NULL);
	sec_set("enable.sasl.oauthbearer.unsecure.jwt", "true");
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	sec_set("funnel.sasl.oauthbearer.token.file", pw);
	sec_refused("funnel.sasl.oauthbearer.token.file", "unsecure.jwt");
	/* TLS files */
	sec_reset();
	sec_set("ssl.ca.location", pw);
	sec_refused("ssl.ca.location", "security.protocol=PLAINTEXT");
	sec_set("security.protocol", "ssl");
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	sec_set("funnel.uring.rx.direct", "true");
	sec_refused("security.protocol=SSL", "funnel.uring.rx.direct");
	sec_set("funnel.uring.rx.direct", "false");
	sec_set("ssl.ca.location", "/nonexistent/ca.pem");
	sec_refused("ssl.ca.location=/nonexistent/ca.pem", "cannot read");
	sec_set("ssl.ca.location", "");
	sec_set("ssl.key.location", pw);
	sec_refused("ssl.certificate.location", "ssl.key.location");
	sec_set("ssl.certificate.location", pw);
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	sec_set("ssl.ca.location", pw);
	sec_set("ssl.ca.pem", "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n");
	CHECK(strcmp(sec.ssl_ca_pem, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
				     "CERTIFICATE-----\n") == 0);
	sec_refused("ssl.ca.location", "ssl.ca.pem");

	/* secrets never appear in a dump; a dump of a secret does not load back */
	sec_reset();
	sec_set("security.protocol", "sasl_ssl");
	sec_set("sasl.mechanism", "SCRAM-SHA-512");
	sec_set("sasl.username", "alice");
	sec_set("sasl.password", "hunter2-pw");
	sec_set("ssl.key.password", "keypass-xyz");
	sec_refused("ssl.key.password", "ssl.key.location");
	sec_set("ssl.key.location", pw);
	sec_set("ssl.certificate.location", pw);
	sec_set("ssl.ca.pem", "A\\nB");
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	size_t need = fnl_config_dump(&sec, NULL, 0) + 1;
	char *dump = malloc(need);
	CHECK(dump);
	fnl_config_dump(&sec, dump, need);
	CHECK(!strstr(dump, "hunter2"));
	CHECK(!strstr(dump, "keypass"));
	CHECK(strstr(dump, "sasl.password=[redacted]\n"));
	CHECK(strstr(dump, "ssl.key.password=[redacted]\n"));
	CHECK(strstr(dump, "security.protocol=SASL_SSL\n"));
	CHECK(strstr(dump, "sasl.mechanism=SCRAM-SHA-512\n"));
	CHECK(strstr(dump, "ssl.ca.pem=A\\nB\n"));
	CHECK(strstr(dump, "ssl.endpoint.identification.algorithm=https\n"));
	free(dump);
	CHECK_EQ(fnl_config_set(&sec, "sasl.password", "[redacted]", msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "sasl.password"));
	unlink(pw);
}

/* funnel.egress and funnel.dpdk.*: what the DPDK egress needs, and what it refuses */
static void test_egress(void)
{
	sec_reset();
	CHECK_EQ(sec.egress, FNL_EGRESS_URING);
	sec_set("funnel.dpdk.ip", "10.0.0.2");
	sec_refused("funnel.dpdk.*", "funnel.egress=uring");
	sec_set("funnel.egress", "dpdk");
	CHECK_EQ(fnl_config_set(&sec, "funnel.egress", "xdp", msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(fnl_config_set(&sec, "funnel.dpdk.mtu", "9000", msg, sizeof(msg)), -EINVAL);
	if (!fnl_engine_built(FNL_EGRESS_DPDK)) {
		sec_refused("funnel.egress=dpdk", "built without DPDK");
		return;
	}
	sec_refused("funnel.egress=dpdk", "funnel.dpdk.eal.args");
	sec_set("funnel.dpdk.eal.args", "--no-huge --vdev=net_af_packet0,iface=x");
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	sec_set("funnel.dpdk.ip", "10.0.0.300");
	sec_refused("funnel.dpdk.ip='10.0.0.300'", "IPv4");
	sec_set("funnel.dpdk.ip", "10.0.0.2");
	sec_set("funnel.dpdk.netmask", "255.0.255.0");
	sec_refused("funnel.dpdk.netmask", "not a netmask");
	sec_set("funnel.dpdk.netmask", "255.255.255.0");
	sec_set("funnel.dpdk.gateway", "10.0.1.1");
	sec_refused("funnel.dpdk.gateway=10.0.1.1", "subnet");
	sec_set("funnel.dpdk.gateway", "10.0.0.1");
	sec_set("funnel.dpdk.addr.map", "127.0.0.1");
	sec_refused("funnel.dpdk.addr.map", "FROM=TO");
	sec_set("funnel.dpdk.addr.map", "127.0.0.1=10.0.0.1");
	CHECK_EQ(fnl_config_finish(&sec, msg, sizeof(msg)), 0);
	sec_set("funnel.cores", "1,2");
	sec_refused("funnel.egress=dpdk", "funnel.cores");
	sec_set("funnel.cores", "1");
	sec_set("security.protocol", "ssl");
	sec_refused("security.protocol=SSL", "funnel.egress=dpdk");
}

int main(void)
{
	test_egress();
	test_security();
	test_defaults();
	test_file_and_overrides();
	test_errors();
	puts("config: ok");
	return 0;
}
