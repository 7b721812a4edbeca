#!/usr/bin/env bash
# Submits an N-shard embedding job array and the merge job that waits for all of it.
# Usage: scripts/slurm/submit.sh N MODEL INPUT OUTDIR OUT.npy [sbert embed options...]
set -euo pipefail
[ $# -ge 5 ] || { echo "usage: $0 N MODEL INPUT OUTDIR OUT.npy [embed options...]" >&2; exit 2; }
N=$1 MODEL=$2 INPUT=$3 OUTDIR=$4 OUT=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
array=$(sbatch --parsable --array="0-$((N - 1))" "$here/embed.sbatch" "$MODEL" "$INPUT" "$OUTDIR" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/merge.sbatch" "$OUTDIR" "$OUT")
echo "submitted: embed array $array ($N shards), merge $merge -> $OUT" >&2
