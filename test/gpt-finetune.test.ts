// GPTClassifier: GPT-1's fine-tuning formats measured against baselines. Two small GPTs pretrained
// offline (scripts/pretrain-fixtures.ts, test/fixtures/gpt-*.safetensors) are fine-tuned here and
// compared with the same architecture trained from scratch on the same labels and budget:
// SpamAssassin classification (hard ham included; also against bag of words) and entailment over
// the seeded comparison generators; then the generators' labels, a save → load round trip, the
// argument errors and fromGPT leaving its source as it was.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as qkv from '../src/index';
import { FIXTURES, SPAM_SPLIT, SPAM_VOCAB } from '../scripts/pretrain-fixtures';
import { bagOfWordsAccuracy, spamSplit } from './helpers/spam';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-gpt-finetune-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TRAIN_TEMPLATES = ['more', 'less', 'notAs', 'ofTwo'];
const TEST_TEMPLATES = ['notAsLess', 'ofTwoLess', 'compared'];

/** The fact a sentence of the comparison templates states, as "x>y:quality" (x has more of it). */
function meaning(sentence: string): string {
  const s = sentence.replace(/^so /, '').replace(/\.$/, '');
  const rel = (word: string) => {
    for (const [i, r] of qkv.data.COMPARISON_RELATIONS.entries()) {
      if (word === r.more || word === r.adj) return { i, up: true };
      if (word === r.less || word === r.lessAdj) return { i, up: false };
    }
    throw new Error(`no quality '${word}' in '${sentence}'`);
  };
  const fact = (a: string, b: string, word: string, flip: boolean) => {
    const r = rel(word);
    return r.up !== flip ? `${a}>${b}:${r.i}` : `${b}>${a}:${r.i}`;
  };
  let m: RegExpExecArray | null;
  if ((m = /^(\w+) is (\w+) than (\w+)$/.exec(s))) return fact(m[1], m[3], m[2], false);
  if ((m = /^(\w+) is not as (\w+) as (\w+)$/.exec(s))) return fact(m[1], m[3], m[2], true);
  if ((m = /^of (\w+) and (\w+), the (\w+) is (\w+)$/.exec(s))) return fact(m[4], m[4] === m[1] ? m[2] : m[1], m[3], false);
  if ((m = /^compared with (\w+), (\w+) is (\w+)$/.exec(s))) return fact(m[2], m[1], m[3], false);
  throw new Error(`no template matches '${sentence}'`);
}
const reverse = (f: string) => f.replace(/^(\w+)>(\w+)/, '$2>$1');

describe('qkv.data reasoning generators', () => {
  it('labels mean what they say, in every template', () => {
    for (const e of qkv.data.entailmentPairs(300, { seed: 1 })) {
      const [p, h] = [meaning(e.premise), meaning(e.hypothesis)];
      expect([h === p, h === reverse(p), h !== p && h !== reverse(p)].indexOf(true)).toBe(e.label);
    }
    for (const e of qkv.data.similarityPairs(200, { seed: 2 })) expect(meaning(e.a) === meaning(e.b) ? 1 : 0).toBe(e.label);
    for (const e of qkv.data.storyEndings(200, { seed: 3, choices: 3 })) {
      const facts = e.context.split('. ').map(meaning);
      const consistent = e.choices.map((c) => facts.includes(meaning(c)));
      expect(consistent.indexOf(true)).toBe(e.label);
      expect(consistent.filter(Boolean)).toHaveLength(1);
      expect(new Set(e.choices).size).toBe(3);
    }
    for (const p of qkv.data.comparisonText(200, { seed: 4 })) {
      const said = p.replace(/\.$/, '').split('. ').map((x) => meaning(x.replace(/^(so|that is,|in other words,|which means) /, '')));
      expect(said[1]).toBe(said[0]);
      if (said.length > 2) expect(said[3]).toBe(said[2]);
    }
  });

  it('seeded, balanced, and phrased in the templates asked for only', () => {
    expect(qkv.data.entailmentPairs(30, { seed: 5 })).toEqual(qkv.data.entailmentPairs(30, { seed: 5 }));
    expect(qkv.data.entailmentPairs(30, { seed: 6 })).not.toEqual(qkv.data.entailmentPairs(30, { seed: 5 }));
    expect(qkv.data.entailmentPairs(300, { seed: 5 }).filter((e) => e.label === 2)).toHaveLength(100);
    expect(qkv.data.similarityPairs(300, { seed: 5 }).filter((e) => e.label === 1)).toHaveLength(150);
    const train = qkv.data.entailmentPairs(200, { seed: 5, templates: TRAIN_TEMPLATES }).flatMap((e) => [e.premise, e.hypothesis]);
    const test = qkv.data.entailmentPairs(200, { seed: 5, templates: TEST_TEMPLATES }).flatMap((e) => [e.premise, e.hypothesis]);
    expect(train.some((s) => /compared|young|short|slow|light|poor/.test(s) && /not as|of /.test(s) && !/than/.test(s))).toBe(false);
    expect(test.every((s) => /^compared with|not as (young|short|slow|light|poor)|, the (younger|shorter|slower|lighter|poorer)/.test(s))).toBe(true);
    expect(() => qkv.data.entailmentPairs(3, { templates: ['nope'] })).toThrow(RangeError);
    expect(() => qkv.data.storyEndings(3, { templates: ['more'], choices: 4 })).toThrow(RangeError);
    expect(qkv.data.storyEndings(20, { choices: 4 }).every((e) => e.choices.length === 4)).toBe(true);
  });
});

