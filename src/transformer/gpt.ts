// GPT: a decoder-only transformer (Radford et al. 2018, 2019) over any Tokenizer. Pretraining by
// causal language modelling on packed text, evaluation (loss and perplexity), logits, generation
// (greedy, sampling, beams; streamed as text) and the attention of a prompt run natively on a worker
// thread through the shared engine; weights, config and tokenizer live in one safetensors file.
import {
  checkInt, checkObject, checkOptions, checkPath, checkStringArray, optBool, optInt, optNumber, optSeed, typeName,
} from '../args';
import { QkvError } from '../errors';
import { Tensor } from '../tensor';
import { StreamDecoder } from '../text/stream';
import { padBatch } from '../text/batch';
import { tokenizerFromJSON, type Tokenizer } from '../text/tokenizer';
import { layerConfig, type LayerConfig } from './base';
import { checkSignal, int32Tensor, runJob, sequenceTensors, startTask, taskValue, type TaskJob } from '../jobs';
import { corpusIds, type Corpus } from './gpt-data';
import { streamTask } from './streaming';
import { tb, type NativeHypothesis, type NativeModule, type NativeOptimizer } from './native';
import { TrainableModule, fromCheckpoint, loadCheckpoint, type SaveOptions } from './trainable';
import { gptOptionsFromHF, readHFCheckpoint, writeHFCheckpoint } from './gpt-huggingface';
import { tokenizerBeside } from './huggingface';
import { nativeTrainOptions, progressCallback, type TrainOptions } from './training';
import type { EvalResult, TrainProgress, TrainResult } from '../training';

export type { Corpus } from './gpt-data';

export interface GPTOptions extends LayerConfig {
  tokenizer: Tokenizer;
  /** Rows of the token table (default tokenizer.size). */
  vocabSize?: number;
  /** Context length in tokens (default 256). */
  maxLength?: number;
  /** Blocks (default 4). */
  layers?: number;
  /** Dropout on the token + position embeddings while training (default: dropout). */
  embeddingDropout?: number;
  /** Output head tied to the token table (default true). */
  tieOutput?: boolean;
  /** The end-of-text id: separator of packed documents and the stop token (default tokenizer.eosId). */
  eosId?: number;
  /** Standard deviation of the initial weights (default 0.02, GPT-2's). */
  initStd?: number;
}

export interface GPTFitOptions extends Omit<TrainOptions, 'labelSmoothing' | 'bucket'> {
  /** Held-out text for the validation loss and perplexity (at epoch ends and every evalEvery steps). */
  validation?: Corpus;
  /** Without `validation`: this share of the token stream's end is held out (default 0). */
  validationSplit?: number;
  /** Window length (default the model's maxLength). */
  context?: number;
  /** Validate every this many steps too (default 0: at epoch ends only). */
  evalEvery?: number;
  /** Validate on at most this many batches (default 0: all). */
  valBatches?: number;
  onProgress?: (p: GPTProgress) => void;
}

export interface GPTProgress extends TrainProgress {
  /** exp(valLoss): the latest validation perplexity. */
  valPerplexity?: number;
}

export interface GPTEvalResult extends EvalResult {
  perplexity: number;
}

export interface GenerateOptions {
  /** Tokens to generate (default 64), the stop token included. */
  maxNewTokens?: number;
  /** Sample instead of taking the most likely token (default: on when temperature, topK or topP is given). */
  sample?: boolean;
  /** Logits divided by it before sampling (default 1; 0 takes the most likely token). */
  temperature?: number;
  /** Keep the k most likely tokens (default 0: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP (default 1). */
  topP?: number;
  /** CTRL's repetition penalty on the tokens already in the row, prompt included (default 1: none). */
  repetitionPenalty?: number;
  /** Texts that end a generation; the text is cut before them. */
  stop?: string | readonly string[];
  /** Token ids that end a generation besides the end of text. */
  stopTokens?: readonly number[];
  /** Whether the end-of-text id ends a generation (default true). */
  stopAtEos?: boolean;
  /** Beam search with this many beams (default 1). */
  beamSize?: number;
  /** Sampling seed (default 0): one seed gives the same texts, whatever the batch. */
  seed?: number;
  /** Prompts decoded together (default 16). */
  batchSize?: number;
  signal?: AbortSignal;
}

