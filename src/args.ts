// The argument checks of every public function, in one place, with the rules of the README's
// Errors section: a value of the wrong type, or a string that is not one of the values it may
// take (an unknown name, an empty path), is a TypeError, as in Node's own APIs; a number or a list
// of the right type that is out of range (NaN or ±Infinity where a finite number goes, a fraction
// where an integer goes, a negative or too large size, an empty list where one is needed) is a
// RangeError. Messages name the call and the argument: "fit: option batchSize must be an integer,
// got string".
//
// Each check reads the caller's value once and returns what the call should use from then on:
// a primitive, or a fresh plain array or object built here. Nothing the caller owns (a getter, a
// Proxy, an array that changes) reaches the native side, so it cannot change between the check
// and the use, and an error it throws is raised here, in JavaScript, as the caller's own error.
// A message never converts the caller's value to a string beyond a short form of a primitive:
// that would run its code (toString, a deeply nested array's join) inside our error path.

/** The largest count or size an integer argument may take unless it says otherwise (int32). */
export const MAX_INT32 = 0x7fffffff;

/** What kind of value `v` is, for a TypeError's "got ...": never runs the value's own code. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  try {
    if (Array.isArray(v)) return 'an array';
    const proto = Object.getPrototypeOf(v) as { constructor?: unknown } | null;
    const ctor = proto === null ? undefined : Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
    const name = typeof ctor === 'function' ? (ctor as { name?: unknown }).name : undefined;
    if (typeof name === 'string' && name !== '' && name !== 'Object') return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
  } catch {
    // a Proxy whose traps throw, or a revoked one: still an object
  }
  return 'an object';
}

/** A short form of a value for a RangeError's "got ...": primitives as they are, the rest by kind. */
export function shown(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'boolean' || typeof v === 'bigint' || v === undefined) return String(v);
  return typeName(v);
}

function typeError(call: string, name: string, what: string, v: unknown): TypeError {
  return new TypeError(`${call}: ${name} must be ${what}, got ${typeName(v)}`);
}

function rangeError(call: string, name: string, what: string, v: unknown): RangeError {
  return new RangeError(`${call}: ${name} must be ${what}, got ${shown(v)}`);
}

export interface IntSpec {
  /** Default 0 (counts and sizes); pass -MAX_INT32 or lower for signed values. */
  min?: number;
  /** Default MAX_INT32. */
  max?: number;
}

function bounds(spec: IntSpec | undefined): [number, number] {
  return [spec?.min ?? 0, spec?.max ?? MAX_INT32];
}

function rangeText(min: number, max: number): string {
  if (max >= Number.MAX_SAFE_INTEGER) return min <= -Number.MAX_SAFE_INTEGER ? 'a safe integer' : `an integer >= ${min}`;
  return `an integer in [${min}, ${max}]`;
}

/** An integer in [min, max] (default [0, 2³¹ - 1]): TypeError for a non-number, RangeError otherwise. */
export function checkInt(call: string, name: string, v: unknown, spec?: IntSpec): number {
  const [min, max] = bounds(spec);
  if (typeof v !== 'number') throw typeError(call, name, 'an integer', v);
  if (!Number.isInteger(v) || v < min || v > max) throw rangeError(call, name, rangeText(min, max), v);
  return v === 0 ? 0 : v; // -0 is 0
}

/** A seed: an integer in [0, 2⁵³ - 1]. */
export function checkSeed(call: string, name: string, v: unknown): number {
  return checkInt(call, name, v, { min: 0, max: Number.MAX_SAFE_INTEGER });
}

export interface NumberSpec {
  min?: number;
  max?: number;
  /** The lower bound itself is excluded. */
  above?: boolean;
  /** The upper bound itself is excluded. */
  below?: boolean;
  /** ±Infinity allowed. Default false. */
  infinite?: boolean;
  /** Any number at all, NaN and ±Infinity included (tensor data). Default false. */
  any?: boolean;
}

/** A number (finite unless spec.infinite) within the spec's bounds: TypeError for a non-number, RangeError otherwise. */
export function checkNumber(call: string, name: string, v: unknown, spec: NumberSpec = {}): number {
  if (typeof v !== 'number') throw typeError(call, name, 'a number', v);
  if (spec.any) return v;
  const { min = -Infinity, max = Infinity, above = false, below = false, infinite = false } = spec;
  const inside = (above ? v > min : v >= min) && (below ? v < max : v <= max);
  if (Number.isNaN(v) || (!infinite && !Number.isFinite(v)) || !inside) {
    const lo = min === -Infinity ? '' : `${above ? '>' : '>='} ${min}`;
    const hi = max === Infinity ? '' : `${below ? '<' : '<='} ${max}`;
    throw rangeError(call, name, `a ${infinite ? '' : 'finite '}number${lo || hi ? ' ' : ''}${[lo, hi].filter(Boolean).join(' and ')}`, v);
  }
  return v;
}

