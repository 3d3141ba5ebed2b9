// The base of the typed module classes: a façade over a native module (cpp/nn) with its
// parameters, modes, checkpoints and the jobs that run on worker threads (fit, evaluate, predict,
// save, load). Jobs on one module run one after another, in call order (the call queue of src/jobs.ts).
import { QkvError, named } from '../errors';
import {
  checkArray, checkBool, checkFunction, checkObject, checkOptions, checkPath, checkString, checkStringRecord, optBool, optEnum, optInt, optNumber,
  notOptionClasses, optSeed, typeName, type Options,
} from '../args';
import { Tensor, handle } from '../tensor';
import { AdamW, type Optimizer, type Schedule } from '../optim/index';
import { checkOptimizer } from '../optim/check';
import { checkSchedule } from '../optim/schedules';
import { nnBinding, type NativeModule, type NativeOptimizer } from './native-nn';
import type { NativeTensor } from '../native';
import { CallQueue, checkSignal, runJob, startTask, taskValue } from '../jobs';
import { progressCallback, trainResult, type EvalResult, type NativeTrainResult, type TrainProgress, type TrainResult } from '../training';

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
  /**
   * Also save an optimizer's state: this optimizer (its parameters must be the model's), or with
   * `true` the state that the model's own fit() kept (the transformer models; QkvError ERR_NO_STATE
   * when there is none).
   */
  optimizer?: Optimizer | boolean;
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
export const moduleClasses = new Map<string, new (...args: never[]) => SupervisedModule>();

/** @internal Wraps a native module in the class of its type. */
export function wrapModule(m: NativeModule): SupervisedModule {
  const cls = moduleClasses.get(nnBinding.nnType(m)) ?? GenericModule;
  const obj = Object.create(cls.prototype) as SupervisedModule;
  (obj as unknown as { [kCtor]: (m: NativeModule) => void })[kCtor](m);
  return obj;
}

/** @internal */
export function noOptimizerState(op: string, what = 'optimizer: true'): QkvError {
  return new QkvError(
    `${op}: ${what} needs optimizer state, and this model has none: train it with fit() first, or load a checkpoint saved with { optimizer: true }`,
    'ERR_NO_STATE',
  );
}

function checkDataset(d: unknown, op: string, what: string): Dataset {
  const o = checkObject(op, what, d, '{ inputs: Tensor, targets: Tensor }');
  const inputs = o.inputs, targets = o.targets;
  handle(inputs, op, `${what}.inputs`);
  handle(targets, op, `${what}.targets`);
  return { inputs: inputs as Tensor, targets: targets as Tensor };
}

/** The loss options as the native task reads them, checked. */
function lossOptions(o: Options, op: string): Record<string, unknown> {
  return {
    loss: optEnum(op, o, 'loss', ['crossEntropy', 'mse'] as const),
    ignoreIndex: optInt(op, o, 'ignoreIndex', { min: -0x80000000 }),
    labelSmoothing: optNumber(op, o, 'labelSmoothing', { min: 0, max: 1 }),
  };
}

/**
 * A module of the core: named parameters (leaves that require gradients), buffers and children,
 * a forward pass recorded by the autograd, train/eval modes, checkpoints, and a training loop that
 * runs natively on a worker thread.
 */
export abstract class Module {
  /** @internal The native module. */
  _m!: NativeModule;
  // Set in [kCtor], not as field initialisers: wrapModule builds instances without a constructor.
  private _calls!: CallQueue;
  private _disposal!: Promise<void> | null;

  /** @internal A module of a native type built from options, or around a native module made elsewhere (a model, a checkpoint). */
  protected constructor(type: string | NativeModule, options: Record<string, unknown> = {}) {
    this[kCtor](typeof type === 'string' ? named(`nn.${type}`, () => nnBinding.nnCreate(type, options)) : type);
  }

  /** @internal */
  [kCtor](m: NativeModule): void {
    this._m = m;
    this._calls = new CallQueue();
    this._disposal = null;
  }

  /** @internal The native module; QkvError ERR_DISPOSED once dispose() was called. */
  get _handle(): NativeModule {
    if (this._disposal) throw new QkvError(`${this.constructor.name}: the model is disposed`, 'ERR_DISPOSED');
    return this._m;
  }

