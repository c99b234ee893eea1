/* test_sasl.c - SASL client mechanisms: RFC 7677's SCRAM-SHA-256 exchange byte
 * for byte, SCRAM-SHA-512 against a server computed here with OpenSSL, PLAIN
 * and OAUTHBEARER messages, every hostile-server check, and the SaslHandshake /
 * SaslAuthenticate codec. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "check.h"
#include "dataplane/kafka/proto.h"
#include "dataplane/sasl/creds.h"
#include "dataplane/sasl/sasl.h"

static struct fnl_sasl s;
static uint8_t out[FNL_SASL_MSG_MAX];

static int step_str(const char *server)
{
	return fnl_sasl_step(&s, (const uint8_t *)server, strlen(server), out, sizeof(out));
}

/* RFC 7677 section 3 */
static const char *rfc_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
static const char *rfc_sfirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char *rfc_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                               "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char *rfc_sfinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

static void rfc_start(void)
{
	CHECK_EQ(fnl_sasl_init(&s, FNL_MECH_SCRAM_SHA_256, "user", "pencil", 6), 0);
	int n = fnl_sasl_first(&s, "rOprNGfwEbeRWgbNEkqO", out, sizeof(out));
	CHECK_EQ(n, (int)strlen(rfc_first));
	CHECK_MEM(out, rfc_first, (size_t)n);
}

static void test_rfc7677(void)
{
	rfc_start();
	int n = step_str(rfc_sfirst);
	CHECK_EQ(n, (int)strlen(rfc_final));
	CHECK_MEM(out, rfc_final, (size_t)n);
	CHECK_EQ(step_str(rfc_sfinal), 0);
	CHECK_EQ(s.state, FNL_SASL_DONE);
	/* a step after the end is refused */
	CHECK_EQ(step_str(rfc_sfinal), -EPROTO);
}

static void expect_fail(const char *server_first, int rc, const char *why)
{
	rfc_start();
	int got = step_str(server_first);
	if (got != rc || !strstr(s.why, why)) {
		fprintf(stderr, "server-first '%s': rc %d (want %d), why '%s' (want '%s')\n",
		        server_first, got, rc, s.why, why);
		exit(1);
	}
	CHECK_EQ(s.state, FNL_SASL_FAILED);
}

