// Word2Vec: a typed façade over the native model (cpp/word2vec). Training, loading, saving and the
// evaluations run off the event loop and return Promises; similarity queries are synchronous (one
// SIMD pass over the vocabulary, on the thread pool when it is large).
import { CallQueue, abortError } from '../jobs';
import {
  checkArray, checkNotDetached, checkNumber, checkObject, checkOptions as checkOptionsObject, checkPath as checkFilePath, checkString, optBool, optEnum, optFunction, optInt,
  optNumber, optSeed, typeName, type Options,
} from '../args';
import { QkvError } from '../errors';
import { checkInput, describeValue, feedPasses, type Word2VecInput } from './input';
import { w2vBinding as B, type NativeFeedJob, type NativeModel, type NativeTrainResult } from './native';

export type Word2VecArchitecture = 'skipgram' | 'cbow';
export type Word2VecFormat = 'word2vec-text' | 'word2vec-binary' | 'qkv';

/** Progress of a training run, reported about every 100 ms and once at the end. */
export interface Word2VecProgress {
  /** 1-based epoch that the words done so far fall into. */
  epoch: number;
  /** Corpus words processed so far, all epochs together (before dropping unknown or subsampled words). */
  wordsDone: number;
  /** epochs × words in the corpus. */
  wordsTotal: number;
  /** The current learning rate. */
  alpha: number;
  /** wordsDone / seconds since training started. */
  wordsPerSec: number;
  /** Mean loss per training example since the previous report: a skip-gram (context, word) pair or a CBOW window; each example's loss is −log σ summed over its outputs (the word and its negatives, or its Huffman path). */
  loss: number;
}

/** Settings of the vocabulary and the weights: fixed when a model is created. */
export interface Word2VecModelOptions {
  /** Vector dimensions. Default 100. */
  dim?: number;
  /** Negative samples per example (shared by a window, see docs/word2vec.md); 0 turns negative sampling off. Default 5. */
  negative?: number;
  /** Hierarchical softmax (Huffman tree). Default false. */
  hs?: boolean;
  /** Words seen fewer times are dropped. Default 5. */
  minCount?: number;
  /** Keep at most this many words, the most frequent. Default: no limit. */
  maxVocabSize?: number;
  /** Exponent of the negative-sampling distribution. Default 0.75. */
  nsExponent?: number;
}

/** Settings of one training run. */
export interface Word2VecTrainOptions {
  /** Default 'skipgram'. */
  architecture?: Word2VecArchitecture;
  /** Maximum distance between the current and a predicted word; each position draws a window from 1 to this. Default 5. */
  window?: number;
  /** Subsampling threshold of frequent words (gensim's `sample`); 0 turns it off. Default 1e-3. */
  sample?: number;
  /** Passes over the corpus. Default 5. */
  epochs?: number;
  /** Learning rate at the start; it falls linearly to minAlpha over all words of all epochs. Default 0.025. */
  alpha?: number;
  /** Default 0.0001. */
  minAlpha?: number;
  /** Native training threads (lock-free updates). Default: QKV_THREADS, else the number of cores. */
  threads?: number;
  /** Seed of every random choice. With `threads: 1` the result is bit-identical from run to run. Default 1. */
  seed?: number;
  /** Lines (or sentences) longer than this many words are cut into chunks. Default 10000. */
  maxSentenceLength?: number;
  /** CBOW: average (true) or sum the context vectors. Default true. */
  cbowMean?: boolean;
  /** 'fast' (shared negatives, SIMD: the default) or 'reference' (word2vec.c's plain per-pair loops, for checking). */
  kernel?: 'fast' | 'reference';
  /** File input: keep the corpus as word ids in memory between epochs when it fits in this many bytes (same result, less re-reading). Default 1 GiB; 0 turns it off. */
  cacheBytes?: number;
  /** Seconds between progress reports (there is always one at the end). Default 0.1. */
  progressInterval?: number;
  /** Rejects the training with QkvError ERR_ABORTED; the native threads stop within milliseconds. */
  signal?: AbortSignal;
  onProgress?: (p: Word2VecProgress) => void;
}

