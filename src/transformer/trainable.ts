// What the trainable models (Seq2Seq, TransformerEncoder) share: the AdamW state that fit() leaves
// on the model between calls (PyTorch's optimizer.state_dict, kept for you), fit(..., { resume:
// true }) that continues it, and checkpoints that carry it (save(path, { optimizer: true }), load).
// Every fit job that started leaves its optimizer, an aborted or diverging one too: its state is
// that of the steps taken, which matches the weights.
import { checkOptions, checkPath, optEnum } from '../args';
import { QkvError } from '../errors';
import { noOptimizerState, type SaveOptions } from '../nn/module';
import { vocabFromJSON, type Vocabulary } from '../text/vocab';
import { type Optimizer } from '../optim/index';
import { checkOptimizer } from '../optim/check';
import { runJob, startTask, type TaskCall, type TaskJob } from '../jobs';
import { NativeModuleBase } from './base';
import { tb, type NativeModule, type NativeOptimizer } from './native';
import { trainResult, type NativeTrainResult, type TrainResult } from '../training';

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
  return tb.tfLoadModule(checkPath(op, 'path', path));
}

/**
 * What `read` makes of a loaded checkpoint (the model's vocabularies, checked against its
 * config); the module is disposed when that throws. A checkpoint is a file: whatever is wrong with
 * it is QkvError ERR_FORMAT.
 */
export function fromCheckpoint<T>(loaded: LoadedModule, op: string, read: (config: Record<string, unknown>) => T): T {
  try {
    return read(JSON.parse(tb.nnConfig(loaded.module)) as Record<string, unknown>);
  } catch (e) {
    tb.nnDispose(loaded.module);
    if (e instanceof QkvError) throw e;
    throw new QkvError(`${op}: ${(e as Error).message}`, 'ERR_FORMAT');
  }
}

/**
 * The vocabulary saved under `key` in a checkpoint's metadata, with `size` tokens and, for each of
 * `ids`, that special at that id (the ids the model was built with); QkvError ERR_FORMAT otherwise.
 */
export function savedVocab(metadata: Record<string, string>, key: string, size: unknown, ids: Record<string, unknown>, op: string): Vocabulary {
  const json = metadata[key];
  if (json === undefined) throw new QkvError(`${op}: the checkpoint has no vocabulary '${key}'`, 'ERR_FORMAT');
  let v: Vocabulary;
  try {
    v = vocabFromJSON(json);
  } catch (e) {
    throw new QkvError(`${op}: the vocabulary '${key}' is corrupt: ${(e as Error).message}`, 'ERR_FORMAT');
  }
  if (v.size !== size) throw new QkvError(`${op}: the vocabulary '${key}' has ${v.size} tokens, the model ${String(size)}`, 'ERR_FORMAT');
  for (const [name, id] of Object.entries(ids))
    if (v.specialTokens[name] !== id)
      throw new QkvError(`${op}: the vocabulary '${key}' has ${name} id ${v.specialTokens[name]}, the model ${String(id)}`, 'ERR_FORMAT');
  return v;
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

  /** Runs a training task (`verb`, default fit) on a fresh optimizer, or with `resume` on the kept one; keeps the task's. */
  protected fitJob(op: string, signal: AbortSignal | undefined, resume: boolean, call: TaskCall, verb = 'fit'): Promise<TrainResult> {
    return this.enqueue(async (m) => {
      if (resume && !this.optimizer) throw noOptimizerState(op, 'resume: true');
      let job: TaskJob<NativeTrainResult> | null = null;
      try {
        return trainResult((await runJob(op, signal, () => (job = startTask<NativeTrainResult>(m, verb, { ...call, optimizer: resume ? this.optimizer : null })))).value);
      } finally {
        const kept = (job as TaskJob<NativeTrainResult> | null)?.optimizer;
        if (kept) this.keepOptimizer(kept);
      }
    });
  }

  /**
   * save() with a `format`: 'qkv' (the checkpoint, default) or 'huggingface', where `writeHF`
   * writes transformers' files into the directory `path` (after the calls queued before).
   */
  protected saveInFormat(op: string, path: string, options: SaveOptions & { format?: 'qkv' | 'huggingface' },
    writeHF: () => Promise<void>): Promise<void> {
    const o = checkOptions(op, options);
    const format = optEnum(op, o, 'format', ['qkv', 'huggingface'] as const) ?? 'qkv';
    if (format === 'qkv') {
      const { format: _, ...rest } = o;
      return super.save(path, rest as SaveOptions);
    }
    checkPath(op, 'dir', path);
    if (o.optimizer !== undefined || o.metadata !== undefined) throw new TypeError(`${op}: the huggingface format holds no optimizer state or metadata`);
    return this.enqueue(writeHF);
  }

  protected override optimizerToSave(optimizer: Optimizer | boolean | undefined, op: string): NativeOptimizer | null {
    if (optimizer === true) {
      if (!this.optimizer) throw noOptimizerState(op);
      return this.optimizer;
    }
    return optimizer === undefined || optimizer === false ? null : checkOptimizer(optimizer, op)._o;
  }
}
