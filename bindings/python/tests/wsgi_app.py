"""wsgi_app.py - a WSGI app for gunicorn --preload (tests/py_gunicorn.sh).

The Producer is created at import, in gunicorn's master, before the workers
fork. Each request produces one record keyed by the request's `key` parameter,
value "c=<key> s=<n>", where n counts the key's requests across all workers
(one byte appended per request to a file of the key in $FNL_PY_SEQDIR: its
size is the count, and a worker killed at any point leaves it whole), and
answers 200 with the record's name in the X-Rec header once produce()
returned. The load generator sends a key's requests one at a time, so a key's
records form one stream, whichever worker served each."""
import os
import re
from urllib.parse import parse_qs

import funnel

TOPIC = os.environ["FNL_PY_TOPIC"]
SEQDIR = os.environ["FNL_PY_SEQDIR"]
producer = funnel.Producer({"funnel.socket.path": os.environ["FNL_SOCKET"],
                            "max.block.ms": 30000})


def next_seq(key):
    fd = os.open(os.path.join(SEQDIR, key), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x")
        return os.fstat(fd).st_size - 1
    finally:
        os.close(fd)


def application(environ, start_response):
    key = parse_qs(environ.get("QUERY_STRING", "")).get("key", ["none"])[0]
    if not re.fullmatch(r"[a-z0-9]{1,32}", key):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"bad key\n"]
    name = key
    s = next_seq(key)
    producer.produce(TOPIC, "c=%s s=%d" % (name, s), key)
    producer.poll(0)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                              ("X-Rec", "%s %d" % (name, s))])
    return [body]
