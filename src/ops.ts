// The ops of the registry as functions on `qkv`. Each checks its JavaScript arguments and calls the
// core; shape, axis and index checks happen natively and throw RangeError naming the op and shapes.
import { checkArray, checkFunction, checkInt, checkInt32List, checkNumber, checkOptions, checkSeed, checkShape, optBool, optEnum, optInt, optNumber, type Options } from './args';
import { named } from './errors';
import { binding, type NativeTensor } from './native';
import { Tensor, binaryOp as binary, checkDType, handle, reduceOp, unaryOp as unary, type DType } from './tensor';

type Operand = Tensor | number;

function wrap(h: NativeTensor): Tensor {
  return new Tensor(h);
}

function created(h: NativeTensor, requiresGrad: boolean | undefined): Tensor {
  const t = new Tensor(h);
  if (requiresGrad) t.requiresGrad = true;
  return t;
}

/** Axes and indices may count from the end. */
const SIGNED = { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };

/** The options of a creation function: dtype, requiresGrad. */
function creation(op: string, options: unknown, dtypes?: readonly DType[]): { o: Options; dtype: DType; requiresGrad: boolean | undefined } {
  const o = checkOptions(op, options);
  const dtype = checkDType(o.dtype, op);
  if (dtypes && !dtypes.includes(dtype)) throw new TypeError(`${op}: dtype must be one of ${dtypes.map((d) => `'${d}'`).join(', ')}, got '${dtype}'`);
  return { o, dtype, requiresGrad: optBool(op, o, 'requiresGrad') };
}

/** `x` itself when it is a Tensor; TypeError naming the call otherwise. */
function tensorArg(x: Tensor, op: string, name = 'input'): Tensor {
  handle(x, op, name);
  return x;
}

// ---- autograd mode ---------------------------------------------------------------------------

/** Runs `fn` without recording operations for autograd (inference); returns its result. */
export function noGrad<T>(fn: () => T): T {
  checkFunction('noGrad', 'fn', fn);
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
  return seed === undefined ? Math.floor(Math.random() * 2 ** 52) : checkSeed(op, 'option seed', seed);
}

export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  const s = checkShape('zeros', 'shape', shape);
  const { dtype, requiresGrad } = creation('zeros', options);
  return created(named('zeros', () => binding.full(s, dtype, 0)), requiresGrad);
}
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  const s = checkShape('ones', 'shape', shape);
  const { dtype, requiresGrad } = creation('ones', options);
  return created(named('ones', () => binding.full(s, dtype, 1)), requiresGrad);
}
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  const s = checkShape('full', 'shape', shape);
  const v = checkNumber('full', 'value', value, { any: true });
  const { dtype, requiresGrad } = creation('full', options);
  return created(named('full', () => binding.full(s, dtype, v)), requiresGrad);
}
/** Normal samples with the given mean (0) and standard deviation (1). */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const s = checkShape('randn', 'shape', shape);
  const { o, dtype, requiresGrad } = creation('randn', options, ['float32', 'float64']);
  const mean = optNumber('randn', o, 'mean') ?? 0, std = optNumber('randn', o, 'std', { min: 0 }) ?? 1;
  const seed = seedOf('randn', o.seed);
  return created(named('randn', () => binding.randn(s, dtype, seed, mean, std)), requiresGrad);
}
/** Uniform samples in [low, high), by default [0, 1). */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const s = checkShape('rand', 'shape', shape);
  const { o, dtype, requiresGrad } = creation('rand', options, ['float32', 'float64']);
  const low = optNumber('rand', o, 'low') ?? 0, high = optNumber('rand', o, 'high') ?? 1;
  const seed = seedOf('rand', o.seed);
  return created(named('rand', () => binding.rand(s, dtype, seed, low, high)), requiresGrad);
}
/** `arange(end)` or `arange(start, end, step = 1)`: evenly spaced values in [start, end). */
export function arange(startOrEnd: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const first = checkNumber('arange', end === undefined ? 'end' : 'start', startOrEnd);
  const [s, e] = end === undefined ? [0, first] : [first, checkNumber('arange', 'end', end)];
  const st = checkNumber('arange', 'step', step);
  const { dtype, requiresGrad } = creation('arange', options);
  return created(named('arange', () => binding.arange(s, e, st, dtype)), requiresGrad);
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
  return wrap(await named('matmulAsync', () => binding.matmulAsync(handle(a, 'matmulAsync', 'a'), handle(b, 'matmulAsync', 'b'))));
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
  const prob = checkNumber('dropout', 'p', p);
  const o = checkOptions('dropout', options);
  const seed = seedOf('dropout', o.seed ?? 0);
  const residual = o.residual === undefined ? null : handle(o.residual, 'dropout', 'option residual');
  return wrap(binding.dropout(handle(x, 'dropout', 'input'), prob, seed, residual));
}

