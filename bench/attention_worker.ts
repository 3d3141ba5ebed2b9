// One measurement for bench/attention.ts in its own process (so that peak memory is its own).
// Usage: attention_worker.ts T mode   (mode: fwd | fwdbwd | idle)
import * as qkv from '../src/index';

const T = Number(process.argv[2]), mode = process.argv[3];
const [B, H, D] = [1, 8, 64];
qkv.setThreads(2);
const q = qkv.randn([B, H, T, D], { seed: 1, requiresGrad: mode === 'fwdbwd' });
const k = qkv.randn([B, H, T, D], { seed: 2, requiresGrad: mode === 'fwdbwd' });
const v = qkv.randn([B, H, T, D], { seed: 3, requiresGrad: mode === 'fwdbwd' });
const times: number[] = [];
if (mode !== 'idle') {
  const reps = T <= 2048 ? 5 : 3;
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    if (mode === 'fwd') qkv.noGrad(() => qkv.scaledDotProductAttention(q, k, v, { causal: true }).dispose());
    else {
      const out = qkv.scaledDotProductAttention(q, k, v, { causal: true });
      out.backward(qkv.ones(out.shape));
      for (const t of [q, k, v]) t.grad = null;
    }
    if (r > 0) times.push(performance.now() - t0);  // the first run warms up
  }
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ ms: times.length ? times[Math.floor(times.length / 2)] : 0 }));
