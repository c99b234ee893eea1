/* proto.c - Kafka request encoders and response decoders (see proto.h for the frame layouts). */
#include "dataplane/kafka/proto.h"

#include <errno.h>
#include <string.h>

/* ---- version table ---- */

struct api_info {
	int16_t key, min, max, flex_from;
};

static const struct api_info api_table[] = {
    {FNL_API_PRODUCE, 3, 12, 9},  /* v12 = v11 (KIP-890: the broker adds partitions to a
                                    transaction itself); v13 names topics by id */
    {FNL_API_METADATA, 1, 13, 9}, /* v13 = v12 + a top-level error code (KIP-1102) */
    {FNL_API_API_VERSIONS, 0, 4, 3}, /* v4 = v3 */
    {FNL_API_INIT_PRODUCER_ID, 0, 5, 2}, /* v5 = v4 (PRODUCER_FENCED may be answered) */
    {FNL_API_SASL_HANDSHAKE, 1, 1, 99}, /* never flexible; v0 (raw frames) not spoken */
    {FNL_API_SASL_AUTHENTICATE, 0, 2, 2},
    /* transactions: encoded and decoded in txn_proto.c; listed here so that version picking
     * and response-header flexibility know them */
    {10, 0, 6, 3}, /* FindCoordinator: v4+ batches keys (KIP-699), v6 share groups */
    {24, 0, 3, 3}, /* AddPartitionsToTxn: v4+ is broker-to-broker only (KIP-890) */
    {25, 0, 4, 3}, /* AddOffsetsToTxn: v4 = v3 (TRANSACTION_ABORTABLE) */
    {26, 0, 5, 3}, /* EndTxn: v5 answers the bumped producer id/epoch (KIP-890) */
    {28, 0, 5, 3}, /* TxnOffsetCommit: v3 adds KIP-447 group metadata; v4, v5 = v3 */
};

static const struct api_info *api_find(int16_t key)
{
	for (size_t i = 0; i < sizeof(api_table) / sizeof(api_table[0]); i++)
		if (api_table[i].key == key)
			return &api_table[i];
	return NULL;
}

static bool api_supported(int16_t key, int16_t ver)
{
	const struct api_info *a = api_find(key);
	return a && ver >= a->min && ver <= a->max;
}

int fnl_api_ours(int16_t key, int16_t *min, int16_t *max)
{
	const struct api_info *a = api_find(key);
	if (!a)
		return -ENOENT;
	*min = a->min;
	*max = a->max;
	return 0;
}

int16_t fnl_api_pick(const struct fnl_api_range *broker, int n, int16_t key)
{
	const struct api_info *a = api_find(key);
	if (!a || !broker)
		return -1;
	for (int i = 0; i < n; i++) {
		if (broker[i].key != key)
			continue;
		int16_t lo = broker[i].min > a->min ? broker[i].min : a->min;
		int16_t hi = broker[i].max < a->max ? broker[i].max : a->max;
		return hi >= lo ? hi : -1;
	}
	return -1;
}

bool fnl_api_flexible(int16_t key, int16_t version)
{
	const struct api_info *a = api_find(key);
	return a && version >= a->flex_from;
}

/* ---- request framing ---- */

static size_t str_len(const char *s)
{
	return s ? strlen(s) : 0;
}

/* Writes the size placeholder and request header v1 / v2. */
static void w_req_header(struct fnl_wbuf *w, int16_t key, int16_t ver, int32_t corr,
                         const char *client_id, bool flexible)
{
	fnl_w_i32(w, 0);
	fnl_w_i16(w, key);
	fnl_w_i16(w, ver);
	fnl_w_i32(w, corr);
	fnl_w_nstring(w, client_id, str_len(client_id));
	if (flexible)
		fnl_w_tags_empty(w);
}

/* Patches the size field; returns the frame length or the writer's error. */
static int w_finish(struct fnl_wbuf *w)
{
	if (w->err)
		return w->err;
	if (w->len > INT32_MAX)
		return -EINVAL;
	fnl_put_be32(w->p, (uint32_t)(w->len - 4));
	return (int)w->len;
}

