// The base of the typed module classes: a façade over a native module (cpp/nn) with its
// parameters, modes, checkpoints and the jobs that run on worker threads (fit, evaluate, predict,
// save, load). Jobs on one module run one after another, in call order (DESIGN.md §2).
import { QkvError } from '../errors';
import { Tensor, describe, handle } from '../tensor';
import { AdamW, checkOptimizer, type Optimizer, type Schedule } from '../optim/index';
import { nnBinding, type NativeJob, type NativeModule } from './native-nn';
import { progressCallback, type EvalResult, type TrainProgress, type TrainResult } from '../training';

/** A training or evaluation set: row i of `inputs` goes with row i of `targets`. */
export interface Dataset {
  /** [N, ...]: float features, or int32 ids for models that start with an Embedding. */
  inputs: Tensor;
  /** [N, ...]: int32 class ids for cross-entropy (ignoreIndex skips a target), floats of the output's shape for MSE. */
  targets: Tensor;
}

export type LossName = 'crossEntropy' | 'mse';

export interface LossOptions {
  /** Default 'crossEntropy' (the output [..., C] against int32 targets [...]). */
  loss?: LossName;
  /** Cross-entropy targets equal to this are skipped. Default -100. */
  ignoreIndex?: number;
  /** Cross-entropy label smoothing in [0, 1]. Default 0. */
  labelSmoothing?: number;
}

export interface FitOptions extends LossOptions {
  /** Epochs of this call. Default 1 (with maxSteps alone, as many as those steps take). */
  epochs?: number;
  /** At most this many optimizer steps in this call. */
  maxSteps?: number;
  /** Samples per micro-batch. Default 32. */
  batchSize?: number;
  /** Default: a fresh AdamW (lr 1e-3) over the model's parameters. */
  optimizer?: Optimizer;
  /** Sets the optimizer's learning-rate schedule (it keeps it afterwards). */
  schedule?: Schedule;
  /** Clip the global gradient norm to this before each step (0 or undefined: no clipping). */
  clipNorm?: number;
  /** Micro-batches whose gradients are summed (sample-weighted) into each optimizer step. Default 1. */
  accumulate?: number;
  /** Reshuffle the samples each epoch. Default true. */
  shuffle?: boolean;
  /** Seed of the shuffling (the order of epoch e derives from (seed, e)). Default 0. A fit with an
   * optimizer that has taken steps continues its step count and the data order where it stopped. */
  seed?: number;
  /** Evaluated at the end of each epoch (eval mode, no gradients). */
  validation?: Dataset;
  /** Batch size of the validation passes. Default max(batchSize, 256). */
  evalBatchSize?: number;
  /** Aborting rejects the fit with QkvError ERR_ABORTED; the steps taken so far are kept. */
  signal?: AbortSignal;
  /**
   * Called on the main thread after optimizer steps. Reports that pile up while the event loop is
   * busy are coalesced (the newest wins); the last one arrives before the fit resolves. Per-epoch
   * results are in the resolved {@link TrainResult}. If it throws, the fit is aborted and rejects
   * with that error.
   */
  onProgress?: (p: TrainProgress) => void;
}

export interface EvaluateOptions extends LossOptions {
  /** Default 256. */
  batchSize?: number;
  signal?: AbortSignal;
}

export interface SaveOptions {
  /** Also save this optimizer's state (its parameters must be the model's). */
  optimizer?: Optimizer;
  /** Your own string entries for the file's `__metadata__` (keys starting with 'qkv.' are reserved). */
  metadata?: Record<string, string>;
}

export interface LoadOptions {
  /** Also restore this optimizer's state (the file must hold one for the same parameters). */
  optimizer?: Optimizer;
}

export interface LoadResult {
  /** Every `__metadata__` entry of the file (yours, and qkv.config / qkv.optimizer / qkv.format). */
  metadata: Record<string, string>;
}

const kCtor = Symbol('qkv.nn.handle');

