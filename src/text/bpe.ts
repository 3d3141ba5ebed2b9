// Byte-level BPE (GPT-2's tokenizer) on the native core: loading GPT-2's, tiktoken's and Hugging
// Face's files, training on a corpus, encoding and decoding. Tokens are byte strings, so any text
// encodes (no unknown token) and decode(encode(x)) === x for every well-formed string.
//
// Loading, saving, batches and training run off the event loop and return Promises; encode and
// decode of one text are synchronous (about 30 MB/s: a long document takes milliseconds).

import { readFile } from 'node:fs/promises';
import { TextDecoder } from 'node:util';
import { gunzipSync } from 'node:zlib';
import {
  checkInt,
  checkOptions,
  checkPath,
  checkString,
  checkStringArray,
  checkTypedArray,
  optBool,
  optEnum,
  optFunction,
  optInt,
  typeName,
} from '../args';
import { QkvError } from '../errors';
import { checkSignal, runJob } from '../jobs';
import { padBatch, type TokenBatch } from './batch';
import { native, type NativeBpe } from './bpe-native';
import {
  checkDecodeOptions,
  checkEncodeOptions,
  checkIds,
  checkRows,
  checkText,
  checkTexts,
  parseJSONText,
  registerTokenizer,
  withSpecials,
  type DecodeOptions,
  type EncodeOptions,
  type Tokenizer,
} from './tokenizer';

export interface BPEEncodeOptions extends EncodeOptions {
  /**
   * Match added tokens (`<|endoftext|>`, tokens of addSpecialTokens) in the text before the
   * pre-tokenizer, as Hugging Face's tokenizers do (default true). False encodes them as plain text:
   * use it for text from users that must not be able to spell a control token.
   */
  splitSpecial?: boolean;
}

export interface BPETrainOptions {
  /** The vocabulary size to reach: 256 bytes + merges + special tokens. */
  vocabSize: number;
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Tokens added after the merges, cut out of the corpus before counting (e.g. ['<|endoftext|>']). */
  specialTokens?: readonly string[];
  /**
   * 'gpt2' (default) or 'clip': CLIP's scheme (lower-cased, whitespace-collapsed text, CLIP's
   * pre-tokenizer, 512 base tokens with `</w>` ending each word), with `<|startoftext|>` and
   * `<|endoftext|>` appended after the other specials as bos and eos.
   */
  flavor?: 'gpt2' | 'clip';
  signal?: AbortSignal;
  /** Called now and then with the merges done and the merges asked for. */
  onProgress?: (p: { merges: number; target: number }) => void;
}

export interface TiktokenOptions {
  /** Special tokens and their ids, e.g. { '<|endoftext|>': 50256 } for r50k_base (GPT-2). */
  specialTokens?: Readonly<Record<string, number>>;
}

/** A corpus to train on: one text, several texts (each a sequence), or a UTF-8 file streamed from disk. */
export type BPECorpus = string | readonly string[] | { readonly path: string };

// A type, not an interface: TokenizerJSON's index signature accepts type literals only.
export type BPEJSON = {
  kind: 'bpe';
  /** Name → token of the named specials (pad, bos, eos, ...), each an added special token. */
  specials: Record<string, string>;
  /** Hugging Face's tokenizer.json, as an object. */
  tokenizer: Record<string, unknown>;
};

const END_OF_TEXT = '<|endoftext|>';
const START_OF_TEXT = '<|startoftext|>';

/**
 * CLIP's text normalisation (simple_tokenizer.py without ftfy and html.unescape): NFC, each
 * whitespace run one space, trimmed, lower case.
 */
export function clipNormalize(text: string): string {
  checkString('clipNormalize', 'text', text);
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim().toLowerCase();
}
// Non-fatal: bytes that are not UTF-8 become U+FFFD; ignoreBOM keeps a U+FEFF the tokens spell.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A byte-level BPE tokenizer. Ids 0..255 of GPT-2's layout are single bytes, each merge adds
 * one id, added tokens come last. eosId is `<|endoftext|>` where the vocabulary has it; other
 * named specials (padId, bosId...) are undefined until {@link setSpecial} names them.
 *
 * Strings are encoded as UTF-8: a lone surrogate (half of a UTF-16 pair) becomes U+FFFD, as in
 * TextEncoder, so decode(encode(x)) === x holds for well-formed strings. Bytes that are not UTF-8
 * round-trip through {@link encodeBytes} and {@link decodeBytes}.
 */
