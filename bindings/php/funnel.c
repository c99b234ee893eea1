/* funnel.c - the funnel PHP extension: Funnel\Producer, Funnel\Message,
 * Funnel\Exception over libfunnel (include/funnel.h).
 *
 * Names follow php-rdkafka where a PHP user expects them (produce, poll,
 * flush, getOutQLen, setDrMsgCb, Message's properties and errstr()).
 * php_funnel.h describes the persistent client and the report path.
 */
#include "php_funnel.h"

#include "ext/standard/info.h"
#include "zend_exceptions.h"
#include "zend_interfaces.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

zend_class_entry *fph_exception_ce, *fph_message_ce, *fph_producer_ce;
static zend_object_handlers producer_handlers;

#define HDRS_ON_STACK 16

/* ------------------------------------------------------------- errors */

/* Throws Funnel\Exception: code = errno, message = what: strerror[: detail]. */
void fph_throw(int err, const char *what, const char *detail)
{
	if (err < 0)
		err = -err;
	zend_throw_exception_ex(fph_exception_ce, err, "%s: %s%s%s", what, fnl_strerror(-err),
	                        detail && *detail ? ": " : "", detail ? detail : "");
}

/* fnl_last_error() keeps the text of the last refusal on this thread, even
 * when a later call failed for another reason: only show text the call just
 * set (or that names what it was about). */
static const char *fresh_detail(const char *before, const char *about)
{
	const char *now = fnl_last_error();

	if (!*now)
		return NULL;
	if (strcmp(now, before) != 0 || (about && strstr(now, about)))
		return now;
	return NULL;
}

/* ------------------------------------------------------------- configuration */

/* Parses the constructor's array into p->conf and the canonical key text. */
static int parse_conf(fph_producer *p, HashTable *conf)
{
	zend_string *k;
	zval *v;
	char key[160];
	char *sock = NULL;
	zend_long ring = -1, block = -1;

	fnl_conf_init(&p->conf);
	ZEND_HASH_FOREACH_STR_KEY_VAL(conf, k, v)
	{
		if (!k) {
			zend_throw_exception(
			    fph_exception_ce,
			    "configuration keys must be strings (e.g. 'max.block.ms')", EINVAL);
			goto fail;
		}
		if (zend_string_equals_literal(k, "funnel.socket.path")) {
			zend_string *s = zval_get_string(v);

			if (!ZSTR_LEN(s) || ZSTR_LEN(s) >= 108 ||
			    memchr(ZSTR_VAL(s), 0, ZSTR_LEN(s))) {
				zend_throw_exception_ex(
				    fph_exception_ce, EINVAL,
				    "funnel.socket.path: '%s' is not a socket path "
				    "(1 to 107 bytes)",
				    ZSTR_VAL(s));
				zend_string_release(s);
				goto fail;
			}
			free(sock);
			sock = strdup(ZSTR_VAL(s));
			zend_string_release(s);
		} else if (zend_string_equals_literal(k, "funnel.ring.bytes") ||
		           zend_string_equals_literal(k, "max.block.ms")) {
			zend_long n;
			zend_uchar t =
			    Z_TYPE_P(v) == IS_LONG ? IS_LONG
			    : Z_TYPE_P(v) == IS_STRING
			        ? is_numeric_string(Z_STRVAL_P(v), Z_STRLEN_P(v), &n, NULL, 0)
			        : 0;

			if (t == IS_LONG && Z_TYPE_P(v) == IS_LONG)
				n = Z_LVAL_P(v);
			if (t != IS_LONG || n < 0 ||
			    n > (ZSTR_VAL(k)[0] == 'm' ? INT32_MAX : (1L << 32))) {
				zend_throw_exception_ex(
				    fph_exception_ce, EINVAL,
				    "%s: want a whole number of %s (0 to %ld)", ZSTR_VAL(k),
				    ZSTR_VAL(k)[0] == 'm' ? "milliseconds" : "bytes",
				    ZSTR_VAL(k)[0] == 'm' ? (long)INT32_MAX : 1L << 32);
				goto fail;
			}
			if (ZSTR_VAL(k)[0] == 'm')
				block = n;
			else
				ring = n;
		} else {
			zend_throw_exception_ex(
			    fph_exception_ce, EINVAL,
			    "unknown configuration key '%s': the client takes funnel.socket.path, "
			    "funnel.ring.bytes and max.block.ms (Kafka settings belong in "
			    "funneld's "
			    "configuration)",
			    ZSTR_VAL(k));
			goto fail;
		}
	}
	ZEND_HASH_FOREACH_END();
	if (ring >= 0)
		p->conf.ring_bytes = (size_t)ring;
	if (block >= 0)
		p->conf.max_block_ms = (int)block;
	snprintf(key, sizeof(key), "sock=%s\nring=%zu\nblock=%d\n", sock ? sock : "",
	         p->conf.ring_bytes, p->conf.max_block_ms);
	p->key = strdup(key);
	if (!p->key) {
		zend_throw_exception(fph_exception_ce, "out of memory", ENOMEM);
		goto fail;
	}
	p->sock = sock;
	p->conf.socket_path = sock;
	return 0;
fail:
	free(sock);
	return -1;
}

