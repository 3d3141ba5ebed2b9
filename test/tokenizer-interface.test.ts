import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import type { Tokenizer, TokenizerJSON } from '../src/index';

// JSON written by the code before specials were configurable (generated with it, kept verbatim).
const OLD_CHAR_JSON = '{"kind":"char","lowercase":true,"tokens":["<pad>","<bos>","<eos>","<unk>","<mask>","l"," ","h","o","é","🙂"]}';
const OLD_WORD_JSON = '{"kind":"word","lowercase":true,"tokens":["<pad>","<bos>","<eos>","<unk>","<mask>","sat","the","!",".","cat","dog"]}';

/** What every Tokenizer must do, whatever its specials. */
async function conformance(tok: Tokenizer, texts: string[]): Promise<void> {
  expect(typeof tok.kind).toBe('string');
  expect(Number.isInteger(tok.size)).toBe(true);
  const named = { pad: tok.padId, bos: tok.bosId, eos: tok.eosId, unk: tok.unkId, mask: tok.maskId };
  for (const [name, id] of Object.entries(named)) expect(tok.specialTokens[name]).toBe(id);
  for (const id of Object.values(tok.specialTokens)) {
    expect(tok.isSpecial(id)).toBe(true);
    expect(id).toBeGreaterThanOrEqual(0);
    expect(id).toBeLessThan(tok.size);
  }
  const specials = new Set(Object.values(tok.specialTokens));
  for (let id = 0; id < tok.size; id++) expect(tok.isSpecial(id)).toBe(specials.has(id));
  for (const t of texts) {
    const ids = tok.encode(t);
    expect(ids.some((id) => tok.isSpecial(id) && id !== tok.unkId)).toBe(false); // text never yields a special other than unk
    expect(tok.decode(ids)).toBe(tok.decode(ids, { skipSpecial: true }));
  }
  expect(await tok.encodeBatch(texts)).toEqual(texts.map((t) => tok.encode(t)));
  const rows = texts.map((t) => tok.encode(t));
  expect(await tok.decodeBatch(rows)).toEqual(rows.map((r) => tok.decode(r)));
  expect(await tok.decodeBatch(rows.map((r) => Int32Array.from(r)), { skipSpecial: false })).toEqual(rows.map((r) => tok.decode(r, { skipSpecial: false })));
  const back = qkv.tokenizerFromJSON(JSON.stringify(tok.toJSON()));
  expect(back.kind).toBe(tok.kind);
  expect(back.specialTokens).toEqual(tok.specialTokens);
  for (const t of texts) expect(back.encode(t)).toEqual(tok.encode(t));
}

describe('Tokenizer interface on the vocabularies', () => {
  const texts = ['hello world', 'the cat, sat!', 'héllo 🙂'];

  it('CharVocab and WordVocab with the default specials at 0..4', async () => {
    for (const v of [qkv.CharVocab.build(texts), qkv.WordVocab.build(texts)]) {
      await conformance(v, [...texts, 'zzz unknown']);
      expect(v.specialTokens).toEqual({ pad: 0, bos: 1, eos: 2, unk: 3, mask: 4 });
      expect(Object.keys(v.specialTokens)).toEqual(['pad', 'bos', 'eos', 'unk', 'mask']);
      expect([v.padId, v.bosId, v.eosId, v.unkId, v.maskId]).toEqual([qkv.PAD_ID, qkv.BOS_ID, qkv.EOS_ID, qkv.UNK_ID, qkv.MASK_ID]);
      expect(v.tokens.slice(0, 5)).toEqual([...qkv.SPECIAL_TOKENS]);
      expect(v.specials).toEqual(qkv.DEFAULT_SPECIALS);
      expect(v.isSpecial(5)).toBe(false);
    }
  });

  it('CharVocab and WordVocab with custom specials', async () => {
    const c = qkv.CharVocab.build(texts, { specials: { eos: '</s>', pad: '<p>' }, specialsAt: 'end' });
    const w = qkv.WordVocab.build(texts, { specials: ['unk', 'bos', 'sep'] });
    await conformance(c, texts);
    await conformance(w, [...texts, 'a new word']);
  });

  it('BPETokenizer, trained, with named and unnamed specials', async () => {
    const bpe = await qkv.BPETokenizer.train(texts.join('\n').repeat(20), { vocabSize: 300, specialTokens: ['<|endoftext|>', '<pad>', '<sep>'] });
    bpe.setSpecial('pad', '<pad>');
    await conformance(bpe, [...texts, 'zzz unknown']);
    expect(bpe.specialTokens).toEqual({ eos: bpe.tokenToId('<|endoftext|>'), pad: bpe.tokenToId('<pad>'), '<sep>': bpe.tokenToId('<sep>') });
  });

  it('encode adds bos/eos and cuts to maxLength keeping them', () => {
    const v = qkv.WordVocab.build(['a b c d']);
    const [a, b] = [v.id('a'), v.id('b')];
    expect(v.encode('a b c d', { bos: true, eos: true, maxLength: 4 })).toEqual([1, a, b, 2]);
    expect(v.encode('a b c d', { eos: true, maxLength: 1 })).toEqual([2]);
    expect(v.encode('a b', { maxLength: 10 })).toEqual([a, b]);
  });
});

