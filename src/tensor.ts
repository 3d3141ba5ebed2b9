// The Tensor class and the argument checks the ops share. Tensor's op methods call the core
// directly (through binaryOp/unaryOp below); ops.ts builds its functions on this module, never the
// other way round.
import { checkBool, checkEnum, checkInt, checkIntArray, checkNumber, checkOptions, checkShape, notOptionClasses, optBool, optEnum, typeName } from './args';
import { QkvError } from './errors';
import { binding, type NativeTensor } from './native';

export type DType = 'float32' | 'float64' | 'int32';
export type Device = 'cpu' | 'cuda' | 'guarded';
export type TypedArrayOf<D extends DType> = D extends 'float64' ? Float64Array : D extends 'int32' ? Int32Array : Float32Array;
/** Nested arrays of numbers, as returned by {@link Tensor.toArray}. */
export type NestedArray = number | NestedArray[];

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];
const DEVICES: readonly Device[] = ['cpu', 'cuda', 'guarded'];

/** Checks a dtype option; `fallback` when it is undefined. */
export function checkDType(value: unknown, op: string, fallback: DType = 'float32'): DType {
  return value === undefined ? fallback : checkEnum(op, 'dtype', value, DTYPES);
}

/** Axes, dims and positions may count from the end. */
const SIGNED = { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };

/**
 * An n-dimensional array in native memory: float32, float64 or int32, row-major with strides.
 * Views (`reshape` of contiguous data, `transpose`, `permute`, `slice`) share memory with their source.
 * Memory is freed by {@link Tensor.dispose}, or by the garbage collector when the Tensor is unreachable.
 */
export class Tensor {
  /** @internal The native handle. */
  readonly _h: NativeTensor;

  /** @internal Use {@link Tensor.from} or the creation functions (`zeros`, `randn`, ...). */
  constructor(handle: NativeTensor) {
    this._h = handle;
  }

