#!/usr/bin/env bash
# ASan + UBSan build of the torch-free components (util, tokenizer, hub, similarity, cluster,
# search) and their unit tests, in build-san/ with clang. The same build holds the libFuzzer
# targets (libraries carry -fsanitize=fuzzer-no-link coverage), which scripts/fuzz.sh runs.
# libtorch (nn, the CLI and its tests) is left out: Debian's libtorch is not built with
# sanitizers, and ASan in a process that loads it reports its own allocator and OpenMP
# internals; it also refuses the RTLD_DEEPBIND the spm shim needs next to libtorch.
# Usage: bash scripts/sanitize.sh [--build-only]
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
cmake --build build-san -j "$JOBS"
t1=$(date +%s)
echo "sanitize: build took $((t1 - t0)) s" >&2
[ "${1:-}" = "--build-only" ] && exit 0
export SBERT_SHARED=${SBERT_SHARED:-$PWD/../shared}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-san --output-on-failure -j "$JOBS" --timeout 600
echo "sanitize: tests took $(($(date +%s) - t1)) s" >&2