/* A string whose encoding depends on flexibility; nullable variants write null for NULL. */
static void w_str(struct fnl_wbuf *w, bool flex, const char *s, size_t len)
{
	if (flex)
		fnl_w_compact_string(w, s, len);
	else
		fnl_w_string(w, s, len);
}

static void w_nstr(struct fnl_wbuf *w, bool flex, const char *s, size_t len)
{
	if (flex)
		fnl_w_compact_nstring(w, s, len);
	else
		fnl_w_nstring(w, s, len);
}

static void w_array_len(struct fnl_wbuf *w, bool flex, int32_t n)
{
	if (flex)
		fnl_w_compact_array_len(w, n);
	else
		fnl_w_array_len(w, n);
}

int fnl_enc_api_versions_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                             const char *client_id, const char *sw_name, const char *sw_version)
{
	struct fnl_wbuf w;
	bool flex = fnl_api_flexible(FNL_API_API_VERSIONS, ver);

	if (!api_supported(FNL_API_API_VERSIONS, ver))
		return -EINVAL;
	fnl_wbuf_init(&w, buf, cap);
	w_req_header(&w, FNL_API_API_VERSIONS, ver, corr, client_id, flex);
	if (ver >= 3) {
		if (!sw_name)
			sw_name = "funnel";
		if (!sw_version)
			sw_version = "0.1.0";
		fnl_w_compact_string(&w, sw_name, strlen(sw_name));
		fnl_w_compact_string(&w, sw_version, strlen(sw_version));
		fnl_w_tags_empty(&w);
	}
	return w_finish(&w);
}

int fnl_enc_metadata_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                         const char *const *topics, int ntopics, bool allow_auto_create)
{
	struct fnl_wbuf w;
	bool flex = fnl_api_flexible(FNL_API_METADATA, ver);
	static const uint8_t zero_uuid[16];

	if (!api_supported(FNL_API_METADATA, ver) || ntopics < -1 || (ntopics > 0 && !topics))
		return -EINVAL;
	fnl_wbuf_init(&w, buf, cap);
	w_req_header(&w, FNL_API_METADATA, ver, corr, client_id, flex);
	w_array_len(&w, flex, ntopics);
	for (int i = 0; i < ntopics; i++) {
		if (ver >= 10)
			fnl_w_bytes_raw(&w, zero_uuid, sizeof(zero_uuid)); /* topic id: by name */
		w_str(&w, flex, topics[i], strlen(topics[i]));
		if (flex)
			fnl_w_tags_empty(&w);
	}
	if (ver >= 4)
		fnl_w_i8(&w, allow_auto_create ? 1 : 0);
	if (ver >= 8 && ver <= 10)
		fnl_w_i8(&w, 0); /* include_cluster_authorized_operations */
	if (ver >= 8)
		fnl_w_i8(&w, 0); /* include_topic_authorized_operations */
	if (flex)
		fnl_w_tags_empty(&w);
	return w_finish(&w);
}

int fnl_enc_init_pid_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                         int32_t txn_timeout_ms, int64_t producer_id, int16_t producer_epoch)
{
	return fnl_enc_init_pid_req_txn(buf, cap, ver, corr, client_id, NULL, txn_timeout_ms,
					producer_id, producer_epoch);
}

int fnl_enc_init_pid_req_txn(void *buf, size_t cap, int16_t ver, int32_t corr,
                             const char *client_id, const char *txn_id, int32_t txn_timeout_ms,
                             int64_t producer_id, int16_t producer_epoch)
{
	struct fnl_wbuf w;
	bool flex = fnl_api_flexible(FNL_API_INIT_PRODUCER_ID, ver);

	if (!api_supported(FNL_API_INIT_PRODUCER_ID, ver))
		return -EINVAL;
	fnl_wbuf_init(&w, buf, cap);
	w_req_header(&w, FNL_API_INIT_PRODUCER_ID, ver, corr, client_id, flex);
	w_nstr(&w, flex, txn_id, txn_id ? strlen(txn_id) : 0); /* transactional_id */
	fnl_w_i32(&w, txn_timeout_ms);
	if (ver >= 3) {
		fnl_w_i64(&w, producer_id);
		fnl_w_i16(&w, producer_epoch);
	}
	if (flex)
		fnl_w_tags_empty(&w);
	return w_finish(&w);
}

