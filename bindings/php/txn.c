/* txn.c - transactions in the funnel PHP extension, with php-rdkafka's names:
 * Funnel\Producer::initTransactions, beginTransaction, sendOffsetsToTransaction,
 * commitTransaction, abortTransaction over libfunnel's fnl_txn_* (include/funnel.h).
 *
 * Failures throw Funnel\KafkaErrorException (extends Funnel\Exception) as
 * RdKafka\KafkaErrorException: isFatal(), isRetriable(), transactionRequiresAbort(),
 * getErrorString(); the class comes from fnl_txn_error_class(), the text from
 * fnl_txn_error(). Offsets: Funnel\TopicPartition, any object with getTopic(),
 * getPartition() and getOffset() (RdKafka\TopicPartition), or arrays with the keys
 * topic, partition, offset. Group metadata: Funnel\ConsumerGroupMetadata, an array
 * with group_id (generation_id, member_id, group_instance_id optional) or a group id.
 *
 * Invariant: pc->txn_open is true from a successful beginTransaction() until a
 * successful commit or abort. A transaction still open when a request ends is
 * aborted by fph_txn_request_end() (RSHUTDOWN), since the client outlives the request.
 *
 * Delivery reports: a transactional record takes a report slot as any other (dr_msg_cb or
 * an opaque); libfunnel reports it when the transaction ends, and commitTransaction() /
 * abortTransaction() call dr_msg_cb before they return (committed: partition and offset,
 * err 0; aborted: err 120 TRANSACTION_ABORTABLE, or the Kafka error that refused the commit).
 * Records of a transaction aborted at request end are reported to no one (their producer
 * object is gone by then).
 */
#include "php_funnel.h"

#include "zend_exceptions.h"
#include "zend_interfaces.h"

#include <errno.h>
#include <string.h>

/* librdkafka's codes for what the classes mean (php-rdkafka users compare getCode()) */
#define ERR__FATAL     (-150)
#define ERR__STATE     (-172)
#define ERR__TIMED_OUT (-185)
#define ERR__FAIL      (-196)

static zend_class_entry *kerr_ce, *tp_ce, *cgm_ce;
uint64_t fph_txn_aborted_at_request_end;

/* ------------------------------------------------------------- errors */

static void throw_kerr(const char *what, const char *why, int code, bool fatal, bool retriable,
                       bool abortable)
{
	zval ex;

	object_init_ex(&ex, kerr_ce);
	zend_object *o = Z_OBJ(ex);
	zend_string *msg = zend_strpprintf(0, "%s: %s", what, why);
	zend_update_property_str(zend_ce_exception, o, ZEND_STRL("message"), msg);
	zend_string_release(msg);
	zend_update_property_long(zend_ce_exception, o, ZEND_STRL("code"), code);
	zend_update_property_string(kerr_ce, o, ZEND_STRL("error_string"), why);
	zend_update_property_bool(kerr_ce, o, ZEND_STRL("isFatal"), fatal);
	zend_update_property_bool(kerr_ce, o, ZEND_STRL("isRetriable"), retriable);
	zend_update_property_bool(kerr_ce, o, ZEND_STRL("transactionRequiresAbort"), abortable);
	zend_throw_exception_object(&ex);
}

/* The failed fnl_txn_* call rc as KafkaErrorException. */
static void throw_txn(struct fph_client *pc, int rc, const char *what)
{
	int cls = fnl_txn_error_class(pc->c);
	const char *why = fnl_txn_error(pc->c);

	if (cls == FNL_TXN_ERR_NONE) { /* refused before libfunnel kept any state */
		cls = FNL_TXN_ERR_USAGE;
		why = "call initTransactions() first";
	}
	if (!*why)
		why = fnl_strerror(rc);
	throw_kerr(what, why,
	           cls == FNL_TXN_ERR_FATAL       ? ERR__FATAL
	           : cls == FNL_TXN_ERR_RETRIABLE ? ERR__TIMED_OUT
	           : cls == FNL_TXN_ERR_USAGE     ? ERR__STATE
	                                          : ERR__FAIL,
	           cls == FNL_TXN_ERR_FATAL, cls == FNL_TXN_ERR_RETRIABLE,
	           cls == FNL_TXN_ERR_ABORTABLE);
}

