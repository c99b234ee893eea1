/* txnd_resolve.h - settling commits that were in doubt when funneld died.
 *
 * Each window's Kafka transaction also commits, for the group "<transactional.id>.funnel-
 * windows", offset = the window's number on partition 0 of a topic the window wrote, with
 * metadata naming the client commits in it ("uid:cseq," in hex, at most FNL_TXR_WINDOW_MAX
 * of them: offset.metadata.max.bytes is 4096 by default). That offset becomes visible exactly
 * when the window commits. A starting funneld (after InitProducerId, which ends what its
 * predecessor left open) reads the group's offsets with OffsetFetch v2 (all topics): the
 * highest is the last committed window, its metadata the commits that are in Kafka. A client
 * whose commit got no answer sends it again marked RESEND with the same (uid, cseq): one found
 * among the committed windows is answered OK without running it again; one not found was
 * aborted (or never arrived) and runs as a new commit. So a commit is stored once.
 *
 * struct fnl_txr keeps the ids of the last FNL_TXR_KEEP commits (a ring): those of the
 * windows this funneld committed, and those of the last window of its predecessor.
 */
#ifndef FNL_CTRL_TXND_RESOLVE_H
#define FNL_CTRL_TXND_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FNL_TXR_WINDOW_MAX 128
#define FNL_TXR_KEEP       8192
#define FNL_TXR_SUFFIX     ".funnel-windows"

struct fnl_txr_id {
	uint64_t uid;
	uint32_t cseq;
};

struct fnl_txr {
	struct fnl_txr_id ids[FNL_TXR_KEEP];
	uint32_t n, next; /* filled entries; where the next one goes */
};

void fnl_txr_add(struct fnl_txr *r, uint64_t uid, uint32_t cseq);
bool fnl_txr_has(const struct fnl_txr *r, uint64_t uid, uint32_t cseq);
/* "uid:cseq," for each id, NUL-terminated. Length, or -ENOSPC. */
int fnl_txr_format(const struct fnl_txr_id *ids, int n, char *out, size_t cap);
/* Adds the ids of a metadata text to r. 0, or -EBADMSG (r keeps what parsed). */
int fnl_txr_parse(const char *s, size_t len, struct fnl_txr *r);

/* OffsetFetch v2 for every topic of a group (topics = null). Frame length or -errno. */
int fnl_enc_offset_fetch_all(void *buf, size_t cap, int32_t corr, const char *client_id,
                             const char *group);
typedef void (*fnl_offset_cb)(void *ctx, const char *topic, int topic_len, int32_t partition,
                              int64_t offset, const char *metadata, int metadata_len, int16_t err);
/* The v2 answer: cb per partition; *err the top-level error. 0 or -EBADMSG. */
int fnl_dec_offset_fetch(const uint8_t *p, size_t n, fnl_offset_cb cb, void *ctx, int16_t *err);

#endif
