#!/usr/bin/env bash
# Learning check for `sbert train` (a benchmark, not a test): trains the fixture models and
# prints the dev curves from the JSONL logs.
#   bash scripts/train_learning.sh [build/sbert] [../shared] [out-folder]
#  1. bi-encoder bert-wordpiece-mean-norm, CosineSimilarityLoss, STS-B train, lr 1e-3, batch 16,
#     3 epochs, evaluated on STS-B test (Spearman) before training and at each epoch end;
#  2. cross-encoder cross-encoder-bert, BCEWithLogitsLoss, STS-B train, 1 epoch, STS-B test;
#  3. NLI cross-encoder: the plain bert-kobert-spm encoder with a new 3-label head, KorNLI (XNLI-ko) dev as training data, test
#     as evaluation, CrossEntropyLoss over entailment/neutral/contradiction (chance: 1/3).
set -euo pipefail
SBERT=${1:-build/sbert}
SHARED=${2:-../shared}
OUT=${3:-$(mktemp -d)}
M=$SHARED/fixtures/models
STS=(--input-format tsv --no-header --a-column 5 --b-column 6 --label-column 4 --score-scale 5)
curve() { grep '"eval"' "$1" | sed 's/^/  /'; }

echo "== bi-encoder, CosineSimilarityLoss, STS-B (dev = STS-B test)"
"$SBERT" train bi --model "$M/bert-wordpiece-mean-norm" --loss cosine \
  --train "$SHARED/data/stsb/stsb-train.csv" --dev "$SHARED/data/stsb/stsb-test.csv" "${STS[@]}" \
  --lr 1e-3 --batch-size 16 --epochs 3 -o "$OUT/bi-stsb" --overwrite --log "$OUT/bi-stsb.jsonl" -q
curve "$OUT/bi-stsb.jsonl"

echo "== cross-encoder, BCEWithLogitsLoss, STS-B (dev = STS-B test)"
"$SBERT" train cross --model "$M/cross-encoder-bert" --loss bce \
  --train "$SHARED/data/stsb/stsb-train.csv" --dev "$SHARED/data/stsb/stsb-test.csv" "${STS[@]}" \
  --lr 1e-3 --batch-size 16 --epochs 1 -o "$OUT/cross-stsb" --overwrite --log "$OUT/cross-stsb.jsonl" -q
curve "$OUT/cross-stsb.jsonl"

echo "== NLI cross-encoder, CrossEntropyLoss, KorNLI (train = XNLI-ko dev, dev = XNLI-ko test)"
"$SBERT" train cross --model "$M/bert-kobert-spm" --loss ce --num-labels 3 \
  --train "$SHARED/data/kornli/xnli-dev-ko.tsv" --dev "$SHARED/data/kornli/xnli-test-ko.tsv" \
  --a-column sentence1 --b-column sentence2 --label-column gold_label \
  --label-names entailment,neutral,contradiction \
  --lr 1e-3 --batch-size 16 --epochs 3 -o "$OUT/nli-kornli" --overwrite --log "$OUT/nli-kornli.jsonl" -q
curve "$OUT/nli-kornli.jsonl"