export interface Generation {
  prompt: string;
  /** The generated text (without the prompt and the stop). */
  text: string;
  /** The generated ids (without the stop token). */
  ids: number[];
  /** Why it ended: the end of text or a stop token, a stop string, or maxNewTokens. */
  stopReason: 'eos' | 'stopToken' | 'stop' | 'length';
  /** Sum of the model's log-probabilities of the generated tokens (stop token included); NaN when a stop string cut the text. */
  logProb: number;
}

const FROM_NATIVE = Symbol('fromNative');
type Internal = { [FROM_NATIVE]: { module: NativeModule; tokenizer: Tokenizer; optimizer?: NativeOptimizer } };

/** The native config of a GPT (its options checked, defaults filled in). */
export function gptConfig(o: Record<string, unknown>, tokenizer: Tokenizer, op: string): Record<string, unknown> {
  const layer = layerConfig(o, op, { dim: 256, heads: 4 });
  const vocabSize = optInt(op, o, 'vocabSize', { min: 1 }) ?? tokenizer.size;
  if (vocabSize < tokenizer.size) throw new RangeError(`${op}: vocabSize ${vocabSize} is below the tokenizer's ${tokenizer.size} ids`);
  const eosId = o.eosId === undefined ? tokenizer.eosId ?? -1 : checkInt(op, 'option eosId', o.eosId, { min: 0, max: vocabSize - 1 });
  return {
    type: 'GPT',
    vocabSize,
    maxLength: optInt(op, o, 'maxLength', { min: 1 }) ?? 256,
    layers: optInt(op, o, 'layers', { min: 1 }) ?? 4,
    ...layer,
    activation: o.activation === undefined ? 'geluTanh' : layer.activation,
    attentionDropout: o.attentionDropout === undefined ? layer.dropout : layer.attentionDropout,
    embeddingDropout: optNumber(op, o, 'embeddingDropout', { min: 0, max: 1, below: true }) ?? layer.dropout,
    tieOutput: optBool(op, o, 'tieOutput') ?? true,
    initStd: optNumber(op, o, 'initStd', { min: 0, above: true }) ?? 0.02,
    eosId,
    numClasses: optInt(op, o, 'numClasses', { min: 0 }) ?? 0,
    classifierDropout: optNumber(op, o, 'classifierDropout', { min: 0, max: 1, below: true }) ?? 0.1,
  };
}

function checkTokenizer(t: unknown, op: string): Tokenizer {
  if (!t || typeof (t as Tokenizer).encode !== 'function' || typeof (t as Tokenizer).decode !== 'function' || !Number.isInteger((t as Tokenizer).size))
    throw new TypeError(`${op}: option tokenizer must be a Tokenizer (CharVocab, WordVocab, BPETokenizer...), got ${typeName(t)}`);
  return t as Tokenizer;
}

/** A generation's text as it is produced, cut at the first stop string. */
class RowText {
  readonly decoder: StreamDecoder;
  text = '';
  ids: number[] = [];
  stopped = false;
  constructor(tokenizer: Tokenizer, private readonly stops: readonly string[]) {
    this.decoder = new StreamDecoder(tokenizer);
  }
  /** Adds a token; returns the text that became final (never beyond a stop string). */
  push(id: number, last: boolean): string {
    if (this.stopped) return '';
    if (!last) this.ids.push(id);
    // Rows of the token table past the tokenizer's ids (a vocabulary padded for speed) have no text.
    const piece = last ? this.decoder.flush() : id < this.decoder.tokenizer.size ? this.decoder.push(id) : '';
    const before = this.text.length;
    this.text += piece;
    // A stop string may straddle pieces: search the text from just before the new piece.
    const longest = this.stops.reduce((m, s) => Math.max(m, s.length), 0);
    let cut = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, Math.max(0, before - longest + 1));
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut < 0) return this.held();
    this.stopped = true;
    this.text = this.text.slice(0, cut);
    return this.rest();
  }
  private emitted = 0;
  /** The new text, less a tail that could still grow into a stop string. */
  private held(): string {
    let keep = 0;
    for (const s of this.stops)
      for (let k = Math.min(s.length - 1, this.text.length); k > keep; k--)
        if (this.text.endsWith(s.slice(0, k))) {
          keep = k;
          break;
        }
    const end = this.text.length - keep;
    const out = this.text.slice(this.emitted, end);
    this.emitted = Math.max(this.emitted, end);
    return out;
  }
  /** What is left to emit at the end. */
  rest(): string {
    const out = this.text.slice(this.emitted);
    this.emitted = this.text.length;
    return out;
  }
}

