/* ring_recgen.h - deterministic record contents derived from the opaque, so a
 * consumer can check every byte without sharing state with the producer. */
#ifndef FNL_TEST_RING_RECGEN_H
#define FNL_TEST_RING_RECGEN_H

#include "check.h"
#include "dataplane/ring/ring.h"

static inline void recgen_sizes(uint64_t opaque, uint32_t len, uint32_t *key_len,
                                uint32_t *value_len)
{
	uint32_t room = len - FNL_REC_HDR_BYTES, slack = (uint32_t)(opaque >> 5) % 8;

	*key_len = (uint32_t)(opaque % 17) < room ? (uint32_t)(opaque % 17) : room;
	if (slack > room - *key_len)
		slack = 0;
	*value_len = room - *key_len - slack;
}

static inline void recgen_write(void *p, uint32_t len, uint32_t topic_id, uint64_t opaque)
{
	struct fnl_rec_hdr h = {.len = len, .type = FNL_REC_DATA, .topic_id = topic_id};
	uint8_t *q = (uint8_t *)p + FNL_REC_HDR_BYTES;
	uint32_t i;

	h.partition = (int32_t)(opaque % 5) - 1;
	h.timestamp_ms = (int64_t)(opaque * 3u);
	h.opaque = opaque;
	recgen_sizes(opaque, len, &h.key_len, &h.value_len);
	memcpy(p, &h, sizeof(h));
	for (i = 0; i < h.key_len; i++)
		*q++ = (uint8_t)(opaque + i);
	for (i = 0; i < h.value_len; i++)
		*q++ = (uint8_t)(opaque * 7 + i);
}

static inline void recgen_check(const struct fnl_rec_view *r, uint32_t topic_id, uint64_t opaque)
{
	uint32_t i, key_len, value_len;

	CHECK_EQ(r->h.opaque, opaque);
	CHECK_EQ(r->h.topic_id, topic_id);
	CHECK_EQ(r->h.partition, (int32_t)(opaque % 5) - 1);
	CHECK_EQ(r->h.timestamp_ms, (int64_t)(opaque * 3u));
	recgen_sizes(opaque, r->h.len, &key_len, &value_len);
	CHECK_EQ(r->h.key_len, key_len);
	CHECK_EQ(r->h.value_len, value_len);
	CHECK_EQ(r->h.headers_len, 0);
	CHECK(r->key && r->value);
	for (i = 0; i < key_len; i++)
		CHECK_EQ(r->key[i], (uint8_t)(opaque + i));
	for (i = 0; i < value_len; i++)
		CHECK_EQ(r->value[i], (uint8_t)(opaque * 7 + i));
	CHECK_EQ(r->end - r->pos, r->h.len);
}

#endif
