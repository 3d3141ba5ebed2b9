// The native functions behind src/transformer (binding/transformer_binding.cpp), and the generic
// module calls of binding/nn_binding.cpp that the transformer classes use.
import { binding, type NativeTensor } from '../native';
import type { NativeOptimizer } from '../nn/native-nn';
import type { TokenBatch } from '../text/vocab';

export type { NativeOptimizer };

/** An opaque native module handle (an External). */
export type NativeModule = { readonly __nativeModule: unique symbol };

export interface NativeJob<T> {
  promise: Promise<T>;
  abort(): void;
}

/** A fit job; `optimizer` is the one it trains (continued or fresh), there from the start. */
export interface NativeFitJob extends NativeJob<NativeTrainResult> {
  optimizer: NativeOptimizer;
}

export interface NativeProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  epochEnd: number;
  epochLoss: number;
  seconds: number;
  valLoss?: number;
  valAccuracy?: number;
}

export interface NativeTrainResult {
  steps: number;
  tokens: number;
  seconds: number;
  tokensPerSec: number;
  firstEpoch: number;
  epochLoss: number[];
  valLoss: (number | null)[];
  valAccuracy: (number | null)[];
}

export interface NativeHypothesis {
  ids: Int32Array;
  score: number;
  logProb: number;
  finished: boolean;
  /** The stop token that ended it (-1 when unfinished). */
  stopToken: number;
  attention?: NativeTensor;
}

export interface NativeEval {
  loss: number | null;
  accuracy: number | null;
  tokens: number;
}

export interface TransformerBinding {
  tfCreate(config: string): NativeModule;
  tfSetParameters(m: NativeModule, entries: [string, NativeTensor][]): void;
  tfAttend(m: NativeModule, x: NativeTensor, memory: NativeTensor | null, causal: boolean, keyLengths: Int32Array | null,
    needWeights: boolean): { out: NativeTensor; weights?: NativeTensor };
  tfEncoderLayer(m: NativeModule, x: NativeTensor, keyLengths: Int32Array | null, needWeights: boolean): { out: NativeTensor; weights?: NativeTensor };
  tfDecoderLayer(m: NativeModule, x: NativeTensor, memory: NativeTensor, memoryLengths: Int32Array | null, needWeights: boolean):
    { out: NativeTensor; crossWeights?: NativeTensor; selfWeights?: NativeTensor };
  tfPositional(m: NativeModule, x: NativeTensor, offset: number): NativeTensor;
  tfEncoderHidden(m: NativeModule, ids: NativeTensor, lengths: Int32Array): NativeTensor;
  tfDropout(y: NativeTensor, p: number, seed: number): NativeTensor;
  tfAddDropout(x: NativeTensor, y: NativeTensor, p: number, seed: number): NativeTensor;
  tfSeq2SeqLogits(m: NativeModule, src: NativeTensor, srcLengths: Int32Array, tgtIn: NativeTensor): NativeTensor;
  tfSeq2SeqFit(m: NativeModule, src: TokenBatch, tgt: TokenBatch, valSrc: TokenBatch | null, valTgt: TokenBatch | null,
    options: object, onProgress: ((p: NativeProgress) => void) | null, optimizer: NativeOptimizer | null): NativeFitJob;
  tfEncoderFit(m: NativeModule, data: TokenBatch, labels: Int32Array | null, val: TokenBatch | null, valLabels: Int32Array | null,
    options: object, onProgress: ((p: NativeProgress) => void) | null, optimizer: NativeOptimizer | null): NativeFitJob;
  /** Per input its best numReturn hypotheses, best first. */
  tfTranslate(m: NativeModule, src: TokenBatch, options: object,
    onToken?: (input: number, sample: number, token: number) => void): NativeJob<NativeHypothesis[][]>;
  tfEncode(m: NativeModule, data: TokenBatch, pooling: string, batchSize: number): NativeJob<NativeTensor>;
  tfClassify(m: NativeModule, data: TokenBatch, batchSize: number): NativeJob<NativeTensor>;
  tfEvaluate(m: NativeModule, a: TokenBatch, b: TokenBatch | Int32Array | null, options: object): NativeJob<NativeEval>;
  /** Per pair the teacher-forced sum of log p of the target tokens after <bos>. */
  tfScore(m: NativeModule, src: TokenBatch, tgt: TokenBatch, batchSize: number): NativeJob<Float64Array>;
  /** A checkpoint, with the trainer's optimizer when the file holds optimizer state. */
  tfLoadModule(path: string): Promise<{ module: NativeModule; metadata: Record<string, string>; optimizer?: NativeOptimizer }>;
  // nn_binding.cpp
  nnType(m: NativeModule): string;
  nnConfig(m: NativeModule): string;
  nnNamedParameters(m: NativeModule): [string, NativeTensor][];
  nnNamedBuffers(m: NativeModule): [string, NativeTensor][];
  nnParameterCount(m: NativeModule): number;
  nnSetTraining(m: NativeModule, on: boolean): void;
  nnIsTraining(m: NativeModule): boolean;
  nnZeroGrad(m: NativeModule): void;
  nnBusy(m: NativeModule): boolean;
  nnDispose(m: NativeModule): void;
  nnSave(m: NativeModule, path: string, optimizer: NativeOptimizer | null, metadata: Record<string, string>): Promise<void>;
  // optim_binding.cpp
  optimInfo(o: NativeOptimizer): { stepCount: number };
}

export const tb = binding as unknown as TransformerBinding;
