// word2vec: the API, inputs, progress, abort, determinism, continued training and errors, on small
// synthetic corpora (fast). Quality on real data: word2vec_quality.test.ts; files: word2vec_formats.test.ts.
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { afterAll, describe, expect, it } from 'vitest';

import { QkvError, Word2Vec, type Word2VecProgress } from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'qkv-w2v-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A corpus of six topics: each sentence draws its words from one topic (25 words, skewed
// frequencies) mixed with common words shared by all. A model that learns anything puts words of a
// topic next to each other; random vectors would give a purity of about 0.16.
const COMMON = ['the', 'a', 'of', 'and', 'to', 'in', 'is', 'it'];
function topicCorpus(sentences: number, seed = 1): string[][] {
  let s = seed >>> 0;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) % n;
  };
  const out: string[][] = [];
  for (let i = 0; i < sentences; ++i) {
    const t = rnd(6);
    const len = 8 + rnd(8);
    const sent: string[] = [];
    for (let j = 0; j < len; ++j) sent.push(rnd(3) === 0 ? COMMON[rnd(COMMON.length)] : `t${t}w${Math.floor(Math.sqrt(rnd(625)))}`);
    out.push(sent);
  }
  return out;
}

function writeCorpus(name: string, sentences: string[][]): string {
  const p = join(dir, name);
  writeFileSync(p, sentences.map((s) => s.join(' ')).join('\n') + '\n');
  return p;
}

const small = { dim: 16, window: 3, minCount: 1, sample: 0, epochs: 3, threads: 1, seed: 3 };

// Fraction of the top-5 neighbours of 24 topic words that belong to the same topic.
function purity(m: Word2Vec): number {
  let ok = 0;
  let n = 0;
  for (let t = 0; t < 6; ++t)
    for (let w = 5; w < 25; w += 5) {
      const word = `t${t}w${w}`;
      if (!m.has(word)) continue;
      for (const s of m.mostSimilar(word, { topN: 5 })) {
        ++n;
        if (s.word.startsWith(`t${t}w`)) ++ok;
      }
    }
  return ok / n;
}

