/* tls.c - OpenSSL 3 client TLS through a BIO pair (see tls.h). */
#include "dataplane/net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* room the pair's outgoing side must have for one record of FNL_TLS_RECORD
 * plaintext bytes: header, MAC/tag, padding (CBC: up to 256), content type */
#define RECORD_ROOM (FNL_TLS_RECORD + 512)

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#define SECRET_MAX 64 /* a TLS 1.3 traffic secret: the handshake hash's size */

struct fnl_tls_ctx {
	SSL_CTX *ssl;
	bool verify_host;
	int ktls;
	bool kernel; /* ktls != off and the kernel offers kernel TLS (probed once) */
	char key_password[256];
};

struct fnl_tls {
	SSL *ssl;
	BIO *net; /* our end of the pair; SSL holds the other */
	bool done;
	int ktls;    /* enum fnl_ktls_mode */
	bool kernel; /* the context found kernel TLS */
	/* TLS 1.3 client application traffic secret, from the keylog callback
	 * (only when ktls != off); wiped by fnl_tls_ktls_start and free */
	uint8_t tx_secret[SECRET_MAX];
	size_t tx_secret_len;
	char why[FNL_TLS_WHY_MAX];
};

static int say(char *msg, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (msg && len)
		vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return rc;
}

/* OpenSSL's last reason, as text ("no such file", "bad decrypt", ...). */
static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "unknown OpenSSL error";
}

static int pem_password(char *buf, int size, int rwflag, void *u)
{
	const struct fnl_tls_ctx *x = u;
	size_t n = strlen(x->key_password);
	(void)rwflag;
	if (n >= (size_t)size)
		return -1;
	memcpy(buf, x->key_password, n);
	return (int)n;
}

static int load_ca_pem(SSL_CTX *ctx, const char *pem, char *msg, size_t len)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *b = BIO_new_mem_buf(pem, -1);
	int n = 0;
	X509 *c;
	if (!b)
		return say(msg, len, -ENOMEM, "ssl.ca.pem: out of memory");
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, c) == 1)
			n++;
		X509_free(c);
	}
	BIO_free(b);
	ERR_clear_error(); /* the loop ends on "no start line" */
	if (n == 0)
		return say(msg, len, -EINVAL, "ssl.ca.pem: no PEM certificate found");
	return 0;
}

static int load_ca(SSL_CTX *ctx, const struct fnl_tls_cfg *cfg, char *msg, size_t len)
{
	struct stat sb;
	if (cfg->ca_pem && cfg->ca_pem[0])
		return load_ca_pem(ctx, cfg->ca_pem, msg, len);
	if (!cfg->ca_location || !cfg->ca_location[0]) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1)
			return say(msg, len, -EINVAL, "ssl.ca.location (system store): %s",
			           ossl_reason());
		return 0;
	}
	if (stat(cfg->ca_location, &sb) < 0)
		return say(msg, len, -ENOENT, "ssl.ca.location=%s: %s", cfg->ca_location,
		           strerror(errno));
	if (S_ISDIR(sb.st_mode) ? SSL_CTX_load_verify_dir(ctx, cfg->ca_location) != 1
	                        : SSL_CTX_load_verify_file(ctx, cfg->ca_location) != 1)
		return say(msg, len, -EINVAL, "ssl.ca.location=%s: %s", cfg->ca_location,
		           ossl_reason());
	return 0;
}

