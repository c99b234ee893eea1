#!/usr/bin/env bash
# funnel.Producer (the Python module) against funneld on the broker FNL_BROKER names:
# tests/basic.py produces with every argument form, checks callbacks, errors,
# the bounded callback table, the GIL, threads and fork(); a record sent to a
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
fnl_funneld_start -X max.block.ms=2000 -X funnel.metrics.listen=
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
fnl_funneld_stop
fnl_readback_verify pyb 3 "$FNL_TMP"/ex/ex-*
fnl_broker_stop
echo "py_basic: ok"
