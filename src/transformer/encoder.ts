// TransformerEncoder: token ids → contextual vectors, pooled into sentence embeddings; trained by
// masked language modelling or, with labels, as a classifier. Training, encoding and
// classification run natively on a worker thread.
import { checkObject, checkOptions, checkStringArray, optBool, optEnum, optInt, optNumber, optSeed, type Options } from '../args';
import { QkvError } from '../errors';
import { Tensor, handle } from '../tensor';
import { div, maximum, mul, softmax, sqrt, sum } from '../ops';
import { Vocabulary, type TokenBatch } from '../text/vocab';
import { layerConfig, lengthsArg, type LayerConfig, type Positional } from './base';
import { checkSignal, int32Tensor, runJob, sequenceTensors, startTask, taskValue } from '../jobs';
import { tb, type NativeModule, type NativeOptimizer } from './native';
import { TrainableModule, fromCheckpoint, loadCheckpoint, savedVocab } from './trainable';
import { nativeTrainOptions, progressCallback, type TrainOptions } from './training';
import type { EvalResult, TrainResult } from '../training';

/** 'cls': the <bos> vector; 'mean': over the real tokens; 'last': the last real token (<eos>). */
export type Pooling = 'cls' | 'mean' | 'last' | 'eot';
/** What the classifier reads: any pooling ('eot': the first <eos> of each text). */
export type ClassPooling = Pooling;

export interface TransformerEncoderOptions extends LayerConfig {
  vocab: Vocabulary;
  /** Encoder layers (default 2). */
  layers?: number;
  /** Longest input in tokens, <bos> and <eos> included (default 128). Longer inputs are cut. */
  maxLength?: number;
  positional?: Positional;
  /** A masked-language-model head tied to the token embedding (default true). */
  mlmHead?: boolean;
  /** > 0: a linear classifier on the pooled vector, trained by fit(texts, { labels }). */
  numClasses?: number;
  /** The pooling the classifier reads (default 'cls', the <bos> position). */
  classPooling?: ClassPooling;
}

export interface EncoderFitOptions extends TrainOptions {
  /** One class id per text: trains the classifier; without, fit trains the masked-language-model head. */
  labels?: readonly number[] | Int32Array;
  validation?: { texts: readonly string[]; labels?: readonly number[] | Int32Array };
  /** MLM: the share of tokens chosen for prediction (default 0.15; 80% <mask>, 10% random, 10% kept). */
  maskProb?: number;
}

const FROM_NATIVE = Symbol('fromNative');
type Internal = { [FROM_NATIVE]: { module: NativeModule; vocab: Vocabulary; optimizer?: NativeOptimizer } };

function textArray(texts: unknown, op: string, name = 'texts'): string[] {
  return checkStringArray(op, name, texts, { nonEmpty: true });
}

const POOLINGS: readonly Pooling[] = ['cls', 'mean', 'last', 'eot'];

function labelArray(labels: unknown, n: number, op: string, name: string): Int32Array {
  const a = lengthsArg(labels, op, name);
  if (!a || a.length !== n) throw new RangeError(`${op}: ${name}: one label per text is needed (${n})`);
  return a;
}

/**
 * A bidirectional transformer encoder. Inputs are encoded as <bos> tokens <eos>; the <bos>
 * position is the 'cls' vector.
 */
/** The special ids an encoder takes from its tokenizer: padding, <mask> (for the MLM head), <eos> (eot pooling), and all of them (never masked). */
function encoderSpecials(vocab: Vocabulary, mlmHead: boolean, op: string): Record<string, unknown> {
  if (vocab.padId === undefined) throw new RangeError(`${op}: the vocabulary needs a pad special token`);
  if (mlmHead && vocab.maskId === undefined) throw new RangeError(`${op}: the masked-language-model head needs a mask special token (or mlmHead: false)`);
  const specialIds = Object.values(vocab.specialTokens).sort((a, b) => a - b);
  return { padId: vocab.padId, maskId: vocab.maskId ?? vocab.padId, eotId: vocab.eosId ?? vocab.padId, numSpecials: specialIds.length, specialIds };
}

export class TransformerEncoder extends TrainableModule {
  readonly vocab: Vocabulary;
  readonly maxLength: number;

