// What the sweep needs to know beyond what it finds by walking the exports: a valid call of each
// export it knows (so that a hostile value in position i is not refused for an earlier argument),
// a valid instance of each class, and a long job to run on an instance for the busy calls. An
// export missing here is still swept, with `undefined` in the other positions; the report lists
// those as shallow.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Qkv from '../../src/index';
import { SENTINEL } from './values';

type Q = typeof Qkv;
type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SENTENCES = Array.from({ length: 40 }, (_, i) => ['alpha', 'beta', 'gamma', 'delta', 'eps'].slice(i % 3, (i % 3) + 3));
const TEXTS = ['abc', 'bca', 'cab'];

export interface Ctx {
  qkv: Q;
  dir: string;
  files: Record<'missing' | 'directory' | 'empty' | 'truncated' | 'corrupt' | 'wrongFormat' | 'missingFolder' | 'safetensors' | 'checkpoint' | 'word2vec' | 'encoder' | 'seq2seq' | 'pairs' | 'questions' | 'corpus', string>;
  vocab: Qkv.CharVocab;
  w2v: Qkv.Word2Vec;
  /** A fresh path in the scratch folder, for saves. */
  out(ext: string): string;
  throwingOptions(): object;
  busyTensor(): Qkv.Tensor;
  disposedModule(): Promise<unknown>;
  /** Runs a long job with an AbortSignal until stopJobs. */
  job(start: (signal: AbortSignal) => Promise<unknown>): void;
  /** Stops every long job started for busy values and busy calls, and waits for them. */
  stopJobs(): Promise<void>;
}

export async function makeCtx(qkv: Q): Promise<Ctx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-hostile-'));
  const p = (name: string) => path.join(dir, name);
  const jobs: (() => Promise<void>)[] = [];
  let n = 0;
  const w = qkv.randn([4, 3], { seed: 1 });
  await qkv.saveSafetensors(p('valid.safetensors'), { w });
  const linear = new qkv.nn.Linear(3, 2);
  await linear.save(p('linear.safetensors'));
  const vocab = qkv.CharVocab.build(TEXTS);
  await new qkv.TransformerEncoder({ vocab, dim: 8, heads: 2, layers: 1, maxLength: 8, seed: 1 }).save(p('encoder.safetensors'));
  await new qkv.Seq2Seq({ vocab, dim: 8, heads: 2, encoderLayers: 1, decoderLayers: 1, maxLength: 8, seed: 1 }).save(p('seq2seq.safetensors'));
  const w2v = await qkv.Word2Vec.train(SENTENCES, { dim: 8, minCount: 1, epochs: 1, threads: 1, seed: 1 });
  await w2v.save(p('w2v.txt'), { format: 'word2vec-text' });
  fs.writeFileSync(p('pairs.txt'), 'alpha\tbeta\t5.0\nbeta\tgamma\t3.0\n');
  fs.writeFileSync(p('questions.txt'), ': s\nalpha beta gamma delta\n');
  fs.writeFileSync(p('corpus.txt'), SENTENCES.map((s) => s.join(' ')).join('\n'));
  fs.mkdirSync(p('folder'));
  fs.writeFileSync(p('empty'), '');
  fs.writeFileSync(p('truncated'), fs.readFileSync(p('linear.safetensors')).subarray(0, 40));
  fs.writeFileSync(p('corrupt'), Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 131 + 7) & 255)));
  const job = (start: (signal: AbortSignal) => Promise<unknown>) => {
    const ac = new AbortController();
    const run = start(ac.signal).catch(() => undefined);
    jobs.push(async () => {
      ac.abort();
      await run;
    });
  };
  const c: Ctx = {
    qkv,
    dir,
    vocab,
    w2v,
    files: {
      missing: p('missing.safetensors'),
      directory: p('folder'),
      empty: p('empty'),
      truncated: p('truncated'),
      corrupt: p('corrupt'),
      wrongFormat: p('w2v.txt'),
      missingFolder: p('no/such/folder/file'),
      safetensors: p('valid.safetensors'),
      checkpoint: p('linear.safetensors'),
      word2vec: p('w2v.txt'),
      encoder: p('encoder.safetensors'),
      seq2seq: p('seq2seq.safetensors'),
      pairs: p('pairs.txt'),
      questions: p('questions.txt'),
      corpus: p('corpus.txt'),
    },
    out: (ext) => p(`out-${n++}${ext}`),
    throwingOptions: () => new Proxy({}, { get: () => { throw SENTINEL; } }),
    busyTensor() {
      const m = new qkv.nn.Linear(3, 2);
      LONG_JOB['nn.Linear'](m, c);
      return m.weight;
    },
    async disposedModule() {
      const m = new qkv.nn.Linear(3, 2);
      await m.dispose();
      return m;
    },
    job,
    async stopJobs() {
      for (const stop of jobs.splice(0)) await stop();
    },
  };
  return c;
}

