// Vocabularies for the transformer models: character-level and word-level, with the special
// tokens every model of qkv expects at fixed ids. Saved with a model as JSON in its safetensors
// metadata (toJSON / vocabFromJSON).

/** The special tokens, at ids 0..4 in every vocabulary. */
export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>', '<mask>'] as const;
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
export const MASK_ID = 4;

export interface EncodeOptions {
  /** Prepend `<bos>` (default false). */
  bos?: boolean;
  /** Append `<eos>` (default false). */
  eos?: boolean;
  /** Keep at most this many ids, specials included (the text is cut, `<bos>`/`<eos>` are kept). */
  maxLength?: number;
}

export interface DecodeOptions {
  /** Drop special tokens (default true). */
  skipSpecial?: boolean;
}

/** Right-padded ids of several texts: `ids` is rows × cols, row-major, padded with `<pad>` (0). */
export interface TokenBatch {
  ids: Int32Array;
  rows: number;
  cols: number;
  lengths: Int32Array;
}

export interface BuildOptions {
  /** Keep tokens seen at least this often (default 1). */
  minCount?: number;
  /** Keep at most this many tokens, specials included (the most frequent win; ties by code point order). */
  maxSize?: number;
  /** Lower-case text before tokenising (default false for characters, true for words). */
  lowercase?: boolean;
}

export interface VocabJSON {
  kind: 'char' | 'word';
  lowercase: boolean;
  tokens: string[];
}

function checkTexts(texts: unknown, op: string): asserts texts is readonly string[] {
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw new TypeError(`${op}: texts must be an array of strings`);
}

/** A token ↔ id mapping with special tokens at fixed ids. */
export abstract class Vocabulary {
  abstract readonly kind: 'char' | 'word';
  readonly lowercase: boolean;
  readonly tokens: readonly string[];
  private readonly index: Map<string, number>;

  protected constructor(tokens: readonly string[], lowercase: boolean) {
    SPECIAL_TOKENS.forEach((s, i) => {
      if (tokens[i] !== s) throw new RangeError(`Vocabulary: token ${i} must be ${s}, got ${JSON.stringify(tokens[i])}`);
    });
    this.tokens = Object.freeze([...tokens]);
    this.lowercase = lowercase;
    this.index = new Map();
    this.tokens.forEach((t, i) => {
      if (this.index.has(t)) throw new RangeError(`Vocabulary: the token ${JSON.stringify(t)} appears twice`);
      this.index.set(t, i);
    });
  }

  /** The number of tokens, specials included. */
  get size(): number {
    return this.tokens.length;
  }

  /** Splits a text into tokens (after lower-casing when the vocabulary does). */
  abstract tokenize(text: string): string[];
  /** Joins tokens back into text. */
  abstract detokenize(tokens: readonly string[]): string;

  /** The id of a token, `<unk>` (3) when unknown. */
  id(token: string): number {
    return this.index.get(token) ?? UNK_ID;
  }

  /** The token of an id; RangeError outside the vocabulary. */
  token(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) throw new RangeError(`Vocabulary.token: id ${id} is outside [0, ${this.tokens.length})`);
    return this.tokens[id];
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError('Vocabulary.encode: text must be a string');
    let ids = this.tokenize(text).map((t) => this.id(t));
    if (options.maxLength !== undefined) {
      const room = options.maxLength - (options.bos ? 1 : 0) - (options.eos ? 1 : 0);
      if (!Number.isInteger(options.maxLength) || room < 0) throw new RangeError('Vocabulary.encode: maxLength is too small for the special tokens');
      ids = ids.slice(0, room);
    }
    if (options.bos) ids.unshift(BOS_ID);
    if (options.eos) ids.push(EOS_ID);
    return ids;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecial ?? true;
    const toks: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (skip && ids[i] < SPECIAL_TOKENS.length) continue;
      toks.push(this.token(ids[i]));
    }
    return this.detokenize(toks);
  }

  /** Encodes several texts into one right-padded batch. RangeError for an empty list or an empty row. */
  batch(texts: readonly string[], options: EncodeOptions = {}): TokenBatch {
    checkTexts(texts, 'Vocabulary.batch');
    if (texts.length === 0) throw new RangeError('Vocabulary.batch: no texts');
    const rows = texts.map((t) => this.encode(t, options));
    return padBatch(rows, 'Vocabulary.batch');
  }

  toJSON(): VocabJSON {
    return { kind: this.kind, lowercase: this.lowercase, tokens: [...this.tokens] };
  }

  protected prepare(text: string): string {
    return this.lowercase ? text.toLowerCase() : text;
  }

  protected static count(texts: readonly string[], split: (t: string) => string[], options: BuildOptions, op: string): string[] {
    checkTexts(texts, op);
    const minCount = options.minCount ?? 1;
    if (!Number.isInteger(minCount) || minCount < 1) throw new RangeError(`${op}: minCount must be a positive integer`);
    const counts = new Map<string, number>();
    for (const t of texts) for (const tok of split(t)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
    const specials = new Set<string>(SPECIAL_TOKENS);
    let kept = [...counts.entries()].filter(([t, c]) => c >= minCount && !specials.has(t));
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    if (options.maxSize !== undefined) {
      if (!Number.isInteger(options.maxSize) || options.maxSize < SPECIAL_TOKENS.length)
        throw new RangeError(`${op}: maxSize must be an integer >= ${SPECIAL_TOKENS.length}`);
      kept = kept.slice(0, options.maxSize - SPECIAL_TOKENS.length);
    }
    return [...SPECIAL_TOKENS, ...kept.map(([t]) => t)];
  }
}

