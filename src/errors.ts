/** Codes carried by {@link QkvError}. */
export type QkvErrorCode =
  | 'ERR_DISPOSED'
  | 'ERR_FORMAT'
  | 'ERR_IO'
  | 'ERR_ABORTED'
  | 'ERR_NAN'
  | 'ERR_BUSY'
  | 'ERR_NO_STATE'
  | 'ERR_UNSUPPORTED'
  | 'ERR_CUDA'
  | 'ERR_DEVICE'
  | 'ERR_INTERNAL';

/**
 * The error qkv throws for everything that is not a wrong argument type (`TypeError`) or a wrong
 * shape, axis or index (`RangeError`): a disposed tensor, a corrupt file, an aborted job...
 */
export class QkvError extends Error {
  readonly code: QkvErrorCode;
  constructor(message: string, code: QkvErrorCode | string) {
    // Checked, not converted: String() of the caller's value would run its code (or throw the
    // engine's own TypeError for a Symbol or a detached typed array).
    if (typeof message !== 'string') throw new TypeError(`QkvError: message must be a string, got ${kindOf(message)}`);
    if (typeof code !== 'string') throw new TypeError(`QkvError: code must be a string, got ${kindOf(code)}`);
    super(message);
    this.name = 'QkvError';
    this.code = code as QkvErrorCode;
  }
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
}

/**
 * @internal `fn()` (a call into the core) with its errors naming `op`: the core's checks name the
 * op they run in ('empty', 'LayerNorm.forward', 'matmul'), which may be one the public call is
 * built on. An error that already names the call (or a part of it: its class) is left as it is;
 * another gets `op: ` in front, keeping its class and code. A promise's rejection likewise.
 */
export function named<T>(op: string, fn: () => T): T {
  let r: T;
  try {
    r = fn();
  } catch (e) {
    throw renamed(e, op);
  }
  if (r instanceof Promise) return r.catch((e: unknown) => { throw renamed(e, op); }) as T;
  return r;
}

function renamed(e: unknown, op: string): unknown {
  if (!(e instanceof Error)) return e;
  if (e.message.startsWith(`${op}:`) || op.split('.').some((part) => e.message.startsWith(`${part}:`) || e.message.startsWith(`${part}.`))) return e;
  const message = `${op}: ${e.message}`;
  if (e instanceof QkvError) return new QkvError(message, e.code);
  if (e instanceof TypeError) return new TypeError(message);
  if (e instanceof RangeError) return new RangeError(message);
  return e;
}
