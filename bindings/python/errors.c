/* errors.c - funnel.KafkaError, funnel.KafkaException and the mapping of
 * libfunnel's -errno to what confluent_kafka would raise. */
#include "funnelpy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <funnel.h>

PyObject *KafkaException;

typedef struct {
	PyObject_HEAD int code;
	PyObject *reason; /* str or NULL */
	unsigned flags;   /* KE_* (transactions) */
} KafkaError;

#define KE_FATAL     1u
#define KE_RETRIABLE 2u
#define KE_ABORT     4u

static const char *err_name(int code)
{
	switch (code) {
	case ERR__FAIL:
		return "_FAIL";
	case ERR__TRANSPORT:
		return "_TRANSPORT";
	case ERR__MSG_TIMED_OUT:
		return "_MSG_TIMED_OUT";
	case ERR__UNKNOWN_TOPIC:
		return "_UNKNOWN_TOPIC";
	case ERR__INVALID_ARG:
		return "_INVALID_ARG";
	case ERR__TIMED_OUT:
		return "_TIMED_OUT";
	case ERR__STATE:
		return "_STATE";
	case ERR__FATAL:
		return "_FATAL";
	case ERR__QUEUE_FULL:
		return "_QUEUE_FULL";
	default:
		break;
	}
	if (code >= -1 && code <= INT16_MAX)
		return fnl_kafka_err_name((int16_t)code);
	return "UNKNOWN";
}

PyObject *kafka_error_new(int code, PyObject *reason)
{
	KafkaError *e = PyObject_New(KafkaError, &KafkaErrorType);

	if (!e)
		return NULL;
	e->code = code;
	e->flags = 0;
	Py_XINCREF(reason);
	e->reason = reason;
	return (PyObject *)e;
}

static PyObject *KafkaError_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwl[] = {"error", "reason", "fatal", NULL};
	int code, fatal = 0;
	PyObject *reason = NULL;

	(void)type;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "i|Op", kwl, &code, &reason, &fatal))
		return NULL;
	if (reason == Py_None)
		reason = NULL;
	if (reason && !PyUnicode_Check(reason)) {
		PyErr_SetString(PyExc_TypeError, "KafkaError reason must be a str");
		return NULL;
	}
	PyObject *e = kafka_error_new(code, reason);
	if (e && fatal)
		((KafkaError *)e)->flags |= KE_FATAL;
	return e;
}

static void KafkaError_dealloc(KafkaError *e)
{
	Py_XDECREF(e->reason);
	PyObject_Free(e);
}

static PyObject *KafkaError_code(KafkaError *e, PyObject *unused)
{
	(void)unused;
	return PyLong_FromLong(e->code);
}

static PyObject *KafkaError_name(KafkaError *e, PyObject *unused)
{
	(void)unused;
	return PyUnicode_FromString(err_name(e->code));
}

static PyObject *KafkaError_str(KafkaError *e)
{
	if (e->reason) {
		Py_INCREF(e->reason);
		return e->reason;
	}
	if (e->code > 0)
		return PyUnicode_FromFormat("Broker: %s", err_name(e->code));
	return PyUnicode_FromFormat("Local: %s", err_name(e->code));
}

static PyObject *KafkaError_strm(KafkaError *e, PyObject *unused)
{
	(void)unused;
	return KafkaError_str(e);
}

static PyObject *KafkaError_fatal(KafkaError *e, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(e->flags & KE_FATAL);
}

static PyObject *KafkaError_txn_requires_abort(KafkaError *e, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(e->flags & KE_ABORT);
}

static PyObject *KafkaError_retriable(KafkaError *e, PyObject *unused)
{
	(void)unused;
	if (e->flags & KE_RETRIABLE)
		Py_RETURN_TRUE;
	switch (e->code) {
	case ERR__TRANSPORT:
	case ERR__MSG_TIMED_OUT:
	case ERR__TIMED_OUT:
	case ERR__QUEUE_FULL:
	case 5:  /* LEADER_NOT_AVAILABLE */
	case 6:  /* NOT_LEADER_OR_FOLLOWER */
	case 7:  /* REQUEST_TIMED_OUT */
	case 13: /* NETWORK_EXCEPTION */
	case 19: /* NOT_ENOUGH_REPLICAS */
	case 20: /* NOT_ENOUGH_REPLICAS_AFTER_APPEND */
		Py_RETURN_TRUE;
	default:
		Py_RETURN_FALSE;
	}
}

