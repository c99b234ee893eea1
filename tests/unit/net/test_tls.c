/* test_tls.c - the engine's TLS connections against an OpenSSL server thread
 * (a certificate made here, for IP 127.0.0.1 and DNS localhost):
 *   echo      frames of 1 B .. 1 MiB, sent as several iovecs, five in flight,
 *             come back through TLS in order, every send gets its SENT;
 *   verify    a host the certificate does not name, and an untrusted CA, end
 *             in CLOSED -EKEYREJECTED with the cause in fnl_conn_why;
 *   keyupdate a TLS 1.3 KeyUpdate from the server, requested or not (with
 *             kernel TLS for sends a requested one closes the connection);
 *   hostile   a peer that closes during the handshake, one that answers the
 *             ClientHello with plaintext, garbage after the handshake, a
 *             truncated record then close: each ends in one CLOSED with a
 *             reason, never a crash or a hang.
 * Run on each receive path meson gives ($FNL_NET_RX); the direct path refuses
 * TLS (fnl_conn_tls -EOPNOTSUPP), which is checked there. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "dataplane/net/engine.h"
#include "dataplane/net/tls.h"
#include "netutil.h"

static EVP_PKEY *key;
static X509 *cert;
static char cert_pem[8192];

static void make_cert(void)
{
	BIO *b = BIO_new(BIO_s_mem());
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	key = EVP_EC_gen("P-256");
	CHECK(key);
	cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"funnel-test", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	CHECK(ext);
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	CHECK(X509_sign(cert, key, EVP_sha256()) > 0);
	PEM_write_bio_X509(b, cert);
	int n = BIO_read(b, cert_pem, sizeof(cert_pem) - 1);
	CHECK(n > 0);
	cert_pem[n] = '\0';
	BIO_free(b);
}

enum mode {
	M_ECHO,
	M_CLOSE_IN_HS,
	M_PLAIN_REPLY,
	M_GARBAGE,
	M_TRUNCATED,
	M_MTLS,
	M_KEYUPDATE,     /* TLS 1.3 KeyUpdate (update_not_requested) first, then echo */
	M_KEYUPDATE_REQ, /* the same with update_requested: the client must answer */
	M_RENEGOTIATE    /* TLS 1.2: a HelloRequest first, then read until the client closes */
};

struct server {
	int lfd;
	enum mode mode;
	SSL_CTX *ctx;
};

/* Frames [int32 size][bytes] echoed back until the client closes; lenient:
 * the client may also close while an echo is being written. */
static void echo(SSL *s, bool lenient)
{
	static uint8_t buf[(1 << 20) + 4];
	for (;;) {
		size_t got = 0, n;
		if (SSL_read_ex(s, buf, 4, &got) != 1)
			return;
		while (got < 4) {
			size_t k;
			if (SSL_read_ex(s, buf + got, 4 - got, &k) != 1)
				return;
			got += k;
		}
		n = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
		CHECK(n <= 1u << 20);
		for (size_t have = 0; have < n;) {
			size_t k;
			if (SSL_read_ex(s, buf + 4 + have, n - have, &k) != 1)
				return;
			have += k;
		}
		size_t w;
		if (lenient && SSL_write_ex(s, buf, n + 4, &w) != 1)
			return;
		CHECK(lenient || (SSL_write_ex(s, buf, n + 4, &w) == 1 && w == n + 4));
	}
}

