#!/usr/bin/env bash
# funnel.Producer's transactions (confluent_kafka's names) through funneld on kfake:
# init_transactions, begin_transaction, produce, send_offsets_to_transaction (TopicPartition-
# like objects and tuples; a group id or group metadata), commit_transaction,
# abort_transaction; an abortable error (group metadata of a member the group does not have)
# raises KafkaException whose error says txn_requires_abort(); begin twice raises _STATE.
# read_committed holds exactly the committed transactions in order; the group's offsets are
# the last committed ones. Delivery callbacks (produce's on_delivery and the Producer's
# default) fire for transactional records inside commit_transaction / abort_transaction:
# committed ones with the partition and offset where read_committed finds them, aborted ones
# with KafkaError TRANSACTION_ABORTABLE (or UNKNOWN_MEMBER_ID after the refused commit).
# A fatal commit (funneld fenced by a second one) whose callback closes the Producer raises
# the fatal error (it was read from the freed client: _FAIL, not fatal).
set -euo pipefail
source "$(dirname "$0")/../../../tests/harness/lib.sh"
fnl_test_init 200
source "$(dirname "$0")/../../../tests/integration/funnel_lib.sh"
source "$(dirname "$0")/py_lib.sh"

fnl_broker_is_mock && { echo "kfake only (visibility needs transaction markers)"; exit 0; }
fnl_broker_start -b 3 -t pyt:3
fnl_funneld_start -X funnel.metrics.listen= -X transactional.id=py-txn \
	-X transaction.timeout.ms=20000
fnl_py - "$FNL_SOCKET" "$FNL_TMP/reports" <<'PY' || fnl_fail "transactions from Python"
import sys, funnel
from collections import namedtuple
TP = namedtuple("TopicPartition", "topic partition offset")
default = []
p = funnel.Producer({"funnel.socket.path": sys.argv[1], "max.block.ms": 10000,
                     "on_delivery": lambda e, m: default.append((e, m))})
p.init_transactions(10)
reports = []
def txn(k, end, offsets=None, group="pyg"):
    p.begin_transaction()
    for i in range(4):
        v = ("py:%d-%d" % (k, i)).encode()
        if i == 3:  # the Producer's default callback
            p.produce("pyt", v, key=b"py")
        else:
            p.produce("pyt", v, key=b"py", on_delivery=lambda e, m: reports.append((e, m)))
    if offsets:
        p.send_offsets_to_transaction(offsets, group, 10)
    n = len(reports) + len(default)
    end(10)
    assert len(reports) + len(default) == n + 4, (k, reports, default)  # before end() returned
txn(0, p.commit_transaction, [TP("pyt", 0, 5), ("pyt", 1, 6)])
txn(1, p.abort_transaction, [TP("pyt", 0, 99)])
try:
    txn(2, p.commit_transaction, [TP("pyt", 0, 7)],
        {"group_id": "pyg", "generation_id": 7, "member_id": "nobody", "group_instance_id": None})
    raise AssertionError("a commit with a member the group does not have succeeded")
except funnel.KafkaException as ex:
    e = ex.args[0]
    assert e.txn_requires_abort() and not e.fatal() and not e.retriable(), repr(e)
    print("abortable:", e.str())
    p.abort_transaction(10)
txn(3, p.commit_transaction, [TP("pyt", 0, 8), TP("pyt", 2, 9)])
p.begin_transaction()
try:
    p.begin_transaction()
    raise AssertionError("begin twice succeeded")
except funnel.KafkaException as ex:
    assert ex.args[0].name() == "_STATE", repr(ex.args[0])
p.abort_transaction()
assert p.flush(10) == 0
got = reports + default
assert len(got) == 16, got
def err(e):
    return None if e is None else e.name()
with open(sys.argv[2], "w") as f:
    for e, m in got:
        assert m.topic() == "pyt", m.topic()
        if e is None:
            f.write("%s %d %d\n" % (m.value().decode(), m.partition(), m.offset()))
        else:
            k = int(m.value().decode().split(":")[1].split("-")[0])
            assert m.offset() == -1, m.offset()
            want = {1: "TRANSACTION_ABORTABLE", 2: "UNKNOWN_MEMBER_ID"}[k]
            assert err(e) == want and e.code() == getattr(funnel.KafkaError, want), (k, e)
