// Text of a generation as it is produced: ids in, the newly final text out, never half a character.

import { TextDecoder } from 'node:util';
import { checkOptions, optBool } from '../args';
import { checkIds, type Tokenizer } from './tokenizer';

export interface StreamDecoderOptions {
  /** Drop special tokens (default true), as decode() does. */
  skipSpecial?: boolean;
}

/**
 * Turns ids fed one or a few at a time into text: push() returns the text that became final since
 * the last call, flush() the rest at the end of the stream. The pieces join to decode(all ids).
 *
 * With a byte-level tokenizer (one with decodeBytes) the bytes go through a streaming UTF-8
 * decoder, so a character split across tokens comes out whole once its last byte arrives (U+FFFD
 * only for bytes that are not valid UTF-8, or, at flush, for a character left incomplete). Other
 * tokenizers must decode a prefix of the ids to a prefix of the text (CharVocab and WordVocab do):
 * each push decodes all ids so far and returns what was added, and throws if that changed text
 * already returned. A trailing lone high surrogate is held back until its pair arrives.
 */
export class StreamDecoder {
  readonly tokenizer: Tokenizer;
  readonly skipSpecial: boolean;
  readonly #utf8: TextDecoder | undefined;
  #ids: number[] = [];
  #seen = '';
  #held = '';

  constructor(tokenizer: Tokenizer, options: StreamDecoderOptions = {}) {
    const op = 'StreamDecoder';
    if (!tokenizer || typeof tokenizer.decode !== 'function' || !Number.isInteger(tokenizer.size))
      throw new TypeError(`${op}: tokenizer must be a Tokenizer (with decode and size)`);
    if (tokenizer.decodeBytes !== undefined && typeof tokenizer.decodeBytes !== 'function') throw new TypeError(`${op}: tokenizer.decodeBytes must be a function`);
    const skipSpecial = optBool(op, checkOptions(op, options), 'skipSpecial');
    this.tokenizer = tokenizer;
    this.skipSpecial = skipSpecial ?? true;
    // ignoreBOM: a U+FEFF the tokens spell is text, not a marker to drop.
    if (tokenizer.decodeBytes) this.#utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  }

  /** Feeds one id or several; returns the text that became final. RangeError for an id outside the vocabulary. */
  push(ids: number | ArrayLike<number>): string {
    const op = 'StreamDecoder.push';
    const list = typeof ids === 'number' ? [ids] : ids;
    checkIds(list, this.tokenizer.size, op);
    if (this.#utf8) {
      const bytes = this.tokenizer.decodeBytes!(list, { skipSpecial: this.skipSpecial });
      if (!(bytes instanceof Uint8Array)) throw new TypeError(`${op}: tokenizer.decodeBytes must return a Uint8Array`);
      return this.#utf8.decode(bytes, { stream: true });
    }
    const before = this.#ids.length;
    for (let i = 0; i < list.length; i++) this.#ids.push(list[i]);
    const text = this.tokenizer.decode(this.#ids, { skipSpecial: this.skipSpecial });
    if (!text.startsWith(this.#seen)) {
      this.#ids.length = before;
      throw new Error(`${op}: the ${this.tokenizer.kind} tokenizer decodes these ids to text that changes what was already returned; a stream needs decode(prefix) to be a prefix (or decodeBytes)`);
    }
    let out = this.#held + text.slice(this.#seen.length);
    this.#seen = text;
    this.#held = '';
    const last = out.charCodeAt(out.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.#held = out.slice(-1);
      out = out.slice(0, -1);
    }
    return out;
  }

  /** Ends the stream: returns what is left and starts a new stream. */
  flush(): string {
    if (this.#utf8) return this.#utf8.decode();
    const out = this.#held;
    this.#ids = [];
    this.#seen = '';
    this.#held = '';
    return out;
  }
}
