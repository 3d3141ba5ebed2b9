// GPT-1's supervised fine-tuning (Radford et al. 2018, §3.2–3.3): one pretrained GPT, barely
// changed, learns a task from a little labelled data through an input format. Three tokens are
// added with fresh embeddings (start <s>, delimiter $, extract <e>) and a linear head reads the
// final hidden state at <e>:
//   classification  <s> text <e>                               → C classes
//   entailment      <s> premise $ hypothesis <e>                → 3 labels (by default)
//   similarity      <s> a $ b <e> and <s> b $ a <e>, the two states added → C labels (2 by default)
//   multipleChoice  <s> context $ answer_k <e> for each k, one score each, softmax over the choices
// The loss adds λ (lmWeight, 0.5) times the language-modelling loss of the same inputs.
import { checkArray, checkInt, checkObject, checkOptions, checkString, optInt, optNumber, optSeed, typeName, type Options } from '../args';
import { QkvError } from '../errors';
import { concat, randn } from '../ops';
import { Tensor } from '../tensor';
import { padBatch } from '../text/batch';
import { tokenizerFromJSON, type Tokenizer } from '../text/tokenizer';
import { checkSignal, int32Tensor, runJob, sequenceTensors, startTask, taskValue } from '../jobs';
import { GPT } from './gpt';
import { tb, type NativeModule, type NativeOptimizer } from './native';
import { TrainableModule, fromCheckpoint, loadCheckpoint } from './trainable';
import { nativeTrainOptions, progressCallback, type TrainOptions } from './training';
import type { EvalResult, TrainResult } from '../training';

export type FineTuneFormat = 'classification' | 'entailment' | 'similarity' | 'multipleChoice';

/** An example of each format; `label` is required for fit and evaluate. */
export type FormatExample =
  | { text: string; label?: number }
  | { premise: string; hypothesis: string; label?: number }
  | { a: string; b: string; label?: number }
  | { context: string; choices: readonly string[]; label?: number };

export interface GPTClassifierOptions {
  format: FineTuneFormat;
  /** Classes (classification: required; entailment: 3; similarity: 2). Multiple choice: the choices per example. */
  numLabels?: number;
  /** Dropout on the extract state before the head (default 0.1, GPT-1's). */
  classifierDropout?: number;
  /** Seed of the new embeddings and the head (default 0). */
  seed?: number;
}

export interface GPTClassifierFitOptions extends Omit<TrainOptions, 'labelSmoothing' | 'bucket'> {
  /** λ: weight of the auxiliary language-modelling loss (default 0.5). */
  lmWeight?: number;
  /** Labelled examples for the validation loss and accuracy at each epoch end. */
  validation?: readonly FormatExample[];
}

export interface Prediction {
  label: number;
  /** Per class (or choice) probability. */
  probabilities: number[];
}

const FROM_NATIVE = Symbol('fromNative');
type Internal = { [FROM_NATIVE]: { module: NativeModule; tokenizer: Tokenizer; format: FineTuneFormat; optimizer?: NativeOptimizer } };
const FORMATS: readonly FineTuneFormat[] = ['classification', 'entailment', 'similarity', 'multipleChoice'];

// GPT-1's recipe: lr 6.25e-5, batch 32, 3 epochs, warm-up over 0.2% of the steps then linear decay,
// Adam betas (0.9, 0.999), eps 1e-8, L2 0.01, clipping at 1.
const RECIPE = { lr: 6.25e-5, batchSize: 32, epochs: 3, warmup: 0.002, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 1 };

export class GPTClassifier extends TrainableModule {
  readonly tokenizer: Tokenizer;
  readonly format: FineTuneFormat;
  readonly maxLength: number;
  /** The ids of <s>, $ and <e>: the three rows added after the pretrained vocabulary. */
  readonly startId: number;
  readonly delimiterId: number;
  readonly extractId: number;
  /** Classes, or 1 for multiple choice (one score per choice). */
  readonly numLabels: number;

  private constructor(internal: Internal) {
    const { module, tokenizer, format, optimizer } = internal[FROM_NATIVE];
    super(module, optimizer);
    this.tokenizer = tokenizer;
    this.format = format;
    const c = this.config;
    this.maxLength = Number(c.maxLength);
    const V = Number(c.vocabSize);
    [this.startId, this.delimiterId, this.extractId] = [V - 3, V - 2, V - 1];
    this.numLabels = Number(c.numClasses);
  }

