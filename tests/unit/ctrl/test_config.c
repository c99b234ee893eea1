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

int main(void)
{
	test_defaults();
	test_file_and_overrides();
	test_errors();
	puts("config: ok");
	return 0;
}
