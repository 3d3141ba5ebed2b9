// Typed classes over the core's layers (cpp/nn/layers.h). Parameter names and layouts follow
// PyTorch (Linear.weight is [out, in]; an MLP is laid out as the nn.Sequential of its layers).
import { describe } from '../tensor';
import type { Tensor } from '../tensor';
import { Module, SupervisedModule, moduleClasses, wrapModule } from './module';
import { nnBinding } from './native-nn';

export type InitName =
  | 'default'
  | 'zeros'
  | 'ones'
  | 'normal'
  | 'uniform'
  | 'xavierUniform'
  | 'xavierNormal'
  | 'kaimingUniform'
  | 'kaimingNormal';

/**
 * An initialisation scheme: a name, or an object with its parameters. `normal` draws N(0, std²)
 * (std 0.02 by default); `uniform` U(-bound, bound); Xavier and Kaiming use `gain` (defaults 1 and
 * √2). Fans follow PyTorch (a weight [out, in] has fan_in = in).
 */
export type Init = InitName | { kind: InitName; std?: number; bound?: number; gain?: number };

export type FloatDType = 'float32' | 'float64';
export type ActivationName = 'relu' | 'gelu' | 'geluTanh' | 'tanh' | 'quickGelu';

function seedOf(seed: unknown, op: string): number {
  if (seed === undefined) return Math.floor(Math.random() * 2 ** 52);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`${op}: seed must be a non-negative integer`);
  return seed;
}

function opts<T extends object>(o: T | undefined, op: string): T {
  if (o === undefined) return {} as T;
  if (typeof o !== 'object' || o === null) throw new TypeError(`${op}: options must be an object, got ${describe(o)}`);
  return o;
}

