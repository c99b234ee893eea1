/* txn.c - the transaction methods of funnel.Producer, with confluent_kafka's names
 * (init_transactions, begin_transaction, send_offsets_to_transaction, commit_transaction,
 * abort_transaction) over libfunnel's fnl_txn_* (include/funnel.h). Each blocking call runs
 * without the GIL, the client held, as produce's slow path does (funnelmodule.c).
 *
 * Delivery callbacks: a transactional record given on_delivery (or the Producer's default)
 * holds its slot until the transaction ends; libfunnel reports it from fnl_txn_commit() /
 * fnl_txn_abort() (include/funnel.h) and the callbacks run here, before commit_transaction /
 * abort_transaction return (confluent_kafka's flush inside them does the same).
 */
#include "producer.h"

#include <stdint.h>

/* Runs one blocking fnl_txn_* call without the GIL (the client held, as produce_slow). */
#define TXN_CALL(p, rc, call)                                                                      \
	do {                                                                                       \
		client_acquire(p);                                                                 \
		Py_BEGIN_ALLOW_THREADS rc = (call);                                                \
		Py_END_ALLOW_THREADS client_release(p);                                            \
	} while (0)

static PyObject *txn_timeout_call(Producer *p, PyObject *args, PyObject *kw, int which)
{
	static char *kwl[] = {"timeout", NULL};
	static const char *const what[] = {"init_transactions", "commit_transaction",
	                                   "abort_transaction"};
	PyObject *to = NULL;
	int64_t ms;
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &to) || timeout_ms(to, &ms) < 0 ||
	    check_open(p) < 0)
		return NULL;
	check_fork(p);
	int t = ms > INT32_MAX ? INT32_MAX : (int)ms;
	if (which == 0)
		TXN_CALL(p, rc, fnl_txn_init(p->c, t));
	else if (which == 1)
		TXN_CALL(p, rc, fnl_txn_commit(p->c, t));
	else
		TXN_CALL(p, rc, fnl_txn_abort(p->c, t));
	/* the reports libfunnel gave when the transaction ended (committed: partition and
	 * offset; aborted or fatal: an error), as confluent_kafka's commit_transaction and
	 * abort_transaction serve them (they flush) */
	if (rc < 0) {
		/* the error first: a callback may close the Producer (and free its client) */
		PyObject *et, *ev, *tb;
		raise_txn(p->c, rc, what[which]);
		PyErr_Fetch(&et, &ev, &tb);
		if (dispatch(p, NULL) < 0)
			PyErr_WriteUnraisable(NULL); /* the transaction's error wins */
		PyErr_Restore(et, ev, tb);
		return NULL;
	}
	if (which > 0)
		p->in_txn = 0;
	if (dispatch(p, NULL) < 0)
		return NULL;
	Py_RETURN_NONE;
}

PyObject *Producer_init_transactions(Producer *p, PyObject *args, PyObject *kw)
{
	return txn_timeout_call(p, args, kw, 0);
}

PyObject *Producer_commit_transaction(Producer *p, PyObject *args, PyObject *kw)
{
	return txn_timeout_call(p, args, kw, 1);
}

PyObject *Producer_abort_transaction(Producer *p, PyObject *args, PyObject *kw)
{
	return txn_timeout_call(p, args, kw, 2);
}

PyObject *Producer_begin_transaction(Producer *p, PyObject *unused)
{
	(void)unused;
	if (check_open(p) < 0)
		return NULL;
	check_fork(p);
	int rc = fnl_txn_begin(p->c);
	if (rc < 0)
		return raise_txn(p->c, rc, "begin_transaction");
	p->in_txn = 1;
	Py_RETURN_NONE;
}

/* An attribute (or a dict item) as a new reference, or NULL without an error. */
static PyObject *field(PyObject *o, const char *name)
{
	PyObject *v = PyDict_Check(o) ? Py_XNewRef(PyDict_GetItemString(o, name))
	                              : PyObject_GetAttrString(o, name);
	if (!v)
		PyErr_Clear();
	return v;
}

