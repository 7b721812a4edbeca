#!/usr/bin/env bash
# Submits an N-shard embedding job array and the merge job that waits for all of it.
# Usage: scripts/slurm/submit.sh N MODEL INPUT OUTDIR OUT.npy [sbert embed options...]
# Prints "ARRAY_JOB_ID MERGE_JOB_ID" on stdout. The jobs inherit the environment (SBERT=path of
# the binary, default `sbert` on PATH); their logs land in the current directory. Paths should be
# absolute or relative to the current directory on a file system every node sees.
set -euo pipefail
[ $# -ge 5 ] || { echo "usage: $0 N MODEL INPUT OUTDIR OUT.npy [embed options...]" >&2; exit 2; }
N=$1 MODEL=$2 INPUT=$3 OUTDIR=$4 OUT=$5
shift 5
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "$0: N must be a positive number, got '$N'" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
array=$(sbatch --parsable --array="0-$((N - 1))" "$here/embed.sbatch" "$N" "$MODEL" "$INPUT" "$OUTDIR" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/merge.sbatch" "$OUTDIR" "$OUT")
merge=${merge%%;*}
echo "submitted: embed array $array ($N shards), merge $merge -> $OUT" >&2
echo "$array $merge"
