/* txn_proto.c - transaction requests and responses (see txn_proto.h for the layouts). */
#include "dataplane/kafka/txn_proto.h"

#include <errno.h>
#include <string.h>

/* ---- shared helpers (the request frame of proto.h) ---- */

static bool supported(int16_t key, int16_t ver)
{
	int16_t lo, hi;
	return fnl_api_ours(key, &lo, &hi) == 0 && ver >= lo && ver <= hi;
}

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

/* Validates the version, then writes the size placeholder and the request header. */
static int begin(struct fnl_wbuf *w, void *buf, size_t cap, int16_t key, int16_t ver, int32_t corr,
                 const char *client_id, bool *flex)
{
	if (!supported(key, ver))
		return -EINVAL;
	*flex = fnl_api_flexible(key, ver);
	fnl_wbuf_init(w, buf, cap);
	fnl_w_i32(w, 0);
	fnl_w_i16(w, key);
	fnl_w_i16(w, ver);
	fnl_w_i32(w, corr);
	fnl_w_nstring(w, client_id, slen(client_id));
	if (*flex)
		fnl_w_tags_empty(w);
	return 0;
}

/* Ends the top-level struct and patches the size; the frame length or the writer's error. */
static int finish(struct fnl_wbuf *w, bool flex)
{
	if (flex)
		fnl_w_tags_empty(w);
	if (w->err)
		return w->err;
	if (w->len > INT32_MAX)
		return -EINVAL;
	fnl_put_be32(w->p, (uint32_t)(w->len - 4));
	return (int)w->len;
}

static void w_str(struct fnl_wbuf *w, bool flex, const char *s)
{
	if (flex)
		fnl_w_compact_string(w, s ? s : "", slen(s));
	else
		fnl_w_string(w, s ? s : "", slen(s));
}

static void w_nstr(struct fnl_wbuf *w, bool flex, const char *s)
{
	if (flex)
		fnl_w_compact_nstring(w, s, slen(s));
	else
		fnl_w_nstring(w, s, slen(s));
}

static void w_alen(struct fnl_wbuf *w, bool flex, int32_t n)
{
	if (flex)
		fnl_w_compact_array_len(w, n);
	else
		fnl_w_array_len(w, n);
}

/* txn_id, producer_id, epoch: the head of AddPartitionsToTxn, AddOffsetsToTxn, EndTxn. */
static void w_txn_head(struct fnl_wbuf *w, bool flex, const char *txn_id, int64_t pid,
                       int16_t epoch)
{
	w_str(w, flex, txn_id);
	fnl_w_i64(w, pid);
	fnl_w_i16(w, epoch);
}

/* ---- request encoders ---- */

int fnl_enc_find_coordinator_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                                 const char *client_id, const char *key, int8_t key_type)
{
	struct fnl_wbuf w;
	bool flex;

	if (!key || (ver == 0 && key_type != FNL_COORD_GROUP))
		return -EINVAL;
	int rc = begin(&w, buf, cap, FNL_API_FIND_COORDINATOR, ver, corr, client_id, &flex);
	if (rc < 0)
		return rc;
	if (ver <= 3) {
		w_str(&w, flex, key);
		if (ver >= 1)
			fnl_w_i8(&w, key_type);
	} else {
		fnl_w_i8(&w, key_type);
		w_alen(&w, flex, 1); /* coordinator_keys (KIP-699): one key */
		w_str(&w, flex, key);
	}
	return finish(&w, flex);
}

int fnl_enc_add_partitions_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                               const char *client_id, const char *txn_id, int64_t producer_id,
                               int16_t epoch, const struct fnl_txn_topic_parts *topics, int ntopics)
{
	struct fnl_wbuf w;
	bool flex;

	if (!txn_id || ntopics < 0 || (ntopics > 0 && !topics))
		return -EINVAL;
	for (int i = 0; i < ntopics; i++)
		if (!topics[i].topic || topics[i].npartitions < 0 ||
		    (topics[i].npartitions > 0 && !topics[i].partitions))
			return -EINVAL;
	int rc = begin(&w, buf, cap, FNL_API_ADD_PARTITIONS_TO_TXN, ver, corr, client_id, &flex);
	if (rc < 0)
		return rc;
	w_txn_head(&w, flex, txn_id, producer_id, epoch);
	w_alen(&w, flex, ntopics);
	for (int i = 0; i < ntopics; i++) {
		w_str(&w, flex, topics[i].topic);
		w_alen(&w, flex, topics[i].npartitions);
		for (int j = 0; j < topics[i].npartitions; j++)
			fnl_w_i32(&w, topics[i].partitions[j]);
		if (flex)
			fnl_w_tags_empty(&w);
	}
	return finish(&w, flex);
}

