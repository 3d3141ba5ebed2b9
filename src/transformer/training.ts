// Training options shared by TransformerEncoder.fit and Seq2Seq.fit (progress and results: ../training).
import { checkOptions, optBool, optEnum, optFunction, optInt, optNumber, optSeed, type Options } from '../args';
import { checkSignal } from './base';
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

const STEPS = { min: 0, max: Number.MAX_SAFE_INTEGER };
const UNIT = { min: 0, max: 1 };
const BETA = { min: 0, max: 1, below: true };

// Each option the native task reads, with its check.
const CHECKS: Record<string, (op: string, o: Options, key: string) => unknown> = {
  epochs: (op, o, k) => optInt(op, o, k, { min: 1 }),
  batchSize: (op, o, k) => optInt(op, o, k, { min: 1 }),
  maxSteps: (op, o, k) => optInt(op, o, k, STEPS),
  accumulate: (op, o, k) => optInt(op, o, k, { min: 1 }),
  lr: (op, o, k) => optNumber(op, o, k, { min: 0, above: true }),
  minLr: (op, o, k) => optNumber(op, o, k, { min: 0 }),
  weightDecay: (op, o, k) => optNumber(op, o, k, { min: 0 }),
  beta1: (op, o, k) => optNumber(op, o, k, BETA),
  beta2: (op, o, k) => optNumber(op, o, k, BETA),
  eps: (op, o, k) => optNumber(op, o, k, { min: 0 }),
  warmupSteps: (op, o, k) => optInt(op, o, k, STEPS),
  schedule: (op, o, k) => optEnum(op, o, k, ['warmupCosine', 'warmupLinear', 'constant'] as const),
  clipNorm: (op, o, k) => optNumber(op, o, k, { min: 0 }),
  labelSmoothing: (op, o, k) => optNumber(op, o, k, UNIT),
  bucket: (op, o, k) => optBool(op, o, k),
  shuffle: (op, o, k) => optBool(op, o, k),
  seed: (op, o, k) => optSeed(op, o, k),
};

// Options only some models read, asked for by name.
const EXTRA_CHECKS: Record<string, (op: string, o: Options, key: string) => unknown> = {
  maskProb: (op, o, k) => optNumber(op, o, k, UNIT),
  context: (op, o, k) => optInt(op, o, k, { min: 1 }),
  evalEvery: (op, o, k) => optInt(op, o, k, STEPS),
  valBatches: (op, o, k) => optInt(op, o, k, STEPS),
  lmWeight: (op, o, k) => optNumber(op, o, k, { min: 0 }),
};


/** The native options object (the options given, each checked) and the JS-only fields. */
export function nativeTrainOptions(options: unknown, op: string, extra: readonly string[] = []) {
  const o = checkOptions(op, options);
  const out: Record<string, unknown> = {};
  const checks: [string, (op: string, o: Options, key: string) => unknown][] = [...Object.entries(CHECKS), ...extra.map((k): [string, (op: string, o: Options, key: string) => unknown] => [k, EXTRA_CHECKS[k]])];
  for (const [k, check] of checks) {
    const v = check(op, o, k);
    if (v !== undefined) out[k] = v;
  }
  return {
    native: out,
    signal: checkSignal(o.signal, op),
    onProgress: optFunction<(p: TrainProgress) => void>(op, o, 'onProgress'),
    resume: optBool(op, o, 'resume') ?? false,
    options: o,
  };
}