/* ---- response helpers ---- */

static int32_t r_array_len(struct fnl_rbuf *r, bool flex)
{
	return flex ? fnl_r_compact_array_len(r) : fnl_r_array_len(r);
}

static const char *r_str(struct fnl_rbuf *r, bool flex, const char **s, int32_t *len)
{
	return flex ? fnl_r_compact_string(r, s, len) : fnl_r_string(r, s, len);
}

/* Reads an array count that must be non-null and plausible for elements of >= min_elem bytes.
 * Returns the count, or 0 with r->err set. A null array (-1) is treated as empty. */
static int32_t r_count(struct fnl_rbuf *r, bool flex, size_t min_elem)
{
	int32_t n = r_array_len(r, flex);
	if (n < 0)
		return 0;
	if (!fnl_r_count_ok(r, n, min_elem))
		return 0;
	return n;
}

static void r_skip_i32_array(struct fnl_rbuf *r, bool flex)
{
	int32_t n = r_count(r, flex, 4);
	fnl_r_skip(r, (size_t)n * 4);
}

int fnl_dec_resp_header(const uint8_t *p, size_t n, int16_t api_key, int16_t ver, int32_t *corr)
{
	struct fnl_rbuf r;

	fnl_rbuf_init(&r, p, n);
	*corr = fnl_r_i32(&r);
	if (api_key != FNL_API_API_VERSIONS && fnl_api_flexible(api_key, ver))
		fnl_r_tags_skip(&r);
	if (r.err)
		return r.err;
	return (int)r.off;
}

/* ---- ApiVersions ---- */

int fnl_dec_api_versions(const uint8_t *p, size_t n, int16_t ver, struct fnl_api_range *out,
                         int max, int *n_out, int16_t *err_out)
{
	struct fnl_rbuf r;
	int filled = 0;

	fnl_rbuf_init(&r, p, n);
	*n_out = 0;
	*err_out = fnl_r_i16(&r);
	if (*err_out == FNL_PROTO_ERR_UNSUPPORTED_VERSION)
		ver = 0;
	bool flex = ver >= 3;
	int32_t cnt = r_count(&r, flex, flex ? 7 : 6);
	for (int32_t i = 0; i < cnt && !r.err; i++) {
		struct fnl_api_range a;
		a.key = fnl_r_i16(&r);
		a.min = fnl_r_i16(&r);
		a.max = fnl_r_i16(&r);
		if (flex)
			fnl_r_tags_skip(&r);
		if (!r.err && out && filled < max)
			out[filled++] = a;
	}
	if (ver >= 1)
		(void)fnl_r_i32(&r); /* throttle_time_ms */
	if (flex)
		fnl_r_tags_skip(&r);
	if (r.err)
		return r.err;
	*n_out = filled;
	return 0;
}

/* ---- Metadata ---- */

static void md_brokers(struct fnl_rbuf *r, int16_t ver, bool flex, const struct fnl_md_visitor *v)
{
	int32_t cnt = r_count(r, flex, flex ? 11 : 10);
	for (int32_t i = 0; i < cnt && !r->err; i++) {
		const char *host, *rack;
		int32_t host_len, rack_len;
		int32_t node = fnl_r_i32(r);
		r_str(r, flex, &host, &host_len);
		int32_t port = fnl_r_i32(r);
		if (ver >= 1)
			r_str(r, flex, &rack, &rack_len);
		if (flex)
			fnl_r_tags_skip(r);
		if (host_len < 0)
			fnl_r_fail(r);
		if (!r->err && v && v->broker)
			v->broker(v->ctx, node, host, host_len, port);
	}
}

