// `npm start`: a tour of qkv on bundled data. Each model issue adds its part.
import * as qkv from '../src/index';
import { clipDemo } from './clip-demo';
import { gptDemo } from './gpt-demo';
import { seq2seqDemo } from './seq2seq-demo';
import { trainingDemo } from './training-demo';
import { word2vecDemo } from './word2vec-demo';

async function tensorDemo(): Promise<void> {
  console.log(`qkv tensor core: SIMD ${qkv.simd.level()} (processor supports ${qkv.simd.supported()}), ${qkv.threads()} threads, CUDA ${qkv.cuda.available() ? 'available' : 'not available: ' + qkv.cuda.info().reason}`);

  // Attention in miniature: a query scored against keys, softmaxed into weights that mix the values.
  const q = qkv.Tensor.from([1, 0, 1, 0], [1, 4]);
  const k = qkv.Tensor.from([1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0], [3, 4]);
  const v = qkv.Tensor.from([10, 0, 0, 10, 5, 5], [3, 2]);
  const weights = qkv.softmax(qkv.div(qkv.matmul(q, k.transpose()), Math.sqrt(4)));
  console.log('attention weights', weights.toArray(), '-> output', qkv.matmul(weights, v).toArray());

  // A large product on a worker thread while a timer keeps ticking on the event loop.
  const n = 2048;
  const a = qkv.randn([n, n], { seed: 1 }), b = qkv.randn([n, n], { seed: 2 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t0 = performance.now();
  const c = await qkv.matmulAsync(a, b);
  const ms = performance.now() - t0;
  clearInterval(timer);
  console.log(`matmul ${n}x${n}: ${ms.toFixed(0)} ms (${((2 * n ** 3) / ms / 1e6).toFixed(1)} GFLOP/s), event loop ticked ${ticks} times meanwhile; c[0][0] = ${c.slice(0, 0, 1).slice(1, 0, 1).item().toFixed(4)}`);
  for (const t of [a, b, c, q, k, v, weights]) t.dispose();
}

const section = (title: string) => console.log(`\n=== ${title} ${'='.repeat(Math.max(0, 70 - title.length))}`);

async function main(): Promise<void> {
  section('tensors, attention in miniature, work off the event loop');
  await tensorDemo();
  section('word2vec on the Brown corpus');
  await word2vecDemo();
  section('an MLP trained with fit() on MNIST digits');
  await trainingDemo();
  section('a transformer encoder-decoder that normalises dates');
  await seq2seqDemo();
  section('a GPT pretrained on Shakespeare, streaming a sample, then fine-tuned');
  await gptDemo();
  section('a dual encoder (CLIP) on MNIST digits and captions: zero-shot and retrieval');
  await clipDemo();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