/** Rows `indices` of x along its first axis (an index may repeat: its gradient adds up). */
export function indexSelect(x: Tensor, indices: readonly number[]): Tensor {
  const list = checkArray('indexSelect', 'indices', indices, (i, name) => checkInt('indexSelect', name, i, SIGNED), { what: 'an array of integers' });
  return wrap(binding.indexSelect(handle(x, 'indexSelect', 'input'), list));
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
  const eps = optNumber('layerNorm', checkOptions('layerNorm', options), 'eps', { min: 0 }) ?? 1e-5;
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
  const o = checkOptions('crossEntropy', options);
  const ignoreIndex = optInt('crossEntropy', o, 'ignoreIndex', { min: -0x80000000 }) ?? -100;
  const smoothing = optNumber('crossEntropy', o, 'labelSmoothing') ?? 0;
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
  const o = checkOptions(op, options);
  const lens = o.keyLengths;
  let lensHandle: NativeTensor | null = null;
  if (lens instanceof Tensor) lensHandle = lens._h;
  else if (lens !== undefined) {
    const list = checkInt32List(op, 'option keyLengths', lens, { min: 0 });
    lensHandle = binding.fromTyped(list, [list.length]);
  }
  const causal = optBool(op, o, 'causal') ?? false;
  const dropout = optNumber(op, o, 'dropout', { min: 0, max: 1 }) ?? 0;
  const seed = seedOf(op, o.seed ?? (dropout > 0 ? undefined : 0));
  const scale = optNumber(op, o, 'scale') ?? 0;
  return [handle(q, op, 'q'), handle(k, op, 'k'), handle(v, op, 'v'), causal, lensHandle, dropout, seed, scale] as const;
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
  const args = attentionArgs('attentionReference', q, k, v, options);
  return wrap(named('attentionReference', () => binding.attentionReference(...args)));
}

// ---- contrastive -----------------------------------------------------------------------------------

export interface InfoNCEOptions {
  /** 'clip' (the default): symmetric softmax cross-entropy; 'siglip': pairwise sigmoid loss (needs `bias`). */
  loss?: 'clip' | 'siglip';
  /** SigLIP's learnable scalar bias b of the logits (initialise it at -10). */
  bias?: Tensor;
}

function infoNCEArgs(op: string, imageEmb: Tensor, textEmb: Tensor, logScale: Tensor, options: InfoNCEOptions) {
  const o = checkOptions(op, options);
  const loss = optEnum(op, o, 'loss', ['clip', 'siglip'] as const) ?? 'clip';
  const bias = o.bias === undefined ? null : handle(o.bias, op, 'option bias');
  if (loss === 'siglip' && bias === null) throw new RangeError(`${op}: the siglip loss needs option bias (a scalar tensor)`);
  if (loss === 'clip' && bias !== null) throw new RangeError(`${op}: option bias is only for loss 'siglip'`);
  return [handle(imageEmb, op, 'imageEmb'), handle(textEmb, op, 'textEmb'), handle(logScale, op, 'logScale'), bias, loss] as const;
}

/**
 * The contrastive loss of a dual encoder (CLIP), fused: rows i of `imageEmb` and `textEmb` [N, D]
 * are a matching pair. Both are L2-normalised inside the op (x / max(|x|, 1e-12)), the logits are
 * `exp(logScale) · Î T̂ᵀ`, and the loss is the mean of the cross-entropy over rows (image → text,
 * target i for row i) and over columns (text → image): `(L_i2t + L_t2i) / 2`.
 *
 * With `{ loss: 'siglip', bias }`: SigLIP's pairwise sigmoid loss over logits
 * `exp(logScale) · Î T̂ᵀ + bias`, labels +1 on the diagonal and -1 elsewhere:
 * `-(1/N) Σ_ij log σ(z_ij · logit_ij)` (the sum over all N² pairs divided by N, as in the paper).
 *
 * `logScale` (and `bias`) are learnable scalar tensors of the embeddings' dtype. Initial values:
 * CLIP `logScale = ln(1 / 0.07)`; SigLIP `logScale = ln 10`, `bias = -10`. The caller (a dual
 * encoder's training step) clamps `logScale` at `ln 100` after each optimizer step, CLIP's rule; this
 * op does not, and the optimizers have no in-place clamp of a parameter.
 *
 * Tiled: the N×N logits are never stored (memory grows linearly with N); the backward pass
 * recomputes them from the saved per-row and per-column log-sum-exps. Differentiable in all inputs.
 * Returns a scalar.
 */
export function infoNCE(imageEmb: Tensor, textEmb: Tensor, logScale: Tensor, options: InfoNCEOptions = {}): Tensor {
  return wrap(binding.infoNCE(...infoNCEArgs('infoNCE', imageEmb, textEmb, logScale, options)));
}