int fnl_enc_add_offsets_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                            const char *txn_id, int64_t producer_id, int16_t epoch,
                            const char *group_id)
{
	struct fnl_wbuf w;
	bool flex;

	if (!txn_id || !group_id)
		return -EINVAL;
	int rc = begin(&w, buf, cap, FNL_API_ADD_OFFSETS_TO_TXN, ver, corr, client_id, &flex);
	if (rc < 0)
		return rc;
	w_txn_head(&w, flex, txn_id, producer_id, epoch);
	w_str(&w, flex, group_id);
	return finish(&w, flex);
}

int fnl_enc_end_txn_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                        const char *txn_id, int64_t producer_id, int16_t epoch, bool commit)
{
	struct fnl_wbuf w;
	bool flex;

	if (!txn_id)
		return -EINVAL;
	int rc = begin(&w, buf, cap, FNL_API_END_TXN, ver, corr, client_id, &flex);
	if (rc < 0)
		return rc;
	w_txn_head(&w, flex, txn_id, producer_id, epoch);
	fnl_w_i8(&w, commit ? 1 : 0);
	return finish(&w, flex);
}

static bool group_has_member(const struct fnl_txn_group *g)
{
	return g->generation_id != -1 || (g->member_id && g->member_id[0]) || g->group_instance_id;
}

static int offsets_valid(const struct fnl_txn_topic_offsets *topics, int ntopics)
{
	if (ntopics < 0 || (ntopics > 0 && !topics))
		return -EINVAL;
	for (int i = 0; i < ntopics; i++)
		if (!topics[i].topic || topics[i].noffsets < 0 ||
		    (topics[i].noffsets > 0 && !topics[i].offsets))
			return -EINVAL;
	return 0;
}

int fnl_enc_txn_offset_commit_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                                  const char *client_id, const char *txn_id, int64_t producer_id,
                                  int16_t epoch, const struct fnl_txn_group *g,
                                  const struct fnl_txn_topic_offsets *topics, int ntopics)
{
	struct fnl_wbuf w;
	bool flex;

	if (!txn_id || !g || !g->group_id || offsets_valid(topics, ntopics) < 0)
		return -EINVAL;
	if (!supported(FNL_API_TXN_OFFSET_COMMIT, ver))
		return -EINVAL;
	if (ver < 3 && group_has_member(g))
		return -EOPNOTSUPP;
	int rc = begin(&w, buf, cap, FNL_API_TXN_OFFSET_COMMIT, ver, corr, client_id, &flex);
	if (rc < 0)
		return rc;
	w_str(&w, flex, txn_id);
	w_str(&w, flex, g->group_id);
	fnl_w_i64(&w, producer_id);
	fnl_w_i16(&w, epoch);
	if (ver >= 3) {
		fnl_w_i32(&w, g->generation_id);
		w_str(&w, flex, g->member_id);
		w_nstr(&w, flex, g->group_instance_id);
	}
	w_alen(&w, flex, ntopics);
	for (int i = 0; i < ntopics; i++) {
		w_str(&w, flex, topics[i].topic);
		w_alen(&w, flex, topics[i].noffsets);
		for (int j = 0; j < topics[i].noffsets; j++) {
			const struct fnl_txn_offset *o = &topics[i].offsets[j];
			fnl_w_i32(&w, o->partition);
			fnl_w_i64(&w, o->offset);
			if (ver >= 2)
				fnl_w_i32(&w, o->leader_epoch);
			w_nstr(&w, flex, o->metadata);
			if (flex)
				fnl_w_tags_empty(&w);
		}
		if (flex)
			fnl_w_tags_empty(&w);
	}
	return finish(&w, flex);
}

/* ---- response helpers ---- */

static int32_t r_count(struct fnl_rbuf *r, bool flex, size_t min_elem)
{
	int32_t n = flex ? fnl_r_compact_array_len(r) : fnl_r_array_len(r);
	if (n < 0)
		return 0; /* null array: empty */
	if (!fnl_r_count_ok(r, n, min_elem))
		return 0;
	return n;
}

/* A string that must not be null; returns its length (or -1 with r->err set). */
static int32_t r_str(struct fnl_rbuf *r, bool flex, const char **s)
{
	int32_t len = -1;
	if (flex)
		fnl_r_compact_string(r, s, &len);
	else
		fnl_r_string(r, s, &len);
	if (!r->err && len < 0)
		fnl_r_fail(r);
	return r->err ? -1 : len;
}

