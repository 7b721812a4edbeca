#!/usr/bin/env bash
# One big machine: N shards in parallel with xargs -P, then the merge.
# Usage: scripts/shards_local.sh N MODEL INPUT OUT.npy [sbert embed options...]
# Each process gets `--threads` = cores / N (at least 1).
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 N MODEL INPUT OUT.npy [embed options...]" >&2; exit 2; }
N=$1 MODEL=$2 INPUT=$3 OUT=$4
shift 4
SBERT=${SBERT:-sbert}
threads=$(( $(nproc) / N )); [ "$threads" -ge 1 ] || threads=1
parts=$(mktemp -d)
trap 'rm -rf "$parts"' EXIT
seq 0 $((N - 1)) | xargs -P "$N" -I{} "$SBERT" -q embed --model "$MODEL" --format npy \
  --threads "$threads" --shard {}/"$N" -o "$parts/part-{}.npy" "$@" "$INPUT"
"$SBERT" merge -o "$OUT" "$parts"/part-*.npy
