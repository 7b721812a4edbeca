#!/usr/bin/env python3
"""Eager PyTorch peer for the rotary decoders: times ../shared/reference's ports of transformers'
Qwen3Model (qwen3_embed.py) and Gemma3TextModel (gemma3_embed.py) on the same weights and token
ids as `sbert embed`, batches padded on the right as sentence-transformers pads them (longest
first), last-token (Qwen3) or mean (Gemma) pooling + normalize. Prints one JSON object.

  python3 scripts/peer/eager_decoder.py MODEL_DIR IDS.jsonl [--threads 2] [--batch 32]

IDS.jsonl: the output of `sbert tokenize -m MODEL_DIR TEXTS` (one {"ids": [...]} per line).
Needs Debian's python3-torch and python3-numpy; SBERT_SHARED (default ../shared) names the
folder with reference/.
"""
import argparse, json, os, sys, time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("ids")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch", type=int, default=32)
a = ap.parse_args()
shared = os.environ.get("SBERT_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
sys.path.insert(0, os.path.join(shared, "reference"))
torch.set_num_threads(a.threads)
cfg = json.load(open(os.path.join(a.model, "config.json")))
t0 = time.time()
if cfg["model_type"] == "qwen3":
    import qwen3_embed as ref
    model, mode = ref.Qwen3Ref(a.model), "lasttoken"
    forward = lambda ids, mask: model.forward(ids, mask)
else:
    import gemma3_embed as ref
    model, mode = ref.Gemma3TextModelRef(a.model), "mean"
    forward = lambda ids, mask: model.forward(ids, mask)
load_s = time.time() - t0
seqs = [json.loads(l)["ids"] for l in open(a.ids)]
order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
pad = cfg.get("pad_token_id") or 0
t0 = time.time()
tokens = 0
with torch.no_grad():
    for b in range(0, len(order), a.batch):
        idx = order[b:b + a.batch]
        T = max(len(seqs[i]) for i in idx)
        ids = torch.full((len(idx), T), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), T), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
            mask[r, :len(seqs[i])] = 1
            tokens += len(seqs[i])
        h = forward(ids, mask)
        if mode == "lasttoken":
            last = mask.sum(1) - 1
            v = h[torch.arange(len(idx)), last]
        else:
            m = mask.unsqueeze(-1).float()
            v = (h * m).sum(1) / m.sum(1)
        torch.nn.functional.normalize(v, dim=-1)
s = time.time() - t0
print(json.dumps({"peer": "eager PyTorch " + torch.__version__ + " (reference port)", "threads": a.threads,
                  "batch": a.batch, "sentences": len(seqs), "tokens": tokens, "load_s": round(load_s, 2),
                  "encode_s": round(s, 2), "sentences_per_s": round(len(seqs) / s, 2)}))