/**
 * A decoder-only transformer language model: `await gpt.fit(text)`, then `await gpt.generate(prompt)`
 * or `for await (const piece of gpt.stream(prompt))`. GPT-2's layout by default (pre-LN, learned
 * positions, GELU (tanh), biases, tied head); `norm: 'post'` gives GPT-1's.
 */
export class GPT extends TrainableModule {
  readonly tokenizer: Tokenizer;
  /** Context length. */
  readonly maxLength: number;
  readonly vocabSize: number;
  /** End of text (undefined: none). */
  readonly eosId: number | undefined;

  constructor(options: GPTOptions) {
    const op = 'GPT';
    const internal = (options as unknown as Internal)?.[FROM_NATIVE];
    if (internal) {
      super(internal.module, internal.optimizer);
      this.tokenizer = internal.tokenizer;
    } else {
      const o = checkObject(op, 'options', options, '{ tokenizer, ... }');
      const tokenizer = checkTokenizer(o.tokenizer, op);
      super(tb.tfCreate(JSON.stringify(gptConfig(o, tokenizer, op))));
      this.tokenizer = tokenizer;
    }
    const c = this.config;
    this.maxLength = Number(c.maxLength);
    this.vocabSize = Number(c.vocabSize);
    this.eosId = Number(c.eosId) >= 0 ? Number(c.eosId) : undefined;
  }

  /** @internal A GPT around a native module (a checkpoint, a converted model). */
  private static fromNative(module: NativeModule, tokenizer: Tokenizer, optimizer?: NativeOptimizer): GPT {
    const internal: Internal = { [FROM_NATIVE]: { module, tokenizer, optimizer } };
    return new GPT(internal as unknown as GPTOptions);
  }

  /** Loads a model saved with save(): weights, config, tokenizer and the optimizer state if saved. */
  static async load(path: string): Promise<GPT> {
    const op = 'GPT.load';
    const loaded = await loadCheckpoint(path, op);
    const tokenizer = fromCheckpoint(loaded, op, (c) => {
      if (c.type !== 'GPT' || !loaded.metadata.tokenizer) throw new QkvError(`${op}: ${path} does not hold a GPT with its tokenizer`, 'ERR_FORMAT');
      const t = tokenizerFromJSON(loaded.metadata.tokenizer);
      if (t.size > Number(c.vocabSize)) throw new QkvError(`${op}: the tokenizer has ${t.size} ids, the model ${String(c.vocabSize)}`, 'ERR_FORMAT');
      return t;
    });
    return GPT.fromNative(loaded.module, tokenizer, loaded.optimizer);
  }

  /**
   * Loads a Hugging Face GPT-2 directory: config.json and model.safetensors (GPT2Model or
   * GPT2LMHeadModel names, Conv1D weights transposed), with the tokenizer given, or else the one
   * beside them (tokenizer.json, or vocab.json + merges.txt).
   */
  static async fromPretrained(dir: string, options: { tokenizer?: Tokenizer } = {}): Promise<GPT> {
    const op = 'GPT.fromPretrained';
    checkPath(op, 'dir', dir);
    const o = checkOptions(op, options);
    const tokenizer = o.tokenizer === undefined ? await tokenizerBeside(dir, op) : checkTokenizer(o.tokenizer, op);
    const { config, state } = await readHFCheckpoint(dir, op);
    const gpt = new GPT({ ...gptOptionsFromHF(config, op), tokenizer } as GPTOptions);
    try {
      await gpt.loadStateDict(state);
    } catch (e) {
      await gpt.dispose();
      throw e;
    } finally {
      for (const t of state.values()) t.dispose();
    }
    return gpt;
  }