/** Pads id rows (each non-empty) into a batch. */
export function padBatch(rows: readonly (readonly number[])[], op = 'padBatch'): TokenBatch {
  if (rows.length === 0) throw new RangeError(`${op}: no rows`);
  const cols = Math.max(...rows.map((r) => r.length));
  if (cols === 0 || rows.some((r) => r.length === 0)) throw new RangeError(`${op}: a row encodes to no tokens`);
  const ids = new Int32Array(rows.length * cols);
  const lengths = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    ids.set(r, i * cols);
    lengths[i] = r.length;
  });
  return { ids, rows: rows.length, cols, lengths };
}

/** One token per Unicode code point. */
export class CharVocab extends Vocabulary {
  readonly kind = 'char' as const;

  constructor(tokens: readonly string[], options: { lowercase?: boolean } = {}) {
    super(tokens, options.lowercase ?? false);
  }

  /** The characters of `texts`, most frequent first, after the special tokens. */
  static build(texts: readonly string[], options: BuildOptions = {}): CharVocab {
    const lowercase = options.lowercase ?? false;
    const prep = (t: string) => Array.from(lowercase ? t.toLowerCase() : t);
    return new CharVocab(Vocabulary.count(texts, prep, options, 'CharVocab.build'), { lowercase });
  }

  tokenize(text: string): string[] {
    return Array.from(this.prepare(text));
  }

  detokenize(tokens: readonly string[]): string {
    return tokens.join('');
  }
}

const WORD = /[\p{L}\p{N}\p{M}]+(?:['’][\p{L}]+)*|[^\s\p{L}\p{N}\p{M}]/gu;
const NO_SPACE_BEFORE = /^[.,!?;:%)\]}'’]$/u;
const NO_SPACE_AFTER = /^[([{$#]$/u;

/** Words (runs of letters, digits and marks, with inner apostrophes) and single punctuation marks. */
export class WordVocab extends Vocabulary {
  readonly kind = 'word' as const;

  constructor(tokens: readonly string[], options: { lowercase?: boolean } = {}) {
    super(tokens, options.lowercase ?? true);
  }

  static split(text: string): string[] {
    return text.match(WORD) ?? [];
  }

  static build(texts: readonly string[], options: BuildOptions = {}): WordVocab {
    const lowercase = options.lowercase ?? true;
    const prep = (t: string) => WordVocab.split(lowercase ? t.toLowerCase() : t);
    return new WordVocab(Vocabulary.count(texts, prep, options, 'WordVocab.build'), { lowercase });
  }

  tokenize(text: string): string[] {
    return WordVocab.split(this.prepare(text));
  }

  /** Joins with spaces, without a space before closing punctuation or after opening brackets. */
  detokenize(tokens: readonly string[]): string {
    let out = '';
    tokens.forEach((t, i) => {
      if (i > 0 && !NO_SPACE_BEFORE.test(t) && !NO_SPACE_AFTER.test(tokens[i - 1])) out += ' ';
      out += t;
    });
    return out;
  }
}

/** Rebuilds a vocabulary saved with toJSON(). */
export function vocabFromJSON(json: unknown): Vocabulary {
  const j = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<VocabJSON> | null;
  if (!j || typeof j !== 'object' || !Array.isArray(j.tokens) || j.tokens.some((t) => typeof t !== 'string'))
    throw new TypeError('vocabFromJSON: expected { kind, lowercase, tokens: string[] }');
  if (j.kind === 'char') return new CharVocab(j.tokens, { lowercase: j.lowercase === true });
  if (j.kind === 'word') return new WordVocab(j.tokens, { lowercase: j.lowercase !== false });
  throw new TypeError(`vocabFromJSON: unknown vocabulary kind ${JSON.stringify(j.kind)}`);
}
