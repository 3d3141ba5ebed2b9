"""PyTorch peer for bench/infonce.ts: CLIP's loss over the explicit N x N logits,
logits = s * a @ b.T; (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2, with the
rows L2-normalised first (F.normalize), forward + backward.

Run by bench/infonce.ts with LD_LIBRARY_PATH pointing at OpenBLAS (openmp) and 2 threads.
Usage: infonce_torch.py N mode   (mode: fwdbwd | idle)
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
N, mode = int(sys.argv[1]), sys.argv[2]
D = 512


torch.manual_seed(0)
image = torch.randn(N, D, requires_grad=True)
text = torch.randn(N, D, requires_grad=True)
log_scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
y = torch.arange(N)


def clip_loss():
    a, b = F.normalize(image, dim=1), F.normalize(text, dim=1)
    logits = log_scale.exp() * a @ b.T
    return (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2


times, loss = [], 0.0
if mode != "idle":
    reps = 5 if N <= 4096 else 3
    for r in range(reps + 1):
        t0 = time.perf_counter()
        L = clip_loss()
        L.backward()
        loss = L.item()
        for t in (image, text, log_scale):
            t.grad = None
        if r > 0:  # the first run warms up
            times.append(time.perf_counter() - t0)
print(json.dumps({"ms": sorted(times)[len(times) // 2] * 1000 if times else 0, "loss": loss}))
