"""The numpy (OpenBLAS) side of bench/gemm.ts.

Spawned by bench/gemm.ts with OPENBLAS_NUM_THREADS set and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
removed from its environment. Speaks JSON lines over stdin/stdout so that the two libraries can be
timed alternately, size by size, in the same run:

  first line out: {"ready": true, "numpy": ..., "blas": {...}}    what runs the products
  in:  {"n": 1024, "variant": "NT", "count": 3}
  out: {"n": 1024, "variant": "NT", "times": [...]}               seconds of each of `count` products
(the first request for a size and variant also runs one untimed product, as a warm-up).
  in:  {"quit": true}

Variants: NN = a @ b, NT = a @ b.T, TN = a.T @ b (transposed views: numpy hands them to sgemm as
transposed operands, without a copy).
"""
import ctypes
import json
import os
import sys
import time

import numpy as np


def blas_info():
    info = {"threadpoolctl": None, "openblas": None}
    try:
        import threadpoolctl  # type: ignore

        info["threadpoolctl"] = threadpoolctl.threadpool_info()
    except ImportError:
        pass
    # Ask OpenBLAS itself (numpy wheels bundle scipy-openblas, whose symbols are prefixed).
    libs = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "openblas" in os.path.basename(path) and path not in libs:
                libs.append(path)
    for path in libs:
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            try:
                get_config = getattr(lib, prefix + "_get_config" + suffix)
                get_core = getattr(lib, prefix + "_get_corename" + suffix)
                get_threads = getattr(lib, prefix + "_get_num_threads" + suffix)
            except AttributeError:
                continue
            get_config.restype = ctypes.c_char_p
            get_core.restype = ctypes.c_char_p
            info["openblas"] = {
                "library": path,
                "config": get_config().decode(),
                "core": get_core().decode(),
                "threads": get_threads(),
            }
            break
    return info


def main():
    rng = np.random.default_rng(0)
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print(json.dumps({"ready": True, "numpy": np.__version__, "env": env, "blas": blas_info()}), flush=True)
    cache = {}
    warm = set()
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("quit"):
            break
        n, variant = int(req["n"]), req["variant"]
        if n not in cache:
            cache.clear()
            cache[n] = (
                rng.standard_normal((n, n), dtype=np.float32),
                rng.standard_normal((n, n), dtype=np.float32),
            )
        a, b = cache[n]
        x = a.T if variant[0] == "T" else a
        y = b.T if variant[1] == "T" else b
        if (n, variant) not in warm:
            np.matmul(x, y)
            warm.add((n, variant))
        times = []
        for _ in range(int(req.get("count", 1))):
            t0 = time.perf_counter()
            np.matmul(x, y)
            times.append(time.perf_counter() - t0)
        print(json.dumps({"n": n, "variant": variant, "times": times}), flush=True)


if __name__ == "__main__":
    main()
