// Seeded reasoning tasks over comparisons between people ("alice is older than bob"), for GPT-1
// style fine-tuning: unlabelled paragraphs for language-model pretraining, and labelled examples of
// the entailment, similarity and multiple-choice formats. One fact can be phrased in several
// templates ("bob is younger than alice", "bob is not as old as alice", "of alice and bob, the
// older is alice"...); a task built on some templates can be tested on the others, so that what is
// measured is the meaning and not the wording.

import { checkArray, checkInt, checkOptions, checkString, optInt, optSeed, type Options } from '../args';
import { SeededRandom } from './dates';

/** A comparison: `x` has more of the relation's quality than `y`. */
export interface Comparison {
  x: string;
  y: string;
  /** Index into COMPARISON_RELATIONS. */
  relation: number;
}

interface Relation {
  more: string;
  less: string;
  adj: string;
  lessAdj: string;
}

/** The qualities compared: the comparatives both ways and the adjectives. */
export const COMPARISON_RELATIONS: readonly Readonly<Relation>[] = Object.freeze([
  { more: 'older', less: 'younger', adj: 'old', lessAdj: 'young' },
  { more: 'taller', less: 'shorter', adj: 'tall', lessAdj: 'short' },
  { more: 'faster', less: 'slower', adj: 'fast', lessAdj: 'slow' },
  { more: 'heavier', less: 'lighter', adj: 'heavy', lessAdj: 'light' },
  { more: 'richer', less: 'poorer', adj: 'rich', lessAdj: 'poor' },
]);

export const COMPARISON_NAMES: readonly string[] = Object.freeze([
  'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi',
  'ivan', 'judy', 'mallory', 'oscar', 'peggy', 'trent', 'victor', 'wendy',
]);

type Template = (f: Comparison, r: Relation, rng: SeededRandom) => string;

const pair = (a: string, b: string, rng: SeededRandom) => (rng.next() < 0.5 ? `${a} and ${b}` : `${b} and ${a}`);

/** The phrasings of a comparison, by name; each says the same thing. */
const TEMPLATES: Readonly<Record<string, Template>> = Object.freeze({
  more: (f, r) => `${f.x} is ${r.more} than ${f.y}`,
  less: (f, r) => `${f.y} is ${r.less} than ${f.x}`,
  notAs: (f, r) => `${f.y} is not as ${r.adj} as ${f.x}`,
  notAsLess: (f, r) => `${f.x} is not as ${r.lessAdj} as ${f.y}`,
  ofTwo: (f, r, rng) => `of ${pair(f.x, f.y, rng)}, the ${r.more} is ${f.x}`,
  ofTwoLess: (f, r, rng) => `of ${pair(f.x, f.y, rng)}, the ${r.less} is ${f.y}`,
  compared: (f, r) => `compared with ${f.y}, ${f.x} is ${r.more}`,
});

/** The template names, in a fixed order. */
export const COMPARISON_TEMPLATES: readonly string[] = Object.freeze(Object.keys(TEMPLATES));

export interface ReasoningOptions {
  /** Seed of the generator (default 0). */
  seed?: number;
  /** The templates to phrase facts in (default all of COMPARISON_TEMPLATES). */
  templates?: readonly string[];
  /** The first this many of COMPARISON_NAMES (default all 16, at least 3). */
  names?: number;
}

export interface EntailmentExample {
  premise: string;
  hypothesis: string;
  /** 0 entailed, 1 contradicted, 2 neutral (the hypothesis is about a name or quality the premise does not mention). */
  label: number;
}

export interface SimilarityExample {
  a: string;
  b: string;
  /** 1: the same fact phrased twice; 0: a different fact (reversed, or another quality). */
  label: number;
}

export interface StoryExample {
  /** Two facts, one of them about the ending's names. */
  context: string;
  /** One consistent ending ("so ..."), the others contradicting a fact of the context. */
  choices: string[];
  /** The consistent ending's index. */
  label: number;
}

class Generator {
  readonly rng: SeededRandom;
  readonly templates: string[];
  readonly names: readonly string[];

  constructor(op: string, options: ReasoningOptions) {
    const o: Options = checkOptions(op, options);
    this.rng = new SeededRandom(optSeed(op, o) ?? 0);
    this.templates = o.templates === undefined
      ? [...COMPARISON_TEMPLATES]
      : checkArray(op, 'option templates', o.templates, (t, n) => {
        const s = checkString(op, n, t);
        if (!(s in TEMPLATES)) throw new RangeError(`${op}: ${n} is '${s}', not one of ${COMPARISON_TEMPLATES.join(', ')}`);
        return s;
      }, { nonEmpty: true, what: 'an array of template names' });
    this.names = COMPARISON_NAMES.slice(0, optInt(op, o, 'names', { min: 3, max: COMPARISON_NAMES.length }) ?? COMPARISON_NAMES.length);
  }

  /** `k` distinct names. */
  distinct(k: number): string[] {
    const out: string[] = [];
    while (out.length < k) {
      const n = this.rng.pick(this.names);
      if (!out.includes(n)) out.push(n);
    }
    return out;
  }

