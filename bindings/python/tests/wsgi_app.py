"""wsgi_app.py - a WSGI app for gunicorn --preload (tests/py_gunicorn.sh).

The Producer is created at import, in gunicorn's master, before the workers
fork. Each request produces one record keyed by the request's `key` parameter,
value "c=<key>.<pid> s=<n>" (n counts per worker and key), and answers 200
with the record's name in the X-Rec header once produce() returned."""
import os
from urllib.parse import parse_qs

import funnel

TOPIC = os.environ["FNL_PY_TOPIC"]
producer = funnel.Producer({"funnel.socket.path": os.environ["FNL_SOCKET"],
                            "max.block.ms": 30000})
seq = {}


def application(environ, start_response):
    key = parse_qs(environ.get("QUERY_STRING", "")).get("key", ["none"])[0]
    name = "%s.%d" % (key, os.getpid())
    s = seq.get(name, 0)
    seq[name] = s + 1
    producer.produce(TOPIC, "c=%s s=%d" % (name, s), key)
    producer.poll(0)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                              ("X-Rec", "%s %d" % (name, s))])
    return [body]