static int load_cert(struct fnl_tls_ctx *x, const struct fnl_tls_cfg *cfg, char *msg, size_t len)
{
	if (!cfg->cert || !cfg->cert[0])
		return 0;
	if (SSL_CTX_use_certificate_chain_file(x->ssl, cfg->cert) != 1)
		return say(msg, len, -EINVAL, "ssl.certificate.location=%s: %s", cfg->cert,
		           ossl_reason());
	snprintf(x->key_password, sizeof(x->key_password), "%s",
	         cfg->key_password ? cfg->key_password : "");
	SSL_CTX_set_default_passwd_cb(x->ssl, pem_password);
	SSL_CTX_set_default_passwd_cb_userdata(x->ssl, x);
	if (SSL_CTX_use_PrivateKey_file(x->ssl, cfg->key, SSL_FILETYPE_PEM) != 1)
		return say(msg, len, -EINVAL,
		           "ssl.key.location=%s: %s (is ssl.key.password right?)", cfg->key,
		           ossl_reason());
	if (SSL_CTX_check_private_key(x->ssl) != 1)
		return say(msg, len, -EINVAL,
		           "ssl.key.location=%s does not match ssl.certificate.location=%s",
		           cfg->key, cfg->cert);
	return 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* OpenSSL hands every secret of the handshake to this callback as an NSS key
 * log line; kernel TLS needs the client's TLS 1.3 application traffic secret
 * ("CLIENT_TRAFFIC_SECRET_0 <client random> <secret>"). Nothing is logged. */
static void keylog(const SSL *ssl, const char *line)
{
	static const char tag[] = "CLIENT_TRAFFIC_SECRET_0 ";
	struct fnl_tls *t = SSL_get_app_data(ssl);
	const char *p;
	size_t n = 0;
	if (!t || strncmp(line, tag, sizeof(tag) - 1) != 0)
		return;
	p = strchr(line + sizeof(tag) - 1, ' ');
	if (!p)
		return;
	for (p++; p[0] && p[1] && n < sizeof(t->tx_secret); p += 2) {
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0)
			break;
		t->tx_secret[n++] = (uint8_t)(hi << 4 | lo);
	}
	t->tx_secret_len = n;
}

int fnl_tls_ctx_new(const struct fnl_tls_cfg *cfg, struct fnl_tls_ctx **out, char *msg,
                    size_t msg_len)
{
	struct fnl_tls_ctx *x = calloc(1, sizeof(*x));
	int rc;
	*out = NULL;
	if (!x)
		return say(msg, msg_len, -ENOMEM, "TLS: out of memory");
	ERR_clear_error();
	x->ssl = SSL_CTX_new(TLS_client_method());
	if (!x->ssl) {
		free(x);
		return say(msg, msg_len, -ENOMEM, "TLS: %s", ossl_reason());
	}
	SSL_CTX_set_min_proto_version(x->ssl, TLS1_2_VERSION);
	SSL_CTX_set_verify(x->ssl, cfg->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	x->verify_host = cfg->verify && cfg->verify_host;
	x->ktls = cfg->ktls;
	if (x->ktls != FNL_KTLS_OFF)
		SSL_CTX_set_keylog_callback(x->ssl, keylog);
	x->kernel = x->ktls != FNL_KTLS_OFF && fnl_tls_kernel_available();
	rc = load_ca(x->ssl, cfg, msg, msg_len);
	if (rc == 0 && x->ktls == FNL_KTLS_REQUIRED && !x->kernel)
		rc = say(msg, msg_len, -EOPNOTSUPP,
		         "funnel.ssl.ktls=required, but this kernel offers no kernel TLS (no "
		         "'tls' in /proc/sys/net/ipv4/tcp_available_ulp and TCP_ULP \"tls\" "
		         "finds none: CONFIG_TLS off or the tls module missing); set "
		         "funnel.ssl.ktls=auto to use TLS in user space");
	if (rc == 0)
		rc = load_cert(x, cfg, msg, msg_len);
	OPENSSL_cleanse(x->key_password, sizeof(x->key_password));
	SSL_CTX_set_default_passwd_cb_userdata(x->ssl, NULL);
	if (rc < 0) {
		fnl_tls_ctx_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

void fnl_tls_ctx_free(struct fnl_tls_ctx *x)
{
	if (!x)
		return;
	SSL_CTX_free(x->ssl);
	free(x);
}

/* TCP_ULP "tls" on a socket that is not connected: the kernel looks the ULP
 * up (loading its module if it can) before tls_init refuses the unconnected
 * socket with ENOTCONN; ENOENT means there is no such ULP. */
static bool ktls_probe(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	bool ok;
	if (fd < 0)
		return false;
	ok = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3) == 0 || errno == ENOTCONN;
	close(fd);
	return ok;
}

bool fnl_tls_kernel_available(void)
{
	char buf[256] = "";
	char *save = NULL;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	for (char *p = strtok_r(buf, " \n", &save); p; p = strtok_r(NULL, " \n", &save))
		if (strcmp(p, "tls") == 0)
			return true;
	return ktls_probe();
}

int fnl_tls_conn_new(struct fnl_tls_ctx *x, const char *host, struct fnl_tls **out)
{
	struct fnl_tls *t = calloc(1, sizeof(*t));
	BIO *inner = NULL;
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	ERR_clear_error();
	t->ssl = SSL_new(x->ssl);
	if (!t->ssl ||
	    BIO_new_bio_pair(&inner, FNL_TLS_PAIR_BYTES, &t->net, FNL_TLS_PAIR_BYTES) != 1)
		goto fail;
	SSL_set_bio(t->ssl, inner, inner);
	SSL_set_connect_state(t->ssl);
	SSL_set_app_data(t->ssl, t); /* for keylog */
	t->ktls = x->ktls;
	t->kernel = x->kernel;
	if (!is_ip && SSL_set_tlsext_host_name(t->ssl, host) != 1)
		goto fail;
	if (x->verify_host) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1
		          : X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1)
			goto fail;
	}
	*out = t;
	return 0;
fail:
	fnl_tls_conn_free(t);
	return -ENOMEM;
}