  /** The native type name ('Linear', 'MLP', ...). */
  get type(): string {
    return nnBinding.nnType(this._handle);
  }
  /** The hyperparameters that rebuild this module (saved as `qkv.config` in checkpoints). */
  get config(): Record<string, unknown> {
    return JSON.parse(nnBinding.nnConfig(this._handle)) as Record<string, unknown>;
  }

  /**
   * The forward pass, on the calling thread, recorded by the autograd when a parameter or the
   * input requires gradients (wrap it in `qkv.noGrad` for inference). Throws QkvError ERR_BUSY while
   * a job (fit, predict, ...) is using the module.
   */
  forward(x: Tensor): Tensor {
    return new Tensor(nnBinding.nnForward(this._handle, x instanceof Tensor ? x._h : handle(x, `${this.type}.forward`, 'input')));
  }

  /** Parameters with dotted names ('0.weight', 'fc1.bias'), depth-first in registration order. */
  namedParameters(): [string, Tensor][] {
    return nnBinding.nnNamedParameters(this._handle).map(([n, h]) => [n, new Tensor(h)]);
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  /** The parameter with this dotted name. */
  parameter(name: string): Tensor {
    checkString(`${this.type}.parameter`, 'name', name);
    const found = this.namedParameters().find(([n]) => n === name);
    if (!found) throw new RangeError(`${this.type}: no parameter named '${name}'`);
    return found[1];
  }
  namedBuffers(): [string, Tensor][] {
    return nnBinding.nnNamedBuffers(this._handle).map(([n, h]) => [n, new Tensor(h)]);
  }
  /** Parameters and persistent buffers by dotted name (sharing memory with the module): what a checkpoint holds. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...nnBinding.nnNamedBuffers(this._handle, true).map(([n, h]): [string, Tensor] => [n, new Tensor(h)])]);
  }
  /**
   * Copies tensors into the parameters and buffers (a Map, an object, or [name, tensor] pairs),
   * strictly by default (as {@link Module.load}): every name must be present with its shape and no
   * other may be (float32/float64 convert); otherwise QkvError ERR_FORMAT naming the tensor, and
   * nothing is changed. With `{ strict: false }` (PyTorch's strict=False) the names given are
   * loaded, the others keep their values and unknown names are ignored; shapes must still match.
   */
  loadStateDict(tensors: Map<string, Tensor> | Record<string, Tensor> | Iterable<[string, Tensor]>, options: { strict?: boolean } = {}): Promise<void> {
    const op = 'loadStateDict';
    return this.enqueue((m) => {
      const raw = tensors instanceof Map ? [...tensors.entries()] : Array.isArray(tensors) ? tensors
        : typeof tensors === 'object' && tensors !== null ? Object.entries(tensors as Record<string, Tensor>) : null;
      if (!raw) throw new TypeError(`${op}: tensors must be a Map, an object of Tensors or [name, Tensor] pairs, got ${typeName(tensors)}`);
      const entries = checkArray(op, 'tensors', raw, (pair, name) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`${op}: ${name} must be a [name, Tensor] pair, got ${typeName(pair)}`);
        const n = checkString(op, `${name}[0]`, pair[0]);
        return [n, handle(pair[1], op, `tensor '${n}'`)] as const;
      });
      const strict = optBool(op, checkOptions(op, options), 'strict') ?? true;
      return nnBinding.nnLoadStateDict(m, entries.map(([n]) => n), entries.map(([, h]) => h), strict);
    });
  }
  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return nnBinding.nnNamedChildren(this._handle).map(([n, m]) => [n, wrapModule(m)]);
  }
  /** Number of trainable elements (a tied parameter counts once). */
  get parameterCount(): number {
    return nnBinding.nnParameterCount(this._handle);
  }

  /** Training mode (dropout active) for this module and its children. */
  train(mode = true): this {
    nnBinding.nnSetTraining(this._handle, checkBool('train', 'mode', mode));
    return this;
  }
  /** Evaluation mode (dropout off). */
  eval(): this {
    return this.train(false);
  }
  get training(): boolean {
    return nnBinding.nnIsTraining(this._handle);
  }
  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    nnBinding.nnZeroGrad(this._handle);
  }
  /** Whether a job is using the module (or one of its children) now. */
  get busy(): boolean {
    return nnBinding.nnBusy(this._handle);
  }

  /**
   * Runs calls on this module one after another, in call order (one queue for fit, evaluate,
   * predict, save, load and the models' own calls). When nothing is pending the call starts now, so
   * that the module is busy as soon as the call returns. `fn` gets the native module as of the call:
   * a module disposed later still finishes the calls queued before dispose().
   */
  protected enqueue<T>(fn: (m: NativeModule) => Promise<T> | T): Promise<T> {
    let m: NativeModule;
    try {
      m = this._handle;
    } catch (e) {
      return Promise.reject(e);
    }
    return this._calls.enqueue(() => fn(m));
  }

  /**
   * Writes a safetensors checkpoint atomically: the parameters and persistent buffers under their
   * dotted names, the config, and optionally the optimizer's state and your metadata.
   */
  save(path: string, options: SaveOptions = {}): Promise<void> {
    const op = 'save';
    // Argument errors are thrown now; state errors (no kept optimizer state) reject.
    checkPath(op, 'path', path);
    const o = checkOptions(op, options);
    const own = o.metadata === undefined ? {} : checkStringRecord(op, 'option metadata', o.metadata);
    const optimizer = o.optimizer as Optimizer | boolean | undefined;
    if (optimizer !== undefined && typeof optimizer !== 'boolean') checkOptimizer(optimizer, op);
    return this.enqueue((m) => {
      const metadata = { ...own, ...this.checkpointMetadata() };
      return nnBinding.nnSave(m, path, this.optimizerToSave(optimizer, op), metadata);
    });
  }

  /** @internal The native optimizer that save() writes for its `optimizer` option. */
  protected optimizerToSave(optimizer: Optimizer | boolean | undefined, op: string): NativeOptimizer | null {
    if (optimizer === undefined || optimizer === false) return null;
    if (optimizer === true) throw noOptimizerState(op);
    return checkOptimizer(optimizer, op)._o;
  }

  /** @internal Metadata a model writes into its checkpoints (its tokenizer, say). */
  protected checkpointMetadata(): Record<string, string> {
    return {};
  }

  /**
   * Loads a checkpoint into this module (and optimizer), strictly: every tensor must be present
   * with the same shape and nothing else may be; otherwise QkvError ERR_FORMAT naming the tensor,
   * and nothing is changed. Tensors handed out before (`parameters()`) see the new values.
   */
  load(path: string, options: LoadOptions = {}): Promise<LoadResult> {
    const op = 'load';
    return this.enqueue(async () => {
      checkPath(op, 'path', path);
      const o = checkOptions(op, options);
      const opt = o.optimizer === undefined ? null : checkOptimizer(o.optimizer, op)._o;
      return { metadata: await nnBinding.nnLoad(this._m, path, opt) };
    });
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this._disposal !== null;
  }

  /**
   * Frees the native module once the calls queued before have settled; later calls reject with
   * QkvError ERR_DISPOSED. Tensors handed out before (parameters()) stay valid until disposed
   * themselves. Idempotent: every call returns the same promise.
   */
  dispose(): Promise<void> {
    if (!this._disposal) {
      const m = this._m;
      this._disposal = this._calls.idle().then(() => {
        nnBinding.nnDispose(m);
        this.released();
      });
    }
    return this._disposal;
  }

  /** Called once the native module is freed: drop what else holds native memory. */
  protected released(): void {}

  /** `await using model = ...` disposes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
  /** `using model = ...` starts disposing it at the end of the scope (queued calls still finish). */
  [Symbol.dispose](): void {
    void this.dispose();
  }

  toString(): string {
    return this.disposed ? `${this.constructor.name}(disposed)` : `${this.type}(${JSON.stringify(this.config)})`;
  }
}

