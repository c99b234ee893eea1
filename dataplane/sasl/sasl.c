/* sasl.c - SASL client mechanisms (see sasl.h for the exchanges and invariants).
 * SCRAM follows RFC 5802 with the hashes of RFC 7677 (SHA-256) and RFC 5802's
 * definitions applied to SHA-512 (as Kafka's KIP-84 does). */
#include "dataplane/sasl/sasl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static int fail(struct fnl_sasl *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	s->state = FNL_SASL_FAILED;
	return rc;
}

const char *fnl_sasl_mech_wire(int mech)
{
	switch (mech) {
	case FNL_MECH_PLAIN:
		return "PLAIN";
	case FNL_MECH_SCRAM_SHA_256:
		return "SCRAM-SHA-256";
	case FNL_MECH_SCRAM_SHA_512:
		return "SCRAM-SHA-512";
	case FNL_MECH_OAUTHBEARER:
		return "OAUTHBEARER";
	default:
		return NULL;
	}
}

static const EVP_MD *scram_md(const struct fnl_sasl *s)
{
	return s->mech == FNL_MECH_SCRAM_SHA_256 ? EVP_sha256() : EVP_sha512();
}

void fnl_sasl_reset(struct fnl_sasl *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

int fnl_sasl_init(struct fnl_sasl *s, int mech, const char *user, const char *secret,
                  size_t secret_len)
{
	size_t ul = user ? strlen(user) : 0;
	fnl_sasl_reset(s);
	if (!fnl_sasl_mech_wire(mech))
		return -EINVAL;
	if (ul >= sizeof(s->user) || secret_len >= sizeof(s->secret))
		return -ENAMETOOLONG;
	s->mech = mech;
	memcpy(s->user, user ? user : "", ul + 1);
	memcpy(s->secret, secret, secret_len);
	s->secret_len = secret_len;
	s->hash_len = mech == FNL_MECH_SCRAM_SHA_256 ? 32 : 64;
	return 0;
}

/* ---- small text helpers over (pointer, length) ------------------------ */

struct out {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void put(struct out *o, const void *b, size_t n)
{
	if (o->full || o->cap - o->len < n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, b, n);
	o->len += n;
}

static void puts_(struct out *o, const char *str)
{
	put(o, str, strlen(str));
}

/* base64 (standard alphabet, padded) of n bytes */
static void put_b64(struct out *o, const uint8_t *b, size_t n)
{
	size_t need = 4 * ((n + 2) / 3);
	if (o->full || o->cap - o->len < need + 1) {
		o->full = true;
		return;
	}
	EVP_EncodeBlock(o->p + o->len, b, (int)n);
	o->len += need;
}

/* Strict base64 decode: the alphabet, length a multiple of 4, padding only at
 * the end. Returns bytes or -1. */
static int b64_dec(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t pad = 0;
	int r;
	if (n == 0 || n % 4 || n / 4 * 3 > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (c == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (!ok || pad)
			return -1;
	}
	r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0)
		return -1;
	return r - (int)pad;
}

/* The value of attribute `key` (one letter) in a comma-separated SCRAM
 * message: the text between "k=" and the next ',' or the end. */
static bool attr(const char *msg, size_t n, char key, const char **v, size_t *vl)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && msg[j] != ',')
			j++;
		if (j - i >= 2 && msg[i] == key && msg[i + 1] == '=') {
			*v = msg + i + 2;
			*vl = j - i - 2;
			return true;
		}
		i = j + 1;
	}
	return false;
}

/* saslname (RFC 5802 section 5.1): ',' -> "=2C", '=' -> "=3D" */
static void put_saslname(struct out *o, const char *name)
{
	for (const char *p = name; *p; p++) {
		if (*p == ',')
			puts_(o, "=2C");
		else if (*p == '=')
			puts_(o, "=3D");
		else
			put(o, p, 1);
	}
}

/* ---- first message ------------------------------------------------------- */

static int first_scram(struct fnl_sasl *s, const char *cnonce, struct out *o)
{
	struct out bare = {.p = (uint8_t *)s->first_bare, .cap = sizeof(s->first_bare) - 1};
	if (cnonce) {
		s->cnonce_len = strlen(cnonce);
		if (s->cnonce_len == 0 || s->cnonce_len >= sizeof(s->cnonce))
			return -EINVAL;
		memcpy(s->cnonce, cnonce, s->cnonce_len);
	} else {
		uint8_t raw[24];
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			return -EIO;
		/* base64 of 24 bytes: 32 printable characters, never ',' */
		EVP_EncodeBlock((unsigned char *)s->cnonce, raw, sizeof(raw));
		s->cnonce_len = 32;
	}
	s->cnonce[s->cnonce_len] = '\0';
	puts_(&bare, "n=");
	put_saslname(&bare, s->user);
	puts_(&bare, ",r=");
	put(&bare, s->cnonce, s->cnonce_len);
	if (bare.full)
		return -ENOSPC;
	s->first_bare_len = bare.len;
	s->first_bare[bare.len] = '\0';
	puts_(o, "n,,");
	put(o, s->first_bare, s->first_bare_len);
	return 0;
}

