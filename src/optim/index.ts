// Optimizers, learning-rate schedules and gradient clipping over native parameters
// (cpp/optim). The update rules follow PyTorch 1.13 operation for operation.
import {
  checkArray, checkFunction, checkInt, checkNumber, checkOptions, optBool, optNumber, typeName, type Options,
} from '../args';
import { Tensor, handle, liveTensor } from '../tensor';
import { QkvError } from '../errors';
import { nnBinding, type NativeOptimizer, type NativeSchedule } from '../nn/native-nn';
import { checkSchedule, makeSchedule } from './schedules';

// ---- schedules -------------------------------------------------------------------------------------

/**
 * A learning-rate schedule: a plain object the core reads (`kind`, `warmupSteps`, `totalSteps`,
 * `minLr`) with `lrAt(step, baseLr)` to inspect it. Step `s` counts optimizer steps from 0.
 */
export interface Schedule extends NativeSchedule {
  /** The learning rate of step `step` (0-based) for the base rate `baseLr`. */
  lrAt(step: number, baseLr: number): number;
}

export interface WarmupOptions {
  /** Steps of linear warm-up: step s (0-based) uses baseLr * (s + 1) / warmupSteps. */
  warmupSteps?: number;
  /** Step at which the decay reaches `minLr` (warm-up included); the rate stays there afterwards. */
  totalSteps: number;
  /** The floor of the decay (an absolute rate). Default 0. */
  minLr?: number;
}

/** Learning-rate schedules for {@link Optimizer} options and `fit({ schedule })`. */
export const schedule = {
  /** The base rate at every step. */
  constant(): Schedule {
    return makeSchedule('constant', {}, 'schedule.constant');
  },
  /** Linear warm-up, then a half cosine from the base rate down to `minLr` at `totalSteps`. */
  warmupCosine(options: WarmupOptions): Schedule {
    return makeSchedule('warmupCosine', options, 'schedule.warmupCosine');
  },
  /** Linear warm-up, then a linear decay from the base rate down to `minLr` at `totalSteps`. */
  warmupLinear(options: WarmupOptions): Schedule {
    return makeSchedule('warmupLinear', options, 'schedule.warmupLinear');
  },
};

// ---- parameters ------------------------------------------------------------------------------------

/** What an optimizer can be built over: a module (its parameters that require gradients), `namedParameters()`, or plain tensors. */
export type ParamSource = Tensor[] | [string, Tensor][] | { namedParameters(): [string, Tensor][] };

/** QkvError ERR_DISPOSED naming the call for a disposed module (not the module's own "Linear: ..."). */
function checkLiveSource(source: unknown, op: string): void {
  if (typeof source === 'object' && source !== null && '_m' in source && (source as { disposed?: unknown }).disposed === true)
    throw new QkvError(`${op}: params is a disposed module`, 'ERR_DISPOSED');
}

function namedParams(source: ParamSource, op: string): [string, Tensor][] {
  checkLiveSource(source, op);
  // From a module: its trainable parameters (a frozen one, requiresGrad = false, is left out).
  const named = source && typeof (source as { namedParameters?: unknown }).namedParameters === 'function'
    ? (source as { namedParameters(): unknown }).namedParameters() : null;
  const list = checkArray(op, 'params', named ?? source, (p, name, i): [string, Tensor] => {
    if (p instanceof Tensor) return [String(i), p];
    if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && p[1] instanceof Tensor) return [p[0], p[1]];
    throw new TypeError(`${op}: ${name} must be a Tensor or a [name, Tensor] pair, got ${typeName(p)}`);
  }, { what: 'a module, an array of Tensors or of [name, Tensor] pairs' });
  // From a module: its trainable parameters (a frozen one, requiresGrad = false, is left out).
  return named ? list.filter(([, p]) => p.requiresGrad) : list;
}

/** Decides whether weight decay applies to a parameter (name as in `namedParameters()`, or its index). */
export type DecayFilter = (name: string, param: Tensor) => boolean;

