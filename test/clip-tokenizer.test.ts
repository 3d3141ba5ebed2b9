// CLIP's flavour of BPETokenizer: loading bpe_simple_vocab_16e6.txt(.gz), CLIP's normalisation and
// pre-tokenizer, `</w>` word ends, decoding, tokenizer.json and training. The expected ids are
// those of a re-implementation of CLIP's simple_tokenizer.py (test/fixtures/make_clip_tokenizer_ids.py)
// run on a vocabulary trained by qkv (test/fixtures/make_clip_merges.ts); no npm package ships
// CLIP's own vocabulary.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BPETokenizer, tokenizerFromJSON } from '../src/index';

const root = path.join(__dirname, '..');
const MERGES = path.join(root, 'test/fixtures/clip_merges_tiny.txt');
const expected = JSON.parse(readFileSync(path.join(root, 'test/fixtures/clip_tokenizer_ids.json'), 'utf8')) as {
  vocab_size: number;
  cases: { text: string; ids: number[] }[];
};

let dir: string;
let tok: BPETokenizer;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'qkv-clip-'));
  tok = await BPETokenizer.loadCLIP(MERGES);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('BPETokenizer.loadCLIP', () => {
  it('lays the ids out as simple_tokenizer.py does', () => {
    expect(tok.flavor).toBe('clip');
    expect(tok.size).toBe(expected.vocab_size);
    expect(tok.merges).toBe(expected.vocab_size - 512 - 2);
    expect(tok.bosId).toBe(expected.vocab_size - 2);
    expect(tok.eosId).toBe(expected.vocab_size - 1);
    expect(tok.idToToken(tok.bosId!)).toBe('<|startoftext|>');
    expect(tok.idToToken(0)).toBe('!');
    expect(tok.idToToken(256)).toBe('!</w>');
    expect(tok.idToToken(511)).toBe(tok.idToToken(255) + '</w>');
    expect(tok.tokenToId('th')).toBe(512); // the first merge
  });

  it('encodes as the Python re-implementation of simple_tokenizer.py', async () => {
    for (const { text, ids } of expected.cases) {
      expect(tok.encode(text), text).toEqual(ids);
      // The textbook merge, on the same pre-tokenized words (it splits no added tokens out).
      if (!text.includes('<|')) expect(tok.encodeReference(text), text).toEqual(ids);
    }
    expect(await tok.encodeBatch(expected.cases.map((c) => c.text))).toEqual(expected.cases.map((c) => c.ids));
  });

  it('reads the gzipped file the same', async () => {
    const gz = path.join(dir, 'bpe_simple_vocab.txt.gz');
    writeFileSync(gz, gzipSync(readFileSync(MERGES)));
    const z = await BPETokenizer.loadCLIP(gz);
    for (const { text, ids } of expected.cases) expect(z.encode(text)).toEqual(ids);
  });

  it("reads Hugging Face's vocab.json + merges.txt the same", async () => {
    const model = tok.toJSON().tokenizer.model as { vocab: Record<string, number>; merges: string[] };
    const vocab = path.join(dir, 'vocab.json'), merges = path.join(dir, 'merges.txt');
    writeFileSync(vocab, JSON.stringify(model.vocab));
    writeFileSync(merges, `#version: 0.2\n${model.merges.join('\n')}\n`);
    const hf = await BPETokenizer.loadCLIP(vocab, merges);
    expect(hf.flavor).toBe('clip');
    expect(hf.bosId).toBe(tok.bosId);
    for (const { text, ids } of expected.cases) expect(hf.encode(text)).toEqual(ids);
  });

  it('normalises, splits digits and drops whitespace', () => {
    expect(tok.encode('  Hello\t\n  WORLD ')).toEqual(tok.encode('hello world'));
    const digits = tok.encode('2024');
    expect(digits.map((id) => tok.idToToken(id))).toEqual(['2</w>', '0</w>', '2</w>', '4</w>']);
    expect(tok.encode("IT'S")).toEqual(tok.encode("it's"));
    expect(tok.encode("it's").map((id) => tok.idToToken(id))).toContain("'s</w>");
  });

  it('decodes with </w> as a space, and wraps with bos/eos for a model', () => {
    const ids = tok.encode('First  Citizen: before we  proceed', { bos: true, eos: true });
    expect(ids[0]).toBe(tok.bosId);
    expect(ids.at(-1)).toBe(tok.eosId);
    expect(tok.decode(ids)).toBe('first citizen : before we proceed');
    expect(tok.decode(ids, { skipSpecial: false })).toBe('<|startoftext|>first citizen : before we proceed <|endoftext|>');
    const cut = tok.encode('you are all resolved rather to die than to famish', { bos: true, eos: true, maxLength: 5 });
    expect(cut).toHaveLength(5);
    expect(cut.at(-1)).toBe(tok.eosId);
    expect(tok.decode([])).toBe('');
  });

  it('pads a batch with zeros after eos, as CLIP does', () => {
    const b = tok.batch(['hear me speak', 'o romeo, romeo! wherefore art thou romeo?'], { bos: true, eos: true, maxLength: 77 });
    const first = tok.encode('hear me speak', { bos: true, eos: true });
    expect(b.lengths[0]).toBe(first.length);
    expect(Array.from(b.ids.subarray(0, b.cols))).toEqual([...first, ...new Array<number>(b.cols - first.length).fill(0)]);
  });

  it('writes a tokenizer.json with end_of_word_suffix that reads back to the same ids', async () => {
    const json = tok.toJSON();
    const model = json.tokenizer.model as Record<string, unknown>;
    expect(model.end_of_word_suffix).toBe('</w>');
    expect(JSON.stringify(json.tokenizer.normalizer)).toContain('Lowercase');
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(json))) as BPETokenizer;
    const file = path.join(dir, 'tokenizer.json');
    await tok.save(file);
    const hf = await BPETokenizer.fromFile(file);
    for (const t of [back, hf]) {
      expect(t.flavor).toBe('clip');
      expect(t.bosId).toBe(tok.bosId);
      for (const { text, ids } of expected.cases) expect(t.encode(text)).toEqual(ids);
    }
  });

  it('trains the same vocabulary again from the same corpus', async () => {
    const corpus = readFileSync(path.join(root, 'data/tinyshakespeare.txt'), 'utf8').slice(0, 300_000);
    const t = await BPETokenizer.train(corpus.split('\n\n'), { flavor: 'clip', vocabSize: 3000 });
    expect(t.flavor).toBe('clip');
    const merges = (t.toJSON().tokenizer.model as { merges: string[] }).merges;
    expect(merges).toEqual(readFileSync(MERGES, 'utf8').split('\n').slice(1, -1));
    expect(t.bosId).toBe(2998);
    expect(t.eosId).toBe(2999);
  });

  it('rejects bad files and options with errors naming the call', async () => {
    await expect(BPETokenizer.loadCLIP(path.join(dir, 'missing.txt'))).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringContaining('BPETokenizer.loadCLIP') });
    const badGz = path.join(dir, 'bad.gz');
    writeFileSync(badGz, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    await expect(BPETokenizer.loadCLIP(badGz)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    const unknown = path.join(dir, 'unknown.txt');
    writeFileSync(unknown, '#version: 0.2\nab c\n');
    await expect(BPETokenizer.loadCLIP(unknown)).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringContaining('merge 0') });
    const noSpace = path.join(dir, 'nospace.txt');
    writeFileSync(noSpace, '#version: 0.2\nabc\n');
    await expect(BPETokenizer.loadCLIP(noSpace)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    await expect(BPETokenizer.train('abc', { flavor: 'clip', vocabSize: 600 - 90 })).rejects.toThrow(RangeError);
    await expect(BPETokenizer.train('abc', { flavor: 'bert' as 'clip', vocabSize: 600 })).rejects.toThrow(/BPETokenizer.train/);
    await expect(BPETokenizer.loadCLIP(42 as unknown as string)).rejects.toThrow(TypeError);
  });
});
