/* creds.c - shared SASL credentials (see creds.h). */
#include "dataplane/sasl/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

void fnl_sasl_creds_init(struct fnl_sasl_creds *c, int mech, const char *user)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->mech = mech;
	snprintf(c->user, sizeof(c->user), "%s", user ? user : "");
}

void fnl_sasl_creds_destroy(struct fnl_sasl_creds *c)
{
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	pthread_mutex_destroy(&c->mu);
}

void fnl_sasl_creds_set(struct fnl_sasl_creds *c, const char *secret, size_t len)
{
	if (len >= sizeof(c->secret))
		len = sizeof(c->secret) - 1;
	pthread_mutex_lock(&c->mu);
	if (len != c->secret_len || memcmp(c->secret, secret, len) != 0) {
		memcpy(c->secret, secret, len);
		c->secret[len] = '\0';
		c->secret_len = len;
		c->gen++;
	}
	pthread_mutex_unlock(&c->mu);
}

int fnl_sasl_creds_file(struct fnl_sasl_creds *c, const char *path)
{
	char buf[FNL_SASL_SECRET_MAX];
	ssize_t n;
	uint64_t before = c->gen;
	/* read every time (a small file, once a second): a rewrite within the
	 * file system's timestamp granularity is not missed */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	if ((size_t)n == sizeof(buf))
		return -EFBIG;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	fnl_sasl_creds_set(c, buf, (size_t)n);
	OPENSSL_cleanse(buf, sizeof(buf));
	return c->gen != before;
}

int fnl_sasl_creds_login(struct fnl_sasl_creds *c, struct fnl_sasl *s, uint64_t *gen)
{
	pthread_mutex_lock(&c->mu);
	int rc = fnl_sasl_init(s, c->mech, c->user, c->secret, c->secret_len);
	*gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	return rc;
}
