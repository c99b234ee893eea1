#!/bin/sh
# run_fuzz.sh FUZZER SEED_DIR [libFuzzer args...]
# libFuzzer writes new inputs into its first corpus directory, so run it on a
# throw-away copy of the checked-in seeds. Crash reproducers (crash-*) are left in
# the current directory (meson runs tests from the build directory).
set -eu
fuzzer=$1
seeds=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/fnl-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
"$fuzzer" "$@" "$work/corpus"
