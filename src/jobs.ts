// Native jobs from the JavaScript side, written once for every model: the AbortSignal wiring of a
// job's { promise, abort } and the per-object call queue (calls on one model run one after
// another, in call order, never concurrently; dispose waits for the calls queued before it).
import { QkvError } from './errors';
import { binding, type NativeTensor } from './native';
import type { NativeModule, NativeOptimizer } from './nn/native-nn';
import type { TokenBatch } from './text/batch';
import type { NativeProgress } from './training';

/** What the binding returns for a long call: it runs off the main thread; abort() rejects it with ERR_ABORTED. */
export interface NativeJob<T> {
  promise: Promise<T>;
  abort(): void;
}

export function abortError(op: string): QkvError {
  return new QkvError(`${op}: aborted`, 'ERR_ABORTED');
}

/** The AbortSignal of an options object (undefined or null: none); TypeError for anything else. */
export function checkSignal(signal: unknown, op: string): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== 'object' || typeof (signal as AbortSignal).addEventListener !== 'function' || !('aborted' in (signal as object)))
    throw new TypeError(`${op}: signal must be an AbortSignal`);
  return signal as AbortSignal;
}

/** Starts a native job, wiring `signal` to its abort(); the listener goes away when it settles. */
export async function runJob<T>(op: string, signal: AbortSignal | undefined, start: () => NativeJob<T>): Promise<T> {
  if (signal?.aborted) throw abortError(op);
  const job = start();
  if (!signal) return job.promise;
  const onAbort = () => job.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await job.promise;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs calls one after another, in call order. When nothing is pending a call starts at once
 * (synchronously), so that its native job marks the model busy before the caller's next line; a
 * call that throws synchronously rejects its own promise only.
 */
export class CallQueue {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  get pending(): number {
    return this.#pending;
  }

  enqueue<T>(start: () => Promise<T> | T): Promise<T> {
    let p: Promise<T>;
    if (this.#pending === 0) {
      try {
        p = Promise.resolve(start());
      } catch (err) {
        p = Promise.reject(err);
      }
    } else {
      p = this.#tail.then(start);
    }
    this.#pending++;
    // Registered before the caller can await p, so it runs first: a call queued right after this
    // one settles starts synchronously.
    const settled = () => {
      this.#pending--;
    };
    this.#tail = p.then(settled, settled);
    return p;
  }

  /** Settles once every call queued so far has settled. */
  idle(): Promise<void> {
    return this.#tail;
  }
}

// ---- tasks -----------------------------------------------------------------------------------------
// A model's long calls are tasks of the core (cpp/nn/task.h) run by one binding entry, runTask:
// options go as JSON, inputs as named tensors, results come back as a JSON value and named tensors.

/** What runTask resolves to, parsed. */
export interface TaskResult<T> {
  value: T;
  tensors: Map<string, NativeTensor>;
}

/** A running task; a training task carries its optimizer (continued or fresh) from the start. */
export interface TaskJob<T> extends NativeJob<TaskResult<T>> {
  optimizer?: NativeOptimizer;
}

export interface TaskCall {
  options?: Record<string, unknown>;
  tensors?: [string, NativeTensor][];
  /** Training tasks: the optimizer to continue (none: the task starts its own). */
  optimizer?: NativeOptimizer | null;
  onProgress?: ((p: NativeProgress) => void) | null;
  /** Streamed items (JSON values), every one, in order, before the promise settles. */
  onItem?: ((item: unknown) => void) | null;
}

interface TaskBinding {
  runTask(m: NativeModule, verb: string, options: string, tensors: [string, NativeTensor][], optimizer: NativeOptimizer | null,
    onProgress: ((p: NativeProgress) => void) | null, onItem: ((item: string) => void) | null):
    NativeJob<{ value: string; tensors: [string, NativeTensor][] }> & { optimizer?: NativeOptimizer };
  taskVerbs(m: NativeModule): string[];
}

const tasks = binding as unknown as TaskBinding;

/** Starts the task `verb` of a native module. */
export function startTask<T>(m: NativeModule, verb: string, call: TaskCall = {}): TaskJob<T> {
  const onItem = call.onItem;
  const job = tasks.runTask(m, verb, JSON.stringify(call.options ?? {}), call.tensors ?? [], call.optimizer ?? null, call.onProgress ?? null,
    onItem ? (text: string) => onItem(JSON.parse(text)) : null);
  return {
    promise: job.promise.then((r) => ({ value: JSON.parse(r.value) as T, tensors: new Map(r.tensors) })),
    abort: () => job.abort(),
    optimizer: job.optimizer,
  };
}

/** Runs a task with its AbortSignal and resolves to its JSON value. */
export async function taskValue<T>(op: string, signal: AbortSignal | undefined, start: () => TaskJob<T>): Promise<T> {
  return (await runJob(op, signal, start)).value;
}

/** The verbs runTask accepts for a native module. */
export function taskVerbs(m: NativeModule): string[] {
  return tasks.taskVerbs(m);
}

/** An int32 input tensor [n] (labels, lengths). */
export function int32Tensor(v: Int32Array): NativeTensor {
  return binding.fromTyped(v, [v.length]);
}

/** Token sequences as a task's two input tensors, "<name>.ids" [rows, cols] and "<name>.lengths" [rows]. */
export function sequenceTensors(name: string, b: TokenBatch): [string, NativeTensor][] {
  return [
    [`${name}.ids`, binding.fromTyped(b.ids, [b.rows, b.cols])],
    [`${name}.lengths`, binding.fromTyped(b.lengths, [b.rows])],
  ];
}
