// The ops of the registry as functions on `qkv`. Each checks its JavaScript arguments and calls the
// core; shape, axis and index checks happen natively and throw RangeError naming the op and shapes.
import { binding, type NativeTensor } from './native';
import { Tensor, binaryOp as binary, checkDType, checkShape, describe, handle, reduceOp, unaryOp as unary, type DType } from './tensor';

type Operand = Tensor | number;

function wrap(h: NativeTensor): Tensor {
  return new Tensor(h);
}

function created(h: NativeTensor, options: { requiresGrad?: boolean }): Tensor {
  const t = new Tensor(h);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

/** `x` itself when it is a Tensor; TypeError naming the call otherwise. */
function tensorArg(x: Tensor, op: string, name = 'input'): Tensor {
  handle(x, op, name);
  return x;
}

// ---- autograd mode ---------------------------------------------------------------------------

/** Runs `fn` without recording operations for autograd (inference); returns its result. */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('noGrad: expected a function');
  const prev = binding.setGradEnabled(false);
  try {
    return fn();
  } finally {
    binding.setGradEnabled(prev);
  }
}

// ---- creation --------------------------------------------------------------------------------------

export interface CreateOptions {
  dtype?: DType;
  /** Make the new tensor a leaf that requires gradients. */
  requiresGrad?: boolean;
}
export interface RandomOptions {
  dtype?: 'float32' | 'float64';
  requiresGrad?: boolean;
  /** Seed of the generator; the same seed gives the same values on every machine. Random when omitted. */
  seed?: number;
}

function seedOf(op: string, seed: unknown): number {
  if (seed === undefined) return Math.floor(Math.random() * 2 ** 52);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0)
    throw new TypeError(`${op}: seed must be a non-negative integer`);
  return seed;
}

export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return created(binding.full(checkShape(shape, 'zeros'), checkDType(options.dtype, 'zeros'), 0), options);
}
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return created(binding.full(checkShape(shape, 'ones'), checkDType(options.dtype, 'ones'), 1), options);
}
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  if (typeof value !== 'number') throw new TypeError('full: value must be a number');
  return created(binding.full(checkShape(shape, 'full'), checkDType(options.dtype, 'full'), value), options);
}
/** Normal samples with the given mean (0) and standard deviation (1). */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const dtype = checkDType(options.dtype, 'randn');
  return created(binding.randn(checkShape(shape, 'randn'), dtype, seedOf('randn', options.seed), options.mean ?? 0, options.std ?? 1), options);
}
/** Uniform samples in [low, high), by default [0, 1). */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const dtype = checkDType(options.dtype, 'rand');
  return created(binding.rand(checkShape(shape, 'rand'), dtype, seedOf('rand', options.seed), options.low ?? 0, options.high ?? 1), options);
}
/** `arange(end)` or `arange(start, end, step = 1)`: evenly spaced values in [start, end). */
export function arange(startOrEnd: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, startOrEnd] : [startOrEnd, end];
  if (typeof s !== 'number' || typeof e !== 'number' || typeof step !== 'number')
    throw new TypeError('arange: start, end and step must be numbers');
  return wrap(binding.arange(s, e, step, checkDType(options.dtype, 'arange')));
}

// ---- linear algebra --------------------------------------------------------------------------------

/**
 * Matrix product of `[..., M, K]` and `[..., K, N]` with broadcast batch dims (1-D operands as in numpy).
 * Transposed views (`b.transpose()`) are read in place, without a copy.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return tensorArg(a, 'matmul', 'a').matmul(b);
}
/** {@link matmul} on a worker thread: for large products, so that the event loop keeps running. */
export async function matmulAsync(a: Tensor, b: Tensor): Promise<Tensor> {
  return wrap(await binding.matmulAsync(handle(a, 'matmulAsync', 'a'), handle(b, 'matmulAsync', 'b')));
}

// ---- elementwise -----------------------------------------------------------------------------------

export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('minimum', a, b);
/** 1 where a == b, 0 elsewhere, in the operands' dtype (a mask; it has no gradient). */
export const equal = (a: Operand, b: Operand): Tensor => binary('equal', a, b);

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** x · sigmoid(1.702 x), the activation of OpenAI's CLIP. */
export const quickGelu = (x: Tensor): Tensor => unary('quickGelu', x);
/** GELU: the exact erf form by default, or the tanh approximation (GPT-2's) with `approximate: 'tanh'`. */
export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return tensorArg(x, 'gelu').gelu(options);
}

/** x Wᵀ + b for x [N, in], weight [out, in] (PyTorch's layout) and bias [out] (or null): one fused op. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return wrap(binding.linear(handle(x, 'linear', 'x'), handle(weight, 'linear', 'weight'), bias === null ? null : handle(bias, 'linear', 'bias')));
}

/**
 * Dropout: each element zeroed with probability p and the rest scaled by 1/(1-p), from a mask that
 * depends only on `seed` and the element's index (regenerated, never stored, in the backward pass).
 * With `residual`, returns residual + dropout(x) in one pass.
 */
export function dropout(x: Tensor, p: number, options: { seed?: number; residual?: Tensor } = {}): Tensor {
  if (typeof p !== 'number') throw new TypeError(`dropout: p must be a number, got ${describe(p)}`);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`dropout: seed must be a non-negative integer, got ${seed}`);
  return wrap(binding.dropout(handle(x, 'dropout', 'input'), p, seed, options.residual === undefined ? null : handle(options.residual, 'dropout', 'residual')));
}

/** Rows `indices` of x along its first axis (an index may repeat: its gradient adds up). */
export function indexSelect(x: Tensor, indices: readonly number[]): Tensor {
  if (!Array.isArray(indices) || indices.some((i) => !Number.isInteger(i))) throw new TypeError('indexSelect: indices must be an array of integers');
  return wrap(binding.indexSelect(handle(x, 'indexSelect', 'input'), indices));
}

