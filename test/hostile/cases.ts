// The cases of a plan: each hostile value in each argument position and in each option key a call
// reads, plus the calls on a receiver that is busy with a long job or disposed. File values go
// only where a path goes (a string in the baseline call, an option named like a path).
import type { Case } from './protocol';
import type { Target } from './plan';
import { HOSTILE, type Hostile } from './values';

export interface Selection {
  /** Values for argument positions (default: all). */
  values?: readonly Hostile[];
  /** Values for option keys (default: all but the file values). */
  keyValues?: readonly Hostile[];
  /** At most this many keys per position (default: all). */
  keysPerSlot?: number;
}

const PATH_KEY = /path|file/i;

export function casesOf(targets: readonly Target[], sel: Selection = {}): Case[] {
  const values = sel.values ?? HOSTILE;
  const keyValues = sel.keyValues ?? HOSTILE;
  const out: Case[] = [];
  const push = (c: Omit<Case, 'n'>) => out.push({ n: out.length, ...c });
  for (const t of targets) {
    push({ target: t.id, pos: -1, value: 'baseline' });
    if (t.busy) push({ target: t.id, pos: -1, value: 'busy' });
    if (t.disposable) push({ target: t.id, pos: -1, value: 'disposed' });
    for (const slot of t.slots) {
      for (const h of values) if (h.group !== 'file' || slot.type === 'string') push({ target: t.id, pos: slot.pos, value: h.name });
      for (const key of slot.keys.slice(0, sel.keysPerSlot)) {
        for (const h of keyValues) if (h.group !== 'file' || PATH_KEY.test(key)) push({ target: t.id, pos: slot.pos, key, value: h.name });
      }
    }
  }
  return out;
}

export function describeCase(c: Case): string {
  if (c.pos < 0) return `${c.target} (${c.value})`;
  return `${c.target} arg ${c.pos}${c.key === undefined ? '' : ` option ${c.key}`} = ${c.value}`;
}