  constructor(options: TransformerEncoderOptions) {
    const op = 'TransformerEncoder';
    const internal = (options as unknown as Internal)?.[FROM_NATIVE];
    if (internal) {
      super(internal.module, internal.optimizer);
      this.vocab = internal.vocab;
      this.maxLength = Number(this.config.maxLength);
      return;
    }
    const o = checkObject(op, 'options', options, '{ vocab, ... }');
    const vocab = o.vocab;
    if (!(vocab instanceof Vocabulary)) throw new TypeError(`${op}: option vocab must be a CharVocab or WordVocab`);
    const maxLength = optInt(op, o, 'maxLength', { min: 3 }) ?? 128;
    const mlmHead = optBool(op, o, 'mlmHead') ?? true;
    super(
      tb.tfCreate(
        JSON.stringify({
          type: 'TransformerEncoder',
          vocabSize: vocab.size,
          maxLength,
          layers: optInt(op, o, 'layers', { min: 1 }) ?? 2,
          ...layerConfig(o, op, { dim: 128, heads: 4 }),
          positional: optEnum(op, o, 'positional', ['sinusoidal', 'learned'] as const) ?? 'sinusoidal',
          ...encoderSpecials(vocab, mlmHead, op),
          mlmHead,
          numClasses: optInt(op, o, 'numClasses') ?? 0,
          classPooling: optEnum(op, o, 'classPooling', POOLINGS) ?? 'cls',
        }),
      ),
    );
    this.vocab = vocab;
    this.maxLength = maxLength;
  }

  /** Loads a model saved with save(): weights, config, vocabulary and the optimizer state if saved. */
  static async load(path: string): Promise<TransformerEncoder> {
    const op = 'TransformerEncoder.load';
    const loaded = await loadCheckpoint(path, op);
    const { module, metadata, optimizer } = loaded;
    const vocab = fromCheckpoint(loaded, op, (config) => {
      if (config.type !== 'TransformerEncoder' || !metadata['vocab'])
        throw new QkvError(`${op}: ${path} does not hold a TransformerEncoder with its vocabulary`, 'ERR_FORMAT');
      return savedVocab(metadata, 'vocab', config.vocabSize, { pad: config.padId }, op);
    });
    const internal: Internal = { [FROM_NATIVE]: { module, vocab, optimizer } };
    return new TransformerEncoder(internal as unknown as TransformerEncoderOptions);
  }

  /** save() writes the vocabulary with the weights and config; with { optimizer: true } also the optimizer state (as Seq2Seq). */
  protected override checkpointMetadata(): Record<string, string> {
    return { vocab: JSON.stringify(this.vocab.toJSON()) };
  }

  /** Ids of texts: <bos> tokens <eos>, cut to maxLength. */
  batch(texts: readonly string[]): TokenBatch {
    textArray(texts, 'TransformerEncoder.batch');
    return this.vocab.batch(texts, { bos: true, eos: true, maxLength: this.maxLength });
  }

  /**
   * Trains natively on a worker thread: masked language modelling, or the classifier when labels
   * are given (AdamW, warm-up then cosine decay, clipping; { resume: true } continues the last
   * fit's optimizer, as Seq2Seq.fit, the masks too). Rejects with ERR_ABORTED / ERR_NAN.
   */
  fit(texts: readonly string[], options: EncoderFitOptions = {}): Promise<TrainResult> {
    const op = 'TransformerEncoder.fit';
    const list = textArray(texts, op);
    const { native, signal, onProgress, resume, options: o } = nativeTrainOptions(options, op, ['maskProb']);
    const data = this.batch(list);
    const labels = o.labels !== undefined ? labelArray(o.labels, list.length, op, 'option labels') : null;
    let val: TokenBatch | null = null, valLabels: Int32Array | null = null;
    if (o.validation !== undefined) {
      const v = checkObject(op, 'option validation', o.validation, '{ texts, labels? }');
      const vt = textArray(v.texts, op, 'option validation.texts');
      val = this.batch(vt);
      if (v.labels !== undefined) valLabels = labelArray(v.labels, vt.length, op, 'option validation.labels');
    }
    const tensors = sequenceTensors('inputs', data);
    if (labels) tensors.push(['labels', int32Tensor(labels)]);
    if (val) tensors.push(...sequenceTensors('valInputs', val));
    if (valLabels) tensors.push(['valLabels', int32Tensor(valLabels)]);
    return this.fitJob(op, signal, resume, { options: native, tensors, onProgress: progressCallback(onProgress) });
  }