describe('configurable special tokens', () => {
  it('sit wherever the token list puts them, and only those named exist', () => {
    const v = new qkv.CharVocab(['a', 'b', '</s>', '<pad>'], { specials: { pad: '<pad>', eos: '</s>' } });
    expect([v.padId, v.eosId, v.bosId, v.unkId, v.maskId]).toEqual([3, 2, undefined, undefined, undefined]);
    expect(v.specialTokens).toEqual({ pad: 3, eos: 2 });
    expect([0, 1, 2, 3].map((id) => v.isSpecial(id))).toEqual([false, false, true, true]);
    expect(v.encode('ab', { eos: true })).toEqual([0, 1, 2]);
    expect(v.decode([0, 2, 1, 3])).toBe('ab');
    expect(v.decode([0, 2, 1, 3], { skipSpecial: false })).toBe('a</s>b<pad>');
  });

  it('without unk, an unknown token is a RangeError naming it; without bos/eos, asking for one is a RangeError', () => {
    const v = new qkv.WordVocab(['<pad>', 'hello', 'world'], { specials: ['pad'] });
    expect(v.encode('Hello world')).toEqual([1, 2]);
    expect(() => v.encode('hello there')).toThrow(RangeError);
    expect(() => v.encode('hello there')).toThrow(/"there".*no unk/);
    expect(() => v.id('there')).toThrow(/"there"/);
    expect(() => v.encode('hello', { bos: true })).toThrow(RangeError);
    expect(() => v.encode('hello', { eos: true })).toThrow(/no eos token/);
    expect(v.encode('hello there', { maxLength: 1 })).toEqual([1]); // the unknown word is cut before it is looked up
  });

  it('unknown tokens map to unkId wherever it is', () => {
    const v = new qkv.CharVocab(['a', '[UNK]', 'b'], { specials: { unk: '[UNK]' } });
    expect(v.encode('abz')).toEqual([0, 2, 1]);
    expect(v.id('z')).toBe(1);
    expect(v.decode([0, 1, 2])).toBe('ab');
  });

  it('build: a list gives <name> tokens, an object its own, in the order given, first or last', () => {
    const l = qkv.CharVocab.build(['aab'], { specials: ['eos', 'pad'] });
    expect(l.tokens).toEqual(['<eos>', '<pad>', 'a', 'b']);
    expect(l.specialTokens).toEqual({ eos: 0, pad: 1 });
    const o = qkv.WordVocab.build(['x y x'], { specials: { pad: '[PAD]', sep: '[SEP]' }, specialsAt: 'end' });
    expect(o.tokens).toEqual(['x', 'y', '[PAD]', '[SEP]']);
    expect(o.specialTokens).toEqual({ pad: 2, sep: 3 });
    expect(o.isSpecial(3)).toBe(true);
    expect(o.decode([0, 3, 1])).toBe('x y');
    expect(qkv.CharVocab.build(['a'], { specials: ['constructor'] }).specialTokens).toEqual({ constructor: 0 }); // not taken for Object's own
    const none = qkv.CharVocab.build(['ab'], { specials: [] });
    expect(none.tokens).toEqual(['a', 'b']);
    expect(none.specialTokens).toEqual({});
    expect(qkv.CharVocab.build(['abcabd'], { specials: ['pad', 'unk'], maxSize: 4 }).tokens).toEqual(['<pad>', '<unk>', 'a', 'b']);
    expect(() => qkv.CharVocab.build(['a'], { specials: ['pad', 'unk'], maxSize: 1 })).toThrow(RangeError);
  });

  it('two names may share one token', () => {
    const v = qkv.CharVocab.build(['ab'], { specials: { bos: '<s>', eos: '<s>', unk: '<unk>' } });
    expect(v.tokens).toEqual(['<s>', '<unk>', 'a', 'b']);
    expect(v.specialTokens).toEqual({ bos: 0, eos: 0, unk: 1 });
    expect(v.encode('a', { bos: true, eos: true })).toEqual([0, 2, 0]);
  });

  it('refuses specials that text can produce, bad names and bad types', () => {
    expect(() => qkv.CharVocab.build(['a_b'], { specials: { pad: '_' } })).toThrow(/"_" \(pad\) is also what the text/);
    expect(() => new qkv.WordVocab(['<pad>', 'sep'], { specials: { pad: '<pad>', sep: 'sep' } })).toThrow(RangeError);
    expect(() => new qkv.CharVocab(['a'], { specials: { pad: '<pad>' } })).toThrow(/"<pad>" \(pad\) is not among the tokens/);
    expect(() => new qkv.CharVocab(['<pad>'], { specials: { 'two words': '<pad>' } })).toThrow(RangeError);
    expect(() => new qkv.CharVocab(['<pad>'], { specials: ['pad', 'pad'] })).toThrow(RangeError);
    expect(() => new qkv.CharVocab(['<pad>'], { specials: { pad: '' } })).toThrow(RangeError);
    expect(() => new qkv.CharVocab(['<pad>'], { specials: { pad: 0 } as never })).toThrow(TypeError);
    expect(() => new qkv.CharVocab(['<pad>'], { specials: 'pad' as never })).toThrow(TypeError);
    expect(() => qkv.CharVocab.build(['a'], { specialsAt: 'middle' as never })).toThrow(TypeError);
    expect(() => new qkv.CharVocab(['a', 'a'], { specials: [] })).toThrow(/appears twice/);
    expect(() => new qkv.CharVocab('abc' as never)).toThrow(TypeError);
    // Upper-case specials in a lower-casing vocabulary cannot come from text: allowed.
    expect(new qkv.CharVocab(['X', 'x'], { lowercase: true, specials: { pad: 'X' } }).encode('X')).toEqual([1]);
  });
});

