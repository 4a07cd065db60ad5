#!/bin/sh
# tests/fuzz/run.sh [SECONDS]: build the libFuzzer targets with clang
# (ASan + UBSan) in a private build directory and run each for SECONDS
# (default 10) on a copy of its seed corpus. CI runs it short; run it
# longer by hand, e.g. `tests/fuzz/run.sh 3600`, or one target directly:
#   BUILD/tests/fuzz/fuzz-s3xml -max_total_time=3600 CORPUSDIR
# Crashes are written to BUILD/crash-* and fail the run.
set -eu
secs=${1:-${FUZZ_SECONDS:-10}}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-/tmp/aimfs-fuzz-build}
# a fresh copy of the distributed sources every run (the tree itself may
# be configured; a copy left by an earlier run would fuzz old code)
[ -f "$src/Makefile" ] || { echo "configure the source tree first"; exit 1; }
rm -rf "$build"
mkdir -p "$build"
make -s -C "$src" distdir distdir="$build/src-tree" >/dev/null
(cd "$build/src-tree" && ./configure -q CC=clang --enable-fuzzing)
cd "$build/src-tree"
make -j"$(nproc)" fuzz >/dev/null
for t in uri hub-tree s3xml conf path lz4 scrape; do
	corpus=$build/corpus-$t
	rm -rf "$corpus"
	cp -r "$src/tests/fuzz/corpus/$t" "$corpus"
	echo "fuzzing $t for ${secs}s"
	./tests/fuzz/fuzz-$t -max_total_time="$secs" -rss_limit_mb=1024 \
		-artifact_prefix="$build/crash-$t-" "$corpus" >"$build/fuzz-$t.log" 2>&1 || {
		tail -n 30 "$build/fuzz-$t.log"
		echo "fuzz-$t FAILED"
		exit 1
	}
	grep -h "^Done\|stat::number_of_executed_units" "$build/fuzz-$t.log" | tail -n 1
done
echo "all fuzz targets ran clean"
