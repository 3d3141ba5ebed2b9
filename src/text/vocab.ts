// Vocabularies for the transformer models: character-level and word-level tokenizers with
// configurable special tokens. Saved with a model as JSON in its safetensors metadata (toJSON /
// tokenizerFromJSON).

import { checkArray, checkBool, checkNumber, checkOptions, checkString, optBool, optEnum, optInt, typeName, type Options } from '../args';
import { QkvError } from '../errors';
import { padBatch, type TokenBatch } from './batch';
import {
  checkDecodeOptions,
  checkEncodeOptions,
  checkIds,
  checkRows,
  checkText,
  checkTexts,
  registerTokenizer,
  readTokenizer,
  withSpecials,
  type DecodeOptions,
  type EncodeOptions,
  type SpecialName,
  type Tokenizer,
  type TokenizerJSON,
} from './tokenizer';

export { padBatch, type TokenBatch } from './batch';
export type { EncodeOptions, DecodeOptions } from './tokenizer';

/** The default special tokens, at ids 0..4 in vocabularies built with the default specials. */
export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>', '<mask>'] as const;
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
export const MASK_ID = 4;

/** The default specials, name → token, in the order build() puts them first. */
export const DEFAULT_SPECIALS: Readonly<Record<SpecialName, string>> = Object.freeze({
  pad: '<pad>',
  bos: '<bos>',
  eos: '<eos>',
  unk: '<unk>',
  mask: '<mask>',
});

/**
 * Which special tokens a vocabulary has. An object maps each name to its token
 * (`{ pad: '<pad>', eos: '</s>' }`); a list gives the names and each token is `<name>`
 * (`['pad', 'eos']`). pad, bos, eos, unk and mask are the ones models ask for (padId...); other
 * names (e.g. `sep`) are allowed and are special too. Two names may share one token (and id). A
 * special token must be one no text tokenizes to (for CharVocab: more than one character), so that
 * encode() never yields a special id from text. `[]` or `{}`: no specials.
 */
export type Specials = Readonly<Record<string, string>> | readonly string[];

export interface VocabOptions {
  /** Lower-case text before tokenising (default false for characters, true for words). */
  lowercase?: boolean;
  /** The special tokens (default DEFAULT_SPECIALS); each must be one of the tokens, its id is its index. */
  specials?: Specials;
}

export interface BuildOptions extends VocabOptions {
  /** Keep tokens seen at least this often (default 1). */
  minCount?: number;
  /** Keep at most this many tokens, specials included (the most frequent win; ties by code point order). */
  maxSize?: number;
  /** Put the specials, in the order given, before the counted tokens (default) or after them. */
  specialsAt?: 'start' | 'end';
}

// A type, not an interface: TokenizerJSON's index signature accepts type literals only.
export type VocabJSON = {
  kind: 'char' | 'word';
  lowercase: boolean;
  /** Name → token. Absent in JSON saved before specials were configurable: then DEFAULT_SPECIALS. */
  specials?: Record<string, string>;
  tokens: string[];
};

const SPECIAL_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Specials in their object form (name → token), checked. */
function specialsObject(specials: Specials | undefined, op: string): Readonly<Record<string, string>> {
  if (specials === undefined) return DEFAULT_SPECIALS;
  if (specials === null || typeof specials !== 'object') throw new TypeError(`${op}: specials must be an object (name → token) or a list of names, got ${typeName(specials)}`);
  const entries: [unknown, unknown][] = Array.isArray(specials)
    ? checkArray(op, 'specials', specials, (n, name) => [checkString(op, name, n), `<${n}>`])
    : Object.entries(specials);
  const out: Record<string, string> = {};
  for (const [name, token] of entries) {
    if (typeof name !== 'string' || typeof token !== 'string') throw new TypeError(`${op}: special names and tokens must be strings, got ${typeName(token)}`);
    if (!SPECIAL_NAME.test(name)) throw new RangeError(`${op}: ${JSON.stringify(name)} is not a valid special name (letters, digits, _)`);
    if (Object.hasOwn(out, name)) throw new RangeError(`${op}: the special ${name} is listed twice`);
    if (token === '') throw new RangeError(`${op}: the special ${name} has an empty token`);
    out[name] = token;
  }
  return out;
}

