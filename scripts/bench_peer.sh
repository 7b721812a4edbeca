#!/usr/bin/env bash
# Side-by-side throughput: `sbert embed` against transformers.js + ONNX Runtime (and eager
# PyTorch when python3 has torch) on the same weights, the same texts (STS-B or KorSTS test sentences) and
# the same threads, runs interleaved, best of N. Prints one JSON object on stdout; a peer that
# cannot run here is reported with the reason ("skipped") instead of a figure.
# See ../shared/peer/README.md for the peers.
#   scripts/bench_peer.sh [--shared DIR] [--model DIR] [--runs N] [--threads T] [--batch B]
#                         [--data stsb|korsts]   the test sentences of STS-B (English) or KorSTS (Korean)
#                         [--quantize int8]   (sbert's side only; the peers stay float32)
#                         [--busy]   a CPU-bound background process on core 0 during every run
#                                    (a contended machine: compare its ratio with the quiet one)
# Defaults: ../shared, a random-weight MiniLM-L6 folder (build/make_model) in a temp folder, 3, 2, 32.
# npm packages go to $SBERT_PEER_DIR (default /tmp/sbert-peer), never into the repository.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared model="" runs=3 threads=2 batch=32 quantize=none busy=0 data=stsb
while [[ $# -gt 0 ]]; do
  case $1 in
    --shared) shared=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --quantize) quantize=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --busy) busy=1; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "bench_peer: unknown argument $1" >&2; exit 2 ;;
  esac
done
sbert=$root/build/sbert
[[ -x $sbert ]] || { echo "bench_peer: $sbert not built" >&2; exit 2; }
peer_src=$shared/peer
[[ -f $peer_src/tjs_embed.mjs ]] || { echo "bench_peer: $peer_src/tjs_embed.mjs not found (--shared)" >&2; exit 2; }

work=$(mktemp -d /tmp/sbert-bench-peer.XXXXXX)
hog=""
trap '[[ -n $hog ]] && kill "$hog" 2>/dev/null; rm -rf "$work"' EXIT
log() { echo "bench_peer: $*" >&2; }

if [[ -z $model ]]; then
  model=$work/minilm
  "$root/build/make_model" --out "$model" --vocab-from "$shared/tokenizers/all-MiniLM-L6-v2" \
    --hidden 384 --layers 6 --heads 12 --intermediate 1536 --max-seq-length 256 >/dev/null
fi
texts=$work/texts.txt
case $data in
  stsb) awk -F'\t' '{print $6; print $7}' "$shared/data/stsb/stsb-test.csv" >"$texts" ;;
  korsts) awk -F'\t' 'NR > 1 {print $6; print $7}' "$shared/data/korsts/korsts-test.tsv" >"$texts" ;;
  *) echo "bench_peer: --data stsb|korsts, not $data" >&2; exit 2 ;;
esac
n=$(wc -l <"$texts")

have_torch=0
python3 -c 'import torch' 2>/dev/null && have_torch=1

# ---- transformers.js needs onnx/model.onnx in the model folder (export_onnx.py needs torch) ----
tjs_skip=""
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  tjs_skip="node/npm not installed"
elif [[ ! -f $model/onnx/model.onnx ]]; then
  # scripts/peer/export_onnx.mjs writes the graph torch.onnx.export would (no Python needed);
  # ../shared/peer/export_onnx.py is used instead when python3 has torch.
  if [[ $have_torch == 1 ]]; then
    python3 "$peer_src/export_onnx.py" "$model" >/dev/null || tjs_skip="ONNX export failed"
  else
    node "$root/scripts/peer/export_onnx.mjs" "$model" >/dev/null || tjs_skip="ONNX export (export_onnx.mjs) failed"
  fi
fi
peer_dir=${SBERT_PEER_DIR:-/tmp/sbert-peer}
if [[ -z $tjs_skip && ! -d $peer_dir/node_modules/@huggingface/transformers ]]; then
  log "npm install @huggingface/transformers@4.3.1 into $peer_dir"
  mkdir -p "$peer_dir"
  (cd "$peer_dir" && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
     npm install --ignore-scripts --no-audit --no-fund @huggingface/transformers@4.3.1 >/dev/null 2>&1) ||
    tjs_skip="npm install @huggingface/transformers failed (offline?)"
