// The optimizer argument check the models share: outside index.ts, which is the public qkv.optim
// namespace (everything it exports is API; this is not).
import { typeName } from '../args';
import { Optimizer } from './index';

/** Throws unless `o` is an Optimizer. */
export function checkOptimizer(o: unknown, op: string): Optimizer {
  if (!(o instanceof Optimizer)) throw new TypeError(`${op}: optimizer must be a qkv.optim optimizer, got ${typeName(o)}`);
  return o;
}