/* ------------------------------------------------------------- the client */

/* The producer's client in this process, opened on first use (and again in a
 * forked child). NULL with an exception thrown. */
struct fph_client *fph_client_of(fph_producer *p)
{
	struct fph_client *pc = p->pc;

	if (pc && !pc->inherited) {
		/* a failed client is replaced only if p is its last user and it holds nothing */
		if (!pc->failed || pc->nprods > 1 || pc->slots_used || fnl_outq_len(pc->c) > 0)
			return pc;
	}
	if (!p->key) {
		zend_throw_error(NULL, "Funnel\\Producer was not constructed");
		return NULL;
	}
	char before[256], what[200];
	const char *path = p->sock ? p->sock : getenv("FUNNEL_SOCKET");

	snprintf(before, sizeof(before), "%s", fnl_last_error());
	int rc = fph_client_acquire(p);
	if (rc < 0) {
		snprintf(what, sizeof(what), "cannot attach to funneld at %.150s",
		         path && *path ? path : "/run/funnel/funnel.sock");
		fph_throw(rc, what, fresh_detail(before, NULL));
		return NULL;
	}
	return p->pc;
}

/* A Funnel\Message for report r (s: its slot, or NULL) in *out. */
static void message_init(zval *out, const struct fph_report *r, const struct fph_slot *s)
{
	zend_class_entry *ce = fph_message_ce;
	zend_object *m;

	object_init_ex(out, ce);
	m = Z_OBJ_P(out);
	zend_update_property_long(ce, m, ZEND_STRL("err"), r->err);
	if (r->topic)
		zend_update_property_str(ce, m, ZEND_STRL("topic_name"), r->topic->name);
	else
		zend_update_property_string(ce, m, ZEND_STRL("topic_name"), "");
	zend_update_property_long(ce, m, ZEND_STRL("partition"), r->partition);
	zend_update_property_long(ce, m, ZEND_STRL("offset"), r->offset);
	if (!s)
		return;
	if (s->key)
		zend_update_property_str(ce, m, ZEND_STRL("key"), s->key);
	if (s->payload) {
		zend_update_property_str(ce, m, ZEND_STRL("payload"), s->payload);
		zend_update_property_long(ce, m, ZEND_STRL("len"), (zend_long)ZSTR_LEN(s->payload));
	}
	zend_update_property(ce, m, ZEND_STRL("opaque"), (zval *)&s->opaque);
	zend_update_property_long(ce, m, ZEND_STRL("timestamp"), (zend_long)s->timestamp_ms);
	if (Z_TYPE(s->headers) == IS_ARRAY)
		zend_update_property(ce, m, ZEND_STRL("headers"), (zval *)&s->headers);
}

/* Calls the delivery callbacks of the reports libfunnel served. Stops at the
 * first exception (the rest wait for the next poll). */