fi
[[ -z $tjs_skip ]] && cp "$peer_src/tjs_embed.mjs" "$peer_dir/"

eager_skip=""
[[ $have_torch == 1 ]] || eager_skip="python3 has no torch"

# Encode seconds of one run of each; sbert's is its own "embedded N texts ... in S s" log line
# (load excluded, as the peers report theirs).
sbert_run() {
  "$sbert" embed --model "$model" --threads "$threads" --batch-size "$batch" --quantize "$quantize" --format npy \
    -o "$work/sbert.npy" "$texts" 2>&1 >/dev/null | sed -n 's/.*embedded .* in \([0-9.]*\) s.*/\1/p'
}
tjs_run() {
  (cd "$peer_dir" && node tjs_embed.mjs "$model" "$texts" "$work/tjs.json" "$threads" "$batch") |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["encode_s"])'
}
eager_run() {
  "$sbert" tokenize --model "$model" --format jsonl "$texts" >"$work/ids.jsonl" 2>/dev/null
  python3 "$peer_src/eager_embed.py" "$model" "$work/ids.jsonl" "$threads" "$batch" 2>/dev/null |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["encode_s"])'
}

best_sbert="" best_tjs="" best_eager="" all_sbert="" all_tjs=""
if [[ $busy == 1 ]]; then
  pin=()
  command -v taskset >/dev/null && pin=(taskset -c 0)
  "${pin[@]}" bash -c 'while :; do :; done' &
  hog=$!
  log "busy: background spin loop (pid $hog) ${pin[*]:+pinned to core 0}"
fi
min() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(min(v) if v else '')" "$@"; }
for ((i = 1; i <= runs; i++)); do
  s=$(sbert_run); best_sbert=$(min "$best_sbert" "$s"); all_sbert+="$s,"; log "run $i sbert ${s}s"
  if [[ -z $tjs_skip ]]; then
    t=$(tjs_run) || { tjs_skip="transformers.js run failed"; t=""; }
    best_tjs=$(min "$best_tjs" "$t"); all_tjs+="$t,"; log "run $i transformers.js ${t}s"
  fi
  if [[ -z $eager_skip ]]; then
    e=$(eager_run) || { eager_skip="eager PyTorch run failed"; e=""; }
    best_eager=$(min "$best_eager" "$e"); log "run $i eager ${e}s"
  fi
done

python3 - "$n" "$threads" "$batch" "$runs" "$best_sbert" "$best_tjs" "$tjs_skip" "$best_eager" "$eager_skip" "$(nproc)" "$quantize" "$all_sbert" "$all_tjs" "$busy" "$data" <<'EOF'
import json, sys
n, threads, batch, runs = (int(x) for x in sys.argv[1:5])
s, t, tskip, e, eskip, cores, quantize, all_s, all_t, busy, data = sys.argv[5:16]
def rate(x): return n / float(x) if x else None
out = {"data": data, "texts": n, "threads": threads, "batch": batch, "runs": runs, "cores": int(cores),
       "busy": busy == "1",
       "sbert": {"encode_s": float(s), "sentences_per_s": rate(s), "quantize": quantize}}
for name, v, skip in (("transformers_js", t, tskip), ("eager_pytorch", e, eskip)):
    if skip or not v:
        out[name] = {"skipped": skip or "no result"}
    else:
        out[name] = {"encode_s": float(v), "sentences_per_s": rate(v)}
        out["ratio_sbert_over_" + name] = rate(s) / rate(v)
# Each run's pair (sbert, then transformers.js, seconds apart): the ratio within a pair is the
# figure least moved by the machine's drift between minutes.
pairs = [(float(a), float(b)) for a, b in zip(all_s.split(",")[:-1], all_t.split(",")[:-1]) if a and b]
if pairs and "encode_s" in out["transformers_js"]:
    ratios = sorted(b / a for a, b in pairs)
    out["pair_ratios"] = [round(b / a, 3) for a, b in pairs]
    out["median_pair_ratio"] = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
print(json.dumps(out, indent=2))
EOF