static void r_nstr_skip(struct fnl_rbuf *r, bool flex)
{
	const char *s;
	int32_t len;
	if (flex)
		fnl_r_compact_string(r, &s, &len);
	else
		fnl_r_string(r, &s, &len);
}

/* ---- FindCoordinator ---- */

static void coord_one(struct fnl_rbuf *r, int16_t ver, bool flex, fnl_coord_cb cb, void *ctx)
{
	const char *key = NULL, *host;
	int32_t key_len = -1;
	int16_t err = 0;
	if (ver >= 4)
		key_len = r_str(r, flex, &key);
	else
		err = fnl_r_i16(r);
	if (ver >= 1 && ver <= 3)
		r_nstr_skip(r, flex); /* error_message */
	int32_t node = fnl_r_i32(r);
	int32_t host_len = r_str(r, flex, &host);
	int32_t port = fnl_r_i32(r);
	if (ver >= 4) {
		err = fnl_r_i16(r);
		r_nstr_skip(r, flex); /* error_message */
		if (flex)
			fnl_r_tags_skip(r);
	}
	if (!r->err && cb)
		cb(ctx, key, key_len, err, node, host, host_len, port);
}

static int coord_walk(const uint8_t *p, size_t n, int16_t ver, fnl_coord_cb cb, void *ctx,
                      int32_t *throttle_ms)
{
	struct fnl_rbuf r;
	bool flex = fnl_api_flexible(FNL_API_FIND_COORDINATOR, ver);
	int32_t throttle = 0;

	fnl_rbuf_init(&r, p, n);
	if (ver >= 1)
		throttle = fnl_r_i32(&r);
	if (ver <= 3) {
		coord_one(&r, ver, flex, cb, ctx);
	} else {
		int32_t cnt = r_count(&r, flex, 14); /* smallest entry: "", node, "", port, err,
		                                         null message, tags */
		for (int32_t i = 0; i < cnt && !r.err; i++)
			coord_one(&r, ver, flex, cb, ctx);
	}
	if (flex)
		fnl_r_tags_skip(&r);
	if (!r.err && throttle_ms)
		*throttle_ms = throttle;
	return r.err;
}