describe('Word2Vec.train inputs', () => {
  const sentences = topicCorpus(1000);
  const path = writeCorpus('topics.txt', sentences);

  it('trains from a file path and learns the topics', async () => {
    const m = await Word2Vec.train(path, small);
    expect(m.size).toBe(6 * 25 + 8);
    expect(m.dim).toBe(16);
    expect(purity(m)).toBeGreaterThan(0.8);
    expect(m.lastTraining!.words).toBe(3 * sentences.flat().length);
    await m.dispose();
  });

  it('trains from arrays of tokens, strings and async iterables, identically to the file', async () => {
    const fromFile = await Word2Vec.train(path, small);
    const fromTokens = await Word2Vec.train(sentences, small);
    const fromStrings = await Word2Vec.train(sentences.map((s) => s.join(' ')), small);
    const asyncInput = {
      async *[Symbol.asyncIterator]() {
        for (const s of sentences) yield s;
      },
    };
    const fromAsync = await Word2Vec.train(asyncInput, small);
    const v = fromFile.vector('t2w3')!;
    for (const m of [fromTokens, fromStrings, fromAsync]) {
      expect(m.vocab).toEqual(fromFile.vocab);
      expect(Array.from(m.vector('t2w3')!)).toEqual(Array.from(v));  // one thread + seed: bit-identical
    }
  });

  it('learns item vectors from arrays of token ids', async () => {
    // Sessions of item ids: the items of a topic t are browsed together (ids t*1000 + i).
    const sessions: Int32Array[] = topicCorpus(1000, 5).map((s) =>
      Int32Array.from(s.filter((w) => w[0] === 't'), (w) => Number(w.slice(1, w.indexOf('w'))) * 1000 + Number(w.slice(w.indexOf('w') + 1))),
    );
    const m = await Word2Vec.train(sessions, { ...small, minCount: 1 });
    expect(m.has(2003)).toBe(true);
    expect(m.has('2003')).toBe(true);
    let ok = 0;
    for (const item of [1, 1005, 2003, 3010, 4002, 5007]) {
      for (const s of m.mostSimilar(item, { topN: 5 })) if (Math.floor(Number(s.word) / 1000) === Math.floor(item / 1000)) ++ok;
    }
    expect(ok / 30).toBeGreaterThan(0.8);
    expect(m.vector(2003)).toEqual(m.vector('2003'));
  });

  it('cuts long lines into chunks of maxSentenceLength words', async () => {
    // Sentences of one topic after another, all on one line: chunks of 12 words mostly stay in a topic.
    const byTopic = [...sentences].sort((x, y) => x.find((w) => w[0] === 't')!.localeCompare(y.find((w) => w[0] === 't')!));
    const p = writeCorpus('oneline.txt', [byTopic.flat()]);
    const m = await Word2Vec.train(p, { ...small, maxSentenceLength: 12 });
    expect(m.lastTraining!.words).toBe(3 * sentences.flat().length);
    expect(purity(m)).toBeGreaterThan(0.6);
  });

  it('rejects one-shot generators, bad sentences and bad paths', async () => {
    function* gen() {
      yield ['a', 'b'];
    }
    await expect(Word2Vec.train(gen() as unknown as Iterable<string[]>, small)).rejects.toThrow(TypeError);
    await expect(Word2Vec.train(gen() as unknown as Iterable<string[]>, small)).rejects.toThrow(/one-shot/);
    await expect(Word2Vec.train([['a'], [{}]] as unknown as string[][], small)).rejects.toThrow(/sentence 1/);
    await expect(Word2Vec.train(42 as unknown as string, small)).rejects.toThrow(TypeError);
    const e = await Word2Vec.train(join(dir, 'missing.txt'), small).catch((x) => x);
    expect(e).toBeInstanceOf(QkvError);
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(/missing\.txt/);
  });

  it('rejects an iterable that is empty on the second pass', async () => {
    let passes = 0;
    const once = {
      *[Symbol.iterator]() {
        if (passes++ === 0) yield* sentences;
      },
    };
    await expect(Word2Vec.train(once, small)).rejects.toThrow(/not re-iterable/);
  });

  it('reports an empty vocabulary as a RangeError', async () => {
    await expect(Word2Vec.train([['a', 'b', 'c']], { ...small, minCount: 5 })).rejects.toThrow(RangeError);
  });

  it('rejects a corpus file that is not UTF-8 with ERR_FORMAT', async () => {
    const p = join(dir, 'latin1.txt');
    writeFileSync(p, Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' ok ok\n')]));
    const e = await Word2Vec.train(p, small).catch((x) => x);
    expect(e).toBeInstanceOf(QkvError);
    expect(e.code).toBe('ERR_FORMAT');
    expect(e.message).toMatch(/byte 0.*UTF-8/);
  });
});

