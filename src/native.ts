// Loads the native addon (a prebuilt binary from prebuilds/, or build/Release after a source build)
// and describes the functions it exports. Only src/ talks to this module.
import path = require('path');
import loadBinding = require('node-gyp-build');
import { QkvError } from './errors';

/** The opaque native handle behind a {@link Tensor}. */
export interface NativeTensor {
  shape(): number[];
  strides(): number[];
  dtype(): 'float32' | 'float64' | 'int32';
  device(): 'cpu' | 'cuda' | 'guarded';
  disposed(): boolean;
  dispose(): void;
  toTypedArray(): Float32Array | Float64Array | Int32Array;
}

export interface OpRecord {
  name: string;
  inputs: number;
  differentiable: boolean;
}

export interface CoreBinding {
  setErrorClass(ctor: typeof QkvError): void;
  // tensors
  fromTyped(data: Float32Array | Float64Array | Int32Array, shape: readonly number[]): NativeTensor;
  full(shape: readonly number[], dtype: string, value: number): NativeTensor;
  randn(shape: readonly number[], dtype: string, seed: number, mean: number, std: number): NativeTensor;
  rand(shape: readonly number[], dtype: string, seed: number, low: number, high: number): NativeTensor;
  arange(start: number, end: number, step: number, dtype: string): NativeTensor;
  reshape(t: NativeTensor, shape: readonly number[]): NativeTensor;
  permute(t: NativeTensor, dims: readonly number[]): NativeTensor;
  transpose(t: NativeTensor, a: number, b: number): NativeTensor;
  slice(t: NativeTensor, axis: number, start: number, end: number, step: number): NativeTensor;
  contiguous(t: NativeTensor): NativeTensor;
  clone(t: NativeTensor): NativeTensor;
  cast(t: NativeTensor, dtype: string): NativeTensor;
  toDevice(t: NativeTensor, device: string): NativeTensor;
  item(t: NativeTensor): number;
  // ops
  matmul(a: NativeTensor, b: NativeTensor): NativeTensor;
  matmulAsync(a: NativeTensor, b: NativeTensor): Promise<NativeTensor>;
  binary(op: string, a: NativeTensor, b: NativeTensor): NativeTensor;
  unary(op: string, a: NativeTensor): NativeTensor;
  reduce(op: string, a: NativeTensor, axes: readonly number[], keepdims: boolean): NativeTensor;
  argmax(a: NativeTensor, axis: number, keepdims: boolean): NativeTensor;
  softmax(a: NativeTensor, log: boolean): NativeTensor;
  layerNorm(x: NativeTensor, gamma: NativeTensor | null, beta: NativeTensor | null, eps: number): NativeTensor;
  embedding(weight: NativeTensor, ids: NativeTensor): NativeTensor;
  crossEntropy(logits: NativeTensor, targets: NativeTensor, ignoreIndex: number, labelSmoothing: number): NativeTensor;
  concat(parts: NativeTensor[], axis: number): NativeTensor;
  linear(x: NativeTensor, weight: NativeTensor, bias: NativeTensor | null): NativeTensor;
  dropout(y: NativeTensor, p: number, seed: number, residual: NativeTensor | null): NativeTensor;
  indexSelect(x: NativeTensor, indices: readonly number[]): NativeTensor;
  scaledDotProductAttention(q: NativeTensor, k: NativeTensor, v: NativeTensor, causal: boolean, keyLengths: NativeTensor | null,
    dropout: number, seed: number, scale: number): NativeTensor;
  attentionReference(q: NativeTensor, k: NativeTensor, v: NativeTensor, causal: boolean, keyLengths: NativeTensor | null,
    dropout: number, seed: number, scale: number): NativeTensor;
  // images: each pair is [h, w]
  conv2d(x: NativeTensor, weight: NativeTensor, bias: NativeTensor | null, stride: readonly number[], padding: readonly number[],
    dilation: readonly number[], groups: number): NativeTensor;
  conv2dReference(x: NativeTensor, weight: NativeTensor, bias: NativeTensor | null, stride: readonly number[], padding: readonly number[],
    dilation: readonly number[], groups: number): NativeTensor;
  maxPool2d(x: NativeTensor, kernel: readonly number[], stride: readonly number[], padding: readonly number[], dilation: readonly number[]): NativeTensor;
  avgPool2d(x: NativeTensor, kernel: readonly number[], stride: readonly number[], padding: readonly number[], countIncludePad: boolean): NativeTensor;
  adaptiveAvgPool2d(x: NativeTensor, outputSize: readonly number[]): NativeTensor;
  infoNCE(image: NativeTensor, text: NativeTensor, logScale: NativeTensor, bias: NativeTensor | null, loss: 'clip' | 'siglip'): NativeTensor;
  infoNCEReference(image: NativeTensor, text: NativeTensor, logScale: NativeTensor, bias: NativeTensor | null, loss: 'clip' | 'siglip'): {
    loss: NativeTensor; image: NativeTensor; text: NativeTensor; logScale: NativeTensor; bias: NativeTensor | null;
  };
  // autograd
  requiresGrad(t: NativeTensor): boolean;
  setRequiresGrad(t: NativeTensor, value: boolean): void;
  grad(t: NativeTensor): NativeTensor | null;
  setGrad(t: NativeTensor, g: NativeTensor | null): void;
  gradFn(t: NativeTensor): string | null;
  backward(t: NativeTensor, grad: NativeTensor | null, retainGraph: boolean): void;
  detach(t: NativeTensor): NativeTensor;
  setGradEnabled(enabled: boolean): boolean;
  // runtime
  simdLevel(): string;
  simdSupported(): string;
  setSimdLevel(level: string): void;
  threads(): number;
  setThreads(n: number): void;
  opRegistry(): OpRecord[];
}

/** The addon's exports. Other areas (word2vec, cuda, ...) describe their own functions beside their code. */
export const binding = loadBinding(path.join(__dirname, '..')) as CoreBinding & Record<string, unknown>;
binding.setErrorClass(QkvError);
