"""The PyTorch side of bench/gpt.ts: a plain nanoGPT-style GPT-2 (pre-LN, learned positions, GELU
(tanh), biases, head tied to the token table, explicit masked-softmax attention) on the weights qkv
wrote in Hugging Face's layout (Conv1D weights [in, out], transposed here into nn.Linear), so that
both sides start from the same numbers. One measurement per process, so that its peak RSS
(resource.getrusage) is its own; one JSON line out.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/gpt_torch.py MODE spec.json

MODE: gemmcheck | shakespeare | train | generate | forward | decode (see the functions below).
Set up at its best: OpenBLAS with OpenMP (Debian's torch otherwise takes the reference BLAS),
torch.set_num_threads(threads), no autograd where none is needed.
"""
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from mlp_torch import gemm_gflops  # the fp32 GEMM rate at 2048² (bench/ is on sys.path)


def median(xs):
    return sorted(xs)[len(xs) // 2]


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Block(nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.H, self.scale = H, 1.0 / math.sqrt(D // H)
        self.ln_1, self.ln_2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.c_attn, self.c_proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.c_fc, self.mlp_proj = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def attn(self, x, cache):
        B, T, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        heads = lambda t: t.view(B, T, self.H, D // self.H).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)
        if cache is not None:  # a plain key/value cache: concatenate the new positions
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        S = k.shape[2]
        s = (q @ k.transpose(-2, -1)) * self.scale
        if cache is None or T > 1:  # (a cached single step sees every key)
            mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
            s = s.masked_fill(~mask, float("-inf"))
        y = (F.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
        return self.c_proj(y)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, P, D, L, H):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(P, D)
        self.h = nn.ModuleList([Block(D, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(D)
        # GPT-2 / nanoGPT init (qkv's): N(0, 0.02²), residual projections N(0, (0.02/√(2L))²), zero biases.
        for n, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0, 0.02 / math.sqrt(2 * L) if n.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02)
            elif n.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids, caches=None, offset=0):
        x = self.wte(ids) + self.wpe.weight[offset:offset + ids.shape[1]]
        for i, b in enumerate(self.h):
            x = b(x, None if caches is None else caches[i])
        return self.ln_f(x) @ self.wte.weight.t()  # tied head

    def decayed(self):
        """qkv's rule (and here the peer's): AdamW decay on the Linear weights only, not on the two
        tables (nanoGPT also decays wte/wpe) nor on biases and norms."""
        return [p for n, p in self.named_parameters() if p.dim() >= 2 and not n.startswith(("wte", "wpe"))]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        assert v["dtype"] == "F32", v["dtype"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy())
    return out


HF_BLOCK = {"ln_1.weight": "ln_1.weight", "ln_1.bias": "ln_1.bias", "attn.c_attn.weight": "c_attn.weight", "attn.c_attn.bias": "c_attn.bias",
            "attn.c_proj.weight": "c_proj.weight", "attn.c_proj.bias": "c_proj.bias", "ln_2.weight": "ln_2.weight", "ln_2.bias": "ln_2.bias",
            "mlp.c_fc.weight": "c_fc.weight", "mlp.c_fc.bias": "c_fc.bias", "mlp.c_proj.weight": "mlp_proj.weight", "mlp.c_proj.bias": "mlp_proj.bias"}


def model_from(spec):
    """spec["weights"]: a Hugging Face GPT-2 directory written by qkv (the same weights); else
    spec["shape"] = {vocab, maxLength, dim, layers, heads}, GPT-2-initialised from seed 0."""
    torch.manual_seed(0)
    if "weights" not in spec:
        s = spec["shape"]
        return GPT(s["vocab"], s["maxLength"], s["dim"], s["layers"], s["heads"])
    cfg = json.load(open(os.path.join(spec["weights"], "config.json")))
    m = GPT(cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"])
    w = read_safetensors(os.path.join(spec["weights"], "model.safetensors"))
    state = {"wte.weight": w["transformer.wte.weight"], "wpe.weight": w["transformer.wpe.weight"],
             "ln_f.weight": w["transformer.ln_f.weight"], "ln_f.bias": w["transformer.ln_f.bias"]}
    for i in range(cfg["n_layer"]):
        for hf, ours in HF_BLOCK.items():
            t = w[f"transformer.h.{i}.{hf}"]
            state[f"h.{i}.{ours}"] = t.t().contiguous() if hf.endswith("weight") and t.dim() == 2 else t  # Conv1D [in, out] -> Linear
    m.load_state_dict(state, strict=True)
    return m


def adamw(model, lr, beta2, wd):
    decay = {id(p) for p in model.decayed()}
    params = list(model.parameters())
    return torch.optim.AdamW([{"params": [p for p in params if id(p) in decay], "weight_decay": wd},
                              {"params": [p for p in params if id(p) not in decay], "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, beta2), eps=1e-8)


def qkv_schedule(opt, lr, min_lr, warmup, total):
    """qkv's warmupCosine: lr·(s+1)/warmup, then min_lr + (lr - min_lr)·½(1 + cos(π·p)) over the rest."""
    def f(s):
        if s < warmup:
            return (s + 1) / warmup
        p = min(1.0, max(0.0, (s - warmup) / max(1, total - warmup)))
        return (min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))) / lr
    return torch.optim.lr_scheduler.LambdaLR(opt, f)


def step(model, opt, x, y, clip):
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss


def gemmcheck(spec):
    g = gemm_gflops(torch.get_num_threads())
    return {"gflops": g["gflops"], "perThread": g["per_thread"], "torch": torch.__version__}


@torch.no_grad()
def evaluate(model, val, T):
    """qkv's GPT.evaluate: non-overlapping windows of T + 1 tokens (every token predicted once; the
    last window shorter), loss summed over predicted tokens."""
    model.eval()
    total, count = 0.0, 0
    starts = list(range(0, len(val) - 1, T))
    for a in range(0, len(starts), 16):
        part = starts[a:a + 16]
        full = [s for s in part if s + T + 1 <= len(val)]
        groups = [full] + [[s] for s in part if s + T + 1 > len(val)]
        for g in groups:
            if not g:
                continue
            w = min(T + 1, min(len(val) - s for s in g))
            x = torch.stack([val[s:s + w] for s in g])
            logits = model(x[:, :-1])
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum"))
            count += x.shape[0] * (w - 1)
    model.train()
    return total / count


def shakespeare(spec):
    """nanoGPT's shakespeare_char CPU recipe from qkv's initial weights. Batches: qkv's packing (windows
    of context + 1 at a random phase each epoch, shuffled), not nanoGPT's random offsets."""
    model = model_from(spec)
    train = torch.from_numpy(np.fromfile(spec["train"], dtype="<i4").astype(np.int64))
    val = torch.from_numpy(np.fromfile(spec["val"], dtype="<i4").astype(np.int64))
    T, B, steps = spec["context"], spec["batch"], spec["steps"]
    opt = adamw(model, spec["lr"], spec["beta2"], spec["weightDecay"])
    sched = qkv_schedule(opt, spec["lr"], spec["minLr"], spec["warmupSteps"], steps)
    g = torch.Generator().manual_seed(1)
    windows = (len(train) - T) // T
    queue, done, losses = [], 0, []
    t0 = time.perf_counter()
    while done < steps:
        if not queue:
            phase = int(torch.randint(T, (1,), generator=g))
            order = (torch.randperm(windows, generator=g) * T + phase).tolist()
            queue = [order[i:i + B] for i in range(0, windows, B)][::-1]
        starts = queue.pop()
        x = torch.stack([train[s:s + T + 1] for s in starts])
        losses.append(float(step(model, opt, x[:, :-1], x[:, 1:], spec["clipNorm"])))
        sched.step()
        done += 1
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "valLoss": evaluate(model, val, T), "trainLoss": sum(losses[-50:]) / len(losses[-50:]),
            "firstLoss": losses[0], "steps": done}


def train(spec):
    """Training tokens/s on random tokens: `warmup` steps, then `steps` timed (forward, loss, backward, clip, AdamW)."""
    model = model_from(spec)
    s = spec["shape"]
    g = torch.Generator().manual_seed(0)
    B, T = spec["batch"], spec["context"]
    opt = adamw(model, 1e-4, 0.95, 0.1)
    rates = []
    for i in range(spec["warmup"] + spec["steps"]):
        x = torch.randint(s["vocab"], (B, T + 1), generator=g)
        t0 = time.perf_counter()
        step(model, opt, x[:, :-1], x[:, 1:], 1.0)
        if i >= spec["warmup"]:
            rates.append(time.perf_counter() - t0)
    return {"tokensPerSec": B * T * len(rates) / sum(rates), "stepMs": 1000 * median(rates)}


def greedy(model, prompt, new):
    """Greedy decoding with a plain cached loop: the prompt at once, then one token a step."""
    caches = [[] for _ in model.h]
    ids = torch.tensor([prompt])
    out, pos = [], 0
    for _ in range(new):
        logits = model(ids, caches, pos)
        pos += ids.shape[1]
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        ids = torch.tensor([[nxt]])
    return out


@torch.no_grad()
def generate(spec):
    model = model_from(spec).eval()
    prompt, new = spec["prompt"], spec["newTokens"]
    greedy(model, prompt, 8)  # warm-up
    times, ids = [], None
    for _ in range(spec["reps"]):
        t0 = time.perf_counter()
        ids = greedy(model, prompt, new)
        times.append(time.perf_counter() - t0)
    return {"tokensPerSec": new / median(times), "ids": ids}


@torch.no_grad()
def decode(spec):
    """Decode tokens/s without the prompt's share: (t(1 + n new) - t(1 new)) / n, medians."""
    model = model_from(spec).eval()
    prompt, new = spec["prompt"], spec["newTokens"]
    greedy(model, prompt, 4)
    t1, tn = [], []
    for _ in range(spec["reps"]):
        t0 = time.perf_counter()
        greedy(model, prompt, 1)
        t1.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        greedy(model, prompt, 1 + new)
        tn.append(time.perf_counter() - t0)
    return {"tokensPerSec": new / (median(tn) - median(t1)), "prefillMs": 1000 * median(t1)}


@torch.no_grad()
def forward(spec):
    """Forward latency (logits of one row of `ids`) in eager PyTorch; writes the logits (for the
    others' check) and exports the same model to ONNX for onnxruntime-node."""
    model = model_from(spec).eval()
    x = torch.tensor([spec["ids"]])
    logits = model(x)
    logits.numpy().astype("<f4").tofile(spec["logitsOut"])
    times = []
    for _ in range(spec["reps"]):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    out = {"ms": 1000 * median(times)}
    if spec.get("onnxOut"):
        t0 = time.perf_counter()
        class Logits(nn.Module):  # forward(ids) alone: traced, the default arguments would become graph inputs
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, ids):
                return self.m(ids)

        torch.onnx.export(Logits(model), (x,), spec["onnxOut"], input_names=["ids"], output_names=["logits"], opset_version=14, do_constant_folding=True,
                          keep_initializers_as_inputs=False)
        out["onnxExportSeconds"] = time.perf_counter() - t0
    return out


def main():
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    mode = sys.argv[1]
    spec = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else {}
    out = {"gemmcheck": gemmcheck, "shakespeare": shakespeare, "train": train, "generate": generate, "forward": forward, "decode": decode}[mode](spec)
    out.update({"maxRssMB": max_rss_mb(), "threads": torch.get_num_threads()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