  fact(x?: string, y?: string): Comparison {
    const [a, b] = x && y ? [x, y] : this.distinct(2);
    return { x: a, y: b, relation: this.rng.int(COMPARISON_RELATIONS.length) };
  }

  /** A fact in one of the templates (or in `template`). */
  say(f: Comparison, template = this.rng.pick(this.templates)): string {
    return TEMPLATES[template](f, COMPARISON_RELATIONS[f.relation], this.rng);
  }

  /** Two different templates. */
  twoTemplates(): [string, string] {
    const a = this.rng.pick(this.templates);
    if (this.templates.length === 1) return [a, a];
    let b = a;
    while (b === a) b = this.rng.pick(this.templates);
    return [a, b];
  }

  /** Another fact: the other quality of the same names, or the same quality with another name in it. */
  unrelated(f: Comparison): Comparison {
    if (this.rng.next() < 0.5) {
      const relation = (f.relation + 1 + this.rng.int(COMPARISON_RELATIONS.length - 1)) % COMPARISON_RELATIONS.length;
      return this.rng.next() < 0.5 ? { ...f, relation } : { x: f.y, y: f.x, relation };
    }
    let z = f.x;
    while (z === f.x || z === f.y) z = this.rng.pick(this.names);
    const keep = this.rng.next() < 0.5 ? f.x : f.y;
    return this.rng.next() < 0.5 ? { x: keep, y: z, relation: f.relation } : { x: z, y: keep, relation: f.relation };
  }
}

const reversed = (f: Comparison): Comparison => ({ x: f.y, y: f.x, relation: f.relation });
const CONNECTIVES = ['so', 'that is,', 'in other words,', 'which means'];

function checkCount(op: string, count: unknown): number {
  return checkInt(op, 'count', count, { min: 0, max: 10_000_000 });
}

/**
 * Unlabelled text for pretraining: paragraphs of one or two facts, each said and then said again
 * in other templates ("alice is older than bob. so bob is younger than alice."). The text is
 * always consistent: what a model learns from it is what the phrasings mean.
 */
export function comparisonText(count: number, options: ReasoningOptions = {}): string[] {
  const op = 'data.comparisonText';
  const n = checkCount(op, count);
  const g = new Generator(op, options);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const facts = [g.fact()];
    if (g.rng.next() < 0.5) facts.push(g.unrelated(facts[0]));
    const sentences: string[] = [];
    for (const f of facts) {
      const [a, b] = g.twoTemplates();
      sentences.push(`${g.say(f, a)}.`, `${g.rng.pick(CONNECTIVES)} ${g.say(f, b)}.`);
    }
    out.push(sentences.join(' '));
  }
  return out;
}

/** Premise and hypothesis, a third each entailed, contradicted (the names swapped) and neutral. */
export function entailmentPairs(count: number, options: ReasoningOptions = {}): EntailmentExample[] {
  const op = 'data.entailmentPairs';
  const n = checkCount(op, count);
  const g = new Generator(op, options);
  return Array.from({ length: n }, (_, i) => {
    const f = g.fact();
    const label = i % 3;
    const h = label === 0 ? f : label === 1 ? reversed(f) : g.unrelated(f);
    return { premise: g.say(f), hypothesis: g.say(h), label };
  });
}

/** Pairs of sentences, half the same fact in two templates, half a different fact. */
export function similarityPairs(count: number, options: ReasoningOptions = {}): SimilarityExample[] {
  const op = 'data.similarityPairs';
  const n = checkCount(op, count);
  const g = new Generator(op, options);
  return Array.from({ length: n }, (_, i) => {
    const f = g.fact();
    const label = i % 2 === 0 ? 1 : 0;
    const [ta, tb] = g.twoTemplates();
    const other = g.rng.next() < 0.5 ? reversed(f) : g.unrelated(f);
    return { a: g.say(f, ta), b: g.say(label === 1 ? f : other, tb), label };
  });
}

/**
 * Short stories of two facts and `choices` endings ("so ..."): one restates a fact of the story,
 * the others reverse one (default 2 choices).
 */
export function storyEndings(count: number, options: ReasoningOptions & { choices?: number } = {}): StoryExample[] {
  const op = 'data.storyEndings';
  const n = checkCount(op, count);
  const { choices: k0, ...rest } = checkOptions(op, options);
  const k = k0 === undefined ? 2 : checkInt(op, 'option choices', k0, { min: 2, max: 8 });
  const g = new Generator(op, rest as ReasoningOptions);
  return Array.from({ length: n }, () => {
    const f = g.fact();
    const other = g.unrelated(f);
    const story = g.rng.next() < 0.5 ? [f, other] : [other, f];
    const context = story.map((s) => `${g.say(s)}.`).join(' ');
    const endings = [`so ${g.say(f)}.`];
    for (let tries = 0; endings.length < k; tries++) {
      if (tries === 1000) throw new RangeError(`${op}: the templates give fewer than ${k} different endings`);
      const wrong = `so ${g.say(reversed(g.rng.next() < 0.5 ? f : other))}.`;
      if (!endings.includes(wrong)) endings.push(wrong);
    }
    const label = g.rng.int(k);
    [endings[0], endings[label]] = [endings[label], endings[0]];
    return { context, choices: endings, label };
  });
}
