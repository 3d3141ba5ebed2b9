import { checkEnum, checkInt } from './args';
import { binding, type OpRecord } from './native';

export type SimdLevel = 'avx512' | 'avx2' | 'scalar';
const ORDER: readonly SimdLevel[] = ['scalar', 'avx2', 'avx512'];

/** The CPU instruction-set level the kernels use (chosen at load time; QKV_SIMD=avx2|scalar lowers it). */
export const simd = {
  level: (): SimdLevel => binding.simdLevel() as SimdLevel,
  /** The best level this processor runs. */
  supported: (): SimdLevel => binding.simdSupported() as SimdLevel,
  /** Every level this processor runs, lowest first. */
  available: (): SimdLevel[] => ORDER.slice(0, ORDER.indexOf(binding.simdSupported() as SimdLevel) + 1),
  /** Switches the level for this process (for tests and benchmarks); TypeError for an unknown level, RangeError if unsupported. */
  use: (level: SimdLevel): void => {
    const l = checkEnum('simd.use', 'level', level, [...ORDER].reverse());
    const best = binding.simdSupported() as SimdLevel;
    if (ORDER.indexOf(l) > ORDER.indexOf(best)) throw new RangeError(`simd.use: this processor runs at most '${best}', got '${l}'`);
    binding.setSimdLevel(l);
  },
};

/** Threads of the kernels' pool (QKV_THREADS, or the number of cores). */
export function threads(): number {
  return binding.threads();
}
/** Resizes the kernels' thread pool. */
export function setThreads(n: number): void {
  // The native side names the bounds ([1, 256]).
  binding.setThreads(checkInt('setThreads', 'threads', n, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }));
}

/** The op registry of the core: every op once, with its arity and whether it is differentiable. */
export function opRegistry(): OpRecord[] {
  return binding.opRegistry();
}
