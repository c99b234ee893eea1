/* crc32c.c - CRC-32C: portable slicing-by-8 and SSE4.2 paths, chosen once at run time. */
#include "dataplane/kafka/crc32c.h"

#include <string.h>

#include "dataplane/kafka/crc32c_tab.h"

uint32_t fnl_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *s = p;
	uint32_t c = ~crc;

	while (n && ((uintptr_t)s & 7)) {
		c = (c >> 8) ^ fnl_crc32c_tab[0][(c ^ *s++) & 0xff];
		n--;
	}
	while (n >= 8) {
		uint32_t lo = c ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
		                   (uint32_t)s[3] << 24);
		uint32_t hi = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 |
		              (uint32_t)s[7] << 24;
		c = fnl_crc32c_tab[7][lo & 0xff] ^ fnl_crc32c_tab[6][(lo >> 8) & 0xff] ^
		    fnl_crc32c_tab[5][(lo >> 16) & 0xff] ^ fnl_crc32c_tab[4][lo >> 24] ^
		    fnl_crc32c_tab[3][hi & 0xff] ^ fnl_crc32c_tab[2][(hi >> 8) & 0xff] ^
		    fnl_crc32c_tab[1][(hi >> 16) & 0xff] ^ fnl_crc32c_tab[0][hi >> 24];
		s += 8;
		n -= 8;
	}
	while (n--)
		c = (c >> 8) ^ fnl_crc32c_tab[0][(c ^ *s++) & 0xff];
	return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

__attribute__((target("sse4.2"))) uint32_t fnl_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t c = ~crc;

	while (n && ((uintptr_t)s & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *s++);
		n--;
	}
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, s, 8);
		c = __builtin_ia32_crc32di(c, v);
		s += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *s++);
	return ~(uint32_t)c;
}

bool fnl_crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2");
}

#else

uint32_t fnl_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
	return fnl_crc32c_sw(crc, p, n);
}

bool fnl_crc32c_hw_available(void)
{
	return false;
}

#endif

uint32_t fnl_crc32c(uint32_t crc, const void *p, size_t n)
{
	/* __builtin_cpu_supports reads a CPU model initialised before main (a constructor
	 * in libgcc / compiler-rt), so asking on every call is cheap and thread safe. */
	if (fnl_crc32c_hw_available())
		return fnl_crc32c_hw(crc, p, n);
	return fnl_crc32c_sw(crc, p, n);
}