int fnl_sasl_first(struct fnl_sasl *s, const char *cnonce, uint8_t *out, size_t cap)
{
	struct out o = {.p = out, .cap = cap};
	int rc = 0;

	s->why[0] = '\0';
	switch (s->mech) {
	case FNL_MECH_PLAIN: /* authzid empty, NUL, authcid, NUL, password (RFC 4616) */
		put(&o, "", 1);
		puts_(&o, s->user);
		put(&o, "", 1);
		put(&o, s->secret, s->secret_len);
		break;
	case FNL_MECH_SCRAM_SHA_256:
	case FNL_MECH_SCRAM_SHA_512:
		rc = first_scram(s, cnonce, &o);
		break;
	case FNL_MECH_OAUTHBEARER: /* RFC 7628 section 3.1, no authzid, no extensions */
		puts_(&o, "n,,\001auth=Bearer ");
		put(&o, s->secret, s->secret_len);
		puts_(&o, "\001\001");
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	if (o.full)
		return -ENOSPC;
	s->state = FNL_SASL_SENT_FIRST;
	return (int)o.len;
}

/* ---- SCRAM rounds --------------------------------------------------------- */

static bool hmac(const EVP_MD *md, const uint8_t *key, size_t kl, const void *d, size_t n,
                 uint8_t *out)
{
	unsigned int ol = 0;
	return HMAC(md, key, (int)kl, d, n, out, &ol) != NULL;
}

/* server-first -> client-final */
static int scram_final(struct fnl_sasl *s, const char *in, size_t n, struct out *o)
{
	const EVP_MD *md = scram_md(s);
	const char *nonce, *salt_b64, *iter_s, *e;
	size_t nonce_l, salt_l, iter_l, el, hl = s->hash_len;
	uint8_t salt[256], salted[64], ckey[64], skey[64], stored[64], csig[64], proof[64];
	char without_proof[FNL_SASL_SERVER_MAX + 16];
	uint64_t iter = 0;
	int sl, wl;

	if (n > FNL_SASL_SERVER_MAX)
		return fail(s, -EBADMSG, "SCRAM server-first of %zu bytes (more than %d)", n,
		            FNL_SASL_SERVER_MAX);
	if (n >= 2 && in[0] == 'm' && in[1] == '=')
		return fail(s, -EBADMSG, "SCRAM server-first has a mandatory extension (m=)");
	if (attr(in, n, 'e', &e, &el))
		return fail(s, -EACCES, "SCRAM server error: %.*s", (int)(el > 100 ? 100 : el), e);
	if (n < 2 || in[0] != 'r' || in[1] != '=' || !attr(in, n, 'r', &nonce, &nonce_l) ||
	    !attr(in, n, 's', &salt_b64, &salt_l) || !attr(in, n, 'i', &iter_s, &iter_l))
		return fail(s, -EBADMSG, "SCRAM server-first is malformed (needs r=, s=, i=)");
	if (nonce_l <= s->cnonce_len || memcmp(nonce, s->cnonce, s->cnonce_len) != 0)
		return fail(s, -EACCES, "SCRAM server nonce does not extend the client nonce");
	for (size_t i = 0; i < nonce_l; i++)
		if (nonce[i] < 0x21 || nonce[i] > 0x7e)
			return fail(s, -EBADMSG, "SCRAM server nonce has a non-printable byte");
	if (iter_l == 0 || iter_l > 9)
		return fail(s, -EBADMSG, "SCRAM iteration count is malformed");
	for (size_t i = 0; i < iter_l; i++) {
		if (iter_s[i] < '0' || iter_s[i] > '9')
			return fail(s, -EBADMSG, "SCRAM iteration count is malformed");
		iter = iter * 10 + (uint64_t)(iter_s[i] - '0');
	}
	if (iter < FNL_SCRAM_MIN_ITER)
		return fail(s, -EACCES, "SCRAM iteration count %" PRIu64 " is below %d", iter,
		            FNL_SCRAM_MIN_ITER);
	if (iter > FNL_SCRAM_MAX_ITER)
		return fail(s, -EACCES, "SCRAM iteration count %" PRIu64 " is above %d", iter,
		            FNL_SCRAM_MAX_ITER);
	sl = b64_dec(salt_b64, salt_l, salt, sizeof(salt));
	if (sl <= 0)
		return fail(s, -EBADMSG, "SCRAM salt is not base64");

	/* SaltedPassword = Hi(password, salt, i) = PBKDF2-HMAC-H */
	if (PKCS5_PBKDF2_HMAC(s->secret, (int)s->secret_len, salt, sl, (int)iter, md, (int)hl,
	                      salted) != 1 ||
	    !hmac(md, salted, hl, "Client Key", 10, ckey) ||
	    !hmac(md, salted, hl, "Server Key", 10, skey) ||
	    EVP_Digest(ckey, hl, stored, NULL, md, NULL) != 1)
		return fail(s, -EIO, "SCRAM: OpenSSL failed");
	/* client-final-without-proof; "biws" = base64("n,,") */
	wl = snprintf(without_proof, sizeof(without_proof), "c=biws,r=%.*s", (int)nonce_l, nonce);
	{
		/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof
		 */
		char am[sizeof(s->first_bare) + FNL_SASL_SERVER_MAX + sizeof(without_proof) + 4];
		size_t al = 0;
		memcpy(am, s->first_bare, s->first_bare_len);
		al += s->first_bare_len;
		am[al++] = ',';
		memcpy(am + al, in, n);
		al += n;
		am[al++] = ',';
		memcpy(am + al, without_proof, (size_t)wl);
		al += (size_t)wl;
		if (!hmac(md, stored, hl, am, al, csig) ||
		    !hmac(md, skey, hl, am, al, s->server_sig))
			return fail(s, -EIO, "SCRAM: OpenSSL failed");
	}
	for (size_t i = 0; i < hl; i++)
		proof[i] = ckey[i] ^ csig[i];
	put(o, without_proof, (size_t)wl);
	puts_(o, ",p=");
	put_b64(o, proof, hl);
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(skey, sizeof(skey));
	if (o->full)
		return fail(s, -ENOSPC, "SCRAM client-final does not fit");
	s->state = FNL_SASL_SENT_FINAL;
	return (int)o->len;
}

/* server-final: v=signature */
static int scram_verify(struct fnl_sasl *s, const char *in, size_t n)
{
	const char *v, *e;
	size_t vl, el;
	uint8_t sig[72];
	int l;
	if (attr(in, n, 'e', &e, &el))
		return fail(s, -EACCES, "SCRAM server error: %.*s", (int)(el > 100 ? 100 : el), e);
	if (!attr(in, n, 'v', &v, &vl))
		return fail(s, -EBADMSG, "SCRAM server-final is malformed (needs v=)");
	l = b64_dec(v, vl, sig, sizeof(sig));
	if (l != (int)s->hash_len || CRYPTO_memcmp(sig, s->server_sig, s->hash_len) != 0)
		return fail(s, -EACCES, "SCRAM server signature does not verify");
	s->state = FNL_SASL_DONE;
	return 0;
}

int fnl_sasl_step(struct fnl_sasl *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	struct out o = {.p = out, .cap = cap};
	bool scram = s->mech == FNL_MECH_SCRAM_SHA_256 || s->mech == FNL_MECH_SCRAM_SHA_512;

	if (s->state == FNL_SASL_SENT_FIRST && scram)
		return scram_final(s, (const char *)in, n, &o);
	if (s->state == FNL_SASL_SENT_FINAL && scram)
		return scram_verify(s, (const char *)in, n);
	if (s->state == FNL_SASL_SENT_FIRST && s->mech == FNL_MECH_OAUTHBEARER && n > 0) {
		/* RFC 7628 section 3.2.2: an error JSON; answer \x01 and the broker fails it */
		if (cap < 1)
			return fail(s, -ENOSPC, "no room");
		fail(s, -EACCES, "OAUTHBEARER token refused: %.*s", (int)(n > 150 ? 150 : n),
		     (const char *)in);
		s->state = FNL_SASL_OAUTH_ERR;
		out[0] = 1;
		return 1;
	}
	if (s->state == FNL_SASL_SENT_FIRST) { /* PLAIN, OAUTHBEARER: anything but an error */
		s->state = FNL_SASL_DONE;
		return 0;
	}
	if (s->state == FNL_SASL_OAUTH_ERR)
		return -EACCES; /* s->why kept from the JSON */
	return fail(s, -EPROTO, "SASL step out of order");
}

/* ---- unsecured JWT (tests) ---------------------------------------------- */

/* base64url without padding */
static void put_b64url(struct out *o, const char *text)
{
	uint8_t tmp[1024];
	size_t n = strlen(text), el;
	if (n > 700 || o->full) {
		o->full = true;
		return;
	}
	el = (size_t)EVP_EncodeBlock(tmp, (const unsigned char *)text, (int)n);
	while (el > 0 && tmp[el - 1] == '=')
		el--;
	for (size_t i = 0; i < el; i++)
		tmp[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
	put(o, tmp, el);
}

int fnl_sasl_unsecure_jwt(const char *principal, int64_t now_s, int64_t life_s, char *out,
                          size_t cap)
{
	struct out o = {.p = (uint8_t *)out, .cap = cap ? cap - 1 : 0};
	char claims[512];
	for (const char *p = principal; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return -EINVAL;
	if (snprintf(claims, sizeof(claims),
	             "{\"sub\":\"%s\",\"iat\":%" PRId64 ",\"exp\":%" PRId64 "}", principal, now_s,
	             now_s + life_s) >= (int)sizeof(claims))
		return -ENOSPC;
	put_b64url(&o, "{\"alg\":\"none\"}");
	puts_(&o, ".");
	put_b64url(&o, claims);
	puts_(&o, ".");
	if (o.full || cap == 0)
		return -ENOSPC;
	out[o.len] = '\0';
	return (int)o.len;
}