/** Matrices decay; vectors (biases, norm weights) and scalars do not. */
export const decayMatricesOnly: DecayFilter = (_name, p) => liveTensor(p, 'decayMatricesOnly', 'param').ndim >= 2;

/**
 * The default of AdamW: over a module, what its layers declare (weight matrices decay; biases,
 * norms and lookup tables such as embeddings and positional tables do not); over plain tensors,
 * {@link decayMatricesOnly}.
 */
function declaredDecay(source: ParamSource, op: string): DecayFilter {
  if (typeof source !== 'object' || source === null) return decayMatricesOnly;
  checkLiveSource(source, op);
  const m = (source as { _m?: unknown })._m;
  if (m === undefined || m === null) return decayMatricesOnly;
  const declared = nnBinding.nnParameterDecay(m as Parameters<typeof nnBinding.nnParameterDecay>[0]);
  return (name, p) => declared[name] ?? decayMatricesOnly(name, p);
}

export interface OptimizerOptions {
  lr?: number;
  weightDecay?: number;
  /** Which parameters weight decay applies to. */
  decay?: DecayFilter;
  /** The learning-rate schedule (constant by default). */
  schedule?: Schedule;
}

/** The state of one parameter: its update count and its buffers (copies), e.g. `exp_avg`. */
export interface ParamOptimState {
  step: number;
  buffers: Record<string, Tensor>;
}

/**
 * Updates parameters in place from their accumulated gradients. `step()` and `zeroGrad()` are
 * synchronous (they are meant for hand-written loops over small models); `model.fit` runs the
 * whole loop natively instead.
 */
export abstract class Optimizer {
  /** @internal */
  readonly _o: NativeOptimizer;
  /** The parameters' names in the optimizer's order (indices as strings for plain tensors). */
  readonly paramNames: readonly string[];

  /** @internal */
  protected constructor(type: string, params: ParamSource, options: unknown, defaultDecay: DecayFilter) {
    const op = `optim.${type}`;
    const o = checkOptions(op, options);
    const native = hyperparameters(type, o, op);
    const named = namedParams(params, op);
    const filter = o.decay === undefined ? defaultDecay : checkFunction<DecayFilter>(op, 'option decay', o.decay);
    const decay = named.map(([name, p]) => Boolean(filter(name, p)));
    this._o = nnBinding.optimCreate(type, named.map(([name, p]) => handle(p, op, `parameter '${name}'`)), decay, native);
    this.paramNames = Object.freeze(named.map(([n]) => n));
  }

  /** 'SGD', 'Adam' or 'AdamW'. */
  get type(): string {
    return nnBinding.optimInfo(this._o).type;
  }
  /** Applies one update to every parameter that has a gradient; returns the learning rate used. */
  step(): number {
    return nnBinding.optimStep(this._o);
  }
  /** Clears the parameters' gradients. */
  zeroGrad(): void {
    nnBinding.optimZeroGrad(this._o);
  }
  /** The base learning rate (the schedule scales it). */
  get lr(): number {
    return nnBinding.optimInfo(this._o).lr;
  }
  set lr(value: number) {
    nnBinding.optimSetLr(this._o, checkNumber('lr', 'value', value, { min: 0 }));
  }
  /** The learning rate the next step will use. */
  get currentLr(): number {
    return nnBinding.optimInfo(this._o).currentLr;
  }
  /** Steps taken (the schedule's position). */
  get stepCount(): number {
    return nnBinding.optimInfo(this._o).stepCount;
  }
  get weightDecay(): number {
    return nnBinding.optimInfo(this._o).weightDecay;
  }
  /** Whether weight decay applies to each parameter, in order. */
  get decayMask(): boolean[] {
    return nnBinding.optimInfo(this._o).decay;
  }
  get schedule(): Schedule {
    const s = nnBinding.optimInfo(this._o).schedule;
    return makeSchedule(s.kind, s, 'schedule');
  }
  set schedule(value: Schedule) {
    nnBinding.optimSetSchedule(this._o, checkSchedule(value, 'schedule'));
  }
  /** All hyperparameters as saved in checkpoints. */
  get hyperparameters(): Record<string, unknown> {
    return JSON.parse(nnBinding.optimInfo(this._o).hyperparameters) as Record<string, unknown>;
  }
  /** The state of parameter `index` (copies of its buffers). */
  state(index: number): ParamOptimState {
    const s = nnBinding.optimState(this._o, checkInt('state', 'index', index, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }));
    const buffers: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(s.buffers)) buffers[k] = new Tensor(v);
    return { step: s.step, buffers };
  }
}

