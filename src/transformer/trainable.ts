// What the trainable models (Seq2Seq, TransformerEncoder) share: the AdamW state that fit() leaves
// on the model between calls (PyTorch's optimizer.state_dict, kept for you), fit(..., { resume:
// true }) that continues it, and checkpoints that carry it (save(path, { optimizer: true }), load).
// Every fit job that started leaves its optimizer, an aborted or diverging one too: its state is
// that of the steps taken, which matches the weights.
import { QkvError } from '../errors';
import { NativeModuleBase, runJob } from './base';
import { tb, type NativeFitJob, type NativeModule, type NativeOptimizer } from './native';
import type { TrainResult } from '../training';

export interface SaveOptions {
  /**
   * Also write the optimizer state that fit() left on the model (default false): its moments under
   * `optimizer/<parameter>/exp_avg` and `.../exp_avg_sq`, its step counts, hyperparameters and
   * schedule in the `qkv.optimizer` metadata. load() restores it, and fit(..., { resume: true })
   * continues it.
   */
  optimizer?: boolean;
}

/** What load() of a trainable model reads: the module, its metadata and its optimizer state. */
export interface LoadedModule {
  module: NativeModule;
  metadata: Record<string, string>;
  optimizer?: NativeOptimizer;
}

export function loadCheckpoint(path: string, op: string): Promise<LoadedModule> {
  if (typeof path !== 'string') throw new TypeError(`${op}: path must be a string`);
  return tb.tfLoadModule(path);
}

function noState(op: string, what: string): QkvError {
  return new QkvError(
    `${op}: ${what} needs optimizer state, and this model has none: train it with fit() first, or load a checkpoint saved with { optimizer: true }`,
    'ERR_NO_STATE',
  );
}

export abstract class TrainableModule extends NativeModuleBase {
  private optimizer: NativeOptimizer | null = null;
  private steps: number | null = null;

  protected constructor(m: NativeModule, optimizer?: NativeOptimizer) {
    super(m);
    if (optimizer) this.keepOptimizer(optimizer);
  }

  /**
   * Optimizer steps in the kept state (null: none), as of the last fit that settled, or of load().
   * fit(..., { resume: true }) continues from this step.
   */
  get optimizerStep(): number | null {
    return this.steps;
  }

  /** Drops the kept optimizer state (after the calls queued before), freeing its moments. */
  clearOptimizerState(): Promise<void> {
    return this.enqueue(async () => this.keepOptimizer(null));
  }

  protected override released(): void {
    this.keepOptimizer(null);
  }

  private keepOptimizer(o: NativeOptimizer | null): void {
    this.optimizer = o;
    this.steps = o ? tb.optimInfo(o).stepCount : null;
  }

  /** Runs a fit job on a fresh optimizer, or with `resume` on the kept one; keeps the job's. */
  protected fitJob(op: string, signal: AbortSignal | undefined, resume: boolean,
    start: (m: NativeModule, optimizer: NativeOptimizer | null) => NativeFitJob): Promise<TrainResult> {
    return this.enqueue(async (m) => {
      if (resume && !this.optimizer) throw noState(op, 'resume: true');
      let job: NativeFitJob | null = null;
      try {
        return (await runJob(op, signal, () => (job = start(m, resume ? this.optimizer : null))));
      } finally {
        if (job) this.keepOptimizer((job as NativeFitJob).optimizer);
      }
    });
  }

  /** Writes the checkpoint (atomically), with the optimizer state when asked for. */
  protected saveCheckpoint(path: string, options: SaveOptions, op: string, metadata: Record<string, string>): Promise<void> {
    if (typeof path !== 'string') throw new TypeError(`${op}: path must be a string`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${op}: options must be an object`);
    const withOptimizer = options.optimizer ?? false;
    if (typeof withOptimizer !== 'boolean') throw new TypeError(`${op}: optimizer must be a boolean`);
    return this.enqueue(async (m) => {
      if (withOptimizer && !this.optimizer) throw noState(op, 'optimizer: true');
      return tb.nnSave(m, path, withOptimizer ? this.optimizer : null, metadata);
    });
  }
}