  /**
   * save(path) writes qkv's checkpoint (one safetensors file with the config and the tokenizer);
   * save(dir, { format: 'huggingface' }) writes config.json and model.safetensors in Hugging Face's
   * GPT-2 layout (and tokenizer.json where the tokenizer can save one), for GPT.fromPretrained or
   * transformers' GPT2LMHeadModel.from_pretrained.
   */
  override save(path: string, options: SaveOptions & { format?: 'qkv' | 'huggingface' } = {}): Promise<void> {
    return this.saveInFormat('GPT.save', path, options, () => writeHFCheckpoint(path, this.config, this.eosId, this.stateDict(), this.tokenizer));
  }

  protected override checkpointMetadata(): Record<string, string> {
    return { tokenizer: JSON.stringify(this.tokenizer.toJSON()) };
  }

  /**
   * Pretrains by causal language modelling, natively on a worker thread: the corpus packed into
   * windows of `context` + 1 tokens (end of text between documents), AdamW (lr 6e-4, betas 0.9 /
   * 0.95, eps 1e-8, weight decay 0.1 on the matrices) with warm-up then cosine decay, clipping at
   * 1, one epoch by default. Progress reports the validation loss and perplexity where it validates.
   */
  async fit(corpus: Corpus, options: GPTFitOptions = {}): Promise<TrainResult> {
    const op = 'GPT.fit';
    const { native, signal, onProgress, resume, options: o } = nativeTrainOptions(options, op, ['context', 'evalEvery', 'valBatches']);
    const split = optNumber(op, o, 'validationSplit', { min: 0, max: 1, below: true }) ?? 0;
    let tokens = await corpusIds(corpus, this.tokenizer, this.eosId, this.vocabSize, op, 'corpus');
    let val: Int32Array | null = null;
    if (o.validation !== undefined) val = await corpusIds(o.validation, this.tokenizer, this.eosId, this.vocabSize, op, 'option validation');
    else if (split > 0) {
      const cut = Math.floor(tokens.length * (1 - split));
      val = tokens.slice(cut);
      tokens = tokens.slice(0, cut);
    }
    const user = onProgress as ((p: GPTProgress) => void) | undefined;
    const report = progressCallback(user && ((p: TrainProgress) => user(p.valLoss === undefined ? p : { ...p, valPerplexity: Math.exp(p.valLoss) })));
    const tensors: [string, ReturnType<typeof int32Tensor>][] = [['tokens', int32Tensor(tokens)]];
    if (val && val.length >= 2) tensors.push(['valTokens', int32Tensor(val)]);
    return this.fitJob(op, signal, resume, { options: native, tensors, onProgress: report });
  }

  /** Mean next-token loss (nats per token) and perplexity over a corpus, in windows of `context`. */
  async evaluate(corpus: Corpus, options: { context?: number; batchSize?: number; signal?: AbortSignal } = {}): Promise<GPTEvalResult> {
    const op = 'GPT.evaluate';
    const o = checkOptions(op, options);
    const signal = checkSignal(o.signal, op);
    const call = { context: optInt(op, o, 'context', { min: 1, max: this.maxLength }) ?? 0, batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 16 };
    const tokens = await corpusIds(corpus, this.tokenizer, this.eosId, this.vocabSize, op, 'corpus');
    const r = await this.enqueue((m) => taskValue<EvalResult>(op, signal, () => startTask(m, 'evaluate', { options: call, tensors: [['tokens', int32Tensor(tokens)]] })));
    return { ...r, perplexity: Math.exp(r.loss) };
  }