/** A tokenizer mapping each token to its index in a token list, with configurable special tokens. */
export abstract class Vocabulary implements Tokenizer {
  abstract readonly kind: 'char' | 'word';
  readonly lowercase: boolean;
  readonly tokens: readonly string[];
  /** Name → token of the special tokens (what toJSON saves). */
  readonly specials: Readonly<Record<string, string>>;
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly padId: number | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly maskId: number | undefined;
  private readonly index: Map<string, number>;
  private readonly specialIds: ReadonlySet<number>;

  protected constructor(tokens: readonly string[], lowercase: boolean, specials: Specials | undefined) {
    const op = new.target.name;
    this.tokens = Object.freeze(checkArray(op, 'tokens', tokens, (t, name) => checkString(op, name, t), { what: 'an array of strings' }));
    checkBool(op, 'option lowercase', lowercase);
    this.lowercase = lowercase;
    this.index = new Map();
    this.tokens.forEach((t, i) => {
      if (t === '') throw new RangeError(`${op}: token ${i} is empty`);
      if (this.index.has(t)) throw new RangeError(`${op}: the token ${JSON.stringify(t)} appears twice`);
      this.index.set(t, i);
    });
    this.specials = Object.freeze({ ...specialsObject(specials, op) });
    const ids: Record<string, number> = {};
    for (const [name, token] of Object.entries(this.specials)) {
      const id = this.index.get(token);
      if (id === undefined) throw new RangeError(`${op}: the special token ${JSON.stringify(token)} (${name}) is not among the tokens`);
      // tokenize() only reads `lowercase`, set above; a special that text can produce would make
      // encode() yield special ids (skipped by decode, taken for padding or the end by models).
      const fromText = this.tokenize(token);
      if (fromText.length === 1 && fromText[0] === token)
        throw new RangeError(`${op}: the special token ${JSON.stringify(token)} (${name}) is also what the text ${JSON.stringify(token)} tokenizes to; use a token no text produces, such as "<${name}>"`);
      ids[name] = id;
    }
    this.specialTokens = Object.freeze(ids);
    this.specialIds = new Set(Object.values(ids));
    this.padId = ids.pad;
    this.bosId = ids.bos;
    this.eosId = ids.eos;
    this.unkId = ids.unk;
    this.maskId = ids.mask;
  }

  /** The number of tokens, specials included. */
  get size(): number {
    return this.tokens.length;
  }

  /** Splits a text into tokens (after lower-casing when the vocabulary does). */
  abstract tokenize(text: string): string[];
  /** Joins tokens back into text. */
  abstract detokenize(tokens: readonly string[]): string;

  private op(method: string): string {
    return `${this.constructor.name}.${method}`;
  }

  private lookup(token: string, op: string): number {
    const id = this.index.get(token) ?? this.unkId;
    if (id === undefined) throw new RangeError(`${op}: the token ${JSON.stringify(token)} is not in the vocabulary, which has no unk token`);
    return id;
  }

  /** The id of a token: unkId when unknown; RangeError for an unknown token without an unk token. */
  id(token: string): number {
    const op = this.op('id');
    if (typeof token !== 'string') throw new TypeError(`${op}: token must be a string`);
    return this.lookup(token, op);
  }

  /** The token of an id; RangeError outside the vocabulary. */
  token(id: number): string {
    const op = this.op('token');
    if (typeof id !== 'number') throw new TypeError(`${op}: id must be a number`);
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new RangeError(`${op}: id ${id} is outside [0, ${this.size})`);
    return this.tokens[id];
  }

  has(token: string): boolean {
    return this.index.has(checkString(this.op('has'), 'token', token));
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(checkNumber(this.op('isSpecial'), 'id', id, { any: true }));
  }