static void test_hostile(void)
{
	expect_fail("r=XXXXNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EACCES,
	            "does not extend");
	expect_fail("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EACCES,
	            "does not extend"); /* our nonce alone, nothing added */
	expect_fail("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095", -EACCES,
	            "below 4096");
	expect_fail("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999", -EACCES,
	            "above");
	expect_fail("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4o96", -EBADMSG,
	            "iteration count");
	expect_fail("r=rOprNGfwEbeRWgbNEkqOx,s=W22Z*J0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG, "salt");
	expect_fail("r=rOprNGfwEbeRWgbNEkqOx,i=4096", -EBADMSG, "malformed");
	expect_fail("m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EBADMSG,
	            "mandatory extension");
	expect_fail("e=unknown-user", -EACCES, "unknown-user");
	expect_fail("", -EBADMSG, "malformed");
	/* a server signature that does not verify */
	rfc_start();
	CHECK(step_str(rfc_sfirst) > 0);
	CHECK_EQ(step_str("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), -EACCES);
	CHECK(strstr(s.why, "signature does not verify"));
	rfc_start();
	CHECK(step_str(rfc_sfirst) > 0);
	CHECK_EQ(step_str("v=6rriTRBi23WpRR"), -EACCES); /* truncated */
	rfc_start();
	CHECK(step_str(rfc_sfirst) > 0);
	CHECK_EQ(step_str("e=invalid-proof"), -EACCES);
	CHECK(strstr(s.why, "invalid-proof"));
	/* an oversized server-first */
	rfc_start();
	static char big[FNL_SASL_SERVER_MAX + 100];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "r=rOprNGfwEbeRWgbNEkqO", 22);
	CHECK_EQ(step_str(big), -EBADMSG);
}

/* SCRAM-SHA-512 against a server side computed here from RFC 5802's formulas. */
static void test_sha512(void)
{
	const char *pw = "s3cret,=pw";
	uint8_t salt[16] = "0123456789abcdef", salted[64], skey[64], ckey[64], stored[64], csig[64],
	        ssig[64], proof[64];
	char sfirst[256], am[1024], b64[128], sfinal[160];
	unsigned int l;

	CHECK_EQ(fnl_sasl_init(&s, FNL_MECH_SCRAM_SHA_512, "al,i=ce", pw, strlen(pw)), 0);
	int n = fnl_sasl_first(&s, NULL, out, sizeof(out));
	CHECK(n > 0);
	CHECK_MEM(out, "n,,n=al=2Ci=3Dce,r=", 19);
	CHECK_EQ(strlen(s.cnonce), 32); /* 24 CSPRNG bytes in base64 */
	char bare[256];
	snprintf(bare, sizeof(bare), "%.*s", n - 3, (const char *)out + 3);
	EVP_EncodeBlock((unsigned char *)b64, salt, 16);
	snprintf(sfirst, sizeof(sfirst), "r=%sSERVERPART,s=%s,i=4096", s.cnonce, b64);
	n = step_str(sfirst);
	CHECK(n > 0);
	char cfinal[512];
	snprintf(cfinal, sizeof(cfinal), "%.*s", n, (const char *)out);
	char *p = strstr(cfinal, ",p=");
	CHECK(p);
	snprintf(am, sizeof(am), "%s,%s,%.*s", bare, sfirst, (int)(p - cfinal), cfinal);
	CHECK(PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, 16, 4096, EVP_sha512(), 64, salted));
	HMAC(EVP_sha512(), salted, 64, (const uint8_t *)"Client Key", 10, ckey, &l);
	HMAC(EVP_sha512(), salted, 64, (const uint8_t *)"Server Key", 10, skey, &l);
	EVP_Digest(ckey, 64, stored, NULL, EVP_sha512(), NULL);
	HMAC(EVP_sha512(), stored, 64, (const uint8_t *)am, strlen(am), csig, &l);
	HMAC(EVP_sha512(), skey, 64, (const uint8_t *)am, strlen(am), ssig, &l);
	for (int i = 0; i < 64; i++)
		proof[i] = ckey[i] ^ csig[i];
	EVP_EncodeBlock((unsigned char *)b64, proof, 64);
	CHECK(strcmp(p + 3, b64) == 0);
	CHECK(strncmp(cfinal, "c=biws,r=", 9) == 0);
	CHECK(strstr(cfinal, "SERVERPART,p="));
	EVP_EncodeBlock((unsigned char *)b64, ssig, 64);
	snprintf(sfinal, sizeof(sfinal), "v=%s", b64);
	CHECK_EQ(step_str(sfinal), 0);
	/* two logins never share a client nonce */
	char first_nonce[48];
	snprintf(first_nonce, sizeof(first_nonce), "%s", s.cnonce);
	CHECK(fnl_sasl_first(&s, NULL, out, sizeof(out)) > 0);
	CHECK(strcmp(first_nonce, s.cnonce) != 0);
}

static void test_plain_oauth(void)
{
	CHECK_EQ(fnl_sasl_init(&s, FNL_MECH_PLAIN, "alice", "pw", 2), 0);
	int n = fnl_sasl_first(&s, NULL, out, sizeof(out));
	CHECK_EQ(n, 9);
	CHECK_MEM(out, "\0alice\0pw", 9);
	CHECK_EQ(fnl_sasl_step(&s, NULL, 0, out, sizeof(out)), 0);

	CHECK_EQ(fnl_sasl_init(&s, FNL_MECH_OAUTHBEARER, "", "tok.en.x", 8), 0);
	n = fnl_sasl_first(&s, NULL, out, sizeof(out));
	CHECK_EQ(n, 26);
	CHECK_MEM(out, "n,,\001auth=Bearer tok.en.x\001\001", 26);
	CHECK_EQ(fnl_sasl_step(&s, NULL, 0, out, sizeof(out)), 0);
	/* a refused token: the JSON error is answered with \x01, and reported */
	fnl_sasl_first(&s, NULL, out, sizeof(out));
	const char *json = "{\"status\":\"invalid_token\"}";
	CHECK_EQ(fnl_sasl_step(&s, (const uint8_t *)json, strlen(json), out, sizeof(out)), 1);
	CHECK_EQ(out[0], 1);
	CHECK(strstr(s.why, "invalid_token"));
	CHECK_EQ(fnl_sasl_step(&s, NULL, 0, out, sizeof(out)), -EACCES);

	char jwt[512];
	n = fnl_sasl_unsecure_jwt("admin", 1000, 3600, jwt, sizeof(jwt));
	CHECK(n > 0);
	/* {"alg":"none"} in base64url, then the claims, then an empty signature */
	CHECK(strncmp(jwt, "eyJhbGciOiJub25lIn0.", 20) == 0);
	CHECK_EQ(jwt[n - 1], '.');
	CHECK(!strchr(jwt, '=') && !strchr(jwt, '+') && !strchr(jwt, '/'));
	CHECK_EQ(fnl_sasl_unsecure_jwt("a\"b", 0, 1, jwt, sizeof(jwt)), -EINVAL);
	CHECK_EQ(fnl_sasl_init(&s, 99, "u", "p", 1), -EINVAL);
	static char huge[FNL_SASL_SECRET_MAX + 1];
	CHECK_EQ(fnl_sasl_init(&s, FNL_MECH_PLAIN, "u", huge, sizeof(huge)), -ENAMETOOLONG);
}

static void test_wire(void)
{
	uint8_t buf[256];
	int n = fnl_enc_sasl_handshake_req(buf, sizeof(buf), 1, 7, "cid", "SCRAM-SHA-512");
	/* size, key 17, ver 1, corr 7, client id, mechanism */
	static const uint8_t hs[] = {0,   0,   0,   28,  0,   17,  0,   1,   0,   0,   0,
	                             7,   0,   3,   'c', 'i', 'd', 0,   13,  'S', 'C', 'R',
	                             'A', 'M', '-', 'S', 'H', 'A', '-', '5', '1', '2'};
	CHECK_EQ(n, (int)sizeof(hs));
	CHECK_MEM(buf, hs, sizeof(hs));
	CHECK_EQ(fnl_enc_sasl_handshake_req(buf, sizeof(buf), 0, 7, "cid", "PLAIN"), -EINVAL);

	static const uint8_t hresp[] = {0,   33,  0,   0,   0, 2, 0,   5, 'P',
	                                'L', 'A', 'I', 'N', 0, 3, 'X', 1, 'Y'};
	int16_t err;
	char mechs[32];
	CHECK_EQ(fnl_dec_sasl_handshake(hresp, sizeof(hresp), &err, mechs, sizeof(mechs)), 0);
	CHECK_EQ(err, 33);
	CHECK(strcmp(mechs, "PLAIN,X?Y") == 0);
	CHECK_EQ(fnl_dec_sasl_handshake(hresp, sizeof(hresp) - 1, &err, mechs, sizeof(mechs)),
	         -EBADMSG);
	static const uint8_t hresp_big[] = {0, 0, 0x7f, 0, 0, 0};
	CHECK_EQ(fnl_dec_sasl_handshake(hresp_big, sizeof(hresp_big), &err, mechs, sizeof(mechs)),
	         -EBADMSG);

	n = fnl_enc_sasl_auth_req(buf, sizeof(buf), 2, 9, "c", "ab", 2);
	/* flexible: header v2 (tags), compact bytes (len + 1), tags */
	static const uint8_t ar[] = {0, 0, 0, 16, 0,   36, 0, 2,   0,   0,
	                             0, 9, 0, 1,  'c', 0,  3, 'a', 'b', 0};
	CHECK_EQ(n, (int)sizeof(ar));
	CHECK_MEM(buf, ar, sizeof(ar));
	n = fnl_enc_sasl_auth_req(buf, sizeof(buf), 1, 9, "c", "ab", 2);
	static const uint8_t ar1[] = {0, 0, 0, 17,  0, 36, 0, 1, 0,   0,  0,
	                              9, 0, 1, 'c', 0, 0,  0, 2, 'a', 'b'};
	CHECK_EQ(n, (int)sizeof(ar1));
	CHECK_MEM(buf, ar1, sizeof(ar1));

	struct fnl_sasl_auth_resp r;
	static const uint8_t resp1[] = {0,   0, 0xff, 0xff, 0, 0, 0, 2,    'v',
	                                '=', 0, 0,    0,    0, 0, 0, 0x0b, 0xb8};
	CHECK_EQ(fnl_dec_sasl_auth(resp1, sizeof(resp1), 1, &r), 0);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(r.error_message_len, -1);
	CHECK_EQ(r.auth_len, 2);
	CHECK_MEM(r.auth, "v=", 2);
	CHECK_EQ(r.session_lifetime_ms, 3000);
	static const uint8_t resp2[] = {0, 58, 4, 'b', 'a', 'd', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	CHECK_EQ(fnl_dec_sasl_auth(resp2, sizeof(resp2), 2, &r), 0);
	CHECK_EQ(r.err, 58);
	CHECK_EQ(r.error_message_len, 3);
	CHECK_EQ(r.auth_len, 0);
	CHECK_EQ(fnl_dec_sasl_auth(resp2, sizeof(resp2) - 1, 2, &r), -EBADMSG);
	CHECK_EQ(fnl_dec_sasl_auth(resp1, sizeof(resp1), 0, &r), -EBADMSG); /* trailing bytes */
	static const uint8_t hostile[] = {0, 0, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff};
	CHECK_EQ(fnl_dec_sasl_auth(hostile, sizeof(hostile), 0, &r), -EBADMSG);
}

/* The password file: read at start, re-read only when it changed, one
 * trailing newline dropped, an unreadable file keeps the old secret. */
static void test_creds_file(void)
{
	static struct fnl_sasl_creds c;
	char path[] = "/tmp/fnl-creds-XXXXXX";
	uint64_t gen;
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "pw-one\n", 7) == 7);
	close(fd);
	fnl_sasl_creds_init(&c, FNL_MECH_PLAIN, "alice");
	CHECK_EQ(fnl_sasl_creds_file(&c, path), 1);
	CHECK_EQ(c.secret_len, 6);
	CHECK_EQ(fnl_sasl_creds_file(&c, path), 0); /* unchanged */
	CHECK_EQ(fnl_sasl_creds_login(&c, &s, &gen), 0);
	CHECK_EQ(gen, 1);
	int n = fnl_sasl_first(&s, NULL, out, sizeof(out));
	CHECK_EQ(n, 13);
	CHECK_MEM(out, "\0alice\0pw-one", 13);
	FILE *f = fopen(path, "w");
	CHECK(f);
	fputs("pw-two-longer\r\n", f);
	fclose(f);
	CHECK_EQ(fnl_sasl_creds_file(&c, path), 1);
	CHECK_EQ(c.gen, 2);
	CHECK(strcmp(c.secret, "pw-two-longer") == 0);
	unlink(path);
	CHECK_EQ(fnl_sasl_creds_file(&c, path), -ENOENT);
	CHECK(strcmp(c.secret, "pw-two-longer") == 0);
	fnl_sasl_creds_set(&c, "pw-two-longer", 13); /* the same: no new generation */
	CHECK_EQ(c.gen, 2);
	fnl_sasl_creds_destroy(&c);
}

int main(void)
{
	test_creds_file();
	test_rfc7677();
	test_hostile();
	test_sha512();
	test_plain_oauth();
	test_wire();
	puts("sasl: ok");
	return 0;
}
