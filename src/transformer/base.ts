// What every transformer class shares: the native module handle, its parameters and modes, the
// order of asynchronous calls, and dispose(). (DESIGN.md §2: calls on one model run in order,
// never concurrently; dispose() waits for running work, then frees.)
import { QkvError } from '../errors';
import { Tensor, handle } from '../tensor';
import { tb, type NativeJob, type NativeModule } from './native';

export type Activation = 'relu' | 'gelu' | 'geluTanh' | 'tanh' | 'quickGelu';
export type NormPlacement = 'pre' | 'post';
export type Positional = 'sinusoidal' | 'learned';
export type FloatDType = 'float32' | 'float64';

/** Options shared by the layers and models (the fields of a layer config). */
export interface LayerConfig {
  /** Model width D (default 128 for models). */
  dim?: number;
  /** Attention heads H; D must be a multiple of H (default 4 for models). */
  heads?: number;
  /** Feed-forward width (default 4·D). */
  ffDim?: number;
  /** Residual and feed-forward dropout while training (default 0.1). */
  dropout?: number;
  /** Dropout on the attention weights while training (default 0). */
  attentionDropout?: number;
  /** Feed-forward activation (default 'relu'). */
  activation?: Activation;
  /** Layer norm before each block (pre-LN, default) or after each residual sum (post-LN, as in the original paper). */
  norm?: NormPlacement;
  eps?: number;
  /** One projection for Q, K and V (self-attention) and for K and V (cross-attention) (default true). */
  fused?: boolean;
  bias?: boolean;
  dtype?: FloatDType;
  /** Initialisation and dropout seed (default 0). */
  seed?: number;
}

export function checkSignal(signal: unknown, op: string): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== 'object' || typeof (signal as AbortSignal).addEventListener !== 'function' || !('aborted' in (signal as object)))
    throw new TypeError(`${op}: signal must be an AbortSignal`);
  return signal as AbortSignal;
}

