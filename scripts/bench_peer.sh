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

# "encode load" seconds of one run of each. sbert's from its closing line, "embedded N texts ... in
# S s (L s loading the model)": encode = S - L (tokenizing, the forward, pooling and writing the
# output; start-up and the model load excluded, as the peers report theirs).
sbert_run() {
  "$sbert" embed --model "$model" --threads "$threads" --batch-size "$batch" --quantize "$quantize" --format npy \
    -o "$work/sbert.npy" "$texts" 2>&1 >/dev/null |
    sed -n 's/.*embedded .* in \([0-9.]*\) s (\([0-9.]*\) s loading the model).*/\1 \2/p' |
    awk '{printf "%.3f %.3f\n", $1 - $2, $2}'
}
tjs_run() {
  (cd "$peer_dir" && node tjs_embed.mjs "$model" "$texts" "$work/tjs.json" "$threads" "$batch") |
    python3 -c 'import json,sys; j=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(j["encode_s"], j["load_s"])'
}
eager_run() {
  "$sbert" tokenize --model "$model" --format jsonl "$texts" >"$work/ids.jsonl" 2>/dev/null
  python3 "$peer_src/eager_embed.py" "$model" "$work/ids.jsonl" "$threads" "$batch" 2>/dev/null |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["encode_s"])'
}

best_eager="" all_sbert="" all_tjs=""
if [[ $busy == 1 ]]; then
  pin=()
  command -v taskset >/dev/null && pin=(taskset -c 0)
  "${pin[@]}" bash -c 'while :; do :; done' &
  hog=$!
  log "busy: background spin loop (pid $hog) ${pin[*]:+pinned to core 0}"
fi
min() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(min(v) if v else '')" "$@"; }
for ((i = 1; i <= runs; i++)); do
  s=$(sbert_run); all_sbert+="${s/ /:},"; log "run $i sbert ${s% *}s (load ${s#* }s)"
  if [[ -z $tjs_skip ]]; then
    t=$(tjs_run) || { tjs_skip="transformers.js run failed"; t=""; }
    all_tjs+="${t/ /:},"; log "run $i transformers.js ${t% *}s (load ${t#* }s)"
  fi
  if [[ -z $eager_skip ]]; then
    e=$(eager_run) || { eager_skip="eager PyTorch run failed"; e=""; }
    best_eager=$(min "$best_eager" "$e"); log "run $i eager ${e}s"
  fi
done

python3 - "$n" "$threads" "$batch" "$runs" "$all_sbert" "$all_tjs" "$tjs_skip" "$best_eager" "$eager_skip" "$(nproc)" "$quantize" "$busy" "$data" <<'EOF'
import json, sys
n, threads, batch, runs = (int(x) for x in sys.argv[1:5])
all_s, all_t, tskip, e, eskip, cores, quantize, busy, data = sys.argv[5:14]
def runs_of(text):  # [(encode, load)] per run, "encode:load," each
    return [tuple(float(v) for v in r.split(":")) for r in text.split(",") if r and ":" in r]
def rate(x): return n / x if x else None
S, T = runs_of(all_s), runs_of(all_t)
if not S:
    sys.exit("bench_peer: no sbert figure (its closing line was not found)")
def side(rs):  # best of the runs: encode (load excluded) and load + encode
    return {"encode_s": min(r[0] for r in rs), "sentences_per_s": rate(min(r[0] for r in rs)),
            "load_s": min(r[1] for r in rs), "load_and_encode_s": min(r[0] + r[1] for r in rs)}
out = {"data": data, "texts": n, "threads": threads, "batch": batch, "runs": runs, "cores": int(cores),
       "busy": busy == "1", "sbert": dict(side(S), quantize=quantize)}
if tskip or not T:
    out["transformers_js"] = {"skipped": tskip or "no result"}
else:
    out["transformers_js"] = side(T)
    out["ratio_sbert_over_transformers_js"] = out["transformers_js"]["encode_s"] / out["sbert"]["encode_s"]
    out["ratio_load_and_encode"] = out["transformers_js"]["load_and_encode_s"] / out["sbert"]["load_and_encode_s"]
    # Each run's pair (sbert, then transformers.js, seconds apart): the ratio within a pair is the
    # figure least moved by the machine's drift between minutes.
    ratios = [t[0] / s[0] for s, t in zip(S, T)]
    out["pair_ratios"] = [round(r, 3) for r in ratios]
    r = sorted(ratios)
    out["median_pair_ratio"] = r[len(r) // 2] if len(r) % 2 else (r[len(r) // 2 - 1] + r[len(r) // 2]) / 2
if eskip or not e:
    out["eager_pytorch"] = {"skipped": eskip or "no result"}
else:
    out["eager_pytorch"] = {"encode_s": float(e), "sentences_per_s": rate(float(e))}
    out["ratio_sbert_over_eager_pytorch"] = float(e) / out["sbert"]["encode_s"]
print(json.dumps(out, indent=2))
EOF
