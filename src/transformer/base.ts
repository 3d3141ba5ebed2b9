// What every transformer class shares: being an nn.Module around a native module (nn/module.ts
// has the parameters, modes, the call queue and dispose), and the checks of their options.
import { Module } from '../nn/module';
import type { NativeModule } from './native';

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

export { checkSignal, runJob } from '../jobs';

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

/**
 * The transformer layers and models are nn modules (parameters, strict state dicts, save/load,
 * modes, the call queue, dispose that waits for running calls, composition in nn.Sequential)
 * built around a native module of the core.
 */
export abstract class NativeModuleBase extends Module {
  protected constructor(m: NativeModule) {
    super(m);
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