// ---- reductions ------------------------------------------------------------------------------------

/** Sum over `axis` (one or several; all when omitted). */
export function sum(x: Tensor, axis?: number | readonly number[], options?: { keepdims?: boolean }): Tensor {
  return reduceOp('sum', x, axis, options);
}
export function mean(x: Tensor, axis?: number | readonly number[], options?: { keepdims?: boolean }): Tensor {
  return reduceOp('mean', x, axis, options);
}
export function max(x: Tensor, axis?: number | readonly number[], options?: { keepdims?: boolean }): Tensor {
  return reduceOp('max', x, axis, options);
}
/** Index (int32) of the first maximum along `axis` (the last by default). */
export function argmax(x: Tensor, axis = -1, options?: { keepdims?: boolean }): Tensor {
  return tensorArg(x, 'argmax').argmax(axis, options);
}

// ---- fused -----------------------------------------------------------------------------------------

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  return tensorArg(x, 'softmax').softmax();
}
/** log(softmax(x)) over the last axis, computed stably. */
export function logSoftmax(x: Tensor): Tensor {
  return tensorArg(x, 'logSoftmax').logSoftmax();
}
/** Layer norm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta; gamma and beta [C] or null. */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, options: { eps?: number } = {}): Tensor {
  const eps = options.eps ?? 1e-5;
  if (typeof eps !== 'number') throw new TypeError('layerNorm: eps must be a number');
  return wrap(
    binding.layerNorm(
      handle(x, 'layerNorm', 'input'),
      gamma === null || gamma === undefined ? null : handle(gamma, 'layerNorm', 'gamma'),
      beta === null || beta === undefined ? null : handle(beta, 'layerNorm', 'beta'),
      eps,
    ),
  );
}
/** Rows of `weight` [V, D] picked by int32 `ids` of any shape: `[...ids.shape, D]`. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  return wrap(binding.embedding(handle(weight, 'embedding', 'weight'), handle(ids, 'embedding', 'ids')));
}
/**
 * Mean cross-entropy of `logits` [N, C] against int32 class `targets` [N], over the targets that are
 * not `ignoreIndex` (-100 by default); `labelSmoothing` e mixes e/C uniform mass into the target.
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor,
  options: { ignoreIndex?: number; labelSmoothing?: number } = {},
): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const smoothing = options.labelSmoothing ?? 0;
  if (!Number.isInteger(ignoreIndex)) throw new TypeError('crossEntropy: ignoreIndex must be an integer');
  if (typeof smoothing !== 'number') throw new TypeError('crossEntropy: labelSmoothing must be a number');
  return wrap(binding.crossEntropy(handle(logits, 'crossEntropy', 'logits'), handle(targets, 'crossEntropy', 'targets'), ignoreIndex, smoothing));
}

// ---- attention -------------------------------------------------------------------------------------

export interface AttentionOptions {
  /** Query i sees keys j <= i + (S - T): the usual lower triangle when S == T, aligned at the end otherwise. */
  causal?: boolean;
  /** Per batch row, how many keys are real (the rest is padding and never attended to). */
  keyLengths?: readonly number[] | Int32Array | Tensor;
  /** Dropout on the attention weights (training); 0 by default. */
  dropout?: number;
  /** Seed of the dropout mask (the backward pass regenerates the same mask). */
  seed?: number;
  /** Score scale; 1/sqrt(Dh) by default. */
  scale?: number;
}

function attentionArgs(op: string, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions) {
  const lens = options.keyLengths;
  let lensHandle: NativeTensor | null = null;
  if (lens instanceof Tensor) lensHandle = lens._h;
  else if (Array.isArray(lens) || lens instanceof Int32Array) lensHandle = binding.fromTyped(Int32Array.from(lens), [lens.length]);
  else if (lens !== undefined) throw new TypeError(`${op}: keyLengths must be an array of integers, an Int32Array or an int32 Tensor`);
  const causal = options.causal ?? false;
  if (typeof causal !== 'boolean') throw new TypeError(`${op}: causal must be a boolean`);
  const dropout = options.dropout ?? 0;
  if (typeof dropout !== 'number') throw new TypeError(`${op}: dropout must be a number`);
  return [handle(q, op, 'q'), handle(k, op, 'k'), handle(v, op, 'v'), causal, lensHandle, dropout,
    seedOf(op, options.seed ?? (dropout > 0 ? undefined : 0)), options.scale ?? 0] as const;
}

/**
 * Attention as query–key–value retrieval: `softmax(q kᵀ / sqrt(Dh) + mask) v`, fused and tiled so
 * that memory grows linearly with sequence length (the T×S score matrix is never stored).
 * q [B, H, T, Dh], k [B, H, S, Dh], v [B, H, S, Dv] → [B, H, T, Dv]. Differentiable.
 * A query row whose keys are all masked gives zeros.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  return wrap(binding.scaledDotProductAttention(...attentionArgs('scaledDotProductAttention', q, k, v, options)));
}

/** @internal The readable reference kernel (full score matrix), for tests. */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  return wrap(binding.attentionReference(...attentionArgs('attentionReference', q, k, v, options)));
}

// ---- layout ----------------------------------------------------------------------------------------

/** Joins tensors along `axis` (0 by default); the other dims must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors)) throw new TypeError('concat: tensors must be an array of Tensors');
  return wrap(binding.concat(tensors.map((t, i) => handle(t, 'concat', `tensors[${i}]`)), axis));
}
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return tensorArg(x, 'reshape').reshape(shape);
}
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  return tensorArg(x, 'transpose').transpose(dim0, dim1);
}
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  return tensorArg(x, 'permute').permute(dims);
}