  /**
   * Sentence embeddings [N, D] (float): the 'cls' (<bos>) vector or the mean over the real tokens
   * (padding never counts, so a text's vector does not depend on its batch). `normalize` scales each
   * to unit length.
   */
  encode(texts: string | readonly string[], options: { pooling?: Pooling; batchSize?: number; normalize?: boolean; signal?: AbortSignal } = {}): Promise<Tensor> {
    const op = 'TransformerEncoder.encode';
    const list = textArray(typeof texts === 'string' ? [texts] : texts, op);
    const o = checkOptions(op, options);
    const pooling = optEnum(op, o, 'pooling', POOLINGS) ?? 'mean';
    const batchSize = optInt(op, o, 'batchSize', { min: 1 }) ?? 64;
    const normalize = optBool(op, o, 'normalize') ?? false;
    const signal = checkSignal(o.signal, op);
    const data = this.batch(list);
    return this.enqueue(async (m) => {
      const r = await runJob(op, signal, () => startTask(m, 'encode', { options: { pooling, batchSize }, tensors: sequenceTensors('inputs', data) }));
      const t = new Tensor(r.tensors.get('output')!);
      if (!normalize) return t;
      // v / max(|v|, tiny): a zero vector stays zero.
      const unit = div(t, maximum(sqrt(sum(mul(t, t), -1, { keepdims: true })), 1e-30));
      t.dispose();
      return unit;
    });
  }

  /** Class probabilities of texts (a model with numClasses > 0). */
  classify(texts: readonly string[], options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<{ label: number; probabilities: number[] }[]> {
    const op = 'TransformerEncoder.classify';
    const data = this.batch(textArray(texts, op));
    const o = checkOptions(op, options);
    const batchSize = optInt(op, o, 'batchSize', { min: 1 }) ?? 64;
    const signal = checkSignal(o.signal, op);
    return this.enqueue(async (m) => {
      const r = await runJob(op, signal, () => startTask(m, 'classify', { options: { batchSize }, tensors: sequenceTensors('inputs', data) }));
      const logits = new Tensor(r.tensors.get('output')!);
      const probs = softmax(logits);
      const [n, c] = probs.shape;
      const v = probs.toTypedArray();
      logits.dispose();
      probs.dispose();
      return Array.from({ length: n }, (_, i) => {
        const p = Array.from(v.subarray(i * c, (i + 1) * c));
        return { label: p.indexOf(Math.max(...p)), probabilities: p };
      });
    });
  }

  /** Loss and accuracy: of the classes with labels, else of masked tokens (masks from `seed`). */
  evaluate(texts: readonly string[], options: { labels?: readonly number[] | Int32Array; batchSize?: number; maskProb?: number; seed?: number; signal?: AbortSignal } = {}):
    Promise<EvalResult> {
    const op = 'TransformerEncoder.evaluate';
    const list = textArray(texts, op);
    const o: Options = checkOptions(op, options);
    const data = this.batch(list);
    const labels = o.labels !== undefined ? labelArray(o.labels, list.length, op, 'option labels') : null;
    const signal = checkSignal(o.signal, op);
    const native = {
      batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 128,
      maskProb: optNumber(op, o, 'maskProb', { min: 0, max: 1 }) ?? 0.15,
      seed: optSeed(op, o) ?? 0,
    };
    const tensors = sequenceTensors('inputs', data);
    if (labels) tensors.push(['labels', int32Tensor(labels)]);
    return this.enqueue((m) => taskValue(op, signal, () => startTask<EvalResult>(m, 'evaluate', { options: native, tensors })));
  }

  /** Contextual vectors [B, L, D] of ids [B, L] (int32) with lengths: synchronous, recorded by the autograd. */
  hidden(ids: Tensor, lengths: readonly number[] | Int32Array): Tensor {
    const op = 'TransformerEncoder.hidden';
    const lens = lengthsArg(lengths, op, 'lengths');
    if (!lens) throw new TypeError(`${op}: lengths are required`);
    return new Tensor(tb.tfEncoderHidden(this._handle, handle(ids, op, 'ids'), lens));
  }
}
