#!/usr/bin/python3
"""pyreadback.py - read back every record of a topic with Debian's python3-kafka, a consumer
that shares no code with funnel or librdkafka (pure Python: it parses RecordBatch v2 itself,
checks every CRC, and decompresses gzip, snappy, lz4 and zstd with python3-snappy, -lz4 and
-zstandard).

    pyreadback.py BOOTSTRAP TOPIC PARTITIONS [API_VERSION]

Prints the same TSV as readback.sh (one line per record, sorted by partition then offset:
topic partition offset key value headers timestamp_ms, escaped as verify.py does), so
`verify.py check` compares it with what a test produced. API_VERSION is the Kafka release the
client speaks (default 2.1: Fetch v10, which zstd needs; librdkafka's mock only takes 0.11).
Exit status 1 if a partition cannot be read to its end within 30 s (a CRC mismatch raises).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify import esc, esc_headers  # noqa: E402

from kafka import KafkaConsumer, TopicPartition  # noqa: E402


def main():
    if len(sys.argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 2
    boot, topic, nparts = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ver = tuple(int(x) for x in (sys.argv[4] if len(sys.argv) == 5 else "2.1").split("."))
    c = KafkaConsumer(bootstrap_servers=boot.split(","), api_version=ver + (0,) * (3 - len(ver)),
                      group_id=None, enable_auto_commit=False, check_crcs=True,
                      auto_offset_reset="earliest", request_timeout_ms=20000,
                      fetch_max_wait_ms=50)
    parts = [TopicPartition(topic, p) for p in range(nparts)]
    c.assign(parts)
    c.seek_to_beginning(*parts)
    end = c.end_offsets(parts)
    rows = []
    deadline = time.monotonic() + 30
    while any(c.position(tp) < end[tp] for tp in parts):
        if time.monotonic() > deadline:
            left = {tp.partition: (c.position(tp), end[tp]) for tp in parts}
            sys.stderr.write("pyreadback.py: %s not read to its end: %r\n" % (topic, left))
            return 1
        for tp, recs in c.poll(timeout_ms=500).items():
            for r in recs:
                if r.offset < end[tp]:
                    rows.append((r.partition, r.offset, r))
    c.close()
    out = sys.stdout
    for p, off, r in sorted(rows, key=lambda x: (x[0], x[1])):
        hdrs = [(k.encode("utf-8", "surrogateescape"), v) for k, v in (r.headers or [])]
        out.write("\t".join([esc(topic.encode()), str(p), str(off), esc(r.key), esc(r.value),
                             esc_headers(hdrs), str(r.timestamp)]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