describe('Word2Vec.train options', () => {
  const sentences = topicCorpus(1000);
  const path = writeCorpus('opts.txt', sentences);

  it('is bit-identical with one thread and a seed, and differs with another seed', async () => {
    const a = await Word2Vec.train(path, { ...small, seed: 11 });
    const b = await Word2Vec.train(path, { ...small, seed: 11 });
    const c = await Word2Vec.train(path, { ...small, seed: 12 });
    expect(Array.from(a.vector('t1w4')!)).toEqual(Array.from(b.vector('t1w4')!));
    expect(Array.from(a.vector('t1w4')!)).not.toEqual(Array.from(c.vector('t1w4')!));
  });

  it('trains every architecture and objective', async () => {
    for (const [architecture, hs, negative] of [
      ['skipgram', false, 5],
      ['skipgram', true, 0],
      ['cbow', false, 5],
      ['cbow', true, 0],
      ['skipgram', true, 3],
      ['cbow', true, 3],
    ] as const) {
      const m = await Word2Vec.train(path, { ...small, architecture, hs, negative });
      expect(purity(m), `${architecture} hs=${hs} negative=${negative}`).toBeGreaterThan(0.8);
      expect(m.config.hs).toBe(hs);
    }
  });

  it('trains on several threads', async () => {
    const m = await Word2Vec.train(path, { ...small, threads: 3 });
    expect(purity(m)).toBeGreaterThan(0.8);
  });

  it('applies minCount and maxVocabSize', async () => {
    const extra = [...sentences, ['rare', 'word', 'once'], ['rare']];
    const m1 = await Word2Vec.train(extra, { ...small, minCount: 2 });
    expect(m1.has('rare')).toBe(true);
    expect(m1.has('once')).toBe(false);
    const m2 = await Word2Vec.train(extra, { ...small, maxVocabSize: 5 });
    expect(m2.size).toBe(5);
    expect(m2.vocab.map((e) => e.word).every((w) => COMMON.includes(w) || w.endsWith('w0') || w.endsWith('w24'))).toBe(true);
    const counts = m2.vocab.map((e) => e.count);
    expect([...counts].sort((x, y) => y - x)).toEqual(counts);
  });

  it('reports progress with decreasing alpha and ends at wordsTotal', async () => {
    const seen: Word2VecProgress[] = [];
    const m = await Word2Vec.train(path, { ...small, epochs: 4, onProgress: (p) => seen.push(p), progressInterval: 0 });
    expect(seen.length).toBeGreaterThan(0);
    const last = seen[seen.length - 1];
    expect(last.wordsDone).toBe(last.wordsTotal);
    expect(last.wordsTotal).toBe(4 * sentences.flat().length);
    expect(last.epoch).toBe(4);
    expect(last.alpha).toBeCloseTo(0.0001, 6);
    expect(last.loss).toBeGreaterThan(0);
    for (const k of ['epoch', 'wordsDone', 'wordsTotal', 'alpha', 'wordsPerSec', 'loss'] as const) expect(typeof last[k]).toBe('number');
    expect(m.lastTraining!.loss).toBeGreaterThan(0);
  });

  it('rejects bad options with TypeError or RangeError naming the call', async () => {
    const bad: [object, ErrorConstructor, RegExp][] = [
      [{ dim: 0 }, RangeError, /Word2Vec\.train: option dim/],
      [{ dim: 'x' }, TypeError, /option dim must be an integer, got string/],
      [{ window: 1.5 }, RangeError, /window/],
      [{ architecture: 'glove' }, TypeError, /architecture/],
      [{ negative: 0, hs: false }, RangeError, /negative/],
      [{ alpha: -1 }, RangeError, /alpha/],
      [{ sample: 2 }, RangeError, /sample/],
      [{ minAlpha: 0.5 }, RangeError, /minAlpha/],
      [{ threads: 0 }, RangeError, /threads/],
      [{ epochs: 0 }, RangeError, /epochs/],
      [{ minCnt: 1 }, TypeError, /unknown option 'minCnt'/],
      [{ onProgress: 3 }, TypeError, /onProgress/],
      [{ signal: {} }, TypeError, /AbortSignal/],
    ];
    for (const [opts, cls, msg] of bad) {
      const e = await Word2Vec.train(path, { ...small, ...opts } as never).catch((x) => x);
      expect(e, JSON.stringify(opts)).toBeInstanceOf(cls);
      expect(e.message, JSON.stringify(opts)).toMatch(msg);
    }
  });
});