// SpamAssassin, 150 spam + 150 ham (half hard ham) labelled, 200 + 200 held out. The pretrained
// GPT is test/fixtures/gpt-spam.safetensors: a language model of the other mails (cut to 48
// words, no test mail among them), pretrained offline by scripts/pretrain-fixtures.ts. Here it is
// fine-tuned, and the same architecture from scratch on the same labels and budget (4 epochs,
// lr 1e-3, lmWeight 0.5). Held-out accuracy over fine-tuning seeds 1-5 (the scratch init seeded
// alike): pretrained 0.887-0.902 (mean 0.893), scratch 0.810-0.868 (mean 0.840), bag of words
// 0.855 (deterministic). Pretrained beat scratch by 0.019 or more at every seed; shorter cuts did
// worse (24 words: 0.871 vs 0.816), lmWeight 0 the same (0.885).
describe('GPTClassifier: SpamAssassin classification against baselines', () => {
  const split = spamSplit(SPAM_SPLIT);
  const acc: Record<string, number> = {};
  let vocabTokens: string[] = [];

  beforeAll(async () => {
    acc.bow = bagOfWordsAccuracy(split.train, split.test, { l2: 1e-2, steps: 300, lr: 1 });
    const pretrained = await qkv.GPT.load(path.join(FIXTURES, 'gpt-spam.safetensors'));
    vocabTokens = (pretrained.tokenizer as qkv.WordVocab).tokens.slice();
    const c = pretrained.config;
    const scratch = new qkv.GPT({ tokenizer: pretrained.tokenizer, layers: Number(c.layers), heads: Number(c.heads), dim: Number(c.dim),
      maxLength: Number(c.maxLength), dropout: 0.1, seed: 1 });
    for (const [name, gpt] of [['pretrained', pretrained], ['scratch', scratch]] as const) {
      const clf = await qkv.GPTClassifier.fromGPT(gpt, { format: 'classification', numLabels: 2, seed: 1 });
      await clf.fit(split.train, { epochs: 4, lr: 1e-3, batchSize: 16, lmWeight: 0.5, warmupSteps: 5, seed: 1 });
      acc[name] = (await clf.evaluate(split.test)).accuracy!;
      await clf.dispose();
      await gpt.dispose();
    }
  }, 120_000);

  it('the split holds hard ham on both sides; the fixture\'s words are those of the unlabelled mails', () => {
    expect(split.train).toHaveLength(300);
    expect(split.test.filter((m) => m.group === 'hard-ham-1')).toHaveLength(100);
    const unlabelled = new Set(split.unlabelled);
    expect(split.test.some((m) => unlabelled.has(m.text))).toBe(false);
    expect(vocabTokens).toEqual(qkv.WordVocab.build(split.unlabelled, { maxSize: SPAM_VOCAB }).tokens);
  });

  it('the pretrained GPT beats the same GPT from scratch and bag of words on the held-out mails', () => {
    expect(acc.bow).toBeCloseTo(0.855, 3);
    expect(acc.scratch).toBeGreaterThan(0.76);
    expect(acc.pretrained).toBeGreaterThan(0.87);
    expect(acc.pretrained).toBeGreaterThan(acc.scratch);
    expect(acc.pretrained).toBeGreaterThan(acc.bow + 0.01);
  });
});