  /**
   * A classifier over a pretrained GPT's weights (copied: the GPT stays as it is), with the three
   * format tokens appended to its token table (N(0, initStd²) rows) and a fresh head.
   */
  static async fromGPT(gpt: GPT, options: GPTClassifierOptions): Promise<GPTClassifier> {
    const op = 'GPTClassifier.fromGPT';
    if (!(gpt instanceof GPT)) throw new TypeError(`${op}: gpt must be a qkv.GPT, got ${typeName(gpt)}`);
    const o = checkObject(op, 'options', options, '{ format, numLabels?, ... }');
    const format = checkFormat(o.format, op);
    const defaults: Record<FineTuneFormat, number | undefined> = { classification: undefined, entailment: 3, similarity: 2, multipleChoice: 1 };
    const numLabels = format === 'multipleChoice' ? 1 : optInt(op, o, 'numLabels', { min: 2 }) ?? defaults[format];
    if (numLabels === undefined) throw new TypeError(`${op}: option numLabels is required for the classification format`);
    const seed = optSeed(op, o) ?? 0;
    const base = gpt.config;
    const config = { ...base, vocabSize: Number(base.vocabSize) + 3, numClasses: numLabels,
      classifierDropout: optNumber(op, o, 'classifierDropout', { min: 0, max: 1, below: true }) ?? 0.1, seed: String(seed) };
    const module = tb.tfCreate(JSON.stringify(config));
    const clf = new GPTClassifier({ [FROM_NATIVE]: { module, tokenizer: gpt.tokenizer, format } });
    const state = gpt.stateDict();
    const table = state.get('wte.weight')!;
    const fresh = randn([3, table.shape[1]], { std: Number(base.initStd ?? 0.02), seed });
    const wte = concat([table, fresh], 0);
    state.set('wte.weight', wte);
    try {
      await clf.loadStateDict(state, { strict: false });
    } catch (e) {
      await clf.dispose();
      throw e;
    } finally {
      fresh.dispose();
      wte.dispose();
    }
    return clf;
  }

  static async load(path: string): Promise<GPTClassifier> {
    const op = 'GPTClassifier.load';
    const loaded = await loadCheckpoint(path, op);
    const [tokenizer, format] = fromCheckpoint(loaded, op, (c) => {
      const m = loaded.metadata;
      if (c.type !== 'GPT' || !m.tokenizer || !m['gpt.format']) throw new QkvError(`${op}: ${path} does not hold a GPTClassifier`, 'ERR_FORMAT');
      return [tokenizerFromJSON(m.tokenizer), checkFormat(m['gpt.format'], op)] as const;
    });
    return new GPTClassifier({ [FROM_NATIVE]: { module: loaded.module, tokenizer, format, optimizer: loaded.optimizer } });
  }

  protected override checkpointMetadata(): Record<string, string> {
    return { tokenizer: JSON.stringify(this.tokenizer.toJSON()), 'gpt.format': this.format };
  }

  /**
   * Fine-tunes on labelled examples of the format, natively on a worker thread, with GPT-1's recipe
   * by default (lr 6.25e-5, batch 32, 3 epochs, warm-up 0.2% then linear decay, λ 0.5).
   */
  async fit(examples: readonly FormatExample[], options: GPTClassifierFitOptions = {}): Promise<TrainResult> {
    const op = 'GPTClassifier.fit';
    const { native, signal, onProgress, resume, options: o } = nativeTrainOptions(options, op, ['lmWeight']);
    const data = await this.encode(examples, op, 'examples', true);
    const val = o.validation === undefined ? null : await this.encode(o.validation, op, 'option validation', true);
    const batchSize = (native.batchSize as number | undefined) ?? RECIPE.batchSize;
    const epochs = (native.epochs as number | undefined) ?? RECIPE.epochs;
    const accumulate = (native.accumulate as number | undefined) ?? 1;
    let steps = epochs * Math.ceil(Math.ceil(data.count / batchSize) / accumulate);
    if (native.maxSteps) steps = Math.min(steps, native.maxSteps as number);
    const call = {
      lr: RECIPE.lr, beta1: RECIPE.beta1, beta2: RECIPE.beta2, eps: RECIPE.eps, weightDecay: RECIPE.weightDecay, clipNorm: RECIPE.clipNorm,
      schedule: 'warmupLinear', warmupSteps: Math.ceil(RECIPE.warmup * steps), lmWeight: 0.5,
      ...native, batchSize, epochs, group: data.group, combine: data.combine,
    };
    const tensors = [...sequenceTensors('inputs', data.batch), ['labels', int32Tensor(data.labels)] as [string, ReturnType<typeof int32Tensor>]];
    if (val) {
      if (val.group !== data.group) throw new RangeError(`${op}: validation examples have ${val.group} choices, the training examples ${data.group}`);
      tensors.push(...sequenceTensors('valInputs', val.batch), ['valLabels', int32Tensor(val.labels)]);
    }
    return this.fitJob(op, signal, resume, { options: call, tensors, onProgress: progressCallback(onProgress) }, 'fitClassifier');
  }

