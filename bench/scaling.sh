#!/usr/bin/env bash
# The scaling curve of issue 17 item 3: funneld with funnel.cores listing 1, 2, 4
# and 8 CPUs (the data-plane core plus compression workers), 8 flat-out clients
# pinned to CPUs of their own, the same corpus and settings at every point; medians
# of --rounds rounds. Meant for a machine with at least 16 CPUs (the device tool's
# 16-core lender); on a smaller one, POINTS and CLIENT_CPUS say what fits.
#
#   bench/scaling.sh [BUILD_DIR (build-rel)] [OUT_DIR (bench/results)]
#   POINTS="1 2 4 8" CLIENT_CPUS=8-15 ROUNDS=3 CORPUS=json RECORDS=250000 bench/scaling.sh
#
# It writes OUT_DIR/scaling-<corpus>-<k>c.json (and .log) per point and prints one table line
# per point: rec/s, its ratio to the first point, CPU s per million records,
# funneld's CPU per record and its share outside the workers, the workers' share
# of the batches. Needs a release build (meson setup build-rel --buildtype=release)
# whose funneld, fnl-mockbroker and fnl-rawfetch load on this machine.
#
# For a machine without the build's libraries (the device tool's lender reaches no
# package mirror): `bench/scaling.sh --bundle [BUILD_DIR]` copies them (all but libc
# and the loader) into BUILD_DIR/libs here; carry BUILD_DIR there, and this script
# puts BUILD_DIR/libs on LD_LIBRARY_PATH when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --bundle ]]; then
	build=${2:-build-rel}
	mkdir -p "$build/libs"
	for b in "$build/bench/funnel-bench" "$build/ctrl/funneld" "$build/tests/harness/fnl-mockbroker" \
		"$build/tests/harness/fnl-rawfetch"; do
		ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
	done | sort -u | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
		grep -v "^$(readlink -f "$build")/" | # libfunnel: the build's own, found by RUNPATH
		while read -r lib; do cp -L "$lib" "$build/libs/"; done
	echo "scaling.sh: $(ls "$build/libs" | wc -l) libraries in $build/libs ($(du -sh "$build/libs" | cut -f1))"
	exit 0
fi
build=${1:-build-rel}
[[ -d $build/libs ]] && export LD_LIBRARY_PATH=$PWD/$build/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
out=${2:-bench/results}
points=${POINTS:-1 2 4 8}
client_cpus=${CLIENT_CPUS:-8-15}
rounds=${ROUNDS:-3}
corpus=${CORPUS:-json}
records=${RECORDS:-250000}
clients=${CLIENTS:-8}
bench=$build/bench/funnel-bench
[[ -x $bench ]] || { echo "scaling.sh: $bench missing: meson setup $build --buildtype=release && meson compile -C $build" >&2; exit 2; }
for b in "$bench" "$build/ctrl/funneld" "$build/tests/harness/fnl-mockbroker"; do
	if ldd "$b" | grep -q "not found"; then
		echo "scaling.sh: $b cannot load here:" >&2
		ldd "$b" | grep "not found" >&2
		exit 2
	fi
done
ncpu=$(nproc)
mkdir -p "$out"
echo "scaling.sh: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), clients on $client_cpus, corpus $corpus, $clients x $records records, $rounds rounds"
printf '%-6s %-18s %12s %7s %8s %10s %14s %9s\n' cores funnel.cores rec/s vs_1st cpu_s/M funneld_ns outside_workers worker_%
first=
for k in $points; do
	if ((k > ncpu)); then
		echo "scaling.sh: $k cores do not fit $ncpu CPUs: skipped" >&2
		continue
	fi
	list=$(seq -s, 0 $((k - 1)))
	json=$out/scaling-$corpus-${k}c.json
	"$bench" --modes funnel-cores --funnel-cores "$list" --client-cpus "$client_cpus" \
		--clients "$clients" --records "$records" --settings own --rounds "$rounds" \
		--corpus "$corpus" --quiet --json "$json" >"$out/scaling-$corpus-${k}c.log" 2>&1 ||
		{ tail -5 "$out/scaling-$corpus-${k}c.log" >&2; echo "scaling.sh: the $k-core run failed" >&2; exit 1; }
	# prints the point's median rec/s, then its table line
	/usr/bin/env python3 - "$json" "$k" "$list" "${first:-0}" <<'PY' >"$out/.scaling-line"
import json, statistics as S, sys
d = json.load(open(sys.argv[1]))
rs = [r for r in d["runs"] if r["mode"] == "funnel-cores" and r["ok"]]
if not rs:
    print(0); print("%-6s %-18s %12s" % (sys.argv[2], sys.argv[3], "no ok run")); sys.exit(0)
m = lambda f: S.median(f(r) for r in rs)
rps = m(lambda r: r["records_per_s"])
first = float(sys.argv[4]) or rps
print("%.0f" % rps)
share = m(lambda r: r["compressed_by_workers"] / max(1, r["compressed_by_workers"] + r["compressed_by_core0"]))
print("%-6s %-18s %12.0f %6.2fx %8.2f %10.0f %14.0f %8.0f%%" % (
    sys.argv[2], sys.argv[3], rps, rps / first, m(lambda r: r["cpu_s_per_million_records"]),
    m(lambda r: r["funneld_cpu_ns_per_record"]),
    m(lambda r: r["funneld_ns_per_record_outside_workers"]), 100 * share))
PY
	{ read -r rps; read -r row; } <"$out/.scaling-line"
	echo "$row"
	[[ -n $first || $rps == 0 ]] || first=$rps
done
rm -f "$out/.scaling-line"