static void md_partitions(struct fnl_rbuf *r, int16_t ver, bool flex, int32_t cnt,
                          const struct fnl_md_visitor *v)
{
	for (int32_t i = 0; i < cnt && !r->err; i++) {
		int16_t err = fnl_r_i16(r);
		int32_t part = fnl_r_i32(r);
		int32_t leader = fnl_r_i32(r);
		int32_t epoch = ver >= 7 ? fnl_r_i32(r) : -1;
		r_skip_i32_array(r, flex); /* replica_nodes */
		r_skip_i32_array(r, flex); /* isr_nodes */
		if (ver >= 5)
			r_skip_i32_array(r, flex); /* offline_replicas */
		if (flex)
			fnl_r_tags_skip(r);
		if (!r->err && v && v->partition)
			v->partition(v->ctx, err, part, leader, epoch);
	}
}

static void md_topics(struct fnl_rbuf *r, int16_t ver, bool flex, const struct fnl_md_visitor *v)
{
	int32_t cnt = r_count(r, flex, flex ? 6 : 8);
	for (int32_t i = 0; i < cnt && !r->err; i++) {
		const char *name;
		int32_t name_len;
		int16_t err = fnl_r_i16(r);
		r_str(r, flex, &name, &name_len);
		if (name_len < 0 && ver < 12)
			fnl_r_fail(r);
		if (ver >= 10)
			fnl_r_skip(r, 16); /* topic_id */
		if (ver >= 1)
			(void)fnl_r_i8(r); /* is_internal */
		int32_t nparts = r_count(r, flex, flex ? 13 : 18);
		if (!r->err && v && v->topic)
			v->topic(v->ctx, err, name, name_len, nparts);
		md_partitions(r, ver, flex, nparts, v);
		if (ver >= 8)
			(void)fnl_r_i32(r); /* topic_authorized_operations */
		if (flex)
			fnl_r_tags_skip(r);
	}
}

static int md_walk(const uint8_t *p, size_t n, int16_t ver, const struct fnl_md_visitor *v)
{
	struct fnl_rbuf r;
	bool flex = fnl_api_flexible(FNL_API_METADATA, ver);
	int32_t controller = -1;

	fnl_rbuf_init(&r, p, n);
	if (ver >= 3)
		(void)fnl_r_i32(&r); /* throttle_time_ms */
	md_brokers(&r, ver, flex, v);
	if (ver >= 2) {
		const char *cid;
		int32_t cid_len;
		r_str(&r, flex, &cid, &cid_len); /* cluster_id */
	}
	if (ver >= 1)
		controller = fnl_r_i32(&r);
	if (!r.err && v && v->controller)
		v->controller(v->ctx, controller);
	md_topics(&r, ver, flex, v);
	if (ver >= 8 && ver <= 10)
		(void)fnl_r_i32(&r); /* cluster_authorized_operations */
	int16_t top_err = ver >= 13 ? fnl_r_i16(&r) : 0; /* KIP-1102 */
	if (flex)
		fnl_r_tags_skip(&r);
	if (!r.err && v && v->error)
		v->error(v->ctx, top_err);
	return r.err;
}

int fnl_dec_metadata(const uint8_t *p, size_t n, int16_t ver, const struct fnl_md_visitor *v)
{
	if (ver < 0 || ver > 13)
		return -EBADMSG;
	int rc = md_walk(p, n, ver, NULL);
	if (rc < 0 || !v)
		return rc;
	return md_walk(p, n, ver, v);
}

/* ---- InitProducerId ---- */