static PyObject *KafkaError_repr(KafkaError *e)
{
	PyObject *s = KafkaError_str(e), *r;

	if (!s)
		return NULL;
	r = PyUnicode_FromFormat("KafkaError{code=%s,val=%d,str=\"%U\"}", err_name(e->code),
	                         e->code, s);
	Py_DECREF(s);
	return r;
}

static PyObject *KafkaError_richcompare(PyObject *a, PyObject *b, int op)
{
	long x, y;

	if (op != Py_EQ && op != Py_NE)
		Py_RETURN_NOTIMPLEMENTED;
	if (PyObject_TypeCheck(a, &KafkaErrorType))
		x = ((KafkaError *)a)->code;
	else if (PyLong_Check(a))
		x = PyLong_AsLong(a);
	else
		Py_RETURN_NOTIMPLEMENTED;
	if (PyObject_TypeCheck(b, &KafkaErrorType))
		y = ((KafkaError *)b)->code;
	else if (PyLong_Check(b))
		y = PyLong_AsLong(b);
	else
		Py_RETURN_NOTIMPLEMENTED;
	return PyBool_FromLong(op == Py_EQ ? x == y : x != y);
}

static Py_hash_t KafkaError_hash(KafkaError *e)
{
	return e->code == -1 ? -2 : e->code;
}

