/**
 * qkv: representation learning for Node.js on a native C++ core.
 * Tensors and ops, autograd and modules, word2vec, transformers (encoders, encoder-decoders, GPT) and dual encoders (CLIP).
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
export {
  DualEncoder, DualEncoder as CLIP, type DualEncoderOptions, type DualEncoderFitOptions, type VisionTowerOptions, type TextTowerOptions,
  type ImageTextPairs, type EmbedOptions, type ZeroShotOptions, type ZeroShotResult, type RetrievalResult, type RetrievalDirection,
} from './clip/dual-encoder';
export type { TrainProgress, TrainResult, EvalResult, EpochStats, LossPoint } from './training';
export * as plot from './plot/index';