static void *serve(void *arg)
{
	struct server *sv = arg;
	int fd = accept(sv->lfd, NULL, NULL);
	CHECK(fd >= 0);
	if (sv->mode == M_CLOSE_IN_HS) {
		uint8_t b[64];
		CHECK(read(fd, b, sizeof(b)) > 0); /* part of the ClientHello */
		close(fd);
		return NULL;
	}
	if (sv->mode == M_PLAIN_REPLY) {
		uint8_t b[512];
		CHECK(read(fd, b, sizeof(b)) > 0);
		nt_write_all(fd, "\0\0\0\x08not tls!", 12); /* a Kafka-ish frame */
		CHECK(read(fd, b, sizeof(b)) >= 0);         /* until the client gives up */
		close(fd);
		return NULL;
	}
	SSL *s = SSL_new(sv->ctx);
	SSL_set_fd(s, fd);
	if (SSL_accept(s) == 1) {
		if (sv->mode == M_KEYUPDATE || sv->mode == M_KEYUPDATE_REQ) {
			CHECK(SSL_key_update(s, sv->mode == M_KEYUPDATE
			                            ? SSL_KEY_UPDATE_NOT_REQUESTED
			                            : SSL_KEY_UPDATE_REQUESTED) == 1);
			CHECK(SSL_do_handshake(s) == 1);      /* sends it now */
			echo(s, sv->mode == M_KEYUPDATE_REQ); /* a kTLS client closes */
		} else if (sv->mode == M_RENEGOTIATE) {
			uint8_t b[256];
			size_t k;
			CHECK(SSL_renegotiate(s) == 1);
			SSL_do_handshake(s); /* sends the HelloRequest */
			while (SSL_read_ex(s, b, sizeof(b), &k) == 1)
				; /* until the client, which cannot follow, closes */
		} else if (sv->mode == M_ECHO || sv->mode == M_MTLS) {
			echo(s, false);
		} else if (sv->mode == M_GARBAGE) {
			uint8_t g[37] = {0x17, 0x03, 0x03, 0x00, 0x20};
			memset(g + 5, 'g', 32); /* an application record that does not decrypt */
			nt_write_all(fd, g, sizeof(g));
			uint8_t b[64];
			/* until the client gives up: an alert from OpenSSL, or (kernel TLS
			 * receive, which sends no alert) a reset */
			if (read(fd, b, sizeof(b)) < 0)
				CHECK(errno == ECONNRESET);
		} else { /* M_TRUNCATED: the header of a 16 KiB record, 100 bytes, close */
			static uint8_t rec[105] = {0x17, 0x03, 0x03, 0x40, 0x00};
			nt_write_all(fd, rec, sizeof(rec));
		}
	}
	SSL_free(s);
	close(fd);
	return NULL;
}

static SSL_CTX *server_ctx(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	CHECK(c);
	CHECK(SSL_CTX_use_certificate(c, cert) == 1);
	CHECK(SSL_CTX_use_PrivateKey(c, key) == 1);
	return c;
}

static struct fnl_tls_ctx *client_ctx(const char *pem, bool verify_host)
{
	struct fnl_tls_ctx *x = NULL;
	char msg[256];
	struct fnl_tls_cfg cfg = {.ca_pem = pem, .verify = true, .verify_host = verify_host};
	if (fnl_tls_ctx_new(&cfg, &x, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "client ctx: %s\n", msg);
		exit(1);
	}
	return x;
}

/* Open a TLS connection to a fresh server in mode; returns the conn id. */
static int start(struct fnl_engine *e, struct server *sv, pthread_t *th, enum mode mode,
                 struct fnl_tls_ctx *x, const char *host)
{
	struct sockaddr_in sa;
	sv->lfd = nt_listen(&sa, 1);
	sv->mode = mode;
	CHECK(pthread_create(th, NULL, serve, sv) == 0);
	int id = fnl_conn_open(e, (const struct sockaddr *)&sa, sizeof(sa), 2000, 1);
	CHECK(id >= 0);
	CHECK_EQ(fnl_conn_tls(e, id, x, host), 0);
	return id;
}

static void finish(struct server *sv, pthread_t th)
{
	pthread_join(th, NULL);
	close(sv->lfd);
}

