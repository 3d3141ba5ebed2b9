// What every transformer class shares: being an nn.Module around a native module (nn/module.ts
// has the parameters, modes, the call queue and dispose), and the checks of their options.
import { checkInt as checkInteger, checkInt32List, optBool, optEnum, optInt, optNumber, optSeed, type Options } from '../args';
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
  return checkInteger(op, name, v, { min });
}

/** Per-row lengths (undefined or null: none), copied into an Int32Array. */
export function lengthsArg(v: unknown, op: string, name: string): Int32Array | null {
  if (v === undefined || v === null) return null;
  return checkInt32List(op, name, v, { min: 0 });
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

/** A probability of dropout: in [0, 1). */
export const DROPOUT = { min: 0, max: 1, below: true };

/** The float dtypes a layer may have. */
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float64'];

/**
 * The layer fields of a config, checked, defaults filled in. Without `defaults` (the layers) dim
 * and heads must be given; the models default them.
 */
export function layerConfig(o: Options, op: string, defaults?: { dim: number; heads: number }): Record<string, unknown> {
  const dim = defaults ? optInt(op, o, 'dim', { min: 1 }) ?? defaults.dim : checkInteger(op, 'option dim', o.dim, { min: 1 });
  const heads = defaults ? optInt(op, o, 'heads', { min: 1 }) ?? defaults.heads : checkInteger(op, 'option heads', o.heads, { min: 1 });
  if (dim % heads !== 0) throw new RangeError(`${op}: dim ${dim} is not a multiple of heads ${heads}`);
  return {
    dim,
    heads,
    ffDim: optInt(op, o, 'ffDim', { min: 1 }) ?? 4 * dim,
    dropout: optNumber(op, o, 'dropout', DROPOUT) ?? 0.1,
    attentionDropout: optNumber(op, o, 'attentionDropout', DROPOUT) ?? 0,
    activation: optEnum(op, o, 'activation', ['relu', 'gelu', 'geluTanh', 'tanh', 'quickGelu'] as const) ?? 'relu',
    norm: optEnum(op, o, 'norm', ['pre', 'post'] as const) ?? 'pre',
    eps: optNumber(op, o, 'eps', { min: 1e-12, max: 1 }) ?? 1e-5,
    fused: optBool(op, o, 'fused') ?? true,
    bias: optBool(op, o, 'bias') ?? true,
    dtype: optEnum(op, o, 'dtype', FLOAT_DTYPES) ?? 'float32',
    seed: optSeed(op, o) ?? 0,
  };
}
