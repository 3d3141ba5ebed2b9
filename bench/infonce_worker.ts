// One measurement for bench/infonce.ts in its own process (so that peak memory is its own).
// Usage: infonce_worker.ts N mode   (mode: fwdbwd | idle)
import * as qkv from '../src/index';

const N = Number(process.argv[2]), mode = process.argv[3];
const D = 512;
qkv.setThreads(2);
const image = qkv.randn([N, D], { seed: 1, requiresGrad: true });
const text = qkv.randn([N, D], { seed: 2, requiresGrad: true });
const logScale = qkv.Tensor.from([Math.log(1 / 0.07)], [], { requiresGrad: true });
const times: number[] = [];
let loss = 0;
if (mode !== 'idle') {
  const reps = N <= 4096 ? 5 : 3;
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    const L = qkv.infoNCE(image, text, logScale);
    L.backward();
    loss = L.item();
    for (const t of [image, text, logScale]) t.grad = null;
    if (r > 0) times.push(performance.now() - t0);  // the first run warms up
  }
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ ms: times.length ? times[Math.floor(times.length / 2)] : 0, loss }));