export type Word2VecOptions = Word2VecModelOptions & Word2VecTrainOptions;

export interface Word2VecVocabEntry {
  word: string;
  /** Occurrences in the corpus the vocabulary was built from (0 for models loaded from word2vec files, which store no counts). */
  count: number;
}

export interface SimilarWord {
  word: string;
  similarity: number;
}

/** A word (a number stands for the word of that token id, e.g. 42 → '42') . */
export type Word2VecWord = string | number;

export interface Word2VecQuery {
  positive?: readonly Word2VecWord[];
  negative?: readonly Word2VecWord[];
}

export interface MostSimilarOptions {
  /** How many results. Default 10. */
  topN?: number;
  /** Only consider the first (most frequent) this many words. Default: all. */
  restrictVocab?: number;
}

export interface Word2VecTrainResult {
  /** Corpus words processed, all epochs. */
  words: number;
  /** Words left after dropping unknown and subsampled words. */
  effectiveWords: number;
  /** Training time (after the vocabulary pass). */
  seconds: number;
  wordsPerSec: number;
  /** Mean loss per example over the run (see Word2VecProgress.loss). */
  loss: number;
  /** Time of the vocabulary (or word-count) pass. */
  vocabSeconds: number;
}

export interface WordPairsResult {
  /** Pearson correlation of the model's cosine similarities with the human scores. */
  pearson: number;
  /** Spearman rank correlation (ties get average ranks). */
  spearman: number;
  /** Fraction (0..1) of pairs skipped because a word is not in the (restricted) vocabulary. */
  oov: number;
  /** Pairs used. */
  pairs: number;
}

export interface AnalogySectionResult {
  section: string;
  correct: number;
  incorrect: number;
  accuracy: number;
}

export interface AnalogiesResult {
  /** Correct answers / questions answered (all four words known). */
  accuracy: number;
  sections: AnalogySectionResult[];
  /** Questions answered. */
  covered: number;
  /** Questions read. */
  total: number;
}

export interface Word2VecEvaluateOptions {
  /** Only the first (most frequent) this many words count as known. Default 300000 (gensim's). */
  restrictVocab?: number;
  /** Compare words lower-cased (ASCII); the most frequent spelling wins. Default true. */
  caseInsensitive?: boolean;
}

const BIG = { min: 0, max: Number.MAX_SAFE_INTEGER };

// Each option the native trainer reads, with its check: the model's settings, then a run's.
const CHECKS: Record<string, (op: string, o: Options, key: string) => unknown> = {
  dim: (op, o, k) => optInt(op, o, k, { min: 1 }),
  negative: (op, o, k) => optInt(op, o, k),
  hs: (op, o, k) => optBool(op, o, k),
  minCount: (op, o, k) => optInt(op, o, k, BIG),
  maxVocabSize: (op, o, k) => optInt(op, o, k, BIG),
  nsExponent: (op, o, k) => optNumber(op, o, k),
  architecture: (op, o, k) => optEnum(op, o, k, ['skipgram', 'cbow'] as const),
  window: (op, o, k) => optInt(op, o, k, { min: 1 }),
  sample: (op, o, k) => optNumber(op, o, k, { min: 0 }),
  epochs: (op, o, k) => optInt(op, o, k, { min: 1 }),
  alpha: (op, o, k) => optNumber(op, o, k, { min: 0, above: true }),
  minAlpha: (op, o, k) => optNumber(op, o, k, { min: 0 }),
  threads: (op, o, k) => optInt(op, o, k, { min: 1 }),
  seed: (op, o, k) => optSeed(op, o, k),
  maxSentenceLength: (op, o, k) => optInt(op, o, k, { min: 1 }),
  cbowMean: (op, o, k) => optBool(op, o, k),
  kernel: (op, o, k) => optEnum(op, o, k, ['fast', 'reference'] as const),
  cacheBytes: (op, o, k) => optInt(op, o, k, BIG),
  progressInterval: (op, o, k) => optNumber(op, o, k, { min: 0 }),
};
const JS_KEYS = new Set(['signal', 'onProgress']);

