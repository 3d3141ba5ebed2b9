// What the trainable models (Seq2Seq, TransformerEncoder) share: the AdamW state that fit() leaves
// on the model between calls (PyTorch's optimizer.state_dict, kept for you), fit(..., { resume:
// true }) that continues it, and checkpoints that carry it (save(path, { optimizer: true }), load).
// Every fit job that started leaves its optimizer, an aborted or diverging one too: its state is
// that of the steps taken, which matches the weights.
import { noOptimizerState, type SaveOptions } from '../nn/module';
import { checkOptimizer, type Optimizer } from '../optim/index';
import { runJob, startTask, type TaskCall, type TaskJob } from '../jobs';
import { NativeModuleBase } from './base';
import { tb, type NativeModule, type NativeOptimizer } from './native';
import type { TrainResult } from '../training';

/**
 * save(path, { optimizer: true }) also writes the optimizer state that fit() left on the model: its
 * moments under `optimizer/<parameter>/exp_avg` and `.../exp_avg_sq`, its step counts,
 * hyperparameters and schedule in the `qkv.optimizer` metadata. load() restores it, and
 * fit(..., { resume: true }) continues it.
 */
export type { SaveOptions };

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

  /** Runs a fit task on a fresh optimizer, or with `resume` on the kept one; keeps the task's. */
  protected fitJob(op: string, signal: AbortSignal | undefined, resume: boolean, call: TaskCall): Promise<TrainResult> {
    return this.enqueue(async (m) => {
      if (resume && !this.optimizer) throw noOptimizerState(op, 'resume: true');
      let job: TaskJob<TrainResult> | null = null;
      try {
        return (await runJob(op, signal, () => (job = startTask<TrainResult>(m, 'fit', { ...call, optimizer: resume ? this.optimizer : null })))).value;
      } finally {
        const kept = (job as TaskJob<TrainResult> | null)?.optimizer;
        if (kept) this.keepOptimizer(kept);
      }
    });
  }

  protected override optimizerToSave(optimizer: Optimizer | boolean | undefined, op: string): NativeOptimizer | null {
    if (optimizer === true) {
      if (!this.optimizer) throw noOptimizerState(op);
      return this.optimizer;
    }
    return optimizer === undefined || optimizer === false ? null : checkOptimizer(optimizer, op)._o;
  }
}
