/* tls.c - OpenSSL 3 client TLS through a BIO pair (see tls.h). */
#include "dataplane/net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* room the pair's outgoing side must have for one record of FNL_TLS_RECORD
 * plaintext bytes: header, MAC/tag, padding (CBC: up to 256), content type */
#define RECORD_ROOM (FNL_TLS_RECORD + 512)

struct fnl_tls_ctx {
	SSL_CTX *ssl;
	bool verify_host;
	char key_password[256];
};

struct fnl_tls {
	SSL *ssl;
	BIO *net; /* our end of the pair; SSL holds the other */
	bool done;
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
	rc = load_ca(x->ssl, cfg, msg, msg_len);
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

bool fnl_tls_kernel_available(void)
{
	char buf[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
		if (strcmp(p, "tls") == 0)
			return true;
	return false;
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
