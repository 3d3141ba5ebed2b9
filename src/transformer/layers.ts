// The building blocks as differentiable modules: multi-head attention, encoder and decoder layers,
// positional encodings. Their forward passes are synchronous (meant for small work, tests and
// custom experiments) and recorded by the autograd like any op; the models (TransformerEncoder,
// Seq2Seq) train and decode natively on a worker thread instead.
import { checkBool, checkInt, checkObject, checkOptions, optBool, optEnum, optInt, optNumber, optSeed } from '../args';
import { Tensor, handle } from '../tensor';
import { DROPOUT, FLOAT_DTYPES, NativeModuleBase, layerConfig, lengthsArg, type LayerConfig, type FloatDType } from './base';
import { tb } from './native';
import { named } from '../errors';

export interface MultiHeadAttentionOptions {
  /** Query and output width D. */
  dim: number;
  heads: number;
  /** Width of the memory for cross-attention (default D). */
  kvDim?: number;
  /** Keys and values from the query input (default true); false for cross-attention. */
  selfAttention?: boolean;
  /** One projection for Q, K, V (self) or K, V (cross) (default true). */
  fused?: boolean;
  bias?: boolean;
  /** Dropout on the attention weights while training (default 0). */
  dropout?: number;
  dtype?: FloatDType;
  seed?: number;
}

export interface AttentionCall {
  /** Keys and values for cross-attention: [B, S, kvDim]. */
  memory?: Tensor;
  /** Query i sees keys j ≤ i + S − T. */
  causal?: boolean;
  /** Per batch row, the number of real keys (the rest is padding). */
  keyLengths?: readonly number[] | Int32Array;
}

/**
 * Multi-head attention: softmax(Q Kᵀ / √Dh + mask) V per head through the fused kernel, with
 * input projections (fused or separate) and an output projection. x [B, T, D] → [B, T, D].
 */
export class MultiHeadAttention extends NativeModuleBase {
  constructor(options: MultiHeadAttentionOptions) {
    const op = 'MultiHeadAttention';
    const o = checkObject(op, 'options', options, '{ dim, heads, ... }');
    const dim = checkInt(op, 'option dim', o.dim, { min: 1 });
    const heads = checkInt(op, 'option heads', o.heads, { min: 1 });
    if (dim % heads !== 0) throw new RangeError(`${op}: dim ${dim} is not a multiple of heads ${heads}`);
    super(
      tb.tfCreate(
        JSON.stringify({
          type: 'MultiHeadAttention',
          dim,
          heads,
          kvDim: optInt(op, o, 'kvDim', { min: 1 }) ?? dim,
          selfAttention: optBool(op, o, 'selfAttention') ?? true,
          fused: optBool(op, o, 'fused') ?? true,
          bias: optBool(op, o, 'bias') ?? true,
          dropout: optNumber(op, o, 'dropout', DROPOUT) ?? 0,
          dtype: optEnum(op, o, 'dtype', FLOAT_DTYPES) ?? 'float32',
          seed: optSeed(op, o) ?? 0,
        }),
      ),
    );
  }

  override forward(x: Tensor, options: AttentionCall = {}): Tensor {
    return this.forwardWithWeights(x, options, false).output;
  }

  /**
   * The output and the attention weights [B, H, T, S] (computed explicitly, softmax(QKᵀ/√Dh + mask),
   * only when asked; the output is the fused kernel's either way). Fully masked rows are zero.
   */
  forwardWithWeights(x: Tensor, options: AttentionCall = {}, needWeights = true): { output: Tensor; weights?: Tensor } {
    const op = 'MultiHeadAttention.forward';
    const o = checkOptions(op, options);
    const r = tb.tfAttend(
      this._handle,
      handle(x, op, 'query'),
      o.memory === undefined ? null : handle(o.memory, op, 'option memory'),
      optBool(op, o, 'causal') ?? false,
      lengthsArg(o.keyLengths, op, 'option keyLengths'),
      checkBool(op, 'needWeights', needWeights),
    );
    return { output: new Tensor(r.out), weights: r.weights ? new Tensor(r.weights) : undefined };
  }
}

/** Bidirectional self-attention and a feed-forward block, each with a residual connection. */
export class TransformerEncoderLayer extends NativeModuleBase {
  constructor(options: LayerConfig & { dim: number; heads: number }) {
    const op = 'TransformerEncoderLayer';
    super(tb.tfCreate(JSON.stringify({ type: op, ...layerConfig(checkObject(op, 'options', options, '{ dim, heads, ... }'), op) })));
  }

