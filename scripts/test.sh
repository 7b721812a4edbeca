#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite. Tests that need ../shared read it from
# $SBERT_SHARED (default ../shared) and are skipped with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS"
export SBERT_SHARED=${SBERT_SHARED:-$PWD/../shared}
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 300
