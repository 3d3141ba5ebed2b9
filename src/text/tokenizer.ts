// The interface every tokenizer of qkv implements (the character and word vocabularies, and
// tokenizers that register themselves later), the registry that rebuilds one from its saved JSON,
// and the argument checks they share, so that every tokenizer rejects bad input the same way.

import { checkFunction, checkInt, checkOptions, checkString, optBool, typeName } from '../args';
import { QkvError } from '../errors';
import type { TokenBatch } from './batch';

/** The special tokens a model may ask a tokenizer for by name. */
export type SpecialName = 'pad' | 'bos' | 'eos' | 'unk' | 'mask';

export interface EncodeOptions {
  /** Prepend the bos token (default false); RangeError if the tokenizer has none. */
  bos?: boolean;
  /** Append the eos token (default false); RangeError if the tokenizer has none. */
  eos?: boolean;
  /** Keep at most this many ids, specials included (the text is cut, bos/eos are kept). */
  maxLength?: number;
}

export interface DecodeOptions {
  /** Drop special tokens (default true). */
  skipSpecial?: boolean;
}

/** What toJSON() returns: plain JSON with the `kind` that {@link tokenizerFromJSON} dispatches on. */
export interface TokenizerJSON {
  kind: string;
  [key: string]: unknown;
}

/** Text ↔ ids, with named special tokens. Implemented by CharVocab and WordVocab. */
export interface Tokenizer {
  /** 'char', 'word', ...: the key of this tokenizer in the registry of {@link tokenizerFromJSON}. */
  readonly kind: string;
  /** The number of ids, specials included: every id is in [0, size). */
  readonly size: number;
  /** The id of each special token; undefined when the tokenizer has no such token. */
  readonly padId: number | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly maskId: number | undefined;
  /** Name → id of the special tokens this tokenizer has (only those), e.g. { pad: 0, eos: 2 }. */
  readonly specialTokens: Readonly<Record<string, number>>;
  /** Whether `id` is one of the special tokens. */
  isSpecial(id: number): boolean;

  encode(text: string, options?: EncodeOptions): number[];
  /** Skips the special tokens unless `skipSpecial` is false. */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /**
   * The UTF-8 bytes of decode(ids), for byte-level tokenizers, whose tokens may end inside a
   * character. It must concatenate (the bytes of a ++ b are those of a then those of b), which is
   * what lets {@link StreamDecoder} emit text token by token without splitting a character.
   */
  decodeBytes?(ids: ArrayLike<number>, options?: DecodeOptions): Uint8Array;

  /** encode() of each text. Asynchronous so that native tokenizers can run off the event loop. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): Promise<number[][]>;
  /** decode() of each row, asynchronous as encodeBatch. */
  decodeBatch(rows: readonly ArrayLike<number>[], options?: DecodeOptions): Promise<string[]>;
  /**
   * Encodes several texts into one right-padded batch, padded with padId (with 0 by a tokenizer
   * without a pad token: the lengths then say where each row ends). RangeError for an empty list
   * or a text that encodes to no ids.
   */
  batch(texts: readonly string[], options?: EncodeOptions): TokenBatch;
  toJSON(): TokenizerJSON;
}

export type TokenizerFromJSON = (json: TokenizerJSON) => Tokenizer;

const registry = new Map<string, TokenizerFromJSON>();

/**
 * Makes tokenizerFromJSON rebuild JSON of this `kind` with `fromJSON`. Registering the same function
 * again does nothing; another function for a kind already registered is a RangeError.
 */
export function registerTokenizer(kind: string, fromJSON: TokenizerFromJSON): void {
  checkString('registerTokenizer', 'kind', kind, { nonEmpty: true });
  checkFunction('registerTokenizer', 'fromJSON', fromJSON);
  const known = registry.get(kind);
  if (known && known !== fromJSON) throw new RangeError(`registerTokenizer: the kind ${JSON.stringify(kind)} is already registered`);
  registry.set(kind, fromJSON);
}

/**
 * Rebuilds a tokenizer saved with toJSON() (an object, or its JSON text) through the registry.
 * TypeError when `json` is neither a string nor an object; saved data that does not parse or does
 * not describe a tokenizer (no kind, an unknown kind, fields a kind rejects) is QkvError ERR_FORMAT.
 */
export function tokenizerFromJSON(json: string | object): Tokenizer {
  return readTokenizer(json, 'tokenizerFromJSON');
}

