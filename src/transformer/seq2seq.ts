// Seq2Seq: the encoder–decoder transformer (Vaswani et al. 2017). Training (teacher forcing,
// resumable), greedy and beam-search decoding (with n-best lists), scoring and evaluation run
// natively on a worker thread; the weights, the config, the vocabularies and, when asked for, the
// optimizer state live in one safetensors file.
import { QkvError } from '../errors';
import { Tensor, handle } from '../tensor';
import { StreamDecoder } from '../text/stream';
import { padBatch, vocabFromJSON, type Vocabulary } from '../text/vocab';
import { checkInt, layerConfig, lengthsArg, type LayerConfig, type Positional } from './base';
import { checkSignal, runJob, sequenceTensors, startTask, taskValue } from '../jobs';
import { tb, type NativeHypothesis, type NativeModule, type NativeOptimizer } from './native';
import { TrainableModule, loadCheckpoint } from './trainable';
import { nativeTrainOptions, progressCallback, type TrainOptions } from './training';
import type { EvalResult, TrainResult } from '../training';

export interface Seq2SeqOptions extends LayerConfig {
  /** One vocabulary for both sides (embeddings then shared unless shareEmbeddings is false). */
  vocab?: Vocabulary;
  sourceVocab?: Vocabulary;
  targetVocab?: Vocabulary;
  /** Encoder layers (default 2). */
  encoderLayers?: number;
  /** Decoder layers (default 2). */
  decoderLayers?: number;
  /** Longest source or target in tokens, specials included (default 128). Longer sources are cut. */
  maxLength?: number;
  positional?: Positional;
  /** Output projection tied to the target embedding (default true). */
  tieOutput?: boolean;
  /** One embedding table for both sides (default: when one vocabulary serves both). */
  shareEmbeddings?: boolean;
}

/** A training pair: { source, target } or [source, target]. */
export type TextPair = { source: string; target: string } | readonly [string, string];

export interface TranslateOptions {
  /** 1 = greedy (default). */
  beamSize?: number;
  /**
   * Draw each token from the model's distribution (after temperature, topK and topP) instead of
   * taking the most likely one; with beamSize 1. On when temperature, topK or topP is given.
   */
  sample?: boolean;
  /** Sampling: logits divided by the temperature (default 1); 0 takes the most likely token. */
  temperature?: number;
  /** Sampling: only the k most likely tokens (default 0: all). */
  topK?: number;
  /** Sampling: only the smallest set of most likely tokens with probability ≥ topP (default 1). */
  topP?: number;
  /**
   * Hugging Face's repetition penalty (default 1: none): the logits of tokens already in the output
   * (<bos> included) are divided by it when positive, multiplied by it when negative. Any strategy.
   */
  repetitionPenalty?: number;
  /** Tokens that end an output as <eos> does (target-vocabulary tokens or ids); not part of the text. */
  stopTokens?: readonly (string | number)[];
  /** Most tokens generated, the stop token included; the same as maxLength (which it overrides). */
  maxNewTokens?: number;
  /** Sampling seed (default 0): one seed gives the same outputs, whatever the batch. */
  seed?: number;
  /** Beam scores are sum(log p) / length^lengthPenalty (default 1). */
  lengthPenalty?: number;
  /** Most tokens generated, <eos> included (default: the model's maxLength). */
  maxLength?: number;
  /** Inputs decoded together (default 64). */
  batchSize?: number;
  /** Return the cross-attention weights of each output (true: last layer, mean over heads); of the best one with numReturn. */
  attention?: boolean | { layer?: number; head?: number | 'mean' };
  /**
   * n-best (Hugging Face's num_return_sequences): an integer in [1, beamSize]. Given, each result
   * carries `alternatives`, the best numReturn distinct outputs by score, the first of them the
   * result itself.
   */
  numReturn?: number;
  signal?: AbortSignal;
}

/** Options that ask for n-best lists. */
export type NBestTranslateOptions = TranslateOptions & { numReturn: number };

export interface CrossAttention {
  /** rows = targetTokens, cols = sourceTokens; each row sums to 1. */
  weights: number[][];
  sourceTokens: string[];
  targetTokens: string[];
  /** Every layer and head: [layers, heads, rows, cols]. */
  all: Tensor;
}

