/* libFuzzer target: one decompressor (FUZZ_CODEC) over arbitrary bytes.
 *
 * The codec libraries are not instrumented, so coverage cannot guide libFuzzer
 * into them. To still reach their deep paths, an input whose first byte is 'C'
 * is used as [ 'C' | n | n bytes of plain text | (pos16, xor) pairs ]: the text
 * is compressed with fnl_compress and the pairs corrupt the valid stream before
 * it is decoded. Any other input is decoded as is.
 *
 * Oracles: the result is >= 0, -EBADMSG or -ENOSPC; nothing is written past
 * dst_cap (guard bytes, plus ASan on an exactly sized heap buffer); decoding
 * again into exactly the reported size gives the same bytes, and into one byte
 * less fails.
 */
#include "dataplane/compress/compress.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_CODEC
#error "define FUZZ_CODEC"
#endif

#define DST_CAP (1u << 20)
#define GUARD   32u

static struct fnl_compressor *comp;
static uint8_t *dst, *again;

static void check_result(long r, size_t cap)
{
	if (!(r >= 0 || r == -EBADMSG || r == -ENOSPC) || (r >= 0 && (size_t)r > cap))
		abort();
}

static void check_guard(const uint8_t *p)
{
	for (size_t i = 0; i < GUARD; i++)
		if (p[i] != 0xa5)
			abort();
}

static uint8_t stream[2048];

/* Mode 'C': a valid stream of the text, then corrupted at the given positions. */
static size_t corrupted_stream(const uint8_t *data, size_t size)
{
	size_t n = size > 1 ? data[1] : 0;
	if (n > size - 2)
		n = size - 2;
	long len = fnl_compress(comp, FUZZ_CODEC, 0, data + 2, n, stream, sizeof(stream));
	if (len <= 0)
		abort(); /* 255 bytes always fit in 2 KiB */
	for (size_t i = 2 + n; i + 3 <= size; i += 3) {
		size_t pos = ((size_t)data[i] << 8 | data[i + 1]) % (size_t)len;
		stream[pos] ^= data[i + 2];
	}
	return (size_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!comp) {
		comp = fnl_compressor_new();
		dst = malloc(DST_CAP + GUARD);
		again = malloc(DST_CAP + GUARD);
		if (!comp || !dst || !again)
			abort();
	}
	if (size >= 2 && data[0] == 'C') {
		size = corrupted_stream(data, size);
		data = stream;
	}
	memset(dst + DST_CAP, 0xa5, GUARD);
	long r = fnl_decompress(comp, FUZZ_CODEC, data, size, dst, DST_CAP);
	check_result(r, DST_CAP);
	check_guard(dst + DST_CAP);
	if (r < 0)
		return 0;

	/* exactly the reported size: same output */
	memset(again + r, 0xa5, GUARD);
	long r2 = fnl_decompress(comp, FUZZ_CODEC, data, size, again, (size_t)r);
	if (r2 != r || memcmp(again, dst, (size_t)r) != 0)
		abort();
	check_guard(again + r);

	/* one byte less: must fail, must not write past the smaller cap */
	if (r > 0) {
		memset(again + r - 1, 0xa5, GUARD);
		long r3 = fnl_decompress(comp, FUZZ_CODEC, data, size, again, (size_t)r - 1);
		if (r3 >= 0)
			abort();
		check_result(r3, (size_t)r - 1);
		check_guard(again + r - 1);
	}
	return 0;
}
