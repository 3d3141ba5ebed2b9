// The addon's file-format functions (binding/io_binding.cpp). Only src/io and src/plot (its atomic
// writer) talk to this module.
import { binding, type NativeTensor } from '../native';

export interface NativeSafetensors {
  /** Tensor names in header order. */
  names: string[];
  tensors: Record<string, NativeTensor>;
  metadata: Record<string, string>;
}

export interface IoBinding {
  saveSafetensors(path: string, names: string[], tensors: NativeTensor[], metadata: Record<string, string>): Promise<void>;
  loadSafetensors(source: string | Uint8Array): Promise<NativeSafetensors>;
  /** Writes text atomically (temporary file, fsync, rename), as every save does; errors name `op`. */
  writeTextFile(path: string, text: string, op: string): void;
}

export const ioBinding = binding as unknown as IoBinding;
