#!/usr/bin/env bash
# Load benchmark of `sbert serve` (a benchmark, never a CI gate): one-sentence POST /embed
# requests from wrk at concurrency 1, 8, 64 and 256 over STS-B sentences, beside `sbert embed`'s
# batch throughput on the same sentences in the same run. Prints one JSON object.
# Usage: bash scripts/bench_serve.sh [MODEL] [SECONDS]   (default: a MiniLM-L6-shaped random model)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SBERT_SHARED:-../shared}
SECS=${2:-10}
command -v wrk >/dev/null || { echo "bench_serve: wrk is not installed (apt-get install wrk); skipped" >&2; exit 0; }
[ -d "$SHARED/data" ] || { echo "bench_serve: $SHARED/data not found; skipped" >&2; exit 0; }
SERVER=; TMP=$(mktemp -d); trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
MODEL=${1:-}
if [ -z "$MODEL" ]; then
  MODEL=$TMP/minilm
  build/make_model --out "$MODEL" --hidden 384 --layers 6 --heads 12 --intermediate 1536 \
    --vocab-from "$SHARED/tokenizers/all-MiniLM-L6-v2" >/dev/null
fi
# STS-B test: tab-separated, the two sentences in columns 6 and 7; distinct sentences in file order.
awk -F'\t' '!seen[$6]++ {print $6} !seen[$7]++ {print $7}' "$SHARED/data/stsb/stsb-test.csv" > "$TMP/all.txt"
head -2000 "$TMP/all.txt" > "$TMP/sent.txt"
N=$(wc -l < "$TMP/sent.txt")
t0=$(date +%s.%N)
build/sbert embed -q --model "$MODEL" --format npy -o "$TMP/batch.npy" "$TMP/sent.txt"
t1=$(date +%s.%N)
BATCH=$(python3 -c "print(round($N/($t1-$t0),1))")

build/sbert serve -q --model "$MODEL" --port 0 --port-file "$TMP/port" --max-concurrent-requests 1024 \
  --http-threads 300 & SERVER=$!
for _ in $(seq 600); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port")
cat > "$TMP/post.lua" <<LUA
local lines = {}
for l in io.lines("$TMP/sent.txt") do lines[#lines + 1] = l:gsub('\\\\', '\\\\\\\\'):gsub('"', '\\\\"') end
local i = 0
request = function()
  i = i % #lines + 1
  return wrk.format("POST", "/embed", {["Content-Type"] = "application/json"}, '{"inputs": "' .. lines[i] .. '"}')
end
LUA
results="["
for c in 1 8 64 256; do
  out=$(wrk -t $(( c < 4 ? c : 4 )) -c $c -d ${SECS}s --latency -s "$TMP/post.lua" "http://127.0.0.1:$PORT" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  results+="{\"concurrency\": $c, \"requests_per_s\": ${rps:-0}, \"p50\": \"${p50}\", \"p99\": \"${p99}\", \"non_2xx\": ${non2xx:-0}},"
done
RSS=$(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)
# One idle request, 20 times: the median latency.
IDLE=$(for _ in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' \
  -d '{"inputs": "A man is playing a guitar."}' "http://127.0.0.1:$PORT/embed"; done | sort -n | sed -n 10p)
kill -TERM $SERVER; wait $SERVER || true
echo "{\"sentences\": $N, \"batch_embed_sentences_per_s\": $BATCH, \"server\": ${results%,}], \"server_peak_rss_kb\": $RSS, \"idle_request_median_s\": $IDLE, \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)\"}"
