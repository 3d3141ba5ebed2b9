import { describe, expect, it } from 'vitest';
import * as qkv from '../src/index';

describe('CharVocab', () => {
  const texts = ['hello world', 'help!', 'héllo 🙂'];

  it('puts the special tokens first and the characters by frequency, then code point', () => {
    const v = qkv.CharVocab.build(texts);
    expect(v.tokens.slice(0, 5)).toEqual(['<pad>', '<bos>', '<eos>', '<unk>', '<mask>']);
    expect([qkv.PAD_ID, qkv.BOS_ID, qkv.EOS_ID, qkv.UNK_ID, qkv.MASK_ID]).toEqual([0, 1, 2, 3, 4]);
    expect(v.tokens[5]).toBe('l'); // 6 times
    expect(v.tokens.slice(6, 8)).toEqual(['h', 'o']); // 3 times each: ties go by code point
    expect(v.has('🙂')).toBe(true); // one token per code point, not per UTF-16 unit
    expect(v.size).toBe(5 + new Set(Array.from(texts.join(''))).size);
  });

  it('encodes and decodes round trip, with <bos>/<eos>, <unk> for unknown characters and maxLength', () => {
    const v = qkv.CharVocab.build(texts);
    const ids = v.encode('help', { bos: true, eos: true });
    expect(ids[0]).toBe(qkv.BOS_ID);
    expect(ids.at(-1)).toBe(qkv.EOS_ID);
    expect(v.decode(ids)).toBe('help');
    expect(v.decode(ids, { skipSpecial: false })).toBe('<bos>help<eos>');
    expect(v.encode('hz')).toEqual([v.id('h'), qkv.UNK_ID]);
    expect(v.encode('hello', { bos: true, eos: true, maxLength: 4 })).toEqual([qkv.BOS_ID, v.id('h'), v.id('e'), qkv.EOS_ID]);
    expect(() => v.encode('hello', { bos: true, eos: true, maxLength: 1 })).toThrow(RangeError);
  });

  it('batches with right padding and lengths', () => {
    const v = qkv.CharVocab.build(texts);
    const b = v.batch(['he', 'hello'], { eos: true });
    expect([b.rows, b.cols]).toEqual([2, 6]);
    expect(Array.from(b.lengths)).toEqual([3, 6]);
    expect(Array.from(b.ids.subarray(0, 6))).toEqual([v.id('h'), v.id('e'), qkv.EOS_ID, 0, 0, 0]);
    expect(() => v.batch([])).toThrow(RangeError);
    expect(() => v.batch([''])).toThrow(RangeError);
  });

  it('lower-cases when asked, and honours minCount and maxSize', () => {
    const v = qkv.CharVocab.build(['AaB'], { lowercase: true });
    expect(v.encode('A')).toEqual(v.encode('a'));
    const small = qkv.CharVocab.build(['aaab'], { minCount: 2 });
    expect(small.has('b')).toBe(false);
    expect(qkv.CharVocab.build(['abcabd'], { maxSize: 7 }).tokens.slice(5)).toEqual(['a', 'b']);
    expect(() => qkv.CharVocab.build(['a'], { maxSize: 3 })).toThrow(RangeError);
  });

  it('saves as JSON and comes back identical', () => {
    const v = qkv.CharVocab.build(texts, { lowercase: true });
    const back = qkv.vocabFromJSON(JSON.stringify(v.toJSON()));
    expect(back).toBeInstanceOf(qkv.CharVocab);
    expect(back.tokens).toEqual(v.tokens);
    expect(back.lowercase).toBe(true);
    expect(back.encode('Hello')).toEqual(v.encode('Hello'));
    expect(() => qkv.vocabFromJSON({ kind: 'bpe', tokens: [] })).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    expect(() => qkv.vocabFromJSON({ kind: 'char', tokens: ['a'] })).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    expect(() => qkv.vocabFromJSON('abc')).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
  });
});

describe('WordVocab', () => {
  it('splits words and punctuation, keeps inner apostrophes, lower-cases by default', () => {
    expect(qkv.WordVocab.split("Don't stop, it's 3.5 km!")).toEqual(["Don't", 'stop', ',', "it's", '3', '.', '5', 'km', '!']);
    const v = qkv.WordVocab.build(['The cat sat.', 'the dog sat!']);
    expect(v.tokens.slice(5, 7)).toEqual(['sat', 'the']);
    expect(v.encode('THE CAT')).toEqual([v.id('the'), v.id('cat')]);
    expect(v.encode('the bird')).toEqual([v.id('the'), qkv.UNK_ID]);
  });

  it('detokenizes without spaces before closing punctuation', () => {
    const v = qkv.WordVocab.build(['hello , world ! ( yes )']);
    expect(v.decode(v.encode('hello, world! (yes)'))).toBe('hello, world! (yes)');
  });

  it('round-trips through JSON', () => {
    const v = qkv.WordVocab.build(['a b c', 'b c', 'c']);
    const back = qkv.vocabFromJSON(v.toJSON());
    expect(back).toBeInstanceOf(qkv.WordVocab);
    expect(back.tokens).toEqual(['<pad>', '<bos>', '<eos>', '<unk>', '<mask>', 'c', 'b', 'a']);
  });
});

describe('synthetic data', () => {
  it('date pairs: seeded, distinct, many forms, every target the ISO form of its source', () => {
    const a = qkv.data.generateDates(2000, { seed: 5 });
    expect(qkv.data.generateDates(2000, { seed: 5 })).toEqual(a);
    expect(new Set(a.map((p) => p.source)).size).toBe(2000);
    expect(new Set(a.map((p) => p.form)).size).toBe(qkv.data.DATE_FORMS.length);
    for (const p of a) expect(p.target).toMatch(/^(19[5-9]\d|20[0-4]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/);
    const held = qkv.data.generateDates(500, { seed: 6, exclude: a.map((p) => p.source) });
    const train = new Set(a.map((p) => p.source));
    expect(held.some((p) => train.has(p.source))).toBe(false);
  });

  it('renders each form as documented', () => {
    const d = { year: 1999, month: 3, day: 3 };
    const f = (form: string) => qkv.data.formatDate(d, form);
    expect(f('iso')).toBe('1999-03-03');
    expect(f('usShort')).toBe('3/3/99');
    expect(f('monthDayYear')).toBe('march 3, 1999');
    expect(f('ordinalOfMonth')).toBe('the 3rd of march 1999');
    expect(f('weekdayLong')).toBe('wednesday, march 3, 1999'); // 1999-03-03 was a Wednesday
    expect(qkv.data.formatDate({ year: 2011, month: 12, day: 11 }, 'ordinalOfMonth')).toBe('the 11th of december 2011');
    expect(qkv.data.formatDate({ year: 2049, month: 1, day: 22 }, 'dashAbbrShort')).toBe('22-jan-49');
    expect(() => f('nope')).toThrow(TypeError);
  });

  it('reversal pairs reverse', () => {
    const r = qkv.data.reversalPairs(50, { seed: 1, minLength: 3, maxLength: 6 });
    for (const p of r) {
      expect(p.target).toBe([...p.source].reverse().join(''));
      expect(p.source.length).toBeGreaterThanOrEqual(3);
      expect(p.source.length).toBeLessThanOrEqual(6);
    }
  });
});
