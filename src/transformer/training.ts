// Training options shared by TransformerEncoder.fit and Seq2Seq.fit (progress and results: ../training).
import { checkInt, checkSignal } from './base';
import type { TrainProgress } from '../training';

export type { TrainProgress, TrainResult } from '../training';
export { progressCallback } from '../training';

export interface TrainOptions {
  /** Epochs of this call (default 10; with maxSteps alone, as many as those steps take). */
  epochs?: number;
  batchSize?: number;
  /** Steps of this call: with epochs too, whichever ends first. */
  maxSteps?: number;
  /**
   * Continue the optimizer state that the last fit left on the model, or that load() read from a
   * checkpoint saved with { optimizer: true } (default false: a fresh AdamW, which then replaces
   * the kept state). The moments and the step count carry over; this call's steps number on from
   * the saved step s0 and the schedule spans s0 + this call's steps (warm-up counted from step 0);
   * the hyperparameters below that this call leaves out keep the earlier run's values (PyTorch's
   * optimizer.load_state_dict); the batches continue the earlier run's order (the same pairs,
   * batchSize and seed give the same run as one uninterrupted fit). Rejects with QkvError
   * ERR_NO_STATE when the model holds no state.
   */
  resume?: boolean;
  /** Peak learning rate of AdamW (default 1e-3). */
  lr?: number;
  /** Floor of the decay (default 0). */
  minLr?: number;
  /** Decoupled weight decay on weight matrices (default 0.01). */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** AdamW's epsilon (default 1e-9, as the transformer paper's). */
  eps?: number;
  /** Linear warm-up steps (default 5% of the steps, at most 1000; with resume, the earlier run's). */
  warmupSteps?: number;
  schedule?: 'warmupCosine' | 'warmupLinear' | 'constant';
  /** Gradient clipping by global norm (default 1; 0 turns it off). */
  clipNorm?: number;
  labelSmoothing?: number;
  /** Micro-batches whose gradients are summed (token-weighted) into each optimizer step. Default 1. */
  accumulate?: number;
  /** Length-sorted pools of batches, to pad less (default true). */
  bucket?: boolean;
  shuffle?: boolean;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
}

const KEYS = ['epochs', 'batchSize', 'maxSteps', 'accumulate', 'lr', 'minLr', 'weightDecay', 'beta1', 'beta2', 'eps', 'warmupSteps', 'schedule', 'clipNorm',
  'labelSmoothing', 'bucket', 'shuffle', 'seed'] as const;

/** The native options object, with the JS-only fields checked. */
export function nativeTrainOptions(o: TrainOptions & Record<string, unknown>, op: string, extra: readonly string[] = []) {
  if (o === null || typeof o !== 'object') throw new TypeError(`${op}: options must be an object`);
  const out: Record<string, unknown> = {};
  for (const k of [...KEYS, ...extra]) if (o[k] !== undefined) out[k] = o[k];
  if (o.epochs !== undefined) checkInt(o.epochs, op, 'epochs', 1);
  if (o.batchSize !== undefined) checkInt(o.batchSize, op, 'batchSize', 1);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError(`${op}: onProgress must be a function`);
  if (o.resume !== undefined && typeof o.resume !== 'boolean') throw new TypeError(`${op}: resume must be a boolean`);
  return { native: out, signal: checkSignal(o.signal, op), onProgress: o.onProgress, resume: o.resume ?? false };
}
