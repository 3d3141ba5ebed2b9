// The training engine's progress, result and evaluation types: one set for every model that
// trains with gradients (nn modules' fit, TransformerEncoder.fit, Seq2Seq.fit), as the native
// engine reports them.

export interface TrainProgress {
  /** The optimizer's steps so far (1-based after a step); a continued run counts on from its earlier steps. */
  step: number;
  /** The step this call ends at. */
  totalSteps: number;
  /** 1-based; a continued run counts on from its earlier epochs. */
  epoch: number;
  /** Mean loss of this step (over its micro-batches, weighted by samples or tokens). */
  loss: number;
  /** Learning rate this step used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Samples (rows) this call has trained on so far. */
  samples: number;
  /** Tokens this call has trained on so far (target tokens for Seq2Seq, input tokens for encoders; 0 for tensor datasets). */
  tokens: number;
  samplesPerSec: number;
  tokensPerSec: number;
  /** Seconds since this call started. */
  seconds: number;
  /** True on the last step of an epoch (or of the call). */
  epochEnd: boolean;
  /** Mean loss of the epoch so far (weighted by samples or tokens). */
  epochLoss: number;
  /** Validation loss and accuracy of the latest finished epoch (with a validation set). */
  valLoss?: number;
  valAccuracy?: number;
}

export interface EpochStats {
  epoch: number;
  loss: number;
  valLoss?: number;
  valAccuracy?: number;
  seconds: number;
}

export interface TrainResult {
  /** Steps of this call. */
  steps: number;
  samples: number;
  tokens: number;
  seconds: number;
  samplesPerSec: number;
  tokensPerSec: number;
  /** The epoch of this call's first step (later than 1 when continued). */
  firstEpoch: number;
  /** The epochs this call ended. */
  epochs: EpochStats[];
}

export interface EvalResult {
  /** Mean loss (over the samples, or the non-ignored target tokens); NaN when nothing counted. */
  loss: number;
  /** Fraction of correct argmax predictions, where the objective has classes or tokens. */
  accuracy?: number;
  /** What the loss averages over: samples or tokens. */
  count: number;
}

/** Progress as the native engine reports it (numbers only). */
export type NativeProgress = Omit<TrainProgress, 'epochEnd'> & { epochEnd: number };

/** The native progress callback for a user's onProgress (or null for none). */
export function progressCallback(cb: ((p: TrainProgress) => void) | undefined): ((p: NativeProgress) => void) | null {
  if (!cb) return null;
  return (p) => cb({ ...p, epochEnd: p.epochEnd !== 0 });
}
