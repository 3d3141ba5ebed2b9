// Seq2Seq: the encoder–decoder transformer (Vaswani et al. 2017). Training (teacher forcing,
// resumable), greedy and beam-search decoding (with n-best lists), scoring and evaluation run
// natively on a worker thread; the weights, the config, the vocabularies and, when asked for, the
// optimizer state live in one safetensors file.
import {
  checkArray, checkInt, checkObject, checkOptions, checkStringArray, optBool, optEnum, optInt, optNumber, optSeed, typeName, type Options,
} from '../args';
import { QkvError } from '../errors';
import { Tensor, handle } from '../tensor';
import { StreamDecoder } from '../text/stream';
import { Vocabulary, padBatch } from '../text/vocab';
import { layerConfig, lengthsArg, type LayerConfig, type Positional } from './base';
import { checkSignal, runJob, sequenceTensors, startTask, taskValue } from '../jobs';
import { streamTask } from './streaming';
import { tb, type NativeHypothesis, type NativeModule, type NativeOptimizer } from './native';
import { TrainableModule, fromCheckpoint, loadCheckpoint, savedVocab } from './trainable';
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

function pairArray(pairs: unknown, op: string, name = 'pairs'): { sources: string[]; targets: string[] } {
  const sources: string[] = [], targets: string[] = [];
  checkArray(op, name, pairs, (p, pname) => {
    const [s, t] = Array.isArray(p) ? [p[0], p[1]] : typeof p === 'object' && p !== null ? [(p as Options).source, (p as Options).target] : [p, p];
    if (typeof s !== 'string' || typeof t !== 'string')
      throw new TypeError(`${op}: ${pname} must be { source, target } or [source, target] with strings, got ${typeName(p)}`);
    sources.push(s);
    targets.push(t);
  }, { nonEmpty: true, what: 'an array of { source, target } or [source, target]' });
  return { sources, targets };
}