/* send_offsets_to_transaction(positions, group_metadata, timeout=None): positions are
 * TopicPartition-like objects (topic, partition, offset attributes) or (topic, partition,
 * offset) tuples; group_metadata is a group id (str) or an object / dict with group_id and,
 * optionally, generation_id, member_id, group_instance_id (KIP-447). */
PyObject *Producer_send_offsets(Producer *p, PyObject *args, PyObject *kw)
{
	static char *kwl[] = {"positions", "group_metadata", "timeout", NULL};
	PyObject *pos, *gm, *to = NULL, *seq = NULL, *keep = NULL, *ret = NULL;
	struct fnl_txn_offset *offs = NULL;
	const char *group, *member = "", *instance = NULL;
	long generation = -1;
	int64_t ms;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O", kwl, &pos, &gm, &to) ||
	    timeout_ms(to, &ms) < 0 || check_open(p) < 0)
		return NULL;
	keep = PyList_New(0); /* keeps the strings alive until the call */
	seq = PySequence_Fast(pos, "positions must be a sequence");
	if (!keep || !seq)
		goto out;
	if (PyUnicode_Check(gm)) {
		group = PyUnicode_AsUTF8(gm);
	} else {
		PyObject *g = field(gm, "group_id"), *gen = field(gm, "generation_id"),
		         *mem = field(gm, "member_id"), *inst = field(gm, "group_instance_id");
		PyObject *all[] = {g, gen, mem, inst};
		for (int i = 0; i < 4; i++)
			if (all[i])
				PyList_Append(keep, all[i]), Py_DECREF(all[i]);
		group = g && PyUnicode_Check(g) ? PyUnicode_AsUTF8(g) : NULL;
		if (gen && gen != Py_None)
			generation = PyLong_AsLong(gen);
		if (mem && mem != Py_None)
			member = PyUnicode_Check(mem) ? PyUnicode_AsUTF8(mem) : NULL;
		if (inst && inst != Py_None)
			instance = PyUnicode_Check(inst) ? PyUnicode_AsUTF8(inst) : NULL;
		if (!member || (inst && inst != Py_None && !instance))
			group = NULL;
	}
	if (!group || PyErr_Occurred()) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError,
			                "group_metadata must be a group id or have group_id, "
			                "generation_id, member_id, group_instance_id");
		goto out;
	}
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	offs = PyMem_Calloc((size_t)(n ? n : 1), sizeof(*offs));
	if (!offs)
		goto out;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *e = PySequence_Fast_GET_ITEM(seq, i), *t, *pa, *of;
		if (PyTuple_Check(e) && PyTuple_GET_SIZE(e) == 3) {
			t = Py_NewRef(PyTuple_GET_ITEM(e, 0));
			pa = Py_NewRef(PyTuple_GET_ITEM(e, 1));
			of = Py_NewRef(PyTuple_GET_ITEM(e, 2));
		} else {
			t = field(e, "topic");
			pa = field(e, "partition");
			of = field(e, "offset");
		}
		PyObject *all[] = {t, pa, of};
		for (int k = 0; k < 3; k++)
			if (all[k])
				PyList_Append(keep, all[k]), Py_DECREF(all[k]);
		if (!t || !pa || !of || !PyUnicode_Check(t)) {
			PyErr_SetString(PyExc_TypeError,
			                "each position needs topic, partition and offset");
			goto out;
		}
		offs[i].topic = PyUnicode_AsUTF8(t);
		offs[i].partition = (int32_t)PyLong_AsLong(pa);
		offs[i].offset = PyLong_AsLongLong(of);
		if (PyErr_Occurred())
			goto out;
	}
	int rc =
	    fnl_txn_send_offsets(p->c, group, (int32_t)generation, member, instance, offs, (int)n);
	if (rc < 0) {
		raise_txn(p->c, rc, "send_offsets_to_transaction");
		goto out;
	}
	ret = Py_NewRef(Py_None);
out:
	PyMem_Free(offs);
	Py_XDECREF(seq);
	Py_XDECREF(keep);
	return ret;
}