export function checkBool(call: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw typeError(call, name, 'a boolean', v);
  return v;
}

export function checkString(call: string, name: string, v: unknown, spec: { nonEmpty?: boolean } = {}): string {
  if (typeof v !== 'string' || (spec.nonEmpty && v === '')) throw typeError(call, name, spec.nonEmpty ? 'a non-empty string' : 'a string', v);
  return v;
}

/** One of `allowed`: a TypeError for anything else (an unknown name is the wrong kind of value, as in Node's own APIs). */
export function checkEnum<T extends string>(call: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    const names = allowed.map((a) => `'${a}'`);
    const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0];
    throw new TypeError(`${call}: ${name} must be ${list}, got ${typeof v === 'string' ? shown(v) : typeName(v)}`);
  }
  return v as T;
}

export function checkFunction<F extends (...args: never[]) => unknown>(call: string, name: string, v: unknown): F {
  if (typeof v !== 'function') throw typeError(call, name, 'a function', v);
  return v as F;
}

/** A file path: a non-empty string without NUL characters (TypeError otherwise, as Node's fs). */
export function checkPath(call: string, name: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${call}: ${name} must be a non-empty string, got ${typeof v === 'string' ? '""' : typeName(v)}`);
  if (v.includes('\0')) throw new TypeError(`${call}: ${name} must not contain NUL characters`);
  return v;
}

export type Options = Readonly<Record<string, unknown>>;

/**
 * An options argument: undefined (omitted) means all defaults ({}); an object is read field by
 * field by the opt* checks below; anything else (null, a number, a string, an array, a function)
 * is a TypeError, as the declared types say.
 */
export function checkOptions(call: string, v: unknown, name = 'options'): Options {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v) || isNotOptions(v)) throw typeError(call, name, 'an object', v);
  return v as Options;
}

/**
 * Classes whose instances are values, never options: a Tensor or a module passed where options go
 * is a TypeError, not an object whose getters (dtype, shape...) are read as options (they would
 * work by accident, or throw for a disposed one in the getter's name). tensor.ts and nn register them.
 */
export const notOptionClasses: Function[] = [];

function isNotOptions(v: object): boolean {
  try {
    return notOptionClasses.some((c) => v instanceof c);
  } catch {
    return false;  // a Proxy whose getPrototypeOf trap throws: read as options, its own error follows
  }
}

/**
 * TypeError when `v` is a typed array (or DataView) over a detached ArrayBuffer (one transferred
 * to a worker, say): reading it would throw the engine's own TypeError naming no call.
 */
export function checkNotDetached(call: string, name: string, v: unknown): void {
  if (!ArrayBuffer.isView(v)) return;
  let detached = false;
  try {
    const b = v.buffer;
    if (v.byteLength === 0 && !(b instanceof SharedArrayBuffer)) new Uint8Array(b, 0, 0);
  } catch {
    detached = true;
  }
  if (detached) throw new TypeError(`${call}: ${name} is ${typeName(v)} over a detached ArrayBuffer`);
}

/** A required object argument (a dataset, a query): not null, not an array. */
export function checkObject(call: string, name: string, v: unknown, what = 'an object'): Options {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw typeError(call, name, what, v);
  return v as Options;
}

// The same checks for a field of an options object: undefined (absent) gives undefined, so that a
// default follows with `??`; the message names it as "option <key>".
export const optInt = (call: string, o: Options, key: string, spec?: IntSpec): number | undefined => {
  const v = o[key];
  return v === undefined ? undefined : checkInt(call, `option ${key}`, v, spec);
};
export const optSeed = (call: string, o: Options, key = 'seed'): number | undefined => {
  const v = o[key];
  return v === undefined ? undefined : checkSeed(call, `option ${key}`, v);
};
export const optNumber = (call: string, o: Options, key: string, spec?: NumberSpec): number | undefined => {
  const v = o[key];
  return v === undefined ? undefined : checkNumber(call, `option ${key}`, v, spec);
};
export const optBool = (call: string, o: Options, key: string): boolean | undefined => {
  const v = o[key];
  return v === undefined ? undefined : checkBool(call, `option ${key}`, v);
};
export const optString = (call: string, o: Options, key: string, spec?: { nonEmpty?: boolean }): string | undefined => {
  const v = o[key];
  return v === undefined ? undefined : checkString(call, `option ${key}`, v, spec);
};
export function optEnum<T extends string>(call: string, o: Options, key: string, allowed: readonly T[]): T | undefined {
  const v = o[key];
  return v === undefined ? undefined : checkEnum(call, `option ${key}`, v, allowed);
}
export function optFunction<F extends (...args: never[]) => unknown>(call: string, o: Options, key: string): F | undefined {
  const v = o[key];
  return v === undefined ? undefined : checkFunction<F>(call, `option ${key}`, v);
}

/**
 * A fresh plain array of the caller's array, each element read once and checked by `each` (which
 * gets the element and its name, e.g. "shape[2]"). TypeError unless `v` is an array; RangeError
 * for an empty one when `nonEmpty`.
 */
export function checkArray<T>(call: string, name: string, v: unknown, each: (x: unknown, name: string, index: number) => T, spec: { nonEmpty?: boolean; what?: string } = {}): T[] {
  if (!Array.isArray(v)) throw typeError(call, name, spec.what ?? 'an array', v);
  const n = v.length;
  if (spec.nonEmpty && n === 0) throw new RangeError(`${call}: ${name} must not be empty`);
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = each(v[i], `${name}[${i}]`, i);
  return out;
}

/** A fresh array of integers (each checked as checkInt with `spec`). */
export function checkIntArray(call: string, name: string, v: unknown, spec?: IntSpec & { nonEmpty?: boolean }): number[] {
  return checkArray(call, name, v, (x, n) => checkInt(call, n, x, spec), { nonEmpty: spec?.nonEmpty, what: 'an array of integers' });
}

/** The most elements a tensor may have (2⁴⁰, as the core's own check). */
export const MAX_ELEMENTS = 2 ** 40;

/** RangeError naming the call when a tensor of `count` elements (of `shape`) would be too large. */
export function checkElementCount(call: string, count: number, shape: readonly number[]): void {
  if (count > MAX_ELEMENTS) throw new RangeError(`${call}: shape [${shape.join(', ')}] is too large (more than 2^40 elements)`);
}

/** A shape: a fresh array of non-negative safe integers, at most 2⁴⁰ elements in all. */
export function checkShape(call: string, name: string, v: unknown): number[] {
  const shape = checkIntArray(call, name, v, { min: 0, max: Number.MAX_SAFE_INTEGER });
  if (!shape.includes(0)) checkElementCount(call, shape.reduce((a, b) => a * b, 1), shape);
  return shape;
}

/** A fresh array of strings. */
export function checkStringArray(call: string, name: string, v: unknown, spec: { nonEmpty?: boolean } = {}): string[] {
  return checkArray(call, name, v, (x, n) => checkString(call, n, x), { nonEmpty: spec.nonEmpty, what: 'an array of strings' });
}

/** An int32 list for the native side: an Int32Array copied, or an array of integers in [min, max]. */
export function checkInt32List(call: string, name: string, v: unknown, spec: IntSpec = {}): Int32Array {
  const [min, max] = bounds({ min: spec.min ?? -MAX_INT32 - 1, max: spec.max });
  if (v instanceof Int32Array) {
    const copy = Int32Array.from(v);
    for (let i = 0; i < copy.length; i++)
      if (copy[i] < min || copy[i] > max) throw rangeError(call, `${name}[${i}]`, rangeText(min, max), copy[i]);
    return copy;
  }
  if (!Array.isArray(v)) throw typeError(call, name, 'an array of integers or an Int32Array', v);
  return Int32Array.from(checkIntArray(call, name, v, { min, max }));
}

/** An object of string values (metadata): a fresh plain object, each value read once. */
export function checkStringRecord(call: string, name: string, v: unknown): Record<string, string> {
  const o = checkObject(call, name, v, 'an object of strings');
  // fromEntries defines each key as an own property, '__proto__' included.
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, checkString(call, `${name}['${k}']`, x)]));
}

/** `v` when it is an instance of one of the typed-array classes; TypeError naming them otherwise. */
export function checkTypedArray<T extends ArrayBufferView>(call: string, name: string, v: unknown, classes: readonly (abstract new (...a: never[]) => T)[]): T {
  if (!classes.some((c) => v instanceof c)) throw typeError(call, name, `a ${classes.map((c) => c.name).join(' or ')}`, v);
  return v as T;
}
