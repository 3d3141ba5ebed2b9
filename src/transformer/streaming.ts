// Items a task streams (tokens as they are chosen), as an AsyncIterable: one queue between the
// native job's callbacks and the consumer's next(); breaking out of the loop aborts the job.
import { runJob, type TaskJob } from '../jobs';
import type { NativeModule } from './native';

/**
 * Runs `start` (through `enqueue`, the model's call queue) and yields what `map` makes of each
 * streamed item, in order; the job's error (an abort through `signal`, say) is thrown by next().
 * `map` may call `stop()` to end the stream early: the job is aborted and the stream ends cleanly.
 */
export function streamTask<T>(
  op: string,
  signal: AbortSignal | undefined,
  enqueue: (fn: (m: NativeModule) => Promise<void>) => Promise<void>,
  start: (m: NativeModule, onItem: (item: unknown) => void) => TaskJob<unknown>,
  map: (item: unknown, stop: () => void) => T[],
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      const queue: T[] = [];
      let wake: (() => void) | undefined;
      let finished = false, cancelled = false, stopped = false, failure: unknown;
      let abort: (() => void) | undefined;
      const notify = () => {
        wake?.();
        wake = undefined;
      };
      const stop = () => {
        stopped = true;
        abort?.();
      };
      const onItem = (item: unknown) => {
        if (stopped || cancelled) return;
        queue.push(...map(item, stop));
        notify();
      };
      void enqueue(async (m) => {
        await runJob(op, signal, () => {
          const job = start(m, onItem);
          abort = () => job.abort();
          if (cancelled || stopped) abort();
          return job;
        });
      }).then(
        () => { finished = true; notify(); },
        (e) => { if (!stopped) failure = e; finished = true; notify(); },
      );
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (queue.length) return { value: queue.shift()!, done: false };
            if (finished) {
              if (failure !== undefined) {
                const e = failure;
                failure = undefined;
                throw e;
              }
              return { value: undefined, done: true };
            }
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<T>> {
          cancelled = true;
          if (!finished) abort?.();
          queue.length = 0;
          return { value: undefined, done: true };
        },
      };
    },
  };
}