void fnl_tls_conn_free(struct fnl_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl); /* frees the inner BIO */
	BIO_free(t->net);
	OPENSSL_cleanse(t->tx_secret, sizeof(t->tx_secret));
	free(t);
}

void fnl_tls_set_why(struct fnl_tls *t, const char *why)
{
	snprintf(t->why, sizeof(t->why), "%s", why);
}

const char *fnl_tls_why(const struct fnl_tls *t)
{
	return t->why;
}

/* After a failed SSL call: the reason, words first. */
static int failed(struct fnl_tls *t, int ret)
{
	int e = SSL_get_error(t->ssl, ret);
	long v = SSL_get_verify_result(t->ssl);
	const char *r;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		fnl_tls_set_why(t, "peer closed the TLS session");
		return -ECONNRESET;
	}
	if (!t->done && v != X509_V_OK) {
		snprintf(t->why, sizeof(t->why), "certificate verify failed: %s",
		         X509_verify_cert_error_string(v));
		return -EKEYREJECTED;
	}
	r = ossl_reason();
	if (strstr(r, "wrong version number") || strstr(r, "packet length too long") ||
	    strstr(r, "record layer failure"))
		snprintf(t->why, sizeof(t->why), "peer is not speaking TLS (%s)", r);
	else if (strstr(r, "certificate required"))
		snprintf(t->why, sizeof(t->why),
		         "the broker requires a client certificate (mTLS): set "
		         "ssl.certificate.location and ssl.key.location (%s)",
		         r);
	else if (strstr(r, "alert bad certificate") || strstr(r, "alert unknown ca") ||
	         strstr(r, "alert certificate unknown"))
		snprintf(t->why, sizeof(t->why),
		         "the broker refused funnel's client certificate (%s): is "
		         "ssl.certificate.location signed by a CA the broker trusts?",
		         r);
	else
		snprintf(t->why, sizeof(t->why), "TLS %s failed: %s",
		         t->done ? "record" : "handshake", r);
	return -EPROTO;
}

int fnl_tls_handshake(struct fnl_tls *t)
{
	int r;
	if (t->done)
		return 1;
	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->done = true;
		snprintf(t->why, sizeof(t->why), "%s %s", SSL_get_version(t->ssl),
		         SSL_get_cipher_name(t->ssl));
		return 1;
	}
	return failed(t, r);
}

size_t fnl_tls_feed(struct fnl_tls *t, const void *p, size_t n)
{
	size_t room = BIO_ctrl_get_write_guarantee(t->net);
	int w;
	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	w = BIO_write(t->net, p, (int)n);
	return w > 0 ? (size_t)w : 0;
}