/** The options the native optimizer reads, checked, in a fresh object (only those given). */
function hyperparameters(type: string, o: Options, op: string): Record<string, unknown> {
  const native: Record<string, unknown> = {
    lr: optNumber(op, o, 'lr', { min: 0 }),
    weightDecay: optNumber(op, o, 'weightDecay', { min: 0 }),
    schedule: o.schedule === undefined ? undefined : checkSchedule(o.schedule, op),
  };
  if (type === 'SGD') {
    native.momentum = optNumber(op, o, 'momentum', { min: 0 });
    native.dampening = optNumber(op, o, 'dampening');
    native.nesterov = optBool(op, o, 'nesterov');
  } else {
    native.eps = optNumber(op, o, 'eps', { min: 0 });
    if (o.betas !== undefined) {
      const betas = checkArray(op, 'option betas', o.betas, (b, name) => checkNumber(op, name, b, { min: 0, max: 1, below: true }), { what: '[beta1, beta2]' });
      if (betas.length !== 2) throw new RangeError(`${op}: option betas must be [beta1, beta2], got ${betas.length} numbers`);
      native.betas = betas;
    }
  }
  for (const k of Object.keys(native)) if (native[k] === undefined) delete native[k];
  return native;
}

export interface SGDOptions extends OptimizerOptions {
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

/** Stochastic gradient descent with optional momentum (Nesterov's too) and L2 weight decay. */
export class SGD extends Optimizer {
  constructor(params: ParamSource, options: SGDOptions = {}) {
    super('SGD', params, options, () => true);
  }
}

export interface AdamOptions extends OptimizerOptions {
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
}

/** Adam; `weightDecay` (default 0) is an L2 penalty added to the gradient, on every parameter by default. */
export class Adam extends Optimizer {
  constructor(params: ParamSource, options: AdamOptions = {}) {
    super('Adam', params, options, () => true);
  }
}

/**
 * Adam with decoupled weight decay (default 0.01): parameters shrink by `lr * weightDecay` each step.
 * By default, over a module, the parameters its layers declare for decay (weight matrices; not
 * biases, norm weights, embeddings or positional tables); over plain tensors, matrices (see `decay`).
 */
export class AdamW extends Optimizer {
  constructor(params: ParamSource, options: AdamOptions = {}) {
    super('AdamW', params, options, declaredDecay(params, 'optim.AdamW'));
  }
}

// ---- clipping --------------------------------------------------------------------------------------

function gradTensors(params: ParamSource, op: string) {
  return namedParams(params, op).map(([name, p]) => handle(p, op, `parameter '${name}'`));
}

/**
 * Scales the gradients of `params` so that their global L2 norm is at most `maxNorm` (as PyTorch's
 * `clip_grad_norm_`), and returns the norm before clipping.
 */
export function clipGradNorm(params: ParamSource, maxNorm: number): number {
  const max = checkNumber('clipGradNorm', 'maxNorm', maxNorm, { min: 0 });
  return nnBinding.clipGradNorm(gradTensors(params, 'clipGradNorm'), max);
}

/** The global L2 norm of the gradients of `params` (missing gradients count as zero). */
export function gradNorm(params: ParamSource): number {
  return nnBinding.gradNorm(gradTensors(params, 'gradNorm'));
}
