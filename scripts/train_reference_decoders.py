#!/usr/bin/env python3
"""Reference training steps for `sbert train bi` on the rotary decoders, independent of sbert's
model code: ../shared/reference's eager ports of transformers' Qwen3Model / Gemma3TextModel under
torch autograd, sentence-transformers' pipeline after it (the fixture's Pooling, Dense, Normalize),
CosineSimilarityLoss (MSE of cos(u, v) against score / 5), torch.optim.AdamW with the weight-decay
groups of transformers' Trainer (no decay on biases and norms), grad-norm clipping at 1.0, a
constant learning rate. Writes the losses and gradient norms of each step as JSON (stdout), the
values tests/nn/train_decoder_reference_test.cpp checks sbert against.

  python3 scripts/train_reference_decoders.py > tests/nn/data/train_reference_decoders.json

Token ids: `sbert tokenize` of each stripped text (its tokenizer is checked against Hugging Face's
Tokenizers.js by tests/tokenizer/bpe_golden_test.cpp); SBERT (default build/sbert) names the binary.
Needs Debian's python3-torch and python3-numpy; SBERT_SHARED (default ../shared).
"""
import json, os, re, subprocess, sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SBERT_SHARED", os.path.join(ROOT, "..", "shared"))
SBERT = os.environ.get("SBERT", os.path.join(ROOT, "build", "sbert"))
sys.path.insert(0, os.path.join(SHARED, "reference"))
torch.set_num_threads(2)

STEPS, BATCH, LR, WD = 3, 8, 1e-3, 0.01


def rows():
    out = []
    with open(os.path.join(SHARED, "data/stsb/stsb-train.csv"), encoding="utf-8") as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            out.append((c[5], c[6], float(c[4]) / 5.0))
            if len(out) == STEPS * BATCH:
                return out


def token_ids(model, texts):
    inp = "".join(json.dumps({"text": t.strip()}) + "\n" for t in texts)
    r = subprocess.run([SBERT, "tokenize", "-q", "-m", model, "--input-format", "jsonl", "-"], input=inp,
                       capture_output=True, text=True, check=True)
    return [json.loads(l)["ids"] for l in r.stdout.splitlines()]


def read_safetensors(path):
    """F32 / F16 / BF16 safetensors to float32 tensors (the ports' readers lack BF16)."""
    import numpy as np, struct
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    out = {}
    for k, v in json.loads(b[8:8 + n]).items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        raw = b[8 + n + s:8 + n + e]
        if v["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype={"F32": "<f4", "F16": "<f2"}[v["dtype"]]).astype(np.float32)
        out[k] = torch.from_numpy(a.reshape(v["shape"]).copy())
    return out


def no_decay(name):
    n = name.lower()
    return bool(re.search(r"bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)", n))


def run(name):
    folder = os.path.join(SHARED, "fixtures/models", name)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    if cfg["model_type"] == "qwen3":
        import qwen3_embed as ref
        ref.read_safetensors = read_safetensors
        model = ref.Qwen3Ref(folder)
        fwd = lambda ids, mask: ref.Qwen3Ref.forward.__wrapped__(model, ids, mask)
        mode = "lasttoken"
    else:
        import gemma3_embed as ref
        ref.read_safetensors = read_safetensors
        model = ref.Gemma3TextModelRef(folder)
        fwd = lambda ids, mask: ref.Gemma3TextModelRef.forward.__wrapped__(model, ids, mask)
        mode = "mean"
    params = {k: v.clone().requires_grad_(True) for k, v in model.w.items()}
    model.w = params
    # sentence-transformers modules after the transformer (Dense: folder/linear weights).
    modules = json.load(open(os.path.join(folder, "modules.json")))
    dense = []
    for m in modules[2:]:
        if m["type"].endswith("Dense"):
            d = os.path.join(folder, m["path"])
            w = read_safetensors(os.path.join(d, "model.safetensors"))
            c = json.load(open(os.path.join(d, "config.json")))
            assert c["activation_function"].endswith("Identity")
            key = m["path"] + "/"
            for k, v in w.items():
                params[key + k] = v.clone().requires_grad_(True)
            dense.append((params[key + "linear.weight"], params.get(key + "linear.bias")))
    data = rows()
    decay = [p for k, p in params.items() if not no_decay(k)]
    nodecay = [p for k, p in params.items() if no_decay(k)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.999), eps=1e-8)

    def embed(ids_list):
        T = max(len(x) for x in ids_list)
        ids = torch.zeros((len(ids_list), T), dtype=torch.long)
        mask = torch.zeros((len(ids_list), T), dtype=torch.long)
        for r, x in enumerate(ids_list):
            ids[r, :len(x)] = torch.tensor(x)
            mask[r, :len(x)] = 1
        h = fwd(ids, mask)
        if mode == "lasttoken":
            v = h[torch.arange(len(ids_list)), mask.sum(1) - 1]
        else:
            m = mask.unsqueeze(-1).float()
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        for w, b in dense:
            v = torch.nn.functional.linear(v, w, b)
        return torch.nn.functional.normalize(v, p=2, dim=1)

    losses, norms = [], []
    for s in range(STEPS):
        batch = data[s * BATCH:(s + 1) * BATCH]
        a = token_ids(folder, [x[0] for x in batch])
        b = token_ids(folder, [x[1] for x in batch])
        labels = torch.tensor([x[2] for x in batch])
        u, v = embed(a), embed(b)
        loss = torch.nn.functional.mse_loss(torch.cosine_similarity(u, v), labels)
        opt.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)))
        opt.step()
        losses.append(float(loss))
    return {"model": "fixtures/models/" + name, "loss": "cosine", "rows": STEPS * BATCH, "batch_size": BATCH,
            "lr": LR, "weight_decay": WD, "losses": losses, "grad_norms": norms}


if __name__ == "__main__":
    out = {"made_by": "scripts/train_reference_decoders.py (torch " + torch.__version__ + ", ../shared/reference ports)",
           "data": "data/stsb/stsb-train.csv, first 24 rows: sentence1 col 6, sentence2 col 7, score col 5 / 5",
           "cases": [run(n) for n in ["qwen3-embedding-lasttoken", "embeddinggemma-mean-dense"]]}
    print(json.dumps(out, indent=1))