static PyMethodDef KafkaError_methods[] = {
    {"code", (PyCFunction)KafkaError_code, METH_NOARGS, "The error code (int)."},
    {"name", (PyCFunction)KafkaError_name, METH_NOARGS, "The error's name."},
    {"str", (PyCFunction)KafkaError_strm, METH_NOARGS, "A description a person can act on."},
    {"fatal", (PyCFunction)KafkaError_fatal, METH_NOARGS,
     "True when this client's transactional use is over (e.g. funneld was fenced)."},
    {"retriable", (PyCFunction)KafkaError_retriable, METH_NOARGS, "True if trying again may work."},
    {"txn_requires_abort", (PyCFunction)KafkaError_txn_requires_abort, METH_NOARGS,
     "True when the transaction must be aborted (abort_transaction(), then start over)."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject KafkaErrorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "funnel.KafkaError",
    .tp_basicsize = sizeof(KafkaError),
    .tp_dealloc = (destructor)KafkaError_dealloc,
    .tp_repr = (reprfunc)KafkaError_repr,
    .tp_str = (reprfunc)KafkaError_str,
    .tp_hash = (hashfunc)KafkaError_hash,
    .tp_richcompare = KafkaError_richcompare,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "KafkaError(error, reason=None): a Kafka error code (>0: the broker's, <0: local, "
              "as librdkafka numbers them) and its description.",
    .tp_methods = KafkaError_methods,
    .tp_new = KafkaError_tp_new,
};

/* Raises KafkaException(KafkaError(code, text)); returns NULL. */
PyObject *raise_kafka(int code, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	PyObject *reason, *err;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	reason = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
	if (!reason)
		return NULL;
	err = kafka_error_new(code, reason);
	Py_DECREF(reason);
	if (!err)
		return NULL;
	PyErr_SetObject(KafkaException, err);
	Py_DECREF(err);
	return NULL;
}

/* A failed fnl_txn_* call as confluent_kafka raises it: KafkaException(KafkaError) whose
 * retriable() / txn_requires_abort() / fatal() say what to do. */
PyObject *raise_txn(fnl_client_t *c, int rc, const char *what)
{
	int cls = fnl_txn_error_class(c);
	const char *why = fnl_txn_error(c);
	char buf[512];
	int code = cls == FNL_TXN_ERR_FATAL       ? ERR__FATAL
	           : cls == FNL_TXN_ERR_RETRIABLE ? ERR__TIMED_OUT
	           : cls == FNL_TXN_ERR_USAGE     ? ERR__STATE
	                                          : ERR__FAIL;
	snprintf(buf, sizeof(buf), "%s: %s", what, *why ? why : fnl_strerror(rc));
	PyObject *reason = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
	if (!reason)
		return NULL;
	PyObject *err = kafka_error_new(code, reason);
	Py_DECREF(reason);
	if (!err)
		return NULL;
	((KafkaError *)err)->flags = cls == FNL_TXN_ERR_FATAL       ? KE_FATAL
	                             : cls == FNL_TXN_ERR_RETRIABLE ? KE_RETRIABLE
	                             : cls == FNL_TXN_ERR_ABORTABLE ? KE_ABORT
	                                                            : 0;
	PyErr_SetObject(KafkaException, err);
	Py_DECREF(err);
	return NULL;
}

/* A libfunnel -errno as the exception confluent_kafka would raise. */
PyObject *raise_errno(int rc, const char *what, int max_block_ms)
{
	const char *why = fnl_last_error();
	const char *sep = *why ? ": " : "";

	switch (-rc) {
	case EAGAIN:
		PyErr_Format(
		    PyExc_BufferError,
		    "Local: Queue full (%s: funnel ring full for max.block.ms=%d; call poll())",
		    what, max_block_ms);
		return NULL;
	case EMSGSIZE:
		return raise_kafka(ERR_MSG_SIZE_TOO_LARGE,
		                   "%s: record larger than half the ring "
		                   "(raise funnel.ring.bytes)",
		                   what);
	case EINVAL:
		return raise_kafka(ERR__INVALID_ARG, "%s: %s%s%s", what, fnl_strerror(rc), sep,
		                   why);
	case EPIPE:
	case ENOENT:
	case ECONNREFUSED:
	case ECONNRESET:
	case ESHUTDOWN:
		return raise_kafka(ERR__TRANSPORT, "%s: %s%s%s", what, fnl_strerror(rc), sep, why);
	default:
		return raise_kafka(ERR__FAIL, "%s: %s%s%s", what, fnl_strerror(rc), sep, why);
	}
}

int add_error_consts(void)
{
	static const struct {
		const char *name;
		int code;
	} c[] = {
	    {"_FAIL", ERR__FAIL},
	    {"_TRANSPORT", ERR__TRANSPORT},
	    {"_MSG_TIMED_OUT", ERR__MSG_TIMED_OUT},
	    {"_UNKNOWN_TOPIC", ERR__UNKNOWN_TOPIC},
	    {"_INVALID_ARG", ERR__INVALID_ARG},
	    {"_TIMED_OUT", ERR__TIMED_OUT},
	    {"_QUEUE_FULL", ERR__QUEUE_FULL},
	    {"NO_ERROR", 0},
	    {"UNKNOWN_TOPIC_OR_PART", 3},
	    {"LEADER_NOT_AVAILABLE", 5},
	    {"NOT_LEADER_FOR_PARTITION", 6},
	    {"REQUEST_TIMED_OUT", 7},
	    {"MSG_SIZE_TOO_LARGE", 10},
	    {"NETWORK_EXCEPTION", 13},
	    {"TOPIC_AUTHORIZATION_FAILED", 29},
	    {"INVALID_RECORD", 87},
	    {"ILLEGAL_GENERATION", 22},
	    {"UNKNOWN_MEMBER_ID", 25},
	    {"TRANSACTION_ABORTABLE", 120}, /* a transactional record that was not committed */
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		PyObject *v = PyLong_FromLong(c[i].code);
		if (!v || PyDict_SetItemString(KafkaErrorType.tp_dict, c[i].name, v) < 0)
			return -1;
		Py_DECREF(v);
	}
	PyType_Modified(&KafkaErrorType);
	return 0;
}