describe('abort and failures', () => {
  // Big enough to take a while.
  const sentences = topicCorpus(2000);
  const path = writeCorpus('abort.txt', sentences);

  it('rejects with ERR_ABORTED when the signal aborts, and the process stays healthy', async () => {
    const ac = new AbortController();
    let reports = 0;
    const t0 = Date.now();
    const p = Word2Vec.train(path, {
      ...small, epochs: 400, signal: ac.signal,
      onProgress: () => {
        if (++reports === 2) ac.abort();
      },
    });
    const e = await p.catch((x) => x);
    expect(e).toBeInstanceOf(QkvError);
    expect(e.code).toBe('ERR_ABORTED');
    expect(Date.now() - t0).toBeLessThan(20000);
    // Still healthy: train again.
    const m = await Word2Vec.train(path, { ...small, epochs: 1 });
    expect(m.size).toBe(158);
  });

  it('aborts a training fed from an iterable, and an already-aborted signal rejects at once', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const e = await Word2Vec.train(sentences, { ...small, epochs: 1000, signal: ac.signal }).catch((x) => x);
    expect(e.code).toBe('ERR_ABORTED');
    const e2 = await Word2Vec.train(path, { ...small, signal: AbortSignal.abort() }).catch((x) => x);
    expect(e2.code).toBe('ERR_ABORTED');
  });

  it('lets the process exit, and a worker thread terminate, in the middle of training', () => {
    const src = join(__dirname, '..', 'src', 'index.ts');
    const script = join(dir, 'exit.ts');
    writeFileSync(script, `
      import { Worker } from 'worker_threads';
      import { Word2Vec } from ${JSON.stringify(src)};
      const sentences = Array.from({ length: 3000 }, (_, i) => Array.from({ length: 10 }, (_, j) => 'w' + ((i * 7 + j) % 500)));
      Word2Vec.train(sentences, { epochs: 100000, minCount: 1, threads: 2 }).catch(() => {});
      Word2Vec.train(${JSON.stringify(path)}, { epochs: 100000, minCount: 1, threads: 2 }).catch(() => {});
      const w = new Worker("require('tsx/cjs'); const { Word2Vec } = require(" + JSON.stringify(${JSON.stringify(src)}) + ");" +
        "Word2Vec.train(" + JSON.stringify(${JSON.stringify(path)}) + ", { epochs: 100000, minCount: 1 }).catch(() => {});", { eval: true });
      setTimeout(async () => { await w.terminate(); console.log('terminated'); process.exit(0); }, 1500);
    `);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60000, cwd: join(__dirname, '..') });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('terminated');
    expect(r.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30000);
  });

  it('keeps the event loop free while training', async () => {
    let ticks = 0;
    const timer = setInterval(() => ++ticks, 5);
    await Word2Vec.train(path, { ...small, epochs: 30 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5);
  });

  it('rejects with what onProgress throws, and with what the iterable throws', async () => {
    const boom = new Error('boom');
    const e = await Word2Vec.train(path, { ...small, epochs: 200, onProgress: () => { throw boom; } }).catch((x) => x);
    expect(e).toBe(boom);
    const bad = {
      *[Symbol.iterator]() {
        yield* sentences.slice(0, 10);
        throw new Error('source failed');
      },
    };
    await expect(Word2Vec.train(bad, small)).rejects.toThrow('source failed');
  });
});

