#!/usr/bin/env bash
# funnel.Producer (the Python module) against funneld and the mock harness:
# tests/basic.py produces with every argument form, checks callbacks, errors,
# the bounded callback table, the GIL, threads and fork(); a record sent to a
# partition the topic does not have gets its error in the callback; a topic
# the cluster does not have raises KafkaException. Everything produced is read
# back with kcat exactly once, in order. basic.py runs again against
# kfake-broker.
set -euo pipefail
source "$(dirname "$0")/../../../tests/harness/lib.sh"
fnl_test_init 300
source "$(dirname "$0")/../../../tests/integration/funnel_lib.sh"
source "$(dirname "$0")/py_lib.sh"

fnl_broker_start -b 3 -t pyb:3 -t gone:1
fnl_broker_cmd "topic_error gone 3"
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

echo "== again against kfake-broker (CRCs and idempotent sequences checked)"
: "${FNL_KFAKE:=$(cd "$(dirname "$0")/../../.." && pwd)/../shared/brokers/kfake-broker}"
[[ -x $FNL_KFAKE ]] || FNL_KFAKE=/work/shared/brokers/kfake-broker
"$FNL_KFAKE" -brokers 3 -topic pyk:3 -bootfile "$FNL_TMP/kfake.boot" >"$FNL_TMP/kfake.out" 2>&1 &
KFAKE_PID=$!
fnl_track "$KFAKE_PID"
fnl_wait_for 20 test -s "$FNL_TMP/kfake.boot" || fnl_fail "kfake-broker did not write its bootfile"
FNL_BOOTSTRAP=$(cat "$FNL_TMP/kfake.boot")
mv "$FNL_TMP/funneld.err" "$FNL_TMP/funneld-mock.err"
fnl_funneld_start -X funnel.metrics.listen=
mkdir -p "$FNL_TMP/exk"
fnl_py "$PY_TESTS/basic.py" "$FNL_SOCKET" pyk 3 "$FNL_TMP/exk" || fnl_fail "basic.py on kfake-broker"
fnl_funneld_stop
fnl_readback_verify pyk 3 "$FNL_TMP"/exk/ex-*
kill -TERM "$KFAKE_PID"
wait "$KFAKE_PID" || true
echo "py_basic: ok"