static int timeout_arg(zend_long t)
{
	return t < 0 ? -1 : t > INT32_MAX ? INT32_MAX : (int)t;
}

/* ------------------------------------------------------------- Producer methods */

static struct fph_client *txn_client(zval *this_zv)
{
	return fph_client_of(fph_producer_from(Z_OBJ_P(this_zv)));
}

PHP_METHOD(Funnel_Producer, initTransactions)
{
	zend_long timeout;
	struct fph_client *pc;
	int rc;

	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_LONG(timeout)
	ZEND_PARSE_PARAMETERS_END();
	if (!(pc = txn_client(ZEND_THIS)))
		RETURN_THROWS();
	rc = fnl_txn_init(pc->c, timeout_arg(timeout));
	if (rc < 0) {
		throw_txn(pc, rc, "initTransactions");
		RETURN_THROWS();
	}
}

PHP_METHOD(Funnel_Producer, beginTransaction)
{
	struct fph_client *pc;
	int rc;

	ZEND_PARSE_PARAMETERS_NONE();
	if (!(pc = txn_client(ZEND_THIS)))
		RETURN_THROWS();
	rc = fnl_txn_begin(pc->c);
	if (rc < 0) {
		throw_txn(pc, rc, "beginTransaction");
		RETURN_THROWS();
	}
	pc->txn_open = true;
}

/* end: 1 commit, 0 abort */
static void txn_end(INTERNAL_FUNCTION_PARAMETERS, bool commit)
{
	zend_long timeout;
	struct fph_client *pc;
	int rc;

	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_LONG(timeout)
	ZEND_PARSE_PARAMETERS_END();
	if (!(pc = txn_client(ZEND_THIS)))
		RETURN_THROWS();
	rc = commit ? fnl_txn_commit(pc->c, timeout_arg(timeout))
	            : fnl_txn_abort(pc->c, timeout_arg(timeout));
	fph_dispatch(pc); /* the transaction's reports, when it ended (even by a FATAL) */
	if (EG(exception))
		RETURN_THROWS();
	if (rc < 0) {
		throw_txn(pc, rc, commit ? "commitTransaction" : "abortTransaction");
		RETURN_THROWS();
	}
	pc->txn_open = false;
}

PHP_METHOD(Funnel_Producer, commitTransaction)
{
	txn_end(INTERNAL_FUNCTION_PARAM_PASSTHRU, true);
}

PHP_METHOD(Funnel_Producer, abortTransaction)
{
	txn_end(INTERNAL_FUNCTION_PARAM_PASSTHRU, false);
}

/* ------------------------------------------------------------- offsets */

/* obj->name() or obj's property / array key: the value in *out (a copy). */
static bool field_of(zval *v, const char *method, const char *key, zval *out)
{
	ZVAL_UNDEF(out);
	if (Z_TYPE_P(v) == IS_ARRAY) {
		zval *f = zend_hash_str_find(Z_ARRVAL_P(v), key, strlen(key));
		if (!f)
			return false;
		ZVAL_COPY(out, f);
		return true;
	}
	zend_string *m = zend_string_init(method, strlen(method), 0);
	bool found = zend_call_method_if_exists(Z_OBJ_P(v), m, out, 0, NULL) == SUCCESS;
	zend_string_release(m);
	return found && !EG(exception);
}

