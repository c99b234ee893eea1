#!/bin/sh
# run_fuzz.sh FUZZER SEED_DIR [libFuzzer args...]
# Runs a libFuzzer target over a throw-away copy of the checked-in seeds
# (libFuzzer writes new inputs into its first corpus directory; the source
# tree stays clean). Reproducers (crash-*, leak-*) land in the current
# directory (meson runs tests from the build directory). libFuzzer reports a
# finding with exit code 77 by default, which meson counts as "skipped": it is
# asked for 1 instead, and a stray 77 is mapped to 1, so a finding fails.
set -u
fuzzer=$1
seeds=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/fnl-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp -R "$seeds"/. "$work/corpus/"
"$fuzzer" -error_exitcode=1 "$@" "$work/corpus"
rc=$?
[ "$rc" -eq 77 ] && rc=1
exit "$rc"