int fnl_tls_read(struct fnl_tls *t, void *buf, size_t cap)
{
	size_t got = 0;
	if (cap == 0)
		return 0;
	ERR_clear_error();
	if (SSL_read_ex(t->ssl, buf, cap, &got) == 1)
		return (int)got;
	return failed(t, 0);
}

bool fnl_tls_can_write(const struct fnl_tls *t)
{
	return BIO_ctrl_get_write_guarantee(SSL_get_wbio(t->ssl)) >= RECORD_ROOM;
}

int fnl_tls_write(struct fnl_tls *t, const void *p, size_t n)
{
	size_t w = 0;
	int r;
	if (n > FNL_TLS_RECORD)
		n = FNL_TLS_RECORD;
	if (n == 0 || !fnl_tls_can_write(t))
		return 0;
	ERR_clear_error();
	if (SSL_write_ex(t->ssl, p, n, &w) == 1)
		return (int)w;
	r = failed(t, 0);
	return r < 0 ? r : -EPROTO; /* room was checked: a want here is a bug */
}

size_t fnl_tls_out(struct fnl_tls *t, const uint8_t **p)
{
	char *q = NULL;
	int n = BIO_nread0(t->net, &q);
	*p = (const uint8_t *)q;
	return n > 0 ? (size_t)n : 0;
}

void fnl_tls_out_done(struct fnl_tls *t, size_t n)
{
	char *q;
	if (n > 0)
		BIO_nread(t->net, &q, (int)n);
}

/* ---- kernel TLS ----------------------------------------------------------- */

int fnl_tls_ktls_mode(const struct fnl_tls *t)
{
	return t->ktls;
}

/* One direction's keys, as the kernel takes them. */
struct ktls_keys {
	uint8_t key[32];
	uint8_t iv[12]; /* GCM: 4-byte salt (TLS 1.2: the implicit part) + 8; ChaCha: 12 */
	uint64_t seq;
};

union ktls_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 g128;
	struct tls12_crypto_info_aes_gcm_256 g256;
	struct tls12_crypto_info_chacha20_poly1305 cc;
};

static void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The cipher's key length and the kernel's cipher type; 0 if the kernel has
 * no such cipher. */
static int cipher_of(const SSL *ssl, size_t *key_len, size_t *iv_len)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	switch (c ? SSL_CIPHER_get_cipher_nid(c) : NID_undef) {
	case NID_aes_128_gcm:
		*key_len = 16;
		*iv_len = 4; /* TLS 1.2 implicit IV; TLS 1.3 derives 12 */
		return TLS_CIPHER_AES_GCM_128;
	case NID_aes_256_gcm:
		*key_len = 32;
		*iv_len = 4;
		return TLS_CIPHER_AES_GCM_256;
	case NID_chacha20_poly1305:
		*key_len = 32;
		*iv_len = 12;
		return TLS_CIPHER_CHACHA20_POLY1305;
	default:
		return 0;
	}
}

/* Fill the kernel's crypto info; returns its size. */
static socklen_t info_fill(union ktls_info *u, int version, int type, const struct ktls_keys *k)
{
	uint8_t seq[8];
	memset(u, 0, sizeof(*u));
	u->info.version = (uint16_t)version;
	u->info.cipher_type = (uint16_t)type;
	be64_put(seq, k->seq);
	if (type == TLS_CIPHER_CHACHA20_POLY1305) {
		memcpy(u->cc.key, k->key, sizeof(u->cc.key));
		memcpy(u->cc.iv, k->iv, sizeof(u->cc.iv)); /* nonce = iv ^ seq, both versions */
		memcpy(u->cc.rec_seq, seq, sizeof(seq));
		return sizeof(u->cc);
	}
	/* GCM: the kernel's nonce is salt | iv. TLS 1.3: iv ^ seq, so iv is the
	 * derived IV's last 8 bytes. TLS 1.2: iv is the explicit nonce of the
	 * first record, then + 1 per record (sent in each record; here the
	 * sequence number, unique as GCM requires). */
	if (type == TLS_CIPHER_AES_GCM_128) {
		memcpy(u->g128.key, k->key, sizeof(u->g128.key));
		memcpy(u->g128.salt, k->iv, 4);
		memcpy(u->g128.iv, version == TLS_1_3_VERSION ? k->iv + 4 : seq, 8);
		memcpy(u->g128.rec_seq, seq, sizeof(seq));
		return sizeof(u->g128);
	}
	memcpy(u->g256.key, k->key, sizeof(u->g256.key));
	memcpy(u->g256.salt, k->iv, 4);
	memcpy(u->g256.iv, version == TLS_1_3_VERSION ? k->iv + 4 : seq, 8);
	memcpy(u->g256.rec_seq, seq, sizeof(seq));
	return sizeof(u->g256);
}

