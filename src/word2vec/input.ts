// Training input: a text file path (read natively, by byte ranges, on the training threads), or
// sentences from JavaScript streamed to the native job in batches of text with backpressure.
import { checkNotDetached, typeName } from '../args';
import type { NativeFeedJob } from './native';

/**
 * One sentence: a string (split on whitespace), an array of tokens, or an array of token ids
 * (numbers, or an `Int32Array`/`Uint32Array`...; an id `42` becomes the word `'42'`).
 * Tokens must not contain whitespace (word2vec's file formats could not store them either).
 */
export type Word2VecSentence = string | readonly (string | number)[] | ArrayLike<number>;

/**
 * What `Word2Vec.train` learns from:
 * - a path to a text file: one sentence per line, words separated by whitespace, lines longer
 *   than `maxSentenceLength` (10,000) words cut into chunks. Streamed: the file is never loaded whole.
 * - an `Iterable` or `AsyncIterable` of sentences. It is iterated once to build the vocabulary and
 *   once per epoch, so it must be re-iterable (an array, or an object whose `[Symbol.iterator]` /
 *   `[Symbol.asyncIterator]` method starts a fresh pass each time), as gensim requires; a one-shot
 *   generator object is rejected with a `TypeError`.
 */
export type Word2VecInput = string | Iterable<Word2VecSentence> | AsyncIterable<Word2VecSentence>;

const BATCH_WORDS = 65536;  // words per batch handed to the native side
const BATCH_CHARS = 1 << 20;

type AnyIterable = Iterable<Word2VecSentence> | AsyncIterable<Word2VecSentence>;

export function describeValue(v: unknown): string {
  if (v === null || typeof v === 'object') return typeName(v);
  if (typeof v === 'string') return `the string '${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
  return `${typeof v} ${String(v)}`;
}

/** Checks the input's kind; returns the iterable (or null for a path). */
export function checkInput(input: unknown, op: string): AnyIterable | null {
  if (typeof input === 'string') {
    if (input.length === 0) throw new TypeError(`${op}: the corpus path is empty`);
    if (input.includes('\0')) throw new TypeError(`${op}: the corpus path must not contain NUL characters`);
    return null;
  }
  if (input !== null && typeof input === 'object') {
    checkNotDetached(op, 'input', input);
    const o = input as Record<symbol, unknown>;
    const sync = typeof o[Symbol.iterator] === 'function';
    const async = typeof o[Symbol.asyncIterator] === 'function';
    if (sync || async) {
      // A generator object (or any iterator that returns itself) can be walked only once.
      const it = async ? (o[Symbol.asyncIterator] as () => unknown).call(input) : (o[Symbol.iterator] as () => unknown).call(input);
      if (it !== input) {
        // Created only to look at it: close it again (a no-op for a fresh array or generator iterator).
        try {
          const r = (it as { return?: () => unknown })?.return?.();
          if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(() => undefined);
        } catch {
          // ignore
        }
      }
      if (it === input)
        throw new TypeError(
          `${op}: the input is a one-shot iterator (such as a generator object); training iterates it once for the ` +
            `vocabulary and once per epoch, so pass a re-iterable: an array, or an object whose [Symbol.iterator] or ` +
            `[Symbol.asyncIterator] method starts a fresh pass`,
        );
      return input as AnyIterable;
    }
  }
  throw new TypeError(`${op}: input must be a file path, an Iterable or an AsyncIterable of sentences, got ${describeValue(input)}`);
}

function sentenceText(s: unknown, n: number, op: string): { text: string; words: number } {
  if (typeof s === 'string') {
    const text = s.includes('\n') || s.includes('\r') ? s.replace(/[\r\n]+/g, ' ') : s;
    let words = 0;
    for (let i = 0, inWord = false; i < text.length; ++i) {
      const c = text.charCodeAt(i);
      const space = c === 32 || c === 9 || c === 11 || c === 12;
      if (!space && !inWord) ++words;
      inWord = !space;
    }
    return { text, words };
  }
  if (Array.isArray(s)) {
    for (let i = 0; i < s.length; ++i) {
      const t = s[i];
      if (typeof t !== 'string' && typeof t !== 'number')
        throw new TypeError(`${op}: sentence ${n} holds ${describeValue(t)} at position ${i}; tokens must be strings or numbers`);
    }
    return { text: s.join(' '), words: s.length };
  }
  if (ArrayBuffer.isView(s) && !(s instanceof DataView)) {
    const a = s as unknown as ArrayLike<number>;
    return { text: Array.prototype.join.call(a, ' '), words: a.length };
  }
  throw new TypeError(`${op}: sentence ${n} is ${describeValue(s)}; expected a string, an array of tokens or an array of token ids`);
}

/**
 * Feeds `passes` passes over `input` to a native feed job, with an end-of-pass marker after each,
 * then closes it. Stops early (without error) when the job stops taking input. Throws what the
 * iterable throws.
 */
export async function feedPasses(
  job: NativeFeedJob<unknown>,
  input: AnyIterable,
  passes: number,
  op: string,
  signal?: AbortSignal,
): Promise<void> {
  let firstPassWords = -1;
  for (let pass = 0; pass < passes; ++pass) {
    let parts: string[] = [];
    let words = 0;
    let chars = 0;
    let passWords = 0;
    let n = 0;
    const flush = async (): Promise<boolean> => {
      if (parts.length === 0) return true;
      const text = parts.join('\n');
      parts = [];
      words = 0;
      chars = 0;
      const taken = await job.push(text);
      // A push the job takes at once settles as a microtask: without a turn of the event loop
      // after each batch, timers and I/O would wait for all of a sync input's passes.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return taken;
    };
    const iterable = input as AsyncIterable<Word2VecSentence> & Iterable<Word2VecSentence>;
    const isAsync = typeof iterable[Symbol.asyncIterator] === 'function';
    let stopped = false;
    const each = async (s: Word2VecSentence): Promise<boolean> => {
      const { text, words: w } = sentenceText(s, n++, op);
      if (w === 0) return true;
      parts.push(text);
      words += w;
      passWords += w;
      chars += text.length;
      if (words >= BATCH_WORDS || chars >= BATCH_CHARS) {
        if (!(await flush())) return false;
        if (signal?.aborted) return false;
      }
      return true;
    };
    if (isAsync) {
      for await (const s of iterable) {
        if (!(await each(s))) { stopped = true; break; }
      }
    } else {
      for (const s of iterable) {
        if (!(await each(s))) { stopped = true; break; }
      }
    }
    if (stopped || signal?.aborted) return;
    if (!(await flush())) return;
    if (pass === 0) firstPassWords = passWords;
    else if (passWords === 0 && firstPassWords > 0)
      throw new TypeError(
        `${op}: the input yielded no sentences on pass ${pass + 1} (it had ${firstPassWords} words on the first): it is not ` +
          `re-iterable; pass an array, or an object whose [Symbol.iterator] or [Symbol.asyncIterator] method starts a fresh pass`,
      );
    if (!(await job.endPass())) return;
  }
  job.close();
}
