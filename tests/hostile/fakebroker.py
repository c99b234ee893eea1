#!/usr/bin/env python3
"""fakebroker.py - a scripted, single-node Kafka peer that misbehaves on Produce.

    fakebroker.py --mode MODE [--bad N] [--md MODE [--md-after K]] [--store FILE]
                  [--portfile FILE] [--log FILE]

Listens on 127.0.0.1 (an ephemeral port), prints "BOOTSTRAP 127.0.0.1:PORT" on
stdout (and writes it to --portfile via rename), then serves until SIGTERM.

Answers, on every connection:
  ApiVersions v0-v2 (a v3+ request gets UNSUPPORTED_VERSION and a v0 body):
      Produce 3..7, Metadata 1..2, ApiVersions 0..2, InitProducerId 0..4
  Metadata v1-v2: itself (node 1) as the only broker and controller; every topic
      asked about exists with one partition (0) led by node 1
  InitProducerId v0-v4: producer id 1000, epoch 0 (a KIP-360 bump: epoch + 1)
  Produce v3-v7: the first N requests (--bad N; -1 = all, the default) get the
      misbehaviour of --mode; later ones a correct answer. Every batch received
      is first "appended" (deduplicated by producer id, epoch, partition and base
      sequence, as a real broker does), so a lost answer is a lost response,
      never lost data.

Modes (what a bad Produce answer is):
  good        a correct answer (no misbehaviour)
  garbage     a frame of the right size prefix with the right correlation id and
              random bytes as body
  rawgarbage  random bytes with no framing at all (the size prefix is random too)
  truncated   a size prefix of 100, 20 bytes, then close
  huge        a size prefix of 2^31-1, a few bytes, then silence (connection open)
  big64m      a size prefix of 64 MiB, a few bytes, then silence
  wrongcorr   a well-formed answer with the correlation id + 1000
  wrongpart   a well-formed answer naming topic "never-asked" partition 7
  wrongpidx   a well-formed answer naming the right topic but partition 7
  extrapart   a correct answer (offsets of what was stored) that also names
              partition 7 of the first topic, never sent: funneld applies the
              others, then closes the connection
  negcount    topics array count -2 (only -1, null, is legal)
  negparts    one topic with partitions count -1000
  midframe    a size prefix of 200, 60 bytes of a real answer, then close
  silent      never answer (funneld's request.timeout.ms must fire)
  slowloris   a correct answer sent one byte per 100 ms
  close       close the connection without answering

--md MODE (after --md-after K good Metadata answers that name topics, default 1:
the topic registration; answers naming no topic, such as bootstrap and refreshes
before a client registered one, are not counted, so a refresh that comes before the
registration on a slow machine cannot use it up): the topic's partitions in every
later Metadata answer are
  leader99   led by node 99, which is not in the broker list
  noleader   LEADER_NOT_AVAILABLE, leader -1
  grow       4 partitions instead of 1
  partid     ids -3, 7, 0 and 0 again (led by 99)
  huge       200,000 partitions
  zero       no partitions
  badbroker  the broker's host is 300 characters long and its port 70000

--store FILE: every stored record, one line, in the read-back TSV format of
tests/harness/readback.sh (topic, partition, offset, key, value, headers,
timestamp), for tests/harness/verify.py check. Records are decoded for
compression none and gzip; other codecs are counted only.
--log FILE: one line per event (connection, request, misbehaviour).
"""
import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import zlib

API_PRODUCE, API_METADATA, API_APIVERSIONS, API_INITPID = 0, 3, 18, 22
RANGES = [(API_PRODUCE, 3, 7), (API_METADATA, 1, 2), (API_APIVERSIONS, 0, 2),
          (API_INITPID, 0, 4)]
ERR_UNSUPPORTED_VERSION = 35
PRODUCER_ID = 1000


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.produce_seen = 0
        self.md_seen = 0
        self.next_offset = {}  # (topic, partition) -> next offset
        self.seen = {}  # (topic, partition, pid, epoch, base_seq) -> base offset
        self.store = open(args.store, "a", buffering=1) if args.store else None
        self.logf = open(args.log, "a", buffering=1) if args.log else None
        self.port = 0

    def log(self, msg):
        if self.logf:
            self.logf.write("%.3f %s\n" % (time.time(), msg))