/* One offsets entry into o (topic string kept in *tmp). -1 with an exception thrown. */
static int offset_of(zval *v, uint32_t i, struct fnl_txn_offset *o, zend_string **tmp)
{
	zval t, p, off;

	ZVAL_DEREF(v);
	if (Z_TYPE_P(v) != IS_ARRAY && Z_TYPE_P(v) != IS_OBJECT)
		goto bad;
	if (!field_of(v, "getTopic", "topic", &t))
		goto bad;
	if (!field_of(v, "getPartition", "partition", &p)) {
		zval_ptr_dtor(&t);
		goto bad;
	}
	if (!field_of(v, "getOffset", "offset", &off)) {
		zval_ptr_dtor(&t);
		zval_ptr_dtor(&p);
		goto bad;
	}
	*tmp = zval_get_string(&t);
	zend_long part = zval_get_long(&p), offset = zval_get_long(&off);
	zval_ptr_dtor(&t);
	zval_ptr_dtor(&p);
	zval_ptr_dtor(&off);
	if (part < 0 || part > INT32_MAX || offset < 0) {
		zend_string_release(*tmp);
		zend_throw_exception_ex(
		    fph_exception_ce, EINVAL,
		    "sendOffsetsToTransaction: offsets[%u]: partition " ZEND_LONG_FMT
		    " or offset " ZEND_LONG_FMT " is negative",
		    i, part, offset);
		return -1;
	}
	*o = (struct fnl_txn_offset){
	    .topic = ZSTR_VAL(*tmp), .partition = (int32_t)part, .offset = (int64_t)offset};
	return 0;
bad:
	if (!EG(exception))
		zend_throw_exception_ex(
		    fph_exception_ce, EINVAL,
		    "sendOffsetsToTransaction: offsets[%u] is not a topic-partition "
		    "(Funnel\\TopicPartition, an object with getTopic(), "
		    "getPartition(), getOffset(), or an array with the keys topic, "
		    "partition, offset)",
		    i);
	return -1;
}

struct group_md {
	zend_string *group, *member, *instance; /* instance NULL = none */
	zend_long generation;
};

static void group_md_free(struct group_md *g)
{
	if (g->group)
		zend_string_release(g->group);
	if (g->member)
		zend_string_release(g->member);
	if (g->instance)
		zend_string_release(g->instance);
}

/* The group metadata argument into g. -1 with an exception thrown. */
static int group_md_of(zval *v, struct group_md *g)
{
	zval f;

	*g = (struct group_md){.generation = -1};
	ZVAL_DEREF(v);
	if (Z_TYPE_P(v) == IS_STRING) {
		g->group = zend_string_copy(Z_STR_P(v));
	} else if (Z_TYPE_P(v) == IS_ARRAY ||
	           (Z_TYPE_P(v) == IS_OBJECT && instanceof_function(Z_OBJCE_P(v), cgm_ce))) {
		if (!field_of(v, "getGroupId", "group_id", &f))
			goto bad;
		g->group = zval_get_string(&f);
		zval_ptr_dtor(&f);
		if (field_of(v, "getGenerationId", "generation_id", &f)) {
			g->generation = zval_get_long(&f);
			zval_ptr_dtor(&f);
		}
		if (field_of(v, "getMemberId", "member_id", &f)) {
			g->member = zval_get_string(&f);
			zval_ptr_dtor(&f);
		}
		if (field_of(v, "getGroupInstanceId", "group_instance_id", &f)) {
			if (Z_TYPE(f) != IS_NULL)
				g->instance = zval_get_string(&f);
			zval_ptr_dtor(&f);
		}
	} else {
		goto bad;
	}
	if (EG(exception))
		return -1;
	if (g->generation < INT32_MIN || g->generation > INT32_MAX) {
		zend_throw_exception(fph_exception_ce,
		                     "sendOffsetsToTransaction: generation id out of range",
		                     EINVAL);
		return -1;
	}
	return 0;
bad:
	if (!EG(exception))
		zend_throw_exception(
		    fph_exception_ce,
		    "sendOffsetsToTransaction: group metadata must be a "
		    "Funnel\\ConsumerGroupMetadata, "
		    "an array with group_id (and generation_id, member_id, group_instance_id) or a "
		    "group id (RdKafka\\ConsumerGroupMetadata is opaque: build a "
		    "Funnel\\ConsumerGroupMetadata from your consumer's group)",
		    EINVAL);
	return -1;
}

