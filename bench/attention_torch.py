"""PyTorch peer for bench/attention.ts: explicit causal attention (matmul + mask + softmax + matmul).

Run by bench/attention.ts with LD_LIBRARY_PATH pointing at OpenBLAS (openmp) and 2 threads.
Usage: attention_torch.py T mode   (mode: fwd | fwdbwd | idle | gemmcheck)
"""
import json
import sys
import time

import torch

torch.set_num_threads(2)
T, mode = int(sys.argv[1]), sys.argv[2]
B, H, D = 1, 8, 64


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


if mode == "gemmcheck":
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    t0 = time.perf_counter()
    for _ in range(3):
        a @ b
    dt = (time.perf_counter() - t0) / 3
    print(json.dumps({"gflops": 2 * 2048**3 / dt / 1e9, "threads": torch.get_num_threads()}))
    sys.exit(0)

torch.manual_seed(0)
q = torch.randn(B, H, T, D, requires_grad=mode == "fwdbwd")
k = torch.randn(B, H, T, D, requires_grad=mode == "fwdbwd")
v = torch.randn(B, H, T, D, requires_grad=mode == "fwdbwd")
mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


def attend():
    s = (q @ k.transpose(-2, -1)) / D**0.5
    s = s.masked_fill(mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


times = []
if mode != "idle":
    reps = 5 if T <= 2048 else 3
    for r in range(reps + 1):
        t0 = time.perf_counter()
        if mode == "fwd":
            with torch.no_grad():
                attend()
        else:
            out = attend()
            out.backward(torch.ones_like(out))
        if r > 0:  # the first run warms up
            times.append(time.perf_counter() - t0)
print(json.dumps({"ms": median(times) * 1000 if times else 0}))
