"""mp.py SOCKET TOPIC EXPECT_DIR - a multiprocessing.Pool (fork) producing
through the Producer its parent created before the pool: workers are recycled
(maxtasksperchild=2); even tasks flush and count their callbacks, odd ones
return without flushing (their records must still arrive). The parent keeps
producing meanwhile. Each stream's expectation file is written before its
records are produced."""
import multiprocessing as mp
import os
import sys

import funnel

SOCK, TOPIC, EXDIR = sys.argv[1], sys.argv[2], sys.argv[3]
TASKS, PER_TASK = 24, 1500
producer = funnel.Producer({"funnel.socket.path": SOCK, "max.block.ms": 30000})


def stream(name, n, cb=None):
    with open(os.path.join(EXDIR, "ex-" + name), "w") as ex:
        for s in range(n):
            ex.write("%s\t%d\t%s\t*\tk%d\t*\t*\n" % (name, s, TOPIC, s % 5))
        ex.flush()
        for s in range(n):
            producer.produce(TOPIC, "c=%s s=%d" % (name, s), "k%d" % (s % 5), on_delivery=cb)
            if s % 200 == 0:
                producer.poll(0)


def task(i):
    got = []
    cb = (lambda err, msg: got.append((err, msg.value()))) if i % 2 == 0 else None
    stream("mp%d" % i, PER_TASK, cb)
    if i % 2:
        return (os.getpid(), -1)  # no flush: the worker may exit with records in its ring
    left = producer.flush(60)
    assert left == 0, left
    assert all(e is None for e, _ in got), got[:3]
    vals = [v for _, v in got]
    assert len(vals) == PER_TASK and len(set(vals)) == PER_TASK
    assert all(v.startswith(b"c=mp%d " % i) for v in vals), "a report of another process"
    return (os.getpid(), len(vals))


if __name__ == "__main__":
    stream("parent0", 2000)  # unreported records in the ring when the workers fork
    ctx = mp.get_context("fork")
    with ctx.Pool(4, maxtasksperchild=2) as pool:
        res = pool.map_async(task, range(TASKS), chunksize=1)
        stream("parent1", 3000)
        out = res.get(300)
        pool.close()
        pool.join()
    assert producer.flush(60) == 0
    pids = {pid for pid, _ in out}
    print("multiprocessing: %d tasks in %d worker processes, %d flushed with every callback "
          "once; the parent produced 5000" % (TASKS, len(pids), sum(1 for _, n in out if n > 0)))
    assert len(pids) >= TASKS // 2, "workers were not recycled"