/* A KDF with its parameters (EVP_KDF: "HKDF" or "TLS1-PRF"); 0 or -EPROTO. */
static int kdf(const char *name, OSSL_PARAM *params, uint8_t *out, size_t out_len)
{
	EVP_KDF *k = EVP_KDF_fetch(NULL, name, NULL);
	EVP_KDF_CTX *x = k ? EVP_KDF_CTX_new(k) : NULL;
	int ok = x && EVP_KDF_derive(x, out, out_len, params) == 1;
	EVP_KDF_CTX_free(x);
	EVP_KDF_free(k);
	return ok ? 0 : -EPROTO;
}

/* RFC 8446 7.1 HKDF-Expand-Label(secret, label, "", len). */
static int expand_label(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
                        const char *label, uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 16 + 1];
	size_t ll = strlen(label), n = 0;
	char mode[] = "EXPAND_ONLY";
	OSSL_PARAM p[5];
	info[n++] = (uint8_t)(len >> 8);
	info[n++] = (uint8_t)len;
	info[n++] = (uint8_t)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0; /* empty context */
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode, 0);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md),
	                                        0);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	p[4] = OSSL_PARAM_construct_end();
	return kdf("HKDF", p, out, len);
}

/* TLS 1.3: the client's application traffic keys (our TX), sequence 0. */
static int keys13(struct fnl_tls *t, const EVP_MD *md, size_t key_len, struct ktls_keys *tx)
{
	if (t->tx_secret_len == 0 || t->tx_secret_len != (size_t)EVP_MD_get_size(md))
		return -ENOKEY;
	if (expand_label(md, t->tx_secret, t->tx_secret_len, "key", tx->key, key_len) < 0 ||
	    expand_label(md, t->tx_secret, t->tx_secret_len, "iv", tx->iv, 12) < 0)
		return -EPROTO;
	tx->seq = 0;
	return 0;
}

/* TLS 1.2 (RFC 5246 6.3): key_block = PRF(master, "key expansion",
 * server_random | client_random) = client key | server key | client IV |
 * server IV (AEAD: no MAC keys); both sequences 1. */
static int keys12(struct fnl_tls *t, const EVP_MD *md, size_t key_len, size_t iv_len,
                  struct ktls_keys *tx, struct ktls_keys *rx)
{
	uint8_t master[48], seed[13 + 2 * SSL3_RANDOM_SIZE], block[2 * (32 + 12)];
	size_t ml = SSL_SESSION_get_master_key(SSL_get_session(t->ssl), master, sizeof(master));
	OSSL_PARAM p[4];
	int r;
	memcpy(seed, "key expansion", 13);
	if (ml == 0 ||
	    SSL_get_server_random(t->ssl, seed + 13, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE ||
	    SSL_get_client_random(t->ssl, seed + 13 + SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE) !=
	        SSL3_RANDOM_SIZE)
		return -ENOKEY;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md),
	                                        0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, ml);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof(seed));
	p[3] = OSSL_PARAM_construct_end();
	r = kdf("TLS1-PRF", p, block, 2 * (key_len + iv_len));
	if (r == 0) {
		memcpy(tx->key, block, key_len);
		memcpy(rx->key, block + key_len, key_len);
		memcpy(tx->iv, block + 2 * key_len, iv_len);
		memcpy(rx->iv, block + 2 * key_len + iv_len, iv_len);
		tx->seq = rx->seq = 1;
	}
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(block, sizeof(block));
	return r;
}

