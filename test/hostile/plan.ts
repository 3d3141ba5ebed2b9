// The sweep's plan, found by walking the library's exports: every function, class (its
// constructor, static methods, instance methods and setters) and nested namespace. For each call
// it finds the argument positions to sweep and, by passing a recording Proxy in each position,
// the option keys the call reads there. Nothing here names an export: a new one is swept as soon
// as it is exported (with a valid baseline call if fixtures.ts knows one).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Qkv from '../../src/index';
import { BASELINE, INSTANCE, LONG_JOB, type Ctx } from './fixtures';
import { settle } from './settle';

export type Kind = 'call' | 'construct' | 'method' | 'get' | 'set';

export interface Slot {
  pos: number;
  /** typeof the baseline's value here ('string' takes the file values too). */
  type: string;
  keys: string[];
}

export interface Target {
  id: string;
  kind: Kind;
  /** The export path of the function, the class, or the method's class. */
  path: string;
  member?: string;
  /** The fixture whose instance receives a method call. */
  instance?: string;
  baseline: boolean;
  busy: boolean;
  disposable: boolean;
  slots: Slot[];
}

type Fn = (...a: unknown[]) => unknown;

const isClass = (f: unknown): f is new (...a: unknown[]) => unknown =>
  typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));

const isNamespace = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
};

/** Walks `root` and returns each export path with its value (functions, classes), namespaces flattened. */
export function exportsOf(root: object): [string, unknown][] {
  const out: [string, unknown][] = [];
  const seen = new Set<unknown>();
  const walk = (obj: object, prefix: string) => {
    for (const key of Object.keys(obj).sort()) {
      const v = (obj as Record<string, unknown>)[key];
      const p = prefix ? `${prefix}.${key}` : key;
      if (typeof v === 'function') out.push([p, v]);
      else if (isNamespace(v) && !seen.has(v)) {
        seen.add(v);
        walk(v, p);
      }
    }
  };
  walk(root, '');
  return out;
}

// TypeScript's `private` and `protected` are gone at run time: the members so declared anywhere
// in the sources are not API, and are not swept; nor are members documented `@internal` (left out
// of the published declarations), the constructors of abstract classes and private or protected
// constructors.
function sources(dir = path.join(__dirname, '../../src')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [fs.readFileSync(p, 'utf8')] : [];
  });
}

function nonPublic(): { members: Set<string>; constructors: Set<string> } {
  const members = new Set<string>(), constructors = new Set<string>();
  for (const text of sources()) {
    for (const m of text.matchAll(/\b(?:private|protected)\s+(?:static\s+|readonly\s+|async\s+|override\s+|[gs]et\s+)*([A-Za-z_$][\w$]*)/g)) members.add(m[1]);
    for (const m of text.matchAll(/\/\*\*\s*@internal\b(?:(?!\*\/)[^])*\*\/\s*(?:static\s+|readonly\s+|async\s+|override\s+|[gs]et\s+)*([A-Za-z_$][\w$]*)\s*[(<:=;!?]/g)) members.add(m[1]);
    // Each class's text runs to the next class.
    for (const m of text.matchAll(/\b(abstract\s+)?class\s+([A-Za-z_$][\w$]*)([\s\S]*?)(?=\b(?:abstract\s+)?class\s|$)/g))
      if (m[1] || /\b(?:private|protected)\s+constructor\b/.test(m[3])) constructors.add(m[2]);
  }
  return { members, constructors };
}

/** Members of a class's prototype chain up to the next exported class (unexported bases count as its own). */
function membersOf(cls: Function, exported: Set<unknown>, hidden: Set<string>): Map<string, PropertyDescriptor> {
  const members = new Map<string, PropertyDescriptor>();
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (proto !== cls.prototype && exported.has(proto.constructor)) break;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name.startsWith('_') || hidden.has(name) || members.has(name)) continue;
      members.set(name, Object.getOwnPropertyDescriptor(proto, name)!);
    }
  }
  return members;
}

// Keys read by the engine or by conversions, not options.
const IGNORED_KEYS = new Set(['then', 'constructor', 'toJSON', 'toString', 'valueOf', 'length', 'prototype']);

/** A Proxy that acts as an empty object and records which keys are read. */
function recorder(keys: Set<string>): object {
  const note = (k: string | symbol) => {
    if (typeof k === 'string' && !IGNORED_KEYS.has(k) && !k.startsWith('_') && !/^\d+$/.test(k)) keys.add(k);
  };
  return new Proxy({}, {
    get: (_t, k) => (note(k), undefined),
    has: (_t, k) => (note(k), false),
    getOwnPropertyDescriptor: (_t, k) => (note(k), undefined),
  });
}