/* The connection ends in CLOSED res want (after any SENT), why contains cause. */
static void expect_closed(struct fnl_engine *e, int id, int want, const char *cause)
{
	struct fnl_event ev;
	do
		ev = nt_next(e);
	while (ev.type == FNL_EV_SENT || ev.type == FNL_EV_FRAME);
	if (ev.type != FNL_EV_CLOSED || ev.conn != id || ev.res != want ||
	    !strstr(fnl_conn_why(e, id), cause)) {
		fprintf(stderr, "got event %d res %d why '%s'; want CLOSED %d '%s'\n", ev.type,
		        ev.res, fnl_conn_why(e, id), want, cause);
		exit(1);
	}
}

/* Echo over TLS; max_version caps the server (0: TLS 1.3). Where the kernel
 * has kTLS the records go through it (funnel.ssl.ktls=auto: TX, and RX for
 * TLS 1.2), else through OpenSSL; the connection's line says which. */
static void test_echo(struct fnl_engine *e, struct fnl_tls_ctx *x, int max_version)
{
	struct server sv = {.ctx = server_ctx()};
	pthread_t th;
	enum { FRAMES = 40, INFLIGHT = 5 };
	static uint8_t data[FRAMES][(1 << 20)];
	static uint8_t hdr[FRAMES][4];
	static struct iovec iov[FRAMES][3];
	uint32_t len[FRAMES];
	memset(iov, 0, sizeof(iov)); /* a previous run left its entries advanced */
	if (max_version)
		SSL_CTX_set_max_proto_version(sv.ctx, max_version);
	int id = start(e, &sv, &th, M_ECHO, x, "127.0.0.1");
	struct fnl_event ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CONNECTED);
	CHECK(strstr(fnl_conn_why(e, id), "TLSv1."));
	CHECK(strstr(fnl_conn_why(e, id), !fnl_tls_kernel_available()
	                                      ? "TLS in user space (kernel TLS not available"
	                                  : max_version == TLS1_2_VERSION
	                                      ? "kernel TLS for sends and receives"
	                                      : "kernel TLS for sends, receives in user space"));
	printf("net-tls: echo: %s\n", fnl_conn_why(e, id));
	CHECK_EQ(fnl_conn_send(e, id, iov[0], 1, 0), -EINVAL); /* zero bytes */
	srand(13);
	int sent = 0, sents = 0, frames = 0;
	while (frames < FRAMES) {
		while (sent < FRAMES && sent - sents < INFLIGHT) {
			int i = sent;
			len[i] = i == 0   ? 1
			         : i == 1 ? (1u << 20) - 4
			                  : (uint32_t)(rand() % (300000)) + 2;
			for (uint32_t k = 0; k < len[i]; k++)
				data[i][k] = (uint8_t)(k * 7 + (uint32_t)i);
			nt_be32(hdr[i], len[i]);
			uint32_t cut = len[i] / 3;
			iov[i][0] = (struct iovec){hdr[i], 4};
			iov[i][1] = (struct iovec){data[i], cut};
			iov[i][2] = (struct iovec){data[i] + cut, len[i] - cut};
			CHECK_EQ(fnl_conn_send(e, id, iov[i], 3, (uint64_t)i), 0);
			sent++;
		}
		ev = nt_next(e);
		if (ev.type == FNL_EV_SENT) {
			CHECK_EQ(ev.res, 0);
			CHECK_EQ(ev.tag, (uint64_t)sents);
			sents++;
		} else {
			CHECK_EQ(ev.type, FNL_EV_FRAME);
			CHECK_EQ(ev.frame_len, len[frames]);
			CHECK_MEM(ev.frame, data[frames], len[frames]);
			frames++;
		}
	}
	while (sents < FRAMES) {
		ev = nt_next(e);
		CHECK_EQ(ev.type, FNL_EV_SENT);
		sents++;
	}
	fnl_conn_close(e, id);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	finish(&sv, th);
	SSL_CTX_free(sv.ctx);
}