export interface Translation {
  input: string;
  text: string;
  tokens: string[];
  ids: number[];
  /** Length-normalised for beams; the log-probability for greedy decoding. */
  score: number;
  logProb: number;
  /** Ended with <eos> or a stop token (false: stopped at maxLength). */
  finished: boolean;
  /** The token that ended it (<eos> or one of stopTokens), when finished. */
  stopToken?: string;
  attention?: CrossAttention;
  /** With numReturn: the n-best list, best first (see {@link NBestTranslation}). */
  alternatives?: Translation[];
}

/**
 * A result of translate(..., { numReturn }): the best output, and in `alternatives` the best
 * numReturn distinct outputs sorted by score (non-increasing), alternatives[0] being the best
 * output again (without `alternatives`). Fewer than numReturn only where the beams cannot fill (a
 * tiny vocabulary with a tiny maxLength).
 */
export interface NBestTranslation extends Translation {
  alternatives: Translation[];
}

export interface Seq2SeqFitOptions extends TrainOptions {
  /** Pairs for the teacher-forced validation loss and token accuracy at each epoch end. */
  validation?: readonly TextPair[];
}

const FROM_NATIVE = Symbol('fromNative');
type Internal = { [FROM_NATIVE]: { module: NativeModule; sourceVocab: Vocabulary; targetVocab: Vocabulary; optimizer?: NativeOptimizer } };

function pairArray(pairs: unknown, op: string): { sources: string[]; targets: string[] } {
  if (!Array.isArray(pairs) || pairs.length === 0) throw new TypeError(`${op}: pairs must be a non-empty array of { source, target } or [source, target]`);
  const sources: string[] = [], targets: string[] = [];
  for (const p of pairs) {
    const [s, t] = Array.isArray(p) ? p : [(p as { source: unknown })?.source, (p as { target: unknown })?.target];
    if (typeof s !== 'string' || typeof t !== 'string') throw new TypeError(`${op}: each pair needs a source and a target string`);
    sources.push(s);
    targets.push(t);
  }
  return { sources, targets };
}

// numReturn: an integer in [1, beamSize], or [1, 64] samples (RangeError otherwise, TypeError for a non-number).
function numReturnArg(v: unknown, beamSize: number, sample: boolean, op: string): number {
  const bound = sample ? 'samples 64' : `beamSize ${beamSize}`, max = sample ? 64 : beamSize;
  if (typeof v !== 'number') throw new TypeError(`${op}: numReturn must be an integer in [1, ${bound}]`);
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`${op}: numReturn must be an integer in [1, ${bound}], got ${v}`);
  return v;
}

