/* funnelmodule.c - the Python module `funnel`: a producer with the methods of
 * confluent_kafka.Producer over libfunnel (include/funnel.h only).
 *
 *   p = funnel.Producer({"funnel.socket.path": "/run/funnel/funnel.sock"})
 *   p.produce("events", value=b"...", key="user-42", on_delivery=cb)
 *   p.poll(0); p.flush(10)
 *
 * Layout of a Producer:
 * - one libfunnel client, set to max_block_ms = 0 once open (fnl_set_max_block_ms)
 *   so that no libfunnel call blocks while this module holds the GIL; every
 *   wait (ring full, funneld restarting, poll, flush) is a loop here that
 *   releases the GIL around libfunnel calls and honours max.block.ms itself;
 *   fnl_open() and fnl_topic() wait inside libfunnel, without the GIL;
 * - a slot table for the records that need a delivery callback: the callback,
 *   topic, key, value and headers objects of each, held until its report was
 *   dispatched; bounded by queue.buffering.max.messages (grows by doubling up
 *   to it). A record without a callback takes no slot (opaque 0);
 * - a report FIFO: libfunnel's report callback (C, no Python, possibly
 *   without the GIL) appends {opaque, partition, offset, err} to it; Python
 *   callbacks run later, with the GIL, in dispatch(), which pops each entry
 *   and frees its slot before calling the callback (that may poll and
 *   produce again). Each entry holds a slot, so the FIFO never holds more
 *   entries than the table has slots: it is sized with the table and never
 *   grows inside the report callback. Reports of records without a slot are
 *   only counted.
 *
 * Threads: libfunnel wants one thread per client at a time. Calls made with the
 * GIL held (the produce fast path) need nothing more; a call made without it
 * holds `lock` and sets `busy` (both changed only with the GIL held), and the
 * fast path takes the slow path while `busy` is set. The report array and the
 * table's size change only with the GIL held and `busy` clear, or by the
 * thread that set it. Entries are appended by the thread holding the client and
 * popped by dispatch() with the GIL, possibly at the same time (a callback lets
 * another thread in): rep_tail and rep_head have one writer each, rep_n is atomic.
 *
 * fork(): libfunnel gives the child a ring of its own (include/funnel.h). This
 * module's pthread_atfork child handler bumps fork_gen; a Producer whose gen
 * differs drops the slots it inherited (their reports go to the parent) on
 * its next call.
 */
#include "funnelpy.h"
#include "producer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <funnel.h>

#define SLOTS_MAX_DEFAULT 100000
#define SLOTS_FIRST       1024
#define MAX_BLOCK_DEFAULT 60000
#define WAIT_SLICE_MS     100 /* signals (Ctrl-C) are checked this often while waiting */
#define NAP_MS            20

static PyTypeObject ProducerType;
unsigned fork_gen; /* bumped in the child of every fork() */

static void atfork_child(void)
{
	fork_gen++;
}

static int64_t now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(int ms)
{
	struct timespec ts = {0, (long)ms * 1000000};
	nanosleep(&ts, NULL);
}
/* ------------------------------------------------------------------ Producer */

/* libfunnel's report callback: no Python here (the GIL may not be held). */
static void on_report(const struct fnl_report *r, void *ctx)
{
	Producer *p = ctx;

	if (r->opaque == 0 || r->opaque > p->cap) {
		p->plain_reported++;
		p->plain_failed += r->err != 0;
		return;
	}
	/* never full: each entry holds a slot, freed only when it is popped. dispatch() may pop
	 * meanwhile in another thread (a callback let this one in): rep_tail is this side's */
	p->rep[p->rep_tail] = (struct rep){
	    .opaque = r->opaque, .offset = r->offset, .partition = r->partition, .err = r->err};
	p->rep_tail = (p->rep_tail + 1) % p->cap;
	/* release: the entry is written before dispatch() (acquire) counts it */
	__atomic_fetch_add(&p->rep_n, 1, __ATOMIC_RELEASE);
}

/* Reports waiting for dispatch(); acquire pairs with on_report's release (the entries
 * counted are written). */
static inline uint32_t rep_count(Producer *p)
{
	return __atomic_load_n(&p->rep_n, __ATOMIC_ACQUIRE);
}

static void slot_clear(struct slot *s)
{
	Py_CLEAR(s->cb);
	Py_CLEAR(s->topic);
	Py_CLEAR(s->key);
	Py_CLEAR(s->value);
	Py_CLEAR(s->headers);
}

/* In a child after fork(): the inherited slots belong to the parent's records. */
void after_fork(Producer *p)
{
	uint32_t i;

	p->nfree = 0;
	for (i = p->cap; i-- > 0;) {
		slot_clear(&p->slots[i]);
		p->free_stack[p->nfree++] = i;
	}
	p->rep_head = p->rep_tail = p->rep_n = 0;
	p->busy = p->dispatching = p->waiters = 0;
	p->lock = PyThread_allocate_lock(); /* the old one may have been held by a thread */
	p->gen = fork_gen;
}

void client_acquire(Producer *p)
{
	if (!PyThread_acquire_lock(p->lock, NOWAIT_LOCK)) {
		p->waiters++; /* with the GIL: close() must not free the client meanwhile */
		Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(p->lock, WAIT_LOCK);
		Py_END_ALLOW_THREADS p->waiters--;
	}
	p->busy = 1;
}

void client_release(Producer *p)
{
	p->busy = 0;
	PyThread_release_lock(p->lock);
}

/* Table and report array grow together (with the GIL, client held). */
static int slots_grow(Producer *p)
{
	uint32_t ncap = p->cap ? p->cap * 2 : SLOTS_FIRST, i;

	if (ncap > p->max)
		ncap = p->max;
	if (ncap <= p->cap)
		return 0;
	struct slot *s = PyMem_Realloc(p->slots, ncap * sizeof(*s));
	if (!s)
		return -1;
	p->slots = s;
	uint32_t *fs = PyMem_Realloc(p->free_stack, ncap * sizeof(*fs));
	if (!fs)
		return -1;
	p->free_stack = fs;
	struct rep *r = PyMem_Malloc(ncap * sizeof(*r));
	if (!r)
		return -1;
	for (i = 0; i < p->rep_n; i++) /* the FIFO, from its head, to the front */
		r[i] = p->rep[(p->rep_head + i) % p->cap];
	PyMem_Free(p->rep);
	p->rep = r;
	p->rep_head = 0;
	p->rep_tail = p->rep_n % ncap;
	memset(&s[p->cap], 0, (ncap - p->cap) * sizeof(*s));
	for (i = ncap; i-- > p->cap;)
		p->free_stack[p->nfree++] = i;
	p->cap = ncap;
	return 1;
}