  /** The ids of a text: unknown tokens map to unkId (RangeError naming the token without one). */
  encode(text: string, options?: EncodeOptions): number[] {
    const op = this.op('encode');
    checkText(text, op);
    const checked = checkEncodeOptions(this, options, op);
    const toks = this.tokenize(text);
    if (toks.length > checked.room) toks.length = checked.room; // cut first: tokens past the cut need no id
    return withSpecials(this, toks.map((t) => this.lookup(t, op)), checked);
  }

  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    const op = this.op('decode');
    const skip = checkDecodeOptions(options, op);
    checkIds(ids, this.size, op);
    const toks: string[] = [];
    for (let i = 0; i < ids.length; i++) if (!(skip && this.specialIds.has(ids[i]))) toks.push(this.tokens[ids[i]]);
    return this.detokenize(toks);
  }

  /** encode() of each text; resolves at once (the work is synchronous JS). */
  async encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<number[][]> {
    checkTexts(texts, this.op('encodeBatch'));
    return texts.map((t) => this.encode(t, options));
  }

  /** decode() of each row; resolves at once. */
  async decodeBatch(rows: readonly ArrayLike<number>[], options?: DecodeOptions): Promise<string[]> {
    checkRows(rows, this.op('decodeBatch'));
    return rows.map((r) => this.decode(r, options));
  }

  /** Encodes several texts into one batch padded with padId (0 without a pad token). RangeError for an empty list or an empty row. */
  batch(texts: readonly string[], options?: EncodeOptions): TokenBatch {
    const op = this.op('batch');
    checkTexts(texts, op);
    if (texts.length === 0) throw new RangeError(`${op}: no texts`);
    return padBatch(texts.map((t) => this.encode(t, options)), op, this.padId ?? 0);
  }

  toJSON(): VocabJSON {
    return { kind: this.kind, lowercase: this.lowercase, specials: { ...this.specials }, tokens: [...this.tokens] };
  }

  protected prepare(text: string): string {
    return this.lowercase ? text.toLowerCase() : text;
  }

  /** What build() passes to the constructor: the specials, then (or before) the counted tokens by frequency. */
  protected static count(
    texts: readonly string[],
    split: (t: string) => string[],
    options: BuildOptions,
    lowercaseDefault: boolean,
    op: string,
  ): { tokens: string[]; options: VocabOptions } {
    checkTexts(texts, op);
    const o: Options = checkOptions(op, options);
    const lowercase = optBool(op, o, 'lowercase') ?? lowercaseDefault;
    const given = o.specials as Specials | undefined;
    const specials = [...new Set(Object.values(specialsObject(given, op)))];
    const at = optEnum(op, o, 'specialsAt', ['start', 'end'] as const) ?? 'start';
    const minCount = optInt(op, o, 'minCount', { min: 1, max: Number.MAX_SAFE_INTEGER }) ?? 1;
    const maxSize = optInt(op, o, 'maxSize', { min: specials.length, max: Number.MAX_SAFE_INTEGER });
    const counts = new Map<string, number>();
    for (const t of texts) for (const tok of split(lowercase ? t.toLowerCase() : t)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    // A special that text produces is refused by the constructor; leaving it out here keeps that
    // error from turning into "appears twice".
    const isSpecial = new Set(specials);
    let kept = [...counts.entries()].filter(([t, c]) => c >= minCount && !isSpecial.has(t));
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    if (maxSize !== undefined) kept = kept.slice(0, maxSize - specials.length);
    const counted = kept.map(([t]) => t);
    return { tokens: at === 'start' ? [...specials, ...counted] : [...counted, ...specials], options: { lowercase, specials: given } };
  }
}

/** One token per Unicode code point. */
export class CharVocab extends Vocabulary {
  readonly kind = 'char' as const;

  constructor(tokens: readonly string[], options: VocabOptions = {}) {
    const o = checkOptions('CharVocab', options);
    super(tokens, (o.lowercase ?? false) as boolean, o.specials as Specials | undefined);
  }

  /** The characters of `texts`, most frequent first, after (or before) the special tokens. */
  static build(texts: readonly string[], options: BuildOptions = {}): CharVocab {
    const built = Vocabulary.count(texts, (t) => Array.from(t), options, false, 'CharVocab.build');
    return new CharVocab(built.tokens, built.options);
  }

