// Typed classes over the core's layers (cpp/nn/layers.h). Parameter names and layouts follow
// PyTorch (Linear.weight is [out, in]; an MLP is laid out as the nn.Sequential of its layers).
import {
  checkArray, checkInt, checkNumber, checkObject, checkOptions, checkSeed, optBool, optEnum, optNumber, typeName, type Options,
} from '../args';
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

const INIT_NAMES: readonly InitName[] = ['default', 'zeros', 'ones', 'normal', 'uniform', 'xavierUniform', 'xavierNormal', 'kaimingUniform', 'kaimingNormal'];
const ACTIVATIONS: readonly ActivationName[] = ['relu', 'gelu', 'geluTanh', 'tanh', 'quickGelu'];
const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float64'];

function seedOf(o: Options, op: string): number {
  return o.seed === undefined ? Math.floor(Math.random() * 2 ** 52) : checkSeed(op, 'option seed', o.seed);
}

/** A layer size: an integer in [0, 2³¹ - 1]. */
function int(v: unknown, op: string, what: string): number {
  return checkInt(op, what, v);
}

/** The init option as the native side reads it: a name, or a fresh { kind, std, bound, gain }. */
function initOf(o: Options, op: string): Init | undefined {
  const v = o.init;
  if (v === undefined || typeof v === 'string') return optEnum(op, o, 'init', INIT_NAMES);
  const io = checkObject(op, 'option init', v, 'a name or { kind, std?, bound?, gain? }');
  const init: { kind: InitName; std?: number; bound?: number; gain?: number } = { kind: optEnum(op, io, 'kind', INIT_NAMES) ?? 'default' };
  const std = optNumber(op, io, 'std', { min: 0 }), bound = optNumber(op, io, 'bound', { min: 0 }), gain = optNumber(op, io, 'gain');
  if (std !== undefined) init.std = std;
  if (bound !== undefined) init.bound = bound;
  if (gain !== undefined) init.gain = gain;
  return init;
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
    const op = 'nn.Linear';
    const o = checkOptions(op, options);
    super('Linear', {
      inFeatures: int(inFeatures, op, 'inFeatures'),
      outFeatures: int(outFeatures, op, 'outFeatures'),
      bias: optBool(op, o, 'bias'),
      dtype: optEnum(op, o, 'dtype', FLOAT_DTYPES),
      init: initOf(o, op),
      seed: seedOf(o, op),
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
    const op = 'nn.Embedding';
    const o = checkOptions(op, options);
    super('Embedding', {
      numEmbeddings: int(numEmbeddings, op, 'numEmbeddings'),
      dim: int(dim, op, 'dim'),
      dtype: optEnum(op, o, 'dtype', FLOAT_DTYPES),
      init: initOf(o, op),
      seed: seedOf(o, op),
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
    const op = 'nn.LayerNorm';
    const o = checkOptions(op, options);
    super('LayerNorm', {
      dim: int(dim, op, 'dim'),
      eps: optNumber(op, o, 'eps', { min: 0 }),
      affine: optBool(op, o, 'affine'),
      dtype: optEnum(op, o, 'dtype', FLOAT_DTYPES),
    });
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
    const op = 'nn.Dropout';
    const o = checkOptions(op, options);
    super('Dropout', { p: checkNumber(op, 'p', p, { min: 0, max: 1 }), seed: seedOf(o, op) });
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
    const approximate = optEnum('nn.GELU', checkOptions('nn.GELU', options), 'approximate', ['none', 'tanh'] as const);
    super('Activation', { kind: approximate === 'tanh' ? 'geluTanh' : 'gelu' });
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
        if (!(m instanceof Module)) throw new TypeError(`nn.Sequential: argument ${i} must be a module, got ${typeName(m)}`);
      });
    super(build ? build.type : 'Sequential', build ? build.options : { modules: modules.map((m) => m._m) });
  }
  /** Adds a module at the end. */
  append(m: Module): this {
    if (!(m instanceof Module)) throw new TypeError(`Sequential.append: expected a module, got ${typeName(m)}`);
    nnBinding.nnAppend(this._handle, m._m);
    return this;
  }
  get length(): number {
    return nnBinding.nnNamedChildren(this._handle).length;
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    checkInt('Sequential.at', 'index', i, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
    const children = nnBinding.nnNamedChildren(this._handle);
    const k = i < 0 ? children.length + i : i;
    if (k < 0 || k >= children.length) throw new RangeError(`Sequential.at: index ${i} is out of range for ${children.length} modules`);
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
    const op = 'nn.MLP';
    const o = checkOptions(op, options);
    const build: Build = {
      type: 'MLP',
      options: {
        in: int(inFeatures, op, 'inFeatures'),
        hidden: checkArray(op, 'hidden', hidden, (h, name) => int(h, op, name), { what: 'an array of sizes' }),
        out: int(outFeatures, op, 'outFeatures'),
        activation: optEnum(op, o, 'activation', ACTIVATIONS),
        layerNorm: optBool(op, o, 'layerNorm'),
        dropout: optNumber(op, o, 'dropout', { min: 0, max: 1 }),
        bias: optBool(op, o, 'bias'),
        eps: optNumber(op, o, 'eps', { min: 0 }),
        dtype: optEnum(op, o, 'dtype', FLOAT_DTYPES),
        init: initOf(o, op),
        seed: seedOf(o, op),
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