PHP_METHOD(Funnel_Producer, sendOffsetsToTransaction)
{
	HashTable *offsets;
	zval *md, *v;
	zend_long timeout;
	struct fph_client *pc;
	struct group_md g = {0};
	struct fnl_txn_offset *o = NULL;
	zend_string **tmp = NULL;
	uint32_t n = 0, i = 0;
	int rc;

	ZEND_PARSE_PARAMETERS_START(3, 3)
	Z_PARAM_ARRAY_HT(offsets)
	Z_PARAM_ZVAL(md)
	Z_PARAM_LONG(timeout)
	ZEND_PARSE_PARAMETERS_END();
	(void)timeout; /* offsets are held with the transaction: nothing to wait for */
	if (!(pc = txn_client(ZEND_THIS)))
		RETURN_THROWS();
	if (group_md_of(md, &g) < 0)
		goto out;
	n = zend_hash_num_elements(offsets);
	if (n > INT32_MAX) {
		zend_throw_exception(fph_exception_ce, "too many offsets", EINVAL);
		goto out;
	}
	o = n ? safe_emalloc(n, sizeof(*o), 0) : NULL;
	tmp = n ? safe_emalloc(n, sizeof(*tmp), 0) : NULL;
	ZEND_HASH_FOREACH_VAL(offsets, v)
	{
		if (offset_of(v, i, &o[i], &tmp[i]) < 0)
			break; /* tmp[0 .. i-1] hold topics */
		i++;
	}
	ZEND_HASH_FOREACH_END();
	if (EG(exception))
		goto out;
	rc = fnl_txn_send_offsets(pc->c, ZSTR_VAL(g.group), (int32_t)g.generation,
	                          g.member ? ZSTR_VAL(g.member) : "",
	                          g.instance ? ZSTR_VAL(g.instance) : NULL, o, (int)n);
	if (rc < 0)
		throw_txn(pc, rc, "sendOffsetsToTransaction");
out:
	for (uint32_t k = 0; k < i; k++)
		zend_string_release(tmp[k]);
	if (o)
		efree(o);
	if (tmp)
		efree(tmp);
	group_md_free(&g);
}

/* ------------------------------------------------------------- request end */

void fph_txn_request_end(void)
{
	for (struct fph_client *pc = fph_clients_first(); pc; pc = pc->next) {
		if (!pc->txn_open || pc->inherited || !pc->c)
			continue;
		int rc = fnl_txn_abort(pc->c, 0);
		if (rc == -EINPROGRESS) {
			/* a commit the request began is under way: it cannot be called back, so
			 * learn its outcome (bounded) and abort only if it failed */
			rc = fnl_txn_commit(pc->c, 10000);
			if (rc < 0 && fnl_txn_error_class(pc->c) == FNL_TXN_ERR_ABORTABLE)
				rc = fnl_txn_abort(pc->c, 0);
		} else if (rc == 0) {
			fph_txn_aborted_at_request_end++;
		}
		/* USAGE: none open after all. FATAL leaves it open in libfunnel (the
		 * client's records keep going to the dead transaction), and so here */
		if (rc == 0 || fnl_txn_error_class(pc->c) == FNL_TXN_ERR_USAGE)
			pc->txn_open = false;
	}
}

/* ------------------------------------------------------------- small classes */

PHP_METHOD(Funnel_KafkaErrorException, __construct)
{
	zend_string *msg, *es;
	zend_long code;
	bool fatal, retriable, abortable;
	zend_object *o = Z_OBJ_P(ZEND_THIS);

	ZEND_PARSE_PARAMETERS_START(6, 6)
	Z_PARAM_STR(msg)
	Z_PARAM_LONG(code)
	Z_PARAM_STR(es)
	Z_PARAM_BOOL(fatal)
	Z_PARAM_BOOL(retriable)
	Z_PARAM_BOOL(abortable)
	ZEND_PARSE_PARAMETERS_END();
	(void)return_value; /* a constructor: clang warns where gcc does not */
	zend_update_property_str(zend_ce_exception, o, ZEND_STRL("message"), msg);
	zend_update_property_long(zend_ce_exception, o, ZEND_STRL("code"), code);
	zend_update_property_str(kerr_ce, o, ZEND_STRL("error_string"), es);
	zend_update_property_bool(kerr_ce, o, ZEND_STRL("isFatal"), fatal);
	zend_update_property_bool(kerr_ce, o, ZEND_STRL("isRetriable"), retriable);
	zend_update_property_bool(kerr_ce, o, ZEND_STRL("transactionRequiresAbort"), abortable);
}