function finiteArg(v: unknown, fallback: number, op: string, name: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${op}: ${name} must be a finite number`);
  return v;
}

/** A token streamed by translateStream(). */
export interface TranslationToken {
  /** The token's id in the target vocabulary. */
  id: number;
  /** Its text as the vocabulary spells it. */
  token: string;
  /** The text that became final with it (StreamDecoder: never half a character; '' for a stop token). */
  text: string;
  /** Which input (for a list of inputs) and which sample (with numReturn). */
  input: number;
  sample: number;
  /** True for the token that ended the output (<eos> or a stop token). */
  stop: boolean;
}

/**
 * An encoder–decoder transformer for sequence-to-sequence tasks (normalisation, transliteration,
 * translation): `await model.fit(pairs)`, then `await model.translate(texts)`.
 */
/** The special ids a Seq2Seq takes from its tokenizers: padding (one id on both sides), <bos> and <eos> of the targets. */
function specialIdsOf(source: Vocabulary, target: Vocabulary, op: string): { padId: number; bosId: number; eosId: number } {
  const { padId, bosId, eosId } = target;
  if (padId === undefined || bosId === undefined || eosId === undefined)
    throw new RangeError(`${op}: the target vocabulary needs pad, bos and eos special tokens`);
  if (source.padId !== padId) throw new RangeError(`${op}: the source and target vocabularies must pad with one id (${source.padId} and ${padId})`);
  if (source.eosId === undefined) throw new RangeError(`${op}: the source vocabulary needs an eos special token`);
  return { padId, bosId, eosId };
}

export class Seq2Seq extends TrainableModule {
  readonly sourceVocab: Vocabulary;
  readonly targetVocab: Vocabulary;
  /** Longest sequence in tokens. */
  readonly maxLength: number;

  /** The special ids the model was built with (its config's, which come from the tokenizers). */
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;

  constructor(options: Seq2SeqOptions) {
    const op = 'Seq2Seq';
    const internal = (options as unknown as Internal)?.[FROM_NATIVE];
    if (internal) {
      super(internal.module, internal.optimizer);
      this.sourceVocab = internal.sourceVocab;
      this.targetVocab = internal.targetVocab;
      const c = this.config;
      this.maxLength = Number(c.maxLength);
      [this.padId, this.bosId, this.eosId] = [Number(c.padId), Number(c.bosId), Number(c.eosId)];
      return;
    }
    if (!options || typeof options !== 'object') throw new TypeError(`${op}: options must be an object`);
    const sourceVocab = options.sourceVocab ?? options.vocab;
    const targetVocab = options.targetVocab ?? options.vocab;
    if (!sourceVocab || !targetVocab) throw new TypeError(`${op}: needs a vocab (or sourceVocab and targetVocab)`);
    const maxLength = checkInt(options.maxLength ?? 128, op, 'maxLength', 2);
    const positional = options.positional ?? 'sinusoidal';
    if (positional !== 'sinusoidal' && positional !== 'learned') throw new TypeError(`${op}: positional must be 'sinusoidal' or 'learned'`);
    const share = options.shareEmbeddings ?? sourceVocab === targetVocab;
    if (share && sourceVocab.size !== targetVocab.size) throw new RangeError(`${op}: shared embeddings need vocabularies of one size`);
    const { padId, bosId, eosId } = specialIdsOf(sourceVocab, targetVocab, op);
    super(
      tb.tfCreate(
        JSON.stringify({
          type: 'Seq2Seq',
          srcVocab: sourceVocab.size,
          tgtVocab: targetVocab.size,
          maxLength,
          encoderLayers: checkInt(options.encoderLayers ?? 2, op, 'encoderLayers', 1),
          decoderLayers: checkInt(options.decoderLayers ?? 2, op, 'decoderLayers', 1),
          ...layerConfig(options, op, { dim: 128, heads: 4 }),
          positional,
          shareEmbeddings: share,
          tieOutput: options.tieOutput ?? true,
          padId,
          bosId,
          eosId,
        }),
      ),
    );
    this.sourceVocab = sourceVocab;
    this.targetVocab = targetVocab;
    this.maxLength = maxLength;
    [this.padId, this.bosId, this.eosId] = [padId, bosId, eosId];
  }

  /** Loads a model saved with save(): weights, config, vocabularies and the optimizer state if saved. */
  static async load(path: string): Promise<Seq2Seq> {
    const { module, metadata, optimizer } = await loadCheckpoint(path, 'Seq2Seq.load');
    if (tb.nnType(module) !== 'Seq2Seq' || !metadata['vocab.source'] || !metadata['vocab.target']) {
      tb.nnDispose(module);
      throw new QkvError(`Seq2Seq.load: ${path} does not hold a Seq2Seq with its vocabularies`, 'ERR_FORMAT');
    }
    const internal: Internal = {
      [FROM_NATIVE]: {
        module,
        sourceVocab: vocabFromJSON(metadata['vocab.source']),
        targetVocab: vocabFromJSON(metadata['vocab.target']),
        optimizer,
      },
    };
    return new Seq2Seq(internal as unknown as Seq2SeqOptions);
  }

  /**
   * save() writes both vocabularies with the weights and config; with { optimizer: true } also
   * the optimizer state that fit() left, to resume training after load().
   */
  protected override checkpointMetadata(): Record<string, string> {
    return {
      'vocab.source': JSON.stringify(this.sourceVocab.toJSON()),
      'vocab.target': JSON.stringify(this.targetVocab.toJSON()),
    };
  }

  /** Source ids: the tokens and <eos>, cut to maxLength. */
  encodeSources(texts: readonly string[]) {
    return padBatch(texts.map((t) => this.sourceVocab.encode(t, { eos: true, maxLength: this.maxLength })), 'Seq2Seq', this.padId);
  }

  /** Target ids: <bos>, the tokens, <eos>. RangeError for a target longer than maxLength. */
  encodeTargets(texts: readonly string[]) {
    return padBatch(
      texts.map((t) => {
        const ids = this.targetVocab.encode(t, { bos: true, eos: true });
        if (ids.length > this.maxLength + 1)
          throw new RangeError(`Seq2Seq: the target ${JSON.stringify(t.slice(0, 40))} has ${ids.length - 1} tokens with <eos>, over maxLength ${this.maxLength}`);
        return ids;
      }),
      'Seq2Seq',
      this.padId,
    );
  }

  /**
   * Trains with teacher forcing (cross-entropy of each next target token), natively on a worker
   * thread: AdamW, warm-up then cosine decay, gradient clipping. Each call runs a fresh AdamW and
   * its own schedule, or with { resume: true } continues the last one (see TrainOptions.resume).
   * Rejects with QkvError ERR_ABORTED when the signal fires, ERR_NAN when the loss diverges.
   */
  fit(pairs: readonly TextPair[], options: Seq2SeqFitOptions = {}): Promise<TrainResult> {
    const op = 'Seq2Seq.fit';
    const { sources, targets } = pairArray(pairs, op);
    const { native, signal, onProgress, resume } = nativeTrainOptions(options as Seq2SeqFitOptions & Record<string, unknown>, op);
    const src = this.encodeSources(sources), tgt = this.encodeTargets(targets);
    let vs = null, vt = null;
    if (options.validation !== undefined) {
      const v = pairArray(options.validation, `${op}: validation`);
      vs = this.encodeSources(v.sources);
      vt = this.encodeTargets(v.targets);
    }
    const tensors = [...sequenceTensors('src', src), ...sequenceTensors('tgt', tgt)];
    if (vs && vt) tensors.push(...sequenceTensors('valSrc', vs), ...sequenceTensors('valTgt', vt));
    return this.fitJob(op, signal, resume, { options: native, tensors, onProgress: progressCallback(onProgress) });
  }

  /** Teacher-forced mean loss and token accuracy over pairs (eval mode). */
  evaluate(pairs: readonly TextPair[], options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<EvalResult> {
    const op = 'Seq2Seq.evaluate';
    const { sources, targets } = pairArray(pairs, op);
    const src = this.encodeSources(sources), tgt = this.encodeTargets(targets);
    const signal = checkSignal(options.signal, op);
    const batchSize = checkInt(options.batchSize ?? 128, op, 'batchSize', 1);
    const tensors = [...sequenceTensors('src', src), ...sequenceTensors('tgt', tgt)];
    return this.enqueue((m) => taskValue(op, signal, () => startTask<EvalResult>(m, 'evaluate', { options: { batchSize }, tensors })));
  }

  /**
   * The model's own teacher-forced log-probability of each target given its source (eval mode), to
   * rerank candidates: logProb sums log p over the target tokens and <eos>, length counts them, and
   * score = logProb / length^lengthPenalty (default 1), the score beam search gives a finished output.
   */
  score(pairs: readonly TextPair[], options: { lengthPenalty?: number; batchSize?: number; signal?: AbortSignal } = {}):
    Promise<{ logProb: number; length: number; score: number }[]> {
    const op = 'Seq2Seq.score';
    const { sources, targets } = pairArray(pairs, op);
    const src = this.encodeSources(sources), tgt = this.encodeTargets(targets);
    const signal = checkSignal(options.signal, op);
    const batchSize = checkInt(options.batchSize ?? 64, op, 'batchSize', 1);
    const penalty = options.lengthPenalty ?? 1;
    if (typeof penalty !== 'number' || !Number.isFinite(penalty)) throw new TypeError(`${op}: lengthPenalty must be a finite number`);
    return this.enqueue(async (m) => {
      const tensors = [...sequenceTensors('src', src), ...sequenceTensors('tgt', tgt)];
      const r = await runJob(op, signal, () => startTask(m, 'score', { options: { batchSize }, tensors }));
      const scores = new Tensor(r.tensors.get('output')!);
      const logProbs = scores.toTypedArray();
      scores.dispose();
      return Array.from(logProbs, (logProb, i) => {
        const length = tgt.lengths[i] - 1;
        return { logProb, length, score: logProb / length ** penalty };
      });
    });
  }

  /**
   * Decodes inputs (greedy by default, or beam search), natively on a worker thread. With
   * `numReturn`, each result also holds its n-best list in `alternatives`.
   */
  translate(input: string, options: NBestTranslateOptions): Promise<NBestTranslation>;
  translate(inputs: readonly string[], options: NBestTranslateOptions): Promise<NBestTranslation[]>;
  translate(input: string, options?: TranslateOptions): Promise<Translation>;
  translate(inputs: readonly string[], options?: TranslateOptions): Promise<Translation[]>;
  translate(inputs: string | readonly string[], options: TranslateOptions = {}): Promise<Translation | Translation[]> {
    const { list, single, native, src, signal, att } = this.translateArgs(inputs, options, 'Seq2Seq.translate');
    const nBest = options.numReturn !== undefined;
    const attLayer = typeof att === 'object' && att.layer !== undefined ? checkInt(att.layer, 'Seq2Seq.translate', 'attention.layer') : -1;
    const attHead = typeof att === 'object' && att.head !== undefined && att.head !== 'mean' ? checkInt(att.head, 'Seq2Seq.translate', 'attention.head') : -1;
    return this.enqueue(async (m) => {
      const r = await runJob('Seq2Seq.translate', signal, () => startTask<NativeHypothesis[][]>(m, 'translate', { options: native, tensors: sequenceTensors('src', src) }));
      const out = r.value.map((hyps, i): Translation => {
        const ranked = hyps.map((h) => this.translation(list[i], h));
        const best = ranked[0];
        const attention = r.tensors.get(`attention.${i}.0`);
        if (attention)
          best.attention = this.crossAttention(new Tensor(attention), src.ids.subarray(i * src.cols, i * src.cols + src.lengths[i]), best, attLayer, attHead);
        return nBest ? { ...best, alternatives: ranked } : best;
      });
      return single ? out[0] : out;
    });
  }

  /**
   * The tokens of translate(inputs, options) as they are produced, with their text (UTF-8 safe,
   * through a StreamDecoder per output): the same tokens as translate() gives, in order per output,
   * the stop token last. Greedy and sampled outputs stream step by step; a beam search streams its
   * best output once that input is done. Breaking out of the loop aborts the decoding.
   */
  translateStream(inputs: string | readonly string[], options: TranslateOptions = {}): AsyncIterable<TranslationToken> {
    const op = 'Seq2Seq.translateStream';
    if (options.attention) throw new TypeError(`${op}: attention is not streamed; use translate()`);
    const { native, src, signal } = this.translateArgs(inputs, options, op);
    const vocab = this.targetVocab;
    const stops = new Set(this.stopIds(options.stopTokens, op));
    return {
      [Symbol.asyncIterator]: () => {
        const queue: TranslationToken[] = [];
        const decoders = new Map<string, StreamDecoder>();
        let wake: (() => void) | undefined;
        let finished = false, cancelled = false, failure: unknown;
        let abort: (() => void) | undefined;
        const notify = () => {
          wake?.();
          wake = undefined;
        };
        const onToken = ([input, sample, id]: [number, number, number]) => {
          const key = `${input}:${sample}`;
          let d = decoders.get(key);
          if (!d) decoders.set(key, (d = new StreamDecoder(vocab)));
          const stop = stops.has(id);
          const text = stop ? d.flush() : d.push(id);
          queue.push({ id, token: vocab.token(id), text, input, sample, stop });
          notify();
        };
        const done = this.enqueue(async (m) => {
          await runJob(op, signal, () => {
            const job = startTask(m, 'translate', { options: native, tensors: sequenceTensors('src', src), onItem: (item) => onToken(item as [number, number, number]) });
            abort = () => job.abort();
            if (cancelled) abort();
            return job;
          });
        }).then(
          () => { finished = true; notify(); },
          (e) => { failure = e; finished = true; notify(); },
        );
        void done;
        return {
          async next(): Promise<IteratorResult<TranslationToken>> {
            for (;;) {
              if (queue.length) return { value: queue.shift()!, done: false };
              if (finished) {
                if (failure !== undefined) {
                  const e = failure;
                  failure = undefined;
                  throw e;
                }
                return { value: undefined, done: true };
              }
              await new Promise<void>((r) => (wake = r));
            }
          },
          async return(): Promise<IteratorResult<TranslationToken>> {
            cancelled = true;
            if (!finished) abort?.();
            queue.length = 0;
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  private stopIds(stopTokens: unknown, op: string): number[] {
    const ids = [this.eosId];
    if (stopTokens === undefined) return ids;
    if (!Array.isArray(stopTokens)) throw new TypeError(`${op}: stopTokens must be an array of tokens or ids`);
    for (const t of stopTokens) {
      if (typeof t === 'string') ids.push(this.targetVocab.id(t));
      else if (typeof t === 'number' && Number.isInteger(t) && t >= 0 && t < this.targetVocab.size) ids.push(t);
      else throw new RangeError(`${op}: stop token ${String(t)} is neither a token nor an id of the target vocabulary`);
    }
    return ids;
  }

  private translateArgs(inputs: string | readonly string[], options: TranslateOptions, op: string) {
    const single = typeof inputs === 'string';
    const list = single ? [inputs] : inputs;
    if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string'))
      throw new TypeError(`${op}: inputs must be a string or a non-empty array of strings`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${op}: options must be an object`);
    const signal = checkSignal(options.signal, op);
    const att = options.attention;
    const beamSize = checkInt(options.beamSize ?? 1, op, 'beamSize', 1);
    if (options.sample !== undefined && typeof options.sample !== 'boolean') throw new TypeError(`${op}: sample must be a boolean`);
    const sample = options.sample ?? (options.temperature !== undefined || options.topK !== undefined || options.topP !== undefined);
    const numReturn = options.numReturn !== undefined ? numReturnArg(options.numReturn, beamSize, sample, op) : 1;
    const maxLength = options.maxNewTokens !== undefined ? checkInt(options.maxNewTokens, op, 'maxNewTokens', 1)
      : checkInt(options.maxLength ?? this.maxLength, op, 'maxLength', 1);
    const native = {
      beamSize,
      numReturn,
      lengthPenalty: finiteArg(options.lengthPenalty, 1, op, 'lengthPenalty'),
      maxLength,
      batchSize: checkInt(options.batchSize ?? 64, op, 'batchSize', 1),
      attention: !!att,
      sample,
      temperature: finiteArg(options.temperature, 1, op, 'temperature'),
      topK: checkInt(options.topK ?? 0, op, 'topK', 0),
      topP: finiteArg(options.topP, 1, op, 'topP'),
      repetitionPenalty: finiteArg(options.repetitionPenalty, 1, op, 'repetitionPenalty'),
      stopTokens: this.stopIds(options.stopTokens, op).slice(1),
      seed: checkInt(options.seed ?? 0, op, 'seed', 0),
    };
    return { list, single, native, src: this.encodeSources(list), signal, att };
  }

  private translation(input: string, h: NativeHypothesis): Translation {
    const ids = Array.from(h.ids);
    return {
      input,
      text: this.targetVocab.decode(ids),
      tokens: ids.map((id) => this.targetVocab.token(id)),
      ids,
      score: h.score,
      logProb: h.logProb,
      finished: h.finished,
      ...(h.finished ? { stopToken: this.targetVocab.token(h.stopToken) } : {}),
    };
  }

  private crossAttention(all: Tensor, srcIds: Int32Array, t: Translation, layer: number, head: number): CrossAttention {
    const [L, H, T, S] = all.shape;
    const l = layer < 0 ? L - 1 : layer;
    if (l >= L) throw new RangeError(`Seq2Seq.translate: attention.layer ${layer} is outside [0, ${L})`);
    if (head >= H) throw new RangeError(`Seq2Seq.translate: attention.head ${head} is outside [0, ${H})`);
    const data = all.toTypedArray();
    const weights: number[][] = [];
    for (let r = 0; r < T; r++) {
      const row = new Array<number>(S).fill(0);
      for (let h = head < 0 ? 0 : head; h < (head < 0 ? H : head + 1); h++)
        for (let c = 0; c < S; c++) row[c] += data[((l * H + h) * T + r) * S + c];
      weights.push(head < 0 ? row.map((x) => x / H) : row);
    }
    const targetTokens = t.finished ? [...t.tokens, this.targetVocab.token(this.eosId)] : [...t.tokens];
    return { weights, sourceTokens: Array.from(srcIds, (id) => this.sourceVocab.token(id)), targetTokens, all };
  }

  /**
   * Teacher-forced logits [B, T, V] for source ids [B, S] (int32, with lengths) and target inputs
   * [B, T] (starting with <bos>): synchronous and recorded by the autograd, for custom losses and
   * tests. Uses the current mode (train() / eval()).
   */
  logits(sourceIds: Tensor, sourceLengths: readonly number[] | Int32Array, targetIds: Tensor): Tensor {
    const op = 'Seq2Seq.logits';
    const lens = lengthsArg(sourceLengths, op, 'sourceLengths');
    if (!lens) throw new TypeError(`${op}: sourceLengths are required`);
    return new Tensor(tb.tfSeq2SeqLogits(this._handle, handle(sourceIds, op, 'sourceIds'), lens, handle(targetIds, op, 'targetIds')));
  }
}
