/* Interop with the system CLIs: streams written by gzip/lz4/zstd (including
 * streaming mode without content size and concatenated frames) decode, and our
 * output decodes with the CLI. Usage: test_interop gzip|lz4|zstd.
 * Exits 77 (meson: SKIP) with a clear reason when the CLI is not installed. */
#include "dataplane/compress/compress.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "testdata.h"

#define INPUT_BYTES 300000u
#define OUT_CAP     (4u * INPUT_BYTES)

static char dir[] = "/tmp/fnl-interop-XXXXXX";
static uint8_t input[INPUT_BYTES], buf[OUT_CAP], out[OUT_CAP];

static int have_tool(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void run(const char *fmt, const char *arg)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cd %s && ", dir);
	size_t n = strlen(cmd);
	snprintf(cmd + n, sizeof(cmd) - n, fmt, arg);
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	CHECK_EQ(rc, 0);
}

static size_t read_file(const char *name, uint8_t *dst, size_t cap)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	CHECK(f);
	size_t n = fread(dst, 1, cap, f);
	CHECK(n < cap); /* whole file fits */
	fclose(f);
	return n;
}

static void write_file(const char *name, const void *p, size_t n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CHECK(f);
	CHECK_EQ(fwrite(p, 1, n, f), n);
	CHECK_EQ(fclose(f), 0);
}

/* Run `cmd` (which writes file "z" from "in"), decode "z", expect `copies` x input. */
static void expect_decodes(struct fnl_compressor *c, enum fnl_codec codec, const char *cmd,
                           const char *tool, int copies)
{
	run(cmd, tool);
	size_t n = read_file("z", buf, sizeof(buf));
	long r = fnl_decompress(c, codec, buf, n, out, sizeof(out));
	if (r != (long)(copies * INPUT_BYTES))
		fprintf(stderr, "`%s` (%zu bytes) decoded to %ld\n", cmd, n, r);
	CHECK_EQ(r, (long)(copies * INPUT_BYTES));
	for (int i = 0; i < copies; i++)
		CHECK_MEM(out + (size_t)i * INPUT_BYTES, input, INPUT_BYTES);
	/* one byte short of room */
	CHECK_EQ(fnl_decompress(c, codec, buf, n, out, (size_t)r - 1), -ENOSPC);
	printf("ok: %s\n", cmd);
}

/* Our stream, decoded by the CLI. */
static void expect_tool_decodes(struct fnl_compressor *c, enum fnl_codec codec, int level,
                                const char *tool)
{
	long n = fnl_compress(c, codec, level, input, sizeof(input), buf, sizeof(buf));
	CHECK(n > 0);
	write_file("ours", buf, (size_t)n);
	run("%s -d -c < ours > back", tool);
	CHECK_EQ(read_file("back", out, sizeof(out)), INPUT_BYTES);
	CHECK_MEM(out, input, INPUT_BYTES);
	printf("ok: %s -d decodes our %s level %d\n", tool, fnl_codec_name(codec), level);
}

static void gzip_cases(struct fnl_compressor *c)
{
	expect_decodes(c, FNL_CODEC_GZIP, "%s -c in > z", "gzip", 1);
	expect_decodes(c, FNL_CODEC_GZIP, "%s -9 -n -c < in > z", "gzip", 1);
	expect_decodes(c, FNL_CODEC_GZIP, "(%1$s -1 -c in; %1$s -c in) > z", "gzip", 2);
	expect_tool_decodes(c, FNL_CODEC_GZIP, -1, "gzip");
	expect_tool_decodes(c, FNL_CODEC_GZIP, 1, "gzip");
}

static void lz4_cases(struct fnl_compressor *c)
{
	expect_decodes(c, FNL_CODEC_LZ4, "%s -q -c in > z", "lz4", 1);
	expect_decodes(c, FNL_CODEC_LZ4, "%s -q -B4 -BD -c < in > z", "lz4", 1);
	expect_decodes(c, FNL_CODEC_LZ4, "%s -q -B7 --content-size -BX -c in > z", "lz4", 1);
	expect_decodes(c, FNL_CODEC_LZ4, "%s -q -9 --no-frame-crc -c in > z", "lz4", 1);
	expect_decodes(c, FNL_CODEC_LZ4, "(%1$s -q -c in; %1$s -q -B4 -c in) > z", "lz4", 2);
	expect_tool_decodes(c, FNL_CODEC_LZ4, 0, "lz4");
	expect_tool_decodes(c, FNL_CODEC_LZ4, 9, "lz4");
}

static void zstd_cases(struct fnl_compressor *c)
{
	expect_decodes(c, FNL_CODEC_ZSTD, "%s -q -c in > z", "zstd", 1);
	/* from a pipe the CLI does not know the size: frame without content size */
	expect_decodes(c, FNL_CODEC_ZSTD, "cat in | %s -q -c > z", "zstd", 1);
	expect_decodes(c, FNL_CODEC_ZSTD, "cat in | %s -q -19 --no-check -c > z", "zstd", 1);
	expect_decodes(c, FNL_CODEC_ZSTD, "%s -q -1 --long=24 -c in > z", "zstd", 1);
	expect_decodes(c, FNL_CODEC_ZSTD, "(%1$s -q -c in; cat in | %1$s -q -3 -c) > z", "zstd", 2);
	expect_tool_decodes(c, FNL_CODEC_ZSTD, 0, "zstd");
	expect_tool_decodes(c, FNL_CODEC_ZSTD, 1, "zstd");
	expect_tool_decodes(c, FNL_CODEC_ZSTD, 19, "zstd");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s gzip|lz4|zstd\n", argv[0]);
		return 2;
	}
	const char *tool = argv[1];
	if (!have_tool(tool)) {
		printf("SKIP: the `%s` CLI is not installed (apt-get install %s)\n", tool, tool);
		return 77;
	}
	CHECK(mkdtemp(dir));
	td_json_like(input, sizeof(input), 4242);
	write_file("in", input, sizeof(input));
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c);
	if (strcmp(tool, "gzip") == 0)
		gzip_cases(c);
	else if (strcmp(tool, "lz4") == 0)
		lz4_cases(c);
	else if (strcmp(tool, "zstd") == 0)
		zstd_cases(c);
	else
		CHECK(!"unknown tool");
	fnl_compressor_free(c);
	run("rm -f in z ours back && cd / && rmdir %s", dir);
	return 0;
}