static void return_prop(zend_class_entry *ce, zval *this_zv, const char *name, size_t len,
                        zval *return_value)
{
	zval rv, *v = zend_read_property(ce, Z_OBJ_P(this_zv), name, len, 1, &rv);
	RETURN_COPY_DEREF(v);
}

#define GETTER(cls, ce, meth, prop)                                                                \
	PHP_METHOD(cls, meth)                                                                      \
	{                                                                                          \
		ZEND_PARSE_PARAMETERS_NONE();                                                      \
		return_prop(ce, ZEND_THIS, ZEND_STRL(prop), return_value);                         \
	}

GETTER(Funnel_KafkaErrorException, kerr_ce, getErrorString, "error_string")
GETTER(Funnel_KafkaErrorException, kerr_ce, isFatal, "isFatal")
GETTER(Funnel_KafkaErrorException, kerr_ce, isRetriable, "isRetriable")
GETTER(Funnel_KafkaErrorException, kerr_ce, transactionRequiresAbort, "transactionRequiresAbort")
GETTER(Funnel_TopicPartition, tp_ce, getTopic, "topic")
GETTER(Funnel_TopicPartition, tp_ce, getPartition, "partition")
GETTER(Funnel_TopicPartition, tp_ce, getOffset, "offset")
GETTER(Funnel_ConsumerGroupMetadata, cgm_ce, getGroupId, "group_id")
GETTER(Funnel_ConsumerGroupMetadata, cgm_ce, getGenerationId, "generation_id")
GETTER(Funnel_ConsumerGroupMetadata, cgm_ce, getMemberId, "member_id")
GETTER(Funnel_ConsumerGroupMetadata, cgm_ce, getGroupInstanceId, "group_instance_id")

PHP_METHOD(Funnel_TopicPartition, __construct)
{
	zend_string *topic;
	zend_long partition, offset = 0;

	ZEND_PARSE_PARAMETERS_START(2, 3)
	Z_PARAM_STR(topic)
	Z_PARAM_LONG(partition)
	Z_PARAM_OPTIONAL
	Z_PARAM_LONG(offset)
	ZEND_PARSE_PARAMETERS_END();
	(void)return_value; /* a constructor: clang warns where gcc does not */
	zend_update_property_str(tp_ce, Z_OBJ_P(ZEND_THIS), ZEND_STRL("topic"), topic);
	zend_update_property_long(tp_ce, Z_OBJ_P(ZEND_THIS), ZEND_STRL("partition"), partition);
	zend_update_property_long(tp_ce, Z_OBJ_P(ZEND_THIS), ZEND_STRL("offset"), offset);
}

PHP_METHOD(Funnel_TopicPartition, setOffset)
{
	zend_long offset;

	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_LONG(offset)
	ZEND_PARSE_PARAMETERS_END();
	zend_update_property_long(tp_ce, Z_OBJ_P(ZEND_THIS), ZEND_STRL("offset"), offset);
	RETURN_OBJ_COPY(Z_OBJ_P(ZEND_THIS));
}

PHP_METHOD(Funnel_ConsumerGroupMetadata, __construct)
{
	zend_string *group, *member = NULL, *instance = NULL;
	zend_long generation = -1;
	zend_object *o = Z_OBJ_P(ZEND_THIS);

	ZEND_PARSE_PARAMETERS_START(1, 4)
	Z_PARAM_STR(group)
	Z_PARAM_OPTIONAL
	Z_PARAM_LONG(generation)
	Z_PARAM_STR(member)
	Z_PARAM_STR_OR_NULL(instance)
	ZEND_PARSE_PARAMETERS_END();
	(void)return_value; /* a constructor: clang warns where gcc does not */
	zend_update_property_str(cgm_ce, o, ZEND_STRL("group_id"), group);
	zend_update_property_long(cgm_ce, o, ZEND_STRL("generation_id"), generation);
	if (member)
		zend_update_property_str(cgm_ce, o, ZEND_STRL("member_id"), member);
	else
		zend_update_property_string(cgm_ce, o, ZEND_STRL("member_id"), "");
	if (instance)
		zend_update_property_str(cgm_ce, o, ZEND_STRL("group_instance_id"), instance);
}