describe('JSON', () => {
  it('saves the specials (name → token) and comes back with the same ids', () => {
    const v = new qkv.CharVocab(['a', '</s>', 'b', '<pad>'], { lowercase: true, specials: { pad: '<pad>', eos: '</s>' } });
    const j = v.toJSON();
    expect(j).toEqual({ kind: 'char', lowercase: true, specials: { pad: '<pad>', eos: '</s>' }, tokens: ['a', '</s>', 'b', '<pad>'] });
    const back = qkv.tokenizerFromJSON(JSON.stringify(j));
    expect(back).toBeInstanceOf(qkv.CharVocab);
    expect(back.specialTokens).toEqual({ pad: 3, eos: 1 });
    expect(back.encode('AB', { eos: true })).toEqual([0, 2, 1]);
    expect(qkv.tokenizerFromJSON(j).toJSON()).toEqual(j);
    const none = qkv.tokenizerFromJSON(qkv.WordVocab.build(['x'], { specials: [] }).toJSON());
    expect(none.specialTokens).toEqual({});
    expect(() => none.encode('y')).toThrow(RangeError);
  });

  it('loads JSON saved before specials were configurable with the five at 0..4', () => {
    const c = qkv.tokenizerFromJSON(OLD_CHAR_JSON) as qkv.CharVocab;
    expect(c).toBeInstanceOf(qkv.CharVocab);
    expect(c.specialTokens).toEqual({ pad: 0, bos: 1, eos: 2, unk: 3, mask: 4 });
    expect(c.lowercase).toBe(true);
    expect(c.encode('Hé?', { bos: true })).toEqual([1, 7, 9, 3]);
    expect(c.toJSON()).toEqual({ ...JSON.parse(OLD_CHAR_JSON), specials: qkv.DEFAULT_SPECIALS });
    const w = qkv.vocabFromJSON(OLD_WORD_JSON);
    expect(w).toBeInstanceOf(qkv.WordVocab);
    expect(w.encode('The cat flew.', { eos: true })).toEqual([6, 9, 3, 8, 2]);
    expect(w.decode([6, 9, 4, 8])).toBe('the cat.');
  });

  it('registry: new kinds dispatch by kind; bad input and clashes are errors', () => {
    const echo: Tokenizer = Object.assign(qkv.CharVocab.build(['a']), {});
    const fromJSON = (j: TokenizerJSON) => {
      expect(j.extra).toBe(7);
      return echo;
    };
    qkv.registerTokenizer('test-kind', fromJSON);
    qkv.registerTokenizer('test-kind', fromJSON); // the same function again: fine
    expect(qkv.tokenizerFromJSON({ kind: 'test-kind', extra: 7 })).toBe(echo);
    expect(() => qkv.registerTokenizer('test-kind', () => echo)).toThrow(RangeError);
    expect(() => qkv.registerTokenizer('char', () => echo)).toThrow(RangeError);
    expect(() => qkv.registerTokenizer('', fromJSON)).toThrow(TypeError);
    expect(() => qkv.registerTokenizer('x', null as never)).toThrow(TypeError);
    expect(() => qkv.tokenizerFromJSON({ kind: 'nope' })).toThrow(/unknown tokenizer kind "nope"/);
    expect(() => qkv.tokenizerFromJSON({ kind: 'nope' })).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    expect(() => qkv.tokenizerFromJSON([] as never)).toThrow(TypeError);
    expect(() => qkv.tokenizerFromJSON(null as never)).toThrow(TypeError);
    expect(() => qkv.tokenizerFromJSON('{"kind":')).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    // Saved data that does not describe a tokenizer is a corrupt file's content: ERR_FORMAT.
    const corrupt = expect.objectContaining({ code: 'ERR_FORMAT' });
    expect(() => qkv.tokenizerFromJSON({ kind: 'char', tokens: 'abc' })).toThrow(corrupt);
    expect(() => qkv.tokenizerFromJSON({ kind: 'char', tokens: [], specials: ['pad'] })).toThrow(corrupt);
    expect(() => qkv.tokenizerFromJSON({ kind: 'char', lowercase: 'yes', tokens: [] })).toThrow(corrupt);
    expect(() => qkv.tokenizerFromJSON({ kind: 'char', tokens: ['a'] })).toThrow(corrupt); // old format without the specials
    expect(() => qkv.tokenizerFromJSON({ kind: 'char', tokens: ['a'] })).toThrow(/tokenizerFromJSON: a corrupt char tokenizer: CharVocab: the special token "<pad>"/);
    const notVocab: Tokenizer = { ...echo, kind: 'test-plain' } as Tokenizer;
    qkv.registerTokenizer('test-plain', () => notVocab);
    expect(() => qkv.vocabFromJSON({ kind: 'test-plain' })).toThrow(corrupt);
  });
});