static void test_failures(struct fnl_engine *e, struct fnl_tls_ctx *x)
{
	struct server sv = {.ctx = server_ctx()};
	pthread_t th;
	struct fnl_tls_ctx *other;
	struct fnl_engine_stats st0, st1;
	fnl_engine_stats(e, &st0);

	int id = start(e, &sv, &th, M_ECHO, x, "kafka.example.com");
	expect_closed(e, id, -EKEYREJECTED, "certificate verify failed: hostname mismatch");
	finish(&sv, th);
	id = start(e, &sv, &th, M_ECHO, x, "127.0.0.2");
	expect_closed(e, id, -EKEYREJECTED, "IP address mismatch");
	finish(&sv, th);

	/* a CA that did not sign it: a second self-signed certificate */
	{
		EVP_PKEY *k2 = key;
		X509 *c2 = cert;
		char pem2[sizeof(cert_pem)];
		memcpy(pem2, cert_pem, sizeof(pem2));
		make_cert(); /* a new key and certificate: the server keeps using the old */
		other = client_ctx(cert_pem, true);
		EVP_PKEY_free(key);
		X509_free(cert);
		key = k2;
		cert = c2;
		memcpy(cert_pem, pem2, sizeof(pem2));
	}
	id = start(e, &sv, &th, M_ECHO, other, "127.0.0.1");
	expect_closed(e, id, -EKEYREJECTED, "certificate verify failed");
	finish(&sv, th);
	fnl_tls_ctx_free(other);

	id = start(e, &sv, &th, M_CLOSE_IN_HS, x, "127.0.0.1");
	expect_closed(e, id, -EPROTO, "closed during the TLS handshake");
	finish(&sv, th);
	id = start(e, &sv, &th, M_PLAIN_REPLY, x, "127.0.0.1");
	expect_closed(e, id, -EPROTO, "not speaking TLS");
	finish(&sv, th);

	id = start(e, &sv, &th, M_GARBAGE, x, "127.0.0.1");
	CHECK_EQ(nt_next(e).type, FNL_EV_CONNECTED);
	expect_closed(e, id, -EPROTO, "TLS record failed");
	finish(&sv, th);
	id = start(e, &sv, &th, M_TRUNCATED, x, "127.0.0.1");
	CHECK_EQ(nt_next(e).type, FNL_EV_CONNECTED);
	expect_closed(e, id, -ECONNRESET, "");
	finish(&sv, th);
	/* the same two over TLS 1.2, where kernel TLS (if any) also receives */
	SSL_CTX_set_max_proto_version(sv.ctx, TLS1_2_VERSION);
	id = start(e, &sv, &th, M_GARBAGE, x, "127.0.0.1");
	CHECK_EQ(nt_next(e).type, FNL_EV_CONNECTED);
	expect_closed(e, id, -EPROTO,
	              fnl_tls_kernel_available() ? "kernel TLS could not decrypt a record"
	                                         : "TLS record failed");
	finish(&sv, th);
	id = start(e, &sv, &th, M_TRUNCATED, x, "127.0.0.1");
	CHECK_EQ(nt_next(e).type, FNL_EV_CONNECTED);
	expect_closed(e, id, -ECONNRESET, "");
	finish(&sv, th);

	fnl_engine_stats(e, &st1);
	CHECK(st1.tls_failures - st0.tls_failures >= 5);
	SSL_CTX_free(sv.ctx);
}

/* A TLS 1.3 server changes its keys first thing (or, M_RENEGOTIATE, run only
 * where the kernel has kTLS, a TLS 1.2 server sends a HelloRequest: with
 * kernel TLS for receives it is a non-data record and the connection closes
 * naming it; this blocking test server cannot drive a renegotiation that the
 * user-space client follows, so that case is not run here). Not requested: the
 * client's receive side (OpenSSL, also with kernel TLS for sends) follows, frames echo. Requested:
 * the client must answer with a KeyUpdate of its own; in user space it does and frames echo, with
 * kernel TLS for sends it cannot (the kernel holds the send keys), so the connection closes with
 * that reason. */