int fnl_dec_init_pid(const uint8_t *p, size_t n, int16_t ver, int16_t *err, int64_t *pid,
                     int16_t *epoch)
{
	struct fnl_rbuf r;

	fnl_rbuf_init(&r, p, n);
	(void)fnl_r_i32(&r); /* throttle_time_ms */
	*err = fnl_r_i16(&r);
	*pid = fnl_r_i64(&r);
	*epoch = fnl_r_i16(&r);
	if (fnl_api_flexible(FNL_API_INIT_PRODUCER_ID, ver))
		fnl_r_tags_skip(&r);
	return r.err;
}

/* ---- Produce request ---- */

static int preq_fail(struct fnl_preq *r, int err)
{
	if (!r->err)
		r->err = err;
	return r->err;
}

/* Moves the scratch framing written since seg_start into the iovec list. */
static void preq_flush(struct fnl_preq *r)
{
	if (r->iov_n >= r->iov_max) {
		preq_fail(r, -ENOSPC);
		return;
	}
	r->iov[r->iov_n].iov_base = r->w.p + r->seg_start;
	r->iov[r->iov_n].iov_len = r->w.len - r->seg_start;
	r->iov_n++;
	r->seg_start = r->w.len;
}

int fnl_preq_begin(struct fnl_preq *r, void *scratch, size_t cap, struct iovec *iov, int iov_max,
                   int16_t ver, int32_t corr, const char *client_id, const char *txn_id,
                   int16_t acks, int32_t timeout_ms, int ntopics)
{
	memset(r, 0, sizeof(*r));
	r->iov = iov;
	r->iov_max = iov_max;
	r->ver = ver;
	r->flexible = fnl_api_flexible(FNL_API_PRODUCE, ver);
	r->topics_left = ntopics;
	fnl_wbuf_init(&r->w, scratch, cap);
	if (!api_supported(FNL_API_PRODUCE, ver) || ntopics < 0 || !iov || iov_max < 1)
		return preq_fail(r, -EINVAL);
	w_req_header(&r->w, FNL_API_PRODUCE, ver, corr, client_id, r->flexible);
	w_nstr(&r->w, r->flexible, txn_id, str_len(txn_id));
	fnl_w_i16(&r->w, acks);
	fnl_w_i32(&r->w, timeout_ms);
	w_array_len(&r->w, r->flexible, ntopics);
	if (r->w.err)
		return preq_fail(r, r->w.err);
	return 0;
}

/* Closes the current topic (its tagged fields in flexible versions). */
static void preq_close_topic(struct fnl_preq *r)
{
	if (r->flexible)
		fnl_w_tags_empty(&r->w);
}

int fnl_preq_topic(struct fnl_preq *r, const char *name, int name_len, int npartitions)
{
	if (r->err)
		return r->err;
	if (r->topics_left <= 0 || r->parts_left != 0 || npartitions < 0 || name_len < 0 || !name)
		return preq_fail(r, -EINVAL);
	r->topics_left--;
	w_str(&r->w, r->flexible, name, (size_t)name_len);
	w_array_len(&r->w, r->flexible, npartitions);
	r->parts_left = npartitions;
	if (npartitions == 0)
		preq_close_topic(r);
	if (r->w.err)
		return preq_fail(r, r->w.err);
	return 0;
}

int fnl_preq_partition(struct fnl_preq *r, int32_t partition, const void *batch, uint32_t batch_len)
{
	if (r->err)
		return r->err;
	if (r->parts_left <= 0 || batch_len > INT32_MAX - 1)
		return preq_fail(r, -EINVAL);
	r->parts_left--;
	fnl_w_i32(&r->w, partition);
	if (!batch) {
		if (r->flexible)
			fnl_w_uvarint(&r->w, 0);
		else
			fnl_w_i32(&r->w, -1);
	} else if (r->flexible) {
		fnl_w_uvarint(&r->w, batch_len + 1);
	} else {
		fnl_w_i32(&r->w, (int32_t)batch_len);
	}
	if (r->w.err)
		return preq_fail(r, r->w.err);
	if (batch && batch_len) {
		preq_flush(r);
		if (r->err)
			return r->err;
		if (r->iov_n >= r->iov_max)
			return preq_fail(r, -ENOSPC);
		r->iov[r->iov_n].iov_base = (void *)batch;
		r->iov[r->iov_n].iov_len = batch_len;
		r->iov_n++;
		r->frame_bytes += batch_len;
	}
	if (r->flexible)
		fnl_w_tags_empty(&r->w); /* partition tags */
	if (r->parts_left == 0)
		preq_close_topic(r);
	if (r->w.err)
		return preq_fail(r, r->w.err);
	return r->err;
}

