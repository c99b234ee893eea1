/* arch/cc.h - lwIP's platform header for funnel's DPDK egress (Linux, gcc/clang,
 * little or big endian from the compiler). Only what lwIP's arch.h does not
 * default sensibly; funnel's own code, not lwIP's. */
#ifndef FNL_LWIP_ARCH_CC_H
#define FNL_LWIP_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>

#include <endian.h> /* BYTE_ORDER, LITTLE_ENDIAN, BIG_ENDIAN (glibc) */

/* lwIP's randomness (initial local ports, ISN); dpdk_tcp.c seeds it. */
unsigned int fnl_lwip_rand(void);
#define LWIP_RAND() ((u32_t)fnl_lwip_rand())

#define LWIP_PLATFORM_DIAG(x)                                                                      \
	do {                                                                                       \
		printf x;                                                                          \
	} while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                                    \
	do {                                                                                       \
		fprintf(stderr, "lwip assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); \
		abort();                                                                           \
	} while (0)

#endif