/** The native options (each checked), and the signal and progress callback. */
function checkOptions(options: unknown, op: string) {
  const o = checkOptionsObject(op, options);
  for (const k of Object.keys(o)) if (!(k in CHECKS) && !JS_KEYS.has(k)) throw new TypeError(`${op}: unknown option '${k}'`);
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${op}: option signal must be an AbortSignal, got ${typeName(signal)}`);
  const onProgress = optFunction<(p: Word2VecProgress) => void>(op, o, 'onProgress');
  const native: Record<string, unknown> = {};
  for (const [k, check] of Object.entries(CHECKS)) {
    const v = check(op, o, k);
    if (v !== undefined) native[k] = v;
  }
  return { native, signal: signal as AbortSignal | undefined, onProgress };
}

function checkPath(path: unknown, op: string): string {
  return checkFilePath(op, 'path', path);
}

function toWord(w: unknown, op: string): string {
  if (typeof w === 'string') return w;
  if (typeof w === 'number') return String(checkNumber(op, 'word', w));
  throw new TypeError(`${op}: a word must be a string (or a number for a token id), got ${describeValue(w)}`);
}

// Runs one training job (new model when `model` is null) with input from a file or an iterable.
async function runTraining(
  model: NativeModel | null,
  input: Word2VecInput,
  options: Word2VecOptions | undefined,
  op: string,
): Promise<NativeTrainResult> {
  const { native, signal, onProgress } = checkOptions(options, op);
  const iterable = checkInput(input, op);
  if (signal?.aborted) throw abortError(op);
  const progress = onProgress ? (p: Record<string, number>) => onProgress(p as unknown as Word2VecProgress) : undefined;
  const job = B.w2vTrain(model, iterable ? { feed: true } : { path: input as string }, native, progress);
  // Handled from the start: an abort rejects it while the feed is still running, long before the
  // awaits below reach it, and that must not count as an unhandled rejection.
  job.promise.catch(() => undefined);
  const onAbort = (): void => job.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (iterable) {
      const epochs = typeof native.epochs === 'number' ? native.epochs : (model ? B.w2vInfo(model).epochs : undefined) ?? 5;
      let feedError: unknown;
      let feedFailed = false;
      try {
        // The vocabulary (or word count) pass, then one pass per epoch.
        await feedPasses(job as NativeFeedJob<unknown>, iterable, epochs + 1, op, signal);
      } catch (e) {
        feedFailed = true;
        feedError = e;
        job.abort();
      }
      if (feedFailed) {
        await job.promise.catch(() => undefined);  // the native threads have stopped when this settles
        throw feedError;
      }
    }
    return await job.promise.catch((e: unknown) => {
      // The corpus reader's errors name the file, not the call.
      if (e instanceof QkvError && !e.message.startsWith(`${op}:`)) throw new QkvError(`${op}: ${e.message}`, e.code);
      throw e;
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * word2vec (Mikolov et al. 2013): CBOW and skip-gram with negative sampling and/or hierarchical
 * softmax, trained natively on `threads` threads. See docs/word2vec.md.
 *
 * ```ts
 * const model = await Word2Vec.train('corpus.txt', { dim: 100, window: 5, epochs: 5, onProgress: (p) => log(p) });
 * model.mostSimilar('king', { topN: 5 });      // [{ word, similarity }, ...]
 * await model.save('vectors.bin', { format: 'word2vec-binary' });
 * ```
 */
export class Word2Vec {
  #h: NativeModel | null;
  #calls = new CallQueue();
  #vocab: readonly Word2VecVocabEntry[] | undefined;
  #info: ReturnType<typeof B.w2vInfo> | undefined;
  #last: Word2VecTrainResult | undefined;

  private constructor(handle: NativeModel) {
    this.#h = handle;
  }

  /**
   * Builds the vocabulary from `input` (one pass) and trains a new model (`epochs` passes). Rejects
   * with TypeError/RangeError for bad arguments, QkvError ERR_IO when the file cannot be read,
   * ERR_FORMAT for a corpus file that is not UTF-8, ERR_ABORTED when `signal` aborts.
   */
  static async train(input: Word2VecInput, options?: Word2VecOptions): Promise<Word2Vec> {
    const r = await runTraining(null, input, options, 'Word2Vec.train');
    if (!r.model) throw new QkvError('Word2Vec.train: no model was built', 'ERR_INTERNAL');
    const m = new Word2Vec(r.model);
    m.#last = stats(r);
    return m;
  }

  /**
   * Loads a model: Google's word2vec text or binary format (as written by word2vec.c and gensim;
   * vectors only) or qkv's own safetensors file (vectors, output weights, counts and settings: it can
   * continue training). The format is detected unless given. Malformed files reject with QkvError
   * ERR_FORMAT naming the problem.
   */
  static async load(path: string, options: { format?: Word2VecFormat | 'auto' } = {}): Promise<Word2Vec> {
    const op = 'Word2Vec.load';
    checkPath(path, op);
    const format = optEnum(op, checkOptionsObject(op, options), 'format', ['word2vec-text', 'word2vec-binary', 'qkv', 'auto'] as const) ?? 'auto';
    const r = await B.w2vLoad(path, format);
    return new Word2Vec(r.model);
  }

  #handle(op: string): NativeModel {
    if (!this.#h) throw new QkvError(`${op}: the model has been disposed`, 'ERR_DISPOSED');
    return this.#h;
  }

  // Async operations on one model run in order, never concurrently (the call queue of src/jobs.ts).
  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    return this.#calls.enqueue(fn);
  }

  #infoOf(op: string) {
    return (this.#info ??= B.w2vInfo(this.#handle(op)));
  }

  #index(word: unknown, op: string): number {
    const w = toWord(word, op);
    return B.w2vIndex(this.#handle(op), w);
  }

  #known(word: unknown, op: string): number {
    const i = this.#index(word, op);
    if (i < 0) throw new RangeError(`${op}: '${toWord(word, op)}' is not in the vocabulary`);
    return i;
  }

  /** Number of words. */
  get size(): number {
    return this.#infoOf('Word2Vec.size').size;
  }

  /** Vector dimensions. */
  get dim(): number {
    return this.#infoOf('Word2Vec.dim').dim;
  }

  /** The model's fixed settings and counters. */
  get config(): {
    dim: number;
    negative: number;
    hs: boolean;
    minCount: number;
    maxVocabSize: number;
    nsExponent: number;
    trainable: boolean;
    corpusWords: number;
    trainedWords: number;
  } {
    const i = B.w2vInfo(this.#handle('Word2Vec.config'));
    return {
      dim: i.dim,
      negative: i.negative,
      hs: i.hs,
      minCount: i.minCount,
      maxVocabSize: i.maxVocabSize,
      nsExponent: i.nsExponent,
      trainable: i.trainable,
      corpusWords: i.corpusWords,
      trainedWords: i.trainedWords,
    };
  }

  /** The words with their counts, in index order (most frequent first). */
  get vocab(): readonly Word2VecVocabEntry[] {
    if (!this.#vocab) {
      const h = this.#handle('Word2Vec.vocab');
      const words = B.w2vWords(h);
      const counts = B.w2vCounts(h);
      this.#vocab = Object.freeze(words.map((word, i) => Object.freeze({ word, count: counts[i] })));
    }
    return this.#vocab;
  }

  /** Statistics of the last training run on this object. */
  get lastTraining(): Word2VecTrainResult | undefined {
    return this.#last;
  }

  get disposed(): boolean {
    return this.#h === null;
  }

  has(word: Word2VecWord): boolean {
    return this.#index(word, 'Word2Vec.has') >= 0;
  }

  /** Index of a word (its rank by frequency), or -1. */
  indexOf(word: Word2VecWord): number {
    return this.#index(word, 'Word2Vec.indexOf');
  }

  /** A copy of the word's vector, or undefined for an unknown word. */
  vector(word: Word2VecWord): Float32Array | undefined {
    const op = 'Word2Vec.vector';
    const i = this.#index(word, op);
    return i < 0 ? undefined : B.w2vVector(this.#handle(op), i);
  }

  /**
   * The words most similar by cosine: to one word, to a vector, or to the mean of `positive` unit
   * vectors minus `negative` ones (3CosAdd, gensim's most_similar). Query words are excluded.
   * Unknown words throw RangeError.
   */
  mostSimilar(query: Word2VecWord | Float32Array | Word2VecQuery, options: MostSimilarOptions = {}): SimilarWord[] {
    const op = 'Word2Vec.mostSimilar';
    const { topN, restrict } = this.#queryOptions(options, op);
    const h = this.#handle(op);
    checkNotDetached(op, 'query', query);
    if (query instanceof Float32Array) return B.w2vMostSimilarVector(h, query, topN, restrict);
    const { pos, neg } = this.#query(query, op);
    return B.w2vMostSimilar(h, pos, neg, topN, restrict, false);
  }

  /**
   * mostSimilar on a worker thread, for large vocabularies: a synchronous query costs about 0.03 µs
   * per word × 100 dims (0.3 ms for 15,000 words, 4 ms for 100,000, 50 ms for a million here), and
   * that much should not block the event loop.
   */
  mostSimilarAsync(query: Word2VecWord | Float32Array | Word2VecQuery, options: MostSimilarOptions = {}): Promise<SimilarWord[]> {
    const op = 'Word2Vec.mostSimilarAsync';
    try {
      const { topN, restrict } = this.#queryOptions(options, op);
      this.#handle(op);
      checkNotDetached(op, 'query', query);
      if (query instanceof Float32Array) {
        const v = Float32Array.from(query);
        return this.#enqueue(() => B.w2vMostSimilarVector(this.#handle(op), v, topN, restrict, true));
      }
      const { pos, neg } = this.#query(query, op);
      return this.#enqueue(() => B.w2vMostSimilar(this.#handle(op), pos, neg, topN, restrict, false, true));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Like mostSimilar, with Levy & Goldberg's multiplicative combination (3CosMul, gensim's most_similar_cosmul). */
  mostSimilarCosmul(query: Word2VecWord | Word2VecQuery, options: MostSimilarOptions = {}): SimilarWord[] {
    const op = 'Word2Vec.mostSimilarCosmul';
    const { topN, restrict } = this.#queryOptions(options, op);
    const { pos, neg } = this.#query(query, op);
    return B.w2vMostSimilar(this.#handle(op), pos, neg, topN, restrict, true);
  }

  /** Cosine similarity of two words. */
  similarity(a: Word2VecWord, b: Word2VecWord): number {
    const op = 'Word2Vec.similarity';
    return B.w2vSimilarity(this.#handle(op), this.#known(a, op), this.#known(b, op));
  }

  /** The word that fits least: the one furthest from the mean of the words' unit vectors. Unknown words are ignored. */
  doesntMatch(words: readonly Word2VecWord[]): string {
    const op = 'Word2Vec.doesntMatch';
    if (!Array.isArray(words)) throw new TypeError(`${op}: words must be an array, got ${describeValue(words)}`);
    const idx = words.map((w) => this.#index(w, op)).filter((i) => i >= 0);
    if (idx.length === 0) throw new RangeError(`${op}: none of the words is in the vocabulary`);
    return this.vocab[B.w2vDoesntMatch(this.#handle(op), idx)].word;
  }

  /**
   * "a is to b as c is to ?": the word closest to b − a + c (3CosAdd), other than a, b and c; with
   * topN, the best topN as { word, similarity }.
   * `analogy('man', 'king', 'woman')` → 'queen' on a good model.
   */
  analogy(a: Word2VecWord, b: Word2VecWord, c: Word2VecWord): string;
  analogy(a: Word2VecWord, b: Word2VecWord, c: Word2VecWord, options: MostSimilarOptions): SimilarWord[];
  analogy(a: Word2VecWord, b: Word2VecWord, c: Word2VecWord, options?: MostSimilarOptions): string | SimilarWord[] {
    const op = 'Word2Vec.analogy';
    const o = checkOptionsObject(op, options);
    const r = this.mostSimilar({ positive: [b, c], negative: [a] }, { topN: o.topN ?? 1, restrictVocab: o.restrictVocab } as MostSimilarOptions);
    if (options !== undefined && options !== null) return r;
    if (r.length === 0) throw new RangeError(`${op}: the vocabulary has no other word`);
    return r[0].word;
  }

  /**
   * Correlation of the model's similarities with human judgements: a tab-separated file
   * (WordSim-353 as gensim ships it: `word1<TAB>word2<TAB>score`, `#` comments) or [word1, word2, score] pairs.
   * Pairs with an unknown word are skipped and counted in `oov`. gensim's evaluate_word_pairs rules.
   */
  evaluateWordPairs(pathOrPairs: string | readonly (readonly [string, string, number])[], options: Word2VecEvaluateOptions = {}): Promise<WordPairsResult> {
    const op = 'Word2Vec.evaluateWordPairs';
    const { restrict, ci } = this.#evalOptions(options, op);
    if (typeof pathOrPairs !== 'string' && !Array.isArray(pathOrPairs))
      return Promise.reject(new TypeError(`${op}: expected a file path or an array of [word1, word2, score], got ${describeValue(pathOrPairs)}`));
    // A fresh copy: the native side reads it on the main thread, and must not run the caller's getters.
    const input = typeof pathOrPairs === 'string' ? checkPath(pathOrPairs, op) : checkArray(op, 'pairs', pathOrPairs, (p, name): [string, string, number] => {
      if (!Array.isArray(p) || p.length !== 3) throw new TypeError(`${op}: ${name} must be [word1, word2, score], got ${typeName(p)}`);
      return [checkString(op, `${name}[0]`, p[0]), checkString(op, `${name}[1]`, p[1]), checkNumber(op, `${name}[2]`, p[2])];
    });
    return this.#enqueue(async () => {
      const r = await B.w2vEvaluateWordPairs(this.#handle(op), input, restrict, ci);
      const total = r.pairs + r.oovPairs;
      return { pearson: r.pearson, spearman: r.spearman, oov: total ? r.oovPairs / total : 0, pairs: r.pairs };
    });
  }

  /**
   * Analogy accuracy: word2vec's questions-words.txt (`: section` lines, then `a b c d`) or
   * [a, b, c, d] (or [a, b, c, d, section]) questions. A question counts when all four words are
   * among the first `restrictVocab`; it is right when d is the best word other than a, b, c.
   */
  evaluateAnalogies(pathOrQuestions: string | readonly (readonly string[])[], options: Word2VecEvaluateOptions = {}): Promise<AnalogiesResult> {
    const op = 'Word2Vec.evaluateAnalogies';
    const { restrict, ci } = this.#evalOptions(options, op);
    if (typeof pathOrQuestions !== 'string' && !Array.isArray(pathOrQuestions))
      return Promise.reject(new TypeError(`${op}: expected a file path or an array of [a, b, c, d] questions, got ${describeValue(pathOrQuestions)}`));
    const input = typeof pathOrQuestions === 'string' ? checkPath(pathOrQuestions, op) : checkArray(op, 'questions', pathOrQuestions, (q, name) => {
      if (!Array.isArray(q) || (q.length !== 4 && q.length !== 5)) throw new TypeError(`${op}: ${name} must be [a, b, c, d] or [a, b, c, d, section], got ${typeName(q)}`);
      return checkArray(op, name, q, (w, n) => checkString(op, n, w));
    });
    return this.#enqueue(() => B.w2vEvaluateAnalogies(this.#handle(op), input, restrict, ci));
  }

  /**
   * Writes the model atomically (temporary file, fsync, rename). 'word2vec-text' and
   * 'word2vec-binary' are Google's formats (vectors only; gensim's load_word2vec_format reads them);
   * 'qkv' (the default) is a safetensors file with everything needed to continue training.
   */
  save(path: string, options: { format?: Word2VecFormat } = {}): Promise<void> {
    const op = 'Word2Vec.save';
    let format: Word2VecFormat;
    try {
      checkPath(path, op);
      format = optEnum(op, checkOptionsObject(op, options), 'format', ['word2vec-text', 'word2vec-binary', 'qkv'] as const) ?? 'qkv';
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#enqueue(() => B.w2vSave(this.#handle(op), path, format));
  }

  /**
   * Continues training on more input with the same vocabulary (words not in it are ignored). The
   * model must have been trained here or loaded from a 'qkv' file. Settings default to the last
   * run's; dim, negative, hs, minCount and maxVocabSize cannot change.
   */
  train(input: Word2VecInput, options?: Word2VecTrainOptions): Promise<Word2VecTrainResult> {
    const op = 'Word2Vec.train';
    return this.#enqueue(async () => {
      const r = await runTraining(this.#handle(op), input, options, op);
      this.#info = undefined;
      this.#last = stats(r);
      return this.#last;
    });
  }

  /** Waits for running work on this model, then frees its memory. Later calls throw QkvError ERR_DISPOSED. */
  dispose(): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#h) B.w2vDispose(this.#h);
      this.#h = null;
      this.#vocab = undefined;
      this.#info = undefined;
    });
  }

  /** `await using model = ...` disposes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #queryOptions(options: MostSimilarOptions, op: string): { topN: number; restrict: number } {
    const o = checkOptionsObject(op, options);
    return { topN: optInt(op, o, 'topN', BIG) ?? 10, restrict: optInt(op, o, 'restrictVocab', BIG) ?? 0 };
  }

  #evalOptions(options: Word2VecEvaluateOptions, op: string): { restrict: number; ci: boolean } {
    const o = checkOptionsObject(op, options);
    return { restrict: optInt(op, o, 'restrictVocab', BIG) ?? 300000, ci: optBool(op, o, 'caseInsensitive') ?? true };
  }

  #query(query: unknown, op: string): { pos: number[]; neg: number[] } {
    if (typeof query === 'string' || typeof query === 'number') return { pos: [this.#known(query, op)], neg: [] };
    const q = checkObject(op, 'query', query, 'a word, a Float32Array or { positive, negative }');
    const list = (v: unknown, name: string): number[] => v === undefined ? [] : checkArray(op, name, v, (w) => this.#known(w, op), { what: 'an array of words' });
    const pos = list(q.positive, 'positive');
    const neg = list(q.negative, 'negative');
    if (pos.length + neg.length === 0) throw new RangeError(`${op}: the query has no words`);
    return { pos, neg };
  }
}

function stats(r: NativeTrainResult): Word2VecTrainResult {
  return {
    words: r.words,
    effectiveWords: r.effectiveWords,
    seconds: r.seconds,
    wordsPerSec: r.wordsPerSec,
    loss: r.loss,
    vocabSeconds: r.vocabSeconds,
  };
}
