// Writes the seed corpus of the fuzz harnesses (test/fuzz/corpus/<parser>/): small valid files made
// by qkv itself, plus edge cases. Run: npx tsx test/fuzz/make-corpus.ts
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as qkv from '../../src/index';

const root = path.join(__dirname, 'corpus');
const put = (parser: string, name: string, data: string | Uint8Array) => {
  fs.mkdirSync(path.join(root, parser), { recursive: true });
  fs.writeFileSync(path.join(root, parser, name), data);
};

(async () => {
  const tmp = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'qkv-corpus-'));
  // safetensors: each dtype, a scalar, an empty tensor, metadata.
  const st = path.join(tmp, 't.safetensors');
  await qkv.saveSafetensors(st, {
    a: qkv.Tensor.from(new Float32Array([1, -2, 3.5, 0]), [2, 2]),
    b: qkv.Tensor.from(new Float64Array([Math.PI]), []),
    c: qkv.Tensor.from(new Int32Array([7, 8, 9]), [3]),
    e: qkv.zeros([0, 4]),
  }, { metadata: { note: 'seed', 'ü': 'ß' } });
  put('safetensors', 'dtypes.safetensors', fs.readFileSync(st));
  put('safetensors', 'empty-header.safetensors', Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]));

  // checkpoints: an MLP with and without optimizer state, and a Linear.
  const mlp = new qkv.nn.MLP(3, [4], 2, { layerNorm: true });
  const x = qkv.randn([16, 3], { seed: 1 });
  const y = qkv.Tensor.from(new Int32Array(16).map((_, i) => i % 2), [16]);
  const opt = new qkv.optim.AdamW(mlp, { lr: 1e-2 });
  await mlp.fit({ inputs: x, targets: y }, { epochs: 1, batchSize: 8, optimizer: opt });
  await mlp.save(path.join(tmp, 'mlp.safetensors'), { optimizer: opt });
  put('checkpoint', 'mlp-adamw.safetensors', fs.readFileSync(path.join(tmp, 'mlp.safetensors')));
  await new qkv.nn.Linear(2, 3).save(path.join(tmp, 'linear.safetensors'));
  put('checkpoint', 'linear.safetensors', fs.readFileSync(path.join(tmp, 'linear.safetensors')));

  // word2vec: the first byte picks the loader (0 text, 1 binary, 2 qkv, 3 auto).
  const corpus = Array.from({ length: 200 }, (_, i) => `the cat ${i % 7} sat on the mat ${i % 5} and the dog ran`).join('\n');
  fs.writeFileSync(path.join(tmp, 'corpus.txt'), corpus);
  const w2v = await qkv.Word2Vec.train(path.join(tmp, 'corpus.txt'), { dim: 8, minCount: 1, epochs: 1, seed: 1 });
  const formats = [['word2vec-text', 0], ['word2vec-binary', 1], ['qkv', 2]] as const;
  for (const [format, pick] of formats) {
    const file = path.join(tmp, `v.${format}`);
    await w2v.save(file, { format });
    put('word2vec', `${format}`, Buffer.concat([Buffer.from([pick]), fs.readFileSync(file)]));
    put('word2vec', `${format}-auto`, Buffer.concat([Buffer.from([3]), fs.readFileSync(file)]));
  }
  put('word2vec', 'text-header-only', Buffer.concat([Buffer.from([0]), Buffer.from('3 2\n')]));

  // JSON: configs and headers as qkv writes them, and the corners of the grammar.
  put('json', 'config.json', fs.readFileSync(st).subarray(8, 8 + Number(fs.readFileSync(st).readBigUInt64LE(0))));
  put('json', 'mlp-config.json', (await qkv.loadSafetensors(path.join(tmp, 'mlp.safetensors'))).metadata['qkv.config']);
  put('json', 'numbers.json', '[0, -0.0, 1e308, -1e-308, 9007199254740993, 1.5, -2, 1E+2, 0.1]');
  put('json', 'strings.json', '["", "\\u00fc\\ud83d\\ude00", "\\n\\t\\\\\\"", "plain"]');
  put('json', 'nested.json', '{"a": {"b": [[], {}, [null, true, false]]}}');
  // BPE: the first byte picks the reader (0 tokenizer.json, 1 tiktoken, 2 encoder.json NUL vocab.bpe, 3 CLIP's merges).
  const bpe = await qkv.BPETokenizer.train(corpus, { vocabSize: 300, specialTokens: ['<|endoftext|>'] });
  await bpe.save(path.join(tmp, 'tokenizer.json'));
  put('bpe', 'tokenizer.json', Buffer.concat([Buffer.from([0]), fs.readFileSync(path.join(tmp, 'tokenizer.json'))]));
  put('bpe', 'pair-merges.json', Buffer.concat([Buffer.from([0]), Buffer.from(JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']] } }))]));
  put('bpe', 'r50k.tiktoken', Buffer.concat([Buffer.from([1]), Buffer.from(['IQ== 0', 'Ig== 1', 'IyQ= 2'].join('\n') + '\n')]));
  put('bpe', 'clip-merges', Buffer.concat([Buffer.from([3]), Buffer.from('#version: 0.2\nt h\nth e</w>\na n\n')]));
  put('bpe', 'gpt2', Buffer.concat([Buffer.from([2]), Buffer.from(JSON.stringify({ a: 0, b: 1, ab: 2 })), Buffer.from([0]), Buffer.from('#version: 0.2\na b\n')]));
  fs.rmSync(tmp, { recursive: true, force: true });
})();
