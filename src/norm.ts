// Batch norm and group norm over [N, C, ...] (NCHW images or [N, C] features): differentiable ops of
// the registry, on `qkv` beside the others of src/ops.ts.
import { checkInt, checkOptions, optBool, optNumber } from './args';
import { binding, type NativeTensor } from './native';
import { Tensor, handle } from './tensor';

interface NormBinding {
  batchNorm(x: NativeTensor, runningMean: NativeTensor | null, runningVar: NativeTensor | null, gamma: NativeTensor | null,
    beta: NativeTensor | null, training: boolean, momentum: number, eps: number): NativeTensor;
  groupNorm(x: NativeTensor, groups: number, gamma: NativeTensor | null, beta: NativeTensor | null, eps: number): NativeTensor;
}
const native = binding as unknown as NormBinding;

const maybe = (t: Tensor | null | undefined, op: string, name: string) => (t === null || t === undefined ? null : handle(t, op, name));

export interface BatchNormOptions {
  /** Normalise with the batch's statistics (and update the running ones); false: use the running ones. Default false. */
  training?: boolean;
  /** Weight of the batch statistic in the running update, 0.1 by default (PyTorch's). */
  momentum?: number;
  eps?: number;
}

/**
 * Batch norm per channel of x [N, C, ...]: (x - mean) / sqrt(var + eps) · gamma + beta, with gamma
 * and beta [C] (or null). In training mode mean and var are the batch's (over N and the spatial dims,
 * the biased variance), and runningMean/runningVar [C], when given, are updated in place:
 * running = (1 - momentum) · running + momentum · stat, the variance's with the unbiased batch
 * variance, as in PyTorch. Otherwise the running statistics are used (and required).
 * Differentiable in x, gamma and beta; the running statistics get no gradient.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  gamma: Tensor | null = null,
  beta: Tensor | null = null,
  options: BatchNormOptions = {},
): Tensor {
  const op = 'batchNorm';
  const o = checkOptions(op, options);
  const training = optBool(op, o, 'training') ?? false;
  const momentum = optNumber(op, o, 'momentum', { min: 0, max: 1 }) ?? 0.1;
  const eps = optNumber(op, o, 'eps', { min: 0 }) ?? 1e-5;
  return new Tensor(native.batchNorm(handle(x, op, 'input'), maybe(runningMean, op, 'runningMean'), maybe(runningVar, op, 'runningVar'),
    maybe(gamma, op, 'gamma'), maybe(beta, op, 'beta'), training, momentum, eps));
}

/**
 * Group norm of x [N, C, ...]: the C channels split into `groups` equal groups, each sample's group
 * normalised over its channels and spatial positions, then scaled by gamma [C] and shifted by beta [C]
 * (either may be null). groups = 1 normalises each sample over everything (layer norm over C, H, W);
 * groups = C is instance norm. Differentiable in x, gamma and beta.
 */
export function groupNorm(x: Tensor, groups: number, gamma: Tensor | null = null, beta: Tensor | null = null, options: { eps?: number } = {}): Tensor {
  const op = 'groupNorm';
  const g = checkInt(op, 'groups', groups, { min: 1 });
  const eps = optNumber(op, checkOptions(op, options), 'eps', { min: 0 }) ?? 1e-5;
  return new Tensor(native.groupNorm(handle(x, op, 'input'), g, maybe(gamma, op, 'gamma'), maybe(beta, op, 'beta'), eps));
}
