/* test_txnd_resolve.c - ctrl/txnd_resolve.c: the window record's metadata text, the ring of
 * settled commit ids, OffsetFetch v2 bytes; and the config refusals of transactional.id. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ctrl/config.h"
#include "ctrl/txnd_resolve.h"
#include "dataplane/kafka/wire.h"

static struct fnl_txr r;

static void test_text(void)
{
	struct fnl_txr_id ids[3] = {{0x1234abcdull, 7}, {UINT64_MAX, UINT32_MAX}, {0, 0}};
	char md[256];
	int n = fnl_txr_format(ids, 3, md, sizeof(md));
	CHECK(n > 0);
	CHECK(strcmp(md, "1234abcd:7,ffffffffffffffff:ffffffff,0:0,") == 0);
	CHECK_EQ(fnl_txr_format(ids, 3, md, 10), -ENOSPC);
	memset(&r, 0, sizeof(r));
	n = fnl_txr_format(ids, 3, md, sizeof(md));
	CHECK_EQ(fnl_txr_parse(md, (size_t)n, &r), 0);
	CHECK_EQ(r.n, 3);
	CHECK(fnl_txr_has(&r, 0x1234abcdull, 7));
	CHECK(fnl_txr_has(&r, UINT64_MAX, UINT32_MAX));
	CHECK(!fnl_txr_has(&r, 0x1234abcdull, 8));
	CHECK_EQ(fnl_txr_parse("", 0, &r), 0);
	CHECK_EQ(fnl_txr_parse("12:3", 4, &r), -EBADMSG);          /* no closing comma */
	CHECK_EQ(fnl_txr_parse("zz:3,", 5, &r), -EBADMSG);         /* not hex */
	CHECK_EQ(fnl_txr_parse("12,", 3, &r), -EBADMSG);           /* no colon */
	CHECK_EQ(fnl_txr_parse("1:100000000,", 12, &r), -EBADMSG); /* cseq > u32 */
	/* a full window's ids fit the default offset.metadata.max.bytes (4096) */
	static struct fnl_txr_id big[FNL_TXR_WINDOW_MAX];
	for (int i = 0; i < FNL_TXR_WINDOW_MAX; i++)
		big[i] = (struct fnl_txr_id){UINT64_MAX - (uint64_t)i, UINT32_MAX};
	static char bmd[4097];
	CHECK(fnl_txr_format(big, FNL_TXR_WINDOW_MAX, bmd, sizeof(bmd)) > 0);
}

static void test_ring(void)
{
	memset(&r, 0, sizeof(r));
	for (uint32_t i = 0; i < FNL_TXR_KEEP + 10; i++)
		fnl_txr_add(&r, 42, i);
	CHECK_EQ(r.n, FNL_TXR_KEEP);
	CHECK(!fnl_txr_has(&r, 42, 9)); /* the oldest went */
	CHECK(fnl_txr_has(&r, 42, 10));
	CHECK(fnl_txr_has(&r, 42, FNL_TXR_KEEP + 9));
}

struct seen {
	int n;
	int64_t off;
	char md[64];
	int16_t err;
};

static void on_off(void *ctx, const char *t, int tl, int32_t p, int64_t off, const char *md, int ml,
                   int16_t err)
{
	struct seen *s = ctx;
	CHECK(tl == 3 && memcmp(t, "top", 3) == 0);
	CHECK_EQ(p, s->n);
	s->n++;
	s->off = off;
	s->err = err;
	memcpy(s->md, md ? md : "", (size_t)ml);
	s->md[ml] = 0;
}

static void test_offset_fetch(void)
{
	uint8_t buf[256];
	int n = fnl_enc_offset_fetch_all(buf, sizeof(buf), 5, "cid", "g");
	static const uint8_t want[] = {0, 0, 0,   20,  0,   9, 0, 2,   0,    0,    0,    5,
	                               0, 3, 'c', 'i', 'd', 0, 1, 'g', 0xff, 0xff, 0xff, 0xff};
	CHECK_EQ(n, sizeof(want));
	CHECK_MEM(buf, want, sizeof(want));
	/* topics [ "top" [ p0 off 9 md "a:1," err 0 ] [ p1 off -1 md null err 0 ] ], err 0 */
	static const uint8_t resp[] = {
	    0, 0, 0, 1,    0,    3,    't',  'o',  'p',  0,    0,    0,    2,    0,   0, 0, 0,
	    0, 0, 0, 0,    0,    0,    0,    9,    0,    4,    'a',  ':',  '1',  ',', 0, 0, 0,
	    0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,   0, 0, 0};
	struct seen s = {0};
	int16_t err = -1;
	CHECK_EQ(fnl_dec_offset_fetch(resp, sizeof(resp), on_off, &s, &err), 0);
	CHECK_EQ(s.n, 2);
	CHECK_EQ(err, 0);
	CHECK_EQ(s.off, -1);
	for (size_t cut = 0; cut < sizeof(resp); cut++) {
		memset(&s, 0, sizeof(s));
		CHECK_EQ(fnl_dec_offset_fetch(resp, cut, on_off, &s, &err), -EBADMSG);
	}
}

static void test_config(void)
{
	struct fnl_config c;
	char msg[512];
	fnl_config_defaults(&c);
	CHECK_EQ(fnl_config_set(&c, "bootstrap.servers", "h:1", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "transactional.id", "t", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "enable.idempotence", "false", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_finish(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "transactional.id") && strstr(msg, "enable.idempotence=false"));
	CHECK_EQ(fnl_config_set(&c, "enable.idempotence", "true", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_set(&c, "acks", "1", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_finish(&c, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "transactional.id") && strstr(msg, "acks"));
	CHECK_EQ(fnl_config_set(&c, "acks", "all", msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_config_finish(&c, msg, sizeof(msg)), 0);
	CHECK_EQ(c.txn_timeout_ms, 60000);
	CHECK_EQ(fnl_config_set(&c, "transaction.timeout.ms", "0", msg, sizeof(msg)), -EINVAL);
}

int main(void)
{
	test_text();
	test_ring();
	test_offset_fetch();
	test_config();
	return 0;
}
