/* crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by RecordBatch v2.
 *
 * Chaining: fnl_crc32c(fnl_crc32c(0, a, na), b, nb) == fnl_crc32c(0, a || b, na + nb).
 * The `crc` argument and the result are the finished (post-inverted) CRC values, so 0
 * starts a new checksum. Check value: "123456789" -> 0xE3069283.
 *
 * fnl_crc32c picks the SSE4.2 `crc32` instruction at run time when the CPU has it
 * (x86-64 only), else the portable slicing-by-8 tables. fnl_crc32c_sw is always the
 * portable path (exported for tests). Both are pure functions; the tables are const.
 */
#ifndef FNL_KAFKA_CRC32C_H
#define FNL_KAFKA_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t fnl_crc32c(uint32_t crc, const void *p, size_t n);
uint32_t fnl_crc32c_sw(uint32_t crc, const void *p, size_t n);
/* The hardware path; only call when fnl_crc32c_hw_available() is true. */
uint32_t fnl_crc32c_hw(uint32_t crc, const void *p, size_t n);
bool fnl_crc32c_hw_available(void);

#endif