  /**
   * A tensor holding a copy of `data`. The dtype follows the typed array (Float32Array → float32,
   * Float64Array → float64, Int32Array → int32); a plain array of numbers gives `options.dtype`
   * (float32 by default). The shape defaults to `[data.length]`.
   */
  static from(
    data: Float32Array | Float64Array | Int32Array | readonly number[],
    shape?: readonly number[],
    options: { dtype?: DType; requiresGrad?: boolean } = {},
  ): Tensor {
    const o = checkOptions('Tensor.from', options);
    const dtype = o.dtype === undefined ? undefined : checkDType(o.dtype, 'Tensor.from');
    const requiresGrad = optBool('Tensor.from', o, 'requiresGrad');
    let typed: Float32Array | Float64Array | Int32Array;
    if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array) {
      typed = data;
      if (dtype !== undefined && dtype !== dtypeOfTyped(data)) typed = convertTyped(data, dtype);
    } else if (Array.isArray(data)) {
      const values = new Array<number>(data.length);
      for (let i = 0; i < values.length; i++) values[i] = checkNumber('Tensor.from', `data[${i}]`, data[i], { any: true });
      typed = convertTyped(values, dtype ?? 'float32');
    } else {
      throw new TypeError('Tensor.from: data must be a Float32Array, Float64Array, Int32Array or an array of numbers');
    }
    const s = shape === undefined ? [typed.length] : checkShape('Tensor.from', 'shape', shape);
    const t = new Tensor(binding.fromTyped(typed, s));
    if (requiresGrad) t.requiresGrad = true;
    return t;
  }

  get shape(): number[] {
    return this._h.shape();
  }
  /** Element strides of each dim (views have non-contiguous strides). */
  get strides(): number[] {
    return this._h.strides();
  }
  get dtype(): DType {
    return this._h.dtype();
  }
  get device(): Device {
    return this._h.device();
  }
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get disposed(): boolean {
    return this._h.disposed();
  }
  /** Frees the native memory now (views keep their storage alive until they are disposed too). Idempotent. */
  dispose(): void {
    this._h.dispose();
  }

  /** A flat copy of the data in a typed array of the tensor's dtype. */
  toTypedArray(): Float32Array | Float64Array | Int32Array {
    return this._h.toTypedArray();
  }
  /** A flat copy of the data as float32. */
  toFloat32Array(): Float32Array {
    const a = this._h.toTypedArray();
    return a instanceof Float32Array ? a : Float32Array.from(a);
  }
  /** The data as nested arrays of numbers (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const flat = this._h.toTypedArray();
    const shape = this.shape;
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === shape.length) return flat[offset];
      const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      const out: NestedArray[] = [];
      for (let i = 0; i < shape[dim]; i++) out.push(build(dim + 1, offset + i * stride));
      return out;
    };
    return build(0, 0);
  }
  /** The value of a one-element tensor. */
  item(): number {
    return binding.item(this._h);
  }

  // ---- autograd ----------------------------------------------------------------------------
  /** Whether operations on this tensor are recorded for {@link Tensor.backward}. Settable on leaves. */
  get requiresGrad(): boolean {
    return binding.requiresGrad(this._h);
  }
  set requiresGrad(value: boolean) {
    binding.setRequiresGrad(this._h, checkBool('requiresGrad', 'value', value));
  }
  /** The gradient accumulated by backward(), or null. Assign null to clear it. */
  get grad(): Tensor | null {
    const g = binding.grad(this._h);
    return g === null ? null : new Tensor(g);
  }
  set grad(value: Tensor | null) {
    binding.setGrad(this._h, value === null ? null : handle(value, 'grad', 'value'));
  }
  /** The name of the op that made this tensor (null for leaves). */
  get gradFn(): string | null {
    return binding.gradFn(this._h);
  }
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  /**
   * Backpropagates from this tensor: gradients accumulate into the `grad` of every leaf that
   * requires them. A one-element tensor needs no `gradient`. The graph is freed afterwards unless
   * `retainGraph` is set.
   */
  backward(gradient?: Tensor | null, options: { retainGraph?: boolean } = {}): void {
    const g = gradient === undefined || gradient === null ? null : handle(gradient, 'backward', 'gradient');
    const retainGraph = optBool('backward', checkOptions('backward', options), 'retainGraph') ?? false;
    binding.backward(this._h, g, retainGraph);
  }
  /** The same data without autograd history. */
  detach(): Tensor {
    return new Tensor(binding.detach(this._h));
  }

  // ---- views and copies --------------------------------------------------------------------
  /** A view with another shape when the data is contiguous, else a copy; one dim may be -1. */
  reshape(shape: readonly number[]): Tensor {
    return new Tensor(binding.reshape(this._h, checkIntArray('reshape', 'shape', shape, { min: -1, max: Number.MAX_SAFE_INTEGER })));
  }
  /** Swaps two dims (the last two by default), as a view. */
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return new Tensor(binding.transpose(this._h, checkInt('transpose', 'dim0', dim0, SIGNED), checkInt('transpose', 'dim1', dim1, SIGNED)));
  }
  /** Reorders the dims, as a view. */
  permute(dims: readonly number[]): Tensor {
    return new Tensor(binding.permute(this._h, checkIntArray('permute', 'dims', dims, SIGNED)));
  }
  /** Elements start..end (exclusive, negatives count from the end) with `step` along `axis`, as a view. */
  slice(axis: number, start: number, end?: number, step = 1): Tensor {
    checkInt('slice', 'axis', axis, SIGNED);
    checkInt('slice', 'start', start, SIGNED);
    if (end !== undefined) checkInt('slice', 'end', end, SIGNED);
    checkInt('slice', 'step', step, SIGNED);
    const n = this.shape[axis < 0 ? axis + this.ndim : axis] ?? 0;
    return new Tensor(binding.slice(this._h, axis, start, end ?? n, step));
  }
  /** Itself when already contiguous, else a contiguous copy. */
  contiguous(): Tensor {
    return new Tensor(binding.contiguous(this._h));
  }
  clone(): Tensor {
    return new Tensor(binding.clone(this._h));
  }
  /** A copy converted to `dtype` (itself when the dtype is already that). */
  to(dtype: DType): Tensor {
    return new Tensor(binding.cast(this._h, checkEnum('to', 'dtype', dtype, DTYPES)));
  }
  /**
   * A copy on `device` (itself when already there), through host memory; no gradient flows
   * through it. Throws `QkvError` `ERR_UNSUPPORTED` with the reason where CUDA cannot be used
   * (see `cuda.info()`), and `TypeError` for an unknown device.
   */
  toDevice(device: Device): Tensor {
    return new Tensor(binding.toDevice(this._h, checkEnum('toDevice', 'device', device, DEVICES)));
  }
  isContiguous(): boolean {
    const shape = this.shape, strides = this.strides;
    let expect = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (shape[i] === 1) continue;
      if (strides[i] !== expect) return false;
      expect *= shape[i];
    }
    return true;
  }

  // ---- ops as methods (the functions of ops.ts with this tensor as their first operand) ----------
  add(other: Tensor | number): Tensor { return binaryOp('add', this, other); }
  sub(other: Tensor | number): Tensor { return binaryOp('sub', this, other); }
  mul(other: Tensor | number): Tensor { return binaryOp('mul', this, other); }
  div(other: Tensor | number): Tensor { return binaryOp('div', this, other); }
  pow(exponent: Tensor | number): Tensor { return binaryOp('pow', this, exponent); }
  matmul(other: Tensor): Tensor { return new Tensor(binding.matmul(handle(this, 'matmul', 'a'), handle(other, 'matmul', 'b'))); }
  neg(): Tensor { return unaryOp('neg', this); }
  exp(): Tensor { return unaryOp('exp', this); }
  log(): Tensor { return unaryOp('log', this); }
  sqrt(): Tensor { return unaryOp('sqrt', this); }
  tanh(): Tensor { return unaryOp('tanh', this); }
  abs(): Tensor { return unaryOp('abs', this); }
  relu(): Tensor { return unaryOp('relu', this); }
  gelu(options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
    const a = optEnum('gelu', checkOptions('gelu', options), 'approximate', ['none', 'tanh'] as const) ?? 'none';
    return unaryOp(a === 'tanh' ? 'geluTanh' : 'gelu', this);
  }
  sum(axis?: number | readonly number[], options?: { keepdims?: boolean }): Tensor { return reduceOp('sum', this, axis, options); }
  mean(axis?: number | readonly number[], options?: { keepdims?: boolean }): Tensor { return reduceOp('mean', this, axis, options); }
  max(axis?: number | readonly number[], options?: { keepdims?: boolean }): Tensor { return reduceOp('max', this, axis, options); }
  argmax(axis = -1, options?: { keepdims?: boolean }): Tensor {
    return new Tensor(binding.argmax(handle(this, 'argmax', 'input'), checkInt('argmax', 'axis', axis, SIGNED), keepdimsOf('argmax', options)));
  }
  softmax(): Tensor { return new Tensor(binding.softmax(handle(this, 'softmax', 'input'), false)); }
  logSoftmax(): Tensor { return new Tensor(binding.softmax(handle(this, 'logSoftmax', 'input'), true)); }

  toString(): string {
    return this.disposed ? 'Tensor(disposed)' : `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
}

function dtypeOfTyped(a: Float32Array | Float64Array | Int32Array): DType {
  return a instanceof Float64Array ? 'float64' : a instanceof Int32Array ? 'int32' : 'float32';
}

function convertTyped(data: ArrayLike<number>, dtype: DType): Float32Array | Float64Array | Int32Array {
  if (dtype === 'float64') return Float64Array.from(data);
  if (dtype === 'int32') {
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647)
        throw new RangeError(`Tensor.from: ${v} at index ${i} is not an int32`);
      out[i] = v;
    }
    return out;
  }
  return Float32Array.from(data);
}

/** @internal The native handle of a Tensor argument; TypeError naming the call otherwise. */
export function handle(t: unknown, op: string, name: string): NativeTensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${typeName(t)}`);
  return t._h;
}