/* setsockopt(SOL_TLS, dir), then read it back: the kernel took it. The
 * setsockopt's -errno (nothing changed), or -ENOTRECOVERABLE when it was
 * accepted but does not read back as set (the socket's state is unknown). */
static int ktls_set(int fd, int dir, const union ktls_info *u, socklen_t len)
{
	union ktls_info back;
	socklen_t bl = sizeof(back);
	int r = 0;
	if (setsockopt(fd, SOL_TLS, dir, u, len) < 0)
		return -errno;
	memset(&back, 0, sizeof(back));
	if (getsockopt(fd, SOL_TLS, dir, &back, &bl) < 0 || bl != len ||
	    back.info.version != u->info.version || back.info.cipher_type != u->info.cipher_type)
		r = -ENOTRECOVERABLE;
	OPENSSL_cleanse(&back, sizeof(back));
	return r;
}

static int ktls_fail(struct fnl_tls *t, int r, const char *what)
{
	snprintf(t->why, sizeof(t->why), "kernel TLS %s: %s", what, strerror(-r));
	return r;
}

int fnl_tls_ktls_start(struct fnl_tls *t, int fd, bool rx_ok)
{
	struct ktls_keys tx, rx;
	union ktls_info u;
	socklen_t len;
	size_t key_len = 0, iv_len = 0;
	int version = SSL_version(t->ssl), type = cipher_of(t->ssl, &key_len, &iv_len), r, dirs;
	const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
	const EVP_MD *md = c ? SSL_CIPHER_get_handshake_digest(c) : NULL;

	if (!t->done)
		return ktls_fail(t, -EINVAL, "before the handshake");
	if (!t->kernel) {
		snprintf(t->why, sizeof(t->why),
		         "kernel TLS not available: no \"tls\" upper layer protocol");
		return -ENOENT;
	}
	if (version != TLS1_2_VERSION && version != TLS1_3_VERSION)
		return ktls_fail(t, -EOPNOTSUPP, "for this TLS version");
	if (type == 0 || !md)
		return ktls_fail(t, -EOPNOTSUPP, "for this cipher");
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	if (version == TLS1_3_VERSION) {
		r = keys13(t, md, key_len, &tx);
		rx_ok = false;
	} else {
		r = keys12(t, md, key_len, iv_len, &tx, &rx);
	}
	OPENSSL_cleanse(t->tx_secret, sizeof(t->tx_secret));
	t->tx_secret_len = 0;
	if (r < 0)
		return ktls_fail(t, r, "keys");
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3) < 0) {
		r = ktls_fail(t, -errno, "(TCP_ULP \"tls\")");
		goto out;
	}
	version = version == TLS1_3_VERSION ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	len = info_fill(&u, version, type, &tx);
	r = ktls_set(fd, TLS_TX, &u, len);
	if (r < 0) {
		ktls_fail(t, r, "TX (TLS_TX)");
		goto out;
	}
	dirs = FNL_KTLS_TX;
	if (rx_ok) {
		len = info_fill(&u, version, type, &rx);
		r = ktls_set(fd, TLS_RX, &u, len);
		if (r == -ENOTRECOVERABLE) {
			ktls_fail(t, r, "RX (TLS_RX read back)");
			goto out;
		}
		if (r == 0)
			dirs |= FNL_KTLS_RX; /* else receives stay in OpenSSL */
	}
	r = dirs;
out:
	OPENSSL_cleanse(&u, sizeof(u));
	OPENSSL_cleanse(&tx, sizeof(tx));
	OPENSSL_cleanse(&rx, sizeof(rx));
	return r;
}

bool fnl_tls_rx_buffered(const struct fnl_tls *t)
{
	return BIO_ctrl_pending(SSL_get_rbio(t->ssl)) > 0 || SSL_has_pending(t->ssl);
}

bool fnl_tls_is13(const struct fnl_tls *t)
{
	return SSL_version(t->ssl) == TLS1_3_VERSION;
}

bool fnl_tls_owes_output(struct fnl_tls *t)
{
	return BIO_ctrl_pending(t->net) > 0 ||
	       SSL_get_key_update_type(t->ssl) != SSL_KEY_UPDATE_NONE;
}
