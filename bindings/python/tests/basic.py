"""basic.py SOCKET TOPIC PARTS EXPECT_DIR - funnel.Producer against a running funneld.

Produces records "c=<name> s=<seq>" and writes verify.py expectation lines
(EXPECT_DIR/ex-<name>) for what must be read back; checks the callbacks, the
argument checks, the bounded callback table, the GIL release, and fork().
Exits non-zero (AssertionError) on the first failure.
"""
import gc
import os
import signal
import sys
import threading
import time

import funnel

SOCK, TOPIC, PARTS, EXDIR = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
CONF = {"funnel.socket.path": SOCK, "max.block.ms": 20000}


class Expect:
    def __init__(self, name):
        self.name = name
        self.seq = 0
        self.f = open(os.path.join(EXDIR, "ex-" + name), "w")

    def next(self, key="*", partition="*", headers="*", ts="*"):
        s = self.seq
        self.seq += 1
        self.f.write("%s\t%d\t%s\t%s\t%s\t%s\t%s\n" % (self.name, s, TOPIC, partition, key,
                                                     headers, ts))
        self.f.flush()
        return s, "c=%s s=%d" % (self.name, s)


def expect_raises(exc, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc as e:
        return e
    raise AssertionError("%s(%r, %r) did not raise %s" % (fn.__name__, a, kw, exc.__name__))


def test_records():
    """bytes/str/None values and keys, headers, partitions, timestamps; every
    callback exactly once with the record's fields."""
    got = {}
    default_calls = []

    def cb(err, msg):
        assert err is None, err
        v = msg.value()
        assert v not in got, "callback twice for %r" % v
        got[v] = msg

    p = funnel.Producer(dict(CONF, on_delivery=lambda e, m: default_calls.append((e, m))))
    ex = Expect("basic")
    want = {}
    for i in range(3000):
        s, val = ex.next(key="k%d" % (i % 7)) if i % 3 else ex.next(key="\\N")
        key = None if i % 3 == 0 else ("k%d" % (i % 7) if i % 2 else b"k%d" % (i % 7))
        value = val if i % 2 else val.encode()
        if i % 5 == 0:
            p.produce(TOPIC, value, key, callback=cb)
        else:
            p.produce(TOPIC, value=value, key=key, on_delivery=cb)
        want[val.encode()] = key
        if i % 500 == 0:
            assert len(p) > 0
    # explicit partition, timestamp, headers
    for part in range(PARTS):
        s, val = ex.next(key="hk", partition=str(part), headers="h1=a,h2=\\x00b,h3", ts="1700000000000")
        p.produce(TOPIC, val, "hk", part, cb, 1700000000000,
                  [("h1", b"a"), ("h2", "\x00b"), ("h3", None)])
        want[val.encode()] = "hk"
    # the config's default callback, dict headers
    s, val = ex.next(key="dk", headers="d=1")
    p.produce(TOPIC, val.encode(), key="dk", headers={"d": "1"})
    assert p.flush(30) == 0
    assert len(p) == 0
    assert len(got) == len(want), (len(got), len(want))
    for v, msg in got.items():
        k = want[v]
        assert msg.key() == (k.encode() if isinstance(k, str) else k), (msg.key(), k)
        assert msg.topic() == TOPIC and msg.error() is None
        assert 0 <= msg.partition() < PARTS and msg.offset() >= 0
        assert msg.timestamp()[0] == funnel.TIMESTAMP_CREATE_TIME
        assert abs(msg.timestamp()[1] - time.time() * 1000) < 120000 or \
            msg.timestamp()[1] == 1700000000000
        if msg.key() == b"hk":
            assert msg.timestamp() == (1, 1700000000000)
            assert msg.headers() == [("h1", b"a"), ("h2", b"\x00b"), ("h3", None)], msg.headers()
            assert msg.partition() == int(v.split()[1][2:]) - 3000
    assert len(default_calls) == 1 and default_calls[0][0] is None
    m = default_calls[0][1]
    assert m.headers() == [("d", b"1")] and m.key() == b"dk" and len(m) == len(m.value())
    ex.f.close()
    print("records: %d callbacks, each once, fields as produced" % len(got))
    return p


def test_arguments(p):
    """clear TypeError/ValueError for bad arguments; nothing is produced by them."""
    n = len(p)
    expect_raises(TypeError, p.produce, TOPIC, 123)
    expect_raises(TypeError, p.produce, TOPIC, b"v", 1.5)
    expect_raises(TypeError, p.produce, 5, b"v")
    expect_raises(TypeError, p.produce, TOPIC, b"v", bogus=1)
    expect_raises(TypeError, p.produce)
    expect_raises(TypeError, p.produce, TOPIC, b"v", on_delivery=3)
    expect_raises(ValueError, p.produce, TOPIC, b"v", partition=-2)
    expect_raises(ValueError, p.produce, TOPIC, b"v", timestamp=-1)
    expect_raises(TypeError, p.produce, TOPIC, b"v", headers=[("a", 1)])
    expect_raises(TypeError, p.produce, TOPIC, b"v", headers=[(b"a", b"1")])
    expect_raises(TypeError, p.produce, TOPIC, b"v", headers="a=1")
    expect_raises(ValueError, p.produce, TOPIC, b"v", headers=[("a\x00b", b"1")])
    expect_raises(UnicodeEncodeError, p.produce, TOPIC, "\udc80")
    e = expect_raises(TypeError, p.produce, TOPIC, value=[1])
    assert "value must be bytes, str or None, not list" in str(e), str(e)
    # each error names the argument and the type given
    for kw, text in (({"partition": "1"}, "partition must be an int, not str"),
                     ({"timestamp": 1.5}, "timestamp must be an int, not float"),
                     ({"callback": 3}, "callback must be callable, not int"),
                     ({"on_delivery": 3}, "on_delivery must be callable, not int"),
                     ({"headers": [["a", b"1"]]}, "tuple, not list (header 0)")):
        e = expect_raises(TypeError, p.produce, TOPIC, b"v", **kw)
        assert text in str(e), (kw, str(e))
    e = expect_raises(funnel.KafkaException, p.produce, TOPIC, b"x" * (8 << 20))
    assert e.args[0].code() == funnel.KafkaError.MSG_SIZE_TOO_LARGE, e
    assert len(p) == n
    e = expect_raises(funnel.KafkaException, funnel.Producer, {"no.such.key": 1})
    assert "no.such.key" in str(e) and e.args[0].code() == funnel.KafkaError._INVALID_ARG
    e = expect_raises(funnel.KafkaException, funnel.Producer, {"linger.ms": 5})
    assert "linger.ms" in str(e) and "funneld" in str(e)
    e = expect_raises(funnel.KafkaException, funnel.Producer, {"max.block.ms": "x"})
    assert "max.block.ms" in str(e)
    e = expect_raises(funnel.KafkaException, funnel.Producer,
                      {"funnel.socket.path": SOCK + ".none", "max.block.ms": 200})
    assert e.args[0].code() == funnel.KafkaError._TRANSPORT and ".none" in str(e), str(e)
    funnel.Producer({"funnel.socket.path": SOCK, "bootstrap.servers": "ignored:9092",
                     "client.id": "x"}).flush(1)
    # settings as keyword arguments too, as confluent_kafka.Producer(config, **kwargs)
    kcalls = []
    kp = funnel.Producer({"funnel.socket.path": SOCK}, on_delivery=lambda e, m: kcalls.append(e))
    kex = Expect("kwconf")
    s, val = kex.next()
    kex.f.close()
    kp.produce(TOPIC, val)
    assert kp.flush(30) == 0 and kcalls == [None], kcalls
    funnel.Producer(**{"funnel.socket.path": SOCK, "max.block.ms": 1000}).flush(1)
    funnel.Producer(config={"funnel.socket.path": SOCK}).flush(1)
    e = expect_raises(funnel.KafkaException, funnel.Producer, {"funnel.socket.path": SOCK},
                      linger_ms=5)
    assert "linger_ms" in str(e), str(e)
    expect_raises(TypeError, funnel.Producer, {}, {})
    # a subclass, as confluent_kafka's SerializingProducer is one of its Producer

    class Sub(funnel.Producer):
        def __init__(self, conf):
            super().__init__(conf)
            self.sent = []

        def send(self, v):
            self.produce(TOPIC, v, on_delivery=lambda e, m: self.sent.append(m.value()))

    sp = Sub({"funnel.socket.path": SOCK})
    sex = Expect("subcls")
    s, val = sex.next()
    sex.f.close()
    sp.send(val.encode())
    assert sp.flush(30) == 0 and sp.sent == [val.encode()], sp.sent
    del sp
    err = funnel.KafkaError(3)
    assert err.code() == 3 and err.name() == "UNKNOWN_TOPIC_OR_PARTITION" and err == 3
    assert "UNKNOWN_TOPIC" in err.str() and not err.fatal()
    print("arguments: every bad argument and key raised a clear error")


def test_callback_exception():
    p = funnel.Producer(CONF)
    ex = Expect("cbexc")
    calls = []

    def bad(err, msg):
        calls.append(msg.value())
        raise KeyError("from the callback")

    for _ in range(3):
        s, val = ex.next()
        p.produce(TOPIC, val, on_delivery=bad)
    e = expect_raises(KeyError, p.flush, 30)
    assert "from the callback" in str(e)
    p.flush(30)
    assert len(calls) == 3 and len(p) == 0, (calls, len(p))

    class Handler:
        def bad(self, err, msg):
            calls.append(msg.value())
            raise KeyError("from a bound method")

    # h.bad is a new object each time, held only by its record: the second and
    # third exceptions are printed as unraisable naming it (it was used after
    # being freed: a crash)
    h = Handler()
    for _ in range(3):
        s, val = ex.next()
        p.produce(TOPIC, val, on_delivery=h.bad)
    ex.f.close()
    e = expect_raises(KeyError, p.flush, 30)
    assert "from a bound method" in str(e)
    p.flush(30)
    assert len(calls) == 6 and len(p) == 0, (calls, len(p))
    print("callback exception: raised from flush(), every callback still called once")


def test_bounded_table():
    """queue.buffering.max.messages bounds the records waiting with a callback:
    produce() serves reports to free slots; the objects are freed on report."""
    p = funnel.Producer(dict(CONF, **{"queue.buffering.max.messages": 64}))
    ex = Expect("bounded")
    calls = []
    marker = object()
    cb = lambda err, msg, m=marker: calls.append(err)  # noqa: E731
    base = sys.getrefcount(marker)
    for i in range(5000):
        s, val = ex.next()
        p.produce(TOPIC, val.encode(), on_delivery=cb)
    ex.f.close()
    assert p.flush(30) == 0
    assert len(calls) == 5000 and all(e is None for e in calls)
    gc.collect()
    assert sys.getrefcount(marker) == base
    before = sys.getrefcount(cb)
    p.poll(0)
    assert sys.getrefcount(cb) == before
    print("bounded table: 5000 records with a callback through 64 slots")


def test_reentrant():
    """callbacks that poll() and produce() again, through 64 slots: nothing is
    lost or called twice while reports are served inside a callback."""
    p = funnel.Producer(dict(CONF, **{"queue.buffering.max.messages": 64}))
    ex, ex2 = Expect("reent"), Expect("reent2")
    first, second = [], []

    def again(err, msg):
        second.append(msg.value())

    def cb(err, msg):
        assert err is None
        first.append(msg.value())
        s, val = ex2.next()
        p.produce(TOPIC, val, on_delivery=again)
        p.poll(0)

    for _ in range(500):
        s, val = ex.next()
        p.produce(TOPIC, val, on_delivery=cb)
    for _ in range(100):
        if p.flush(30) == 0 and len(second) == 500:
            break
    ex.f.close()
    ex2.f.close()
    assert len(first) == 500 and len(set(first)) == 500, len(first)
    assert len(second) == 500 and len(set(second)) == 500, len(second)
    print("reentrant: 500 callbacks that produce and poll, 500 more callbacks, each once")


def test_nested_headers():
    """a callback's produce() with headers of its own, run while an outer
    produce() waits for a slot (1 slot): each record keeps its own headers
    (the outer records were sent with the inner one's, read after it was freed)."""
    p = funnel.Producer(dict(CONF, **{"queue.buffering.max.messages": 1}))
    ex, ex2 = Expect("nesthdr"), Expect("nesthdr2")

    def cb(err, msg):
        assert err is None, err
        s, val = ex2.next(headers="in=i%d" % ex2.seq)
        p.produce(TOPIC, val, headers=[("in", ("i%d" % s).encode())])

    for i in range(20):
        s, val = ex.next(headers="out=o%d" % i)
        p.produce(TOPIC, val, on_delivery=cb, headers={"out": "o%d" % i})
    many = [("x%d" % j, b"%d" % j) for j in range(40)]  # more than fit on produce()'s stack
    s, val = ex.next(headers=",".join("x%d=%d" % (j, j) for j in range(40)))
    p.produce(TOPIC, val, on_delivery=cb, headers=many)
    assert p.flush(30) == 0
    ex.f.close()
    ex2.f.close()
    print("nested headers: 21 records with headers, each waiting for the slot that a "
          "callback producing with other headers frees")


def test_headers_snapshot():
    """msg.headers() in the callback are the record's, though the list given
    to produce() was changed since (they were read from it at callback time)."""
    p = funnel.Producer(CONF)
    ex = Expect("hsnap")
    seen = []
    hdrs = [("i", b"0")]
    for i in range(3):
        hdrs[0] = ("i", b"%d" % i)
        s, val = ex.next(headers="i=%d" % i)
        p.produce(TOPIC, val, headers=hdrs, on_delivery=lambda e, m: seen.append(m.headers()))
    ex.f.close()
    hdrs.append("not a tuple")
    assert p.flush(30) == 0
    assert seen == [[("i", b"0")], [("i", b"1")], [("i", b"2")]], seen
    # a buffer reused for the next record: msg.key() and msg.value() are this one's
    ex = Expect("bsnap")
    buf, kbuf, got = bytearray(), bytearray(b"k0"), []
    for i in range(3):
        s, val = ex.next(key="k%d" % i)
        buf[:] = val.encode()
        kbuf[1:] = b"%d" % i
        p.produce(TOPIC, memoryview(buf), kbuf, on_delivery=lambda e, m: got.append(m))
    ex.f.close()
    buf[:] = b"X" * len(buf)
    assert p.flush(30) == 0
    assert [(m.key(), m.value()) for m in got] == \
        [(b"k%d" % i, b"c=bsnap s=%d" % i) for i in range(3)], [(m.key(), m.value()) for m in got]
    print("headers: each callback's msg.headers() as produced, the list changed since")


def test_close_in_callback():
    """close() inside a callback that flush() runs: flush() raises RuntimeError
    (it went on with the freed client: a crash)."""
    p = funnel.Producer(CONF)
    ex = Expect("closecb")
    for _ in range(2):
        s, val = ex.next()
        p.produce(TOPIC, val, on_delivery=lambda e, m: p.close())
    ex.f.close()
    e = expect_raises(RuntimeError, p.flush, 30)
    assert "closed" in str(e), str(e)
    expect_raises(RuntimeError, p.produce, TOPIC, b"x")
    assert len(p) == 0
    print("close() in a callback: flush() raises RuntimeError")


def test_close_while_polled():
    """close() from one thread while two others poll(): it raises RuntimeError
    while one of them holds or waits for the client (one that waited went on
    with the freed client: a crash), and closes once they stopped."""
    for _ in range(5):
        p = funnel.Producer(CONF)
        stop = []

        def loop():
            while not stop:
                try:
                    p.poll(0.01)
                except RuntimeError as e:
                    assert "closed" in str(e), str(e)
                    return

        ts = [threading.Thread(target=loop) for _ in range(2)]
        for t in ts:
            t.start()
        time.sleep(0.05)
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            try:
                p.close()
                break
            except RuntimeError as e:
                assert "another thread" in str(e), str(e)
                time.sleep(0)
        stop.append(1)
        for t in ts:
            t.join()
        p.close()
    print("close() while two threads poll: refused or done, never a crash")


def test_flush_in_callback():
    """flush() inside a callback returns once every record has its report: the
    callbacks that wait behind the running one are not its to run (it waited for
    them until its timeout, forever without one)."""
    p = funnel.Producer(CONF)
    ex = Expect("flushcb")
    calls, nested = [], []

    def cb(err, msg):
        calls.append(msg.value())
        if len(calls) == 1:
            t0 = time.monotonic()
            nested.append((p.flush(10), time.monotonic() - t0))

    for _ in range(3):
        s, val = ex.next()
        p.produce(TOPIC, val, on_delivery=cb)
    deadline = time.monotonic() + 30
    while p.poll(0.1) == 0 and time.monotonic() < deadline:
        pass
    assert p.flush(30) == 0 and len(calls) == 3, calls
    n, took = nested[0]
    assert took < 5 and 0 <= n <= 2, nested
    # another thread's flush() still waits while a polling thread runs the callbacks
    slow = []

    def slow_cb(err, msg):
        time.sleep(0.2)
        slow.append(msg.value())

    for _ in range(3):
        s, val = ex.next()
        p.produce(TOPIC, val, on_delivery=slow_cb)
    time.sleep(0.5)  # reported by then, waiting for poll()
    t = threading.Thread(target=p.poll, args=(5,))
    t.start()
    time.sleep(0.1)  # t runs the first slow_cb
    assert p.flush(30) == 0
    t.join()
    assert len(slow) == 3, slow
    ex.f.close()
    print("flush() in a callback: returned in %.2f s with %d callbacks still to run" % (took, n))


def test_gil_released():
    """poll() waits without the GIL: another thread runs meanwhile."""
    p = funnel.Producer(CONF)
    stop = False
    count = [0]

    def spin():
        while not stop:
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    c0 = count[0]
    t0 = time.monotonic()
    p.poll(1.0)
    el = time.monotonic() - t0
    c1 = count[0]
    stop = True
    t.join()
    assert 0.9 < el < 5, el
    assert c1 - c0 > 100000, "the other thread ran %d times while poll() waited" % (c1 - c0)
    print("GIL: another thread counted %d while poll(1.0) waited" % (c1 - c0))


def test_threads():
    """produce from 4 threads on one Producer while a 5th polls."""
    p = funnel.Producer(CONF)
    done = []
    exs = [Expect("thr%d" % i) for i in range(4)]

    def work(ex):
        for _ in range(2000):
            s, val = ex.next()
            p.produce(TOPIC, val, on_delivery=lambda e, m: done.append(e))
        ex.f.close()

    ts = [threading.Thread(target=work, args=(ex,)) for ex in exs]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        p.poll(0.01)
    for t in ts:
        t.join()
    assert p.flush(30) == 0
    assert len(done) == 8000 and all(e is None for e in done), len(done)
    print("threads: 4 producing threads and a polling one, 8000 callbacks")


def test_threads_yielding():
    """4 threads producing with callbacks into a small ring, callbacks that let
    another thread in (time.sleep(0)): while one thread's callback runs, another
    serves reports without the GIL into the same report FIFO; every callback
    comes exactly once."""
    p = funnel.Producer(dict(CONF, **{"funnel.ring.bytes": 65536,
                                      "queue.buffering.max.messages": 256}))
    exs = [Expect("yield%d" % i) for i in range(4)]
    got = [[] for _ in exs]

    def work(k):
        def cb(err, msg):
            assert err is None, err
            got[k].append(msg.value())
            if len(got[k]) % 7 == 0:
                time.sleep(0)

        for i in range(3000):
            s, val = exs[k].next()
            p.produce(TOPIC, val + " " + "x" * 200, on_delivery=cb)
            if i % 50 == 0:
                p.poll(0)
        exs[k].f.close()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert p.flush(30) == 0
    for k, g in enumerate(got):
        assert len(g) == 3000 and len(set(g)) == 3000, (k, len(g), len(set(g)))
    print("threads with yielding callbacks: 4 x 3000 callbacks through a 64 KiB ring")


def test_fork():
    """A child forked with records still unreported: it gets only its own
    reports, the parent only its own."""
    p = funnel.Producer(CONF)
    mine = []
    exp = Expect("fparent")
    for _ in range(2000):
        s, val = exp.next()
        p.produce(TOPIC, val, on_delivery=lambda e, m: mine.append(m.value()))
    assert len(p) > 0
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            assert len(p) == 0, "the child sees the parent's records: %d" % len(p)
            mine.clear()
            exc = Expect("fchild")
            for _ in range(3000):
                s, val = exc.next()
                p.produce(TOPIC, val, on_delivery=lambda e, m: mine.append(m.value()))
            exc.f.close()
            assert p.flush(30) == 0
            assert len(mine) == 3000 and all(v.startswith(b"c=fchild ") for v in mine)
            assert len(set(mine)) == 3000
            code = 0
        finally:
            os._exit(code)
    for _ in range(2000):
        s, val = exp.next()
        p.produce(TOPIC, val, on_delivery=lambda e, m: mine.append(m.value()))
    exp.f.close()
    assert p.flush(30) == 0
    _, st = os.waitpid(pid, 0)
    assert st == 0, "child failed: %d" % st
    assert len(mine) == 4000 and len(set(mine)) == 4000
    assert all(v.startswith(b"c=fparent ") for v in mine)
    print("fork: parent 4000 and child 3000 reports, each its own, each once")


def test_fork_while_polled():
    """fork() while another thread waits in poll(): that thread is not in the
    child, so the child's close() and with-exit do not wait for it (close()
    raised "another thread uses the Producer")."""
    p = funnel.Producer(CONF)
    t = threading.Thread(target=p.poll, args=(2.0,))
    t.start()
    time.sleep(0.3)  # the thread waits in poll(), the client held
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(20)
            p.__exit__(None, None, None)
            p.close()
            code = 0
        finally:
            os._exit(code)
    t.join()
    _, st = os.waitpid(pid, 0)
    assert st == 0, "child failed: %d" % st
    print("fork while another thread polls: the child closes the Producer")


def test_context_manager():
    ex = Expect("ctx")
    with funnel.Producer(CONF) as p:
        for _ in range(100):
            s, val = ex.next()
            p.produce(TOPIC, val)
    assert len(p) == 0
    ex.f.close()
    print("context manager: flushed on exit")


def test_metadata(p):
    # list_topics(topic): the partitions funneld knows, confluent_kafka's shape
    md = p.list_topics(TOPIC, timeout=5)
    tm = md.topics[TOPIC]
    assert tm.topic == TOPIC and tm.error is None
    assert sorted(tm.partitions) == list(range(PARTS)), tm.partitions
    assert all(pm.id == i and pm.leader == -1 and pm.replicas == [] and pm.isrs == []
               for i, pm in tm.partitions.items())
    assert md.brokers == {} and md.cluster_id is None
    assert p.list_topics(topic=TOPIC).topics[TOPIC].partitions.keys() == tm.partitions.keys()
    expect_raises(NotImplementedError, p.list_topics)
    expect_raises(TypeError, p.list_topics, 5)
    # purge: records in the ring cannot be withdrawn; asking for nothing is fine
    expect_raises(NotImplementedError, p.purge)
    expect_raises(NotImplementedError, p.purge, in_queue=False)
    assert p.purge(in_queue=False, in_flight=False) is None
    print("list_topics: %d partitions; purge: NotImplementedError" % len(tm.partitions))


p = test_records()
test_arguments(p)
test_metadata(p)
test_callback_exception()
test_bounded_table()
test_reentrant()
test_nested_headers()
test_headers_snapshot()
test_close_in_callback()
test_flush_in_callback()
test_close_while_polled()
test_gil_released()
test_threads()
test_threads_yielding()
test_fork()
test_fork_while_polled()
test_context_manager()
print("basic: ok")