# ---------------------------------------------------------------- wire helpers
class Reader:
    def __init__(self, b, off=0):
        self.b, self.o = b, off

    def take(self, n):
        if n < 0 or self.o + n > len(self.b):
            raise ValueError("short")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def uvarint(self):
        v, shift = 0, 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << shift
            if not c & 0x80:
                return v
            shift += 7

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def compact_string(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def s16(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def frame(corr, body, flexible_header=False):
    payload = struct.pack(">i", corr) + (b"\x00" if flexible_header else b"") + body
    return struct.pack(">i", len(payload)) + payload


# ------------------------------------------------------------------- answers
def api_versions_body(ver, err=0):
    b = struct.pack(">hi", err, len(RANGES))
    for k, lo, hi in RANGES:
        b += struct.pack(">hhh", k, lo, hi)
    if ver >= 1:
        b += struct.pack(">i", 0)
    return b


def md_partitions(md, bad):
    """[(err, partition, leader)] for one topic: 1 partition led by node 1, or
    the --md misbehaviour once it applies."""
    if not bad or md == "good":
        return [(0, 0, 1)]
    if md == "leader99":
        return [(0, 0, 99)]
    if md == "noleader":
        return [(5, 0, -1)]
    if md == "grow":
        return [(0, p, 1) for p in range(4)]
    if md == "partid":
        return [(0, -3, 1), (0, 7, 1), (0, 0, 1), (0, 0, 99)]
    if md == "huge":
        return [(0, p, 1) for p in range(200000)]
    if md == "zero":
        return []
    raise SystemExit("unknown --md " + md)


def metadata_body(st, ver, topics):
    with st.lock:
        n = st.md_seen
        if topics:
            st.md_seen += 1
    bad = n >= st.args.md_after
    md = st.args.md
    host, port = "127.0.0.1", st.port
    if bad and md == "badbroker":
        host, port = "h" * 300, 70000
    b = struct.pack(">i", 1) + struct.pack(">i", 1) + s16(host) + struct.pack(">i", port)
    b += s16(None)  # rack (v1+)
    if ver >= 2:
        b += s16("fakebroker")
    b += struct.pack(">i", 1)  # controller
    b += struct.pack(">i", len(topics))
    for t in topics:
        parts = md_partitions("good" if md == "badbroker" else md, bad)
        b += struct.pack(">h", 0) + s16(t) + b"\x00"
        b += struct.pack(">i", len(parts))
        for err, p, leader in parts:
            b += struct.pack(">hii", err, p, leader) + struct.pack(">ii", 1, 1)
            b += struct.pack(">ii", 1, 1)
    if bad and md != "good":
        st.log("metadata misbehaviour %s" % md)
    return b


def produce_answer(ver, parts, corr):
    """parts: list of (topic, [(partition, err, base_offset)])"""
    b = struct.pack(">i", len(parts))
    for t, plist in parts:
        b += s16(t) + struct.pack(">i", len(plist))
        for p, err, off in plist:
            b += struct.pack(">ihq", p, err, off)
            if ver >= 2:
                b += struct.pack(">q", -1)
            if ver >= 5:
                b += struct.pack(">q", 0)
    b += struct.pack(">i", 0)  # throttle
    return frame(corr, b)


# ------------------------------------------------------------ record batches
def esc(b):
    if b is None:
        return "\\N"
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif c == 9:
            out.append("\\t")
        elif c == 10:
            out.append("\\n")
        elif c == 13:
            out.append("\\r")
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def esc_hdr(b):
    return esc(b).replace(",", "\\x2c").replace("=", "\\x3d")


def decode_records(data, count, base_ts):
    r = Reader(data)
    recs = []
    for _ in range(count):
        n = r.varint()
        rr = Reader(r.take(n))
        rr.i8()
        ts_delta = rr.varint()
        off_delta = rr.varint()
        kl = rr.varint()
        key = None if kl < 0 else rr.take(kl)
        vl = rr.varint()
        val = None if vl < 0 else rr.take(vl)
        hdrs = []
        for _ in range(rr.varint()):
            hk = rr.take(rr.varint())
            hvl = rr.varint()
            hdrs.append((hk, None if hvl < 0 else rr.take(hvl)))
        recs.append((off_delta, key, val, hdrs, base_ts + ts_delta))
    return recs


def store_batch(st, topic, part, batch):
    """Append one RecordBatch v2 (deduplicated). Returns (err, base_offset)."""
    r = Reader(batch)
    r.i64()
    r.i32()
    r.i32()
    magic = r.i8()
    r.take(4)
    attrs = r.i16()
    last_delta = r.i32()
    first_ts = r.i64()
    r.i64()
    pid = r.i64()
    epoch = r.i16()
    base_seq = r.i32()
    count = r.i32()
    if magic != 2 or count < 0:
        return 2, -1  # CORRUPT_MESSAGE
    key = (topic, part, pid, epoch, base_seq)
    with st.lock:
        if pid >= 0 and key in st.seen:
            st.log("duplicate batch %s/%d pid=%d epoch=%d seq=%d: original offset" %
                   (topic, part, pid, epoch, base_seq))
            return 0, st.seen[key]
        base = st.next_offset.get((topic, part), 0)
        st.next_offset[(topic, part)] = base + last_delta + 1
        if pid >= 0:
            st.seen[key] = base
        data = batch[r.o:]
        codec = attrs & 7
        recs = None
        try:
            if codec == 0:
                recs = decode_records(data, count, first_ts)
            elif codec == 1:
                recs = decode_records(zlib.decompress(data, 16 + zlib.MAX_WBITS), count,
                                      first_ts)
        except (ValueError, zlib.error, struct.error) as e:
            st.log("cannot decode batch: %s" % e)
        st.log("stored %s/%d offset=%d count=%d pid=%d epoch=%d seq=%d codec=%d" %
               (topic, part, base, count, pid, epoch, base_seq, codec))
        if st.store and recs is not None:
            for d, k, v, hdrs, ts in recs:
                h = ",".join(esc_hdr(hk) if hv is None else esc_hdr(hk) + "=" + esc_hdr(hv)
                             for hk, hv in hdrs)
                st.store.write("%s\t%d\t%d\t%s\t%s\t%s\t%d\n" %
                               (topic, part, base + d, esc(k), esc(v), h, ts))
    return 0, base


def parse_produce(body, ver):
    """body after the request header. Returns [(topic, [(partition, batch)])], acks."""
    r = Reader(body)
    r.string()  # transactional id
    acks = r.i16()
    r.i32()
    topics = []
    for _ in range(r.i32()):
        t = r.string()
        plist = []
        for _ in range(r.i32()):
            p = r.i32()
            n = r.i32()
            plist.append((p, b"" if n < 0 else r.take(n)))
        topics.append((t, plist))
    return topics, acks


# ------------------------------------------------------------ the connection
def send_all(sock, b):
    sock.sendall(b)


def misbehave(st, sock, mode, corr, ver, topics):
    """Returns False when the connection must close now."""
    rnd = random.Random(corr * 7919 + 17)
    st.log("misbehave mode=%s corr=%d" % (mode, corr))
    good = [(t, [(p, 0, 0) for p, _ in pl]) for t, pl in topics]
    if mode == "garbage":
        body = bytes(rnd.getrandbits(8) for _ in range(60))
        send_all(sock, frame(corr, body))
    elif mode == "rawgarbage":
        send_all(sock, bytes(rnd.getrandbits(8) for _ in range(97)))
    elif mode == "truncated":
        send_all(sock, struct.pack(">i", 100) + struct.pack(">i", corr) + b"\x00" * 16)
        return False
    elif mode == "huge":
        send_all(sock, struct.pack(">i", 0x7FFFFFFF) + struct.pack(">i", corr) + b"\x00" * 8)
    elif mode == "big64m":
        send_all(sock, struct.pack(">i", 64 << 20) + struct.pack(">i", corr) + b"\x00" * 8)
    elif mode == "wrongcorr":
        send_all(sock, produce_answer(ver, good, corr + 1000))
    elif mode == "wrongpart":
        send_all(sock, produce_answer(ver, [("never-asked", [(7, 0, 0)])], corr))
    elif mode == "wrongpidx":
        send_all(sock, produce_answer(ver, [(t, [(7, 0, 0)]) for t, _ in topics], corr))
    elif mode == "negcount":
        send_all(sock, frame(corr, struct.pack(">ii", -2, 0)))
    elif mode == "negparts":
        t = topics[0][0] if topics else "x"
        send_all(sock, frame(corr, struct.pack(">i", 1) + s16(t) + struct.pack(">ii", -1000, 0)))
    elif mode == "midframe":
        a = produce_answer(ver, good, corr)
        send_all(sock, struct.pack(">i", 200) + a[4:64])
        return False
    elif mode == "silent":
        pass
    elif mode == "slowloris":
        for c in produce_answer(ver, good, corr):
            send_all(sock, bytes([c]))
            time.sleep(0.1)
    elif mode == "close":
        return False
    else:
        raise SystemExit("unknown mode " + mode)
    return True


def on_produce(st, sock, ver, corr, body):
    topics, acks = parse_produce(body, ver)
    answers = []
    for t, plist in topics:
        pa = []
        for p, batch in plist:
            try:
                err, off = store_batch(st, t, p, batch)
            except (ValueError, struct.error):
                err, off = 2, -1
            pa.append((p, err, off))
        answers.append((t, pa))
    with st.lock:
        n = st.produce_seen
        st.produce_seen += 1
    bad = st.args.mode != "good" and (st.args.bad < 0 or n < st.args.bad)
    if bad and st.args.mode == "extrapart" and answers:
        st.log("misbehave mode=extrapart corr=%d" % corr)
        answers[0] = (answers[0][0], answers[0][1] + [(7, 0, 0)])
        send_all(sock, produce_answer(ver, answers, corr))
        return True
    if bad:
        return misbehave(st, sock, st.args.mode, corr, ver, topics)
    if acks != 0:
        send_all(sock, produce_answer(ver, answers, corr))
    return True


def recv_exact(sock, n):
    b = b""
    while len(b) < n:
        c = sock.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def serve(st, sock, peer):
    st.log("connection from %s:%d" % peer)
    try:
        while True:
            h = recv_exact(sock, 4)
            if h is None:
                break
            (n,) = struct.unpack(">i", h)
            if n < 8 or n > 64 << 20:
                st.log("bad request size %d" % n)
                break
            req = recv_exact(sock, n)
            if req is None:
                break
            r = Reader(req)
            key, ver, corr = r.i16(), r.i16(), r.i32()
            flexible = (key == API_INITPID and ver >= 2) or (key == API_APIVERSIONS and ver >= 3)
            r.string()  # client id
            if flexible:
                r.tags()
            st.log("request api=%d v=%d corr=%d" % (key, ver, corr))
            if key == API_APIVERSIONS:
                if ver > 2:
                    send_all(sock, frame(corr, api_versions_body(0, ERR_UNSUPPORTED_VERSION)))
                else:
                    send_all(sock, frame(corr, api_versions_body(ver)))
            elif key == API_METADATA:
                n_t = r.i32()
                topics = [r.string() for _ in range(max(n_t, 0))]
                send_all(sock, frame(corr, metadata_body(st, ver, topics)))
            elif key == API_INITPID:
                epoch = 0
                if ver >= 3:
                    r.compact_string()
                    r.i32()
                    pid, ep = r.i64(), r.i16()
                    if pid == PRODUCER_ID and ep >= 0:
                        epoch = ep + 1
                body = struct.pack(">ihqh", 0, 0, PRODUCER_ID, epoch)
                if ver >= 2:
                    send_all(sock, frame(corr, body + b"\x00", flexible_header=True))
                else:
                    send_all(sock, frame(corr, body))
            elif key == API_PRODUCE:
                if not on_produce(st, sock, ver, corr, req[r.o:]):
                    break
            else:
                st.log("unknown api %d: closing" % key)
                break
    except (OSError, ValueError, struct.error) as e:
        st.log("connection error: %s" % e)
    finally:
        st.log("close %s:%d" % peer)
        try:
            sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="good")
    ap.add_argument("--bad", type=int, default=-1)
    ap.add_argument("--store")
    ap.add_argument("--portfile")
    ap.add_argument("--log")
    ap.add_argument("--md", default="good")
    ap.add_argument("--md-after", type=int, default=1)
    args = ap.parse_args()
    st = State(args)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    st.port = ls.getsockname()[1]
    line = "BOOTSTRAP 127.0.0.1:%d" % st.port
    if args.portfile:
        with open(args.portfile + ".tmp", "w") as f:
            f.write(line + "\n")
        os.rename(args.portfile + ".tmp", args.portfile)
    print(line, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    st.log("listening mode=%s bad=%d port=%d" % (args.mode, args.bad, st.port))
    while True:
        c, peer = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(st, c, peer), daemon=True).start()


if __name__ == "__main__":
    main()
