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
    super(message);
    this.name = 'QkvError';
    this.code = code as QkvErrorCode;
  }
}