static void test_keyupdate(struct fnl_engine *e, struct fnl_tls_ctx *x, enum mode mode)
{
	struct server sv = {.ctx = server_ctx()};
	if (mode == M_RENEGOTIATE)
		SSL_CTX_set_max_proto_version(sv.ctx, TLS1_2_VERSION);
	pthread_t th;
	static uint8_t fr[3][4 + 1000];
	static struct iovec iov[3];
	int id = start(e, &sv, &th, mode, x, "127.0.0.1");
	struct fnl_event ev = nt_next(e);
	bool kernel_tx = strstr(fnl_conn_why(e, id), "kernel TLS for sends") != NULL;
	CHECK_EQ(ev.type, FNL_EV_CONNECTED);
	CHECK(kernel_tx == fnl_tls_kernel_available());
	for (int i = 0; i < 3; i++) {
		nt_be32(fr[i], 1000);
		memset(fr[i] + 4, 'a' + i, 1000);
		iov[i] = (struct iovec){fr[i], sizeof(fr[i])};
		CHECK_EQ(fnl_conn_send(e, id, &iov[i], 1, (uint64_t)i), 0);
	}
	if (mode == M_KEYUPDATE_REQ && kernel_tx) {
		expect_closed(e, id, -EPROTO, "KeyUpdate");
	} else if (mode == M_RENEGOTIATE && kernel_tx) { /* kernel receive: a non-data record */
		expect_closed(e, id, -EPROTO, "renegotiation");
	} else {
		for (int got = 0; got < 3;) {
			ev = nt_next(e);
			if (ev.type == FNL_EV_SENT)
				continue;
			CHECK_EQ(ev.type, FNL_EV_FRAME);
			CHECK_EQ(ev.frame_len, 1000u);
			CHECK_MEM(ev.frame, fr[got] + 4, 1000);
			got++;
		}
		fnl_conn_close(e, id);
		do
			ev = nt_next(e);
		while (ev.type == FNL_EV_SENT);
		CHECK_EQ(ev.type, FNL_EV_CLOSED);
	}
	printf("net-tls: %s: %s\n",
	       mode == M_KEYUPDATE       ? "KeyUpdate not requested"
	       : mode == M_KEYUPDATE_REQ ? "KeyUpdate requested"
	                                 : "TLS 1.2 renegotiation",
	       mode != M_KEYUPDATE && kernel_tx ? fnl_conn_why(e, id) : "frames echoed");
	finish(&sv, th);
	SSL_CTX_free(sv.ctx);
}

/* mTLS: a server that requires a client certificate signed by our CA; the
 * client's key is encrypted (ssl.key.password). */
