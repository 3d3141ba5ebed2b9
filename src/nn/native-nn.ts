// The addon's module, optimizer and training functions (binding/nn_binding.cpp, optim_binding.cpp,
// fit_binding.cpp). Only src/nn and src/optim talk to this module.
import { binding, type NativeTensor } from '../native';
import type { EvalResult, NativeProgress, TrainResult } from '../training';

/** Opaque handles: type-tagged externals holding a native module / optimizer. */
export type NativeModule = { readonly __nativeModule: unique symbol };
export type NativeOptimizer = { readonly __nativeOptimizer: unique symbol };

/** A job on its own thread (binding/progress_job.h): abort() makes the promise reject with ERR_ABORTED. */
export interface NativeJob<T> {
  promise: Promise<T>;
  abort(): void;
}

export interface NativeSchedule {
  kind: 'constant' | 'warmupCosine' | 'warmupLinear';
  warmupSteps: number;
  totalSteps: number;
  minLr: number;
}

export interface NnBinding {
  nnCreate(type: string, options: Record<string, unknown>): NativeModule;
  nnType(m: NativeModule): string;
  nnConfig(m: NativeModule): string;
  nnForward(m: NativeModule, x: NativeTensor): NativeTensor;
  nnNamedParameters(m: NativeModule): [string, NativeTensor][];
  nnParameterDecay(m: NativeModule): Record<string, boolean>;
  nnNamedBuffers(m: NativeModule, persistentOnly?: boolean): [string, NativeTensor][];
  nnNamedChildren(m: NativeModule): [string, NativeModule][];
  nnParameterCount(m: NativeModule): number;
  nnSetTraining(m: NativeModule, on: boolean): void;
  nnIsTraining(m: NativeModule): boolean;
  nnZeroGrad(m: NativeModule): void;
  nnBusy(m: NativeModule): boolean;
  nnAppend(seq: NativeModule, m: NativeModule): void;
  nnDispose(m: NativeModule): void;
  nnSave(m: NativeModule, path: string, opt: NativeOptimizer | null, metadata: Record<string, string>): Promise<void>;
  nnLoad(m: NativeModule, path: string, opt: NativeOptimizer | null): Promise<Record<string, string>>;
  nnLoadModule(path: string): Promise<{ module: NativeModule; metadata: Record<string, string> }>;
  nnLoadStateDict(m: NativeModule, names: string[], tensors: NativeTensor[], strict: boolean): Promise<void>;

  optimCreate(type: string, params: NativeTensor[], decay: boolean[], options: Record<string, unknown>): NativeOptimizer;
  optimStep(o: NativeOptimizer): number;
  optimZeroGrad(o: NativeOptimizer): void;
  optimInfo(o: NativeOptimizer): {
    type: string;
    lr: number;
    currentLr: number;
    stepCount: number;
    weightDecay: number;
    schedule: NativeSchedule;
    hyperparameters: string;
    decay: boolean[];
  };
  optimSetLr(o: NativeOptimizer, lr: number): void;
  optimSetSchedule(o: NativeOptimizer, s: NativeSchedule): void;
  optimState(o: NativeOptimizer, index: number): { step: number; buffers: Record<string, NativeTensor> };
  scheduleLr(s: NativeSchedule, baseLr: number, step: number): number;
  clipGradNorm(params: NativeTensor[], maxNorm: number): number;
  gradNorm(params: NativeTensor[]): number;

  nnFit(
    m: NativeModule,
    opt: NativeOptimizer,
    inputs: NativeTensor,
    targets: NativeTensor,
    valInputs: NativeTensor | null,
    valTargets: NativeTensor | null,
    options: Record<string, unknown>,
    onProgress: ((p: NativeProgress) => void) | null,
  ): NativeJob<TrainResult>;
  nnEvaluate(
    m: NativeModule,
    inputs: NativeTensor,
    targets: NativeTensor,
    options: Record<string, unknown>,
  ): NativeJob<EvalResult>;
  nnPredict(m: NativeModule, inputs: NativeTensor, batchSize: number): NativeJob<NativeTensor>;
}

export const nnBinding = binding as unknown as NnBinding;