describe('batches', () => {
  it('pad with padId, also when it is not 0, and with 0 without a pad token', () => {
    const v = new qkv.CharVocab(['a', 'b', '<eos>', '<pad>'], { specials: ['eos', 'pad'] });
    const b = v.batch(['a', 'abb'], { eos: true });
    expect([b.rows, b.cols]).toEqual([2, 4]);
    expect(Array.from(b.lengths)).toEqual([2, 4]);
    expect(Array.from(b.ids)).toEqual([0, 2, 3, 3, 0, 1, 1, 2]);
    const n = new qkv.CharVocab(['x', 'a', 'b'], { specials: [] });
    expect(Array.from(n.batch(['a', 'bab']).ids)).toEqual([1, 0, 0, 2, 1, 2]);
    expect(Array.from(qkv.padBatch([[1], [2, 3]], 'op', 7).ids)).toEqual([1, 7, 2, 3]);
    expect(Array.from(qkv.padBatch([[1], [2, 3]]).ids)).toEqual([1, 0, 2, 3]);
  });

  it('rejects bad rows, ids and padIds', () => {
    expect(() => qkv.padBatch([[1], [2.5]])).toThrow(RangeError);
    expect(() => qkv.padBatch([[1], [-1]])).toThrow(RangeError);
    expect(() => qkv.padBatch([[1]], 'op', -1)).toThrow(RangeError);
    expect(() => qkv.padBatch([[1], []])).toThrow(RangeError);
    expect(() => qkv.padBatch([])).toThrow(RangeError);
    expect(() => qkv.padBatch('ab' as never)).toThrow(TypeError);
    expect(() => qkv.padBatch([1] as never)).toThrow(TypeError);
    const v = qkv.CharVocab.build(['ab']);
    expect(() => v.batch('ab' as never)).toThrow(TypeError);
    expect(() => v.batch([])).toThrow(RangeError);
    expect(() => v.batch(['a', ''])).toThrow(RangeError);
  });
});

