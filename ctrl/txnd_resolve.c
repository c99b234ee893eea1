/* txnd_resolve.c - see txnd_resolve.h. */
#include "ctrl/txnd_resolve.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/kafka/wire.h"

#define API_OFFSET_FETCH 9

void fnl_txr_add(struct fnl_txr *r, uint64_t uid, uint32_t cseq)
{
	r->ids[r->next] = (struct fnl_txr_id){uid, cseq};
	r->next = (r->next + 1) % FNL_TXR_KEEP;
	if (r->n < FNL_TXR_KEEP)
		r->n++;
}

bool fnl_txr_has(const struct fnl_txr *r, uint64_t uid, uint32_t cseq)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->ids[i].uid == uid && r->ids[i].cseq == cseq)
			return true;
	return false;
}

int fnl_txr_format(const struct fnl_txr_id *ids, int n, char *out, size_t cap)
{
	size_t len = 0;
	if (cap == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		int k = snprintf(out + len, cap - len, "%" PRIx64 ":%" PRIx32 ",", ids[i].uid,
		                 ids[i].cseq);
		if (k < 0 || (size_t)k >= cap - len)
			return -ENOSPC;
		len += (size_t)k;
	}
	return (int)len;
}

int fnl_txr_parse(const char *s, size_t len, struct fnl_txr *r)
{
	char buf[64];
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && s[j] != ',')
			j++;
		if (j == len || j - i >= sizeof(buf))
			return -EBADMSG;
		memcpy(buf, s + i, j - i);
		buf[j - i] = '\0';
		char *colon = strchr(buf, ':'), *end;
		if (!colon)
			return -EBADMSG;
		*colon = '\0';
		uint64_t uid = strtoull(buf, &end, 16);
		if (*end || end == buf)
			return -EBADMSG;
		unsigned long cseq = strtoul(colon + 1, &end, 16);
		if (*end || end == colon + 1 || cseq > UINT32_MAX)
			return -EBADMSG;
		fnl_txr_add(r, uid, (uint32_t)cseq);
		i = j + 1;
	}
	return 0;
}

int fnl_enc_offset_fetch_all(void *buf, size_t cap, int32_t corr, const char *client_id,
                             const char *group)
{
	struct fnl_wbuf w;
	fnl_wbuf_init(&w, buf, cap);
	fnl_w_i32(&w, 0);
	fnl_w_i16(&w, API_OFFSET_FETCH);
	fnl_w_i16(&w, 2);
	fnl_w_i32(&w, corr);
	fnl_w_nstring(&w, client_id, client_id ? strlen(client_id) : 0);
	fnl_w_string(&w, group, strlen(group));
	fnl_w_i32(&w, -1); /* topics: null = all of the group's */
	if (w.err)
		return w.err;
	fnl_put_be32(w.p, (uint32_t)(w.len - 4));
	return (int)w.len;
}

int fnl_dec_offset_fetch(const uint8_t *p, size_t n, fnl_offset_cb cb, void *ctx, int16_t *err)
{
	struct fnl_rbuf r;
	fnl_rbuf_init(&r, p, n);
	int32_t nt = fnl_r_array_len(&r);
	for (int32_t i = 0; i < nt && !r.err; i++) {
		const char *topic, *md;
		int32_t tl, ml;
		fnl_r_string(&r, &topic, &tl);
		int32_t np = fnl_r_array_len(&r);
		for (int32_t k = 0; k < np && !r.err; k++) {
			int32_t part = fnl_r_i32(&r);
			int64_t off = fnl_r_i64(&r);
			fnl_r_string(&r, &md, &ml);
			int16_t e = fnl_r_i16(&r);
			if (!r.err && topic && cb)
				cb(ctx, topic, tl, part, off, md, ml < 0 ? 0 : ml, e);
		}
	}
	int16_t top = fnl_r_i16(&r);
	if (r.err)
		return -EBADMSG;
	*err = top;
	return 0;
}
