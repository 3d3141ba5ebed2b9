# The PyTorch peer of bench/seq2seq.ts: torch.nn.Transformer of the same size trained on the same
# pairs with the same recipe (pre-LN, sinusoidal positions, embeddings scaled by sqrt(D), output
# tied to the target embedding, cross-entropy ignoring <pad>, AdamW with warm-up + cosine, clipping
# at 1, length-bucketed batches trimmed to their longest row). Prints one JSON line.
#
#   LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp python3 bench/seq2seq_torch.py data.json
import json
import os
import math
import random
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
torch.manual_seed(0)

if sys.argv[1] == "--gemmcheck":  # the peer's fp32 GEMM rate, to see that OpenBLAS is in use
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    t = time.perf_counter()
    for _ in range(3):
        a @ b
    print(json.dumps({"gflops": 3 * 2 * 2048 ** 3 / (time.perf_counter() - t) / 1e9, "threads": torch.get_num_threads()}))
    sys.exit(0)

cfg = json.load(open(sys.argv[1]))
D, H, FF = cfg["dim"], cfg["heads"], cfg["ffDim"]
L_ENC, L_DEC, DROP = cfg["encoderLayers"], cfg["decoderLayers"], cfg["dropout"]
B, STEPS, WARM = cfg["batchSize"], cfg["steps"], cfg["warmupSteps"]
V, MAXLEN = cfg["vocabSize"], cfg["maxLength"]
src_rows, tgt_rows = cfg["sources"], cfg["targets"]  # id lists: sources end with <eos>; targets <bos> ... <eos>
PAD = 0


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, D)
        nn.init.normal_(self.embed.weight, 0, D ** -0.5)
        pe = torch.zeros(MAXLEN, D)
        pos = torch.arange(MAXLEN).unsqueeze(1).float()
        div = torch.exp(torch.arange(0, D, 2).float() * (-math.log(10000.0) / D))
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)
        self.drop = nn.Dropout(DROP)
        self.transformer = nn.Transformer(d_model=D, nhead=H, num_encoder_layers=L_ENC, num_decoder_layers=L_DEC,
                                          dim_feedforward=FF, dropout=DROP, batch_first=True, norm_first=True)
        self.out_bias = nn.Parameter(torch.zeros(V))

    def embed_tokens(self, ids):
        return self.drop(self.embed(ids) * math.sqrt(D) + self.pe[: ids.shape[1]])

    def forward(self, src, src_pad, tgt_in):
        T = tgt_in.shape[1]
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        h = self.transformer(self.embed_tokens(src), self.embed_tokens(tgt_in), tgt_mask=causal,
                             src_key_padding_mask=src_pad, memory_key_padding_mask=src_pad)
        return h @ self.embed.weight.t() + self.out_bias


def batches(rng):
    idx = list(range(len(src_rows)))
    rng.shuffle(idx)
    out = []
    pool = B * 50
    for p in range(0, len(idx), pool):
        chunk = sorted(idx[p:p + pool], key=lambda i: (len(src_rows[i]), len(tgt_rows[i])))
        out += [chunk[a:a + B] for a in range(0, len(chunk), B)]
    rng.shuffle(out)
    return out


def tensor(rows):
    L = max(len(r) for r in rows)
    t = torch.zeros(len(rows), L, dtype=torch.long)
    for i, r in enumerate(rows):
        t[i, : len(r)] = torch.tensor(r)
    return t


model = Model()
model.train()
decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=cfg["lr"], betas=(0.9, 0.98), eps=1e-9)
total, warm_sched = WARM + STEPS, max(1, (WARM + STEPS) // 20)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: (s + 1) / warm_sched if s < warm_sched else 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm_sched) / max(1, total - warm_sched)))))
loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
rng = random.Random(0)
queue = []
step, tokens, t0, losses = 0, 0, None, []
while step < total:
    if not queue:
        queue = batches(rng)
    idx = queue.pop()
    src = tensor([src_rows[i] for i in idx])
    tgt = tensor([tgt_rows[i] for i in idx])
    src_pad = src == PAD
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    if step == WARM:
        t0 = time.perf_counter()
    logits = model(src, src_pad, tgt_in)
    loss = loss_fn(logits.reshape(-1, V), tgt_out.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    if step >= WARM:
        tokens += int((tgt_out != PAD).sum())
    losses.append(float(loss))
    step += 1
seconds = time.perf_counter() - t0
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"tokensPerSec": tokens / seconds, "seconds": seconds, "tokens": tokens, "steps": STEPS, "params": params,
                  "threads": torch.get_num_threads(), "firstLoss": losses[0], "lastLoss": sum(losses[-20:]) / 20}))