describe('argument errors', () => {
  const v = qkv.CharVocab.build(['abc']);

  it('TypeError for wrong types, naming the call', () => {
    expect(() => v.encode(5 as never)).toThrow(/CharVocab\.encode: text must be a string/);
    expect(() => v.encode('a', { bos: 'yes' } as never)).toThrow(TypeError);
    expect(() => v.encode('a', { maxLength: '3' } as never)).toThrow(TypeError);
    expect(() => v.encode('a', 7 as never)).toThrow(TypeError);
    expect(() => v.decode('abc' as never)).toThrow(/CharVocab\.decode: ids must be/);
    expect(() => v.decode(['1'] as never)).toThrow(TypeError);
    expect(() => v.decode([5], { skipSpecial: 1 } as never)).toThrow(TypeError);
    expect(() => v.token('a' as never)).toThrow(TypeError);
    expect(() => v.id(3 as never)).toThrow(TypeError);
    expect(() => qkv.WordVocab.build(['a'], null as never)).toThrow(TypeError);
  });

  it('RangeError for bad ids and lengths', () => {
    expect(() => v.decode([v.size])).toThrow(RangeError);
    expect(() => v.decode([-1])).toThrow(RangeError);
    expect(() => v.decode([1.5])).toThrow(RangeError);
    expect(() => v.token(v.size)).toThrow(/CharVocab\.token: id 8 is outside \[0, 8\)/);
    expect(() => v.encode('abc', { maxLength: 1.5 })).toThrow(RangeError);
    expect(() => v.encode('abc', { maxLength: -1 })).toThrow(RangeError);
    expect(() => v.encode('abc', { bos: true, eos: true, maxLength: 1 })).toThrow(RangeError);
  });

  it('the batch calls reject with the same errors', async () => {
    await expect(v.encodeBatch('abc' as never)).rejects.toThrow(TypeError);
    await expect(v.encodeBatch([1] as never)).rejects.toThrow(TypeError);
    await expect(v.decodeBatch([[1], 'ab'] as never)).rejects.toThrow(TypeError);
    await expect(v.decodeBatch([[1], [99]])).rejects.toThrow(RangeError);
    await expect(v.encodeBatch(['a'], { maxLength: 0.5 })).rejects.toThrow(RangeError);
    await expect(v.encodeBatch([])).resolves.toEqual([]);
  });
});

// A byte-level tokenizer as BPE will be: each token is a fixed byte string that may end inside a
// UTF-8 character; ids 0..255 are the single bytes, then specials, then multi-byte pieces.
class FakeByteTokenizer implements Tokenizer {
  readonly kind = 'fake-bytes';
  readonly pieces: Uint8Array[] = [];
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly padId = undefined;
  readonly bosId = undefined;
  readonly unkId = undefined;
  readonly maskId = undefined;
  readonly eosId: number;
  private readonly byKey = new Map<string, number>();

  constructor(multiBytePieces: Uint8Array[]) {
    for (let b = 0; b < 256; b++) this.add(Uint8Array.of(b));
    this.eosId = this.pieces.length;
    this.pieces.push(new TextEncoder().encode('<|eos|>'));
    this.specialTokens = { eos: this.eosId };
    for (const p of multiBytePieces) if (!this.byKey.has(p.join())) this.add(p);
  }

  private add(p: Uint8Array): void {
    this.byKey.set(p.join(), this.pieces.length);
    this.pieces.push(p);
  }

  get size(): number {
    return this.pieces.length;
  }
  isSpecial(id: number): boolean {
    return id === this.eosId;
  }
  idOf(piece: Uint8Array): number {
    return this.byKey.get(piece.join())!;
  }
  encode(): number[] {
    throw new Error('not needed');
  }
  decodeBytes(ids: ArrayLike<number>, options?: qkv.DecodeOptions): Uint8Array {
    const parts = Array.from(ids).filter((id) => !(options?.skipSpecial !== false && this.isSpecial(id))).map((id) => this.pieces[id]);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  decode(ids: ArrayLike<number>, options?: qkv.DecodeOptions): string {
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.decodeBytes(ids, options));
  }
  async encodeBatch(): Promise<number[][]> {
    return [];
  }
  async decodeBatch(rows: readonly ArrayLike<number>[], options?: qkv.DecodeOptions): Promise<string[]> {
    return rows.map((r) => this.decode(r, options));
  }
  batch(): qkv.TokenBatch {
    throw new Error('not needed');
  }
  toJSON(): TokenizerJSON {
    return { kind: this.kind };
  }
}