/** Constructors of the module classes by native type, filled in by layers.ts. */
export const moduleClasses = new Map<string, new (...args: never[]) => Module>();

/** @internal Wraps a native module in the class of its type. */
export function wrapModule(m: NativeModule): Module {
  const cls = moduleClasses.get(nnBinding.nnType(m)) ?? GenericModule;
  const obj = Object.create(cls.prototype) as Module;
  (obj as unknown as { [kCtor]: (m: NativeModule) => void })[kCtor](m);
  return obj;
}

function abortError(op: string): QkvError {
  return new QkvError(`${op}: aborted`, 'ERR_ABORTED');
}

function checkSignal(signal: unknown, op: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).addEventListener !== 'function' || !('aborted' in signal))
    throw new TypeError(`${op}: signal must be an AbortSignal, got ${describe(signal)}`);
  return signal as AbortSignal;
}

/** Starts a native job, wiring `signal` to its abort(); the listener goes away when it settles. */
async function runJob<T>(op: string, signal: AbortSignal | undefined, start: () => NativeJob<T>): Promise<T> {
  if (signal?.aborted) throw abortError(op);
  const job = start();
  if (!signal) return job.promise;
  const onAbort = () => job.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await job.promise;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function checkDataset(d: unknown, op: string, what: string): Dataset {
  if (typeof d !== 'object' || d === null) throw new TypeError(`${op}: ${what} must be { inputs: Tensor, targets: Tensor }, got ${describe(d)}`);
  const { inputs, targets } = d as Dataset;
  handle(inputs, op, `${what}.inputs`);
  handle(targets, op, `${what}.targets`);
  return { inputs, targets };
}

function optionsObject<T>(o: T | undefined, op: string): T {
  if (o === undefined) return {} as T;
  if (typeof o !== 'object' || o === null) throw new TypeError(`${op}: options must be an object, got ${describe(o)}`);
  return o;
}

function lossOptions(o: LossOptions): Record<string, unknown> {
  return { loss: o.loss, ignoreIndex: o.ignoreIndex, labelSmoothing: o.labelSmoothing };
}

/**
 * A module of the core: named parameters (leaves that require gradients), buffers and children,
 * a forward pass recorded by the autograd, train/eval modes, checkpoints, and a training loop that
 * runs natively on a worker thread.
 */
export abstract class Module {
  /** @internal The native module. */
  _m!: NativeModule;
  private _tail: Promise<void> = Promise.resolve();
  private _pending = 0;

  /** @internal */
  protected constructor(type: string, options: Record<string, unknown>) {
    this[kCtor](nnBinding.nnCreate(type, options));
  }

  /** @internal */
  [kCtor](m: NativeModule): void {
    this._m = m;
    this._tail = Promise.resolve();
    this._pending = 0;
  }

  /** The native type name ('Linear', 'MLP', ...). */
  get type(): string {
    return nnBinding.nnType(this._m);
  }
  /** The hyperparameters that rebuild this module (saved as `qkv.config` in checkpoints). */
  get config(): Record<string, unknown> {
    return JSON.parse(nnBinding.nnConfig(this._m)) as Record<string, unknown>;
  }

  /**
   * The forward pass, on the calling thread, recorded by the autograd when a parameter or the
   * input requires gradients (wrap it in `qkv.noGrad` for inference). Throws QkvError ERR_BUSY while
   * a job (fit, predict, ...) is using the module.
   */
  forward(x: Tensor): Tensor {
    return new Tensor(nnBinding.nnForward(this._m, x instanceof Tensor ? x._h : handle(x, `${this.type}.forward`, 'input')));
  }

  /** Parameters with dotted names ('0.weight', 'fc1.bias'), depth-first in registration order. */
  namedParameters(): [string, Tensor][] {
    return nnBinding.nnNamedParameters(this._m).map(([n, h]) => [n, new Tensor(h)]);
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  /** The parameter with this dotted name. */
  parameter(name: string): Tensor {
    const found = this.namedParameters().find(([n]) => n === name);
    if (!found) throw new RangeError(`${this.type}: no parameter named '${name}'`);
    return found[1];
  }
  namedBuffers(): [string, Tensor][] {
    return nnBinding.nnNamedBuffers(this._m).map(([n, h]) => [n, new Tensor(h)]);
  }
  /** Parameters and persistent buffers by dotted name (sharing memory with the module): what a checkpoint holds. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...nnBinding.nnNamedBuffers(this._m, true).map(([n, h]): [string, Tensor] => [n, new Tensor(h)])]);
  }
  /**
   * Copies tensors into the parameters and buffers, strictly (as {@link Module.load}): every name
   * must be present with its shape and no other may be (float32/float64 convert); otherwise QkvError
   * ERR_FORMAT naming the tensor, and nothing is changed.
   */
  loadStateDict(tensors: Map<string, Tensor> | Record<string, Tensor>): Promise<void> {
    const op = 'loadStateDict';
    return this.enqueue(() => {
      const entries = tensors instanceof Map ? [...tensors.entries()] : typeof tensors === 'object' && tensors !== null ? Object.entries(tensors) : null;
      if (!entries) throw new TypeError(`${op}: tensors must be a Map or an object of Tensors, got ${describe(tensors)}`);
      return nnBinding.nnLoadStateDict(this._m, entries.map(([n]) => n), entries.map(([n, t]) => handle(t, op, `tensor '${n}'`)));
    });
  }
  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return nnBinding.nnNamedChildren(this._m).map(([n, m]) => [n, wrapModule(m)]);
  }
  /** Number of trainable elements (a tied parameter counts once). */
  get parameterCount(): number {
    return nnBinding.nnParameterCount(this._m);
  }

  /** Training mode (dropout active) for this module and its children. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError('train: mode must be a boolean');
    nnBinding.nnSetTraining(this._m, mode);
    return this;
  }
  /** Evaluation mode (dropout off). */
  eval(): this {
    return this.train(false);
  }
  get training(): boolean {
    return nnBinding.nnIsTraining(this._m);
  }
  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    nnBinding.nnZeroGrad(this._m);
  }
  /** Whether a job is using the module (or one of its children) now. */
  get busy(): boolean {
    return nnBinding.nnBusy(this._m);
  }

  /**
   * Runs jobs on this module one after another, in call order. When nothing is pending the job
   * starts now, so that the module is busy as soon as the call returns.
   */
  private enqueue<T>(start: () => Promise<T>): Promise<T> {
    let p: Promise<T>;
    if (this._pending === 0) {
      try {
        p = start();
      } catch (err) {
        p = Promise.reject(err);
      }
    } else {
      p = this._tail.then(start);
    }
    this._pending++;
    // Registered before the caller can await p, so it runs first: a job queued right after this
    // one settles starts synchronously.
    const settled = () => {
      this._pending--;
    };
    this._tail = p.then(settled, settled);
    return p;
  }

  /**
   * Trains the module on a worker thread: batching, forward, loss, backward, clipping, the
   * optimizer step and the schedule all run natively, so the event loop stays free. Rejects with
   * QkvError ERR_ABORTED when `signal` aborts and ERR_NAN when the loss or the gradient norm stops
   * being finite (naming the step); the module stays usable either way.
   */
  fit(dataset: Dataset, options: FitOptions = {}): Promise<TrainResult> {
    const op = 'fit';
    return this.enqueue(() => {
      const o = optionsObject(options, op);
      const data = checkDataset(dataset, op, 'dataset');
      const val = o.validation === undefined ? undefined : checkDataset(o.validation, op, 'validation');
      const optimizer = o.optimizer === undefined ? new AdamW(this, { lr: 1e-3 }) : checkOptimizer(o.optimizer, op);
      if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError(`${op}: onProgress must be a function`);
      const signal = checkSignal(o.signal, op);
      if (o.schedule !== undefined) optimizer.schedule = o.schedule;
      const native = {
        epochs: o.epochs,
        maxSteps: o.maxSteps,
        batchSize: o.batchSize,
        accumulate: o.accumulate,
        clipNorm: o.clipNorm,
        shuffle: o.shuffle,
        seed: o.seed,
        evalBatchSize: o.evalBatchSize,
        ...lossOptions(o),
      };
      const onProgress = o.onProgress;
      return runJob(op, signal, () =>
        nnBinding.nnFit(
          this._m,
          optimizer._o,
          data.inputs._h,
          data.targets._h,
          val ? val.inputs._h : null,
          val ? val.targets._h : null,
          native,
          progressCallback(onProgress),
        ),
      );
    });
  }

  /** Mean loss (and accuracy for cross-entropy) over a dataset, in eval mode without gradients, on a worker thread. */
  evaluate(dataset: Dataset, options: EvaluateOptions = {}): Promise<EvalResult> {
    const op = 'evaluate';
    return this.enqueue(() => {
      const o = optionsObject(options, op);
      const data = checkDataset(dataset, op, 'dataset');
      const signal = checkSignal(o.signal, op);
      return runJob(op, signal, () =>
        nnBinding.nnEvaluate(this._m, data.inputs._h, data.targets._h, { batchSize: o.batchSize, ...lossOptions(o) }),
      );
    });
  }

  /** The outputs for `inputs` [N, ...] in batches (eval mode, no gradients), on a worker thread. */
  predict(inputs: Tensor, options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<Tensor> {
    const op = 'predict';
    return this.enqueue(async () => {
      const o = optionsObject(options, op);
      const h = handle(inputs, op, 'inputs');
      const batchSize = o.batchSize ?? 256;
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${op}: batchSize must be a positive integer, got ${batchSize}`);
      const signal = checkSignal(o.signal, op);
      return new Tensor(await runJob(op, signal, () => nnBinding.nnPredict(this._m, h, batchSize)));
    });
  }

  /**
   * Writes a safetensors checkpoint atomically: the parameters and persistent buffers under their
   * dotted names, the config, and optionally the optimizer's state and your metadata.
   */
  save(path: string, options: SaveOptions = {}): Promise<void> {
    const op = 'save';
    return this.enqueue(() => {
      if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${op}: path must be a non-empty string`);
      const o = optionsObject(options, op);
      const opt = o.optimizer === undefined ? null : checkOptimizer(o.optimizer, op)._o;
      const metadata = o.metadata ?? {};
      if (typeof metadata !== 'object' || metadata === null) throw new TypeError(`${op}: metadata must be an object of strings`);
      return nnBinding.nnSave(this._m, path, opt, metadata);
    });
  }

  /**
   * Loads a checkpoint into this module (and optimizer), strictly: every tensor must be present
   * with the same shape and nothing else may be; otherwise QkvError ERR_FORMAT naming the tensor,
   * and nothing is changed. Tensors handed out before (`parameters()`) see the new values.
   */
  load(path: string, options: LoadOptions = {}): Promise<LoadResult> {
    const op = 'load';
    return this.enqueue(async () => {
      if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${op}: path must be a non-empty string`);
      const o = optionsObject(options, op);
      const opt = o.optimizer === undefined ? null : checkOptimizer(o.optimizer, op)._o;
      return { metadata: await nnBinding.nnLoad(this._m, path, opt) };
    });
  }

  /** Waits for the module's jobs, then frees it (its tensors handed out stay valid until disposed). */
  dispose(): Promise<void> {
    return this.enqueue(async () => nnBinding.nnDispose(this._m));
  }

  toString(): string {
    return `${this.type}(${JSON.stringify(this.config)})`;
  }
}

/** A module of a type that has no class of its own here (created by model code in the core). */
export class GenericModule extends Module {
  private constructor() {
    super('', {});
  }
}