void fph_dispatch(struct fph_client *pc)
{
	while (pc->qhead < pc->qlen && !EG(exception)) {
		struct fph_report r = pc->q[pc->qhead++];
		zend_object *obj = fph_client_producer(pc, r.owner);
		struct fph_slot *s = NULL;
		zval args[2], ret, cb;

		if (!obj) /* freed meanwhile: its slots went with it */
			continue;
		if (r.slot && r.slot <= pc->slots_cap && pc->slots[r.slot - 1].owner == r.owner)
			s = &pc->slots[r.slot - 1];
		fph_producer *p = fph_producer_from(obj);
		if (Z_TYPE(p->dr_cb) != IS_UNDEF) {
			ZVAL_OBJ_COPY(&args[0], obj);
			message_init(&args[1], &r, s);
		}
		if (s) /* the message holds its own references now */
			fph_slot_release(pc, r.slot);
		if (Z_TYPE(p->dr_cb) == IS_UNDEF)
			continue;
		ZVAL_COPY(&cb, &p->dr_cb); /* the callback may replace itself */
		ZVAL_UNDEF(&ret);
		call_user_function(NULL, NULL, &cb, &ret, 2, args);
		zval_ptr_dtor(&ret);
		zval_ptr_dtor(&cb);
		zval_ptr_dtor(&args[1]);
		zval_ptr_dtor(&args[0]);
	}
	if (pc->qhead == pc->qlen)
		pc->qhead = pc->qlen = 0;
}