describe('queries', () => {
  let m: Word2Vec;
  it('trains a model', async () => {
    m = await Word2Vec.train(topicCorpus(1000), small);
  });

  it('vector, vocab, has, indexOf', () => {
    expect(m.vector('t0w3')).toBeInstanceOf(Float32Array);
    expect(m.vector('t0w3')!.length).toBe(16);
    expect(m.vector('unicorn')).toBeUndefined();
    expect(m.vocab.length).toBe(158);
    expect(m.vocab[0].count).toBeGreaterThanOrEqual(m.vocab[157].count);
    expect(m.vocab.reduce((s, e) => s + e.count, 0)).toBe(topicCorpus(1000).flat().length);
    expect(m.has('t0w3')).toBe(true);
    expect(m.indexOf(m.vocab[3].word)).toBe(3);
    expect(m.indexOf('unicorn')).toBe(-1);
  });

  it('mostSimilar matches a brute-force cosine ranking', () => {
    const unit = (v: Float32Array) => {
      const n = Math.hypot(...v);
      return Array.from(v, (x) => x / n);
    };
    const q = unit(m.vector('t0w3')!);
    const ranked = m.vocab
      .filter((e) => e.word !== 't0w3')
      .map((e) => ({ word: e.word, s: unit(m.vector(e.word)!).reduce((a, x, i) => a + x * q[i], 0) }))
      .sort((a, b) => b.s - a.s);
    const got = m.mostSimilar('t0w3', { topN: 6 });
    expect(got.map((g) => g.word)).toEqual(ranked.slice(0, 6).map((r) => r.word));
    for (let i = 0; i < 6; ++i) expect(got[i].similarity).toBeCloseTo(ranked[i].s, 5);
    expect(m.mostSimilar('t0w3', { topN: 3, restrictVocab: 4 }).every((s) => m.indexOf(s.word) < 4)).toBe(true);
    const byVector = m.mostSimilar(m.vector('t0w3')!, { topN: 1 });
    expect(byVector[0].word).toBe('t0w3');
    expect(byVector[0].similarity).toBeCloseTo(1, 5);
  });

  it('mostSimilarAsync gives the same answers off the event loop', async () => {
    expect(await m.mostSimilarAsync('t0w3', { topN: 6 })).toEqual(m.mostSimilar('t0w3', { topN: 6 }));
    const q = { positive: ['t0w3', 't0w4'], negative: ['t1w3'] };
    expect(await m.mostSimilarAsync(q, { topN: 4 })).toEqual(m.mostSimilar(q, { topN: 4 }));
    const v = m.vector('t2w2')!;
    expect(await m.mostSimilarAsync(v, { topN: 3 })).toEqual(m.mostSimilar(v, { topN: 3 }));
    await expect(m.mostSimilarAsync('unicorn')).rejects.toThrow(RangeError);
  });

  it('positive/negative queries, cosmul, similarity, doesntMatch, analogy', () => {
    const r = m.mostSimilar({ positive: ['t0w3', 't0w4'], negative: ['t1w3'] }, { topN: 3 });
    expect(r).toHaveLength(3);
    expect(r.map((s) => s.word)).not.toContain('t0w3');
    const c = m.mostSimilarCosmul({ positive: ['t0w3', 't0w4'], negative: ['t1w3'] }, { topN: 3 });
    expect(c).toHaveLength(3);
    expect(c[0].similarity).toBeGreaterThan(0);
    expect(m.similarity('t0w3', 't0w3')).toBeCloseTo(1, 5);
    expect(m.similarity('t0w3', 't0w4')).toBeCloseTo(m.similarity('t0w4', 't0w3'), 6);
    expect(m.doesntMatch(['t0w3', 't0w4', 't0w5', 't1w4'])).toBe('t1w4');
    expect(typeof m.analogy('t0w3', 't0w4', 't1w3')).toBe('string');
    expect(m.analogy('t0w3', 't0w4', 't1w3', { topN: 2 })).toHaveLength(2);
  });

  it('throws RangeError for unknown words and TypeError for bad arguments', () => {
    expect(() => m.mostSimilar('unicorn')).toThrow(RangeError);
    expect(() => m.mostSimilar('unicorn')).toThrow(/Word2Vec\.mostSimilar: 'unicorn' is not in the vocabulary/);
    expect(() => m.similarity('t0w3', 'unicorn')).toThrow(RangeError);
    expect(() => m.mostSimilar({} as never)).toThrow(RangeError);
    expect(() => m.mostSimilar(null as never)).toThrow(TypeError);
    expect(() => m.mostSimilar('t0w3', { topN: -1 })).toThrow(RangeError);
    expect(() => m.mostSimilar('t0w3', { topN: 'x' as never })).toThrow(TypeError);
    expect(() => m.mostSimilar(new Float32Array(3))).toThrow(RangeError);
    expect(() => m.vector({} as never)).toThrow(TypeError);
    expect(() => m.doesntMatch(['unicorn'])).toThrow(RangeError);
  });

  it('evaluates word pairs and analogies given as arrays', async () => {
    const pairs: [string, string, number][] = [
      ['t0w3', 't0w4', 9], ['t1w3', 't1w4', 8], ['t0w6', 't0w5', 8.5], ['t2w2', 't2w9', 7],
      ['t0w3', 't1w4', 1], ['t1w3', 't0w4', 0.5], ['t0w6', 't1w5', 1.5], ['t2w6', 't4w5', 2], ['t0w3', 'unicorn', 5],
    ];
    const r = await m.evaluateWordPairs(pairs);
    expect(r.spearman).toBeGreaterThan(0.5);
    expect(r.pairs).toBe(8);
    expect(r.oov).toBeCloseTo(1 / 9, 10);
    const a = await m.evaluateAnalogies([['t0w3', 't0w4', 't0w6', 't0w5', 'animals'], ['t1w3', 't1w4', 't1w6', 't1w7', 'metals'], ['x', 'y', 'z', 'w']]);
    expect(a.total).toBe(3);
    expect(a.covered).toBe(2);
    expect(a.sections.map((s) => s.section)).toEqual(['animals', 'metals', 'questions']);
    expect(a.accuracy).toBeGreaterThanOrEqual(0);
    await expect(m.evaluateWordPairs(3 as never)).rejects.toThrow(TypeError);
  });

  it('throws ERR_DISPOSED after dispose', async () => {
    const d = await Word2Vec.train(topicCorpus(300), small);
    await d.dispose();
    expect(d.disposed).toBe(true);
    const e = (() => {
      try {
        d.vector('t0w3');
      } catch (x) {
        return x as QkvError;
      }
    })();
    expect(e).toBeInstanceOf(QkvError);
    expect(e!.code).toBe('ERR_DISPOSED');
    await expect(d.save(join(dir, 'x.bin'))).rejects.toThrow(/disposed/);
  });
});