/* ------------------------------------------------------------- arginfo, registration */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_txn_timeout, 0, 1, IS_VOID, 0)
ZEND_ARG_TYPE_INFO(0, timeoutMs, IS_LONG, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_txn_none, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_txn_offsets, 0, 3, IS_VOID, 0)
ZEND_ARG_TYPE_INFO(0, offsets, IS_ARRAY, 0)
ZEND_ARG_TYPE_INFO(0, groupMetadata, IS_MIXED, 0)
ZEND_ARG_TYPE_INFO(0, timeoutMs, IS_LONG, 0)
ZEND_END_ARG_INFO()

const zend_function_entry fph_producer_txn_methods[] = {
    PHP_ME(Funnel_Producer, initTransactions, arginfo_txn_timeout, ZEND_ACC_PUBLIC)
        PHP_ME(Funnel_Producer, beginTransaction, arginfo_txn_none, ZEND_ACC_PUBLIC)
            PHP_ME(Funnel_Producer, sendOffsetsToTransaction, arginfo_txn_offsets, ZEND_ACC_PUBLIC)
                PHP_ME(Funnel_Producer, commitTransaction, arginfo_txn_timeout, ZEND_ACC_PUBLIC)
                    PHP_ME(Funnel_Producer, abortTransaction, arginfo_txn_timeout, ZEND_ACC_PUBLIC)
                        PHP_FE_END};

ZEND_BEGIN_ARG_INFO_EX(arginfo_kerr_construct, 0, 0, 6)
ZEND_ARG_TYPE_INFO(0, message, IS_STRING, 0)
ZEND_ARG_TYPE_INFO(0, code, IS_LONG, 0)
ZEND_ARG_TYPE_INFO(0, error_string, IS_STRING, 0)
ZEND_ARG_TYPE_INFO(0, isFatal, _IS_BOOL, 0)
ZEND_ARG_TYPE_INFO(0, isRetriable, _IS_BOOL, 0)
ZEND_ARG_TYPE_INFO(0, transactionRequiresAbort, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ret_string, 0, 0, IS_STRING, 0)
ZEND_END_ARG_INFO()
ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ret_string_null, 0, 0, IS_STRING, 1)
ZEND_END_ARG_INFO()
ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ret_bool, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()
ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ret_long, 0, 0, IS_LONG, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry kerr_methods[] = {
    PHP_ME(Funnel_KafkaErrorException, __construct, arginfo_kerr_construct, ZEND_ACC_PUBLIC)
        PHP_ME(Funnel_KafkaErrorException, getErrorString, arginfo_ret_string, ZEND_ACC_PUBLIC)
            PHP_ME(Funnel_KafkaErrorException, isFatal, arginfo_ret_bool, ZEND_ACC_PUBLIC)
                PHP_ME(Funnel_KafkaErrorException, isRetriable, arginfo_ret_bool, ZEND_ACC_PUBLIC)
                    PHP_ME(Funnel_KafkaErrorException, transactionRequiresAbort, arginfo_ret_bool,
                           ZEND_ACC_PUBLIC) PHP_FE_END};