static void test_mtls(struct fnl_engine *e)
{
	struct server sv = {.ctx = server_ctx()};
	pthread_t th;
	char certf[] = "/tmp/fnl-tls-cert-XXXXXX", keyf[] = "/tmp/fnl-tls-key-XXXXXX", msg[256];
	struct fnl_tls_ctx *mx = NULL, *nocert;
	int fc = mkstemp(certf), fk = mkstemp(keyf);
	CHECK(fc >= 0 && fk >= 0);
	CHECK(write(fc, cert_pem, strlen(cert_pem)) == (ssize_t)strlen(cert_pem));
	close(fc);
	BIO *b = BIO_new_fd(fk, BIO_CLOSE);
	CHECK(PEM_write_bio_PrivateKey(b, key, EVP_aes_128_cbc(), (unsigned char *)"kpw", 3, NULL,
	                               NULL) == 1);
	BIO_free(b);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(sv.ctx), cert);
	SSL_CTX_set_verify(sv.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);

	struct fnl_tls_cfg cfg = {.ca_pem = cert_pem,
	                          .cert = certf,
	                          .key = keyf,
	                          .key_password = "wrong",
	                          .verify = true,
	                          .verify_host = true};
	CHECK(fnl_tls_ctx_new(&cfg, &mx, msg, sizeof(msg)) < 0);
	CHECK(strstr(msg, "ssl.key.location") && strstr(msg, "ssl.key.password"));
	cfg.key_password = "kpw";
	CHECK_EQ(fnl_tls_ctx_new(&cfg, &mx, msg, sizeof(msg)), 0);

	/* with the certificate: a frame goes through */
	int id = start(e, &sv, &th, M_MTLS, mx, "localhost");
	CHECK_EQ(nt_next(e).type, FNL_EV_CONNECTED);
	static uint8_t fr[12] = {0, 0, 0, 8, 'm', 't', 'l', 's', '-', 'o', 'k', '!'};
	struct iovec iov = {fr, sizeof(fr)};
	CHECK_EQ(fnl_conn_send(e, id, &iov, 1, 9), 0);
	bool sent = false, got = false;
	while (!sent || !got) {
		struct fnl_event ev = nt_next(e);
		if (ev.type == FNL_EV_SENT)
			sent = true;
		else if (ev.type == FNL_EV_FRAME && ev.frame_len == 8 &&
		         !memcmp(ev.frame, fr + 4, 8))
			got = true;
		else
			CHECK(!"unexpected event");
	}
	fnl_conn_close(e, id);
	CHECK_EQ(nt_next(e).type, FNL_EV_CLOSED);
	finish(&sv, th);

	/* without one: the server refuses (TLS 1.3: after the client's Finished) */
	nocert = client_ctx(cert_pem, true);
	id = start(e, &sv, &th, M_MTLS, nocert, "localhost");
	struct fnl_event ev = nt_next(e);
	if (ev.type == FNL_EV_CONNECTED)
		ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CLOSED);
	CHECK(ev.res == -EPROTO || ev.res == -ECONNRESET);
	CHECK(fnl_conn_why(e, id)[0] != '\0'); /* the alert, or the close that follows it */
	finish(&sv, th);
	fnl_tls_ctx_free(nocert);
	fnl_tls_ctx_free(mx);
	unlink(certf);
	unlink(keyf);
	SSL_CTX_free(sv.ctx);
}

int main(void)
{
	struct fnl_engine *e = nt_engine(2u << 20);
	struct fnl_engine_stats st;
	signal(SIGPIPE, SIG_IGN); /* the server thread's SSL_write to a closed peer */
	make_cert();
	struct fnl_tls_ctx *x = client_ctx(cert_pem, true);
	fnl_engine_stats(e, &st);
	if (!st.rx_bufring) {
		struct sockaddr_in sa;
		int lfd = nt_listen(&sa, 1);
		int id = fnl_conn_open(e, (const struct sockaddr *)&sa, sizeof(sa), 2000, 1);
		CHECK(id >= 0);
		CHECK_EQ(fnl_conn_tls(e, id, x, "127.0.0.1"), -EOPNOTSUPP);
		fnl_conn_close(e, id);
		close(lfd);
		puts("net-tls: direct receive path refuses TLS, ok");
	} else {
		test_echo(e, x, 0);
		test_echo(e, x, TLS1_2_VERSION);
		test_keyupdate(e, x, M_KEYUPDATE);
		test_keyupdate(e, x, M_KEYUPDATE_REQ);
		if (fnl_tls_kernel_available()) /* a kernel-TLS receive case only (see above) */
			test_keyupdate(e, x, M_RENEGOTIATE);
		test_failures(e, x);
		test_mtls(e);
		fnl_engine_stats(e, &st);
		CHECK(st.tls_handshakes >= 3);
		if (fnl_tls_kernel_available()) /* both echoes: TX; the TLS 1.2 one: RX */
			CHECK(st.ktls_tx >= 2 && st.ktls_rx >= 1);
		else
			CHECK(st.tls_user >= 3 && st.ktls_tx == 0 && st.ktls_rx == 0);
		puts("net-tls: ok");
	}
	fnl_tls_ctx_free(x);
	fnl_engine_free(e);
	EVP_PKEY_free(key);
	X509_free(cert);
	return 0;
}