notOptionClasses.push(Tensor);

/**
 * @internal A Tensor argument that JavaScript reads itself (its shape, its data): TypeError unless a
 * Tensor, QkvError ERR_DISPOSED naming the call when disposed (not the getter's own "shape: ...").
 */
export function liveTensor(t: unknown, op: string, name: string): Tensor {
  handle(t, op, name);
  if ((t as Tensor).disposed) throw new QkvError(`${op}: ${name} is a disposed Tensor`, 'ERR_DISPOSED');
  return t as Tensor;
}

/** @internal The data of a Tensor argument read in JavaScript; the core's refusals (a busy tensor) name the call. */
export function tensorData(t: unknown, op: string, name: string): Float32Array | Float64Array | Int32Array {
  const x = liveTensor(t, op, name);
  try {
    return x.toTypedArray();
  } catch (e) {
    if (e instanceof QkvError) throw new QkvError(`${op}: ${name}: ${e.message.replace(/^\w+: (the Tensor )?/, '')}`, e.code);
    throw e;
  }
}

// ---- the op calls shared by Tensor's methods and ops.ts ----------------------------------------

/** @internal A broadcasting binary op of the registry; a number becomes a scalar of the other operand's dtype. */
export function binaryOp(op: string, a: Tensor | number, b: Tensor | number): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return new Tensor(binding.binary(op, a._h, b._h));
  const numberFirst = typeof a === 'number' && b instanceof Tensor;
  if (!numberFirst && !(a instanceof Tensor && typeof b === 'number'))
    throw new TypeError(`${op}: operands must be Tensors or numbers (at least one a Tensor), got ${typeName(a)} and ${typeName(b)}`);
  const tensor = (numberFirst ? b : a) as Tensor;
  const scalar = binding.full([], tensor.dtype, (numberFirst ? a : b) as number);
  try {
    return new Tensor(numberFirst ? binding.binary(op, scalar, tensor._h) : binding.binary(op, tensor._h, scalar));
  } finally {
    scalar.dispose();  // freed now, not whenever the collector gets to it
  }
}

/** @internal An elementwise unary op of the registry. */
export function unaryOp(op: string, x: Tensor): Tensor {
  return new Tensor(binding.unary(op, handle(x, op, 'input')));
}

function axesOf(op: string, axis: number | readonly number[] | undefined): number[] {
  if (axis === undefined) return [];
  if (typeof axis === 'number') return [checkInt(op, 'axis', axis, SIGNED)];
  if (!Array.isArray(axis)) throw new TypeError(`${op}: axis must be an integer or an array of integers, got ${typeName(axis)}`);
  return checkIntArray(op, 'axis', axis, SIGNED);
}

function keepdimsOf(op: string, options: { keepdims?: boolean } | undefined): boolean {
  return optBool(op, checkOptions(op, options), 'keepdims') ?? false;
}

/** @internal sum, mean or max over `axis` (one or several; all when omitted). */
export function reduceOp(op: 'sum' | 'mean' | 'max', x: Tensor, axis: number | readonly number[] | undefined, options: { keepdims?: boolean } | undefined): Tensor {
  return new Tensor(binding.reduce(op, handle(x, op, 'input'), axesOf(op, axis), keepdimsOf(op, options)));
}