ZEND_BEGIN_ARG_INFO_EX(arginfo_tp_construct, 0, 0, 2)
ZEND_ARG_TYPE_INFO(0, topic, IS_STRING, 0)
ZEND_ARG_TYPE_INFO(0, partition, IS_LONG, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, offset, IS_LONG, 0, "0")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_OBJ_INFO_EX(arginfo_tp_set_offset, 0, 1, Funnel\\TopicPartition, 0)
ZEND_ARG_TYPE_INFO(0, offset, IS_LONG, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry tp_methods[] = {
    PHP_ME(Funnel_TopicPartition, __construct, arginfo_tp_construct, ZEND_ACC_PUBLIC)
        PHP_ME(Funnel_TopicPartition, getTopic, arginfo_ret_string, ZEND_ACC_PUBLIC)
            PHP_ME(Funnel_TopicPartition, getPartition, arginfo_ret_long, ZEND_ACC_PUBLIC)
                PHP_ME(Funnel_TopicPartition, getOffset, arginfo_ret_long, ZEND_ACC_PUBLIC)
                    PHP_ME(Funnel_TopicPartition, setOffset, arginfo_tp_set_offset, ZEND_ACC_PUBLIC)
                        PHP_FE_END};

ZEND_BEGIN_ARG_INFO_EX(arginfo_cgm_construct, 0, 0, 1)
ZEND_ARG_TYPE_INFO(0, groupId, IS_STRING, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, generationId, IS_LONG, 0, "-1")
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, memberId, IS_STRING, 0, "\"\"")
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, groupInstanceId, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

static const zend_function_entry cgm_methods[] = {
    PHP_ME(Funnel_ConsumerGroupMetadata, __construct, arginfo_cgm_construct, ZEND_ACC_PUBLIC)
        PHP_ME(Funnel_ConsumerGroupMetadata, getGroupId, arginfo_ret_string, ZEND_ACC_PUBLIC)
            PHP_ME(Funnel_ConsumerGroupMetadata, getGenerationId, arginfo_ret_long, ZEND_ACC_PUBLIC)
                PHP_ME(Funnel_ConsumerGroupMetadata, getMemberId, arginfo_ret_string,
                       ZEND_ACC_PUBLIC) PHP_ME(Funnel_ConsumerGroupMetadata, getGroupInstanceId,
                                               arginfo_ret_string_null, ZEND_ACC_PUBLIC)
                    PHP_FE_END};

void fph_txn_minit(void)
{
	zend_class_entry ce;

	INIT_NS_CLASS_ENTRY(ce, "Funnel", "KafkaErrorException", kerr_methods);
	kerr_ce = zend_register_internal_class_ex(&ce, fph_exception_ce);
	zend_declare_property_string(kerr_ce, ZEND_STRL("error_string"), "", ZEND_ACC_PRIVATE);
	zend_declare_property_bool(kerr_ce, ZEND_STRL("isFatal"), 0, ZEND_ACC_PRIVATE);
	zend_declare_property_bool(kerr_ce, ZEND_STRL("isRetriable"), 0, ZEND_ACC_PRIVATE);
	zend_declare_property_bool(kerr_ce, ZEND_STRL("transactionRequiresAbort"), 0,
	                           ZEND_ACC_PRIVATE);

	INIT_NS_CLASS_ENTRY(ce, "Funnel", "TopicPartition", tp_methods);
	tp_ce = zend_register_internal_class(&ce);
	zend_declare_property_string(tp_ce, ZEND_STRL("topic"), "", ZEND_ACC_PRIVATE);
	zend_declare_property_long(tp_ce, ZEND_STRL("partition"), 0, ZEND_ACC_PRIVATE);
	zend_declare_property_long(tp_ce, ZEND_STRL("offset"), 0, ZEND_ACC_PRIVATE);

	INIT_NS_CLASS_ENTRY(ce, "Funnel", "ConsumerGroupMetadata", cgm_methods);
	cgm_ce = zend_register_internal_class(&ce);
	zend_declare_property_string(cgm_ce, ZEND_STRL("group_id"), "", ZEND_ACC_PRIVATE);
	zend_declare_property_long(cgm_ce, ZEND_STRL("generation_id"), -1, ZEND_ACC_PRIVATE);
	zend_declare_property_string(cgm_ce, ZEND_STRL("member_id"), "", ZEND_ACC_PRIVATE);
	zend_declare_property_null(cgm_ce, ZEND_STRL("group_instance_id"), ZEND_ACC_PRIVATE);
}