describe('continued training and saving', () => {
  const sentences = topicCorpus(500);

  it('continues training a model, keeping its vocabulary', async () => {
    const m = await Word2Vec.train(sentences, small);
    const before = m.vector('t0w3')!;
    const r = await m.train([...sentences, ['unicorn', 'unicorn', 'unicorn']], { epochs: 2 });
    expect(r.words).toBe(2 * (sentences.flat().length + 3));
    expect(m.has('unicorn')).toBe(false);
    expect(Array.from(m.vector('t0w3')!)).not.toEqual(Array.from(before));
    await expect(m.train(sentences, { dim: 32 } as never)).rejects.toThrow(RangeError);
  });

  it('queries during training throw, and calls on one model run in order', async () => {
    const m = await Word2Vec.train(sentences, small);
    const p = m.train(sentences, { epochs: 50 });
    await new Promise((r) => setTimeout(r, 5));
    const e = (() => {
      try {
        m.mostSimilar('t0w3');
      } catch (x) {
        return x as QkvError;
      }
    })();
    const saved = m.save(join(dir, 'during.qkv'));  // queued behind the training
    await p;
    await saved;
    if (e) expect(e.code).toBe('ERR_UNSUPPORTED');
    expect(m.mostSimilar('t0w3', { topN: 1 })).toHaveLength(1);
  });

  it('saves and loads in all formats; qkv continues training bit-identically', async () => {
    const m = await Word2Vec.train(sentences, { ...small, hs: true, negative: 2 });
    for (const format of ['word2vec-text', 'word2vec-binary', 'qkv'] as const) {
      const p = join(dir, `model.${format}`);
      await m.save(p, { format });
      const l = await Word2Vec.load(p);
      expect(l.vocab.map((e) => e.word)).toEqual(m.vocab.map((e) => e.word));
      expect(Array.from(l.vector('t1w4')!)).toEqual(Array.from(m.vector('t1w4')!));
      expect(l.config.trainable).toBe(format === 'qkv');
      if (format === 'qkv') expect(l.vocab).toEqual(m.vocab);
      else expect(l.vocab[0].count).toBe(0);
    }
    // Same continued training from the saved file and from the live model.
    const a = await Word2Vec.load(join(dir, 'model.qkv'));
    await a.train(sentences, { epochs: 1, threads: 1, seed: 9 });
    await m.train(sentences, { epochs: 1, threads: 1, seed: 9 });
    expect(Array.from(a.vector('t1w4')!)).toEqual(Array.from(m.vector('t1w4')!));
    const t = await Word2Vec.load(join(dir, 'model.word2vec-text'));
    const e = await t.train(sentences).catch((x) => x);
    expect(e.code).toBe('ERR_UNSUPPORTED');
    await expect(m.save(join(dir, 'm.x'), { format: 'csv' as never })).rejects.toThrow(TypeError);
    await expect(m.save(join(dir, 'no-such-dir', 'm.qkv'))).rejects.toMatchObject({ code: 'ERR_IO' });
  });
});
