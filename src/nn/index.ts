// qkv.nn: modules of the core with typed classes, checkpoints and the native training loop.
import { checkPath } from '../args';
import { wrapModule, type LoadResult, type SupervisedModule } from './module';
import { nnBinding } from './native-nn';

export {
  Module,
  SupervisedModule,
  GenericModule,
  type Dataset,
  type LossName,
  type LossOptions,
  type FitOptions,
  type EvaluateOptions,
  type SaveOptions,
  type LoadOptions,
  type LoadResult,
} from './module';
export type { TrainProgress, TrainResult, EvalResult, EpochStats } from '../training';
export {
  Linear,
  Embedding,
  LayerNorm,
  Dropout,
  ReLU,
  GELU,
  Tanh,
  Sequential,
  MLP,
  type Init,
  type InitName,
  type FloatDType,
  type ActivationName,
  type LinearOptions,
  type EmbeddingOptions,
  type LayerNormOptions,
  type MLPOptions,
} from './layers';

/**
 * Rebuilds a module from a checkpoint written by `module.save` (its `qkv.config` says which) and
 * loads its tensors. The result is an instance of the matching class (`nn.MLP`, `nn.Linear`, ...).
 */
export async function load(path: string): Promise<{ module: SupervisedModule } & LoadResult> {
  const r = await nnBinding.nnLoadModule(checkPath('nn.load', 'path', path));
  return { module: wrapModule(r.module), metadata: r.metadata };
}