/** The UTF-8 bytes of `text` cut into pieces of 1..4 bytes by a fixed pattern (blind to character boundaries). */
function cutBytes(text: string, pattern: number[]): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = pattern[k % pattern.length];
    out.push(bytes.slice(at, at + n));
    at += n;
  }
  return out;
}

/** Pushes `ids` `step` at a time; returns every chunk, flush last. */
function stream(dec: qkv.StreamDecoder, ids: number[], step: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < ids.length; i += step) chunks.push(step === 1 ? dec.push(ids[i]) : dec.push(ids.slice(i, i + step)));
  chunks.push(dec.flush());
  return chunks;
}

describe('StreamDecoder', () => {
  const texts = [
    '你好，世界！机器学习很有趣。',
    'thumbs 👍🏽 family 👨‍👩‍👧 flag 🇫🇷 done',
    'combining: e\u0301 n\u0303 a\u030a, Hindi नमस्ते, Thai สวัสดี',
    'mixed ascii and 中文 and 🙂 and é',
  ];
  const patterns = [[1], [2], [3], [2, 3, 1, 4], [4, 1, 1, 3, 2]];
  const cuts = texts.flatMap((t) => patterns.map((p) => ({ text: t, pieces: cutBytes(t, p) })));
  const tok = new FakeByteTokenizer(cuts.flatMap((c) => c.pieces));

  it('joins to the full decode, and no chunk holds U+FFFD, though the tokens split characters', () => {
    let splitting = 0;
    for (const { text, pieces } of cuts) {
      const ids = pieces.map((p) => tok.idOf(p));
      expect(tok.decode(ids)).toBe(text);
      // The data does split characters: decoding token by token would show U+FFFD.
      if (ids.some((id) => tok.decode([id]).includes('\uFFFD'))) splitting++;
      for (const step of [1, 2, 3]) {
        const dec = new qkv.StreamDecoder(tok);
        const chunks = stream(dec, ids, step);
        expect(chunks.join('')).toBe(tok.decode(ids));
        for (const c of chunks) expect(c).not.toContain('\uFFFD');
      }
    }
    expect(splitting).toBeGreaterThanOrEqual(texts.length * (patterns.length - 1));
  });

  it('emits each character as soon as its last byte arrives', () => {
    const ids = cutBytes('你好', [1]).map((p) => tok.idOf(p)); // 3 bytes per character
    const dec = new qkv.StreamDecoder(tok);
    expect(ids.map((id) => dec.push(id))).toEqual(['', '', '你', '', '', '好']);
    expect(dec.flush()).toBe('');
  });

  it('skips specials by default, even between the bytes of one character; skipSpecial: false keeps them', () => {
    const ids = cutBytes('a世b', [1]).map((p) => tok.idOf(p));
    const withEos = [ids[0], ids[1], tok.eosId, ids[2], ids[3], ids[4], tok.eosId];
    expect(stream(new qkv.StreamDecoder(tok), withEos, 1).join('')).toBe('a世b');
    const kept = [ids[0], tok.eosId, ...ids.slice(1), tok.eosId];
    const chunks = stream(new qkv.StreamDecoder(tok, { skipSpecial: false }), kept, 1);
    expect(chunks.join('')).toBe('a<|eos|>世b<|eos|>');
  });

  it('flush ends the stream: an incomplete character becomes U+FFFD there, and the next stream starts clean', () => {
    const [b0, b1] = cutBytes('世', [1]).map((p) => tok.idOf(p));
    const dec = new qkv.StreamDecoder(tok);
    expect(dec.push([b0, b1])).toBe('');
    expect(dec.flush()).toBe('\uFFFD');
    expect(stream(dec, cutBytes('好', [1]).map((p) => tok.idOf(p)), 1).join('')).toBe('好');
  });

  it('keeps a leading U+FEFF the tokens spell', () => {
    const ids = cutBytes('\uFEFFhi', [1]).map((p) => tok.idOf(p));
    expect(stream(new qkv.StreamDecoder(tok), ids, 1).join('')).toBe('\uFEFFhi');
  });

  it('CharVocab: text deltas, specials skipped or kept', () => {
    const v = qkv.CharVocab.build(['héllo 🙂 wörld, e\u0301']);
    const ids = [v.bosId!, ...v.encode('héllo 🙂 e\u0301 wörld'), v.maskId!, ...v.encode('zz'), v.eosId!];
    for (const skipSpecial of [true, false]) {
      for (const step of [1, 2, 5]) {
        const chunks = stream(new qkv.StreamDecoder(v, { skipSpecial }), ids, step);
        expect(chunks.join('')).toBe(v.decode(ids, { skipSpecial }));
        for (const c of chunks) expect(c).not.toContain('\uFFFD');
      }
    }
    const dec = new qkv.StreamDecoder(v);
    expect(dec.push(v.id('🙂'))).toBe('🙂');
    expect(dec.push(v.eosId!)).toBe('');
  });

  it('WordVocab: the space before a word comes with it, after punctuation and skipped specials too', () => {
    const v = qkv.WordVocab.build(['hello , world ! ( yes ) $ 5 the end .']);
    const ids = [v.bosId!, ...v.encode('hello, world!'), v.maskId!, ...v.encode('(yes) $5'), v.unkId!, ...v.encode('the end.'), v.eosId!];
    const dec = new qkv.StreamDecoder(v);
    const chunks = ids.map((id) => dec.push(id));
    expect(chunks).toEqual(['', 'hello', ',', ' world', '!', '', ' (', 'yes', ')', ' $', '5', '', ' the', ' end', '.', '']);
    expect(chunks.join('') + dec.flush()).toBe(v.decode(ids));
    expect(v.decode(ids)).toBe('hello, world! (yes) $5 the end.');
    for (const step of [2, 3]) expect(stream(new qkv.StreamDecoder(v, { skipSpecial: false }), ids, step).join('')).toBe(v.decode(ids, { skipSpecial: false }));
  });

  it('holds back a lone high surrogate until its pair arrives', () => {
    // One token per UTF-16 code unit: a prefix may end between the halves of an emoji.
    const units = 'a😀b'.split('').map((c) => c.charCodeAt(0));
    const utf16: Tokenizer = { ...qkv.CharVocab.build(['x'], { specials: [] }), size: 0x10000, kind: 'utf16', decode: (ids: ArrayLike<number>) => String.fromCharCode(...Array.from(ids)) } as unknown as Tokenizer;
    const dec = new qkv.StreamDecoder(utf16);
    expect(units.map((u) => dec.push(u))).toEqual(['a', '', '😀', 'b']);
    expect(dec.push(0xd83d)).toBe('');
    expect(dec.flush()).toBe('\ud83d'); // what decode gives for the ids: the stream ends with it
  });

  it('throws when decode of a prefix is not a prefix (text already returned would change)', () => {
    const nfc: Tokenizer = { ...qkv.CharVocab.build(['x'], { specials: [] }), size: 0x10000, kind: 'nfc', decode: (ids: ArrayLike<number>) => String.fromCharCode(...Array.from(ids)).normalize('NFC') } as unknown as Tokenizer;
    const dec = new qkv.StreamDecoder(nfc);
    expect(dec.push(0x65)).toBe('e');
    expect(() => dec.push(0x301)).toThrow(/prefix/);
    expect(dec.push(0x66)).toBe('f'); // the failed push left the state as it was
  });

  it('argument errors', () => {
    const v = qkv.CharVocab.build(['ab']);
    const dec = new qkv.StreamDecoder(v);
    expect(() => dec.push(v.size)).toThrow(RangeError);
    expect(() => dec.push(1.5)).toThrow(RangeError);
    expect(() => dec.push('a' as never)).toThrow(TypeError);
    expect(() => dec.push(['a'] as never)).toThrow(TypeError);
    expect(() => new qkv.StreamDecoder({} as never)).toThrow(TypeError);
    expect(() => new qkv.StreamDecoder(v, { skipSpecial: 'no' } as never)).toThrow(TypeError);
    const bad = { ...v, size: v.size, decode: v.decode.bind(v), decodeBytes: () => 'text' } as unknown as Tokenizer;
    expect(() => new qkv.StreamDecoder(bad).push(5)).toThrow(TypeError);
    expect(dec.push(v.id('a'))).toBe('a');
  });
});
