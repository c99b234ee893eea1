/* fuzz_sasl.c - libFuzzer targets for the SASL parsers a broker's bytes reach.
 * Built once per target with -DFUZZ_TARGET=<n> (see meson.build).
 *
 *   T_SCRAM  byte 0 picks SCRAM-SHA-256 or -512; the rest, split at the first
 *            0x00, is a server-first and a server-final. A client-first with a
 *            fixed nonce is made first, so inputs that extend "fuzzNONCE" reach
 *            the key derivation and the signature check. Whatever the client
 *            sends back is read in full (ASan checks it stays in bounds).
 *   T_CODEC  byte 0 picks SaslHandshake or SaslAuthenticate v0-2; the rest is
 *            the response body. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/kafka/proto.h"
#include "dataplane/sasl/sasl.h"

#define T_SCRAM 1
#define T_CODEC 2

static volatile uint8_t sink;

static void touch(const void *p, long n)
{
	const uint8_t *b = p;
	for (long i = 0; i < n; i++)
		sink ^= b[i];
}

#if FUZZ_TARGET == T_SCRAM
static struct fnl_sasl s;
static uint8_t out[FNL_SASL_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	int mech = (d[0] & 1) ? FNL_MECH_SCRAM_SHA_512 : FNL_MECH_SCRAM_SHA_256;
	if (fnl_sasl_init(&s, mech, "user", "pencil", 6) < 0 ||
	    fnl_sasl_first(&s, "fuzzNONCE", out, sizeof(out)) <= 0)
		__builtin_trap();
	const uint8_t *first = d + 1, *zero = memchr(first, 0, n - 1);
	size_t fl = zero ? (size_t)(zero - first) : n - 1;
	int r = fnl_sasl_step(&s, first, fl, out, sizeof(out));
	if (r > 0)
		touch(out, r);
	if (r > 0 && zero) {
		const uint8_t *fin = zero + 1;
		r = fnl_sasl_step(&s, fin, (size_t)(d + n - fin), out, sizeof(out));
		if (r == 0 && s.state != FNL_SASL_DONE)
			__builtin_trap();
	}
	touch(s.why, (long)strnlen(s.why, sizeof(s.why)));
	return 0;
}
#elif FUZZ_TARGET == T_CODEC
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	if (d[0] % 4 == 3) {
		int16_t err;
		char mechs[64];
		if (fnl_dec_sasl_handshake(d + 1, n - 1, &err, mechs, sizeof(mechs)) == 0)
			touch(mechs, (long)strlen(mechs));
		return 0;
	}
	struct fnl_sasl_auth_resp r;
	if (fnl_dec_sasl_auth(d + 1, n - 1, (int16_t)(d[0] % 4), &r) == 0) {
		if (r.error_message_len > 0)
			touch(r.error_message, r.error_message_len);
		touch(r.auth, r.auth_len);
	}
	return 0;
}
#endif
