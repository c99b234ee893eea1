/* message.c - funnel.Message: a produced record and its delivery report, as
 * confluent_kafka's Message gives them to on_delivery. key()/value() are the
 * objects given to produce(), converted to bytes when asked for. */
#include "funnelpy.h"

static void Message_dealloc(Message *m)
{
	Py_XDECREF(m->topic);
	Py_XDECREF(m->key);
	Py_XDECREF(m->value);
	Py_XDECREF(m->headers);
	Py_XDECREF(m->error);
	PyObject_Free(m);
}

/* bytes of a key/value/header value as produced (str -> UTF-8), or None */
static PyObject *as_bytes_obj(PyObject *o)
{
	if (!o || o == Py_None)
		Py_RETURN_NONE;
	if (PyBytes_CheckExact(o)) {
		Py_INCREF(o);
		return o;
	}
	if (PyUnicode_Check(o))
		return PyUnicode_AsUTF8String(o);
	return PyBytes_FromObject(o);
}

static PyObject *Message_topic(Message *m, PyObject *u)
{
	(void)u;
	if (!m->topic)
		Py_RETURN_NONE;
	Py_INCREF(m->topic);
	return m->topic;
}

static PyObject *Message_key(Message *m, PyObject *u)
{
	(void)u;
	return as_bytes_obj(m->key);
}

static PyObject *Message_value(Message *m, PyObject *u)
{
	(void)u;
	return as_bytes_obj(m->value);
}

static PyObject *Message_partition(Message *m, PyObject *u)
{
	(void)u;
	return PyLong_FromLong(m->partition);
}

static PyObject *Message_offset(Message *m, PyObject *u)
{
	(void)u;
	return PyLong_FromLongLong(m->offset);
}

static PyObject *Message_timestamp(Message *m, PyObject *u)
{
	(void)u;
	if (m->timestamp <= 0)
		return Py_BuildValue("(iL)", 0, (long long)-1);
	return Py_BuildValue("(iL)", 1, (long long)m->timestamp); /* TIMESTAMP_CREATE_TIME */
}

static PyObject *Message_error(Message *m, PyObject *u)
{
	(void)u;
	if (!m->error)
		Py_RETURN_NONE;
	Py_INCREF(m->error);
	return m->error;
}

/* [(name, bytes or None), ...] as confluent_kafka gives them, or None */
static PyObject *Message_headers(Message *m, PyObject *u)
{
	PyObject *seq, *out, *it;

	(void)u;
	if (!m->headers)
		Py_RETURN_NONE;
	seq = PyDict_Check(m->headers) ? PyDict_Items(m->headers) : PySequence_Fast(m->headers, "");
	if (!seq)
		return NULL;
	out = PyList_New(0);
	for (Py_ssize_t i = 0; out && i < PySequence_Fast_GET_SIZE(seq); i++) {
		PyObject *t = PySequence_Fast_GET_ITEM(seq, i), *v;
		v = as_bytes_obj(PyTuple_GET_ITEM(t, 1));
		it = v ? PyTuple_Pack(2, PyTuple_GET_ITEM(t, 0), v) : NULL;
		Py_XDECREF(v);
		if (!it || PyList_Append(out, it) < 0)
			Py_CLEAR(out);
		Py_XDECREF(it);
	}
	Py_DECREF(seq);
	return out;
}

static Py_ssize_t Message_len(Message *m)
{
	PyObject *v = as_bytes_obj(m->value);
	Py_ssize_t n;

	if (!v)
		return -1;
	n = v == Py_None ? 0 : PyBytes_GET_SIZE(v);
	Py_DECREF(v);
	return n;
}

static PyObject *Message_latency(Message *m, PyObject *u)
{
	(void)m, (void)u;
	Py_RETURN_NONE;
}

static PyMethodDef Message_methods[] = {
    {"topic", (PyCFunction)Message_topic, METH_NOARGS, "The topic (str)."},
    {"partition", (PyCFunction)Message_partition, METH_NOARGS, "The partition, -1 if none."},
    {"offset", (PyCFunction)Message_offset, METH_NOARGS, "The offset, -1 unless delivered."},
    {"key", (PyCFunction)Message_key, METH_NOARGS, "The key as bytes, or None."},
    {"value", (PyCFunction)Message_value, METH_NOARGS, "The value as bytes, or None."},
    {"headers", (PyCFunction)Message_headers, METH_NOARGS, "[(name, bytes), ...] or None."},
    {"timestamp", (PyCFunction)Message_timestamp, METH_NOARGS,
     "(TIMESTAMP_CREATE_TIME, ms) as produced."},
    {"error", (PyCFunction)Message_error, METH_NOARGS, "KafkaError, or None if delivered."},
    {"latency", (PyCFunction)Message_latency, METH_NOARGS, "None (not measured)."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Message_seq = {.sq_length = (lenfunc)Message_len};

PyTypeObject MessageType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "funnel.Message",
    .tp_basicsize = sizeof(Message),
    .tp_dealloc = (destructor)Message_dealloc,
    .tp_as_sequence = &Message_seq,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A produced record and its delivery report (passed to on_delivery).",
    .tp_methods = Message_methods,
};
