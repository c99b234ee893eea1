#!/bin/sh
# run_fuzz.sh EXE SEED_DIR [libFuzzer args...]: fuzz over a temporary copy of the
# checked-in seeds so libFuzzer never writes into the source tree. libFuzzer's
# failure exit code (77 by default) means "skipped" to meson: map it to 1.
set -u
exe=$1; seeds=$2; shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$seeds"/* "$work"/
"$exe" -error_exitcode=1 "$@" "$work"
rc=$?
[ "$rc" -eq 77 ] && rc=1
exit "$rc"