const t23 = (q: Q) => q.randn([2, 3], { seed: 1 });
const qkvh = (q: Q) => q.randn([1, 2, 4, 4], { seed: 3 });
const pairs = [{ source: 'abc', target: 'cba' }, { source: 'bca', target: 'acb' }];

/** A valid argument list for each export the sweep knows (path as the plan names it). */
export const BASELINE: Record<string, (c: Ctx) => unknown[]> = {
  // tensors and ops
  'Tensor.from': () => [new Float32Array(6), [2, 3]],
  'Tensor#reshape': () => [[3, 2]],
  'Tensor#transpose': () => [0, 1],
  'Tensor#permute': () => [[1, 0]],
  'Tensor#slice': () => [1, 0, 2, 1],
  'Tensor#to': () => ['float64'],
  'Tensor#toDevice': () => ['cpu'],
  'Tensor#gelu': () => [{}],
  'Tensor#argmax': () => [-1, {}],
  'Tensor#backward': () => [null, {}],
  ...Object.fromEntries(['add', 'sub', 'mul', 'div', 'pow', 'matmul'].map((k) => [`Tensor#${k}`, ({ qkv }: Ctx) => [k === 'matmul' ? qkv.randn([3, 2], { seed: 2 }) : t23(qkv)]])),
  'Tensor#sum': () => [1, {}],
  'Tensor#mean': () => [1, {}],
  'Tensor#max': () => [1, {}],
  'Tensor#grad=': ({ qkv }) => [qkv.zeros([2, 3])],
  'Tensor#requiresGrad=': () => [true],
  zeros: () => [[2, 3], {}],
  ones: () => [[2, 3], {}],
  full: () => [[2, 3], 1, {}],
  randn: () => [[2, 3], { seed: 1 }],
  rand: () => [[2, 3], { seed: 1 }],
  arange: () => [0, 6, 1, {}],
  matmul: ({ qkv }) => [t23(qkv), qkv.randn([3, 2], { seed: 2 })],
  matmulAsync: ({ qkv }) => [t23(qkv), qkv.randn([3, 2], { seed: 2 })],
  ...Object.fromEntries(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'equal'].map((k) => [k, ({ qkv }: Ctx) => [t23(qkv), t23(qkv)]])),
  ...Object.fromEntries(['neg', 'exp', 'log', 'sqrt', 'tanh', 'abs', 'relu', 'sigmoid', 'quickGelu', 'softmax', 'logSoftmax'].map((k) => [k, ({ qkv }: Ctx) => [t23(qkv)]])),
  gelu: ({ qkv }) => [t23(qkv), {}],
  linear: ({ qkv }) => [t23(qkv), qkv.randn([4, 3], { seed: 2 }), qkv.zeros([4])],
  dropout: ({ qkv }) => [t23(qkv), 0.5, { seed: 1 }],
  indexSelect: ({ qkv }) => [t23(qkv), [1, 0]],
  sum: ({ qkv }) => [t23(qkv), 1, {}],
  mean: ({ qkv }) => [t23(qkv), 1, {}],
  max: ({ qkv }) => [t23(qkv), 1, {}],
  argmax: ({ qkv }) => [t23(qkv), 1, {}],
  layerNorm: ({ qkv }) => [t23(qkv), qkv.ones([3]), qkv.zeros([3]), {}],
  embedding: ({ qkv }) => [t23(qkv), qkv.Tensor.from(Int32Array.from([0, 1]), [2])],
  crossEntropy: ({ qkv }) => [t23(qkv), qkv.Tensor.from(Int32Array.from([0, 2]), [2]), {}],
  scaledDotProductAttention: ({ qkv }) => [qkvh(qkv), qkvh(qkv), qkvh(qkv), { causal: true }],
  attentionReference: ({ qkv }) => [qkvh(qkv), qkvh(qkv), qkvh(qkv), { causal: true }],
  concat: ({ qkv }) => [[t23(qkv), t23(qkv)], 0],
  reshape: ({ qkv }) => [t23(qkv), [3, 2]],
  transpose: ({ qkv }) => [t23(qkv), 0, 1],
  permute: ({ qkv }) => [t23(qkv), [1, 0]],
  noGrad: () => [() => 1],
  saveSafetensors: (c) => [c.out('.safetensors'), { w: c.qkv.zeros([2]) }, { metadata: { a: 'b' } }],
  loadSafetensors: (c) => [c.files.safetensors],
  setThreads: () => [1],
  'simd.use': ({ qkv }) => [qkv.simd.level()],
  'cuda.add': () => [new Float32Array(2), new Float32Array(2), {}],
  'plot.attention': ({ qkv }) => [qkv.rand([2, 2], { seed: 1 }), { rows: ['a', 'b'], cols: ['c', 'd'], title: 't' }],
  // nn
  'nn.load': (c) => [c.files.checkpoint],
  'nn.Linear': () => [3, 2, { bias: true, seed: 1 }],
  'nn.Embedding': () => [5, 3, { seed: 1 }],
  'nn.LayerNorm': () => [3, {}],
  'nn.Dropout': () => [0.5, { seed: 1 }],
  'nn.GELU': () => [{}],
  'nn.Sequential': ({ qkv }) => [new qkv.nn.Linear(3, 2), new qkv.nn.ReLU()],
  'nn.MLP': () => [3, [4], 2, { seed: 1 }],
  'nn.Module#forward': ({ qkv }) => [t23(qkv)],
  'nn.Module#parameter': () => ['weight'],
  'nn.Module#loadStateDict': ({ qkv }) => [{ weight: qkv.zeros([2, 3]), bias: qkv.zeros([2]) }, { strict: true }],
  'nn.Module#train': () => [true],
  'nn.Module#save': (c) => [c.out('.safetensors'), {}],
  'nn.Module#load': (c) => [c.files.checkpoint, {}],
  'nn.SupervisedModule#fit': ({ qkv }) => [{ inputs: t23(qkv), targets: qkv.Tensor.from(Int32Array.from([0, 1]), [2]) }, { epochs: 1, batchSize: 2 }],
  'nn.SupervisedModule#evaluate': ({ qkv }) => [{ inputs: t23(qkv), targets: qkv.Tensor.from(Int32Array.from([0, 1]), [2]) }, {}],
  'nn.SupervisedModule#predict': ({ qkv }) => [t23(qkv), { batchSize: 2 }],
  'nn.Sequential#append': ({ qkv }) => [new qkv.nn.ReLU()],
  'nn.Sequential#at': () => [0],
  // optim
  'optim.SGD': ({ qkv }) => [new qkv.nn.Linear(3, 2), { lr: 0.1, momentum: 0.9 }],
  'optim.Adam': ({ qkv }) => [new qkv.nn.Linear(3, 2), { lr: 0.1 }],
  'optim.AdamW': ({ qkv }) => [new qkv.nn.Linear(3, 2), { lr: 0.1, betas: [0.9, 0.99] }],
  'optim.Optimizer#state': () => [0],
  'optim.Optimizer#lr=': () => [0.01],
  'optim.Optimizer#schedule=': ({ qkv }) => [qkv.optim.schedule.constant()],
  'optim.clipGradNorm': ({ qkv }) => [new qkv.nn.Linear(3, 2), 1],
  'optim.gradNorm': ({ qkv }) => [new qkv.nn.Linear(3, 2)],
  'optim.decayMatricesOnly': ({ qkv }) => ['w', t23(qkv)],
  'optim.schedule.warmupCosine': () => [{ totalSteps: 10, warmupSteps: 2 }],
  'optim.schedule.warmupLinear': () => [{ totalSteps: 10, warmupSteps: 2 }],
  // word2vec
  'Word2Vec.train': () => [SENTENCES, { dim: 8, minCount: 1, epochs: 1, threads: 1, seed: 1 }],
  'Word2Vec.load': (c) => [c.files.word2vec, {}],
  'Word2Vec#has': () => ['alpha'],
  'Word2Vec#indexOf': () => ['alpha'],
  'Word2Vec#vector': () => ['alpha'],
  'Word2Vec#mostSimilar': () => ['alpha', { topN: 2 }],
  'Word2Vec#mostSimilarAsync': () => ['alpha', { topN: 2 }],
  'Word2Vec#mostSimilarCosmul': () => ['alpha', { topN: 2 }],
  'Word2Vec#similarity': () => ['alpha', 'beta'],
  'Word2Vec#doesntMatch': () => [['alpha', 'beta', 'gamma']],
  'Word2Vec#analogy': () => ['alpha', 'beta', 'gamma', { topN: 1 }],
  'Word2Vec#evaluateWordPairs': (c) => [c.files.pairs, {}],
  'Word2Vec#evaluateAnalogies': (c) => [c.files.questions, {}],
  'Word2Vec#save': (c) => [c.out('.txt'), { format: 'word2vec-text' }],
  'Word2Vec#train': () => [SENTENCES, { epochs: 1, threads: 1 }],
  // text
  'CharVocab': () => [['a', 'b', 'c'], {}],
  'WordVocab': () => [['a', 'b', 'c'], {}],
  'CharVocab.build': () => [TEXTS, {}],
  'WordVocab.build': () => [['a b', 'b c'], {}],
  'WordVocab.split': () => ['a b'],
  'Vocabulary#id': () => ['a'],
  'Vocabulary#token': () => [5],
  'Vocabulary#has': () => ['a'],
  'Vocabulary#isSpecial': () => [0],
  'Vocabulary#encode': () => ['abc', {}],
  'Vocabulary#decode': () => [[5, 6], {}],
  'Vocabulary#encodeBatch': () => [TEXTS, {}],
  'Vocabulary#decodeBatch': () => [[[5, 6]], {}],
  'Vocabulary#batch': () => [TEXTS, {}],
  'CharVocab#tokenize': () => ['abc'],
  'CharVocab#detokenize': () => [['a', 'b']],
  'WordVocab#tokenize': () => ['a b'],
  'WordVocab#detokenize': () => [['a', 'b']],
  vocabFromJSON: (c) => [c.vocab.toJSON()],
  tokenizerFromJSON: (c) => [c.vocab.toJSON()],
  registerTokenizer: () => ['hostile-kind', () => ({})],
  padBatch: () => [[[1, 2], [3]]],
  StreamDecoder: (c) => [c.vocab, {}],
  'StreamDecoder#push': () => [[5, 6]],
  // transformers
  TransformerEncoder: (c) => [{ vocab: c.vocab, dim: 8, heads: 2, layers: 1, maxLength: 8, seed: 1 }],
  'TransformerEncoder.load': (c) => [c.files.encoder],
  'TransformerEncoder#batch': () => [TEXTS],
  'TransformerEncoder#fit': () => [TEXTS, { epochs: 1, batchSize: 2 }],
  'TransformerEncoder#encode': () => [TEXTS, { pooling: 'mean' }],
  'TransformerEncoder#classify': () => [TEXTS, {}],
  'TransformerEncoder#hidden': ({ qkv }) => [qkv.Tensor.from(Int32Array.from([5, 6, 7, 5]), [2, 2]), [2, 1]],
  Seq2Seq: (c) => [{ vocab: c.vocab, dim: 8, heads: 2, encoderLayers: 1, decoderLayers: 1, maxLength: 8, seed: 1 }],
  'Seq2Seq.load': (c) => [c.files.seq2seq],
  'Seq2Seq#encodeSources': () => [TEXTS],
  'Seq2Seq#encodeTargets': () => [TEXTS],
  'Seq2Seq#fit': () => [pairs, { epochs: 1, batchSize: 2 }],
  'Seq2Seq#evaluate': () => [pairs, {}],
  'Seq2Seq#translate': () => [TEXTS, { maxLength: 4 }],
  'Seq2Seq#translateStream': () => [TEXTS, { maxLength: 4 }],
  'Seq2Seq#logits': ({ qkv }) => [qkv.Tensor.from(Int32Array.from([5, 6, 7, 5]), [2, 2]), [2, 1], qkv.Tensor.from(Int32Array.from([1, 5, 1, 6]), [2, 2])],
  MultiHeadAttention: () => [{ dim: 8, heads: 2, seed: 1 }],
  'MultiHeadAttention#forward': ({ qkv }) => [qkv.randn([1, 3, 8], { seed: 1 })],
  'MultiHeadAttention#forwardWithWeights': ({ qkv }) => [qkv.randn([1, 3, 8], { seed: 1 }), {}, true],
  TransformerEncoderLayer: () => [{ dim: 8, heads: 2, seed: 1 }],
  'TransformerEncoderLayer#forwardWithWeights': ({ qkv }) => [qkv.randn([1, 3, 8], { seed: 1 }), {}, true],
  TransformerDecoderLayer: () => [{ dim: 8, heads: 2, seed: 1 }],
  'TransformerDecoderLayer#forwardWithWeights': ({ qkv }) => [qkv.randn([1, 3, 8], { seed: 1 }), qkv.randn([1, 2, 8], { seed: 2 }), {}, true],
  PositionalEncoding: () => [{ maxLength: 8, dim: 4, seed: 1 }],
  'data.SeededRandom': () => [1],
  'data.SeededRandom#int': () => [3],
  'data.isoDate': () => [{ year: 2000, month: 1, day: 2 }],
  'data.randomDate': ({ qkv }) => [new qkv.data.SeededRandom(1)],
  'data.formatDate': ({ qkv }) => [{ year: 2000, month: 1, day: 2 }, qkv.data.DATE_FORMS[0], new qkv.data.SeededRandom(1)],
  'data.generateDates': () => [3, { seed: 1 }],
  'data.reversalPairs': () => [3, { seed: 1 }],
};

