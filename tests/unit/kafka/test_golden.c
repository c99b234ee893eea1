/* test_golden.c - decode the checked-in RecordBatches that librdkafka 2.0.2 wrote
 * (vectors/rdkafka-<codec>.bin, captured by rdk_capture) and check the golden records.
 *   test_golden VECTOR_DIR */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "golden_records.h"

static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	CHECK(argc == 2);
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c != NULL);
	for (int i = 0; i < 5; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/rdkafka-%s.bin", argv[1], codecs[i]);
		FILE *f = fopen(path, "rb");
		if (!f) {
			fprintf(stderr, "%s: missing\n", path);
			return 1;
		}
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		CHECK(n > FNL_RB_HEADER_BYTES);
		golden_check_buf(buf, n, c, i);
		/* a flipped byte in the records is caught by the CRC */
		buf[n - 1] ^= 1;
		CHECK_EQ(fnl_rb_decode(buf, n, c, NULL, 0, NULL, NULL, NULL), -EPROTO);
	}
	fnl_compressor_free(c);
	return 0;
}
