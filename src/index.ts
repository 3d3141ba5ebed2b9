/**
 * qkv: representation learning for Node.js on a native C++ core.
 * Tensors and ops, autograd and modules, word2vec, and transformers (encoders and encoder-decoders).
 */
export { Tensor, type DType, type Device, type NestedArray } from './tensor';
export * from './ops';
// ---- normalisation
export * from './norm';
// ---- image preprocessing
export * as image from './image';
export * from './io/safetensors';
export { simd, threads, setThreads, opRegistry, type SimdLevel } from './runtime';
export { QkvError, type QkvErrorCode } from './errors';
export type { OpRecord } from './native';
export { cuda, type Cuda, type CudaInfo, type CudaDevice } from './cuda';
export * from './word2vec/index';
export * as nn from './nn/index';
export * as optim from './optim/index';
export * from './transformer/index';
export type { TrainProgress, TrainResult, EvalResult, EpochStats, LossPoint } from './training';
export * as plot from './plot/index';