  /** Next-token logits [B, T, V] of id rows (right-padded internally; a row's padding positions are meaningless). */
  logits(ids: readonly (readonly number[])[]): Promise<Tensor> {
    const op = 'GPT.logits';
    const batch = padBatch(ids, op, 0);
    for (const id of batch.ids) if (id >= this.vocabSize) throw new RangeError(`${op}: id ${id} is outside the vocabulary of ${this.vocabSize}`);
    if (batch.cols > this.maxLength) throw new RangeError(`${op}: rows of ${batch.cols} ids exceed the context length ${this.maxLength}`);
    return this.enqueue(async (m) => {
      const r = await runJob(op, undefined, () => startTask(m, 'logits', { tensors: sequenceTensors('inputs', batch) }));
      return new Tensor(r.tensors.get('output')!);
    });
  }

  /** The ids of a prompt (an empty prompt starts from the end-of-text token, as GPT-2's unconditional samples do). */
  encodePrompt(prompt: string | readonly number[], op = 'GPT.encodePrompt'): number[] {
    if (typeof prompt !== 'string') {
      const ids = Array.from(prompt, (id, i) => checkInt(op, `prompt[${i}]`, id, { min: 0, max: this.vocabSize - 1 }));
      if (ids.length === 0) throw new RangeError(`${op}: the prompt holds no ids`);
      return ids;
    }
    const ids = this.tokenizer.encode(prompt);
    if (ids.length > 0) return ids;
    if (this.eosId === undefined) throw new RangeError(`${op}: an empty prompt needs a model with an end-of-text token`);
    return [this.eosId];
  }

  /**
   * Generates a continuation of each prompt (greedy by default; sampling with temperature, top-k,
   * top-p in Hugging Face's order; beam search), natively on a worker thread with the key/value
   * cache. Prompts of one call are left-padded into batches.
   */
  generate(prompt: string | readonly number[], options?: GenerateOptions): Promise<Generation>;
  generate(prompts: readonly string[], options?: GenerateOptions): Promise<Generation[]>;
  async generate(prompts: string | readonly number[] | readonly string[], options: GenerateOptions = {}): Promise<Generation | Generation[]> {
    const op = 'GPT.generate';
    const single = typeof prompts === 'string' || (Array.isArray(prompts) && typeof prompts[0] === 'number');
    const list = single ? [prompts as string | readonly number[]] : checkStringArray(op, 'prompts', prompts, { nonEmpty: true });
    const { native, signal, stops } = this.generateArgs(options, op);
    const ids = list.map((p) => this.encodePrompt(p, op));
    const rows = ids.map(() => new RowText(this.tokenizer, stops));
    let job: TaskJob<NativeHypothesis[][]> | null = null;
    let live = rows.length;
    const onItem = stops.length === 0 ? null : (item: unknown) => {
      const [input, , token] = item as [number, number, number];
      const row = rows[input];
      if (row.stopped) return;
      row.push(token, this.isStop(token, native));
      if (row.stopped && --live === 0) job?.abort();
    };
    const result = await this.enqueue(async (m) => {
      try {
        return await runJob(op, signal, () => (job = startTask<NativeHypothesis[][]>(m, 'generate', { options: native, tensors: sequenceTensors('prompts', padBatch(ids, op)), onItem })));
      } catch (e) {
        if (live === 0 && e instanceof QkvError && e.code === 'ERR_ABORTED' && !signal?.aborted) return null;  // every row met a stop string
        throw e;
      }
    });
    const out = list.map((p, i): Generation => {
      const h = result?.value[i][0];
      const row = rows[i];
      if (row.stopped || !h) return { prompt: typeof p === 'string' ? p : this.text(p), text: row.text, ids: row.ids, stopReason: 'stop', logProb: NaN };
      const reason = !h.finished ? 'length' : h.stopToken === this.eosId ? 'eos' : 'stopToken';
      return { prompt: typeof p === 'string' ? p : this.text(p), text: this.text(h.ids), ids: Array.from(h.ids), stopReason: reason, logProb: h.logProb };
    });
    return single ? out[0] : out;
  }

