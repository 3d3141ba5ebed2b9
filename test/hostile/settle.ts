// Waiting for what a call returned: a Promise is awaited and an async iterable drained (a stream of
// tokens), each within a time limit, so that a call that never settles is seen as a hang.

export class Timeout extends Error {}

const MAX_ITEMS = 10_000;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function drain(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const items: unknown[] = [];
  for await (const x of it) if (items.push(x) >= MAX_ITEMS) break;
  return items;
}

/** What `v` settles to: itself, a Promise's value, or an async iterable's items. Throws what it rejects with, or Timeout. */
export function settle(v: unknown, ms: number): Promise<unknown> {
  if (v instanceof Promise) return within(v, ms);
  if (v !== null && typeof v === 'object' && Symbol.asyncIterator in v) return within(drain(v as AsyncIterable<unknown>), ms);
  return Promise.resolve(v);
}
