// The schedule checks shared by qkv.optim and the models' fit({ schedule }), outside index.ts (the
// public qkv.optim namespace: everything it exports is API): each names the call it is made for.
import { checkEnum, checkInt, checkNumber, checkObject, checkOptions, optInt, optNumber } from '../args';
import { nnBinding, type NativeSchedule } from '../nn/native-nn';
import type { Schedule } from './index';

const KINDS: readonly NativeSchedule['kind'][] = ['constant', 'warmupCosine', 'warmupLinear'];
const STEPS = { min: 0, max: Number.MAX_SAFE_INTEGER };

export function makeSchedule(kind: NativeSchedule['kind'], options: unknown, op: string): Schedule {
  const o = kind === 'constant' ? checkOptions(op, options) : checkObject(op, 'options', options, '{ totalSteps, warmupSteps?, minLr? }');
  const fields: NativeSchedule = {
    kind,
    warmupSteps: optInt(op, o, 'warmupSteps', STEPS) ?? 0,
    // Required by the decaying schedules; a constant one has no end.
    totalSteps: kind === 'constant' ? optInt(op, o, 'totalSteps', STEPS) ?? 0 : checkInt(op, 'option totalSteps', o.totalSteps, STEPS),
    minLr: optNumber(op, o, 'minLr', { min: 0 }) ?? 0,
  };
  if (kind !== 'constant' && fields.totalSteps < fields.warmupSteps)
    throw new RangeError(`${op}: totalSteps (${fields.totalSteps}) must be >= warmupSteps (${fields.warmupSteps})`);
  const s: Schedule = {
    ...fields,
    lrAt(step: number, baseLr: number): number {
      return nnBinding.scheduleLr(fields, checkNumber('lrAt', 'baseLr', baseLr), checkInt('lrAt', 'step', step, STEPS));
    },
  };
  return Object.freeze(s);
}

/** A schedule's fields, checked as schedule.* checks them, in a fresh object for the native side. */
export function checkSchedule(s: unknown, op: string): NativeSchedule {
  const o = checkObject(op, 'schedule', s, 'a schedule from qkv.optim.schedule');
  const { kind, warmupSteps, totalSteps, minLr } = makeSchedule(checkEnum(op, 'schedule.kind', o.kind, KINDS), o, op);
  return { kind, warmupSteps, totalSteps, minLr };
}