export class BPETokenizer implements Tokenizer {
  readonly kind = 'bpe' as const;
  #h: NativeBpe;
  #size = 0;
  #added: [string, number, boolean][] = [];
  #named: Record<string, string> = {};
  #specialIds = new Map<string, number>();
  #clip: boolean;

  private constructor(h: NativeBpe, named?: Readonly<Record<string, string>>) {
    this.#h = h;
    this.#clip = native.bpeInfo(h).clip;
    this.#refresh();
    const has = (t: string) => this.#added.some(([c, , special]) => special && c === t);
    if (named) for (const [name, token] of Object.entries(named)) this.setSpecial(name, token);
    else {
      if (has(END_OF_TEXT)) this.setSpecial('eos', END_OF_TEXT);
      if (this.#clip && has(START_OF_TEXT)) this.setSpecial('bos', START_OF_TEXT);
    }
  }

  #refresh(): void {
    const info = native.bpeInfo(this.#h);
    this.#size = info.size;
    this.#added = info.added;
  }

  /** The text as the native model takes it: CLIP's normalisation first for a CLIP tokenizer. */
  #text(text: string): string {
    return this.#clip ? clipNormalize(text) : text;
  }

  /** 'clip' for CLIP's scheme (normalised text, `</w>` word ends), else 'gpt2'. */
  get flavor(): 'gpt2' | 'clip' {
    return this.#clip ? 'clip' : 'gpt2';
  }