p.close()
# a transaction holds its records' callback slots until it ends: a full table raises at once
import time
q = funnel.Producer({"funnel.socket.path": sys.argv[1], "max.block.ms": 10000,
                     "queue.buffering.max.messages": 3})
q.init_transactions(10)
q.begin_transaction()
qrep = []
for i in range(3):
    q.produce("pyt", b"q", on_delivery=lambda e, m: qrep.append(e))
t0 = time.monotonic()
try:
    q.produce("pyt", b"q", on_delivery=lambda e, m: qrep.append(e))
    raise AssertionError("a 4th record with a callback found a slot")
except BufferError as ex:
    assert "open transaction" in str(ex) and time.monotonic() - t0 < 5, (str(ex), time.monotonic() - t0)
q.abort_transaction(10)
assert [e.name() for e in qrep] == ["TRANSACTION_ABORTABLE"] * 3, qrep
q.close()
p.close()
print("python transactions ok")
PY
got=$(timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t pyt -o beginning -e -q -X isolation.level=read_committed \
	-X check.crcs=true -f '%s\n')
want=$(for k in 0 3; do for i in 0 1 2 3; do echo "py:$k-$i"; done; done)
[[ $got == "$want" ]] || fnl_fail "read_committed: $got"
timeout 30 kcat -C -b "$FNL_BOOTSTRAP" -t pyt -o beginning -e -q -X isolation.level=read_committed \
	-X check.crcs=true -f '%s %p %o\n' | sort >"$FNL_TMP/places"
sort "$FNL_TMP/reports" >"$FNL_TMP/reports.sorted"
diff -u "$FNL_TMP/places" "$FNL_TMP/reports.sorted" >&2 || fnl_fail "on_delivery's partition/offset differ from read_committed's"
offs=$(timeout 30 /usr/bin/python3 - "$FNL_BOOTSTRAP" <<'PY'
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1].split(","), group_id="pyg",
                  enable_auto_commit=False, api_version=(2, 5, 0))
print(" ".join(str(c.committed(TopicPartition("pyt", p))) for p in range(3)))
PY
)
[[ $offs == "8 6 9" ]] || fnl_fail "group offsets: $offs, want 8 6 9"

# A fatal commit (funneld A fenced by B, as txn_e2e part 6) whose delivery callback closes the
# Producer: commit_transaction raises the fatal error, read before the callbacks ran
fnl_wait_for 30 grep -q 'transactions ready' "$FNL_TMP/funneld.err" || fnl_fail "funneld A has no transactions"
kill -STOP "$FNL_FUNNELD_PID"
mkdir -p "$FNL_TMP/b"
printf 'bootstrap.servers=%s\nfunnel.socket.path=%s/b/f.sock\nfunnel.metrics.listen=\n' \
	"$FNL_BOOTSTRAP" "$FNL_TMP" >"$FNL_TMP/b.properties"
"$FNL_BUILD_DIR/ctrl/funneld" -c "$FNL_TMP/b.properties" -X transactional.id=py-txn \
	-X transaction.timeout.ms=20000 2>"$FNL_TMP/b.err" &
B_PID=$!
fnl_track $B_PID
fnl_wait_for 30 grep -q 'transactions ready' "$FNL_TMP/b.err" || fnl_fail "funneld B has no transactions"
kill -CONT "$FNL_FUNNELD_PID"
fnl_py - "$FNL_SOCKET" <<'PY' || fnl_fail "a fatal commit whose callback closes the Producer"
import sys, funnel
p = funnel.Producer({"funnel.socket.path": sys.argv[1], "max.block.ms": 10000})
p.init_transactions(10)
p.begin_transaction()
seen = []
def cb(e, m):
    seen.append(e)
    p.close()  # the Producer's client is gone once this returns
p.produce("pyt", b"fenced", key=b"py", on_delivery=cb)
try:
    p.commit_transaction(10)
    raise AssertionError("a fenced funneld's commit succeeded")
except funnel.KafkaException as ex:
    e = ex.args[0]
    assert e.fatal() and "commit_transaction" in e.str(), repr(e)
    print("fatal:", e.str())
assert len(seen) == 1 and seen[0] is not None, seen
PY
kill -TERM "$B_PID"
wait "$B_PID" || fnl_fail "funneld B exited $? after SIGTERM"
fnl_funneld_stop
echo "PASS py_txn"
