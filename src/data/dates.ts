// Seeded synthetic tasks for sequence-to-sequence models: date normalisation across many surface
// forms ("the 3rd of march 1999", "3/3/99", "March 3, 1999" → "1999-03-03") and sequence reversal.
//
// Conventions, so that every input has exactly one answer: dates run from 1950-01-01 to
// 2049-12-31; a two-digit year yy means 19yy for yy ≥ 50 and 20yy otherwise; slashes are US order
// (month/day/year) unless the year comes first; dots and spaces put the day first (day.month.year);
// a weekday, when present, is the right one.

import { MAX_INT32, checkArray, checkEnum, checkInt, checkNotDetached, checkObject, checkOptions, checkSeed, checkString, optBool, optInt, optSeed, optString, typeName } from '../args';

/** A small seeded generator (mulberry32). */
export class SeededRandom {
  private s: number;
  constructor(seed: number) {
    this.s = checkSeed('SeededRandom', 'seed', seed) >>> 0 ^ 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * checkInt('SeededRandom.int', 'n', n, { min: 1, max: Number.MAX_SAFE_INTEGER }));
  }
  pick<T>(items: readonly T[]): T {
    if (!Array.isArray(items)) throw new TypeError(`SeededRandom.pick: items must be an array, got ${typeName(items)}`);
    if (items.length === 0) throw new RangeError('SeededRandom.pick: items must not be empty');
    return items[this.int(items.length)];
  }
}

export interface CalendarDate {
  year: number;
  month: number; // 1..12
  day: number; // 1..31
}

export interface DatePair {
  source: string;
  target: string;
  /** The surface form's name (one of DATE_FORMS). */
  form: string;
}

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const pad2 = (n: number) => String(n).padStart(2, '0');
const yy = (y: number) => pad2(y % 100);

