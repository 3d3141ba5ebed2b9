// safetensors checkpoints (https://github.com/huggingface/safetensors): the weight format of qkv,
// for every model, with the model's config in the metadata. The reading, checking and writing happen in the core (cpp/io/safetensors.h) on a
// worker thread; this module checks arguments and wraps handles.
import { checkOptions, checkPath, checkStringRecord, typeName as describe } from '../args';
import { Tensor } from '../tensor';
import { ioBinding } from './native-io';

export interface SaveSafetensorsOptions {
  /** String key/value pairs stored in the header's `__metadata__` (a model's config, training state...). */
  metadata?: Record<string, string>;
}

export interface Safetensors {
  /** The tensors in the order of the file's header. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Writes `tensors` (float32, float64 or int32, any strides) to a safetensors file, in the order given
 * (a Map's or an object's insertion order). The write is atomic: the bytes go to a temporary file in
 * the same directory, which is flushed to disk and renamed over `path`, so that `path` holds either
 * its old content or the complete new file. Rejects with `TypeError` for bad arguments and
 * `QkvError` `ERR_IO` when the file cannot be written.
 *
 * ```ts
 * await qkv.saveSafetensors('model.safetensors', { 'fc.weight': w, 'fc.bias': b }, { metadata: { config: JSON.stringify(cfg) } });
 * ```
 */
export async function saveSafetensors(
  path: string,
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  options: SaveSafetensorsOptions = {},
): Promise<void> {
  const op = 'saveSafetensors';
  checkPath(op, 'path', path);
  let entries: [unknown, unknown][];
  if (tensors instanceof Map) entries = [...tensors.entries()];
  else if (isPlainObject(tensors)) entries = Object.entries(tensors);
  else throw new TypeError(`${op}: tensors must be a Map or an object of Tensors, got ${describe(tensors)}`);
  const names: string[] = [];
  const handles = [];
  for (const [name, t] of entries) {
    if (typeof name !== 'string') throw new TypeError(`${op}: tensor names must be strings, got ${describe(name)}`);
    if (name === '__metadata__') throw new TypeError(`${op}: the tensor name '__metadata__' is reserved`);
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: tensors['${name}'] must be a Tensor, got ${describe(t)}`);
    names.push(name);
    handles.push(t._h);
  }
  const o = checkOptions(op, options);
  // A fresh copy: the native side reads it, and must not run the caller's getters.
  const metadata = o.metadata === undefined ? {} : checkStringRecord(op, 'options.metadata', o.metadata);
  await ioBinding.saveSafetensors(path, names, handles, metadata);
}

/**
 * Reads a safetensors file (a path, or its bytes as a `Uint8Array`). Everything is checked before it
 * is trusted; a corrupt or truncated file rejects with `QkvError` `ERR_FORMAT` naming the tensor and
 * the problem, a missing file with `ERR_IO`. F32, F64 and I32 load as they are; F16 and BF16 load as
 * float32; I64, U64, U32, I16, U16, I8, U8 and BOOL as int32 (values outside int32 are an error).
 * The tensors keep the order of the file's header.
 */
export async function loadSafetensors(source: string | Uint8Array): Promise<Safetensors> {
  const op = 'loadSafetensors';
  if (!(source instanceof Uint8Array)) checkPath(op, 'path', source);
  const r = await ioBinding.loadSafetensors(source);
  const tensors = new Map<string, Tensor>();
  for (const name of r.names) tensors.set(name, new Tensor(r.tensors[name]));
  return { tensors, metadata: r.metadata };
}
