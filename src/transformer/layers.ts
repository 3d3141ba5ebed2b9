// The building blocks as differentiable modules: multi-head attention, encoder and decoder layers,
// positional encodings. Their forward passes are synchronous (meant for small work, tests and
// custom experiments) and recorded by the autograd like any op; the models (TransformerEncoder,
// Seq2Seq) train and decode natively on a worker thread instead.
import { Tensor, handle } from '../tensor';
import { NativeModuleBase, checkInt, layerConfig, lengthsArg, type LayerConfig, type FloatDType } from './base';
import { tb } from './native';

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
    if (!options || typeof options !== 'object') throw new TypeError(`${op}: options must be an object`);
    const dim = checkInt(options.dim, op, 'dim', 1);
    super(
      tb.tfCreate(
        JSON.stringify({
          type: 'MultiHeadAttention',
          dim,
          heads: checkInt(options.heads, op, 'heads', 1),
          kvDim: checkInt(options.kvDim ?? dim, op, 'kvDim', 1),
          selfAttention: options.selfAttention ?? true,
          fused: options.fused ?? true,
          bias: options.bias ?? true,
          dropout: options.dropout ?? 0,
          dtype: options.dtype ?? 'float32',
          seed: checkInt(options.seed ?? 0, op, 'seed'),
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
    const r = tb.tfAttend(
      this._handle,
      handle(x, op, 'query'),
      options.memory ? handle(options.memory, op, 'memory') : null,
      options.causal ?? false,
      lengthsArg(options.keyLengths, op, 'keyLengths'),
      needWeights,
    );
    return { output: new Tensor(r.out), weights: r.weights ? new Tensor(r.weights) : undefined };
  }
}

/** Bidirectional self-attention and a feed-forward block, each with a residual connection. */
export class TransformerEncoderLayer extends NativeModuleBase {
  constructor(options: LayerConfig & { dim: number; heads: number }) {
    super(tb.tfCreate(JSON.stringify({ type: 'TransformerEncoderLayer', ...layerConfig(options ?? {}, 'TransformerEncoderLayer', { dim: 0, heads: 0 }) })));
  }

  /** x [B, T, D] → [B, T, D]; `keyLengths` masks padded positions as keys. */
  override forward(x: Tensor, options: { keyLengths?: readonly number[] | Int32Array } = {}): Tensor {
    return this.forwardWithWeights(x, options, false).output;
  }

  forwardWithWeights(x: Tensor, options: { keyLengths?: readonly number[] | Int32Array } = {}, needWeights = true): { output: Tensor; weights?: Tensor } {
    const op = 'TransformerEncoderLayer.forward';
    const r = tb.tfEncoderLayer(this._handle, handle(x, op, 'input'), lengthsArg(options.keyLengths, op, 'keyLengths'), needWeights);
    return { output: new Tensor(r.out), weights: r.weights ? new Tensor(r.weights) : undefined };
  }
}

/** Causal self-attention, cross-attention to an encoder's output, and a feed-forward block. */
export class TransformerDecoderLayer extends NativeModuleBase {
  constructor(options: LayerConfig & { dim: number; heads: number }) {
    super(tb.tfCreate(JSON.stringify({ type: 'TransformerDecoderLayer', ...layerConfig(options ?? {}, 'TransformerDecoderLayer', { dim: 0, heads: 0 }) })));
  }

  /** x [B, T, D], memory [B, S, D] → [B, T, D]; `memoryLengths` masks the memory's padding. */
  override forward(x: Tensor, memory?: Tensor, options: { memoryLengths?: readonly number[] | Int32Array } = {}): Tensor {
    if (memory === undefined) throw new TypeError('TransformerDecoderLayer.forward: memory (the encoder output [B, S, D]) is required');
    return this.forwardWithWeights(x, memory, options, false).output;
  }

  forwardWithWeights(x: Tensor, memory: Tensor, options: { memoryLengths?: readonly number[] | Int32Array } = {}, needWeights = true):
    { output: Tensor; crossWeights?: Tensor; selfWeights?: Tensor } {
    const op = 'TransformerDecoderLayer.forward';
    const r = tb.tfDecoderLayer(this._handle, handle(x, op, 'input'), handle(memory, op, 'memory'),
      lengthsArg(options.memoryLengths, op, 'memoryLengths'), needWeights);
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
    const kind = options?.kind ?? 'sinusoidal';
    if (kind !== 'sinusoidal' && kind !== 'learned') throw new TypeError(`${op}: kind must be 'sinusoidal' or 'learned'`);
    super(
      tb.tfCreate(
        JSON.stringify({
          type: kind === 'learned' ? 'LearnedPositionalEmbedding' : 'SinusoidalPositionalEncoding',
          maxLength: checkInt(options.maxLength, op, 'maxLength', 1),
          dim: checkInt(options.dim, op, 'dim', 1),
          dtype: options.dtype ?? 'float32',
          seed: checkInt(options.seed ?? 0, op, 'seed'),
        }),
      ),
    );
    this.kind = kind;
  }

  /** x + the encodings of positions offset … offset + T − 1. */
  override forward(x: Tensor, offset = 0): Tensor {
    return new Tensor(tb.tfPositional(this._handle, handle(x, 'PositionalEncoding.forward', 'input'), checkInt(offset, 'PositionalEncoding.forward', 'offset')));
  }
}
