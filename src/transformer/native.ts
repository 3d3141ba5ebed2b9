// The native functions behind src/transformer (binding/transformer_binding.cpp), and the generic
// module calls of binding/nn_binding.cpp that the transformer classes use.
import { binding, type NativeTensor } from '../native';
import type { NativeOptimizer } from '../nn/native-nn';

export type { NativeOptimizer };

/** An opaque native module handle (an External). */
export type { NativeModule } from '../nn/native-nn';
import type { NativeModule } from '../nn/native-nn';

/** A hypothesis of the translate task (its attention comes as the task's tensor "attention.<input>.0"). */
export interface NativeHypothesis {
  ids: number[];
  score: number;
  logProb: number;
  finished: boolean;
  /** The stop token that ended it (-1 when unfinished). */
  stopToken: number;
}

export interface TransformerBinding {
  tfCreate(config: string): NativeModule;
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