/** @internal The readable reference kernel (explicit N×N logits in double): the loss and its gradients, for tests. */
export function infoNCEReference(imageEmb: Tensor, textEmb: Tensor, logScale: Tensor, options: InfoNCEOptions = {}):
  { loss: Tensor; imageEmb: Tensor; textEmb: Tensor; logScale: Tensor; bias: Tensor | null } {
  const args = infoNCEArgs('infoNCEReference', imageEmb, textEmb, logScale, options);
  const r = named('infoNCEReference', () => binding.infoNCEReference(...args));
  return { loss: wrap(r.loss), imageEmb: wrap(r.image), textEmb: wrap(r.text), logScale: wrap(r.logScale), bias: r.bias ? wrap(r.bias) : null };
}

// ---- layout ----------------------------------------------------------------------------------------

/** Joins tensors along `axis` (0 by default); the other dims must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  const handles = checkArray('concat', 'tensors', tensors, (t, name) => handle(t, 'concat', name), { what: 'an array of Tensors' });
  return wrap(binding.concat(handles, checkInt('concat', 'axis', axis, SIGNED)));
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

// ---- images ----------------------------------------------------------------------------------------

/** A size per image axis: one number for both, or `[h, w]`. */
export type Size2 = number | readonly [number, number];

function size2(op: string, name: string, v: unknown, min: number): [number, number] {
  if (typeof v === 'number') {
    const n = checkInt(op, name, v, { min });
    return [n, n];
  }
  const list = checkArray(op, name, v, (x, n) => checkInt(op, n, x, { min }), { what: 'an integer or an array [h, w]' });
  if (list.length !== 2) throw new RangeError(`${op}: ${name} must be an integer or [h, w], got an array of ${list.length}`);
  return [list[0], list[1]];
}

export interface Conv2dOptions {
  stride?: Size2;   // 1
  padding?: Size2;  // 0 (zeros on every side)
  dilation?: Size2; // 1
  groups?: number;  // 1: input and output channels split into `groups` independent convolutions
}

function conv2dArgs(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, options: Conv2dOptions) {
  const o = checkOptions(op, options);
  return [
    handle(x, op, 'input'), handle(weight, op, 'weight'), bias === null || bias === undefined ? null : handle(bias, op, 'bias'),
    size2(op, 'option stride', o.stride ?? 1, 1), size2(op, 'option padding', o.padding ?? 0, 0),
    size2(op, 'option dilation', o.dilation ?? 1, 1), optInt(op, o, 'groups', { min: 1 }) ?? 1,
  ] as const;
}

/**
 * 2-D convolution (PyTorch's cross-correlation) of x [N, C, H, W] with weight [O, C / groups, kH, kW]
 * and bias [O] (or null) → [N, O, OH, OW], OH = ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  return wrap(binding.conv2d(...conv2dArgs('conv2d', x, weight, bias, options)));
}

/** @internal The readable direct-loop kernel that conv2d is tested against. */
export function conv2dReference(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const args = conv2dArgs('conv2dReference', x, weight, bias, options);
  return wrap(named('conv2dReference', () => binding.conv2dReference(...args)));
}

/** The max of each `kernel` window of x [N, C, H, W] (stride = kernel by default; padding at most half the kernel). */
export function maxPool2d(x: Tensor, kernel: Size2, options: { stride?: Size2; padding?: Size2; dilation?: Size2 } = {}): Tensor {
  const op = 'maxPool2d', o = checkOptions(op, options);
  const k = size2(op, 'kernel', kernel, 1);
  const stride = o.stride === undefined ? k : size2(op, 'option stride', o.stride, 1);
  return wrap(binding.maxPool2d(handle(x, op, 'input'), k, stride, size2(op, 'option padding', o.padding ?? 0, 0), size2(op, 'option dilation', o.dilation ?? 1, 1)));
}

/**
 * The mean of each `kernel` window of x [N, C, H, W] (stride = kernel by default). The padding counts
 * as zeros in the divisor unless `countIncludePad` is false (PyTorch's default: true).
 */
export function avgPool2d(x: Tensor, kernel: Size2, options: { stride?: Size2; padding?: Size2; countIncludePad?: boolean } = {}): Tensor {
  const op = 'avgPool2d', o = checkOptions(op, options);
  const k = size2(op, 'kernel', kernel, 1);
  const stride = o.stride === undefined ? k : size2(op, 'option stride', o.stride, 1);
  return wrap(binding.avgPool2d(handle(x, op, 'input'), k, stride, size2(op, 'option padding', o.padding ?? 0, 0), optBool(op, o, 'countIncludePad') ?? true));
}

/** Means of x [N, C, H, W] over an `outputSize` grid of bins (PyTorch's ⌊i·H/OH⌋ to ⌈(i+1)·H/OH⌉) → [N, C, OH, OW]. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  const op = 'adaptiveAvgPool2d';
  return wrap(binding.adaptiveAvgPool2d(handle(x, op, 'input'), size2(op, 'outputSize', outputSize, 1)));
}