notOptionClasses.push(Module);

/**
 * A module trained on tensor datasets: row i of `inputs` goes with row i of `targets`. The layers
 * of qkv.nn (Linear, MLP, Sequential, ...) are such modules; the transformer models have their own
 * fit over texts, on the same training engine.
 */
export abstract class SupervisedModule extends Module {
  /**
   * Trains the module on a worker thread: batching, forward, loss, backward, clipping, the
   * optimizer step and the schedule all run natively, so the event loop stays free. Rejects with
   * QkvError ERR_ABORTED when `signal` aborts and ERR_NAN when the loss or the gradient norm stops
   * being finite (naming the step); the module stays usable either way.
   */
  fit(dataset: Dataset, options: FitOptions = {}): Promise<TrainResult> {
    const op = 'fit';
    return this.enqueue(async () => {
      const o = checkOptions(op, options);
      const data = checkDataset(dataset, op, 'dataset');
      const val = o.validation === undefined ? undefined : checkDataset(o.validation, op, 'option validation');
      const native = {
        epochs: optInt(op, o, 'epochs', { min: 1 }),
        maxSteps: optInt(op, o, 'maxSteps', { min: 0, max: Number.MAX_SAFE_INTEGER }),
        batchSize: optInt(op, o, 'batchSize', { min: 1 }),
        accumulate: optInt(op, o, 'accumulate', { min: 1 }),
        clipNorm: optNumber(op, o, 'clipNorm', { min: 0 }),
        shuffle: optBool(op, o, 'shuffle'),
        seed: optSeed(op, o),
        evalBatchSize: optInt(op, o, 'evalBatchSize', { min: 1 }),
        ...lossOptions(o, op),
      };
      const onProgress = o.onProgress === undefined ? undefined : checkFunction<(p: TrainProgress) => void>(op, 'option onProgress', o.onProgress);
      const signal = checkSignal(o.signal, op);
      const optimizer = o.optimizer === undefined ? new AdamW(this, { lr: 1e-3 }) : checkOptimizer(o.optimizer, op);
      if (o.schedule !== undefined) nnBinding.optimSetSchedule(optimizer._o, checkSchedule(o.schedule, op));
      const tensors: [string, NativeTensor][] = [['inputs', data.inputs._h], ['targets', data.targets._h]];
      if (val) tensors.push(['valInputs', val.inputs._h], ['valTargets', val.targets._h]);
      return trainResult(await taskValue(op, signal, () =>
        startTask<NativeTrainResult>(this._m, 'fit', { options: native, tensors, optimizer: optimizer._o, onProgress: progressCallback(onProgress) })));
    });
  }