/* Calls the callbacks of the reports served so far. -1 with the first
 * exception a callback raised (the others are printed as unraisable). */
int dispatch(Producer *p, long *served)
{
	PyObject *et = NULL, *ev = NULL, *tb = NULL;

	if (p->busy || p->dispatching)
		return 0;
	p->dispatching = 1;
	p->dispatcher = PyThread_get_thread_ident();
	while (rep_count(p) > 0) {
		struct rep e = p->rep[p->rep_head];
		uint32_t idx = (uint32_t)(e.opaque - 1);

		/* popped before the callback, which may serve reports again */
		p->rep_head = (p->rep_head + 1) % p->cap;
		/* relaxed: the entry was read above; on_report only counts up */
		__atomic_fetch_sub(&p->rep_n, 1, __ATOMIC_RELAXED);
		struct slot *s = &p->slots[idx];
		PyObject *cb = s->cb, *res;
		Message *m;

		if (!cb)
			continue; /* not ours (cannot happen: opaques are checked) */
		m = PyObject_New(Message, &MessageType);
		if (!m) {
			s->cb = NULL; /* its reference is cb's now */
			slot_clear(s);
			p->free_stack[p->nfree++] = idx;
			goto exc;
		}
		m->topic = s->topic;
		m->key = s->key;
		m->value = s->value;
		m->headers = s->headers;
		m->partition = e.partition;
		m->offset = e.offset;
		m->timestamp = s->timestamp;
		m->error = e.err ? kafka_error_new(e.err, NULL) : NULL;
		s->cb = s->topic = s->key = s->value = s->headers = NULL; /* moved */
		p->free_stack[p->nfree++] = idx;
		if (served)
			(*served)++;
		res = PyObject_CallFunctionObjArgs(cb, m->error ? m->error : Py_None, (PyObject *)m,
		                                   NULL);
		Py_DECREF(m);
		if (res) {
			Py_DECREF(res);
			Py_DECREF(cb);
			continue;
		}
	exc:
		if (!et)
			PyErr_Fetch(&et, &ev, &tb);
		else
			PyErr_WriteUnraisable(cb);
		Py_DECREF(cb); /* after it was named: the slot may have held the only reference */
	}
	p->dispatching = 0;
	if (et) {
		PyErr_Restore(et, ev, tb);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ configuration */

static const char *const daemon_keys[] = {"acks",
                                          "linger.ms",
                                          "queue.buffering.max.ms",
                                          "batch.size",
                                          "batch.num.messages",
                                          "buffer.memory",
                                          "compression.type",
                                          "compression.codec",
                                          "compression.level",
                                          "compression.zstd.level",
                                          "enable.idempotence",
                                          "retries",
                                          "message.send.max.retries",
                                          "retry.backoff.ms",
                                          "delivery.timeout.ms",
                                          "message.timeout.ms",
                                          "request.timeout.ms",
                                          "max.in.flight.requests.per.connection",
                                          "max.in.flight",
                                          "max.request.size",
                                          "message.max.bytes",
                                          "metadata.max.age.ms",
                                          "security.protocol",
                                          "sasl.mechanism",
                                          "sasl.mechanisms",
                                          "sasl.username",
                                          "sasl.password",
                                          "transactional.id",
                                          "partitioner",
                                          NULL};

static int conf_int(PyObject *key, PyObject *v, long lo, long hi, long *out)
{
	long x;

	if (PyLong_Check(v)) {
		x = PyLong_AsLong(v);
	} else if (PyUnicode_Check(v)) {
		PyObject *n = PyLong_FromUnicodeObject(v, 10);
		if (!n) {
			PyErr_Clear();
			raise_kafka(ERR__INVALID_ARG, "configuration %s: \"%s\" is not an integer",
			            PyUnicode_AsUTF8(key), PyUnicode_AsUTF8(v));
			return -1;
		}
		x = PyLong_AsLong(n);
		Py_DECREF(n);
	} else {
		raise_kafka(ERR__INVALID_ARG, "configuration %s: an int or str is needed, not %s",
		            PyUnicode_AsUTF8(key), Py_TYPE(v)->tp_name);
		return -1;
	}
	if (x == -1 && PyErr_Occurred())
		return -1;
	if (x < lo || x > hi) {
		raise_kafka(ERR__INVALID_ARG, "configuration %s=%ld is out of range %ld..%ld",
		            PyUnicode_AsUTF8(key), x, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

static int conf_apply(Producer *p, PyObject *key, PyObject *v)
{
	const char *k;
	long x;

	if (!PyUnicode_Check(key)) {
		PyErr_SetString(PyExc_TypeError, "configuration keys must be str");
		return -1;
	}
	k = PyUnicode_AsUTF8(key);
	if (!k)
		return -1;
	if (strcmp(k, "funnel.socket.path") == 0) {
		const char *s = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
		if (!s) {
			raise_kafka(ERR__INVALID_ARG,
			            "configuration funnel.socket.path must be a str");
			return -1;
		}
		PyMem_Free(p->socket_path);
		p->socket_path = PyMem_Malloc(strlen(s) + 1);
		if (!p->socket_path)
			return -1;
		strcpy(p->socket_path, s);
		return 0;
	}
	if (strcmp(k, "max.block.ms") == 0) {
		if (conf_int(key, v, 0, INT32_MAX, &x) < 0)
			return -1;
		p->max_block_ms = (int)x;
		return 0;
	}
	if (strcmp(k, "funnel.ring.bytes") == 0) {
		if (conf_int(key, v, 0, 1L << 32, &x) < 0)
			return -1;
		p->ring_bytes = (size_t)x;
		return 0;
	}
	if (strcmp(k, "queue.buffering.max.messages") == 0) {
		if (conf_int(key, v, 1, 1L << 24, &x) < 0)
			return -1;
		p->max = (uint32_t)x;
		return 0;
	}
	if (strcmp(k, "on_delivery") == 0 || strcmp(k, "delivery.report.cb") == 0) {
		if (v != Py_None && !PyCallable_Check(v)) {
			raise_kafka(ERR__INVALID_ARG, "configuration %s must be callable", k);
			return -1;
		}
		Py_XSETREF(p->on_delivery, v == Py_None ? NULL : Py_NewRef(v));
		return 0;
	}
	if (strcmp(k, "bootstrap.servers") == 0 || strcmp(k, "client.id") == 0)
		return 0; /* funneld's own settings decide; accepted so code ports unchanged */
	for (int i = 0; daemon_keys[i]; i++) {
		if (strcmp(k, daemon_keys[i]) == 0) {
			raise_kafka(
			    ERR__INVALID_ARG,
			    "configuration %s is a setting of funneld (funnel.properties), not "
			    "of funnel.Producer: funneld produces for every client",
			    k);
			return -1;
		}
	}
	raise_kafka(ERR__INVALID_ARG,
	            "unknown configuration key %s (funnel.Producer takes funnel.socket.path, "
	            "max.block.ms, funnel.ring.bytes, queue.buffering.max.messages, on_delivery; "
	            "bootstrap.servers and client.id are accepted and ignored)",
	            k);
	return -1;
}

static PyObject *Producer_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	Producer *p = (Producer *)type->tp_alloc(type, 0);

	(void)args, (void)kw;
	if (!p)
		return NULL;
	p->max_block_ms = MAX_BLOCK_DEFAULT;
	p->max = SLOTS_MAX_DEFAULT;
	p->gen = fork_gen;
	p->lock = PyThread_allocate_lock();
	p->topics = PyDict_New();
	p->counted = PyDict_New();
	if (!p->lock || !p->topics || !p->counted) {
		Py_DECREF(p);
		return PyErr_NoMemory();
	}
	return (PyObject *)p;
}

static int is_absent(int rc)
{
	return rc == -ENOENT || rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EPIPE ||
	       rc == -ESHUTDOWN;
}

static int Producer_init(Producer *p, PyObject *args, PyObject *kw)
{
	PyObject *config = NULL, *k, *v;
	Py_ssize_t pos = 0;
	struct fnl_conf conf;
	int rc;

	if (p->c) {
		PyErr_SetString(PyExc_RuntimeError, "Producer is already initialised");
		return -1;
	}
	/* Producer(config=None, **settings): the other keywords are settings (below) */
	if (!PyArg_UnpackTuple(args, "Producer", 0, 1, &config))
		return -1;
	if (kw && (v = PyDict_GetItemString(kw, "config"))) {
		if (config) {
			PyErr_SetString(PyExc_TypeError,
			                "Producer() got multiple values for 'config'");
			return -1;
		}
		config = v;
	}
	if (config && config != Py_None) {
		if (!PyDict_Check(config)) {
			PyErr_SetString(PyExc_TypeError, "Producer config must be a dict");
			return -1;
		}
		while (PyDict_Next(config, &pos, &k, &v))
			if (conf_apply(p, k, v) < 0)
				return -1;
	}
	if (kw) { /* confluent_kafka also takes settings as keyword arguments */
		pos = 0;
		while (PyDict_Next(kw, &pos, &k, &v))
			if (PyUnicode_CompareWithASCIIString(k, "config") != 0 &&
			    conf_apply(p, k, v) < 0)
				return -1;
	}
	fnl_conf_init(&conf);
	conf.socket_path = p->socket_path;
	if (p->ring_bytes)
		conf.ring_bytes = p->ring_bytes;
	conf.max_block_ms = p->max_block_ms; /* fnl_open() waits without the GIL */
	conf.on_report = on_report;
	conf.ctx = p;
	Py_BEGIN_ALLOW_THREADS rc = fnl_open(&conf, &p->c);
	/* from now on libfunnel never blocks (fnl_produce() runs with the GIL):
	 * the waits are this module's loops, without the GIL */
	if (rc >= 0)
		fnl_set_max_block_ms(p->c, 0);
	Py_END_ALLOW_THREADS if (rc < 0)
	{
		char what[300];
		const char *path = p->socket_path ? p->socket_path : getenv("FUNNEL_SOCKET");
		snprintf(what, sizeof(what), "cannot attach to funneld at %s (max.block.ms=%d)",
		         path && *path ? path : "/run/funnel/funnel.sock", p->max_block_ms);
		p->c = NULL;
		raise_errno(rc, what, p->max_block_ms);
		return -1;
	}
	return 0;
}

static void Producer_dealloc(Producer *p)
{
	if (p->c)
		fnl_close(p->c); /* like confluent_kafka: no flush (what is queued is still sent) */
	for (uint32_t i = 0; i < p->cap; i++)
		slot_clear(&p->slots[i]);
	PyMem_Free(p->slots);
	PyMem_Free(p->free_stack);
	PyMem_Free(p->rep);
	PyMem_Free(p->socket_path);
	Py_XDECREF(p->on_delivery);
	Py_XDECREF(p->topics);
	Py_XDECREF(p->counted);
	Py_XDECREF(p->last_topic);
	if (p->lock)
		PyThread_free_lock(p->lock);
	Py_TYPE(p)->tp_free((PyObject *)p);
}

int check_open(Producer *p)
{
	if (p->c)
		return 0;
	PyErr_SetString(PyExc_RuntimeError, "Producer is closed or was not initialised");
	return -1;
}

/* ------------------------------------------------------------------ topics */

static fnl_topic_t *topic_lookup_slow(Producer *p, PyObject *topic)
{
	PyObject *h = PyDict_GetItemWithError(p->topics, topic);
	fnl_topic_t *t = NULL;
	const char *name;
	int rc;

	if (h)
		return PyLong_AsVoidPtr(h);
	if (PyErr_Occurred())
		return NULL;
	name = PyUnicode_AsUTF8(topic);
	if (!name)
		return NULL;
	if (strlen(name) != (size_t)PyUnicode_GET_LENGTH(topic) &&
	    memchr(name, 0, (size_t)PyUnicode_GET_LENGTH(topic))) {
		PyErr_SetString(PyExc_ValueError, "topic name contains a NUL character");
		return NULL;
	}
	client_acquire(p);
	/* a lookup waits up to max.block.ms for funneld (and its metadata) */
	Py_BEGIN_ALLOW_THREADS fnl_set_max_block_ms(p->c, p->max_block_ms);
	rc = fnl_topic(p->c, name, &t);
	fnl_set_max_block_ms(p->c, 0);
	Py_END_ALLOW_THREADS client_release(p);
	if (rc < 0) {
		const char *why = fnl_last_error();
		if (rc == -ENOENT)
			raise_kafka(ERR__UNKNOWN_TOPIC, "topic %s: %s", name,
			            *why ? why : "unknown to funneld");
		else if (rc == -EINVAL)
			raise_kafka(ERR__INVALID_ARG, "topic %s: invalid name (1..248 bytes)",
			            name);
		else
			raise_errno(rc, "topic lookup", p->max_block_ms);
		return NULL;
	}
	h = PyLong_FromVoidPtr(t);
	if (!h || PyDict_SetItem(p->topics, topic, h) < 0) {
		Py_XDECREF(h);
		return NULL;
	}
	Py_DECREF(h);
	return t;
}

static inline fnl_topic_t *topic_lookup(Producer *p, PyObject *topic)
{
	fnl_topic_t *t;

	if (topic == p->last_topic)
		return p->last_handle;
	if (!PyUnicode_Check(topic)) {
		PyErr_Format(PyExc_TypeError, "topic must be a str, not %.100s",
		             Py_TYPE(topic)->tp_name);
		return NULL;
	}
	t = topic_lookup_slow(p, topic);
	if (t) {
		Py_INCREF(topic);
		Py_XSETREF(p->last_topic, topic);
		p->last_handle = t;
	}
	return t;
}

/* ------------------------------------------------------------------ produce */

struct buf {
	const void *ptr;
	size_t len;
	Py_buffer view;
	bool has_view;
};

/* bytes, str (as UTF-8), any buffer, or None (NULL ptr) */
static int get_buf(PyObject *o, const char *what, struct buf *b)
{
	b->has_view = false;
	if (!o || o == Py_None) {
		b->ptr = NULL;
		b->len = 0;
		return 0;
	}
	if (PyBytes_CheckExact(o)) {
		b->ptr = PyBytes_AS_STRING(o);
		b->len = (size_t)PyBytes_GET_SIZE(o);
		return 0;
	}
	if (PyUnicode_Check(o)) {
		Py_ssize_t n;
		b->ptr = PyUnicode_AsUTF8AndSize(o, &n);
		b->len = (size_t)n;
		return b->ptr ? 0 : -1;
	}
	if (PyObject_CheckBuffer(o)) {
		if (PyObject_GetBuffer(o, &b->view, PyBUF_SIMPLE) < 0)
			return -1;
		b->has_view = true;
		b->ptr = b->view.buf;
		b->len = (size_t)b->view.len;
		return 0;
	}
	PyErr_Format(PyExc_TypeError, "%s must be bytes, str or None, not %.100s", what,
	             Py_TYPE(o)->tp_name);
	return -1;
}

static void put_buf(struct buf *b)
{
	if (b->has_view)
		PyBuffer_Release(&b->view);
}

/* What msg.key()/msg.value() give back: the object if immutable, else a copy of the bytes
 * produced (a bytearray reused for the next record changes). NULL with an error. */
static PyObject *keep_buf(PyObject *o, const struct buf *b)
{
	if (!b->has_view)
		return Py_XNewRef(o); /* bytes, str or None */
	return PyBytes_FromStringAndSize(b->ptr, (Py_ssize_t)b->len);
}

#define HDR_VIEWS 64 /* header values that are neither bytes nor str: at most this many */

#define HDRS_LOCAL 16 /* headers of a record kept on the stack; more take a PyMem block */

/* headers: [(name, value), ...] or {name: value}; names str, values bytes/str/None.
 * The array is the call's own (*hd: local, or a PyMem block when more than HDRS_LOCAL),
 * never the Producer's: a callback that produce()s (while this call waits for room) or
 * another thread would overwrite it while fnl_produce() still has to read it. */
static int get_headers(PyObject *h, struct fnl_header *local, struct fnl_header **hd, int *nh,
                       PyObject **seq_out)
{
	PyObject *seq;
	Py_ssize_t n;

	*nh = 0;
	*seq_out = NULL;
	*hd = local;
	if (!h || h == Py_None)
		return 0;
	/* a snapshot: the caller may change a list or dict while this call waits (its
	 * callbacks run) or before this record's callback reads msg.headers() */
	if (PyDict_Check(h))
		seq = PyDict_Items(h);
	else if (PyList_Check(h))
		seq = PyList_AsTuple(h);
	else if (PyTuple_Check(h))
		seq = Py_NewRef(h);
	else {
		PyErr_Format(PyExc_TypeError,
		             "headers must be a list of (name, value) tuples or a "
		             "dict, not %.100s",
		             Py_TYPE(h)->tp_name);
		return -1;
	}
	if (!seq)
		return -1;
	n = PySequence_Fast_GET_SIZE(seq);
	if (n > UINT16_MAX) {
		Py_DECREF(seq);
		PyErr_SetString(PyExc_ValueError, "more than 65535 headers");
		return -1;
	}
	if (n > HDRS_LOCAL) {
		*hd = PyMem_Malloc((size_t)n * sizeof(**hd));
		if (!*hd) {
			*hd = local;
			Py_DECREF(seq);
			PyErr_NoMemory();
			return -1;
		}
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *t = PySequence_Fast_GET_ITEM(seq, i), *name, *val;
		Py_ssize_t nl, vl = 0;
		const char *ns;

		if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) {
			PyErr_Format(
			    PyExc_TypeError,
			    "each header must be a (name, value) tuple, not %.100s (header %zd)",
			    Py_TYPE(t)->tp_name, i);
			goto fail;
		}
		name = PyTuple_GET_ITEM(t, 0);
		val = PyTuple_GET_ITEM(t, 1);
		if (!PyUnicode_Check(name)) {
			PyErr_Format(PyExc_TypeError, "header name must be a str, not %.100s",
			             Py_TYPE(name)->tp_name);
			goto fail;
		}
		ns = PyUnicode_AsUTF8AndSize(name, &nl);
		if (!ns)
			goto fail;
		if ((Py_ssize_t)strlen(ns) != nl || nl > UINT16_MAX) {
			PyErr_SetString(
			    PyExc_ValueError,
			    "header name contains a NUL character or is over 65535 bytes");
			goto fail;
		}
		(*hd)[i].name = ns;
		if (val == Py_None) {
			(*hd)[i].value = NULL;
			(*hd)[i].value_len = -1;
		} else if (PyBytes_Check(val)) {
			(*hd)[i].value = PyBytes_AS_STRING(val);
			vl = PyBytes_GET_SIZE(val);
			(*hd)[i].value_len = (int32_t)vl;
		} else if (PyUnicode_Check(val)) {
			(*hd)[i].value = PyUnicode_AsUTF8AndSize(val, &vl);
			if (!(*hd)[i].value)
				goto fail;
			(*hd)[i].value_len = (int32_t)vl;
		} else {
			PyErr_Format(PyExc_TypeError,
			             "header %s: value must be bytes, str or None, not %.100s", ns,
			             Py_TYPE(val)->tp_name);
			goto fail;
		}
		if (vl > INT32_MAX) {
			PyErr_SetString(PyExc_ValueError, "header value over 2 GiB");
			goto fail;
		}
	}
	*nh = (int)n;
	*seq_out = seq; /* keeps the tuples (and so the pointers) alive; msg.headers() */
	return 0;
fail:
	Py_DECREF(seq);
	if (*hd != local) {
		PyMem_Free(*hd);
		*hd = local;
	}
	return -1;
}

enum {
	A_TOPIC,
	A_VALUE,
	A_KEY,
	A_PARTITION,
	A_ON_DELIVERY,
	A_TIMESTAMP,
	A_HEADERS,
	A_CALLBACK,
	A_N
};
static PyObject *kw_names[A_N];

static int kw_index(PyObject *k)
{
	for (int i = 0; i < A_N; i++)
		if (k == kw_names[i])
			return i;
	for (int i = 0; i < A_N; i++)
		if (PyUnicode_Compare(k, kw_names[i]) == 0)
			return i;
	return -1;
}

/* A record slot for a callback: waits (GIL released) until one is free. */
static int slot_get(Producer *p, uint32_t *idx)
{
	if (p->nfree == 0) {
		int64_t deadline = now_ms(CLOCK_MONOTONIC) + p->max_block_ms;
		while (p->nfree == 0) {
			int rc = 0;
			client_acquire(p);
			if (p->cap < p->max) {
				rc = slots_grow(p);
				client_release(p);
				if (rc < 0) {
					PyErr_NoMemory();
					return -1;
				}
				continue;
			}
			if (p->in_txn && rep_count(p) == 0 && fnl_outq_len(p->c) == 0) {
				/* every slot is held by the open transaction's records: only its
				 * end frees them (txn.c), so waiting would not help */
				client_release(p);
				PyErr_Format(
				    PyExc_BufferError,
				    "Local: Queue full (queue.buffering.max.messages=%u: the "
				    "open transaction's records with a callback hold them "
				    "until it is committed or aborted)",
				    p->max);
				return -1;
			}
			int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
			if (left > 0) {
				Py_BEGIN_ALLOW_THREADS rc = fnl_poll(
				    p->c, (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS));
				Py_END_ALLOW_THREADS
			}
			client_release(p);
			if (rc == -EPIPE) { /* funneld away: it may come back */
				Py_BEGIN_ALLOW_THREADS nap(NAP_MS);
				Py_END_ALLOW_THREADS
			}
			/* a callback or signal handler may have called close() */
			if (dispatch(p, NULL) < 0 || PyErr_CheckSignals() < 0 || check_open(p) < 0)
				return -1;
			if (p->nfree == 0 && left <= 0) {
				PyErr_Format(
				    PyExc_BufferError,
				    "Local: Queue full (queue.buffering.max.messages=%u records "
				    "with a callback wait for their reports; call poll())",
				    p->max);
				return -1;
			}
		}
	}
	*idx = p->free_stack[--p->nfree];
	return 0;
}

struct rec {
	fnl_topic_t *t;
	int32_t partition;
	struct buf key, value;
	struct fnl_header *h;
	int nh;
	int64_t ts;
	uint64_t opaque;
};

/* The ring is full or funneld is away: serve reports and retry until
 * max.block.ms, the GIL released. */
static int produce_slow(Producer *p, struct rec *r)
{
	int64_t deadline = now_ms(CLOCK_MONOTONIC) + p->max_block_ms;
	int rc;

	for (;;) {
		client_acquire(p);
		Py_BEGIN_ALLOW_THREADS for (;;)
		{
			rc = fnl_produce(p->c, r->t, r->partition, r->key.ptr, r->key.len,
			                 r->value.ptr, r->value.len, r->h, r->nh, r->ts, r->opaque);
			if (rc != -EAGAIN && !is_absent(rc))
				break;
			int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
			if (left <= 0)
				break;
			if (fnl_poll(p->c, (int)(left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS)) < 0)
				nap(NAP_MS); /* funneld away: it may come back */
			if (rep_count(p) * 2 >= p->cap)
				break; /* let callbacks run and free their slots */
		}
		Py_END_ALLOW_THREADS client_release(p);
		if (rc != -EAGAIN && !is_absent(rc))
			return rc;
		if (now_ms(CLOCK_MONOTONIC) >= deadline)
			return rc;
		if (dispatch(p, NULL) < 0 || PyErr_CheckSignals() < 0 || check_open(p) < 0)
			return -EINTR; /* check_open: a callback or signal handler called close() */
	}
}

static PyObject *Producer_produce(Producer *p, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
	PyObject *a[A_N] = {0}, *hseq = NULL, *cb;
	struct fnl_header hbuf[HDRS_LOCAL];
	struct rec r = {.partition = -1, .h = hbuf};
	uint32_t idx = 0;
	bool have_slot = false;
	int rc;

	if (check_open(p) < 0)
		return NULL;
	check_fork(p);
	if (nargs > A_CALLBACK) {
		PyErr_SetString(PyExc_TypeError, "produce() takes at most 7 positional arguments");
		return NULL;
	}
	for (Py_ssize_t i = 0; i < nargs; i++)
		a[i] = args[i];
	if (kwnames) {
		for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
			int k = kw_index(PyTuple_GET_ITEM(kwnames, i));
			if (k < 0) {
				PyErr_Format(PyExc_TypeError,
				             "produce() got an unexpected keyword argument '%U'",
				             PyTuple_GET_ITEM(kwnames, i));
				return NULL;
			}
			if (a[k]) {
				PyErr_Format(PyExc_TypeError,
				             "produce() got multiple values for '%U'", kw_names[k]);
				return NULL;
			}
			a[k] = args[nargs + i];
		}
	}
	if (!a[A_TOPIC]) {
		PyErr_SetString(PyExc_TypeError, "produce() missing required argument 'topic'");
		return NULL;
	}
	bool cb_named = a[A_ON_DELIVERY] && a[A_ON_DELIVERY] != Py_None;
	cb = cb_named ? a[A_ON_DELIVERY] : a[A_CALLBACK];
	if (cb == Py_None)
		cb = NULL;
	if (cb && !PyCallable_Check(cb)) {
		PyErr_Format(PyExc_TypeError, "%s must be callable, not %.100s",
		             cb_named ? "on_delivery" : "callback", Py_TYPE(cb)->tp_name);
		return NULL;
	}
	if (!cb)
		cb = p->on_delivery;
	static const int ints[] = {A_PARTITION, A_TIMESTAMP};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		PyObject *o = a[ints[i]];
		if (o && o != Py_None && !PyIndex_Check(o)) {
			PyErr_Format(PyExc_TypeError, "%U must be an int, not %.100s",
			             kw_names[ints[i]], Py_TYPE(o)->tp_name);
			return NULL;
		}
	}
	if (a[A_PARTITION] && a[A_PARTITION] != Py_None) {
		long v = PyLong_AsLong(a[A_PARTITION]);
		if (v == -1 && PyErr_Occurred())
			return NULL;
		if (v < -1 || v > INT32_MAX) {
			PyErr_Format(PyExc_ValueError,
			             "partition must be -1 (any) or >= 0, not %ld", v);
			return NULL;
		}
		r.partition = (int32_t)v;
	}
	if (a[A_TIMESTAMP] && a[A_TIMESTAMP] != Py_None) {
		long long v = PyLong_AsLongLong(a[A_TIMESTAMP]);
		if (v == -1 && PyErr_Occurred())
			return NULL;
		if (v < 0) {
			PyErr_Format(PyExc_ValueError,
			             "timestamp must be >= 0 (ms; 0 = now), not %lld", v);
			return NULL;
		}
		r.ts = v;
	}
	r.t = topic_lookup(p, a[A_TOPIC]);
	if (!r.t)
		return NULL;
	if (get_buf(a[A_VALUE], "value", &r.value) < 0)
		return NULL;
	if (get_buf(a[A_KEY], "key", &r.key) < 0)
		goto out;
	if (get_headers(a[A_HEADERS], hbuf, &r.h, &r.nh, &hseq) < 0)
		goto out;
	if (cb) { /* transactional too: reported when the transaction ends (txn.c) */
		if (slot_get(p, &idx) < 0)
			goto out;
		have_slot = true;
		if (!r.ts)
			r.ts = now_ms(CLOCK_REALTIME); /* so that msg.timestamp() is the record's */
		struct slot *s = &p->slots[idx];
		s->cb = Py_NewRef(cb);
		s->topic = Py_NewRef(a[A_TOPIC]);
		s->key = keep_buf(a[A_KEY], &r.key);
		s->value = keep_buf(a[A_VALUE], &r.value);
		if (PyErr_Occurred())
			goto out;
		s->headers = Py_XNewRef(hseq); /* the snapshot, not the caller's list */
		s->timestamp = r.ts;
		r.opaque = idx + 1;
	}
	rc = -EAGAIN;
	if (!p->busy)
		rc = fnl_produce(p->c, r.t, r.partition, r.key.ptr, r.key.len, r.value.ptr,
		                 r.value.len, r.h, r.nh, r.ts, r.opaque);
	if (rc == -EAGAIN || is_absent(rc))
		rc = produce_slow(p, &r);
	if (rc == 0) {
		have_slot = false;
	} else if (rc != -EINTR) {
		raise_errno(rc, "produce", p->max_block_ms);
	}
out:
	if (have_slot) {
		slot_clear(&p->slots[idx]);
		p->free_stack[p->nfree++] = idx;
	}
	put_buf(&r.key);
	put_buf(&r.value);
	if (r.h != hbuf)
		PyMem_Free(r.h);
	Py_XDECREF(hseq);
	if (PyErr_Occurred())
		return NULL;
	Py_RETURN_NONE;
}

/* ------------------------------------------------------------ poll, flush */

int timeout_ms(PyObject *o, int64_t *ms)
{
	double t = -1;

	if (o && o != Py_None) {
		t = PyFloat_AsDouble(o);
		if (t == -1.0 && PyErr_Occurred())
			return -1;
	}
	*ms = t < 0 ? -1 : (int64_t)(t * 1000 + 0.5);
	return 0;
}

/* Serves reports for up to ms (-1: until one comes, or until nothing is
 * outstanding when `all`); returns the callbacks and reports served. */
static long serve(Producer *p, int64_t ms, bool all)
{
	int64_t deadline = ms < 0 ? INT64_MAX : now_ms(CLOCK_MONOTONIC) + ms;
	long served = 0;

	for (;;) {
		int64_t left = deadline - now_ms(CLOCK_MONOTONIC);
		int slice = left < WAIT_SLICE_MS ? (int)(left < 0 ? 0 : left) : WAIT_SLICE_MS;
		uint64_t plain = p->plain_reported;
		int rc;

		/* inside a callback (this thread dispatching), the reports behind it are not this
		 * call's to dispatch: the dispatch() running it does after it returns */
		if (all && fnl_outq_len(p->c) == 0 &&
		    (rep_count(p) == 0 ||
		     (p->dispatching && p->dispatcher == PyThread_get_thread_ident())))
			break;
		client_acquire(p);
		Py_BEGIN_ALLOW_THREADS rc = fnl_poll(p->c, slice);
		Py_END_ALLOW_THREADS client_release(p);
		served += (long)(p->plain_reported - plain);
		if (dispatch(p, &served) < 0)
			return -1;
		if (rc < 0 && rc != -EPIPE) {
			raise_errno(rc, "poll", p->max_block_ms);
			return -1;
		}
		if (PyErr_CheckSignals() < 0 || check_open(p) < 0)
			return -1; /* check_open: a callback or signal handler called close() */
		if (rc == -EPIPE && left > NAP_MS) {
			Py_BEGIN_ALLOW_THREADS nap(NAP_MS); /* funneld away: it may come back */
			Py_END_ALLOW_THREADS
		}
		if (rc == -EPIPE && check_open(p) < 0)
			return -1; /* another thread closed it during the nap */
		if ((!all && served > 0) || now_ms(CLOCK_MONOTONIC) >= deadline)
			break;
	}
	return served;
}

static PyObject *Producer_poll(Producer *p, PyObject *args, PyObject *kw)
{
	static char *kwl[] = {"timeout", NULL};
	PyObject *to = NULL;
	int64_t ms;
	long n;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &to) || timeout_ms(to, &ms) < 0 ||
	    check_open(p) < 0)
		return NULL;
	check_fork(p);
	n = serve(p, ms, false);
	return n < 0 ? NULL : PyLong_FromLong(n);
}