  tokenize(text: string): string[] {
    return Array.from(this.prepare(checkString('CharVocab.tokenize', 'text', text)));
  }

  detokenize(tokens: readonly string[]): string {
    return tokenList(tokens, 'CharVocab.detokenize').join('');
  }
}

const WORD = /[\p{L}\p{N}\p{M}]+(?:['’][\p{L}]+)*|[^\s\p{L}\p{N}\p{M}]/gu;
const NO_SPACE_BEFORE = /^[.,!?;:%)\]}'’]$/u;
const NO_SPACE_AFTER = /^[([{$#]$/u;

/** Words (runs of letters, digits and marks, with inner apostrophes) and single punctuation marks. */
export class WordVocab extends Vocabulary {
  readonly kind = 'word' as const;

  constructor(tokens: readonly string[], options: VocabOptions = {}) {
    const o = checkOptions('WordVocab', options);
    super(tokens, (o.lowercase ?? true) as boolean, o.specials as Specials | undefined);
  }

  static split(text: string): string[] {
    return checkString('WordVocab.split', 'text', text).match(WORD) ?? [];
  }

  static build(texts: readonly string[], options: BuildOptions = {}): WordVocab {
    const built = Vocabulary.count(texts, WordVocab.split, options, true, 'WordVocab.build');
    return new WordVocab(built.tokens, built.options);
  }

  tokenize(text: string): string[] {
    return WordVocab.split(this.prepare(checkString('WordVocab.tokenize', 'text', text)));
  }

  /**
   * Joins with spaces, without a space before closing punctuation or after opening brackets. The
   * space before a token depends only on it and the token before, so the decode of a prefix of ids
   * is a prefix of the decode of all (what StreamDecoder relies on).
   */
  detokenize(tokens: readonly string[]): string {
    let out = '';
    tokenList(tokens, 'WordVocab.detokenize').forEach((t, i, tokens) => {
      if (i > 0 && !NO_SPACE_BEFORE.test(t) && !NO_SPACE_AFTER.test(tokens[i - 1])) out += ' ';
      out += t;
    });
    return out;
  }
}

/** A fresh array of the tokens given to detokenize. */
function tokenList(tokens: unknown, op: string): string[] {
  return checkArray(op, 'tokens', tokens, (t, name) => checkString(op, name, t), { what: 'an array of strings' });
}

/**
 * The fields of VocabJSON, checked (tokenizerFromJSON reports what is wrong as ERR_FORMAT); JSON
 * without `specials` (saved by older versions) gets the defaults.
 */
function vocabOptionsFromJSON(j: TokenizerJSON, lowercaseDefault: boolean): { tokens: string[]; options: VocabOptions } {
  const { tokens, lowercase, specials } = j as Partial<VocabJSON>;
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string')) throw new TypeError('expected { kind, lowercase, specials, tokens: string[] }');
  if (lowercase !== undefined && typeof lowercase !== 'boolean') throw new TypeError('lowercase must be a boolean');
  if (specials !== undefined && (specials === null || typeof specials !== 'object' || Array.isArray(specials)))
    throw new TypeError('specials must be an object (name → token)');
  return { tokens, options: { lowercase: lowercase ?? lowercaseDefault, specials } };
}

registerTokenizer('char', (j) => {
  const { tokens, options } = vocabOptionsFromJSON(j, false);
  return new CharVocab(tokens, options);
});
registerTokenizer('word', (j) => {
  const { tokens, options } = vocabOptionsFromJSON(j, true);
  return new WordVocab(tokens, options);
});

/** Rebuilds a vocabulary saved with toJSON(): tokenizerFromJSON, for a result that is a Vocabulary. */
export function vocabFromJSON(json: unknown): Vocabulary {
  const t = readTokenizer(json, 'vocabFromJSON');
  if (!(t instanceof Vocabulary)) throw new QkvError(`vocabFromJSON: a ${t.kind} tokenizer is not a Vocabulary; use tokenizerFromJSON`, 'ERR_FORMAT');
  return t;
}