  /** Mean loss (and accuracy for cross-entropy) over a dataset, in eval mode without gradients, on a worker thread. */
  evaluate(dataset: Dataset, options: EvaluateOptions = {}): Promise<EvalResult> {
    const op = 'evaluate';
    return this.enqueue(() => {
      const o = checkOptions(op, options);
      const data = checkDataset(dataset, op, 'dataset');
      const native = { batchSize: optInt(op, o, 'batchSize', { min: 1 }), ...lossOptions(o, op) };
      const signal = checkSignal(o.signal, op);
      return taskValue(op, signal, () => startTask<EvalResult>(this._m, 'evaluate', {
        options: native,
        tensors: [['inputs', data.inputs._h], ['targets', data.targets._h]],
      }));
    });
  }

  /** The outputs for `inputs` [N, ...] in batches (eval mode, no gradients), on a worker thread. */
  predict(inputs: Tensor, options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<Tensor> {
    const op = 'predict';
    return this.enqueue(async () => {
      const o = checkOptions(op, options);
      const h = handle(inputs, op, 'inputs');
      const batchSize = optInt(op, o, 'batchSize', { min: 1 }) ?? 256;
      const signal = checkSignal(o.signal, op);
      const r = await runJob(op, signal, () => startTask<unknown>(this._m, 'predict', { options: { batchSize }, tensors: [['inputs', h]] }));
      return new Tensor(r.tensors.get('output')!);
    });
  }

}

/** A module of a type that has no class of its own here (created by model code in the core). */
export class GenericModule extends SupervisedModule {
  private constructor() {
    super('', {});
  }
}
