/* test_crc32c.c - CRC-32C known answers, chaining, hardware vs portable path. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "dataplane/kafka/crc32c.h"

int main(void)
{
	const char *kat = "123456789";
	CHECK_EQ(fnl_crc32c_sw(0, kat, 9), 0xE3069283u);
	CHECK_EQ(fnl_crc32c(0, kat, 9), 0xE3069283u);
	CHECK_EQ(fnl_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros -> 0x8A9136AA, 32 bytes of 0xff -> 0x62A8AB43 */
	uint8_t z[32], f[32];
	memset(z, 0, sizeof(z));
	memset(f, 0xff, sizeof(f));
	CHECK_EQ(fnl_crc32c_sw(0, z, 32), 0x8A9136AAu);
	CHECK_EQ(fnl_crc32c_sw(0, f, 32), 0x62A8AB43u);
	CHECK_EQ(fnl_crc32c(0, z, 32), 0x8A9136AAu);
	CHECK_EQ(fnl_crc32c(0, f, 32), 0x62A8AB43u);

	if (fnl_crc32c_hw_available()) {
		CHECK_EQ(fnl_crc32c_hw(0, kat, 9), 0xE3069283u);
		CHECK_EQ(fnl_crc32c_hw(0, z, 32), 0x8A9136AAu);
	} else {
		fprintf(stderr, "note: no SSE4.2, hardware path not tested\n");
	}

	/* chaining and all alignments/lengths: hw == sw == chained */
	static uint8_t buf[4096 + 16];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 9; off++) {
		for (size_t len = 0; len < 300; len += 7) {
			uint32_t s = fnl_crc32c_sw(0, buf + off, len);
			CHECK_EQ(fnl_crc32c(0, buf + off, len), s);
			if (fnl_crc32c_hw_available())
				CHECK_EQ(fnl_crc32c_hw(0, buf + off, len), s);
			for (size_t cut = 0; cut <= len; cut += 13) {
				uint32_t a = fnl_crc32c(0, buf + off, cut);
				CHECK_EQ(fnl_crc32c(a, buf + off + cut, len - cut), s);
				uint32_t b = fnl_crc32c_sw(0, buf + off, cut);
				CHECK_EQ(fnl_crc32c_sw(b, buf + off + cut, len - cut), s);
			}
		}
	}
	CHECK_EQ(fnl_crc32c(0, buf, 4096), fnl_crc32c_sw(0, buf, 4096));
	CHECK_EQ(fnl_crc32c(fnl_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	return 0;
}
