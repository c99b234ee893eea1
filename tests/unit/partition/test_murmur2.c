/* murmur2 and the key partitioner against the Java client's known values. */
#include "dataplane/partition/partition.h"

#include <errno.h>
#include <string.h>

#include "check.h"

struct vector {
	const char *key;
	int32_t murmur2;
};

/* org.apache.kafka.common.utils.UtilsTest#testMurmur2 (UTF-8 bytes of the key). */
static const struct vector java[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

static int32_t java_partition(int32_t h, int32_t nparts)
{
	return (int32_t)(((uint32_t)h & 0x7fffffffu) % (uint32_t)nparts);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(java) / sizeof(java[0]); i++) {
		size_t len = strlen(java[i].key);
		CHECK_EQ(fnl_murmur2(java[i].key, len), java[i].murmur2);
		for (int32_t n = 1; n <= 100; n++)
			CHECK_EQ(fnl_partition_key(java[i].key, len, n),
			         java_partition(java[i].murmur2, n));
	}
	/* every tail length (0..3) and bytes >= 0x80 (Java's signed bytes are masked) */
	uint8_t hi[8] = {0x80, 0xff, 0xfe, 0x90, 0xa5, 0xc3, 0xff, 0x81};
	for (size_t len = 0; len <= sizeof(hi); len++) {
		int32_t h = fnl_murmur2(hi, len);
		int32_t p = fnl_partition_key(hi, len, 7);
		CHECK(p >= 0 && p < 7);
		CHECK_EQ(p, java_partition(h, 7));
	}
	/* empty key: h = seed ^ 0 with no body or tail, then the final mix */
	CHECK_EQ(fnl_murmur2(NULL, 0), fnl_murmur2("", 0));
	CHECK_EQ(fnl_murmur2("", 0), 275646681);
	CHECK_EQ(fnl_partition_key("abc", 3, 0), -EINVAL);
	CHECK_EQ(fnl_partition_key("abc", 3, -3), -EINVAL);
	CHECK_EQ(fnl_partition_key("abc", 3, 1), 0);
	printf("ok\n");
	return 0;
}