  /**
   * The text of generate(prompt, options) as it is produced, in pieces (never half a character;
   * cut before a stop string). Breaking out of the loop, or the signal, stops the generation.
   */
  stream(prompt: string | readonly number[], options: Omit<GenerateOptions, 'beamSize'> = {}): AsyncIterable<string> {
    const op = 'GPT.stream';
    const { native, signal, stops } = this.generateArgs(options, op);
    if (native.beamSize !== 1) throw new RangeError(`${op}: beams are not streamed; use generate()`);
    const ids = [this.encodePrompt(prompt, op)];
    const row = new RowText(this.tokenizer, stops);
    return streamTask<string>(op, signal, (fn) => this.enqueue(fn),
      (m, onItem) => startTask(m, 'generate', { options: native, tensors: sequenceTensors('prompts', padBatch(ids, op)), onItem }),
      (item, stop) => {
        const token = (item as [number, number, number])[2];
        const last = this.isStop(token, native);
        let piece = row.push(token, last);
        if (row.stopped) stop();
        if (last || row.stopped) piece += row.rest();
        return piece ? [piece] : [];
      });
  }

  /** The self-attention weights of a prompt: every block's [heads, T, T] as one tensor [layers, heads, T, T], and the tokens. */
  async attention(prompt: string | readonly number[]): Promise<{ weights: Tensor; tokens: string[] }> {
    const op = 'GPT.attention';
    const ids = this.encodePrompt(prompt, op).slice(-this.maxLength);
    const weights = await this.enqueue(async (m) => {
      const r = await runJob(op, undefined, () => startTask(m, 'attention', { tensors: sequenceTensors('inputs', padBatch([ids], op)) }));
      return new Tensor(r.tensors.get('attention')!);
    });
    return { weights, tokens: ids.map((id) => (id < this.tokenizer.size ? this.tokenizer.decode([id], { skipSpecial: false }) : '')) };
  }

  /** The text of ids, without those past the tokenizer's (rows of a padded token table). */
  private text(ids: ArrayLike<number>): string {
    return this.tokenizer.decode(Array.from(ids).filter((id) => id < this.tokenizer.size));
  }

  private isStop(token: number, native: { stopTokens: number[]; stopAtEos: boolean }): boolean {
    return (native.stopAtEos && token === this.eosId) || native.stopTokens.includes(token);
  }

  private generateArgs(options: GenerateOptions, op: string) {
    const o = checkOptions(op, options);
    const signal = checkSignal(o.signal, op);
    const temperature = optNumber(op, o, 'temperature', { min: 0 }), topK = optInt(op, o, 'topK'), topP = optNumber(op, o, 'topP', { min: 0, max: 1 });
    const stop = o.stop === undefined ? [] : typeof o.stop === 'string' ? [o.stop] : checkStringArray(op, 'option stop', o.stop);
    for (const s of stop) if (s.length === 0) throw new RangeError(`${op}: a stop string must not be empty`);
    const stopTokens = o.stopTokens === undefined ? [] : Array.from(checkArrayOfIds(o.stopTokens, this.vocabSize, op));
    const native = {
      maxLength: optInt(op, o, 'maxNewTokens', { min: 1 }) ?? 64,
      beamSize: optInt(op, o, 'beamSize', { min: 1 }) ?? 1,
      sample: optBool(op, o, 'sample') ?? (temperature !== undefined || topK !== undefined || topP !== undefined),
      temperature: temperature ?? 1,
      topK: topK ?? 0,
      topP: topP ?? 1,
      repetitionPenalty: optNumber(op, o, 'repetitionPenalty', { min: 1e-4, max: 1e4 }) ?? 1,
      stopTokens,
      stopAtEos: optBool(op, o, 'stopAtEos') ?? true,
      seed: optSeed(op, o) ?? 0,
      batchSize: optInt(op, o, 'batchSize', { min: 1 }) ?? 16,
    };
    return { native, signal, stops: stop };
  }
}

/** The tokenizer files of a Hugging Face directory: tokenizer.json, or vocab.json + merges.txt. */
function checkArrayOfIds(v: unknown, vocab: number, op: string): number[] {
  if (!Array.isArray(v)) throw new TypeError(`${op}: option stopTokens must be an array of ids, got ${typeName(v)}`);
  return v.map((id, i) => checkInt(op, `option stopTokens[${i}]`, id, { min: 0, max: vocab - 1 }));
}
