#!/usr/bin/env bash
# funnel.Producer (the Python module) against funneld on the broker FNL_BROKER names:
# tests/basic.py produces with every argument form, checks callbacks, errors,
# the bounded callback table, the GIL, threads and fork(), and callbacks that
# raise, produce with headers, flush() or close() (nested in produce() and
# flush()); settings as keyword arguments, a subclass; a record sent to a
# partition the topic does not have gets its error in the callback; a topic
# the cluster does not have raises KafkaException. Everything produced is read
# back with kcat exactly once, in order.
set -euo pipefail
source "$(dirname "$0")/../../../tests/harness/lib.sh"
fnl_test_init 300
source "$(dirname "$0")/../../../tests/integration/funnel_lib.sh"
source "$(dirname "$0")/py_lib.sh"

if fnl_broker_is_mock; then # the mock creates a topic asked for: make "gone" answer error 3
	fnl_broker_start -b 3 -t pyb:3 -t gone:1
	fnl_broker_cmd "topic_error gone 3"
else
	fnl_broker_start -b 3 -t pyb:3
fi
fnl_funneld_start -X max.block.ms=2000 -X funnel.metrics.listen= -X metadata.max.age.ms=1000
mkdir -p "$FNL_TMP/ex"
fnl_py "$PY_TESTS/basic.py" "$FNL_SOCKET" pyb 3 "$FNL_TMP/ex" || fnl_fail "basic.py"

echo "== errors in callbacks and on topics"
fnl_py - "$FNL_SOCKET" <<'PY' || fnl_fail "error reports"
import sys, funnel
p = funnel.Producer({"funnel.socket.path": sys.argv[1], "max.block.ms": 5000})
errs = []
p.produce("pyb", b"nowhere", partition=7, on_delivery=lambda e, m: errs.append((e, m)))
assert p.flush(30) == 0
assert len(errs) == 1, errs
e, m = errs[0]
assert e is not None and e.code() == 3 and e.name() == "UNKNOWN_TOPIC_OR_PARTITION", e
assert m.error() is e and m.offset() == -1 and m.value() == b"nowhere"
print("a partition the topic does not have:", repr(e))
try:
    p.produce("gone", b"x")
    raise AssertionError("producing to a missing topic succeeded")
except funnel.KafkaException as ex:
    k = ex.args[0]
    assert k.code() == funnel.KafkaError._UNKNOWN_TOPIC, k
    assert "gone" in k.str() and "max.block.ms" in k.str(), k.str()
    print("a topic the cluster does not have:", k.str())
PY
if ! fnl_broker_is_mock; then # the mock cannot add partitions
	echo "== a topic that grows: topic_partitions() and list_topics() ask funneld again"
	fnl_broker_cmd "topic pygrow 2" >/dev/null || fnl_fail "CreateTopics pygrow"
	fnl_py - "$FNL_SOCKET" "$FNL_BOOTSTRAP" <<'PY' || fnl_fail "partition count after growth"
import sys, time, funnel
from kafka.admin import KafkaAdminClient, NewPartitions
p = funnel.Producer({"funnel.socket.path": sys.argv[1], "max.block.ms": 5000})
assert p.topic_partitions("pygrow") == 2, p.topic_partitions("pygrow")
a = KafkaAdminClient(bootstrap_servers=sys.argv[2].split(","), api_version=(2, 5, 0))
a.create_partitions({"pygrow": NewPartitions(total_count=5)})
deadline = time.time() + 20 # funneld refreshes every metadata.max.age.ms (1 s here)
while p.topic_partitions("pygrow") != 5 and time.time() < deadline:
    time.sleep(0.2)
assert p.topic_partitions("pygrow") == 5, p.topic_partitions("pygrow")
assert sorted(p.list_topics("pygrow").topics["pygrow"].partitions) == [0, 1, 2, 3, 4]
print("pygrow: 2 partitions, then 5 after CreatePartitions, in topic_partitions() and list_topics()")
PY
fi
echo "== a produce() waiting for a callback slot while funneld is gone lets other threads run"
# (it napped between its tries with the GIL held: another thread ran about a quarter as often)
fnl_py - "$FNL_SOCKET" "$FNL_FUNNELD_PID" <<'PY' || fnl_fail "GIL while funneld is gone"
import os, signal, sys, threading, time, funnel
p = funnel.Producer({"funnel.socket.path": sys.argv[1], "max.block.ms": 1500,
                     "queue.buffering.max.messages": 1})
p.produce("pyb", b"warm", partition=7, on_delivery=lambda e, m: None)  # not stored
p.flush(10)
os.kill(int(sys.argv[2]), signal.SIGSTOP)
p.produce("pyb", b"held", partition=7, on_delivery=lambda e, m: None)  # takes the one slot
os.kill(int(sys.argv[2]), signal.SIGKILL)
time.sleep(0.3)
stop, count = [], [0]
def spin():
    while not stop:
        count[0] += 1
t = threading.Thread(target=spin)
t.start()
c0, t0 = count[0], time.monotonic()
time.sleep(1.0)  # the rate with the GIL free
base = (count[0] - c0) / (time.monotonic() - t0)
c0, t0 = count[0], time.monotonic()
try:
    p.produce("pyb", b"b", partition=7, on_delivery=lambda e, m: None)
    raise AssertionError("a slot was free")
except BufferError:
    pass
rate = (count[0] - c0) / (time.monotonic() - t0)
stop.append(1)
t.join()
print("another thread ran at %.0f%% of its rate while produce() waited" % (100 * rate / base))
assert rate > 0.6 * base, (rate, base)
PY
wait "$FNL_FUNNELD_PID" 2>/dev/null || true
fnl_funneld_start -X max.block.ms=2000 -X funnel.metrics.listen= -X metadata.max.age.ms=1000
fnl_funneld_stop
fnl_readback_verify pyb 3 "$FNL_TMP"/ex/ex-*
fnl_broker_stop
echo "py_basic: ok"