  /** x [B, T, D] → [B, T, D]; `keyLengths` masks padded positions as keys. */
  override forward(x: Tensor, options: { keyLengths?: readonly number[] | Int32Array } = {}): Tensor {
    return this.forwardWithWeights(x, options, false).output;
  }

  forwardWithWeights(x: Tensor, options: { keyLengths?: readonly number[] | Int32Array } = {}, needWeights = true): { output: Tensor; weights?: Tensor } {
    const op = 'TransformerEncoderLayer.forward';
    const keyLengths = lengthsArg(checkOptions(op, options).keyLengths, op, 'option keyLengths');
    const h = handle(x, op, 'input'), weights = checkBool(op, 'needWeights', needWeights);
    const r = named(op, () => tb.tfEncoderLayer(this._handle, h, keyLengths, weights));
    return { output: new Tensor(r.out), weights: r.weights ? new Tensor(r.weights) : undefined };
  }
}

/** Causal self-attention, cross-attention to an encoder's output, and a feed-forward block. */
export class TransformerDecoderLayer extends NativeModuleBase {
  constructor(options: LayerConfig & { dim: number; heads: number }) {
    const op = 'TransformerDecoderLayer';
    super(tb.tfCreate(JSON.stringify({ type: op, ...layerConfig(checkObject(op, 'options', options, '{ dim, heads, ... }'), op) })));
  }

  /** x [B, T, D], memory [B, S, D] → [B, T, D]; `memoryLengths` masks the memory's padding. */
  override forward(x: Tensor, memory?: Tensor, options: { memoryLengths?: readonly number[] | Int32Array } = {}): Tensor {
    if (memory === undefined) throw new TypeError('TransformerDecoderLayer.forward: memory (the encoder output [B, S, D]) is required');
    return this.forwardWithWeights(x, memory, options, false).output;
  }

  forwardWithWeights(x: Tensor, memory: Tensor, options: { memoryLengths?: readonly number[] | Int32Array } = {}, needWeights = true):
    { output: Tensor; crossWeights?: Tensor; selfWeights?: Tensor } {
    const op = 'TransformerDecoderLayer.forward';
    const memoryLengths = lengthsArg(checkOptions(op, options).memoryLengths, op, 'option memoryLengths');
    const h = handle(x, op, 'input'), m = handle(memory, op, 'memory'), weights = checkBool(op, 'needWeights', needWeights);
    const r = named(op, () => tb.tfDecoderLayer(this._handle, h, m, memoryLengths, weights));
    return {
      output: new Tensor(r.out),
      crossWeights: r.crossWeights ? new Tensor(r.crossWeights) : undefined,
      selfWeights: r.selfWeights ? new Tensor(r.selfWeights) : undefined,
    };
  }
}

/** Adds position information to x [B, T, D]: a fixed sinusoidal table or a learned one. */
export class PositionalEncoding extends NativeModuleBase {
  readonly kind: 'sinusoidal' | 'learned';

  constructor(options: { kind?: 'sinusoidal' | 'learned'; maxLength: number; dim: number; dtype?: FloatDType; seed?: number }) {
    const op = 'PositionalEncoding';
    const o = checkObject(op, 'options', options, '{ maxLength, dim, ... }');
    const kind = optEnum(op, o, 'kind', ['sinusoidal', 'learned'] as const) ?? 'sinusoidal';
    super(
      tb.tfCreate(
        JSON.stringify({
          type: kind === 'learned' ? 'LearnedPositionalEmbedding' : 'SinusoidalPositionalEncoding',
          maxLength: checkInt(op, 'option maxLength', o.maxLength, { min: 1 }),
          dim: checkInt(op, 'option dim', o.dim, { min: 1 }),
          dtype: optEnum(op, o, 'dtype', FLOAT_DTYPES) ?? 'float32',
          seed: optSeed(op, o) ?? 0,
        }),
      ),
    );
    this.kind = kind;
  }

  /** x + the encodings of positions offset … offset + T − 1. */
  override forward(x: Tensor, offset = 0): Tensor {
    const op = 'PositionalEncoding.forward';
    const h = handle(x, op, 'input'), at = checkInt(op, 'offset', offset);
    return new Tensor(named(op, () => tb.tfPositional(this._handle, h, at)));
  }
}
