#!/bin/sh
# run_fuzz.sh FUZZER SEED_DIR [libFuzzer args...]
# Runs FUZZER on a temporary copy of the checked-in seeds (libFuzzer adds new inputs to its
# first corpus directory, and the source tree must stay clean). Reproducers (crash-*, leak-*)
# land in the current directory, which meson makes the build directory.
set -eu
fuzzer=$1
seeds=$2
shift 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fnl-kafka-fuzz-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cp -R "$seeds" "$tmp/corpus"
"$fuzzer" "$@" "$tmp/corpus"