/** tokenizerFromJSON with the errors naming `op` (vocabFromJSON's own). */
export function readTokenizer(json: unknown, op: string): Tokenizer {
  if (typeof json !== 'string' && (typeof json !== 'object' || json === null || Array.isArray(json)))
    throw new TypeError(`${op}: json must be a JSON string or an object, got ${typeName(json)}`);
  const j = typeof json === 'string' ? parseJSONText(json, op) : json;
  if (!j || typeof j !== 'object' || Array.isArray(j) || typeof (j as TokenizerJSON).kind !== 'string')
    throw new QkvError(`${op}: expected an object with a string kind, got ${typeName(j)}`, 'ERR_FORMAT');
  const kind = (j as TokenizerJSON).kind;
  const fromJSON = registry.get(kind);
  if (!fromJSON) throw new QkvError(`${op}: unknown tokenizer kind ${JSON.stringify(kind)} (registered: ${[...registry.keys()].join(', ')})`, 'ERR_FORMAT');
  try {
    return fromJSON(j as TokenizerJSON);
  } catch (e) {
    // A kind's own checks of its fields (TypeError, RangeError) say what is wrong with the data.
    if (e instanceof TypeError || e instanceof RangeError) throw new QkvError(`${op}: a corrupt ${kind} tokenizer: ${e.message}`, 'ERR_FORMAT');
    throw e;
  }
}

// Argument checks shared by the tokenizers (not exported from the package).

/** JSON.parse, with text that is not JSON reported as QkvError ERR_FORMAT naming `op`. */
export function parseJSONText(text: string, op: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new QkvError(`${op}: not JSON: ${(e as Error).message}`, 'ERR_FORMAT');
  }
}

export function checkTexts(texts: unknown, op: string): asserts texts is readonly string[] {
  if (!Array.isArray(texts)) throw new TypeError(`${op}: texts must be an array of strings, got ${typeName(texts)}`);
  for (let i = 0; i < texts.length; i++) checkString(op, `texts[${i}]`, texts[i]);
}

export function checkText(text: unknown, op: string): asserts text is string {
  checkString(op, 'text', text);
}

/** Encode options, checked against the tokenizer's specials: bos, eos and the room left for the text's ids. */
export interface CheckedEncodeOptions {
  bos: boolean;
  eos: boolean;
  room: number;
}

export function checkEncodeOptions(tok: Tokenizer, options: EncodeOptions | undefined, op: string): CheckedEncodeOptions {
  const o = checkOptions(op, options);
  const bos = optBool(op, o, 'bos') ?? false, eos = optBool(op, o, 'eos') ?? false;
  if (bos && tok.bosId === undefined) throw new RangeError(`${op}: bos was asked for but this ${tok.kind} tokenizer has no bos token`);
  if (eos && tok.eosId === undefined) throw new RangeError(`${op}: eos was asked for but this ${tok.kind} tokenizer has no eos token`);
  if (o.maxLength === undefined) return { bos, eos, room: Infinity };
  const maxLength = checkInt(op, 'option maxLength', o.maxLength, { min: 0, max: Number.MAX_SAFE_INTEGER });
  const room = maxLength - (bos ? 1 : 0) - (eos ? 1 : 0);
  if (room < 0) throw new RangeError(`${op}: maxLength ${maxLength} is too small for the special tokens`);
  return { bos, eos, room };
}

/** Adds bos/eos (checked by checkEncodeOptions) around the text's ids, already cut to the room it returned. */
export function withSpecials(tok: Tokenizer, ids: number[], options: CheckedEncodeOptions): number[] {
  if (options.bos) ids.unshift(tok.bosId!);
  if (options.eos) ids.push(tok.eosId!);
  return ids;
}

/** Checks decode options; returns skipSpecial. */
export function checkDecodeOptions(options: DecodeOptions | undefined, op: string): boolean {
  return optBool(op, checkOptions(op, options), 'skipSpecial') ?? true;
}

function isArrayLike(x: unknown): x is ArrayLike<unknown> {
  return typeof x === 'object' && x !== null && Number.isInteger((x as ArrayLike<unknown>).length) && (x as ArrayLike<unknown>).length >= 0;
}

/** TypeError unless `ids` is an array-like of numbers, RangeError for an id outside [0, size). */
export function checkIds(ids: unknown, size: number, op: string): asserts ids is ArrayLike<number> {
  if (!isArrayLike(ids)) throw new TypeError(`${op}: ids must be an array or typed array of numbers`);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'number') throw new TypeError(`${op}: ids[${i}] must be a number, got ${typeof id}`);
    if (!Number.isInteger(id) || id < 0 || id >= size) throw new RangeError(`${op}: id ${id} at ${i} is outside [0, ${size})`);
  }
}

/** TypeError unless `rows` is an array of array-likes (their ids are checked by decode). */
export function checkRows(rows: unknown, op: string): asserts rows is readonly ArrayLike<number>[] {
  if (!Array.isArray(rows) || !rows.every(isArrayLike)) throw new TypeError(`${op}: rows must be an array of id arrays`);
}
