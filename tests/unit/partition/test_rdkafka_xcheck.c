/* fnl_partition_key agrees with librdkafka's Java-compatible murmur2 partitioner
 * for 10,000 random keys and every partition count 1..64. */
#include "dataplane/partition/partition.h"

#include <stdint.h>
#include <stdio.h>

#include "check.h"

#ifdef FNL_HAVE_RDKAFKA
#include <librdkafka/rdkafka.h>

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

int main(void)
{
	uint64_t x = 0x1234567887654321ull;
	uint8_t key[300];
	for (int i = 0; i < 10000; i++) {
		size_t len = (size_t)(rnd(&x) % sizeof(key));
		for (size_t j = 0; j < len; j++)
			key[j] = (uint8_t)rnd(&x);
		for (int32_t n = 1; n <= 64; n++) {
			/* murmur2 ignores rkt and the opaques */
			int32_t want =
			    rd_kafka_msg_partitioner_murmur2(NULL, key, len, n, NULL, NULL);
			CHECK_EQ(fnl_partition_key(key, len, n), want);
		}
	}
	printf("ok: 10000 keys x 64 partition counts agree with librdkafka\n");
	return 0;
}
#else
int main(void)
{
	printf("SKIP: librdkafka not found (install librdkafka-dev, configure with "
	       "-Dintegration=true)\n");
	return 77;
}
#endif
