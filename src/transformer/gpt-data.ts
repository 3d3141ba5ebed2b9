// What GPT.fit reads: a corpus (a string, documents, a file streamed, or token ids) turned into
// one stream of ids with the end-of-text id after each document, off the event loop where the
// tokenizer allows (encodeBatch).
import { createReadStream } from 'node:fs';
import { MAX_INT32, checkArray, checkInt, checkObject, checkPath, checkString, typeName } from '../args';
import type { Tokenizer } from '../text/tokenizer';

/** Text, documents, a file (`{ path }`, read in chunks), id rows (documents of ids) or one stream of ids. */
export type Corpus = string | readonly string[] | { path: string } | readonly (readonly number[])[] | Int32Array;

// Long texts are encoded in pieces of about this many characters, cut where a line ends and the next
// begins with a non-space (a cut the byte-level BPE's pattern would make anyway).
const PIECE = 1 << 16;

/** Splits text into pieces of about PIECE characters at cuts that leave the tokenization unchanged. */
export function textPieces(text: string): string[] {
  const out: string[] = [];
  let a = 0;
  while (text.length - a > PIECE) {
    let cut = -1;
    for (let i = a + PIECE; i < text.length - 1 && i < a + 4 * PIECE; i++)
      if (text.charCodeAt(i) === 10 && !/\s/.test(text[i + 1])) {
        cut = i + 1;
        break;
      }
    if (cut < 0) break;
    out.push(text.slice(a, cut));
    a = cut;
  }
  out.push(text.slice(a));
  return out;
}

async function encodeText(tokenizer: Tokenizer, text: string): Promise<number[]> {
  const rows = await tokenizer.encodeBatch(textPieces(text));
  return rows.flat();
}

async function* fileTexts(path: string): AsyncGenerator<string> {
  let carry = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 4 * PIECE })) {
    const text = carry + (chunk as string);
    const pieces = textPieces(text);
    carry = pieces.pop() ?? '';
    yield* pieces;
  }
  if (carry) yield carry;
}

/**
 * The corpus as one id stream: each document's ids followed by `eosId` (when there is one; a single
 * text or a file is one document). Ids are checked against the vocabulary size `vocab`.
 */
export async function corpusIds(corpus: unknown, tokenizer: Tokenizer, eosId: number | undefined, vocab: number, op: string, name: string): Promise<Int32Array> {
  const ids: number[] = [];
  const push = (row: readonly number[]) => {
    for (const id of row) ids.push(id);
    if (eosId !== undefined) ids.push(eosId);
  };
  if (corpus instanceof Int32Array) {
    for (const id of corpus) if (id < 0 || id >= vocab) throw new RangeError(`${op}: ${name} holds id ${id} outside the vocabulary of ${vocab}`);
    return new Int32Array(corpus);
  }
  if (typeof corpus === 'string') {
    push(await encodeText(tokenizer, corpus));
  } else if (Array.isArray(corpus)) {
    if (corpus.length === 0) throw new RangeError(`${op}: ${name} is empty`);
    if (typeof corpus[0] === 'string') {
      const docs = checkArray(op, name, corpus, (d, n) => checkString(op, n, d));
      for (const row of await tokenizer.encodeBatch(docs)) push(row);
    } else {
      const rows = checkArray(op, name, corpus, (r, n) => checkArray(op, n, r, (id, m) => checkInt(op, m, id, { min: 0, max: vocab - 1 }), { what: 'an array of ids' }),
        { what: 'an array of id arrays' });
      for (const r of rows) push(r);
    }
  } else if (typeof corpus === 'object' && corpus !== null && 'path' in corpus) {
    const path = checkPath(op, `${name}.path`, checkObject(op, name, corpus).path);
    const batch: string[] = [];
    const flush = async () => {
      for (const row of await tokenizer.encodeBatch(batch.splice(0))) for (const id of row) ids.push(id);
    };
    for await (const piece of fileTexts(path)) {
      batch.push(piece);
      if (batch.length >= 64) await flush();
    }
    await flush();
    if (eosId !== undefined) ids.push(eosId);
  } else {
    throw new TypeError(`${op}: ${name} must be a string, an array of strings or of id arrays, { path } or an Int32Array, got ${typeName(corpus)}`);
  }
  if (ids.length > MAX_INT32) throw new RangeError(`${op}: ${name} has more than 2^31 tokens`);
  return Int32Array.from(ids);
}
