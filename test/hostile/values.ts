// The hostile values the sweep puts in every argument position and option. Each is made fresh for
// each call (a call may dispose, detach or mutate it). Groups let the suite's reduced sweep pick a
// few of each kind and let the plan put file values only where a path goes.
import type { Ctx } from './fixtures';

export type Group = 'type' | 'number' | 'shape' | 'typed' | 'trap' | 'tensor' | 'module' | 'file';

export interface Hostile {
  name: string;
  group: Group;
  make(c: Ctx): unknown;
}

/** What every trap throws: a call that lets it through unchanged passes the propagation check. */
export const SENTINEL = new Error('hostile: thrown by the caller');

const boom = (): never => {
  throw SENTINEL;
};
const trapAll = { get: boom, set: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, getPrototypeOf: boom, defineProperty: boom, apply: boom, construct: boom };

function detached(Ctor: Float32ArrayConstructor | Uint8ArrayConstructor): ArrayBufferView {
  const view = new Ctor(new ArrayBuffer(24));
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
}

function withThrowingElement(values: unknown[], at: number): unknown[] {
  const a = [...values];
  Object.defineProperty(a, at, { get: boom, enumerable: true });
  return a;
}

const v = (name: string, group: Group, make: (c: Ctx) => unknown): Hostile => ({ name, group, make });

export const HOSTILE: readonly Hostile[] = [
  v('undefined', 'type', () => undefined),
  v('null', 'type', () => null),
  v('true', 'type', () => true),
  v('false', 'type', () => false),
  v('emptyString', 'type', () => ''),
  v('string', 'type', () => 'hostile'),
  v('symbol', 'type', () => Symbol('hostile')),
  v('bigint', 'type', () => 10n),
  v('object', 'type', () => ({})),
  v('nullProtoObject', 'type', () => Object.create(null)),
  v('array', 'type', () => []),
  v('nestedArray', 'type', () => [[1, 2], [3]]),
  v('function', 'type', () => () => 1),
  v('date', 'type', () => new Date(0)),
  v('NaN', 'number', () => NaN),
  v('Infinity', 'number', () => Infinity),
  v('-Infinity', 'number', () => -Infinity),
  v('-0', 'number', () => -0),
  v('-1', 'number', () => -1),
  v('0', 'number', () => 0),
  v('0.5', 'number', () => 0.5),
  v('2**31', 'number', () => 2 ** 31),
  v('2**53', 'number', () => 2 ** 53),
  v('-2**31', 'number', () => -(2 ** 31)),
  v('1e308', 'number', () => 1e308),
  v('hugeShape2d', 'shape', () => [2 ** 31, 2 ** 31]),
  v('hugeShape1d', 'shape', () => [2 ** 53]),
  v('shapeOverflow', 'shape', () => [2 ** 21, 2 ** 21, 2 ** 21, 2 ** 21]),
  v('negativeShape', 'shape', () => [2, -3]),
  v('fractionalShape', 'shape', () => [1.5, 2]),
  v('nanShape', 'shape', () => [NaN]),
  v('sparseArray', 'shape', () => new Array(1 << 20)),
  v('uint8Array', 'typed', () => new Uint8Array(6)),
  v('float32Array', 'typed', () => new Float32Array(6).fill(1)),
  v('int32Array', 'typed', () => Int32Array.from([0, 1, 2, 1, 0, 1])),
  v('float64Array', 'typed', () => new Float64Array(6)),
  v('bigint64Array', 'typed', () => new BigInt64Array(6)),
  v('sharedFloat32Array', 'typed', () => new Float32Array(new SharedArrayBuffer(24)).fill(1)),
  v('sharedInt32Array', 'typed', () => new Int32Array(new SharedArrayBuffer(24))),
  v('detachedFloat32Array', 'typed', () => detached(Float32Array)),
  v('detachedUint8Array', 'typed', () => detached(Uint8Array)),
  v('throwingProxy', 'trap', () => new Proxy({}, trapAll)),
  v('throwingArrayProxy', 'trap', () => new Proxy([1, 2], trapAll)),
  v('throwingGetterObject', 'trap', (c) => c.throwingOptions()),
  v('throwingShapeElement', 'trap', () => withThrowingElement([2, 3], 1)),
  v('throwingStringElement', 'trap', () => withThrowingElement(['a', 'b'], 0)),
  v('revokedProxy', 'trap', () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    return r.proxy;
  }),
  v('disposedTensor', 'tensor', (c) => {
    const t = c.qkv.zeros([2, 3]);
    t.dispose();
    return t;
  }),
  v('int32Tensor', 'tensor', (c) => c.qkv.Tensor.from(Int32Array.from([0, 1, 2, 1, 0, 1]), [2, 3])),
  v('float64Tensor', 'tensor', (c) => c.qkv.zeros([2, 3], { dtype: 'float64' })),
  v('scalarTensor', 'tensor', (c) => c.qkv.zeros([])),
  v('emptyTensor', 'tensor', (c) => c.qkv.zeros([0, 3])),
  v('transposedTensor', 'tensor', (c) => c.qkv.randn([3, 2], { seed: 1 }).transpose()),
  v('busyTensor', 'tensor', (c) => c.busyTensor()),
  v('disposedModule', 'module', (c) => c.disposedModule()),
  v('missingPath', 'file', (c) => c.files.missing),
  v('directory', 'file', (c) => c.files.directory),
  v('emptyFile', 'file', (c) => c.files.empty),
  v('truncatedFile', 'file', (c) => c.files.truncated),
  v('corruptFile', 'file', (c) => c.files.corrupt),
  v('wrongFormatFile', 'file', (c) => c.files.wrongFormat),
  v('devNull', 'file', () => '/dev/null'),
  v('missingFolder', 'file', (c) => c.files.missingFolder),
  v('pathWithNul', 'file', () => 'a\0b'),
  v('longPath', 'file', () => `/tmp/${'x'.repeat(5000)}`),
];

export const hostileByName = new Map(HOSTILE.map((h) => [h.name, h]));