/** The texts of a call: a fresh, non-empty array of strings. */
function textArray(texts: unknown, op: string): string[] {
  return checkStringArray(op, 'texts', texts, { nonEmpty: true });
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
    const o = checkObject(op, 'options', options, '{ vocab, ... }');
    const vocabOf = (name: 'sourceVocab' | 'targetVocab'): Vocabulary => {
      const v = o[name] ?? o.vocab;
      if (!(v instanceof Vocabulary)) throw new TypeError(`${op}: option ${o[name] === undefined ? 'vocab' : name} must be a CharVocab or WordVocab, got ${typeName(v)}`);
      return v;
    };
    const sourceVocab = vocabOf('sourceVocab'), targetVocab = vocabOf('targetVocab');
    const maxLength = optInt(op, o, 'maxLength', { min: 2 }) ?? 128;
    const positional = optEnum(op, o, 'positional', ['sinusoidal', 'learned'] as const) ?? 'sinusoidal';
    const share = optBool(op, o, 'shareEmbeddings') ?? sourceVocab === targetVocab;
    if (share && sourceVocab.size !== targetVocab.size) throw new RangeError(`${op}: shared embeddings need vocabularies of one size`);
    const { padId, bosId, eosId } = specialIdsOf(sourceVocab, targetVocab, op);
    super(
      tb.tfCreate(
        JSON.stringify({
          type: 'Seq2Seq',
          srcVocab: sourceVocab.size,
          tgtVocab: targetVocab.size,
          maxLength,
          encoderLayers: optInt(op, o, 'encoderLayers', { min: 1 }) ?? 2,
          decoderLayers: optInt(op, o, 'decoderLayers', { min: 1 }) ?? 2,
          ...layerConfig(o, op, { dim: 128, heads: 4 }),
          positional,
          shareEmbeddings: share,
          tieOutput: optBool(op, o, 'tieOutput') ?? true,
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
    const op = 'Seq2Seq.load';
    const loaded = await loadCheckpoint(path, op);
    const { module, metadata, optimizer } = loaded;
    const [sourceVocab, targetVocab] = fromCheckpoint(loaded, op, (c) => {
      if (c.type !== 'Seq2Seq' || !metadata['vocab.source'] || !metadata['vocab.target'])
        throw new QkvError(`${op}: ${path} does not hold a Seq2Seq with its vocabularies`, 'ERR_FORMAT');
      return [
        savedVocab(metadata, 'vocab.source', c.srcVocab, { pad: c.padId }, op),
        savedVocab(metadata, 'vocab.target', c.tgtVocab, { pad: c.padId, bos: c.bosId, eos: c.eosId }, op),
      ];
    });
    const internal: Internal = { [FROM_NATIVE]: { module, sourceVocab, targetVocab, optimizer } };
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
    return padBatch(textArray(texts, 'Seq2Seq.encodeSources').map((t) => this.sourceVocab.encode(t, { eos: true, maxLength: this.maxLength })), 'Seq2Seq', this.padId);
  }

  /** Target ids: <bos>, the tokens, <eos>. RangeError for a target longer than maxLength. */
  encodeTargets(texts: readonly string[]) {
    return padBatch(
      textArray(texts, 'Seq2Seq.encodeTargets').map((t) => {
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
    const { native, signal, onProgress, resume, options: o } = nativeTrainOptions(options, op);
    const src = this.encodeSources(sources), tgt = this.encodeTargets(targets);
    let vs = null, vt = null;
    if (o.validation !== undefined) {
      const v = pairArray(o.validation, op, 'option validation');
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
    const o = checkOptions(op, options);
    const src = this.encodeSources(sources), tgt = this.encodeTargets(targets);
    const signal = checkSignal(o.signal, op);
    const batchSize = optInt(op, o, 'batchSize', { min: 1 }) ?? 128;
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
    const o = checkOptions(op, options);
    const src = this.encodeSources(sources), tgt = this.encodeTargets(targets);
    const signal = checkSignal(o.signal, op);
    const batchSize = optInt(op, o, 'batchSize', { min: 1 }) ?? 64;
    const penalty = optNumber(op, o, 'lengthPenalty') ?? 1;
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
    const { list, single, native, src, signal, attLayer, attHead, nBest } = this.translateArgs(inputs, options, 'Seq2Seq.translate');
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
    const { native, src, signal } = this.translateArgs(inputs, options, op);
    if (native.attention) throw new TypeError(`${op}: attention is not streamed; use translate()`);
    const vocab = this.targetVocab;
    const stops = new Set([this.eosId, ...native.stopTokens]);
    const decoders = new Map<string, StreamDecoder>();
    return streamTask<TranslationToken>(op, signal, (fn) => this.enqueue(fn),
      (m, onItem) => startTask(m, 'translate', { options: native, tensors: sequenceTensors('src', src), onItem }),
      (item) => {
        const [input, sample, id] = item as [number, number, number];
        const key = `${input}:${sample}`;
        let d = decoders.get(key);
        if (!d) decoders.set(key, (d = new StreamDecoder(vocab)));
        const stop = stops.has(id);
        const text = stop ? d.flush() : d.push(id);
        return [{ id, token: vocab.token(id), text, input, sample, stop }];
      });
  }

  /** The ids of stopTokens (tokens or ids of the target vocabulary). */
  private stopIds(stopTokens: unknown, op: string): number[] {
    if (stopTokens === undefined) return [];
    return checkArray(op, 'option stopTokens', stopTokens, (t, name) => {
      if (typeof t === 'string') return this.targetVocab.id(t);
      if (typeof t !== 'number') throw new TypeError(`${op}: ${name} must be a token (a string) or an id (a number), got ${typeName(t)}`);
      return checkInt(op, name, t, { min: 0, max: this.targetVocab.size - 1 });
    }, { what: 'an array of tokens or ids' });
  }

  /** The attention option: false, true (last layer, mean over heads) or { layer, head }. */
  private static attentionArg(att: unknown, op: string): { on: boolean; layer: number; head: number } {
    if (att === undefined || typeof att === 'boolean') return { on: att === true, layer: -1, head: -1 };
    const a = checkObject(op, 'option attention', att, 'a boolean or { layer?, head? }');
    const signed = { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
    const layer = optInt(op, a, 'layer', signed) ?? -1;
    const head = a.head === undefined || a.head === 'mean' ? -1 : checkInt(op, 'option attention.head', a.head, signed);
    return { on: true, layer, head };
  }

  private translateArgs(inputs: string | readonly string[], options: TranslateOptions, op: string) {
    const single = typeof inputs === 'string';
    const list = single ? [inputs] : checkStringArray(op, 'inputs', inputs, { nonEmpty: true });
    const o = checkOptions(op, options);
    const signal = checkSignal(o.signal, op);
    const att = Seq2Seq.attentionArg(o.attention, op);
    const beamSize = optInt(op, o, 'beamSize', { min: 1 }) ?? 1;
    const temperature = optNumber(op, o, 'temperature', { min: 0 }), topK = optInt(op, o, 'topK'), topP = optNumber(op, o, 'topP', { min: 0, max: 1 });
    const sample = optBool(op, o, 'sample') ?? (temperature !== undefined || topK !== undefined || topP !== undefined);
    // numReturn: an integer in [1, beamSize], or [1, 64] samples.
    const numReturn = optInt(op, o, 'numReturn', { min: 1, max: sample ? 64 : beamSize });
    const maxNewTokens = optInt(op, o, 'maxNewTokens', { min: 1 });
    const native = {
      beamSize,
      numReturn: numReturn ?? 1,
      lengthPenalty: optNumber(op, o, 'lengthPenalty') ?? 1,
      maxLength: maxNewTokens ?? optInt(op, o, 'maxLength', { min: 1 }) ?? this.maxLength,
      batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 64,
      attention: att.on,
      sample,
      temperature: temperature ?? 1,
      topK: topK ?? 0,
      topP: topP ?? 1,
      repetitionPenalty: optNumber(op, o, 'repetitionPenalty', { min: 1e-4, max: 1e4 }) ?? 1,
      stopTokens: this.stopIds(o.stopTokens, op),
      seed: optSeed(op, o) ?? 0,
    };
    return { list, single, native, src: this.encodeSources(list), signal, attLayer: att.layer, attHead: att.head, nBest: numReturn !== undefined };
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
    if (!lens) throw new TypeError(`${op}: sourceLengths are required, got ${typeName(sourceLengths)}`);
    return new Tensor(tb.tfSeq2SeqLogits(this._handle, handle(sourceIds, op, 'sourceIds'), lens, handle(targetIds, op, 'targetIds')));
  }
}
