"""The PyTorch side of bench/conv.ts: conv2d forward + backward (input, weight and bias gradients)
in float32 on the shape given as JSON in argv[1], with torch.set_num_threads(threads); prints one
JSON line with the median milliseconds per step and the backends PyTorch has (mkldnn, BLAS).

Run by bench/conv.ts as
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/conv_torch.py '<spec>'
(OpenBLAS with OpenMP: Debian's torch otherwise takes the reference BLAS, many times slower).
"""
import json
import sys
import time

import torch

spec = json.loads(sys.argv[1])
torch.set_num_threads(spec["threads"])
torch.manual_seed(0)
N, C, O, H, W, K = (spec[k] for k in ("N", "C", "O", "H", "W", "K"))
x = torch.randn(N, C, H, W, requires_grad=True)
w = torch.randn(O, C, K, K, requires_grad=True)
b = torch.randn(O, requires_grad=True)
g = torch.randn(N, O, H + 2 * spec["padding"] - K + 1, W + 2 * spec["padding"] - K + 1)


def step():
    y = torch.nn.functional.conv2d(x, w, b, padding=spec["padding"])
    y.backward(g)
    x.grad = w.grad = b.grad = None


for _ in range(2):
    step()
times = []
for _ in range(spec["repeats"]):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"ms": sorted(times)[len(times) // 2], "torch": torch.__version__,
                  "mkldnn": torch.backends.mkldnn.is_available(), "threads": torch.get_num_threads()}))