function ordinal(n: number): string {
  const t = n % 100;
  if (t >= 11 && t <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}

type Casing = 'lower' | 'title' | 'upper';
function cased(word: string, c: Casing): string {
  if (c === 'upper') return word.toUpperCase();
  if (c === 'title') return word[0].toUpperCase() + word.slice(1);
  return word;
}

/** A date's fields, checked: integers, a month in 1..12 and a day in 1..31. */
function checkDate(op: string, d: unknown): CalendarDate {
  const o = checkObject(op, 'date', d, '{ year, month, day }');
  return {
    year: checkInt(op, 'date.year', o.year, { min: 0, max: 9999 }),
    month: checkInt(op, 'date.month', o.month, { min: 1, max: 12 }),
    day: checkInt(op, 'date.day', o.day, { min: 1, max: 31 }),
  };
}

function checkRandom(op: string, r: unknown): SeededRandom {
  if (!(r instanceof SeededRandom)) throw new TypeError(`${op}: r must be a SeededRandom, got ${typeName(r)}`);
  return r;
}

/** "1999-03-03". */
export function isoDate(d: CalendarDate): string {
  const { year, month, day } = checkDate('isoDate', d);
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

function weekday(d: CalendarDate): number {
  return new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();
}

// Each form renders a date; `c` is the casing of month and weekday names.
const FORMS: Record<string, (d: CalendarDate, c: Casing, r: SeededRandom) => string> = {
  iso: (d) => isoDate(d),
  usShort: (d) => `${d.month}/${d.day}/${yy(d.year)}`,
  usPadded: (d) => `${pad2(d.month)}/${pad2(d.day)}/${d.year}`,
  usLong: (d) => `${d.month}/${d.day}/${d.year}`,
  dots: (d, _c, r) => (r.int(2) ? `${d.day}.${d.month}.${d.year}` : `${pad2(d.day)}.${pad2(d.month)}.${d.year}`),
  dotsShort: (d) => `${pad2(d.day)}.${pad2(d.month)}.${yy(d.year)}`,
  yearSlash: (d) => `${d.year}/${pad2(d.month)}/${pad2(d.day)}`,
  yearDots: (d) => `${d.year}.${pad2(d.month)}.${pad2(d.day)}`,
  compact: (d) => `${d.year}${pad2(d.month)}${pad2(d.day)}`,
  monthDayYear: (d, c) => `${cased(MONTHS[d.month - 1], c)} ${d.day}, ${d.year}`,
  monthDayYearNoComma: (d, c) => `${cased(MONTHS[d.month - 1], c)} ${d.day} ${d.year}`,
  monthOrdinalYear: (d, c) => `${cased(MONTHS[d.month - 1], c)} ${ordinal(d.day)}, ${d.year}`,
  monthTheOrdinal: (d, c) => `${cased(MONTHS[d.month - 1], c)} the ${ordinal(d.day)}, ${d.year}`,
  dayMonthYear: (d, c) => `${d.day} ${cased(MONTHS[d.month - 1], c)} ${d.year}`,
  ordinalOfMonth: (d, c) => `the ${ordinal(d.day)} of ${cased(MONTHS[d.month - 1], c)} ${d.year}`,
  ordinalOfMonthComma: (d, c) => `${ordinal(d.day)} of ${cased(MONTHS[d.month - 1], c)}, ${d.year}`,
  ordinalMonthShortYear: (d, c) => `${ordinal(d.day)} ${cased(MONTHS[d.month - 1], c)} ${yy(d.year)}`,
  abbrDayYear: (d, c) => `${cased(MONTHS[d.month - 1].slice(0, 3), c)} ${d.day}, ${d.year}`,
  dayAbbrYear: (d, c) => `${d.day} ${cased(MONTHS[d.month - 1].slice(0, 3), c)} ${d.year}`,
  dashAbbr: (d, c) => `${pad2(d.day)}-${cased(MONTHS[d.month - 1].slice(0, 3), c)}-${d.year}`,
  dashAbbrShort: (d, c) => `${d.day}-${cased(MONTHS[d.month - 1].slice(0, 3), c)}-${yy(d.year)}`,
  weekdayLong: (d, c) => `${cased(WEEKDAYS[weekday(d)], c)}, ${cased(MONTHS[d.month - 1], c)} ${d.day}, ${d.year}`,
  weekdayShort: (d, c) => `${cased(WEEKDAYS[weekday(d)].slice(0, 3), c)} ${d.day} ${cased(MONTHS[d.month - 1].slice(0, 3), c)} ${d.year}`,
};

/** The names of the surface forms. */
export const DATE_FORMS: readonly string[] = Object.freeze(Object.keys(FORMS));

const FIRST_DAY = Date.UTC(1950, 0, 1) / 86_400_000;
const LAST_DAY = Date.UTC(2049, 11, 31) / 86_400_000;

/** A uniformly random date in 1950..2049. */
export function randomDate(r: SeededRandom): CalendarDate {
  checkRandom('randomDate', r);
  const t = new Date((FIRST_DAY + r.int(LAST_DAY - FIRST_DAY + 1)) * 86_400_000);
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** Renders `date` in a named form; casing of names is drawn from `r` (lower by default). */
export function formatDate(date: CalendarDate, form: string, r?: SeededRandom): string {
  const op = 'formatDate';
  const d = checkDate(op, date);
  const f = FORMS[checkEnum(op, 'form', form, DATE_FORMS)];
  const rr = r === undefined ? new SeededRandom(0) : checkRandom(op, r);
  const casing: Casing = r ? (['lower', 'title', 'upper', 'title', 'lower'] as const)[rr.int(5)] : 'lower';
  return f(d, casing, rr);
}

export interface DateOptions {
  seed?: number;
  /** Forms to draw from (default: all of DATE_FORMS, uniformly). */
  forms?: readonly string[];
  /** Sources to leave out (e.g. a training set's, for a held-out set). */
  exclude?: Iterable<string>;
  /** No source twice (default true). */
  unique?: boolean;
}

/** `count` (source, target) pairs of the date-normalisation task, reproducible from the seed. */
export function generateDates(count: number, options: DateOptions = {}): DatePair[] {
  const op = 'generateDates';
  checkInt(op, 'count', count, { min: 0, max: MAX_INT32 });
  const o = checkOptions(op, options);
  const forms = o.forms === undefined ? DATE_FORMS
    : checkArray(op, 'option forms', o.forms, (f, name) => checkEnum(op, name, f, DATE_FORMS), { nonEmpty: true, what: 'an array of form names' });
  const r = new SeededRandom(optSeed(op, o) ?? 0);
  const seen = new Set<string>(o.exclude === undefined ? [] : excluded(op, o.exclude));
  const unique = optBool(op, o, 'unique') ?? true;
  const out: DatePair[] = [];
  let tries = 0;
  while (out.length < count) {
    if (++tries > count * 100 + 1000) throw new RangeError('generateDates: cannot find that many distinct inputs');
    const d = randomDate(r);
    const form = r.pick(forms);
    const source = formatDate(d, form, r);
    if (seen.has(source)) continue;
    if (unique || o.exclude !== undefined) seen.add(source);
    out.push({ source, target: isoDate(d), form });
  }
  return out;
}

/** The sources to leave out: an iterable of strings, copied. */
function excluded(op: string, v: unknown): string[] {
  const iterable = typeof v === 'object' && v !== null && typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function';
  if (!iterable) throw new TypeError(`${op}: option exclude must be an iterable of strings, got ${typeName(v)}`);
  checkNotDetached(op, 'option exclude', v);
  return checkArray(op, 'option exclude', [...(v as Iterable<unknown>)], (s, name) => checkString(op, name, s));
}

export interface ReversalOptions {
  seed?: number;
  alphabet?: string;
  minLength?: number;
  maxLength?: number;
}

/** Random strings over `alphabet` (default a–l) and their reversals. */
export function reversalPairs(count: number, options: ReversalOptions = {}): { source: string; target: string }[] {
  const op = 'reversalPairs';
  checkInt(op, 'count', count, { min: 0, max: MAX_INT32 });
  const o = checkOptions(op, options);
  const alphabet = Array.from(optString(op, o, 'alphabet') ?? 'abcdefghijkl');
  const lo = optInt(op, o, 'minLength', { min: 1 }) ?? 4, hi = optInt(op, o, 'maxLength', { min: 1 }) ?? 10;
  if (hi < lo) throw new RangeError(`${op}: need minLength <= maxLength, got ${lo} and ${hi}`);
  if (alphabet.length < 2) throw new RangeError(`${op}: the alphabet needs at least two symbols`);
  const r = new SeededRandom(optSeed(op, o) ?? 0);
  const out: { source: string; target: string }[] = [];
  for (let i = 0; i < count; i++) {
    const n = lo + r.int(hi - lo + 1);
    const s = Array.from({ length: n }, () => r.pick(alphabet));
    out.push({ source: s.join(''), target: [...s].reverse().join('') });
  }
  return out;
}
