// What the sweep's parent and its children exchange: a batch of cases (written to a file), and the
// exit status of a child that stopped after a call that did not settle.
import type { Target } from './plan';

export interface Case {
  n: number;
  target: string;
  /** -1 for the receiver variants ('baseline', 'busy', 'disposed'). */
  pos: number;
  /** An option key: the hostile value goes in an options object at `pos`. */
  key?: string;
  value: string;
}

export interface Batch {
  targets: Target[];
  cases: Case[];
  timeoutMs: number;
}

export const HANG_EXIT = 75;
