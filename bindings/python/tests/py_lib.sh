# py_lib.sh - for the Python module's tests (source after funnel_lib.sh).
#   fnl_py ARGS...   Debian's python3 (FNL_PYTHON) on the module in the build tree; under ASan
#                    with the runtime preloaded into the interpreter only (not into kcat, ab)
: "${FNL_PYTHON:=/usr/bin/python3}"
: "${PYTHONPATH:=$FNL_BUILD_DIR/bindings/python}"
export PYTHONPATH
export PYTHONDONTWRITEBYTECODE=1 # nothing written into the source tree
PY_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fnl_py() {
	if [[ -n ${FNL_PY_PRELOAD:-} ]]; then
		LD_PRELOAD=$FNL_PY_PRELOAD ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 "$FNL_PYTHON" "$@"
	else
		"$FNL_PYTHON" "$@"
	fi
}
