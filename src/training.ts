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
  /** The latest validation loss and accuracy (at epoch ends, and every evalEvery steps where a model has it), measured at valStep. */
  valLoss?: number;
  valAccuracy?: number;
  valStep?: number;
}

export interface EpochStats {
  epoch: number;
  loss: number;
  valLoss?: number;
  valAccuracy?: number;
  seconds: number;
}

/** A point of a loss curve: a step's training loss and, where it validated, the validation loss. */
export interface LossPoint {
  step: number;
  loss: number;
  valLoss?: number;
  valAccuracy?: number;
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
  /** Every step of this call (for qkv.plot.lossCurve). */
  history: LossPoint[];
}

/** A training task's result as the native engine returns it (history as [step, loss, valLoss, valAccuracy] rows). */
export type NativeTrainResult = Omit<TrainResult, 'history'> & { history: [number, number | null, number | null, number | null][] };

/** The result of a training task, its history as points. */
export function trainResult(r: NativeTrainResult): TrainResult {
  const history = r.history.map(([step, loss, valLoss, valAccuracy]): LossPoint => {
    const p: LossPoint = { step, loss: loss ?? NaN };
    if (valLoss !== null) p.valLoss = valLoss;
    if (valAccuracy !== null) p.valAccuracy = valAccuracy;
    return p;
  });
  return { ...r, history };
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