static zend_long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (zend_long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static fph_producer *this_producer(zval *this_zv)
{
	return fph_producer_from(Z_OBJ_P(this_zv));
}

/* ------------------------------------------------------------- Producer */

static zend_object *producer_new(zend_class_entry *ce)
{
	fph_producer *p = zend_object_alloc(sizeof(fph_producer), ce);

	zend_object_std_init(&p->std, ce);
	object_properties_init(&p->std, ce);
	p->std.handlers = &producer_handlers;
	ZVAL_UNDEF(&p->dr_cb);
	return &p->std;
}

static void producer_free(zend_object *o)
{
	fph_producer *p = fph_producer_from(o);

	fph_client_release_producer(p);
	zval_ptr_dtor(&p->dr_cb);
	ZVAL_UNDEF(&p->dr_cb);
	free(p->key);
	free(p->sock);
	p->key = p->sock = NULL;
	zend_object_std_dtor(o);
}

static HashTable *producer_get_gc(zend_object *o, zval **table, int *n)
{
	fph_producer *p = fph_producer_from(o);

	*table = Z_TYPE(p->dr_cb) == IS_UNDEF ? NULL : &p->dr_cb;
	*n = Z_TYPE(p->dr_cb) == IS_UNDEF ? 0 : 1;
	return zend_std_get_properties(o);
}

PHP_METHOD(Funnel_Producer, __construct)
{
	HashTable *conf = NULL;
	fph_producer *p = this_producer(ZEND_THIS);

	ZEND_PARSE_PARAMETERS_START(0, 1)
	Z_PARAM_OPTIONAL
	Z_PARAM_ARRAY_HT(conf)
	ZEND_PARSE_PARAMETERS_END();
	if (p->key) {
		zend_throw_error(NULL, "Funnel\\Producer is already constructed");
		RETURN_THROWS();
	}
	if (parse_conf(p, conf ? conf : (HashTable *)&zend_empty_array) < 0)
		RETURN_THROWS();
}

PHP_METHOD(Funnel_Producer, setDrMsgCb)
{
	zend_fcall_info fci;
	zend_fcall_info_cache fcc;
	fph_producer *p = this_producer(ZEND_THIS);

	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_FUNC(fci, fcc)
	ZEND_PARSE_PARAMETERS_END();
	zval_ptr_dtor(&p->dr_cb);
	ZVAL_COPY(&p->dr_cb, &fci.function_name);
	(void)return_value; /* void method: clang warns where gcc does not */
}

/* Fills h[] from a PHP array name => value (null value: null header). The
 * names and values it had to convert are kept in tmp[] for the caller to
 * release. Returns the count, or -1 with an exception thrown. */
static int build_headers(HashTable *ht, struct fnl_header *h, zend_string **tmp, int *ntmp)
{
	zend_string *name;
	zend_ulong idx;
	zval *v;
	int n = 0;

	ZEND_HASH_FOREACH_KEY_VAL(ht, idx, name, v)
	{
		if (!name) {
			name = zend_long_to_str((zend_long)idx);
			tmp[(*ntmp)++] = name;
		}
		if (memchr(ZSTR_VAL(name), 0, ZSTR_LEN(name)) || ZSTR_LEN(name) > UINT16_MAX) {
			zend_throw_exception_ex(
			    fph_exception_ce, EINVAL,
			    "header name '%s' has a NUL byte or is longer than 65535",
			    ZSTR_VAL(name));
			return -1;
		}
		h[n].name = ZSTR_VAL(name);
		ZVAL_DEREF(v);
		if (Z_TYPE_P(v) == IS_NULL) {
			h[n].value = NULL;
			h[n].value_len = -1;
		} else {
			zend_string *s = zval_get_string(v);

			tmp[(*ntmp)++] = s;
			if (ZSTR_LEN(s) > INT32_MAX) {
				zend_throw_exception_ex(fph_exception_ce, EINVAL,
				                        "header '%s' is too long", h[n].name);
				return -1;
			}
			h[n].value = ZSTR_VAL(s);
			h[n].value_len = (int32_t)ZSTR_LEN(s);
		}
		n++;
	}
	ZEND_HASH_FOREACH_END();
	return n;
}

/* The topic's handle (looked up through funneld the first time in this
 * process); NULL with an exception thrown. */
static struct fph_topic *topic_of(struct fph_client *pc, zend_string *name)
{
	struct fph_topic *t = zend_hash_find_ptr(&pc->topics, name);
	char before[256], what[300];
	int rc;

	if (t)
		return t;
	snprintf(before, sizeof(before), "%s", fnl_last_error());
	rc = fph_client_topic(pc, name, &t);
	if (rc >= 0)
		return t;
	if (rc == -EPIPE)
		pc->failed = true;
	snprintf(what, sizeof(what), "topic '%.250s'", ZSTR_VAL(name));
	fph_throw(rc, what, fresh_detail(before, ZSTR_VAL(name)));
	return NULL;
}

/* A slot for a record whose report a callback will see. When the table is
 * full, serves the reports that came back and tries once more. 0, or -1
 * with an exception thrown. */
static int slot_for(struct fph_client *pc, fph_producer *p, zval *opaque, zend_string *key,
                    zend_string *value, HashTable *headers, int64_t ts, uint32_t *slot)
{
	zval null_zv;
	int rc;

	ZVAL_NULL(&null_zv);
	if (!opaque)
		opaque = &null_zv;
	rc = fph_slot_take(pc, p, opaque, key, value, headers, ts, slot);
	if (rc == -ENOBUFS) {
		fnl_poll(pc->c, 0);
		fph_dispatch(pc);
		if (EG(exception))
			return -1;
		rc = fph_slot_take(pc, p, opaque, key, value, headers, ts, slot);
	}
	if (rc < 0) {
		fph_throw(rc, "produce",
		          "too many records wait for their delivery report: call poll()");
		return -1;
	}
	return 0;
}

PHP_METHOD(Funnel_Producer, produce)
{
	zend_string *topic, *value = NULL, *key = NULL;
	zend_long partition = -1, ts = 0;
	HashTable *headers = NULL;
	zval *opaque = NULL;
	fph_producer *p = this_producer(ZEND_THIS);
	struct fph_client *pc;
	struct fph_topic *t;
	struct fnl_header hstack[HDRS_ON_STACK], *h = hstack;
	zend_string *tstack[2 * HDRS_ON_STACK], **tmp = tstack;
	int nh = 0, ntmp = 0, rc;
	uint32_t slot = 0;

	ZEND_PARSE_PARAMETERS_START(2, 7)
	Z_PARAM_STR(topic)
	Z_PARAM_STR_OR_NULL(value)
	Z_PARAM_OPTIONAL
	Z_PARAM_STR_OR_NULL(key)
	Z_PARAM_LONG(partition)
	Z_PARAM_ARRAY_HT(headers)
	Z_PARAM_LONG(ts)
	Z_PARAM_ZVAL(opaque)
	ZEND_PARSE_PARAMETERS_END();

	if (partition < -1 || partition > INT32_MAX) {
		zend_throw_exception_ex(fph_exception_ce, EINVAL,
		                        "partition " ZEND_LONG_FMT " is not -1 (any) or 0..2^31-1",
		                        partition);
		RETURN_THROWS();
	}
	pc = fph_client_of(p);
	if (!pc)
		RETURN_THROWS();
	t = topic_of(pc, topic);
	if (!t)
		RETURN_THROWS();
	if (headers && zend_hash_num_elements(headers) > 0) {
		uint32_t n = zend_hash_num_elements(headers);

		if (n > UINT16_MAX) {
			zend_throw_exception(fph_exception_ce, "more than 65535 headers", EINVAL);
			RETURN_THROWS();
		}
		if (n > HDRS_ON_STACK) {
			h = emalloc(n * sizeof(*h));
			tmp = emalloc(2 * n * sizeof(*tmp));
		}
		nh = build_headers(headers, h, tmp, &ntmp);
		if (nh < 0)
			goto out;
	}
	/* transactional records too: libfunnel reports them when the transaction ends */
	if (Z_TYPE(p->dr_cb) != IS_UNDEF || (opaque && Z_TYPE_P(opaque) != IS_NULL)) {
		if (ts == 0) { /* so that the report's timestamp is the record's CreateTime */
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			ts = (zend_long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
		}
		if (slot_for(pc, p, opaque, key, value, headers, (int64_t)ts, &slot) < 0)
			goto out;
	}
	rc = fnl_produce(pc->c, t->t, (int32_t)partition, key ? ZSTR_VAL(key) : NULL,
	                 key ? ZSTR_LEN(key) : 0, value ? ZSTR_VAL(value) : NULL,
	                 value ? ZSTR_LEN(value) : 0, nh ? h : NULL, nh, (int64_t)ts,
	                 ((uint64_t)p->id << 32) | slot);
	if (rc < 0) {
		if (slot)
			fph_slot_release(pc, slot);
		if (rc == -EPIPE)
			pc->failed = true;
		fph_throw(rc, "produce", NULL);
		goto out;
	}
	pc->failed = false;
	if (pc->qlen) /* a produce that waited for room served reports */
		fph_dispatch(pc);
out:
	for (int i = 0; i < ntmp; i++)
		zend_string_release(tmp[i]);
	if (h != hstack) {
		efree(h);
		efree(tmp);
	}
}

PHP_METHOD(Funnel_Producer, poll)
{
	zend_long timeout = 0;
	fph_producer *p = this_producer(ZEND_THIS);
	struct fph_client *pc;
	int rc;

	ZEND_PARSE_PARAMETERS_START(0, 1)
	Z_PARAM_OPTIONAL
	Z_PARAM_LONG(timeout)
	ZEND_PARSE_PARAMETERS_END();
	pc = fph_client_of(p);
	if (!pc)
		RETURN_THROWS();
	if (pc->qhead < pc->qlen) { /* left over by a callback that threw */
		fph_dispatch(pc);
		if (EG(exception))
			RETURN_THROWS();
	}
	rc = fnl_poll(pc->c, timeout < -1 ? -1 : timeout > INT32_MAX ? INT32_MAX : (int)timeout);
	fph_dispatch(pc);
	if (EG(exception))
		RETURN_THROWS();
	if (rc == -EPIPE) /* funneld is gone for now; poll() never fails for that */
		RETURN_LONG(0);
	if (rc < 0) {
		fph_throw(rc, "poll", NULL);
		RETURN_THROWS();
	}
	RETURN_LONG(rc);
}

PHP_METHOD(Funnel_Producer, flush)
{
	zend_long timeout = 10000;
	fph_producer *p = this_producer(ZEND_THIS);
	struct fph_client *pc;
	int rc;

	ZEND_PARSE_PARAMETERS_START(0, 1)
	Z_PARAM_OPTIONAL
	Z_PARAM_LONG(timeout)
	ZEND_PARSE_PARAMETERS_END();
	pc = fph_client_of(p);
	if (!pc)
		RETURN_THROWS();
	zend_long deadline = timeout < 0 ? -1 : mono_ms() + timeout;
	for (;;) {
		zend_long left = deadline < 0 ? -1 : deadline - mono_ms();

		if (deadline >= 0 && left < 0)
			left = 0;
		rc = fnl_flush(pc->c, left > INT32_MAX ? INT32_MAX : (int)left);
		fph_dispatch(pc);
		if (EG(exception))
			RETURN_THROWS();
		/* a callback may have produced more: flush those too */
		if (rc < 0 || fnl_outq_len(pc->c) == 0)
			break;
	}
	if (rc < 0) {
		char detail[80];

		snprintf(detail, sizeof(detail), "%lld records still wait for a delivery report",
		         (long long)fnl_outq_len(pc->c));
		fph_throw(rc, "flush", detail);
		RETURN_THROWS();
	}
}

PHP_METHOD(Funnel_Producer, getOutQLen)
{
	fph_producer *p = this_producer(ZEND_THIS);
	struct fph_client *pc;

	ZEND_PARSE_PARAMETERS_NONE();
	pc = fph_client_of(p);
	if (!pc)
		RETURN_THROWS();
	RETURN_LONG((zend_long)fnl_outq_len(pc->c) + (zend_long)(pc->qlen - pc->qhead));
}

/* ------------------------------------------------------------- Message */

PHP_METHOD(Funnel_Message, errstr)
{
	zval *err, rv;

	ZEND_PARSE_PARAMETERS_NONE();
	err = zend_read_property(fph_message_ce, Z_OBJ_P(ZEND_THIS), ZEND_STRL("err"), 1, &rv);
	RETURN_STRING(fnl_kafka_err_name((int16_t)zval_get_long(err)));
}

/* ------------------------------------------------------------- arginfo */

ZEND_BEGIN_ARG_INFO_EX(arginfo_producer_construct, 0, 0, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, conf, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_producer_produce, 0, 2, IS_VOID, 0)
ZEND_ARG_TYPE_INFO(0, topic, IS_STRING, 0)
ZEND_ARG_TYPE_INFO(0, value, IS_STRING, 1)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, key, IS_STRING, 1, "null")
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, partition, IS_LONG, 0, "-1")
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, headers, IS_ARRAY, 0, "[]")
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timestampMs, IS_LONG, 0, "0")
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, opaque, IS_MIXED, 0, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_producer_poll, 0, 0, IS_LONG, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeoutMs, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_producer_flush, 0, 0, IS_VOID, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, timeoutMs, IS_LONG, 0, "10000")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_producer_outq, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_producer_drcb, 0, 1, IS_VOID, 0)
ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_message_errstr, 0, 0, IS_STRING, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry producer_methods[] = {
    PHP_ME(Funnel_Producer, __construct, arginfo_producer_construct, ZEND_ACC_PUBLIC)
        PHP_ME(Funnel_Producer, produce, arginfo_producer_produce, ZEND_ACC_PUBLIC)
            PHP_ME(Funnel_Producer, poll, arginfo_producer_poll, ZEND_ACC_PUBLIC)
                PHP_ME(Funnel_Producer, flush, arginfo_producer_flush, ZEND_ACC_PUBLIC)
                    PHP_ME(Funnel_Producer, getOutQLen, arginfo_producer_outq, ZEND_ACC_PUBLIC)
                        PHP_ME(Funnel_Producer, setDrMsgCb, arginfo_producer_drcb, ZEND_ACC_PUBLIC)
                            PHP_FE_END};

