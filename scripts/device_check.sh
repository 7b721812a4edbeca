#!/usr/bin/env bash
# Runs ON the GPU machine (see ../shared/device/README.md): builds sbert against the CUDA libtorch,
# runs the parity tests, checks CUDA output against CPU output, and times embedding on CPU and GPU
# (and sentence-transformers on the same shape when it is installed). Needs .devdeps and .fx
# (a copy of the needed ../shared files) carried along. Logs and JSON go to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
source .devdeps/build-cuda.sh >/dev/null
set +e  # build-cuda.sh turns -e on; a failing test must not end the run
# Debian's libcurl needs libssh2/ldap the GPU box lacks: link the box's own libcurl.so.4.
L=/opt/devdeps/usr/lib/x86_64-linux-gnu
if [ -e /usr/lib/x86_64-linux-gnu/libcurl.so.4 ]; then
  rm -f $L/libcurl.so.4*; ln -sf /usr/lib/x86_64-linux-gnu/libcurl.so.4 $L/libcurl.so
fi
export SBERT_SHARED=$PWD/.fx
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1
{ cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release && cmake --build build-cuda -j 16; } > "$OUT/build.log" 2>&1
echo "build rc=$?" | tee -a "$OUT/summary.txt"
[ -n "${SKIP_CTEST:-}" ] || ctest --test-dir build-cuda -R "EncoderParity|EncoderEndToEnd|EncoderBatching|Classifier|Tokenizer|EmbedGolden|EmbedCli|NliCli" \
  --output-on-failure -j 8 > "$OUT/ctest.log" 2>&1
echo "ctest rc=$?" | tee -a "$OUT/summary.txt"
tail -4 "$OUT/ctest.log" >> "$OUT/summary.txt"

S=build-cuda/sbert
M=.fx/fixtures/models/bert-wordpiece-mean-norm
python3 - <<'PY' > /tmp/texts.jsonl
import json
g = json.load(open(".fx/fixtures/golden/bert-wordpiece-mean-norm.json"))
for t in g["texts"]: print(json.dumps({"text": t}))
PY
for dev in cpu cuda; do
  for dt in float32 float16 bfloat16; do
    $S embed -q --model $M --device $dev --dtype $dt --input-format jsonl --format npy -o /tmp/$dev-$dt.npy /tmp/texts.jsonl 2>>"$OUT/summary.txt"
  done
done
python3 - <<'PY' >> "$OUT/summary.txt"
import json, numpy as np
g = json.load(open(".fx/fixtures/golden/bert-wordpiece-mean-norm.json"))
ref = np.array(g["st_encode"], dtype=np.float32).reshape(g["st_encode_shape"])
for dev in ["cpu", "cuda"]:
    for dt in ["float32", "float16", "bfloat16"]:
        try:
            x = np.load(f"/tmp/{dev}-{dt}.npy")
            cos = (x * ref).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(ref, axis=1)
            print(f"parity {dev} {dt}: max_abs_diff={np.abs(x-ref).max():.3g} min_cos={cos.min():.7f}")
        except Exception as e:
            print(f"parity {dev} {dt}: failed {e}")
PY

# Throughput: a random model in the all-MiniLM-L6-v2 shape and the bge-base shape.
build-cuda/make_model --out /tmp/minilm --vocab-from .fx/tokenizers/all-MiniLM-L6-v2 --hidden 384 --layers 6 \
  --heads 12 --intermediate 1536 --max-seq-length 256 --pooling mean > /dev/null 2>&1
build-cuda/make_model --out /tmp/bge --vocab-from .fx/tokenizers/all-MiniLM-L6-v2 --hidden 768 --layers 12 \
  --heads 12 --intermediate 3072 --max-seq-length 512 --pooling cls > /dev/null 2>&1
cut -f6,7 .fx/data/stsb/stsb-test.csv | tr '\t' '\n' > /tmp/stsb.txt
tail -n +2 .fx/data/korsts/korsts-test.tsv | cut -f6,7 | tr '\t' '\n' > /tmp/korsts.txt
for model in ${BENCH_MODELS:-minilm bge}; do
  for data in stsb korsts; do
    for cfg in "cpu float32 32" "cuda float32 128" "cuda float16 128" "cuda bfloat16 128"; do
      set -- $cfg
      $S embed -q --model /tmp/$model --device $1 --dtype $2 --batch-size $3 --format npy -o /tmp/x.npy /tmp/$data.txt 2>/dev/null  # warm-up
      t0=$(date +%s.%N)
      /usr/bin/time -f "%M" -o /tmp/rss $S embed -q --model /tmp/$model --device $1 --dtype $2 --batch-size $3 --format npy -o /tmp/x.npy /tmp/$data.txt
      t1=$(date +%s.%N)
      n=$(wc -l < /tmp/$data.txt)
      echo "{\"model\": \"$model\", \"data\": \"$data\", \"device\": \"$1\", \"dtype\": \"$2\", \"batch\": $3, \"sentences\": $n, \"seconds_with_startup\": $(python3 -c "print(round($t1 - $t0, 3))"), \"sentences_per_s\": $(python3 -c "print(round($n / ($t1 - $t0), 1))"), \"peak_rss_kb\": $(cat /tmp/rss)}" >> "$OUT/bench.jsonl"
    done
  done
done
t0=$(date +%s.%N); $S --version > /dev/null; t1=$(date +%s.%N); echo "startup --version: $(python3 -c "print(round($t1 - $t0, 3))") s" >> "$OUT/summary.txt"
t0=$(date +%s.%N); echo hello | $S embed -q --model /tmp/minilm > /dev/null; t1=$(date +%s.%N); echo "echo hello | embed (cpu): $(python3 -c "print(round($t1 - $t0, 3))") s" >> "$OUT/summary.txt"

# sentence-transformers on the same random model, same sentences (reference speed on this machine).
/opt/torch/.venv/bin/python - <<'PY' >> "$OUT/bench.jsonl" 2>>"$OUT/summary.txt" || python3 - <<'PY2' >> "$OUT/bench.jsonl" 2>>"$OUT/summary.txt"
import json, time, torch
from sentence_transformers import SentenceTransformer
import os
for model in os.environ.get("BENCH_MODELS", "minilm bge").split():
    for data in ["stsb", "korsts"]:
        texts = open(f"/tmp/{data}.txt").read().split("\n")[:-1]
        for dev, dt in [("cpu", torch.float32), ("cuda", torch.float32), ("cuda", torch.float16)]:
            m = SentenceTransformer(f"/tmp/{model}", device=dev, model_kwargs={"torch_dtype": dt})
            bs = 32 if dev == "cpu" else 128
            m.encode(texts[:256], batch_size=bs)
            if dev == "cuda": torch.cuda.synchronize()
            t0 = time.time(); m.encode(texts, batch_size=bs)
            if dev == "cuda": torch.cuda.synchronize()
            dtn = str(dt).split(".")[1]
            print(json.dumps({"model": model, "data": data, "impl": "sentence-transformers", "device": dev, "dtype": dtn, "batch": bs, "sentences_per_s": len(texts) / (time.time() - t0)}))
PY
print("{}")
PY2
echo done >> "$OUT/summary.txt"
