#!/usr/bin/env python3
"""verify.py - checks what landed in the broker against what the test produced.

python3 standard library only. Subcommands:

  tsv       kcat -J lines on stdin -> read-back TSV on stdout (used by readback.sh)
  gen       write a kcat -P input file and the matching expectation file
  check     compare read-back TSV with expectations; prints
            "verified N records, M duplicates, K missing, L out of order"
  batches   check fnl-rawfetch output: CRCs, codec, producer id/epoch/sequence continuity
  murmur2   print the Java-compatible partition of each key given on the command line
  selftest  run the built-in tests of this file

Formats (tests/harness/README.md has the full description):

  read-back TSV, one record a line, 7 tab-separated fields:
    topic  partition  offset  key  value  headers  timestamp_ms
  expectation TSV, one expected record a line, 7 fields ('*' = any):
    client  seq  topic  partition  key  headers  timestamp_ms-or-LO..HI
  Escaping of key/value/header text: bytes 0x20..0x7e as is except backslash; "\\\\", "\\t",
  "\\n", "\\r", other bytes "\\xHH"; a null key or value is "\\N". headers: "name=value" joined
  by ","; in names and values "," and "=" are written "\\x2c" and "\\x3d"; a null header value is
  written as the name alone.
  Record values follow the convention "c=<client> s=<seq>[ <padding>]".
"""
import argparse
import json
import re
import sys

VALUE_RE = re.compile(rb"^c=([A-Za-z0-9_.:-]+) s=([0-9]+)(?: |$)")
NULL = "\\N"


# ---------------------------------------------------------------- escaping

def esc(data, extra=b""):
    """Escapes bytes (or None) into the TSV-safe text form."""
    if data is None:
        return NULL
    out = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x09:
            out.append("\\t")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x0D:
            out.append("\\r")
        elif 0x20 <= b <= 0x7E and b not in extra:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def unesc(text):
    """Inverse of esc(); returns bytes, or None for the null marker."""
    if text == NULL:
        return None
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode("latin-1")
            i += 1
            continue
        n = text[i + 1:i + 2]
        if n == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out += {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}[n]
            i += 2
    return bytes(out)


def esc_headers(headers):
    """headers: list of (name bytes, value bytes or None)."""
    parts = []
    for name, value in headers:
        s = esc(name, b",=")
        if value is not None:
            s += "=" + esc(value, b",=")
        parts.append(s)
    return ",".join(parts)


def jbytes(v):
    """kcat -J strings carry the raw bytes; main() reads stdin with surrogateescape."""
    if v is None:
        return None
    return v.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- murmur2 (Java client)