static Py_ssize_t Producer_len(Producer *p)
{
	if (!p->c)
		return 0;
	check_fork(p);
	return (Py_ssize_t)fnl_outq_len(p->c) + rep_count(p);
}

static PyObject *Producer_flush(Producer *p, PyObject *args, PyObject *kw)
{
	static char *kwl[] = {"timeout", NULL};
	PyObject *to = NULL;
	int64_t ms;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &to) || timeout_ms(to, &ms) < 0 ||
	    check_open(p) < 0)
		return NULL;
	check_fork(p);
	if (serve(p, ms, true) < 0)
		return NULL;
	return PyLong_FromSsize_t(Producer_len(p));
}

static PyObject *Producer_close(Producer *p, PyObject *unused)
{
	(void)unused;
	if (p->c) {
		check_fork(p); /* a child: busy was a parent's thread, not in this process */
		if (p->busy || p->waiters) {
			PyErr_SetString(PyExc_RuntimeError,
			                "close() while another thread uses the Producer");
			return NULL;
		}
		fnl_close(p->c);
		p->c = NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *Producer_enter(Producer *p, PyObject *unused)
{
	(void)unused;
	return Py_NewRef((PyObject *)p);
}

static PyObject *Producer_exit(Producer *p, PyObject *args)
{
	(void)args;
	if (p->c)
		check_fork(p);
	if (p->c && serve(p, -1, true) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

/* The topic's partition count (fnl_topic_refresh: a round trip, so a topic that
 * grew shows its new count, as confluent_kafka's metadata would; at most once a
 * second per topic, so a caller that asks per record stays cheap, as the Java
 * producer's partitionsFor() reads its cached metadata), or -1 with an
 * exception set. */
#define COUNT_MAX_AGE_S 1.0
static int32_t topic_count(Producer *p, PyObject *topic, fnl_topic_t *t)
{
	struct timespec ts;
	int32_t n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	PyObject *when = PyDict_GetItemWithError(p->counted, topic);
	if (!when && PyErr_Occurred())
		return -1;
	if (when && now - PyFloat_AsDouble(when) < COUNT_MAX_AGE_S)
		return fnl_topic_partitions(t);
	client_acquire(p);
	Py_BEGIN_ALLOW_THREADS fnl_set_max_block_ms(p->c, p->max_block_ms);
	n = fnl_topic_refresh(p->c, t);
	fnl_set_max_block_ms(p->c, 0);
	Py_END_ALLOW_THREADS client_release(p);
	if (n < 0) {
		raise_errno(n, "topic partition count", p->max_block_ms);
		return -1;
	}
	PyObject *f = PyFloat_FromDouble(now);
	if (!f || PyDict_SetItem(p->counted, topic, f) < 0) {
		Py_XDECREF(f);
		return -1;
	}
	Py_DECREF(f);
	return n;
}

static PyObject *Producer_topic_partitions(Producer *p, PyObject *topic)
{
	fnl_topic_t *t;
	int32_t n;

	if (check_open(p) < 0)
		return NULL;
	check_fork(p);
	t = topic_lookup(p, topic);
	if (!t || (n = topic_count(p, topic, t)) < 0)
		return NULL;
	return PyLong_FromLong(n);
}

/* types.SimpleNamespace(**kw); steals kw */
static PyObject *namespace(PyObject *kw)
{
	PyObject *types, *ns = NULL, *args = NULL, *o = NULL;

	if (!kw)
		return NULL;
	types = PyImport_ImportModule("types");
	if (types)
		ns = PyObject_GetAttrString(types, "SimpleNamespace");
	if (ns)
		args = PyTuple_New(0);
	if (args)
		o = PyObject_Call(ns, args, kw);
	Py_XDECREF(args);
	Py_XDECREF(ns);
	Py_XDECREF(types);
	Py_DECREF(kw);
	return o;
}

/* list_topics(topic=None, timeout=-1), shaped like confluent_kafka's
 * ClusterMetadata for the one topic named: funneld tells a client a topic's
 * partition count, not its leaders, replicas, ISRs or the brokers (funneld
 * keeps the cluster connection), so those read -1 / [] / {}. Listing every
 * topic needs that metadata: topic=None raises NotImplementedError. The
 * lookup waits up to max.block.ms (timeout is accepted for the signature). */
static PyObject *Producer_list_topics(Producer *p, PyObject *args, PyObject *kwargs)
{
	static char *kw[] = {"topic", "timeout", NULL};
	PyObject *topic = Py_None, *parts, *topics, *tm;
	double timeout = -1;
	fnl_topic_t *t;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|Od:list_topics", kw, &topic, &timeout))
		return NULL;
	if (topic == Py_None) {
		PyErr_SetString(PyExc_NotImplementedError,
		                "funnel: list_topics() needs a topic: funneld holds the cluster "
		                "metadata and tells a client only the partition count of a topic "
		                "it names");
		return NULL;
	}
	if (!PyUnicode_Check(topic)) {
		PyErr_Format(PyExc_TypeError, "topic must be str, not %.100s", Py_TYPE(topic)->tp_name);
		return NULL;
	}
	if (check_open(p) < 0)
		return NULL;
	check_fork(p);
	t = topic_lookup(p, topic);
	int32_t n;
	if (!t || (n = topic_count(p, topic, t)) < 0)
		return NULL;
	parts = PyDict_New();
	for (int32_t i = 0; parts && i < n; i++) {
		PyObject *id = PyLong_FromLong(i);
		PyObject *pm = namespace(Py_BuildValue("{s:i,s:i,s:[],s:[],s:O}", "id", (int)i,
		                                       "leader", -1, "replicas", "isrs", "error",
		                                       Py_None));
		if (!id || !pm || PyDict_SetItem(parts, id, pm) < 0)
			Py_CLEAR(parts);
		Py_XDECREF(id);
		Py_XDECREF(pm);
	}
	if (!parts)
		return NULL;
	tm = namespace(Py_BuildValue("{s:O,s:N,s:O}", "topic", topic, "partitions", parts, "error",
	                             Py_None));
	if (!tm)
		return NULL;
	topics = Py_BuildValue("{O:N}", topic, tm);
	return namespace(Py_BuildValue("{s:O,s:i,s:{},s:N,s:i,s:O}", "cluster_id", Py_None,
	                               "controller_id", -1, "brokers", "topics", topics,
	                               "orig_broker_id", -1, "orig_broker_name", Py_None));
}

/* purge(): not available. A record is in funneld's hands once produce()
 * returned (the ring is shared memory the daemon reads at any moment), and
 * neither libfunnel nor the ring protocol can withdraw one; raising says so
 * instead of pretending. */
static PyObject *Producer_purge(Producer *p, PyObject *args, PyObject *kwargs)
{
	static char *kw[] = {"in_queue", "in_flight", "blocking", NULL};
	int in_queue = 1, in_flight = 1, blocking = 1;

	(void)p;
	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|ppp:purge", kw, &in_queue, &in_flight,
	                                 &blocking))
		return NULL;
	if (!in_queue && !in_flight)
		Py_RETURN_NONE; /* nothing asked */
	PyErr_SetString(PyExc_NotImplementedError,
	                "funnel: purge() cannot withdraw records: once produce() returned, a "
	                "record is in funneld's ring and will be delivered (or fail with a "
	                "report); libfunnel has no purge");
	return NULL;
}

static PyMethodDef Producer_methods[] = {
    {"produce", (PyCFunction)(void (*)(void))Producer_produce, METH_FASTCALL | METH_KEYWORDS,
     "produce(topic, value=None, key=None, partition=-1, on_delivery=None, timestamp=0, "
     "headers=None)\n\nAppends one record (callback= is another name for on_delivery). "
     "Blocks up to max.block.ms while the ring is full, then raises BufferError."},
    {"poll", (PyCFunction)(void (*)(void))Producer_poll, METH_VARARGS | METH_KEYWORDS,
     "poll(timeout=-1): serves delivery reports (calls on_delivery), waiting up to timeout "
     "seconds for the first; returns how many were served."},
    {"flush", (PyCFunction)(void (*)(void))Producer_flush, METH_VARARGS | METH_KEYWORDS,
     "flush(timeout=-1): serves reports until every record has one or timeout seconds "
     "passed; returns how many records still wait (inside a delivery callback: the "
     "callbacks behind it, which run after it returns)."},
    {"topic_partitions", (PyCFunction)Producer_topic_partitions, METH_O,
     "topic_partitions(topic): partition count funneld knows for the topic."},
    {"list_topics", (PyCFunction)(void (*)(void))Producer_list_topics,
     METH_VARARGS | METH_KEYWORDS,
     "list_topics(topic=None, timeout=-1): ClusterMetadata-shaped namespace for the named "
     "topic: its partitions (leader -1, no replicas/isrs: funneld keeps those); "
     "topic=None raises NotImplementedError."},
    {"purge", (PyCFunction)(void (*)(void))Producer_purge, METH_VARARGS | METH_KEYWORDS,
     "purge(in_queue=True, in_flight=True, blocking=True): raises NotImplementedError "
     "(records in funneld's ring cannot be withdrawn)."},
    {"init_transactions", (PyCFunction)(void (*)(void))Producer_init_transactions,
     METH_VARARGS | METH_KEYWORDS,
     "init_transactions(timeout=None): connects to funneld's transactional producer "
     "(funneld needs transactional.id)."},
    {"begin_transaction", (PyCFunction)Producer_begin_transaction, METH_NOARGS,
     "begin_transaction(): the next records belong to a transaction (their delivery "
     "reports come when it ends)."},
    {"send_offsets_to_transaction", (PyCFunction)(void (*)(void))Producer_send_offsets,
     METH_VARARGS | METH_KEYWORDS,
     "send_offsets_to_transaction(positions, group_metadata, timeout=None): consumer "
     "offsets committed with the transaction."},
    {"commit_transaction", (PyCFunction)(void (*)(void))Producer_commit_transaction,
     METH_VARARGS | METH_KEYWORDS,
     "commit_transaction(timeout=None): KafkaException whose error says retriable(), "
     "txn_requires_abort() or fatal(). Once committed, calls on_delivery for each of the "
     "transaction's records (partition, offset) before it returns."},
    {"abort_transaction", (PyCFunction)(void (*)(void))Producer_abort_transaction,
     METH_VARARGS | METH_KEYWORDS,
     "abort_transaction(timeout=None): discards the transaction; calls on_delivery for each of "
     "its records with KafkaError(120, TRANSACTION_ABORTABLE) (or the error that refused its "
     "commit) before it returns."},
    {"close", (PyCFunction)Producer_close, METH_NOARGS,
     "close(): detaches from funneld without waiting (flush() first). Called from a delivery "
     "callback, the flush(), poll() or produce() that ran the callback raises RuntimeError."},
    {"__enter__", (PyCFunction)Producer_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Producer_exit, METH_VARARGS, "flush() and leave."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Producer_seq = {.sq_length = (lenfunc)Producer_len};

static PyTypeObject ProducerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "funnel.Producer",
    .tp_basicsize = sizeof(Producer),
    .tp_dealloc = (destructor)Producer_dealloc,
    .tp_as_sequence = &Producer_seq,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, /* subclassed as confluent_kafka's */
    .tp_doc = "Producer(config=None, **settings): appends records to funneld's shared-memory "
              "ring, with the methods of confluent_kafka.Producer.\n\nconfig keys: "
              "funnel.socket.path (default $FUNNEL_SOCKET or /run/funnel/funnel.sock), "
              "max.block.ms (60000), funnel.ring.bytes (4 MiB), queue.buffering.max.messages "
              "(100000 records with a callback), on_delivery (also as keyword arguments); "
              "bootstrap.servers and client.id are ignored. May be subclassed.",
    .tp_methods = Producer_methods,
    .tp_init = (initproc)Producer_init,
    .tp_new = Producer_tp_new,
};

/* ------------------------------------------------------------------ module */

static PyObject *mod_version(PyObject *m, PyObject *u)
{
	(void)m, (void)u;
	return Py_BuildValue("(si)", "0.1.0", 0x000100);
}

static PyMethodDef mod_methods[] = {
    {"version", mod_version, METH_NOARGS, "(version string, int) of this module."},
    {"libversion", mod_version, METH_NOARGS, "(version string, int) of libfunnel."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef funnel_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "funnel",
    .m_doc = "funnel: a Kafka producer through the local funneld sidecar, with the "
             "interface of confluent_kafka.Producer.",
    .m_size = -1,
    .m_methods = mod_methods,
};

PyMODINIT_FUNC PyInit_funnel(void)
{
	static const char *const names[A_N] = {"topic",       "value",     "key",     "partition",
	                                       "on_delivery", "timestamp", "headers", "callback"};
	PyObject *m;

	if (PyType_Ready(&KafkaErrorType) < 0 || PyType_Ready(&MessageType) < 0 ||
	    PyType_Ready(&ProducerType) < 0 || add_error_consts() < 0)
		return NULL;
	for (int i = 0; i < A_N; i++) {
		if (!kw_names[i])
			kw_names[i] = PyUnicode_InternFromString(names[i]);
		if (!kw_names[i])
			return NULL;
	}
	static bool registered;
	if (!registered && pthread_atfork(NULL, NULL, atfork_child) == 0)
		registered = true;
	m = PyModule_Create(&funnel_module);
	if (!m)
		return NULL;
	KafkaException = PyErr_NewExceptionWithDoc(
	    "funnel.KafkaException", "Raised with a KafkaError as args[0].", NULL, NULL);
	if (!KafkaException || PyModule_AddObjectRef(m, "KafkaException", KafkaException) < 0 ||
	    PyModule_AddObjectRef(m, "KafkaError", (PyObject *)&KafkaErrorType) < 0 ||
	    PyModule_AddObjectRef(m, "Message", (PyObject *)&MessageType) < 0 ||
	    PyModule_AddObjectRef(m, "Producer", (PyObject *)&ProducerType) < 0 ||
	    PyModule_AddIntConstant(m, "TIMESTAMP_NOT_AVAILABLE", 0) < 0 ||
	    PyModule_AddIntConstant(m, "TIMESTAMP_CREATE_TIME", 1) < 0 ||
	    PyModule_AddIntConstant(m, "TIMESTAMP_LOG_APPEND_TIME", 2) < 0 ||
	    PyModule_AddStringConstant(m, "__version__", "0.1.0") < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