// test/fixtures/gpt-reasoning.safetensors, pretrained offline by scripts/pretrain-fixtures.ts on
// comparisonText in the training templates only, has learned what the reasoning formats need: it
// completes "x is older than y. so y is younger than" with x, where the same GPT untrained (or
// pretrained for 3000 steps instead of 8000) names y or anyone. Fine-tuning passes a little of
// that on. Entailment in the pretraining phrasing ("x. $ so y.", 600 examples, 10 epochs, lr 3e-3,
// lmWeight 1), held-out accuracy on 900 pairs, seeds 1-5: pretrained 0.371-0.420 (mean 0.393),
// scratch 0.302-0.347 (mean 0.326), chance 0.333; pretrained ahead by 0.024 or more at every seed.
// Similarity (same settings) is not asserted: pretrained 0.496-0.563 (mean 0.534), scratch
// 0.500-0.512; story endings stayed at chance for both (0.46-0.54). Without the pretraining
// phrasing (plain "x $ y") entailment was at chance for both, and so were 6 epochs at lr 1e-3.
describe('the pretrained reasoning GPT (fixture)', () => {
  it('was pretrained on the training templates only, and names the right person', async () => {
    const gpt = await qkv.GPT.load(path.join(FIXTURES, 'gpt-reasoning.safetensors'));
    const words = (gpt.tokenizer as qkv.WordVocab).tokens;
    try {
      expect(words).toContain('younger');
      for (const w of ['compared', 'with', 'young', 'short', 'poor']) expect(words).not.toContain(w);
      const facts = qkv.data.entailmentPairs(90, { seed: 99, templates: ['more'] }).filter((e) => e.label === 0);
      const probes = facts.map((e) => {
        const [x, , more, , y] = e.premise.split(' ');
        const rel = qkv.data.COMPARISON_RELATIONS.find((r) => r.more === more)!;
        return { prompt: `${e.premise}. so ${y} is ${rel.less} than`, x };
      });
      const named = async (model: qkv.GPT) => {
        const out = await model.generate(probes.map((p) => p.prompt), { maxNewTokens: 1 });
        return out.filter((g, i) => g.text.trim() === probes[i].x).length / probes.length;
      };
      expect(await named(gpt)).toBeGreaterThan(0.9);
      const c = gpt.config;
      const fresh = new qkv.GPT({ tokenizer: gpt.tokenizer, layers: Number(c.layers), heads: Number(c.heads), dim: Number(c.dim), maxLength: Number(c.maxLength), seed: 1 });
      try {
        expect(await named(fresh)).toBeLessThan(0.3);
      } finally {
        await fresh.dispose();
      }
    } finally {
      await gpt.dispose();
    }
  });
});

describe('GPTClassifier: entailment, the pretrained reasoning GPT against the same GPT from scratch', () => {
  // The pretraining text's phrasing: a sentence, then the other one after a connective.
  const phrase = (es: qkv.data.EntailmentExample[]) => es.map((e) => ({ premise: `${e.premise}.`, hypothesis: `so ${e.hypothesis}.`, label: e.label }));
  const train = phrase(qkv.data.entailmentPairs(600, { seed: 101, templates: TRAIN_TEMPLATES }));
  const test = phrase(qkv.data.entailmentPairs(900, { seed: 201, templates: TRAIN_TEMPLATES }));
  const acc: Record<string, number> = {};

  beforeAll(async () => {
    const pretrained = await qkv.GPT.load(path.join(FIXTURES, 'gpt-reasoning.safetensors'));
    const c = pretrained.config;
    const scratch = new qkv.GPT({ tokenizer: pretrained.tokenizer, layers: Number(c.layers), heads: Number(c.heads), dim: Number(c.dim),
      maxLength: Number(c.maxLength), dropout: 0.1, seed: 1 });
    for (const [name, gpt] of [['pretrained', pretrained], ['scratch', scratch]] as const) {
      const clf = await qkv.GPTClassifier.fromGPT(gpt, { format: 'entailment', seed: 1 });
      await clf.fit(train, { epochs: 10, lr: 3e-3, batchSize: 16, lmWeight: 1, warmupSteps: 5, seed: 1 });
      acc[name] = (await clf.evaluate(test)).accuracy!;
      await clf.dispose();
      await gpt.dispose();
    }
  }, 120_000);

  it('the pretrained GPT is above chance and ahead of the GPT from scratch', () => {
    expect(acc.pretrained).toBeGreaterThan(0.355);
    expect(acc.pretrained).toBeGreaterThan(acc.scratch + 0.01);
  });
});