def murmur2(data):
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = data[4 * n4:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def murmur2_partition(key, partitions):
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# ---------------------------------------------------------------- tsv

def cmd_tsv(args):
    src = sys.stdin.buffer
    out = sys.stdout
    bad = 0
    for raw in src:
        line = raw.decode("utf-8", "surrogateescape").strip()
        if not line:
            continue
        try:
            j = json.loads(line)
        except ValueError:
            bad += 1
            sys.stderr.write("verify.py tsv: not JSON: %r\n" % line[:200])
            continue
        hdrs = j.get("headers") or []
        pairs = [(jbytes(hdrs[i]), jbytes(hdrs[i + 1])) for i in range(0, len(hdrs) - 1, 2)]
        out.write("\t".join([
            esc(jbytes(j["topic"])), str(j["partition"]), str(j["offset"]),
            esc(jbytes(j.get("key"))), esc(jbytes(j.get("payload"))),
            esc_headers(pairs), str(j.get("ts", -1))]) + "\n")
    return 1 if bad else 0


# ---------------------------------------------------------------- gen

def cmd_gen(args):
    headers = parse_header_arg(args.headers)
    with open(args.kcat, "wb") as kf, open(args.expect, "w") as ef:
        for seq in range(args.start, args.start + args.count):
            value = ("c=%s s=%d " % (args.client, seq)).encode() + b"x" * args.pad
            key = ("k%d" % (seq % args.keys)).encode() if args.keys > 0 else None
            if key is not None:
                kf.write(key + b"\t" + value + b"\n")
            else:
                kf.write(value + b"\n")
            if args.partitions and key is not None:
                part = str(murmur2_partition(key, args.partitions))
            else:
                part = "*"
            ef.write("\t".join([args.client, str(seq), args.topic or "*", part,
                                esc(key) if args.keys > 0 else "*",
                                esc_headers(headers) if args.headers is not None else "*",
                                "*"]) + "\n")
    return 0


def parse_header_arg(text):
    if not text:
        return []
    out = []
    for item in text.split(","):
        name, eq, value = item.partition("=")
        out.append((name.encode(), value.encode() if eq else None))
    return out


# ---------------------------------------------------------------- check

class Rec:
    __slots__ = ("topic", "partition", "offset", "key", "value", "headers", "ts", "client",
                 "seq")


def read_readback(path):
    recs = []
    with open(path, "r", encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 7:
                raise SystemExit("%s:%d: want 7 fields, got %d" % (path, n, len(fields)))
            r = Rec()
            r.topic, r.key, r.value, r.headers = fields[0], fields[3], fields[4], fields[5]
            r.partition, r.offset, r.ts = int(fields[1]), int(fields[2]), int(fields[6])
            m = VALUE_RE.match(unesc(r.value) or b"")
            r.client, r.seq = (m.group(1).decode(), int(m.group(2))) if m else (None, None)
            recs.append(r)
    return recs


def read_expect(path):
    exp = {}
    with open(path, "r", encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 7:
                raise SystemExit("%s:%d: want 7 fields, got %d" % (path, n, len(fields)))
            exp[(fields[0], int(fields[1]))] = fields[2:]
    return exp


def ts_ok(spec, ts):
    if spec == "*":
        return True
    if ".." in spec:
        lo, hi = spec.split("..", 1)
        return int(lo) <= ts <= int(hi)
    return int(spec) == ts


def parse_partitions(text):
    """'6' -> {None: 6}; 'a=6,b=3' -> {'a': 6, 'b': 3}."""
    out = {}
    for item in (text or "").split(","):
        if not item:
            continue
        if "=" in item:
            t, n = item.rsplit("=", 1)
            out[t] = int(n)
        else:
            out[None] = int(item)
    return out


def field_problems(r, want, args, nparts):
    """Returns a list of text problems for one record (empty if intact)."""
    probs = []
    if want is not None:
        topic, part, key, headers, ts = want
        if topic != "*" and topic != r.topic:
            probs.append("topic %s != %s" % (r.topic, topic))
        if part != "*" and int(part) != r.partition:
            probs.append("partition %d != %s" % (r.partition, part))
        if key != "*" and key != r.key:
            probs.append("key %s != %s" % (r.key, key))
        if headers != "*" and headers != r.headers:
            probs.append("headers %s != %s" % (r.headers, headers))
        if not ts_ok(ts, r.ts):
            probs.append("timestamp %d not %s" % (r.ts, ts))
    if args.ts_min is not None and r.ts < args.ts_min:
        probs.append("timestamp %d < %d" % (r.ts, args.ts_min))
    if args.ts_max is not None and r.ts > args.ts_max:
        probs.append("timestamp %d > %d" % (r.ts, args.ts_max))
    if nparts and r.key != NULL:
        n = nparts.get(r.topic, nparts.get(None))
        if n and murmur2_partition(unesc(r.key), n) != r.partition:
            probs.append("partition %d, murmur2 says %d"
                         % (r.partition, murmur2_partition(unesc(r.key), n)))
    return probs


def cmd_check(args):
    recs = []
    for path in args.readback:
        recs += read_readback(path)
    expect = {}
    for path in args.expect or []:
        expect.update(read_expect(path))
    for item in (args.clients or "").split(","):
        if item:
            c, n = item.split("=")
            for s in range(int(n)):
                expect.setdefault((c, s), ["*"] * 5)
    nparts = parse_partitions(args.partitions)

    recs.sort(key=lambda r: (r.topic, r.partition, r.offset))
    seen = {}
    last_seq = {}
    dups = disorder = corrupt = unexpected = verified = 0
    shown = 0

    def show(msg):
        nonlocal shown
        if shown < args.max_report:
            print(msg)
        shown += 1

    for r in recs:
        where = "%s[%d]@%d" % (r.topic, r.partition, r.offset)
        if r.client is None:
            unexpected += 1
            show("unexpected %s: value %s" % (where, r.value[:60]))
            continue
        ident = (r.client, r.seq)
        if expect and ident not in expect:
            unexpected += 1
            show("unexpected %s: c=%s s=%d not expected" % (where, r.client, r.seq))
            continue
        if ident in seen:
            dups += 1
            show("duplicate %s: c=%s s=%d first at %s" % (where, r.client, r.seq, seen[ident]))
            continue
        seen[ident] = where
        stream = (r.client, r.topic, r.partition)
        if stream in last_seq and r.seq < last_seq[stream]:
            disorder += 1
            show("out of order %s: c=%s s=%d after s=%d" % (where, r.client, r.seq,
                                                            last_seq[stream]))
        last_seq[stream] = max(r.seq, last_seq.get(stream, -1))
        probs = field_problems(r, expect.get(ident), args, nparts)
        if probs:
            corrupt += 1
            show("mismatch %s c=%s s=%d: %s" % (where, r.client, r.seq, "; ".join(probs)))
        else:
            verified += 1

    missing = [k for k in expect if k not in seen]
    for c, s in sorted(missing)[:args.max_report]:
        print("missing c=%s s=%d" % (c, s))
    if shown > args.max_report:
        print("(%d more problems not shown)" % (shown - args.max_report))
    print("verified %d records, %d duplicates, %d missing, %d out of order"
          % (verified, dups, len(missing), disorder))
    if corrupt or unexpected:
        print("also %d records with wrong fields, %d unexpected records" % (corrupt, unexpected))
    failed = bool(missing or disorder or corrupt or (unexpected and not args.allow_unexpected)
                  or (dups and args.fail_on_duplicates) or (not recs and not args.allow_empty))
    return 1 if failed else 0


# ---------------------------------------------------------------- batches

def parse_kv(line):
    out = {}
    for tok in line.split()[1:]:
        k, _, v = tok.partition("=")
        out[k] = v
    return out


def cmd_batches(args):
    batches = []
    log_start = {}
    for path in args.rawfetch:
        with open(path) as f:
            for line in f:
                if line.startswith("batch "):
                    batches.append(parse_kv(line))
                elif line.startswith("partition "):
                    kv = parse_kv(line)
                    log_start[kv["partition"]] = int(kv["log_start"])
    bad_crc = bad_codec = resent = gaps = records = 0
    streams = {}   # (partition, pid, epoch) -> next expected sequence
    sent = {}      # (partition, pid, epoch, base_seq) -> count
    problems = []
    for b in batches:
        p = b["partition"]
        if b.get("crc_ok") != "1" or b.get("magic") != "2":
            bad_crc += 1
            problems.append("bad batch partition=%s base_offset=%s crc_ok=%s magic=%s"
                            % (p, b["base_offset"], b.get("crc_ok"), b.get("magic")))
            continue
        if args.codec and b["codec"] != args.codec:
            bad_codec += 1
            problems.append("codec partition=%s base_offset=%s is %s, want %s"
                            % (p, b["base_offset"], b["codec"], args.codec))
        count = int(b["count"])
        records += count
        pid, epoch, seq = int(b["producer_id"]), int(b["epoch"]), int(b["base_seq"])
        if pid < 0:
            if args.idempotent:
                problems.append("partition=%s base_offset=%s has no producer id"
                                % (p, b["base_offset"]))
                gaps += 1
            continue
        key = (p, pid, epoch)
        if key not in streams:
            first_ok = seq == 0 or log_start.get(p, 0) > 0 or args.any_start
            if not first_ok:
                gaps += 1
                problems.append("partition=%s pid=%d epoch=%d starts at seq %d"
                                % (p, pid, epoch, seq))
            streams[key] = seq
        want = streams[key]
        if seq == want:
            streams[key] = seq + count
            sent[key + (seq,)] = count
        elif sent.get(key + (seq,)) == count:
            resent += 1
            problems.append("resent partition=%s base_offset=%s pid=%d epoch=%d seq=%d"
                            " (a real broker answers DUPLICATE_SEQUENCE)"
                            % (p, b["base_offset"], pid, epoch, seq))
        else:
            gaps += 1
            problems.append("sequence partition=%s base_offset=%s pid=%d epoch=%d seq=%d, "
                            "expected %d" % (p, b["base_offset"], pid, epoch, seq, want))
    for line in problems[:args.max_report]:
        print(line)
    print("checked %d batches (%d records), %d bad crc, %d codec mismatches, "
          "%d resent, %d sequence errors"
          % (len(batches), records, bad_crc, bad_codec, resent, gaps))
    failed = bad_crc or bad_codec or gaps or (resent and args.fail_on_resend) or not batches
    return 1 if failed else 0


# ---------------------------------------------------------------- selftest

def cmd_selftest(_args):
    import os
    import tempfile
    fails = 0

    def expect_eq(a, b, what):
        nonlocal fails
        if a != b:
            print("selftest: %s: %r != %r" % (what, a, b))
            fails += 1

    raw = bytes(range(256))
    expect_eq(unesc(esc(raw)), raw, "esc round trip")
    expect_eq(unesc(NULL), None, "null")
    expect_eq(esc_headers([(b"a", b"x,=y"), (b"n", None), (b"e", b"")]),
              "a=x\\x2c\\x3dy,n,e=", "headers")
    # Test vectors of the Java client's Utils.murmur2 (signed 32-bit results).
    for key, want in ((b"21", -973932308), (b"foobar", -790332482),
                      (b"a-little-bit-long-string", -985981536),
                      (b"a-little-bit-longer-string", -1486304829),
                      (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
                      (b"abc", 479470107)):
        h = murmur2(key)
        expect_eq(h - (1 << 32) if h >= (1 << 31) else h, want, "murmur2 %r" % key)
    d = tempfile.mkdtemp(prefix="fnl-verify-")
    rb = os.path.join(d, "rb.tsv")

    def run(lines, extra):
        with open(rb, "w") as f:
            f.write("".join(lines))
        ns = build_parser().parse_args(["check", "--readback", rb, "--max-report", "0"] + extra)
        return ns.func(ns)

    def rec(p, o, c, s, key="k"):
        return "t\t%d\t%d\t%s\tc=%s s=%d xx\t\t1000\n" % (p, o, key, c, s)

    good = [rec(0, 0, "a", 0), rec(0, 1, "a", 1), rec(1, 0, "a", 2), rec(0, 2, "b", 0)]
    expect_eq(run(good, ["--clients", "a=3,b=1"]), 0, "all present")
    expect_eq(run(good[:2], ["--clients", "a=3"]), 1, "missing")
    expect_eq(run([good[1], good[0]], ["--clients", "a=2"]), 0, "sorted by offset first")
    swapped = [rec(0, 0, "a", 1), rec(0, 1, "a", 0)]
    expect_eq(run(swapped, ["--clients", "a=2"]), 1, "disorder")
    dup = good + [rec(1, 1, "a", 2)]
    expect_eq(run(dup, ["--clients", "a=3,b=1"]), 0, "dups allowed")
    expect_eq(run(dup, ["--clients", "a=3,b=1", "--fail-on-duplicates"]), 1, "dups fail")
    expect_eq(run(good + ["t\t2\t0\t\\N\tjunk\t\t1\n"], ["--clients", "a=3,b=1"]), 1,
              "unexpected")
    expect_eq(run(good, ["--clients", "a=3,b=1", "--ts-min", "2000"]), 1, "ts window")
    print("selftest %s" % ("FAILED" if fails else "ok"))
    return 1 if fails else 0


def cmd_murmur2(args):
    for k in args.keys:
        print("%s\t%d\t%d" % (k, murmur2(k.encode()),
                              murmur2_partition(k.encode(), args.partitions)))
    return 0


# ---------------------------------------------------------------- main

def build_parser():
    ap = argparse.ArgumentParser(prog="verify.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("tsv", help="kcat -J on stdin -> read-back TSV")
    p.set_defaults(func=cmd_tsv)

    p = sub.add_parser("gen", help="kcat -P input + expectation file")
    p.add_argument("--client", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--keys", type=int, default=100, help="distinct keys k0..; 0: no key")
    p.add_argument("--pad", type=int, default=16, help="padding bytes after the seq")
    p.add_argument("--topic")
    p.add_argument("--partitions", type=int, help="expect murmur2 partition of the key")
    p.add_argument("--headers", help="name=value,... as given to kcat -H (expected)")
    p.add_argument("--kcat", required=True)
    p.add_argument("--expect", required=True)
    p.set_defaults(func=cmd_gen)

    p = sub.add_parser("check", help="read-back TSV against expectations")
    p.add_argument("--readback", action="append", required=True)
    p.add_argument("--expect", action="append", help="expectation TSV (repeatable)")
    p.add_argument("--clients", help="client=count,...: seqs 0..count-1 expected")
    p.add_argument("--partitions", help="N or topic=N,...: check murmur2(key) partition")
    p.add_argument("--ts-min", type=int)
    p.add_argument("--ts-max", type=int)
    p.add_argument("--fail-on-duplicates", action="store_true")
    p.add_argument("--allow-unexpected", action="store_true")
    p.add_argument("--allow-empty", action="store_true")
    p.add_argument("--max-report", type=int, default=20)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("batches", help="fnl-rawfetch output checks")
    p.add_argument("--rawfetch", action="append", required=True)
    p.add_argument("--codec", help="every batch must use this codec")
    p.add_argument("--idempotent", action="store_true", help="every batch needs a producer id")
    p.add_argument("--any-start", action="store_true", help="sequences need not start at 0")
    p.add_argument("--fail-on-resend", action="store_true")
    p.add_argument("--max-report", type=int, default=20)
    p.set_defaults(func=cmd_batches)

    p = sub.add_parser("murmur2", help="partition of keys")
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("keys", nargs="*")
    p.set_defaults(func=cmd_murmur2)

    p = sub.add_parser("selftest")
    p.set_defaults(func=cmd_selftest)
    return ap


def main():
    args = build_parser().parse_args()
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