/** Runs a native job, wiring an AbortSignal to its abort(). */
export async function runJob<T>(op: string, signal: AbortSignal | undefined, start: () => NativeJob<T>): Promise<T> {
  if (signal?.aborted) throw new QkvError(`${op}: aborted`, 'ERR_ABORTED');
  const job = start();
  const onAbort = () => job.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await job.promise;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

export function checkInt(v: unknown, op: string, name: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${op}: ${name} must be an integer`);
  if (v < min) throw new RangeError(`${op}: ${name} must be >= ${min}, got ${v}`);
  return v;
}

export function lengthsArg(v: unknown, op: string, name: string): Int32Array | null {
  if (v === undefined || v === null) return null;
  if (v instanceof Int32Array) return v;
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x))) return Int32Array.from(v as number[]);
  throw new TypeError(`${op}: ${name} must be an array of integers`);
}

/** A native module: parameters, modes, state dicts, disposal. */
export abstract class NativeModuleBase {
  private _m: NativeModule | null;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private disposing = false;

  protected constructor(m: NativeModule) {
    this._m = m;
  }

  /** @internal */
  get _handle(): NativeModule {
    if (!this._m || this.disposing) throw new QkvError(`${this.constructor.name}: the model is disposed`, 'ERR_DISPOSED');
    return this._m;
  }

  /** The native module type ("Seq2Seq", "MultiHeadAttention", ...). */
  get type(): string {
    return tb.nnType(this._handle);
  }

  /** The hyperparameters that rebuild this module (as saved in checkpoints). */
  get config(): Record<string, unknown> {
    return JSON.parse(tb.nnConfig(this._handle)) as Record<string, unknown>;
  }

  /** Number of trained values (tied weights counted once). */
  get parameterCount(): number {
    return tb.nnParameterCount(this._handle);
  }

  /** Parameters under their dotted names (PyTorch's names: "encoder.layers.0.self_attn.in_proj.weight", ...). */
  namedParameters(): [string, Tensor][] {
    return tb.nnNamedParameters(this._handle).map(([n, t]) => [n, new Tensor(t)]);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Copies values into named parameters (checked first: every name must exist with the same shape). */
  loadStateDict(entries: Iterable<[string, Tensor]> | Record<string, Tensor>): void {
    const list: [string, Tensor][] = Symbol.iterator in Object(entries)
      ? [...(entries as Iterable<[string, Tensor]>)]
      : Object.entries(entries as Record<string, Tensor>);
    tb.tfSetParameters(this._handle, list.map(([n, t]) => [n, handle(t, 'loadStateDict', n)]));
  }

  /** Training mode (dropout on) or not. */
  train(on = true): this {
    tb.nnSetTraining(this._handle, on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  get training(): boolean {
    return tb.nnIsTraining(this._handle);
  }

  zeroGrad(): void {
    tb.nnZeroGrad(this._handle);
  }

  get disposed(): boolean {
    return this._m === null || this.disposing;
  }

  /** Frees the native module, after the calls already queued on it have settled. Idempotent. */
  dispose(): void {
    if (!this._m || this.disposing) return;
    this.disposing = true;
    const free = () => {
      if (this._m) tb.nnDispose(this._m);
      this._m = null;
      this.released();
    };
    if (this.pending === 0) free();
    else void this.queue.then(free, free);
  }

  /** Called once the native module is freed: drop what else holds native memory. */
  protected released(): void {}

  /**
   * Runs `fn` after the calls queued before it (calls on one model never overlap). The handle is
   * taken now: a model disposed later still finishes the calls queued before dispose().
   */
  protected enqueue<T>(fn: (m: NativeModule) => Promise<T>): Promise<T> {
    let m: NativeModule;
    try {
      m = this._handle;
    } catch (e) {
      return Promise.reject(e);
    }
    this.pending++;
    const run = this.queue.then(() => fn(m), () => fn(m));
    this.queue = run.then(
      () => this.pending--,
      () => this.pending--,
    );
    return run;
  }
}

/** The layer fields of a config, defaults filled in, checked. */
export function layerConfig(o: LayerConfig, op: string, defaults: { dim: number; heads: number }): Record<string, unknown> {
  const dim = checkInt(o.dim ?? defaults.dim, op, 'dim', 1);
  const heads = checkInt(o.heads ?? defaults.heads, op, 'heads', 1);
  if (dim % heads !== 0) throw new RangeError(`${op}: dim ${dim} is not a multiple of heads ${heads}`);
  const num = (v: unknown, name: string, lo: number, hi: number, fallback: number) => {
    const x = v ?? fallback;
    if (typeof x !== 'number') throw new TypeError(`${op}: ${name} must be a number`);
    if (!(x >= lo && x < hi)) throw new RangeError(`${op}: ${name} must be in [${lo}, ${hi}), got ${x}`);
    return x;
  };
  const oneOf = <T extends string>(v: unknown, name: string, allowed: readonly T[], fallback: T): T => {
    const x = v ?? fallback;
    if (!allowed.includes(x as T)) throw new TypeError(`${op}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
    return x as T;
  };
  return {
    dim,
    heads,
    ffDim: checkInt(o.ffDim ?? 4 * dim, op, 'ffDim', 1),
    dropout: num(o.dropout, 'dropout', 0, 1, 0.1),
    attentionDropout: num(o.attentionDropout, 'attentionDropout', 0, 1, 0),
    activation: oneOf(o.activation, 'activation', ['relu', 'gelu', 'geluTanh', 'tanh', 'quickGelu'] as const, 'relu'),
    norm: oneOf(o.norm, 'norm', ['pre', 'post'] as const, 'pre'),
    eps: num(o.eps, 'eps', 1e-12, 1, 1e-5),
    fused: o.fused ?? true,
    bias: o.bias ?? true,
    dtype: oneOf(o.dtype, 'dtype', ['float32', 'float64'] as const, 'float32'),
    seed: checkInt(o.seed ?? 0, op, 'seed', 0),
  };
}
