"""bench_produce.py - per-call cost of funnel.Producer.produce() against
confluent_kafka.Producer.produce() on the same records, in the same Python loop.

    bench_produce.py --socket SOCK --bootstrap HOST:PORT [--topic T] [--records N]
                     [--value-bytes S] [--keys K] [--chunk C] [--rounds R]

Both producers get the same records (C-record chunks of K keys and S-byte str
values, made before timing). Each chunk is produced by one producer and then
by the other (which one goes first alternates), each timed with
perf_counter_ns around the produce() calls only; poll(0) runs between chunks,
outside the timing, for both. A chunk is small enough that neither blocks:
funnel's ring and confluent_kafka's queue both hold it. Prints ns per
produce() call for each (the median over rounds of each round's mean) and
their ratio; --json writes them too.
"""
import argparse
import json
import statistics
import sys
import time

import confluent_kafka
import funnel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", default="bench")
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--callback", action="store_true", help="pass on_delivery with every record")
    ap.add_argument("--json")
    a = ap.parse_args()

    fp = funnel.Producer({"funnel.socket.path": a.socket, "max.block.ms": 60000,
                          "funnel.ring.bytes": 64 << 20})
    cp = confluent_kafka.Producer({"bootstrap.servers": a.bootstrap, "linger.ms": 5,
                                   "enable.idempotence": True, "acks": "all",
                                   "compression.type": "zstd",
                                   "queue.buffering.max.messages": 2000000,
                                   "queue.buffering.max.kbytes": 1 << 21})
    pad = "x" * a.value_bytes
    recs = [("user-%d" % (i % a.keys), ("c=bench s=%d " % i + pad)[:a.value_bytes])
            for i in range(a.chunk)]
    delivered = [0, 0]
    cbs = [None, None]
    if a.callback:
        def fcb(err, msg):
            delivered[0] += 1

        def ccb(err, msg):
            delivered[1] += 1
        cbs = [fcb, ccb]
    # warm up both (topic lookup, connections, metadata)
    for p, cb in ((fp, cbs[0]), (cp, cbs[1])):
        for k, v in recs[:100]:
            p.produce(a.topic, v, k, on_delivery=cb)
        p.flush(30)

    def timed(p, cb):
        topic = a.topic
        prod = p.produce
        t0 = time.perf_counter_ns()
        if cb is None:
            for k, v in recs:
                prod(topic, v, k)
        else:
            for k, v in recs:
                prod(topic, v, k, on_delivery=cb)
        return time.perf_counter_ns() - t0

    per_round = []
    for r in range(a.rounds):
        ns = [0, 0]
        n = 0
        i = 0
        while n < a.records:
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for which in order:
                p = fp if which == 0 else cp
                ns[which] += timed(p, cbs[which])
            for p in (fp, cp):
                p.poll(0)
                # keep both far from full: neither blocks inside the timing
                while len(p) > 200000:
                    p.poll(0.01)
            n += len(recs)
            i += 1
        fp.flush(60)
        cp.flush(60)
        f, c = ns[0] / n, ns[1] / n
        per_round.append((f, c))
        print("round %d: funnel %.0f ns/produce, confluent_kafka %.0f ns/produce, ratio %.2f"
              % (r + 1, f, c, f / c), flush=True)
    f = statistics.median(x[0] for x in per_round)
    c = statistics.median(x[1] for x in per_round)
    left = (fp.flush(60), cp.flush(60))
    print("median of %d rounds x %d records (%d-byte values, %d keys%s): funnel.Producer.produce "
          "%.0f ns, confluent_kafka.Producer.produce %.0f ns, ratio %.2f"
          % (a.rounds, a.records, a.value_bytes, a.keys, ", on_delivery" if a.callback else "",
             f, c, f / c))
    if left != (0, 0):
        print("records left unflushed: funnel %d, confluent_kafka %d" % left, file=sys.stderr)
        return 1
    if a.json:
        with open(a.json, "w") as out:
            json.dump({"funnel_ns": f, "confluent_ns": c, "ratio": f / c, "rounds": per_round,
                       "records": a.records, "value_bytes": a.value_bytes, "keys": a.keys,
                       "callback": a.callback,
                       "confluent_kafka": confluent_kafka.version()[0],
                       "librdkafka": confluent_kafka.libversion()[0]}, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