  /** Loss (cross-entropy of the labels) and accuracy over labelled examples, in eval mode. */
  async evaluate(examples: readonly FormatExample[], options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<EvalResult> {
    const op = 'GPTClassifier.evaluate';
    const o = checkOptions(op, options);
    const signal = checkSignal(o.signal, op);
    const d = await this.encode(examples, op, 'examples', true);
    const call = { batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 32, group: d.group, combine: d.combine };
    const tensors = [...sequenceTensors('inputs', d.batch), ['labels', int32Tensor(d.labels)] as [string, ReturnType<typeof int32Tensor>]];
    return this.enqueue((m) => taskValue<EvalResult>(op, signal, () => startTask(m, 'evaluateClassifier', { options: call, tensors })));
  }

  /** The most likely label (or choice) of each example and the probabilities, in eval mode. */
  async predict(examples: readonly FormatExample[], options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<Prediction[]> {
    const op = 'GPTClassifier.predict';
    const o = checkOptions(op, options);
    const signal = checkSignal(o.signal, op);
    const d = await this.encode(examples, op, 'examples', false);
    const call = { batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 32, group: d.group, combine: d.combine };
    const probs = await this.enqueue(async (m) => {
      const r = await runJob(op, signal, () => startTask(m, 'predictClassifier', { options: call, tensors: sequenceTensors('inputs', d.batch) }));
      const t = new Tensor(r.tensors.get('output')!);
      const v = t.toTypedArray();
      const C = t.shape[1];
      t.dispose();
      return Array.from({ length: d.count }, (_, i) => Array.from(v.subarray(i * C, (i + 1) * C)));
    });
    return probs.map((p) => ({ label: p.indexOf(Math.max(...p)), probabilities: p }));
  }

  /** The rows of examples in this format: ids, group size, how the head combines them, labels. */
  private async encode(examples: unknown, op: string, name: string, needLabels: boolean) {
    const list = checkArray(op, name, examples, (e, n) => checkObject(op, n, e, 'an example object'), { nonEmpty: true, what: 'an array of examples' });
    const segments: string[][] = [];
    const labels: number[] = [];
    let group = this.format === 'similarity' ? 2 : 1;
    list.forEach((e, i) => {
      const n = `${name}[${i}]`;
      const parts = this.parts(e, n, op);
      if (this.format === 'multipleChoice') {
        if (i === 0) group = parts.length;
        else if (parts.length !== group) throw new RangeError(`${op}: ${n} has ${parts.length} choices, the first example ${group}`);
      }
      segments.push(...parts);
      if (needLabels || e.label !== undefined) {
        const max = this.format === 'multipleChoice' ? group - 1 : this.numLabels - 1;
        labels.push(checkInt(op, `${n}.label`, e.label, { min: 0, max }));
      }
    });
    // Every distinct text encoded once, off the event loop where the tokenizer allows.
    const texts = [...new Set(segments.flat())];
    const ids = new Map(texts.map((t, i) => [t, i] as const));
    const encoded = await this.tokenizer.encodeBatch(texts);
    const rows = segments.map((seg) => this.layout(seg.map((t) => encoded[ids.get(t)!])));
    return {
      batch: padBatch(rows, op, 0),
      labels: Int32Array.from(labels),
      group,
      combine: this.format === 'similarity' ? 'sum' : this.format === 'multipleChoice' ? 'choice' : 'classes',
      count: list.length,
    };
  }

  /** The texts of each row of one example (one row, both orders, or one per choice). */
  private parts(e: Options, n: string, op: string): string[][] {
    const str = (k: string) => checkString(op, `${n}.${k}`, e[k]);
    switch (this.format) {
      case 'classification': return [[str('text')]];
      case 'entailment': return [[str('premise'), str('hypothesis')]];
      case 'similarity': return [[str('a'), str('b')], [str('b'), str('a')]];
      case 'multipleChoice': {
        const context = str('context');
        const choices = checkArray(op, `${n}.choices`, e.choices, (c, cn) => checkString(op, cn, c), { nonEmpty: true, what: 'an array of strings' });
        if (choices.length < 2) throw new RangeError(`${op}: ${n}.choices needs at least 2 choices`);
        return choices.map((c) => [context, c]);
      }
    }
  }

  /** <s> a [$ b] <e>, the longer text cut at its end until the row fits the context. */
  private layout(segs: number[][]): number[] {
    const budget = this.maxLength - 1 - segs.length;
    const cut = segs.map((s) => s.slice());
    let total = cut.reduce((n, s) => n + s.length, 0);
    while (total > budget) {
      const longest = cut.reduce((m, s, i) => (s.length > cut[m].length ? i : m), 0);
      const drop = Math.min(total - budget, Math.max(1, cut[longest].length - Math.max(0, ...cut.filter((_, i) => i !== longest).map((s) => s.length))));
      cut[longest].length -= drop;
      total -= drop;
    }
    const row = [this.startId, ...cut[0]];
    for (const s of cut.slice(1)) row.push(this.delimiterId, ...s);
    row.push(this.extractId);
    return row;
  }
}

function checkFormat(v: unknown, op: string): FineTuneFormat {
  if (typeof v !== 'string' || !FORMATS.includes(v as FineTuneFormat))
    throw new TypeError(`${op}: format must be one of ${FORMATS.join(', ')}, got ${typeName(v)}`);
  return v as FineTuneFormat;
}
