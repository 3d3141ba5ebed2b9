// conv2d forward + backward (input, weight and bias gradients) at a ResNet-like shape, qkv
// against PyTorch 1.13 (bench/conv_torch.py), float32, 2 threads each:
//
//   QKV_THREADS=2 npx tsx bench/conv.ts [--repeats 10] [--python /usr/bin/python3]
//
// Prints the CPU, the median milliseconds per step on each side, and qkv's time over PyTorch's.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import * as path from 'node:path';
import * as qkv from '../src/index';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const spec = { N: 32, C: 64, O: 64, H: 32, W: 32, K: 3, padding: 1, threads: Number(process.env.QKV_THREADS ?? 2), repeats: Number(opt('--repeats', '10')) };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function cpuName(): string {
  try {
    const line = execFileSync('lscpu', { encoding: 'utf8' }).split('\n').find((l) => l.startsWith('Model name:'));
    if (line) return line.slice('Model name:'.length).trim();
  } catch {
    // no lscpu: Node's name for it
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

function qkvMs(): number {
  qkv.setThreads(spec.threads);
  const x = qkv.randn([spec.N, spec.C, spec.H, spec.W], { seed: 1, requiresGrad: true });
  const w = qkv.randn([spec.O, spec.C, spec.K, spec.K], { seed: 2, requiresGrad: true });
  const b = qkv.randn([spec.O], { seed: 3, requiresGrad: true });
  const out = spec.H + 2 * spec.padding - spec.K + 1;
  const g = qkv.randn([spec.N, spec.O, out, out], { seed: 4 });
  const step = () => {
    qkv.conv2d(x, w, b, { padding: spec.padding }).backward(g);
    x.grad = w.grad = b.grad = null;
  };
  for (let i = 0; i < 2; i++) step();
  const times: number[] = [];
  for (let i = 0; i < spec.repeats; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const ours = qkvMs();
const env = { ...process.env, LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp', OMP_NUM_THREADS: String(spec.threads) };
const torch = JSON.parse(execFileSync(opt('--python', '/usr/bin/python3'), [path.join(__dirname, 'conv_torch.py'), JSON.stringify(spec)], { env, encoding: 'utf8' }));
console.log(`CPU: ${cpuName()}, ${spec.threads} threads each (qkv SIMD ${qkv.simd.level()}; torch ${torch.torch}, mkldnn ${torch.mkldnn})`);
console.log(`conv2d forward + backward, x [${spec.N}, ${spec.C}, ${spec.H}, ${spec.W}], weight [${spec.O}, ${spec.C}, ${spec.K}, ${spec.K}], padding ${spec.padding}, float32`);
console.log(`  qkv      ${ours.toFixed(1)} ms`);
console.log(`  PyTorch  ${torch.ms.toFixed(1)} ms`);
console.log(`  qkv / PyTorch time: ${(ours / torch.ms).toFixed(2)}x`);
