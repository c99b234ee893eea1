#!/usr/bin/env bash
# A multiprocessing.Pool of forked workers producing through the Producer the
# parent created (tests/mp.py), on the broker FNL_BROKER names: every record read
# back exactly once, in order per stream and key.
set -euo pipefail
source "$(dirname "$0")/../../../tests/harness/lib.sh"
fnl_test_init 300
source "$(dirname "$0")/../../../tests/integration/funnel_lib.sh"
source "$(dirname "$0")/py_lib.sh"

fnl_broker_start -b 3 -t pymp:4
fnl_funneld_start -X funnel.metrics.listen=
mkdir -p "$FNL_TMP/ex"
fnl_py "$PY_TESTS/mp.py" "$FNL_SOCKET" pymp "$FNL_TMP/ex" || fnl_fail "mp.py"
fnl_funneld_stop
fnl_readback_verify pymp 4 "$FNL_TMP"/ex/ex-*
echo "py_multiprocessing: ok"