int fnl_preq_end(struct fnl_preq *r)
{
	if (r->err)
		return r->err;
	if (r->topics_left != 0 || r->parts_left != 0)
		return preq_fail(r, -EINVAL);
	if (r->flexible)
		fnl_w_tags_empty(&r->w); /* request tags */
	if (r->w.err)
		return preq_fail(r, r->w.err);
	preq_flush(r);
	if (r->err)
		return r->err;
	size_t total = r->frame_bytes + r->w.len;
	if (total - 4 > INT32_MAX)
		return preq_fail(r, -EINVAL);
	fnl_put_be32(r->w.p, (uint32_t)(total - 4));
	r->frame_bytes = total;
	return r->iov_n;
}

/* ---- Produce response ---- */

struct presp_part {
	int32_t partition;
	int16_t err;
	int64_t base_offset, log_append_time_ms, log_start_offset;
};

static void presp_partition(struct fnl_rbuf *r, int16_t ver, bool flex, struct presp_part *out)
{
	out->partition = fnl_r_i32(r);
	out->err = fnl_r_i16(r);
	out->base_offset = fnl_r_i64(r);
	out->log_append_time_ms = ver >= 2 ? fnl_r_i64(r) : -1;
	out->log_start_offset = ver >= 5 ? fnl_r_i64(r) : -1;
	if (ver >= 8) {
		const char *s;
		int32_t len;
		int32_t nerr = r_count(r, flex, 6);
		for (int32_t i = 0; i < nerr && !r->err; i++) {
			(void)fnl_r_i32(r); /* batch_index */
			r_str(r, flex, &s, &len);
			if (flex)
				fnl_r_tags_skip(r);
		}
		r_str(r, flex, &s, &len); /* error_message */
	}
	if (flex)
		fnl_r_tags_skip(r); /* current_leader (v10+) */
}

static int presp_walk(const uint8_t *p, size_t n, int16_t ver, fnl_presp_cb cb, void *ctx,
                      int32_t *throttle_ms)
{
	struct fnl_rbuf r;
	bool flex = fnl_api_flexible(FNL_API_PRODUCE, ver);

	fnl_rbuf_init(&r, p, n);
	int32_t ntopics = r_count(&r, flex, flex ? 3 : 6);
	for (int32_t t = 0; t < ntopics && !r.err; t++) {
		const char *name;
		int32_t name_len;
		r_str(&r, flex, &name, &name_len);
		if (name_len < 0)
			fnl_r_fail(&r);
		int32_t nparts = r_count(&r, flex, 14);
		for (int32_t i = 0; i < nparts && !r.err; i++) {
			struct presp_part pp;
			presp_partition(&r, ver, flex, &pp);
			if (!r.err && cb)
				cb(ctx, name, name_len, pp.partition, pp.err, pp.base_offset,
				   pp.log_append_time_ms, pp.log_start_offset);
		}
		if (flex)
			fnl_r_tags_skip(&r);
	}
	int32_t throttle = fnl_r_i32(&r);
	if (flex)
		fnl_r_tags_skip(&r); /* node_endpoints (v10+) */
	if (!r.err && throttle_ms)
		*throttle_ms = throttle;
	return r.err;
}