static const zend_function_entry message_methods[] = {
    PHP_ME(Funnel_Message, errstr, arginfo_message_errstr, ZEND_ACC_PUBLIC) PHP_FE_END};

/* ------------------------------------------------------------- module */

static void declare_null(zend_class_entry *ce, const char *name)
{
	zend_declare_property_null(ce, name, strlen(name), ZEND_ACC_PUBLIC);
}

PHP_MINIT_FUNCTION(funnel)
{
	zend_class_entry ce;

	(void)type;
	INIT_NS_CLASS_ENTRY(ce, "Funnel", "Exception", NULL);
	fph_exception_ce = zend_register_internal_class_ex(&ce, zend_ce_exception);

	INIT_NS_CLASS_ENTRY(ce, "Funnel", "Message", message_methods);
	fph_message_ce = zend_register_internal_class(&ce);
	static const char *const props[] = {"err",     "topic_name", "timestamp", "partition",
	                                    "payload", "len",        "key",       "offset",
	                                    "headers", "opaque"};
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		declare_null(fph_message_ce, props[i]);

	INIT_NS_CLASS_ENTRY(ce, "Funnel", "Producer", producer_methods);
	fph_producer_ce = zend_register_internal_class(&ce);
	fph_producer_ce->create_object = producer_new;
	fph_producer_ce->ce_flags |= ZEND_ACC_FINAL | ZEND_ACC_NOT_SERIALIZABLE;
	memcpy(&producer_handlers, zend_get_std_object_handlers(), sizeof(producer_handlers));
	producer_handlers.offset = XtOffsetOf(fph_producer, std);
	producer_handlers.free_obj = producer_free;
	producer_handlers.get_gc = producer_get_gc;
	producer_handlers.clone_obj = NULL;

	if (zend_register_functions(fph_producer_ce, fph_producer_txn_methods,
	                            &fph_producer_ce->function_table, MODULE_PERSISTENT) != SUCCESS)
		return FAILURE;
	fph_txn_minit();
	REGISTER_NS_LONG_CONSTANT("Funnel", "PARTITION_UA", -1, CONST_CS | CONST_PERSISTENT);
	fph_clients_init();
	return SUCCESS;
}

