#!/usr/bin/env bash
# ASan + UBSan build of the torch-free components (util, tokenizer, task, hub, similarity,
# cluster, search, serve) and their unit tests, in build-san/ with clang. The same build holds the
# libFuzzer targets (libraries carry -fsanitize=fuzzer-no-link coverage), which scripts/fuzz.sh runs.
# libtorch (nn, the CLI and its tests) is left out: Debian's libtorch is not built with
# sanitizers, ASan in a process that loads it reports its allocator and OpenMP internals, and
# ASan refuses the RTLD_DEEPBIND that the spm shim needs next to libtorch.
# Usage: bash scripts/sanitize.sh [--build-only]
#   SAN_SUITES="a_test b_test": build and run only these test programs (default: all, via ctest)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
t0=$(date +%s)
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DSBERT_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS="-O1 -g1 $SAN -fsanitize=fuzzer-no-link" \
  -DCMAKE_CXX_FLAGS="-O1 -g1 $SAN -fsanitize=fuzzer-no-link" \
  -DCMAKE_EXE_LINKER_FLAGS="$SAN" -DCMAKE_SHARED_LINKER_FLAGS="$SAN" >/dev/null
SAN_SUITES=${SAN_SUITES:-all}
fuzzers=$(ls tests/fuzz/*_fuzz.cpp | xargs -n1 basename | sed 's/\.cpp$//')
if [ "$SAN_SUITES" = all ]; then
  cmake --build build-san -j "$JOBS"
else
  cmake --build build-san -j "$JOBS" --target $fuzzers $SAN_SUITES
fi
t1=$(date +%s)
echo "sanitize: build took $((t1 - t0)) s" >&2
[ "${1:-}" = "--build-only" ] && exit 0
export SBERT_SHARED=${SBERT_SHARED:-$PWD/../shared}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp}
if [ "$SAN_SUITES" = all ]; then
  ctest --test-dir build-san --output-on-failure -j "$JOBS" --timeout 600
else
  passed=0 failed=0
  for t in $SAN_SUITES; do
    if "build-san/$t" >"build-san/$t.log" 2>&1; then passed=$((passed + 1)); else
      failed=$((failed + 1)); echo "sanitize: $t FAILED" >&2; tail -80 "build-san/$t.log" >&2; fi
  done
  echo "sanitize: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] || exit 1
fi
echo "sanitize: tests took $(($(date +%s) - t1)) s" >&2
