// word2vec files: Google's text and binary formats as gensim writes them (fixtures made by
// test/fixtures/make_word2vec_gensim.py with Debian's gensim 4.2), qkv's safetensors format, format
// detection, atomic writes, and malformed files (ERR_FORMAT, never a crash).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { afterAll, describe, expect, it } from 'vitest';

import { QkvError, Word2Vec } from '../src/index';

const fixtures = join(__dirname, 'fixtures');
const dir = mkdtempSync(join(tmpdir(), 'qkv-w2v-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface GensimRef {
  dim: number;
  words: string[];
  vectors: Record<string, number[]>;
  most_similar_king: [string, number][];
  similarity_king_queen: number;
}
const ref: GensimRef = JSON.parse(readFileSync(join(fixtures, 'word2vec_gensim.json'), 'utf8'));

describe('gensim fixtures', () => {
  for (const [file, format] of [['word2vec_gensim.txt', 'word2vec-text'], ['word2vec_gensim.bin', 'word2vec-binary']] as const) {
    it(`loads ${file} (${format}) with the words, vectors and neighbours gensim has`, async () => {
      for (const opt of [{}, { format }]) {
        const m = await Word2Vec.load(join(fixtures, file), opt);
        expect(m.dim).toBe(ref.dim);
        expect(m.vocab.map((e) => e.word)).toEqual(ref.words);
        for (const [w, v] of Object.entries(ref.vectors)) expect(Array.from(m.vector(w)!)).toEqual(Array.from(Float32Array.from(v)));
        const ours = m.mostSimilar('king', { topN: 5 });
        expect(ours.map((s) => s.word)).toEqual(ref.most_similar_king.map((s) => s[0]));
        ours.forEach((s, i) => expect(s.similarity).toBeCloseTo(ref.most_similar_king[i][1], 5));
        expect(m.similarity('king', 'queen')).toBeCloseTo(ref.similarity_king_queen, 5);
        expect(m.has('東京')).toBe(true);
      }
    });
  }

  it('writes files that read back identically and look like gensim\'s', async () => {
    const m = await Word2Vec.load(join(fixtures, 'word2vec_gensim.bin'));
    const txt = join(dir, 'ours.txt');
    const bin = join(dir, 'ours.bin');
    await m.save(txt, { format: 'word2vec-text' });
    await m.save(bin, { format: 'word2vec-binary' });
    // Header line, UTF-8 words, shortest round-trip decimals.
    const lines = readFileSync(txt, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(`${ref.words.length} ${ref.dim}`);
    expect(lines[1].split(' ')[0]).toBe(ref.words[0]);
    expect(lines[1].split(' ')).toHaveLength(ref.dim + 1);
    expect(lines.some((l) => l.startsWith('東京 '))).toBe(true);
    // Binary: same header, then "word " + little-endian float32.
    const b = readFileSync(bin);
    const header = `${ref.words.length} ${ref.dim}\n${ref.words[0]} `;
    expect(b.subarray(0, header.length).toString('utf8')).toBe(header);
    expect(b.readFloatLE(header.length)).toBe(Math.fround(ref.vectors[ref.words[0]][0]));
    for (const p of [txt, bin]) {
      const l = await Word2Vec.load(p);
      expect(l.vocab.map((e) => e.word)).toEqual(ref.words);
      for (const w of ref.words) expect(Array.from(l.vector(w)!)).toEqual(Array.from(m.vector(w)!));
    }
    // What the by-hand gensim check reads (see make_word2vec_gensim.py --check).
    const probe = 'king';
    writeFileSync(join(dir, 'ours.json'), JSON.stringify({
      words: m.vocab.map((e) => e.word),
      vectors: Object.fromEntries(['the', 'king', 'café'].map((w) => [w, Array.from(m.vector(w)!)])),
      probe,
      most_similar: m.mostSimilar(probe, { topN: 5 }).map((s) => [s.word, s.similarity]),
    }));
  });
});

describe('qkv format', () => {
  it('is a safetensors file with the config, vocabulary and counts in __metadata__', async () => {
    const m = await Word2Vec.train([['a', 'b', 'c', 'a'], ['b', 'c', 'a']], { dim: 8, minCount: 1, epochs: 1, threads: 1, hs: true });
    const p = join(dir, 'model.qkv');
    await m.save(p, { format: 'qkv' });
    const buf = readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    expect(header.__metadata__.format).toBe('qkv.word2vec');
    expect(JSON.parse(header.__metadata__.vocab)).toEqual(['a', 'b', 'c']);
    expect(JSON.parse(header.__metadata__.counts)).toEqual([3, 2, 2]);
    expect(JSON.parse(header.__metadata__.config)).toMatchObject({ dim: 8, negative: 5, hs: true, minCount: 1 });
    expect(header.vectors).toEqual({ dtype: 'F32', shape: [3, 8], data_offsets: [0, 96] });
    expect(header.syn1neg.shape).toEqual([3, 8]);
    expect(header.syn1.shape).toEqual([2, 8]);
    expect(buf.length).toBe(8 + n + 4 * 8 * (3 + 3 + 2));
    expect(buf.readFloatLE(8 + n)).toBe(m.vector('a')![0]);
  });

  it('writes atomically: the same bytes again, no temporary files left, nothing left by a failed write', async () => {
    const m = await Word2Vec.train([['x', 'y', 'z', 'x']], { dim: 4, minCount: 1, epochs: 1, threads: 1 });
    const p = join(dir, 'atomic.bin');
    await m.save(p, { format: 'word2vec-binary' });
    const before = readFileSync(p);
    await m.save(p, { format: 'word2vec-binary' });
    expect(readFileSync(p)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.includes('.qkv-tmp-'))).toEqual([]);
    const e = await m.save(join(dir, 'missing-dir', 'x.bin'), { format: 'word2vec-binary' }).catch((x) => x);
    expect(e).toBeInstanceOf(QkvError);
    expect(e.code).toBe('ERR_IO');
    expect(existsSync(join(dir, 'missing-dir'))).toBe(false);
  });
});

describe('malformed files reject with ERR_FORMAT', () => {
  const good = readFileSync(join(fixtures, 'word2vec_gensim.txt'), 'utf8');
  const goodBin = readFileSync(join(fixtures, 'word2vec_gensim.bin'));
  const goodLines = good.trimEnd().split('\n');
  const cases: [string, string | Buffer, RegExp][] = [
    ['empty file', '', /header/],
    ['bad header', 'hello world\nthe 1 2 3\n', /header/],
    ['header with one number', '3\n', /header/],
    ['negative count', '-1 3\n', /header/],
    ['zero dimensions', '1 0\nthe\n', /dimensions/],
    ['fewer vectors than declared (text)', [`40 ${ref.dim}`, ...goodLines.slice(1)].join('\n') + '\n', /ends after|too short/],
    ['more vectors than declared (text)', [`3 ${ref.dim}`, ...goodLines.slice(1)].join('\n') + '\n', /more vectors/],
    ['too few numbers on a line', [goodLines[0], goodLines[1].split(' ').slice(0, 5).join(' '), ...goodLines.slice(2)].join('\n'), /has 4 numbers, expected 12/],
    ['not a number', [goodLines[0], goodLines[1].replace(/ [^ ]+$/, ' abc'), ...goodLines.slice(2)].join('\n'), /not a number|numbers/],
    ['truncated binary', goodBin.subarray(0, goodBin.length - 7), /truncated|too short|ends/],
    ['more data than declared (binary)', Buffer.concat([goodBin, Buffer.from('extra '), Buffer.alloc(48)]), /more data/],
    ['non-UTF-8 word (binary)', Buffer.concat([Buffer.from('1 2\n'), Buffer.from([0xff, 0xfe, 0x20]), Buffer.alloc(8)]), /UTF-8/],
    ['non-UTF-8 word (text)', Buffer.concat([Buffer.from('1 2\n'), Buffer.from([0xc3, 0x28]), Buffer.from(' 0.5 0.25\n')]), /UTF-8/],
    ['huge declared count', '99999999 300\nthe 1\n', /too short/],
    ['safetensors with a bad header', Buffer.concat([Buffer.from([16, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a": [1, 2,  ]}')]), /JSON/],
    ['safetensors that is not a qkv model', Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":1} ')]), /__metadata__/],
  ];
  for (const [name, content, msg] of cases) {
    it(name, async () => {
      const p = join(dir, `bad-${name.replace(/\W+/g, '-')}`);
      writeFileSync(p, content);
      const e = await Word2Vec.load(p).catch((x) => x);
      expect(e).toBeInstanceOf(QkvError);
      expect(e.code).toBe('ERR_FORMAT');
      expect(e.message).toMatch(msg);
      expect(e.message).toContain(p);
    });
  }

  it('a damaged qkv file: wrong offsets, shapes, counts', async () => {
    const m = await Word2Vec.train([['a', 'b', 'c', 'a'], ['b', 'c', 'a']], { dim: 8, minCount: 1, epochs: 1, threads: 1 });
    const p = join(dir, 'ok.qkv');
    await m.save(p);
    const buf = readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    const variants: [string, (h: typeof header) => void, RegExp][] = [
      ['offsets past the end', (h) => (h.vectors.data_offsets = [0, 960]), /data_offsets/],
      ['wrong shape', (h) => (h.vectors.shape = [4, 8]), /shape/],
      ['wrong dtype', (h) => (h.vectors.dtype = 'F16'), /dtype/],
      ['counts not matching', (h) => (h.__metadata__.counts = '[3, 2]'), /counts/],
      ['duplicate words', (h) => (h.__metadata__.vocab = '["a", "a", "c"]'), /twice/],
      ['missing tensor', (h) => delete h.syn1neg, /syn1neg/],
      ['unknown version', (h) => (h.__metadata__.version = '9'), /version/],
    ];
    for (const [name, edit, msg] of variants) {
      const h = JSON.parse(JSON.stringify(header));
      edit(h);
      let text = JSON.stringify(h);
      while (text.length % 8) text += ' ';
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
      const q = join(dir, `damaged-${name.replace(/\W+/g, '-')}.qkv`);
      writeFileSync(q, Buffer.concat([len, Buffer.from(text), buf.subarray(8 + n)]));
      const e = await Word2Vec.load(q).catch((x) => x);
      expect(e, name).toBeInstanceOf(QkvError);
      expect(e.code, name).toBe('ERR_FORMAT');
      expect(e.message, name).toMatch(msg);
    }
    // Truncated data.
    const t = join(dir, 'truncated.qkv');
    writeFileSync(t, buf.subarray(0, buf.length - 10));
    await expect(Word2Vec.load(t)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
  });

  it('a missing file is ERR_IO, a bad format name or a bad path a TypeError', async () => {
    await expect(Word2Vec.load(join(dir, 'nope.bin'))).rejects.toMatchObject({ code: 'ERR_IO' });
    await expect(Word2Vec.load(join(fixtures, 'word2vec_gensim.txt'), { format: 'csv' as never })).rejects.toThrow(TypeError);
    await expect(Word2Vec.load('' as never)).rejects.toThrow(TypeError);
  });
});