  /**
   * Loads CLIP's merges, bpe_simple_vocab_16e6.txt or its .gz (as openai/CLIP ships it), off the
   * event loop: 49,408 ids, `<|startoftext|>` (bos) 49406 and `<|endoftext|>` (eos) 49407. With
   * two paths, Hugging Face's CLIP vocab.json and merges.txt.
   */
  static async loadCLIP(path: string, mergesPath?: string): Promise<BPETokenizer> {
    const op = 'BPETokenizer.loadCLIP';
    const p = checkPath(op, 'path', path);
    if (mergesPath !== undefined) return new BPETokenizer(await native.bpeLoadGPT2(p, checkPath(op, 'mergesPath', mergesPath), true));
    let raw: Buffer;
    try {
      raw = await readFile(p);
    } catch (e) {
      throw new QkvError(`${op}: ${p}: ${(e as Error).message}`, 'ERR_IO');
    }
    let bytes: Buffer = raw;
    if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        bytes = gunzipSync(raw);
      } catch (e) {
        throw new QkvError(`${op}: ${p}: not a readable gzip file (${(e as Error).message})`, 'ERR_FORMAT');
      }
    }
    return new BPETokenizer(await native.bpeLoadCLIP(bytes.toString('utf8'), p));
  }

  /** Loads a Hugging Face tokenizer.json (a BPE model with the ByteLevel pre-tokenizer), off the event loop. */
  static async fromFile(path: string): Promise<BPETokenizer> {
    const p = checkPath('BPETokenizer.fromFile', 'path', path);
    return new BPETokenizer(await native.bpeLoadFile(p));
  }

  /** Loads GPT-2's encoder.json and vocab.bpe (as OpenAI released them), off the event loop. */
  static async fromGPT2(encoderJsonPath: string, vocabBpePath: string): Promise<BPETokenizer> {
    const op = 'BPETokenizer.fromGPT2';
    const enc = checkPath(op, 'encoderJsonPath', encoderJsonPath), bpe = checkPath(op, 'vocabBpePath', vocabBpePath);
    return new BPETokenizer(await native.bpeLoadGPT2(enc, bpe));
  }

  /**
   * Loads a tiktoken rank file (`base64(token) rank` a line) with the GPT-2 pre-tokenizer
   * (r50k_base, p50k_base), off the event loop. The file has no special tokens: give them here.
   */
  static async fromTiktoken(path: string, options: TiktokenOptions = {}): Promise<BPETokenizer> {
    const op = 'BPETokenizer.fromTiktoken';
    const p = checkPath(op, 'path', path);
    const o = checkOptions(op, options);
    const specials = o.specialTokens === undefined ? {} : checkOptions(op, o.specialTokens, 'option specialTokens');
    const names: string[] = [], ids: number[] = [];
    for (const [token, id] of Object.entries(specials)) {
      if (token === '') throw new RangeError(`${op}: a special token is empty`);
      names.push(token);
      ids.push(checkInt(op, `option specialTokens['${token}']`, id));
    }
    return new BPETokenizer(await native.bpeLoadTiktoken(p, names, Int32Array.from(ids)));
  }

  /**
   * Rebuilds a tokenizer from toJSON()'s output, or from a tokenizer.json's object or text.
   * Synchronous (tokenizerFromJSON is); a GPT-2-sized vocabulary takes some tens of milliseconds.
   */
  static fromJSON(json: string | object): BPETokenizer {
    const op = 'BPETokenizer.fromJSON';
    const j = typeof json === 'string' ? parseJSONText(json, op) : json;
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new TypeError(`${op}: json must be an object or its JSON text, got ${typeName(j)}`);
    const o = j as Record<string, unknown>;
    if (o.kind !== 'bpe') return new BPETokenizer(native.bpeFromJSON(JSON.stringify(o)));
    if (typeof o.tokenizer !== 'object' || o.tokenizer === null) throw new TypeError(`${op}: tokenizer must be a tokenizer.json object`);
    const specials = checkOptions(op, o.specials ?? {}, 'specials');
    const named: Record<string, string> = {};
    for (const [name, token] of Object.entries(specials)) named[name] = checkString(op, `specials.${name}`, token);
    return new BPETokenizer(native.bpeFromJSON(JSON.stringify(o.tokenizer)), named);
  }

  /** Trains a new tokenizer on a corpus, off the event loop. `<|endoftext|>` among the specials becomes eos. */
  static async train(corpus: BPECorpus, options: BPETrainOptions): Promise<BPETokenizer> {
    const op = 'BPETokenizer.train';
    let source: { path: string } | { texts: string[] };
    if (typeof corpus === 'string') source = { texts: [corpus] };
    else if (Array.isArray(corpus)) source = { texts: checkStringArray(op, 'corpus', corpus) };
    else if (typeof corpus === 'object' && corpus !== null) source = { path: checkPath(op, 'corpus.path', (corpus as { path: unknown }).path) };
    else throw new TypeError(`${op}: corpus must be a string, an array of strings or { path }, got ${typeName(corpus)}`);
    const o = checkOptions(op, options);
    const clip = optEnum(op, o, 'flavor', ['gpt2', 'clip'] as const) === 'clip';
    const base = clip ? 512 : 256;
    const vocabSize = checkInt(op, 'option vocabSize', o.vocabSize, { min: base, max: 1 << 24 });
    const minFrequency = optInt(op, o, 'minFrequency', { min: 1, max: Number.MAX_SAFE_INTEGER }) ?? 2;
    const specialTokens = o.specialTokens === undefined ? [] : [...checkStringArray(op, 'option specialTokens', o.specialTokens)];
    if (clip) for (const t of [START_OF_TEXT, END_OF_TEXT]) if (!specialTokens.includes(t)) specialTokens.push(t);
    if (specialTokens.some((t) => t === '')) throw new RangeError(`${op}: a special token is empty`);
    if (new Set(specialTokens).size !== specialTokens.length) throw new RangeError(`${op}: a special token is listed twice`);
    if (vocabSize < base + specialTokens.length) throw new RangeError(`${op}: vocabSize ${vocabSize} leaves no room for the ${base} byte tokens and ${specialTokens.length} special tokens`);
    const onProgress = optFunction<(p: { merges: number; target: number }) => void>(op, o, 'onProgress');
    const signal = checkSignal(o.signal, op);
    // CLIP normalises before pre-tokenizing: the texts are normalised here (a file is read whole).
    if (clip) {
      const texts = 'path' in source ? [await readFile(source.path, 'utf8')] : source.texts;
      source = { texts: texts.map(clipNormalize) };
    }
    const h = await runJob(op, signal, () => native.bpeTrain(source, vocabSize, minFrequency, specialTokens, onProgress, clip));
    return new BPETokenizer(h);
  }

  /** Writes Hugging Face's tokenizer.json (atomically), off the event loop. Named specials other than eos are not in that format: keep toJSON() for them. */
  async save(path: string): Promise<void> {
    await native.bpeSave(this.#h, checkPath('BPETokenizer.save', 'path', path));
  }

  get size(): number {
    return this.#size;
  }
  get padId(): number | undefined {
    return this.#specialIds.get('pad');
  }
  get bosId(): number | undefined {
    return this.#specialIds.get('bos');
  }
  get eosId(): number | undefined {
    return this.#specialIds.get('eos');
  }
  get unkId(): number | undefined {
    return this.#specialIds.get('unk');
  }
  get maskId(): number | undefined {
    return this.#specialIds.get('mask');
  }
  /** Named specials first (pad, bos, eos...), then the other special added tokens under their own text. */
  get specialTokens(): Readonly<Record<string, number>> {
    const out: Record<string, number> = Object.fromEntries(this.#specialIds);
    const named = new Set(this.#specialIds.values());
    for (const [content, id, special] of this.#added) if (special && !named.has(id) && !Object.hasOwn(out, content)) out[content] = id;
    return out;
  }
  /** The number of merges. */
  get merges(): number {
    return native.bpeInfo(this.#h).merges;
  }

  isSpecial(id: number): boolean {
    return typeof id === 'number' && Number.isInteger(id) && native.bpeIsSpecial(this.#h, id);
  }

  /**
   * Names an added special token as pad, bos, eos, unk or mask (or another name), so that models
   * find it (padId, ...); undefined removes the name. RangeError unless the token is a special
   * added token (see addSpecialTokens).
   */
  setSpecial(name: string, token: string | undefined): void {
    const op = 'BPETokenizer.setSpecial';
    checkString(op, 'name', name, { nonEmpty: true });
    if (token === undefined) {
      this.#specialIds.delete(name);
      delete this.#named[name];
      return;
    }
    checkString(op, 'token', token, { nonEmpty: true });
    const hit = this.#added.find(([c, , special]) => special && c === token);
    if (!hit) throw new RangeError(`${op}: ${JSON.stringify(token)} is not a special token of this tokenizer; add it with addSpecialTokens first`);
    this.#specialIds.set(name, hit[1]);
    this.#named[name] = token;
  }

  /**
   * Adds special tokens (e.g. GPT-1's '<s>', '$', '<e>'): each gets a fresh id at the end, even
   * one whose text is a regular token, and from then on is matched in texts before the
   * pre-tokenizer. A token already added keeps its id. Returns the ids, in order.
   */
  addSpecialTokens(tokens: readonly string[]): number[] {
    const op = 'BPETokenizer.addSpecialTokens';
    const list = checkStringArray(op, 'tokens', tokens);
    if (list.some((t) => t === '')) throw new RangeError(`${op}: a token is empty`);
    const ids = Array.from(native.bpeAddTokens(this.#h, list, true));
    this.#refresh();
    return ids;
  }

  /** The id of a token: its byte-level text as in tokenizer.json ('Ġthe'), or an added token's text; undefined when there is none. */
  tokenToId(token: string): number | undefined {
    const id = native.bpeTokenToId(this.#h, checkString('BPETokenizer.tokenToId', 'token', token));
    return id < 0 ? undefined : id;
  }

  /** The token of an id in the form tokenToId takes; RangeError outside [0, size), undefined for an unused id. */
  idToToken(id: number): string | undefined {
    const op = 'BPETokenizer.idToToken';
    return native.bpeIdToToken(this.#h, checkInt(op, 'id', id, { min: 0, max: Math.max(0, this.#size - 1) }));
  }

  /** The ids of the text, cut to the room left by bos/eos, with them added. */
  #finish(raw: Int32Array, checked: ReturnType<typeof checkEncodeOptions>): number[] {
    const n = Math.min(raw.length, checked.room);
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) ids[i] = raw[i];
    return withSpecials(this, ids, checked);
  }

  encode(text: string, options?: BPEEncodeOptions): number[] {
    const op = 'BPETokenizer.encode';
    checkText(text, op);
    const checked = checkEncodeOptions(this, options, op);
    const split = optBool(op, checkOptions(op, options), 'splitSpecial') ?? true;
    return this.#finish(native.bpeEncode(this.#h, this.#text(text), split), checked);
  }

  /** The ids of raw bytes, which need not be UTF-8 (not normalised, even by a CLIP tokenizer): decodeBytes gives them back exactly. */
  encodeBytes(bytes: Uint8Array, options?: BPEEncodeOptions): number[] {
    const op = 'BPETokenizer.encodeBytes';
    checkTypedArray(op, 'bytes', bytes, [Uint8Array]);
    const checked = checkEncodeOptions(this, options, op);
    const split = optBool(op, checkOptions(op, options), 'splitSpecial') ?? true;
    return this.#finish(native.bpeEncode(this.#h, Uint8Array.from(bytes), split), checked);
  }

  decodeBytes(ids: ArrayLike<number>, options?: DecodeOptions): Uint8Array {
    const op = 'BPETokenizer.decodeBytes';
    const skip = checkDecodeOptions(options, op);
    checkIds(ids, this.#size, op);
    return native.bpeDecode(this.#h, Int32Array.from(ids), skip);
  }

  /** The text of the ids; bytes that do not form UTF-8 (a character cut by maxLength, say) become U+FFFD. */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    const op = 'BPETokenizer.decode';
    const skip = checkDecodeOptions(options, op);
    checkIds(ids, this.#size, op);
    return utf8.decode(native.bpeDecode(this.#h, Int32Array.from(ids), skip));
  }

  /** encode() of each text, in parallel on the thread pool (qkv.setThreads), off the event loop. */
  async encodeBatch(texts: readonly string[], options?: BPEEncodeOptions): Promise<number[][]> {
    const op = 'BPETokenizer.encodeBatch';
    checkTexts(texts, op);
    const list = texts.map((t) => this.#text(t));
    const checked = checkEncodeOptions(this, options, op);
    const split = optBool(op, checkOptions(op, options), 'splitSpecial') ?? true;
    const { ids, offsets } = await native.bpeEncodeBatch(this.#h, list, split);
    return list.map((_, i) => this.#finish(ids.subarray(offsets[i], offsets[i + 1]), checked));
  }

  /** decode() of each row, off the event loop. */
  async decodeBatch(rows: readonly ArrayLike<number>[], options?: DecodeOptions): Promise<string[]> {
    const op = 'BPETokenizer.decodeBatch';
    checkRows(rows, op);
    const skip = checkDecodeOptions(options, op);
    const offsets = new Int32Array(rows.length + 1);
    let total = 0;
    rows.forEach((r, i) => {
      checkIds(r, this.#size, `${op}: rows[${i}]`);
      offsets[i] = total;
      total += r.length;
    });
    offsets[rows.length] = total;
    const flat = new Int32Array(total);
    rows.forEach((r, i) => flat.set(Array.from(r), offsets[i]));
    const bytes = await native.bpeDecodeBatch(this.#h, flat, offsets, skip);
    return bytes.map((b) => utf8.decode(b));
  }

  batch(texts: readonly string[], options?: BPEEncodeOptions): TokenBatch {
    const op = 'BPETokenizer.batch';
    checkTexts(texts, op);
    if (texts.length === 0) throw new RangeError(`${op}: no texts`);
    return padBatch(texts.map((t) => this.encode(t, options)), op, this.padId ?? 0);
  }

  toJSON(): BPEJSON {
    return { kind: 'bpe', specials: { ...this.#named }, tokenizer: JSON.parse(native.bpeToJSON(this.#h)) as Record<string, unknown> };
  }

  /** The ids of the pre-tokenized words through the textbook merge, ignoring added tokens: for tests of the fast one. */
  encodeReference(text: string): number[] {
    checkText(text, 'BPETokenizer.encodeReference');
    return Array.from(native.bpeEncodeReference(this.#h, this.#text(text)));
  }
}

registerTokenizer('bpe', (j) => BPETokenizer.fromJSON(j));
