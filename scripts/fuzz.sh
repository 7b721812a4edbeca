#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/*_fuzz.cpp, built by scripts/sanitize.sh in
# build-san/ with ASan + UBSan) from its checked-in seed corpus tests/fuzz/corpus/<target>/.
# A crash fails the script; the input that caused it is kept in fuzz-artifacts/ (and printed as
# base64, so it is in the CI log).
#
# By default (CI) each target runs a fixed number of inputs from a fixed seed, so the verdict is
# the same on a fast or a slow machine and a CI failure reproduces exactly (FUZZ_RUNS inputs,
# FUZZ_SEED; the time limit is only a backstop). To explore, give seconds and a seed of 0
# (random): bash scripts/fuzz.sh 600 0
# Usage: bash scripts/fuzz.sh [seconds per target (backstop), default $FUZZ_SECONDS or 120] [seed]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-120}}
SEED=${2:-${FUZZ_SEED:-1}}
if [ "$SEED" = 0 ]; then RUNS=-1; else RUNS=${FUZZ_RUNS:-20000}; fi
[ -d build-san ] || bash scripts/sanitize.sh --build-only
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p fuzz-artifacts
status=0
for src in tests/fuzz/*_fuzz.cpp; do
  name=$(basename "$src" .cpp)
  bin=build-san/$name
  cmake --build build-san --target "$name" >/dev/null
  work=$(mktemp -d)   # new inputs found this run (the checked-in corpus is read-only here)
  log=fuzz-artifacts/$name.log
  if "$bin" -seed="$SEED" -runs="$RUNS" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="fuzz-artifacts/$name-" -print_final_stats=1 \
       "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $name ok, $runs executions (seed $SEED)"
  else
    status=1
    echo "fuzz: $name FAILED" >&2
    tail -60 "$log" >&2
    for a in fuzz-artifacts/"$name"-*; do
      [ -f "$a" ] || continue
      echo "fuzz: input $a (base64):" >&2
      base64 -w 0 "$a" | head -c 20000 >&2
      echo >&2
    done
  fi
  rm -rf "$work"
done
exit $status