int fnl_dec_find_coordinator(const uint8_t *p, size_t n, int16_t ver, fnl_coord_cb cb, void *ctx,
                             int32_t *throttle_ms)
{
	if (!supported(FNL_API_FIND_COORDINATOR, ver))
		return -EBADMSG;
	int rc = coord_walk(p, n, ver, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	return coord_walk(p, n, ver, cb, ctx, throttle_ms);
}

/* ---- per-partition results: AddPartitionsToTxn, TxnOffsetCommit ---- */

static int parts_walk(const uint8_t *p, size_t n, bool flex, fnl_txn_part_cb cb, void *ctx,
                      int32_t *throttle_ms)
{
	struct fnl_rbuf r;

	fnl_rbuf_init(&r, p, n);
	int32_t throttle = fnl_r_i32(&r);
	int32_t ntopics = r_count(&r, flex, flex ? 3 : 6);
	for (int32_t t = 0; t < ntopics && !r.err; t++) {
		const char *name;
		int32_t name_len = r_str(&r, flex, &name);
		int32_t nparts = r_count(&r, flex, flex ? 7 : 6);
		for (int32_t i = 0; i < nparts && !r.err; i++) {
			int32_t part = fnl_r_i32(&r);
			int16_t err = fnl_r_i16(&r);
			if (flex)
				fnl_r_tags_skip(&r);
			if (!r.err && cb)
				cb(ctx, name, name_len, part, err);
		}
		if (flex)
			fnl_r_tags_skip(&r);
	}
	if (flex)
		fnl_r_tags_skip(&r);
	if (!r.err && throttle_ms)
		*throttle_ms = throttle;
	return r.err;
}

static int parts_dec(int16_t key, const uint8_t *p, size_t n, int16_t ver, fnl_txn_part_cb cb,
                     void *ctx, int32_t *throttle_ms)
{
	if (!supported(key, ver))
		return -EBADMSG;
	bool flex = fnl_api_flexible(key, ver);
	int rc = parts_walk(p, n, flex, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	return parts_walk(p, n, flex, cb, ctx, throttle_ms);
}

int fnl_dec_add_partitions(const uint8_t *p, size_t n, int16_t ver, fnl_txn_part_cb cb, void *ctx,
                           int32_t *throttle_ms)
{
	return parts_dec(FNL_API_ADD_PARTITIONS_TO_TXN, p, n, ver, cb, ctx, throttle_ms);
}

int fnl_dec_txn_offset_commit(const uint8_t *p, size_t n, int16_t ver, fnl_txn_part_cb cb,
                              void *ctx, int32_t *throttle_ms)
{
	return parts_dec(FNL_API_TXN_OFFSET_COMMIT, p, n, ver, cb, ctx, throttle_ms);
}

/* ---- AddOffsetsToTxn, EndTxn ---- */

int fnl_dec_add_offsets(const uint8_t *p, size_t n, int16_t ver, int16_t *err, int32_t *throttle_ms)
{
	struct fnl_rbuf r;

	if (!supported(FNL_API_ADD_OFFSETS_TO_TXN, ver))
		return -EBADMSG;
	fnl_rbuf_init(&r, p, n);
	int32_t throttle = fnl_r_i32(&r);
	int16_t e = fnl_r_i16(&r);
	if (fnl_api_flexible(FNL_API_ADD_OFFSETS_TO_TXN, ver))
		fnl_r_tags_skip(&r);
	if (r.err)
		return r.err;
	*err = e;
	if (throttle_ms)
		*throttle_ms = throttle;
	return 0;
}

int fnl_dec_end_txn(const uint8_t *p, size_t n, int16_t ver, int16_t *err, int64_t *producer_id,
                    int16_t *epoch, int32_t *throttle_ms)
{
	struct fnl_rbuf r;
	int64_t pid = -1;
	int16_t ep = -1;

	if (!supported(FNL_API_END_TXN, ver))
		return -EBADMSG;
	fnl_rbuf_init(&r, p, n);
	int32_t throttle = fnl_r_i32(&r);
	int16_t e = fnl_r_i16(&r);
	if (ver >= 5) {
		pid = fnl_r_i64(&r);
		ep = fnl_r_i16(&r);
	}
	if (fnl_api_flexible(FNL_API_END_TXN, ver))
		fnl_r_tags_skip(&r);
	if (r.err)
		return r.err;
	*err = e;
	if (producer_id)
		*producer_id = pid;
	if (epoch)
		*epoch = ep;
	if (throttle_ms)
		*throttle_ms = throttle;
	return 0;
}

/* ---- ApiVersions' finalized features ---- */

struct feat_q {
	const char *name;
	size_t name_len;
	int found;
	int16_t max_level, min_level;
};

/* Tag 2's value: [name, max_version_level, min_version_level, tags] */
static void feat_finalized(struct fnl_rbuf *r, struct feat_q *q)
{
	int32_t cnt = r_count(r, true, 6);
	for (int32_t i = 0; i < cnt && !r->err; i++) {
		const char *name;
		int32_t len = r_str(r, true, &name);
		int16_t max = fnl_r_i16(r), min = fnl_r_i16(r);
		fnl_r_tags_skip(r);
		if (!r->err && (size_t)len == q->name_len &&
		    memcmp(name, q->name, q->name_len) == 0) {
			q->found = 1;
			q->max_level = max;
			q->min_level = min;
		}
	}
	if (!r->err && r->off != r->len)
		fnl_r_fail(r); /* the tag's size and its content disagree */
}

int fnl_dec_api_versions_feature(const uint8_t *p, size_t n, int16_t ver, const char *name,
                                 int16_t *max_level, int16_t *min_level)
{
	struct fnl_rbuf r;
	struct feat_q q = {name, slen(name), 0, 0, 0};

	if (ver < 3)
		return ver >= 0 ? -ENOENT : -EBADMSG;
	fnl_rbuf_init(&r, p, n);
	(void)fnl_r_i16(&r); /* error_code */
	int32_t cnt = r_count(&r, true, 7);
	for (int32_t i = 0; i < cnt && !r.err; i++) {
		fnl_r_skip(&r, 6); /* api_key, min_version, max_version */
		fnl_r_tags_skip(&r);
	}
	(void)fnl_r_i32(&r); /* throttle_time_ms */
	uint32_t ntags = fnl_r_uvarint(&r);
	for (uint32_t i = 0; i < ntags && !r.err; i++) {
		uint32_t tag = fnl_r_uvarint(&r);
		uint32_t size = fnl_r_uvarint(&r);
		const uint8_t *v = fnl_r_take(&r, size);
		if (r.err || tag != 2)
			continue;
		struct fnl_rbuf sub;
		fnl_rbuf_init(&sub, v, size);
		feat_finalized(&sub, &q);
		if (sub.err)
			fnl_r_fail(&r);
	}
	if (r.err)
		return r.err;
	if (!q.found)
		return -ENOENT;
	*max_level = q.max_level;
	*min_level = q.min_level;
	return 0;
}