function int(v: unknown, op: string, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${op}: ${what} must be an integer, got ${describe(v)}`);
  return v;
}

function param(m: Module, name: string): Tensor | null {
  const found = m.namedParameters().find(([n]) => n === name);
  return found ? found[1] : null;
}

export interface LinearOptions {
  /** Default true. */
  bias?: boolean;
  dtype?: FloatDType;
  /** Of the weight. 'default' is PyTorch's (U(±1/√in) for the weight and the bias); otherwise the bias starts at zero. */
  init?: Init;
  /** Random when omitted. */
  seed?: number;
}

/** y = x Wᵀ + b: [..., inFeatures] → [..., outFeatures]; weight [out, in], bias [out]. */
export class Linear extends SupervisedModule {
  constructor(inFeatures: number, outFeatures: number, options?: LinearOptions) {
    const o = opts(options, 'nn.Linear');
    super('Linear', {
      inFeatures: int(inFeatures, 'nn.Linear', 'inFeatures'),
      outFeatures: int(outFeatures, 'nn.Linear', 'outFeatures'),
      bias: o.bias,
      dtype: o.dtype,
      init: o.init,
      seed: seedOf(o.seed, 'nn.Linear'),
    });
  }
  get weight(): Tensor {
    return param(this, 'weight')!;
  }
  get bias(): Tensor | null {
    return param(this, 'bias');
  }
}

export interface EmbeddingOptions {
  dtype?: FloatDType;
  /** Default N(0, 1) as PyTorch; transformers use { kind: 'normal', std: 0.02 }. */
  init?: Init;
  seed?: number;
}

/** Rows of a table: int32 ids [...] → [..., dim]. The gradient reaches only the rows used. */
export class Embedding extends SupervisedModule {
  constructor(numEmbeddings: number, dim: number, options?: EmbeddingOptions) {
    const o = opts(options, 'nn.Embedding');
    super('Embedding', {
      numEmbeddings: int(numEmbeddings, 'nn.Embedding', 'numEmbeddings'),
      dim: int(dim, 'nn.Embedding', 'dim'),
      dtype: o.dtype,
      init: o.init,
      seed: seedOf(o.seed, 'nn.Embedding'),
    });
  }
  get weight(): Tensor {
    return param(this, 'weight')!;
  }
}

export interface LayerNormOptions {
  /** Default 1e-5. */
  eps?: number;
  /** A learned scale (ones) and shift (zeros). Default true. */
  affine?: boolean;
  dtype?: FloatDType;
}

/** Normalises over the last axis (of size `dim`). */
export class LayerNorm extends SupervisedModule {
  constructor(dim: number, options?: LayerNormOptions) {
    const o = opts(options, 'nn.LayerNorm');
    super('LayerNorm', { dim: int(dim, 'nn.LayerNorm', 'dim'), eps: o.eps, affine: o.affine, dtype: o.dtype });
  }
  get weight(): Tensor | null {
    return param(this, 'weight');
  }
  get bias(): Tensor | null {
    return param(this, 'bias');
  }
}

/** Zeroes elements with probability p while training (scaling the rest by 1/(1-p)); the identity in eval mode. */
export class Dropout extends SupervisedModule {
  constructor(p = 0.5, options?: { seed?: number }) {
    const o = opts(options, 'nn.Dropout');
    if (typeof p !== 'number') throw new TypeError('nn.Dropout: p must be a number');
    super('Dropout', { p, seed: seedOf(o.seed, 'nn.Dropout') });
  }
  get p(): number {
    return this.config.p as number;
  }
}

/** max(x, 0) as a module. */
export class ReLU extends SupervisedModule {
  constructor() {
    super('Activation', { kind: 'relu' });
  }
}

/** GELU as a module; `approximate: 'tanh'` for the tanh form. */
export class GELU extends SupervisedModule {
  constructor(options?: { approximate?: 'none' | 'tanh' }) {
    const o = opts(options, 'nn.GELU');
    super('Activation', { kind: o.approximate === 'tanh' ? 'geluTanh' : 'gelu' });
  }
}

/** tanh as a module. */
export class Tanh extends SupervisedModule {
  constructor() {
    super('Activation', { kind: 'tanh' });
  }
}

const kBuild = Symbol('qkv.nn.build');
interface Build {
  type: string;
  options: Record<string, unknown>;
}

/** Modules applied in order, named '0', '1', ... */
export class Sequential extends SupervisedModule {
  constructor(...modules: Module[]) {
    // Subclasses laid out as a Sequential (MLP) pass their own native type through kBuild.
    const build = (modules[0] as unknown) === kBuild ? (modules[1] as unknown as Build) : null;
    if (!build)
      modules.forEach((m, i) => {
        if (!(m instanceof Module)) throw new TypeError(`nn.Sequential: argument ${i} must be a module, got ${describe(m)}`);
      });
    super(build ? build.type : 'Sequential', build ? build.options : { modules: modules.map((m) => m._m) });
  }
  /** Adds a module at the end. */
  append(m: Module): this {
    if (!(m instanceof Module)) throw new TypeError(`Sequential.append: expected a module, got ${describe(m)}`);
    nnBinding.nnAppend(this._m, m._m);
    return this;
  }
  get length(): number {
    return nnBinding.nnNamedChildren(this._m).length;
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const children = nnBinding.nnNamedChildren(this._m);
    const k = i < 0 ? children.length + i : i;
    if (!Number.isInteger(k) || k < 0 || k >= children.length) throw new RangeError(`Sequential.at: index ${i} is out of range for ${children.length} modules`);
    return wrapModule(children[k][1]);
  }
}

export interface MLPOptions {
  /** Default 'relu'. */
  activation?: ActivationName;
  /** A LayerNorm after each hidden Linear, before the activation. Default false. */
  layerNorm?: boolean;
  /** A Dropout after each hidden activation when > 0. Default 0. */
  dropout?: number;
  bias?: boolean;
  /** LayerNorm eps. Default 1e-5. */
  eps?: number;
  dtype?: FloatDType;
  /** Of every Linear weight. */
  init?: Init;
  seed?: number;
}

/**
 * Linear → [LayerNorm] → activation → [Dropout] per hidden size, then Linear to `out`; laid out as a
 * Sequential, so names match PyTorch's nn.Sequential of the same layers ('0.weight', '1.weight', ...).
 */
export class MLP extends Sequential {
  constructor(inFeatures: number, hidden: readonly number[], outFeatures: number, options?: MLPOptions) {
    const o = opts(options, 'nn.MLP');
    if (!Array.isArray(hidden)) throw new TypeError('nn.MLP: hidden must be an array of sizes');
    const build: Build = {
      type: 'MLP',
      options: {
        in: int(inFeatures, 'nn.MLP', 'inFeatures'),
        hidden: hidden.map((h) => int(h, 'nn.MLP', 'each hidden size')),
        out: int(outFeatures, 'nn.MLP', 'outFeatures'),
        activation: o.activation,
        layerNorm: o.layerNorm,
        dropout: o.dropout,
        bias: o.bias,
        eps: o.eps,
        dtype: o.dtype,
        init: o.init,
        seed: seedOf(o.seed, 'nn.MLP'),
      },
    };
    super(...([kBuild, build] as unknown as Module[]));
  }
  override append(): this {
    throw new TypeError('MLP.append: an MLP has a fixed layout; build a Sequential to add layers');
  }
}

moduleClasses.set('Linear', Linear);
moduleClasses.set('Embedding', Embedding);
moduleClasses.set('LayerNorm', LayerNorm);
moduleClasses.set('Dropout', Dropout);
moduleClasses.set('ReLU', ReLU);
moduleClasses.set('GELU', GELU);
moduleClasses.set('GELUTanh', GELU);
moduleClasses.set('Tanh', Tanh);
moduleClasses.set('Sequential', Sequential);
moduleClasses.set('MLP', MLP);