/** A valid instance of each class the sweep knows; a class without one borrows any instance of it. */
export const INSTANCE: Record<string, (c: Ctx) => unknown> = {
  Tensor: ({ qkv }) => t23(qkv),
  'nn.Linear': ({ qkv }) => new qkv.nn.Linear(3, 2),
  'nn.Sequential': ({ qkv }) => new qkv.nn.Sequential(new qkv.nn.Linear(3, 2)),
  'optim.SGD': ({ qkv }) => new qkv.optim.SGD(new qkv.nn.Linear(3, 2), { lr: 0.1 }),
  Word2Vec: ({ qkv }) => qkv.Word2Vec.train(SENTENCES, { dim: 8, minCount: 1, epochs: 1, threads: 1, seed: 1 }),
  CharVocab: (c) => c.vocab,
  WordVocab: ({ qkv }) => qkv.WordVocab.build(['a b', 'b c']),
  StreamDecoder: (c) => new c.qkv.StreamDecoder(c.vocab),
  TransformerEncoder: (c) => new c.qkv.TransformerEncoder({ vocab: c.vocab, dim: 8, heads: 2, layers: 1, maxLength: 8, seed: 1 }),
  Seq2Seq: (c) => new c.qkv.Seq2Seq({ vocab: c.vocab, dim: 8, heads: 2, encoderLayers: 1, decoderLayers: 1, maxLength: 8, seed: 1 }),
  MultiHeadAttention: ({ qkv }) => new qkv.MultiHeadAttention({ dim: 8, heads: 2, seed: 1 }),
  TransformerEncoderLayer: ({ qkv }) => new qkv.TransformerEncoderLayer({ dim: 8, heads: 2, seed: 1 }),
  TransformerDecoderLayer: ({ qkv }) => new qkv.TransformerDecoderLayer({ dim: 8, heads: 2, seed: 1 }),
  PositionalEncoding: ({ qkv }) => new qkv.PositionalEncoding({ maxLength: 8, dim: 4, seed: 1 }),
  'data.SeededRandom': ({ qkv }) => new qkv.data.SeededRandom(1),
};

/** Starts a long job on an instance, for the calls made on it while the job runs. */
export const LONG_JOB: Record<string, (inst: Any, c: Ctx) => void> = {
  'nn.Linear': (m, c) => {
    const x = c.qkv.randn([64, 3], { seed: 2 });
    const y = c.qkv.Tensor.from(new Int32Array(64).map((_, i) => i % 2), [64]);
    c.job((signal) => m.fit({ inputs: x, targets: y }, { epochs: 1_000_000, batchSize: 1, signal }));
  },
  // The tensor itself in a product, behind a larger one that keeps the job threads busy.
  Tensor: (t, c) => {
    const big = c.qkv.randn([600, 600], { seed: 1 });
    c.job(() => c.qkv.matmulAsync(big, big));
    c.job(() => c.qkv.matmulAsync(t, t.transpose()));
  },
  Word2Vec: (m, c) => c.job((signal) => m.train(Array.from({ length: 20_000 }, () => SENTENCES[0]), { epochs: 1000, threads: 1, signal })),
  TransformerEncoder: (m, c) => c.job((signal) => m.fit(Array.from({ length: 2000 }, () => 'abcabc'), { epochs: 1000, batchSize: 2, signal })),
};