/** Resolves a dotted export path in `root`, with the object that holds it (the `this` of a call). */
export function resolve(root: object, path: string): { holder: unknown; value: unknown } {
  let holder: unknown = undefined;
  let value: unknown = root;
  for (const part of path.split('.')) {
    holder = value;
    value = (value as Record<string, unknown>)[part];
  }
  return { holder, value };
}

/** Makes the receiver for a method target: its fixture's instance. */
export async function instanceFor(c: Ctx, fixture: string): Promise<unknown> {
  return INSTANCE[fixture](c);
}

/** Calls a target with `args` (on `inst` for members). */
export function invoke(qkv: typeof Qkv, t: Target, args: unknown[], inst: unknown): unknown {
  const { holder, value } = resolve(qkv, t.path);
  if (t.kind === 'call') return (value as Fn).apply(holder, args);
  if (t.kind === 'construct') return new (value as new (...a: unknown[]) => unknown)(...args);
  const o = inst as Record<string, unknown>;
  if (t.kind === 'get') return o[t.member!];
  if (t.kind === 'set') return (o[t.member!] = args[0]);
  return (o[t.member!] as Fn).apply(o, args);
}

export async function makePlan(c: Ctx): Promise<Target[]> {
  const { qkv } = c;
  const entries = exportsOf(qkv);
  const classes = new Set(entries.filter(([, v]) => isClass(v)).map(([, v]) => v));
  // Which fixture serves each class: its own, or the first whose instance is one of it.
  const samples = new Map<string, unknown>();
  for (const k of Object.keys(INSTANCE)) samples.set(k, await INSTANCE[k](c));
  const fixtureOf = (path: string, cls: Function) =>
    samples.has(path) ? path : [...samples].find(([, inst]) => inst instanceof cls)?.[0];

  const { members: hidden, constructors: noConstructor } = nonPublic();
  const targets: Target[] = [];
  const add = (id: string, kind: Kind, path: string, arity: number, extra: Partial<Target> = {}) =>
    targets.push({ id, kind, path, baseline: id in BASELINE, busy: false, disposable: false, slots: Array.from({ length: Math.max(arity, BASELINE[id]?.(c).length ?? 0) }, (_, pos) => ({ pos, type: 'undefined', keys: [] })), ...extra });
  for (const [path, v] of entries) {
    if (!isClass(v)) {
      add(path, 'call', path, (v as Fn).length);
      continue;
    }
    if (!noConstructor.has(v.name)) add(path, 'construct', path, v.length);
    for (const name of Object.getOwnPropertyNames(v)) {
      const d = Object.getOwnPropertyDescriptor(v, name)!;
      if (typeof d.value === 'function' && !name.startsWith('_') && !hidden.has(name)) add(`${path}.${name}`, 'call', `${path}.${name}`, (d.value as Fn).length);
    }
    const fixture = fixtureOf(path, v);
    for (const [name, d] of membersOf(v, classes, hidden)) {
      const extra = { member: name, instance: fixture, path };
      const inst = fixture ? samples.get(fixture) : undefined;
      const flags = { busy: fixture !== undefined && fixture in LONG_JOB, disposable: typeof (inst as { dispose?: unknown })?.dispose === 'function' };
      if (typeof d.value === 'function') add(`${path}#${name}`, 'method', path, (d.value as Fn).length, { ...extra, ...flags });
      if (d.get) add(`${path}#${name}`, 'get', path, 0, { ...extra, ...flags });
      if (d.set) add(`${path}#${name}=`, 'set', path, 1, extra);
    }
  }
  for (const t of targets) await discover(c, t);
  await c.stopJobs();
  return targets;
}

/** Fills in each slot's baseline type and the option keys the call reads there. */
async function discover(c: Ctx, t: Target): Promise<void> {
  if ((t.kind !== 'call' && t.kind !== 'construct' && !t.instance) || t.kind === 'get') return;
  for (const slot of t.slots) {
    const base = BASELINE[t.id]?.(c) ?? [];
    const v = base[slot.pos];
    slot.type = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
    const keys = new Set<string>(isNamespace(v) ? Object.keys(v) : []);
    base[slot.pos] = recorder(keys);
    try {
      const inst = t.instance ? await instanceFor(c, t.instance) : undefined;
      await settle(invoke(c.qkv, t, base, inst), 3000);
    } catch {
      // refused: still, what it read before refusing counts
    }
    slot.keys = [...keys].sort();
  }
}