int fnl_dec_produce(const uint8_t *p, size_t n, int16_t ver, fnl_presp_cb cb, void *ctx,
                    int32_t *throttle_ms)
{
	if (!api_supported(FNL_API_PRODUCE, ver))
		return -EBADMSG;
	int rc = presp_walk(p, n, ver, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	return presp_walk(p, n, ver, cb, ctx, throttle_ms);
}

/* ---- SaslHandshake v1, SaslAuthenticate v0-2 (KIP-43, KIP-152, KIP-368) ---- */

int fnl_enc_sasl_handshake_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                               const char *client_id, const char *mechanism)
{
	struct fnl_wbuf w;

	if (!api_supported(FNL_API_SASL_HANDSHAKE, ver) || !mechanism)
		return -EINVAL;
	fnl_wbuf_init(&w, buf, cap);
	w_req_header(&w, FNL_API_SASL_HANDSHAKE, ver, corr, client_id, false);
	fnl_w_string(&w, mechanism, strlen(mechanism));
	return w_finish(&w);
}

int fnl_dec_sasl_handshake(const uint8_t *p, size_t n, int16_t *err, char *mechs,
                           size_t mechs_cap)
{
	struct fnl_rbuf r;
	size_t used = 0;
	int32_t count;

	fnl_rbuf_init(&r, p, n);
	*err = fnl_r_i16(&r);
	count = fnl_r_array_len(&r);
	if (mechs_cap)
		mechs[0] = '\0';
	if (r.err || !fnl_r_count_ok(&r, count, 2))
		return -EBADMSG;
	for (int32_t i = 0; i < count; i++) {
		const char *s;
		int32_t len;
		if (!fnl_r_string(&r, &s, &len) || len < 0)
			return -EBADMSG;
		/* a readable list for messages: printable bytes only, cut when full */
		for (int32_t j = -1; j < len && used + 1 < mechs_cap; j++) {
			char ch = j < 0 ? ',' : s[j];
			if (j < 0 && used == 0)
				continue;
			mechs[used++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
		}
	}
	if (mechs_cap)
		mechs[used < mechs_cap ? used : mechs_cap - 1] = '\0';
	if (r.err || fnl_r_left(&r) != 0)
		return -EBADMSG;
	return 0;
}

int fnl_enc_sasl_auth_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                          const void *auth, size_t auth_len)
{
	struct fnl_wbuf w;
	bool flex = fnl_api_flexible(FNL_API_SASL_AUTHENTICATE, ver);

	if (!api_supported(FNL_API_SASL_AUTHENTICATE, ver) || auth_len > INT32_MAX - 8)
		return -EINVAL;
	fnl_wbuf_init(&w, buf, cap);
	w_req_header(&w, FNL_API_SASL_AUTHENTICATE, ver, corr, client_id, flex);
	if (flex)
		fnl_w_compact_bytes(&w, auth, auth_len);
	else
		fnl_w_bytes(&w, auth, auth_len);
	if (flex)
		fnl_w_tags_empty(&w);
	return w_finish(&w);
}

int fnl_dec_sasl_auth(const uint8_t *p, size_t n, int16_t ver, struct fnl_sasl_auth_resp *out)
{
	struct fnl_rbuf r;
	bool flex = fnl_api_flexible(FNL_API_SASL_AUTHENTICATE, ver);

	memset(out, 0, sizeof(*out));
	out->error_message_len = -1;
	if (!api_supported(FNL_API_SASL_AUTHENTICATE, ver))
		return -EINVAL;
	fnl_rbuf_init(&r, p, n);
	out->err = fnl_r_i16(&r);
	if (flex)
		fnl_r_compact_string(&r, &out->error_message, &out->error_message_len);
	else
		fnl_r_string(&r, &out->error_message, &out->error_message_len);
	if (flex)
		fnl_r_compact_bytes(&r, &out->auth, &out->auth_len);
	else
		fnl_r_bytes(&r, &out->auth, &out->auth_len);
	if (ver >= 1)
		out->session_lifetime_ms = fnl_r_i64(&r);
	if (flex)
		fnl_r_tags_skip(&r);
	if (r.err || out->auth_len < 0 || fnl_r_left(&r) != 0)
		return -EBADMSG;
	return 0;
}