describe('GPTClassifier: save/load, argument errors, fromGPT', () => {
  const text = qkv.data.comparisonText(400, { seed: 7 });
  const vocab = qkv.WordVocab.build(text);
  let gpt: qkv.GPT;
  let clf: qkv.GPTClassifier;
  const examples = qkv.data.entailmentPairs(48, { seed: 8, templates: TRAIN_TEMPLATES });

  beforeAll(async () => {
    gpt = new qkv.GPT({ tokenizer: vocab, layers: 1, heads: 2, dim: 16, maxLength: 32, dropout: 0, seed: 3 });
    await gpt.fit(text, { maxSteps: 5, batchSize: 4, context: 16, seed: 3 });
    clf = await qkv.GPTClassifier.fromGPT(gpt, { format: 'entailment', seed: 4 });
    await clf.fit(examples, { epochs: 1, batchSize: 16, lr: 1e-3, seed: 4 });
  });
  afterAll(async () => {
    await clf.dispose();
    await gpt.dispose();
  });

  it('save → load gives the same predictions, format and token ids', async () => {
    const file = path.join(tmp, 'clf.safetensors');
    await clf.save(file);
    const back = await qkv.GPTClassifier.load(file);
    try {
      expect(back.format).toBe('entailment');
      expect([back.startId, back.delimiterId, back.extractId, back.numLabels]).toEqual([clf.startId, clf.delimiterId, clf.extractId, 3]);
      const [a, b] = [await clf.predict(examples), await back.predict(examples)];
      expect(b.map((p) => p.label)).toEqual(a.map((p) => p.label));
      for (let i = 0; i < a.length; i++) for (let k = 0; k < 3; k++) expect(b[i].probabilities[k]).toBeCloseTo(a[i].probabilities[k], 6);
      expect((await back.evaluate(examples)).accuracy).toBe((await clf.evaluate(examples)).accuracy);
    } finally {
      await back.dispose();
    }
    // A GPT checkpoint is not a classifier's.
    const lm = path.join(tmp, 'lm.safetensors');
    await gpt.save(lm);
    await expect(qkv.GPTClassifier.load(lm)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
  });

  it('argument errors have the right classes', async () => {
    await expect(qkv.GPTClassifier.fromGPT(gpt, { format: 'regression' as never })).rejects.toThrow(TypeError);
    await expect(qkv.GPTClassifier.fromGPT(gpt, { format: 'classification' })).rejects.toThrow(/numLabels is required/);
    await expect(qkv.GPTClassifier.fromGPT({} as qkv.GPT, { format: 'entailment' })).rejects.toThrow(TypeError);
    // A label is needed to fit and evaluate, not to predict.
    const unlabelled = { premise: 'alice is older than bob', hypothesis: 'bob is younger than alice' };
    await expect(clf.fit([unlabelled], { epochs: 1 })).rejects.toThrow(TypeError);
    await expect(clf.evaluate([unlabelled])).rejects.toThrow(/label/);
    expect((await clf.predict([unlabelled]))[0].probabilities).toHaveLength(3);
    await expect(clf.evaluate([{ ...unlabelled, label: 3 }])).rejects.toThrow(RangeError);
    // The fields of the format.
    await expect(clf.predict([{ text: 'alice is older than bob' }])).rejects.toThrow(/premise/);
    const mc = await qkv.GPTClassifier.fromGPT(gpt, { format: 'multipleChoice' });
    try {
      const ctx = 'alice is older than bob.';
      await expect(mc.fit([{ context: ctx, choices: ['so bob is younger than alice.', 'so alice is younger than bob.'], label: 0 },
        { context: ctx, choices: ['a', 'b', 'c'], label: 0 }], { epochs: 1 })).rejects.toThrow(RangeError);
      await expect(mc.predict([{ context: ctx, choices: ['only one'] }])).rejects.toThrow(RangeError);
      await expect(mc.evaluate([{ context: ctx, choices: ['a', 'b'], label: 2 }])).rejects.toThrow(RangeError);
      await expect(mc.fit([{ context: ctx, choices: ['a', 'b'], label: 0 }], {
        epochs: 1, validation: [{ context: ctx, choices: ['a', 'b', 'c'], label: 0 }],
      })).rejects.toThrow(RangeError);
    } finally {
      await mc.dispose();
    }
    await expect(clf.fit(examples, { lmWeight: -1 } as qkv.GPTClassifierFitOptions)).rejects.toThrow(RangeError);
  });

  it('fromGPT copies: fine-tuning leaves the source GPT as it was', async () => {
    const before = gpt.stateDict();
    const probe = await gpt.logits([vocab.encode('alice is older than')]);
    const copy = await qkv.GPTClassifier.fromGPT(gpt, { format: 'similarity', seed: 9 });
    try {
      await copy.fit(qkv.data.similarityPairs(32, { seed: 9 }), { epochs: 1, batchSize: 8, lr: 1e-2 });
      const after = gpt.stateDict();
      expect([...after.keys()]).toEqual([...before.keys()]);
      for (const [k, t] of before) expect(Array.from(after.get(k)!.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
      expect(gpt.vocabSize).toBe(vocab.size);
      const again = await gpt.logits([vocab.encode('alice is older than')]);
      expect(Array.from(again.toTypedArray())).toEqual(Array.from(probe.toTypedArray()));
      again.dispose();
      // The copy's table is the GPT's with three rows added; its head is new.
      expect(copy.stateDict().get('wte.weight')!.shape).toEqual([vocab.size + 3, 16]);
      expect(copy.stateDict().has('clf.weight')).toBe(true);
      expect(before.has('clf.weight')).toBe(false);
    } finally {
      probe.dispose();
      await copy.dispose();
    }
  });
});