PHP_MSHUTDOWN_FUNCTION(funnel)
{
	(void)type;
	(void)module_number;
	fph_clients_shutdown();
	return SUCCESS;
}

/* A PHP-FPM worker keeps its clients across requests: a transaction a request
 * left open is aborted here, so the next request starts clean. */
PHP_RSHUTDOWN_FUNCTION(funnel)
{
	(void)type;
	(void)module_number;
	fph_txn_request_end();
	return SUCCESS;
}

PHP_MINFO_FUNCTION(funnel)
{
	char n[32];

	(void)zend_module;
	php_info_print_table_start();
	php_info_print_table_header(2, "funnel support", "enabled");
	php_info_print_table_row(2, "version", PHP_FUNNEL_VERSION);
	snprintf(n, sizeof(n), "%zu", fph_clients_count());
	php_info_print_table_row(2, "clients open in this process", n);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)fph_txn_aborted_at_request_end);
	php_info_print_table_row(2, "transactions aborted at request end", n);
	php_info_print_table_end();
}

zend_module_entry funnel_module_entry = {STANDARD_MODULE_HEADER,
                                         "funnel",
                                         NULL,
                                         PHP_MINIT(funnel),
                                         PHP_MSHUTDOWN(funnel),
                                         NULL,
                                         PHP_RSHUTDOWN(funnel),
                                         PHP_MINFO(funnel),
                                         PHP_FUNNEL_VERSION,
                                         STANDARD_MODULE_PROPERTIES};

#ifdef ZTS
#error "the funnel extension keeps one client per process: build it for NTS PHP"
#endif
ZEND_GET_MODULE(funnel)
