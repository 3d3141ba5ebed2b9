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
