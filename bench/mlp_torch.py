"""The PyTorch side of bench/mlp.ts: the same MLP, batch, data and optimizer, trained for the same
number of epochs; prints one JSON line per configuration.

Run by bench/mlp.ts as
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/mlp_torch.py <spec.json>
where spec.json names the data files (raw little-endian float32 inputs [N, in], int32 targets [N]).
Set up at its best: OpenBLAS with OpenMP (Debian's torch otherwise takes the reference BLAS, 20-40x slower) through LD_LIBRARY_PATH and
torch.set_num_threads(threads); the first line out reports the fp32 GEMM rate at 2048^2 so that a
crippled BLAS is seen before any ratio is quoted. Then it reads one configuration per line on stdin
(so that bench/mlp.ts can alternate with qkv, config by config) and answers each with its rates.
"""
import json
import sys
import time

import numpy as np
import torch


def gemm_gflops(threads):
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    g = 2 * 2048 ** 3 / sorted(times)[len(times) // 2] / 1e9
    return {"gflops": g, "per_thread": g / threads}


def build(c):
    layers, prev = [], c["in"]
    for h in c["hidden"]:
        layers.append(torch.nn.Linear(prev, h))
        if c["layerNorm"]:
            layers.append(torch.nn.LayerNorm(h))
        layers.append(torch.nn.GELU() if c["activation"] == "gelu" else torch.nn.ReLU())
        prev = h
    layers.append(torch.nn.Linear(prev, c["out"]))
    return torch.nn.Sequential(*layers)


def train(model, opt, x, y, batch, epochs, gen):
    n = x.shape[0]
    samples = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            samples += idx.numel()
    return samples / (time.perf_counter() - t0), loss.item()


def main():
    spec = json.load(open(sys.argv[1]))
    threads = spec["threads"]
    torch.set_num_threads(threads)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "gemm2048": gemm_gflops(threads),
                      "blas": torch.__config__.show().count("BLAS")}), flush=True)
    n, d = spec["n"], spec["in"]
    x = torch.from_numpy(np.fromfile(spec["inputs"], dtype="<f4").reshape(n, d).copy())
    y = torch.from_numpy(np.fromfile(spec["targets"], dtype="<i4").astype(np.int64))
    for line in sys.stdin:
        c = json.loads(line)
        if c.get("quit"):
            break
        torch.manual_seed(0)
        model = build(c)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        gen = torch.Generator().manual_seed(0)
        train(model, opt, x, y, c["batch"], 1, gen)  # warm-up epoch
        rates = []
        for _ in range(spec["repeats"]):
            rate, loss = train(model, opt, x, y, c["batch"], spec["epochs"], gen)
            rates.append(rate)
        print(json.dumps({"name": c["name"], "rates": rates, "loss": loss}), flush=True)


if __name__ == "__main__":
    main()
