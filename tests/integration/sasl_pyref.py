#!/usr/bin/python3
"""The independent SASL client that proves a rig before funneld is run on it.

    sasl_pyref.py BOOTSTRAP TOPIC PROTOCOL MECHANISM USER PASSWORD [CAFILE] [N]

Debian's python3-kafka (2.0.2: SaslHandshake v0 with bare tokens; its PLAIN
and SCRAM-SHA-256/512 are correct) produces N records (default 200) to
partition 0 of TOPIC with acks=all, then reads the partition back from the
start with a group-less consumer over the same protocol and login, and checks
that the N values it sent are there exactly once, in order. Exit 0 and one
line "ok ..." on success; exit 1 with the reason otherwise (a refused login is
"login refused: ..."). PYREF_CONNECT_MS bounds the first connection
(default 15000). Run with /usr/bin/python3 (Debian's python3-kafka).
"""
import os
import sys
import time


def main():
    if len(sys.argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2
    boot, topic, proto, mech, user, pw = sys.argv[1:7]
    cafile = sys.argv[7] if len(sys.argv) > 7 and sys.argv[7] else None
    n = int(sys.argv[8]) if len(sys.argv) > 8 else 200
    import kafka
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.errors import KafkaError

    sec = dict(bootstrap_servers=boot.split(","), security_protocol=proto,
               sasl_mechanism=mech, sasl_plain_username=user, sasl_plain_password=pw,
               request_timeout_ms=15000,
               api_version_auto_timeout_ms=int(os.environ.get("PYREF_CONNECT_MS", "15000")))
    if cafile:
        sec.update(ssl_cafile=cafile, ssl_check_hostname=True)
    tag = "%s-%d" % (proto, int(time.time() * 1000))
    sent = ["%s-%s-%05d" % (mech, tag, i) for i in range(n)]
    try:
        prod = KafkaProducer(acks="all", retries=5, max_in_flight_requests_per_connection=1,
                             linger_ms=5, **sec)
        futs = [prod.send(topic, value=v.encode(), partition=0) for v in sent]
        prod.flush(30)
        for f in futs:
            f.get(timeout=30)
        prod.close(10)
    except (KafkaError, OSError) as e:
        print("login refused or produce failed: %r" % (e,), file=sys.stderr)
        return 1
    cons = KafkaConsumer(group_id=None, enable_auto_commit=False, consumer_timeout_ms=10000,
                         auto_offset_reset="earliest", **sec)
    tp = TopicPartition(topic, 0)
    cons.assign([tp])
    cons.seek_to_beginning(tp)
    end = cons.end_offsets([tp])[tp]
    got = []
    deadline = time.time() + 30
    while cons.position(tp) < end and time.time() < deadline:
        for recs in cons.poll(timeout_ms=500).values():
            got.extend(r.value.decode() for r in recs)
    cons.close()
    mine = [v for v in got if v.startswith("%s-%s-" % (mech, tag))]
    if mine != sent:
        print("read back %d of %d records (in order: %s)" % (len(mine), n, mine == sorted(mine)),
              file=sys.stderr)
        return 1
    print("ok %s %s: %d records produced and read back in order (kafka-python %s)"
          % (proto, mech, n, kafka.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
